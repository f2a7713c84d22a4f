//! Whole-packet dissection: from the first octet of a frame (Ethernet, or a
//! bare IPv6 / IPv4 packet) to the upper-layer header, in one bounded pass.
//!
//! This is what `kame.parse` and `kame dissect` stand on, and what a node's
//! input path does before it hands a packet to a protocol: `ip6_input`'s
//! validation (`ipv6::validate`: version, lengths, jumbograms, the header
//! chain under `hdrnestlimit`), then the upper-layer header (UDP, TCP,
//! ICMPv6) with its checksum over the IPv6 pseudo-header. The result is a
//! compact, `Copy` [`Summary`] (no heap) so that batches can hold millions;
//! the full [`Dissection`] adds the chain's header list.

use core::net::Ipv6Addr;

use crate::cksum::Pseudo;
use crate::error::{Error, Layer, Result};
use crate::wire::exthdr::Chain;
use crate::wire::{ethernet, icmpv6, ipv4, ipv6, proto, tcp, udp};

/// How the first octet of the buffer is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// A bare IP packet; the version nibble says which (pcap linktype 101).
    Raw,
    /// An Ethernet II frame (pcap linktype 1).
    Ethernet,
}

/// Settings of one dissection: the knobs of `ip6_input` that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `net.inet6.ip6.hdrnestlimit` (0 = no limit).
    pub hdrnestlimit: u32,
    /// Verify the upper-layer checksum (UDP, TCP, ICMPv6).
    pub verify_cksum: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { hdrnestlimit: 50, verify_cksum: true }
    }
}

/// The network-layer facts of a dissected packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    V6 {
        traffic_class: u8,
        flow_label: u32,
        /// The Payload Length field as on the wire (0 for a jumbogram).
        payload_len_field: u16,
        next_header: u8,
        hop_limit: u8,
        src: [u8; 16],
        dst: [u8; 16],
        /// The Jumbo Payload Length, if the packet is a jumbogram.
        jumbo: Option<u32>,
        router_alert: Option<u16>,
        /// (byte offset of the fragment data, M flag, identification).
        fragment: Option<(u64, bool, u32)>,
    },
    V4 {
        tos: u8,
        ident: u16,
        /// Flags (3 bits) and fragment offset in 8-octet units.
        flags: u8,
        frag_offset: u16,
        ttl: u8,
        protocol: u8,
        header_len: u8,
        src: [u8; 4],
        dst: [u8; 4],
    },
}

/// The upper-layer header, when one was reached and understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upper {
    None,
    Udp { sport: u16, dport: u16 },
    Tcp { sport: u16, dport: u16, seq: u32, ack: u32, flags: u16, window: u16 },
    Icmpv6 { icmp_type: u8, code: u8 },
    Icmp { icmp_type: u8, code: u8 },
}

/// A compact dissection (fixed size, no heap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The Ethernet header, for `LinkType::Ethernet`.
    pub link: Option<ethernet::Repr>,
    /// Offset of the IP header in the frame.
    pub net_offset: u64,
    pub net: Net,
    /// Octets of the IP packet proper (header included), u64 for jumbograms.
    pub packet_len: u64,
    /// Octets of the frame past the packet (to be trimmed).
    pub trailing: u64,
    /// The protocol that ends the header chain (an upper layer, ESP,
    /// IPComp, No Next Header, or 44 when this is a non-first fragment).
    pub upper_proto: u8,
    /// Absolute offset (in the frame) of the upper-layer header.
    pub upper_offset: u64,
    /// Absolute offset of the Next Header octet that names it.
    pub upper_nh_offset: u64,
    /// Number of extension headers in the chain.
    pub ext_count: u32,
    pub upper: Upper,
    /// Absolute offset of the upper-layer payload (after UDP/TCP/ICMPv6
    /// headers), or `upper_offset` when no upper header was parsed.
    pub payload_offset: u64,
    /// Some(true/false) when the checksum was verified; None when it could
    /// not be (not asked, a fragment, or no checksummed upper layer).
    pub cksum_ok: Option<bool>,
}

impl Summary {
    /// A placeholder to be overwritten by [`dissect_to`].
    pub const EMPTY: Summary = Summary {
        link: None,
        net_offset: 0,
        net: Net::V6 {
            traffic_class: 0,
            flow_label: 0,
            payload_len_field: 0,
            next_header: proto::NONE,
            hop_limit: 0,
            src: [0; 16],
            dst: [0; 16],
            jumbo: None,
            router_alert: None,
            fragment: None,
        },
        packet_len: 0,
        trailing: 0,
        upper_proto: proto::NONE,
        upper_offset: 0,
        upper_nh_offset: 0,
        ext_count: 0,
        upper: Upper::None,
        payload_offset: 0,
        cksum_ok: None,
    };
}

