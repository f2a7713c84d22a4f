"""in6_cksum / in4_cksum / ip_cksum / cksum_many against a naive RFC 1071
reference written here in Python (the oracle), with random data, random
split points (odd ones included) and lengths up to 70000 (jumbograms)."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame import _core


def ref_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ref_cksum(data: bytes) -> int:
    return ~ref_sum(data) & 0xFFFF


def ref_in6(src: bytes, dst: bytes, nh: int, data: bytes, length: int | None = None) -> int:
    n = len(data) if length is None else length
    return ref_cksum(src + dst + struct.pack("!I3xB", n, nh) + data)


addr6 = st.binary(min_size=16, max_size=16)
addr4 = st.binary(min_size=4, max_size=4)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    cuts = sorted(c % (len(data) + 1) for c in cuts)
    out, prev = [], 0
    for c in cuts:
        out.append(data[prev:c])
        prev = c
    out.append(data[prev:])
    return out


@given(addr6, addr6, st.integers(0, 255), st.binary(max_size=3000), st.lists(st.integers(0, 1 << 20), max_size=8))
def test_in6_cksum_split_anywhere(src, dst, nh, data, cuts):
    want = ref_in6(src, dst, nh, data)
    assert kame.in6_cksum(src, dst, nh, data) == want
    chunks = split(data, cuts)
    assert kame.in6_cksum(src, dst, nh, chunks) == want
    # mixed buffer kinds
    mixed = [bytearray(c) if i % 3 == 1 else memoryview(c) if i % 3 == 2 else c for i, c in enumerate(chunks)]
    assert kame.in6_cksum(src, dst, nh, mixed) == want


@given(st.integers(0, 70000), st.lists(st.integers(0, 70000), max_size=4), st.integers(0, 2**32 - 1))
def test_in6_cksum_long_and_jumbo_length(n, cuts, length):
    data = bytes((i * 7 + 3) & 0xFF for i in range(n))
    src = ipaddress.IPv6Address("2001:db8::1")
    dst = ipaddress.IPv6Address("2001:db8::2")
    want = ref_in6(src.packed, dst.packed, 17, data)
    assert kame.in6_cksum(src, dst, 17, split(data, cuts)) == want
    # the pseudo-header length is 32 bits (RFC 8200 §8.1), given explicitly
    assert kame.in6_cksum(str(src), str(dst), 17, data, length=length) == ref_in6(
        src.packed, dst.packed, 17, data, length
    )


def test_in6_cksum_length_over_32_bits():
    with pytest.raises(kame.LimitError):
        kame.in6_cksum("::1", "::1", 17, b"x", length=2**32)


def test_verify_gives_zero():
    # scapy-built ICMPv6 echo (checksum ab9c) from fe80::1 to ff02::1
    msg = bytes.fromhex("8000ab9c12340001616263")
    assert kame.in6_cksum("fe80::1", "ff02::1", 58, msg) == 0
    assert kame.in6_cksum("fe80::1", "ff02::1", 58, [msg[:3], msg[3:]]) == 0


@given(addr4, addr4, st.integers(0, 255), st.binary(max_size=2000), st.lists(st.integers(0, 4000), max_size=5))
def test_in4_cksum(src, dst, proto, data, cuts):
    want = ref_cksum(src + dst + struct.pack("!xBH", proto, len(data)) + data)
    assert kame.in4_cksum(src, dst, proto, split(data, cuts)) == want


def test_in4_cksum_length_limit():
    with pytest.raises(kame.LimitError):
        kame.in4_cksum("10.0.0.1", "10.0.0.2", 17, b"", length=65536)


@given(st.binary(max_size=60))
def test_ip_cksum(hdr):
    assert kame.ip_cksum(hdr) == ref_cksum(hdr)
    assert kame.ip_cksum(bytearray(hdr)) == ref_cksum(hdr)


def test_ip_cksum_rfc791_header():
    h = bytes.fromhex("45000073000040004011b861c0a80001c0a800c7")
    assert kame.ip_cksum(h) == 0
    assert kame.ip_cksum(h[:10] + b"\0\0" + h[12:]) == 0xB861


@given(st.lists(st.tuples(addr6, addr6, st.integers(0, 255), st.binary(max_size=600)), max_size=20))
def test_cksum_many(items):
    want = [ref_in6(s, d, nh, data) for s, d, nh, data in items]
    assert kame.cksum_many(items) == want
    # data as a sequence of chunks too
    assert kame.cksum_many([(s, d, nh, [data[:1], data[1:]]) for s, d, nh, data in items]) == want


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.binary(max_size=300)), max_size=30),
       st.sampled_from(["bytes", "str", "ipaddress"]))
def test_cksum_many_shared_addresses(items, form):
    """Items that share address objects (converted once per batch) and
    items with equal but distinct objects give the sums of single calls."""
    pool = [ipaddress.IPv6Address(f"2001:db8::{i + 1}") for i in range(3)]
    conv = {"bytes": lambda a: a.packed, "str": str, "ipaddress": lambda a: a}[form]
    shared = [conv(a) for a in pool]
    same_objs = [(shared[i], shared[j], 17, data) for i, j, data in items]
    fresh = [(conv(pool[i]), conv(pool[j]), 17, data) for i, j, data in items]
    want = [ref_in6(pool[i].packed, pool[j].packed, 17, data) for i, j, data in items]
    assert kame.cksum_many(same_objs) == want
    assert kame.cksum_many(fresh) == want
    assert [kame.in6_cksum(*t) for t in same_objs] == want


def test_cksum_many_bad_item_names_it_as_before():
    good = (bytes(16), bytes(16), 17, b"ab")
    with pytest.raises(ValueError, match="length 4"):
        kame.cksum_many([good, (bytes(16), bytes(16), 17)])
    with pytest.raises(ValueError, match="IPv6"):
        kame.cksum_many([good, ("192.0.2.1", bytes(16), 17, b"")])
    with pytest.raises(TypeError):
        kame.cksum_many([good, [bytes(16), bytes(16), 17, b""]])


def test_bad_inputs():
    with pytest.raises(ValueError):
        kame.in6_cksum("not-an-address", "::1", 17, b"")
    with pytest.raises(TypeError):
        kame.in6_cksum("::1", "::1", 17, "text")
    assert _core.cksum_path() in ("avx512", "avx2", "portable")
