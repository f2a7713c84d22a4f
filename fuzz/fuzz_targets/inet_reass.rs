#![no_main]
//! inet_reass: a script of IPv4 fragments (structured, from one pattern so
//! that pieces of a datagram agree, and raw), clock steps and cap changes
//! against one `IpReassembler` with small caps. After every step: no
//! panic, bytes held <= max_bytes, queues <= max_queues, every fragment
//! accounted for once; every reassembled datagram validates; our own
//! fragmenter's output reassembles to its input.
use std::net::Ipv4Addr;

use kame_core::inet::ip::{ip_build, ip_fragment, ip_validate, Header};
use kame_core::inet::reass::{IpReassembler, Outcome};
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

fn frag(src: u8, id: u8, off: usize, more: bool, len: usize, tos: u8) -> Vec<u8> {
    let payload: Vec<u8> = (off..off + len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(id)).collect();
    let mut p = ip_build(
        &Header {
            src: Ipv4Addr::new(192, 0, 2, src),
            dst: Ipv4Addr::new(192, 0, 2, 200),
            protocol: 17,
            ttl: 64,
            tos,
            ident: u16::from(id),
            df: false,
            options: &[],
        },
        &payload,
    )
    .unwrap();
    let fo = ((off / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
    p[6..8].copy_from_slice(&fo.to_be_bytes());
    p[10] = 0;
    p[11] = 0;
    let c = kame_core::cksum::ip_cksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn accounted(r: &IpReassembler) -> u64 {
    let s = r.stats();
    r.frags_held() as u64 + s.ips_fragdropped + s.ips_fragtimeout + s.ips_fragoverflow
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cur { d: data, i: 0 };
    let (Some(a), Some(q), Some(f)) = (c.u8(), c.u8(), c.u8()) else {
        return;
    };
    let Ok(mut r) = IpReassembler::with_limits(1.0 + f64::from(q >> 4), 64 * usize::from(a), usize::from(q & 7), usize::from(f & 31)) else {
        return;
    };
    let mut now = 0.0f64;
    let mut consumed = 0u64;
    for _ in 0..400 {
        let Some(op) = c.u8() else { break };
        let mut reassembled = 0u64;
        match op % 5 {
            0 => {
                now += f64::from(c.u8().unwrap_or(0)) * 0.25;
                for e in r.expire(now).unwrap() {
                    assert!(e.invoking.len() <= 60 + 8);
                }
            }
            1 | 2 => {
                let (Some(s), Some(id), Some(offw), Some(l)) = (c.u8(), c.u8(), c.u16(), c.u8()) else {
                    break;
                };
                let more = offw & 1 == 1;
                let off = usize::from(offw & 0x0ff8);
                let len = if more { usize::from(l % 24) * 8 } else { usize::from(l) * 3 };
                let p = frag(s & 3, id & 3, off, more, len, (op >> 4) & 3);
                let held = r.frags_held();
                match r.input(&p, u32::from(s >> 7), now).unwrap() {
                    Outcome::Reassembled(out) => {
                        let v = ip_validate(&out, true).expect("reassembled datagram validates");
                        assert!(!v.is_fragment());
                        reassembled = held as u64 + 1;
                    }
                    Outcome::NotFragment => assert!(off == 0 && !more),
                    _ => {}
                }
            }
            3 => {
                let n = usize::from(c.u8().unwrap_or(0));
                let raw = c.take(n).to_vec();
                let held = r.frags_held();
                if let Ok(Outcome::Reassembled(out)) = r.input(&raw, 0, now) {
                    assert!(ip_validate(&out, true).is_ok());
                    reassembled = held as u64 + 1;
                }
            }
            _ => {
                let v = c.u8().unwrap_or(0);
                match v % 4 {
                    0 => r.set_max_bytes(64 * usize::from(v)),
                    1 => r.set_max_queues(usize::from(v >> 2) % 9),
                    2 => r.set_max_frags_per_queue(usize::from(v >> 2) % 17),
                    _ => {
                        let n = usize::from(c.u16().unwrap_or(0)) % 9000;
                        let mtu = 68 + usize::from(c.u16().unwrap_or(0)) % 2000;
                        let p = ip_build(
                            &Header {
                                src: Ipv4Addr::new(198, 51, 100, 1),
                                dst: Ipv4Addr::new(198, 51, 100, 2),
                                protocol: 17,
                                ttl: 64,
                                tos: 0,
                                ident: 7,
                                df: false,
                                options: &[],
                            },
                            &(0..n).map(|i| i as u8).collect::<Vec<u8>>(),
                        )
                        .unwrap();
                        let frags = ip_fragment(&p, mtu).unwrap();
                        let mut fresh = IpReassembler::with_limits(30.0, 1 << 20, 4, 4096).unwrap();
                        let mut last = Outcome::Incomplete;
                        for x in frags.iter().rev() {
                            assert!(x.len() <= mtu);
                            last = fresh.input(x, 0, 0.0).unwrap();
                        }
                        if frags.len() == 1 {
                            assert_eq!(last, Outcome::NotFragment);
                        } else {
                            assert_eq!(last, Outcome::Reassembled(p));
                        }
                    }
                }
            }
        }
        // fragments leave the books only by a counter or a reassembly
        let total = r.stats().ips_fragments;
        let now_consumed = total.checked_sub(accounted(&r)).expect("more fragments accounted for than received");
        assert!(now_consumed >= consumed);
        assert!(now_consumed == consumed || reassembled > 0, "fragments vanished");
        consumed = now_consumed;
        assert!(r.bytes_held() <= r.max_bytes());
        assert!(r.len() <= r.max_queues());
    }
});
