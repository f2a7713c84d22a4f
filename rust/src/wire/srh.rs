//! The Segment Routing Header (RFC 8754), Routing header type 4.
//!
//! A view ([`Packet`]) and an owned [`Repr`] of the SRH with its segment
//! list and its TLVs (RFC 8754 §2.1): Pad1, PadN, the HMAC TLV (§2.1.2), and
//! any other type kept as [`TlvRepr::Unknown`] so that it round-trips. Both
//! are strict on lengths that lie: a Last Entry whose segment list does not
//! fit in the header (Hdr Ext Len), a TLV whose Length runs past the end of
//! the header, an HMAC TLV too short for its own fields — each a
//! `Malformed` error at the octet at fault, with offsets from the first
//! octet of the SRH (add the header's offset with `Error::at`).
//!
//! Decoding is all this module does. What a node does with a received SRH
//! is the chain walker's business (`exthdr::routing_check`): this stack
//! does not do SRv6, so as RFC 8754 §4.3.2 says for a destination address
//! that is not a local SID, Segments Left 0 is skipped and Segments Left > 0
//! is answered with Parameter Problem code 0 pointing at the Routing Type
//! (RFC 8200 §4.4).

use crate::error::{Error, Layer, Result};

/// The Routing Type of the SRH (RFC 8754 §2).
pub const ROUTING_TYPE: u8 = 4;
/// Octets before the segment list.
pub const FIXED_LEN: usize = 8;
/// Octets of one segment (an IPv6 address).
pub const SEGMENT_LEN: usize = 16;

/// TLV types (RFC 8754 §2.1, IANA "Segment Routing Header TLVs").
pub mod tlv_type {
    /// Pad1 (§2.1.1.1): one octet of padding, no Length.
    pub const PAD1: u8 = 0;
    /// PadN (§2.1.1.2).
    pub const PADN: u8 = 4;
    /// HMAC (§2.1.2).
    pub const HMAC: u8 = 5;
}

/// Octets of an HMAC TLV's data before the HMAC itself: D and Reserved (2),
/// HMAC Key ID (4).
pub const HMAC_FIXED_LEN: usize = 6;

mod field {
    //! ```text
    //!  0                   1                   2                   3
    //!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! | Next Header   |  Hdr Ext Len  | Routing Type  | Segments Left |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |  Last Entry   |     Flags     |              Tag              |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |            Segment List[0] (128-bit IPv6 address)             |
    //! ...
    //! |            Segment List[n] (128-bit IPv6 address)             |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! //         Optional Type Length Value objects (variable)       //
    //! ```
    use core::ops::Range;
    pub const NXT_HDR: usize = 0;
    pub const LENGTH: usize = 1;
    pub const TYPE: usize = 2;
    pub const SEG_LEFT: usize = 3;
    pub const LAST_ENTRY: usize = 4;
    pub const FLAGS: usize = 5;
    pub const TAG: Range<usize> = 6..8;
}

