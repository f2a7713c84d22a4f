//! Wire formats: zero-copy `Packet` views with `new_checked`, owned `Repr`s
//! with `parse` / `emit` / `buffer_len`, one module per header. Inside a
//! module the types are just `Packet` and `Repr`; here they are re-exported
//! with a prefix.
#![forbid(unsafe_code)]

pub mod dissect;
pub mod capfile;
pub mod bpf;
pub mod print;
pub mod ethernet;
pub mod arp;
pub mod sll;
pub mod null;
pub mod ipv6;
pub mod opts;
pub mod exthdr;
pub mod srh;
pub mod icmpv6;
pub mod nd;
pub mod mld;
pub mod ipv4;
pub mod udp;
pub mod tcp;
pub mod ah;
pub mod esp;
pub mod ipcomp;
pub mod vnet;
pub mod dns;
pub mod mh;

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

// --- wire6 ---
pub use exthdr::{
    walk as ipv6_walk, walk_ipv6, walk_ipv6_lax, walk_lax as ipv6_walk_lax, Chain as Ipv6Chain,
    ExtHeader as Ipv6ExtHeader, FragInfo as Ipv6FragInfo, Fragment as Ipv6FragmentHeader,
    FragmentRepr as Ipv6FragmentRepr, JumboInfo as Ipv6JumboInfo, OptionsHeader as Ipv6OptionsHeader,
    OptionsRepr as Ipv6OptionsRepr, Routing as Ipv6RoutingHeader, RoutingRepr as Ipv6RoutingRepr,
};
pub use ipv6::{
    validate as ip6_validate, Packet as Ipv6Packet, Repr as Ipv6Repr, Validated as Ipv6Validated,
};
pub use srh::{Packet as SrhPacket, Repr as SrhRepr, TlvRepr as SrhTlvRepr};
pub use opts::{Action as Ipv6OptAction, Opt as Ipv6Opt, Repr as Ipv6OptionRepr};
// --- end wire6 ---
// --- upper ---
pub use icmpv6::{Packet as Icmpv6Packet, Repr as Icmpv6Repr};
pub use ipv4::{Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use mld::Repr as MldRepr;
pub use nd::{Options as NdOptions, Repr as NdOptionRepr};
pub use tcp::{Packet as TcpPacket, Repr as TcpRepr, TcpOption};
pub use udp::{Packet as UdpPacket, Repr as UdpRepr};
// --- end upper ---
// --- link ---
pub use arp::{Operation as ArpOperation, Packet as ArpPacket, Repr as ArpRepr};
pub use ethernet::Repr as EthernetRepr;
pub use null::Repr as NullRepr;
pub use sll::Repr as SllRepr;
// --- end link ---
// --- ipsec ---
pub use ah::{Packet as AhPacket, Repr as AhRepr};
pub use esp::{Packet as EspPacket, Repr as EspRepr, Trailer as EspTrailer};
// --- end ipsec ---
// --- ipcomp ---
pub use ipcomp::{Packet as IpcompPacket, Repr as IpcompRepr};
// --- end ipcomp ---
