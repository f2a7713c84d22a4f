"""Routers, prefixes, SLAAC, temporary addresses, RS/RA schedules, Redirect
(RFC 4861 §6, §8; RFC 4862 §5.5; RFC 4941; RFC 4191; RFC 8106; seed §1.4.2)."""

from __future__ import annotations

import itertools
import math
import random
from ipaddress import IPv6Address as A
from ipaddress import IPv6Network as Net

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kame.addr import eui64_ifid
from kame.errors import ConfigError
from kame.in6_var import AddrList, Ifnet, IfType, In6Flags, In6Ifaddr
from kame.knobs import IfFlags, Knobs
from kame.nd6.cache import NdState, NeighborCache
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.rtr import (
    MAX_DESYNC_FACTOR,
    TWO_HOURS,
    Nd6Rtr,
    RaConfig,
    node_role,
    ra_accepted,
    two_hour_rule,
)
from kame.nd6.types import (
    AddressDeprecated,
    AddressExpired,
    PrefixInfo,
    RaInput,
    RdnssInfo,
    RedirectInput,
    RouteInfo,
    RsInput,
    SendRA,
    SendRS,
)

IF = "eth0"
MAC = bytes.fromhex("0000f8016317")
IFID = eui64_ifid(MAC)
R1 = A("fe80::1")
R2 = A("fe80::2")
R1_LL = bytes.fromhex("020000000001")
P = A("2001:db8:1::")
MY = A("2001:db8:1:0:200:f8ff:fe01:6317")
LL = A("fe80::200:f8ff:fe01:6317")


def make(**knobs: int) -> Nd6Rtr:
    base = {"net.inet6.ip6.accept_rtadv": 1}
    base.update(knobs)
    k = Knobs(base)
    cache = NeighborCache(k, rng=random.Random(3))
    cache.attach(IF, 0.0)
    ifnets = {IF: Ifnet(IF, 2, IfType.ETHER, MAC, up=True)}
    addrs = AddrList()
    addrs.add(In6Ifaddr(LL, 64, IF, hw_derived=True))
    nbr = Nd6Nbr(k, cache, addrs, ifnets, rng=random.Random(4))
    return Nd6Rtr(k, cache, nbr, addrs, ifnets, {IF: IFID}, rng=random.Random(5))


def ra(**kw: object) -> RaInput:
    base: dict[str, object] = {"src": R1, "dst": A("ff02::1"), "hop_limit": 255, "router_lifetime": 1800,
                                   "slla": R1_LL, "prefixes": (PrefixInfo(P, 64),)}
    base.update(kw)
    return RaInput(**base)  # type: ignore[arg-type]


def pi(valid: int, preferred: int, **kw: object) -> PrefixInfo:
    return PrefixInfo(P, 64, valid_lifetime=valid, preferred_lifetime=preferred, **kw)  # type: ignore[arg-type]


def finish_dad(r: Nd6Rtr, now: float) -> None:
    while (d := r.nbr.next_deadline()) is not None and d <= now:
        r.nbr.poll(d)


# --- §1.4.2 acceptance table ------------------------------------------------------

@pytest.mark.parametrize("accept,fwd,ifflag,expect,role", [
    (0, 0, True, False, "host (to be manually configured)"),
    (0, 1, True, False, "router"),
    (1, 0, True, True, "autoconfigured host"),
    (1, 1, True, True, "invalid, or experimental"),
    (0, 0, False, False, "host (to be manually configured)"),
    (1, 0, False, False, "autoconfigured host"),
    (1, 1, False, False, "invalid, or experimental"),
])
def test_accept_table(accept: int, fwd: int, ifflag: bool, expect: bool, role: str) -> None:
    k = Knobs({"net.inet6.ip6.accept_rtadv": accept, "net.inet6.ip6.forwarding": fwd})
    assert ra_accepted(k, IfFlags(accept_rtadv=ifflag)) is expect
    assert node_role(accept, fwd) == role
    r = make(**{"net.inet6.ip6.accept_rtadv": accept, "net.inet6.ip6.forwarding": fwd})
    r.ifnets[IF].flags.accept_rtadv = ifflag
    r.ra_input(IF, ra(), 0.0)
    assert bool(r.routers) is expect


