//! The Internet checksum (RFC 1071) over scatter-gather buffers.
//!
//! KAME's `in6_cksum()` (seed §1.11) sums a packet whose IPv6 header and
//! upper-layer header need not be contiguous: the data is a chain of mbufs
//! that may split anywhere, including at odd offsets. [`Sum`] is the same
//! idea over a sequence of byte slices: a chunk that starts at an odd global
//! offset is summed as if aligned and its folded sum byte-swapped (RFC 1071
//! §2(B), byte-order independence), which carries the odd byte across the
//! split.
//!
//! The IPv6 pseudo-header (RFC 8200 §8.1) carries a 32-bit upper-layer
//! length, so jumbograms (RFC 2675) checksum correctly; the API takes `u64`
//! and refuses (`ErrorKind::Limit`) a length that does not fit 32 bits. The
//! IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) has a 16-bit length.
//!
//! Speed: the data is read as native-endian `u32` words widened into `u64`
//! accumulators (no carries to propagate for 2^32 words), a loop LLVM turns
//! into SIMD; on x86-64 (features detected at run time) 16-bit words are
//! added pairwise into 32-bit lanes by `vpmaddwd`, 64 octets an
//! instruction with AVX-512 BW (the tail one masked load), 32 with AVX2.
//! One implementation serves every checksum of the stack: the wire
//! headers, the capture columns' verification, `cksum_many`. The folded
//! native-endian sum is byte-swapped into network order at the end
//! (RFC 1071 §2(B)).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind, Layer, Result};

/// Bytes summed per inner block before folding, so no `u64` accumulator
/// can overflow (4 accumulators x 2^28 words x (2^32 - 1) < 2^64).
const BLOCK: usize = 1 << 30;

#[inline(always)]
fn load4(w: &[u8]) -> u64 {
    let a: [u8; 4] = w.try_into().unwrap_or([0; 4]);
    u64::from(u32::from_ne_bytes(a))
}

/// Sum of native-endian 32-bit words of `data` (the tail zero-padded), as
/// a `u64` that has not been folded. `data.len()` must be at most [`BLOCK`].
#[inline(always)]
fn sum_block_portable(data: &[u8]) -> u64 {
    let mut a0: u64 = 0;
    let mut a1: u64 = 0;
    let mut a2: u64 = 0;
    let mut a3: u64 = 0;
    let mut big = data.chunks_exact(64);
    for c in &mut big {
        let mut w = c.chunks_exact(16);
        for q in &mut w {
            let (x, y) = q.split_at(8);
            let (x0, x1) = x.split_at(4);
            let (y0, y1) = y.split_at(4);
            a0 = a0.wrapping_add(load4(x0));
            a1 = a1.wrapping_add(load4(x1));
            a2 = a2.wrapping_add(load4(y0));
            a3 = a3.wrapping_add(load4(y1));
        }
    }
    let rest = big.remainder();
    let mut words = rest.chunks_exact(4);
    for w in &mut words {
        a0 = a0.wrapping_add(load4(w));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut t = [0u8; 4];
        for (d, s) in t.iter_mut().zip(tail) {
            *d = *s;
        }
        a1 = a1.wrapping_add(u64::from(u32::from_ne_bytes(t)));
    }
    // Each accumulator is < 2^62 here; fold pairs before adding.
    fold64(a0).wrapping_add(fold64(a1)).wrapping_add(fold64(a2)).wrapping_add(fold64(a3))
}

