//! The Mobility Header (RFC 6275 §6.1) and its mobility options (§6.2),
//! with the Return Routability arithmetic of §5.2 (keygen tokens, Kbm, the
//! Binding Authorization Data authenticator).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Payload Proto |  Header Len   |   MH Type     |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
//! .                        Message Data                           .
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Header Len counts 8-octet units past the first 8 (§6.1.1), so a message
//! is a multiple of 8 octets and at most 2048. The parser is strict: a
//! Header Len past the buffer is `Truncated`; a Header Len shorter than the
//! MH type's fixed part (§9.2: Parameter Problem at offset 1), a Payload
//! Proto other than 59 (§9.2: Parameter Problem at offset 0), a bad
//! checksum (offset 4), an option running past the message or a known
//! option of the wrong length are `Malformed`. Unknown MH types and unknown
//! options round-trip (§6.1.1 Binding Error status 2, §6.2.1 "silently
//! ignored").

use crate::cksum::in6_cksum;
use crate::error::{Error, Layer, Result};
use crate::wire::proto;
use std::net::Ipv6Addr;

/// MH Type values (RFC 6275 §6.1.2-§6.1.9, IANA "Mobility Header Types").
pub mod mh_type {
    pub const BRR: u8 = 0;
    pub const HOTI: u8 = 1;
    pub const COTI: u8 = 2;
    pub const HOT: u8 = 3;
    pub const COT: u8 = 4;
    pub const BU: u8 = 5;
    pub const BA: u8 = 6;
    pub const BE: u8 = 7;
}

/// Mobility option types (RFC 6275 §6.2).
pub mod opt_type {
    pub const PAD1: u8 = 0;
    pub const PADN: u8 = 1;
    pub const REFRESH_ADVICE: u8 = 2;
    pub const ALT_COA: u8 = 3;
    pub const NONCE_INDICES: u8 = 4;
    pub const AUTH_DATA: u8 = 5;
}

/// Binding Update flags (§6.1.7): the whole 16-bit field after Sequence.
pub mod bu_flags {
    pub const ACK: u16 = 0x8000;
    pub const HOME: u16 = 0x4000;
    pub const LINK_LOCAL: u16 = 0x2000;
    pub const KEY_MGMT: u16 = 0x1000;
}

/// The Authenticator of Binding Authorization Data under Return
/// Routability: the first 96 bits of an HMAC-SHA1 (§5.2.6).
pub const AUTH_LEN: usize = 12;

/// The fixed part (common header and message data before options) of each
/// known MH type, in octets; `None` for an unknown type (its message data
/// is opaque, §9.2).
pub const fn fixed_len(t: u8) -> Option<usize> {
    match t {
        mh_type::BRR => Some(8),
        mh_type::HOTI | mh_type::COTI => Some(16),
        mh_type::HOT | mh_type::COT => Some(24),
        mh_type::BU | mh_type::BA => Some(12),
        mh_type::BE => Some(24),
        _ => None,
    }
}

/// The message of a Mobility Header: the MH-type-specific fixed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// Binding Refresh Request (§6.1.2).
    Brr,
    /// Home Test Init (§6.1.3).
    HomeTestInit { cookie: [u8; 8] },
    /// Care-of Test Init (§6.1.4).
    CareofTestInit { cookie: [u8; 8] },
    /// Home Test (§6.1.5).
    HomeTest { nonce_index: u16, cookie: [u8; 8], token: [u8; 8] },
    /// Care-of Test (§6.1.6).
    CareofTest { nonce_index: u16, cookie: [u8; 8], token: [u8; 8] },
    /// Binding Update (§6.1.7): `flags` A|H|L|K|Reserved, `lifetime` in
    /// units of 4 seconds.
    BindingUpdate { seq: u16, flags: u16, lifetime: u16 },
    /// Binding Acknowledgement (§6.1.8): `flags` K|Reserved.
    BindingAck { status: u8, flags: u8, seq: u16, lifetime: u16 },
    /// Binding Error (§6.1.9).
    BindingError { status: u8, home_address: [u8; 16] },
    /// Any other MH type: its message data after the checksum, whole.
    Unknown { mh_type: u8, data: &'a [u8] },
}

