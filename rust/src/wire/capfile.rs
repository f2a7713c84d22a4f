//! pcap and pcapng files read record by record from a buffer that grows
//! by chunks: the reader of `kame dissect`, which streams a capture of any
//! size with one chunk and one record in memory.
//!
//! [`Reader::next`] looks at `buf[*pos..]`; a whole record there is
//! returned (its frame borrowed from `buf`) and `*pos` moves past it; a
//! partial one asks for more (`Ok(None)`), or, at the end of the stream
//! (`eof`), is a [`ErrorKind::Truncated`] error. Limits: a record longer
//! than `max_caplen`, a pcapng block longer than `max_caplen + 65536` or
//! more than `MAX_INTERFACES` interfaces in a section are
//! [`ErrorKind::Limit`] errors; the number of records is not bounded.
//! Errors carry `Layer::Pcap` and the absolute offset in the stream.

use crate::error::{Error, ErrorKind, Layer, Result};

/// The largest record read by default (libpcap's MAXIMUM_SNAPLEN).
pub const MAX_CAPLEN: u32 = 262_144;
/// Interfaces described in one pcapng section.
pub const MAX_INTERFACES: usize = 4096;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const BT_SHB: u32 = 0x0a0d_0d0a;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
const BOM: u32 = 0x1a2b_3c4d;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    /// `if_tsresol`: a power of ten (false) or of two (true), and its exponent.
    pow2: bool,
    exp: u8,
    tsoffset: i64,
}

impl Iface {
    /// A timestamp in `units` of this interface, in nanoseconds.
    fn ns(&self, units: u64) -> i128 {
        let u = i128::from(units);
        let frac = if self.pow2 {
            (u << 30).checked_mul(1_000_000_000).map(|v| v >> (30 + u32::from(self.exp))).unwrap_or(0)
        } else if self.exp <= 9 {
            u * 10i128.pow(9 - u32::from(self.exp))
        } else {
            u / 10i128.pow(u32::from(self.exp) - 9)
        };
        frac + i128::from(self.tsoffset) * 1_000_000_000
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    Unknown,
    Pcap { big: bool, nano: bool, linktype: u32 },
    Pcapng { big: bool, ifaces: Vec<Iface> },
}

/// One packet record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The time stamp in nanoseconds since the epoch.
    pub ts_ns: i128,
    /// The captured octets.
    pub frame: &'a [u8],
    /// The length on the wire.
    pub orig_len: u32,
    pub linktype: u32,
    /// The pcapng interface id (0 in a pcap).
    pub interface: u32,
    /// Absolute offset of the record (its header) in the stream.
    pub offset: u64,
    /// In a pcap, the record as in the file (header and data), to copy.
    pub raw: &'a [u8],
}

/// The state of one capture being read.
#[derive(Debug, Clone)]
pub struct Reader {
    format: Format,
    /// Absolute offset of `buf[0]` (the caller moves it with [`Reader::consumed`]).
    base: u64,
    max_caplen: u32,
    /// A pcap's file header as read (24 octets), to start a copy with.
    pub pcap_header: Option<[u8; 24]>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new(MAX_CAPLEN)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

fn u16_at(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
}

fn malformed(at: u64, reason: &'static str) -> Error {
    Error::malformed(Layer::Pcap, at, reason)
}

impl Reader {
    pub fn new(max_caplen: u32) -> Reader {
        Reader { format: Format::Unknown, base: 0, max_caplen, pcap_header: None }
    }

    /// The caller dropped `n` octets from the front of its buffer.
    pub fn consumed(&mut self, n: usize) {
        self.base += n as u64;
    }

    /// Whether the file header has been read.
    pub fn started(&self) -> bool {
        self.format != Format::Unknown
    }

    /// The link type of the file (a pcap's, a pcapng's first interface).
    pub fn linktype(&self) -> Option<u32> {
        match &self.format {
            Format::Unknown => None,
            Format::Pcap { linktype, .. } => Some(*linktype),
            Format::Pcapng { ifaces, .. } => ifaces.first().map(|i| i.linktype),
        }
    }

    /// Whether the file is a pcap (records can be copied as they are).
    pub fn is_pcap(&self) -> bool {
        matches!(self.format, Format::Pcap { .. })
    }