/// The AVX2 word sum, in the same domain as [`sum_block_portable`] (native
/// 16-bit words, not folded). Each 16-bit word `u` is biased to the signed
/// `u - 32768` (XOR 0x8000) so `vpmaddwd` against ones adds word pairs into
/// signed 32-bit lanes without losing carries; the bias (32768 per word) is
/// added back at the end.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_block_avx2(data: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let mut total: i64 = 0;
    let mut words: i64 = 0;
    let mut done = 0usize;
    // Sub-blocks of 512 KiB: each i32 lane takes at most 4096 additions of
    // values in [-65536, 65534], far from overflow.
    for sub in data.chunks(1 << 19) {
        let bias = _mm256_set1_epi16(i16::MIN);
        let ones = _mm256_set1_epi16(1);
        let mut a0 = _mm256_setzero_si256();
        let mut a1 = _mm256_setzero_si256();
        let mut a2 = _mm256_setzero_si256();
        let mut a3 = _mm256_setzero_si256();
        let mut it = sub.chunks_exact(128);
        for c in &mut it {
            let p = c.as_ptr().cast::<__m256i>();
            // SAFETY: `c` is exactly 128 bytes; unaligned loads of 4 x 32.
            let (v0, v1, v2, v3) = unsafe {
                (
                    _mm256_loadu_si256(p),
                    _mm256_loadu_si256(p.add(1)),
                    _mm256_loadu_si256(p.add(2)),
                    _mm256_loadu_si256(p.add(3)),
                )
            };
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(v0, bias), ones));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_xor_si256(v1, bias), ones));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_xor_si256(v2, bias), ones));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_xor_si256(v3, bias), ones));
        }
        let mut it32 = it.remainder().chunks_exact(32);
        for c in &mut it32 {
            // SAFETY: `c` is exactly 32 bytes.
            let v = unsafe { _mm256_loadu_si256(c.as_ptr().cast::<__m256i>()) };
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(v, bias), ones));
        }
        let s = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 32 bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), s) };
        total += lanes.iter().map(|&x| i64::from(x)).sum::<i64>();
        let n = sub.len() - it32.remainder().len();
        words += (n / 2) as i64;
        done += n;
        if it32.remainder().is_empty() {
            continue;
        }
        // The sub-block tail (< 32 bytes) only ever occurs in the last one.
        total += sum_block_portable(it32.remainder()) as i64;
        done += it32.remainder().len();
    }
    debug_assert_eq!(done, data.len());
    // total + 32768 * words is the true (non-negative) sum of the words.
    (total + words * 32768) as u64
}

/// The AVX-512 word sum, in the same domain as [`sum_block_portable`]:
/// the AVX2 scheme (words biased by XOR 0x8000, `vpmaddwd` against ones
/// into signed 32-bit lanes, the bias added back) on 64-octet vectors,
/// four at a time, the tail (under 64 octets) one masked load whose
/// missing octets read as zeros: the zero-padded last word of the
/// portable sum, so every length takes the same path. Built with Rust
/// 1.89 and later (`cfg(kame_avx512)`, see `build.rs`), where these
/// intrinsics are stable.
#[cfg(all(target_arch = "x86_64", kame_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw")]
fn sum_block_avx512(data: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let bias = _mm512_set1_epi16(i16::MIN);
    let ones = _mm512_set1_epi16(1);
    let mut total: i64 = 0;
    let mut words: i64 = 0;
    // Sub-blocks of 512 KiB: each i32 lane takes at most 2048 additions
    // of values in [-65536, 65534], far from overflow.
    for sub in data.chunks(1 << 19) {
        let mut a0 = _mm512_setzero_si512();
        let mut a1 = _mm512_setzero_si512();
        let mut a2 = _mm512_setzero_si512();
        let mut a3 = _mm512_setzero_si512();
        let mut it = sub.chunks_exact(256);
        for c in &mut it {
            let p = c.as_ptr().cast::<__m512i>();
            // SAFETY: `c` is exactly 256 octets; unaligned loads of 4 x 64.
            let (v0, v1, v2, v3) = unsafe {
                (_mm512_loadu_si512(p), _mm512_loadu_si512(p.add(1)), _mm512_loadu_si512(p.add(2)), _mm512_loadu_si512(p.add(3)))
            };
            a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(_mm512_xor_si512(v0, bias), ones));
            a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(_mm512_xor_si512(v1, bias), ones));
            a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(_mm512_xor_si512(v2, bias), ones));
            a3 = _mm512_add_epi32(a3, _mm512_madd_epi16(_mm512_xor_si512(v3, bias), ones));
        }
        let mut it64 = it.remainder().chunks_exact(64);
        for c in &mut it64 {
            // SAFETY: `c` is exactly 64 octets.
            let v = unsafe { _mm512_loadu_si512(c.as_ptr().cast::<__m512i>()) };
            a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(_mm512_xor_si512(v, bias), ones));
        }
        let tail = it64.remainder();
        let mut vectors = (sub.len() / 64) as i64;
        if !tail.is_empty() {
            let mask: u64 = (1u64 << tail.len()) - 1;
            // SAFETY: a masked load reads only the octets whose mask bit
            // is set, the `tail.len()` octets of `tail`; the rest are zero.
            let v = unsafe { _mm512_maskz_loadu_epi8(mask, tail.as_ptr().cast::<i8>()) };
            a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(_mm512_xor_si512(v, bias), ones));
            vectors += 1;
        }
        let s = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
        // The 16 lanes widened to i64 before they are added.
        let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
        let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(s));
        total += _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
        words += vectors * 32;
    }
    // total + 32768 * words is the true (non-negative) sum of the words,
    // the zero words of a masked tail included.
    (total + words * 32768) as u64
}

