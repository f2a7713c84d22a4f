#![no_main]
//! Arbitrary bytes through the IPv6 validation and the chain walkers.
//!
//! The first byte picks `hdrnestlimit` (0 = unlimited, as the knob allows)
//! and the rest is the frame. A panic or an overflow trap is a bug; every
//! refusal must be a typed `Error` whose offset lies inside the frame (or
//! at its end), and the walkers must agree with each other and with
//! `validate`.
use kame_core::wire::{exthdr, ipv6};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, frame)) = data.split_first() else {
        return;
    };
    let limit = u32::from(first % 64);
    let flen = frame.len() as u64;

    let strict = exthdr::walk_ipv6(frame, limit);
    let lax = exthdr::walk_ipv6_lax(frame, limit);
    match (&strict, &lax) {
        (Ok(s), Ok(l)) => {
            // Routing rules aside, a complete chain walks the same laxly.
            assert!(!l.truncated);
            assert_eq!(s, l);
        }
        (Err(e), Ok(l)) => {
            assert!(e.is_truncated() || e.layer == kame_core::Layer::Routing || e.layer == kame_core::Layer::HopByHop);
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
                if limit != 0 {
                    assert!(c.headers.len() as u64 <= u64::from(limit) + 1);
                }
            }
            Err(e) => assert!(e.offset <= flen.max(ipv6::HEADER_LEN as u64), "{e}"),
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
});