/// A view of a Segment Routing Header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view whose every length has been checked (see [`Packet::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks, in order: the 8 fixed octets are there and the whole header
    /// as its Hdr Ext Len says (`Truncated`); the Routing Type is 4; the
    /// segment list that Last Entry implies fits in the header; each TLV
    /// fits in what is left of it and an HMAC TLV holds its fixed fields
    /// (`Malformed`). After it no accessor can fail.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < FIXED_LEN {
            return Err(Error::truncated(Layer::Routing, 0, FIXED_LEN as u64, b.len() as u64, "Segment Routing Header (RFC 8754 §2)"));
        }
        let hlen = self.header_len();
        if b.len() < hlen {
            return Err(Error::truncated(
                Layer::Routing,
                0,
                hlen as u64,
                b.len() as u64,
                "Segment Routing Header runs past the end of the packet (RFC 8754 §2)",
            ));
        }
        if self.routing_type() != ROUTING_TYPE {
            return Err(Error::malformed(Layer::Routing, field::TYPE as u64, "Routing Type is not 4, not a Segment Routing Header (RFC 8754 §2)"));
        }
        if self.segments_end() > hlen {
            return Err(Error::malformed(
                Layer::Routing,
                field::LAST_ENTRY as u64,
                "Last Entry names segments beyond the end of the header (RFC 8754 §2)",
            ));
        }
        for t in self.tlvs() {
            t?;
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    pub fn next_header(&self) -> u8 {
        self.byte(field::NXT_HDR)
    }
    pub fn hdr_ext_len(&self) -> u8 {
        self.byte(field::LENGTH)
    }
    /// Octets in the header: `(Hdr Ext Len + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }
    pub fn routing_type(&self) -> u8 {
        self.byte(field::TYPE)
    }
    pub fn segments_left(&self) -> u8 {
        self.byte(field::SEG_LEFT)
    }
    /// The index of the last element of the segment list.
    pub fn last_entry(&self) -> u8 {
        self.byte(field::LAST_ENTRY)
    }
    pub fn flags(&self) -> u8 {
        self.byte(field::FLAGS)
    }
    pub fn tag(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::TAG.start), self.byte(field::TAG.start + 1)])
    }
    /// Number of segments: Last Entry + 1.
    pub fn segment_count(&self) -> usize {
        usize::from(self.last_entry()) + 1
    }
    /// Octet where the TLVs start (the end of the segment list).
    fn segments_end(&self) -> usize {
        FIXED_LEN + SEGMENT_LEN * self.segment_count()
    }
    /// Segment List\[`i`\], if the buffer holds it.
    pub fn segment(&self, i: usize) -> Option<[u8; 16]> {
        if i >= self.segment_count() {
            return None;
        }
        let at = FIXED_LEN + SEGMENT_LEN * i;
        self.buffer.as_ref().get(at..at + SEGMENT_LEN).and_then(|s| <[u8; 16]>::try_from(s).ok())
    }
    /// The segment list, Segment List\[0\] first (the last segment of the
    /// path), as far as the buffer holds it.
    pub fn segments(&self) -> impl Iterator<Item = [u8; 16]> + '_ {
        (0..self.segment_count()).map_while(move |i| self.segment(i))
    }
    /// The octets after the segment list up to the end of the header.
    pub fn tlv_area(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().min(b.len());
        b.get(self.segments_end()..end).unwrap_or(&[])
    }
    /// The TLVs, each checked against the end of the header.
    pub fn tlvs(&self) -> TlvIter<'_> {
        TlvIter { area: self.tlv_area(), pos: 0, base: self.segments_end() as u64 }
    }
}

/// One TLV as found in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tlv_type: u8,
    /// The Variable-length data (empty for Pad1).
    pub data: &'a [u8],
    /// Offset of the Type octet from the start of the SRH.
    pub offset: u64,
}

/// Iterator over the TLVs of an SRH; stops after the first error.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    area: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        let t = *self.area.get(self.pos)?;
        let at = self.base + self.pos as u64;
        if t == tlv_type::PAD1 {
            self.pos += 1;
            return Some(Ok(Tlv { tlv_type: t, data: &[], offset: at }));
        }
        let fail = |pos: &mut usize, area_len: usize, e: Error| {
            *pos = area_len;
            Some(Err(e))
        };
        let Some(&l) = self.area.get(self.pos + 1) else {
            return fail(&mut self.pos, self.area.len(), Error::malformed(Layer::Routing, at, "TLV without its Length octet at the end of the header (RFC 8754 §2.1)"));
        };
        let start = self.pos + 2;
        let Some(data) = self.area.get(start..start + usize::from(l)) else {
            return fail(&mut self.pos, self.area.len(), Error::malformed(Layer::Routing, at + 1, "TLV Length runs past the end of the header (RFC 8754 §2.1)"));
        };
        if t == tlv_type::HMAC && data.len() < HMAC_FIXED_LEN {
            return fail(
                &mut self.pos,
                self.area.len(),
                Error::malformed(Layer::Routing, at + 1, "HMAC TLV too short for its D, Reserved and HMAC Key ID fields (RFC 8754 §2.1.2)"),
            );
        }
        self.pos = start + usize::from(l);
        Some(Ok(Tlv { tlv_type: t, data, offset: at }))
    }
}

