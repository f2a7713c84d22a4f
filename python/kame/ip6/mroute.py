"""``ip6_mroute.c``: multicast forwarding by listening state, as a router
without a multicast routing protocol (static RPF) forwards.

A packet to a multicast address wider than link-local scope, received on
one interface, goes out of every other interface where the MLD router side
(:mod:`kame.mld6_router`) has listeners for its address and source (RFC
3810 §7.2.2: INCLUDE's sources, EXCLUDE's all but the "Excluded" list),
when ``net.inet6.ip6.forwarding`` and ``net.inet6.ip6.mforwarding`` are on:

- never link-local or interface-local scope, never from ``::`` (KAME's
  ``ip6_mforward``), never with hop limit 1; the hop limit is decremented
  once for every copy;
- never across a zone boundary of the source's or the destination's scope
  (RFC 4007 §9, KAME's ``ip6_mdq`` check with ``in6_setscope``;
  ``ip6s_badscope``): a link-local source never leaves its link;
- the RPF check: the packet must come in on the interface of the unicast
  route back to its source (``mrt6s_wrong_if``; none: ``mrt6s_no_route``),
  which keeps two routers on two links from looping a packet;
- a copy larger than the outgoing link's MTU gets the source a Packet Too
  Big (RFC 4443 §2.4 (e.2), KAME's ``phyint_send``);
- the node's own packets as well (``ip6_output`` calls ``ip6_mforward``):
  the interface it is sent on is the RPF interface by definition, the same
  scope and hop limit rules apply (``IPV6_MULTICAST_HOPS`` above 1), it
  counts as that mif's output (``ip6_mdq``), and a copy too big for a link
  is fragmented, being ours.

- our own membership on a link counts as a listener there (a BSD router's
  daemon hears its kernel's Reports, looped to it while a multicast router
  runs: ``mld6_sendpkt``'s ``im6o_multicast_loop = ip6_mrouter != NULL``),
  and a copy for such a link is looped to our own sockets there, as
  received on it, hop limit decremented, the interface's source filter
  applied (``phyint_send`` -> ``ip6_mloopback``, before the MTU check;
  ``net.inet6.ip6.mcast.loop``, FreeBSD's ``in6_mcast_loop``, default 1;
  ``mrt6s_mloopback``). The looped copy is not forwarded again (BSD's
  goes back through ``ip6_input`` and fails the RPF check). For our own
  packets the sending link's copy is the socket's ``IPV6_MULTICAST_LOOP``
  (``ip6_output``), the other links' are looped whatever that option says
  (``phyint_send`` calls ``ip6_output`` with ``im6o_multicast_loop = 1``).
- IPsec: a forwarded copy goes to the interface past the SPD (KAME's
  ``phyint_send`` calls ``if_output``; only our own copies go through
  ``ip6_output``, and ours met the SPD there before being copied).

``ip6_input`` counts ``ip6s_notmember`` only for a packet neither for a
local member nor forwarded (KAME's, with ``ip6_mrouter`` set).

The forwarding cache (``mf6c``): (source, group) -> the RPF interface,
trusted for :data:`MFC_EXPIRE` seconds (routes change), at most
``net.inet6.ip6.mfc_max`` entries, least recently used out first
(``mrt6s_mfc_full``); ``mrt6s_mfc_lookups`` counts hits,
``mrt6s_mfc_misses`` misses. The outgoing interfaces are read from the
listening state on each packet, so a listener that leaves stops the
traffic at once. Per interface (``mif6``) the packets and octets in and
out, as ``netstat -g`` prints them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any

from kame.addr import ether_multicast
from kame.icmp6 import ICMP6_PACKET_TOO_BIG
from kame.ip6.icmp6 import Icmp6
from kame.nd6 import codec
from kame.scope6 import in6_addrscope

if TYPE_CHECKING:
    from kame.mld6_router import Mld6Router

__all__ = ["MFC_EXPIRE", "Ip6Mroute", "Mf6c", "Mif6", "mfc_rpf", "mif_count", "mroute_snapshot"]

#: Seconds a forwarding cache entry's RPF interface is trusted.
MFC_EXPIRE = 30.0


def mroute_snapshot(mfc: Any, mifs: dict[str, Mif6], router: Any, now: float,
                    mine: Callable[[str, Any, Any], bool] | None = None) -> dict[str, Any]:
    """``netstat -g`` for either family: the multicast interfaces and the
    forwarding cache, with the outgoing links the querier's listening
    state (``router``: MLD or IGMP) or our own membership (``mine(ifname,
    group, source)``) gives each live entry now."""
    rows = []
    for (src, grp), e in mfc.items():
        if e.expire <= now:
            continue
        oifs = [o for o in router.interfaces()
                if o != e.parent and (router.forwards(o, grp, src) or
                                      (mine is not None and mine(o, grp, src)))]
        rows.append({"origin": str(src), "group": str(grp), "parent": e.parent,
                     "packets": e.pkt_cnt, "bytes": e.byte_cnt, "wrong_if": e.wrong_if,
                     "oifs": oifs, "expire": round(e.expire - now, 3)})
    return {"mifs": [{"ifname": n, "pkt_in": m.pkt_in, "pkt_out": m.pkt_out,
                      "bytes_in": m.bytes_in, "bytes_out": m.bytes_out}
                     for n, m in mifs.items()],
            "mfc": rows}


@dataclass(slots=True)
class Mf6c:
    """A forwarding cache entry: ``parent`` the RPF interface (``None``: no
    route to the source), ``expire``, what it forwarded."""

    parent: str | None
    expire: float
    pkt_cnt: int = 0
    byte_cnt: int = 0
    wrong_if: int = 0


@dataclass(slots=True)
class Mif6:
    """A multicast interface's counters (``struct mif6``)."""

    pkt_in: int = 0
    pkt_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


