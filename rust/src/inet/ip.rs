//! IPv4 byte paths: the checks of `ip_input` and `ip_dooptions`
//! (FreeBSD `ip_input.c`, `ip_options.c`), building a datagram, and
//! `ip_fragment` (`ip_output.c`, with `ip_optcopy`).
//!
//! [`ip_validate`] takes the bytes after the link header and refuses, with
//! an offset the node maps to a BSD counter:
//!
//! | refusal | kind, offset | `ipstat` |
//! |---|---|---|
//! | shorter than 20 octets | `Truncated`, 0 | `ips_toosmall` |
//! | Version not 4 | `Malformed`, 0 | `ips_badvers` |
//! | IHL below 5, or beyond the bytes | `Malformed`/`Truncated`, 0 (version 4) | `ips_badhlen` |
//! | header checksum | `Malformed`, 10 | `ips_badsum` |
//! | Total Length below the header | `Malformed`, 2 | `ips_badlen` |
//! | Total Length beyond the bytes | `Truncated`, 2 | `ips_tooshort` |
//! | a bad option | `Malformed`, >= 20, with a Parameter Problem answer | `ips_badoptions` |
//!
//! Options (RFC 791 §3.1) are walked once, bounded by the 40 octets the
//! IHL allows: End of List and No Operation are one octet; every other
//! option has a length of at least 2 that must fit. Record Route, Loose and
//! Strict Source Route need a pointer of at least 4, Timestamp a length of
//! at least 4, a pointer of at least 5 and flag 0, 1 or 3; Router Alert
//! (RFC 2113) is 4 octets; a second source route is refused. The walk
//! reports what it found ([`Options`]); what to do with a source route
//! (`net.inet.ip.accept_sourceroute`) is the node's decision.

use std::net::Ipv4Addr;

use crate::cksum;
use crate::error::{Error, ErrorKind, Icmp6Answer, Layer, Result};
use crate::wire::ipv4::{self, FLAG_DF, FLAG_MF, HEADER_LEN};

pub const IPOPT_EOL: u8 = 0;
pub const IPOPT_NOP: u8 = 1;
pub const IPOPT_RR: u8 = 7;
pub const IPOPT_TS: u8 = 68;
pub const IPOPT_LSRR: u8 = 131;
pub const IPOPT_SSRR: u8 = 137;
pub const IPOPT_RA: u8 = 148;
/// Options with this bit set are copied into every fragment (RFC 791).
pub const IPOPT_COPIED: u8 = 0x80;
/// The largest IPv4 datagram (RFC 791).
pub const IP_MAXPACKET: usize = 65535;
/// The most octets of options an IPv4 header holds (IHL 15).
pub const MAX_OPTLEN: usize = 40;
/// ICMP Parameter Problem (RFC 792).
pub const ICMP_PARAMPROB: u8 = 12;

/// A source route option (LSRR or SSRR) the walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRoute {
    /// SSRR (true) or LSRR.
    pub strict: bool,
    /// Offset of the option from the start of the IPv4 header.
    pub offset: u16,
    /// The pointer is past the last address: the route ends here.
    pub complete: bool,
}

/// What [`ip_options`] found in a header's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Options walked (End of List and padding after it not counted).
    pub count: u32,
    /// Offset of a Record Route option.
    pub record_route: Option<u16>,
    /// Offset of a Timestamp option.
    pub timestamp: Option<u16>,
    pub source_route: Option<SourceRoute>,
    /// A Router Alert option (RFC 2113) is present.
    pub router_alert: bool,
}

fn parameter_problem(at: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Ipv4, at as u64, reason).answer(Icmp6Answer {
        icmp_type: ICMP_PARAMPROB,
        code: 0,
        pointer: at as u32,
    })
}

