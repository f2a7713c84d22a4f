//! `tcp_syncache.c`: the SYN queue of a node's listeners in the core, so a
//! SYN costs one call: lookup keyed on the packed addresses and ports,
//! the initial sequence number (RFC 6528), the SYN,ACK with its options
//! built and checksummed, SYN cookies beyond the bound, and the third
//! segment checked against the entry or the cookie.
//!
//! The hashes are the ones `kame.tcp.syncache.SynCache` (the Python
//! reference the tests hold this against) computes: SHA-256 keyed with the
//! node's secret over
//! - the ISN: `secret ‖ laddr ‖ faddr ‖ lport ‖ fport`, first 4 octets,
//!   plus a 4 µs clock;
//! - the timestamp offset: `"ts" ‖ secret ‖ laddr ‖ faddr ‖ lport ‖ fport`;
//! - a cookie's MAC: `"ck" ‖ secret ‖ slot (8 octets, signed) ‖ laddr ‖
//!   faddr ‖ lport ‖ fport ‖ irs`, first 3 octets, then 3 bits of MSS
//!   index, 4 of window scale (15: none) and one of SACK-permitted.
//!
//! The table is bounded by the cache limit the caller passes with each
//! SYN; the timer queue by twice the table (it is rebuilt when stale
//! items pile up).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use ring::digest;

use crate::cksum::Pseudo;
use crate::tcp::seg::{build_options, emit, Header};

/// SYN,ACK retransmissions before the entry is dropped (FreeBSD `SYNCACHE_MAXREXMTS`).
pub const SYNCACHE_MAXREXMTS: u8 = 3;
/// MSS values a cookie can carry (3 bits).
pub const COOKIE_MSS: [u16; 8] = [216, 536, 1200, 1220, 1360, 1400, 1440, 1460];
/// A cookie's time slot, seconds.
pub const COOKIE_SLOT: f64 = 64.0;

const TH_SYN: u16 = 0x02;
const TH_ACK: u16 = 0x10;
const TH_ECE: u16 = 0x40;
const TH_CWR: u16 = 0x80;

/// A connection's addresses and ports: IPv6 (16 octets) or IPv4 (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    laddr: [u8; 16],
    faddr: [u8; 16],
    alen: u8,
    pub lport: u16,
    pub fport: u16,
}

impl Key {
    /// None unless both addresses are 16 octets or both 4.
    pub fn new(laddr: &[u8], lport: u16, faddr: &[u8], fport: u16) -> Option<Key> {
        if laddr.len() != faddr.len() || !(laddr.len() == 16 || laddr.len() == 4) {
            return None;
        }
        let mut k = Key { laddr: [0; 16], faddr: [0; 16], alen: laddr.len() as u8, lport, fport };
        k.laddr.get_mut(..laddr.len())?.copy_from_slice(laddr);
        k.faddr.get_mut(..faddr.len())?.copy_from_slice(faddr);
        Some(k)
    }

    pub fn laddr(&self) -> &[u8] {
        self.laddr.get(..usize::from(self.alen)).unwrap_or(&[])
    }

    pub fn faddr(&self) -> &[u8] {
        self.faddr.get(..usize::from(self.alen)).unwrap_or(&[])
    }

    /// The pseudo-header of a segment we send (laddr -> faddr).
    fn pseudo_out(&self) -> Pseudo {
        if self.alen == 16 {
            Pseudo::V6 { src: self.laddr.into(), dst: self.faddr.into() }
        } else {
            let (s, d) = (self.laddr, self.faddr);
            Pseudo::V4 { src: [s[0], s[1], s[2], s[3]].into(), dst: [d[0], d[1], d[2], d[3]].into() }
        }
    }

