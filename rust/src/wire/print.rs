//! `kame dissect`'s lines: one tcpdump-like line per frame with the
//! verdict of `ip6_input`'s checks at its end, written straight into a
//! `String` (no allocation per packet once it has grown).
//!
//! The words follow tcpdump's (print-ip6.c, print-icmp6.c, print-icmp.c,
//! print-igmp.c, print-arp.c): `IP6 src.port > dst.port: UDP, length N`,
//! `ICMP6, echo request, id N, seq N, length N`, `who has T`, `tgt is T`,
//! `mtu N`, `N group record(s)`, `ICMP echo request, id N, seq N, length
//! N`, `igmp v3 report, N group record(s)`. Then kame's own: the header
//! chain, jumbograms, router alerts, fragments and SRHs in parentheses, the
//! packet an IP-in-IP packet carries, and `[verdict]`: `ok`, `cksum BAD`
//! (with the value due and the offload hint), `DROP: the refusal`, `not IP`.
//! With `verbose` the hop limit, ND options, RA fields, MLD records.

use core::fmt::Write;
use core::net::Ipv4Addr;

use crate::wire::dissect::{self, Link, LinkHeader, LinkType, Net, Settings, Summary, Upper};
use crate::wire::exthdr::Chain;
use crate::wire::{arp, ethernet, proto, srh};

/// What the options of `kame dissect` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub settings: Settings,
    /// -v (1), -vv (2).
    pub verbose: u8,
    /// -e: the link header.
    pub link: bool,
    /// -q: fewer words.
    pub quiet: bool,
}

/// The verdict of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    CksumBad { offload: bool },
    Drop,
    NotIp,
}

/// The facts of the last frame printed, for JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub summary: Option<Summary>,
    pub verdict: Verdict,
}

/// Nested IP-in-IP packets shown after the outer one.
pub const MAX_INNER: usize = 4;

const TCP_FLAGS: &[u8; 8] = b"FSRPAUEC";

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "HBH",
        1 => "ICMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        41 => "IP6",
        43 => "RT",
        44 => "FRAG",
        50 => "ESP",
        51 => "AH",
        58 => "ICMP6",
        59 => "NONE",
        60 => "DST",
        108 => "IPCOMP",
        _ => return None,
    })
}

fn icmp6_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        143 => "multicast listener report v2",
        _ => return None,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// An IPv6 address shown as [`push_ip6`] writes it.
struct A6([u8; 16]);

impl core::fmt::Display for A6 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = String::with_capacity(40);
        push_ip6(&mut s, self.0);
        f.write_str(&s)
    }
}

fn addr6(b: &[u8], at: usize) -> Option<A6> {
    let a: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(A6(a))
}

fn addr4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(n: u16) -> char {
    char::from(HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0'))
}

fn push_dec(out: &mut String, v: u32) {
    let mut div = 1_000_000_000u32;
    while div > 1 && v / div == 0 {
        div /= 10;
    }
    while div > 0 {
        out.push(char::from(b'0' + ((v / div) % 10) as u8));
        div /= 10;
    }
}

/// An IPv4 address, dotted decimal.
pub fn push_ip4(out: &mut String, a: [u8; 4]) {
    for (i, o) in a.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_dec(out, u32::from(*o));
    }
}

