//! DNS messages (RFC 1035 §4) for the stub resolver (seed §1.17): parse a
//! whole message into a [`Message`], build queries and names.
//!
//! Every malformed input is an [`Error`] of layer `dns` with the offset of
//! the octet at fault, never a panic and never unbounded work:
//!
//! - a name longer than 255 octets, a label longer than 63, a compression
//!   pointer that does not point strictly backwards (a loop, a pointer to
//!   itself or forwards) or past the end of the message is `Malformed`;
//!   each name's walk follows at most [`MAX_POINTERS`] pointers and reads
//!   at most 255 octets of labels;
//! - a message that ends inside a header, a question, a record or a
//!   record's data is `Truncated`;
//! - a message longer than 65535 octets (what no transport carries) is
//!   `Malformed`;
//! - record data that does not fit its type (an A of 5 octets, a CNAME
//!   whose name ends before or after RDLENGTH) is `Malformed`.
//!
//! Historic forms of seed §1.1 are parsed and reported, not followed: A6
//! records (RFC 2874) are [`RData::A6`], binary labels (RFC 2673) appear in
//! a name's text as `\[x<hex>/<bits>]` with [`Name::binary`] set.
//!
//! EDNS0 (RFC 6891): the OPT pseudo-record is taken out of the additional
//! section into [`Edns`]; a second OPT, an OPT outside the additional
//! section or not owned by the root is `Malformed` (§6.1.1).
#![forbid(unsafe_code)]

use core::ops::Range;

use crate::error::{Error, Layer, Result};

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const PTR: u16 = 12;
pub const AAAA: u16 = 28;
pub const A6: u16 = 38;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const IN: u16 = 1;

pub const HEADER_LEN: usize = 12;
pub const MAX_MESSAGE: usize = 0xFFFF;
/// RFC 1035 §3.1: octets of a name on the wire.
pub const MAX_NAME: usize = 255;
pub const MAX_LABEL: usize = 63;
/// More pointers than a 255-octet name can need.
pub const MAX_POINTERS: usize = 127;

/// A name in presentation form: no final dot, the root is `"."`; octets
/// outside `!`..`~` and `.` `\` escaped as in master files (`\DDD`, `\.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    /// A binary label (RFC 2673) is in it: reported, never followed.
    pub binary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// Record data of the types the resolver reads; other types are `Other`
/// (the raw octets are in [`Record::data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A([u8; 4]),
    Aaaa([u8; 16]),
    /// CNAME, PTR, NS, DNAME.
    Name(Name),
    Soa(Soa),
    /// RFC 2874 §3.1.1 (historic): prefix length, suffix, prefix name.
    A6 { prefix_len: u8, suffix: [u8; 16], prefix_name: Option<Name> },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub section: Section,
    pub name: Name,
    pub rtype: u16,
    pub rclass: u16,
    /// RFC 2181 §8: a TTL with the top bit set reads as zero.
    pub ttl: u32,
    /// Where the record data is in the message.
    pub data: Range<usize>,
    pub rdata: RData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    /// (code, where the option's data is in the message).
    pub options: Vec<(u16, Range<usize>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
    /// Answer, authority and additional records in message order (each
    /// says its section); the OPT record is not among them.
    pub records: Vec<Record>,
    pub edns: Option<Edns>,
}

fn trunc(off: usize, needed: usize, have: usize, reason: &'static str) -> Error {
    Error::truncated(Layer::Dns, off as u64, needed.saturating_sub(off) as u64, have.saturating_sub(off) as u64, reason)
}

fn bad(off: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Dns, off as u64, reason)
}

fn be16(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(off)?, *buf.get(off + 1)?]))
}

