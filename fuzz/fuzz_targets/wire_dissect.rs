#![no_main]
//! Whole-packet dissection (`kame.parse` / `parse_many`) on any bytes: never
//! panics; the batch path (`dissect_to`, one chain and summary reused
//! across packets) answers exactly what `dissect` does; offsets stay inside
//! the frame; the header list (inline, spilling past its array) is the walk's.
use std::cell::RefCell;

use kame_core::wire::dissect::{self, LinkType, Settings, Summary};
use kame_core::wire::exthdr::Chain;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static SCRATCH: RefCell<(Chain, Summary)> = const { RefCell::new((Chain::new(), Summary::EMPTY)) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    const LINKS: [LinkType; 6] =
        [LinkType::Raw, LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Loop];
    let link = LINKS[usize::from(sel & 1 | (sel >> 7) << 1) % LINKS.len()];
    let settings = Settings { hdrnestlimit: u32::from(sel >> 2) % 64, verify_cksum: sel & 2 == 0 };
    let full = dissect::dissect(frame, link, settings);
    SCRATCH.with(|c| {
        let mut c = c.borrow_mut();
        let (chain, s) = &mut *c;
        let r = dissect::dissect_to(frame, link, settings, chain, s);
        match (&full, r) {
            (Ok(d), Ok(())) => {
                assert_eq!(&d.summary, s);
                assert_eq!(&d.chain, chain);
                let n = frame.len() as u64;
                assert!(s.upper_offset <= n && s.payload_offset <= n && s.net_offset + s.packet_len <= n);
                assert_eq!(s.ext_count as usize, chain.headers.len());
                for h in &chain.headers {
                    assert!(h.offset + h.len <= n);
                }
            }
            (Err(a), Err(b)) => assert_eq!(*a, b),
            (a, b) => panic!("dissect {a:?} but dissect_to {b:?}"),
        }
    });
});
