//! Bindings for IPv4 on the wire (`crate::inet`): `ip_validate`,
//! `ip_build`, `ip_fragment`, `ip_forward_ttl`, `icmp_parse`, `icmp_build`,
//! `icmp_next_plateau`, `arp_parse`, `arp_build` and `IpReassembler`.
//! Errors cross only through `errors.rs` (`?`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::error::{Error, ErrorKind, Layer};
use crate::inet::{arp, icmp, ip, reass};

use super::upper::{Addr4, Bytes};
use super::util::{int_arg, with_bytes};

/// ``(op, sha, spa, tha, tpa)``.
type ArpTuple<'py> = (u16, Bound<'py, PyBytes>, Addr4, Bound<'py, PyBytes>, Addr4);
/// ``(kind, packet, reason)``.
type ReassTuple<'py> = (&'static str, Option<Bound<'py, PyBytes>>, Option<&'static str>);

/// What ``ip_validate`` found: the header fields, where the datagram ends
/// (``total_len``; bytes after it are link padding) and the options seen.
#[pyclass(frozen, module = "kame._core", name = "Ip4Validated", get_all)]
pub struct PyIp4Validated {
    header_len: usize,
    total_len: usize,
    tos: u8,
    ident: u16,
    flags: u8,
    df: bool,
    mf: bool,
    frag_off: usize,
    ttl: u8,
    protocol: u8,
    src: Addr4,
    dst: Addr4,
    opt_count: u32,
    record_route: Option<u16>,
    timestamp: Option<u16>,
    /// ``(strict, offset, complete)`` of a source route option.
    source_route: Option<(bool, u16, bool)>,
    router_alert: bool,
}

#[pymethods]
impl PyIp4Validated {
    /// MF set or a non-zero offset.
    #[getter]
    fn is_fragment(&self) -> bool {
        self.mf || self.frag_off != 0
    }

    fn __repr__(&self) -> String {
        format!(
            "Ip4Validated(src={}, dst={}, protocol={}, total_len={}, header_len={}, frag_off={}, mf={})",
            self.src.0, self.dst.0, self.protocol, self.total_len, self.header_len, self.frag_off, self.mf
        )
    }
}

/// The checks of ``ip_input`` over an IPv4 datagram (the bytes after the
/// link header): version, IHL, header checksum, Total Length, options.
#[pyfunction]
#[pyo3(signature = (packet, verify_checksum=true))]
fn ip_validate(packet: &Bound<'_, PyAny>, verify_checksum: bool) -> PyResult<PyIp4Validated> {
    let v = with_bytes(packet, |p| ip::ip_validate(p, verify_checksum))??;
    let o = v.options;
    Ok(PyIp4Validated {
        header_len: v.header_len,
        total_len: v.total_len,
        tos: v.tos,
        ident: v.ident,
        flags: v.flags,
        df: v.flags & crate::wire::ipv4::FLAG_DF != 0,
        mf: v.flags & crate::wire::ipv4::FLAG_MF != 0,
        frag_off: v.frag_off,
        ttl: v.ttl,
        protocol: v.protocol,
        src: Addr4(v.src),
        dst: Addr4(v.dst),
        opt_count: o.count,
        record_route: o.record_route,
        timestamp: o.timestamp,
        source_route: o.source_route.map(|s| (s.strict, s.offset, s.complete)),
        router_alert: o.router_alert,
    })
}

/// A whole IPv4 datagram: header (checksum computed) and ``payload``.
#[pyfunction]
#[pyo3(signature = (src, dst, protocol, payload, ttl=64, tos=0, ident=0, df=false, options=None))]
#[allow(clippy::too_many_arguments)]
fn ip_build<'py>(
    py: Python<'py>,
    src: Addr4,
    dst: Addr4,
    #[pyo3(from_py_with = int_arg)] protocol: u8,
    payload: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] ttl: u8,
    #[pyo3(from_py_with = int_arg)] tos: u8,
    #[pyo3(from_py_with = int_arg)] ident: u16,
    df: bool,
    options: Option<Bytes>,
) -> PyResult<Bound<'py, PyBytes>> {
    let opts = options.unwrap_or_default();
    let h = ip::Header { src: src.0, dst: dst.0, protocol, ttl, tos, ident, df, options: &opts.0 };
    let p = with_bytes(payload, |b| ip::ip_build(&h, b))??;
    Ok(PyBytes::new(py, &p))
}

