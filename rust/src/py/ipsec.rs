//! Python bindings for the IPsec transforms: `EspSa` and `AhSa` classes
//! built from setkey algorithm names and keys, with `output` / `input` on
//! whole IP packets, GIL-free batch forms, counters and known-answer hooks.

use std::ffi::{c_int, c_void};

use pyo3::exceptions::{PyBufferError, PyIndexError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMemoryView, PySlice};

use super::util::{ecn_arg, int_arg, ip_addr_arg, owned_vec as owned, with_bytes};

use crate::error::{Error, ErrorKind, Layer};
use crate::ipsec::ah::{AhConfig, AhSa};
use crate::ipsec::algo::{AuthSpec, EncAlg};
use crate::ipsec::batch::{self, ArenaSa, Span};
use crate::ipsec::esp::{EspConfig, EspSa, NAT_T_PORT};
use crate::ipsec::{Kat, Mode, SaStats};
use crate::tunnel::TunnelParams;

fn config(r: &'static str) -> Error {
    Error::new(Layer::Ipsec, ErrorKind::Config, 0, r)
}

/// RFC 4303 §2.1 / RFC 4302 §2.4: SPI 0 is reserved for local use and is
/// never sent on the wire. 1-255 are reserved by IANA but stay accepted here
/// (known-answer vectors use them); setkey, the configuration users write,
/// refuses anything below 256 as KAME's does.
fn spi_nonzero(spi: u32) -> PyResult<()> {
    if spi == 0 {
        return Err(config("spi: 0 is never on the wire (RFC 4303 §2.1, RFC 4302 §2.4)").into());
    }
    Ok(())
}

fn parse_mode(
    mode: &str,
    src: Option<&Bound<'_, PyAny>>,
    dst: Option<&Bound<'_, PyAny>>,
    ecn: Option<&Bound<'_, PyAny>>,
) -> PyResult<Mode> {
    let ecn = ecn.map(ecn_arg).transpose()?.unwrap_or_default();
    match mode {
        "transport" => Ok(Mode::Transport),
        "tunnel" => match (src, dst) {
            (Some(s), Some(d)) => {
                let (s, d) = (ip_addr_arg(s, Layer::Ipsec)?, ip_addr_arg(d, Layer::Ipsec)?);
                if s.is_ipv4() != d.is_ipv4() {
                    return Err(config("tunnel endpoints must both be IPv4 or both IPv6").into());
                }
                let mut t = TunnelParams::new(s, d);
                t.ecn = ecn;
                Ok(Mode::Tunnel(t))
            }
            _ => Err(config("tunnel mode needs tunnel_src and tunnel_dst").into()),
        },
        _ => Err(config("mode must be \"transport\" or \"tunnel\"").into()),
    }
}

/// The seed §4.6 ECN setting of a tunnel-mode SA (0 in transport mode).
fn mode_ecn(m: &Mode) -> i64 {
    match m {
        Mode::Tunnel(t) => t.ecn.sysctl(),
        Mode::Transport => 0,
    }
}

fn parse_udp(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<(u16, u16)>> {
    let Some(o) = obj else { return Ok(None) };
    if o.is_none() {
        return Ok(None);
    }
    if let Ok(b) = o.extract::<bool>() {
        return Ok(if b { Some((NAT_T_PORT, NAT_T_PORT)) } else { None });
    }
    if let Ok(p) = o.extract::<u16>() {
        return Ok(Some((p, p)));
    }
    if let Ok((s, d)) = o.extract::<(u16, u16)>() {
        return Ok(Some((s, d)));
    }
    Err(config("udp_encap must be None, True, a port, or (sport, dport)").into())
}

fn mode_name(m: &Mode) -> &'static str {
    match m {
        Mode::Transport => "transport",
        Mode::Tunnel(_) => "tunnel",
    }
}

