"""The ND codec against scapy: scapy dissects the packets our actions become,
and scapy-built ND packets map to the right typed inputs."""

from __future__ import annotations

from ipaddress import IPv6Address as A

import pytest

from kame import _core
from kame.nd6 import codec
from kame.nd6.types import (
    NaInput,
    NsInput,
    PrefixInfo,
    RaInput,
    RdnssInfo,
    RedirectInput,
    RouteInfo,
    RsInput,
    SendNA,
    SendNS,
    SendRA,
    SendRS,
)

inet6 = pytest.importorskip("scapy.layers.inet6")
MAC = bytes.fromhex("0200f8016317")
LL = A("fe80::200:f8ff:fe01:6317")


def ours_to_input(pkt: bytes):  # type: ignore[no-untyped-def]
    v = _core.ip6_validate(pkt)
    h = v.header
    msg = _core.parse_icmpv6(pkt[v.chain.upper_offset:], h.src, h.dst)
    return codec.to_input(h.src, h.dst, h.hop_limit, msg)


def test_ns_dissected_by_scapy() -> None:
    pkt = codec.build_ns(SendNS("eth0", A("fe80::2"), A("ff02::1:ff00:2"), None, True,
                                b"\x01\x02\x03\x04\x05\x06"), LL, MAC)
    p = inet6.IPv6(pkt)
    ns = p[inet6.ICMPv6ND_NS]
    assert p.hlim == 255 and ns.tgt == "fe80::2"
    assert p[inet6.ICMPv6NDOptSrcLLAddr].lladdr == "02:00:f8:01:63:17"
    ck = ns.cksum
    del ns.cksum
    assert inet6.IPv6(bytes(p))[inet6.ICMPv6ND_NS].cksum == ck
    # a DAD probe: ::, no SLLA, nonce kept
    dad = codec.build_ns(SendNS("eth0", LL, A("ff02::1:ff01:6317"), A("::"), False, b"abcdef"),
                         A("::"), MAC)
    q = inet6.IPv6(dad)
    assert q.src == "::" and inet6.ICMPv6NDOptSrcLLAddr not in q
    assert ours_to_input(dad).nonce == b"abcdef"


def test_na_rs_ra_dissected_by_scapy() -> None:
    na = codec.build_na(SendNA("eth0", LL, A("fe80::2"), LL, True, True, False), LL, MAC)
    p = inet6.IPv6(na)[inet6.ICMPv6ND_NA]
    assert (p.R, p.S, p.O) == (1, 1, 0) and p.tgt == str(LL)
    rs = inet6.IPv6(codec.build_rs(SendRS("eth0", LL, True), MAC))
    assert inet6.ICMPv6ND_RS in rs and rs.dst == "ff02::2"
    ra = codec.build_ra(SendRA("eth0", A("ff02::1"), 64, True, False, 0b01, 1800, 30000, 1000,
                               1500, (PrefixInfo(A("2001:db8::"), 64, True, True, 3600, 1800),),
                               (RouteInfo(A("2001:db8:9::"), 48, 0b11, 600),),
                               (RdnssInfo(900, (A("2001:db8::53"),)),)), LL, MAC)
    q = inet6.IPv6(ra)
    r = q[inet6.ICMPv6ND_RA]
    assert (r.chlim, r.M, r.O, r.prf, r.routerlifetime, r.reachabletime, r.retranstimer) == (
        64, 1, 0, 1, 1800, 30000, 1000)
    pi = q[inet6.ICMPv6NDOptPrefixInfo]
    assert (pi.prefix, pi.prefixlen, pi.L, pi.A, pi.validlifetime, pi.preferredlifetime) == (
        "2001:db8::", 64, 1, 1, 3600, 1800)
    assert q[inet6.ICMPv6NDOptMTU].mtu == 1500
    assert q[inet6.ICMPv6NDOptRouteInfo].prf == 0b11
    assert q[inet6.ICMPv6NDOptRDNSS].dns == ["2001:db8::53"]


def test_scapy_packets_to_inputs() -> None:
    src, dst = "fe80::1", "ff02::1"
    ns = bytes(inet6.IPv6(src=src, dst="ff02::1:ff00:2", hlim=255)
               / inet6.ICMPv6ND_NS(tgt="fe80::2") / inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))
    assert ours_to_input(ns) == NsInput(A(src), A("ff02::1:ff00:2"), 255, A("fe80::2"),
                                        bytes.fromhex("020000000001"))
    na = bytes(inet6.IPv6(src=src, dst="fe80::2", hlim=255)
               / inet6.ICMPv6ND_NA(tgt=src, R=0, S=1, O=1)
               / inet6.ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:01"))
    assert ours_to_input(na) == NaInput(A(src), A("fe80::2"), 255, A(src), False, True, True,
                                        bytes.fromhex("020000000001"))
    rs = bytes(inet6.IPv6(src="::", dst="ff02::2", hlim=255) / inet6.ICMPv6ND_RS())
    assert ours_to_input(rs) == RsInput(A("::"), A("ff02::2"), 255, None)
    ra = bytes(inet6.IPv6(src=src, dst=dst, hlim=255)
               / inet6.ICMPv6ND_RA(chlim=32, M=1, prf=3, routerlifetime=600)
               / inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
               / inet6.ICMPv6NDOptPrefixInfo(prefix="2001:db8:5::", prefixlen=64, L=1, A=0,
                                             validlifetime=100, preferredlifetime=50)
               / inet6.ICMPv6NDOptRDNSS(dns=["2001:db8::35"], lifetime=77))
    got = ours_to_input(ra)
    assert isinstance(got, RaInput)
    assert (got.cur_hop_limit, got.managed, got.preference, got.router_lifetime) == (32, True, 3, 600)
    assert got.prefixes == (PrefixInfo(A("2001:db8:5::"), 64, True, False, 100, 50),)
    assert got.rdnss == (RdnssInfo(77, (A("2001:db8::35"),)),)
    rd = bytes(inet6.IPv6(src=src, dst="fe80::2", hlim=255)
               / inet6.ICMPv6ND_Redirect(tgt="fe80::3", dst="2001:db8::9")
               / inet6.ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:03"))
    assert ours_to_input(rd) == RedirectInput(A(src), A("fe80::2"), 255, A("fe80::3"),
                                              A("2001:db8::9"), bytes.fromhex("020000000003"))


def test_too_many_options_counted_through() -> None:
    opts = inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
    for i in range(20):
        opts = opts / inet6.ICMPv6NDOptPrefixInfo(prefix=f"2001:db8:{i:x}::", prefixlen=64)
    ra = bytes(inet6.IPv6(src="fe80::1", dst="ff02::1", hlim=255) / inet6.ICMPv6ND_RA() / opts)
    got = ours_to_input(ra)
    assert got.options_ignored > 0 and len(got.prefixes) == 9  # 10 options looked at (§1.2)


def test_ether_framing() -> None:
    f = codec.ether(b"\x33\x33\x00\x00\x00\x01", MAC, b"payload")
    assert codec.parse_ether(f) == (b"\x33\x33\x00\x00\x00\x01", MAC, 0x86DD, b"payload")
    assert codec.parse_ether(b"short") is None
