//! The TCP header (RFC 9293 §3.1) with options (RFC 9293 §3.2: EOL, NOP,
//! MSS; RFC 7323: Window Scale, Timestamps; RFC 2018: SACK-permitted, SACK),
//! and the jumbogram rules of RFC 2675 §5 (TCP jumbograms: MSS and Urgent Pointer).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! |                        Sequence Number                        |
//! |                    Acknowledgment Number                      |
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |           Checksum            |         Urgent Pointer        |
//! |                           [Options]                           |
//! ```
//! TCP has no length field: over a jumbogram the segment length is what the
//! IP layer delimits, and the pseudo-header carries it in 32 bits.

use crate::cksum::Pseudo;
use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::proto;

mod field {
    #![allow(dead_code)]
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const FLAGS: Range<usize> = 12..14;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS: usize = 20;
}

pub const HEADER_LEN: usize = 20;

/// Control bits (RFC 9293 §3.1), in the low 8 bits of [`Repr::flags`]; the
/// 4 reserved bits above them are kept too.
pub const FLAG_FIN: u16 = 0x001;
pub const FLAG_SYN: u16 = 0x002;
pub const FLAG_RST: u16 = 0x004;
pub const FLAG_PSH: u16 = 0x008;
pub const FLAG_ACK: u16 = 0x010;
pub const FLAG_URG: u16 = 0x020;
pub const FLAG_ECE: u16 = 0x040;
pub const FLAG_CWR: u16 = 0x080;

/// RFC 2675 §5: an MSS option of 65535 means "infinity": use the path
/// MTU minus 60 (IPv6 and TCP headers).
pub const MSS_INFINITY: u16 = 65535;

/// The MSS to advertise for a link/path whose MTU allows `mss` octets of
/// segment data: larger than 65535 is sent as 65535 (RFC 2675 §5).
pub fn jumbo_mss(mss: u64) -> u16 {
    u16::try_from(mss).unwrap_or(MSS_INFINITY)
}

/// The MSS to use for a peer that advertised `mss_option` over a path with
/// MTU `path_mtu`: 65535 means path MTU minus 60 (RFC 2675 §5).
pub fn effective_mss(mss_option: u16, path_mtu: u64) -> u64 {
    if mss_option == MSS_INFINITY {
        path_mtu.saturating_sub(60)
    } else {
        u64::from(mss_option)
    }
}

/// The Urgent Pointer to send for urgent data ending `offset` octets past
/// the sequence number: beyond 65535 it is sent as 65535 (RFC 2675 §5).
pub fn jumbo_urgent(offset: u64) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

/// The urgent offset a receiver uses: with URG set, an Urgent field of
/// 65535 means the urgent pointer lies beyond this segment, and the offset
/// is taken as the length of the TCP data instead (RFC 2675 §5).
pub fn jumbo_urgent_offset(urgent_field: u16, data_len: u64) -> u64 {
    if urgent_field == u16::MAX {
        data_len
    } else {
        u64::from(urgent_field)
    }
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    b.get(r).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_be_bytes).unwrap_or(0)
}

/// One TCP option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of Option List (kind 0); the rest of the option area is padding.
    EndOfList,
    /// No-Operation (kind 1).
    NoOperation,
    /// Maximum Segment Size (kind 2, length 4; RFC 9293 §3.2).
    MaxSegmentSize(u16),
    /// Window Scale (kind 3, length 3; RFC 7323 §2).
    WindowScale(u8),
    /// SACK-permitted (kind 4, length 2; RFC 2018 §2).
    SackPermitted,
    /// SACK (kind 5, length 2 + 8n; RFC 2018 §3): (left, right) edges.
    Sack(Vec<(u32, u32)>),
    /// Timestamps (kind 8, length 10; RFC 7323 §3).
    Timestamps { tsval: u32, tsecr: u32 },
    /// Any other kind: the data after kind and length.
    Unknown { kind: u8, data: &'a [u8] },
}

