"""IGMPv3 source filtering (kame.inet.igmp, RFC 3376 §3.2/§5, RFC 4604 SSM,
RFC 3678 socket options) on a memory link under a simulated clock:
IP_ADD_SOURCE_MEMBERSHIP / IP_DROP_SOURCE_MEMBERSHIP (INCLUDE mode) and
IP_BLOCK_SOURCE / IP_UNBLOCK_SOURCE (EXCLUDE mode) change the interface's
filter, each change is reported with ALLOW_NEW_SOURCES / BLOCK_OLD_SOURCES
or TO_IN / TO_EX records (and retransmitted), queries are answered with
the current state (IS_IN / IS_EX, and for a group-and-source-specific
query only the asked sources we take), datagrams from a source the filter
refuses are not delivered, and source lists are bounded and counted."""

from __future__ import annotations

import errno
import socket as hostsock
import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.inet.igmp import MCAST_EXCLUDE, MCAST_INCLUDE, Igmp
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, SOCK_DGRAM, SocketLayer
from kame.socket.inctl import (
    IP_ADD_SOURCE_MEMBERSHIP,
    IP_BLOCK_SOURCE,
    IP_DROP_SOURCE_MEMBERSHIP,
    IP_UNBLOCK_SOURCE,
)

MA, MB, MC = (bytes.fromhex(f"02000000000{c}") for c in "abc")
A, B, C = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), IPv4Address("192.0.2.3")
G = IPv4Address("232.1.2.3")
IPPROTO_IP = 0
IS_IN, IS_EX, TO_IN, TO_EX, ALLOW, BLOCK = 1, 2, 3, 4, 5, 6


def msrc(g: IPv4Address, src: IPv4Address, profile: str = "linux") -> bytes:
    """``struct ip_mreq_source``: Linux puts the interface before the source."""
    any_if = IPv4Address(0).packed
    return g.packed + (any_if + src.packed if profile == "linux" else src.packed + any_if)


def mreq(g: IPv4Address) -> bytes:
    return g.packed + IPv4Address(0).packed


def rig(**kn: int) -> tuple[Simulation, list[Node], list[tuple[float, bytes]]]:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    seen: list[tuple[float, bytes]] = []
    link.add_tap(lambda t, f: seen.append((t, f)))
    knobs = {"net.link.ether.inet.dad_count": 0, **kn}
    nodes = []
    for i, (mac, addr) in enumerate(((MA, A), (MB, B), (MC, C))):
        n = Node("abc"[i], knobs=Knobs(knobs), seed=i + 1)
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
        n.inet.route_add("224.0.0.0/4", None, "eth0")  # the route a join without an interface takes (Linux: else ENODEV)
        nodes.append(n)
    sim.run(until=0.1)
    seen.clear()
    return sim, nodes, seen


def records(frames: list[tuple[float, bytes]], src: bytes = MA) -> list[list[tuple[int, IPv4Address, tuple[IPv4Address, ...]]]]:
    """The group records of each IGMPv3 report ``src`` sent."""
    out = []
    for _t, f in frames:
        if f[6:12] != src or f[12:14] != b"\x08\x00":
            continue
        v = _core.ip_validate(f[14:], True)
        if v.protocol != 2:
            continue
        body = f[14 + v.header_len:14 + v.total_len]
        assert _core.icmp_parse(body, True)[0] == 0x22
        n, pos, recs = struct.unpack("!H", body[6:8])[0], 8, []
        for _ in range(n):
            t, _aux, ns = struct.unpack("!BBH", body[pos:pos + 4])
            g = IPv4Address(body[pos + 4:pos + 8])
            srcs = tuple(IPv4Address(body[pos + 8 + 4 * i:pos + 12 + 4 * i]) for i in range(ns))
            recs.append((t, g, srcs))
            pos += 8 + 4 * ns
        assert pos == len(body)
        out.append(recs)
    return out


def settle(sim: Simulation, nodes: list[Node], seconds: float = 2.0) -> None:
    for n in nodes:
        sim.emit(n, n.poll(sim.now))
    sim.run(until=sim.now + seconds)