fn stats_dict<'py>(py: Python<'py>, s: &SaStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("out_packets", s.out_packets)?;
    d.set_item("out_bytes", s.out_bytes)?;
    d.set_item("in_packets", s.in_packets)?;
    d.set_item("in_bytes", s.in_bytes)?;
    d.set_item("replay_drops", s.replay_drops)?;
    d.set_item("icv_failures", s.icv_failures)?;
    d.set_item("padding_errors", s.padding_errors)?;
    d.set_item("ecn_drops", s.ecn_drops)?;
    d.set_item("other_errors", s.other_errors)?;
    Ok(d)
}

/// The packets of a batch: `bytes` are borrowed (immutable, and kept alive
/// by the list), anything else (bytearray, memoryview) is copied first, so
/// no mutable buffer is borrowed while the GIL is released.
enum Item<'py> {
    Borrowed(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

fn batch_items<'py>(packets: &Bound<'py, PyAny>) -> PyResult<Vec<Item<'py>>> {
    let mut v = Vec::new();
    for item in packets.try_iter()? {
        let item = item?;
        match item.cast_into::<PyBytes>() {
            Ok(b) => v.push(Item::Borrowed(b)),
            Err(e) => v.push(Item::Owned(owned(&e.into_inner())?)),
        }
    }
    Ok(v)
}

/// A batch result as a Python object: `bytes`, or the exception object
/// (not raised) of a packet that failed.
fn result_object(py: Python<'_>, r: Result<&[u8], Error>) -> Py<PyAny> {
    match r {
        Ok(b) => PyBytes::new(py, b).into_any().unbind(),
        Err(e) => PyErr::from(e).into_value(py).into_any(),
    }
}

/// The run on one thread: short, so that a run's packets, their results
/// and the `bytes` made of them stay in the cache together.
const BATCH_RUN_ONE: usize = 32;

/// Run a batch with the GIL released. On one thread, in runs of
/// `BATCH_RUN_ONE` packets written into one buffer, turned into objects
/// between runs; on more, into an arena (see `arena_batch`: a spare
/// buffer, no fresh page, no allocation per packet on the workers), the
/// objects made once it is done.
fn run_batch<'py, S: ArenaSa>(
    py: Python<'py>,
    sa: &mut S,
    packets: &Bound<'py, PyAny>,
    threads: usize,
    arena: ArenaRun<S>,
    each: impl Fn(&mut S, &[&[u8]], &mut Vec<u8>, &mut Vec<Span>) + Send + Sync,
) -> PyResult<Bound<'py, PyList>> {
    let items = batch_items(packets)?;
    let slices: Vec<&[u8]> = items
        .iter()
        .map(|i| match i {
            Item::Borrowed(b) => b.as_bytes(),
            Item::Owned(v) => v.as_slice(),
        })
        .collect();
    let threads = batch::threads_up_to(&slices, threads);
    if threads > 1 {
        let mut data = spare_arena();
        let mut spans = Vec::with_capacity(slices.len());
        py.detach(|| arena(sa, &slices, threads, &mut data, &mut spans));
        let run = PacketRun { data, spans };
        return run.tolist(py);
    }
    let mut out: Vec<Py<PyAny>> = Vec::with_capacity(slices.len());
    // one thread: every packet of a run is written straight into one
    // buffer (no allocation or copy per packet), reused from run to run
    let mut buf: Vec<u8> = Vec::new();
    let mut spans: Vec<Span> = Vec::with_capacity(BATCH_RUN_ONE);
    for chunk in slices.chunks(BATCH_RUN_ONE) {
        buf.clear();
        spans.clear();
        py.detach(|| each(sa, chunk, &mut buf, &mut spans));
        out.extend(spans.drain(..).map(|sp| result_object(py, sp.map(|(a, b)| buf.get(a..b).unwrap_or(&[])))));
    }
    PyList::new(py, out)
}