    fn truncated(&self, at: usize, needed: usize, available: usize, what: &'static str) -> Error {
        Error::truncated(Layer::Pcap, self.base + at as u64, needed as u64, available as u64, what)
    }

    /// The next record of `buf[*pos..]` when it is a whole, well-formed
    /// pcap record (what [`Reader::next`] would return for it, without its
    /// dispatch and `Result`: the loop of a mapped file); None for
    /// anything else (not a pcap, the end, a record cut short or refused),
    /// which `next` then reads and tells.
    #[inline(always)]
    pub fn next_pcap<'a>(&self, buf: &'a [u8], pos: &mut usize) -> Option<Record<'a>> {
        let Format::Pcap { big, nano, linktype } = self.format else { return None };
        let at = *pos;
        let rest = buf.get(at..)?;
        let h = rest.first_chunk::<16>()?;
        let f = |i: usize| u32_at(h, 4 * i, big).unwrap_or(0);
        let (sec, frac, caplen, orig_len) = (f(0), f(1), f(2), f(3));
        let div = if nano { 1_000_000_000 } else { 1_000_000 };
        if caplen > self.max_caplen || frac >= div {
            return None;
        }
        let end = 16 + caplen as usize;
        let raw = rest.get(..end)?;
        *pos = at + end;
        Some(Record {
            ts_ns: i128::from(sec) * 1_000_000_000 + i128::from(frac) * if nano { 1 } else { 1000 },
            frame: raw.get(16..).unwrap_or(&[]),
            orig_len,
            linktype,
            interface: 0,
            offset: self.base + at as u64,
            raw,
        })
    }

    /// The next record of `buf[*pos..]` (see the module doc).
    pub fn next<'a>(&mut self, buf: &'a [u8], pos: &mut usize, eof: bool) -> Result<Option<Record<'a>>> {
        loop {
            let at = *pos;
            let rest = buf.get(at..).unwrap_or(&[]);
            match &self.format {
                Format::Unknown => {
                    if rest.len() < 4 && !eof {
                        return Ok(None);
                    }
                    let magic = u32_at(rest, 0, false);
                    if magic == Some(BT_SHB) {
                        self.format = Format::Pcapng { big: false, ifaces: Vec::new() };
                        continue;
                    }
                    if rest.len() < 24 {
                        if !eof {
                            return Ok(None);
                        }
                        return Err(self.truncated(at, 24, rest.len(), "truncated file header"));
                    }
                    let (le, be) = (u32_at(rest, 0, false).unwrap_or(0), u32_at(rest, 0, true).unwrap_or(0));
                    let (big, magic) = if le == MAGIC_US || le == MAGIC_NS {
                        (false, le)
                    } else if be == MAGIC_US || be == MAGIC_NS {
                        (true, be)
                    } else {
                        return Err(malformed(self.base + at as u64, "bad magic: not a libpcap or pcapng file"));
                    };
                    if u16_at(rest, 4, big) != Some(2) {
                        return Err(malformed(self.base + at as u64 + 4, "pcap version is not 2.x"));
                    }
                    let linktype = u32_at(rest, 20, big).unwrap_or(0);
                    self.pcap_header = rest.get(..24).and_then(|h| h.try_into().ok());
                    self.format = Format::Pcap { big, nano: magic == MAGIC_NS, linktype };
                    *pos = at + 24;
                }
                Format::Pcap { big, nano, linktype } => {
                    let (big, nano, linktype) = (*big, *nano, *linktype);
                    if rest.is_empty() && eof {
                        return Ok(None);
                    }
                    if rest.len() < 16 {
                        return if eof { Err(self.truncated(at, 16, rest.len(), "truncated record header")) } else { Ok(None) };
                    }
                    let f = |i: usize| u32_at(rest, 4 * i, big).unwrap_or(0);
                    let (sec, frac, caplen, orig_len) = (f(0), f(1), f(2), f(3));
                    if caplen > self.max_caplen {
                        return Err(Error::new(
                            Layer::Pcap,
                            ErrorKind::Limit { limit: u64::from(self.max_caplen) },
                            self.base + at as u64 + 8,
                            "record caplen over the limit",
                        ));
                    }
                    let div = if nano { 1_000_000_000 } else { 1_000_000 };
                    if frac >= div {
                        return Err(malformed(self.base + at as u64 + 4, "record sub-second field out of range"));
                    }
                    let end = 16 + caplen as usize;
                    let Some(raw) = rest.get(..end) else {
                        return if eof { Err(self.truncated(at + 16, caplen as usize, rest.len() - 16, "truncated record data")) } else { Ok(None) };
                    };
                    *pos = at + end;
                    let ts_ns = i128::from(sec) * 1_000_000_000 + i128::from(frac) * if nano { 1 } else { 1000 };
                    return Ok(Some(Record {
                        ts_ns,
                        frame: raw.get(16..).unwrap_or(&[]),
                        orig_len,
                        linktype,
                        interface: 0,
                        offset: self.base + at as u64,
                        raw,
                    }));
                }
                Format::Pcapng { big, .. } => {
                    let mut big = *big;
                    if rest.is_empty() && eof {
                        return Ok(None);
                    }
                    let need_head = if u32_at(rest, 0, big) == Some(BT_SHB) { 12 } else { 8 };
                    if rest.len() < need_head {
                        return if eof { Err(self.truncated(at, need_head, rest.len(), "truncated block header")) } else { Ok(None) };
                    }
                    let btype = u32_at(rest, 0, big).unwrap_or(0);
                    if btype == BT_SHB {
                        big = match (u32_at(rest, 8, false), u32_at(rest, 8, true)) {
                            (Some(BOM), _) => false,
                            (_, Some(BOM)) => true,
                            _ => return Err(malformed(self.base + at as u64 + 8, "bad byte-order magic in the Section Header Block")),
                        };
                    }
                    let total = u32_at(rest, 4, big).unwrap_or(0);
                    if total < 12 || total % 4 != 0 || (btype == BT_SHB && total < 28) {
                        return Err(malformed(self.base + at as u64 + 4, "block length is not a multiple of 4 and >= 12 (28 for a section header)"));
                    }
                    let max_block = self.max_caplen.saturating_add(65536);
                    if total > max_block {
                        return Err(Error::new(
                            Layer::Pcap,
                            ErrorKind::Limit { limit: u64::from(max_block) },
                            self.base + at as u64 + 4,
                            "pcapng block length over the limit",
                        ));
                    }
                    let total = total as usize;
                    let Some(block) = rest.get(..total) else {
                        return if eof { Err(self.truncated(at, total, rest.len(), "truncated block")) } else { Ok(None) };
                    };
                    if u32_at(block, total - 4, big) != Some(total as u32) {
                        return Err(malformed(self.base + (at + total - 4) as u64, "trailing block length differs from the leading one"));
                    }
                    *pos = at + total;
                    let body = block.get(8..total - 4).unwrap_or(&[]);
                    let start = self.base + at as u64;
                    if let Some(r) = self.block(btype, big, body, start, block)? {
                        return Ok(Some(r));
                    }
                }
            }
        }
    }

    /// One pcapng block's body (after type and length, before the trailer).
    fn block<'a>(&mut self, btype: u32, big: bool, body: &'a [u8], start: u64, raw: &'a [u8]) -> Result<Option<Record<'a>>> {
        let Format::Pcapng { ifaces, big: order } = &mut self.format else {
            return Ok(None);
        };
        match btype {
            BT_SHB => {
                if u16_at(body, 4, big) != Some(1) {
                    return Err(malformed(start + 12, "pcapng version is not 1.x"));
                }
                *order = big;
                ifaces.clear();
                Ok(None)
            }
            BT_IDB => {
                if body.len() < 8 {
                    return Err(malformed(start + 4, "Interface Description Block shorter than 20"));
                }
                if ifaces.len() >= MAX_INTERFACES {
                    return Err(Error::new(Layer::Pcap, ErrorKind::Limit { limit: MAX_INTERFACES as u64 }, start, "too many pcapng interfaces"));
                }
                let mut i = Iface {
                    linktype: u32::from(u16_at(body, 0, big).unwrap_or(0)),
                    snaplen: u32_at(body, 4, big).unwrap_or(0),
                    pow2: false,
                    exp: 6,
                    tsoffset: 0,
                };
                let mut p = 8usize;
                while let (Some(code), Some(len)) = (u16_at(body, p, big), u16_at(body, p + 2, big)) {
                    if code == 0 {
                        break;
                    }
                    let len = usize::from(len);
                    let Some(v) = body.get(p + 4..p + 4 + len) else {
                        return Err(malformed(start + 8 + p as u64 + 2, "option overruns its block"));
                    };
                    match (code, v) {
                        (9, [r]) => {
                            let exp = r & 0x7f;
                            if (r & 0x80 != 0 && exp > 63) || (r & 0x80 == 0 && exp > 18) {
                                return Err(malformed(start + 8, "if_tsresol out of range"));
                            }
                            i.pow2 = r & 0x80 != 0;
                            i.exp = exp;
                        }
                        (14, v) if v.len() == 8 => {
                            let b: [u8; 8] = v.try_into().unwrap_or([0; 8]);
                            i.tsoffset = if big { i64::from_be_bytes(b) } else { i64::from_le_bytes(b) };
                        }
                        _ => {}
                    }
                    p += 4 + len + (4 - len % 4) % 4;
                }
                ifaces.push(i);
                Ok(None)
            }
            BT_SPB => {
                let Some(iface) = ifaces.first().copied() else {
                    return Err(malformed(start, "packet for an interface not described"));
                };
                let orig_len = u32_at(body, 0, big).ok_or_else(|| malformed(start + 4, "Simple Packet Block shorter than 16"))?;
                let mut caplen = (orig_len as usize).min(body.len() - 4);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let frame = body.get(4..4 + caplen).unwrap_or(&[]);
                Ok(Some(Record { ts_ns: 0, frame, orig_len, linktype: iface.linktype, interface: 0, offset: start, raw }))
            }
            BT_EPB | BT_PB => {
                if body.len() < 20 {
                    return Err(malformed(start + 4, "packet block shorter than 32"));
                }
                let w = |i: usize| u32_at(body, 4 * i, big).unwrap_or(0);
                let ifid = if btype == BT_EPB { w(0) } else { u32::from(u16_at(body, 0, big).unwrap_or(0)) };
                let (hi, lo, caplen, orig_len) = (w(1), w(2), w(3), w(4));
                let Some(iface) = ifaces.get(ifid as usize).copied() else {
                    return Err(malformed(start + 8, "packet for an interface not described"));
                };
                if caplen > self.max_caplen {
                    return Err(Error::new(
                        Layer::Pcap,
                        ErrorKind::Limit { limit: u64::from(self.max_caplen) },
                        start + 20,
                        "record caplen over the limit",
                    ));
                }
                let Some(frame) = body.get(20..20 + caplen as usize) else {
                    return Err(malformed(start + 20, "captured length overruns its block"));
                };
                let ts_ns = iface.ns((u64::from(hi) << 32) | u64::from(lo));
                Ok(Some(Record { ts_ns, frame, orig_len, linktype: iface.linktype, interface: ifid, offset: start, raw }))
            }
            _ => Ok(None),
        }
    }
}

