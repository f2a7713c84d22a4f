//! Classic BPF: the filter machine of the BSD packet filter (McCanne and
//! Jacobson, 1993), as libpcap's `pcap_compile` emits it for the
//! pcap-filter language. [`Program::new`] checks a program as libpcap's
//! `bpf_validate` does (jumps land inside the program, scratch memory
//! indices below 16, no division by a constant zero, a return last), and
//! [`Program::filter`] runs it as libpcap's `bpf_filter` does: a load
//! outside the packet, or a division by a zero X, rejects the packet
//! (returns 0).
//!
//! libpcap's `protochain` walks the IPv6 header chain with a backward
//! `ja` (its offset wraps around, which `bpf_validate` lets through);
//! such a loop ends when the walk leaves the packet, but a hand-made one
//! need not, so a run is bounded: after [`MAX_STEPS`] instructions the
//! packet is rejected.

/// One instruction, `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `BPF_MAXINSNS`.
pub const MAX_INSNS: usize = 4096;
/// Instructions run per packet before it is rejected (a protochain walk
/// over the longest packet takes about half as many).
pub const MAX_STEPS: u32 = 1 << 20;
/// `BPF_MEMWORDS`.
pub const MEMWORDS: usize = 16;

// Instruction classes and fields (net/bpf.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;

const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;

const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const MSH: u16 = 0xa0;

const ADD: u16 = 0x00;
const SUB: u16 = 0x10;
const MUL: u16 = 0x20;
const DIV: u16 = 0x30;
const OR: u16 = 0x40;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const NEG: u16 = 0x80;
const MOD: u16 = 0x90;
const XOR: u16 = 0xa0;

const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;

const SRC_X: u16 = 0x08;
const RVAL_A: u16 = 0x10;
const TXA: u16 = 0x80;

/// Why a program was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The index of the offending instruction.
    pub at: usize,
    pub reason: &'static str,
}

/// A checked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
}

