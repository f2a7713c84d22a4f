#![no_main]
//! The Mobility Header parser (RFC 6275 §6.1) over random bytes, with and
//! without the checksum's pseudo-header; what parses must build back to a
//! message that parses to the same fields, and a signed message must verify
//! under its key and not under another.
use kame_core::wire::mh::{self, OptRepr, Repr};
use libfuzzer_sys::fuzz_target;

const SRC: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fuzz_target!(|data: &[u8]| {
    let _ = Repr::parse(data, Some((&SRC, &DST)));
    let Ok(r) = Repr::parse(data, None) else { return };
    assert_eq!(r.len % 8, 0);
    assert!(r.len <= data.len() && r.len <= 2048);
    // rebuild from the fields (options without the pads, which emit adds
    // where alignment needs them)
    let opts: Vec<OptRepr<'_>> = r.options.iter().map(|o| o.opt.clone()).filter(|o| !matches!(o, OptRepr::Pad1 | OptRepr::PadN(_))).collect();
    let Ok(b) = mh::emit(r.payload_proto, &r.message, &opts, Some((&SRC, &DST))) else { return };
    let r2 = Repr::parse(&b, Some((&SRC, &DST))).expect("a built message parses");
    assert_eq!(r2.message, r.message);
    let opts2: Vec<OptRepr<'_>> = r2.options.iter().map(|o| o.opt.clone()).filter(|o| !matches!(o, OptRepr::Pad1 | OptRepr::PadN(_))).collect();
    assert_eq!(opts2, opts);
    if let Ok(s) = mh::emit_signed(59, &r.message, &opts, data.get(..20).unwrap_or(&[1]), &SRC, &DST, None) {
        let p = Repr::parse(&s, None).expect("a signed message parses");
        let at = p.options.last().map(|o| o.offset + 2).expect("authorization data last");
        assert!(mh::rr::verify(data.get(..20).unwrap_or(&[1]), &SRC, &DST, &s, at..at + mh::AUTH_LEN));
        assert!(!mh::rr::verify(b"another key", &SRC, &DST, &s, at..at + mh::AUTH_LEN));
    }
});
