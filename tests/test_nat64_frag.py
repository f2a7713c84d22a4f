"""NAT64 fragments (RFC 6146 §3.4, RFC 7915 §4.1/§5.1), the RFC 6791
source pool and hairpinning (RFC 6146 §3.8), sans-I/O: scapy-built
fragment trains in order, out of order, overlapping, too many, timed out;
fragmented ICMP echoes both ways; ICMP errors from routers without a
mapping; one IPv6 host reaching another through the pool."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrFragment,
    fragment6,
)
from scapy.packet import Raw

from kame import _core
from kame.nat64 import Nat64

X6 = "2001:db8:1::5"
X6B = "2001:db8:1::6"
Y4 = "198.51.100.10"
PFX = "2001:db8:64::/96"
Y6 = "2001:db8:64::c633:640a"
POOL = "203.0.113.1"
POOL6 = "2001:db8:64::cb00:7101"  # the pool address through the prefix


def nat(**kw: object) -> Nat64:
    kw.setdefault("pool", [POOL])
    return Nat64(PFX, self4="203.0.113.254", self6="2001:db8:ff::1", mtu6=1500, mtu4=1500,
                 **kw)  # type: ignore[arg-type]


def frags6(p: IPv6, size: int = 600, ident: int = 0x1234) -> list[bytes]:
    """scapy's fragment train of ``p`` (fragments of at most ``size``)."""
    q = IPv6(bytes(p))
    return [bytes(f) for f in fragment6(IPv6(src=q.src, dst=q.dst, hlim=q.hlim)
                                        / IPv6ExtHdrFragment(id=ident) / q.payload, size)]


def whole4(out: list[bytes]) -> IP:
    """Reassemble IPv4 fragments with scapy (the oracle)."""
    ps = [IP(b) for b in out]
    if len(ps) == 1:
        return ps[0]
    ps.sort(key=lambda p: p.frag)
    data = b"".join(bytes(p.payload)[:p.len - p.ihl * 4] for p in ps)
    h = ps[0].copy()
    h.remove_payload()
    h.flags = 0
    h.frag = 0
    del h.len, h.chksum
    return IP(bytes(h / Raw(data)))


def whole6(out: list[bytes]) -> IPv6:
    ps = [IPv6(b) for b in out]
    if len(ps) == 1 and IPv6ExtHdrFragment not in ps[0]:
        return ps[0]
    ps.sort(key=lambda p: p[IPv6ExtHdrFragment].offset)
    data = b"".join(bytes(p[IPv6ExtHdrFragment].payload) for p in ps)
    f = ps[0]
    return IPv6(bytes(IPv6(src=f.src, dst=f.dst, hlim=f.hlim, nh=f[IPv6ExtHdrFragment].nh) / Raw(data)))


def test_fragmented_udp_6to4_out_of_order_and_back() -> None:
    n = nat()
    body = bytes(range(256)) * 12  # 3072 octets: five fragments
    fr = frags6(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=7777) / body)
    assert len(fr) >= 5
    out: list[bytes] = []
    for f in [fr[2], fr[0], fr[4], *fr[5:], fr[1], fr[3]]:  # the first in the middle
        out += n.translate6(f, 0.0)
    q = whole4(out)
    assert (q.src, q.dst, q[UDP].sport, q[UDP].dport) == (POOL, Y4, 5000, 7777)
    assert bytes(q[UDP].payload) == body
    assert all(not IP(o).flags.DF and len(o) <= 1500 for o in out)  # RFC 7915 §5.1.1: DF clear
    assert len({IP(o).id for o in out}) == 1 and IP(out[0]).id == 0x1234  # from the Fragment header
    c = q.copy()
    del c[UDP].chksum
    assert IP(bytes(c))[UDP].chksum == q[UDP].chksum
    st = n.all_stats()
    assert st["nat64_fragments"] == len(fr) and st["nat64_reassembled"] == 1
    # The answer, fragmented by the IPv4 host: non-first fragments reach the host.
    ans = IP(src=Y4, dst=POOL, id=99) / UDP(sport=7777, dport=5000) / body[::-1]
    back: list[bytes] = []
    for f in reversed(fragment(ans, 1480)):
        back += n.translate4(bytes(f), 1.0)
    r = whole6(back)
    assert (r.src, r.dst, r[UDP].dport) == (Y6, X6, 5000) and bytes(r[UDP].payload) == body[::-1]
    assert all(len(b) <= 1280 for b in back)  # RFC 7915 §4.1: lowest-ipv6-mtu
    c6 = r.copy()
    del c6[UDP].chksum
    assert IPv6(bytes(c6))[UDP].chksum == r[UDP].chksum


