//! IPv6 fragmentation on output (RFC 8200 §4.5), the output half of KAME's
//! `frag6.c` / `ip6_output.c` fragmenting loop, rebuilt to today's RFCs.
//!
//! A packet is split into an *unfragmentable part* (the IPv6 header and the
//! extension headers that must be processed en route: Hop-by-Hop, Routing,
//! and Destination Options that precede a Routing header) and a
//! *fragmentable part* (everything after). Each fragment repeats the
//! unfragmentable part, adds an 8-octet Fragment header and carries a piece
//! of the fragmentable part whose length is a multiple of 8 octets except in
//! the last fragment:
//!
//! ```text
//!   Fragment header (RFC 8200 §4.5)
//!    0                   1                   2                   3
//!    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//!   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   |                         Identification                        |
//!   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Two levels of API:
//! - over already-located pieces: [`fragment`] / [`atomic_fragment`] take the
//!   length of the unfragmentable part and the offset of the Next Header
//!   byte to patch (the caller's own header walk found them);
//! - packet-level: [`fragment_packet`] / [`atomic_fragment_packet`] locate
//!   the unfragmentable part themselves with [`locate_unfragmentable`], a
//!   small bounded walker over IPv6 + HBH / Destination Options / Routing.
//!
//! Jumbograms are refused with a typed error: a Jumbo Payload option must
//! not be used in a packet that carries a Fragment header (RFC 2675 §3).
//! Lengths are `usize` with checked arithmetic throughout.

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::{exthdr, proto};

/// Length of the IPv6 fixed header (RFC 8200 §3).
pub const IPV6_HDR_LEN: usize = 40;
/// Length of the Fragment header (RFC 8200 §4.5).
pub const FRAG_HDR_LEN: usize = 8;
/// The IPv6 minimum link MTU (RFC 8200 §5).
pub const IPV6_MMTU: usize = 1280;
/// Largest payload length a non-jumbo IPv6 packet can carry.
pub const IPV6_MAXPACKET: usize = 65535;
/// Default bound on the number of extension headers walked (seed §1.8,
/// net.inet6.ip6.hdrnestlimit).
pub const HDRNESTLIMIT: usize = 50;

/// Where the Fragment header goes in a packet, as found by a header walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfragmentable {
    /// Length of the unfragmentable part (IPv6 header + HBH + Destination
    /// Options before Routing + Routing), counted from the IPv6 header.
    pub len: usize,
    /// Offset of the Next Header byte that names the first header of the
    /// fragmentable part (6 for the IPv6 header itself); a Fragment header
    /// inserted after the unfragmentable part is named here.
    pub nh_offset: usize,
    /// Whether the Hop-by-Hop header carries a Jumbo Payload option.
    pub jumbo: bool,
}

fn trunc(offset: usize, needed: usize, available: usize, reason: &'static str) -> Error {
    Error::truncated(
        Layer::Ipv6,
        offset as u64,
        needed as u64,
        available as u64,
        reason,
    )
}

/// The IPv6 fixed header checks both halves share: version, and the length
/// of the packet the payload length field says (link padding beyond it is
/// ignored, as `ip6_input` trims it). Returns the packet length.
pub(crate) fn ipv6_len(packet: &[u8]) -> Result<usize> {
    let Some(hdr) = packet.get(..IPV6_HDR_LEN) else {
        return Err(trunc(
            0,
            IPV6_HDR_LEN,
            packet.len(),
            "IPv6 header (RFC 8200 §3)",
        ));
    };
    let v = hdr.first().copied().unwrap_or(0) >> 4;
    if v != 6 {
        return Err(Error::malformed(
            Layer::Ipv6,
            0,
            "version is not 6 (RFC 8200 §3)",
        ));
    }
    let plen = u16::from_be_bytes([
        hdr.get(4).copied().unwrap_or(0),
        hdr.get(5).copied().unwrap_or(0),
    ]) as usize;
    let total = IPV6_HDR_LEN + plen;
    if packet.len() < total {
        return Err(trunc(
            IPV6_HDR_LEN,
            plen,
            packet.len() - IPV6_HDR_LEN,
            "payload shorter than the IPv6 Payload Length (RFC 8200 §3)",
        ));
    }
    Ok(total)
}

