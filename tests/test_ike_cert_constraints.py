"""IKE certificate path constraints and revocation, against certificates
and CRLs made by the `cryptography` package: keyUsage (a CA's keyCertSign,
the end-entity's digitalSignature/nonRepudiation, RFC 5280 §4.2.1.3,
RFC 4945 §5.1.3.2), extendedKeyUsage (RFC 4945 §5.1.3.12, with serverAuth
and clientAuth also taken), basicConstraints' pathLenConstraint,
nameConstraints (RFC 5280 §4.2.1.10: directoryName, dNSName, rfc822Name,
iPAddress; other forms in a critical extension refused) and CRLs (the
issuer's signature, thisUpdate/nextUpdate, revoked serials); each refusal
a distinct CertificateError reason; racoon.conf's ``crl`` statement and
hash-named CRLs; a daemon answering AUTHENTICATION_FAILED with the reason
in its log; hypothesis on the CRL parser."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from pathlib import Path
from typing import Any

import ike_pki as pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st
from test_ike_cert import CONF, _auth, pair, run

from kame import _core
from kame.errors import CertificateError, ConfigError
from kame.ike.conf import parse

NOW = int(time.time())
A, B = "2001:db8:1::1", "2001:db8:1::2"
IPSEC_IKE = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")
NOW_DT = pki.NOW


def ku(*, sig: bool = False, nonrep: bool = False, kenc: bool = False, cert_sign: bool = False,
       crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(sig, nonrep, kenc, False, False, cert_sign, crl_sign, False, False)


def make(issuer: pki.Issued | None, cn: str, kind: str = "p256", *, n: int = 0,
         ca: bool = False, path_len: int | None = None, key_usage: x509.KeyUsage | None = None,
         eku: list[x509.ObjectIdentifier] | None = None, eku_critical: bool = False,
         sans: list[x509.GeneralName] | None = None, subject: x509.Name | None = None,
         nc: x509.NameConstraints | None = None, nc_critical: bool = True) -> pki.Issued:
    """A certificate (self-signed when ``issuer`` is None) with the given extensions."""
    k = pki.key(kind, n)
    subj = subject or pki.name(cn)
    b = (x509.CertificateBuilder().subject_name(subj)
         .issuer_name(issuer.cert.subject if issuer else subj)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW_DT - dt.timedelta(days=1))
         .not_valid_after(NOW_DT + dt.timedelta(days=30)))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if nc is not None:
        b = b.add_extension(nc, critical=nc_critical)
    signer = issuer.key if issuer else k
    return pki.Issued(b.sign(signer, pki._hash(signer)), k)


def refused(reason: str, leaf: pki.Issued, inter: list[pki.Issued], root: pki.Issued,
            crls: list[bytes] | None = None, now: int = NOW) -> str:
    with pytest.raises(CertificateError) as ei:
        _core.ike_cert_verify(leaf.der, [i.der for i in inter], [root.der], now, crls)
    assert ei.value.reason == reason, str(ei.value)
    return str(ei.value)


def ok(leaf: pki.Issued, inter: list[pki.Issued], root: pki.Issued,
       crls: list[bytes] | None = None, now: int = NOW) -> int:
    return int(_core.ike_cert_verify(leaf.der, [i.der for i in inter], [root.der], now, crls))


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return make(None, "kame Root CA", "rsa", n=100, ca=True,
                key_usage=ku(cert_sign=True, crl_sign=True))


# --- keyUsage and extendedKeyUsage ----------------------------------------------------------

@pytest.mark.parametrize("usage,good", [
    (ku(sig=True), True),
    (ku(nonrep=True), True),
    (ku(sig=True, kenc=True), True),
    (ku(kenc=True), False),
    (ku(cert_sign=True), False),
])
def test_end_entity_key_usage(root: pki.Issued, usage: x509.KeyUsage, good: bool) -> None:
    c = make(root, "moon", key_usage=usage)
    if good:
        assert ok(c, [], root) == 2
    else:
        msg = refused("key_usage", c, [], root)
        assert "neither digitalSignature nor nonRepudiation" in msg and "CN=moon" in msg


def test_ca_needs_key_cert_sign(root: pki.Issued) -> None:
    mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True))
    assert ok(make(mid, "a"), [mid], root) == 3
    # a CA certificate whose keyUsage lacks keyCertSign issues nothing (RFC 5280 §4.2.1.3)
    bad_mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(sig=True, crl_sign=True))
    msg = refused("ca_key_usage", make(bad_mid, "b"), [bad_mid], root)
    assert 'CA certificate "C=JP, O=kame, CN=Sub CA" has keyUsage without keyCertSign' in msg
    # the anchor too
    bad_root = make(None, "kame Root CA", "rsa", n=100, ca=True, key_usage=ku(crl_sign=True))
    refused("ca_key_usage", make(bad_root, "c"), [], bad_root)
    # no keyUsage at all: any use
    plain = make(root, "Sub CA", n=7, ca=True)
    assert ok(make(plain, "d"), [plain], root) == 3


@pytest.mark.parametrize("purposes,critical,good", [
    ([IPSEC_IKE], False, True),
    ([IPSEC_IKE], True, True),
    ([ExtendedKeyUsageOID.SERVER_AUTH], False, True),
    ([ExtendedKeyUsageOID.CLIENT_AUTH], False, True),
    ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], False, True),
    ([ExtendedKeyUsageOID.CODE_SIGNING, IPSEC_IKE], False, True),
    ([ExtendedKeyUsageOID.CODE_SIGNING], False, False),
    ([ExtendedKeyUsageOID.EMAIL_PROTECTION], True, False),
    ([x509.ObjectIdentifier("1.3.6.1.4.1.99999.7")], False, False),
])
def test_extended_key_usage(root: pki.Issued, purposes: list[x509.ObjectIdentifier],
                            critical: bool, good: bool) -> None:
    c = make(root, "moon", eku=purposes, eku_critical=critical)
    if good:
        assert ok(c, [], root) == 2
    else:
        msg = refused("ext_key_usage", c, [], root)
        assert "none of ipsecIKE, serverAuth, clientAuth, anyExtendedKeyUsage" in msg
        assert ("codeSigning" in msg or "emailProtection" in msg or "1.3.6.1.4.1.99999.7" in msg)


# --- pathLenConstraint ----------------------------------------------------------------------

def test_path_len_constraint(root: pki.Issued) -> None:
    cs = ku(cert_sign=True, crl_sign=True)
    mid0 = make(root, "Sub0 CA", n=7, ca=True, path_len=0, key_usage=cs)
    assert ok(make(mid0, "a"), [mid0], root) == 3
    # a CA under a pathLen 0 CA: refused, naming the constraint
    mid1 = make(mid0, "Sub1 CA", n=8, ca=True, key_usage=cs)
    msg = refused("path_len", make(mid1, "b"), [mid0, mid1], root)
    assert 'CA certificate "C=JP, O=kame, CN=Sub0 CA" has pathLenConstraint 0 but 1' in msg
    # pathLen 1 takes one CA below it, not two
    top = make(root, "Top CA", n=9, ca=True, path_len=1, key_usage=cs)
    m1 = make(top, "M1 CA", n=10, ca=True, key_usage=cs)
    assert ok(make(m1, "c"), [top, m1], root) == 4
    m2 = make(m1, "M2 CA", n=11, ca=True, key_usage=cs)
    refused("path_len", make(m2, "d"), [top, m1, m2], root)
    # the anchor's own pathLenConstraint counts too
    root0 = make(None, "kame Root CA", "rsa", n=100, ca=True, path_len=0, key_usage=cs)
    mid = make(root0, "Sub CA", n=7, ca=True, key_usage=cs)
    assert ok(make(root0, "e"), [], root0) == 2
    refused("path_len", make(mid, "f"), [mid], root0)


# --- nameConstraints ------------------------------------------------------------------------

def _dn(o: str, cn: str = "x") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _base(o: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)])


def _ip(net: str) -> x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_network(net))


# (form, subtree, inside names, outside names): each name a (subject, sans) pair
FORMS: list[tuple[str, x509.GeneralName, list[Any], list[Any]]] = [
    ("directoryName", x509.DirectoryName(_base("kame")),
     [(_dn("kame"), []), (_dn("KAME "), [])],
     [(_dn("other"), []), (_dn("kame"), [x509.DirectoryName(_dn("other"))])]),
    ("dNSName", x509.DNSName("example.com"),
     [(None, [x509.DNSName("example.com")]), (None, [x509.DNSName("gw.EXAMPLE.com")])],
     [(None, [x509.DNSName("example.org")]), (None, [x509.DNSName("badexample.com")])]),
    ("dNSName", x509.DNSName(".example.com"),
     [(None, [x509.DNSName("gw.example.com")])],
     [(None, [x509.DNSName("example.com")])]),
    ("rfc822Name", x509.RFC822Name("example.com"),
     [(None, [x509.RFC822Name("a@example.com")])],
     [(None, [x509.RFC822Name("a@sub.example.com")]), (None, [x509.RFC822Name("a@example.org")])]),
    ("rfc822Name", x509.RFC822Name(".example.com"),
     [(None, [x509.RFC822Name("a@sub.example.com")])],
     [(None, [x509.RFC822Name("a@example.com")])]),
    ("rfc822Name", x509.RFC822Name("ike@example.com"),
     [(None, [x509.RFC822Name("ike@EXAMPLE.com")])],
     [(None, [x509.RFC822Name("web@example.com")]),
      # the subject DN's emailAddress is an rfc822Name too
      (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x"),
                  x509.NameAttribute(NameOID.EMAIL_ADDRESS, "web@example.com")]), [])]),
    ("iPAddress v4", _ip("192.0.2.0/24"),
     [(None, [x509.IPAddress(ipaddress.ip_address("192.0.2.77"))])],
     [(None, [x509.IPAddress(ipaddress.ip_address("198.51.100.1"))])]),
    ("iPAddress v6", _ip("2001:db8:1::/48"),
     [(None, [x509.IPAddress(ipaddress.ip_address("2001:db8:1::9"))])],
     [(None, [x509.IPAddress(ipaddress.ip_address("2001:db8:2::9"))]),
      # one iPAddress form: IPv6 subtrees alone leave no IPv4 address permitted (as OpenSSL)
      (None, [x509.IPAddress(ipaddress.ip_address("192.0.2.1"))])]),
]


def _leaf(issuer: pki.Issued, subject: x509.Name | None, sans: list[x509.GeneralName]) -> pki.Issued:
    return make(issuer, "x", subject=subject or _dn("kame"), sans=sans)


@pytest.mark.parametrize("form,subtree,inside,outside", FORMS, ids=[f[0] for f in FORMS])
def test_name_constraints_permitted(root: pki.Issued, form: str, subtree: x509.GeneralName,
                                    inside: list[Any], outside: list[Any]) -> None:
    mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True),
               nc=x509.NameConstraints(permitted_subtrees=[subtree], excluded_subtrees=None))
    for subj, sans in inside:
        assert ok(_leaf(mid, subj, sans), [mid], root) == 3, (subj, sans)
    for subj, sans in outside:
        msg = refused("name_constraints", _leaf(mid, subj, sans), [mid], root)
        assert "is outside the permitted subtrees" in msg and 'CA "C=JP, O=kame, CN=Sub CA"' in msg


@pytest.mark.parametrize("form,subtree,inside,outside", FORMS, ids=[f[0] for f in FORMS])
def test_name_constraints_excluded(root: pki.Issued, form: str, subtree: x509.GeneralName,
                                   inside: list[Any], outside: list[Any]) -> None:
    mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True),
               nc=x509.NameConstraints(permitted_subtrees=None, excluded_subtrees=[subtree]))
    for subj, sans in inside:
        msg = refused("name_constraints", _leaf(mid, subj, sans), [mid], root)
        assert "is in an excluded subtree" in msg
    for subj, sans in outside:
        if form == "directoryName" and subj == _dn("kame"):
            continue  # its subject is in the excluded subtree
        assert ok(_leaf(mid, subj, sans), [mid], root) == 3, (subj, sans)


def test_name_constraints_reach_every_certificate_below(root: pki.Issued) -> None:
    # the anchor's constraints hold for an intermediate and for the leaf below it
    croot = make(None, "kame Root CA", "rsa", n=100, ca=True, key_usage=ku(cert_sign=True),
                 nc=x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")],
                                         excluded_subtrees=None))
    mid = make(croot, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True))
    assert ok(_leaf(mid, None, [x509.DNSName("gw.example.com")]), [mid], croot) == 3
    refused("name_constraints", _leaf(mid, None, [x509.DNSName("gw.example.net")]), [mid], croot)
    bad_mid = make(croot, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True),
                   sans=[x509.DNSName("ca.example.net")])
    refused("name_constraints", _leaf(bad_mid, None, [x509.DNSName("gw.example.com")]),
            [bad_mid], croot)


def test_unchecked_name_forms(root: pki.Issued) -> None:
    uri = x509.UniformResourceIdentifier("https://example.com")
    crit = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True),
                nc=x509.NameConstraints(permitted_subtrees=[uri], excluded_subtrees=None))
    msg = refused("name_constraint_unsupported", make(crit, "a"), [crit], root)
    assert "critical nameConstraints with a uniformResourceIdentifier subtree" in msg
    # not critical: the form we do not check is left alone, the others still hold
    soft = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True), nc_critical=False,
                nc=x509.NameConstraints(permitted_subtrees=[uri, x509.DNSName("example.com")],
                                        excluded_subtrees=None))
    assert ok(_leaf(soft, None, [x509.DNSName("example.com")]), [soft], root) == 3
    refused("name_constraints", _leaf(soft, None, [x509.DNSName("example.org")]), [soft], root)


# --- CRLs -----------------------------------------------------------------------------------

def crl(issuer: pki.Issued, revoked: list[pki.Issued], *, this: int = -1, nxt: int | None = 7,
        signer: Any = None, name: x509.Name | None = None) -> bytes:
    b = (x509.CertificateRevocationListBuilder().issuer_name(name or issuer.cert.subject)
         .last_update(NOW_DT + dt.timedelta(days=this)))
    if nxt is not None:
        b = b.next_update(NOW_DT + dt.timedelta(days=nxt))
    for c in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(c.cert.serial_number)
            .revocation_date(NOW_DT - dt.timedelta(hours=1)).build())
    k = signer or issuer.key
    return b.sign(k, pki._hash(k)).public_bytes(serialization.Encoding.DER)


def test_crl_revoked_and_unrevoked(root: pki.Issued) -> None:
    good, bad = make(root, "good"), make(root, "bad")
    lst = crl(root, [bad])
    assert ok(good, [], root, [lst]) == 2
    msg = refused("revoked", bad, [], root, [lst])
    assert 'certificate "C=JP, O=kame, CN=bad" (serial ' in msg and "was revoked on" in msg
    # an intermediate revoked by the root's CRL takes its leaves with it
    mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True, crl_sign=True))
    leaf = make(mid, "below")
    assert ok(leaf, [mid], root, [lst]) == 3
    refused("revoked", leaf, [mid], root, [crl(root, [mid])])
    # the intermediate's own CRL
    refused("revoked", leaf, [mid], root, [lst, crl(mid, [leaf])])
    # a CRL of another CA says nothing here
    other = make(None, "other CA", n=55, ca=True, key_usage=ku(cert_sign=True, crl_sign=True))
    assert ok(good, [], root, [crl(other, [good])]) == 2


def test_crl_dates_and_signature(root: pki.Issued) -> None:
    c = make(root, "good")
    msg = refused("crl_expired", c, [], root, [crl(root, [], this=-10, nxt=-1)])
    assert 'CRL of "C=JP, O=kame, CN=kame Root CA" is stale: its nextUpdate was' in msg
    refused("crl_not_yet_valid", c, [], root, [crl(root, [], this=2, nxt=9)])
    msg = refused("crl_bad_signature", c, [], root, [crl(root, [], signer=pki.key("rsa", 42))])
    assert "its signature does not verify with the CA's key" in msg
    # a CA whose keyUsage does not allow cRLSign cannot sign CRLs
    nocrl = make(None, "kame Root CA", "rsa", n=100, ca=True, key_usage=ku(cert_sign=True))
    c2 = make(nocrl, "x")
    msg = refused("crl_bad_signature", c2, [], nocrl, [crl(nocrl, [])])
    assert "cRLSign" in msg


def test_crl_load_and_info(root: pki.Issued) -> None:
    der = crl(root, [make(root, "bad")])
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    assert _core.ike_crl_load(der) == [der]
    assert _core.ike_crl_load(pem + pem) == [der, der]
    issuer, this, nxt, n = _core.ike_crl_info(der)
    assert issuer == "C=JP, O=kame, CN=kame Root CA" and n == 1
    assert nxt is not None and this < NOW < nxt
    for junk in (b"", b"\x30\x03\x02\x01\x00", b"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
                 root.pem):
        with pytest.raises(CertificateError) as ei:
            _core.ike_crl_load(junk)
        assert ei.value.reason == "malformed"
    # a delta CRL (critical deltaCRLIndicator) is not a full list: refused
    delta = (x509.CertificateRevocationListBuilder().issuer_name(root.cert.subject)
             .last_update(NOW_DT).next_update(NOW_DT + dt.timedelta(days=1))
             .add_extension(x509.DeltaCRLIndicator(1), critical=True)
             .sign(root.key, pki._hash(root.key)).public_bytes(serialization.Encoding.DER))
    with pytest.raises(CertificateError) as ei:
        _core.ike_crl_load(delta)
    assert ei.value.reason == "unsupported"


@given(st.binary(max_size=600))
def test_crl_parser_only_raises_typed_errors(data: bytes) -> None:
    for f in (_core.ike_crl_load, _core.ike_crl_info):
        try:
            f(data)
        except CertificateError as e:
            assert e.reason in ("malformed", "unsupported")


@given(st.integers(0, 400), st.integers(0, 255))
def test_flipped_crl_octet_is_typed(pos: int, value: int) -> None:
    # one octet of a real CRL changed: parses, or a typed refusal; never anything else
    data = bytearray(_REAL_CRL)
    data[pos % len(data)] = value
    try:
        _core.ike_cert_verify(_REAL_LEAF, [], [_REAL_ROOT], NOW, [bytes(data)])
    except CertificateError:
        pass


_R = make(None, "kame Root CA", "rsa", n=100, ca=True, key_usage=ku(cert_sign=True, crl_sign=True))
_REAL_ROOT, _REAL_LEAF = _R.der, make(_R, "leaf").der
_REAL_CRL = crl(_R, [make(_R, "bad")])


# --- racoon.conf and the daemon -------------------------------------------------------------

def test_racoon_conf_crl_statements(root: pki.Issued, tmp_path: Path) -> None:
    me = make(root, "alice")
    me.write(tmp_path, "me")
    (tmp_path / "ca.pem").write_bytes(root.pem)
    (tmp_path / "ca.crl").write_bytes(crl(root, [make(root, "x")]))
    text = CONF.format(d=tmp_path, a=A, b=B, peer="")
    with_crl = text.replace("verify_cert on;", 'verify_cert on; crl "ca.crl";')
    p = parse(with_crl).peers[0]
    assert p.cert is not None and len(p.cert.crls) == 1
    # global, before the remotes
    p = parse('crl "ca.crl";\n' + text).peers[0]
    assert p.cert is not None and len(p.cert.crls) == 1
    # racoon's hash-named CRLs in the certificate directory
    (tmp_path / "0a1b2c3d.r0").write_bytes(crl(root, []))
    (tmp_path / "notes.r0.txt").write_text("not a CRL")
    p = parse(with_crl).peers[0]
    assert p.cert is not None and len(p.cert.crls) == 2
    (tmp_path / "0a1b2c3d.r0").unlink()
    with pytest.raises(ConfigError, match=r"line 9: crl takes \"FILE\""):
        parse(text.replace("verify_cert on;", 'verify_cert on; crl "a" "b";'))
    (tmp_path / "bad.crl").write_bytes(b"\x30\x00")
    with pytest.raises(ConfigError, match="crl .*bad.crl: malformed"):
        parse(text.replace("verify_cert on;", 'verify_cert on; crl "bad.crl";'))
    with pytest.raises(ConfigError, match="CRL .*missing.crl"):
        parse(text.replace("verify_cert on;", 'verify_cert on; crl "missing.crl";'))


@pytest.mark.parametrize("case,reason,words", [
    ("revoked", "revoked", "was revoked on"),
    ("key_usage", "key_usage", "neither digitalSignature nor nonRepudiation"),
    ("ext_key_usage", "ext_key_usage", "has extendedKeyUsage codeSigning"),
    ("name_constraints", "name_constraints", "is outside the permitted subtrees"),
])
def test_daemon_refuses_with_the_reason_in_its_log(root: pki.Issued, case: str, reason: str,
                                                   words: str) -> None:
    mid = make(root, "Sub CA", n=7, ca=True, key_usage=ku(cert_sign=True, crl_sign=True),
               nc=x509.NameConstraints(permitted_subtrees=[x509.DirectoryName(_base("kame"))],
                                       excluded_subtrees=None))
    alice = {"revoked": make(mid, "alice"),
             "key_usage": make(mid, "alice", key_usage=ku(kenc=True)),
             "ext_key_usage": make(mid, "alice", eku=[ExtendedKeyUsageOID.CODE_SIGNING]),
             "name_constraints": make(mid, "alice", subject=_dn("evil", "alice"))}[case]
    ca = _auth(alice, [root])
    ca.chain = [alice.der, mid.der]
    cb = _auth(make(root, "bob", "p384"), [root], crls=[crl(mid, [alice])] if case == "revoked" else [])
    a, b, ea, eb = pair(ca, cb)
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert any("AUTHENTICATION_FAILED" in x and f"({reason})" in x and words in x
               for x in b.log), b.log
    assert not len(ea.sad) and not len(eb.sad)
    # the same pair with a good certificate establishes
    good = make(mid, "alice")
    ca = _auth(good, [root])
    ca.chain = [good.der, mid.der]
    a, b, ea, eb = pair(ca, _auth(make(root, "bob", "p384"), [root], crls=[crl(mid, [alice])]))
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in b.sas.values()] == ["ESTABLISHED"], b.log
