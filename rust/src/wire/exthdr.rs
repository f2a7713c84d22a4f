//! IPv6 extension headers (RFC 8200 §4) and the bounded chain walker.
//!
//! Views and owned `Repr`s for the Hop-by-Hop and Destination Options
//! headers (one format, [`OptionsHeader`] / [`OptionsRepr`]), the Routing
//! header ([`Routing`] / [`RoutingRepr`], RFC 8200 §4.4, type 0 per RFC
//! 5095, type 2 per RFC 6275 §6.4, type 4 decoded by `wire::srh`; what the
//! node does with each type: [`routing_check`]) and the Fragment header ([`Fragment`] /
//! [`FragmentRepr`], RFC 8200 §4.5). AH is a chain member whose length is
//! `(Payload Len + 2) * 4` (RFC 4302 §2.2); its contents belong to
//! `wire::ah`. ESP (50), IPComp (108) and No Next Header (59) end the walk,
//! as does any protocol that is not an extension header.
//!
//! [`walk`] is iterative (constant stack whatever the input) and counts
//! headers against `hdrnestlimit` exactly as KAME `ip6_input`'s `nest`
//! counter (seed §1.8): one count per protocol handed to after the IPv6
//! header and its Hop-by-Hop header, the final upper-layer protocol
//! included. That equals "the IPv6 header plus every extension header after
//! Hop-by-Hop": IPv6 + 49 Destination Options + UDP counts 50 and passes a
//! limit of 50; IPv6 + 50 Destination Options + UDP counts 51 and is refused.
//! 0 means no limit.
//!
//! Fragments (RFC 8200 §4.5): the walk ends after the Fragment header of a
//! non-first fragment, whose bytes after it are fragment data (`upper` 44);
//! a first fragment's headers after its Fragment header are read but judged
//! only after reassembly; an atomic fragment is judged alone (RFC 6946). See
//! [`walk`]; [`walk_reassembled_into`] walks the reassembled datagram.
//!
//! Offsets in a [`Chain`] and in errors are absolute in the buffer handed
//! in, which starts with the IPv6 header; a Parameter Problem pointer is
//! therefore the same number (RFC 4443 §3.4).

use crate::error::{Error, ErrorKind, Icmp6Answer, Layer, Result};

use super::opts;
use super::proto;

/// Octets in a Fragment header.
pub const FRAGMENT_LEN: usize = 8;

fn ptr(off: u64) -> u32 {
    u32::try_from(off).unwrap_or(u32::MAX)
}

/// The layer an extension-header protocol number is reported under.
pub const fn layer_of(nh: u8) -> Layer {
    match nh {
        proto::HOPOPTS => Layer::HopByHop,
        proto::ROUTING => Layer::Routing,
        proto::FRAGMENT => Layer::Fragment,
        proto::DSTOPTS => Layer::DestOpts,
        proto::AH => Layer::Ah,
        _ => Layer::Ipv6,
    }
}

/// Whether `nh` is an extension header the walker steps over.
pub const fn is_chain_member(nh: u8) -> bool {
    matches!(nh, proto::HOPOPTS | proto::ROUTING | proto::FRAGMENT | proto::DSTOPTS | proto::AH)
}

/// Length in octets of the extension header `nh` whose first two octets are
/// `b0`, `b1` (`None` if `nh` is not a chain member).
pub const fn header_len(nh: u8, hdr_ext_len: u8) -> Option<u64> {
    let l = hdr_ext_len as u64;
    match nh {
        proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => Some((l + 1) * 8),
        proto::FRAGMENT => Some(FRAGMENT_LEN as u64),
        proto::AH => Some((l + 2) * 4),
        _ => None,
    }
}

fn truncated(layer: Layer, at: usize, needed: u64, available: usize) -> Error {
    Error::truncated(
        layer,
        at as u64,
        needed,
        available as u64,
        "extension header runs past the end of the packet (RFC 8200 §4)",
    )
}

/// The bytes of the options header (Hop-by-Hop or Destination Options)
/// at `at` in `buf`, checked against its Hdr Ext Len.
pub fn options_header_at(buf: &[u8], at: usize, layer: Layer) -> Result<&[u8]> {
    let rest = buf.get(at..).unwrap_or(&[]);
    let l = match rest.get(1) {
        Some(l) => *l,
        None => return Err(truncated(layer, at, 2, rest.len())),
    };
    let n = (usize::from(l) + 1) * 8;
    rest.get(..n).ok_or(truncated(layer, at, n as u64, rest.len()))
}

// ---------------------------------------------------------------------------
// Hop-by-Hop and Destination Options (RFC 8200 §4.3, §4.6)
// ---------------------------------------------------------------------------

/// A view of a Hop-by-Hop or Destination Options header:
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |  Hdr Ext Len  |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// .                            Options                            .
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> OptionsHeader<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        OptionsHeader { buffer }
    }
    /// Checks that the buffer holds the whole header as its Hdr Ext Len
    /// says (it may hold more: what follows the header).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }
    pub fn check_len(&self) -> Result<()> {
        options_header_at(self.buffer.as_ref(), 0, Layer::HopByHop).map(|_| ())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref().first().copied().unwrap_or(0)
    }
    pub fn hdr_ext_len(&self) -> u8 {
        self.buffer.as_ref().get(1).copied().unwrap_or(0)
    }
    /// Octets in the header: `(Hdr Ext Len + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }
    /// The header's own bytes (bounded by the buffer).
    pub fn header(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..self.header_len()).unwrap_or(b)
    }
    /// The options; `base` is the absolute offset of this header, used in
    /// error offsets.
    pub fn options(&self, base: u64, layer: Layer) -> opts::Iter<'_> {
        opts::Iter::new(self.header(), base, layer)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> OptionsHeader<T> {
    pub fn set_next_header(&mut self, nh: u8) {
        if let Some(b) = self.buffer.as_mut().first_mut() {
            *b = nh;
        }
    }
}

/// A Hop-by-Hop or Destination Options header, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionsRepr {
    pub next_header: u8,
    /// The options in wire order, padding included.
    pub options: Vec<opts::Repr>,
}

/// The Hop-by-Hop Options header (RFC 8200 §4.3).
pub type HopByHopRepr = OptionsRepr;
/// The Destination Options header (RFC 8200 §4.6).
pub type DestOptsRepr = OptionsRepr;

impl OptionsRepr {
    /// Parse the header at the start of `buf` (`layer` says which of the
    /// two it is, for errors). Unknown options are kept as
    /// `opts::Repr::Unknown`; an option overrunning the header is an error.
    pub fn parse(buf: &[u8], layer: Layer) -> Result<OptionsRepr> {
        let hdr = options_header_at(buf, 0, layer)?;
        let next_header = hdr.first().copied().unwrap_or(0);
        let mut options = Vec::new();
        for o in opts::Iter::new(hdr, 0, layer) {
            options.push(opts::Repr::parse(&o?));
        }
        Ok(OptionsRepr { next_header, options })
    }

    /// Octets on the wire as laid out (may not be a multiple of 8; `emit`
    /// refuses that).
    pub fn buffer_len(&self) -> usize {
        2 + opts::options_len(&self.options)
    }

    /// The same header with [`opts::pad`] applied.
    pub fn padded(&self) -> OptionsRepr {
        OptionsRepr { next_header: self.next_header, options: opts::pad(&self.options) }
    }