def query(group: IPv4Address, sources: tuple[IPv4Address, ...] = ()) -> bytes:
    data = b"\x02\x7d" + struct.pack("!H", len(sources)) + b"".join(s.packed for s in sources)
    msg = _core.icmp_build(0x11, 10, int(group), data)  # 1 s
    dst = str(group) if int(group) else "224.0.0.1"
    pkt = _core.ip_build("192.0.2.9", dst, 2, msg, ttl=1, options=b"\x94\x04\x00\x00")
    mac = bytes.fromhex("01005e") + (int(IPv4Address(dst)) & 0x7FFFFF).to_bytes(3, "big")
    return mac + bytes.fromhex("020000000099") + b"\x08\x00" + pkt


def test_source_specific_join_reports_allow_and_block() -> None:
    sim, (a, _b, _c), seen = rig()
    s = SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM)
    s.bind(("0.0.0.0", 5000))
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a])
    # INCLUDE({}) -> INCLUDE({B}): ALLOW(B), sent and retransmitted (Robustness 2)
    assert records(seen) == [[(ALLOW, G, (B,))]] * 2
    assert a.inet.in_filter("eth0", G) == (MCAST_INCLUDE, frozenset({B}))
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, C))
    settle(sim, [a])
    assert records(seen) == [[(ALLOW, G, (C,))]] * 2
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a])
    assert records(seen) == [[(BLOCK, G, (B,))]] * 2
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, msrc(G, C))  # the last: the group left
    settle(sim, [a])
    assert records(seen) == [[(BLOCK, G, (C,))]] * 2
    assert a.inet.in_filter("eth0", G) is None and G not in a.inet.in_groups("eth0")
    assert not s.groups and not s.msf


def test_block_and_unblock_on_an_any_source_membership() -> None:
    sim, (a, _b, _c), seen = rig()
    s = SocketLayer(a, "freebsd4x").socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    settle(sim, [a])
    assert records(seen) == [[(TO_EX, G, ())]] * 2
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, B, "bsd"))
    settle(sim, [a])
    assert records(seen) == [[(BLOCK, G, (B,))]] * 2  # EXCLUDE({}) -> EXCLUDE({B})
    assert a.inet.in_filter("eth0", G) == (MCAST_EXCLUDE, frozenset({B}))
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, msrc(G, B, "bsd"))
    settle(sim, [a])
    assert records(seen) == [[(ALLOW, G, (B,))]] * 2
    seen.clear()
    s.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, C, "bsd"))
    s.setsockopt(IPPROTO_IP, hostsock.IP_DROP_MEMBERSHIP, mreq(G))  # leaves whatever the filter
    settle(sim, [a])
    assert records(seen)[-1] == [(TO_IN, G, ())]
    assert a.inet.in_filter("eth0", G) is None


def test_members_merge_and_mode_changes_report_to_in_and_to_ex() -> None:
    sim, (a, _b, _c), seen = rig()
    la = SocketLayer(a, "linux")
    s1, s2 = la.socket(AF_INET, SOCK_DGRAM), la.socket(AF_INET, SOCK_DGRAM)
    s1.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a])
    seen.clear()
    # an any-source member: INCLUDE({B}) -> EXCLUDE({}): TO_EX({})
    s2.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    settle(sim, [a])
    assert records(seen) == [[(TO_EX, G, ())]] * 2
    seen.clear()
    # it blocks B and C; B is included by s1, so only C is excluded
    s2.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, B))
    s2.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, C))
    assert a.inet.in_filter("eth0", G) == (MCAST_EXCLUDE, frozenset({C}))
    settle(sim, [a])
    assert [(BLOCK, G, (C,))] in records(seen)
    seen.clear()
    # it leaves: EXCLUDE({C}) -> INCLUDE({B}): TO_IN({B})
    s2.close()
    settle(sim, [a])
    assert records(seen) == [[(TO_IN, G, (B,))]] * 2
    assert a.inet.in_filter("eth0", G) == (MCAST_INCLUDE, frozenset({B}))


def test_queries_answered_with_the_current_state() -> None:
    sim, (a, _b, _c), seen = rig()
    s = SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a], 3.0)
    for q, want in (
        (query(IPv4Address(0)), [[(IS_IN, G, (B,))]]),  # general
        (query(G), [[(IS_IN, G, (B,))]]),  # group-specific
        (query(G, (B, C)), [[(IS_IN, G, (B,))]]),  # group-and-source: the asked we take
        (query(G, (C,)), []),  # none of the asked: no record, no report
    ):
        seen.clear()
        sim.emit(a, a.receive("eth0", q, sim.now))
        sim.run(until=sim.now + 1.5)
        assert records(seen) == want, q
    assert a.stats["igps_rcv_gsr_queries"] == 2
    # an EXCLUDE-mode filter: IS_EX with the blocked; asked for B and C: IS_IN(C)
    s.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, msrc(G, B))
    s.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    s.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, B))
    settle(sim, [a], 3.0)
    for q, want in ((query(IPv4Address(0)), [[(IS_EX, G, (B,))]]),
                    (query(G, (B, C)), [[(IS_IN, G, (C,))]])):
        seen.clear()
        sim.emit(a, a.receive("eth0", q, sim.now))
        sim.run(until=sim.now + 1.5)
        assert records(seen) == want, q


