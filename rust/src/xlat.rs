//! The IPv6-to-IPv4 header translator that KAME never wrote (seed §3.2):
//! stateless IP/ICMP translation (RFC 7915) with the RFC 6052 address
//! mapping and explicit address mappings (EAM, RFC 7757).
//!
//! `xlat_4to6` and `xlat_6to4` take one packet (the bytes after the link
//! header) and return a [`Verdict`]: the translated packets for the other
//! side, an ICMP error to send back to the sender (the packet itself is
//! dropped), or a typed drop. Every drop names a counter (`xlats_*`), so a
//! node counts what it refuses and why. Addresses come from a [`Map`]: the
//! stateless [`Table`] (EAM first, then the RFC 6052 prefix, RFC 7757 §3.3)
//! or, for stateful NAT64 (RFC 6146, `python/kame/nat64/`), the binding the
//! session table chose ([`Nat`]).
//!
//! Transport checksums are adjusted incrementally (RFC 1624) for the
//! pseudo-header change, so fragments and truncated inner packets of ICMP
//! errors keep correct checksums without the rest of the datagram; ICMP
//! messages are recomputed whole (ICMPv6 covers a pseudo-header, ICMPv4 does
//! not), which needs the whole message: fragmented ICMP is dropped.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::cksum::{in6_pseudo, sum16, Sum};

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const NH_HOPOPTS: u8 = 0;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_DSTOPTS: u8 = 60;
/// Extension headers walked before the translator gives up (ip6_hdrnestlimit).
const MAX_EXT: usize = 8;
/// The IPv6 minimum MTU (RFC 8200 §5).
pub const IPV6_MIN_MTU: usize = 1280;
/// An ICMPv4 error is at most 576 bytes (RFC 1812 §4.3.2.3, RFC 7915 §5.2).
const ICMP4_ERR_MAX: usize = 576;

/// Why a packet was not translated: each is a counter in `node.stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Shorter than its headers say (ip6s_tooshort / ips_tooshort).
    Short,
    /// A header that is not IPv4/IPv6, a bad IHL or length field.
    BadHeader,
    /// IPv4 header checksum wrong (ips_badsum).
    BadIpSum,
    /// An ICMP/ICMPv6 checksum wrong (RFC 7915 §4.2, §5.2 "validate").
    BadIcmpSum,
    /// No mapping for the source address (RFC 7915 §4.1, §5.1; RFC 6052 §5.1).
    NoMapSrc,
    /// No mapping for the destination address.
    NoMapDst,
    /// An address no translator may carry: multicast, broadcast, loopback,
    /// unspecified (RFC 7915 §4.1, §5.1; RFC 6052 §5.1).
    BadAddr,
    /// The well-known prefix 64:ff9b::/96 with a non-global IPv4 address
    /// (RFC 6052 §3.1).
    WkpPrivate,
    /// A non-zero u-octet in an RFC 6052 address (RFC 6052 §2.2).
    BadUOctet,
    /// TTL or Hop Limit ran out while forwarding (RFC 7915 §4.4, §5.3).
    TtlExceeded,
    /// Does not fit the next hop's MTU and may not be fragmented (§4.4, §5.3).
    TooBig,
    /// An IPv4 source route option (RFC 7915 §4.1).
    SourceRoute,
    /// A Routing header with Segments Left non-zero (RFC 7915 §5.1).
    RoutingHeader,
    /// More extension headers than `MAX_EXT`.
    HeaderNest,
    /// An ICMP type or code RFC 7915 §4.2 / §5.2 says to drop silently.
    IcmpType,
    /// An ICMP error inside an ICMP error (RFC 7915 §4.3, §5.3 "MUST stop
    /// at the first embedded header").
    IcmpNested,
    /// A fragmented ICMP message: its checksum needs the whole message.
    IcmpFragment,
    /// A Parameter Problem whose pointer has no counterpart (Figures 3, 6).
    IcmpPointer,
    /// A fragmented UDP datagram with a zero checksum (RFC 7915 §4.5).
    Udp0Fragment,
    /// UDP over IPv6 with a zero checksum (RFC 8200 §8.1).
    Udp0V6,
    /// A protocol the translator does not carry (IGMP, an ICMPv4 message in
    /// IPv6), RFC 7915 §4.1 and §5.1.
    Protocol,
}

impl Drop {
    /// The counter name (KAME's `xlats_*` in the style of `ip6s_*`).
    pub const fn name(self) -> &'static str {
        match self {
            Drop::Short => "xlats_tooshort",
            Drop::BadHeader => "xlats_badhdr",
            Drop::BadIpSum => "xlats_badsum",
            Drop::BadIcmpSum => "xlats_badicmpsum",
            Drop::NoMapSrc => "xlats_nomap_src",
            Drop::NoMapDst => "xlats_nomap_dst",
            Drop::BadAddr => "xlats_badaddr",
            Drop::WkpPrivate => "xlats_wkp_private",
            Drop::BadUOctet => "xlats_bad_uoctet",
            Drop::TtlExceeded => "xlats_timxceed",
            Drop::TooBig => "xlats_toobig",
            Drop::SourceRoute => "xlats_srcroute",
            Drop::RoutingHeader => "xlats_rthdr",
            Drop::HeaderNest => "xlats_hdrnest",
            Drop::IcmpType => "xlats_icmp_type",
            Drop::IcmpNested => "xlats_icmp_nested",
            Drop::IcmpFragment => "xlats_icmp_frag",
            Drop::IcmpPointer => "xlats_icmp_pointer",
            Drop::Udp0Fragment => "xlats_udp0_frag",
            Drop::Udp0V6 => "xlats_udp0_v6",
            Drop::Protocol => "xlats_proto",
        }
    }

    /// Every drop reason, for counter tables.
    pub const ALL: [Drop; 21] = [
        Drop::Short,
        Drop::BadHeader,
        Drop::BadIpSum,
        Drop::BadIcmpSum,
        Drop::NoMapSrc,
        Drop::NoMapDst,
        Drop::BadAddr,
        Drop::WkpPrivate,
        Drop::BadUOctet,
        Drop::TtlExceeded,
        Drop::TooBig,
        Drop::SourceRoute,
        Drop::RoutingHeader,
        Drop::HeaderNest,
        Drop::IcmpType,
        Drop::IcmpNested,
        Drop::IcmpFragment,
        Drop::IcmpPointer,
        Drop::Udp0Fragment,
        Drop::Udp0V6,
        Drop::Protocol,
    ];
}

/// What the translator does with one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The translated packet(s), for the other family's side.
    Out(Vec<Vec<u8>>),
    /// Dropped; the ICMP error (same family as the input) goes back to the
    /// sender (RFC 7915 §4.4, §5.3).
    Back(Vec<u8>, Drop),
    /// Dropped and counted.
    Drop(Drop),
}

type R<T> = core::result::Result<T, Drop>;

/// Which end of the outer packet an address is. Inner packets of ICMP
/// errors run the other way, so their source takes the `Dst` mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Src,
    Dst,
}

/// Where translated addresses come from.
pub trait Map {
    fn to6(&self, a: Ipv4Addr, role: Role) -> R<Ipv6Addr>;
    fn to4(&self, a: Ipv6Addr, role: Role) -> R<Ipv4Addr>;
    /// Stateful NAT64 rewrites the IPv4-side port (or ICMP identifier):
    /// 6→4 the outer source port, 4→6 the outer destination port (and
    /// the matching port of an error's inner packet).
    fn port(&self) -> Option<u16> {
        None
    }
}

/// An RFC 6052 prefix: the IPv4 address sits after `len` bits, the
/// u-octet (bits 64..72) skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix6052 {
    pub prefix: Ipv6Addr,
    pub len: u8,
}

pub const WKP: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

fn v4_positions(len: u8) -> [usize; 4] {
    let start = usize::from(len / 8);
    let mut out = [0usize; 4];
    let mut pos = start;
    for slot in out.iter_mut() {
        if pos == 8 {
            pos += 1;
        }
        *slot = pos;
        pos += 1;
    }
    out
}

