//! IPv4 fragment reassembly with memory and time bounds: `ip_reass`
//! (FreeBSD `ip_reass.c`), with Linux's answer to overlaps.
//!
//! Sans-I/O like the IPv6 reassembler (`crate::reass`): every call that can
//! make time pass takes `now` (finite seconds on the caller's clock).
//!
//! Choices, where BSD and Linux differ, each with its counter:
//! - queues keyed by (source, destination, Identification, Protocol) as
//!   RFC 791 says, and a caller zone (interface index);
//! - time limit **30 s** from the first fragment (BSD's IPFRAGTTL of 60
//!   slow ticks and Linux's `ipfrag_time` agree); on expiry a queue whose
//!   first fragment had arrived yields its IP header and first 8 octets for
//!   an ICMP Time Exceeded code 1 (RFC 792, RFC 1122 §3.3.2) —
//!   `ips_fragtimeout` counts the fragments dropped;
//! - overlaps: **Linux's rule** (since 4.19), not BSD's trimming: an exact
//!   duplicate (same offset and length) is dropped alone; any other overlap
//!   abandons the datagram, and its later fragments are dropped until the
//!   queue's deadline (`ips_fragoverlap`, of `ips_fragdropped`). BSD trims
//!   overlapping data, which lets a later fragment rewrite a header an
//!   earlier one carried;
//! - a fragment with MF set whose data is empty or not a multiple of 8, or
//!   last fragments that disagree on the end: `ips_badfrags`; data beyond
//!   65535 octets: `ips_toolong` (both of `ips_fragdropped`);
//! - ECN (RFC 3168 §5.3, as Linux `ip_frag_ecn`): Not-ECT mixed with
//!   ECT/CE drops the datagram; CE on any fragment sets CE on the result;
//! - bounds: `max_queues` (`net.inet.ip.maxfragpackets`; 0 = no
//!   reassembly at all, as BSD), `max_frags_per_queue`
//!   (`net.inet.ip.maxfragsperpacket`, BSD's 16), `max_bytes` (4 MiB,
//!   Linux's `ipfrag_high_thresh`). Past a cap the oldest queue goes first;
//!   a queue past the per-queue cap goes whole: `ips_fragoverflow`.
//!
//! Bytes held (fragment data, the first fragment's header and the octets
//! kept for a Time Exceeded) never exceed `max_bytes` after a call. Every
//! fragment counted in `ips_fragments` ends up in exactly one of: a
//! reassembled datagram, still held, `ips_fragdropped`, `ips_fragtimeout`,
//! `ips_fragoverflow`.

use std::collections::{BTreeMap, HashMap};

use crate::cksum;
use crate::error::{Error, ErrorKind, Layer, Result};
use crate::inet::ip::{ip_validate, IP_MAXPACKET};
use crate::tick::{check_now, check_seconds, Tick};
use crate::wire::ipv4::{FLAG_DF, FLAG_MF};

/// BSD's IPFRAGTTL (60 ticks of 500 ms), Linux's ipfrag_time.
pub const DEFAULT_TIMEOUT: f64 = 30.0;
/// Linux's ipfrag_high_thresh.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// net.inet.ip.maxfragpackets (kame's default; FreeBSD scales it with
/// nmbclusters).
pub const DEFAULT_MAX_QUEUES: usize = 1024;
/// FreeBSD's net.inet.ip.maxfragsperpacket.
pub const DEFAULT_MAX_FRAGS_PER_QUEUE: usize = 16;

/// The reassembly counters (`struct ipstat` names; `ips_fragoverflow` and
/// `ips_fragoverlap` are kame's, `ips_badfrags` NetBSD's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpReassStats {
    pub ips_fragments: u64,
    pub ips_fragdropped: u64,
    pub ips_fragtimeout: u64,
    pub ips_fragoverflow: u64,
    pub ips_reassembled: u64,
    /// Of `ips_fragdropped`: overlaps and fragments of an abandoned datagram.
    pub ips_fragoverlap: u64,
    /// Of `ips_fragdropped`: bad lengths, disagreeing ends, ECN mixes.
    pub ips_badfrags: u64,
    /// Of `ips_fragdropped`: data beyond 65535 octets.
    pub ips_toolong: u64,
}