    fn hash(&self, tag: &[u8], secret: &[u8], mid: &[u8], tail: &[u8]) -> [u8; 4] {
        let mut c = digest::Context::new(&digest::SHA256);
        c.update(tag);
        c.update(secret);
        c.update(mid);
        c.update(self.laddr());
        c.update(self.faddr());
        c.update(&self.lport.to_be_bytes());
        c.update(&self.fport.to_be_bytes());
        c.update(tail);
        let d = c.finish();
        let mut o = [0u8; 4];
        if let Some(h) = d.as_ref().get(..4) {
            o.copy_from_slice(h);
        }
        o
    }
}

/// What the SYN said (after `tcp_dooptions`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Syn {
    pub seq: u32,
    pub flags: u16,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub tsval: Option<u32>,
}

/// The knobs a SYN is judged by (`net.inet.tcp.*`).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub rfc1323: i64,
    pub sack_enable: bool,
    pub ecn_enable: bool,
    pub syncookies: bool,
    pub syncookies_only: bool,
    pub cachelimit: usize,
    /// `rexmit_initial`, seconds: the first SYN,ACK retransmission.
    pub rexmit_initial: f64,
}

/// How our SYN,ACK looks for an entry: the MSS we offer, the listener's
/// receive buffer (window and window scale) and the hop limit to use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offer {
    pub mss: u16,
    pub rcvbuf: u64,
}

/// `struct syncache`.
#[derive(Debug, Clone)]
pub struct Entry<T> {
    pub irs: u32,
    pub iss: u32,
    pub peer_mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<u32>,
    pub ecn_ok: bool,
    pub scope: u32,
    pub sent: f64,
    pub rexmits: u8,
    pub ts_off: u32,
    pub offer: Offer,
    pub lso: T,
    deadline: f64,
    gen: u64,
}

/// What a SYN did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A new entry (`tcps_sc_added`); `replaced`: a different SYN's entry
    /// for the same connection went (`tcps_sc_dupsyn`).
    Entry { replaced: bool },
    /// The same SYN again: the SYN,ACK again (`tcps_sc_dupsyn`).
    Resent,
    /// Beyond the bound (or `syncookies_only`): a cookie, no entry
    /// (`tcps_sc_sendcookie`; `overflow`: `tcps_sc_cacheoverflow`).
    Cookie { replaced: bool, overflow: bool },
    /// Beyond the bound without cookies (`tcps_sc_cacheoverflow`,
    /// `tcps_sc_dropped`).
    Dropped { replaced: bool },
}

/// What the handshake's third segment found.
#[derive(Debug, Clone, PartialEq)]
pub enum Expanded<T> {
    /// No entry and cookies off: the caller answers RST.
    NoEntry,
    /// Neither the entry's nor a cookie's numbers (`tcps_sc_badack`).
    BadAck,
    /// The accept queue is full (`tcps_listendrop`); the entry stays;
    /// `cookie`: a valid cookie was counted (`tcps_sc_recvcookie`).
    ListenDrop { cookie: bool },
    /// A connection to make (the entry removed).
    Established(Completed<T>),
}

/// The numbers of a completed handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed<T> {
    pub iss: u32,
    pub irs: u32,
    pub peer_mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<u32>,
    pub ecn_ok: bool,
    pub scope: u32,
    /// when the first SYN,ACK left, if it was never retransmitted (an RTT sample)
    pub rtt_from: Option<f64>,
    pub ts_off: u32,
    pub cookie: bool,
    pub lso: Option<T>,
}

/// A timer item: (deadline, generation, key); min-heap order.
#[derive(Debug, Clone, Copy)]
struct Due(f64, u64, Key);

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// Python's `float // float` for the cookie slot (`math.floor` of the
/// quotient as `float_floor_div` computes it).
fn py_floordiv(a: f64, b: f64) -> i64 {
    let m = a % b;
    let m = if m != 0.0 && ((b < 0.0) != (m < 0.0)) { m + b } else { m };
    let div = (a - m) / b;
    let mut f = div.floor();
    if div - f > 0.5 {
        f += 1.0;
    }
    f as i64
}

/// RFC 7323 §2.3: the smallest shift that lets the window cover the buffer.
pub fn rcv_wscale(rcvbuf: u64) -> u8 {
    let mut s = 0u8;
    while s < 14 && (0xFFFFu64 << s) < rcvbuf {
        s += 1;
    }
    s
}

