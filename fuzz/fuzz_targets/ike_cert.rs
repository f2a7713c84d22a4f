#![no_main]
//! X.509 and signature AUTH parsing for IKE (kame_core::ike::cert): the
//! bytes as a DER certificate (info, subject/SAN identities, a chain to
//! itself), as a DER Name, as PEM, as a private key, and as the AUTH data
//! of every method (RFC 7427 AlgorithmIdentifier blobs included) checked
//! against a fixed real certificate; and as a CRL (DER or PEM): parsed,
//! described, and used to check a real chain (root, an intermediate with
//! nameConstraints and pathLenConstraint, a leaf) so the CRL signature,
//! dates and serial lookup run on it. Every refusal must be a CertError.
use kame_core::ike::cert::{
    crl_info, dn_text, id_matches, info, load_crls, parse_crl, pem_or_der, verify_auth, verify_chain,
    verify_chain_crl, PrivateKey,
};
use libfuzzer_sys::fuzz_target;

// a P-256 end-entity certificate (self-issued) for the AUTH-data half
const CERT: &[u8] = include_bytes!("../seeds/ike_cert_p256.der");
// the chain of rust/src/ike/testdata (gen.py), checked at 2030-01-01
const ROOT: &[u8] = include_bytes!("../../rust/src/ike/testdata/root.der");
const MID: &[u8] = include_bytes!("../../rust/src/ike/testdata/mid.der");
const LEAF: &[u8] = include_bytes!("../../rust/src/ike/testdata/leaf_nc_in.der");
const GOOD: &[u8] = include_bytes!("../../rust/src/ike/testdata/leaf_good.der");
const T2030: i64 = 1_893_456_000;

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
    // CRLs
    if let Ok(ders) = load_crls(rest) {
        for d in &ders {
            assert!(parse_crl(d).is_ok() && crl_info(d).is_ok(), "a loaded CRL parses");
        }
    }
    if let Ok((_, this, next, _)) = crl_info(rest) {
        let now = if sel & 1 == 0 { T2030 } else { next.unwrap_or(this) };
        let crls = [rest.to_vec()];
        let _ = verify_chain_crl(LEAF, &[MID.to_vec()], &[ROOT.to_vec()], &crls, now);
        let _ = verify_chain_crl(GOOD, &[], &[ROOT.to_vec()], &crls, now);
    }
    // the fuzzed octets as a certificate below the constrained intermediate
    let _ = verify_chain_crl(rest, &[MID.to_vec()], &[ROOT.to_vec()], &[], T2030);
});
