//! Wire formats: zero-copy `Packet` views with `new_checked`, owned `Repr`s
//! with `parse` / `emit` / `buffer_len`, one module per header. Inside a
//! module the types are just `Packet` and `Repr`; here they are re-exported
//! with a prefix.
#![forbid(unsafe_code)]

pub mod ipv6;
pub mod opts;
pub mod exthdr;
pub mod icmpv6;
pub mod nd;
pub mod mld;
pub mod ipv4;
pub mod udp;
pub mod tcp;
pub mod ah;
pub mod esp;
pub mod ipcomp;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers") that the
/// stack cares about. Unknown numbers are carried as plain `u8`.
pub mod proto {
    pub const HOPOPTS: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IPV4: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NONE: u8 = 59;
    pub const DSTOPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const IPCOMP: u8 = 108;
}

// --- ipcomp ---
pub use ipcomp::{Packet as IpcompPacket, Repr as IpcompRepr};
// --- end ipcomp ---
