"""IGMP host side (kame.inet.igmp; IGMPv3 RFC 9776 with the IGMPv2 RFC 2236
and IGMPv1 fallbacks) on a memory link under a simulated clock: joins on
AF_INET sockets (IP_ADD_MEMBERSHIP) report, queries are answered after the
random delay, leaves report, only joined groups are received, and the
group table is bounded and counted."""

from __future__ import annotations

import errno
import socket as hostsock
import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, SOCK_DGRAM, SocketLayer

MA, MB = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
A, B = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
G, G2 = IPv4Address("239.1.2.3"), IPv4Address("239.1.2.4")
IPPROTO_IP = 0


def mreq(g: IPv4Address, ifaddr: str = "0.0.0.0") -> bytes:
    return g.packed + IPv4Address(ifaddr).packed


def rig(**kn: int) -> tuple[Simulation, Node, Node, list[tuple[float, bytes]]]:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    seen: list[tuple[float, bytes]] = []
    link.add_tap(lambda t, f: seen.append((t, f)))
    knobs = {"net.link.ether.inet.dad_count": 0, **kn}
    a, b = Node("a", knobs=Knobs(knobs), seed=1), Node("b", knobs=Knobs(knobs), seed=2)
    for n, mac, addr in ((a, MA, A), (b, MB, B)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
        n.inet.route_add("224.0.0.0/4", None, "eth0")  # the route a join without an interface takes (Linux: else ENODEV)
    sim.run(until=0.1)
    seen.clear()
    return sim, a, b, seen


def igmp_of(frames: list[tuple[float, bytes]], src: bytes = MA) -> list[tuple[float, object]]:
    """(time, ip_validate result, IGMP message) of the IGMP datagrams ``src`` sent."""
    out = []
    for t, f in frames:
        if f[6:12] != src or f[12:14] != b"\x08\x00":
            continue
        v = _core.ip_validate(f[14:], True)
        if v.protocol == 2:
            body = f[14 + v.header_len:14 + v.total_len]
            out.append((t, (v, _core.icmp_parse(body, True), body)))
    return out


def v3_records(body: bytes) -> list[tuple[int, IPv4Address]]:
    n = struct.unpack("!H", body[6:8])[0]
    return [(body[8 + 8 * i], IPv4Address(body[12 + 8 * i:16 + 8 * i])) for i in range(n)]


def query(dst: str, group: str = "0.0.0.0", code: int = 100, v3: bool = True) -> bytes:
    data = b"\x02\x7d\x00\x00" if v3 else b""  # QRV 2, QQIC 125, no sources
    msg = _core.icmp_build(0x11, code, int(IPv4Address(group)), data)
    pkt = _core.ip_build("192.0.2.9", dst, 2, msg, ttl=1, options=b"\x94\x04\x00\x00")
    mac = bytes.fromhex("01005e") + (int(IPv4Address(dst)) & 0x7FFFFF).to_bytes(3, "big")
    return mac + bytes.fromhex("020000000099") + b"\x08\x00" + pkt


def test_join_reports_v3_and_only_joined_groups_are_received() -> None:
    sim, a, b, seen = rig()
    la = SocketLayer(a, "freebsd4x")
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.bind(("0.0.0.0", 5000))
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    assert e.value.errno == errno.EADDRINUSE
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 2.0)
    reps = igmp_of(seen)
    assert len(reps) == 2  # the report and its one retransmission (Robustness 2)
    for _t, (v, (typ, _code, _rest, _data), body) in reps:
        assert typ == 0x22 and v.dst == IPv4Address("224.0.0.22") and v.ttl == 1
        assert v.header_len == 24  # Router Alert (RFC 9776 §4)
        assert v3_records(body) == [(4, G)]  # CHANGE_TO_EXCLUDE_MODE {}
    assert reps[1][0] - reps[0][0] <= 1.0 + 0.01
    assert a.stats["igps_snd_reports"] == 2
    # b's kernel... b sends to the group and to a group a never joined
    lb = SocketLayer(b, "freebsd4x")
    t = lb.socket(AF_INET, SOCK_DGRAM)
    t.sendto(b"to the group", (str(G), 5000))
    t.sendto(b"not joined", (str(G2), 5000))
    sim.emit(b, b.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    assert s.recvfrom(100) == (b"to the group", (str(B), t.getsockname()[1]))
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)
    assert a.stats["ips_notmember"] == 1
    # leave: CHANGE_TO_INCLUDE_MODE {}, retransmitted [Robustness − 1] times
    # like any state change (RFC 3376 §5.1), and the group is no longer received
    seen.clear()
    s.setsockopt(IPPROTO_IP, hostsock.IP_DROP_MEMBERSHIP, mreq(G))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1.1)
    assert [v3_records(body) for _t, (_v, _m, body) in igmp_of(seen)] == [[(3, G)]] * 2
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_IP, hostsock.IP_DROP_MEMBERSHIP, mreq(G))
    assert e.value.errno == errno.EADDRNOTAVAIL
    t.sendto(b"after leave", (str(G), 5000))
    sim.emit(b, b.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)


