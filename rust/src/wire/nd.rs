//! Neighbor Discovery options (RFC 4861 §4.6; RFC 4191 §2.3 Route
//! Information; RFC 8106 §5.1 RDNSS; RFC 3971 §5.3.2 Nonce) and KAME's
//! capped option walker (`nd6_options()` in `sys/netinet6/nd6.c`).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |    Length     |              ...              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                              ...                              ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Length is in units of 8 octets, type and length included.
//!
//! The walker ([`Options::walk`]) follows KAME (seed §1.2, DESIGN §4):
//! - an option of length 0, or one that overruns the message, rejects the
//!   whole message (an error);
//! - only the first `maxndopt` options (default [`ND6_MAXNDOPT`] = 10) are
//!   examined; any further options are not examined and are counted in
//!   [`Options::toomanyopt`] (KAME `icp6s_nd_toomanyopt`) - not an error;
//! - of the single-use types (SLLA, TLLA, Redirected Header, MTU, Nonce) the
//!   first wins, later duplicates are counted ([`Options::dupopt`]) and
//!   ignored by the accessors;
//! - Prefix Information, Route Information and RDNSS options are kept in
//!   order, all of them (within the cap);
//! - a known option whose length is illegal for its type is kept raw as
//!   [`Repr::Unknown`], counted in [`Options::badopt`], and ignored (KAME
//!   `nd6_ra_input`: "invalid option len for prefix information option,
//!   ignored").
//!
//! KAME itself processes `maxndopt + 1` options before it breaks out of the
//! loop (`i++; if (i > nd6_maxndopt)` after the option), and bumps
//! `icp6s_nd_toomanyopt` even when the 11th option was the last one. The seed
//! says "only the first 10 prefixes will be recognized"; the seed wins: we
//! take exactly `maxndopt`.

use std::net::Ipv6Addr;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::icmpv6::open_enum;

/// KAME `nd6_maxndopt`: options examined per ND message (seed §1.2).
pub const ND6_MAXNDOPT: usize = 10;

mod field {
    #![allow(dead_code)]
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    // Prefix Information (RFC 4861 §4.6.2)
    pub const PI_PREFIX_LEN: usize = 2;
    pub const PI_FLAGS: usize = 3;
    pub const PI_VALID: core::ops::Range<usize> = 4..8;
    pub const PI_PREFERRED: core::ops::Range<usize> = 8..12;
    pub const PI_RESERVED2: core::ops::Range<usize> = 12..16;
    pub const PI_PREFIX: core::ops::Range<usize> = 16..32;
    // MTU (RFC 4861 §4.6.4)
    pub const MTU_MTU: core::ops::Range<usize> = 4..8;
    // Redirected Header (RFC 4861 §4.6.3): 6 reserved octets then data.
    pub const RH_DATA: usize = 8;
    // Route Information (RFC 4191 §2.3)
    pub const RIO_PREFIX_LEN: usize = 2;
    pub const RIO_FLAGS: usize = 3;
    pub const RIO_LIFETIME: core::ops::Range<usize> = 4..8;
    pub const RIO_PREFIX: usize = 8;
    // RDNSS (RFC 8106 §5.1)
    pub const RDNSS_LIFETIME: core::ops::Range<usize> = 4..8;
    pub const RDNSS_ADDRS: usize = 8;
}

open_enum! {
    /// ND option types (IANA "IPv6 Neighbor Discovery Option Formats").
    pub enum OptionType(u8) {
        SourceLinkLayerAddr = 1,
        TargetLinkLayerAddr = 2,
        PrefixInformation = 3,
        RedirectedHeader = 4,
        Mtu = 5,
        Nonce = 14,
        RouteInformation = 24,
        Rdnss = 25,
    }
}

/// Prefix Information flags (RFC 4861 §4.6.2, RFC 6275 §7.2 R).
pub const PI_FLAG_ONLINK: u8 = 0x80;
pub const PI_FLAG_AUTO: u8 = 0x40;
pub const PI_FLAG_ROUTER: u8 = 0x20;

