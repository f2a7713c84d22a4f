"""A small PKI for the IKE certificate tests, made with the `cryptography`
package: a CA and end-entity certificates (RSA or ECDSA P-256/P-384) with
subjectAltNames, any validity window, PEM files for racoon and strongSwan."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)
_KEYS: dict[tuple[str, int], Any] = {}


def key(kind: str, n: int = 0) -> Any:
    """A private key, cached per (kind, n) so tests stay fast."""
    if (kind, n) not in _KEYS:
        if kind == "rsa":
            _KEYS[kind, n] = rsa.generate_private_key(65537, 2048)
        else:
            _KEYS[kind, n] = ec.generate_private_key(
                {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[kind])
    return _KEYS[kind, n]


def name(cn: str, o: str = "kame") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _hash(k: Any) -> Any:
    if isinstance(k, ec.EllipticCurvePrivateKey) and k.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def subject_der(self) -> bytes:
        return self.cert.subject.public_bytes()

    @property
    def subject(self) -> str:
        return ", ".join(f"{a.rfc4514_attribute_name}={a.value!s}" for a in self.cert.subject)

    def write(self, d: Path, stem: str) -> tuple[Path, Path]:
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{stem}.pem").write_bytes(self.pem)
        (d / f"{stem}.key").write_bytes(self.key_pem)
        return d / f"{stem}.pem", d / f"{stem}.key"


def ca(cn: str = "kame Root CA", kind: str = "rsa", n: int = 0) -> Issued:
    k = key(kind, 100 + n)
    c = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - dt.timedelta(days=1))
         .not_valid_after(NOW + dt.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                      False), critical=True)
         .sign(k, _hash(k)))
    return Issued(c, k)


def leaf(issuer: Issued, cn: str, kind: str = "rsa", *, n: int = 0, dns: tuple[str, ...] = (),
         email: tuple[str, ...] = (), ips: tuple[str, ...] = (), days: tuple[int, int] = (-1, 30),
         is_ca: bool = False, critical_oid: str = "", key_usage: x509.KeyUsage | None = None,
         eku: list[x509.ObjectIdentifier] | None = None) -> Issued:
    k = key(kind, n)
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer.cert.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW + dt.timedelta(days=days[0]))
         .not_valid_after(NOW + dt.timedelta(days=days[1])))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.RFC822Name(e) for e in email]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if critical_oid:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(critical_oid),
                                                       b"\x05\x00"), critical=True)
    if is_ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return Issued(b.sign(issuer.key, _hash(issuer.key)), k)


def crl(issuer: Issued, revoked: list[Issued], days: tuple[int, int] = (-1, 7)) -> bytes:
    """A DER CRL of ``issuer`` listing the serials of ``revoked``."""
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
         .last_update(NOW + dt.timedelta(days=days[0]))
         .next_update(NOW + dt.timedelta(days=days[1])))
    for c in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(c.cert.serial_number)
            .revocation_date(NOW - dt.timedelta(hours=1)).build())
    return b.sign(issuer.key, _hash(issuer.key)).public_bytes(serialization.Encoding.DER)
