//! X.509 certificates for IKE_AUTH (RFC 7296 §3.6-3.8, §2.15; RFC 7427).
//!
//! Certificates are parsed with `x509-parser`; every signature (the CA's
//! over a certificate, the peer's over the AUTH octets) is checked with
//! ring, and our own AUTH is signed with ring from a PKCS#8 key. Chain
//! verification is the plain RFC 5280 path check IKE needs: each
//! certificate inside its validity dates at `now`, issued (name and
//! signature) by the next one, every issuer a CA (basicConstraints), the
//! last one issued by a configured trust anchor. The ID payload must name
//! the certificate: its subject DN (ID_DER_ASN1_DN) or one of its
//! subjectAltNames (FQDN, RFC822, IPv4/IPv6 address).
//!
//! On the built path ([`verify_chain_crl`]):
//! - keyUsage (RFC 5280 §4.2.1.3): every CA with the extension must have
//!   keyCertSign; the end-entity's, when present, digitalSignature or
//!   nonRepudiation (RFC 4945 §5.1.3.2, as strongSwan).
//! - extendedKeyUsage (RFC 4945 §5.1.3.12): absent, or holding
//!   id-kp-ipsecIKE or anyExtendedKeyUsage, as the RFC's logic says; we
//!   also take id-kp-serverAuth and id-kp-clientAuth, which Windows and
//!   strongSwan (`pki --flag serverAuth`) CAs put in IKE certificates.
//!   Criticality does not change the test.
//! - pathLenConstraint (RFC 5280 §6.1.4): non-self-issued CAs below a CA,
//!   the anchor's own constraint included.
//! - nameConstraints (RFC 5280 §4.2.1.10) of every CA (anchor included)
//!   over every certificate below it (self-issued intermediates skipped,
//!   §6.1.3 b): directoryName (RDN prefix; string values compared
//!   case-insensitively, trimmed), dNSName, rfc822Name (mailbox, host,
//!   .domain; the subject's emailAddress too), iPAddress (v4 and v6 one
//!   form: IPv6 subtrees alone leave no IPv4 address permitted). Any other
//!   form in a critical extension refuses the path.
//! - CRLs (RFC 5280 §5): every configured CRL whose issuer is a
//!   certificate's issuer must verify with that issuer's key (which must
//!   allow cRLSign when it has keyUsage) and be inside thisUpdate/nextUpdate;
//!   a listed serial is revoked. No CRL for an issuer: no revocation check.
//!   Delta CRLs and CRLs with an issuingDistributionPoint are refused at
//!   load (we do not scope partial CRLs). OCSP is not done (no network
//!   peer in the daemon for it).
//!
//! Every failure is a [`CertError`] that names the cause.

use core::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use sha1::{Digest, Sha1};
use x509_parser::extensions::{ExtendedKeyUsage, GeneralName, NameConstraints, ParsedExtension};
use x509_parser::oid_registry::asn1_rs::oid;
use x509_parser::oid_registry::{
    OID_X509_EXT_DELTA_CRL_INDICATOR, OID_X509_EXT_ISSUER_DISTRIBUTION_POINT, OID_X509_EXT_NAME_CONSTRAINTS,
};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_NIST_HASH_SHA256,
    OID_NIST_HASH_SHA384, OID_NIST_HASH_SHA512, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA1WITHRSA,
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
    OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512,
};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// IKEv2 Authentication Methods (IANA).
pub const AUTH_RSA: u8 = 1;
pub const AUTH_ECDSA_256: u8 = 9;
pub const AUTH_ECDSA_384: u8 = 10;
pub const AUTH_ECDSA_521: u8 = 11;
pub const AUTH_DIGITAL_SIGNATURE: u8 = 14;

/// IKEv2 ID types that can name a certificate.
pub const ID_IPV4_ADDR: u8 = 1;
pub const ID_FQDN: u8 = 2;
pub const ID_RFC822_ADDR: u8 = 3;
pub const ID_IPV6_ADDR: u8 = 5;
pub const ID_DER_ASN1_DN: u8 = 9;

/// RFC 7427 hash algorithm identifiers (SIGNATURE_HASH_ALGORITHMS).
pub const HASH_SHA1: u16 = 1;
pub const HASH_SHA256: u16 = 2;
pub const HASH_SHA384: u16 = 3;
pub const HASH_SHA512: u16 = 4;

/// Longest chain walked (leaf, intermediates, anchor).
pub const MAX_DEPTH: usize = 8;
/// Largest certificate or key accepted (DER octets).
pub const MAX_DER: usize = 16384;

/// Why a certificate, a chain, an identity or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// Not a DER X.509 certificate (or trailing octets after one).
    Malformed(String),
    /// A certificate, key, algorithm or curve the core does not do.
    Unsupported(String),
    /// Now is before notBefore.
    NotYetValid { subject: String, not_before: i64 },
    /// Now is after notAfter.
    Expired { subject: String, not_after: i64 },
    /// No configured CA (nor a CERT payload) issued this certificate.
    UnknownIssuer { subject: String, issuer: String },
    /// An issuer in the chain is not a CA (basicConstraints cA false/absent on v3).
    NotCa { subject: String },
    /// The chain is longer than [`MAX_DEPTH`].
    TooDeep,
    /// The issuer's signature over a certificate does not verify.
    BadCertSignature { subject: String },
    /// The ID payload does not name the certificate.
    IdMismatch { id: String, subject: String },
    /// The AUTH payload's signature does not verify with the certificate's key.
    BadAuthSignature,
    /// The private key is unusable (not PKCS#8/PKCS#1 RSA, not P-256/P-384).
    BadKey(String),
    /// A CA in the path has keyUsage without keyCertSign (RFC 5280 §4.2.1.3).
    CaKeyUsage { subject: String },
    /// The end-entity's keyUsage allows neither digitalSignature nor nonRepudiation.
    KeyUsage { subject: String },
    /// The end-entity's extendedKeyUsage names no IKE purpose (RFC 4945 §5.1.3.12).
    ExtKeyUsage { subject: String, purposes: String },
    /// More CA certificates below a CA than its pathLenConstraint allows.
    PathLen { ca: String, path_len: u32, below: u32 },
    /// A name of a certificate is outside a CA's permitted subtrees or inside its excluded ones.
    NameConstraint { subject: String, ca: String, why: String },
    /// A critical nameConstraints holds a name form we do not check.
    NameConstraintUnsupported { ca: String, form: String },
    /// The certificate's serial is on its issuer's CRL.
    Revoked { subject: String, serial: String, revoked_at: i64 },
    /// A configured CRL naming the issuer is not signed by it (or the issuer may not sign CRLs).
    CrlBadSignature { issuer: String, why: String },
    /// A configured CRL is past its nextUpdate.
    CrlExpired { issuer: String, next_update: i64 },
    /// A configured CRL's thisUpdate is in the future.
    CrlNotYetValid { issuer: String, this_update: i64 },
}

