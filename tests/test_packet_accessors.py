"""`Packet`'s direct field accessors (issue 12 item 5): the ND fields read
from the bytes (`nd_target`, `nd_source_lladdr`, `nd_target_lladdr`,
`nd_mtu`, `nd_prefixes`, `nd_prefix`, `nd_prefix_len`, `nd_options`),
the TCP fields (`seq`, `ack`, `tcp_flags`, `window`), the fragment
fields (`frag_offset`, `frag_ident`) and the flow key (`src_bytes`,
`dst_bytes`, `hop_limit`, `upper_proto`, `sport`, `dport`, computed on
first read) agree with the whole message objects (`Packet.upper`,
`Packet.tcp`, `Packet.fragment`) and with scapy, an independent
dissector, on every packet the strategies draw; and they refuse what
`upper` refuses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)

import kame
from kame import strategies as ks

ND = (133, 134, 135, 136, 137)


def _opts_scapy(pkt: IPv6) -> list[tuple[int, bytes]]:
    """(type, data) of each ND option, walked from scapy's view of the
    ICMPv6 message: the option area after the fixed part."""
    raw = bytes(pkt[IPv6].payload)
    at = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40}[raw[0]]
    out = []
    while at + 2 <= len(raw) and raw[at + 1]:
        n = raw[at + 1] * 8
        out.append((raw[at], raw[at + 2:at + n]))
        at += n
    return out


@settings(max_examples=300)
@given(ks.icmpv6_packets(kinds=("nd",)))
def test_nd_accessors_equal_upper_and_scapy(g: ks.GenPacket) -> None:
    p = kame.parse(g.data)
    u = p.upper
    assert p.icmp_type in ND
    want_target = getattr(u, "target", None)
    assert p.nd_target == want_target
    assert p.nd_source_lladdr == getattr(u, "source_lladdr", None)
    assert p.nd_target_lladdr == getattr(u, "target_lladdr", None)
    assert p.nd_mtu == getattr(u, "mtu", None)
    if hasattr(u, "prefixes"):
        assert [(x.prefix, x.prefix_len, x.flags, x.valid_lifetime, x.preferred_lifetime)
                for x in p.nd_prefixes] == [
            (x.prefix, x.prefix_len, x.flags, x.valid_lifetime, x.preferred_lifetime)
            for x in u.prefixes]
    first = p.nd_prefixes[0] if p.nd_prefixes else None
    assert p.nd_prefix == (first.prefix if first else None)
    assert p.nd_prefix_len == (first.prefix_len if first else None)
    # the raw options against scapy's bytes, capped as KAME caps them
    assert p.nd_options == _opts_scapy(IPv6(g.data))[:10]
    assert len(p.nd_options) == len(u.options)
    if want_target is not None:
        assert p.nd_target == ipaddress.IPv6Address(IPv6(g.data)[IPv6].payload.tgt)


@settings(max_examples=200)
@given(ks.ipv6_packets(uppers=("tcp",)))
def test_tcp_accessors_equal_tuple_and_scapy(g: ks.GenPacket) -> None:
    p = kame.parse(g.data)
    if p.tcp is None:  # the chain drawn ended in ESP
        assert p.upper_proto == 50 and p.seq is None and p.window is None
        return
    assert (p.seq, p.ack, p.tcp_flags, p.window) == p.tcp
    # scapy stops at AH: it reads the TCP header where our chain walk ends
    t = IPv6(g.data)[TCP] if TCP in IPv6(g.data) else TCP(g.data[p.upper_offset:])
    assert (p.seq, p.ack, p.window) == (t.seq, t.ack, t.window)
    assert p.tcp_flags is not None and p.tcp_flags & 0xff == int(t.flags) & 0xff


@settings(max_examples=100)
@given(ks.ipv6_packets(uppers=("udp", "echo", "error", "none")))
def test_accessors_are_none_on_other_packets(g: ks.GenPacket) -> None:
    p = kame.parse(g.data)
    assert (p.seq, p.ack, p.tcp_flags, p.window) == (None, None, None, None)
    assert (p.nd_target, p.nd_source_lladdr, p.nd_target_lladdr, p.nd_mtu) == (None,) * 4
    assert (p.nd_prefix, p.nd_prefix_len) == (None, None)
    assert p.nd_prefixes == [] and p.nd_options == []


@settings(max_examples=200)
@given(ks.ipv6_packets())
def test_flow_key_and_fragment_fields_equal_scapy(g: ks.GenPacket) -> None:
    p = kame.parse(g.data)
    ip = IPv6(g.data)
    assert p.src_bytes == ipaddress.IPv6Address(ip.src).packed == p.src.packed
    assert p.dst_bytes == ipaddress.IPv6Address(ip.dst).packed == p.dst.packed
    assert p.hop_limit == ip.hlim
    # read twice, the same object (the address table shares it)
    assert p.src_bytes is p.src_bytes
    f = p.fragment
    assert (p.frag_offset, p.frag_ident) == ((f[0], f[2]) if f else (None, None))
    if IPv6ExtHdrFragment in ip:
        fh = ip[IPv6ExtHdrFragment]
        assert (p.frag_offset, p.frag_ident) == (fh.offset * 8, fh.id)
    else:
        assert p.frag_offset is None and p.frag_ident is None
    if p.upper_proto == 17 and UDP in ip:
        assert (p.sport, p.dport) == (ip[UDP].sport, ip[UDP].dport)
    elif p.upper_proto == 6 and TCP in ip:
        assert (p.sport, p.dport) == (ip[TCP].sport, ip[TCP].dport)
    elif p.upper_proto not in (6, 17):
        assert p.sport is None and p.dport is None


def test_fragment_fields_behind_options_headers() -> None:
    b = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop()
              / IPv6ExtHdrDestOpt() / IPv6ExtHdrFragment(id=0x89abcdef, offset=100, m=1)
              / (b"f" * 400))
    p = kame.parse(b)
    assert (p.frag_offset, p.frag_ident) == (800, 0x89abcdef)
    assert p.fragment == (800, True, 0x89abcdef)
    assert (p.hop_limit, p.upper_proto, p.sport, p.dport) == (64, 44, None, None)


def _ns(*opts: object) -> bytes:
    m = ICMPv6ND_NS(tgt="fe80::2")
    for o in opts:
        m = m / o
    return bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / m)


def test_ns_fields() -> None:
    p = kame.parse(_ns(ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
                       ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:09")))
    assert p.nd_target == ipaddress.IPv6Address("fe80::2")
    assert p.nd_source_lladdr == bytes.fromhex("020000000001")  # first wins
    assert p.nd_target_lladdr is None and p.nd_mtu is None
    assert [t for t, _ in p.nd_options] == [1, 1]


def test_ra_fields() -> None:
    ra = bytes(IPv6(src="fe80::1", dst="ff02::1", hlim=255) / ICMPv6ND_RA()
               / ICMPv6NDOptMTU(mtu=1480)
               / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64)
               / ICMPv6NDOptPrefixInfo(prefix="2001:db8:2::", prefixlen=48))
    p = kame.parse(ra)
    assert p.nd_mtu == 1480 and p.nd_target is None
    assert [(x.prefix, x.prefix_len) for x in p.nd_prefixes] == [
        (ipaddress.IPv6Address("2001:db8:1::"), 64), (ipaddress.IPv6Address("2001:db8:2::"), 48)]
    # the first one wins, as `nd_prefixes[0]`
    assert (p.nd_prefix, p.nd_prefix_len) == (ipaddress.IPv6Address("2001:db8:1::"), 64)


def test_na_target_lladdr() -> None:
    na = bytes(IPv6(src="fe80::2", dst="fe80::1", hlim=255) / ICMPv6ND_NA(tgt="fe80::2", R=0, S=1)
               / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02"))
    p = kame.parse(na)
    assert p.nd_target_lladdr == bytes.fromhex("020000000002")
    assert p.nd_source_lladdr is None


def test_zero_length_option_raises_as_upper_does() -> None:
    b = bytearray(_ns(ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")))
    b[40 + 24 + 1] = 0  # the option's length: 0 (RFC 4861 §4.6: drop)
    p = kame.parse(bytes(b), verify_cksum=False)
    with pytest.raises(kame.ParseError) as upper_err:
        _ = p.upper
    for name in ("nd_target", "nd_source_lladdr", "nd_mtu", "nd_prefixes", "nd_prefix",
                 "nd_options"):
        with pytest.raises(type(upper_err.value)):
            getattr(p, name)


def test_first_fragment_holds_no_whole_message() -> None:
    ns = IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / IPv6ExtHdrFragment(m=1, id=7) \
        / ICMPv6ND_NS(tgt="fe80::2") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
    p = kame.parse(bytes(ns))
    assert p.nd_target is None and p.nd_options == []
    atomic = IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / IPv6ExtHdrFragment(m=0, id=7) \
        / ICMPv6ND_NS(tgt="fe80::2")
    assert kame.parse(bytes(atomic)).nd_target == ipaddress.IPv6Address("fe80::2")


def test_tcp_fields() -> None:
    b = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2")
              / TCP(sport=1, dport=2, seq=0xfffffff0, ack=5, flags="SA", window=1234))
    p = kame.parse(b)
    assert (p.seq, p.ack, p.tcp_flags, p.window) == (0xfffffff0, 5, 0x12, 1234)
