"""6to4 (RFC 3056) as KAME's ``stf`` interface (``if_stf.c``, stf(4)), with
the address filters of draft-itojun-ipv6-transition-abuse, now RFC 3964.

The seed (§1.1) warns: "Be sure to read draft-itojun-ipv6-transition-abuse
... there can be security issues"; KAME left ``stf`` out of GENERIC. Here
it is created on demand (:meth:`Stf.create`, ``ifconfig stf0 create``).

- **Mapping** (RFC 3056 §2): the site prefix of IPv4 address ``V4`` is
  ``2002:V4::/48`` (:func:`prefix_6to4`, :func:`embedded_v4`). The node's
  6to4 address goes on ``stf0`` as KAME configured it
  (``ifconfig stf0 inet6 2002:c000:201::1 prefixlen 16``); the outer
  source is the IPv4 address inside it.
- **Output** (``stf_output``): an IPv6 packet routed to ``stf0`` goes in
  IPv4 (protocol 41) to the IPv4 address inside its destination when that
  is a 6to4 address, else inside the route's next hop: the relay router
  (RFC 3056 §5.2, RFC 3068's anycast 192.88.99.1 or any other the user
  configures with :meth:`Stf.set_relay`, which installs ``::/0`` via
  ``2002:V4RELAY::`` on ``stf0``).
- **Input** (``in_stf_input``): an IPv4 protocol-41 datagram for us that no
  gif tunnel takes (:mod:`kame.gif`), checked as RFC 3964 §5 and stf(4)
  check it, each refusal counted:

  ``stf_badouter``
      the outer source or destination is multicast, class E, 0/8,
      127/8, a broadcast (limited, or a subnet's of ours), or private
      (RFC 1918, 169.254/16, 100.64/10) unless ``accept_private``;
  ``stf_badembedded``
      a 6to4 inner source or destination embeds such an address;
  ``stf_mismatch``
      a 6to4 inner source whose IPv4 address is not the outer source
      (RFC 3964 §5.1: spoofing another 6to4 site);
  ``stf_notours``
      an inner destination outside the 6to4 prefix of the outer
      destination (we are a 6to4 router, not a relay);
  ``stf_norelay``
      a native (non-6to4) inner source while no relay is configured
      (RFC 3964 §5.2: only traffic from a relay may carry one);
  ``stf_badinner``
      an IPv4-mapped or IPv4-compatible inner address (RFC 3964 §5.1,
      ``::ffff:0:0/96``, ``::/96``) or a malformed inner packet.

  What passes is delivered as received on ``stf0`` (``stf_ipackets``).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from kame import _core
from kame.errors import ConfigError, KameError
from kame.in6_var import Ifnet, IfType

__all__ = ["PREFIX_6TO4", "RELAY_ANYCAST", "Stf", "embedded_v4", "prefix_6to4",
           "stf_checkaddr4"]

PREFIX_6TO4 = IPv6Network("2002::/16")
#: RFC 3068's 6to4 relay anycast address (deprecated by RFC 7526; configured
#: by the user, never assumed).
RELAY_ANYCAST = IPv4Address("192.88.99.1")

_PRIVATE = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                           "169.254.0.0/16", "100.64.0.0/10"))


def is_6to4(a: IPv6Address) -> bool:
    return (int(a) >> 112) == 0x2002


def embedded_v4(a: IPv6Address) -> IPv4Address:
    """The IPv4 address of a 6to4 address (bits 16..47, RFC 3056 §2)."""
    return IPv4Address((int(a) >> 80) & 0xFFFFFFFF)


def prefix_6to4(v4: IPv4Address | str) -> IPv6Network:
    """``2002:V4::/48``, the 6to4 site prefix of ``v4`` (RFC 3056 §2)."""
    return IPv6Network(((0x2002 << 112) | (int(IPv4Address(v4)) << 80), 48))


def stf_checkaddr4(a: IPv4Address, *, accept_private: bool = False,
                   broadcasts: frozenset[IPv4Address] = frozenset()) -> str | None:
    """Why ``a`` may not be a 6to4 endpoint (None: it may): stf(4)'s
    ``stf_checkaddr4`` and RFC 3964 §5.3's list."""
    x = int(a)
    if x >> 28 == 0xE:
        return "multicast"
    if x >> 28 == 0xF:
        return "class E or limited broadcast"
    if x >> 24 in (0, 127):
        return "this network or loopback"
    if a in broadcasts:
        return "a subnet broadcast of ours"
    if not accept_private and any(a in n for n in _PRIVATE):
        return "private"
    return None


