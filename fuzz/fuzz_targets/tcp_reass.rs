#![no_main]
//! tcp_reass: a script of segment insertions (offset, length) and pulls
//! against one out-of-order queue with small bounds, checked against a
//! model stream: no panic, octets held never above the bound (except the
//! segment at rcv_nxt, which is always taken, once), every octet pulled is
//! the stream's octet at that sequence number, SACK blocks lie above
//! rcv_nxt and are disjoint.
use kame_core::tcp::reass::{Insert, Reass};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let stream: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let cap = 512u64;
    let mut q = Reass::new(cap, 8);
    let mut rcv_nxt: u64 = 0;
    for c in data.chunks_exact(4) {
        let off = u64::from(u16::from_be_bytes([c[0], c[1]]) % 4096);
        let len = usize::from(c[2]) * 4 + usize::from(c[3] & 3);
        let end = (off as usize + len).min(stream.len());
        let seg = &stream[off as usize..end];
        let before = q.bytes();
        match q.insert(off, seg, rcv_nxt) {
            Insert::Stored(n) => assert!(n > 0 && q.bytes() == before + n),
            Insert::Duplicate | Insert::Full => assert_eq!(q.bytes(), before),
        }
        if off > rcv_nxt {
            assert!(q.bytes() <= cap.max(before));
        }
        if c[3] & 4 != 0 {
            let got = q.pull(rcv_nxt);
            assert_eq!(&got[..], &stream[rcv_nxt as usize..rcv_nxt as usize + got.len()]);
            rcv_nxt += got.len() as u64;
        }
        let mut blocks = q.sack_blocks(16);
        blocks.sort();
        for w in blocks.windows(2) {
            assert!(w[0].1 < w[1].0);
        }
        for (l, r) in blocks {
            assert!(l < r && r > rcv_nxt);
        }
    }
});