/// Fragments of at most ``mtu`` octets (RFC 791 §3.2); a datagram that fits
/// comes back alone. DF set and too big: ``LimitError``.
#[pyfunction]
fn ip_fragment<'py>(py: Python<'py>, packet: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] mtu: usize) -> PyResult<Bound<'py, PyList>> {
    let frags = with_bytes(packet, |p| ip::ip_fragment(p, mtu))??;
    let list = PyList::empty(py);
    for f in frags {
        list.append(PyBytes::new(py, &f))?;
    }
    Ok(list)
}

/// The datagram with its TTL lowered by one (``ip_forward``); a TTL of 0
/// or 1 is a ``LimitError``.
#[pyfunction]
fn ip_forward_ttl<'py>(py: Python<'py>, packet: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let p = with_bytes(packet, ip::ip_forward_ttl)??;
    Ok(PyBytes::new(py, &p))
}

/// ``(type, code, rest, data)`` of an ICMPv4 message, after the checks of
/// ``icmp_input``; ``rest`` is octets 4..8 as an integer.
#[pyfunction]
#[pyo3(signature = (buf, verify_checksum=true))]
fn icmp_parse<'py>(py: Python<'py>, buf: &Bound<'_, PyAny>, verify_checksum: bool) -> PyResult<(u8, u8, u32, Bound<'py, PyBytes>)> {
    with_bytes(buf, |b| {
        icmp::parse(b, verify_checksum).map(|r| (r.icmp_type, r.code, r.rest, PyBytes::new(py, r.data)))
    })?
    .map_err(PyErr::from)
}

/// An ICMPv4 message with its checksum.
#[pyfunction]
#[pyo3(signature = (icmp_type, code, rest=0, data=None))]
fn icmp_build<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] icmp_type: u8, #[pyo3(from_py_with = int_arg)] code: u8, #[pyo3(from_py_with = int_arg)] rest: u32, data: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    match data {
        Some(d) => with_bytes(d, |b| icmp::Repr { icmp_type, code, rest, data: b }.emit(&mut out))?,
        None => icmp::Repr { icmp_type, code, rest, data: &[] }.emit(&mut out),
    }
    Ok(PyBytes::new(py, &out))
}

/// RFC 1191 §7: the largest plateau below ``total_len``.
#[pyfunction]
fn icmp_next_plateau(#[pyo3(from_py_with = int_arg)] total_len: u16) -> u16 {
    icmp::next_plateau(total_len)
}

/// ``(op, sha, spa, tha, tpa)`` of an Ethernet/IPv4 ARP packet.
#[pyfunction]
fn arp_parse<'py>(py: Python<'py>, buf: &Bound<'_, PyAny>) -> PyResult<ArpTuple<'py>> {
    let r = with_bytes(buf, arp::parse)??;
    Ok((r.op, PyBytes::new(py, &r.sha), Addr4(r.spa), PyBytes::new(py, &r.tha), Addr4(r.tpa)))
}

fn mac_arg(b: &Bytes) -> PyResult<[u8; 6]> {
    <[u8; 6]>::try_from(b.0.as_slice())
        .map_err(|_| PyErr::from(Error::new(Layer::Arp, ErrorKind::Config, 0, "a hardware address is 6 octets")))
}

