//! Linux "cooked" capture headers, what `tcpdump -i any` writes in place
//! of a link header: LINKTYPE_LINUX_SLL (113) and LINKTYPE_LINUX_SLL2 (276)
//! (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>, `..._SLL2`).
//!
//! ```text
//! SLL (16 octets)                        SLL2 (20 octets)
//! +---------------------------+          +---------------------------+
//! |  Packet type       (2)    |          |  Protocol type     (2)    |
//! |  ARPHRD_ type      (2)    |          |  Reserved (MBZ)    (2)    |
//! |  Address length    (2)    |          |  Interface index   (4)    |
//! |  Address           (8)    |          |  ARPHRD_ type      (2)    |
//! |  Protocol type     (2)    |          |  Packet type (1) | len (1)|
//! +---------------------------+          |  Address           (8)    |
//!                                        +---------------------------+
//! ```
//!
//! The protocol type is an EtherType when the ARPHRD_ type is an Ethernet-
//! like one (and for every IP packet); the address is the sender's link
//! address, `len` octets of the 8 (an address longer than 8 is cut).

use crate::error::{Error, Layer, Result};

mod field {
    use core::ops::Range;
    pub const V1_PKTTYPE: Range<usize> = 0..2;
    pub const V1_HATYPE: Range<usize> = 2..4;
    pub const V1_HALEN: Range<usize> = 4..6;
    pub const V1_ADDR: Range<usize> = 6..14;
    pub const V1_PROTOCOL: Range<usize> = 14..16;
    pub const V2_PROTOCOL: Range<usize> = 0..2;
    pub const V2_RESERVED: Range<usize> = 2..4;
    pub const V2_IFINDEX: Range<usize> = 4..8;
    pub const V2_HATYPE: Range<usize> = 8..10;
    pub const V2_PKTTYPE: usize = 10;
    pub const V2_HALEN: usize = 11;
    pub const V2_ADDR: Range<usize> = 12..20;
}

pub const V1_HEADER_LEN: usize = 16;
pub const V2_HEADER_LEN: usize = 20;

/// Packet types (`PACKET_*` of `<linux/if_packet.h>`).
pub mod pkttype {
    /// To us.
    pub const HOST: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const MULTICAST: u8 = 2;
    /// To someone else, seen in promiscuous mode.
    pub const OTHERHOST: u8 = 3;
    /// Sent by the capturing host.
    pub const OUTGOING: u8 = 4;
}

/// Which of the two header formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2,
}

/// A cooked header of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub version: Version,
    /// One of [`pkttype`] (16 bits in SLL, 8 in SLL2).
    pub pkttype: u16,
    /// The `ARPHRD_` type of the interface (1 = Ethernet, 772 = loopback).
    pub hatype: u16,
    /// Link-layer address length as on the wire (may exceed 8).
    pub addr_len: u16,
    /// The first (up to) 8 octets of the link-layer source address.
    pub addr: [u8; 8],
    /// The protocol type (an EtherType for IP, ARP...).
    pub protocol: u16,
    /// SLL2 only: the capturing interface's index.
    pub ifindex: Option<u32>,
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

impl Repr {
    /// Parse the header at the start of `frame`; the payload starts at
    /// [`Repr::buffer_len`].
    pub fn parse(frame: &[u8], version: Version) -> Result<Repr> {
        let need = match version {
            Version::V1 => V1_HEADER_LEN,
            Version::V2 => V2_HEADER_LEN,
        };
        if frame.len() < need {
            let what = match version {
                Version::V1 => "Linux cooked header (LINKTYPE_LINUX_SLL)",
                Version::V2 => "Linux cooked header (LINKTYPE_LINUX_SLL2)",
            };
            return Err(Error::truncated(Layer::Sll, 0, need as u64, frame.len() as u64, what));
        }
        let mut addr = [0u8; 8];
        Ok(match version {
            Version::V1 => {
                addr.copy_from_slice(frame.get(field::V1_ADDR).unwrap_or(&[0; 8]));
                Repr {
                    version,
                    pkttype: be16(frame, field::V1_PKTTYPE),
                    hatype: be16(frame, field::V1_HATYPE),
                    addr_len: be16(frame, field::V1_HALEN),
                    addr,
                    protocol: be16(frame, field::V1_PROTOCOL),
                    ifindex: None,
                }
            }
            Version::V2 => {
                addr.copy_from_slice(frame.get(field::V2_ADDR).unwrap_or(&[0; 8]));
                let ifindex = frame
                    .get(field::V2_IFINDEX)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                    .map(u32::from_be_bytes);
                Repr {
                    version,
                    pkttype: u16::from(frame.get(field::V2_PKTTYPE).copied().unwrap_or(0)),
                    hatype: be16(frame, field::V2_HATYPE),
                    addr_len: u16::from(frame.get(field::V2_HALEN).copied().unwrap_or(0)),
                    addr,
                    protocol: be16(frame, field::V2_PROTOCOL),
                    ifindex,
                }
            }
        })
    }

