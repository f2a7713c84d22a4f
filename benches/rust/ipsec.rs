//! ESP/AH in the Rust core against the raw primitives on the same buffer
//! (the ceiling), one criterion group per transform:
//! - AES-GCM-128 ESP output on a 1400-octet IPv6/UDP packet vs `ring`'s
//!   seal in place of the same plaintext (target: within 10 %);
//! - AES-CBC + HMAC-SHA1-96 ESP output vs RustCrypto `cbc` + `hmac`/`sha1`
//!   over the same octets, in place and after the copy an output packet
//!   needs (target: within 15 %);
//! - ESP input of the same packets, AH HMAC-SHA1-96 output on 512 octets.
//!
//! `kame_esp_output` allocates the output packet; `kame_esp_output_into`
//! reuses one buffer, which is what the raw seal-in-place is comparable to.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // a benchmark: fixed, valid inputs
use std::hint::black_box;

use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kame_core::ipsec::{AhConfig, AhSa, AuthSpec, EncAlg, EspConfig, EspSa};
use ring::aead;

fn udp6(total: usize) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
    p.extend_from_slice(&[0x20; 32]);
    let ulen = (total - 40) as u16;
    p.extend_from_slice(&[0x12, 0x34, 0x00, 0x35]);
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.resize(total, 0xab);
    let plen = (total - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p
}

fn gcm(c: &mut Criterion) {
    let pkt = udp6(1400);
    let key = [7u8; 20];
    let mut g = c.benchmark_group("esp_aes_gcm_128_1400");
    g.throughput(Throughput::Bytes(pkt.len() as u64));
    let mut sa = EspSa::new(EspConfig::new(1, EncAlg::AesGcm(16), &key)).unwrap();
    g.bench_function("kame_esp_output", |b| b.iter(|| black_box(sa.output(black_box(&pkt), None).unwrap())));
    let mut out = Vec::with_capacity(2048);
    g.bench_function("kame_esp_output_into", |b| {
        b.iter(|| {
            sa.output_into(black_box(&pkt), None, &mut out).unwrap();
            black_box(out.len())
        })
    });
    // the raw primitive: seal 1360 + 2 (trailer) + 2 (pad) octets in place
    let ring_key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key[..16]).unwrap());
    let mut buf = vec![0u8; 1364];
    let mut n: u64 = 0;
    g.bench_function("ring_seal_in_place", |b| {
        b.iter(|| {
            n += 1;
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            let aad = [0u8; 8];
            let _tag = black_box(
                ring_key
                    .seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(&aad), &mut buf)
                    .unwrap(),
            );
        })
    });
    // the ceiling for an output that makes a new packet: copy, then seal
    let mut copy = Vec::with_capacity(2048);
    g.bench_function("ring_copy_then_seal", |b| {
        b.iter(|| {
            n += 1;
            copy.clear();
            copy.extend_from_slice(&pkt[..40]);
            copy.extend_from_slice(&[0u8; 16]);
            copy.extend_from_slice(&pkt[40..]);
            copy.extend_from_slice(&[1, 2, 2, 17]);
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            let aad = [0u8; 8];
            let t = ring_key
                .seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(&aad), &mut copy[56..])
                .unwrap();
            copy.extend_from_slice(t.as_ref());
            black_box(copy.len())
        })
    });
    let mut tx = EspSa::new(EspConfig::new(1, EncAlg::AesGcm(16), &key)).unwrap();
    let wires: Vec<Vec<u8>> = (0..100_000).map(|_| tx.output(&pkt, None).unwrap()).collect();
    let mut cfg = EspConfig::new(1, EncAlg::AesGcm(16), &key);
    cfg.replay_window = 0;
    let mut rx = EspSa::new(cfg).unwrap();
    let mut i = 0usize;
    g.bench_function("kame_esp_input", |b| {
        b.iter(|| {
            i = (i + 1) % wires.len();
            black_box(rx.input(&wires[i]).unwrap())
        })
    });
    g.finish();
}

