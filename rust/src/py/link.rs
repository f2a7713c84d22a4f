//! The link layer: `kame.parse_link` and the `LinkFrame` it returns (the
//! link header of any frame, and what it carries when that is not IP), and
//! `Arp`, an Ethernet/IPv4 ARP packet (RFC 826).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString};

use crate::error::{Error, ErrorKind, Layer};
use crate::wire::arp;
use crate::wire::dissect::{self, LinkHeader, LinkType};
use crate::wire::sll;
use crate::wire::vnet;

use super::upper::{Addr4, Bytes};
use super::util::{int_arg, owned_bytes, with_bytes, Int};

/// A link type argument: a name or a pcap LINKTYPE_ number.
pub fn link_type(link: &Bound<'_, PyAny>) -> PyResult<LinkType> {
    const HELP: &str = "link must be 'raw', 'ether', 'sll', 'sll2', 'null', 'loop' or a pcap \
                        linktype number (0, 1, 101, 108, 113, 228, 229, 276)";
    if let Ok(s) = link.cast::<PyString>() {
        return match s.to_cow()?.to_ascii_lowercase().as_str() {
            "raw" | "ip" | "ipv6" => Ok(LinkType::Raw),
            "ether" | "ethernet" | "en10mb" => Ok(LinkType::Ethernet),
            "sll" | "linux_sll" => Ok(LinkType::LinuxSll),
            "sll2" | "linux_sll2" => Ok(LinkType::LinuxSll2),
            "null" => Ok(LinkType::Null),
            "loop" => Ok(LinkType::Loop),
            _ => Err(PyValueError::new_err(HELP)),
        };
    }
    if link.is_instance_of::<PyInt>() {
        return link
            .extract::<u32>()
            .ok()
            .and_then(LinkType::from_linktype)
            .ok_or_else(|| PyValueError::new_err(HELP));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(HELP))
}

/// The name `link_type` gives back.
pub fn link_name(l: LinkType) -> &'static str {
    match l {
        LinkType::Raw => "raw",
        LinkType::Ethernet => "ether",
        LinkType::LinuxSll => "sll",
        LinkType::LinuxSll2 => "sll2",
        LinkType::Null => "null",
        LinkType::Loop => "loop",
    }
}

// ---------------------------------------------------------------------------
// Arp
// ---------------------------------------------------------------------------

/// An Ethernet/IPv4 ARP (or RARP) packet, RFC 826. `op` is the Operation
/// field (1 request, 2 reply, 3/4 RARP, 8/9 InARP; others round-trip).
#[pyclass(module = "kame._core", name = "Arp", get_all, set_all)]
#[derive(Clone)]
pub struct Arp {
    op: Int<u16>,
    sender_mac: Bytes,
    sender_ip: Addr4,
    target_mac: Bytes,
    target_ip: Addr4,
}

impl Arp {
    fn of(r: &arp::Repr) -> Arp {
        Arp {
            op: Int(u16::from(r.operation)),
            sender_mac: Bytes(r.sender_hardware_addr.to_vec()),
            sender_ip: Addr4(r.sender_protocol_addr),
            target_mac: Bytes(r.target_hardware_addr.to_vec()),
            target_ip: Addr4(r.target_protocol_addr),
        }
    }

    fn repr(&self) -> PyResult<arp::Repr> {
        let mac = |b: &Bytes| {
            <[u8; 6]>::try_from(b.0.as_slice())
                .map_err(|_| PyErr::from(Error::new(Layer::Arp, ErrorKind::Config, 0, "an Ethernet address is 6 octets")))
        };
        Ok(arp::Repr {
            operation: arp::Operation::from(self.op.0),
            sender_hardware_addr: mac(&self.sender_mac)?,
            sender_protocol_addr: self.sender_ip.0,
            target_hardware_addr: mac(&self.target_mac)?,
            target_protocol_addr: self.target_ip.0,
        })
    }
}

