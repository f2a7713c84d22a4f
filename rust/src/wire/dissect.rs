//! Whole-packet dissection: from the first octet of a frame (Ethernet, a
//! Linux cooked header, a BSD loopback header, or a bare IPv6 / IPv4
//! packet) to the upper-layer header, in one bounded pass.
//!
//! This is what `kame.parse` and `kame dissect` stand on, and what a node's
//! input path does before it hands a packet to a protocol: `ip6_input`'s
//! validation (`ipv6::validate`: version, lengths, jumbograms, the header
//! chain under `hdrnestlimit`), then the upper-layer header (UDP, TCP,
//! ICMPv6) with its checksum over the IPv6 pseudo-header. The result is a
//! compact, `Copy` [`Summary`] (no heap) so that batches can hold millions;
//! the full [`Dissection`] adds the chain's header list.
//!
//! [`link`] reads only the link header: what a frame carries when it is
//! not IP (ARP, or another EtherType or address family).

use core::net::Ipv6Addr;

use crate::cksum::Pseudo;
use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::exthdr::Chain;
use crate::wire::{arp, ethernet, icmpv6, ipv4, ipv6, null, proto, sll, tcp, udp};

/// How the first octets of the buffer are to be read: the pcap link types
/// the dissector knows (`LinkType::from_linktype` maps their numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// A bare IP packet; the version nibble says which (pcap linktype 101,
    /// also 228 and 229).
    Raw,
    /// An Ethernet II frame (pcap linktype 1).
    Ethernet,
    /// A Linux cooked header, `tcpdump -i any` (LINKTYPE_LINUX_SLL, 113).
    LinuxSll,
    /// Its second version (LINKTYPE_LINUX_SLL2, 276).
    LinuxSll2,
    /// BSD loopback, the family in host order (LINKTYPE_NULL, 0).
    Null,
    /// OpenBSD loopback, the family in network order (LINKTYPE_LOOP, 108).
    Loop,
}

impl LinkType {
    /// The dissector's reading of a pcap / pcapng LINKTYPE_ value.
    pub const fn from_linktype(linktype: u32) -> Option<LinkType> {
        match linktype {
            0 => Some(LinkType::Null),
            1 => Some(LinkType::Ethernet),
            101 | 228 | 229 => Some(LinkType::Raw),
            108 => Some(LinkType::Loop),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }
}

/// The link header a frame starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkHeader {
    /// `LinkType::Raw`: none.
    None,
    Ethernet(ethernet::Repr),
    Sll(sll::Repr),
    /// LINKTYPE_NULL or LINKTYPE_LOOP.
    Null(null::Repr),
}

impl LinkHeader {
    /// Whether the capturing host sent the frame (only a cooked header
    /// says so).
    pub fn outgoing(&self) -> bool {
        matches!(self, LinkHeader::Sll(h) if h.outgoing())
    }
}

/// A frame's link header and what it says the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub header: LinkHeader,
    /// The payload's EtherType: from Ethernet and cooked headers as on the
    /// wire, from a loopback family when it is one that carries IP (None
    /// for another family); for a raw packet, IPv6 or IPv4 by its version
    /// nibble (None for another).
    pub ethertype: Option<u16>,
    /// Where the payload starts in the frame.
    pub payload_offset: usize,
}

impl Link {
    /// Whether the payload is IPv6 or IPv4 by the link's word.
    pub fn is_ip(&self) -> bool {
        matches!(self.ethertype, Some(ethernet::ethertype::IPV6 | ethernet::ethertype::IPV4))
    }

    /// Whether the payload is ARP or RARP.
    pub fn is_arp(&self) -> bool {
        matches!(self.ethertype, Some(ethernet::ethertype::ARP | ethernet::ethertype::RARP))
    }
}

