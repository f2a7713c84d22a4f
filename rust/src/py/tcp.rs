//! Bindings for the TCP byte paths (`kame_core::tcp`): segment parse and
//! build, the out-of-order queue and the socket buffers. The state machine
//! that drives them is `kame.tcp` (Python).

use std::net::IpAddr;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};
use pyo3::types::PyBytes;

use super::util::{int_arg, ip_from_py, opt_int_arg, with_bytes, Int, List};
use crate::cksum::Pseudo;
use crate::tcp::reass::Insert;
use crate::tcp::seg::{self, Header, Segment};
use crate::tcp::syncache::{self as sc, Added, Expanded, Key, Offer, Policy, Syn, SynCache};
use crate::tcp::{Reass, RecvBuf, SendBuf};
use std::sync::Arc;

fn pseudo(src: &Bound<'_, PyAny>, dst: &Bound<'_, PyAny>) -> PyResult<Pseudo> {
    match (ip_from_py(src)?, ip_from_py(dst)?) {
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(Pseudo::V6 { src: s, dst: d }),
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(Pseudo::V4 { src: s, dst: d }),
        _ => Err(PyValueError::new_err("src and dst must be of the same address family")),
    }
}

fn addr6(ob: &Bound<'_, PyAny>) -> PyResult<[u8; 16]> {
    match ip_from_py(ob)? {
        IpAddr::V6(a) => Ok(a.octets()),
        IpAddr::V4(_) => Err(PyValueError::new_err("expected an IPv6 address")),
    }
}

/// A parsed segment (`tcp_input` after `tcp_dooptions`).
#[pyclass(module = "kame._core", frozen, get_all)]
pub struct TcpSegment {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u16,
    window: u16,
    urgent: u16,
    header_len: usize,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<(u32, u32)>,
    ts: Option<(u32, u32)>,
    payload: Py<PyBytes>,
}

#[pymethods]
impl TcpSegment {
    fn __repr__(&self) -> String {
        format!(
            "TcpSegment(src_port={}, dst_port={}, seq={}, ack={}, flags={:#x}, window={}, len={})",
            self.src_port, self.dst_port, self.seq, self.ack, self.flags, self.window,
            Python::attach(|py| self.payload.bind(py).as_bytes().len())
        )
    }
}

/// Parse one segment; the checksum is checked against the pseudo-header of
/// `src`/`dst` (IPv6 or IPv4) when `verify`. With `start` (and `end`) the
/// segment is `buf[start:end]`, parsed in place (a frame's TCP segment
/// without the slice's copy); a range outside `buf` is `ValueError`.
/// Errors: `TruncatedError`, `MalformedError` (offset 12: Data Offset; 16:
/// checksum; 20+: option).
#[pyfunction]
#[pyo3(signature = (buf, src, dst, verify = true, start = 0, end = None))]
#[allow(clippy::too_many_arguments)]
fn tcp_input_parse(
    py: Python<'_>,
    buf: &Bound<'_, PyAny>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    verify: bool,
    #[pyo3(from_py_with = int_arg)] start: usize,
    #[pyo3(from_py_with = opt_int_arg)] end: Option<usize>,
) -> PyResult<TcpSegment> {
    let ph = pseudo(src, dst)?;
    let r = with_bytes(buf, |whole| {
        let e = end.unwrap_or(whole.len());
        let Some(b) = whole.get(start..e) else {
            return Err(PyValueError::new_err(format!("segment range {start}..{e} outside a buffer of {}", whole.len())));
        };
        Ok(Segment::parse(b, if verify { Some(&ph) } else { None }).map(|s| {
            let p = PyBytes::new(py, b.get(s.header_len..).unwrap_or(&[])).unbind();
            (s, p)
        }))
    })??;
    let (s, payload) = r?;
    Ok(TcpSegment {
        src_port: s.src_port,
        dst_port: s.dst_port,
        seq: s.seq,
        ack: s.ack,
        flags: s.flags,
        window: s.window,
        urgent: s.urgent,
        header_len: s.header_len,
        mss: s.opts.mss,
        wscale: s.opts.wscale,
        sack_permitted: s.opts.sack_permitted,
        sack: s.opts.sack,
        ts: s.opts.ts,
        payload,
    })
}

/// A (left, right) SACK block or a (TSval, TSecr) pair: two 32-bit values.
type U32Pair = (Int<u32>, Int<u32>);

