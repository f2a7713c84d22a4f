#![no_main]
//! Parse any ICMPv6 message; whatever parses must re-emit and re-parse to
//! the same Repr, and validate() must not panic.
use std::net::Ipv6Addr;

use kame_core::wire::icmpv6::Repr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2);
    let _ = Repr::parse(data, Some((&src, &dst)), 10);
    // With the cap, at most 10 options are taken.
    if let Ok(r) = Repr::parse(data, None, 10) {
        if let Some(o) = r.nd_options() {
            assert!(o.options.len() <= 10);
        }
    }
    // Round trip without the cap (a capped parse drops options on purpose,
    // so its toomanyopt counter would not survive a re-parse).
    if let Ok(r) = Repr::parse(data, None, 0) {
        for hl in [1u8, 64, 255] {
            let _ = r.validate(hl, &src, &dst);
            let _ = r.validate(hl, &Ipv6Addr::UNSPECIFIED, &dst);
        }
        let mut out = Vec::new();
        r.emit(&mut out, Some((&src, &dst))).expect("emit of a parsed message");
        assert_eq!(out.len(), r.buffer_len());
        let again = Repr::parse(&out, Some((&src, &dst)), 0).expect("re-parse");
        assert_eq!(again, r);
    }
});
