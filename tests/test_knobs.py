"""Knobs: sysctl names, the seeds' defaults (DESIGN.md §4), validation."""

from __future__ import annotations

import pytest

from kame.errors import ConfigError
from kame.knobs import KNOBS, IfFlags, Knobs

SEED_DEFAULTS = {
    "net.inet6.ip6.hdrnestlimit": 50,  # §1.8 (KAME code later 15)
    "net.inet6.icmp6.nd6_maxndopt": 10,  # §1.2
    "net.inet6.icmp6.nd6_maxnudhint": 0,  # §1.2
    "net.inet6.icmp6.errppslimit": 200,  # §1.9 (KAME code 100)
    "net.inet6.icmp6.errratelimit": 0,  # §1.9
    "net.inet6.ip6.accept_rtadv": 0,  # §1.4.2
    "net.inet6.ip6.forwarding": 0,
    "net.inet6.ip6.use_deprecated": 1,  # §1.6.1
    "net.inet6.ip6.prefer_tempaddr": 0,
    "net.inet6.ip6.use_defzone": 0,  # §1.3.1
    "net.inet6.icmp6.nd6_debug": 0,  # §1.2: must be 0 in production
    "net.inet6.ip6.dad_count": 1,
    "net.inet6.icmp6.nd6_umaxtries": 3,
    "net.inet6.icmp6.nd6_mmaxtries": 3,
    "net.inet6.icmp6.nd6_delay": 5,
    "net.inet6.ip6.temppltime": 86400,
    "net.inet6.ip6.tempvltime": 604800,
}


@pytest.mark.parametrize("name,value", sorted(SEED_DEFAULTS.items()))
def test_defaults(name: str, value: int) -> None:
    assert Knobs()[name] == value


def test_set_validates() -> None:
    k = Knobs()
    k["net.inet6.ip6.forwarding"] = 1
    assert k.forwarding
    k["net.inet6.ip6.accept_rtadv"] = True
    assert k["net.inet6.ip6.accept_rtadv"] == 1 and k.accept_rtadv
    with pytest.raises(ConfigError):
        k["net.inet6.ip6.forwarding"] = 2
    with pytest.raises(ConfigError):
        k["net.inet6.icmp6.errppslimit"] = -2
    with pytest.raises(ConfigError):
        k["net.inet6.ip6.hlim"] = "64"  # type: ignore[assignment]
    with pytest.raises(ConfigError):
        k["net.inet6.ip6.nosuch"] = 1
    with pytest.raises(ConfigError):
        k["net.inet6.ip6.nosuch"]
    k["net.inet6.icmp6.errppslimit"] = -1
    k.reset("net.inet6.icmp6.errppslimit")
    assert k["net.inet6.icmp6.errppslimit"] == 200


def test_overrides_and_listing() -> None:
    k = Knobs({"net.inet6.icmp6.nd6_debug": 1})
    assert k["net.inet6.icmp6.nd6_debug"] == 1
    with pytest.raises(ConfigError):
        Knobs({"net.inet6.icmp6.nd6_debug": 5})
    lines = str(k).splitlines()
    assert "net.inet6.icmp6.nd6_debug: 1" in lines and len(lines) == len(KNOBS) == len(k)
    assert all(n.startswith(("net.inet6.ip6.", "net.inet6.icmp6.", "net.inet6.ipsec6.",
                             "net.inet6.mld.", "net.inet6.mip6.",
                             "net.inet.tcp.", "net.inet.ip.", "net.inet.icmp.", "net.inet.igmp.",
                             "net.link.ether.inet.", "net.link.gif."))
               for n in KNOBS)  # kame.tcp, kame.inet and gif(4) keep BSD's names too
    for spec in KNOBS.values():
        assert spec.minimum <= spec.default <= spec.maximum, spec.name


def test_ifflags() -> None:
    f = IfFlags()
    assert f.accept_rtadv and f.nud and not f.disabled
    assert f.names() == ["accept_rtadv", "nud", "auto_linklocal"]
