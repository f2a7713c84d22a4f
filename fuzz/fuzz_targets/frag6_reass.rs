#![no_main]
//! frag6_reass: the fuzz input is a script of fragment insertions, raw
//! frames, clock advances and cap changes against one `Reassembler` with
//! small caps. After every step: no panic, bytes held <= max_bytes, queues
//! <= max_queues, every fragment accounted for exactly once; every
//! reassembled datagram is a well-formed IPv6 packet whose Payload Length
//! matches; `fragment_packet` output reassembles to its input.
use kame_core::frag6::{atomic_fragment_packet, fragment_packet};
use kame_core::reass::{Outcome, Reassembler};
use libfuzzer_sys::fuzz_target;

struct Cur<'a> {
    d: &'a [u8],
    i: usize,
}
impl Cur<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = self.d.get(self.i).copied();
        self.i += 1;
        b
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let s = self.d.get(self.i..).unwrap_or(&[]);
        let s = s.get(..n).unwrap_or(s);
        self.i += s.len();
        s
    }
}

fn ipv6(src: u8, nh: u8, ecn: u8) -> Vec<u8> {
    let mut p = vec![0x60, ecn << 4, 0, 0, 0, 0, nh, 64];
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, src]);
    p.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    ]);
    p
}

fn fix_plen(p: &mut [u8]) {
    let plen = (p.len().saturating_sub(40)).min(0xffff) as u16;
    if let Some(b) = p.get_mut(4..6) {
        b.copy_from_slice(&plen.to_be_bytes());
    }
}

fn check_packet(p: &[u8]) {
    assert!(p.len() >= 40);
    assert_eq!(p[0] >> 4, 6);
    let plen = u16::from_be_bytes([p[4], p[5]]) as usize;
    assert_eq!(plen + 40, p.len());
}