/// The option area of a segment to send (`tcp_addoptions`), padded. Of
/// `sack`, the blocks that fit in 40 octets are written (4 at most).
#[pyfunction]
#[pyo3(signature = (mss = None, wscale = None, sack_permitted = false, ts = None, sack = None))]
fn tcp_options<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = opt_int_arg)] mss: Option<u16>,
    #[pyo3(from_py_with = opt_int_arg)] wscale: Option<u8>,
    sack_permitted: bool,
    ts: Option<U32Pair>,
    sack: Option<List<U32Pair, MAX_SACK_ARG>>,
) -> Bound<'py, PyBytes> {
    let ts = ts.map(|(v, e)| (v.0, e.0));
    let sack: Vec<(u32, u32)> = sack.map(|l| l.0.into_iter().map(|(a, b)| (a.0, b.0)).collect()).unwrap_or_default();
    PyBytes::new(py, &seg::build_options(mss, wscale, sack_permitted, ts, &sack))
}

/// The most SACK blocks `tcp_options` takes: 4 fit in a segment; a few
/// more are accepted (and left out) so a caller need not count.
const MAX_SACK_ARG: usize = 64;

/// One whole IPv6 packet carrying a segment: header (Next Header 6), TCP
/// header, `options`, `payload`, checksummed.
#[pyfunction]
#[pyo3(signature = (src, dst, hlim, tclass, sport, dport, seq, ack, flags, window, options, payload, urgent = 0, flow = 0))]
#[allow(clippy::too_many_arguments)]
fn tcp6_output<'py>(
    py: Python<'py>,
    src: &Bound<'py, PyAny>,
    dst: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] hlim: u8,
    #[pyo3(from_py_with = int_arg)] tclass: u8,
    #[pyo3(from_py_with = int_arg)] sport: u16,
    #[pyo3(from_py_with = int_arg)] dport: u16,
    #[pyo3(from_py_with = int_arg)] seq: u32,
    #[pyo3(from_py_with = int_arg)] ack: u32,
    #[pyo3(from_py_with = int_arg)] flags: u16,
    #[pyo3(from_py_with = int_arg)] window: u16,
    options: &Bound<'py, PyAny>,
    payload: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] urgent: u16,
    #[pyo3(from_py_with = int_arg)] flow: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let (s, d) = (addr6(src)?, addr6(dst)?);
    let h = Header { src_port: sport, dst_port: dport, seq, ack, flags, window, urgent };
    let pkt = with_bytes(options, |o| with_bytes(payload, |p| seg::emit6(&s, &d, hlim, tclass, flow, &h, o, p)))??;
    Ok(PyBytes::new(py, &pkt?))
}

/// One segment (no IP header), checksummed for `src`/`dst` of either family.
#[pyfunction]
#[pyo3(signature = (src, dst, sport, dport, seq, ack, flags, window, options, payload, urgent = 0))]
#[allow(clippy::too_many_arguments)]
fn tcp_output_segment<'py>(
    py: Python<'py>,
    src: &Bound<'py, PyAny>,
    dst: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] sport: u16,
    #[pyo3(from_py_with = int_arg)] dport: u16,
    #[pyo3(from_py_with = int_arg)] seq: u32,
    #[pyo3(from_py_with = int_arg)] ack: u32,
    #[pyo3(from_py_with = int_arg)] flags: u16,
    #[pyo3(from_py_with = int_arg)] window: u16,
    options: &Bound<'py, PyAny>,
    payload: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] urgent: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let ph = pseudo(src, dst)?;
    let h = Header { src_port: sport, dst_port: dport, seq, ack, flags, window, urgent };
    let mut out = Vec::new();
    with_bytes(options, |o| with_bytes(payload, |p| seg::emit(&mut out, &h, o, p, &ph)))???;
    Ok(PyBytes::new(py, &out))
}

/// `tcp_reass`: the out-of-order queue of one connection.
#[pyclass(module = "kame._core")]
pub struct TcpReass {
    q: Reass,
}

#[pymethods]
impl TcpReass {
    #[new]
    #[pyo3(signature = (cap_bytes, max_blocks = 100))]
    fn new(#[pyo3(from_py_with = int_arg)] cap_bytes: u64, #[pyo3(from_py_with = int_arg)] max_blocks: usize) -> Self {
        TcpReass { q: Reass::new(cap_bytes, max_blocks) }
    }