/// Fold a 64-bit one's-complement partial sum to fewer than 34 bits.
#[inline(always)]
fn fold64(s: u64) -> u64 {
    (s & 0xffff_ffff) + (s >> 32)
}

/// Fold a partial sum to 16 bits with end-around carries.
#[inline(always)]
fn fold16(s: u64) -> u16 {
    let mut s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Which word-summing path is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Portable,
    Avx2,
    Avx512,
}

/// Whether the AVX-512 sum can run here (AVX-512 F and BW, detected at
/// run time; the standard library caches the answer).
#[inline(always)]
fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", kame_avx512))]
    {
        std::arch::is_x86_feature_detected!("avx512bw") && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(all(target_arch = "x86_64", kame_avx512)))]
    {
        false
    }
}

/// The path [`sum16`] takes on this machine.
pub fn path() -> Path {
    if has_avx512() {
        return Path::Avx512;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Path::Avx2;
        }
    }
    Path::Portable
}

/// One's-complement sum of `data` as 16-bit big-endian words starting at an
/// even offset (an odd last byte is the high byte of a zero-padded word),
/// folded to 16 bits, using the given path.
pub fn sum16_with(data: &[u8], p: Path) -> u16 {
    let mut acc: u64 = 0;
    for block in data.chunks(BLOCK) {
        let s = match p {
            #[cfg(all(target_arch = "x86_64", kame_avx512))]
            Path::Avx512 if has_avx512() => {
                // SAFETY: AVX-512 F and BW were detected at run time just above.
                unsafe { sum_block_avx512(block) }
            }
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
                // SAFETY: AVX2 was detected at run time just above.
                unsafe { sum_block_avx2(block) }
            }
            _ => sum_block_portable(block),
        };
        acc = fold64(acc).wrapping_add(fold64(s));
    }
    // The native-endian fold is the network-order sum byte-swapped on a
    // little-endian machine (RFC 1071 §2(B)).
    u16::from_be(fold16(acc))
}

/// The word sum of a short `data` (under 64 octets: a header, a small
/// datagram), in the domain of [`sum_block_portable`]: native-endian
/// 64-bit words added with end-around carry (one's-complement addition
/// modulo 2^64 - 1, a multiple of 2^16 - 1, so it folds to the same
/// 16-bit sum), then the tail's 4-, 2- and 1-octet pieces (an odd last
/// octet the high one of a zero-padded big-endian word). A few
/// instructions a word, with no loop set-up or call.
#[inline(always)]
fn sum_short(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let (s, carry) = acc.overflowing_add(u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
        acc = s + u64::from(carry);
    }
    let mut t = words.remainder();
    // The tail pieces, at most 0xffff_ffff + 0xffff + 0xff together.
    let mut tail: u64 = 0;
    if let Some((w, rest)) = t.split_first_chunk::<4>() {
        tail += u64::from(u32::from_ne_bytes(*w));
        t = rest;
    }
    if let Some((w, rest)) = t.split_first_chunk::<2>() {
        tail += u64::from(u16::from_ne_bytes(*w));
        t = rest;
    }
    if let Some(&b) = t.first() {
        tail += u64::from(u16::from_ne_bytes([b, 0]));
    }
    let (s, carry) = acc.overflowing_add(tail);
    s + u64::from(carry)
}

