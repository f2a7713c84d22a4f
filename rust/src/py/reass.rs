//! Bindings for IPv6 fragmentation and reassembly (`frag6.rs`,
//! `reass.rs`): `kame._core.Reassembler`, `ReassOutcome`, `fragment`,
//! `atomic_fragment`. Any buffer in (bytes, bytearray, memoryview), copied
//! before use; errors cross only through `errors.rs` (`?`).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::error::Icmp6Answer;
use crate::frag6;
use crate::reass::{self, Outcome};

use super::util::{int_arg, opt_int_arg, with_bytes};

static ICMP6_ANSWER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn icmp6_answer(py: Python<'_>, a: Icmp6Answer) -> PyResult<Py<PyAny>> {
    let cls = ICMP6_ANSWER.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("kame.errors")?.getattr("Icmp6Answer")?.unbind())
    })?;
    Ok(cls
        .bind(py)
        .call1((a.icmp_type, a.code, a.pointer))?
        .unbind())
}

/// What became of one fragment: ``kind`` is one of ``"not_fragment"``,
/// ``"incomplete"``, ``"reassembled"`` (``packet`` holds the datagram),
/// ``"dropped"`` (``reason`` names the ip6stat counter) or ``"answer"``
/// (dropped, and ``icmp`` is the ICMPv6 error to send with the fragment as
/// the invoking packet).
#[pyclass(frozen, module = "kame._core", name = "ReassOutcome")]
pub struct PyReassOutcome {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    packet: Option<Py<PyBytes>>,
    #[pyo3(get)]
    reason: Option<&'static str>,
    #[pyo3(get)]
    icmp: Option<Py<PyAny>>,
}

#[pymethods]
impl PyReassOutcome {
    fn __repr__(&self, py: Python<'_>) -> String {
        match self.kind {
            "reassembled" => format!(
                "ReassOutcome(kind='reassembled', packet=<{} bytes>)",
                self.packet
                    .as_ref()
                    .map(|p| p.bind(py).as_bytes().len())
                    .unwrap_or(0)
            ),
            "dropped" => format!(
                "ReassOutcome(kind='dropped', reason='{}')",
                self.reason.unwrap_or("")
            ),
            "answer" => format!(
                "ReassOutcome(kind='answer', reason='{}', icmp={})",
                self.reason.unwrap_or(""),
                self.icmp
                    .as_ref()
                    .map(|i| i.bind(py).to_string())
                    .unwrap_or_default()
            ),
            k => format!("ReassOutcome(kind='{k}')"),
        }
    }
}

fn outcome(py: Python<'_>, o: Outcome) -> PyResult<PyReassOutcome> {
    Ok(match o {
        Outcome::NotFragment => PyReassOutcome {
            kind: "not_fragment",
            packet: None,
            reason: None,
            icmp: None,
        },
        Outcome::Incomplete => PyReassOutcome {
            kind: "incomplete",
            packet: None,
            reason: None,
            icmp: None,
        },
        Outcome::Reassembled(p) => PyReassOutcome {
            kind: "reassembled",
            packet: Some(PyBytes::new(py, &p).unbind()),
            reason: None,
            icmp: None,
        },
        Outcome::Dropped(r) => PyReassOutcome {
            kind: "dropped",
            packet: None,
            reason: Some(r),
            icmp: None,
        },
        Outcome::Answer { icmp, counter } => PyReassOutcome {
            kind: "answer",
            packet: None,
            reason: Some(counter),
            icmp: Some(icmp6_answer(py, icmp)?),
        },
    })
}

/// IPv6 fragment reassembly (RFC 8200 §4.5, RFC 5722, RFC 6946, RFC 7112),
/// sans-I/O: ``now`` is seconds as a float on the caller's monotonic clock.
#[pyclass(module = "kame._core", name = "Reassembler")]
pub struct PyReassembler {
    inner: reass::Reassembler,
}

#[pymethods]
impl PyReassembler {
    #[new]
    #[pyo3(signature = (timeout=60.0, max_bytes=4194304, max_queues=1024, max_frags_per_queue=64, ignore_exact_duplicates=false))]
    fn new(
        timeout: f64,
        #[pyo3(from_py_with = int_arg)] max_bytes: usize,
        #[pyo3(from_py_with = int_arg)] max_queues: usize,
        #[pyo3(from_py_with = int_arg)] max_frags_per_queue: usize,
        ignore_exact_duplicates: bool,
    ) -> PyResult<Self> {
        let mut inner =
            reass::Reassembler::with_limits(timeout, max_bytes, max_queues, max_frags_per_queue)?;
        inner.set_ignore_exact_duplicates(ignore_exact_duplicates);
        Ok(PyReassembler { inner })
    }

