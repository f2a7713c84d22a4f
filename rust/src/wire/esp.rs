//! ESP header and trailer (RFC 4303 §2; old ESP RFC 1827 §3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      IV (optional) and Payload Data (variable)                |
//! ~        Padding (0-255)  | Pad Length | Next Header            ~
//! |         Integrity Check Value (ICV) (variable)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! The trailer is encrypted, so only the clear header is a view here; the
//! trailer accessors work on a decrypted payload.

use crate::error::{Error, Layer, Result};

mod field {
    use core::ops::Range;
    pub const SPI: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const HEADER_LEN: usize = 8;
}

/// A view of an ESP header.
#[derive(Debug, Clone, Copy)]
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

    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < field::HEADER_LEN {
            return Err(Error::truncated(Layer::Esp, 0, field::HEADER_LEN as u64, n as u64, "ESP header (RFC 4303 §2)"));
        }
        Ok(())
    }

    pub fn spi(&self) -> u32 {
        let b = self.buffer.as_ref();
        b.get(field::SPI).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes).unwrap_or(0)
    }

    pub fn sequence_number(&self) -> u32 {
        let b = self.buffer.as_ref();
        b.get(field::SEQ).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes).unwrap_or(0)
    }

    /// Everything after SPI and sequence number (IV, ciphertext, ICV).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_spi(&mut self, v: u32) {
        if let Some(s) = self.buffer.as_mut().get_mut(field::SPI) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn set_sequence_number(&mut self, v: u32) {
        if let Some(s) = self.buffer.as_mut().get_mut(field::SEQ) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
}

/// The clear ESP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub spi: u32,
    pub sequence_number: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr { spi: p.spi(), sequence_number: p.sequence_number() })
    }
    pub const fn buffer_len(&self) -> usize {
        field::HEADER_LEN
    }
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_spi(self.spi);
        p.set_sequence_number(self.sequence_number);
    }
}

/// The decrypted trailer (RFC 4303 §2.4-2.6): pad length and next header,
/// the last two octets of the decrypted payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub pad_length: u8,
    pub next_header: u8,
}

impl Trailer {
    pub fn parse(plaintext: &[u8]) -> Result<Trailer> {
        let n = plaintext.len();
        match (n.checked_sub(2).and_then(|i| plaintext.get(i)), n.checked_sub(1).and_then(|i| plaintext.get(i))) {
            (Some(&pad_length), Some(&next_header)) if usize::from(pad_length) + 2 <= n => Ok(Trailer { pad_length, next_header }),
            (Some(_), Some(_)) => Err(Error::new(Layer::Esp, crate::error::ErrorKind::BadPadding, (n - 2) as u64, "pad length exceeds the payload (RFC 4303 §2.4)")),
            _ => Err(Error::truncated(Layer::Esp, 0, 2, n as u64, "ESP trailer (RFC 4303 §2.4)")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // RFC 3602 §4 Case #3's ESP header: SPI 0x00004321, sequence 1
    static BYTES: [u8; 8] = [0x00, 0x00, 0x43, 0x21, 0x00, 0x00, 0x00, 0x01];

    #[test]
    fn deconstruct_construct() {
        let p = Packet::new_checked(&BYTES[..]).unwrap();
        assert_eq!(p.spi(), 0x4321);
        assert_eq!(p.sequence_number(), 1);
        let r = Repr::parse(&p).unwrap();
        let mut buf = [0u8; 8];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, BYTES);
        assert_eq!(r.buffer_len(), 8);
    }

    #[test]
    fn truncated_and_trailer() {
        assert!(Packet::new_checked(&BYTES[..7]).unwrap_err().is_truncated());
        assert_eq!(Trailer::parse(&[1, 2, 2, 4]).unwrap(), Trailer { pad_length: 2, next_header: 4 });
        assert!(Trailer::parse(&[1, 5, 4]).is_err());
        assert!(Trailer::parse(&[4]).unwrap_err().is_truncated());
    }
}
