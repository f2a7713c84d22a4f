//! Python builders for the IPv6 header, its extension headers and options,
//! and the chain walker / `ip6_input` validation (`kame._core`).
//!
//! Classes: `Ipv6Header`, `Ipv6Option`, `HopByHop`, `DestOpts`,
//! `RoutingHeader`, `FragmentHeader`, and the read-only results `Ip6Chain`
//! and `Ip6Validated`. Functions: `walk`, `walk_from`, `ip6_validate`.
//! Byte inputs take any buffer (bytes zero-copy; bytearray, memoryview and
//! other buffers are copied once). Addresses are accepted as
//! `ipaddress.IPv6Address`, `str` or 16 bytes and returned as
//! `ipaddress.IPv6Address`. Errors are `kame.errors` classes.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString, PyTuple};

use crate::error::Layer;
use crate::wire::exthdr::{self, Chain, FragmentRepr, OptionsRepr, RoutingRepr};
use crate::wire::{ipv6, opts};

use super::util::{buf_vec as buffer_vec, int_arg, ipv6_class, ipv6_to_py as addr_to_py, with_bytes as with_buffer};

// ---------------------------------------------------------------------------
// Helpers: buffers and addresses
// ---------------------------------------------------------------------------

/// An address from `ipaddress.IPv6Address`, `str` or 16 bytes; any 128-bit
/// value (the embedded zone form too: this is how hostile packets are
/// built), but no zone (`kame.errors.ScopeError`): a header carries none.
pub(super) fn addr_from_py(ob: &Bound<'_, PyAny>) -> PyResult<[u8; 16]> {
    let py = ob.py();
    match super::util::ip_fast(ob)? {
        Some(std::net::IpAddr::V6(a)) => return Ok(a.octets()),
        Some(std::net::IpAddr::V4(_)) => return Err(PyValueError::new_err("an IPv6 address is 16 octets")),
        None => {}
    }
    super::util::no_zone(ob)?;
    let cls = ipv6_class(py)?;
    let packed: Vec<u8> = if ob.is_instance(cls)? {
        ob.getattr("packed")?.extract()?
    } else if ob.is_instance_of::<PyString>() {
        cls.call1((ob,))?.getattr("packed")?.extract()?
    } else if ob.is_instance_of::<PyBytes>() || ob.is_instance_of::<PyByteArray>() {
        buffer_vec(ob)?
    } else {
        return Err(PyTypeError::new_err("an IPv6 address must be ipaddress.IPv6Address, str or 16 bytes"));
    };
    <[u8; 16]>::try_from(packed.as_slice()).map_err(|_| PyValueError::new_err("an IPv6 address is 16 octets"))
}

pub(super) fn addr_repr(py: Python<'_>, a: &[u8; 16]) -> String {
    addr_to_py(py, a).and_then(|o| o.str().map(|s| s.to_string())).unwrap_or_else(|_| format!("{a:?}"))
}

