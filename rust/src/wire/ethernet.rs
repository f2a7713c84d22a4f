//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894 / RFC 2464),
//! with 802.1Q VLAN tags skipped. Only what a host on a TAP device or a
//! pcap with linktype 1 needs: addresses, the EtherType and the payload.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Destination MAC (6 octets)                   |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                    Source MAC (6 octets)                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          EtherType            |  payload ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::error::{Error, Layer, Result};

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

pub const HEADER_LEN: usize = 14;
/// At most this many 802.1Q/802.1ad tags are skipped (QinQ and one more).
pub const MAX_VLAN_TAGS: usize = 3;

pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const RARP: u16 = 0x8035;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
}

/// A parsed Ethernet II header: addresses, the EtherType after any VLAN
/// tags, and where the payload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
    /// VLAN ids of the tags skipped, outermost first (0 when absent).
    pub vlans: [u16; MAX_VLAN_TAGS],
    pub vlan_count: u8,
    /// Offset of the payload from the start of the frame.
    pub payload_offset: usize,
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at + 2)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

impl Repr {
    pub fn parse(frame: &[u8]) -> Result<Repr> {
        if frame.len() < HEADER_LEN {
            return Err(Error::truncated(
                Layer::Ethernet,
                0,
                HEADER_LEN as u64,
                frame.len() as u64,
                "Ethernet header (RFC 894)",
            ));
        }
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(frame.get(field::DST).unwrap_or(&[0; 6]));
        src.copy_from_slice(frame.get(field::SRC).unwrap_or(&[0; 6]));
        let mut at = field::ETHERTYPE.start;
        let mut ethertype = be16(frame, at).unwrap_or(0);
        let mut vlans = [0u16; MAX_VLAN_TAGS];
        let mut vlan_count = 0usize;
        while ethertype == ethertype::VLAN || ethertype == ethertype::QINQ {
            if vlan_count == MAX_VLAN_TAGS {
                return Err(Error::malformed(Layer::Ethernet, at as u64, "too many 802.1Q tags"));
            }
            let (Some(tci), Some(next)) = (be16(frame, at + 2), be16(frame, at + 4)) else {
                return Err(Error::truncated(
                    Layer::Ethernet,
                    at as u64,
                    6,
                    (frame.len() - at) as u64,
                    "802.1Q tag",
                ));
            };
            if let Some(slot) = vlans.get_mut(vlan_count) {
                *slot = tci & 0x0fff;
            }
            vlan_count += 1;
            ethertype = next;
            at += 4;
        }
        Ok(Repr {
            dst,
            src,
            ethertype,
            vlans,
            vlan_count: vlan_count as u8,
            payload_offset: at + 2,
        })
    }

    /// Bytes `emit` writes (no VLAN tags are emitted).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 14-byte untagged header into `buf`.
    #[allow(clippy::indexing_slicing)] // `out` is exactly HEADER_LEN long
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(Error::truncated(Layer::Ethernet, 0, HEADER_LEN as u64, buf.len() as u64, "Ethernet header buffer"));
        };
        out[field::DST].copy_from_slice(&self.dst);
        out[field::SRC].copy_from_slice(&self.src);
        out[field::ETHERTYPE].copy_from_slice(&self.ethertype.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 33:33:00:00:00:01 <- 02:00:00:00:00:01, IPv6, then two payload bytes.
    const FRAME: [u8; 16] = [
        0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd, 0x60, 0x00,
    ];

    #[test]
    fn deconstruct_and_round_trip() {
        let r = Repr::parse(&FRAME).unwrap();
        assert_eq!(r.dst, [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(r.ethertype, ethertype::IPV6);
        assert_eq!(r.payload_offset, 14);
        let mut out = [0u8; 14];
        r.emit(&mut out).unwrap();
        assert_eq!(&out[..], &FRAME[..14]);
    }

    #[test]
    fn vlan_tags_are_skipped_and_bounded() {
        let mut f = FRAME[..12].to_vec();
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a, 0x86, 0xdd, 0x60]);
        let r = Repr::parse(&f).unwrap();
        assert_eq!((r.vlan_count, r.vlans[0], r.payload_offset), (1, 42, 18));
        let mut loop_ = FRAME[..12].to_vec();
        for _ in 0..5 {
            loop_.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        loop_.extend_from_slice(&[0x86, 0xdd]);
        assert!(Repr::parse(&loop_).is_err());
        assert!(Repr::parse(&f[..15]).unwrap_err().is_truncated());
        assert!(Repr::parse(&FRAME[..10]).unwrap_err().is_truncated());
    }
}
