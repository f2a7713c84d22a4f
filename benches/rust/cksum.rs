//! in6_cksum against memory bandwidth: the checksum of a 1500-byte packet
//! (contiguous and split at odd offsets, as an mbuf chain would be) beside a
//! memcpy of the same 1500 bytes, in one group, so the ratio is read off
//! directly. Target: in6_cksum >= 50 % of memcpy bandwidth.
use std::hint::black_box;
use std::net::Ipv6Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kame_core::cksum::{self, Path};

fn bench_cksum(c: &mut Criterion) {
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST);
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap_or(Ipv6Addr::LOCALHOST);
    let data: Vec<u8> = (0..1500u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mut out = vec![0u8; 1500];
    let mut g = c.benchmark_group("cksum_1500");
    g.throughput(Throughput::Bytes(1500));
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            out.copy_from_slice(black_box(&data));
            black_box(&out);
        })
    });
    g.bench_function("in6_cksum", |b| {
        b.iter(|| cksum::in6_cksum(&src, &dst, 17, 1500, [black_box(&data[..])]))
    });
    let (a, rest) = data.split_at(41);
    let (m, z) = rest.split_at(707);
    g.bench_function("in6_cksum_split3_odd", |b| {
        b.iter(|| cksum::in6_cksum(&src, &dst, 17, 1500, [black_box(a), black_box(m), black_box(z)]))
    });
    g.bench_function("sum16_portable", |b| b.iter(|| cksum::sum16_with(black_box(&data), Path::Portable)));
    g.bench_function("sum16_avx2", |b| b.iter(|| cksum::sum16_with(black_box(&data), Path::Avx2)));
    g.bench_function("sum16_avx512", |b| b.iter(|| cksum::sum16_with(black_box(&data), Path::Avx512)));
    g.bench_function("reference_rfc1071", |b| b.iter(|| cksum::reference::cksum(black_box(&data))));
    g.finish();
}

criterion_group!(benches, bench_cksum);
criterion_main!(benches);