/// One's-complement sum of `data` (see [`sum16_with`]) on the fastest path.
#[inline]
pub fn sum16(data: &[u8]) -> u16 {
    if data.len() < 64 {
        return u16::from_be(fold16(sum_short(data)));
    }
    #[cfg(target_arch = "x86_64")]
    {
        // AVX-512 from 256 octets on: below, its masked tail and wider
        // reduction cost what the wider loads save (64-100 octets 5-10%
        // slower than AVX2, even at 164-256, 20-25% faster at 564-1400).
        #[cfg(kame_avx512)]
        if data.len() >= 256 && has_avx512() {
            // SAFETY: AVX-512 F and BW were detected at run time just
            // above; the sum sub-blocks internally, so any length is fine.
            return u16::from_be(fold16(unsafe { sum_block_avx512(data) }));
        }
        // Short buffers are not worth the vector set-up and reduction.
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected at run time just above. The AVX2
            // sum sub-blocks internally, so any length is fine.
            return u16::from_be(fold16(unsafe { sum_block_avx2(data) }));
        }
    }
    sum16_with(data, Path::Portable)
}

/// An incremental Internet checksum over a sequence of buffers that may
/// split anywhere (KAME `in6_cksum` over an mbuf chain, seed §1.11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum {
    acc: u64,
    odd: bool,
    len: u64,
}

impl Sum {
    pub const fn new() -> Self {
        Sum { acc: 0, odd: false, len: 0 }
    }

    /// Add the next buffer. If everything added so far has an odd length,
    /// this buffer's first byte is the low byte of a 16-bit word.
    pub fn add(&mut self, data: &[u8]) -> &mut Self {
        let s = sum16(data);
        let s = if self.odd { s.swap_bytes() } else { s };
        self.acc = fold64(self.acc).wrapping_add(u64::from(s));
        if data.len() % 2 == 1 {
            self.odd = !self.odd;
        }
        self.len = self.len.wrapping_add(data.len() as u64);
        self
    }

    /// Add a big-endian 16-bit value at the current position.
    pub fn add_u16(&mut self, v: u16) -> &mut Self {
        self.add(&v.to_be_bytes())
    }

    /// Add a big-endian 32-bit value at the current position.
    pub fn add_u32(&mut self, v: u32) -> &mut Self {
        self.add(&v.to_be_bytes())
    }

    /// Bytes added so far (pseudo-header included).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The folded one's-complement sum (not complemented).
    pub fn fold(&self) -> u16 {
        fold16(self.acc)
    }

    /// The checksum: the complement of the sum. Over data whose checksum
    /// field is zero this is the value to store; over data carrying a
    /// correct checksum it is 0.
    pub fn finish(&self) -> u16 {
        !self.fold()
    }
}

fn too_long(limit: u64, reason: &'static str) -> Error {
    Error::new(Layer::Cksum, ErrorKind::Limit { limit }, 0, reason)
}

/// The IPv6 pseudo-header (RFC 8200 §8.1) as a started [`Sum`]: source,
/// destination, 32-bit upper-layer packet length, three zero octets and the
/// next header.
pub fn in6_pseudo(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, upper_len: u64) -> Result<Sum> {
    let len = u32::try_from(upper_len).map_err(|_| {
        too_long(
            u64::from(u32::MAX),
            "upper-layer packet length does not fit the 32-bit pseudo-header field (RFC 8200 §8.1, RFC 2675 §4)",
        )
    })?;
    // The addresses as native-endian 32-bit words, folded and brought to
    // network order like `sum16` (RFC 1071 §2(B)).
    let words = |a: &Ipv6Addr| {
        let v = u128::from_ne_bytes(a.octets());
        (v as u32 as u64) + ((v >> 32) as u32 as u64) + ((v >> 64) as u32 as u64) + ((v >> 96) as u64)
    };
    let addrs = u64::from(u16::from_be(fold16(words(src) + words(dst))));
    let acc = addrs + u64::from(len >> 16) + u64::from(len & 0xffff) + u64::from(next_header);
    let s = Sum { acc, odd: false, len: 40 };
    Ok(s)
}

/// The IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) as a started [`Sum`]:
/// source, destination, zero, protocol, 16-bit length.
pub fn in4_pseudo(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, upper_len: u64) -> Result<Sum> {
    let len = u16::try_from(upper_len).map_err(|_| {
        too_long(65535, "upper-layer length does not fit the 16-bit IPv4 pseudo-header field (RFC 768, RFC 9293 §3.1)")
    })?;
    let mut ph = [0u8; 12];
    ph[..4].copy_from_slice(&src.octets());
    ph[4..8].copy_from_slice(&dst.octets());
    ph[9] = protocol;
    ph[10..12].copy_from_slice(&len.to_be_bytes());
    let mut s = Sum::new();
    s.add(&ph);
    Ok(s)
}

