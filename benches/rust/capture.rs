//! Criterion benches of the column builder of `kame.capture` without
//! Python: records read from a pcap in memory (`capfile::Reader`) and
//! pushed into the Arrow column buffers (`capture::Builder`), by the lean
//! path and by the general dissection alone (`lean = false`), checksums
//! verified and not, on
//!
//! - `ping`: 1 KB echo requests over Ethernet, half ICMPv6, half ICMP
//!   (the bulk of the kernel capture of `benches/bench_capture.py`);
//! - `small`: UDP, TCP and ICMPv6 over IPv6 and UDP over IPv4, 60-90
//!   octets a frame;
//! - `ext`: the extension-header kinds, 60-110 octets a frame: Hop-by-Hop
//!   and Destination Options before an echo, an MLDv2 Report behind a
//!   Router Alert, UDP after an SRH (Segments Left 0), a first and a later
//!   fragment, TCP after AH, IGMP over IPv4 with a Router Alert option,
//!   a later IPv4 fragment (before the lean path read them, every one
//!   took the general dissection: its `general` rows are that "before");
//! - `drop`: what the small mix of `benches/bench_capture.py` has beside
//!   the common kinds: a bad UDP checksum and refusals of the IPv6 layer
//!   (a TCP segment and an NS whose Payload Length runs past the frame,
//!   a header cut short, version 7), among good UDP and TCP (before the
//!   lean path spelled them out, they took the general dissection);
//! - the capture at `$KAME_CAPTURE_FILE`, when set: read into memory
//!   first (`file`), and mapped as `kame.capture` reads it (`mapped`).
//!
//! The mapped file also gets the floor of its page tables alone (every
//! page mapped and unmapped, none read).
//!
//! Each corpus also gets two floors: the records walked and nothing built
//! (the pcap reader alone), and a row of every column written once per
//! record into fresh batches (the least the builder can cost); what a
//! path costs above the second floor is its parsing.
//!
//! Before criterion's wall-clock groups, each case is also timed in CPU
//! seconds of the running thread (best of 5) and printed as packets per
//! CPU second: on a shared machine the wall clock measures the load.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kame_core::capture::sample::{ah, echo, frag, framed, ns, opts_hdr, pcap, routing, tcp, udp, v4, v4_with, v6, v6_ext, D6, S6};
use kame_core::capture::{map::Mapped, Builder, Columns, FileColumns};
use kame_core::wire::capfile::{Reader, MAX_CAPLEN};
use kame_core::wire::dissect::Settings;
use std::hint::black_box;

/// Frames of `ip` packets over Ethernet.
fn eth(ips: &[Vec<u8>]) -> Vec<Vec<u8>> {
    ips.iter().map(|p| framed(1, p)).collect()
}

/// The floor of walking: every record of `file` read (header checked,
/// frame sliced), nothing built; the records.
fn walk(file: &[u8]) -> usize {
    let mut r = Reader::default();
    let mut pos = 0;
    let (mut n, mut octets) = (0, 0);
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        n += 1;
        octets += rec.frame.len();
    }
    black_box(octets);
    n
}

/// The same walk with the octets ahead asked into the cache
/// (`capture::ahead`, as `FileColumns` reads).
fn walk_ahead(file: &[u8]) -> usize {
    let mut r = Reader::default();
    let mut pos = 0;
    let (mut n, mut octets, mut fetched) = (0, 0, 0);
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        n += 1;
        octets += rec.frame.len();
        fetched = kame_core::capture::ahead(file, pos, fetched);
    }
    black_box(octets);
    n
}

/// The floor of the columns: every record walked and a row of every
/// column written once, in batches of 65536 rows kept to the end (as a
/// table holds them: fresh memory, as `kame.capture.read` has it).
fn touch(file: &[u8]) -> usize {
    let mut r = Reader::default();
    let mut b = Builder::new(Settings { hdrnestlimit: 50, verify_cksum: false });
    let mut pos = 0;
    let mut kept: Vec<Columns> = Vec::new();
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        if b.full(65536) {
            kept.push(b.take());
        }
        black_box(rec.frame.len());
        b.cols.touch_row();
    }
    kept.push(b.take());
    kept.iter().map(|c| c.rows).sum()
}

/// The columns of the file at `path` as `kame.capture.batches` gives
/// them to a reader that is done with each before the next but one (as
/// `to_parquet` is): the buffers of each batch given back for the next.
fn mapped_streamed(path: &str, verify: bool) -> usize {
    let mut fc = FileColumns::open(path.as_ref(), Settings { hdrnestlimit: 50, verify_cksum: verify }, 65536, MAX_CAPLEN, 0, None).unwrap();
    let (mut rows, mut last): (usize, Option<Columns>) = (0, None);
    while let Some(c) = fc.next_batch() {
        rows += c.rows;
        if let Some(done) = last.replace(c) {
            fc.give_back(done.buffers());
        }
    }
    rows
}

