//! The floor of reading a capture file in the page cache, apart from any
//! column: what the machine charges to bring a record's octets to the CPU,
//! by the ways a reader can have them.
//!
//! Each way walks every record of the pcap at `$KAME_CAPTURE_FILE` (the
//! 16-octet record header gives where the next one is) and either
//!
//! - `head`: reads the record header and the frame's first 64 octets
//!   (what the columns need of a frame whose checksum is not verified), or
//! - `all`: reads every octet of the frame too (summed as the Internet
//!   checksum is, by `cksum::sum16`: what verifying a checksum must read;
//!   a plain sum of 64-bit words is the same memory traffic), or
//! - `sum`: the Internet checksum of every frame alone, over an in-memory
//!   copy of the file (no mapping), for the CPU cost of the sum itself,
//!
//! with the octets had by
//!
//! - `mmap, faulted`: a private read-only map, pages faulted in as read
//!   (the kernel maps `fault_around_bytes`, 64 KB, a fault);
//! - `mmap, MADV_SEQUENTIAL` and `mmap, MADV_WILLNEED`: the same with the
//!   advice on the whole map;
//! - `mmap, MAP_POPULATE`: every page mapped before the walk (the time
//!   counted);
//! - `mmap, MADV_POPULATE_READ steps`: as `FileColumns` reads
//!   (`map::Mapped::ahead`, 32 MB asked at a time);
//! - `read() 1 MB into a reused buffer`: no map; the kernel copies each
//!   megabyte into a buffer that stays in the cache;
//! - `in memory`: a `Vec` read whole before the timing (the file's octets
//!   already in this process's memory: no page-cache cost at all).
//!
//! Printed: ns a record and M records per CPU second of the thread (best
//! of `$KAME_FLOOR_RUNS`, 5 by default), the minor page faults of the best
//! run, and the load average. No hardware counters are needed (a KVM
//! guest often has none).
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]
use std::fs::File;
use std::hint::black_box;
use std::io::Read;
use std::os::fd::AsRawFd;

use kame_core::capture::map::Mapped;
use kame_core::cksum;

/// Thread CPU seconds now.
fn cpu_now() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Minor page faults of this thread so far.
fn faults() -> i64 {
    // SAFETY: a valid out-pointer for getrusage.
    let mut u: libc::rusage = unsafe { core::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    u.ru_minflt
}

#[derive(Clone, Copy, PartialEq)]
enum Touch {
    Head,
    All,
}

/// Walk the records of the pcap in `b` from `pos`, up to where a record
/// is cut; returns (records, where the walk stopped, a value to keep).
#[inline(always)]
fn walk(b: &[u8], pos: usize, touch: Touch) -> (usize, usize, u64) {
    walk_to(b, pos, usize::MAX, touch)
}

/// [`walk`] of the records that start before `end`.
#[inline(always)]
fn walk_to(b: &[u8], mut pos: usize, end: usize, touch: Touch) -> (usize, usize, u64) {
    let mut n = 0;
    let mut acc = 0u64;
    while let Some(h) = b.get(pos..pos + 16).filter(|_| pos < end) {
        let caplen = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let Some(frame) = b.get(pos + 16..pos + 16 + caplen) else { break };
        acc = acc.wrapping_add(u64::from(h[0]));
        match touch {
            Touch::Head => {
                let f = &frame[..frame.len().min(64)];
                acc = acc.wrapping_add(u64::from(f.first().copied().unwrap_or(0)) + u64::from(f.last().copied().unwrap_or(0)));
            }
            Touch::All => acc = acc.wrapping_add(u64::from(cksum::sum16(frame))),
        }
        n += 1;
        pos += 16 + caplen;
    }
    (n, pos, acc)
}

/// A private read-only map of `f`, `flags` added, `advice` given on it.
fn map(f: &File, len: usize, flags: libc::c_int, advice: Option<libc::c_int>) -> &'static [u8] {
    // SAFETY: a fresh private read-only map of an open file, unmapped by
    // `unmap` before the next run.
    unsafe {
        let p = libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE | flags, f.as_raw_fd(), 0);
        assert_ne!(p, libc::MAP_FAILED);
        if let Some(a) = advice {
            libc::madvise(p, len, a);
        }
        core::slice::from_raw_parts(p.cast::<u8>(), len)
    }
}

fn unmap(b: &[u8]) {
    // SAFETY: `b` is a whole map made by `map`, unmapped once.
    unsafe { libc::munmap(b.as_ptr() as *mut libc::c_void, b.len()) };
}

