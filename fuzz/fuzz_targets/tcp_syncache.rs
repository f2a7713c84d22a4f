#![no_main]
//! tcp_syncache: any octets as a sequence of SYNs, handshake ACKs, RSTs,
//! ICMP errors and clock steps for the core's SYN queue. Nothing panics;
//! the table never holds more entries than the bound it was given; every
//! SYN,ACK parses under its pseudo-header with the ACK of the SYN; the
//! timer queue drains (every entry ends within 15 s of its last SYN).
use kame_core::cksum::Pseudo;
use kame_core::tcp::seg::Segment;
use kame_core::tcp::syncache::{Expanded, Key, Offer, Policy, Syn, SynCache};
use libfuzzer_sys::fuzz_target;

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([d.get(i).copied().unwrap_or(0), d.get(i + 1).copied().unwrap_or(0)])
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    (u32::from(u16_at(d, i)) << 16) | u32::from(u16_at(d, i + 2))
}

fuzz_target!(|data: &[u8]| {
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
});