    /// One fragment whose Fragment header the caller located: ``frame``
    /// starts at the IPv6 header, ``frag_offset`` is the Fragment header's
    /// offset, ``nh_offset`` that of the Next Header byte naming it (44).
    #[pyo3(signature = (frame, frag_offset, nh_offset, now, zone=0, chain_complete=true))]
    fn input(
        &mut self,
        frame: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = int_arg)] frag_offset: usize,
        #[pyo3(from_py_with = int_arg)] nh_offset: usize,
        now: f64,
        #[pyo3(from_py_with = int_arg)] zone: u32,
        chain_complete: bool,
    ) -> PyResult<PyReassOutcome> {
        let o = with_bytes(frame, |f| self.inner.input(f, frag_offset, nh_offset, zone, chain_complete, now))??;
        outcome(frame.py(), o)
    }

    /// One IPv6 frame: locate the Fragment header and check the first
    /// fragment's header chain (RFC 7112) here.
    #[pyo3(signature = (frame, now, zone=0))]
    fn input_packet(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        now: f64,
        #[pyo3(from_py_with = int_arg)] zone: u32,
    ) -> PyResult<PyReassOutcome> {
        let o = with_bytes(frame, |f| self.inner.input_packet(f, zone, now))??;
        outcome(py, o)
    }

    /// Time out queues due at ``now``; return ``[(Icmp6Answer, invoking,
    /// zone), ...]``: the Time Exceeded (code 1) answers to send, the first
    /// fragment (cut to 1232 octets) as the invoking packet.
    fn expire<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for e in self.inner.expire(now)? {
            let icmp = icmp6_answer(py, e.icmp)?;
            list.append((icmp, PyBytes::new(py, &e.invoking), e.zone))?;
        }
        Ok(list)
    }

    /// When ``expire`` must next be called, or ``None``.
    fn next_deadline(&self) -> Option<f64> {
        self.inner.next_deadline()
    }

    /// The ip6stat counters as a dict.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.inner.stats().items() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    #[getter]
    fn bytes_held(&self) -> usize {
        self.inner.bytes_held()
    }

    #[getter]
    fn frags_held(&self) -> usize {
        self.inner.frags_held()
    }

    #[getter]
    fn timeout(&self) -> f64 {
        self.inner.timeout()
    }
    #[setter]
    fn set_timeout(&mut self, v: f64) -> PyResult<()> {
        Ok(self.inner.set_timeout(v)?)
    }
    #[getter]
    fn max_bytes(&self) -> usize {
        self.inner.max_bytes()
    }
    #[setter]
    fn set_max_bytes(&mut self, #[pyo3(from_py_with = int_arg)] max_bytes: usize) {
        self.inner.set_max_bytes(max_bytes)
    }
    #[getter]
    fn max_queues(&self) -> usize {
        self.inner.max_queues()
    }
    #[setter]
    fn set_max_queues(&mut self, #[pyo3(from_py_with = int_arg)] max_queues: usize) {
        self.inner.set_max_queues(max_queues)
    }
    #[getter]
    fn max_frags_per_queue(&self) -> usize {
        self.inner.max_frags_per_queue()
    }
    #[setter]
    fn set_max_frags_per_queue(&mut self, #[pyo3(from_py_with = int_arg)] max_frags_per_queue: usize) {
        self.inner.set_max_frags_per_queue(max_frags_per_queue)
    }
    #[getter]
    fn ignore_exact_duplicates(&self) -> bool {
        self.inner.ignore_exact_duplicates()
    }
    #[setter]
    fn set_ignore_exact_duplicates(&mut self, v: bool) {
        self.inner.set_ignore_exact_duplicates(v)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Reassembler(queues={}, bytes_held={}, timeout={}, max_bytes={}, max_queues={}, max_frags_per_queue={})",
            self.inner.len(),
            self.inner.bytes_held(),
            self.inner.timeout(),
            self.inner.max_bytes(),
            self.inner.max_queues(),
            self.inner.max_frags_per_queue()
        )
    }
}

/// Fragment an IPv6 packet for path MTU ``mtu`` (RFC 8200 §4.5). Without
/// ``unfrag_len``/``nh_offset`` the unfragmentable part is located here.
/// A packet that fits is returned unchanged as the only element.
#[pyfunction]
#[pyo3(signature = (packet, mtu, ident, unfrag_len=None, nh_offset=None))]
fn fragment<'py>(
    py: Python<'py>,
    packet: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] mtu: usize,
    #[pyo3(from_py_with = int_arg)] ident: u32,
    #[pyo3(from_py_with = opt_int_arg)] unfrag_len: Option<usize>,
    #[pyo3(from_py_with = opt_int_arg)] nh_offset: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let frags = match (unfrag_len, nh_offset) {
        (Some(u), Some(n)) => with_bytes(packet, |p| frag6::fragment(p, u, n, mtu, ident))??,
        (None, None) => with_bytes(packet, |p| frag6::fragment_packet(p, mtu, ident))??,
        _ => {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "give both unfrag_len and nh_offset, or neither",
            ))
        }
    };
    let list = PyList::empty(py);
    for f in frags {
        list.append(PyBytes::new(py, &f))?;
    }
    Ok(list)
}

/// Insert a Fragment header with offset 0, M = 0 (RFC 6946 atomic fragment).
#[pyfunction]
#[pyo3(signature = (packet, ident, unfrag_len=None, nh_offset=None))]
fn atomic_fragment<'py>(
    py: Python<'py>,
    packet: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] ident: u32,
    #[pyo3(from_py_with = opt_int_arg)] unfrag_len: Option<usize>,
    #[pyo3(from_py_with = opt_int_arg)] nh_offset: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let f = match (unfrag_len, nh_offset) {
        (Some(u), Some(n)) => with_bytes(packet, |p| frag6::atomic_fragment(p, u, n, ident))??,
        (None, None) => with_bytes(packet, |p| frag6::atomic_fragment_packet(p, ident))??,
        _ => {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "give both unfrag_len and nh_offset, or neither",
            ))
        }
    };
    Ok(PyBytes::new(py, &f))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyReassembler>()?;
    m.add_class::<PyReassOutcome>()?;
    m.add_function(wrap_pyfunction!(fragment, m)?)?;
    m.add_function(wrap_pyfunction!(atomic_fragment, m)?)?;
    Ok(())
}
