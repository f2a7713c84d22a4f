//! IKEv1 messages (ISAKMP, RFC 2408 §3) and the phase-1/phase-2 payload
//! encryption of RFC 2409 Appendix B: the 28-octet ISAKMP header, the
//! generic payload chain, the nested SA payload (DOI, situation,
//! proposals > transforms > attributes in TV or TLV form, RFC 2408 §3.3),
//! and CBC encryption (AES-CBC, 3DES-CBC) with the IV chained from the
//! last ciphertext block of the previous message. Every length is checked
//! before use; nothing panics on input.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use zeroize::Zeroizing;

use super::config;
use super::crypto::{Prf, Secret};
use crate::error::{Error, ErrorKind, Layer, Result};

pub const HDR_LEN: usize = 28;
/// IKEv1 payload types (RFC 2408 §3.1, RFC 3947 §3.2).
pub const PT_SA: u8 = 1;
pub const PT_P: u8 = 2;
pub const PT_T: u8 = 3;
pub const PT_NATD: u8 = 20;
/// The Encryption flag of the ISAKMP header (RFC 2408 §3.1).
pub const FLAG_ENCRYPTION: u8 = 0x01;
pub const MAX_PAYLOADS: usize = 64;
pub const MAX_PROPOSALS: usize = 64;
pub const MAX_TRANSFORMS: usize = 64;
pub const MAX_ATTRS: usize = 64;

fn trunc(offset: usize, needed: usize, avail: usize, reason: &'static str) -> Error {
    Error::truncated(Layer::Ipsec, offset as u64, needed as u64, avail as u64, reason)
}

fn bad(offset: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Ipsec, offset as u64, reason)
}

fn limit(offset: usize, n: usize, reason: &'static str) -> Error {
    Error::new(Layer::Ipsec, ErrorKind::Limit { limit: n as u64 }, offset as u64, reason)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// The ISAKMP header (RFC 2408 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub cky_i: [u8; 8],
    pub cky_r: [u8; 8],
    pub next: u8,
    pub version: u8,
    pub exchange: u8,
    pub flags: u8,
    pub msg_id: u32,
    pub length: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header> {
        let h = b.get(..HDR_LEN).ok_or_else(|| trunc(0, HDR_LEN, b.len(), "ISAKMP header (RFC 2408 §3.1)"))?;
        let mut cky_i = [0u8; 8];
        let mut cky_r = [0u8; 8];
        cky_i.copy_from_slice(h.get(0..8).unwrap_or_default());
        cky_r.copy_from_slice(h.get(8..16).unwrap_or_default());
        let g = |i: usize| h.get(i).copied().unwrap_or(0);
        Ok(Header { cky_i, cky_r, next: g(16), version: g(17), exchange: g(18), flags: g(19), msg_id: be32(h, 20).unwrap_or(0), length: be32(h, 24).unwrap_or(0) })
    }

    pub fn build(&self) -> [u8; HDR_LEN] {
        let mut h = [0u8; HDR_LEN];
        h[0..8].copy_from_slice(&self.cky_i);
        h[8..16].copy_from_slice(&self.cky_r);
        h[16] = self.next;
        h[17] = self.version;
        h[18] = self.exchange;
        h[19] = self.flags;
        h[20..24].copy_from_slice(&self.msg_id.to_be_bytes());
        h[24..28].copy_from_slice(&self.length.to_be_bytes());
        h
    }
}

/// One payload of a chain: its type and its body (without the generic header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub ptype: u8,
    pub body: &'a [u8],
    pub offset: usize,
}

/// A parsed ISAKMP message: the payloads in clear, or (Encryption flag
/// set) the ciphertext after the header.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    pub header: Header,
    pub payloads: Vec<Payload<'a>>,
    pub encrypted: Option<&'a [u8]>,
}

