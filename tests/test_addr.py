"""Address classification, §1.14 invalid ranges, interface identifiers.

Oracles: scapy's utils6 (EUI-64 from a MAC, solicited-node address, 6to4
test), Python's ipaddress, hashlib per the RFC 3041 text, the seed's own
example (fe80::200:f8ff:fe01:6317 -> fe80::1:ff01:6317 group, §1.4.1)."""

from __future__ import annotations

import hashlib
import random
import socket
from ipaddress import IPv6Address as A
from ipaddress import IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import addr

scapy_utils6 = pytest.importorskip("scapy.utils6")

macs = st.binary(min_size=6, max_size=6)
addrs = st.integers(0, 2**128 - 1).map(A)


@given(macs)
def test_eui64_matches_scapy(mac: bytes) -> None:
    text = ":".join(f"{b:02x}" for b in mac)
    expect = A("::" + scapy_utils6.in6_mactoifaceid(text)).packed[8:]
    assert addr.eui64_ifid(mac) == expect


def test_eui64_seed_example() -> None:
    ifid = addr.eui64_ifid(bytes.fromhex("0000f8016317"))
    ll = addr.make_addr(IPv6Network("fe80::/64"), ifid)
    assert ll == A("fe80::200:f8ff:fe01:6317")
    assert addr.solicited_node(ll) == A("ff02::1:ff01:6317")  # §1.4.1 text


@given(addrs)
def test_solicited_node_matches_scapy(a: A) -> None:
    expect = socket.inet_ntop(socket.AF_INET6, scapy_utils6.in6_getnsma(a.packed))
    assert addr.solicited_node(a) == A(expect)
    assert addr.is_solicited_node(addr.solicited_node(a))


@given(addrs)
def test_6to4_matches_scapy(a: A) -> None:
    assert addr.is_6to4(a) == bool(scapy_utils6.in6_isaddr6to4(str(a)))


@given(addrs)
def test_classification_matches_ipaddress(a: A) -> None:
    assert addr.is_multicast(a) == a.is_multicast
    assert addr.is_linklocal(a) == a.is_link_local
    assert addr.is_sitelocal(a) == a.is_site_local
    assert addr.is_v4mapped(a) == (a.ipv4_mapped is not None)
    assert addr.is_loopback(a) == a.is_loopback
    assert addr.is_unspecified(a) == a.is_unspecified


def test_invalid_ranges_exactly_as_seed() -> None:
    seed = """::ffff:0.0.0.0/104 ::ffff:127.0.0.0/104
::ffff:224.0.0.0/100 ::ffff:255.0.0.0/104
2002:0000::/24 2002:7f00::/24 2002:e000::/24
2002:ff00::/24 2002:0a00::/24 2002:ac10::/28
2002:c0a8::/32
::0.0.0.0/104 ::127.0.0.0/104 ::224.0.0.0/100 ::255.0.0.0/104"""  # §1.14 verbatim
    assert [n for n, _ in addr.INVALID_WIRE_RANGES] == [IPv6Network(t) for t in seed.split()]


@pytest.mark.parametrize("bad", [
    "::ffff:0.0.0.1", "::ffff:127.0.0.1", "::ffff:239.1.2.3", "::ffff:255.255.255.255",
    "2002::1", "2002:7f00:1::1", "2002:e000::1", "2002:ff00::", "2002:a01::1",
    "2002:ac1f::1", "2002:c0a8:101::1", "::0.0.0.2", "::127.0.0.1", "::224.0.0.1",
    "::255.1.1.1",
])
def test_invalid_on_wire(bad: str) -> None:
    assert addr.invalid_wire_reason(A(bad)) is not None
    assert addr.check_wire_addresses(A("2001:db8::1"), A(bad)) is not None
    assert addr.check_wire_addresses(A(bad), A("2001:db8::1")) is not None


@pytest.mark.parametrize("good", ["2002:c000:0201::1", "2002:ac20::1", "2001:db8::1",
                                  "::1", "::", "::8.8.8.8"])
