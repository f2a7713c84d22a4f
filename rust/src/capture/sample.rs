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