pub(super) fn bytes_repr(py: Python<'_>, b: &[u8]) -> String {
    PyBytes::new(py, b).repr().map(|s| s.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Ipv6Header
// ---------------------------------------------------------------------------

/// The fixed IPv6 header (RFC 8200 §3).
#[pyclass(module = "kame._core", name = "Ipv6Header", eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct Ipv6Header {
    repr: ipv6::Repr,
}

#[pymethods]
impl Ipv6Header {
    #[new]
    #[pyo3(signature = (src, dst, next_header=59, hop_limit=64, traffic_class=0, flow_label=0, payload_len=0))]
    fn new(
        src: &Bound<'_, PyAny>,
        dst: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = int_arg)] next_header: u8,
        #[pyo3(from_py_with = int_arg)] hop_limit: u8,
        #[pyo3(from_py_with = int_arg)] traffic_class: u8,
        #[pyo3(from_py_with = int_arg)] flow_label: u32,
        #[pyo3(from_py_with = int_arg)] payload_len: u16,
    ) -> PyResult<Self> {
        if flow_label > 0x000f_ffff {
            return Err(PyValueError::new_err("the Flow Label is 20 bits (RFC 8200 §3)"));
        }
        Ok(Ipv6Header {
            repr: ipv6::Repr {
                src_addr: addr_from_py(src)?,
                dst_addr: addr_from_py(dst)?,
                next_header,
                payload_len,
                hop_limit,
                traffic_class,
                flow_label,
            },
        })
    }

    /// Parse the first 40 octets of `buf` (version must be 6).
    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        let r = with_buffer(buf, |b| ipv6::Repr::parse(&ipv6::Packet::new_unchecked(b)))??;
        Ok(Ipv6Header { repr: r })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.repr.to_bytes())
    }

    fn __len__(&self) -> usize {
        ipv6::HEADER_LEN
    }

    #[getter]
    fn version(&self) -> u8 {
        6
    }
    #[getter]
    fn src<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_to_py(py, &self.repr.src_addr)
    }
    #[setter]
    fn set_src(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.repr.src_addr = addr_from_py(v)?;
        Ok(())
    }
    #[getter]
    fn dst<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_to_py(py, &self.repr.dst_addr)
    }
    #[setter]
    fn set_dst(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.repr.dst_addr = addr_from_py(v)?;
        Ok(())
    }
    #[getter]
    fn next_header(&self) -> u8 {
        self.repr.next_header
    }
    #[setter]
    fn set_next_header(&mut self, #[pyo3(from_py_with = int_arg)] next_header: u8) {
        self.repr.next_header = next_header;
    }
    #[getter]
    fn hop_limit(&self) -> u8 {
        self.repr.hop_limit
    }
    #[setter]
    fn set_hop_limit(&mut self, #[pyo3(from_py_with = int_arg)] hop_limit: u8) {
        self.repr.hop_limit = hop_limit;
    }
    #[getter]
    fn traffic_class(&self) -> u8 {
        self.repr.traffic_class
    }
    #[setter]
    fn set_traffic_class(&mut self, #[pyo3(from_py_with = int_arg)] traffic_class: u8) {
        self.repr.traffic_class = traffic_class;
    }
    #[getter]
    fn flow_label(&self) -> u32 {
        self.repr.flow_label
    }
    #[setter]
    fn set_flow_label(&mut self, #[pyo3(from_py_with = int_arg)] flow_label: u32) -> PyResult<()> {
        if flow_label > 0x000f_ffff {
            return Err(PyValueError::new_err("the Flow Label is 20 bits (RFC 8200 §3)"));
        }
        self.repr.flow_label = flow_label;
        Ok(())
    }
    #[getter]
    fn payload_len(&self) -> u16 {
        self.repr.payload_len
    }
    #[setter]
    fn set_payload_len(&mut self, #[pyo3(from_py_with = int_arg)] payload_len: u16) {
        self.repr.payload_len = payload_len;
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let r = &self.repr;
        format!(
            "Ipv6Header(src='{}', dst='{}', next_header={}, hop_limit={}, traffic_class={}, flow_label={:#x}, payload_len={})",
            addr_repr(py, &r.src_addr),
            addr_repr(py, &r.dst_addr),
            r.next_header,
            r.hop_limit,
            r.traffic_class,
            r.flow_label,
            r.payload_len
        )
    }
}

// ---------------------------------------------------------------------------
// Ipv6Option
// ---------------------------------------------------------------------------

/// One Hop-by-Hop / Destination option (RFC 8200 §4.2): a type and its
/// data. Type 0 with empty data is Pad1 (a single octet). Any type
/// round-trips losslessly.
#[pyclass(module = "kame._core", name = "Ipv6Option", eq, from_py_object)]
#[derive(Clone, PartialEq, Eq)]
pub struct Ipv6Option {
    opt_type: u8,
    data: Vec<u8>,
}

impl Ipv6Option {
    fn to_repr(&self) -> PyResult<opts::Repr> {
        if self.opt_type == opts::opt_type::PAD1 {
            if !self.data.is_empty() {
                return Err(PyValueError::new_err("Pad1 (type 0) carries no data (RFC 8200 §4.2)"));
            }
            return Ok(opts::Repr::Pad1);
        }
        if self.data.len() > 255 {
            return Err(PyValueError::new_err("option data is at most 255 octets (RFC 8200 §4.2)"));
        }
        Ok(opts::Repr::Unknown { opt_type: self.opt_type, data: self.data.clone() })
    }

    fn from_repr(r: &opts::Repr) -> Self {
        let mut data = vec![0u8; r.data_len()];
        if !matches!(r, opts::Repr::Pad1) {
            let mut buf = vec![0u8; r.buffer_len()];
            if r.emit(&mut buf, Layer::HopByHop, 0).is_ok() {
                data = buf.get(2..).unwrap_or(&[]).to_vec();
            }
        }
        Ipv6Option { opt_type: r.opt_type(), data }
    }
}