/// The packets of one batch in one buffer (an arena) that the core owns:
/// ``len()``, ``batch[i]`` (a read-only memoryview of packet ``i``, or the
/// exception object, not raised, of a packet that failed), iteration,
/// ``spans`` (start and end of each packet in the buffer; 0, 0 for a
/// failure), ``errors`` and the buffer protocol over the whole arena.
/// No Python object is made per packet until one is asked for. The
/// arena is never written again while the batch or any view of it lives;
/// when the last goes, it is kept for a later batch (its pages already
/// mapped: no page fault, no allocation).
#[pyclass(name = "PacketRun", module = "kame._core", frozen, sequence)]
pub struct PacketRun {
    data: Vec<u8>,
    spans: Vec<Span>,
}

/// Arenas of batches that Python is done with, for the next batches.
static SPARE_ARENAS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// Arenas kept at most (a producer and a consumer a batch or two apart).
const SPARE_ARENAS_MAX: usize = 4;
/// The largest arena kept (a larger one goes back to the allocator).
const SPARE_ARENA_MOST: usize = 64 << 20;

impl Drop for PacketRun {
    fn drop(&mut self) {
        let mut data = std::mem::take(&mut self.data);
        if data.capacity() < 4096 || data.capacity() > SPARE_ARENA_MOST {
            return;
        }
        data.clear();
        if let Ok(mut spare) = SPARE_ARENAS.lock() {
            if spare.len() < SPARE_ARENAS_MAX {
                spare.push(data);
            }
        }
    }
}

/// A spare arena (the one with the most room), or a new one.
fn spare_arena() -> Vec<u8> {
    let mut spare = SPARE_ARENAS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let best = spare.iter().enumerate().max_by_key(|(_, v)| v.capacity()).map(|(i, _)| i);
    best.map(|i| spare.swap_remove(i)).unwrap_or_default()
}

impl PacketRun {
    fn index(&self, i: isize) -> PyResult<usize> {
        let n = self.spans.len() as isize;
        let j = if i < 0 { i + n } else { i };
        if j < 0 || j >= n {
            return Err(PyIndexError::new_err("packet index out of range"));
        }
        Ok(j as usize)
    }

    fn item(slf: &Bound<'_, Self>, i: usize) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match slf.get().spans.get(i) {
            Some(Ok((a, b))) => {
                let whole = PyMemoryView::from(slf.as_any())?;
                let s = PySlice::new(py, *a as isize, *b as isize, 1);
                Ok(whole.get_item(s)?.unbind())
            }
            Some(Err(e)) => Ok(PyErr::from(*e).into_value(py).into_any()),
            None => Err(PyIndexError::new_err("packet index out of range")),
        }
    }
}

#[pymethods]
impl PacketRun {
    fn __len__(&self) -> usize {
        self.spans.len()
    }

    fn __getitem__(slf: &Bound<'_, Self>, index: isize) -> PyResult<Py<PyAny>> {
        let i = slf.get().index(index)?;
        Self::item(slf, i)
    }

    fn __iter__(slf: Bound<'_, Self>) -> PacketRunIter {
        PacketRunIter { batch: slf.unbind(), next: 0 }
    }

    /// How many packets came out (the others failed).
    #[getter]
    fn ok(&self) -> usize {
        self.spans.iter().filter(|s| s.is_ok()).count()
    }

    /// Octets of the packets that came out, in all.
    #[getter]
    fn octets(&self) -> usize {
        self.spans.iter().map(|s| s.as_ref().map_or(0, |(a, b)| b - a)).sum()
    }

