#![no_main]
//! DNS message parsing (wire::dns::parse) over arbitrary bytes, and over a
//! valid query whose octets the input then overwrites; names the input
//! spells are encoded and, when they encode, read back to the same octets.
use kame_core::wire::dns::{build_query, encode_name, parse, read_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    if data.len() < 3 {
        return;
    }
    // a query built from the input's text, then mutated by the input's bytes
    let text = String::from_utf8_lossy(&data[3..data.len().min(300)]);
    if let Ok(mut q) = build_query(u16::from_be_bytes([data[0], data[1]]), &text, u16::from(data[2]), data[2] & 1 == 0, Some(1232)) {
        let m = parse(&q).expect("a query we built parses");
        let mut wire = Vec::new();
        if encode_name(&m.questions[0].name.text, &mut wire).is_ok() {
            let (back, _) = read_name(&wire, 0, wire.len()).expect("an encoded name reads back");
            assert_eq!(back, m.questions[0].name);
        }
        for (i, b) in data.iter().enumerate().take(16) {
            if let Some(slot) = q.get_mut(usize::from(*b) % (i + 12)) {
                *slot ^= b.rotate_left(i as u32);
            }
        }
        let _ = parse(&q);
    }
});
