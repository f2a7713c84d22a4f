"""ESP and AH against independent peers.

- scapy's ``SecurityAssociation`` (scapy.layers.ipsec, on ``cryptography``)
  decrypts our ESP and verifies our AH, and we open what it produces, for
  every algorithm both sides share, transport and tunnel mode, IPv6 with
  extension headers (Hop-by-Hop with a mutable option, a type 0 routing
  header) and IPv4.
- tshark decrypts our ESP and checks its ICV (esp.icv_good; esp.icv_bad
  once a bit is flipped) for every cipher x integrity algorithm its ESP
  dissector knows; it parses our AH (it never checks AH ICVs).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import warnings

import pytest

warnings.filterwarnings("ignore")
scapy_ipsec = pytest.importorskip("scapy.layers.ipsec")
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PadN,
)
from scapy.layers.ipsec import AH, ESP, SecurityAssociation
from scapy.packet import Raw, raw

import kame
from kame.ipsec import AhSa, EspSa

pytestmark = pytest.mark.interop

SRC6, DST6 = "2001:db8::1", "2001:db8::2"
T6 = ("2001:db8:ffff::a", "2001:db8:ffff::b")
T4 = ("192.0.2.1", "192.0.2.2")

# kame name, scapy name, key length (with salt)
ENC = [
    ("null", "NULL", 0),
    ("aes-cbc", "AES-CBC", 16),
    ("aes-cbc", "AES-CBC", 32),
    ("aes-ctr", "AES-CTR", 20),
    ("aes-gcm-16", "AES-GCM", 20),
    ("aes-gcm-16", "AES-GCM", 36),
    ("aes-gmac", "AES-NULL-GMAC", 20),
    ("aes-ccm-16", "AES-CCM", 19),
    ("chacha20-poly1305", "CHACHA20-POLY1305", 36),
    ("des-cbc", "DES", 8),
    ("3des-cbc", "3DES", 24),
    ("cast128-cbc", "CAST", 16),
    ("blowfish-cbc", "Blowfish", 16),
]
AUTH = [
    ("hmac-sha1", "HMAC-SHA1-96", 20),
    ("hmac-md5", "HMAC-MD5-96", 16),
    ("hmac-sha256-128", "SHA2-256-128", 32),
    ("hmac-sha384-192", "SHA2-384-192", 48),
    ("hmac-sha512-256", "SHA2-512-256", 64),
    ("aes-cmac", "AES-CMAC-96", 16),
]
AEAD = {"aes-gcm-16", "aes-gmac", "aes-ccm-16", "chacha20-poly1305"}


def key(n: int, seed: int = 1) -> bytes:
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(n))


def pkt6(with_ext: bool = False, payload: bytes = b"kame interop " * 5):
    p = IPv6(src=SRC6, dst=DST6, tc=0x28, fl=0x12345, hlim=33)
    if with_ext:
        p = p / IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x3E, optdata=b"\xaa\xbb"), PadN(optdata=b"")])
        p = p / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00\x00\x00\x00")])
    return raw(p / UDP(sport=4321, dport=9999) / Raw(payload))


def pkt4(payload: bytes = b"kame interop v4 " * 3):
    return raw(IP(src="10.0.0.1", dst="10.0.0.2", tos=0x28, ttl=17, id=7) / UDP(sport=4321, dport=9999) / Raw(payload))


def cases():
    for enc, s_enc, kl in ENC:
        auths = [(None, "NULL", 0)] if enc in AEAD else [(None, "NULL", 0)] + AUTH
        for auth in auths:
            yield enc, s_enc, kl, auth


def sa_pair(enc, s_enc, kl, auth, mode):
    ek, ak = key(kl, 1), (key(auth[2], 2) if auth[0] else None)
    kw, tunnel = {}, None
    if mode == "tunnel6":
        kw = {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}
        tunnel = IPv6(src=T6[0], dst=T6[1], hlim=64)
    elif mode == "tunnel4":
        kw = {"mode": "tunnel", "tunnel_src": T4[0], "tunnel_dst": T4[1]}
        tunnel = IP(src=T4[0], dst=T4[1], ttl=64)
    ours = EspSa(0x1000, enc, ek, auth[0], ak, **kw)
    rx = EspSa(0x1000, enc, ek, auth[0], ak, **kw)
    theirs = SecurityAssociation(ESP, spi=0x1000, crypt_algo=s_enc, crypt_key=ek or None,
                                 auth_algo=auth[1], auth_key=ak, tunnel_header=tunnel)
    return ours, rx, theirs


@pytest.mark.parametrize("mode", ["transport", "tunnel6", "tunnel4"])
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: f"{c[0]}-{c[2]}-{c[3][0]}")
def test_esp_both_ways_with_scapy(case, mode):
    enc, s_enc, kl, auth = case
    ours, rx, theirs = sa_pair(enc, s_enc, kl, auth, mode)
    for p in (pkt6(), pkt6(with_ext=True), pkt4()):
        cls = IPv6 if p[0] >> 4 == 6 else IP
        # scapy opens ours
        wire = ours.output(p)
        outer = IPv6 if wire[0] >> 4 == 6 else IP
        back = theirs.decrypt(outer(wire))
        assert raw(back) == p
        # we open scapy's
        theirs_wire = raw(theirs.encrypt(cls(p)))
        assert rx.input(theirs_wire) == p


def test_esp_tamper_detected_by_scapy():
    ours, _, theirs = sa_pair("aes-cbc", "AES-CBC", 16, AUTH[0], "transport")
    wire = bytearray(ours.output(pkt6()))
    wire[-1] ^= 1
    with pytest.raises(scapy_ipsec.IPSecIntegrityError):
        theirs.decrypt(IPv6(bytes(wire)))


def test_esp_byte_identical_to_scapy_with_same_iv():
    # with the IV fixed, our transport-mode output equals scapy's octet for octet
    ek, ak = key(16), key(20, 2)
    ours = EspSa(0x1000, "aes-cbc", ek, "hmac-sha1", ak)
    theirs = SecurityAssociation(ESP, spi=0x1000, crypt_algo="AES-CBC", crypt_key=ek,
                                 auth_algo="HMAC-SHA1-96", auth_key=ak)
    iv = bytes(range(16))
    p = pkt6(with_ext=True)
    assert ours.output(p, iv=iv) == raw(theirs.encrypt(IPv6(p), iv=iv, seq_num=1))


AH_AUTH = AUTH


def routed_to_final(wire: bytes) -> bytes:
    """Process a type 0 routing header as every hop would (RFC 8200 §4.4)."""
    p = IPv6(wire)
    rh = p[IPv6ExtHdrRouting]
    while rh.segleft:
        i = len(rh.addresses) - rh.segleft
        rh.addresses[i], p.dst = p.dst, rh.addresses[i]
        rh.segleft -= 1
    p.hlim = 1
    return raw(p)


@pytest.mark.parametrize("mode", ["transport", "tunnel6", "tunnel4"])
@pytest.mark.parametrize("auth", AH_AUTH, ids=lambda a: a[0])
def test_ah_both_ways_with_scapy(auth, mode):
    name, s_name, kl = auth
    k = key(kl, 3)
    kw, tunnel = {}, None
    if mode == "tunnel6":
        kw = {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}
        tunnel = IPv6(src=T6[0], dst=T6[1], hlim=64)
    elif mode == "tunnel4":
        kw = {"mode": "tunnel", "tunnel_src": T4[0], "tunnel_dst": T4[1]}
        tunnel = IP(src=T4[0], dst=T4[1], ttl=64)
    ours, rx = AhSa(0x2000, name, k, **kw), AhSa(0x2000, name, k, **kw)
    theirs = SecurityAssociation(AH, spi=0x2000, auth_algo=s_name, auth_key=k, tunnel_header=tunnel)
    for p in (pkt6(), pkt6(with_ext=True), pkt4()):
        cls = IPv6 if p[0] >> 4 == 6 else IP
        wire = ours.output(p)
        outer = IPv6 if wire[0] >> 4 == 6 else IP
        back = theirs.decrypt(outer(wire))  # verifies the ICV
        assert raw(back)[8:] == p[8:] if mode == "transport" and cls is IPv6 else True
        assert rx.input(raw(theirs.encrypt(cls(p)))) == p
        # a changed immutable octet fails for both
        bad = bytearray(wire)
        bad[-1] ^= 1
        with pytest.raises(scapy_ipsec.IPSecIntegrityError):
            theirs.decrypt(outer(bytes(bad)))


def test_ah_mutable_option_and_routing_header_with_scapy():
    k = key(20, 4)
    base = IPv6(src=SRC6, dst=DST6, tc=0x28, fl=7, hlim=64)
    hbh = IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x3E, optdata=b"\xaa\xbb"), PadN(optdata=b"")])
    rh = IPv6ExtHdrRouting(type=0, addresses=["2001:db8::aa", "2001:db8::bb"], segleft=2)
    p = raw(base / hbh / rh / UDP(sport=1, dport=9999) / Raw(b"routed"))
    theirs = SecurityAssociation(AH, spi=0x2000, auth_algo="HMAC-SHA1-96", auth_key=k)
    # scapy signs the arrival form; we verify the packet as sent and after routing
    s_wire = raw(theirs.encrypt(IPv6(p)))
    assert AhSa(0x2000, "hmac-sha1", k).input(s_wire)[40:] == p[40:]
    routed = bytearray(routed_to_final(s_wire))
    routed[44] ^= 0xFF  # the mutable option's data changes en route
    AhSa(0x2000, "hmac-sha1", k).input(bytes(routed))
    # ours, after it has travelled both hops, verifies in scapy (which does
    # not itself re-order a received routing header)
    wire = AhSa(0x2000, "hmac-sha1", k).output(p)
    theirs.decrypt(IPv6(routed_to_final(wire)))
    with pytest.raises(kame.IntegrityError):
        bad = bytearray(routed_to_final(wire))
        bad[-1] ^= 1
        AhSa(0x2000, "hmac-sha1", k).input(bytes(bad))


# --- tshark ---------------------------------------------------------------

TSHARK = shutil.which("tshark")

# Every ESP algorithm tshark 4.0's dissector knows (packet-ipsec.c: the
# esp_sa UAT's encryption and authentication choices), with the key lengths
# it takes; tshark has no RC5, DES-deriv, CCM, GMAC, ChaCha20-Poly1305,
# AES-XCBC-MAC, AES-CMAC or keyed MD5/SHA1 (and AH ICVs it never checks).
TSHARK_ENC = {
    "null": ("NULL", [0]),
    "aes-cbc": ("AES-CBC [RFC3602]", [16, 24, 32]),
    "aes-ctr": ("AES-CTR [RFC3686]", [20, 28, 36]),
    "3des-cbc": ("TripleDES-CBC [RFC2451]", [24]),
    "des-cbc": ("DES-CBC [RFC2405]", [8]),
    "cast128-cbc": ("CAST5-CBC [RFC2144]", [16]),
    "blowfish-cbc": ("BLOWFISH-CBC [RFC2451]", [16]),
}
TSHARK_AEAD = {
    "aes-gcm-16": "AES-GCM with 16 octet ICV [RFC4106]",
    "aes-gcm-12": "AES-GCM with 12 octet ICV [RFC4106]",
    "aes-gcm-8": "AES-GCM with 8 octet ICV [RFC4106]",
}
TSHARK_AUTH = {
    "hmac-sha1": ("HMAC-SHA-1-96 [RFC2404]", 20),
    "hmac-md5": ("HMAC-MD5-96 [RFC2403]", 16),
    "hmac-sha256": ("HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]", 32),
    "hmac-sha256-128": ("HMAC-SHA-256-128 [RFC4868]", 32),
    "hmac-sha384-192": ("HMAC-SHA-384-192 [RFC4868]", 48),
    "hmac-sha512-256": ("HMAC-SHA-512-256 [RFC4868]", 64),
    "hmac-ripemd160": ("MAC-RIPEMD-160-96 [RFC2857]", 20),
}


def tshark_cases():
    """(enc, key length, auth or None): every cipher x every integrity
    algorithm tshark checks, every key length once, and every AEAD."""
    for enc, (_, lens) in TSHARK_ENC.items():
        for j, auth in enumerate(TSHARK_AUTH):
            yield enc, lens[j % len(lens)], auth
        for kl in lens[1:] if enc != "null" else []:
            yield enc, kl, None  # no ICV: decryption only
    for enc in TSHARK_AEAD:
        for kl in (20, 28, 36):
            yield enc, kl, None


TSHARK_CASES = list(tshark_cases())
TSHARK_MODES = (
    ("transport", {}),
    ("tunnel6", {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}),
    ("tunnel4", {"mode": "tunnel", "tunnel_src": T4[0], "tunnel_dst": T4[1]}),
)


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0x40000, 101))  # LINKTYPE_RAW
        f.writelines(struct.pack("<IIII", i, 0, len(p), len(p)) + p for i, p in enumerate(packets))


def tshark_esp(tmp_path, packets, uats, fields):
    pcap = tmp_path / "esp.pcap"
    write_pcap(pcap, packets)
    cmd = [TSHARK, "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
           "-o", "esp.enable_authentication_check:TRUE", *uats, "-T", "fields",
           "-E", "separator=|", "-E", "occurrence=l"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(packets)
    return [line.split("|") for line in out]


def esp_uat(proto, spi, enc, ek, auth, ak):
    tenc = TSHARK_AEAD[enc] if enc in TSHARK_AEAD else TSHARK_ENC[enc][0]
    tauth = TSHARK_AUTH[auth][0] if auth else "NULL"
    return ["-o", 'uat:esp_sa:"{}","*","*","0x{:08x}","{}","0x{}","{}","{}"'.format(
        proto, spi, tenc, ek.hex(), tauth, ("0x" + ak.hex()) if ak else "")]


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_checks_our_esp_icv(tmp_path):
    """tshark decrypts our ESP and reports esp.icv_good for every cipher and
    integrity algorithm it knows, in transport and tunnel mode; a flipped
    bit in the ciphertext or in the ICV gives esp.icv_bad. (In tshark's JSON
    the verdict sits under esp.icv_tree, not beside esp.icv.)"""
    packets, uats, expect = [], [], []
    body = b"kame interop " * 5
    for i, (enc, kl, auth) in enumerate(TSHARK_CASES):
        mode, kw = TSHARK_MODES[i % 3]
        spi = 0x3000 + i
        ek = key(kl, 5 + i)
        ak = key(TSHARK_AUTH[auth][1], 9 + i) if auth else b""
        sa = EspSa(spi, enc, ek, auth, ak or None, **kw)
        inner = pkt4(body) if i % 2 else pkt6(with_ext=(i % 4 == 0), payload=body)
        checked = auth is not None or enc in TSHARK_AEAD
        good = sa.output(inner)
        uats += esp_uat("IPv4" if good[0] >> 4 == 4 else "IPv6", spi, enc, ek, auth, ak)
        packets.append(good)
        expect.append((spi, enc, auth, mode, "good" if checked else None))
        if not checked:
            continue
        icv_len = sa.icv_len
        # ciphertext well before the trailer (a CBC flip there would garble
        # the pad length, and tshark then gives no verdict), and the ICV
        for where in (len(good) - icv_len - 40, len(good) - 1):
            bad = bytearray(sa.output(inner))
            bad[where] ^= 0x10
            packets.append(bytes(bad))
            expect.append((spi, enc, auth, mode, "bad"))
    rows = tshark_esp(tmp_path, packets, uats,
                      ["esp.spi", "esp.icv_good", "esp.icv_bad", "udp.dstport", "data.data", "_ws.malformed"])
    verdicts = {"good": 0, "bad": 0}
    for (spi, enc, auth, mode, verdict), (t_spi, good, bad, dport, data, malformed) in zip(expect, rows):
        what = (enc, auth, mode, verdict)
        assert int(t_spi, 16) == spi, what
        if verdict is None:
            assert good == bad == "", what  # no ICV, no verdict
        else:
            assert (good, bad) == (("1", "0") if verdict == "good" else ("0", "1")), what
            verdicts[verdict] += 1
        if verdict != "bad":
            assert dport == "9999" and data.replace(":", "") == body.hex() and not malformed, what
    n_checked = sum(1 for _, _, a in TSHARK_CASES if a) + 3 * len(TSHARK_AEAD)
    assert verdicts == {"good": n_checked, "bad": 2 * n_checked}


# --- ESN and ESP-in-UDP with scapy ----------------------------------------

@pytest.mark.parametrize(("enc", "s_enc", "kl", "auth"), [
    ("aes-gcm-16", "AES-GCM", 20, (None, "NULL", 0)),
    ("aes-cbc", "AES-CBC", 16, AUTH[0]),
    ("chacha20-poly1305", "CHACHA20-POLY1305", 36, (None, "NULL", 0)),
])
def test_esp_esn_with_scapy(enc, s_enc, kl, auth):
    ek, ak = key(kl, 1), (key(auth[2], 2) if auth[0] else None)
    ours = EspSa(0x1000, enc, ek, auth[0], ak, esn=True)
    ours.seq = (7 << 32) + 41  # next packet: ESN 7:42
    theirs = SecurityAssociation(ESP, spi=0x1000, crypt_algo=s_enc, crypt_key=ek,
                                 auth_algo=auth[1], auth_key=ak, esn_en=True, esn=7)
    p = pkt6()
    wire = ours.output(p)
    assert struct.unpack("!I", wire[44:48])[0] == 42  # only the low 32 bits travel
    assert raw(theirs.decrypt(IPv6(wire), esn_en=True, esn=7)) == p
    rx = EspSa(0x1000, enc, ek, auth[0], ak, esn=True)
    rx.replay_top = (7 << 32) + 40  # a receiver in step with the sender
    rx.input(ours.output(p))  # 7:43
    s_wire = raw(theirs.encrypt(IPv6(p), seq_num=44, esn_en=True, esn=7))
    assert rx.input(s_wire) == p and rx.replay_top == (7 << 32) + 44


def test_ah_esn_with_scapy():
    k = key(20, 3)
    ours = AhSa(0x2000, "hmac-sha1", k, esn=True)
    ours.seq = (3 << 32) + 9
    theirs = SecurityAssociation(AH, spi=0x2000, auth_algo="HMAC-SHA1-96", auth_key=k, esn_en=True, esn=3)
    p = pkt6()
    theirs.decrypt(IPv6(ours.output(p)), esn_en=True, esn=3)


def test_esp_in_udp_with_scapy():
    ek, ak = key(16, 1), key(20, 2)
    ours = EspSa(0x1000, "aes-cbc", ek, "hmac-sha1", ak, udp_encap=(4500, 4500),
                 mode="tunnel", tunnel_src=T4[0], tunnel_dst=T4[1])
    rx = EspSa(0x1000, "aes-cbc", ek, "hmac-sha1", ak, udp_encap=True,
               mode="tunnel", tunnel_src=T4[0], tunnel_dst=T4[1])
    theirs = SecurityAssociation(ESP, spi=0x1000, crypt_algo="AES-CBC", crypt_key=ek,
                                 auth_algo="HMAC-SHA1-96", auth_key=ak,
                                 tunnel_header=IP(src=T4[0], dst=T4[1]),
                                 nat_t_header=UDP(sport=4500, dport=4500))
    p = pkt4()
    wire = ours.output(p)
    assert IP(wire)[UDP].dport == 4500 and IP(wire)[UDP].chksum == 0  # RFC 3948 §2.1
    assert raw(theirs.decrypt(IP(wire))) == p
    assert rx.input(raw(theirs.encrypt(IP(p)))) == p


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_dissects_our_ah(tmp_path):
    # tshark does not verify AH ICVs; it must parse our AH (length, SPI,
    # sequence) and the payload after it, in every mode, with no error
    packets, expect = [], []
    for i, (name, _, kl) in enumerate(AUTH):
        for mode, kw in (("transport", {}),
                         ("tunnel6", {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}),
                         ("tunnel4", {"mode": "tunnel", "tunnel_src": T4[0], "tunnel_dst": T4[1]})):
            sa = AhSa(0x4000 + i, name, key(kl, i), **kw)
            sa.seq = 99
            packets.append(sa.output(pkt6(with_ext=True) if mode != "tunnel4" else pkt4()))
            expect.append((0x4000 + i, mode))
    old = AhSa(0x4999, "keyed-md5", key(16), old=True)
    pcap = tmp_path / "ah.pcap"
    write_pcap(pcap, packets)
    out = subprocess.run(
        [TSHARK, "-r", str(pcap), "-T", "fields", "-E", "separator=|", "-E", "occurrence=f",
         "-e", "ah.spi", "-e", "ah.sequence", "-e", "ah.length", "-e", "udp.dstport",
         "-e", "_ws.malformed", "-e", "_ws.expert"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(packets)
    for (spi, mode), line in zip(expect, out):
        a_spi, a_seq, _a_len, dport, malformed, expert = line.split("|")
        assert int(a_spi, 16) == spi and a_seq == "100", (mode, line)
        assert dport == "9999" and not malformed and not expert, (mode, line)
    assert old.output(pkt6())[41] == 4  # old AH: RFC 1826 length, not dissected as new AH


# --- jumbograms (RFC 2675, seed §1.7) ---------------------------------------

@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_checks_our_jumbogram_esp_ah_ipcomp(tmp_path):
    """tshark decrypts our ESP over a jumbogram and reports its ICV good
    (bad once flipped), in transport mode and in tunnel mode with a jumbo
    outer header around a jumbo inner one; dissects our AH over a
    jumbogram; inflates our IPComp of a jumbogram back to its 77000 octets
    of UDP data. scapy parses the same packets (its SecurityAssociation
    cannot process jumbograms: it packs the length into the 16-bit field)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from scapy.layers.inet6 import Jumbo
    from test_ipsec_jumbo import jumbogram

    data = b"kame jumbo " * 7000
    p = jumbogram(data)
    ek, ak, gk = key(16, 1), key(20, 2), key(20, 3)
    esp = EspSa(0x5000, "aes-cbc", ek, "hmac-sha1", ak)
    good = esp.output(p)
    bad = bytearray(esp.output(p))
    bad[-1] ^= 1
    t6 = {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}
    packets = [good, bytes(bad), AhSa(0x5001, "hmac-sha1", ak).output(p),
               kame.IpcompSa().output(p), EspSa(0x5002, "aes-gcm-16", gk, **t6).output(p)]
    for w in packets[:3] + packets[4:]:
        s = IPv6(w)
        assert s.plen == 0 and s[Jumbo].jumboplen == len(w) - 40
    uats = esp_uat("IPv6", 0x5000, "aes-cbc", ek, "hmac-sha1", ak) + esp_uat("IPv6", 0x5002, "aes-gcm-16", gk, None, b"")
    rows = tshark_esp(tmp_path, packets, uats, ["ipv6.plen", "ipv6.opt.jumbo", "esp.icv_good", "esp.icv_bad",
                                                "ah.spi", "ipcomp.cpi", "udp.dstport", "data.len", "_ws.malformed",
                                                "_ws.expert"])
    want_icv = [("1", "0"), ("0", "1"), ("", ""), ("", ""), ("1", "0")]
    for i, (row, icv) in enumerate(zip(rows, want_icv)):
        plen, jumbo, good, badv, _ah_spi, _cpi, dport, dlen, malformed, expert = row
        assert (good, badv) == icv, (i, row)
        assert dport == "9999" and dlen == str(len(data)), (i, row)
        assert not malformed and not expert, (i, row)
        if i != 3:  # the last occurrence: the inner jumbogram of the tunnel
            assert plen == "0" and int(jumbo) == (len(packets[i]) if i < 4 else len(p)) - 40, (i, row)
    assert rows[2][4] == "0x00005001" and rows[3][5] == "0x0002"