/// Walk the options area `opts`, which starts `base` octets into the IPv4
/// header (20 for a whole header). Errors carry a Parameter Problem answer
/// (type 12, code 0) whose pointer is the offending octet's offset in the
/// header, as `ip_dooptions` computes it.
pub fn ip_options(opts: &[u8], base: usize) -> Result<Options> {
    let mut o = Options::default();
    let mut i = 0usize;
    while let Some(&opt) = opts.get(i) {
        if opt == IPOPT_EOL {
            break;
        }
        o.count = o.count.saturating_add(1);
        if opt == IPOPT_NOP {
            i += 1;
            continue;
        }
        let at = base + i;
        let Some(&optlen) = opts.get(i + 1) else {
            return Err(parameter_problem(at + 1, "IPv4 option without its length octet (RFC 791 §3.1)"));
        };
        let optlen = usize::from(optlen);
        if optlen < 2 || i + optlen > opts.len() {
            return Err(parameter_problem(at + 1, "IPv4 option length below 2 or beyond the header (RFC 791 §3.1)"));
        }
        // the pointer octet belongs to the option only when its length covers it
        let ptr = if optlen >= 3 { opts.get(i + 2).copied().map(usize::from) } else { None };
        match opt {
            IPOPT_RR | IPOPT_LSRR | IPOPT_SSRR => {
                let Some(ptr) = ptr else {
                    return Err(parameter_problem(at + 1, "IPv4 route option shorter than 3 octets (RFC 791 §3.1)"));
                };
                if ptr < 4 {
                    return Err(parameter_problem(at + 2, "IPv4 route option pointer below 4 (RFC 791 §3.1)"));
                }
                if opt == IPOPT_RR {
                    o.record_route.get_or_insert(at as u16);
                } else {
                    if o.source_route.is_some() {
                        return Err(parameter_problem(at, "a second IPv4 source route option (RFC 791 §3.1)"));
                    }
                    o.source_route = Some(SourceRoute {
                        strict: opt == IPOPT_SSRR,
                        offset: at as u16,
                        complete: ptr > optlen.saturating_sub(3),
                    });
                }
            }
            IPOPT_TS => {
                if optlen < 4 {
                    return Err(parameter_problem(at + 1, "IPv4 Timestamp option shorter than 4 octets (RFC 791 §3.1)"));
                }
                if ptr.unwrap_or(0) < 5 {
                    return Err(parameter_problem(at + 2, "IPv4 Timestamp pointer below 5 (RFC 791 §3.1)"));
                }
                let flg = opts.get(i + 3).copied().unwrap_or(0) & 0x0f;
                if !matches!(flg, 0 | 1 | 3) {
                    return Err(parameter_problem(at + 3, "IPv4 Timestamp flag not 0, 1 or 3 (RFC 791 §3.1)"));
                }
                o.timestamp.get_or_insert(at as u16);
            }
            IPOPT_RA => {
                if optlen != 4 {
                    return Err(parameter_problem(at + 1, "IPv4 Router Alert length is not 4 (RFC 2113)"));
                }
                o.router_alert = true;
            }
            _ => {}
        }
        i += optlen;
    }
    Ok(o)
}

/// An IPv4 datagram that passed [`ip_validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    pub header_len: usize,
    /// Total Length: the datagram is `packet[..total_len]`; bytes after it
    /// (Ethernet padding) are not part of it.
    pub total_len: usize,
    pub tos: u8,
    pub ident: u16,
    /// Reserved, DF, MF (`FLAG_*`).
    pub flags: u8,
    /// Fragment offset in octets.
    pub frag_off: usize,
    pub ttl: u8,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub options: Options,
}

impl Validated {
    /// A fragment: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.flags & FLAG_MF != 0 || self.frag_off != 0
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    match (b.get(at), b.get(at + 1)) {
        (Some(&h), Some(&l)) => u16::from_be_bytes([h, l]),
        _ => 0,
    }
}

