"""The SAD and SPD by themselves under a simulated clock: SA states and
soft/hard lifetimes in seconds and bytes, larval SAs, SA preference,
ACQUIRE blocking; SPD order, per-socket entrust/bypass, levels and the
system-wide default levels, bundle order (IPComp -> ESP -> AH)."""

from __future__ import annotations

import itertools
from ipaddress import IPv6Address as A

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.key.engine import KeyEngine
from kame.key.sad import Acquire, Expire, KeyEngineError, Lifetime, Sad, SaState, SecAsVar
from kame.key.setkey import parse_policy, run
from kame.key.spd import IpsecRequest, SecPolicy, Selector, Spd, effective_level
from kame.knobs import Knobs

S, D = A("2001:db8::1"), A("2001:db8::2")


def esp(spi: int, **kw: object) -> SecAsVar:
    return SecAsVar("esp", S, D, spi, enc="null", **kw)  # type: ignore[arg-type]


def test_soft_then_hard_addtime() -> None:
    sad = Sad()
    sa = sad.add(esp(0x1000, soft=Lifetime(addtime=80), hard=Lifetime(addtime=100)), 1000.0)
    assert sad.next_deadline() == 1080.0
    sad.timehandler(1079.9)
    assert sa.state == SaState.MATURE and not sad.events
    sad.timehandler(1080.0)
    assert sa.state == SaState.DYING
    assert sad.events.popleft() == Expire(sa, "soft", 1080.0)
    assert sad.next_deadline() == 1100.0  # the hard one; the soft one is spent
    sad.timehandler(1100.0)
    assert sa.state == SaState.DEAD and sad.get(D, "esp", 0x1000) is None
    assert sad.events.popleft().kind == "hard"


def test_usetime_counts_from_first_use() -> None:
    sad = Sad()
    sa = sad.add(esp(0x1000, hard=Lifetime(usetime=10)), 0.0)
    sad.timehandler(500.0)
    assert sa.state == SaState.MATURE  # never used
    assert sad.use(sa, 100, 500.0)
    assert sad.next_deadline() == 510.0
    sad.timehandler(510.0)
    assert sa.state == SaState.DEAD


@given(sizes=st.lists(st.integers(1, 2000), min_size=1, max_size=50),
       soft=st.integers(1, 20000), extra=st.integers(0, 20000))
def test_byte_lifetimes(sizes: list[int], soft: int, extra: int) -> None:
    sad = Sad()
    hard = soft + extra
    sa = sad.add(esp(0x1000, soft=Lifetime(bytes=soft), hard=Lifetime(bytes=hard)), 0.0)
    total, want = 0, []
    for n in sizes:
        before = total
        alive = sad.use(sa, n, 1.0)
        total += n
        assert alive == (total < hard)
        if total >= hard:
            want.append("hard")  # a packet crossing both limits reports only the hard one
            break
        if before < soft <= total:
            want.append("soft")
        assert sa.state == (SaState.DYING if total >= soft else SaState.MATURE)
    assert [e.kind for e in sad.events if isinstance(e, Expire)] == want


def test_larval_sa_from_getspi_dies_or_is_updated() -> None:
    sad = Sad()
    lv = sad.getspi("esp", S, D, 0.0, lo=0x2000, hi=0x2001)
    assert lv.state == SaState.LARVAL and lv.spi in (0x2000, 0x2001)
    # the last free SPI of a small range is found
    assert sad.getspi("esp", S, D, 0.0, lo=0x2000, hi=0x2001).spi == 0x2001 ^ 0x2000 ^ lv.spi
    with pytest.raises(KeyEngineError):
        sad.getspi("esp", S, D, 0.0, lo=0x2000, hi=0x2001)
    assert sad.lookup_out(S, D, "esp", "transport") is None  # larval is not usable
    sad.update(esp(0x2000), 5.0)
    assert sad.get(D, "esp", 0x2000).state == SaState.MATURE
    sad.timehandler(30.0)
    assert sad.get(D, "esp", 0x2001) is None  # net.key.larval_lifetime
    assert sad.get(D, "esp", 0x2000) is not None


def test_output_prefers_mature_then_oldest_or_newest() -> None:
    sad = Sad()
    old = sad.add(esp(0x1000), 0.0)
    new = sad.add(esp(0x1001), 10.0)
    assert sad.lookup_out(S, D, "esp", "transport") is old  # net.key.preferred_oldsa = 1
    sad.preferred_oldsa = False
    assert sad.lookup_out(S, D, "esp", "transport") is new
    new.state = SaState.DYING
    assert sad.lookup_out(S, D, "esp", "transport") is old
    tun = sad.add(esp(0x1002, mode="tunnel", reqid=9), 20.0)
    assert sad.lookup_out(S, D, "esp", "tunnel") is tun
    assert sad.lookup_out(S, D, "esp", "tunnel", reqid=8) is None
    assert sad.lookup_out(S, D, "ah", "transport") is None


def test_acquire_is_blocked_for_blockacq_lifetime() -> None:
    sad = Sad()
    assert isinstance(sad.acquire(S, D, "esp", "transport", 0, 0.0), Acquire)
    assert sad.acquire(S, D, "esp", "transport", 0, 19.0) is None
    assert sad.acquire(S, D, "ah", "transport", 0, 19.0) is not None
    assert sad.acquire(S, D, "esp", "transport", 0, 20.0) is not None


