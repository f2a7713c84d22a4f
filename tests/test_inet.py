"""IPv4 on the wire (kame.inet) between nodes on a memory link, under a
simulated clock: ARP (RFC 826) and its hardening, RFC 5227 probes, IPv4
input checks and counters, fragmentation and reassembly, ICMPv4, path MTU,
forwarding, and UDP sockets over IPv4 (AF_INET and ::ffff: under the §1.12
profiles)."""

from __future__ import annotations

import errno
import struct
from ipaddress import IPv4Address

import pytest

from kame import _core
from kame.inet import EchoReply4, IcmpErrorInput4, PathMtuChanged4
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SocketLayer

MA, MB, MC, MR = (bytes.fromhex(x) for x in ("02000000000a", "02000000000b", "02000000000c",
                                             "0200000000ff"))
A, B = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")


def pair(dad: int = 0, **kn: int) -> tuple[Simulation, Node, Node]:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    knobs = {"net.link.ether.inet.dad_count": dad, **kn}
    a, b = Node("a", knobs=Knobs(knobs), seed=1), Node("b", knobs=Knobs(knobs), seed=2)
    for n, mac, addr in ((a, MA, A), (b, MB, B)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
    sim.run(until=0.1 if dad == 0 else 10.0)
    return sim, a, b


def ether(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", etype) + payload


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return _core.arp_build(op, sha, spa, tha, tpa)


def ev(n: Node, cls: type) -> list:
    return [e for e in n.drain_events() if isinstance(e, cls)]


# --- ARP ------------------------------------------------------------------------

def test_ping_resolves_both_ways() -> None:
    sim, a, b = pair()
    sim.emit(a, a.ping4(B, sim.now, seq=1))
    sim.run(until=1.0)
    replies = ev(a, EchoReply4)
    assert [(r.src, r.seq) for r in replies] == [(B, 1)]
    assert a.inet.arp_table(sim.now) == [(str(B), "02:00:00:00:00:0b", "eth0")]
    # b learnt a from the request for its address (RFC 826 merge)
    assert b.inet.arp_table(sim.now) == [(str(A), "02:00:00:00:00:0a", "eth0")]
    assert a.stats["arps_txrequests"] >= 1 and b.stats["arps_txreplies"] >= 1
    assert b.stats["icps_reflect"] == 1


def test_rfc5227_probes_then_announces_and_detects_duplicates() -> None:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    seen: list[bytes] = []
    link.add_tap(lambda t, f: seen.append(f))
    a, b = Node("a", seed=1), Node("b", seed=2)
    for n, mac in ((a, MA), (b, MB)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
    ifa = a.add_address4("eth0", "192.0.2.1/24", 0.0)
    assert ifa.tentative
    sim.run(until=10.0)
    assert ifa.usable
    arps = [_core.arp_parse(f[14:]) for f in seen if f[12:14] == b"\x08\x06"]
    probes = [x for x in arps if int(x[2]) == 0]
    announces = [x for x in arps if x[2] == A and x[4] == A]
    assert len(probes) == 3 and len(announces) == 2  # RFC 5227 PROBE_NUM, ANNOUNCE_NUM
    assert any(getattr(e, "kind", "") == "inet_address_ready" for e in a.drain_events())
    # b wants the same address: a's answer to b's probe marks it duplicated
    ifb = b.add_address4("eth0", "192.0.2.1/24", sim.now)
    sim.run(until=20.0)
    assert ifb.duplicated and not ifb.usable and ifa.usable
    assert any(getattr(e, "kind", "") == "inet_address_duplicated" for e in b.drain_events())


def test_conflict_after_use_is_defended_once_per_10s() -> None:
    _sim, a, _b = pair()
    a.drain_events()
    g = ether(b"\xff" * 6, MB, 0x0806, arp(1, MB, str(A), bytes(6), str(A)))
    out = a.receive("eth0", g, 1.0) + a.receive("eth0", g, 2.0)
    assert a.stats["arps_dupips"] == 2
    assert len([f for _, f in out if f[12:14] == b"\x08\x06"]) == 1  # DEFEND_INTERVAL
    assert sum(1 for e in a.drain_events() if getattr(e, "kind", "") == "inet_address_conflict") == 2


def test_arp_hardening_no_entry_from_unsolicited_or_foreign() -> None:
    _sim, a, _b = pair()
    a.inet.arp_flush("eth0")
    base = dict(a.stats)
    me = MA
    x = bytes.fromhex("020000000099")
    # an unsolicited reply to us, a request for another host: no entry
    a.receive("eth0", ether(me, x, 0x0806, arp(2, x, "192.0.2.99", me, str(A))), 1.0)
    a.receive("eth0", ether(b"\xff" * 6, x, 0x0806, arp(1, x, "192.0.2.99", bytes(6),
                                                        "192.0.2.50")), 1.0)
    assert a.inet.arptab == {}
    assert a.stats["arps_unsolicited"] == 1 and a.stats["arps_notforus"] - base["arps_notforus"] == 1
    # broadcast sender MAC, martian sender, our own frame, garbage: dropped, counted
    a.receive("eth0", ether(b"\xff" * 6, x, 0x0806, arp(1, b"\xff" * 6, "192.0.2.99",
                                                        bytes(6), str(A))), 1.0)
    a.receive("eth0", ether(b"\xff" * 6, x, 0x0806, arp(1, x, "127.0.0.1", bytes(6), str(A))),
              1.0)
    a.receive("eth0", ether(b"\xff" * 6, me, 0x0806, arp(1, me, str(A), bytes(6), str(A))), 1.0)
    a.receive("eth0", ether(b"\xff" * 6, x, 0x0806, b"\x00\x06" + bytes(30)), 1.0)
    assert a.stats["arps_badaddr"] == 2 and a.stats["arps_ownframe"] == 1
    assert a.stats["arps_badpkt"] == 1 and a.inet.arptab == {}
    # a request for us creates the entry and is answered
    out = a.receive("eth0", ether(b"\xff" * 6, x, 0x0806, arp(1, x, "192.0.2.99", bytes(6),
                                                              str(A))), 1.0)
    assert a.inet.arp_table(1.0) == [("192.0.2.99", "02:00:00:00:00:99", "eth0")]
    (rep,) = [f for _, f in out]
    assert rep[:6] == x and _core.arp_parse(rep[14:])[0] == 2


def test_arp_flood_is_bounded_and_counted() -> None:
    _sim, a, _b = pair(**{"net.link.ether.inet.max_entries": 64})
    base = dict(a.stats)
    frames = []
    for i in range(3000):
        mac = b"\x02\x01" + i.to_bytes(4, "big")
        spa = str(IPv4Address(int(IPv4Address("10.0.0.0")) + i))
        tpa = str(A) if i % 2 else "192.0.2.77"
        frames.append(ether(b"\xff" * 6, mac, 0x0806, arp(1, mac, spa, bytes(6), tpa)))
    for f in frames:
        a.receive("eth0", f, 2.0)
    assert len(a.inet.arptab) <= 64
    assert a.stats["arps_received"] >= 3000 and a.stats["arps_cachefull"] >= 1500 - 64
    assert a.stats["arps_notforus"] - base["arps_notforus"] == 1500
    assert a.stats["arps_txreplies"] >= 1500


def test_hold_queue_of_one_and_unreachable_neighbor() -> None:
    _sim, a, _b = pair()
    dead = IPv4Address("192.0.2.200")
    a.ping4(dead, 1.0, seq=1)
    a.ping4(dead, 1.0, seq=2)
    assert a.stats["arps_dropped"] == 1  # BSD's la_hold: the newer packet stays
    reqs = 0
    t = 1.0
    while t < 10.0:
        t += 0.5
        reqs += sum(1 for _, f in a.poll(t) if f[12:14] == b"\x08\x06")
    assert reqs == 4  # maxtries 5 requests, the first sent at once
    assert any(getattr(e, "kind", "") == "arp_unreachable" for e in a.drain_events())
    assert a.stats["arps_dropped"] == 2
    la = a.inet.arptab[("eth0", dead)]
    assert la.down and la.lladdr is None


def test_resolved_entries_expire_after_max_age() -> None:
    sim, a, _b = pair(**{"net.link.ether.inet.max_age": 60})
    sim.emit(a, a.ping4(B, sim.now))
    sim.run(until=1.0)
    assert ("eth0", B) in a.inet.arptab
    sim.run(until=62.0)
    assert ("eth0", B) not in a.inet.arptab and a.stats["arps_timeouts"] == 1


# --- IPv4 input ---------------------------------------------------------------

def ip_frame(src: str, dst: str, proto: int, payload: bytes, **kw: object) -> bytes:
    return ether(MA, MB, 0x0800, _core.ip_build(src, dst, proto, payload, **kw))


def test_ip_input_counters() -> None:
    _sim, a, _b = pair()
    good = _core.ip_build(str(B), str(A), 17, b"x" * 8)
    cases = {
        "ips_badsum": good[:10] + b"\x00\x00" + good[12:],
        "ips_badvers": b"\x65" + good[1:],
        "ips_toosmall": good[:12],
        "ips_badhlen": b"\x4f" + good[1:],
        "ips_tooshort": good[:-2],
    }
    for counter, pkt in cases.items():
        before = a.stats[counter]
        a.receive("eth0", ether(MA, MB, 0x0800, pkt), 1.0)
        assert a.stats[counter] == before + 1, counter
    for src, dst in (("127.0.0.1", str(A)), ("224.0.0.5", str(A)), ("0.0.0.1", str(A)),
                     ("255.255.255.255", str(A)), ("192.0.2.255", str(A)),
                     (str(B), "127.0.0.1"), (str(B), "0.1.2.3")):
        before = a.stats["ips_badaddr"]
        a.receive("eth0", ip_frame(src, dst, 17, b"x" * 8), 1.0)
        assert a.stats["ips_badaddr"] == before + 1, (src, dst)
    # for another host, forwarding off
    a.receive("eth0", ip_frame(str(B), "198.51.100.1", 17, b"x" * 8), 1.0)
    assert a.stats["ips_cantforward"] == 1
    # multicast we did not join, and the all-hosts group we did
    a.receive("eth0", ether(b"\x01\x00\x5e\x00\x00\x05", MB, 0x0800,
                            _core.ip_build(str(B), "224.0.0.5", 1, b"")), 1.0)
    assert a.stats["ips_notmember"] == 1


def test_bad_option_answered_with_parameter_problem_and_source_route_refused() -> None:
    _sim, a, _b = pair()
    a.inet.arptab.clear()
    a.inet._arp_update(a.inet._new_entry("eth0", B, 0.0), MB, 0.0)
    echo = _core.icmp_build(8, 0, 1, b"hi")
    bad = ip_frame(str(B), str(A), 1, echo, options=b"\x07\x01\x00\x00")  # RR length 1
    out = a.receive("eth0", bad, 1.0)
    assert a.stats["ips_badoptions"] == 1
    (f,) = [f for _, f in out]
    t, code, rest, _ = _core.icmp_parse(f[34:])
    assert (t, code, rest >> 24) == (12, 0, 21)  # pointer at the length octet
    lsrr = b"\x83\x07\x08\xc6\x33\x64\x01\x00"  # LSRR, pointer past the end: for us
    out = a.receive("eth0", ip_frame(str(B), str(A), 1, echo, options=lsrr), 1.0)
    (f,) = [f for _, f in out]
    assert _core.icmp_parse(f[34:])[:2] == (3, 5)  # source route failed
    assert a.stats["ips_badoptions"] == 2
    lsrr_on = b"\x83\x07\x04\xc6\x33\x64\x01\x00"  # still routing through us: a host drops
    assert a.receive("eth0", ip_frame(str(B), str(A), 1, echo, options=lsrr_on), 1.0) == []
    a.knobs["net.inet.ip.accept_sourceroute"] = 1
    out = a.receive("eth0", ip_frame(str(B), str(A), 1, echo, options=lsrr), 1.0)
    assert [_core.icmp_parse(f[34:])[0] for _, f in out] == [0]  # echo answered


def test_fragmented_ping_both_ways_and_reassembly_counters() -> None:
    sim, a, b = pair()
    sim.emit(a, a.ping4(B, sim.now, seq=7, data=bytes(range(256)) * 12))
    sim.run(until=1.0)
    (r,) = ev(a, EchoReply4)
    assert r.data == bytes(range(256)) * 12
    assert a.stats["ips_fragmented"] == 1 and a.stats["ips_ofragments"] == 3
    assert b.stats["ips_reassembled"] == 1 and b.stats["ips_fragmented"] == 1
    assert a.stats["ips_reassembled"] == 1


def test_reassembly_timeout_sends_time_exceeded() -> None:
    sim, a, b = pair()
    sim.emit(a, a.ping4(B, sim.now))
    sim.run(until=1.0)
    frags = _core.ip_fragment(_core.ip_build(str(A), str(B), 17, bytes(3000), ident=99), 1500)
    out = b.receive("eth0", ether(MB, MA, 0x0800, frags[0]), 2.0)
    out += b.receive("eth0", ether(MB, MA, 0x0800, frags[2]), 2.0)
    assert out == []
    assert b.inet.next_deadline() is not None
    out = b.poll(31.9)
    assert out == []
    out = b.poll(32.1)
    (f,) = [f for _, f in out]
    t, code, _rest, data = _core.icmp_parse(f[34:])
    assert (t, code) == (11, 1) and data == frags[0][:28]
    assert b.stats["ips_fragtimeout"] == 2


def test_reassembly_knobs_bound_memory() -> None:
    _sim, a, _b = pair(**{"net.inet.ip.maxfragpackets": 4})
    for ident in range(50):
        f = _core.ip_fragment(_core.ip_build(str(B), str(A), 17, bytes(3000), ident=ident), 1500)
        a.receive("eth0", ether(MA, MB, 0x0800, f[0]), 1.0)
    assert len(a.inet.reass) <= 4 and a.stats["ips_fragoverflow"] >= 46
    a.knobs["net.inet.ip.maxfragpackets"] = 0  # BSD: no reassembly at all
    f = _core.ip_fragment(_core.ip_build(str(B), str(A), 17, bytes(3000), ident=77), 1500)
    a.receive("eth0", ether(MA, MB, 0x0800, f[0]), 1.0)
    assert len(a.inet.reass) == 0


# --- ICMP ------------------------------------------------------------------------

def test_icmp_error_rules_and_rate_limit() -> None:
    _sim, a, _b = pair()
    a.inet._arp_update(a.inet._new_entry("eth0", B, 0.0), MB, 0.0)
    udp = _core.UdpHeader(1, 9, b"x").to_bytes(B, A)
    out = a.receive("eth0", ip_frame(str(B), str(A), 17, udp), 1.0)
    (f,) = [f for _, f in out]
    t, code, _r, data = _core.icmp_parse(f[34:])
    assert (t, code) == (3, 3) and len(data) == 28  # header + quotelen 8
    # no error about: broadcasts, non-first fragments, ICMP errors, bad sources
    n = a.stats["icps_error"]
    assert a.receive("eth0", ip_frame(str(B), "192.0.2.255", 17, udp), 1.0) == []
    frag = _core.ip_fragment(_core.ip_build(str(B), str(A), 77, bytes(3000)), 1500)
    a.receive("eth0", ether(MA, MB, 0x0800, frag[1]), 1.0)  # unknown protocol after reassembly
    err = _core.icmp_build(3, 3, 0, f[14:14 + 28])
    assert a.receive("eth0", ip_frame(str(B), str(A), 1, _core.icmp_build(42, 0, 0, b"")),
                     1.0) == []  # unknown ICMP type: ignored
    assert a.receive("eth0", ip_frame(str(B), str(A), 99, err), 1.0) != []  # proto unreach
    assert a.inet.icmp_error(_core.ip_build(str(B), str(A), 1, err), 3, 3, 1.0) is False
    assert a.stats["icps_oldicmp"] == 1
    assert a.stats["icps_error"] >= n + 1
    # icmplim: 200 a second
    sent = 0
    for i in range(300):
        sent += len(a.receive("eth0", ip_frame(str(B), str(A), 17, udp, ident=i), 5.0))
    assert sent == 200 and a.stats["icps_toofreq"] == 100


def test_echo_to_broadcast_ignored_by_default() -> None:
    _sim, a, _b = pair()
    echo = _core.icmp_build(8, 0, 1, b"hi")
    assert a.receive("eth0", ether(b"\xff" * 6, MB, 0x0800,
                                   _core.ip_build(str(B), "192.0.2.255", 1, echo)), 1.0) == []
    assert a.stats["icps_bmcastecho"] == 1


def router_topology(mtu_c: int = 1280) -> tuple[Simulation, Node, Node, Node]:
    sim = Simulation()
    l1, l2 = MemoryLink(delay=0.001), MemoryLink(delay=0.001)
    kn = {"net.link.ether.inet.dad_count": 0}
    a = Node("a", knobs=Knobs(kn), seed=1)
    r = Node("r", knobs=Knobs({**kn, "net.inet.ip.forwarding": 1}), seed=2)
    c = Node("c", knobs=Knobs(kn), seed=3)
    a.add_interface("eth0", MA)
    r.add_interface("eth0", MR)
    r.add_interface("eth1", MR[:-1] + b"\xfe", mtu=mtu_c)
    c.add_interface("eth0", MC, mtu=mtu_c)
    for n, ifn, link, mac in ((a, "eth0", l1, MA), (r, "eth0", l1, MR),
                              (r, "eth1", l2, MR[:-1] + b"\xfe"), (c, "eth0", l2, MC)):
        sim.connect(n, ifn, link, mac)
        sim.emit(n, n.up(ifn, 0.0))
    a.add_address4("eth0", "192.0.2.1/24", 0.0)
    r.add_address4("eth0", "192.0.2.254/24", 0.0)
    r.add_address4("eth1", "198.51.100.254/24", 0.0)
    c.add_address4("eth0", "198.51.100.1/24", 0.0)
    a.inet.route_add("default", "192.0.2.254")
    c.inet.route_add("default", "198.51.100.254")
    sim.run(until=0.5)
    return sim, a, r, c


def test_forwarding_ttl_and_path_mtu() -> None:
    sim, a, r, c = router_topology()
    C = IPv4Address("198.51.100.1")
    sim.emit(a, a.ping4(C, sim.now, seq=1))
    sim.run(until=1.0)
    assert [e.seq for e in ev(a, EchoReply4)] == [1] and r.stats["ips_forward"] == 2
    # TTL 1: Time Exceeded from the router
    a.inet.ping(C, sim.now, ttl=1, seq=2)
    sim.emit(a, a._flush())
    sim.run(until=2.0)
    errs = ev(a, IcmpErrorInput4)
    assert [(e.type, e.code, e.reporter) for e in errs] == [(11, 0, IPv4Address("192.0.2.254"))]
    # DF and too big for the 1280 link: Fragmentation Needed, the path MTU drops,
    # the next ping goes fragmented
    sim.emit(a, a.ping4(C, sim.now, seq=3, data=bytes(1400), df=True))
    sim.run(until=3.0)
    evs = a.drain_events()
    assert [(e.type, e.code, e.rest & 0xFFFF) for e in evs if isinstance(e, IcmpErrorInput4)] \
        == [(3, 4, 1280)]
    assert PathMtuChanged4(C, 1280) in evs
    assert a.inet.path_mtu("eth0", C, sim.now) == 1280
    sim.emit(a, a.ping4(C, sim.now, seq=4, data=bytes(1400)))
    sim.run(until=4.0)
    assert [e.seq for e in ev(a, EchoReply4)] == [4]
    assert a.stats["ips_fragmented"] == 1 and c.stats["ips_reassembled"] == 1
    # no route at the router: Host Unreachable
    a.inet.ping(IPv4Address("203.0.113.9"), sim.now, seq=5)
    sim.emit(a, a._flush())
    sim.run(until=5.0)
    assert [(e.type, e.code) for e in ev(a, IcmpErrorInput4)] == [(3, 1)]
    # the path MTU is forgotten after 10 minutes (RFC 1191 §6.3)
    sim.run(until=700.0)
    assert a.inet.path_mtu("eth0", C, sim.now) == 1500


def test_no_forwarding_by_default() -> None:
    sim, a, r, _c = router_topology()
    r.knobs["net.inet.ip.forwarding"] = 0
    sim.emit(a, a.ping4(IPv4Address("198.51.100.1"), sim.now))
    sim.run(until=2.0)
    assert ev(a, EchoReply4) == [] and r.stats["ips_cantforward"] == 1


def test_plateau_when_router_gives_no_mtu() -> None:
    _sim, a, _b = pair()
    a.inet.route_add("198.51.100.0/24", str(B))
    inv = _core.ip_build(str(A), "198.51.100.7", 17, bytes(1480), df=True)  # 1500 octets
    err = _core.icmp_build(3, 4, 0, inv[:28])
    a.receive("eth0", ip_frame(str(B), str(A), 1, err), 1.0)
    assert a.inet.path_mtu("eth0", IPv4Address("198.51.100.7"), 1.0) == 1492


# --- sockets over IPv4 ---------------------------------------------------------

@pytest.mark.parametrize(("profile", "family", "host"), [
    ("linux", AF_INET, "192.0.2.2"), ("linux", AF_INET6, "::ffff:192.0.2.2"),
    ("freebsd4x", AF_INET, "192.0.2.2"), ("freebsd4x", AF_INET6, "::ffff:192.0.2.2"),
    ("netbsd", AF_INET6, "::ffff:192.0.2.2"),
])
def test_udp_sockets_over_ipv4(profile: str, family: int, host: str) -> None:
    sim, a, b = pair()
    la, lb = SocketLayer(a, profile), SocketLayer(b, "freebsd4x")
    srv = lb.socket(AF_INET, SOCK_DGRAM)
    srv.bind(("0.0.0.0", 5353))
    cli = la.socket(family, SOCK_DGRAM)
    if profile == "netbsd":
        # §1.12.3: IPV6_V6ONLY is 1 by default there: no IPv4 over AF_INET6
        with pytest.raises(OSError) as ei:
            cli.sendto(b"hello", (host, 5353))
        assert ei.value.errno == errno.EINVAL
        return
    cli.sendto(b"hello" * 500, (host, 5353))  # 2500 octets: fragmented
    sim.emit(a, a.poll(sim.now))
    sim.run(until=1.0)
    data, (src, sport) = srv.recvfrom(4096)
    assert data == b"hello" * 500 and src == "192.0.2.1"
    srv.sendto(b"back", (src, sport))
    sim.emit(b, b.poll(sim.now))
    sim.run(until=2.0)
    data, addr = cli.recvfrom(100)
    assert data == b"back"
    assert addr[0] == ("192.0.2.2" if family == AF_INET else "::ffff:192.0.2.2")


def test_port_unreachable_reaches_connected_socket() -> None:
    sim, a, b = pair()
    la = SocketLayer(a, "linux")
    SocketLayer(b, "linux")
    cli = la.socket(AF_INET6, SOCK_DGRAM)
    cli.connect(("::ffff:192.0.2.2", 9999))
    cli.send(b"anyone?")
    sim.emit(a, a.poll(sim.now))
    sim.run(until=1.0)
    assert b.stats["icps_error"] == 1 and la.udpstat["udps_opackets"] == 1
    with pytest.raises(OSError) as ei:
        cli.recv(10)
    assert ei.value.errno == errno.ECONNREFUSED


def test_sockets_errors_without_route_or_address() -> None:
    _sim, a, _b = pair()
    la = SocketLayer(a, "freebsd4x")
    s = la.socket(AF_INET, SOCK_DGRAM)
    with pytest.raises(OSError) as ei:
        s.sendto(b"x", ("203.0.113.1", 9))
    assert ei.value.errno == errno.ENETUNREACH
    # our own address loops back
    r = la.socket(AF_INET, SOCK_DGRAM)
    r.bind(("192.0.2.1", 7777))
    s.sendto(b"me", ("192.0.2.1", 7777))
    assert r.recvfrom(10) == (b"me", ("192.0.2.1", s.getsockname()[1]))


def test_receive_many_mixes_ipv4_and_ipv6() -> None:
    _sim, a, _b = pair()
    frames = [ether(b"\xff" * 6, MB, 0x0806, arp(1, MB, str(B), bytes(6), str(A)))] * 3
    n = a.stats["arps_rxrequests"]
    out = a.receive_many("eth0", frames, 1.0)
    assert len(out) == 3 and a.stats["arps_rxrequests"] == n + 3


def test_addrconfig_counts_the_nodes_ipv4_addresses() -> None:
    from kame import netdb

    _sim, a, _b = pair()
    SocketLayer(a, "linux")  # its loopback-only in_ifaddrs alone would say "no IPv4"
    assert netdb._addrconfig(a)[0]
    a.inet.delete_address("eth0", A)
    assert not netdb._addrconfig(a)[0]


@pytest.mark.parametrize("profile", sorted(__import__("kame.socket", fromlist=["PROFILES"])
                                           .PROFILES))
def test_section_1_12_over_the_wire(profile: str) -> None:
    """Each profile's §1.12 row, with real IPv4 datagrams between two nodes:
    the initiating side (an AF_INET6 socket sending to ::ffff:a.b.c.d) and
    the listening side (an AF_INET6 wildcard socket getting IPv4)."""
    from kame.socket import PROFILES

    p = PROFILES[profile]
    dual = p.v6only_default == 0
    sim, a, b = pair()
    la, lb = SocketLayer(a, profile), SocketLayer(b, profile)
    # initiating side
    srv = lb.socket(AF_INET, SOCK_DGRAM)
    srv.bind(("0.0.0.0", 4000))
    cli = la.socket(AF_INET6, SOCK_DGRAM)
    if p.initiating and dual:
        cli.sendto(b"init", ("::ffff:192.0.2.2", 4000))
        sim.emit(a, a.poll(sim.now))
        sim.run(until=sim.now + 1.0)
        assert srv.recvfrom(10)[0] == b"init"
    else:
        with pytest.raises(OSError) as ei:
            cli.sendto(b"init", ("::ffff:192.0.2.2", 4000))
        assert ei.value.errno == p.mapped_errno
    # listening side
    wild = lb.socket(AF_INET6, SOCK_DGRAM)
    wild.bind(("::", 4001))
    s4 = la.socket(AF_INET, SOCK_DGRAM)
    s4.sendto(b"listen", ("192.0.2.2", 4001))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1.0)
    if dual:
        data, addr = wild.recvfrom(10)
        assert (data, addr[0]) == (b"listen", "::ffff:192.0.2.1")
    else:
        with pytest.raises(BlockingIOError):
            wild.recvfrom(10)
        assert b.stats["icps_error"] >= 1  # no socket: Port Unreachable


def test_down_up_probes_again_and_pmtu_floor() -> None:
    sim, a, _b = pair(dad=1)
    ifa = a.inet.find(A)
    assert ifa is not None and ifa.usable
    a.down("eth0", sim.now)
    assert not ifa.usable and a.inet.arptab == {}
    sim.emit(a, a.up("eth0", sim.now))
    assert ifa.tentative
    sim.run(until=sim.now + 5.0)
    assert ifa.usable
    # a Fragmentation Needed below 552 octets is clamped there (Linux min_pmtu)
    a.inet.route_add("198.51.100.0/24", str(B))
    inv = _core.ip_build(str(A), "198.51.100.7", 17, bytes(1480), df=True)
    a.receive("eth0", ip_frame(str(B), str(A), 1, _core.icmp_build(3, 4, 300, inv[:28])),
              sim.now)
    assert a.inet.path_mtu("eth0", IPv4Address("198.51.100.7"), sim.now) == 552