impl IpReassStats {
    pub fn items(&self) -> [(&'static str, u64); 8] {
        [
            ("ips_fragments", self.ips_fragments),
            ("ips_fragdropped", self.ips_fragdropped),
            ("ips_fragtimeout", self.ips_fragtimeout),
            ("ips_fragoverflow", self.ips_fragoverflow),
            ("ips_reassembled", self.ips_reassembled),
            ("ips_fragoverlap", self.ips_fragoverlap),
            ("ips_badfrags", self.ips_badfrags),
            ("ips_toolong", self.ips_toolong),
        ]
    }
}

/// What became of one datagram handed to [`IpReassembler::input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a fragment: pass it on.
    NotFragment,
    /// Held.
    Incomplete,
    /// The whole datagram (the first fragment's header, Total Length and
    /// checksum fixed, MF and offset cleared).
    Reassembled(Vec<u8>),
    /// Dropped; the most specific counter incremented.
    Dropped(&'static str),
}

/// A queue that timed out after its first fragment arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The first fragment's IP header and first 8 octets of data.
    pub invoking: Vec<u8>,
    pub zone: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: [u8; 4],
    dst: [u8; 4],
    ident: u16,
    proto: u8,
    zone: u32,
}

#[derive(Debug)]
struct Queue {
    seq: u64,
    deadline: Tick,
    /// (offset, data), sorted by offset, never overlapping.
    pieces: Vec<(usize, Vec<u8>)>,
    have: usize,
    end: Option<usize>,
    header: Option<Vec<u8>>,
    invoking: Option<Vec<u8>>,
    /// Bit per ECN codepoint seen.
    ecn: u8,
    bytes: usize,
    poisoned: bool,
}

/// Bounded IPv4 reassembly; see the module docs.
#[derive(Debug)]
pub struct IpReassembler {
    timeout: f64,
    max_bytes: usize,
    max_queues: usize,
    max_frags_per_queue: usize,
    queues: HashMap<Key, Queue>,
    by_age: BTreeMap<u64, Key>,
    by_deadline: BTreeMap<(Tick, u64), Key>,
    bytes: usize,
    seq: u64,
    stats: IpReassStats,
}

impl Default for IpReassembler {
    fn default() -> Self {
        IpReassembler::new()
    }
}

impl IpReassembler {
    pub fn new() -> Self {
        IpReassembler {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            max_queues: DEFAULT_MAX_QUEUES,
            max_frags_per_queue: DEFAULT_MAX_FRAGS_PER_QUEUE,
            queues: HashMap::new(),
            by_age: BTreeMap::new(),
            by_deadline: BTreeMap::new(),
            bytes: 0,
            seq: 0,
            stats: IpReassStats::default(),
        }
    }

    pub fn with_limits(timeout: f64, max_bytes: usize, max_queues: usize, max_frags_per_queue: usize) -> Result<Self> {
        let mut r = IpReassembler::new();
        r.set_timeout(timeout)?;
        r.max_bytes = max_bytes;
        r.max_queues = max_queues;
        r.max_frags_per_queue = max_frags_per_queue;
        Ok(r)
    }

