"""``ip6_output`` and ``nd6_output``: framing, fragmentation to the path MTU
(RFC 8201), multicast output, MLD reports, the send/ping entry points,
source address selection (``in6_selectsrc``, RFC 6724) and destination
ordering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.addr import UNSPECIFIED, ether_multicast, is_linklocal, is_multicast
from kame.errors import KameError, RangeError
from kame.gate import Gate
from kame.icmp6 import IPV6_MMTU
from kame.in6_src import Destination, SourceCandidate, order_destinations
from kame.in6_src import in6_selectsrc as rfc6724_select
from kame.in6_var import In6Flags, In6Ifaddr, TsoFrame
from kame.ip6.route import Route6
from kame.ip6.var import Frame
from kame.mld6 import SendMldReport
from kame.nd6 import codec
from kame.scope6 import Scope, in6_addrscope, is_embedded_form

#: plain ints: ``int & IntFlag`` goes through the enum machinery per candidate
_DEPRECATED = In6Flags.DEPRECATED._value_
_TEMPORARY = In6Flags.TEMPORARY._value_

#: ``in6_selectsrc``'s ``next_hop`` left out: look the route up (rule 5.5)
_ROUTE: Any = object()


@dataclass(frozen=True, slots=True)
class PathMtuChanged:
    """The destination cache learnt (or forgot, ``expired``) a path MTU."""

    dst: IPv6Address
    mtu: int
    expired: bool = False


#: RFC 8201 §4: a path MTU learnt from a Packet Too Big is kept 10 minutes.
PMTU_EXPIRE = 600.0


def _uint(v: object, name: str, high: int) -> int:
    """An integer argument in 0..high (``TypeError``, :class:`RangeError`)."""
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    if not 0 <= v <= high:
        raise RangeError(f"{v} out of range 0-{high}", argument=name, low=0, high=high, value=v)
    return v


def _octets(v: object, name: str) -> bytes:
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(v).__name__}")
    return bytes(v)


class Ip6Output(Route6):
    """Output paths of the node."""

    #: the node's next-deadline gate (:mod:`kame.gate`)
    gate: Gate

    def output(self, ifname: str, packet: bytes, now: float,
               next_hop: IPv6Address | None = None, *, tso_segsz: int = 0,
               linkmtu: bool = False) -> None:
        """``ip6_output`` + ``nd6_output`` for one packet on ``ifname``
        (an IPv6 packet, its header first; ``ValueError`` otherwise).
        ``tso_segsz``: a TCP super-segment the interface is to cut into
        segments of that many data octets (``Ifnet.tsomax``); ``linkmtu``:
        our own packet is sized by the interface's MTU, not the path's
        (Linux's ``IPV6_PMTUDISC_PROBE``, ``_INTERFACE``, ``_OMIT``)."""
        if (self._mip6_bc or self.mip6.mn) and len(packet) >= 40 and \
                (ro := self.mip6.output(packet, now)):
            ifname, packet, next_hop = ro  # RFC 6275 §9.3.2, §10.4.2, §11.3.1 (kame.mip6)
            if not packet:
                return  # a mobile node's home address with no binding: dropped, counted
        ifp = self.ifnets.get(ifname)  # type: ignore[arg-type]
        if ifp is None:
            ifp = self._ifnet(ifname)
        if type(packet) is not bytes and not isinstance(packet, (bytes, bytearray, memoryview)):
            raise TypeError(f"a packet is bytes, not {type(packet).__name__}")
        if next_hop is not None and type(next_hop) is not IPv6Address:
            next_hop = self._in6(next_hop, "next_hop")
        if len(packet) < 40 or packet[0] >> 4 != 6:
            raise ValueError("ip6_output: not an IPv6 packet (40-octet header, version 6)")
        if self.key is not None and self.key.output(self, ifname, packet, now, next_hop,
                                                     linkmtu=linkmtu):
            return
        if ifp.type == 55 or ifp.type == 215:  # IFT_GIF, IFT_STF: kame.gif, kame.stf
            self.stats.inc("ip6s_localout")
            self.gif.gif_output(ifname, packet, now, next_hop)
            return
        if packet[24] == 0xFF:  # multicast destination
            self._emit_mcast(ifname, IPv6Address(packet[24:40]), packet)
            if self.mldr._if:
                # a router's own multicast to its other links with listeners
                # (KAME's ip6_output calls ip6_mforward; kame.ip6.mroute)
                self.ip6_mforward(ifname, packet, None, now, local=True)  # type: ignore[attr-defined]
            return
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        hop = next_hop if next_hop is not None else IPv6Address(packet[24:40])
        # a packet held for resolution keeps its sizing (DeliverQueued)
        ll, actions = self.cache.resolve(ifname, hop, (ifname, packet, True) if linkmtu
                                         else (ifname, packet), now)
        if actions:
            self._handle(actions, now)
        if ll is not None:
            self.stats._c["ip6s_localout"] += 1
            if len(packet) <= IPV6_MMTU and ifp.up:  # _ether_out's common case inline
                self._out.append((ifname, b"".join((ll, ifp.lladdr or bytes(6), b"\x86\xdd",
                                                    packet))))
            else:
                self._ether_out(ifname, ll, packet, tso_segsz, linkmtu)

    def _ether_out(self, ifname: str, lladdr: bytes, packet: bytes, tso_segsz: int = 0,
                   linkmtu: bool = False) -> None:
        """Frame one resolved packet; our own packets larger than the path
        MTU are fragmented first (RFC 8200 §4.5), others must fit the link,
        except a TCP super-segment the interface segments (``tso_segsz``)."""
        ifp = self.ifnets[ifname]
        if not ifp.up:
            self.stats.inc("ip6s_odropped")  # ifconfig down
            return
        me = ifp.lladdr or bytes(6)
        if len(packet) > IPV6_MMTU:
            ours = self.addrs.find_any(IPv6Address(packet[8:24])) is not None
            mtu = self.path_mtu(ifname, IPv6Address(packet[24:40])) if ours and not linkmtu \
                else self._linkmtu(ifname)
            if len(packet) > mtu:
                if tso_segsz and ours and len(packet) <= ifp.tsomax + 40 and packet[6] == 6 \
                        and 40 + 20 + tso_segsz <= mtu:
                    tf = TsoFrame(codec.ether(lladdr, me, packet))
                    tf.tso_segsz = tso_segsz
                    self._out.append((ifname, tf))
                    return
                if not ours:
                    self.stats.inc("ip6s_cantfrag")
                    return
                frags = self.ip6_fragment(packet, mtu)
                for f in frags:
                    self._out.append((ifname, codec.ether(lladdr, me, f)))
                return
        self._out.append((ifname, b"".join((lladdr, me, b"\x86\xdd", packet))))  # codec.ether

    def ip6_fragment(self, packet: bytes, mtu: int) -> list[bytes]:
        """Our own ``packet`` cut into fragments that fit ``mtu`` (RFC 8200
        §4.5, the next identification), counted; none when it cannot be
        (``ip6s_cantfrag``)."""
        self._frag_ident = (self._frag_ident + 1) & 0xFFFFFFFF
        try:
            frags = _core.fragment(packet, mtu, self._frag_ident)
        except KameError:
            self.stats.inc("ip6s_cantfrag")
            return []
        self.stats.inc("ip6s_fragmented")
        self.stats.inc("ip6s_ofragments", len(frags))
        return list(frags)

    def _emit_mcast(self, ifname: str, dst: IPv6Address, packet: bytes) -> None:
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        if not ifp.up:
            self.stats.inc("ip6s_odropped")  # ifconfig down
            return
        self.stats.inc("ip6s_localout")
        if ifp.type == 55 or ifp.type == 215:  # IFT_GIF, IFT_STF: kame.gif, kame.stf
            self.gif.gif_output(ifname, packet, self._now, dst)
            return
        self._out.append((ifname, codec.ether(ether_multicast(dst), ifp.lladdr or bytes(6),
                                              packet)))

    def send(self, dst: IPv6Address | str, payload: bytes, next_header: int, now: float,
             ifname: str | None = None) -> bool:
        """Send an upper-layer payload; picks interface, next hop and source.
        ``dst`` as :meth:`ping` takes it."""
        dst, ifname = self._user_addr(dst, ifname, what="destination")
        now = self._time(now)
        next_header = _uint(next_header, "next_header", 0xFF)
        payload = _octets(payload, "payload")
        if ifname is None:
            rt = self.rtalloc(dst, now)
            if rt is None:
                self.stats.inc("ip6s_noroute")
                return False
            ifname, hop = rt.ifname, rt.next_hop
            nh = (ifname, hop) if rt.gateway else None
        else:
            hop, nh = dst, None
        src = self._source_for(ifname, dst, nh)
        if src is None:
            self.stats.inc("ip6s_sources_none")
            return False
        hdr = _core.Ipv6Header(src, dst, next_header=next_header,
                               hop_limit=self.cache.info(ifname).chlim, payload_len=len(payload))
        self.output(ifname, hdr.to_bytes() + payload, now, hop)
        return True

    def ping(self, dst: IPv6Address | str, now: float, *, ident: int = 0x4b4d, seq: int = 0,
             data: bytes = b"kame", ifname: str | None = None) -> list[Frame]:
        """Send one Echo Request (``ping6``). ``dst`` is a ``str``
        (``"fe80::1%eth0"``), an ``ipaddress.IPv6Address`` (its zone too) or a
        :class:`~kame.scope6.Sockaddr6`; a zone names the interface, as
        ``ifname`` (``ping6 -I``) does, and the two must agree."""
        dst, ifname = self._user_addr(dst, ifname, what="destination")
        now = self._time(now)
        ident = _uint(ident, "ident", 0xFFFF)
        seq = _uint(seq, "seq", 0xFFFF)
        data = _octets(data, "data")
        self._now = now
        if ifname is None and is_linklocal(dst):
            raise ValueError("a link-local destination needs an interface (fe80::...%if)")
        rt = self.rtalloc(dst, now) if not ifname else None
        nh = (ifname, dst) if ifname else (rt[:2] if rt is not None else None)
        if nh is not None:
            ifn = nh[0]
            src = self._source_for(ifn, dst, nh if rt is not None and rt.gateway else None)
            if src is not None:
                msg = _core.Icmpv6Echo(128, ident, seq, data)
                self.output(ifn, codec.build_icmp6_packet(src, dst, msg,
                                                          self.cache.info(ifn).chlim), now, nh[1])
        return self._flush()

    def in6_selectsrc(self, dst: IPv6Address | str, ifname: str | None = None, *,
                      next_hop: Any = _ROUTE, prefs: int = 0) -> IPv6Address | None:
        """RFC 6724 §5 over the node's addresses (§1.6.1 step 3); ``dst`` as
        :meth:`ping` takes it (a zone gives the outgoing interface).

        Candidates are usable (not tentative, duplicated or detached) and not
        anycast; an address whose zone does not contain the outgoing
        interface ``ifname`` is never chosen (§1.6.1: "addresses that break
        the scope zone of the destination"). ``None`` is EADDRNOTAVAIL.

        Rule 5.5 needs the router the route to ``dst`` goes through:
        ``next_hop`` as ``(ifname, router)``, ``None`` for none (on-link,
        no route), or left out to look the route up (:meth:`rtalloc`; a
        route leaving by another interface than ``ifname`` gives none).

        ``prefs``: a socket's RFC 5014 preferences (Linux's ``srcprefs``:
        0x1 temporary, 0x2 public, for rule 7; 0x4 a care-of address over
        the home address, rule 4 reversed as Linux's ``!HOMEADDRESS``).
        """
        if type(dst) is not IPv6Address or dst.scope_id is not None or is_embedded_form(dst):
            dst, ifname = self._user_addr(dst, ifname, what="destination")
        elif ifname is not None and ifname not in self.ifnets:
            self._ifnet(ifname)
        if next_hop is _ROUTE:
            next_hop = self._rule55_hop(dst, ifname)
        elif next_hop is not None and not (
                isinstance(next_hop, tuple) and len(next_hop) == 2
                and isinstance(next_hop[0], str) and isinstance(next_hop[1], IPv6Address)):
            raise TypeError("next_hop is (ifname, IPv6Address) or None")
        return self._in6_selectsrc(dst, ifname, next_hop, prefs=prefs)

    def _rule55_hop(self, dst: IPv6Address, ifname: str | None
                    ) -> tuple[str, IPv6Address] | None:
        """The router the route to ``dst`` uses (rule 5.5's next hop), when
        ``net.inet6.ip6.prefer_nexthop_prefix`` is on and the route goes
        through a gateway (a default router, an RFC 4191 route's router, a
        Redirect's target, a static route's gateway) on ``ifname``."""
        if not self.knobs._values["net.inet6.ip6.prefer_nexthop_prefix"] or \
                is_linklocal(dst) or is_multicast(dst):
            return None
        rt = self.rtalloc(dst, self._now)
        if rt is None or not rt.gateway or (ifname is not None and rt.ifname != ifname):
            return None
        return rt.ifname, rt.next_hop

    def _advertised_by(self, ifa: In6Ifaddr, router: IPv6Address) -> bool:
        """Whether ``router`` advertised the prefix of ``ifa`` on its link:
        the prefix entry an autoconfigured address came from, else the
        on-link prefix entries holding the address (a DHCPv6 or manual
        one). A link-local address's prefix is never advertised."""
        if ifa.prefix is not None:
            pr = self.rtr.prefixes.get((ifa.ifname, ifa.prefix))
            if pr is not None:
                return router in pr.advrtrs
        a = int(ifa.addr)
        if a >> 118 == 0x3FA:  # fe80::/10
            return False
        for _plen, prs in self.rtr._onlink.match(a):
            for pr in prs:
                if pr.ifname == ifa.ifname and router in pr.advrtrs:
                    return True
        return False

    def _in6_selectsrc(self, dst: IPv6Address, ifname: str | None,
                       nh: tuple[str, IPv6Address] | None = None,
                       nd: bool = False, prefs: int = 0) -> IPv6Address | None:
        if ifname is not None and (is_linklocal(dst) or (dst._ip >> 112) & 0xFF0F == 0xFF02):  # type: ignore[attr-defined]
            # Link scope: rule 2 leaves the link-locals of the outgoing
            # interface (its zone); with one usable, preferred one, it wins.
            lls = [ifa for ifa in self.addrs.on(ifname)
                   if is_linklocal(ifa.addr) and not ifa.flags._value_ & 0x1F]
            if len(lls) == 1:
                return lls[0].addr
        zones = self.zones
        cands: list[SourceCandidate] = []
        if nh is not None and not self.knobs._values["net.inet6.ip6.prefer_nexthop_prefix"]:
            nh = None
        nh_if, router = nh if nh is not None else (None, None)
        # rule 4 (RFC 6724 §5): a mobile node's home address and, away,
        # its care-of address (RFC 6275 §11.3.1: the home address preferred)
        # (not for Neighbor Discovery: its source is an address of the
        # interface, RFC 4861 §7.2.2, never the home address of hif0)
        mn = self.mip6.mn if not nd else None
        home = mn.home if mn is not None else None
        coa = mn.coa if mn is not None and mn.away else None
        not_home = mn is not None and prefs & 0x4  # IPV6_PREFER_SRC_COA
        for ifa in self.addrs.all():
            fl = ifa.flags._value_
            if fl & 0x0F:  # ANYCAST | TENTATIVE | DUPLICATED | DETACHED
                continue
            if ifname is not None and ifa.ifname != ifname:
                sc = in6_addrscope(ifa.addr)
                if sc != Scope.GLOBAL and (ifa.ifname not in zones.zones or ifname not in zones.zones
                                           or zones.zone_of(ifa.ifname, sc)
                                           != zones.zone_of(ifname, sc)):
                    continue
            ifp = self.ifnets.get(ifa.ifname)
            adv: tuple[IPv6Address, ...] = ()
            if router is not None and ifa.ifname == nh_if and self._advertised_by(ifa, router):
                adv = (router,)
            cands.append(SourceCandidate(
                ifa.addr, ifa.ifname, ifa.prefixlen, bool(fl & _DEPRECATED),
                bool(fl & _TEMPORARY), (ifa.addr != home) if not_home else ifa.addr == home,
                ifa.addr == coa and not not_home,
                ifp is not None and ifp.up, ifp is not None and ifp.flags.prefer_source, adv))
        c = rfc6724_select(dst, cands, outif=ifname, policy=self.policy,
                           use_deprecated=bool(self.knobs["net.inet6.ip6.use_deprecated"]),
                           prefer_tempaddr=bool(prefs & 0x1) if prefs & 0x3
                           else bool(self.knobs["net.inet6.ip6.prefer_tempaddr"]),
                           next_hop=router)
        return c.addr if c is not None else None  # type: ignore[return-value]

    def sort_destinations(self, dsts: Iterable[IPv6Address | IPv4Address | tuple[IPv6Address, str]],
                          now: float) -> list[Destination]:
        """RFC 6724 §6 over this node's view (§1.6.2, what ``getaddrinfo``
        sorts with): each destination gets the source ``in6_selectsrc``
        picks on the interface its route leaves by (a link-local
        destination comes as ``(addr, ifname)``); no route or no source
        makes it unusable (rule 1). IPv4 destinations have no source here.
        An IPv6 destination may also come as ``str`` or with a zone, as
        :meth:`ping` takes it."""
        ds: list[Destination] = []
        for item in dsts:
            if len(ds) == 1 << 16:
                raise RangeError("more than 65536 destinations", argument="dsts", low=0,
                                 high=1 << 16)
            addr, ifname = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
            if not isinstance(addr, IPv4Address):
                addr, ifname = self._user_addr(addr, ifname, what="destination")
            src: SourceCandidate | None = None
            if isinstance(addr, IPv6Address):
                if ifname is None and not is_linklocal(addr) and not is_multicast(addr):
                    rt = self.rtalloc(addr, now)
                    ifname = rt.ifname if rt is not None else None
                    nh = (rt.ifname, rt.next_hop) if rt is not None and rt.gateway else None
                else:
                    nh = None
                if ifname is not None and ifname in self.ifnets:
                    s = self._in6_selectsrc(addr, ifname, nh)
                    ifa = self.addrs.find_any(s) if s is not None else None
                    if ifa is not None:
                        mn = self.mip6.mn  # §6 rule 4: a home address as the source
                        src = SourceCandidate(ifa.addr, ifa.ifname, ifa.prefixlen,
                                              bool(ifa.flags & In6Flags.DEPRECATED),
                                              bool(ifa.flags & In6Flags.TEMPORARY),
                                              mn is not None and ifa.addr == mn.home,
                                              mn is not None and mn.away
                                              and ifa.addr == mn.coa)
            ds.append(Destination(addr, src))
        return order_destinations(ds, policy=self.policy)

    def _reflect_route(self, ifname: str, dst: IPv6Address,
                       now: float) -> tuple[str, IPv6Address]:
        """``icmp6_reflect``: answer the way the route to ``dst`` says; the
        arrival interface for a link-local ``dst`` or when no route is known."""
        rt = None if is_linklocal(dst) else self.rtalloc(dst, now)
        return (rt.ifname, rt.next_hop) if rt is not None else (ifname, dst)

    def _linklocal(self, ifname: str) -> IPv6Address | None:
        for ifa in self.addrs.on(ifname):
            if is_linklocal(ifa.addr) and ifa.usable:
                return ifa.addr
        return None

    def _source_for(self, ifname: str, dst: IPv6Address,
                    nh: Any = _ROUTE, nd: bool = False) -> IPv6Address | None:
        """The source for ``dst`` out of ``ifname``; ``nh`` the route's
        ``(ifname, router)`` when the caller has it (rule 5.5), else looked
        up; ``nd`` for a Neighbor Discovery message (no home address)."""
        if nh is _ROUTE:
            nh = self._rule55_hop(dst, ifname)
        return self._in6_selectsrc(dst, ifname, nh, nd)

    def _linkmtu(self, ifname: str) -> int:
        """``IN6_LINKMTU``: the RA-advertised MTU when set, else the interface's."""
        ifp = self.ifnets[ifname]
        lm = self.cache.info(ifname).linkmtu
        return min(lm, ifp.mtu) if lm else ifp.mtu

    def pmtu_update(self, dst: IPv6Address, mtu: int, now: float) -> bool:
        """RFC 8201 §4: lower the path MTU to ``dst`` (never below 1280, never
        raised by a PTB); kept for :data:`PMTU_EXPIRE` seconds."""
        dst = self._in6(dst, "dst")
        mtu = _uint(mtu, "mtu", 0xFFFFFFFF)
        now = self._time(now)
        mtu = max(mtu, IPV6_MMTU)
        cur = self.pmtu.get(dst)
        if cur is not None and cur[1] > now and mtu >= cur[0]:
            return False
        rt = self.rtalloc(dst, now) if not is_linklocal(dst) else None
        if cur is None and rt is not None and mtu >= self._linkmtu(rt.ifname):
            return False
        pmtu = self.pmtu
        if cur is not None:
            pmtu.move_to_end(dst)
        elif len(pmtu) >= self.knobs._values["net.inet6.icmp6.mtudisc_hiwat"]:
            # the least recently updated goes (the oldest expiry, as every
            # entry lives PMTU_EXPIRE): O(1), and a new Packet Too Big is
            # never refused (refusing one would black-hole its path)
            pmtu.popitem(last=False)
            self.stats.inc("icp6s_pmtufull")
        pmtu[dst] = (mtu, now + PMTU_EXPIRE)
        self.gate.arm(now + PMTU_EXPIRE)
        self.stats.inc("icp6s_pmtuchg")
        self.events.append(PathMtuChanged(dst, mtu))
        return True

    def path_mtu(self, ifname: str, dst: IPv6Address, now: float | None = None) -> int:
        """The MTU to use towards ``dst`` out of ``ifname``."""
        if ifname not in self.ifnets:
            self._ifnet(ifname)
        t = self._now if now is None else self._time(now)
        link = self._linkmtu(ifname)
        e = self.pmtu.get(dst) if self.pmtu else None  # empty: no IPv6Address hash
        return min(link, e[0]) if e is not None and e[1] > t else link

    # The destination cache is kept in order of update, which is the order of
    # expiry (every entry lives PMTU_EXPIRE from its update): the first
    # entry is the next to expire.

    def _pmtu_deadline(self) -> float | None:
        for _mtu, exp in self.pmtu.values():
            return exp
        return None

    def _pmtu_expire(self, now: float) -> None:
        pmtu = self.pmtu
        while pmtu:
            dst, (mtu, exp) = next(iter(pmtu.items()))
            if exp > now:
                break
            del pmtu[dst]
            self.events.append(PathMtuChanged(dst, mtu, expired=True))

    def _mld_output(self, a: SendMldReport) -> None:
        src = self._linklocal(a.ifname) or UNSPECIFIED
        if a.version == 2:
            # as many reports as the link MTU needs (RFC 3810 §5.2.15): a record
            # too long for one is split, MODE_IS_EXCLUDE and CHANGE_TO_EXCLUDE
            # keep the sources that fit, once
            room = max(20 + 16, int(self.ifnets[a.ifname].mtu) - 40 - 8 - 8)
            most = (room - 20) // 16
            parts: list[tuple[int, Any, tuple[IPv6Address, ...]]] = []
            for t, g, srcs in a.records:
                chunks = [srcs[i:i + most] for i in range(0, len(srcs), most)] or [()]
                parts += [(t, g, c) for c in (chunks[:1] if t in (2, 4) else chunks)]
            dst = IPv6Address("ff02::16")
            batch: list[Any] = []
            size = 0
            for k, (t, g, c) in enumerate(parts):
                batch.append(_core.MldAddressRecord(t, g, list(c)))
                size += 20 + 16 * len(c)
                nxt = 20 + 16 * len(parts[k + 1][2]) if k + 1 < len(parts) else room + 1
                if size + nxt > room:
                    self._emit_mcast(a.ifname, dst,
                                     self._mld_packet(src, dst, _core.Mldv2Report(batch)))
                    batch, size = [], 0
            return
        for _t, g, _s in a.records:
            if a.done:
                self._emit_mcast(a.ifname, IPv6Address("ff02::2"),
                                 self._mld_packet(src, IPv6Address("ff02::2"), _core.MldDone(g)))
            else:
                self._emit_mcast(a.ifname, g, self._mld_packet(src, g, _core.MldReport(g)))

    def _mld_packet(self, src: IPv6Address, dst: IPv6Address, msg: Any) -> bytes:
        """MLD goes with hop limit 1 and a Router Alert (RFC 3810 §5)."""
        body = msg.to_bytes(src, dst)
        hbh = _core.HopByHop([_core.Ipv6Option.router_alert(0)], next_header=58).to_bytes()
        hdr = _core.Ipv6Header(src, dst, next_header=0, hop_limit=1,
                               payload_len=len(hbh) + len(body))
        return bytes(hdr.to_bytes() + hbh + body)