#[pymethods]
impl Arp {
    #[new]
    #[pyo3(signature = (op = 1, sender_mac = None, sender_ip = None, target_mac = None, target_ip = None))]
    fn new(#[pyo3(from_py_with = int_arg)] op: u16, sender_mac: Option<Bytes>, sender_ip: Option<Addr4>, target_mac: Option<Bytes>, target_ip: Option<Addr4>) -> Self {
        let zero = Addr4(std::net::Ipv4Addr::UNSPECIFIED);
        Arp {
            op: Int(op),
            sender_mac: sender_mac.unwrap_or(Bytes(vec![0; 6])),
            sender_ip: sender_ip.unwrap_or(zero),
            target_mac: target_mac.unwrap_or(Bytes(vec![0; 6])),
            target_ip: target_ip.unwrap_or(zero),
        }
    }
    /// Parse the ARP packet at the start of `buf` (octets past its 28 are
    /// padding). Raises `MalformedError` for address lengths other than 6
    /// and 4, `UnsupportedError` for other hardware or protocol types,
    /// `TruncatedError` when the addresses are cut.
    #[staticmethod]
    fn from_bytes(buf: Bytes) -> PyResult<Self> {
        Ok(Arp::of(&arp::Repr::parse(&buf.0)?))
    }
    /// The 28 octets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.repr()?;
        let mut out = [0u8; arp::ETHERNET_IPV4_LEN];
        r.emit(&mut out)?;
        Ok(PyBytes::new(py, &out))
    }
    /// Sender and target protocol addresses are the sender's own (a request
    /// or reply announcing it; RFC 5227 §3, RFC 5944 §4.6).
    #[getter]
    fn is_gratuitous(&self) -> PyResult<bool> {
        Ok(self.repr()?.is_gratuitous())
    }
    /// A request from 0.0.0.0 (RFC 5227 §2.1.1).
    #[getter]
    fn is_probe(&self) -> PyResult<bool> {
        Ok(self.repr()?.is_probe())
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<Arp>() {
            Ok(o) => {
                let o = o.borrow();
                (self.op, &self.sender_mac, self.sender_ip, &self.target_mac, self.target_ip)
                    == (o.op, &o.sender_mac, o.sender_ip, &o.target_mac, o.target_ip)
            }
            Err(_) => false,
        }
    }
    fn __repr__(&self) -> String {
        let mac = |b: &Bytes| b.0.iter().map(|o| format!("{o:02x}")).collect::<Vec<_>>().join(":");
        format!(
            "Arp(op={}, sender_mac='{}', sender_ip='{}', target_mac='{}', target_ip='{}')",
            self.op.0,
            mac(&self.sender_mac),
            self.sender_ip.0,
            mac(&self.target_mac),
            self.target_ip.0
        )
    }
}

// ---------------------------------------------------------------------------
// LinkFrame
// ---------------------------------------------------------------------------

/// The link header of a frame, and what it says the payload is. See
/// `kame.parse_link`.
#[pyclass(module = "kame._core", name = "LinkFrame", frozen)]
pub struct LinkFrame {
    data: Py<PyBytes>,
    link_type: LinkType,
    link: dissect::Link,
}

#[pymethods]
impl LinkFrame {
    /// The link type, by name ('raw', 'ether', 'sll', 'sll2', 'null', 'loop').
    #[getter]
    fn linktype(&self) -> &'static str {
        link_name(self.link_type)
    }
    /// The payload's EtherType (0x86dd, 0x0800, 0x0806...): as on the wire
    /// for Ethernet and cooked headers, from the family for loopback (None
    /// for a family that is not IP), by the version nibble for raw.
    #[getter]
    fn ethertype(&self) -> Option<u16> {
        self.link.ethertype
    }
    /// Where the payload starts.
    #[getter]
    fn payload_offset(&self) -> usize {
        self.link.payload_offset
    }
    /// Octets after the link header.
    #[getter]
    fn payload_len(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len().saturating_sub(self.link.payload_offset)
    }
    /// The link-layer source address (Ethernet; a cooked header's
    /// address, up to 8 octets), or None.
    #[getter]
    fn src<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match &self.link.header {
            LinkHeader::Ethernet(e) => Some(PyBytes::new(py, &e.src)),
            LinkHeader::Sll(h) => Some(PyBytes::new(py, h.address())),
            _ => None,
        }
    }
    /// The Ethernet destination address, or None.
    #[getter]
    fn dst<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match &self.link.header {
            LinkHeader::Ethernet(e) => Some(PyBytes::new(py, &e.dst)),
            _ => None,
        }
    }
    /// The 802.1Q VLAN ids skipped, outermost first.
    #[getter]
    fn vlans(&self) -> Vec<u16> {
        match &self.link.header {
            LinkHeader::Ethernet(e) => e.vlans.iter().take(usize::from(e.vlan_count)).copied().collect(),
            _ => Vec::new(),
        }
    }
    /// A cooked header's packet type (0 to us, 1 broadcast, 2 multicast,
    /// 3 to another host, 4 sent by the capturing host), or None.
    #[getter]
    fn pkttype(&self) -> Option<u16> {
        match &self.link.header {
            LinkHeader::Sll(h) => Some(h.pkttype),
            _ => None,
        }
    }
    /// A cooked header's ARPHRD_ type, or None.
    #[getter]
    fn hatype(&self) -> Option<u16> {
        match &self.link.header {
            LinkHeader::Sll(h) => Some(h.hatype),
            _ => None,
        }
    }
    /// The capturing interface's index (SLL2 only), or None.
    #[getter]
    fn ifindex(&self) -> Option<u32> {
        match &self.link.header {
            LinkHeader::Sll(h) if h.version == sll::Version::V2 => h.ifindex,
            _ => None,
        }
    }
    /// A loopback header's address family, or None.
    #[getter]
    fn family(&self) -> Option<u32> {
        match &self.link.header {
            LinkHeader::Null(h) => Some(h.family),
            _ => None,
        }
    }
    /// Whether the capturing host sent the frame (a cooked header says so).
    #[getter]
    fn outgoing(&self) -> bool {
        self.link.header.outgoing()
    }
    /// Whether the payload is IPv6 or IPv4 (then `kame.parse` reads it).
    #[getter]
    fn is_ip(&self) -> bool {
        self.link.is_ip()
    }
    /// Whether the payload is ARP or RARP (then `arp` reads it).
    #[getter]
    fn is_arp(&self) -> bool {
        self.link.is_arp()
    }
    /// The ARP packet; raises (`MalformedError` for bad address lengths,
    /// `TruncatedError`, `UnsupportedError` for other hardware/protocol
    /// types or a payload that is not ARP) with offsets into the frame.
    #[getter]
    fn arp(&self, py: Python<'_>) -> PyResult<Arp> {
        let (_, r) = dissect::arp(self.data.bind(py).as_bytes(), self.link_type)?;
        Ok(Arp::of(&r))
    }
    /// The frame.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len()
    }
    fn __repr__(&self) -> String {
        match self.link.ethertype {
            Some(t) => format!("<LinkFrame {} ethertype 0x{t:04x} at {}>", self.linktype(), self.link.payload_offset),
            None => format!("<LinkFrame {} at {}>", self.linktype(), self.link.payload_offset),
        }
    }
}