impl<'a> TcpOption<'a> {
    fn kind(&self) -> u8 {
        match self {
            TcpOption::EndOfList => 0,
            TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 2,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 4,
            TcpOption::Sack(_) => 5,
            TcpOption::Timestamps { .. } => 8,
            TcpOption::Unknown { kind, .. } => *kind,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(b) => 2 + 8 * b.len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        out.push(self.kind());
        if matches!(self, TcpOption::EndOfList | TcpOption::NoOperation) {
            return Ok(());
        }
        let len = u8::try_from(self.buffer_len())
            .map_err(|_| Error::new(Layer::Tcp, ErrorKind::Limit { limit: 40 }, 20, "TCP option too long (RFC 9293 §3.1)"))?;
        out.push(len);
        match self {
            TcpOption::MaxSegmentSize(m) => out.extend_from_slice(&m.to_be_bytes()),
            TcpOption::WindowScale(s) => out.push(*s),
            TcpOption::Sack(blocks) => {
                for (l, r) in blocks {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                out.extend_from_slice(&tsval.to_be_bytes());
                out.extend_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { data, .. } => out.extend_from_slice(data),
            _ => {}
        }
        Ok(())
    }
}

/// Walk the option area (RFC 9293 §3.1: an illegal option length is an
/// error the receiver must survive; here it refuses the segment).
pub fn parse_options(area: &[u8]) -> Result<Vec<TcpOption<'_>>> {
    let mut v = Vec::new();
    let mut at = 0usize;
    let bad = |at: usize, reason| Err(Error::malformed(Layer::Tcp, (field::OPTIONS + at) as u64, reason));
    while at < area.len() {
        let kind = area.get(at).copied().unwrap_or(0);
        match kind {
            0 => {
                v.push(TcpOption::EndOfList);
                break;
            }
            1 => {
                v.push(TcpOption::NoOperation);
                at += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = area.get(at + 1) else {
            return bad(at, "TCP option kind without a length octet (RFC 9293 §3.1)");
        };
        let len = usize::from(len);
        if len < 2 {
            return bad(at + 1, "TCP option length below 2 (RFC 9293 §3.1)");
        }
        let Some(opt) = area.get(at..at + len) else {
            return bad(at + 1, "TCP option overruns the option area (RFC 9293 §3.1)");
        };
        let data = opt.get(2..).unwrap_or(&[]);
        let o = match kind {
            2 if len == 4 => TcpOption::MaxSegmentSize(be16(opt, 2..4)),
            2 => return bad(at + 1, "TCP MSS option length is not 4 (RFC 9293 §3.2)"),
            3 if len == 3 => TcpOption::WindowScale(data.first().copied().unwrap_or(0)),
            3 => return bad(at + 1, "TCP Window Scale option length is not 3 (RFC 7323 §2.2)"),
            4 if len == 2 => TcpOption::SackPermitted,
            4 => return bad(at + 1, "TCP SACK-permitted option length is not 2 (RFC 2018 §2)"),
            5 if len >= 10 && (len - 2) % 8 == 0 => {
                TcpOption::Sack(data.chunks_exact(8).map(|c| (be32(c, 0..4), be32(c, 4..8))).collect())
            }
            5 => return bad(at + 1, "TCP SACK option length is not 2 + 8n (RFC 2018 §3)"),
            8 if len == 10 => TcpOption::Timestamps { tsval: be32(opt, 2..6), tsecr: be32(opt, 6..10) },
            8 => return bad(at + 1, "TCP Timestamps option length is not 10 (RFC 7323 §3.2)"),
            _ => TcpOption::Unknown { kind, data },
        };
        v.push(o);
        at += len;
    }
    Ok(v)
}

/// A view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check the Data Offset against the buffer (RFC 9293 §3.1).
    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < HEADER_LEN {
            return Err(Error::truncated(Layer::Tcp, 0, HEADER_LEN as u64, n as u64, "TCP header (RFC 9293 §3.1)"));
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::malformed(Layer::Tcp, 12, "TCP Data Offset below 5 (RFC 9293 §3.1)"));
        }
        if n < hl {
            return Err(Error::truncated(Layer::Tcp, 0, hl as u64, n as u64, "TCP header with options, per Data Offset (RFC 9293 §3.1)"));
        }
        Ok(())
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), field::DST_PORT)
    }
    pub fn seq_number(&self) -> u32 {
        be32(self.b(), field::SEQ_NUM)
    }
    pub fn ack_number(&self) -> u32 {
        be32(self.b(), field::ACK_NUM)
    }
    pub fn header_len(&self) -> usize {
        usize::from(be16(self.b(), field::FLAGS) >> 12) * 4
    }
    /// Reserved bits and control bits (12 bits).
    pub fn flags(&self) -> u16 {
        be16(self.b(), field::FLAGS) & 0x0fff
    }
    pub fn window_len(&self) -> u16 {
        be16(self.b(), field::WIN_SIZE)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    pub fn urgent_at(&self) -> u16 {
        be16(self.b(), field::URGENT)
    }
    pub fn options(&self) -> &[u8] {
        self.b().get(field::OPTIONS..self.header_len()).unwrap_or(&[])
    }
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.header_len()..).unwrap_or(&[])
    }
    /// Whether the checksum is right; the segment length (u64) is the
    /// buffer length, 32 bits in the IPv6 pseudo-header.
    pub fn verify_checksum(&self, pseudo: &Pseudo) -> bool {
        pseudo.verify(proto::TCP, self.b())
    }
}