impl CertError {
    /// A short stable code for the kind (Python's `CertificateError.reason`).
    pub fn code(&self) -> &'static str {
        match self {
            CertError::Malformed(_) => "malformed",
            CertError::Unsupported(_) => "unsupported",
            CertError::NotYetValid { .. } => "not_yet_valid",
            CertError::Expired { .. } => "expired",
            CertError::UnknownIssuer { .. } => "unknown_issuer",
            CertError::NotCa { .. } => "not_ca",
            CertError::TooDeep => "too_deep",
            CertError::BadCertSignature { .. } => "bad_cert_signature",
            CertError::IdMismatch { .. } => "id_mismatch",
            CertError::BadAuthSignature => "bad_auth_signature",
            CertError::BadKey(_) => "bad_key",
            CertError::CaKeyUsage { .. } => "ca_key_usage",
            CertError::KeyUsage { .. } => "key_usage",
            CertError::ExtKeyUsage { .. } => "ext_key_usage",
            CertError::PathLen { .. } => "path_len",
            CertError::NameConstraint { .. } => "name_constraints",
            CertError::NameConstraintUnsupported { .. } => "name_constraint_unsupported",
            CertError::Revoked { .. } => "revoked",
            CertError::CrlBadSignature { .. } => "crl_bad_signature",
            CertError::CrlExpired { .. } => "crl_expired",
            CertError::CrlNotYetValid { .. } => "crl_not_yet_valid",
        }
    }
}

fn utc(t: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(t).map_or_else(|_| t.to_string(), |a| a.to_string())
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Malformed(w) => write!(f, "malformed certificate: {w}"),
            CertError::Unsupported(w) => write!(f, "unsupported: {w}"),
            CertError::NotYetValid { subject, not_before } => {
                write!(f, "certificate \"{subject}\" is not valid before {}", utc(*not_before))
            }
            CertError::Expired { subject, not_after } => {
                write!(f, "certificate \"{subject}\" expired on {}", utc(*not_after))
            }
            CertError::UnknownIssuer { subject, issuer } => write!(
                f,
                "certificate \"{subject}\" is issued by \"{issuer}\", which is not a configured CA"
            ),
            CertError::NotCa { subject } => write!(f, "certificate \"{subject}\" issues certificates but is not a CA"),
            CertError::TooDeep => write!(f, "certificate chain longer than {MAX_DEPTH}"),
            CertError::BadCertSignature { subject } => {
                write!(f, "the issuer's signature on certificate \"{subject}\" does not verify")
            }
            CertError::IdMismatch { id, subject } => {
                write!(f, "ID {id} is neither the subject nor a subjectAltName of certificate \"{subject}\"")
            }
            CertError::BadAuthSignature => write!(f, "the AUTH signature does not verify with the peer's certificate"),
            CertError::BadKey(w) => write!(f, "private key: {w}"),
            CertError::CaKeyUsage { subject } => {
                write!(f, "CA certificate \"{subject}\" has keyUsage without keyCertSign")
            }
            CertError::KeyUsage { subject } => write!(
                f,
                "certificate \"{subject}\" has keyUsage allowing neither digitalSignature nor nonRepudiation"
            ),
            CertError::ExtKeyUsage { subject, purposes } => write!(
                f,
                "certificate \"{subject}\" has extendedKeyUsage {purposes}, none of ipsecIKE, serverAuth, \
                 clientAuth, anyExtendedKeyUsage"
            ),
            CertError::PathLen { ca, path_len, below } => write!(
                f,
                "CA certificate \"{ca}\" has pathLenConstraint {path_len} but {below} CA certificates below it"
            ),
            CertError::NameConstraint { subject, ca, why } => {
                write!(f, "certificate \"{subject}\" breaks the nameConstraints of CA \"{ca}\": {why}")
            }
            CertError::NameConstraintUnsupported { ca, form } => write!(
                f,
                "CA certificate \"{ca}\" has critical nameConstraints with a {form} subtree, which we do not check"
            ),
            CertError::Revoked { subject, serial, revoked_at } => write!(
                f,
                "certificate \"{subject}\" (serial {serial}) was revoked on {} by its issuer's CRL",
                utc(*revoked_at)
            ),
            CertError::CrlBadSignature { issuer, why } => write!(f, "CRL of \"{issuer}\": {why}"),
            CertError::CrlExpired { issuer, next_update } => {
                write!(f, "CRL of \"{issuer}\" is stale: its nextUpdate was {}", utc(*next_update))
            }
            CertError::CrlNotYetValid { issuer, this_update } => {
                write!(f, "CRL of \"{issuer}\" is not valid before {}", utc(*this_update))
            }
        }
    }
}

impl std::error::Error for CertError {}

pub type Result<T> = core::result::Result<T, CertError>;

/// Parse one DER certificate; trailing octets are refused.
pub fn parse(der: &[u8]) -> Result<X509Certificate<'_>> {
    if der.len() > MAX_DER {
        return Err(CertError::Malformed(format!("{} octets (at most {MAX_DER})", der.len())));
    }
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Ok(c),
        Ok((rest, _)) => Err(CertError::Malformed(format!("{} octets after the certificate", rest.len()))),
        Err(e) => Err(CertError::Malformed(e.to_string())),
    }
}

/// DER certificates (or keys) from PEM text or one DER blob: the DER
/// contents of every PEM block whose label contains `label`.
pub fn pem_or_der(data: &[u8], label: &str) -> Result<Vec<Vec<u8>>> {
    if data.len() > 16 * MAX_DER {
        return Err(CertError::Malformed("file too large".into()));
    }
    if data.first() == Some(&0x30) {
        return Ok(vec![data.to_vec()]);
    }
    let mut out = Vec::new();
    for p in x509_parser::pem::Pem::iter_from_buffer(data) {
        let p = p.map_err(|e| CertError::Malformed(format!("PEM: {e}")))?;
        if p.label.contains(label) {
            out.push(p.contents);
        }
        if out.len() > MAX_DEPTH * 4 {
            return Err(CertError::Malformed("too many PEM blocks".into()));
        }
    }
    if out.is_empty() {
        return Err(CertError::Malformed(format!("no PEM block labelled {label}")));
    }
    Ok(out)
}