#[pymethods]
impl Ipv6Option {
    #[new]
    #[pyo3(signature = (r#type, data=None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, data: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let data = match data {
            Some(d) => buffer_vec(d)?,
            None => Vec::new(),
        };
        let o = Ipv6Option { opt_type: r#type, data };
        o.to_repr()?;
        Ok(o)
    }

    /// Pad1: one zero octet.
    #[staticmethod]
    fn pad1() -> Self {
        Ipv6Option { opt_type: 0, data: Vec::new() }
    }
    /// PadN with `n` zero data octets (`n + 2` octets on the wire).
    #[staticmethod]
    fn padn(#[pyo3(from_py_with = int_arg)] n: u8) -> Self {
        Ipv6Option { opt_type: 1, data: vec![0; usize::from(n)] }
    }
    /// Jumbo Payload (RFC 2675 §3, type 0xC2, alignment 4n+2).
    #[staticmethod]
    fn jumbo(#[pyo3(from_py_with = int_arg)] length: u32) -> Self {
        Ipv6Option::from_repr(&opts::Repr::Jumbo(length))
    }
    /// Router Alert (RFC 2711, type 5, alignment 2n): 0 MLD, 1 RSVP.
    #[staticmethod]
    fn router_alert(#[pyo3(from_py_with = int_arg)] value: u16) -> Self {
        Ipv6Option::from_repr(&opts::Repr::RouterAlert(value))
    }
    /// Home Address (RFC 6275 §6.3, type 0xC9, alignment 8n+6).
    #[staticmethod]
    fn home_address(addr: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Ipv6Option::from_repr(&opts::Repr::HomeAddress(addr_from_py(addr)?)))
    }

    /// Parse one option at the start of `buf` (octets after it are
    /// ignored).
    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        let v = buffer_vec(buf)?;
        let short = |needed: usize| {
            crate::Error::truncated(Layer::DestOpts, 0, needed as u64, v.len() as u64, "option runs past the buffer (RFC 8200 §4.2)")
        };
        let t = *v.first().ok_or_else(|| short(1))?;
        if t == opts::opt_type::PAD1 {
            return Ok(Ipv6Option { opt_type: t, data: Vec::new() });
        }
        let n = usize::from(*v.get(1).ok_or_else(|| short(2))?);
        let data = v.get(2..2 + n).ok_or_else(|| short(2 + n))?;
        Ok(Ipv6Option { opt_type: t, data: data.to_vec() })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.to_repr()?;
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut b, Layer::DestOpts, 0)?;
        Ok(PyBytes::new(py, &b))
    }

    fn __len__(&self) -> usize {
        if self.opt_type == 0 {
            1
        } else {
            2 + self.data.len()
        }
    }

    #[getter(r#type)]
    fn get_type(&self) -> u8 {
        self.opt_type
    }
    #[setter(r#type)]
    fn set_type(&mut self, #[pyo3(from_py_with = int_arg)] r#type: u8) {
        self.opt_type = r#type;
    }
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data)
    }
    #[setter]
    fn set_data(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data = buffer_vec(v)?;
        Ok(())
    }
    /// The unrecognized-option action, the two high bits (RFC 8200 §4.2):
    /// 0 skip, 1 discard, 2 discard + Parameter Problem code 2, 3 the same
    /// unless the destination is multicast.
    #[getter]
    fn action(&self) -> u8 {
        self.opt_type >> 6
    }
    /// Whether the data may change en route (bit 0x20; AH zeroes it).
    #[getter]
    fn is_mutable(&self) -> bool {
        opts::is_mutable(self.opt_type)
    }
    /// The typed value: the length for Jumbo, the value for Router Alert,
    /// the address for Home Address, else None.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let view = opts::Opt { offset: 0, opt_type: self.opt_type, data: &self.data };
        Ok(match opts::Repr::parse(&view) {
            opts::Repr::Jumbo(v) => Some(v.into_pyobject(py)?.into_any()),
            opts::Repr::RouterAlert(v) => Some(v.into_pyobject(py)?.into_any()),
            opts::Repr::HomeAddress(a) => Some(addr_to_py(py, &a)?),
            _ => None,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let view = opts::Opt { offset: 0, opt_type: self.opt_type, data: &self.data };
        match opts::Repr::parse(&view) {
            opts::Repr::Pad1 if self.data.is_empty() => "Ipv6Option.pad1()".into(),
            opts::Repr::PadN(n) if self.data.iter().all(|b| *b == 0) => format!("Ipv6Option.padn({n})"),
            opts::Repr::Jumbo(v) => format!("Ipv6Option.jumbo({v})"),
            opts::Repr::RouterAlert(v) => format!("Ipv6Option.router_alert({v})"),
            opts::Repr::HomeAddress(a) => format!("Ipv6Option.home_address('{}')", addr_repr(py, &a)),
            _ => format!("Ipv6Option({:#04x}, {})", self.opt_type, bytes_repr(py, &self.data)),
        }
    }
}

// ---------------------------------------------------------------------------
// HopByHop and DestOpts
// ---------------------------------------------------------------------------

fn options_to_repr(options: &[Ipv6Option]) -> PyResult<Vec<opts::Repr>> {
    options.iter().map(Ipv6Option::to_repr).collect()
}

fn options_from_py(list: &Bound<'_, PyAny>) -> PyResult<Vec<Ipv6Option>> {
    let mut out = Vec::new();
    // an options header is at most 2048 octets: 2046 Pad1 options
    for item in super::util::bounded_items(list, 2046, "options")? {
        let o = item.cast::<Ipv6Option>().map_err(|_| PyTypeError::new_err("options must be Ipv6Option objects"))?;
        out.push(o.borrow().clone());
    }
    Ok(out)
}

fn options_header_bytes(next_header: u8, options: &[Ipv6Option], pad: bool, layer: Layer) -> PyResult<Vec<u8>> {
    let mut r = OptionsRepr { next_header, options: options_to_repr(options)? };
    if pad {
        r = r.padded();
    }
    Ok(r.to_bytes(layer)?)
}

