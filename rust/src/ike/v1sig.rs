//! IKEv1 RSA signature authentication (RFC 2409 §5.1, method 3).
//!
//! SIG_I/SIG_R is the PKCS#1 v1.5 (block type 1) signature of the bare
//! HASH_I/HASH_R, with no DigestInfo around it (what racoon and strongSwan
//! send). ring only signs with a DigestInfo, so this uses the `rsa` crate
//! (private-key operation blinded with the system random source).

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;

use super::cert::{self, CertError, Result, MAX_DER};

/// Largest hash signed (SHA-512's 64 octets).
pub const MAX_HASH: usize = 64;
/// RSA modulus sizes taken, in bits.
pub const MIN_BITS: usize = 1024;
pub const MAX_BITS: usize = 8192;

fn size_ok(bits: usize) -> Result<()> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(CertError::Unsupported(format!("RSA key of {bits} bits ({MIN_BITS}-{MAX_BITS})")));
    }
    Ok(())
}

/// Our RSA private key for SIG_I/SIG_R.
pub struct RsaKey(RsaPrivateKey);

impl RsaKey {
    /// PEM (any "PRIVATE KEY" block) or DER, PKCS#8 or PKCS#1.
    pub fn load(data: &[u8]) -> Result<Self> {
        let ders = cert::pem_or_der(data, "PRIVATE KEY").map_err(|e| CertError::BadKey(e.to_string()))?;
        let der = ders.first().ok_or_else(|| CertError::BadKey("empty".into()))?;
        if der.len() > MAX_DER {
            return Err(CertError::BadKey("too large".into()));
        }
        let k = RsaPrivateKey::from_pkcs8_der(der)
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(der))
            .map_err(|_| CertError::BadKey("not a PKCS#8 or PKCS#1 RSA key".into()))?;
        size_ok(k.size() * 8)?;
        Ok(RsaKey(k))
    }

    /// SIG: PKCS#1 v1.5 block type 1 over the bare `hash`.
    pub fn sign_hash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        if hash.is_empty() || hash.len() > MAX_HASH {
            return Err(CertError::Unsupported(format!("a {}-octet hash to sign", hash.len())));
        }
        self.0
            .sign_with_rng(&mut OsRng, Pkcs1v15Sign::new_unprefixed(), hash)
            .map_err(|_| CertError::BadKey("signing failed".into()))
    }
}

/// Check SIG (`sig`) over `hash` with the RSA key of certificate `der`.
pub fn verify_hash(der: &[u8], hash: &[u8], sig: &[u8]) -> Result<()> {
    let c = cert::parse(der)?;
    let spki = c.public_key();
    if spki.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
        return Err(CertError::Unsupported("an IKEv1 RSA signature with a non-RSA certificate".into()));
    }
    let k = RsaPublicKey::from_pkcs1_der(&spki.subject_public_key.data)
        .map_err(|e| CertError::Malformed(format!("RSA public key: {e}")))?;
    size_ok(k.size() * 8)?;
    k.verify(Pkcs1v15Sign::new_unprefixed(), hash, sig).map_err(|_| CertError::BadAuthSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_refused() {
        assert!(RsaKey::load(b"nope").is_err());
        assert!(verify_hash(b"\x30\x00", &[0u8; 20], &[0u8; 256]).is_err());
    }
}
