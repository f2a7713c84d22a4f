//! Bindings for IPComp (`IpcompSa`, `deflate`, `inflate`) and IP-in-IP
//! tunnels (`encapsulate`, `decapsulate`, `ecn_ingress`, `ecn_egress`).
//!
//! Any buffer goes in (bytes zero-copy, bytearray / memoryview copied once);
//! `bytes` come out. Errors cross only through `errors.rs`. The batch
//! methods copy every input first, then release the GIL (`py.detach`).

use std::net::IpAddr;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::util::{ecn_arg as ecn_mode, int_arg, owned_vec as owned, with_bytes as with_buf};

use crate::error::{Error, ErrorKind, Layer};
use crate::ipcomp::{self, IpcompConfig, IpcompSa, Mode};
use crate::tunnel::{self, EcnMode, TunnelParams};

/// An address argument (see `util::ip_addr_arg`).
fn ip_addr(obj: &Bound<'_, PyAny>) -> PyResult<IpAddr> {
    super::util::ip_addr_arg(obj, Layer::Tunnel)
}

fn config_err(layer: Layer, reason: &'static str) -> PyErr {
    PyErr::from(Error::new(layer, ErrorKind::Config, 0, reason))
}

fn to_bytes<'py>(py: Python<'py>, v: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, v)
}

/// A batch result: `bytes` for a packet that went through, the exception
/// object (not raised) for one that did not.
fn batch_result<'py>(
    py: Python<'py>,
    results: Vec<crate::error::Result<Vec<u8>>>,
) -> PyResult<Bound<'py, PyList>> {
    let items: Vec<Bound<'py, PyAny>> = results
        .into_iter()
        .map(|r| match r {
            Ok(v) => to_bytes(py, &v).into_any(),
            Err(e) => PyErr::from(e).into_value(py).into_bound(py).into_any(),
        })
        .collect();
    PyList::new(py, items)
}

/// An IPComp association (RFC 3173, DEFLATE per RFC 2394) with KAME's
/// defaults (seed §4.4): CPI 2, level -1 (Z_DEFAULT_COMPRESSION), window
/// bits 12 out / 15 in, raw deflate without Adler-32, no compression under
/// 90 octets, uncompressed when not smaller. The zlib state is kept and
/// reset per packet.
#[pyclass(module = "kame._core", name = "IpcompSa")]
pub struct PyIpcompSa {
    sa: IpcompSa,
    ecn: EcnMode,
}