/// An IPv6 address as inet_ntop (and so tcpdump) writes it: RFC 5952's
/// zero compression (the first longest run of two or more zero groups),
/// lower-case hex, and the last 32 bits dotted for IPv4-mapped and
/// IPv4-compatible addresses.
pub fn push_ip6(out: &mut String, a: [u8; 16]) {
    let mut w = [0u16; 8];
    for (g, c) in w.iter_mut().zip(a.chunks_exact(2)) {
        *g = c.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b));
    }
    let (mut base, mut len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w.get(i) == Some(&0) {
            let start = i;
            while i < 8 && w.get(i) == Some(&0) {
                i += 1;
            }
            if i - start > len {
                (base, len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    if len < 2 {
        base = usize::MAX;
    }
    for (i, &g) in w.iter().enumerate() {
        if base != usize::MAX && i >= base && i < base + len {
            if i == base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && base == 0 && (len == 6 || (len == 5 && w.get(5) == Some(&0xffff))) {
            push_ip4(out, [a[12], a[13], a[14], a[15]]);
            return;
        }
        let mut started = false;
        for shift in [12u16, 8, 4, 0] {
            let n = (g >> shift) & 0xf;
            if n != 0 || started || shift == 0 {
                out.push(hex_digit(n));
                started = true;
            }
        }
    }
    if base != usize::MAX && base + len == 8 {
        out.push(':');
    }
}

/// A MAC (or other link-layer) address, `02:00:00:00:00:01`.
pub fn mac(out: &mut String, b: &[u8]) {
    for (i, o) in b.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(hex_digit(u16::from(o >> 4)));
        out.push(hex_digit(u16::from(*o)));
    }
}

/// Scratch space reused for every frame.
#[derive(Debug, Default)]
pub struct Printer {
    chain: Chain,
}

fn direction(out: &mut String, h: &LinkHeader) {
    if let LinkHeader::Sll(s) = h {
        let w = match s.pkttype {
            0 => "In ",
            1 => "B  ",
            2 => "M  ",
            3 => "P  ",
            4 => "Out",
            n => {
                let _ = write!(out, "pkttype {n} ");
                return;
            }
        };
        out.push_str(w);
        out.push(' ');
    }
}

fn ethertype_name(t: u16) -> &'static str {
    match t {
        0x0800 => "IPv4",
        0x86dd => "IPv6",
        0x0806 => "ARP",
        0x8035 => "Reverse ARP",
        0x8100 => "802.1Q",
        0x88cc => "LLDP",
        _ => "Unknown",
    }
}

/// -e: the link header as tcpdump shows it.
fn link_words(out: &mut String, l: &Link, wirelen: u32) {
    match &l.header {
        LinkHeader::Ethernet(e) => {
            mac(out, &e.src);
            out.push_str(" > ");
            mac(out, &e.dst);
            for v in e.vlans.iter().take(usize::from(e.vlan_count)) {
                let _ = write!(out, ", vlan {v}");
            }
            let _ = write!(out, ", ethertype {} (0x{:04x}), length {wirelen}: ", ethertype_name(e.ethertype), e.ethertype);
        }
        LinkHeader::Sll(s) => {
            if let Some(i) = s.ifindex {
                let _ = write!(out, "ifindex {i} ");
            }
            let n = usize::from(s.addr_len).min(s.addr.len());
            mac(out, s.addr.get(..n).unwrap_or(&[]));
            let _ = write!(out, " ethertype {} (0x{:04x}), length {wirelen}: ", ethertype_name(s.protocol), s.protocol);
        }
        LinkHeader::Null(n) => {
            let _ = write!(out, "AF {} ({}), length {wirelen}: ", n.family, n.family);
        }
        LinkHeader::None => {}
    }
}

impl Printer {
    /// The verdict of one frame alone (what [`Printer::frame`] ends with),
    /// for `-w`, which prints no line.
    pub fn verdict(&mut self, frame: &[u8], lt: LinkType, o: &Options) -> Verdict {
        let Ok(l) = dissect::link(frame, lt) else { return Verdict::Drop };
        if lt == LinkType::Raw || l.is_ip() {
            let mut s = Summary::EMPTY;
            return match dissect::dissect_to(frame, lt, o.settings, &mut self.chain, &mut s) {
                Err(_) => Verdict::Drop,
                Ok(()) => match (s.cksum_ok, s.cksum_bad) {
                    (Some(false), b) => Verdict::CksumBad { offload: b.is_some_and(|b| b.offload) },
                    _ => Verdict::Ok,
                },
            };
        }
        if l.is_arp() {
            return match arp::Repr::parse(frame.get(l.payload_offset..).unwrap_or(&[])) {
                Ok(_) => Verdict::Ok,
                Err(_) => Verdict::Drop,
            };
        }
        Verdict::NotIp
    }

    /// The line (and -v lines) of one frame, from after the frame number
    /// and time to the newline (not written).
    pub fn frame(&mut self, out: &mut String, frame: &[u8], wirelen: u32, lt: LinkType, o: &Options) -> Facts {
        let l = match dissect::link(frame, lt) {
            Ok(l) => l,
            Err(e) => {
                let _ = write!(out, "[DROP: {e}]");
                return Facts { summary: None, verdict: Verdict::Drop };
            }
        };
        direction(out, &l.header);
        if o.link {
            link_words(out, &l, wirelen);
        }
        if lt == LinkType::Raw || l.is_ip() {
            let mut s = Summary::EMPTY;
            if let Err(e) = dissect::dissect_to(frame, lt, o.settings, &mut self.chain, &mut s) {
                let _ = write!(out, "[DROP: {e}]");
                return Facts { summary: None, verdict: Verdict::Drop };
            }
            let chain = core::mem::take(&mut self.chain);
            describe(out, frame, &s, &chain, o, 0);
            self.chain = chain;
            out.push_str("  [");
            let verdict = match (s.cksum_ok, s.cksum_bad) {
                (Some(false), Some(b)) => {
                    let _ = write!(out, "cksum BAD 0x{:04x}, should be 0x{:04x}", b.stored, b.expected);
                    if b.offload {
                        let p = if s.upper_proto == proto::TCP { "TCP" } else { "UDP" };
                        let _ = write!(out, " (maybe caused by {p} checksum offload?)");
                    }
                    Verdict::CksumBad { offload: b.offload }
                }
                (Some(false), None) => {
                    out.push_str("cksum BAD");
                    Verdict::CksumBad { offload: false }
                }
                _ => {
                    out.push_str("ok");
                    Verdict::Ok
                }
            };
            if s.trailing != 0 {
                let _ = write!(out, ", {} trailing octets", s.trailing);
            }
            out.push(']');
            return Facts { summary: Some(s), verdict };
        }
        let payload = frame.get(l.payload_offset..).unwrap_or(&[]);
        if l.is_arp() {
            return match arp::Repr::parse(payload) {
                Err(e) => {
                    let _ = write!(out, "[DROP: {}]", e.at(l.payload_offset as u64));
                    Facts { summary: None, verdict: Verdict::Drop }
                }
                Ok(a) => {
                    describe_arp(out, &a, l.ethertype == Some(ethernet::ethertype::RARP), payload.len());
                    out.push_str("  [ok]");
                    Facts { summary: None, verdict: Verdict::Ok }
                }
            };
        }
        let n = payload.len();
        let _ = match (l.header, l.ethertype) {
            (LinkHeader::Null(h), _) => write!(out, "AF {}, length {n}", h.family),
            (_, None) => write!(out, "not IP, length {n}"),
            (LinkHeader::Ethernet(_), Some(t)) if t < 0x0600 => write!(out, "802.3, length {n}"),
            (_, Some(t)) if t < 0x0600 => write!(out, "link protocol 0x{t:04x}, length {n}"),
            (_, Some(t)) => write!(out, "ethertype 0x{t:04x}, length {n}"),
        };
        out.push_str("  [not IP]");
        Facts { summary: None, verdict: Verdict::NotIp }
    }
}

/// tcpdump -n's words for an ARP or RARP packet (RFC 826, 903, 2390).
fn describe_arp(out: &mut String, a: &arp::Repr, rarp: bool, length: usize) {
    let (tpa, spa) = (a.target_protocol_addr, a.sender_protocol_addr);
    let (tha, sha) = (&a.target_hardware_addr, &a.sender_hardware_addr);
    out.push_str(if rarp { "RARP, " } else { "ARP, " });
    let _ = match u16::from(a.operation) {
        1 => {
            let _ = write!(out, "Request who-has {tpa}");
            if tha.iter().any(|&b| b != 0) {
                out.push_str(" (");
                mac(out, tha);
                out.push(')');
            }
            write!(out, " tell {spa}")
        }
        2 => {
            let _ = write!(out, "Reply {spa} is-at ");
            mac(out, sha);
            Ok(())
        }
        3 => {
            out.push_str("Reverse Request who-is ");
            mac(out, tha);
            out.push_str(" tell ");
            mac(out, sha);
            Ok(())
        }
        4 => {
            out.push_str("Reverse Reply ");
            mac(out, tha);
            write!(out, " at {tpa}")
        }
        8 => {
            out.push_str("InARP request who-is ");
            mac(out, tha);
            let _ = write!(out, " tell {spa} (");
            mac(out, sha);
            write!(out, ")")
        }
        9 => {
            out.push_str("InARP reply ");
            mac(out, sha);
            write!(out, " at {spa}")
        }
        op => {
            let _ = write!(out, "op {op}, sender {spa} (");
            mac(out, sha);
            let _ = write!(out, "), target {tpa} (");
            mac(out, tha);
            write!(out, ")")
        }
    };
    let _ = write!(out, ", length {length}");
    if a.is_probe() {
        out.push_str(" (probe)");
    } else if a.is_gratuitous() {
        out.push_str(" (gratuitous)");
    }
}

/// Octets `from..to` of `frame`, clamped.
fn slice(frame: &[u8], from: u64, to: u64) -> &[u8] {
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(frame.len());
    let to = usize::try_from(to).unwrap_or(usize::MAX).min(frame.len()).max(from);
    frame.get(from..to).unwrap_or(&[])
}

fn ip(out: &mut String, s: &Summary, src: bool) {
    match &s.net {
        Net::V6 { src: a, dst: b, .. } => push_ip6(out, if src { *a } else { *b }),
        Net::V4 { src: a, dst: b, .. } => push_ip4(out, if src { *a } else { *b }),
    }
}

/// The line of an accepted packet (and of the packet it carries).
fn describe(out: &mut String, frame: &[u8], s: &Summary, chain: &Chain, o: &Options, depth: usize) {
    let v6 = matches!(s.net, Net::V6 { .. });
    let end = s.net_offset.saturating_add(s.packet_len);
    let upper_bytes = slice(frame, s.upper_offset, end);
    let payload_len = slice(frame, s.payload_offset, end).len();
    let up = s.upper_proto;
    out.push_str(if v6 { "IP6 " } else { "IP " });
    ip(out, s, true);
    let ports = match s.upper {
        Upper::Udp { sport, dport } | Upper::Tcp { sport, dport, .. } => Some((sport, dport)),
        _ => None,
    };
    if let Some((sp, _)) = ports {
        out.push('.');
        push_dec(out, u32::from(sp));
    }
    out.push_str(" > ");
    ip(out, s, false);
    if let Some((_, dp)) = ports {
        out.push('.');
        push_dec(out, u32::from(dp));
    }
    out.push_str(": ");
    let fragment = match s.net {
        Net::V6 { fragment, .. } => fragment,
        Net::V4 { flags, frag_offset, ident, .. } => {
            (flags & 1 != 0 || frag_offset != 0).then_some((u64::from(frag_offset) * 8, flags & 1 != 0, u32::from(ident)))
        }
    };
    let mut vlines = String::new();
    match s.upper {
        Upper::Icmpv6 { icmp_type, code } if up == proto::ICMPV6 => {
            out.push_str("ICMP6, ");
            match icmp6_name(icmp_type) {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "type {icmp_type}");
                }
            }
            if code != 0 {
                let _ = write!(out, " code {code}");
            }
            if !o.quiet {
                icmp6_words(out, &mut vlines, icmp_type, upper_bytes, o.verbose);
            }
            let _ = write!(out, ", length {}", upper_bytes.len());
        }
        Upper::Icmp { icmp_type, code } if up == proto::ICMP => {
            icmp4_words(out, icmp_type, code, upper_bytes);
            let _ = write!(out, ", length {}", upper_bytes.len());
        }
        Upper::Tcp { seq, ack, flags, window, .. } if up == proto::TCP => {
            if o.quiet {
                let _ = write!(out, "tcp {payload_len}");
            } else {
                out.push_str("TCP, flags [");
                let mut any = false;
                for (i, c) in TCP_FLAGS.iter().enumerate() {
                    if flags & (1 << i) != 0 {
                        out.push(char::from(*c));
                        any = true;
                    }
                }
                if !any {
                    out.push('.');
                }
                let _ = write!(out, "], seq {seq}, ack {ack}, win {window}, length {payload_len}");
            }
        }
        Upper::Udp { .. } if up == proto::UDP => {
            let _ = write!(out, "UDP, length {payload_len}");
        }
        _ if up == proto::FRAGMENT && fragment.is_some() => {
            let (off, more, ident) = fragment.unwrap_or((0, false, 0));
            let _ = write!(out, "frag (id 0x{ident:08x}, offset {off}{}), length {}", if more { ", more" } else { "" }, upper_bytes.len());
        }
        _ if up == 2 && !v6 && !o.quiet && !upper_bytes.is_empty() => {
            igmp_words(out, &mut vlines, upper_bytes, o.verbose);
            let _ = write!(out, ", length {}", upper_bytes.len());
        }
        _ => {
            match proto_name(up) {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "proto {up}");
                }
            }
            let _ = write!(out, ", length {}", upper_bytes.len());
        }
    }
    // kame's own words, in parentheses.
    let mut first = true;
    let mut sep = |out: &mut String| {
        out.push_str(if first { " (" } else { "; " });
        first = false;
    };
    if !o.quiet {
        if !chain.headers.is_empty() {
            sep(out);
            out.push_str("chain ");
            for (i, h) in chain.headers.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match proto_name(h.proto) {
                    Some(n) => out.push_str(n),
                    None => {
                        let _ = write!(out, "{}", h.proto);
                    }
                }
            }
        }
        if let Net::V6 { jumbo, router_alert, hop_limit, .. } = s.net {
            if let Some(j) = jumbo {
                sep(out);
                let _ = write!(out, "jumbo {j}");
            }
            if let Some(r) = router_alert {
                sep(out);
                let _ = write!(out, "router-alert {r}");
            }
            if o.verbose > 0 {
                sep(out);
                let _ = write!(out, "hlim {hop_limit}");
            }
        }
        if let Some((off, more, ident)) = fragment {
            if up != proto::FRAGMENT {
                sep(out);
                let _ = write!(out, "frag id 0x{ident:08x} off {off}{}", if more { " M" } else { "" });
            }
        }
        for h in chain.headers.iter().filter(|h| h.proto == proto::ROUTING) {
            let raw = slice(frame, h.offset, h.offset.saturating_add(h.len));
            if raw.get(2) != Some(&4) {
                continue;
            }
            sep(out);
            srh_words(out, raw);
        }
    }
    if !first {
        out.push(')');
    }
    if up == proto::IPV4 || up == proto::IPV6 {
        inner(out, upper_bytes, o, depth);
    }
    out.push_str(&vlines);
    if o.verbose > 0 && fragment.is_some_and(|(off, m, _)| off == 0 && m) {
        let at = match up {
            proto::ICMPV6 => Some(2),
            proto::UDP => Some(6),
            proto::TCP => Some(16),
            _ => None,
        };
        if let Some(ck) = at.and_then(|a| be16(upper_bytes, a)) {
            let _ = write!(out, "\n\tchecksum 0x{ck:04x} unverified (fragmented datagram)");
        }
    }
}

