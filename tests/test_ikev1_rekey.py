"""IKEv1 quick-mode rekey (issue 10) between two of our daemons in memory,
each with its own key engine: the soft lifetime of the IPsec SAs starts a
new quick mode on the ISAKMP SA (with PFS or without, by either end), the
new pair goes in with the same keys at both ends, the old pair is deleted
at both ends after it; a hard lifetime deletes the pair and tells the
peer; the phase-2 lifetime is the smaller of the two (RFC 2407 §4.5, with
RESPONDER-LIFETIME); lost messages in a rekey are recovered."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame.ike.ikev1 import Ikev1, Quick, V1Peer
from kame.ike.ikev2 import ChildProposal, IkeProposal
from kame.key.engine import KeyEngine

A, B = "2001:db8::1", "2001:db8::2"


def _pair(*, pfs: int = 0, life_a: int = 12, life_b: int = 12, b_rekeys: bool = True
          ) -> tuple[Ikev1, Ikev1]:
    prop = IkeProposal(12, 128, 12, 5, 31)
    child = ChildProposal(12, 128, 12)
    pa = V1Peer(B, A, b"k", pfs_group=pfs, proposals=[prop], child=[child],
                child_lifetime=life_a)
    pb = V1Peer(A, B, b"k", pfs_group=pfs, proposals=[prop], child=[child],
                child_lifetime=life_b)
    a, b = Ikev1([pa], KeyEngine()), Ikev1([pb], KeyEngine())
    if not b_rekeys:
        b.engine.listeners.clear()  # b never hears its soft lifetimes: a rekeys
    a.initiate(pa, 0.0)
    return a, b


class Wire:
    def __init__(self, a: Ikev1, b: Ikev1, drop: set[int] | None = None) -> None:
        self.a, self.b, self.drop = a, b, drop or set()
        self.n = 0

    def run(self, until: float, now: float = 0.0, step: float = 0.25) -> float:
        """Move messages and the clock (both key engines and daemons) to ``until``."""
        while True:
            for _ in range(20):
                moved = False
                for src, dst, s, d in ((self.a, self.b, A, B), (self.b, self.a, B, A)):
                    out, src.out = src.out, []
                    for data, _to, dport, sport in out:
                        moved = True
                        if self.n not in self.drop:
                            dst.input(data, s, sport, d, dport, now)
                        self.n += 1
                if not moved:
                    break
            if now > until:
                return now
            now += step
            for x in (self.a, self.b):
                x.engine.timehandler(now)
                x.timehandler(now)


def _keys(x: Ikev1) -> dict[int, tuple[bytes, bytes]]:
    return {s.spi: (s.enc_key, s.auth_key) for s in x.engine.sad}


def _check_pairs(a: Ikev1, b: Ikev1) -> tuple[Any, Any]:
    (sa,), (sb,) = a.sas.values(), b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED"
    assert sa.child_spi_in == sb.child_spi_out and sa.child_spi_out == sb.child_spi_in
    assert _keys(a) == _keys(b)
    return sa, sb


@pytest.mark.parametrize("pfs", [0, 31])
@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_quick_mode_rekey_on_soft_lifetime(pfs: int, who: str) -> None:
    # the one with the shorter lifetime rekeys first: a (phase-1 initiator) or b
    a, b = _pair(pfs=pfs, life_a=12 if who == "initiator" else 30,
                 life_b=30 if who == "initiator" else 12)
    w = Wire(a, b)
    now = w.run(1.0)
    sa, sb = _check_pairs(a, b)
    first = {sa.child_spi_in, sa.child_spi_out}
    assert len(a.engine.sad) == len(b.engine.sad) == 2
    # both ends installed the smaller lifetime (12 s): the soft one is 75-85 % of it
    assert {s.hard.addtime for x in (a, b) for s in x.engine.sad} == {12}
    rk = a if who == "initiator" else b
    (b if rk is a else a).engine.listeners.clear()  # only rk hears its soft lifetimes
    seen = [first]
    for k in range(1, 4):
        start = now
        while rk.stats.get("ipsec_rekeyed", 0) < k:  # the soft lifetime: 75-85 % of 12 s
            now = w.run(now + 0.25, now)
            assert now - start < 11.0, (a.log, b.log)
        now = w.run(now + 0.75, now)  # past OUT_DELAY: the new outbound SA is in
        sa, sb = _check_pairs(a, b)
        pair = {sa.child_spi_in, sa.child_spi_out}
        assert pair.isdisjoint(seen[-1]), (a.log, b.log)
        seen.append(pair)
        now = w.run(now + 1.5, now)  # past OLD_GRACE: the old pair deleted at both ends
        assert len(a.engine.sad) == len(b.engine.sad) == 2, (a.log, b.log)
        assert {s.spi for s in a.engine.sad} == pair
        assert not sa.old_pairs and not sb.old_pairs
    assert rk.stats["ipsec_soft_expired"] >= 3 and rk.stats["ipsec_rekeyed"] >= 3
    other = b if rk is a else a
    assert other.stats.get("ipsec_rekeyed", 0) >= 3
    assert any("deleted the rekeyed IPsec SA" in x for x in other.log)
    assert any("(rekey)" in x and ("with PFS" in x) == bool(pfs) for x in rk.log)
    # no ISAKMP SA was added: the rekeys ran on the one phase 1
    assert a.stats["isakmp_established"] == b.stats["isakmp_established"] == 1


def test_responder_lifetime_shortens_the_initiators() -> None:
    """b (responder) takes 8 s over a's 30 s and says so with RESPONDER-LIFETIME."""
    a, b = _pair(life_a=30, life_b=8, b_rekeys=False)
    w = Wire(a, b)
    w.run(1.0)
    _check_pairs(a, b)
    assert {s.hard.addtime for x in (a, b) for s in x.engine.sad} == {8}
    assert any("shortens the IPsec SA lifetime to 8 s" in x for x in a.log)