/// Octets of column buffers a row of a batch takes (values and bitmaps).
const ROW_OCTETS: usize = 142;

/// What fresh memory for the column buffers of `rows` rows costs: an
/// anonymous map of `rows * ROW_OCTETS` octets written once, in 4 KB pages
/// or (`huge`, where transparent huge pages are allowed on advice) in
/// 2 MB ones; the rows.
fn fresh(rows: usize, huge: bool) -> usize {
    fresh_how(rows, huge, false)
}

/// [`fresh`], the pages (`populate`) made resident by one
/// `MADV_POPULATE_WRITE` before they are written rather than a fault each.
fn fresh_how(rows: usize, huge: bool, populate: bool) -> usize {
    const HUGE: usize = 2 << 20;
    let len = (rows * ROW_OCTETS).div_ceil(HUGE) * HUGE;
    // SAFETY: a fresh private anonymous map, written inside its bounds
    // and unmapped before return.
    unsafe {
        let p = libc::mmap(core::ptr::null_mut(), len + HUGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        assert_ne!(p, libc::MAP_FAILED);
        let at = (p as usize).div_ceil(HUGE) * HUGE;
        let q = at as *mut u8;
        libc::madvise(q.cast(), len, if huge { libc::MADV_HUGEPAGE } else { libc::MADV_NOHUGEPAGE });
        if populate {
            libc::madvise(q.cast(), len, 23); // MADV_POPULATE_WRITE
        }
        core::ptr::write_bytes(q, 1, rows * ROW_OCTETS);
        black_box(*q.add(rows * ROW_OCTETS / 2));
        libc::munmap(p, len + HUGE);
    }
    rows
}

/// The columns of the file at `path` as `kame.capture` builds them:
/// mapped, batches of `batch` rows kept to the end.
fn mapped(path: &str, lean: bool, verify: bool, batch: usize) -> usize {
    let mut fc = FileColumns::open(path.as_ref(), Settings { hdrnestlimit: 50, verify_cksum: verify }, batch, MAX_CAPLEN, 0, None).unwrap();
    fc.set_lean(lean);
    let mut kept = Vec::new();
    while let Some(c) = fc.next_batch() {
        kept.push(c);
    }
    kept.iter().map(|c| c.rows).sum()
}

/// Every record of `file` into columns (batches dropped as they are
/// done); the rows built.
fn build(file: &[u8], lean: bool, verify: bool) -> usize {
    let mut r = Reader::default();
    let mut b = Builder::new(Settings { hdrnestlimit: 50, verify_cksum: verify });
    b.lean = lean;
    let mut pos = 0;
    let mut rows = 0;
    while let Ok(Some(rec)) = r.next(file, &mut pos, true) {
        if b.full(65536) {
            rows += b.take().rows;
        }
        b.push(&rec);
    }
    rows + b.take().rows
}

/// Thread CPU seconds now.
fn cpu_now() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn bench(c: &mut Criterion) {
    let ping = pcap(1, &eth(&[v6(58, echo(128, 1000), Some(2)), v4(1, echo(8, 1000), Some(2))]), 20_000);
    let small = pcap(1, &eth(&[v6(17, udp(12), Some(6)), v6(6, tcp(), Some(16)), v6(58, echo(128, 8), Some(2)), v4(17, udp(30), Some(6))]), 100_000);
    let mut mld = vec![143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0xff, 2];
    mld.extend_from_slice(&[0; 13]);
    mld.push(0xfb);
    let ext = pcap(
        1,
        &eth(&[
            v6_ext(0, &[opts_hdr(60, &[]), opts_hdr(58, &[])], 58, echo(128, 8), Some(2)),
            v6_ext(0, &[opts_hdr(58, &[5, 2, 0, 0])], 58, mld, Some(2)),
            v6_ext(43, &[routing(17, 4, 0, &[D6, S6])], 17, udp(12), Some(6)),
            v6_ext(44, &[frag(17, 0, true, 7)], 17, udp(40)[..32].to_vec(), None),
            v6_ext(44, &[frag(17, 4, true, 7)], 17, vec![0x61; 32], None),
            v6_ext(51, &[ah(6)], 6, tcp(), Some(16)),
            v4_with(2, &[0x94, 4, 0, 0], 0, vec![0x16, 0, 0xfa, 0x04, 239, 255, 255, 250], None),
            v4_with(17, &[], 0x2004, vec![0x62; 32], None),
        ]),
        100_000,
    );
    let mut bad_udp = v6(17, udp(12), Some(6));
    *bad_udp.last_mut().unwrap() ^= 0x5a;
    let mut v7 = v6(17, udp(12), Some(6));
    v7[0] = 0x70;
    let drop = pcap(
        1,
        &eth(&[
            v6(17, udp(12), Some(6)),
            bad_udp,
            v6(6, tcp(), Some(16))[..46].to_vec(),
            v6(58, ns(), Some(2))[..50].to_vec(),
            v6(17, udp(12), Some(6))[..6].to_vec(),
            v6(6, tcp(), Some(16)),
            v7,
        ]),
        100_000,
    );
    let mut corpora = vec![("ping", ping, 20_000u64), ("small", small, 100_000), ("ext", ext, 100_000), ("drop", drop, 100_000)];
    let file = std::env::var("KAME_CAPTURE_FILE").ok();
    if let Some(path) = &file {
        let f = std::fs::read(path).unwrap();
        let n = build(&f, true, false) as u64;
        corpora.push(("file", f, n));
    }
    // `KAME_CAPTURE_CPU_ONLY=text`: only the CPU timings whose names hold text.
    let only = std::env::var("KAME_CAPTURE_CPU_ONLY").ok();
    let cpu = |name: String, n: u64, f: &dyn Fn() -> usize| {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            return;
        }
        let best = (0..5)
            .map(|_| {
                let t0 = cpu_now();
                black_box(f());
                cpu_now() - t0
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name}: {:.2} M packets per CPU second ({:.1} ns a packet)", n as f64 / best / 1e6, best / n as f64 * 1e9);
    };
    cpu("memory/fresh column buffers, 4 KB pages".into(), 200_000, &|| fresh(200_000, false));
    cpu("memory/fresh column buffers, 2 MB pages".into(), 200_000, &|| fresh(200_000, true));
    cpu("memory/fresh column buffers, 4 KB pages, MADV_POPULATE_WRITE".into(), 200_000, &|| fresh_how(200_000, false, true));
    for (name, file, n) in &corpora {
        cpu(format!("capture_{name}/floor: records walked"), *n, &|| walk(black_box(file)));
        cpu(format!("capture_{name}/floor: records walked, fetched ahead"), *n, &|| walk_ahead(black_box(file)));
        cpu(format!("capture_{name}/floor: every column written once"), *n, &|| touch(black_box(file)));
        for (lean, verify) in [(true, true), (false, true), (true, false), (false, false)] {
            let how = format!("{}{}", if lean { "lean" } else { "general" }, if verify { "" } else { " no cksum" });
            cpu(format!("capture_{name}/{how}"), *n, &|| build(black_box(file), lean, verify));
        }
    }
    if let Some(path) = &file {
        let n = corpora.last().map_or(0, |c| c.2);
        // The page-table floor of a mapped file: every page of the page
        // cache mapped (MADV_POPULATE_READ, as `FileColumns` asks) and
        // unmapped, no octet read; what reading in place costs before a
        // record is looked at.
        cpu("capture_mapped/floor: pages mapped, not read".into(), n, &|| {
            let m = Mapped::open(path.as_ref()).unwrap();
            let mut done = 0;
            let mut at = 0;
            while at < m.bytes().len() {
                done = m.ahead(at, done);
                at += kame_core::capture::map::AHEAD / 2;
            }
            black_box(done) / 1024
        });
        cpu("capture_mapped/floor: records walked".into(), n, &|| {
            let m = Mapped::open(path.as_ref()).unwrap();
            m.ahead(0, 0);
            let mut done = 0;
            let mut at = 0;
            while at < m.bytes().len() {
                done = m.ahead(at, done);
                at += kame_core::capture::map::AHEAD / 2;
            }
            walk(m.bytes())
        });
        for (lean, verify) in [(true, true), (true, false)] {
            let how = format!("{}{}", if lean { "lean" } else { "general" }, if verify { "" } else { " no cksum" });
            cpu(format!("capture_mapped/{how}"), n, &|| mapped(path, lean, verify, 65536));
        }
        for verify in [true, false] {
            cpu(format!("capture_mapped/lean{}, buffers reused", if verify { "" } else { " no cksum" }), n, &|| mapped_streamed(path, verify));
        }
    }
    if only.is_some() {
        return;
    }
    for (name, file, n) in &corpora {
        let mut g = c.benchmark_group(format!("capture_{name}"));
        g.throughput(Throughput::Elements(*n));
        g.sample_size(10);
        for (lean, verify) in [(true, true), (false, true), (true, false), (false, false)] {
            let id = format!("{}{}", if lean { "lean" } else { "general" }, if verify { "" } else { " no cksum" });
            g.bench_function(id, |b| b.iter(|| build(black_box(file), lean, verify)));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
