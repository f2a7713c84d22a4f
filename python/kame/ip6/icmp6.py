"""``icmp6.c``: ICMPv6 input (echo, ND, MLD, errors to upper layers),
``icmp6_error`` under the rules and rate limits of :mod:`kame.icmp6`
(seed §1.9), ``icmp6_notify`` and Path MTU, ``icmp6_redirect_output``."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from kame import _core
from kame.addr import is_linklocal, is_multicast
from kame.errors import KameError, MalformedError, TruncatedError
from kame.icmp6 import ICMP6_PACKET_TOO_BIG, IPV6_MMTU, Invoking, error_payload, may_send_error
from kame.ip6.output import Ip6Output
from kame.ip6.route import Route
from kame.nd6 import codec
from kame.nd6.types import NaInput, NsInput, RaInput, RedirectInput, RsInput


@dataclass(frozen=True, slots=True)
class EchoReply:
    """An Echo Reply arrived (the event ``ping6`` waits for)."""

    ifname: str
    src: IPv6Address
    ident: int
    seq: int
    data: bytes
    time: float


@dataclass(frozen=True, slots=True)
class Icmp6ErrorInput:
    """An ICMPv6 error about a packet we sent (``icmp6_notify``): what an
    upper layer (``udp6_ctlinput``, ``tcp6_ctlinput``, ping6) hears."""

    ifname: str
    reporter: IPv6Address
    type: int
    code: int
    param: int
    src: IPv6Address
    dst: IPv6Address
    next_header: int
    time: float
    #: the ICMPv6 message's own hop limit, traffic class and destination
    #: (Linux's error queue gives them as receive items)
    hlim: int = 0
    tclass: int = 0
    to: IPv6Address | None = None


_ICMP_BAD = {133: "icp6s_badrs", 134: "icp6s_badra", 135: "icp6s_badns",
             136: "icp6s_badna", 137: "icp6s_badredirect"}


class Icmp6(Ip6Output):
    """ICMPv6 input and output of the node."""

    def icmp6_input(self, ifname: str, hdr: Any, body: bytes, packet: bytes, now: float) -> None:
        try:
            msg = _core.parse_icmpv6(body, hdr.src, hdr.dst,
                                     self.knobs["net.inet6.icmp6.nd6_maxndopt"])
        except KameError as e:
            self.icmp6_input_error(hdr, body, e, now)
            return
        if is_multicast(hdr.dst) and hdr.dst not in self.groups.get(ifname, ()):
            # let in for the querier (ip6_input): MLD only
            if isinstance(msg, (_core.MldReport, _core.Mldv2Report, _core.MldDone)):
                self.mld6_router_input(ifname, hdr, msg, now)
            else:
                self.stats.inc("ip6s_notmember")
            return
        self.rip6_input(ifname, hdr, 58, body, now)
        inp = codec.to_input(hdr.src, hdr.dst, hdr.hop_limit, msg)
        if isinstance(inp, NsInput):
            self._handle(self.nbr.ns_input(ifname, inp, now), now)
        elif isinstance(inp, NaInput):
            self._handle(self.nbr.na_input(ifname, inp, now), now)
        elif isinstance(inp, RsInput):
            self._handle(self.rtr.rs_input(ifname, inp, now), now)
        elif isinstance(inp, RaInput):
            self._handle(self.rtr.ra_input(ifname, inp, now), now)
        elif isinstance(inp, RedirectInput):
            self._handle(self.rtr.redirect_input(ifname, inp, now), now)
        elif isinstance(msg, _core.MldQuery):
            if hdr.hop_limit == 1 and is_linklocal(hdr.src):  # RFC 3810 §5.1.14
                self.mld.query_input(ifname, msg.mcast_addr, msg.max_resp, msg.v2, now,
                                     msg.sources)
                self.mldr.query_input(ifname, hdr.src, msg.mcast_addr, msg.sources,
                                      msg.suppress, msg.v2, now)
        elif isinstance(msg, (_core.MldReport, _core.Mldv2Report, _core.MldDone)):
            self.mld6_router_input(ifname, hdr, msg, now)
        elif isinstance(msg, _core.Icmpv6Error):
            self.icmp6_notify(ifname, hdr, msg, now)
        elif isinstance(msg, _core.Icmpv6Unknown) and 144 <= msg.type <= 147:
            self.mip6.icmp6_input(ifname, hdr, msg, now)  # RFC 6275 §6.5-§6.8 (kame.mip6)
        elif isinstance(msg, _core.Icmpv6Echo):
            if msg.type == 128:
                self._echo_reply(ifname, hdr, msg, now)
            else:
                self.events.append(EchoReply(ifname, hdr.src, msg.ident, msg.seq,
                                             bytes(msg.data), now))

    def mld6_router_input(self, ifname: str, hdr: Any, msg: Any, now: float) -> None:
        """A Report or Done for the querier (:mod:`kame.mld6_router`): hop
        limit 1 and a link-local source (RFC 3810 §5.2.13/§5.2.14; ``::``
        from a host without an address yet is ignored, §7.3)."""
        if not self.mldr.running(ifname) or int(hdr.src) == 0:
            return  # reports of a host doing DAD: nothing to learn
        if hdr.hop_limit != 1 or not is_linklocal(hdr.src):
            self.stats.inc("mlds_rcv_badrecords")
            return
        if isinstance(msg, _core.Mldv2Report):
            self.mldr.report_input(ifname, [(r.record_type, r.mcast_addr, r.sources)
                                            for r in msg.records], now)
        elif isinstance(msg, _core.MldReport):
            self.mldr.v1_report_input(ifname, msg.mcast_addr, now)
        else:
            self.mldr.done_input(ifname, msg.mcast_addr, now)

    def _echo_reply(self, ifname: str, hdr: Any, msg: Any, now: float) -> None:
        src = hdr.dst
        if is_multicast(src):
            cand = self._source_for(ifname, hdr.src)
            if cand is None:
                return
            src = cand
        reply = _core.Icmpv6Echo(129, msg.ident, msg.seq, msg.data)
        self.stats.inc("icp6s_reflect")
        outif, hop = self._reflect_route(ifname, hdr.src, now)
        self.output(outif, codec.build_icmp6_packet(src, hdr.src, reply,
                                                    self.cache.info(outif).chlim), now, hop)

    def icmp6_error(self, ifname: str, invoking: bytes, src: IPv6Address, dst: IPv6Address,
               next_header: int, icmp6_type: int | None, etype: int, ecode: int,
               now: float, *, pointer: int = 0) -> None:
        self.stats.inc("icp6s_error")
        ok, _why = may_send_error(Invoking(src, dst, next_header, icmp6_type), etype, ecode)
        if not ok:
            self.stats.inc("icp6s_canterror")
            return
        if not self.errlimit.allow(now):
            self.stats.inc("icp6s_toofreq")
            return
        outif, hop = self._reflect_route(ifname, src, now)
        me = dst if not is_multicast(dst) and self.addrs.find_any(dst) else \
            self._source_for(outif, src, (outif, hop) if hop != src else None)
        if me is None:
            return
        err = _core.Icmpv6Error(etype, ecode, pointer, error_payload(invoking))
        self.output(outif, codec.build_icmp6_packet(me, src, err, 64), now, hop)

    def icmp6_input_error(self, hdr: Any, body: bytes, e: KameError, now: float) -> None:
        """An ICMPv6 message ``parse_icmpv6`` refused, counted by class,
        layer and offset: truncated -> ``icp6s_tooshort``; checksum field
        (offset 2) -> ``icp6s_checksum``; code field (offset 1) ->
        ``icp6s_badcode``; an ND option -> ``icp6s_nd_badopt`` and the
        message's ``icp6s_bad*``; anything else -> ``icp6s_bad*`` / badlen."""
        t = body[0] if body else -1
        if isinstance(e, TruncatedError) and e.layer == "icmpv6":
            self.stats.inc("icp6s_tooshort")
        elif isinstance(e, MalformedError) and e.layer == "icmpv6" and e.offset == 2:
            self.stats.inc("icp6s_checksum")
        elif isinstance(e, MalformedError) and e.layer == "icmpv6" and e.offset == 1:
            self.stats.inc("icp6s_badcode")
        elif e.layer == "nd":
            self.stats.inc("icp6s_nd_badopt")
            if t in _ICMP_BAD:
                self.stats.inc(_ICMP_BAD[t])
        else:
            self.stats.inc(_ICMP_BAD.get(t, "icp6s_badlen"))
        self.log(now, "icmp6", f"ICMPv6 from {hdr.src} refused: {e.layer} at {e.offset}: "
                               f"{e.reason}")

    def icmp6_notify(self, ifname: str, hdr: Any, msg: Any, now: float) -> None:
        """An ICMPv6 error about one of our packets: PTB feeds the destination
        cache, every error becomes an :class:`Icmp6ErrorInput` event."""
        inv = bytes(msg.invoking)
        if len(inv) < 40:
            self.stats.inc("icp6s_tooshort")
            return
        osrc, odst = IPv6Address(inv[8:24]), IPv6Address(inv[24:40])
        if self.addrs.find_any(osrc) is None:
            return  # not about a packet of ours
        if msg.type == ICMP6_PACKET_TOO_BIG:
            if not self._pmtu_refused(ifname, inv):
                self.pmtu_update(odst, msg.mtu, now)
            if inv[6] in (4, 41):  # about a gif's outer packet (RFC 2473 §7)
                self.gif.ctlinput(osrc, odst, msg.mtu, inv, 40, now)
        err = Icmp6ErrorInput(ifname, hdr.src, msg.type, msg.code, msg.param,
                              osrc, odst, inv[6], now, hdr.hop_limit, hdr.traffic_class, hdr.dst)
        self.events.append(err)
        if inv[6] == 135 and self.mip6.mn is not None:
            self.mip6.mn.ctlinput(err)  # a correspondent without Mobile IPv6 (kame.mip6)
        if inv[6] == 6:
            self.tcp6_ctlinput(err, inv, now)  # kame.tcp (issue 9)
        self.udp6_ctlinput(err, inv)

    def _pmtu_refused(self, ifname: str, inv: bytes) -> bool:
        """Linux's ``ip6_sk_accept_pmtu``: a Packet Too Big about a segment
        or datagram of a socket of ``IPV6_PMTUDISC_INTERFACE`` or ``_OMIT``
        (the Linux profile) lowers no path MTU: ``tcp_v6_err`` and
        ``__udp6_lib_err`` leave the route as it was."""
        if inv[6] == 6:
            tcp = getattr(self, "tcp", None)
            return tcp is not None and bool(tcp.tcp6_pmtu_ignored(inv, ifname))
        if inv[6] == 17:
            so = getattr(self, "sockets", None)
            return so is not None and bool(so.udp6_pmtu_ignored(inv))
        return False

    def icmp6_redirect_output(self, ifname: str, invoking: bytes, rt: Route,
                              now: float) -> bool:
        """RFC 4861 §8.2: tell a neighbor a better first hop for ``dst``.

        Only to a source that is a neighbor on this link; the target is the
        better router's link-local address (``rt.gateway``) or the
        destination itself when it is on-link. Target Link-Layer Address
        option when the neighbor cache knows it, Redirected Header with as
        much of the packet as fits in 1280 bytes; rate-limited like errors.
        """
        src, dst = IPv6Address(invoking[8:24]), IPv6Address(invoking[24:40])
        if not self.knobs.forwarding or not self._is_neighbor(src, ifname, now):
            return False
        if self.addrs.find_any(src) is not None or is_multicast(src) or int(src) == 0:
            return False
        target = rt.next_hop if rt.gateway else dst
        if rt.gateway and not is_linklocal(target):
            return False  # RFC 4861 §8.2: a router target must be link-local
        me = self._linklocal(ifname)
        if me is None:
            return False
        if not self.errlimit.allow(now):
            self.stats.inc("icp6s_toofreq")
            return False
        opts: list[Any] = []
        ln = self.cache.lookup(ifname, target)
        if ln is not None and ln.lladdr is not None:
            opts.append(_core.NdOptTargetLinkAddr(ln.lladdr))
        # As much of the packet as fits in 1280 bytes, cut to a multiple of
        # 8 octets rather than padded (KAME icmp6_redirect_output, RFC 4861 §4.6.3).
        room = IPV6_MMTU - 40 - 40 - sum(len(o.to_bytes()) for o in opts) - 8
        opts.append(_core.NdOptRedirectedHeader(invoking[:min(room, len(invoking)) & ~7]))
        msg = _core.Redirect(target, dst, opts)
        self.output(ifname, codec.build_icmp6_packet(me, src, msg, 255), now)
        self.stats.inc("ip6s_redirectsent")
        return True