/// The HMAC TLV's fields (RFC 8754 §2.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hmac {
    /// D: Destination Address verification disabled (reduced segment list).
    pub d: bool,
    /// The 15 Reserved bits (0 on transmission, kept as received).
    pub reserved: u16,
    pub key_id: u32,
    /// The HMAC itself (RFC 8754: multiples of 8 octets, up to 32).
    pub hmac: Vec<u8>,
}

/// A TLV, owned. Types other than Pad1, PadN and HMAC are kept as
/// `Unknown` and emitted as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlvRepr {
    Pad1,
    /// PadN: its padding octets (RFC 8754: 0 to 5 of them, zero).
    PadN(Vec<u8>),
    Hmac(Hmac),
    Unknown { tlv_type: u8, data: Vec<u8> },
}

impl TlvRepr {
    /// The TLV from a checked [`Tlv`].
    pub fn parse(t: &Tlv<'_>) -> TlvRepr {
        match t.tlv_type {
            tlv_type::PAD1 => TlvRepr::Pad1,
            tlv_type::PADN => TlvRepr::PadN(t.data.to_vec()),
            tlv_type::HMAC if t.data.len() >= HMAC_FIXED_LEN => {
                let o = |i: usize| t.data.get(i).copied().unwrap_or(0);
                let dr = u16::from_be_bytes([o(0), o(1)]);
                TlvRepr::Hmac(Hmac {
                    d: dr & 0x8000 != 0,
                    reserved: dr & 0x7fff,
                    key_id: u32::from_be_bytes([o(2), o(3), o(4), o(5)]),
                    hmac: t.data.get(HMAC_FIXED_LEN..).unwrap_or(&[]).to_vec(),
                })
            }
            ty => TlvRepr::Unknown { tlv_type: ty, data: t.data.to_vec() },
        }
    }

    pub fn tlv_type(&self) -> u8 {
        match self {
            TlvRepr::Pad1 => tlv_type::PAD1,
            TlvRepr::PadN(_) => tlv_type::PADN,
            TlvRepr::Hmac(_) => tlv_type::HMAC,
            TlvRepr::Unknown { tlv_type, .. } => *tlv_type,
        }
    }

    /// Octets on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            TlvRepr::Pad1 => 1,
            TlvRepr::PadN(d) | TlvRepr::Unknown { data: d, .. } => 2 + d.len(),
            TlvRepr::Hmac(h) => 2 + HMAC_FIXED_LEN + h.hmac.len(),
        }
    }

    /// Append the TLV to `out`. `Malformed` when its data exceeds the 255
    /// octets a Length can say, when an HMAC's Reserved does not fit its 15
    /// bits, or for an `Unknown` of type 0 (which is Pad1).
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let too_long = || Error::malformed(Layer::Routing, 1, "TLV data longer than 255 octets (RFC 8754 §2.1)");
        match self {
            TlvRepr::Pad1 => out.push(tlv_type::PAD1),
            TlvRepr::PadN(d) | TlvRepr::Unknown { data: d, .. } => {
                let t = self.tlv_type();
                if matches!(self, TlvRepr::Unknown { .. }) && t == tlv_type::PAD1 {
                    return Err(Error::malformed(Layer::Routing, 0, "TLV type 0 is Pad1, which has no Length or data (RFC 8754 §2.1.1.1)"));
                }
                let l = u8::try_from(d.len()).map_err(|_| too_long())?;
                out.extend_from_slice(&[t, l]);
                out.extend_from_slice(d);
            }
            TlvRepr::Hmac(h) => {
                let l = u8::try_from(HMAC_FIXED_LEN + h.hmac.len()).map_err(|_| too_long())?;
                if h.reserved > 0x7fff {
                    return Err(Error::malformed(Layer::Routing, 2, "HMAC TLV Reserved is 15 bits (RFC 8754 §2.1.2)"));
                }
                let dr = (u16::from(h.d) << 15) | h.reserved;
                out.extend_from_slice(&[tlv_type::HMAC, l]);
                out.extend_from_slice(&dr.to_be_bytes());
                out.extend_from_slice(&h.key_id.to_be_bytes());
                out.extend_from_slice(&h.hmac);
            }
        }
        Ok(())
    }
}