impl Message<'_> {
    pub fn mh_type(&self) -> u8 {
        match self {
            Message::Brr => mh_type::BRR,
            Message::HomeTestInit { .. } => mh_type::HOTI,
            Message::CareofTestInit { .. } => mh_type::COTI,
            Message::HomeTest { .. } => mh_type::HOT,
            Message::CareofTest { .. } => mh_type::COT,
            Message::BindingUpdate { .. } => mh_type::BU,
            Message::BindingAck { .. } => mh_type::BA,
            Message::BindingError { .. } => mh_type::BE,
            Message::Unknown { mh_type, .. } => *mh_type,
        }
    }

    /// Octets of the common header plus the message's fixed fields.
    fn fixed_len(&self) -> usize {
        match self {
            Message::Unknown { data, .. } => 6 + data.len(),
            m => fixed_len(m.mh_type()).unwrap_or(6),
        }
    }
}

/// A mobility option (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptRepr<'a> {
    Pad1,
    /// PadN of `n` octets in all (type and length included, n >= 2).
    PadN(usize),
    /// Binding Refresh Advice (§6.2.4): the refresh interval in units of 4 s.
    RefreshAdvice(u16),
    /// Alternate Care-of Address (§6.2.5).
    AltCoa([u8; 16]),
    /// Nonce Indices (§6.2.6).
    NonceIndices { home: u16, careof: u16 },
    /// Binding Authorization Data (§6.2.7): the Authenticator.
    AuthData(&'a [u8]),
    /// An option this parser does not know (§6.2.1: ignored, kept).
    Unknown { opt_type: u8, data: &'a [u8] },
}

impl OptRepr<'_> {
    pub fn opt_type(&self) -> u8 {
        match self {
            OptRepr::Pad1 => opt_type::PAD1,
            OptRepr::PadN(_) => opt_type::PADN,
            OptRepr::RefreshAdvice(_) => opt_type::REFRESH_ADVICE,
            OptRepr::AltCoa(_) => opt_type::ALT_COA,
            OptRepr::NonceIndices { .. } => opt_type::NONCE_INDICES,
            OptRepr::AuthData(_) => opt_type::AUTH_DATA,
            OptRepr::Unknown { opt_type, .. } => *opt_type,
        }
    }

    /// Octets on the wire, type and length included.
    pub fn wire_len(&self) -> usize {
        match self {
            OptRepr::Pad1 => 1,
            OptRepr::PadN(n) => *n,
            OptRepr::RefreshAdvice(_) => 4,
            OptRepr::AltCoa(_) => 18,
            OptRepr::NonceIndices { .. } => 6,
            OptRepr::AuthData(a) => 2 + a.len(),
            OptRepr::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// The alignment requirement `xn+y` of §6.2 as `(x, y)`.
    pub fn alignment(&self) -> (usize, usize) {
        match self {
            OptRepr::RefreshAdvice(_) | OptRepr::NonceIndices { .. } => (2, 0),
            OptRepr::AltCoa(_) => (8, 6),
            OptRepr::AuthData(_) => (8, 2),
            _ => (1, 0),
        }
    }
}

/// Where an option sits in the message: its offset from the start of the
/// Mobility Header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptAt<'a> {
    pub offset: usize,
    pub opt: OptRepr<'a>,
}

/// A parsed Mobility Header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub payload_proto: u8,
    pub checksum: u16,
    /// The message's length in octets ((Header Len + 1) * 8).
    pub len: usize,
    pub message: Message<'a>,
    pub options: Vec<OptAt<'a>>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at + N).and_then(|s| <[u8; N]>::try_from(s).ok()).unwrap_or([0; N])
}

fn malformed(offset: usize, reason: &'static str) -> Error {
    Error::malformed(Layer::Mobility, offset as u64, reason)
}

/// The MH checksum (§6.1.1): the IPv6 pseudo-header with next header 135.
pub fn checksum(src: &[u8; 16], dst: &[u8; 16], mh: &[u8]) -> Result<u16> {
    in6_cksum(&Ipv6Addr::from(*src), &Ipv6Addr::from(*dst), proto::MOBILITY, mh.len() as u64, [mh])
}

