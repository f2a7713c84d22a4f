#![no_main]
//! Arbitrary bytes through the IPv6 validation and the chain walkers.
//!
//! The first byte picks `hdrnestlimit` (its low 6 bits; 0 = unlimited, as
//! the knob allows) and the rest is the frame. With the high bit set, a
//! frame that `validate` finds too short for its declared length (up to
//! 256 KiB) is zero-extended to exactly that length and checked again, so
//! that accepted jumbograms are reached despite libFuzzer's input cap.
//!
//! A panic or an overflow trap is a bug; every refusal must be a typed
//! `Error` whose offset lies inside the frame (or at its end), and the
//! walkers must agree with each other and with `validate` (and
//! `validate_transit`, which judges the IPv6 and Hop-by-Hop headers only).
use kame_core::wire::{exthdr, ipv6};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

/// The reason of `ip6s_tooshort`: the frame is shorter than 40 + declared.
const TOOSHORT: &str = "with data size < data length";

fuzz_target!(|data: &[u8]| {
    let Some((&first, frame)) = data.split_first() else {
        return;
    };
    let limit = u32::from(first & 0x3f);
    check(frame, limit);
    if first & 0x80 != 0 {
        if let Err(e) = ipv6::validate(frame, limit) {
            if let kame_core::ErrorKind::Truncated { needed, .. } = e.kind {
                if e.reason == TOOSHORT && needed <= 256 * 1024 && needed > frame.len() as u64 {
                    let mut big = frame.to_vec();
                    big.resize(needed as usize, 0);
                    check(&big, limit);
                    let v = ipv6::validate(&big, limit);
                    assert!(!matches!(v, Err(ref e) if e.reason == TOOSHORT), "{v:?}");
                }
            }
        }
    }
});

fn check(frame: &[u8], limit: u32) {
    let flen = frame.len() as u64;

    let strict = exthdr::walk_ipv6(frame, limit);
    let lax = exthdr::walk_ipv6_lax(frame, limit);
    match (&strict, &lax) {
        (Ok(s), Ok(l)) => {
            // Routing rules aside, a chain walks the same laxly; strictly,
            // only a first fragment's headers may run out (RFC 7112).
            assert_eq!(s, l);
            if s.truncated {
                let f = s.fragment.expect("truncated strict walk without a Fragment header");
                assert!(f.repr.frag_offset == 0 && f.repr.more_frags);
            }
        }
        (Err(e), Ok(l)) => {
            assert!(
                e.is_truncated()
                    || e.layer == kame_core::Layer::Routing
                    || e.layer == kame_core::Layer::HopByHop
                    || e.layer == kame_core::Layer::Fragment
            );
            if e.is_truncated() && frame.len() >= ipv6::HEADER_LEN {
                assert!(l.truncated);
            }
        }
        (Ok(_), Err(e)) => panic!("lax refused what strict accepted: {e}"),
        (Err(_), Err(_)) => {}
    }
    for r in [&strict, &lax] {
        match r {
            Ok(c) => {
                assert!(c.upper_offset <= flen);
                assert!(c.unfragmentable_len <= c.upper_offset.max(ipv6::HEADER_LEN as u64));
                let mut end = ipv6::HEADER_LEN as u64;
                for h in &c.headers {
                    assert_eq!(h.offset, end);
                    end += h.len;
                }
                assert!(end <= flen);
                fragment_data_is_not_read(frame, c);
                if limit != 0 {
                    assert!(c.headers.len() as u64 <= u64::from(limit) + 1);
                }
            }
            Err(e) => assert!(e.offset <= flen.max(ipv6::HEADER_LEN as u64), "{e}"),
        }
    }

    if let Ok(v) = ipv6::validate_reassembled(frame, limit) {
        // No Fragment header is left in a reassembled datagram, and one
        // header more is counted than in the same packet validated anew.
        assert!(!v.chain.has(44));
        assert_eq!(ipv6::validate(frame, limit).map(|w| w.chain), Ok(v.chain));
    }
    // RFC 8200 §4: a transit packet is judged by its IPv6 and Hop-by-Hop
    // headers alone, which come first: validate_transit refuses what
    // validate refuses for them, with the same error, and accepts all
    // validate accepts, reporting the same chain.
    match (ipv6::validate(frame, limit), ipv6::validate_transit(frame, limit)) {
        (Ok(v), Ok(t)) => {
            assert_eq!(v.chain, t.chain);
            assert_eq!((v.header, v.packet_len(), v.trailing), (t.header, t.packet_len(), t.trailing));
        }
        (Ok(_), Err(e)) => panic!("transit refused what validate accepted: {e}"),
        (Err(e), Err(t)) => assert_eq!(e, t),
        (Err(_), Ok(t)) => {
            let mut end = ipv6::HEADER_LEN as u64;
            for h in &t.chain.headers {
                assert_eq!(h.offset, end);
                end += h.len;
            }
            assert!(end <= t.packet_len() && t.chain.upper_offset <= t.packet_len());
            if limit != 0 {
                assert!(t.chain.headers.len() as u64 <= u64::from(limit) + 1);
            }
            fragment_data_is_not_read(frame, &t.chain);
        }
    }
    match ipv6::validate(frame, limit) {
        Ok(v) => {
            assert_eq!(v.packet_len() + v.trailing, flen);
            assert_eq!(v.jumbo.is_some(), v.header.payload_len == 0 && v.header.next_header == 0);
            if let Some(j) = v.jumbo {
                assert!(j.value > 65535);
                assert!(v.chain.fragment.is_none());
            }
            let packet = &frame[..v.packet_len() as usize];
            assert_eq!(exthdr::walk_ipv6(packet, limit).as_ref(), Ok(&v.chain));
        }
        Err(e) => {
            if let kame_core::ErrorKind::Truncated { needed, available } = e.kind {
                assert!(needed > available);
            }
            if let Some(a) = e.icmp {
                assert_eq!(a.icmp_type, 4);
                assert!(u64::from(a.pointer) < flen.max(ipv6::HEADER_LEN as u64));
            }
            let _ = e.to_string();
        }
    }
}

/// RFC 8200 §4.5: nothing after the Fragment header of a non-first
/// fragment is read as a header: such a header is the chain's last, and the
/// chain ends in fragment data (`upper` 44) right after it.
fn fragment_data_is_not_read(frame: &[u8], c: &kame_core::wire::Ipv6Chain) {
    for (i, h) in c.headers.iter().enumerate() {
        if h.proto != 44 {
            continue;
        }
        let at = h.offset as usize;
        let off = u16::from_be_bytes([frame[at + 2], frame[at + 3]]) >> 3;
        if off != 0 {
            assert_eq!(i + 1, c.headers.len(), "a header read from fragment data");
            assert_eq!((c.upper, c.upper_offset, c.upper_nh_offset), (44, h.offset + 8, h.offset));
        }
    }
}

// Structure-aware mutation (fuzz/src/lib.rs): chains, options, fields and
// upper layers changed as a stack sees them, lengths and checksums fixed.
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    kame_fuzz::ip6_mutate(data, size, max_size, seed, &[0x80])
});
