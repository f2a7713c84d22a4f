"""Properties of the ESP/AH transforms (hypothesis): output -> input is the
identity, any tampered byte fails integrity, replays fail; plus the replay
window, ESN, old ESP/AH, ESP-in-UDP, esp_randpad, batches, counters, the SA
bundle order of seed §4.4 and the AH1/AH2/AH3 inside-out example of §4.3."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame.ipsec import (
    AUTH_ALGORITHMS,
    ENC_ALGORITHMS,
    AhSa,
    EspSa,
    SaBundle,
    ah_input_chain,
    ah_output_chain,
)

ENC_KEYLEN = {
    "null": 0, "des-cbc": 8, "des-deriv": 8, "3des-cbc": 24, "blowfish-cbc": 16, "cast128-cbc": 16,
    "rc5-cbc": 16, "aes-cbc": 32, "aes-ctr": 28, "aes-gcm-16": 20, "aes-gcm-12": 28, "aes-gcm-8": 36,
    "aes-ccm-16": 19, "aes-ccm-12": 27, "aes-ccm-8": 35, "aes-gmac": 20, "chacha20-poly1305": 36,
}
AEAD = {k for k in ENC_KEYLEN if k.startswith(("aes-gcm", "aes-ccm", "aes-gmac", "chacha"))}
AUTH_KEYLEN = {
    "null": 0, "keyed-md5": 16, "keyed-sha1": 20, "hmac-md5": 16, "hmac-sha1": 20, "hmac-sha256": 32,
    "hmac-sha384": 48, "hmac-sha512": 64, "hmac-sha256-128": 32, "hmac-sha384-192": 48,
    "hmac-sha512-256": 64, "hmac-ripemd160": 20, "aes-xcbc-mac": 16, "aes-cmac": 16,
}
assert set(ENC_KEYLEN) == set(ENC_ALGORITHMS)
assert set(AUTH_KEYLEN) == set(AUTH_ALGORITHMS)

SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def ipv6(nh: int, body: bytes, ext: bytes = b"", tc_fl: int = 0x6ABCDEF0) -> bytes:
    return struct.pack("!IHBB", tc_fl, len(ext) + len(body), nh, 64) + SRC6 + DST6 + ext + body


def udp(payload: bytes) -> bytes:
    return struct.pack("!HHHH", 1234, 53, 8 + len(payload), 0) + payload


def ipv4(proto: int, body: bytes) -> bytes:
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 7, 0x4000, 64, proto, 0,
                                bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr[10:12] = struct.pack("!H", ~s & 0xFFFF)
    return bytes(hdr) + body


packets = st.one_of(
    st.binary(max_size=1500).map(lambda b: ipv6(17, udp(b))),
    st.binary(max_size=600).map(lambda b: ipv6(0, udp(b), ext=bytes([17, 0, 0x3E, 2, 0xAA, 0xBB, 1, 0]))),
    st.binary(max_size=600).map(lambda b: ipv4(17, udp(b))),
)
modes = st.sampled_from(["transport", "tunnel6", "tunnel4"])


def mode_kw(mode: str) -> dict:
    if mode == "tunnel6":
        return {"mode": "tunnel", "tunnel_src": "2001:db8::a", "tunnel_dst": "2001:db8::b"}
    if mode == "tunnel4":
        return {"mode": "tunnel", "tunnel_src": "192.0.2.1", "tunnel_dst": "192.0.2.2"}
    return {}


@st.composite
def esp_pairs(draw):
    enc = draw(st.sampled_from(sorted(ENC_KEYLEN)))
    ek = draw(st.binary(min_size=ENC_KEYLEN[enc], max_size=ENC_KEYLEN[enc]))
    if enc in AEAD:
        auth, ak = None, None
    else:
        auth = draw(st.sampled_from(sorted(AUTH_KEYLEN)))
        ak = draw(st.binary(min_size=AUTH_KEYLEN[auth], max_size=AUTH_KEYLEN[auth]))
    kw = dict(mode_kw(draw(modes)), esn=draw(st.booleans()) and enc != "des-deriv")
    spi = draw(st.integers(1, 2**32 - 1))
    return EspSa(spi, enc, ek, auth, ak, **kw), EspSa(spi, enc, ek, auth, ak, **kw)


@given(esp_pairs(), st.lists(packets, min_size=1, max_size=4))
def test_esp_roundtrip_tamper_replay(pair, pkts):
    tx, rx = pair
    for p in pkts:
        wire = tx.output(p)
        assert rx.input(wire) == p
        authenticated = rx.icv_len > 0
        if authenticated:
            with pytest.raises(kame.ReplayError):
                rx.input(wire)
    if rx.icv_len > 0:
        wire = tx.output(pkts[0])
        # flip one bit in every octet of the ESP part (outer header excluded)
        start = len(wire) - (len(wire) - wire_esp_offset(wire))
        for i in range(start, len(wire), max(1, (len(wire) - start) // 24)):
            bad = bytearray(wire)
            bad[i] ^= 0x01
            with pytest.raises((kame.IntegrityError, kame.MalformedError, kame.ReplayError)) as ei:
                rx.input(bytes(bad))
            if i >= start + 8:
                assert isinstance(ei.value, kame.IntegrityError)
        assert rx.input(wire) == pkts[0]


def wire_esp_offset(wire: bytes) -> int:
    if wire[0] >> 4 == 4:
        return (wire[0] & 15) * 4
    off, nh = 40, wire[6]
    while nh != 50:
        nh, off = wire[off], off + (wire[off + 1] + 1) * 8
    return off


@st.composite
def ah_pairs(draw):
    auth = draw(st.sampled_from(sorted(set(AUTH_KEYLEN) - {"null"})))
    k = draw(st.binary(min_size=AUTH_KEYLEN[auth], max_size=AUTH_KEYLEN[auth]))
    kw = dict(mode_kw(draw(modes)), esn=draw(st.booleans()))
    return AhSa(0x2000, auth, k, **kw), AhSa(0x2000, auth, k, **kw)


@given(ah_pairs(), packets)
def test_ah_roundtrip_tamper_replay(pair, p):
    tx, rx = pair
    wire = tx.output(p)
    v6 = wire[0] >> 4 == 6
    assert len(wire) - len(p) - (40 if v6 and tx.mode == "tunnel" else 20 if tx.mode == "tunnel" else 0) \
        == ((12 + tx.icv_len + 7) // 8 * 8 if v6 else (12 + tx.icv_len + 3) // 4 * 4)
    # mutable fields may change en route
    routed = bytearray(wire)
    if v6:
        routed[7] = 1
        routed[1] ^= 0x0F
    else:
        routed[8] = 1
    assert rx.input(bytes(routed))[20 if not v6 else 40:] == p[20 if p[0] >> 4 == 4 else 40:] or tx.mode == "tunnel"
    with pytest.raises(kame.ReplayError):
        rx.input(wire)
    # an immutable byte (the last payload octet) changed: a fresh packet
    bad = bytearray(tx.output(p))
    bad[-1] ^= 0x80
    with pytest.raises(kame.IntegrityError):
        rx.input(bytes(bad))


def test_replay_window_sizes_and_counters():
    key = bytes(20)
    for w in (32, 64, 1024, 4096):
        tx = EspSa(1, "aes-gcm-16", key, replay_window=w)
        rx = EspSa(1, "aes-gcm-16", key, replay_window=w)
        wires = [tx.output(ipv6(17, udp(b"x"))) for _ in range(w + 2)]
        rx.input(wires[-1])
        rx.input(wires[2])  # inside the window (top - w + 1 .. top)
        with pytest.raises(kame.ReplayError):
            rx.input(wires[0])  # left of the window
        with pytest.raises(kame.ReplayError):
            rx.input(wires[2])
        c = rx.counters
        assert c["in_packets"] == 2 and c["replay_drops"] == 2
    # window 0 disables the check
    tx = EspSa(1, "aes-gcm-16", key, replay_window=0)
    rx = EspSa(1, "aes-gcm-16", key, replay_window=0)
    w = tx.output(ipv6(17, udp(b"x")))
    rx.input(w)
    rx.input(w)


def test_icv_failure_counted_and_not_advancing_window():
    tx = EspSa(1, "aes-cbc", bytes(16), "hmac-sha1", bytes(20))
    rx = EspSa(1, "aes-cbc", bytes(16), "hmac-sha1", bytes(20))
    w = bytearray(tx.output(ipv6(17, udp(b"payload"))))
    w[-1] ^= 1
    with pytest.raises(kame.IntegrityError):
        rx.input(bytes(w))
    assert rx.counters["icv_failures"] == 1
    assert rx.replay_top == 0


def test_padding_error():
    tx = EspSa(1, "aes-cbc", bytes(16), "hmac-sha1", bytes(20))
    rx = EspSa(1, "aes-cbc", bytes(16), "hmac-sha1", bytes(20))
    p = ipv6(17, udp(b"0123456789"))  # 18 + 2 + 12 = 32
    w = tx.output(p, pad=bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]))
    with pytest.raises(kame.PaddingError):
        rx.input(w)
    assert rx.counters["padding_errors"] == 1


def test_esn_across_the_wrap():
    tx = EspSa(9, "aes-gcm-16", bytes(20), esn=True)
    rx = EspSa(9, "aes-gcm-16", bytes(20), esn=True)
    tx.seq = 2**32 - 3
    p = ipv6(17, udp(b"esn"))
    for _ in range(6):
        assert rx.input(tx.output(p)) == p
    assert rx.replay_top == 2**32 + 3
    # without ESN the counter refuses to cycle (RFC 4303 §3.3.3)
    tx = EspSa(9, "aes-gcm-16", bytes(20))
    tx.seq = 2**32 - 1
    with pytest.raises(kame.LimitError):
        tx.output(p)


def test_old_esp_and_des_deriv():
    p = ipv6(17, udp(b"old esp" * 5))
    for enc in ("des-cbc", "null", "3des-cbc", "aes-cbc"):
        k = bytes(range(ENC_KEYLEN[enc] if enc != "aes-cbc" else 16))
        tx, rx = EspSa(5, enc, k, old=True), EspSa(5, enc, k, old=True)
        w = tx.output(p)
        ivlen = {"null": 0, "aes-cbc": 16}.get(enc, 8)
        assert w[40:44] == struct.pack("!I", 5) and len(w) >= 40 + 4 + ivlen  # SPI then IV: no sequence number
        assert rx.input(w) == p
        assert rx.input(w) == p  # no replay protection in RFC 1827
    tx, rx = EspSa(6, "des-deriv", bytes(8)), EspSa(6, "des-deriv", bytes(8))
    w = tx.output(p)
    assert w[44:48] == struct.pack("!I", 1) and (len(w) - 48) % 8 == 0  # no IV: the sequence number is the IV
    assert rx.input(w) == p


def test_old_ah_all_algorithms():
    p = ipv6(17, udp(b"old ah"))
    for auth, kl in (("keyed-md5", 16), ("keyed-sha1", 20), ("hmac-md5", 16), ("hmac-sha1", 20),
                     ("hmac-ripemd160", 20)):
        tx, rx = AhSa(7, auth, bytes(kl), old=True), AhSa(7, auth, bytes(kl), old=True)
        w = tx.output(p)
        assert w[41] == 4 and len(w) - len(p) == 24  # 8 + 128-bit ICV, no sequence number
        assert rx.input(w) == p


def test_udp_encap_and_randpad():
    p = ipv6(17, udp(b"nat-t"))
    tx = EspSa(3, "aes-cbc", bytes(16), "hmac-sha1", bytes(20), udp_encap=True,
               mode="tunnel", tunnel_src="198.51.100.1", tunnel_dst="198.51.100.2")
    rx = EspSa(3, "aes-cbc", bytes(16), "hmac-sha1", bytes(20), udp_encap=True,
               mode="tunnel", tunnel_src="198.51.100.1", tunnel_dst="198.51.100.2")
    w = tx.output(p)
    assert w[9] == 17 and w[20:24] == b"\x11\x94\x11\x94" and w[26:28] == b"\x00\x00"
    assert rx.input(w) == p
    tx = EspSa(3, "aes-cbc", bytes(16), randpad=256)
    sizes = {len(tx.output(p)) for _ in range(50)}
    assert len(sizes) > 3 and max(sizes) - 40 - 8 - 16 <= 256
    tx = EspSa(3, "aes-cbc", bytes(16), randpad=-1)
    assert {len(tx.output(p)) for _ in range(5)} == {40 + 8 + 16 + 16}


def test_batches_release_and_report_errors():
    tx = EspSa(1, "aes-gcm-16", bytes(20))
    rx = EspSa(1, "aes-gcm-16", bytes(20))
    pkts = [ipv6(17, udp(bytes([i]) * i)) for i in range(20)]
    wires = tx.output_many(pkts)
    got = rx.input_many([wires[0], bytearray(wires[1]), memoryview(wires[2]), wires[0], b"\x60"])
    assert got[:3] == pkts[:3]
    assert isinstance(got[3], kame.ReplayError) and isinstance(got[4], kame.ParseError)
    assert rx.input_many(wires[3:]) == pkts[3:]


def test_seed_4_3_inside_out():
    p = ipv6(17, udp(b"payload"))
    sa = AhSa(0x99, "hmac-sha1", bytes(range(20)))
    wire = ah_output_chain([sa, sa, sa], p)
    seqs = [struct.unpack("!I", wire[40 + 24 * i + 8: 40 + 24 * i + 12])[0] for i in range(3)]
    assert seqs == [3, 2, 1]  # AH1 largest, AH3 smallest
    rx = AhSa(0x99, "hmac-sha1", bytes(range(20)))
    assert ah_input_chain([rx, rx, rx], wire) == p


def test_bundle_order_ipcomp_esp_ah():
    calls = []

    class FakeIpcompSa:
        def output(self, p):
            calls.append("ipcomp")
            return p

        def input(self, p):
            calls.append("ipcomp-in")
            return p

    esp_tx, esp_rx = EspSa(1, "aes-gcm-16", bytes(20)), EspSa(1, "aes-gcm-16", bytes(20))
    ah_tx, ah_rx = AhSa(2, "hmac-sha1", bytes(20)), AhSa(2, "hmac-sha1", bytes(20))
    tx = SaBundle([ah_tx, esp_tx, FakeIpcompSa()])
    rx = SaBundle([ah_rx, FakeIpcompSa(), esp_rx])
    p = ipv6(17, udp(b"bundle"))
    w = tx.output(p)
    assert calls == ["ipcomp"] and w[6] == 51 and w[40] == 50  # IP AH ESP
    assert rx.input(w) == p and calls[-1] == "ipcomp-in"


@pytest.mark.parametrize("auth", ["hmac-sha1", "hmac-sha256-128", "aes-xcbc-mac", "keyed-md5"])
def test_ah_every_octet(auth):
    """Flip each octet of an AH-protected IPv6 packet: the mutable ones (traffic
    class, flow label, hop limit, data of an option with the 0x20 bit) still
    verify; every other one fails (RFC 4302 §3.3.3.1)."""
    kl = AUTH_KEYLEN[auth]
    hbh = bytes([60, 0, 0x3E, 2, 0xAA, 0xBB, 1, 0])  # mutable option 0x3e, PadN
    dst = bytes([17, 0, 0x1E, 2, 0xCC, 0xDD, 1, 0])  # immutable option 0x1e, PadN
    p = ipv6(0, udp(b"every octet"), ext=hbh + dst)
    wire = AhSa(5, auth, bytes(range(kl))).output(p)
    assert wire[48] == 51  # DstOpts is kept before AH (Linux placement)
    mutable = {1, 2, 3, 7, 44, 45}
    for i in range(len(wire)):
        bad = bytearray(wire)
        bad[i] ^= 0x01  # at octet 0 this is a traffic-class bit
        rx = AhSa(5, auth, bytes(range(kl)))
        if i in mutable or i == 0:
            rx.input(bytes(bad))
        else:
            with pytest.raises(kame.KameError):
                rx.input(bytes(bad))


@given(key=st.binary(min_size=5, max_size=255), body=st.binary(max_size=300))
def test_rc5_every_rfc2451_key_length(key, body):
    # RFC 2451 §2.2: RC5 keys of 40..2040 bits
    tx, rx = EspSa(0x77, "rc5-cbc", key, "hmac-sha1", b"k" * 20), EspSa(0x77, "rc5-cbc", key, "hmac-sha1", b"k" * 20)
    p = ipv6(17, udp(body))
    assert rx.input(tx.output(p)) == p


@pytest.mark.parametrize("n", [0, 4, 256, 300])
def test_rc5_key_lengths_refused(n):
    with pytest.raises(kame.ConfigError):
        EspSa(0x77, "rc5-cbc", b"\x01" * n)


# An independent RC5-32/16/b written from RFC 2040 §4-§5 (a test oracle only;
# the stack uses the `rc5` crate), for the first CBC block of our ESP.
_M32 = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    n &= 31
    return ((x << n) | (x >> (32 - n))) & _M32


def _rc5_encrypt_block(key: bytes, block: bytes, rounds: int = 16) -> bytes:
    c = max(1, (len(key) + 3) // 4)
    words = [0] * c
    for i in range(len(key) - 1, -1, -1):
        words[i // 4] = ((words[i // 4] << 8) + key[i]) & _M32
    t = 2 * (rounds + 1)
    s = [(0xB7E15163 + i * 0x9E3779B9) & _M32 for i in range(t)]
    a = b = i = j = 0
    for _ in range(3 * max(t, c)):
        a = s[i] = _rotl((s[i] + a + b) & _M32, 3)
        b = words[j] = _rotl((words[j] + a + b) & _M32, a + b)
        i, j = (i + 1) % t, (j + 1) % c
    x = (int.from_bytes(block[:4], "little") + s[0]) & _M32
    y = (int.from_bytes(block[4:], "little") + s[1]) & _M32
    for r in range(1, rounds + 1):
        x = (_rotl(x ^ y, y) + s[2 * r]) & _M32
        y = (_rotl(y ^ x, x) + s[2 * r + 1]) & _M32
    return x.to_bytes(4, "little") + y.to_bytes(4, "little")


@pytest.mark.parametrize("n", [5, 16, 17, 128, 252, 253, 254, 255])
def test_rc5_first_cbc_block_equals_an_independent_rc5(n):
    key = bytes((i * 29 + 3) & 0xFF for i in range(n))
    iv = bytes(range(8))
    p = ipv6(17, udp(b"rc5 payload"))
    wire = EspSa(0x77, "rc5-cbc", key).output(p, iv=iv)
    assert wire[48:56] == iv
    first = bytes(a ^ b for a, b in zip(iv, p[40:48]))
    assert wire[56:64] == _rc5_encrypt_block(key, first)
