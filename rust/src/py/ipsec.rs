//! Python bindings for the IPsec transforms: `EspSa` and `AhSa` classes
//! built from setkey algorithm names and keys, with `output` / `input` on
//! whole IP packets, GIL-free batch forms, counters and known-answer hooks.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::util::{ecn_arg, int_arg, ip_addr_arg, owned_vec as owned, with_bytes};

use crate::error::{Error, ErrorKind, Layer};
use crate::ipsec::ah::{AhConfig, AhSa};
use crate::ipsec::algo::{AuthSpec, EncAlg};
use crate::ipsec::batch::{self, Span};
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

/// One batch stage run after run (see `ipsec::batch::pipelined`), its
/// results handed over in order.
type Pipelined<S> = fn(&mut S, &[&[u8]], usize, &mut dyn FnMut(Vec<Result<Vec<u8>, Error>>));

/// Run a batch with the GIL released. On one thread, in runs of
/// `BATCH_RUN_ONE` packets written into one buffer, turned into objects
/// between runs; on more, through `ipsec::batch::pipelined`, each run's
/// objects made (the GIL taken for that alone) while the workers do the
/// next run's cryptography.
fn run_batch<'py, S: Send>(
    py: Python<'py>,
    sa: &mut S,
    packets: &Bound<'py, PyAny>,
    threads: usize,
    many: Pipelined<S>,
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
        let mut out: Vec<Py<PyAny>> = Vec::with_capacity(slices.len());
        py.detach(|| {
            many(sa, &slices, threads, &mut |rs| {
                Python::attach(|py| out.extend(rs.into_iter().map(|r| match r {
                    Ok(v) => result_object(py, Ok(&v)),
                    Err(e) => result_object(py, Err(e)),
                })))
            })
        });
        return PyList::new(py, out);
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

/// An ESP security association (RFC 4303; old ESP RFC 1827/1829 with
/// ``old=True``).
#[pyclass(name = "EspSa", module = "kame._core")]
pub struct PyEspSa {
    inner: EspSa,
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
        Ok(PyEspSa { inner: EspSa::new(cfg)? })
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
        let out = with_bytes(packet, |p| self.inner.output(p, kat.as_ref()))??;
        Ok(PyBytes::new(py, &out))
    }

    /// Verify, decrypt and strip ESP from a whole packet.
    fn input<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let out = with_bytes(packet, |p| self.inner.input(p))??;
        Ok(PyBytes::new(py, &out))
    }

    /// ``output`` over a list; the GIL is released while the batch runs. A
    /// packet that fails gives its exception object in its place. With
    /// ``threads`` > 1 a large batch's cryptography is spread over up to
    /// that many threads (the calling one and a persistent pool's workers);
    /// the default, one, is the fastest on a machine whose cores are busy.
    #[pyo3(signature = (packets, *, threads=1))]
    fn output_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::output_pipelined, batch::output_spans)
    }

    /// ``input`` over a list, GIL released; a dropped packet gives its
    /// exception (IntegrityError, ReplayError, ...) in its place.
    #[pyo3(signature = (packets, *, threads=1))]
    fn input_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::input_pipelined, batch::input_spans)
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
        Ok(PyAhSa { inner: AhSa::new(cfg)? })
    }

    fn output<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let out = with_bytes(packet, |p| self.inner.output(p))??;
        Ok(PyBytes::new(py, &out))
    }

    fn input<'py>(&mut self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let out = with_bytes(packet, |p| self.inner.input(p))??;
        Ok(PyBytes::new(py, &out))
    }

    #[pyo3(signature = (packets, *, threads=1))]
    fn output_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::output_pipelined, batch::output_spans)
    }

    #[pyo3(signature = (packets, *, threads=1))]
    fn input_many<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] threads: usize) -> PyResult<Bound<'py, PyList>> {
        run_batch(py, &mut self.inner, packets, threads, batch::input_pipelined, batch::input_spans)
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
    Ok(())
}
