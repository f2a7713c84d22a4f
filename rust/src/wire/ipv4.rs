//! The IPv4 header (RFC 791 §3.1), options kept raw, header checksum.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |    DSCP   |ECN|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options                    |    Padding    |
//! ```

use std::net::Ipv4Addr;

use crate::cksum;
use crate::error::{Error, ErrorKind, Layer, Result};

mod field {
    #![allow(dead_code)]
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
    pub const OPTIONS: usize = 20;
}

/// The minimum header length (IHL 5).
pub const HEADER_LEN: usize = 20;
/// Flag bits (RFC 791 §3.1): reserved, Don't Fragment, More Fragments.
pub const FLAG_RESERVED: u8 = 0b100;
pub const FLAG_DF: u8 = 0b010;
pub const FLAG_MF: u8 = 0b001;

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

fn v4(b: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    b.get(r).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(Ipv4Addr::from).unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// A view of an IPv4 header and what follows it.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Check the version, IHL and Total Length against the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < HEADER_LEN {
            return Err(Error::truncated(Layer::Ipv4, 0, HEADER_LEN as u64, n as u64, "IPv4 header (RFC 791 §3.1)"));
        }
        if self.version() != 4 {
            return Err(Error::malformed(Layer::Ipv4, 0, "IPv4 Version is not 4 (RFC 791 §3.1)"));
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::malformed(Layer::Ipv4, 0, "IPv4 IHL below 5 (RFC 791 §3.1)"));
        }
        if n < hl {
            return Err(Error::truncated(Layer::Ipv4, 0, hl as u64, n as u64, "IPv4 header with options, per IHL (RFC 791 §3.1)"));
        }
        let tl = usize::from(self.total_len());
        if tl < hl {
            return Err(Error::malformed(Layer::Ipv4, 2, "IPv4 Total Length shorter than the header (RFC 791 §3.1)"));
        }
        if n < tl {
            return Err(Error::truncated(Layer::Ipv4, 0, tl as u64, n as u64, "IPv4 datagram shorter than Total Length (RFC 791 §3.1)"));
        }
        Ok(())
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn version(&self) -> u8 {
        self.b().get(field::VER_IHL).copied().unwrap_or(0) >> 4
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.b().get(field::VER_IHL).copied().unwrap_or(0) & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.b().get(field::TOS).copied().unwrap_or(0)
    }
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }
    pub fn ecn(&self) -> u8 {
        self.tos() & 3
    }
    pub fn total_len(&self) -> u16 {
        be16(self.b(), field::LENGTH)
    }
    pub fn ident(&self) -> u16 {
        be16(self.b(), field::IDENT)
    }
    pub fn flags(&self) -> u8 {
        (be16(self.b(), field::FLG_OFF) >> 13) as u8
    }
    /// Fragment offset in units of 8 octets.
    pub fn frag_offset(&self) -> u16 {
        be16(self.b(), field::FLG_OFF) & 0x1fff
    }
    pub fn ttl(&self) -> u8 {
        self.b().get(field::TTL).copied().unwrap_or(0)
    }
    pub fn protocol(&self) -> u8 {
        self.b().get(field::PROTOCOL).copied().unwrap_or(0)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.b(), field::CHECKSUM)
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        v4(self.b(), field::SRC_ADDR)
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        v4(self.b(), field::DST_ADDR)
    }
    pub fn options(&self) -> &[u8] {
        self.b().get(field::OPTIONS..self.header_len()).unwrap_or(&[])
    }
    /// The payload, per Total Length.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.header_len()..usize::from(self.total_len())).unwrap_or(&[])
    }
    pub fn verify_checksum(&self) -> bool {
        self.b().get(..self.header_len()).is_some_and(|h| cksum::ip_cksum(h) == 0)
    }
}

