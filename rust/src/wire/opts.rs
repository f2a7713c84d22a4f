//! TLV options of the Hop-by-Hop and Destination Options headers
//! (RFC 8200 §4.2).
//!
//! ```text
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
//!  |  Option Type  |  Opt Data Len |  Option Data
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
//!
//!  Option Type:  AA C TTTTT
//!                AA  action if the type is not recognized (RFC 8200 §4.2)
//!                C   option data may change en route (1) or not (0)
//! ```
//!
//! Pad1 is the one exception to the TLV shape: a single zero octet.
//!
//! [`Iter`] walks the options of one header and never panics: an option
//! whose length runs past the end of the header yields one `Malformed`
//! error (KAME counts it as `ip6s_toosmall` and drops silently, so no
//! ICMPv6 answer is attached) and then stops. [`Repr`] is the owned, typed
//! form; types it does not know round-trip losslessly as
//! [`Repr::Unknown`]. [`pad`] lays out a list of options with the alignment
//! each option needs and pads the whole to a multiple of 8 octets.

use crate::error::{Error, Layer, Result};

/// Option type numbers (IANA "Destination Options and Hop-by-Hop Options").
pub mod opt_type {
    /// Pad1 (RFC 8200 §4.2).
    pub const PAD1: u8 = 0x00;
    /// PadN (RFC 8200 §4.2).
    pub const PADN: u8 = 0x01;
    /// Router Alert (RFC 2711 §2), alignment 2n+0.
    pub const ROUTER_ALERT: u8 = 0x05;
    /// Jumbo Payload (RFC 2675 §3), alignment 4n+2.
    pub const JUMBO: u8 = 0xC2;
    /// Home Address (RFC 6275 §6.3), alignment 8n+6.
    pub const HOME_ADDRESS: u8 = 0xC9;
}

/// Opt Data Len of a Jumbo Payload option (RFC 2675 §3).
pub const JUMBO_DATA_LEN: u8 = 4;
/// Opt Data Len of a Router Alert option (RFC 2711 §2.1).
pub const ROUTER_ALERT_DATA_LEN: u8 = 2;
/// Opt Data Len of a Home Address option (RFC 6275 §6.3).
pub const HOME_ADDRESS_DATA_LEN: u8 = 16;

/// What a node must do with an option whose type it does not recognize:
/// the two high-order bits of the type (RFC 8200 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// 00: skip over this option and continue processing the header.
    Skip,
    /// 01: discard the packet.
    Discard,
    /// 10: discard the packet and, regardless of whether the destination
    /// was a multicast address, send an ICMP Parameter Problem, Code 2.
    DiscardIcmp,
    /// 11: discard the packet and, only if the destination was not a
    /// multicast address, send an ICMP Parameter Problem, Code 2.
    DiscardIcmpUnlessMulticast,
}

/// The unrecognized-option action of an option type (RFC 8200 §4.2).
pub const fn action(opt_type: u8) -> Action {
    match opt_type >> 6 {
        0 => Action::Skip,
        1 => Action::Discard,
        2 => Action::DiscardIcmp,
        _ => Action::DiscardIcmpUnlessMulticast,
    }
}

/// Whether the option data may change en route (the third-highest bit of
/// the type, 0x20; RFC 8200 §4.2). AH (RFC 4302 §3.3.3.1.1) treats such an
/// option's data as zero when computing the ICV.
pub const fn is_mutable(opt_type: u8) -> bool {
    opt_type & 0x20 != 0
}

/// The alignment requirement `xn+y` of an option type, as `(x, y)`
/// (RFC 8200 §4.2, Appendix A): Jumbo 4n+2 (RFC 2675 §3), Router Alert
/// 2n+0 (RFC 2711 §2.1), Home Address 8n+6 (RFC 6275 §6.3). Other types
/// have no requirement, `(1, 0)`.
pub const fn alignment(opt_type: u8) -> (u8, u8) {
    match opt_type {
        opt_type::JUMBO => (4, 2),
        opt_type::ROUTER_ALERT => (2, 0),
        opt_type::HOME_ADDRESS => (8, 6),
        _ => (1, 0),
    }
}

/// One option as it sits in the header: a zero-copy view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt<'a> {
    /// Offset of the Option Type octet from the start of the extension
    /// header that carries it.
    pub offset: usize,
    pub opt_type: u8,
    /// The Option Data (empty for Pad1).
    pub data: &'a [u8],
}

impl<'a> Opt<'a> {
    /// Octets the option occupies on the wire (1 for Pad1, else 2 + data).
    pub fn wire_len(&self) -> usize {
        if self.opt_type == opt_type::PAD1 {
            1
        } else {
            2 + self.data.len()
        }
    }
    pub fn action(&self) -> Action {
        action(self.opt_type)
    }
    pub fn is_mutable(&self) -> bool {
        is_mutable(self.opt_type)
    }
}