impl Program {
    /// Check `insns` as `bpf_validate` does.
    pub fn new(insns: Vec<Insn>) -> Result<Program, Invalid> {
        let n = insns.len();
        if n == 0 || n > MAX_INSNS {
            return Err(Invalid { at: 0, reason: "a program has 1 to 4096 instructions" });
        }
        for (i, p) in insns.iter().enumerate() {
            let bad = |reason| Err(Invalid { at: i, reason });
            let op = p.code & 0xf0;
            match p.code & 0x07 {
                LD | LDX => match p.code & 0xe0 {
                    IMM | ABS | IND | LEN => {}
                    MSH if p.code & 0x07 == LDX && p.code & 0x18 == B => {}
                    MEM if (p.k as usize) < MEMWORDS => {}
                    MEM => return bad("scratch memory index out of range"),
                    _ => return bad("unknown load mode"),
                },
                ST | STX if (p.k as usize) >= MEMWORDS => return bad("scratch memory index out of range"),
                ST | STX => {}
                ALU => match op {
                    ADD | SUB | MUL | OR | AND | LSH | RSH | NEG | XOR => {}
                    DIV | MOD if p.code & SRC_X == 0 && p.k == 0 => return bad("division by a constant zero"),
                    DIV | MOD => {}
                    _ => return bad("unknown ALU operation"),
                },
                JMP => {
                    let from = i + 1;
                    let ok = if op == JA {
                        // libpcap's check, in u_int arithmetic: a backward
                        // jump wraps around into the program.
                        ((from as u32).wrapping_add(p.k) as usize) < n
                    } else if matches!(op, JEQ | JGT | JGE | JSET) {
                        from + usize::from(p.jt) < n && from + usize::from(p.jf) < n
                    } else {
                        return bad("unknown jump");
                    };
                    if !ok {
                        return bad("jump out of the program");
                    }
                }
                RET => {}
                _ => {
                    // MISC: TAX (0) or TXA (0x80).
                    if p.code & 0xf8 != 0 && p.code & 0xf8 != TXA {
                        return bad("unknown miscellaneous operation");
                    }
                }
            }
        }
        match insns.last() {
            Some(l) if l.code & 0x07 == RET => Ok(Program { insns }),
            _ => Err(Invalid { at: n - 1, reason: "the last instruction is not a return" }),
        }
    }

    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Run the program over `pkt` (the captured octets) whose length on
    /// the wire was `wirelen`: what it returns (0 rejects the packet).
    pub fn filter(&self, pkt: &[u8], wirelen: u32) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; MEMWORDS];
        let mut pc = 0usize;
        let load = |at: u32, size: u16| -> Option<u32> {
            let at = at as usize;
            match size {
                W => pkt.get(at..at.checked_add(4)?).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes),
                H => pkt.get(at..at.checked_add(2)?).and_then(|b| <[u8; 2]>::try_from(b).ok()).map(|b| u32::from(u16::from_be_bytes(b))),
                B => pkt.get(at).map(|&b| u32::from(b)),
                _ => None,
            }
        };
        let mut steps = 0u32;
        while let Some(p) = self.insns.get(pc) {
            pc += 1;
            steps += 1;
            if steps > MAX_STEPS {
                return 0;
            }
            let k = p.k;
            match p.code & 0x07 {
                RET => return if p.code & 0x18 == RVAL_A { a } else { k },
                LD => {
                    a = match p.code & 0xe0 {
                        IMM => k,
                        ABS => match load(k, p.code & 0x18) {
                            Some(v) => v,
                            None => return 0,
                        },
                        IND => match x.checked_add(k).and_then(|at| load(at, p.code & 0x18)) {
                            Some(v) => v,
                            None => return 0,
                        },
                        MEM => mem.get(k as usize).copied().unwrap_or(0),
                        LEN => wirelen,
                        _ => return 0,
                    }
                }
                LDX => {
                    x = match p.code & 0xe0 {
                        IMM => k,
                        MEM => mem.get(k as usize).copied().unwrap_or(0),
                        LEN => wirelen,
                        MSH => match pkt.get(k as usize) {
                            Some(&b) => u32::from(b & 0x0f) << 2,
                            None => return 0,
                        },
                        _ => return 0,
                    }
                }
                ST => {
                    if let Some(m) = mem.get_mut(k as usize) {
                        *m = a;
                    }
                }
                STX => {
                    if let Some(m) = mem.get_mut(k as usize) {
                        *m = x;
                    }
                }
                ALU => {
                    let v = if p.code & SRC_X != 0 { x } else { k };
                    a = match p.code & 0xf0 {
                        ADD => a.wrapping_add(v),
                        SUB => a.wrapping_sub(v),
                        MUL => a.wrapping_mul(v),
                        DIV => match a.checked_div(v) {
                            Some(q) => q,
                            None => return 0,
                        },
                        MOD => match a.checked_rem(v) {
                            Some(r) => r,
                            None => return 0,
                        },
                        OR => a | v,
                        AND => a & v,
                        XOR => a ^ v,
                        LSH => a.checked_shl(v).unwrap_or(0),
                        RSH => a.checked_shr(v).unwrap_or(0),
                        NEG => a.wrapping_neg(),
                        _ => return 0,
                    }
                }
                JMP => {
                    let v = if p.code & SRC_X != 0 { x } else { k };
                    let take = match p.code & 0xf0 {
                        JA => {
                            pc = (pc as u32).wrapping_add(k) as usize;
                            continue;
                        }
                        JEQ => a == v,
                        JGT => a > v,
                        JGE => a >= v,
                        JSET => a & v != 0,
                        _ => return 0,
                    };
                    pc += usize::from(if take { p.jt } else { p.jf });
                }
                MISC => {
                    if p.code & 0xf8 == TXA {
                        a = x;
                    } else {
                        x = a;
                    }
                }
                _ => return 0,
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// `tcpdump -d -y RAW ip6` (libpcap 1.10).
    fn ip6_raw() -> Program {
        Program::new(vec![i(0x30, 0, 0, 0), i(0x54, 0, 0, 0xf0), i(0x15, 0, 1, 0x60), i(0x6, 0, 0, 262144), i(0x6, 0, 0, 0)])
            .unwrap()
    }

    #[test]
    fn runs_what_libpcap_emits() {
        let p = ip6_raw();
        assert_eq!(p.filter(&[0x60, 0, 0, 0], 4), 262144);
        assert_eq!(p.filter(&[0x45, 0, 0, 0], 4), 0);
        assert_eq!(p.filter(&[], 0), 0);
    }

    #[test]
    fn refuses_what_bpf_validate_refuses() {
        assert!(Program::new(vec![]).is_err());
        assert!(Program::new(vec![i(0x15, 5, 0, 0), i(0x6, 0, 0, 0)]).is_err());
        assert!(Program::new(vec![i(0x05, 0, 0, 1), i(0x6, 0, 0, 0)]).is_err());
        // A backward jump (libpcap's protochain) is let through; a loop
        // that never ends is cut after MAX_STEPS.
        let spin = Program::new(vec![i(0x05, 0, 0, u32::MAX), i(0x6, 0, 0, 1)]).unwrap();
        assert_eq!(spin.filter(&[], 0), 0);
        assert!(Program::new(vec![i(0x34, 0, 0, 0), i(0x6, 0, 0, 0)]).is_err());
        assert!(Program::new(vec![i(0x02, 0, 0, 16), i(0x6, 0, 0, 0)]).is_err());
        assert!(Program::new(vec![i(0x00, 0, 0, 0)]).is_err());
        // Division by X = 0 at run time rejects the packet.
        let p = Program::new(vec![i(0x3c, 0, 0, 0), i(0x16, 0, 0, 0)]).unwrap();
        assert_eq!(p.filter(&[], 0), 0);
    }
}