/// A full dissection: the summary and the chain's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissection {
    pub summary: Summary,
    pub chain: Chain,
}

/// Dissect `frame`. Errors are those of the layer that refused it, with
/// offsets into `frame`.
pub fn dissect(frame: &[u8], link: LinkType, settings: Settings) -> Result<Dissection> {
    let mut chain = Chain::default();
    let summary = dissect_into(frame, link, settings, &mut chain)?;
    Ok(Dissection { summary, chain })
}

/// [`dissect`] with the header chain written into the caller's `chain`
/// (reused across calls, never copied): the path of `kame.parse` and
/// `parse_many`, which keep only the [`Summary`].
pub fn dissect_into(frame: &[u8], link: LinkType, settings: Settings, chain: &mut Chain) -> Result<Summary> {
    let mut s = Summary::EMPTY;
    dissect_to(frame, link, settings, chain, &mut s)?;
    Ok(s)
}

/// [`dissect_into`] writing the summary into the caller's `s` too: the
/// batch path, which reuses one `Chain` and one `Summary` for every packet.
/// On error `s` holds what was learned before the refusal.
pub fn dissect_to(frame: &[u8], link: LinkType, settings: Settings, chain: &mut Chain, s: &mut Summary) -> Result<()> {
    let (eth, net_off) = match link {
        LinkType::Raw => (None, 0usize),
        LinkType::Ethernet => {
            let e = ethernet::Repr::parse(frame)?;
            if e.ethertype != ethernet::ethertype::IPV6 && e.ethertype != ethernet::ethertype::IPV4 {
                return Err(Error::new(Layer::Ethernet, crate::ErrorKind::Unsupported, 12, "EtherType is neither IPv6 nor IPv4"));
            }
            (Some(e), e.payload_offset)
        }
    };
    let packet = frame.get(net_off..).unwrap_or(&[]);
    let base = net_off as u64;
    let r = match packet.first().map(|b| b >> 4) {
        Some(6) => dissect6(packet, settings, chain, s),
        Some(4) => {
            chain.reset();
            dissect4(packet, settings, s)
        }
        None => Err(Error::truncated(Layer::Ipv6, 0, 40, 0, "IPv6 header (RFC 8200 §3)")),
        Some(_) => Err(Error::malformed(Layer::Ipv6, 0, "IP version is neither 6 nor 4")),
    };
    match r {
        Ok(()) if eth.is_some() => {
            relocate(s, chain, eth, base);
            Ok(())
        }
        Err(e) if eth.is_some() => Err(e.at(base)),
        r => r,
    }
}

/// Offsets found in the IP packet made absolute in the frame.
fn relocate(s: &mut Summary, chain: &mut Chain, link: Option<ethernet::Repr>, base: u64) {
    s.link = link;
    s.net_offset = base;
    s.upper_offset += base;
    s.upper_nh_offset += base;
    s.payload_offset += base;
    for h in &mut chain.headers {
        h.offset += base;
    }
    chain.upper_offset += base;
    chain.upper_nh_offset += base;
    if let Some(f) = &mut chain.fragment {
        f.offset += base;
    }
    if let Some(j) = &mut chain.jumbo {
        j.offset += base;
    }
    chain.unfragmentable_len += base;
}

fn dissect6(packet: &[u8], settings: Settings, chain: &mut Chain, s: &mut Summary) -> Result<()> {
    let mut v = ipv6::Checked::EMPTY;
    ipv6::validate_to(packet, settings.hdrnestlimit, chain, &mut v)?;
    let h = &v.header;
    let packet_len = v.packet_len();
    // Bounded by the declared length (validate proved it fits in `packet`).
    let end = usize::try_from(packet_len).unwrap_or(packet.len()).min(packet.len());
    let body = packet.get(..end).unwrap_or(packet);
    let fragment = chain.fragment.map(|f| (f.repr.byte_offset(), f.repr.more_frags, f.repr.ident));
    let non_first = fragment.is_some_and(|(off, _, _)| off != 0);
    let is_fragment = fragment.is_some_and(|(off, m, _)| off != 0 || m);
    let upper_off = chain.upper_offset;
    *s = Summary {
        link: None,
        net_offset: 0,
        net: Net::V6 {
            traffic_class: h.traffic_class,
            flow_label: h.flow_label,
            payload_len_field: h.payload_len,
            next_header: h.next_header,
            hop_limit: h.hop_limit,
            src: h.src_addr,
            dst: h.dst_addr,
            jumbo: v.jumbo.map(|j| j.value),
            router_alert: v.router_alert,
            fragment,
        },
        packet_len,
        trailing: v.trailing,
        upper_proto: if non_first { proto::FRAGMENT } else { chain.upper },
        upper_offset: upper_off,
        upper_nh_offset: chain.upper_nh_offset,
        ext_count: u32::try_from(chain.headers.len()).unwrap_or(u32::MAX),
        upper: Upper::None,
        payload_offset: upper_off,
        cksum_ok: None,
    };
    if !non_first {
        let data = usize::try_from(upper_off).ok().and_then(|o| body.get(o..)).unwrap_or(&[]);
        // A first fragment holds only part of the upper layer: its header
        // can be read, its checksum cannot be checked. The pseudo-header
        // carries the final destination and the home address (RFC 8200
        // §8.1, RFC 6275 §6.3).
        let pseudo = (settings.verify_cksum && !is_fragment)
            .then(|| v.pseudo_addrs(body, chain))
            .map(|(src, dst)| Pseudo::V6 { src: Ipv6Addr::from(src), dst: Ipv6Addr::from(dst) });
        upper(s, chain.upper, data, upper_off, pseudo, is_fragment)?;
    }
    Ok(())
}