/// What the IKE layer needs to know of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// DER of the subject Name (the ID_DER_ASN1_DN identity).
    pub subject_der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-1 of the SubjectPublicKeyInfo (CERTREQ's CA value, RFC 7296 §3.7).
    pub spki_sha1: [u8; 20],
    /// subjectAltNames as IKE ID (type, data) pairs.
    pub alt_ids: Vec<(u8, Vec<u8>)>,
    /// "rsa", "p256", "p384", "p521" or "other".
    pub key_type: &'static str,
}

fn key_type(spki: &SubjectPublicKeyInfo<'_>) -> &'static str {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION {
        return "rsa";
    }
    if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 => "p256",
            Some(c) if c == OID_NIST_EC_P384 => "p384",
            Some(c) if c == OID_NIST_EC_P521 => "p521",
            _ => "other",
        };
    }
    "other"
}

fn alt_ids(c: &X509Certificate<'_>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for g in &san.value.general_names {
            match g {
                GeneralName::DNSName(s) => out.push((ID_FQDN, s.as_bytes().to_vec())),
                GeneralName::RFC822Name(s) => out.push((ID_RFC822_ADDR, s.as_bytes().to_vec())),
                GeneralName::IPAddress(a) if a.len() == 4 => out.push((ID_IPV4_ADDR, a.to_vec())),
                GeneralName::IPAddress(a) if a.len() == 16 => out.push((ID_IPV6_ADDR, a.to_vec())),
                GeneralName::DirectoryName(n) => out.push((ID_DER_ASN1_DN, n.as_raw().to_vec())),
                _ => {}
            }
        }
    }
    out
}

pub fn info(der: &[u8]) -> Result<Info> {
    let c = parse(der)?;
    let mut spki_sha1 = [0u8; 20];
    spki_sha1.copy_from_slice(&Sha1::digest(c.public_key().raw));
    Ok(Info {
        subject_der: c.subject().as_raw().to_vec(),
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        spki_sha1,
        alt_ids: alt_ids(&c),
        key_type: key_type(c.public_key()),
    })
}

/// The text form ("C=CH, O=kame, CN=moon") of a DER Name, as an ID payload carries it.
pub fn dn_text(der: &[u8]) -> Result<String> {
    match X509Name::from_der(der) {
        Ok(([], n)) => Ok(n.to_string()),
        Ok(_) => Err(CertError::Malformed("octets after the Name".into())),
        Err(e) => Err(CertError::Malformed(format!("Name: {e}"))),
    }
}

/// RFC 5280 §4.2: a critical extension we do not understand refuses the certificate.
fn check_critical(c: &X509Certificate<'_>) -> Result<()> {
    for e in c.extensions() {
        if e.critical && (e.parsed_extension().unsupported() || e.parsed_extension().error().is_some()) {
            return Err(CertError::Unsupported(format!(
                "certificate \"{}\" has critical extension {} that we do not understand",
                c.subject(),
                e.oid
            )));
        }
    }
    Ok(())
}

fn check_dates(c: &X509Certificate<'_>, now: i64) -> Result<()> {
    check_critical(c)?;
    let v = c.validity();
    if now < v.not_before.timestamp() {
        return Err(CertError::NotYetValid { subject: c.subject().to_string(), not_before: v.not_before.timestamp() });
    }
    if now > v.not_after.timestamp() {
        return Err(CertError::Expired { subject: c.subject().to_string(), not_after: v.not_after.timestamp() });
    }
    Ok(())
}

fn may_issue(c: &X509Certificate<'_>, anchor: bool) -> Result<()> {
    match c.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(()),
        // a v1 certificate (no extensions) is a CA only when configured as one
        Ok(None) if anchor && c.version().0 == 0 => Ok(()),
        Ok(_) => Err(CertError::NotCa { subject: c.subject().to_string() }),
        Err(e) => Err(CertError::Malformed(format!("basicConstraints: {e}"))),
    }
}

fn signed_by(c: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Result<()> {
    c.verify_signature(Some(issuer.public_key()))
        .map_err(|_| CertError::BadCertSignature { subject: c.subject().to_string() })
}

/// Verify `leaf` up to one of the trust anchors `cas`, through any of
/// `intermediates` (the peer's other CERT payloads), at Unix time `now`.
/// Returns the number of certificates in the path, anchor included.
pub fn verify_chain(leaf: &[u8], intermediates: &[Vec<u8>], cas: &[Vec<u8>], now: i64) -> Result<usize> {
    verify_chain_crl(leaf, intermediates, cas, &[], now)
}

/// [`verify_chain`], then the path's constraints (keyUsage,
/// extendedKeyUsage, pathLenConstraint, nameConstraints) and, for every
/// certificate whose issuer has a CRL among `crls` (DER), revocation.
pub fn verify_chain_crl(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    cas: &[Vec<u8>],
    crls: &[Vec<u8>],
    now: i64,
) -> Result<usize> {
    let leaf = parse(leaf)?;
    let inter: Vec<X509Certificate<'_>> =
        intermediates.iter().take(MAX_DEPTH).map(|d| parse(d)).collect::<Result<_>>()?;
    let anchors: Vec<X509Certificate<'_>> = cas.iter().map(|d| parse(d)).collect::<Result<_>>()?;
    let crls: Vec<CertificateRevocationList<'_>> = crls.iter().map(|d| parse_crl(d)).collect::<Result<_>>()?;
    check_dates(&leaf, now)?;
    // the path, leaf first, anchor last
    let mut path: Vec<&X509Certificate<'_>> = vec![&leaf];
    'walk: loop {
        if path.len() >= MAX_DEPTH {
            return Err(CertError::TooDeep);
        }
        let Some(&cur) = path.last() else { return Err(CertError::TooDeep) };
        // a configured CA that names and signs the current certificate ends the path
        let mut last = None;
        for a in anchors.iter().filter(|a| a.subject().as_raw() == cur.issuer().as_raw()) {
            match signed_by(cur, a) {
                Ok(()) => {
                    may_issue(a, true)?;
                    check_dates(a, now)?;
                    path.push(a);
                    break 'walk;
                }
                Err(e) => last = Some(e),
            }
        }
        let next = inter.iter().find(|i| {
            i.subject().as_raw() == cur.issuer().as_raw() && i.as_raw() != cur.as_raw() && signed_by(cur, i).is_ok()
        });
        match next {
            Some(i) => {
                may_issue(i, false)?;
                check_dates(i, now)?;
                path.push(i);
            }
            None => {
                return Err(last.unwrap_or_else(|| CertError::UnknownIssuer {
                    subject: cur.subject().to_string(),
                    issuer: cur.issuer().to_string(),
                }))
            }
        }
    }
    check_path(&path)?;
    for (c, issuer) in path.iter().zip(path.iter().skip(1)) {
        check_revocation(c, issuer, &crls, now)?;
    }
    Ok(path.len())
}