fn options_header_parse(buf: &Bound<'_, PyAny>, layer: Layer) -> PyResult<(u8, Vec<Ipv6Option>)> {
    with_buffer(buf, |b| -> PyResult<(u8, Vec<Ipv6Option>)> {
        let hdr = exthdr::options_header_at(b, 0, layer)?;
        let mut v = Vec::new();
        for o in opts::Iter::new(hdr, 0, layer) {
            let o = o?;
            v.push(Ipv6Option { opt_type: o.opt_type, data: o.data.to_vec() });
        }
        Ok((hdr.first().copied().unwrap_or(0), v))
    })?
}

fn options_repr(py: Python<'_>, name: &str, options: &[Ipv6Option], next_header: u8) -> String {
    let items: Vec<String> = options.iter().map(|o| o.__repr__(py)).collect();
    format!("{name}(options=[{}], next_header={next_header})", items.join(", "))
}

macro_rules! options_class {
    ($ty:ident, $name:literal, $layer:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(module = "kame._core", name = $name, eq)]
        #[derive(Clone, PartialEq, Eq)]
        pub struct $ty {
            options: Vec<Ipv6Option>,
            next_header: u8,
        }

        #[pymethods]
        impl $ty {
            #[new]
            #[pyo3(signature = (options=None, next_header=59))]
            fn new(options: Option<&Bound<'_, PyAny>>, #[pyo3(from_py_with = int_arg)] next_header: u8) -> PyResult<Self> {
                let options = match options {
                    Some(o) => options_from_py(o)?,
                    None => Vec::new(),
                };
                options_to_repr(&options)?;
                Ok($ty { options, next_header })
            }

            /// Parse the header at the start of `buf` (options kept in wire
            /// order, padding included).
            #[staticmethod]
            fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
                let (next_header, options) = options_header_parse(buf, $layer)?;
                Ok($ty { options, next_header })
            }

            /// The header's octets. With `pad=True` (the default), Pad1/PadN
            /// are inserted where an option needs alignment (Jumbo 4n+2,
            /// Router Alert 2n, Home Address 8n+6) and at the end up to a
            /// multiple of 8; options already in place are left alone. With
            /// `pad=False` the options are written as given and their length
            /// must already make a multiple of 8.
            #[pyo3(signature = (pad=true))]
            fn to_bytes<'py>(&self, py: Python<'py>, pad: bool) -> PyResult<Bound<'py, PyBytes>> {
                Ok(PyBytes::new(py, &options_header_bytes(self.next_header, &self.options, pad, $layer)?))
            }

            /// The options as laid out by `to_bytes()` (padding included).
            fn padded_options(&self) -> PyResult<Vec<Ipv6Option>> {
                let r = opts::pad(&options_to_repr(&self.options)?);
                Ok(r.iter().map(Ipv6Option::from_repr).collect())
            }

            fn __len__(&self) -> PyResult<usize> {
                Ok(2 + opts::options_len(&opts::pad(&options_to_repr(&self.options)?)))
            }

            /// A copy of the option list; assign a new list to change it.
            #[getter]
            fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                PyList::new(py, self.options.iter().cloned())
            }
            #[setter]
            fn set_options(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
                let o = options_from_py(v)?;
                options_to_repr(&o)?;
                self.options = o;
                Ok(())
            }
            #[getter]
            fn next_header(&self) -> u8 {
                self.next_header
            }
            #[setter]
            fn set_next_header(&mut self, #[pyo3(from_py_with = int_arg)] next_header: u8) {
                self.next_header = next_header;
            }

            fn __repr__(&self, py: Python<'_>) -> String {
                options_repr(py, $name, &self.options, self.next_header)
            }
        }
    };
}

options_class!(HopByHop, "HopByHop", Layer::HopByHop, "The Hop-by-Hop Options header (RFC 8200 §4.3).");
options_class!(DestOpts, "DestOpts", Layer::DestOpts, "The Destination Options header (RFC 8200 §4.6).");

// ---------------------------------------------------------------------------
// RoutingHeader
// ---------------------------------------------------------------------------

/// A Routing header (RFC 8200 §4.4). For types 0 (RFC 5095) and 2 (RFC
/// 6275 §6.4), `data` is the 4 reserved octets (4 zero octets if not
/// given) and `addresses` the addresses after them; for other types `data`
/// is all the type-specific data and `addresses` is empty. The header is
/// `next_header, hdr_ext_len, routing_type, segments_left, data,
/// addresses`.
#[pyclass(module = "kame._core", name = "RoutingHeader", eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct RoutingHeader {
    routing_type: u8,
    segments_left: u8,
    addresses: Vec<[u8; 16]>,
    data: Vec<u8>,
    next_header: u8,
}