def test_bad_sas_are_refused() -> None:
    with pytest.raises(KeyEngineError):
        esp(255)  # reserved SPI
    with pytest.raises(KeyEngineError):
        SecAsVar("esp", S, "10.0.0.1", 0x1000)  # type: ignore[arg-type]
    with pytest.raises(KeyEngineError):
        SecAsVar("ipcomp", S, D, 0x10000)
    sad = Sad()
    with pytest.raises(KeyEngineError):
        sad.add(SecAsVar("esp", S, D, 0x1000, enc="aes-cbc", enc_key=b"short"), 0.0)
    sad.add(esp(0x1000), 0.0)
    with pytest.raises(KeyEngineError) as ei:
        sad.add(esp(0x1000), 0.0)
    assert ei.value.errno == 17


# --- SPD ------------------------------------------------------------------------------

def sel(src: str = "::/0", dst: str = "::/0", ul: int = 255, sp: int = 0,
        dp: int = 0) -> Selector:
    return Selector.of(src, dst, ul, sp, dp)


def test_first_match_in_order() -> None:
    spd = Spd()
    a = spd.add(SecPolicy(sel("2001:db8::/32"), "out", "none"), 0)
    b = spd.add(SecPolicy(sel("2001:db8::/48"), "out", "discard"), 0)
    assert spd.lookup("out", S, D, 58) is a  # the wider entry added first wins
    spd.delete(a.selector, "out")
    assert spd.lookup("out", S, D, 58) is b
    assert spd.lookup("in", S, D, 58) is None
    assert [p.id for p in spd] == [b.id]


def test_socket_policies_entrust_and_bypass() -> None:
    spd = Spd()
    sys_sp = spd.add(SecPolicy(sel(), "out", "discard"), 0)
    sock = object()
    spd.set_socket_policy(sock, parse_policy("out entrust"))
    assert spd.lookup("out", S, D, 17, so=sock) is sys_sp
    spd.set_socket_policy(sock, parse_policy("out bypass"))
    assert spd.lookup("out", S, D, 17, so=sock).action == "bypass"
    spd.set_socket_policy(sock, parse_policy("out ipsec esp/transport//use"))
    assert spd.lookup("out", S, D, 17, so=sock).requests[0].proto == "esp"
    assert spd.lookup("out", S, D, 17) is sys_sp  # other sockets: the system SPD
    with pytest.raises(KeyEngineError):
        spd.add(SecPolicy(sel(), "in", "bypass"), 0)  # per-socket only


def test_levels_and_system_defaults() -> None:
    knobs = Knobs()
    r = IpsecRequest("esp", "transport")
    assert effective_level(r, knobs) == "use"
    knobs["net.inet6.ipsec6.esp_trans_deflev"] = 2
    assert effective_level(r, knobs) == "require"
    t = IpsecRequest("esp", "tunnel", S, D)
    assert effective_level(t, knobs) == "use"
    knobs["net.inet6.ipsec6.esp_net_deflev"] = 2
    assert effective_level(t, knobs) == "require"
    knobs["net.inet6.ipsec6.ah_trans_deflev"] = 2
    assert effective_level(IpsecRequest("ah", "transport"), knobs) == "require"
    assert effective_level(IpsecRequest("ipcomp", "transport"), knobs) == "use"
    assert effective_level(IpsecRequest("ah", "transport", level="use"), knobs) == "use"


def test_bundle_is_ipcomp_esp_ah_whatever_the_order_given() -> None:
    eng = KeyEngine()
    run("spdadd ::1 ::2 any -P out ipsec ah/transport//require esp/transport//require "
        "ipcomp/transport//use;", eng, 0)
    (sp,) = eng.spd.dump()
    assert [r.proto for r in sp.requests] == ["ah", "esp", "ipcomp"]  # as written
    assert [r.proto for r in sp.bundle] == ["ipcomp", "esp", "ah"]  # seed §4.4


def test_policy_validation() -> None:
    with pytest.raises(KeyEngineError):
        SecPolicy(sel(), "sideways", "none")
    with pytest.raises(KeyEngineError):
        SecPolicy(sel(), "out", "ipsec")
    with pytest.raises(KeyEngineError):
        SecPolicy(sel(), "out", "none", (IpsecRequest("esp", "transport"),))
    with pytest.raises(KeyEngineError):
        IpsecRequest("esp", "tunnel")
    with pytest.raises(KeyEngineError):
        Selector.of("::/0", "0.0.0.0/0")


def test_getspi_draws_at_random_as_key_do_getnewspi() -> None:
    """KAME draws SPIs at random in the range (an SPI counting up from 256
    tells an off-path attacker which are live); 200 draws in the default
    range are distinct, inside it, and not a run."""
    sad = Sad()
    spis = [sad.getspi("esp", S, D, 0.0).spi for _ in range(200)]
    assert len(set(spis)) == 200 and all(256 <= x <= 0xFFFFFFFF for x in spis)
    assert sum(1 for a, b in itertools.pairwise(spis) if b == a + 1) < 5
    assert max(spis) - min(spis) > 1 << 24
    # IPComp CPIs stay 16-bit (RFC 3173 §2.1)
    cpis = [sad.getspi("ipcomp", S, D, 0.0).spi for _ in range(50)]
    assert all(1 <= x <= 0xFFFF for x in cpis)


def test_getspi_full_range_refused_in_bounded_work() -> None:
    sad = Sad()
    for _ in range(16):
        sad.getspi("ah", S, D, 0.0, lo=0x3000, hi=0x300F)
    assert len({sa.spi for sa in sad}) == 16
    with pytest.raises(KeyEngineError):
        sad.getspi("ah", S, D, 0.0, lo=0x3000, hi=0x300F)
    with pytest.raises(KeyEngineError):
        sad.getspi("ah", S, D, 0.0, lo=0x3001, hi=0x3000)  # empty range
