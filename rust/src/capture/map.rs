//! A capture file mapped into memory, read in place: records are parsed
//! where the page cache holds them, with no copy into a buffer of ours.
//!
//! The map is private and read-only. As with any mapped file, a file
//! truncated by another process while it is read faults the reader
//! (SIGBUS); `kame.capture` maps only regular files given by path.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Octets made resident ahead of the reader at a time (`MADV_POPULATE_READ`,
/// Linux 5.14 and later; an older kernel just faults them in one by one).
pub const AHEAD: usize = 32 << 20;

/// The least a reader that ramps up ([`Mapped::ramp`]) asks resident at
/// the start of a file.
pub const AHEAD_FIRST: usize = 1 << 20;

/// A whole file, mapped read-only.
#[derive(Debug)]
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and private, owned by this value alone;
// sharing `&[u8]` views of it between threads is what a `Vec<u8>` allows.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

#[cfg(target_os = "linux")]
const POPULATE_READ: libc::c_int = 22; // MADV_POPULATE_READ
#[cfg(not(target_os = "linux"))]
const POPULATE_READ: libc::c_int = libc::MADV_WILLNEED;

impl Mapped {
    /// Map the file at `path` (an empty file maps to no octets).
    pub fn open(path: &Path) -> io::Result<Mapped> {
        Mapped::file(&File::open(path)?)
    }

    /// Map the open regular file `f` (whole, whatever its position).
    pub fn file(f: &File) -> io::Result<Mapped> {
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        let len = usize::try_from(meta.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        if len == 0 {
            return Ok(Mapped { ptr: core::ptr::null_mut(), len: 0 });
        }
        // SAFETY: a fresh private read-only mapping of an open descriptor;
        // the result is checked before use and unmapped in `drop`.
        let ptr = unsafe { libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: advice on the mapping just made; failure is harmless.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Ok(Mapped { ptr, len })
    }

    /// The file's octets.
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable octets for as long as `self` lives.
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// Ask for the octets from `at` on (up to `AHEAD` past it, those
    /// before `done` excepted) to be made resident at once, rather than a
    /// page fault at a time; returns up to where that was asked.
    pub fn ahead(&self, at: usize, done: usize) -> usize {
        self.ahead_by(at, done, AHEAD)
    }

    /// How far ahead of `at` a reader that may stop early asks
    /// ([`Mapped::ahead_by`]): `AHEAD_FIRST` at the start of the file, as
    /// far as it has read once past that, `AHEAD` at most. `kame dissect
    /// -c 1000` of a 200 MB capture reads 1 MB: populating (and then
    /// unmapping) 32 MB for it cost more system time than the whole
    /// dissection; a reader that goes on reaches `AHEAD` after 32 MB.
    pub fn ramp(at: usize) -> usize {
        at.clamp(AHEAD_FIRST, AHEAD)
    }

    /// [`Mapped::ahead`] up to `span` octets past `at`.
    pub fn ahead_by(&self, at: usize, done: usize, span: usize) -> usize {
        let want = at.saturating_add(span).min(self.len);
        if want <= done || self.len == 0 {
            return done;
        }
        let page = 4096;
        let from = done.max(at) / page * page;
        // SAFETY: [from, want) lies inside the mapping (from is rounded
        // down to a page boundary, as madvise requires).
        unsafe { libc::madvise(self.ptr.cast::<u8>().add(from).cast(), want - from, POPULATE_READ) };
        want
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmapping the mapping made in `open`, once.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramping_reader_asks_little_first_then_up_to_ahead() {
        assert_eq!(Mapped::ramp(0), AHEAD_FIRST);
        assert_eq!(Mapped::ramp(24), AHEAD_FIRST);
        assert_eq!(Mapped::ramp(5 << 20), 5 << 20);
        assert_eq!(Mapped::ramp(usize::MAX), AHEAD);
        // A file of 3 pages: asked whole once, then nothing more.
        let path = std::env::temp_dir().join(format!("kame-map-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 3 * 4096]).unwrap();
        let m = Mapped::open(&path).unwrap();
        let done = m.ahead_by(0, 0, Mapped::ramp(0));
        assert_eq!(done, 3 * 4096);
        assert_eq!(m.ahead_by(4096, done, Mapped::ramp(4096)), done);
        assert_eq!(m.bytes()[3 * 4096 - 1], 7);
        let _ = std::fs::remove_file(&path);
    }
}
