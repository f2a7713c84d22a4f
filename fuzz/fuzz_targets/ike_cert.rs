#![no_main]
//! X.509 and signature AUTH parsing for IKE (kame_core::ike::cert): the
//! bytes as a DER certificate (info, subject/SAN identities, a chain to
//! itself), as a DER Name, as PEM, as a private key, and as the AUTH data
//! of every method (RFC 7427 AlgorithmIdentifier blobs included) checked
//! against a fixed real certificate. Every refusal must be a CertError.
use kame_core::ike::cert::{dn_text, id_matches, info, pem_or_der, verify_auth, verify_chain, PrivateKey};
use libfuzzer_sys::fuzz_target;

// a P-256 end-entity certificate (self-issued) for the AUTH-data half
const CERT: &[u8] = include_bytes!("../seeds/ike_cert_p256.der");

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if let Ok(i) = info(rest) {
        for (t, d) in &i.alt_ids {
            assert!(id_matches(rest, *t, d).is_ok(), "a certificate's own subjectAltName names it");
        }
        let _ = id_matches(rest, 9, &i.subject_der);
        let _ = verify_chain(rest, &[], &[rest.to_vec()], i.not_before);
    }
    let _ = id_matches(rest, sel, rest);
    let _ = dn_text(rest);
    let _ = pem_or_der(rest, "CERTIFICATE");
    let _ = PrivateKey::from_der(rest);
    let _ = verify_auth(CERT, sel, rest, b"signed octets");
    let _ = verify_auth(CERT, 14, rest, b"signed octets");
});