/// KAME `in6_cksum`: the Internet checksum over the IPv6 pseudo-header and
/// the buffers in `data`, which need not be contiguous. `upper_len` is the
/// pseudo-header's upper-layer packet length (normally the total length of
/// `data`). Returns the value to store in a zeroed checksum field, or 0 when
/// verifying data that carries a correct checksum.
pub fn in6_cksum<'a, I>(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, upper_len: u64, data: I) -> Result<u16>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut s = in6_pseudo(src, dst, next_header, upper_len)?;
    for d in data {
        s.add(d);
    }
    Ok(s.finish())
}

/// The IPv4 form of [`in6_cksum`] (RFC 768, RFC 9293 §3.1).
pub fn in4_cksum<'a, I>(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, upper_len: u64, data: I) -> Result<u16>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut s = in4_pseudo(src, dst, protocol, upper_len)?;
    for d in data {
        s.add(d);
    }
    Ok(s.finish())
}

/// The IPv4 header checksum (RFC 791 §3.1): the complement of the sum of
/// the header. Over a header with a correct checksum it is 0.
pub fn ip_cksum(header: &[u8]) -> u16 {
    !sum16(header)
}

/// The pseudo-header an upper-layer checksum (UDP, TCP, ICMPv6) is computed
/// over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pseudo {
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
}

impl Pseudo {
    pub fn is_v6(&self) -> bool {
        matches!(self, Pseudo::V6 { .. })
    }

    /// Start a [`Sum`] with this pseudo-header.
    pub fn start(&self, next_header: u8, upper_len: u64) -> Result<Sum> {
        match self {
            Pseudo::V6 { src, dst } => in6_pseudo(src, dst, next_header, upper_len),
            Pseudo::V4 { src, dst } => in4_pseudo(src, dst, next_header, upper_len),
        }
    }

    /// Whether `data`, one contiguous upper-layer packet, carries a correct
    /// checksum under this pseudo-header: [`Pseudo::cksum`] over it is 0.
    /// The receive path's check, without the scatter-gather bookkeeping.
    pub fn verify(&self, next_header: u8, data: &[u8]) -> bool {
        match self {
            Pseudo::V6 { src, dst } => {
                let Ok(len) = u32::try_from(data.len()) else {
                    return false;
                };
                // Addresses as native-endian words, folded and brought to
                // network order as `sum16` does (RFC 1071 §2(B)).
                let words = |a: &Ipv6Addr| {
                    let v = u128::from_ne_bytes(a.octets());
                    (v as u32 as u64) + ((v >> 32) as u32 as u64) + ((v >> 64) as u32 as u64) + ((v >> 96) as u64)
                };
                let addrs = u64::from(u16::from_be(fold16(words(src) + words(dst))));
                let acc = addrs
                    + u64::from(len >> 16)
                    + u64::from(len & 0xffff)
                    + u64::from(next_header)
                    + u64::from(sum16(data));
                fold16(acc) == 0xffff
            }
            Pseudo::V4 { .. } => matches!(self.cksum(next_header, data.len() as u64, [data]), Ok(0)),
        }
    }

    /// The checksum over this pseudo-header and `data`.
    pub fn cksum<'a, I>(&self, next_header: u8, upper_len: u64, data: I) -> Result<u16>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut s = self.start(next_header, upper_len)?;
        for d in data {
            s.add(d);
        }
        Ok(s.finish())
    }
}

/// Slow, obviously-correct references used by the tests, the fuzz target
/// and the benches.
pub mod reference {
    use std::net::Ipv6Addr;