    /// ``[(index, exception), ...]`` of the packets that failed.
    #[getter]
    fn errors(&self, py: Python<'_>) -> Vec<(usize, Py<PyAny>)> {
        self.spans
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().err().map(|e| (i, PyErr::from(*e).into_value(py).into_any())))
            .collect()
    }

    /// Start and end of each packet in the buffer, two native unsigned
    /// 64-bit integers a packet (0, 0 for one that failed), as a
    /// memoryview of format ``Q``.
    #[getter]
    fn spans<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut raw = Vec::with_capacity(self.spans.len() * 16);
        for s in &self.spans {
            let (a, b) = s.as_ref().map_or((0, 0), |&(a, b)| (a as u64, b as u64));
            raw.extend_from_slice(&a.to_ne_bytes());
            raw.extend_from_slice(&b.to_ne_bytes());
        }
        PyMemoryView::from(PyBytes::new(py, &raw).as_any())?.call_method1("cast", ("Q",))
    }

    /// The packets as ``output_many`` gives them: a list of ``bytes`` (the
    /// exception object in place of a packet that failed).
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let d = &self.data;
        PyList::new(py, self.spans.iter().map(|s| result_object(py, (*s).map(|(a, b)| d.get(a..b).unwrap_or(&[])))))
    }

    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("null view"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("a packet batch is read-only"));
        }
        let (ptr, len) = {
            let d = &slf.get().data;
            (d.as_ptr(), d.len())
        };
        // SAFETY: `view` is the caller's Py_buffer to fill; the values
        // point into `data`, which is never changed (the class is frozen)
        // nor freed (nor reused) while `obj` holds a reference to its owner.
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

    fn __repr__(&self) -> String {
        format!("PacketRun({} packets, {} failed, {} octets)", self.spans.len(), self.spans.len() - self.ok(), self.octets())
    }
}

/// Iterating a [`PacketRun`]: its items in order.
#[pyclass(name = "PacketRunIter", module = "kame._core")]
pub struct PacketRunIter {
    batch: Py<PacketRun>,
    next: usize,
}

#[pymethods]
impl PacketRunIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let b = self.batch.bind(py);
        if self.next >= b.get().spans.len() {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        PacketRun::item(b, i).map(Some)
    }
}

/// What an arena batch runs: `batch::output_arena` or `batch::input_arena`.
type ArenaRun<S> = fn(&mut S, &[&[u8]], usize, &mut Vec<u8>, &mut Vec<Span>);

/// Run a batch into an arena (a spare one when there is), the GIL released
/// for all of it.
fn arena_batch<S: ArenaSa>(py: Python<'_>, sa: &mut S, packets: &Bound<'_, PyAny>, threads: usize, run: ArenaRun<S>) -> PyResult<PacketRun> {
    let items = batch_items(packets)?;
    let slices: Vec<&[u8]> = items
        .iter()
        .map(|i| match i {
            Item::Borrowed(b) => b.as_bytes(),
            Item::Owned(v) => v.as_slice(),
        })
        .collect();
    let threads = batch::threads_up_to(&slices, threads);
    let mut data = spare_arena();
    let mut spans = Vec::with_capacity(slices.len());
    py.detach(|| run(sa, &slices, threads, &mut data, &mut spans));
    Ok(PacketRun { data, spans })
}

/// The buffer an SA's single calls write into (kept from call to call,
/// given back to the allocator past `SCRATCH_KEPT` octets, after a
/// jumbogram).
#[derive(Default)]
struct Scratch(Vec<u8>);

const SCRATCH_KEPT: usize = 1 << 17;

impl Scratch {
    /// Run `one` (a single output or input into the buffer) on the
    /// packet's octets and give its packet as `bytes`.
    fn give<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>, one: impl FnOnce(&[u8], &mut Vec<u8>) -> Span) -> PyResult<Bound<'py, PyBytes>> {
        let buf = &mut self.0;
        buf.clear();
        let span = with_bytes(packet, |p| one(p, buf))?;
        let r = span.map(|(a, b)| PyBytes::new(py, buf.get(a..b).unwrap_or(&[])));
        if buf.capacity() > SCRATCH_KEPT {
            *buf = Vec::new();
        }
        Ok(r?)
    }
}

