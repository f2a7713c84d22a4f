//! kame-core: the byte-level half of kame.
//!
//! Pure functions over bytes: parse, validate, checksum, build, transform.
//! No clock (time is passed in), no I/O, no global state. The Python facade
//! (`python/kame/`) holds all state and policy; this crate is also usable on
//! its own from Rust, and is what the fuzz targets and criterion benches
//! drive. PyO3 bindings live behind the `python` feature.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod cksum;
pub mod error;
pub mod ike; // IKE crypto and messages (issue 10)
pub mod ipcomp;
pub mod ipsec;
pub mod nd6;
pub mod reass;
pub mod tcp;
pub mod tunnel;
pub mod frag6;
// --- capture --- a capture as Arrow column buffers (issue 12)
pub mod capture;
// --- end capture ---
pub mod wire;
// --- inet --- IPv4 and ARP (issue 9); tick: shared timer pieces
pub mod inet;
pub mod tick;
// --- end inet ---
// --- xlat --- the IPv6-to-IPv4 header translator (issue 13)
pub mod xlat;
// --- end xlat ---

pub use error::{Error, ErrorKind, Icmp6Answer, Layer, Result};

#[cfg(feature = "python")]
mod py;