/// Iterator over the options of one Hop-by-Hop or Destination Options
/// header. Yields `Err` at most once (an option overrunning the header),
/// then ends.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    /// The option area: the header bytes after its first two octets.
    area: &'a [u8],
    pos: usize,
    /// Absolute offset of the start of the header in the caller's buffer,
    /// used for error offsets.
    base: u64,
    layer: Layer,
    done: bool,
}

impl<'a> Iter<'a> {
    /// Options of a whole extension header `hdr` (Next Header, Hdr Ext Len,
    /// options...). `base` is the absolute offset of `hdr[0]` in the
    /// caller's buffer; `layer` says which header this is, for errors.
    pub fn new(hdr: &'a [u8], base: u64, layer: Layer) -> Self {
        Iter { area: hdr.get(2..).unwrap_or(&[]), pos: 0, base, layer, done: false }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Opt<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let t = match self.area.get(self.pos) {
            Some(t) => *t,
            None => {
                self.done = true;
                return None;
            }
        };
        let offset = self.pos + 2;
        if t == opt_type::PAD1 {
            self.pos += 1;
            return Some(Ok(Opt { offset, opt_type: t, data: &[] }));
        }
        let err = || {
            Error::malformed(
                self.layer,
                self.base + offset as u64,
                "option overruns the extension header (RFC 8200 §4.2)",
            )
        };
        let len = match self.area.get(self.pos + 1) {
            Some(l) => *l as usize,
            None => {
                self.done = true;
                return Some(Err(err()));
            }
        };
        let start = self.pos + 2;
        match self.area.get(start..start + len) {
            Some(data) => {
                self.pos = start + len;
                Some(Ok(Opt { offset, opt_type: t, data }))
            }
            None => {
                self.done = true;
                Some(Err(err()))
            }
        }
    }
}

/// An option, owned and typed. Types not listed here round-trip losslessly
/// through [`Repr::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Repr {
    /// A single zero octet.
    Pad1,
    /// PadN with `n` zero octets of data (so `n + 2` octets on the wire).
    /// The content of received padding is ignored (RFC 8200 §4.2).
    PadN(u8),
    /// Jumbo Payload Length (RFC 2675 §3).
    Jumbo(u32),
    /// Router Alert value (RFC 2711 §2.1: 0 MLD, 1 RSVP, 2 Active Networks).
    RouterAlert(u16),
    /// Home Address (RFC 6275 §6.3).
    HomeAddress([u8; 16]),
    /// Any other type, or a known type whose data has another length.
    Unknown { opt_type: u8, data: Vec<u8> },
}

impl Repr {
    /// The typed form of a view. A known type with the wrong data length
    /// becomes `Unknown`, so the bytes are never lost; validation of
    /// lengths is the business of the header processing (`ipv6::validate`).
    pub fn parse(opt: &Opt<'_>) -> Repr {
        let d = opt.data;
        match (opt.opt_type, d.len()) {
            (opt_type::PAD1, _) => Repr::Pad1,
            (opt_type::PADN, n) if n <= 255 => Repr::PadN(n as u8),
            (opt_type::JUMBO, 4) => match <[u8; 4]>::try_from(d) {
                Ok(b) => Repr::Jumbo(u32::from_be_bytes(b)),
                Err(_) => Repr::Unknown { opt_type: opt.opt_type, data: d.to_vec() },
            },
            (opt_type::ROUTER_ALERT, 2) => match <[u8; 2]>::try_from(d) {
                Ok(b) => Repr::RouterAlert(u16::from_be_bytes(b)),
                Err(_) => Repr::Unknown { opt_type: opt.opt_type, data: d.to_vec() },
            },
            (opt_type::HOME_ADDRESS, 16) => match <[u8; 16]>::try_from(d) {
                Ok(b) => Repr::HomeAddress(b),
                Err(_) => Repr::Unknown { opt_type: opt.opt_type, data: d.to_vec() },
            },
            (t, _) => Repr::Unknown { opt_type: t, data: d.to_vec() },
        }
    }

    pub fn opt_type(&self) -> u8 {
        match self {
            Repr::Pad1 => opt_type::PAD1,
            Repr::PadN(_) => opt_type::PADN,
            Repr::Jumbo(_) => opt_type::JUMBO,
            Repr::RouterAlert(_) => opt_type::ROUTER_ALERT,
            Repr::HomeAddress(_) => opt_type::HOME_ADDRESS,
            Repr::Unknown { opt_type, .. } => *opt_type,
        }
    }