fn cbc_sha1(c: &mut Criterion) {
    let pkt = udp6(1400);
    let (ek, ak) = ([3u8; 16], [4u8; 20]);
    let mut g = c.benchmark_group("esp_aes_cbc_hmac_sha1_96_1400");
    g.throughput(Throughput::Bytes(pkt.len() as u64));
    let mut cfg = EspConfig::new(1, EncAlg::AesCbc, &ek);
    cfg.auth = Some(AuthSpec::parse("hmac-sha1", false).unwrap());
    cfg.auth_key = ak.to_vec();
    let mut sa = EspSa::new(cfg.clone()).unwrap();
    g.bench_function("kame_esp_output", |b| b.iter(|| black_box(sa.output(black_box(&pkt), None).unwrap())));
    let mut out = Vec::with_capacity(2048);
    g.bench_function("kame_esp_output_into", |b| {
        b.iter(|| {
            sa.output_into(black_box(&pkt), None, &mut out).unwrap();
            black_box(out.len())
        })
    });
    // raw: CBC-encrypt 1376 octets (1360 + pad + trailer) and HMAC-SHA1 over
    // header ‖ IV ‖ ciphertext, with the same crates kame uses (RustCrypto
    // aes/cbc, RustCrypto hmac/sha1: faster than ring's portable SHA-1)
    let mut buf = vec![0u8; 8 + 16 + 1376];
    g.bench_function("raw_cbc_plus_hmac", |b| {
        b.iter(|| {
            let iv = [9u8; 16];
            let enc = cbc::Encryptor::<aes::Aes128>::new(&ek.into(), &iv.into());
            let body = &mut buf[24..];
            let n = body.len();
            enc.encrypt_padded_mut::<NoPadding>(body, n).unwrap();
            use hmac::Mac;
            let mut m = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&ak).unwrap();
            m.update(&buf);
            black_box(m.finalize().into_bytes());
        })
    });
    // the ceiling for an output that makes a new packet, as for GCM: copy
    // the packet behind a fresh header and IV, then the same CBC + HMAC
    let mut copy = Vec::with_capacity(2048);
    g.bench_function("raw_copy_cbc_plus_hmac", |b| {
        b.iter(|| {
            copy.clear();
            copy.extend_from_slice(&pkt[..40]);
            copy.extend_from_slice(&[0u8; 24]);
            copy.extend_from_slice(&pkt[40..]);
            copy.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 17]);
            let iv = [9u8; 16];
            let enc = cbc::Encryptor::<aes::Aes128>::new(&ek.into(), &iv.into());
            let body = &mut copy[64..];
            let n = body.len();
            enc.encrypt_padded_mut::<NoPadding>(body, n).unwrap();
            use hmac::Mac;
            let mut m = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&ak).unwrap();
            m.update(&copy[40..]);
            let t = m.finalize().into_bytes();
            copy.extend_from_slice(&t[..12]);
            black_box(copy.len())
        })
    });
    let mut tx = EspSa::new(cfg.clone()).unwrap();
    let wires: Vec<Vec<u8>> = (0..100_000).map(|_| tx.output(&pkt, None).unwrap()).collect();
    cfg.replay_window = 0;
    let mut rx = EspSa::new(cfg).unwrap();
    let mut i = 0usize;
    g.bench_function("kame_esp_input", |b| {
        b.iter(|| {
            i = (i + 1) % wires.len();
            black_box(rx.input(&wires[i]).unwrap())
        })
    });
    g.finish();
}

fn ah(c: &mut Criterion) {
    let pkt = udp6(512);
    let mut g = c.benchmark_group("ah_hmac_sha1_96_512");
    g.throughput(Throughput::Bytes(pkt.len() as u64));
    let mut sa = AhSa::new(AhConfig::new(2, AuthSpec::parse("hmac-sha1", false).unwrap(), &[5u8; 20])).unwrap();
    g.bench_function("kame_ah_output", |b| b.iter(|| black_box(sa.output(black_box(&pkt)).unwrap())));
    let hkey = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &[5u8; 20]);
    let buf = vec![0u8; 512 + 24];
    g.bench_function("raw_hmac_ring", |b| b.iter(|| black_box(ring::hmac::sign(&hkey, black_box(&buf)))));
    g.bench_function("raw_hmac_rustcrypto", |b| {
        b.iter(|| {
            use hmac::Mac;
            let mut m = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&[5u8; 20]).unwrap();
            m.update(black_box(&buf));
            black_box(m.finalize().into_bytes())
        })
    });
    g.finish();
}

criterion_group!(benches, gcm, cbc_sha1, ah);
criterion_main!(benches);
