//! ARP for IPv4 over Ethernet (RFC 826): the packet `in_arpinput` reads
//! and `arprequest` / `arp_reply` write (FreeBSD `if_ether.c`).
//!
//! ```text
//!  0                   1                   2                   3
//! |     Hardware type (1)         |     Protocol type (0x0800)    |
//! |  HLEN (6)     |  PLEN (4)     |          Operation            |
//! |                 Sender hardware address (6)                   |
//! |                               |  Sender protocol address (4)  |
//! |                               |  Target hardware address (6)  |
//! |                                                               |
//! |                 Target protocol address (4)                   |
//! ```
//!
//! Only Ethernet/IPv4 requests and replies are accepted: another hardware
//! or protocol type is `Unsupported` (`arps_*` "wrong type"), wrong address
//! lengths `Malformed`, fewer than 28 octets `Truncated`, another operation
//! (RARP, InARP) `Unsupported` at offset 6.

use std::net::Ipv4Addr;

use crate::error::{Error, ErrorKind, Layer, Result};

pub const ARPHRD_ETHER: u16 = 1;
pub const ETHERTYPE_IP: u16 = 0x0800;
pub const ARPOP_REQUEST: u16 = 1;
pub const ARPOP_REPLY: u16 = 2;
/// An Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;

/// One ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub op: u16,
    pub sha: [u8; 6],
    pub spa: Ipv4Addr,
    pub tha: [u8; 6],
    pub tpa: Ipv4Addr,
}

fn be16(b: &[u8], at: usize) -> u16 {
    match (b.get(at), b.get(at + 1)) {
        (Some(&h), Some(&l)) => u16::from_be_bytes([h, l]),
        _ => 0,
    }
}

fn mac(b: &[u8], at: usize) -> [u8; 6] {
    b.get(at..at + 6).and_then(|s| <[u8; 6]>::try_from(s).ok()).unwrap_or([0; 6])
}

fn ip4(b: &[u8], at: usize) -> Ipv4Addr {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(Ipv4Addr::from)
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Parse an ARP packet (the bytes after the Ethernet header; trailing
/// padding ignored).
pub fn parse(buf: &[u8]) -> Result<Repr> {
    if buf.len() < 8 {
        return Err(Error::truncated(Layer::Arp, 0, 8, buf.len() as u64, "ARP header (RFC 826)"));
    }
    if be16(buf, 0) != ARPHRD_ETHER {
        return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 0, "ARP hardware type is not Ethernet (RFC 826)"));
    }
    if be16(buf, 2) != ETHERTYPE_IP {
        return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 2, "ARP protocol type is not IPv4 (RFC 826)"));
    }
    if buf.get(4) != Some(&6) {
        return Err(Error::malformed(Layer::Arp, 4, "ARP hardware address length is not 6 (RFC 826)"));
    }
    if buf.get(5) != Some(&4) {
        return Err(Error::malformed(Layer::Arp, 5, "ARP protocol address length is not 4 (RFC 826)"));
    }
    if buf.len() < ARP_LEN {
        return Err(Error::truncated(Layer::Arp, 8, ARP_LEN as u64 - 8, buf.len() as u64 - 8, "ARP addresses (RFC 826)"));
    }
    let op = be16(buf, 6);
    if op != ARPOP_REQUEST && op != ARPOP_REPLY {
        return Err(Error::new(Layer::Arp, ErrorKind::Unsupported, 6, "ARP operation is not request or reply (RFC 826)"));
    }
    Ok(Repr { op, sha: mac(buf, 8), spa: ip4(buf, 14), tha: mac(buf, 18), tpa: ip4(buf, 24) })
}

impl Repr {
    pub const fn buffer_len(&self) -> usize {
        ARP_LEN
    }

    /// The 28 octets of the packet.
    pub fn emit(&self) -> [u8; ARP_LEN] {
        let mut out = [0u8; ARP_LEN];
        let mut v = Vec::with_capacity(ARP_LEN);
        v.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
        v.extend_from_slice(&ETHERTYPE_IP.to_be_bytes());
        v.extend_from_slice(&[6, 4]);
        v.extend_from_slice(&self.op.to_be_bytes());
        v.extend_from_slice(&self.sha);
        v.extend_from_slice(&self.spa.octets());
        v.extend_from_slice(&self.tha);
        v.extend_from_slice(&self.tpa.octets());
        for (o, b) in out.iter_mut().zip(v) {
            *o = b;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // scapy: ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="192.0.2.1", pdst="192.0.2.2")
    const REQ: [u8; 28] = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2,
    ];

    #[test]
    fn deconstruct_construct() {
        let r = parse(&REQ).unwrap();
        assert_eq!(r.op, ARPOP_REQUEST);
        assert_eq!(r.spa, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(r.tpa, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(r.emit(), REQ);
        let mut padded = REQ.to_vec();
        padded.extend_from_slice(&[0; 18]);
        assert_eq!(parse(&padded).unwrap(), r);
    }

    #[test]
    fn refusals() {
        for n in 0..28 {
            assert!(parse(&REQ[..n]).is_err());
        }
        let mut c = REQ;
        c[1] = 6;
        assert_eq!(parse(&c).unwrap_err().kind, ErrorKind::Unsupported);
        let mut c = REQ;
        c[2] = 0x86;
        assert_eq!(parse(&c).unwrap_err().offset, 2);
        let mut c = REQ;
        c[4] = 8;
        assert_eq!(parse(&c).unwrap_err().kind, ErrorKind::Malformed);
        let mut c = REQ;
        c[7] = 3;
        assert_eq!(parse(&c).unwrap_err().offset, 6);
    }
}
