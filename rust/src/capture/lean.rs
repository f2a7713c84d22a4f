//! The lean path of the column builder: one pass over a record that reads
//! only the octets the columns need and writes them straight into the
//! batch, for the kinds that fill almost every real capture: an untagged
//! Ethernet, Linux cooked (v1, v2) or raw frame carrying
//!
//! - IPv6 with no extension header or a chain `ip6_input` passes without
//!   a word (see `walk`): Hop-by-Hop first, Destination Options whose
//!   options are padding, a 2-octet Router Alert or unrecognized with
//!   action 00, Routing headers with Segments Left 0 (an SRH included),
//!   AH, one Fragment header (a first fragment's upper header read but not
//!   verified, a later one's data not read, an atomic one judged whole);
//! - IPv4, with options or without, a fragment or not;
//!
//! to UDP, TCP, ICMPv6 (ICMP over IPv4), ESP, or a protocol the
//! dissection does not read (No Next Header, IGMP, PIM, GRE...: no upper
//! column); and, on untagged Ethernet, a well-formed ARP packet or any
//! payload that is neither IP nor ARP (both without dissection columns),
//!
//! with its checksum verified (or none asked): a bad one gets the general
//! path's verdict ("cksum bad"; "offload" for a zero one the capturing
//! host sent, or the pseudo-header sum offload leaves) and reason, the
//! value it should have been spelled out (`dissect::bad_cksum`). The IPv6
//! layer's first refusals are spelled out too, in the words of its
//! `Error`: a version neither 6 nor 4, a header cut short, a Payload
//! Length past the frame. Anything else, and any doubt (other refusals, a
//! jumbogram, a Home Address option, an option whose action is not
//! "skip", Segments Left > 0, a nested Fragment header, a header after a
//! first fragment's Fragment header, an address `ip6_input` refuses...),
//! is answered `false` before a column is touched, and the general
//! dissection (`dissect::dissect_to`) builds the row instead. Both paths give the
//! same columns for every input: the `capture_lean` fuzz target and the
//! tests below build each record both ways and compare.

use core::net::Ipv6Addr;

use super::{Columns, V_CKSUM, V_DROP, V_NOTIP, V_OFFLOAD, V_OK};
use crate::cksum::{self, Pseudo};
use crate::wire::dissect::{self, BadCksum, Settings};
use crate::wire::exthdr::is_chain_member;
use crate::wire::opts::opt_type;
use crate::wire::{arp, proto};

