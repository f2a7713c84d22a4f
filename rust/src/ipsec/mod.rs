//! IPsec transforms: ESP (RFC 4303, RFC 1827/1829), AH (RFC 4302, RFC 1826),
//! the algorithm table of seed §4.5, the anti-replay window.
//!
//! These are pure functions over whole IP packets (IPv6 or IPv4) plus the
//! per-SA state the transforms need (keys, sequence counter, replay window,
//! counters). SA lookup (SPI → SA), policy and key management are the
//! caller's (the Python facade's `key.sad` / `key.spd`).
//!
//! The small bounded header walk in [`hdr`] finds where an IPsec header is
//! inserted (after the unfragmentable part, as Linux and scapy place it) or
//! where one is on input; AH's mutable-field zeroing walk lives in [`ah`].
//! Both can move onto the shared extension-header walker
//! (`wire::exthdr`) once it lands.

pub mod ah;
pub mod algo;
pub mod esp;
pub mod hdr;
pub mod replay;

pub use ah::{AhConfig, AhSa};
pub use algo::{AuthAlg, AuthSpec, EncAlg};
pub use esp::{EspConfig, EspSa};
pub use replay::ReplayWindow;

use crate::error::{Error, ErrorKind, Layer};

/// IPsec mode of an SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Insert the IPsec header after the unfragmentable headers.
    Transport,
    /// Wrap the whole packet in a new outer IPv6 (16-octet addresses) or
    /// IPv4 (4-octet) header from `src` to `dst`.
    Tunnel { src: Vec<u8>, dst: Vec<u8> },
}

impl Mode {
    pub fn tunnel(src: &[u8], dst: &[u8]) -> crate::Result<Mode> {
        if src.len() != dst.len() || !(src.len() == 4 || src.len() == 16) {
            return Err(Error::new(
                Layer::Ipsec,
                ErrorKind::Config,
                0,
                "tunnel endpoints must both be IPv4 (4 octets) or both IPv6 (16 octets)",
            ));
        }
        Ok(Mode::Tunnel { src: src.to_vec(), dst: dst.to_vec() })
    }
}

/// Per-SA counters (names after KAME's `ipsecstat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaStats {
    pub out_packets: u64,
    pub out_bytes: u64,
    pub in_packets: u64,
    pub in_bytes: u64,
    /// `in_espreplay` / `in_ahreplay`
    pub replay_drops: u64,
    /// `in_espauthfail` / `in_ahauthfail`
    pub icv_failures: u64,
    /// ESP padding other than 1, 2, 3, ...
    pub padding_errors: u64,
    /// malformed, truncated or otherwise refused input
    pub other_errors: u64,
}

impl SaStats {
    pub(crate) fn count_in_error(&mut self, e: &Error) {
        match e.kind {
            ErrorKind::Replay => self.replay_drops += 1,
            ErrorKind::Integrity => self.icv_failures += 1,
            ErrorKind::BadPadding => self.padding_errors += 1,
            _ => self.other_errors += 1,
        }
    }
}

/// Known-answer-test hooks: a fixed IV and/or fixed padding for one output
/// call. For tests only: a fixed IV breaks CBC's and CTR/GCM's security.
#[derive(Debug, Clone, Default)]
pub struct Kat {
    pub iv: Option<Vec<u8>>,
    pub pad: Option<Vec<u8>>,
}
