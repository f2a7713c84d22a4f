"""Multicast forwarding by MLD listening state (kame.ip6.mroute): a router
with three links, listening state from real MLDv2 Reports of kame hosts
(kame.mld6) or fed to the querier, and multicast UDP from a source on one
link: where copies go, the hop limit, the scope and RPF rules, the bounded
forwarding cache and its counters."""

from __future__ import annotations

from ipaddress import IPv6Address as A
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.knobs import Knobs
from kame.mcast import (
    ALLOW_NEW_SOURCES,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_INCLUDE,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
)
from kame.node import Node

SRC, SRC2 = A("2001:db8:a::5"), A("2001:db8:a::6")
G, SSM = A("ff05::4242"), A("ff3e::77")
SMAC = bytes.fromhex("0200000000aa")


def udp(src: A, dst: A, hlim: int = 64, size: int = 8, dmac: bytes | None = None) -> bytes:
    body = b"\x30\x39\x30\x39" + (8 + size).to_bytes(2, "big") + b"\0\0" + bytes(size)
    hdr = _core.Ipv6Header(src, dst, next_header=17, hop_limit=hlim,
                           payload_len=len(body)).to_bytes()
    mac = dmac if dmac is not None else b"\x33\x33" + dst.packed[-4:]
    return mac + SMAC + b"\x86\xdd" + bytes(hdr) + body


def router(mtu_b: int = 1500, **kn: int) -> tuple[Node, float]:
    r = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1, **kn}), seed=3)
    for i, n in enumerate(("a", "b", "c")):
        r.add_interface(n, bytes([2, 0, 0, 0, 1, i + 1]), mtu=mtu_b if n == "b" else 1500)
        r.up(n, 0.0)
        r.add_address(n, f"2001:db8:{n}::1/64", 0.0)
    now = 0.0
    while now < 5.0:
        d = r.next_deadline()
        now = max(now, min(d if d is not None else 5.0, 5.0))
        r.poll(now)
        if d is None or d > 5.0:
            break
    assert all(a.usable for a in r.addresses())
    assert sorted(r.mldr.interfaces()) == ["a", "b", "c"]
    return r, 5.0


def listen(r: Node, ifname: str, records: list[tuple[int, A, list[A]]], now: float) -> None:
    r.mldr.report_input(ifname, records, now)


def out(frames: list[Any]) -> dict[str, list[bytes]]:
    d: dict[str, list[bytes]] = {}
    for ifn, f in frames:
        if f[12:14] == b"\x86\xdd" and f[20] == 17:  # the UDP copies, not MLD
            d.setdefault(ifn, []).append(f)
    return d


def test_forwarded_only_where_listeners_are() -> None:
    r, now = router()
    f = udp(SRC, G)
    assert out(r.receive("a", f, now)) == {}  # no listener anywhere
    assert r.stats["mrt6s_mfc_misses"] == 1
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    o = out(r.receive("a", f, now))
    assert list(o) == ["b"] and len(o["b"]) == 1
    c = o["b"][0]
    assert c[:6] == b"\x33\x33\x00\x00\x42\x42" and c[6:12] == r.ifnets["b"].lladdr
    assert c[14 + 7] == 63 and c[14 + 8:] [:32] == f[14 + 8:][:32]  # hop limit - 1
    assert c[14:21] == f[14:21] and c[22:] == f[22:]
    assert r.stats["mrt6s_mfc_lookups"] == 1
    listen(r, "c", [(MODE_IS_EXCLUDE, G, [])], now)
    assert sorted(out(r.receive("a", f, now))) == ["b", "c"]
    # never back onto the link it came from, even with listeners there
    listen(r, "a", [(MODE_IS_EXCLUDE, G, [])], now)
    assert sorted(out(r.receive("a", f, now))) == ["b", "c"]
    m = {x["ifname"]: x for x in r.mroute_snapshot(now)["mifs"]}
    assert m["a"]["pkt_in"] == 4 and m["b"]["pkt_out"] == 3 and m["c"]["pkt_out"] == 2


