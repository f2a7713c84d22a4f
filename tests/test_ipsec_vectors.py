"""ESP against the NIST/RFC vectors shipped in ``cryptography_vectors``.

Each vector's plaintext becomes the payload of an IPv6 packet with Next
Header 59, so in transport mode the ESP plaintext starts with it. With the
vector's key (and, for the counter modes, salt) in the SA and its IV injected
through ``EspSa.output(iv=...)``, the ciphertext in our ESP packet must begin
with the vector's ciphertext: CBC and the counter-based modes (CTR, GCM, CCM,
ChaCha20) preserve prefixes, and the ESP trailer only follows the payload.
Every output is then opened with kame's own input.

Nonce layouts: RFC 3686 (CTR: nonce 4 ‖ IV 8 ‖ counter 1), RFC 4106 and
RFC 7634 (salt 4 ‖ IV 8), RFC 4309 (CCM: salt 3 ‖ IV 8, so only 11-octet
nonces apply). A one-block ECB vector is a one-block CBC vector with a zero IV.

The GCM/CCM/ChaCha20-Poly1305 tags are not compared: ESP authenticates
SPI ‖ sequence number as AAD and encrypts the trailer with the payload, so no
vector in the package has an ESP tag. test_ipsec_kat.py checks the ICVs
against `cryptography`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from kame.ipsec import EspSa

cryptography_vectors = pytest.importorskip("cryptography_vectors")

SRC = bytes.fromhex("20010db8000000000000000000000001")
DST = bytes.fromhex("20010db8000000000000000000000002")
SPI = 0x5EC7
AUTH_KEY = bytes(range(0x40, 0x54))  # HMAC-SHA1-96 (RFC 2404) beside CBC and CTR
AEAD = {f"aes-{m}-{n}" for m in ("gcm", "ccm") for n in (8, 12, 16)}
AEAD |= {"chacha20-poly1305"}


def ip6_nonext(payload: bytes) -> bytes:
    """An IPv6 packet carrying `payload` after Next Header 59 (no next header)."""
    return struct.pack("!IHBB", 6 << 28, len(payload), 59, 64) + SRC + DST + payload


def records(path: str) -> Iterator[dict[str, str]]:
    """The records of a NIST .rsp / cryptography .txt vector file.

    ``[A = x, B = y]`` headers and fields met outside a record (CCM's per-section
    Key and Nonce) are inherited by the records that follow; a record starts at
    COUNT. Field names are upper-cased; values are the raw strings.
    """
    ctx: dict[str, str] = {}
    rec: dict[str, str] | None = None
    with cryptography_vectors.open_vector_file(path, "r") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                if rec is not None:
                    yield rec
                    rec = None
                body = line.strip("[]")
                if "=" not in body:
                    ctx["OP"] = body.upper()
                    continue
                for part in body.split(","):
                    k, _, v = part.partition("=")
                    ctx[k.strip().upper()] = v.strip()
                continue
            k, _, v = line.partition("=")
            k, v = k.strip().upper(), v.strip()
            if k == "COUNT":
                if rec is not None:
                    yield rec
                rec = dict(ctx)
            if rec is None:
                ctx[k] = v
            else:
                rec[k] = v
    if rec is not None:
        yield rec


def val(s: str) -> bytes:
    """A hex field, or a quoted ASCII string (BoringSSL's ChaCha20-Poly1305 file)."""
    if s.startswith('"'):
        return s[1:-1].encode()
    return bytes.fromhex(s)


def esp_check(enc: str, key: bytes, iv: bytes, pt: bytes, ct: bytes) -> None:
    """Our ESP output of `pt` under (`key`, `iv`) carries `ct` first; input opens it."""
    packet = ip6_nonext(pt)
    # CBC and CTR get an ICV too: it follows the ciphertext and leaves it alone
    auth = {} if enc in AEAD else {"auth": "hmac-sha1", "auth_key": AUTH_KEY}
    out = EspSa(SPI, enc, key, **auth).output(packet, iv=iv)
    assert out[:4] == packet[:4] and out[7:40] == packet[7:40]
    assert out[6] == 50  # ESP after the IPv6 header
    assert struct.unpack("!H", out[4:6])[0] == len(out) - 40
    assert struct.unpack("!II", out[40:48]) == (SPI, 1)
    assert out[48 : 48 + len(iv)] == iv
    body = out[48 + len(iv) :]
    assert body[: len(ct)].hex() == ct.hex()
    assert EspSa(SPI, enc, key, **auth).input(out) == packet


def run_file(cases: list[tuple[str, bytes, bytes, bytes, bytes]], expected: int) -> None:
    """Run every case; the count guards against a filter that selects nothing."""
    assert len(cases) == expected
    for enc, key, iv, pt, ct in cases:
        esp_check(enc, key, iv, pt, ct)
    # the same check with one key bit flipped must not hold: the comparison bites
    # (the top bit: DES ignores the low bit of each key octet, its parity bit)
    enc, key, iv, pt, ct = cases[0]
    bad = bytes([key[0] ^ 0x80]) + key[1:]
    with pytest.raises(AssertionError):
        esp_check(enc, bad, iv, pt, ct)


def pt_ct(r: dict[str, str]) -> tuple[bytes, bytes]:
    return bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])


