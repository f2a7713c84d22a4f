//! The Encrypted payload SK{...} (RFC 7296 §3.14): AES-CBC, AES-CTR (RFC
//! 5930) or 3DES-CBC (RFC 2451) with an HMAC integrity check over the
//! whole message (RFC 7296 §3.14, RFC 4868 truncations), or AES-GCM with a
//! 16-octet ICV and the IKE header plus the SK payload header as
//! additional data (RFC 5282 §5).

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use ring::aead;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::config;
use super::crypto::random;
use super::msg::{HDR_LEN, PT_SK};
use crate::error::{Error, ErrorKind, Layer, Result};

fn bad(offset: u64, reason: &'static str) -> Error {
    Error::new(Layer::Ipsec, ErrorKind::Malformed, offset, reason)
}

/// Integrity (IANA Transform Type 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integ {
    None,
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

impl Integ {
    pub fn from_id(id: u16) -> Result<Integ> {
        Ok(match id {
            0 => Integ::None,
            2 => Integ::HmacSha1_96,
            12 => Integ::HmacSha256_128,
            13 => Integ::HmacSha384_192,
            14 => Integ::HmacSha512_256,
            _ => return Err(config("integrity algorithm not supported (2, 12, 13, 14)")),
        })
    }

    pub fn key_len(self) -> usize {
        match self {
            Integ::None => 0,
            Integ::HmacSha1_96 => 20,
            Integ::HmacSha256_128 => 32,
            Integ::HmacSha384_192 => 48,
            Integ::HmacSha512_256 => 64,
        }
    }

    pub fn icv_len(self) -> usize {
        match self {
            Integ::None => 0,
            Integ::HmacSha1_96 => 12,
            Integ::HmacSha256_128 => 16,
            Integ::HmacSha384_192 => 24,
            Integ::HmacSha512_256 => 32,
        }
    }

    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Integ::None => return Vec::new(),
            Integ::HmacSha1_96 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integ::HmacSha256_128 => ring::hmac::HMAC_SHA256,
            Integ::HmacSha384_192 => ring::hmac::HMAC_SHA384,
            Integ::HmacSha512_256 => ring::hmac::HMAC_SHA512,
        };
        let tag = ring::hmac::sign(&ring::hmac::Key::new(alg, key), data);
        tag.as_ref().get(..self.icv_len()).unwrap_or_default().to_vec()
    }
}

/// Encryption (IANA Transform Type 1) with its key length in bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encr {
    AesCbc(u16),
    AesGcm16(u16),
    /// RFC 5930: SK_e is the key and a 4-octet nonce; an 8-octet IV; the
    /// counter block of RFC 3686 (nonce, IV, a 32-bit counter from 1).
    AesCtr(u16),
    /// ENCR_3DES (RFC 2451), 192-bit key, 8-octet blocks.
    Tdes,
}

impl Encr {
    pub fn from_id(id: u16, key_bits: u16) -> Result<Encr> {
        match (id, key_bits) {
            (12, 128 | 192 | 256) => Ok(Encr::AesCbc(key_bits)),
            (20, 128 | 256) => Ok(Encr::AesGcm16(key_bits)),
            (13, 128 | 192 | 256) => Ok(Encr::AesCtr(key_bits)),
            (3, 0 | 192) => Ok(Encr::Tdes),
            (3, _) => Err(config("3DES takes no key length (192 bits)")),
            (12 | 13 | 20, _) => Err(config("AES key length must be 128, 192 or 256 bits (GCM: 128 or 256)")),
            _ => Err(config("encryption algorithm not supported (3 3DES, 12 AES-CBC, 13 AES-CTR, 20 AES-GCM-16)")),
        }
    }

    /// SK_e length: the key, plus the 4-octet salt for GCM (RFC 5282 §7.1)
    /// or nonce for CTR (RFC 5930 §2).
    pub fn key_len(self) -> usize {
        match self {
            Encr::AesCbc(b) => b as usize / 8,
            Encr::AesGcm16(b) | Encr::AesCtr(b) => b as usize / 8 + 4,
            Encr::Tdes => 24,
        }
    }

    pub fn is_aead(self) -> bool {
        matches!(self, Encr::AesGcm16(_))
    }
}