impl RoutingHeader {
    fn to_repr(&self) -> RoutingRepr {
        let mut data = self.data.clone();
        for a in &self.addresses {
            data.extend_from_slice(a);
        }
        RoutingRepr { next_header: self.next_header, routing_type: self.routing_type, segments_left: self.segments_left, data }
    }
    fn from_repr(r: RoutingRepr) -> Self {
        let has_addrs = matches!(r.routing_type, exthdr::routing_type::TYPE0 | exthdr::routing_type::TYPE2);
        match (has_addrs, r.addresses()) {
            (true, Some(addresses)) => RoutingHeader {
                routing_type: r.routing_type,
                segments_left: r.segments_left,
                addresses,
                data: r.data.get(..4).unwrap_or(&[]).to_vec(),
                next_header: r.next_header,
            },
            _ => RoutingHeader {
                routing_type: r.routing_type,
                segments_left: r.segments_left,
                addresses: Vec::new(),
                data: r.data,
                next_header: r.next_header,
            },
        }
    }
}

pub(super) fn addresses_from_py(v: &Bound<'_, PyAny>) -> PyResult<Vec<[u8; 16]>> {
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err("addresses must be a list of addresses"));
    }
    // Hdr Ext Len is 8 bits: at most 127 addresses in any routing header
    super::util::bounded_items(v, 127, "addresses")?.iter().map(addr_from_py).collect()
}

#[pymethods]
impl RoutingHeader {
    #[new]
    #[pyo3(signature = (routing_type, segments_left, addresses=None, data=None, next_header=59))]
    fn new(
        #[pyo3(from_py_with = int_arg)] routing_type: u8,
        #[pyo3(from_py_with = int_arg)] segments_left: u8,
        addresses: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] next_header: u8,
    ) -> PyResult<Self> {
        let addresses = match addresses {
            Some(a) => addresses_from_py(a)?,
            None => Vec::new(),
        };
        let mut data = match data {
            Some(d) => buffer_vec(d)?,
            None => Vec::new(),
        };
        let typed = matches!(routing_type, exthdr::routing_type::TYPE0 | exthdr::routing_type::TYPE2);
        if typed && data.is_empty() {
            data = vec![0; 4];
        }
        if !typed && !addresses.is_empty() {
            return Err(PyValueError::new_err("addresses are defined for routing types 0 and 2 only; pass data"));
        }
        if typed && data.len() != 4 {
            return Err(PyValueError::new_err("types 0 and 2: data is the 4 reserved octets"));
        }
        Ok(RoutingHeader { routing_type, segments_left, addresses, data, next_header })
    }

    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        let r = with_buffer(buf, RoutingRepr::parse)??;
        Ok(RoutingHeader::from_repr(r))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.to_repr().to_bytes()?))
    }

    fn __len__(&self) -> usize {
        self.to_repr().buffer_len()
    }

    #[getter]
    fn routing_type(&self) -> u8 {
        self.routing_type
    }
    #[setter]
    fn set_routing_type(&mut self, #[pyo3(from_py_with = int_arg)] routing_type: u8) {
        self.routing_type = routing_type;
    }
    #[getter]
    fn segments_left(&self) -> u8 {
        self.segments_left
    }
    #[setter]
    fn set_segments_left(&mut self, #[pyo3(from_py_with = int_arg)] segments_left: u8) {
        self.segments_left = segments_left;
    }
    #[getter]
    fn addresses<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let v: PyResult<Vec<_>> = self.addresses.iter().map(|a| addr_to_py(py, a)).collect();
        PyList::new(py, v?)
    }
    #[setter]
    fn set_addresses(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.addresses = addresses_from_py(v)?;
        Ok(())
    }
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data)
    }
    #[setter]
    fn set_data(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.data = buffer_vec(v)?;
        Ok(())
    }
    #[getter]
    fn next_header(&self) -> u8 {
        self.next_header
    }
    #[setter]
    fn set_next_header(&mut self, #[pyo3(from_py_with = int_arg)] next_header: u8) {
        self.next_header = next_header;
    }
    /// A type 4 header decoded as a `SegmentRoutingHeader` (RFC 8754),
    /// None for other types. Raises kame.MalformedError when its lengths
    /// lie (Last Entry beyond the header, a TLV overrunning it).
    #[getter]
    fn srh(&self) -> PyResult<Option<super::srh::SegmentRoutingHeader>> {
        if self.routing_type != crate::wire::srh::ROUTING_TYPE {
            return Ok(None);
        }
        let repr = crate::wire::srh::Repr::parse(&self.to_repr().to_bytes()?)?;
        Ok(Some(super::srh::SegmentRoutingHeader { repr }))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let a: Vec<String> = self.addresses.iter().map(|a| format!("'{}'", addr_repr(py, a))).collect();
        format!(
            "RoutingHeader(routing_type={}, segments_left={}, addresses=[{}], data={}, next_header={})",
            self.routing_type,
            self.segments_left,
            a.join(", "),
            bytes_repr(py, &self.data),
            self.next_header
        )
    }
}

// ---------------------------------------------------------------------------
// FragmentHeader
// ---------------------------------------------------------------------------