/// A Segment Routing Header, owned. Last Entry and Hdr Ext Len are not
/// stored: they follow from `segments` and from the whole length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    pub next_header: u8,
    pub segments_left: u8,
    pub flags: u8,
    pub tag: u16,
    /// Segment List\[0\] first.
    pub segments: Vec<[u8; 16]>,
    /// The TLVs in wire order, padding included.
    pub tlvs: Vec<TlvRepr>,
}

impl Repr {
    /// Parse the SRH at the start of `buf` (which may hold more after it).
    pub fn parse(buf: &[u8]) -> Result<Repr> {
        let p = Packet::new_checked(buf)?;
        let mut tlvs = Vec::new();
        for t in p.tlvs() {
            tlvs.push(TlvRepr::parse(&t?));
        }
        Ok(Repr {
            next_header: p.next_header(),
            segments_left: p.segments_left(),
            flags: p.flags(),
            tag: p.tag(),
            segments: p.segments().collect(),
            tlvs,
        })
    }

    /// Last Entry: the index of the last segment (`None` with no segment,
    /// which cannot be emitted).
    pub fn last_entry(&self) -> Option<u8> {
        self.segments.len().checked_sub(1).and_then(|n| u8::try_from(n).ok())
    }

    /// Octets on the wire as laid out (maybe not a multiple of 8: see
    /// [`Repr::padded`]).
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN + SEGMENT_LEN * self.segments.len() + self.tlvs.iter().map(TlvRepr::buffer_len).sum::<usize>()
    }

    /// The same header with a Pad1 or PadN TLV appended so that its length
    /// is a multiple of 8 octets (what an SR source node does).
    pub fn padded(&self) -> Repr {
        let mut r = self.clone();
        match (8 - r.buffer_len() % 8) % 8 {
            0 => {}
            1 => r.tlvs.push(TlvRepr::Pad1),
            n => r.tlvs.push(TlvRepr::PadN(vec![0; n - 2])),
        }
        r
    }

    /// The header's bytes. `Malformed` without a segment, with more than
    /// 256 (Last Entry is one octet), when the length is not a multiple of 8
    /// or exceeds 2048 octets (Hdr Ext Len is one octet), or for a TLV that
    /// cannot be encoded ([`TlvRepr::emit`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let last = self
            .last_entry()
            .ok_or(Error::malformed(Layer::Routing, field::LAST_ENTRY as u64, "an SRH has at least one segment (RFC 8754 §2)"))?;
        let n = self.buffer_len();
        if n % 8 != 0 || n > 2048 {
            return Err(Error::malformed(
                Layer::Routing,
                field::LENGTH as u64,
                "SRH length is not a multiple of 8 octets up to 2048 (RFC 8200 §4.4; pad it)",
            ));
        }
        let mut out = Vec::with_capacity(n);
        let tag = self.tag.to_be_bytes();
        out.extend_from_slice(&[self.next_header, (n / 8 - 1) as u8, ROUTING_TYPE, self.segments_left]);
        out.extend_from_slice(&[last, self.flags, tag[0], tag[1]]);
        for s in &self.segments {
            out.extend_from_slice(s);
        }
        for t in &self.tlvs {
            t.emit(&mut out)?;
        }
        Ok(out)
    }

    /// Write the header at the start of `buf`; returns the octets written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let b = self.to_bytes()?;
        let avail = buf.len();
        let out = buf
            .get_mut(..b.len())
            .ok_or(Error::truncated(Layer::Routing, 0, b.len() as u64, avail as u64, "no room to emit the header"))?;
        out.copy_from_slice(&b);
        Ok(b.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// The SRH printed by scapy 2.8 for
    /// `IPv6ExtHdrSegmentRouting(nh=17, addresses=["2001:db8::9",
    /// "2001:db8::2"], segleft=1, tag=0x1234,
    /// tlv_objects=[IPv6ExtHdrSegmentRoutingTLV(type=5, len=38, value=
    /// b"\x80\0" + b"\0\0\0\x07" + b"\x11" * 32),
    /// IPv6ExtHdrSegmentRoutingTLVPadN(padding=b"\0" * 4)])`: Hdr Ext Len 10,
    /// Last Entry 1, an HMAC TLV (D set, key 7) in Linux's layout (Length
    /// 38), PadN(4), then the PadN(0) scapy adds to reach 88 octets.
    const SRH: &str = "110a040101001234\
        20010db8000000000000000000000009\
        20010db8000000000000000000000002\
        0526800000000007\
        1111111111111111111111111111111111111111111111111111111111111111\
        0404000000000400";

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
        s.chunks(2).map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }

    fn addr(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = last;
        a
    }

    fn sample() -> Repr {
        Repr {
            next_header: 17,
            segments_left: 1,
            flags: 0,
            tag: 0x1234,
            segments: vec![addr(9), addr(2)],
            tlvs: vec![
                TlvRepr::Hmac(Hmac { d: true, reserved: 0, key_id: 7, hmac: vec![0x11; 32] }),
                TlvRepr::PadN(vec![0; 4]),
                TlvRepr::PadN(vec![]),
            ],
        }
    }

    #[test]
    fn deconstruct() {
        let b = unhex(SRH);
        assert_eq!(b.len(), 88);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.next_header(), p.hdr_ext_len(), p.routing_type(), p.segments_left()), (17, 10, 4, 1));
        assert_eq!((p.last_entry(), p.flags(), p.tag(), p.segment_count()), (1, 0, 0x1234, 2));
        assert_eq!(p.segments().collect::<Vec<_>>(), vec![addr(9), addr(2)]);
        let t: Vec<_> = p.tlvs().map(|t| t.unwrap()).collect();
        assert_eq!((t[0].tlv_type, t[0].data.len(), t[0].offset), (5, 38, 40));
        assert_eq!((t[1].tlv_type, t[1].data.len(), t[1].offset), (4, 4, 80));
        assert_eq!((t[2].tlv_type, t[2].data.len(), t[2].offset), (4, 0, 86));
    }

    #[test]
    fn parse_emit_round_trip() {
        let b = unhex(SRH);
        assert_eq!(Repr::parse(&b).unwrap(), sample());
        assert_eq!(sample().to_bytes().unwrap(), b);
        let mut buf = vec![0xa5; 100];
        assert_eq!(sample().emit(&mut buf).unwrap(), 88);
        assert_eq!(&buf[..88], &b[..]);
        assert!(sample().emit(&mut buf[..87]).unwrap_err().is_truncated());
        // Unknown TLVs and Pad1 round-trip too.
        let r = Repr {
            tlvs: vec![TlvRepr::Unknown { tlv_type: 0x81, data: vec![1, 2, 3] }, TlvRepr::Pad1, TlvRepr::Pad1, TlvRepr::Pad1],
            ..sample()
        };
        assert_eq!(Repr::parse(&r.to_bytes().unwrap()).unwrap(), r);
    }

    #[test]
    fn padded_and_refused_layouts() {
        let bare = Repr { tlvs: vec![], ..sample() };
        assert_eq!(bare.to_bytes().unwrap().len(), 40);
        for extra in 1..=7 {
            let r = Repr { tlvs: vec![TlvRepr::Unknown { tlv_type: 9, data: vec![0; extra] }], ..sample() };
            let p = r.padded();
            assert_eq!(p.buffer_len() % 8, 0);
            assert_eq!(Repr::parse(&p.to_bytes().unwrap()).unwrap(), p);
            if (extra + 2) % 8 != 0 {
                assert!(r.to_bytes().is_err());
            }
        }
        assert!(Repr { segments: vec![], ..bare.clone() }.to_bytes().is_err());
        assert!(Repr { segments: vec![addr(1); 128], ..bare.clone() }.to_bytes().is_err());
        assert_eq!(Repr { segments: vec![addr(1); 127], ..bare.clone() }.to_bytes().unwrap().len(), 2040);
        let pad1_unknown = Repr { tlvs: vec![TlvRepr::Unknown { tlv_type: 0, data: vec![0; 6] }], ..bare.clone() };
        assert!(pad1_unknown.to_bytes().is_err());
        let big = Repr { tlvs: vec![TlvRepr::PadN(vec![0; 256])], ..bare.clone() };
        assert!(big.padded().to_bytes().is_err());
        let res = Repr { tlvs: vec![TlvRepr::Hmac(Hmac { d: false, reserved: 0x8000, key_id: 0, hmac: vec![] }), TlvRepr::Pad1, TlvRepr::Pad1], ..bare };
        assert!(res.padded().to_bytes().is_err());
    }

    #[test]
    fn lying_lengths() {
        let b = unhex(SRH);
        // Hdr Ext Len past the buffer: truncated.
        let e = Packet::new_checked(&b[..87]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 88, available: 87 });
        assert!(Packet::new_checked(&b[..7]).unwrap_err().is_truncated());
        // Last Entry beyond the header: 5 segments need 88 octets > 8 + 80.
        let mut le = b.clone();
        le[4] = 5;
        let e = Repr::parse(&le).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Malformed, 4));
        le[4] = 4; // 8 + 80 = 88: fits exactly, the TLVs are gone
        let r = Repr::parse(&le).unwrap();
        assert_eq!((r.segments.len(), r.tlvs.len()), (5, 0));
        le[4] = 255;
        assert!(Repr::parse(&le).is_err());
        // A TLV Length running past the end of the header.
        let mut tl = b.clone();
        tl[41] = 47;
        let e = Repr::parse(&tl).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Malformed, 41));
        let mut tl = b.clone();
        tl[81] = 7;
        assert_eq!(Repr::parse(&tl).unwrap_err().offset, 81);
        // A Type octet alone at the very end.
        let mut t1 = b.clone();
        t1[80..].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(Repr::parse(&t1).unwrap_err().offset, 87);
        // An HMAC TLV too short for its fields.
        let mut hm = b.clone();
        hm[40..].copy_from_slice(&unhex("0505000000000000").repeat(6));
        assert_eq!(Repr::parse(&hm).unwrap_err().offset, 41);
        // Not type 4.
        let mut t = b.clone();
        t[2] = 0;
        assert_eq!(Repr::parse(&t).unwrap_err().offset, 2);
    }

    #[test]
    fn no_panic_on_any_prefix_or_byte() {
        let b = unhex(SRH);
        for n in 0..=b.len() {
            let _ = Repr::parse(&b[..n]);
            let p = Packet::new_unchecked(&b[..n]);
            let _ = (p.segments().count(), p.tlvs().count(), p.tag(), p.segment(300));
        }
        for i in 0..b.len() {
            for v in [0u8, 1, 5, 0x7f, 0xff] {
                let mut m = b.clone();
                m[i] = v;
                if let Ok(r) = Repr::parse(&m) {
                    if r.buffer_len() == Packet::new_unchecked(&m[..]).header_len() {
                        assert_eq!(Repr::parse(&r.to_bytes().unwrap()).unwrap(), r);
                    }
                }
            }
        }
    }
}
