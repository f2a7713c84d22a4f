//! Authentication Header (RFC 4302 §2; old AH RFC 1826 §2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Header   |  Payload Len  |          RESERVED             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Security Parameters Index (SPI)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Sequence Number Field                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Integrity Check Value-ICV (variable)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Payload Len is the AH length in 32-bit words minus 2 (RFC 4302 §2.2).
//! Old AH has no sequence number and its Length counts only the
//! Authentication Data in 32-bit words (RFC 1826 §2).

use crate::error::{Error, Layer, Result};

mod field {
    pub const NEXT_HEADER: usize = 0;
    pub const PAYLOAD_LEN: usize = 1;
    pub const RESERVED: core::ops::Range<usize> = 2..4;
    pub const SPI: core::ops::Range<usize> = 4..8;
    pub const SEQ: core::ops::Range<usize> = 8..12;
    pub const ICV_START: usize = 12;
}

#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    b.get(r).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes).unwrap_or(0)
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

    /// The fixed part and the whole header its length field claims are there.
    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < field::ICV_START {
            return Err(Error::truncated(Layer::Ah, 0, field::ICV_START as u64, n as u64, "AH fixed header (RFC 4302 §2)"));
        }
        if n < self.header_len() {
            return Err(Error::truncated(Layer::Ah, 1, self.header_len() as u64, n as u64, "AH Payload Len (RFC 4302 §2.2)"));
        }
        Ok(())
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref().get(field::NEXT_HEADER).copied().unwrap_or(0)
    }
    pub fn payload_len(&self) -> u8 {
        self.buffer.as_ref().get(field::PAYLOAD_LEN).copied().unwrap_or(0)
    }
    pub fn reserved(&self) -> u16 {
        let b = self.buffer.as_ref();
        b.get(field::RESERVED).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
    }
    pub fn spi(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SPI)
    }
    pub fn sequence_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }
    /// AH length in octets: (Payload Len + 2) × 4.
    pub fn header_len(&self) -> usize {
        (usize::from(self.payload_len()) + 2) * 4
    }
    /// ICV field including any padding.
    pub fn icv(&self) -> &[u8] {
        self.buffer.as_ref().get(field::ICV_START..self.header_len()).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_next_header(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::NEXT_HEADER) {
            *b = v;
        }
    }
    pub fn set_payload_len(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::PAYLOAD_LEN) {
            *b = v;
        }
    }
    pub fn set_reserved(&mut self, v: u16) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::RESERVED) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_spi(&mut self, v: u32) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::SPI) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_sequence_number(&mut self, v: u32) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::SEQ) {
            b.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn icv_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buffer.as_mut().get_mut(field::ICV_START..end).unwrap_or(&mut [])
    }
}

/// An AH header (new AH); `icv` includes padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    pub next_header: u8,
    pub spi: u32,
    pub sequence_number: u32,
    pub icv: Vec<u8>,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.payload_len() < 1 {
            return Err(Error::malformed(Layer::Ah, 1, "AH Payload Len below 1 (RFC 4302 §2.2)"));
        }
        Ok(Repr { next_header: p.next_header(), spi: p.spi(), sequence_number: p.sequence_number(), icv: p.icv().to_vec() })
    }
    pub fn buffer_len(&self) -> usize {
        field::ICV_START + self.icv.len()
    }
    /// Sets every octet (reserved is zero). `icv.len()` must be a multiple of 4.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_next_header(self.next_header);
        p.set_payload_len((self.buffer_len() / 4).saturating_sub(2) as u8);
        p.set_reserved(0);
        p.set_spi(self.spi);
        p.set_sequence_number(self.sequence_number);
        let icv = &self.icv;
        for (d, s) in p.icv_mut().iter_mut().zip(icv) {
            *d = *s;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // AH with HMAC-SHA1-96 over UDP: payload len 4 (24 octets), SPI 0x2000, seq 1
    static BYTES: [u8; 24] = [
        17, 4, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    #[test]
    fn deconstruct_construct() {
        let p = Packet::new_checked(&BYTES[..]).unwrap();
        assert_eq!((p.next_header(), p.payload_len(), p.reserved()), (17, 4, 0));
        assert_eq!((p.spi(), p.sequence_number()), (0x2000, 1));
        assert_eq!(p.icv().len(), 12);
        let r = Repr::parse(&p).unwrap();
        let mut buf = [0u8; 24];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, BYTES);
    }

    #[test]
    fn truncated_and_impossible() {
        assert!(Packet::new_checked(&BYTES[..11]).unwrap_err().is_truncated());
        assert!(Packet::new_checked(&BYTES[..20]).unwrap_err().is_truncated());
        let mut b = BYTES;
        b[1] = 0;
        assert!(Repr::parse(&Packet::new_unchecked(&b[..])).is_err());
    }
}
