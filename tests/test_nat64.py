"""Stateful NAT64 (RFC 6146) over the RFC 7915 translator, sans-I/O:
bindings and sessions for UDP, TCP (the §3.5.2.2 state machine and its
timers) and ICMP identifiers, bounded tables with counted refusals,
filtering, errors inbound with their inner packets; DNS64 (RFC 6147)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6

from kame import _core
from kame.nat64 import Nat64, TcpState
from kame.nat64.dns64 import synthesize
from kame.resolv import Answer, Status

X6 = "2001:db8:1::5"
Y4 = "198.51.100.10"
Y6 = "64:ff9b::c633:640a"
POOL = "203.0.113.1"


def nat(**kw: object) -> Nat64:
    kw.setdefault("pool", [POOL])
    return Nat64("64:ff9b::/96", self4="203.0.113.254", self6="2001:db8:ff::1", **kw)  # type: ignore[arg-type]


def test_udp_out_and_back() -> None:
    n = nat()
    out = n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53) / b"q"), 0.0)
    q = IP(out[0])
    assert (q.src, q.dst, q[UDP].sport, q[UDP].dport) == (POOL, Y4, 5000, 53)  # port preserved
    back = n.translate4(bytes(IP(src=Y4, dst=POOL) / UDP(sport=53, dport=5000) / b"a"), 1.0)
    r = IPv6(back[0])
    assert (r.src, r.dst, r[UDP].dport) == (Y6, X6, 5000)
    c = r.copy()
    del c[UDP].chksum
    assert IPv6(bytes(c))[UDP].chksum == r[UDP].chksum
    assert n.all_stats()["nat64_bib_created"] == 1


def test_port_collision_gets_another_port() -> None:
    n = nat()
    a = IP(n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53)), 0)[0])
    b = IP(n.translate6(bytes(IPv6(src="2001:db8:1::6", dst=Y6) / UDP(sport=5000, dport=53)), 0)[0])
    assert a[UDP].sport == 5000 and b[UDP].sport != 5000
    c = b.copy()
    del c[UDP].chksum
    assert IP(bytes(c))[UDP].chksum == b[UDP].chksum
    back = n.translate4(bytes(IP(src=Y4, dst=POOL) / UDP(sport=53, dport=b[UDP].sport)), 1)
    assert IPv6(back[0]).dst == "2001:db8:1::6" and IPv6(back[0])[UDP].dport == 5000


def test_icmp_identifier_binding() -> None:
    n = nat()
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / ICMPv6EchoRequest(id=77, seq=1)), 0)
    out = n.translate6(bytes(IPv6(src="2001:db8:1::6", dst=Y6) / ICMPv6EchoRequest(id=77, seq=1)), 0)
    q = IP(out[0])
    assert q[ICMP].type == 8 and q[ICMP].id != 77
    back = n.translate4(bytes(IP(src=Y4, dst=POOL) / ICMP(type=0, id=q[ICMP].id, seq=1)), 1)
    r = IPv6(back[0])
    assert r.dst == "2001:db8:1::6" and r[ICMPv6EchoReply].id == 77
    c = r.copy()
    del c[ICMPv6EchoReply].cksum
    assert IPv6(bytes(c))[ICMPv6EchoReply].cksum == r[ICMPv6EchoReply].cksum


def test_unsolicited_ipv4_is_dropped_and_counted() -> None:
    n = nat()
    assert n.translate4(bytes(IP(src=Y4, dst=POOL) / UDP(sport=53, dport=4000)), 0) == []
    assert n.all_stats()["nat64_nobib"] == 1
    # Address-dependent filtering: a binding exists, but not toward this remote.
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=4000, dport=53)), 0)
    assert n.translate4(bytes(IP(src="198.51.100.99", dst=POOL) / UDP(sport=53, dport=4000)), 0) == []
    assert n.all_stats()["nat64_filtered"] == 1
    m = nat(adf=False)
    m.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=4000, dport=53)), 0)
    assert m.translate4(bytes(IP(src="198.51.100.99", dst=POOL) / UDP(sport=53, dport=4000)), 0)


def test_tables_are_bounded() -> None:
    n = nat(max_bib=3, max_sessions=4)
    for i in range(10):
        n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=6000 + i, dport=53)), 0)
    assert n.state is not None and len(n.state.by6) == 3
    assert n.all_stats()["nat64_bib_full"] == 7
    for i in range(10):
        n.translate6(bytes(IPv6(src=X6, dst=f"64:ff9b::c633:64{i + 20:02x}") / UDP(sport=6000, dport=53)), 0)
    assert len(n.state.sessions) == 4 and n.all_stats()["nat64_session_full"] >= 6
    with pytest.raises(ValueError):
        Nat64("64:ff9b::/96", pool=[POOL], max_bib=0)


def test_udp_and_icmp_timeouts() -> None:
    n = nat()
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53)), 0)
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / ICMPv6EchoRequest(id=1)), 0)
    assert n.expire(59) == 0
    assert n.expire(61) == 1  # ICMP, 60 s (RFC 6146 §4 ICMP_DEFAULT)
    assert n.expire(299) == 0
    assert n.expire(301) == 1  # UDP, 5 min
    assert n.state is not None and not n.state.by6 and not n.state.by4
    assert n.translate4(bytes(IP(src=Y4, dst=POOL) / UDP(sport=53, dport=5000)), 302) == []


def seg(six: bool, flags: str, sport: int = 40000) -> bytes:
    if six:
        return bytes(IPv6(src=X6, dst=Y6) / TCP(sport=sport, dport=80, flags=flags))
    return bytes(IP(src=Y4, dst=POOL) / TCP(sport=80, dport=sport, flags=flags))


def tcp_state(n: Nat64) -> TcpState:
    assert n.state is not None
    (s,) = n.state.sessions.values()
    return s.state


def test_tcp_state_machine_and_timers() -> None:
    n = nat()
    assert n.translate6(seg(True, "A"), 0) == []  # no binding without a SYN
    assert n.all_stats()["nat64_tcp_nosyn"] == 1
    assert n.translate6(seg(True, "S"), 0)
    assert tcp_state(n) is TcpState.V6_INIT
    assert n.translate4(seg(False, "SA"), 1)
    assert tcp_state(n) is TcpState.ESTABLISHED
    assert n.expire(7000) == 0  # TCP_EST 2 h 4 min
    n.translate6(seg(True, "FA"), 7000)
    assert tcp_state(n) is TcpState.V6_FIN_RCV
    n.translate4(seg(False, "FA"), 7001)
    assert tcp_state(n) is TcpState.V6_FIN_V4_FIN
    assert n.expire(7001 + 239) == 0
    assert n.expire(7001 + 241) == 1  # TCP_TRANS 4 min
    # A reset moves an established session to the transitory lifetime.
    n.translate6(seg(True, "S", 40001), 0)
    n.translate4(seg(False, "SA", 40001), 0)
    n.translate4(seg(False, "R", 40001), 10)
    assert tcp_state(n) is TcpState.TRANS
    assert n.expire(10 + 241) == 1


def test_error_inbound_reaches_the_ipv6_host() -> None:
    n = nat()
    n.translate6(bytes(IPv6(src=X6, dst=Y6) / UDP(sport=5000, dport=53) / b"q"), 0)
    inner = IP(src=POOL, dst=Y4, ttl=3) / UDP(sport=5000, dport=53) / b"q"
    err = IP(src="198.51.100.1", dst=POOL) / ICMP(type=11, code=0) / inner
    out = n.translate4(bytes(err), 1)
    e = IPv6(out[0])
    assert (e.src, e.dst) == ("64:ff9b::c633:6401", X6)  # the router, through the prefix
    i = IPv6(bytes(e.payload)[8:])
    assert (i.src, i.dst, i[UDP].sport) == (X6, Y6, 5000)


def test_stateless_eam_server_category_b() -> None:
    """Seed §3 B/C: an IPv4 client reaches an IPv6 server with an EAM."""
    n = Nat64("64:ff9b::/96", pool=[POOL], eam=[("203.0.113.80", "2001:db8:80::80")])
    assert n.claims4(IPv4Address("203.0.113.80")) and n.claims6(IPv6Address(Y6))
    out = n.translate4(bytes(IP(src=Y4, dst="203.0.113.80") / TCP(sport=999, dport=80, flags="S")), 0)
    r = IPv6(out[0])
    assert (r.src, r.dst) == (Y6, "2001:db8:80::80")
    back = n.translate6(bytes(IPv6(src="2001:db8:80::80", dst=Y6) / TCP(sport=80, dport=999, flags="SA")), 0)
    assert (IP(back[0]).src, IP(back[0]).dst) == ("203.0.113.80", Y4)


@settings(max_examples=60)
@given(st.binary(max_size=100), st.booleans())
def test_garbage_is_counted(b: bytes, six: bool) -> None:
    n = nat()
    p = (b"\x60" if six else b"\x45") + b
    out = n.translate6(p, 0) if six else n.translate4(p, 0)
    assert isinstance(out, list)
    assert sum(n.all_stats().values()) >= 1


def test_dns64_synthesis() -> None:
    x = _core.Xlat("64:ff9b::/96")
    a = Answer("h.example", 1, Status.OK, "h.example", [IPv4Address(Y4), IPv4Address("10.0.0.1")], ttl=3000)
    nodata = Answer("h.example", 28, Status.NODATA)
    s = synthesize(nodata, a, x)
    # 10.0.0.1 is not global: the well-known prefix never carries it (RFC 6052 §3.1).
    assert s.status is Status.OK and s.values == [IPv6Address(Y6)] and s.ttl == 600
    real = Answer("h.example", 28, Status.OK, "h.example", [IPv6Address("2001:db8::1")])
    assert synthesize(real, a, x).values == [IPv6Address("2001:db8::1")]
    mapped = Answer("h.example", 28, Status.OK, "h.example", [IPv6Address("::ffff:1.2.3.4")])
    assert synthesize(mapped, a, x).values == [IPv6Address(Y6)]  # §5.1.4 exclusion
    nx = Answer("h.example", 28, Status.NXDOMAIN)
    called: list[int] = []

    def ask_a() -> Answer:
        called.append(1)
        return a

    assert synthesize(nx, ask_a, x).status is Status.NXDOMAIN
    assert not called  # §5.1.2: no A query after a Name Error
    assert synthesize(nodata, Answer("h.example", 1, Status.NODATA), x).status is Status.NODATA
