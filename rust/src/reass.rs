//! IPv6 fragment reassembly with memory and time bounds: the input half of
//! KAME's `frag6.c`, rebuilt to today's RFCs.
//!
//! Sans-I/O: the [`Reassembler`] never reads a clock. Every call that can
//! make time pass takes `now`, **seconds as an `f64`** on any monotonic
//! clock the caller likes (the same `now` the Python node passes around);
//! it must be finite. Deadlines are `now + timeout` of the fragment that
//! created the queue (not refreshed by later fragments).
//!
//! Rules implemented, each with the counter (named after BSD's `ip6stat`)
//! that says what happened:
//! - queues keyed by (source, destination, Identification, zone), the zone
//!   being an opaque `u32` the caller passes (interface index);
//! - reassembly time limit 60 s (RFC 8200 §4.5, settable); on expiry a queue
//!   whose first fragment (offset 0) had arrived yields an ICMPv6 Time
//!   Exceeded code 1 to send ([`Expired`]) — `ip6s_fragtimeout` counts the
//!   fragments dropped;
//! - overlapping fragments (RFC 5722, RFC 8200 §4.5) abandon the datagram:
//!   every fragment held is dropped, and every later fragment of it is
//!   dropped too until the queue's deadline (a "poisoned" queue holding no
//!   bytes). Exact duplicates are overlaps too, by default, as RFC 5722
//!   says; `set_ignore_exact_duplicates(true)` takes RFC 8200's option to
//!   drop only the duplicate (`ip6s_fragdup`);
//! - fragments whose ends disagree (a second, different last fragment; data
//!   beyond the end) are treated like overlaps (`ip6s_fragbadlen`);
//! - atomic fragments (offset 0, M = 0) are processed in isolation, never
//!   merged with a queue (RFC 6946, RFC 8200 §4.5) — `ip6s_atomicfrags`;
//! - a first fragment without the whole header chain through the
//!   upper-layer header is dropped with Parameter Problem code 3, pointer 0
//!   (RFC 7112 §5) — `ip6s_fragincomplete`;
//! - a non-final fragment whose fragmentable length is zero or not a
//!   multiple of 8 octets: Parameter Problem code 0 pointing to the Payload
//!   Length field (RFC 8200 §4.5; zero as in FreeBSD) — `ip6s_fragbadlen`;
//! - a fragment that would make the reassembled payload exceed 65535
//!   octets: Parameter Problem code 0 pointing to the Fragment Offset field
//!   (RFC 8200 §4.5) — `ip6s_fragbadlen`;
//! - ECN (RFC 3168 §5.3): a datagram mixing Not-ECT with ECT/CE fragments
//!   is dropped (`ip6s_fragecn`); CE on any fragment sets CE on the result;
//! - bounds: bytes held (`max_bytes`, default 4 MiB, Linux's
//!   ip6frag_high_thresh), number of queues (`max_queues`, default 1024,
//!   KAME's ip6_maxfragpackets at nmbclusters/4), fragments per queue
//!   (`max_frags_per_queue`, default 64, FreeBSD's
//!   ip6_maxfragsperpacket). When a cap is hit the OLDEST queue is evicted
//!   first; a queue that exceeds the per-queue cap is dropped whole. All of
//!   these are `ip6s_fragoverflow`.
//!
//! "Bytes held" counts the octets the reassembler stores: fragment data,
//! the first fragment's unfragmentable part and Fragment header, and the
//! invoking packets of Time Exceeded answers not yet collected by
//! [`Reassembler::expire`]. It never exceeds `max_bytes` after any call.
//!
//! Every fragment that is counted in `ip6s_fragments` ends up exactly once
//! in a reassembled packet, an atomic one, still held, or one of
//! `ip6s_fragdropped`, `ip6s_fragtimeout`, `ip6s_fragoverflow`. The detail
//! counters (`ip6s_fragoverlap`, `ip6s_fragbadlen`, `ip6s_fragincomplete`,
//! `ip6s_fragecn`, `ip6s_fragdup`) are subsets of `ip6s_fragdropped`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::error::{Error, ErrorKind, Icmp6Answer, Layer, Result};
use crate::frag6::{ipv6_len, FRAG_HDR_LEN, HDRNESTLIMIT, IPV6_HDR_LEN, IPV6_MAXPACKET, IPV6_MMTU};
use crate::wire::{exthdr, proto};

/// RFC 8200 §4.5: 60 seconds.
pub const DEFAULT_TIMEOUT: f64 = 60.0;
/// Linux's ip6frag_high_thresh.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// KAME's ip6_maxfragpackets (nmbclusters / 4 with 4096 clusters).
pub const DEFAULT_MAX_QUEUES: usize = 1024;
/// FreeBSD's ip6_maxfragsperpacket.
pub const DEFAULT_MAX_FRAGS_PER_QUEUE: usize = 64;
/// The most of an invoking packet an ICMPv6 error can carry without
/// exceeding the minimum MTU (RFC 4443 §2.4 (c)): 1280 - 40 - 8.
pub const ICMP6_INVOKING_MAX: usize = IPV6_MMTU - IPV6_HDR_LEN - 8;

/// The reassembly counters, named after BSD's `struct ip6stat` (the first
/// five) plus named extras.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frag6Stats {
    /// Fragments received (including atomic fragments).
    pub ip6s_fragments: u64,
    /// Fragments dropped (overlap, bad length, incomplete chain, ECN, dup).
    pub ip6s_fragdropped: u64,
    /// Fragments dropped because their queue timed out.
    pub ip6s_fragtimeout: u64,
    /// Fragments dropped because a cap was hit (bytes, queues, per queue).
    pub ip6s_fragoverflow: u64,
    /// Datagrams reassembled.
    pub ip6s_reassembled: u64,
    /// Atomic fragments (RFC 6946) passed on unmerged.
    pub ip6s_atomicfrags: u64,
    /// Of `ip6s_fragdropped`: overlapping fragments, and fragments of a
    /// datagram abandoned for overlap (RFC 5722).
    pub ip6s_fragoverlap: u64,
    /// Of `ip6s_fragdropped`: length not a multiple of 8, beyond 65535, or
    /// ends that disagree.
    pub ip6s_fragbadlen: u64,
    /// Of `ip6s_fragdropped`: first fragment without the whole header chain
    /// (RFC 7112).
    pub ip6s_fragincomplete: u64,
    /// Of `ip6s_fragdropped`: Not-ECT mixed with ECT/CE (RFC 3168 §5.3).
    pub ip6s_fragecn: u64,
    /// Of `ip6s_fragdropped`: exact duplicates ignored (only with
    /// `ignore_exact_duplicates`).
    pub ip6s_fragdup: u64,
}

impl Frag6Stats {
    /// Every counter with its name, in a fixed order.
    pub fn items(&self) -> [(&'static str, u64); 11] {
        [
            ("ip6s_fragments", self.ip6s_fragments),
            ("ip6s_fragdropped", self.ip6s_fragdropped),
            ("ip6s_fragtimeout", self.ip6s_fragtimeout),
            ("ip6s_fragoverflow", self.ip6s_fragoverflow),
            ("ip6s_reassembled", self.ip6s_reassembled),
            ("ip6s_atomicfrags", self.ip6s_atomicfrags),
            ("ip6s_fragoverlap", self.ip6s_fragoverlap),
            ("ip6s_fragbadlen", self.ip6s_fragbadlen),
            ("ip6s_fragincomplete", self.ip6s_fragincomplete),
            ("ip6s_fragecn", self.ip6s_fragecn),
            ("ip6s_fragdup", self.ip6s_fragdup),
        ]
    }
}

/// What became of one fragment handed to [`Reassembler::input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Only from [`Reassembler::input_packet`]: the frame has no Fragment
    /// header; pass it on unchanged.
    NotFragment,
    /// Held; the datagram is not complete yet.
    Incomplete,
    /// The whole datagram: the first fragment's unfragmentable part with
    /// the Fragment header removed, its Next Header restored, Payload
    /// Length fixed, then the fragmentable part. Also the result for an
    /// atomic fragment.
    Reassembled(Vec<u8>),
    /// Dropped silently; the name of the most specific counter incremented.
    Dropped(&'static str),
    /// Dropped, and this ICMPv6 error must be sent back with the fragment
    /// as the invoking packet; `counter` as in `Dropped`.
    Answer {
        icmp: Icmp6Answer,
        counter: &'static str,
    },
}

/// A Time Exceeded to send for a queue that timed out after its first
/// fragment arrived (RFC 8200 §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// ICMPv6 Time Exceeded, code 1.
    pub icmp: Icmp6Answer,
    /// The first fragment as received (payload-length trimmed), cut to
    /// [`ICMP6_INVOKING_MAX`] octets (RFC 4443 §2.4 (c)).
    pub invoking: Vec<u8>,
    /// The zone the caller gave with the fragments.
    pub zone: u32,
    deadline: Tick,
}

