"""Properties of the source-filter logic IGMPv3 and MLDv2 share
(kame.mcast): the interface filter is the merge of its members' (RFC 3810
§4.2), State-Change records take a router from the old filter to the new
(RFC 3810 §6.1), and a burst of changes keeps every touched source in
[Robustness] reports; then MLDv2 queries built to lie (truncated, source
counts past the message, huge counts) through a node: typed drops, bounded
state."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv6Address as A

from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.knobs import Knobs
from kame.mcast import (
    ALLOW_NEW_SOURCES,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MCAST_EXCLUDE,
    MCAST_INCLUDE,
    NONE,
    Retrans,
    accepts,
    change_records,
    current_records,
    merge,
)
from kame.mld6 import Mld6
from kame.node import Node

SRCS = [A(f"2001:db8::{i}") for i in range(1, 9)]
filters = st.tuples(st.sampled_from([MCAST_INCLUDE, MCAST_EXCLUDE]),
                    st.frozensets(st.sampled_from(SRCS), max_size=6))


def router(f: tuple[int, frozenset[A]], recs: tuple[tuple[int, tuple[A, ...]], ...]
           ) -> tuple[int, frozenset[A]]:
    """What a router learns of one listener (RFC 3810 §7.4 for a lone host)."""
    mode, srcs = f
    for t, b in recs:
        bs = frozenset(b)
        if t == CHANGE_TO_INCLUDE:
            mode, srcs = MCAST_INCLUDE, bs
        elif t == CHANGE_TO_EXCLUDE:
            mode, srcs = MCAST_EXCLUDE, bs
        elif t == ALLOW_NEW_SOURCES:
            srcs = srcs | bs if mode == MCAST_INCLUDE else srcs - bs
        elif t == BLOCK_OLD_SOURCES:
            srcs = srcs - bs if mode == MCAST_INCLUDE else srcs | bs
    return mode, srcs


@given(st.integers(0, 3), st.lists(filters, max_size=5))
def test_the_merge_takes_a_source_when_a_member_does(n_any: int, members: list) -> None:  # type: ignore[type-arg]
    if not n_any and not members:
        return
    f = merge(n_any, members)
    for s in [*SRCS, A("2001:db8::99")]:
        assert accepts(f, s) == (n_any > 0 or any(accepts(m, s) for m in members))


@given(filters, filters)
def test_change_records_take_a_router_from_old_to_new(old: tuple, new: tuple) -> None:  # type: ignore[type-arg]
    recs = change_records(old, new)
    assert router(old, recs) == new
    assert all(b for t, b in recs if t in (ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES))


@given(st.lists(filters, min_size=1, max_size=8), st.integers(1, 4))
def test_a_burst_of_changes_keeps_every_source_for_robustness_reports(
        states: list, rv: int) -> None:  # type: ignore[type-arg]
    """Each change sends a report at once (merging what is still owed), then
    reports follow until nothing is owed. A router that hears them all
    tracks the filter exactly; a source a change touched is in each of the
    [Robustness] reports after it (or a TO_IN/TO_EX carries the whole state);
    after the last change at most [Robustness] − 1 reports follow."""
    rt = Retrans()
    cur: tuple[int, frozenset[A]] = NONE
    seen = NONE
    owed: dict[A, int] = {}
    mode_owed = 0
    for new in states:
        if new == cur:
            continue
        touched = cur[1] ^ new[1] if cur[0] == new[0] else frozenset(SRCS)
        rt.change(cur, new, rv)
        mode_owed = rv if cur[0] != new[0] or mode_owed else mode_owed
        cur = new
        for s in touched:
            owed[s] = rv
        recs = rt.records(cur)
        seen = router(seen, recs)
        assert seen == cur
        full = any(t in (CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE) for t, _b in recs)
        named = {s for _t, b in recs for s in b}
        for s in list(owed):
            assert full or s in named, (s, recs)
            owed[s] -= 1
            if not owed[s]:
                del owed[s]
    after = 0
    while rt.pending:
        recs = rt.records(cur)
        assert router(seen, recs) == cur
        for t, b in recs:  # ALLOW names sources the filter takes, BLOCK others
            assert all(accepts(cur, s) == (t != BLOCK_OLD_SOURCES) for s in b
                       if t in (ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES))
        after += 1
    assert after <= rv - 1


@given(filters, st.none() | st.frozensets(st.sampled_from(SRCS), min_size=1))
def test_current_records_answer_what_was_asked(f: tuple, asked: frozenset | None) -> None:  # type: ignore[type-arg]
    recs = current_records(f, asked)
    if asked is None:
        assert router(NONE, ((CHANGE_TO_INCLUDE if recs[0][0] == 1 else CHANGE_TO_EXCLUDE,
                              recs[0][1]),)) == f
    else:
        got = {s for _t, b in recs for s in b}
        assert got == {s for s in asked if accepts(f, s)}


def _cksum(src: A, dst: A, msg: bytes) -> bytes:
    data = src.packed + dst.packed + struct.pack("!I3xB", len(msg), 58) + msg
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return struct.pack("!H", ~s & 0xFFFF)


def _query_frame(group: A, sources: list[A], nsrc: int | None, cut: int) -> bytes:
    src, dst = A("fe80::99"), A("ff02::1")
    body = bytearray(_core.MldQuery(1000, group, True, sources=sources).to_bytes(src, dst))
    if nsrc is not None:
        body[26:28] = struct.pack("!H", nsrc)
    if cut:
        body = body[:max(4, len(body) - cut)]
    body[2:4] = b"\0\0"
    body[2:4] = _cksum(src, dst, bytes(body))
    hbh = _core.HopByHop([_core.Ipv6Option.router_alert(0)], next_header=58).to_bytes()
    hdr = _core.Ipv6Header(src, dst, next_header=0, hop_limit=1,
                           payload_len=len(hbh) + len(body)).to_bytes()
    return bytes.fromhex("333300000001020000000099") + b"\x86\xdd" + bytes(hdr) + hbh + \
        bytes(body)


@given(st.lists(st.tuples(st.integers(0, 40), st.none() | st.integers(0, 0xFFFF),
                          st.integers(0, 40)), min_size=1, max_size=12))
def test_lying_mldv2_queries_are_typed_drops_with_bounded_state(qs: list) -> None:  # type: ignore[type-arg]
    n = Node("h", knobs=Knobs({"net.inet6.ip6.mcast.maxgrpsrc": 16}), seed=1)
    n.add_interface("eth0", bytes.fromhex("020000000c0c"))
    n.up("eth0", 0.0)
    g = A("ff3e::1")
    n.setsourcefilter("eth0", g, "sock", MCAST_INCLUDE, SRCS[:2], 0.0)
    t = 1.0
    for k, nsrc, cut in qs:
        srcs = [A(f"2001:db8:1::{i + k}") for i in range(k)]
        n.receive("eth0", _query_frame(g, srcs, nsrc, cut), t)
        st_ = n.mld._st("eth0")
        assert all(len(a) <= 16 for a in st_.asked.values())
        t += 0.01
    while (d := n.next_deadline()) is not None and d < t + 30:
        n.poll(d)
    assert n.mld.filter("eth0", g) == (MCAST_INCLUDE, frozenset(SRCS[:2]))


def test_a_source_specific_query_is_answered_with_the_sources_taken() -> None:
    m = Mld6(random.Random(3))
    g = A("ff3e::2")
    m.setfilter("eth0", g, "s", MCAST_INCLUDE, SRCS[:3], 0.0)
    while (d := m.next_deadline()) is not None:
        m.poll(d)
    m.query_input("eth0", g, 1000, True, 10.0, [SRCS[0], SRCS[5]])
    m.query_input("eth0", g, 1000, True, 10.0, [SRCS[1]])  # adds to the asked list
    (rep,) = m.poll(12.0)
    assert rep.records == ((1, g, (SRCS[0], SRCS[1])),)  # IS_IN of the asked it takes
    m.query_input("eth0", g, 1000, True, 20.0, [SRCS[6]])  # none taken: no record
    assert m.poll(22.0) == []
    m.query_input("eth0", g, 1000, True, 30.0)  # address-specific: the whole state
    (rep,) = m.poll(32.0)
    assert rep.records == ((1, g, tuple(SRCS[:3])),)
