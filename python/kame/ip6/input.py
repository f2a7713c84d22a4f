"""``ip6_input.c`` and ``frag6.c``: validation by the core, the §1.14 and
§1.3.1 address checks, delivery or forwarding, reassembly, the NS/NA
fast path, and the structured errors mapped to BSD counters.

AH and ESP (RFC 4302 §3.4.2, RFC 4303 §3.4.2: no SA, no delivery) are
judged where they stand in the chain: an AH header before any Fragment
header before reassembly, and before any fault in the headers it protects.
With a key engine (``Node.attach_key``) they are opened or dropped
(``in_nosa``); without one the node is a node without IPsec, as the Linux
kernel with AH and ESP compiled out and KAME without ``options IPSEC``:
an unknown protocol, Parameter Problem code 1 at the Next Header field
naming it, ``ip6s_noproto`` (:meth:`Ip6Input.ip6_noproto`)."""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from kame import _core
from kame._core import Ipv6Header
from kame.addr import check_wire_addresses, is_linklocal, is_multicast
from kame.errors import HeaderLimitError, KameError, TruncatedError
from kame.icmp6 import (
    ICMP6_DST_UNREACH,
    ICMP6_DST_UNREACH_NOPORT,
    ICMP6_PARAM_PROB,
    ICMP6_PARAMPROB_NEXTHEADER,
)
from kame.ip6.forward import Ip6Forward
from kame.nd6 import codec
from kame.scope6 import in6_clearscope


def ah_position(chain: Any) -> tuple[int, int] | None:
    """The first AH header of ``chain`` that comes before any Fragment
    header: (its offset, the offset of the Next Header field naming it);
    ``None`` when there is none. After a Fragment header AH is in the
    fragmentable part, judged once the datagram is reassembled."""
    prev = 6
    for nh, off, _n in chain.headers:
        if nh == 51:
            return off, prev
        if nh == 44:
            return None
        prev = off
    if chain.upper == 51:  # a lax walk that stopped in AH
        return chain.upper_offset, chain.upper_nh_offset
    return None


def ah_before(packet: bytes, offset: int) -> tuple[int, int] | None:
    """Whether a packet that ``ip6_validate`` refused at ``offset`` has an
    AH header before that point (and before any Fragment header):
    :func:`ah_position` of the chain walked up to ``offset`` only, the
    headers the validator had already passed."""
    if offset <= 40:
        return None
    try:
        chain = _core.walk(packet[:offset], 0, lax=True)
    except KameError:
        return None
    return ah_position(chain)


def received(packet: bytes, chain: Any) -> tuple[tuple[int, bytes], ...]:
    """The Hop-by-Hop, Destination options and Routing headers of a packet
    for us, in order, as ``(Next Header value, header)``: what RFC 3542's
    receive options hand to a socket (``ip6_savecontrol``)."""
    return tuple((t, bytes(packet[off:off + ln])) for t, off, ln in chain.headers
                 if t in (0, 43, 60))


#: MLDv1 Report and Done, MLDv2 Report: the ICMPv6 types a querier takes to
#: any address (RFC 2710 §3, RFC 3810 §5.2).
_MLD_LISTENER = (b"\x83", b"\x84", b"\x8f")


