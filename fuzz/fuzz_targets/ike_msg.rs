#![no_main]
//! IKEv2 message parsing (kame_core::ike::msg): the header and payload
//! chain of whole messages, every payload body as an SA (proposals >
//! transforms > attributes) and as traffic selectors, a decrypted inner
//! chain, and SK opening (AES-CBC+HMAC and AES-GCM) of the same bytes;
//! what parses is rebuilt and must parse to the same values.
use kame_core::ike::msg::{build_sa, build_ts, parse, parse_chain, parse_sa, parse_ts};
use kame_core::ike::sk::{open, Encr, Integ};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if let Ok(m) = parse(rest) {
        for p in &m.payloads {
            if let Ok(props) = parse_sa(p.body, p.offset) {
                let again = build_sa(&props).expect("parsed proposals rebuild");
                assert_eq!(parse_sa(&again, 0).expect("rebuilt SA parses"), props);
            }
            if let Ok(ts) = parse_ts(p.body, p.offset) {
                let again = build_ts(&ts).expect("parsed selectors rebuild");
                assert_eq!(parse_ts(&again, 0).expect("rebuilt TS parses"), ts);
            }
        }
        if let Some(sk) = m.sk {
            let (e, i) = match sel & 3 {
                0 => (Encr::AesCbc(128), Integ::HmacSha256_128),
                1 => (Encr::AesGcm16(128), Integ::None),
                2 => (Encr::AesCtr(256), Integ::HmacSha1_96),
                _ => (Encr::Tdes, Integ::HmacSha256_128),
            };
            let ek = vec![sel; e.key_len()];
            let ak = vec![sel; i.key_len()];
            let _ = open(rest, sk, e, i, &ek, &ak);
        }
    }
    let _ = parse_chain(sel, rest, 0);
    let _ = parse_sa(rest, 0);
    let _ = parse_ts(rest, 0);
});