# --- AES-CBC (RFC 3602): NIST AESAVS KAT and MMT files ---------------------
AES_CBC = {
    f"CBC{kind}{bits}.rsp": n
    for kind, n in (
        ("GFSbox", {128: 14, 192: 12, 256: 10}),
        ("KeySbox", {128: 42, 192: 48, 256: 32}),
        ("VarKey", {128: 256, 192: 384, 256: 512}),
        ("VarTxt", {128: 256, 192: 256, 256: 256}),
        ("MMT", {128: 20, 192: 20, 256: 20}),
    )
    for bits, n in n.items()
}


@pytest.mark.parametrize("name", sorted(AES_CBC))
def test_aes_cbc(name: str) -> None:
    cases = []
    for r in records(f"ciphers/AES/CBC/{name}"):
        pt, ct = pt_ct(r)
        cases.append(("aes-cbc", bytes.fromhex(r["KEY"]), bytes.fromhex(r["IV"]), pt, ct))
    run_file(cases, AES_CBC[name])


# --- 3DES-CBC (RFC 2451) and DES-CBC (RFC 2405): NIST TDES CBC files -------
TDES_MMT = {"TCBCMMT1.rsp": 20, "TCBCMMT2.rsp": 20, "TCBCMMT3.rsp": 20}
# the KAT files key all three DES keys alike (KEYs): 3DES that is single DES
TDES_KAT = {
    "TCBCinvperm.rsp": 128,
    "TCBCpermop.rsp": 64,
    "TCBCsubtab.rsp": 38,
    "TCBCvarkey.rsp": 112,
    "TCBCvartext.rsp": 128,
}


@pytest.mark.parametrize("name", sorted(TDES_MMT))
def test_3des_cbc_mmt(name: str) -> None:
    cases = []
    for r in records(f"ciphers/3DES/CBC/{name}"):
        key = bytes.fromhex(r["KEY1"] + r["KEY2"] + r["KEY3"])
        pt, ct = pt_ct(r)
        cases.append(("3des-cbc", key, bytes.fromhex(r["IV"]), pt, ct))
    run_file(cases, TDES_MMT[name])


@pytest.mark.parametrize("enc", ["3des-cbc", "des-cbc"])
@pytest.mark.parametrize("name", sorted(TDES_KAT))
def test_des_cbc_kat(name: str, enc: str) -> None:
    cases = []
    for r in records(f"ciphers/3DES/CBC/{name}"):
        k = bytes.fromhex(r["KEYS"])
        pt, ct = pt_ct(r)
        cases.append((enc, k * 3 if enc == "3des-cbc" else k, bytes.fromhex(r["IV"]), pt, ct))
    run_file(cases, TDES_KAT[name])


# --- Blowfish-CBC and CAST128-CBC (RFC 2451) -------------------------------
def cbc_or_ecb(path: str, enc: str, key_bits: tuple[int, int], block: int) -> list:
    """CBC records as they are; one-block ECB records as CBC with a zero IV.

    Keys outside RFC 2451's range for the cipher are left out.
    """
    cases = []
    for r in records(path):
        key = bytes.fromhex(r["KEY"])
        if not key_bits[0] <= len(key) * 8 <= key_bits[1]:
            continue
        pt, ct = pt_ct(r)
        if "IV" in r:
            iv = bytes.fromhex(r["IV"])
        else:
            assert len(pt) == block
            iv = bytes(block)
        cases.append((enc, key, iv, pt, ct))
    return cases


BF = (40, 448)  # RFC 2451 §2.2
CAST = (40, 128)


