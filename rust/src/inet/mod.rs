//! IPv4 on the wire, the byte half: header checks and options
//! ([`ip`]: `ip_input`/`ip_dooptions`, building, `ip_fragment`),
//! bounded reassembly ([`reass`]: `ip_reass`), ICMPv4 ([`icmp`]) and ARP
//! ([`arp`]: `if_ether.c`'s packet). The state (ARP cache, addresses,
//! routes, rate limits) is in `python/kame/inet/`.
#![forbid(unsafe_code)]

pub mod arp;
pub mod icmp;
pub mod ip;
pub mod reass;