fn be32(buf: &[u8], off: usize) -> Option<u32> {
    let b: [u8; 4] = buf.get(off..off + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn label_text(out: &mut String, raw: &[u8]) {
    for &b in raw {
        if b == b'.' || b == b'\\' {
            out.push('\\');
            out.push(char::from(b));
        } else if (0x21..=0x7E).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('\\');
            out.push(char::from(b'0' + b / 100));
            out.push(char::from(b'0' + (b / 10) % 10));
            out.push(char::from(b'0' + b % 10));
        }
    }
}

/// `\[x<hex>/<bits>]` of a binary label (RFC 2673 §3.2): the first `bits`
/// bits of `raw` as a number, in ceil(bits/4) hex digits.
fn binary_label_text(out: &mut String, raw: &[u8], bits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = bits.div_ceil(4);
    let pad = digits * 4 - bits; // leading zero bits of the number's first digit
    out.push_str("\\[x");
    for d in 0..digits {
        let mut v = 0u8;
        for k in 0..4 {
            let i = d * 4 + k; // bit index in the padded number
            let bit = if i < pad {
                0
            } else {
                let j = i - pad; // bit index in the label
                raw.get(j / 8).map_or(0, |b| (b >> (7 - j % 8)) & 1)
            };
            v = (v << 1) | bit;
        }
        out.push(char::from(HEX.get(usize::from(v)).copied().unwrap_or(b'0')));
    }
    out.push('/');
    out.push_str(&bits.to_string());
    out.push(']');
}

/// The name at `off` of `buf[..end]` and the offset after it (after its
/// first pointer).
pub fn read_name(buf: &[u8], off: usize, end: usize) -> Result<(Name, usize)> {
    let n = end.min(buf.len());
    let mut text = String::new();
    let mut after: Option<usize> = None;
    let mut limit = off; // a pointer must point before the label sequence it is in
    let mut wire = 1usize; // octets of the name uncompressed (the root label)
    let mut jumps = 0usize;
    let mut binary = false;
    let mut pos = off;
    loop {
        let c = *buf.get(pos).filter(|_| pos < n).ok_or_else(|| trunc(pos, pos + 1, n, "DNS message ends inside a name (RFC 1035 §4.1.4)"))?;
        match c & 0xC0 {
            0xC0 => {
                let lo = *buf.get(pos + 1).filter(|_| pos + 1 < n).ok_or_else(|| trunc(pos, pos + 2, n, "DNS message ends inside a compression pointer (RFC 1035 §4.1.4)"))?;
                let ptr = (usize::from(c & 0x3F) << 8) | usize::from(lo);
                if ptr >= n {
                    return Err(bad(pos, "compression pointer past the end of the message (RFC 1035 §4.1.4)"));
                }
                if ptr >= limit {
                    return Err(bad(pos, "compression pointer does not point backwards (a loop; RFC 1035 §4.1.4)"));
                }
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(bad(pos, "too many compression pointers in one name"));
                }
                if after.is_none() {
                    after = Some(pos + 2);
                }
                limit = ptr;
                pos = ptr;
            }
            0x40 => {
                if c != 0x41 {
                    return Err(bad(pos, "unknown extended label type (RFC 6891 §5)"));
                }
                // binary label (RFC 2673 §3.1): count, then ceil(count/8) octets
                let count = *buf.get(pos + 1).filter(|_| pos + 1 < n).ok_or_else(|| trunc(pos, pos + 2, n, "DNS message ends inside a binary label (RFC 2673)"))?;
                let bits = if count == 0 { 256 } else { usize::from(count) };
                let size = bits.div_ceil(8);
                if pos + 2 + size > n {
                    return Err(trunc(pos, pos + 2 + size, n, "DNS message ends inside a binary label (RFC 2673)"));
                }
                wire += 2 + size;
                if wire > MAX_NAME {
                    return Err(bad(pos, "name longer than 255 octets (RFC 1035 §3.1)"));
                }
                if !text.is_empty() {
                    text.push('.');
                }
                binary_label_text(&mut text, buf.get(pos + 2..pos + 2 + size).unwrap_or(&[]), bits);
                binary = true;
                pos += 2 + size;
            }
            0x80 => return Err(bad(pos, "reserved label type 0x80 (RFC 1035 §4.1.4)")),
            _ => {
                if c == 0 {
                    pos += 1;
                    break;
                }
                let len = usize::from(c);
                if pos + 1 + len > n {
                    return Err(trunc(pos, pos + 1 + len, n, "DNS message ends inside a label (RFC 1035 §4.1.4)"));
                }
                wire += 1 + len;
                if wire > MAX_NAME {
                    return Err(bad(pos, "name longer than 255 octets (RFC 1035 §3.1)"));
                }
                if !text.is_empty() {
                    text.push('.');
                }
                label_text(&mut text, buf.get(pos + 1..pos + 1 + len).unwrap_or(&[]));
                pos += 1 + len;
            }
        }
    }
    if text.is_empty() {
        text.push('.');
    }
    Ok((Name { text, binary }, after.unwrap_or(pos)))
}

