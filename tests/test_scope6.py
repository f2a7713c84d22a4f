"""Scope zones (RFC 4007, seed §1.3): the four helpers of §1.3.1 over the
embedded form, the extended text format, use_defzone."""

from __future__ import annotations

import socket
from ipaddress import IPv6Address as A

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.scope6 import (
    Scope,
    ScopeError,
    Sockaddr6,
    ZoneTable,
    format_scoped,
    in6_addrscope,
    in6_clearscope,
    in6_setscope,
    is_embeddable,
    parse_scoped,
    sa6_embedscope,
    sa6_recoverscope,
)


@pytest.fixture
def zones() -> ZoneTable:
    z = ZoneTable()
    z.add("lo0")
    z.add("eth0")
    z.add("eth1")
    return z


def test_scopes() -> None:
    assert in6_addrscope(A("fe80::1")) == Scope.LINKLOCAL
    assert in6_addrscope(A("fec0::1")) == Scope.SITELOCAL
    assert in6_addrscope(A("ff01::1")) == Scope.INTFACELOCAL
    assert in6_addrscope(A("ff02::1")) == Scope.LINKLOCAL
    assert in6_addrscope(A("ff05::2")) == Scope.SITELOCAL
    assert in6_addrscope(A("ff0e::1")) == Scope.GLOBAL
    assert in6_addrscope(A("::1")) == Scope.LINKLOCAL  # RFC 4291 2.5.3
    assert in6_addrscope(A("2001:db8::1")) == Scope.GLOBAL


def test_parse_and_format(zones: ZoneTable) -> None:
    sa = parse_scoped("fe80::1%eth0", zones)
    assert sa == Sockaddr6(A("fe80::1"), 2)
    assert format_scoped(sa, zones) == "fe80::1%eth0"
    assert parse_scoped("ff02::1%3", zones).scope_id == 3
    assert format_scoped(Sockaddr6(A("ff02::1"), 3), zones) == "ff02::1%eth1"
    assert format_scoped(Sockaddr6(A("fe80::1"), 9), zones) == "fe80::1%9"
    assert format_scoped(A("2001:db8::1")) == "2001:db8::1"
    assert parse_scoped("fe80::1", zones) == Sockaddr6(A("fe80::1"), 0)


@pytest.mark.parametrize("text", ["fe80:2::fedc", "ff02:1::1", "fe80:1::200:f8ff:fe01:6317%eth0",
                                  "ff01:2::1"])
def test_user_typed_embedded_form_refused(text: str, zones: ZoneTable) -> None:
    with pytest.raises(ScopeError) as ei:
        parse_scoped(text, zones)
    assert ei.value.errno == "EINVAL" and isinstance(ei.value, ValueError)


@pytest.mark.parametrize("text", ["fe80::1%", "fe80::1%nosuch", "2001:db8::1%eth0", "fe80::zz%eth0"])
def test_bad_text(text: str, zones: ZoneTable) -> None:
    with pytest.raises(ScopeError):
        parse_scoped(text, zones)


def test_getaddrinfo_agrees_on_numeric_zone(zones: ZoneTable) -> None:
    """The host's resolver parses the same extended format (RFC 4007 §11)."""
    info = socket.getaddrinfo("fe80::1%1", None, socket.AF_INET6, 0, 0, socket.AI_NUMERICHOST)
    assert info[0][4][3] == parse_scoped("fe80::1%1", zones).scope_id == 1


def test_use_defzone(zones: ZoneTable) -> None:
    zones.set_default("eth1")
    assert parse_scoped("fe80::1", zones).scope_id == 0
    assert parse_scoped("fe80::1", zones, use_defzone=True).scope_id == 3
    sa = sa6_embedscope(Sockaddr6(A("fe80::1")), zones, defaultok=True)
    assert sa == Sockaddr6(A("fe80:3::1"), 0)
    # without defaultok the address stays ambiguous (KAME leaves it for in6_setscope)
    assert sa6_embedscope(Sockaddr6(A("fe80::1")), zones, defaultok=False) == Sockaddr6(A("fe80::1"))