def test_source_filters_decide() -> None:
    r, now = router()
    listen(r, "b", [(MODE_IS_INCLUDE, SSM, [SRC])], now)
    listen(r, "c", [(MODE_IS_EXCLUDE, SSM, [SRC])], now)
    assert list(out(r.receive("a", udp(SRC, SSM), now))) == ["b"]
    assert list(out(r.receive("a", udp(SRC2, SSM), now))) == ["c"]
    listen(r, "b", [(ALLOW_NEW_SOURCES, SSM, [SRC2])], now)
    assert sorted(out(r.receive("a", udp(SRC2, SSM), now))) == ["b", "c"]
    # b's listener leaves SRC: after the Last Listener Query Time, gone
    listen(r, "b", [(BLOCK_OLD_SOURCES, SSM, [SRC])], now)
    r.poll(now + 3.0)
    assert out(r.receive("a", udp(SRC, SSM), now + 3.0)) == {}


def test_a_leaving_listener_stops_the_traffic() -> None:
    r, now = router(**{"net.inet6.mld.last_listener_query_interval": 500})
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    assert list(out(r.receive("a", udp(SRC, G), now))) == ["b"]
    listen(r, "b", [(CHANGE_TO_INCLUDE, G, [])], now)  # TO_IN({}): a Leave
    t = now
    while t < now + 1.5:  # LLQT = 2 x 0.5 s
        t += 0.1
        r.poll(t)
    assert out(r.receive("a", udp(SRC, G), t)) == {}


def test_no_link_scope_hop_limit_and_unspecified() -> None:
    r, now = router()
    for g in (A("ff02::4242"), A("ff01::4242"), A("ff00::4242"), A("ff05::4242")):
        listen(r, "b", [(MODE_IS_EXCLUDE, g, [])], now)
    assert out(r.receive("a", udp(SRC, A("ff02::4242")), now)) == {}
    assert out(r.receive("a", udp(SRC, G, hlim=1), now)) == {}
    assert out(r.receive("a", udp(A("::"), G), now)) == {}
    assert out(r.receive("a", udp(SRC, G, hlim=2), now))["b"][0][21] == 1
    # a link-local source never leaves its link (RFC 4007 §9)
    assert out(r.receive("a", udp(A("fe80::5"), G), now)) == {}
    assert r.stats["ip6s_badscope"] >= 1


def test_zone_boundary() -> None:
    r, now = router()
    # site-local scope (5): b in another site zone than a
    r.zones.zones["b"][5] = 2
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    listen(r, "c", [(MODE_IS_EXCLUDE, G, [])], now)
    before = r.stats["ip6s_badscope"]
    assert list(out(r.receive("a", udp(SRC, G), now))) == ["c"]
    assert r.stats["ip6s_badscope"] == before + 1
    # organisation scope (8) is one zone: crosses
    g8 = A("ff08::1")
    listen(r, "b", [(MODE_IS_EXCLUDE, g8, [])], now)
    assert list(out(r.receive("a", udp(SRC, g8), now))) == ["b"]


def test_rpf_check() -> None:
    r, now = router()
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    listen(r, "a", [(MODE_IS_EXCLUDE, G, [])], now)
    # SRC's route is via a: arriving on c is the wrong interface
    assert out(r.receive("c", udp(SRC, G), now)) == {}
    assert r.stats["mrt6s_wrong_if"] == 1
    # no route back to the source at all
    assert out(r.receive("a", udp(A("2001:db8:ff::1"), G), now)) == {}
    assert r.stats["mrt6s_no_route"] == 1
    # a static route moves the source behind c: after the cache entry expires
    r.route_add("2001:db8:a::5/128", None, "c")
    assert out(r.receive("c", udp(SRC, G), now + 1)) == {}  # cached: still a
    assert sorted(out(r.receive("c", udp(SRC, G), now + 31))) == ["a", "b"]
    assert r.stats["mrt6s_cache_cleanups"] >= 1


def test_too_big_for_the_outgoing_link_gets_packet_too_big() -> None:
    r, now = router(mtu_b=1280)
    r.cache.set_permanent("a", SRC, SMAC)
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    listen(r, "c", [(MODE_IS_EXCLUDE, G, [])], now)
    frames = r.receive("a", udp(SRC, G, size=1300), now)
    assert list(out(frames)) == ["c"]  # c's MTU takes it, b's does not
    ptb = [f for i, f in frames if i == "a" and f[20] == 58 and f[54] == 2]
    assert ptb and int.from_bytes(ptb[0][58:62], "big") == 1280


def test_knob_off_and_not_a_router() -> None:
    r, now = router(**{"net.inet6.ip6.mforwarding": 0})
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    assert out(r.receive("a", udp(SRC, G), now)) == {}
    r.knobs["net.inet6.ip6.mforwarding"] = 1
    assert list(out(r.receive("a", udp(SRC, G), now))) == ["b"]
    r.knobs["net.inet6.ip6.forwarding"] = 0
    assert out(r.receive("a", udp(SRC, G), now)) == {}


