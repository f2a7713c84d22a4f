//! `struct virtio_net_hdr` (virtio 1.2 §5.1.6, Linux
//! `include/uapi/linux/virtio_net.h`): the 10-octet header a TAP device
//! opened with `IFF_VNET_HDR` puts before each frame, in both directions.
//! It carries segmentation offload (a TCP "super-segment" of up to 64 KiB
//! with the segment size the wire would use) and checksum offload (the
//! checksum field holds only the pseudo-header sum; the rest is to be
//! added from `csum_start` on and stored at `csum_start + csum_offset`).
//!
//! ```text
//!  0        1        2                 4                 6
//! +--------+--------+-----------------+-----------------+
//! | flags  |gso_type|     hdr_len     |    gso_size     |
//! +--------+--------+-----------------+-----------------+
//! |   csum_start    |   csum_offset   |   (the frame)
//! +-----------------+-----------------+
//! ```
//! The 16-bit fields are in the host's byte order for a legacy TAP (Linux
//! `tun16_to_cpu` without `TUNSETVNETLE/BE`), little-endian on the machines
//! kame builds for; [`Repr`] reads and writes them little-endian.
#![forbid(unsafe_code)]

use crate::cksum::sum16;
use crate::error::{Error, Layer, Result};

pub const HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is to be completed.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was checked.
pub const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_F_RSC_INFO`.
pub const F_RSC_INFO: u8 = 4;

pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN`: the segments carry CWR as the first would.
pub const GSO_ECN: u8 = 0x80;

/// The offset of the checksum field in a TCP header.
pub const TCP_CSUM_OFFSET: u16 = 16;

mod field {
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: core::ops::Range<usize> = 2..4;
    pub const GSO_SIZE: core::ops::Range<usize> = 4..6;
    pub const CSUM_START: core::ops::Range<usize> = 6..8;
    pub const CSUM_OFFSET: core::ops::Range<usize> = 8..10;
}

/// The header's fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

fn le16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    match b.get(r) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}

fn bad(offset: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Ethernet, offset as u64, reason)
}

impl Repr {
    /// The header at the start of `buf`, checked against the frame after
    /// it (what the kernel may send us with the offloads we ask for:
    /// `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN`):
    /// known flags only; no segmentation or TCP segmentation of a frame
    /// whose `hdr_len` lies within it and whose `gso_size` is nonzero;
    /// a checksum start and offset whose 2-octet field lies within the
    /// frame, past the Ethernet header.
    pub fn parse(buf: &[u8]) -> Result<(Repr, &[u8])> {
        let (h, frame) = match (buf.get(..HEADER_LEN), buf.get(HEADER_LEN..)) {
            (Some(h), Some(f)) => (h, f),
            _ => {
                return Err(Error::truncated(
                    Layer::Ethernet,
                    0,
                    HEADER_LEN as u64,
                    buf.len() as u64,
                    "virtio_net_hdr is 10 octets",
                ))
            }
        };
        let r = Repr {
            flags: h.get(field::FLAGS).copied().unwrap_or(0),
            gso_type: h.get(field::GSO_TYPE).copied().unwrap_or(0),
            hdr_len: le16(h, field::HDR_LEN),
            gso_size: le16(h, field::GSO_SIZE),
            csum_start: le16(h, field::CSUM_START),
            csum_offset: le16(h, field::CSUM_OFFSET),
        };
        if r.flags & !(F_NEEDS_CSUM | F_DATA_VALID | F_RSC_INFO) != 0 {
            return Err(bad(field::FLAGS, "unknown virtio_net_hdr flags"));
        }
        match r.gso_type & !GSO_ECN {
            GSO_NONE if r.gso_type & GSO_ECN != 0 => {
                return Err(bad(field::GSO_TYPE, "ECN without segmentation"))
            }
            GSO_NONE => {}
            GSO_TCPV4 | GSO_TCPV6 => {
                if r.gso_size == 0 {
                    return Err(bad(field::GSO_SIZE.start, "segmentation with a zero gso_size"));
                }
                if usize::from(r.hdr_len) > frame.len() {
                    return Err(bad(field::HDR_LEN.start, "hdr_len beyond the frame"));
                }
                if r.flags & F_NEEDS_CSUM == 0 || r.csum_offset != TCP_CSUM_OFFSET {
                    return Err(bad(field::CSUM_OFFSET.start, "TCP segmentation without the TCP checksum to complete"));
                }
            }
            _ => return Err(bad(field::GSO_TYPE, "segmentation type not negotiated")),
        }
        if r.flags & F_NEEDS_CSUM != 0 {
            let at = usize::from(r.csum_start) + usize::from(r.csum_offset);
            if usize::from(r.csum_start) < 14 || at + 2 > frame.len() {
                return Err(bad(field::CSUM_START.start, "checksum start or offset outside the frame"));
            }
            if r.csum_offset % 2 != 0 {
                return Err(bad(field::CSUM_OFFSET.start, "checksum field not on a 16-bit word of the sum"));
            }
        }
        Ok((r, frame))
    }

