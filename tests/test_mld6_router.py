"""MLD router side (RFC 3810 §7, §8.3.2; :mod:`kame.mld6_router`): the
§7.4 tables and §7.2.3 timers against a model written from the RFC's
tables, a listener never under-served, querier election, Startup Queries,
MLDv1 hosts, bounds, and tshark reading every query the node sends."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv6Address as A
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kame import _core, mcast
from kame.knobs import Knobs
from kame.link.pcap import PcapWriter
from kame.mcast import (
    ALLOW_NEW_SOURCES,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MCAST_EXCLUDE,
    MCAST_INCLUDE,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
    RouterGroup,
)
from kame.mld6 import max_resp_delay
from kame.mld6_router import max_resp_code, qqic
from kame.node import Node

MALI, LLQT = 260.0, 2.0
S = [A(f"2001:db8::{i}") for i in range(1, 6)]
G = A("ff05::1234")
ALL_TYPES = [MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE,
             ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES]


# --- the tables -------------------------------------------------------------

class Model:
    """RFC 3810 §7.4.1/§7.4.2 and §7.2.3 written row by row: INCLUDE (A)
    or EXCLUDE (X, Y), timers per source and the Filter Timer."""

    def __init__(self) -> None:
        self.mode = "IN"
        self.t: dict[A, float] = {}  # A, or X: running timers
        self.Y: set[A] = set()
        self.ft = 0.0

    def rec(self, rtype: int, b: set[A], now: float) -> list[Any]:
        t, Y, q = self.t, self.Y, []
        if self.mode == "IN":
            a = set(t)
            if rtype == MODE_IS_INCLUDE or rtype == ALLOW_NEW_SOURCES:   # INCLUDE (A+B); (B)=MALI
                t.update({x: now + MALI for x in b})
            elif rtype == MODE_IS_EXCLUDE or rtype == CHANGE_TO_EXCLUDE:
                # EXCLUDE (A*B, B-A); (B-A)=0; Delete (A-B); Filter Timer=MALI
                self.mode, self.t, self.Y, self.ft = "EX", {x: t[x] for x in a & b}, b - a, now + MALI
                if rtype == CHANGE_TO_EXCLUDE and a & b:
                    q.append(frozenset(a & b))       # Send Q(MA, A*B)
            elif rtype == BLOCK_OLD_SOURCES:
                if a & b:
                    q.append(frozenset(a & b))       # INCLUDE (A); Send Q(MA, A*B)
            else:  # TO_IN: INCLUDE (A+B); (B)=MALI; Send Q(MA, A-B)
                t.update({x: now + MALI for x in b})
                if a - b:
                    q.append(frozenset(a - b))
            return q
        x_ = set(t)
        if rtype in (MODE_IS_INCLUDE, ALLOW_NEW_SOURCES):  # EXCLUDE (X+A, Y-A); (A)=MALI
            t.update({x: now + MALI for x in b})
            Y -= b
        elif rtype == MODE_IS_EXCLUDE:  # EXCLUDE (A-Y, Y*A); (A-X-Y)=MALI; Delete X-A, Y-A
            self.t = {x: (t[x] if x in x_ else now + MALI) for x in b - Y}
            self.Y, self.ft = Y & b, now + MALI
        elif rtype == CHANGE_TO_EXCLUDE:  # as IS_EX but (A-X-Y)=FT; Send Q(MA, A-Y)
            self.t = {x: (t[x] if x in x_ else self.ft) for x in b - Y}
            self.Y = Y & b
            self.ft = now + MALI
            if b - Y:
                q.append(frozenset(b - Y))
        elif rtype == BLOCK_OLD_SOURCES:  # EXCLUDE (X+(A-Y), Y); (A-X-Y)=FT; Send Q(MA, A-Y)
            t.update({x: self.ft for x in b - x_ - Y})
            if b - Y:
                q.append(frozenset(b - Y))
        else:  # TO_IN: EXCLUDE (X+A, Y-A); (A)=MALI; Send Q(MA, X-A); Send Q(MA)
            t.update({x: now + MALI for x in b})
            Y -= b
            if x_ - b:
                q.append(frozenset(x_ - b))
            q.append(None)
        return q

    def tick(self, now: float) -> None:
        for x in [x for x, v in self.t.items() if v <= now]:
            del self.t[x]
            if self.mode == "EX":
                self.Y.add(x)  # a source timer expires in EXCLUDE: to the Excluded list
        if self.mode == "EX" and self.ft <= now:
            self.mode, self.Y = "IN", set()  # Filter Timer: INCLUDE (X)

    def check(self, g: RouterGroup) -> None:
        assert g.mode == (MCAST_INCLUDE if self.mode == "IN" else MCAST_EXCLUDE)
        assert {s: v for s, v in g.sources.items() if v is not None} == self.t
        assert g.excluded() == (self.Y if self.mode == "EX" else set())
        if self.mode == "EX":
            assert g.timer == self.ft


class Tables(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.g, self.m, self.now = RouterGroup(), Model(), 0.0

    @rule(rtype=st.sampled_from(ALL_TYPES), b=st.sets(st.sampled_from(S), max_size=4))
    def record(self, rtype: int, b: set[A]) -> None:
        assert self.g.record(rtype, b, self.now, MALI) == self.m.rec(rtype, b, self.now)

    @rule(dt=st.sampled_from([0.5, 2.0, 100.0, 259.0, 261.0]))
    def wait(self, dt: float) -> None:
        self.now += dt
        self.g.expire(self.now)
        self.m.tick(self.now)

    @rule(b=st.none() | st.frozensets(st.sampled_from(S), min_size=1, max_size=3))
    def query(self, b: frozenset[A] | None) -> None:  # §7.6.3: timers down to LLQT
        self.g.lower(b, self.now, LLQT)
        t = self.now + LLQT
        if b is None:
            if self.m.mode == "EX":
                self.m.ft = min(self.m.ft, t)
        else:
            for x in b & set(self.m.t):
                self.m.t[x] = min(self.m.t[x], t)

    @invariant()
    def same(self) -> None:
        self.m.check(self.g)


Tables.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestTables = Tables.TestCase


@given(st.lists(st.tuples(st.booleans(), st.sets(st.sampled_from(S), max_size=3)),
                min_size=1, max_size=8))
def test_a_listener_is_never_underserved(changes: list[tuple[bool, set[A]]]) -> None:
    """One listener reports each filter change (RFC 3810 §6.1's records):
    the router's state forwards every source the listener takes."""
    g, f, now = RouterGroup(), mcast.NONE, 0.0
    for ex, srcs in changes:
        new = (MCAST_EXCLUDE if ex else MCAST_INCLUDE, frozenset(srcs))
        for rtype, rs in mcast.change_records(f, new):
            g.record(rtype, rs, now, MALI)
        f = new
        now += 1.0
        g.expire(now)
        for s in S:
            if mcast.accepts(f, s):
                assert g.forwards(s), (f, g)


def test_rows() -> None:
    g = RouterGroup()
    assert g.record(MODE_IS_INCLUDE, S[:2], 0.0, MALI) == []
    assert g.record(BLOCK_OLD_SOURCES, S[1:3], 1.0, MALI) == [frozenset(S[1:2])]
    assert g.record(CHANGE_TO_EXCLUDE, S[1:4], 2.0, MALI) == [frozenset(S[1:2])]
    assert g.mode == MCAST_EXCLUDE and g.requested() == {S[1]} and g.excluded() == set(S[2:4])
    assert g.forwards(S[0]) and g.forwards(S[1]) and not g.forwards(S[2])
    assert g.record(CHANGE_TO_INCLUDE, [S[4]], 3.0, MALI) == [frozenset({S[1]}), None]
    assert g.expire(262.5)  # Filter Timer gone: INCLUDE of the running timers
    assert g.filter() == (MCAST_INCLUDE, frozenset({S[4]}))
    assert not g.expire(264.0)


def test_codes() -> None:
    for ms in (0, 1000, 10000, 32767, 32768, 100000, 8387584):
        assert abs(max_resp_delay(max_resp_code(ms), True) * 1000 - ms) <= ms / 256 + 1
    assert qqic(125) == 125 and qqic(128) == 0x80 and qqic(31744) == 0xFF


# --- the node -----------------------------------------------------------------

class Link:
    """Nodes on one Ethernet link, run to a deadline on a simulated clock."""

    def __init__(self, *nodes: Node, tap: PcapWriter | None = None) -> None:
        self.nodes = list(nodes)
        self.q: list[tuple[Node, bytes]] = []
        self.now = 0.0
        self.tap = tap
        for i, n in enumerate(nodes):
            n.add_interface("e0", bytes([2, 0, 0, 0, 0, i + 1]))
        for n in nodes:
            self.send(n, n.up("e0", 0.0))

    def send(self, src: Node, frames: list[Any]) -> None:
        for _, f in frames:
            if self.tap is not None:
                self.tap.write(self.now, f)
            self.q += [(n, f) for n in self.nodes if n is not src]

    def run(self, until: float) -> None:
        while True:
            while self.q:
                n, f = self.q.pop(0)
                if "e0" in n.ifnets and n.ifnets["e0"].up:
                    self.send(n, n.receive("e0", f, self.now))
            ds = [(d, i) for i, n in enumerate(self.nodes)
                  if (d := n.next_deadline()) is not None and d <= until]
            if not ds:
                self.now = until
                return
            d, i = min(ds)
            self.now = max(self.now, d)
            self.send(self.nodes[i], self.nodes[i].poll(self.now))


def router(seed: int, **kn: int) -> Node:
    return Node(f"r{seed}", knobs=Knobs({"net.inet6.ip6.forwarding": 1, **kn}), seed=seed)


def groups(n: Node) -> dict[str, Any]:
    (st_,) = n.mldr.snapshot(0.0)
    return {g["group"]: g for g in st_["groups"]}


def test_host_reports_and_leave_expires() -> None:
    r, h = router(1), Node("h", seed=2)
    link = Link(r, h)
    link.run(5.0)
    assert r.stats["mlds_snd_gen_queries"] == 1  # the first Startup Query
    h.join("e0", G, link.now)
    h.setsourcefilter("e0", A("ff35::9"), "so", MCAST_INCLUDE, S[:2], link.now)
    link.run(40.0)
    assert r.stats["mlds_snd_gen_queries"] == 2  # Startup Query Interval: QI/4
    gs = groups(r)
    assert gs[str(G)]["mode"] == "exclude"
    assert [s["addr"] for s in gs["ff35::9"]["sources"]] == [str(S[0]), str(S[1])]
    h.leave("e0", G, link.now)
    link.run(link.now + 0.5)
    assert r.stats["mlds_snd_group_queries"] >= 1 and str(G) in groups(r)
    link.run(link.now + 3.0)  # Last Listener Query Time: 2 s
    assert str(G) not in groups(r) and r.stats["mlds_rtr_expired"] == 1
    h.setsourcefilter("e0", A("ff35::9"), "so", MCAST_INCLUDE, S[:1], link.now)
    link.run(link.now + 5.0)  # BLOCK(S1): Q(MA, S1), S1 expires
    assert [s["addr"] for s in groups(r)["ff35::9"]["sources"]] == [str(S[0])]
    assert r.stats["mlds_snd_gsr_queries"] >= 1


def test_querier_election_and_takeover() -> None:
    lo, hi = router(1), router(2)  # lo gets fe80::ff:fe00:1, hi fe80::ff:fe00:2
    link = Link(lo, hi)
    link.run(10.0)
    assert lo.mldr.snapshot(0.0)[0]["is_querier"]
    st_ = hi.mldr.snapshot(link.now)[0]
    assert not st_["is_querier"] and st_["querier"] == "fe80::ff:fe00:1"
    assert hi.stats["mlds_querier_lost"] == 1
    link.send(lo, lo.down("e0", link.now))
    sent = hi.stats["mlds_snd_gen_queries"]
    left = hi.mldr.snapshot(link.now)[0]["other_querier_timer"]
    assert 2 * 125 + 5 - 10 < left <= 2 * 125 + 5  # Other Querier Present Timeout
    link.run(link.now + left - 1)
    assert hi.stats["mlds_snd_gen_queries"] == sent
    link.run(link.now + 2)
    assert hi.stats["mlds_querier_won"] == 1 and hi.stats["mlds_snd_gen_queries"] > sent


def _v1(src_mac: bytes, msg: Any, dst: str) -> bytes:
    src = A("fe80::99")
    body = msg.to_bytes(src, A(dst))
    hbh = _core.HopByHop([_core.Ipv6Option.router_alert(0)], next_header=58).to_bytes()
    hdr = _core.Ipv6Header(src, A(dst), next_header=0, hop_limit=1,
                           payload_len=len(hbh) + len(body)).to_bytes()
    mac = bytes([0x33, 0x33]) + A(dst).packed[-4:]
    return mac + src_mac + b"\x86\xdd" + bytes(hdr) + bytes(hbh) + bytes(body)


def test_mldv1_host_compatibility() -> None:
    r = router(1)
    link = Link(r)
    link.run(5.0)
    mac = bytes.fromhex("020000000099")
    link.send(Node("x"), [("e0", _v1(mac, _core.MldReport(G), str(G)))])
    link.run(6.0)
    g = groups(r)[str(G)]
    assert g["compat"] == "mldv1" and g["mode"] == "exclude"
    assert r.stats["mlds_rcv_v1reports"] == 1
    # while MLDv1 hosts are present BLOCK is ignored and TO_EX(S) is TO_EX({})
    r.mldr.report_input("e0", [(BLOCK_OLD_SOURCES, G, [S[0]]),
                               (CHANGE_TO_EXCLUDE, G, [S[1]])], link.now)
    assert groups(r)[str(G)]["sources"] == []
    link.send(Node("x"), [("e0", _v1(mac, _core.MldDone(G), "ff02::2"))])
    link.run(6.5)
    assert r.stats["mlds_rcv_dones"] == 1 and r.stats["mlds_snd_group_queries"] >= 1
    link.run(9.0)
    assert str(G) not in groups(r)


def test_bounds() -> None:
    r = router(1, **{"net.inet6.mld.maxgroups": 2, "net.inet6.mld.maxsrc": 3})
    link = Link(r)
    link.run(5.0)
    for i in range(3):
        r.mldr.report_input("e0", [(MODE_IS_EXCLUDE, A(f"ff05::{i + 1}"), [])], 5.0)
    assert len(groups(r)) == 2 and r.stats["mlds_rtr_groupfull"] == 1
    r.mldr.report_input("e0", [(MODE_IS_INCLUDE, A("ff05::1"), S)], 5.0)
    assert r.stats["mlds_rtr_srcfull"] == 1
    g = groups(r)["ff05::1"]
    assert g["mode"] == "exclude" and g["sources"] == []  # forwards everything
    # bad records: unreportable addresses, unknown types
    r.mldr.report_input("e0", [(MODE_IS_EXCLUDE, A("ff02::1"), []), (9, G, [])], 5.0)
    assert r.stats["mlds_rcv_badrecords"] == 2


def test_knob_turns_it_on_and_off() -> None:
    h = Node("h", seed=3)
    link = Link(h)
    link.run(5.0)
    assert not h.mldr.running("e0")
    h.knobs["net.inet6.mld.querier"] = 2
    link.run(6.0)
    assert h.mldr.running("e0") and h.stats["mlds_snd_gen_queries"] == 1
    r = router(4, **{"net.inet6.mld.querier": 0})
    link2 = Link(r)
    link2.run(5.0)
    assert not r.mldr.running("e0")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_tshark_dissects_every_query(tmp_path: Path) -> None:
    cap = tmp_path / "mld.pcap"
    with cap.open("wb") as f:
        r, h = router(1), Node("h", seed=2)
        link = Link(r, h, tap=PcapWriter(f))
        link.run(5.0)
        h.join("e0", G, link.now)
        h.setsourcefilter("e0", A("ff35::9"), "so", MCAST_INCLUDE, S[:2], link.now)
        link.run(10.0)
        h.leave("e0", G, link.now)
        h.setsourcefilter("e0", A("ff35::9"), "so", MCAST_INCLUDE, S[:1], link.now)
        link.run(20.0)
    res = subprocess.run(["tshark", "-r", str(cap), "-T", "json"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "_ws.malformed" not in res.stdout and "_ws.expert" not in res.stdout
    fields = ["icmpv6.type", "ipv6.hlim", "ipv6.opt.router_alert", "icmpv6.checksum.status",
              "icmpv6.mld.multicast_address", "icmpv6.mld.flag.s",
              "icmpv6.mld.nb_sources", "ipv6.dst"]
    res = subprocess.run(["tshark", "-r", str(cap), "-Y", "icmpv6.type == 130", "-T", "fields",
                          "-E", "occurrence=f"] + [x for e in fields for x in ("-e", e)],
                         capture_output=True, text=True, timeout=120, check=True)
    rows = [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]
    kinds = set()
    for q in rows:
        assert q["ipv6.hlim"] == "1" and q["ipv6.opt.router_alert"] == "0"
        assert q["icmpv6.checksum.status"] == "1"  # good
        kinds.add("general" if q["icmpv6.mld.multicast_address"] == "::" else
                  "gsr" if q["icmpv6.mld.nb_sources"] not in ("", "0") else "group")
    assert kinds == {"general", "group", "gsr"}
    assert len(rows) == r.stats["mlds_snd_gen_queries"] + r.stats["mlds_snd_group_queries"] \
        + r.stats["mlds_snd_gsr_queries"]


def test_kame_mld_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kame mld show -s`` over the control socket: the node (h, querier by
    the knob) lists the router's groups it heard answer its query."""
    import time

    from test_ctl import Rig

    from kame.cli.main import main
    from kame.ctl import request

    (tmp_path / "ctl").mkdir()
    rg = Rig(str(tmp_path / "ctl" / "eth0.sock"))
    try:
        rg.h.knobs["net.inet6.mld.query_response_interval"] = 500
        rg.h.knobs["net.inet6.mld.querier"] = 2
        end = time.monotonic() + 30
        while time.monotonic() < end:
            links = request(rg.server.path, "mld")["links"]
            if links and any(g["group"] == "ff02::1:ff00:1" for g in links[0]["groups"]):
                break
            time.sleep(0.05)
        assert main(["mld", "show", "-s", "--ctl", rg.server.path]) == 0
        out = capsys.readouterr().out
    finally:
        rg.close()
    lines = out.splitlines()
    assert lines[0].startswith("eth0: querier fe80::ff:fe00:a (this router), next query in ")
    assert any(ln.startswith("\tgroup ff02::1:ff00:1 mode exclude timer 4m") and
               ln.endswith(" mldv2") for ln in lines), out
    assert "mld (router side):" in lines and any("MLD general queries sent" in ln
                                                 for ln in lines), out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9),
                          st.sampled_from([A("ff02::1"), A("ff01::5"), A("ff05::1"), A("ff05::2"),
                                           A("ff0e::3"), A("ff3e::4"), A("ff02::16")]),
                          st.lists(st.sampled_from(S + [A("::"), A("fe80::1")]), max_size=6)),
                max_size=30),
       st.lists(st.sampled_from([0.1, 1.0, 3.0, 300.0]), max_size=5))
def test_any_reports_keep_the_tables_bounded(records: list[Any], waits: list[float]) -> None:
    """Whatever records come (unknown types, unreportable addresses, many
    sources), the tables stay within the knobs and no exception escapes."""
    from kame.mld6_router import Mld6Router

    knobs = Knobs({"net.inet6.mld.maxgroups": 3, "net.inet6.mld.maxsrc": 2})
    counts: dict[str, int] = {}
    r = Mld6Router(lambda n: int(knobs[n]), lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
    r.start("e0", A("fe80::1"), 0.0)
    now = 0.0
    for i in range(0, len(records), 5):
        r.report_input("e0", records[i:i + 5], now)
        r.poll(now)
        st_ = r.state("e0")
        assert st_ is not None and len(st_.groups) <= 3
        assert all(len(g.sources) <= 2 for g in st_.groups.values())
        assert set(st_.rtx) <= set(st_.groups)
        now += waits[i % len(waits)] if waits else 1.0
    r.poll(now + 1000.0)
    st_ = r.state("e0")
    assert st_ is not None and not st_.groups and not st_.rtx