    pub fn stats(&self) -> IpReassStats {
        self.stats
    }
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }
    pub fn frags_held(&self) -> usize {
        self.queues.values().map(|q| q.pieces.len()).sum()
    }
    pub fn len(&self) -> usize {
        self.queues.len()
    }
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
    pub fn timeout(&self) -> f64 {
        self.timeout
    }
    /// Applies to queues created from now on.
    pub fn set_timeout(&mut self, t: f64) -> Result<()> {
        self.timeout = check_seconds(t, Layer::Reass)?;
        Ok(())
    }
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
    pub fn max_queues(&self) -> usize {
        self.max_queues
    }
    pub fn max_frags_per_queue(&self) -> usize {
        self.max_frags_per_queue
    }
    /// Lowering a cap evicts the oldest queues at once.
    pub fn set_max_bytes(&mut self, v: usize) {
        self.max_bytes = v;
        self.enforce(None);
    }
    pub fn set_max_queues(&mut self, v: usize) {
        self.max_queues = v;
        self.enforce(None);
    }
    pub fn set_max_frags_per_queue(&mut self, v: usize) {
        self.max_frags_per_queue = v;
        let over: Vec<Key> = self
            .queues
            .iter()
            .filter(|(_, q)| q.pieces.len() > v)
            .map(|(k, _)| *k)
            .collect();
        for k in over {
            self.remove(&k, Counter::Overflow);
        }
    }

    /// When [`IpReassembler::expire`] must next be called.
    pub fn next_deadline(&self) -> Option<f64> {
        self.by_deadline.keys().next().map(|(t, _)| t.0)
    }

    /// Drop the queues due at `now`; the Time Exceeded answers to send.
    pub fn expire(&mut self, now: f64) -> Result<Vec<Expired>> {
        let now = check_now(now, Layer::Reass)?;
        let mut out = Vec::new();
        while let Some((&(t, _), &k)) = self.by_deadline.iter().next() {
            if t > now {
                break;
            }
            if let Some(q) = self.queues.get(&k) {
                if !q.poisoned {
                    if let Some(inv) = &q.invoking {
                        out.push(Expired { invoking: inv.clone(), zone: k.zone });
                    }
                }
            }
            self.remove(&k, Counter::Timeout);
        }
        Ok(out)
    }

    fn remove(&mut self, k: &Key, why: Counter) -> usize {
        let Some(q) = self.queues.remove(k) else {
            return 0;
        };
        self.by_age.remove(&q.seq);
        self.by_deadline.remove(&(q.deadline, q.seq));
        self.bytes = self.bytes.saturating_sub(q.bytes);
        let n = q.pieces.len() as u64;
        match why {
            Counter::Timeout => self.stats.ips_fragtimeout += n,
            Counter::Overflow => self.stats.ips_fragoverflow += n,
            Counter::Overlap => {
                self.stats.ips_fragdropped += n;
                self.stats.ips_fragoverlap += n;
            }
            Counter::Bad => {
                self.stats.ips_fragdropped += n;
                self.stats.ips_badfrags += n;
            }
            Counter::Done => {}
        }
        q.pieces.len()
    }

    /// Empty a queue but keep it until its deadline, so the datagram's
    /// later fragments are dropped too.
    fn poison(&mut self, k: &Key, why: Counter) {
        let Some(q) = self.queues.get_mut(k) else {
            return;
        };
        let n = q.pieces.len() as u64;
        self.bytes = self.bytes.saturating_sub(q.bytes);
        q.pieces.clear();
        q.header = None;
        q.invoking = None;
        q.bytes = 0;
        q.have = 0;
        q.poisoned = true;
        self.stats.ips_fragdropped += n;
        match why {
            Counter::Bad => self.stats.ips_badfrags += n,
            _ => self.stats.ips_fragoverlap += n,
        }
    }

    /// Evict oldest queues (never `keep`, unless it is the last) until the
    /// caps hold.
    fn enforce(&mut self, keep: Option<Key>) {
        while self.queues.len() > self.max_queues || self.bytes > self.max_bytes {
            let victim = self
                .by_age
                .values()
                .find(|k| Some(**k) != keep)
                .copied()
                .or(keep);
            let Some(v) = victim else {
                break;
            };
            self.remove(&v, Counter::Overflow);
        }
    }

    fn drop_one(&mut self, c: Counter) -> Outcome {
        self.stats.ips_fragdropped += 1;
        match c {
            Counter::Overlap => {
                self.stats.ips_fragoverlap += 1;
                Outcome::Dropped("ips_fragoverlap")
            }
            Counter::Bad => {
                self.stats.ips_badfrags += 1;
                Outcome::Dropped("ips_badfrags")
            }
            _ => Outcome::Dropped("ips_fragdropped"),
        }
    }

    /// One IPv4 datagram (starting at its header; bytes past Total Length
    /// ignored) received on `zone` at `now`.
    pub fn input(&mut self, packet: &[u8], zone: u32, now: f64) -> Result<Outcome> {
        let now = check_now(now, Layer::Reass)?;
        let v = ip_validate(packet, false)?;
        if !v.is_fragment() {
            return Ok(Outcome::NotFragment);
        }
        self.stats.ips_fragments += 1;
        let dgram = packet.get(..v.total_len).unwrap_or(packet);
        let hl = v.header_len;
        let data = dgram.get(hl..).unwrap_or(&[]);
        let (off, len) = (v.frag_off, data.len());
        let more = v.flags & FLAG_MF != 0;
        if more && (len == 0 || len % 8 != 0) {
            return Ok(self.drop_one(Counter::Bad));
        }
        if hl + off + len > IP_MAXPACKET {
            self.stats.ips_fragdropped += 1;
            self.stats.ips_toolong += 1;
            return Ok(Outcome::Dropped("ips_toolong"));
        }
        if self.max_queues == 0 || self.max_frags_per_queue == 0 {
            return Ok(self.drop_one(Counter::Done));
        }
        let k = Key {
            src: v.src.octets(),
            dst: v.dst.octets(),
            ident: v.ident,
            proto: v.protocol,
            zone,
        };
        if !self.queues.contains_key(&k) {
            self.seq += 1;
            let seq = self.seq;
            let deadline = Tick(now.0 + self.timeout);
            self.queues.insert(k, Queue {
                seq,
                deadline,
                pieces: Vec::new(),
                have: 0,
                end: None,
                header: None,
                invoking: None,
                ecn: 0,
                bytes: 0,
                poisoned: false,
            });
            self.by_age.insert(seq, k);
            self.by_deadline.insert((deadline, seq), k);
            self.enforce(Some(k));
            if !self.queues.contains_key(&k) {
                self.stats.ips_fragoverflow += 1;
                return Ok(Outcome::Dropped("ips_fragoverflow"));
            }
        }
        let max_frags = self.max_frags_per_queue;
        let Some(q) = self.queues.get_mut(&k) else {
            return Ok(self.drop_one(Counter::Done));
        };
        if q.poisoned {
            return Ok(self.drop_one(Counter::Overlap));
        }
        // ECN (RFC 3168 §5.3): Not-ECT with ECT(0)/ECT(1)/CE is a mix.
        q.ecn |= 1 << (v.tos & 3);
        if q.ecn & 1 != 0 && q.ecn & 0b1110 != 0 {
            self.poison(&k, Counter::Bad);
            return Ok(self.drop_one(Counter::Bad));
        }
        if q.pieces.len() >= max_frags {
            self.remove(&k, Counter::Overflow);
            self.stats.ips_fragoverflow += 1;
            return Ok(Outcome::Dropped("ips_fragoverflow"));
        }
        let this_end = off + len;
        if !more {
            if q.end.is_some_and(|e| e != this_end) || q.pieces.last().is_some_and(|(o, d)| o + d.len() > this_end) {
                self.poison(&k, Counter::Bad);
                return Ok(self.drop_one(Counter::Bad));
            }
            q.end = Some(this_end);
        } else if q.end.is_some_and(|e| this_end > e) {
            self.poison(&k, Counter::Bad);
            return Ok(self.drop_one(Counter::Bad));
        }
        let at = q.pieces.partition_point(|(o, _)| *o < off);
        if let Some((o, d)) = q.pieces.get(at) {
            if *o == off && d.len() == len {
                // An exact duplicate: dropped alone (Linux IPFRAG_DUP).
                return Ok(self.drop_one(Counter::Done));
            }
            if *o < this_end {
                self.poison(&k, Counter::Overlap);
                return Ok(self.drop_one(Counter::Overlap));
            }
        }
        if let Some((o, d)) = at.checked_sub(1).and_then(|i| q.pieces.get(i)) {
            if o + d.len() > off {
                self.poison(&k, Counter::Overlap);
                return Ok(self.drop_one(Counter::Overlap));
            }
        }
        q.pieces.insert(at, (off, data.to_vec()));
        q.have += len;
        let mut added = len;
        if off == 0 {
            let h = dgram.get(..hl).unwrap_or(&[]).to_vec();
            let inv = dgram.get(..(hl + 8).min(dgram.len())).unwrap_or(&[]).to_vec();
            added += h.len() + inv.len();
            q.header = Some(h);
            q.invoking = Some(inv);
        }
        q.bytes += added;
        self.bytes += added;
        let complete = q.end.is_some_and(|e| e == q.have) && q.header.is_some();
        if complete {
            let ce = q.ecn & 0b1000 != 0;
            let mut out = q.header.clone().unwrap_or_default();
            let total = out.len() + q.have;
            for (_, d) in &q.pieces {
                out.extend_from_slice(d);
            }
            self.remove(&k, Counter::Done);
            self.stats.ips_reassembled += 1;
            if total > IP_MAXPACKET {
                return Err(Error::new(Layer::Reass, ErrorKind::Limit { limit: IP_MAXPACKET as u64 }, 2,
                                      "reassembled IPv4 datagram beyond 65535 octets"));
            }
            finish(&mut out, total, ce);
            return Ok(Outcome::Reassembled(out));
        }
        self.enforce(Some(k));
        if !self.queues.contains_key(&k) {
            return Ok(Outcome::Dropped("ips_fragoverflow"));
        }
        Ok(Outcome::Incomplete)
    }
}

