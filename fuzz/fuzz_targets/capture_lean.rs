#![no_main]
//! The lean path of the column builder (`capture::lean`) against the
//! general dissection on any frame: the first octet picks the link type
//! (Ethernet, raw, Linux cooked v1 / v2, BSD loopback) and whether
//! checksums are verified; the rest is one frame, also read cut short at
//! an offset the input picks. Both builders must give equal columns for
//! every record, and neither may panic. On Ethernet that covers ARP and
//! payloads that are neither IP nor ARP, which the lean path also reads
//! (seeds `seed-arp`, `seed-lldp`, `seed-8023`, `seed-rarp-cut`). The
//! extension-header kinds the lean path reads (Hop-by-Hop, Destination
//! Options, Routing, Fragment, AH; IPv4 options and fragments) have seeds
//! too (`seed-hbh-dstopts`, `seed-srh`, `seed-frag-first`...), and so do
//! the bad checksums and IPv6 refusals it spells out (`seed-cksum-bad`,
//! `seed-sll-offload`, `seed-v6-data-short`, `seed-v6-header-short`,
//! `seed-v6-lying-length`, `seed-version-7`); an
//! Ethernet frame's IPv6 packet is mutated as a stack sees it
//! (`kame_fuzz::ip6_mutate`: chains, options, fragments, lengths and
//! checksums made right), so that mutants pass the checks the lean path
//! makes before it reads a chain.
use kame_core::capture::{Builder, Columns};
use kame_core::wire::capfile::{pcap_header, Reader};
use kame_core::wire::dissect::Settings;
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

fn columns(file: &[u8], lean: bool, verify: bool) -> Columns {
    let mut r = Reader::default();
    let mut b = Builder::new(Settings { hdrnestlimit: 50, verify_cksum: verify });
    b.lean = lean;
    let mut pos = 0;
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        b.push(&rec);
    }
    b.take()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let linktype = [1u32, 101, 113, 276, 0, 1, 1, 101][usize::from(sel & 7)];
    let verify = sel & 0x80 == 0;
    let cut = frame.len().saturating_sub(usize::from(sel >> 3 & 0x0f));
    let mut file = pcap_header(linktype, false).to_vec();
    for f in [frame, &frame[..cut]] {
        file.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        file.extend_from_slice(&(f.len() as u32).to_le_bytes());
        file.extend_from_slice(&(f.len() as u32).to_le_bytes());
        file.extend_from_slice(f);
    }
    let lean = columns(&file, true, verify);
    let general = columns(&file, false, verify);
    assert_eq!(lean.rows, 2);
    assert_eq!(lean, general);
});

// Structure-aware mutation of the IPv6 packet after the selector octet
// and an Ethernet header (fuzz/src/lib.rs); a fifth of the time, and for
// any input, libFuzzer's own.
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    kame_fuzz::ip6_mutate(data, size, max_size, seed, &[0, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd])
});