/// The SRH (RFC 8754) as tcpdump shows it.
fn srh_words(out: &mut String, raw: &[u8]) {
    let p = match srh::Packet::new_checked(raw) {
        Ok(p) => p,
        Err(e) => {
            let _ = write!(out, "srh refused: {e}");
            return;
        }
    };
    let _ = write!(out, "srh (segleft={}, last-entry={}, tag={}, flags=0x{:02x}", p.segments_left(), p.last_entry(), p.tag(), p.flags());
    for (i, seg) in p.segments().enumerate() {
        let _ = write!(out, ", [{i}]{}", A6(seg));
    }
    for t in p.tlvs() {
        let Ok(t) = t else { break };
        match t.tlv_type {
            0 | 4 => {}
            5 => {
                let key = be32(t.data, 2).unwrap_or(0);
                let d = t.data.first().is_some_and(|b| b & 0x80 != 0);
                let _ = write!(out, ", hmac key-id {key}{}", if d { " D" } else { "" });
            }
            ty => {
                let _ = write!(out, ", tlv type {ty} len {}", t.data.len());
            }
        }
    }
    out.push(')');
}

/// ": " and the line of the packet an IP-in-IP packet carries.
fn inner(out: &mut String, bytes: &[u8], o: &Options, depth: usize) {
    if depth + 1 >= MAX_INNER {
        out.push_str(": (more tunnels)");
        return;
    }
    let mut chain = Chain::default();
    let mut s = Summary::EMPTY;
    let settings = Settings { hdrnestlimit: o.settings.hdrnestlimit, verify_cksum: true };
    if let Err(e) = dissect::dissect_to(bytes, LinkType::Raw, settings, &mut chain, &mut s) {
        let _ = write!(out, ": [inner packet refused: {e}]");
        return;
    }
    out.push_str(": ");
    describe(out, bytes, &s, &chain, o, depth + 1);
    if s.cksum_ok == Some(false) {
        out.push_str(" [inner cksum BAD]");
    }
}

