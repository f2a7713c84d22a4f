//! `kame.parse`, `kame.parse_many` and the `Packet` they return.
//!
//! A `Packet` keeps the caller's `bytes` (no copy when a `bytes` was given)
//! and the compact dissection done in Rust; every field is read from that
//! dissection on access, and the costlier Python objects (addresses, header
//! objects, the upper-layer message) are built only when asked for, once.
//! `parse_many` copies every packet into one owned buffer, releases the GIL
//! and dissects them all; its `PacketBatch` builds a `Packet` only for the
//! index asked for.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::error::Error;
use crate::wire::dissect::{self, Dissection, LinkType, Net, Settings, Summary, Upper};
use crate::wire::proto;

use super::util::{ipv4_to_py, ipv6_to_py, owned_bytes, with_bytes};

fn link_type(link: &str) -> PyResult<LinkType> {
    match link {
        "raw" | "ip" | "ipv6" => Ok(LinkType::Raw),
        "ether" | "ethernet" | "en10mb" => Ok(LinkType::Ethernet),
        _ => Err(PyValueError::new_err("link must be 'raw' or 'ether'")),
    }
}

/// A dissected packet (or Ethernet frame). See `kame.parse`.
#[pyclass(module = "kame._core", name = "Packet", frozen)]
pub struct Packet {
    data: Py<PyBytes>,
    d: Dissection,
    src: PyOnceLock<Py<PyAny>>,
    dst: PyOnceLock<Py<PyAny>>,
}

impl Packet {
    fn s(&self) -> &Summary {
        &self.d.summary
    }

    fn slice<'a>(&self, py: Python<'a>, from: u64, to: u64) -> Bound<'a, PyBytes> {
        let b = self.data.bind(py).as_bytes();
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(b.len());
        let to = usize::try_from(to).unwrap_or(usize::MAX).min(b.len()).max(from);
        PyBytes::new(py, b.get(from..to).unwrap_or(&[]))
    }

    fn end(&self) -> u64 {
        self.s().net_offset + self.s().packet_len
    }
}

fn core_attr<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("kame._core")?.getattr(name)
}

