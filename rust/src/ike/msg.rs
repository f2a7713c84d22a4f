//! IKEv2 messages (RFC 7296 §3): the fixed header, the generic payload
//! chain with its lengths checked against the message, and the nested
//! payloads (SA: proposals > transforms > attributes; TSi/TSr: selectors).
//! Every length is checked before it is used; nothing panics on input.

use crate::error::{Error, Layer, Result};

pub const HDR_LEN: usize = 28;
/// Payload types (RFC 7296 §3.2).
pub const PT_SA: u8 = 33;
pub const PT_SK: u8 = 46;
/// At most this many payloads in one chain (a message of 64 KiB of
/// 4-octet empty payloads would otherwise make 16k entries).
pub const MAX_PAYLOADS: usize = 64;
pub const MAX_PROPOSALS: usize = 64;
pub const MAX_TRANSFORMS: usize = 64;
pub const MAX_SELECTORS: usize = 64;

fn trunc(offset: usize, needed: usize, avail: usize, reason: &'static str) -> Error {
    Error::truncated(Layer::Ipsec, offset as u64, needed as u64, avail as u64, reason)
}

fn bad(offset: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Ipsec, offset as u64, reason)
}

fn limit(offset: usize, n: usize, reason: &'static str) -> Error {
    Error::new(Layer::Ipsec, crate::error::ErrorKind::Limit { limit: n as u64 }, offset as u64, reason)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// The IKE header (RFC 7296 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    pub next: u8,
    pub version: u8,
    pub exchange: u8,
    pub flags: u8,
    pub msg_id: u32,
    pub length: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header> {
        let h = b.get(..HDR_LEN).ok_or_else(|| trunc(0, HDR_LEN, b.len(), "IKE header (RFC 7296 §3.1)"))?;
        let mut spi_i = [0u8; 8];
        let mut spi_r = [0u8; 8];
        spi_i.copy_from_slice(h.get(0..8).unwrap_or_default());
        spi_r.copy_from_slice(h.get(8..16).unwrap_or_default());
        let g = |i: usize| h.get(i).copied().unwrap_or(0);
        Ok(Header {
            spi_i,
            spi_r,
            next: g(16),
            version: g(17),
            exchange: g(18),
            flags: g(19),
            msg_id: be32(h, 20).unwrap_or(0),
            length: be32(h, 24).unwrap_or(0),
        })
    }

    pub fn build(&self) -> [u8; HDR_LEN] {
        let mut h = [0u8; HDR_LEN];
        h[..8].copy_from_slice(&self.spi_i);
        h[8..16].copy_from_slice(&self.spi_r);
        h[16] = self.next;
        h[17] = self.version;
        h[18] = self.exchange;
        h[19] = self.flags;
        h[20..24].copy_from_slice(&self.msg_id.to_be_bytes());
        h[24..28].copy_from_slice(&self.length.to_be_bytes());
        h
    }
}

/// One payload of a chain: its type, Critical bit and body (after the
/// 4-octet generic header), and the body's offset in the parsed buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub ptype: u8,
    pub critical: bool,
    pub body: &'a [u8],
    pub offset: usize,
}

/// A parsed message: header, the cleartext payloads, and where the SK
/// payload starts (its generic header) if there is one.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    pub header: Header,
    pub payloads: Vec<Payload<'a>>,
    pub sk: Option<usize>,
}