/// Walks a payload chain starting with type `first`. `padded`: octets
/// after the last payload are allowed (the padding of a decrypted
/// message, RFC 2409 Appendix B), else they are an error.
pub fn parse_chain(first: u8, b: &[u8], base: usize, padded: bool) -> Result<Vec<Payload<'_>>> {
    let mut out = Vec::new();
    let mut np = first;
    let mut at = 0usize;
    while np != 0 {
        if out.len() >= MAX_PAYLOADS {
            return Err(limit(base + at, MAX_PAYLOADS, "more payloads than a message may carry"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 4 {
            return Err(trunc(base + at, 4, rest.len(), "generic payload header (RFC 2408 §3.2)"));
        }
        let len = be16(rest, 2).unwrap_or(0) as usize;
        if len < 4 {
            return Err(bad(base + at + 2, "payload length below its 4-octet header (RFC 2408 §3.2)"));
        }
        if len > rest.len() {
            return Err(trunc(base + at, len, rest.len(), "payload runs past the end of the message"));
        }
        out.push(Payload { ptype: np, body: rest.get(4..len).unwrap_or_default(), offset: base + at + 4 });
        np = rest.first().copied().unwrap_or(0);
        at += len;
    }
    if !padded && at != b.len() {
        return Err(bad(base + at, "octets after the last payload"));
    }
    Ok(out)
}

/// Parses a whole ISAKMP message (version 1.0).
pub fn parse(b: &[u8]) -> Result<Message<'_>> {
    let header = Header::parse(b)?;
    if header.version >> 4 != 1 {
        return Err(bad(17, "ISAKMP major version is not 1 (RFC 2408 §3.1)"));
    }
    let len = header.length as usize;
    if len < HDR_LEN {
        return Err(bad(24, "ISAKMP length below the header"));
    }
    if len > b.len() {
        return Err(trunc(0, len, b.len(), "ISAKMP message shorter than its Length field"));
    }
    if len < b.len() {
        return Err(bad(len, "octets after the ISAKMP message's Length"));
    }
    let body = b.get(HDR_LEN..len).unwrap_or_default();
    if header.flags & FLAG_ENCRYPTION != 0 {
        return Ok(Message { header, payloads: Vec::new(), encrypted: Some(body) });
    }
    let payloads = parse_chain(header.next, body, HDR_LEN, false)?;
    Ok(Message { header, payloads, encrypted: None })
}

/// Builds a payload chain from (type, body), setting each Next Payload.
pub fn build_chain(payloads: &[(u8, &[u8])]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, (_, body)) in payloads.iter().enumerate() {
        let np = payloads.get(i + 1).map(|p| p.0).unwrap_or(0);
        let len = body.len() + 4;
        if len > 0xffff {
            return Err(config("payload longer than 65535 octets"));
        }
        out.extend_from_slice(&[np, 0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// A data attribute (RFC 2408 §3.3): TV (a 16-bit value, AF set) or TLV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrVal {
    Basic(u16),
    Var(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform {
    pub num: u8,
    pub id: u8,
    pub attrs: Vec<(u16, AttrVal)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub num: u8,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// An SA payload body: DOI, situation, proposals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sa {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<Proposal>,
}

fn parse_attrs(b: &[u8], base: usize) -> Result<Vec<(u16, AttrVal)>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        if out.len() >= MAX_ATTRS {
            return Err(limit(base + at, MAX_ATTRS, "more attributes than a transform may carry"));
        }
        let t = be16(b, at).ok_or_else(|| trunc(base + at, 4, b.len() - at, "data attribute (RFC 2408 §3.3)"))?;
        let v = be16(b, at + 2).ok_or_else(|| trunc(base + at, 4, b.len() - at, "data attribute (RFC 2408 §3.3)"))?;
        if t & 0x8000 != 0 {
            out.push((t & 0x7fff, AttrVal::Basic(v)));
            at += 4;
        } else {
            let end = at + 4 + v as usize;
            let val = b.get(at + 4..end).ok_or_else(|| trunc(base + at, 4 + v as usize, b.len() - at, "variable attribute runs past its transform"))?;
            out.push((t, AttrVal::Var(val.to_vec())));
            at = end;
        }
    }
    Ok(out)
}

fn parse_transforms(b: &[u8], n: usize, base: usize) -> Result<Vec<Transform>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut more = true;
    while more {
        if out.len() >= MAX_TRANSFORMS {
            return Err(limit(base + at, MAX_TRANSFORMS, "more transforms than a proposal may carry"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            return Err(trunc(base + at, 8, rest.len(), "transform payload (RFC 2408 §3.6)"));
        }
        let np = rest.first().copied().unwrap_or(0);
        let len = be16(rest, 2).unwrap_or(0) as usize;
        if len < 8 || len > rest.len() {
            return Err(bad(base + at + 2, "transform length outside its proposal"));
        }
        if np != 0 && np != PT_T {
            return Err(bad(base + at, "transform followed by something other than a transform"));
        }
        let g = |i: usize| rest.get(i).copied().unwrap_or(0);
        let attrs = parse_attrs(rest.get(8..len).unwrap_or_default(), base + at + 8)?;
        out.push(Transform { num: g(4), id: g(5), attrs });
        more = np == PT_T;
        at += len;
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last transform of a proposal"));
    }
    if out.len() != n {
        return Err(bad(base, "number of transforms does not match the proposal's count"));
    }
    Ok(out)
}

/// Parses an SA payload body (DOI 1 IPsec, RFC 2407 §4.6.1).
pub fn parse_sa(b: &[u8], base: usize) -> Result<Sa> {
    let doi = be32(b, 0).ok_or_else(|| trunc(base, 8, b.len(), "SA payload DOI and situation"))?;
    let situation = be32(b, 4).ok_or_else(|| trunc(base, 8, b.len(), "SA payload DOI and situation"))?;
    let mut proposals = Vec::new();
    let mut at = 8usize;
    let mut more = true;
    while more {
        if proposals.len() >= MAX_PROPOSALS {
            return Err(limit(base + at, MAX_PROPOSALS, "more proposals than an SA may carry"));
        }
        let rest = b.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            return Err(trunc(base + at, 8, rest.len(), "proposal payload (RFC 2408 §3.5)"));
        }
        let np = rest.first().copied().unwrap_or(0);
        let len = be16(rest, 2).unwrap_or(0) as usize;
        if len < 8 || len > rest.len() {
            return Err(bad(base + at + 2, "proposal length outside the SA payload"));
        }
        if np != 0 && np != PT_P {
            return Err(bad(base + at, "proposal followed by something other than a proposal"));
        }
        let g = |i: usize| rest.get(i).copied().unwrap_or(0);
        let spi_len = g(6) as usize;
        let spi = rest.get(8..8 + spi_len).filter(|_| 8 + spi_len <= len).ok_or_else(|| bad(base + at + 6, "proposal SPI runs past the proposal"))?;
        let transforms = parse_transforms(rest.get(8 + spi_len..len).unwrap_or_default(), g(7) as usize, base + at + 8 + spi_len)?;
        proposals.push(Proposal { num: g(4), protocol: g(5), spi: spi.to_vec(), transforms });
        more = np == PT_P;
        at += len;
    }
    if at != b.len() {
        return Err(bad(base + at, "octets after the last proposal"));
    }
    Ok(Sa { doi, situation, proposals })
}

/// Builds an SA payload body.
pub fn build_sa(sa: &Sa) -> Result<Vec<u8>> {
    if sa.proposals.len() > MAX_PROPOSALS {
        return Err(config("too many proposals"));
    }
    let mut out = Vec::new();
    out.extend_from_slice(&sa.doi.to_be_bytes());
    out.extend_from_slice(&sa.situation.to_be_bytes());
    for (i, p) in sa.proposals.iter().enumerate() {
        if p.spi.len() > 255 || p.transforms.len() > MAX_TRANSFORMS || p.transforms.is_empty() {
            return Err(config("a proposal has 1 to 64 transforms and an SPI of at most 255 octets"));
        }
        let mut body = Vec::new();
        for (j, t) in p.transforms.iter().enumerate() {
            let mut ab = Vec::new();
            for (ty, v) in &t.attrs {
                if *ty > 0x7fff {
                    return Err(config("attribute type above 32767"));
                }
                match v {
                    AttrVal::Basic(x) => {
                        ab.extend_from_slice(&(ty | 0x8000).to_be_bytes());
                        ab.extend_from_slice(&x.to_be_bytes());
                    }
                    AttrVal::Var(x) => {
                        let n = u16::try_from(x.len()).map_err(|_| config("attribute longer than 65535 octets"))?;
                        ab.extend_from_slice(&ty.to_be_bytes());
                        ab.extend_from_slice(&n.to_be_bytes());
                        ab.extend_from_slice(x);
                    }
                }
            }
            let len = u16::try_from(8 + ab.len()).map_err(|_| config("transform longer than 65535 octets"))?;
            body.push(if j + 1 < p.transforms.len() { PT_T } else { 0 });
            body.push(0);
            body.extend_from_slice(&len.to_be_bytes());
            body.extend_from_slice(&[t.num, t.id, 0, 0]);
            body.extend_from_slice(&ab);
        }
        let len = u16::try_from(8 + p.spi.len() + body.len()).map_err(|_| config("proposal longer than 65535 octets"))?;
        out.push(if i + 1 < sa.proposals.len() { PT_P } else { 0 });
        out.push(0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[p.num, p.protocol, p.spi.len() as u8, p.transforms.len() as u8]);
        out.extend_from_slice(&p.spi);
        out.extend_from_slice(&body);
    }
    Ok(out)
}

/// The phase-1 ciphers (IKEv1 Encryption Algorithm attribute values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// 3DES-CBC (5): 24-octet key.
    TripleDes,
    /// AES-CBC (7) with 128, 192 or 256-bit keys.
    Aes(u16),
}

impl Cipher {
    pub fn from_id(id: u16, key_bits: u16) -> Result<Cipher> {
        match (id, key_bits) {
            (5, _) => Ok(Cipher::TripleDes),
            (7, 128 | 192 | 256) => Ok(Cipher::Aes(key_bits)),
            (7, _) => Err(config("AES key length must be 128, 192 or 256 bits")),
            _ => Err(config("IKEv1 cipher not supported (5 3DES-CBC, 7 AES-CBC)")),
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Cipher::TripleDes => 24,
            Cipher::Aes(b) => b as usize / 8,
        }
    }

    pub fn block(self) -> usize {
        match self {
            Cipher::TripleDes => 8,
            Cipher::Aes(_) => 16,
        }
    }
}

/// The phase-1 encryption key from SKEYID_e (RFC 2409 Appendix B): its
/// first octets, or, when it is too short, K1 | K2 | ... with
/// K1 = prf(SKEYID_e, 0) and Kn = prf(SKEYID_e, Kn-1).
pub fn enc_key(prf: Prf, skeyid_e: &[u8], len: usize) -> Result<Secret> {
    if len > 256 {
        return Err(config("encryption key longer than 256 octets"));
    }
    if skeyid_e.len() >= len {
        return Ok(Zeroizing::new(skeyid_e.get(..len).unwrap_or_default().to_vec()));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut k = prf.prf(skeyid_e, &[&[0u8]]);
    while out.len() < len {
        out.extend_from_slice(&k);
        k = prf.prf(skeyid_e, &[&k]);
    }
    out.truncate(len);
    Ok(out)
}

macro_rules! enc {
    ($ty:ty, $k:expr, $iv:expr, $buf:expr, $n:expr) => {
        cbc::Encryptor::<$ty>::new_from_slices($k, $iv)
            .map_err(|_| config("CBC key or IV length"))?
            .encrypt_padded_mut::<NoPadding>($buf, $n)
            .map_err(|_| config("CBC block"))?
            .len()
    };
}
macro_rules! dec {
    ($ty:ty, $k:expr, $iv:expr, $buf:expr) => {
        cbc::Decryptor::<$ty>::new_from_slices($k, $iv)
            .map_err(|_| config("CBC key or IV length"))?
            .decrypt_padded_mut::<NoPadding>($buf)
            .map_err(|_| bad(HDR_LEN, "encrypted ISAKMP body not a whole number of cipher blocks"))?
            .len()
    };
}

fn check(c: Cipher, key: &[u8], iv: &[u8]) -> Result<()> {
    if key.len() != c.key_len() {
        return Err(config("key length does not match the cipher"));
    }
    if iv.len() != c.block() {
        return Err(config("IV length is not the cipher's block size"));
    }
    Ok(())
}

/// Encrypts a payload chain (RFC 2409 Appendix B): zero padding to the
/// block size (the last octet the pad length, as racoon pads), CBC with
/// `iv`. Returns the ciphertext; its last block is the next IV.
pub fn encrypt(c: Cipher, key: &[u8], iv: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    check(c, key, iv)?;
    let bs = c.block();
    let pad = (bs - plain.len() % bs) % bs;
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + pad, 0);
    if pad > 0 {
        if let Some(last) = buf.last_mut() {
            *last = (pad - 1) as u8;
        }
    }
    let n = buf.len();
    let _ = match c {
        Cipher::TripleDes => enc!(des::TdesEde3, key, iv, &mut buf, n),
        Cipher::Aes(128) => enc!(aes::Aes128, key, iv, &mut buf, n),
        Cipher::Aes(192) => enc!(aes::Aes192, key, iv, &mut buf, n),
        Cipher::Aes(_) => enc!(aes::Aes256, key, iv, &mut buf, n),
    };
    Ok(buf)
}

/// Decrypts an encrypted ISAKMP body with `iv`; the plaintext keeps its
/// padding (the payload chain ends it). The ciphertext's last block is
/// the next IV.
pub fn decrypt(c: Cipher, key: &[u8], iv: &[u8], ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check(c, key, iv)?;
    if ct.is_empty() || ct.len() % c.block() != 0 {
        return Err(bad(HDR_LEN, "encrypted ISAKMP body not a whole number of cipher blocks"));
    }
    let mut buf = Zeroizing::new(ct.to_vec());
    let _ = match c {
        Cipher::TripleDes => dec!(des::TdesEde3, key, iv, &mut buf[..]),
        Cipher::Aes(128) => dec!(aes::Aes128, key, iv, &mut buf[..]),
        Cipher::Aes(192) => dec!(aes::Aes192, key, iv, &mut buf[..]),
        Cipher::Aes(_) => dec!(aes::Aes256, key, iv, &mut buf[..]),
    };
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sa_round_trip() {
        let sa = Sa {
            doi: 1,
            situation: 1,
            proposals: vec![Proposal {
                num: 1,
                protocol: 1,
                spi: vec![],
                transforms: vec![
                    Transform { num: 1, id: 1, attrs: vec![(1, AttrVal::Basic(7)), (14, AttrVal::Basic(128)), (12, AttrVal::Var(vec![0, 0, 0x0e, 0x10]))] },
                    Transform { num: 2, id: 1, attrs: vec![(1, AttrVal::Basic(5))] },
                ],
            }],
        };
        let b = build_sa(&sa).unwrap();
        assert_eq!(parse_sa(&b, 0).unwrap(), sa);
        for n in 0..b.len() {
            assert!(parse_sa(&b[..n], 0).is_err());
        }
    }

    #[test]
    fn cbc_round_trip_and_chain() {
        for c in [Cipher::TripleDes, Cipher::Aes(128), Cipher::Aes(256)] {
            let key = vec![3u8; c.key_len()];
            let iv = vec![5u8; c.block()];
            for n in [1usize, 7, 8, 16, 33] {
                let p = vec![0x42u8; n];
                let ct = encrypt(c, &key, &iv, &p).unwrap();
                assert_eq!(ct.len() % c.block(), 0);
                let pt = decrypt(c, &key, &iv, &ct).unwrap();
                assert_eq!(&pt[..n], &p[..]);
            }
        }
    }

    #[test]
    fn enc_key_expansion() {
        let e = [9u8; 20];
        let k = enc_key(Prf::HmacSha1, &e, 32).unwrap();
        let k1 = Prf::HmacSha1.prf(&e, &[&[0u8]]);
        let k2 = Prf::HmacSha1.prf(&e, &[&k1]);
        assert_eq!(&k[..20], &k1[..]);
        assert_eq!(&k[20..], &k2[..12]);
        assert_eq!(&enc_key(Prf::HmacSha1, &e, 16).unwrap()[..], &e[..16]);
    }
}
