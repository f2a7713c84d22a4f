//! Criterion benches of the IPv6 wire core: `ipv6::validate` and
//! `exthdr::walk_ipv6` on a typical packet (IPv6 + Hop-by-Hop with Router
//! Alert + UDP, 64 octets of data) and on a 10-header chain, plus the
//! jumbogram of seed §1.7 (68,000 octets: validation does not touch the
//! payload, so it costs the same as a small packet). `dissect_mix` is the
//! whole-packet dissection (`kame.parse` / `parse_many` without Python) over
//! the 8-packet mix of `benches/bench_parse.py`, checksums verified.
#![allow(clippy::indexing_slicing)]
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kame_core::wire::dissect::{self, LinkType, Settings};
use kame_core::wire::{exthdr, ipv6, opts};
use std::hint::black_box;

fn header(next_header: u8, payload_len: u16) -> Vec<u8> {
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    let mut dst = src;
    src[15] = 1;
    dst[15] = 2;
    ipv6::Repr { src_addr: src, dst_addr: dst, next_header, payload_len, hop_limit: 64, traffic_class: 0, flow_label: 0 }
        .to_bytes()
        .to_vec()
}

fn options_header(next: u8, o: Vec<opts::Repr>) -> Vec<u8> {
    exthdr::OptionsRepr { next_header: next, options: o }.padded().to_bytes(kame_core::Layer::HopByHop).unwrap_or_default()
}

/// IPv6 + HBH(Router Alert) + UDP with 64 octets of data.
fn typical() -> Vec<u8> {
    let hbh = options_header(17, vec![opts::Repr::RouterAlert(0)]);
    let mut udp = vec![0u8; 8 + 64];
    udp[..6].copy_from_slice(&[0, 7, 0, 7, 0, 72]);
    let mut b = header(0, (hbh.len() + udp.len()) as u16);
    b.extend_from_slice(&hbh);
    b.extend_from_slice(&udp);
    b
}

/// IPv6 + 10 extension headers (HBH, 7 DstOpts, Routing type 2,
/// Fragment) + UDP.
fn ten_headers() -> Vec<u8> {
    let mut parts: Vec<Vec<u8>> = vec![options_header(60, vec![opts::Repr::RouterAlert(0)])];
    for i in 0..7 {
        parts.push(options_header(if i < 6 { 60 } else { 43 }, vec![opts::Repr::PadN(4)]));
    }
    let mut home = [0u8; 16];
    home[0] = 0x20;
    home[15] = 9;
    parts.push(exthdr::RoutingRepr::type2(44, home).to_bytes().unwrap_or_default());
    parts.push(
        exthdr::FragmentRepr { next_header: 17, reserved: 0, frag_offset: 0, res: 0, more_frags: false, ident: 7 }
            .to_bytes()
            .to_vec(),
    );
    parts.push(vec![0, 7, 0, 7, 0, 8, 0, 0]);
    let body: Vec<u8> = parts.concat();
    let mut b = header(0, body.len() as u16);
    b.extend_from_slice(&body);
    b
}

fn jumbogram() -> Vec<u8> {
    let icmp = vec![0u8; 68000];
    let hbh = options_header(58, vec![opts::Repr::Jumbo(8 + 68000)]);
    let mut b = header(0, 0);
    b.extend_from_slice(&hbh);
    b.extend_from_slice(&icmp);
    b
}

fn unhex(s: &str) -> Vec<u8> {
    let d: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).map(|c| (c as char).to_digit(16).unwrap_or(0) as u8).collect();
    d.chunks(2).map(|c| (c[0] << 4) | c[1]).collect()
}

/// The packets of `benches/bench_parse.py`'s corpus, as scapy built them:
/// UDP, TCP SYN, TCP with 1200 data octets, echo request, NS, HBH(Router
/// Alert)+UDP, first fragment of UDP, DstOpts+Routing+TCP.
fn mix() -> Vec<Vec<u8>> {
    let mut big = unhex(
        "6000000004c4064020010db800000000000000000000000120010db8000000000000000000000002\
         01bb9c4000000000000000005018200037520000",
    );
    big.extend_from_slice(&[b'x'; 1200]);
    let hex = [
        "600000000030114020010db800000000000000000000000120010db8000000000000000000000002\
         14e900350030b21e71717171717171717171717171717171717171717171717171717171717171717171717171717171",
        "600000000014064020010db800000000000000000000000120010db8000000000000000000000002\
         9c4001bb00000000000000005002200096720000",
        "6000000000403a4020010db800000000000000000000000120010db8000000000000000000000002\
         8000f4a00001000270696e6770696e6770696e6770696e6770696e6770696e6770696e6770696e67\
         70696e6770696e6770696e6770696e6770696e6770696e67",
        "6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff000002\
         87007a9700000000fe8000000000000000000000000000020101020000000001",
        "600000000010004020010db8000000000000000000000001ff020000000000000000000000000016\
         1100050200000100000100020008d308",
        "6000000000502c4020010db800000000000000000000000120010db8000000000000000000000002\
         1100000100000007000300040048d7156666666666666666666666666666666666666666666666666666\
         666666666666666666666666666666666666666666666666666666666666666666666666666666666666",
        "6000000000343c4020010db800000000000000000000000120010db8000000000000000000000002\
         2b00010400000000060200000000000020010db80000000000000000000000030005000600000000\
         000000005002200034630000",
    ];
    let mut v: Vec<Vec<u8>> = hex.iter().map(|h| unhex(h)).collect();
    v.insert(2, big);
    v
}

fn bench_mix(c: &mut Criterion) {
    let pkts = mix();
    let s = Settings::default();
    for p in &pkts {
        let d = dissect::dissect(p, LinkType::Raw, s);
        assert!(d.is_ok(), "{d:?}");
        assert_ne!(d.map(|d| d.summary.cksum_ok), Ok(Some(false)));
    }
    let mut g = c.benchmark_group("dissect_mix");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("dissect", |b| {
        b.iter(|| {
            for p in &pkts {
                let _ = black_box(dissect::dissect(black_box(p), LinkType::Raw, s));
            }
        })
    });
    // The batch path of `parse_many`: one chain and one summary reused.
    g.bench_function("dissect_to", |b| {
        let mut chain = exthdr::Chain::default();
        let mut out = dissect::Summary::EMPTY;
        b.iter(|| {
            for p in &pkts {
                let _ = black_box(dissect::dissect_to(black_box(p), LinkType::Raw, s, &mut chain, &mut out));
            }
            black_box(&out);
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let cases = [("typical", typical()), ("ten_headers", ten_headers()), ("jumbogram_68000", jumbogram())];
    for (name, pkt) in &cases {
        assert!(ipv6::validate(pkt, 50).is_ok(), "{name}");
    }
    let mut g = c.benchmark_group("ipv6_validate");
    for (name, pkt) in &cases {
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(name), pkt, |b, p| b.iter(|| ipv6::validate(black_box(p), 50)));
    }
    g.finish();
    let mut g = c.benchmark_group("ipv6_walk");
    for (name, pkt) in &cases {
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(name), pkt, |b, p| b.iter(|| exthdr::walk_ipv6(black_box(p), 50)));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench, bench_mix
}
criterion_main!(benches);