/// Locate the unfragmentable part of a packet that has no Fragment header
/// yet (RFC 8200 §4.5) with the stack's chain walker
/// (`wire::exthdr::walk_ipv6`, at most `hdrnestlimit` headers, bounded by
/// the Payload Length): it runs through the last Routing header, else the
/// Hop-by-Hop header, else it is the IPv6 header alone. Errors: those of
/// the walker (truncated or illegal headers, a chain longer than
/// `hdrnestlimit`), and a packet that already carries a Fragment header.
/// A jumbogram (Payload Length 0) is walked over the whole buffer and
/// reported with `jumbo` set.
pub fn locate_unfragmentable(packet: &[u8]) -> Result<Unfragmentable> {
    let jumbo_len = packet.get(4..6) == Some(&[0, 0][..]) && packet.len() > IPV6_HDR_LEN;
    let scope = if jumbo_len {
        packet
    } else {
        packet.get(..ipv6_len(packet)?).unwrap_or(packet)
    };
    let chain = exthdr::walk_ipv6(scope, HDRNESTLIMIT as u32)?;
    if let Some(f) = chain.fragment {
        return Err(Error::malformed(
            Layer::Fragment,
            f.offset,
            "packet already carries a Fragment header (RFC 8200 §4.5)",
        ));
    }
    let len = usize::try_from(chain.unfragmentable_len).unwrap_or(usize::MAX);
    let nh_offset = chain
        .headers
        .iter()
        .find(|h| h.offset.saturating_add(h.len) == chain.unfragmentable_len)
        .and_then(|h| usize::try_from(h.offset).ok())
        .unwrap_or(6);
    Ok(Unfragmentable {
        len,
        nh_offset,
        jumbo: chain.jumbo.is_some() || jumbo_len,
    })
}

fn jumbo_error(offset: usize) -> Error {
    Error::new(
        Layer::Fragment,
        ErrorKind::Unsupported,
        offset as u64,
        "a jumbogram cannot be fragmented: Jumbo Payload option with a Fragment header is illegal (RFC 2675 §3)",
    )
}

/// Check the caller's description of the packet; return (packet length,
/// original next header).
fn check_input(packet: &[u8], unfrag_len: usize, nh_offset: usize) -> Result<(usize, u8)> {
    if packet.len() >= IPV6_HDR_LEN
        && packet.get(4..6) == Some(&[0, 0][..])
        && packet.len() > IPV6_HDR_LEN
    {
        return Err(jumbo_error(4));
    }
    if packet.len() > IPV6_HDR_LEN + IPV6_MAXPACKET {
        return Err(jumbo_error(4));
    }
    let total = ipv6_len(packet)?;
    if unfrag_len < IPV6_HDR_LEN || unfrag_len > total {
        return Err(Error::new(
            Layer::Fragment,
            ErrorKind::Config,
            0,
            "unfragmentable length must lie between 40 and the packet length",
        ));
    }
    if !(nh_offset == 6 || (IPV6_HDR_LEN..unfrag_len).contains(&nh_offset)) {
        return Err(Error::new(
            Layer::Fragment,
            ErrorKind::Config,
            nh_offset as u64,
            "next header offset must be 6 or inside an extension header of the unfragmentable part",
        ));
    }
    let nh = packet.get(nh_offset).copied().unwrap_or(proto::NONE);
    if nh == proto::FRAGMENT {
        return Err(Error::malformed(
            Layer::Fragment,
            nh_offset as u64,
            "packet already carries a Fragment header (RFC 8200 §4.5)",
        ));
    }
    Ok((total, nh))
}

