//! The small, bounded IP header walk the IPsec transforms need: where an
//! ESP/AH header goes on output, where it is on input, and the length and
//! checksum fix-ups after a header was inserted or removed.
//!
//! Placement on output follows Linux (`ip6_find_1stfragopt`) and scapy
//! (`split_for_transport`): after Hop-by-Hop, Routing, and any Destination
//! Options header that is not preceded by a Routing header. The walk stops
//! at 50 headers (seed §1.8 `hdrnestlimit`). It can later move onto the
//! shared `wire::exthdr` walker.

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::proto;

/// seed §1.8 `net.inet6.ip6.hdrnestlimit` default.
pub const HDRNESTLIMIT: u32 = 50;

/// Where the IPsec header is (input) or goes (output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub v6: bool,
    /// offset of the IPsec header (input) or of the payload it will cover
    pub off: usize,
    /// offset of the octet that holds the Next Header / Protocol value
    /// naming what is at `off`
    pub nh_pos: usize,
    /// that value
    pub nh: u8,
}

fn trunc(layer: Layer, off: usize, need: usize, have: usize, r: &'static str) -> Error {
    Error::truncated(layer, off as u64, need as u64, have as u64, r)
}

/// IP version of a packet (4 or 6), checking the fixed header is there.
pub fn version(p: &[u8]) -> Result<u8> {
    let v = p.first().map(|b| b >> 4).ok_or_else(|| trunc(Layer::Ipv6, 0, 1, 0, "empty packet"))?;
    match v {
        6 if p.len() >= 40 => Ok(6),
        6 => Err(trunc(Layer::Ipv6, 0, 40, p.len(), "IPv6 header (RFC 8200 §3)")),
        4 => {
            let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
            if ihl < 20 {
                return Err(Error::malformed(Layer::Ipv4, 0, "IPv4 IHL below 5 (RFC 791)"));
            }
            if p.len() < ihl {
                return Err(trunc(Layer::Ipv4, 0, ihl, p.len(), "IPv4 header (RFC 791)"));
            }
            Ok(4)
        }
        _ => Err(Error::malformed(Layer::Ipv6, 0, "IP version is neither 4 nor 6")),
    }
}

/// Length of the IPv6 extension header at `pos` of type `nh`.
fn ext_len(p: &[u8], pos: usize, nh: u8) -> Result<usize> {
    let layer = match nh {
        proto::HOPOPTS => Layer::HopByHop,
        proto::ROUTING => Layer::Routing,
        proto::DSTOPTS => Layer::DestOpts,
        proto::AH => Layer::Ah,
        _ => Layer::Fragment,
    };
    let b1 = *p.get(pos + 1).ok_or_else(|| trunc(layer, pos, 2, p.len().saturating_sub(pos), "extension header"))?;
    let len = match nh {
        proto::AH => (usize::from(b1) + 2) * 4,
        proto::FRAGMENT => 8,
        _ => (usize::from(b1) + 1) * 8,
    };
    if p.len() < pos + len {
        return Err(trunc(layer, pos, len, p.len() - pos, "extension header length (RFC 8200 §4)"));
    }
    Ok(len)
}

/// Where to insert ESP/AH in transport mode.
pub fn split_output(p: &[u8]) -> Result<Split> {
    if version(p)? == 4 {
        let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
        let nh = p.get(9).copied().unwrap_or(0);
        check_v4_unfragmented(p)?;
        return Ok(Split { v6: false, off: ihl, nh_pos: 9, nh });
    }
    let mut nh_pos = 6usize;
    let mut pos = 40usize;
    let mut seen_rt = false;
    let mut first = true;
    for _ in 0..HDRNESTLIMIT {
        let nh = p.get(nh_pos).copied().unwrap_or(0);
        let keep = match nh {
            proto::HOPOPTS => first,
            proto::ROUTING => {
                seen_rt = true;
                true
            }
            proto::DSTOPTS => !seen_rt,
            _ => false,
        };
        if !keep {
            return Ok(Split { v6: true, off: pos, nh_pos, nh });
        }
        let len = ext_len(p, pos, nh)?;
        nh_pos = pos;
        pos += len;
        first = false;
    }
    Err(Error::new(Layer::Ipv6, ErrorKind::HeaderLimit { limit: HDRNESTLIMIT }, pos as u64, "header chain longer than hdrnestlimit (seed §1.8)"))
}

fn check_v4_unfragmented(p: &[u8]) -> Result<()> {
    let ff = u16::from_be_bytes([p.get(6).copied().unwrap_or(0), p.get(7).copied().unwrap_or(0)]);
    if ff & 0x3fff != 0 {
        return Err(Error::new(Layer::Ipv4, ErrorKind::Unsupported, 6, "IPsec on an IPv4 fragment: reassemble first (RFC 4303 §3.4.1)"));
    }
    Ok(())
}