impl<'a> Repr<'a> {
    /// Parse the Mobility Header at the start of `data` (octets past its
    /// Header Len are not its own and are left alone). With `pseudo`
    /// (source, destination: the home address when a Home Address option
    /// came with it, the final destination of a routing header) the
    /// checksum is verified.
    pub fn parse(data: &'a [u8], pseudo: Option<(&[u8; 16], &[u8; 16])>) -> Result<Repr<'a>> {
        let n = data.len();
        if n < 8 {
            return Err(Error::truncated(Layer::Mobility, 0, 8, n as u64, "Mobility Header (RFC 6275 §6.1.1)"));
        }
        let hl = data.get(1).copied().unwrap_or(0);
        let len = (usize::from(hl) + 1) * 8;
        if len > n {
            return Err(Error::truncated(Layer::Mobility, 0, len as u64, n as u64, "Mobility Header shorter than its Header Len (RFC 6275 §6.1.1)"));
        }
        let b = data.get(..len).unwrap_or(&[]);
        // §9.2 in its order: the checksum, a known MH type (an unknown one
        // is returned whole for a Binding Error), Payload Proto, Header Len.
        if let Some((src, dst)) = pseudo {
            if checksum(src, dst, b)? != 0 {
                return Err(malformed(4, "bad Mobility Header checksum (RFC 6275 §6.1.1)"));
            }
        }
        let payload_proto = b.first().copied().unwrap_or(0);
        let t = b.get(2).copied().unwrap_or(0);
        if let Some(fl) = fixed_len(t) {
            if payload_proto != proto::NONE {
                return Err(malformed(0, "Payload Proto is not 59 (RFC 6275 §6.1.1, §9.2)"));
            }
            if len < fl {
                return Err(malformed(1, "Header Len shorter than the MH type's message (RFC 6275 §9.2)"));
            }
        }
        let message = match t {
            mh_type::BRR => Message::Brr,
            mh_type::HOTI => Message::HomeTestInit { cookie: arr(b, 8) },
            mh_type::COTI => Message::CareofTestInit { cookie: arr(b, 8) },
            mh_type::HOT => Message::HomeTest { nonce_index: be16(b, 6), cookie: arr(b, 8), token: arr(b, 16) },
            mh_type::COT => Message::CareofTest { nonce_index: be16(b, 6), cookie: arr(b, 8), token: arr(b, 16) },
            mh_type::BU => Message::BindingUpdate { seq: be16(b, 6), flags: be16(b, 8), lifetime: be16(b, 10) },
            mh_type::BA => Message::BindingAck {
                status: b.get(6).copied().unwrap_or(0),
                flags: b.get(7).copied().unwrap_or(0),
                seq: be16(b, 8),
                lifetime: be16(b, 10),
            },
            mh_type::BE => Message::BindingError { status: b.get(6).copied().unwrap_or(0), home_address: arr(b, 8) },
            _ => Message::Unknown { mh_type: t, data: b.get(6..).unwrap_or(&[]) },
        };
        let options = match fixed_len(t) {
            Some(fl) => parse_options(b, fl)?,
            None => Vec::new(),
        };
        Ok(Repr { payload_proto, checksum: be16(b, 4), len, message, options })
    }

    /// The first option of `opt_type`, if any.
    pub fn option(&self, opt_type: u8) -> Option<&OptAt<'a>> {
        self.options.iter().find(|o| o.opt.opt_type() == opt_type)
    }
}