    /// Write the header at the start of `buf` exactly as laid out; returns
    /// the octets written. `Malformed` if the length is not a multiple of 8
    /// or exceeds 2048 octets (use [`OptionsRepr::padded`] first).
    pub fn emit(&self, buf: &mut [u8], layer: Layer) -> Result<usize> {
        let n = self.buffer_len();
        if n % 8 != 0 || n > 2048 {
            return Err(Error::malformed(layer, 1, "header length is not a multiple of 8 octets up to 2048 (RFC 8200 §4.3)"));
        }
        let avail = buf.len();
        let out = buf.get_mut(..n).ok_or(Error::truncated(layer, 0, n as u64, avail as u64, "no room to emit the header"))?;
        let (head, mut rest) = out.split_at_mut(2);
        head.copy_from_slice(&[self.next_header, (n / 8 - 1) as u8]);
        let mut off = 2u64;
        for o in &self.options {
            let w = o.emit(rest, layer, off)?;
            rest = rest.get_mut(w..).unwrap_or(&mut []);
            off += w as u64;
        }
        Ok(n)
    }

    pub fn to_bytes(&self, layer: Layer) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v, layer)?;
        Ok(v)
    }
}

// ---------------------------------------------------------------------------
// Routing (RFC 8200 §4.4, RFC 5095, RFC 6275 §6.4)
// ---------------------------------------------------------------------------

/// Routing types.
pub mod routing_type {
    /// Type 0, deprecated by RFC 5095.
    pub const TYPE0: u8 = 0;
    /// Type 2, Mobile IPv6 (RFC 6275 §6.4): one address, the home address.
    pub const TYPE2: u8 = 2;
    /// Type 3, the RPL Source Route Header (RFC 6554).
    pub const RPL: u8 = 3;
    /// Type 4, the Segment Routing Header (RFC 8754; see `wire::srh`).
    pub const SRH: u8 = 4;
}