/// The Fragment header (RFC 8200 §4.5). `offset` is in 8-octet units.
#[pyclass(module = "kame._core", name = "FragmentHeader", eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct FragmentHeader {
    repr: FragmentRepr,
}

#[pymethods]
impl FragmentHeader {
    #[new]
    #[pyo3(signature = (offset, more, ident, next_header=59, reserved=0, res=0))]
    fn new(#[pyo3(from_py_with = int_arg)] offset: u16, more: bool, #[pyo3(from_py_with = int_arg)] ident: u32, #[pyo3(from_py_with = int_arg)] next_header: u8, #[pyo3(from_py_with = int_arg)] reserved: u8, #[pyo3(from_py_with = int_arg)] res: u8) -> PyResult<Self> {
        if offset > 0x1fff {
            return Err(PyValueError::new_err("the Fragment Offset is 13 bits (RFC 8200 §4.5)"));
        }
        if res > 3 {
            return Err(PyValueError::new_err("res is the 2 reserved bits"));
        }
        Ok(FragmentHeader { repr: FragmentRepr { next_header, reserved, frag_offset: offset, res, more_frags: more, ident } })
    }

    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(FragmentHeader { repr: with_buffer(buf, FragmentRepr::parse)?? })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.repr.to_bytes())
    }

    fn __len__(&self) -> usize {
        exthdr::FRAGMENT_LEN
    }

    #[getter]
    fn offset(&self) -> u16 {
        self.repr.frag_offset
    }
    #[setter]
    fn set_offset(&mut self, #[pyo3(from_py_with = int_arg)] offset: u16) -> PyResult<()> {
        if offset > 0x1fff {
            return Err(PyValueError::new_err("the Fragment Offset is 13 bits (RFC 8200 §4.5)"));
        }
        self.repr.frag_offset = offset;
        Ok(())
    }
    /// The offset in octets (`offset * 8`).
    #[getter]
    fn byte_offset(&self) -> u64 {
        self.repr.byte_offset()
    }
    #[getter]
    fn more(&self) -> bool {
        self.repr.more_frags
    }
    #[setter]
    fn set_more(&mut self, v: bool) {
        self.repr.more_frags = v;
    }
    #[getter]
    fn ident(&self) -> u32 {
        self.repr.ident
    }
    #[setter]
    fn set_ident(&mut self, #[pyo3(from_py_with = int_arg)] ident: u32) {
        self.repr.ident = ident;
    }
    #[getter]
    fn next_header(&self) -> u8 {
        self.repr.next_header
    }
    #[setter]
    fn set_next_header(&mut self, #[pyo3(from_py_with = int_arg)] next_header: u8) {
        self.repr.next_header = next_header;
    }
    #[getter]
    fn reserved(&self) -> u8 {
        self.repr.reserved
    }
    #[setter]
    fn set_reserved(&mut self, #[pyo3(from_py_with = int_arg)] reserved: u8) {
        self.repr.reserved = reserved;
    }
    #[getter]
    fn res(&self) -> u8 {
        self.repr.res
    }
    #[setter]
    fn set_res(&mut self, #[pyo3(from_py_with = int_arg)] res: u8) -> PyResult<()> {
        if res > 3 {
            return Err(PyValueError::new_err("res is the 2 reserved bits"));
        }
        self.repr.res = res;
        Ok(())
    }

    fn __repr__(&self) -> String {
        let r = &self.repr;
        let mut s = format!(
            "FragmentHeader(offset={}, more={}, ident={:#x}, next_header={}",
            r.frag_offset,
            if r.more_frags { "True" } else { "False" },
            r.ident,
            r.next_header
        );
        if r.reserved != 0 || r.res != 0 {
            s.push_str(&format!(", reserved={}, res={}", r.reserved, r.res));
        }
        s.push(')');
        s
    }
}

// ---------------------------------------------------------------------------
// Walk and validate results
// ---------------------------------------------------------------------------

/// The extension-header chain of a packet, as found by `walk`.
///
/// - `headers`: list of `(proto, offset, length)` tuples, one per extension
///   header in order (the IPv6 header itself is not listed); offsets are
///   from the start of the buffer, which is the start of the IPv6 header.
/// - `upper`, `upper_offset`: the protocol that ends the chain (upper layer,
///   ESP 50, IPComp 108, No Next Header 59) and where it starts; 44 for a
///   non-first fragment, whose fragment data starts at `upper_offset`
///   (RFC 8200 §4.5: nothing after its Fragment header is a header).
/// - `upper_nh_offset`: offset of the Next Header octet naming `upper` (for
///   fragment data, the Fragment header's Next Header field).
/// - `fragment`, `fragment_offset`: the first Fragment header and its offset.
/// - `jumbo`, `jumbo_offset`: the Jumbo Payload Length and the offset of the
///   option's type octet, if Hop-by-Hop carries one.
/// - `unfragmentable_len`: the Unfragmentable Part (RFC 8200 §4.5).
/// - `truncated`: the bytes ended at `upper_offset`: in a lax walk, or past
///   the Fragment header of a first fragment that does not hold the whole
///   chain (RFC 7112).
#[pyclass(module = "kame._core", name = "Ip6Chain", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct Ip6Chain {
    chain: Chain,
}