    /// The 10 octets, little-endian.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[field::FLAGS] = self.flags;
        b[field::GSO_TYPE] = self.gso_type;
        b[field::HDR_LEN].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[field::GSO_SIZE].copy_from_slice(&self.gso_size.to_le_bytes());
        b[field::CSUM_START].copy_from_slice(&self.csum_start.to_le_bytes());
        b[field::CSUM_OFFSET].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }
}

/// The frame after a checked header, with a checksum the kernel left to us
/// completed (`skb_checksum_help`: the one's-complement sum from
/// `csum_start` to the end, the field's pseudo-header sum included,
/// complemented into the field), so the stack checks it as any other.
pub fn input(buf: &[u8]) -> Result<(Repr, Vec<u8>)> {
    let (r, frame) = Repr::parse(buf)?;
    let mut out = frame.to_vec();
    complete(&r, &mut out);
    Ok((r, out))
}

/// Complete in `frame` (the octets after the header) the checksum `r` says
/// the kernel left to us; nothing when it left none. `r` is from
/// [`Repr::parse`] of the same frame, so the field lies within it.
pub fn complete(r: &Repr, frame: &mut [u8]) {
    if r.flags & F_NEEDS_CSUM != 0 {
        let start = usize::from(r.csum_start);
        let at = start + usize::from(r.csum_offset);
        let s = frame.get(start..).map(sum16).unwrap_or(0);
        if let Some(f) = frame.get_mut(at..at + 2) {
            f.copy_from_slice(&(!s).to_be_bytes());
        }
    }
}

/// The header for a frame we send: none of the offloads for a frame that
/// fits `mtu` (plus its Ethernet header), else TCP segmentation with
/// `gso_size` octets of data per segment, for an Ethernet frame carrying
/// IPv4 or IPv6 with TCP right after the IP header. The checksum of the
/// super-segment is complete (the kernel recomputes per segment when it
/// must segment), so no `NEEDS_CSUM`.
pub fn output_hdr(frame: &[u8], gso_size: u16) -> Result<Repr> {
    if gso_size == 0 {
        return Ok(Repr::default());
    }
    let et = (frame.get(12).copied(), frame.get(13).copied());
    let (gso_type, l4) = match et {
        (Some(0x86), Some(0xDD)) => {
            if frame.get(14 + 6) != Some(&6) {
                return Err(bad(HEADER_LEN + 20, "segmentation of a frame that is not IPv6/TCP"));
            }
            (GSO_TCPV6, 14 + 40)
        }
        (Some(0x08), Some(0x00)) => {
            let ihl = usize::from(frame.get(14).copied().unwrap_or(0) & 0x0F) * 4;
            if frame.get(14 + 9) != Some(&6) || ihl < 20 {
                return Err(bad(HEADER_LEN + 23, "segmentation of a frame that is not IPv4/TCP"));
            }
            (GSO_TCPV4, 14 + ihl)
        }
        _ => return Err(bad(HEADER_LEN + 12, "segmentation of a frame that is not IP")),
    };
    let doff = usize::from(frame.get(l4 + 12).copied().unwrap_or(0) >> 4) * 4;
    let hdr_len = l4 + doff;
    if doff < 20 || hdr_len > frame.len() {
        return Err(bad(HEADER_LEN + l4 + 12, "TCP header beyond the frame"));
    }
    Ok(Repr {
        flags: 0,
        gso_type,
        hdr_len: u16::try_from(hdr_len).map_err(|_| bad(0, "headers too long"))?,
        gso_size,
        csum_start: 0,
        csum_offset: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let r = Repr { flags: 1, gso_type: 4, hdr_len: 86, gso_size: 1428, csum_start: 54, csum_offset: 16 };
        let mut b = r.emit().to_vec();
        b.extend_from_slice(&[0u8; 200]);
        assert_eq!(Repr::parse(&b).unwrap().0, r);
        b[4] = 0;
        b[5] = 0;
        assert!(Repr::parse(&b).is_err()); // gso_size 0
        assert!(Repr::parse(&b[..5]).unwrap_err().is_truncated());
        let lie = Repr { hdr_len: 9000, ..r };
        let mut b = lie.emit().to_vec();
        b.extend_from_slice(&[0u8; 200]);
        assert!(Repr::parse(&b).is_err());
        let off = Repr { gso_type: 0, csum_start: 190, ..r };
        let mut b = off.emit().to_vec();
        b.extend_from_slice(&[0u8; 200]);
        assert!(Repr::parse(&b).is_err()); // 190 + 16 + 2 > 200
    }

    #[test]
    fn completes_the_checksum() {
        // a frame whose "TCP" part from 14 on sums, with the field, to s
        let mut f = vec![0u8; 14];
        f.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 0, 0xAB, 0xCD]);
        let r = Repr { flags: F_NEEDS_CSUM, csum_start: 14, csum_offset: 4, ..Repr::default() };
        let mut b = r.emit().to_vec();
        b.extend_from_slice(&f);
        let (_, out) = input(&b).unwrap();
        assert_eq!(sum16(&out[14..]), 0xFFFF);
    }
}