def mfc_rpf(mfc: OrderedDict[Any, Mf6c], key: Any, ifname: str, now: float, limit: int,
            inc: Callable[[str], Any], pfx: str, rpf: Callable[[], str | None] | None
            ) -> Mf6c | None:
    """The forwarding cache and RPF steps of ``ip6_mforward`` and
    ``ip_mforward`` (``pfx``: ``mrt6s_`` or ``mrts_``): the (source, group)
    entry ``key``, looked up, or made with the RPF interface ``rpf()`` gives
    (``rpf`` None: our own packet, sent on ``ifname``, its RPF interface by
    definition) and the least recently used entry out past ``limit``; then
    the check that the packet came in on that interface. The entry, or
    ``None`` (counted) when the packet is not to be forwarded."""
    ent = mfc.get(key)
    if ent is not None and ent.expire > now:
        inc(pfx + "mfc_lookups")
        mfc.move_to_end(key)
    else:
        inc(pfx + "mfc_misses")
        if ent is not None:
            del mfc[key]
            inc(pfx + "cache_cleanups")
        ent = Mf6c(ifname if rpf is None else rpf(), now + MFC_EXPIRE)
        while len(mfc) >= limit:
            mfc.popitem(last=False)
            inc(pfx + "mfc_full")
        mfc[key] = ent
    if rpf is None:
        ent.parent = ifname  # the interface it is sent on is its RPF interface
    if ent.parent is None:
        inc(pfx + "no_route")
        return None
    if ent.parent != ifname:
        ent.wrong_if += 1
        inc(pfx + "wrong_if")
        return None
    return ent


def mif_count(mifs: dict[str, Mif6], ifname: str, n: int, local: bool) -> None:
    """``ip6_mdq``/``ip_mdq``: "If I sourced this packet, it counts as
    output, else it was input" on the RPF interface."""
    mi = mifs.setdefault(ifname, Mif6())
    if local:
        mi.pkt_out += 1
        mi.bytes_out += n
    else:
        mi.pkt_in += 1
        mi.bytes_in += n


