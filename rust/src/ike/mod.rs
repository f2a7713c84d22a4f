//! IKE (racoon's job): the byte-level half of key management.
//!
//! `crypto` holds the Diffie-Hellman groups, the PRFs, prf+ and the IKEv2
//! key derivation (RFC 7296 §2.13-2.14); `sk` seals and opens the Encrypted
//! payload (RFC 7296 §3.14, RFC 5282 for AES-GCM); `msg` parses and builds
//! the IKEv2 header, the payload chain and the nested SA and traffic
//! selector payloads; `cert` parses and verifies X.509 certificates and
//! signs and checks signature AUTH payloads (RFC 7296 §2.15, RFC 7427).
//! The exchanges themselves (state, timers, policy) are in
//! `python/kame/ike/`.

pub mod cert; // X.509 certificates and signature AUTH
pub mod crypto;
pub mod msg;
pub mod sk;
pub mod v1;
pub mod v1sig; // IKEv1 RSA signatures (bare-hash PKCS#1)

use crate::error::{Error, ErrorKind, Layer};

pub(crate) fn config(reason: &'static str) -> Error {
    Error::new(Layer::Ipsec, ErrorKind::Config, 0, reason)
}
