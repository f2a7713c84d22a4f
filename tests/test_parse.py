"""kame.parse / kame.parse_many: whole-packet dissection from Python."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame

scapy_inet6 = pytest.importorskip("scapy.layers.inet6")
scapy_inet = pytest.importorskip("scapy.layers.inet")
IPv6 = scapy_inet6.IPv6
UDP, TCP, IP, ICMP = scapy_inet.UDP, scapy_inet.TCP, scapy_inet.IP, scapy_inet.ICMP


def test_udp_fields_match_scapy():
    s = IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=7, tc=0x2e, fl=0x12345) / UDP(
        sport=5353, dport=53
    ) / b"payload"
    p = kame.parse(bytes(s))
    assert p.version == 6
    assert p.src == ipaddress.IPv6Address("2001:db8::1")
    assert p.dst_bytes == ipaddress.IPv6Address("2001:db8::2").packed
    assert (p.hop_limit, p.traffic_class, p.flow_label) == (7, 0x2E, 0x12345)
    assert (p.upper_proto, p.sport, p.dport) == (17, 5353, 53)
    assert p.payload == b"payload"
    assert p.cksum_ok is True
    assert p.payload_len == len(s) - 40
    assert bytes(p) == bytes(s) and len(p) == len(s)


def test_bad_checksum_is_reported_not_raised():
    b = bytearray(bytes(IPv6(src="::1", dst="::1") / TCP(sport=1, dport=2) / b"x"))
    b[-1] ^= 0xFF
    p = kame.parse(b)
    assert p.cksum_ok is False
    assert kame.parse(b, verify_cksum=False).cksum_ok is None


def test_extension_headers_and_objects():
    s = (
        IPv6(src="2001:db8::1", dst="ff02::16")
        / scapy_inet6.IPv6ExtHdrHopByHop(options=[scapy_inet6.RouterAlert(value=0)])
        / scapy_inet6.IPv6ExtHdrDestOpt()
        / UDP(sport=1, dport=2)
    )
    p = kame.parse(bytes(s))
    assert [h[0] for h in p.chain] == [0, 60]
    assert p.router_alert == 0
    hbh, dst = p.headers
    assert isinstance(hbh, kame.HopByHop) and isinstance(dst, kame.DestOpts)
    assert p.upper_offset == 40 + 8 + 8


def test_non_first_fragment_has_no_upper():
    s = IPv6(src="2001:db8::1", dst="2001:db8::2") / scapy_inet6.IPv6ExtHdrFragment(
        id=99, offset=10, m=1, nh=17
    ) / (b"z" * 16)
    p = kame.parse(bytes(s))
    assert p.upper_proto == 44
    assert p.fragment == (80, True, 99)
    assert p.sport is None and p.cksum_ok is None


def test_ipv4_and_ethernet():
    s = IP(src="192.0.2.1", dst="198.51.100.2", ttl=9) / ICMP() / b"abcd"
    p = kame.parse(bytes(s))
    assert (p.version, str(p.src), p.hop_limit, p.upper_proto, p.icmp_type) == (
        4, "192.0.2.1", 9, 1, 8)
    assert p.cksum_ok is True
    from scapy.layers.l2 import Ether

    f = Ether(src="02:00:00:00:00:01", dst="33:33:00:00:00:01") / IPv6(src="fe80::1", dst="ff02::1") / UDP()
    q = kame.parse(bytes(f), link="ether")
    assert q.link == (bytes.fromhex("020000000001"), bytes.fromhex("333300000001"), 0x86DD)
    assert q.upper_offset == 14 + 40


def test_refusals_are_typed():
    good = bytes(IPv6(src="::1", dst="::1") / UDP(sport=1, dport=2))
    with pytest.raises(kame.TruncatedError) as ei:
        kame.parse(good[:44])  # the IPv6 header still says 8 octets follow
    assert ei.value.layer == "ipv6" and (ei.value.needed, ei.value.available) == (48, 44)
    short = bytearray(good[:44])
    short[4:6] = (4).to_bytes(2, "big")  # now it says 4: the UDP header is cut
    with pytest.raises(kame.TruncatedError) as ei:
        kame.parse(short)
    assert (ei.value.layer, ei.value.offset, ei.value.needed) == ("udp", 40, 8)
    with pytest.raises(kame.MalformedError):
        kame.parse(b"\x50" + good[1:])
    with pytest.raises(TypeError):
        kame.parse("not bytes")


def test_hdrnestlimit_is_honoured():
    s = IPv6(src="::1", dst="::1")
    for _ in range(60):
        s = s / scapy_inet6.IPv6ExtHdrDestOpt()
    b = bytes(s / UDP())
    with pytest.raises(kame.HeaderLimitError):
        kame.parse(b)
    assert kame.parse(b, hdrnestlimit=0).upper_proto == 17


def test_parse_many_agrees_with_parse():
    pkts = [
        bytes(IPv6(src="::1", dst="::2") / UDP(sport=i, dport=i + 1)) for i in range(50)
    ] + [b"\x60\x00", b""]
    batch = kame.parse_many(pkts)
    assert len(batch) == 52 and batch.ok_count == 50
    assert batch.upper_protos() == bytes([17] * 50 + [255, 255])
    assert [i for i, _ in batch.errors()] == [50, 51]
    assert all(isinstance(e, kame.ParseError) for _, e in batch.errors())
    assert batch[3].sport == 3 and batch[-3].dport == 50
    with pytest.raises(kame.TruncatedError):
        batch[50]
    with pytest.raises(IndexError):
        batch[52]


@given(st.binary(max_size=300), st.sampled_from(["raw", "ether"]), st.integers(0, 60))
def test_random_bytes_only_raise_parse_errors(data, link, limit):
    try:
        p = kame.parse(data, link=link, hdrnestlimit=limit)
    except kame.ParseError:
        return
    # Whatever was accepted can be read back without raising.
    repr(p), p.chain, p.payload, p.upper_bytes, p.sport, p.fragment


@given(st.lists(st.binary(max_size=120), max_size=30))
def test_parse_many_never_raises(items):
    batch = kame.parse_many(items)
    assert len(batch) == len(items)
    for i, e in batch.errors():
        with pytest.raises(type(e)):
            batch[i]


@given(
    st.binary(max_size=200),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 255),
)
def test_scapy_built_udp_round_trips(payload, sport, dport, hlim):
    b = bytes(IPv6(src="2001:db8::a", dst="2001:db8::b", hlim=hlim) / UDP(sport=sport, dport=dport) / payload)
    p = kame.parse(b)
    assert (p.sport, p.dport, p.hop_limit, p.payload, p.cksum_ok) == (sport, dport, hlim, payload, True)


def _udp(src: str, dst: str, sport: int, dport: int, payload: bytes = b"") -> bytes:
    return bytes(IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload)


@given(st.lists(st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**128 - 1)), min_size=1, max_size=40))
def test_struct_members_match_the_bytes(pairs):
    """The flow-key members come from a shared intern table: whatever it
    evicts or keeps, each packet's octets, ports and addresses are its own."""
    pkts = []
    for i, (s, d) in enumerate(pairs):
        s = s & ~(0xFF << 120) | (0x20 << 120)  # neither multicast nor v4-mapped
        d = d & ~(0xFF << 120) | (0x20 << 120)
        pkts.append(_udp(str(ipaddress.IPv6Address(s)), str(ipaddress.IPv6Address(d)), i, 65535 - i))
    parsed = [kame.parse(b) for b in pkts]
    for i, (b, p) in enumerate(zip(pkts, parsed)):
        assert p.src_bytes == b[8:24] and p.dst_bytes == b[24:40]
        assert p.src == ipaddress.IPv6Address(b[8:24]) and p.dst == ipaddress.IPv6Address(b[24:40])
        assert (p.sport, p.dport, p.hop_limit, p.upper_proto) == (i, 65535 - i, 64, 17)


