//! IP-in-IP tunnels: encapsulation and decapsulation for IPv6-in-IPv6 (next
//! header 41), IPv4-in-IPv6 (4), IPv6-in-IPv4 (protocol 41) and IPv4-in-IPv4
//! (protocol 4), the four gif(4) configurations of seed §1.5 (RFC 2473,
//! RFC 4213 §3, RFC 2003), with the ECN handling of seed §4.6.
//!
//! # ECN (seed §4.6, KAME `ip_ecn.c`)
//!
//! KAME's `net.inet6.ipsec6.ecn` sysctl picks one of three behaviours; the
//! bit masks are those of RFC 2481, where `IPTOS_ECT` is 0x02 and
//! `IPTOS_CE` is 0x01, and they are reproduced bit for bit:
//!
//! | mode | encapsulate (outer TOS from inner) | decapsulate (inner TOS) |
//! |---|---|---|
//! | -1 RFC 2401 | copy all TOS bits | outer dropped, inner as is |
//! | 0 ECN forbidden (default) | `inner & 0xfc` (ECN bits 0) | outer dropped, inner as is |
//! | 1 ECN allowed | `inner & 0xfe` (CE bit 0) | `inner \| 0x01` if `outer & 0x01` |
//!
//! A fourth setting, 2, is RFC 6040's normal mode: encapsulation copies the
//! ECN field (and the DSCP) as is; decapsulation follows the table of
//! RFC 6040 §4.2, including the drop of a CE outer over a Not-ECT inner
//! (returned as [`ErrorKind::EcnDrop`]) and the alarms on currently unused
//! combinations ([`EcnAlarm`]).
//!
//! # Jumbograms (seed §1.7, RFC 2675)
//!
//! An IPv6 packet whose Payload Length is 0 and whose Hop-by-Hop header
//! carries a Jumbo Payload option is taken at the option's 32-bit length;
//! lengths are carried as `u64` and checked into the 16- and 32-bit fields
//! by [`ip6_payload_fields`]. An outer IPv6 header for a payload over
//! 65535 octets gets an 8-octet Hop-by-Hop header with the Jumbo Payload
//! option; an IPv4 outer header cannot (a `Limit` error). When a payload
//! shrinks to 65535 octets or fewer (a header removed, a payload inflated
//! smaller), the Jumbo Payload option becomes a PadN option of the same
//! size, since RFC 2675 §2 forbids it below 65536, and every offset stays.
//!
//! # Loops (seed §1.5)
//!
//! Same-family tunnels make "infinite level of tunneling" easy to
//! configure. Every walk here is bounded: encapsulation refuses an inner
//! packet that already carries `nest_limit` IP-in-IP layers, and recursive
//! decapsulation stops with a `HeaderLimit` error past `nest_limit` layers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::proto;

/// RFC 2481's ECT bit, as KAME's `ip_ecn.c` uses it.
pub const IPTOS_ECT: u8 = 0x02;
/// RFC 2481's CE bit, as KAME's `ip_ecn.c` uses it.
pub const IPTOS_CE: u8 = 0x01;
/// The two-bit ECN field (RFC 3168 §5).
pub const IPTOS_ECN_MASK: u8 = 0x03;
pub const ECN_NOT_ECT: u8 = 0x00;
pub const ECN_ECT1: u8 = 0x01;
pub const ECN_ECT0: u8 = 0x02;
pub const ECN_CE: u8 = 0x03;

/// RFC 2675 §2: the Jumbo Payload option type (not mutable en route: AH
/// covers it) and its data length.
pub const IP6OPT_JUMBO: u8 = 0xc2;
pub const IP6OPT_JUMBO_LEN: u8 = 4;
/// RFC 2675 §2: the smallest Jumbo Payload Length.
pub const IPV6_MAXPACKET: u64 = 65535;

/// Default bound on nested IP-in-IP layers.
pub const DEFAULT_NEST_LIMIT: u32 = 8;
/// Bound on IPv6 extension headers walked before the tunnelled packet
/// (seed §1.8 `hdrnestlimit` default).
pub const HDRNESTLIMIT: u32 = 50;

/// How the TOS / Traffic Class byte crosses the tunnel (seed §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EcnMode {
    /// sysctl -1: RFC 2401, no consideration for ECN.
    Rfc2401,
    /// sysctl 0 (the default): ECN forbidden.
    #[default]
    Forbidden,
    /// sysctl 1: ECN allowed (draft-ietf-ipsec-ecn-02 §3.3).
    Allowed,
    /// 2 (kame's extension): RFC 6040 normal mode.
    Rfc6040,
}

impl EcnMode {
    /// From the sysctl value: -1, 0, 1, or 2 for RFC 6040.
    pub fn from_sysctl(v: i64) -> Result<EcnMode> {
        match v {
            -1 => Ok(EcnMode::Rfc2401),
            0 => Ok(EcnMode::Forbidden),
            1 => Ok(EcnMode::Allowed),
            2 => Ok(EcnMode::Rfc6040),
            _ => Err(Error::new(
                Layer::Tunnel,
                ErrorKind::Config,
                0,
                "ecn must be -1 (RFC 2401), 0 (forbidden), 1 (allowed) or 2 (RFC 6040) (seed §4.6)",
            )),
        }
    }

    pub const fn sysctl(self) -> i64 {
        match self {
            EcnMode::Rfc2401 => -1,
            EcnMode::Forbidden => 0,
            EcnMode::Allowed => 1,
            EcnMode::Rfc6040 => 2,
        }
    }
}

/// An RFC 6040 §4.2 combination of inner and outer ECN that is "currently
/// unused" and should be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcnAlarm {
    /// '(!)': currently unused, possibly dangerous.
    Possible,
    /// '(!!!)': currently unused, always potentially dangerous.
    Dangerous,
}

impl EcnAlarm {
    pub const fn name(self) -> &'static str {
        match self {
            EcnAlarm::Possible => "possible",
            EcnAlarm::Dangerous => "dangerous",
        }
    }
}

/// Tunnel ingress (encapsulation): the outer TOS / Traffic Class from the
/// inner one. KAME `ip_ecn_ingress`.
pub const fn ip_ecn_ingress(mode: EcnMode, inner: u8) -> u8 {
    match mode {
        EcnMode::Rfc2401 | EcnMode::Rfc6040 => inner,
        EcnMode::Forbidden => inner & !(IPTOS_ECT | IPTOS_CE),
        EcnMode::Allowed => inner & !IPTOS_CE,
    }
}