BATCH_CASES = [
    ("aes-gcm-16", "AES-GCM", 20, (None, "NULL", 0)),
    ("aes-cbc", "AES-CBC", 16, ("hmac-sha256-128", "SHA2-256-128", 32)),
    ("chacha20-poly1305", "CHACHA20-POLY1305", 36, (None, "NULL", 0)),
]


def _batch_packets() -> list[bytes]:
    """IPv6, IPv6 with extension headers and IPv4, of 0 to 1300 octets."""
    makers = (lambda b: pkt6(payload=b), lambda b: pkt6(with_ext=True, payload=b), pkt4)
    return [makers[i % 3](bytes((i + j) & 0xFF for j in range(i * 37 % 1300))) for i in range(40)]


@pytest.mark.parametrize("mode", ["transport", "tunnel6", "tunnel4"])
@pytest.mark.parametrize("case", BATCH_CASES, ids=lambda c: f"{c[0]}-{c[3][0]}")
def test_esp_batches_with_scapy(case, mode):
    """output_many's packets (one buffer for the batch) open in scapy; scapy's
    open in input_many, a corrupted one among them refused in its place."""
    enc, s_enc, kl, auth = case
    ours, rx, theirs = sa_pair(enc, s_enc, kl, auth, mode)
    packets = _batch_packets()
    sent = ours.output_many([*packets[:7], b"\x60\x00", *packets[7:]])
    assert isinstance(sent[7], kame.KameError)
    del sent[7]
    for p, wire in zip(packets, sent, strict=True):
        outer = IPv6 if wire[0] >> 4 == 6 else IP
        assert raw(theirs.decrypt(outer(wire))) == p
    theirs_wire = [raw(theirs.encrypt((IPv6 if p[0] >> 4 == 6 else IP)(p))) for p in packets]
    bad = bytearray(theirs_wire[11])
    bad[-1] ^= 1
    got = rx.input_many([*theirs_wire[:11], bytes(bad), *theirs_wire[11:]])
    assert isinstance(got[11], kame.IntegrityError)
    assert got[:11] + got[12:] == packets
    assert rx.counters["icv_failures"] == 1