def test_only_the_joined_source_is_delivered() -> None:
    sim, (a, b, c), _seen = rig()
    la = SocketLayer(a, "linux")
    s, other = la.socket(AF_INET, SOCK_DGRAM), la.socket(AF_INET, SOCK_DGRAM)
    s.bind(("0.0.0.0", 5000))
    other.bind(("0.0.0.0", 5001))
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a])
    for n, text in ((b, b"from b"), (c, b"from c")):
        t = SocketLayer(n, "linux").socket(AF_INET, SOCK_DGRAM)
        t.sendto(text, (str(G), 5000))
        settle(sim, [n], 0.5)
    assert s.recvfrom(100)[0] == b"from b"
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)
    assert a.stats["ips_notmember"] == 1  # the interface's filter refused c
    # a second socket blocks nothing: the interface takes c now; s still does not
    other.setsockopt(IPPROTO_IP, hostsock.IP_ADD_MEMBERSHIP, mreq(G))
    t = SocketLayer(c, "linux").socket(AF_INET, SOCK_DGRAM)
    t.sendto(b"again from c", (str(G), 5000))
    settle(sim, [c], 0.5)
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)
    assert la.udpstat["udps_filtermcast"] == 1


def test_errors_and_bounds() -> None:
    _sim, (a, _b, _c), _seen = rig(**{"net.inet.ip.igmp_max_msf": 2})  # the Linux profile's bound
    la = SocketLayer(a, "linux")
    s = la.socket(AF_INET, SOCK_DGRAM)

    def err(opt: int, value: bytes) -> int:
        with pytest.raises(OSError) as e:
            s.setsockopt(IPPROTO_IP, opt, value)
        return e.value.errno  # type: ignore[no-any-return]

    # no membership: ip_mc_source's "must have a prior join" (Linux)
    assert err(IP_BLOCK_SOURCE, msrc(G, B)) == errno.EINVAL
    assert err(IP_DROP_SOURCE_MEMBERSHIP, msrc(G, B)) == errno.EINVAL
    assert err(IP_ADD_SOURCE_MEMBERSHIP, msrc(IPv4Address("10.0.0.1"), B)) == errno.EINVAL
    assert err(IP_ADD_SOURCE_MEMBERSHIP, b"\x00" * 8) == errno.EINVAL
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    assert err(IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B)) == errno.EADDRNOTAVAIL
    assert err(IP_BLOCK_SOURCE, msrc(G, C)) == errno.EINVAL  # an INCLUDE-mode membership
    assert err(hostsock.IP_ADD_MEMBERSHIP, mreq(G)) == errno.EADDRINUSE
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, C))
    assert err(IP_ADD_SOURCE_MEMBERSHIP, msrc(G, IPv4Address("192.0.2.4"))) == errno.ENOBUFS
    assert a.stats["igps_srcfull"] == 1
    assert err(IP_DROP_SOURCE_MEMBERSHIP, msrc(G, IPv4Address("192.0.2.4"))) == \
        errno.EADDRNOTAVAIL
    t = SocketLayer(a, "freebsd4x").socket(AF_INET, SOCK_DGRAM)
    with pytest.raises(OSError) as e:
        t.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, B, "bsd"))
    assert e.value.errno == errno.EADDRNOTAVAIL  # the BSDs: no membership to block in


def _apply(state: tuple[int, frozenset[IPv4Address]] | None,
           recs: list[tuple[int, IPv4Address, tuple[IPv4Address, ...]]]
           ) -> tuple[int, frozenset[IPv4Address]]:
    """A router's view of a host's filter after its state-change records."""
    mode, srcs = state or (MCAST_INCLUDE, frozenset())
    for t, _g, ss in recs:
        x = frozenset(ss)
        if t == TO_IN:
            mode, srcs = MCAST_INCLUDE, x
        elif t == TO_EX:
            mode, srcs = MCAST_EXCLUDE, x
        elif t == ALLOW:
            srcs = srcs | x if mode == MCAST_INCLUDE else srcs - x
        elif t == BLOCK:
            srcs = srcs - x if mode == MCAST_INCLUDE else srcs | x
    return mode, srcs