fn check_keys(encr: Encr, integ: Integ, ekey: &[u8], akey: &[u8]) -> Result<()> {
    if ekey.len() != encr.key_len() {
        return Err(config("SK_e length does not match the encryption algorithm"));
    }
    if encr.is_aead() != (integ == Integ::None) {
        return Err(config("AES-GCM takes no integrity algorithm; AES-CBC, AES-CTR and 3DES need one (RFC 7296 §3.3)"));
    }
    if akey.len() != integ.key_len() {
        return Err(config("SK_a length does not match the integrity algorithm"));
    }
    Ok(())
}

fn gcm_key(ekey: &[u8]) -> Result<(aead::LessSafeKey, [u8; 4])> {
    let (k, salt) = ekey.split_at(ekey.len().saturating_sub(4));
    let alg = if k.len() == 16 { &aead::AES_128_GCM } else { &aead::AES_256_GCM };
    let key = aead::UnboundKey::new(alg, k).map_err(|_| config("AES-GCM key"))?;
    let mut s = [0u8; 4];
    s.copy_from_slice(salt);
    Ok((aead::LessSafeKey::new(key), s))
}

macro_rules! cbc_enc {
    ($ty:ty, $k:expr, $iv:expr, $buf:expr, $n:expr) => {
        cbc::Encryptor::<$ty>::new_from_slices($k, $iv)
            .map_err(|_| config("AES-CBC key"))?
            .encrypt_padded_mut::<NoPadding>($buf, $n)
            .map_err(|_| config("AES-CBC block"))?
            .len()
    };
}
macro_rules! cbc_dec {
    ($ty:ty, $k:expr, $iv:expr, $buf:expr) => {
        cbc::Decryptor::<$ty>::new_from_slices($k, $iv)
            .map_err(|_| config("AES-CBC key"))?
            .decrypt_padded_mut::<NoPadding>($buf)
            .map_err(|_| bad(0, "SK: ciphertext not a whole number of blocks"))?
            .len()
    };
}

/// RFC 5930 / RFC 3686: XOR `body` with AES-CTR's keystream, the counter
/// block being the nonce (the last 4 octets of SK_e), the 8-octet IV and a
/// 32-bit block counter starting at 1.
fn ctr_apply(bits: u16, ekey: &[u8], iv: &[u8], body: &mut [u8]) -> Result<()> {
    use aes::cipher::{KeyIvInit as _, StreamCipher};
    let (k, nonce) = ekey.split_at(ekey.len().saturating_sub(4));
    let mut block = [0u8; 16];
    block[..4].copy_from_slice(nonce);
    block[4..12].copy_from_slice(iv.get(..8).ok_or_else(|| config("AES-CTR IV"))?);
    block[15] = 1;
    macro_rules! run {
        ($ty:ty) => {
            ctr::Ctr32BE::<$ty>::new_from_slices(k, &block).map_err(|_| config("AES-CTR key"))?.apply_keystream(body)
        };
    }
    match bits {
        128 => run!(aes::Aes128),
        192 => run!(aes::Aes192),
        _ => run!(aes::Aes256),
    }
    Ok(())
}