mod rfield {
    //! ```text
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |  Next Header  |  Hdr Ext Len  |  Routing Type | Segments Left |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! .                       type-specific data                      .
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! ```
    //! Types 0 and 2: 4 reserved octets, then 16-octet addresses.
    pub const NXT_HDR: usize = 0;
    pub const LENGTH: usize = 1;
    pub const TYPE: usize = 2;
    pub const SEG_LEFT: usize = 3;
    pub const DATA: usize = 4;
}

/// A view of a Routing header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Routing<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Routing { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }
    pub fn check_len(&self) -> Result<()> {
        options_header_at(self.buffer.as_ref(), 0, Layer::Routing).map(|_| ())
    }
    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }
    pub fn next_header(&self) -> u8 {
        self.byte(rfield::NXT_HDR)
    }
    pub fn hdr_ext_len(&self) -> u8 {
        self.byte(rfield::LENGTH)
    }
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }
    pub fn routing_type(&self) -> u8 {
        self.byte(rfield::TYPE)
    }
    pub fn segments_left(&self) -> u8 {
        self.byte(rfield::SEG_LEFT)
    }
    /// The type-specific data (bounded by the buffer).
    pub fn data(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().min(b.len());
        b.get(rfield::DATA..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Routing<T> {
    pub fn set_next_header(&mut self, nh: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(rfield::NXT_HDR) {
            *b = nh;
        }
    }
    pub fn set_segments_left(&mut self, s: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(rfield::SEG_LEFT) {
            *b = s;
        }
    }
}

/// A Routing header, owned. `data` is the type-specific data, everything
/// after the first four octets (for types 0 and 2: four reserved octets,
/// then the addresses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutingRepr {
    pub next_header: u8,
    pub routing_type: u8,
    pub segments_left: u8,
    pub data: Vec<u8>,
}

impl RoutingRepr {
    pub fn parse(buf: &[u8]) -> Result<RoutingRepr> {
        let r = Routing::new_checked(buf)?;
        Ok(RoutingRepr {
            next_header: r.next_header(),
            routing_type: r.routing_type(),
            segments_left: r.segments_left(),
            data: r.data().to_vec(),
        })
    }

    /// A type 0 (RFC 5095: for tests and tools only) or type 2 header
    /// carrying `addrs` after four zero reserved octets.
    pub fn with_addresses(next_header: u8, routing_type: u8, segments_left: u8, addrs: &[[u8; 16]]) -> RoutingRepr {
        let mut data = vec![0u8; 4];
        for a in addrs {
            data.extend_from_slice(a);
        }
        RoutingRepr { next_header, routing_type, segments_left, data }
    }

    /// A type 2 header for `home_address` (RFC 6275 §6.4: Hdr Ext Len 2,
    /// Segments Left 1).
    pub fn type2(next_header: u8, home_address: [u8; 16]) -> RoutingRepr {
        Self::with_addresses(next_header, routing_type::TYPE2, 1, &[home_address])
    }

    /// For types 0 and 2, the addresses after the reserved octets; `None`
    /// for other types or when the data is not 4 + 16n octets.
    pub fn addresses(&self) -> Option<Vec<[u8; 16]>> {
        if !matches!(self.routing_type, routing_type::TYPE0 | routing_type::TYPE2) {
            return None;
        }
        let rest = self.data.get(4..)?;
        if rest.len() % 16 != 0 {
            return None;
        }
        Some(rest.chunks_exact(16).filter_map(|c| <[u8; 16]>::try_from(c).ok()).collect())
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    /// `Malformed` if the length is not a multiple of 8 up to 2048.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if n % 8 != 0 || n > 2048 {
            return Err(Error::malformed(Layer::Routing, 1, "Routing header length is not a multiple of 8 octets up to 2048 (RFC 8200 §4.4)"));
        }
        let avail = buf.len();
        let out = buf
            .get_mut(..n)
            .ok_or(Error::truncated(Layer::Routing, 0, n as u64, avail as u64, "no room to emit the header"))?;
        let (head, data) = out.split_at_mut(4);
        head.copy_from_slice(&[self.next_header, (n / 8 - 1) as u8, self.routing_type, self.segments_left]);
        data.copy_from_slice(&self.data);
        Ok(n)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// The decision for a Routing header reached by the node named in the
/// Destination Address: `Ok` to go on to the next header when Segments Left
/// is 0, else `Malformed` with Parameter Problem code 0 pointing at the
/// Routing Type (`at` is the header's absolute offset). Per type:
///
/// - type 0: RFC 5095 §3, deprecated; processed as an unrecognized type.
/// - type 2: RFC 6275 §6.4 defines it for a Mobile IPv6 mobile node, which
///   alone processes it (§8.5): it checks Hdr Ext Len 2, Segments Left 1 and
///   that the address is its own home address, else discards the packet.
///   This node is no mobile node (seed §6.1: KAME's default installation is
///   a correspondent node, which only recognizes the Home Address option),
///   so, like KAME's `route6_input` without MIP6 and Linux without
///   CONFIG_IPV6_MIP6, it treats type 2 as a type it does not recognize:
///   RFC 8200 §4.4 gives the rule, and the lengths and the address are not
///   looked at.
/// - type 3 (RPL, RFC 6554) and type 4 (SRH, RFC 8754): this node does not
///   do RPL or SRv6; RFC 8754 §4.3.2 (a destination address that is not a
///   local SID) gives the RFC 8200 §4.4 rule.
/// - any other type: RFC 8200 §4.4.
///
/// The node counts the drop as KAME's `route6_input` does
/// (`ip6s_badoptions`) and sends the Parameter Problem.
pub fn routing_check(rtype: u8, segments_left: u8, at: u64) -> Result<()> {
    if segments_left == 0 {
        return Ok(());
    }
    let p = at + rfield::TYPE as u64;
    let reason = match rtype {
        routing_type::TYPE0 => "type 0 Routing header with Segments Left > 0 (RFC 5095 §3)",
        routing_type::TYPE2 => "type 2 Routing header with Segments Left > 0 on a node that is no Mobile IPv6 mobile node (RFC 6275 §6.4, RFC 8200 §4.4)",
        routing_type::SRH => "Segment Routing Header with Segments Left > 0 on a node that does not do SRv6 (RFC 8754 §4.3.2)",
        _ => "unrecognized Routing Type with Segments Left > 0 (RFC 8200 §4.4)",
    };
    Err(Error::malformed(Layer::Routing, p, reason).answer(Icmp6Answer::header(ptr(p))))
}

// ---------------------------------------------------------------------------
// Fragment (RFC 8200 §4.5)
// ---------------------------------------------------------------------------

mod ffield {
    //! ```text
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |                         Identification                        |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! ```
    use core::ops::Range;
    pub const NXT_HDR: usize = 0;
    pub const RESERVED: usize = 1;
    pub const OFF_M: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..8;
}

/// A view of a Fragment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Fragment<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Fragment { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }
    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < FRAGMENT_LEN {
            return Err(truncated(Layer::Fragment, 0, FRAGMENT_LEN as u64, n));
        }
        Ok(())
    }
    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }
    fn off_m(&self) -> u16 {
        u16::from_be_bytes([self.byte(ffield::OFF_M.start), self.byte(ffield::OFF_M.start + 1)])
    }
    pub fn next_header(&self) -> u8 {
        self.byte(ffield::NXT_HDR)
    }
    pub fn reserved(&self) -> u8 {
        self.byte(ffield::RESERVED)
    }
    /// Fragment Offset in 8-octet units.
    pub fn frag_offset(&self) -> u16 {
        self.off_m() >> 3
    }
    /// The two reserved bits between the offset and M.
    pub fn res(&self) -> u8 {
        ((self.off_m() >> 1) & 3) as u8
    }
    pub fn more_frags(&self) -> bool {
        self.off_m() & 1 != 0
    }
    pub fn ident(&self) -> u32 {
        let i = ffield::IDENT.start;
        u32::from_be_bytes([self.byte(i), self.byte(i + 1), self.byte(i + 2), self.byte(i + 3)])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Fragment<T> {
    pub fn set_next_header(&mut self, nh: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(ffield::NXT_HDR) {
            *b = nh;
        }
    }
}

/// A Fragment header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentRepr {
    pub next_header: u8,
    /// The reserved octet (sent as 0, ignored on receipt).
    pub reserved: u8,
    /// Fragment Offset in 8-octet units (13 bits).
    pub frag_offset: u16,
    /// The two reserved bits.
    pub res: u8,
    pub more_frags: bool,
    pub ident: u32,
}

impl FragmentRepr {
    pub fn parse(buf: &[u8]) -> Result<FragmentRepr> {
        let f = Fragment::new_checked(buf)?;
        Ok(FragmentRepr {
            next_header: f.next_header(),
            reserved: f.reserved(),
            frag_offset: f.frag_offset(),
            res: f.res(),
            more_frags: f.more_frags(),
            ident: f.ident(),
        })
    }
    pub const fn buffer_len(&self) -> usize {
        FRAGMENT_LEN
    }
    /// Offset in octets of this fragment's data in the original packet.
    pub fn byte_offset(&self) -> u64 {
        u64::from(self.frag_offset & 0x1fff) * 8
    }
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let avail = buf.len();
        let out = buf.get_mut(..FRAGMENT_LEN).ok_or(truncated(Layer::Fragment, 0, FRAGMENT_LEN as u64, avail))?;
        let om = ((self.frag_offset & 0x1fff) << 3) | (u16::from(self.res & 3) << 1) | u16::from(self.more_frags);
        let om = om.to_be_bytes();
        let id = self.ident.to_be_bytes();
        out.copy_from_slice(&[self.next_header, self.reserved, om[0], om[1], id[0], id[1], id[2], id[3]]);
        Ok(FRAGMENT_LEN)
    }
    pub fn to_bytes(&self) -> [u8; FRAGMENT_LEN] {
        let mut b = [0u8; FRAGMENT_LEN];
        let _ = self.emit(&mut b);
        b
    }
}

// ---------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------

/// One extension header in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtHeader {
    /// Its protocol number (0, 43, 44, 51, 60).
    pub proto: u8,
    /// Absolute offset of its first octet.
    pub offset: u64,
    /// Its length in octets.
    pub len: u64,
}

/// The Fragment header of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragInfo {
    /// Absolute offset of the Fragment header.
    pub offset: u64,
    pub repr: FragmentRepr,
}

/// A Jumbo Payload option found in the Hop-by-Hop header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JumboInfo {
    /// The Jumbo Payload Length.
    pub value: u32,
    /// Absolute offset of the option's type octet.
    pub offset: u64,
}

/// Headers kept inline in an [`ExtHeaders`] before it spills to the heap:
/// enough for every chain a host sees (HBH, DstOpts, Routing, Fragment,
/// AH, DstOpts), so a walk allocates only for unusual packets.
pub const INLINE_HEADERS: usize = 6;

const NO_HEADER: ExtHeader = ExtHeader { proto: proto::NONE, offset: 0, len: 0 };

/// The list of a chain's extension headers: up to [`INLINE_HEADERS`] held
/// inline (no allocation), the rest of a longer chain in a `Vec`. Reads as
/// a slice (`iter`, `len`, indexing...).
#[derive(Clone)]
pub struct ExtHeaders {
    inline: [ExtHeader; INLINE_HEADERS],
    len: usize,
    /// Every header once the inline array is full, else empty.
    spill: Vec<ExtHeader>,
}

impl ExtHeaders {
    pub const fn new() -> Self {
        ExtHeaders { inline: [NO_HEADER; INLINE_HEADERS], len: 0, spill: Vec::new() }
    }

    pub fn push(&mut self, h: ExtHeader) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = h;
            self.len += 1;
            return;
        }
        if self.spill.is_empty() {
            self.spill.reserve(2 * INLINE_HEADERS);
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(h);
        self.len += 1;
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    pub fn as_slice(&self) -> &[ExtHeader] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [ExtHeader] {
        if self.spill.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or(&mut [])
        } else {
            &mut self.spill
        }
    }
}

impl Default for ExtHeaders {
    fn default() -> Self {
        ExtHeaders::new()
    }
}

impl core::ops::Deref for ExtHeaders {
    type Target = [ExtHeader];
    fn deref(&self) -> &[ExtHeader] {
        self.as_slice()
    }
}

impl core::ops::DerefMut for ExtHeaders {
    fn deref_mut(&mut self) -> &mut [ExtHeader] {
        self.as_mut_slice()
    }
}

impl<'a> IntoIterator for &'a ExtHeaders {
    type Item = &'a ExtHeader;
    type IntoIter = core::slice::Iter<'a, ExtHeader>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a mut ExtHeaders {
    type Item = &'a mut ExtHeader;
    type IntoIter = core::slice::IterMut<'a, ExtHeader>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

impl core::fmt::Debug for ExtHeaders {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for ExtHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ExtHeaders {}

impl PartialEq<Vec<ExtHeader>> for ExtHeaders {
    fn eq(&self, other: &Vec<ExtHeader>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl FromIterator<ExtHeader> for ExtHeaders {
    fn from_iter<I: IntoIterator<Item = ExtHeader>>(it: I) -> Self {
        let mut hs = ExtHeaders::new();
        for h in it {
            hs.push(h);
        }
        hs
    }
}

/// What [`walk`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The extension headers, in order (the IPv6 header is not listed).
    pub headers: ExtHeaders,
    /// The protocol that ends the chain: an upper layer (6, 17, 58, ...),
    /// ESP (50), IPComp (108), No Next Header (59); 44 (Fragment) when the
    /// packet is a non-first fragment and fragment data starts at
    /// `upper_offset`; or, when the bytes ran out (`truncated`) or a first
    /// fragment's headers were read no further, the header where it stopped.
    pub upper: u8,
    /// Absolute offset where `upper` starts.
    pub upper_offset: u64,
    /// Absolute offset of the Next Header octet that names `upper` (6 when
    /// it is the IPv6 header's own field): the octet to patch when a header
    /// is inserted or removed. For fragment data (`upper` 44): the Fragment
    /// header's own Next Header field.
    pub upper_nh_offset: u64,
    /// The first Fragment header, if any.
    pub fragment: Option<FragInfo>,
    /// The Jumbo Payload option, if the Hop-by-Hop header carries a
    /// well-formed one (4 data octets); its rules are checked by
    /// `ipv6::validate`, not here.
    pub jumbo: Option<JumboInfo>,
    /// Length of the Unfragmentable Part (RFC 8200 §4.5) from the start of
    /// the buffer: if a Fragment header is present, the octets before it;
    /// otherwise up to and including the last Routing header, else the
    /// Hop-by-Hop header, else only the IPv6 header (`start`).
    pub unfragmentable_len: u64,
    /// The bytes ended inside the header at `upper_offset`: only in a lax
    /// walk, or past the Fragment header of a first fragment whose chain it
    /// does not hold whole (RFC 7112, judged by the reassembler).
    pub truncated: bool,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    /// The empty chain.
    pub const fn new() -> Self {
        Chain {
            headers: ExtHeaders::new(),
            upper: 0,
            upper_offset: 0,
            upper_nh_offset: 0,
            fragment: None,
            jumbo: None,
            unfragmentable_len: 0,
            truncated: false,
        }
    }

    /// Back to the empty chain, keeping any spilled storage.
    pub fn reset(&mut self) {
        self.headers.clear();
        self.upper = 0;
        self.upper_offset = 0;
        self.upper_nh_offset = 0;
        self.fragment = None;
        self.jumbo = None;
        self.unfragmentable_len = 0;
        self.truncated = false;
    }

    /// Whether a header with protocol `p` is in the chain.
    pub fn has(&self, p: u8) -> bool {
        self.headers.iter().any(|h| h.proto == p)
    }
}

/// Walk the extension headers of the IPv6 packet in `buf` (which starts
/// with the IPv6 header), beginning with the header named
/// `first_next_header` at offset `start` (40 for a plain IPv6 header); the
/// Next Header field naming it is taken to be the IPv6 header's (offset 6).
///
/// Errors: `Truncated` when a header runs past `buf`; `HeaderLimit` past
/// `hdrnestlimit` (0 = unlimited); `Malformed` with Parameter Problem code
/// 1 for a Hop-by-Hop header anywhere but first (pointer = the Next Header
/// field that named it) and code 0 for the RFC 5095 / RFC 8200 §4.4
/// routing cases and for a nested Fragment header (pointer = its first
/// octet); an option overrunning the Hop-by-Hop header (no ICMPv6).
///
/// Fragments (RFC 8200 §4.5), one rule for every caller:
/// - a Fragment header whose Fragment Offset is not 0 ends the walk: it is
///   the last of `headers`, `upper` is 44 (fragment data, not a header),
///   `upper_offset` is where the data starts and `upper_nh_offset` the
///   Fragment header's Next Header field, which names the protocol the data
///   continues. No header is read from fragment data.
/// - after the Fragment header of a first fragment (offset 0, M = 1) the
///   headers are read but not judged: they are processed after reassembly.
///   Routing rules, a misplaced Hop-by-Hop header and `hdrnestlimit` do not
///   apply there (the read stops at the limit or at a Hop-by-Hop header),
///   and when the bytes run out `truncated` is set instead of an error
///   (RFC 7112: the reassembler answers Parameter Problem code 3).
/// - an atomic fragment (offset 0, M = 0) is processed in isolation (RFC
///   6946): the walk goes on and judges as if unfragmented, but a further
///   Fragment header is nested and refused (Parameter Problem code 0
///   pointing at it, as the Linux kernel answers).
pub fn walk(buf: &[u8], first_next_header: u8, start: usize, hdrnestlimit: u32) -> Result<Chain> {
    let mut chain = Chain::default();
    walk_impl(buf, first_next_header, start, hdrnestlimit, Mode { lax: false, reassembled: false, transit: false }, &mut chain)?;
    Ok(chain)
}

/// [`walk`] into a caller's `chain` (reset first): no copy of the result,
/// for the hot paths (`dissect`, `parse_many`). On error `chain` holds
/// what was walked before it.
pub fn walk_into(buf: &[u8], first_next_header: u8, start: usize, hdrnestlimit: u32, chain: &mut Chain) -> Result<()> {
    walk_impl(buf, first_next_header, start, hdrnestlimit, Mode { lax: false, reassembled: false, transit: false }, chain)
}

/// [`walk_into`] for a datagram the reassembler rebuilt, or an atomic
/// fragment with its Fragment header removed (seed §1.8, RFC 8200 §4.5):
/// the removed Fragment header counts toward `hdrnestlimit`, as KAME's
/// `ip6_input` counted it on the way in (so IPv6 + Fragment + 48
/// Destination Options + UDP is 50 headers), and a Fragment header in it is
/// nested and refused (Parameter Problem code 0 pointing at it).
pub fn walk_reassembled_into(buf: &[u8], first_next_header: u8, start: usize, hdrnestlimit: u32, chain: &mut Chain) -> Result<()> {
    walk_impl(buf, first_next_header, start, hdrnestlimit, Mode { lax: false, reassembled: true, transit: false }, chain)
}

/// [`walk_into`] for a packet this node forwards (RFC 8200 §4: extension
/// headers other than Hop-by-Hop are not processed along the delivery path,
/// only by the node named in the Destination Address). The chain is read
/// for what it shows (the upper layer for the ICMPv6 error rules, a Routing
/// header for the Redirect rule) but nothing after the Hop-by-Hop header is
/// judged: no routing rules, no nested Fragment header, no misplaced
/// Hop-by-Hop header (the read stops there), and bytes that run out set
/// `truncated`. `hdrnestlimit` bounds the read, not the packet: the walk
/// stops at the limit, `upper` the header where it stopped (the destination
/// applies the limit as a drop). The Hop-by-Hop header's options are
/// `ipv6::validate`'s, as for every packet.
pub fn walk_transit_into(buf: &[u8], first_next_header: u8, start: usize, hdrnestlimit: u32, chain: &mut Chain) -> Result<()> {
    walk_impl(buf, first_next_header, start, hdrnestlimit, Mode { lax: false, reassembled: false, transit: true }, chain)
}

/// [`walk`] from a buffer that starts with an IPv6 header (bounded by the
/// buffer, not by Payload Length: see `ipv6::validate` for that).
pub fn walk_ipv6(buf: &[u8], hdrnestlimit: u32) -> Result<Chain> {
    let nh = first_nh(buf)?;
    walk(buf, nh, super::ipv6::HEADER_LEN, hdrnestlimit)
}

/// The lax twin of [`walk`], for the truncated invoking packet carried in
/// an ICMPv6 error (RFC 4443 §2.4 c): walks as far as the bytes go and
/// returns what it found, with `truncated` set, instead of a `Truncated`
/// error. Routing-type rules, option contents and nested Fragment headers
/// are not judged (the packet is our own, echoed back); `HeaderLimit` and a
/// misplaced Hop-by-Hop header are still errors. The fragment rules of
/// [`walk`] hold: the walk ends after the Fragment header of a non-first
/// fragment.
pub fn walk_lax(buf: &[u8], first_next_header: u8, start: usize, hdrnestlimit: u32) -> Result<Chain> {
    let mut chain = Chain::default();
    walk_impl(buf, first_next_header, start, hdrnestlimit, Mode { lax: true, reassembled: false, transit: false }, &mut chain)?;
    Ok(chain)
}

/// [`walk_lax`] from a buffer that starts with an IPv6 header (which must
/// itself be complete).
pub fn walk_ipv6_lax(buf: &[u8], hdrnestlimit: u32) -> Result<Chain> {
    let nh = first_nh(buf)?;
    walk_lax(buf, nh, super::ipv6::HEADER_LEN, hdrnestlimit)
}

fn first_nh(buf: &[u8]) -> Result<u8> {
    let p = super::ipv6::Packet::new_checked(buf)?;
    Ok(p.next_header())
}

/// How [`walk_impl`] judges what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode {
    /// The lax twin: running out of bytes ends the walk, routing types and
    /// option contents are not judged.
    lax: bool,
    /// The buffer is a datagram the reassembler rebuilt (or an atomic
    /// fragment with its Fragment header removed): that Fragment header
    /// counts toward `hdrnestlimit`, and another one is nested.
    reassembled: bool,
    /// A packet this node forwards ([`walk_transit_into`]): read as past a
    /// first fragment's Fragment header, from the start.
    transit: bool,
}

fn fragment_nested(at: u64) -> Error {
    Error::malformed(
        Layer::Fragment,
        at,
        "Fragment header in a reassembled datagram or after an atomic fragment's (nested fragmentation)",
    )
    .answer(Icmp6Answer::header(ptr(at)))
}

fn walk_impl(buf: &[u8], first: u8, start: usize, limit: u32, mode: Mode, chain: &mut Chain) -> Result<()> {
    chain.reset();
    let lax = mode.lax;
    let mut nh = first;
    let mut off = start;
    let mut prev_nh_off = super::ipv6::NEXT_HEADER_OFFSET;
    // KAME's ip6_input counted the Fragment header of a reassembled
    // datagram on the way in (seed §1.8): its count goes on from there.
    let mut nest: u32 = u32::from(mode.reassembled);
    let mut is_first = true;
    let mut unfrag = start as u64;
    // A Fragment header has been processed (or removed by reassembly):
    // another one is nested.
    let mut fragmented = mode.reassembled;
    // Past the Fragment header of a first fragment (offset 0, M = 1): what
    // follows is read for what it shows (the upper-layer header, RFC 7112
    // completeness), but judged only after reassembly (RFC 8200 §4.5): no
    // routing rules, no misplaced Hop-by-Hop, no `hdrnestlimit` (the read
    // stops at the limit), and bytes that run out set `truncated`.
    // A transit packet's headers are read the same way from the start.
    let mut peek = mode.transit;

    loop {
        // KAME ip6_input: Hop-by-Hop right after the IPv6 header is
        // processed with it; every later protocol, the last included, is
        // one `++nest`.
        if !(is_first && nh == proto::HOPOPTS) {
            nest = nest.saturating_add(1);
            if limit != 0 && nest > limit {
                if peek {
                    break;
                }
                return Err(Error::new(
                    Layer::Ipv6,
                    ErrorKind::HeaderLimit { limit },
                    off as u64,
                    "more headers than net.inet6.ip6.hdrnestlimit (seed §1.8)",
                ));
            }
        }
        if !is_chain_member(nh) {
            break;
        }
        let layer = layer_of(nh);
        if nh == proto::HOPOPTS && !is_first {
            if peek {
                break;
            }
            let p = prev_nh_off as u64;
            return Err(Error::malformed(
                Layer::HopByHop,
                p,
                "Hop-by-Hop Options header not immediately after the IPv6 header (RFC 8200 §4.1)",
            )
            .answer(Icmp6Answer::next_header(ptr(p))));
        }
        let rest = buf.get(off..).unwrap_or(&[]);
        let min = if nh == proto::FRAGMENT { FRAGMENT_LEN } else { 2 };
        let hdr_len = match rest.get(1) {
            Some(l) if rest.len() >= min => header_len(nh, *l).unwrap_or(8),
            _ => {
                if lax || peek {
                    chain.truncated = true;
                    break;
                }
                return Err(truncated(layer, off, min as u64, rest.len()));
            }
        };
        let hdr = match usize::try_from(hdr_len).ok().and_then(|n| rest.get(..n)) {
            Some(h) => h,
            None => {
                if lax || peek {
                    chain.truncated = true;
                    break;
                }
                return Err(truncated(layer, off, hdr_len, rest.len()));
            }
        };
        let at = off as u64;
        // RFC 8200 §4.5: after the Fragment header of a non-first fragment
        // nothing is a header until reassembly.
        let mut fragment_data = false;
        match nh {
            proto::HOPOPTS => {
                for o in opts::Iter::new(hdr, at, Layer::HopByHop) {
                    match o {
                        Ok(o) => {
                            if o.opt_type == opts::opt_type::JUMBO && chain.jumbo.is_none() {
                                if let Ok(b) = <[u8; 4]>::try_from(o.data) {
                                    chain.jumbo = Some(JumboInfo { value: u32::from_be_bytes(b), offset: at + o.offset as u64 });
                                }
                            }
                        }
                        Err(e) if !lax => return Err(e),
                        Err(_) => {}
                    }
                }
                if chain.fragment.is_none() {
                    unfrag = at + hdr_len;
                }
            }
            proto::ROUTING => {
                let r = Routing::new_unchecked(hdr);
                if !lax && !peek {
                    routing_check(r.routing_type(), r.segments_left(), at)?;
                }
                if chain.fragment.is_none() {
                    unfrag = at + hdr_len;
                }
            }
            proto::FRAGMENT => {
                let f = Fragment::new_unchecked(hdr);
                if fragmented && !lax && !peek {
                    return Err(fragment_nested(at));
                }
                if chain.fragment.is_none() {
                    if let Ok(repr) = FragmentRepr::parse(hdr) {
                        chain.fragment = Some(FragInfo { offset: at, repr });
                    }
                    unfrag = at;
                }
                fragmented = true;
                if f.frag_offset() != 0 {
                    fragment_data = true;
                } else if f.more_frags() {
                    peek = true;
                }
            }
            _ => {}
        }
        chain.headers.push(ExtHeader { proto: nh, offset: at, len: hdr_len });
        prev_nh_off = off;
        nh = hdr.first().copied().unwrap_or(proto::NONE);
        off = off.saturating_add(hdr.len());
        is_first = false;
        if fragment_data {
            // `upper` 44: the fragment data starts at `upper_offset`; the
            // Fragment header's Next Header field (`upper_nh_offset`) names
            // the protocol it continues.
            nh = proto::FRAGMENT;
            break;
        }
    }
    chain.upper = nh;
    chain.upper_offset = off as u64;
    chain.upper_nh_offset = prev_nh_off as u64;
    chain.unfragmentable_len = unfrag;
    Ok(())
}

/// The addresses of the upper-layer checksum pseudo-header (RFC 8200
/// §8.1) of the IPv6 packet in `buf` whose chain is `chain`:
///
/// - destination: the final destination. If a type 0 Routing header, or a
///   type 2 header of the RFC 6275 §6.4 form (Hdr Ext Len 2, Segments Left
///   1), still has Segments Left > 0, that is its last address (at the
///   originating node: the correspondent node sending to a mobile node's
///   home address); otherwise the IPv6 Destination Address.
/// - source: the home address of a Home Address option, if a Destination
///   Options header carries one (RFC 6275 §6.3, seed §6.1: the correspondent
///   node's transport layer sees the home address); otherwise the IPv6
///   Source Address. If several do, the last wins: RFC 6275 §6.3 places the
///   option after the Routing header, in the options the final destination
///   processes (tshark makes the same choice).
///
/// `None` if `buf` does not hold an IPv6 header.
pub fn pseudo_header_addrs(buf: &[u8], chain: &Chain) -> Option<([u8; 16], [u8; 16])> {
    let p = super::ipv6::Packet::new_checked(buf).ok()?;
    let (mut src, mut dst) = (p.src_addr(), p.dst_addr());
    for h in &chain.headers {
        let start = usize::try_from(h.offset).ok()?;
        let end = usize::try_from(h.offset.checked_add(h.len)?).ok()?;
        let hdr = buf.get(start..end)?;
        match h.proto {
            proto::ROUTING => {
                let r = Routing::new_unchecked(hdr);
                let d = r.data();
                // Type 2 only in its RFC 6275 §6.4 form: one address.
                let typed = match r.routing_type() {
                    routing_type::TYPE0 => true,
                    routing_type::TYPE2 => d.len() == 20 && r.segments_left() == 1,
                    _ => false,
                };
                if typed && r.segments_left() > 0 && d.len() >= 20 && (d.len() - 4) % 16 == 0 {
                    if let Some(a) = d.get(d.len() - 16..).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
                        dst = a;
                    }
                }
            }
            proto::DSTOPTS => {
                for o in opts::Iter::new(hdr, h.offset, Layer::DestOpts).flatten() {
                    if o.opt_type == opts::opt_type::HOME_ADDRESS {
                        if let Ok(a) = <[u8; 16]>::try_from(o.data) {
                            src = a;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some((src, dst))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::wire::ipv6;

    /// Bytes printed by scapy 2.6 for
    /// `IPv6(src="2001:db8::1", dst="2001:db8::2")
    ///  / IPv6ExtHdrHopByHop(options=[RouterAlert()])
    ///  / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0"*4)])
    ///  / IPv6ExtHdrRouting(addresses=["2001:db8::3"], segleft=0)
    ///  / IPv6ExtHdrFragment(id=0x01020304, m=1) / UDP(sport=7, dport=7)`.
    const SAMPLE_HEX: &str = "600000000038004020010db800000000000000000000000120010db8000000000000000000000002\
        3c000502000001002b000104000000002c0200000000000020010db8000000000000000000000003\
        1100000101020304000700070008a45b";

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
        s.chunks(2).map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }

    fn sample() -> Vec<u8> {
        unhex(SAMPLE_HEX)
    }

    #[test]
    fn walk_sample() {
        let b = sample();
        let c = walk_ipv6(&b, 50).unwrap();
        let got: Vec<_> = c.headers.iter().map(|h| (h.proto, h.offset, h.len)).collect();
        assert_eq!(got, vec![(0, 40, 8), (60, 48, 8), (43, 56, 24), (44, 80, 8)]);
        assert_eq!((c.upper, c.upper_offset, c.upper_nh_offset), (17, 88, 80));
        let f = c.fragment.unwrap();
        assert_eq!(f.offset, 80);
        assert_eq!(f.repr, FragmentRepr { next_header: 17, reserved: 0, frag_offset: 0, res: 0, more_frags: true, ident: 0x01020304 });
        assert_eq!(c.unfragmentable_len, 80);
        assert!(c.jumbo.is_none());
        let v = ipv6::validate(&b, 50).unwrap();
        assert_eq!(v.router_alert, Some(0));
        assert_eq!(v.chain, c);
    }

    #[test]
    fn ext_headers_spill_past_the_inline_array() {
        let h = |i: u64| ExtHeader { proto: proto::DSTOPTS, offset: 40 + 8 * i, len: 8 };
        let mut hs = ExtHeaders::new();
        let mut v = Vec::new();
        for i in 0..(3 * INLINE_HEADERS as u64) {
            hs.push(h(i));
            v.push(h(i));
            assert_eq!(hs, v);
            assert_eq!(hs.len(), v.len());
        }
        for x in &mut hs {
            x.offset += 1;
        }
        assert!(hs.iter().zip(&v).all(|(a, b)| a.offset == b.offset + 1));
        hs.clear();
        assert!(hs.is_empty());
        hs.push(h(0));
        assert_eq!(hs, vec![h(0)]);
        let c: ExtHeaders = v.iter().copied().collect();
        assert_eq!(c, v);
    }

    #[test]
    fn pseudo_header_addresses() {
        // The sample's routing header (type 0, segleft 0): dst unchanged.
        let b = sample();
        let c = walk_ipv6(&b, 50).unwrap();
        let (s, d) = pseudo_header_addrs(&b, &c).unwrap();
        assert_eq!((s[15], d[15]), (1, 2));
        // Segments Left 1: the last address (2001:db8::3) is final.
        let mut b = sample();
        b[59] = 1;
        let c = walk_ipv6_lax(&b, 50).unwrap();
        assert_eq!(pseudo_header_addrs(&b, &c).unwrap().1[15], 3);
        // A Home Address option replaces the source (RFC 6275 §6.3).
        let mut ha = [0u8; 16];
        ha[0] = 0x20;
        ha[15] = 0x77;
        let mut d = OptionsRepr { next_header: 59, options: vec![opts::Repr::HomeAddress(ha)] }
            .padded()
            .to_bytes(Layer::DestOpts)
            .unwrap();
        let mut b = sample()[..40].to_vec();
        b[6] = 60;
        b[5] = d.len() as u8;
        b.append(&mut d);
        let c = walk_ipv6(&b, 50).unwrap();
        assert_eq!(pseudo_header_addrs(&b, &c).unwrap().0, ha);
    }

    #[test]
    fn unfragmentable_part_without_fragment() {
        let mut b = sample();
        b.truncate(80);
        b[80 - 24] = 17; // routing -> UDP
        b.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        let c = walk_ipv6(&b, 50).unwrap();
        assert_eq!(c.unfragmentable_len, 80);
        // IPv6 + HBH + UDP: unfragmentable = 48.
        let mut b = sample();
        b.truncate(48);
        b[40] = 17;
        b.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        assert_eq!(walk_ipv6(&b, 50).unwrap().unfragmentable_len, 48);
    }

    #[test]
    fn truncated_strict_and_lax() {
        let b = sample();
        for cut in 40..88 {
            let e = walk_ipv6(&b[..cut], 50).unwrap_err();
            assert!(e.is_truncated(), "cut {cut}: {e}");
            let c = walk_ipv6_lax(&b[..cut], 50).unwrap();
            assert!(c.truncated);
            assert!(c.upper_offset <= cut as u64);
        }
        let c = walk_ipv6_lax(&b[..60], 50).unwrap();
        assert_eq!((c.upper, c.upper_offset, c.headers.len()), (43, 56, 2));
        assert_eq!(c.upper_nh_offset, 48);
        let e = walk_ipv6(&b[..60], 50).unwrap_err();
        assert_eq!(e.layer, Layer::Routing);
        assert_eq!(e.offset, 56);
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 24, available: 4 });
        let e = walk_ipv6(&b[..49], 50).unwrap_err();
        assert_eq!((e.layer, e.offset), (Layer::DestOpts, 48));
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 2, available: 1 });
    }

    #[test]
    fn hbh_not_first() {
        let mut b = sample();
        b[48] = 0; // DstOpts names Hop-by-Hop
        let e = walk_ipv6(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::next_header(48)));
        assert_eq!(e.offset, 48);
    }

    #[test]
    fn routing_rfc5095() {
        let mut b = sample();
        b[59] = 1; // type 0, segleft 1
        let e = walk_ipv6(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(58)));
        // Lax does not judge.
        assert!(walk_ipv6_lax(&b, 50).is_ok());
        b[58] = 253; // unknown type, segleft 1
        let e = walk_ipv6(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(58)));
        b[59] = 0; // unknown type, segleft 0: skipped
        assert_eq!(walk_ipv6(&b, 50).unwrap().upper, 17);
        // Type 2 (RFC 6275 §6.4) is a mobile node's to process; to this node
        // it is a type it does not process, whatever its length.
        b[58] = 2;
        b[59] = 1;
        let e = walk_ipv6(&b, 50).unwrap_err();
        assert_eq!((e.layer, e.icmp), (Layer::Routing, Some(Icmp6Answer::header(58))));
        b[59] = 0;
        assert_eq!(walk_ipv6(&b, 50).unwrap().upper, 17);
        // Type 3 (RPL) and type 4 (SRH, RFC 8754 §4.3.2) alike.
        for t in [3, 4] {
            b[58] = t;
            b[59] = 0;
            assert!(walk_ipv6(&b, 50).is_ok());
            b[59] = 2;
            assert_eq!(walk_ipv6(&b, 50).unwrap_err().icmp, Some(Icmp6Answer::header(58)));
        }
    }

    fn dstopts_chain(n: usize) -> Vec<u8> {
        let mut r = ipv6::Repr {
            src_addr: [0; 16],
            dst_addr: [0; 16],
            next_header: if n > 0 { 60 } else { 17 },
            payload_len: 0,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        };
        r.payload_len = (n * 8 + 8) as u16;
        r.src_addr[15] = 1;
        r.dst_addr[15] = 2;
        let mut b = r.to_bytes().to_vec();
        for i in 0..n {
            b.extend_from_slice(&[if i + 1 < n { 60 } else { 17 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        b.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        b
    }

    #[test]
    fn hdrnestlimit() {
        // IPv6 + 49 DstOpts + UDP = 50 headers: passes 50.
        assert!(walk_ipv6(&dstopts_chain(49), 50).is_ok());
        // IPv6 + 50 DstOpts + UDP = 51: refused at 50, fine at 0.
        let b = dstopts_chain(50);
        let e = walk_ipv6(&b, 50).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeaderLimit { limit: 50 });
        // The 51st count is the UDP header's, as in KAME's loop.
        assert_eq!(e.offset, 40 + 50 * 8);
        assert_eq!(walk_ipv6(&b, 0).unwrap().headers.len(), 50);
        assert!(ipv6::validate(&b, 0).is_ok());
        assert!(ipv6::validate(&b, 50).is_err());
        // A huge chain walks with constant stack.
        let b = dstopts_chain(8000);
        assert_eq!(walk_ipv6(&b, 0).unwrap().headers.len(), 8000);
        // HBH first is not counted.
        let mut h = dstopts_chain(49);
        h[6] = 0;
        h[40] = 60;
        assert!(walk_ipv6(&h, 50).is_ok());
    }

    #[test]
    fn ah_is_a_member_esp_ends() {
        let mut b = dstopts_chain(0);
        b.truncate(40);
        b[6] = 51;
        // AH: NH 50, Payload Len 4 -> (4+2)*4 = 24 octets.
        b.extend_from_slice(&[50, 4, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&[0, 0, 0x10, 0, 0, 0, 0, 1]); // ESP SPI, seq
        let c = walk_ipv6(&b, 50).unwrap();
        assert_eq!(c.headers, vec![ExtHeader { proto: 51, offset: 40, len: 24 }]);
        assert_eq!((c.upper, c.upper_offset, c.upper_nh_offset), (50, 64, 40));
    }

    #[test]
    fn options_repr_round_trip() {
        let h = OptionsRepr { next_header: 17, options: vec![opts::Repr::Jumbo(70000)] }.padded();
        let b = h.to_bytes(Layer::HopByHop).unwrap();
        assert_eq!(b, [17, 0, 0xc2, 4, 0, 1, 0x11, 0x70]);
        assert_eq!(OptionsRepr::parse(&b, Layer::HopByHop).unwrap(), h);
        let bad = OptionsRepr { next_header: 17, options: vec![opts::Repr::Pad1] };
        assert!(bad.to_bytes(Layer::DestOpts).is_err());
    }

    #[test]
    fn routing_repr_round_trip() {
        let mut ha = [0u8; 16];
        ha[0] = 0x20;
        ha[15] = 9;
        let r = RoutingRepr::type2(6, ha);
        let b = r.to_bytes().unwrap();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[..4], &[6, 2, 2, 1]);
        let p = RoutingRepr::parse(&b).unwrap();
        assert_eq!(p, r);
        assert_eq!(p.addresses(), Some(vec![ha]));
        let odd = RoutingRepr { next_header: 6, routing_type: 4, segments_left: 0, data: vec![0; 5] };
        assert!(odd.to_bytes().is_err());
        assert!(RoutingRepr::parse(&b[..20]).unwrap_err().is_truncated());
    }

    #[test]
    fn fragment_repr_round_trip() {
        // RFC 8200 §4.5: offset 185 (1480 octets), M=1, id 0xdeadbeef.
        let f = FragmentRepr { next_header: 17, reserved: 0, frag_offset: 185, res: 0, more_frags: true, ident: 0xdeadbeef };
        let b = f.to_bytes();
        assert_eq!(b, [17, 0, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(FragmentRepr::parse(&b).unwrap(), f);
        assert_eq!(f.byte_offset(), 1480);
        assert!(FragmentRepr::parse(&b[..7]).is_err());
    }

    /// IPv6 (Next Header 44) + Fragment header naming `nh` at `frag_offset`
    /// (8-octet units) with M = `more`, then `data`; Payload Length fixed.
    fn fragment(nh: u8, frag_offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
        let mut b = dstopts_chain(0);
        b.truncate(40);
        b[6] = proto::FRAGMENT;
        let f = FragmentRepr { next_header: nh, reserved: 0, frag_offset, res: 0, more_frags: more, ident: 0x0b0b };
        b.extend_from_slice(&f.to_bytes());
        b.extend_from_slice(data);
        let plen = (b.len() - 40) as u16;
        b[4..6].copy_from_slice(&plen.to_be_bytes());
        b
    }

    #[test]
    fn non_first_fragment_ends_the_walk() {
        // Fragment data that would be a type 0 Routing header with Segments
        // Left 5, a misplaced Hop-by-Hop header, a truncated AH, a Fragment
        // header cut short: none of it is read (RFC 8200 §4.5).
        let datas: [(u8, &[u8]); 5] = [
            (proto::ROUTING, &[17, 2, 0, 5, 0, 0, 0, 0]),
            (proto::HOPOPTS, &[17, 0, 1, 4, 0, 0, 0, 0]),
            (proto::AH, &[17, 200]),
            (proto::FRAGMENT, &[17]),
            (proto::DSTOPTS, &[17, 0, 0x9e, 4, 0, 0, 0, 0]),
        ];
        for (nh, data) in datas {
            let b = fragment(nh, 3, true, data);
            for c in [walk_ipv6(&b, 50).unwrap(), walk_ipv6_lax(&b, 50).unwrap(), ipv6::validate(&b, 50).unwrap().chain] {
                assert_eq!(c.headers, vec![ExtHeader { proto: proto::FRAGMENT, offset: 40, len: 8 }]);
                assert_eq!((c.upper, c.upper_offset, c.upper_nh_offset), (proto::FRAGMENT, 48, 40));
                assert_eq!(c.fragment.unwrap().repr.next_header, nh);
                assert_eq!(c.unfragmentable_len, 40);
                assert!(!c.truncated);
            }
        }
        // The last fragment too, and behind Hop-by-Hop and Routing headers.
        let mut b = fragment(proto::ROUTING, 1, false, &[17, 2, 0, 5]);
        let mut pre = vec![43, 0, 1, 4, 0, 0, 0, 0, 44, 2, 0, 0, 0, 0, 0, 0];
        pre.extend_from_slice(&[0; 16]);
        b.splice(40..40, pre);
        b[6] = proto::HOPOPTS;
        let plen = (b.len() - 40) as u16;
        b[4..6].copy_from_slice(&plen.to_be_bytes());
        let c = ipv6::validate(&b, 50).unwrap().chain;
        assert_eq!((c.upper, c.upper_offset, c.upper_nh_offset, c.unfragmentable_len), (44, 80, 72, 72));
        // The Fragment header is counted against hdrnestlimit, nothing after.
        assert!(walk_ipv6(&b, 2).is_ok());
        assert_eq!(walk_ipv6(&b, 1).unwrap_err().kind, ErrorKind::HeaderLimit { limit: 1 });
    }

    #[test]
    fn first_fragment_is_read_not_judged() {
        // Routing type 0 with Segments Left 1, then UDP: read, not judged.
        let mut rt = vec![17, 2, 0, 1, 0, 0, 0, 0];
        rt.extend_from_slice(&[0x20; 16]);
        rt.extend_from_slice(&[0, 7, 0, 7, 0, 16, 0, 0]);
        let b = fragment(proto::ROUTING, 0, true, &rt);
        let c = ipv6::validate(&b, 50).unwrap().chain;
        assert_eq!(c.headers.len(), 2);
        assert_eq!((c.upper, c.upper_offset, c.truncated), (17, 72, false));
        // Whole, the same chain is refused.
        let mut whole = b.clone();
        whole.drain(40..48);
        whole[6] = proto::ROUTING;
        whole[5] -= 8;
        let e = ipv6::validate(&whole, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(42)));
        // An unknown action-10 option after the Fragment header: later too.
        let d = fragment(proto::DSTOPTS, 0, true, &[17, 0, 0x9e, 4, 0, 0, 0, 0, 0, 7, 0, 7, 0, 8, 0, 0]);
        assert_eq!(ipv6::validate(&d, 50).unwrap().chain.upper, 17);
        // A chain cut short: `truncated`, for the reassembler (RFC 7112).
        let t = fragment(proto::ROUTING, 0, true, &rt[..16]);
        let c = ipv6::validate(&t, 50).unwrap().chain;
        assert!(c.truncated);
        assert_eq!((c.upper, c.upper_offset), (proto::ROUTING, 48));
        // Hop-by-Hop after the Fragment header: the read stops there.
        let h = fragment(proto::HOPOPTS, 0, true, &[17, 0, 1, 4, 0, 0, 0, 0]);
        let c = ipv6::validate(&h, 50).unwrap().chain;
        assert_eq!((c.upper, c.upper_offset), (proto::HOPOPTS, 48));
        // hdrnestlimit: the read stops at the limit, no error.
        let mut many = Vec::new();
        for _ in 0..60 {
            many.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        many.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        let m = fragment(proto::DSTOPTS, 0, true, &many);
        let c = ipv6::validate(&m, 50).unwrap().chain;
        assert_eq!(c.headers.len(), 50);
        assert_eq!(c.upper, proto::DSTOPTS);
        assert_eq!(ipv6::validate(&m, 0).unwrap().chain.headers.len(), 61);
    }

    #[test]
    fn atomic_fragment_judged_alone_nesting_refused() {
        let mut rt = vec![17, 2, 0, 1, 0, 0, 0, 0];
        rt.extend_from_slice(&[0x20; 16]);
        rt.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        let b = fragment(proto::ROUTING, 0, false, &rt);
        let e = ipv6::validate(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(50)));
        // A Fragment header after an atomic fragment's: nested.
        let inner = FragmentRepr { next_header: 17, reserved: 0, frag_offset: 0, res: 0, more_frags: true, ident: 1 };
        let mut d = inner.to_bytes().to_vec();
        d.extend_from_slice(&[0, 7, 0, 7, 0, 8, 0, 0]);
        let b = fragment(proto::FRAGMENT, 0, false, &d);
        let e = ipv6::validate(&b, 50).unwrap_err();
        assert_eq!((e.layer, e.offset, e.icmp), (Layer::Fragment, 48, Some(Icmp6Answer::header(48))));
        // The lax walk does not judge it.
        assert_eq!(walk_ipv6_lax(&b, 50).unwrap().headers.len(), 2);
        // Inside a first fragment it is read and judged after reassembly.
        let b = fragment(proto::FRAGMENT, 0, true, &d);
        assert_eq!(ipv6::validate(&b, 50).unwrap().chain.upper, 17);
    }

    #[test]
    fn reassembled_counts_the_fragment_header_and_refuses_another() {
        // IPv6 + 48 DstOpts + UDP: 49 headers; reassembled, 50 with the
        // Fragment header ip6_input met on the way: still within 50.
        let b = dstopts_chain(48);
        assert!(ipv6::validate_reassembled(&b, 50).is_ok());
        let b = dstopts_chain(49);
        assert!(ipv6::validate(&b, 50).is_ok());
        let e = ipv6::validate_reassembled(&b, 50).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeaderLimit { limit: 50 });
        assert!(ipv6::validate_reassembled(&b, 0).is_ok());
        // A Fragment header left in a reassembled datagram.
        let f = fragment(proto::UDP, 0, false, &[0, 7, 0, 7, 0, 8, 0, 0]);
        assert!(ipv6::validate(&f, 50).is_ok());
        let e = ipv6::validate_reassembled(&f, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(40)));
    }
}