fn addr(b: &[u8], at: usize) -> Ipv4Addr {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(Ipv4Addr::from)
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// The checks of `ip_input` (see the module docs). `packet` starts at the
/// IPv4 header; with `verify_checksum` false the header checksum is not
/// looked at (a checksum offload, or a loopback).
pub fn ip_validate(packet: &[u8], verify_checksum: bool) -> Result<Validated> {
    let n = packet.len();
    if n < HEADER_LEN {
        return Err(Error::truncated(Layer::Ipv4, 0, HEADER_LEN as u64, n as u64, "IPv4 header (RFC 791 §3.1)"));
    }
    let vhl = packet.first().copied().unwrap_or(0);
    if vhl >> 4 != 4 {
        return Err(Error::malformed(Layer::Ipv4, 0, "IPv4 Version is not 4 (RFC 791 §3.1)"));
    }
    let hl = usize::from(vhl & 0x0f) * 4;
    if hl < HEADER_LEN {
        return Err(Error::malformed(Layer::Ipv4, 0, "IPv4 IHL below 5 (RFC 791 §3.1)"));
    }
    if hl > n {
        return Err(Error::truncated(Layer::Ipv4, 0, hl as u64, n as u64, "IPv4 header with options, per IHL (RFC 791 §3.1)"));
    }
    if verify_checksum && packet.get(..hl).is_none_or(|h| cksum::ip_cksum(h) != 0) {
        return Err(Error::malformed(Layer::Ipv4, 10, "bad IPv4 header checksum (RFC 791 §3.1, RFC 1122 §3.2.1.2)"));
    }
    let tl = usize::from(be16(packet, 2));
    if tl < hl {
        return Err(Error::malformed(Layer::Ipv4, 2, "IPv4 Total Length shorter than the header (RFC 791 §3.1)"));
    }
    if tl > n {
        return Err(Error::truncated(Layer::Ipv4, 2, tl as u64, n as u64, "IPv4 datagram shorter than Total Length (RFC 791 §3.1)"));
    }
    let options = ip_options(packet.get(HEADER_LEN..hl).unwrap_or(&[]), HEADER_LEN)?;
    let fo = be16(packet, 6);
    Ok(Validated {
        header_len: hl,
        total_len: tl,
        tos: packet.get(1).copied().unwrap_or(0),
        ident: be16(packet, 4),
        flags: (fo >> 13) as u8,
        frag_off: usize::from(fo & 0x1fff) * 8,
        ttl: packet.get(8).copied().unwrap_or(0),
        protocol: packet.get(9).copied().unwrap_or(0),
        src: addr(packet, 12),
        dst: addr(packet, 16),
        options,
    })
}

/// What [`ip_build`] needs besides the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub df: bool,
    /// Raw options, a multiple of 4 octets, at most 40.
    pub options: &'a [u8],
}

/// A whole datagram: the header (checksum computed) and `payload`.
/// Longer than 65535 octets is a `Limit` error.
pub fn ip_build(h: &Header<'_>, payload: &[u8]) -> Result<Vec<u8>> {
    let total = HEADER_LEN + h.options.len() + payload.len();
    if total > IP_MAXPACKET {
        return Err(Error::new(Layer::Ipv4, ErrorKind::Limit { limit: IP_MAXPACKET as u64 }, 2,
                              "IPv4 datagram longer than 65535 octets (RFC 791 §3.1)"));
    }
    let r = ipv4::Repr {
        tos: h.tos,
        total_len: total as u16,
        ident: h.ident,
        flags: if h.df { FLAG_DF } else { 0 },
        frag_offset: 0,
        ttl: h.ttl,
        protocol: h.protocol,
        src_addr: h.src,
        dst_addr: h.dst,
        options: h.options,
    };
    let mut out = Vec::with_capacity(total);
    r.emit(&mut out)?;
    out.extend_from_slice(payload);
    Ok(out)
}

