//! `tcp_reass`: the out-of-order queue of one connection (RFC 9293 §3.10.7.4,
//! "segment text"), bounded in octets and in blocks so a peer that sprays
//! gaps across the whole window cannot grow it past what the receive
//! buffer would hold (FreeBSD `net.inet.tcp.reass.maxqueuelen`).
//!
//! Data is held as disjoint, non-adjacent blocks keyed by 64-bit absolute
//! sequence numbers; a segment that overlaps or touches blocks is merged
//! into one (the octets that arrived first win). Each block remembers when
//! it last grew, so [`Reass::sack_blocks`] reports the most recent first
//! (RFC 2018 §4).

/// What [`Reass::insert`] did with a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Stored; this many octets were new.
    Stored(u64),
    /// Every octet was already queued (or below `rcv_nxt`).
    Duplicate,
    /// Refused: the queue is at its octet or block bound.
    Full,
}

#[derive(Debug, Clone)]
struct Block {
    start: u64,
    data: Vec<u8>,
    stamp: u64,
}

impl Block {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// The queue; see the module documentation.
#[derive(Debug, Clone)]
pub struct Reass {
    blocks: Vec<Block>,
    bytes: u64,
    cap_bytes: u64,
    max_blocks: usize,
    clock: u64,
}

impl Reass {
    pub fn new(cap_bytes: u64, max_blocks: usize) -> Reass {
        Reass { blocks: Vec::new(), bytes: 0, cap_bytes, max_blocks: max_blocks.max(1), clock: 0 }
    }

    /// Octets queued.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Blocks queued.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn set_bounds(&mut self, cap_bytes: u64, max_blocks: usize) {
        self.cap_bytes = cap_bytes;
        self.max_blocks = max_blocks.max(1);
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.bytes = 0;
    }

    /// The highest sequence number held plus one, if any.
    pub fn end(&self) -> Option<u64> {
        self.blocks.last().map(Block::end)
    }

    /// Queue `data` starting at `seq`; octets below `rcv_nxt` are trimmed.
    /// A segment that reaches `rcv_nxt` is always taken (it is what lets
    /// the queue drain); others are refused past the bounds.
    pub fn insert(&mut self, seq: u64, data: &[u8], rcv_nxt: u64) -> Insert {
        let end = seq.saturating_add(data.len() as u64);
        if end <= rcv_nxt || data.is_empty() {
            return Insert::Duplicate;
        }
        let (start, data) = if seq < rcv_nxt {
            let cut = usize::try_from(rcv_nxt - seq).unwrap_or(usize::MAX);
            (rcv_nxt, data.get(cut..).unwrap_or(&[]))
        } else {
            (seq, data)
        };
        // blocks that overlap or touch [start, end)
        let first = self.blocks.partition_point(|b| b.end() < start);
        let last = self.blocks.partition_point(|b| b.start <= end);
        let merged = self.blocks.get(first..last).unwrap_or(&[]);
        let old: u64 = merged.iter().map(|b| b.data.len() as u64).sum();
        let lo = merged.first().map_or(start, |b| b.start.min(start));
        let hi = merged.last().map_or(end, |b| b.end().max(end));
        let new = (hi - lo) - old;
        if new == 0 {
            self.clock += 1;
            if let Some(b) = self.blocks.get_mut(first) {
                b.stamp = self.clock;
            }
            return Insert::Duplicate;
        }
        let drains = start <= rcv_nxt;
        if !drains && (self.bytes + new > self.cap_bytes || (merged.is_empty() && self.blocks.len() >= self.max_blocks)) {
            return Insert::Full;
        }
        let Ok(n) = usize::try_from(hi - lo) else {
            return Insert::Full;
        };
        let mut buf = vec![0u8; n];
        let put = |buf: &mut Vec<u8>, at: u64, d: &[u8]| {
            let off = usize::try_from(at - lo).unwrap_or(0);
            if let Some(dst) = buf.get_mut(off..off + d.len()) {
                dst.copy_from_slice(d);
            }
        };
        put(&mut buf, start, data);
        for b in merged {
            put(&mut buf, b.start, &b.data); // what arrived first wins
        }
        self.clock += 1;
        let blk = Block { start: lo, data: buf, stamp: self.clock };
        self.blocks.splice(first..last, [blk]);
        self.bytes += new;
        Insert::Stored(new)
    }

    /// The in-order octets from `rcv_nxt` on, removed from the queue (empty
    /// when the first block does not reach `rcv_nxt`).
    pub fn pull(&mut self, rcv_nxt: u64) -> Vec<u8> {
        match self.blocks.first() {
            Some(b) if b.start <= rcv_nxt => {}
            _ => return Vec::new(),
        }
        let b = self.blocks.remove(0);
        self.bytes -= b.data.len() as u64;
        if b.end() <= rcv_nxt {
            return self.pull(rcv_nxt);
        }
        let cut = usize::try_from(rcv_nxt - b.start).unwrap_or(0);
        let mut d = b.data;
        d.drain(..cut.min(d.len()));
        d
    }

    /// Up to `n` blocks as (left, right) absolute edges, the most recently
    /// grown first (RFC 2018 §4).
    pub fn sack_blocks(&self, n: usize) -> Vec<(u64, u64)> {
        let mut v: Vec<&Block> = self.blocks.iter().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.stamp));
        v.into_iter().take(n).map(|b| (b.start, b.end())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_holes_in_any_order() {
        let mut q = Reass::new(1 << 20, 64);
        assert_eq!(q.insert(110, b"klmno", 100), Insert::Stored(5));
        assert_eq!(q.insert(105, b"fghij", 100), Insert::Stored(5));
        assert_eq!(q.len(), 1);
        assert_eq!(q.insert(107, b"hij", 100), Insert::Duplicate);
        assert_eq!(q.pull(100), b"");
        assert_eq!(q.insert(98, b"yzabcdefg", 100), Insert::Stored(5));
        assert_eq!(q.pull(100), b"abcdefghijklmno");
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn first_arrival_wins_and_sack_order() {
        let mut q = Reass::new(1 << 20, 64);
        q.insert(10, b"AAAA", 0);
        q.insert(20, b"BBBB", 0);
        q.insert(30, b"CCCC", 0);
        assert_eq!(q.sack_blocks(3), vec![(30, 34), (20, 24), (10, 14)]);
        q.insert(12, b"xxxxx", 0);
        assert_eq!(q.sack_blocks(1), vec![(10, 17)]);
        q.insert(0, b"0123456789", 0);
        assert_eq!(q.pull(0), b"0123456789AAAAxxx");
    }

    #[test]
    fn bounded() {
        let mut q = Reass::new(10, 2);
        assert_eq!(q.insert(10, b"12345", 0), Insert::Stored(5));
        assert_eq!(q.insert(20, b"12345", 0), Insert::Stored(5));
        assert_eq!(q.insert(30, b"1", 0), Insert::Full);
        assert_eq!(q.insert(15, b"1", 0), Insert::Full); // would exceed octets
        // the segment at rcv_nxt is always taken
        assert_eq!(q.insert(0, b"0123456789", 0), Insert::Stored(10));
        assert_eq!(q.pull(0).len(), 15);
        assert_eq!(q.end(), Some(25));
    }
}
