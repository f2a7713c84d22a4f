//! ARP (RFC 826) and RARP (RFC 903): a view of any hardware / protocol
//! address sizes, and a `Repr` of the one pairing a host meets, Ethernet
//! hardware addresses and IPv4 protocol addresses.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Hardware Type         |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Hw Addr Len  | Proto Addr Len|           Operation           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Sender Hardware Address (Hw Addr Len octets) ...             |
//! |  Sender Protocol Address (Proto Addr Len octets) ...          |
//! |  Target Hardware Address (Hw Addr Len octets) ...             |
//! |  Target Protocol Address (Proto Addr Len octets) ...          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! What a receiver refuses, in the order `Repr::parse` checks it (the
//! order of BSD's `arpintr` / `in_arpinput`): fewer than 8 octets
//! (truncated); a hardware type other than Ethernet or a protocol type
//! other than IPv4 (unsupported); Ethernet with an address length other
//! than 6, or IPv4 with one other than 4 (malformed); fewer octets than
//! the four addresses need (truncated). Octets past the addresses (the
//! padding of a minimum-size Ethernet frame) are ignored.

use core::net::Ipv4Addr;

use crate::error::{Error, ErrorKind, Layer, Result};

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: usize = 8;
}

/// The fixed part (types, lengths, operation).
pub const HEADER_LEN: usize = 8;
/// An Ethernet/IPv4 ARP packet: 8 + 2 × (6 + 4).
pub const ETHERNET_IPV4_LEN: usize = 28;

/// Hardware types (IANA "Hardware Types"); only Ethernet is understood.
pub mod hardware {
    pub const ETHERNET: u16 = 1;
}

/// The protocol type is an EtherType; only IPv4 is understood.
pub const PROTOCOL_IPV4: u16 = 0x0800;

/// The Operation field (IANA "Operation Codes"): an open set, unknown
/// values round-trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Request,
    Reply,
    /// RARP (RFC 903).
    ReverseRequest,
    ReverseReply,
    /// Inverse ARP (RFC 2390).
    InverseRequest,
    InverseReply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            3 => Operation::ReverseRequest,
            4 => Operation::ReverseReply,
            8 => Operation::InverseRequest,
            9 => Operation::InverseReply,
            v => Operation::Unknown(v),
        }
    }
}

impl From<Operation> for u16 {
    fn from(o: Operation) -> u16 {
        match o {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::ReverseRequest => 3,
            Operation::ReverseReply => 4,
            Operation::InverseRequest => 8,
            Operation::InverseReply => 9,
            Operation::Unknown(v) => v,
        }
    }
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

/// A view of an ARP packet with any address sizes.
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

    /// The fixed part and the four addresses its lengths announce are
    /// present; after this no accessor reads past the buffer.
    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len() as u64;
        if n < HEADER_LEN as u64 {
            return Err(Error::truncated(Layer::Arp, 0, HEADER_LEN as u64, n, "ARP header (RFC 826)"));
        }
        let need = self.total_len() as u64;
        if n < need {
            return Err(Error::truncated(Layer::Arp, 0, need, n, "ARP addresses (RFC 826)"));
        }
        Ok(())
    }

    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE)
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref().get(field::HLEN).copied().unwrap_or(0)
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref().get(field::PLEN).copied().unwrap_or(0)
    }
    pub fn operation(&self) -> Operation {
        Operation::from(be16(self.buffer.as_ref(), field::OPER))
    }

    /// Octets the fixed part and the four addresses take.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + 2 * (usize::from(self.hardware_len()) + usize::from(self.protocol_len()))
    }

    fn addr(&self, start: usize, len: u8) -> &[u8] {
        self.buffer.as_ref().get(start..start + usize::from(len)).unwrap_or(&[])
    }
    pub fn sender_hardware_addr(&self) -> &[u8] {
        self.addr(field::SHA, self.hardware_len())
    }
    pub fn sender_protocol_addr(&self) -> &[u8] {
        self.addr(field::SHA + usize::from(self.hardware_len()), self.protocol_len())
    }
    pub fn target_hardware_addr(&self) -> &[u8] {
        let h = usize::from(self.hardware_len());
        self.addr(field::SHA + h + usize::from(self.protocol_len()), self.hardware_len())
    }
    pub fn target_protocol_addr(&self) -> &[u8] {
        let (h, p) = (usize::from(self.hardware_len()), usize::from(self.protocol_len()));
        self.addr(field::SHA + 2 * h + p, self.protocol_len())
    }
}

/// An Ethernet/IPv4 ARP (or RARP) packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub operation: Operation,
    pub sender_hardware_addr: [u8; 6],
    pub sender_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: [u8; 6],
    pub target_protocol_addr: Ipv4Addr,
}

fn mac(b: &[u8]) -> [u8; 6] {
    <[u8; 6]>::try_from(b).unwrap_or([0; 6])
}

fn ip4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::from(<[u8; 4]>::try_from(b).unwrap_or([0; 4]))
}

