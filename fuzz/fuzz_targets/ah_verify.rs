#![no_main]
//! AH input (and the mutable-field zeroing walk) over random packets, random
//! keys and algorithms, old and new AH, transport and tunnel SAs; half the
//! runs verify a valid packet built from the input after flipping bytes;
//! with flag 64 that packet is an IPv6 jumbogram (RFC 2675: the Jumbo
//! Payload option is immutable and covered by the ICV). Every input also
//! runs through `input_append` (the batches' path) on a twin SA and
//! `input_arena` (the arena batches', in place) on a third, which
//! must agree with `input`.
use kame_core::ipsec::ah::{zero_mutable, AhConfig, AhSa};
use kame_core::ipsec::{AuthSpec, Mode};
use kame_fuzz::Twin;
use libfuzzer_sys::fuzz_target;

const ALGS: &[(&str, usize)] = &[
    ("hmac-sha1", 20),
    ("hmac-md5", 16),
    ("hmac-sha256-128", 32),
    ("hmac-sha512", 64),
    ("keyed-md5", 16),
    ("aes-xcbc-mac", 16),
    ("aes-cmac", 16),
    ("hmac-ripemd160", 20),
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (sel, flags) = (data[0], data[1]);
    let (alg, kl) = ALGS[usize::from(sel) % ALGS.len()];
    let rest = &data[2..];
    if rest.len() < kl {
        return;
    }
    let (key, pkt) = rest.split_at(kl);
    // the zeroing walk alone, on arbitrary bytes
    let mut z = pkt.to_vec();
    let end = usize::from(flags).min(z.len());
    let _ = zero_mutable(&mut z, end, flags & 1 == 0);

    let old = flags & 2 != 0 && matches!(alg, "hmac-sha1" | "hmac-md5" | "keyed-md5" | "hmac-ripemd160");
    let Ok(spec) = AuthSpec::parse(alg, old) else { return };
    let mut cfg = AhConfig::new(0x2000, spec, key);
    cfg.old = old;
    cfg.esn = !old && flags & 4 != 0;
    if flags & 8 != 0 {
        cfg.mode = Mode::tunnel(&[0x20; 16], &[0x21; 16]).unwrap();
    }
    let Ok(rx) = AhSa::new(cfg.clone()) else { return };
    let Ok(rx2) = AhSa::new(cfg.clone()) else { return };
    let Ok(rx3) = AhSa::new(cfg.clone()) else { return };
    let mut rx = Twin(rx, rx2, rx3);
    if flags & 16 != 0 && pkt.len() >= 40 && pkt[0] >> 4 == 6 {
        let Ok(mut tx) = AhSa::new(cfg) else { return };
        let mut p = pkt.to_vec();
        if flags & 64 != 0 {
            // a jumbogram: Payload Length 0, Hop-by-Hop with the Jumbo
            // Payload option, the input's bytes repeated past 65535
            let body = p.split_off(40);
            p[4..7].copy_from_slice(&[0, 0, 0]);
            p.extend_from_slice(&[body.first().copied().unwrap_or(59), 0, 0xc2, 4, 0, 0, 0, 0]);
            while p.len() < 40 + 65536 + 8 {
                p.extend_from_slice(if body.is_empty() { &[0x6b] } else { &body });
            }
            let jl = (p.len() - 40) as u32;
            p[44..48].copy_from_slice(&jl.to_be_bytes());
        } else {
            let plen = (p.len() - 40).min(65535) as u16;
            p[4..6].copy_from_slice(&plen.to_be_bytes());
            p.truncate(40 + usize::from(plen));
        }
        let Ok(mut wire) = tx.output(&p) else { return };
        if flags & 32 != 0 {
            let i = usize::from(data[0]) % wire.len();
            wire[i] ^= 0x5a;
        }
        if flags & 128 != 0 {
            // the Jumbo Payload Length (or Payload Length) lies
            let i = 44 + usize::from(data[0] & 3);
            if let Some(b) = wire.get_mut(i) {
                *b ^= 0x01;
            }
        }
        let _ = rx.input(&wire);
    } else {
        let _ = rx.input(pkt);
    }
});