/// The 28 octets of an ARP request (``op`` 1) or reply (2).
#[pyfunction]
fn arp_build<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] op: u16, sha: Bytes, spa: Addr4, tha: Bytes, tpa: Addr4) -> PyResult<Bound<'py, PyBytes>> {
    let r = arp::Repr { op, sha: mac_arg(&sha)?, spa: spa.0, tha: mac_arg(&tha)?, tpa: tpa.0 };
    Ok(PyBytes::new(py, &r.emit()))
}

/// Bounded IPv4 reassembly (``ip_reass``), sans-I/O: ``now`` is seconds on
/// the caller's monotonic clock. See ``kame_core::inet::reass``.
#[pyclass(module = "kame._core", name = "IpReassembler")]
pub struct PyIpReassembler {
    inner: reass::IpReassembler,
}

#[pymethods]
impl PyIpReassembler {
    #[new]
    #[pyo3(signature = (timeout=30.0, max_bytes=4194304, max_queues=1024, max_frags_per_queue=16))]
    fn new(timeout: f64, #[pyo3(from_py_with = int_arg)] max_bytes: usize, #[pyo3(from_py_with = int_arg)] max_queues: usize, #[pyo3(from_py_with = int_arg)] max_frags_per_queue: usize) -> PyResult<Self> {
        Ok(PyIpReassembler {
            inner: reass::IpReassembler::with_limits(timeout, max_bytes, max_queues, max_frags_per_queue)?,
        })
    }

    /// One datagram: ``(kind, packet, reason)`` with ``kind`` one of
    /// ``"not_fragment"``, ``"incomplete"``, ``"reassembled"`` (``packet``
    /// the datagram) or ``"dropped"`` (``reason`` the counter).
    #[pyo3(signature = (packet, now, zone=0))]
    fn input<'py>(
        &mut self,
        py: Python<'py>,
        packet: &Bound<'_, PyAny>,
        now: f64,
        #[pyo3(from_py_with = int_arg)] zone: u32,
    ) -> PyResult<ReassTuple<'py>> {
        let o = with_bytes(packet, |p| self.inner.input(p, zone, now))??;
        Ok(match o {
            reass::Outcome::NotFragment => ("not_fragment", None, None),
            reass::Outcome::Incomplete => ("incomplete", None, None),
            reass::Outcome::Reassembled(p) => ("reassembled", Some(PyBytes::new(py, &p)), None),
            reass::Outcome::Dropped(r) => ("dropped", None, Some(r)),
        })
    }

    /// Time out the queues due at ``now``: ``[(invoking, zone), ...]``, the
    /// Time Exceeded (code 1) answers to send.
    fn expire<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for e in self.inner.expire(now)? {
            list.append((PyBytes::new(py, &e.invoking), e.zone))?;
        }
        Ok(list)
    }

    fn next_deadline(&self) -> Option<f64> {
        self.inner.next_deadline()
    }

    /// The ipstat counters as a dict.
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
    fn set_timeout(&mut self, timeout: f64) -> PyResult<()> {
        Ok(self.inner.set_timeout(timeout)?)
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

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "IpReassembler(queues={}, bytes_held={}, timeout={})",
            self.inner.len(),
            self.inner.bytes_held(),
            self.inner.timeout()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIp4Validated>()?;
    m.add_class::<PyIpReassembler>()?;
    m.add_function(wrap_pyfunction!(ip_validate, m)?)?;
    m.add_function(wrap_pyfunction!(ip_build, m)?)?;
    m.add_function(wrap_pyfunction!(ip_fragment, m)?)?;
    m.add_function(wrap_pyfunction!(ip_forward_ttl, m)?)?;
    m.add_function(wrap_pyfunction!(icmp_parse, m)?)?;
    m.add_function(wrap_pyfunction!(icmp_build, m)?)?;
    m.add_function(wrap_pyfunction!(icmp_next_plateau, m)?)?;
    m.add_function(wrap_pyfunction!(arp_parse, m)?)?;
    m.add_function(wrap_pyfunction!(arp_build, m)?)?;
    Ok(())
}
