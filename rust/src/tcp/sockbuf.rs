//! `so_snd` and `so_rcv` of a stream socket: byte queues with a high-water
//! mark (`SO_SNDBUF`, `SO_RCVBUF`). The send buffer keeps every octet until
//! it is acknowledged, so `tcp_output` reads any range of it again to
//! retransmit.

use std::collections::VecDeque;

/// The send buffer: unacknowledged and unsent octets.
#[derive(Debug, Clone, Default)]
pub struct SendBuf {
    q: VecDeque<u8>,
    pub cap: usize,
}

impl SendBuf {
    pub fn new(cap: usize) -> SendBuf {
        SendBuf { q: VecDeque::new(), cap }
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Room left under the high-water mark.
    pub fn space(&self) -> usize {
        self.cap.saturating_sub(self.q.len())
    }

    /// Append as much of `data` as fits; returns the count taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.space());
        self.q.extend(data.get(..n).unwrap_or(&[]));
        n
    }

    /// A copy of `len` octets from `off` (fewer at the end).
    pub fn peek(&self, off: usize, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; self.peek_len(off, len)];
        self.peek_into(off, &mut out);
        out
    }

    /// How many octets [`SendBuf::peek`] gives for `off` and `len`.
    pub fn peek_len(&self, off: usize, len: usize) -> usize {
        off.saturating_add(len).min(self.q.len()).saturating_sub(off)
    }

    /// Copy the octets from `off` into `out` (as many as there are); the count.
    pub fn peek_into(&self, off: usize, out: &mut [u8]) -> usize {
        let end = off.saturating_add(out.len()).min(self.q.len());
        if off >= end {
            return 0;
        }
        let (a, b) = self.q.as_slices();
        let mut k = 0;
        if off < a.len() {
            let s = a.get(off..end.min(a.len())).unwrap_or(&[]);
            if let Some(d) = out.get_mut(..s.len()) {
                d.copy_from_slice(s);
            }
            k = s.len();
        }
        if end > a.len() {
            let s = b.get(off.saturating_sub(a.len())..end - a.len()).unwrap_or(&[]);
            if let Some(d) = out.get_mut(k..k + s.len()) {
                d.copy_from_slice(s);
            }
            k += s.len();
        }
        k
    }

    /// Octets of room the queue holds allocated (it keeps that of its
    /// fullest moment until [`SendBuf::shrink`]).
    pub fn allocated(&self) -> usize {
        self.q.capacity()
    }

    /// Give back the room beyond what is queued.
    pub fn shrink(&mut self) {
        self.q.shrink_to_fit();
    }

    /// Forget the first `n` octets (acknowledged).
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.q.len());
        self.q.drain(..n);
    }

    pub fn clear(&mut self) {
        self.q.clear();
    }
}

/// The receive buffer: in-order octets the application has not read.
#[derive(Debug, Clone, Default)]
pub struct RecvBuf {
    q: VecDeque<u8>,
    pub cap: usize,
}

impl RecvBuf {
    pub fn new(cap: usize) -> RecvBuf {
        RecvBuf { q: VecDeque::new(), cap }
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    pub fn space(&self) -> usize {
        self.cap.saturating_sub(self.q.len())
    }

    /// Octets of room the queue holds allocated.
    pub fn allocated(&self) -> usize {
        self.q.capacity()
    }

    /// Give back the room beyond the unread octets.
    pub fn shrink(&mut self) {
        self.q.shrink_to_fit();
    }

    /// Append `data` whole: the window the peer was given allows it even
    /// when the application shrank `SO_RCVBUF` meanwhile.
    pub fn write(&mut self, data: &[u8]) {
        self.q.extend(data);
    }

    /// Remove and return up to `n` octets.
    pub fn read(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n.min(self.q.len())];
        let k = self.read_into(&mut out);
        out.truncate(k);
        out
    }

    /// Move the first octets into `out` (as many as fit); the count.
    pub fn read_into(&mut self, out: &mut [u8]) -> usize {
        let k = self.peek_into(out);
        self.q.drain(..k);
        k
    }

    /// Copy the first octets into `out` without removing them; the count.
    pub fn peek_into(&self, out: &mut [u8]) -> usize {
        let k = out.len().min(self.q.len());
        let (a, b) = self.q.as_slices();
        let ka = k.min(a.len());
        if let (Some(d), Some(s)) = (out.get_mut(..ka), a.get(..ka)) {
            d.copy_from_slice(s);
        }
        if let (Some(d), Some(s)) = (out.get_mut(ka..k), b.get(..k - ka)) {
            d.copy_from_slice(s);
        }
        k
    }

    /// A copy of up to `n` octets without removing them (`MSG_PEEK`).
    pub fn peek(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n.min(self.q.len())];
        let k = self.peek_into(&mut out);
        out.truncate(k);
        out
    }

    pub fn clear(&mut self) {
        self.q.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_buffer_ranges() {
        let mut s = SendBuf::new(10);
        assert_eq!(s.write(b"0123456789abc"), 10);
        assert_eq!(s.space(), 0);
        s.drop_front(4);
        assert_eq!(s.write(b"ABCDEF"), 4);
        assert_eq!(s.peek(0, 100), b"456789ABCD");
        assert_eq!(s.peek(5, 3), b"9AB");
        assert_eq!(s.peek(20, 3), b"");
        s.drop_front(100);
        assert!(s.is_empty());
    }

    #[test]
    fn recv_buffer() {
        let mut r = RecvBuf::new(4);
        r.write(b"abcdef");
        assert_eq!(r.space(), 0);
        assert_eq!(r.peek(2), b"ab");
        assert_eq!(r.read(4), b"abcd");
        assert_eq!(r.read(4), b"ef");
        assert!(r.is_empty());
    }

    #[test]
    fn shrink_gives_back_the_room_of_the_fullest_moment() {
        let mut s = SendBuf::new(1 << 16);
        s.write(&[7u8; 50_000]);
        s.drop_front(50_000);
        assert!(s.allocated() >= 50_000);
        s.shrink();
        assert_eq!(s.allocated(), 0);
        let mut r = RecvBuf::new(1 << 16);
        r.write(&[1u8; 40_000]);
        r.read(39_000);
        assert!(r.allocated() >= 40_000);
        r.shrink();
        assert!(r.allocated() >= 1000 && r.allocated() < 2000);
        assert_eq!(r.read(5000), vec![1u8; 1000]);
    }
}
