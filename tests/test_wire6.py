"""IPv6 header, extension headers, options, the chain walker and
ip6_input-style validation (RFC 8200, RFC 2675, seed §1.7, §1.8, §6.1).

Round trips here check our builders against our parsers; the independent
oracles (scapy, dpkt, tshark) are in tests/interop/test_wire6_peers.py.
The byte layouts asserted literally below are taken from the RFCs.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame import (
    DestOpts,
    FragmentHeader,
    HopByHop,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
    ip6_suspicious_address,
    ip6_validate,
    walk,
    walk_from,
)

SRC = ipaddress.IPv6Address("2001:db8::1")
DST = ipaddress.IPv6Address("2001:db8::2")

addrs = st.binary(min_size=16, max_size=16).map(ipaddress.IPv6Address)
u8 = st.integers(0, 255)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

headers = st.builds(
    Ipv6Header,
    src=addrs,
    dst=addrs,
    next_header=u8,
    hop_limit=u8,
    traffic_class=u8,
    flow_label=st.integers(0, 0xFFFFF),
    payload_len=st.integers(0, 0xFFFF),
)

options = st.one_of(
    st.just(Ipv6Option.pad1()),
    st.integers(0, 20).map(Ipv6Option.padn),
    st.integers(0, 2**32 - 1).map(Ipv6Option.jumbo),
    st.integers(0, 0xFFFF).map(Ipv6Option.router_alert),
    addrs.map(Ipv6Option.home_address),
    st.builds(Ipv6Option, st.integers(1, 255), st.binary(max_size=40)),
)

routing = st.one_of(
    st.builds(
        RoutingHeader,
        routing_type=st.sampled_from([0, 2]),
        segments_left=u8,
        addresses=st.lists(addrs, max_size=6),
        next_header=u8,
    ),
    st.builds(
        RoutingHeader,
        routing_type=st.integers(3, 255),
        segments_left=u8,
        data=st.integers(0, 10).flatmap(
            lambda n: st.binary(min_size=8 * n + 4, max_size=8 * n + 4)
        ),
        next_header=u8,
    ),
)

fragments = st.builds(
    FragmentHeader,
    offset=st.integers(0, 0x1FFF),
    more=st.booleans(),
    ident=st.integers(0, 2**32 - 1),
    next_header=u8,
    reserved=u8,
    res=st.integers(0, 3),
)


# ---------------------------------------------------------------------------
# Round trips: emit -> parse -> emit
# ---------------------------------------------------------------------------


@given(headers)
def test_ipv6_header_round_trip(h: Ipv6Header) -> None:
    b = h.to_bytes()
    assert len(b) == 40 and b[0] >> 4 == 6
    p = Ipv6Header.from_bytes(b)
    assert p == h
    assert p.to_bytes() == b
    assert isinstance(p.src, ipaddress.IPv6Address)


@given(options)
def test_option_round_trip(o: Ipv6Option) -> None:
    b = o.to_bytes()
    assert len(b) == len(o)
    p = Ipv6Option.from_bytes(b)
    assert p == o
    assert p.to_bytes() == b


@given(st.lists(options, max_size=8), u8, st.sampled_from([HopByHop, DestOpts]))
def test_options_header_round_trip(opts: list[Ipv6Option], nh: int, cls: type) -> None:
    h = cls(opts, next_header=nh)
    b = h.to_bytes()
    assert len(b) % 8 == 0 and len(b) == (b[1] + 1) * 8 == len(h)
    p = cls.from_bytes(b)
    assert p.next_header == nh
    assert p.to_bytes(pad=False) == b
    assert p.to_bytes() == b  # padding is idempotent
    assert p.options == h.padded_options()
    # Every option that needs alignment got it (RFC 8200 Appendix A).
    off = 2
    for o in p.options:
        if o.type == 0xC2:
            assert off % 4 == 2
        if o.type == 0xC9:
            assert off % 8 == 6
        if o.type == 0x05:
            assert off % 2 == 0
        off += len(o)


@given(routing)
def test_routing_round_trip(r: RoutingHeader) -> None:
    b = r.to_bytes()
    assert len(b) % 8 == 0 and len(b) == (b[1] + 1) * 8
    p = RoutingHeader.from_bytes(b)
    assert p == r
    assert p.to_bytes() == b


@given(fragments)
def test_fragment_round_trip(f: FragmentHeader) -> None:
    b = f.to_bytes()
    assert len(b) == 8
    p = FragmentHeader.from_bytes(memoryview(b))
    assert p == f and p.to_bytes() == b
    assert p.byte_offset == f.offset * 8


def test_rfc_layouts() -> None:
    # RFC 2675 §3: C2 04 + 32-bit length, right after the 2 header octets.
    assert HopByHop([Ipv6Option.jumbo(70000)], next_header=58).to_bytes() == bytes.fromhex(
        "3a00c20400011170"
    )
    # MLD reports carry Router Alert 0 + PadN(0) (RFC 2711, RFC 3810 §5).
    assert HopByHop([Ipv6Option.router_alert(0)], 58).to_bytes() == bytes.fromhex(
        "3a00050200000100"
    )
    # RFC 6275 §6.3: Home Address at 8n+6 -> PadN(2) first, 24 octets.
    d = DestOpts([Ipv6Option.home_address("2001:db8::9")], 6).to_bytes()
    assert d[:8] == bytes.fromhex("06020102 0000c910".replace(" ", ""))
    assert d[8:] == ipaddress.IPv6Address("2001:db8::9").packed
    # RFC 6275 §6.4: type 2 is 24 octets, Hdr Ext Len 2, Segments Left 1.
    r = RoutingHeader(2, 1, ["2001:db8::9"], next_header=6).to_bytes()
    assert r[:8] == bytes.fromhex("0602020100000000") and len(r) == 24
    # RFC 8200 §4.5: offset 185 units, M=1.
    assert FragmentHeader(185, True, 0xDEADBEEF, 17).to_bytes() == bytes.fromhex("110005c9deadbeef")


def test_option_from_short_bytes() -> None:
    for b, needed in ((b"", 1), (b"\xc2", 2), (b"\xc2\x04\x00", 6)):
        with pytest.raises(kame.TruncatedError) as ei:
            Ipv6Option.from_bytes(b)
        assert (ei.value.needed, ei.value.available, ei.value.offset) == (needed, len(b), 0)
    assert Ipv6Option.from_bytes(b"\x00\xff") == Ipv6Option.pad1()


def test_option_actions_and_values() -> None:
    assert Ipv6Option.jumbo(1).action == 3 and not Ipv6Option.jumbo(1).is_mutable
    assert Ipv6Option(0x63, b"\0" * 4).is_mutable  # RFC 6553 RPL option
    assert Ipv6Option.router_alert(2).value == 2
    assert Ipv6Option.home_address(SRC).value == SRC
    assert Ipv6Option(0x1E, b"x").value is None
    with pytest.raises(ValueError):
        Ipv6Option(0, b"x")  # Pad1 has no data
    with pytest.raises(ValueError):
        Ipv6Option(1, b"\0" * 256)


def test_addresses_in_all_forms() -> None:
    for a in (SRC, "2001:db8::1", SRC.packed, bytearray(SRC.packed)):
        assert Ipv6Header(a, DST).src == SRC
    with pytest.raises((TypeError, ValueError)):
        Ipv6Header(b"short", DST)
    with pytest.raises(TypeError):
        Ipv6Header(42, DST)
    h = Ipv6Header(SRC, DST)
    h.dst = "ff02::1"
    assert h.dst == ipaddress.IPv6Address("ff02::1")
    h.flow_label = 0xFFFFF
    with pytest.raises(ValueError):
        h.flow_label = 0x100000


def test_repr_and_eq() -> None:
    h = HopByHop([Ipv6Option.jumbo(70000)], 58)
    assert "Ipv6Option.jumbo(70000)" in repr(h)
    assert h == HopByHop.from_bytes(h.to_bytes())
    assert h != DestOpts([Ipv6Option.jumbo(70000)], 58)
    assert "2001:db8::1" in repr(Ipv6Header(SRC, DST))
    assert (
        repr(FragmentHeader(1, False, 7))
        == "FragmentHeader(offset=1, more=False, ident=0x7, next_header=59)"
    )


# ---------------------------------------------------------------------------
# Chain walk and validation
# ---------------------------------------------------------------------------


def packet(nh: int, *exts: bytes, payload: bytes = b"", plen: int | None = None) -> bytes:
    body = b"".join(exts) + payload
    h = Ipv6Header(SRC, DST, next_header=nh, payload_len=len(body) if plen is None else plen)
    return h.to_bytes() + body


UDP = struct.pack("!HHHH", 7, 7, 8, 0)


def test_walk_typical() -> None:
    p = packet(
        0,
        HopByHop([Ipv6Option.router_alert(0)], 60).to_bytes(),
        DestOpts([], 43).to_bytes(),
        RoutingHeader(2, 0, [SRC], next_header=44).to_bytes(),
        FragmentHeader(0, True, 99, 17).to_bytes(),
        payload=UDP,
    )
    for buf in (p, bytearray(p), memoryview(p)):
        c = walk(buf)
        assert c.headers == [(0, 40, 8), (60, 48, 8), (43, 56, 24), (44, 80, 8)]
        assert (c.upper, c.upper_offset, c.upper_nh_offset) == (17, 88, 80)
        assert c.fragment == FragmentHeader(0, True, 99, 17) and c.fragment_offset == 80
        assert c.unfragmentable_len == 80
    v = ip6_validate(p)
    assert v.router_alert == 0 and v.payload_len == len(p) - 40 and not v.jumbo
    assert v.chain == walk(p)
    assert walk_from(p, 0, 40) == walk(p)


def test_walk_lax_on_truncated_invoking_packet() -> None:
    p = packet(
        60, DestOpts([], 43).to_bytes(), RoutingHeader(0, 0, [SRC, DST], next_header=17).to_bytes()
    )
    for cut in range(41, len(p)):
        with pytest.raises(kame.TruncatedError):
            walk(p[:cut])
        c = walk(p[:cut], lax=True)
        assert c.truncated and c.upper_offset <= cut
    c = walk(p[:60], lax=True)
    assert (c.upper, c.upper_offset, c.headers) == (43, 48, [(60, 40, 8)])


def dst_chain(n: int) -> bytes:
    exts = [DestOpts([], 60 if i + 1 < n else 17).to_bytes() for i in range(n)]
    return packet(60 if n else 17, *exts, payload=UDP)


def test_hdrnestlimit() -> None:
    # KAME counts the IPv6 header (with its Hop-by-Hop) and each header
    # after it: IPv6 + 50 DstOpts + UDP is 51 headers.
    p51 = dst_chain(50)
    with pytest.raises(kame.HeaderLimitError) as ei:
        walk(p51, hdrnestlimit=50)
    assert ei.value.limit == 50
    with pytest.raises(kame.HeaderLimitError):
        ip6_validate(p51)  # default 50
    assert len(walk(p51, hdrnestlimit=0)) == 50
    assert ip6_validate(p51, hdrnestlimit=0).chain.upper == 17
    assert len(walk(dst_chain(49), hdrnestlimit=50)) == 49
    assert len(walk(dst_chain(5000), hdrnestlimit=0)) == 5000


def test_hbh_only_first() -> None:
    p = packet(60, DestOpts([], 0).to_bytes(), HopByHop([], 17).to_bytes(), payload=UDP)
    with pytest.raises(kame.MalformedError) as ei:
        walk(p)
    assert ei.value.icmp == kame.Icmp6Answer(4, 1, 40)


@pytest.mark.parametrize(
    ("rtype", "segleft", "ok"),
    [(0, 0, True), (0, 1, False), (2, 0, True), (2, 1, False), (2, 2, False), (3, 1, False),
     (4, 0, True), (4, 3, False), (253, 1, False)],
)
def test_routing_rules(rtype: int, segleft: int, ok: bool) -> None:
    # RFC 5095 §3 and RFC 8200 §4.4. Type 2 (RFC 6275 §6.4) is processed by
    # a Mobile IPv6 mobile node only; to this node it is a routing type it
    # does not process, as type 4 (RFC 8754 §4.3.2) and type 3.
    r = (
        RoutingHeader(rtype, segleft, [SRC], next_header=17)
        if rtype in (0, 2)
        else RoutingHeader(rtype, segleft, data=b"\0" * 20, next_header=17)
    )
    p = packet(43, r.to_bytes(), payload=UDP)
    if ok:
        assert walk(p).upper == 17
    else:
        with pytest.raises(kame.MalformedError) as ei:
            walk(p)
        assert ei.value.icmp == kame.Icmp6Answer(4, 0, 42)


def jumbo_frame(jlen: int, payload: bytes, plen: int = 0, nh: int = 58) -> bytes:
    return packet(0, HopByHop([Ipv6Option.jumbo(jlen)], nh).to_bytes(), payload=payload, plen=plen)


def test_jumbo_length_near_2_32() -> None:
    f = jumbo_frame(0xFFFFFFFF, b"", nh=59)
    assert len(f) == 48
    with pytest.raises(kame.TruncatedError) as ei:
        ip6_validate(f)
    e = ei.value
    assert (e.needed, e.available) == (0xFFFFFFFF + 40, 48)
    assert e.reason == "with data size < data length" and e.icmp is None


def test_jumbogram_68000() -> None:
    # ping6 -b 70000 -s 68000 ::1 (seed §1.7): ICMPv6 echo, 8 + 67992 data.
    icmp = struct.pack("!BBHHH", 128, 0, 0, 0x4B41, 1) + bytes(i & 0xFF for i in range(67992))
    assert len(icmp) == 68000
    f = jumbo_frame(8 + len(icmp), icmp)
    assert len(f) == 68048
    v = ip6_validate(f)
    assert v.jumbo and v.payload_len == 68008 and v.jumbo_offset == 42
    assert v.chain.upper == 58 and v.chain.upper_offset == 48 and v.trailing == 0
    assert v.header.payload_len == 0
    v = ip6_validate(f + b"\0" * 5)
    assert v.trailing == 5


def test_rfc2675_errors() -> None:
    body = b"\0" * 70000
    cases = [
        (jumbo_frame(70008, body, plen=8), 42),  # Payload Length != 0 -> option type
        (jumbo_frame(65535, body), 44),  # Jumbo length < 65536 -> its high octet
        (
            packet(0, HopByHop([Ipv6Option.padn(4)], 58).to_bytes(), payload=body, plen=0),
            4,
        ),  # no Jumbo -> the Payload Length field
        (
            packet(
                0,
                HopByHop([Ipv6Option.jumbo(70016)], 44).to_bytes(),
                FragmentHeader(0, False, 1, 58).to_bytes(),
                payload=body,
                plen=0,
            ),
            48,
        ),  # Jumbo with Fragment -> the Fragment header
        (
            packet(
                0,
                HopByHop(
                    [Ipv6Option.pad1(), Ipv6Option.jumbo(70016), Ipv6Option.padn(5)], 58
                ).to_bytes(pad=False),
                payload=body,
                plen=0,
            ),
            43,
        ),  # misaligned Jumbo -> the option type
    ]
    for frame, pointer in cases:
        with pytest.raises(kame.MalformedError) as ei:
            ip6_validate(frame)
        assert ei.value.icmp == kame.Icmp6Answer(4, 0, pointer), ei.value


def test_unknown_options() -> None:
    def frame(t: int, dst: str) -> bytes:
        h = Ipv6Header(SRC, dst, next_header=60, payload_len=8)
        return h.to_bytes() + DestOpts([Ipv6Option(t, b"\0" * 4)], 59).to_bytes()

    assert ip6_validate(frame(0x1E, "2001:db8::2")).chain.upper == 59
    with pytest.raises(kame.UnsupportedError) as ei:
        ip6_validate(frame(0x5E, "2001:db8::2"))
    assert ei.value.icmp is None
    with pytest.raises(kame.UnsupportedError) as ei:
        ip6_validate(frame(0x9E, "ff02::1"))
    assert ei.value.icmp == kame.Icmp6Answer(4, 2, 42)
    with pytest.raises(kame.UnsupportedError) as ei:
        ip6_validate(frame(0xDE, "ff02::1"))
    assert ei.value.icmp is None


def test_home_address_option() -> None:
    hao = ipaddress.IPv6Address("2001:db8:1::5")
    p = packet(60, DestOpts([Ipv6Option.home_address(hao)], 59).to_bytes())
    assert ip6_validate(p).home_address == hao
    for bad in ("ff02::1", "::", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(kame.MalformedError):
            ip6_validate(packet(60, DestOpts([Ipv6Option.home_address(bad)], 59).to_bytes()))


def test_seed_1_14_addresses() -> None:
    # KAME ip6_input refuses these outright (ip6s_badscope), no ICMPv6.
    for src, dst in (
        ("::ffff:192.0.2.1", DST),
        (SRC, "::ffff:192.0.2.1"),
        ("ff02::1", DST),
        (SRC, "::"),
    ):
        with pytest.raises(kame.MalformedError) as ei:
            ip6_validate(Ipv6Header(src, dst, next_header=59).to_bytes())
        assert ei.value.icmp is None
    # The seed's table of abusable ranges is reported for the node's policy.
    for a in ("::ffff:127.0.0.1", "2002:7f00::1", "2002:c0a8::1", "2002:ac1f::", "::224.0.0.1"):
        assert ip6_suspicious_address(a) is not None, a
    for a in (
        "::",
        "::1",
        "2002:c000:201::1",
        "2001:db8::1",
        ipaddress.IPv6Address("::ffff:192.0.2.1"),
    ):
        assert ip6_suspicious_address(a) is None, a


def test_version_and_short() -> None:
    with pytest.raises(kame.TruncatedError):
        ip6_validate(b"\x60" * 39)
    with pytest.raises(kame.MalformedError):
        ip6_validate(b"\x40" + b"\0" * 39)


# ---------------------------------------------------------------------------
# Robustness: nothing but kame.ParseError, whatever the bytes
# ---------------------------------------------------------------------------


@given(st.binary(max_size=300), st.integers(0, 60), st.booleans())
def test_random_bytes(b: bytes, limit: int, lax: bool) -> None:
    for fn in (lambda: walk(b, limit, lax), lambda: ip6_validate(b, limit)):
        try:
            fn()
        except kame.ParseError:
            pass


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A well-formed chain with a few octets overwritten, so the walk gets deep."""
    exts = draw(st.lists(st.sampled_from([0, 43, 44, 51, 60]), max_size=6))
    parts = []
    for i, t in enumerate(exts):
        nxt = exts[i + 1] if i + 1 < len(exts) else 17
        if t in (0, 60):
            parts.append(
                (HopByHop if t == 0 else DestOpts)(
                    draw(st.lists(options, max_size=3)), nxt
                ).to_bytes()
            )
        elif t == 43:
            parts.append(RoutingHeader(0, 0, [SRC], next_header=nxt).to_bytes())
        elif t == 44:
            parts.append(FragmentHeader(0, False, 1, nxt).to_bytes())
        else:
            parts.append(bytes([nxt, 4]) + b"\0" * 22)
    b = bytearray(packet(exts[0] if exts else 17, *parts, payload=UDP))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(b) - 1))
        b[i] = draw(u8)
    return bytes(b[: draw(st.integers(0, len(b)))])


@given(mutated(), st.integers(0, 8))
def test_mutated_chains(b: bytes, limit: int) -> None:
    for fn in (
        lambda: walk(b, limit),
        lambda: walk(b, limit, True),
        lambda: ip6_validate(b, limit),
    ):
        try:
            fn()
        except kame.ParseError as e:
            assert e.offset is not None and e.offset <= max(len(b), 40)