def test_embed_recover_roundtrip(zones: ZoneTable) -> None:
    for a in ("fe80::200:f8ff:fe01:6317", "ff02::1", "ff01::1"):
        sa = Sockaddr6(A(a), 2, 5353)
        emb = sa6_embedscope(sa, zones, False)
        assert emb.scope_id == 0 and emb.addr.packed[2:4] == b"\x00\x02"
        assert sa6_recoverscope(emb, zones) == sa
    g = Sockaddr6(A("2001:db8::1"), 2)
    assert sa6_embedscope(g, zones, False) == Sockaddr6(A("2001:db8::1"), 0)
    assert sa6_embedscope(Sockaddr6(A("fe80::1"), 2), zones, False).addr == A("fe80:2::1")


def test_seed_example(zones: ZoneTable) -> None:
    emb = A("fe80:1::200:f8ff:fe01:6317")  # §1.3.1: link 1
    sa = sa6_recoverscope(Sockaddr6(emb), zones)
    assert sa == Sockaddr6(A("fe80::200:f8ff:fe01:6317"), 1)
    assert format_scoped(sa, zones) == "fe80::200:f8ff:fe01:6317%lo0"


def test_helper_errors(zones: ZoneTable) -> None:
    with pytest.raises(ScopeError) as e:
        sa6_embedscope(Sockaddr6(A("fe80::1"), 77), zones, False)
    assert e.value.errno == "ENXIO"
    with pytest.raises(ScopeError) as e:
        sa6_embedscope(Sockaddr6(A("fe80:2::1"), 2), zones, False)
    assert e.value.errno == "EINVAL"
    with pytest.raises(ScopeError) as e:
        sa6_recoverscope(Sockaddr6(A("fe80:63::1")), zones)
    assert e.value.errno == "ENXIO"
    with pytest.raises(ScopeError):
        sa6_recoverscope(Sockaddr6(A("fe80:2::1"), 3), zones)
    with pytest.raises(ScopeError):
        in6_setscope(A("::1"), zones, "eth0")
    with pytest.raises(ScopeError):
        format_scoped(Sockaddr6(A("fe80:2::1")), zones)


def test_clearscope_and_setscope(zones: ZoneTable) -> None:
    assert in6_clearscope(A("fe80:2::1")) == (A("fe80::1"), True)
    assert in6_clearscope(A("fe80::1")) == (A("fe80::1"), False)
    assert in6_clearscope(A("2001:2::1")) == (A("2001:2::1"), False)
    assert in6_setscope(A("fe80::1"), zones, "eth1") == (A("fe80:3::1"), 3)
    assert in6_setscope(A("ff01::1"), zones, "eth0") == (A("ff01:2::1"), 2)
    assert in6_setscope(A("ff05::1"), zones, "eth0") == (A("ff05::1"), 1)  # site zone 1
    assert in6_setscope(A("2001:db8::1"), zones, "eth0") == (A("2001:db8::1"), 0)
    assert in6_setscope(A("::1"), zones, "lo0") == (A("::1"), 0)


@given(st.integers(0, 2**128 - 1).map(A), st.sampled_from(["lo0", "eth0", "eth1"]))
def test_setscope_clearscope_inverse(a: A, ifname: str) -> None:
    zones = ZoneTable()
    for n in ("lo0", "eth0", "eth1"):
        zones.add(n)
    clean, _ = in6_clearscope(a)
    if int(clean) == 1 and ifname != "lo0":
        return
    emb, zone = in6_setscope(clean, zones, ifname)
    assert in6_clearscope(emb)[0] == clean
    if is_embeddable(clean):
        assert sa6_recoverscope(Sockaddr6(emb), zones) == Sockaddr6(clean, zone)


def test_zone_table(zones: ZoneTable) -> None:
    assert zones.index("eth0") == 2 and zones.name(3) == "eth1"
    zones.set_default("eth0")
    zones.remove("eth0")
    assert Scope.LINKLOCAL not in zones.default
    with pytest.raises(ScopeError):
        zones.index("eth0")
    assert zones.add("eth2") == 4