#[pymethods]
impl PyIpcompSa {
    #[new]
    #[pyo3(signature = (cpi=2, mode="transport", tunnel_src=None, tunnel_dst=None, level=-1,
                        window_bits=12, min_size=90, max_inflate=65535, ecn=None, hop_limit=64))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        #[pyo3(from_py_with = int_arg)] cpi: u16,
        mode: &str,
        tunnel_src: Option<&Bound<'_, PyAny>>,
        tunnel_dst: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] level: i32,
        #[pyo3(from_py_with = int_arg)] window_bits: u8,
        #[pyo3(from_py_with = int_arg)] min_size: usize,
        #[pyo3(from_py_with = int_arg)] max_inflate: u64,
        ecn: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] hop_limit: u8,
    ) -> PyResult<Self> {
        let mode = match mode {
            "transport" => Mode::Transport,
            "tunnel" => Mode::Tunnel,
            _ => {
                return Err(config_err(
                    Layer::IpComp,
                    "mode must be 'transport' or 'tunnel'",
                ))
            }
        };
        let ecn = match ecn {
            Some(e) => ecn_mode(e)?,
            None => EcnMode::default(),
        };
        let tunnel = match (tunnel_src, tunnel_dst) {
            (Some(s), Some(d)) => {
                let mut t = TunnelParams::new(ip_addr(s)?, ip_addr(d)?);
                t.ecn = ecn;
                t.hop_limit = hop_limit;
                Some(t)
            }
            (None, None) => None,
            _ => {
                return Err(config_err(
                    Layer::IpComp,
                    "give both tunnel_src and tunnel_dst, or neither",
                ))
            }
        };
        let cfg = IpcompConfig {
            cpi,
            mode,
            tunnel,
            level,
            window_bits,
            min_size,
            max_inflate,
        };
        Ok(PyIpcompSa {
            sa: IpcompSa::new(cfg)?,
            ecn,
        })
    }

    /// Compress one whole IP packet (transport: the payload after the
    /// unfragmentable part; tunnel: the packet, encapsulated).
    fn output<'py>(
        &mut self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let r = with_buf(packet, |b| self.sa.output(b))??;
        Ok(to_bytes(py, &r))
    }

    /// Decompress one whole IP packet (and decapsulate in tunnel mode). A
    /// packet without an IPComp header is the peer's uncompressed form.
    fn input<'py>(
        &mut self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let r = with_buf(packet, |b| self.sa.input(b))??;
        Ok(to_bytes(py, &r))
    }

    /// `output` over many packets with the GIL released; each item is
    /// `bytes` or the exception object for that packet. With ``threads``
    /// > 1 the packets (each compressed on its own) are spread over up to
    /// that many threads, the calling one and workers of a persistent
    /// pool; results and counters are those of one call per packet.
    #[pyo3(signature = (packets, *, threads=1))]
    fn output_many<'py>(
        &mut self,
        py: Python<'py>,
        packets: super::util::List<Bound<'py, PyAny>, { 1 << 20 }>,
        #[pyo3(from_py_with = int_arg)] threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let inputs = packets.iter().map(owned).collect::<PyResult<Vec<_>>>()?;
        let sa = &mut self.sa;
        let results = py.detach(move || {
            let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            sa.output_many(&slices, threads)
        });
        batch_result(py, results)
    }

    /// `input` over many packets with the GIL released; each item is
    /// `bytes` or the exception object for that packet.
    fn input_many<'py>(
        &mut self,
        py: Python<'py>,
        packets: super::util::List<Bound<'py, PyAny>, { 1 << 20 }>,
    ) -> PyResult<Bound<'py, PyList>> {
        let inputs = packets.iter().map(owned).collect::<PyResult<Vec<_>>>()?;
        let sa = &mut self.sa;
        let results = py.detach(move || inputs.iter().map(|p| sa.input(p)).collect::<Vec<_>>());
        batch_result(py, results)
    }

    /// Counters (KAME `ipcompstat` analogue).
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.sa.stats;
        let d = PyDict::new(py);
        for (k, v) in [
            ("output_packets", s.output_packets),
            ("output_bytes_in", s.output_bytes_in),
            ("output_bytes_out", s.output_bytes_out),
            ("output_threshold", s.output_threshold),
            ("output_uncompressed", s.output_uncompressed),
            ("input_packets", s.input_packets),
            ("input_bytes_in", s.input_bytes_in),
            ("input_bytes_out", s.input_bytes_out),
            ("input_uncompressed", s.input_uncompressed),
            ("inflate_errors", s.inflate_errors),
            ("inflate_limit", s.inflate_limit),
            ("errors", s.errors),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    #[getter]
    fn cpi(&self) -> u16 {
        self.sa.config().cpi
    }

    #[getter]
    fn mode(&self) -> &'static str {
        match self.sa.config().mode {
            Mode::Transport => "transport",
            Mode::Tunnel => "tunnel",
        }
    }

    #[getter]
    fn level(&self) -> i32 {
        self.sa.config().level
    }

    #[getter]
    fn window_bits(&self) -> u8 {
        self.sa.config().window_bits
    }

    #[getter]
    fn min_size(&self) -> usize {
        self.sa.config().min_size
    }

    #[getter]
    fn max_inflate(&self) -> u64 {
        self.sa.config().max_inflate
    }

    #[getter]
    fn ecn(&self) -> i64 {
        self.ecn.sysctl()
    }

    #[getter]
    fn tunnel_src(&self) -> Option<String> {
        self.sa.config().tunnel.map(|t| t.src.to_string())
    }

    #[getter]
    fn tunnel_dst(&self) -> Option<String> {
        self.sa.config().tunnel.map(|t| t.dst.to_string())
    }

    fn __repr__(&self) -> String {
        let c = self.sa.config();
        format!(
            "IpcompSa(cpi={}, mode='{}', level={}, window_bits={}, min_size={}, max_inflate={})",
            c.cpi,
            self.mode(),
            c.level,
            c.window_bits,
            c.min_size,
            c.max_inflate
        )
    }
}

/// Raw deflate (RFC 1951, no zlib header or Adler-32) of `data`.
#[pyfunction]
#[pyo3(signature = (data, level=-1, window_bits=12))]
fn deflate<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] level: i32,
    #[pyo3(from_py_with = int_arg)] window_bits: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    let r = with_buf(data, |b| ipcomp::deflate(b, level, window_bits))??;
    Ok(to_bytes(py, &r))
}

/// Raw inflate of one complete stream; `LimitError` past `max_size`
/// octets, `MalformedError` for a corrupt or truncated stream.
#[pyfunction]
#[pyo3(signature = (data, max_size=65535))]
fn inflate<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] max_size: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let r = with_buf(data, |b| ipcomp::inflate(b, max_size))??;
    Ok(to_bytes(py, &r))
}

/// Encapsulate a whole IPv4/IPv6 packet in an outer header of the family
/// of the addresses (RFC 2473, RFC 2003, RFC 4213), TOS per `ecn` (seed
/// §4.6).
#[pyfunction]
#[pyo3(signature = (inner, outer_src, outer_dst, ecn=None, hop_limit=64, flow_label=0, ident=0,
                    df=None, nest_limit=8))]