/// Seals `inner` (the plaintext payload chain whose first payload is of
/// type `first`) into an SK payload after the 28-octet IKE header `hdr`,
/// whose Next Payload and Length this sets. Returns the whole message.
pub fn seal(hdr: &[u8], first: u8, inner: &[u8], encr: Encr, integ: Integ, ekey: &[u8], akey: &[u8]) -> Result<Vec<u8>> {
    check_keys(encr, integ, ekey, akey)?;
    let hdr: &[u8; HDR_LEN] = hdr.try_into().map_err(|_| config("IKE header must be 28 octets"))?;
    let (iv_len, block, icv_len) = match encr {
        Encr::AesCbc(_) => (16usize, 16usize, integ.icv_len()),
        Encr::AesGcm16(_) => (8, 4, 16),
        Encr::AesCtr(_) => (8, 1, integ.icv_len()),
        Encr::Tdes => (8, 8, integ.icv_len()),
    };
    let pad = (block - (inner.len() + 1) % block) % block;
    let pt_len = inner.len() + pad + 1;
    let sk_len = 4 + iv_len + pt_len + icv_len;
    let total = HDR_LEN + sk_len;
    if sk_len > 0xffff || total > 0xffff_ffff {
        return Err(config("SK payload longer than 65535 octets"));
    }
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(hdr);
    if let Some(np) = m.get_mut(16) {
        *np = PT_SK;
    }
    if let Some(len) = m.get_mut(24..28) {
        len.copy_from_slice(&(total as u32).to_be_bytes());
    }
    m.extend_from_slice(&[first, 0]);
    m.extend_from_slice(&(sk_len as u16).to_be_bytes());
    let iv = random(iv_len)?;
    m.extend_from_slice(&iv);
    let ct_at = m.len();
    m.extend_from_slice(inner);
    m.resize(ct_at + pt_len - 1, 0);
    m.push(pad as u8);
    match encr {
        Encr::AesCbc(bits) => {
            let (_, body) = m.split_at_mut(ct_at);
            let mut ivb = [0u8; 16];
            ivb.copy_from_slice(&iv);
            let n = match bits {
                128 => cbc_enc!(aes::Aes128, ekey, &ivb, body, pt_len),
                192 => cbc_enc!(aes::Aes192, ekey, &ivb, body, pt_len),
                _ => cbc_enc!(aes::Aes256, ekey, &ivb, body, pt_len),
            };
            debug_assert_eq!(n, pt_len);
            let icv = integ.mac(akey, &m);
            m.extend_from_slice(&icv);
        }
        Encr::AesCtr(bits) => {
            let (_, body) = m.split_at_mut(ct_at);
            ctr_apply(bits, ekey, &iv, body)?;
            let icv = integ.mac(akey, &m);
            m.extend_from_slice(&icv);
        }
        Encr::Tdes => {
            let (_, body) = m.split_at_mut(ct_at);
            let n = cbc::Encryptor::<des::TdesEde3>::new_from_slices(ekey, &iv)
                .map_err(|_| config("3DES key"))?
                .encrypt_padded_mut::<NoPadding>(body, pt_len)
                .map_err(|_| config("3DES block"))?
                .len();
            debug_assert_eq!(n, pt_len);
            let icv = integ.mac(akey, &m);
            m.extend_from_slice(&icv);
        }
        Encr::AesGcm16(_) => {
            let (key, salt) = gcm_key(ekey)?;
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&salt);
            nonce[4..].copy_from_slice(&iv);
            let (aad, rest) = m.split_at_mut(HDR_LEN + 4);
            let body = rest.get_mut(iv_len..).unwrap_or_default();
            let tag = key
                .seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(&aad[..]), body)
                .map_err(|_| config("AES-GCM seal"))?;
            m.extend_from_slice(tag.as_ref());
        }
    }
    Ok(m)
}