    /// Queue `data` at absolute sequence `seq`: the count of new octets,
    /// 0 for a duplicate, -1 when the queue is full (a counted drop).
    fn insert(&mut self, #[pyo3(from_py_with = int_arg)] seq: u64, data: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] rcv_nxt: u64) -> PyResult<i64> {
        let r = with_bytes(data, |d| self.q.insert(seq, d, rcv_nxt))?;
        Ok(match r {
            Insert::Stored(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Insert::Duplicate => 0,
            Insert::Full => -1,
        })
    }

    /// The in-order octets from `rcv_nxt` on, removed from the queue.
    fn pull<'py>(&mut self, py: Python<'py>, #[pyo3(from_py_with = int_arg)] rcv_nxt: u64) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.q.pull(rcv_nxt))
    }

    /// Up to `n` (left, right) blocks, most recent first (RFC 2018 §4).
    fn sack_blocks(&self, #[pyo3(from_py_with = int_arg)] n: usize) -> Vec<(u64, u64)> {
        self.q.sack_blocks(n)
    }

    fn set_bounds(&mut self, #[pyo3(from_py_with = int_arg)] cap_bytes: u64, #[pyo3(from_py_with = int_arg)] max_blocks: usize) {
        self.q.set_bounds(cap_bytes, max_blocks);
    }

    fn clear(&mut self) {
        self.q.clear();
    }

    #[getter]
    fn bytes(&self) -> u64 {
        self.q.bytes()
    }

    #[getter]
    fn end(&self) -> Option<u64> {
        self.q.end()
    }

    fn __len__(&self) -> usize {
        self.q.len()
    }
}

/// `so_snd`: octets kept until acknowledged.
#[pyclass(module = "kame._core")]
pub struct TcpSendBuffer {
    b: SendBuf,
}

#[pymethods]
impl TcpSendBuffer {
    #[new]
    fn new(#[pyo3(from_py_with = int_arg)] cap: usize) -> Self {
        TcpSendBuffer { b: SendBuf::new(cap) }
    }

    /// Append what fits; the count taken.
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        with_bytes(data, |d| self.b.write(d))
    }

    fn peek<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = int_arg)] off: usize,
        #[pyo3(from_py_with = int_arg)] n: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let k = self.b.peek_len(off, n);
        PyBytes::new_with(py, k, |out| {
            self.b.peek_into(off, out);
            Ok(())
        })
    }

    fn drop_front(&mut self, #[pyo3(from_py_with = int_arg)] n: usize) {
        self.b.drop_front(n);
    }

    fn clear(&mut self) {
        self.b.clear();
    }

    /// Give back the room beyond what the buffer holds.
    fn shrink(&mut self) {
        self.b.shrink();
    }

    /// Octets of room allocated (the most it ever held, until `shrink`).
    #[getter]
    fn allocated(&self) -> usize {
        self.b.allocated()
    }

    #[getter]
    fn space(&self) -> usize {
        self.b.space()
    }

    #[getter]
    fn cap(&self) -> usize {
        self.b.cap
    }

    #[setter]
    fn set_cap(&mut self, #[pyo3(from_py_with = int_arg)] cap: usize) {
        self.b.cap = cap;
    }

    fn __len__(&self) -> usize {
        self.b.len()
    }
}

/// `so_rcv`: in-order octets not yet read.
#[pyclass(module = "kame._core")]
pub struct TcpRecvBuffer {
    b: RecvBuf,
}

#[pymethods]
impl TcpRecvBuffer {
    #[new]
    fn new(#[pyo3(from_py_with = int_arg)] cap: usize) -> Self {
        TcpRecvBuffer { b: RecvBuf::new(cap) }
    }

    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        with_bytes(data, |d| self.b.write(d))
    }

    fn read<'py>(&mut self, py: Python<'py>, #[pyo3(from_py_with = int_arg)] n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let k = n.min(self.b.len());
        PyBytes::new_with(py, k, |out| {
            self.b.read_into(out);
            Ok(())
        })
    }

    fn peek<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = int_arg)] n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let k = n.min(self.b.len());
        PyBytes::new_with(py, k, |out| {
            self.b.peek_into(out);
            Ok(())
        })
    }

    fn clear(&mut self) {
        self.b.clear();
    }

    /// Give back the room beyond what the buffer holds.
    fn shrink(&mut self) {
        self.b.shrink();
    }

    /// Octets of room allocated (the most it ever held, until `shrink`).
    #[getter]
    fn allocated(&self) -> usize {
        self.b.allocated()
    }

    #[getter]
    fn space(&self) -> usize {
        self.b.space()
    }

    #[getter]
    fn cap(&self) -> usize {
        self.b.cap
    }

    #[setter]
    fn set_cap(&mut self, #[pyo3(from_py_with = int_arg)] cap: usize) {
        self.b.cap = cap;
    }

    fn __len__(&self) -> usize {
        self.b.len()
    }
}