fn rdata(buf: &[u8], rtype: u16, off: usize, size: usize) -> Result<RData> {
    let end = off + size;
    let body = buf.get(off..end).ok_or_else(|| trunc(off, end, buf.len(), "DNS record data past the message (RFC 1035 §4.1.3)"))?;
    Ok(match rtype {
        A => RData::A(body.try_into().map_err(|_| bad(off, "A record data not 4 octets (RFC 1035 §3.4.1)"))?),
        AAAA => RData::Aaaa(body.try_into().map_err(|_| bad(off, "AAAA record data not 16 octets (RFC 3596 §2.2)"))?),
        CNAME | PTR | NS | DNAME => {
            let (name, after) = read_name(buf, off, end)?;
            if after != end {
                return Err(bad(off, "name does not fill its record data (RFC 1035 §3.3)"));
            }
            RData::Name(name)
        }
        SOA => {
            let (mname, p) = read_name(buf, off, end)?;
            let (rname, p) = read_name(buf, p, end)?;
            if end - p != 20 {
                return Err(bad(off, "SOA record data of the wrong size (RFC 1035 §3.3.13)"));
            }
            let f = |i: usize| be32(buf, p + 4 * i).unwrap_or(0);
            RData::Soa(Soa { mname, rname, serial: f(0), refresh: f(1), retry: f(2), expire: f(3), minimum: f(4) })
        }
        A6 => {
            let plen = *body.first().ok_or_else(|| bad(off, "empty A6 record (RFC 2874 §3.1.1)"))?;
            if plen > 128 {
                return Err(bad(off, "A6 prefix length over 128 (RFC 2874 §3.1.1)"));
            }
            let slen = (128 - usize::from(plen)).div_ceil(8);
            let sfx = body.get(1..1 + slen).ok_or_else(|| bad(off, "A6 suffix past its record data (RFC 2874 §3.1.1)"))?;
            let mut suffix = [0u8; 16];
            if let Some(tail) = suffix.get_mut(16 - slen..) {
                tail.copy_from_slice(sfx);
            }
            let prefix_name = if plen != 0 {
                let (name, after) = read_name(buf, off + 1 + slen, end)?;
                if after != end {
                    return Err(bad(off, "A6 prefix name does not fill its record data (RFC 2874 §3.1.1)"));
                }
                Some(name)
            } else if 1 + slen != size {
                return Err(bad(off, "A6 record data of the wrong size (RFC 2874 §3.1.1)"));
            } else {
                None
            };
            RData::A6 { prefix_len: plen, suffix, prefix_name }
        }
        _ => RData::Other,
    })
}

