//! `kame._core.CaptureColumns`: a capture fed by chunks turned into
//! batches of Arrow column buffers (see `crate::capture`); `kame.capture`
//! wraps each buffer in a pyarrow array without copying it again.

use std::ffi::{c_int, c_void};
use std::path::PathBuf;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use pyo3::{ffi, IntoPyObjectExt};

use super::util::{int_arg, opt_int_arg};
use crate::capture::{self, Bitmap, Builder, Columns, FileColumns, OpenError, Owned};
use crate::error::Error;
use crate::wire::capfile::{self, Reader};
use crate::wire::dissect::Settings;

/// A capture being turned into columns: `feed` it the file's octets in
/// chunks and take the batches each call returns; `close` ends it.
#[pyclass(module = "kame._core", name = "CaptureColumns")]
pub struct CaptureColumns {
    st: State,
    /// The start of a record that the last chunk did not complete.
    buf: Vec<u8>,
}

/// Everything but the pending octets.
struct State {
    reader: Reader,
    /// Absolute offset in the file of the next octet not consumed.
    base: u64,
    builder: Builder,
    batch_rows: usize,
    stop: Option<u64>,
    frames: u64,
    error: Option<Error>,
    done: bool,
}

/// Octets of a chunk appended at a time to a pending record.
const PIECE: usize = 1 << 16;

/// A column buffer built by the core, given to Python as it is: a
/// read-only buffer (the buffer protocol) that pyarrow wraps without a
/// copy and keeps alive for as long as its arrays live.
#[pyclass(module = "kame._core", name = "ColumnBuffer", frozen)]
pub struct ColumnBuffer {
    data: Vec<u8>,
}