fn self_issued(c: &X509Certificate<'_>) -> bool {
    c.subject().as_raw() == c.issuer().as_raw()
}

/// keyUsage, extendedKeyUsage, pathLenConstraint and nameConstraints over
/// a built path (leaf first, anchor last).
fn check_path(path: &[&X509Certificate<'_>]) -> Result<()> {
    let Some(&leaf) = path.first() else { return Ok(()) };
    let malformed = |what: &str, e: x509_parser::error::X509Error| CertError::Malformed(format!("{what}: {e}"));
    // RFC 4945 §5.1.3.2: digitalSignature or nonRepudiation (as strongSwan)
    if let Some(ku) = leaf.key_usage().map_err(|e| malformed("keyUsage", e))? {
        if !ku.value.digital_signature() && !ku.value.non_repudiation() {
            return Err(CertError::KeyUsage { subject: leaf.subject().to_string() });
        }
    }
    if let Some(eku) = leaf.extended_key_usage().map_err(|e| malformed("extendedKeyUsage", e))? {
        let e = eku.value;
        if !(e.any || e.server_auth || e.client_auth || e.other.contains(&OID_KP_IPSEC_IKE)) {
            return Err(CertError::ExtKeyUsage { subject: leaf.subject().to_string(), purposes: eku_text(e) });
        }
    }
    for (k, ca) in path.iter().enumerate().skip(1) {
        if let Some(ku) = ca.key_usage().map_err(|e| malformed("keyUsage", e))? {
            if !ku.value.key_cert_sign() {
                return Err(CertError::CaKeyUsage { subject: ca.subject().to_string() });
            }
        }
        if let Ok(Some(bc)) = ca.basic_constraints() {
            if let Some(n) = bc.value.path_len_constraint {
                // RFC 5280 §6.1.4 (l)/(m): self-issued CAs below do not count
                let below = path.iter().take(k).skip(1).filter(|c| !self_issued(c)).count() as u32;
                if below > n {
                    return Err(CertError::PathLen { ca: ca.subject().to_string(), path_len: n, below });
                }
            }
        }
        if let Some(nc) = ca.get_extension_unique(&OID_X509_EXT_NAME_CONSTRAINTS).map_err(|e| malformed("nameConstraints", e))? {
            let ParsedExtension::NameConstraints(c) = nc.parsed_extension() else {
                return Err(CertError::Malformed(format!("nameConstraints of \"{}\"", ca.subject())));
            };
            let subtrees = c.permitted_subtrees.iter().chain(c.excluded_subtrees.iter()).flatten();
            for t in subtrees {
                if let Some(form) = unchecked_form(&t.base) {
                    if nc.critical {
                        return Err(CertError::NameConstraintUnsupported { ca: ca.subject().to_string(), form: form.into() });
                    }
                }
            }
            for (j, c_below) in path.iter().take(k).enumerate() {
                // RFC 5280 §6.1.3 (b): a self-issued CA below is not checked
                if j > 0 && self_issued(c_below) {
                    continue;
                }
                check_names(c_below, ca, c)?;
            }
        }
    }
    Ok(())
}

/// id-kp-ipsecIKE (RFC 4945 §5.1.3.12).
const OID_KP_IPSEC_IKE: Oid<'static> = oid!(1.3.6.1.5.5.7.3.17);

fn eku_text(e: &ExtendedKeyUsage<'_>) -> String {
    let mut v: Vec<String> = Vec::new();
    for (on, name) in [
        (e.code_signing, "codeSigning"),
        (e.email_protection, "emailProtection"),
        (e.time_stamping, "timeStamping"),
        (e.ocsp_signing, "OCSPSigning"),
    ] {
        if on {
            v.push(name.into());
        }
    }
    v.extend(e.other.iter().map(|o| o.to_id_string()));
    if v.is_empty() {
        "(empty)".into()
    } else {
        v.join(", ")
    }
}

/// The name forms of a subtree we do not check (None for those we do).
fn unchecked_form(g: &GeneralName<'_>) -> Option<&'static str> {
    match g {
        GeneralName::DirectoryName(_) | GeneralName::DNSName(_) | GeneralName::RFC822Name(_) => None,
        GeneralName::IPAddress(_) => None,
        GeneralName::URI(_) => Some("uniformResourceIdentifier"),
        GeneralName::OtherName(..) => Some("otherName"),
        GeneralName::X400Address(_) => Some("x400Address"),
        GeneralName::EDIPartyName(_) => Some("ediPartyName"),
        GeneralName::RegisteredID(_) => Some("registeredID"),
        GeneralName::Invalid(..) => Some("invalid"),
    }
}

/// One name of a certificate, as nameConstraints compares it.
enum Name<'a> {
    Dn(&'a X509Name<'a>),
    Dns(&'a str),
    Mail(&'a str),
    Ip(&'a [u8]),
}

impl Name<'_> {
    fn text(&self) -> String {
        match self {
            Name::Dn(n) => format!("directoryName \"{n}\""),
            Name::Dns(s) => format!("dNSName \"{s}\""),
            Name::Mail(s) => format!("rfc822Name \"{s}\""),
            Name::Ip(a) => match a.len() {
                4 => format!("iPAddress {}", std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*a).unwrap_or_default())),
                16 => format!("iPAddress {}", std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*a).unwrap_or_default())),
                _ => "iPAddress (bad length)".into(),
            },
        }
    }

    /// Whether `base` is the same form (then Some(within the subtree)).
    fn within(&self, base: &GeneralName<'_>) -> Option<bool> {
        match (self, base) {
            (Name::Dn(n), GeneralName::DirectoryName(b)) => Some(dn_within(n, b)),
            (Name::Dns(n), GeneralName::DNSName(b)) => Some(dns_within(n, b)),
            (Name::Mail(n), GeneralName::RFC822Name(b)) => Some(mail_within(n, b)),
            (Name::Ip(n), GeneralName::IPAddress(b)) => Some(ip_within(n, b)),
            _ => None,
        }
    }
}

fn attr_key(a: &x509_parser::x509::AttributeTypeAndValue<'_>) -> (String, Vec<u8>) {
    // string values compared case-insensitively, spaces trimmed (RFC 5280 §7.1, simplified)
    let v = match a.as_str() {
        Ok(s) => s.trim().to_lowercase().into_bytes(),
        Err(_) => a.attr_value().data.to_vec(),
    };
    (a.attr_type().to_id_string(), v)
}