    /// RFC 1071 §4.1, literally: 16-bit big-endian words into a 32-bit
    /// accumulator, carries folded, complemented.
    pub fn cksum(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u64::from(data.get(i).copied().unwrap_or(0));
            let lo = u64::from(data.get(i + 1).copied().unwrap_or(0));
            sum += (hi << 8) | lo;
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            i += 2;
        }
        !(sum as u16)
    }

    /// The IPv6 pseudo-header checksum over the concatenation of `chunks`.
    pub fn in6_cksum(src: &Ipv6Addr, dst: &Ipv6Addr, nh: u8, len: u32, chunks: &[&[u8]]) -> u16 {
        let mut all = Vec::new();
        all.extend_from_slice(&src.octets());
        all.extend_from_slice(&dst.octets());
        all.extend_from_slice(&len.to_be_bytes());
        all.extend_from_slice(&[0, 0, 0, nh]);
        for c in chunks {
            all.extend_from_slice(c);
        }
        cksum(&all)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    fn random(n: usize, seed: &mut u64) -> Vec<u8> {
        (0..n).map(|_| lcg(seed) as u8).collect()
    }

    /// RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    #[test]
    fn rfc1071_example() {
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum16(&d), 0xddf2);
        assert_eq!(ip_cksum(&d), !0xddf2);
        assert_eq!(reference::cksum(&d), !0xddf2);
    }

    /// An IPv4 header captured from the wire (scapy `IP(src="192.168.0.1",
    /// dst="192.168.0.199")/UDP()`), checksum 0xb861 (the classic example).
    #[test]
    fn ipv4_header() {
        let h: [u8; 20] = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
            0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ip_cksum(&h), 0);
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(ip_cksum(&z), 0xb861);
    }

    /// ICMPv6 Echo Request built by scapy:
    /// IPv6(src="fe80::1", dst="ff02::1")/ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abc")
    #[test]
    fn icmpv6_echo_scapy() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        let msg = [0x80, 0x00, 0xab, 0x9c, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c'];
        assert_eq!(in6_cksum(&src, &dst, 58, 11, [&msg[..]]).unwrap(), 0);
        let mut z = msg;
        z[2] = 0;
        z[3] = 0;
        assert_eq!(in6_cksum(&src, &dst, 58, 11, [&z[..]]).unwrap(), 0xab9c);
    }

    #[test]
    fn paths_agree_and_match_reference() {
        let mut seed = 7;
        for n in (0..300).chain([1499, 1500, 1501, 4096, 9000, 65535, 70001, (1 << 19) + 33, (1 << 20) + 7, 3 << 19]) {
            let d = random(n, &mut seed);
            let r = reference::cksum(&d);
            assert_eq!(!sum16_with(&d, Path::Portable), r, "portable n={n}");
            assert_eq!(!sum16_with(&d, Path::Avx2), r, "avx2 n={n}");
            assert_eq!(!sum16_with(&d, Path::Avx512), r, "avx512 n={n}");
            assert_eq!(!sum16(&d), r);
        }
        // The short path's edges: every word all ones (the sum 0xffff,
        // never 0 for data that is not all zeros), all zeros, and sums
        // whose 64-bit additions carry.
        for n in 0..80 {
            for d in [vec![0xff; n], vec![0; n], (0..n).map(|i| if i % 8 < 6 { 0xff } else { 0xfe }).collect()] {
                let r = reference::cksum(&d);
                assert_eq!(!sum16(&d), r, "short n={n} {d:02x?}");
                assert_eq!(!sum16_with(&d, Path::Portable), r, "portable n={n}");
            }
        }
    }

    /// Every length 0..=4096 at every start offset 0..8 of a buffer (odd
    /// ones included, so no load is aligned), each path against RFC 1071
    /// literally; then the worst case for the lanes: all ones.
    #[test]
    fn every_length_and_alignment() {
        let mut seed = 11;
        let buf = random(4096 + 8, &mut seed);
        for n in 0..=4096 {
            for at in 0..8 {
                let d = &buf[at..at + n];
                let r = reference::cksum(d);
                assert_eq!(!sum16(d), r, "n={n} at={at}");
                for p in [Path::Portable, Path::Avx2, Path::Avx512] {
                    assert_eq!(!sum16_with(d, p), r, "{p:?} n={n} at={at}");
                }
            }
        }
        for n in [4096, 1 << 19, (1 << 19) + 65, 3 << 20] {
            let d = vec![0xff; n];
            for p in [Path::Portable, Path::Avx2, Path::Avx512] {
                assert_eq!(!sum16_with(&d, p), reference::cksum(&d), "{p:?} ones n={n}");
            }
        }
    }

    #[test]
    fn split_anywhere() {
        let mut seed = 99;
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        for n in [0usize, 1, 2, 3, 7, 8, 63, 64, 65, 1500, 70000] {
            let d = random(n, &mut seed);
            let whole = in6_cksum(&src, &dst, 17, n as u64, [&d[..]]).unwrap();
            assert_eq!(whole, reference::in6_cksum(&src, &dst, 17, n as u32, &[&d]));
            for _ in 0..20 {
                let mut cuts: Vec<usize> = (0..(lcg(&mut seed) % 6)).map(|_| (lcg(&mut seed) as usize) % (n + 1)).collect();
                cuts.sort();
                let mut chunks: Vec<&[u8]> = Vec::new();
                let mut prev = 0;
                for c in cuts {
                    chunks.push(&d[prev..c]);
                    prev = c;
                }
                chunks.push(&d[prev..]);
                assert_eq!(in6_cksum(&src, &dst, 17, n as u64, chunks.iter().copied()).unwrap(), whole);
            }
        }
    }

    #[test]
    fn odd_bytes_one_at_a_time() {
        let mut seed = 3;
        let d = random(257, &mut seed);
        let mut s = Sum::new();
        for b in &d {
            s.add(core::slice::from_ref(b));
        }
        assert_eq!(s.finish(), reference::cksum(&d));
        assert_eq!(s.len(), 257);
    }

    #[test]
    fn jumbo_length_is_32_bits() {
        let a = Ipv6Addr::LOCALHOST;
        // A length of 0x1_0005 must be written as 00 01 00 05, not truncated.
        let d = [0u8; 4];
        let got = in6_cksum(&a, &a, 17, 0x1_0005, [&d[..]]).unwrap();
        assert_eq!(got, reference::in6_cksum(&a, &a, 17, 0x1_0005, &[&d]));
        assert_ne!(got, reference::in6_cksum(&a, &a, 17, 5, &[&d]));
        let e = in6_cksum(&a, &a, 17, 1 << 32, [&d[..]]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit { limit: u32::MAX as u64 });
        let v4 = Ipv4Addr::LOCALHOST;
        assert!(in4_cksum(&v4, &v4, 17, 65536, [&d[..]]).is_err());
    }

    #[test]
    fn ipv4_pseudo_udp_scapy() {
        // scapy: IP(src="10.0.0.1", dst="10.0.0.2")/UDP(sport=1234, dport=53)/b"hello"
        let udp = [0x04, 0xd2, 0x00, 0x35, 0x00, 0x0d, 0x00, 0x00, b'h', b'e', b'l', b'l', b'o'];
        let s: Ipv4Addr = "10.0.0.1".parse().unwrap();
        let d: Ipv4Addr = "10.0.0.2".parse().unwrap();
        let c = in4_cksum(&s, &d, 17, 13, [&udp[..]]).unwrap();
        let mut all = vec![10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 13];
        all.extend_from_slice(&udp);
        assert_eq!(c, reference::cksum(&all));
        assert_eq!(c, 0xa2f8);
    }

    #[test]
    fn verify_agrees_with_cksum() {
        let mut seed = 7u64;
        let src = Ipv6Addr::from(lcg(&mut seed) as u128 | ((lcg(&mut seed) as u128) << 64));
        let dst = Ipv6Addr::from(lcg(&mut seed) as u128 | ((lcg(&mut seed) as u128) << 64));
        for n in [4usize, 8, 9, 20, 31, 63, 64, 65, 127, 128, 129, 1260, 1500, 4097] {
            let mut d: Vec<u8> = (0..n).map(|_| lcg(&mut seed) as u8).collect();
            for p in [Pseudo::V6 { src, dst }, Pseudo::V4 { src: Ipv4Addr::new(192, 0, 2, 1), dst: Ipv4Addr::new(198, 51, 100, 7) }] {
                d[2] = 0;
                d[3] = 0;
                let c = p.cksum(17, n as u64, [&d[..]]).unwrap();
                d[2..4].copy_from_slice(&c.to_be_bytes());
                assert!(p.verify(17, &d), "{n} {p:?}");
                assert_eq!(p.cksum(17, n as u64, [&d[..]]).unwrap(), 0);
                d[n - 1] ^= 0x10;
                assert!(!p.verify(17, &d), "{n} {p:?}");
                assert_ne!(p.cksum(17, n as u64, [&d[..]]).unwrap(), 0);
                d[n - 1] ^= 0x10;
                assert!(!p.verify(6, &d), "{n} {p:?}");
            }
        }
    }
}