/// The SYN queue.
#[derive(Debug)]
pub struct SynCache<T> {
    secret: Vec<u8>,
    entries: HashMap<Key, Entry<T>>,
    due: BinaryHeap<Due>,
    gen: u64,
}

impl<T: Clone> SynCache<T> {
    pub fn new(secret: &[u8]) -> Self {
        SynCache { secret: secret.to_vec(), entries: HashMap::new(), due: BinaryHeap::new(), gen: 0 }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, k: &Key) -> Option<&Entry<T>> {
        self.entries.get(k)
    }

    /// Each entry's listener (for a garbage collector's walk).
    pub fn listeners(&self) -> impl Iterator<Item = &T> {
        self.entries.values().map(|e| &e.lso)
    }

    /// RFC 6528 §3: the ISN for a connection at `now`.
    pub fn iss(&self, k: &Key, now: f64) -> u32 {
        let h = u32::from_be_bytes(k.hash(b"", &self.secret, b"", b""));
        ((now * 250_000.0) as i64 as u32).wrapping_add(h)
    }

    /// The connection's timestamp offset.
    pub fn ts_offset(&self, k: &Key) -> u32 {
        u32::from_be_bytes(k.hash(b"ts", &self.secret, b"", b""))
    }

    fn mac(&self, k: &Key, irs: u32, slot: i64) -> u32 {
        let h = k.hash(b"ck", &self.secret, &slot.to_be_bytes(), &irs.to_be_bytes());
        u32::from_be_bytes([0, h[0], h[1], h[2]])
    }

    /// The cookie (our SYN,ACK's sequence number) for a SYN.
    pub fn cookie(&self, k: &Key, irs: u32, mss: Option<u16>, wscale: Option<u8>, sack: bool, now: f64) -> u32 {
        let m = match mss {
            None | Some(0) => 536,
            Some(m) => m,
        };
        let idx = COOKIE_MSS.iter().rposition(|&c| c <= m).unwrap_or(0) as u32;
        let ws = wscale.map_or(15, |w| u32::from(w.min(14)));
        let mac = self.mac(k, irs, py_floordiv(now, COOKIE_SLOT));
        (mac << 8) | (idx << 5) | (ws << 1) | u32::from(sack)
    }

    /// (mss, wscale, sack) when `iss` is a cookie made for this SYN now or
    /// in the previous slot.
    pub fn cookie_check(&self, k: &Key, irs: u32, iss: u32, now: f64) -> Option<(u16, Option<u8>, bool)> {
        let slot = py_floordiv(now, COOKIE_SLOT);
        for s in [slot, slot.wrapping_sub(1)] {
            if self.mac(k, irs, s) == iss >> 8 {
                let ws = ((iss >> 1) & 0x0F) as u8;
                let mss = COOKIE_MSS.get(((iss >> 5) & 7) as usize).copied().unwrap_or(536);
                return Some((mss, if ws == 15 { None } else { Some(ws) }, iss & 1 != 0));
            }
        }
        None
    }

    /// The SYN,ACK of an entry (or a cookie's): MSS and each option the
    /// SYN offered and we allow, checksummed; the bare segment.
    #[allow(clippy::too_many_arguments)]
    pub fn synack(k: &Key, iss: u32, irs: u32, wscale: Option<u8>, sack_ok: bool, ts: Option<(u32, u32)>, ecn_ok: bool, offer: &Offer) -> Vec<u8> {
        let rws = wscale.map(|_| rcv_wscale(offer.rcvbuf));
        let opts = build_options(Some(offer.mss), rws, sack_ok, ts, &[]);
        let h = Header {
            src_port: k.lport,
            dst_port: k.fport,
            seq: iss,
            ack: irs.wrapping_add(1),
            flags: TH_SYN | TH_ACK | if ecn_ok { TH_ECE } else { 0 },
            window: offer.rcvbuf.min(0xFFFF) as u16,
            urgent: 0,
        };
        let mut out = Vec::with_capacity(20 + opts.len());
        // options are at most 20 octets here: emit cannot fail
        let _ = emit(&mut out, &h, &opts, &[], &k.pseudo_out());
        out
    }