/// RFC 5280 §4.2.1.10: the base's RDNs are the first RDNs of the name.
fn dn_within(n: &X509Name<'_>, base: &X509Name<'_>) -> bool {
    let rdn = |r: &x509_parser::x509::RelativeDistinguishedName<'_>| {
        let mut v: Vec<_> = r.iter().map(attr_key).collect();
        v.sort();
        v
    };
    let names: Vec<_> = n.iter_rdn().map(rdn).collect();
    let bases: Vec<_> = base.iter_rdn().map(rdn).collect();
    bases.len() <= names.len() && names.iter().zip(&bases).all(|(a, b)| a == b)
}

fn dns_within(n: &str, base: &str) -> bool {
    let n = n.trim_end_matches('.').to_ascii_lowercase();
    let b = base.trim_end_matches('.').to_ascii_lowercase();
    if b.is_empty() {
        return true;
    }
    if let Some(dom) = b.strip_prefix('.') {
        return n.ends_with(&format!(".{dom}"));
    }
    n == b || n.ends_with(&format!(".{b}"))
}

fn mail_within(n: &str, base: &str) -> bool {
    let Some((local, host)) = n.rsplit_once('@') else { return false };
    if let Some((bl, bh)) = base.rsplit_once('@') {
        // a mailbox: the local part exact, the host case-insensitive
        return local == bl && host.eq_ignore_ascii_case(bh);
    }
    let b = base.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    if let Some(dom) = b.strip_prefix('.') {
        return host.ends_with(&format!(".{dom}"));
    }
    host == b
}

fn ip_within(n: &[u8], base: &[u8]) -> bool {
    if base.len() != 2 * n.len() {
        return false;
    }
    let (addr, mask) = base.split_at(n.len());
    n.iter().zip(addr).zip(mask).all(|((x, a), m)| x & m == a & m)
}

/// The subject DN, its emailAddress attributes and subjectAltNames of `c`
/// against the nameConstraints `nc` of `ca`.
fn check_names(c: &X509Certificate<'_>, ca: &X509Certificate<'_>, nc: &NameConstraints<'_>) -> Result<()> {
    let mut names: Vec<Name<'_>> = Vec::new();
    if c.subject().iter_rdn().next().is_some() {
        names.push(Name::Dn(c.subject()));
    }
    for e in c.subject().iter_email() {
        if let Ok(s) = e.as_str() {
            names.push(Name::Mail(s));
        }
    }
    let san = c.subject_alternative_name().map_err(|e| CertError::Malformed(format!("subjectAltName: {e}")))?;
    if let Some(san) = &san {
        for g in &san.value.general_names {
            match g {
                GeneralName::DirectoryName(n) => names.push(Name::Dn(n)),
                GeneralName::DNSName(s) => names.push(Name::Dns(s)),
                GeneralName::RFC822Name(s) => names.push(Name::Mail(s)),
                GeneralName::IPAddress(a) => names.push(Name::Ip(a)),
                _ => {}
            }
        }
    }
    let fail = |why: String| CertError::NameConstraint { subject: c.subject().to_string(), ca: ca.subject().to_string(), why };
    let permitted = nc.permitted_subtrees.as_deref().unwrap_or_default();
    let excluded = nc.excluded_subtrees.as_deref().unwrap_or_default();
    for n in &names {
        let mut same_form = false;
        let mut hit = false;
        for t in permitted {
            if let Some(w) = n.within(&t.base) {
                same_form = true;
                hit |= w;
            }
        }
        if same_form && !hit {
            return Err(fail(format!("{} is outside the permitted subtrees", n.text())));
        }
        for t in excluded {
            if n.within(&t.base) == Some(true) {
                return Err(fail(format!("{} is in an excluded subtree", n.text())));
            }
        }
    }
    Ok(())
}

/// Parse one DER CRL; trailing octets and unknown critical extensions
/// (a delta CRL's deltaCRLIndicator, say) are refused.
pub fn parse_crl(der: &[u8]) -> Result<CertificateRevocationList<'_>> {
    if der.len() > MAX_CRL {
        return Err(CertError::Malformed(format!("CRL of {} octets (at most {MAX_CRL})", der.len())));
    }
    let crl = match CertificateRevocationList::from_der(der) {
        Ok(([], c)) => c,
        Ok((rest, _)) => return Err(CertError::Malformed(format!("{} octets after the CRL", rest.len()))),
        Err(e) => return Err(CertError::Malformed(format!("CRL: {e}"))),
    };
    let understood = |e: &x509_parser::extensions::X509Extension<'_>| {
        !(e.critical && (e.parsed_extension().unsupported() || e.parsed_extension().error().is_some()))
    };
    for e in crl.extensions() {
        if !understood(e) || e.oid == OID_X509_EXT_DELTA_CRL_INDICATOR || e.oid == OID_X509_EXT_ISSUER_DISTRIBUTION_POINT && e.critical {
            return Err(CertError::Unsupported(format!("CRL of \"{}\" has critical extension {}", crl.issuer(), e.oid)));
        }
    }
    for r in crl.iter_revoked_certificates() {
        if let Some(e) = r.extensions().iter().find(|e| !understood(e)) {
            return Err(CertError::Unsupported(format!("CRL entry with critical extension {}", e.oid)));
        }
    }
    Ok(crl)
}

/// Largest CRL accepted (DER octets).
pub const MAX_CRL: usize = 1 << 22;

/// DER CRLs from PEM text (every "X509 CRL" block) or one DER CRL; each must parse.
pub fn load_crls(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    if data.len() > 2 * MAX_CRL {
        return Err(CertError::Malformed("CRL file too large".into()));
    }
    let ders = if data.first() == Some(&0x30) {
        vec![data.to_vec()]
    } else {
        let mut out = Vec::new();
        for p in x509_parser::pem::Pem::iter_from_buffer(data) {
            let p = p.map_err(|e| CertError::Malformed(format!("PEM: {e}")))?;
            if p.label == "X509 CRL" {
                out.push(p.contents);
            }
            if out.len() > 64 {
                return Err(CertError::Malformed("more than 64 CRLs in one file".into()));
            }
        }
        if out.is_empty() {
            return Err(CertError::Malformed("no PEM block labelled X509 CRL".into()));
        }
        out
    };
    for d in &ders {
        parse_crl(d)?;
    }
    Ok(ders)
}

/// What the configuration shows of one CRL: (issuer, thisUpdate, nextUpdate, revoked serials).
pub fn crl_info(der: &[u8]) -> Result<(String, i64, Option<i64>, usize)> {
    let c = parse_crl(der)?;
    Ok((c.issuer().to_string(), c.last_update().timestamp(), c.next_update().map(|t| t.timestamp()), c.iter_revoked_certificates().count()))
}

