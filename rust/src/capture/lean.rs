//! The lean path of the column builder: one pass over a record that reads
//! only the octets the columns need and writes them straight into the
//! batch, for the kinds that fill almost every real capture: an untagged
//! Ethernet, Linux cooked (v1, v2) or raw frame carrying
//!
//! - IPv6 with no extension header, to UDP, TCP, ICMPv6 or ESP;
//! - IPv4 without options, not a fragment, to UDP, TCP, ICMP or ESP;
//!
//! and, on untagged Ethernet, a well-formed ARP packet or any payload
//! that is neither IP nor ARP (both without dissection columns),
//!
//! with a checksum that verifies (or none asked). Anything else, and any
//! doubt (a refusal to come, a bad checksum whose reason must be spelled
//! out, a jumbogram, an address `ip6_input` refuses...), is answered
//! `false` before a column is touched, and the general dissection
//! (`dissect::dissect_to`) builds the row instead. Both paths give the
//! same columns for every input: the `capture_lean` fuzz target and the
//! tests below build each record both ways and compare.

use core::net::Ipv6Addr;

use super::{Columns, V_NOTIP, V_OK};
use crate::cksum::{self, Pseudo};
use crate::wire::{arp, proto};

/// What the link header of a frame carries, as far as the lean path
/// reads it.
enum Carried {
    /// An IPv6 or IPv4 packet at this offset.
    Ip(usize),
    /// ARP or RARP at this offset (an untagged Ethernet header).
    Arp(usize),
    /// Neither IP nor ARP, nor an 802.1Q tag (an untagged Ethernet header).
    Other,
}

/// What `frame` carries, when its link header is one the lean path reads
/// (what `dissect::link` says for it, without the header's other fields).
#[inline(always)]
fn carried(frame: &[u8], linktype: u32) -> Option<Carried> {
    const IPV6: [u8; 2] = [0x86, 0xdd];
    const IPV4: [u8; 2] = [0x08, 0x00];
    let (field, at) = match linktype {
        101 | 228 | 229 => return Some(Carried::Ip(0)),
        // Ethernet II: the EtherType at 12. 802.1Q and 802.1ad tags
        // (0x8100, 0x88a8) are the general path's.
        1 => {
            let et = *frame.get(12..)?.first_chunk::<2>()?;
            return match et {
                IPV6 | IPV4 => Some(Carried::Ip(14)),
                [0x08, 0x06] | [0x80, 0x35] => Some(Carried::Arp(14)),
                [0x81, 0x00] | [0x88, 0xa8] => None,
                _ => Some(Carried::Other),
            };
        }
        // LINKTYPE_LINUX_SLL: the protocol at 14, 16 octets.
        113 => (frame.get(14..16)?, 16),
        // LINKTYPE_LINUX_SLL2: the protocol first, 20 octets.
        276 => (frame.get(..20)?.get(..2)?, 20),
        _ => return None,
    };
    (field == IPV6 || field == IPV4).then_some(Carried::Ip(at))
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(at..)?.first_chunk::<2>()?))
}

#[inline(always)]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(at..)?.first_chunk::<4>()?))
}

/// What the upper layer gives the columns.
#[derive(Clone, Copy)]
enum Up {
    Ports { sport: u16, dport: u16 },
    Tcp { sport: u16, dport: u16, flags: u16, seq: u32, ack: u32 },
    Icmp { icmp_type: u8, code: u8, target: Option<[u8; 16]> },
    Esp(Option<(u32, u32)>),
}

/// The IPv4 pseudo-header checksum over `data` verifies
/// (`Pseudo::V4::verify`, without its scatter-gather bookkeeping).
#[inline(always)]
fn v4_verify(src: [u8; 4], dst: [u8; 4], protocol: u8, data: &[u8]) -> bool {
    let w = |a: [u8; 4]| u64::from(u16::from_be_bytes([a[0], a[1]])) + u64::from(u16::from_be_bytes([a[2], a[3]]));
    let acc = w(src) + w(dst) + u64::from(protocol) + data.len() as u64 + u64::from(cksum::sum16(data));
    fold(acc) == 0xffff
}