/// An owned IPv4 header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// DSCP << 2 | ECN.
    pub tos: u8,
    pub total_len: u16,
    pub ident: u16,
    /// Three bits: reserved, DF, MF (`FLAG_*`).
    pub flags: u8,
    /// In units of 8 octets.
    pub frag_offset: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    /// Raw options, a multiple of 4 octets, at most 40 (RFC 791 §3.1).
    pub options: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse and check a header; with `verify_checksum` a wrong header
    /// checksum is `Malformed` (RFC 791 §3.1, RFC 1812 §5.2.2).
    pub fn parse(data: &'a [u8], verify_checksum: bool) -> Result<Repr<'a>> {
        let p = Packet::new_checked(data)?;
        if verify_checksum && !p.verify_checksum() {
            return Err(Error::malformed(Layer::Ipv4, 10, "bad IPv4 header checksum (RFC 791 §3.1)"));
        }
        let hl = p.header_len();
        Ok(Repr {
            tos: p.tos(),
            total_len: p.total_len(),
            ident: p.ident(),
            flags: p.flags(),
            frag_offset: p.frag_offset(),
            ttl: p.ttl(),
            protocol: p.protocol(),
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            options: data.get(field::OPTIONS..hl).unwrap_or(&[]),
        })
    }

    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    pub fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Append the header with its checksum computed.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.options.len() % 4 != 0 || self.options.len() > 40 {
            return Err(Error::new(
                Layer::Ipv4,
                ErrorKind::Limit { limit: 40 },
                20,
                "IPv4 options must be a multiple of 4 octets, at most 40 (RFC 791 §3.1)",
            ));
        }
        let hl = self.header_len();
        if usize::from(self.total_len) < hl {
            return Err(Error::malformed(Layer::Ipv4, 2, "IPv4 Total Length shorter than the header (RFC 791 §3.1)"));
        }
        let start = out.len();
        out.push(0x40 | (hl / 4) as u8);
        out.push(self.tos);
        out.extend_from_slice(&self.total_len.to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        let fo = (u16::from(self.flags & 7) << 13) | (self.frag_offset & 0x1fff);
        out.extend_from_slice(&fo.to_be_bytes());
        out.push(self.ttl);
        out.push(self.protocol);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src_addr.octets());
        out.extend_from_slice(&self.dst_addr.octets());
        out.extend_from_slice(self.options);
        let c = cksum::ip_cksum(out.get(start..).unwrap_or(&[]));
        if let Some(f) = out.get_mut(start + 10..start + 12) {
            f.copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // scapy: IP(src="192.0.2.1", dst="198.51.100.2", id=0x1234, flags="DF", ttl=64, tos=0xb8,
    //   options=[IPOption_RR(routers=["0.0.0.0"])])/UDP(sport=5353, dport=53)/b"hi"
    const IP4OPT: &str = "47b800261234400040112e9dc0000201c6336402070704000000000014e90035000a961b6869";

    #[test]
    fn deconstruct_construct() {
        let b = hex(IP4OPT);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.flags(), FLAG_DF);
        assert_eq!(p.protocol(), 17);
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 10);
        let r = Repr::parse(&b, true).unwrap();
        assert_eq!(r.options, &[7, 7, 4, 0, 0, 0, 0, 0][..]);
        assert_eq!(r.src_addr, Ipv4Addr::new(192, 0, 2, 1));
        let mut out = Vec::new();
        r.emit(&mut out).unwrap();
        assert_eq!(out, b[..28]);
    }

    #[test]
    fn impossible_lengths() {
        let b = hex(IP4OPT);
        for n in 0..b.len() {
            assert!(Repr::parse(&b[..n], false).is_err());
        }
        let mut c = b.clone();
        c[0] = 0x44; // IHL 4
        assert_eq!(Repr::parse(&c, false).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = b.clone();
        c[0] = 0x67; // version 6
        assert_eq!(Repr::parse(&c, false).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = b.clone();
        c[3] = 20; // total length < header
        assert_eq!(Repr::parse(&c, false).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = b.clone();
        c[11] ^= 0xff;
        assert!(Repr::parse(&c, true).is_err());
        assert!(Repr::parse(&c, false).is_ok());
    }
}
