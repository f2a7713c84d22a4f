#![no_main]
//! `kame dissect`'s lines (wire::print) for any frame on every link type
//! under every option: never panics, one line (plus -v lines starting with
//! a tab), ending in a verdict, and the verdict is the dissector's.
use kame_core::wire::dissect::{self, LinkType, Settings};
use kame_core::wire::print::{Options, Printer, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    const LINKS: [LinkType; 6] =
        [LinkType::Raw, LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Loop];
    let link = LINKS[usize::from(sel) % LINKS.len()];
    let settings = Settings { hdrnestlimit: u32::from(sel >> 4), verify_cksum: true };
    let mut p = Printer::default();
    for (verbose, link_words, quiet) in [(0, false, false), (2, true, false), (1, false, true)] {
        let o = Options { settings, verbose, link: link_words, quiet };
        let mut out = String::new();
        let f = p.frame(&mut out, frame, frame.len() as u32, link, &o);
        assert!(out.ends_with(']'), "{out}");
        assert!(out.lines().skip(1).all(|l| l.starts_with('\t')), "{out}");
        if let Ok(d) = dissect::dissect(frame, link, settings) {
            let want = if d.summary.cksum_ok == Some(false) { "cksum" } else { "ok" };
            let got = match f.verdict {
                Verdict::Ok => "ok",
                Verdict::CksumBad { .. } => "cksum",
                v => panic!("{v:?} for an accepted frame: {out}"),
            };
            assert_eq!(got, want);
        }
    }
});