@pytest.mark.parametrize("mode", ["transport", "tunnel6", "tunnel4"])
def test_ah_batches_with_scapy(mode):
    k = key(32, 5)
    kw, tunnel = {}, None
    if mode == "tunnel6":
        kw = {"mode": "tunnel", "tunnel_src": T6[0], "tunnel_dst": T6[1]}
        tunnel = IPv6(src=T6[0], dst=T6[1], hlim=64)
    elif mode == "tunnel4":
        kw = {"mode": "tunnel", "tunnel_src": T4[0], "tunnel_dst": T4[1]}
        tunnel = IP(src=T4[0], dst=T4[1], ttl=64)
    ours, rx = AhSa(0x2000, "hmac-sha256-128", k, **kw), AhSa(0x2000, "hmac-sha256-128", k, **kw)
    theirs = SecurityAssociation(AH, spi=0x2000, auth_algo="SHA2-256-128", auth_key=k, tunnel_header=tunnel)
    packets = _batch_packets()
    for wire in ours.output_many(packets):
        theirs.decrypt((IPv6 if wire[0] >> 4 == 6 else IP)(wire))  # verifies the ICV
    theirs_wire = [raw(theirs.encrypt((IPv6 if p[0] >> 4 == 6 else IP)(p))) for p in packets]
    bad = bytearray(theirs_wire[5])
    bad[-1] ^= 1
    got = rx.input_many([*theirs_wire[:5], bytes(bad), *theirs_wire[5:]])
    assert isinstance(got[5], kame.IntegrityError)
    assert got[:5] + got[6:] == packets