def test_fragmented_ping_both_ways() -> None:
    n = nat()
    data = b"kame" * 600
    out: list[bytes] = []
    for f in frags6(IPv6(src=X6, dst=Y6) / ICMPv6EchoRequest(id=7, seq=1, data=data), 1000):
        out += n.translate6(f, 0.0)
    q = whole4(out)
    t = q[ICMP].id  # the binding's identifier (RFC 6146 §3.5.3)
    assert q[ICMP].type == 8 and ("icmp", X6, 7, POOL, t) in n.bindings()
    assert bytes(q[ICMP].payload) == data
    c = q.copy()
    del c[ICMP].chksum
    assert IP(bytes(c))[ICMP].chksum == q[ICMP].chksum
    back: list[bytes] = []
    for f in fragment(IP(src=Y4, dst=POOL, id=5) / ICMP(type=0, id=t, seq=1) / data, 1000):
        back += n.translate4(bytes(f), 1.0)
    r = whole6(back)
    assert ICMPv6EchoReply in r and r[ICMPv6EchoReply].data == data and r.dst == X6
    assert r[ICMPv6EchoReply].id == 7
    c6 = r.copy()
    del c6[ICMPv6EchoReply].cksum
    assert IPv6(bytes(c6))[ICMPv6EchoReply].cksum == r[ICMPv6EchoReply].cksum
    assert n.all_stats()["xlats_icmp_frag"] == 0


def test_overlapping_fragments_are_dropped_and_counted() -> None:
    n = nat()
    body = b"A" * 2000
    fr = frags6(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53) / body, 800)
    # A second fragment overlapping the first (RFC 5722: the whole datagram goes).
    first = IPv6(fr[0])
    evil = IPv6(src=X6, dst=Y6) / IPv6ExtHdrFragment(id=0x1234, offset=8, m=1, nh=17) / (b"B" * 256)
    out = n.translate6(fr[0], 0) + n.translate6(bytes(evil), 0)
    for f in fr[1:]:
        out += n.translate6(f, 0)
    assert out == [] and first.dst == Y6
    assert n.all_stats()["nat64_fragdropped"] >= 1 and n.all_stats()["xlats_6to4"] == 0
    # IPv4: the same.
    n4 = nat()
    n4.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53)), 0)
    a = IP(src=Y4, dst=POOL, id=9, flags="MF", proto=17) / (bytes(UDP(sport=53, dport=5000, len=1208)) + b"x" * 1192)
    b = IP(src=Y4, dst=POOL, id=9, frag=100, proto=17) / (b"y" * 400)  # overlaps a
    assert n4.translate4(bytes(a), 1) == [] and n4.translate4(bytes(b), 1) == []
    assert n4.all_stats()["nat64_fragdropped"] >= 1