/// Walk the options of a message `b` from `at` to its end (§6.2.1).
fn parse_options(b: &[u8], mut at: usize) -> Result<Vec<OptAt<'_>>> {
    let mut out = Vec::new();
    while at < b.len() {
        let ty = b.get(at).copied().unwrap_or(0);
        if ty == opt_type::PAD1 {
            out.push(OptAt { offset: at, opt: OptRepr::Pad1 });
            at += 1;
            continue;
        }
        let Some(&l) = b.get(at + 1) else {
            return Err(malformed(at, "mobility option header past the message (RFC 6275 §6.2.1)"));
        };
        let end = at + 2 + usize::from(l);
        let Some(data) = b.get(at + 2..end) else {
            return Err(malformed(at + 1, "mobility option runs past the message (RFC 6275 §6.2.1)"));
        };
        let need = |want: usize, reason: &'static str| if data.len() == want { Ok(()) } else { Err(malformed(at + 1, reason)) };
        let opt = match ty {
            opt_type::PADN => OptRepr::PadN(2 + data.len()),
            opt_type::REFRESH_ADVICE => {
                need(2, "Binding Refresh Advice Length is not 2 (RFC 6275 §6.2.4)")?;
                OptRepr::RefreshAdvice(be16(data, 0))
            }
            opt_type::ALT_COA => {
                need(16, "Alternate Care-of Address Length is not 16 (RFC 6275 §6.2.5)")?;
                OptRepr::AltCoa(arr(data, 0))
            }
            opt_type::NONCE_INDICES => {
                need(4, "Nonce Indices Length is not 4 (RFC 6275 §6.2.6)")?;
                OptRepr::NonceIndices { home: be16(data, 0), careof: be16(data, 2) }
            }
            opt_type::AUTH_DATA => {
                if data.is_empty() {
                    return Err(malformed(at + 1, "Binding Authorization Data without an Authenticator (RFC 6275 §6.2.7)"));
                }
                OptRepr::AuthData(data)
            }
            _ => OptRepr::Unknown { opt_type: ty, data },
        };
        out.push(OptAt { offset: at, opt });
        at = end;
    }
    Ok(out)
}

fn pad(out: &mut Vec<u8>, n: usize) {
    match n {
        0 => {}
        1 => out.push(opt_type::PAD1),
        _ => {
            out.push(opt_type::PADN);
            out.push((n - 2) as u8);
            out.extend(std::iter::repeat_n(0, n - 2));
        }
    }
}

/// Build a Mobility Header: `message`, then `options`, each preceded by the
/// Pad1/PadN its alignment needs (§6.2), padded to a multiple of 8. The
/// checksum is computed when `pseudo` (source, final destination) is given,
/// else left 0. An option list that makes the message longer than 2048
/// octets is refused.
pub fn emit(payload_proto: u8, message: &Message<'_>, options: &[OptRepr<'_>], pseudo: Option<(&[u8; 16], &[u8; 16])>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(message.fixed_len() + 32);
    out.extend([payload_proto, 0, message.mh_type(), 0, 0, 0]);
    match message {
        Message::Brr => out.extend([0, 0]),
        Message::HomeTestInit { cookie } | Message::CareofTestInit { cookie } => {
            out.extend([0, 0]);
            out.extend(cookie);
        }
        Message::HomeTest { nonce_index, cookie, token } | Message::CareofTest { nonce_index, cookie, token } => {
            out.extend(nonce_index.to_be_bytes());
            out.extend(cookie);
            out.extend(token);
        }
        Message::BindingUpdate { seq, flags, lifetime } => {
            out.extend(seq.to_be_bytes());
            out.extend(flags.to_be_bytes());
            out.extend(lifetime.to_be_bytes());
        }
        Message::BindingAck { status, flags, seq, lifetime } => {
            out.extend([*status, *flags]);
            out.extend(seq.to_be_bytes());
            out.extend(lifetime.to_be_bytes());
        }
        Message::BindingError { status, home_address } => {
            out.extend([*status, 0]);
            out.extend(home_address);
        }
        Message::Unknown { data, .. } => out.extend(*data),
    }
    for o in options {
        let (x, y) = o.alignment();
        let p = (x + y - out.len() % x) % x;
        pad(&mut out, p);
        match o {
            OptRepr::Pad1 => out.push(opt_type::PAD1),
            OptRepr::PadN(n) => {
                if *n < 2 || *n > 257 {
                    return Err(Error::new(Layer::Mobility, crate::error::ErrorKind::Config, out.len() as u64, "PadN is 2 to 257 octets (RFC 6275 §6.2.3)"));
                }
                pad(&mut out, *n)
            }
            OptRepr::RefreshAdvice(v) => {
                out.extend([opt_type::REFRESH_ADVICE, 2]);
                out.extend(v.to_be_bytes());
            }
            OptRepr::AltCoa(a) => {
                out.extend([opt_type::ALT_COA, 16]);
                out.extend(a);
            }
            OptRepr::NonceIndices { home, careof } => {
                out.extend([opt_type::NONCE_INDICES, 4]);
                out.extend(home.to_be_bytes());
                out.extend(careof.to_be_bytes());
            }
            OptRepr::AuthData(d) | OptRepr::Unknown { data: d, .. } => {
                let Ok(l) = u8::try_from(d.len()) else {
                    return Err(Error::new(Layer::Mobility, crate::error::ErrorKind::Config, out.len() as u64, "mobility option data over 255 octets (RFC 6275 §6.2.1)"));
                };
                out.extend([o.opt_type(), l]);
                out.extend(*d);
            }
        }
    }
    let tail = (8 - out.len() % 8) % 8;
    pad(&mut out, tail);
    let hl = out.len() / 8 - 1;
    let Ok(hl) = u8::try_from(hl) else {
        return Err(Error::new(Layer::Mobility, crate::error::ErrorKind::Config, 1, "Mobility Header over 2048 octets (RFC 6275 §6.1.1)"));
    };
    if let Some(h) = out.get_mut(1) {
        *h = hl;
    }
    if let Some((src, dst)) = pseudo {
        set_checksum(&mut out, src, dst)?;
    }
    Ok(out)
}