impl Prefix6052 {
    /// Prefix lengths RFC 6052 §2.2 allows: 32, 40, 48, 56, 64, 96.
    pub fn new(prefix: Ipv6Addr, len: u8) -> core::result::Result<Self, &'static str> {
        if ![32, 40, 48, 56, 64, 96].contains(&len) {
            return Err("RFC 6052 §2.2: prefix length must be 32, 40, 48, 56, 64 or 96");
        }
        let mut o = prefix.octets();
        if len < 72 && o.get(8).copied().unwrap_or(0) != 0 {
            return Err("RFC 6052 §2.2: bits 64 to 71 (the u-octet) must be zero");
        }
        for (i, b) in o.iter_mut().enumerate() {
            let bit = i * 8;
            if bit >= usize::from(len) {
                *b = 0;
            }
        }
        Ok(Prefix6052 { prefix: Ipv6Addr::from(o), len })
    }

    /// RFC 6052 §2.3: the IPv4-embedded IPv6 address.
    pub fn embed(&self, a: Ipv4Addr) -> Ipv6Addr {
        let mut o = self.prefix.octets();
        for (p, b) in v4_positions(self.len).iter().zip(a.octets()) {
            if let Some(slot) = o.get_mut(*p) {
                *slot = b;
            }
        }
        Ipv6Addr::from(o)
    }

    /// Does `a` carry this prefix?
    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        prefix_match(&self.prefix.octets(), &a.octets(), self.len)
    }

    /// RFC 6052 §2.3: the embedded IPv4 address, or a typed refusal.
    pub fn extract(&self, a: &Ipv6Addr) -> R<Ipv4Addr> {
        let o = a.octets();
        if self.len < 72 && o.get(8).copied().unwrap_or(0) != 0 {
            return Err(Drop::BadUOctet);
        }
        let mut v4 = [0u8; 4];
        for (slot, p) in v4.iter_mut().zip(v4_positions(self.len)) {
            *slot = o.get(p).copied().unwrap_or(0);
        }
        Ok(Ipv4Addr::from(v4))
    }

    fn is_wkp(&self) -> bool {
        self.len == 96 && self.prefix == WKP
    }
}

fn prefix_match(a: &[u8; 16], b: &[u8; 16], len: u8) -> bool {
    let full = usize::from(len / 8);
    let rest = len % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// RFC 6052 §3.1: addresses the well-known prefix may not carry
/// (RFC 5735 non-global ranges).
pub fn is_non_global4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 10
        || (o[0] == 172 && (o[1] & 0xf0) == 16)
        || (o[0] == 192 && o[1] == 168)
        || o[0] == 0
        || o[0] == 127
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

fn bad4(a: Ipv4Addr) -> bool {
    a.is_unspecified() || a.octets()[0] == 0 || a.is_loopback() || a.is_multicast() || a.is_broadcast() || a.octets()[0] >= 240
}

fn bad6(a: &Ipv6Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast()
}

/// One explicit address mapping (RFC 7757 §3.2): an IPv4 prefix and an
/// IPv6 prefix whose suffixes carry the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eam {
    pub v4: Ipv4Addr,
    pub len4: u8,
    pub v6: Ipv6Addr,
    pub len6: u8,
}

impl Eam {
    pub fn new(v4: Ipv4Addr, len4: u8, v6: Ipv6Addr, len6: u8) -> core::result::Result<Self, &'static str> {
        if len4 > 32 || len6 > 128 {
            return Err("prefix length out of range");
        }
        if 32 - u32::from(len4) > 128 - u32::from(len6) {
            return Err("RFC 7757 §3.2: the IPv6 suffix must be at least as long as the IPv4 suffix");
        }
        let m4 = if len4 == 0 { 0 } else { u32::MAX << (32 - u32::from(len4)) };
        let m6 = if len6 == 0 { 0 } else { u128::MAX << (128 - u32::from(len6)) };
        Ok(Eam {
            v4: Ipv4Addr::from(u32::from(v4) & m4),
            len4,
            v6: Ipv6Addr::from(u128::from(v6) & m6),
            len6,
        })
    }

    fn suffix4(&self) -> u32 {
        32 - u32::from(self.len4)
    }

    fn match4(&self, a: Ipv4Addr) -> bool {
        let s = self.suffix4();
        s == 32 || (u32::from(a) >> s) == (u32::from(self.v4) >> s)
    }

    fn match6(&self, a: &Ipv6Addr) -> bool {
        let s = 128 - u32::from(self.len6);
        s == 128 || (u128::from(*a) >> s) == (u128::from(self.v6) >> s)
    }

    fn to6(&self, a: Ipv4Addr) -> Ipv6Addr {
        let s = self.suffix4();
        let suffix = if s == 0 { 0 } else { u128::from(u32::from(a) & (u32::MAX >> (32 - s))) };
        let shift = 128 - u32::from(self.len6) - s;
        Ipv6Addr::from(u128::from(self.v6) | (suffix << shift))
    }

    fn to4(&self, a: &Ipv6Addr) -> Ipv4Addr {
        let s = self.suffix4();
        let shift = 128 - u32::from(self.len6) - s;
        let suffix = if s == 0 { 0 } else { ((u128::from(*a) >> shift) as u32) & (u32::MAX >> (32 - s)) };
        Ipv4Addr::from(u32::from(self.v4) | suffix)
    }
}

/// The stateless address table: EAMs (longest prefix wins, RFC 7757
/// §3.3) before the RFC 6052 prefix.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub pool6: Option<Prefix6052>,
    pub eam: Vec<Eam>,
}

/// At most this many EAM entries (bounded memory).
pub const EAM_MAX: usize = 4096;

impl Table {
    pub fn map4(&self, a: Ipv4Addr) -> R<Ipv6Addr> {
        if let Some(e) = self.eam.iter().filter(|e| e.match4(a)).max_by_key(|e| e.len4) {
            return Ok(e.to6(a));
        }
        match &self.pool6 {
            Some(p) => {
                if p.is_wkp() && is_non_global4(a) {
                    return Err(Drop::WkpPrivate);
                }
                Ok(p.embed(a))
            }
            None => Err(Drop::NoMapDst),
        }
    }

    pub fn map6(&self, a: &Ipv6Addr) -> R<Ipv4Addr> {
        if let Some(e) = self.eam.iter().filter(|e| e.match6(a)).max_by_key(|e| e.len6) {
            return Ok(e.to4(a));
        }
        match &self.pool6 {
            Some(p) if p.contains(a) => {
                let v4 = p.extract(a)?;
                if p.is_wkp() && is_non_global4(v4) {
                    return Err(Drop::WkpPrivate);
                }
                Ok(v4)
            }
            _ => Err(Drop::NoMapDst),
        }
    }
}

fn with_role<T>(r: R<T>, role: Role) -> R<T> {
    r.map_err(|d| match (d, role) {
        (Drop::NoMapDst, Role::Src) => Drop::NoMapSrc,
        (d, _) => d,
    })
}

impl Map for Table {
    fn to6(&self, a: Ipv4Addr, role: Role) -> R<Ipv6Addr> {
        with_role(self.map4(a), role)
    }
    fn to4(&self, a: Ipv6Addr, role: Role) -> R<Ipv4Addr> {
        with_role(self.map6(&a), role)
    }
}

/// A NAT64 binding (RFC 6146 §3.5) for one packet: the IPv6 host
/// `x6` appears on the IPv4 side as `t4` (with `port` its IPv4-side port
/// or ICMP identifier); every other address, the remote end or a router
/// quoting an error, goes through the stateless table (the RFC 6052 prefix).
#[derive(Debug, Clone, Copy)]
pub struct Nat<'a> {
    pub table: &'a Table,
    pub x6: Ipv6Addr,
    pub t4: Ipv4Addr,
    pub port: Option<u16>,
}