class Ip6Mroute(Icmp6):
    """``ip6_mforward`` and its forwarding cache."""

    mldr: Mld6Router
    mfc: OrderedDict[tuple[IPv6Address, IPv6Address], Mf6c]
    mif6: dict[str, Mif6]

    def ip6_mforward(self, ifname: str, packet: bytes, v: Any, now: float, *,
                     local: bool = False) -> bool:
        """Forward a multicast packet received on ``ifname`` (validated:
        ``v`` from ``ip6_validate``; ``packet`` the IPv6 packet) to the
        links with listeners. The caller delivers it locally as well.
        ``local``: our own packet, sent on ``ifname`` (``ip6_output``;
        ``v`` unused): that interface is its RPF interface by definition,
        it counts as the mif's output, and a copy too big for a link is
        fragmented (ours), not refused. True when a copy went out."""
        kv = self.knobs._values
        if not kv["net.inet6.ip6.forwarding"] or not kv["net.inet6.ip6.mforwarding"]:
            return False
        if (packet[25] & 0x0F) <= 2 or packet[7] <= 1:
            return False  # interface/link-local scope (or reserved 0), hop limit: silently
        if local:
            src, dst = IPv6Address(packet[8:24]), IPv6Address(packet[24:40])
        else:
            hdr = v.header
            src, dst = hdr.src, hdr.dst
        if int(src) == 0:
            self.stats.inc("ip6s_cantforward")  # KAME: from :: never
            return False
        ent = mfc_rpf(self.mfc, (src, dst), ifname, now, kv["net.inet6.ip6.mfc_max"],
                      self.stats.inc, "mrt6s_",
                      None if local else lambda: self._rpf_parent(ifname, src, now))
        if ent is None:
            return False
        n = len(packet)
        mif_count(self.mif6, ifname, n, local)
        sent = False
        out: bytes | None = None
        ss, ds = in6_addrscope(src), in6_addrscope(dst)
        zones = self.zones
        mloop = kv["net.inet6.ip6.mcast.loop"]
        for oif in self.mldr.interfaces():
            if oif == ifname:
                continue
            # our own membership on the link is a listener there, as a BSD
            # router's daemon hears its kernel's looped Reports
            # (mld6_sendpkt: im6o_multicast_loop = ip6_mrouter != NULL)
            mine = dst in self.groups.get(oif, ()) and self.mld.accepts(oif, dst, src)
            if not mine and not self.mldr.forwards(oif, dst, src):
                continue
            if zones.zone_of(oif, ss) != zones.zone_of(ifname, ss) or \
                    zones.zone_of(oif, ds) != zones.zone_of(ifname, ds):
                self.stats.inc("ip6s_badscope")  # RFC 4007 §9: not beyond the zone
                continue
            ifp = self.ifnets[oif]
            if not ifp.up or ifp.flags.disabled:
                continue
            if out is None:
                b = bytearray(packet)
                b[7] -= 1
                out = bytes(b)
            if mine and mloop:
                # phyint_send -> ip6_mloopback: a copy to our own sockets on
                # that link, as received there (before the MTU check; our
                # own packets' copies too: ip6_output with loop 1)
                self.stats.inc("mrt6s_mloopback")
                self.ip6_input(oif, codec.ether(  # type: ignore[attr-defined]
                    ether_multicast(dst), ifp.lladdr or bytes(6), out), now, False, mloop=True)
            mtu = self._linkmtu(oif)
            if n > mtu and not local:
                chain = v.chain
                itype = packet[chain.upper_offset] if chain.upper == 58 and \
                    chain.upper_offset < n else None
                self.icmp6_error(ifname, packet, src, dst, chain.upper, itype,
                                 ICMP6_PACKET_TOO_BIG, 0, now, pointer=mtu)
                continue
            mo = self.mif6.setdefault(oif, Mif6())
            mo.pkt_out += 1
            mo.bytes_out += n
            ent.pkt_cnt += 1
            ent.byte_cnt += n
            sent = True
            if local:
                self.stats.inc("ip6s_localout")
                self._ether_out(oif, ether_multicast(dst), out)  # ours: fragmented to fit
            else:
                self._out.append((oif, codec.ether(ether_multicast(dst), ifp.lladdr or bytes(6),
                                                   out)))
        return sent

    def _rpf_parent(self, ifname: str, src: IPv6Address, now: float) -> str | None:
        """The interface of the route back to ``src`` (a link-local source:
        the link it came on, where the zone check keeps it)."""
        if in6_addrscope(src) <= 2:
            return ifname
        rt = self.rtalloc(src, now)
        return rt.ifname if rt is not None else None

    def mroute_snapshot(self, now: float) -> dict[str, Any]:
        """What ``netstat -g`` prints: the multicast interfaces and the
        forwarding cache (:func:`mroute_snapshot`)."""
        return mroute_snapshot(self.mfc, self.mif6, self.mldr, now, lambda o, g, s: (
            g in self.groups.get(o, ()) and self.mld.accepts(o, g, s)))