    fn tsopt(ts: Option<u32>, ts_off: u32, now: f64) -> Option<(u32, u32)> {
        ts.map(|ecr| (((now * 1000.0) as i64 as u32).wrapping_add(ts_off), ecr))
    }

    fn arm(&mut self, k: Key, when: f64) {
        self.gen = self.gen.wrapping_add(1);
        let g = self.gen;
        if let Some(e) = self.entries.get_mut(&k) {
            e.deadline = when;
            e.gen = g;
            self.due.push(Due(when, g, k));
        }
        if self.due.len() > 2 * self.entries.len() + 64 {
            self.due = self.entries.iter().map(|(k, e)| Due(e.deadline, e.gen, *k)).collect();
        }
    }

    /// `syncache_add`: a SYN for listener `lso`; what happened and the
    /// SYN,ACK to send (none when dropped).
    #[allow(clippy::too_many_arguments)]
    pub fn add(&mut self, k: Key, syn: &Syn, scope: u32, offer: Offer, lso: T, p: &Policy, now: f64) -> (Added, Option<Vec<u8>>) {
        let ecn_ok = syn.flags & TH_ECE != 0 && syn.flags & TH_CWR != 0 && p.ecn_enable;
        let ts = if p.rfc1323 == 1 || p.rfc1323 == 3 { syn.tsval } else { None };
        let ws = if p.rfc1323 == 1 || p.rfc1323 == 2 { syn.wscale } else { None };
        let sack = syn.sack_permitted && p.sack_enable;
        let mut replaced = false;
        if let Some(e) = self.entries.get(&k) {
            if e.irs == syn.seq {
                let seg = Self::synack(&k, e.iss, e.irs, e.wscale, e.sack_ok, Self::tsopt(e.ts, e.ts_off, now), e.ecn_ok, &e.offer);
                return (Added::Resent, Some(seg));
            }
            self.entries.remove(&k);
            replaced = true;
        }
        if p.syncookies_only || self.entries.len() >= p.cachelimit {
            if !p.syncookies && !p.syncookies_only {
                return (Added::Dropped { replaced }, None);
            }
            let iss = self.cookie(&k, syn.seq, syn.mss, ws, sack, now);
            let tsopt = Self::tsopt(ts, self.ts_offset(&k), now);
            let seg = Self::synack(&k, iss, syn.seq, ws, sack, tsopt, false, &offer);
            return (Added::Cookie { replaced, overflow: !p.syncookies_only }, Some(seg));
        }
        let iss = self.iss(&k, now);
        let ts_off = self.ts_offset(&k);
        let e = Entry {
            irs: syn.seq,
            iss,
            peer_mss: syn.mss,
            wscale: ws,
            sack_ok: sack,
            ts,
            ecn_ok,
            scope,
            sent: now,
            rexmits: 0,
            ts_off,
            offer,
            lso,
            deadline: 0.0,
            gen: 0,
        };
        let seg = Self::synack(&k, iss, syn.seq, ws, sack, Self::tsopt(ts, ts_off, now), ecn_ok, &offer);
        self.entries.insert(k, e);
        self.arm(k, now + p.rexmit_initial);
        (Added::Entry { replaced }, Some(seg))
    }