fn sc_key(laddr: &[u8], lport: u16, faddr: &[u8], fport: u16) -> PyResult<Key> {
    Key::new(laddr, lport, faddr, fport).ok_or_else(|| PyValueError::new_err("addresses: both 16 octets (IPv6) or both 4 (IPv4)"))
}

/// The knobs of `syncache_add`: (rfc1323, sack.enable, ecn.enable,
/// syncookies, syncookies_only, syncache.cachelimit, rexmit_initial seconds).
type PolicyArg = (Int<i64>, bool, bool, bool, bool, Int<usize>, f64);

/// One entry's numbers as `syncache_expand` hands them to the state machine.
type CompletedTuple = (u32, u32, Option<u16>, Option<u8>, bool, Option<u32>, bool, u32, Option<f64>, u32, bool, Option<Py<PyAny>>);

/// `tcp_syncache.c` in the core: the SYN queue keyed on packed addresses
/// and ports, SYN,ACKs built here, SYN cookies beyond the bound
/// (`kame.tcp.syncache.FastSynCache` drives it; `SynCache` there is the
/// reference it is held against).
#[pyclass(module = "kame._core")]
pub struct TcpSynCache {
    c: SynCache<Arc<Py<PyAny>>>,
}

#[pymethods]
impl TcpSynCache {
    #[new]
    fn new(secret: &[u8]) -> Self {
        TcpSynCache { c: SynCache::new(secret) }
    }