def test_disabled_interface_ignores_ra() -> None:
    assert not ra_accepted(Knobs({"net.inet6.ip6.accept_rtadv": 1}), IfFlags(disabled=True))


# --- validation ------------------------------------------------------------------

@pytest.mark.parametrize("bad,counter", [
    ({"hop_limit": 254}, "icp6s_badra"),
    ({"src": A("2001:db8::1")}, "icp6s_badra"),
    ({"code": 1}, "icp6s_badcode"),
    ({"slla": b"\x01"}, "icp6s_badra"),
])
def test_ra_validation(bad: dict, counter: str) -> None:
    r = make()
    assert r.ra_input(IF, ra(**bad), 0.0) == []
    assert r.stats[counter] == 1 and not r.routers and not r.prefixes


# --- default routers (RFC 4861 §6.3.4, RFC 4191) ---------------------------------

def test_router_learnt_and_expires() -> None:
    r = make()
    r.ra_input(IF, ra(router_lifetime=600), 0.0)
    (dr,) = r.routers
    assert dr.addr == R1 and dr.expire == 600.0 and r.installed is dr
    ln = r.cache.lookup(IF, R1)
    assert ln.is_router and ln.state == NdState.STALE and ln.lladdr == R1_LL
    r.poll(599.0)
    assert r.routers
    r.poll(600.0)
    assert not r.routers and r.installed is None


def test_router_lifetime_zero_removes() -> None:
    r = make()
    r.ra_input(IF, ra(), 0.0)
    r.ra_input(IF, ra(router_lifetime=0), 1.0)
    assert not r.routers


def test_preferences_and_reachability() -> None:
    r = make()
    r.ra_input(IF, ra(src=R1, preference=0b11, prefixes=()), 0.0)  # low
    r.ra_input(IF, ra(src=R2, preference=0b01, slla=bytes.fromhex("020000000002"),
                      prefixes=()), 0.0)  # high
    assert r.select_default_router().addr == R2
    r.ra_input(IF, ra(src=R2, preference=0b10, slla=bytes.fromhex("020000000002"),
                      prefixes=()), 1.0)  # reserved -> medium
    assert r._defrtr_lookup(IF, R2).preference == 0b00
    assert r.select_default_router().addr == R2
    # a router not known reachable loses to a reachable one of lower preference
    r.cache.delete(IF, R2)
    r.cache.resolve(IF, R2, "p", 1.0)  # INCOMPLETE
    assert r.select_default_router().addr == R1


def test_router_flag_cleared_by_na_drops_router() -> None:
    r = make()
    r.ra_input(IF, ra(), 0.0)
    r.cache.na_update(IF, R1, R1_LL, solicited=False, override=False, router=False, now=1.0)
    assert not r.routers


def test_link_parameters() -> None:
    r = make()
    r.ra_input(IF, ra(cur_hop_limit=42, reachable_time=10_000, retrans_timer=500, mtu=1400), 0.0)
    info = r.cache.info(IF)
    assert info.chlim == 42 and info.base_reachable == 10.0 and 5.0 <= info.reachable <= 15.0
    assert info.retrans == 0.5 and info.linkmtu == 1400
    r.ra_input(IF, ra(mtu=1000), 1.0)
    r.ra_input(IF, ra(mtu=9000), 1.0)
    assert info.linkmtu == 1400


def test_route_information_and_rdnss() -> None:
    r = make()
    routes = (RouteInfo(A("2001:db8:99::"), 48, 0b01, 300), RouteInfo(A("2001:db8:98::"), 48, 0b10, 300))
    rd = (RdnssInfo(600, (A("2001:db8::53"),)),)
    r.ra_input(IF, ra(routes=routes, rdnss=rd), 0.0)
    assert [e.prefix for e in r.routes.values()] == [Net("2001:db8:99::/48")]  # reserved ignored
    assert r.next_hop(A("2001:db8:99::5"), 1.0) == (IF, R1)
    assert (IF, A("2001:db8::53")) in r.rdnss
    r.ra_input(IF, ra(routes=(RouteInfo(A("2001:db8:99::"), 48, 0, 0),), rdnss=()), 1.0)
    assert not r.routes
    r.poll(600.0)
    assert not r.rdnss


