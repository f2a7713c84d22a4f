//! One TCP segment in, one out: the header with its options in a flat form
//! the state machine reads directly (RFC 9293 §3.1, RFC 7323, RFC 2018).

use crate::cksum::Pseudo;
use crate::error::{Error, Layer, Result};
use crate::wire::proto;
use crate::wire::tcp::{parse_options, Packet, TcpOption, HEADER_LEN};

/// The options `tcp_dooptions` looks at; the first of each kind wins, as
/// in FreeBSD, and unknown kinds are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentOpts {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks (left, right), at most 4 (RFC 2018 §3).
    pub sack: Vec<(u32, u32)>,
    /// (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
}

/// A parsed segment; `payload` is the range of the segment's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// Reserved + control bits (`wire::tcp::FLAG_*`).
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    pub header_len: usize,
    pub opts: SegmentOpts,
}

impl Segment {
    /// Parse `data` (the TCP segment, as long as the IP layer delimits it),
    /// checking the checksum when `pseudo` is given. A bad checksum is
    /// `Malformed` at offset 16; a bad Data Offset `Malformed` at 12; a
    /// short segment `Truncated`; an illegal option length `Malformed`
    /// at the option (RFC 9293 §3.1: the receiver must survive it).
    pub fn parse(data: &[u8], pseudo: Option<&Pseudo>) -> Result<Segment> {
        let p = Packet::new_checked(data)?;
        if let Some(ph) = pseudo {
            if !p.verify_checksum(ph) {
                return Err(Error::malformed(Layer::Tcp, 16, "bad TCP checksum (RFC 9293 §3.1)"));
            }
        }
        let mut opts = SegmentOpts::default();
        let (mut seen_mss, mut seen_ws, mut seen_ts, mut seen_sack) = (false, false, false, false);
        for o in parse_options(p.options())? {
            match o {
                TcpOption::MaxSegmentSize(m) if !seen_mss => {
                    seen_mss = true;
                    opts.mss = Some(m);
                }
                TcpOption::WindowScale(s) if !seen_ws => {
                    seen_ws = true;
                    opts.wscale = Some(s);
                }
                TcpOption::SackPermitted => opts.sack_permitted = true,
                TcpOption::Sack(b) if !seen_sack => {
                    seen_sack = true;
                    opts.sack = b.into_iter().take(4).collect();
                }
                TcpOption::Timestamps { tsval, tsecr } if !seen_ts => {
                    seen_ts = true;
                    opts.ts = Some((tsval, tsecr));
                }
                _ => {}
            }
        }
        Ok(Segment {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            urgent: p.urgent_at(),
            header_len: p.header_len(),
            opts,
        })
    }
}

/// The option area `tcp_addoptions` writes, padded to 4 octets: on a SYN
/// MSS, SACK-permitted, Timestamps, NOP, Window Scale (Linux's order, 20
/// octets); otherwise NOP NOP Timestamps, then NOP NOP SACK with as many
/// blocks as fit in 40 octets.
pub fn build_options(mss: Option<u16>, wscale: Option<u8>, sack_permitted: bool, ts: Option<(u32, u32)>, sack: &[(u32, u32)]) -> Vec<u8> {
    let mut o = Vec::with_capacity(40);
    if let Some(m) = mss {
        o.extend_from_slice(&[2, 4]);
        o.extend_from_slice(&m.to_be_bytes());
    }
    if sack_permitted {
        if ts.is_some() {
            o.extend_from_slice(&[4, 2]);
        } else {
            o.extend_from_slice(&[1, 1, 4, 2]);
        }
    }
    if let Some((v, e)) = ts {
        if !sack_permitted {
            o.extend_from_slice(&[1, 1]);
        }
        o.extend_from_slice(&[8, 10]);
        o.extend_from_slice(&v.to_be_bytes());
        o.extend_from_slice(&e.to_be_bytes());
    }
    if let Some(s) = wscale {
        o.extend_from_slice(&[1, 3, 3, s.min(14)]);
    }
    let room = 40usize.saturating_sub(o.len() + 4) / 8;
    let n = sack.len().min(room).min(4);
    if n > 0 {
        o.extend_from_slice(&[1, 1, 5, (2 + 8 * n) as u8]);
        for (l, r) in sack.iter().take(n) {
            o.extend_from_slice(&l.to_be_bytes());
            o.extend_from_slice(&r.to_be_bytes());
        }
    }
    while o.len() % 4 != 0 {
        o.push(0);
    }
    o
}

