"""ICMPv6 error rules (RFC 4443 §2.4 (e), seed §1.9) and rate limits."""

from __future__ import annotations

from ipaddress import IPv6Address as A

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.icmp6 import (
    ICMP6_DST_UNREACH,
    ICMP6_PACKET_TOO_BIG,
    ICMP6_PARAM_PROB,
    ICMP6_TIME_EXCEEDED,
    ICMPV6_PLD_MAXLEN,
    ErrorRateLimiter,
    Invoking,
    error_payload,
    may_send_error,
)
from kame.knobs import Knobs

SRC = A("2001:db8::1")
DST = A("2001:db8::2")
UDP = 17
ICMP = 58


def inv(**kw: object) -> Invoking:
    base: dict[str, object] = {"src": SRC, "dst": DST, "next_header": UDP}
    base.update(kw)
    return Invoking(**base)  # type: ignore[arg-type]


def test_plain_error_allowed() -> None:
    assert may_send_error(inv(), ICMP6_DST_UNREACH, 4) == (True, "")


@pytest.mark.parametrize("t", [1, 2, 3, 4, 100, 127])
def test_no_error_about_error(t: int) -> None:
    ok, why = may_send_error(inv(next_header=ICMP, icmp6_type=t), ICMP6_PARAM_PROB, 0)
    assert not ok and "error" in why


def test_no_error_about_redirect() -> None:
    ok, why = may_send_error(inv(next_header=ICMP, icmp6_type=137), ICMP6_TIME_EXCEEDED, 0)
    assert not ok and "Redirect" in why


def test_informational_icmp_may_cause_error() -> None:
    assert may_send_error(inv(next_header=ICMP, icmp6_type=128), ICMP6_TIME_EXCEEDED, 0)[0]
    assert not may_send_error(inv(next_header=ICMP, icmp6_type=None), ICMP6_TIME_EXCEEDED, 0)[0]


@pytest.mark.parametrize("how", [{"dst": A("ff02::1")}, {"ll_multicast": True},
                                 {"ll_broadcast": True}])
def test_multicast_only_the_exceptions(how: dict) -> None:
    assert not may_send_error(inv(**how), ICMP6_DST_UNREACH, 4)[0]
    assert not may_send_error(inv(**how), ICMP6_TIME_EXCEEDED, 0)[0]
    assert may_send_error(inv(**how), ICMP6_PACKET_TOO_BIG, 0)[0]
    # Parameter Problem code 2, option type high bits 10 (RFC 8200 §4.2)
    assert may_send_error(inv(option_type=0x80, **how), ICMP6_PARAM_PROB, 2)[0]
    assert may_send_error(inv(option_type=0xBF, **how), ICMP6_PARAM_PROB, 2)[0]
    assert not may_send_error(inv(option_type=0xC0, **how), ICMP6_PARAM_PROB, 2)[0]
    assert not may_send_error(inv(option_type=0x40, **how), ICMP6_PARAM_PROB, 2)[0]
    assert not may_send_error(inv(option_type=0x80, **how), ICMP6_PARAM_PROB, 1)[0]


@pytest.mark.parametrize("how", [{"src": A("::")}, {"src": A("ff02::1")},
                                 {"src_not_unique": True}])
def test_source_must_identify_one_node(how: dict) -> None:
    assert not may_send_error(inv(**how), ICMP6_DST_UNREACH, 4)[0]
    assert not may_send_error(inv(**how), ICMP6_PACKET_TOO_BIG, 0)[0]


@given(st.binary(max_size=3000))
def test_payload_fits_minimum_mtu(data: bytes) -> None:
    pl = error_payload(data)
    assert len(pl) == min(len(data), ICMPV6_PLD_MAXLEN) and data.startswith(pl)
    assert 40 + 8 + len(pl) <= 1280


def test_pps_token_bucket_default_200() -> None:
    lim = ErrorRateLimiter(Knobs())
    assert sum(lim.allow(0.0) for _ in range(1000)) == 200  # burst of the bucket
    assert not lim.allow(0.001)
    # refill at 200/s: 1 second later another 200, never more
    assert sum(lim.allow(1.0) for _ in range(1000)) == 200
    # steady state: one every 5 ms is allowed
    t, ok = 2.0, 0
    for _ in range(400):
        t += 0.005
        ok += lim.allow(t)
    assert ok >= 399


def test_pps_limit_knob_values() -> None:
    k = Knobs({"net.inet6.icmp6.errppslimit": 0})
    assert not ErrorRateLimiter(k).allow(0.0)
    k["net.inet6.icmp6.errppslimit"] = -1
    lim = ErrorRateLimiter(k)
    assert all(lim.allow(0.0) for _ in range(10000))


def test_errratelimit_interval() -> None:
    k = Knobs({"net.inet6.icmp6.errratelimit": 100, "net.inet6.icmp6.errppslimit": -1})
    lim = ErrorRateLimiter(k)
    assert lim.allow(0.0) and not lim.allow(0.05) and not lim.allow(0.0999)
    assert lim.allow(0.1) and not lim.allow(0.15)


@given(st.lists(st.floats(0, 10, allow_nan=False), max_size=500))
def test_never_more_than_pps_plus_burst(times: list[float]) -> None:
    lim = ErrorRateLimiter(Knobs({"net.inet6.icmp6.errppslimit": 50}))
    times.sort()
    allowed = [t for t in times if lim.allow(t)]
    for start in range(11):
        window = [t for t in allowed if start <= t < start + 1]
        assert len(window) <= 100  # bucket (50) + one second of refill (50)