# --- prefixes, on-link, SLAAC ----------------------------------------------------

def test_slaac_address_and_onlink() -> None:
    r = make()
    out = r.ra_input(IF, ra(prefixes=(pi(7200 * 3, 3600),)), 0.0)
    ifa = r.addrs.find(IF, MY)
    assert ifa is not None and ifa.tentative and ifa.flags & In6Flags.AUTOCONF
    assert ifa.vltime_expire == 21600 and ifa.pltime_expire == 3600
    assert r.is_onlink(A("2001:db8:1::77"), IF, 1.0) and not r.is_onlink(A("2001:db8:2::1"), IF, 1.0)
    assert any(getattr(e, "kind", "") == "prefix_added" for e in out)
    finish_dad(r, 5.0)
    assert not ifa.tentative
    r.poll(3600.0)
    assert ifa.flags & In6Flags.DEPRECATED
    assert r.addrs.find(IF, MY) is not None
    out = r.poll(21600.0)
    assert AddressExpired(IF, MY) in out and r.addrs.find(IF, MY) is None


def test_prefix_advertising_routers() -> None:
    """KAME's ``ndpr_advrtrs``: each router of the default router list that
    advertised a prefix, once; a router leaving the list (lifetime 0,
    expiry) leaves every prefix; an RA with router lifetime 0 adds none."""
    r = make()
    key = (IF, Net("2001:db8:1::/64"))
    r.ra_input(IF, ra(), 0.0)
    r.ra_input(IF, ra(), 1.0)
    assert r.prefixes[key].advrtrs == [R1]
    r.ra_input(IF, ra(src=R2, slla=None, router_lifetime=0), 2.0)
    assert r.prefixes[key].advrtrs == [R1]
    r.ra_input(IF, ra(src=R2, slla=None, router_lifetime=600), 3.0)
    assert r.prefixes[key].advrtrs == [R1, R2]
    r.ra_input(IF, ra(router_lifetime=0), 4.0)
    assert r.prefixes[key].advrtrs == [R2]
    r.poll(700.0)  # R2's 600 s ran out; the prefix (lifetime 2592000) stays
    assert not r.routers and key in r.prefixes and r.prefixes[key].advrtrs == []


def test_deprecation_events_and_refresh() -> None:
    r = make()
    r.ra_input(IF, ra(prefixes=(pi(100000, 100),)), 0.0)
    assert AddressDeprecated(IF, MY) in r.poll(100.0)
    r.ra_input(IF, ra(prefixes=(pi(100000, 500),)), 200.0)
    assert not r.addrs.find(IF, MY).flags & In6Flags.DEPRECATED


@pytest.mark.parametrize("prefix,ok", [
    (PrefixInfo(A("fe80::"), 64), False),  # link-local
    (PrefixInfo(A("ff02::"), 64), False),
    (PrefixInfo(P, 64, valid_lifetime=10, preferred_lifetime=20), False),  # pref > valid
    (PrefixInfo(P, 48), False),  # 48 + 64 != 128: on-link only
    (PrefixInfo(P, 64, autonomous=False), False),
    (PrefixInfo(P, 64), True),
    (PrefixInfo(P, 64, valid_lifetime=0, preferred_lifetime=0), False),
])
def test_prefix_rules(prefix: PrefixInfo, ok: bool) -> None:
    r = make()
    r.ra_input(IF, ra(prefixes=(prefix,)), 0.0)
    assert (len(r.addrs) == 2) is ok


def test_onlink_flag_zero_does_not_make_offlink() -> None:
    r = make()
    r.ra_input(IF, ra(prefixes=(pi(3600, 1800),)), 0.0)
    r.ra_input(IF, ra(prefixes=(pi(3600, 1800, onlink=False),)), 10.0)
    assert r.is_onlink(A("2001:db8:1::9"), IF, 11.0)
    r.ra_input(IF, ra(prefixes=(pi(0, 0, autonomous=False),)), 20.0)
    assert not r.is_onlink(A("2001:db8:1::9"), IF, 21.0)