/// Read the link header of a frame (see `LinkFrame`). `link` is a name
/// ('ether', 'sll', 'sll2', 'null', 'loop', 'raw') or a pcap linktype.
/// Raises a `kame.ParseError` subclass when the header is cut.
#[pyfunction]
#[pyo3(signature = (data, link = None))]
fn parse_link(py: Python<'_>, data: &Bound<'_, PyAny>, link: Option<&Bound<'_, PyAny>>) -> PyResult<LinkFrame> {
    let lt = match link {
        Some(l) => link_type(l)?,
        None => LinkType::Ethernet,
    };
    let data = owned_bytes(data)?;
    let l = dissect::link(data.bind(py).as_bytes(), lt)?;
    Ok(LinkFrame { data, link_type: lt, link: l })
}

/// A frame read from a TAP device opened with `IFF_VNET_HDR`: its
/// `virtio_net_hdr` checked (see `kame_core::wire::vnet`) and taken off, and
/// a checksum the kernel left to complete completed. Returns
/// `(frame, gso_size)` (`gso_size` 0 when the kernel did not coalesce).
/// A lying header is `kame.errors.MalformedError` (`TruncatedError` under
/// 10 octets).
#[pyfunction]
fn vnet_input<'py>(py: Python<'py>, buf: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyBytes>, u16)> {
    let out = with_bytes(buf, |b| {
        let (r, frame) = vnet::Repr::parse(b)?;
        let out = PyBytes::new_with(py, frame.len(), |o| {
            o.copy_from_slice(frame);
            vnet::complete(&r, o);
            Ok(())
        });
        Ok::<_, Error>((out, if r.gso_type == 0 { 0 } else { r.gso_size }))
    })??;
    Ok((out.0?, out.1))
}

/// The `virtio_net_hdr` to write before `frame` on a TAP device opened with
/// `IFF_VNET_HDR`: all zero for `gso_size` 0, else TCP segmentation of the
/// IPv4 or IPv6 super-segment in `frame` into segments of `gso_size` data
/// octets (its checksum complete). `MalformedError` for a frame that is not
/// Ethernet/IP/TCP.
#[pyfunction]
fn vnet_output_hdr<'py>(py: Python<'py>, frame: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] gso_size: u16) -> PyResult<Bound<'py, PyBytes>> {
    let r = with_bytes(frame, |f| vnet::output_hdr(f, gso_size))??;
    Ok(PyBytes::new(py, &r.emit()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(vnet_input, m)?)?;
    m.add_function(wrap_pyfunction!(vnet_output_hdr, m)?)?;
    m.add_class::<Arp>()?;
    m.add_class::<LinkFrame>()?;
    m.add_function(wrap_pyfunction!(parse_link, m)?)?;
    Ok(())
}