/// Build one fragment: unfragmentable part (Next Header patched to 44,
/// Payload Length fixed), Fragment header, piece.
fn build_one(
    unfrag: &[u8],
    nh_offset: usize,
    orig_nh: u8,
    offset: usize,
    more: bool,
    ident: u32,
    piece: &[u8],
) -> Result<Vec<u8>> {
    let plen = (unfrag.len() - IPV6_HDR_LEN)
        .checked_add(FRAG_HDR_LEN)
        .and_then(|v| v.checked_add(piece.len()))
        .filter(|&v| v <= IPV6_MAXPACKET)
        .ok_or_else(|| jumbo_error(4))?;
    if offset % 8 != 0 || offset / 8 > 0x1fff {
        return Err(Error::new(
            Layer::Fragment,
            ErrorKind::Limit { limit: 0xfff8 },
            2,
            "fragment offset out of range (RFC 8200 §4.5)",
        ));
    }
    let mut out = Vec::with_capacity(unfrag.len() + FRAG_HDR_LEN + piece.len());
    out.extend_from_slice(unfrag);
    if let Some(b) = out.get_mut(4..6) {
        b.copy_from_slice(&(plen as u16).to_be_bytes());
    }
    if let Some(b) = out.get_mut(nh_offset) {
        *b = proto::FRAGMENT;
    }
    let offlg = (offset as u16) | u16::from(more);
    out.push(orig_nh);
    out.push(0);
    out.extend_from_slice(&offlg.to_be_bytes());
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(piece);
    Ok(out)
}

