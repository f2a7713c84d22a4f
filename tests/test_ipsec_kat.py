"""Known answers for ESP/AH: RFC 3602 §4 ESP packet vectors, and every
algorithm checked against an independent implementation (`cryptography`,
i.e. OpenSSL; hashlib for KAME's keyed hashes).

The reference ESP opener here is written from RFC 4303/4106/4309/4543/7634
and RFC 3686 directly, and shares no code with kame.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import struct

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import CAST5, Blowfish, TripleDES
from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, ChaCha20Poly1305

import kame
from kame.ipsec import AhSa, EspSa

# --- RFC 3602 §4, cases 5-8 (ESP transport ICMP and tunnel IPv4 packets) ---
CASE56_KEY = bytes.fromhex("90d382b410eeba7ad938c46cec1a82bf")
CASE78_KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
RFC3602 = [
    # (spi, seq, key, iv, next header, plaintext payload, ESP bytes)
    (
        0x4321, 1, CASE56_KEY, "e96e8c08ab465763fd098d45dd3ff893", 1,
        ("08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f3031323334353637"),
        ("0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849"
        "a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c"
        "538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6"),
    ),
    (
        0x4321, 8, CASE56_KEY, "69d08df7d203329db093fc4924e5bd80", 1,
        "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777",
        ("000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109"
        "689bb379d2d750c0d915dca346a89f75"),
    ),
    (
        0x8765, 2, CASE78_KEY, "f4e765244f6407adf13dc1380f673f37", 4,
        ("45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b"
        "0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233"
        "34353637"),
        ("0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c"
        "237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b"
        "8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"),
    ),
    (
        0x8765, 5, CASE78_KEY, "85d47224b5f3dd5d2101d4ea8dffab22", 4,
        ("45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffff"
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        ("000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048f"
        "e45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de"
        "435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb13892"),
    ),
]


def ipv4(proto: int, payload: bytes, src=b"\xc0\xa8\x7b\x64", dst=b"\xc0\xa8\x7b\x03") -> bytes:
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, dst))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr[10:12] = struct.pack("!H", ~s & 0xFFFF)
    return bytes(hdr) + payload


def ipv6_udp(payload: bytes, src: bytes = bytes(15) + b"\x01", dst: bytes = bytes(15) + b"\x02") -> bytes:
    udp = struct.pack("!HHHH", 1234, 53, 8 + len(payload), 0) + payload
    return struct.pack("!IHBB", 0x60000000, len(udp), 17, 64) + src + dst + udp


@pytest.mark.parametrize("case", RFC3602, ids=["case5", "case6", "case7", "case8"])
def test_rfc3602_esp_packets(case):
    spi, seq, key, iv, nh, payload_hex, esp_hex = case
    payload = bytes.fromhex(payload_hex)
    esp = bytes.fromhex(esp_hex)
    if nh == 4:
        sa = EspSa(spi, "rijndael-cbc", key, mode="tunnel", tunnel_src="192.168.123.3",
                   tunnel_dst="192.168.123.100")
        inner = payload
    else:
        sa = EspSa(spi, "aes-cbc", key)
        inner = ipv4(nh, payload)
    sa.seq = seq - 1
    out = sa.output(inner, iv=bytes.fromhex(iv))
    assert out[20:] == esp
    rx = EspSa(spi, "aes-cbc", key, mode=sa.mode, tunnel_src="192.168.123.3",
               tunnel_dst="192.168.123.100") if nh == 4 else EspSa(spi, "aes-cbc", key)
    assert rx.input(out) == inner


# --- an independent ESP opener on `cryptography` ---------------------------

def _hmac(hname):
    def f(key, data):
        h = c_hmac.HMAC(key, getattr(hashes, hname)())
        h.update(data)
        return h.finalize()
    return f


def _cmac(key, data):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _keyed(hfunc):
    # KAME ah_core.c: H(key ‖ 0x80 ‖ 0.. ‖ bitlen (LE, 8 octets) ‖ data ‖ key)
    def f(key, data):
        padlen = (64 - 8 - len(key)) if len(key) < 56 else (128 - 8 - len(key))
        pad = b"\x80" + bytes(padlen - 1) + struct.pack("<Q", len(key) * 8)
        return hfunc(key + pad + data + key).digest()
    return f


AUTH = {
    # name: (key length, icv length, mac function)
    "hmac-md5": (16, 12, lambda k, d: std_hmac.new(k, d, "md5").digest()),
    "hmac-sha1": (20, 12, _hmac("SHA1")),
    "hmac-sha256": (32, 12, _hmac("SHA256")),
    "hmac-sha384": (48, 12, _hmac("SHA384")),
    "hmac-sha512": (64, 12, _hmac("SHA512")),
    "hmac-sha256-128": (32, 16, _hmac("SHA256")),
    "hmac-sha384-192": (48, 24, _hmac("SHA384")),
    "hmac-sha512-256": (64, 32, _hmac("SHA512")),
    "aes-cmac": (16, 12, _cmac),
    "keyed-md5": (16, 12, _keyed(hashlib.md5)),
    "keyed-sha1": (20, 12, _keyed(hashlib.sha1)),
}
try:
    hashlib.new("ripemd160")
    AUTH["hmac-ripemd160"] = (20, 12, lambda k, d: std_hmac.new(k, d, "ripemd160").digest())
except ValueError:  # OpenSSL 3 without the legacy provider
    pass


def _cbc(algo_factory, block):
    def dec(key, iv, ct):
        d = Cipher(algo_factory(key), modes.CBC(iv)).decryptor()
        return d.update(ct) + d.finalize()
    return dec, block


CBC = {
    # name: (key length, iv length, decrypt(key, iv, ct))
    "des-cbc": (8, 8, lambda k, iv, ct: _cbc(lambda x: TripleDES(x * 3), 8)[0](k, iv, ct)),
    "3des-cbc": (24, 8, _cbc(TripleDES, 8)[0]),
    "blowfish-cbc": (16, 8, _cbc(Blowfish, 8)[0]),
    "cast128-cbc": (16, 8, _cbc(CAST5, 8)[0]),
    "aes-cbc": (16, 16, _cbc(algorithms.AES, 16)[0]),
}


def ref_open_esp(esp: bytes, enc: str, ekey: bytes, auth: str | None, akey: bytes | None,
                 esn_hi: int | None = None) -> tuple[int, bytes]:
    """Open an ESP payload (SPI .. ICV) per the RFCs; return (next header, payload)."""
    spi_seq = esp[:8]
    hi = b"" if esn_hi is None else struct.pack("!I", esn_hi)
    if enc in CBC or enc == "aes-ctr" or enc == "null":
        icv_len = AUTH[auth][1] if auth else 0
        body = esp[: len(esp) - icv_len]
        if auth:
            mac = AUTH[auth][2](akey, body + hi)[:icv_len]
            assert mac == esp[len(esp) - icv_len:], "ICV mismatch"
        if enc == "null":
            pt = body[8:]
        elif enc == "aes-ctr":
            iv = body[8:16]
            d = Cipher(algorithms.AES(ekey[:-4]), modes.CTR(ekey[-4:] + iv + b"\x00\x00\x00\x01")).decryptor()
            pt = d.update(body[16:]) + d.finalize()
        else:
            _, ivl, dec = CBC[enc]
            pt = dec(ekey, body[8: 8 + ivl], body[8 + ivl:])
    else:
        iv = esp[8:16]
        aad = spi_seq if esn_hi is None else esp[:4] + hi + esp[4:8]
        if enc.startswith("aes-gcm"):
            tl = int(enc.rsplit("-", 1)[1])
            ct, tag = esp[16:-tl], esp[-tl:]
            d = Cipher(algorithms.AES(ekey[:-4]), modes.GCM(ekey[-4:] + iv, tag, min_tag_length=tl)).decryptor()
            d.authenticate_additional_data(aad)
            pt = d.update(ct) + d.finalize()
        elif enc.startswith("aes-ccm"):
            tl = int(enc.rsplit("-", 1)[1])
            pt = AESCCM(ekey[:-3], tag_length=tl).decrypt(ekey[-3:] + iv, esp[16:], aad)
        elif enc == "aes-gmac":
            tag = esp[-16:]
            gaad = esp[:4] + hi + esp[4:-16] if esn_hi is not None else esp[:-16]
            d = Cipher(algorithms.AES(ekey[:-4]), modes.GCM(ekey[-4:] + iv, tag)).decryptor()
            d.authenticate_additional_data(gaad)
            d.finalize()
            pt = esp[16:-16]
        elif enc == "chacha20-poly1305":
            pt = ChaCha20Poly1305(ekey[:32]).decrypt(ekey[32:] + iv, esp[16:], aad)
        else:
            raise AssertionError(enc)
    padlen, nh = pt[-2], pt[-1]
    pad = pt[len(pt) - 2 - padlen: -2]
    assert pad == bytes(range(1, padlen + 1)), "padding"
    return nh, pt[: len(pt) - 2 - padlen]


ENC_KEYLEN = {
    "null": 0, "des-cbc": 8, "3des-cbc": 24, "blowfish-cbc": 16, "cast128-cbc": 16, "aes-cbc": 16,
    "aes-ctr": 20, "aes-gcm-16": 20, "aes-gcm-12": 28, "aes-gcm-8": 36, "aes-ccm-16": 19,
    "aes-ccm-12": 27, "aes-ccm-8": 35, "aes-gmac": 36, "chacha20-poly1305": 36,
}
AEAD = {k for k in ENC_KEYLEN if k.startswith(("aes-gcm", "aes-ccm", "aes-gmac", "chacha"))}


@pytest.mark.parametrize("enc", sorted(ENC_KEYLEN))
@pytest.mark.parametrize("esn", [False, True])
def test_every_cipher_against_cryptography(enc, esn):
    auths = [None] if enc in AEAD else sorted(AUTH)
    for auth in auths:
        ek = bytes((i * 7 + 3) & 0xFF for i in range(ENC_KEYLEN[enc]))
        ak = bytes((i * 5 + 1) & 0xFF for i in range(AUTH[auth][0])) if auth else None
        sa = EspSa(0xABCD, enc, ek, auth, ak, esn=esn)
        sa.seq = 0x1_0000_0005 if esn else 5
        for n in (0, 1, 37, 300):
            pkt = ipv6_udp(bytes(range(n % 256)) * (n // 256 + 1))
            out = sa.output(pkt)
            assert out[6] == 50
            nh, payload = ref_open_esp(out[40:], enc, ek, auth, ak, esn_hi=1 if esn else None)
            assert nh == 17
            assert payload == pkt[40:]


def test_keyed_md5_is_rfc1828_framing():
    # RFC 1828 §2 worked by hand with hashlib, through old AH
    key = bytes(range(16))
    sa = AhSa(0x100, "keyed-md5", key, old=True)
    pkt = ipv6_udp(b"hello")
    out = sa.output(pkt)
    ah = out[40:64]
    assert ah[1] == 4  # RFC 1826: Length counts the 16-octet ICV in 32-bit words
    zeroed = bytearray(out)
    zeroed[1:4] = b"\x00\x00\x00"
    zeroed[0] = 0x60
    zeroed[7] = 0
    zeroed[48:64] = bytes(16)
    assert ah[8:24] == _keyed(hashlib.md5)(key, bytes(zeroed))


def test_config_errors():
    with pytest.raises(kame.ConfigError):
        EspSa(1, "aes-cbc", b"short")
    with pytest.raises(kame.ConfigError):
        EspSa(1, "rot13", b"")
    with pytest.raises(kame.ConfigError):
        EspSa(1, "aes-gcm-16", bytes(20), "hmac-sha1", bytes(20))
    with pytest.raises(kame.ConfigError):
        AhSa(1, "hmac-sha1", bytes(16))
    with pytest.raises(kame.ConfigError):
        AhSa(1, "hmac-sha256", bytes(32), old=True)
    with pytest.raises(kame.ConfigError):
        EspSa(1, "aes-cbc", bytes(16), mode="tunnel")
    with pytest.raises(kame.ConfigError):
        EspSa(1, "aes-cbc", bytes(16), replay_window=5000)
    with pytest.raises(ValueError):  # ConfigError is a ValueError
        EspSa(1, "des-cbc", bytes(16), old=True, auth="hmac-md5", auth_key=bytes(16))


@pytest.mark.parametrize(("enc", "kl"), [
    ("aes-cbc", 24), ("aes-cbc", 32), ("aes-ctr", 28), ("aes-ctr", 36),
    ("aes-gcm-16", 28), ("aes-gcm-16", 36), ("aes-gcm-12", 20), ("aes-gcm-8", 20),
    ("aes-ccm-16", 27), ("aes-ccm-8", 19), ("aes-gmac", 20), ("aes-gmac", 28),
    ("blowfish-cbc", 5), ("blowfish-cbc", 56), ("cast128-cbc", 5), ("cast128-cbc", 10),
])
def test_key_sizes_against_cryptography(enc, kl):
    ek = bytes((i * 13 + 5) & 0xFF for i in range(kl))
    auth = None if enc.startswith(("aes-gcm", "aes-ccm", "aes-gmac")) else "hmac-sha1"
    ak = bytes(20) if auth else None
    sa = EspSa(0x77, enc, ek, auth, ak)
    pkt = ipv6_udp(b"key sizes " * 9)
    if enc in ("blowfish-cbc", "cast128-cbc"):
        factory = Blowfish if enc == "blowfish-cbc" else CAST5
        out = sa.output(pkt)[40:]
        body = out[:-12]
        assert AUTH["hmac-sha1"][2](ak, body)[:12] == out[-12:]
        d = Cipher(factory(ek), modes.CBC(body[8:16])).decryptor()
        pt = d.update(body[16:]) + d.finalize()
        assert pt[: len(pkt) - 40] == pkt[40:] and pt[-1] == 17
        return
    nh, payload = ref_open_esp(sa.output(pkt)[40:], enc, ek, auth, ak)
    assert (nh, payload) == (17, pkt[40:])
