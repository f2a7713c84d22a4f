//! UDP (RFC 768), over IPv6 (RFC 8200 §8.1: a zero checksum is invalid)
//! and over jumbograms (RFC 2675 §4: a Length field of 0, the real length
//! from the IP layer, carried as `u64`).
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |     Source      |   Destination   |
//! |      Port       |      Port       |
//! +--------+--------+--------+--------+
//! |     Length      |    Checksum     |
//! +--------+--------+--------+--------+
//! ```

use crate::cksum::Pseudo;
use crate::error::{Error, ErrorKind, Layer, Result};
use crate::wire::proto;

mod field {
    #![allow(dead_code)]
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const PAYLOAD: usize = 8;
}

pub const HEADER_LEN: usize = 8;

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

/// A view of a UDP datagram. `buffer` is the datagram as delimited by the
/// IP layer (its length is the jumbo length when the Length field is 0).
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

    /// Check the Length field against the buffer (RFC 768, RFC 2675 §4).
    pub fn check_len(&self) -> Result<()> {
        self.datagram_len().map(|_| ())
    }

    /// The datagram length: the Length field, or for a jumbogram (Length
    /// 0 and more than 65535 octets from the IP layer) the buffer length.
    pub fn datagram_len(&self) -> Result<u64> {
        let b = self.buffer.as_ref();
        let n = b.len() as u64;
        if b.len() < HEADER_LEN {
            return Err(Error::truncated(Layer::Udp, 0, HEADER_LEN as u64, n, "UDP header (RFC 768)"));
        }
        let l = self.len_field();
        if l == 0 {
            if n > 65535 {
                return Ok(n);
            }
            return Err(Error::malformed(Layer::Udp, 4, "UDP Length 0 outside a jumbogram (RFC 2675 §4)"));
        }
        if usize::from(l) < HEADER_LEN {
            return Err(Error::malformed(Layer::Udp, 4, "UDP Length below 8 (RFC 768)"));
        }
        if u64::from(l) > n {
            return Err(Error::truncated(Layer::Udp, 0, u64::from(l), n, "UDP datagram shorter than its Length field (RFC 768)"));
        }
        Ok(u64::from(l))
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn len_field(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// The datagram per [`Packet::datagram_len`] (empty if invalid).
    pub fn datagram(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        match self.datagram_len() {
            Ok(l) => usize::try_from(l).ok().and_then(|l| b.get(..l)).unwrap_or(&[]),
            Err(_) => &[],
        }
    }
    pub fn payload(&self) -> &[u8] {
        self.datagram().get(field::PAYLOAD..).unwrap_or(&[])
    }

    /// Whether the checksum is right. Over IPv4 a zero checksum means "none"
    /// and passes (RFC 768); over IPv6 it fails (RFC 8200 §8.1).
    pub fn verify_checksum(&self, pseudo: &Pseudo) -> bool {
        if self.checksum() == 0 {
            return !pseudo.is_v6();
        }
        pseudo.verify(proto::UDP, self.datagram())
    }
}

/// An owned UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse, verifying the checksum when the pseudo-header is given.
    /// Octets past the Length field are ignored.
    pub fn parse(data: &'a [u8], pseudo: Option<&Pseudo>) -> Result<Repr<'a>> {
        let p = Packet::new_checked(data)?;
        if let Some(ph) = pseudo {
            if p.len_field() == 0 && !ph.is_v6() {
                return Err(Error::malformed(Layer::Udp, 4, "UDP Length 0 over IPv4 (RFC 768; jumbograms are IPv6 only, RFC 2675)"));
            }
            if p.checksum() == 0 && ph.is_v6() {
                return Err(Error::malformed(Layer::Udp, 6, "UDP checksum 0 is invalid over IPv6 (RFC 8200 §8.1)"));
            }
            if !p.verify_checksum(ph) {
                return Err(Error::malformed(Layer::Udp, 6, "bad UDP checksum (RFC 768, RFC 8200 §8.1)"));
            }
        }
        let l = usize::try_from(p.datagram_len()?).unwrap_or(usize::MAX);
        let payload = data.get(field::PAYLOAD..l).unwrap_or(&[]);
        Ok(Repr { src_port: p.src_port(), dst_port: p.dst_port(), payload })
    }

    /// Header plus payload, as `u64` (a jumbogram may exceed 65535).
    pub fn buffer_len(&self) -> u64 {
        HEADER_LEN as u64 + self.payload.len() as u64
    }

    /// Append header and payload. The checksum is computed when `pseudo` is
    /// given (a computed 0 is sent as 0xffff, RFC 768), else left 0. A
    /// datagram longer than 65535 octets gets Length 0 (RFC 2675 §4); over
    /// IPv4 it is refused.
    pub fn emit(&self, out: &mut Vec<u8>, pseudo: Option<&Pseudo>) -> Result<()> {
        let total = self.buffer_len();
        let len_field = match u16::try_from(total) {
            Ok(l) => l,
            Err(_) if pseudo.is_some_and(|p| !p.is_v6()) => {
                return Err(Error::new(Layer::Udp, ErrorKind::Limit { limit: 65535 }, 4, "UDP datagram over 65535 octets needs IPv6 jumbograms (RFC 2675 §4)"))
            }
            Err(_) => 0,
        };
        let start = out.len();
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&len_field.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(self.payload);
        if let Some(ph) = pseudo {
            let d = out.get(start..).unwrap_or(&[]);
            let mut c = ph.cksum(proto::UDP, total, [d])?;
            if c == 0 {
                c = 0xffff;
            }
            if let Some(f) = out.get_mut(start + 6..start + 8) {
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
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
    fn v6() -> Pseudo {
        Pseudo::V6 { src: "2001:db8::1".parse().unwrap(), dst: "2001:db8::2".parse().unwrap() }
    }
    fn v4() -> Pseudo {
        Pseudo::V4 { src: Ipv4Addr::new(10, 0, 0, 1), dst: Ipv4Addr::new(10, 0, 0, 2) }
    }

    // scapy: IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=546, dport=547)/b"dhcp"
    const UDP6: &str = "02220223000cd84364686370";
    // scapy: IP(src="10.0.0.1", dst="10.0.0.2")/UDP(sport=1234, dport=53)/b"hello"
    const UDP4: &str = "04d20035000da2f868656c6c6f";

    #[test]
    fn deconstruct_construct_v6() {
        let b = hex(UDP6);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len_field(), p.checksum()), (546, 547, 12, 0xd843));
        assert!(p.verify_checksum(&v6()));
        let r = Repr::parse(&b, Some(&v6())).unwrap();
        assert_eq!(r, Repr { src_port: 546, dst_port: 547, payload: b"dhcp" });
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v6())).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn v4_and_zero_checksum() {
        let b = hex(UDP4);
        let r = Repr::parse(&b, Some(&v4())).unwrap();
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v4())).unwrap();
        assert_eq!(out, b);
        let mut z = b.clone();
        z[6] = 0;
        z[7] = 0;
        assert!(Repr::parse(&z, Some(&v4())).is_ok());
        let e = Repr::parse(&z, Some(&v6())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.reason.contains("8200"));
    }

    #[test]
    fn lengths() {
        let b = hex(UDP6);
        for n in 0..b.len() {
            assert!(Repr::parse(&b[..n], None).is_err());
        }
        let mut c = b.clone();
        c[5] = 7;
        assert_eq!(Repr::parse(&c, None).unwrap_err().kind, ErrorKind::Malformed);
        // trailing octets past Length are ignored
        let mut c = b.clone();
        c.extend_from_slice(&[9, 9]);
        assert_eq!(Repr::parse(&c, Some(&v6())).unwrap().payload, b"dhcp");
        // Length 0 in a small datagram
        let mut c = b.clone();
        c[4] = 0;
        c[5] = 0;
        assert_eq!(Repr::parse(&c, None).unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn jumbogram() {
        let payload: Vec<u8> = (0..70000u32).map(|i| i as u8).collect();
        let r = Repr { src_port: 7, dst_port: 9, payload: &payload };
        let mut out = Vec::new();
        r.emit(&mut out, Some(&v6())).unwrap();
        assert_eq!(&out[4..6], &[0, 0]);
        assert_eq!(out.len(), 70008);
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(p.datagram_len().unwrap(), 70008);
        let back = Repr::parse(&out, Some(&v6())).unwrap();
        assert_eq!(back, r);
        // The checksum uses the 32-bit length 70008.
        let s: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut z = out.clone();
        z[6] = 0;
        z[7] = 0;
        let want = crate::cksum::reference::in6_cksum(&s, &d, 17, 70008, &[&z]);
        assert_eq!(u16::from_be_bytes([out[6], out[7]]), want);
        assert!(r.emit(&mut Vec::new(), Some(&v4())).is_err());
        assert!(Repr::parse(&out, Some(&v4())).is_err());
    }
}