@pytest.mark.parametrize("advertised,remaining,expect", [
    (10000, 100, 10000),  # > 2 h: take it
    (500, 100, 500),  # > remaining: take it
    (500, 7000, 7000),  # remaining <= 2 h: ignore
    (500, 9000, TWO_HOURS),  # otherwise 2 hours
    (0, 9000, TWO_HOURS),  # the attack the rule exists for
    (0, 3000, 3000),
    (math.inf, 5, math.inf),
])
def test_two_hour_rule(advertised: float, remaining: float, expect: float) -> None:
    assert two_hour_rule(advertised, remaining) == expect
    if remaining <= TWO_HOURS and advertised <= remaining:
        assert two_hour_rule(advertised, remaining, authenticated=True) == advertised


def test_two_hour_rule_applied_to_addresses() -> None:
    r = make()
    r.ra_input(IF, ra(prefixes=(pi(86400, 3600),)), 0.0)
    r.ra_input(IF, ra(prefixes=(pi(60, 30),)), 100.0)  # spoofed short lifetime
    ifa = r.addrs.find(IF, MY)
    assert ifa.vltime_expire == 100.0 + TWO_HOURS and ifa.pltime_expire == 130.0


# --- temporary addresses (RFC 4941) -----------------------------------------------

def test_temporary_addresses() -> None:
    r = make(**{"net.inet6.ip6.use_tempaddr": 1})
    assert 0 <= r.desync_factor <= MAX_DESYNC_FACTOR
    r.ra_input(IF, ra(prefixes=(pi(2592000, 604800),)), 0.0)
    temps = [a for a in r.addrs.all() if a.flags & In6Flags.TEMPORARY]
    assert len(temps) == 1
    t = temps[0]
    assert t.addr != MY and t.addr in Net("2001:db8:1::/64") and t.addr.packed[8] & 0x02 == 0
    assert t.vltime_expire == 604800  # 1 week
    assert t.pltime_expire == pytest.approx(86400 - r.desync_factor)  # 1 day - desync
    finish_dad(r, 5.0)
    # regenerated REGEN_ADVANCE before deprecation
    r.poll(t.pltime_expire - 5.0)
    temps2 = [a for a in r.addrs.all() if a.flags & In6Flags.TEMPORARY]
    assert len(temps2) == 2
    r.poll(t.pltime_expire)
    assert t.flags & In6Flags.DEPRECATED
    # a refresh never extends a temporary address past its own limits
    r.ra_input(IF, ra(prefixes=(pi(2592000, 604800),)), 1000.0)
    assert t.vltime_expire <= 604800 and t.pltime_expire <= 86400


def test_temporary_dad_failure_regenerates() -> None:
    r = make(**{"net.inet6.ip6.use_tempaddr": 1})
    r.ra_input(IF, ra(prefixes=(pi(2592000, 604800),)), 0.0)
    (t,) = [a for a in r.addrs.all() if a.flags & In6Flags.TEMPORARY]
    r.on_duplicated(t, 0.5)
    (t2,) = [a for a in r.addrs.all() if a.flags & In6Flags.TEMPORARY]
    assert t2.addr != t.addr


# --- RS (RFC 4861 §6.3.7) -----------------------------------------------------------

def test_rs_schedule() -> None:
    r = make()
    r.start_rs(IF, 10.0)
    first = r.next_deadline()
    assert 10.0 <= first <= 11.0
    times = []
    while (d := r.next_deadline()) is not None and d < 100:
        for a in r.poll(d):
            if isinstance(a, SendRS):
                times.append(d)
                assert a.src == LL and a.include_slla
    assert len(times) == 3
    assert times[1] - times[0] == pytest.approx(4.0) and times[2] - times[1] == pytest.approx(4.0)