fn icmp6_words(out: &mut String, v: &mut String, t: u8, m: &[u8], verbose: u8) {
    match t {
        128 | 129 => {
            if let (Some(id), Some(seq)) = (be16(m, 4), be16(m, 6)) {
                let _ = write!(out, ", id {id}, seq {seq}");
            }
        }
        2 => {
            if let Some(mtu) = be32(m, 4) {
                let _ = write!(out, ", mtu {mtu}");
            }
        }
        4 if verbose > 0 => {
            if let Some(ptr) = be32(m, 4) {
                let _ = write!(out, ", pointer {ptr}");
            }
        }
        135 => {
            if let Some(a) = addr6(m, 8) {
                let _ = write!(out, ", who has {a}");
                if verbose > 0 {
                    nd_options(v, m.get(24..).unwrap_or(&[]));
                }
            }
        }
        136 => {
            if let Some(a) = addr6(m, 8) {
                let _ = write!(out, ", tgt is {a}");
                if verbose > 0 {
                    let f = m.get(4).copied().unwrap_or(0);
                    let flags = [(0x80, "router"), (0x40, "solicited"), (0x20, "override")];
                    let names: Vec<&str> = flags.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
                    let _ = write!(v, "\n\t  Flags [{}]", if names.is_empty() { "none".to_string() } else { names.join(", ") });
                    nd_options(v, m.get(24..).unwrap_or(&[]));
                }
            }
        }
        133 if verbose > 0 => nd_options(v, m.get(8..).unwrap_or(&[])),
        134 if verbose > 0 => {
            if let (Some(&hlim), Some(&f), Some(lt), Some(reach), Some(retrans)) = (m.get(4), m.get(5), be16(m, 6), be32(m, 8), be32(m, 12)) {
                let flags = [(0x80, "managed"), (0x40, "other stateful"), (0x20, "home agent"), (0x08, "proxy")];
                let names: Vec<&str> = flags.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
                let pref = ["medium", "high", "reserved", "low"].get(usize::from((f >> 3) & 3)).copied().unwrap_or("medium");
                let _ = write!(
                    v,
                    "\n\thop limit {hlim}, Flags [{}], pref {pref}, router lifetime {lt}s, reachable time {reach}ms, retrans timer {retrans}ms",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                );
                nd_options(v, m.get(16..).unwrap_or(&[]));
            }
        }
        137 if verbose > 0 => {
            if let (Some(tgt), Some(dst)) = (addr6(m, 8), addr6(m, 24)) {
                let _ = write!(v, "\n\t  target {tgt}, destination {dst}");
                nd_options(v, m.get(40..).unwrap_or(&[]));
            }
        }
        130..=132 => {
            if let Some(g) = addr6(m, 8) {
                if verbose > 0 {
                    let _ = write!(v, "\n\t  max resp delay: {} addr: {g}", be16(m, 4).unwrap_or(0));
                }
            }
        }
        143 => {
            let Some(n) = be16(m, 6) else { return };
            let _ = write!(out, ", {n} group record(s)");
            if verbose == 0 {
                return;
            }
            let mut at = 8usize;
            for _ in 0..n {
                let (Some(&rt), Some(&aux), Some(ns), Some(g)) = (m.get(at), m.get(at + 1), be16(m, at + 2), addr6(m, at + 4)) else {
                    let _ = write!(v, "\n\t  [|icmp6]");
                    return;
                };
                let name = ["", "is_in", "is_ex", "to_in", "to_ex", "allow", "block"].get(usize::from(rt)).copied().unwrap_or("");
                let _ = write!(v, "\n\t  [gaddr {g} {} {{ ", if name.is_empty() { "unknown" } else { name });
                for i in 0..usize::from(ns) {
                    match addr6(m, at + 20 + 16 * i) {
                        Some(a) => {
                            let _ = write!(v, "{a} ");
                        }
                        None => break,
                    }
                }
                v.push_str("}]");
                at = at + 20 + 16 * usize::from(ns) + 4 * usize::from(aux);
            }
        }
        _ => {}
    }
}