#[pymethods]
impl Packet {
    /// 6 or 4.
    #[getter]
    fn version(&self) -> u8 {
        match self.s().net {
            Net::V6 { .. } => 6,
            Net::V4 { .. } => 4,
        }
    }
    /// IPv6 Traffic Class, or the IPv4 TOS octet.
    #[getter]
    fn traffic_class(&self) -> u8 {
        match self.s().net {
            Net::V6 { traffic_class, .. } => traffic_class,
            Net::V4 { tos, .. } => tos,
        }
    }
    #[getter]
    fn flow_label(&self) -> u32 {
        match self.s().net {
            Net::V6 { flow_label, .. } => flow_label,
            Net::V4 { .. } => 0,
        }
    }
    /// The real payload length (the Jumbo Payload Length for a jumbogram),
    /// as an int that may exceed 65535.
    #[getter]
    fn payload_len(&self) -> u64 {
        match self.s().net {
            Net::V6 { .. } => self.s().packet_len.saturating_sub(40),
            Net::V4 { header_len, .. } => self.s().packet_len.saturating_sub(u64::from(header_len)),
        }
    }
    /// The Next Header of the IPv6 header (IPv4: the protocol).
    #[getter]
    fn next_header(&self) -> u8 {
        match self.s().net {
            Net::V6 { next_header, .. } => next_header,
            Net::V4 { protocol, .. } => protocol,
        }
    }
    /// Hop Limit (IPv4: TTL).
    #[getter]
    fn hop_limit(&self) -> u8 {
        match self.s().net {
            Net::V6 { hop_limit, .. } => hop_limit,
            Net::V4 { ttl, .. } => ttl,
        }
    }
    /// The source address, an `ipaddress.IPv6Address` (or `IPv4Address`).
    #[getter]
    fn src(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.src
            .get_or_try_init(py, || match &self.s().net {
                Net::V6 { src, .. } => ipv6_to_py(py, src).map(Bound::unbind),
                Net::V4 { src, .. } => ipv4_to_py(py, src).map(Bound::unbind),
            })
            .map(|o| o.clone_ref(py))
    }
    #[getter]
    fn dst(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.dst
            .get_or_try_init(py, || match &self.s().net {
                Net::V6 { dst, .. } => ipv6_to_py(py, dst).map(Bound::unbind),
                Net::V4 { dst, .. } => ipv4_to_py(py, dst).map(Bound::unbind),
            })
            .map(|o| o.clone_ref(py))
    }
    /// The source address as 16 (or 4) raw octets.
    #[getter]
    fn src_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        match &self.s().net {
            Net::V6 { src, .. } => PyBytes::new(py, src),
            Net::V4 { src, .. } => PyBytes::new(py, src),
        }
    }
    #[getter]
    fn dst_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        match &self.s().net {
            Net::V6 { dst, .. } => PyBytes::new(py, dst),
            Net::V4 { dst, .. } => PyBytes::new(py, dst),
        }
    }
    /// The Jumbo Payload Length, or None if this is not a jumbogram.
    #[getter]
    fn jumbo(&self) -> Option<u32> {
        match self.s().net {
            Net::V6 { jumbo, .. } => jumbo,
            Net::V4 { .. } => None,
        }
    }
    /// The Router Alert value (RFC 2711), or None.
    #[getter]
    fn router_alert(&self) -> Option<u16> {
        match self.s().net {
            Net::V6 { router_alert, .. } => router_alert,
            Net::V4 { .. } => None,
        }
    }
    /// (byte offset, more fragments, identification) of the Fragment
    /// header (IPv4: of the header fields), or None if not a fragment.
    #[getter]
    fn fragment(&self) -> Option<(u64, bool, u32)> {
        match self.s().net {
            Net::V6 { fragment, .. } => fragment,
            Net::V4 { flags, frag_offset, ident, .. } => (flags & 1 != 0 || frag_offset != 0)
                .then_some((u64::from(frag_offset) * 8, flags & 1 != 0, u32::from(ident))),
        }
    }
    /// Octets of the frame past the end of the packet (to be trimmed).
    #[getter]
    fn trailing(&self) -> u64 {
        self.s().trailing
    }
    /// The extension headers as (protocol, offset, length) tuples.
    #[getter]
    fn chain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<(u8, u64, u64)> = self.d.chain.headers.iter().map(|h| (h.proto, h.offset, h.len)).collect();
        PyList::new(py, items)
    }
    /// The extension headers as objects (`HopByHop`, `DestOpts`,
    /// `RoutingHeader`, `FragmentHeader`; AH as raw bytes).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for h in &self.d.chain.headers {
            let raw = self.slice(py, h.offset, h.offset + h.len);
            let cls = match h.proto {
                proto::HOPOPTS => Some("HopByHop"),
                proto::DSTOPTS => Some("DestOpts"),
                proto::ROUTING => Some("RoutingHeader"),
                proto::FRAGMENT => Some("FragmentHeader"),
                _ => None,
            };
            match cls {
                Some(c) => out.append(core_attr(py, c)?.call_method1("from_bytes", (raw,))?)?,
                None => out.append(raw)?,
            }
        }
        Ok(out)
    }
    /// The protocol ending the header chain: 6, 17, 58, ... or 50 (ESP),
    /// 108 (IPComp), 59 (none), 44 for a non-first fragment.
    #[getter]
    fn upper_proto(&self) -> u8 {
        self.s().upper_proto
    }
    #[getter]
    fn upper_offset(&self) -> u64 {
        self.s().upper_offset
    }
    #[getter]
    fn payload_offset(&self) -> u64 {
        self.s().payload_offset
    }
    /// UDP/TCP source port, or None.
    #[getter]
    fn sport(&self) -> Option<u16> {
        match self.s().upper {
            Upper::Udp { sport, .. } | Upper::Tcp { sport, .. } => Some(sport),
            _ => None,
        }
    }
    #[getter]
    fn dport(&self) -> Option<u16> {
        match self.s().upper {
            Upper::Udp { dport, .. } | Upper::Tcp { dport, .. } => Some(dport),
            _ => None,
        }
    }
    /// ICMPv6 (or ICMP) type, or None.
    #[getter]
    fn icmp_type(&self) -> Option<u8> {
        match self.s().upper {
            Upper::Icmpv6 { icmp_type, .. } | Upper::Icmp { icmp_type, .. } => Some(icmp_type),
            _ => None,
        }
    }
    #[getter]
    fn icmp_code(&self) -> Option<u8> {
        match self.s().upper {
            Upper::Icmpv6 { code, .. } | Upper::Icmp { code, .. } => Some(code),
            _ => None,
        }
    }
    /// TCP (seq, ack, flags, window), or None.
    #[getter]
    fn tcp(&self) -> Option<(u32, u32, u16, u16)> {
        match self.s().upper {
            Upper::Tcp { seq, ack, flags, window, .. } => Some((seq, ack, flags, window)),
            _ => None,
        }
    }
    /// True/False when the upper-layer checksum was verified; None when it
    /// could not be (not asked, a fragment, no checksummed upper layer).
    #[getter]
    fn cksum_ok(&self) -> Option<bool> {
        self.s().cksum_ok
    }
    /// The upper-layer payload (after the UDP/TCP/ICMPv6 header).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.slice(py, self.s().payload_offset, self.end())
    }
    /// The upper-layer header and everything after it, to the packet's end.
    #[getter]
    fn upper_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.slice(py, self.s().upper_offset, self.end())
    }
    /// The upper-layer message as an object: the ICMPv6 message (with ND
    /// options) or the `UdpHeader` / `TcpHeader`; None otherwise.
    #[getter]
    fn upper(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let raw = self.upper_bytes(py);
        let (src, dst) = (self.src(py)?, self.dst(py)?);
        let o = match self.s().upper {
            Upper::Icmpv6 { .. } => core_attr(py, "parse_icmpv6")?.call1((raw, src, dst))?,
            Upper::Udp { .. } => core_attr(py, "UdpHeader")?.call_method1("from_bytes", (raw,))?,
            Upper::Tcp { .. } => core_attr(py, "TcpHeader")?.call_method1("from_bytes", (raw,))?,
            _ => return Ok(None),
        };
        Ok(Some(o.unbind()))
    }
    /// Ethernet (src, dst, ethertype) for frames parsed with link='ether'.
    #[getter]
    fn link<'py>(&self, py: Python<'py>) -> Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, u16)> {
        self.s().link.map(|e| (PyBytes::new(py, &e.src), PyBytes::new(py, &e.dst), e.ethertype))
    }
    /// The whole packet as on the wire, link header included.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.s();
        Ok(format!(
            "<Packet v{} {} > {} proto {} len {}>",
            self.version(),
            self.src(py)?.bind(py).str()?,
            self.dst(py)?.bind(py).str()?,
            s.upper_proto,
            s.packet_len
        ))
    }
}

