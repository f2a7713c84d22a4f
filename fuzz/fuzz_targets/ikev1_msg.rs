#![no_main]
//! IKEv1 (ISAKMP) message parsing (kame_core::ike::v1): the header and
//! payload chain of whole messages, every payload body as an SA (DOI,
//! proposals > transforms > TV/TLV attributes), a decrypted (padded)
//! chain, and CBC decryption of the encrypted body; what parses is
//! rebuilt and must parse to the same values.
use kame_core::ike::v1::{build_sa, decrypt, parse, parse_chain, parse_sa, Cipher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if let Ok(m) = parse(rest) {
        for p in &m.payloads {
            if let Ok(sa) = parse_sa(p.body, p.offset) {
                let again = build_sa(&sa).expect("parsed SA rebuilds");
                assert_eq!(parse_sa(&again, 0).expect("rebuilt SA parses"), sa);
            }
        }
        if let Some(ct) = m.encrypted {
            let c = if sel & 1 == 0 { Cipher::Aes(128) } else { Cipher::TripleDes };
            if let Ok(pt) = decrypt(c, &vec![sel; c.key_len()], &vec![sel; c.block()], ct) {
                let _ = parse_chain(m.header.next, &pt, 28, true);
            }
        }
    }
    let _ = parse_chain(sel, rest, 0, sel & 1 == 0);
    let _ = parse_sa(rest, 0);
});