/// `ip_optcopy`: the options a non-first fragment carries: those with the
/// copied bit, No Operations kept (for alignment), padded with End of
/// List to a multiple of 4.
pub fn ip_optcopy(opts: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(opts.len());
    let mut i = 0usize;
    while let Some(&opt) = opts.get(i) {
        if opt == IPOPT_EOL {
            break;
        }
        if opt == IPOPT_NOP {
            out.push(IPOPT_NOP);
            i += 1;
            continue;
        }
        let len = opts.get(i + 1).copied().map(usize::from).unwrap_or(0);
        if len < 2 {
            break;
        }
        let Some(body) = opts.get(i..i + len) else {
            break;
        };
        if opt & IPOPT_COPIED != 0 {
            out.extend_from_slice(body);
        }
        i += len;
    }
    while out.len() % 4 != 0 {
        out.push(IPOPT_EOL);
    }
    out
}

fn set_checksum(h: &mut [u8]) {
    if let Some(c) = h.get_mut(10..12) {
        c.copy_from_slice(&[0, 0]);
    }
    let c = cksum::ip_cksum(h);
    if let Some(f) = h.get_mut(10..12) {
        f.copy_from_slice(&c.to_be_bytes());
    }
}

/// `ip_fragment`: cut a datagram into fragments of at most `mtu` octets
/// (RFC 791 §3.2, RFC 1122 §3.3.3). A datagram that fits comes back as
/// the only element. The first fragment keeps every option, the others
/// those [`ip_optcopy`] keeps; data is cut at multiples of 8 octets. A
/// datagram that is itself a fragment (forwarding) keeps its offset and,
/// on its last piece, its MF bit. DF set and too big is a `Limit` error
/// (`ips_cantfrag`, the caller answers Fragmentation Needed); an `mtu`
/// that leaves no room for 8 octets of data is a `Config` error.
pub fn ip_fragment(packet: &[u8], mtu: usize) -> Result<Vec<Vec<u8>>> {
    let v = ip_validate(packet, false)?;
    let dgram = packet.get(..v.total_len).unwrap_or(packet);
    if v.total_len <= mtu {
        return Ok(vec![dgram.to_vec()]);
    }
    if v.flags & FLAG_DF != 0 {
        return Err(Error::new(Layer::Ipv4, ErrorKind::Limit { limit: mtu as u64 }, 6,
                              "IPv4 datagram with DF set is larger than the MTU (RFC 1191)"));
    }
    let hl = v.header_len;
    if hl + v.frag_off + (v.total_len - hl) > IP_MAXPACKET {
        // a fragment reaching past 65535 octets (BSD ips_toolong): its pieces'
        // offsets would not fit the 13-bit field (found by inet_ip_validate)
        return Err(Error::malformed(Layer::Ipv4, 6, "IPv4 fragment beyond 65535 octets (RFC 791 §3.2)"));
    }
    let first_hdr = dgram.get(..hl).unwrap_or(&[]);
    let opts = dgram.get(HEADER_LEN..hl).unwrap_or(&[]);
    let later_opts = ip_optcopy(opts);
    let later_hl = HEADER_LEN + later_opts.len();
    if mtu < hl + 8 || mtu < later_hl + 8 {
        return Err(Error::new(Layer::Ipv4, ErrorKind::Config, 0,
                              "MTU leaves no room for 8 octets of fragment data (RFC 791 §3.2)"));
    }
    let data = dgram.get(hl..).unwrap_or(&[]);
    let orig_mf = v.flags & FLAG_MF != 0;
    let mut frags = Vec::with_capacity(data.len() / (mtu - later_hl) + 2);
    let mut off = 0usize;
    while off < data.len() {
        let this_hl = if off == 0 { hl } else { later_hl };
        let room = (mtu - this_hl) & !7;
        let len = room.min(data.len() - off);
        let last = off + len >= data.len();
        let mut f = Vec::with_capacity(this_hl + len);
        if off == 0 {
            f.extend_from_slice(first_hdr);
        } else {
            f.extend_from_slice(first_hdr.get(..HEADER_LEN).unwrap_or(&[]));
            f.extend_from_slice(&later_opts);
            if let Some(b) = f.first_mut() {
                *b = 0x40 | (this_hl / 4) as u8;
            }
        }
        f.extend_from_slice(data.get(off..off + len).unwrap_or(&[]));
        let tl = (this_hl + len) as u16;
        let mf = !last || orig_mf;
        let fo = ((v.frag_off + off) / 8) as u16 & 0x1fff;
        let word = (u16::from(v.flags & 0b100) << 13) | if mf { 1 << 13 } else { 0 } | fo;
        if let Some(h) = f.get_mut(..this_hl) {
            if let Some(x) = h.get_mut(2..4) {
                x.copy_from_slice(&tl.to_be_bytes());
            }
            if let Some(x) = h.get_mut(6..8) {
                x.copy_from_slice(&word.to_be_bytes());
            }
            set_checksum(h);
        }
        frags.push(f);
        off += len;
    }
    Ok(frags)
}