/// An `f64` with a total order, for the deadline index.
#[derive(Debug, Clone, Copy)]
struct Tick(f64);
impl PartialEq for Tick {
    fn eq(&self, o: &Self) -> bool {
        self.0.total_cmp(&o.0).is_eq()
    }
}
impl Eq for Tick {}
impl PartialOrd for Tick {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Tick {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: [u8; 16],
    dst: [u8; 16],
    ident: u32,
    zone: u32,
}

#[derive(Debug)]
struct Piece {
    off: usize,
    data: Vec<u8>,
    /// M = 0 on this fragment.
    last: bool,
}

#[derive(Debug)]
struct First {
    /// Unfragmentable part as received (Next Header still 44).
    unfrag: Vec<u8>,
    nh_offset: usize,
    fraghdr: [u8; FRAG_HDR_LEN],
}

#[derive(Debug)]
struct Queue {
    seq: u64,
    deadline: Tick,
    pieces: Vec<Piece>,
    have: usize,
    end: Option<usize>,
    max_end: usize,
    first: Option<First>,
    ecn: u8,
    bytes: usize,
    poisoned: bool,
}

impl Queue {
    fn nfrag(&self) -> u64 {
        self.pieces.len() as u64
    }

    /// The first fragment as received, cut to `ICMP6_INVOKING_MAX`.
    fn first_fragment(&self) -> Option<Vec<u8>> {
        let f = self.first.as_ref()?;
        let p0 = self.pieces.first().filter(|p| p.off == 0)?;
        let mut v = Vec::with_capacity(ICMP6_INVOKING_MAX);
        v.extend_from_slice(&f.unfrag);
        v.extend_from_slice(&f.fraghdr);
        v.extend_from_slice(&p0.data);
        v.truncate(ICMP6_INVOKING_MAX);
        Some(v)
    }
}

/// The reassembly state: a set of queues with time and memory bounds.
#[derive(Debug)]
pub struct Reassembler {
    timeout: f64,
    max_bytes: usize,
    max_queues: usize,
    max_frags_per_queue: usize,
    ignore_exact_duplicates: bool,
    queues: HashMap<FragKey, Queue>,
    by_age: BTreeMap<u64, FragKey>,
    by_deadline: BTreeMap<(Tick, u64), FragKey>,
    pending: VecDeque<Expired>,
    pending_bytes: usize,
    bytes: usize,
    seq: u64,
    stats: Frag6Stats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new()
    }
}

fn config(reason: &'static str) -> Error {
    Error::new(Layer::Reass, ErrorKind::Config, 0, reason)
}

fn check_now(now: f64) -> Result<Tick> {
    if now.is_finite() {
        Ok(Tick(now))
    } else {
        Err(config("now must be a finite number of seconds"))
    }
}

/// Where the Fragment header of a received frame is.
struct FragLoc {
    frag_off: usize,
    nh_offset: usize,
    jumbo: bool,
}

