"""The generic tunnel interface (seed §1.5, KAME ``if_gif.c``, ``in6_gif.c``,
``in_gif.c``) and its place in the node.

A gif interface is a point-to-point interface without a link-layer
address whose packets leave encapsulated in an outer IP header between a
configured pair of addresses (``ifconfig gif0 tunnel SRC DST``, or
``gifconfig gif0 SRC DST`` as the seed names it). Inner and outer family
are independent: IPv6 in IPv6 (RFC 2473), IPv6 in IPv4 (RFC 4213 §3),
IPv4 in IPv6 and IPv4 in IPv4 (RFC 2003). The bytes are the core's
(``_core.encapsulate`` / ``_core.decapsulate_ex``); here is what a user
configures and what the node decides:

- **creation** (:meth:`Gif.create`): an interface of type ``gif`` (IFT_GIF),
  MTU 1280 (KAME's ``GIF_MTU``), multicast-capable; on ``up`` it gets a
  link-local address as §1.4.1 says (the EUI-64 borrowed from an Ethernet
  interface, else MD5(hostname), :mod:`kame.nd6.ifattach`), which
  :meth:`Gif.remove_linklocal` takes away (the seed's advice for IPv4 in
  IPv6: "You may need to remove IPv6 link-local address").
- **output** (:meth:`Gif.gif_output`): ``ip6_output`` / ``nd6_output`` /
  ``ip_output`` hand any packet routed to a gif interface here; the outer
  header gets hop limit / TTL ``net.inet6.ip6.gifhlim`` /
  ``net.inet.ip.gifttl`` (30, KAME's ``GIF_HLIM`` / ``GIF_TTL``) and is
  routed and sent as a packet of ours (so an SPD entry for the outer
  addresses protects it: gif over IPsec). Recursion is bounded as KAME
  bounds it (``max_gif_nesting``, here ``net.link.gif.max_nesting``,
  default 1): a packet that would enter a gif interface it is already
  inside is dropped (``gifs_looped``), as is one nested deeper than the
  knob (``gifs_toodeep``).
- **input** (:meth:`Gif.encap6_input`, :meth:`Gif.encap4_input`, KAME's
  ``encap_getarg``): an IPv6 packet with next header 41 or 4, or an IPv4
  datagram of protocol 41 or 4, addressed to us, is matched against the
  configured tunnels (outer source = the tunnel's destination, outer
  destination = its source, the interface up); the inner packet goes to
  ``ip6_input`` or ``ip_input`` as received on that interface (forwarded
  from there if not ours). Unmatched IPv6-in-IPv4 goes to the 6to4
  interface (:mod:`kame.stf`) when there is one, else to ``ip6_noproto``
  / ``ips_noproto`` as before.
- **ECN** per interface (``ifconfig gif0 ecn N``; KAME gif(4)'s ``link1``
  is 1): the seed §4.6 table (-1 RFC 2401, 0 forbidden, the default, 1
  allowed) or 2, RFC 6040; a CE outer over a Not-ECT inner under RFC 6040
  is dropped (``gifs_ecndrop``).
- **Path MTU** (RFC 4213 §3.2, RFC 2473 §7): a Packet Too Big or a
  Fragmentation Needed about one of our outer packets lowers the outer
  path MTU and the gif's MTU for inner packets (less the outer header);
  when the error quotes enough of the inner packet, its source is told at
  once (an inner Packet Too Big, or Fragmentation Needed for an inner
  IPv4 datagram with DF), ``gifs_pmtu``.
- **IPsec and gif** (the handbook's caveat, "an infinite loop between
  ip_output() and tunnelifp->if_output()"): IPsec applies to the inner
  packet before it reaches the gif (IPsec over gif) and to the outer
  packet as a packet of ours (gif over IPsec); a packet already inside an
  IPsec output is not given to IPsec again (``Ipsec6.output``'s busy
  count), and a gif it re-enters is caught by the nesting check above.

Counters (kame's, ``netstat -s``): ``gifs_ipackets``, ``gifs_opackets``,
``gifs_notunnel``, ``gifs_looped``, ``gifs_toodeep``, ``gifs_noroute``,
``gifs_oerrors``, ``gifs_ierrors``, ``gifs_ecndrop``, ``gifs_pmtu``.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from kame import _core
from kame.addr import is_linklocal, solicited_node
from kame.errors import ConfigError, EcnDropError, KameError
from kame.in6_var import Ifnet, IfType

__all__ = ["GIF_MTU", "IPPROTO_IPV4", "IPPROTO_IPV6", "Gif", "GifSoftc"]

IPPROTO_IPV4 = 4
IPPROTO_IPV6 = 41
#: KAME ``GIF_MTU``: the MTU of a new gif interface.
GIF_MTU = 1280
#: Decapsulations of one arriving packet (gif in gif in gif ...) before the
#: rest is dropped (``gifs_toodeep``): the input side of the nesting bound.
GIF_INPUT_NEST = 8

_ETHER6 = bytes(12) + b"\x86\xdd"

Addr = IPv4Address | IPv6Address


@dataclass(slots=True)
class GifSoftc:
    """One gif interface (``struct gif_softc``): the outer addresses
    (``gif_psrc``, ``gif_pdst``) and the ECN mode."""

    ifname: str
    src: Addr | None = None
    dst: Addr | None = None
    ecn: int = 0

    @property
    def outer6(self) -> bool:
        return isinstance(self.dst, IPv6Address)


def _addr(v: object, what: str) -> Addr:
    if isinstance(v, (IPv4Address, IPv6Address)):
        a: Addr = v
    elif isinstance(v, str):
        try:
            a = ip_address(v.strip())
        except ValueError:
            raise ConfigError(f"{what} {v!r} is not an IPv4 or IPv6 address",
                              layer="gif") from None
    else:
        raise TypeError(f"{what} is a str or an ipaddress address, not {builtins.type(v).__name__}")
    if a.is_multicast or a.is_unspecified or (isinstance(a, IPv6Address) and
                                              (is_linklocal(a) or a.scope_id is not None)):
        raise ConfigError(f"{what} {a}: a tunnel endpoint is a global unicast address",
                          layer="gif")
    if isinstance(a, IPv4Address) and int(a) == 0xFFFFFFFF:
        raise ConfigError(f"{what} {a}: a tunnel endpoint is a unicast address", layer="gif")
    return a


class Gif:
    """The gif interfaces of one node (``node.gif``); see the module docs."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.softc: dict[str, GifSoftc] = {}
        #: The gif interfaces the packet being output is inside (KAME's
        #: ``gif_called`` / FreeBSD's MTAG_GIF list), innermost last.
        self._stack: list[str] = []
        self._in_depth = 0
        #: The 6to4 interface (:class:`kame.stf.Stf`), if one was created.
        self.stf: Any = None
        #: The MTU learnt for IPv4 inner packets, by gif (RFC 4213 §3.2).
        self.mtu4: dict[str, int] = {}

    # --- configuration (ifconfig / gifconfig) -------------------------------------

    def create(self, name: str = "gif0", *, mtu: int = GIF_MTU) -> Ifnet:
        """``ifconfig gifN create``: a new gif interface, down, no tunnel."""
        if not isinstance(name, str):
            raise TypeError(f"an interface name is a str, not {builtins.type(name).__name__}")
        ifp: Ifnet = self.node.add_interface(name, None, type=IfType.GIF, mtu=mtu)
        self.softc[name] = GifSoftc(name)
        return ifp

    def _sc(self, name: str) -> GifSoftc:
        sc = self.softc.get(name)
        if sc is None:
            if isinstance(name, str) and name in self.node.ifnets:
                raise ConfigError(f"{name} is not a gif interface", layer="gif")
            self.node._ifnet(name)  # NoInterfaceError
            raise ConfigError(f"{name!r} is not a gif interface", layer="gif")
        return sc

    def set_tunnel(self, name: str, src: object, dst: object) -> GifSoftc:
        """``ifconfig gifN tunnel SRC DST`` (``gifconfig gifN SRC DST``):
        both of one family, the outer family; another gif with the same
        pair is refused (KAME: EADDRNOTAVAIL), as input could not tell them
        apart."""
        sc = self._sc(name)
        s, d = _addr(src, "tunnel source"), _addr(dst, "tunnel destination")
        if s.version != d.version:
            raise ConfigError(f"tunnel {s} {d}: source and destination of different families",
                              layer="gif")
        if s == d:
            raise ConfigError(f"tunnel {s} {d}: source and destination are the same", layer="gif")
        for o in self.softc.values():
            if o is not sc and o.src == s and o.dst == d:
                raise ConfigError(f"tunnel {s} {d} is {o.ifname}'s already", layer="gif")
        sc.src, sc.dst = s, d
        return sc

    def delete_tunnel(self, name: str) -> None:
        """``ifconfig gifN deletetunnel``."""
        sc = self._sc(name)
        sc.src = sc.dst = None

    def set_ecn(self, name: str, ecn: int) -> None:
        """The ECN mode of one gif (seed §4.6: -1, 0, 1; 2 RFC 6040)."""
        sc = self._sc(name)
        if not isinstance(ecn, int) or isinstance(ecn, bool):
            raise TypeError(f"ecn is an int, not {builtins.type(ecn).__name__}")
        if ecn not in (-1, 0, 1, 2):
            raise ConfigError(f"ecn {ecn}: -1 (RFC 2401), 0 (forbidden), 1 (allowed) or "
                              "2 (RFC 6040) (seed §4.6)", layer="gif")
        sc.ecn = ecn

    def destroy(self, name: str, now: float) -> None:
        """``ifconfig gifN destroy``: down, routes through it removed."""
        self._sc(name)
        node = self.node
        node.down(name, now)
        for net, rt in list(node.static_routes.items()):
            if rt.ifname == name:
                del node.static_routes[net]
        for net4, rt4 in list(node.inet.routes.items()):
            if rt4.ifname == name:
                del node.inet.routes[net4]
        for ifa in list(node.inet.on(name)):
            node.inet.addrs.remove(ifa)
        del self.softc[name]
        del node.ifnets[name]
        node.groups.pop(name, None)

    def remove_linklocal(self, name: str, now: float) -> int:
        """Take the IPv6 link-local address(es) off ``name`` (the seed's
        advice for an IPv4-in-IPv6 tunnel) and keep it off across ``up``
        (``ndp -i gifN -auto_linklocal``). Returns how many went."""
        ifp = self.node._ifnet(name)
        ifp.flags.auto_linklocal = False
        n = 0
        for ifa in self.node.addrs.on(name):
            if is_linklocal(ifa.addr):
                self.node.nbr.dad_stop(ifa)
                self.node.addrs.remove(name, ifa.addr)
                g = solicited_node(ifa.addr)
                if all(solicited_node(o.addr) != g for o in self.node.addrs.on(name)):
                    self.node.leave(name, g, now)
                n += 1
        return n

    def show(self, name: str) -> dict[str, Any]:
        sc = self._sc(name)
        return {"src": None if sc.src is None else str(sc.src),
                "dst": None if sc.dst is None else str(sc.dst), "ecn": sc.ecn}

    # --- output ----------------------------------------------------------------------

    def gif_output(self, ifname: str, packet: bytes, now: float,
                   next_hop: IPv6Address | None = None) -> None:
        """An inner packet (IPv6 or IPv4, its header first) routed to gif
        ``ifname``: encapsulate and send (KAME ``gif_output``); the 6to4
        interface's go to :meth:`kame.stf.Stf.stf_output` with the next hop."""
        node = self.node
        st = node.stats._c
        sc = self.softc.get(ifname)
        ifp = node.ifnets.get(ifname)
        if sc is None or ifp is None:
            if self.stf is not None and ifname == self.stf.ifname:
                self.stf.stf_output(packet, now, next_hop)
            return
        if not ifp.up or sc.src is None or sc.dst is None:
            st["gifs_notunnel"] += 1  # KAME: ENETDOWN
            return
        if ifname in self._stack:
            st["gifs_looped"] += 1
            node.log(now, "gif", f"{ifname}: packet would enter the tunnel again: dropped")
            return
        kv = node.knobs._values
        if len(self._stack) >= kv["net.link.gif.max_nesting"]:
            st["gifs_toodeep"] += 1
            node.log(now, "gif", f"{ifname}: recursively called too many times "
                                 f"({len(self._stack) + 1})")
            return
        outer6 = sc.outer6
        inet = node.inet
        inet.ip_id = (inet.ip_id + 1) & 0xFFFF
        try:
            out = _core.encapsulate(packet, sc.src, sc.dst, sc.ecn,
                                    hop_limit=kv["net.inet6.ip6.gifhlim" if outer6 else
                                                 "net.inet.ip.gifttl"],
                                    ident=inet.ip_id, nest_limit=GIF_INPUT_NEST)
        except KameError:
            st["gifs_oerrors"] += 1
            return
        self._stack.append(ifname)
        try:
            if outer6:
                dst6 = sc.dst
                assert isinstance(dst6, IPv6Address)
                rt = node.rtalloc(dst6, now)
                if rt is None:
                    st["gifs_noroute"] += 1
                    st["ip6s_noroute"] += 1
                    return
                st["gifs_opackets"] += 1
                node.output(rt.ifname, out, now, rt.next_hop)
            else:
                dst4 = sc.dst
                assert isinstance(dst4, IPv4Address)
                rt4 = inet.rtalloc(dst4)
                if rt4 is None:
                    st["gifs_noroute"] += 1
                    st["ips_noroute"] += 1
                    return
                st["gifs_opackets"] += 1
                st["ips_localout"] += 1
                # ip_output's last step: gif over IPsec (§4.8.2), then the link
                inet.ip_output_if(rt4.ifname, rt4.next_hop, out, now)
        finally:
            self._stack.pop()

    # --- input -------------------------------------------------------------------------

    def _match(self, osrc: Addr, odst: Addr) -> GifSoftc | None:
        """``gif_encapcheck``: the up gif whose tunnel is (odst, osrc)."""
        for sc in self.softc.values():
            if sc.dst == osrc and sc.src == odst:
                ifp = self.node.ifnets.get(sc.ifname)
                if ifp is not None and ifp.up:
                    return sc
        return None

    def encap6_input(self, ifname: str, packet: bytes, src: IPv6Address, dst: IPv6Address,
                     now: float) -> bool:
        """An IPv6 packet for us with next header 4 or 41 (``in6_gif_input``).
        False when no tunnel takes it (the caller goes on to ``noproto``)."""
        sc = self._match(src, dst)
        if sc is None:
            return False
        self._decap(sc, packet, now)
        return True

    def encap4_input(self, ifname: str, src: IPv4Address, dst: IPv4Address, packet: bytes,
                     now: float) -> bool:
        """An IPv4 datagram for us of protocol 4 or 41 (``in_gif_input``);
        unmatched IPv6 in IPv4 is the 6to4 interface's, if any."""
        sc = self._match(src, dst)
        if sc is None:
            if self.stf is not None and packet[9] == IPPROTO_IPV6:
                return bool(self.stf.stf_input(ifname, src, dst, packet, now))
            return False
        self._decap(sc, packet, now)
        return True

    def _decap(self, sc: GifSoftc, packet: bytes, now: float) -> None:
        st = self.node.stats._c
        if self._in_depth >= GIF_INPUT_NEST:
            st["gifs_toodeep"] += 1
            return
        try:
            inner, _layers, _alarm = _core.decapsulate_ex(packet, sc.ecn)
        except EcnDropError:
            st["gifs_ecndrop"] += 1
            return
        except KameError:
            st["gifs_ierrors"] += 1
            return
        st["gifs_ipackets"] += 1
        self.deliver(sc.ifname, inner, now)

    def deliver(self, ifname: str, inner: bytes, now: float) -> None:
        """The inner packet, as received on ``ifname`` (``if_input``)."""
        node = self.node
        self._in_depth += 1
        try:
            if inner[0] >> 4 == 6:
                dmac = (b"\x33\x33" + inner[36:40]) if inner[24] == 0xFF else bytes(6)
                node.ip6_input(ifname, dmac + _ETHER6[6:] + inner, now)
            else:
                node.inet.ip_input(ifname, inner, now)
        finally:
            self._in_depth -= 1

    # --- Path MTU (RFC 4213 §3.2, RFC 2473 §7) -------------------------------------------

    def ctlinput(self, osrc: Addr, odst: Addr, mtu: int, inv: bytes, hl: int,
                 now: float) -> None:
        """An error about one of our outer packets said the path to ``odst``
        takes ``mtu`` octets: the gif's MTU for inner packets becomes ``mtu``
        less the outer header (1280 at least for IPv6 inner packets, which
        the outer layer then fragments), and the inner source, when the
        quote shows it, hears of it now."""
        sc = next((s for s in self.softc.values() if s.src == osrc and s.dst == odst), None)
        if sc is None:
            return
        node = self.node
        ifp = node.ifnets[sc.ifname]
        tmtu = max(mtu - hl, 576 if hl == 20 else 1280)
        info = node.cache.info(sc.ifname)
        cur = info.linkmtu or ifp.mtu
        if tmtu >= cur:
            return
        node.stats.inc("gifs_pmtu")
        info.linkmtu = max(tmtu, 1280)  # what IPv6 inner packets see (RFC 8200 §5)
        self.mtu4[sc.ifname] = tmtu
        inner = inv[hl:]
        if len(inner) >= 40 and inner[0] >> 4 == 6 and \
                40 + int.from_bytes(inner[4:6], "big") > max(tmtu, 1280):
            isrc, idst = IPv6Address(inner[8:24]), IPv6Address(inner[24:40])
            if node.addrs.find_any(isrc) is not None:
                node.pmtu_update(idst, max(tmtu, 1280), now)
            else:
                itype = inner[40] if inner[6] == 58 and len(inner) > 40 else None
                node.icmp6_error(sc.ifname, inner, isrc, idst, inner[6], itype, 2, 0, now,
                                 pointer=max(tmtu, 1280))
        elif len(inner) >= 20 and inner[0] >> 4 == 4 and inner[6] & 0x40 and \
                int.from_bytes(inner[2:4], "big") > tmtu and \
                node.inet.find(IPv4Address(inner[12:16])) is None:
            node.inet.icmp_error(inner, 3, 4, now, rest=tmtu & 0xFFFF)

    def linkmtu4(self, ifname: str) -> int:
        mtu = int(self.node.ifnets[ifname].mtu)
        return min(mtu, self.mtu4.get(ifname, mtu))