/// A whole DNS message.
pub fn parse(buf: &[u8]) -> Result<Message> {
    let n = buf.len();
    if n > MAX_MESSAGE {
        return Err(bad(0, "DNS message over 65535 octets"));
    }
    let hdr = |i: usize| be16(buf, 2 * i).unwrap_or(0);
    if n < HEADER_LEN {
        return Err(trunc(0, HEADER_LEN, n, "DNS message ends inside the header (RFC 1035 §4.1.1)"));
    }
    let (qd, an, ns, ar) = (hdr(2), hdr(3), hdr(4), hdr(5));
    let mut msg = Message { id: hdr(0), flags: hdr(1), questions: Vec::new(), records: Vec::new(), edns: None };
    let mut pos = HEADER_LEN;
    for _ in 0..qd {
        let (name, p) = read_name(buf, pos, n)?;
        pos = p;
        let (Some(qtype), Some(qclass)) = (be16(buf, pos), be16(buf, pos + 2)) else {
            return Err(trunc(pos, pos + 4, n, "DNS message ends inside a question (RFC 1035 §4.1.2)"));
        };
        pos += 4;
        msg.questions.push(Question { name, qtype, qclass });
    }
    for (count, section) in [(an, Section::Answer), (ns, Section::Authority), (ar, Section::Additional)] {
        for _ in 0..count {
            let (name, p) = read_name(buf, pos, n)?;
            pos = p;
            if pos + 10 > n {
                return Err(trunc(pos, pos + 10, n, "DNS message ends inside a resource record (RFC 1035 §4.1.3)"));
            }
            let rtype = be16(buf, pos).unwrap_or(0);
            let rclass = be16(buf, pos + 2).unwrap_or(0);
            let ttl = be32(buf, pos + 4).unwrap_or(0);
            let size = usize::from(be16(buf, pos + 8).unwrap_or(0));
            pos += 10;
            if pos + size > n {
                return Err(trunc(pos, pos + size, n, "DNS message ends inside record data (RFC 1035 §4.1.3)"));
            }
            if rtype == OPT {
                if section != Section::Additional {
                    return Err(bad(pos, "OPT record outside the additional section (RFC 6891 §6.1.1)"));
                }
                if msg.edns.is_some() {
                    return Err(bad(pos, "second OPT record (RFC 6891 §6.1.1)"));
                }
                if name.text != "." {
                    return Err(bad(pos, "OPT record not owned by the root (RFC 6891 §6.1.2)"));
                }
                let mut options = Vec::new();
                let (mut p, end) = (pos, pos + size);
                while p < end {
                    if p + 4 > end {
                        return Err(bad(p, "EDNS option header past its record (RFC 6891 §6.1.2)"));
                    }
                    let code = be16(buf, p).unwrap_or(0);
                    let olen = usize::from(be16(buf, p + 2).unwrap_or(0));
                    if p + 4 + olen > end {
                        return Err(bad(p, "EDNS option past its record (RFC 6891 §6.1.2)"));
                    }
                    options.push((code, p + 4..p + 4 + olen));
                    p += 4 + olen;
                }
                msg.edns = Some(Edns {
                    payload: rclass,
                    ext_rcode: (ttl >> 24) as u8,
                    version: (ttl >> 16) as u8,
                    dnssec_ok: ttl & 0x8000 != 0,
                    options,
                });
            } else {
                let rd = rdata(buf, rtype, pos, size)?;
                let ttl = if ttl & 0x8000_0000 != 0 { 0 } else { ttl };
                msg.records.push(Record { section, name, rtype, rclass, ttl, data: pos..pos + size, rdata: rd });
            }
            pos += size;
        }
    }
    Ok(msg)
}

/// Why a presentation-form name cannot be put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    EmptyLabel,
    BadEscape,
    LongLabel,
    LongName,
}

impl NameError {
    pub const fn reason(self) -> &'static str {
        match self {
            NameError::EmptyLabel => "empty label",
            NameError::BadEscape => "bad escape",
            NameError::LongLabel => "label longer than 63 octets",
            NameError::LongName => "name longer than 255 octets",
        }
    }
}

