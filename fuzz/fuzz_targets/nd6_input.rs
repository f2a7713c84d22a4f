#![no_main]
//! The node's NS/NA fast path (`nd6::nd6_classify`) on any frame, with
//! `hdrnestlimit` and `maxndopt` from the first byte: never panics; whatever
//! it accepts the general parsers (`ipv6::validate`, `icmpv6::Repr::parse`
//! with the checksum) accept with the same fields; a frame from our own MAC
//! is never taken; the NS/NA builders re-create a message it takes again.
//! Each input is also tried with its ICMPv6 checksum made right, so the
//! fuzzer gets past the checksum.
use std::net::Ipv6Addr;

use kame_core::cksum;
use kame_core::nd6::{nd6_classify, nd6_na_output, nd6_ns_output, ND_NEIGHBOR_SOLICIT};
use kame_core::wire::{icmpv6, ipv6};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fn check(frame: &[u8], limit: u32, maxndopt: usize) {
    let Some(n) = nd6_classify(frame, limit, maxndopt, None) else { return };
    assert!(nd6_classify(frame, limit, maxndopt, frame.get(6..12)).is_none(), "own frame taken");
    let packet = &frame[14..];
    let v = ipv6::validate(packet, limit).expect("the fast path took what ip6_validate refuses");
    assert_eq!((v.header.src_addr, v.header.dst_addr, v.header.hop_limit), (n.src, n.dst, n.hop_limit));
    assert!(v.chain.headers.is_empty());
    let body = &packet[40..usize::try_from(v.packet_len()).expect("length")];
    let (s, d) = (Ipv6Addr::from(n.src), Ipv6Addr::from(n.dst));
    let r = icmpv6::Repr::parse(body, Some((&s, &d)), maxndopt).expect("the fast path took what parse_icmpv6 refuses");
    let o = r.nd_options().expect("an ND message");
    assert_eq!(o.toomanyopt, n.toomanyopt);
    match r {
        icmpv6::Repr::NeighborSolicit { target, ref options } => {
            assert_eq!(n.msg_type, ND_NEIGHBOR_SOLICIT);
            assert_eq!((target.octets(), options.source_lladdr(), options.nonce()), (n.target, n.lladdr, n.nonce));
        }
        icmpv6::Repr::NeighborAdvert { flags, target, ref options } => {
            assert_eq!((flags, target.octets(), options.target_lladdr(), n.nonce), (n.flags, n.target, n.lladdr, None));
        }
        _ => panic!("the fast path took a message other than NS/NA"),
    }
    let mut out = frame[..14].to_vec();
    let built = if n.msg_type == ND_NEIGHBOR_SOLICIT {
        nd6_ns_output(&mut out, &n.src, &n.dst, &n.target, n.lladdr, n.nonce)
    } else {
        nd6_na_output(&mut out, &n.src, &n.dst, &n.target, n.flags, n.lladdr)
    };
    if built.is_ok() {
        let again = nd6_classify(&out, limit, maxndopt, None).expect("a built message is taken");
        assert_eq!((again.msg_type, again.src, again.dst, again.target, again.flags), (n.msg_type, n.src, n.dst, n.target, n.flags));
        assert_eq!(again.hop_limit, 255);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, frame)) = data.split_first() else { return };
    let (limit, maxndopt) = (u32::from(cfg >> 4), usize::from(cfg & 0x0f));
    check(frame, limit, maxndopt);
    // The same frame with a right ICMPv6 checksum over the IPv6 addresses.
    if frame.len() >= 14 + 40 + 4 {
        let mut f = frame.to_vec();
        let src: [u8; 16] = f[22..38].try_into().expect("16");
        let dst: [u8; 16] = f[38..54].try_into().expect("16");
        let plen = usize::from(u16::from_be_bytes([f[18], f[19]]));
        let end = (54 + plen).min(f.len());
        f[56] = 0;
        f[57] = 0;
        let c = cksum::in6_cksum(&Ipv6Addr::from(src), &Ipv6Addr::from(dst), 58, (end - 54) as u64, [&f[54..end]]).expect("cksum");
        f[56..58].copy_from_slice(&c.to_be_bytes());
        check(&f, limit, maxndopt);
    }
});

// Structure-aware mutation (fuzz/src/lib.rs): chains, options, fields and
// upper layers changed as a stack sees them, lengths and checksums fixed.
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    kame_fuzz::ip6_mutate(data, size, max_size, seed, &[0x3a, 0x33, 0x33, 0, 0, 0, 1, 2, 0, 0x5e, 0x10, 0, 1, 0x86, 0xdd])
});
