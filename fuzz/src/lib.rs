//! Shared code of the fuzz targets: a structure-aware libFuzzer mutator for
//! inputs that hold an IPv6 packet (`ip6_mutate`).
//!
//! libFuzzer's byte mutations rarely get past a Payload Length, a header
//! length or a checksum: one flipped byte and the packet is refused at the
//! first check. This mutator reads the input as an IPv6 header, an
//! extension-header chain and an upper-layer message, changes it as a stack
//! sees it (inserts, drops, swaps and duplicates headers; adds Hop-by-Hop
//! and Destination options, Jumbo Payload included; sets Fragment and
//! Routing fields; replaces the upper layer with an echo, ND, MLD, ICMPv6
//! error, UDP or TCP message; appends ND options; mutates one header's or
//! the upper layer's bytes with libFuzzer's own mutator), then writes it
//! back with the header lengths, Next Header links, Payload Length and
//! upper-layer checksum made right -- mostly: now and then a length or a
//! checksum is left wrong on purpose, and a fifth of the time libFuzzer's
//! byte mutation runs on the whole input, so nothing byte-level is lost.
//!
//! With `KAME_FUZZ_PLAIN=1` in the environment the targets use libFuzzer's
//! own mutation alone: the same binary then measures plain libFuzzer
//! against this mutator (benches/fuzz_coverage.sh).
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use kame_core::error::Error;
use kame_core::ipsec::ah::AhSa;
use kame_core::ipsec::{EspSa, SaStats};

const HBH: u8 = 0;
const TCP: u8 = 6;
const UDP: u8 = 17;
const RT: u8 = 43;
const FRAG: u8 = 44;
const AH: u8 = 51;
const ICMPV6: u8 = 58;
const NONXT: u8 = 59;
const DST: u8 = 60;

/// The longest chain the mutator keeps (the default hdrnestlimit is 50).
const MAX_EXTS: usize = 64;

/// True when libFuzzer's plain byte mutation is asked for.
pub fn plain() -> bool {
    static PLAIN: OnceLock<bool> = OnceLock::new();
    *PLAIN.get_or_init(|| std::env::var_os("KAME_FUZZ_PLAIN").is_some_and(|v| v != "0"))
}

