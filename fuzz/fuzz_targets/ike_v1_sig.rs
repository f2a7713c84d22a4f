#![no_main]
//! IKEv1 RSA signatures (kame_core::ike::v1sig): the bytes as our private
//! key (PEM/DER, PKCS#8/PKCS#1) and as a certificate whose RSA key checks a
//! SIG over a hash, both cut from the input. Every refusal must be a CertError.
use kame_core::ike::v1sig::{verify_hash, RsaKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let _ = RsaKey::load(rest);
    let cut = (sel as usize).min(rest.len());
    let (hash, tail) = rest.split_at(cut);
    let _ = verify_hash(tail, hash, rest);
    let _ = verify_hash(rest, hash, tail);
});