/// An owned TCP segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq_number: u32,
    pub ack_number: u32,
    /// Reserved + control bits (`FLAG_*`).
    pub flags: u16,
    pub window_len: u16,
    pub urgent_at: u16,
    pub options: Vec<TcpOption<'a>>,
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse, verifying the checksum when the pseudo-header is given.
    pub fn parse(data: &'a [u8], pseudo: Option<&Pseudo>) -> Result<Repr<'a>> {
        let p = Packet::new_checked(data)?;
        if let Some(ph) = pseudo {
            if !p.verify_checksum(ph) {
                return Err(Error::malformed(Layer::Tcp, 16, "bad TCP checksum (RFC 9293 §3.1)"));
            }
        }
        let hl = p.header_len();
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq_number: p.seq_number(),
            ack_number: p.ack_number(),
            flags: p.flags(),
            window_len: p.window_len(),
            urgent_at: p.urgent_at(),
            options: parse_options(data.get(field::OPTIONS..hl).unwrap_or(&[]))?,
            payload: data.get(hl..).unwrap_or(&[]),
        })
    }

    /// The header length with options padded to 4 octets.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.iter().map(TcpOption::buffer_len).sum::<usize>().div_ceil(4) * 4
    }

    pub fn buffer_len(&self) -> u64 {
        self.header_len() as u64 + self.payload.len() as u64
    }

    /// Append the segment; the checksum is computed when `pseudo` is given.
    pub fn emit(&self, out: &mut Vec<u8>, pseudo: Option<&Pseudo>) -> Result<()> {
        let hl = self.header_len();
        if hl > 60 {
            return Err(Error::new(Layer::Tcp, ErrorKind::Limit { limit: 40 }, 20, "TCP options longer than 40 octets (RFC 9293 §3.1)"));
        }
        let start = out.len();
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq_number.to_be_bytes());
        out.extend_from_slice(&self.ack_number.to_be_bytes());
        let off_flags = ((hl as u16 / 4) << 12) | (self.flags & 0x0fff);
        out.extend_from_slice(&off_flags.to_be_bytes());
        out.extend_from_slice(&self.window_len.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.urgent_at.to_be_bytes());
        for o in &self.options {
            o.emit(out)?;
        }
        out.resize(start + hl, 0);
        out.extend_from_slice(self.payload);
        if let Some(ph) = pseudo {
            let d = out.get(start..).unwrap_or(&[]);
            let c = ph.cksum(proto::TCP, d.len() as u64, [d])?;
            if let Some(f) = out.get_mut(start + 16..start + 18) {
                f.copy_from_slice(&c.to_be_bytes());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
    fn v6() -> Pseudo {
        Pseudo::V6 { src: "2001:db8::1".parse().unwrap(), dst: "2001:db8::2".parse().unwrap() }
    }
    fn v4() -> Pseudo {
        Pseudo::V4 { src: Ipv4Addr::new(10, 0, 0, 1), dst: Ipv4Addr::new(10, 0, 0, 2) }
    }

    // scapy: IPv6(src="2001:db8::1", dst="2001:db8::2")/TCP(sport=40000, dport=80, seq=1000,
    //   flags="S", window=65535, options=[("MSS",1440),("SAckOK",b""),("Timestamp",(123,0)),
    //   ("NOP",None),("WScale",7)])
    const SYN6: &str = "9c400050000003e800000000a002ffff4bac0000020405a00402080a0000007b0000000001030307";
    // scapy: IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=80, dport=40000, seq=5, ack=1001,
    //   flags="PA", window=501, options=[("NOP",None),("NOP",None),("SAck",(100,200,300,400))])/b"data"
    const SACK4: &str = "00509c4000000005000003e9a01801f5c68000000101051200000064000000c80000012c0000019064617461";

    #[test]
    fn syn_v6() {
        let b = hex(SYN6);
        let r = Repr::parse(&b, Some(&v6())).unwrap();
        assert_eq!(r.flags, FLAG_SYN);
        assert_eq!(r.seq_number, 1000);
        assert_eq!(
            r.options,
            vec![
                TcpOption::MaxSegmentSize(1440),
                TcpOption::SackPermitted,
                TcpOption::Timestamps { tsval: 123, tsecr: 0 },
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
            ]
        );
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v6())).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn sack_v4() {
        let b = hex(SACK4);
        let r = Repr::parse(&b, Some(&v4())).unwrap();
        assert_eq!(r.flags, FLAG_PSH | FLAG_ACK);
        assert_eq!(r.options[2], TcpOption::Sack(vec![(100, 200), (300, 400)]));
        assert_eq!(r.payload, b"data");
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v4())).unwrap();
        assert_eq!(out, b);
        let mut c = b.clone();
        c[17] ^= 1;
        assert!(Repr::parse(&c, Some(&v4())).is_err());
    }

    #[test]
    fn bad_offsets_and_options() {
        let b = hex(SYN6);
        for n in 0..40 {
            assert!(Repr::parse(&b[..n], None).is_err(), "{n}");
        }
        let mut c = b.clone();
        c[12] = 0x40;
        assert_eq!(Repr::parse(&c, None).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = b.clone();
        c[21] = 0; // MSS length 0
        assert_eq!(Repr::parse(&c, None).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = b.clone();
        c[21] = 30; // overruns
        assert_eq!(Repr::parse(&c, None).unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn jumbo_rules() {
        assert_eq!(jumbo_mss(70000), 65535);
        assert_eq!(jumbo_mss(1440), 1440);
        assert_eq!(effective_mss(65535, 100_000), 99_940);
        assert_eq!(jumbo_urgent(1 << 20), 65535);
        assert_eq!(jumbo_urgent_offset(65535, 100_000), 100_000);
        assert_eq!(jumbo_urgent_offset(10, 100_000), 10);
        // A 70000-octet segment over IPv6 checksums with a 32-bit length.
        let payload = vec![0xa5u8; 70000];
        let r = Repr { src_port: 1, dst_port: 2, seq_number: 0, ack_number: 0, flags: FLAG_ACK, window_len: 1, urgent_at: 0, options: vec![], payload: &payload };
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v6())).unwrap();
        assert_eq!(Repr::parse(&out, Some(&v6())).unwrap(), r);
        assert!(r.emit(&mut Vec::new(), Some(&v4())).is_err());
    }
}