# --- batches into one buffer (output_batch / input_batch) --------------------

@pytest.mark.parametrize("mode", ["transport", "tunnel6", "tunnel4"])
@pytest.mark.parametrize("case", list(cases()), ids=lambda c: f"{c[0]}-{c[2]}-{c[3][0]}")
def test_esp_batch_both_ways_with_scapy(case, mode):
    """scapy decrypts every packet of an ``output_batch`` (read straight
    from the batch's buffer), on one thread and on two, and ``input_batch``
    opens scapy's packets."""
    enc, s_enc, kl, auth = case
    ours, rx, theirs = sa_pair(enc, s_enc, kl, auth, mode)
    big = [pkt6(payload=bytes([i]) * 1000) for i in range(70)]
    plain = [pkt6(), pkt6(with_ext=True), pkt4()] * 4
    for packets, threads in ((plain, 1), (big, 2)):
        batch = ours.output_batch(packets, threads=threads)
        assert batch.ok == len(packets)
        for p, wire in zip(packets, batch):
            outer = IPv6 if wire[0] >> 4 == 6 else IP
            assert raw(theirs.decrypt(outer(bytes(wire)))) == p
        theirs_wire = [raw(theirs.encrypt((IPv6 if p[0] >> 4 == 6 else IP)(p))) for p in packets]
        assert [bytes(b) for b in rx.input_batch(theirs_wire, threads=threads)] == packets


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_checks_the_esp_of_a_batch(tmp_path):
    """tshark decrypts every packet of a two-thread ``output_batch`` and
    finds each ICV good."""
    packets, uats, n = [], [], 0
    body = b"kame batch " * 90
    for i, (enc, ek, auth, ak) in enumerate((("aes-gcm-16", key(20, 3), None, b""),
                                             ("aes-cbc", key(16, 4), "hmac-sha256-128", key(32, 5)))):
        sa = EspSa(0x5000 + i, enc, ek, auth, ak or None)
        batch = sa.output_batch([pkt6(payload=body) for _ in range(120)], threads=2)
        packets += [bytes(w) for w in batch]
        uats += esp_uat("IPv6", 0x5000 + i, enc, ek, auth, ak)
        n += len(batch)
    rows = tshark_esp(tmp_path, packets, uats, ["esp.icv_good", "data.data"])
    assert len(rows) == n
    assert all(good == "1" and data.replace(":", "") == body.hex() for good, data in rows)
