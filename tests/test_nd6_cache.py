"""The neighbor cache: every row of RFC 4861 Appendix C, every timer, the
bounds, and a hypothesis state machine, all under a simulated clock."""

from __future__ import annotations

import math
import random
from ipaddress import IPv6Address as A

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kame.knobs import Knobs
from kame.nd6.cache import (
    DELAY_FIRST_PROBE_TIME,
    MAX_MULTICAST_SOLICIT,
    MAX_UNICAST_SOLICIT,
    ND_RECALC_REACHTM_INTERVAL,
    NdState,
    NeighborCache,
)
from kame.nd6.types import DeliverQueued, DropQueued, NeighborUnreachable, SendNS

IF = "eth0"
N = A("fe80::2")
L1 = bytes.fromhex("020000000001")
L2 = bytes.fromhex("020000000002")
S = NdState


def new_cache(**knobs: int) -> NeighborCache:
    c = NeighborCache(Knobs(knobs), rng=random.Random(1))
    c.attach(IF, 0.0)
    return c


def in_state(state: NdState, *, router: bool = False) -> NeighborCache:
    """A cache whose entry for N is in ``state`` at t=0 with lladdr L1."""
    c = new_cache()
    if state == S.INCOMPLETE:
        c.resolve(IF, N, "p0", 0.0)
    else:
        c.cache_lladdr(IF, N, L1, "ns", 0.0)
        if state == S.REACHABLE:
            c.na_update(IF, N, L1, solicited=True, override=False, router=False, now=0.0)
        elif state in (S.DELAY, S.PROBE):
            c.resolve(IF, N, "p0", 0.0)
            if state == S.PROBE:
                c.poll(DELAY_FIRST_PROBE_TIME)
    ln = c.lookup(IF, N)
    assert ln is not None and ln.state == state
    ln.is_router = router
    return c


NOT_INCOMPLETE = [S.REACHABLE, S.STALE, S.DELAY, S.PROBE]


def state(c: NeighborCache) -> NdState | None:
    ln = c.lookup(IF, N)
    return None if ln is None else ln.state


# --- Appendix C, row by row ---------------------------------------------------

def test_row_packet_to_send_creates_incomplete() -> None:
    c = new_cache()
    ll, out = c.resolve(IF, N, "pkt", 0.0)
    assert ll is None and state(c) == S.INCOMPLETE
    assert out == [SendNS(IF, N, A("ff02::1:ff00:2"), None, True)]
    assert c.lookup(IF, N).expire == pytest.approx(1.0)  # RetransTimer


def test_row_incomplete_retransmit_less_than_n() -> None:
    c = in_state(S.INCOMPLETE)
    for i in range(1, MAX_MULTICAST_SOLICIT):
        out = c.poll(float(i))
        assert [type(a) for a in out] == [SendNS] and out[0].dst == A("ff02::1:ff00:2")
        assert state(c) == S.INCOMPLETE and c.lookup(IF, N).asked == i + 1


def test_row_incomplete_retransmit_n_discards_and_errors() -> None:
    c = in_state(S.INCOMPLETE)
    c.resolve(IF, N, "p1", 0.5)  # replaces p0 (hold queue of 1)
    for i in range(1, MAX_MULTICAST_SOLICIT):
        c.poll(float(i))
    out = c.poll(float(MAX_MULTICAST_SOLICIT))
    assert state(c) is None
    assert DropQueued(IF, N, ("p1",)) in out
    assert c.stats["icp6s_nd_holddrop"] == 1 and c.stats["icp6s_nd_unreach"] == 1


@pytest.mark.parametrize("override", [False, True])
def test_row_incomplete_na_unsolicited_stale(override: bool) -> None:
    c = in_state(S.INCOMPLETE)
    out = c.na_update(IF, N, L1, solicited=False, override=override, router=False, now=0.1)
    assert state(c) == S.STALE and c.lookup(IF, N).lladdr == L1
    assert out == [DeliverQueued(IF, N, L1, ("p0",))]