impl Map for Nat<'_> {
    // Only the binding's own end maps through it (the outer destination
    // 4→6, the outer source 6→4, and the matching ends of an error's inner
    // packet): a hairpinned packet (RFC 6146 §3.8) has the pool address at
    // both ends, and its other end goes through the prefix.
    fn to6(&self, a: Ipv4Addr, role: Role) -> R<Ipv6Addr> {
        if a == self.t4 && role == Role::Dst {
            return Ok(self.x6);
        }
        with_role(self.table.map4(a), role)
    }
    fn to4(&self, a: Ipv6Addr, role: Role) -> R<Ipv4Addr> {
        if a == self.x6 && role == Role::Src {
            return Ok(self.t4);
        }
        with_role(self.table.map6(&a), role)
    }
    fn port(&self) -> Option<u16> {
        self.port
    }
}

/// Translator settings (RFC 7915 §3 configuration).
#[derive(Debug, Clone)]
pub struct Config {
    /// Decrement TTL / Hop Limit and answer Time Exceeded (a router).
    pub forwarding: bool,
    /// MTU of the IPv6 next hop (a DF packet above it is refused).
    pub mtu6: usize,
    /// RFC 7915 §4.1 "lowest-ipv6-mtu": DF-clear IPv4 packets whose
    /// translation exceeds it are fragmented to it (default 1280).
    pub lowest_mtu6: usize,
    /// MTU of the IPv4 next hop.
    pub mtu4: usize,
    /// Copy TOS to Traffic Class and back (RFC 7915 §4.1 default: on).
    pub copy_tos: bool,
    /// Compute the checksum of unfragmented zero-checksum UDP (RFC 7915 §4.5).
    pub udp0_compute: bool,
    /// Our IPv4 address, the source of ICMPv4 errors we send.
    pub self4: Ipv4Addr,
    /// Our IPv6 address, the source of ICMPv6 errors we send.
    pub self6: Ipv6Addr,
    /// RFC 6791: IPv6 sources for translated ICMPv4 errors whose IPv4
    /// source (a router) has no IPv6 mapping; empty: such errors drop.
    pub pool6791v6: Vec<Ipv6Addr>,
    /// RFC 6791: IPv4 sources for translated ICMPv6 errors whose IPv6
    /// source (a router) has no IPv4 mapping.
    pub pool6791v4: Vec<Ipv4Addr>,
}

/// RFC 6791 §4: one address of the pool for an untranslatable error
/// source, chosen by the source itself (the same router keeps the same
/// stand-in, so traceroute output stays consistent).
fn pick6791<T: Copy>(pool: &[T], key: &[u8]) -> Option<T> {
    let h = key.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let n = pool.len();
    if n == 0 {
        return None;
    }
    pool.get(h as usize % n).copied()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            forwarding: true,
            mtu6: IPV6_MIN_MTU,
            lowest_mtu6: IPV6_MIN_MTU,
            mtu4: 1500,
            copy_tos: true,
            udp0_compute: true,
            self4: Ipv4Addr::UNSPECIFIED,
            self6: Ipv6Addr::UNSPECIFIED,
            pool6791v6: Vec::new(),
            pool6791v4: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------- helpers

fn be16(b: &[u8], at: usize) -> R<u16> {
    match b.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Drop::Short),
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = b.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn addr4(b: &[u8], at: usize) -> R<Ipv4Addr> {
    let s: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or(Drop::Short)?;
    Ok(Ipv4Addr::from(s))
}

fn addr6(b: &[u8], at: usize) -> R<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16).and_then(|s| s.try_into().ok()).ok_or(Drop::Short)?;
    Ok(Ipv6Addr::from(s))
}

fn fold(mut x: u64) -> u16 {
    while x > 0xffff {
        x = (x & 0xffff) + (x >> 16);
    }
    x as u16
}

/// RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'), with `old` and `new` the
/// one's-complement sums of what left and what came.
fn adjust(ck: u16, old: u16, new: u16) -> u16 {
    let x = u64::from(!ck) + u64::from(!old) + u64::from(new);
    !fold(x)
}

fn pseudo4_sum(src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
    let mut s = Sum::new();
    s.add(&src.octets());
    s.add(&dst.octets());
    s.fold()
}

fn pseudo6_sum(src: Ipv6Addr, dst: Ipv6Addr) -> u16 {
    let mut s = Sum::new();
    s.add(&src.octets());
    s.add(&dst.octets());
    s.fold()
}

/// The parsed IPv4 header.
#[derive(Debug, Clone, Copy)]
struct V4 {
    ihl: usize,
    total: usize,
    tos: u8,
    ident: u16,
    df: bool,
    mf: bool,
    offset: u16,
    ttl: u8,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    source_route: bool,
}

impl V4 {
    fn is_frag(&self) -> bool {
        self.mf || self.offset != 0
    }
}

/// `lax` parses the truncated packet inside an ICMP error: Total Length
/// may run past the bytes present.
fn parse4(p: &[u8], lax: bool) -> R<V4> {
    let b0 = *p.first().ok_or(Drop::Short)?;
    if b0 >> 4 != 4 {
        return Err(Drop::BadHeader);
    }
    let ihl = usize::from(b0 & 0xf) * 4;
    if ihl < 20 {
        return Err(Drop::BadHeader);
    }
    if p.len() < ihl {
        return Err(Drop::Short);
    }
    let total = usize::from(be16(p, 2)?);
    if total < ihl {
        return Err(Drop::BadHeader);
    }
    if !lax && total > p.len() {
        return Err(Drop::Short);
    }
    if !lax && !sum16(p.get(..ihl).ok_or(Drop::Short)?) != 0 {
        return Err(Drop::BadIpSum);
    }
    let fl = be16(p, 6)?;
    let mut source_route = false;
    let mut opts = p.get(20..ihl).unwrap_or(&[]);
    while let Some((&t, rest)) = opts.split_first() {
        match t {
            0 => break,
            1 => opts = rest,
            _ => {
                if t == 131 || t == 137 {
                    source_route = true;
                }
                let l = usize::from(*rest.first().unwrap_or(&0));
                if l < 2 || l > opts.len() {
                    return Err(Drop::BadHeader);
                }
                opts = opts.get(l..).unwrap_or(&[]);
            }
        }
    }
    Ok(V4 {
        ihl,
        total,
        tos: p.get(1).copied().unwrap_or(0),
        ident: be16(p, 4)?,
        df: fl & 0x4000 != 0,
        mf: fl & 0x2000 != 0,
        offset: fl & 0x1fff,
        ttl: p.get(8).copied().unwrap_or(0),
        proto: p.get(9).copied().unwrap_or(0),
        src: addr4(p, 12)?,
        dst: addr4(p, 16)?,
        source_route,
    })
}

/// The parsed IPv6 header and the extension headers the translator eats.
#[derive(Debug, Clone, Copy)]
struct V6 {
    tc: u8,
    plen: usize,
    hlim: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// The upper-layer protocol and where it starts.
    proto: u8,
    off: usize,
    /// The Fragment header: (offset in 8-octet units, M, identification).
    frag: Option<(u16, bool, u32)>,
    /// Where a non-zero Segments Left sits (for the Parameter Problem).
    rt_ptr: Option<usize>,
}

impl V6 {
    fn is_frag(&self) -> bool {
        matches!(self.frag, Some((o, m, _)) if o != 0 || m)
    }
    fn first_frag(&self) -> bool {
        !matches!(self.frag, Some((o, _, _)) if o != 0)
    }
}