/// An ESP security association (RFC 4303; old ESP RFC 1827/1829 with
/// ``old=True``).
#[pyclass(name = "EspSa", module = "kame._core")]
pub struct PyEspSa {
    inner: EspSa,
    /// where single calls write their packet before it is copied into
    /// its `bytes` (no allocation per call)
    scratch: Scratch,
}

#[pymethods]
impl PyEspSa {
    #[new]
    #[pyo3(signature = (spi, enc="null", enc_key=None, auth=None, auth_key=None, *, mode="transport",
        tunnel_src=None, tunnel_dst=None, replay_window=32, esn=false, udp_encap=None, randpad=-1, old=false, ecn=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        #[pyo3(from_py_with = int_arg)] spi: u32,
        enc: &str,
        enc_key: Option<&Bound<'_, PyAny>>,
        auth: Option<&str>,
        auth_key: Option<&Bound<'_, PyAny>>,
        mode: &str,
        tunnel_src: Option<&Bound<'_, PyAny>>,
        tunnel_dst: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] replay_window: u32,
        esn: bool,
        udp_encap: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] randpad: i32,
        old: bool,
        ecn: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        spi_nonzero(spi)?;
        let enc_alg = EncAlg::parse(enc)?;
        let ek = match enc_key {
            Some(k) => owned(k)?,
            None => Vec::new(),
        };
        let mut cfg = EspConfig::new(spi, enc_alg, &ek);
        if let Some(a) = auth {
            cfg.auth = Some(AuthSpec::parse(a, false)?);
            cfg.auth_key = match auth_key {
                Some(k) => owned(k)?,
                None => Vec::new(),
            };
        }
        cfg.mode = parse_mode(mode, tunnel_src, tunnel_dst, ecn)?;
        cfg.replay_window = replay_window;
        cfg.esn = esn;
        cfg.udp_encap = parse_udp(udp_encap)?;
        cfg.randpad = randpad;
        cfg.old = old;
        Ok(PyEspSa { inner: EspSa::new(cfg)?, scratch: Scratch::default() })
    }

    /// Protect a whole IPv6 or IPv4 packet. ``iv`` and ``pad`` are
    /// known-answer-test hooks only (a fixed IV is insecure).
    #[pyo3(signature = (packet, *, iv=None, pad=None))]
    fn output<'py>(
        &mut self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
        iv: Option<&Bound<'py, PyAny>>,
        pad: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let kat = if iv.is_some() || pad.is_some() {
            Some(Kat { iv: iv.map(owned).transpose()?, pad: pad.map(owned).transpose()? })
        } else {
            None
        };
        if kat.is_some() {
            let out = with_bytes(packet, |p| self.inner.output(p, kat.as_ref()))??;
            return Ok(PyBytes::new(py, &out));
        }
        let (sa, scratch) = (&mut self.inner, &mut self.scratch);
        scratch.give(py, packet, |p, buf| batch::output_one(sa, p, buf))
    }

    /// Verify, decrypt and strip ESP from a whole packet.
    fn input<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let (sa, scratch) = (&mut self.inner, &mut self.scratch);
        scratch.give(py, packet, |p, buf| batch::input_one(sa, p, buf))
    }

    /// ``output`` over a list; the GIL is released while the batch runs. A
    /// packet that fails gives its exception object in its place. With
    /// ``threads`` > 1 a large batch's cryptography is spread over up to
    /// that many threads (the calling one and a persistent pool's workers);
    /// the default, one, is the fastest on a machine whose cores are busy.
    #[pyo3(signature = (packets, *, threads=1))]
    fn output_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::output_arena, batch::output_spans)
    }

    /// ``input`` over a list, GIL released; a dropped packet gives its
    /// exception (IntegrityError, ReplayError, ...) in its place.
    #[pyo3(signature = (packets, *, threads=1))]
    fn input_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::input_arena, batch::input_spans)
    }

    /// ``output`` over a batch into one buffer the core owns (a
    /// ``PacketRun``): each packet copied into it once and encrypted
    /// there, no object per packet; the GIL released for all of it.
    /// ``threads`` as ``output_many``.
    #[pyo3(signature = (packets, *, threads=1))]
    fn output_batch(&mut self, py: Python<'_>, packets: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<PacketRun> {
        arena_batch(py, &mut self.inner, packets, threads, batch::output_arena)
    }

    /// ``input`` over a batch into one buffer (see ``output_batch``); a
    /// dropped packet's item is its exception object.
    #[pyo3(signature = (packets, *, threads=1))]
    fn input_batch(&mut self, py: Python<'_>, packets: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<PacketRun> {
        arena_batch(py, &mut self.inner, packets, threads, batch::input_arena)
    }

    /// Per-SA counters.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.inner.stats)
    }

    #[getter]
    fn spi(&self) -> u32 {
        self.inner.spi
    }

    /// The last sequence number sent (settable for tests).
    #[getter]
    fn get_seq(&self) -> u64 {
        self.inner.seq
    }
    #[setter]
    fn set_seq(&mut self, #[pyo3(from_py_with = int_arg)] seq: u64) {
        self.inner.seq = seq;
    }

    /// Highest sequence number accepted by the replay window (setting it
    /// restarts the window there with no packet marked seen).
    #[getter]
    fn get_replay_top(&self) -> u64 {
        self.inner.replay.top()
    }
    #[setter]
    fn set_replay_top(&mut self, #[pyo3(from_py_with = int_arg)] replay_top: u64) {
        self.inner.replay.reset(replay_top);
    }

    #[getter]
    fn replay_window(&self) -> u32 {
        self.inner.replay.size()
    }

    #[getter]
    fn enc(&self) -> String {
        self.inner.enc().name()
    }

    #[getter]
    fn auth(&self) -> Option<&'static str> {
        let a = self.inner.auth();
        if a.alg == crate::ipsec::AuthAlg::Null { None } else { Some(a.alg.name()) }
    }

    #[getter]
    fn icv_len(&self) -> usize {
        self.inner.icv_len()
    }

    #[getter]
    fn mode(&self) -> &'static str {
        mode_name(&self.inner.mode)
    }

    /// seed §4.6 `net.inet6.ipsec6.ecn` for this tunnel-mode SA: -1, 0, 1,
    /// or 2 (RFC 6040); settable (a name works too).
    #[getter]
    fn get_ecn(&self) -> i64 {
        mode_ecn(&self.inner.mode)
    }
    #[setter]
    fn set_ecn(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.mode = self.inner.mode.with_ecn(ecn_arg(v)?);
        Ok(())
    }

    #[getter]
    fn esn(&self) -> bool {
        self.inner.esn
    }

    #[getter]
    fn old(&self) -> bool {
        self.inner.old
    }

    /// ESP overhead (header, IV, minimal padding, trailer, ICV) for a
    /// payload of ``length`` octets.
    fn overhead(&self, #[pyo3(from_py_with = int_arg)] length: usize) -> usize {
        self.inner.overhead(length)
    }

    fn __repr__(&self) -> String {
        format!(
            "EspSa(spi=0x{:08x}, enc={:?}, auth={:?}, mode={:?})",
            self.inner.spi,
            self.inner.enc().name(),
            self.auth(),
            self.mode()
        )
    }
}

