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
//! - the capture at `$KAME_CAPTURE_FILE`, when set (read into memory
//!   first: the page cache and the map are `bench_capture.py`'s).
//!
//! Before criterion's wall-clock groups, each case is also timed in CPU
//! seconds of the running thread (best of 5) and printed as packets per
//! CPU second: on a shared machine the wall clock measures the load.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]
use core::net::{Ipv4Addr, Ipv6Addr};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kame_core::capture::Builder;
use kame_core::cksum;
use kame_core::wire::capfile::{pcap_header, Reader};
use kame_core::wire::dissect::Settings;
use std::hint::black_box;

const S6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const D6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn eth(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// IPv6 to `nh` carrying `upper`, whose checksum (at `ck`) is filled in.
fn v6(nh: u8, mut upper: Vec<u8>, ck: usize) -> Vec<u8> {
    let c = cksum::in6_cksum(&Ipv6Addr::from(S6), &Ipv6Addr::from(D6), nh, upper.len() as u64, [&upper[..]]).unwrap();
    upper[ck..ck + 2].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(upper.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, 64]);
    p.extend_from_slice(&S6);
    p.extend_from_slice(&D6);
    p.extend_from_slice(&upper);
    eth(0x86dd, &p)
}

/// IPv4 to `protocol` carrying `upper`, whose checksum (at `ck`, over the
/// pseudo-header unless ICMP) is filled in.
fn v4(protocol: u8, mut upper: Vec<u8>, ck: usize) -> Vec<u8> {
    let (s, d) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    let c = if protocol == 1 {
        cksum::ip_cksum(&upper)
    } else {
        cksum::in4_cksum(&s, &d, protocol, upper.len() as u64, [&upper[..]]).unwrap()
    };
    upper[ck..ck + 2].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(20 + upper.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    let c = cksum::ip_cksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&upper);
    eth(0x0800, &p)
}

fn echo(t: u8, data: usize) -> Vec<u8> {
    let mut e = vec![t, 0, 0, 0, 0, 7, 0, 1];
    e.extend((0..data).map(|i| i as u8));
    e
}

fn udp(data: usize) -> Vec<u8> {
    let mut u = vec![0x14, 0xe9, 0, 53];
    u.extend_from_slice(&((8 + data) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend((0..data).map(|i| i as u8));
    u
}

fn tcp() -> Vec<u8> {
    vec![0x9c, 0x40, 0, 80, 0, 1, 0xe2, 0x40, 0, 0, 0, 99, 0x50, 0x12, 0x20, 0, 0, 0, 0, 0]
}

fn pcap(frames: &[Vec<u8>], n: usize) -> Vec<u8> {
    let mut f = pcap_header(1, false).to_vec();
    for i in 0..n {
        let fr = &frames[i % frames.len()];
        f.extend_from_slice(&(1_700_000_000u32 + (i / 1000) as u32).to_le_bytes());
        f.extend_from_slice(&((i % 1000) as u32 * 7).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(fr);
    }
    f
}

/// Every record of `file` into columns; the rows built.
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
    let ping = pcap(&[v6(58, echo(128, 1000), 2), v4(1, echo(8, 1000), 2)], 20_000);
    let small = pcap(&[v6(17, udp(12), 6), v6(6, tcp(), 16), v6(58, echo(128, 8), 2), v4(17, udp(30), 6)], 100_000);
    let mut corpora = vec![("ping", ping, 20_000u64), ("small", small, 100_000)];
    if let Ok(path) = std::env::var("KAME_CAPTURE_FILE") {
        let f = std::fs::read(&path).unwrap();
        let n = build(&f, true, false) as u64;
        corpora.push(("file", f, n));
    }
    // `KAME_CAPTURE_CPU_ONLY=text`: only the CPU timings whose names hold text.
    let only = std::env::var("KAME_CAPTURE_CPU_ONLY").ok();
    for (name, file, n) in &corpora {
        for (lean, verify) in [(true, true), (false, true), (true, false), (false, false)] {
            let how = format!("{}{}", if lean { "lean" } else { "general" }, if verify { "" } else { " no cksum" });
            if only.as_ref().is_some_and(|o| !format!("capture_{name}/{how}").contains(o.as_str())) {
                continue;
            }
            let best = (0..5)
                .map(|_| {
                    let t0 = cpu_now();
                    black_box(build(black_box(file), lean, verify));
                    cpu_now() - t0
                })
                .fold(f64::INFINITY, f64::min);
            println!("capture_{name}/{how}: {:.2} M packets per CPU second", *n as f64 / best / 1e6);
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