/// ND options (RFC 4861 §4.6) as tcpdump -v lists them.
fn nd_options(v: &mut String, mut b: &[u8]) {
    while let (Some(&t), Some(&l)) = (b.first(), b.get(1)) {
        let len = usize::from(l) * 8;
        let Some(opt) = b.get(..len).filter(|_| len > 0) else {
            let _ = write!(v, "\n\t  option (type {t}) runs past the message");
            return;
        };
        let name = match t {
            1 => "source link-address",
            2 => "destination link-address",
            3 => "prefix info",
            4 => "redirected header",
            5 => "mtu",
            14 => "nonce",
            24 => "route info",
            25 => "rdnss",
            31 => "dnssl",
            _ => "unknown",
        };
        let _ = write!(v, "\n\t  {name} option ({t}), length {len} ({l}): ");
        let body = opt.get(2..).unwrap_or(&[]);
        match t {
            1 | 2 => mac(v, body.get(..6).unwrap_or(body)),
            3 => {
                if let (Some(&plen), Some(&f), Some(valid), Some(pref), Some(p)) =
                    (opt.get(2), opt.get(3), be32(opt, 4), be32(opt, 8), addr6(opt, 16))
                {
                    let flags: Vec<&str> = [(0x80, "onlink"), (0x40, "auto"), (0x20, "router")]
                        .iter()
                        .filter(|(b, _)| f & b != 0)
                        .map(|(_, n)| *n)
                        .collect();
                    let _ = write!(v, "{p}/{plen}, Flags [{}], valid time {valid}s, pref. time {pref}s", if flags.is_empty() { "none".to_string() } else { flags.join(", ") });
                }
            }
            5 => {
                let _ = write!(v, "{}", be32(opt, 4).unwrap_or(0));
            }
            25 => {
                let _ = write!(v, "lifetime {}s, addr:", be32(opt, 4).unwrap_or(0));
                let mut at = 8;
                while let Some(a) = addr6(opt, at) {
                    let _ = write!(v, " {a}");
                    at += 16;
                }
            }
            _ => {
                for o in body {
                    let _ = write!(v, "{o:02x}");
                }
            }
        }
        b = b.get(len..).unwrap_or(&[]);
    }
}

