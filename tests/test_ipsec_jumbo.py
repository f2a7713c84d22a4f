"""Jumbograms (RFC 2675, seed §1.7) through ESP, AH and IPComp, and the
seed §4.6 ECN table through ESP/AH tunnels, from Python.

The jumbograms are built here with struct (Payload Length 0, a Hop-by-Hop
header holding the Jumbo Payload option, UDP length 0 per RFC 2675 §4);
Python's zlib (raw deflate, wbits -15) is the independent inflater."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kame
from kame import IpcompSa
from kame.ipsec import AhSa, EspSa

SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")
T6 = {"mode": "tunnel", "tunnel_src": "2001:db8:ffff::a", "tunnel_dst": "2001:db8:ffff::b"}
T4 = {"mode": "tunnel", "tunnel_src": "192.0.2.1", "tunnel_dst": "192.0.2.2"}


def cksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF or 0xFFFF


def jumbogram(data: bytes, tc: int = 0) -> bytes:
    """UDP 1234 -> 9999 in a jumbogram; the UDP checksum over the RFC 8200
    §8.1 pseudo-header with the 32-bit upper-layer length (RFC 2675 §4)."""
    jl = 8 + 8 + len(data)
    hdr = struct.pack("!IHBB", (6 << 28) | (tc << 20), 0, 0, 64) + SRC6 + DST6
    hbh = struct.pack("!BBBBI", 17, 0, 0xC2, 4, jl)
    udp = struct.pack("!HHHH", 1234, 9999, 0, 0) + data
    c = cksum(SRC6 + DST6 + struct.pack("!II", len(udp), 17) + udp)
    return hdr + hbh + udp[:6] + struct.pack("!H", c) + udp[8:]


def jumbo_fields(p: bytes) -> tuple[int, int, int]:
    """(Payload Length, Jumbo option type, Jumbo Payload Length)."""
    plen = struct.unpack("!H", p[4:6])[0]
    return plen, p[42], struct.unpack("!I", p[44:48])[0]


ESP_ALGS = [
    ("null", 0, "hmac-sha1", 20),
    ("aes-cbc", 16, "hmac-sha256-128", 32),
    ("aes-ctr", 20, "hmac-md5", 16),
    ("3des-cbc", 24, "aes-xcbc-mac", 16),
    ("aes-gcm-16", 20, None, 0),
    ("chacha20-poly1305", 36, None, 0),
]
sizes = st.integers(min_value=65536 - 16, max_value=140_000)


@settings(max_examples=12)
@given(alg=st.sampled_from(ESP_ALGS), n=sizes, seed=st.integers(0, 255), tunnel=st.booleans())
def test_esp_jumbogram_round_trip_and_tamper(alg, n, seed, tunnel):
    enc, kl, auth, al = alg
    ek, ak = bytes([seed]) * kl, (bytes([seed ^ 0x55]) * al if auth else None)
    kw = T6 if tunnel else {}
    tx, rx = EspSa(0x100, enc, ek, auth, ak, **kw), EspSa(0x100, enc, ek, auth, ak, **kw)
    p = jumbogram(bytes((i * seed) & 0xFF for i in range(n)))
    c = tx.output(p)
    plen, opt, jl = jumbo_fields(c)
    assert (plen, opt, jl) == (0, 0xC2, len(c) - 40)
    assert rx.input(c) == p
    bad = bytearray(tx.output(p))
    bad[len(bad) // 2] ^= 0x04
    with pytest.raises(kame.IntegrityError):
        rx.input(bytes(bad))


@settings(max_examples=8)
@given(n=sizes, auth=st.sampled_from([("hmac-sha1", 20), ("hmac-sha512-256", 64), ("aes-cmac", 16)]))
def test_ah_jumbogram_round_trip_and_tamper(n, auth):
    tx, rx = AhSa(0x200, auth[0], b"\x07" * auth[1]), AhSa(0x200, auth[0], b"\x07" * auth[1])
    p = jumbogram(b"j" * n)
    a = tx.output(p)
    assert jumbo_fields(a) == (0, 0xC2, len(a) - 40) and a[40] == 51
    assert rx.input(a) == p
    for where in (len(a) - 1, 46):  # payload, Jumbo Payload Length (immutable)
        bad = bytearray(tx.output(p))
        bad[where] ^= 0x01
        with pytest.raises((kame.IntegrityError, kame.ParseError)):
            rx.input(bytes(bad))


def test_jumbo_limits_are_typed():
    inner = jumbogram(b"x" * 70000)
    with pytest.raises(kame.LimitError):
        EspSa(1, "aes-gcm-16", b"k" * 20, **T4).output(inner)  # no IPv4 jumbograms
    with pytest.raises(kame.LimitError):
        EspSa(1, "aes-gcm-16", b"k" * 20, udp_encap=True, **T6).output(inner)  # UDP length
    plain = struct.pack("!IHBB", 6 << 28, 65535, 17, 64) + SRC6 + DST6 + b"\0" * 65535
    with pytest.raises(kame.LimitError):
        EspSa(1, "aes-gcm-16", b"k" * 20).output(plain)  # grows past 65535, no option


@settings(max_examples=6)
@given(n=st.integers(70_000, 250_000), level=st.sampled_from([1, 6, 9]))
def test_ipcomp_jumbogram_with_zlib_as_peer(n, level):
    data = (b"kame jumbogram " * (n // 15 + 1))[:n]
    p = jumbogram(data)
    tx = IpcompSa(level=level)
    rx = IpcompSa(max_inflate=1 << 20)
    c = tx.output(p)
    # compressed below 65536: an ordinary datagram, the option left as PadN
    assert c[40:48] == bytes([108, 0, 1, 4, 0, 0, 0, 0])
    assert struct.unpack("!H", c[4:6])[0] == len(c) - 40
    assert zlib.decompress(c[52:], -15) == p[48:]  # the UDP header and data
    assert rx.input(c) == p
    # and the peer's deflate is inflated back into the jumbogram
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = comp.compress(p[48:]) + comp.flush()
    theirs = bytearray(c[:52]) + body
    theirs[4:6] = struct.pack("!H", len(theirs) - 40)
    assert rx.input(bytes(theirs)) == p
    # the default cap (65535) refuses it
    with pytest.raises(kame.LimitError):
        IpcompSa().input(c)


def test_ipcomp_tunnel_jumbo_inner():
    inner = jumbogram(bytes(range(256)) * 400)
    tx = IpcompSa(mode="tunnel", tunnel_src="2001:db8::a", tunnel_dst="2001:db8::b")
    rx = IpcompSa(mode="tunnel", tunnel_src="2001:db8::a", tunnel_dst="2001:db8::b", max_inflate=1 << 20)
    c = tx.output(inner)
    assert c[6] == 108 and len(c) < len(inner)
    assert rx.input(c) == inner


# --- seed §4.6 through the ESP and AH tunnel paths --------------------------

def seed_ingress(mode: int, tos: int) -> int:
    return {-1: tos, 0: tos & 0xFC, 1: tos & 0xFE, 2: tos}[mode]


def seed_egress(mode: int, outer: int, inner: int) -> int | None:
    if mode in (-1, 0):
        return inner
    if mode == 1:
        return inner | 1 if outer & 1 else inner
    o, i = outer & 3, inner & 3
    table = {  # RFC 6040 §4.2: rows inner Not-ECT, ECT(1), ECT(0), CE; columns outer
        0: [0, 0, 0, None], 1: [1, 1, 1, 3], 2: [2, 1, 2, 3], 3: [3, 3, 3, 3],
    }
    e = table[i][o]
    return None if e is None else (inner & 0xFC) | e


def ipv6_udp(tc: int) -> bytes:
    body = struct.pack("!HHHH", 1, 2, 12, 0) + b"ecn!"
    return struct.pack("!IHBB", (6 << 28) | (tc << 20), len(body), 17, 64) + SRC6 + DST6 + body


def set_outer_tc(p: bytes, tc: int) -> bytes:
    w = struct.unpack("!I", p[:4])[0] & ~(0xFF << 20) | (tc << 20)
    return struct.pack("!I", w) + p[4:]


@pytest.mark.parametrize("mode", [-1, 0, 1, 2])
@pytest.mark.parametrize("kind", ["esp", "ah"])
def test_seed_4_6_table_every_cell(mode, kind):
    def sa():
        if kind == "esp":
            return EspSa(0x300, "aes-gcm-16", b"g" * 20, ecn=mode, **T6)
        return AhSa(0x300, "hmac-sha1", b"h" * 20, ecn=mode, **T6)

    drops = 0
    for inner_tc in [d | e for d in (0, 0xB8) for e in range(4)]:
        inner = ipv6_udp(inner_tc)
        tx = sa()
        wire = tx.output(inner)
        outer_tc = (struct.unpack("!I", wire[:4])[0] >> 20) & 0xFF
        assert outer_tc == seed_ingress(mode, inner_tc)
        for outer_ecn in range(4):
            rx = sa()
            arriving = set_outer_tc(wire, (outer_tc & 0xFC) | outer_ecn)
            want = seed_egress(mode, (outer_tc & 0xFC) | outer_ecn, inner_tc)
            if want is None:
                with pytest.raises(kame.EcnDropError):
                    rx.input(arriving)
                assert rx.counters["ecn_drops"] == 1
                drops += 1
            else:
                assert rx.input(arriving) == set_outer_tc(inner, want)
    assert drops == (2 if mode == 2 else 0)  # CE over Not-ECT, two DSCPs


def test_ecn_setting_is_per_sa_and_settable():
    sa = EspSa(1, "aes-gcm-16", b"g" * 20, **T6)
    assert sa.ecn == 0
    sa.ecn = "allowed"
    assert sa.ecn == 1
    wire = sa.output(ipv6_udp(0x03))
    assert (struct.unpack("!I", wire[:4])[0] >> 20) & 3 == 2  # CE cleared, ECT kept
    with pytest.raises(kame.ConfigError):
        sa.ecn = 7
    assert EspSa(1, "null", auth="hmac-sha1", auth_key=b"a" * 20).ecn == 0  # transport