def test_valid_on_wire(good: str) -> None:
    assert addr.invalid_wire_reason(A(good)) is None


def test_check_wire_addresses_rules() -> None:
    g = A("2001:db8::1")
    assert addr.check_wire_addresses(A("ff02::1"), g) == "multicast source"
    assert addr.check_wire_addresses(g, A("::")) == "unspecified destination"
    assert addr.check_wire_addresses(A("::1"), g) is not None
    assert addr.check_wire_addresses(A("::1"), A("::1"), from_loopback=True) is None
    mapped = A("::ffff:192.0.2.1")  # a fine IPv4 address, still impersonation
    assert addr.check_wire_addresses(mapped, g) is not None
    assert addr.check_wire_addresses(mapped, g, siit=True) is None
    assert addr.check_wire_addresses(A("::"), A("ff02::1:ff00:1")) is None


def test_unspecified_source_legality() -> None:
    assert addr.unspecified_source_allowed(58, 135)  # DAD NS
    assert addr.unspecified_source_allowed(58, 143)  # MLDv2 report
    assert addr.unspecified_source_allowed(58, 131)  # MLDv1 report
    assert addr.unspecified_source_allowed(58, 133)  # RS
    assert not addr.unspecified_source_allowed(58, 136)  # NA
    assert not addr.unspecified_source_allowed(58, 128)
    assert not addr.unspecified_source_allowed(6)  # TCP: an attack (§1.14)
    assert not addr.unspecified_source_allowed(17)


def test_hostname_ifid() -> None:
    d = bytearray(hashlib.md5(b"kame.example").digest()[:8])
    d[0] &= 0xFC  # g cleared, u set then flipped back by EUI64_TO_IFID
    assert addr.hostname_ifid("kame.example") == bytes(d)
    assert addr.hostname_ifid("a") != addr.hostname_ifid("b")


def test_tmp_ifid_rfc3041() -> None:
    history = bytes.fromhex("0011223344556677")
    ifid = addr.eui64_ifid(bytes.fromhex("000b93eb02d3"))
    tmp, nxt = addr.generate_tmp_ifid(history, ifid)
    digest = hashlib.md5(history + ifid).digest()  # history ‖ ID (RFC 3041 §3.2.1)
    assert tmp == bytes([digest[0] & ~0x02 & 0xFF]) + digest[1:8]
    assert nxt == digest[8:]
    # scapy's in6_getRandomizedIfaceId hashes ID ‖ history and clears 0x04:
    # not the RFC's order nor its bit, so it is not used as an oracle here.
    tmp2, _ = addr.generate_tmp_ifid(nxt, ifid)
    assert tmp2 != tmp


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_tmp_ifid_properties(history: bytes, ifid: bytes) -> None:
    tmp, nxt = addr.generate_tmp_ifid(history, ifid, random.Random(0))
    assert len(tmp) == 8 and len(nxt) == 8
    assert tmp[0] & 0x02 == 0 and tmp != ifid and tmp != bytes(8)


def test_tmp_ifid_no_history_uses_rng() -> None:
    ifid = bytes(range(8))
    a, _ = addr.generate_tmp_ifid(bytes(8), ifid, random.Random(1))
    b, _ = addr.generate_tmp_ifid(bytes(8), ifid, random.Random(1))
    c, _ = addr.generate_tmp_ifid(bytes(8), ifid, random.Random(2))
    assert a == b != c


def test_misc() -> None:
    assert addr.ether_multicast(A("ff02::1:ff01:6317")) == bytes.fromhex("3333ff016317")
    assert addr.subnet_router_anycast(IPv6Network("2001:db8:1::/64")) == A("2001:db8:1::")
    assert addr.in6_addr("2001:db8::1") == A("2001:db8::1")
    with pytest.raises(ValueError):
        addr.in6_addr("fe80::1%eth0")
    with pytest.raises(ValueError):
        addr.eui64_ifid(b"\x01\x02")
    assert addr.eui64_ifid(bytes(8)) == b"\x02" + bytes(7)