/// The fields of a segment to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
}

/// Append header, `options` (a multiple of 4, at most 40 octets) and
/// `payload` to `out`, checksummed under `pseudo`.
pub fn emit(out: &mut Vec<u8>, h: &Header, options: &[u8], payload: &[u8], pseudo: &Pseudo) -> Result<()> {
    if options.len() > 40 || options.len() % 4 != 0 {
        return Err(Error::new(Layer::Tcp, crate::error::ErrorKind::Limit { limit: 40 }, 20, "TCP options: a multiple of 4 octets, at most 40 (RFC 9293 §3.1)"));
    }
    let start = out.len();
    let hl = HEADER_LEN + options.len();
    out.extend_from_slice(&h.src_port.to_be_bytes());
    out.extend_from_slice(&h.dst_port.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.ack.to_be_bytes());
    out.extend_from_slice(&((((hl / 4) as u16) << 12) | (h.flags & 0x0fff)).to_be_bytes());
    out.extend_from_slice(&h.window.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&h.urgent.to_be_bytes());
    out.extend_from_slice(options);
    out.extend_from_slice(payload);
    let seg = out.get(start..).unwrap_or(&[]);
    let c = pseudo.cksum(proto::TCP, seg.len() as u64, [seg])?;
    if let Some(f) = out.get_mut(start + 16..start + 18) {
        f.copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// A whole IPv6 packet carrying one segment (`tcp_output` -> `ip6_output`'s
/// header): version 6, `tclass`, `flow`, Next Header 6. A segment longer
/// than 65535 octets goes in a jumbogram (RFC 2675 §2, §4): Payload Length
/// 0, a Hop-by-Hop header holding the Jumbo Payload option with the 32-bit
/// length, the checksum over the 32-bit upper-layer length (RFC 8200 §8.1).
#[allow(clippy::too_many_arguments)]
pub fn emit6(src: &[u8; 16], dst: &[u8; 16], hlim: u8, tclass: u8, flow: u32, h: &Header, options: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    let plen = HEADER_LEN + options.len() + payload.len();
    let jumbo = plen > 0xffff;
    let jlen = if jumbo {
        match u32::try_from(plen + 8) {
            Ok(n) => Some(n),
            Err(_) => return Err(Error::new(Layer::Tcp, crate::error::ErrorKind::Limit { limit: u64::from(u32::MAX) - 8 }, 4, "segment longer than a jumbogram can carry (RFC 2675)")),
        }
    } else {
        None
    };
    let mut out = Vec::with_capacity(48 + plen);
    out.extend_from_slice(&((6u32 << 28) | (u32::from(tclass) << 20) | (flow & 0xfffff)).to_be_bytes());
    // plen fits 16 bits unless jumbo, where the field is 0
    out.extend_from_slice(&(if jumbo { 0u16 } else { u16::try_from(plen).unwrap_or(0) }).to_be_bytes());
    out.push(if jumbo { 0 } else { proto::TCP });
    out.push(hlim);
    out.extend_from_slice(src);
    out.extend_from_slice(dst);
    if let Some(n) = jlen {
        out.extend_from_slice(&[proto::TCP, 0, 0xc2, 4]);
        out.extend_from_slice(&n.to_be_bytes());
    }
    let pseudo = Pseudo::V6 { src: (*src).into(), dst: (*dst).into() };
    emit(&mut out, h, options, payload, &pseudo)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp::{Repr, FLAG_ACK, FLAG_SYN};

    fn v6() -> Pseudo {
        Pseudo::V6 { src: "2001:db8::1".parse().unwrap(), dst: "2001:db8::2".parse().unwrap() }
    }

    #[test]
    fn syn_options_round_trip() {
        let o = build_options(Some(1440), Some(7), true, Some((123, 0)), &[]);
        assert_eq!(o, [2, 4, 5, 160, 4, 2, 8, 10, 0, 0, 0, 123, 0, 0, 0, 0, 1, 3, 3, 7]);
        let h = Header { src_port: 40000, dst_port: 80, seq: 1000, ack: 0, flags: FLAG_SYN, window: 65535, urgent: 0 };
        let mut out = Vec::new();
        emit(&mut out, &h, &o, &[], &v6()).unwrap();
        // the same octets scapy builds (wire::tcp's SYN6 vector)
        let r = Repr::parse(&out, Some(&v6())).unwrap();
        assert_eq!(r.seq_number, 1000);
        let s = Segment::parse(&out, Some(&v6())).unwrap();
        assert_eq!(s.opts, SegmentOpts { mss: Some(1440), wscale: Some(7), sack_permitted: true, sack: vec![], ts: Some((123, 0)) });
        assert_eq!(s.header_len, 40);
        let mut bad = out.clone();
        bad[20] ^= 1;
        assert!(Segment::parse(&bad, Some(&v6())).is_err());
    }

    #[test]
    fn sack_blocks_fit() {
        let blocks = [(1, 2), (3, 4), (5, 6), (7, 8)];
        let o = build_options(None, None, false, Some((1, 2)), &blocks);
        assert_eq!(o.len(), 12 + 4 + 24); // TS leaves room for 3 blocks
        let o = build_options(None, None, false, None, &blocks);
        assert_eq!(o.len(), 4 + 32);
        let h = Header { src_port: 1, dst_port: 2, seq: 3, ack: 4, flags: FLAG_ACK, window: 5, urgent: 0 };
        let mut out = Vec::new();
        emit(&mut out, &h, &o, b"xy", &v6()).unwrap();
        let s = Segment::parse(&out, Some(&v6())).unwrap();
        assert_eq!(s.opts.sack, blocks.to_vec());
        assert_eq!(&out[s.header_len..], b"xy");
    }

    #[test]
    fn packet6() {
        let a = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut b = a;
        b[15] = 2;
        let h = Header { src_port: 1, dst_port: 2, seq: 3, ack: 4, flags: FLAG_ACK, window: 5, urgent: 0 };
        let p = emit6(&a, &b, 64, 2, 0, &h, &[], b"abc").unwrap();
        assert_eq!(p.len(), 40 + 23);
        assert_eq!(p[1], 0x20); // ECT(0) in the traffic class
        assert!(Segment::parse(&p[40..], Some(&v6())).is_ok());
        let j = emit6(&a, &b, 64, 0, 0, &h, &[], &vec![7; 70000]).unwrap();
        assert_eq!((j.len(), &j[4..7], &j[40..48]), (48 + 20 + 70000, &[0u8, 0, 0][..], &[6u8, 0, 0xc2, 4, 0, 1, 0x11, 0x8c][..]));
        let s = Segment::parse(&j[48..], Some(&v6())).unwrap();
        assert_eq!(s.header_len, 20);
        assert!(emit(&mut Vec::new(), &h, &[1, 1, 1], b"", &v6()).is_err());
    }

    #[test]
    fn first_option_wins_and_short_segments() {
        let o = [2, 4, 1, 0, 2, 4, 2, 0];
        let h = Header { src_port: 1, dst_port: 2, seq: 3, ack: 4, flags: FLAG_SYN, window: 5, urgent: 0 };
        let mut out = Vec::new();
        emit(&mut out, &h, &o, b"", &v6()).unwrap();
        assert_eq!(Segment::parse(&out, None).unwrap().opts.mss, Some(256));
        for n in 0..out.len() {
            assert!(Segment::parse(&out[..n], None).is_err());
        }
    }
}