SRCS = [IPv4Address(f"198.51.100.{i}") for i in range(1, 5)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["add", "drop", "join", "leave",
                                                              "block", "unblock"]),
                          st.sampled_from(SRCS)), max_size=25))
def test_reports_carry_every_change_and_the_state_is_the_merge(ops: list) -> None:  # type: ignore[type-arg]
    """Whatever the sockets do, the records reported move a router's view
    of the interface's filter exactly to the merge of the sockets' filters."""
    sim, (a, _b, _c), seen = rig()
    la = SocketLayer(a, "linux")
    socks = [la.socket(AF_INET, SOCK_DGRAM) for _ in range(3)]
    opt = {"add": IP_ADD_SOURCE_MEMBERSHIP, "drop": IP_DROP_SOURCE_MEMBERSHIP,
           "join": hostsock.IP_ADD_MEMBERSHIP, "leave": hostsock.IP_DROP_MEMBERSHIP,
           "block": IP_BLOCK_SOURCE, "unblock": IP_UNBLOCK_SOURCE}
    view: tuple[int, frozenset[IPv4Address]] | None = None
    none = (MCAST_INCLUDE, frozenset())
    for i, op, src in ops:
        value = mreq(G) if op in ("join", "leave") else msrc(G, src)
        seen.clear()
        try:
            socks[i].setsockopt(IPPROTO_IP, opt[op], value)
        except OSError:
            pass
        settle(sim, [a], 0.005)  # the change's first report; retransmissions repeat it
        for recs in records(seen):
            view = _apply(view, recs)
        members = [s.msf.get((G, k), (MCAST_EXCLUDE, frozenset()))
                   for s in socks for g, k in s.groups if g == G]
        want = Igmp._merge(0, members) if members else None
        assert a.inet.in_filter("eth0", G) == want
        assert (view or none) == (want or none), (ops, view, want)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=40), min_size=1, max_size=6))
def test_group_and_source_queries_are_bounded(asks: list[list[int]]) -> None:
    """However many sources queries ask for before the answer is due, the
    host remembers at most net.inet.ip.mcast_maxgrpsrc (igps_srcfull past
    it, and the whole state answers) and answers only sources it takes."""
    sim, (a, _b, _c), seen = rig(**{"net.inet.ip.mcast_maxgrpsrc": 50})
    s = SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, msrc(G, B))
    settle(sim, [a], 3.0)
    seen.clear()
    for srcs in asks:
        q = query(G, tuple(IPv4Address(x) for x in srcs))
        sim.emit(a, a.receive("eth0", q, sim.now))
        assert len(a.inet.igmp["eth0"].asked.get(G, ())) <= 50
    sim.run(until=sim.now + 1.5)
    asked = {IPv4Address(x) for srcs in asks for x in srcs}
    for recs in records(seen):
        for t, g, ss in recs:
            assert (t, g) == (IS_IN, G) and set(ss) <= {B}
    overflow = a.stats.get("igps_srcfull", 0) > 0
    whole = overflow or any(not srcs for srcs in asks)  # a group query: the whole state
    assert (B in asked or whole) == bool(records(seen))


def test_a_burst_of_changes_retransmits_every_source_pending() -> None:
    """RFC 3376 §5.1: three blocks in a row each report at once, merged with
    what the earlier ones still owe; the retransmission that follows names
    every source whose count is not spent, in one report. (Before, only
    the latest change was retransmitted: the first two sources were lost
    to a router that missed the immediate reports.)"""
    sim, (a, _b, _c), seen = rig()
    la = SocketLayer(a, "linux")
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IP, 35, mreq(G))  # IP_ADD_MEMBERSHIP
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 2.0)  # the join's reports are done
    seen.clear()
    for src in (A, B, C):
        s.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, msrc(G, src))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 2.0)
    reps = records(seen)
    assert reps[:3] == [[(BLOCK, G, (A,))], [(BLOCK, G, (A, B))], [(BLOCK, G, (B, C))]], reps
    # A went out twice (Robustness 2), B twice, C once: C's retransmission alone
    assert reps[3:] == [[(BLOCK, G, (C,))]], reps