/// Fragment `packet` for a path MTU of `mtu` octets (RFC 8200 §4.5).
///
/// `unfrag_len` is the length of the unfragmentable part and `nh_offset` the
/// offset of the Next Header byte (inside it) that names the first header of
/// the fragmentable part; `ident` is the Identification the caller chose
/// (RFC 7739 recommends unpredictable values). If the whole packet already
/// fits in `mtu` it is returned unchanged as the only element (as
/// `ip6_output` does); use [`atomic_fragment`] to force a Fragment header.
///
/// Every fragment is at most `mtu` octets; every fragmentable piece but the
/// last is a multiple of 8 octets; Payload Length is fixed per fragment.
/// Errors: `mtu < 1280` or an unfragmentable part too long to leave room for
/// 8 octets of data (`Config`), a jumbogram (`Unsupported`, RFC 2675 §3), a
/// truncated IPv6 header or payload (`Truncated`).
pub fn fragment(
    packet: &[u8],
    unfrag_len: usize,
    nh_offset: usize,
    mtu: usize,
    ident: u32,
) -> Result<Vec<Vec<u8>>> {
    if mtu < IPV6_MMTU {
        return Err(Error::new(
            Layer::Fragment,
            ErrorKind::Config,
            0,
            "path MTU below the IPv6 minimum of 1280 (RFC 8200 §5)",
        ));
    }
    let (total, orig_nh) = check_input(packet, unfrag_len, nh_offset)?;
    let packet = packet.get(..total).unwrap_or(packet);
    if total <= mtu {
        return Ok(vec![packet.to_vec()]);
    }
    // The last fragment may carry any length up to the MTU; every other
    // one a multiple of 8 octets.
    let last_room = mtu.checked_sub(unfrag_len).and_then(|v| v.checked_sub(FRAG_HDR_LEN));
    let room = last_room
        .map(|v| v & !7usize)
        .filter(|&v| v >= 8)
        .ok_or_else(|| {
            Error::new(
                Layer::Fragment,
                ErrorKind::Config,
                0,
                "unfragmentable part leaves no room for 8 octets of data under the MTU (RFC 8200 §4.5)",
            )
        })?;
    let unfrag = packet.get(..unfrag_len).unwrap_or(&[]);
    let body = packet.get(unfrag_len..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(body.len() / room + 1);
    let mut pos = 0usize;
    loop {
        let rest = body.len() - pos;
        let end = if last_room.is_some_and(|r| rest <= r) { body.len() } else { pos.saturating_add(room).min(body.len()) };
        let more = end < body.len();
        let piece = body.get(pos..end).unwrap_or(&[]);
        out.push(build_one(
            unfrag, nh_offset, orig_nh, pos, more, ident, piece,
        )?);
        if !more {
            break;
        }
        pos = end;
    }
    Ok(out)
}

/// Insert a Fragment header with offset 0 and M = 0 (an "atomic fragment",
/// RFC 6946) after the unfragmentable part. RFC 8200 no longer generates
/// these in answer to a Packet Too Big below 1280; this builder exists for
/// tests and for peers that ask for them. Same errors as [`fragment`].
pub fn atomic_fragment(
    packet: &[u8],
    unfrag_len: usize,
    nh_offset: usize,
    ident: u32,
) -> Result<Vec<u8>> {
    let (total, orig_nh) = check_input(packet, unfrag_len, nh_offset)?;
    let unfrag = packet.get(..unfrag_len).unwrap_or(&[]);
    let body = packet.get(unfrag_len..total).unwrap_or(&[]);
    build_one(unfrag, nh_offset, orig_nh, 0, false, ident, body)
}

/// [`fragment`] after locating the unfragmentable part with
/// [`locate_unfragmentable`] (a packet with a Jumbo Payload option is
/// refused, RFC 2675 §3).
pub fn fragment_packet(packet: &[u8], mtu: usize, ident: u32) -> Result<Vec<Vec<u8>>> {
    let u = locate_unfragmentable(packet)?;
    if u.jumbo {
        return Err(jumbo_error(IPV6_HDR_LEN));
    }
    fragment(packet, u.len, u.nh_offset, mtu, ident)
}

/// [`atomic_fragment`] after locating the unfragmentable part.
pub fn atomic_fragment_packet(packet: &[u8], ident: u32) -> Result<Vec<u8>> {
    let u = locate_unfragmentable(packet)?;
    if u.jumbo {
        return Err(jumbo_error(IPV6_HDR_LEN));
    }
    atomic_fragment(packet, u.len, u.nh_offset, ident)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;

    /// An IPv6 + UDP packet, 2001:db8::1 -> 2001:db8::2, hop limit 64,
    /// with a UDP payload of `n` bytes of a counting pattern.
    pub(crate) fn udp_packet(n: usize) -> Vec<u8> {
        let ulen = 8 + n;
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(ulen as u16).to_be_bytes());
        p.push(17);
        p.push(64);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[0x04, 0xd2, 0x16, 0x2e]);
        p.extend_from_slice(&(ulen as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend((0..n).map(|i| (i * 7 + 3) as u8));
        p
    }

    /// Same with HBH (PadN) + DstOpts + Routing (type 0 with no segments
    /// left style, 8 bytes) + DstOpts before UDP.
    pub(crate) fn ext_packet(n: usize) -> Vec<u8> {
        let udp = udp_packet(n);
        let mut p = udp[..40].to_vec();
        p[6] = 0; // HBH
        p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // HBH -> DstOpts, PadN
        p.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // DstOpts -> Routing
        p.extend_from_slice(&[60, 0, 4, 0, 0, 0, 0, 0]); // Routing type 4 (SRH-ish), SL 0 -> DstOpts
        p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // DstOpts -> UDP
        p.extend_from_slice(&udp[40..]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    #[test]
    fn locate_plain_udp() {
        let p = udp_packet(100);
        let u = locate_unfragmentable(&p).unwrap();
        assert_eq!(
            u,
            Unfragmentable {
                len: 40,
                nh_offset: 6,
                jumbo: false
            }
        );
    }

    #[test]
    fn locate_through_routing() {
        let p = ext_packet(100);
        let u = locate_unfragmentable(&p).unwrap();
        // HBH(8) + DstOpts(8) + Routing(8): unfragmentable ends after Routing;
        // the trailing DstOpts is fragmentable.
        assert_eq!(u.len, 64);
        assert_eq!(u.nh_offset, 56);
        assert!(!u.jumbo);
    }

    #[test]
    fn locate_hbh_only() {
        let udp = udp_packet(10);
        let mut p = udp[..40].to_vec();
        p[6] = 0;
        p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&udp[40..]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let u = locate_unfragmentable(&p).unwrap();
        assert_eq!((u.len, u.nh_offset), (48, 40));
    }

    #[test]
    fn fragments_are_bounded_and_aligned() {
        let p = udp_packet(3000);
        let frags = fragment_packet(&p, 1280, 0xdeadbeef).unwrap();
        assert_eq!(frags.len(), 3);
        let mut off = 0;
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 1280);
            assert_eq!(f[6], 44);
            let plen = u16::from_be_bytes([f[4], f[5]]) as usize;
            assert_eq!(plen + 40, f.len());
            assert_eq!(f[40], 17);
            let offlg = u16::from_be_bytes([f[42], f[43]]);
            assert_eq!((offlg & 0xfff8) as usize, off);
            let last = i == frags.len() - 1;
            assert_eq!(offlg & 1 == 0, last);
            assert_eq!(&f[44..48], &0xdeadbeefu32.to_be_bytes());
            let piece = &f[48..];
            if !last {
                assert_eq!(piece.len() % 8, 0);
                assert_eq!(piece.len(), 1232);
            }
            assert_eq!(piece, &p[40 + off..40 + off + piece.len()]);
            off += piece.len();
        }
        assert_eq!(off, p.len() - 40);
    }

    /// The classic Wireshark/Linux layout: a 1500-MTU fragment of a
    /// 3000-octet UDP datagram carries 1448 octets (1500 - 40 - 8, rounded
    /// down to a multiple of 8).
    #[test]
    fn mtu_1500_piece_sizes() {
        let p = udp_packet(2992); // fragmentable part 3000
        let frags = fragment_packet(&p, 1500, 1).unwrap();
        let sizes: Vec<usize> = frags.iter().map(|f| f.len() - 48).collect();
        assert_eq!(sizes, vec![1448, 1448, 104]);
    }

    #[test]
    fn ext_headers_repeated_in_each_fragment() {
        let p = ext_packet(2500);
        let frags = fragment_packet(&p, 1280, 7).unwrap();
        for f in &frags {
            assert_eq!(
                &f[..56],
                &{
                    let mut h = p[..56].to_vec();
                    h[4..6].copy_from_slice(&f[4..6]);
                    h
                }[..]
            );
            assert_eq!(f[56], 44); // Routing's next header patched
            assert_eq!(f[64], 60); // Fragment header carries DstOpts
            assert!(f.len() <= 1280);
        }
    }

    #[test]
    fn small_packet_unchanged() {
        let p = udp_packet(100);
        assert_eq!(fragment_packet(&p, 1280, 1).unwrap(), vec![p]);
    }

    #[test]
    fn atomic_builder() {
        let p = udp_packet(20);
        let a = atomic_fragment_packet(&p, 0x01020304).unwrap();
        assert_eq!(a.len(), p.len() + 8);
        assert_eq!(a[6], 44);
        assert_eq!(&a[40..48], &[17, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(&a[48..], &p[40..]);
        assert_eq!(u16::from_be_bytes([a[4], a[5]]) as usize, a.len() - 40);
    }

    #[test]
    fn refusals() {
        let p = udp_packet(3000);
        assert_eq!(
            fragment_packet(&p, 1279, 1).unwrap_err().kind,
            ErrorKind::Config
        );
        assert!(fragment_packet(&p[..30], 1280, 1)
            .unwrap_err()
            .is_truncated());
        assert!(fragment_packet(&p[..1000], 1280, 1)
            .unwrap_err()
            .is_truncated());
        // already a fragment
        let f = &fragment_packet(&p, 1280, 1).unwrap()[0];
        assert_eq!(
            fragment_packet(f, 1280, 1).unwrap_err().kind,
            ErrorKind::Malformed
        );
        // bad caller description
        assert_eq!(
            fragment(&p, 39, 6, 1280, 1).unwrap_err().kind,
            ErrorKind::Config
        );
        assert_eq!(
            fragment(&p, 40, 40, 1280, 1).unwrap_err().kind,
            ErrorKind::Config
        );
        assert_eq!(
            fragment(&p, 40, 4, 1280, 1).unwrap_err().kind,
            ErrorKind::Config
        );
        // no room under the MTU
        assert_eq!(
            fragment(&p, 1280, 6, 1280, 1).unwrap_err().kind,
            ErrorKind::Config
        );
    }

    /// RFC 2675 §3: a jumbogram (payload length 0, HBH Jumbo Payload)
    /// cannot carry a Fragment header.
    #[test]
    fn jumbogram_refused() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend_from_slice(&[0u8; 32]);
        p.extend_from_slice(&[17, 0, 0xC2, 4, 0, 1, 0, 8]); // Jumbo length 65544
        p.extend(std::iter::repeat_n(0u8, 65536));
        let e = fragment_packet(&p, 1280, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.reason.contains("RFC 2675"));
        let e = atomic_fragment_packet(&p, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        // HBH with Jumbo but a non-zero payload length: still refused
        let mut q = p[..48].to_vec();
        q[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(
            fragment_packet(&q, 1280, 1).unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn hdrnestlimit_bounds_the_walk() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 60, 64];
        p.extend_from_slice(&[0u8; 32]);
        for _ in 0..60 {
            p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let e = locate_unfragmentable(&p).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::HeaderLimit { limit: 50 }));
    }
}