#[pymethods]
impl Ip6Chain {
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: PyResult<Vec<Bound<'py, PyTuple>>> =
            self.chain.headers.iter().map(|h| PyTuple::new(py, [u64::from(h.proto), h.offset, h.len])).collect();
        PyList::new(py, items?)
    }
    #[getter]
    fn upper(&self) -> u8 {
        self.chain.upper
    }
    #[getter]
    fn upper_offset(&self) -> u64 {
        self.chain.upper_offset
    }
    #[getter]
    fn upper_nh_offset(&self) -> u64 {
        self.chain.upper_nh_offset
    }
    #[getter]
    fn fragment(&self) -> Option<FragmentHeader> {
        self.chain.fragment.map(|f| FragmentHeader { repr: f.repr })
    }
    #[getter]
    fn fragment_offset(&self) -> Option<u64> {
        self.chain.fragment.map(|f| f.offset)
    }
    #[getter]
    fn jumbo(&self) -> Option<u32> {
        self.chain.jumbo.map(|j| j.value)
    }
    #[getter]
    fn jumbo_offset(&self) -> Option<u64> {
        self.chain.jumbo.map(|j| j.offset)
    }
    #[getter]
    fn unfragmentable_len(&self) -> u64 {
        self.chain.unfragmentable_len
    }
    #[getter]
    fn truncated(&self) -> bool {
        self.chain.truncated
    }
    fn __len__(&self) -> usize {
        self.chain.headers.len()
    }
    fn __repr__(&self) -> String {
        let h: Vec<String> =
            self.chain.headers.iter().map(|h| format!("({}, {}, {})", h.proto, h.offset, h.len)).collect();
        format!(
            "Ip6Chain(headers=[{}], upper={}, upper_offset={}, upper_nh_offset={}, unfragmentable_len={}{})",
            h.join(", "),
            self.chain.upper,
            self.chain.upper_offset,
            self.chain.upper_nh_offset,
            self.chain.unfragmentable_len,
            if self.chain.truncated { ", truncated=True" } else { "" }
        )
    }
}

/// The result of `ip6_validate`: `header` (Ipv6Header), `payload_len` (the
/// declared length: Payload Length, or the Jumbo Payload Length), `jumbo`
/// (bool), `jumbo_offset`, `trailing` (octets past `40 + payload_len`, to
/// trim), `packet_len`, `chain` (Ip6Chain), `router_alert` (int or None),
/// `home_address` (IPv6Address or None), `pseudo_src` / `pseudo_dst` (the
/// checksum pseudo-header addresses, RFC 8200 §8.1).
#[pyclass(module = "kame._core", name = "Ip6Validated", frozen)]
pub struct Ip6Validated {
    v: ipv6::Validated,
}

#[pymethods]
impl Ip6Validated {
    #[getter]
    fn header(&self) -> Ipv6Header {
        Ipv6Header { repr: self.v.header }
    }
    #[getter]
    fn payload_len(&self) -> u64 {
        self.v.payload_len
    }
    #[getter]
    fn jumbo(&self) -> bool {
        self.v.jumbo.is_some()
    }
    #[getter]
    fn jumbo_offset(&self) -> Option<u64> {
        self.v.jumbo.map(|j| j.offset)
    }
    #[getter]
    fn trailing(&self) -> u64 {
        self.v.trailing
    }
    #[getter]
    fn packet_len(&self) -> u64 {
        self.v.packet_len()
    }
    #[getter]
    fn chain(&self) -> Ip6Chain {
        Ip6Chain { chain: self.v.chain.clone() }
    }
    #[getter]
    fn router_alert(&self) -> Option<u16> {
        self.v.router_alert
    }
    #[getter]
    fn home_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.v.home_address.map(|h| addr_to_py(py, &h.addr)).transpose()
    }
    /// The offset of the Home Address option (its Option Type octet; the
    /// address follows 2 octets on), or None.
    #[getter]
    fn home_address_offset(&self) -> Option<u64> {
        self.v.home_address.map(|h| h.offset)
    }
    /// The pseudo-header source (RFC 8200 §8.1): the Home Address option's
    /// address if present (RFC 6275 §6.3), else the IPv6 source.
    #[getter]
    fn pseudo_src<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_to_py(py, &self.v.pseudo_src)
    }
    /// The pseudo-header destination (RFC 8200 §8.1): the final destination,
    /// the last address of a type 0/2 Routing header with Segments Left > 0,
    /// else the IPv6 destination.
    #[getter]
    fn pseudo_dst<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        addr_to_py(py, &self.v.pseudo_dst)
    }
    fn __repr__(&self) -> String {
        format!(
            "Ip6Validated(payload_len={}, jumbo={}, trailing={}, upper={}, upper_offset={})",
            self.v.payload_len,
            if self.v.jumbo.is_some() { "True" } else { "False" },
            self.v.trailing,
            self.v.chain.upper,
            self.v.chain.upper_offset
        )
    }
}