fn packet_from(py: Python<'_>, data: Py<PyBytes>, link: LinkType, settings: Settings) -> PyResult<Packet> {
    let d = dissect::dissect(data.bind(py).as_bytes(), link, settings)?;
    Ok(Packet { data, d, src: PyOnceLock::new(), dst: PyOnceLock::new() })
}

/// Dissect one packet: `ip6_input`'s checks (version, lengths, jumbograms,
/// the header chain under `hdrnestlimit`), then the upper-layer header with
/// its checksum. Raises a `kame.ParseError` subclass for what a stack would
/// drop.
#[pyfunction]
#[pyo3(signature = (data, hdrnestlimit=50, verify_cksum=true, link="raw"))]
fn parse(py: Python<'_>, data: &Bound<'_, PyAny>, hdrnestlimit: u32, verify_cksum: bool, link: &str) -> PyResult<Packet> {
    let settings = Settings { hdrnestlimit, verify_cksum };
    packet_from(py, owned_bytes(data)?, link_type(link)?, settings)
}

/// The result of `parse_many`: every packet dissected, objects built on
/// demand.
#[pyclass(module = "kame._core", name = "PacketBatch", frozen)]
pub struct PacketBatch {
    buf: Arc<Vec<u8>>,
    spans: Vec<(usize, usize)>,
    results: Vec<Result<Summary, Error>>,
    link: LinkType,
    settings: Settings,
}

#[pymethods]
impl PacketBatch {
    fn __len__(&self) -> usize {
        self.results.len()
    }
    /// The `Packet` at `i`; raises the packet's `ParseError` if it was
    /// refused.
    fn __getitem__(&self, py: Python<'_>, i: isize) -> PyResult<Packet> {
        let n = self.results.len() as isize;
        let j = if i < 0 { i + n } else { i };
        let (Ok(j), true) = (usize::try_from(j), (0..n).contains(&j)) else {
            return Err(PyIndexError::new_err("PacketBatch index out of range"));
        };
        let (a, b) = self.spans.get(j).copied().unwrap_or((0, 0));
        let raw = PyBytes::new(py, self.buf.get(a..b).unwrap_or(&[])).unbind();
        packet_from(py, raw, self.link, self.settings)
    }
    /// How many packets were accepted.
    #[getter]
    fn ok_count(&self) -> usize {
        self.results.iter().filter(|r| r.is_ok()).count()
    }
    /// The upper-layer protocol of each packet as bytes (255 where refused).
    fn upper_protos<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let v: Vec<u8> = self.results.iter().map(|r| r.as_ref().map_or(255, |s| s.upper_proto)).collect();
        PyBytes::new(py, &v)
    }
    /// (index, exception) for every refused packet.
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (i, r) in self.results.iter().enumerate() {
            if let Err(e) = r {
                let exc: PyErr = (*e).into();
                out.append(PyTuple::new(py, [i.into_pyobject(py)?.into_any(), exc.into_value(py).into_bound(py).into_any()])?)?;
            }
        }
        Ok(out)
    }
}

/// Dissect many packets at once: the inputs are copied into one owned
/// buffer, then the GIL is released while Rust dissects them all. Refusals
/// do not raise; see `PacketBatch.errors()`.
#[pyfunction]
#[pyo3(signature = (packets, hdrnestlimit=50, verify_cksum=true, link="raw"))]
fn parse_many(
    py: Python<'_>,
    packets: &Bound<'_, PyAny>,
    hdrnestlimit: u32,
    verify_cksum: bool,
    link: &str,
) -> PyResult<PacketBatch> {
    let link = link_type(link)?;
    let settings = Settings { hdrnestlimit, verify_cksum };
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    for item in packets.try_iter()? {
        let item = item?;
        with_bytes(&item, |b| {
            let a = buf.len();
            buf.extend_from_slice(b);
            spans.push((a, buf.len()));
        })?;
    }
    let results = py.detach(|| {
        spans
            .iter()
            .map(|&(a, b)| {
                dissect::dissect(buf.get(a..b).unwrap_or(&[]), link, settings).map(|d| d.summary)
            })
            .collect::<Vec<_>>()
    });
    Ok(PacketBatch { buf: Arc::new(buf), spans, results, link, settings })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Packet>()?;
    m.add_class::<PacketBatch>()?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(parse_many, m)?)?;
    Ok(())
}
