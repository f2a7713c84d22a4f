//! Frames of the kinds the column builder reads, built with their
//! checksums right, and pcap files of them: shared by the builder's tests
//! (`capture::lean`), its criterion benches (`benches/rust/capture.rs`)
//! and the fuzz targets' seeds. Not a packet builder for applications
//! (`kame.build` is): lengths are taken as given, and a wrong one gives a
//! wrong frame, as the tests want.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::cksum;
use crate::wire::capfile::pcap_header;

/// The IPv6 source and destination of every sample.
pub const S6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const D6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// The IPv4 source and destination of every sample.
pub const S4: [u8; 4] = [192, 0, 2, 1];
pub const D4: [u8; 4] = [192, 0, 2, 2];

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// An IPv6 packet (traffic class 0xb8, flow label 0x12345, hop limit 64)
/// whose first header is `nh` and whose payload is `payload`; when `ck`
/// is given, the upper-layer checksum at that offset of the payload is
/// filled in, over the pseudo-header with `upper` = the upper-layer
/// protocol and the payload past `skip` octets of extension headers.
pub fn v6_chain(nh: u8, mut payload: Vec<u8>, ck: Option<(u8, usize, usize)>) -> Vec<u8> {
    if let Some((upper, skip, at)) = ck {
        let data = payload.get(skip..).unwrap_or(&[]);
        let c = cksum::in6_cksum(&Ipv6Addr::from(S6), &Ipv6Addr::from(D6), upper, data.len() as u64, [data]).unwrap_or(0);
        put16(&mut payload, skip + at, c);
    }
    let mut p = vec![0x6b, 0x81, 0x23, 0x45];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, 64]);
    p.extend_from_slice(&S6);
    p.extend_from_slice(&D6);
    p.extend_from_slice(&payload);
    p
}

/// An IPv6 packet to `nh` carrying `upper`, the checksum at `ck` (if any)
/// filled in.
pub fn v6(nh: u8, upper: Vec<u8>, ck: Option<usize>) -> Vec<u8> {
    v6_chain(nh, upper, ck.map(|at| (nh, 0, at)))
}