class Ip6Input(Ip6Forward):
    """Input paths of the node."""

    def ip6_input(self, ifname: str, frame: bytes, now: float, fast: bool = True, *,
               again: bool = False, mloop: bool = False) -> None:
        """``ip6_input``. ``again``: the payload of a transport-mode ESP/AH/
        IPComp packet already counted in ``ip6s_total`` (seed §4.3; a
        tunnel-mode inner packet is a new packet, counted again as in KAME).
        ``mloop``: a multicast copy the router looped to its own members on
        ``ifname`` (``ip6_mloopback``, :mod:`kame.ip6.mroute`): our own
        frame, and not forwarded again."""
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
        if self.drop_own_frames and ifp.lladdr is not None and smac == ifp.lladdr and not mloop:
            return
        if not again:
            self.stats._c["ip6s_total"] += 1
        if ifp.flags.disabled:
            self.stats.inc("ip6s_ifdisabled")
            return
        limit = self.knobs["net.inet6.ip6.hdrnestlimit"]
        try:
            # RFC 8200 §4, as KAME's ip6_input: the IPv6 header and the
            # Hop-by-Hop header are every node's; the other extension
            # headers only the destination's, judged below once the packet
            # is known to be ours (KAME's nxt loop).
            v = _core.ip6_validate(payload, limit, transit=True)
        except KameError as e:
            self.ip6_input_error(ifname, payload, e, now, smac)
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
            fwd = False
            if self.mldr._if and not mloop:  # a router's links with listening state
                fwd = self.ip6_mforward(ifname, payload[:v.packet_len], v, now)  # kame.ip6.mroute
            if dst not in self.groups.get(ifname, ()) and not (
                    v.chain.upper == 58 and ifname in self.mldr._if and
                    payload[v.chain.upper_offset:v.chain.upper_offset + 1] in _MLD_LISTENER):
                # a querier hears Reports and Dones to every address (the
                # multicast promiscuity of a router); icmp6_input takes only MLD.
                # Forwarded is not "not a member" (KAME's ip6_input counts it
                # only without ip6_mrouter): neither ours nor forwarded is.
                if not fwd:
                    self.stats.inc("ip6s_notmember")
                return
        else:
            ifa = self.addrs.find(ifname, dst)
            if ifa is None and not is_linklocal(dst):
                ifa = self.addrs.find_any(dst)  # BSD's weak host model
            if ifa is None and self.faith_prefixes and v.chain.upper == 6 and \
                    self.knobs._values["net.inet6.ip6.keepfaith"] and \
                    any(dst in net for net in self.faith_prefixes):
                pass  # FAITH (seed §3.1): TCP to the relay prefix is faithd's (kame.faith)
            elif ifa is None and self.knobs.forwarding:
                if self.key is not None and self.key.in_reject(self, payload[:v.packet_len], v, now):
                    return
                self.ip6_forward(ifname, payload[:v.packet_len], v, bool(_dmac[0] & 1), now)
                return
            elif ifa is None or ifa.duplicated:
                self.stats.inc("ip6s_cantforward")
                return
            elif ifa.tentative:
                return  # RFC 4862 §5.4: only NS for DAD, which is multicast
        chain = v.chain
        if chain.truncated or any(h[0] != 0 for h in chain.headers):
            # Ours, with headers past Hop-by-Hop: now they are judged. (With
            # none, the whole validation would find what the first did.)
            try:
                v = _core.ip6_validate(payload, limit)
            except KameError as e:
                self.ip6_input_error(ifname, payload, e, now, smac)
                return
            chain = v.chain
        ah = self._ah(payload, chain)
        if ah is None and chain.fragment is not None:
            rv = self.frag6_input(ifname, payload[:v.packet_len], now)
            if rv is None:
                return
            v, payload = rv
            hdr, chain = v.header, v.chain
            ah = self._ah(payload, chain)
        if self.key is not None:
            if self.key.input(self, ifname, payload[:v.packet_len], v, smac, now):
                return
        elif ah is not None:
            self.stats.inc("ip6s_delivered")
            self.ip6_noproto(ifname, payload[:v.packet_len], hdr, 51, ah[0], ah[1], chain, now)
            return
        coa = None
        if v.home_address is not None:
            # RFC 6275 §9.3.1 (kame.mip6): a binding, or a Binding Update;
            # then the home address is the source for the upper layers
            mip = self.mip6.hao_input(ifname, payload[:v.packet_len], v, chain, now)
            if mip is None:
                return
            payload, hdr, coa = mip
            src = hdr.src
        self.stats._c["ip6s_delivered"] += 1
        upper = chain.upper
        body = payload[chain.upper_offset:v.packet_len]
        if upper == 58:
            self.icmp6_input(ifname, hdr, body, payload[:v.packet_len], now)
        elif upper == 6:
            self.tcp6_input(ifname, hdr, body, now)  # kame.tcp (issue 9)
        elif upper == 17 and self.udp6_input(ifname, hdr, body, now, received(
                payload, chain) if chain.upper_offset != 40 else ()):
            pass  # a socket took it (kame.socket)
        elif upper == 17 and not is_multicast(dst):
            self.icmp6_error(ifname, payload[:v.packet_len], src, dst, 17, None,
                        ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, now)
        elif upper in (4, 41) and not is_multicast(dst) and (self.gif.encap6_input(
                ifname, payload[:v.packet_len], src, dst, now) or upper == 41 and
                self.mip6.tunnel_input(ifname, payload[:v.packet_len], src, dst, now)):
            pass  # a gif tunnel took it (kame.gif), or a Mobile IPv6 one (kame.mip6)
        elif upper == 135 and self.knobs._values["net.inet6.mip6.correspondent"]:
            self.mip6.mh_input(ifname, hdr, body, chain.upper_offset, coa,
                               payload[:v.packet_len], now)  # kame.mip6
        elif upper not in (6, 17, 59):
            self.ip6_noproto(ifname, payload[:v.packet_len], hdr, upper, chain.upper_offset,
                             chain.upper_nh_offset, chain, now)

    @staticmethod
    def _ah(packet: bytes, chain: Any) -> tuple[int, int] | None:
        """:func:`ah_position`, after a quick look for a 51 among the octets
        of the headers (most packets with extension headers carry no AH)."""
        uo = chain.upper_offset
        if uo == 40 or (packet[6] != 51 and bytes(packet).find(b"\x33", 40, uo) < 0):
            return None
        return ah_position(chain)

    def ip6_noproto(self, ifname: str, packet: bytes, hdr: Any, nh: int, off: int,
                    nh_off: int, chain: Any, now: float) -> None:
        """A protocol the node does not implement (``ip6_protox[nh]`` is
        ``rip6_input``): the raw sockets of ``nh`` take it, else RFC 8200 §4:
        Parameter Problem code 1 with the pointer at the Next Header field
        that named it (``nh_off``), counted in ``ip6s_noproto``.

        Without a key engine (``key`` None) AH (51) and ESP (50) come here
        too: the node is then a node without IPsec, like the Linux kernel
        with ESP and AH compiled out and a KAME kernel without ``options
        IPSEC``, and answers as they do. The error rules (RFC 4443 §2.4 e)
        look at the upper layer behind AH (``chain``), as KAME's
        ``ip6_lasthdr`` and Linux's ``ipv6_skip_exthdr`` do: no error about
        an ICMPv6 error."""
        ext = received(packet, chain) if chain is not None and off != 40 else ()
        if self.rip6_input(ifname, hdr, nh, packet[off:], now, ext):
            return  # a raw socket of that protocol took it
        self.stats.inc("ip6s_noproto")
        upper, uoff = (chain.upper, chain.upper_offset) if chain is not None else (nh, off)
        itype = packet[uoff] if upper == 58 and uoff < len(packet) else None
        self.icmp6_error(ifname, packet, hdr.src, hdr.dst, upper, itype, ICMP6_PARAM_PROB,
                         ICMP6_PARAMPROB_NEXTHEADER, now, pointer=nh_off)

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
                gi = self._group_ints[ifname] = (gs, frozenset(g._ip for g in gs))  # type: ignore[attr-defined]
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

    def ip6_input_error(self, ifname: str, payload: bytes, e: KameError, now: float,
                        smac: bytes = bytes(6)) -> None:
        """A frame ``ip6_validate`` refused: count it by the error's class,
        ``layer`` and ``offset`` (never its text) and send the Parameter
        Problem the core asks for (``e.icmp``), as ``ip6_input`` does.

        Headers are processed in order, so a fault behind an AH header
        addressed to us is never reached: AH is judged first (with a key
        engine: opened, or dropped for want of an SA; without one: an
        unknown protocol, see :meth:`ip6_noproto`)."""
        off = e.offset if e.offset is not None else -1
        if self.mip6.mn is not None and off > 40 and \
                self.mip6.mn.rh2_input(ifname, payload, off, smac, now):
            return  # a type 2 routing header for the mobile node (RFC 6275 §11.3.3)
        if off > 40 and len(payload) >= 40 and (ah := ah_before(payload, off)) is not None:
            dst = IPv6Address(payload[24:40])
            if (dst in self.groups.get(ifname, ()) if is_multicast(dst)
                    else self.addrs.find_any(dst) is not None):
                if self.key is not None:
                    self.key.input_at(self, ifname, payload, dst, "ah", ah[0], smac, now)
                else:
                    self.stats.inc("ip6s_delivered")
                    self.ip6_noproto(ifname, payload, Ipv6Header.from_bytes(payload), 51,
                                     ah[0], ah[1], None, now)
                return
        if isinstance(e, HeaderLimitError):
            self.stats.inc("ip6s_toomanyhdr")
            return
        if isinstance(e, TruncatedError):
            # Shorter than the fixed header, or than Payload Length says (§1.7).
            short_hdr = e.layer == "ipv6" and (e.needed or 0) <= 40
            self.stats.inc("ip6s_toosmall" if short_hdr else "ip6s_tooshort")
            return
        if e.layer == "ipv6" and off == 0:
            self.stats.inc("ip6s_badvers")
            return
        if e.layer == "ipv6" and 8 <= off < 40:
            self.stats.inc("ip6s_badscope")  # §1.14 addresses the core refuses itself
            return
        self.stats.inc("ip6s_badoptions")
        if e.icmp is not None and len(payload) >= 40:
            src, dst = IPv6Address(payload[8:24]), IPv6Address(payload[24:40])
            # The IPv6 header (its jumbogram rule) and Hop-by-Hop options are
            # every node's business; the others only the destination's,
            # judged only for packets of ours (RFC 8200 §4).
            mine = e.layer in ("hop-by-hop", "ipv6") or (
                dst in self.groups.get(ifname, ()) if is_multicast(dst)
                else self.addrs.find_any(dst) is not None)
            if mine and check_wire_addresses(src, dst) is None:
                self.icmp6_error(ifname, payload, src, dst, payload[6], None, e.icmp.type,
                            e.icmp.code, now, pointer=e.icmp.pointer)

    def _sync_reass(self) -> None:
        """Copy the reassembler's ip6stat counters into ``stats``."""
        for k, val in self.reass.stats.items():
            d = val - self._reass_seen.get(k, 0)
            if d and k in self.stats:
                self.stats.inc(k, d)
            self._reass_seen[k] = val

    def _reass_knobs(self) -> tuple[int, int, int]:
        kv = self.knobs._values
        return (kv["net.inet6.ip6.maxfragpackets"], kv["net.inet6.ip6.maxfragsperpacket"],
                kv["net.inet6.ip6.maxfragbytes"])

    def frag6_input(self, ifname: str, packet: bytes, now: float) -> tuple[Any, bytes] | None:
        """A fragment for us: queue it; the whole datagram, re-validated, when
        it completes (``(Ip6Validated, packet)``), else ``None``. Past
        ``maxfragpackets`` datagrams, ``maxfragsperpacket`` fragments of one
        or ``maxfragbytes`` octets held, the reassembler drops the oldest
        datagram (``ip6s_fragoverflow``); :meth:`frag6_slowtimo` applies
        changes of those knobs."""
        zone = self.ifnets[ifname].index
        o = self.reass.input_packet(packet, now, zone)
        self.gate.arm(self.reass.next_deadline())
        self._sync_reass()
        kind = o.kind
        if kind == "not_fragment":
            pkt = packet
        elif kind == "reassembled":
            pkt = o.packet
        else:
            if kind == "answer" and o.icmp is not None:
                src, dst = IPv6Address(packet[8:24]), IPv6Address(packet[24:40])
                self.icmp6_error(ifname, packet, src, dst, packet[6], None, o.icmp.type,
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
        fragment had arrived (RFC 8200 §4.5); apply the reassembly knobs."""
        kv = self.knobs._values  # (_reass_knobs inline: every poll asks)
        cfg = (kv["net.inet6.ip6.maxfragpackets"], kv["net.inet6.ip6.maxfragsperpacket"],
               kv["net.inet6.ip6.maxfragbytes"])
        if cfg != self._reass_cfg:
            self._reass_cfg = cfg
            self.reass.max_queues, self.reass.max_frags_per_queue, self.reass.max_bytes = cfg
        if (d := self.reass.next_deadline()) is None or d > now:
            return
        for answer, invoking, zone in self.reass.expire(now):
            ifname = self.zones.by_index.get(zone)
            if ifname is None or ifname not in self.ifnets or not self.ifnets[ifname].up \
                    or len(invoking) < 40:
                continue
            src, dst = IPv6Address(invoking[8:24]), IPv6Address(invoking[24:40])
            self.icmp6_error(ifname, invoking, src, dst, invoking[6], None, answer.type,
                        answer.code, now, pointer=answer.pointer)
        self._sync_reass()