/// Walks a payload chain starting with type `first` over `b`, whose first
/// octet sits at `base` in the message. Stops at an SK payload (which must
/// be the last, RFC 7296 §3.14) and returns its offset.
pub fn parse_chain(first: u8, b: &[u8], base: usize) -> Result<(Vec<Payload<'_>>, Option<usize>)> {
    let mut out = Vec::new();
    let mut np = first;
    let mut at = 0usize;
    while np != 0 {
        if out.len() >= MAX_PAYLOADS {
            return Err(limit(base + at, MAX_PAYLOADS, "more payloads than a message may carry"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 4 {
            return Err(trunc(base + at, 4, rest.len(), "generic payload header (RFC 7296 §3.2)"));
        }
        let len = be16(rest, 2).unwrap_or(0) as usize;
        if len < 4 {
            return Err(bad(base + at + 2, "payload length below its 4-octet header (RFC 7296 §3.2)"));
        }
        if len > rest.len() {
            return Err(trunc(base + at, len, rest.len(), "payload runs past the end of the message"));
        }
        if np == PT_SK {
            if len != rest.len() {
                return Err(bad(base + at, "SK payload is not the last payload (RFC 7296 §3.14)"));
            }
            return Ok((out, Some(base + at)));
        }
        let flags = rest.get(1).copied().unwrap_or(0);
        out.push(Payload { ptype: np, critical: flags & 0x80 != 0, body: rest.get(4..len).unwrap_or_default(), offset: base + at + 4 });
        np = rest.first().copied().unwrap_or(0);
        at += len;
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last payload"));
    }
    Ok((out, None))
}

/// Parses a whole IKEv2 message (cleartext part).
pub fn parse(b: &[u8]) -> Result<Message<'_>> {
    let header = Header::parse(b)?;
    if header.version >> 4 != 2 {
        return Err(bad(17, "IKE major version is not 2 (RFC 7296 §3.1)"));
    }
    let len = header.length as usize;
    if len < HDR_LEN {
        return Err(bad(24, "IKE length below the header"));
    }
    if len > b.len() {
        return Err(trunc(0, len, b.len(), "IKE message shorter than its Length field"));
    }
    if len < b.len() {
        return Err(bad(len, "octets after the IKE message's Length"));
    }
    let (payloads, sk) = parse_chain(header.next, b.get(HDR_LEN..len).unwrap_or_default(), HDR_LEN)?;
    Ok(Message { header, payloads, sk })
}

/// Builds a payload chain from (type, critical, body), setting each Next
/// Payload; `last_next` is the Next Payload of the last (0, or SK's type
/// when an SK payload follows).
pub fn build_chain(payloads: &[(u8, bool, &[u8])], last_next: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, (_, crit, body)) in payloads.iter().enumerate() {
        let np = payloads.get(i + 1).map(|p| p.0).unwrap_or(last_next);
        let len = body.len() + 4;
        if len > 0xffff {
            return Err(crate::ike::config("payload longer than 65535 octets"));
        }
        out.push(np);
        out.push(if *crit { 0x80 } else { 0 });
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// A transform (RFC 7296 §3.3.2) with its Key Length attribute, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    pub ttype: u8,
    pub id: u16,
    pub key_len: Option<u16>,
}

/// A proposal (RFC 7296 §3.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub num: u8,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

fn parse_transforms(b: &[u8], n: usize, base: usize) -> Result<Vec<Transform>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut more = n > 0;
    while more {
        if out.len() >= MAX_TRANSFORMS {
            return Err(limit(base + at, MAX_TRANSFORMS, "too many transforms in a proposal"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            return Err(trunc(base + at, 8, rest.len(), "transform substructure (RFC 7296 §3.3.2)"));
        }
        let last = rest.first().copied().unwrap_or(0);
        if last != 0 && last != 3 {
            return Err(bad(base + at, "transform Last Substruc must be 0 or 3"));
        }
        let len = be16(rest, 2).unwrap_or(0) as usize;
        if len < 8 || len > rest.len() {
            return Err(bad(base + at + 2, "transform length outside its proposal"));
        }
        let mut key_len = None;
        let mut a = 8usize;
        while a < len {
            let at_type = be16(rest, a).ok_or_else(|| trunc(base + at + a, 4, len - a, "transform attribute"))?;
            let v = be16(rest, a + 2).ok_or_else(|| trunc(base + at + a, 4, len - a, "transform attribute"))?;
            if a + 4 > len {
                return Err(trunc(base + at + a, 4, len - a, "transform attribute"));
            }
            if at_type & 0x8000 != 0 {
                if at_type & 0x7fff == 14 {
                    key_len = Some(v);
                }
                a += 4;
            } else {
                let alen = v as usize;
                if a + 4 + alen > len {
                    return Err(bad(base + at + a, "transform attribute runs past its transform"));
                }
                a += 4 + alen;
            }
        }
        out.push(Transform { ttype: rest.get(4).copied().unwrap_or(0), id: be16(rest, 6).unwrap_or(0), key_len });
        at += len;
        more = last == 3;
    }
    if out.len() != n {
        return Err(bad(base, "number of transforms does not match the proposal's count"));
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last transform"));
    }
    Ok(out)
}

/// Parses an SA payload body into its proposals.
pub fn parse_sa(b: &[u8], base: usize) -> Result<Vec<Proposal>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut more = true;
    while more {
        if out.len() >= MAX_PROPOSALS {
            return Err(limit(base + at, MAX_PROPOSALS, "too many proposals in an SA payload"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            return Err(trunc(base + at, 8, rest.len(), "proposal substructure (RFC 7296 §3.3.1)"));
        }
        let last = rest.first().copied().unwrap_or(0);
        if last != 0 && last != 2 {
            return Err(bad(base + at, "proposal Last Substruc must be 0 or 2"));
        }
        let len = be16(rest, 2).unwrap_or(0) as usize;
        let spi_size = rest.get(6).copied().unwrap_or(0) as usize;
        if len < 8 + spi_size || len > rest.len() {
            return Err(bad(base + at + 2, "proposal length outside the SA payload"));
        }
        let ntrans = rest.get(7).copied().unwrap_or(0) as usize;
        let transforms = parse_transforms(rest.get(8 + spi_size..len).unwrap_or_default(), ntrans, base + at + 8 + spi_size)?;
        out.push(Proposal {
            num: rest.get(4).copied().unwrap_or(0),
            protocol: rest.get(5).copied().unwrap_or(0),
            spi: rest.get(8..8 + spi_size).unwrap_or_default().to_vec(),
            transforms,
        });
        at += len;
        more = last == 2;
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last proposal"));
    }
    Ok(out)
}

/// Builds an SA payload body.
pub fn build_sa(props: &[Proposal]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (pi, p) in props.iter().enumerate() {
        let mut tb = Vec::new();
        for (ti, t) in p.transforms.iter().enumerate() {
            let tlen: u16 = if t.key_len.is_some() { 12 } else { 8 };
            tb.push(if ti + 1 == p.transforms.len() { 0 } else { 3 });
            tb.push(0);
            tb.extend_from_slice(&tlen.to_be_bytes());
            tb.push(t.ttype);
            tb.push(0);
            tb.extend_from_slice(&t.id.to_be_bytes());
            if let Some(k) = t.key_len {
                tb.extend_from_slice(&(0x8000u16 | 14).to_be_bytes());
                tb.extend_from_slice(&k.to_be_bytes());
            }
        }
        let len = 8 + p.spi.len() + tb.len();
        if len > 0xffff || p.spi.len() > 255 || p.transforms.len() > 255 {
            return Err(crate::ike::config("proposal too large"));
        }
        out.push(if pi + 1 == props.len() { 0 } else { 2 });
        out.push(0);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push(p.num);
        out.push(p.protocol);
        out.push(p.spi.len() as u8);
        out.push(p.transforms.len() as u8);
        out.extend_from_slice(&p.spi);
        out.extend_from_slice(&tb);
    }
    Ok(out)
}

/// A traffic selector (RFC 7296 §3.13.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub ts_type: u8,
    pub protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start: Vec<u8>,
    pub end: Vec<u8>,
}

/// Parses a TSi/TSr payload body.
pub fn parse_ts(b: &[u8], base: usize) -> Result<Vec<Selector>> {
    if b.len() < 4 {
        return Err(trunc(base, 4, b.len(), "traffic selector payload (RFC 7296 §3.13)"));
    }
    let n = b.first().copied().unwrap_or(0) as usize;
    if n == 0 {
        return Err(bad(base, "traffic selector payload with no selector"));
    }
    if n > MAX_SELECTORS {
        return Err(limit(base, MAX_SELECTORS, "too many traffic selectors"));
    }
    let mut out = Vec::new();
    let mut at = 4usize;
    for _ in 0..n {
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            return Err(trunc(base + at, 8, rest.len(), "traffic selector (RFC 7296 §3.13.1)"));
        }
        let t = rest.first().copied().unwrap_or(0);
        let len = be16(rest, 2).unwrap_or(0) as usize;
        let alen = match t {
            7 => 4,
            8 => 16,
            _ => return Err(bad(base + at, "traffic selector type not 7 (IPv4) or 8 (IPv6)")),
        };
        if len != 8 + 2 * alen {
            return Err(bad(base + at + 2, "traffic selector length does not match its type"));
        }
        if len > rest.len() {
            return Err(trunc(base + at, len, rest.len(), "traffic selector"));
        }
        out.push(Selector {
            ts_type: t,
            protocol: rest.get(1).copied().unwrap_or(0),
            start_port: be16(rest, 4).unwrap_or(0),
            end_port: be16(rest, 6).unwrap_or(0),
            start: rest.get(8..8 + alen).unwrap_or_default().to_vec(),
            end: rest.get(8 + alen..len).unwrap_or_default().to_vec(),
        });
        at += len;
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last traffic selector"));
    }
    Ok(out)
}

/// Builds a TSi/TSr payload body.
pub fn build_ts(sel: &[Selector]) -> Result<Vec<u8>> {
    if sel.is_empty() || sel.len() > 255 {
        return Err(crate::ike::config("1 to 255 traffic selectors"));
    }
    let mut out = vec![sel.len() as u8, 0, 0, 0];
    for s in sel {
        let alen = match s.ts_type {
            7 => 4,
            8 => 16,
            _ => return Err(crate::ike::config("traffic selector type must be 7 (IPv4) or 8 (IPv6)")),
        };
        if s.start.len() != alen || s.end.len() != alen {
            return Err(crate::ike::config("traffic selector addresses do not match the type"));
        }
        out.push(s.ts_type);
        out.push(s.protocol);
        out.extend_from_slice(&((8 + 2 * alen) as u16).to_be_bytes());
        out.extend_from_slice(&s.start_port.to_be_bytes());
        out.extend_from_slice(&s.end_port.to_be_bytes());
        out.extend_from_slice(&s.start);
        out.extend_from_slice(&s.end);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sa_round_trip() {
        let p = vec![Proposal {
            num: 1,
            protocol: 3,
            spi: vec![1, 2, 3, 4],
            transforms: vec![Transform { ttype: 1, id: 12, key_len: Some(128) }, Transform { ttype: 3, id: 12, key_len: None }],
        }];
        let b = build_sa(&p).unwrap();
        assert_eq!(parse_sa(&b, 0).unwrap(), p);
        for cut in 0..b.len() {
            assert!(parse_sa(&b[..cut], 0).is_err());
        }
    }

    #[test]
    fn chain_bounds() {
        let c = build_chain(&[(40, false, b"abcd"), (41, true, b"")], 0).unwrap();
        let (p, sk) = parse_chain(40, &c, 28).unwrap();
        assert_eq!(p.len(), 2);
        assert!(sk.is_none());
        assert!(p[1].critical);
        assert!(parse_chain(40, &c[..c.len() - 1], 28).is_err());
    }
}
