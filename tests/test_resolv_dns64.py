"""DNS64 in the stub resolver (RFC 6147 §5.5): the resolv.conf directives
``dns64`` and ``dns64-exclude``, and what they accept."""

from __future__ import annotations

from ipaddress import IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.resolv import ResolvConf


def test_dns64_directive_and_exclusions() -> None:
    c = ResolvConf.parse("nameserver 2001:db8::53\ndns64 64:ff9b::/96\n"
                         "dns64-exclude ::ffff:0:0/96 2001:db8:bad::/48 junk\n")
    assert c.dns64 == IPv6Network("64:ff9b::/96")
    assert c.dns64_exclude == (IPv6Network("::ffff:0:0/96"), IPv6Network("2001:db8:bad::/48"))
    assert ResolvConf.parse("").dns64 is None
    assert ResolvConf.parse("").dns64_exclude == (IPv6Network("::ffff:0:0/96"),)
    for plen in (32, 40, 48, 56, 64, 96):
        net = IPv6Network(("2001:db8::", plen))
        assert ResolvConf.parse(f"dns64 {net}\n").dns64 == net


@pytest.mark.parametrize("line", ["dns64 64:ff9b::/80", "dns64 192.0.2.0/24", "dns64 x",
                                  "dns64", "dns64 64:ff9b::/96 extra", "dns64 64:ff9b::1/96"])
def test_bad_dns64_lines_are_skipped(line: str) -> None:
    assert ResolvConf.parse(line + "\n").dns64 is None


def test_dns64_prefix_length_checked() -> None:
    with pytest.raises(ValueError, match="RFC 6052"):
        ResolvConf(dns64=IPv6Network("64:ff9b::/80"))
    with pytest.raises(TypeError):
        ResolvConf(dns64="64:ff9b::/96")  # type: ignore[arg-type]


def test_with_rdnss_keeps_dns64() -> None:
    c = ResolvConf.parse("dns64 64:ff9b::/96\n").with_rdnss(object(), 0.0)
    assert c.dns64 == IPv6Network("64:ff9b::/96")


@given(st.text(max_size=80))
def test_any_dns64_line_parses_or_is_skipped(junk: str) -> None:
    c = ResolvConf.parse("dns64 " + junk + "\ndns64-exclude " + junk + "\n")
    assert c.dns64 is None or c.dns64.prefixlen in (32, 40, 48, 56, 64, 96)