#[pymethods]
impl ColumnBuffer {
    fn __len__(&self) -> usize {
        self.data.len()
    }

    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("null view"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("a column buffer is read-only"));
        }
        let (ptr, len) = {
            let d = &slf.get().data;
            (d.as_ptr(), d.len())
        };
        // SAFETY: `view` is the caller's Py_buffer to fill; the values
        // point into `data`, which is never changed (the class is frozen)
        // nor freed while `obj` holds a reference to its owner.
        unsafe {
            (*view).obj = slf.into_any().into_ptr();
            (*view).buf = ptr as *mut c_void;
            (*view).len = isize::try_from(len).unwrap_or(isize::MAX);
            (*view).readonly = 1;
            (*view).itemsize = 1;
            (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT { c"B".as_ptr().cast_mut() } else { core::ptr::null_mut() };
            (*view).ndim = 1;
            (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND { &raw mut (*view).len } else { core::ptr::null_mut() };
            (*view).strides = if flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES { &raw mut (*view).itemsize } else { core::ptr::null_mut() };
            (*view).suboffsets = core::ptr::null_mut();
            (*view).internal = core::ptr::null_mut();
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// Buffers of batches that Python is done with (every array over them
/// gone), for the room of the next batches of a `CaptureFile`: pages
/// already mapped cost less to zero than fresh ones cost in page faults
/// (about a third of a row's cost). At most `capture::SPARE_MAX` kept.
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

impl Drop for ColumnBuffer {
    fn drop(&mut self) {
        let data = core::mem::take(&mut self.data);
        if data.capacity() < 4096 {
            return;
        }
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < capture::SPARE_MAX {
                spare.push(data);
            }
        }
    }
}

/// The spare buffers, taken.
fn spare() -> Vec<Vec<u8>> {
    SPARE.lock().map(|mut s| core::mem::take(&mut *s)).unwrap_or_default()
}

fn given(py: Python<'_>, data: Vec<u8>) -> PyResult<Bound<'_, PyAny>> {
    Bound::new(py, ColumnBuffer { data }).map(Bound::into_any)
}

fn validity(py: Python<'_>, b: Bitmap) -> PyResult<Bound<'_, PyAny>> {
    if b.zeros == 0 {
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < capture::SPARE_MAX {
                spare.push(b.bits);
            }
        }
        return Ok(py.None().into_bound(py));
    }
    given(py, b.bits)
}

/// `{name: (null_count, validity or None, values, offsets or None)}` and
/// the row count under "rows"; the buffers are the core's, not copies.
fn export(py: Python<'_>, c: Columns) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rows", c.rows)?;
    for (name, col) in c.into_each() {
        let (zeros, valid, data, offsets) = match col {
            Owned::Fixed(data, valid) => (valid.zeros, validity(py, valid)?, given(py, data)?, py.None().into_bound(py)),
            Owned::Var(data, offsets, valid) => (valid.zeros, validity(py, valid)?, given(py, data)?, given(py, offsets)?),
            Owned::Bool(values, valid) => (valid.zeros, validity(py, valid)?, given(py, values.bits)?, py.None().into_bound(py)),
        };
        d.set_item(name, PyTuple::new(py, [zeros.into_bound_py_any(py)?, valid, data, offsets])?)?;
    }
    Ok(d)
}

/// A capture file read as batches of columns, mapped into memory (see
/// `crate::capture::FileColumns`): the whole file, or the records of a
/// pcap that start in `[start, stop)`.
#[pyclass(module = "kame._core", name = "CaptureFile")]
pub struct CaptureFile {
    fc: FileColumns,
}

#[pymethods]
impl CaptureFile {
    /// `lean` False builds every row by the general dissection (the same
    /// columns, slower: for comparisons).
    #[new]
    #[pyo3(signature = (path, *, batch_rows = 65536, hdrnestlimit = 50, verify_cksum = true, max_caplen = capfile::MAX_CAPLEN, start = 0, stop = None, lean = true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        #[pyo3(from_py_with = int_arg)] batch_rows: usize,
        #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
        verify_cksum: bool,
        #[pyo3(from_py_with = int_arg)] max_caplen: u32,
        #[pyo3(from_py_with = int_arg)] start: u64,
        #[pyo3(from_py_with = opt_int_arg)] stop: Option<u64>,
        lean: bool,
    ) -> PyResult<CaptureFile> {
        if batch_rows == 0 || batch_rows > 1 << 24 {
            return Err(PyValueError::new_err("batch_rows must be between 1 and 16777216"));
        }
        let settings = Settings { hdrnestlimit, verify_cksum };
        match py.detach(|| FileColumns::open(&path, settings, batch_rows, max_caplen, start, stop)) {
            Ok(mut fc) => {
                fc.set_lean(lean);
                Ok(CaptureFile { fc })
            }
            Err(OpenError::Io(e)) => Err(PyErr::from(e)),
            Err(OpenError::Invalid(m)) => Err(PyValueError::new_err(m)),
            Err(OpenError::Capture(e)) => Err(e.into()),
        }
    }

    /// The next batch (as `CaptureColumns.feed` gives them), or None at
    /// the end; an error that ended the file early is raised by `close`.
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let spare = spare();
        match py.detach(|| {
            self.fc.give_back(spare);
            self.fc.next_batch()
        }) {
            Some(c) => export(py, c).map(Some),
            None => Ok(None),
        }
    }

    /// Ends the file: raises the error that ended it early, if any.
    fn close(&mut self) -> PyResult<()> {
        self.fc.done = true;
        match self.fc.error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The link type of the capture (of its first interface), once known.
    #[getter]
    fn linktype(&self) -> Option<u32> {
        self.fc.linktype()
    }

    /// Whether the file is a pcap.
    #[getter]
    fn is_pcap(&self) -> bool {
        self.fc.is_pcap()
    }

    /// Records read so far.
    #[getter]
    fn frames(&self) -> u64 {
        self.fc.frames
    }
}

#[pymethods]
impl CaptureColumns {
    /// `batch_rows` bounds every batch; `stop` ends the capture at the first
    /// record that starts at or past that file offset (a byte range's end).
    #[new]
    #[pyo3(signature = (*, batch_rows = 65536, hdrnestlimit = 50, verify_cksum = true, max_caplen = capfile::MAX_CAPLEN, stop = None))]
    fn new(
        #[pyo3(from_py_with = int_arg)] batch_rows: usize,
        #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
        verify_cksum: bool,
        #[pyo3(from_py_with = int_arg)] max_caplen: u32,
        #[pyo3(from_py_with = opt_int_arg)] stop: Option<u64>,
    ) -> PyResult<CaptureColumns> {
        if batch_rows == 0 || batch_rows > 1 << 24 {
            return Err(PyValueError::new_err("batch_rows must be between 1 and 16777216"));
        }
        Ok(CaptureColumns {
            st: State {
                reader: Reader::new(max_caplen),
                base: 0,
                builder: Builder::new(Settings { hdrnestlimit, verify_cksum }),
                batch_rows,
                stop,
                frames: 0,
                error: None,
                done: false,
            },
            buf: Vec::new(),
        })
    }

    /// Turn what `data` completes into rows; `eof` when it is the last
    /// chunk. Returns (the batches completed, whether to stop reading).
    /// A `bytes` chunk is read where it is (only a record it leaves
    /// incomplete is copied); another buffer is copied once.
    fn feed<'py>(&mut self, py: Python<'py>, data: &Bound<'py, PyAny>, eof: bool) -> PyResult<(Vec<Bound<'py, PyDict>>, bool)> {
        if self.st.done {
            return Ok((Vec::new(), true));
        }
        let owned;
        let input: &[u8] = if let Ok(b) = data.cast::<PyBytes>() {
            b.as_bytes()
        } else {
            let pb = PyBuffer::<u8>::get(data)?;
            owned = pb.to_vec(py)?;
            &owned
        };
        let batches = py.detach(|| self.run(input, eof));
        let out = batches.into_iter().map(|c| export(py, c)).collect::<PyResult<Vec<_>>>()?;
        Ok((out, self.st.done))
    }

    /// Skip to file offset `offset` (at or past everything fed so far):
    /// the next octets fed are the file's from there. Only in a pcap,
    /// after its header: the start of a byte range found by `pcap_resync`.
    fn seek(&mut self, #[pyo3(from_py_with = int_arg)] offset: u64) -> PyResult<()> {
        if !self.st.reader.is_pcap() {
            return Err(PyValueError::new_err("seek needs a pcap whose file header has been fed"));
        }
        let end = self.st.base + self.buf.len() as u64;
        if offset < end {
            return Err(PyValueError::new_err(format!("seek to {offset}, before what was fed (up to {end})")));
        }
        let skip = usize::try_from(offset - self.st.base).map_err(|_| PyValueError::new_err("seek too far"))?;
        self.st.reader.consumed(skip);
        self.st.base = offset;
        self.buf.clear();
        Ok(())
    }

    /// Ends the capture: raises the error that ended it early, if any.
    fn close(&mut self) -> PyResult<()> {
        self.st.done = true;
        self.buf = Vec::new();
        match self.st.error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The link type of the capture (of its first interface), once known.
    #[getter]
    fn linktype(&self) -> Option<u32> {
        self.st.reader.linktype()
    }

    /// Whether the capture is a pcap (which can be read by byte ranges).
    #[getter]
    fn is_pcap(&self) -> bool {
        self.st.reader.is_pcap()
    }

    /// Records read so far.
    #[getter]
    fn frames(&self) -> u64 {
        self.st.frames
    }
}

impl CaptureColumns {
    /// Rows of the records `input` completes, the pending record first.
    fn run(&mut self, input: &[u8], eof: bool) -> Vec<Columns> {
        let mut out = Vec::new();
        let mut off = 0usize;
        // A pending record is completed a piece at a time; once the octets
        // kept from earlier chunks are consumed, what is left of the buffer
        // is the chunk's own, and the chunk is read in place from there.
        while !self.buf.is_empty() && !self.st.done {
            let old = self.buf.len();
            let take = (input.len() - off).min(PIECE);
            self.buf.extend_from_slice(input.get(off..off + take).unwrap_or(&[]));
            off += take;
            let last = off == input.len();
            let pos = self.st.parse(&self.buf, eof && last, &mut out);
            self.buf.drain(..pos);
            if pos >= old {
                off -= self.buf.len();
                self.buf.clear();
                break;
            }
            if last {
                break;
            }
        }
        if self.buf.is_empty() && !self.st.done {
            let rest = input.get(off..).unwrap_or(&[]);
            let pos = self.st.parse(rest, eof, &mut out);
            self.buf.extend_from_slice(rest.get(pos..).unwrap_or(&[]));
        }
        let b = &mut self.st.builder;
        if b.full(self.st.batch_rows) || (self.st.done && b.cols.rows != 0) {
            out.push(b.take());
        }
        out
    }
}

impl State {
    /// Rows of the whole records at the start of `buf` (which starts at
    /// `base`); returns the octets consumed.
    fn parse(&mut self, buf: &[u8], eof: bool, out: &mut Vec<Columns>) -> usize {
        let mut pos = 0usize;
        loop {
            match self.reader.next(buf, &mut pos, eof) {
                Ok(Some(rec)) => {
                    if self.stop.is_some_and(|s| rec.offset >= s) {
                        self.done = true;
                        break;
                    }
                    if self.builder.full(self.batch_rows) {
                        out.push(self.builder.take());
                    }
                    self.builder.push(&rec);
                    self.frames += 1;
                }
                Ok(None) => {
                    self.done |= eof;
                    break;
                }
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                    break;
                }
            }
        }
        let pos = pos.min(buf.len());
        self.reader.consumed(pos);
        self.base += pos as u64;
        pos
    }
}

/// Where the first record starts in `window` (see `crate::capture::pcap_resync`).
#[pyfunction]
fn pcap_resync(header: &[u8], first_sec: u32, window: &[u8], window_is_tail: bool) -> Option<usize> {
    capture::pcap_resync(header, first_sec, window, window_is_tail)
}

/// The column names, in schema order, and the verdict dictionary.
#[pyfunction]
fn capture_schema() -> (Vec<&'static str>, Vec<&'static str>) {
    (Columns::NAMES.to_vec(), capture::VERDICTS.to_vec())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CaptureColumns>()?;
    m.add_class::<CaptureFile>()?;
    m.add_class::<ColumnBuffer>()?;
    m.add_function(wrap_pyfunction!(pcap_resync, m)?)?;
    m.add_function(wrap_pyfunction!(capture_schema, m)?)?;
    Ok(())
}
