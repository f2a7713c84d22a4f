"""The ``ipaddress`` objects the core hands out and takes in without
running their Python constructors (issue 12 item 5): the same objects as the
public constructor makes, the same errors, and no exception raised and
dropped on the way for ``bytes`` or ``ipaddress`` arguments."""

from __future__ import annotations

import ipaddress
import sys
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kame
from kame import _core
from kame.errors import ScopeError


def ns_packet(target: bytes) -> bytes:
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6

    return bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255)
                 / ICMPv6ND_NS(tgt=str(IPv6Address(target)))
                 / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))


@given(st.binary(min_size=16, max_size=16))
@settings(max_examples=200, deadline=None)
def test_addresses_out_are_the_public_objects(a: bytes) -> None:
    pub = IPv6Address(a)
    ours = kame.parse(ns_packet(a)).upper.target
    assert type(ours) is IPv6Address
    assert ours == pub and hash(ours) == hash(pub) and str(ours) == str(pub)
    assert ours.packed == a and ours.scope_id is None and int(ours) == int(pub)
    assert ours.is_link_local == pub.is_link_local and repr(ours) == repr(pub)
    assert {ours: 1}[pub] == 1 and ours <= pub and not ours < pub


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_every_address_form_gives_the_same_checksum(a: bytes, payload: bytes) -> None:
    d = bytes(15) + b"\x01"
    forms = [a, IPv6Address(a), str(IPv6Address(a)), bytearray(a), memoryview(a)]
    sums = {_core.in6_cksum(f, d, 17, payload) for f in forms}
    assert len(sums) == 1


class MyAddress(IPv6Address):
    """A subclass takes the general path (its own packed)."""


def test_subclasses_zones_and_wrong_families() -> None:
    d = IPv6Address("2001:db8::2")
    assert _core.in6_cksum(MyAddress("2001:db8::1"), d, 17, b"x") == \
        _core.in6_cksum(IPv6Address("2001:db8::1"), d, 17, b"x")
    with pytest.raises(ScopeError):
        _core.in6_cksum(IPv6Address("fe80::1%eth0"), d, 17, b"x")
    with pytest.raises(ScopeError):
        _core.in6_cksum("fe80::1%eth0", d, 17, b"x")
    with pytest.raises((ValueError, TypeError)):
        _core.in6_cksum(IPv4Address("192.0.2.1"), d, 17, b"x")
    with pytest.raises((ValueError, TypeError)):
        _core.in6_cksum(b"\x00" * 15, d, 17, b"x")


def test_no_python_code_runs_on_the_fast_paths() -> None:
    """A profile hook sees every Python function call: reading an
    ``ipaddress`` argument (no ``.packed``/``.scope_id`` property) and
    handing out addresses (no ``IPv6Address.__init__``) run none."""
    pkt = ns_packet(IPv6Address("fe80::77").packed)
    s, d = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    sb, db = s.packed, d.packed
    called: list[str] = []

    def hook(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call":
            called.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(hook)
    try:
        for _ in range(3):
            _core.in6_cksum(sb, db, 17, b"abc")
            _core.in6_cksum(s, d, 17, b"abc")
            p = _core.parse(pkt)
            _ = (p.src, p.dst, p.upper.target, p.upper.source_lladdr)
    finally:
        sys.setprofile(None)
    assert [c for c in called if "ipaddress" in c] == []


def test_ipaddress_layout_is_what_the_fast_path_expects() -> None:
    """The slots the core fills (CPython's layout since 3.9); were they
    renamed, the core falls back to the public constructor, and this test
    says so."""
    assert "_ip" in IPv6Address.__slots__ and "_scope_id" in IPv6Address.__slots__
    assert "_ip" in IPv4Address.__slots__
    assert ipaddress.IPv6Address(1)._ip == 1