/// What the link header of a frame carries, as far as the lean path
/// reads it.
enum Carried {
    /// An IPv6 or IPv4 packet at this offset, and whether the capturing
    /// host sent it (a Linux cooked header's packet type 4, OUTGOING:
    /// where a zero checksum is offload's to finish).
    Ip(usize, bool),
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
    let (field, at, outgoing) = match linktype {
        101 | 228 | 229 => return Some(Carried::Ip(0, false)),
        // Ethernet II: the EtherType at 12. 802.1Q and 802.1ad tags
        // (0x8100, 0x88a8) are the general path's.
        1 => {
            let et = *frame.get(12..)?.first_chunk::<2>()?;
            return match et {
                IPV6 | IPV4 => Some(Carried::Ip(14, false)),
                [0x08, 0x06] | [0x80, 0x35] => Some(Carried::Arp(14)),
                [0x81, 0x00] | [0x88, 0xa8] => None,
                _ => Some(Carried::Other),
            };
        }
        // LINKTYPE_LINUX_SLL: the protocol at 14, 16 octets.
        // The packet type at 0 (16 bits).
        113 => (frame.get(14..16)?, 16, frame.get(..2)? == [0, 4]),
        // LINKTYPE_LINUX_SLL2: the protocol first, 20 octets; the packet
        // type at 10 (8 bits).
        276 => (frame.get(..20)?.get(..2)?, 20, frame.get(10) == Some(&4)),
        _ => return None,
    };
    (field == IPV6 || field == IPV4).then_some(Carried::Ip(at, outgoing))
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
    /// No upper-layer column: No Next Header, a protocol the dissection
    /// does not read (IGMP, GRE, PIM, IPv4 or IPv6 in IP...), or the data
    /// of a non-first fragment.
    None,
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

/// How an upper-layer checksum came out.
#[derive(Clone, Copy)]
enum Verified {
    /// Good, or not verified (none asked, a fragment, no checksum).
    Good,
    /// Bad: what it should have been for UDP and TCP
    /// (`dissect::bad_cksum`), nothing more for ICMP(v6).
    Bad(Option<BadCksum>),
}

/// Whether `data` under the pseudo-header `p` verifies.
#[inline(always)]
fn verifies(p: &Pseudo, nh: u8, data: &[u8]) -> bool {
    match p {
        Pseudo::V6 { .. } => p.verify(nh, data),
        Pseudo::V4 { src, dst } => v4_verify(src.octets(), dst.octets(), nh, data),
    }
}

/// The UDP or TCP header at `body` (which runs to the end of the IP
/// packet), when the general path would accept it, and its checksum
/// verified (if `verify`) under `pseudo`. In a first fragment
/// (`fragment`) the header is read but the datagram is not whole: UDP's
/// Length may cover more than the fragment holds, and no checksum is
/// verified.
#[inline(always)]
fn transport(nh: u8, body: &[u8], verify: bool, fragment: bool, pseudo: &Pseudo) -> Option<(Up, Verified)> {
    match nh {
        proto::UDP => {
            let h = body.first_chunk::<8>()?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Length 0 (a jumbogram's) and lengths the header refuses go
            // to the general path, which says why.
            if len < 8 || (len > body.len() && !fragment) {
                return None;
            }
            let mut v = Verified::Good;
            if verify && !fragment {
                let stored = u16::from_be_bytes([h[6], h[7]]);
                let datagram = body.get(..len)?;
                // A zero checksum over IPv6 is bad (RFC 8200 §8.1); over
                // IPv4 the caller does not ask (RFC 768).
                if stored == 0 || !verifies(pseudo, nh, datagram) {
                    v = Verified::Bad(dissect::bad_cksum(pseudo, nh, datagram, stored));
                }
            }
            Some((Up::Ports { sport: u16::from_be_bytes([h[0], h[1]]), dport: u16::from_be_bytes([h[2], h[3]]) }, v))
        }
        proto::TCP => {
            let h = body.first_chunk::<20>()?;
            let hl = usize::from(h[12] >> 4) * 4;
            if hl < 20 || hl > body.len() {
                return None;
            }
            let mut v = Verified::Good;
            if verify && !fragment && !verifies(pseudo, nh, body) {
                v = Verified::Bad(dissect::bad_cksum(pseudo, nh, body, u16::from_be_bytes([h[16], h[17]])));
            }
            let up = Up::Tcp {
                sport: u16::from_be_bytes([h[0], h[1]]),
                dport: u16::from_be_bytes([h[2], h[3]]),
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                flags: u16::from_be_bytes([h[12], h[13]]) & 0x0fff,
            };
            Some((up, v))
        }
        _ => None,
    }
}

/// Row `r` for `frame`, if the lean path reads it (see the module doc);
/// false, with no column touched, otherwise.
#[inline]
pub(super) fn row(c: &mut Columns, r: usize, frame: &[u8], linktype: u32, settings: Settings) -> bool {
    let (at, outgoing) = match carried(frame, linktype) {
        Some(Carried::Ip(at, outgoing)) => (at, outgoing),
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
        Some(6) => ip6(c, r, packet, at, outgoing, settings),
        Some(4) => ip4(c, r, packet, outgoing, settings.verify_cksum),
        // What `dissect::dissect_to` answers before any IP parser.
        Some(_) => refused(c, r, at, "IP version is neither 6 nor 4", None),
        None => refused(c, r, at, "IPv6 header (RFC 8200 §3)", Some((40, 0))),
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

/// A reason written on the stack, then into the column at once.
struct Words {
    b: [u8; 160],
    n: usize,
}

impl Words {
    fn new() -> Words {
        Words { b: [0; 160], n: 0 }
    }

    #[inline]
    fn put(&mut self, s: &[u8]) -> &mut Words {
        let end = self.n + s.len();
        if let Some(d) = self.b.get_mut(self.n..end) {
            d.copy_from_slice(s);
            self.n = end;
        }
        self
    }

    /// `n` in decimal.
    #[inline]
    fn dec(&mut self, mut n: u64) -> &mut Words {
        let mut d = [0u8; 20];
        let mut i = d.len();
        while i > 0 {
            i -= 1;
            if let Some(x) = d.get_mut(i) {
                *x = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(d.get(i..).unwrap_or(&[]))
    }

    /// `v` as four lowercase hexadecimal digits.
    #[inline]
    fn hex4(&mut self, v: u16) -> &mut Words {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.put(&[12u32, 8, 4, 0].map(|k| HEX.get(usize::from((v >> k) as u8 & 0xf)).copied().unwrap_or(b'0')))
    }

    fn as_bytes(&self) -> &[u8] {
        self.b.get(..self.n).unwrap_or(&[])
    }
}

/// A row refused by the IPv6 layer at `at` in the frame (where the IP
/// packet starts) for `why`, with the octets needed and available when it
/// is a truncation: the words of the general path's `Error` (its
/// `Display`: "ipv6 at offset N: why (needs N bytes, M available)").
#[cold]
#[inline(never)]
fn refused(c: &mut Columns, r: usize, at: usize, why: &str, truncated: Option<(u64, u64)>) -> bool {
    c.chain.end(r, false);
    c.verdict.set(r, V_DROP.to_ne_bytes());
    let mut w = Words::new();
    w.put(b"ipv6 at offset ").dec(at as u64).put(b": ").put(why.as_bytes());
    if let Some((needed, available)) = truncated {
        w.put(b" (needs ").dec(needed).put(b" bytes, ").dec(available).put(b" available)");
    }
    c.reason.some(r, w.as_bytes());
    true
}

/// Extension headers the lean path reads in one chain at most.
const LEAN_CHAIN: usize = 8;

/// The Fragment header's (byte offset of the data, M flag,
/// identification).
type Frag = (u32, bool, u32);

/// The extension-header chain of an IPv6 packet, as far as the lean path
/// reads it.
struct Walked {
    /// The protocols of the chain, `n` of them.
    protos: [u8; LEAN_CHAIN],
    n: usize,
    /// The protocol that ends the chain (44 for a non-first fragment's
    /// data) and where it starts in the packet.
    upper: u8,
    off: usize,
    frag: Option<Frag>,
}

/// Whether the options of the Hop-by-Hop (`hbh`) or Destination Options
/// header `hdr` are all ones `ip6_input` passes without a word: Pad1,
/// PadN, a Router Alert of 2 octets (Hop-by-Hop), and unrecognized types
/// whose action is 00 "skip" (RFC 8200 §4.2). A Jumbo Payload, a Home
/// Address (which changes the pseudo-header), any other action and an
/// option overrunning the header are the general path's.
#[inline]
fn options_pass(hdr: &[u8], hbh: bool) -> bool {
    let mut i = 2;
    while let Some(&t) = hdr.get(i) {
        if t == opt_type::PAD1 {
            i += 1;
            continue;
        }
        let Some(&len) = hdr.get(i + 1) else { return false };
        let end = i + 2 + usize::from(len);
        if end > hdr.len() {
            return false;
        }
        match t {
            opt_type::PADN => {}
            opt_type::ROUTER_ALERT if hbh && len != 2 => return false,
            t if t >> 6 == 0 => {}
            _ => return false,
        }
        i = end;
    }
    true
}

/// The chain of the IPv6 packet `body` (bounded by its Payload Length)
/// whose first header is `nh`, when `exthdr::walk_into` and
/// `ipv6::validate` would accept it as the lean path reads it: a
/// Hop-by-Hop header first only, options that pass (`options_pass`),
/// Routing headers of any type with Segments Left 0 (RFC 8200 §4.4, RFC
/// 5095: the node is their destination, nothing to judge; and the
/// pseudo-header keeps the Destination Address), AH, one Fragment header;
/// after the Fragment header of a first fragment only the upper layer (the
/// headers there are judged after reassembly), after a non-first one
/// nothing (fragment data). At most `LEAN_CHAIN` headers, and `hdrnestlimit`
/// counted as `ip6_input` counts (seed §1.8). None for anything else.
#[inline(never)]
fn walk(body: &[u8], mut nh: u8, hdrnestlimit: u32) -> Option<Walked> {
    let mut w = Walked { protos: [0; LEAN_CHAIN], n: 0, upper: nh, off: 40, frag: None };
    let mut nest = 0u32;
    // Past a first fragment's Fragment header.
    let mut first_fragment = false;
    loop {
        if !(w.n == 0 && nh == proto::HOPOPTS) {
            nest += 1;
            if hdrnestlimit != 0 && nest > hdrnestlimit {
                return None;
            }
        }
        if !is_chain_member(nh) {
            break;
        }
        if first_fragment || w.n == LEAN_CHAIN {
            return None;
        }
        let rest = body.get(w.off..)?;
        let len = match nh {
            proto::FRAGMENT => 8,
            proto::AH => (usize::from(*rest.get(1)?) + 2) * 4,
            _ => (usize::from(*rest.get(1)?) + 1) * 8,
        };
        let hdr = rest.get(..len)?;
        // Every one of them is 8 octets at least.
        let h = hdr.first_chunk::<8>()?;
        match nh {
            proto::HOPOPTS if w.n != 0 => return None,
            proto::HOPOPTS | proto::DSTOPTS if !options_pass(hdr, nh == proto::HOPOPTS) => return None,
            proto::ROUTING if h[3] != 0 => return None,
            proto::FRAGMENT => {
                if w.frag.is_some() {
                    return None;
                }
                let om = u16::from_be_bytes([h[2], h[3]]);
                let (offset, more) = (om >> 3, om & 1 != 0);
                w.frag = Some((u32::from(offset) * 8, more, u32::from_be_bytes([h[4], h[5], h[6], h[7]])));
                if offset != 0 {
                    // Fragment data, not a header (RFC 8200 §4.5).
                    *w.protos.get_mut(w.n)? = nh;
                    w.n += 1;
                    w.off += len;
                    w.upper = proto::FRAGMENT;
                    return Some(w);
                }
                first_fragment = more;
            }
            _ => {}
        }
        *w.protos.get_mut(w.n)? = nh;
        w.n += 1;
        w.off += len;
        nh = h[0];
    }
    w.upper = nh;
    Some(w)
}

#[inline(always)]
fn ip6(c: &mut Columns, r: usize, packet: &[u8], at: usize, outgoing: bool, settings: Settings) -> bool {
    let verify = settings.verify_cksum;
    let Some(h) = packet.first_chunk::<40>() else {
        let why = "with size smaller than minimum: IPv6 header is 40 octets (RFC 8200 §3)";
        return refused(c, r, at, why, Some((40, packet.len() as u64)));
    };
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let nh = h[6];
    let (Ok(src), Ok(dst)) = (<[u8; 16]>::try_from(&h[8..24]), <[u8; 16]>::try_from(&h[24..40])) else { return false };
    // What `ipv6::check_addresses` refuses, and a Payload Length of 0
    // with a Hop-by-Hop header (a jumbogram, or a refusal), are the
    // general path's to tell.
    let (s, d) = (u128::from_be_bytes(src), u128::from_be_bytes(dst));
    if (plen == 0 && nh == proto::HOPOPTS) || s >> 32 == 0xffff || d >> 32 == 0xffff || src[0] == 0xff || d == 0 {
        return false;
    }
    let Some(body) = packet.get(..40 + plen) else {
        // A Hop-by-Hop header is read first (a Jumbo Payload changes the
        // length): the general path's.
        if nh == proto::HOPOPTS {
            return false;
        }
        return refused(c, r, at, "with data size < data length", Some((40 + plen as u64, packet.len() as u64)));
    };
    let w = if is_chain_member(nh) {
        match walk(body, nh, settings.hdrnestlimit) {
            Some(w) => w,
            None => return false,
        }
    } else {
        Walked { protos: [0; LEAN_CHAIN], n: 0, upper: nh, off: 40, frag: None }
    };
    let (upper, off) = (w.upper, w.off);
    // A fragment (not an atomic one): its upper layer is read, not
    // verified; past a non-first one's Fragment header is data.
    let fragment = w.frag.is_some_and(|(o, m, _)| o != 0 || m);
    let data = body.get(off..).unwrap_or(&[]);
    let pseudo = Pseudo::V6 { src: Ipv6Addr::from(src), dst: Ipv6Addr::from(dst) };
    let up = match upper {
        _ if w.frag.is_some_and(|(o, _, _)| o != 0) => Some((Up::None, Verified::Good)),
        proto::UDP | proto::TCP => transport(upper, data, verify, fragment, &pseudo),
        proto::ICMPV6 => {
            let Some(&[icmp_type, code]) = data.first_chunk::<2>() else { return false };
            if data.len() < 4 {
                return false;
            }
            let v = if verify && !fragment && !pseudo.verify(upper, data) { Verified::Bad(None) } else { Verified::Good };
            // NS, NA and Redirect carry their target after 4 reserved
            // octets (RFC 4861 §4.3-4.5), read from the frame as the
            // general path does.
            let target = if (135..=137).contains(&icmp_type) {
                packet.get(off + 8..off + 24).and_then(|t| <[u8; 16]>::try_from(t).ok())
            } else {
                None
            };
            Some((Up::Icmp { icmp_type, code, target }, v))
        }
        proto::ESP => Some((Up::Esp(be32(packet, off).zip(be32(packet, off + 4))), Verified::Good)),
        _ => Some((Up::None, Verified::Good)),
    };
    let Some((up, v)) = up else { return false };
    c.ip_version.set(r, [6]);
    c.src.set(r, src);
    c.dst.set(r, dst);
    c.hop_limit.set(r, [h[7]]);
    c.traffic_class.set(r, [(h[0] << 4) | (h[1] >> 4)]);
    c.flow_label.set(r, (u32::from_be_bytes([0, h[1], h[2], h[3]]) & 0x000f_ffff).to_ne_bytes());
    c.next_header.set(r, [nh]);
    for &p in w.protos.get(..w.n).unwrap_or(&[]) {
        c.chain.data.push(p);
    }
    c.chain.end(r, true);
    c.upper_proto.set(r, [upper]);
    c.packet_len.set(r, (40 + plen as u64).to_ne_bytes());
    let checked = verify && !fragment && matches!(upper, proto::UDP | proto::TCP | proto::ICMPV6);
    finish(c, r, up, checked, w.frag, v, outgoing);
    true
}

#[inline(always)]
fn ip4(c: &mut Columns, r: usize, packet: &[u8], outgoing: bool, verify: bool) -> bool {
    let Some(h) = packet.first_chunk::<20>() else { return false };
    let hl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // A lying IHL, Total Length or header checksum: the general path's.
    // Options are not read (nor by the general dissection), only
    // checksummed with the header.
    if h[0] >> 4 != 4 || hl < 20 || total < hl || total > packet.len() {
        return false;
    }
    let Some(header) = packet.get(..hl) else { return false };
    if cksum::ip_cksum(header) != 0 {
        return false;
    }
    let protocol = h[9];
    let src = [h[12], h[13], h[14], h[15]];
    let dst = [h[16], h[17], h[18], h[19]];
    let Some(body) = packet.get(hl..total) else { return false };
    let fo = u16::from_be_bytes([h[6], h[7]]);
    let (offset, more) = (fo & 0x1fff, fo & 0x2000 != 0);
    let frag = (more || offset != 0).then_some((u32::from(offset) * 8, more, u32::from(u16::from_be_bytes([h[4], h[5]]))));
    let fragment = frag.is_some();
    let pseudo = Pseudo::V4 { src: src.into(), dst: dst.into() };
    let up = match protocol {
        _ if offset != 0 => Some((Up::None, Verified::Good)),
        // A zero UDP checksum over IPv4 is "none" and passes (RFC 768).
        proto::UDP if be16(body, 6) == Some(0) => transport(protocol, body, false, fragment, &pseudo),
        proto::UDP | proto::TCP => transport(protocol, body, verify, fragment, &pseudo),
        proto::ICMP => {
            let Some(&[icmp_type, code]) = body.first_chunk::<2>() else { return false };
            if body.len() < 4 {
                return false;
            }
            let v = if verify && !fragment && cksum::ip_cksum(body) != 0 { Verified::Bad(None) } else { Verified::Good };
            Some((Up::Icmp { icmp_type, code, target: None }, v))
        }
        proto::ESP => Some((Up::Esp(be32(packet, hl).zip(be32(packet, hl + 4))), Verified::Good)),
        // ICMPv6 over IPv4 is read as ICMPv6 and never verified: rare.
        proto::ICMPV6 => None,
        _ => Some((Up::None, Verified::Good)),
    };
    let Some((up, v)) = up else { return false };
    c.ip_version.set(r, [4]);
    c.src.set(r, super::v4_mapped(&src));
    c.dst.set(r, super::v4_mapped(&dst));
    c.hop_limit.set(r, [h[8]]);
    c.traffic_class.set(r, [h[1]]);
    c.next_header.set(r, [protocol]);
    c.chain.end(r, true);
    c.upper_proto.set(r, [if offset != 0 { proto::FRAGMENT } else { protocol }]);
    c.packet_len.set(r, (total as u64).to_ne_bytes());
    let checked = verify && !fragment && matches!(protocol, proto::UDP | proto::TCP | proto::ICMP);
    finish(c, r, up, checked, frag, v, outgoing);
    true
}

/// The upper-layer and fragment columns, the checksum (verified when
/// `checked`, as `v` says) and the verdict: `ok`, or for a bad checksum
/// "cksum bad" ("offload" when a packet the host sent carries zero, or
/// the pseudo-header sum offload leaves) with its reason.
#[inline(always)]
fn finish(c: &mut Columns, r: usize, up: Up, checked: bool, frag: Option<Frag>, v: Verified, outgoing: bool) {
    if let Some((off, more, id)) = frag {
        c.frag_offset.set(r, off.to_ne_bytes());
        c.frag_more.put(r, Some(more));
        c.frag_id.set(r, id.to_ne_bytes());
    }
    match up {
        Up::None => {}
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
    match v {
        Verified::Good => {
            c.cksum_ok.put(r, checked.then_some(true));
            c.verdict.set(r, V_OK.to_ne_bytes());
            c.reason.end(r, false);
        }
        Verified::Bad(b) => cksum_bad(c, r, b, outgoing),
    }
}

/// The checksum columns of a row whose checksum is bad, in the words of
/// the general path (`Builder::ip_row`).
#[cold]
#[inline(never)]
fn cksum_bad(c: &mut Columns, r: usize, b: Option<BadCksum>, outgoing: bool) {
    c.cksum_ok.put(r, Some(false));
    let offload = b.is_some_and(|b| b.offload || (b.stored == 0 && outgoing));
    c.verdict.set(r, (if offload { V_OFFLOAD } else { V_CKSUM }).to_ne_bytes());
    let mut w = Words::new();
    w.put(b"cksum BAD");
    if let Some(b) = b {
        w.put(b" 0x").hex4(b.stored).put(b", should be 0x").hex4(b.expected);
    }
    c.reason.some(r, w.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::super::{Builder, Columns};
    use super::super::sample::{ah, echo, esp, frag, framed, link_frames, ns, opts_hdr, routing, tcp, udp, v4, v4_with, v6, v6_ext, D6, S6};
    use crate::wire::capfile::{pcap_header, Reader};
    use crate::wire::dissect::Settings;

    /// IP packets of every kind the lean path reads, and a few it leaves,
    /// with whether it reads them (with checksums verified).
    fn kinds() -> Vec<(Vec<u8>, bool)> {
        let (tcp, ns, echo, esp) = (tcp(), ns(), echo(128, 5), esp());
        // A UDP header whose Length (48) covers more than the first
        // fragment holds.
        let udp_head = udp(40)[..24].to_vec();
        let mut mld = vec![143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0xff, 2];
        mld.extend_from_slice(&[0; 13]);
        mld.push(0xfb);
        let igmp = vec![0x16, 0, 0xfa, 0x04, 239, 255, 255, 250];
        // Bad checksums: a changed octet, zero (the general path tells
        // "offload" from "cksum bad" by the link header), and the
        // pseudo-header sum checksum offload leaves in a TCP segment.
        let flip = |mut p: Vec<u8>| {
            let last = p.len() - 1;
            p[last] ^= 0x5a;
            p
        };
        let mut offload = tcp.clone();
        let partial = crate::cksum::in6_pseudo(&S6.into(), &D6.into(), 6, offload.len() as u64).unwrap().fold();
        offload[16..18].copy_from_slice(&partial.to_be_bytes());
        // Refusals of the IPv6 layer: a header cut short, a Payload Length
        // past the frame, version 7.
        let mut lying = v6(17, udp(5), Some(6));
        lying[4..6].copy_from_slice(&500u16.to_be_bytes());
        let mut v7 = v6(17, udp(5), Some(6));
        v7[0] = 0x70;
        vec![
            (v6(17, udp(5), Some(6)), true),
            // A zero UDP checksum over IPv6 is bad (RFC 8200 §8.1).
            (v6(17, udp(0), None), true),
            (flip(v6(17, udp(5), Some(6))), true),
            (v6(6, tcp.clone(), None), true),
            (v6(6, offload, None), true),
            (flip(v6(58, echo.clone(), Some(2))), true),
            (flip(v4(17, udp(3), Some(6))), true),
            (v4(6, tcp.clone(), None), true),
            (flip(v4(1, echo.clone(), Some(2))), true),
            (v6(17, udp(5), Some(6))[..20].to_vec(), true),
            (lying, true),
            (v7, true),
            (v6(6, tcp.clone(), Some(16)), true),
            (v6(58, ns, Some(2)), true),
            (v6(58, echo.clone(), Some(2)), true),
            (v6(50, esp.clone(), None), true),
            (v6(59, vec![], None), true),
            (v4(17, udp(3), Some(6)), true),
            (v4(17, udp(3), None), true),
            (v4(6, tcp.clone(), Some(16)), true),
            (v4(1, echo.clone(), Some(2)), true),
            (v4(50, esp.clone(), None), true),
            // Hop-by-Hop (PadN) and Destination Options (PadN).
            (v6_ext(0, &[opts_hdr(60, &[]), opts_hdr(58, &[])], 58, echo.clone(), Some(2)), true),
            // An MLDv2 Report behind a Router Alert (RFC 3810 §5).
            (v6_ext(0, &[opts_hdr(58, &[5, 2, 0, 0])], 58, mld, Some(2)), true),
            // An unrecognized option: action 00 skips, 10 discards.
            (v6_ext(60, &[opts_hdr(17, &[0x1e, 2, 0xaa, 0xbb])], 17, udp(4), Some(6)), true),
            (v6_ext(60, &[opts_hdr(17, &[0x9e, 2, 0xaa, 0xbb])], 17, udp(4), Some(6)), false),
            // Routing: type 0 and an SRH with Segments Left 0 are the
            // destination's; an SRH with Segments Left 1 is refused.
            (v6_ext(43, &[routing(6, 0, 0, &[S6])], 6, tcp.clone(), Some(16)), true),
            (v6_ext(43, &[routing(17, 4, 0, &[D6, S6])], 17, udp(4), Some(6)), true),
            (v6_ext(43, &[routing(17, 4, 1, &[D6, S6])], 17, udp(4), Some(6)), false),
            // Fragments: first, later, last, atomic (RFC 6946).
            (v6_ext(44, &[frag(17, 0, true, 7)], 17, udp_head.clone(), None), true),
            (v6_ext(44, &[frag(17, 3, true, 7)], 17, vec![0x61; 16], None), true),
            (v6_ext(44, &[frag(17, 5, false, 7)], 17, vec![0x61; 12], None), true),
            (v6_ext(44, &[frag(17, 0, false, 9)], 17, udp(3), Some(6)), true),
            (v6_ext(0, &[opts_hdr(44, &[]), frag(58, 0, true, 11)], 58, echo.clone(), None), true),
            // Headers after a first fragment's Fragment header; a nested
            // Fragment header.
            (v6_ext(44, &[frag(60, 0, true, 1), opts_hdr(17, &[])], 17, udp(4), None), false),
            (v6_ext(44, &[frag(44, 0, false, 1), frag(17, 0, false, 2)], 17, udp(4), Some(6)), false),
            // AH (RFC 4302) before TCP and before ESP.
            (v6_ext(51, &[ah(6)], 6, tcp.clone(), Some(16)), true),
            (v6_ext(51, &[ah(50)], 50, esp.clone(), None), true),
            // Hop-by-Hop not first (RFC 8200 §4.1).
            (v6_ext(60, &[opts_hdr(0, &[]), opts_hdr(17, &[])], 17, udp(4), Some(6)), false),
            // IPv4 with a Router Alert option (RFC 2113) to IGMP; TCP
            // after NOPs; fragments: first, later, last.
            (v4_with(2, &[0x94, 4, 0, 0], 0, igmp, None), true),
            (v4_with(6, &[1, 1, 1, 0], 0x4000, tcp, Some(16)), true),
            (v4_with(17, &[], 0x2000, udp_head, None), true),
            (v4_with(17, &[], 0x2003, vec![0x62; 16], None), true),
            (v4_with(6, &[], 6, vec![0x62; 12], None), true),
            (v4_with(1, &[], 0x2000, echo, None), true),
        ]
    }

    fn packets() -> Vec<Vec<u8>> {
        kinds().into_iter().map(|(p, _)| p).collect()
    }

    fn columns(linktype: u32, frames: &[Vec<u8>], lean: bool, verify: bool) -> Columns {
        columns_limit(linktype, frames, lean, verify, 50)
    }

    fn columns_limit(linktype: u32, frames: &[Vec<u8>], lean: bool, verify: bool, hdrnestlimit: u32) -> Columns {
        let mut file = pcap_header(linktype, false).to_vec();
        for f in frames {
            file.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            file.extend_from_slice(&(f.len() as u32).to_le_bytes());
            file.extend_from_slice(&(f.len() as u32).to_le_bytes());
            file.extend_from_slice(f);
        }
        let mut r = Reader::default();
        let mut b = Builder::new(Settings { hdrnestlimit, verify_cksum: verify });
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
        let settings = Settings { hdrnestlimit: 50, verify_cksum: true };
        for (i, (p, lean)) in kinds().iter().enumerate() {
            assert_eq!(super::row(&mut c, 0, &framed(1, p), 1, settings), *lean, "packet {i}");
        }
        for (i, f) in link_frames().iter().enumerate() {
            // All but the tagged frame.
            assert_eq!(super::row(&mut c, 0, f, 1, settings), i != 4, "link frame {i}");
        }
    }

    /// `hdrnestlimit` (seed §1.8) counted as `ip6_input` counts: every
    /// limit from none to past the longest chain gives the same columns
    /// both ways, whether the limit refuses a packet or not.
    #[test]
    fn hdrnestlimit_as_the_general_dissection() {
        let frames: Vec<Vec<u8>> = packets().iter().map(|p| framed(101, p)).collect();
        let mut refused = 0;
        for limit in 0..6 {
            for verify in [true, false] {
                let lean = columns_limit(101, &frames, true, verify, limit);
                assert_eq!(lean, columns_limit(101, &frames, false, verify, limit), "limit {limit}");
                refused += lean.verdict.data.iter().filter(|&&v| v == super::super::V_DROP as u8).count();
            }
        }
        assert!(refused > 0);
    }
}