def test_general_and_group_queries_answered_after_a_random_delay() -> None:
    sim, a, _b, seen = rig()
    la = SocketLayer(a, "linux")
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G, str(A)))
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G2))
    sim.run(until=sim.now + 3.0)
    seen.clear()
    t0 = sim.now
    delays = []
    for _ in range(4):
        t0 = sim.now
        seen.clear()
        sim.emit(a, a.receive("eth0", query("224.0.0.1", code=100), t0))  # 10 s
        sim.run(until=t0 + 11.0)
        reps = igmp_of(seen)
        assert len(reps) == 1, reps
        _v, _m, body = reps[0][1]
        assert sorted(v3_records(body), key=lambda r: int(r[1])) == [(2, G), (2, G2)]
        delays.append(reps[0][0] - t0)
    assert all(0 <= d <= 10.01 for d in delays) and len({round(d, 3) for d in delays}) > 1
    # a group-specific query (to the group) reports that group only
    seen.clear()
    t0 = sim.now
    sim.emit(a, a.receive("eth0", query(str(G2), str(G2), code=10), t0))
    sim.run(until=t0 + 1.1)
    assert [v3_records(b) for _t, (_v, _m, b) in igmp_of(seen)] == [[(2, G2)]]
    assert a.stats["igps_rcv_gen_queries"] == 4 and a.stats["igps_rcv_group_queries"] == 1
    assert a.stats["igps_rcv_v3_queries"] == 5


def test_v2_querier_puts_the_interface_in_v2_mode() -> None:
    sim, a, _b, seen = rig()
    la = SocketLayer(a, "linux")
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    sim.run(until=sim.now + 3.0)
    seen.clear()
    t0 = sim.now
    sim.emit(a, a.receive("eth0", query("224.0.0.1", code=20, v3=False), t0))
    sim.run(until=t0 + 2.1)
    reps = igmp_of(seen)
    assert len(reps) == 1
    v, (typ, _c, rest, _d), _b = reps[0][1]
    assert typ == 0x16 and IPv4Address(rest) == G and v.dst == G and v.ttl == 1
    seen.clear()
    s.close()  # the last member leaves: a Leave Group to 224.0.0.2
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    reps = igmp_of(seen)
    assert [(m[0], IPv4Address(m[2]), v.dst) for _t, (v, m, _b) in reps] == \
        [(0x17, G, IPv4Address("224.0.0.2"))]
    assert a.stats["igps_rcv_v1v2_queries"] == 1


def test_v2_report_suppression_and_v1_query() -> None:
    sim, a, _b, seen = rig()
    s = SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    sim.run(until=sim.now + 3.0)
    seen.clear()
    t0 = sim.now
    sim.emit(a, a.receive("eth0", query("224.0.0.1", code=0, v3=False), t0))  # IGMPv1
    # another member reports G first: ours is suppressed (RFC 2236 §3)
    rep = _core.icmp_build(0x12, 0, int(G))
    other = _core.ip_build("192.0.2.7", str(G), 2, rep, ttl=1)
    mac = bytes.fromhex("01005e010203")
    sim.emit(a, a.receive("eth0", mac + bytes.fromhex("020000000077") + b"\x08\x00" + other,
                          t0 + 0.0001))
    sim.run(until=t0 + 11.0)
    assert igmp_of(seen) == []
    assert a.stats["igps_rcv_reports"] == 1
    # v1 mode: the next join reports with a v1 Report
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G2))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.1)
    assert [m[0] for _t, (_v, m, _b) in igmp_of(seen)][:1] == [0x12]


def test_group_table_is_bounded() -> None:
    _sim, a, _b, _seen = rig(**{"net.inet.ip.mcast_maxgroups": 2})
    la = SocketLayer(a, "linux")
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G2))
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(IPv4Address("239.9.9.9")))
    assert e.value.errno == errno.ENOBUFS
    assert a.stats["igps_groupfull"] == 1
    assert a.inet.in_groups("eth0") == {G, G2}
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(IPv4Address("10.0.0.1")))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:  # an interface address that is not ours
        s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G, "10.9.9.9"))
    assert e.value.errno == errno.ENODEV  # Linux ip_mc_find_dev finds no device
    with pytest.raises(OSError):
        s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, b"short")
    s.close()
    assert a.inet.in_groups("eth0") == set()


def test_bad_igmp_is_counted() -> None:
    sim, a, _b, _seen = rig()
    good = query("224.0.0.1")
    bad_sum = bytearray(good)
    bad_sum[14 + 24 + 2] ^= 0xFF
    a.receive("eth0", bytes(bad_sum), sim.now)
    short = _core.ip_build("192.0.2.9", "224.0.0.1", 2, b"\x11\x00", ttl=1)
    a.receive("eth0", good[:14] + short, sim.now)
    odd = _core.ip_build("192.0.2.9", "224.0.0.1", 2,
                         _core.icmp_build(0x11, 10, 0, b"\x00\x00"), ttl=1)
    a.receive("eth0", good[:14] + odd, sim.now)
    st = a.stats
    assert (st["igps_rcv_badsum"], st["igps_rcv_tooshort"], st["igps_rcv_badqueries"]) == \
        (1, 1, 1)
    assert st["igps_rcv_total"] == 3 and st["ips_noproto"] == 0


@given(st.binary(max_size=64), st.sampled_from(["224.0.0.1", "239.1.2.3", "192.0.2.1"]))
def test_any_igmp_bytes_are_a_counted_drop_or_accepted(body: bytes, dst: str) -> None:
    a = Node("a", knobs=Knobs({"net.link.ether.inet.dad_count": 0}), seed=1)
    a.add_interface("eth0", MA)
    a.up("eth0", 0.0)
    a.add_address4("eth0", "192.0.2.1/24", 0.0)
    a.poll(0.1)
    a.inet.in_joingroup("eth0", G, 0.2)
    pkt = _core.ip_build("192.0.2.9", dst, 2, body, ttl=1)
    a.receive("eth0", bytes.fromhex("01005e000001") + MB + b"\x08\x00" + pkt, 0.3)
    a.poll(20.0)
    assert a.inet.in_groups("eth0") == {G}