/// Compute and store the checksum of a built message.
pub fn set_checksum(mh: &mut [u8], src: &[u8; 16], dst: &[u8; 16]) -> Result<()> {
    if let Some(c) = mh.get_mut(4..6) {
        c.copy_from_slice(&[0, 0]);
    }
    let c = checksum(src, dst, mh)?;
    if let Some(f) = mh.get_mut(4..6) {
        f.copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// Return Routability (RFC 6275 §5.2).
pub mod rr {
    use hmac::{Hmac, Mac};
    use sha1::{Digest, Sha1};

    type HmacSha1 = Hmac<Sha1>;

    fn mac(key: &[u8]) -> HmacSha1 {
        // HMAC takes keys of any length: new_from_slice cannot fail here.
        match <HmacSha1 as Mac>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        }
    }

    #[cold]
    fn unreachable_hmac() -> HmacSha1 {
        // Never taken (HMAC accepts every key length); a fixed key keeps the
        // path panic-free.
        <HmacSha1 as Mac>::new(&Default::default())
    }

    /// A keygen token (§5.2.5): the first 64 bits of
    /// HMAC_SHA1(Kcn, address | nonce | which), `which` 0 for the home
    /// keygen token (home address), 1 for the care-of one (care-of address).
    pub fn keygen_token(kcn: &[u8], addr: &[u8; 16], nonce: &[u8], which: u8) -> [u8; 8] {
        let mut m = mac(kcn);
        m.update(addr);
        m.update(nonce);
        m.update(&[which]);
        let d = m.finalize().into_bytes();
        let mut t = [0u8; 8];
        t.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
        t
    }

    /// Kbm (§5.2.5): SHA1(home keygen token | care-of keygen token), or
    /// SHA1(home keygen token) when the mobile node is at home
    /// (deregistration with care-of address = home address).
    pub fn kbm(home_token: &[u8; 8], careof_token: Option<&[u8; 8]>) -> [u8; 20] {
        let mut h = Sha1::new();
        h.update(home_token);
        if let Some(c) = careof_token {
            h.update(c);
        }
        h.finalize().into()
    }

    fn auth_mac(kbm: &[u8], coa: &[u8; 16], cn: &[u8; 16], mh: &[u8], auth: core::ops::Range<usize>) -> HmacSha1 {
        let mut m = mac(kbm);
        m.update(coa);
        m.update(cn);
        // the Mobility Header with the Checksum as zero and without the
        // Authenticator itself (§6.2.7)
        m.update(mh.get(..4).unwrap_or(&[]));
        m.update(&[0, 0]);
        m.update(mh.get(6..auth.start).unwrap_or(&[]));
        m.update(mh.get(auth.end..).unwrap_or(&[]));
        m
    }

    /// The Authenticator (§6.2.7) of the message `mh` whose Authenticator
    /// field occupies `auth`: the first 96 bits of
    /// HMAC_SHA1(Kbm, care-of address | correspondent | MH data).
    pub fn authenticator(kbm: &[u8], coa: &[u8; 16], cn: &[u8; 16], mh: &[u8], auth: core::ops::Range<usize>) -> [u8; super::AUTH_LEN] {
        let d = auth_mac(kbm, coa, cn, mh, auth).finalize().into_bytes();
        let mut a = [0u8; super::AUTH_LEN];
        a.copy_from_slice(d.get(..super::AUTH_LEN).unwrap_or(&[0; super::AUTH_LEN]));
        a
    }

    /// Whether the Authenticator at `auth` in `mh` is right, compared in
    /// constant time. An Authenticator of another length than 96 bits is
    /// never right under Return Routability.
    pub fn verify(kbm: &[u8], coa: &[u8; 16], cn: &[u8; 16], mh: &[u8], auth: core::ops::Range<usize>) -> bool {
        let Some(tag) = mh.get(auth.clone()) else { return false };
        if tag.len() != super::AUTH_LEN {
            return false;
        }
        auth_mac(kbm, coa, cn, mh, auth).verify_truncated_left(tag).is_ok()
    }
}

/// Build a message whose last option is Binding Authorization Data signed
/// with `kbm` for (`coa`, `cn`) (§5.2.6): the authenticator is computed
/// over the message with a zero checksum, then the checksum over it all.
pub fn emit_signed(
    payload_proto: u8,
    message: &Message<'_>,
    options: &[OptRepr<'_>],
    kbm: &[u8],
    coa: &[u8; 16],
    cn: &[u8; 16],
    pseudo: Option<(&[u8; 16], &[u8; 16])>,
) -> Result<Vec<u8>> {
    let zero = [0u8; AUTH_LEN];
    let mut opts: Vec<OptRepr<'_>> = options.to_vec();
    opts.push(OptRepr::AuthData(&zero));
    let mut out = emit(payload_proto, message, &opts, None)?;
    let r = Repr::parse(&out, None)?;
    let Some(at) = r.options.iter().rev().find(|o| o.opt.opt_type() == opt_type::AUTH_DATA).map(|o| o.offset + 2) else {
        return Err(malformed(0, "no Binding Authorization Data in the built message"));
    };
    let a = rr::authenticator(kbm, coa, cn, &out, at..at + AUTH_LEN);
    if let Some(f) = out.get_mut(at..at + AUTH_LEN) {
        f.copy_from_slice(&a);
    }
    if let Some((src, dst)) = pseudo {
        set_checksum(&mut out, src, dst)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn hoti_round_trip_with_checksum() {
        let m = Message::HomeTestInit { cookie: *b"cookie!!" };
        let b = emit(59, &m, &[], Some((&SRC, &DST))).unwrap();
        assert_eq!(b.len(), 16);
        assert_eq!(&b[..4], &[59, 1, 1, 0]);
        let r = Repr::parse(&b, Some((&SRC, &DST))).unwrap();
        assert_eq!(r.message, m);
        assert!(r.options.is_empty());
        // one flipped bit: checksum error at offset 4
        let mut bad = b.clone();
        bad[10] ^= 1;
        assert_eq!(Repr::parse(&bad, Some((&SRC, &DST))).unwrap_err().offset, 4);
        // another pseudo-header fails too
        let mut other = SRC;
        other[15] = 3;
        assert!(Repr::parse(&b, Some((&other, &DST))).is_err());
    }

    #[test]
    fn bu_options_aligned() {
        let m = Message::BindingUpdate { seq: 7, flags: bu_flags::ACK, lifetime: 100 };
        let kbm = rr::kbm(&[1; 8], Some(&[2; 8]));
        let b = emit_signed(59, &m, &[OptRepr::NonceIndices { home: 3, careof: 4 }], &kbm, &SRC, &DST, Some((&SRC, &DST))).unwrap();
        assert_eq!(b.len(), 32);
        let r = Repr::parse(&b, Some((&SRC, &DST))).unwrap();
        assert_eq!(r.options[0], OptAt { offset: 12, opt: OptRepr::NonceIndices { home: 3, careof: 4 } });
        assert_eq!(r.options[1].offset % 8, 2);
        let at = r.options[1].offset + 2;
        assert!(rr::verify(&kbm, &SRC, &DST, &b, at..at + 12));
        assert!(!rr::verify(&kbm, &DST, &SRC, &b, at..at + 12));
        // the authenticator does not depend on the checksum field
        let mut c = b.clone();
        c[4] ^= 0xff;
        assert!(rr::verify(&kbm, &SRC, &DST, &c, at..at + 12));
        c[8] ^= 1;
        assert!(!rr::verify(&kbm, &SRC, &DST, &c, at..at + 12));
    }

    #[test]
    fn ba_auth_needs_padding() {
        let m = Message::BindingAck { status: 0, flags: 0, seq: 7, lifetime: 100 };
        let b = emit_signed(59, &m, &[], &[9; 20], &SRC, &DST, None).unwrap();
        let r = Repr::parse(&b, None).unwrap();
        assert_eq!(r.options[0].opt, OptRepr::PadN(6));
        assert_eq!(r.options[1].offset, 18);
        assert_eq!(b.len(), 32);
    }

    #[test]
    fn lying_lengths() {
        let m = Message::BindingError { status: 1, home_address: SRC };
        let b = emit(59, &m, &[], None).unwrap();
        assert_eq!(b.len(), 24);
        // Header Len past the buffer
        let mut l = b.clone();
        l[1] = 3;
        assert!(Repr::parse(&l, None).unwrap_err().is_truncated());
        // Header Len shorter than the type's message: offset 1
        let mut s = b[..16].to_vec();
        s[1] = 1;
        assert_eq!(Repr::parse(&s, None).unwrap_err().offset, 1);
        // Payload Proto other than 59: offset 0
        let mut p = b.clone();
        p[0] = 6;
        assert_eq!(Repr::parse(&p, None).unwrap_err().offset, 0);
        // an option running past the message
        let m = Message::BindingUpdate { seq: 1, flags: 0, lifetime: 1 };
        let mut o = emit(59, &m, &[OptRepr::PadN(4)], None).unwrap();
        assert_eq!(o.len(), 16);
        o[13] = 9;
        let e = Repr::parse(&o, None).unwrap_err();
        assert_eq!((e.offset, e.is_truncated()), (13, false));
        // a Nonce Indices option of the wrong length
        let mut n = emit(59, &m, &[OptRepr::NonceIndices { home: 1, careof: 2 }], None).unwrap();
        n[13] = 2;
        n[16] = 1; // PadN over the rest
        n[17] = 0;
        assert_eq!(Repr::parse(&n, None).unwrap_err().offset, 13);
        // too short for any message
        assert!(Repr::parse(&[59, 0, 0], None).unwrap_err().is_truncated());
    }

    #[test]
    fn unknown_type_and_option_round_trip() {
        let m = Message::Unknown { mh_type: 42, data: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
        let b = emit(59, &m, &[], None).unwrap();
        let r = Repr::parse(&b, None).unwrap();
        assert_eq!(r.message, m);
        let m = Message::Brr;
        let b = emit(59, &m, &[OptRepr::Unknown { opt_type: 99, data: &[7, 7] }], None).unwrap();
        let r = Repr::parse(&b, None).unwrap();
        assert_eq!(r.options[0].opt, OptRepr::Unknown { opt_type: 99, data: &[7, 7] });
    }

    #[test]
    fn keygen_token_matches_hmac_definition() {
        // the token is HMAC_SHA1(Kcn, addr | nonce | which) cut to 64 bits
        use hmac::Mac;
        let kcn = [5u8; 20];
        let nonce = [6u8; 8];
        let mut m = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&kcn).unwrap();
        m.update(&SRC);
        m.update(&nonce);
        m.update(&[1]);
        let d = m.finalize().into_bytes();
        assert_eq!(&rr::keygen_token(&kcn, &SRC, &nonce, 1)[..], &d[..8]);
        assert_ne!(rr::keygen_token(&kcn, &SRC, &nonce, 0), rr::keygen_token(&kcn, &SRC, &nonce, 1));
    }
}
