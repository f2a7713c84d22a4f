"""The IGMP router side (kame.inet.igmp_router: RFC 3376 §6, §7.3.2) and
IPv4 multicast forwarding by its state (kame.inet.mroute), with kame hosts
(kame.inet.igmp, IGMPv3 and the v2/v1 modes) on memory links."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address as A4
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.inet.mroute import parse_v3_report
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.mcast import MODE_IS_EXCLUDE, MODE_IS_INCLUDE
from kame.node import Node

G, SSM = A4("239.1.2.3"), A4("232.1.1.1")
SRC, SRC2 = A4("192.0.2.5"), A4("192.0.2.6")
FAST = {"net.inet.igmp.query_interval": 8, "net.inet.igmp.query_response_interval": 1000,
        "net.inet.igmp.last_member_query_interval": 300,
        "net.link.ether.inet.dad_count": 0}


def links(hosts: int = 1, host_knobs: dict[str, int] | None = None, **kn: int
          ) -> tuple[Simulation, Node, list[Node]]:
    """Router r on link a (192.0.2.0/24) and link b (198.51.100.0/24), the
    hosts on b."""
    sim = Simulation()
    la, lb = MemoryLink(delay=0.001), MemoryLink(delay=0.001)
    r = Node("r", knobs=Knobs({"net.inet.ip.forwarding": 1, **FAST, **kn}), seed=1)
    for ifn, link, mac, addr in (("a", la, b"\x02\0\0\0\1\1", "192.0.2.1/24"),
                                 ("b", lb, b"\x02\0\0\0\1\2", "198.51.100.1/24")):
        r.add_interface(ifn, mac)
        sim.connect(r, ifn, link, mac)
        sim.emit(r, r.up(ifn, 0.0))
        r.add_address4(ifn, addr, 0.0)
    hs = []
    for i in range(hosts):
        mac = bytes([2, 0, 0, 0, 2, i + 1])
        h = Node(f"h{i}", knobs=Knobs({**FAST, **(host_knobs or {})}), seed=10 + i)
        h.add_interface("eth0", mac)
        sim.connect(h, "eth0", lb, mac)
        sim.emit(h, h.up("eth0", 0.0))
        h.add_address4("eth0", f"198.51.100.{10 + i}/24", 0.0)
        hs.append(h)
    sim.run(until=0.5)
    return sim, r, hs


def groups(r: Node, ifname: str = "b") -> dict[str, Any]:
    for ln in r.inet.igmpr.snapshot(r._now):
        if ln["ifname"] == ifname:
            return {g["group"]: g for g in ln["groups"]}
    return {}


def udp4(src: A4, dst: A4, ttl: int = 16) -> bytes:
    body = struct.pack("!HHHH", 4242, 4242, 12, 0) + b"data"
    pkt = _core.ip_build(str(src), str(dst), 17, body, ttl=ttl)
    mac = bytes.fromhex("01005e") + (int(dst) & 0x7FFFFF).to_bytes(3, "big")
    return mac + b"\x02\0\0\0\0\xaa" + b"\x08\x00" + bytes(pkt)


def out4(frames: list[Any]) -> dict[str, list[bytes]]:
    d: dict[str, list[bytes]] = {}
    for ifn, f in frames:
        if f[12:14] == b"\x08\x00" and f[23] == 17:
            d.setdefault(ifn, []).append(f)
    return d


def test_v3_host_join_and_leave() -> None:
    sim, r, (h,) = links()
    assert r.stats["igps_rtr_snd_gen_queries"] >= 1
    h.inet.in_joingroup("eth0", G, sim.now)
    sim.emit(h, h._flush())
    sim.run(until=sim.now + 2.0)
    g = groups(r)[str(G)]
    assert g["mode"] == "exclude" and g["compat"] == "igmpv3"
    assert r.stats["igps_rtr_rcv_reports"] >= 1
    h.inet.in_leavegroup("eth0", G, sim.now)
    sim.emit(h, h._flush())
    sim.run(until=sim.now + 0.2)
    assert r.stats["igps_rtr_snd_group_queries"] >= 1 and str(G) in groups(r)
    sim.run(until=sim.now + 1.0)  # LMQT 0.6 s
    assert str(G) not in groups(r) and r.stats["igps_rtr_expired"] == 1


def test_ssm_host_include_sources() -> None:
    sim, r, (h,) = links()
    assert h.inet.in_setfilter("eth0", SSM, "so", 1, [SRC], sim.now) == 0
    sim.emit(h, h._flush())
    sim.run(until=sim.now + 2.0)
    g = groups(r)[str(SSM)]
    assert g["mode"] == "include" and [s["addr"] for s in g["sources"]] == [str(SRC)]


def test_v2_and_v1_hosts() -> None:
    sim, r, (h2,) = links(host_knobs={"net.inet.igmp.default_version": 2})
    h2.inet.in_joingroup("eth0", G, sim.now)
    sim.emit(h2, h2._flush())
    sim.run(until=sim.now + 2.0)
    assert groups(r)[str(G)]["compat"] == "igmpv2"
    assert r.stats["igps_rtr_rcv_v1v2reports"] >= 1
    h2.inet.in_leavegroup("eth0", G, sim.now)  # a Leave: TO_IN({})
    sim.emit(h2, h2._flush())
    sim.run(until=sim.now + 1.5)
    assert r.stats["igps_rtr_rcv_leaves"] == 1 and str(G) not in groups(r)

    sim, r, (h1,) = links(host_knobs={"net.inet.igmp.default_version": 1})
    h1.inet.in_joingroup("eth0", G, sim.now)
    sim.emit(h1, h1._flush())
    sim.run(until=sim.now + 2.0)
    assert groups(r)[str(G)]["compat"] == "igmpv1"
    # §7.3.2: a Leave is ignored while an IGMPv1 host is present
    r.inet.igmpr.leave_input("b", G, sim.now)
    sim.run(until=sim.now + 2.0)
    assert str(G) in groups(r)


def test_querier_election_lowest_address() -> None:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    rs = []
    for i, addr in enumerate(("192.0.2.9", "192.0.2.3")):
        mac = bytes([2, 0, 0, 0, 3, i + 1])
        n = Node(f"r{i}", knobs=Knobs({"net.inet.ip.forwarding": 1, **FAST}), seed=i)
        n.add_interface("e0", mac)
        sim.connect(n, "e0", link, mac)
        sim.emit(n, n.up("e0", 0.0))
        n.add_address4("e0", f"{addr}/24", 0.0)
        rs.append(n)
    sim.run(until=5.0)
    hi, lo = (n.inet.igmpr.snapshot(sim.now)[0] for n in rs)
    assert lo["is_querier"] and not hi["is_querier"] and hi["querier"] == "192.0.2.3"
    assert rs[0].stats["igps_rtr_querier_lost"] == 1


def test_forwarding_by_igmp_state() -> None:
    sim, r, (h,) = links()
    now = sim.now
    assert out4(r.receive("a", udp4(SRC, G), now)) == {}  # no listener
    h.inet.in_joingroup("eth0", G, now)
    sim.emit(h, h._flush())
    sim.run(until=now + 2.0)
    now = sim.now
    o = out4(r.receive("a", udp4(SRC, G), now))
    assert list(o) == ["b"]
    f = o["b"][0]
    assert f[:6] == bytes.fromhex("01005e010203") and f[14 + 8] == 15  # TTL - 1
    v = _core.ip_validate(f[14:], True)  # the header checksum is right
    assert v.ttl == 15 and v.src == SRC and v.dst == G
    # never 224.0.0.0/24, never TTL 1, never back, never from the wrong side
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, A4("224.0.0.200"), [])], now)
    assert out4(r.receive("a", udp4(SRC, A4("224.0.0.200")), now)) == {}
    assert out4(r.receive("a", udp4(SRC, G, ttl=1), now)) == {}
    assert out4(r.receive("b", udp4(SRC, G), now)) == {}
    assert r.stats["mrts_wrong_if"] == 1
    assert out4(r.receive("a", udp4(A4("203.0.113.1"), G), now)) == {}
    assert r.stats["mrts_no_route"] == 1
    # source filters: INCLUDE(SRC) for SSM on b
    r.inet.igmpr.report_input("b", [(MODE_IS_INCLUDE, SSM, [SRC])], now)
    assert list(out4(r.receive("a", udp4(SRC, SSM), now))) == ["b"]
    assert out4(r.receive("a", udp4(SRC2, SSM), now)) == {}
    # the listener leaves: traffic stops
    h.inet.in_leavegroup("eth0", G, now)
    sim.emit(h, h._flush())
    sim.run(until=now + 1.5)
    assert out4(r.receive("a", udp4(SRC, G), sim.now)) == {}
    snap = r.inet.mroute_snapshot(sim.now)
    assert {m["ifname"]: m["pkt_out"] for m in snap["mifs"]}["b"] == 2


def test_the_cache_stays_bounded() -> None:
    sim, r, _ = links(hosts=0, **{"net.inet.ip.mfc_max": 4})
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, G, [])], sim.now)
    for i in range(20):
        assert list(out4(r.receive("a", udp4(A4(f"192.0.2.{100 + i}"), G), sim.now))) == ["b"]
    assert len(r.inet.mfc) == 4 and r.stats["mrts_mfc_full"] == 16


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 70), st.binary(max_size=300))
def test_v3_report_parser_never_raises(nrec: int, data: bytes) -> None:
    recs = parse_v3_report(nrec, data)
    if recs is not None:
        assert len(recs) == nrec


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0xE0000000, 0xEFFFFFFF),
                          st.lists(st.integers(0, 0xFFFFFFFF), max_size=5),
                          st.integers(0, 3)), max_size=6))
def test_v3_report_parser_reads_what_was_built(recs: list[Any]) -> None:
    data = b"".join(struct.pack("!BBHI", t, aux, len(ss), g) + b"".join(
        struct.pack("!I", s) for s in ss) + bytes(4 * aux) for t, g, ss, aux in recs)
    got = parse_v3_report(len(recs), data)
    assert got == [(t, A4(g), [A4(s) for s in ss]) for t, g, ss, _ in recs]
    if data:
        assert parse_v3_report(len(recs), data[:-1]) is None


def test_kame_igmp_show_prints_the_state_and_the_forwarding_tables() -> None:
    from kame.cli.main import main  # noqa: F401 (the parser registers "igmp")
    from kame.cli.tools import format_mld

    sim, r, (h,) = links()
    h.inet.in_joingroup("eth0", G, sim.now)
    sim.emit(h, h._flush())
    sim.run(until=sim.now + 2.0)
    r.receive("a", udp4(SRC, G), sim.now)
    d = {"links": r.inet.igmpr.snapshot(sim.now), "mroute": r.inet.mroute_snapshot(sim.now),
         "stats": {k: r.stats[k] for k in r.stats if k.startswith(("igps_rtr_", "mrts_"))}}
    text = format_mld(d, "b", True, "igmp")
    lines = text.splitlines()
    assert lines[0].startswith("b: querier 198.51.100.1 (this router), next query in "), text
    assert any(ln.startswith(f"\tgroup {G} mode exclude timer ") and ln.endswith(" igmpv3")
               for ln in lines), text
    assert "IPv4 Multicast Forwarding Cache" in lines and "igmp (router side):" in lines
    assert [ln.split() for ln in lines if ln.startswith(f" {SRC}")] == \
        [[str(SRC), str(G), "1", "a", "b"]], text
    assert "\t1 IPv4 multicast forwarding cache misses" in lines, text


def _igmp_frame(src: str, dst: str, t: int, group: A4) -> bytes:
    msg = _core.icmp_build(t, 0, int(group), b"")
    pkt = _core.ip_build(src, dst, 2, msg, ttl=1, options=b"\x94\x04\x00\x00")
    mac = bytes.fromhex("01005e") + (int(A4(dst)) & 0x7FFFFF).to_bytes(3, "big")
    return mac + b"\x02\0\0\0\0\x99" + b"\x08\x00" + bytes(pkt)


def test_bad_reports_are_counted_and_ignored() -> None:
    sim, r, _ = links(hosts=0)
    before = r.stats["igps_rcv_badreports"]
    r.receive("b", _igmp_frame("198.51.100.20", "239.9.9.9", 0x16, G), sim.now)  # not to G
    r.receive("b", _igmp_frame("203.0.113.5", str(G), 0x16, G), sim.now)  # off-subnet
    assert r.stats["igps_rcv_badreports"] == before + 2 and groups(r) == {}
    r.receive("b", _igmp_frame("198.51.100.20", str(G), 0x16, G), sim.now)  # good
    assert groups(r)[str(G)]["compat"] == "igmpv2"
    r.receive("b", _igmp_frame("198.51.100.21", str(G), 0x12, G), sim.now)  # an IGMPv1 host
    assert groups(r)[str(G)]["compat"] == "igmpv1"


def _queries4(frames: list[Any]) -> list[tuple[int, int, A4, bool]]:
    """(IGMP length, Max Resp Code, group, Router Alert) of the queries sent."""
    out = []
    for _ifn, f in frames:
        if f[12:14] != b"\x08\x00":
            continue
        v = _core.ip_validate(f[14:], True)
        body = f[14 + v.header_len:14 + v.total_len]
        if v.protocol == 2 and body[0] == 0x11:
            out.append((len(body), body[1], A4(body[4:8]), v.header_len > 20))
    return out


def test_older_querier_versions() -> None:
    """net.inet.igmp.version (RFC 3376 §7.3.1): 2 sends IGMPv2 queries (8
    octets, Max Resp Time in tenths, Router Alert) and group-specific ones
    on a Leave; 1 sends IGMPv1 queries (code 0, no Router Alert), never a
    group-specific one: a left group times out. An IGMPv2 query heard by an
    IGMPv3 querier is counted."""
    for ver in (2, 1):
        sim, r, _ = links(hosts=0, **{"net.inet.igmp.version": ver})
        sent: list[Any] = []
        r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, G, [])], sim.now)
        sent += r.poll(sim.now + 8.0)  # the next General Query
        r.inet.igmpr.leave_input("b", G, sim.now + 8.0)
        sent += r.poll(sim.now + 8.0) + r.poll(sim.now + 8.5)
        qs = _queries4(sent)
        gen = [q for q in qs if not int(q[2])]
        grp = [q for q in qs if q[2] == G]
        assert gen and all(q[0] == 8 for q in qs), qs
        if ver == 2:
            assert gen[0][1] == 10 and gen[0][3] and grp  # 1 s in tenths; RA
            r.poll(sim.now + 9.5)
            assert str(G) not in groups(r)
        else:
            assert gen[0][1] == 0 and not gen[0][3] and not grp
            assert str(G) in groups(r)  # no query: the Group Membership Interval
    sim, r, _ = links(hosts=0)
    r.inet.igmpr.query_input("b", A4("198.51.100.250"), A4(0), (), False, False, sim.now)
    assert r.stats["igps_rtr_rcv_oldqueries"] == 1


def _v3_report_frame(src: str, recs: list[tuple[int, A4, list[A4]]]) -> bytes:
    data = b"".join(struct.pack("!BBH4s", t, 0, len(ss), g.packed) +
                    b"".join(x.packed for x in ss) for t, g, ss in recs)
    msg = _core.icmp_build(0x22, 0, len(recs), data)
    pkt = _core.ip_build(src, "224.0.0.22", 2, msg, ttl=1, options=b"\x94\x04\x00\x00")
    return bytes.fromhex("01005e000016") + b"\x02\0\0\0\0\x98" + b"\x08\x00" + bytes(pkt)


def test_v3_report_from_the_unspecified_address() -> None:
    """RFC 3376 §4.2.13: a system without an address yet reports from
    0.0.0.0; ip_input lets that in for IGMP, and only for IGMP."""
    sim, r, _ = links(hosts=0)
    bad, badrep = r.stats["ips_badaddr"], r.stats["igps_rcv_badreports"]
    r.receive("b", _v3_report_frame("0.0.0.0", [(MODE_IS_EXCLUDE, G, [])]), sim.now)
    assert groups(r)[str(G)]["mode"] == "exclude"
    assert r.stats["ips_badaddr"] == bad and r.stats["igps_rcv_badreports"] == badrep
    r.receive("b", _v3_report_frame("0.0.0.0", [(MODE_IS_INCLUDE, SSM, [SRC])]), sim.now)
    assert [s["addr"] for s in groups(r)[str(SSM)]["sources"]] == [str(SRC)]
    # then the traffic flows to b
    assert list(out4(r.receive("a", udp4(SRC, G), sim.now))) == ["b"]
    # UDP from 0.0.0.0 to a group: still a martian source
    f = udp4(A4("0.0.0.0"), G)
    r.receive("b", f, sim.now)
    assert r.stats["ips_badaddr"] == bad + 1
    # another off-link source stays refused by the querier
    r.receive("b", _v3_report_frame("203.0.113.5", [(MODE_IS_EXCLUDE, A4("239.7.7.7"), [])]),
              sim.now)
    assert str(A4("239.7.7.7")) not in groups(r)
    assert r.stats["igps_rcv_badreports"] == badrep + 1


def test_the_routers_own_multicast_is_forwarded() -> None:
    """ip_output's ip_mforward: a socket on the router with
    IP_MULTICAST_TTL above 1 reaches the other links' listeners, TTL - 1;
    224.0.0.0/24 and TTL 1 stay on the sending link."""
    from kame.socket import AF_INET, SOCK_DGRAM, SocketLayer
    from kame.socket.inctl import IP_MULTICAST_IF, IP_MULTICAST_TTL
    sim, r, (h,) = links()
    sl, hl = SocketLayer(r), SocketLayer(h)
    rx = hl.socket(AF_INET, SOCK_DGRAM)
    rx.bind(("0.0.0.0", 4242))
    h.inet.in_joingroup("eth0", G, sim.now)
    sim.emit(h, h._flush())
    sim.run(until=sim.now + 2.0)
    s = sl.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(0, IP_MULTICAST_IF, A4("192.0.2.1").packed)
    s.setsockopt(0, IP_MULTICAST_TTL, 5)
    sim.emit(r, r._flush())
    s.sendto(b"own", (str(G), 4242))
    frames = r._flush()
    o = out4(frames)
    assert sorted(o) == ["a", "b"]
    assert o["a"][0][14 + 8] == 5 and o["b"][0][14 + 8] == 4
    v = _core.ip_validate(o["b"][0][14:], True)
    assert v.src == A4("192.0.2.1") and v.dst == G and v.ttl == 4
    sim.emit(r, frames)
    sim.run(until=sim.now + 0.1)
    data, peer = rx.recvfrom(100)
    assert data == b"own" and peer[0] == "192.0.2.1"
    snap = r.inet.mroute_snapshot(sim.now)
    mifs = {m["ifname"]: m for m in snap["mifs"]}
    assert mifs["a"]["pkt_out"] == 1 and mifs["a"]["pkt_in"] == 0 and mifs["b"]["pkt_out"] == 1
    assert [e["parent"] for e in snap["mfc"]] == ["a"]
    s.setsockopt(0, IP_MULTICAST_TTL, 1)
    s.sendto(b"own", (str(G), 4242))
    assert sorted(out4(r._flush())) == ["a"]
    s.setsockopt(0, IP_MULTICAST_TTL, 5)
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, A4("224.0.0.200"), [])], sim.now)
    s.sendto(b"own", ("224.0.0.200", 4242))
    assert sorted(out4(r._flush())) == ["a"]


def test_forwarded_is_not_counted_not_a_member() -> None:
    sim, r, _ = links(hosts=0)
    n = r.stats["ips_notmember"]
    r.receive("a", udp4(SRC, G), sim.now)
    assert r.stats["ips_notmember"] == n + 1
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, G, [])], sim.now)
    assert list(out4(r.receive("a", udp4(SRC, G), sim.now))) == ["b"]
    assert r.stats["ips_notmember"] == n + 1
    r.receive("a", udp4(SRC, G, ttl=1), sim.now)
    assert r.stats["ips_notmember"] == n + 2