def test_too_many_fragments_and_timeouts_are_bounded() -> None:
    n = nat(frag_max_per_queue=8, frag_timeout=5.0, frag_max_queues=4)
    body = b"z" * 2400
    fr = frags6(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53) / body, 200)
    assert len(fr) > 8
    out: list[bytes] = []
    for f in fr:
        out += n.translate6(f, 0)
    assert out == [] and n.all_stats()["nat64_fragdropped"] >= 1
    assert n.reass6.frags_held <= 8
    # Queues that never complete: held at most max_queues, then timed out.
    for i in range(10):
        n.translate6(frags6(IPv6(src=X6, dst=Y6) / UDP(sport=6000 + i, dport=53) / body, 600, 100 + i)[0], 1)
    assert len(n.reass6) <= 4
    n.expire(10.0)
    assert len(n.reass6) == 0 and n.all_stats()["nat64_fragtimeout"] >= 1
    # IPv4 queues time out too.
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53)), 20)
    n.translate4(bytes(fragment(IP(src=Y4, dst=POOL) / UDP(sport=53, dport=5000) / body, 600)[0]), 20)
    assert len(n.reass4) == 1
    n.expire(30.0)
    assert len(n.reass4) == 0


@settings(max_examples=40)
@given(st.permutations(range(6)), st.integers(0, 2))
def test_any_order_reassembles_to_the_same(order: list[int], dup: int) -> None:
    n = nat()
    body = bytes(range(256)) * 10
    fr = frags6(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53) / body, 512)[:6]
    assert len(fr) == 6
    out: list[bytes] = []
    for i in order:
        out += n.translate6(fr[i], 0)
        if i == dup:
            out += n.translate6(fr[i], 0)  # an exact duplicate
    got = whole4(out) if out else None
    if got is not None:
        assert bytes(got[UDP].payload) == body
    else:
        assert n.all_stats()["nat64_fragdropped"] >= 1


@settings(max_examples=60)
@given(st.binary(min_size=0, max_size=120), st.integers(0, 0x1FFF), st.booleans())
def test_garbage_fragments_are_counted(data: bytes, off: int, m: bool) -> None:
    n = nat()
    p6 = bytes(IPv6(src=X6, dst=Y6) / IPv6ExtHdrFragment(id=1, offset=off, m=int(m), nh=17) / data)
    p4 = bytes(IP(src=Y4, dst=POOL, id=1, frag=off, flags="MF" if m else 0, proto=17) / data)
    for _ in range(2):
        n.translate6(p6, 0)
        n.translate4(p4, 0)
    n.expire(1000)


def test_rfc6791_pool_for_untranslatable_router_errors() -> None:
    """An ICMPv4 error from a router the translator cannot map (no prefix,
    EAM only) takes its IPv6 source from the RFC 6791 pool; without a pool
    it is dropped, as before."""
    eam = [("192.0.2.2", "2001:db8:1::2"), ("198.51.100.10", "2001:db8:2::10")]
    inner = IP(src="192.0.2.2", dst="198.51.100.10", ttl=1) / UDP(sport=4000, dport=33434)
    err = bytes(IP(src="203.0.113.77", dst="192.0.2.2") / ICMP(type=11, code=0) / inner)
    plain = Nat64(PFX, eam=eam)
    plain.xlat = _core.Xlat(None, eam)
    assert plain.xlat.to6(err)[0] == "drop"
    pools = ["2001:db8:6791::1", "2001:db8:6791::2"]
    x = _core.Xlat(None, eam, pool6791v6=pools)
    kind, out, _ = x.to6(err)
    assert kind == "out"
    e = IPv6(out[0])
    assert e.src in pools and e.dst == "2001:db8:1::2" and ICMPv6TimeExceeded in e
    assert IPv6(bytes(e[ICMPv6TimeExceeded].payload)).dst == "2001:db8:2::10"
    # The same router, the same stand-in; a non-error from it still drops.
    assert IPv6(x.to6(err)[1][0]).src == e.src
    echo = bytes(IP(src="203.0.113.77", dst="192.0.2.2") / ICMP(type=8))
    assert x.to6(echo)[0] == "drop"
    # The Nat64 knob; the well-known prefix refuses private routers (RFC 6052 §3.1).
    n = Nat64("64:ff9b::/96", pool=None, eam=[("192.0.2.2", "2001:db8:1::2")],
              pool6791v6=["2001:db8:6791::9"])
    inner2 = IP(src="192.0.2.2", dst="198.51.100.10", ttl=1) / UDP(sport=4000, dport=33434)
    err2 = bytes(IP(src="10.1.1.1", dst="192.0.2.2") / ICMP(type=3, code=1) / inner2)
    got = n.translate4(err2, 0)
    assert IPv6(got[0]).src == "2001:db8:6791::9" and ICMPv6DestUnreach in IPv6(got[0])
    # The other way: an IPv6 router with no IPv4 mapping.
    x4 = _core.Xlat(None, eam, pool6791v4=["203.0.113.91"])
    inner6 = IPv6(src="2001:db8:2::10", dst="2001:db8:1::2", hlim=1) / UDP(sport=4000, dport=33434)
    err6 = bytes(IPv6(src="2001:db8:99::1", dst="2001:db8:2::10") / ICMPv6TimeExceeded() / inner6)
    assert _core.Xlat(None, eam).to4(err6)[0] == "drop"
    k4, o4, _ = x4.to4(err6)
    assert k4 == "out" and IP(o4[0]).src == "203.0.113.91" and IP(o4[0])[ICMP].type == 11


