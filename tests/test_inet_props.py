"""Hypothesis properties of the IPv4 byte paths (kame_core::inet) and of
the node's IPv4/ARP input: any bytes give a typed error or a counted drop,
never another exception; what we build parses back; fragments reassemble
in any order; scapy reads our datagrams, ARP and ICMP to the same fields."""

from __future__ import annotations

from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.errors import KameError
from kame.knobs import Knobs
from kame.node import Node

addr4 = st.integers(1, 0xDFFFFFFF).map(IPv4Address)
MAC = bytes.fromhex("02000000000a")


@given(st.binary(max_size=120), st.booleans())
def test_ip_validate_total(data: bytes, verify: bool) -> None:
    try:
        v = _core.ip_validate(data, verify)
    except KameError as e:
        assert e.layer == "ipv4"
        return
    assert 20 <= v.header_len <= v.total_len <= len(data)


@given(st.binary(max_size=80))
def test_icmp_and_arp_parse_total(data: bytes) -> None:
    for f in (_core.icmp_parse, _core.arp_parse):
        try:
            f(data)
        except KameError as e:
            assert e.layer in ("icmp", "arp")


@given(addr4, addr4, st.integers(0, 255), st.binary(max_size=4000),
       st.integers(0, 255), st.integers(0, 0xFFFF),
       st.sampled_from([b"", b"\x01\x01\x01\x01", b"\x94\x04\x00\x00",
                        b"\x07\x07\x04\x00\x00\x00\x00\x01"]),
       st.integers(68, 2000), st.randoms(use_true_random=False))
def test_build_fragment_reassemble_any_order(src: IPv4Address, dst: IPv4Address, proto: int,
                                             payload: bytes, tos: int, ident: int, opts: bytes,
                                             mtu: int, rnd: object) -> None:
    pkt = _core.ip_build(src, dst, proto, payload, tos=tos & 0xFC, ident=ident, options=opts)
    v = _core.ip_validate(pkt)
    assert (v.src, v.dst, v.protocol, v.total_len) == (src, dst, proto, len(pkt))
    try:
        frags = _core.ip_fragment(pkt, mtu)
    except KameError:
        assert mtu < v.header_len + 8
        return
    assert all(len(f) <= mtu for f in frags) or len(frags) == 1
    r = _core.IpReassembler(max_frags_per_queue=10000)
    order = list(frags)
    rnd.shuffle(order)  # type: ignore[attr-defined]
    outs = [r.input(f, 0.0) for f in order]
    if len(frags) == 1:
        assert outs == [("not_fragment", None, None)]
    else:
        assert outs[-1] == ("reassembled", pkt, None)
        assert r.bytes_held == 0 and len(r) == 0


@given(addr4, addr4, st.binary(max_size=100), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_scapy_reads_what_we_build(src: IPv4Address, dst: IPv4Address, data: bytes,
                                   ident: int, seq: int) -> None:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP

    msg = _core.icmp_build(8, 0, ident << 16 | seq, data)
    p = IP(_core.ip_build(src, dst, 1, msg, ttl=33))
    assert (p.src, p.dst, p.ttl) == (str(src), str(dst), 33)
    assert p[ICMP].id == ident and p[ICMP].seq == seq and bytes(p[ICMP].payload) == data
    assert IP(bytes(p)).chksum == p.chksum  # our header checksum is the one scapy computes
    a = ARP(_core.arp_build(2, b"\x02" * 6, src, b"\x04" * 6, dst))
    assert (a.op, a.psrc, a.pdst, a.hwsrc) == (2, str(src), str(dst), "02:02:02:02:02:02")


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=14, max_size=200), max_size=20))
def test_node_survives_any_ipv4_and_arp_frames(payloads: list[bytes]) -> None:
    n = Node("n", knobs=Knobs({"net.link.ether.inet.dad_count": 0,
                               "net.inet.ip.forwarding": 1}), seed=1)
    n.add_interface("eth0", MAC)
    n.up("eth0", 0.0)
    n.add_address4("eth0", "192.0.2.1/24", 0.0)
    n.inet.route_add("default", "192.0.2.254")
    for i, p in enumerate(payloads):
        etype = b"\x08\x06" if i % 2 else b"\x08\x00"
        for frame in (MAC + b"\x02\x00\x00\x00\x00\x01" + etype + p,
                      b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + etype + p):
            n.receive("eth0", frame, float(i))
    n.poll(100.0)
    assert len(n.inet.arptab) <= n.knobs["net.link.ether.inet.max_entries"]