@pytest.mark.parametrize("override", [False, True])
def test_row_incomplete_na_solicited_reachable(override: bool) -> None:
    c = in_state(S.INCOMPLETE)
    out = c.na_update(IF, N, L1, solicited=True, override=override, router=True, now=0.1)
    ln = c.lookup(IF, N)
    assert ln.state == S.REACHABLE and ln.lladdr == L1 and ln.is_router
    assert ln.expire == pytest.approx(0.1 + c.info(IF).reachable)
    assert out == [DeliverQueued(IF, N, L1, ("p0",))]


@pytest.mark.parametrize("solicited", [False, True])
@pytest.mark.parametrize("override", [False, True])
def test_row_incomplete_na_without_lladdr_updates_isrouter(solicited: bool, override: bool) -> None:
    c = in_state(S.INCOMPLETE)
    out = c.na_update(IF, N, None, solicited=solicited, override=override, router=True, now=0.1)
    ln = c.lookup(IF, N)
    assert ln.state == S.INCOMPLETE and ln.is_router and out == []


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_solicited_no_override_same_lladdr_reachable(st0: NdState) -> None:
    c = in_state(st0)
    c.na_update(IF, N, L1, solicited=True, override=False, router=False, now=1.0)
    assert state(c) == S.REACHABLE


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_na_without_lladdr(st0: NdState) -> None:
    """Appendix C: IsRouter updated, state unchanged. For a *solicited* NA
    §7.2.5 (normative, and KAME) makes the entry REACHABLE: §7.2.4 lets a
    unicast answer omit the option, and NUD must still succeed."""
    c = in_state(st0)
    c.na_update(IF, N, None, solicited=False, override=True, router=True, now=1.0)
    assert state(c) == st0 and c.lookup(IF, N).is_router
    c.na_update(IF, N, None, solicited=True, override=False, router=False, now=1.0)
    assert state(c) == S.REACHABLE and not c.lookup(IF, N).is_router