#[inline(always)]
fn fold(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The UDP or TCP header at `body` (which runs to the end of the IP
/// packet), when the general path would accept it and its checksum (if
/// `verify`) verifies under `ok`. `at` is where `body` starts in `frame`.
#[inline(always)]
fn transport(nh: u8, body: &[u8], verify: bool, ok: impl Fn(u8, &[u8]) -> bool) -> Option<Up> {
    match nh {
        proto::UDP => {
            let h = body.first_chunk::<8>()?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Length 0 (a jumbogram's) and lengths the header refuses go
            // to the general path, which says why.
            if len < 8 || len > body.len() {
                return None;
            }
            if verify && (u16::from_be_bytes([h[6], h[7]]) == 0 || !ok(nh, body.get(..len)?)) {
                return None;
            }
            Some(Up::Ports { sport: u16::from_be_bytes([h[0], h[1]]), dport: u16::from_be_bytes([h[2], h[3]]) })
        }
        proto::TCP => {
            let h = body.first_chunk::<20>()?;
            let hl = usize::from(h[12] >> 4) * 4;
            if hl < 20 || hl > body.len() || (verify && !ok(nh, body)) {
                return None;
            }
            Some(Up::Tcp {
                sport: u16::from_be_bytes([h[0], h[1]]),
                dport: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                flags: u16::from_be_bytes([h[12], h[13]]) & 0x0fff,
            })
        }
        _ => None,
    }
}

/// Row `r` for `frame`, if the lean path reads it (see the module doc);
/// false, with no column touched, otherwise.
#[inline]
pub(super) fn row(c: &mut Columns, r: usize, frame: &[u8], linktype: u32, verify: bool) -> bool {
    let at = match carried(frame, linktype) {
        Some(Carried::Ip(at)) => at,
        // A well-formed ARP packet is "ok", one refused the general
        // path's (it tells why); any other payload is "not ip".
        Some(Carried::Arp(at)) => {
            if arp::Repr::parse(frame.get(at..).unwrap_or(&[])).is_err() {
                return false;
            }
            return not_ip(c, r, V_OK);
        }
        Some(Carried::Other) => return not_ip(c, r, V_NOTIP),
        None => return false,
    };
    let Some(packet) = frame.get(at..) else { return false };
    match packet.first().map(|b| b >> 4) {
        Some(6) => ip6(c, r, packet, verify),
        Some(4) => ip4(c, r, packet, verify),
        _ => false,
    }
}

/// A row with no dissection column and no reason.
#[inline(always)]
fn not_ip(c: &mut Columns, r: usize, verdict: i8) -> bool {
    c.chain.end(r, false);
    c.verdict.set(r, verdict.to_ne_bytes());
    c.reason.end(r, false);
    true
}

#[inline(always)]
fn ip6(c: &mut Columns, r: usize, packet: &[u8], verify: bool) -> bool {
    let Some(h) = packet.first_chunk::<40>() else { return false };
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let nh = h[6];
    let (Ok(src), Ok(dst)) = (<[u8; 16]>::try_from(&h[8..24]), <[u8; 16]>::try_from(&h[24..40])) else { return false };
    // What `ipv6::check_addresses` refuses, and a Payload Length of 0
    // (a jumbogram, or a refusal), are the general path's to tell.
    let (s, d) = (u128::from_be_bytes(src), u128::from_be_bytes(dst));
    if plen == 0 || s >> 32 == 0xffff || d >> 32 == 0xffff || src[0] == 0xff || d == 0 {
        return false;
    }
    let Some(body) = packet.get(40..40 + plen) else { return false };
    let ok = |nh: u8, data: &[u8]| Pseudo::V6 { src: Ipv6Addr::from(src), dst: Ipv6Addr::from(dst) }.verify(nh, data);
    let up = match nh {
        proto::UDP | proto::TCP => transport(nh, body, verify, ok),
        proto::ICMPV6 => {
            let Some(&[icmp_type, code]) = body.first_chunk::<2>() else { return false };
            if body.len() < 4 || (verify && !ok(nh, body)) {
                return false;
            }
            // NS, NA and Redirect carry their target after 4 reserved
            // octets (RFC 4861 §4.3-4.5), read from the frame as the
            // general path does.
            let target = if (135..=137).contains(&icmp_type) {
                packet.get(48..64).and_then(|t| <[u8; 16]>::try_from(t).ok())
            } else {
                None
            };
            Some(Up::Icmp { icmp_type, code, target })
        }
        proto::ESP => Some(Up::Esp(be32(packet, 40).zip(be32(packet, 44)))),
        _ => None,
    };
    let Some(up) = up else { return false };
    c.ip_version.set(r, [6]);
    c.src.set(r, src);
    c.dst.set(r, dst);
    c.hop_limit.set(r, [h[7]]);
    c.traffic_class.set(r, [(h[0] << 4) | (h[1] >> 4)]);
    c.flow_label.set(r, (u32::from_be_bytes([0, h[1], h[2], h[3]]) & 0x000f_ffff).to_ne_bytes());
    c.next_header.set(r, [nh]);
    c.chain.end(r, true);
    c.upper_proto.set(r, [nh]);
    c.packet_len.set(r, (40 + plen as u64).to_ne_bytes());
    finish(c, r, up, verify && nh != proto::ESP);
    true
}

#[inline(always)]
fn ip4(c: &mut Columns, r: usize, packet: &[u8], verify: bool) -> bool {
    let Some(h) = packet.first_chunk::<20>() else { return false };
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Options, a fragment, a lying Total Length or header checksum: the
    // general path's.
    if h[0] != 0x45 || total < 20 || total > packet.len() || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 || cksum::ip_cksum(h) != 0 {
        return false;
    }
    let protocol = h[9];
    let src = [h[12], h[13], h[14], h[15]];
    let dst = [h[16], h[17], h[18], h[19]];
    let Some(body) = packet.get(20..total) else { return false };
    let ok = |p: u8, data: &[u8]| v4_verify(src, dst, p, data);
    let up = match protocol {
        // A zero UDP checksum over IPv4 is "none" and passes (RFC 768).
        proto::UDP if be16(body, 6) == Some(0) => transport(protocol, body, false, ok),
        proto::UDP | proto::TCP => transport(protocol, body, verify, ok),
        proto::ICMP => {
            let Some(&[icmp_type, code]) = body.first_chunk::<2>() else { return false };
            if body.len() < 4 || (verify && cksum::ip_cksum(body) != 0) {
                return false;
            }
            Some(Up::Icmp { icmp_type, code, target: None })
        }
        proto::ESP => Some(Up::Esp(be32(packet, 20).zip(be32(packet, 24)))),
        _ => None,
    };
    let Some(up) = up else { return false };
    c.ip_version.set(r, [4]);
    c.src.set(r, super::v4_mapped(&src));
    c.dst.set(r, super::v4_mapped(&dst));
    c.hop_limit.set(r, [h[8]]);
    c.traffic_class.set(r, [h[1]]);
    c.next_header.set(r, [protocol]);
    c.chain.end(r, true);
    c.upper_proto.set(r, [protocol]);
    c.packet_len.set(r, (total as u64).to_ne_bytes());
    finish(c, r, up, verify && protocol != proto::ESP);
    true
}

/// The upper-layer columns, the checksum (verified good when `checked`)
/// and the verdict `ok`.
#[inline(always)]
fn finish(c: &mut Columns, r: usize, up: Up, checked: bool) {
    match up {
        Up::Ports { sport, dport } => {
            c.sport.set(r, sport.to_ne_bytes());
            c.dport.set(r, dport.to_ne_bytes());
        }
        Up::Tcp { sport, dport, flags, seq, ack } => {
            c.sport.set(r, sport.to_ne_bytes());
            c.dport.set(r, dport.to_ne_bytes());
            c.tcp_flags.set(r, flags.to_ne_bytes());
            c.tcp_seq.set(r, seq.to_ne_bytes());
            c.tcp_ack.set(r, ack.to_ne_bytes());
        }
        Up::Icmp { icmp_type, code, target } => {
            c.icmp_type.set(r, [icmp_type]);
            c.icmp_code.set(r, [code]);
            c.nd_target.put(r, target);
        }
        Up::Esp(spi_seq) => {
            if let Some((spi, seq)) = spi_seq {
                c.esp_spi.set(r, spi.to_ne_bytes());
                c.esp_seq.set(r, seq.to_ne_bytes());
            }
        }
    }
    c.cksum_ok.put(r, checked.then_some(true));
    c.verdict.set(r, V_OK.to_ne_bytes());
    c.reason.end(r, false);
}

#[cfg(test)]
mod tests {
    use super::super::{Builder, Columns};
    use super::super::sample::{echo, esp, framed, link_frames, ns, tcp, udp, v4, v6};
    use crate::wire::capfile::{pcap_header, Reader};
    use crate::wire::dissect::Settings;

    /// IP packets of every kind the lean path reads, and a few it leaves.
    fn packets() -> Vec<Vec<u8>> {
        let (tcp, ns, echo, esp) = (tcp(), ns(), echo(128, 5), esp());
        vec![
            v6(17, udp(5), Some(6)),
            v6(17, udp(0), None),
            v6(6, tcp.clone(), Some(16)),
            v6(58, ns, Some(2)),
            v6(58, echo.clone(), Some(2)),
            v6(50, esp.clone(), None),
            v6(59, vec![], None),
            v4(17, udp(3), Some(6)),
            v4(17, udp(3), None),
            v4(6, tcp, Some(16)),
            v4(1, echo, Some(2)),
            v4(50, esp, None),
        ]
    }

    fn columns(linktype: u32, frames: &[Vec<u8>], lean: bool, verify: bool) -> Columns {
        let mut file = pcap_header(linktype, false).to_vec();
        for f in frames {
            file.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            file.extend_from_slice(&(f.len() as u32).to_le_bytes());
            file.extend_from_slice(&(f.len() as u32).to_le_bytes());
            file.extend_from_slice(f);
        }
        let mut r = Reader::default();
        let mut b = Builder::new(Settings { hdrnestlimit: 50, verify_cksum: verify });
        b.lean = lean;
        let mut pos = 0;
        while let Some(rec) = r.next(&file, &mut pos, true).unwrap() {
            b.push(&rec);
        }
        b.take()
    }

    /// Each frame, then every truncation and every octet of it changed
    /// (to a few values): the lean path and the general one agree on all.
    #[test]
    fn lean_columns_equal_the_general_dissection() {
        for linktype in [1, 101, 113, 276] {
            let mut frames = Vec::new();
            let mut whole: Vec<Vec<u8>> = packets().iter().map(|p| framed(linktype, p)).collect();
            if linktype == 1 {
                whole.extend(link_frames());
            }
            for f in whole {
                for cut in 0..f.len() {
                    frames.push(f[..cut].to_vec());
                }
                for at in 0..f.len() {
                    for v in [0u8, 1, 0x3f, 0x45, 0x60, 0x80, 0xff, f[at] ^ 1, f[at].wrapping_add(1)] {
                        let mut g = f.clone();
                        g[at] = v;
                        frames.push(g);
                    }
                }
                let mut long = f.clone();
                long.extend_from_slice(&[0xee; 7]);
                frames.push(long);
                frames.push(f);
            }
            for verify in [true, false] {
                let lean = columns(linktype, &frames, true, verify);
                let general = columns(linktype, &frames, false, verify);
                assert_eq!(lean.rows, frames.len());
                if lean != general {
                    for (i, f) in frames.iter().enumerate() {
                        let a = columns(linktype, core::slice::from_ref(f), true, verify);
                        let b = columns(linktype, core::slice::from_ref(f), false, verify);
                        assert_eq!(a, b, "linktype {linktype} verify {verify} frame {i}: {f:02x?}");
                    }
                }
            }
        }
    }

    /// The kinds meant for the lean path take it (a frame it refuses
    /// would still be right, through the general path, but slow).
    #[test]
    fn common_kinds_take_the_lean_path() {
        let mut c = Columns::with_room(4);
        for (i, p) in packets().iter().enumerate() {
            let lean = super::row(&mut c, 0, &framed(1, p), 1, true);
            assert_eq!(lean, ![1, 6].contains(&i), "packet {i}");
        }
        for (i, f) in link_frames().iter().enumerate() {
            // All but the tagged frame.
            assert_eq!(super::row(&mut c, 0, f, 1, true), i != 4, "link frame {i}");
        }
    }
}