/// Route preference values (RFC 4191 §2.1), the 2-bit Prf field.
pub const PRF_MEDIUM: u8 = 0b00;
pub const PRF_HIGH: u8 = 0b01;
pub const PRF_RESERVED: u8 = 0b10;
pub const PRF_LOW: u8 = 0b11;

/// A Prefix Information option (RFC 4861 §4.6.2), length 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixInfo {
    pub prefix_len: u8,
    /// The whole flags octet: L (0x80), A (0x40), R (0x20), reserved bits.
    pub flags: u8,
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub prefix: Ipv6Addr,
}

impl PrefixInfo {
    pub fn on_link(&self) -> bool {
        self.flags & PI_FLAG_ONLINK != 0
    }
    pub fn autonomous(&self) -> bool {
        self.flags & PI_FLAG_AUTO != 0
    }
}

/// A Route Information option (RFC 4191 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteInfo {
    pub prefix_len: u8,
    /// The 2-bit route preference (`PRF_*`).
    pub preference: u8,
    pub lifetime: u32,
    /// The prefix, bits past `prefix_len` cleared (they are reserved and
    /// ignored by the receiver, RFC 4191 §2.3).
    pub prefix: Ipv6Addr,
}

/// One ND option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Repr<'a> {
    /// Source Link-Layer Address (RFC 4861 §4.6.1): the option data after
    /// type and length, padding included (6 octets on Ethernet).
    SourceLinkLayerAddr(&'a [u8]),
    /// Target Link-Layer Address (RFC 4861 §4.6.1).
    TargetLinkLayerAddr(&'a [u8]),
    PrefixInformation(PrefixInfo),
    /// Redirected Header (RFC 4861 §4.6.3): the IP header + data after the
    /// six reserved octets.
    RedirectedHeader(&'a [u8]),
    /// MTU (RFC 4861 §4.6.4).
    Mtu(u32),
    /// Nonce (RFC 3971 §5.3.2): the nonce octets.
    Nonce(&'a [u8]),
    RouteInformation(RouteInfo),
    /// Recursive DNS Server (RFC 8106 §5.1).
    Rdnss { lifetime: u32, servers: Vec<Ipv6Addr> },
    /// Any other option, or a known one whose length is illegal for its
    /// type: the data after type and length, kept losslessly.
    Unknown { kind: u8, data: &'a [u8] },
}

fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    b.get(r).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_be_bytes).unwrap_or(0)
}

fn addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s = b.get(at..at.checked_add(16)?)?;
    <[u8; 16]>::try_from(s).ok().map(Ipv6Addr::from)
}

/// Clear the bits of `a` past `len` (a prefix).
pub fn mask_prefix(a: &Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(*a);
    let len = u32::from(len.min(128));
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    Ipv6Addr::from(bits & mask)
}

impl<'a> Repr<'a> {
    /// Parse one whole option (`opt` is exactly `length * 8` octets).
    /// A known type with an illegal length is a `Malformed` error.
    pub fn parse(opt: &'a [u8]) -> Result<Repr<'a>> {
        let kind = *opt.get(field::TYPE).ok_or(Error::truncated(Layer::Nd, 0, 2, opt.len() as u64, "ND option header (RFC 4861 §4.6)"))?;
        let len = *opt.get(field::LENGTH).ok_or(Error::truncated(Layer::Nd, 0, 2, opt.len() as u64, "ND option header (RFC 4861 §4.6)"))?;
        if len == 0 {
            return Err(Error::malformed(Layer::Nd, 1, "ND option with length 0 (RFC 4861 §4.6)"));
        }
        let total = usize::from(len) * 8;
        if opt.len() < total {
            return Err(Error::truncated(Layer::Nd, 0, total as u64, opt.len() as u64, "ND option overruns the message (RFC 4861 §4.6)"));
        }
        let opt = opt.get(..total).unwrap_or(opt);
        let data = opt.get(2..).unwrap_or(&[]);
        let bad = |reason| Err(Error::malformed(Layer::Nd, 1, reason));
        Ok(match OptionType::from(kind) {
            OptionType::SourceLinkLayerAddr => Repr::SourceLinkLayerAddr(data),
            OptionType::TargetLinkLayerAddr => Repr::TargetLinkLayerAddr(data),
            OptionType::PrefixInformation => {
                if len != 4 {
                    return bad("Prefix Information option length is not 4 (RFC 4861 §4.6.2)");
                }
                let prefix_len = opt.get(field::PI_PREFIX_LEN).copied().unwrap_or(0);
                if prefix_len > 128 {
                    return bad("Prefix Information prefix length > 128 (RFC 4861 §4.6.2)");
                }
                Repr::PrefixInformation(PrefixInfo {
                    prefix_len,
                    flags: opt.get(field::PI_FLAGS).copied().unwrap_or(0),
                    valid_lifetime: be32(opt, field::PI_VALID),
                    preferred_lifetime: be32(opt, field::PI_PREFERRED),
                    prefix: addr_at(opt, field::PI_PREFIX.start).unwrap_or(Ipv6Addr::UNSPECIFIED),
                })
            }
            OptionType::RedirectedHeader => Repr::RedirectedHeader(opt.get(field::RH_DATA..).unwrap_or(&[])),
            OptionType::Mtu => {
                if len != 1 {
                    return bad("MTU option length is not 1 (RFC 4861 §4.6.4)");
                }
                Repr::Mtu(be32(opt, field::MTU_MTU))
            }
            OptionType::Nonce => Repr::Nonce(data),
            OptionType::RouteInformation => {
                let prefix_len = opt.get(field::RIO_PREFIX_LEN).copied().unwrap_or(0);
                if len > 3 || prefix_len > 128 || (prefix_len > 64 && len < 3) || (prefix_len > 0 && len < 2) {
                    return bad("Route Information option length does not fit its prefix length (RFC 4191 §2.3)");
                }
                let mut p = [0u8; 16];
                let src = opt.get(field::RIO_PREFIX..).unwrap_or(&[]);
                for (d, s) in p.iter_mut().zip(src) {
                    *d = *s;
                }
                let flags = opt.get(field::RIO_FLAGS).copied().unwrap_or(0);
                Repr::RouteInformation(RouteInfo {
                    prefix_len,
                    preference: (flags >> 3) & 0b11,
                    lifetime: be32(opt, field::RIO_LIFETIME),
                    prefix: mask_prefix(&Ipv6Addr::from(p), prefix_len),
                })
            }
            OptionType::Rdnss => {
                if len < 3 || (len - 1) % 2 != 0 {
                    return bad("RDNSS option length is not 3 + 2n (RFC 8106 §5.1)");
                }
                let servers = opt
                    .get(field::RDNSS_ADDRS..)
                    .unwrap_or(&[])
                    .chunks_exact(16)
                    .filter_map(|c| <[u8; 16]>::try_from(c).ok().map(Ipv6Addr::from))
                    .collect();
                Repr::Rdnss { lifetime: be32(opt, field::RDNSS_LIFETIME), servers }
            }
            OptionType::Unknown(kind) => Repr::Unknown { kind, data },
        })
    }

    pub fn option_type(&self) -> OptionType {
        match self {
            Repr::SourceLinkLayerAddr(_) => OptionType::SourceLinkLayerAddr,
            Repr::TargetLinkLayerAddr(_) => OptionType::TargetLinkLayerAddr,
            Repr::PrefixInformation(_) => OptionType::PrefixInformation,
            Repr::RedirectedHeader(_) => OptionType::RedirectedHeader,
            Repr::Mtu(_) => OptionType::Mtu,
            Repr::Nonce(_) => OptionType::Nonce,
            Repr::RouteInformation(_) => OptionType::RouteInformation,
            Repr::Rdnss { .. } => OptionType::Rdnss,
            Repr::Unknown { kind, .. } => OptionType::from(*kind),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Repr::SourceLinkLayerAddr(d) | Repr::TargetLinkLayerAddr(d) | Repr::Nonce(d) => 2 + d.len(),
            Repr::Unknown { data, .. } => 2 + data.len(),
            Repr::PrefixInformation(_) => 32,
            Repr::RedirectedHeader(d) => 8 + d.len(),
            Repr::Mtu(_) => 8,
            Repr::RouteInformation(r) => {
                if r.prefix_len == 0 {
                    8
                } else if r.prefix_len <= 64 {
                    16
                } else {
                    24
                }
            }
            Repr::Rdnss { servers, .. } => 8 + 16 * servers.len(),
        }
    }

    /// The emitted length in octets: the body rounded up to 8 octets.
    pub fn buffer_len(&self) -> usize {
        self.body_len().div_ceil(8) * 8
    }

    /// Append the option (zero-padded to a multiple of 8 octets) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let total = self.buffer_len();
        let units = u8::try_from(total / 8).ok().filter(|u| *u > 0).ok_or(Error::new(
            Layer::Nd,
            ErrorKind::Limit { limit: 255 * 8 },
            0,
            "ND option longer than 255 units of 8 octets (RFC 4861 §4.6)",
        ))?;
        if let Repr::Rdnss { servers, .. } = self {
            if servers.is_empty() {
                return Err(Error::malformed(Layer::Nd, 0, "RDNSS option needs at least one address (RFC 8106 §5.1)"));
            }
        }
        let kind: u8 = self.option_type().into();
        let start = out.len();
        out.push(kind);
        out.push(units);
        match self {
            Repr::SourceLinkLayerAddr(d) | Repr::TargetLinkLayerAddr(d) | Repr::Nonce(d) => out.extend_from_slice(d),
            Repr::Unknown { data, .. } => out.extend_from_slice(data),
            Repr::PrefixInformation(p) => {
                out.push(p.prefix_len);
                out.push(p.flags);
                out.extend_from_slice(&p.valid_lifetime.to_be_bytes());
                out.extend_from_slice(&p.preferred_lifetime.to_be_bytes());
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&p.prefix.octets());
            }
            Repr::RedirectedHeader(d) => {
                out.extend_from_slice(&[0; 6]);
                out.extend_from_slice(d);
            }
            Repr::Mtu(m) => {
                out.extend_from_slice(&[0; 2]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            Repr::RouteInformation(r) => {
                out.push(r.prefix_len);
                out.push((r.preference & 0b11) << 3);
                out.extend_from_slice(&r.lifetime.to_be_bytes());
                let p = mask_prefix(&r.prefix, r.prefix_len).octets();
                let n = total.saturating_sub(8);
                out.extend_from_slice(p.get(..n).unwrap_or(&p));
            }
            Repr::Rdnss { lifetime, servers } => {
                out.extend_from_slice(&[0; 2]);
                out.extend_from_slice(&lifetime.to_be_bytes());
                for s in servers {
                    out.extend_from_slice(&s.octets());
                }
            }
        }
        out.resize(start + total, 0);
        Ok(())
    }
}

/// The result of KAME's capped option walk over one ND message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Options<'a> {
    /// The options examined (at most `maxndopt`), in wire order, duplicates
    /// and unknown/bad ones included, so the message re-emits losslessly.
    pub options: Vec<Repr<'a>>,
    /// Options past the `maxndopt` cap: not examined, ignored (KAME
    /// `icp6s_nd_toomanyopt`; KAME bumps that counter once per message, so a
    /// node adds 1 when this is non-zero). Counted by a lax walk of the rest
    /// that stops at the first option it cannot step over.
    pub toomanyopt: u32,
    /// Later duplicates of single-use options (SLLA, TLLA, Redirected
    /// Header, MTU, Nonce), ignored by the accessors.
    pub dupopt: u32,
    /// Known options with an illegal length for their type, kept as
    /// [`Repr::Unknown`] and ignored.
    pub badopt: u32,
    /// Options of a type this walker does not know (skipped, RFC 4861 §4.6:
    /// "silently ignore").
    pub unknownopt: u32,
}

fn is_single_use(t: OptionType) -> bool {
    matches!(
        t,
        OptionType::SourceLinkLayerAddr
            | OptionType::TargetLinkLayerAddr
            | OptionType::RedirectedHeader
            | OptionType::Mtu
            | OptionType::Nonce
    )
}

impl<'a> Options<'a> {
    /// Options built by hand, for emitting.
    pub fn from_options(options: Vec<Repr<'a>>) -> Self {
        Options { options, ..Default::default() }
    }

    /// KAME `nd6_options()`: walk the option area of an ND message.
    /// `maxndopt` 0 means no limit.
    pub fn walk(data: &'a [u8], maxndopt: usize) -> Result<Options<'a>> {
        let mut options = Vec::new();
        let o = Options::scan(data, maxndopt, |r, _| options.push(r))?;
        Ok(Options { options, ..o })
    }

    /// [`Options::walk`] without collecting: the same checks and counters,
    /// each option examined handed to `each` in wire order with its whole
    /// span (type and length octets included), the returned `options`
    /// empty. A reader of one option pays no allocation, and a reader of
    /// the raw options no second walk.
    pub fn scan(data: &'a [u8], maxndopt: usize, mut each: impl FnMut(Repr<'a>, &'a [u8])) -> Result<Options<'a>> {
        let mut o = Options::default();
        let mut seen = [false; 256];
        let mut examined = 0usize;
        let mut at = 0usize;
        let end = data.len();
        while at < end {
            if maxndopt != 0 && examined >= maxndopt {
                o.toomanyopt = count_rest(data.get(at..).unwrap_or(&[]));
                break;
            }
            if end - at < 2 {
                return Err(Error::truncated(Layer::Nd, at as u64, 2, (end - at) as u64, "ND option header overruns the message (RFC 4861 §4.6)"));
            }
            let kind = data.get(at).copied().unwrap_or(0);
            let len = usize::from(data.get(at + 1).copied().unwrap_or(0)) * 8;
            if len == 0 {
                return Err(Error::malformed(Layer::Nd, at as u64 + 1, "ND option with length 0: message rejected (RFC 4861 §4.6, KAME nd6_option)"));
            }
            let opt = data.get(at..at.saturating_add(len)).ok_or(Error::truncated(
                Layer::Nd,
                at as u64,
                len as u64,
                (end - at) as u64,
                "ND option overruns the message (RFC 4861 §4.6, KAME nd6_option)",
            ))?;
            let repr = match Repr::parse(opt) {
                Ok(r) => r,
                Err(_) => {
                    o.badopt += 1;
                    Repr::Unknown { kind, data: opt.get(2..).unwrap_or(&[]) }
                }
            };
            let t = OptionType::from(kind);
            if matches!(t, OptionType::Unknown(_)) {
                o.unknownopt += 1;
            } else if is_single_use(t) && !matches!(repr, Repr::Unknown { .. }) {
                let slot = seen.get_mut(usize::from(kind));
                if let Some(s) = slot {
                    if *s {
                        o.dupopt += 1;
                    }
                    *s = true;
                }
            }
            each(repr, opt);
            examined += 1;
            at += len;
        }
        Ok(o)
    }

    fn first<T>(&self, f: impl Fn(&Repr<'a>) -> Option<T>) -> Option<T> {
        self.options.iter().find_map(f)
    }

    /// The first Source Link-Layer Address option (first wins).
    pub fn source_lladdr(&self) -> Option<&'a [u8]> {
        self.first(|r| if let Repr::SourceLinkLayerAddr(d) = r { Some(*d) } else { None })
    }
    pub fn target_lladdr(&self) -> Option<&'a [u8]> {
        self.first(|r| if let Repr::TargetLinkLayerAddr(d) = r { Some(*d) } else { None })
    }
    pub fn redirected_header(&self) -> Option<&'a [u8]> {
        self.first(|r| if let Repr::RedirectedHeader(d) = r { Some(*d) } else { None })
    }
    pub fn mtu(&self) -> Option<u32> {
        self.first(|r| if let Repr::Mtu(m) = r { Some(*m) } else { None })
    }
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.first(|r| if let Repr::Nonce(d) = r { Some(*d) } else { None })
    }
    /// Every Prefix Information option taken, in order.
    pub fn prefixes(&self) -> impl Iterator<Item = &PrefixInfo> + '_ {
        self.options.iter().filter_map(|r| if let Repr::PrefixInformation(p) = r { Some(p) } else { None })
    }
    pub fn routes(&self) -> impl Iterator<Item = &RouteInfo> + '_ {
        self.options.iter().filter_map(|r| if let Repr::RouteInformation(p) = r { Some(p) } else { None })
    }
    /// Every RDNSS option taken: (lifetime, servers).
    pub fn rdnss(&self) -> impl Iterator<Item = (u32, &[Ipv6Addr])> + '_ {
        self.options.iter().filter_map(|r| if let Repr::Rdnss { lifetime, servers } = r { Some((*lifetime, servers.as_slice())) } else { None })
    }

    pub fn buffer_len(&self) -> usize {
        self.options.iter().map(Repr::buffer_len).sum()
    }

    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        for o in &self.options {
            o.emit(out)?;
        }
        Ok(())
    }
}

