#![no_main]
//! KAME's capped ND option walker with maxndopt from the first byte: never
//! panics, never takes more than maxndopt options, and what it takes
//! re-emits and re-walks to the same options.
use kame_core::wire::nd::Options;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, rest)) = data.split_first() else { return };
    let cap = usize::from(cap % 32);
    if let Ok(o) = Options::walk(rest, cap) {
        if cap != 0 {
            assert!(o.options.len() <= cap);
        }
        let _ = (o.source_lladdr(), o.target_lladdr(), o.mtu(), o.nonce(), o.prefixes().count(), o.rdnss().count());
        let mut out = Vec::new();
        o.emit(&mut out).expect("emit of walked options");
        assert_eq!(out.len(), o.buffer_len());
        let again = Options::walk(&out, 0).expect("re-walk");
        assert_eq!(again.options, o.options);
    }
});