/// `c` against every CRL of its `issuer` among `crls`: each must verify
/// with the issuer's key, be inside thisUpdate/nextUpdate, and not list
/// `c`'s serial.
fn check_revocation(
    c: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    crls: &[CertificateRevocationList<'_>],
    now: i64,
) -> Result<()> {
    for crl in crls.iter().filter(|l| l.issuer().as_raw() == issuer.subject().as_raw()) {
        let name = || issuer.subject().to_string();
        if let Ok(Some(ku)) = issuer.key_usage() {
            if !ku.value.crl_sign() {
                return Err(CertError::CrlBadSignature { issuer: name(), why: "the CA's keyUsage lacks cRLSign".into() });
            }
        }
        crl.verify_signature(issuer.public_key()).map_err(|_| CertError::CrlBadSignature {
            issuer: name(),
            why: "its signature does not verify with the CA's key".into(),
        })?;
        let this_update = crl.last_update().timestamp();
        if now < this_update {
            return Err(CertError::CrlNotYetValid { issuer: name(), this_update });
        }
        if let Some(next) = crl.next_update() {
            if now > next.timestamp() {
                return Err(CertError::CrlExpired { issuer: name(), next_update: next.timestamp() });
            }
        }
        if let Some(r) = crl.iter_revoked_certificates().find(|r| r.serial() == &c.tbs_certificate.serial) {
            return Err(CertError::Revoked {
                subject: c.subject().to_string(),
                serial: c.raw_serial_as_string(),
                revoked_at: r.revocation_date.timestamp(),
            });
        }
    }
    Ok(())
}

fn id_text(id_type: u8, data: &[u8]) -> String {
    match id_type {
        ID_FQDN | ID_RFC822_ADDR => format!("\"{}\"", String::from_utf8_lossy(data)),
        ID_IPV4_ADDR => match <[u8; 4]>::try_from(data) {
            Ok(a) => std::net::Ipv4Addr::from(a).to_string(),
            Err(_) => "(bad IPv4 ID)".into(),
        },
        ID_IPV6_ADDR => match <[u8; 16]>::try_from(data) {
            Ok(a) => std::net::Ipv6Addr::from(a).to_string(),
            Err(_) => "(bad IPv6 ID)".into(),
        },
        ID_DER_ASN1_DN => dn_text(data).map_or_else(|_| "(bad DN)".into(), |t| format!("\"{t}\"")),
        t => format!("of type {t}"),
    }
}

fn same_dn(a: &[u8], b: &[u8]) -> bool {
    a == b || matches!((dn_text(a), dn_text(b)), (Ok(x), Ok(y)) if x == y)
}

/// Whether the ID payload (type, data) names the certificate.
pub fn id_matches(der: &[u8], id_type: u8, data: &[u8]) -> Result<()> {
    let c = parse(der)?;
    let hit = match id_type {
        ID_DER_ASN1_DN => {
            same_dn(c.subject().as_raw(), data)
                || alt_ids(&c).iter().any(|(t, d)| *t == ID_DER_ASN1_DN && same_dn(d, data))
        }
        ID_FQDN | ID_RFC822_ADDR => {
            alt_ids(&c).iter().any(|(t, d)| *t == id_type && d.eq_ignore_ascii_case(data))
        }
        ID_IPV4_ADDR | ID_IPV6_ADDR => alt_ids(&c).iter().any(|(t, d)| *t == id_type && d == data),
        t => return Err(CertError::Unsupported(format!("ID type {t} with a certificate"))),
    };
    if hit {
        Ok(())
    } else {
        Err(CertError::IdMismatch { id: id_text(id_type, data), subject: c.subject().to_string() })
    }
}

// RFC 7427 §3 / Appendix A: the AlgorithmIdentifier ASN.1 objects we send.
const ALG_SHA256_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
const ALG_SHA384_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00,
];
const ALG_SHA512_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
];
const ALG_ECDSA_SHA256: &[u8] = &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ALG_ECDSA_SHA384: &[u8] = &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];

fn ec_verify_alg(
    key: &str,
    hash: &Oid<'_>,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    match key {
        "p256" if *hash == OID_SIG_ECDSA_WITH_SHA256 => Some(&signature::ECDSA_P256_SHA256_ASN1),
        "p256" if *hash == OID_SIG_ECDSA_WITH_SHA384 => Some(&signature::ECDSA_P256_SHA384_ASN1),
        "p384" if *hash == OID_SIG_ECDSA_WITH_SHA256 => Some(&signature::ECDSA_P384_SHA256_ASN1),
        "p384" if *hash == OID_SIG_ECDSA_WITH_SHA384 => Some(&signature::ECDSA_P384_SHA384_ASN1),
        _ => None,
    }
}