/// Read the link header of `frame`.
pub fn link(frame: &[u8], link: LinkType) -> Result<Link> {
    Ok(match link {
        LinkType::Raw => Link {
            header: LinkHeader::None,
            ethertype: match frame.first().map(|b| b >> 4) {
                Some(6) => Some(ethernet::ethertype::IPV6),
                Some(4) => Some(ethernet::ethertype::IPV4),
                _ => None,
            },
            payload_offset: 0,
        },
        LinkType::Ethernet => {
            let e = ethernet::Repr::parse(frame)?;
            Link { header: LinkHeader::Ethernet(e), ethertype: Some(e.ethertype), payload_offset: e.payload_offset }
        }
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let v = if link == LinkType::LinuxSll { sll::Version::V1 } else { sll::Version::V2 };
            let h = sll::Repr::parse(frame, v)?;
            Link { header: LinkHeader::Sll(h), ethertype: Some(h.protocol), payload_offset: h.buffer_len() }
        }
        LinkType::Null | LinkType::Loop => {
            let order = if link == LinkType::Null { null::Order::Host } else { null::Order::Network };
            let h = null::Repr::parse(frame, order)?;
            Link { header: LinkHeader::Null(h), ethertype: h.ethertype(), payload_offset: h.buffer_len() }
        }
    })
}

/// The ARP (or RARP) packet a frame carries, with its link header; errors
/// (see `arp::Repr::parse`) carry offsets into `frame`. A frame whose link
/// header does not announce ARP is refused as unsupported.
pub fn arp(frame: &[u8], link_type: LinkType) -> Result<(Link, arp::Repr)> {
    let l = link(frame, link_type)?;
    if !l.is_arp() {
        return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 0, "the link header does not announce ARP"));
    }
    let body = frame.get(l.payload_offset..).unwrap_or(&[]);
    let r = arp::Repr::parse(body).map_err(|e| e.at(l.payload_offset as u64))?;
    Ok((l, r))
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
    /// The link header (`LinkHeader::None` for a raw packet).
    pub link: LinkHeader,
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
    /// When `cksum_ok` is Some(false): what was found and what was due.
    pub cksum_bad: Option<BadCksum>,
}

/// A UDP or TCP checksum that did not verify: the value stored, the value
/// that would be right, and whether the stored one is what checksum
/// offload leaves in a capture taken on the sending host.
///
/// With offload the stack stores the one's-complement sum of the
/// pseudo-header alone (Linux `CHECKSUM_PARTIAL`: `~tcp_v6_check(len,
/// src, dst, 0)`) and the NIC completes it after the capture point (a veth
/// peer or the loopback device passes the packet on unfinished, so the
/// receiving side of those sees it too); some drivers leave zero instead,
/// which only a capture that marks the packet as sent by the capturing
/// host (a Linux cooked header, `PACKET_OUTGOING`) can tell apart from a
/// sender's bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadCksum {
    pub stored: u16,
    pub expected: u16,
    pub offload: bool,
}