/// Tunnel egress (decapsulation): the inner TOS / Traffic Class to forward,
/// given the arriving outer and inner ones, and the RFC 6040 alarm if any.
/// `Err(EcnDrop)` when RFC 6040 §4.2 says to drop. KAME `ip_ecn_egress`.
pub fn ip_ecn_egress(mode: EcnMode, outer: u8, inner: u8) -> Result<(u8, Option<EcnAlarm>)> {
    match mode {
        EcnMode::Rfc2401 | EcnMode::Forbidden => Ok((inner, None)),
        EcnMode::Allowed => {
            if outer & IPTOS_CE != 0 {
                Ok((inner | IPTOS_CE, None))
            } else {
                Ok((inner, None))
            }
        }
        EcnMode::Rfc6040 => {
            let (o, i) = (outer & IPTOS_ECN_MASK, inner & IPTOS_ECN_MASK);
            let dscp = inner & !IPTOS_ECN_MASK;
            use EcnAlarm::*;
            let (ecn, alarm) = match (i, o) {
                (ECN_NOT_ECT, ECN_NOT_ECT) => (ECN_NOT_ECT, None),
                (ECN_NOT_ECT, ECN_CE) => {
                    return Err(Error::new(
                        Layer::Tunnel,
                        ErrorKind::EcnDrop,
                        1,
                        "CE outer over Not-ECT inner: drop (RFC 6040 §4.2)",
                    ))
                }
                (ECN_NOT_ECT, _) => (ECN_NOT_ECT, Some(Dangerous)),
                (ECN_ECT0, ECN_NOT_ECT) => (ECN_ECT0, None),
                (ECN_ECT0, o) => (o, None),
                (ECN_ECT1, ECN_ECT0) => (ECN_ECT1, Some(Possible)),
                (ECN_ECT1, ECN_CE) => (ECN_CE, None),
                (ECN_ECT1, _) => (ECN_ECT1, None),
                (_, ECN_ECT1) => (ECN_CE, Some(Dangerous)),
                (_, _) => (ECN_CE, None),
            };
            Ok((dscp | ecn, alarm))
        }
    }
}

// ---------------------------------------------------------------------------
// Checksums and small IP header helpers, shared with ipcomp.rs.

/// RFC 1071 sum over `data`, folded, not complemented.
fn sum16(data: &[u8]) -> u32 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [a, b] = c {
            sum = sum.wrapping_add(u32::from(u16::from_be_bytes([*a, *b])));
        }
    }
    if let [a] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*a) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// The IPv4 header checksum of `hdr` with its checksum field taken as zero.