fn digital_signature_alg(
    key: &str,
    alg: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn signature::VerificationAlgorithm> {
    let oid = &alg.algorithm;
    let unsupported = || CertError::Unsupported(format!("signature algorithm {oid} with a {key} key"));
    if key == "rsa" {
        if *oid == OID_PKCS1_SHA256WITHRSA {
            return Ok(&signature::RSA_PKCS1_2048_8192_SHA256);
        }
        if *oid == OID_PKCS1_SHA384WITHRSA {
            return Ok(&signature::RSA_PKCS1_2048_8192_SHA384);
        }
        if *oid == OID_PKCS1_SHA512WITHRSA {
            return Ok(&signature::RSA_PKCS1_2048_8192_SHA512);
        }
        if *oid == OID_PKCS1_SHA1WITHRSA {
            return Ok(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY);
        }
        if *oid == OID_PKCS1_RSASSAPSS {
            let Ok(SignatureAlgorithm::RSASSA_PSS(p)) = SignatureAlgorithm::try_from(alg) else {
                return Err(CertError::Malformed("RSASSA-PSS parameters".into()));
            };
            let h = p.hash_algorithm_oid();
            if *h == OID_NIST_HASH_SHA256 {
                return Ok(&signature::RSA_PSS_2048_8192_SHA256);
            }
            if *h == OID_NIST_HASH_SHA384 {
                return Ok(&signature::RSA_PSS_2048_8192_SHA384);
            }
            if *h == OID_NIST_HASH_SHA512 {
                return Ok(&signature::RSA_PSS_2048_8192_SHA512);
            }
        }
        return Err(unsupported());
    }
    if *oid == OID_SIG_ECDSA_WITH_SHA512 {
        return Err(unsupported());
    }
    ec_verify_alg(key, oid).ok_or_else(unsupported)
}

/// Verify the AUTH payload's (method, data) over `octets` (RFC 7296 §2.15's
/// InitiatorSignedOctets or ResponderSignedOctets) with the key of `der`.
pub fn verify_auth(der: &[u8], method: u8, data: &[u8], octets: &[u8]) -> Result<()> {
    let c = parse(der)?;
    let spki = c.public_key();
    let key = key_type(spki);
    let pubkey: &[u8] = &spki.subject_public_key.data;
    let (alg, sig): (&'static dyn signature::VerificationAlgorithm, &[u8]) = match (method, key) {
        (AUTH_RSA, "rsa") => (&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, data),
        (AUTH_ECDSA_256, "p256") => (&signature::ECDSA_P256_SHA256_FIXED, data),
        (AUTH_ECDSA_384, "p384") => (&signature::ECDSA_P384_SHA384_FIXED, data),
        (AUTH_ECDSA_521, "p521") => return Err(CertError::Unsupported("ECDSA P-521 (ring lacks it)".into())),
        (AUTH_DIGITAL_SIGNATURE, _) => {
            let (&n, rest) = data
                .split_first()
                .ok_or_else(|| CertError::Malformed("empty Digital Signature AUTH".into()))?;
            let blob = rest
                .get(..n as usize)
                .ok_or_else(|| CertError::Malformed("AlgorithmIdentifier longer than the AUTH".into()))?;
            let sig = rest.get(n as usize..).unwrap_or_default();
            let alg = match AlgorithmIdentifier::from_der(blob) {
                Ok(([], a)) => a,
                _ => return Err(CertError::Malformed("AUTH's AlgorithmIdentifier".into())),
            };
            (digital_signature_alg(key, &alg)?, sig)
        }
        (m, k) => {
            return Err(CertError::Unsupported(format!("AUTH method {m} with a {k} certificate key")));
        }
    };
    UnparsedPublicKey::new(alg, pubkey).verify(octets, sig).map_err(|_| CertError::BadAuthSignature)
}

/// Our private key (PKCS#8 DER; an RSA key may also be PKCS#1 DER).
pub enum PrivateKey {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair, EcdsaKeyPair),
    P384(EcdsaKeyPair, EcdsaKeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key_type())
    }
}

impl PrivateKey {
    pub fn from_der(der: &[u8]) -> Result<Self> {
        if der.len() > MAX_DER {
            return Err(CertError::BadKey("too large".into()));
        }
        let rng = SystemRandom::new();
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Ok(PrivateKey::Rsa(k));
        }
        if let Ok(k) = RsaKeyPair::from_der(der) {
            return Ok(PrivateKey::Rsa(k));
        }
        use signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING as P256A, ECDSA_P256_SHA256_FIXED_SIGNING as P256F,
            ECDSA_P384_SHA384_ASN1_SIGNING as P384A, ECDSA_P384_SHA384_FIXED_SIGNING as P384F,
        };
        if let (Ok(a), Ok(f)) = (EcdsaKeyPair::from_pkcs8(&P256A, der, &rng), EcdsaKeyPair::from_pkcs8(&P256F, der, &rng)) {
            return Ok(PrivateKey::P256(a, f));
        }
        if let (Ok(a), Ok(f)) = (EcdsaKeyPair::from_pkcs8(&P384A, der, &rng), EcdsaKeyPair::from_pkcs8(&P384F, der, &rng)) {
            return Ok(PrivateKey::P384(a, f));
        }
        Err(CertError::BadKey(
            "not a PKCS#8 RSA (2048-8192 bits) or ECDSA P-256/P-384 key (with its public key)".into(),
        ))
    }

    /// PEM (any "PRIVATE KEY" block) or DER.
    pub fn load(data: &[u8]) -> Result<Self> {
        let ders = pem_or_der(data, "PRIVATE KEY").map_err(|e| CertError::BadKey(e.to_string()))?;
        let first = ders.first().ok_or_else(|| CertError::BadKey("empty".into()))?;
        Self::from_der(first)
    }

    pub fn key_type(&self) -> &'static str {
        match self {
            PrivateKey::Rsa(_) => "rsa",
            PrivateKey::P256(..) => "p256",
            PrivateKey::P384(..) => "p384",
        }
    }

    /// The public key as it sits in a certificate's subjectPublicKey.
    pub fn public_key(&self) -> &[u8] {
        match self {
            PrivateKey::Rsa(k) => k.public().as_ref(),
            PrivateKey::P256(k, _) | PrivateKey::P384(k, _) => k.public_key().as_ref(),
        }
    }

    /// The AUTH payload's method and data for `octets`: `method` 14
    /// (RFC 7427, hash picked from `hashes`, the peer's
    /// SIGNATURE_HASH_ALGORITHMS) or the key's classic method (9, 10;
    /// method 1 needs RSA with SHA-1, which ring does not sign).
    pub fn sign_auth(&self, method: u8, hashes: &[u16], octets: &[u8]) -> Result<(u8, Vec<u8>)> {
        let rng = SystemRandom::new();
        let err = |_| CertError::BadKey("signing failed".into());
        match (method, self) {
            (AUTH_DIGITAL_SIGNATURE, PrivateKey::Rsa(k)) => {
                let (enc, blob): (&'static dyn signature::RsaEncoding, &[u8]) =
                    if hashes.is_empty() || hashes.contains(&HASH_SHA256) {
                        (&signature::RSA_PKCS1_SHA256, ALG_SHA256_RSA)
                    } else if hashes.contains(&HASH_SHA384) {
                        (&signature::RSA_PKCS1_SHA384, ALG_SHA384_RSA)
                    } else if hashes.contains(&HASH_SHA512) {
                        (&signature::RSA_PKCS1_SHA512, ALG_SHA512_RSA)
                    } else {
                        return Err(CertError::Unsupported("none of the peer's signature hashes is SHA-2".into()));
                    };
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(enc, &rng, octets, &mut sig).map_err(err)?;
                Ok((method, digital_signature(blob, &sig)))
            }
            (AUTH_DIGITAL_SIGNATURE, PrivateKey::P256(k, _) | PrivateKey::P384(k, _)) => {
                let (h, blob) = if matches!(self, PrivateKey::P256(..)) {
                    (HASH_SHA256, ALG_ECDSA_SHA256)
                } else {
                    (HASH_SHA384, ALG_ECDSA_SHA384)
                };
                if !hashes.is_empty() && !hashes.contains(&h) {
                    return Err(CertError::Unsupported(format!("the peer does not take hash {h} for our ECDSA key")));
                }
                let sig = k.sign(&rng, octets).map_err(err)?;
                Ok((method, digital_signature(blob, sig.as_ref())))
            }
            (AUTH_ECDSA_256, PrivateKey::P256(_, k)) | (AUTH_ECDSA_384, PrivateKey::P384(_, k)) => {
                Ok((method, k.sign(&rng, octets).map_err(err)?.as_ref().to_vec()))
            }
            (m, k) => Err(CertError::Unsupported(format!("AUTH method {m} with our {} key", k.key_type()))),
        }
    }
}