fn parse6(p: &[u8], lax: bool) -> R<V6> {
    let b0 = *p.first().ok_or(Drop::Short)?;
    if b0 >> 4 != 6 {
        return Err(Drop::BadHeader);
    }
    if p.len() < 40 {
        return Err(Drop::Short);
    }
    let plen = usize::from(be16(p, 4)?);
    if plen == 0 && p.get(6) == Some(&NH_HOPOPTS) && !lax {
        // A jumbogram (RFC 2675) has no IPv4 counterpart.
        return Err(Drop::BadHeader);
    }
    if !lax && 40 + plen > p.len() {
        return Err(Drop::Short);
    }
    let end = if lax { p.len() } else { 40 + plen };
    let tc = (((u16::from(b0) << 8) | u16::from(p.get(1).copied().unwrap_or(0))) >> 4) as u8;
    let mut nh = p.get(6).copied().unwrap_or(0);
    let mut off = 40usize;
    let mut frag = None;
    let mut rt_ptr = None;
    let mut n = 0;
    while matches!(nh, NH_HOPOPTS | NH_ROUTING | NH_DSTOPTS | NH_FRAGMENT) {
        if nh == NH_HOPOPTS && off != 40 {
            return Err(Drop::BadHeader);
        }
        n += 1;
        if n > MAX_EXT {
            return Err(Drop::HeaderNest);
        }
        if frag.is_some_and(|(o, _, _)| o != 0) {
            // Headers after the Fragment header of a non-first fragment are
            // payload, not headers.
            break;
        }
        let h: [u8; 8] = p
            .get(off..off + 8)
            .filter(|_| off + 8 <= end)
            .and_then(|s| s.try_into().ok())
            .ok_or(Drop::Short)?;
        let next = h[0];
        let len = if nh == NH_FRAGMENT { 8 } else { (usize::from(h[1]) + 1) * 8 };
        if off + len > end {
            return Err(Drop::Short);
        }
        if nh == NH_FRAGMENT {
            if frag.is_some() {
                return Err(Drop::BadHeader);
            }
            let fo = u16::from_be_bytes([h[2], h[3]]);
            frag = Some((fo >> 3, fo & 1 != 0, u32::from_be_bytes([h[4], h[5], h[6], h[7]])));
        }
        if nh == NH_ROUTING && h[3] != 0 && rt_ptr.is_none() {
            rt_ptr = Some(off + 3);
        }
        nh = next;
        off += len;
    }
    Ok(V6 {
        tc,
        plen,
        hlim: p.get(7).copied().unwrap_or(0),
        src: addr6(p, 8)?,
        dst: addr6(p, 24)?,
        proto: nh,
        off,
        frag,
        rt_ptr,
    })
}

fn build4(v: &V4Out, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = v.tos;
    put16(&mut h, 2, total.min(0xffff) as u16);
    put16(&mut h, 4, v.ident);
    let fl = (if v.df { 0x4000 } else { 0 }) | (if v.mf { 0x2000 } else { 0 }) | (v.offset & 0x1fff);
    put16(&mut h, 6, fl);
    h[8] = v.ttl;
    h[9] = v.proto;
    h[12..16].copy_from_slice(&v.src.octets());
    h[16..20].copy_from_slice(&v.dst.octets());
    let ck = !sum16(&h);
    put16(&mut h, 10, ck);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    out
}

struct V4Out {
    tos: u8,
    ident: u16,
    df: bool,
    mf: bool,
    offset: u16,
    ttl: u8,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

struct V6Out {
    tc: u8,
    hlim: u8,
    proto: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// (offset in 8-octet units, M, identification)
    frag: Option<(u16, bool, u32)>,
}

fn build6(v: &V6Out, payload: &[u8]) -> Vec<u8> {
    let fh = if v.frag.is_some() { 8 } else { 0 };
    let mut h = Vec::with_capacity(40 + fh + payload.len());
    h.push(0x60 | (v.tc >> 4));
    h.push(v.tc << 4);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&((fh + payload.len()).min(0xffff) as u16).to_be_bytes());
    h.push(if v.frag.is_some() { NH_FRAGMENT } else { v.proto });
    h.push(v.hlim);
    h.extend_from_slice(&v.src.octets());
    h.extend_from_slice(&v.dst.octets());
    if let Some((off, m, id)) = v.frag {
        h.push(v.proto);
        h.push(0);
        h.extend_from_slice(&((off << 3) | u16::from(m)).to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
    }
    h.extend_from_slice(payload);
    h
}

/// Where a transport protocol keeps its checksum, and its port fields.
fn l4_cksum_at(proto: u8) -> Option<usize> {
    match proto {
        PROTO_TCP => Some(16),
        PROTO_UDP => Some(6),
        _ => None,
    }
}

/// Adjust a TCP/UDP checksum (and rewrite a port) for the pseudo-header
/// change; `port_at` is 0 (source) or 2 (destination).
fn fix_l4(proto: u8, l4: &mut [u8], old_ph: u16, new_ph: u16, port: Option<(usize, u16)>) {
    let Some(at) = l4_cksum_at(proto) else { return };
    let Ok(ck) = be16(l4, at) else {
        // A truncated inner header without its checksum: rewrite the port only.
        if let Some((pat, p)) = port {
            put16(l4, pat, p);
        }
        return;
    };
    let mut old = old_ph;
    let mut new = new_ph;
    if let Some((pat, p)) = port {
        if let Ok(o) = be16(l4, pat) {
            old = fold(u64::from(old) + u64::from(o));
            new = fold(u64::from(new) + u64::from(p));
            put16(l4, pat, p);
        }
    }
    if proto == PROTO_UDP && ck == 0 {
        return;
    }
    let mut n = adjust(ck, old, new);
    if proto == PROTO_UDP && n == 0 {
        n = 0xffff;
    }
    put16(l4, at, n);
}

// ------------------------------------------------------ ICMP type tables

/// RFC 7915 §4.2 Figure 3: an IPv4 Parameter Problem pointer in IPv6 terms.
pub fn pointer_4to6(p: u8) -> Option<u8> {
    match p {
        0 => Some(0),
        1 => Some(1),
        2 | 3 => Some(4),
        8 => Some(7),
        9 => Some(6),
        12..=15 => Some(8),
        16..=19 => Some(24),
        _ => None,
    }
}

/// RFC 7915 §5.2 Figure 6: an IPv6 Parameter Problem pointer in IPv4 terms.
pub fn pointer_6to4(p: u32) -> Option<u8> {
    match p {
        0 => Some(0),
        1 => Some(1),
        4 | 5 => Some(2),
        6 => Some(9),
        7 => Some(8),
        8..=23 => Some(12),
        24..=39 => Some(16),
        _ => None,
    }
}

/// RFC 1191 §7 plateaus, for a Fragmentation Needed with MTU 0.
fn plateau(total: u16) -> u16 {
    const P: [u16; 10] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296];
    P.iter().copied().find(|&m| m < total).unwrap_or(68)
}

/// ICMPv4 type/code → ICMPv6 type/code (RFC 7915 §4.2), with whether the
/// message is an error carrying an inner packet.
fn icmp_4to6(t: u8, c: u8) -> R<(u8, u8, bool)> {
    Ok(match (t, c) {
        (8, 0) => (128, 0, false),
        (0, 0) => (129, 0, false),
        (3, 0 | 1 | 5 | 6 | 7 | 8 | 11 | 12) => (1, 0, true),
        (3, 2) => (4, 1, true),
        (3, 3) => (1, 4, true),
        (3, 4) => (2, 0, true),
        (3, 9 | 10 | 13 | 15) => (1, 1, true),
        (11, 0 | 1) => (3, c, true),
        (12, 0 | 2) => (4, 0, true),
        _ => return Err(Drop::IcmpType),
    })
}

/// ICMPv6 type/code → ICMPv4 type/code (RFC 7915 §5.2).
fn icmp_6to4(t: u8, c: u8) -> R<(u8, u8, bool)> {
    Ok(match (t, c) {
        (128, 0) => (8, 0, false),
        (129, 0) => (0, 0, false),
        (1, 0 | 2 | 3) => (3, 1, true),
        (1, 1) => (3, 10, true),
        (1, 4) => (3, 3, true),
        (2, 0) => (3, 4, true),
        (3, 0 | 1) => (11, c, true),
        (4, 0) => (12, 0, true),
        (4, 1) => (3, 2, true),
        _ => return Err(Drop::IcmpType),
    })
}

fn is_icmp4_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

fn is_icmp6_error(t: u8) -> bool {
    t < 128
}

// --------------------------------------------------------- IPv4 → IPv6

