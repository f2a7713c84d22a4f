"""X.509 certificates for IKEv2's IKE_AUTH (RFC 7296 §2.15, §3.6-3.8; RFC 7427).

racoon's ``certificate_type x509 "cert" "key"``, ``ca_type x509 "ca"``,
``my_identifier asn1dn`` and ``verify_cert`` become one :class:`CertAuth`
on a :class:`kame.ike.ikev2.Peer`, with the CRLs of racoon.conf's ``crl
"FILE"`` and of the hash-named files in ``path certificate``. Parsing,
chain verification (keyUsage, extendedKeyUsage, pathLenConstraint,
nameConstraints, revocation), the
identity check and every signature are in the Rust core
(``kame._core.ike_cert_*``, ``ike_auth_verify``, ``IkeKey``); this module
holds the configuration and the IKE-side glue: CERT and CERTREQ payload
bodies, SIGNATURE_HASH_ALGORITHMS, the ID payload for a certificate.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from kame import _core
from kame.errors import CertificateError, ConfigError

__all__ = ["CertAuth", "cert_body", "certreq_body", "hash_algorithms", "parse_cert"]

#: CERT/CERTREQ encoding (RFC 7296 §3.6): X.509 Certificate - Signature
CERT_X509_SIGNATURE = 4
#: Notify SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4)
N_SIGNATURE_HASH_ALGORITHMS = 16431
#: the hashes we take and sign with: SHA2-256, SHA2-384, SHA2-512
OUR_HASHES = (2, 3, 4)
AUTH_NAMES = {1: "RSA Digital Signature", 2: "Shared Key Message Integrity Code",
              9: "ECDSA with SHA-256 on P-256", 10: "ECDSA with SHA-384 on P-384",
              11: "ECDSA with SHA-512 on P-521", 14: "Digital Signature (RFC 7427)"}
ID_DER_ASN1_DN = 9


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{what} {path}: {e.strerror}", layer="ike") from None


def _dn_key(text: str) -> list[str]:
    """A DN's text compared loosely: RDNs split on commas, spaces trimmed."""
    return [p.strip().replace(" = ", "=") for p in text.split(",") if p.strip()]


@dataclass
class CertAuth:
    """Our certificate chain and key, the CAs we trust, and how identities
    are named. ``my_id_kind``/``peer_id_kind`` are racoon's identifier
    kinds ("asn1dn", "fqdn", "user_fqdn", "address"); an "asn1dn" with no
    value is the certificate's subject."""

    chain: list[bytes]
    key: _core.IkeKey
    cas: list[bytes]
    verify: bool = True
    my_id_kind: str = "asn1dn"
    peer_id_kind: str = "asn1dn"
    peer_id: str = ""
    #: DER CRLs (racoon.conf ``crl "FILE"``; hash-named ``*.r0`` files in ``path certificate``)
    crls: list[bytes] = field(default_factory=list)
    #: the classic AUTH method (1, 9, 10) when the peer sends no SIGNATURE_HASH_ALGORITHMS
    classic: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not self.chain:
            raise ConfigError("certificate_type x509: no certificate in the file", layer="ike")
        info = _core.ike_cert_info(self.chain[0])
        if info[7] != self.key.key_type:
            raise ConfigError(f"certificate_type x509: the key is {self.key.key_type}, the "
                              f"certificate's {info[7]}", layer="ike")
        self.classic = {"p256": 9, "p384": 10}.get(info[7], 1)

    @classmethod
    def load(cls, cert: Path, key: Path, cas: list[Path], crls: list[Path] | None = None,
             **kw: object) -> CertAuth:
        """Read PEM or DER files (``cert`` may hold the chain, leaf first;
        a CRL file may hold several X509 CRL blocks)."""
        try:
            chain = list(_core.ike_cert_load(_read(cert, "certificate")))
            k = _core.IkeKey(_read(key, "private key"))
            anchors = [c for p in cas for c in _core.ike_cert_load(_read(p, "CA certificate"))]
        except CertificateError as e:
            raise ConfigError(f"certificate_type x509: {e}", layer="ike") from None
        lists = []
        for p in crls or []:
            try:
                lists += _core.ike_crl_load(_read(p, "CRL"))
            except CertificateError as e:
                raise ConfigError(f"crl {p}: {e}", layer="ike") from None
        return cls(chain, k, anchors, crls=lists, **kw)  # type: ignore[arg-type]

    @property
    def subject(self) -> str:
        return str(_core.ike_cert_info(self.chain[0])[1])

    def my_id(self, value: str) -> tuple[int, bytes] | None:
        """Our ID payload (type, data) when the certificate names it."""
        if self.my_id_kind == "asn1dn":
            return ID_DER_ASN1_DN, bytes(_core.ike_cert_info(self.chain[0])[0])
        return None

    def ca_hashes(self) -> bytes:
        """CERTREQ's Certification Authority field: SHA-1 of each CA's SPKI."""
        return b"".join(bytes(_core.ike_cert_info(c)[5]) for c in self.cas)

    def check_peer(self, certs: list[bytes], id_type: int, id_data: bytes,
                   now: float | None = None) -> bytes:
        """The peer's certificate (the first of ``certs``) once its chain
        reaches one of our CAs (keyUsage, extendedKeyUsage, pathLenConstraint,
        nameConstraints and our CRLs holding), it is in its dates, and the ID
        payload names it; else :class:`kame.errors.CertificateError`."""
        if not certs:
            raise CertificateError("the peer sent no certificate (CERT payload)", layer="ike",
                                   reason="no_certificate")
        leaf = certs[0]
        if self.verify:
            _core.ike_cert_verify(leaf, certs[1:], self.cas,
                                  int(time.time() if now is None else now), self.crls)
        _core.ike_cert_id_match(leaf, id_type, id_data)
        if self.peer_id_kind == "asn1dn" and self.peer_id:
            got = _core.ike_dn_text(id_data) if id_type == ID_DER_ASN1_DN else ""
            if _dn_key(got) != _dn_key(self.peer_id):
                raise CertificateError(
                    f"peer's ID {got or 'of type ' + str(id_type)!r} is not the configured "
                    f"peers_identifier asn1dn {self.peer_id!r}", layer="ike", reason="id_mismatch")
        return leaf

    def sign(self, peer_hashes: list[int], octets: bytes) -> tuple[int, bytes]:
        """(AUTH method, data): RFC 7427's method 14 when the peer sent
        SIGNATURE_HASH_ALGORITHMS, else the key's classic method."""
        if peer_hashes:
            ok = [h for h in OUR_HASHES if h in peer_hashes]
            return tuple(self.key.sign_auth(14, ok, octets))  # type: ignore[return-value]
        return tuple(self.key.sign_auth(self.classic, [], octets))  # type: ignore[return-value]


def parse_cert(body: bytes) -> tuple[int, bytes]:
    """A CERT payload body: (encoding, data)."""
    if len(body) < 1:
        raise CertificateError("empty CERT payload", layer="ike", reason="malformed")
    return body[0], bytes(body[1:])


def cert_body(der: bytes) -> bytes:
    return bytes([CERT_X509_SIGNATURE]) + der


def certreq_body(ca_hashes: bytes) -> bytes:
    return bytes([CERT_X509_SIGNATURE]) + ca_hashes


def hash_algorithms(data: bytes) -> list[int]:
    """SIGNATURE_HASH_ALGORITHMS' data: 16-bit hash identifiers."""
    return [struct.unpack_from(">H", data, i)[0] for i in range(0, len(data) - 1, 2)]


def hash_algorithms_data() -> bytes:
    return b"".join(struct.pack(">H", h) for h in OUR_HASHES)