def test_rs_from_unspecified_while_tentative_and_stop_on_ra() -> None:
    r = make()
    r.addrs.find(IF, LL).flags |= In6Flags.TENTATIVE
    r.start_rs(IF, 0.0, immediate=True)
    (rs,) = r.poll(0.0)
    assert rs == SendRS(IF, A("::"), False)
    r.ra_input(IF, ra(), 1.0)
    assert not any(isinstance(a, SendRS) for a in r.poll(100.0))
    router = make(**{"net.inet6.ip6.forwarding": 1})
    router.start_rs(IF, 0.0)
    assert router.next_deadline() is None


# --- RA output (rtadvd, RFC 4861 §6.2) -------------------------------------------------

def rtr() -> Nd6Rtr:
    return make(**{"net.inet6.ip6.forwarding": 1, "net.inet6.ip6.accept_rtadv": 0})


def test_ra_output_schedule() -> None:
    r = rtr()
    cfg = RaConfig(max_interval=600, prefixes=(PrefixInfo(P, 64),))
    r.advertise(IF, cfg, 0.0)
    sent = []
    while (d := r.next_deadline()) is not None and d < 3000:
        sent += [(d, a) for a in r.poll(d) if isinstance(a, SendRA)]
    times = [t for t, _ in sent]
    assert times[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g <= 16.0 for g in gaps[:3])  # MAX_INITIAL_RTR_ADVERT_INTERVAL
    assert all(198.0 - 1e-9 <= g <= 600.0 for g in gaps[3:])  # [0.33 max, max]
    ra0 = sent[0][1]
    assert ra0.router_lifetime == 1800 and ra0.dst == A("ff02::1") and ra0.prefixes == cfg.prefixes


def test_ra_solicited_and_final() -> None:
    r = rtr()
    r.advertise(IF, RaConfig(max_interval=600), 0.0)
    r.poll(0.0)
    base = r.next_deadline()
    r.rs_input(IF, RsInput(A("fe80::77"), A("ff02::2"), 255, bytes(6)), 1.0)
    d = r.next_deadline()
    assert d == pytest.approx(3.0)  # MIN_DELAY_BETWEEN_RAS after the last one
    assert d < base
    r.poll(d)
    while (t := r.next_deadline()) is not None and t < 100.0:
        r.poll(t)
    last = r._ra[IF].last_sent
    r.rs_input(IF, RsInput(A("fe80::77"), A("ff02::2"), 255, bytes(6)), 100.0)
    d2 = r.next_deadline()
    assert 100.0 <= d2 <= max(100.5, last + 3.0)  # MAX_RA_DELAY_TIME / MIN_DELAY
    assert r.cache.lookup(IF, A("fe80::77")).state == NdState.STALE
    r.stop_advertising(IF, 200.0)
    finals = []
    while (d := r.next_deadline()) is not None and d < 1000:
        finals += [a for a in r.poll(d) if isinstance(a, SendRA)]
    assert len(finals) == 3 and all(a.router_lifetime == 0 for a in finals)


def test_rs_validation_and_host_ignores() -> None:
    r = rtr()
    assert r.rs_input(IF, RsInput(A("::"), A("ff02::2"), 255, bytes(6)), 0.0) == []
    assert r.stats["icp6s_badrs"] == 1
    r.rs_input(IF, RsInput(A("fe80::7"), A("ff02::2"), 64, None), 0.0)
    assert r.stats["icp6s_badrs"] == 2
    host = make()
    host.rs_input(IF, RsInput(A("fe80::7"), A("ff02::2"), 64, None), 0.0)
    assert host.stats["icp6s_badrs"] == 0


def test_ra_config_validation() -> None:
    with pytest.raises(ConfigError):
        RaConfig(max_interval=2).resolved()
    with pytest.raises(ConfigError):
        RaConfig(max_interval=600, min_interval=500).resolved()
    with pytest.raises(ConfigError):
        RaConfig(router_lifetime=10000).resolved()
    with pytest.raises(ConfigError):
        RaConfig(preference=0b10).resolved()
    with pytest.raises(ConfigError):
        make().advertise(IF, RaConfig(), 0.0)  # not a router


# --- Redirect (RFC 4861 §8) --------------------------------------------------------