fn time_exceeded4(cfg: &Config, pkt: &[u8], src: Ipv4Addr) -> Vec<u8> {
    icmp4_error(cfg, 11, 0, 0, pkt, src)
}

fn icmp4_error(cfg: &Config, t: u8, c: u8, rest: u32, pkt: &[u8], to: Ipv4Addr) -> Vec<u8> {
    let quote = pkt.get(..pkt.len().min(ICMP4_ERR_MAX - 28)).unwrap_or(pkt);
    let mut m = vec![t, c, 0, 0];
    m.extend_from_slice(&rest.to_be_bytes());
    m.extend_from_slice(quote);
    let ck = !sum16(&m);
    put16(&mut m, 2, ck);
    build4(
        &V4Out { tos: 0, ident: 0, df: false, mf: false, offset: 0, ttl: 64, proto: PROTO_ICMP, src: cfg.self4, dst: to },
        &m,
    )
}

fn icmp6_error(cfg: &Config, t: u8, c: u8, rest: u32, pkt: &[u8], to: Ipv6Addr) -> Vec<u8> {
    let quote = pkt.get(..pkt.len().min(IPV6_MIN_MTU - 48)).unwrap_or(pkt);
    let mut m = vec![t, c, 0, 0];
    m.extend_from_slice(&rest.to_be_bytes());
    m.extend_from_slice(quote);
    let ck = icmp6_cksum(cfg.self6, to, &m);
    put16(&mut m, 2, ck);
    build6(&V6Out { tc: 0, hlim: 64, proto: PROTO_ICMPV6, src: cfg.self6, dst: to, frag: None }, &m)
}

fn icmp6_cksum(src: Ipv6Addr, dst: Ipv6Addr, m: &[u8]) -> u16 {
    match in6_pseudo(&src, &dst, PROTO_ICMPV6, m.len() as u64) {
        Ok(mut s) => {
            s.add(m);
            s.finish()
        }
        Err(_) => 0,
    }
}

/// Translate an IPv4 packet to IPv6 (RFC 7915 §4).
pub fn xlat_4to6(pkt: &[u8], cfg: &Config, map: &dyn Map) -> Verdict {
    match xlat_4to6_inner(pkt, cfg, map) {
        // Never an error about an ICMP error (RFC 1812 §4.3.2.7).
        Ok(Verdict::Back(_, d)) if carries_error4(pkt) => Verdict::Drop(d),
        Ok(v) => v,
        Err(d) => Verdict::Drop(d),
    }
}

fn carries_error4(pkt: &[u8]) -> bool {
    match parse4(pkt, true) {
        Ok(h) => h.proto == PROTO_ICMP && (h.offset != 0 || pkt.get(h.ihl).is_some_and(|&t| is_icmp4_error(t))),
        Err(_) => true,
    }
}

fn carries_error6(pkt: &[u8]) -> bool {
    match parse6(pkt, true) {
        Ok(h) => h.proto == PROTO_ICMPV6 && (!h.first_frag() || pkt.get(h.off).is_some_and(|&t| is_icmp6_error(t))),
        Err(_) => true,
    }
}

fn xlat_4to6_inner(pkt: &[u8], cfg: &Config, map: &dyn Map) -> R<Verdict> {
    let h = parse4(pkt, false)?;
    if bad4(h.src) || bad4(h.dst) {
        return Err(Drop::BadAddr);
    }
    if h.source_route {
        // RFC 7915 §4.1: drop, answer Destination Unreachable/Source Route Failed.
        return Ok(Verdict::Back(icmp4_error(cfg, 3, 5, 0, pkt, h.src), Drop::SourceRoute));
    }
    if h.proto == 2 {
        return Err(Drop::Protocol); // IGMP has no IPv6 counterpart (MLD is link-local)
    }
    let is_error = h.proto == PROTO_ICMP && h.offset == 0 && pkt.get(h.ihl).is_some_and(|&t| is_icmp4_error(t));
    let src = match map.to6(h.src, Role::Src) {
        // RFC 6791: an ICMPv4 error from a router with no IPv6 mapping
        // takes its source from the configured pool.
        Err(Drop::NoMapSrc | Drop::WkpPrivate) if is_error && !cfg.pool6791v6.is_empty() => {
            pick6791(&cfg.pool6791v6, &h.src.octets()).ok_or(Drop::NoMapSrc)?
        }
        r => r?,
    };
    let dst = map.to6(h.dst, Role::Dst)?;
    let mut ttl = h.ttl;
    if cfg.forwarding {
        if ttl <= 1 {
            return Ok(Verdict::Back(time_exceeded4(cfg, pkt, h.src), Drop::TtlExceeded));
        }
        ttl -= 1;
    }
    let body = pkt.get(h.ihl..h.total).ok_or(Drop::Short)?;
    let first = h.offset == 0;
    let mut payload = body.to_vec();
    let proto = if h.proto == PROTO_ICMP { PROTO_ICMPV6 } else { h.proto };
    match h.proto {
        PROTO_ICMP => {
            if h.is_frag() {
                return Err(Drop::IcmpFragment);
            }
            payload = icmp_body_4to6(&payload, src, dst, cfg, map)?;
        }
        PROTO_UDP | PROTO_TCP if first => {
            let port = map.port().map(|p| (2usize, p));
            if h.proto == PROTO_UDP && be16(&payload, 6).ok() == Some(0) {
                if h.is_frag() || !cfg.udp0_compute {
                    return Err(Drop::Udp0Fragment);
                }
                if let Some((pat, p)) = port {
                    put16(&mut payload, pat, p);
                }
                let ck = udp6_cksum(src, dst, &payload);
                put16(&mut payload, 6, ck);
            } else {
                fix_l4(h.proto, &mut payload, pseudo4_sum(h.src, h.dst), pseudo6_sum(src, dst), port);
            }
        }
        _ => {}
    }
    let tc = if cfg.copy_tos { h.tos } else { 0 };
    // RFC 7915 §4.1: a Fragment header when the IPv4 packet is a fragment,
    // or DF is clear and the IPv6 packet would exceed the IPv6 MTU.
    let mtu6 = cfg.mtu6.max(IPV6_MIN_MTU);
    let lowest = cfg.lowest_mtu6.clamp(IPV6_MIN_MTU, mtu6);
    let whole = 40 + payload.len();
    if !h.is_frag() && (whole <= lowest || (h.df && whole <= mtu6)) {
        return Ok(Verdict::Out(vec![build6(&V6Out { tc, hlim: ttl, proto, src, dst, frag: None }, &payload)]));
    }
    if h.df && !h.is_frag() {
        // RFC 7915 §4.4 / RFC 1191: Fragmentation Needed, MTU in IPv4 terms.
        let mtu = (mtu6 - 20) as u32;
        return Ok(Verdict::Back(icmp4_error(cfg, 3, 4, mtu & 0xffff, pkt, h.src), Drop::TooBig));
    }
    let max = (lowest - 48) & !7;
    let mut out = Vec::new();
    let mut at = 0usize;
    let base = usize::from(h.offset) * 8;
    loop {
        let n = (payload.len() - at).min(max);
        let last = at + n >= payload.len();
        let chunk = payload.get(at..at + n).ok_or(Drop::Short)?;
        let off = ((base + at) / 8) as u16;
        let m = if last { h.mf } else { true };
        out.push(build6(
            &V6Out { tc, hlim: ttl, proto, src, dst, frag: Some((off, m, u32::from(h.ident))) },
            chunk,
        ));
        at += n;
        if last {
            break;
        }
    }
    Ok(Verdict::Out(out))
}

