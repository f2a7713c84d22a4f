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
``Node.stats`` (``ip6s_*``, ``icp6s_*``).

Not yet here (see the report in the repository history): forwarding,
MLD queriers (the listener side is :mod:`kame.mld6`), fragments, the
destination cache, sockets, IPsec.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kame import _core
from kame.addr import (
    UNSPECIFIED,
    check_wire_addresses,
    ether_multicast,
    is_linklocal,
    is_multicast,
    solicited_node,
)
from kame.errors import HeaderLimitError, KameError, TruncatedError
from kame.icmp6 import (
    ICMP6_DST_UNREACH,
    ICMP6_DST_UNREACH_ADDR,
    ICMP6_DST_UNREACH_NOPORT,
    ICMP6_PARAM_PROB,
    ICMP6_PARAMPROB_NEXTHEADER,
    ErrorRateLimiter,
    Invoking,
    error_payload,
    may_send_error,
)
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
from kame.scope6 import ZoneTable, in6_clearscope
from kame.stats import Stats

__all__ = ["EchoReply", "Node"]

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
        #: Drop frames whose source MAC is ours (IFF_SIMPLEX, seed §1.2).
        self.drop_own_frames = True
        #: Take NS/NA frames through ``_core.nd6_input`` (see ``_nd6_input``);
        #: off, every frame takes the general path (the tests compare both).
        self.nd6_fastpath = True
        # ifname -> (the group set it was made from, the groups as ints)
        self._group_ints: dict[str, tuple[set[IPv6Address], frozenset[int]]] = {}
        self._out: list[Frame] = []
        self._now = 0.0

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
                          self.rtr.next_deadline(), self.mld.next_deadline()) if t is not None]
        return min(ts) if ts else None

    def poll(self, now: float) -> list[Frame]:
        self._now = now
        self._handle(self.nbr.poll(now), now)
        self._handle(self.cache.poll(now), now)
        self._handle(self.rtr.poll(now), now)
        self._handle(self.mld.poll(now), now)
        return self._flush()

    def receive(self, ifname: str, frame: bytes, now: float) -> list[Frame]:
        self._now = now
        self._input(ifname, frame, now)
        out, self._out = self._out, []  # _flush, inline: once per frame
        return out

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
        return out

    # --- input ----------------------------------------------------------------

    def _input(self, ifname: str, frame: bytes, now: float, fast: bool = True) -> None:
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
        self.stats.inc("ip6s_total")
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        try:
            v = _core.ip6_validate(payload, self.knobs["net.inet6.ip6.hdrnestlimit"])
        except HeaderLimitError:
            self.stats.inc("ip6s_toomanyhdr")
            return
        except TruncatedError:
            self.stats.inc("ip6s_toosmall")
            return
        except KameError as e:
            # The core refuses some addresses itself (§1.14: mapped, multicast
            # source, unspecified destination), at offsets 8..39 of the header.
            text = str(e)
            if "version" in text:
                self.stats.inc("ip6s_badvers")
            elif e.offset is not None and 8 <= e.offset < 40:
                self.stats.inc("ip6s_badscope")
            else:
                self.stats.inc("ip6s_badoptions")
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
            if ifa is None or ifa.duplicated:
                self.stats.inc("ip6s_cantforward")
                return
            if ifa.tentative:
                return  # RFC 4862 §5.4: only NS for DAD, which is multicast
        self.stats.inc("ip6s_delivered")
        chain = v.chain
        upper = chain.upper
        body = payload[chain.upper_offset:v.packet_len]
        if upper == 58:
            self._icmp6_input(ifname, hdr, body, payload[:v.packet_len], now)
        elif upper == 17 and not is_multicast(dst):
            self._error(ifname, payload[:v.packet_len], src, dst, 17, None,
                        ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, now)
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
            if gi is None or gi[0] is not gs:  # made on first use; join/leave drop it
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
        except TruncatedError:
            self.stats.inc("icp6s_tooshort")
            return
        except KameError as e:
            text = str(e)
            t = body[0] if body else -1
            if "checksum" in text:
                self.stats.inc("icp6s_checksum")
            elif "code" in text:
                self.stats.inc("icp6s_badcode")
            elif "option" in text:
                self.stats.inc("icp6s_nd_badopt")
                if t in _ICMP_BAD:
                    self.stats.inc(_ICMP_BAD[t])
            else:
                self.stats.inc(_ICMP_BAD.get(t, "icp6s_badlen"))
            self.log(now, "icmp6", f"ICMPv6 from {hdr.src} refused: {e}")
            return
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
        self.output(ifname, codec.build_icmp6_packet(src, hdr.src, reply,
                                                     self.cache.info(ifname).chlim), now)

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
        me = dst if not is_multicast(dst) and self.addrs.find_any(dst) else \
            self._source_for(ifname, src)
        if me is None:
            return
        err = _core.Icmpv6Error(etype, ecode, pointer, error_payload(invoking))
        self.output(ifname, codec.build_icmp6_packet(me, src, err, 64), now)

    # --- output -----------------------------------------------------------------

    def _linklocal(self, ifname: str) -> IPv6Address | None:
        for ifa in self.addrs.on(ifname):
            if is_linklocal(ifa.addr) and ifa.usable:
                return ifa.addr
        return None

    def _source_for(self, ifname: str, dst: IPv6Address) -> IPv6Address | None:
        """A small stand-in for in6_selectsrc: same scope, usable, not
        deprecated if possible, longest common prefix."""
        if is_linklocal(dst) or is_multicast(dst):
            return self._linklocal(ifname)
        best = None
        for ifa in self.addrs.on(ifname):
            if not ifa.usable or is_linklocal(ifa.addr) or ifa.flags & In6Flags.ANYCAST:
                continue
            key = (not ifa.flags & In6Flags.DEPRECATED,
                   (int(ifa.addr) ^ int(dst)).bit_length() * -1)
            if best is None or key > best[0]:
                best = (key, ifa.addr)
        return best[1] if best else self._linklocal(ifname)

    def _emit_mcast(self, ifname: str, dst: IPv6Address, packet: bytes) -> None:
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        self.stats.inc("ip6s_localout")
        self._out.append((ifname, codec.ether(ether_multicast(dst), ifp.lladdr or bytes(6),
                                              packet)))

    def output(self, ifname: str, packet: bytes, now: float,
               next_hop: IPv6Address | None = None) -> None:
        """``ip6_output`` + ``nd6_output`` for one packet on ``ifname``."""
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
            self.stats._c["ip6s_localout"] += 1  # stats.inc, inline: once per packet out
            self._out.append((ifname, codec.ether(ll, ifp.lladdr or bytes(6), packet)))

    def send(self, dst: IPv6Address, payload: bytes, next_header: int, now: float,
             ifname: str | None = None) -> bool:
        """Send an upper-layer payload; picks interface, next hop and source."""
        if ifname is None:
            nh = self.rtr.next_hop(dst, now)
            if nh is None:
                self.stats.inc("ip6s_noroute")
                return False
            ifname, hop = nh
        else:
            hop = dst
        src = self._source_for(ifname, dst)
        if src is None:
            self.stats.inc("ip6s_noroute")
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
        nh = (ifname, dst) if ifname else self.rtr.next_hop(dst, now)
        if nh is not None:
            ifn = nh[0]
            src = self._source_for(ifn, dst)
            if src is not None:
                msg = _core.Icmpv6Echo(128, ident, seq, data)
                self.output(ifn, codec.build_icmp6_packet(src, dst, msg,
                                                          self.cache.info(ifn).chlim), now, nh[1])
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
                ifp = self.ifnets[a.ifname]
                for _ifn, pkt in a.packets:
                    self.stats.inc("ip6s_localout")
                    self._out.append((a.ifname, codec.ether(a.lladdr, ifp.lladdr or bytes(6), pkt)))
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

    # --- views ----------------------------------------------------------------

    def addresses(self, ifname: str | None = None) -> list[In6Ifaddr]:
        return self.addrs.on(ifname) if ifname else self.addrs.all()

    def drain_events(self) -> list[Any]:
        out = list(self.events)
        self.events.clear()
        return out