def test_redirect() -> None:
    r = make()
    r.ra_input(IF, ra(prefixes=()), 0.0)
    dst = A("2001:db8:77::1")
    better = A("fe80::3")
    rd = RedirectInput(R1, LL, 255, better, dst, bytes.fromhex("020000000003"))
    out = r.redirect_input(IF, rd, 1.0)
    assert r.next_hop(dst, 2.0) == (IF, better)
    assert r.cache.lookup(IF, better).is_router and out
    # to an on-link destination (target == destination)
    onl = A("2001:db8:78::1")
    r.redirect_input(IF, RedirectInput(R1, LL, 255, onl, onl, None), 3.0)
    assert r.is_onlink(onl, IF, 4.0) and r.next_hop(onl, 4.0) == (IF, onl)
    # not from the current first hop
    bad = RedirectInput(A("fe80::66"), LL, 255, better, A("2001:db8:79::1"), None)
    r.redirect_input(IF, bad, 5.0)
    assert r.stats["icp6s_badredirect"] == 1
    r.redirect_input(IF, RedirectInput(R1, LL, 255, better, A("ff0e::1"), None), 5.0)
    r.redirect_input(IF, RedirectInput(A("2001:db8::1"), LL, 255, better, dst, None), 5.0)
    r.redirect_input(IF, RedirectInput(R1, LL, 64, better, dst, None), 5.0)
    r.redirect_input(IF, RedirectInput(R1, LL, 255, A("2001:db8::9"), dst, None), 5.0)
    assert r.stats["icp6s_badredirect"] == 5
    r.poll(1.0 + 600)
    assert r.next_hop(dst, 601.0) == (IF, R1)


# --- hypothesis: address lifetimes ------------------------------------------------

lifetimes = st.integers(0, 3 * 86400) | st.just(0xFFFFFFFF)


@given(st.floats(0, 1e6, allow_nan=False), st.floats(0, 1e6, allow_nan=False) | st.just(math.inf))
def test_two_hour_rule_properties(adv: float, remaining: float) -> None:
    new = two_hour_rule(adv, remaining)
    assert new >= min(remaining, TWO_HOURS)  # never cut below 2 h (or what was left)
    assert new in (adv, remaining, TWO_HOURS)


class LifetimeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.r = make(**{"net.inet6.ip6.use_tempaddr": 1})
        self.now = 0.0
        self.last_remaining: dict[A, float] = {}

    @rule(v=lifetimes, p=lifetimes, onlink=st.booleans())
    def advertise(self, v: int, p: int, onlink: bool) -> None:
        before = {a.addr: a.vltime_expire - self.now for a in self.r.addrs.all()
                  if a.flags & In6Flags.AUTOCONF}
        self.r.ra_input(IF, ra(prefixes=(PrefixInfo(P, 64, onlink, True, v, p),)), self.now)
        for a in self.r.addrs.all():
            if a.addr in before:
                # two-hour rule: an RA never cuts a lifetime below min(2h, remaining)
                assert a.vltime_expire - self.now >= min(before[a.addr], TWO_HOURS) - 1e-6

    @rule(dt=st.floats(0, 200000, allow_nan=False))
    def advance(self, dt: float) -> None:
        self.now += dt
        while (d := self.r.next_deadline()) is not None and d <= self.now:
            self.r.poll(d)
            finish_dad(self.r, d)
        self.r.poll(self.now)

    @invariant()
    def lifetimes_consistent(self) -> None:
        for a in self.r.addrs.all():
            if not a.flags & In6Flags.AUTOCONF:
                continue
            assert a.pltime_expire <= a.vltime_expire
            assert a.vltime_expire > self.now  # expired addresses are gone
            if a.pltime_expire <= self.now:
                assert a.flags & In6Flags.DEPRECATED
            if a.flags & In6Flags.TEMPORARY:
                k = self.r.knobs
                assert a.vltime_expire <= a.created + k["net.inet6.ip6.tempvltime"] + 1e-6
                assert a.pltime_expire <= a.created + k["net.inet6.ip6.temppltime"] + 1e-6


TestLifetimeMachine = LifetimeMachine.TestCase