#[allow(clippy::too_many_arguments)]
fn encapsulate<'py>(
    py: Python<'py>,
    inner: &Bound<'py, PyAny>,
    outer_src: &Bound<'py, PyAny>,
    outer_dst: &Bound<'py, PyAny>,
    ecn: Option<&Bound<'py, PyAny>>,
    #[pyo3(from_py_with = int_arg)] hop_limit: u8,
    #[pyo3(from_py_with = int_arg)] flow_label: u32,
    #[pyo3(from_py_with = int_arg)] ident: u16,
    df: Option<bool>,
    #[pyo3(from_py_with = int_arg)] nest_limit: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut p = TunnelParams::new(ip_addr(outer_src)?, ip_addr(outer_dst)?);
    p.ecn = match ecn {
        Some(e) => ecn_mode(e)?,
        None => EcnMode::default(),
    };
    p.hop_limit = hop_limit;
    if flow_label > 0x000f_ffff {
        return Err(config_err(
            Layer::Tunnel,
            "flow label is 20 bits (RFC 6437)",
        ));
    }
    p.flow_label = flow_label;
    p.ident = ident;
    p.df = df;
    p.nest_limit = nest_limit;
    let r = with_buf(inner, |b| tunnel::encapsulate(b, &p))??;
    Ok(to_bytes(py, &r))
}

fn decap(
    packet: &Bound<'_, PyAny>,
    ecn: Option<&Bound<'_, PyAny>>,
    recursive: bool,
    nest_limit: u32,
) -> PyResult<tunnel::Decapsulated> {
    let mode = match ecn {
        Some(e) => ecn_mode(e)?,
        None => EcnMode::default(),
    };
    Ok(with_buf(packet, |b| {
        tunnel::decapsulate(b, mode, recursive, nest_limit)
    })??)
}

/// Remove one IP-in-IP layer (all, up to `nest_limit`, with `recursive`)
/// and apply the ECN egress rule; `EcnDropError` when RFC 6040 says drop.
#[pyfunction]
#[pyo3(signature = (packet, ecn=None, recursive=false, nest_limit=8))]
fn decapsulate<'py>(
    py: Python<'py>,
    packet: &Bound<'py, PyAny>,
    ecn: Option<&Bound<'py, PyAny>>,
    recursive: bool,
    #[pyo3(from_py_with = int_arg)] nest_limit: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let d = decap(packet, ecn, recursive, nest_limit)?;
    Ok(to_bytes(py, &d.packet))
}

/// Like `decapsulate`, returning `(packet, layers, alarm)`: `alarm` is None,
/// "possible" or "dangerous" for RFC 6040's currently unused combinations.
#[pyfunction]
#[pyo3(signature = (packet, ecn=None, recursive=false, nest_limit=8))]
fn decapsulate_ex<'py>(
    py: Python<'py>,
    packet: &Bound<'py, PyAny>,
    ecn: Option<&Bound<'py, PyAny>>,
    recursive: bool,
    #[pyo3(from_py_with = int_arg)] nest_limit: u32,
) -> PyResult<(Bound<'py, PyBytes>, u32, Option<&'static str>)> {
    let d = decap(packet, ecn, recursive, nest_limit)?;
    Ok((to_bytes(py, &d.packet), d.layers, d.alarm.map(|a| a.name())))
}

/// The outer TOS / Traffic Class for an inner one (KAME ip_ecn_ingress).
#[pyfunction]
fn ecn_ingress(ecn: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] inner_tos: u8) -> PyResult<u8> {
    Ok(tunnel::ip_ecn_ingress(ecn_mode(ecn)?, inner_tos))
}

/// The inner TOS / Traffic Class after decapsulation and the RFC 6040 alarm
/// (KAME ip_ecn_egress); `EcnDropError` for RFC 6040's drop.
#[pyfunction]
fn ecn_egress(
    ecn: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] outer_tos: u8,
    #[pyo3(from_py_with = int_arg)] inner_tos: u8,
) -> PyResult<(u8, Option<&'static str>)> {
    let (t, a) = tunnel::ip_ecn_egress(ecn_mode(ecn)?, outer_tos, inner_tos)?;
    Ok((t, a.map(|a| a.name())))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIpcompSa>()?;
    m.add_function(wrap_pyfunction!(deflate, m)?)?;
    m.add_function(wrap_pyfunction!(inflate, m)?)?;
    m.add_function(wrap_pyfunction!(encapsulate, m)?)?;
    m.add_function(wrap_pyfunction!(decapsulate, m)?)?;
    m.add_function(wrap_pyfunction!(decapsulate_ex, m)?)?;
    m.add_function(wrap_pyfunction!(ecn_ingress, m)?)?;
    m.add_function(wrap_pyfunction!(ecn_egress, m)?)?;
    Ok(())
}