/// Opens the SK payload of a whole message `msg` that starts at `sk_off`
/// (its generic header) and runs to the end of the message. Returns the
/// type of the first inner payload and the inner payload chain.
pub fn open(msg: &[u8], sk_off: usize, encr: Encr, integ: Integ, ekey: &[u8], akey: &[u8]) -> Result<(u8, Zeroizing<Vec<u8>>)> {
    check_keys(encr, integ, ekey, akey)?;
    let first = *msg.get(sk_off).ok_or_else(|| bad(sk_off as u64, "SK: no payload header"))?;
    let (iv_len, block, icv_len) = match encr {
        Encr::AesCbc(_) => (16usize, 16usize, integ.icv_len()),
        Encr::AesGcm16(_) => (8, 1, 16),
        Encr::AesCtr(_) => (8, 1, integ.icv_len()),
        Encr::Tdes => (8, 8, integ.icv_len()),
    };
    let body_at = sk_off + 4;
    let avail = msg.len().saturating_sub(body_at);
    if avail < iv_len + icv_len + block.max(1) {
        return Err(Error::truncated(Layer::Ipsec, sk_off as u64, (iv_len + icv_len + 4) as u64, avail as u64, "SK: shorter than IV + padding + ICV (RFC 7296 §3.14)"));
    }
    let ct_at = body_at + iv_len;
    let icv_at = msg.len() - icv_len;
    let iv = msg.get(body_at..ct_at).unwrap_or_default();
    let mut pt = Zeroizing::new(msg.get(ct_at..icv_at).unwrap_or_default().to_vec());
    if !encr.is_aead() {
        let want = integ.mac(akey, msg.get(..icv_at).unwrap_or_default());
        let got = msg.get(icv_at..).unwrap_or_default();
        if !bool::from(want.ct_eq(got)) {
            return Err(Error::new(Layer::Ipsec, ErrorKind::Integrity, icv_at as u64, "SK: integrity check failed (wrong keys, or the message was altered)"));
        }
    }
    match encr {
        Encr::AesCtr(bits) => ctr_apply(bits, ekey, iv, &mut pt[..])?,
        Encr::Tdes => {
            if pt.len() % 8 != 0 {
                return Err(bad(ct_at as u64, "SK: ciphertext not a whole number of 3DES blocks"));
            }
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(ekey, iv)
                .map_err(|_| config("3DES key"))?
                .decrypt_padded_mut::<NoPadding>(&mut pt[..])
                .map_err(|_| bad(0, "SK: ciphertext not a whole number of blocks"))?;
        }
        Encr::AesCbc(bits) => {
            if pt.len() % 16 != 0 {
                return Err(bad(ct_at as u64, "SK: ciphertext not a whole number of AES blocks"));
            }
            let mut ivb = [0u8; 16];
            ivb.copy_from_slice(iv);
            let _ = match bits {
                128 => cbc_dec!(aes::Aes128, ekey, &ivb, &mut pt[..]),
                192 => cbc_dec!(aes::Aes192, ekey, &ivb, &mut pt[..]),
                _ => cbc_dec!(aes::Aes256, ekey, &ivb, &mut pt[..]),
            };
        }
        Encr::AesGcm16(_) => {
            let (key, salt) = gcm_key(ekey)?;
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&salt);
            nonce[4..].copy_from_slice(iv);
            let aad = msg.get(..body_at).unwrap_or_default();
            pt.extend_from_slice(msg.get(icv_at..).unwrap_or_default());
            let n = key
                .open_in_place(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), &mut pt[..])
                .map_err(|_| Error::new(Layer::Ipsec, ErrorKind::Integrity, icv_at as u64, "SK: AES-GCM ICV check failed (wrong keys, or the message was altered)"))?
                .len();
            pt.truncate(n);
        }
    }
    let pad = *pt.last().ok_or_else(|| bad(ct_at as u64, "SK: empty plaintext"))? as usize;
    if pad + 1 > pt.len() {
        return Err(Error::new(Layer::Ipsec, ErrorKind::BadPadding, ct_at as u64, "SK: Pad Length longer than the plaintext"));
    }
    let keep = pt.len() - pad - 1;
    pt.truncate(keep);
    Ok((first, pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        for (e, i) in [
            (Encr::AesCbc(128), Integ::HmacSha256_128),
            (Encr::AesCbc(256), Integ::HmacSha512_256),
            (Encr::AesGcm16(128), Integ::None),
            (Encr::AesGcm16(256), Integ::None),
            (Encr::AesCtr(128), Integ::HmacSha256_128),
            (Encr::AesCtr(256), Integ::HmacSha1_96),
            (Encr::Tdes, Integ::HmacSha256_128),
        ] {
            let ek = vec![7u8; e.key_len()];
            let ak = vec![9u8; i.key_len()];
            for n in [0usize, 1, 15, 16, 17, 100] {
                let inner = vec![0xabu8; n];
                let m = seal(&[1u8; 28], 35, &inner, e, i, &ek, &ak).unwrap();
                assert_eq!(u32::from_be_bytes(m[24..28].try_into().unwrap()) as usize, m.len());
                let (first, pt) = open(&m, 28, e, i, &ek, &ak).unwrap();
                assert_eq!((first, &pt[..]), (35, &inner[..]));
                let mut t = m.clone();
                let last = t.len() - 1;
                t[last] ^= 1;
                assert!(open(&t, 28, e, i, &ek, &ak).is_err());
            }
        }
    }
}
