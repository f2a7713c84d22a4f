#![no_main]
//! The classic BPF machine on any program and any packet: a program that
//! `Program::new` accepts runs to a return (or a rejection) without a
//! panic (backward jumps included: the run is cut after MAX_STEPS), and
//! gives the same answer twice; a refused one is refused with the index of an
//! instruction that exists.
use kame_core::wire::bpf::{Insn, Program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 64) + 1;
    let (code, pkt) = rest.split_at((n * 8).min(rest.len()));
    let insns: Vec<Insn> = code
        .chunks_exact(8)
        .map(|c| Insn { code: u16::from_le_bytes([c[0], c[1]]), jt: c[2], jf: c[3], k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]) })
        .collect();
    let len = insns.len();
    match Program::new(insns) {
        Ok(p) => {
            let a = p.filter(pkt, pkt.len() as u32);
            assert_eq!(a, p.filter(pkt, pkt.len() as u32));
            let _ = p.filter(pkt, u32::MAX);
        }
        Err(e) => assert!(len == 0 || e.at < len),
    }
});