fn check(r: &Reassembler, consumed: u64) {
    assert!(
        r.bytes_held() <= r.max_bytes(),
        "bytes {} > cap {}",
        r.bytes_held(),
        r.max_bytes()
    );
    assert!(r.len() <= r.max_queues());
    let s = r.stats();
    assert_eq!(
        s.ip6s_fragments,
        consumed
            + r.frags_held() as u64
            + s.ip6s_fragdropped
            + s.ip6s_fragtimeout
            + s.ip6s_fragoverflow
    );
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cur { d: data, i: 0 };
    let (Some(a), Some(b), Some(q), Some(f)) = (c.u8(), c.u8(), c.u8(), c.u8()) else {
        return;
    };
    let max_bytes = 64 * (a as usize) + 16 * (b as usize);
    let Ok(mut r) = Reassembler::with_limits(
        1.0 + (q >> 4) as f64,
        max_bytes,
        1 + (q & 7) as usize,
        1 + (f & 15) as usize,
    ) else {
        return;
    };
    r.set_ignore_exact_duplicates(f & 0x80 != 0);
    let mut now = 0.0f64;
    let mut consumed = 0u64;
    let mut steps = 0;
    while let Some(op) = c.u8() {
        steps += 1;
        if steps > 400 {
            break;
        }
        let mut reassembled = false;
        match op % 6 {
            0 => {
                now += (c.u8().unwrap_or(0) as f64) * 0.25;
                let ex = r.expire(now).unwrap();
                for e in ex {
                    assert!(e.invoking.len() <= 1232);
                    assert_eq!((e.icmp.icmp_type, e.icmp.code), (3, 1));
                }
            }
            1 | 2 => {
                // A structured fragment: source, ident, zone, offset, M,
                // length, ECN, header layout; data from a pattern so that
                // pieces of one datagram agree.
                let (Some(s), Some(id), Some(offw), Some(l), Some(lay)) =
                    (c.u8(), c.u8(), c.u16(), c.u8(), c.u8())
                else {
                    break;
                };
                let more = offw & 1 == 1;
                let off = (offw & 0x0ff8) as usize;
                let len = if more {
                    (l as usize % 24) * 8
                } else {
                    l as usize * 3
                };
                let ecn = (lay >> 6) & 3;
                let mut p = match lay & 3 {
                    0 => ipv6(s & 3, 44, ecn),
                    1 => {
                        let mut p = ipv6(s & 3, 0, ecn);
                        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
                        p
                    }
                    2 => {
                        let mut p = ipv6(s & 3, 43, ecn);
                        p.extend_from_slice(&[44, 0, 4, 0, 0, 0, 0, 0]);
                        p
                    }
                    _ => {
                        let mut p = ipv6(s & 3, 60, ecn);
                        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
                        p
                    }
                };
                let nh = if lay & 4 != 0 { 17 } else { 60 };
                p.extend_from_slice(&[nh, 0]);
                p.extend_from_slice(&((off as u16) | u16::from(more)).to_be_bytes());
                p.extend_from_slice(&[0, 0, 0, id & 3]);
                p.extend((off..off + len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(id & 3)));
                if off == 0 && nh == 60 && len >= 2 {
                    // a DstOpts header of 8 octets, then UDP
                    let at = p.len() - len;
                    if let Some(x) = p.get_mut(at..at + 2) {
                        x.copy_from_slice(&[17, 0]);
                    }
                }
                fix_plen(&mut p);
                let zone = (s >> 4) as u32 & 1;
                match r.input_packet(&p, zone, now) {
                    Ok(Outcome::Reassembled(out)) => {
                        check_packet(&out);
                        reassembled = true;
                    }
                    Ok(_) => {}
                    Err(e) => panic!("structured fragment refused: {e}"),
                }
            }
            3 => {
                // A raw frame.
                let n = c.u8().unwrap_or(0) as usize;
                let raw = c.take(n).to_vec();
                if let Ok(Outcome::Reassembled(out)) = r.input_packet(&raw, 0, now) {
                    check_packet(&out);
                    reassembled = true;
                }
                if let (Some(fo), Some(nho)) = (c.u8(), c.u8()) {
                    if let Ok(Outcome::Reassembled(out)) =
                        r.input(&raw, fo as usize, nho as usize, 1, fo & 1 == 0, now)
                    {
                        check_packet(&out);
                        reassembled = true;
                    }
                }
            }
            4 => {
                let v = c.u8().unwrap_or(0);
                match v % 4 {
                    0 => r.set_max_bytes(64 * (v as usize)),
                    1 => r.set_max_queues((v >> 2) as usize % 9),
                    2 => r.set_max_frags_per_queue((v >> 2) as usize % 17),
                    _ => {
                        let _ = r.set_timeout((v >> 2) as f64);
                    }
                }
            }
            _ => {
                // Round trip through our own fragmenter into a fresh
                // reassembler: must give the packet back.
                let n = c.u16().unwrap_or(0) as usize % 9000;
                let mtu = 1280 + c.u16().unwrap_or(0) as usize % 2000;
                let mut p = ipv6(9, 17, 0);
                p.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 0]);
                p.extend((0..n).map(|i| i as u8));
                fix_plen(&mut p);
                let frags = fragment_packet(&p, mtu, 1234).unwrap();
                let mut fresh = Reassembler::new();
                let mut last = Outcome::Incomplete;
                for x in frags.iter().rev() {
                    assert!(x.len() <= mtu);
                    last = fresh.input_packet(x, 0, 0.0).unwrap();
                }
                if frags.len() == 1 {
                    assert_eq!(last, Outcome::NotFragment);
                } else {
                    assert_eq!(last, Outcome::Reassembled(p.clone()));
                }
                let a = atomic_fragment_packet(&p, 1).unwrap();
                let o = r.input_packet(&a, 0, now).unwrap();
                assert_eq!(o, Outcome::Reassembled(p));
                reassembled = true;
            }
        }
        // Fragments leave the books only by being dropped (three counters)
        // or consumed by a reassembled/atomic datagram: the derived
        // "consumed" never goes negative and grows only on a reassembly.
        let s = r.stats();
        let now_consumed = s
            .ip6s_fragments
            .checked_sub(
                r.frags_held() as u64
                    + s.ip6s_fragdropped
                    + s.ip6s_fragtimeout
                    + s.ip6s_fragoverflow,
            )
            .expect("more fragments accounted for than received");
        assert!(now_consumed >= consumed);
        assert!(
            now_consumed == consumed || reassembled,
            "fragments vanished"
        );
        consumed = now_consumed;
        assert!(r.bytes_held() <= r.max_bytes());
        assert!(r.len() <= r.max_queues());
    }
    check(&r, consumed);
});
