"""IPsec in the node: ``ipsec6_output`` and ``ipsec6_input`` (seed §4.3,
KAME ``netinet6/ipsec.c``, ``esp_input.c``, ``ah_input.c``).

:class:`Ipsec6` holds a :class:`kame.key.engine.KeyEngine` (SPD + SAD) and
the ``ipsec6stat`` counters; ``Node.attach_key()`` installs one as
``node.key``. The node calls it from three hook points:

- ``ip6_output`` (``Node.output``): the outbound policy for (src, dst,
  upper-layer protocol, ports) decides: ``discard`` drops (``out_polvio``),
  ``none`` or no match sends in clear, ``ipsec`` applies the bundle in the
  order IPComp -> ESP -> AH (seed §4.4) with the SAs the SAD has; a
  missing SA queues an ``SADB_ACQUIRE`` and drops the packet unless the
  request's level is ``use`` (``out_nosa``). Tunnel-mode results are
  routed again towards the outer destination (seed §4.8.1).
- ``ip6_forward`` (``Node._forward_output``): the same for forwarded
  packets, which is how an RFC 2401 tunnel-mode gateway works (§4.8.1).
- ``ip6_input`` before delivery or forwarding: ESP (50), AH (51) and
  IPComp (108) addressed to us are opened with the SA named by
  (dst, proto, SPI) (``in_nosa`` and ``in_badspi`` when there is none: the
  packet is dropped, whatever follows the header; ``in_espauthfail``,
  ``in_espreplay``... when the core refuses the packet) and the result is
  fed back to input, remembering which protections it had; then the
  inbound policy is checked (``ipsec6_in_reject``): a packet that a
  ``require``/``unique`` request says must be protected and was not is
  dropped and counted in ``in_polvio``.

Neighbor Discovery and MLD messages bypass the SPD (as KAME's nd6 sends
them with no socket policy), so a ``::/0`` policy does not cut a node off
its link.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.errors import IntegrityError, KameError, PaddingError, ReplayError
from kame.key.engine import KeyEngine
from kame.key.sad import Acquire, Expire, SaState, SecAsVar
from kame.key.spd import SecPolicy, effective_level

__all__ = ["IPSEC6_STATS", "Ipsec6", "PolicyViolation"]

#: ``struct ipsecstat`` members (netstat -s -p ipsec6) and their lines
IPSEC6_STATS: dict[str, str] = {
    "in_success": "inbound packets processed successfully",
    "in_polvio": "inbound packets violated process security policy",
    "in_nosa": "inbound packets with no SA available",
    "in_inval": "invalid inbound packets",
    "in_badspi": "inbound packets failed getting SPI",
    "in_ahreplay": "inbound packets failed on AH replay check",
    "in_espreplay": "inbound packets failed on ESP replay check",
    "in_ahauthsucc": "inbound packets considered authentic (AH)",
    "in_ahauthfail": "inbound packets failed on authentication (AH)",
    "in_espauthsucc": "inbound packets considered authentic (ESP)",
    "in_espauthfail": "inbound packets failed on authentication (ESP)",
    "in_comphist": "inbound IPComp packets",
    "out_success": "outbound packets processed successfully",
    "out_polvio": "outbound packets violated process security policy",
    "out_nosa": "outbound packets with no SA available",
    "out_inval": "invalid outbound packets",
    "out_noroute": "outbound packets with no route",
    "out_esphist": "outbound ESP transforms",
    "out_ahhist": "outbound AH transforms",
    "out_comphist": "outbound IPComp transforms",
}
_PROTO = {50: "esp", 51: "ah", 108: "ipcomp"}
_OUT_HIST = {"esp": "out_esphist", "ah": "out_ahhist", "ipcomp": "out_comphist"}
_BYPASS_ICMP6 = frozenset({130, 131, 132, 133, 134, 135, 136, 137, 143})


class PolicyViolation:
    """Event: a packet dropped by the SPD (``in_polvio`` / ``out_polvio``)."""

    def __init__(self, direction: str, src: IPv6Address, dst: IPv6Address, why: str) -> None:
        self.direction, self.src, self.dst, self.why = direction, src, dst, why

    def __repr__(self) -> str:
        return f"PolicyViolation({self.direction} {self.src} -> {self.dst}: {self.why})"


def _selector_fields(packet: bytes, v: Any) -> tuple[IPv6Address, IPv6Address, int, int, int]:
    hdr = v.header
    ch = v.chain
    ul, off = ch.upper, ch.upper_offset
    sport = dport = 0
    if ul in (6, 17) and off + 4 <= len(packet):
        sport = int.from_bytes(packet[off:off + 2], "big")
        dport = int.from_bytes(packet[off + 2:off + 4], "big")
    elif ul == 58 and off + 2 <= len(packet):
        sport, dport = packet[off], packet[off + 1]  # KAME: icmp6 type/code as ports
    # a Home Address option: the home address is the source, as KAME's
    # dest6_input swaps it in before ipsec6_in_reject and the mobile node's
    # policies name it (RFC 3776 §4.1, RFC 6275 §11.3.1)
    home = v.home_address
    dst = hdr.dst
    if ch.headers and ch.headers[0][0] == 43:
        # a type 2 routing header (to a mobile node, RFC 6275 §6.4): the
        # home address in it is the destination the policies name
        at = ch.headers[0][1]
        if packet[at + 2:at + 4] == b"\x02\x01" and at + 24 <= len(packet):
            dst = IPv6Address(packet[at + 8:at + 24])
    return home if home is not None else hdr.src, dst, ul, sport, dport


class Ipsec6:
    """IPsec processing for one node; see the module docstring."""

    def __init__(self, knobs: Mapping[str, int] | None = None,
                 engine: KeyEngine | None = None) -> None:
        self.knobs = knobs
        self.engine = engine if engine is not None else KeyEngine(knobs)
        self.stats: Counter[str] = Counter(dict.fromkeys(IPSEC6_STATS, 0))
        self._busy = 0
        #: the "socket" whose per-socket policy applies to the packet being output
        self._so: object | None = None
        #: protections applied to the packet being input: (proto, mode, sa)
        self._hist: list[tuple[str, str, SecAsVar]] = []

    @property
    def sad(self) -> Any:
        return self.engine.sad

    @property
    def spd(self) -> Any:
        return self.engine.spd

    def inc(self, name: str, n: int = 1) -> None:
        if name not in IPSEC6_STATS:
            raise KeyError(name)
        self.stats[name] += n

    def render(self) -> str:
        return "ipsec6:\n" + "\n".join(f"\t{self.stats[k]} {d}" for k, d in IPSEC6_STATS.items())

    def ping(self, node: Any, dst: IPv6Address, now: float, policy: str,
             **kw: Any) -> list[Any]:
        """``ping6 -P POLICY`` (seed §4.2: ``ping -P 'out ipsec
        esp/transport//use'``): one Echo Request sent under a per-socket
        policy (``ipsec_set_policy(3)`` syntax; ``entrust`` defers to the
        system SPD, ``bypass`` ignores it)."""
        from kame.key.setkey import parse_policy

        so = object()
        self.spd.set_socket_policy(so, parse_policy(policy))
        self._so = so
        try:
            frames: list[Any] = node.ping(dst, now, **kw)
            return frames
        finally:
            self._so = None
            self.spd.sockets.pop(so, None)

    def next_deadline(self) -> float | None:
        return self.sad.next_deadline()

    def timehandler(self, node: Any, now: float) -> None:
        """``key_timehandler`` from ``Node.poll``: age the SAs; soft and hard
        expirations become node events and SADB_EXPIRE messages."""
        self.sad.timehandler(now)
        self._drain(node, now)

    def _drain(self, node: Any, now: float) -> None:
        node.events.extend(e for e in self.sad.events if isinstance(e, Expire))
        self.engine.event_messages(now)

    def _bypass(self, ul: int, sport: int) -> bool:
        return ul == 58 and sport in _BYPASS_ICMP6

    # --- ipsec6_output --------------------------------------------------------

    def output(self, node: Any, ifname: str, packet: bytes, now: float,
               next_hop: IPv6Address | None, *, linkmtu: bool = False) -> bool:
        """True when the packet was consumed (transformed and sent, or dropped).
        ``linkmtu``: the packet is sized by the interface's MTU, not the
        path's (Linux's ``IPV6_PMTUDISC_PROBE``/``_INTERFACE``/``_OMIT``;
        ``ip6_skb_dst_mtu``), and so is what the transforms make of it."""
        if self._busy:
            return False
        try:
            v = _core.ip6_validate(packet, 0)
        except KameError:
            if packet[6] != 43:
                return False
            try:  # a type 2 routing header of ours (RFC 6275 §6.4) is not judged here
                v = _core.ip6_validate(packet, 0, transit=True)
            except KameError:
                return False
        src, dst, ul, sport, dport = _selector_fields(packet, v)
        if self._bypass(ul, sport):
            return False
        sp = self.spd.lookup("out", src, dst, ul, sport, dport, so=self._so, now=now)
        if sp is None:
            if self.knobs is not None and self.knobs.get("net.inet6.ipsec6.def_policy", 1) == 0:
                self.inc("out_polvio")
                node.events.append(PolicyViolation("out", src, dst, "def_policy discard"))
                return True
            return False
        if sp.action in ("none", "bypass"):
            return False
        if sp.action == "discard":
            self.inc("out_polvio")
            node.events.append(PolicyViolation("out", src, dst, "discard"))
            return True
        chosen = self._select(node, sp, src, dst, now)
        if chosen is None:
            return True  # dropped: no SA for a required request
        if not chosen:
            return False  # every request was "use" and had no SA: in clear
        pkt = self.apply(node, chosen, packet, now, self.stats)
        if isinstance(pkt, str):
            return True  # dropped, counted
        odst = IPv6Address(pkt[24:40])
        hop = next_hop
        if odst != dst:
            rt = node.rtalloc(odst, now)
            if rt is None:
                self.inc("out_noroute")
                return True
            ifname, hop = rt.ifname, rt.next_hop
        self._busy += 1
        try:
            node.output(ifname, pkt, now, hop, linkmtu=linkmtu)
        finally:
            self._busy -= 1
        return True

    def apply(self, node: Any, chosen: list[tuple[str, SecAsVar]], pkt: bytes, now: float,
              st: Counter[str]) -> bytes | str:
        """The transforms of the bundle :meth:`_select` chose, in order, on
        an outbound packet (IPv6) or datagram (IPv4), counted in ``st``
        (``ipsec6stat``, or ``ipsec4stat`` for ``ipsec4_output``): the
        result, or the name of the counter of the drop (``out_nosa``: an
        SA ended in use; ``out_inval``: the core refused the packet)."""
        try:
            for req_mode, sa in chosen:
                if not self.sad.use(sa, len(pkt), now):
                    self._drain(node, now)
                    st["out_nosa"] += 1
                    return "out_nosa"
                pkt = sa.transform(req_mode).output(pkt)
                st[_OUT_HIST[sa.proto]] += 1
        except KameError:
            st["out_inval"] += 1
            return "out_inval"
        st["out_success"] += 1
        self._drain(node, now)
        return pkt

    def _select(self, node: Any, sp: SecPolicy, src: IPv6Address, dst: IPv6Address,
                now: float) -> list[tuple[str, SecAsVar]] | None:
        """``key_checkrequest`` over the bundle: the SAs to apply, or None
        to drop (a require/unique request without an SA)."""
        out: list[tuple[str, SecAsVar]] = []
        cur_src: IPv6Address | IPv4Address = src
        cur_dst: IPv6Address | IPv4Address = dst
        drop = False
        for req in sp.bundle:
            lvl = effective_level(req, self.knobs)
            s, d = (req.src, req.dst) if req.mode == "tunnel" else (cur_src, cur_dst)
            assert s is not None and d is not None
            sa = self.sad.lookup_out(s, d, req.proto, req.mode,
                                     req.reqid if lvl == "unique" else 0)
            if sa is None:
                ev = self.sad.acquire(s, d, req.proto, req.mode,
                                      req.reqid if lvl == "unique" else 0, now, sp.id)
                if ev is not None:
                    node.events.append(ev)
                if lvl != "use":
                    drop = True
                continue
            out.append((req.mode, sa))
            if req.mode == "tunnel":
                cur_src, cur_dst = s, d
        self._drain(node, now)
        if drop:
            self.inc("out_nosa")
            return None
        return out

    # --- ipsec6_hdrsiz -----------------------------------------------------------

    def hdrsiz(self, src: Any, dst: Any, ulproto: int, sport: int = 0, dport: int = 0,
               so: object = None) -> int:
        """``ipsec6_hdrsiz`` (KAME ``ipsec.c``): the octets the outbound
        policy for (src, dst, ulproto, ports) adds to a packet, which TCP
        takes off its segment size (``tcp_mss``) so that a full segment
        still fits the path after the transforms: per request of the bundle
        ``esp_hdrsiz`` (header, IV, the most padding the cipher's block can
        need, trailer, ICV: of the SA the request would use, else KAME's
        estimate with the largest IV and ICV), ``ah_hdrsiz`` (header and
        ICV, 8-octet aligned for IPv6, 4 for IPv4), ``sizeof(struct
        ipcomp)``, plus the outer IP header of each tunnel-mode request.
        0 when no policy applies."""
        sp = self.spd.lookup("out", src, dst, ulproto, sport, dport, so=so)
        if sp is None or sp.action != "ipsec":
            return 0
        total = 0
        cur_src: Any = src
        cur_dst: Any = dst
        for req in sp.bundle:
            s, d = (req.src, req.dst) if req.mode == "tunnel" else (cur_src, cur_dst)
            if s is None or d is None:
                continue
            sa = self.sad.lookup_out(s, d, req.proto, req.mode,
                                     req.reqid if effective_level(req, self.knobs) == "unique"
                                     else 0)
            total += _hdrsiz1(req.proto, req.mode, sa, d.version)
            if req.mode == "tunnel":
                total += 40 if d.version == 6 else 20
                cur_src, cur_dst = s, d
        return total

    # --- ipsec6_input -----------------------------------------------------------

    def input(self, node: Any, ifname: str, packet: bytes, v: Any, smac: bytes,
              now: float) -> bool:
        """Called before local delivery; True when the packet was consumed."""
        ch = v.chain
        ah = next((off for nh, off, _n in ch.headers if nh == 51), None)
        if ah is not None:  # the core's walker steps over AH: it comes first
            self.input_at(node, ifname, packet, v.header.dst, "ah", ah, smac, now)
            return True
        if ch.upper in _PROTO:
            self.input_at(node, ifname, packet, v.header.dst, _PROTO[ch.upper], ch.upper_offset,
                          smac, now)
            return True
        u = ch.upper_offset
        if (ch.upper == 17 and packet[u + 2:u + 4] == b"\x11\x94" and len(packet) >= u + 16
                and packet[u + 8:u + 12] != bytes(4)):
            # RFC 3948 §2.2: on port 4500 a datagram whose first 4 octets are
            # not the non-ESP marker (zero) carries ESP; the core's SA strips
            # the UDP header (one-octet 0xff keepalives fall through to IKE)
            self.input_at(node, ifname, packet, v.header.dst, "esp", u + 8, smac, now)
            return True
        return self.in_reject(node, packet, v, now)

    def input_at(self, node: Any, ifname: str, packet: bytes, dst: IPv6Address, proto: str,
                 off: int, smac: bytes, now: float) -> None:
        """``ah6_input`` / ``esp6_input`` / ``ipcomp6_input`` for the header
        at ``off`` of a packet to ``dst``: open it with the SA named by
        (dst, proto, SPI) and feed the result back to input; no SA (or an
        unusable one) is a drop counted in ``in_nosa`` and ``in_badspi``
        (RFC 4302 §3.4.2, RFC 4303 §3.4.2), whatever follows the header."""
        opened = self.open(node, packet, dst, proto, off, now, self.stats)
        if opened is None:
            return
        mode, sa, inner = opened
        ifp = node.ifnets[ifname]
        frame = (ifp.lladdr or bytes(6)) + smac + b"\x86\xdd" + inner
        self._hist.append((proto, mode, sa))
        try:
            if mode == "transport":
                node.ip6_input(ifname, frame, now, fast=False, again=True)
            else:
                node.ip6_input(ifname, frame, now)
        finally:
            self._hist.pop()

    def unapplied(self, sp: SecPolicy) -> str | None:
        """``ipsec_in_reject``'s test of an inbound policy (not ``none``)
        against the protections the packet being input had (``_hist``), for
        IPv6 and IPv4 alike: ``None`` when every ``require``/``unique``
        request was applied, else why not."""
        if sp.action == "discard":
            return "discard"
        for req in sp.requests:
            lvl = effective_level(req, self.knobs)
            if lvl not in ("require", "unique"):
                continue
            if not any(p == req.proto and (req.mode != "tunnel" or m == "tunnel")
                       and (lvl != "unique" or not req.reqid or sa.reqid == req.reqid)
                       and sa.state != SaState.DEAD
                       for p, m, sa in self._hist):
                return f"{req} not applied"
        return None

    def open(self, node: Any, packet: bytes, dst: IPv6Address | IPv4Address, proto: str,
             off: int, now: float, st: Counter[str]
             ) -> tuple[str, SecAsVar, bytes] | None:
        """Open the ``proto`` header at ``off`` of an inbound packet (IPv6)
        or datagram (IPv4) to ``dst`` with the SA (dst, proto, SPI), counted
        in ``st`` (``ipsec6stat`` or ``ipsec4stat``): (mode, SA, what the
        transform gave), or ``None`` for a drop (``in_nosa`` and
        ``in_badspi`` without a usable SA, ``in_espreplay``,
        ``in_espauthfail``... when the core refuses it)."""
        if proto == "ipcomp":
            spi = int.from_bytes(packet[off + 2:off + 4], "big") if off + 4 <= len(packet) else -1
        elif proto == "esp":
            spi = int.from_bytes(packet[off:off + 4], "big") if off + 4 <= len(packet) else -1
        else:
            spi = int.from_bytes(packet[off + 4:off + 8], "big") if off + 8 <= len(packet) else -1
        if spi < 0:
            st["in_inval"] += 1
            return None
        sa = self.sad.get(dst, proto, spi)
        if sa is None and proto == "ipcomp":
            sa = next((s for s in self.sad.dump("ipcomp") if s.dst == dst and spi == 2), None)
        if sa is None or not sa.usable:
            st["in_nosa"] += 1
            st["in_badspi"] += 1
            return None
        mode = "tunnel" if sa.mode == "tunnel" else "transport"
        try:
            inner = sa.transform(mode).input(packet)
        except ReplayError:
            st["in_espreplay" if proto == "esp" else "in_ahreplay"] += 1
            return None
        except IntegrityError:
            st["in_espauthfail" if proto == "esp" else "in_ahauthfail"] += 1
            return None
        except (PaddingError, KameError):
            st["in_inval"] += 1
            return None
        alive = self.sad.use(sa, len(packet), now)
        self._drain(node, now)
        if not alive:
            st["in_nosa"] += 1
            return None
        if proto == "esp" and sa.auth:
            st["in_espauthsucc"] += 1
        elif proto == "ah":
            st["in_ahauthsucc"] += 1
        elif proto == "ipcomp":
            st["in_comphist"] += 1
        st["in_success"] += 1
        return mode, sa, inner

    def in_reject(self, node: Any, packet: bytes, v: Any, now: float) -> bool:
        """``ipsec6_in_reject``: True (and counted) when the inbound policy
        wants protection the packet did not have."""
        src, dst, ul, sport, dport = _selector_fields(packet, v)
        if self._bypass(ul, sport) and not self._hist:
            return False
        sp = self.spd.lookup("in", src, dst, ul, sport, dport, now=now)
        if sp is None or sp.action == "none":
            return False
        why = self.unapplied(sp)
        if why is None:
            return False
        self.inc("in_polvio")
        node.events.append(PolicyViolation("in", src, dst, why))
        return True


def _hdrsiz1(proto: str, mode: str, sa: SecAsVar | None, version: int) -> int:
    """One request's share of :meth:`Ipsec6.hdrsiz` (``esp_hdrsiz``,
    ``ah_hdrsiz``, ``sizeof(struct ipcomp)``)."""
    if proto == "ipcomp":
        return 4
    if sa is None:
        # KAME's estimate for a request without an SA yet: the largest IV
        # (16), padding of a 16-octet block with its trailer (17) and the
        # largest ICV (32, HMAC-SHA-512-256)
        return 8 + 16 + 17 + 32 if proto == "esp" else 12 + 32
    x = sa.transform(mode)
    if proto == "esp":
        # the most any payload length needs: the worst padding of the block
        return max(int(x.overhead(n)) for n in range(16))
    base = 8 if sa.old else 12
    align = 8 if version == 6 else 4
    return -(-(base + int(x.icv_len)) // align) * align


_ = Acquire
