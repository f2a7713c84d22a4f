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
pub mod batch;
pub mod esp;
pub mod hdr;
pub mod replay;
#[cfg(test)]
pub(crate) mod tests_jumbo;

pub use ah::{AhConfig, AhSa};
pub use algo::{AuthAlg, AuthSpec, EncAlg};
pub use esp::{EspConfig, EspSa};
pub use replay::ReplayWindow;

use std::net::IpAddr;

use crate::error::{Error, ErrorKind, Layer};
use crate::tunnel::{EcnMode, TunnelParams};

/// IPsec mode of an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Insert the IPsec header after the unfragmentable headers.
    Transport,
    /// Wrap the whole packet in a new outer IPv6 or IPv4 header built by
    /// `tunnel.rs` (endpoints, hop limit, and the seed §4.6 ECN rule on
    /// the way in and out).
    Tunnel(TunnelParams),
}

impl Mode {
    /// Tunnel mode between two IPv4 (4-octet) or two IPv6 (16-octet)
    /// endpoints, with the default outer-header settings (ECN forbidden,
    /// hop limit 64).
    pub fn tunnel(src: &[u8], dst: &[u8]) -> crate::Result<Mode> {
        let addr = |b: &[u8]| -> Option<IpAddr> {
            match b.len() {
                4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
                _ => None,
            }
        };
        match (addr(src), addr(dst)) {
            (Some(s), Some(d)) if s.is_ipv4() == d.is_ipv4() => Ok(Mode::Tunnel(TunnelParams::new(s, d))),
            _ => Err(Error::new(
                Layer::Ipsec,
                ErrorKind::Config,
                0,
                "tunnel endpoints must both be IPv4 (4 octets) or both IPv6 (16 octets)",
            )),
        }
    }

    /// The same mode with the seed §4.6 ECN behaviour `ecn` (no effect in
    /// transport mode).
    pub fn with_ecn(self, ecn: EcnMode) -> Mode {
        match self {
            Mode::Tunnel(mut t) => {
                t.ecn = ecn;
                Mode::Tunnel(t)
            }
            m => m,
        }
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
    /// tunnel mode: dropped by the RFC 6040 egress rule (CE over Not-ECT)
    pub ecn_drops: u64,
    /// malformed, truncated or otherwise refused input
    pub other_errors: u64,
}

impl SaStats {
    pub(crate) fn count_in_error(&mut self, e: &Error) {
        match e.kind {
            ErrorKind::Replay => self.replay_drops += 1,
            ErrorKind::Integrity => self.icv_failures += 1,
            ErrorKind::BadPadding => self.padding_errors += 1,
            ErrorKind::EcnDrop => self.ecn_drops += 1,
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
