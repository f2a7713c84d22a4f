"""The sans-I/O IPv6 node (first cut): interfaces, ND resolution, DAD,
SLAAC, RS/RA, echo, port unreachable.

``Node.receive(ifname, frame, now)`` and ``Node.poll(now)`` return the
frames to transmit as ``(ifname, frame)`` pairs; ``Node.next_deadline()``
says when to call ``poll`` next; events (address ready, duplicated, echo
replies ...) queue in ``Node.events``. The node never reads a clock or a
socket, so it runs on :class:`kame.link.memory.Simulation`, on a TAP device
or against a pcap.

Bytes are the core's business: every IPv6 packet is validated by
``kame._core.ip6_validate`` and every ICMPv6 message parsed by
``kame._core.parse_icmpv6``; ND messages are mapped to typed inputs by
:mod:`kame.nd6.codec`. Every drop increments a BSD-named counter in
``Node.stats`` (``ip6s_*``, ``icp6s_*``). Neighbor Solicitations and
Advertisements, most of what a busy link carries, first try a fast path:
one core call (``kame._core.nd6_input``) runs the same parsers over the
frame and hands over the NS/NA fields only when every check of the general
path would pass; anything else takes the general path (``_nd6_input``;
``Node.receive_many`` parses a batch with the GIL released).

Routing and forwarding (``ip6_forward``, seed §1.3 scope rules, §1.4.2
roles), source address selection (:mod:`kame.in6_src`), fragment
reassembly (``frag6_input`` over ``kame._core.Reassembler``), Path MTU
Discovery (RFC 8201) with output fragmentation, and ``ifconfig down`` live
in the methods of the same names below.

IPsec (seed §4): ``Node.attach_key()`` gives the node an SPD and SAD
(:mod:`kame.key.ipsec6`), called from ``output``, ``_forward_output`` and
``_input``.

Not yet here: MLD queriers (the listener side is :mod:`kame.mld6`),
sockets.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import Any, NamedTuple

from kame import _core
from kame.addr import (
    UNSPECIFIED,
    check_wire_addresses,
    ether_multicast,
    is_linklocal,
    is_multicast,
    solicited_node,
)
from kame.errors import HeaderLimitError, KameError, MalformedError, TruncatedError
from kame.icmp6 import (
    ICMP6_DST_UNREACH,
    ICMP6_DST_UNREACH_ADDR,
    ICMP6_DST_UNREACH_BEYONDSCOPE,
    ICMP6_DST_UNREACH_NOPORT,
    ICMP6_DST_UNREACH_NOROUTE,
    ICMP6_PACKET_TOO_BIG,
    ICMP6_PARAM_PROB,
    ICMP6_PARAMPROB_NEXTHEADER,
    ICMP6_TIME_EXCEEDED,
    IPV6_MMTU,
    ErrorRateLimiter,
    Invoking,
    error_payload,
    may_send_error,
)
from kame.in6_src import Destination, PolicyTable, SourceCandidate, order_destinations
from kame.in6_src import in6_selectsrc as rfc6724_select
from kame.in6_var import AddrList, Ifnet, IfType, In6Flags, In6Ifaddr
from kame.knobs import Knobs
from kame.mld6 import Mld6, SendMldReport
from kame.nd6 import codec
from kame.nd6.cache import NdLog, NeighborCache
from kame.nd6.ifattach import in6_ifattach
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.rtr import MAX_RTR_SOLICITATION_DELAY, Nd6Rtr
from kame.nd6.types import (
    AddressDuplicated,
    DeliverQueued,
    DropQueued,
    Event,
    InterfaceDisabled,
    NaInput,
    NeighborUnreachable,
    NsInput,
    RaInput,
    RedirectInput,
    RsInput,
    SendNA,
    SendNS,
    SendRA,
    SendRS,
)
from kame.scope6 import Scope, ZoneTable, in6_addrscope, in6_clearscope
from kame.stats import Stats

__all__ = ["EchoReply", "Icmp6ErrorInput", "Node", "PathMtuChanged", "Route", "Rtentry"]

Frame = tuple[str, bytes]

_ICMP_BAD = {133: "icp6s_badrs", 134: "icp6s_badra", 135: "icp6s_badns",
             136: "icp6s_badna", 137: "icp6s_badredirect"}


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


@dataclass(frozen=True, slots=True)
class PathMtuChanged:
    """The destination cache learnt (or forgot, ``expired``) a path MTU."""

    dst: IPv6Address
    mtu: int
    expired: bool = False


@dataclass(slots=True)
class Rtentry:
    """A static route (``route add -inet6``): ``gateway`` ``None`` is an
    interface route (the prefix is on-link on ``ifname``)."""

    prefix: IPv6Network
    gateway: IPv6Address | None
    ifname: str


class Route(NamedTuple):
    """What ``rtalloc`` found: the outgoing interface, the next hop, whether
    the route goes through a gateway, and whether it came from a Redirect
    (``RTF_DYNAMIC``)."""

    ifname: str
    next_hop: IPv6Address
    gateway: bool
    dynamic: bool


#: RFC 8201 §4: a path MTU learnt from a Packet Too Big is kept 10 minutes.
PMTU_EXPIRE = 600.0


class Node:
    """One IPv6 node; see the module docstring."""

    def __init__(self, hostname: str = "kame", *, knobs: Knobs | None = None,
                 seed: int = 0) -> None:
        self.hostname = hostname
        self.knobs = knobs if knobs is not None else Knobs()
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.log = NdLog(self.knobs)
        self.ifnets: dict[str, Ifnet] = {}
        self.zones = ZoneTable()
        self.addrs = AddrList()
        self.groups: dict[str, set[IPv6Address]] = {}
        self.ifids: dict[str, bytes] = {}
        self.cache = NeighborCache(self.knobs, rng=self.rng, stats=self.stats, log=self.log)
        self.nbr = Nd6Nbr(self.knobs, self.cache, self.addrs, self.ifnets, rng=self.rng,
                          stats=self.stats, log=self.log)
        self.rtr = Nd6Rtr(self.knobs, self.cache, self.nbr, self.addrs, self.ifnets, self.ifids,
                          rng=self.rng, stats=self.stats, log=self.log)
        self.errlimit = ErrorRateLimiter(self.knobs)
        self.mld = Mld6(self.rng)
        self.events: deque[Any] = deque(maxlen=10000)
        #: The address selection policy table (``ip6addrctl``), RFC 6724's default.
        self.policy = PolicyTable()
        #: Static routes by prefix (``route add``); connected prefixes come from addresses.
        self.static_routes: dict[IPv6Network, Rtentry] = {}
        #: ``frag6``: fragment queues, 60 s timeout (RFC 8200 §4.5).
        self.reass = _core.Reassembler()
        self._reass_seen: dict[str, int] = {}
        #: The destination cache's path MTUs (RFC 8201), by destination: (mtu, expiry).
        self.pmtu: dict[IPv6Address, tuple[int, float]] = {}
        self._frag_ident = self.rng.getrandbits(32)
        self.rtr.route_lookup = self._first_hop
        #: Drop frames whose source MAC is ours (IFF_SIMPLEX, seed §1.2).
        self.drop_own_frames = True
        #: Take NS/NA frames through ``_core.nd6_input`` (see ``_nd6_input``);
        #: off, every frame takes the general path (the tests compare both).
        self.nd6_fastpath = True
        # ifname -> (the group set it was made from, the groups as ints), for
        # _nd6_input: IPv6Address hashing is Python code
        self._group_ints: dict[str, tuple[set[IPv6Address], frozenset[int]]] = {}
        self._out: list[Frame] = []
        self._now = 0.0
        #: IPsec (``kame.key.ipsec6.Ipsec6``: SPD, SAD, ipsec6 stats); see attach_key().
        self.key: Any = None

    # --- configuration ------------------------------------------------------

    def add_interface(self, name: str, mac: bytes | None = None, *,
                      type: IfType = IfType.ETHER, mtu: int = 1500) -> Ifnet:
        idx = self.zones.add(name)
        ifp = Ifnet(name, idx, type, mac, mtu)
        self.ifnets[name] = ifp
        self.groups[name] = set()
        self.cache.attach(name, 0.0, addrlen=ifp.addrlen, flags=ifp.flags)
        return ifp

    def up(self, name: str, now: float) -> list[Frame]:
        """``ifconfig NAME up``: link-local address, groups, DAD, RS."""
        self._now = now
        ifp = self.ifnets[name]
        ifp.up = True
        self.cache.info(name).recalc(now, self.rng)
        res = in6_ifattach(ifp, self.ifnets.values(), hostname=self.hostname,
                           router=self.knobs.forwarding,
                           auto_linklocal=bool(self.knobs["net.inet6.ip6.auto_linklocal"]),
                           now=now)
        if res.ifid is not None:
            self.ifids[name] = res.ifid
        for g in res.groups:
            self.join(name, g, now)
        for ifa in res.addresses:
            self.addrs.add(ifa)
            delay = self.rng.uniform(0.0, MAX_RTR_SOLICITATION_DELAY)
            self._handle(self.nbr.dad_start(ifa, now, delay), now)
        self._handle(self.rtr.start_rs(name, now), now)
        return self._flush()

    def add_address(self, name: str, cidr: str, now: float, *, anycast: bool = False) -> In6Ifaddr:
        """``ifconfig NAME inet6 ADDR/LEN [anycast]``: joins the solicited-node
        group and runs DAD."""
        net = IPv6Network(cidr, strict=False)
        addr = IPv6Address(cidr.split("/")[0])
        flags = In6Flags.ANYCAST if anycast else In6Flags.TENTATIVE
        ifa = self.addrs.add(In6Ifaddr(addr, net.prefixlen, name, flags, created=now))
        self.join(name, solicited_node(addr), now)
        self._handle(self.nbr.dad_start(ifa, now), now)
        return ifa

    def join(self, name: str, group: IPv6Address, now: float) -> None:
        """Join a multicast group; MLD reports follow (:mod:`kame.mld6`)."""
        gs = self.groups[name]
        if group in gs:
            return
        gs.add(group)
        self._group_ints.pop(name, None)
        self._handle(self.mld.join(name, group, now), now)

    def leave(self, name: str, group: IPv6Address, now: float) -> None:
        if group in self.groups.get(name, set()):
            self.groups[name].discard(group)
            self._group_ints.pop(name, None)
            self._handle(self.mld.leave(name, group, now), now)

    def _mld_output(self, a: SendMldReport) -> None:
        src = self._linklocal(a.ifname) or UNSPECIFIED
        if a.version == 2:
            recs = [_core.MldAddressRecord(t, g) for t, g in a.records]
            self._emit_mcast(a.ifname, IPv6Address("ff02::16"),
                             self._mld_packet(src, IPv6Address("ff02::16"), _core.Mldv2Report(recs)))
            return
        for _t, g in a.records:
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

    # --- sans-I/O surface ---------------------------------------------------

    def next_deadline(self) -> float | None:
        ts = [t for t in (self.cache.next_deadline(), self.nbr.next_deadline(),
                          self.rtr.next_deadline(), self.mld.next_deadline(),
                          self.reass.next_deadline(), self._pmtu_deadline()) if t is not None]
        if self.key is not None and (kt := self.key.next_deadline()) is not None:
            ts.append(kt)  # SA lifetimes (key_timehandler)
        return min(ts) if ts else None

    def poll(self, now: float) -> list[Frame]:
        self._now = now
        self._handle(self.nbr.poll(now), now)
        self._handle(self.cache.poll(now), now)
        self._handle(self.rtr.poll(now), now)
        self._handle(self.mld.poll(now), now)
        self.frag6_slowtimo(now)
        self._pmtu_expire(now)
        if self.key is not None:
            self.key.timehandler(self, now)
        return self._flush()

    def receive(self, ifname: str, frame: bytes, now: float) -> list[Frame]:
        self._now = now
        self._input(ifname, frame, now)
        return self._flush()

    def receive_many(self, ifname: str, frames: Iterable[bytes], now: float) -> list[Frame]:
        """:meth:`receive` for each frame in turn, all at ``now``; the NS/NA
        frames among them are parsed in one core call with the GIL released
        (``_core.nd6_input_many``). Returns every frame to transmit."""
        self._now = now
        frames = list(frames)
        ifp = self.ifnets.get(ifname)
        if ifp is None or not ifp.up or not self.nd6_fastpath:
            for f in frames:
                self._input(ifname, f, now)
            return self._flush()
        kv = self.knobs._values  # plain dict reads on the per-packet path
        nds = _core.nd6_input_many(frames, kv["net.inet6.ip6.hdrnestlimit"],
                                   kv["net.inet6.icmp6.nd6_maxndopt"],
                                   ifp.lladdr if self.drop_own_frames else None)
        for f, nd in zip(frames, nds):
            if nd is None or ifp.flags.disabled or not self._nd6_input(ifname, nd, now):
                self._input(ifname, f, now, False)
        return self._flush()

    def _flush(self) -> list[Frame]:
        out, self._out = self._out, []
        hist = self.stats.outhist
        for _ifn, f in out:  # icp6s_outhist: the ICMPv6 type of each frame sent
            n = len(f)
            if n > 54 and f[12] == 0x86 and f[13] == 0xDD:
                nh = f[20]
                if nh == 58:
                    t = f[54]
                elif n > 62 and nh == 0 and f[54] == 58:  # MLD behind a Hop-by-Hop header
                    t = f[62]
                elif n > 62 and nh == 44 and f[54] == 58 and f[56] == 0 and f[57] & 0xF8 == 0:
                    t = f[62]  # first fragment
                else:
                    continue
                hist[t] = hist.get(t, 0) + 1
        return out

    # --- input ----------------------------------------------------------------

    def _input(self, ifname: str, frame: bytes, now: float, fast: bool = True, *,
               again: bool = False) -> None:
        """``ip6_input``. ``again``: the payload of a transport-mode ESP/AH/
        IPComp packet already counted in ``ip6s_total`` (seed §4.3; a
        tunnel-mode inner packet is a new packet, counted again as in KAME)."""
        ifp = self.ifnets.get(ifname)
        if ifp is None or not ifp.up:
            return
        if fast and self.nd6_fastpath and not ifp.flags.disabled:
            kv = self.knobs._values  # plain dict reads on the per-packet path
            nd = _core.nd6_input(frame, kv["net.inet6.ip6.hdrnestlimit"],
                                 kv["net.inet6.icmp6.nd6_maxndopt"],
                                 ifp.lladdr if self.drop_own_frames else None)
            if nd is not None and self._nd6_input(ifname, nd, now):
                return
        eth = codec.parse_ether(frame)
        if eth is None:
            self.stats.inc("ip6s_toosmall")
            return
        _dmac, smac, etype, payload = eth
        if etype != codec.ETHERTYPE_IPV6:
            return
        if self.drop_own_frames and ifp.lladdr is not None and smac == ifp.lladdr:
            return
        if not again:
            self.stats.inc("ip6s_total")
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        try:
            v = _core.ip6_validate(payload, self.knobs["net.inet6.ip6.hdrnestlimit"])
        except KameError as e:
            self.ip6_input_error(ifname, payload, e, now)
            return
        hdr = v.header
        src, dst = hdr.src, hdr.dst
        if in6_clearscope(src)[1] or in6_clearscope(dst)[1]:
            self.stats.inc("ip6s_badscope")  # embedded zone form on the wire (§1.3.1)
            return
        if check_wire_addresses(src, dst, from_loopback=ifp.is_loopback) is not None:
            self.stats.inc("ip6s_badscope")
            return
        if is_multicast(dst):
            if dst not in self.groups.get(ifname, ()):
                self.stats.inc("ip6s_notmember")
                return
        else:
            ifa = self.addrs.find(ifname, dst)
            if ifa is None and not is_linklocal(dst):
                ifa = self.addrs.find_any(dst)  # BSD's weak host model
            if ifa is None and self.knobs.forwarding:
                if self.key is not None and self.key.in_reject(self, payload[:v.packet_len], v, now):
                    return
                self.ip6_forward(ifname, payload[:v.packet_len], v, bool(_dmac[0] & 1), now)
                return
            if ifa is None or ifa.duplicated:
                self.stats.inc("ip6s_cantforward")
                return
            if ifa.tentative:
                return  # RFC 4862 §5.4: only NS for DAD, which is multicast
        if v.chain.fragment is not None:
            rv = self.frag6_input(ifname, payload[:v.packet_len], now)
            if rv is None:
                return
            v, payload = rv
            hdr = v.header
        if self.key is not None and self.key.input(self, ifname, payload[:v.packet_len], v, smac,
                                                   now):
            return
        self.stats.inc("ip6s_delivered")
        chain = v.chain
        upper = chain.upper
        body = payload[chain.upper_offset:v.packet_len]
        if upper == 58:
            self._icmp6_input(ifname, hdr, body, payload[:v.packet_len], now)
        elif upper == 17 and self.udp6_input(ifname, hdr, body, now):
            pass  # a socket took it (kame.socket)
        elif upper == 17 and not is_multicast(dst):
            self._error(ifname, payload[:v.packet_len], src, dst, 17, None,
                        ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, now)
        elif upper not in (6, 17, 59) and self.rip6_input(ifname, hdr, upper, body, now):
            pass  # a raw socket of that protocol took it
        elif upper not in (6, 17, 59):
            # RFC 8200 §4: unrecognised Next Header -> Parameter Problem code 1,
            # pointer at the Next Header field that named it.
            self.stats.inc("ip6s_noproto")
            self._error(ifname, payload[:v.packet_len], src, dst, upper, None,
                        ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER, now,
                        pointer=chain.upper_nh_offset)

    def _nd6_input(self, ifname: str, nd: tuple[Any, ...], now: float) -> bool:
        """The NS/NA fast path: ``nd`` is what ``_core.nd6_input`` found in a
        frame that passed every check of the general path up to the ND
        state machines (validation, checksum, code, lengths, options,
        §1.14 and §1.3.1 addresses; see ``kame_core::nd6``). Here the rest of
        ``ip6_input``: the destination must be a group we joined or a usable
        address of ours, else False and the caller takes the general path,
        which counts the drop. Then the same counters and state machine
        calls as ``_input`` -> ``_icmp6_input``."""
        typ, src, dst, hlim, target, flags, ll, nonce, ignored = nd
        addr6, seen = codec.addr6, codec._ADDR6.get  # addr6's cache, read inline
        dsta = seen(dst) or addr6(dst)
        if (dst >> 120) == 0xFF:
            gs = self.groups.get(ifname)
            if gs is None:
                return False
            gi = self._group_ints.get(ifname)
            if gi is None or gi[0] is not gs or len(gi[1]) != len(gs):
                # made on first use; join/leave drop it, and a set changed
                # behind their back (down() discards) has another size
                gi = self._group_ints[ifname] = (gs, frozenset(g._ip for g in gs))
            if dst not in gi[1]:
                return False
        else:
            ifa = self.addrs.find(ifname, dsta)
            if ifa is None or ifa.flags._value_ & 0x06:  # TENTATIVE | DUPLICATED
                return False
        c = self.stats._c
        c["ip6s_total"] += 1
        c["ip6s_delivered"] += 1
        srca = seen(src) or addr6(src)
        tgta = seen(target) or addr6(target)
        if typ == 135:
            acts = self.nbr.ns_input_fields(ifname, srca, dsta, hlim, tgta, ll, nonce, 0,
                                            ignored, now)
        else:
            acts = self.nbr.na_input_fields(ifname, srca, dsta, hlim, tgta, flags & 0x80 != 0,
                                            flags & 0x40 != 0, flags & 0x20 != 0, ll, 0,
                                            ignored, now)
        if acts:
            self._handle(acts, now)
        return True

    def _icmp6_input(self, ifname: str, hdr: Any, body: bytes, packet: bytes, now: float) -> None:
        try:
            msg = _core.parse_icmpv6(body, hdr.src, hdr.dst,
                                     self.knobs["net.inet6.icmp6.nd6_maxndopt"])
        except KameError as e:
            self.icmp6_input_error(hdr, body, e, now)
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
                self.mld.query_input(ifname, msg.mcast_addr, msg.max_resp, msg.v2, now)
        elif isinstance(msg, _core.Icmpv6Error):
            self.icmp6_notify(ifname, hdr, msg, now)
        elif isinstance(msg, _core.Icmpv6Echo):
            if msg.type == 128:
                self._echo_reply(ifname, hdr, msg, now)
            else:
                self.events.append(EchoReply(ifname, hdr.src, msg.ident, msg.seq,
                                             bytes(msg.data), now))

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

    # --- errors -----------------------------------------------------------------

    def _error(self, ifname: str, invoking: bytes, src: IPv6Address, dst: IPv6Address,
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
            self._source_for(outif, src)
        if me is None:
            return
        err = _core.Icmpv6Error(etype, ecode, pointer, error_payload(invoking))
        self.output(outif, codec.build_icmp6_packet(me, src, err, 64), now, hop)

    # --- output -----------------------------------------------------------------

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

    def _source_for(self, ifname: str, dst: IPv6Address) -> IPv6Address | None:
        return self.in6_selectsrc(dst, ifname)

    def _emit_mcast(self, ifname: str, dst: IPv6Address, packet: bytes) -> None:
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        if not ifp.up:
            self.stats.inc("ip6s_odropped")  # ifconfig down
            return
        self.stats.inc("ip6s_localout")
        self._out.append((ifname, codec.ether(ether_multicast(dst), ifp.lladdr or bytes(6),
                                              packet)))

    def output(self, ifname: str, packet: bytes, now: float,
               next_hop: IPv6Address | None = None) -> None:
        """``ip6_output`` + ``nd6_output`` for one packet on ``ifname``."""
        if self.key is not None and self.key.output(self, ifname, packet, now, next_hop):
            return
        if packet[24] == 0xFF:  # multicast destination
            self._emit_mcast(ifname, IPv6Address(packet[24:40]), packet)
            return
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        hop = next_hop if next_hop is not None else IPv6Address(packet[24:40])
        ll, actions = self.cache.resolve(ifname, hop, (ifname, packet), now)
        if actions:
            self._handle(actions, now)
        if ll is not None:
            self.stats.inc("ip6s_localout")
            self._ether_out(ifname, ll, packet)

    def send(self, dst: IPv6Address, payload: bytes, next_header: int, now: float,
             ifname: str | None = None) -> bool:
        """Send an upper-layer payload; picks interface, next hop and source."""
        if ifname is None:
            rt = self.rtalloc(dst, now)
            if rt is None:
                self.stats.inc("ip6s_noroute")
                return False
            ifname, hop = rt.ifname, rt.next_hop
        else:
            hop = dst
        src = self._source_for(ifname, dst)
        if src is None:
            self.stats.inc("ip6s_sources_none")
            return False
        hdr = _core.Ipv6Header(src, dst, next_header=next_header,
                               hop_limit=self.cache.info(ifname).chlim, payload_len=len(payload))
        self.output(ifname, hdr.to_bytes() + payload, now, hop)
        return True

    def ping(self, dst: IPv6Address, now: float, *, ident: int = 0x4b4d, seq: int = 0,
             data: bytes = b"kame", ifname: str | None = None) -> list[Frame]:
        """Send one Echo Request (``ping6``)."""
        self._now = now
        if ifname is None and is_linklocal(dst):
            raise ValueError("a link-local destination needs an interface (fe80::...%if)")
        rt = self.rtalloc(dst, now) if not ifname else None
        nh = (ifname, dst) if ifname else (rt[:2] if rt is not None else None)
        if nh is not None:
            ifn = nh[0]
            src = self._source_for(ifn, dst)
            if src is not None:
                msg = _core.Icmpv6Echo(128, ident, seq, data)
                self.output(ifn, codec.build_icmp6_packet(src, dst, msg,
                                                          self.cache.info(ifn).chlim), now, nh[1])
        return self._flush()

    # --- source address selection (in6_src.c) ------------------------------

    def in6_selectsrc(self, dst: IPv6Address, ifname: str | None = None) -> IPv6Address | None:
        """RFC 6724 §5 over the node's addresses (§1.6.1 step 3).

        Candidates are usable (not tentative, duplicated or detached) and not
        anycast; an address whose zone does not contain the outgoing
        interface ``ifname`` is never chosen (§1.6.1: "addresses that break
        the scope zone of the destination"). ``None`` is EADDRNOTAVAIL.
        """
        if ifname is not None and (is_linklocal(dst) or (dst._ip >> 112) & 0xFF0F == 0xFF02):
            # Link scope: rule 2 leaves the link-locals of the outgoing
            # interface (its zone); with one usable, preferred one, it wins.
            lls = [ifa for ifa in self.addrs.on(ifname)
                   if is_linklocal(ifa.addr) and not ifa.flags._value_ & 0x1F]
            if len(lls) == 1:
                return lls[0].addr
        zones = self.zones
        cands: list[SourceCandidate] = []
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
            cands.append(SourceCandidate(
                ifa.addr, ifa.ifname, ifa.prefixlen, bool(fl & In6Flags.DEPRECATED),
                bool(fl & In6Flags.TEMPORARY), False, False,
                ifp is not None and ifp.up, ifp is not None and ifp.flags.prefer_source))
        c = rfc6724_select(dst, cands, outif=ifname, policy=self.policy,
                           use_deprecated=bool(self.knobs["net.inet6.ip6.use_deprecated"]),
                           prefer_tempaddr=bool(self.knobs["net.inet6.ip6.prefer_tempaddr"]))
        return c.addr if c is not None else None  # type: ignore[return-value]

    def sort_destinations(self, dsts: Iterable[IPv6Address | IPv4Address | tuple[IPv6Address, str]],
                          now: float) -> list[Destination]:
        """RFC 6724 §6 over this node's view (§1.6.2, what ``getaddrinfo``
        sorts with): each destination gets the source ``in6_selectsrc``
        picks on the interface its route leaves by (a link-local
        destination comes as ``(addr, ifname)``); no route or no source
        makes it unusable (rule 1). IPv4 destinations have no source here."""
        ds: list[Destination] = []
        for item in dsts:
            addr, ifname = item if isinstance(item, tuple) else (item, None)
            src: SourceCandidate | None = None
            if isinstance(addr, IPv6Address):
                if ifname is None and not is_linklocal(addr) and not is_multicast(addr):
                    rt = self.rtalloc(addr, now)
                    ifname = rt.ifname if rt is not None else None
                if ifname is not None and ifname in self.ifnets:
                    s = self.in6_selectsrc(addr, ifname)
                    ifa = self.addrs.find_any(s) if s is not None else None
                    if ifa is not None:
                        src = SourceCandidate(ifa.addr, ifa.ifname, ifa.prefixlen,
                                              bool(ifa.flags & In6Flags.DEPRECATED),
                                              bool(ifa.flags & In6Flags.TEMPORARY))
            ds.append(Destination(addr, src))
        return order_destinations(ds, policy=self.policy)

    # --- routing table ---------------------------------------------------------

    def route_add(self, prefix: str | IPv6Network, gateway: IPv6Address | str | None,
                  ifname: str) -> Rtentry:
        """``route add -inet6 PREFIX GATEWAY -ifp IFNAME`` (``gateway`` None:
        an interface route). A link-local gateway belongs to ``ifname``'s link."""
        if ifname not in self.ifnets:
            raise ValueError(f"no interface {ifname!r}")
        net = IPv6Network(prefix)
        gw = IPv6Address(gateway) if gateway is not None else None
        rt = Rtentry(net, gw, ifname)
        self.static_routes[net] = rt
        return rt

    def route_delete(self, prefix: str | IPv6Network) -> bool:
        return self.static_routes.pop(IPv6Network(prefix), None) is not None

    def _connected(self, now: float) -> list[tuple[IPv6Network, str]]:
        """Prefixes of our addresses and on-link prefixes from RAs (the
        "direct" routes ``netstat -rn`` shows with the U and C flags)."""
        out: list[tuple[IPv6Network, str]] = []
        for ifa in self.addrs.all():
            ifp = self.ifnets.get(ifa.ifname)
            if (ifp is None or not ifp.up or ifa.prefixlen >= 128 or is_linklocal(ifa.addr)
                    or ifa.flags._value_ & 0x0C):  # DUPLICATED | DETACHED
                continue
            out.append((IPv6Network((int(ifa.addr), ifa.prefixlen), strict=False), ifa.ifname))
        for (ifn, net), pr in self.rtr.prefixes.items():
            if pr.onlink and pr.expire > now:
                out.append((net, ifn))
        return out

    def rtalloc(self, dst: IPv6Address, now: float) -> Route | None:
        """The route to a global or site destination: a Redirect's host
        route, then the longest match among static and connected routes,
        then what ND learnt (RFC 4191 routes, the default router)."""
        rd = self.rtr.redirects.get(dst)
        if rd is not None and rd.expire > now:
            return Route(rd.ifname, rd.target, rd.target != dst, True)
        best: tuple[int, Route] | None = None
        for net, rt in self.static_routes.items():
            ifp = self.ifnets.get(rt.ifname)
            if ifp is not None and ifp.up and dst in net and (best is None
                                                              or net.prefixlen > best[0]):
                hop = rt.gateway if rt.gateway is not None else dst
                best = (net.prefixlen, Route(rt.ifname, hop, rt.gateway is not None, False))
        for net, ifn in self._connected(now):
            if dst in net and (best is None or net.prefixlen > best[0]):
                best = (net.prefixlen, Route(ifn, dst, False, False))
        if best is not None:
            return best[1]
        nh = self.rtr.next_hop(dst, now)
        if nh is None or not self.ifnets[nh[0]].up:
            return None
        return Route(nh[0], nh[1], nh[1] != dst, False)

    def _first_hop(self, dst: IPv6Address, now: float) -> tuple[str, IPv6Address] | None:
        rt = self.rtalloc(dst, now)
        return (rt.ifname, rt.next_hop) if rt is not None else None

    def routes(self, now: float | None = None) -> list[tuple[str, str, str]]:
        """``netstat -rn -f inet6``-like rows: (destination, gateway, interface)."""
        t = self._now if now is None else now
        rows = [(str(net), "link#" + str(self.ifnets[ifn].index), ifn)
                for net, ifn in self._connected(t)]
        rows += [(str(r.prefix), str(r.gateway) if r.gateway else "link#"
                  + str(self.ifnets[r.ifname].index), r.ifname)
                 for r in self.static_routes.values()]
        dr = self.rtr.installed
        if dr is not None:
            rows.append(("default", f"{dr.addr}%{dr.ifname}", dr.ifname))
        return rows

    def _is_neighbor(self, addr: IPv6Address, ifname: str, now: float) -> bool:
        """``nd6_is_addr_neighbor``: link-local on that link, inside an
        on-link prefix of the interface, or already in the neighbor cache."""
        if is_linklocal(addr):
            return True
        for net, ifn in self._connected(now):
            if ifn == ifname and addr in net:
                return True
        return self.cache.lookup(ifname, addr) is not None

    # --- structured errors to counters (ip6_input / icmp6_input drops) -------

    def ip6_input_error(self, ifname: str, payload: bytes, e: KameError, now: float) -> None:
        """A frame ``ip6_validate`` refused: count it by the error's class,
        ``layer`` and ``offset`` (never its text) and send the Parameter
        Problem the core asks for (``e.icmp``), as ``ip6_input`` does."""
        if isinstance(e, HeaderLimitError):
            self.stats.inc("ip6s_toomanyhdr")
            return
        if isinstance(e, TruncatedError):
            # Shorter than the fixed header, or than Payload Length says (§1.7).
            short_hdr = e.layer == "ipv6" and (e.needed or 0) <= 40
            self.stats.inc("ip6s_toosmall" if short_hdr else "ip6s_tooshort")
            return
        off = e.offset if e.offset is not None else -1
        if e.layer == "ipv6" and off == 0:
            self.stats.inc("ip6s_badvers")
            return
        if e.layer == "ipv6" and 8 <= off < 40:
            self.stats.inc("ip6s_badscope")  # §1.14 addresses the core refuses itself
            return
        self.stats.inc("ip6s_badoptions")
        if e.icmp is not None and len(payload) >= 40:
            src, dst = IPv6Address(payload[8:24]), IPv6Address(payload[24:40])
            # Hop-by-Hop options are every node's business; the others only
            # the destination's (a router does not answer for them).
            mine = e.layer == "hop-by-hop" or (dst in self.groups.get(ifname, ()) if
                                               is_multicast(dst) else
                                               self.addrs.find_any(dst) is not None)
            if mine and check_wire_addresses(src, dst) is None:
                self._error(ifname, payload, src, dst, payload[6], None, e.icmp.type,
                            e.icmp.code, now, pointer=e.icmp.pointer)

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

    # --- forwarding (ip6_forward.c) ------------------------------------------

    def _linkmtu(self, ifname: str) -> int:
        """``IN6_LINKMTU``: the RA-advertised MTU when set, else the interface's."""
        ifp = self.ifnets[ifname]
        lm = self.cache.info(ifname).linkmtu
        return min(lm, ifp.mtu) if lm else ifp.mtu

    def ip6_forward(self, ifname: str, packet: bytes, v: Any, ll_mcast: bool,
                    now: float) -> None:
        """Forward a packet not for us (``net.inet6.ip6.forwarding=1``)."""
        hdr = v.header
        src, dst = hdr.src, hdr.dst
        chain = v.chain
        itype = packet[chain.upper_offset] if chain.upper == 58 and \
            chain.upper_offset < len(packet) else None
        nh = packet[6]
        if ll_mcast or is_multicast(dst) or int(src) == 0 or is_linklocal(dst):
            # No multicast routing; never forward from :: (§1.14) nor to a
            # link-local destination, which cannot leave its link.
            self.stats.inc("ip6s_cantforward")
            self.log(now, "forward", f"cannot forward from {src} to {dst} nxt {nh} on {ifname}")
            return
        if hdr.hop_limit <= 1:
            self._error(ifname, packet, src, dst, nh, itype, ICMP6_TIME_EXCEEDED, 0, now)
            return
        rt = self.rtalloc(dst, now)
        if rt is None:
            self.stats.inc("ip6s_noroute")
            self._error(ifname, packet, src, dst, nh, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_NOROUTE, now)
            return
        # Source scope check (§1.3.1, in6_setscope with zone ids): beyond scope.
        ss = in6_addrscope(src)
        if self.zones.zone_of(ifname, ss) != self.zones.zone_of(rt.ifname, ss):
            self.stats.inc("ip6s_cantforward")
            self.stats.inc("ip6s_badscope")
            self._error(ifname, packet, src, dst, nh, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_BEYONDSCOPE, now)
            return
        ds = in6_addrscope(dst)
        if self.zones.zone_of(ifname, ds) != self.zones.zone_of(rt.ifname, ds):
            self.stats.inc("ip6s_cantforward")
            self.stats.inc("ip6s_badscope")
            return
        mtu = self._linkmtu(rt.ifname)
        if len(packet) > mtu:
            self._error(ifname, packet, src, dst, nh, itype, ICMP6_PACKET_TOO_BIG, 0, now,
                        pointer=mtu)
            return
        redirect = (rt.ifname == ifname and bool(self.knobs["net.inet6.ip6.redirect"])
                    and not rt.dynamic and not any(h[0] == 43 for h in chain.headers))
        if redirect and self.ifnets[ifname].is_p2p:
            # Back out of the p2p link it came in on: a loop (KAME ip6_forward).
            self._error(ifname, packet, src, dst, nh, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_ADDR, now)
            return
        out = bytearray(packet)
        out[7] -= 1
        self.stats.inc("ip6s_forward")
        self._forward_output(rt.ifname, bytes(out), now, rt.next_hop)
        if redirect:
            self.icmp6_redirect_output(ifname, packet, rt, now)

    def _forward_output(self, ifname: str, packet: bytes, now: float,
                        next_hop: IPv6Address) -> None:
        """``nd6_output`` for a forwarded packet (not ``ip6s_localout``)."""
        if self.key is not None and self.key.output(self, ifname, packet, now, next_hop):
            return
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled or not ifp.up:
            self.stats.inc("ip6s_cantforward")
            return
        ll, actions = self.cache.resolve(ifname, next_hop, (ifname, packet), now)
        if actions:
            self._handle(actions, now)
        if ll is not None:
            self._ether_out(ifname, ll, packet)

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

    # --- reassembly (frag6.c) ------------------------------------------------

    def _sync_reass(self) -> None:
        """Copy the reassembler's ip6stat counters into ``stats``."""
        for k, val in self.reass.stats.items():
            d = val - self._reass_seen.get(k, 0)
            if d and k in self.stats:
                self.stats.inc(k, d)
            self._reass_seen[k] = val

    def frag6_input(self, ifname: str, packet: bytes, now: float) -> tuple[Any, bytes] | None:
        """A fragment for us: queue it; the whole datagram, re-validated, when
        it completes (``(Ip6Validated, packet)``), else ``None``."""
        zone = self.ifnets[ifname].index
        o = self.reass.input_packet(packet, now, zone)
        self._sync_reass()
        kind = o.kind
        if kind == "not_fragment":
            pkt = packet
        elif kind == "reassembled":
            pkt = o.packet
        else:
            if kind == "answer" and o.icmp is not None:
                src, dst = IPv6Address(packet[8:24]), IPv6Address(packet[24:40])
                self._error(ifname, packet, src, dst, packet[6], None, o.icmp.type,
                            o.icmp.code, now, pointer=o.icmp.pointer)
            return None
        try:
            # The whole datagram, judged now (RFC 8200 §4.5): its removed
            # Fragment header counts toward hdrnestlimit as KAME counted it
            # (seed §1.8), and a Fragment header left in it is refused.
            v = _core.ip6_validate(pkt, self.knobs["net.inet6.ip6.hdrnestlimit"],
                                   reassembled=kind == "reassembled")
        except KameError as e:
            self.ip6_input_error(ifname, pkt, e, now)
            return None
        return v, pkt

    def frag6_slowtimo(self, now: float) -> None:
        """Expire fragment queues: Time Exceeded code 1 when the first
        fragment had arrived (RFC 8200 §4.5)."""
        if (d := self.reass.next_deadline()) is None or d > now:
            return
        for answer, invoking, zone in self.reass.expire(now):
            ifname = self.zones.by_index.get(zone)
            if ifname is None or ifname not in self.ifnets or not self.ifnets[ifname].up \
                    or len(invoking) < 40:
                continue
            src, dst = IPv6Address(invoking[8:24]), IPv6Address(invoking[24:40])
            self._error(ifname, invoking, src, dst, invoking[6], None, answer.type,
                        answer.code, now, pointer=answer.pointer)
        self._sync_reass()

    # --- ICMPv6 errors to upper layers, Path MTU (RFC 8201) --------------------

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
            self.pmtu_update(odst, msg.mtu, now)
        err = Icmp6ErrorInput(ifname, hdr.src, msg.type, msg.code, msg.param,
                              osrc, odst, inv[6], now)
        self.events.append(err)
        self.udp6_ctlinput(err, inv)

    def pmtu_update(self, dst: IPv6Address, mtu: int, now: float) -> bool:
        """RFC 8201 §4: lower the path MTU to ``dst`` (never below 1280, never
        raised by a PTB); kept for :data:`PMTU_EXPIRE` seconds."""
        mtu = max(mtu, IPV6_MMTU)
        cur = self.pmtu.get(dst)
        if cur is not None and cur[1] > now and mtu >= cur[0]:
            return False
        rt = self.rtalloc(dst, now) if not is_linklocal(dst) else None
        if cur is None and rt is not None and mtu >= self._linkmtu(rt.ifname):
            return False
        if len(self.pmtu) >= 4096 and dst not in self.pmtu:
            oldest = min(self.pmtu, key=lambda k: self.pmtu[k][1])
            del self.pmtu[oldest]
        self.pmtu[dst] = (mtu, now + PMTU_EXPIRE)
        self.stats.inc("icp6s_pmtuchg")
        self.events.append(PathMtuChanged(dst, mtu))
        return True

    def path_mtu(self, ifname: str, dst: IPv6Address, now: float | None = None) -> int:
        """The MTU to use towards ``dst`` out of ``ifname``."""
        t = self._now if now is None else now
        link = self._linkmtu(ifname)
        e = self.pmtu.get(dst)
        return min(link, e[0]) if e is not None and e[1] > t else link

    def _pmtu_deadline(self) -> float | None:
        return min((e[1] for e in self.pmtu.values()), default=None)

    def _pmtu_expire(self, now: float) -> None:
        for dst, (mtu, exp) in list(self.pmtu.items()):
            if exp <= now:
                del self.pmtu[dst]
                self.events.append(PathMtuChanged(dst, mtu, expired=True))

    def _ether_out(self, ifname: str, lladdr: bytes, packet: bytes) -> None:
        """Frame one resolved packet; our own packets larger than the path
        MTU are fragmented first (RFC 8200 §4.5), others must fit the link."""
        ifp = self.ifnets[ifname]
        if not ifp.up:
            self.stats.inc("ip6s_odropped")  # ifconfig down
            return
        me = ifp.lladdr or bytes(6)
        if len(packet) > IPV6_MMTU:
            ours = self.addrs.find_any(IPv6Address(packet[8:24])) is not None
            mtu = self.path_mtu(ifname, IPv6Address(packet[24:40])) if ours else \
                self._linkmtu(ifname)
            if len(packet) > mtu:
                if not ours:
                    self.stats.inc("ip6s_cantfrag")
                    return
                self._frag_ident = (self._frag_ident + 1) & 0xFFFFFFFF
                try:
                    frags = _core.fragment(packet, mtu, self._frag_ident)
                except KameError:
                    self.stats.inc("ip6s_cantfrag")
                    return
                self.stats.inc("ip6s_fragmented")
                self.stats.inc("ip6s_ofragments", len(frags))
                for f in frags:
                    self._out.append((ifname, codec.ether(lladdr, me, f)))
                return
        self._out.append((ifname, codec.ether(lladdr, me, packet)))

    # --- ifconfig down --------------------------------------------------------

    def down(self, name: str, now: float) -> list[Frame]:
        """``ifconfig NAME down``: detach the interface's addresses, leave its
        groups, flush its neighbor cache, the routers, prefixes, routes and
        redirects learnt there, and cancel its timers (DAD, RS, RA, MLD)."""
        self._now = now
        ifp = self.ifnets[name]
        ifp.up = False
        for ifa in self.addrs.on(name):
            self.nbr.dad_stop(ifa)
            self.addrs.remove(name, ifa.addr)
            self.events.append(Event("address_removed", name, {"addr": ifa.addr}))
        for g in list(self.groups.get(name, ())):
            self.groups[name].discard(g)
            self.mld.leave(name, g, now)  # no report: the link is down
        self.mld._if.pop(name, None)
        self.cache.flush(name)
        rtr = self.rtr
        for dr in [d for d in rtr.routers if d.ifname == name]:
            rtr.routers.remove(dr)
            if rtr.installed is dr:
                rtr.installed = None
            self.events.append(Event("router_removed", name, {"addr": dr.addr}))
        rtr.select_default_router()
        for key in [k for k in rtr.prefixes if k[0] == name]:
            del rtr.prefixes[key]
        for rkey in [k for k, r in rtr.routes.items() if r.ifname == name]:
            del rtr.routes[rkey]
        for dkey in [k for k in rtr.rdnss if k[0] == name]:
            del rtr.rdnss[dkey]
        for dst in [d for d, r in rtr.redirects.items() if r.ifname == name]:
            del rtr.redirects[dst]
        rtr._rs.pop(name, None)
        rtr._ra.pop(name, None)
        return self._flush()

    # --- actions from the state machines ------------------------------------

    def _handle(self, actions: Iterable[Any], now: float) -> None:
        for a in actions:
            if type(a) is SendNA:  # the answer to every NS comes first
                src = a.src if a.src is not None else self._source_for(a.ifname, a.dst)
                if src is not None:
                    self.output(a.ifname, codec.build_na(a, src, self.ifnets[a.ifname].lladdr),
                                now, a.dst)
            elif isinstance(a, SendMldReport):
                self._mld_output(a)
            elif isinstance(a, SendNS):
                src = a.src if a.src is not None else self._source_for(a.ifname, a.target)
                if src is None:
                    continue
                pkt = codec.build_ns(a, src, self.ifnets[a.ifname].lladdr)
                if a.dst_lladdr is not None:
                    ifp = self.ifnets[a.ifname]
                    self.stats.inc("ip6s_localout")
                    self._out.append((a.ifname, codec.ether(a.dst_lladdr, ifp.lladdr or bytes(6),
                                                            pkt)))
                else:
                    self._emit_mcast(a.ifname, a.dst, pkt)
            elif isinstance(a, SendNA):
                src = a.src if a.src is not None else self._source_for(a.ifname, a.dst)
                if src is None:
                    continue
                self.output(a.ifname, codec.build_na(a, src, self.ifnets[a.ifname].lladdr), now)
            elif isinstance(a, SendRS):
                self._emit_mcast(a.ifname, IPv6Address("ff02::2"),
                                 codec.build_rs(a, self.ifnets[a.ifname].lladdr))
            elif isinstance(a, SendRA):
                src = self._linklocal(a.ifname)
                if src is not None:
                    self._emit_mcast(a.ifname, a.dst,
                                     codec.build_ra(a, src, self.ifnets[a.ifname].lladdr))
            elif isinstance(a, DeliverQueued):
                for _ifn, pkt in a.packets:
                    self.stats.inc("ip6s_localout")
                    self._ether_out(a.ifname, a.lladdr, pkt)
            elif isinstance(a, DropQueued):
                for _ifn, pkt in a.packets:
                    src, dst = IPv6Address(pkt[8:24]), IPv6Address(pkt[24:40])
                    if self.addrs.find_any(src) is not None:
                        self.events.append(Event("unreachable", a.ifname, {"dst": dst}))
                        continue
                    self._error(a.ifname, pkt, src, dst, pkt[6], None, ICMP6_DST_UNREACH,
                                ICMP6_DST_UNREACH_ADDR, now)
            elif isinstance(a, AddressDuplicated):
                self.events.append(a)
                ifa = self.addrs.find(a.ifname, a.addr)
                if ifa is not None:
                    self._handle(self.rtr.on_duplicated(ifa, now), now)
            elif isinstance(a, InterfaceDisabled):
                self.events.append(a)
                self.cache.flush(a.ifname)
            elif isinstance(a, NeighborUnreachable):
                self.events.append(a)
                if a.is_router:
                    self.rtr.select_default_router()
            elif isinstance(a, Event) and a.kind == "address_added":
                self.events.append(a)
                self.join(a.ifname, solicited_node(a.data["addr"]), now)
            else:
                self.events.append(a)

    # --- IPsec (seed §4) -----------------------------------------------------------

    def attach_key(self) -> Any:
        """Give the node an SPD and SAD (``node.key``, :class:`kame.key.ipsec6.Ipsec6`);
        configure it with ``kame.key.setkey.run(text, node.key.engine, now)``."""
        if self.key is None:
            from kame.key.ipsec6 import Ipsec6
            self.key = Ipsec6(self.knobs)
        return self.key

    # --- views ----------------------------------------------------------------

    def addresses(self, ifname: str | None = None) -> list[In6Ifaddr]:
        return self.addrs.on(ifname) if ifname else self.addrs.all()

    def drain_events(self) -> list[Any]:
        out = list(self.events)
        self.events.clear()
        return out

    # --- sockets (kame.socket attaches itself as ``node.sockets``) ------------

    def udp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> bool:
        """A UDP datagram for us: True when a socket took it (or its
        checksum was bad, a counted drop); False means Port Unreachable."""
        so = getattr(self, "sockets", None)
        return so is not None and bool(so.udp6_input(ifname, hdr, body, now))

    def rip6_input(self, ifname: str, hdr: Any, nh: int, body: bytes, now: float) -> bool:
        """Hand a copy of an upper-layer packet to the raw sockets of ``nh``."""
        so = getattr(self, "sockets", None)
        if so is None:
            return False
        idx = self.ifnets[ifname].index if ifname in self.ifnets else 0
        return bool(so.rip6_input(hdr.src, hdr.dst, nh, body, hdr.hop_limit,
                                  hdr.traffic_class, idx))

    def udp6_ctlinput(self, err: Icmp6ErrorInput, invoking: bytes) -> None:
        """An ICMPv6 error reaches the sockets (``udp6_ctlinput``)."""
        so = getattr(self, "sockets", None)
        if so is not None:
            so.ctlinput(err, invoking)