fn udp6_cksum(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> u16 {
    let mut tmp = udp.to_vec();
    put16(&mut tmp, 6, 0);
    let ck = match in6_pseudo(&src, &dst, PROTO_UDP, tmp.len() as u64) {
        Ok(mut s) => {
            s.add(&tmp);
            s.finish()
        }
        Err(_) => 0,
    };
    if ck == 0 {
        0xffff
    } else {
        ck
    }
}

fn icmp_body_4to6(m: &[u8], src: Ipv6Addr, dst: Ipv6Addr, cfg: &Config, map: &dyn Map) -> R<Vec<u8>> {
    let hd: [u8; 8] = m.get(..8).and_then(|s| s.try_into().ok()).ok_or(Drop::Short)?;
    if !sum16(m) != 0 {
        return Err(Drop::BadIcmpSum);
    }
    let t = hd[0];
    let c = hd[1];
    let (t6, c6, err) = icmp_4to6(t, c)?;
    let mut out = vec![t6, c6, 0, 0];
    if !err {
        out.extend_from_slice(m.get(4..).unwrap_or(&[]));
        if let Some(p) = map.port() {
            put16(&mut out, 4, p);
        }
    } else {
        let rest: u32 = match (t6, t) {
            (2, _) => {
                // RFC 7915 §4.2: min(advertised + 20, IPv6 next-hop MTU,
                // IPv4 next-hop MTU + 20); 0 advertised → RFC 1191 plateau.
                let inner_total = be16(m, 10).unwrap_or(0);
                let adv = be16(m, 6)?;
                let adv = if adv == 0 { plateau(inner_total) } else { adv };
                let v = (u32::from(adv) + 20).min(cfg.mtu6 as u32).min(cfg.mtu4 as u32 + 20);
                v.max(IPV6_MIN_MTU as u32)
            }
            (4, 12) => {
                let p = pointer_4to6(hd[4]).ok_or(Drop::IcmpPointer)?;
                u32::from(p)
            }
            (4, 3) => 6, // Protocol Unreachable → pointer to Next Header
            _ => 0,
        };
        out.extend_from_slice(&rest.to_be_bytes());
        let inner = m.get(8..).unwrap_or(&[]);
        let inner6 = inner_4to6(inner, map)?;
        // RFC 7915 §4.2: the ICMPv6 error stays within the minimum MTU.
        let room = IPV6_MIN_MTU - 48;
        out.extend_from_slice(inner6.get(..inner6.len().min(room)).unwrap_or(&inner6));
    }
    let ck = icmp6_cksum(src, dst, &out);
    put16(&mut out, 2, ck);
    Ok(out)
}

/// The ICMPv6 pseudo-header's one's-complement sum (RFC 8200 §8.1) for an
/// upper-layer length `ulen` (at most 32 bits).
fn icmp6_pseudo(src: Ipv6Addr, dst: Ipv6Addr, ulen: u64) -> u16 {
    fold(u64::from(pseudo6_sum(src, dst)) + ((ulen >> 16) & 0xffff) + (ulen & 0xffff) + u64::from(PROTO_ICMPV6))
}

/// An echo quoted in an error, taken to the other family: its type/code
/// word becomes `neww`, the ICMPv6 pseudo-header leaves (`old_ph`) or joins
/// (`new_ph`) the sum, the identifier takes the mapping's port; the
/// checksum is adjusted incrementally, since the quote may be truncated.
fn requote_echo(payload: &mut [u8], map: &dyn Map, neww: u16, old_ph: u16, new_ph: u16) {
    let oldw = be16(payload, 0).unwrap_or(0);
    let mut old = fold(u64::from(oldw) + u64::from(old_ph));
    let mut new = fold(u64::from(neww) + u64::from(new_ph));
    if let (Some(p), Ok(o)) = (map.port(), be16(payload, 4)) {
        old = fold(u64::from(old) + u64::from(o));
        new = fold(u64::from(new) + u64::from(p));
        put16(payload, 4, p);
    }
    if let Ok(ck) = be16(payload, 2) {
        put16(payload, 2, adjust(ck, old, new));
    }
    put16(payload, 0, neww);
}

/// The IPv4 packet quoted in an ICMPv4 error, in IPv6 (RFC 7915 §4.3):
/// addresses mapped the other way round, TTL kept, no further nesting.
fn inner_4to6(inner: &[u8], map: &dyn Map) -> R<Vec<u8>> {
    let h = parse4(inner, true)?;
    let src = map.to6(h.src, Role::Dst)?;
    let dst = map.to6(h.dst, Role::Src)?;
    let end = h.total.min(inner.len());
    let mut payload = inner.get(h.ihl..end).unwrap_or(&[]).to_vec();
    let proto = if h.proto == PROTO_ICMP { PROTO_ICMPV6 } else { h.proto };
    if h.offset == 0 {
        match h.proto {
            PROTO_ICMP => {
                let t = *payload.first().unwrap_or(&0);
                if is_icmp4_error(t) {
                    return Err(Drop::IcmpNested);
                }
                if let Ok((t6, c6, _)) = icmp_4to6(t, payload.get(1).copied().unwrap_or(0)) {
                    // Incremental: type/code word changes, the pseudo-header
                    // (with the original length) joins.
                    let neww = (u16::from(t6) << 8) | u16::from(c6);
                    let ph = icmp6_pseudo(src, dst, (h.total - h.ihl) as u64);
                    requote_echo(&mut payload, map, neww, 0, ph);
                }
            }
            PROTO_UDP | PROTO_TCP => {
                let port = map.port().map(|p| (0usize, p));
                fix_l4(h.proto, &mut payload, pseudo4_sum(h.src, h.dst), pseudo6_sum(src, dst), port);
            }
            _ => {}
        }
    }
    let frag = if h.is_frag() { Some((h.offset, h.mf, u32::from(h.ident))) } else { None };
    let mut v = build6(&V6Out { tc: h.tos, hlim: h.ttl, proto, src, dst, frag }, &payload);
    // Payload Length as the original said (the quote is truncated).
    let plen = (h.total - h.ihl) + if frag.is_some() { 8 } else { 0 };
    put16(&mut v, 4, plen.min(0xffff) as u16);
    Ok(v)
}

// --------------------------------------------------------- IPv6 → IPv4

/// Translate an IPv6 packet to IPv4 (RFC 7915 §5). `ident` is the next
/// value of the caller's Fragment Identification generator (§5.1), used
/// when the packet has no Fragment header.
pub fn xlat_6to4(pkt: &[u8], cfg: &Config, map: &dyn Map, ident: u16) -> Verdict {
    match xlat_6to4_inner(pkt, cfg, map, ident) {
        // Never an error about an ICMPv6 error (RFC 4443 §2.4 e.1).
        Ok(Verdict::Back(_, d)) if carries_error6(pkt) => Verdict::Drop(d),
        Ok(v) => v,
        Err(d) => Verdict::Drop(d),
    }
}

fn xlat_6to4_inner(pkt: &[u8], cfg: &Config, map: &dyn Map, ident: u16) -> R<Verdict> {
    let h = parse6(pkt, false)?;
    if bad6(&h.src) || bad6(&h.dst) {
        return Err(Drop::BadAddr);
    }
    if let Some(ptr) = h.rt_ptr {
        let e = icmp6_error(cfg, 4, 0, ptr as u32, pkt, h.src);
        return Ok(Verdict::Back(e, Drop::RoutingHeader));
    }
    if h.proto == PROTO_ICMP {
        return Err(Drop::Protocol);
    }
    let is_error = h.proto == PROTO_ICMPV6 && h.first_frag() && pkt.get(h.off).is_some_and(|&t| is_icmp6_error(t));
    let src = match map.to4(h.src, Role::Src) {
        // RFC 6791: an ICMPv6 error from a router with no IPv4 mapping
        // takes its source from the configured pool.
        Err(Drop::NoMapSrc | Drop::WkpPrivate) if is_error && !cfg.pool6791v4.is_empty() => {
            pick6791(&cfg.pool6791v4, &h.src.octets()).ok_or(Drop::NoMapSrc)?
        }
        // An untranslatable source: Destination Unreachable, "source
        // address failed ingress/egress policy" (RFC 4443 §3.1 code 5).
        Err(Drop::NoMapSrc) => {
            let e = icmp6_error(cfg, 1, 5, 0, pkt, h.src);
            return Ok(Verdict::Back(e, Drop::NoMapSrc));
        }
        r => r?,
    };
    let dst = map.to4(h.dst, Role::Dst)?;
    if bad4(src) || bad4(dst) {
        return Err(Drop::BadAddr);
    }
    let mut ttl = h.hlim;
    if cfg.forwarding {
        if ttl <= 1 {
            let e = icmp6_error(cfg, 3, 0, 0, pkt, h.src);
            return Ok(Verdict::Back(e, Drop::TtlExceeded));
        }
        ttl -= 1;
    }
    let end = 40 + h.plen;
    let mut payload = pkt.get(h.off..end).ok_or(Drop::Short)?.to_vec();
    let proto = if h.proto == PROTO_ICMPV6 { PROTO_ICMP } else { h.proto };
    match h.proto {
        PROTO_ICMPV6 => {
            if h.is_frag() {
                return Err(Drop::IcmpFragment);
            }
            payload = icmp_body_6to4(&payload, &h, cfg, map)?;
        }
        PROTO_UDP | PROTO_TCP if h.first_frag() => {
            if h.proto == PROTO_UDP && be16(&payload, 6).ok() == Some(0) {
                return Err(Drop::Udp0V6);
            }
            let port = map.port().map(|p| (0usize, p));
            fix_l4(h.proto, &mut payload, pseudo6_sum(h.src, h.dst), pseudo4_sum(src, dst), port);
        }
        _ => {}
    }
    let tos = if cfg.copy_tos { h.tc } else { 0 };
    let total = 20 + payload.len();
    let (id, df, mf, offset) = match h.frag {
        // RFC 7915 §5.1.1: from the Fragment header, DF clear.
        Some((o, m, fid)) => (fid as u16, false, m, o),
        // RFC 7915 §5.1: DF set above 1260 bytes (the IPv6 source does PMTUD).
        None => (ident, total > IPV6_MIN_MTU - 20, false, 0),
    };
    let v = V4Out { tos, ident: id, df, mf, offset, ttl, proto, src, dst };
    if total <= cfg.mtu4 {
        return Ok(Verdict::Out(vec![build4(&v, &payload)]));
    }
    if df {
        // RFC 7915 §5.3 / §5.1: Packet Too Big with the IPv4 MTU in IPv6 terms.
        let mtu = (cfg.mtu4 + 20).max(IPV6_MIN_MTU) as u32;
        let e = icmp6_error(cfg, 2, 0, mtu, pkt, h.src);
        return Ok(Verdict::Back(e, Drop::TooBig));
    }
    // A fragment (DF clear) that is still too big: fragment as an IPv4 router.
    let max = (cfg.mtu4.max(68) - 20) & !7;
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let n = (payload.len() - at).min(max);
        let last = at + n >= payload.len();
        let chunk = payload.get(at..at + n).ok_or(Drop::Short)?;
        let off = offset + (at / 8) as u16;
        let vv = V4Out { mf: if last { mf } else { true }, offset: off, ..v };
        out.push(build4(&vv, chunk));
        at += n;
        if last {
            break;
        }
    }
    Ok(Verdict::Out(out))
}