class Stf:
    """The 6to4 interface of one node (``node.gif.stf``)."""

    def __init__(self, node: Any, ifname: str) -> None:
        self.node = node
        self.ifname = ifname
        #: The relay router's IPv4 address (RFC 3056 §5.2), if configured.
        self.relay: IPv4Address | None = None
        #: RFC 1918/6598/3927 addresses as 6to4 endpoints (a lab, RFC 3964 §5.3).
        self.accept_private = False
        #: ECN mode of the outer header (seed §4.6 values; stf(4)'s link1 is 1).
        self.ecn = 0

    @classmethod
    def create(cls, node: Any, name: str = "stf0") -> Stf:
        """``ifconfig stf0 create``: one 6to4 interface per node (KAME has
        one), no link-local address (stf(4): not multicast capable)."""
        if node.gif.stf is not None:
            raise ConfigError(f"a 6to4 interface exists already ({node.gif.stf.ifname})",
                              layer="stf")
        ifp: Ifnet = node.add_interface(name, None, type=IfType.STF, mtu=1280)
        ifp.flags.auto_linklocal = False
        ifp.flags.nud = False
        st = cls(node, name)
        node.gif.stf = st
        return st

    def set_relay(self, relay: IPv4Address | str | None) -> None:
        """Use ``relay`` (an IPv4 address; RFC 3068's 192.88.99.1 is
        :data:`RELAY_ANYCAST`) for destinations outside 2002::/16: the
        default route ``::/0`` via ``2002:RELAY::`` on ``stf0``; ``None``
        removes it."""
        node = self.node
        if relay is None:
            self.relay = None
            node.route_delete("::/0")
            return
        r = IPv4Address(relay)
        why = stf_checkaddr4(r, accept_private=self.accept_private)
        if why is not None:
            raise ConfigError(f"relay {r}: {why} (RFC 3964 §5.3)", layer="stf")
        self.relay = r
        node.route_add("::/0", str(prefix_6to4(r).network_address), self.ifname)

    def _broadcasts(self) -> frozenset[IPv4Address]:
        return frozenset(b for ifa in self.node.inet.addrs
                         if (b := ifa.broadcast) is not None)

    def _check4(self, a: IPv4Address) -> str | None:
        return stf_checkaddr4(a, accept_private=self.accept_private,
                              broadcasts=self._broadcasts())

    def _our6to4(self) -> IPv6Address | None:
        for ifa in self.node.addrs.on(self.ifname):
            if is_6to4(ifa.addr) and ifa.usable:
                return IPv6Address(ifa.addr)
        return None

    # --- output ----------------------------------------------------------------------

    def stf_output(self, packet: bytes, now: float, next_hop: IPv6Address | None) -> None:
        node = self.node
        st = node.stats._c
        ifp = node.ifnets[self.ifname]
        if not ifp.up or len(packet) < 40 or packet[0] >> 4 != 6 or packet[24] == 0xFF:
            st["stf_noaddr"] += 1  # down, not IPv6, or multicast (stf has none)
            return
        dst = IPv6Address(packet[24:40])
        if is_6to4(dst):
            dst4 = embedded_v4(dst)
        elif next_hop is not None and is_6to4(next_hop):
            dst4 = embedded_v4(next_hop)
        else:
            st["stf_noaddr"] += 1
            return
        if self._check4(dst4) is not None:
            st["stf_badembedded"] += 1
            return
        me = self._our6to4()
        if me is None:
            st["stf_noaddr"] += 1
            return
        src4 = embedded_v4(me)
        inet = node.inet
        inet.ip_id = (inet.ip_id + 1) & 0xFFFF
        try:
            out = _core.encapsulate(packet, src4, dst4, self.ecn,
                                    hop_limit=node.knobs._values["net.inet.ip.gifttl"],
                                    ident=inet.ip_id)
        except KameError:
            st["gifs_oerrors"] += 1
            return
        rt = inet.rtalloc(dst4)
        if rt is None:
            st["ips_noroute"] += 1
            return
        st["stf_opackets"] += 1
        st["ips_localout"] += 1
        inet.ether_output(rt.ifname, rt.next_hop, out, now)

    # --- input -----------------------------------------------------------------------

    def stf_input(self, ifname: str, src4: IPv4Address, dst4: IPv4Address, packet: bytes,
                  now: float) -> bool:
        """An IPv6-in-IPv4 datagram for us that no gif took; True: handled
        (delivered or counted as dropped)."""
        node = self.node
        st = node.stats._c
        ifp = node.ifnets.get(self.ifname)
        if ifp is None or not ifp.up:
            return False
        if self._check4(src4) is not None or self._check4(dst4) is not None:
            st["stf_badouter"] += 1
            return True
        try:
            inner, _n, _alarm = _core.decapsulate_ex(packet, self.ecn)
        except KameError:
            st["stf_badinner"] += 1
            return True
        isrc, idst = IPv6Address(inner[8:24]), IPv6Address(inner[24:40])
        for a in (isrc, idst):
            if (int(a) >> 32) == 0xFFFF or (int(a) >> 32) == 0:
                st["stf_badinner"] += 1
                return True
        if not is_6to4(idst) or embedded_v4(idst) != dst4:
            st["stf_notours"] += 1
            return True
        if is_6to4(isrc):
            e = embedded_v4(isrc)
            if self._check4(e) is not None:
                st["stf_badembedded"] += 1
                return True
            if e != src4:
                st["stf_mismatch"] += 1
                return True
        elif self.relay is None:
            st["stf_norelay"] += 1
            return True
        st["stf_ipackets"] += 1
        node.gif.deliver(self.ifname, inner, now)
        return True