def test_hairpin_between_two_ipv6_hosts() -> None:
    """RFC 6146 §3.8: X6 reaches X6B's server through the pool address."""
    n = nat()
    n.add_static("udp", X6B, 7000, POOL, 7000)
    out = n.translate6(bytes(IPv6(src=X6, dst=POOL6) / UDP(sport=5000, dport=7000) / b"hi"), 0)
    r = IPv6(out[0])
    assert (r.src, r.dst, r[UDP].sport, r[UDP].dport) == (POOL6, X6B, 5000, 7000)
    c = r.copy()
    del c[UDP].chksum
    assert IPv6(bytes(c))[UDP].chksum == r[UDP].chksum
    back = n.translate6(bytes(IPv6(src=X6B, dst=POOL6) / UDP(sport=7000, dport=5000) / b"yo"), 1)
    b = IPv6(back[0])
    assert (b.src, b.dst, b[UDP].sport, b[UDP].dport) == (POOL6, X6, 7000, 5000)
    assert n.all_stats()["nat64_hairpin"] == 2
    # Without the static binding address-dependent filtering keeps X6B closed.
    m = nat()
    m.translate6(bytes(IPv6(src=X6B, dst=Y6) / UDP(sport=7000, dport=53)), 0)
    assert m.translate6(bytes(IPv6(src=X6, dst=POOL6) / UDP(sport=5000, dport=7000)), 0) == []
    assert m.all_stats()["nat64_filtered"] == 1
    # Hairpinned ping (ICMP identifiers) needs no static entry to come back.
    p = n.translate6(bytes(IPv6(src=X6, dst=POOL6) / ICMPv6EchoRequest(id=3, seq=1)), 2)
    assert p == [] or IPv6(p[0]).dst in (X6, X6B)
    assert not any(len(o) < 40 for o in p)


def test_static_binding_is_checked_and_kept() -> None:
    n = nat()
    n.add_static("tcp", X6B, 80, POOL, 8080)
    import pytest

    with pytest.raises(ValueError):
        n.add_static("tcp", X6B, 80, POOL, 8081)
    with pytest.raises(ValueError):
        n.add_static("sctp", X6B, 80, POOL, 8082)
    with pytest.raises(ValueError):
        n.add_static("udp", X6B, 80, "192.0.2.9", 80)
    with pytest.raises(ValueError):
        Nat64(PFX).add_static("udp", X6B, 80, POOL, 80)
    n.translate4(bytes(IP(src=Y4, dst=POOL) / UDP(sport=1, dport=2)), 0)
    n.expire(1e6)
    assert ("tcp", X6B, 80, POOL, 8080) in n.bindings()