pub(crate) fn ipv4_cksum(hdr: &[u8]) -> u16 {
    let mut s = sum16(hdr);
    // subtract the current checksum field by adding its complement
    let cur = match (hdr.get(10), hdr.get(11)) {
        (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    s += u32::from(!cur);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Recompute and store the IPv4 header checksum of `hdr` (IHL bytes).
pub(crate) fn ipv4_set_cksum(hdr: &mut [u8]) {
    let c = ipv4_cksum(hdr).to_be_bytes();
    if let Some(f) = hdr.get_mut(10..12) {
        f.copy_from_slice(&c);
    }
}

/// Whether an IPv4 header (IHL bytes) sums to 0xffff.
pub(crate) fn ipv4_cksum_ok(hdr: &[u8]) -> bool {
    sum16(hdr) == 0xffff
}

/// RFC 1624 incremental update of the IPv4 checksum when the TOS byte goes
/// from `old` to `new` (the TOS shares a 16-bit word with version/IHL).
fn ipv4_update_tos(hdr: &mut [u8], old: u8, new: u8) {
    if old == new {
        return;
    }
    let (Some(&vh), Some(&c0), Some(&c1)) = (hdr.first(), hdr.get(10), hdr.get(11)) else {
        return;
    };
    let m = u32::from(u16::from_be_bytes([vh, old]));
    let m2 = u32::from(u16::from_be_bytes([vh, new]));
    let hc = u32::from(u16::from_be_bytes([c0, c1]));
    // HC' = ~(~HC + ~m + m')
    let mut s = (!hc & 0xffff) + (!m & 0xffff) + m2;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = (!(s as u16)).to_be_bytes();
    if let Some(t) = hdr.get_mut(1) {
        *t = new;
    }
    if let Some(f) = hdr.get_mut(10..12) {
        f.copy_from_slice(&c);
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// What the fixed IP header of a packet says: where the header chain
/// starts and where the datagram ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpFixed {
    pub version: u8,
    /// TOS (IPv4) or Traffic Class (IPv6).
    pub tos: u8,
    /// End of the fixed header (IPv4: IHL*4, IPv6: 40).
    pub hdr_len: usize,
    /// End of the datagram as its length field says (trailing link padding
    /// beyond it is not part of the packet).
    pub end: usize,
    /// The protocol / next header field of the fixed header.
    pub nh: u8,
}

/// The IPv6 Payload Length field and Jumbo Payload Length (if one is
/// needed) for a packet of `total` octets with a 40-octet fixed header
/// (RFC 8200 §3, RFC 2675 §2): lengths as `u64`, so the arithmetic near
/// 2^16 and 2^32 is checked without building such packets.
pub fn ip6_payload_fields(total: u64, layer: Layer) -> Result<(u16, Option<u32>)> {
    let plen = total.checked_sub(40).ok_or_else(|| {
        Error::truncated(layer, 0, 40, total, "IPv6 header (RFC 8200 §3)")
    })?;
    if plen <= IPV6_MAXPACKET {
        return Ok((plen as u16, None));
    }
    let jumbo = u32::try_from(plen).map_err(|_| {
        Error::new(
            layer,
            ErrorKind::Limit {
                limit: u64::from(u32::MAX),
            },
            4,
            "payload over 2^32-1 octets: beyond the Jumbo Payload Length (RFC 2675 §2)",
        )
    })?;
    Ok((0, Some(jumbo)))
}

/// Where the 4-octet Jumbo Payload Length of an IPv6 packet is: in a
/// Jumbo Payload option of a Hop-by-Hop header right after the fixed
/// header (RFC 2675 §2; RFC 8200 §4.3 puts Hop-by-Hop first). `None` when
/// there is no such option; a malformed option walk is an error.
pub fn ip6_jumbo_at(pkt: &[u8], layer: Layer) -> Result<Option<usize>> {
    if pkt.get(6) != Some(&proto::HOPOPTS) {
        return Ok(None);
    }
    let Some(&hl) = pkt.get(41) else {
        return Err(Error::truncated(
            layer,
            40,
            2,
            pkt.len().saturating_sub(40) as u64,
            "Hop-by-Hop header (RFC 8200 §4.3)",
        ));
    };
    let end = 40 + (usize::from(hl) + 1) * 8;
    if pkt.len() < end {
        return Err(Error::truncated(
            layer,
            40,
            (end - 40) as u64,
            (pkt.len() - 40) as u64,
            "Hop-by-Hop header length (RFC 8200 §4.3)",
        ));
    }
    let mut i = 42;
    while i < end {
        let t = pkt.get(i).copied().unwrap_or(0);
        if t == 0 {
            i += 1; // Pad1
            continue;
        }
        let len = usize::from(pkt.get(i + 1).copied().unwrap_or(0));
        if i + 2 + len > end {
            return Err(Error::malformed(
                layer,
                (i + 1) as u64,
                "option runs past its Hop-by-Hop header (RFC 8200 §4.2)",
            ));
        }
        if t == IP6OPT_JUMBO {
            if len != usize::from(IP6OPT_JUMBO_LEN) {
                return Err(Error::malformed(
                    layer,
                    (i + 1) as u64,
                    "Jumbo Payload option data length is not 4 (RFC 2675 §2)",
                ));
            }
            return Ok(Some(i + 2));
        }
        i += 2 + len;
    }
    Ok(None)
}

/// The end of an IPv6 datagram as its length fields say: `40 + Payload
/// Length`, or `40 + Jumbo Payload Length` when Payload Length is 0 and a
/// Jumbo Payload option is present (RFC 2675 §3's receive checks: no
/// Jumbo option with a nonzero Payload Length, none at 65535 or below, no
/// zero Payload Length without one). Truncation against `pkt.len()` is
/// the caller's check.
pub fn ip6_end(pkt: &[u8], layer: Layer) -> Result<u64> {
    let plen = u64::from(be16(pkt, 4).unwrap_or(0));
    // the option is looked for inside the datagram its length says (octets
    // past it are link padding, trimmed by the caller)
    let lim = if plen == 0 { pkt.len() } else { pkt.len().min(40 + plen as usize) };
    match (plen, ip6_jumbo_at(pkt.get(..lim).unwrap_or(pkt), layer)?) {
        (0, Some(at)) => {
            let jl = pkt
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if u64::from(jl) <= IPV6_MAXPACKET {
                return Err(Error::malformed(
                    layer,
                    at as u64,
                    "Jumbo Payload Length of 65535 or less (RFC 2675 §3)",
                ));
            }
            Ok(40 + u64::from(jl))
        }
        (0, None) => Err(Error::malformed(
            layer,
            4,
            "IPv6 Payload Length 0 without a Jumbo Payload option (RFC 2675 §3)",
        )),
        (_, Some(at)) => Err(Error::malformed(
            layer,
            (at - 2) as u64,
            "Jumbo Payload option with a nonzero Payload Length (RFC 2675 §3)",
        )),
        (n, None) => Ok(40 + n),
    }
}

/// Set the IPv6 Payload Length (and the Jumbo Payload Length, if the
/// packet carries the option) for a packet now `pkt.len()` long. A payload
/// over 65535 octets needs the option (`Limit` otherwise); one of 65535 or
/// fewer turns an existing option into PadN (see the module note).
pub fn ip6_set_lengths(pkt: &mut [u8], layer: Layer) -> Result<()> {
    let (plen, jumbo) = ip6_payload_fields(pkt.len() as u64, layer)?;
    let at = ip6_jumbo_at(pkt, layer)?;
    match (jumbo, at) {
        (Some(jl), Some(at)) => {
            if let Some(f) = pkt.get_mut(at..at + 4) {
                f.copy_from_slice(&jl.to_be_bytes());
            }
        }
        (Some(_), None) => {
            return Err(Error::new(
                layer,
                ErrorKind::Limit {
                    limit: IPV6_MAXPACKET,
                },
                4,
                "IPv6 payload over 65535 octets and no Jumbo Payload option to carry its length (RFC 2675)",
            ))
        }
        (None, Some(at)) => {
            if let Some(o) = pkt.get_mut(at - 2..at + 4) {
                o.copy_from_slice(&[1, IP6OPT_JUMBO_LEN, 0, 0, 0, 0]);
            }
        }
        (None, None) => {}
    }
    if let Some(f) = pkt.get_mut(4..6) {
        f.copy_from_slice(&plen.to_be_bytes());
    }
    Ok(())
}

/// Give an IPv6 packet whose payload now exceeds 65535 octets (an inflated
/// IPComp payload) a Jumbo Payload option to carry its length: the PadN
/// option of four zero octets at a 4n+2 offset of a leading Hop-by-Hop
/// header that [`ip6_set_lengths`] left where a Jumbo Payload option was
/// becomes that option again. Without one the datagram cannot carry its
/// length: a `Limit` error (no header is invented for a sender that did not
/// send a jumbogram). The lengths themselves are then [`ip6_set_lengths`]'s.
pub(crate) fn ip6_restore_jumbo(pkt: &mut [u8], layer: Layer) -> Result<()> {
    if ip6_jumbo_at(pkt, layer)?.is_some() {
        return Ok(());
    }
    if pkt.get(6) == Some(&proto::HOPOPTS) {
        let end = 40 + (usize::from(pkt.get(41).copied().unwrap_or(0)) + 1) * 8;
        let mut i = 42;
        while i + 1 < end {
            let t = pkt.get(i).copied().unwrap_or(0);
            if t == 0 {
                i += 1;
                continue;
            }
            let len = usize::from(pkt.get(i + 1).copied().unwrap_or(0));
            if t == 1 && len == 4 && (i - 40) % 4 == 2 && pkt.get(i + 2..i + 6) == Some(&[0, 0, 0, 0][..]) {
                if let Some(o) = pkt.get_mut(i..i + 2) {
                    o.copy_from_slice(&[IP6OPT_JUMBO, IP6OPT_JUMBO_LEN]);
                }
                return Ok(());
            }
            i += 2 + len;
        }
    }
    Err(Error::new(
        layer,
        ErrorKind::Limit {
            limit: IPV6_MAXPACKET,
        },
        4,
        "payload over 65535 octets and no Jumbo Payload option (or the PadN left in its place) to carry its length (RFC 2675)",
    ))
}

/// The TOS (IPv4) or Traffic Class (IPv6) of a packet's fixed header.
pub(crate) fn tos_of(pkt: &[u8]) -> u8 {
    let b0 = pkt.first().copied().unwrap_or(0);
    let b1 = pkt.get(1).copied().unwrap_or(0);
    if b0 >> 4 == 6 {
        ((u16::from_be_bytes([b0, b1]) >> 4) & 0xff) as u8
    } else {
        b1
    }
}

/// The DF bit of an IPv4 header (false for IPv6).
pub(crate) fn df_of(pkt: &[u8]) -> bool {
    pkt.first().map(|b| b >> 4) == Some(4) && be16(pkt, 6).unwrap_or(0) & 0x4000 != 0
}

/// Parse the fixed IPv4 or IPv6 header of `pkt`, with `layer` naming the
/// caller in errors. IPv4: checksum verified; fragments are refused
/// (reassemble first). IPv6: a zero Payload Length is read through the
/// Jumbo Payload option (RFC 2675).
pub(crate) fn ip_fixed(pkt: &[u8], layer: Layer) -> Result<IpFixed> {
    let Some(&b0) = pkt.first() else {
        return Err(Error::truncated(
            layer,
            0,
            1,
            0,
            "IP version (RFC 791 §3.1, RFC 8200 §3)",
        ));
    };
    match b0 >> 4 {
        4 => {
            if pkt.len() < 20 {
                return Err(Error::truncated(
                    layer,
                    0,
                    20,
                    pkt.len() as u64,
                    "IPv4 header (RFC 791 §3.1)",
                ));
            }
            let ihl = usize::from(b0 & 0x0f) * 4;
            if ihl < 20 {
                return Err(Error::malformed(
                    layer,
                    0,
                    "IPv4 IHL below 5 (RFC 791 §3.1)",
                ));
            }
            if pkt.len() < ihl {
                return Err(Error::truncated(
                    layer,
                    0,
                    ihl as u64,
                    pkt.len() as u64,
                    "IPv4 options (RFC 791 §3.1)",
                ));
            }
            let total = usize::from(be16(pkt, 2).unwrap_or(0));
            if total < ihl {
                return Err(Error::malformed(
                    layer,
                    2,
                    "IPv4 total length below the header length (RFC 791 §3.1)",
                ));
            }
            if pkt.len() < total {
                return Err(Error::truncated(
                    layer,
                    0,
                    total as u64,
                    pkt.len() as u64,
                    "IPv4 total length (RFC 791 §3.1)",
                ));
            }
            let hdr = pkt.get(..ihl).unwrap_or(&[]);
            if !ipv4_cksum_ok(hdr) {
                return Err(Error::malformed(
                    layer,
                    10,
                    "bad IPv4 header checksum (RFC 791 §3.1)",
                ));
            }
            let frag = be16(pkt, 6).unwrap_or(0);
            if frag & 0x3fff != 0 {
                return Err(Error::new(
                    layer,
                    ErrorKind::Unsupported,
                    6,
                    "IPv4 fragment: reassemble first (RFC 791 §3.2)",
                ));
            }
            Ok(IpFixed {
                version: 4,
                tos: pkt.get(1).copied().unwrap_or(0),
                hdr_len: ihl,
                end: total,
                nh: pkt.get(9).copied().unwrap_or(0),
            })
        }
        6 => {
            if pkt.len() < 40 {
                return Err(Error::truncated(
                    layer,
                    0,
                    40,
                    pkt.len() as u64,
                    "IPv6 header (RFC 8200 §3)",
                ));
            }
            let end64 = ip6_end(pkt, layer)?;
            if (pkt.len() as u64) < end64 {
                return Err(Error::truncated(
                    layer,
                    0,
                    end64,
                    pkt.len() as u64,
                    "IPv6 Payload Length (RFC 8200 §3, RFC 2675 §2)",
                ));
            }
            let end = end64 as usize;
            if pkt.len() < end {
                return Err(Error::truncated(
                    layer,
                    0,
                    end as u64,
                    pkt.len() as u64,
                    "IPv6 Payload Length (RFC 8200 §3)",
                ));
            }
            let tc =
                ((u16::from_be_bytes([b0, pkt.get(1).copied().unwrap_or(0)]) >> 4) & 0xff) as u8;
            Ok(IpFixed {
                version: 6,
                tos: tc,
                hdr_len: 40,
                end,
                nh: pkt.get(6).copied().unwrap_or(0),
            })
        }
        _ => Err(Error::malformed(layer, 0, "IP version is neither 4 nor 6")),
    }
}

/// Where a header chain walk stopped: the offset of the octet holding the
/// Next Header value that names the header at `off`, and that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChainStop {
    pub nh_at: usize,
    pub nh: u8,
    pub off: usize,
}

/// Walk IPv6 extension headers that precede the protected / tunnelled
/// payload: Hop-by-Hop (first only), Routing, and Destination Options.
/// With `output`, Destination Options are skipped only when a Routing
/// header follows them (RFC 4301 / RFC 8200 §4.1 order: the options for
/// the final destination come after the inserted header). A Fragment
/// header is refused: IPsec and tunnels work on whole datagrams; a
/// Hop-by-Hop header that is not first ends the walk. Bounded by
/// `HDRNESTLIMIT`.
pub(crate) fn walk6(pkt: &[u8], fixed: &IpFixed, output: bool, layer: Layer) -> Result<ChainStop> {
    let mut stop = ChainStop {
        nh_at: 6,
        nh: fixed.nh,
        off: 40,
    };
    let mut n: u32 = 0;
    loop {
        match stop.nh {
            proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {}
            proto::FRAGMENT => {
                return Err(Error::new(
                    layer,
                    ErrorKind::Unsupported,
                    stop.off as u64,
                    "IPv6 Fragment header: reassemble first (RFC 8200 §4.5)",
                ))
            }
            _ => return Ok(stop),
        }
        if stop.nh == proto::HOPOPTS && stop.off != 40 {
            // RFC 8200 §4.3 puts it first only; a later one is left to the
            // IP layer to refuse: the walk ends here, so input and output
            // agree on where the protected payload starts.
            return Ok(stop);
        }
        n += 1;
        if n > HDRNESTLIMIT {
            return Err(Error::new(
                layer,
                ErrorKind::HeaderLimit {
                    limit: HDRNESTLIMIT,
                },
                stop.off as u64,
                "extension header chain longer than hdrnestlimit (seed §1.8)",
            ));
        }
        let (Some(&next), Some(&hlen)) = (pkt.get(stop.off), pkt.get(stop.off + 1)) else {
            return Err(Error::truncated(
                layer,
                stop.off as u64,
                2,
                fixed.end.saturating_sub(stop.off) as u64,
                "extension header (RFC 8200 §4)",
            ));
        };
        let len = (usize::from(hlen) + 1) * 8;
        if stop.off + len > fixed.end {
            return Err(Error::truncated(
                layer,
                stop.off as u64,
                len as u64,
                fixed.end.saturating_sub(stop.off) as u64,
                "extension header length (RFC 8200 §4)",
            ));
        }
        if output && stop.nh == proto::DSTOPTS && next != proto::ROUTING {
            return Ok(stop);
        }
        stop = ChainStop {
            nh_at: stop.off,
            nh: next,
            off: stop.off + len,
        };
    }
}

/// Set the length field of the fixed header for a datagram now `len`
/// bytes long, and the Next Header / Protocol octet at `nh_at`; recompute
/// the IPv4 header checksum. `LimitError` if the length does not fit 16
/// bits (IPv4, or IPv6 without a Jumbo Payload option) or 32 bits.
pub(crate) fn fix_lengths(
    pkt: &mut [u8],
    version: u8,
    hdr_len: usize,
    nh_at: usize,
    nh: u8,
    layer: Layer,
) -> Result<()> {
    let len = pkt.len();
    if let Some(b) = pkt.get_mut(nh_at) {
        *b = nh;
    }
    if version == 4 {
        let total = u16::try_from(len).map_err(|_| {
            Error::new(
                layer,
                ErrorKind::Limit { limit: 65535 },
                2,
                "IPv4 total length over 65535 (RFC 791 §3.1)",
            )
        })?;
        if let Some(f) = pkt.get_mut(2..4) {
            f.copy_from_slice(&total.to_be_bytes());
        }
        if let Some(h) = pkt.get_mut(..hdr_len) {
            ipv4_set_cksum(h);
        }
    } else {
        ip6_set_lengths(pkt, layer)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Encapsulation

/// The outer header of a tunnel: endpoints and the fields kame lets the
/// caller choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelParams {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ecn: EcnMode,
    /// Outer Hop Limit / TTL.
    pub hop_limit: u8,
    /// Outer IPv6 Flow Label (20 bits; ignored for an IPv4 outer header).
    pub flow_label: u32,
    /// Outer IPv4 Identification (ignored for IPv6).
    pub ident: u16,
    /// Outer IPv4 DF; `None` copies DF from an IPv4 inner header and sets
    /// it clear for an IPv6 inner one (RFC 2003 §3.1, RFC 4213 §3.2).
    pub df: Option<bool>,
    /// Refuse an inner packet already carrying this many IP-in-IP layers.
    pub nest_limit: u32,
}

impl TunnelParams {
    pub fn new(src: IpAddr, dst: IpAddr) -> TunnelParams {
        TunnelParams {
            src,
            dst,
            ecn: EcnMode::default(),
            hop_limit: 64,
            flow_label: 0,
            ident: 0,
            df: None,
            nest_limit: DEFAULT_NEST_LIMIT,
        }
    }

    /// Outer header length, after checking both endpoints are of one family.
    pub fn outer_len(&self) -> Result<usize> {
        match (self.src, self.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Ok(20),
            (IpAddr::V6(_), IpAddr::V6(_)) => Ok(40),
            _ => Err(Error::new(
                Layer::Tunnel,
                ErrorKind::Config,
                0,
                "outer source and destination are of different address families",
            )),
        }
    }

    /// Write the outer header for a payload of `payload_len` octets whose
    /// protocol is `next`, with `inner_tos` the inner TOS / Traffic Class
    /// (through the seed §4.6 ingress rule, [`ip_ecn_ingress`]) and
    /// `inner_df` the inner IPv4 DF bit. An IPv6 outer header for a payload
    /// over 65535 octets is a jumbogram: Payload Length 0 and a Hop-by-Hop
    /// header with the Jumbo Payload option (RFC 2675 §2). Returns the
    /// header's length and the offset (from its start) of the octet that
    /// names `next`.
    pub(crate) fn write_outer(
        &self,
        out: &mut Vec<u8>,
        next: u8,
        inner_tos: u8,
        inner_df: bool,
        payload_len: u64,
    ) -> Result<OuterHdr> {
        let tos = ip_ecn_ingress(self.ecn, inner_tos);
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = payload_len
                    .checked_add(20)
                    .and_then(|t| u16::try_from(t).ok())
                    .ok_or_else(|| {
                        Error::new(
                            Layer::Tunnel,
                            ErrorKind::Limit { limit: 65535 },
                            0,
                            "outer IPv4 total length over 65535 (RFC 791 §3.1)",
                        )
                    })?;
                let df = self.df.unwrap_or(inner_df);
                let start = out.len();
                out.extend_from_slice(&[0x45, tos]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&self.ident.to_be_bytes());
                out.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
                out.extend_from_slice(&[self.hop_limit, next, 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                if let Some(h) = out.get_mut(start..) {
                    ipv4_set_cksum(h);
                }
                Ok(OuterHdr { len: 20, nh_at: 9 })
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let jumbo = payload_len > IPV6_MAXPACKET;
                let hbh = if jumbo { 8 } else { 0 };
                let (plen, jl) = ip6_payload_fields(40 + hbh + payload_len, Layer::Tunnel)?;
                let w = (6u32 << 28) | (u32::from(tos) << 20) | (self.flow_label & 0x000f_ffff);
                out.extend_from_slice(&w.to_be_bytes());
                out.extend_from_slice(&plen.to_be_bytes());
                out.extend_from_slice(&[if jumbo { proto::HOPOPTS } else { next }, self.hop_limit]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                match jl {
                    Some(jl) => {
                        out.extend_from_slice(&[next, 0, IP6OPT_JUMBO, IP6OPT_JUMBO_LEN]);
                        out.extend_from_slice(&jl.to_be_bytes());
                        Ok(OuterHdr { len: 48, nh_at: 40 })
                    }
                    None => Ok(OuterHdr { len: 40, nh_at: 6 }),
                }
            }
            _ => self.outer_len().map(|len| OuterHdr { len, nh_at: 0 }),
        }
    }
}

/// What [`TunnelParams::write_outer`] wrote: the outer header's length
/// (with a jumbogram's Hop-by-Hop header) and where its next-header octet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OuterHdr {
    pub len: usize,
    pub nh_at: usize,
}

/// The protocol number that carries a packet of this IP version, its TOS
/// and DF bit; the inner packet is checked to be a whole, consistent IP
/// datagram, and trimmed to its own length.
pub(crate) fn inner_info(inner: &[u8]) -> Result<(u8, IpFixed, bool)> {
    let f = ip_fixed(inner, Layer::Tunnel)?;
    let next = if f.version == 4 {
        proto::IPV4
    } else {
        proto::IPV6
    };
    let df = f.version == 4 && be16(inner, 6).unwrap_or(0) & 0x4000 != 0;
    Ok((next, f, df))
}

/// How many IP-in-IP layers `pkt` carries, counting at most `limit + 1`
/// (a bounded walk; errors inside count as "no further layer").
pub fn nest_depth(pkt: &[u8], limit: u32) -> u32 {
    let mut depth = 0;
    let mut cur = pkt;
    while depth <= limit {
        let Ok(f) = ip_fixed(cur, Layer::Tunnel) else {
            break;
        };
        let stop = if f.version == 6 {
            match walk6(cur, &f, false, Layer::Tunnel) {
                Ok(s) => s,
                Err(_) => break,
            }
        } else {
            ChainStop {
                nh_at: 9,
                nh: f.nh,
                off: f.hdr_len,
            }
        };
        if stop.nh != proto::IPV4 && stop.nh != proto::IPV6 {
            break;
        }
        let Some(next) = cur.get(stop.off..f.end) else {
            break;
        };
        depth += 1;
        cur = next;
    }
    depth
}

/// Encapsulate a whole IPv4 or IPv6 packet in an outer header of the
/// family of `p.src`/`p.dst` (RFC 2473 §3, RFC 2003 §3, RFC 4213 §3.5):
/// outer TOS / Traffic Class per `p.ecn`, Hop Limit / TTL `p.hop_limit`.
/// The inner packet is not changed (RFC 2473 §3.1: its hop limit is the
/// forwarding node's business).
pub fn encapsulate(inner: &[u8], p: &TunnelParams) -> Result<Vec<u8>> {
    let hl = p.outer_len()?;
    let (next, f, df) = inner_info(inner)?;
    if nest_depth(inner, p.nest_limit) >= p.nest_limit {
        return Err(Error::new(
            Layer::Tunnel,
            ErrorKind::HeaderLimit {
                limit: p.nest_limit,
            },
            0,
            "inner packet already carries nest_limit IP-in-IP layers: tunnel loop? (seed §1.5)",
        ));
    }
    let body = inner.get(..f.end).unwrap_or(inner);
    let mut out = Vec::with_capacity(hl + body.len());
    p.write_outer(&mut out, next, f.tos, df, body.len() as u64)?;
    out.extend_from_slice(body);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Decapsulation

/// The result of decapsulating: the inner packet and what the ECN egress
/// function said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapsulated {
    pub packet: Vec<u8>,
    /// The first (outermost) RFC 6040 alarm met, if any.
    pub alarm: Option<EcnAlarm>,
    /// How many layers were removed.
    pub layers: u32,
    /// Outer source and destination of the outermost layer removed.
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
}

/// Parsed outer header of a tunnelled packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outer {
    pub tos: u8,
    pub nh: u8,
    pub inner_off: usize,
    pub end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
}

pub(crate) fn addrs(pkt: &[u8], version: u8) -> (IpAddr, IpAddr) {
    if version == 4 {
        let a = |o: usize| -> Ipv4Addr {
            let mut b = [0u8; 4];
            if let Some(s) = pkt.get(o..o + 4) {
                b.copy_from_slice(s);
            }
            Ipv4Addr::from(b)
        };
        (IpAddr::V4(a(12)), IpAddr::V4(a(16)))
    } else {
        let a = |o: usize| -> Ipv6Addr {
            let mut b = [0u8; 16];
            if let Some(s) = pkt.get(o..o + 16) {
                b.copy_from_slice(s);
            }
            Ipv6Addr::from(b)
        };
        (IpAddr::V6(a(8)), IpAddr::V6(a(24)))
    }
}

/// Parse the outer header and find the tunnelled packet (the payload after
/// Hop-by-Hop / Routing / Destination Options for IPv6).
pub(crate) fn outer(pkt: &[u8]) -> Result<Outer> {
    let f = ip_fixed(pkt, Layer::Tunnel)?;
    let stop = if f.version == 6 {
        walk6(pkt, &f, false, Layer::Tunnel)?
    } else {
        ChainStop {
            nh_at: 9,
            nh: f.nh,
            off: f.hdr_len,
        }
    };
    let (src, dst) = addrs(pkt, f.version);
    Ok(Outer {
        tos: f.tos,
        nh: stop.nh,
        inner_off: stop.off,
        end: f.end,
        src,
        dst,
    })
}

/// Apply the ECN egress rule to an inner packet in place (fixing the IPv4
/// header checksum incrementally, RFC 1624, as KAME's esp_input does).
pub(crate) fn egress_inner(
    inner: &mut [u8],
    mode: EcnMode,
    outer_tos: u8,
) -> Result<Option<EcnAlarm>> {
    let Some(&b0) = inner.first() else {
        return Err(Error::truncated(Layer::Tunnel, 0, 1, 0, "inner IP header"));
    };
    if b0 >> 4 == 4 {
        let old = inner.get(1).copied().unwrap_or(0);
        let (new, alarm) = ip_ecn_egress(mode, outer_tos, old)?;
        ipv4_update_tos(inner, old, new);
        Ok(alarm)
    } else {
        let b1 = inner.get(1).copied().unwrap_or(0);
        let old = ((u16::from_be_bytes([b0, b1]) >> 4) & 0xff) as u8;
        let (new, alarm) = ip_ecn_egress(mode, outer_tos, old)?;
        if let Some(x) = inner.get_mut(0) {
            *x = 0x60 | (new >> 4);
        }
        if let Some(x) = inner.get_mut(1) {
            *x = (new << 4) | (b1 & 0x0f);
        }
        Ok(alarm)
    }
}

/// Check that the bytes after the outer header are an IP packet of the
/// version `nh` promises, and return its slice (trimmed to its length).
pub(crate) fn inner_slice(inner: &[u8], nh: u8, base: usize) -> Result<&[u8]> {
    let want = if nh == proto::IPV4 { 4 } else { 6 };
    match inner.first() {
        Some(b) if b >> 4 == want => {}
        Some(_) => {
            return Err(Error::malformed(
                Layer::Tunnel,
                base as u64,
                "inner IP version does not match the outer protocol (RFC 2473 §3, RFC 2003 §3)",
            ))
        }
        None => {
            return Err(Error::truncated(
                Layer::Tunnel,
                base as u64,
                1,
                0,
                "inner IP header",
            ))
        }
    }
    let f = ip_fixed(inner, Layer::Tunnel).map_err(|e| e.at(base as u64))?;
    Ok(inner.get(..f.end).unwrap_or(inner))
}

/// One layer: the inner packet with the egress rule applied, the alarm,
/// and the outer endpoints.
fn decap_once(
    pkt: &[u8],
    mode: EcnMode,
    base: usize,
) -> Result<(Vec<u8>, Option<EcnAlarm>, Outer)> {
    let o = outer(pkt).map_err(|e| e.at(base as u64))?;
    if o.nh != proto::IPV4 && o.nh != proto::IPV6 {
        return Err(Error::malformed(
            Layer::Tunnel,
            base as u64,
            "not an IP-in-IP packet: next header is neither 4 nor 41",
        ));
    }
    let ib = base + o.inner_off;
    let inner = pkt.get(o.inner_off..o.end).unwrap_or(&[]);
    let inner = inner_slice(inner, o.nh, ib)?;
    let mut owned = inner.to_vec();
    let alarm = egress_inner(&mut owned, mode, o.tos).map_err(|e| e.at(ib as u64))?;
    Ok((owned, alarm, o))
}

/// Whether `pkt` is itself an IP-in-IP packet (a bounded look, no errors).
fn is_tunnelled(pkt: &[u8]) -> Option<usize> {
    match outer(pkt) {
        Ok(o) if o.nh == proto::IPV4 || o.nh == proto::IPV6 => Some(o.inner_off),
        _ => None,
    }
}

/// Remove one IP-in-IP layer (or, with `recursive`, every consecutive
/// layer, at most `nest_limit`) and apply the ECN egress rule at each.
/// The outer header must be IPv4 protocol 4/41 or IPv6 with next header
/// 4/41 after Hop-by-Hop / Routing / Destination Options; the inner packet
/// must be of the version the outer promises and whole.
pub fn decapsulate(
    pkt: &[u8],
    mode: EcnMode,
    recursive: bool,
    nest_limit: u32,
) -> Result<Decapsulated> {
    let nest_limit = nest_limit.max(1);
    let (first, alarm, o) = decap_once(pkt, mode, 0)?;
    let mut res = Decapsulated {
        packet: first,
        alarm,
        layers: 1,
        outer_src: o.src,
        outer_dst: o.dst,
    };
    let mut base = o.inner_off;
    if !recursive {
        return Ok(res);
    }
    while let Some(off) = is_tunnelled(&res.packet) {
        if res.layers >= nest_limit {
            return Err(Error::new(
                Layer::Tunnel,
                ErrorKind::HeaderLimit { limit: nest_limit },
                base as u64,
                "more nested IP-in-IP layers than nest_limit (seed §1.5)",
            ));
        }
        let (next, alarm, _) = decap_once(&res.packet, mode, base)?;
        res.packet = next;
        res.alarm = res.alarm.or(alarm);
        res.layers += 1;
        base += off;
    }
    Ok(res)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// An ICMPv6 Echo Request 2001:db8::1 -> 2001:db8::2, id 0x1234 seq 1,
    /// data "abcd" (the ICMPv6 checksum is arbitrary: tunnels never read it).
    pub(crate) fn v6_echo(tc: u8) -> Vec<u8> {
        let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0, 0, 12, 58, 64];
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[
            0x80, 0, 0x1d, 0x5f, 0x12, 0x34, 0, 1, b'a', b'b', b'c', b'd',
        ]);
        p
    }

    /// An IPv4 UDP packet 192.0.2.1 -> 192.0.2.2 with TOS `tos`.
    pub(crate) fn v4_udp(tos: u8) -> Vec<u8> {
        let mut p = vec![
            0x45, tos, 0, 32, 0xab, 0xcd, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p.extend_from_slice(&[0x04, 0xd2, 0x16, 0x2e, 0, 12, 0, 0, b'k', b'a', b'm', b'e']);
        ipv4_set_cksum(&mut p[..20]);
        p
    }

    fn params(src: &str, dst: &str, ecn: EcnMode) -> TunnelParams {
        let mut p = TunnelParams::new(src.parse().unwrap(), dst.parse().unwrap());
        p.ecn = ecn;
        p
    }

    #[test]
    fn cksum_known_header() {
        // RFC 1071 style example: a well-known IPv4 header with checksum b861
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(ipv4_cksum_ok(&h));
        assert_eq!(ipv4_cksum(&h), 0xb861);
        let mut g = h;
        ipv4_update_tos(&mut g, 0, 0xb9);
        assert!(ipv4_cksum_ok(&g));
        assert_eq!(g[1], 0xb9);
    }

    #[test]
    fn kame_table_bit_for_bit() {
        for inner in 0..=255u8 {
            assert_eq!(ip_ecn_ingress(EcnMode::Rfc2401, inner), inner);
            assert_eq!(ip_ecn_ingress(EcnMode::Forbidden, inner), inner & 0xfc);
            assert_eq!(ip_ecn_ingress(EcnMode::Allowed, inner), inner & 0xfe);
            assert_eq!(ip_ecn_ingress(EcnMode::Rfc6040, inner), inner);
            for outer in [0u8, 1, 2, 3, 0xb8, 0xb9, 0xbb, 0xfe] {
                assert_eq!(
                    ip_ecn_egress(EcnMode::Rfc2401, outer, inner).unwrap(),
                    (inner, None)
                );
                assert_eq!(
                    ip_ecn_egress(EcnMode::Forbidden, outer, inner).unwrap(),
                    (inner, None)
                );
                let want = if outer & 1 != 0 { inner | 1 } else { inner };
                assert_eq!(
                    ip_ecn_egress(EcnMode::Allowed, outer, inner).unwrap(),
                    (want, None)
                );
            }
        }
    }

    #[test]
    fn rfc6040_table() {
        use EcnAlarm::*;
        // rows: inner Not-ECT, ECT(0), ECT(1), CE; columns: outer the same
        let n = ECN_NOT_ECT;
        let (e0, e1, ce) = (ECN_ECT0, ECN_ECT1, ECN_CE);
        type Cell = Option<(u8, Option<EcnAlarm>)>;
        let table: [[Cell; 4]; 4] = [
            [
                Some((n, None)),
                Some((n, Some(Dangerous))),
                Some((n, Some(Dangerous))),
                None,
            ],
            [
                Some((e0, None)),
                Some((e0, None)),
                Some((e1, None)),
                Some((ce, None)),
            ],
            [
                Some((e1, None)),
                Some((e1, Some(Possible))),
                Some((e1, None)),
                Some((ce, None)),
            ],
            [
                Some((ce, None)),
                Some((ce, None)),
                Some((ce, Some(Dangerous))),
                Some((ce, None)),
            ],
        ];
        let code = [n, e0, e1, ce];
        for (ri, row) in table.iter().enumerate() {
            for (ci, cell) in row.iter().enumerate() {
                let dscp = 0xb8;
                let r = ip_ecn_egress(EcnMode::Rfc6040, 0x28 | code[ci], dscp | code[ri]);
                match cell {
                    Some((ecn, alarm)) => {
                        assert_eq!(r.unwrap(), (dscp | ecn, *alarm), "row {ri} col {ci}")
                    }
                    None => assert_eq!(r.unwrap_err().kind, ErrorKind::EcnDrop),
                }
            }
        }
    }

    #[test]
    fn encap_v6_in_v6_bytes() {
        let inner = v6_echo(0xbb);
        let p = params("2001:db8:ffff::1", "2001:db8:ffff::2", EcnMode::Forbidden);
        let out = encapsulate(&inner, &p).unwrap();
        assert_eq!(out.len(), 40 + inner.len());
        // version 6, traffic class 0xb8 (ECN cleared), flow label 0
        assert_eq!(&out[..4], &[0x6b, 0x80, 0, 0]);
        assert_eq!(u16::from_be_bytes([out[4], out[5]]) as usize, inner.len());
        assert_eq!(out[6], 41);
        assert_eq!(out[7], 64);
        assert_eq!(&out[40..], &inner[..]);
        let d = decapsulate(&out, EcnMode::Forbidden, false, 8).unwrap();
        assert_eq!(d.packet, inner);
        assert_eq!(d.layers, 1);
        assert_eq!(d.outer_src, p.src);
    }

    #[test]
    fn every_family_pair() {
        for (src, dst) in [
            ("2001:db8::a", "2001:db8::b"),
            ("198.51.100.1", "198.51.100.2"),
        ] {
            for inner in [v6_echo(0x02), v4_udp(0x02)] {
                let p = params(src, dst, EcnMode::Allowed);
                let out = encapsulate(&inner, &p).unwrap();
                let o = outer(&out).unwrap();
                assert_eq!(o.nh, if inner[0] >> 4 == 4 { 4 } else { 41 });
                if out[0] >> 4 == 4 {
                    assert!(ipv4_cksum_ok(&out[..20]));
                    assert_eq!(out[1], 0x02);
                    // DF copied from an IPv4 inner, clear for IPv6
                    assert_eq!(out[6] & 0x40 != 0, inner[0] >> 4 == 4);
                }
                let d = decapsulate(&out, EcnMode::Allowed, false, 8).unwrap();
                assert_eq!(d.packet, inner);
            }
        }
    }

    #[test]
    fn decap_sets_ce_and_fixes_v4_cksum() {
        let inner = v4_udp(0x02);
        let p = params("2001:db8::a", "2001:db8::b", EcnMode::Allowed);
        let mut out = encapsulate(&inner, &p).unwrap();
        // a router marks CE on the outer header
        out[0] = 0x60;
        out[1] = 0x30;
        let d = decapsulate(&out, EcnMode::Allowed, false, 8).unwrap();
        assert_eq!(d.packet[1], 0x03);
        assert!(ipv4_cksum_ok(&d.packet[..20]));
    }

    #[test]
    fn nest_limits() {
        let mut pkt = v6_echo(0);
        let mut p = params("2001:db8::a", "2001:db8::b", EcnMode::Forbidden);
        p.nest_limit = 3;
        for _ in 0..3 {
            pkt = encapsulate(&pkt, &p).unwrap();
        }
        assert_eq!(nest_depth(&pkt, 10), 3);
        let e = encapsulate(&pkt, &p).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeaderLimit { limit: 3 });
        let d = decapsulate(&pkt, EcnMode::Forbidden, true, 8).unwrap();
        assert_eq!(d.layers, 3);
        assert_eq!(d.packet, v6_echo(0));
        let e = decapsulate(&pkt, EcnMode::Forbidden, true, 2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeaderLimit { limit: 2 });
        assert_eq!(
            decapsulate(&pkt, EcnMode::Forbidden, false, 1)
                .unwrap()
                .layers,
            1
        );
    }

    #[test]
    fn decap_refusals() {
        let inner = v6_echo(0);
        let p = params("192.0.2.9", "192.0.2.10", EcnMode::Forbidden);
        let out = encapsulate(&inner, &p).unwrap();
        // truncated everywhere: never a panic, always an error
        for n in 0..out.len() {
            assert!(decapsulate(&out[..n], EcnMode::Forbidden, true, 8).is_err());
        }
        // corrupt checksum
        let mut bad = out.clone();
        bad[8] ^= 1;
        assert_eq!(
            decapsulate(&bad, EcnMode::Forbidden, false, 8)
                .unwrap_err()
                .kind,
            ErrorKind::Malformed
        );
        // wrong inner version for protocol 41
        let mut bad = out.clone();
        bad[9] = 4;
        ipv4_set_cksum(&mut bad[..20]);
        assert_eq!(
            decapsulate(&bad, EcnMode::Forbidden, false, 8)
                .unwrap_err()
                .kind,
            ErrorKind::Malformed
        );
        // not a tunnel
        assert!(decapsulate(&inner, EcnMode::Forbidden, false, 8).is_err());
        // mixed families
        let mut q = p;
        q.dst = "2001:db8::1".parse().unwrap();
        assert_eq!(encapsulate(&inner, &q).unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn rfc6040_drop_on_decap() {
        let inner = v6_echo(0x00);
        let p = params("2001:db8::a", "2001:db8::b", EcnMode::Rfc6040);
        let mut out = encapsulate(&inner, &p).unwrap();
        out[1] |= 0x30; // outer CE
        let e = decapsulate(&out, EcnMode::Rfc6040, false, 8).unwrap_err();
        assert_eq!(e.kind, ErrorKind::EcnDrop);
    }

    #[test]
    fn walker_skips_unfragmentable_part() {
        // HBH(8) -> DSTOPTS(8) -> ROUTING(8) -> DSTOPTS(8) -> UDP
        let mut p = vec![0x60, 0, 0, 0, 0, 40, 0, 64];
        p.extend_from_slice(&[0u8; 32]);
        p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[0u8; 8]);
        let f = ip_fixed(&p, Layer::Tunnel).unwrap();
        let out = walk6(&p, &f, true, Layer::Tunnel).unwrap();
        assert_eq!(
            out,
            ChainStop {
                nh_at: 56,
                nh: 60,
                off: 64
            }
        );
        let inp = walk6(&p, &f, false, Layer::Tunnel).unwrap();
        assert_eq!(
            inp,
            ChainStop {
                nh_at: 64,
                nh: 17,
                off: 72
            }
        );
    }
}