impl Repr {
    /// Parse an Ethernet/IPv4 ARP packet; see the module doc for what is
    /// refused and in which order.
    pub fn parse(buf: &[u8]) -> Result<Repr> {
        let p = Packet::new_unchecked(buf);
        if buf.len() < HEADER_LEN {
            return Err(Error::truncated(Layer::Arp, 0, HEADER_LEN as u64, buf.len() as u64, "ARP header (RFC 826)"));
        }
        if p.hardware_type() != hardware::ETHERNET {
            return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 0, "ARP hardware type is not Ethernet (RFC 826)"));
        }
        if p.protocol_type() != PROTOCOL_IPV4 {
            return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 2, "ARP protocol type is not IPv4 (RFC 826)"));
        }
        if p.hardware_len() != 6 {
            return Err(Error::malformed(Layer::Arp, field::HLEN as u64, "ARP hardware address length is not 6 for Ethernet (RFC 826)"));
        }
        if p.protocol_len() != 4 {
            return Err(Error::malformed(Layer::Arp, field::PLEN as u64, "ARP protocol address length is not 4 for IPv4 (RFC 826)"));
        }
        p.check_len()?;
        Ok(Repr {
            operation: p.operation(),
            sender_hardware_addr: mac(p.sender_hardware_addr()),
            sender_protocol_addr: ip4(p.sender_protocol_addr()),
            target_hardware_addr: mac(p.target_hardware_addr()),
            target_protocol_addr: ip4(p.target_protocol_addr()),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Write the 28 octets (every one of them) into `buf`.
    #[allow(clippy::indexing_slicing)] // `out` is exactly ETHERNET_IPV4_LEN long
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let n = buf.len() as u64;
        let Some(out) = buf.get_mut(..ETHERNET_IPV4_LEN) else {
            return Err(Error::truncated(Layer::Arp, 0, ETHERNET_IPV4_LEN as u64, n, "ARP packet buffer"));
        };
        out[field::HTYPE].copy_from_slice(&hardware::ETHERNET.to_be_bytes());
        out[field::PTYPE].copy_from_slice(&PROTOCOL_IPV4.to_be_bytes());
        out[field::HLEN] = 6;
        out[field::PLEN] = 4;
        out[field::OPER].copy_from_slice(&u16::from(self.operation).to_be_bytes());
        out[8..14].copy_from_slice(&self.sender_hardware_addr);
        out[14..18].copy_from_slice(&self.sender_protocol_addr.octets());
        out[18..24].copy_from_slice(&self.target_hardware_addr);
        out[24..28].copy_from_slice(&self.target_protocol_addr.octets());
        Ok(())
    }

    /// A gratuitous ARP (RFC 5227 §3 "ARP Announcement", RFC 5944 §4.6):
    /// a request or reply whose sender and target protocol addresses are
    /// the sender's own.
    pub fn is_gratuitous(&self) -> bool {
        matches!(self.operation, Operation::Request | Operation::Reply)
            && !self.sender_protocol_addr.is_unspecified()
            && self.sender_protocol_addr == self.target_protocol_addr
    }

    /// An ARP Probe (RFC 5227 §2.1.1): a request with an all-zero sender
    /// protocol address.
    pub fn is_probe(&self) -> bool {
        self.operation == Operation::Request && self.sender_protocol_addr.is_unspecified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// who-has 10.0.0.2 tell 10.0.0.1 from 02:00:00:00:00:01 (scapy ARP()).
    const REQUEST: [u8; 28] = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!((p.hardware_type(), p.protocol_type(), p.hardware_len(), p.protocol_len()), (1, 0x0800, 6, 4));
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.sender_hardware_addr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(p.sender_protocol_addr(), &[10, 0, 0, 1]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[10, 0, 0, 2]);
    }

    #[test]
    fn parse_emit_round_trip() {
        let r = Repr::parse(&REQUEST).unwrap();
        assert_eq!(r.target_protocol_addr, Ipv4Addr::new(10, 0, 0, 2));
        assert!(!r.is_gratuitous() && !r.is_probe());
        let mut out = [0xffu8; 28];
        r.emit(&mut out).unwrap();
        assert_eq!(out, REQUEST);
        // Padding past the addresses is ignored.
        let mut padded = REQUEST.to_vec();
        padded.extend_from_slice(&[0; 18]);
        assert_eq!(Repr::parse(&padded).unwrap(), r);
        // An unknown operation round-trips.
        let mut odd = REQUEST;
        odd[7] = 77;
        let r = Repr::parse(&odd).unwrap();
        assert_eq!(r.operation, Operation::Unknown(77));
        r.emit(&mut out).unwrap();
        assert_eq!(out, odd);
    }

    #[test]
    fn gratuitous_and_probe() {
        let mut g = REQUEST;
        g[24..28].copy_from_slice(&[10, 0, 0, 1]);
        assert!(Repr::parse(&g).unwrap().is_gratuitous());
        let mut p = REQUEST;
        p[14..18].copy_from_slice(&[0; 4]);
        assert!(Repr::parse(&p).unwrap().is_probe());
    }

    #[test]
    fn refusals_in_order() {
        let e = Repr::parse(&REQUEST[..7]).unwrap_err();
        assert!(e.is_truncated());
        let mut bad = REQUEST;
        bad[1] = 6;
        assert_eq!(Repr::parse(&bad).unwrap_err().kind, ErrorKind::Unsupported);
        let mut bad = REQUEST;
        bad[4] = 8;
        let e = Repr::parse(&bad).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Malformed, 4));
        let mut bad = REQUEST;
        bad[5] = 16;
        let e = Repr::parse(&bad).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Malformed, 5));
        let e = Repr::parse(&REQUEST[..27]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 28, available: 27 });
        // The view accepts other sizes and bounds every accessor.
        let mut big = REQUEST.to_vec();
        big[4] = 255;
        big[5] = 255;
        let p = Packet::new_unchecked(&big[..]);
        assert!(p.check_len().is_err());
        assert_eq!(p.target_protocol_addr(), &[] as &[u8]);
    }
}