/// An AH security association (RFC 4302; old AH RFC 1826 with ``old=True``).
#[pyclass(name = "AhSa", module = "kame._core")]
pub struct PyAhSa {
    inner: AhSa,
    scratch: Scratch,
}

#[pymethods]
impl PyAhSa {
    #[new]
    #[pyo3(signature = (spi, auth, key, old=false, *, mode="transport", tunnel_src=None, tunnel_dst=None,
        replay_window=32, esn=false, ecn=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        #[pyo3(from_py_with = int_arg)] spi: u32,
        auth: &str,
        key: &Bound<'_, PyAny>,
        old: bool,
        mode: &str,
        tunnel_src: Option<&Bound<'_, PyAny>>,
        tunnel_dst: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] replay_window: u32,
        esn: bool,
        ecn: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        spi_nonzero(spi)?;
        let spec = AuthSpec::parse(auth, old)?;
        let mut cfg = AhConfig::new(spi, spec, &owned(key)?);
        cfg.old = old;
        cfg.mode = parse_mode(mode, tunnel_src, tunnel_dst, ecn)?;
        cfg.replay_window = replay_window;
        cfg.esn = esn;
        Ok(PyAhSa { inner: AhSa::new(cfg)?, scratch: Scratch::default() })
    }

    fn output<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let (sa, scratch) = (&mut self.inner, &mut self.scratch);
        scratch.give(py, packet, |p, buf| batch::output_one(sa, p, buf))
    }

    fn input<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let (sa, scratch) = (&mut self.inner, &mut self.scratch);
        scratch.give(py, packet, |p, buf| batch::input_one(sa, p, buf))
    }

    #[pyo3(signature = (packets, *, threads=1))]
    fn output_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::output_arena, batch::output_spans)
    }

    #[pyo3(signature = (packets, *, threads=1))]
    fn input_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::input_arena, batch::input_spans)
    }

    /// ``output`` over a batch into one buffer (see ``EspSa.output_batch``).
    #[pyo3(signature = (packets, *, threads=1))]
    fn output_batch(&mut self, py: Python<'_>, packets: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<PacketRun> {
        arena_batch(py, &mut self.inner, packets, threads, batch::output_arena)
    }

    /// ``input`` over a batch into one buffer (see ``EspSa.output_batch``).
    #[pyo3(signature = (packets, *, threads=1))]
    fn input_batch(&mut self, py: Python<'_>, packets: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<PacketRun> {
        arena_batch(py, &mut self.inner, packets, threads, batch::input_arena)
    }

    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.inner.stats)
    }

    #[getter]
    fn spi(&self) -> u32 {
        self.inner.spi
    }

    #[getter]
    fn get_seq(&self) -> u64 {
        self.inner.seq
    }
    #[setter]
    fn set_seq(&mut self, #[pyo3(from_py_with = int_arg)] seq: u64) {
        self.inner.seq = seq;
    }

    #[getter]
    fn get_replay_top(&self) -> u64 {
        self.inner.replay.top()
    }
    #[setter]
    fn set_replay_top(&mut self, #[pyo3(from_py_with = int_arg)] replay_top: u64) {
        self.inner.replay.reset(replay_top);
    }

    #[getter]
    fn replay_window(&self) -> u32 {
        self.inner.replay.size()
    }

    #[getter]
    fn auth(&self) -> &'static str {
        self.inner.auth().alg.name()
    }

    #[getter]
    fn icv_len(&self) -> usize {
        self.inner.auth().icv_len
    }

    #[getter]
    fn mode(&self) -> &'static str {
        mode_name(&self.inner.mode)
    }

    /// seed §4.6 `net.inet6.ipsec6.ecn` for this tunnel-mode SA: -1, 0, 1,
    /// or 2 (RFC 6040); settable (a name works too).
    #[getter]
    fn get_ecn(&self) -> i64 {
        mode_ecn(&self.inner.mode)
    }
    #[setter]
    fn set_ecn(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.mode = self.inner.mode.with_ecn(ecn_arg(v)?);
        Ok(())
    }

    #[getter]
    fn esn(&self) -> bool {
        self.inner.esn
    }

    #[getter]
    fn old(&self) -> bool {
        self.inner.old
    }

    fn __repr__(&self) -> String {
        format!("AhSa(spi=0x{:08x}, auth={:?}, mode={:?})", self.inner.spi, self.auth(), self.mode())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEspSa>()?;
    m.add_class::<PyAhSa>()?;
    m.add_class::<PacketRun>()?;
    m.add_class::<PacketRunIter>()?;
    Ok(())
}