/// Find the header of protocol `want` (ESP, AH, or UDP for ESP-in-UDP) on
/// input, walking Hop-by-Hop, Routing and Destination Options headers.
pub fn find_proto(p: &[u8], want: u8, layer: Layer) -> Result<Split> {
    if version(p)? == 4 {
        let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
        let nh = p.get(9).copied().unwrap_or(0);
        check_v4_unfragmented(p)?;
        if nh != want {
            return Err(Error::malformed(layer, 9, "packet does not carry this IPsec protocol"));
        }
        return Ok(Split { v6: false, off: ihl, nh_pos: 9, nh });
    }
    // RFC 2675 §3: Payload Length 0 only with a Jumbo Payload option, whose
    // length the packet must hold (seed §1.7: "data size < data length")
    let end = crate::tunnel::ip6_end(p, layer)?;
    if (p.len() as u64) < end {
        return Err(Error::truncated(layer, 0, end, p.len() as u64, "IPv6 Payload / Jumbo Payload Length (RFC 2675 §3)"));
    }
    let mut nh_pos = 6usize;
    let mut pos = 40usize;
    for _ in 0..HDRNESTLIMIT {
        let nh = p.get(nh_pos).copied().unwrap_or(0);
        if nh == want {
            return Ok(Split { v6: true, off: pos, nh_pos, nh });
        }
        match nh {
            proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {}
            proto::FRAGMENT => {
                return Err(Error::new(layer, ErrorKind::Unsupported, pos as u64, "IPsec on an IPv6 fragment: reassemble first (RFC 4303 §3.4.1)"))
            }
            _ => return Err(Error::malformed(layer, nh_pos as u64, "packet does not carry this IPsec protocol")),
        }
        let len = ext_len(p, pos, nh)?;
        nh_pos = pos;
        pos += len;
    }
    Err(Error::new(Layer::Ipv6, ErrorKind::HeaderLimit { limit: HDRNESTLIMIT }, pos as u64, "header chain longer than hdrnestlimit (seed §1.8)"))
}

/// RFC 1071 ones-complement sum of `data` added to `acc`.
pub fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut it = data.chunks_exact(2);
    for c in &mut it {
        let w = <[u8; 2]>::try_from(c).map(u16::from_be_bytes).unwrap_or(0);
        acc = acc.wrapping_add(u32::from(w));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [b] = it.remainder() {
        acc = acc.wrapping_add(u32::from(*b) << 8);
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Set the IPv6 Payload Length or the IPv4 Total Length (and header
/// checksum) after the packet grew or shrank.
pub fn fix_lengths(p: &mut [u8], v6: bool) -> Result<()> {
    if v6 {
        // Payload Length, or the Jumbo Payload Length of a jumbogram (RFC
        // 2675; the option turns into PadN if the payload shrank to 65535
        // octets or fewer)
        return crate::tunnel::ip6_set_lengths(p, Layer::Ipv6);
    }
    let tl = u16::try_from(p.len()).map_err(|_| Error::new(Layer::Ipv4, ErrorKind::Limit { limit: 65535 }, 2, "IPv4 total length over 65535 (RFC 791)"))?;
    if let Some(f) = p.get_mut(2..4) {
        f.copy_from_slice(&tl.to_be_bytes());
    }
    ipv4_fix_cksum(p);
    Ok(())
}

pub fn ipv4_fix_cksum(p: &mut [u8]) {
    let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
    if let Some(c) = p.get_mut(10..12) {
        c.copy_from_slice(&[0, 0]);
    }
    let s = !(sum16(0, p.get(..ihl).unwrap_or(&[])) as u16);
    if let Some(c) = p.get_mut(10..12) {
        c.copy_from_slice(&s.to_be_bytes());
    }
}

/// The UDP checksum of `udp` (header + payload) in `pkt` (IPv6 pseudo-header,
/// RFC 8200 §8.1), for ESP-in-UDP over IPv6 where a zero checksum is not
/// allowed.
pub fn udp6_cksum(src: &[u8], dst: &[u8], udp: &[u8]) -> u16 {
    let mut acc = sum16(0, src);
    acc = sum16(acc, dst);
    let len = udp.len() as u32;
    acc = sum16(acc, &len.to_be_bytes());
    acc = sum16(acc, &[0, 0, 0, proto::UDP]);
    acc = sum16(acc, udp);
    let c = !(acc as u16);
    if c == 0 { 0xffff } else { c }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn v6(nh: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, nh, 64];
        p.extend_from_slice(&[0xfe; 32]);
        p.extend_from_slice(rest);
        let plen = (rest.len() as u16).to_be_bytes();
        p[4..6].copy_from_slice(&plen);
        p
    }

    #[test]
    fn placement_like_linux() {
        // HBH, then DstOpts (no routing): both kept before ESP
        let mut rest = vec![60, 0, 1, 4, 0, 0, 0, 0];
        rest.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        rest.extend_from_slice(&[0; 8]);
        let p = v6(0, &rest);
        let s = split_output(&p).unwrap();
        assert_eq!((s.off, s.nh_pos, s.nh), (56, 48, 17));
        // Routing, then DstOpts: the DstOpts goes after ESP
        let mut rest = vec![60, 2, 0, 1, 0, 0, 0, 0];
        rest.extend_from_slice(&[0; 16]);
        rest.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        let p = v6(43, &rest);
        let s = split_output(&p).unwrap();
        assert_eq!((s.off, s.nh), (64, 60));
        // a chain that lies about its length
        let p = v6(0, &[17, 5, 0, 0]);
        assert!(split_output(&p).unwrap_err().is_truncated());
    }

    #[test]
    fn find_and_limits() {
        let p = v6(50, &[0; 16]);
        assert_eq!(find_proto(&p, 50, Layer::Esp).unwrap().off, 40);
        assert_eq!(find_proto(&p, 51, Layer::Ah).unwrap_err().kind, ErrorKind::Malformed);
        let p = v6(44, &[50, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(find_proto(&p, 50, Layer::Esp).unwrap_err().kind, ErrorKind::Unsupported);
        // 60 destination options headers in a row hit the nest limit
        let mut rest = Vec::new();
        for _ in 0..60 {
            rest.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let p = v6(60, &rest);
        assert!(matches!(find_proto(&p, 50, Layer::Esp).unwrap_err().kind, ErrorKind::HeaderLimit { .. }));
    }

    #[test]
    fn ipv4_checksum() {
        // RFC 1071-style example header (from Wikipedia's IPv4 checksum example)
        let mut h = vec![0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
        ipv4_fix_cksum(&mut h);
        assert_eq!(&h[10..12], &[0xb8, 0x61]);
    }
}
