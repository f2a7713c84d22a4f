//! The IPComp header (RFC 3173 §3, RFC 2393 before it).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  |     Flags     | Compression Parameter Index   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! ~                       Compressed Payload                      ~
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Flags are reserved: zero when sent, ignored when received (RFC 3173
//! §3), so `Repr` keeps whatever arrived and `emit` writes what the `Repr`
//! says (zero unless a caller sets it).
//!
//! CPI values (RFC 3173 §3, IANA "IPComp transform identifiers"): 0
//! reserved, 1 OUI, 2 DEFLATE (RFC 2394), 3 LZS, 4 LZJH, 5–47 reserved,
//! 48–63 private use, 64–255 reserved, 256–65535 negotiated (KAME hands out
//! negotiated CPIs from 256 up, seed §4.4).

use crate::error::{Error, Layer, Result};

mod field {
    use core::ops::Range;
    pub const NXT_HDR: usize = 0;
    pub const FLAGS: usize = 1;
    pub const CPI: Range<usize> = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// Length of the IPComp header in octets.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// Well-known and range boundaries of the CPI space (RFC 3173 §3).
pub mod cpi {
    pub const OUI: u16 = 1;
    pub const DEFLATE: u16 = 2;
    pub const LZS: u16 = 3;
    pub const LZJH: u16 = 4;
    /// First negotiated CPI.
    pub const NEGOTIATED_MIN: u16 = 256;

    /// Whether a CPI is one IKE may negotiate (256–65535).
    pub const fn is_negotiated(cpi: u16) -> bool {
        cpi >= NEGOTIATED_MIN
    }
    /// Whether a CPI may appear on the wire at all: not 0, not in the
    /// reserved 5–47 / 64–255 ranges.
    pub const fn is_usable(cpi: u16) -> bool {
        matches!(cpi, 1..=4 | 48..=63 | 256..=u16::MAX)
    }
}

/// A zero-copy view of an IPComp header and the payload after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; accessors may then see short data
    /// only through `check_len`.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and check that it holds at least the 4-octet header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// After this returns `Ok`, no accessor can fail.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated(
                Layer::IpComp,
                0,
                HEADER_LEN as u64,
                len as u64,
                "IPComp header (RFC 3173 §3)",
            ));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    /// The protocol of the payload once decompressed.
    pub fn next_header(&self) -> u8 {
        self.byte(field::NXT_HDR)
    }

    /// Reserved flags (ignored on receipt).
    pub fn flags(&self) -> u8 {
        self.byte(field::FLAGS)
    }

    /// Compression Parameter Index.
    pub fn cpi(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::CPI.start), self.byte(field::CPI.start + 1)])
    }

    /// The compressed payload.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, i: usize, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(i) {
            *b = v;
        }
    }
    pub fn set_next_header(&mut self, v: u8) {
        self.set_byte(field::NXT_HDR, v)
    }
    pub fn set_flags(&mut self, v: u8) {
        self.set_byte(field::FLAGS, v)
    }
    pub fn set_cpi(&mut self, v: u16) {
        let [a, b] = v.to_be_bytes();
        self.set_byte(field::CPI.start, a);
        self.set_byte(field::CPI.start + 1, b);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or(&mut [])
    }
}

/// The owned form of an IPComp header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub next_header: u8,
    pub flags: u8,
    pub cpi: u16,
}

impl Repr {
    /// Parse the header. The flags are kept as they arrived (RFC 3173 §3
    /// says to ignore them); CPI 0 is refused as reserved.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        let cpi = packet.cpi();
        if cpi == 0 {
            return Err(Error::malformed(
                Layer::IpComp,
                2,
                "CPI 0 is reserved (RFC 3173 §3)",
            ));
        }
        Ok(Repr {
            next_header: packet.next_header(),
            flags: packet.flags(),
            cpi,
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write every header byte.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_next_header(self.next_header);
        packet.set_flags(self.flags);
        packet.set_cpi(self.cpi);
    }

    /// The header as 4 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [a, b] = self.cpi.to_be_bytes();
        [self.next_header, self.flags, a, b]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    // IPComp over IPv6 carrying TCP, well-known DEFLATE CPI, then the first
    // bytes of a raw deflate stream (a fixed-Huffman final block).
    static PACKET_BYTES: [u8; 8] = [0x06, 0x00, 0x00, 0x02, 0xcb, 0x48, 0xcd, 0xc9];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(p.next_header(), 6);
        assert_eq!(p.flags(), 0);
        assert_eq!(p.cpi(), cpi::DEFLATE);
        assert_eq!(p.payload(), &PACKET_BYTES[4..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 8];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_next_header(6);
        p.set_flags(0);
        p.set_cpi(2);
        p.payload_mut().copy_from_slice(&PACKET_BYTES[4..]);
        assert_eq!(buf, PACKET_BYTES);
    }

    #[test]
    fn parse_emit() {
        let r = Repr::parse(&Packet::new_unchecked(&PACKET_BYTES[..])).unwrap();
        assert_eq!(
            r,
            Repr {
                next_header: 6,
                flags: 0,
                cpi: 2
            }
        );
        let mut buf = [0u8; 4];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, PACKET_BYTES[..4]);
        assert_eq!(r.to_bytes(), buf);
        assert_eq!(r.buffer_len(), 4);
    }

    #[test]
    fn flags_ignored_but_kept() {
        let r = Repr::parse(&Packet::new_unchecked(&[41u8, 0xa5, 0x01, 0x00][..])).unwrap();
        assert_eq!(
            r,
            Repr {
                next_header: 41,
                flags: 0xa5,
                cpi: 256
            }
        );
        assert!(cpi::is_negotiated(r.cpi));
    }

    #[test]
    fn truncated() {
        for n in 0..4 {
            let e = Packet::new_checked(&PACKET_BYTES[..n]).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Truncated {
                    needed: 4,
                    available: n as u64
                }
            );
            // unchecked accessors never panic on short input
            let p = Packet::new_unchecked(&PACKET_BYTES[..n]);
            let _ = (p.next_header(), p.flags(), p.cpi(), p.payload());
        }
    }

    #[test]
    fn cpi_zero_reserved() {
        let e = Repr::parse(&Packet::new_unchecked(&[6u8, 0, 0, 0][..])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn cpi_ranges() {
        assert!(cpi::is_usable(2) && cpi::is_usable(48) && cpi::is_usable(256));
        assert!(!cpi::is_usable(0) && !cpi::is_usable(5) && !cpi::is_usable(64));
        assert!(!cpi::is_usable(255));
    }
}
