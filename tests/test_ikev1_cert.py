"""IKEv1 main mode with RSA signatures (RFC 2409 §5.1): two of our daemons in
memory, certificate refusals, the bare-hash PKCS#1 signature checked against
``cryptography``, and racoon.conf's ``ike_version 1`` with certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ike_pki as pki
import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.errors import CertificateError, ConfigError
from kame.ike.cert import CertAuth
from kame.ike.conf import parse
from kame.ike.ikev1 import AUTH_RSA, Ikev1, V1Peer
from kame.ike.ikev2 import ChildProposal, IkeProposal
from kame.key.engine import KeyEngine

A, B = "2001:db8::1", "2001:db8::2"

ROOT = pki.ca("v1 Root CA")
OTHER = pki.ca("v1 Other CA", n=1)
ALICE = pki.leaf(ROOT, "alice", n=1)
BOB = pki.leaf(ROOT, "bob", n=2)


def _auth(issued: pki.Issued, cas: list[pki.Issued], **kw: Any) -> CertAuth:
    return CertAuth(_core.ike_cert_load(issued.pem), _core.IkeKey(issued.key_pem),
                    [c.der for c in cas], **kw)


def _run(a: Ikev1, b: Ikev1, wire: list[bytes]) -> None:
    for _ in range(30):
        moved = False
        for src, dst, s, d in ((a, b, A, B), (b, a, B, A)):
            out, src.out = src.out, []
            for data, _to, dport, sport in out:
                moved = True
                wire.append(data)
                dst.input(data, s, sport, d, dport, 0.0)
        if not moved:
            return


def _pair(ca_a: CertAuth, ca_b: CertAuth, prop: IkeProposal | None = None
          ) -> tuple[Ikev1, Ikev1, list[bytes]]:
    prop = prop or IkeProposal(12, 128, 12, 5, 31)
    child = ChildProposal(12, 128, 12)
    pa = V1Peer(B, A, b"", cert=ca_a, proposals=[prop], child=[child])
    pb = V1Peer(A, B, b"", cert=ca_b, proposals=[prop], child=[child])
    a, b = Ikev1([pa], KeyEngine()), Ikev1([pb], KeyEngine())
    a.initiate(pa, 0.0)
    wire: list[bytes] = []
    _run(a, b, wire)
    return a, b, wire


@pytest.mark.parametrize("prop", [IkeProposal(12, 128, 12, 5, 31), IkeProposal(3, 192, 2, 2, 14)])
def test_main_mode_rsa_signatures_in_memory(prop: IkeProposal) -> None:
    a, b, wire = _pair(_auth(ALICE, [ROOT]), _auth(BOB, [ROOT]), prop)
    (sa,), (sb,) = a.sas.values(), b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED", (a.log, b.log)
    assert sa.child_spi_in == sb.child_spi_out and sa.child_spi_out == sb.child_spi_in
    ka = {x.spi: (x.enc_key, x.auth_key) for x in a.engine.sad}
    kb = {x.spi: (x.enc_key, x.auth_key) for x in b.engine.sad}
    assert ka == kb and len(ka) == 2
    # ID_DER_ASN1_DN of each certificate's subject; the SA says RSA signatures
    assert sa.idii_b == bytes([9, 0, 0, 0]) + ALICE.subject_der
    assert sb.idir_b == bytes([9, 0, 0, 0]) + BOB.subject_der
    _doi, _sit, props = _core.ikev1_parse_sa(sa.sai_b)
    assert {k: v for k, v in props[0][3][0][2] if isinstance(v, int)}[3] == AUTH_RSA
    # message 3 and 4 carry a CR; 5 and 6 are encrypted (CERT and SIG inside)
    assert len(wire) == 9
    for w in wire[2:4]:
        pls = [t for t, _ in _core.ikev1_parse(w)[1]]
        assert 7 in pls


def test_sig_is_pkcs1_over_the_bare_hash() -> None:
    """SIG is PKCS#1 v1.5 type 1 of HASH itself (no DigestInfo): what
    ``cryptography`` recovers with the public key is the hash."""
    k = _core.IkeKey(ALICE.key_pem)
    h = bytes(range(32))
    sig = bytes(k.sign_v1(h))
    pub = ALICE.cert.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    n, e = pub.public_numbers().n, pub.public_numbers().e
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(len(sig), "big")
    assert em == b"\x00\x01" + b"\xff" * (len(sig) - 3 - len(h)) + b"\x00" + h
    _core.ike_v1_sig_verify(ALICE.der, h, sig)
    with pytest.raises(CertificateError) as ei:
        _core.ike_v1_sig_verify(ALICE.der, h[:-1] + b"\x00", sig)
    assert ei.value.reason == "bad_auth_signature"
    with pytest.raises(CertificateError):  # another key
        _core.ike_v1_sig_verify(BOB.der, h, sig)
    # cryptography's own verify of a prehashed-less PKCS#1 signature agrees
    assert pub.recover_data_from_signature(sig, padding.PKCS1v15(), None) == h


@given(st.binary(max_size=600), st.binary(max_size=80), st.binary(max_size=600))
def test_verify_garbage_is_typed(der: bytes, h: bytes, sig: bytes) -> None:
    for d in (der, ALICE.der):
        try:
            _core.ike_v1_sig_verify(d, h, sig)
        except CertificateError:
            pass


def test_ecdsa_key_has_no_v1_signature() -> None:
    e = pki.leaf(pki.ca("ec CA", "p256", n=3), "ec", "p256", n=3)
    with pytest.raises(CertificateError):
        _core.IkeKey(e.key_pem).sign_v1(bytes(32))


@pytest.mark.parametrize("bad", ["expired", "unknown_ca", "wrong_key"])
def test_bad_certificate_is_refused(bad: str) -> None:
    if bad == "expired":
        alice = _auth(pki.leaf(ROOT, "alice-old", n=1, days=(-30, -1)), [ROOT])
    elif bad == "unknown_ca":
        alice = _auth(pki.leaf(OTHER, "alice", n=1), [ROOT, OTHER])
    else:  # the certificate of another key: SIG does not verify
        alice = CertAuth(_core.ike_cert_load(ALICE.pem), _core.IkeKey(ALICE.key_pem), [ROOT.der])
        alice.key = _core.IkeKey(BOB.key_pem)
    a, b, _ = _pair(alice, _auth(BOB, [ROOT]))
    assert not any(s.state == "ESTABLISHED" for s in b.sas.values())
    assert not a.engine.sad and not b.engine.sad
    why = {"expired": "expired on", "unknown_ca": "not a configured CA",
           "wrong_key": "does not verify"}[bad]
    assert any("AUTHENTICATION-FAILED" in x and why in x for x in b.log), b.log
    assert b.stats["ike_authfail"] == 1
    # b's AUTHENTICATION-FAILED went under the phase-1 keys and a took it
    assert not a.sas and any("AUTHENTICATION-FAILED" in x for x in a.log), a.log


def test_responder_certificate_refused_by_initiator() -> None:
    bob = _auth(pki.leaf(ROOT, "bob-old", n=2, days=(-30, -1)), [ROOT])
    a, _b, _ = _pair(_auth(ALICE, [ROOT]), bob)
    assert not a.sas and any("expired on" in x for x in a.log), a.log
    assert not a.engine.sad


CONF = """path certificate "{d}";
listen {{ isakmp {a} [500]; }}
remote {b} {{
    ike_version 1;
    exchange_mode {mode};
    certificate_type x509 "me.pem" "me.key";
    ca_type x509 "ca.pem";
    my_identifier asn1dn;
    peers_identifier asn1dn "O=kame, CN=bob";
    proposal {{
        encryption_algorithm aes 128; hash_algorithm sha256;
        authentication_method rsasig; dh_group 14;
    }}
}}
"""


def test_racoon_conf_ikev1_certificates(tmp_path: Path) -> None:
    ALICE.write(tmp_path, "me")
    (tmp_path / "ca.pem").write_bytes(ROOT.pem)
    conf = parse(CONF.format(d=tmp_path, a=A, b=B, mode="main"))
    p = conf.peers[0]
    assert isinstance(p, V1Peer) and p.cert is not None and p.cert.chain == [ALICE.der]
    with pytest.raises(ConfigError, match="main mode only"):
        parse(CONF.format(d=tmp_path, a=A, b=B, mode="main,aggressive"))
    e = pki.leaf(pki.ca("ec CA", "p256", n=3), "ec", "p256", n=3)
    e.write(tmp_path, "me")
    with pytest.raises(ConfigError, match="RSA"):
        parse(CONF.format(d=tmp_path, a=A, b=B, mode="main"))