/// `ip_forward`'s header update: Time to Live lowered by one and the header
/// checksum recomputed. A TTL of 0 or 1 is refused (`Limit`): the caller
/// answers Time Exceeded (RFC 1812 §5.3.1).
pub fn ip_forward_ttl(packet: &[u8]) -> Result<Vec<u8>> {
    let v = ip_validate(packet, false)?;
    if v.ttl <= 1 {
        return Err(Error::new(Layer::Ipv4, ErrorKind::Limit { limit: 1 }, 8,
                              "IPv4 Time to Live exceeded in transit (RFC 1812 §5.3.1)"));
    }
    let mut out = packet.get(..v.total_len).unwrap_or(packet).to_vec();
    if let Some(t) = out.get_mut(8) {
        *t = v.ttl - 1;
    }
    if let Some(h) = out.get_mut(..v.header_len) {
        set_checksum(h);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(opts: &[u8]) -> Header<'_> {
        Header {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
            protocol: 17,
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            df: false,
            options: opts,
        }
    }

    #[test]
    fn build_validate_round_trip() {
        let p = ip_build(&hdr(&[]), b"hello").unwrap();
        let v = ip_validate(&p, true).unwrap();
        assert_eq!((v.header_len, v.total_len, v.protocol, v.ident), (20, 25, 17, 0x1234));
        assert!(!v.is_fragment());
        let mut padded = p.clone();
        padded.extend_from_slice(&[0; 20]);
        assert_eq!(ip_validate(&padded, true).unwrap().total_len, 25);
    }

    #[test]
    fn refusals_have_their_offsets() {
        let p = ip_build(&hdr(&[]), b"hello").unwrap();
        assert!(ip_validate(&p[..19], true).unwrap_err().is_truncated());
        let mut c = p.clone();
        c[0] = 0x65;
        assert_eq!(ip_validate(&c, false).unwrap_err().offset, 0);
        let mut c = p.clone();
        c[0] = 0x44;
        assert_eq!(ip_validate(&c, false).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = p.clone();
        c[0] = 0x4f;
        assert!(ip_validate(&c, false).unwrap_err().is_truncated());
        let mut c = p.clone();
        c[10] ^= 1;
        assert_eq!(ip_validate(&c, true).unwrap_err().offset, 10);
        assert!(ip_validate(&c, false).is_ok());
        let mut c = p.clone();
        c[3] = 19;
        set_checksum(&mut c[..20]);
        let e = ip_validate(&c, true).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Malformed, 2));
        let mut c = p.clone();
        c[3] = 60;
        set_checksum(&mut c[..20]);
        let e = ip_validate(&c, true).unwrap_err();
        assert!(e.is_truncated() && e.offset == 2);
    }

    #[test]
    fn options_walk() {
        // RR with room for one address, NOP, EOL
        let o = ip_options(&[7, 7, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0], 20).unwrap();
        assert_eq!((o.count, o.record_route), (2, Some(20)));
        // LSRR, pointer past the end: complete
        let o = ip_options(&[131, 7, 8, 10, 0, 0, 1, 0], 20).unwrap();
        assert_eq!(o.source_route, Some(SourceRoute { strict: false, offset: 20, complete: true }));
        let o = ip_options(&[137, 7, 4, 10, 0, 0, 1, 0], 20).unwrap();
        assert_eq!(o.source_route, Some(SourceRoute { strict: true, offset: 20, complete: false }));
        // bad length: pointer at the length octet
        let e = ip_options(&[7, 1, 0, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 21);
        let e = ip_options(&[7, 9, 4, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 21);
        let e = ip_options(&[7, 7, 3, 0, 0, 0, 0, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 22);
        let e = ip_options(&[68, 8, 4, 0, 0, 0, 0, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 22);
        let e = ip_options(&[68, 8, 5, 2, 0, 0, 0, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 23);
        assert!(ip_options(&[68, 8, 5, 1, 0, 0, 0, 0], 20).unwrap().timestamp.is_some());
        let e = ip_options(&[131, 3, 4, 137, 3, 4, 0, 0], 20).unwrap_err();
        assert_eq!(e.icmp.unwrap().pointer, 23);
        assert!(ip_options(&[148, 4, 0, 0], 20).unwrap().router_alert);
        assert!(ip_options(&[148, 3, 0, 0], 20).is_err());
        assert!(ip_options(&[1], 20).is_ok());
        // a route option of length 2 has no pointer (found by inet_ip_validate)
        assert_eq!(ip_options(&[131, 2, 4, 0], 20).unwrap_err().icmp.unwrap().pointer, 21);
        assert!(ip_options(&[0x44], 20).is_err());
    }

    #[test]
    fn fragment_and_optcopy() {
        let opts = [7, 7, 4, 0, 0, 0, 0, 1, 0x94, 4, 0, 0]; // RR (not copied), NOP, RA (copied)
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let p = ip_build(&hdr(&opts), &payload).unwrap();
        let frags = ip_fragment(&p, 1500).unwrap();
        assert_eq!(frags.len(), 3);
        let mut data = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 1500);
            let v = ip_validate(f, true).unwrap();
            assert_eq!(v.frag_off, data.len());
            assert_eq!(v.flags & FLAG_MF != 0, i < 2);
            assert_eq!(v.header_len, if i == 0 { 32 } else { 28 });
            if i < 2 {
                assert_eq!((v.total_len - v.header_len) % 8, 0);
            }
            data.extend_from_slice(&f[v.header_len..]);
        }
        assert_eq!(data, payload);
        assert_eq!(ip_fragment(&p, 4000).unwrap(), vec![p.clone()]);
        let mut h = hdr(&[]);
        h.df = true;
        let p = ip_build(&h, &payload).unwrap();
        assert!(matches!(ip_fragment(&p, 1500).unwrap_err().kind, ErrorKind::Limit { .. }));
        assert!(ip_fragment(&ip_build(&hdr(&[]), &payload).unwrap(), 27).is_err());
        assert_eq!(ip_fragment(&ip_build(&hdr(&[]), &payload).unwrap(), 28).unwrap().len(), 375);
        let mut far = ip_build(&hdr(&[]), &payload).unwrap();
        far[6..8].copy_from_slice(&0x1fe0u16.to_be_bytes()); // offset 65280 + 3000 octets
        set_checksum(&mut far[..20]);
        assert!(ip_fragment(&far, 1500).is_err());
    }

    #[test]
    fn forward_ttl() {
        let p = ip_build(&hdr(&[]), b"x").unwrap();
        let f = ip_forward_ttl(&p).unwrap();
        assert_eq!(f[8], 63);
        assert!(ip_validate(&f, true).is_ok());
        let mut h = hdr(&[]);
        h.ttl = 1;
        assert!(ip_forward_ttl(&ip_build(&h, b"x").unwrap()).is_err());
    }
}
