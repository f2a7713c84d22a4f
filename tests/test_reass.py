"""IPv6 fragmentation and reassembly: kame.fragment, kame.Reassembler.

RFC 8200 §4.5 (fragment rules, 60 s timeout), RFC 5722 (overlaps), RFC 6946
(atomic fragments), RFC 7112 (incomplete first fragments), RFC 2675 §3
(no jumbograms with a Fragment header). The round trip is checked here
against the original bytes; the independent oracles (scapy's fragment6 /
defragment6, tshark's reassembly) are in tests/interop/test_reass_peers.py.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame import Icmp6Answer, Reassembler, fragment

SRC = bytes.fromhex("20010db8000000000000000000000001")
DST = bytes.fromhex("20010db8000000000000000000000002")


def ipv6(nh: int, payload: bytes, *, src: bytes = SRC, dst: bytes = DST, tc: int = 0) -> bytes:
    first = (6 << 28) | (tc << 20) | 0x12345
    return struct.pack("!IHBB", first, len(payload), nh, 64) + src + dst + payload


def udp(data: bytes) -> bytes:
    return struct.pack("!HHHH", 1234, 5678, 8 + len(data), 0) + data


def ext(nh: int, body_len8: int = 0) -> bytes:
    """An options header (HBH / DstOpts) of 8*(n+1) octets, one PadN."""
    return bytes([nh, body_len8]) + bytes([1, 4 + 8 * body_len8]) + bytes(4 + 8 * body_len8)


def routing(nh: int) -> bytes:
    # Routing type 4 (SRH-like) with Segments Left 0: 8 octets.
    return bytes([nh, 0, 4, 0, 0, 0, 0, 0])


def build(layout: str, data: bytes) -> bytes:
    """IPv6 packets with various chains in front of UDP."""
    u = udp(data)
    if layout == "plain":
        return ipv6(17, u)
    if layout == "hbh":
        return ipv6(0, ext(17) + u)
    if layout == "routing":
        return ipv6(0, ext(60) + ext(43) + routing(60) + ext(17, 1) + u)
    if layout == "dstopts":
        return ipv6(60, ext(17) + u)
    if layout == "icmpv6":
        return ipv6(58, struct.pack("!BBHHH", 128, 0, 0, 7, 1) + data)
    raise AssertionError(layout)


def frag_fields(f: bytes, frag_off: int) -> tuple[int, int, bool, int]:
    nh, _res, offlg, ident = struct.unpack_from("!BBHI", f, frag_off)
    return nh, offlg & 0xFFF8, bool(offlg & 1), ident


LAYOUTS = ["plain", "hbh", "routing", "dstopts", "icmpv6"]
UNFRAG = {"plain": 40, "hbh": 48, "routing": 64, "dstopts": 40, "icmpv6": 40}


# --- fragmenting ------------------------------------------------------------


@given(
    layout=st.sampled_from(LAYOUTS),
    data=st.binary(min_size=0, max_size=20000),
    mtu=st.integers(min_value=1280, max_value=9000),
    ident=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_fragment_rules(layout: str, data: bytes, mtu: int, ident: int) -> None:
    """RFC 8200 §4.5: each fragment <= MTU, pieces multiples of 8 but the
    last, unfragmentable part repeated, Next Header 44 then the original,
    Payload Length right, the pieces concatenate to the fragmentable part."""
    p = build(layout, data)
    frags = fragment(p, mtu, ident)
    if len(p) <= mtu:
        assert frags == [p]
        return
    u = UNFRAG[layout]
    orig_nh = p[6] if u == 40 else p[u - 8]
    body = b""
    for i, f in enumerate(frags):
        assert len(f) <= mtu
        assert struct.unpack_from("!H", f, 4)[0] == len(f) - 40
        nh, off, more, fid = frag_fields(f, u)
        assert (nh, fid) == (orig_nh, ident)
        assert off == len(body)
        assert more == (i < len(frags) - 1)
        piece = f[u + 8 :]
        if more:
            assert len(piece) % 8 == 0 and piece
        # the unfragmentable part is repeated with its Next Header patched
        nh_at = 6 if u == 40 else u - 8
        assert f[nh_at] == 44
        assert f[:4] == p[:4] and f[6:nh_at] + f[nh_at + 1 : u] == p[6:nh_at] + p[nh_at + 1 : u]
        body += piece
    assert body == p[u:]


def test_fragment_explicit_offsets_and_buffers() -> None:
    p = build("routing", bytes(range(256)) * 10)
    a = fragment(p, 1280, 9)
    b = fragment(bytearray(p), 1280, 9, unfrag_len=64, nh_offset=56)
    c = fragment(memoryview(p), 1280, 9)
    assert a == b == c
    with pytest.raises(TypeError):
        fragment(p, 1280, 9, unfrag_len=64)


def test_fragment_errors() -> None:
    p = build("plain", bytes(3000))
    with pytest.raises(kame.ConfigError):
        fragment(p, 1279, 1)
    with pytest.raises(kame.TruncatedError):
        fragment(p[:1000], 1280, 1)
    with pytest.raises(kame.MalformedError):
        fragment(fragment(p, 1280, 1)[0], 1280, 1)
    # RFC 2675 §3: a jumbogram cannot be fragmented
    jumbo = (
        ipv6(0, b"")[:40] + bytes([17, 0, 0xC2, 4]) + struct.pack("!I", 70000) + bytes(70000 - 8)
    )
    with pytest.raises(kame.UnsupportedError) as ei:
        fragment(jumbo, 1280, 1)
    assert "RFC 2675" in str(ei.value)
    with pytest.raises(kame.UnsupportedError):
        kame.atomic_fragment(jumbo, 1)


def test_atomic_fragment() -> None:
    p = build("hbh", b"hello")
    a = kame.atomic_fragment(p, 0xCAFE)
    assert frag_fields(a, 48) == (17, 0, False, 0xCAFE)
    r = Reassembler()
    o = r.input_packet(a, 0.0)
    assert (o.kind, o.packet) == ("reassembled", p)
    assert r.stats["ip6s_atomicfrags"] == 1 and len(r) == 0


# --- reassembly round trip --------------------------------------------------


@given(
    layout=st.sampled_from(LAYOUTS),
    data=st.binary(min_size=1300, max_size=30000),
    mtu=st.integers(min_value=1280, max_value=4000),
    ident=st.integers(min_value=0, max_value=2**32 - 1),
    perm=st.randoms(use_true_random=False),
)
def test_roundtrip_any_order(layout, data, mtu, ident, perm) -> None:
    """fragment -> shuffle -> reassemble gives back the packet exactly."""
    p = build(layout, data)
    frags = fragment(p, min(mtu, len(p) - 1), ident)
    assert len(frags) >= 2
    perm.shuffle(frags)
    r = Reassembler()
    outs = [r.input_packet(f, 1.0, zone=3) for f in frags]
    assert [o.kind for o in outs[:-1]] == ["incomplete"] * (len(frags) - 1)
    assert outs[-1].kind == "reassembled"
    assert outs[-1].packet == p
    assert len(r) == 0 and r.bytes_held == 0
    assert r.stats["ip6s_reassembled"] == 1
    assert r.stats["ip6s_fragments"] == len(frags)


@given(
    data=st.lists(st.binary(min_size=1300, max_size=5000), min_size=2, max_size=6),
    seed=st.randoms(use_true_random=False),
)
def test_interleaved_datagrams(data, seed) -> None:
    packets = [build("plain", d) for d in data]
    all_frags = [f for i, p in enumerate(packets) for f in fragment(p, 1280, i)]
    seed.shuffle(all_frags)
    r = Reassembler()
    got = [o.packet for o in (r.input_packet(f, 0.0) for f in all_frags) if o.kind == "reassembled"]
    assert sorted(got) == sorted(packets)


# --- RFC rules through the Python API ----------------------------------------


def test_overlap_and_timeout_answers() -> None:
    p = build("plain", bytes(range(256)) * 12)
    f = fragment(p, 1280, 77)
    r = Reassembler()
    assert r.input_packet(f[0], 0.0).kind == "incomplete"
    o = r.input_packet(f[0], 0.0)  # an exact duplicate: RFC 5722 overlap
    assert (o.kind, o.reason) == ("dropped", "ip6s_fragoverlap")
    assert r.input_packet(f[1], 1.0).reason == "ip6s_fragoverlap"
    assert r.expire(100.0) == []  # abandoned: no Time Exceeded
    # a queue with its first fragment times out with Time Exceeded code 1
    r.input_packet(f[0], 200.0, zone=5)
    assert r.next_deadline() == 260.0
    [(icmp, invoking, zone)] = r.expire(260.0)
    assert icmp == Icmp6Answer(3, 1, 0) and isinstance(icmp, kame.Icmp6Answer)
    assert invoking == f[0][:1232] and zone == 5
    assert r.stats["ip6s_fragtimeout"] == 1


def test_param_problems() -> None:
    p = build("plain", bytes(3000))
    f = fragment(p, 1280, 1)
    r = Reassembler()
    short = bytearray(f[1][:-3])
    struct.pack_into("!H", short, 4, len(short) - 40)
    o = r.input_packet(short, 0.0)
    assert (o.kind, o.icmp, o.reason) == ("answer", Icmp6Answer(4, 0, 4), "ip6s_fragbadlen")
    far = bytearray(f[2])
    struct.pack_into("!H", far, 42, 65528)
    assert r.input_packet(far, 0.0).icmp == Icmp6Answer(4, 0, 42)
    # RFC 7112: caller says the chain is incomplete
    o = r.input(f[0], 40, 6, 0.0, chain_complete=False)
    assert o.icmp == Icmp6Answer(4, 3, 0)
    # ...or we find it ourselves: a first fragment with 8 octets of TCP
    tcp = ipv6(6, bytes(2000))
    t = bytearray(fragment(tcp, 1280, 2)[0][:56])
    struct.pack_into("!H", t, 4, 16)
    assert r.input_packet(t, 0.0).icmp == Icmp6Answer(4, 3, 0)
    assert r.input_packet(p, 0.0).kind == "not_fragment"


def test_caps_settable_and_eviction() -> None:
    r = Reassembler(timeout=5.0, max_bytes=3000, max_queues=2, max_frags_per_queue=3)
    assert (r.timeout, r.max_bytes, r.max_queues, r.max_frags_per_queue) == (5.0, 3000, 2, 3)
    ps = [fragment(build("plain", bytes(4000)), 1280, i) for i in range(3)]
    for fr in ps:
        r.input_packet(fr[1], 0.0)
    assert len(r) == 2 and r.stats["ip6s_fragoverflow"] == 1
    assert r.bytes_held <= 3000
    r.max_queues = 1
    assert len(r) == 1
    with pytest.raises(kame.ConfigError):
        r.timeout = -1.0
    with pytest.raises(kame.ConfigError):
        r.input_packet(ps[0][0], float("nan"))
    assert set(r.stats) >= {
        "ip6s_fragments",
        "ip6s_fragdropped",
        "ip6s_fragtimeout",
        "ip6s_fragoverflow",
        "ip6s_reassembled",
        "ip6s_atomicfrags",
        "ip6s_fragoverlap",
    }


# --- never anything but kame errors; memory bounded -------------------------

frag_strategy = st.builds(
    lambda src, ident, off, more, n, lay, nh, tc: (src, ident, off, more, n, lay, nh, tc),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 0x1FFF),
    st.booleans(),
    st.integers(0, 1500),
    st.sampled_from(["plain", "hbh", "routing"]),
    st.sampled_from([17, 6, 58, 60, 59]),
    st.integers(0, 3),
)


def make_fragment(src, ident, off8, more, n, lay, nh, tc) -> bytes:
    fh = struct.pack("!BBHI", nh, 0, (off8 << 3) | int(more), ident)
    data = bytes((i * 7 + off8) & 0xFF for i in range(n))
    s = SRC[:-1] + bytes([src])
    if lay == "plain":
        return ipv6(44, fh + data, src=s, tc=tc)
    if lay == "hbh":
        return ipv6(0, bytes([44, 0, 1, 4, 0, 0, 0, 0]) + fh + data, src=s, tc=tc)
    return ipv6(43, bytes([44, 0, 4, 0, 0, 0, 0, 0]) + fh + data, src=s, tc=tc)


ops = st.one_of(
    st.tuples(st.just("frag"), frag_strategy),
    st.tuples(st.just("raw"), st.binary(max_size=200)),
    st.tuples(st.just("tick"), st.floats(0, 30)),
    st.tuples(
        st.just("lowlevel"), st.binary(max_size=120), st.integers(0, 130), st.integers(0, 130)
    ),
)


@given(
    caps=st.tuples(st.integers(0, 20000), st.integers(0, 8), st.integers(0, 10)),
    script=st.lists(ops, max_size=80),
)
def test_random_sequences_bounded(caps, script) -> None:
    max_bytes, max_queues, max_frags = caps
    r = Reassembler(
        timeout=10.0, max_bytes=max_bytes, max_queues=max_queues, max_frags_per_queue=max_frags
    )
    now = 0.0
    for op in script:
        try:
            if op[0] == "frag":
                o = r.input_packet(make_fragment(*op[1]), now, zone=op[1][0] & 1)
                assert o.kind in {"incomplete", "reassembled", "dropped", "answer"}
                if o.kind == "reassembled":
                    assert struct.unpack_from("!H", o.packet, 4)[0] == len(o.packet) - 40
            elif op[0] == "raw":
                r.input_packet(op[1], now)
            elif op[0] == "tick":
                now += op[1]
                for icmp, invoking, _zone in r.expire(now):
                    assert icmp == Icmp6Answer(3, 1, 0) and len(invoking) <= 1232
            else:
                r.input(op[1], op[2], op[3], now)
        except kame.KameError:
            pass
        assert r.bytes_held <= max_bytes
        assert len(r) <= max_queues
        s = r.stats
        assert (
            s["ip6s_fragments"]
            >= r.frags_held + s["ip6s_fragdropped"] + s["ip6s_fragtimeout"] + s["ip6s_fragoverflow"]
        )