    /// The link-layer address (at most 8 octets are kept).
    pub fn address(&self) -> &[u8] {
        self.addr.get(..usize::from(self.addr_len).min(8)).unwrap_or(&[])
    }

    /// Whether the capturing host sent this packet.
    pub fn outgoing(&self) -> bool {
        self.pkttype == u16::from(pkttype::OUTGOING)
    }

    pub const fn buffer_len(&self) -> usize {
        match self.version {
            Version::V1 => V1_HEADER_LEN,
            Version::V2 => V2_HEADER_LEN,
        }
    }

    /// Write the header (every octet; SLL2's reserved field as zero).
    #[allow(clippy::indexing_slicing)] // `out` is exactly buffer_len() long
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let n = self.buffer_len();
        let have = buf.len() as u64;
        let Some(out) = buf.get_mut(..n) else {
            return Err(Error::truncated(Layer::Sll, 0, n as u64, have, "Linux cooked header buffer"));
        };
        match self.version {
            Version::V1 => {
                out[field::V1_PKTTYPE].copy_from_slice(&self.pkttype.to_be_bytes());
                out[field::V1_HATYPE].copy_from_slice(&self.hatype.to_be_bytes());
                out[field::V1_HALEN].copy_from_slice(&self.addr_len.to_be_bytes());
                out[field::V1_ADDR].copy_from_slice(&self.addr);
                out[field::V1_PROTOCOL].copy_from_slice(&self.protocol.to_be_bytes());
            }
            Version::V2 => {
                out[field::V2_PROTOCOL].copy_from_slice(&self.protocol.to_be_bytes());
                out[field::V2_RESERVED].copy_from_slice(&[0, 0]);
                out[field::V2_IFINDEX].copy_from_slice(&self.ifindex.unwrap_or(0).to_be_bytes());
                out[field::V2_HATYPE].copy_from_slice(&self.hatype.to_be_bytes());
                out[field::V2_PKTTYPE] = u8::try_from(self.pkttype).unwrap_or(u8::MAX);
                out[field::V2_HALEN] = u8::try_from(self.addr_len).unwrap_or(u8::MAX);
                out[field::V2_ADDR].copy_from_slice(&self.addr);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outgoing IPv6 packet on a veth, as `tcpdump -i any -y LINUX_SLL2`
    /// wrote it here (ifindex 2, ARPHRD_ETHER, 6-octet address).
    const V2: [u8; 20] = [0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 0x2e, 0xf9, 0xec, 0x65, 0x0f, 0xf0, 0, 0];
    /// The same packet with `-y LINUX_SLL`.
    const V1: [u8; 16] = [0, 4, 0, 1, 0, 6, 0x2e, 0xf9, 0xec, 0x65, 0x0f, 0xf0, 0, 0, 0x86, 0xdd];

    #[test]
    fn both_versions_say_the_same() {
        let a = Repr::parse(&V1, Version::V1).unwrap();
        let b = Repr::parse(&V2, Version::V2).unwrap();
        assert_eq!((a.protocol, a.pkttype, a.hatype, a.address()), (0x86dd, 4, 1, &V1[6..12]));
        assert_eq!((b.protocol, b.pkttype, b.hatype, b.address()), (0x86dd, 4, 1, &V1[6..12]));
        assert!(a.outgoing() && b.outgoing());
        assert_eq!(b.ifindex, Some(2));
        let (mut o1, mut o2) = ([0xffu8; 16], [0xffu8; 20]);
        a.emit(&mut o1).unwrap();
        b.emit(&mut o2).unwrap();
        assert_eq!((o1, o2), (V1, V2));
    }

    #[test]
    fn truncated_and_long_addresses() {
        assert!(Repr::parse(&V1[..15], Version::V1).unwrap_err().is_truncated());
        assert!(Repr::parse(&V2[..19], Version::V2).unwrap_err().is_truncated());
        let mut long = V1;
        long[5] = 20;
        assert_eq!(Repr::parse(&long, Version::V1).unwrap().address().len(), 8);
    }
}