    /// Length of the Option Data (0 for Pad1, which has no length octet).
    /// `Unknown` data longer than 255 octets cannot be emitted.
    pub fn data_len(&self) -> usize {
        match self {
            Repr::Pad1 => 0,
            Repr::PadN(n) => *n as usize,
            Repr::Jumbo(_) => 4,
            Repr::RouterAlert(_) => 2,
            Repr::HomeAddress(_) => 16,
            Repr::Unknown { data, .. } => data.len(),
        }
    }

    /// Octets on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Pad1 => 1,
            _ => 2 + self.data_len(),
        }
    }

    /// Write the option at the start of `buf`; returns the octets written.
    /// `offset` is only used for error reports.
    pub fn emit(&self, buf: &mut [u8], layer: Layer, offset: u64) -> Result<usize> {
        let n = self.buffer_len();
        let avail = buf.len();
        let out = buf.get_mut(..n).ok_or(Error::truncated(
            layer,
            offset,
            n as u64,
            avail as u64,
            "no room to emit the option",
        ))?;
        if let Repr::Pad1 = self {
            if let Some(b) = out.first_mut() {
                *b = 0;
            }
            return Ok(1);
        }
        let len = u8::try_from(self.data_len()).map_err(|_| {
            Error::malformed(layer, offset, "option data longer than 255 octets (RFC 8200 §4.2)")
        })?;
        let (head, data) = out.split_at_mut(2);
        head.copy_from_slice(&[self.opt_type(), len]);
        match self {
            Repr::Pad1 | Repr::PadN(_) => data.fill(0),
            Repr::Jumbo(v) => data.copy_from_slice(&v.to_be_bytes()),
            Repr::RouterAlert(v) => data.copy_from_slice(&v.to_be_bytes()),
            Repr::HomeAddress(a) => data.copy_from_slice(a),
            Repr::Unknown { data: d, .. } => data.copy_from_slice(d),
        }
        Ok(n)
    }

    /// The shortest padding option for `n` octets (`None` for 0).
    pub fn padding(n: usize) -> Option<Repr> {
        match n {
            0 => None,
            1 => Some(Repr::Pad1),
            n => Some(Repr::PadN(u8::try_from(n - 2).unwrap_or(u8::MAX))),
        }
    }
}

/// Lay out `options` for a header that starts with its two octets of
/// Next Header and Hdr Ext Len: insert Pad1/PadN before each option that
/// needs alignment (Jumbo 4n+2, Router Alert 2n, Home Address 8n+6,
/// RFC 8200 Appendix A), and pad the end so that the header is a multiple
/// of 8 octets. Options already in place are left as they are, so the
/// function is idempotent.
pub fn pad(options: &[Repr]) -> Vec<Repr> {
    let mut out = Vec::with_capacity(options.len() + 2);
    let mut off: usize = 2;
    for o in options {
        let (x, y) = alignment(o.opt_type());
        let (x, y) = (x as usize, y as usize);
        let need = (y + x - off % x) % x;
        if let Some(p) = Repr::padding(need) {
            off += p.buffer_len();
            out.push(p);
        }
        off += o.buffer_len();
        out.push(o.clone());
    }
    let tail = (8 - off % 8) % 8;
    if let Some(p) = Repr::padding(tail) {
        out.push(p);
    }
    out
}

