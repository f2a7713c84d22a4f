//! The SYN-queue operation interpreter that the `tcp_syncache` fuzz target
//! and this crate's own tests both run: a test and fuzz helper, not part of
//! the stack. [`run_ops`] reads any octets as a sequence of SYNs, handshake
//! ACKs, RSTs, ICMP errors and clock steps for a [`SynCache`] and asserts
//! its invariants: the table never holds more entries than the bound it was
//! given; every SYN,ACK parses under its pseudo-header with the ACK of the
//! SYN; the timer queue drains (every entry ends within 15 s of its last
//! SYN). A broken invariant panics, which is what a fuzzer looks for.
//!
//! Input layout: octet 0 is the policy (bits 0-2 the cache limit, 3-4
//! `rfc1323`, 5 SACK, 6 SYN cookies, 7 cookies only); then 16-octet
//! operations, octet 0 the kind (bits 0-2: 0-1 SYN, 2-3 ACK, 4 RST, 5 ICMP,
//! else a clock step; bit 7: IPv4), octet 1 the port (or the step in 1/8 s).

use crate::cksum::Pseudo;
use crate::tcp::seg::Segment;
use crate::tcp::syncache::{Expanded, Key, Offer, Policy, Syn, SynCache};

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([d.get(i).copied().unwrap_or(0), d.get(i + 1).copied().unwrap_or(0)])
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    (u32::from(u16_at(d, i)) << 16) | u32::from(u16_at(d, i + 2))
}

/// Run the operations `data` encodes; panics where an invariant breaks.
pub fn run_ops(data: &[u8]) {
        let Some((&cfg, ops)) = data.split_first() else { return };
        let limit = usize::from(cfg & 7);
        let p = Policy { rfc1323: i64::from(cfg >> 3 & 3), sack_enable: cfg & 0x20 != 0, ecn_enable: true, syncookies: cfg & 0x40 != 0, syncookies_only: cfg & 0x80 != 0, cachelimit: limit, rexmit_initial: 1.0 };
        let la6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let fa6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut c: SynCache<u8> = SynCache::new(&[9; 32]);
        let mut now = 0.0f64;
        for op in ops.chunks(16) {
            let kind = op.first().copied().unwrap_or(0);
            let port = u16::from(op.get(1).copied().unwrap_or(0) & 7);
            let k = if kind & 0x80 != 0 {
                Key::new(&[10, 0, 0, 1], 80, &[10, 0, 0, 2], port)
            } else {
                Key::new(&la6, 80, &fa6, port)
            };
            let Some(k) = k else { return };
            let pseudo = if kind & 0x80 != 0 {
                Pseudo::V4 { src: [10, 0, 0, 1].into(), dst: [10, 0, 0, 2].into() }
            } else {
                Pseudo::V6 { src: la6.into(), dst: fa6.into() }
            };
            let seq = u32_at(op, 2);
            match kind & 7 {
                0 | 1 => {
                    let flags = u16::from(op.get(6).copied().unwrap_or(0));
                    let o = op.get(7).copied().unwrap_or(0);
                    let syn = Syn { seq, flags, mss: (o & 1 != 0).then(|| u16_at(op, 8)), wscale: (o & 2 != 0).then(|| op.get(10).copied().unwrap_or(0)), sack_permitted: o & 4 != 0, tsval: (o & 8 != 0).then(|| u32_at(op, 11)) };
                    let offer = Offer { mss: u16_at(op, 8).max(1), rcvbuf: u64::from(u32_at(op, 11)) };
                    let (_, seg) = c.add(k, &syn, 0, offer, 0, &p, now);
                    if let Some(s) = seg {
                        let r = Segment::parse(&s, Some(&pseudo)).expect("our SYN,ACK parses");
                        assert_eq!(r.ack, seq.wrapping_add(1));
                        assert_eq!(r.flags & 0x12, 0x12);
                    }
                }
                2 | 3 => {
                    let r = c.expand(&k, seq, u32_at(op, 6), Some(u32_at(op, 10)), u64::from(u16_at(op, 14)), kind & 1 != 0, p.syncookies || p.syncookies_only, now);
                    if let Expanded::Established(d) = r {
                        assert!(d.cookie || d.lso.is_some());
                    }
                }
                4 => {
                    c.chkrst(&k, seq);
                }
                5 => {
                    c.unreach(&k, seq);
                }
                _ => {
                    now += f64::from(op.get(1).copied().unwrap_or(0)) / 8.0;
                    let (_, _) = c.expire(now, 1.0);
                }
            }
            assert!(c.len() <= limit);
        }
        let mut n = 0;
        while let Some(d) = c.next_deadline() {
            assert!(d <= now + 15.0);
            c.expire(d, 1.0);
            n += 1;
            assert!(n < 10_000);
        }
        assert!(c.is_empty());
}
