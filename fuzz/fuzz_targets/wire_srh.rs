#![no_main]
//! Arbitrary bytes through the Segment Routing Header decode (RFC 8754).
//!
//! The first byte, when odd, forces the Routing Type to 4 so that most
//! inputs reach the segment list and the TLVs. A panic or an overflow trap
//! is a bug; a refusal must be a typed error at an offset inside the header
//! (or a `Truncated` naming what is missing); an accepted header must
//! re-emit to exactly its own octets and parse back to the same `Repr`, and
//! the unchecked view must agree with the `Repr` and never panic.
use kame_core::wire::srh::{Packet, Repr, FIXED_LEN, SEGMENT_LEN};
use kame_core::ErrorKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut buf = rest.to_vec();
    if first & 1 == 1 {
        if let Some(t) = buf.get_mut(2) {
            *t = 4;
        }
    }
    let view = Packet::new_unchecked(&buf[..]);
    let _ = (view.segments().count(), view.tlvs().count(), view.tag(), view.segment(usize::MAX), view.tlv_area().len());
    let hlen = view.header_len();
    match Repr::parse(&buf) {
        Ok(r) => {
            assert_eq!(r.segments.len(), view.segment_count());
            assert!(FIXED_LEN + SEGMENT_LEN * r.segments.len() <= hlen);
            assert_eq!(r.buffer_len(), hlen);
            let out = r.to_bytes().expect("an accepted SRH re-emits");
            assert_eq!(&out[..], &buf[..hlen]);
            assert_eq!(Repr::parse(&out).as_ref(), Ok(&r));
            assert_eq!(r.padded(), r);
        }
        Err(e) => {
            match e.kind {
                ErrorKind::Truncated { needed, available } => {
                    assert!(needed > available);
                    assert_eq!(available, buf.len() as u64);
                }
                ErrorKind::Malformed => assert!(e.offset < hlen as u64, "{e}"),
                k => panic!("unexpected error kind {k:?}"),
            }
            let _ = e.to_string();
        }
    }
});