/// Octets the options occupy (without the two-octet header prefix).
pub fn options_len(options: &[Repr]) -> usize {
    options.iter().map(Repr::buffer_len).sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    // A Hop-by-Hop header carrying a Router Alert (MLD) and PadN(0), as
    // sent by every MLDv2 report (RFC 3810 §5): 3a 00 05 02 00 00 01 00.
    const HBH_RTALERT: [u8; 8] = [0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];

    #[test]
    fn deconstruct_router_alert() {
        let v: Vec<_> = Iter::new(&HBH_RTALERT, 40, Layer::HopByHop).collect();
        assert_eq!(v.len(), 2);
        let a = v[0].as_ref().unwrap();
        assert_eq!((a.offset, a.opt_type, a.data), (2, 5, &[0u8, 0][..]));
        assert_eq!(Repr::parse(a), Repr::RouterAlert(0));
        let b = v[1].as_ref().unwrap();
        assert_eq!(Repr::parse(b), Repr::PadN(0));
        assert_eq!(b.offset, 6);
    }

    #[test]
    fn construct_router_alert() {
        let opts = pad(&[Repr::RouterAlert(0)]);
        assert_eq!(opts, vec![Repr::RouterAlert(0), Repr::PadN(0)]);
        let mut buf = [0xffu8; 8];
        buf[0] = 0x3a;
        buf[1] = 0;
        let mut off = 2;
        for o in &opts {
            off += o.emit(&mut buf[off..], Layer::HopByHop, off as u64).unwrap();
        }
        assert_eq!(buf, HBH_RTALERT);
    }

    #[test]
    fn overrun_is_one_error_then_end() {
        // PadN claiming 9 octets in an 8-octet header.
        let hdr = [0x3b, 0x00, 0x01, 0x09, 0, 0, 0, 0];
        let mut it = Iter::new(&hdr, 100, Layer::DestOpts);
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(e.offset, 102);
        assert_eq!(e.layer, Layer::DestOpts);
        assert!(e.icmp.is_none());
        assert!(it.next().is_none());
        // Type octet as the very last octet: no length octet.
        let hdr = [0x3b, 0x00, 0, 0, 0, 0, 0, 0x05];
        let v: Vec<_> = Iter::new(&hdr, 0, Layer::HopByHop).collect();
        assert_eq!(v.len(), 6);
        assert!(v[5].is_err());
    }

    #[test]
    fn actions_and_mutability() {
        assert_eq!(action(0x05), Action::Skip);
        assert_eq!(action(0x41), Action::Discard);
        assert_eq!(action(0x80), Action::DiscardIcmp);
        assert_eq!(action(opt_type::JUMBO), Action::DiscardIcmpUnlessMulticast);
        assert_eq!(action(opt_type::HOME_ADDRESS), Action::DiscardIcmpUnlessMulticast);
        assert!(!is_mutable(opt_type::JUMBO));
        assert!(!is_mutable(opt_type::ROUTER_ALERT));
        assert!(is_mutable(0x23));
        // RFC 6553 RPL option 0x63: 01 1 00011, mutable.
        assert!(is_mutable(0x63));
    }

    #[test]
    fn alignment_of_jumbo_and_hao() {
        // Jumbo right after the two header octets is at 4n+2 already.
        assert_eq!(pad(&[Repr::Jumbo(70000)]), vec![Repr::Jumbo(70000)]);
        // HAO at 8n+6: PadN(2) first (RFC 6275 §6.3 example layout).
        let h = pad(&[Repr::HomeAddress([1; 16])]);
        assert_eq!(h, vec![Repr::PadN(2), Repr::HomeAddress([1; 16])]);
        assert_eq!(2 + options_len(&h), 24);
        // Router alert then jumbo: 2+4=6 is 4n+2 already.
        let h = pad(&[Repr::RouterAlert(1), Repr::Jumbo(70000)]);
        assert_eq!(h, vec![Repr::RouterAlert(1), Repr::Jumbo(70000), Repr::PadN(2)]);
        // Jumbo after a PadN(1) (offset 5) needs 1 octet more.
        let h = pad(&[Repr::PadN(1), Repr::Jumbo(70000)]);
        assert_eq!(h, vec![Repr::PadN(1), Repr::Pad1, Repr::Jumbo(70000), Repr::PadN(2)]);
        assert_eq!((2 + options_len(&h)) % 8, 0);
        // Idempotent.
        assert_eq!(pad(&h), h);
        // Pad1 for one octet.
        let h = pad(&[Repr::Unknown { opt_type: 0x1e, data: vec![0; 3] }]);
        assert_eq!(h.last(), Some(&Repr::Pad1));
    }

    #[test]
    fn unknown_round_trips() {
        let o = Repr::Unknown { opt_type: 0x3e, data: vec![1, 2, 3] };
        let mut buf = [0u8; 5];
        assert_eq!(o.emit(&mut buf, Layer::DestOpts, 0).unwrap(), 5);
        let hdr = [0u8, 0, 0x3e, 3, 1, 2, 3, 0];
        let v = Iter::new(&hdr, 0, Layer::DestOpts).next().unwrap().unwrap();
        assert_eq!(Repr::parse(&v), o);
        // A Jumbo of the wrong length keeps its bytes.
        let hdr = [0u8, 0, 0xc2, 2, 1, 2, 1, 0];
        let v = Iter::new(&hdr, 0, Layer::HopByHop).next().unwrap().unwrap();
        assert_eq!(Repr::parse(&v), Repr::Unknown { opt_type: 0xc2, data: vec![1, 2] });
    }

    #[test]
    fn emit_too_small_and_too_long() {
        let mut buf = [0u8; 3];
        let e = Repr::Jumbo(1).emit(&mut buf, Layer::HopByHop, 7).unwrap_err();
        assert!(e.is_truncated());
        let mut big = vec![0u8; 400];
        let o = Repr::Unknown { opt_type: 0x1e, data: vec![0; 300] };
        assert!(o.emit(&mut big, Layer::HopByHop, 0).is_err());
    }
}