def test_row_reachable_solicited_no_override_different_stale() -> None:
    c = in_state(S.REACHABLE)
    c.na_update(IF, N, L2, solicited=True, override=False, router=True, now=1.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.STALE and ln.lladdr == L1 and not ln.is_router  # no other update


@pytest.mark.parametrize("st0", [S.STALE, S.PROBE, S.DELAY])
def test_row_solicited_no_override_different_unchanged(st0: NdState) -> None:
    c = in_state(st0)
    c.na_update(IF, N, L2, solicited=True, override=False, router=False, now=1.0)
    ln = c.lookup(IF, N)
    assert ln.state == st0 and ln.lladdr == L1


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
@pytest.mark.parametrize("ll", [L1, L2])
def test_row_solicited_override_reachable(st0: NdState, ll: bytes) -> None:
    c = in_state(st0)
    c.na_update(IF, N, ll, solicited=True, override=True, router=False, now=1.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.REACHABLE and ln.lladdr == ll


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_unsolicited_no_override_unchanged(st0: NdState) -> None:
    """Appendix C: unchanged. With a *different* address a REACHABLE entry
    turns STALE: §7.2.5 I.a (normative, and KAME)."""
    for ll in (L1, None):
        c = in_state(st0)
        c.na_update(IF, N, ll, solicited=False, override=False, router=False, now=1.0)
        assert state(c) == st0
    c = in_state(st0)
    c.na_update(IF, N, L2, solicited=False, override=False, router=False, now=1.0)
    assert state(c) == (S.STALE if st0 == S.REACHABLE else st0)
    assert c.lookup(IF, N).lladdr == L1


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
@pytest.mark.parametrize("override", [False, True])
def test_row_unsolicited_same_lladdr_unchanged(st0: NdState, override: bool) -> None:
    c = in_state(st0)
    c.na_update(IF, N, L1, solicited=False, override=override, router=False, now=1.0)
    assert state(c) == st0


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_unsolicited_override_different_stale(st0: NdState) -> None:
    c = in_state(st0)
    c.na_update(IF, N, L2, solicited=False, override=True, router=False, now=1.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.STALE and ln.lladdr == L2


@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_upper_layer_confirmation(st0: NdState) -> None:
    c = in_state(st0)
    c.knobs["net.inet6.icmp6.nd6_maxnudhint"] = 5
    assert c.nud_hint(IF, N, 2.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.REACHABLE and ln.expire == pytest.approx(2.0 + c.info(IF).reachable)


def test_row_reachable_timeout_stale() -> None:
    c = in_state(S.REACHABLE)
    t = c.lookup(IF, N).expire
    assert c.poll(t - 0.001) == [] and state(c) == S.REACHABLE
    c.poll(t)
    assert state(c) == S.STALE


def test_row_stale_send_starts_delay() -> None:
    c = in_state(S.STALE)
    ll, out = c.resolve(IF, N, "pkt", 3.0)
    assert ll == L1 and out == [] and state(c) == S.DELAY
    assert c.lookup(IF, N).expire == pytest.approx(3.0 + DELAY_FIRST_PROBE_TIME)


def test_row_delay_timeout_probe() -> None:
    c = in_state(S.DELAY)
    out = c.poll(DELAY_FIRST_PROBE_TIME)
    assert state(c) == S.PROBE
    assert out == [SendNS(IF, N, N, None, True, None, L1)]  # unicast probe


def test_row_probe_retransmit_then_discard() -> None:
    c = in_state(S.PROBE)
    t = DELAY_FIRST_PROBE_TIME
    for i in range(1, MAX_UNICAST_SOLICIT):
        out = c.poll(t + i)
        assert out == [SendNS(IF, N, N, None, True, None, L1)] and state(c) == S.PROBE
    out = c.poll(t + MAX_UNICAST_SOLICIT)
    assert state(c) is None and out == [NeighborUnreachable(IF, N, False)]


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
def test_row_new_entry_with_lladdr_stale(msg: str) -> None:
    c = new_cache()
    c.cache_lladdr(IF, N, L1, msg, 0.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.STALE and ln.lladdr == L1 and not ln.is_router


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
def test_row_incomplete_with_lladdr_stale_and_deliver(msg: str) -> None:
    c = in_state(S.INCOMPLETE)
    out = c.cache_lladdr(IF, N, L1, msg, 0.2)
    assert state(c) == S.STALE and out == [DeliverQueued(IF, N, L1, ("p0",))]


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_different_lladdr_stale(msg: str, st0: NdState) -> None:
    c = in_state(st0)
    c.cache_lladdr(IF, N, L2, msg, 1.0)
    ln = c.lookup(IF, N)
    assert ln.state == S.STALE and ln.lladdr == L2


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
def test_row_incomplete_without_lladdr_unchanged(msg: str) -> None:
    c = in_state(S.INCOMPLETE)
    assert c.cache_lladdr(IF, N, None, msg, 0.2) == [] and state(c) == S.INCOMPLETE


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
@pytest.mark.parametrize("st0", NOT_INCOMPLETE)
def test_row_same_lladdr_unchanged(msg: str, st0: NdState) -> None:
    c = in_state(st0)
    c.cache_lladdr(IF, N, L1, msg, 1.0)
    assert state(c) == st0


@pytest.mark.parametrize("msg", ["ns", "rs", "redirect"])
def test_row_no_entry_without_lladdr_is_no_entry(msg: str) -> None:
    """Appendix C "-": KAME records a NOSTATE entry (§1.2 case 1, to keep
    IsRouter) which resolution treats exactly as no entry."""
    c = new_cache()
    c.cache_lladdr(IF, N, None, msg, 0.0)
    assert state(c) == S.NOSTATE and c.lookup(IF, N).lladdr is None
    assert c.na_update(IF, N, L1, solicited=True, override=True, router=False, now=0.1) == []
    assert state(c) == S.NOSTATE
    ll, out = c.resolve(IF, N, "pkt", 0.5)
    assert ll is None and state(c) == S.INCOMPLETE and len(out) == 1


def test_row_no_entry_na_discarded() -> None:
    c = new_cache()
    assert c.na_update(IF, N, L1, solicited=True, override=True, router=False, now=0.0) == []
    assert len(c) == 0


# --- IsRouter (KAME nd6_cache_lladdr table) ------------------------------------

def test_isrouter_rules() -> None:
    c = in_state(S.STALE, router=True)
    c.cache_lladdr(IF, N, L1, "ns", 1.0)  # old entry: NS leaves it
    assert c.lookup(IF, N).is_router
    c.cache_lladdr(IF, N, None, "rs", 1.0)  # RS always clears
    assert not c.lookup(IF, N).is_router
    c.cache_lladdr(IF, N, None, "ra", 1.0)  # RA with an old lladdr sets
    assert c.lookup(IF, N).is_router
    c2 = new_cache()
    c2.cache_lladdr(IF, N, None, "ra", 0.0)  # new entry without lladdr: not set
    assert not c2.lookup(IF, N).is_router
    c2.cache_lladdr(IF, A("fe80::9"), L2, "redirect", 0.0, redirect_router=True)
    assert c2.lookup(IF, A("fe80::9")).is_router


def test_router_flag_drop_reported() -> None:
    c = in_state(S.REACHABLE, router=True)
    lost: list[A] = []
    c.on_router_lost = lambda ifn, a: lost.append(a)
    c.na_update(IF, N, L1, solicited=False, override=False, router=False, now=1.0)
    assert lost == [N]


# --- timers and knobs ----------------------------------------------------------

def test_reachable_time_randomised_and_recalculated() -> None:
    vals = []
    for seed in range(50):
        c = NeighborCache(Knobs(), rng=random.Random(seed))
        vals.append(c.attach(IF, 0.0).reachable)
    assert all(15.0 <= v <= 45.0 for v in vals) and len(set(vals)) > 40
    c = new_cache()
    info = c.info(IF)
    first = info.reachable
    assert c.next_deadline() == ND_RECALC_REACHTM_INTERVAL
    c.poll(ND_RECALC_REACHTM_INTERVAL)
    assert info.reachable != first and info.recalc_at == 2 * ND_RECALC_REACHTM_INTERVAL
    info.set_base_reachable(10.0, 100.0, c.rng)
    assert 5.0 <= info.reachable <= 15.0


def test_retrans_timer_follows_ifinfo() -> None:
    c = new_cache()
    c.info(IF).retrans = 0.25
    c.resolve(IF, N, "p", 0.0)
    assert c.next_deadline() == pytest.approx(0.25)


def test_solicit_knobs() -> None:
    c = new_cache(**{"net.inet6.icmp6.nd6_mmaxtries": 5})
    c.resolve(IF, N, "p", 0.0)
    sent = 1 + sum(len(c.poll(float(i))) for i in range(1, 5))
    assert sent == 5 and state(c) == S.INCOMPLETE
    c.poll(5.0)
    assert state(c) is None


def test_stale_garbage_collected_but_router_kept() -> None:
    c = in_state(S.STALE)
    gc = c.knobs["net.inet6.icmp6.nd6_gctimer"]
    c.poll(gc)
    assert state(c) is None
    c = in_state(S.STALE, router=True)
    c.poll(gc)
    assert state(c) == S.STALE


def test_nud_off_keeps_stale() -> None:
    c = in_state(S.STALE)
    c.info(IF).flags.nud = False
    c.resolve(IF, N, "p", 1.0)
    assert state(c) == S.STALE


def test_nud_hint_capped() -> None:
    c = in_state(S.STALE)
    assert not c.nud_hint(IF, N, 1.0)  # default nd6_maxnudhint 0: ignored
    assert state(c) == S.STALE
    # KAME counts ignored hints too (ln_byhint++ before the test)
    c.knobs["net.inet6.icmp6.nd6_maxnudhint"] = 3
    assert c.nud_hint(IF, N, 1.0) and c.nud_hint(IF, N, 1.0)
    assert c.lookup(IF, N).byhint == 3
    assert not c.nud_hint(IF, N, 1.0)
    # a confirming NA resets the run
    c.na_update(IF, N, L1, solicited=True, override=False, router=False, now=2.0)
    assert c.lookup(IF, N).byhint == 0 and c.nud_hint(IF, N, 2.5)
    assert c.nud_hint(IF, N, 3.0, force=True)
    assert not in_state(S.INCOMPLETE).nud_hint(IF, N, 1.0, force=True)


def test_hold_queue_bounded() -> None:
    c = new_cache(**{"net.inet6.icmp6.nd6_maxqueuelen": 3})
    for i in range(10):
        c.resolve(IF, N, i, 0.0)
    assert list(c.lookup(IF, N).hold) == [7, 8, 9]
    assert c.stats["icp6s_nd_holddrop"] == 7


def test_permanent_entries() -> None:
    c = new_cache()
    c.set_permanent(IF, N, L1)
    assert c.resolve(IF, N, "p", 0.0) == (L1, [])
    c.na_update(IF, N, L2, solicited=True, override=True, router=False, now=0.0)
    assert c.lookup(IF, N).lladdr == L1 and c.next_deadline() == ND_RECALC_REACHTM_INTERVAL


def test_ns_flood_bounded_lru() -> None:
    c = new_cache(**{"net.inet6.icmp6.nd6_maxentries": 100})
    keep = A("fe80::beef")
    c.resolve(IF, keep, "p", 0.0)
    c.na_update(IF, keep, L1, solicited=True, override=False, router=False, now=0.0)
    rnd = random.Random(7)
    for i in range(5000):
        c.cache_lladdr(IF, A(rnd.getrandbits(128)), L2, "ns", 0.001 * i)
        assert len(c) <= 100
    assert c.lookup(IF, keep) is not None  # REACHABLE survives a STALE flood
    assert c.stats["icp6s_nd_cachefull"] == 5000 + 1 - 100


# --- hypothesis: the cache as a state machine ----------------------------------

ADDRS = [A(f"fe80::{i:x}") for i in range(1, 7)]
LLS = [None, L1, L2]


class CacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.c = NeighborCache(Knobs({"net.inet6.icmp6.nd6_maxentries": 4,
                                      "net.inet6.icmp6.nd6_maxnudhint": 2}),
                               rng=random.Random(0))
        self.c.attach(IF, 0.0)
        self.now = 0.0

    @rule(dt=st.floats(0, 40, allow_nan=False))
    def advance(self, dt: float) -> None:
        self.now += dt
        d = self.c.next_deadline()
        while d is not None and d <= self.now:
            self.c.poll(d)
            d = self.c.next_deadline()
        self.c.poll(self.now)

    @rule(a=st.sampled_from(ADDRS))
    def send(self, a: A) -> None:
        ll, _ = self.c.resolve(IF, a, object(), self.now)
        ln = self.c.lookup(IF, a)
        assert (ll is None) == (ln.state == S.INCOMPLETE)

    @rule(a=st.sampled_from(ADDRS), ll=st.sampled_from(LLS),
          msg=st.sampled_from(["ns", "rs", "ra", "redirect"]))
    def solicit(self, a: A, ll: bytes | None, msg: str) -> None:
        self.c.cache_lladdr(IF, a, ll, msg, self.now)

    @rule(a=st.sampled_from(ADDRS), ll=st.sampled_from(LLS), s=st.booleans(),
          o=st.booleans(), r=st.booleans())
    def advert(self, a: A, ll: bytes | None, s: bool, o: bool, r: bool) -> None:
        self.c.na_update(IF, a, ll, solicited=s, override=o, router=r, now=self.now)

    @rule(a=st.sampled_from(ADDRS), force=st.booleans())
    def hint(self, a: A, force: bool) -> None:
        self.c.nud_hint(IF, a, self.now, force=force)

    @invariant()
    def bounded_and_legal(self) -> None:
        assert len(self.c) <= 4
        for ln in self.c:
            assert ln.state in NdState
            assert len(ln.hold) <= 1
            if ln.state in (S.REACHABLE, S.STALE, S.DELAY, S.PROBE):
                assert ln.lladdr is not None
            if ln.state == S.INCOMPLETE:
                assert 1 <= ln.asked <= 3 or ln.asked == 0
            if ln.state == S.PROBE:
                assert 1 <= ln.asked <= 3
            else:
                assert not ln.hold or ln.state == S.INCOMPLETE
            # every entry has a pending timer in the future of "now"
            assert ln.expire != math.inf and ln.expire >= self.now - 1e-9
        d = self.c.next_deadline()
        assert d is None or d >= self.now - 1e-9

    @precondition(lambda self: len(self.c) > 0)
    @invariant()
    def timers_match_states(self) -> None:
        info = self.c.info(IF)
        for ln in self.c:
            if ln.state == S.REACHABLE:
                assert ln.expire <= self.now + info.reachable + 1e-9
            if ln.state == S.DELAY:
                assert ln.expire <= self.now + DELAY_FIRST_PROBE_TIME + 1e-9
            if ln.state in (S.INCOMPLETE, S.PROBE):
                assert ln.expire <= self.now + info.retrans + 1e-9


TestCacheMachine = CacheMachine.TestCase