def test_end_to_end_with_a_kame_host() -> None:
    """A kame host on link b joins with MLDv2 (kame.mld6); the router's
    querier learns it from the Report, forwards; the host leaves, the
    traffic stops."""
    r, now = router(**{"net.inet6.mld.last_listener_query_interval": 500})
    h = Node("h", seed=9)
    h.add_interface("e0", bytes([2, 0, 0, 0, 2, 1]))
    q: list[tuple[str, bytes]] = [("h", f) for _, f in h.up("e0", now)]
    clock = [now]

    def pump(until: float) -> None:
        while True:
            while q:
                who, f = q.pop(0)
                if who == "h":  # the host's frames reach the router's link b
                    q.extend(("r", g) for ifn, g in r.receive("b", f, clock[0]) if ifn == "b")
                else:
                    q.extend(("h", g) for _, g in h.receive("e0", f, clock[0]))
            ds = [d for d in (r.next_deadline(), h.next_deadline()) if d is not None]
            if not ds or min(ds) > until:
                clock[0] = until
                return
            clock[0] = max(clock[0], min(ds))
            q.extend(("r", g) for ifn, g in r.poll(clock[0]) if ifn == "b")
            q.extend(("h", g) for _, g in h.poll(clock[0]))

    pump(now + 3.0)  # the host's link-local address passed DAD: its Reports' source
    h.join("e0", G, clock[0])
    q.extend(("h", f) for _, f in h._flush())
    pump(now + 6.0)
    assert list(out(r.receive("a", udp(SRC, G), clock[0]))) == ["b"]
    h.leave("e0", G, clock[0])
    q.extend(("h", f) for _, f in h._flush())
    pump(now + 9.0)
    assert out(r.receive("a", udp(SRC, G), clock[0])) == {}
    assert r.stats["mlds_rcv_reports"] >= 2 and r.stats["mlds_snd_group_queries"] >= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3)), max_size=200),
       st.integers(1, 8))
def test_the_cache_stays_bounded(pkts: list[tuple[int, int]], cap: int) -> None:
    r, now = router(**{"net.inet6.ip6.mfc_max": cap})
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    ins = ["a", "b", "c", "a"]
    for s, i in pkts:
        src = A(f"2001:db8:a::{s + 1:x}")
        o = out(r.receive(ins[i], udp(src, G), now))
        assert len(r.mfc) <= cap
        # forwarded exactly when it came in on a (the RPF link) and to b only
        assert list(o) == (["b"] if ins[i] == "a" else [])
    evicted = r.stats["mrt6s_mfc_full"]
    distinct = len({s for s, _ in pkts})
    assert evicted >= max(0, distinct - cap)


def test_kame_mld_show_prints_the_forwarding_tables() -> None:
    from kame.cli.tools import format_mld

    r, now = router()
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    for _ in range(3):
        r.receive("a", udp(SRC, G), now)
    r.receive("c", udp(SRC, G), now)  # RPF: wrong interface
    d = {"links": r.mldr.snapshot(now), "mroute": r.mroute_snapshot(now),
         "stats": {k: r.stats[k] for k in r.stats if k.startswith(("mlds_", "mrt6s_"))}}
    text = format_mld(d, stats=True)
    lines = text.splitlines()
    assert "IPv6 Multicast Interface Table" in lines and "IPv6 Multicast Forwarding Cache" in lines
    row = [ln.split() for ln in lines if ln.startswith(f" {SRC}")]
    assert row == [[str(SRC), str(G), "3", "a", "b"]], text
    assert "\t1 multicast packets arrived on the wrong interface (RPF)" in lines, text
    assert "\t3 multicast forwarding cache hits" in lines, text


def test_mldv1_querier_version() -> None:
    """net.inet6.mld.version 1 (RFC 3810 §8.3.1): MLDv1 Queries (24 octets,
    Maximum Response Delay in ms), a Multicast-Address-Specific one on a
    Done, never a source-specific one."""
    r, now = router(**{"net.inet6.mld.version": 1})
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    sent = list(r.poll(now + 200.0))  # a General Query by then
    r.mldr.done_input("b", G, now + 200.0)
    listen(r, "b", [(MODE_IS_INCLUDE, SSM, [SRC]), (BLOCK_OLD_SOURCES, SSM, [SRC])], now + 200.0)
    sent += r.poll(now + 200.0)
    qs = []
    for _ifn, f in sent:
        if f[12:14] == b"\x86\xdd" and f[20] == 0 and f[54] == 58 and f[62] == 130:
            qs.append((len(f) - 62, A(f[70:86])))  # ICMPv6 length, address
    assert qs and all(n == 24 for n, _ in qs), qs
    assert {a for _, a in qs} == {A("::"), G}, qs  # no query for SSM's source
    assert r.stats["mlds_snd_gsr_queries"] == 0