fn main() {
    let Ok(path) = std::env::var("KAME_CAPTURE_FILE") else {
        eprintln!("set KAME_CAPTURE_FILE to a pcap (little-endian, microseconds)");
        return;
    };
    let runs: usize = std::env::var("KAME_FLOOR_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let f = File::open(&path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    let whole = std::fs::read(&path).unwrap();
    assert_eq!(&whole[..4], &0xa1b2_c3d4u32.to_le_bytes(), "a little-endian pcap");
    let records = walk(&whole, 24, Touch::Head).0;
    let mut load = [0f64; 3];
    // SAFETY: a valid out-pointer for three averages.
    unsafe { libc::getloadavg(load.as_mut_ptr(), 3) };
    println!("{path}: {records} records, {len} octets ({:.0} a frame); load {:.2}; best of {runs}", len as f64 / records as f64 - 16.0, load[0]);
    let time = |name: &str, run: &dyn Fn() -> (usize, u64)| {
        let mut best = (f64::INFINITY, 0i64);
        for _ in 0..runs {
            let (f0, t0) = (faults(), cpu_now());
            let (n, v) = run();
            let t = cpu_now() - t0;
            black_box(v);
            assert_eq!(n, records, "{name}");
            if t < best.0 {
                best = (t, faults() - f0);
            }
        }
        println!(
            "  {name:48} {:6.1} ns a record {:6.2} M/s cpu {:8} faults ({:.2} GB/s)",
            best.0 / records as f64 * 1e9,
            records as f64 / best.0 / 1e6,
            best.1,
            len as f64 / best.0 / 1e9
        );
    };
    let seq = libc::MADV_SEQUENTIAL;
    let will = libc::MADV_WILLNEED;
    for touch in [Touch::Head, Touch::All] {
        let t = if touch == Touch::Head { "head" } else { "all" };
        time(&format!("{t}: in memory"), &|| {
            let (n, _, v) = walk(&whole, 24, touch);
            (n, v)
        });
        for (how, flags, advice) in [
            ("mmap, faulted", 0, None),
            ("mmap, MADV_SEQUENTIAL", 0, Some(seq)),
            ("mmap, MADV_WILLNEED", 0, Some(will)),
            ("mmap, MAP_POPULATE", libc::MAP_POPULATE, None),
        ] {
            time(&format!("{t}: {how}"), &|| {
                let b = map(&f, len, flags, advice);
                let (n, _, v) = walk(b, 24, touch);
                unmap(b);
                (n, v)
            });
        }
        time(&format!("{t}: mmap, MADV_POPULATE_READ steps"), &|| {
            let m = Mapped::open(path.as_ref()).unwrap();
            let b = m.bytes();
            let (mut n, mut v, mut pos, mut done) = (0, 0, 24, 0);
            loop {
                // Asked resident from `pos`, then the records that start
                // in the first half of what was asked walked (as
                // `FileColumns::next_batch` asks again half way).
                done = m.ahead(pos, done);
                let end = (pos + kame_core::capture::map::AHEAD / 2).min(b.len());
                let (k, at, x) = walk_to(b, pos, end, touch);
                n += k;
                v ^= x;
                if at == pos || at >= b.len() {
                    break;
                }
                pos = at;
            }
            (n, v)
        });
        time(&format!("{t}: read() 1 MB into a reused buffer"), &|| {
            let mut g = File::open(&path).unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let (mut n, mut v, mut have, mut first) = (0, 0, 0usize, true);
            loop {
                let k = g.read(&mut buf[have..]).unwrap();
                have += k;
                let start = if first { 24 } else { 0 };
                first = false;
                let (m, at, x) = walk(&buf[..have], start, touch);
                n += m;
                v ^= x;
                buf.copy_within(at..have, 0);
                have -= at;
                if k == 0 {
                    break;
                }
            }
            (n, v)
        });
    }
    time("sum: every frame's Internet checksum, in memory", &|| {
        let (n, _, v) = walk(&whole, 24, Touch::All);
        (n, v)
    });
    // The checksum alone on frames that stay in the L1/L2 cache: the CPU
    // cost of `sum16` apart from memory.
    let hot = &whole[24..24 + (256 << 10)];
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(h) = hot.get(pos..pos + 16) {
        let caplen = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let Some(fr) = hot.get(pos + 16..pos + 16 + caplen) else { break };
        frames.push(fr);
        pos += 16 + caplen;
    }
    let reps = records / frames.len() + 1;
    for (name, p) in [("sum16", None), ("portable", Some(cksum::Path::Portable)), ("avx2", Some(cksum::Path::Avx2)), ("avx512", Some(cksum::Path::Avx512))] {
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let t0 = cpu_now();
            let mut v = 0u64;
            for _ in 0..reps {
                for fr in &frames {
                    let fr = black_box(*fr);
                    v = v.wrapping_add(u64::from(match p {
                        None => cksum::sum16(fr),
                        Some(p) => cksum::sum16_with(fr, p),
                    }));
                }
            }
            black_box(v);
            best = best.min(cpu_now() - t0);
        }
        let n = reps * frames.len();
        let octets: usize = frames.iter().map(|f| f.len()).sum::<usize>() * reps;
        println!(
            "  {:48} {:6.1} ns a record {:6.2} M/s cpu ({:.1} GB/s)",
            format!("sum: {name} of frames in the cache (256 KB)"),
            best / n as f64 * 1e9,
            n as f64 / best / 1e6,
            octets as f64 / best / 1e9
        );
    }
}