/// The reassembled header: Total Length, no MF or offset (DF kept), CE
/// when a fragment carried it, the checksum.
fn finish(out: &mut [u8], total: usize, ce: bool) {
    let hl = usize::from(out.first().copied().unwrap_or(0x45) & 0x0f) * 4;
    if let Some(x) = out.get_mut(2..4) {
        x.copy_from_slice(&(total as u16).to_be_bytes());
    }
    let df = out.get(6).copied().unwrap_or(0) & (FLAG_DF << 5);
    if let Some(x) = out.get_mut(6..8) {
        x.copy_from_slice(&[df, 0]);
    }
    if ce {
        if let Some(t) = out.get_mut(1) {
            *t |= 3;
        }
    }
    if let Some(h) = out.get_mut(..hl) {
        if let Some(c) = h.get_mut(10..12) {
            c.copy_from_slice(&[0, 0]);
        }
        let c = cksum::ip_cksum(h);
        if let Some(f) = h.get_mut(10..12) {
            f.copy_from_slice(&c.to_be_bytes());
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Counter {
    Timeout,
    Overflow,
    Overlap,
    Bad,
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inet::ip::{ip_build, ip_fragment, ip_validate, Header};
    use std::net::Ipv4Addr;

    fn dgram(ident: u16, n: usize, tos: u8) -> Vec<u8> {
        let payload: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
        ip_build(
            &Header {
                src: Ipv4Addr::new(192, 0, 2, 1),
                dst: Ipv4Addr::new(192, 0, 2, 2),
                protocol: 17,
                ttl: 64,
                tos,
                ident,
                df: false,
                options: &[],
            },
            &payload,
        )
        .unwrap()
    }

    fn invariant(r: &IpReassembler, consumed: u64) {
        let s = r.stats();
        assert_eq!(
            s.ips_fragments,
            consumed + r.frags_held() as u64 + s.ips_fragdropped + s.ips_fragtimeout + s.ips_fragoverflow
        );
        assert!(r.bytes_held() <= r.max_bytes());
    }

    #[test]
    fn any_order_reassembles() {
        let p = dgram(1, 4000, 0);
        let frags = ip_fragment(&p, 1500).unwrap();
        assert_eq!(frags.len(), 3);
        let mut r = IpReassembler::new();
        assert_eq!(r.input(&frags[2], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(r.input(&frags[0], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(r.input(&frags[1], 0, 0.0).unwrap(), Outcome::Reassembled(p.clone()));
        assert_eq!(r.len(), 0);
        assert_eq!(r.bytes_held(), 0);
        invariant(&r, 3);
        assert_eq!(r.input(&p, 0, 0.0).unwrap(), Outcome::NotFragment);
    }

    #[test]
    fn timeout_answers_only_with_first_fragment() {
        let frags = ip_fragment(&dgram(2, 3000, 0), 1500).unwrap();
        let mut r = IpReassembler::new();
        r.input(&frags[0], 7, 0.0).unwrap();
        let other = ip_fragment(&dgram(3, 3000, 0), 1500).unwrap();
        r.input(&other[1], 7, 1.0).unwrap();
        assert_eq!(r.next_deadline(), Some(30.0));
        assert!(r.expire(29.9).unwrap().is_empty());
        let ex = r.expire(31.0).unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].zone, 7);
        assert_eq!(ex[0].invoking, frags[0][..28].to_vec());
        assert_eq!(r.stats().ips_fragtimeout, 2);
        assert_eq!(r.bytes_held(), 0);
        invariant(&r, 0);
    }

    #[test]
    fn overlap_poisons_duplicate_does_not() {
        let p = dgram(4, 3000, 0);
        let frags = ip_fragment(&p, 1500).unwrap();
        let mut r = IpReassembler::new();
        r.input(&frags[0], 0, 0.0).unwrap();
        assert_eq!(r.input(&frags[0], 0, 0.0).unwrap(), Outcome::Dropped("ips_fragdropped"));
        // a fragment overlapping the first one's tail
        let mut ov = frags[1].clone();
        let v = ip_validate(&ov, true).unwrap();
        let fo = ((v.frag_off - 8) / 8) as u16 | 0x2000;
        ov[6..8].copy_from_slice(&fo.to_be_bytes());
        assert_eq!(r.input(&ov, 0, 0.0).unwrap(), Outcome::Dropped("ips_fragoverlap"));
        assert_eq!(r.input(&frags[1], 0, 0.0).unwrap(), Outcome::Dropped("ips_fragoverlap"));
        assert_eq!(r.input(&frags[2], 0, 0.0).unwrap(), Outcome::Dropped("ips_fragoverlap"));
        assert_eq!(r.bytes_held(), 0);
        invariant(&r, 0);
    }

    #[test]
    fn caps_hold() {
        let mut r = IpReassembler::with_limits(30.0, 4000, 2, 16).unwrap();
        for id in 0..5u16 {
            let f = ip_fragment(&dgram(id, 3000, 0), 1500).unwrap();
            r.input(&f[0], 0, 0.0).unwrap();
            assert!(r.len() <= 2 && r.bytes_held() <= 4000);
        }
        assert!(r.stats().ips_fragoverflow >= 3);
        invariant(&r, 0);
        let mut r = IpReassembler::with_limits(30.0, 1 << 20, 8, 2).unwrap();
        let f = ip_fragment(&dgram(9, 4000, 0), 1000).unwrap();
        r.input(&f[0], 0, 0.0).unwrap();
        r.input(&f[1], 0, 0.0).unwrap();
        assert_eq!(r.input(&f[2], 0, 0.0).unwrap(), Outcome::Dropped("ips_fragoverflow"));
        invariant(&r, 0);
        let mut off = IpReassembler::with_limits(30.0, 1 << 20, 0, 16).unwrap();
        assert_eq!(off.input(&f[0], 0, 0.0).unwrap(), Outcome::Dropped("ips_fragdropped"));
    }

    #[test]
    fn bad_lengths_and_ecn() {
        let f = ip_fragment(&dgram(5, 3000, 0), 1500).unwrap();
        let mut odd = f[0][..f[0].len() - 3].to_vec();
        let tl = odd.len() as u16;
        odd[2..4].copy_from_slice(&tl.to_be_bytes());
        let mut r = IpReassembler::new();
        assert_eq!(r.input(&odd, 0, 0.0).unwrap(), Outcome::Dropped("ips_badfrags"));
        let mut far = f[1].clone();
        far[6..8].copy_from_slice(&(0x1fffu16).to_be_bytes());
        assert_eq!(r.input(&far, 0, 0.0).unwrap(), Outcome::Dropped("ips_toolong"));
        let ect = ip_fragment(&dgram(6, 3000, 2), 1500).unwrap();
        let not = ip_fragment(&dgram(6, 3000, 0), 1500).unwrap();
        r.input(&ect[0], 0, 0.0).unwrap();
        assert_eq!(r.input(&not[1], 0, 0.0).unwrap(), Outcome::Dropped("ips_badfrags"));
        let ce = ip_fragment(&dgram(7, 3000, 3), 1500).unwrap();
        r.input(&ect[0], 1, 0.0).unwrap();
        let mut got = None;
        for x in [&ce[1], &ce[2]] {
            let mut y = x.clone();
            y[4..6].copy_from_slice(&6u16.to_be_bytes());
            let h = &mut y[..20];
            h[10] = 0;
            h[11] = 0;
            let c = cksum::ip_cksum(h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            if let Outcome::Reassembled(p) = r.input(&y, 1, 0.0).unwrap() {
                got = Some(p);
            }
        }
        let p = got.unwrap();
        assert_eq!(p[1] & 3, 3);
        assert!(ip_validate(&p, true).is_ok());
    }
}