/// A pcap file header (microsecond or nanosecond magic, little-endian).
pub fn pcap_header(linktype: u32, nano: bool) -> [u8; 24] {
    let mut h = [0u8; 24];
    let magic = if nano { MAGIC_NS } else { MAGIC_US };
    h[..4].copy_from_slice(&magic.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&MAX_CAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&linktype.to_le_bytes());
    h
}

/// A pcap record (nanosecond resolution, little-endian) appended to `out`.
pub fn pcap_record(out: &mut Vec<u8>, ts_ns: i128, frame: &[u8], orig_len: u32) {
    let sec = ts_ns.div_euclid(1_000_000_000);
    let ns = ts_ns.rem_euclid(1_000_000_000);
    out.extend_from_slice(&(sec as u32).to_le_bytes());
    out.extend_from_slice(&(ns as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&orig_len.to_le_bytes());
    out.extend_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(frames: &[&[u8]]) -> Vec<u8> {
        let mut v = pcap_header(101, false).to_vec();
        for (i, f) in frames.iter().enumerate() {
            v.extend_from_slice(&(i as u32).to_le_bytes());
            v.extend_from_slice(&5u32.to_le_bytes());
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(f);
        }
        v
    }

    fn all(data: &[u8], chunk: usize) -> Result<Vec<(i128, Vec<u8>)>> {
        let mut r = Reader::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            let eof = fed >= data.len();
            let mut pos = 0;
            while let Some(rec) = r.next(&buf, &mut pos, eof)? {
                out.push((rec.ts_ns, rec.frame.to_vec()));
            }
            if eof {
                return Ok(out);
            }
            buf.drain(..pos);
            r.consumed(pos);
            let end = (fed + chunk).min(data.len());
            buf.extend_from_slice(&data[fed..end]);
            fed = end;
        }
    }

    #[test]
    fn pcap_in_any_chunks() {
        let d = pcap(&[b"abc", b"", b"0123456789"]);
        for chunk in [1, 3, 7, 100] {
            let v = all(&d, chunk).unwrap();
            assert_eq!(v.len(), 3);
            assert_eq!(v[2], (2_000_005_000, b"0123456789".to_vec()));
        }
        let e = all(&d[..d.len() - 1], 5).unwrap_err();
        assert!(e.is_truncated());
        assert_eq!(all(b"", 5).unwrap_err().kind, ErrorKind::Truncated { needed: 24, available: 0 });
        assert_eq!(all(b"hello world, this is no pcap file", 5).unwrap_err().kind, ErrorKind::Malformed);
    }

    /// The fast record path gives what `next` gives, and leaves to it
    /// what it does not read: the file header, a record cut short, a
    /// caplen over the limit, a sub-second field out of range; in both
    /// byte orders and resolutions.
    #[test]
    fn next_pcap_as_next() {
        let mut files = Vec::new();
        for (big, nano) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut d = pcap_header(1, nano).to_vec();
            if big {
                d[..4].copy_from_slice(&(if nano { MAGIC_NS } else { MAGIC_US }).to_be_bytes());
                d[4..6].copy_from_slice(&2u16.to_be_bytes());
            }
            let w = |d: &mut Vec<u8>, v: u32| d.extend_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
            for (i, f) in [&b"abc"[..], b"", b"0123456789"].iter().enumerate() {
                w(&mut d, 1_700_000_000 + i as u32);
                w(&mut d, 999_999);
                w(&mut d, f.len() as u32);
                w(&mut d, 60);
                d.extend_from_slice(f);
            }
            files.push(d.clone());
            files.push(d[..d.len() - 1].to_vec());
            let mut bad = d.clone();
            let at = 24 + 16 + 3 + 4;
            bad[at..at + 4].copy_from_slice(&if big { 1_000_000_000u32.to_be_bytes() } else { 1_000_000_000u32.to_le_bytes() });
            files.push(bad);
            let mut long = d.clone();
            long[24 + 8..24 + 12].copy_from_slice(&if big { (MAX_CAPLEN + 1).to_be_bytes() } else { (MAX_CAPLEN + 1).to_le_bytes() });
            files.push(long);
        }
        for d in files {
            let (mut a, mut b) = (Reader::default(), Reader::default());
            let (mut pa, mut pb) = (0, 0);
            loop {
                let x = a.next(&d, &mut pa, true);
                let y = match b.next_pcap(&d, &mut pb) {
                    Some(r) => Ok(Some(r)),
                    None => b.next(&d, &mut pb, true),
                };
                assert_eq!(x, y);
                assert_eq!(pa, pb);
                if !matches!(x, Ok(Some(_))) {
                    break;
                }
            }
        }
    }

    #[test]
    fn pcapng_blocks() {
        let mut d = Vec::new();
        let block = |d: &mut Vec<u8>, t: u32, body: &[u8]| {
            let total = (body.len() + 12) as u32;
            d.extend_from_slice(&t.to_le_bytes());
            d.extend_from_slice(&total.to_le_bytes());
            d.extend_from_slice(body);
            d.extend_from_slice(&total.to_le_bytes());
        };
        let mut shb = BOM.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&[0xff; 8]);
        block(&mut d, BT_SHB, &shb);
        let mut idb = vec![101, 0, 0, 0, 0, 0, 4, 0];
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        block(&mut d, BT_IDB, &idb);
        let mut epb = vec![0; 4];
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&1_500_000_000u32.to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(b"wxyz");
        block(&mut d, BT_EPB, &epb);
        for chunk in [1, 5, 1000] {
            let v = all(&d, chunk).unwrap();
            assert_eq!(v, vec![(1_500_000_000, b"wxyz".to_vec())]);
        }
        let mut bad = d.clone();
        let n = bad.len();
        bad[n - 1] = 9;
        assert_eq!(all(&bad, 64).unwrap_err().kind, ErrorKind::Malformed);
    }
}
