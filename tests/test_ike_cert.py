"""IKEv2 with X.509 certificates (issue 10): the Rust core's certificate
parsing, chain verification, identity matching and signatures against
certificates and signatures made by the `cryptography` package; two of our
daemons authenticating each other with RSA and ECDSA certificates in
memory; refusals (expired, another CA, ID mismatch, bad signature) with
AUTHENTICATION_FAILED and a log line that names the cause; racoon.conf's
certificate statements; hypothesis on the parsers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ike_pki as pki
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.errors import CertificateError, ConfigError
from kame.ike import Ike, Peer
from kame.ike.cert import CertAuth, hash_algorithms
from kame.ike.conf import parse
from kame.key.engine import KeyEngine

NOW = int(time.time())
A, B = "2001:db8:1::1", "2001:db8:1::2"


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.ca()


@pytest.fixture(scope="module")
def other_root() -> pki.Issued:
    return pki.ca("other Root CA", "p256", n=1)


# --- the core: parsing and chains ---------------------------------------------------------

def test_info_reads_subject_sans_dates_and_spki(root: pki.Issued) -> None:
    c = pki.leaf(root, "moon", "p256", dns=("moon.example",), email=("a@moon.example",),
                 ips=("192.0.2.1", "2001:db8::1"))
    subj, text, issuer, nb, na, h, alts, kind = _core.ike_cert_info(c.der)
    assert subj == c.subject_der and text == "C=JP, O=kame, CN=moon"
    assert issuer == "C=JP, O=kame, CN=kame Root CA" and kind == "p256"
    assert nb == int(c.cert.not_valid_before_utc.timestamp())
    assert na == int(c.cert.not_valid_after_utc.timestamp())
    import hashlib

    from cryptography.hazmat.primitives import serialization
    spki = c.cert.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert h == hashlib.sha1(spki).digest()
    assert alts == [(2, b"moon.example"), (3, b"a@moon.example"), (1, bytes([192, 0, 2, 1])),
                    (5, bytes.fromhex("20010db8000000000000000000000001"))]
    assert _core.ike_cert_load(c.pem + root.pem) == [c.der, root.der]
    assert _core.ike_cert_load(c.der) == [c.der]


@pytest.mark.parametrize("kind", ["rsa", "p256", "p384"])
def test_chain_to_the_configured_ca(root: pki.Issued, kind: str) -> None:
    c = pki.leaf(root, "sun", kind)
    assert _core.ike_cert_verify(c.der, [], [root.der], NOW) == 2
    # through an intermediate sent in a CERT payload
    mid = pki.leaf(root, "kame Sub CA", "p384", n=7, is_ca=True)
    c2 = pki.leaf(mid, "venus", kind)
    assert _core.ike_cert_verify(c2.der, [mid.der], [root.der], NOW) == 3


def _refused(reason: str, *args: Any) -> str:
    with pytest.raises(CertificateError) as ei:
        _core.ike_cert_verify(*args)
    assert ei.value.reason == reason, str(ei.value)
    return str(ei.value)


def test_chain_refusals_are_typed_and_named(root: pki.Issued, other_root: pki.Issued) -> None:
    old = pki.leaf(root, "old", days=(-30, -1))
    msg = _refused("expired", old.der, [], [root.der], NOW)
    assert 'certificate "C=JP, O=kame, CN=old" expired on' in msg
    soon = pki.leaf(root, "soon", days=(2, 30))
    assert "not valid before" in _refused("not_yet_valid", soon.der, [], [root.der], NOW)
    stranger = pki.leaf(other_root, "stranger")
    msg = _refused("unknown_issuer", stranger.der, [], [root.der], NOW)
    assert "is issued by \"C=JP, O=kame, CN=other Root CA\", which is not a configured CA" in msg
    # a leaf posing as an intermediate: not a CA
    fake_mid = pki.leaf(root, "not a ca", "p256", n=3)
    victim = pki.leaf(fake_mid, "victim")
    _refused("not_ca", victim.der, [fake_mid.der], [root.der], NOW)
    # a CA of the same name with another key: the signature does not verify
    impostor = pki.ca("kame Root CA", "p256", n=2)
    _refused("bad_cert_signature", pki.leaf(root, "x").der, [], [impostor.der], NOW)
    # RFC 5280 §4.2: an unknown critical extension refuses the certificate
    odd = pki.leaf(root, "odd", critical_oid="1.3.6.1.4.1.99999.1")
    assert "critical extension 1.3.6.1.4.1.99999.1" in _refused("unsupported", odd.der, [],
                                                                 [root.der], NOW)
    with pytest.raises(CertificateError) as ei:
        _core.ike_cert_verify(b"\x30\x03\x02\x01\x00", [], [root.der], NOW)
    assert ei.value.reason == "malformed"


def test_identity_must_name_the_certificate(root: pki.Issued) -> None:
    c = pki.leaf(root, "moon", dns=("moon.example",), email=("m@moon.example",),
                 ips=("2001:db8::7",))
    _core.ike_cert_id_match(c.der, 9, c.subject_der)
    _core.ike_cert_id_match(c.der, 2, b"MOON.example")
    _core.ike_cert_id_match(c.der, 3, b"m@moon.example")
    _core.ike_cert_id_match(c.der, 5, bytes.fromhex("20010db8000000000000000000000007"))
    for t, d, shown in [(2, b"sun.example", '"sun.example"'), (1, bytes(4), "0.0.0.0"),
                        (9, pki.name("sun").public_bytes(), "CN=sun")]:
        with pytest.raises(CertificateError, match="is neither the subject nor") as ei:
            _core.ike_cert_id_match(c.der, t, d)
        assert ei.value.reason == "id_mismatch" and shown in str(ei.value)
    assert _core.ike_dn_text(c.subject_der) == "C=JP, O=kame, CN=moon"


# --- the core: signatures ---------------------------------------------------------------

OCTETS = b"InitiatorSignedOctets " * 20


@pytest.mark.parametrize("kind,method,alg_hash", [
    ("rsa", 14, [2]), ("rsa", 14, [4]), ("p256", 14, [2, 3]), ("p384", 14, [3]),
    ("p256", 9, []), ("p384", 10, []),
])
def test_our_signatures_verify_in_cryptography_and_in_the_core(root: pki.Issued, kind: str,
                                                               method: int,
                                                               alg_hash: list[int]) -> None:
    c = pki.leaf(root, "sig", kind)
    k = _core.IkeKey(c.key_pem)
    assert k.key_type == kind
    m, data = k.sign_auth(method, alg_hash, OCTETS)
    assert m == method
    _core.ike_auth_verify(c.der, m, data, OCTETS)
    pub: Any = c.cert.public_key()
    if method == 14:
        n = data[0]
        blob, sig = data[1:1 + n], data[1 + n:]
        h = {b"\x0b": hashes.SHA256(), b"\x0c": hashes.SHA384(), b"\x0d": hashes.SHA512(),
             b"\x02": hashes.SHA256(), b"\x03": hashes.SHA384()}[blob[-3:-2] if kind == "rsa"
                                                                  else blob[-1:]]
        if kind == "rsa":
            pub.verify(sig, OCTETS, padding.PKCS1v15(), h)
        else:
            pub.verify(sig, OCTETS, ec.ECDSA(h))
    with pytest.raises(CertificateError) as ei:
        _core.ike_auth_verify(c.der, m, data, OCTETS + b"x")
    assert ei.value.reason == "bad_auth_signature"


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "rsa-pss", "rsa-sha1", "p256", "p384"])
def test_peer_signatures_from_cryptography_verify(root: pki.Issued, kind: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    c = pki.leaf(root, "peer", kind.split("-")[0])
    k: Any = c.key
    if kind == "rsa-pkcs1":
        blob = bytes.fromhex("300d06092a864886f70d01010c0500")  # sha384WithRSAEncryption
        data = bytes([len(blob)]) + blob + k.sign(OCTETS, padding.PKCS1v15(), hashes.SHA384())
        method = 14
    elif kind == "rsa-pss":
        # RFC 7427 Appendix A.4.3: RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32
        blob = bytes.fromhex("3041" "06092a864886f70d01010a" "3034"
                             "a00f300d06096086480165030402010500"
                             "a11c301a06092a864886f70d010108300d06096086480165030402010500"
                             "a203020120")
        sig = k.sign(OCTETS, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        data = bytes([len(blob)]) + blob + sig
        method = 14
    elif kind == "rsa-sha1":
        data, method = k.sign(OCTETS, padding.PKCS1v15(), hashes.SHA1()), 1
    else:
        h, size = (hashes.SHA256(), 32) if kind == "p256" else (hashes.SHA384(), 48)
        r, s = decode_dss_signature(k.sign(OCTETS, ec.ECDSA(h)))
        data, method = r.to_bytes(size, "big") + s.to_bytes(size, "big"), (9 if size == 32
                                                                          else 10)
    _core.ike_auth_verify(c.der, method, data, OCTETS)
    with pytest.raises(CertificateError):
        _core.ike_auth_verify(c.der, method, data, OCTETS[1:])


def test_method_and_key_mismatches_are_unsupported(root: pki.Issued) -> None:
    rsa_c, ec_c = pki.leaf(root, "r", "rsa"), pki.leaf(root, "e", "p256")
    for der, m in [(rsa_c.der, 9), (ec_c.der, 1), (ec_c.der, 10), (rsa_c.der, 2)]:
        with pytest.raises(CertificateError) as ei:
            _core.ike_auth_verify(der, m, bytes(64), OCTETS)
        assert ei.value.reason == "unsupported"
    with pytest.raises(CertificateError) as ei:
        _core.IkeKey(b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")
    assert ei.value.reason == "bad_key"
    with pytest.raises(CertificateError):
        _core.IkeKey(rsa_c.key_pem).sign_auth(1, [], OCTETS)  # RSA/SHA-1: ring does not sign


# --- hypothesis: the parsing paths never raise anything but typed errors --------------------

@given(st.binary(max_size=600), st.integers(0, 255), st.binary(max_size=300))
def test_cert_and_auth_parsers_only_raise_typed_errors(der: bytes, method: int,
                                                       data: bytes) -> None:
    for f in (lambda: _core.ike_cert_info(der), lambda: _core.ike_dn_text(der),
              lambda: _core.ike_cert_load(der), lambda: _core.IkeKey(der),
              lambda: _core.ike_cert_id_match(der, method, data),
              lambda: _core.ike_auth_verify(der, method, data, b"o")):
        try:
            f()
        except (CertificateError, ValueError, TypeError):
            pass


@given(st.integers(0, 255), st.binary(max_size=120))
def test_digital_signature_auth_with_a_real_cert_only_raises_typed_errors(method: int,
                                                                         data: bytes) -> None:
    c = _P256_CERT
    try:
        _core.ike_auth_verify(c, method, data, OCTETS)
    except CertificateError:
        pass
    else:
        raise AssertionError("random AUTH data verified")


@given(st.binary(max_size=64))
def test_signature_hash_algorithms_notify(data: bytes) -> None:
    hs = hash_algorithms(data)
    assert len(hs) == len(data) // 2 and all(0 <= h < 65536 for h in hs)


_P256_CERT = pki.leaf(pki.ca("hyp CA", "p256", n=9), "hyp", "p256", n=9).der


# --- two daemons in memory ------------------------------------------------------------------

def _auth(issued: pki.Issued, cas: list[pki.Issued], **kw: Any) -> CertAuth:
    return CertAuth(_core.ike_cert_load(issued.pem), _core.IkeKey(issued.key_pem),
                    [c.der for c in cas], **kw)


def pair(ca_a: CertAuth, ca_b: CertAuth, **kw_a: Any) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    ea, eb = KeyEngine(), KeyEngine()
    a = Ike([Peer(B, A, b"", cert=ca_a, **kw_a)], ea)
    b = Ike([Peer(A, B, b"", cert=ca_b)], eb)
    return a, b, ea, eb


def run(a: Ike, b: Ike, now: float = 0.0) -> None:
    for _ in range(50):
        moved = False
        for x, y, me in ((a, b, A), (b, a, B)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break


@pytest.mark.parametrize("ka,kb", [("rsa", "rsa"), ("p256", "p384"), ("p384", "rsa")])
def test_two_daemons_authenticate_with_certificates(root: pki.Issued, ka: str,
                                                    kb: str) -> None:
    ca, cb = pki.leaf(root, "alice", ka), pki.leaf(root, "bob", kb)
    a, b, ea, eb = pair(_auth(ca, [root]), _auth(cb, [root]))
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"], a.log
    assert [s.state for s in b.sas.values()] == ["ESTABLISHED"], b.log
    assert len(ea.sad) == 2 and len(eb.sad) == 2


def test_classic_methods_without_rfc7427(root: pki.Issued, monkeypatch: Any) -> None:
    # a peer that sends no SIGNATURE_HASH_ALGORITHMS gets ECDSA method 9/10
    ca, cb = pki.leaf(root, "alice", "p256"), pki.leaf(root, "bob", "p384")
    a, b, *_ = pair(_auth(ca, [root]), _auth(cb, [root]))
    monkeypatch.setattr(Ike, "_peer_hashes", lambda self, notes: [])
    seen: list[int] = []
    orig = _core.ike_auth_verify

    def spy(der: bytes, method: int, data: bytes, octets: bytes) -> None:
        seen.append(method)
        orig(der, method, data, octets)

    monkeypatch.setattr(_core, "ike_auth_verify", spy)
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"], (a.log, b.log)
    assert seen == [9, 10]


@pytest.mark.parametrize("case,words", [
    ("expired", "expired on"),
    ("other-ca", "which is not a configured CA"),
    ("id-mismatch", "is not the configured peers_identifier"),
    ("no-cert", "sent no certificate"),
])
def test_bad_certificates_fail_with_authentication_failed(root: pki.Issued,
                                                          other_root: pki.Issued, case: str,
                                                          words: str) -> None:
    good_b = pki.leaf(root, "bob", "p256")
    cb = _auth(good_b, [root])
    if case == "expired":
        ca = _auth(pki.leaf(root, "alice", days=(-20, -2)), [root])
    elif case == "other-ca":
        ca = _auth(pki.leaf(other_root, "alice"), [root])
    elif case == "id-mismatch":
        ca = _auth(pki.leaf(root, "alice"), [root])
        cb = _auth(good_b, [root], peer_id="C=JP, O=kame, CN=carol")
    else:
        ca = _auth(pki.leaf(root, "alice"), [root])
        ca.chain = ca.chain  # sends its certificate; b gets none below
    a, b, ea, eb = pair(ca, cb)
    if case == "no-cert":
        a._cert_payloads = lambda p: []  # type: ignore[method-assign]
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    # the responder refuses with a log line that names the cause; the initiator hears it
    assert any("AUTHENTICATION_FAILED" in x and words in x for x in b.log), b.log
    assert any("AUTHENTICATION_FAILED" in x for x in a.log), a.log
    assert not len(ea.sad) and not len(eb.sad)
    assert b.stats["ike_authfail"] == 1


def test_initiator_refuses_the_responders_certificate_and_tells_it(
        root: pki.Issued, other_root: pki.Issued) -> None:
    ca = _auth(pki.leaf(root, "alice"), [root])
    cb = _auth(pki.leaf(other_root, "bob", "p256"), [other_root])
    a, b, ea, eb = pair(ca, _auth(pki.leaf(other_root, "bob", "p256"), [root, other_root]))
    del cb
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert any("not a configured CA" in x and "AUTHENTICATION_FAILED" in x for x in a.log), a.log
    assert not a.sas and not len(ea.sad)
    # b heard it and dropped the SA it had installed
    assert "deleted the IKE SA" in b.log[-1] and not b.sas and not len(eb.sad)


# --- racoon.conf ------------------------------------------------------------------------------

CONF = """path certificate "{d}";
listen {{ isakmp {a} [500]; }}
remote {b} {{
    exchange_mode main;
    certificate_type x509 "me.pem" "me.key";
    ca_type x509 "ca.pem";
    my_identifier asn1dn;
    peers_identifier asn1dn{peer};
    verify_cert on;
    proposal {{
        encryption_algorithm aes 128; hash_algorithm sha256;
        authentication_method rsasig; dh_group 14;
    }}
}}
"""


def test_racoon_conf_certificate_statements(root: pki.Issued, tmp_path: Path) -> None:
    me = pki.leaf(root, "alice", "p256")
    me.write(tmp_path, "me")
    (tmp_path / "ca.pem").write_bytes(root.pem)
    conf = parse(CONF.format(d=tmp_path, a=A, b=B, peer=' "C=JP, O=kame, CN=bob"'))
    p = conf.peers[0]
    assert p.cert is not None and p.cert.chain == [me.der] and p.cert.cas == [root.der]
    assert p.cert.peer_id == "C=JP, O=kame, CN=bob" and p.my_id == "" and p.peer_id == ""
    assert p.cert.my_id("") == (9, me.subject_der)
    # errors name the line
    with pytest.raises(ConfigError, match="line 5: certificate_type takes x509"):
        parse(CONF.format(d=tmp_path, a=A, b=B, peer="").replace('x509 "me.pem"', 'pgp "me.pem"'))
    with pytest.raises(ConfigError, match="private key .*missing.key"):
        parse(CONF.format(d=tmp_path, a=A, b=B, peer="").replace("me.key", "missing.key"))
    (tmp_path / "bad.pem").write_text("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="certificate_type x509: malformed"):
        parse(CONF.format(d=tmp_path, a=A, b=B, peer="").replace("me.pem", "bad.pem"))
    with pytest.raises(ConfigError, match="needs ca_type"):
        parse(CONF.format(d=tmp_path, a=A, b=B, peer="").replace('ca_type x509 "ca.pem";', ""))
    with pytest.raises(ConfigError, match="the key is rsa, the certificate's p256"):
        (tmp_path / "r.key").write_bytes(pki.leaf(root, "r", "rsa").key_pem)
        parse(CONF.format(d=tmp_path, a=A, b=B, peer="").replace("me.key", "r.key"))
