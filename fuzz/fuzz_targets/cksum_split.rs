#![no_main]
//! The chunked checksum equals the contiguous one for any split points
//! (odd ones included), the AVX-512, AVX2 and portable paths agree, and both match
//! the RFC 1071 reference.
use std::net::{Ipv4Addr, Ipv6Addr};

use kame_core::cksum::{self, Path, Pseudo, Sum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&n, rest)) = input.split_first() else { return };
    let ncuts = usize::from(n % 8);
    if rest.len() < ncuts * 2 {
        return;
    }
    let (cutb, data) = rest.split_at(ncuts * 2);
    let mut cuts: Vec<usize> = cutb
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (data.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut prev = 0;
    for c in cuts {
        chunks.push(&data[prev..c]);
        prev = c;
    }
    chunks.push(&data[prev..]);

    let whole = cksum::reference::cksum(data);
    assert_eq!(!cksum::sum16_with(data, Path::Portable), whole);
    assert_eq!(!cksum::sum16_with(data, Path::Avx2), whole);
    assert_eq!(!cksum::sum16_with(data, Path::Avx512), whole);
    assert_eq!(!cksum::sum16(data), whole);
    let mut s = Sum::new();
    for c in &chunks {
        s.add(c);
    }
    assert_eq!(s.finish(), whole);

    let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let dst = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    let len = data.len() as u64 + u64::from(n) * 65536;
    let a = cksum::in6_cksum(&src, &dst, 17, len, chunks.iter().copied()).expect("32-bit length");
    let b = cksum::reference::in6_cksum(&src, &dst, 17, len as u32, &[data]);
    assert_eq!(a, b);

    // The receive path's one-slice verification agrees with the sum.
    for p in [Pseudo::V6 { src, dst }, Pseudo::V4 { src: Ipv4Addr::new(192, 0, 2, 1), dst: Ipv4Addr::new(192, 0, 2, 2) }] {
        let ok = matches!(p.cksum(17, data.len() as u64, [data]), Ok(0));
        assert_eq!(p.verify(17, data), ok);
    }
});