    /// `syncache_expand`: the third segment (`seq`, `ack`, its TSval) of a
    /// connection to a listener whose receive buffer is `rcvbuf` and whose
    /// accept queue has room (`can_accept`).
    #[allow(clippy::too_many_arguments)]
    pub fn expand(&mut self, k: &Key, seq: u32, ack: u32, tsval: Option<u32>, rcvbuf: u64, can_accept: bool, cookies: bool, now: f64) -> Expanded<T> {
        if let Some(e) = self.entries.get(k) {
            let d = seq.wrapping_sub(e.irs);
            if ack != e.iss.wrapping_add(1) || d == 0 || u64::from(d) > rcvbuf.min(0xFFFF) {
                return Expanded::BadAck;
            }
            if !can_accept {
                return Expanded::ListenDrop { cookie: false };
            }
            let Some(e) = self.entries.remove(k) else { return Expanded::NoEntry };
            return Expanded::Established(Completed {
                iss: e.iss,
                irs: e.irs,
                peer_mss: e.peer_mss,
                wscale: e.wscale,
                sack_ok: e.sack_ok,
                ts: e.ts,
                ecn_ok: e.ecn_ok,
                scope: e.scope,
                rtt_from: if e.rexmits == 0 { Some(e.sent) } else { None },
                ts_off: e.ts_off,
                cookie: false,
                lso: Some(e.lso),
            });
        }
        if !cookies {
            return Expanded::NoEntry;
        }
        let (iss, irs) = (ack.wrapping_sub(1), seq.wrapping_sub(1));
        let Some((mss, ws, sack)) = self.cookie_check(k, irs, iss, now) else { return Expanded::BadAck };
        if !can_accept {
            return Expanded::ListenDrop { cookie: true };
        }
        Expanded::Established(Completed {
            iss,
            irs,
            peer_mss: Some(mss),
            wscale: ws,
            sack_ok: sack,
            ts: tsval,
            ecn_ok: false,
            scope: 0,
            rtt_from: None,
            ts_off: self.ts_offset(k),
            cookie: true,
            lso: None,
        })
    }

    /// `syncache_chkrst`: only a RST at exactly IRS+1 removes the entry
    /// (RFC 5961 §3); true when it did.
    pub fn chkrst(&mut self, k: &Key, seq: u32) -> bool {
        match self.entries.get(k) {
            Some(e) if seq == e.irs.wrapping_add(1) => self.entries.remove(k).is_some(),
            _ => false,
        }
    }

    /// `syncache_unreach`: an ICMP error quoting our SYN,ACK (its sequence
    /// number `seq`) removes the entry; true when it did.
    pub fn unreach(&mut self, k: &Key, seq: u32) -> bool {
        match self.entries.get(k) {
            Some(e) if seq == e.iss => self.entries.remove(k).is_some(),
            _ => false,
        }
    }

    /// When the next SYN,ACK retransmission (or expiry) is due.
    pub fn next_deadline(&mut self) -> Option<f64> {
        while let Some(d) = self.due.peek().copied() {
            match self.entries.get(&d.2) {
                Some(e) if e.gen == d.1 => return Some(d.0),
                _ => {
                    self.due.pop();
                }
            }
        }
        None
    }

    /// The timers due by `now`: each entry's SYN,ACK again after
    /// `rexmit_initial` × 1, 2, 4, then the entry dropped. Returns the
    /// retransmissions (key, scope, listener, SYN,ACK) and the count dropped.
    #[allow(clippy::type_complexity)]
    pub fn expire(&mut self, now: f64, rexmit_initial: f64) -> (Vec<(Key, u32, T, Vec<u8>)>, u64) {
        let mut out = Vec::new();
        let mut stale = 0u64;
        while let Some(d) = self.due.peek().copied() {
            if d.0 > now {
                break;
            }
            self.due.pop();
            let Some(e) = self.entries.get_mut(&d.2) else { continue };
            if e.gen != d.1 {
                continue;
            }
            if e.rexmits >= SYNCACHE_MAXREXMTS {
                self.entries.remove(&d.2);
                stale += 1;
                continue;
            }
            e.rexmits += 1;
            let seg = Self::synack(&d.2, e.iss, e.irs, e.wscale, e.sack_ok, Self::tsopt(e.ts, e.ts_off, now), e.ecn_ok, &e.offer);
            out.push((d.2, e.scope, e.lso.clone(), seg));
            let when = now + rexmit_initial * f64::from(1u32 << e.rexmits);
            self.arm(d.2, when);
        }
        (out, stale)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.due.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::seg::Segment;

    fn pol() -> Policy {
        Policy { rfc1323: 1, sack_enable: true, ecn_enable: true, syncookies: true, syncookies_only: false, cachelimit: 2, rexmit_initial: 1.0 }
    }

    fn key(p: u16) -> Key {
        Key::new(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 80, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], p).unwrap()
    }

