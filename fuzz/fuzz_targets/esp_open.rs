#![no_main]
//! ESP input with random key material and random packets, for a spread of
//! algorithms, modes and options. Half the runs first build a valid packet
//! (so decryption, the padding check and the replay window are reached) and
//! then flip bytes chosen by the input. With the top bit of the first octet
//! set the packet is an IPv6 jumbogram (RFC 2675): a built one of 64K+
//! octets, or the input behind a Jumbo Payload option whose length field
//! comes from the input. Every input also runs through `input_append` (the
//! batches' path: into a buffer that already holds octets) on a twin SA,
//! which must give the same packet or error (and through
//! `input_arena`, the arena batches' path, in place, on a third), leave the buffer as it was on
//! an error and keep the same counters. Any panic is a bug.
use kame_core::ipsec::{AuthSpec, EncAlg, EspConfig, EspSa, Mode};
use kame_fuzz::Twin;
use libfuzzer_sys::fuzz_target;

const ALGS: &[(&str, usize, Option<(&str, usize)>)] = &[
    ("aes-cbc", 16, Some(("hmac-sha1", 20))),
    ("aes-cbc", 32, Some(("hmac-sha256-128", 32))),
    ("aes-gcm-16", 20, None),
    ("aes-gcm-8", 28, None),
    ("aes-ccm-12", 19, None),
    ("aes-gmac", 20, None),
    ("chacha20-poly1305", 36, None),
    ("aes-ctr", 20, Some(("aes-xcbc-mac", 16))),
    ("3des-cbc", 24, Some(("hmac-md5", 16))),
    ("des-deriv", 8, None),
    ("rc5-cbc", 16, None),
    ("null", 0, Some(("keyed-sha1", 20))),
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (sel, flags) = (data[0], data[1]);
    let jumbo = sel & 0x80 != 0;
    let (enc, kl, auth) = ALGS[usize::from(sel & 0x7f) % ALGS.len()];
    let need = kl + auth.map_or(0, |a| a.1);
    let rest = &data[2..];
    if rest.len() < need {
        return;
    }
    let (keys, pkt) = rest.split_at(need);
    let mut cfg = EspConfig::new(0x1000, EncAlg::parse(enc).unwrap(), &keys[..kl]);
    if let Some((a, al)) = auth {
        cfg.auth = Some(AuthSpec::parse(a, false).unwrap());
        cfg.auth_key = keys[kl..kl + al].to_vec();
    }
    cfg.esn = flags & 1 != 0 && enc != "des-deriv";
    if flags & 2 != 0 {
        cfg.mode = if flags & 4 != 0 {
            Mode::tunnel(&[192, 0, 2, 1], &[192, 0, 2, 2]).unwrap()
        } else {
            Mode::tunnel(&[0x20; 16], &[0x21; 16]).unwrap()
        };
    }
    if flags & 8 != 0 {
        cfg.udp_encap = Some((4500, 4500));
    }
    cfg.replay_window = [0u32, 32, 64, 1024][usize::from(flags >> 6)];
    cfg.old = flags & 16 != 0 && auth.is_none() && matches!(enc, "rc5-cbc");
    let Ok(rx) = EspSa::new(cfg.clone()) else { return };
    let Ok(rx2) = EspSa::new(cfg.clone()) else { return };
    let Ok(rx3) = EspSa::new(cfg.clone()) else { return };
    let mut rx = Twin(rx, rx2, rx3);
    if flags & 32 != 0 {
        // build a valid packet around the input, then corrupt it
        let Ok(mut tx) = EspSa::new(cfg) else { return };
        let body_len = pkt.len().min(300);
        let inner = if jumbo {
            jumbogram(&pkt[..body_len])
        } else {
            let mut inner = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
            inner.extend_from_slice(&[1; 32]);
            inner.extend_from_slice(&pkt[..body_len]);
            let plen = (inner.len() - 40) as u16;
            inner[4..6].copy_from_slice(&plen.to_be_bytes());
            inner
        };
        let Ok(mut wire) = tx.output(&inner, None) else { return };
        for pair in pkt[body_len..].chunks(2).take(8) {
            if let [pos, x] = pair {
                let i = usize::from(*pos) % wire.len();
                wire[i] ^= *x;
            }
        }
        if let Ok(back) = rx.input(&wire) {
            if pkt.len() == body_len {
                assert_eq!(back, inner);
            }
        }
        let _ = rx.input(&wire);
    } else if jumbo && pkt.len() >= 4 {
        // an ESP packet behind a Jumbo Payload option of any length
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend_from_slice(&[1; 32]);
        p.extend_from_slice(&[50, 0, 0xc2, 4]);
        p.extend_from_slice(pkt);
        let _ = rx.input(&p);
    } else {
        let _ = rx.input(pkt);
    }
});

/// An IPv6 jumbogram (Payload Length 0, Hop-by-Hop Jumbo Payload option,
/// RFC 2675) whose payload repeats `body` past 65535 octets.
fn jumbogram(body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
    p.extend_from_slice(&[1; 32]);
    p.extend_from_slice(&[59, 0, 0xc2, 4, 0, 0, 0, 0]);
    while p.len() < 40 + 65536 + 8 {
        p.extend_from_slice(if body.is_empty() { &[0x6b] } else { body });
    }
    let jl = (p.len() - 40) as u32;
    p[44..48].copy_from_slice(&jl.to_be_bytes());
    p
}
