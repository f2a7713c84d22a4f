"""Where the MLD and IGMP queriers run is derived on events (knob writes,
interfaces up/down/ND-disabled, addresses added, ready, duplicated,
removed), not recomputed per interface on every ``next_deadline``/``poll``:
the state follows each event, and a quiet node asks nothing."""

from __future__ import annotations

from typing import Any

import pytest

from kame.knobs import Knobs
from kame.node import Node


def settle(n: Node, until: float) -> float:
    t = 0.0
    while True:
        d = n.next_deadline()
        if d is None or d > until:
            return until
        t = max(t, d)
        n.poll(t)


def router(**kn: int) -> Node:
    n = Node("r", knobs=Knobs({"net.link.ether.inet.dad_count": 0, **kn}), seed=4)
    for i, name in enumerate(("a", "b")):
        n.add_interface(name, bytes([2, 0, 0, 0, 9, i + 1]))
        n.up(name, 0.0)
        n.add_address4(name, f"10.{i}.0.1/24", 0.0)
    return n


def running(n: Node) -> tuple[list[str], list[str]]:
    return sorted(n.mldr.interfaces()), sorted(n.inet.igmpr.interfaces())


def test_the_queriers_follow_the_events(monkeypatch: pytest.MonkeyPatch) -> None:
    n = router()
    t = settle(n, 5.0)
    assert running(n) == ([], [])  # not a router
    n.knobs["net.inet6.ip6.forwarding"] = 1
    n.knobs["net.inet.ip.forwarding"] = 1
    t = settle(n, t + 0.1)
    assert running(n) == (["a", "b"], ["a", "b"])
    # quiet: next_deadline and poll never look at the interfaces again
    calls: list[Any] = []
    monkeypatch.setattr(n, "_mldr_wanted", lambda name: calls.append(name))
    monkeypatch.setattr(n.inet, "_igmpr_wanted", lambda name: calls.append(name))
    for _ in range(50):
        n.next_deadline()
        n.poll(t)
    assert calls == []
    monkeypatch.undo()
    # an interface goes down: both stop there; up again: back (once the
    # link-local address is ready)
    n.down("b", t)
    t = settle(n, t + 0.1)
    assert running(n) == (["a"], ["a"])
    n.up("b", t)
    t = settle(n, t + 5.0)
    assert running(n) == (["a", "b"], ["a", "b"])
    # ndp -i a disabled (outside the node's paths, told by ifstate_changed)
    n.ifnets["a"].flags.disabled = True
    n.ifstate_changed()
    t = settle(n, t + 0.1)
    assert running(n)[0] == ["b"]
    n.ifnets["a"].flags.disabled = False
    n.ifstate_changed()
    # the IPv4 address of b goes: IGMP stops there
    n.inet.delete_address("b", "10.1.0.1")
    t = settle(n, t + 0.1)
    assert running(n) == (["a", "b"], ["a"])
    # the knob turns both off
    n.knobs["net.inet6.mld.querier"] = 0
    n.knobs["net.inet.igmp.querier"] = 0
    settle(n, t + 0.1)
    assert running(n) == ([], [])


def test_a_link_local_address_that_is_not_ready_keeps_mld_off() -> None:
    n = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=4)
    n.add_interface("a", bytes([2, 0, 0, 0, 9, 1]))
    n.up("a", 0.0)
    n.poll(0.0)
    assert n.mldr.interfaces() == []  # fe80:: still tentative (DAD)
    settle(n, 5.0)
    assert n.mldr.interfaces() == ["a"]  # AddressReady moved it