def test_many_addresses_evict_cleanly():
    """More distinct addresses than the intern table holds."""
    pkts = [_udp(f"2001:db8::{i:x}", f"2001:db8:1::{i:x}", 7, 9) for i in range(1, 3000)]
    for b, p in zip(pkts, (kame.parse(b) for b in pkts)):
        assert p.src_bytes == b[8:24] and str(p.dst) == str(ipaddress.IPv6Address(b[24:40]))


def test_cksum_verdict_read_on_demand_matches_the_batch():
    good = _udp("2001:db8::1", "2001:db8::2", 1, 2, b"abc")
    bad = bytearray(good)
    bad[-1] ^= 1
    frag = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / scapy_inet6.IPv6ExtHdrFragment(m=1) / UDP())
    batch = kame.parse_many([good, bytes(bad), frag])
    assert batch.cksum_verdicts() == bytes([1, 2, 0])
    assert [kame.parse(x).cksum_ok for x in (good, bad, frag)] == [True, False, None]
    assert [batch[i].cksum_ok for i in range(3)] == [True, False, None]
    p = kame.parse(bytes(bad))
    assert p.cksum_ok is False and p.cksum_ok is False  # kept after the first read
    assert kame.parse_many([bytes(bad)], verify_cksum=False).cksum_verdicts() == b"\x00"


def test_parse_many_accepts_any_sequence_of_buffers():
    b = _udp("2001:db8::1", "2001:db8::2", 1, 2, b"abc")
    for packets in ([b, b], (b, b), iter([b, b]), [bytearray(b), memoryview(b)]):
        batch = kame.parse_many(packets)
        assert len(batch) == 2 and batch.ok_count == 2
        assert batch[0].sport == 1 and bytes(batch[1]) == b
    with pytest.raises(TypeError):
        kame.parse_many(["not bytes"])


def test_ipv4_packet_fields():
    b = bytes(IP(src="192.0.2.1", dst="198.51.100.2", ttl=9) / UDP(sport=1, dport=2) / b"x")
    p = kame.parse(b)
    assert p.version == 4 and p.src == ipaddress.IPv4Address("192.0.2.1")
    assert p.src_bytes == bytes([192, 0, 2, 1]) and p.hop_limit == 9
    assert (p.sport, p.dport, p.cksum_ok) == (1, 2, True)


def test_parse_many_over_one_buffer_with_offsets():
    pkts = [_udp("2001:db8::1", "2001:db8::2", i, i + 1, b"p" * i) for i in range(1, 20)] + [b"\x60\x00"]
    blob = bytearray(b"".join(pkts))
    offsets = [0]
    for b in pkts:
        offsets.append(offsets[-1] + len(b))
    batch = kame.parse_many(blob, offsets=offsets)
    each = kame.parse_many(pkts)
    assert len(batch) == len(pkts) and batch.ok_count == len(pkts) - 1
    assert batch.upper_protos() == each.upper_protos()
    assert batch.cksum_verdicts() == each.cksum_verdicts()
    assert [i for i, _ in batch.errors()] == [len(pkts) - 1]
    blob[:] = b"\0" * len(blob)  # the batch holds its own copy
    for i in range(len(pkts) - 1):
        assert bytes(batch[i]) == pkts[i] and batch[i].sport == i + 1
    assert len(kame.parse_many(b"", offsets=[])) == 0
    with pytest.raises(ValueError):
        kame.parse_many(bytes(8), offsets=[0, 9])
    with pytest.raises(ValueError):
        kame.parse_many(bytes(8), offsets=[4, 2])