/// Find the Fragment header of a received frame: the IPv6 header, then
/// Hop-by-Hop (first only), Destination Options, Routing and AH headers, at
/// most `HDRNESTLIMIT`, stopping AT the Fragment header, where the chain
/// walker (`wire::exthdr::walk`) stops too for a non-first fragment (RFC
/// 8200 §4.5: its bytes after the Fragment header are data, not headers).
/// AH belongs after the Fragment header (RFC 8200 §4.1); one before it is
/// stepped over like the walker does, so that every Fragment header the
/// walker reports is found here. `None` if another header comes first.
/// Header lengths from `exthdr::header_len`; errors for truncated headers
/// and too long a chain. No panics on any input.
fn find_fragment_header(packet: &[u8]) -> Result<Option<FragLoc>> {
    let mut nh = packet.get(6).copied().unwrap_or(proto::NONE);
    let mut nh_at = 6usize;
    let mut off = IPV6_HDR_LEN;
    let mut jumbo = false;
    for count in 0.. {
        match nh {
            proto::FRAGMENT => {
                return Ok(Some(FragLoc {
                    frag_off: off,
                    nh_offset: nh_at,
                    jumbo,
                }))
            }
            proto::HOPOPTS | proto::DSTOPTS | proto::ROUTING | proto::AH => {
                if nh == proto::HOPOPTS && off != IPV6_HDR_LEN {
                    // Misplaced Hop-by-Hop: the chain walker refuses it.
                    return Ok(None);
                }
                if count >= HDRNESTLIMIT {
                    return Err(Error::new(
                        Layer::Ipv6,
                        ErrorKind::HeaderLimit {
                            limit: HDRNESTLIMIT as u32,
                        },
                        off as u64,
                        "more extension headers than hdrnestlimit (seed §1.8)",
                    ));
                }
                let layer = exthdr::layer_of(nh);
                let avail = packet.len().saturating_sub(off) as u64;
                let (Some(&next), Some(&l)) = (packet.get(off), packet.get(off.saturating_add(1)))
                else {
                    return Err(Error::truncated(
                        layer,
                        off as u64,
                        2,
                        avail,
                        "extension header (RFC 8200 §4)",
                    ));
                };
                let hlen = exthdr::header_len(nh, l).unwrap_or(8) as usize;
                let end = off.saturating_add(hlen);
                let Some(body) = packet.get(off..end) else {
                    return Err(Error::truncated(
                        layer,
                        off as u64,
                        hlen as u64,
                        avail,
                        "extension header length (RFC 8200 §4)",
                    ));
                };
                if nh == proto::HOPOPTS {
                    jumbo = has_jumbo(body.get(2..).unwrap_or(&[]));
                }
                nh_at = off;
                nh = next;
                off = end;
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Scan the options area of a Hop-by-Hop header (without its first two
/// octets) for a Jumbo Payload option (type 0xC2, RFC 2675 §2).
fn has_jumbo(opts: &[u8]) -> bool {
    let mut i = 0usize;
    while let Some(&t) = opts.get(i) {
        match t {
            0xC2 => return true,
            0x00 => i = i.saturating_add(1),
            _ => {
                let Some(&l) = opts.get(i.saturating_add(1)) else {
                    return false;
                };
                i = i.saturating_add(2).saturating_add(l as usize);
            }
        }
    }
    false
}

/// Does `data` (the fragmentable part of a first fragment, starting with
/// the header named `nh`) hold the whole header chain through the
/// upper-layer header (RFC 7112 §5)? The extension headers are walked with
/// the stack's chain walker (`wire::exthdr::walk_lax`, at most
/// `hdrnestlimit` headers); a chain that runs out of bytes is incomplete.
/// Then the upper-layer header itself must be there: TCP 20 octets, UDP 8,
/// ICMPv6 4 (RFC 4443 §2.1); ESP, No Next Header and other protocols need
/// nothing more. A chain the walker refuses (too long, misplaced
/// Hop-by-Hop) is reported complete here: it is refused after reassembly
/// by the same walker, with its own ICMPv6 answer.
pub fn chain_complete(nh: u8, data: &[u8]) -> bool {
    let Ok(chain) = exthdr::walk_lax(data, nh, 0, HDRNESTLIMIT as u32) else {
        return true;
    };
    if chain.truncated {
        return false;
    }
    let need: u64 = match chain.upper {
        proto::TCP => 20,
        proto::UDP => 8,
        proto::ICMPV6 => 4,
        _ => 0,
    };
    (data.len() as u64).saturating_sub(chain.upper_offset) >= need
}

impl Reassembler {
    /// A reassembler with the defaults: timeout 60 s, 4 MiB, 1024 queues,
    /// 64 fragments per queue, exact duplicates treated as overlaps.
    pub fn new() -> Self {
        Reassembler {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            max_queues: DEFAULT_MAX_QUEUES,
            max_frags_per_queue: DEFAULT_MAX_FRAGS_PER_QUEUE,
            ignore_exact_duplicates: false,
            queues: HashMap::new(),
            by_age: BTreeMap::new(),
            by_deadline: BTreeMap::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            bytes: 0,
            seq: 0,
            stats: Frag6Stats::default(),
        }
    }

    /// A reassembler with the given bounds (see the setters).
    pub fn with_limits(
        timeout: f64,
        max_bytes: usize,
        max_queues: usize,
        max_frags_per_queue: usize,
    ) -> Result<Self> {
        let mut r = Reassembler::new();
        r.set_timeout(timeout)?;
        r.set_max_bytes(max_bytes);
        r.set_max_queues(max_queues);
        r.set_max_frags_per_queue(max_frags_per_queue);
        Ok(r)
    }

    pub fn timeout(&self) -> f64 {
        self.timeout
    }
    /// Reassembly time limit in seconds for queues created from now on;
    /// finite and > 0.
    pub fn set_timeout(&mut self, timeout: f64) -> Result<()> {
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(config(
                "reassembly timeout must be a finite number of seconds > 0",
            ));
        }
        self.timeout = timeout;
        Ok(())
    }
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
    /// Cap on bytes held; lowering it evicts at once (oldest first).
    pub fn set_max_bytes(&mut self, v: usize) {
        self.max_bytes = v;
        self.make_room(0, None);
    }
    pub fn max_queues(&self) -> usize {
        self.max_queues
    }
    /// Cap on queues; lowering it evicts at once (oldest first).
    pub fn set_max_queues(&mut self, v: usize) {
        self.max_queues = v;
        while self.queues.len() > self.max_queues {
            if !self.evict_oldest(None) {
                break;
            }
        }
        while self.pending.len() > self.max_queues {
            self.drop_pending();
        }
    }
    pub fn max_frags_per_queue(&self) -> usize {
        self.max_frags_per_queue
    }
    /// Cap on fragments per queue; applies to the next fragment of a queue.
    pub fn set_max_frags_per_queue(&mut self, v: usize) {
        self.max_frags_per_queue = v;
    }
    pub fn ignore_exact_duplicates(&self) -> bool {
        self.ignore_exact_duplicates
    }
    /// `false` (default, RFC 5722): an exact duplicate is an overlap and
    /// abandons the datagram. `true` (RFC 8200 §4.5's option): the
    /// duplicate alone is dropped (`ip6s_fragdup`).
    pub fn set_ignore_exact_duplicates(&mut self, v: bool) {
        self.ignore_exact_duplicates = v;
    }

    /// Number of queues (including abandoned ones waiting out their time).
    pub fn len(&self) -> usize {
        self.queues.len()
    }
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
    /// Bytes held (fragment data, first fragments' headers, uncollected
    /// Time Exceeded invoking packets); never above `max_bytes`.
    pub fn bytes_held(&self) -> usize {
        self.bytes + self.pending_bytes
    }
    /// Fragments held in queues.
    pub fn frags_held(&self) -> usize {
        self.queues.values().map(|q| q.pieces.len()).sum()
    }
    pub fn stats(&self) -> &Frag6Stats {
        &self.stats
    }

    /// When the caller must next call [`expire`](Self::expire): the
    /// earliest queue deadline, or the deadline of a Time Exceeded already
    /// due (found while handling an input) and not yet collected.
    pub fn next_deadline(&self) -> Option<f64> {
        let q = self.by_deadline.keys().next().map(|(t, _)| t.0);
        let p = self.pending.iter().map(|e| e.deadline.0).reduce(f64::min);
        match (q, p) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time out every queue whose deadline is at or before `now`; return
    /// the Time Exceeded answers to send (RFC 8200 §4.5), oldest first,
    /// including those found due during earlier `input` calls.
    pub fn expire(&mut self, now: f64) -> Result<Vec<Expired>> {
        let now = check_now(now)?;
        self.sweep(now);
        self.pending_bytes = 0;
        Ok(self.pending.drain(..).collect())
    }

    fn sweep(&mut self, now: Tick) {
        while let Some((&(t, seq), &key)) = self.by_deadline.iter().next() {
            if t > now {
                break;
            }
            let _ = seq;
            let Some(q) = self.remove_queue(&key) else {
                break;
            };
            self.stats.ip6s_fragtimeout += q.nfrag();
            if let Some(inv) = q.first_fragment() {
                if self.max_queues == 0 {
                    continue;
                }
                while self.pending.len() >= self.max_queues {
                    self.drop_pending();
                }
                self.pending_bytes += inv.len();
                self.pending.push_back(Expired {
                    icmp: Icmp6Answer::reassembly_timeout(),
                    invoking: inv,
                    zone: key.zone,
                    deadline: q.deadline,
                });
                // Moving a queue to `pending` never grows the bytes held
                // (the invoking packet is a prefix of what the queue held),
                // but stay safe.
                self.make_room(0, None);
            }
        }
    }

    fn drop_pending(&mut self) {
        if let Some(e) = self.pending.pop_front() {
            self.pending_bytes = self.pending_bytes.saturating_sub(e.invoking.len());
        }
    }

    fn remove_queue(&mut self, key: &FragKey) -> Option<Queue> {
        let q = self.queues.remove(key)?;
        self.by_age.remove(&q.seq);
        self.by_deadline.remove(&(q.deadline, q.seq));
        self.bytes = self.bytes.saturating_sub(q.bytes);
        Some(q)
    }

    /// Evict the oldest queue other than `keep`; false if there is none.
    fn evict_oldest(&mut self, keep: Option<&FragKey>) -> bool {
        let victim = self.by_age.values().find(|k| Some(*k) != keep).copied();
        let Some(k) = victim else { return false };
        if let Some(q) = self.remove_queue(&k) {
            self.stats.ip6s_fragoverflow += q.nfrag();
        }
        true
    }

    /// Make room for `need` more bytes: drop uncollected answers first,
    /// then the oldest queues other than `keep`. False if impossible.
    fn make_room(&mut self, need: usize, keep: Option<&FragKey>) -> bool {
        loop {
            let held = self.bytes.saturating_add(self.pending_bytes);
            match held.checked_add(need) {
                Some(t) if t <= self.max_bytes => return true,
                _ => {}
            }
            if !self.pending.is_empty() {
                self.drop_pending();
                continue;
            }
            // Only queues that hold bytes help.
            let victim = self
                .by_age
                .values()
                .find(|k| Some(*k) != keep && self.queues.get(*k).is_some_and(|q| q.bytes > 0))
                .copied();
            let Some(k) = victim else { return false };
            if let Some(q) = self.remove_queue(&k) {
                self.stats.ip6s_fragoverflow += q.nfrag();
            }
        }
    }

    /// Abandon a datagram: drop what it holds, keep it as a poisoned queue
    /// until its deadline so that later fragments are dropped too.
    fn poison(&mut self, key: &FragKey) -> u64 {
        let Some(q) = self.queues.get_mut(key) else {
            return 0;
        };
        let n = q.nfrag();
        q.poisoned = true;
        q.pieces = Vec::new();
        q.first = None;
        q.have = 0;
        self.bytes = self.bytes.saturating_sub(q.bytes);
        q.bytes = 0;
        n
    }

    fn drop_frag(&mut self, counter: &'static str, n: u64) -> Outcome {
        let s = &mut self.stats;
        s.ip6s_fragdropped += n;
        match counter {
            "ip6s_fragoverlap" => s.ip6s_fragoverlap += n,
            "ip6s_fragbadlen" => s.ip6s_fragbadlen += n,
            "ip6s_fragincomplete" => s.ip6s_fragincomplete += n,
            "ip6s_fragecn" => s.ip6s_fragecn += n,
            "ip6s_fragdup" => s.ip6s_fragdup += n,
            _ => {}
        }
        Outcome::Dropped(counter)
    }

    fn answer(&mut self, icmp: Icmp6Answer, counter: &'static str) -> Outcome {
        self.drop_frag(counter, 1);
        Outcome::Answer { icmp, counter }
    }

    /// Handle one fragment whose Fragment header the caller has located.
    ///
    /// `frame` starts at the IPv6 header (bytes beyond its Payload Length
    /// are ignored as link padding); `frag_off` is the offset of the
    /// Fragment header (so `frame[..frag_off]` is the unfragmentable part);
    /// `nh_offset` the offset of the Next Header byte that names it (must
    /// hold 44); `zone` an opaque interface/zone id; `chain_complete`, for
    /// a fragment with offset 0, whether it holds the whole header chain
    /// through the upper-layer header (RFC 7112; see [`chain_complete`]).
    ///
    /// `Err` when the frame is not what the caller says (too short,
    /// version not 6, offsets out of range) or is a jumbogram with a
    /// Fragment header (RFC 2675 §3, the error carries the Parameter
    /// Problem to send); such frames are not counted here.
    pub fn input(
        &mut self,
        frame: &[u8],
        frag_off: usize,
        nh_offset: usize,
        zone: u32,
        chain_complete: bool,
        now: f64,
    ) -> Result<Outcome> {
        let now = check_now(now)?;
        if frame.get(4..6) == Some(&[0, 0][..]) && frame.len() > IPV6_HDR_LEN {
            return Err(Error::malformed(
                Layer::Fragment,
                frag_off as u64,
                "Jumbo Payload with a Fragment header (RFC 2675 §3)",
            )
            .answer(Icmp6Answer::header(frag_off.min(u32::MAX as usize) as u32)));
        }
        let total = ipv6_len(frame)?;
        let frame = frame.get(..total).unwrap_or(frame);
        if frag_off < IPV6_HDR_LEN
            || !(nh_offset == 6 || (IPV6_HDR_LEN..frag_off).contains(&nh_offset))
        {
            return Err(config(
                "Fragment header offset must be >= 40 and the Next Header byte naming it at 6 or in an extension header before it",
            ));
        }
        let fh_end = frag_off.saturating_add(FRAG_HDR_LEN);
        let Some(fh) = frame.get(frag_off..fh_end) else {
            return Err(Error::truncated(
                Layer::Fragment,
                frag_off as u64,
                FRAG_HDR_LEN as u64,
                total.saturating_sub(frag_off) as u64,
                "Fragment header (RFC 8200 §4.5)",
            ));
        };
        if frame.get(nh_offset) != Some(&proto::FRAGMENT) {
            return Err(config(
                "the Next Header byte at nh_offset does not name a Fragment header (44)",
            ));
        }
        let mut fraghdr = [0u8; FRAG_HDR_LEN];
        fraghdr.copy_from_slice(fh);
        let next_header = fraghdr[0];
        let offlg = u16::from_be_bytes([fraghdr[2], fraghdr[3]]);
        let ident = u32::from_be_bytes([fraghdr[4], fraghdr[5], fraghdr[6], fraghdr[7]]);
        let offset = (offlg & 0xfff8) as usize;
        let more = offlg & 1 == 1;
        let data = frame.get(fh_end..).unwrap_or(&[]);
        let flen = data.len();
        let ecn = (frame.get(1).copied().unwrap_or(0) >> 4) & 3;

        self.stats.ip6s_fragments += 1;

        // RFC 7112 §5: the first fragment must hold the whole chain.
        if offset == 0 && !chain_complete {
            return Ok(self.answer(Icmp6Answer::incomplete_chain(0), "ip6s_fragincomplete"));
        }
        // RFC 6946 / RFC 8200 §4.5: atomic fragments are processed alone.
        if offset == 0 && !more {
            self.stats.ip6s_atomicfrags += 1;
            let mut out = Vec::with_capacity(total - FRAG_HDR_LEN);
            out.extend_from_slice(frame.get(..frag_off).unwrap_or(&[]));
            out.extend_from_slice(data);
            let plen = (out.len() - IPV6_HDR_LEN) as u16;
            if let Some(b) = out.get_mut(4..6) {
                b.copy_from_slice(&plen.to_be_bytes());
            }
            if let Some(b) = out.get_mut(nh_offset) {
                *b = next_header;
            }
            return Ok(Outcome::Reassembled(out));
        }
        // RFC 8200 §4.5: non-final fragments are multiples of 8 octets.
        if more && (flen == 0 || flen % 8 != 0) {
            return Ok(self.answer(Icmp6Answer::header(4), "ip6s_fragbadlen"));
        }
        // RFC 8200 §4.5: the reassembled payload must fit in 65535 octets.
        let unfrag_ext = frag_off - IPV6_HDR_LEN;
        if unfrag_ext + offset + flen > IPV6_MAXPACKET {
            let ptr = (frag_off + 2).min(u32::MAX as usize) as u32;
            return Ok(self.answer(Icmp6Answer::header(ptr), "ip6s_fragbadlen"));
        }

        self.sweep(now);

        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(frame.get(8..24).unwrap_or(&[0; 16]));
        dst.copy_from_slice(frame.get(24..40).unwrap_or(&[0; 16]));
        let key = FragKey {
            src,
            dst,
            ident,
            zone,
        };

        if !self.queues.contains_key(&key) {
            if self.max_queues == 0 || self.max_frags_per_queue == 0 {
                self.stats.ip6s_fragoverflow += 1;
                return Ok(Outcome::Dropped("ip6s_fragoverflow"));
            }
            while self.queues.len() >= self.max_queues {
                if !self.evict_oldest(None) {
                    break;
                }
            }
            self.seq += 1;
            let deadline = Tick(now.0 + self.timeout);
            let q = Queue {
                seq: self.seq,
                deadline,
                pieces: Vec::new(),
                have: 0,
                end: None,
                max_end: 0,
                first: None,
                ecn: 0,
                bytes: 0,
                poisoned: false,
            };
            self.by_age.insert(self.seq, key);
            self.by_deadline.insert((deadline, self.seq), key);
            self.queues.insert(key, q);
        }

        // Checks against what the queue already holds.
        enum Verdict {
            Poisoned,
            Bad(&'static str),
            Dup,
            TooMany,
            Ok(usize),
        }
        let fend = offset + flen;
        let verdict = match self.queues.get(&key) {
            None => return Ok(Outcome::Dropped("ip6s_fragoverflow")),
            Some(q) if q.poisoned => Verdict::Poisoned,
            Some(q) => {
                let idx = q.pieces.partition_point(|p| p.off < offset);
                let prev = idx.checked_sub(1).and_then(|i| q.pieces.get(i));
                let next = q.pieces.get(idx);
                let same = next.filter(|p| p.off == offset && p.data.len() == flen);
                let overlaps = prev.is_some_and(|p| p.off + p.data.len() > offset)
                    || next.is_some_and(|p| p.off < fend || (p.off == offset));
                let inconsistent = match q.end {
                    Some(e) => fend > e || (!more && fend != e),
                    None => !more && fend < q.max_end,
                };
                if overlaps {
                    if self.ignore_exact_duplicates
                        && same.is_some_and(|p| p.data == data && p.last != more)
                    {
                        Verdict::Dup
                    } else {
                        Verdict::Bad("ip6s_fragoverlap")
                    }
                } else if inconsistent {
                    Verdict::Bad("ip6s_fragbadlen")
                } else if q.pieces.len() >= self.max_frags_per_queue {
                    Verdict::TooMany
                } else {
                    Verdict::Ok(idx)
                }
            }
        };
        let idx = match verdict {
            Verdict::Poisoned => return Ok(self.drop_frag("ip6s_fragoverlap", 1)),
            Verdict::Dup => return Ok(self.drop_frag("ip6s_fragdup", 1)),
            Verdict::Bad(c) => {
                let n = self.poison(&key);
                return Ok(self.drop_frag(c, n + 1));
            }
            Verdict::TooMany => {
                if let Some(q) = self.remove_queue(&key) {
                    self.stats.ip6s_fragoverflow += q.nfrag();
                }
                self.stats.ip6s_fragoverflow += 1;
                return Ok(Outcome::Dropped("ip6s_fragoverflow"));
            }
            Verdict::Ok(idx) => idx,
        };

        let need = flen
            + if offset == 0 {
                frag_off + FRAG_HDR_LEN
            } else {
                0
            };
        if !self.make_room(need, Some(&key)) {
            if let Some(q) = self.remove_queue(&key) {
                self.stats.ip6s_fragoverflow += q.nfrag();
            }
            self.stats.ip6s_fragoverflow += 1;
            return Ok(Outcome::Dropped("ip6s_fragoverflow"));
        }
        let Some(q) = self.queues.get_mut(&key) else {
            return Ok(Outcome::Dropped("ip6s_fragoverflow"));
        };
        q.pieces.insert(
            idx,
            Piece {
                off: offset,
                data: data.to_vec(),
                last: !more,
            },
        );
        q.have += flen;
        q.bytes += need;
        self.bytes += need;
        q.ecn |= 1 << ecn;
        q.max_end = q.max_end.max(fend);
        if !more {
            q.end = Some(fend);
        }
        if offset == 0 {
            q.first = Some(First {
                unfrag: frame.get(..frag_off).unwrap_or(&[]).to_vec(),
                nh_offset,
                fraghdr,
            });
        }

        // Complete? First fragment, last fragment, no holes.
        let Some(end) = q.end else {
            return Ok(Outcome::Incomplete);
        };
        if q.first.is_none() || q.have != end {
            return Ok(Outcome::Incomplete);
        }
        let Some(q) = self.remove_queue(&key) else {
            return Ok(Outcome::Incomplete);
        };
        let n = q.nfrag();
        // RFC 3168 §5.3: Not-ECT mixed with ECT/CE drops the datagram.
        const NOT_ECT: u8 = 1 << 0;
        const CE: u8 = 1 << 3;
        if q.ecn & NOT_ECT != 0 && q.ecn != NOT_ECT {
            return Ok(self.drop_frag("ip6s_fragecn", n));
        }
        let Some(first) = q.first else {
            return Ok(self.drop_frag("ip6s_fragdropped", n));
        };
        let plen = first.unfrag.len() - IPV6_HDR_LEN + end;
        if plen > IPV6_MAXPACKET {
            return Ok(self.drop_frag("ip6s_fragbadlen", n));
        }
        let mut out = first.unfrag;
        out.reserve_exact(end);
        for p in &q.pieces {
            out.extend_from_slice(&p.data);
        }
        if let Some(b) = out.get_mut(4..6) {
            b.copy_from_slice(&(plen as u16).to_be_bytes());
        }
        if let Some(b) = out.get_mut(first.nh_offset) {
            *b = first.fraghdr[0];
        }
        if q.ecn & CE != 0 {
            if let Some(b) = out.get_mut(1) {
                *b |= 0x30;
            }
        }
        self.stats.ip6s_reassembled += 1;
        Ok(Outcome::Reassembled(out))
    }

    /// Handle a whole IPv6 frame: locate the Fragment header (IPv6 header,
    /// then Hop-by-Hop / Destination Options / Routing, at most
    /// `hdrnestlimit` headers), check the first fragment's chain (RFC 7112,
    /// [`chain_complete`]) and call [`input`](Self::input). A frame
    /// without a Fragment header gives [`Outcome::NotFragment`].
    pub fn input_packet(&mut self, frame: &[u8], zone: u32, now: f64) -> Result<Outcome> {
        check_now(now)?;
        let jumbo_len = frame.get(4..6) == Some(&[0, 0][..]) && frame.len() > IPV6_HDR_LEN;
        let scope = if jumbo_len {
            frame
        } else {
            frame.get(..ipv6_len(frame)?).unwrap_or(frame)
        };
        match find_fragment_header(scope)? {
            None => Ok(Outcome::NotFragment),
            Some(FragLoc {
                frag_off,
                nh_offset,
                jumbo,
            }) => {
                if jumbo_len && !jumbo {
                    return Err(Error::malformed(
                        Layer::Ipv6,
                        4,
                        "Payload Length 0 without a Jumbo Payload option (RFC 2675 §3)",
                    )
                    .answer(Icmp6Answer::header(4)));
                }
                let complete = match scope.get(frag_off..frag_off.saturating_add(FRAG_HDR_LEN)) {
                    Some(fh) => {
                        let offlg = u16::from_be_bytes([
                            fh.get(2).copied().unwrap_or(0),
                            fh.get(3).copied().unwrap_or(0),
                        ]);
                        offlg & 0xfff8 != 0
                            || chain_complete(
                                fh.first().copied().unwrap_or(proto::NONE),
                                scope.get(frag_off + FRAG_HDR_LEN..).unwrap_or(&[]),
                            )
                    }
                    None => true,
                };
                self.input(scope, frag_off, nh_offset, zone, complete, now)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::frag6::tests::{ext_packet, udp_packet};
    use crate::frag6::{atomic_fragment_packet, fragment_packet};

    fn reass(r: &mut Reassembler, frags: &[Vec<u8>], now: f64) -> Vec<Outcome> {
        frags
            .iter()
            .map(|f| r.input_packet(f, 0, now).unwrap())
            .collect()
    }

    fn check_invariant(r: &Reassembler) {
        assert!(r.bytes_held() <= r.max_bytes());
        assert!(r.len() <= r.max_queues());
        let s = r.stats();
        assert!(
            s.ip6s_fragoverlap
                + s.ip6s_fragbadlen
                + s.ip6s_fragincomplete
                + s.ip6s_fragecn
                + s.ip6s_fragdup
                <= s.ip6s_fragdropped
        );
    }

    /// Fragments held + dropped + consumed == received.
    fn accounted(r: &Reassembler, consumed: u64) {
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

    #[test]
    fn in_order() {
        let p = udp_packet(4000);
        let frags = fragment_packet(&p, 1280, 42).unwrap();
        assert_eq!(frags.len(), 4);
        let mut r = Reassembler::new();
        let out = reass(&mut r, &frags, 0.0);
        assert_eq!(
            &out[..3],
            &[
                Outcome::Incomplete,
                Outcome::Incomplete,
                Outcome::Incomplete
            ]
        );
        assert_eq!(out[3], Outcome::Reassembled(p));
        assert_eq!(r.len(), 0);
        assert_eq!(r.bytes_held(), 0);
        assert_eq!(r.stats().ip6s_reassembled, 1);
        assert_eq!(r.stats().ip6s_fragments, 4);
        accounted(&r, 4);
    }

    #[test]
    fn reverse_order_with_ext_headers() {
        let p = ext_packet(5000);
        let mut frags = fragment_packet(&p, 1500, 7).unwrap();
        frags.reverse();
        let mut r = Reassembler::new();
        let out = reass(&mut r, &frags, 1.0);
        assert_eq!(out.last().unwrap(), &Outcome::Reassembled(p));
    }

    #[test]
    fn random_orders() {
        // A small deterministic xorshift, so the test needs no crate.
        let mut s: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut r = Reassembler::new();
        for round in 0..200u32 {
            let n = (rnd() % 20000) as usize;
            let mtu = 1280 + (rnd() % 8000) as usize;
            let p = if round % 2 == 0 {
                udp_packet(n)
            } else {
                ext_packet(n)
            };
            let mut frags = fragment_packet(&p, mtu, round).unwrap();
            for i in (1..frags.len()).rev() {
                let j = (rnd() % (i as u64 + 1)) as usize;
                frags.swap(i, j);
            }
            let out = reass(&mut r, &frags, round as f64);
            if frags.len() == 1 {
                assert_eq!(out[0], Outcome::NotFragment);
                continue;
            }
            assert_eq!(out.last().unwrap(), &Outcome::Reassembled(p));
            assert!(out[..out.len() - 1]
                .iter()
                .all(|o| *o == Outcome::Incomplete));
        }
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn interleaved_datagrams_and_zones() {
        let a = udp_packet(3000);
        let fa = fragment_packet(&a, 1280, 1).unwrap();
        let b = udp_packet(2999);
        let fb = fragment_packet(&b, 1280, 1).unwrap(); // same ident, other zone
        let mut r = Reassembler::new();
        let mut got = vec![];
        for i in 0..3 {
            for (f, z) in [(&fa[i], 1u32), (&fb[i], 2u32)] {
                if let Outcome::Reassembled(p) = r.input_packet(f, z, 0.0).unwrap() {
                    got.push(p);
                }
            }
        }
        assert_eq!(got, vec![a, b]);
    }

    #[test]
    fn exact_duplicate_abandons_by_default() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 9).unwrap();
        let mut r = Reassembler::new();
        assert_eq!(r.input_packet(&f[0], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(
            r.input_packet(&f[0], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
        // the rest of the datagram is dropped for the queue's lifetime
        assert_eq!(
            r.input_packet(&f[1], 0, 1.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
        assert_eq!(
            r.input_packet(&f[2], 0, 2.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
        assert_eq!(r.stats().ip6s_fragoverlap, 4);
        assert_eq!(r.bytes_held(), 0);
        assert_eq!(r.len(), 1);
        // no Time Exceeded for an abandoned datagram
        assert_eq!(r.expire(61.0).unwrap(), vec![]);
        assert_eq!(r.len(), 0);
        // afterwards, the same identification reassembles again
        let out = reass(&mut r, &f, 62.0);
        assert_eq!(out[2], Outcome::Reassembled(p));
        accounted(&r, 3);
    }

    #[test]
    fn exact_duplicate_ignored_when_asked() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 9).unwrap();
        let mut r = Reassembler::new();
        r.set_ignore_exact_duplicates(true);
        assert_eq!(r.input_packet(&f[1], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(
            r.input_packet(&f[1], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragdup")
        );
        assert_eq!(r.input_packet(&f[2], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(
            r.input_packet(&f[2], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragdup")
        );
        assert_eq!(
            r.input_packet(&f[0], 0, 0.0).unwrap(),
            Outcome::Reassembled(p)
        );
        assert_eq!(r.stats().ip6s_fragdup, 2);
    }

    #[test]
    fn overlap_drops_datagram() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 9).unwrap();
        // A fragment at offset 1224 (overlaps the first, which covers 0..1232)
        let mut o = f[1].clone();
        o[42..44].copy_from_slice(&(1224u16 | 1).to_be_bytes());
        let mut r = Reassembler::new();
        r.set_ignore_exact_duplicates(true); // an overlap is still an overlap
        assert_eq!(r.input_packet(&f[0], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(r.input_packet(&f[2], 0, 0.0).unwrap(), Outcome::Incomplete);
        assert_eq!(
            r.input_packet(&o, 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
        assert_eq!(r.stats().ip6s_fragoverlap, 3);
        assert_eq!(
            r.input_packet(&f[1], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
        assert_eq!(r.stats().ip6s_reassembled, 0);
        accounted(&r, 0);
    }

    #[test]
    fn inconsistent_ends() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 3).unwrap();
        let mut r = Reassembler::new();
        assert_eq!(r.input_packet(&f[2], 0, 0.0).unwrap(), Outcome::Incomplete);
        // A second "last" fragment ending elsewhere
        let mut l = f[2].clone();
        l[42..44].copy_from_slice(&(3088u16).to_be_bytes());
        assert_eq!(
            r.input_packet(&l, 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragbadlen")
        );
        assert_eq!(
            r.input_packet(&f[0], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragoverlap")
        );
    }

    #[test]
    fn timeout_with_first_fragment() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 5).unwrap();
        let mut r = Reassembler::new();
        r.input_packet(&f[0], 3, 10.0).unwrap();
        r.input_packet(&f[2], 3, 20.0).unwrap();
        assert_eq!(r.next_deadline(), Some(70.0));
        assert_eq!(r.expire(69.9).unwrap(), vec![]);
        let e = r.expire(70.0).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].icmp, Icmp6Answer::reassembly_timeout());
        assert_eq!(
            e[0].icmp,
            Icmp6Answer {
                icmp_type: 3,
                code: 1,
                pointer: 0
            }
        );
        assert_eq!(e[0].zone, 3);
        // the first fragment itself, cut to 1232 octets
        assert_eq!(e[0].invoking, f[0][..ICMP6_INVOKING_MAX].to_vec());
        assert_eq!(r.stats().ip6s_fragtimeout, 2);
        assert_eq!((r.len(), r.bytes_held(), r.next_deadline()), (0, 0, None));
        accounted(&r, 0);
    }

    #[test]
    fn timeout_small_first_fragment_whole() {
        // a first fragment shorter than 1232 comes back whole
        let p = udp_packet(1400);
        let mut f = fragment_packet(&p, 1280, 5).unwrap();
        let first_small = {
            // re-fragment by hand: first piece of 64 octets
            let mut a = f[0][..48 + 64].to_vec();
            a[4..6].copy_from_slice(&((8 + 64) as u16).to_be_bytes());
            a
        };
        f[0] = first_small.clone();
        let mut r = Reassembler::new();
        r.input_packet(&f[0], 0, 0.0).unwrap();
        let e = r.expire(60.0).unwrap();
        assert_eq!(e[0].invoking, first_small);
    }

    #[test]
    fn timeout_without_first_fragment() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 5).unwrap();
        let mut r = Reassembler::new();
        r.input_packet(&f[1], 0, 0.0).unwrap();
        r.input_packet(&f[2], 0, 0.0).unwrap();
        assert_eq!(r.expire(60.0).unwrap(), vec![]);
        assert_eq!(r.stats().ip6s_fragtimeout, 2);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn stale_queue_not_merged_and_answer_kept() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 5).unwrap();
        let mut r = Reassembler::new();
        r.input_packet(&f[0], 0, 0.0).unwrap();
        r.input_packet(&f[1], 0, 0.0).unwrap();
        // 100 s later the last fragment arrives: the old queue is gone
        assert_eq!(
            r.input_packet(&f[2], 0, 100.0).unwrap(),
            Outcome::Incomplete
        );
        assert_eq!(r.next_deadline(), Some(60.0));
        let e = r.expire(100.0).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].invoking, f[0][..ICMP6_INVOKING_MAX].to_vec());
        assert_eq!(r.next_deadline(), Some(160.0));
    }

    #[test]
    fn settable_timeout() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 5).unwrap();
        let mut r = Reassembler::with_limits(5.0, 1 << 20, 10, 10).unwrap();
        r.input_packet(&f[0], 0, 0.0).unwrap();
        assert_eq!(r.next_deadline(), Some(5.0));
        assert_eq!(r.expire(5.0).unwrap().len(), 1);
        assert!(r.set_timeout(f64::NAN).is_err());
        assert!(r.set_timeout(0.0).is_err());
        assert_eq!(
            r.input_packet(&f[0], 0, f64::INFINITY).unwrap_err().kind,
            ErrorKind::Config
        );
    }

    #[test]
    fn queue_cap_evicts_oldest() {
        let mut r = Reassembler::with_limits(60.0, 1 << 20, 3, 64).unwrap();
        let frags: Vec<Vec<Vec<u8>>> = (0..5u32)
            .map(|i| fragment_packet(&udp_packet(3000), 1280, i).unwrap())
            .collect();
        for (i, f) in frags.iter().enumerate() {
            r.input_packet(&f[0], 0, i as f64).unwrap();
            check_invariant(&r);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.stats().ip6s_fragoverflow, 2);
        // ident 0 and 1 were evicted: their rest starts new queues...
        // ...and ident 4's rest completes.
        assert_eq!(
            r.input_packet(&frags[4][1], 0, 5.0).unwrap(),
            Outcome::Incomplete
        );
        assert!(matches!(
            r.input_packet(&frags[4][2], 0, 5.0).unwrap(),
            Outcome::Reassembled(_)
        ));
        // ident 2 is now the oldest; a new datagram evicts it
        r.input_packet(&frags[0][2], 0, 6.0).unwrap();
        r.input_packet(&frags[1][2], 0, 6.0).unwrap();
        assert_eq!(
            r.input_packet(&frags[2][1], 0, 6.0).unwrap(),
            Outcome::Incomplete
        );
        assert_eq!(r.len(), 3);
        check_invariant(&r);
    }

    #[test]
    fn byte_cap_evicts_oldest() {
        // room for about two first fragments of 1280
        let mut r = Reassembler::with_limits(60.0, 3100, 100, 64).unwrap();
        let frags: Vec<Vec<Vec<u8>>> = (0..4u32)
            .map(|i| fragment_packet(&udp_packet(3000), 1280, i).unwrap())
            .collect();
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(
                r.input_packet(&f[0], 0, i as f64).unwrap(),
                Outcome::Incomplete
            );
            check_invariant(&r);
        }
        assert_eq!(r.len(), 2);
        // the survivors are the two newest
        let out = reass(&mut r, &frags[3][1..], 10.0);
        assert!(matches!(out.last().unwrap(), Outcome::Reassembled(_)));
        check_invariant(&r);
        // a datagram bigger than the cap never completes, nothing panics
        let mut r = Reassembler::with_limits(60.0, 2000, 100, 64).unwrap();
        let out = reass(&mut r, &frags[0], 0.0);
        assert!(out.contains(&Outcome::Dropped("ip6s_fragoverflow")));
        check_invariant(&r);
        accounted(&r, 0);
    }

    #[test]
    fn lowering_caps_evicts() {
        let mut r = Reassembler::new();
        for i in 0..10u32 {
            let f = fragment_packet(&udp_packet(3000), 1280, i).unwrap();
            r.input_packet(&f[1], 0, 0.0).unwrap();
        }
        r.set_max_queues(4);
        assert_eq!(r.len(), 4);
        r.set_max_bytes(2500);
        assert_eq!(r.len(), 2);
        check_invariant(&r);
    }

    #[test]
    fn per_queue_fragment_cap() {
        let p = udp_packet(3000);
        // tiny 8-octet pieces: build them by hand from the big fragments
        let mut r = Reassembler::with_limits(60.0, 1 << 20, 10, 4).unwrap();
        let f = fragment_packet(&p, 1280, 77).unwrap();
        let body = &f[1][48..];
        for k in 0..5usize {
            let mut x = f[1][..48].to_vec();
            x.extend_from_slice(&body[k * 8..k * 8 + 8]);
            x[4..6].copy_from_slice(&16u16.to_be_bytes());
            x[42..44].copy_from_slice(&((1232 + k * 8) as u16 | 1).to_be_bytes());
            let o = r.input_packet(&x, 0, 0.0).unwrap();
            if k < 4 {
                assert_eq!(o, Outcome::Incomplete);
            } else {
                assert_eq!(o, Outcome::Dropped("ip6s_fragoverflow"));
            }
        }
        assert_eq!(r.len(), 0);
        assert_eq!(r.stats().ip6s_fragoverflow, 5);
        accounted(&r, 0);
    }

    #[test]
    fn atomic_in_isolation() {
        let p = udp_packet(100);
        let a = atomic_fragment_packet(&p, 5).unwrap();
        let f = fragment_packet(&udp_packet(3000), 1280, 5).unwrap();
        let mut r = Reassembler::new();
        // a queue with the same identification is pending...
        assert_eq!(r.input_packet(&f[1], 0, 0.0).unwrap(), Outcome::Incomplete);
        // ...the atomic fragment is not merged with it
        assert_eq!(
            r.input_packet(&a, 0, 0.0).unwrap(),
            Outcome::Reassembled(p.clone())
        );
        assert_eq!(r.input_packet(&a, 0, 0.0).unwrap(), Outcome::Reassembled(p));
        assert_eq!(r.len(), 1);
        assert_eq!(r.frags_held(), 1);
        assert_eq!(r.stats().ip6s_atomicfrags, 2);
        assert_eq!(r.stats().ip6s_reassembled, 0);
    }

    #[test]
    fn tiny_first_fragment_rfc7112() {
        // First fragment with only 4 octets of UDP header... must be a
        // multiple of 8 when M=1, so use a DstOpts header split across.
        let p = ext_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        // Cut the first fragment to carry 8 octets: the trailing DstOpts
        // (8 octets) but no UDP header.
        let mut t = f[0][..72 + 8].to_vec();
        let pl = ((t.len() - 40) as u16).to_be_bytes();
        t[4..6].copy_from_slice(&pl);
        let mut r = Reassembler::new();
        let o = r.input_packet(&t, 0, 0.0).unwrap();
        assert_eq!(
            o,
            Outcome::Answer {
                icmp: Icmp6Answer::incomplete_chain(0),
                counter: "ip6s_fragincomplete"
            }
        );
        assert_eq!(r.len(), 0);
        // 16 octets: DstOpts + UDP header: complete
        let mut t = f[0][..72 + 16].to_vec();
        let pl = ((t.len() - 40) as u16).to_be_bytes();
        t[4..6].copy_from_slice(&pl);
        assert_eq!(r.input_packet(&t, 0, 0.0).unwrap(), Outcome::Incomplete);
        // low-level input with the caller's boolean
        let mut r = Reassembler::new();
        let o = r.input(&f[0], 64, 56, 0, false, 0.0).unwrap();
        assert!(matches!(o, Outcome::Answer { icmp, .. } if icmp.code == 3));
        assert_eq!(
            r.input(&f[0], 64, 56, 0, true, 0.0).unwrap(),
            Outcome::Incomplete
        );
    }

    #[test]
    fn chain_complete_rules() {
        assert!(chain_complete(17, &[0; 8]));
        assert!(!chain_complete(17, &[0; 7]));
        assert!(!chain_complete(6, &[0; 19]));
        assert!(chain_complete(58, &[0; 4]));
        assert!(chain_complete(59, &[]));
        assert!(chain_complete(50, &[]));
        assert!(!chain_complete(60, &[]));
        assert!(!chain_complete(60, &[17, 1, 0, 0, 0, 0, 0, 0]));
        assert!(chain_complete(60, &[59, 0, 0, 0, 0, 0, 0, 0]));
        assert!(!chain_complete(
            51,
            &[17, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        ));
        assert!(chain_complete(
            51,
            &[59, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        ));
    }

    #[test]
    fn non_multiple_of_8() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        let mut x = f[1][..f[1].len() - 3].to_vec();
        let plen = (x.len() - 40) as u16;
        x[4..6].copy_from_slice(&plen.to_be_bytes());
        let mut r = Reassembler::new();
        assert_eq!(
            r.input_packet(&x, 0, 0.0).unwrap(),
            Outcome::Answer {
                icmp: Icmp6Answer::header(4),
                counter: "ip6s_fragbadlen"
            }
        );
        // zero-length non-final fragment, too (as FreeBSD)
        let mut z = f[1][..48].to_vec();
        z[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert!(
            matches!(r.input_packet(&z, 0, 0.0).unwrap(), Outcome::Answer { icmp, .. } if icmp.pointer == 4)
        );
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn beyond_65535() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        let mut x = f[2].clone(); // last, 536 octets of data
        x[42..44].copy_from_slice(&(65528u16).to_be_bytes()); // offset 65528, M=0
        let mut r = Reassembler::new();
        assert_eq!(
            r.input_packet(&x, 0, 0.0).unwrap(),
            Outcome::Answer {
                icmp: Icmp6Answer::header(42),
                counter: "ip6s_fragbadlen"
            }
        );
        // with extension headers the pointer follows the Fragment header
        let p = ext_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        let mut x = f[2].clone();
        x[66..68].copy_from_slice(&(65528u16).to_be_bytes());
        assert_eq!(
            r.input_packet(&x, 0, 0.0).unwrap(),
            Outcome::Answer {
                icmp: Icmp6Answer::header(66),
                counter: "ip6s_fragbadlen"
            }
        );
    }

    #[test]
    fn ecn_rules() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        let set = |b: &[u8], ecn: u8| {
            let mut v = b.to_vec();
            v[1] = (v[1] & 0xcf) | (ecn << 4);
            v
        };
        // ECT(0) + CE -> CE on the result
        let mut r = Reassembler::new();
        r.input_packet(&set(&f[0], 2), 0, 0.0).unwrap();
        r.input_packet(&set(&f[1], 3), 0, 0.0).unwrap();
        let Outcome::Reassembled(out) = r.input_packet(&set(&f[2], 2), 0, 0.0).unwrap() else {
            panic!()
        };
        assert_eq!((out[1] >> 4) & 3, 3);
        assert_eq!(&out[2..], &p[2..]);
        // Not-ECT + ECT -> dropped
        r.input_packet(&set(&f[0], 0), 0, 0.0).unwrap();
        r.input_packet(&set(&f[1], 1), 0, 0.0).unwrap();
        assert_eq!(
            r.input_packet(&f[2], 0, 0.0).unwrap(),
            Outcome::Dropped("ip6s_fragecn")
        );
        assert_eq!(r.stats().ip6s_fragecn, 3);
    }

    #[test]
    fn not_fragment_and_errors() {
        let mut r = Reassembler::new();
        let p = udp_packet(10);
        assert_eq!(r.input_packet(&p, 0, 0.0).unwrap(), Outcome::NotFragment);
        assert!(r.input_packet(&p[..20], 0, 0.0).unwrap_err().is_truncated());
        let f = fragment_packet(&udp_packet(3000), 1280, 1).unwrap();
        // Fragment header cut short
        let mut t = f[0][..44].to_vec();
        t[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert!(r.input_packet(&t, 0, 0.0).unwrap_err().is_truncated());
        // caller lies about offsets
        assert_eq!(
            r.input(&f[0], 40, 7, 0, true, 0.0).unwrap_err().kind,
            ErrorKind::Config
        );
        assert_eq!(
            r.input(&f[0], 30, 6, 0, true, 0.0).unwrap_err().kind,
            ErrorKind::Config
        );
        let mut g = f[0].clone();
        g[5] = 44; // a lying caller naming a Payload Length byte
        assert_eq!(
            r.input(&g, 40, 5, 0, true, 0.0).unwrap_err().kind,
            ErrorKind::Config
        );
        // jumbogram with a Fragment header (RFC 2675 §3)
        let mut j = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        j.extend_from_slice(&[0u8; 32]);
        j.extend_from_slice(&[44, 0, 0xC2, 4, 0, 1, 0, 0]);
        j.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 1]);
        j.extend(std::iter::repeat_n(0u8, 65536));
        let e = r.input_packet(&j, 0, 0.0).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(48)));
        assert_eq!(r.stats().ip6s_fragments, 0);
    }

    #[test]
    fn locator_bounded() {
        let mut r = Reassembler::new();
        // 60 Destination Options headers before the Fragment header
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 60, 64];
        p.extend_from_slice(&[0u8; 32]);
        for i in 0..60 {
            p.extend_from_slice(&[if i == 59 { 44 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        p.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 1]);
        p.extend_from_slice(&[0u8; 16]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        assert!(matches!(
            r.input_packet(&p, 0, 0.0).unwrap_err().kind,
            ErrorKind::HeaderLimit { limit: 50 }
        ));
        // a misplaced Hop-by-Hop ends the search: not a fragment for us
        let mut q = udp_packet(8);
        q[6] = 60;
        q.splice(40..40, [0u8, 0, 1, 4, 0, 0, 0, 0]);
        q.splice(48..48, [44u8, 0, 1, 4, 0, 0, 0, 0]);
        let plen = (q.len() - 40) as u16;
        q[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(r.input_packet(&q, 0, 0.0).unwrap(), Outcome::NotFragment);
        // every prefix of a real fragment: an error or an outcome, no panic
        let f = fragment_packet(&ext_packet(3000), 1280, 1).unwrap();
        for n in 0..f[0].len() {
            let _ = r.input_packet(&f[0][..n], 0, 0.0);
        }
    }

    #[test]
    fn link_padding_ignored() {
        let p = udp_packet(3000);
        let f = fragment_packet(&p, 1280, 1).unwrap();
        let mut r = Reassembler::new();
        let mut out = Outcome::Incomplete;
        for x in &f {
            let mut y = x.clone();
            y.extend_from_slice(&[0xee; 6]);
            out = r.input_packet(&y, 0, 0.0).unwrap();
        }
        assert_eq!(out, Outcome::Reassembled(p));
    }

    /// Memory stays bounded whatever arrives: many distinct datagrams,
    /// never completed, tiny caps.
    #[test]
    fn memory_bounded_flood() {
        let mut r = Reassembler::with_limits(60.0, 10_000, 16, 8).unwrap();
        let p = udp_packet(20000);
        let mut t = 0.0;
        for i in 0..500u32 {
            let f = fragment_packet(&p, 1280 + (i as usize % 7) * 100, i).unwrap();
            for x in f.iter().skip(1).take(5) {
                let _ = r.input_packet(x, i % 3, t).unwrap();
                check_invariant(&r);
            }
            t += 0.5;
            if i % 50 == 0 {
                let _ = r.expire(t).unwrap();
            }
        }
        accounted(&r, 0);
    }

    #[test]
    fn fragment_header_behind_ah_is_found() {
        // AH before the Fragment header (out of RFC 8200 §4.1's order): the
        // walker reports the Fragment header, so the reassembler finds it.
        let udp = crate::frag6::tests::udp_packet(3000);
        let mut p = udp[..40].to_vec();
        p[6] = proto::AH;
        p.extend_from_slice(&[17, 4, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xa5; 12]);
        p.extend_from_slice(&udp[40..]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let frags = crate::frag6::fragment(&p, 64, 40, 1280, 77).unwrap();
        assert!(frags.len() >= 3);
        for f in &frags[1..] {
            let c = crate::wire::ipv6::validate(f, 50).unwrap().chain;
            assert_eq!(c.upper, proto::FRAGMENT);
        }
        let mut r = Reassembler::new();
        let outs = reass(&mut r, &frags, 0.0);
        assert_eq!(outs.last(), Some(&Outcome::Reassembled(p)));
    }
}