def test_hard_lifetime_deletes_the_pair_and_tells_the_peer() -> None:
    a, b = _pair(life_a=12, life_b=12, b_rekeys=False)
    w = Wire(a, b)
    now = w.run(1.0)
    (sa,) = a.sas.values()
    assert sa.quick is None and not sa.quicks
    # a quick mode of ours for the pair "under way" (never sent): the soft
    # expiry waits for it
    sa.quick = Quick(1, True, b"")
    now = w.run(13.0, now)
    assert not a.engine.sad and not sa.installed
    assert any("hard lifetime over" in x for x in a.log)
    assert not b.engine.sad and any("deleted the IPsec SA" in x for x in b.log)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 12), st.booleans())
def test_a_lost_rekey_message_is_recovered(lost: int, pfs: bool) -> None:
    """Any one message after phase 1 lost (quick mode 1-3 of the rekey, the
    delete): the rekey still completes and both ends agree."""
    a, b = _pair(pfs=31 if pfs else 0, life_a=12, life_b=30, b_rekeys=False)
    w = Wire(a, b)
    now = w.run(1.0)
    base = w.n
    w.drop = {base + lost}
    now = w.run(now + 11.0, now)
    w.run(now + 20.0, now)
    _check_pairs(a, b)
    assert a.stats.get("ipsec_rekeyed", 0) >= 1, (a.log, b.log)
    # at most the pair in use and one old one whose delete was lost
    assert len(a.engine.sad) == 2 and 2 <= len(b.engine.sad) <= 4


def test_both_rekey_at_once() -> None:
    """Both ends hear their soft lifetimes at about the same time: the
    ISAKMP SA's responder gives way, and one new pair results each time."""
    a, b = _pair(life_a=12, life_b=12)
    w = Wire(a, b)
    w.run(40.0)
    sa, sb = _check_pairs(a, b)
    assert a.stats.get("ipsec_rekeyed", 0) >= 3
    assert len(a.engine.sad) == len(b.engine.sad) == 2 or sa.old_pairs or sb.old_pairs
    assert not any("hard lifetime" in x for x in a.log + b.log), (a.log, b.log)
    assert a.stats["isakmp_established"] == 1


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_phase1_rekey_moves_the_ipsec_sas(mode: str, who: str) -> None:
    """The ISAKMP SA's lifetime (20 s) runs to 85-90 %: a new phase 1, the
    IPsec pair moves to it, the old ISAKMP SA is deleted at both ends, and
    the next quick-mode rekey runs on the new one."""
    prop = IkeProposal(12, 128, 12, 5, 31)
    child = ChildProposal(12, 128, 12)
    la, lb = (20, 3600) if who == "initiator" else (3600, 20)
    pa = V1Peer(B, A, b"k", exchange_mode=(mode,), proposals=[prop], child=[child],
                child_lifetime=30, lifetime=la)
    pb = V1Peer(A, B, b"k", exchange_mode=("main", "aggressive"), proposals=[prop],
                child=[child], child_lifetime=30, lifetime=lb)
    a, b = Ikev1([pa], KeyEngine()), Ikev1([pb], KeyEngine())
    b.engine.listeners.clear()
    a.initiate(pa, 0.0)
    w = Wire(a, b)
    now = w.run(1.0)
    (s0,) = a.sas.values()
    pair = (s0.child_spi_in, s0.child_spi_out)
    now = w.run(21.5, now)  # the rekey at 17-18 s, the old one deleted 3 s later (P1_LINGER) or at 20 s
    sa, sb = _check_pairs(a, b)
    assert sa is not s0 and sa.cky_i != s0.cky_i and s0.state == "DEAD", (a.log, b.log)
    assert (sa.child_spi_in, sa.child_spi_out) == pair and sa.installed and sb.installed
    assert len(a.engine.sad) == len(b.engine.sad) == 2
    assert a.stats["isakmp_established"] == b.stats["isakmp_established"] == 2
    rk = a if who == "initiator" else b
    assert rk.stats["isakmp_rekey"] == 1
    # the other end heard our delete, or its own clock ran the old one out first
    assert any("deleted the ISAKMP SA" in x or "replaced: deleting it" in x
               for x in (b if rk is a else a).log)
    # the soft lifetime of the pair (75-85 % of 30 s): a quick mode on the new ISAKMP SA
    now = w.run(27.0, now)
    sa2, _sb = _check_pairs(a, b)
    assert sa2 is sa and (sa.child_spi_in, sa.child_spi_out) != pair
    assert a.stats["ipsec_rekeyed"] >= 1 and len(a.engine.sad) == 2


def test_phase1_rekey_during_a_quick_mode_rekey() -> None:
    """Our quick mode on the old ISAKMP SA unanswered (lost) when the new
    phase 1 is up: it runs again on the new one, nothing is left behind."""
    a, b = _pair(life_a=3600, life_b=3600, b_rekeys=False)
    w = Wire(a, b)
    now = w.run(1.0)
    (s0,) = a.sas.values()
    pair = (s0.child_spi_in, s0.child_spi_out)
    a._quick_start(s0, now)
    w.drop = {w.n}  # its message 1 lost
    now = w.run(now + 0.1, now)
    a.rekey_phase1(s0, now)
    w.run(now + 3.0, now)
    sa, _sb = _check_pairs(a, b)
    assert s0.state == "DEAD" and sa is not s0
    assert (sa.child_spi_in, sa.child_spi_out) != pair and a.stats["ipsec_rekeyed"] == 1
    assert len(a.engine.sad) == len(b.engine.sad) == 2, (a.log, b.log)