/// Wire form (no compression) of a presentation-form name (`\.` and
/// `\DDD` escapes; a final dot is allowed; `""` and `"."` are the root).
pub fn encode_name(name: &str, out: &mut Vec<u8>) -> core::result::Result<(), NameError> {
    let start = out.len();
    let text = if name.ends_with('.') && !name.ends_with("\\.") { &name[..name.len() - 1] } else { name };
    if name.is_empty() || name == "." {
        out.push(0);
        return Ok(());
    }
    let b = text.as_bytes();
    let mut label = Vec::with_capacity(MAX_LABEL);
    let mut i = 0;
    let flush = |label: &mut Vec<u8>, out: &mut Vec<u8>| -> core::result::Result<(), NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LongLabel);
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label);
        label.clear();
        if out.len() - start > MAX_NAME {
            return Err(NameError::LongName);
        }
        Ok(())
    };
    while let Some(&ch) = b.get(i) {
        if ch == b'\\' {
            let dig = b.get(i + 1..i + 4);
            if let Some(d) = dig.filter(|d| d.iter().all(u8::is_ascii_digit)) {
                let v = d.iter().fold(0u32, |a, &x| a * 10 + u32::from(x - b'0'));
                let v = u8::try_from(v).map_err(|_| NameError::BadEscape)?;
                label.push(v);
                i += 4;
                continue;
            }
            let next = *b.get(i + 1).ok_or(NameError::BadEscape)?;
            // one character, which may be several UTF-8 octets
            let clen = match next {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            label.extend_from_slice(b.get(i + 1..i + 1 + clen).ok_or(NameError::BadEscape)?);
            i += 1 + clen;
            continue;
        }
        if ch == b'.' {
            flush(&mut label, out)?;
        } else {
            label.push(ch);
        }
        i += 1;
    }
    flush(&mut label, out)?;
    out.push(0);
    if out.len() - start > MAX_NAME {
        return Err(NameError::LongName);
    }
    Ok(())
}

/// A query: one question, RD as asked, an OPT record advertising
/// `payload` octets (RFC 6891 §6.2.5) unless `None`.
pub fn build_query(id: u16, name: &str, qtype: u16, rd: bool, payload: Option<u16>) -> core::result::Result<Vec<u8>, NameError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(if rd { 0x0100u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(payload.is_some())]);
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&IN.to_be_bytes());
    if let Some(p) = payload {
        out.push(0);
        out.extend_from_slice(&OPT.to_be_bytes());
        out.extend_from_slice(&p.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(an: u16) -> Vec<u8> {
        let mut h = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        h[6..8].copy_from_slice(&an.to_be_bytes());
        h
    }

    #[test]
    fn query_round_trips() {
        let q = build_query(0x1234, "www.Example.org.", AAAA, true, Some(1232)).unwrap();
        let m = parse(&q).unwrap();
        assert_eq!(m.id, 0x1234);
        assert_eq!(m.questions[0].name.text, "www.Example.org");
        assert_eq!(m.edns.unwrap().payload, 1232);
    }

    #[test]
    fn compression_and_loops() {
        let mut m = header(1);
        encode_name("a.b", &mut m).unwrap();
        m.extend_from_slice(&[0, 28, 0, 1]);
        m.extend_from_slice(&[0xC0, 12, 0, 28, 0, 1, 0, 0, 1, 0, 0, 16]);
        m.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let p = parse(&m).unwrap();
        assert_eq!(p.records[0].name.text, "a.b");
        assert!(matches!(p.records[0].rdata, RData::Aaaa(_)));
        // a pointer to itself
        let mut l = header(0);
        l.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert!(parse(&l).unwrap_err().reason.contains("backwards"));
        for cut in 0..m.len() {
            assert!(parse(&m[..cut]).unwrap_err().is_truncated());
        }
    }

    #[test]
    fn binary_label_text() {
        let mut m = header(0);
        m.extend_from_slice(&[0x41, 0x20, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 12, 0, 1]);
        let p = parse(&m).unwrap();
        assert_eq!(p.questions[0].name.text, "\\[x20010db8/32]");
        assert!(p.questions[0].name.binary);
        let mut m = header(0);
        m.extend_from_slice(&[0x41, 3, 0xE0, 0, 0, 12, 0, 1]);
        assert_eq!(parse(&m).unwrap().questions[0].name.text, "\\[x7/3]");
    }

    #[test]
    fn names_escape_and_bound() {
        let mut out = Vec::new();
        encode_name("a\\.b.c\\255", &mut out).unwrap();
        assert_eq!(out, b"\x03a.b\x02c\xff\x00");
        assert_eq!(encode_name(&"a".repeat(64), &mut Vec::new()), Err(NameError::LongLabel));
        assert_eq!(encode_name(&["abcdefgh"; 30].join("."), &mut Vec::new()), Err(NameError::LongName));
        assert_eq!(encode_name("a..b", &mut Vec::new()), Err(NameError::EmptyLabel));
        assert_eq!(encode_name("a\\", &mut Vec::new()), Err(NameError::BadEscape));
    }
}