fn dissect4(packet: &[u8], settings: Settings, s: &mut Summary) -> Result<()> {
    let p = ipv4::Packet::new_checked(packet)?;
    if !p.verify_checksum() {
        return Err(Error::malformed(Layer::Ipv4, 10, "bad IPv4 header checksum (RFC 791)"));
    }
    let hl = p.header_len();
    let total = u64::from(p.total_len());
    let flags = p.flags();
    let frag_offset = p.frag_offset();
    let more = flags & 0x1 != 0;
    let is_fragment = more || frag_offset != 0;
    let protocol = p.protocol();
    *s = Summary {
        link: None,
        net_offset: 0,
        net: Net::V4 {
            tos: p.tos(),
            ident: p.ident(),
            flags,
            frag_offset,
            ttl: p.ttl(),
            protocol,
            header_len: u8::try_from(hl).unwrap_or(u8::MAX),
            src: p.src_addr().octets(),
            dst: p.dst_addr().octets(),
        },
        packet_len: total,
        trailing: (packet.len() as u64).saturating_sub(total),
        upper_proto: if frag_offset != 0 { proto::FRAGMENT } else { protocol },
        upper_offset: hl as u64,
        upper_nh_offset: 9,
        ext_count: 0,
        upper: Upper::None,
        payload_offset: hl as u64,
        cksum_ok: None,
    };
    if frag_offset == 0 {
        let end = usize::try_from(total).unwrap_or(packet.len()).min(packet.len());
        let data = packet.get(hl..end).unwrap_or(&[]);
        let pseudo = (settings.verify_cksum && !is_fragment)
            .then_some(Pseudo::V4 { src: p.src_addr(), dst: p.dst_addr() });
        upper(s, protocol, data, hl as u64, pseudo, is_fragment)?;
    }
    Ok(())
}