@pytest.mark.parametrize(
    ("path", "enc", "bits", "n"),
    [
        ("ciphers/Blowfish/bf-cbc.txt", "blowfish-cbc", BF, 1),
        # 34 fixed 64-bit keys, then the variable-key set from 40 to 192 bits
        ("ciphers/Blowfish/bf-ecb.txt", "blowfish-cbc", BF, 54),
        ("ciphers/CAST5/cast5-cbc.txt", "cast128-cbc", CAST, 20),
        ("ciphers/CAST5/cast5-ecb.txt", "cast128-cbc", CAST, 3),
    ],
)
def test_64bit_block_cbc(path: str, enc: str, bits: tuple[int, int], n: int) -> None:
    run_file(cbc_or_ecb(path, enc, bits, 8), n)


# --- AES-CTR (RFC 3686) -----------------------------------------------------
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_aes_ctr(bits: int) -> None:
    cases = []
    for r in records(f"ciphers/AES/CTR/aes-{bits}-ctr.txt"):
        block = bytes.fromhex(r["IV"])  # nonce 4 ‖ IV 8 ‖ block counter
        assert block[12:] == b"\x00\x00\x00\x01"
        pt, ct = pt_ct(r)
        cases.append(("aes-ctr", bytes.fromhex(r["KEY"]) + block[:4], block[4:12], pt, ct))
    run_file(cases, 3)


# --- AES-GCM (RFC 4106): NIST GCMVS, 96-bit IVs ------------------------------
GCM_ICV = {64: "aes-gcm-8", 96: "aes-gcm-12", 128: "aes-gcm-16"}
GCM = {
    # encrypt: 4 non-empty PT lengths x 5 AAD lengths x 7 tag lengths x 15 counts
    **{f"gcmEncryptExtIV{bits}.rsp": 2100 for bits in (128, 192, 256)},
    # decrypt: the same grid less the records marked FAIL (a forged tag: no PT)
    "gcmDecrypt128.rsp": 987,
    "gcmDecrypt192.rsp": 1078,
    "gcmDecrypt256.rsp": 1044,
}


@pytest.mark.parametrize("name", sorted(GCM))
def test_aes_gcm(name: str) -> None:
    cases = []
    for r in records(f"ciphers/AES/GCM/{name}"):
        if "FAIL" in r:
            continue
        nonce = bytes.fromhex(r["IV"])
        pt = bytes.fromhex(r["PT"])
        if len(nonce) != 12 or not pt:
            continue
        enc = GCM_ICV.get(int(r["TAGLEN"]), "aes-gcm-16")  # the ICV length leaves CT alone
        key = bytes.fromhex(r["KEY"]) + nonce[:4]
        cases.append((enc, key, nonce[4:], pt, bytes.fromhex(r["CT"])))
    run_file(cases, GCM[name])


# --- AES-CCM (RFC 4309): NIST CCMVS variable-nonce file, 11-octet nonces ---
@pytest.mark.parametrize("bits", [128, 192, 256])
def test_aes_ccm(bits: int) -> None:
    cases = []
    for r in records(f"ciphers/AES/CCM/VNT{bits}.rsp"):
        nonce = bytes.fromhex(r["NONCE"])
        if len(nonce) != 11:
            continue
        assert r["TLEN"] == "16"
        pt = bytes.fromhex(r["PAYLOAD"])
        ct = bytes.fromhex(r["CT"])[: len(pt)]  # CT is ciphertext ‖ tag
        key = bytes.fromhex(r["KEY"]) + nonce[:3]
        cases.append(("aes-ccm-16", key, nonce[3:], pt, ct))
    run_file(cases, 10)


# --- ChaCha20-Poly1305 (RFC 7634 over RFC 7539) ----------------------------
# boringssl.txt: 66 records, one with an empty plaintext; openssl.txt: 5, one a bad tag
@pytest.mark.parametrize(("name", "n"), [("boringssl.txt", 65), ("openssl.txt", 4)])
def test_chacha20_poly1305(name: str, n: int) -> None:
    cases = []
    for r in records(f"ciphers/ChaCha20Poly1305/{name}"):
        if "RESULT" in r:  # a deliberately bad tag: a decrypt-side case
            continue
        key = val(r["KEY"])
        nonce = val(r.get("NONCE") or r["IV"])
        pt = val(r.get("IN") or r["PLAINTEXT"])
        ct = val(r.get("CT") or r["CIPHERTEXT"])
        if len(nonce) != 12 or not pt:
            continue
        cases.append(("chacha20-poly1305", key + nonce[:4], nonce[4:], pt, ct))
    run_file(cases, n)