impl Summary {
    /// A placeholder to be overwritten by [`dissect_to`].
    pub const EMPTY: Summary = Summary {
        link: LinkHeader::None,
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
        cksum_bad: None,
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
pub fn dissect_to(frame: &[u8], link_type: LinkType, settings: Settings, chain: &mut Chain, s: &mut Summary) -> Result<()> {
    let l = link(frame, link_type)?;
    if link_type != LinkType::Raw && !l.is_ip() {
        return Err(not_ip(&l));
    }
    let packet = frame.get(l.payload_offset..).unwrap_or(&[]);
    let base = l.payload_offset as u64;
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
        Ok(()) => {
            if let Some(b) = &mut s.cksum_bad {
                b.offload |= b.stored == 0 && l.header.outgoing();
            }
            if link_type != LinkType::Raw {
                relocate(s, chain, l.header, base);
            }
            Ok(())
        }
        Err(e) => Err(e.at(base)),
    }
}

/// The refusal of a frame whose link header announces something other
/// than IP, at the field that says so.
fn not_ip(l: &Link) -> Error {
    let (layer, at, reason) = match l.header {
        LinkHeader::Ethernet(_) => (Layer::Ethernet, l.payload_offset.saturating_sub(2), "EtherType is neither IPv6 nor IPv4"),
        LinkHeader::Sll(h) => (
            Layer::Sll,
            if h.version == sll::Version::V1 { 14 } else { 0 },
            "protocol type is neither IPv6 nor IPv4",
        ),
        LinkHeader::Null(_) | LinkHeader::None => (Layer::Loopback, 0, "address family is neither IPv6 nor IPv4"),
    };
    Error::new(layer, ErrorKind::Unsupported, at as u64, reason)
}

/// Offsets found in the IP packet made absolute in the frame.
fn relocate(s: &mut Summary, chain: &mut Chain, link: LinkHeader, base: u64) {
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
        link: LinkHeader::None,
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
        cksum_bad: None,
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
        link: LinkHeader::None,
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
        cksum_bad: None,
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

/// What a bad UDP/TCP checksum should have been, and whether the stored
/// value is the pseudo-header sum that offload leaves (see [`BadCksum`]).
/// `data` is the whole segment or datagram, its checksum field included.
pub(crate) fn bad_cksum(pseudo: &Pseudo, nh: u8, data: &[u8], stored: u16) -> Option<BadCksum> {
    let len = data.len() as u64;
    let partial = pseudo.start(nh, len).ok()?.fold();
    // The sum with the stored value taken back out (added as its
    // complement, at an even offset: the start).
    let mut sum = pseudo.start(nh, len).ok()?;
    sum.add_u16(!stored).add(data);
    let expected = match sum.finish() {
        0 if nh == proto::UDP => 0xffff, // RFC 768: a computed zero is sent as all ones
        c => c,
    };
    // 0x0000 and 0xffff are the same one's-complement number.
    let same = |a: u16, b: u16| a == b || (a | b == 0xffff && (a == 0 || b == 0));
    Some(BadCksum { stored, expected, offload: stored != 0 && same(stored, partial) })
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
                let ok = pseudo.map(|p| u.verify_checksum(&p));
                if let (Some(false), Some(p)) = (ok, pseudo) {
                    s.cksum_bad = bad_cksum(&p, proto::UDP, u.datagram(), u.checksum());
                }
                ok
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
            let ok = pseudo.map(|p| t.verify_checksum(&p));
            if let (Some(false), Some(p)) = (ok, pseudo) {
                s.cksum_bad = bad_cksum(&p, proto::TCP, data, t.checksum());
            }
            ok
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

    /// `UDP6` behind each link header the dissector knows.
    fn framed(link: LinkType, ip: &[u8]) -> Vec<u8> {
        let mut f = match link {
            LinkType::Raw => vec![],
            LinkType::Ethernet => vec![0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd],
            LinkType::LinuxSll => vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd],
            LinkType::LinuxSll2 => vec![0x86, 0xdd, 0, 0, 0, 0, 0, 7, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0],
            LinkType::Null => 28u32.to_le_bytes().to_vec(),
            LinkType::Loop => 24u32.to_be_bytes().to_vec(),
        };
        f.extend_from_slice(ip);
        f
    }

    const LINKS: [LinkType; 6] =
        [LinkType::Raw, LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Loop];

    #[test]
    fn every_link_type_reaches_the_same_packet() {
        let mut p = UDP6;
        fix_udp_cksum(&mut p);
        for lt in LINKS {
            let f = framed(lt, &p);
            let base = (f.len() - p.len()) as u64;
            let s = dissect(&f, lt, Settings::default()).unwrap().summary;
            assert_eq!(s.net_offset, base, "{lt:?}");
            assert_eq!((s.upper_offset, s.cksum_ok), (base + 40, Some(true)), "{lt:?}");
            assert_eq!(s.upper, Upper::Udp { sport: 5353, dport: 53 });
            let l = link(&f, lt).unwrap();
            assert_eq!((l.ethertype, l.payload_offset as u64), (Some(0x86dd), base), "{lt:?}");
            assert_eq!(s.link, l.header);
            // A cut link header is a truncation at the link layer.
            if base > 0 {
                assert!(dissect(&f[..base as usize - 1], lt, Settings::default()).unwrap_err().is_truncated());
            }
        }
        assert_eq!(LinkType::from_linktype(276), Some(LinkType::LinuxSll2));
        assert_eq!(LinkType::from_linktype(147), None);
    }

    #[test]
    fn arp_and_other_payloads_are_not_ip() {
        let arp_body = [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2];
        let mut eth = vec![0xff; 6];
        eth.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        eth.extend_from_slice(&arp_body);
        let (l, r) = arp(&eth, LinkType::Ethernet).unwrap();
        assert!(l.is_arp() && !l.is_ip());
        assert_eq!(r.target_protocol_addr, core::net::Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(dissect(&eth, LinkType::Ethernet, Settings::default()).unwrap_err().kind, ErrorKind::Unsupported);
        // An ARP packet with a bad length: malformed, at its absolute offset.
        let mut bad = eth.clone();
        bad[14 + 4] = 8;
        let e = arp(&bad, LinkType::Ethernet).unwrap_err();
        assert_eq!((e.layer, e.kind, e.offset), (Layer::Arp, ErrorKind::Malformed, 18));
        // The same ARP in a cooked header.
        let mut sll = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x06];
        sll.extend_from_slice(&arp_body);
        assert_eq!(arp(&sll, LinkType::LinuxSll).unwrap().1, r);
        let e = dissect(&sll, LinkType::LinuxSll, Settings::default()).unwrap_err();
        assert_eq!((e.layer, e.offset), (Layer::Sll, 14));
        // LLDP: not ARP either.
        let mut lldp = eth.clone();
        lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(link(&lldp, LinkType::Ethernet).unwrap().ethertype, Some(0x88cc));
        assert_eq!(arp(&lldp, LinkType::Ethernet).unwrap_err().kind, ErrorKind::Unsupported);
        // A loopback family that is not IP.
        let mut ipx = 23u32.to_le_bytes().to_vec();
        ipx.extend_from_slice(&UDP6);
        assert_eq!(link(&ipx, LinkType::Null).unwrap().ethertype, None);
        assert_eq!(dissect(&ipx, LinkType::Null, Settings::default()).unwrap_err().layer, Layer::Loopback);
    }

    /// The IPv6 pseudo-header sum alone, as Linux stores it under
    /// CHECKSUM_PARTIAL (`~tcp_v6_check(len, src, dst, 0)`).
    fn partial(p: &[u8], nh: u8) -> u16 {
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
        Pseudo::V6 { src, dst }.start(nh, (p.len() - 40) as u64).unwrap().fold()
    }

    #[test]
    fn offload_leaves_the_pseudo_header_sum() {
        let mut good = UDP6;
        fix_udp_cksum(&mut good);
        let right = u16::from_be_bytes([good[46], good[47]]);
        let mut p = UDP6;
        let ph = partial(&p, proto::UDP);
        p[46..48].copy_from_slice(&ph.to_be_bytes());
        let s = dissect(&p, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.cksum_ok, Some(false));
        assert_eq!(s.cksum_bad, Some(BadCksum { stored: ph, expected: right, offload: true }));
        // Another wrong value: bad, with what it should be, no hint.
        p[46..48].copy_from_slice(&(ph ^ 0x0100).to_be_bytes());
        let s = dissect(&p, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.cksum_bad, Some(BadCksum { stored: ph ^ 0x0100, expected: right, offload: false }));
        // Zero: a hint only when a cooked header says we sent it.
        p[46..48].copy_from_slice(&[0, 0]);
        let out = dissect(&framed(LinkType::LinuxSll, &p), LinkType::LinuxSll, Settings::default()).unwrap().summary;
        assert_eq!(out.cksum_bad.map(|b| (b.stored, b.offload)), Some((0, true)));
        let mut inc = framed(LinkType::LinuxSll, &p);
        inc[1] = 0; // PACKET_HOST
        let s = dissect(&inc, LinkType::LinuxSll, Settings::default()).unwrap().summary;
        assert_eq!(s.cksum_bad.map(|b| (b.stored, b.offload)), Some((0, false)));
        // Good checksums carry no detail.
        let s = dissect(&good, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.cksum_bad, None);
    }

    #[test]
    fn offload_on_tcp_and_expected_matches_a_fresh_sum() {
        // IPv6 / TCP SYN 1234 -> 80, no options.
        let mut p = UDP6[..40].to_vec();
        p[6] = proto::TCP;
        p[4..6].copy_from_slice(&20u16.to_be_bytes());
        p.extend_from_slice(&[0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0]);
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
        let right = crate::cksum::in6_cksum(&src, &dst, 6, 20, [&p[40..]]).unwrap();
        let ph = partial(&p, proto::TCP);
        p[56..58].copy_from_slice(&ph.to_be_bytes());
        let s = dissect(&p, LinkType::Raw, Settings::default()).unwrap().summary;
        assert_eq!(s.cksum_bad, Some(BadCksum { stored: ph, expected: right, offload: true }));
        p[56..58].copy_from_slice(&right.to_be_bytes());
        assert_eq!(dissect(&p, LinkType::Raw, Settings::default()).unwrap().summary.cksum_ok, Some(true));
    }
}