    #[test]
    fn add_expand_and_bound() {
        let mut c: SynCache<u8> = SynCache::new(&[7; 32]);
        let syn = Syn { seq: 1000, flags: 0x02, mss: Some(1440), wscale: Some(7), sack_permitted: true, tsval: Some(5) };
        let offer = Offer { mss: 1440, rcvbuf: 65536 };
        let (a, seg) = c.add(key(1), &syn, 0, offer, 1, &pol(), 10.0);
        assert_eq!(a, Added::Entry { replaced: false });
        let s = Segment::parse(&seg.unwrap(), Some(&key(1).pseudo_out())).unwrap();
        assert_eq!((s.ack, s.flags, s.opts.mss, s.opts.wscale, s.opts.sack_permitted), (1001, 0x12, Some(1440), Some(1), true));
        assert_eq!(c.add(key(1), &syn, 0, offer, 1, &pol(), 10.1).0, Added::Resent);
        c.add(key(2), &syn, 0, offer, 1, &pol(), 10.0);
        // the bound: a cookie, no entry
        let (a, seg) = c.add(key(3), &syn, 0, offer, 1, &pol(), 10.0);
        assert_eq!(a, Added::Cookie { replaced: false, overflow: true });
        assert_eq!(c.len(), 2);
        let ck = Segment::parse(&seg.unwrap(), None).unwrap();
        match c.expand(&key(3), 1001, ck.seq.wrapping_add(1), None, 65536, true, true, 70.0) {
            Expanded::Established(d) => assert_eq!((d.peer_mss, d.wscale, d.sack_ok, d.cookie), (Some(1440), Some(7), true, true)),
            e => panic!("{e:?}"),
        }
        assert_eq!(c.expand(&key(3), 1001, ck.seq.wrapping_add(1), None, 65536, true, true, 200.0), Expanded::BadAck);
        assert_eq!(c.expand(&key(1), 1001, s.seq, None, 65536, true, true, 10.2), Expanded::BadAck);
        assert_eq!(c.expand(&key(1), 1001, s.seq.wrapping_add(1), None, 65536, false, true, 10.2), Expanded::ListenDrop { cookie: false });
        assert!(matches!(c.expand(&key(1), 1001, s.seq.wrapping_add(1), None, 65536, true, true, 10.2), Expanded::Established(_)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn timers_back_off_then_drop() {
        let mut c: SynCache<u8> = SynCache::new(&[1; 32]);
        let syn = Syn { seq: 1, flags: 0x02, ..Syn::default() };
        c.add(key(9), &syn, 0, Offer { mss: 1220, rcvbuf: 1000 }, 0, &pol(), 0.0);
        let mut sent = vec![];
        let mut stale = 0;
        let mut t = 0.0;
        while let Some(d) = c.next_deadline() {
            t = d;
            let (o, s) = c.expire(t, 1.0);
            sent.extend(o.into_iter().map(|x| x.0));
            stale += s;
        }
        assert_eq!((sent.len(), stale, t), (3, 1, 15.0));
        assert!(c.is_empty());
    }

    #[test]
    fn random_operation_sequences() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for n in 0..400 {
            let len = 1 + (n * 37) % 700;
            let mut d = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                d.push((x >> 24) as u8);
            }
            crate::tcp::syncache_ops::run_ops(&d);
        }
    }

    #[test]
    fn floordiv_like_python() {
        assert_eq!(py_floordiv(127.99, 64.0), 1);
        assert_eq!(py_floordiv(128.0, 64.0), 2);
        assert_eq!(py_floordiv(-0.5, 64.0), -1);
    }
}
