"""The IPv6-to-IPv4 translator as a node role (seed §3.2, issue 13): a
stateful NAT64 (RFC 6146) over the RFC 7915 header translator of the Rust
core (``kame._core.Xlat``), or the stateless translator alone (RFC 7915
with RFC 6052 and EAMs, RFC 7757).

:class:`Nat64` is sans-I/O: :meth:`Nat64.translate6` and
:meth:`Nat64.translate4` take a packet and ``now`` and return the packets
to send (IPv4 or IPv6, translated or an ICMP error back); every refusal is
a counter in :attr:`Nat64.stats` (``xlats_*`` from the core, ``nat64_*``
from the tables). :meth:`Nat64.attach` makes a node a translator: IPv6
packets it would forward to the prefix, and IPv4 packets it would forward
to the pool, are translated and sent out the other family's route.

Translator categories of seed §3: A (an IPv6 host in an IPv6 island opens
connections to IPv4 hosts) and D (the same from the IPv6 ocean to an IPv4
island) with stateful NAT64; B and C (IPv4 hosts reaching IPv6 hosts) with
the stateless translator and EAMs, where each IPv6 server has an explicit
IPv4 address (``stateful=False``, or EAM entries beside the NAT64's pool).
DNS64 (RFC 6147) synthesis is :func:`kame.nat64.dns64.synthesize`.

Fragments (RFC 6146 §3.4, RFC 7915 §4.1/§5.1): the translator reassembles
them first, with the core's bounded reassemblers (``_core.Reassembler``
for IPv6, ``_core.IpReassembler`` for IPv4: timeouts, byte and queue
bounds, overlaps refused), so a non-first fragment finds its flow and a
fragmented ICMP message its checksum; the whole packet is translated and
fragmented again for the other side (IPv4 with DF clear to ``mtu4``, IPv6
with a Fragment header to ``lowest_mtu6``). Hairpinning (RFC 6146 §3.8):
an IPv4 packet the translation sends to the pool is taken in again as if
it had arrived from the IPv4 side. RFC 6791: ICMP errors from routers
whose addresses have no mapping take a source from ``pool6791v6`` (IPv4
router, ICMPv6 out) or ``pool6791v4`` (IPv6 router, ICMPv4 out).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from kame import _core
from kame.errors import KameError
from kame.nat64.session import TIMEOUTS, Bib, Nat64State, Session, TcpState

__all__ = ["NAT64_STATS", "TIMEOUTS", "Bib", "Nat64", "Nat64State", "Session", "TcpState"]

#: ``netstat -s -p nat64``: the translator's and the tables' counters, in
#: the order and words netstat prints them (BSD style: ``xlats_*`` the
#: RFC 7915 translator, ``nat64_*`` the RFC 6146 tables and fragments).
NAT64_STATS: dict[str, str] = {
    "xlats_6to4": "packets translated IPv6 to IPv4",
    "xlats_4to6": "packets translated IPv4 to IPv6",
    "xlats_icmperr_sent": "ICMP errors sent back by the translator",
    "xlats_tooshort": "packets too short",
    "xlats_badhdr": "packets with a bad header",
    "xlats_badsum": "IPv4 header checksum errors",
    "xlats_badicmpsum": "ICMP checksum errors",
    "xlats_nomap_src": "with no mapping for the source",
    "xlats_nomap_dst": "with no mapping for the destination",
    "xlats_badaddr": "with addresses never translated",
    "xlats_wkp_private": "private IPv4 under the well-known prefix (RFC 6052 §3.1)",
    "xlats_bad_uoctet": "with a non-zero u octet (RFC 6052 §2.2)",
    "xlats_timxceed": "hop limit exceeded",
    "xlats_toobig": "too big for the next hop (Packet Too Big / Needs Fragmentation sent)",
    "xlats_srcroute": "with an IPv4 source route",
    "xlats_rthdr": "with a routing header left to process",
    "xlats_hdrnest": "with too many extension headers",
    "xlats_icmp_type": "ICMP types with no counterpart",
    "xlats_icmp_nested": "ICMP errors quoting ICMP errors",
    "xlats_icmp_frag": "fragmented ICMP messages",
    "xlats_icmp_pointer": "parameter problems with no pointer counterpart",
    "xlats_udp0_frag": "fragmented UDP with a zero checksum",
    "xlats_udp0_v6": "IPv6 UDP with a zero checksum",
    "xlats_proto": "protocols not carried",
    "nat64_bib_created": "BIB entries created",
    "nat64_session_created": "sessions created",
    "nat64_session_expired": "sessions expired",
    "nat64_bib_full": "flows refused: BIB full",
    "nat64_session_full": "flows refused: session table full",
    "nat64_pool_exhausted": "flows refused: pool exhausted",
    "nat64_tcp_nosyn": "TCP segments without a binding and no SYN",
    "nat64_nobib": "IPv4 packets without a binding",
    "nat64_filtered": "IPv4 packets filtered (address-dependent filtering)",
    "nat64_noroute": "translated packets with no route",
    "nat64_fragments": "fragments received",
    "nat64_reassembled": "packets reassembled",
    "nat64_fragdropped": "fragments dropped (overlap, bounds, malformed)",
    "nat64_fragtimeout": "fragment queues timed out",
    "nat64_hairpin": "packets hairpinned (RFC 6146 §3.8)",
}


class Nat64:
    """A translator: ``prefix`` (RFC 6052, any of its lengths), ``pool``
    (IPv4 addresses NAT64 binds IPv6 hosts to; ``None`` or empty for the
    stateless translator alone), ``eam`` (RFC 7757 pairs, IPv4 first),
    ``self4``/``self6`` (the sources of the ICMP errors it sends)."""

    def __init__(self, prefix: str = "64:ff9b::/96", pool: list[str] | str | None = None, *,
                 eam: list[tuple[str, str]] | None = None, self4: str | None = None,
                 self6: str | None = None, mtu6: int = 1280, mtu4: int = 1500,
                 max_bib: int = 4096, max_sessions: int = 16384, adf: bool = True,
                 timeouts: dict[str, float] | None = None,
                 pool6791v4: list[str] | None = None, pool6791v6: list[str] | None = None,
                 frag_timeout: float = 60.0, frag_max_bytes: int = 4 << 20,
                 frag_max_queues: int = 1024, frag_max_per_queue: int = 64) -> None:
        self.prefix = IPv6Network(prefix)
        self.xlat = _core.Xlat(prefix, list(eam or []), self4=self4, self6=self6, mtu6=mtu6,
                               mtu4=mtu4, pool6791v4=[IPv4Address(a) for a in pool6791v4 or []],
                               pool6791v6=[IPv6Address(a) for a in pool6791v6 or []])
        # RFC 6146 §3.4: fragments wait here, bounded, until whole.
        self.reass6 = _core.Reassembler(timeout=frag_timeout, max_bytes=frag_max_bytes,
                                        max_queues=frag_max_queues,
                                        max_frags_per_queue=frag_max_per_queue)
        self.reass4 = _core.IpReassembler(timeout=frag_timeout, max_bytes=frag_max_bytes,
                                          max_queues=frag_max_queues,
                                          max_frags_per_queue=frag_max_per_queue)
        pool_addrs: list[IPv4Address] = []
        if isinstance(pool, str):
            net = IPv4Network(pool)
            pool_addrs = list(net) if net.num_addresses <= 256 else list(net.hosts())[:256]
        elif pool:
            pool_addrs = [IPv4Address(a) for a in pool]
        self.state: Nat64State | None = None
        if pool_addrs:
            tm = dict(TIMEOUTS)
            for k, v in (timeouts or {}).items():
                if k not in tm:
                    raise ValueError(f"unknown NAT64 timeout {k!r}")
                tm[k] = float(v)
            self.state = Nat64State(pool=pool_addrs, max_bib=max_bib, max_sessions=max_sessions,
                                    adf=adf, timeouts=tm)
        self._pool = frozenset(pool_addrs)
        self._eam4 = [IPv4Network(a, strict=False) for a, _ in (eam or [])]
        self._eam6 = [IPv6Network(b, strict=False) for _, b in (eam or [])]
        self._ident = 0
        self.stats: dict[str, int] = dict.fromkeys(_core.xlat_drop_names(), 0)
        self.stats.update({"xlats_6to4": 0, "xlats_4to6": 0, "xlats_icmperr_sent": 0,
                           "nat64_fragments": 0, "nat64_reassembled": 0, "nat64_fragdropped": 0,
                           "nat64_fragtimeout": 0, "nat64_hairpin": 0})
        self.node: Any = None

    # --- counters ------------------------------------------------------------
    def inc(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def all_stats(self) -> dict[str, int]:
        """Translator and table counters together."""
        out = dict(self.stats)
        if self.state is not None:
            for k, v in self.state.stats.items():
                out[k] = out.get(k, 0) + v
        return out

    # --- what is ours ----------------------------------------------------------
    def claims6(self, dst: IPv6Address) -> bool:
        """An IPv6 destination the translator takes: in the prefix or an EAM."""
        return dst in self.prefix or any(dst in n for n in self._eam6)

    def claims4(self, dst: IPv4Address) -> bool:
        """An IPv4 destination the translator takes: the pool or an EAM."""
        return dst in self._pool or any(dst in n for n in self._eam4)

    def _next_ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    def _verdict(self, kind: str, out: list[bytes], why: str | None, ok: str) -> list[bytes]:
        if kind == "out":
            self.inc(ok)
            return out
        if why:
            self.inc(why)
        if kind == "back":
            self.inc("xlats_icmperr_sent")
            return out
        return []

    # --- sans-I/O translation -------------------------------------------------
    def translate6(self, packet: bytes, now: float) -> list[bytes]:
        """An IPv6 packet to the prefix: what to send (IPv4 packets, or an
        ICMPv6 error back to its source). A translation addressed to the
        pool hairpins (RFC 6146 §3.8): it is taken in again as an IPv4
        packet arriving for the pool, and its IPv6 translation is sent."""
        out: list[bytes] = []
        for p in self._translate6(packet, now):
            if p[0] >> 4 == 4 and len(p) >= 20 and IPv4Address(p[16:20]) in self._pool:
                self.inc("nat64_hairpin")
                out.extend(self.translate4(p, now))
            else:
                out.append(p)
        return out

    def _translate6(self, packet: bytes, now: float) -> list[bytes]:
        whole = self._reass6(packet, now)
        if whole is None:
            return []
        packet = whole
        if self.state is None or self._eam_src6(packet):
            # A host with an explicit IPv4 address (EAM) is translated
            # statelessly; the others get a binding from the pool.
            kind, out, why = self.xlat.to4(packet, self._next_ident())
            return self._verdict(kind, out, why, "xlats_6to4")
        flow, why = _core.xlat_flow(packet)
        if flow is None:
            # No flow to bind (a non-first fragment, a protocol NAT64 does
            # not carry): RFC 6146 §3.4 drops it.
            self.inc(why or "xlats_proto")
            return []
        proto, x6, y6, x, y, _err, flags = flow
        if not isinstance(x6, IPv6Address) or not isinstance(y6, IPv6Address):
            self.inc("xlats_badhdr")
            return []
        y4 = self.xlat.map6(y6)
        if y4 is None:
            self.inc("xlats_nomap_dst")
            return []
        b = self.state.out6(proto, x6, x, y4, y, flags, now)
        if b is None:
            return []
        kind, out, why = self.xlat.to4_nat(packet, b.x6, b.t4, b.t, self._next_ident())
        return self._verdict(kind, out, why, "xlats_6to4")

    # --- fragments (RFC 6146 §3.4) --------------------------------------------
    def _reass6(self, packet: bytes, now: float) -> bytes | None:
        """The packet itself, or the whole datagram when this fragment
        completed one (as an atomic fragment, RFC 6946, so the translation
        keeps its Identification and clears DF, RFC 7915 §5.1.1), or None
        (held or dropped, counted)."""
        if len(packet) < 40 or packet[0] >> 4 != 6 or not _has_frag6(packet):
            return packet
        self.inc("nat64_fragments")
        try:
            o = self.reass6.input_packet(packet, now)
        except (KameError, ValueError):
            self.inc("nat64_fragdropped")
            return None
        if o.kind == "not_fragment":
            return packet
        if o.kind == "reassembled" and o.packet is not None:
            self.inc("nat64_reassembled")
            ident = int.from_bytes(_frag6_ident(packet), "big")
            try:
                return _core.atomic_fragment(o.packet, ident)
            except (KameError, ValueError):
                self.inc("nat64_fragdropped")
                return None
        if o.kind in ("dropped", "answer"):
            self.inc("nat64_fragdropped")
        return None

    def _reass4(self, packet: bytes, now: float) -> bytes | None:
        if len(packet) < 20 or packet[0] >> 4 != 4 or not int.from_bytes(packet[6:8], "big") & 0x3FFF:
            return packet
        self.inc("nat64_fragments")
        try:
            kind, whole, _why = self.reass4.input(packet, now)
        except (KameError, ValueError):
            self.inc("nat64_fragdropped")
            return None
        if kind == "not_fragment":
            return packet
        if kind == "reassembled" and whole is not None:
            self.inc("nat64_reassembled")
            return whole
        if kind == "dropped":
            self.inc("nat64_fragdropped")
        return None

    def _eam_src6(self, packet: bytes) -> bool:
        if len(packet) < 40:
            return False
        src = IPv6Address(packet[8:24])
        return any(src in n for n in self._eam6)

    def translate4(self, packet: bytes, now: float) -> list[bytes]:
        """An IPv4 packet to the pool (or an EAM address): what to send."""
        whole = self._reass4(packet, now)
        if whole is None:
            return []
        packet = whole
        dst = IPv4Address(packet[16:20]) if len(packet) >= 20 else None
        if self.state is None or dst is None or dst not in self._pool:
            kind, out, why = self.xlat.to6(packet)
            return self._verdict(kind, out, why, "xlats_4to6")
        flow, why = _core.xlat_flow(packet)
        if flow is None:
            self.inc(why or "xlats_proto")
            return []
        proto, y4, t4, y, t, _err, flags = flow
        if not isinstance(y4, IPv4Address) or not isinstance(t4, IPv4Address):
            self.inc("xlats_badhdr")
            return []
        b = self.state.in4(proto, y4, y, t4, t, flags, now)
        if b is None:
            return []
        kind, out, why = self.xlat.to6_nat(packet, b.t4, b.x6, b.x)
        return self._verdict(kind, out, why, "xlats_4to6")

    def expire(self, now: float) -> int:
        """Session timers (RFC 6146 §4) and fragment queues; call now and then."""
        self.stats["nat64_fragtimeout"] += len(self.reass6.expire(now)) + len(self.reass4.expire(now))
        return self.state.expire(now) if self.state is not None else 0

    # --- the node role ----------------------------------------------------------
    def attach(self, node: Any) -> None:
        """Make ``node`` a translator: its IPv6 forwarding hands packets for
        :meth:`claims6` here, its IPv4 input those for :meth:`claims4`."""
        self.node = node
        node.nat64 = self

    def node_input6(self, packet: bytes, now: float) -> None:
        self._send(self.translate6(packet, now), now)

    def node_input4(self, packet: bytes, now: float) -> None:
        self._send(self.translate4(packet, now), now)

    def _send(self, packets: list[bytes], now: float) -> None:
        node = self.node
        for p in packets:
            if p[0] >> 4 == 4:
                dst4 = IPv4Address(p[16:20])
                rt4 = node.inet.rtalloc(dst4)
                if rt4 is None:
                    self.inc("nat64_noroute")
                    continue
                node.inet.ether_output(rt4.ifname, rt4.next_hop, p, now)
            else:
                dst6 = IPv6Address(p[24:40])
                rt6 = node.rtalloc(dst6, now)
                if rt6 is None:
                    self.inc("nat64_noroute")
                    continue
                node._forward_output(rt6.ifname, p, now, rt6.next_hop)

    def add_static(self, proto: str | int, host6: str, port6: int, pool4: str, port4: int) -> None:
        """A static BIB entry (RFC 6146 §3.5.1: a server behind the
        translator reachable from IPv4 at ``pool4:port4``)."""
        if self.state is None:
            raise ValueError("a static binding needs a NAT64 pool")
        num = {"icmp": 1, "tcp": 6, "udp": 17}.get(str(proto).lower()) if isinstance(proto, str) else proto
        if num not in (1, 6, 17):
            raise ValueError(f"protocol {proto!r}: tcp, udp or icmp")
        t4 = IPv4Address(pool4)
        if t4 not in self._pool:
            raise ValueError(f"{pool4} is not in the pool")
        self.state.add_static(num, IPv6Address(host6), int(port6), t4, int(port4))

    def bindings(self) -> list[tuple[str, str, int, str, int]]:
        """``(proto, X6, x, T4, t)`` rows of the BIBs, for a CLI."""
        if self.state is None:
            return []
        names = {1: "icmp", 6: "tcp", 17: "udp"}
        return [(names.get(b.proto, str(b.proto)), str(b.x6), b.x, str(b.t4), b.t)
                for b in self.state.by6.values()]


def _frag6_walk(packet: bytes) -> int | None:
    """Where the Fragment header of an IPv6 packet starts, or None (the
    extension headers before it walked, bounded)."""
    nh, off = packet[6], 40
    for _ in range(16):
        if nh == 44:
            return off if off + 8 <= len(packet) else None
        if nh not in (0, 43, 60) or off + 2 > len(packet):
            return None
        nh, off = packet[off], off + (packet[off + 1] + 1) * 8
    return None


def _has_frag6(packet: bytes) -> bool:
    return _frag6_walk(packet) is not None


def _frag6_ident(packet: bytes) -> bytes:
    off = _frag6_walk(packet)
    return packet[off + 4:off + 8] if off is not None else b"\0\0\0\0"