def test_the_routers_own_multicast_is_forwarded() -> None:
    """ip6_output's ip6_mforward: a socket on the router sending to a group
    wider than link scope with IPV6_MULTICAST_HOPS above 1 reaches the other
    links with listeners, one hop less; the sending link is its RPF link."""
    from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer
    from kame.socket.const import IPV6_MULTICAST_HOPS, IPV6_MULTICAST_IF
    r, now = router()
    sl = SocketLayer(r)
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    listen(r, "c", [(MODE_IS_INCLUDE, G, [SRC])], now)  # not our source
    s = sl.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(41, IPV6_MULTICAST_IF, r.ifnets["a"].index)
    s.setsockopt(41, IPV6_MULTICAST_HOPS, 5)
    r._flush()
    s.sendto(b"own", (str(G), 4242))
    o = out(r._flush())
    assert sorted(o) == ["a", "b"] and len(o["a"]) == len(o["b"]) == 1
    a, b = o["a"][0], o["b"][0]
    assert a[14 + 7] == 5 and b[14 + 7] == 4  # one hop less, as forwarded
    assert b[:6] == b"\x33\x33\x00\x00\x42\x42" and b[6:12] == r.ifnets["b"].lladdr
    assert a[22:] == b[22:] and A(a[22:38]) == A("2001:db8:a::1")
    m = {x["ifname"]: x for x in r.mroute_snapshot(now)["mifs"]}
    assert m["a"]["pkt_out"] == 1 and m["a"]["pkt_in"] == 0 and m["b"]["pkt_out"] == 1
    (e,) = r.mroute_snapshot(now)["mfc"]
    assert e["parent"] == "a" and e["packets"] == 1 and r.stats["mrt6s_wrong_if"] == 0
    # c's listener wants our source: now c too
    listen(r, "c", [(ALLOW_NEW_SOURCES, G, [A("2001:db8:a::1")])], now)
    s.sendto(b"own", (str(G), 4242))
    assert sorted(out(r._flush())) == ["a", "b", "c"]
    # hop limit 1, or a link-local group: the sending link only
    s.setsockopt(41, IPV6_MULTICAST_HOPS, 1)
    s.sendto(b"own", (str(G), 4242))
    assert sorted(out(r._flush())) == ["a"]
    s.setsockopt(41, IPV6_MULTICAST_HOPS, 5)
    listen(r, "b", [(MODE_IS_EXCLUDE, A("ff02::4242"), [])], now)
    s.sendto(b"own", ("ff02::4242", 4242))
    assert sorted(out(r._flush())) == ["a"]
    # sent on b: b is its RPF link then, a has no listener, c wants a's source only
    s.setsockopt(41, IPV6_MULTICAST_IF, r.ifnets["b"].index)
    s.sendto(b"own", (str(G), 4242))
    assert sorted(out(r._flush())) == ["b"]
    # a host (no listening state kept) sends on its link only
    r.knobs["net.inet6.ip6.mforwarding"] = 0
    s.setsockopt(41, IPV6_MULTICAST_IF, r.ifnets["a"].index)
    s.sendto(b"own", (str(G), 4242))
    assert sorted(out(r._flush())) == ["a"]


def test_forwarded_is_not_counted_not_a_member() -> None:
    """ip6s_notmember counts a multicast packet neither ours nor forwarded
    (KAME's ip6_input with ip6_mrouter does not count forwarded ones)."""
    r, now = router()
    r.receive("a", udp(SRC, G), now)
    assert r.stats["ip6s_notmember"] == 1  # no listener, not ours
    listen(r, "b", [(MODE_IS_EXCLUDE, G, [])], now)
    assert list(out(r.receive("a", udp(SRC, G), now))) == ["b"]
    assert r.stats["ip6s_notmember"] == 1
    r.receive("a", udp(SRC, G, hlim=1), now)  # not forwarded: counted
    assert r.stats["ip6s_notmember"] == 2