fn icmp_body_6to4(m: &[u8], h: &V6, cfg: &Config, map: &dyn Map) -> R<Vec<u8>> {
    let hd: [u8; 8] = m.get(..8).and_then(|s| s.try_into().ok()).ok_or(Drop::Short)?;
    if icmp6_cksum(h.src, h.dst, m) != 0 {
        return Err(Drop::BadIcmpSum);
    }
    let t = hd[0];
    let c = hd[1];
    let (t4, c4, err) = icmp_6to4(t, c)?;
    let mut out = vec![t4, c4, 0, 0];
    if !err {
        out.extend_from_slice(m.get(4..).unwrap_or(&[]));
        if let Some(p) = map.port() {
            put16(&mut out, 4, p);
        }
    } else {
        let rest: u32 = match (t, t4) {
            (2, _) => {
                // RFC 7915 §5.2: min(MTU − 20, IPv4 next-hop MTU, IPv6 next-hop MTU − 20).
                let adv = u32::from_be_bytes([hd[4], hd[5], hd[6], hd[7]]);
                let v = adv.saturating_sub(20).min(cfg.mtu4 as u32).min((cfg.mtu6 as u32).saturating_sub(20));
                v & 0xffff
            }
            (4, 12) => {
                let ptr = u32::from_be_bytes([hd[4], hd[5], hd[6], hd[7]]);
                u32::from(pointer_6to4(ptr).ok_or(Drop::IcmpPointer)?) << 24
            }
            _ => 0,
        };
        out.extend_from_slice(&rest.to_be_bytes());
        let inner = m.get(8..).unwrap_or(&[]);
        let inner4 = inner_6to4(inner, map)?;
        let room = ICMP4_ERR_MAX - 28;
        out.extend_from_slice(inner4.get(..inner4.len().min(room)).unwrap_or(&inner4));
    }
    let ck = !sum16(&out);
    put16(&mut out, 2, ck);
    Ok(out)
}

/// The IPv6 packet quoted in an ICMPv6 error, in IPv4 (RFC 7915 §5.3).
fn inner_6to4(inner: &[u8], map: &dyn Map) -> R<Vec<u8>> {
    let h = parse6(inner, true)?;
    let src = map.to4(h.src, Role::Dst)?;
    let dst = map.to4(h.dst, Role::Src)?;
    let mut payload = inner.get(h.off..).unwrap_or(&[]).to_vec();
    let proto = if h.proto == PROTO_ICMPV6 { PROTO_ICMP } else { h.proto };
    let ulen = (40 + h.plen).saturating_sub(h.off);
    if h.first_frag() {
        match h.proto {
            PROTO_ICMPV6 => {
                let t = *payload.first().unwrap_or(&0);
                if is_icmp6_error(t) {
                    return Err(Drop::IcmpNested);
                }
                if let Ok((t4, c4, _)) = icmp_6to4(t, payload.get(1).copied().unwrap_or(0)) {
                    let neww = (u16::from(t4) << 8) | u16::from(c4);
                    let ph = icmp6_pseudo(h.src, h.dst, ulen as u64);
                    requote_echo(&mut payload, map, neww, ph, 0);
                }
            }
            PROTO_UDP | PROTO_TCP => {
                let port = map.port().map(|p| (2usize, p));
                fix_l4(h.proto, &mut payload, pseudo6_sum(h.src, h.dst), pseudo4_sum(src, dst), port);
            }
            _ => {}
        }
    }
    let (id, mf, offset) = match h.frag {
        Some((o, m, fid)) => (fid as u16, m, o),
        None => (0, false, 0),
    };
    let v = V4Out { tos: h.tc, ident: id, df: false, mf, offset, ttl: h.hlim, proto, src, dst };
    let mut out = build4(&v, &payload);
    // Total Length as the original said; the header checksum over it.
    put16(&mut out, 2, (20 + ulen).min(0xffff) as u16);
    put16(&mut out, 10, 0);
    let ck = !sum16(out.get(..20).unwrap_or(&[]));
    put16(&mut out, 10, ck);
    Ok(out)
}

/// The flow a packet belongs to, as stateful NAT64 keys its sessions:
/// `(proto, src, dst, sport, dport, is_error)`; for ICMP query messages
/// both ports are the identifier; for errors it is the inner packet's flow
/// turned round (the direction of the outer packet). `proto` is 1 for ICMP
/// and ICMPv6 alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow<A> {
    pub proto: u8,
    pub src: A,
    pub dst: A,
    pub sport: u16,
    pub dport: u16,
    pub error: bool,
    /// TCP flags (SYN, FIN, RST) of the outer segment, for the RFC 6146 §3.5.2 state machine.
    pub tcp_flags: u8,
}

fn ports(proto: u8, l4: &[u8], v6: bool) -> R<(u16, u16, u8)> {
    match proto {
        PROTO_TCP => Ok((be16(l4, 0)?, be16(l4, 2)?, l4.get(13).copied().unwrap_or(0))),
        PROTO_UDP => Ok((be16(l4, 0)?, be16(l4, 2)?, 0)),
        _ => {
            let id = be16(l4, 4)?;
            let t = *l4.first().ok_or(Drop::Short)?;
            let ok = if v6 { t == 128 || t == 129 } else { t == 8 || t == 0 };
            if !ok {
                return Err(Drop::IcmpType);
            }
            Ok((id, id, 0))
        }
    }
}