/// An IPv4 packet (no options, DF, TTL 64) to `protocol` carrying
/// `upper`, the checksum at `ck` (if any, over the pseudo-header unless
/// ICMP) filled in.
pub fn v4(protocol: u8, mut upper: Vec<u8>, ck: Option<usize>) -> Vec<u8> {
    let (s, d) = (Ipv4Addr::from(S4), Ipv4Addr::from(D4));
    if let Some(at) = ck {
        let c = if protocol == 1 { cksum::ip_cksum(&upper) } else { cksum::in4_cksum(&s, &d, protocol, upper.len() as u64, [&upper[..]]).unwrap_or(0) };
        put16(&mut upper, at, c);
    }
    let mut p = vec![0x45, 0xb8];
    p.extend_from_slice(&(20 + upper.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&S4);
    p.extend_from_slice(&D4);
    let c = cksum::ip_cksum(&p);
    put16(&mut p, 10, c);
    p.extend_from_slice(&upper);
    p
}

/// An IPv4 packet like [`v4`] with `options` (a multiple of 4 octets)
/// after its header and `flags_frag` as its flags and fragment offset
/// (0x4000: DF; 0x2000 | n: MF at n units of 8 octets), identification
/// 0x0102; the upper-layer checksum at `ck` (if any) over `upper` as given.
pub fn v4_with(protocol: u8, options: &[u8], flags_frag: u16, mut upper: Vec<u8>, ck: Option<usize>) -> Vec<u8> {
    let (s, d) = (Ipv4Addr::from(S4), Ipv4Addr::from(D4));
    if let Some(at) = ck {
        let c = if protocol == 1 { cksum::ip_cksum(&upper) } else { cksum::in4_cksum(&s, &d, protocol, upper.len() as u64, [&upper[..]]).unwrap_or(0) };
        put16(&mut upper, at, c);
    }
    let hl = 20 + options.len();
    let mut p = vec![0x40 | (hl / 4) as u8, 0];
    p.extend_from_slice(&((hl + upper.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[1, 2]);
    p.extend_from_slice(&flags_frag.to_be_bytes());
    p.extend_from_slice(&[64, protocol, 0, 0]);
    p.extend_from_slice(&S4);
    p.extend_from_slice(&D4);
    p.extend_from_slice(options);
    let c = cksum::ip_cksum(&p);
    put16(&mut p, 10, c);
    p.extend_from_slice(&upper);
    p
}

/// A Hop-by-Hop or Destination Options header naming `nh` and holding
/// `options`, padded to a multiple of 8 octets (Pad1 or PadN).
pub fn opts_hdr(nh: u8, options: &[u8]) -> Vec<u8> {
    let mut h = vec![nh, 0];
    h.extend_from_slice(options);
    match (8 - h.len() % 8) % 8 {
        0 => {}
        1 => h.push(0),
        n => {
            h.extend_from_slice(&[1, (n - 2) as u8]);
            h.extend(core::iter::repeat_n(0, n - 2));
        }
    }
    let units = (h.len() / 8 - 1) as u8;
    if let Some(l) = h.get_mut(1) {
        *l = units;
    }
    h
}

/// A Routing header of type `rtype` naming `nh`, `segleft` Segments Left,
/// carrying `addrs` after 4 octets (reserved, or an SRH's Last Entry,
/// Flags and Tag: Last Entry set to the last index).
pub fn routing(nh: u8, rtype: u8, segleft: u8, addrs: &[[u8; 16]]) -> Vec<u8> {
    let last = addrs.len().saturating_sub(1) as u8;
    let mut h = vec![nh, (addrs.len() * 2) as u8, rtype, segleft];
    h.extend_from_slice(&if rtype == 4 { [last, 0, 0, 0] } else { [0; 4] });
    for a in addrs {
        h.extend_from_slice(a);
    }
    h
}

/// A Fragment header naming `nh`, at `offset` units of 8 octets, M flag
/// `more`, identification `ident`.
pub fn frag(nh: u8, offset: u16, more: bool, ident: u32) -> Vec<u8> {
    let om = (offset << 3) | u16::from(more);
    let mut h = vec![nh, 0];
    h.extend_from_slice(&om.to_be_bytes());
    h.extend_from_slice(&ident.to_be_bytes());
    h
}

/// An AH header (RFC 4302) naming `nh`: SPI 0x2345, sequence 6, a
/// 12-octet ICV (HMAC-SHA1-96); 24 octets.
pub fn ah(nh: u8) -> Vec<u8> {
    let mut h = vec![nh, 4, 0, 0, 0, 0, 0x23, 0x45, 0, 0, 0, 6];
    h.extend_from_slice(&[0xa5; 12]);
    h
}

/// An IPv6 packet whose chain is `headers` (each naming the next: build
/// them with the right Next Header) then `upper` of protocol `nh0` first
/// named, the upper-layer checksum at `ck` (if any) over `upper` alone.
pub fn v6_ext(nh0: u8, headers: &[Vec<u8>], upper_proto: u8, upper: Vec<u8>, ck: Option<usize>) -> Vec<u8> {
    let skip: usize = headers.iter().map(Vec::len).sum();
    let mut payload: Vec<u8> = headers.concat();
    payload.extend_from_slice(&upper);
    v6_chain(nh0, payload, ck.map(|at| (upper_proto, skip, at)))
}

/// A UDP header (5353 to 53) and `n` octets of data, checksum 0 (at 6).
pub fn udp(n: usize) -> Vec<u8> {
    let mut u = vec![0x14, 0xe9, 0, 53];
    u.extend_from_slice(&((8 + n) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend((0..n).map(|i| i as u8));
    u
}

/// A TCP SYN-ACK with an MSS option, checksum 0 (at 16).
pub fn tcp() -> Vec<u8> {
    vec![0x9c, 0x40, 0, 80, 0, 1, 0xe2, 0x40, 0, 0, 0, 99, 0x60, 0x12, 0x20, 0, 0, 0, 0, 0, 2, 4, 5, 0xb4]
}

/// An ICMP(v6) echo of type `t` with `n` octets of data, checksum 0 (at 2).
pub fn echo(t: u8, n: usize) -> Vec<u8> {
    let mut e = vec![t, 0, 0, 0, 0, 7, 0, 1];
    e.extend((0..n).map(|i| i as u8));
    e
}

/// A Neighbor Solicitation for `D6` with a Source Link-Layer Address
/// option, checksum 0 (at 2).
pub fn ns() -> Vec<u8> {
    let mut n = vec![135, 0, 0, 0, 0, 0, 0, 0];
    n.extend_from_slice(&D6);
    n.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
    n
}

/// An ESP header (SPI 0x1234, sequence 77) and 4 octets.
pub fn esp() -> Vec<u8> {
    vec![0, 0, 0x12, 0x34, 0, 0, 0, 77, 1, 1, 1, 1]
}

/// `ip` behind the link header of `linktype` (Ethernet, Linux cooked v1
/// or v2; raw for any other), announcing IPv6 or IPv4 by its version.
pub fn framed(linktype: u32, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let et: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0] };
    let mut f = match linktype {
        1 => vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, et[0], et[1]],
        113 => vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, et[0], et[1]],
        276 => vec![et[0], et[1], 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0],
        _ => vec![],
    };
    f.extend_from_slice(ip);
    f
}

/// A pcap of link type `linktype` holding `n` records, the frames of
/// `frames` in turn (1000 records a second from 2023-11-14 on).
pub fn pcap(linktype: u32, frames: &[Vec<u8>], n: usize) -> Vec<u8> {
    let mut f = pcap_header(linktype, false).to_vec();
    if frames.is_empty() {
        return f;
    }
    for i in 0..n {
        let Some(fr) = frames.get(i % frames.len()) else { break };
        f.extend_from_slice(&(1_700_000_000u32 + (i / 1000) as u32).to_le_bytes());
        f.extend_from_slice(&((i % 1000) as u32 * 7).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(fr);
    }
    f
}

/// An untagged Ethernet frame of EtherType `ethertype` carrying `payload`.
pub fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP request (Ethernet, IPv4) from `S4` for `D4`.
pub fn arp() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1];
    a.extend_from_slice(&S4);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&D4);
    a
}

/// Ethernet frames of the link-layer kinds: ARP, RARP, LLDP, an 802.3
/// length field, IPv6 behind an 802.1Q tag.
pub fn link_frames() -> Vec<Vec<u8>> {
    let mut tagged = vec![0, 5, 0x86, 0xdd];
    tagged.extend_from_slice(&v6(17, udp(2), Some(6)));
    vec![ether(0x0806, &arp()), ether(0x8035, &arp()), ether(0x88cc, &[0; 30]), ether(0x0040, &[0xaa; 20]), ether(0x8100, &tagged)]
}