/// Parse the upper-layer header at `data` (which runs to the end of the IP
/// packet) into `s`; with `pseudo`, verify its checksum. A truncated header
/// in a first fragment is not an error (RFC 7112 is the reassembler's to
/// enforce); elsewhere it is.
fn upper(s: &mut Summary, nh: u8, data: &[u8], at: u64, pseudo: Option<Pseudo>, fragment: bool) -> Result<()> {
    let r = match nh {
        proto::UDP => match udp::Packet::new_checked(data) {
            // A first fragment holds the UDP header but only part of the
            // datagram its Length covers: the ports can be read now, the
            // Length and the checksum only after reassembly.
            Err(e) if fragment && e.is_truncated() && data.len() >= udp::HEADER_LEN => {
                let u = udp::Packet::new_unchecked(data);
                s.upper = Upper::Udp { sport: u.src_port(), dport: u.dst_port() };
                s.payload_offset = at + udp::HEADER_LEN as u64;
                Ok(None)
            }
            r => r.map(|u| {
                s.upper = Upper::Udp { sport: u.src_port(), dport: u.dst_port() };
                s.payload_offset = at + 8;
                pseudo.map(|p| u.verify_checksum(&p))
            }),
        },
        proto::TCP => tcp::Packet::new_checked(data).map(|t| {
            s.upper = Upper::Tcp {
                sport: t.src_port(),
                dport: t.dst_port(),
                seq: t.seq_number(),
                ack: t.ack_number(),
                flags: t.flags(),
                window: t.window_len(),
            };
            s.payload_offset = at + t.header_len() as u64;
            pseudo.map(|p| t.verify_checksum(&p))
        }),
        proto::ICMPV6 => icmpv6::Packet::new_checked(data).map(|i| {
            s.upper = Upper::Icmpv6 { icmp_type: u8::from(i.msg_type()), code: i.msg_code() };
            s.payload_offset = at + 4;
            match pseudo {
                Some(p @ Pseudo::V6 { .. }) => Some(p.verify(proto::ICMPV6, data)),
                _ => None,
            }
        }),
        proto::ICMP if matches!(s.net, Net::V4 { .. }) => match (data.first(), data.get(1)) {
            (Some(&t), Some(&c)) if data.len() >= 4 => {
                s.upper = Upper::Icmp { icmp_type: t, code: c };
                s.payload_offset = at + 4;
                Ok(pseudo.map(|_| crate::cksum::ip_cksum(data) == 0))
            }
            _ => Err(Error::truncated(Layer::Ipv4, 0, 4, data.len() as u64, "ICMP header (RFC 792)")),
        },
        _ => return Ok(()),
    };
    match r {
        Ok(ok) => {
            s.cksum_ok = ok;
            Ok(())
        }
        Err(e) if fragment && e.is_truncated() => Ok(()),
        Err(e) => Err(e.at(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv6 / UDP 5353 -> 53, 4 data octets, checksum good (built by scapy).
    const UDP6: [u8; 52] = [
        0x60, 0, 0, 0, 0, 12, 17, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x20, 0x01, 0x0d,
        0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x14, 0xe9, 0, 0x35, 0, 12, 0x2f, 0x5c, b'a', b'b', b'c', b'd',
    ];

    fn fix_udp_cksum(p: &mut [u8]) {
        p[46] = 0;
        p[47] = 0;
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
        let c = crate::cksum::in6_cksum(&src, &dst, 17, (p.len() - 40) as u64, [&p[40..]]).unwrap();
        let c = if c == 0 { 0xffff } else { c };
        p[46..48].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn udp_over_ipv6() {
        let mut p = UDP6;
        fix_udp_cksum(&mut p);
        let d = dissect(&p, LinkType::Raw, Settings::default()).unwrap();
        let s = d.summary;
        assert_eq!(s.upper_proto, 17);
        assert_eq!(s.upper, Upper::Udp { sport: 5353, dport: 53 });
        assert_eq!((s.upper_offset, s.payload_offset, s.packet_len), (40, 48, 52));
        assert_eq!(s.cksum_ok, Some(true));
        p[51] ^= 1;
        let d = dissect(&p, LinkType::Raw, Settings::default()).unwrap();
        assert_eq!(d.summary.cksum_ok, Some(false));
    }

    #[test]
    fn first_fragment_shows_the_ports() {
        // IPv6 / Fragment (offset 0, M=1) / UDP 5353 -> 53 whose Length
        // (1008) covers far more than this fragment carries.
        let mut p = UDP6[..40].to_vec();
        p[6] = proto::FRAGMENT;
        p.extend_from_slice(&[proto::UDP, 0, 0, 1, 0, 0, 0, 9]);
        p.extend_from_slice(&[0x14, 0xe9, 0, 0x35, 0x03, 0xf0, 0x12, 0x34]);
        p.extend_from_slice(&[0x61; 16]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let s = dissect(&p, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.upper_proto, proto::UDP);
        assert_eq!(s.upper, Upper::Udp { sport: 5353, dport: 53 });
        assert_eq!((s.upper_offset, s.payload_offset), (48, 56));
        assert_eq!(s.cksum_ok, None);
        // Not a fragment: the same datagram is refused as truncated.
        let mut whole = UDP6[..40].to_vec();
        whole.extend_from_slice(&p[48..]);
        let wlen = (whole.len() - 40) as u16;
        whole[4..6].copy_from_slice(&wlen.to_be_bytes());
        assert!(dissect(&whole, LinkType::Raw, Settings::default()).unwrap_err().is_truncated());
        // Fewer than 8 octets of UDP header: no ports, still accepted.
        let mut short = p[..52].to_vec();
        short[4..6].copy_from_slice(&12u16.to_be_bytes());
        let s = dissect(&short, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.upper, Upper::None);
    }

    #[test]
    fn ethernet_offsets_are_absolute() {
        let mut p = UDP6;
        fix_udp_cksum(&mut p);
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        f.extend_from_slice(&p);
        let s = dissect(&f, LinkType::Ethernet, Settings::default()).unwrap().summary;
        assert_eq!((s.net_offset, s.upper_offset, s.payload_offset), (14, 54, 62));
        // A truncated UDP header: the error offset is absolute too.
        let e = dissect(&f[..14 + 40 + 4], LinkType::Ethernet, Settings::default()).unwrap_err();
        assert!(e.is_truncated());
    }

    #[test]
    fn refusals() {
        assert!(dissect(&[], LinkType::Raw, Settings::default()).unwrap_err().is_truncated());
        assert_eq!(dissect(&[0x50; 40], LinkType::Raw, Settings::default()).unwrap_err().layer, Layer::Ipv6);
        let arp = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1];
        assert_eq!(dissect(&arp, LinkType::Ethernet, Settings::default()).unwrap_err().layer, Layer::Ethernet);
    }
}