/// A small xorshift generator seeded by libFuzzer's seed (deterministic).
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Self {
        Rng(u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// 0..n (n > 0)
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// One extension header, whole (its Next Header and length are rewritten
/// when the packet is emitted).
#[derive(Clone)]
struct Ext {
    proto: u8,
    raw: Vec<u8>,
}

/// An IPv6 packet as the mutator sees it.
struct Pkt {
    fixed: [u8; 40],
    exts: Vec<Ext>,
    upper_proto: u8,
    upper: Vec<u8>,
}

fn ext_len(proto: u8, raw: &[u8]) -> Option<usize> {
    match proto {
        FRAG => Some(8),
        AH => raw.get(1).map(|&l| (usize::from(l) + 2) * 4),
        HBH | DST | RT => raw.get(1).map(|&l| (usize::from(l) + 1) * 8),
        _ => None,
    }
}

impl Pkt {
    fn parse(buf: &[u8]) -> Option<Pkt> {
        let fixed: [u8; 40] = buf.get(..40)?.try_into().ok()?;
        let mut nh = fixed[6];
        let mut off = 40;
        let mut exts = Vec::new();
        while exts.len() < MAX_EXTS {
            let Some(len) = ext_len(nh, buf.get(off..).unwrap_or(&[])) else { break };
            let Some(raw) = buf.get(off..off + len) else { break };
            let next = raw[0];
            exts.push(Ext { proto: nh, raw: raw.to_vec() });
            nh = next;
            off += len;
        }
        Some(Pkt { fixed, exts, upper_proto: nh, upper: buf.get(off..).unwrap_or(&[]).to_vec() })
    }

    fn src(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.fixed[8..24]);
        a
    }

    fn dst(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.fixed[24..40]);
        a
    }

    /// The packet's bytes; lengths and checksum made right unless told.
    fn emit(&mut self, fix_plen: bool, fix_cksum: bool) -> Vec<u8> {
        let mut out = self.fixed.to_vec();
        let protos: Vec<u8> = self.exts.iter().map(|e| e.proto).chain([self.upper_proto]).collect();
        out[6] = protos[0];
        for (i, e) in self.exts.iter_mut().enumerate() {
            match e.proto {
                FRAG => e.raw.resize(8, 0),
                AH => {
                    let n = e.raw.len().clamp(12, 1024).div_ceil(4) * 4;
                    e.raw.resize(n, 0);
                    e.raw[1] = (n / 4 - 2) as u8;
                }
                _ => {
                    let n = e.raw.len().clamp(8, 2048).div_ceil(8) * 8;
                    e.raw.resize(n, 0);
                    e.raw[1] = (n / 8 - 1) as u8;
                }
            }
            e.raw[0] = protos[i + 1];
            out.extend_from_slice(&e.raw);
        }
        let upper_at = out.len();
        if fix_cksum {
            let at = match self.upper_proto {
                ICMPV6 => Some(2),
                UDP => Some(6),
                TCP => Some(16),
                _ => None,
            };
            if let Some(at) = at.filter(|&at| self.upper.len() >= at + 2) {
                if self.upper_proto == UDP {
                    let l = u16::try_from(self.upper.len()).unwrap_or(0);
                    self.upper[4..6].copy_from_slice(&l.to_be_bytes());
                }
                self.upper[at..at + 2].fill(0);
                let mut c = cksum6(&self.src(), &self.dst(), self.upper_proto, &self.upper);
                if c == 0 && self.upper_proto == UDP {
                    c = 0xffff;
                }
                self.upper[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
        out.extend_from_slice(&self.upper);
        let _ = upper_at;
        if fix_plen {
            let plen = out.len() - 40;
            let jumbo = self.exts.first().is_some_and(|e| e.proto == HBH && find_opt(&e.raw, 0xc2).is_some());
            let v = if plen > 0xffff || jumbo { 0 } else { plen as u16 };
            out[4..6].copy_from_slice(&v.to_be_bytes());
            if let Some(first) = self.exts.first() {
                if let Some(at) = find_opt(&first.raw, 0xc2).filter(|_| first.proto == HBH) {
                    let j = (plen as u32).to_be_bytes();
                    if let Some(d) = out.get_mut(40 + at + 2..40 + at + 6) {
                        d.copy_from_slice(&j);
                    }
                }
            }
        }
        out
    }
}

/// The offset of the first option of type `t` in an options header.
fn find_opt(raw: &[u8], t: u8) -> Option<usize> {
    let mut at = 2;
    while at < raw.len() {
        let ty = raw[at];
        if ty == t {
            return Some(at);
        }
        if ty == 0 {
            at += 1;
        } else {
            at += 2 + usize::from(*raw.get(at + 1)?);
        }
    }
    None
}

fn cksum6(src: &[u8; 16], dst: &[u8; 16], nh: u8, data: &[u8]) -> u16 {
    let mut s: u64 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(src);
    add(dst);
    add(&(data.len() as u32).to_be_bytes());
    add(&[0, 0, 0, nh]);
    add(data);
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

const ADDRS: [[u8; 16]; 9] = [
    [0; 16],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1],
    [0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
];

/// An option for a Hop-by-Hop or Destination Options header.
fn option(r: &mut Rng, hbh: bool) -> Vec<u8> {
    match r.below(8) {
        0 => vec![0],
        1 => {
            let n = r.below(6);
            let mut v = vec![1, n as u8];
            v.resize(2 + n, 0);
            v
        }
        2 if hbh => vec![5, 2, 0, r.pick(&[0u8, 1, 2, 0xff])],
        3 if hbh => {
            // Jumbo Payload, 4n+2 aligned by the PadN in front of it
            let v = r.pick(&[0u32, 65535, 65536, 70000, 0xffff_ffff]);
            let mut o = vec![1, 0];
            o.extend_from_slice(&[0xc2, 4]);
            o.extend_from_slice(&v.to_be_bytes());
            o
        }
        4 => {
            // Home Address (RFC 6275 §6.3)
            let mut o = vec![0xc9, 16];
            o.extend_from_slice(&r.pick(&ADDRS));
            o
        }
        5 => {
            // a truncated option: its length runs past the header
            vec![r.pick(&[0x1eu8, 0x5e, 0x9e, 0xde]), 0xf0]
        }
        _ => {
            // unknown, each of the four actions (RFC 8200 §4.2)
            let t = (r.pick(&[0u8, 0x40, 0x80, 0xc0]) | 0x1e) ^ (r.byte() & 0x20);
            let n = r.below(8);
            let mut o = vec![t, n as u8];
            o.extend(r.bytes(n));
            o
        }
    }
}

fn new_ext(r: &mut Rng) -> Ext {
    match r.below(8) {
        0 => Ext { proto: HBH, raw: vec![0, 0, 1, 4, 0, 0, 0, 0] },
        1 => Ext { proto: DST, raw: vec![0, 0, 1, 4, 0, 0, 0, 0] },
        2 | 3 => {
            let ty = r.pick(&[0u8, 2, 3, 4, 253]);
            let n = r.below(3) + 1;
            let mut raw = vec![0, 0, ty, r.below(n + 2) as u8];
            if ty == 4 {
                raw.extend_from_slice(&[(n - 1) as u8, 0, 0, 0]);
            } else {
                raw.extend_from_slice(&[0; 4]);
            }
            for _ in 0..n {
                raw.extend_from_slice(&r.pick(&ADDRS));
            }
            Ext { proto: RT, raw }
        }
        4 | 5 => {
            let off = r.pick(&[0u16, 0, 1, 8, 0x1fff]);
            let m = u16::from(r.chance(50));
            let v = (off << 3) | m;
            let mut raw = vec![0, 0, (v >> 8) as u8, v as u8];
            raw.extend(r.bytes(4));
            Ext { proto: FRAG, raw }
        }
        _ => {
            let mut raw = vec![0, 4, 0, 0];
            raw.extend(r.bytes(8));
            raw.extend(r.bytes(12));
            Ext { proto: AH, raw }
        }
    }
}

fn nd_option(r: &mut Rng) -> Vec<u8> {
    match r.below(9) {
        0 => [&[1u8, 1][..], &r.bytes(6)].concat(),
        1 => [&[2u8, 1][..], &r.bytes(6)].concat(),
        2 => {
            let mut o = vec![3, 4, r.pick(&[0u8, 64, 128, 200]), r.pick(&[0u8, 0x40, 0x80, 0xc0])];
            o.extend_from_slice(&r.pick(&[0u32, 7200, 0xffff_ffff]).to_be_bytes());
            o.extend_from_slice(&r.pick(&[0u32, 3600, 0xffff_ffff]).to_be_bytes());
            o.extend_from_slice(&[0; 4]);
            o.extend_from_slice(&r.pick(&ADDRS));
            o
        }
        3 => [&[5u8, 1, 0, 0][..], &r.pick(&[0u32, 1280, 1500, 65535]).to_be_bytes()].concat(),
        4 => [&[14u8, 1][..], &r.bytes(6)].concat(),
        5 => vec![r.pick(&[1u8, 2, 3, 5]), 0, 0, 0, 0, 0, 0, 0],
        6 => {
            let mut o = vec![4, 6, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 0, 59, 64];
            o.extend_from_slice(&r.pick(&ADDRS));
            o.extend_from_slice(&r.pick(&ADDRS));
            o
        }
        7 => [&[25u8, 3, 0, 0, 0, 0, 0x0e, 0x10][..], &r.pick(&ADDRS)].concat(),
        _ => {
            let n = r.below(3) + 1;
            let mut o = vec![r.byte(), n as u8];
            o.extend(r.bytes(n * 8 - 2));
            o
        }
    }
}

/// A fresh upper-layer message (ICMPv6 checksums are fixed on emit).
fn new_upper(r: &mut Rng, pkt: &mut Pkt, quote: &[u8]) {
    let ty = r.pick(&[128u8, 129, 135, 136, 133, 134, 137, 130, 131, 132, 143, 1, 2, 3, 4, 255]);
    let mut m = vec![ty, r.pick(&[0u8, 0, 1, 3]), 0, 0];
    let mut hlim = None;
    match ty {
        128 | 129 => { let n = 4 + r.below(16); m.extend(r.bytes(n)) },
        135 => {
            m.extend_from_slice(&[0; 4]);
            m.extend_from_slice(&r.pick(&ADDRS));
            hlim = Some(255);
        }
        136 => {
            m.extend_from_slice(&[r.pick(&[0u8, 0x20, 0x40, 0x60, 0xe0]), 0, 0, 0]);
            m.extend_from_slice(&r.pick(&ADDRS));
            hlim = Some(255);
        }
        133 => {
            m.extend_from_slice(&[0; 4]);
            hlim = Some(255);
        }
        134 => {
            m.extend_from_slice(&[64, r.pick(&[0u8, 0x80, 0x40, 0x08]), 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8]);
            hlim = Some(255);
        }
        137 => {
            m.extend_from_slice(&[0; 4]);
            m.extend_from_slice(&r.pick(&ADDRS));
            m.extend_from_slice(&r.pick(&ADDRS));
            hlim = Some(255);
        }
        130 | 131 | 132 => {
            m.extend_from_slice(&[0x27, 0x10, 0, 0]);
            m.extend_from_slice(&r.pick(&ADDRS));
            if ty == 130 && r.chance(50) {
                m.extend_from_slice(&[2, 125, 0, 1]);
                m.extend_from_slice(&r.pick(&ADDRS));
            }
            hlim = Some(1);
        }
        143 => {
            m.extend_from_slice(&[0, 0, 0, 1, r.pick(&[1u8, 2, 3, 4, 5, 6, 7]), 0, 0, 1]);
            m.extend_from_slice(&r.pick(&ADDRS));
            m.extend_from_slice(&r.pick(&ADDRS));
            hlim = Some(1);
        }
        1..=4 => {
            m.extend_from_slice(&r.pick(&[0u32, 1280, 40, 0xffff_ffff]).to_be_bytes());
            m.extend_from_slice(quote.get(..quote.len().min(1232)).unwrap_or(&[]));
        }
        _ => {
            let n = r.below(16);
            m.extend(r.bytes(n));
        }
    }
    if let Some(h) = hlim.filter(|_| r.chance(90)) {
        pkt.fixed[7] = h;
    }
    pkt.upper_proto = ICMPV6;
    pkt.upper = m;
    match r.below(6) {
        0 => {
            pkt.upper_proto = UDP;
            let mut u = vec![r.byte(), r.byte(), r.pick(&[0u8, 2, 0x80]), r.pick(&[7u8, 53, 9]), 0, 0, 0, 0];
            let n = r.below(24);
            u.extend(r.bytes(n));
            pkt.upper = u;
        }
        1 => {
            pkt.upper_proto = TCP;
            let mut t = vec![0x9c, 0x40, 0, 7];
            t.extend(r.bytes(8));
            t.extend_from_slice(&[0x50, r.pick(&[0x02u8, 0x12, 0x10, 0x04, 0x11, 0x18]), 0xff, 0xff, 0, 0, 0, 0]);
            pkt.upper = t;
        }
        2 if r.chance(30) => {
            pkt.upper_proto = NONXT;
            pkt.upper.clear();
        }
        _ => {}
    }
}

/// libFuzzer's byte mutation on `v` (bounded growth).
fn byte_mutate(v: &mut Vec<u8>, grow: usize) {
    let size = v.len();
    let max = size + grow;
    v.resize(max.max(1), 0);
    let n = libfuzzer_sys::fuzzer_mutate(v, size, max.max(1));
    v.truncate(n);
}

/// Mutates `data[..size]` (at most `max_size` octets) whose IPv6 packet
/// starts at `prefix`: the first `prefix` octets (the target's
/// configuration, a link header) are kept, or now and then byte-mutated.
/// Returns the new size.
pub fn ip6_mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32, prefix: &[u8]) -> usize {
    let size = size.min(data.len());
    let max_size = max_size.min(data.len());
    if plain() {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let mut r = Rng::new(seed);
    if r.chance(20) || max_size < prefix.len() + 48 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let plen = prefix.len();
    let mut head: Vec<u8> = data.get(..plen.min(size)).unwrap_or(&[]).to_vec();
    if head.len() < plen {
        head = prefix.to_vec();
    }
    let body = data.get(plen..size).unwrap_or(&[]);
    let mut pkt = match Pkt::parse(body) {
        Some(p) => p,
        None => {
            let mut fixed = [0u8; 40];
            fixed[0] = 0x60;
            fixed[6] = ICMPV6;
            fixed[7] = 64;
            fixed[8..24].copy_from_slice(&ADDRS[2]);
            fixed[24..40].copy_from_slice(&ADDRS[4]);
            Pkt { fixed, exts: Vec::new(), upper_proto: ICMPV6, upper: vec![128, 0, 0, 0, 0, 1, 0, 1] }
        }
    };
    let mut fix_plen = r.chance(90);
    let fix_cksum = r.chance(92);
    for _ in 0..=r.below(3) {
        match r.below(13) {
            0 | 1 => {
                if pkt.exts.len() < MAX_EXTS {
                    let at = r.below(pkt.exts.len() + 1);
                    let e = new_ext(&mut r);
                    pkt.exts.insert(at, e);
                }
            }
            2 => {
                if !pkt.exts.is_empty() {
                    let at = r.below(pkt.exts.len());
                    pkt.exts.remove(at);
                }
            }
            3 => {
                if !pkt.exts.is_empty() && pkt.exts.len() < MAX_EXTS {
                    let at = r.below(pkt.exts.len());
                    let e = pkt.exts[at].clone();
                    if r.chance(50) {
                        pkt.exts.insert(at, e);
                    } else {
                        let b = r.below(pkt.exts.len());
                        pkt.exts.swap(at, b);
                    }
                }
            }
            4 | 5 => {
                // an option into a Hop-by-Hop or Destination Options header
                let idx: Vec<usize> = (0..pkt.exts.len()).filter(|&i| matches!(pkt.exts[i].proto, HBH | DST)).collect();
                if idx.is_empty() {
                    let proto = if r.chance(50) { HBH } else { DST };
                    pkt.exts.insert(0, Ext { proto, raw: vec![0, 0] });
                } else {
                    let i = r.pick(&idx);
                    let hbh = pkt.exts[i].proto == HBH;
                    let o = option(&mut r, hbh);
                    let e = &mut pkt.exts[i];
                    // drop the trailing padding first, pad again after
                    e.raw.truncate(strip_padding(&e.raw));
                    e.raw.extend_from_slice(&o);
                    pad8(&mut e.raw);
                }
            }
            6 => {
                // fixed-header fields
                match r.below(6) {
                    0 => pkt.fixed[7] = r.pick(&[0u8, 1, 64, 254, 255]),
                    1 => {
                        let a = r.pick(&ADDRS);
                        pkt.fixed[8..24].copy_from_slice(&a);
                    }
                    2 => {
                        let a = r.pick(&ADDRS);
                        pkt.fixed[24..40].copy_from_slice(&a);
                    }
                    3 => {
                        let v = r.pick(&[0u16, 1, 7, 8, 40, 0xffff]);
                        pkt.fixed[4..6].copy_from_slice(&v.to_be_bytes());
                        fix_plen = false;
                    }
                    4 => pkt.fixed[0] = (r.pick(&[6u8, 6, 6, 4, 0]) << 4) | (pkt.fixed[0] & 0x0f),
                    _ => pkt.fixed[1] = r.byte(),
                }
            }
            7 => {
                // Fragment or Routing fields
                if !pkt.exts.is_empty() {
                    let i = r.below(pkt.exts.len());
                    let e = &mut pkt.exts[i];
                    match e.proto {
                        FRAG if e.raw.len() >= 8 => {
                            let off = r.pick(&[0u16, 1, 8, 185, 0x1fff]);
                            let v = (off << 3) | u16::from(r.chance(50));
                            e.raw[2..4].copy_from_slice(&v.to_be_bytes());
                        }
                        RT if e.raw.len() >= 8 => match r.below(3) {
                            0 => e.raw[2] = r.pick(&[0u8, 2, 3, 4, 253, 254]),
                            1 => e.raw[3] = r.pick(&[0u8, 1, 2, 255]),
                            _ => e.raw.extend_from_slice(&r.pick(&ADDRS)),
                        },
                        _ => {
                            let n = e.raw.len().saturating_sub(2);
                            if n > 0 {
                                let at = 2 + r.below(n);
                                e.raw[at] = r.byte();
                            }
                        }
                    }
                }
            }
            8 | 9 => {
                let quote = pkt.emit(true, true);
                new_upper(&mut r, &mut pkt, &quote);
            }
            10 => {
                if pkt.upper_proto == ICMPV6 && pkt.upper.len() >= 8 {
                    let o = nd_option(&mut r);
                    pkt.upper.extend_from_slice(&o);
                }
            }
            11 => byte_mutate(&mut pkt.upper, 32),
            _ => {
                if !pkt.exts.is_empty() {
                    let i = r.below(pkt.exts.len());
                    byte_mutate(&mut pkt.exts[i].raw, 16);
                }
            }
        }
    }
    if r.chance(3) {
        if let Some(b) = head.get_mut(r.below(plen.max(1))) {
            *b = r.byte();
        }
    }
    let out = pkt.emit(fix_plen, fix_cksum);
    let total = plen + out.len();
    if total > max_size || total > data.len() {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    data[..plen].copy_from_slice(&head);
    data[plen..total].copy_from_slice(&out);
    total
}

/// The length of an options header without its trailing Pad1/PadN.
fn strip_padding(raw: &[u8]) -> usize {
    let mut at = 2;
    let mut end = 2;
    while at < raw.len() {
        let ty = raw[at];
        let len = if ty == 0 { 1 } else { 2 + usize::from(*raw.get(at + 1).unwrap_or(&0)) };
        at += len;
        if ty > 1 {
            end = at.min(raw.len());
        }
    }
    end.max(2).min(raw.len())
}

fn pad8(raw: &mut Vec<u8>) {
    let n = (8 - raw.len() % 8) % 8;
    match n {
        0 => {}
        1 => raw.push(0),
        _ => {
            raw.push(1);
            raw.push((n - 2) as u8);
            raw.resize(raw.len() + n - 2, 0);
        }
    }
}

/// An inbound SA as the IPsec targets drive it: `input` (a fresh buffer)
/// and `input_append` (the batches' path, appending to the caller's).
pub trait Inbound {
    fn input(&mut self, packet: &[u8]) -> Result<Vec<u8>, Error>;
    fn input_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(), Error>;
    /// The arena batches' path (`ipsec::batch::input_arena`): the packet
    /// copied into `buf` once, opened in place, its span given.
    fn input_arena(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(usize, usize), Error>;
    /// The counters and the replay window's top, which both paths must
    /// leave alike.
    fn state(&self) -> (SaStats, u64);
}

impl Inbound for EspSa {
    fn input(&mut self, packet: &[u8]) -> Result<Vec<u8>, Error> {
        EspSa::input(self, packet)
    }
    fn input_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(), Error> {
        EspSa::input_append(self, packet, buf)
    }
    fn input_arena(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(usize, usize), Error> {
        let mut spans = Vec::new();
        kame_core::ipsec::batch::input_arena(self, &[packet], 1, buf, &mut spans);
        spans.pop().unwrap_or(Err(Error::new(kame_core::error::Layer::Ipsec, kame_core::error::ErrorKind::Config, 0, "no span")))
    }
    fn state(&self) -> (SaStats, u64) {
        (self.stats.clone(), self.replay.top())
    }
}

impl Inbound for AhSa {
    fn input(&mut self, packet: &[u8]) -> Result<Vec<u8>, Error> {
        AhSa::input(self, packet)
    }
    fn input_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(), Error> {
        AhSa::input_append(self, packet, buf)
    }
    fn input_arena(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<(usize, usize), Error> {
        let mut spans = Vec::new();
        kame_core::ipsec::batch::input_arena(self, &[packet], 1, buf, &mut spans);
        spans.pop().unwrap_or(Err(Error::new(kame_core::error::Layer::Ipsec, kame_core::error::ErrorKind::Config, 0, "no span")))
    }
    fn state(&self) -> (SaStats, u64) {
        (self.stats.clone(), self.replay.top())
    }
}

/// An SA and its twin: `input` on the first, `input_append` on the second
/// (after 7 octets already in the buffer), which must give the same
/// packet or the same error (leaving the buffer as it was), the same
/// counters and the same replay window; and `input_arena` on the third
/// (in place in a buffer that already holds octets), the same again.
pub struct Twin<S: Inbound>(pub S, pub S, pub S);

impl<S: Inbound> Twin<S> {
    pub fn input(&mut self, p: &[u8]) -> Result<Vec<u8>, Error> {
        let a = self.0.input(p);
        let mut buf = vec![0xa5; 7];
        let b = self.1.input_append(p, &mut buf);
        match (&a, b) {
            (Ok(v), Ok(())) => assert_eq!(&buf[7..], v.as_slice()),
            (Err(e), Err(f)) => {
                assert_eq!(e, &f);
                assert_eq!(buf, [0xa5; 7]);
            }
            (a, b) => panic!("input {a:?} but input_append {b:?}"),
        }
        assert_eq!(self.0.state(), self.1.state());
        let mut arena = vec![0x5a; 5];
        let c = self.2.input_arena(p, &mut arena);
        match (&a, c) {
            (Ok(v), Ok((s, e))) => assert_eq!(&arena[s..e], v.as_slice()),
            (Err(e), Err(f)) => {
                assert_eq!(e, &f);
                assert_eq!(arena, [0x5a; 5]);
            }
            (a, c) => panic!("input {a:?} but input_arena {c:?}"),
        }
        assert_eq!(self.0.state(), self.2.state());
        a
    }
}