pub fn flow4(pkt: &[u8]) -> R<Flow<Ipv4Addr>> {
    let h = parse4(pkt, false)?;
    if h.offset != 0 {
        return Err(Drop::IcmpFragment);
    }
    let l4 = pkt.get(h.ihl..h.total).ok_or(Drop::Short)?;
    match h.proto {
        PROTO_TCP | PROTO_UDP => {
            let (s, d, f) = ports(h.proto, l4, false)?;
            Ok(Flow { proto: h.proto, src: h.src, dst: h.dst, sport: s, dport: d, error: false, tcp_flags: f })
        }
        PROTO_ICMP => {
            let t = *l4.first().ok_or(Drop::Short)?;
            if is_icmp4_error(t) {
                let i = parse4(l4.get(8..).unwrap_or(&[]), true)?;
                let il4 = l4.get(8 + i.ihl..).unwrap_or(&[]);
                if !matches!(i.proto, PROTO_TCP | PROTO_UDP | PROTO_ICMP) {
                    return Err(Drop::Protocol);
                }
                let (s, d, _) = ports(i.proto, il4, false)?;
                Ok(Flow { proto: i.proto, src: i.dst, dst: i.src, sport: d, dport: s, error: true, tcp_flags: 0 })
            } else {
                let (s, d, _) = ports(PROTO_ICMP, l4, false)?;
                Ok(Flow { proto: PROTO_ICMP, src: h.src, dst: h.dst, sport: s, dport: d, error: false, tcp_flags: 0 })
            }
        }
        _ => Err(Drop::Protocol),
    }
}

pub fn flow6(pkt: &[u8]) -> R<Flow<Ipv6Addr>> {
    let h = parse6(pkt, false)?;
    if !h.first_frag() {
        return Err(Drop::IcmpFragment);
    }
    let l4 = pkt.get(h.off..40 + h.plen).ok_or(Drop::Short)?;
    match h.proto {
        PROTO_TCP | PROTO_UDP => {
            let (s, d, f) = ports(h.proto, l4, true)?;
            Ok(Flow { proto: h.proto, src: h.src, dst: h.dst, sport: s, dport: d, error: false, tcp_flags: f })
        }
        PROTO_ICMPV6 => {
            let t = *l4.first().ok_or(Drop::Short)?;
            if is_icmp6_error(t) {
                let i = parse6(l4.get(8..).unwrap_or(&[]), true)?;
                let il4 = l4.get(8 + i.off..).unwrap_or(&[]);
                if !matches!(i.proto, PROTO_TCP | PROTO_UDP | PROTO_ICMPV6) {
                    return Err(Drop::Protocol);
                }
                let (s, d, _) = ports(i.proto, il4, true)?;
                let p = if i.proto == PROTO_ICMPV6 { PROTO_ICMP } else { i.proto };
                Ok(Flow { proto: p, src: i.dst, dst: i.src, sport: d, dport: s, error: true, tcp_flags: 0 })
            } else {
                let (s, d, _) = ports(PROTO_ICMPV6, l4, true)?;
                Ok(Flow { proto: PROTO_ICMP, src: h.src, dst: h.dst, sport: s, dport: d, error: false, tcp_flags: 0 })
            }
        }
        _ => Err(Drop::Protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6052_examples() {
        // RFC 6052 §2.4 table, 192.0.2.33.
        let a = Ipv4Addr::new(192, 0, 2, 33);
        let cases: [(&str, u8, &str); 6] = [
            ("2001:db8::", 32, "2001:db8:c000:221::"),
            ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
            ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"),
        ];
        for (p, l, want) in cases {
            let pf = Prefix6052::new(p.parse().unwrap(), l).unwrap();
            let got = pf.embed(a);
            assert_eq!(got, want.parse::<Ipv6Addr>().unwrap(), "/{l}");
            assert_eq!(pf.extract(&got).unwrap(), a);
        }
    }

    #[test]
    fn eam_maps_both_ways() {
        let e = Eam::new("192.0.2.0".parse().unwrap(), 24, "2001:db8:aaaa::".parse().unwrap(), 120).unwrap();
        let t = Table { pool6: None, eam: vec![e] };
        let v6 = t.map4("192.0.2.7".parse().unwrap()).unwrap();
        assert_eq!(v6, "2001:db8:aaaa::7".parse::<Ipv6Addr>().unwrap());
        assert_eq!(t.map6(&v6).unwrap(), "192.0.2.7".parse::<Ipv4Addr>().unwrap());
    }

    #[test]
    fn rfc6791_pool_sources_untranslatable_router_errors() {
        // An ICMPv4 Time Exceeded from 203.0.113.77 (no mapping: EAM only)
        // about 192.0.2.2 -> 198.51.100.10.
        let e1 = Eam::new("192.0.2.2".parse().unwrap(), 32, "2001:db8:1::2".parse().unwrap(), 128).unwrap();
        let e2 = Eam::new("198.51.100.10".parse().unwrap(), 32, "2001:db8:2::10".parse().unwrap(), 128).unwrap();
        let t = Table { pool6: None, eam: vec![e1, e2] };
        let mut inner = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 1, 17, 0, 0, 192, 0, 2, 2, 198, 51, 100, 10];
        let ck = !sum16(&inner);
        inner[10..12].copy_from_slice(&ck.to_be_bytes());
        inner.extend_from_slice(&[0x0f, 0xa0, 0x82, 0x9a, 0, 8, 0, 0]);
        let mut icmp = vec![11, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner);
        let ck = !sum16(&icmp);
        icmp[2..4].copy_from_slice(&ck.to_be_bytes());
        let total = (20 + icmp.len()) as u16;
        let mut pkt = vec![0x45, 0, 0, 0, 0, 2, 0, 0, 64, 1, 0, 0, 203, 0, 113, 77, 192, 0, 2, 2];
        pkt[2..4].copy_from_slice(&total.to_be_bytes());
        let ck = !sum16(&pkt);
        pkt[10..12].copy_from_slice(&ck.to_be_bytes());
        pkt.extend_from_slice(&icmp);
        assert_eq!(xlat_4to6(&pkt, &Config::default(), &t), Verdict::Drop(Drop::NoMapSrc));
        let stand_in: Ipv6Addr = "2001:db8:6791::1".parse().unwrap();
        let cfg = Config { pool6791v6: vec![stand_in], ..Config::default() };
        match xlat_4to6(&pkt, &cfg, &t) {
            Verdict::Out(o) => assert_eq!(o.first().and_then(|p| p.get(8..24)), Some(&stand_in.octets()[..])),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn nat_binding_maps_only_its_own_end() {
        // A hairpinned packet has the pool address at both ends (RFC 6146 §3.8).
        let t = Table { pool6: Some(Prefix6052::new("2001:db8:64::".parse().unwrap(), 96).unwrap()), eam: vec![] };
        let x6: Ipv6Addr = "2001:db8:1::3".parse().unwrap();
        let t4: Ipv4Addr = "203.0.113.1".parse().unwrap();
        let m = Nat { table: &t, x6, t4, port: Some(7000) };
        assert_eq!(m.to6(t4, Role::Dst), Ok(x6));
        assert_eq!(m.to6(t4, Role::Src), Ok("2001:db8:64::cb00:7101".parse().unwrap()));
        assert_eq!(m.to4(x6, Role::Src), Ok(t4));
    }

    #[test]
    fn garbage_never_panics() {
        let t = Table { pool6: Some(Prefix6052::new(WKP, 96).unwrap()), eam: vec![] };
        let cfg = Config::default();
        for n in 0..80 {
            let mut b = vec![0x45u8; n];
            let _ = xlat_4to6(&b, &cfg, &t);
            b.fill(0x60);
            let _ = xlat_6to4(&b, &cfg, &t, 1);
        }
    }
}
