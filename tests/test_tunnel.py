"""IP-in-IP tunnels (seed §1.5) and ECN across them (seed §4.6, RFC 6040).

The expected values are written out from the seed's table and RFC 6040
§4.2's table, not computed by kame; scapy builds the inner packets and
parses every outer header we produce (addresses, protocol, TOS, lengths,
IPv4 checksum)."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop

import kame
from kame import tunnel
from kame.errors import (
    ConfigError,
    EcnDropError,
    HeaderLimitError,
    MalformedError,
    ParseError,
    ScopeError,
)

NOT_ECT, ECT1, ECT0, CE = 0b00, 0b01, 0b10, 0b11
CODEPOINTS = [NOT_ECT, ECT1, ECT0, CE]
DSCPS = [0x00, 0x28, 0xB8, 0xE0]  # CS0, AF11, EF, CS7 (<< 2 already)
V6_OUT = ("2001:db8:ffff::1", "2001:db8:ffff::2")
V4_OUT = ("198.51.100.1", "198.51.100.2")


def inner_v6(tos: int, payload: bytes = b"kame" * 10) -> bytes:
    return bytes(IPv6(src="2001:db8::1", dst="2001:db8::2", tc=tos, hlim=17) / UDP() / payload)


def inner_v4(tos: int, payload: bytes = b"kame" * 10) -> bytes:
    return bytes(
        IP(src="192.0.2.1", dst="192.0.2.2", tos=tos, ttl=17, flags="DF") / UDP() / payload
    )


def outer_tos(pkt: bytes) -> int:
    return IPv6(pkt).tc if pkt[0] >> 4 == 6 else IP(pkt).tos


def inner_tos(pkt: bytes) -> int:
    return outer_tos(pkt)


def set_outer_tos(pkt: bytes, tos: int) -> bytes:
    """Re-mark the outer header as a router on the path would (scapy
    recomputes the IPv4 checksum)."""
    if pkt[0] >> 4 == 6:
        p = IPv6(pkt)
        p.tc = tos
        return bytes(p)
    p = IP(pkt)
    p.tos = tos
    del p.chksum
    return bytes(p)


def v4_cksum_ok(pkt: bytes) -> bool:
    p = IP(pkt)
    q = IP(pkt)
    del q.chksum
    return IP(bytes(q)).chksum == p.chksum


# ---------------------------------------------------------------------------
# seed §4.6, cell by cell. The masks are RFC 2481's as in KAME ip_ecn.c:
# ECT = 0x02, CE = 0x01.

SEED_ENCAP = {
    -1: lambda inner: inner,  # RFC2401: copy all TOS bits from inner to outer
    0: lambda inner: inner & 0xFC,  # ECN forbidden: copy except ECN, ECN bits 0
    1: lambda inner: inner & 0xFE,  # ECN allowed: copy except CE, CE bit 0
}
SEED_DECAP = {
    -1: lambda outer, inner: inner,  # drop outer TOS, inner as is
    0: lambda outer, inner: inner,  # drop outer TOS, inner as is
    1: lambda outer, inner: inner | 0x01 if outer & 0x01 else inner,  # CE on outer -> inner
}


@pytest.mark.parametrize("ecn", [-1, 0, 1])
def test_seed_table_bytes(ecn):
    for inner in range(256):
        assert tunnel.ecn_ingress(ecn, inner) == SEED_ENCAP[ecn](inner)
        for outer in range(256):
            assert tunnel.ecn_egress(ecn, outer, inner) == (SEED_DECAP[ecn](outer, inner), None)


@pytest.mark.parametrize("ecn", [-1, 0, 1])
@pytest.mark.parametrize("outer_addrs", [V6_OUT, V4_OUT])
@pytest.mark.parametrize("make_inner", [inner_v6, inner_v4])
def test_seed_table_on_packets(ecn, outer_addrs, make_inner):
    for dscp, icp, ocp in itertools.product(DSCPS, CODEPOINTS, CODEPOINTS):
        inner = make_inner(dscp | icp)
        enc = kame.encapsulate(inner, *outer_addrs, ecn=ecn)
        assert outer_tos(enc) == SEED_ENCAP[ecn](dscp | icp)
        # a router on the path sets the outer ECN field to ocp
        marked = set_outer_tos(enc, (outer_tos(enc) & 0xFC) | ocp)
        dec = kame.decapsulate(marked, ecn=ecn)
        want = SEED_DECAP[ecn]((outer_tos(enc) & 0xFC) | ocp, dscp | icp)
        assert inner_tos(dec) == want, (dscp, icp, ocp)
        if dec[0] >> 4 == 4:
            assert v4_cksum_ok(dec)
        # everything but the TOS byte is untouched
        if want == dscp | icp:
            assert dec == inner


def test_default_is_ecn_forbidden():
    inner = inner_v6(0xBB)
    assert outer_tos(kame.encapsulate(inner, *V6_OUT)) == 0xB8
    assert kame.IpcompSa().ecn == 0


def test_mode_names():
    for name, num in [("rfc2401", -1), ("forbidden", 0), ("allowed", 1), ("rfc6040", 2)]:
        for tos in (0x00, 0x03, 0xB9):
            assert tunnel.ecn_ingress(name, tos) == tunnel.ecn_ingress(num, tos)
    with pytest.raises(ConfigError):
        tunnel.ecn_ingress(3, 0)
    with pytest.raises(ConfigError):
        tunnel.ecn_ingress("sometimes", 0)


# ---------------------------------------------------------------------------
# RFC 6040 §4.2, written out: rows = arriving inner, columns = arriving outer
# (Not-ECT, ECT(0), ECT(1), CE). None = drop. Alarms: '(!!!)' dangerous,
# '(!)' possible.

RFC6040 = {
    NOT_ECT: [(NOT_ECT, None), (NOT_ECT, "dangerous"), (NOT_ECT, "dangerous"), None],
    ECT0: [(ECT0, None), (ECT0, None), (ECT1, None), (CE, None)],
    ECT1: [(ECT1, None), (ECT1, "possible"), (ECT1, None), (CE, None)],
    CE: [(CE, None), (CE, None), (CE, "dangerous"), (CE, None)],
}
COLUMNS = [NOT_ECT, ECT0, ECT1, CE]


@pytest.mark.parametrize("outer_addrs", [V6_OUT, V4_OUT])
@pytest.mark.parametrize("make_inner", [inner_v6, inner_v4])
def test_rfc6040_table_on_packets(outer_addrs, make_inner):
    for dscp in DSCPS:
        for icp, row in RFC6040.items():
            inner = make_inner(dscp | icp)
            enc = kame.encapsulate(inner, *outer_addrs, ecn="rfc6040")
            assert outer_tos(enc) == dscp | icp  # normal mode: copied as is
            for ocp, cell in zip(COLUMNS, row):
                marked = set_outer_tos(enc, dscp | ocp)
                if cell is not None:
                    assert tunnel.ecn_egress(2, dscp | ocp, dscp | icp) == (dscp | cell[0], cell[1])
                if cell is None:
                    with pytest.raises(EcnDropError):
                        kame.decapsulate(marked, ecn=2)
                    with pytest.raises(EcnDropError):
                        tunnel.ecn_egress(2, dscp | ocp, dscp | icp)
                    continue
                dec, layers, alarm = tunnel.decapsulate_ex(marked, ecn=2)
                assert layers == 1
                assert inner_tos(dec) == dscp | cell[0], (dscp, icp, ocp)
                assert alarm == cell[1]
                if dec[0] >> 4 == 4:
                    assert v4_cksum_ok(dec)


def test_rfc6040_keeps_inner_dscp():
    # the outer DSCP never leaks into the inner header
    out, alarm = tunnel.ecn_egress(2, 0xE0 | CE, 0x28 | ECT0)
    assert (out, alarm) == (0x28 | CE, None)


# ---------------------------------------------------------------------------
# every family pair, parsed by scapy


@pytest.mark.parametrize("outer_addrs", [V6_OUT, V4_OUT])
@pytest.mark.parametrize("make_inner", [inner_v6, inner_v4])
def test_every_family_pair(outer_addrs, make_inner):
    inner = make_inner(0x28)
    enc = kame.encapsulate(inner, *outer_addrs, hop_limit=33, flow_label=0x12345, ident=0x4242)
    proto = 4 if inner[0] >> 4 == 4 else 41
    if ":" in outer_addrs[0]:
        o = IPv6(enc)
        assert (o.src, o.dst, o.nh, o.hlim, o.plen, o.fl) == (
            *outer_addrs,
            proto,
            33,
            len(inner),
            0x12345,
        )
        assert bytes(o.payload) == inner
    else:
        o = IP(enc)
        assert (o.src, o.dst, o.proto, o.ttl, o.len, o.id) == (
            *outer_addrs,
            proto,
            33,
            len(inner) + 20,
            0x4242,
        )
        assert v4_cksum_ok(enc)
        # DF copied from an IPv4 inner, clear for an IPv6 inner (RFC 2003 §3.1)
        assert bool(o.flags.DF) == (proto == 4)
        assert bytes(o.payload) == inner
    # scapy dissects the inner layer too
    inner_layer = o.payload
    assert inner_layer.name in ("IPv6", "IP")
    assert kame.decapsulate(enc) == inner


def test_address_forms():
    inner = inner_v6(0)
    a = kame.encapsulate(inner, "2001:db8::a", "2001:db8::b")
    b = kame.encapsulate(
        inner, ipaddress.ip_address("2001:db8::a"), ipaddress.IPv6Address("2001:db8::b")
    )
    c = kame.encapsulate(
        inner, ipaddress.ip_address("2001:db8::a").packed, b"\x20\x01\x0d\xb8" + bytes(11) + b"\x0b"
    )
    assert a == b == c
    with pytest.raises(ScopeError):  # a header carries no zone: refused, not dropped
        kame.encapsulate(inner, "2001:db8::a%eth0", "2001:db8::b")
    with pytest.raises(ConfigError):
        kame.encapsulate(inner, "2001:db8::a", "192.0.2.1")
    with pytest.raises(ConfigError):
        kame.encapsulate(inner, "not an address", "192.0.2.1")
    with pytest.raises(ConfigError):
        kame.encapsulate(inner, "2001:db8::a", "2001:db8::b", flow_label=1 << 20)


@given(
    st.binary(max_size=1400),
    st.integers(0, 255),
    st.sampled_from([V6_OUT, V4_OUT]),
    st.booleans(),
    st.sampled_from([-1, 0, 1, 2]),
)
def test_round_trip(payload, tos, outer_addrs, v4, ecn):
    inner = inner_v4(tos, payload) if v4 else inner_v6(tos, payload)
    enc = kame.encapsulate(inner, *outer_addrs, ecn=ecn)
    # untouched outer: every mode gives the inner back unchanged
    assert kame.decapsulate(enc, ecn=ecn) == inner


def test_decapsulate_skips_ipv6_extension_headers():
    inner = inner_v4(0)
    outer = bytes(
        IPv6(src=V6_OUT[0], dst=V6_OUT[1]) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IP(inner)
    )
    assert kame.decapsulate(outer) == inner


def test_trailing_link_padding_is_ignored():
    enc = kame.encapsulate(inner_v4(0), *V4_OUT)
    assert kame.decapsulate(enc + b"\x00" * 6) == inner_v4(0)


def test_refusals():
    inner = inner_v6(0)
    enc = kame.encapsulate(inner, *V4_OUT)
    for n in range(len(enc)):
        with pytest.raises(ParseError):
            kame.decapsulate(enc[:n])
    with pytest.raises(MalformedError):
        kame.decapsulate(inner)  # not a tunnel
    bad = bytearray(enc)
    bad[8] ^= 1  # TTL changed, checksum not
    with pytest.raises(MalformedError):
        kame.decapsulate(bytes(bad))
    with pytest.raises(ParseError):
        kame.encapsulate(b"\x50" + bytes(39), *V6_OUT)  # version 5


# ---------------------------------------------------------------------------
# loops (seed §1.5): bounded nesting both ways


def test_nesting_is_bounded():
    pkt = inner_v6(0)
    layers = []
    for i in range(4):
        pkt = kame.encapsulate(pkt, *(V6_OUT if i % 2 else V4_OUT), nest_limit=4)
        layers.append(pkt)
    with pytest.raises(HeaderLimitError) as e:
        kame.encapsulate(pkt, *V6_OUT, nest_limit=4)
    assert e.value.limit == 4
    assert kame.decapsulate(pkt) == layers[2]
    got, n, _ = tunnel.decapsulate_ex(pkt, recursive=True)
    assert (got, n) == (inner_v6(0), 4)
    with pytest.raises(HeaderLimitError):
        kame.decapsulate(pkt, recursive=True, nest_limit=3)


def test_ecn_applied_at_every_layer():
    pkt = kame.encapsulate(kame.encapsulate(inner_v6(ECT0), *V4_OUT, ecn=1), *V6_OUT, ecn=1)
    pkt = set_outer_tos(pkt, CE)
    assert inner_tos(kame.decapsulate(pkt, ecn=1, recursive=True)) == CE
    assert inner_tos(kame.decapsulate(pkt, ecn=0, recursive=True)) == ECT0