/// tcpdump's words for an ICMP message (print-icmp.c), without the length.
fn icmp4_words(out: &mut String, t: u8, code: u8, m: &[u8]) {
    out.push_str("ICMP ");
    match t {
        0 | 8 => {
            let _ = write!(out, "echo {}", if t == 8 { "request" } else { "reply" });
            if let (Some(id), Some(seq)) = (be16(m, 4), be16(m, 6)) {
                let _ = write!(out, ", id {id}, seq {seq}");
            }
        }
        3 => {
            // The invoking packet's header says what was unreachable.
            let ip = m.get(8..).unwrap_or(&[]);
            let dst = addr4(ip, 16);
            let hl = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
            let _ = match (code, dst) {
                (0, Some(d)) => write!(out, "net {d} unreachable"),
                (1, Some(d)) => write!(out, "host {d} unreachable"),
                (2, Some(d)) => write!(out, "{d} protocol {} unreachable", ip.get(9).copied().unwrap_or(0)),
                (3, Some(d)) => {
                    let p = match ip.get(9) {
                        Some(17) => "udp",
                        Some(6) => "tcp",
                        _ => "proto",
                    };
                    write!(out, "{d} {p} port {} unreachable", be16(ip, hl + 2).unwrap_or(0))
                }
                (4, Some(d)) => write!(out, "{d} unreachable - need to frag (mtu {})", be16(m, 6).unwrap_or(0)),
                _ => write!(out, "unreachable code {code}"),
            };
        }
        4 => out.push_str("source quench"),
        5 => out.push_str("redirect"),
        11 => out.push_str(if code == 0 { "time exceeded in-transit" } else { "ip reassembly time exceeded" }),
        12 => out.push_str("parameter problem"),
        13 => out.push_str("time stamp request"),
        14 => out.push_str("time stamp reply"),
        _ => {
            let _ = write!(out, "type-#{t}");
        }
    }
}