fn digital_signature(blob: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + blob.len() + sig.len());
    out.push(blob.len() as u8);
    out.extend_from_slice(blob);
    out.extend_from_slice(sig);
    out
}

/// The classic AUTH method for a key (no RFC 7427 from the peer).
pub fn classic_method(key_type: &str) -> u8 {
    match key_type {
        "p256" => AUTH_ECDSA_256,
        "p384" => AUTH_ECDSA_384,
        "p521" => AUTH_ECDSA_521,
        _ => AUTH_RSA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(parse(&[0x30, 0x03, 1, 2, 3]), Err(CertError::Malformed(_))));
        assert!(matches!(parse(&[]), Err(CertError::Malformed(_))));
        assert!(matches!(dn_text(&[0x30]), Err(CertError::Malformed(_))));
        assert!(matches!(PrivateKey::from_der(&[0x30, 0]), Err(CertError::BadKey(_))));
    }

    #[test]
    fn digital_signature_blob_bounds() {
        // length octet past the end, empty AUTH, unknown algorithm: typed errors
        assert!(verify_auth(&[], 14, &[200, 1], b"x").is_err());
    }

    #[test]
    fn rfc7427_blobs_parse() {
        for b in [ALG_SHA256_RSA, ALG_SHA384_RSA, ALG_SHA512_RSA, ALG_ECDSA_SHA256, ALG_ECDSA_SHA384] {
            let (r, _) = AlgorithmIdentifier::from_der(b).expect("blob");
            assert!(r.is_empty());
        }
    }

    // fixtures from testdata/gen.py (P-256, valid 2020-2099)
    const ROOT: &[u8] = include_bytes!("testdata/root.der");
    const MID: &[u8] = include_bytes!("testdata/mid.der");
    const UNDER: &[u8] = include_bytes!("testdata/under.der");
    const T2030: i64 = 1_893_456_000;

    fn chain(leaf: &[u8], inter: &[&[u8]], crls: &[&[u8]], now: i64) -> Result<usize> {
        let inter: Vec<Vec<u8>> = inter.iter().map(|d| d.to_vec()).collect();
        let crls: Vec<Vec<u8>> = crls.iter().map(|d| d.to_vec()).collect();
        verify_chain_crl(leaf, &inter, &[ROOT.to_vec()], &crls, now)
    }

    fn code(r: Result<usize>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn key_usage_and_eku() {
        assert_eq!(chain(include_bytes!("testdata/leaf_good.der"), &[], &[], T2030), Ok(2));
        assert_eq!(code(chain(include_bytes!("testdata/leaf_ku.der"), &[], &[], T2030)), "key_usage");
        let e = chain(include_bytes!("testdata/leaf_eku.der"), &[], &[], T2030).unwrap_err();
        assert_eq!(e.code(), "ext_key_usage");
        assert!(e.to_string().contains("codeSigning"), "{e}");
    }

    #[test]
    fn name_constraints_and_path_len() {
        assert_eq!(chain(include_bytes!("testdata/leaf_nc_in.der"), &[MID], &[], T2030), Ok(3));
        let e = chain(include_bytes!("testdata/leaf_nc_out.der"), &[MID], &[], T2030).unwrap_err();
        assert_eq!(e.code(), "name_constraints");
        assert!(e.to_string().contains("dNSName \"gw.example.org\" is outside"), "{e}");
        // mid has pathLenConstraint 0: a CA below it is refused
        let e = chain(include_bytes!("testdata/leaf_deep.der"), &[MID, UNDER], &[], T2030).unwrap_err();
        assert_eq!(e, CertError::PathLen { ca: "O=kame, CN=Sub CA".into(), path_len: 0, below: 1 });
    }

    #[test]
    fn crls() {
        let good: &[u8] = include_bytes!("testdata/leaf_good.der");
        let revoked: &[u8] = include_bytes!("testdata/leaf_revoked.der");
        let crl: &[u8] = include_bytes!("testdata/root.crl");
        assert_eq!(chain(good, &[], &[crl], T2030), Ok(2));
        assert_eq!(chain(revoked, &[], &[], T2030), Ok(2));
        let e = chain(revoked, &[], &[crl], T2030).unwrap_err();
        assert_eq!(e.code(), "revoked");
        assert!(e.to_string().contains("(serial 0b)"), "{e}");
        assert_eq!(code(chain(good, &[], &[include_bytes!("testdata/wrongkey.crl")], T2030)), "crl_bad_signature");
        let stale: &[u8] = include_bytes!("testdata/stale.crl");
        assert_eq!(chain(good, &[], &[stale], T2030), Ok(2));
        assert_eq!(code(chain(good, &[], &[stale], T2030 + 366 * 86400)), "crl_expired");
        assert_eq!(code(chain(good, &[], &[crl], 1_500_000_000)), "not_yet_valid");
        assert_eq!(crl_info(crl).map(|i| (i.0, i.3)), Ok(("O=kame, CN=Root CA".into(), 2)));
        assert_eq!(load_crls(crl), Ok(vec![crl.to_vec()]));
        // truncated, trailing octets, garbage: Malformed
        for bad in [&crl[..crl.len() - 1], &[crl, &[0u8][..]].concat()[..], &[0x30, 0][..], b"junk"] {
            assert!(matches!(load_crls(bad), Err(CertError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn name_forms() {
        assert!(dns_within("gw.example.com", "example.com"));
        assert!(dns_within("EXAMPLE.com.", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(!dns_within("example.com", ".example.com"));
        assert!(dns_within("anything", ""));
        assert!(mail_within("a@example.com", "example.com"));
        assert!(!mail_within("a@sub.example.com", "example.com"));
        assert!(mail_within("a@sub.example.com", ".example.com"));
        assert!(mail_within("ike@EXAMPLE.com", "ike@example.com"));
        assert!(!mail_within("IKE@example.com", "ike@example.com"));
        assert!(!mail_within("no-at-sign", "example.com"));
        assert!(ip_within(&[192, 0, 2, 9], &[192, 0, 2, 0, 255, 255, 255, 0]));
        assert!(!ip_within(&[192, 0, 3, 9], &[192, 0, 2, 0, 255, 255, 255, 0]));
        assert!(!ip_within(&[192, 0, 2, 9], &[192, 0, 2, 0]));
        assert!(!ip_within(&[0; 16], &[0; 8]));
    }
}
