"""Hypothesis strategies for fuzzing campaigns: valid and near-valid packets.

Other projects import these to fuzz their own stacks::

    from hypothesis import given
    from kame import strategies as ks

    @given(ks.ipv6_packets())
    def test_my_stack(p):            # p.data: an IPv6 packet, p.label: what it is
        my_stack.input(p.data)

    @given(ks.near_valid_packets(mutations=["bad_payload_length"]))
    def test_my_stack_refuses(p):    # p.mutation names the one defect it carries
        ...

Every packet is built from structured draws (addresses, header chains,
option lists, upper-layer fields) and emitted with its lengths and
checksums computed, so hypothesis shrinks a failing packet to a shorter
chain, fewer options and smaller fields, never to meaningless bytes.

What is drawn:

- ``ipv6_packets()``: an IPv6 header, an RFC 8200 §4.1 ordered chain of
  Hop-by-Hop (Pad1, PadN, Router Alert, unknown skippable options),
  Destination Options, Routing type 0 / 2 / 4 (SRH, with TLVs) with Segments
  Left 0, an atomic Fragment header, AH and ESP, then ICMPv6 echo, UDP, TCP
  (with options), ICMPv6 errors quoting an invoking packet, or No Next Header.
- ``icmpv6_packets()``: ND (NS, NA, RS, RA, Redirect with options), MLDv1
  (query, report, done), MLDv2 (query, report with records), ICMPv6
  errors and echo; ND and MLD with the hop limits and sources RFC 4861 and
  RFC 3810 require.
- ``jumbograms()``: RFC 2675 jumbograms (payload length 0 and a Jumbo
  Payload option; more than 65,535 octets).
- ``fragment_trains()``: the fragments of a drawn datagram, cut at drawn
  offsets (multiples of 8) and sent in a drawn order; they reassemble to
  ``p.data``.
- ``ipsec_packets(esp=..., ah=..., ipcomp=...)``: packets sealed by the
  given ``kame.EspSa`` / ``kame.AhSa`` / ``kame.IpcompSa`` (kame's own
  ESP, AH and IPComp output).
- ``ipv4_packets()``, ``arp_packets()``: IPv4 with ICMP echo, UDP or TCP;
  ARP requests and replies (the Ethernet payload).
- ``near_valid_packets()``: one of the above carrying exactly one named
  defect from ``MUTATIONS``; ``verdict(p)`` says what kame's core makes
  of a packet and ``MUTATIONS[name].expect`` what it must say.

``packets()`` draws from all valid kinds. ``GenPacket.frame()`` wraps a
packet into an Ethernet frame.

hypothesis is an optional dependency: this module imports it when a
strategy is first asked for and raises ImportError saying so if it is
missing (``pip install hypothesis``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

__all__ = [
    "MUTATIONS",
    "GenPacket",
    "Mutation",
    "arp_packets",
    "fragment_trains",
    "icmpv6_packets",
    "ipsec_packets",
    "ipv4_packets",
    "ipv6_packets",
    "jumbograms",
    "near_valid_packets",
    "packets",
    "verdict",
]


def _st() -> Any:
    try:
        import hypothesis.strategies as st
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "kame.strategies needs hypothesis (pip install hypothesis)") from e
    return st


# --- IP protocol numbers ----------------------------------------------------
HBH, TCP, UDP, IPV6, RT, FRAG, ESP, AH, ICMPV6, NONXT, DST = 0, 6, 17, 41, 43, 44, 50, 51, 58, 59, 60

_MAC_SRC = bytes.fromhex("02005e100001")
_MAC_DST = bytes.fromhex("02005e100002")


@dataclass(frozen=True)
class GenPacket:
    """One drawn packet.

    ``data`` starts with the IPv6 (or IPv4) header; for ``kind == "arp"``
    it is the ARP packet (the Ethernet payload). ``fragments`` holds a
    train's fragments (``data`` is then the datagram they reassemble to).
    ``mutation`` names the defect a near-valid packet carries (None for a
    valid one); ``label`` says what was drawn, e.g. ``hbh,rt4,frag/udp``.
    """

    kind: str
    data: bytes
    label: str
    mutation: str | None = None
    fragments: tuple[bytes, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ethertype(self) -> int:
        if self.kind == "arp":
            return 0x0806
        return 0x0800 if self.kind == "ipv4" else 0x86DD

    def wire(self) -> list[bytes]:
        """What goes on the wire: the fragments of a train, else the packet."""
        return list(self.fragments) if self.fragments else [self.data]

    def frame(self, data: bytes | None = None) -> bytes:
        """``data`` (default: this packet) in an Ethernet II frame."""
        body = self.data if data is None else data
        return _MAC_DST + _MAC_SRC + struct.pack("!H", self.ethertype) + body


# --- checksums and small helpers -------------------------------------------

def _cksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _cksum6(src: bytes, dst: bytes, nh: int, data: bytes) -> int:
    c = _cksum(src + dst + struct.pack("!IxxxB", len(data), nh) + data)
    return c if nh != UDP or c else 0xFFFF


def _with_cksum(data: bytes, at: int, c: int) -> bytes:
    return data[:at] + struct.pack("!H", c) + data[at + 2:]


def _ip6(src: bytes, dst: bytes, nh: int, payload: bytes, hlim: int = 64, tc: int = 0,
         flow: int = 0, plen: int | None = None) -> bytes:
    if plen is None:
        plen = len(payload) if len(payload) <= 0xFFFF else 0
    return struct.pack("!IHBB", (6 << 28) | (tc << 20) | flow, plen, nh, hlim) + src + dst + payload


def _a6(s: str) -> bytes:
    return ipaddress.IPv6Address(s).packed


# --- draws: addresses ---------------------------------------------------------

def _global(draw: DrawFn) -> bytes:
    st = _st()
    return bytes.fromhex("20010db8") + draw(st.binary(min_size=12, max_size=12))


def _ll(draw: DrawFn) -> bytes:
    st = _st()
    iid = draw(st.integers(1, 2**64 - 1))
    return bytes.fromhex("fe80000000000000") + iid.to_bytes(8, "big")


def _unicast(draw: DrawFn) -> bytes:
    st = _st()
    return _ll(draw) if draw(st.booleans()) else _global(draw)


def _mcast(draw: DrawFn) -> bytes:
    st = _st()
    return _a6(draw(st.sampled_from(["ff02::1", "ff02::2", "ff02::16", "ff05::1:3", "ff0e::101"])))


_Addrs = tuple[bytes, bytes] | None


def _addr_pair(draw: DrawFn, addrs: _Addrs = None) -> tuple[bytes, bytes]:
    if addrs is not None:
        return addrs
    st = _st()
    src = _unicast(draw)
    dst = _mcast(draw) if draw(st.integers(0, 4)) == 4 else _unicast(draw)
    return src, dst


# --- draws: options and extension headers -------------------------------------

def _pad_options(opts: bytes, base: int) -> bytes:
    """Pad an option area (after the 2-octet header start) to a multiple of 8."""
    n = (-(base + len(opts))) % 8
    if n == 1:
        return opts + b"\0"
    if n:
        return opts + bytes([1, n - 2]) + b"\0" * (n - 2)
    return opts


def _options(draw: DrawFn, hbh: bool) -> tuple[bytes, list[str]]:
    st = _st()
    kinds = draw(st.lists(st.sampled_from(["pad1", "padn", "unknown"] + (["ra"] if hbh else [])),
                          max_size=4))
    out, names = b"", []
    for k in kinds:
        if k == "pad1":
            out += b"\0"
        elif k == "padn":
            out += bytes([1, draw(st.integers(0, 5))])
            out += b"\0" * out[-1]
        elif k == "ra":
            if "ra" in names:
                continue
            out += bytes([5, 2]) + struct.pack("!H", draw(st.integers(0, 2)))
        else:
            # Action bits 00: skip the option (RFC 8200 §4.2); not a type we know.
            t = draw(st.sampled_from([0x1E, 0x0B, 0x11, 0x3E]))
            data = draw(st.binary(max_size=6))
            out += bytes([t, len(data)]) + data
        names.append(k)
    return out, names


@dataclass
class _Ext:
    """An extension header waiting for its Next Header."""

    code: int
    name: str
    emit: Callable[[int], bytes]
    final_dst: bytes | None = None


def _opts_hdr(code: int, name: str, opts: bytes) -> _Ext:
    body = _pad_options(opts, 2)
    return _Ext(code, name, lambda nh: bytes([nh, (len(body) + 2) // 8 - 1]) + body)


def _draw_hbh(draw: DrawFn, jumbo: int | None = None) -> _Ext:
    opts, _ = _options(draw, hbh=True)
    if jumbo is not None:
        # The Jumbo Payload option is 4n+2 aligned (RFC 2675 §2).
        opts = _pad_options(opts, 2 + 6)  # leave room so the option lands at 8n+2
        opts += bytes([0xC2, 4]) + struct.pack("!I", jumbo)
    return _opts_hdr(HBH, "hbh", opts)


def _draw_dst(draw: DrawFn) -> _Ext:
    opts, _ = _options(draw, hbh=False)
    return _opts_hdr(DST, "dst", opts)


def _draw_routing(draw: DrawFn, rtype: int) -> _Ext:
    st = _st()
    if rtype == 2:
        addrs = [_global(draw)]
    else:
        addrs = [_global(draw) for _ in range(draw(st.integers(1, 3)))]
    if rtype == 4:
        # a PadN TLV filling 8n octets (RFC 8754 §2.1.1.2), or none
        tlvs = b""
        if draw(st.booleans()):
            n = draw(st.sampled_from([6, 14]))
            tlvs = bytes([4, n]) + b"\0" * n
        flags, tag = draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF))
        body = b"".join(addrs) + tlvs
        hdr = lambda nh: bytes([nh, len(body) // 8, 4, 0, len(addrs) - 1, flags]) + \
            struct.pack("!H", tag) + body
        return _Ext(RT, "rt4", hdr, final_dst=addrs[0])
    body = b"".join(addrs)
    return _Ext(RT, f"rt{rtype}", lambda nh: bytes([nh, len(body) // 8, rtype, 0]) + b"\0" * 4 + body)


def _draw_frag_atomic(draw: DrawFn) -> _Ext:
    st = _st()
    ident = draw(st.integers(0, 2**32 - 1))
    return _Ext(FRAG, "frag", lambda nh: struct.pack("!BxHI", nh, 0, ident))


def _draw_ah(draw: DrawFn) -> _Ext:
    st = _st()
    spi = draw(st.integers(256, 2**32 - 1))
    seq = draw(st.integers(1, 2**32 - 1))
    icv = draw(st.binary(min_size=12, max_size=12))
    return _Ext(AH, "ah", lambda nh: struct.pack("!BBHII", nh, 4, 0, spi, seq) + icv)


def _draw_chain(draw: DrawFn, esp_ok: bool = True) -> list[_Ext]:
    """An RFC 8200 §4.1 ordered subset of the extension headers."""
    st = _st()
    exts: list[_Ext] = []
    if draw(st.booleans()):
        exts.append(_draw_hbh(draw))
    if draw(st.integers(0, 3)) == 3:
        exts.append(_draw_dst(draw))
    if draw(st.integers(0, 2)) == 2:
        exts.append(_draw_routing(draw, draw(st.sampled_from([0, 2, 4]))))
    if draw(st.integers(0, 3)) == 3:
        exts.append(_draw_frag_atomic(draw))
    if draw(st.integers(0, 4)) == 4:
        exts.append(_draw_ah(draw))
    if draw(st.integers(0, 3)) == 3:
        exts.append(_draw_dst(draw))
    return exts


def _emit_chain(exts: Sequence[_Ext], upper: int, upper_bytes: bytes) -> tuple[int, bytes]:
    nh, out = upper, upper_bytes
    for e in reversed(exts):
        out = e.emit(nh) + out
        nh = e.code
    return nh, out


def _label(exts: Sequence[_Ext], upper: str) -> str:
    return ",".join(e.name for e in exts) + "/" + upper if exts else upper


# --- draws: upper layers ------------------------------------------------------

def _udp(draw: DrawFn, src: bytes, dst: bytes) -> bytes:
    st = _st()
    sport, dport = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
    data = draw(st.binary(max_size=64))
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return _with_cksum(u, 6, _cksum6(src, dst, UDP, u))


def _tcp_options(draw: DrawFn) -> bytes:
    st = _st()
    out = b""
    for k in draw(st.lists(st.sampled_from(["mss", "ws", "sackok", "ts", "nop"]), max_size=4,
                           unique=True)):
        if k == "mss":
            out += struct.pack("!BBH", 2, 4, draw(st.integers(536, 9000)))
        elif k == "ws":
            out += bytes([3, 3, draw(st.integers(0, 14))])
        elif k == "sackok":
            out += bytes([4, 2])
        elif k == "ts":
            out += struct.pack("!BBII", 8, 10, draw(st.integers(0, 2**32 - 1)), 0)
        else:
            out += b"\x01"
    return out + b"\x01" * ((-len(out)) % 4)


def _tcp_segment(draw: DrawFn) -> bytes:
    st = _st()
    opts = _tcp_options(draw)
    flags = draw(st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14]))
    data = draw(st.binary(max_size=48)) if flags & 0x10 else b""
    return struct.pack("!HHIIBBHHH", draw(st.integers(1, 65535)), draw(st.integers(1, 65535)),
                       draw(st.integers(0, 2**32 - 1)),
                       draw(st.integers(0, 2**32 - 1)) if flags & 0x10 else 0,
                       (5 + len(opts) // 4) << 4, flags, draw(st.integers(0, 65535)), 0,
                       0) + opts + data


def _tcp(draw: DrawFn, src: bytes, dst: bytes) -> bytes:
    t = _tcp_segment(draw)
    return _with_cksum(t, 16, _cksum6(src, dst, TCP, t))


def _icmp6(typ: int, code: int, rest: bytes, src: bytes, dst: bytes) -> bytes:
    m = struct.pack("!BBH", typ, code, 0) + rest
    return _with_cksum(m, 2, _cksum6(src, dst, ICMPV6, m))


def _echo(draw: DrawFn, src: bytes, dst: bytes) -> bytes:
    st = _st()
    typ = draw(st.sampled_from([128, 129]))
    rest = struct.pack("!HH", draw(st.integers(0, 65535)), draw(st.integers(0, 65535)))
    return _icmp6(typ, 0, rest + draw(st.binary(max_size=64)), src, dst)


def _icmp6_error(draw: DrawFn, src: bytes, dst: bytes) -> tuple[bytes, str]:
    """An ICMPv6 error quoting an invoking packet sent from dst to src."""
    st = _st()
    kind = draw(st.sampled_from(["unreach", "ptb", "timex", "paramprob"]))
    inner_up = _udp(draw, dst, src) if draw(st.booleans()) else _echo(draw, dst, src)
    inner = _ip6(dst, src, UDP if inner_up[0:1] != b"\x80" else ICMPV6, inner_up)
    if inner_up[:1] in (b"\x80", b"\x81"):
        inner = _ip6(dst, src, ICMPV6, inner_up)
    cut = draw(st.integers(48, len(inner)))
    inner = inner[:cut]
    if kind == "unreach":
        typ, code, word = 1, draw(st.sampled_from([0, 1, 3, 4, 5, 6])), 0
    elif kind == "ptb":
        typ, code, word = 2, 0, draw(st.integers(1280, 65535))
    elif kind == "timex":
        typ, code, word = 3, draw(st.integers(0, 1)), 0
    else:
        typ, code, word = 4, draw(st.integers(0, 2)), draw(st.integers(0, 47))
    return _icmp6(typ, code, struct.pack("!I", word) + inner, src, dst), kind


def _upper(draw: DrawFn, src: bytes, dst: bytes, allow: Sequence[str]) -> tuple[int, bytes, str]:
    st = _st()
    kind = draw(st.sampled_from(list(allow)))
    if kind == "udp":
        return UDP, _udp(draw, src, dst), "udp"
    if kind == "tcp":
        return TCP, _tcp(draw, src, dst), "tcp"
    if kind == "echo":
        return ICMPV6, _echo(draw, src, dst), "echo"
    if kind == "error":
        m, k = _icmp6_error(draw, src, dst)
        return ICMPV6, m, k
    return NONXT, b"", "none"


# --- ND and MLD -----------------------------------------------------------------

def _nd_opt(typ: int, body: bytes) -> bytes:
    body += b"\0" * ((-(len(body) + 2)) % 8)
    return bytes([typ, (len(body) + 2) // 8]) + body


def _nd_options(draw: DrawFn, allowed: Sequence[str]) -> bytes:
    st = _st()
    out = b""
    for k in draw(st.lists(st.sampled_from(list(allowed)), max_size=4, unique=True)):
        if k == "slla":
            out += _nd_opt(1, draw(st.binary(min_size=6, max_size=6)))
        elif k == "tlla":
            out += _nd_opt(2, draw(st.binary(min_size=6, max_size=6)))
        elif k == "prefix":
            plen = draw(st.sampled_from([48, 56, 64]))
            valid = draw(st.integers(0, 2**32 - 1))
            pref = draw(st.integers(0, valid))
            out += _nd_opt(3, struct.pack("!BBIIxxxx", plen, draw(st.sampled_from([0xC0, 0x80,
                                                                                      0x40, 0])),
                                          valid, pref) + _global(draw)[:8] + b"\0" * 8)
        elif k == "redirected":
            inner = _ip6(_global(draw), _global(draw), NONXT, b"")
            out += _nd_opt(4, b"\0" * 6 + inner)
        elif k == "mtu":
            out += _nd_opt(5, b"\0\0" + struct.pack("!I", draw(st.integers(1280, 9000))))
        elif k == "nonce":
            out += _nd_opt(14, draw(st.binary(min_size=6, max_size=6)))
        elif k == "rdnss":
            out += _nd_opt(25, b"\0\0" + struct.pack("!I", draw(st.integers(0, 2**32 - 1)))
                           + _global(draw))
        elif k == "route":
            out += _nd_opt(24, bytes([64, 0x08]) + struct.pack("!I", draw(st.integers(0, 9999)))
                           + _global(draw)[:8])
    return out


def _nd(draw: DrawFn, kinds: Sequence[str] = ("ns", "na", "rs", "ra", "redirect"),
        ) -> tuple[bytes, bytes, bytes, str, int]:
    """(src, dst, icmpv6 message, name, hop limit) of an ND message."""
    st = _st()
    kind = draw(st.sampled_from(list(kinds)))
    src = _ll(draw)
    target = _unicast(draw)
    if kind == "ns":
        dad = draw(st.integers(0, 4)) == 4
        if dad:
            src = bytes(16)
            opts = _nd_options(draw, ["nonce"])
        else:
            opts = _nd_options(draw, ["slla", "nonce"])
        dst = _a6("ff02::1:ff00:0")[:13] + target[13:] if draw(st.booleans()) else _unicast(draw)
        rest = b"\0" * 4 + target + opts
        return src, dst, _icmp6(135, 0, rest, src, dst), "ns", 255
    if kind == "na":
        solicited = draw(st.booleans())
        dst = _unicast(draw) if solicited else _a6("ff02::1")
        flags = (draw(st.integers(0, 1)) << 31) | (int(solicited) << 30) | \
            (draw(st.integers(0, 1)) << 29)
        rest = struct.pack("!I", flags) + target + _nd_options(draw, ["tlla"])
        return src, dst, _icmp6(136, 0, rest, src, dst), "na", 255
    if kind == "rs":
        dst = _a6("ff02::2")
        return src, dst, _icmp6(133, 0, b"\0" * 4 + _nd_options(draw, ["slla"]), src, dst), "rs", 255
    if kind == "ra":
        dst = _a6("ff02::1") if draw(st.booleans()) else _ll(draw)
        rest = struct.pack("!BBHII", draw(st.integers(0, 255)), draw(st.sampled_from([0, 0x80, 0x40,
                                                                                         0xC0, 0x08])),
                           draw(st.integers(0, 9000)), draw(st.integers(0, 3_600_000)),
                           draw(st.integers(0, 10_000)))
        rest += _nd_options(draw, ["slla", "prefix", "mtu", "rdnss", "route"])
        return src, dst, _icmp6(134, 0, rest, src, dst), "ra", 255
    dst = _unicast(draw)
    rest = b"\0" * 4 + _ll(draw) + _global(draw) + _nd_options(draw, ["tlla", "redirected"])
    return src, dst, _icmp6(137, 0, rest, src, dst), "redirect", 255


def _mld(draw: DrawFn) -> tuple[bytes, bytes, bytes, str]:
    st = _st()
    src = _ll(draw)
    kind = draw(st.sampled_from(["query", "report", "done", "query2", "report2"]))
    group = _mcast(draw)
    if kind == "query":
        dst = _a6("ff02::1")
        msg = _icmp6(130, 0, struct.pack("!HH", draw(st.integers(0, 10000)), 0) + bytes(16), src, dst)
    elif kind == "report":
        dst = group
        msg = _icmp6(131, 0, b"\0" * 4 + group, src, dst)
    elif kind == "done":
        dst = _a6("ff02::2")
        msg = _icmp6(132, 0, b"\0" * 4 + group, src, dst)
    elif kind == "query2":
        dst = _a6("ff02::1")
        sources = [_global(draw) for _ in range(draw(st.integers(0, 3)))]
        rest = struct.pack("!HH", draw(st.integers(0, 10000)), 0) + group + \
            bytes([draw(st.integers(0, 7)), draw(st.integers(0, 255))]) + \
            struct.pack("!H", len(sources)) + b"".join(sources)
        msg = _icmp6(130, 0, rest, src, dst)
    else:
        dst = _a6("ff02::16")
        recs = b""
        nrec = draw(st.integers(0, 3))
        for _ in range(nrec):
            sources = [_global(draw) for _ in range(draw(st.integers(0, 2)))]
            recs += bytes([draw(st.integers(1, 6)), 0]) + struct.pack("!H", len(sources)) + \
                _mcast(draw) + b"".join(sources)
        msg = _icmp6(143, 0, struct.pack("!HH", 0, nrec) + recs, src, dst)
    return src, dst, msg, kind


# --- composite draws -----------------------------------------------------------

def _draw_ipv6(draw: DrawFn, uppers: Sequence[str] = ("udp", "tcp", "echo", "error", "none"),
               chain: bool = True, addrs: _Addrs = None, esp_ok: bool = True) -> GenPacket:
    st = _st()
    src, dst = _addr_pair(draw, addrs)
    exts = _draw_chain(draw) if chain else []
    # Segments Left is 0 everywhere: the destination is the final one
    esp = chain and esp_ok and draw(st.integers(0, 5)) == 5
    if esp:
        spi, seq = draw(st.integers(256, 2**32 - 1)), draw(st.integers(1, 2**32 - 1))
        body = draw(st.binary(min_size=16, max_size=64))
        body += b"\0" * ((-len(body)) % 4)
        nh, payload = _emit_chain(exts, ESP, struct.pack("!II", spi, seq) + body)
        label = _label(exts, "esp")
    else:
        proto, up, name = _upper(draw, src, dst, uppers)
        nh, payload = _emit_chain(exts, proto, up)
        label = _label(exts, name)
    tc, flow = draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFFF))
    hlim = draw(st.integers(1, 255))
    return GenPacket("ipv6", _ip6(src, dst, nh, payload, hlim, tc, flow), label,
                     fields={"src": src, "dst": dst, "exts": [e.name for e in exts]})


def _draw_icmpv6(draw: DrawFn, kinds: Sequence[str] = ("nd", "mld", "echo", "error"),
                 addrs: _Addrs = None) -> GenPacket:
    st = _st()
    kind = draw(st.sampled_from(list(kinds)))
    if kind == "nd":
        src, dst, msg, name, hlim = _nd(draw)
        return GenPacket("ipv6", _ip6(src, dst, ICMPV6, msg, hlim), "nd/" + name,
                         fields={"src": src, "dst": dst})
    if kind == "mld":
        src, dst, msg, name = _mld(draw)
        # Hop-by-Hop with Router Alert (MLD value 0), hop limit 1 (RFC 2710 §3, RFC 3810 §5)
        hbh = bytes([ICMPV6, 0, 5, 2, 0, 0, 1, 0])
        return GenPacket("ipv6", _ip6(src, dst, HBH, hbh + msg, 1), "mld/" + name,
                         fields={"src": src, "dst": dst})
    return _draw_ipv6(draw, uppers=[kind], chain=False, addrs=addrs)


def _draw_jumbo(draw: DrawFn, addrs: _Addrs = None) -> GenPacket:
    st = _st()
    src, dst = addrs if addrs is not None else (_global(draw), _global(draw))
    size = draw(st.integers(65536, 66000))
    # Echo request: no length field of its own (UDP's would be 0, RFC 2675 §4)
    body = struct.pack("!HH", draw(st.integers(0, 65535)), 1) + b"\x5a" * (size - 8)
    msg = _icmp6(128, 0, body, src, dst)
    probe = _draw_hbh(draw, jumbo=0).emit(ICMPV6)
    total = len(probe) + len(msg)
    hbh = _draw_hbh_fixed(probe, total)
    return GenPacket("ipv6", _ip6(src, dst, HBH, hbh + msg, plen=0), "hbh(jumbo)/echo",
                     fields={"jumbo": total})


def _draw_hbh_fixed(probe: bytes, jumbo: int) -> bytes:
    """Rewrite the Jumbo Payload Length in an emitted Hop-by-Hop header."""
    at = probe.rfind(bytes([0xC2, 4]))
    return probe[:at + 2] + struct.pack("!I", jumbo) + probe[at + 6:]


def _draw_train(draw: DrawFn, addrs: _Addrs = None) -> GenPacket:
    """A datagram and its fragments, in a drawn order."""
    st = _st()
    src, dst = addrs if addrs is not None else (_global(draw), _global(draw))
    unfrag: list[_Ext] = []
    if draw(st.booleans()):
        unfrag.append(_draw_hbh(draw))
    if draw(st.integers(0, 2)) == 2:
        unfrag.append(_draw_routing(draw, draw(st.sampled_from([0, 2, 4]))))
    fragable: list[_Ext] = [_draw_dst(draw)] if draw(st.integers(0, 2)) == 2 else []
    kind = draw(st.sampled_from(["udp", "echo"]))
    data = draw(st.binary(min_size=8, max_size=600))
    if kind == "udp":
        sport, dport = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
        up = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
        up = _with_cksum(up, 6, _cksum6(src, dst, UDP, up))
        proto = UDP
    else:
        up = _icmp6(128, 0, struct.pack("!HH", draw(st.integers(0, 65535)), 1) + data, src, dst)
        proto = ICMPV6
    nh_f, frag_part = _emit_chain(fragable, proto, up)
    nh_u, unfrag_part = _emit_chain(unfrag, FRAG, b"")
    datagram = _ip6(src, dst, nh_u if unfrag else nh_f, _emit_chain(unfrag, nh_f, b"")[1] + frag_part)
    # cut points: multiples of 8 inside the fragmentable part, the first piece
    # holding the whole header chain and the upper-layer header (RFC 7112)
    first_min = len(frag_part) - len(up) + 8
    first_min = (first_min + 7) // 8 * 8
    if first_min >= len(frag_part):
        cuts: list[int] = []
    else:
        cuts = sorted(set(draw(st.lists(st.integers(first_min // 8, (len(frag_part) - 1) // 8),
                                        min_size=1, max_size=5))))
        cuts = [c * 8 for c in cuts]
    bounds = [0] + cuts + [len(frag_part)]
    ident = draw(st.integers(0, 2**32 - 1))
    first_nh = nh_f
    frags = []
    for i in range(len(bounds) - 1):
        off, end = bounds[i], bounds[i + 1]
        more = int(end < len(frag_part))
        fh = struct.pack("!BxHI", first_nh, off | more, ident)
        frags.append(_ip6(src, dst, nh_u if unfrag else FRAG, unfrag_part + fh + frag_part[off:end]))
    order = draw(st.permutations(range(len(frags))))
    train = tuple(frags[i] for i in order)
    label = _label(unfrag, "frag") + f"[{len(frags)}]/" + _label(fragable, kind)
    return GenPacket("ipv6", datagram, label, fragments=train,
                     fields={"cuts": cuts, "order": list(order)})


def _draw_ipv4(draw: DrawFn) -> GenPacket:
    st = _st()
    src = bytes([192, 0, 2, draw(st.integers(1, 254))])
    dst = bytes([198, 51, 100, draw(st.integers(1, 254))])
    kind = draw(st.sampled_from(["echo", "udp", "tcp"]))
    if kind == "echo":
        m = struct.pack("!BBHHH", 8, 0, 0, draw(st.integers(0, 65535)), 1) + draw(st.binary(max_size=64))
        payload, proto = _with_cksum(m, 2, _cksum(m)), 1
    elif kind == "udp":
        data = draw(st.binary(max_size=64))
        u = struct.pack("!HHHH", draw(st.integers(1, 65535)), draw(st.integers(1, 65535)),
                        8 + len(data), 0) + data
        c = _cksum(src + dst + struct.pack("!xBH", 17, len(u)) + u) or 0xFFFF
        payload, proto = _with_cksum(u, 6, c), 17
    else:
        t = _tcp_segment(draw)
        payload, proto = _with_cksum(t, 16, _cksum(src + dst + struct.pack("!xBH", 6, len(t)) + t)), 6
    opts = b""
    if draw(st.integers(0, 4)) == 4:
        opts = b"\x94\x04\x00\x00"  # Router Alert (RFC 2113)
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, draw(st.integers(0, 255)), 20 + len(opts) + len(payload),
                    draw(st.integers(0, 65535)), 0x4000 if draw(st.booleans()) else 0,
                    draw(st.integers(1, 255)), proto, 0, src, dst) + opts
    h = _with_cksum(h, 10, _cksum(h))
    return GenPacket("ipv4", h + payload, "ipv4/" + kind)


def _draw_arp(draw: DrawFn) -> GenPacket:
    st = _st()
    op = draw(st.sampled_from([1, 2]))
    sha = draw(st.binary(min_size=6, max_size=6))
    spa = bytes([192, 0, 2, draw(st.integers(1, 254))])
    tha = bytes(6) if op == 1 else draw(st.binary(min_size=6, max_size=6))
    tpa = bytes([192, 0, 2, draw(st.integers(1, 254))])
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa
    return GenPacket("arp", a, "arp/" + ("request" if op == 1 else "reply"))


def _draw_ipsec(draw: DrawFn, esp: Any, ah: Any, ipcomp: Any) -> GenPacket:
    st = _st()
    choices = [n for n, sa in (("esp", esp), ("ah", ah), ("ipcomp", ipcomp)) if sa is not None]
    if not choices:
        raise ValueError("ipsec_packets needs at least one of esp=, ah=, ipcomp=")
    which = draw(st.sampled_from(choices))
    src, dst = _global(draw), _global(draw)
    proto, up, name = _upper(draw, src, dst, ["udp", "tcp", "echo"])
    if which == "ipcomp":
        # something worth compressing, above the 90-octet threshold
        up_pad = draw(st.integers(100, 400))
        if proto == ICMPV6:
            up = _icmp6(128, 0, struct.pack("!HH", 1, 1) + b"kame" * (up_pad // 4), src, dst)
    inner = _ip6(src, dst, proto, up)
    sa = {"esp": esp, "ah": ah, "ipcomp": ipcomp}[which]
    out = bytes(sa.output(inner))
    return GenPacket("ipv6", out, f"{which}({sa.mode})/{name}", fields={"inner": inner})


# --- near-valid packets ---------------------------------------------------------

@dataclass(frozen=True)
class Mutation:
    """A named defect: what it breaks, the rule it breaks, and what kame's
    core says of a packet carrying it (one of the ``verdict`` strings)."""

    name: str
    what: str
    rule: str
    expect: str


MUTATIONS: dict[str, Mutation] = {m.name: m for m in [
    Mutation("bad_payload_length", "Payload Length larger than the bytes that follow",
             "RFC 8200 §3", "TruncatedError"),
    Mutation("short_payload_length", "Payload Length shorter than the upper-layer data",
             "RFC 8200 §3 (trailing octets ignored; the checksum then fails)", "cksum_bad"),
    Mutation("bad_version", "Version field not 6", "RFC 8200 §3", "MalformedError"),
    Mutation("bad_checksum", "upper-layer checksum off by one bit", "RFC 8200 §8.1",
             "cksum_bad"),
    Mutation("truncated_header", "the packet ends inside an extension header",
             "RFC 8200 §4", "TruncatedError"),
    Mutation("truncated_option", "an option's length runs past its header's end",
             "RFC 8200 §4.2", "MalformedError"),
    Mutation("hbh_not_first", "a Hop-by-Hop header after another extension header",
             "RFC 8200 §4.1 (Parameter Problem code 1)", "MalformedError"),
    Mutation("too_many_headers", "more extension headers than hdrnestlimit (50)",
             "seed §1.8 (ip6_hdrnestlimit)", "HeaderLimitError"),
    Mutation("jumbo_with_payload_length", "a Jumbo Payload option and a non-zero Payload Length",
             "RFC 2675 §3 (Parameter Problem, pointer to the option)", "MalformedError"),
    Mutation("jumbo_too_small", "a Jumbo Payload Length of 65,535 or less",
             "RFC 2675 §3 (Parameter Problem, pointer to the option's length)", "MalformedError"),
    Mutation("truncated_upper", "the packet ends inside the UDP header",
             "RFC 768", "TruncatedError"),
    Mutation("nd_bad_hop_limit", "ND message with hop limit 254",
             "RFC 4861 §6.1.1, §7.1.1 (silently discarded)", "nd_drop"),
    Mutation("nd_zero_length_option", "an ND option with Length 0",
             "RFC 4861 §4.6 (silently discarded)", "nd_drop"),
    Mutation("frag_overlap", "two fragments of a train overlap",
             "RFC 5722 (the whole datagram is discarded)", "reass_dropped"),
    Mutation("frag_not_multiple_of_8", "a non-last fragment whose length is not a multiple of 8",
             "RFC 8200 §4.5 (Parameter Problem code 0, pointer 4)", "reass_answer"),
    Mutation("frag_beyond_65535", "a fragment ending past octet 65,535 of the datagram",
             "RFC 8200 §4.5 (Parameter Problem code 0 at the Fragment Offset)", "reass_answer"),
]}


def _mutate_single(draw: DrawFn, name: str, addrs: _Addrs = None) -> GenPacket:
    st = _st()
    if name in ("nd_bad_hop_limit", "nd_zero_length_option"):
        src, dst, msg, kind, _ = _nd(draw, kinds=("ns", "na"))
        if name == "nd_bad_hop_limit":
            data = _ip6(src, dst, ICMPV6, msg, 254)
        else:
            msg = msg[:24] + bytes([1, 0]) + b"\0" * 6 + msg[24:]
            msg = _with_cksum(msg, 2, 0)
            msg = _with_cksum(msg, 2, _cksum6(src, dst, ICMPV6, msg))
            data = _ip6(src, dst, ICMPV6, msg)
        return GenPacket("ipv6", data, "nd/" + kind, mutation=name)
    if name in ("jumbo_with_payload_length", "jumbo_too_small"):
        p = _draw_jumbo(draw, addrs)
        d = p.data
        if name == "jumbo_with_payload_length":
            d = d[:4] + struct.pack("!H", draw(st.integers(1, 0xFFFF))) + d[6:]
        else:
            at = 40 + d[40:].find(bytes([0xC2, 4]))
            d = d[:at + 2] + struct.pack("!I", draw(st.integers(0, 0xFFFF))) + d[at + 6:]
        return GenPacket("ipv6", d, p.label, mutation=name)
    if name == "too_many_headers":
        src, dst = _addr_pair(draw, addrs)
        n = draw(st.integers(51, 60))
        exts = [_opts_hdr(DST, "dst", b"") for _ in range(n)]
        nh, payload = _emit_chain(exts, NONXT, b"")
        return GenPacket("ipv6", _ip6(src, dst, nh, payload), f"dst*{n}/none", mutation=name)
    if name == "hbh_not_first":
        src, dst = _addr_pair(draw, addrs)
        exts = [_draw_dst(draw), _draw_hbh(draw)]
        proto, up, up_name = _upper(draw, src, dst, ["udp", "echo", "none"])
        nh, payload = _emit_chain(exts, proto, up)
        return GenPacket("ipv6", _ip6(src, dst, nh, payload), _label(exts, up_name), mutation=name)
    if name == "truncated_option":
        src, dst = _addr_pair(draw, addrs)
        code = draw(st.sampled_from([HBH, DST]))
        over = draw(st.integers(1, 20))
        # an unknown skippable option whose length claims `over` more octets than remain
        body = bytes([0x1E, 4 + over]) + b"\0" * 4
        ext = _Ext(code, "hbh" if code == HBH else "dst", lambda nh: bytes([nh, 0]) + body)
        proto, up, up_name = _upper(draw, src, dst, ["udp", "echo", "none"])
        nh, payload = _emit_chain([ext], proto, up)
        return GenPacket("ipv6", _ip6(src, dst, nh, payload), _label([ext], up_name), mutation=name)
    if name == "truncated_header":
        p = _draw_ipv6(draw, uppers=["none"], addrs=addrs, esp_ok=False)
        d = p.data
        if not p.fields["exts"]:  # one Destination Options header at least
            d = d[:6] + bytes([DST]) + d[7:] + _opts_hdr(DST, "dst", b"").emit(NONXT)
            d = d[:4] + struct.pack("!H", len(d) - 40) + d[6:]
        # cut the packet inside its last header (the upper layer is "none")
        last = 40
        nh, off = d[6], 40
        while nh in (HBH, DST, RT, AH, FRAG):
            last = off
            nh, off = _walk_one(d, nh, off)
        d = d[:draw(st.integers(last + 1, len(d) - 1))]
        d = d[:4] + struct.pack("!H", len(d) - 40) + d[6:]
        return GenPacket("ipv6", d, p.label, mutation=name)
    if name == "truncated_upper":
        src, dst = _addr_pair(draw, addrs)
        u = _udp(draw, src, dst)[:draw(st.integers(1, 7))]
        return GenPacket("ipv6", _ip6(src, dst, UDP, u), "udp", mutation=name)
    # mutations of a plain valid packet
    # UDP has its own Length field: a short Payload Length truncates it instead
    uppers = ["tcp", "echo"] if name == "short_payload_length" else ["udp", "tcp", "echo"]
    p = _draw_ipv6(draw, uppers=uppers, addrs=addrs, esp_ok=False)
    d = p.data
    if name == "bad_payload_length":
        d = d[:4] + struct.pack("!H", len(d) - 40 + draw(st.integers(1, 64))) + d[6:]
    elif name == "short_payload_length":
        # cut into the upper layer's data, never its header
        off = _upper_offset(d)
        hdr = {UDP: 8, ICMPV6: 8, TCP: (d[off + 12] >> 4) * 4 if len(d) > off + 12 else 20}
        room = len(d) - off - hdr[_upper_proto(d)]
        if room < 1:
            extra = draw(st.binary(min_size=1, max_size=16))
            d = _reseal(d + extra)
            room = len(extra)
        cut = draw(st.integers(1, room))
        d = d[:4] + struct.pack("!H", len(d) - 40 - cut) + d[6:]
    elif name == "bad_version":
        d = bytes([(draw(st.sampled_from([0, 5, 7, 15])) << 4) | (d[0] & 0xF)]) + d[1:]
    elif name == "bad_checksum":
        off = _upper_offset(d)
        at = off + {UDP: 6, TCP: 16, ICMPV6: 2}[_upper_proto(d)]
        bit = draw(st.integers(0, 15))
        c = struct.unpack_from("!H", d, at)[0] ^ (1 << bit)
        if c in (0, 0xFFFF) and _upper_proto(d) == UDP:
            c ^= 3  # 0 means "no checksum" over IPv4 and 0xFFFF is the same sum
        d = _with_cksum(d, at, c)
    else:
        raise ValueError(f"unknown mutation {name!r}")
    return GenPacket("ipv6", d, p.label, mutation=name)


def _reseal(d: bytes) -> bytes:
    """Fix the Payload Length and the upper-layer checksum (and UDP length)."""
    d = d[:4] + struct.pack("!H", len(d) - 40) + d[6:]
    proto, off = _walk(d)
    if proto == UDP:
        d = d[:off + 4] + struct.pack("!H", len(d) - off) + d[off + 6:]
    at = off + {UDP: 6, TCP: 16, ICMPV6: 2}[proto]
    d = _with_cksum(d, at, 0)
    return _with_cksum(d, at, _cksum6(d[8:24], d[24:40], proto, d[off:]))


def _walk_one(d: bytes, nh: int, off: int) -> tuple[int, int]:
    if nh == FRAG:
        return d[off], off + 8
    if nh == AH:
        return d[off], off + (d[off + 1] + 2) * 4
    return d[off], off + (d[off + 1] + 1) * 8


def _walk(d: bytes) -> tuple[int, int]:
    nh, off = d[6], 40
    while nh in (HBH, DST, RT, AH, FRAG):
        nh, off = _walk_one(d, nh, off)
    return nh, off


def _upper_offset(d: bytes) -> int:
    return _walk(d)[1]


def _upper_proto(d: bytes) -> int:
    return _walk(d)[0]


def _mutate_train(draw: DrawFn, name: str, addrs: _Addrs = None) -> GenPacket:
    st = _st()
    src, dst = addrs if addrs is not None else (_global(draw), _global(draw))
    ident = draw(st.integers(0, 2**32 - 1))
    data = draw(st.binary(min_size=24, max_size=200))
    up = struct.pack("!HHHH", 4000, 33434, 8 + len(data) + 64, 0) + data
    frags: list[bytes] = []
    first = up[:((len(up) // 8) * 8)] or up
    if name == "frag_overlap":
        # second fragment starts inside the first
        back = draw(st.integers(1, max(1, len(first) // 8 - 1))) * 8
        second_off = len(first) - back
        frags = [_frag(src, dst, UDP, 0, True, ident, first),
                 _frag(src, dst, UDP, second_off, False, ident, b"\x33" * 64)]
    elif name == "frag_not_multiple_of_8":
        cut = len(first) + draw(st.integers(1, 7))
        frags = [_frag(src, dst, UDP, 0, True, ident, (up + b"\0" * 8)[:cut])]
    elif name == "frag_beyond_65535":
        off = draw(st.integers((65535 - 64) // 8 + 1, 0x1FFF)) * 8
        frags = [_frag(src, dst, UDP, 0, True, ident, first),
                 _frag(src, dst, UDP, off, False, ident, b"\x44" * 64)]
    else:
        raise ValueError(f"unknown mutation {name!r}")
    return GenPacket("ipv6", frags[0], f"frag[{len(frags)}]/udp", mutation=name,
                     fragments=tuple(frags))


def _frag(src: bytes, dst: bytes, nh: int, off: int, more: bool, ident: int, piece: bytes) -> bytes:
    return _ip6(src, dst, FRAG, struct.pack("!BxHI", nh, off | int(more), ident) + piece)


# --- verdicts -------------------------------------------------------------------

def verdict(p: GenPacket) -> str:
    """What kame's core makes of a drawn packet: ``ok``, the name of the
    ``kame.errors`` class ``kame.parse`` raised, ``cksum_bad``,
    ``nd_drop`` (an NS/NA the ND fast path refuses), or for a fragment
    train ``reass_ok`` / ``reass_<kind>`` (the Reassembler's outcome)."""
    from kame import _core

    if p.fragments:
        r = _core.Reassembler()
        out = None
        for f in p.fragments:
            out = r.input_packet(f, 0.0)
            if out.kind in ("dropped", "answer"):
                return "reass_" + out.kind
        if out is not None and out.kind == "reassembled":
            return "reass_ok" if out.packet == p.data else "reass_differs"
        return "reass_" + (out.kind if out is not None else "none")
    if p.kind == "arp":
        try:
            _core.arp_parse(p.data)
        except Exception as e:  # noqa: BLE001 - the verdict is the class name
            return type(e).__name__
        return "ok"
    try:
        pk = _core.parse(p.data)
    except Exception as e:  # noqa: BLE001 - the verdict is the class name
        return type(e).__name__
    if pk.cksum_ok is False:
        return "cksum_bad"
    if pk.version == 6 and pk.upper_proto == ICMPV6 and pk.icmp_type in (135, 136) and not pk.chain:
        nd = _core.nd6_input(p.frame())
        # nd6_ns_input / nd6_na_input drop what the core refuses and what
        # did not come with hop limit 255 (RFC 4861 §7.1)
        if nd is None or nd[3] != 255:
            return "nd_drop"
    return "ok"


# --- public strategies ----------------------------------------------------------

def _composite(fn: Callable[..., GenPacket], *args: Any) -> SearchStrategy[GenPacket]:
    st = _st()
    return st.composite(lambda draw: fn(draw, *args))()  # type: ignore[no-any-return]


def _fixed(src: str | bytes | None, dst: str | bytes | None) -> _Addrs:
    """Fixed source and destination (both or neither), as 16 octets."""
    if src is None and dst is None:
        return None
    if src is None or dst is None:
        raise ValueError("give both src and dst, or neither")
    return (ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)


def ipv6_packets(uppers: Sequence[str] = ("udp", "tcp", "echo", "error", "none"),
                 ext_headers: bool = True, *, src: str | bytes | None = None,
                 dst: str | bytes | None = None) -> SearchStrategy[GenPacket]:
    """Valid IPv6 packets: drawn extension-header chains (or none with
    ``ext_headers=False``) and upper layers from ``uppers`` (``udp``,
    ``tcp``, ``echo``, ``error``, ``none``); addresses drawn, or ``src``
    and ``dst`` (a stack under test needs its own address there)."""
    bad = set(uppers) - {"udp", "tcp", "echo", "error", "none"}
    if bad or not uppers:
        raise ValueError(f"unknown upper layers {sorted(bad)}")
    return _composite(_draw_ipv6, tuple(uppers), ext_headers, _fixed(src, dst))


def icmpv6_packets(kinds: Sequence[str] = ("nd", "mld", "echo", "error"),
                   ) -> SearchStrategy[GenPacket]:
    """Valid ND (NS, NA, RS, RA, Redirect with options), MLDv1/v2, ICMPv6
    errors and echo; ``kinds`` picks among ``nd``, ``mld``, ``echo``,
    ``error``."""
    bad = set(kinds) - {"nd", "mld", "echo", "error"}
    if bad or not kinds:
        raise ValueError(f"unknown ICMPv6 kinds {sorted(bad)}")
    return _composite(_draw_icmpv6, tuple(kinds))


def jumbograms(*, src: str | bytes | None = None,
               dst: str | bytes | None = None) -> SearchStrategy[GenPacket]:
    """Valid RFC 2675 jumbograms (65,536 to 66,000 octets of payload)."""
    return _composite(_draw_jumbo, _fixed(src, dst))


def fragment_trains(*, src: str | bytes | None = None,
                    dst: str | bytes | None = None) -> SearchStrategy[GenPacket]:
    """Fragment trains (``p.fragments``) that reassemble to ``p.data``."""
    return _composite(_draw_train, _fixed(src, dst))


def ipv4_packets() -> SearchStrategy[GenPacket]:
    """Valid IPv4 packets with ICMP echo, UDP or TCP (and maybe Router Alert)."""
    return _composite(_draw_ipv4)


def arp_packets() -> SearchStrategy[GenPacket]:
    """ARP requests and replies (Ethernet/IPv4, RFC 826)."""
    return _composite(_draw_arp)


def ipsec_packets(esp: Any = None, ah: Any = None, ipcomp: Any = None) -> SearchStrategy[GenPacket]:
    """Packets sealed by the given SAs (``kame.EspSa``, ``kame.AhSa``,
    ``kame.IpcompSa``) with their own output. The SAs' sequence numbers
    advance as packets are drawn; ``p.fields["inner"]`` is the packet
    before the transform."""
    return _composite(_draw_ipsec, esp, ah, ipcomp)


def packets() -> SearchStrategy[GenPacket]:
    """Any valid packet of the kinds above (not IPsec: that needs SAs)."""
    st = _st()
    return st.one_of(ipv6_packets(), icmpv6_packets(), fragment_trains(), ipv4_packets(),
                     arp_packets())


def near_valid_packets(mutations: Sequence[str] | None = None, *,
                       src: str | bytes | None = None,
                       dst: str | bytes | None = None) -> SearchStrategy[GenPacket]:
    """Packets carrying exactly one named defect from ``MUTATIONS``
    (all of them unless ``mutations`` names some); ``src`` and ``dst`` fix
    the addresses (not of the ND mutations: ND has its own)."""
    st = _st()
    addrs = _fixed(src, dst)
    names = list(MUTATIONS) if mutations is None else list(mutations)
    unknown = [n for n in names if n not in MUTATIONS]
    if unknown or not names:
        raise ValueError(f"unknown mutations {unknown}; known: {sorted(MUTATIONS)}")

    def draw_one(draw: DrawFn) -> GenPacket:
        name = draw(st.sampled_from(names))
        if name.startswith("frag_"):
            return _mutate_train(draw, name, addrs)
        return _mutate_single(draw, name, addrs)

    return st.composite(draw_one)()  # type: ignore[no-any-return]