/// tcpdump's words for IGMP (print-igmp.c), without the length.
fn igmp_words(out: &mut String, v: &mut String, m: &[u8], verbose: u8) {
    let group = addr4(m, 4);
    let _ = match (m.first().copied().unwrap_or(0), group) {
        (0x11, _) if m.len() >= 12 => write!(out, "igmp query v3"),
        (0x11, Some(g)) if m.get(1) == Some(&0) => write!(out, "igmp query v1{}", if g.is_unspecified() { String::new() } else { format!(" [gaddr {g}]") }),
        (0x11, Some(g)) => write!(out, "igmp query v2{}", if g.is_unspecified() { String::new() } else { format!(" [gaddr {g}]") }),
        (0x12, Some(g)) => write!(out, "igmp v1 report {g}"),
        (0x16, Some(g)) => write!(out, "igmp v2 report {g}"),
        (0x17, Some(g)) => write!(out, "igmp leave {g}"),
        (0x22, _) => {
            let n = be16(m, 6).unwrap_or(0);
            let _ = write!(out, "igmp v3 report, {n} group record(s)");
            if verbose > 0 {
                let mut at = 8usize;
                for _ in 0..n {
                    let (Some(&rt), Some(&aux), Some(ns), Some(g)) = (m.get(at), m.get(at + 1), be16(m, at + 2), addr4(m, at + 4)) else {
                        break;
                    };
                    let name = ["", "is_in", "is_ex", "to_in", "to_ex", "allow", "block"].get(usize::from(rt)).copied().unwrap_or("unknown");
                    let _ = write!(v, "\n\t  [gaddr {g} {name} {{ ");
                    for i in 0..usize::from(ns) {
                        if let Some(a) = addr4(m, at + 8 + 4 * i) {
                            let _ = write!(v, "{a} ");
                        }
                    }
                    v.push_str("}]");
                    at = at + 8 + 4 * usize::from(ns) + 4 * usize::from(aux);
                }
            }
            Ok(())
        }
        (t, _) => write!(out, "igmp type 0x{t:02x}"),
    };
}

/// `line` as a JSON string (quotes and escapes).
pub fn json_str(out: &mut String, line: &str) {
    out.push('"');
    for c in line.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv6Addr;

    #[test]
    fn addresses_as_inet_ntop_writes_them() {
        for (a, want) in [
            ("2001:db8::1", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::200:ff:fe00:1", "fe80::200:ff:fe00:1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0:0:1::1", "2001:0:0:1::1"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::192.0.2.1"),
            ("1::", "1::"),
            ("ff02::1:ff00:2", "ff02::1:ff00:2"),
        ] {
            let mut s = String::new();
            push_ip6(&mut s, a.parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(s, want);
        }
        let mut s = String::new();
        push_ip4(&mut s, [10, 0, 255, 1]);
        assert_eq!(s, "10.0.255.1");
    }
}
