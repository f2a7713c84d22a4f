"""Regenerate the DER fixtures of rust/src/ike/cert.rs's unit tests
(`python gen.py` in this directory; needs `cryptography`). Fixed dates:
certificates 2020-2099, the CRLs 2020-2099 except stale.crl (nextUpdate
2030-06-01); the tests verify at 2030-01-01."""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

T0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kame"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ku(sig=False, cert_sign=False, crl_sign=False, kenc=False):
    return x509.KeyUsage(sig, False, kenc, False, False, cert_sign, crl_sign, False, False)


def cert(issuer, issuer_key, cn, key, serial, *, ca=False, path_len=None, usage=None, eku=None,
         sans=(), nc=None):
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(T0).not_valid_after(T1))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
    if usage is not None:
        b = b.add_extension(usage, critical=True)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if nc is not None:
        b = b.add_extension(nc, critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def crl(issuer, key, serials, next_update=T1):
    b = x509.CertificateRevocationListBuilder().issuer_name(issuer).last_update(T0) \
        .next_update(next_update)
    for s in serials:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(s)
                                      .revocation_date(T0).build())
    return b.sign(key, hashes.SHA256())


def out(fname, obj):
    with open(fname, "wb") as f:
        f.write(obj.public_bytes(serialization.Encoding.DER))


def main():
    k = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    rn = name("Root CA")
    root = cert(rn, k[0], "Root CA", k[0], 1, ca=True, path_len=1,
                usage=ku(cert_sign=True, crl_sign=True))
    mid = cert(rn, k[0], "Sub CA", k[1], 2, ca=True, path_len=0, usage=ku(cert_sign=True),
               nc=x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")],
                                       excluded_subtrees=None))
    under = cert(mid.subject, k[1], "Sub2 CA", k[2], 3, ca=True, usage=ku(cert_sign=True))
    out("root.der", root)
    out("mid.der", mid)
    out("leaf_good.der", cert(rn, k[0], "good", k[3], 10, usage=ku(sig=True),
                              eku=[x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")]))
    out("leaf_revoked.der", cert(rn, k[0], "revoked", k[3], 11))
    out("leaf_ku.der", cert(rn, k[0], "ku", k[3], 12, usage=ku(kenc=True)))
    out("leaf_eku.der", cert(rn, k[0], "eku", k[3], 13, eku=[ExtendedKeyUsageOID.CODE_SIGNING]))
    out("leaf_nc_in.der", cert(mid.subject, k[1], "in", k[3], 14,
                               sans=[x509.DNSName("gw.example.com")]))
    out("leaf_nc_out.der", cert(mid.subject, k[1], "out", k[3], 15,
                                sans=[x509.DNSName("gw.example.org")]))
    out("under.der", under)
    out("leaf_deep.der", cert(under.subject, k[2], "deep", k[3], 16,
                              sans=[x509.DNSName("deep.example.com")]))
    out("root.crl", crl(rn, k[0], [11, 99]))
    out("wrongkey.crl", crl(rn, k[1], [99]))
    out("stale.crl", crl(rn, k[0], [], dt.datetime(2030, 6, 1, tzinfo=dt.UTC)))


main()
