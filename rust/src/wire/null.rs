//! The BSD loopback ("null") header: four octets holding the packet's
//! address family, LINKTYPE_NULL (0) in the capturing host's byte order,
//! LINKTYPE_LOOP (108, OpenBSD) in network byte order
//! (<https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>).
//!
//! ```text
//! +--------+--------+--------+--------+
//! |   Address family (AF_*), 32 bits  |  then the packet
//! +--------+--------+--------+--------+
//! ```
//!
//! The host's byte order is not in the capture; like libpcap and
//! Wireshark, a LINKTYPE_NULL family is read little-endian and swapped
//! when that leaves its upper 16 bits non-zero (no family is that large).
//! `AF_INET` is 2 everywhere; `AF_INET6` is 10 on Linux, 24 on NetBSD and
//! OpenBSD, 28 on FreeBSD and DragonFly, 30 on macOS.

use crate::error::{Error, Layer, Result};

pub const HEADER_LEN: usize = 4;

/// Address family numbers that carry IP.
pub mod family {
    pub const INET: u32 = 2;
    pub const INET6_LINUX: u32 = 10;
    pub const INET6_BSD: u32 = 24;
    pub const INET6_FREEBSD: u32 = 28;
    pub const INET6_DARWIN: u32 = 30;
}

/// Which byte order the family is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// LINKTYPE_NULL: the capturing host's order, guessed.
    Host,
    /// LINKTYPE_LOOP: network order.
    Network,
}

/// The header: the family as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub family: u32,
}

impl Repr {
    pub fn parse(frame: &[u8], order: Order) -> Result<Repr> {
        let Some(b) = frame.get(..HEADER_LEN).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
            return Err(Error::truncated(
                Layer::Loopback,
                0,
                HEADER_LEN as u64,
                frame.len() as u64,
                "loopback address family (LINKTYPE_NULL / LINKTYPE_LOOP)",
            ));
        };
        let family = match order {
            Order::Network => u32::from_be_bytes(b),
            Order::Host => {
                let le = u32::from_le_bytes(b);
                if le & 0xffff_0000 != 0 {
                    u32::from_be_bytes(b)
                } else {
                    le
                }
            }
        };
        Ok(Repr { family })
    }

    /// The EtherType of the payload, when the family is one that carries IP.
    pub fn ethertype(&self) -> Option<u16> {
        match self.family {
            family::INET => Some(crate::wire::ethernet::ethertype::IPV4),
            family::INET6_LINUX | family::INET6_BSD | family::INET6_FREEBSD | family::INET6_DARWIN => {
                Some(crate::wire::ethernet::ethertype::IPV6)
            }
            _ => None,
        }
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the family in `order` (LINKTYPE_NULL: little-endian).
    pub fn emit(&self, buf: &mut [u8], order: Order) -> Result<()> {
        let n = buf.len() as u64;
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(Error::truncated(Layer::Loopback, 0, HEADER_LEN as u64, n, "loopback header buffer"));
        };
        out.copy_from_slice(&match order {
            Order::Host => self.family.to_le_bytes(),
            Order::Network => self.family.to_be_bytes(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_order_for_null_network_for_loop() {
        for af in [2u32, 10, 24, 28, 30] {
            let le = Repr::parse(&af.to_le_bytes(), Order::Host).unwrap();
            let be = Repr::parse(&af.to_be_bytes(), Order::Host).unwrap();
            assert_eq!((le.family, be.family), (af, af));
            assert_eq!(Repr::parse(&af.to_be_bytes(), Order::Network).unwrap().family, af);
            assert!(le.ethertype().is_some());
        }
        // LOOP is never swapped.
        assert_eq!(Repr::parse(&24u32.to_le_bytes(), Order::Network).unwrap().family, 24 << 24);
        assert_eq!(Repr::parse(&23u32.to_le_bytes(), Order::Host).unwrap().ethertype(), None);
        assert!(Repr::parse(&[0, 0, 0], Order::Host).unwrap_err().is_truncated());
        let mut out = [0u8; 4];
        Repr { family: 30 }.emit(&mut out, Order::Network).unwrap();
        assert_eq!(out, [0, 0, 0, 30]);
    }
}