/// Count the options in `rest` without examining them; stops at the first
/// zero-length or overrunning option.
fn count_rest(rest: &[u8]) -> u32 {
    let mut n = 0u32;
    let mut at = 0usize;
    while at < rest.len() {
        let len = usize::from(rest.get(at + 1).copied().unwrap_or(0)) * 8;
        if len == 0 || at + len > rest.len() {
            break;
        }
        n += 1;
        at += len;
    }
    n
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    // Options of an RA built by scapy:
    // ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55")
    // / ICMPv6NDOptMTU(mtu=1480)
    // / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64, validlifetime=86400, preferredlifetime=14400)
    // / ICMPv6NDOptRouteInfo(prefix="2001:db8:2::", plen=48, prf=1, rtlifetime=600)
    // / ICMPv6NDOptRDNSS(dns=["2001:db8::53"], lifetime=300)
    // (scapy always sends the RIO with length 3; we emit the minimal length 2
    // for a /48, RFC 4191 §2.3, so the re-emitted bytes differ there.)
    const RA_OPTS: &str = "010100112233445505010000000005c8030440c000015180000038400000000020010db8000100000000000000000000180330080000025820010db8000200000000000000000000190300000000012c20010db8000000000000000000000053";
    const RIO_SCAPY: &str = "180330080000025820010db8000200000000000000000000";
    const RIO_MIN: &str = "180230080000025820010db800020000";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn deconstruct_scapy_ra_options() {
        let b = hex(RA_OPTS);
        let o = Options::walk(&b, ND6_MAXNDOPT).unwrap();
        assert_eq!(o.options.len(), 5);
        assert_eq!(o.source_lladdr(), Some(&[0, 0x11, 0x22, 0x33, 0x44, 0x55][..]));
        assert_eq!(o.mtu(), Some(1480));
        let p: Vec<_> = o.prefixes().collect();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].prefix_len, 64);
        assert!(p[0].on_link() && p[0].autonomous());
        assert_eq!(p[0].valid_lifetime, 86400);
        assert_eq!(p[0].preferred_lifetime, 14400);
        assert_eq!(p[0].prefix, "2001:db8:1::".parse::<Ipv6Addr>().unwrap());
        let r: Vec<_> = o.routes().collect();
        assert_eq!(r[0].prefix_len, 48);
        assert_eq!(r[0].preference, PRF_HIGH);
        assert_eq!(r[0].lifetime, 600);
        let d: Vec<_> = o.rdnss().collect();
        assert_eq!(d[0].0, 300);
        assert_eq!(d[0].1, &["2001:db8::53".parse::<Ipv6Addr>().unwrap()]);
        // construct: re-emit byte for byte
        let mut out = Vec::new();
        o.emit(&mut out).unwrap();
        let want = hex(&RA_OPTS.replace(RIO_SCAPY, RIO_MIN));
        assert_eq!(out, want);
        assert_eq!(o.buffer_len(), want.len());
    }

    #[test]
    fn zero_length_rejects() {
        let mut b = hex(RA_OPTS);
        b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        let e = Options::walk(&b, ND6_MAXNDOPT).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.offset as usize, hex(RA_OPTS).len() + 1);
    }

    #[test]
    fn overrun_and_stray_byte_reject() {
        let b = hex("0102001122334455");
        assert!(Options::walk(&b, 10).unwrap_err().is_truncated());
        let mut b = hex("0101001122334455");
        b.push(0);
        assert!(Options::walk(&b, 10).unwrap_err().is_truncated());
    }

    #[test]
    fn first_slla_wins() {
        let b = hex("0101001122334455 0101aabbccddeeff");
        let o = Options::walk(&b, 10).unwrap();
        assert_eq!(o.source_lladdr(), Some(&[0, 0x11, 0x22, 0x33, 0x44, 0x55][..]));
        assert_eq!(o.dupopt, 1);
        assert_eq!(o.options.len(), 2);
    }

    #[test]
    fn twenty_prefixes_first_ten() {
        let mut b = Vec::new();
        for i in 0..20u16 {
            let p = PrefixInfo {
                prefix_len: 64,
                flags: PI_FLAG_ONLINK | PI_FLAG_AUTO,
                valid_lifetime: 1000,
                preferred_lifetime: 500,
                prefix: Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0),
            };
            Repr::PrefixInformation(p).emit(&mut b).unwrap();
        }
        let o = Options::walk(&b, ND6_MAXNDOPT).unwrap();
        let p: Vec<_> = o.prefixes().map(|p| p.prefix.segments()[2]).collect();
        assert_eq!(p, (0..10).collect::<Vec<_>>());
        assert_eq!(o.toomanyopt, 10);
        // A zero-length option past the cap is not examined.
        b.extend_from_slice(&[3, 0]);
        assert_eq!(Options::walk(&b, ND6_MAXNDOPT).unwrap().options.len(), 10);
        // No limit.
        let b2 = &b[..b.len() - 2];
        assert_eq!(Options::walk(b2, 0).unwrap().prefixes().count(), 20);
    }

    #[test]
    fn bad_length_prefix_is_ignored_and_counted() {
        // A Prefix Information with length 1.
        let b = hex("0301400000000000 0101001122334455");
        let o = Options::walk(&b, 10).unwrap();
        assert_eq!(o.badopt, 1);
        assert_eq!(o.prefixes().count(), 0);
        assert!(o.source_lladdr().is_some());
        let mut out = Vec::new();
        o.emit(&mut out).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn other_options_round_trip() {
        let opts = vec![
            Repr::TargetLinkLayerAddr(&[1, 2, 3, 4, 5, 6]),
            Repr::Nonce(&[9, 8, 7, 6, 5, 4]),
            Repr::RedirectedHeader(&[0x60, 0, 0, 0, 0, 0, 0, 0]),
            Repr::RouteInformation(RouteInfo { prefix_len: 0, preference: PRF_LOW, lifetime: 7, prefix: Ipv6Addr::UNSPECIFIED }),
            Repr::RouteInformation(RouteInfo { prefix_len: 96, preference: PRF_MEDIUM, lifetime: 7, prefix: "2001:db8::1:0:0".parse().unwrap() }),
            Repr::Unknown { kind: 200, data: &[1, 2, 3, 4, 5, 6] },
        ];
        let o = Options::from_options(opts.clone());
        let mut out = Vec::new();
        o.emit(&mut out).unwrap();
        assert_eq!(out.len() % 8, 0);
        let back = Options::walk(&out, 0).unwrap();
        assert_eq!(back.options, opts);
        assert_eq!(back.unknownopt, 1);
    }
}