    /// `syncache_add`: a SYN (`seg`, from `faddr`.`fport` to
    /// `laddr`.`lport`) for the listener `lso`. Returns (what, SYN,ACK
    /// segment or None): what & 3 is 0 dropped, 1 a new entry, 2 the same
    /// SYN again, 3 a cookie; | 4 when a different SYN's entry was
    /// replaced; | 8 when the bound overflowed.
    #[allow(clippy::too_many_arguments)]
    fn add<'py>(
        &mut self,
        py: Python<'py>,
        laddr: &[u8],
        faddr: &[u8],
        seg: PyRef<'py, TcpSegment>,
        #[pyo3(from_py_with = int_arg)] scope: u32,
        #[pyo3(from_py_with = int_arg)] mss: u16,
        #[pyo3(from_py_with = int_arg)] rcvbuf: u64,
        lso: Py<PyAny>,
        policy: PolicyArg,
        now: f64,
    ) -> PyResult<(u8, Option<Bound<'py, PyBytes>>)> {
        let k = sc_key(laddr, seg.dst_port, faddr, seg.src_port)?;
        let syn = Syn { seq: seg.seq, flags: seg.flags, mss: seg.mss, wscale: seg.wscale, sack_permitted: seg.sack_permitted, tsval: seg.ts.map(|t| t.0) };
        let p = Policy { rfc1323: policy.0 .0, sack_enable: policy.1, ecn_enable: policy.2, syncookies: policy.3, syncookies_only: policy.4, cachelimit: policy.5 .0, rexmit_initial: policy.6 };
        let (a, out) = self.c.add(k, &syn, scope, Offer { mss, rcvbuf }, Arc::new(lso), &p, now);
        let bit = |b: bool, v: u8| if b { v } else { 0 };
        let code = match a {
            Added::Dropped { replaced } => bit(replaced, 4) | 8,
            Added::Entry { replaced } => 1 | bit(replaced, 4),
            Added::Resent => 2,
            Added::Cookie { replaced, overflow } => 3 | bit(replaced, 4) | bit(overflow, 8),
        };
        Ok((code, out.map(|o| PyBytes::new(py, &o))))
    }

    /// `syncache_expand`: the handshake's third segment. Returns (what,
    /// numbers or None): what 0 no entry (cookies off), 1 bad ACK, 2 the
    /// accept queue full, 3 the same for a valid cookie, 4 established with
    /// (iss, irs, peer_mss, wscale, sack_ok, ts, ecn_ok, scope, rtt_from,
    /// ts_off, cookie, listener or None).
    #[allow(clippy::too_many_arguments)]
    fn expand<'py>(
        &mut self,
        py: Python<'py>,
        laddr: &[u8],
        faddr: &[u8],
        seg: PyRef<'py, TcpSegment>,
        #[pyo3(from_py_with = int_arg)] rcvbuf: u64,
        can_accept: bool,
        cookies: bool,
        now: f64,
    ) -> PyResult<(u8, Option<CompletedTuple>)> {
        let k = sc_key(laddr, seg.dst_port, faddr, seg.src_port)?;
        Ok(match self.c.expand(&k, seg.seq, seg.ack, seg.ts.map(|t| t.0), rcvbuf, can_accept, cookies, now) {
            Expanded::NoEntry => (0, None),
            Expanded::BadAck => (1, None),
            Expanded::ListenDrop { cookie } => (if cookie { 3 } else { 2 }, None),
            Expanded::Established(d) => (
                4,
                Some((d.iss, d.irs, d.peer_mss, d.wscale, d.sack_ok, d.ts, d.ecn_ok, d.scope, d.rtt_from, d.ts_off, d.cookie, d.lso.map(|l| l.clone_ref(py)))),
            ),
        })
    }

    /// `syncache_chkrst`: True when the RST (sequence `seq`) removed an entry.
    fn chkrst(&mut self, laddr: &[u8], #[pyo3(from_py_with = int_arg)] lport: u16, faddr: &[u8], #[pyo3(from_py_with = int_arg)] fport: u16, #[pyo3(from_py_with = int_arg)] seq: u32) -> PyResult<bool> {
        Ok(self.c.chkrst(&sc_key(laddr, lport, faddr, fport)?, seq))
    }

    /// `syncache_unreach`: True when an ICMP error quoting our SYN,ACK
    /// (sequence `seq`) removed an entry.
    fn unreach(&mut self, laddr: &[u8], #[pyo3(from_py_with = int_arg)] lport: u16, faddr: &[u8], #[pyo3(from_py_with = int_arg)] fport: u16, #[pyo3(from_py_with = int_arg)] seq: u32) -> PyResult<bool> {
        Ok(self.c.unreach(&sc_key(laddr, lport, faddr, fport)?, seq))
    }

    /// When the next SYN,ACK retransmission or expiry is due.
    fn next_deadline(&mut self) -> Option<f64> {
        self.c.next_deadline()
    }

    /// The timers due by `now`: ([(laddr, lport, faddr, fport, scope,
    /// listener, SYN,ACK)], entries dropped after their last retransmission).
    #[allow(clippy::type_complexity)]
    fn expire<'py>(&mut self, py: Python<'py>, now: f64, rexmit_initial: f64) -> (Vec<(Bound<'py, PyBytes>, u16, Bound<'py, PyBytes>, u16, u32, Py<PyAny>, Bound<'py, PyBytes>)>, u64) {
        let (v, stale) = self.c.expire(now, rexmit_initial);
        let out = v
            .into_iter()
            .map(|(k, scope, lso, seg)| (PyBytes::new(py, k.laddr()), k.lport, PyBytes::new(py, k.faddr()), k.fport, scope, lso.clone_ref(py), PyBytes::new(py, &seg)))
            .collect();
        (out, stale)
    }

    /// RFC 7323 §2.3: the window scale for a receive buffer.
    #[staticmethod]
    fn rcv_wscale(#[pyo3(from_py_with = int_arg)] rcvbuf: u64) -> u8 {
        sc::rcv_wscale(rcvbuf)
    }

    fn clear(&mut self) {
        self.c.clear();
    }

    fn __len__(&self) -> usize {
        self.c.len()
    }

    /// The listeners the entries hold, for the garbage collector: a node,
    /// its SYN queue and a listener with SYNs pending form a cycle.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for l in self.c.listeners() {
            visit.call(&**l)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.c.clear();
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TcpSegment>()?;
    m.add_class::<TcpSynCache>()?;
    m.add_class::<TcpReass>()?;
    m.add_class::<TcpSendBuffer>()?;
    m.add_class::<TcpRecvBuffer>()?;
    m.add_function(wrap_pyfunction!(tcp_input_parse, m)?)?;
    m.add_function(wrap_pyfunction!(tcp_options, m)?)?;
    m.add_function(wrap_pyfunction!(tcp6_output, m)?)?;
    m.add_function(wrap_pyfunction!(tcp_output_segment, m)?)?;
    Ok(())
}
