//! Column memory of a batch in one block of huge pages.
//!
//! A batch kept whole (a table) needs fresh memory for every one of its
//! buffers, and fresh memory costs a page fault per 4 KB page: about as
//! much as parsing the row. One anonymous map per batch, aligned to 2 MB
//! and advised `MADV_HUGEPAGE`, costs a fault per 2 MB instead (where the
//! kernel allows transparent huge pages on advice; elsewhere it is plain
//! memory). The block is cut into the batch's fixed columns and bitmaps
//! ([`Buf`]s, each a disjoint range of it), shared by reference
//! count: it is unmapped (or kept for later batches, see [`POOL_MAX`])
//! when the last of its buffers is dropped, whichever owns it then (the
//! builder, or a pyarrow array through `kame._core.ColumnBuffer`).

use std::sync::{Arc, Mutex};

/// The size of a huge page (x86-64, aarch64 with 4 KB base pages).
pub const HUGE: usize = 2 << 20;

/// Octets of blocks kept for later batches when their buffers are all
/// dropped (a table of about 1.6 M rows, as the C allocator keeps freed
/// memory of its own): their pages, mapped already, cost a `memset`
/// where a fresh page costs the kernel's clearing and a fault. A block
/// kept is advised `MADV_FREE`: the kernel takes its pages back when it
/// needs memory (they read as zeros then), else they stay mapped.
pub const POOL_MAX: usize = 256 << 20;

