//! ESP/AH in the Rust core against the raw primitives on the same buffer
//! (the ceiling), one criterion group per transform:
//! - AES-GCM-128 ESP output on a 1400-octet IPv6/UDP packet vs `ring`'s
//!   seal in place of the same plaintext (target: within 10 %);
//! - AES-CBC + HMAC-SHA1-96 ESP output vs RustCrypto `cbc` + `ring` HMAC
//!   over the same octets (target: within 15 %);
//! - ESP input of the same packets, AH HMAC-SHA1-96 output on 512 octets.
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
            black_box(
                ring_key
                    .seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(&aad), &mut buf)
                    .unwrap(),
            );
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
    // raw: CBC-encrypt 1376 octets (1360 + pad + trailer) and HMAC-SHA1 over header ‖ IV ‖ ciphertext
    let hkey = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &ak);
    let mut buf = vec![0u8; 8 + 16 + 1376];
    g.bench_function("raw_cbc_plus_hmac", |b| {
        b.iter(|| {
            let iv = [9u8; 16];
            let enc = cbc::Encryptor::<aes::Aes128>::new(&ek.into(), &iv.into());
            let body = &mut buf[24..];
            let n = body.len();
            enc.encrypt_padded_mut::<NoPadding>(body, n).unwrap();
            black_box(ring::hmac::sign(&hkey, &buf));
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
    g.bench_function("raw_hmac", |b| b.iter(|| black_box(ring::hmac::sign(&hkey, black_box(&buf)))));
    g.finish();
}

criterion_group!(benches, gcm, cbc_sha1, ah);
criterion_main!(benches);
