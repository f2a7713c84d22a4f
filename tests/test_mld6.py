"""MLD listener (RFC 3810, RFC 2710 fallback): unit timing tests and the node
answering scapy-built queries; scapy dissects what the node sends."""

from __future__ import annotations

import random
from ipaddress import IPv6Address as A

import pytest

from kame.mld6 import (
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MODE_IS_EXCLUDE,
    OLDER_QUERIER_TIMEOUT,
    Mld6,
    SendMldReport,
    max_resp_delay,
    reportable,
)
from kame.node import Node

G = A("ff02::1:ff00:1")
G2 = A("ff05::1234")
IF = "eth0"


def test_reportable() -> None:
    assert not reportable(A("ff02::1")) and not reportable(A("ff01::1"))
    assert reportable(G) and reportable(A("ff02::2")) and reportable(G2)


def test_max_resp_code() -> None:
    assert max_resp_delay(10000, True) == 10.0 and max_resp_delay(1000, False) == 1.0
    # RFC 3810 §5.1.3 exponential form: exp 0, mant 0 -> 0x1000 << 3 ms
    assert max_resp_delay(0x8000, True) == (0x1000 << 3) / 1000


def test_join_robustness_and_leave() -> None:
    m = Mld6(random.Random(1))
    assert m.join(IF, G, 0.0) == [SendMldReport(IF, 2, ((CHANGE_TO_EXCLUDE, G, ()),))]
    assert m.join(IF, G, 0.0) == []  # already joined
    d = m.next_deadline()
    assert d is not None and 0.0 <= d <= 1.0  # Unsolicited Report Interval
    assert m.poll(d) == [SendMldReport(IF, 2, ((CHANGE_TO_EXCLUDE, G, ()),))]
    assert m.next_deadline() is None  # Robustness 2: two reports in all
    assert m.join(IF, A("ff02::1"), 0.0) == []
    assert m.leave(IF, G, 5.0) == [SendMldReport(IF, 2, ((CHANGE_TO_INCLUDE, G, ()),))]
    d = m.next_deadline()  # retransmitted like any state change (RFC 3810 §6.1)
    assert d is not None and 5.0 <= d <= 6.0
    assert m.poll(d) == [SendMldReport(IF, 2, ((CHANGE_TO_INCLUDE, G, ()),))]
    assert m.next_deadline() is None


def test_queries_and_v1_fallback() -> None:
    m = Mld6(random.Random(2))
    m.join(IF, G, 0.0)
    m.join(IF, G2, 0.0)
    m.poll(2.0)
    m.query_input(IF, A("::"), 10000, True, 10.0)
    d = m.next_deadline()
    assert 10.0 <= d <= 20.0
    (rep,) = m.poll(d)
    assert rep.version == 2 and set(rep.records) == {(MODE_IS_EXCLUDE, G, ()), (MODE_IS_EXCLUDE, G2, ())}
    m.query_input(IF, G2, 1000, False, 30.0)  # MLDv1 group-specific
    assert m.version(IF, 30.0) == 1
    (rep,) = m.poll(31.0)
    assert rep == SendMldReport(IF, 1, ((131, G2, ()),))
    assert m.leave(IF, G, 40.0) == [SendMldReport(IF, 1, ((132, G, ()),), done=True)]
    assert m.version(IF, 30.0 + OLDER_QUERIER_TIMEOUT) == 2
    m.query_input(IF, A("ff02::9"), 1000, True, 50.0)  # not joined: nothing
    assert m.next_deadline() is None


def test_node_answers_scapy_queries() -> None:
    inet6 = pytest.importorskip("scapy.layers.inet6")
    scapy_l2 = pytest.importorskip("scapy.layers.l2")
    mac = bytes.fromhex("020000000a0a")
    n = Node("m", seed=4)
    n.add_interface(IF, mac)
    out = n.up(IF, 0.0)
    first = [scapy_l2.Ether(f) for _, f in out]
    reps = [p for p in first if inet6.ICMPv6MLReport2 in p]
    assert reps and reps[0][inet6.IPv6].hlim == 1
    assert reps[0][inet6.IPv6ExtHdrHopByHop].options[0].otype == 5  # Router Alert
    while (d := n.next_deadline()) is not None and d < 5:
        n.poll(d)
    q2 = bytes(scapy_l2.Ether(dst="33:33:00:00:00:01", src="02:00:00:00:00:99")
               / inet6.IPv6(src="fe80::99", dst="ff02::1", hlim=1)
               / inet6.IPv6ExtHdrHopByHop(options=[inet6.RouterAlert()])
               / inet6.ICMPv6MLQuery2(mrd=1000))
    assert n.receive(IF, q2, 10.0) == []
    sent = []
    while (d := n.next_deadline()) is not None and d < 12:
        sent += [scapy_l2.Ether(f) for _, f in n.poll(d)]
    (rep,) = [p for p in sent if inet6.ICMPv6MLReport2 in p]
    addrs = {r.dst for r in rep[inet6.ICMPv6MLReport2].records}
    assert any(a.startswith("ff02::1:ff") for a in addrs)
    q1 = bytes(scapy_l2.Ether(dst="33:33:00:00:00:01", src="02:00:00:00:00:99")
               / inet6.IPv6(src="fe80::99", dst="ff02::1", hlim=1)
               / inet6.IPv6ExtHdrHopByHop(options=[inet6.RouterAlert()])
               / inet6.ICMPv6MLQuery(mrd=500))
    n.receive(IF, q1, 20.0)
    sent = []
    while (d := n.next_deadline()) is not None and d < 22:
        sent += [scapy_l2.Ether(f) for _, f in n.poll(d)]
    v1 = [p for p in sent if inet6.ICMPv6MLReport in p]
    assert v1 and all(p[inet6.IPv6].dst == p[inet6.ICMPv6MLReport].mladdr for p in v1)