/// Walk the extension headers of the IPv6 packet in `buf` (which starts with
/// the IPv6 header). `hdrnestlimit` as net.inet6.ip6.hdrnestlimit (0 = no
/// limit). `lax=True` is for the truncated packet inside an ICMPv6 error:
/// running out of bytes is not an error (see `Ip6Chain.truncated`).
#[pyfunction]
#[pyo3(signature = (buf, hdrnestlimit=50, lax=false))]
fn walk(buf: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32, lax: bool) -> PyResult<Ip6Chain> {
    let c = with_buffer(buf, |b| if lax { exthdr::walk_ipv6_lax(b, hdrnestlimit) } else { exthdr::walk_ipv6(b, hdrnestlimit) })??;
    Ok(Ip6Chain { chain: c })
}

/// Walk from the header named `next_header` at offset `start` of `buf`
/// (which starts with the IPv6 header).
#[pyfunction]
#[pyo3(signature = (buf, next_header, start=40, hdrnestlimit=50, lax=false))]
fn walk_from(buf: &Bound<'_, PyAny>, #[pyo3(from_py_with = int_arg)] next_header: u8, #[pyo3(from_py_with = int_arg)] start: usize, #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32, lax: bool) -> PyResult<Ip6Chain> {
    let c = with_buffer(buf, |b| {
        if lax {
            exthdr::walk_lax(b, next_header, start, hdrnestlimit)
        } else {
            exthdr::walk(b, next_header, start, hdrnestlimit)
        }
    })??;
    Ok(Ip6Chain { chain: c })
}

/// Validate a received frame as KAME's ip6_input does (RFC 8200, RFC 2675
/// §3, seed §1.7, §1.8). Raises kame.TruncatedError ("with data size <
/// data length"), kame.MalformedError (with `.icmp` the Parameter Problem
/// to send), kame.UnsupportedError (unrecognized option), or
/// kame.HeaderLimitError.
///
/// A fragment is judged up to its Fragment header (RFC 8200 §4.5): a
/// non-first fragment's chain ends there (`chain.upper` 44, the fragment
/// data at `chain.upper_offset`), a first fragment's headers after it are
/// read but judged after reassembly. `reassembled=True` validates the
/// datagram the reassembler rebuilt: its removed Fragment header counts
/// toward `hdrnestlimit` (seed §1.8, as KAME counted it), and a Fragment
/// header left in it is refused (Parameter Problem code 0 pointing at it).
///
/// `transit=True` validates a packet this node forwards (RFC 8200 §4): the
/// IPv6 header and the Hop-by-Hop header are judged as above, the rest of
/// the chain is read and reported (`chain`) but not judged, and
/// `hdrnestlimit` stops the read instead of refusing the packet (the
/// destination applies it). `reassembled` and `transit` exclude each other
/// (ValueError).
#[pyfunction]
#[pyo3(signature = (frame, hdrnestlimit=50, *, reassembled=false, transit=false))]
fn ip6_validate(
    frame: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
    reassembled: bool,
    transit: bool,
) -> PyResult<Ip6Validated> {
    if reassembled && transit {
        return Err(PyValueError::new_err("a reassembled datagram is for us, never in transit"));
    }
    let v = with_buffer(frame, |b| match (reassembled, transit) {
        (true, _) => ipv6::validate_reassembled(b, hdrnestlimit),
        (_, true) => ipv6::validate_transit(b, hdrnestlimit),
        _ => ipv6::validate(b, hdrnestlimit),
    })??;
    Ok(Ip6Validated { v })
}

/// The reason `addr` lies in one of the address ranges that seed §1.14
/// lists as abusable on the wire (IPv4-mapped, 6to4 and IPv4-compatible
/// forms of unspecified/loopback/multicast/broadcast/private IPv4
/// addresses), or None.
#[pyfunction]
fn ip6_suspicious_address(addr: &Bound<'_, PyAny>) -> PyResult<Option<&'static str>> {
    Ok(ipv6::suspicious_address(&addr_from_py(addr)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ipv6Header>()?;
    m.add_class::<Ipv6Option>()?;
    m.add_class::<HopByHop>()?;
    m.add_class::<DestOpts>()?;
    m.add_class::<RoutingHeader>()?;
    m.add_class::<FragmentHeader>()?;
    m.add_class::<Ip6Chain>()?;
    m.add_class::<Ip6Validated>()?;
    m.add_function(wrap_pyfunction!(walk, m)?)?;
    m.add_function(wrap_pyfunction!(walk_from, m)?)?;
    m.add_function(wrap_pyfunction!(ip6_validate, m)?)?;
    m.add_function(wrap_pyfunction!(ip6_suspicious_address, m)?)?;
    Ok(())
}