/// One anonymous map, `HUGE`-aligned, a multiple of `HUGE` long.
#[derive(Debug)]
struct Map {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the map is owned by this value alone (moved, never copied);
// which octets of it are written is governed by the `Buf`s cut from it
// (disjoint ranges, see `Block`).
unsafe impl Send for Map {}

impl Map {
    /// A fresh zero-filled map of at least `len` octets (`len` > 0), or
    /// None if the kernel refuses one.
    fn new(len: usize) -> Option<Map> {
        let len = len.div_ceil(HUGE).checked_mul(HUGE)?;
        let over = len.checked_add(HUGE)?;
        // SAFETY: a fresh private anonymous map; checked before use.
        let p = unsafe { libc::mmap(core::ptr::null_mut(), over, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if p == libc::MAP_FAILED {
            return None;
        }
        let start = p as usize;
        let at = start.div_ceil(HUGE) * HUGE;
        let (head, tail) = (at - start, over - (at - start) - len);
        // SAFETY: the slack before and after the aligned `len` octets
        // is unmapped (both inside the map just made, page-aligned since
        // `at` and `len` are multiples of HUGE and `p` of the page size);
        // the advice is on the remaining map, and harmless if refused.
        unsafe {
            if head != 0 {
                libc::munmap(p, head);
            }
            if tail != 0 {
                libc::munmap((at + len) as *mut libc::c_void, tail);
            }
            libc::madvise(at as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
        Some(Map { ptr: at as *mut u8, len })
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the map made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Maps whose buffers are all gone, for later batches; the first `.1`
/// octets of each may be non-zero.
static POOL: Mutex<Vec<(Map, usize)>> = Mutex::new(Vec::new());

/// A map of column memory, shared by the `Buf`s cut from it.
#[derive(Debug)]
pub struct Block {
    map: Option<Map>,
    /// Octets handed out (and possibly written).
    used: usize,
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(map) = self.map.take() {
            if let Ok(mut pool) = POOL.lock() {
                if pool.iter().map(|(m, _)| m.len).sum::<usize>() + map.len <= POOL_MAX {
                    // SAFETY: advice on the map this block owns, which no
                    // `Buf` refers to any more; its octets are zeroed
                    // before reuse (`cut`), whatever the kernel did.
                    unsafe { libc::madvise(map.ptr.cast(), map.len, libc::MADV_FREE) };
                    pool.push((map, self.used));
                }
            }
        }
    }
}

impl Block {
    /// A zero-filled block cut into buffers of the octet lengths `lens`
    /// (each starting on a 64-octet line), in order; None when no map
    /// could be made (the caller falls back to the heap).
    pub fn cut(lens: &[usize]) -> Option<Vec<Buf>> {
        // Buffer `i` starts on a 4 KB page boundary plus (17 i mod 64)
        // lines: the columns of one batch are written a row at a time,
        // and buffers whose lengths are multiples of 4 KB (most are, for
        // 65536 rows) laid end to end in a huge page would put the row's
        // line of every column in the same L1 set (and L2 set: physical
        // addresses follow the virtual ones within a huge page), evicting
        // each other's half-written lines. Staggered, 64 buffers meet in
        // 64 different sets.
        let mut at = Vec::with_capacity(lens.len());
        let mut total = 0usize;
        for (i, &l) in lens.iter().enumerate() {
            let start = total.checked_add(4095)? / 4096 * 4096 + (i * 17 % 64) * 64;
            at.push(start);
            total = start.checked_add(l)?;
        }
        if total == 0 {
            return None;
        }
        let reused = POOL.lock().ok().and_then(|mut pool| {
            let i = pool.iter().position(|(m, _)| m.len >= total && m.len <= total.saturating_mul(2).saturating_add(HUGE))?;
            Some(pool.swap_remove(i))
        });
        let map = match reused {
            Some((map, dirty)) => {
                // SAFETY: zeroing the octets a former batch wrote, inside
                // the map (`dirty` <= its length), which no `Buf` refers
                // to any more (the pool holds only maps of dropped blocks).
                unsafe { core::ptr::write_bytes(map.ptr, 0, dirty.min(map.len)) };
                map
            }
            None => Map::new(total)?,
        };
        let base = map.ptr;
        let block = Arc::new(Block { map: Some(map), used: total });
        Some(
            at.iter()
                .zip(lens)
                // SAFETY (of the pointer arithmetic): `a + l <= total <=
                // map.len`, so each range lies inside the map.
                .map(|(&a, &l)| Buf { ptr: base.wrapping_add(a), len: l, cap: l, owner: Owner::Block(Arc::clone(&block)) })
                .collect(),
        )
    }
}

/// Who owns a [`Buf`]'s octets.
enum Owner {
    /// A vector whose pointer and length the `Buf` mirrors.
    Heap(Vec<u8>),
    /// A range of a block, which no other `Buf` overlaps.
    Block(#[allow(dead_code)] Arc<Block>),
}

/// A column buffer: on the heap, or a range of a [`Block`]. Its octets
/// are `len` at `ptr` whoever owns them, so that reading or writing one
/// costs what a `Vec<u8>`'s does (no branch on the owner in the row
/// loop).
pub struct Buf {
    ptr: *mut u8,
    len: usize,
    /// Octets it can hold without moving.
    cap: usize,
    owner: Owner,
}

// SAFETY: a `Buf` is the only way to its octets (a vector it owns, or its
// range of a block: the ranges of one block are disjoint), so it is as a
// `Vec<u8>` would be: mutated only through `&mut Buf`, read through
// `&Buf`. The block it keeps alive is `Send` + `Sync` (below).
unsafe impl Send for Buf {}
unsafe impl Sync for Buf {}
// SAFETY: dropping a `Block` touches only the map it owns and the pool
// behind its mutex.
unsafe impl Sync for Block {}
unsafe impl Send for Block {}

impl Buf {
    fn heap(mut v: Vec<u8>) -> Buf {
        Buf { ptr: v.as_mut_ptr(), len: v.len(), cap: v.capacity(), owner: Owner::Heap(v) }
    }

    /// Runs `f` on the heap vector (made one first if in a block) and
    /// mirrors its pointer and length after.
    fn with_vec(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        if !matches!(self.owner, Owner::Heap(_)) {
            *self = Buf::heap(self.to_vec());
        }
        if let Owner::Heap(v) = &mut self.owner {
            f(v);
            self.ptr = v.as_mut_ptr();
            self.len = v.len();
            self.cap = v.capacity();
        }
    }
}

impl Default for Buf {
    fn default() -> Self {
        Buf::heap(Vec::new())
    }
}

impl From<Vec<u8>> for Buf {
    fn from(v: Vec<u8>) -> Self {
        Buf::heap(v)
    }
}

impl Clone for Buf {
    fn clone(&self) -> Self {
        Buf::heap(self.to_vec())
    }
}

impl core::fmt::Debug for Buf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for Buf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl Eq for Buf {}

impl PartialEq<Vec<u8>> for Buf {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl core::ops::Deref for Buf {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` octets at `ptr` are the owner's (the vector's
        // initialized octets, mirrored after every change; or this
        // buffer's range of the block this value keeps alive), and only
        // this value refers to them.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl core::ops::DerefMut for Buf {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // access to them.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Buf {
    /// Octets it can hold without moving.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    pub fn truncate(&mut self, n: usize) {
        match &mut self.owner {
            Owner::Heap(v) => {
                v.truncate(n);
                self.len = v.len();
            }
            Owner::Block(_) => self.len = self.len.min(n),
        }
    }

    /// `n` octets long, zero-filled past what it held (a block's buffer
    /// that must grow past its room moves to the heap).
    pub fn resize_zeroed(&mut self, n: usize) {
        if matches!(self.owner, Owner::Block(_)) && n <= self.cap {
            if n > self.len {
                // SAFETY: [len, n) lies inside this buffer's range of the
                // block (n <= cap), which only `self` refers to.
                unsafe { core::ptr::write_bytes(self.ptr.wrapping_add(self.len), 0, n - self.len) };
            }
            self.len = n;
            return;
        }
        self.with_vec(|v| v.resize(n, 0));
    }

    /// The heap vector, if it is one (a block's buffer is given back by
    /// being dropped).
    pub fn into_heap(self) -> Option<Vec<u8>> {
        match self.owner {
            Owner::Heap(v) => Some(v),
            Owner::Block(_) => None,
        }
    }

    /// Whether it lies in a block.
    pub fn in_block(&self) -> bool {
        matches!(self.owner, Owner::Block(_))
    }

    /// Moved to the heap (a short tail batch, so that it does not keep a
    /// block of room resident).
    pub fn to_heap(&mut self) {
        if self.in_block() {
            *self = Buf::heap(self.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_zeroed_disjoint_and_reused() {
        for round in 0..3 {
            let mut bufs = Block::cut(&[100, 3 << 20, 1, 0, 5000]).unwrap();
            assert_eq!(bufs.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![100, 3 << 20, 1, 0, 5000]);
            for (i, b) in bufs.iter_mut().enumerate() {
                assert!(b.iter().all(|&x| x == 0), "round {round} buffer {i} not zero");
                b.fill(i as u8 + 1);
            }
            for (i, b) in bufs.iter().enumerate() {
                assert!(b.iter().all(|&x| x == i as u8 + 1));
            }
            let mut last = bufs.pop().unwrap();
            last.resize_zeroed(6000);
            assert!(!last.in_block());
            assert_eq!(last[4999], 5);
            assert_eq!(last[5000], 0);
            bufs[0].truncate(10);
            bufs[0].resize_zeroed(20);
            assert_eq!(&bufs[0][..], &[[1; 10], [0; 10]].concat()[..]);
        }
    }
}
