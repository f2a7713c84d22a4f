//! Python classes for the upper layers: ICMPv6 messages (RFC 4443), ND
//! messages and options (RFC 4861 §4, RFC 4191, RFC 8106, RFC 3971), MLD
//! (RFC 2710, RFC 3810), and the IPv4 (RFC 791), UDP (RFC 768, RFC 2675)
//! and TCP (RFC 9293) headers.
//!
//! Every class: a constructor with keyword defaults, readable and settable
//! attributes, `to_bytes(...)`, a static `from_bytes(...)`, `__repr__` and
//! `__eq__`. Addresses come out as `ipaddress` objects and go in as
//! `str`, packed `bytes` or `ipaddress` objects; link-layer addresses and
//! payloads are `bytes` (any buffer in). Errors are `kame.errors` classes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use pyo3::PyTypeInfo;

use crate::cksum::Pseudo;
use crate::error::{Error, Layer};
use crate::wire::{icmpv6, ipv4, mld, nd, tcp, udp};

use super::util::{buf_vec, int_arg, int_named, opt_int_arg, Int, List};
use super::util::ip_from_py as ip_from;

// ---------------------------------------------------------------- inputs

/// Owned bytes: any buffer in, `bytes` out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bytes(pub Vec<u8>);

impl FromPyObject<'_, '_> for Bytes {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        Ok(Bytes(buf_vec(&obj)?))
    }
}

impl<'py> IntoPyObject<'py> for &Bytes {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, &self.0))
    }
}

impl<'py> IntoPyObject<'py> for Bytes {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, &self.0))
    }
}

/// An IPv6 address: str, 16 bytes or ipaddress.IPv6Address in; IPv6Address out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addr6(pub Ipv6Addr);

impl Default for Addr6 {
    fn default() -> Self {
        Addr6(Ipv6Addr::UNSPECIFIED)
    }
}

impl FromPyObject<'_, '_> for Addr6 {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        match ip_from(&obj)? {
            IpAddr::V6(a) => Ok(Addr6(a)),
            IpAddr::V4(_) => Err(PyValueError::new_err("expected an IPv6 address")),
        }
    }
}

impl<'py> IntoPyObject<'py> for &Addr6 {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::wire::addr_object(py, &self.0.octets()).map(|o| o.into_bound(py))
    }
}

impl<'py> IntoPyObject<'py> for Addr6 {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::wire::addr_object(py, &self.0.octets()).map(|o| o.into_bound(py))
    }
}

/// An IPv4 address: str, 4 bytes or ipaddress.IPv4Address in; IPv4Address out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addr4(pub Ipv4Addr);

impl FromPyObject<'_, '_> for Addr4 {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        match ip_from(&obj)? {
            IpAddr::V4(a) => Ok(Addr4(a)),
            IpAddr::V6(_) => Err(PyValueError::new_err("expected an IPv4 address")),
        }
    }
}

impl<'py> IntoPyObject<'py> for &Addr4 {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::wire::addr_object(py, &self.0.octets()).map(|o| o.into_bound(py))
    }
}

impl<'py> IntoPyObject<'py> for Addr4 {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::wire::addr_object(py, &self.0.octets()).map(|o| o.into_bound(py))
    }
}

fn pseudo6(src: Option<Addr6>, dst: Option<Addr6>) -> PyResult<Option<(Ipv6Addr, Ipv6Addr)>> {
    match (src, dst) {
        (Some(s), Some(d)) => Ok(Some((s.0, d.0))),
        (None, None) => Ok(None),
        _ => Err(PyValueError::new_err("give both src and dst for the pseudo-header, or neither")),
    }
}

fn pseudo_any(src: Option<&Bound<'_, PyAny>>, dst: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Pseudo>> {
    match (src, dst) {
        (None, None) => Ok(None),
        (Some(s), Some(d)) => match (ip_from(s)?, ip_from(d)?) {
            (IpAddr::V6(s), IpAddr::V6(d)) => Ok(Some(Pseudo::V6 { src: s, dst: d })),
            (IpAddr::V4(s), IpAddr::V4(d)) => Ok(Some(Pseudo::V4 { src: s, dst: d })),
            _ => Err(PyValueError::new_err("src and dst must be of the same address family")),
        },
        _ => Err(PyValueError::new_err("give both src and dst for the pseudo-header, or neither")),
    }
}

fn pr<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> PyResult<String>
where
    PyErr: From<T::Error>,
{
    Ok(v.into_bound_py_any(py)?.repr()?.to_string())
}

macro_rules! repr_of {
    ($py:expr, $name:expr $(, $label:literal => $val:expr)* $(,)?) => {{
        let parts: Vec<String> = vec![$(format!("{}={}", $label, pr($py, $val)?)),*];
        Ok(format!("{}({})", $name, parts.join(", ")))
    }};
}

fn wrong_class(layer: Layer) -> PyErr {
    Error::malformed(layer, 0, "the bytes are a different message or option than this class").into()
}

// ------------------------------------------------------------- ND options

macro_rules! ndopt_class {
    ($cls:ident, { $($extra:tt)* }) => {
        #[pymethods]
        impl $cls {
            $($extra)*

            /// The option on the wire, padded to 8 octets (RFC 4861 §4.6).
            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let mut v = Vec::new();
                self.repr().emit(&mut v)?;
                Ok(PyBytes::new(py, &v))
            }

            /// Parse exactly one option of this type.
            #[staticmethod]
            fn from_bytes(py: Python<'_>, buf: Bytes) -> PyResult<Py<PyAny>> {
                let r = nd::Repr::parse(&buf.0)?;
                let o = nd_to_py(py, &r)?;
                if o.bind(py).is_instance_of::<$cls>() {
                    Ok(o)
                } else {
                    Err(wrong_class(Layer::Nd))
                }
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                match other.cast::<$cls>() {
                    Ok(o) => *self == *o.borrow(),
                    Err(_) => false,
                }
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                self.repr_str(py)
            }
        }
    };
}

/// Source Link-Layer Address option (type 1, RFC 4861 §4.6.1).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptSourceLinkAddr {
    lladdr: Bytes,
}
impl NdOptSourceLinkAddr {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::SourceLinkLayerAddr(&self.lladdr.0)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptSourceLinkAddr", "lladdr" => &self.lladdr)
    }
}
ndopt_class!(NdOptSourceLinkAddr, {
    #[new]
    #[pyo3(signature = (lladdr = None))]
    fn new(lladdr: Option<Bytes>) -> Self {
        NdOptSourceLinkAddr { lladdr: lladdr.unwrap_or(Bytes(vec![0; 6])) }
    }
});

/// Target Link-Layer Address option (type 2, RFC 4861 §4.6.1).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptTargetLinkAddr {
    lladdr: Bytes,
}
impl NdOptTargetLinkAddr {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::TargetLinkLayerAddr(&self.lladdr.0)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptTargetLinkAddr", "lladdr" => &self.lladdr)
    }
}
ndopt_class!(NdOptTargetLinkAddr, {
    #[new]
    #[pyo3(signature = (lladdr = None))]
    fn new(lladdr: Option<Bytes>) -> Self {
        NdOptTargetLinkAddr { lladdr: lladdr.unwrap_or(Bytes(vec![0; 6])) }
    }
});

/// Prefix Information option (type 3, RFC 4861 §4.6.2).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptPrefixInfo {
    prefix: Addr6,
    prefix_len: Int<u8>,
    /// The flags octet: L 0x80, A 0x40, R 0x20.
    flags: Int<u8>,
    valid_lifetime: Int<u32>,
    preferred_lifetime: Int<u32>,
}
impl NdOptPrefixInfo {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::PrefixInformation(nd::PrefixInfo {
            prefix_len: self.prefix_len.0,
            flags: self.flags.0,
            valid_lifetime: self.valid_lifetime.0,
            preferred_lifetime: self.preferred_lifetime.0,
            prefix: self.prefix.0,
        })
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptPrefixInfo", "prefix" => &self.prefix, "prefix_len" => self.prefix_len.0,
            "flags" => self.flags.0, "valid_lifetime" => self.valid_lifetime.0,
            "preferred_lifetime" => self.preferred_lifetime.0)
    }
}
ndopt_class!(NdOptPrefixInfo, {
    #[new]
    #[pyo3(signature = (prefix = None, prefix_len = 64, on_link = true, autonomous = true, valid_lifetime = 2592000, preferred_lifetime = 604800, flags = None))]
    fn new(prefix: Option<Addr6>, #[pyo3(from_py_with = int_arg)] prefix_len: u8, on_link: bool, autonomous: bool, #[pyo3(from_py_with = int_arg)] valid_lifetime: u32, #[pyo3(from_py_with = int_arg)] preferred_lifetime: u32, #[pyo3(from_py_with = opt_int_arg)] flags: Option<u8>) -> Self {
        let f = flags.unwrap_or((u8::from(on_link) * nd::PI_FLAG_ONLINK) | (u8::from(autonomous) * nd::PI_FLAG_AUTO));
        NdOptPrefixInfo { prefix: prefix.unwrap_or_default(), prefix_len: Int(prefix_len), flags: Int(f), valid_lifetime: Int(valid_lifetime), preferred_lifetime: Int(preferred_lifetime) }
    }
    /// L flag: the prefix is on-link (RFC 4861 §4.6.2).
    #[getter]
    fn on_link(&self) -> bool {
        self.flags.0 & nd::PI_FLAG_ONLINK != 0
    }
    #[setter]
    fn set_on_link(&mut self, v: bool) {
        self.flags.0 = (self.flags.0 & !nd::PI_FLAG_ONLINK) | (u8::from(v) * nd::PI_FLAG_ONLINK);
    }
    /// A flag: usable for stateless autoconfiguration (RFC 4862).
    #[getter]
    fn autonomous(&self) -> bool {
        self.flags.0 & nd::PI_FLAG_AUTO != 0
    }
    #[setter]
    fn set_autonomous(&mut self, v: bool) {
        self.flags.0 = (self.flags.0 & !nd::PI_FLAG_AUTO) | (u8::from(v) * nd::PI_FLAG_AUTO);
    }
});

/// Redirected Header option (type 4, RFC 4861 §4.6.3).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptRedirectedHeader {
    /// The IP header + data after the six reserved octets.
    data: Bytes,
}
impl NdOptRedirectedHeader {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::RedirectedHeader(&self.data.0)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptRedirectedHeader", "data" => &self.data)
    }
}
ndopt_class!(NdOptRedirectedHeader, {
    #[new]
    #[pyo3(signature = (data = None))]
    fn new(data: Option<Bytes>) -> Self {
        NdOptRedirectedHeader { data: data.unwrap_or_default() }
    }
});

/// MTU option (type 5, RFC 4861 §4.6.4).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptMtu {
    mtu: Int<u32>,
}
impl NdOptMtu {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::Mtu(self.mtu.0)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptMtu", "mtu" => self.mtu.0)
    }
}
ndopt_class!(NdOptMtu, {
    #[new]
    #[pyo3(signature = (mtu = 1500))]
    fn new(#[pyo3(from_py_with = int_arg)] mtu: u32) -> Self {
        NdOptMtu { mtu: Int(mtu) }
    }
});

/// Nonce option (type 14, RFC 3971 §5.3.2).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptNonce {
    nonce: Bytes,
}
impl NdOptNonce {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::Nonce(&self.nonce.0)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptNonce", "nonce" => &self.nonce)
    }
}
ndopt_class!(NdOptNonce, {
    #[new]
    #[pyo3(signature = (nonce = None))]
    fn new(nonce: Option<Bytes>) -> Self {
        NdOptNonce { nonce: nonce.unwrap_or(Bytes(vec![0; 6])) }
    }
});

/// Route Information option (type 24, RFC 4191 §2.3).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptRouteInfo {
    prefix: Addr6,
    prefix_len: Int<u8>,
    /// 2-bit Prf: 0 medium, 1 high, 3 low, 2 reserved (RFC 4191 §2.1).
    preference: Int<u8>,
    lifetime: Int<u32>,
}
impl NdOptRouteInfo {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::RouteInformation(nd::RouteInfo {
            prefix_len: self.prefix_len.0,
            preference: self.preference.0,
            lifetime: self.lifetime.0,
            prefix: self.prefix.0,
        })
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptRouteInfo", "prefix" => &self.prefix, "prefix_len" => self.prefix_len.0,
            "preference" => self.preference.0, "lifetime" => self.lifetime.0)
    }
}
ndopt_class!(NdOptRouteInfo, {
    #[new]
    #[pyo3(signature = (prefix = None, prefix_len = 0, preference = 0, lifetime = 0xffffffff))]
    fn new(prefix: Option<Addr6>, #[pyo3(from_py_with = int_arg)] prefix_len: u8, #[pyo3(from_py_with = int_arg)] preference: u8, #[pyo3(from_py_with = int_arg)] lifetime: u32) -> Self {
        NdOptRouteInfo { prefix: prefix.unwrap_or_default(), prefix_len: Int(prefix_len), preference: Int(preference), lifetime: Int(lifetime) }
    }
});

/// Recursive DNS Server option (type 25, RFC 8106 §5.1).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptRdnss {
    servers: List<Addr6, 127>,
    lifetime: Int<u32>,
}
impl NdOptRdnss {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::Rdnss { lifetime: self.lifetime.0, servers: self.servers.iter().map(|a| a.0).collect() }
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptRdnss", "servers" => self.servers.clone(), "lifetime" => self.lifetime.0)
    }
}
ndopt_class!(NdOptRdnss, {
    #[new]
    #[pyo3(signature = (servers = None, lifetime = 0xffffffff))]
    fn new(servers: Option<List<Addr6, 127>>, #[pyo3(from_py_with = int_arg)] lifetime: u32) -> Self {
        NdOptRdnss { servers: servers.unwrap_or_default(), lifetime: Int(lifetime) }
    }
});

/// Any other ND option (or a known one with an illegal length), lossless.
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct NdOptUnknown {
    #[pyo3(name = "type")]
    kind: Int<u8>,
    /// The data after type and length.
    data: Bytes,
}
impl NdOptUnknown {
    fn repr(&self) -> nd::Repr<'_> {
        nd::Repr::Unknown { kind: self.kind.0, data: &self.data.0 }
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NdOptUnknown", "type" => self.kind.0, "data" => &self.data)
    }
}
ndopt_class!(NdOptUnknown, {
    #[new]
    #[pyo3(signature = (r#type = 0, data = None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, data: Option<Bytes>) -> Self {
        NdOptUnknown { kind: Int(r#type), data: data.unwrap_or(Bytes(vec![0; 6])) }
    }
});

pub(crate) fn nd_to_py(py: Python<'_>, r: &nd::Repr<'_>) -> PyResult<Py<PyAny>> {
    let b = |d: &[u8]| Bytes(d.to_vec());
    Ok(match r {
        nd::Repr::SourceLinkLayerAddr(d) => NdOptSourceLinkAddr { lladdr: b(d) }.into_py_any(py)?,
        nd::Repr::TargetLinkLayerAddr(d) => NdOptTargetLinkAddr { lladdr: b(d) }.into_py_any(py)?,
        nd::Repr::PrefixInformation(p) => NdOptPrefixInfo {
            prefix: Addr6(p.prefix),
            prefix_len: Int(p.prefix_len),
            flags: Int(p.flags),
            valid_lifetime: Int(p.valid_lifetime),
            preferred_lifetime: Int(p.preferred_lifetime),
        }
        .into_py_any(py)?,
        nd::Repr::RedirectedHeader(d) => NdOptRedirectedHeader { data: b(d) }.into_py_any(py)?,
        nd::Repr::Mtu(m) => NdOptMtu { mtu: Int(*m) }.into_py_any(py)?,
        nd::Repr::Nonce(d) => NdOptNonce { nonce: b(d) }.into_py_any(py)?,
        nd::Repr::RouteInformation(r) => {
            NdOptRouteInfo { prefix: Addr6(r.prefix), prefix_len: Int(r.prefix_len), preference: Int(r.preference), lifetime: Int(r.lifetime) }
                .into_py_any(py)?
        }
        nd::Repr::Rdnss { lifetime, servers } => {
            NdOptRdnss { servers: servers.iter().map(|a| Addr6(*a)).collect(), lifetime: Int(*lifetime) }.into_py_any(py)?
        }
        nd::Repr::Unknown { kind, data } => NdOptUnknown { kind: Int(*kind), data: b(data) }.into_py_any(py)?,
    })
}

/// Append one ND option object to `out`.
fn nd_emit(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    macro_rules! try_emit {
        ($($cls:ident),*) => {
            $(if let Ok(o) = obj.cast::<$cls>() {
                o.borrow().repr().emit(out)?;
                return Ok(());
            })*
        };
    }
    try_emit!(
        NdOptSourceLinkAddr,
        NdOptTargetLinkAddr,
        NdOptPrefixInfo,
        NdOptRedirectedHeader,
        NdOptMtu,
        NdOptNonce,
        NdOptRouteInfo,
        NdOptRdnss,
        NdOptUnknown
    );
    Err(pyo3::exceptions::PyTypeError::new_err(format!("not an ND option object: {}", obj.repr()?)))
}

fn emit_options(py: Python<'_>, options: &[Py<PyAny>], out: &mut Vec<u8>) -> PyResult<()> {
    for o in options {
        nd_emit(o.bind(py), out)?;
    }
    Ok(())
}

fn first_of<T: PyTypeInfo>(py: Python<'_>, options: &[Py<PyAny>]) -> Option<Py<PyAny>> {
    options.iter().find(|o| o.bind(py).is_instance_of::<T>()).map(|o| o.clone_ref(py))
}

fn all_of<T: PyTypeInfo>(py: Python<'_>, options: &[Py<PyAny>]) -> Vec<Py<PyAny>> {
    options.iter().filter(|o| o.bind(py).is_instance_of::<T>()).map(|o| o.clone_ref(py)).collect()
}

fn opt_list(_py: Python<'_>, options: Option<Bound<'_, PyAny>>) -> PyResult<List<Py<PyAny>, 8191>> {
    match options {
        None => Ok(List::default()),
        // a message of at most 64 KiB carries at most 8191 options of 8 octets
        Some(o) => Ok(List(super::util::bounded_items(&o, 8191, "options")?.into_iter().map(Bound::unbind).collect())),
    }
}

fn options_of(py: Python<'_>, o: &nd::Options<'_>) -> PyResult<List<Py<PyAny>, 8191>> {
    o.options.iter().map(|r| nd_to_py(py, r)).collect()
}

// --------------------------------------------------------- ICMPv6 messages

fn finish_icmp<'py>(py: Python<'py>, mut wire: Vec<u8>, src: Option<Addr6>, dst: Option<Addr6>) -> PyResult<Bound<'py, PyBytes>> {
    if let Some((s, d)) = pseudo6(src, dst)? {
        icmpv6::Packet::new_unchecked(&mut wire[..]).fill_checksum(&s, &d)?;
    }
    Ok(PyBytes::new(py, &wire))
}

fn icmp_repr_wire(r: &icmpv6::Repr<'_>) -> PyResult<Vec<u8>> {
    let mut v = Vec::new();
    r.emit(&mut v, None)?;
    Ok(v)
}

macro_rules! msg_class {
    ($cls:ident, { $($extra:tt)* }) => {
        #[pymethods]
        impl $cls {
            $($extra)*

            /// The message on the wire. With `src` and `dst` the checksum
            /// is computed over the IPv6 pseudo-header (RFC 4443 §2.3),
            /// otherwise it is left 0.
            #[pyo3(signature = (src = None, dst = None))]
            fn to_bytes<'py>(&self, py: Python<'py>, src: Option<Addr6>, dst: Option<Addr6>) -> PyResult<Bound<'py, PyBytes>> {
                let w = self.wire(py)?;
                finish_icmp(py, w, src, dst)
            }

            /// Parse a message of this class; with `src` and `dst` the
            /// checksum is verified. ND options are walked with KAME's cap.
            #[staticmethod]
            #[pyo3(signature = (buf, src = None, dst = None, maxndopt = 10))]
            fn from_bytes(py: Python<'_>, buf: Bytes, src: Option<Addr6>, dst: Option<Addr6>, #[pyo3(from_py_with = int_arg)] maxndopt: usize) -> PyResult<Py<PyAny>> {
                let o = parse_icmpv6_impl(py, &buf.0, src, dst, maxndopt)?;
                if o.bind(py).is_instance_of::<$cls>() {
                    Ok(o)
                } else {
                    Err(wrong_class(Layer::Icmpv6))
                }
            }

            /// RFC 4861 / MLD validation that needs the IP header (hop
            /// limit, source and destination rules); raises MalformedError.
            fn validate(&self, py: Python<'_>, #[pyo3(from_py_with = int_arg)] hop_limit: u8, src: Addr6, dst: Addr6) -> PyResult<()> {
                let w = self.wire(py)?;
                let r = icmpv6::Repr::parse(&w, None, 0)?;
                r.validate(hop_limit, &src.0, &dst.0)?;
                Ok(())
            }

            /// Equal when both encode to the same bytes.
            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                match other.cast::<$cls>() {
                    Ok(o) => Ok(self.wire(py)? == o.borrow().wire(py)?),
                    Err(_) => Ok(false),
                }
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                self.repr_str(py)
            }
        }
    };
}

/// ICMPv6 Echo Request (128) / Echo Reply (129), RFC 4443 §4.
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Icmpv6Echo {
    #[pyo3(name = "type")]
    msg_type: Int<u8>,
    ident: Int<u16>,
    seq: Int<u16>,
    data: Bytes,
}
impl Icmpv6Echo {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        let (ident, seq_no, data) = (self.ident.0, self.seq.0, &self.data.0[..]);
        let r = match self.msg_type.0 {
            128 => icmpv6::Repr::EchoRequest { ident, seq_no, data },
            129 => icmpv6::Repr::EchoReply { ident, seq_no, data },
            _ => return Err(PyValueError::new_err("Icmpv6Echo type is 128 or 129")),
        };
        icmp_repr_wire(&r)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Icmpv6Echo", "type" => self.msg_type.0, "ident" => self.ident.0, "seq" => self.seq.0, "data" => &self.data)
    }
}
msg_class!(Icmpv6Echo, {
    #[new]
    #[pyo3(signature = (r#type = 128, ident = 0, seq = 0, data = None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, #[pyo3(from_py_with = int_arg)] ident: u16, #[pyo3(from_py_with = int_arg)] seq: u16, data: Option<Bytes>) -> Self {
        Icmpv6Echo { msg_type: Int(r#type), ident: Int(ident), seq: Int(seq), data: data.unwrap_or_default() }
    }
    #[getter]
    fn is_request(&self) -> bool {
        self.msg_type.0 == 128
    }
});

/// ICMPv6 error (RFC 4443 §3): Destination Unreachable (1), Packet Too Big
/// (2, `mtu`), Time Exceeded (3), Parameter Problem (4, `pointer`), carrying
/// the invoking packet as raw bytes. `param` is the 32-bit word after the
/// checksum (`mtu` and `pointer` are aliases of it).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Icmpv6Error {
    #[pyo3(name = "type")]
    msg_type: Int<u8>,
    code: Int<u8>,
    param: Int<u32>,
    invoking: Bytes,
}
impl Icmpv6Error {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        if !(1..=4).contains(&self.msg_type.0) {
            return Err(PyValueError::new_err("Icmpv6Error type is 1, 2, 3 or 4"));
        }
        let mut v = vec![self.msg_type.0, self.code.0, 0, 0];
        v.extend_from_slice(&self.param.0.to_be_bytes());
        v.extend_from_slice(&self.invoking.0);
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Icmpv6Error", "type" => self.msg_type.0, "code" => self.code.0, "param" => self.param.0, "invoking" => &self.invoking)
    }
}
msg_class!(Icmpv6Error, {
    #[new]
    #[pyo3(signature = (r#type = 1, code = 0, param = 0, invoking = None, mtu = None, pointer = None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, #[pyo3(from_py_with = int_arg)] code: u8, #[pyo3(from_py_with = int_arg)] param: u32, invoking: Option<Bytes>, #[pyo3(from_py_with = opt_int_arg)] mtu: Option<u32>, #[pyo3(from_py_with = opt_int_arg)] pointer: Option<u32>) -> Self {
        let param = mtu.or(pointer).unwrap_or(param);
        Icmpv6Error { msg_type: Int(r#type), code: Int(code), param: Int(param), invoking: invoking.unwrap_or_default() }
    }
    /// Packet Too Big MTU (RFC 4443 §3.2).
    #[getter]
    fn mtu(&self) -> u32 {
        self.param.0
    }
    #[setter]
    fn set_mtu(&mut self, #[pyo3(from_py_with = int_arg)] mtu: u32) {
        self.param.0 = mtu;
    }
    /// Parameter Problem pointer (RFC 4443 §3.4).
    #[getter]
    fn pointer(&self) -> u32 {
        self.param.0
    }
    #[setter]
    fn set_pointer(&mut self, #[pyo3(from_py_with = int_arg)] pointer: u32) {
        self.param.0 = pointer;
    }
});

/// Any other ICMPv6 message, lossless.
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Icmpv6Unknown {
    #[pyo3(name = "type")]
    msg_type: Int<u8>,
    code: Int<u8>,
    /// Everything after the checksum.
    body: Bytes,
}
impl Icmpv6Unknown {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = vec![self.msg_type.0, self.code.0, 0, 0];
        v.extend_from_slice(&self.body.0);
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Icmpv6Unknown", "type" => self.msg_type.0, "code" => self.code.0, "body" => &self.body)
    }
}
msg_class!(Icmpv6Unknown, {
    #[new]
    #[pyo3(signature = (r#type = 0, code = 0, body = None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, #[pyo3(from_py_with = int_arg)] code: u8, body: Option<Bytes>) -> Self {
        Icmpv6Unknown { msg_type: Int(r#type), code: Int(code), body: body.unwrap_or_default() }
    }
});

/// Router Solicitation (133, RFC 4861 §4.1).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct RouterSolicitation {
    options: List<Py<PyAny>, 8191>,
    nd_toomanyopt: Int<u32>,
    nd_dupopt: Int<u32>,
    nd_badopt: Int<u32>,
    nd_unknownopt: Int<u32>,
}
impl RouterSolicitation {
    fn wire(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = icmp_repr_wire(&icmpv6::Repr::RouterSolicit { options: nd::Options::default() })?;
        emit_options(py, &self.options, &mut v)?;
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "RouterSolicitation", "options" => &self.options)
    }
}
msg_class!(RouterSolicitation, {
    #[new]
    #[pyo3(signature = (options = None))]
    fn new(py: Python<'_>, options: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(RouterSolicitation { options: opt_list(py, options)?, nd_toomanyopt: Int(0), nd_dupopt: Int(0), nd_badopt: Int(0), nd_unknownopt: Int(0) })
    }
    /// The first Source Link-Layer Address option, if any (first wins).
    #[getter]
    fn source_lladdr(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptSourceLinkAddr>(py, &self.options)
    }
});

/// An ND option class whose value is one octet string (the link-layer
/// address, or the Redirected Header's data).
trait OptOctets {
    fn octets(&self) -> &[u8];
}
impl OptOctets for NdOptSourceLinkAddr {
    fn octets(&self) -> &[u8] {
        &self.lladdr.0
    }
}
impl OptOctets for NdOptTargetLinkAddr {
    fn octets(&self) -> &[u8] {
        &self.lladdr.0
    }
}
impl OptOctets for NdOptRedirectedHeader {
    fn octets(&self) -> &[u8] {
        &self.data.0
    }
}

/// The octets of the first option of class `T` (first wins), read from the
/// object's field (no attribute lookup by name).
fn first_lladdr<T: pyo3::PyClass + OptOctets>(py: Python<'_>, options: &[Py<PyAny>]) -> PyResult<Option<Py<PyAny>>> {
    for o in options {
        if let Ok(t) = o.bind(py).cast::<T>() {
            return Ok(Some(PyBytes::new(py, t.try_borrow()?.octets()).into_any().unbind()));
        }
    }
    Ok(None)
}

/// Router Advertisement (134, RFC 4861 §4.2; Prf RFC 4191 §2.2).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct RouterAdvertisement {
    cur_hop_limit: Int<u8>,
    /// The flags octet: M 0x80, O 0x40, H 0x20, Prf 0x18, P 0x04.
    flags: Int<u8>,
    router_lifetime: Int<u16>,
    reachable_time: Int<u32>,
    retrans_timer: Int<u32>,
    options: List<Py<PyAny>, 8191>,
    nd_toomanyopt: Int<u32>,
    nd_dupopt: Int<u32>,
    nd_badopt: Int<u32>,
    nd_unknownopt: Int<u32>,
}
impl RouterAdvertisement {
    fn wire(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = icmp_repr_wire(&icmpv6::Repr::RouterAdvert {
            cur_hop_limit: self.cur_hop_limit.0,
            flags: self.flags.0,
            router_lifetime: self.router_lifetime.0,
            reachable_time: self.reachable_time.0,
            retrans_timer: self.retrans_timer.0,
            options: nd::Options::default(),
        })?;
        emit_options(py, &self.options, &mut v)?;
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "RouterAdvertisement", "cur_hop_limit" => self.cur_hop_limit.0, "flags" => self.flags.0,
            "router_lifetime" => self.router_lifetime.0, "reachable_time" => self.reachable_time.0,
            "retrans_timer" => self.retrans_timer.0, "options" => &self.options)
    }
    fn set_bit(&mut self, bit: u8, v: bool) {
        self.flags.0 = (self.flags.0 & !bit) | (u8::from(v) * bit);
    }
}
msg_class!(RouterAdvertisement, {
    #[new]
    #[pyo3(signature = (cur_hop_limit = 64, managed = false, other = false, preference = 0, router_lifetime = 1800, reachable_time = 0, retrans_timer = 0, options = None, flags = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(py: Python<'_>, #[pyo3(from_py_with = int_arg)] cur_hop_limit: u8, managed: bool, other: bool, #[pyo3(from_py_with = int_arg)] preference: u8, #[pyo3(from_py_with = int_arg)] router_lifetime: u16, #[pyo3(from_py_with = int_arg)] reachable_time: u32, #[pyo3(from_py_with = int_arg)] retrans_timer: u32, options: Option<Bound<'_, PyAny>>, #[pyo3(from_py_with = opt_int_arg)] flags: Option<u8>) -> PyResult<Self> {
        let f = flags.unwrap_or((u8::from(managed) * icmpv6::RA_FLAG_MANAGED) | (u8::from(other) * icmpv6::RA_FLAG_OTHER) | ((preference & 3) << 3));
        Ok(RouterAdvertisement {
            cur_hop_limit: Int(cur_hop_limit),
            flags: Int(f),
            router_lifetime: Int(router_lifetime),
            reachable_time: Int(reachable_time),
            retrans_timer: Int(retrans_timer),
            options: opt_list(py, options)?,
            nd_toomanyopt: Int(0),
            nd_dupopt: Int(0),
            nd_badopt: Int(0),
            nd_unknownopt: Int(0),
        })
    }
    /// M: addresses via DHCPv6 (RFC 4861 §4.2).
    #[getter]
    fn managed(&self) -> bool {
        self.flags.0 & icmpv6::RA_FLAG_MANAGED != 0
    }
    #[setter]
    fn set_managed(&mut self, v: bool) {
        self.set_bit(icmpv6::RA_FLAG_MANAGED, v)
    }
    /// O: other configuration via DHCPv6 (RFC 4861 §4.2).
    #[getter]
    fn other(&self) -> bool {
        self.flags.0 & icmpv6::RA_FLAG_OTHER != 0
    }
    #[setter]
    fn set_other(&mut self, v: bool) {
        self.set_bit(icmpv6::RA_FLAG_OTHER, v)
    }
    /// Default router preference, 2 bits: 0 medium, 1 high, 3 low (RFC 4191 §2.2).
    #[getter]
    fn preference(&self) -> u8 {
        (self.flags.0 & icmpv6::RA_PRF_MASK) >> 3
    }
    #[setter]
    fn set_preference(&mut self, #[pyo3(from_py_with = int_arg)] preference: u8) {
        self.flags.0 = (self.flags.0 & !icmpv6::RA_PRF_MASK) | ((preference & 3) << 3);
    }
    /// The first Source Link-Layer Address option (first wins).
    #[getter]
    fn source_lladdr(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptSourceLinkAddr>(py, &self.options)
    }
    /// The first MTU option's value.
    #[getter]
    fn mtu(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        match first_of::<NdOptMtu>(py, &self.options) {
            Some(o) => Ok(Some(o.bind(py).cast::<NdOptMtu>()?.borrow().mtu.0)),
            None => Ok(None),
        }
    }
    /// Every Prefix Information option, in order.
    #[getter]
    fn prefixes(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        all_of::<NdOptPrefixInfo>(py, &self.options)
    }
    /// Every Route Information option, in order.
    #[getter]
    fn routes(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        all_of::<NdOptRouteInfo>(py, &self.options)
    }
    /// Every RDNSS option, in order.
    #[getter]
    fn rdnss(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        all_of::<NdOptRdnss>(py, &self.options)
    }
});

/// Neighbor Solicitation (135, RFC 4861 §4.3).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct NeighborSolicitation {
    target: Addr6,
    options: List<Py<PyAny>, 8191>,
    nd_toomanyopt: Int<u32>,
    nd_dupopt: Int<u32>,
    nd_badopt: Int<u32>,
    nd_unknownopt: Int<u32>,
}
impl NeighborSolicitation {
    fn wire(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = icmp_repr_wire(&icmpv6::Repr::NeighborSolicit { target: self.target.0, options: nd::Options::default() })?;
        emit_options(py, &self.options, &mut v)?;
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NeighborSolicitation", "target" => &self.target, "options" => &self.options)
    }
}
msg_class!(NeighborSolicitation, {
    #[new]
    #[pyo3(signature = (target = None, options = None))]
    fn new(py: Python<'_>, target: Option<Addr6>, options: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(NeighborSolicitation { target: target.unwrap_or_default(), options: opt_list(py, options)?, nd_toomanyopt: Int(0), nd_dupopt: Int(0), nd_badopt: Int(0), nd_unknownopt: Int(0) })
    }
    #[getter]
    fn source_lladdr(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptSourceLinkAddr>(py, &self.options)
    }
});

/// Neighbor Advertisement (136, RFC 4861 §4.4).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct NeighborAdvertisement {
    target: Addr6,
    /// R 0x80, S 0x40, O 0x20.
    flags: Int<u8>,
    options: List<Py<PyAny>, 8191>,
    nd_toomanyopt: Int<u32>,
    nd_dupopt: Int<u32>,
    nd_badopt: Int<u32>,
    nd_unknownopt: Int<u32>,
}
impl NeighborAdvertisement {
    fn wire(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = icmp_repr_wire(&icmpv6::Repr::NeighborAdvert { flags: self.flags.0, target: self.target.0, options: nd::Options::default() })?;
        emit_options(py, &self.options, &mut v)?;
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "NeighborAdvertisement", "target" => &self.target, "flags" => self.flags.0, "options" => &self.options)
    }
    fn set_bit(&mut self, bit: u8, v: bool) {
        self.flags.0 = (self.flags.0 & !bit) | (u8::from(v) * bit);
    }
}
msg_class!(NeighborAdvertisement, {
    #[new]
    #[pyo3(signature = (target = None, router = false, solicited = false, r#override = false, options = None, flags = None))]
    fn new(py: Python<'_>, target: Option<Addr6>, router: bool, solicited: bool, r#override: bool, options: Option<Bound<'_, PyAny>>, #[pyo3(from_py_with = opt_int_arg)] flags: Option<u8>) -> PyResult<Self> {
        let f = flags.unwrap_or((u8::from(router) * icmpv6::NA_FLAG_ROUTER) | (u8::from(solicited) * icmpv6::NA_FLAG_SOLICITED) | (u8::from(r#override) * icmpv6::NA_FLAG_OVERRIDE));
        Ok(NeighborAdvertisement { target: target.unwrap_or_default(), flags: Int(f & 0xe0), options: opt_list(py, options)?, nd_toomanyopt: Int(0), nd_dupopt: Int(0), nd_badopt: Int(0), nd_unknownopt: Int(0) })
    }
    #[getter]
    fn router(&self) -> bool {
        self.flags.0 & icmpv6::NA_FLAG_ROUTER != 0
    }
    #[setter]
    fn set_router(&mut self, v: bool) {
        self.set_bit(icmpv6::NA_FLAG_ROUTER, v)
    }
    #[getter]
    fn solicited(&self) -> bool {
        self.flags.0 & icmpv6::NA_FLAG_SOLICITED != 0
    }
    #[setter]
    fn set_solicited(&mut self, v: bool) {
        self.set_bit(icmpv6::NA_FLAG_SOLICITED, v)
    }
    #[getter(r#override)]
    fn get_override(&self) -> bool {
        self.flags.0 & icmpv6::NA_FLAG_OVERRIDE != 0
    }
    #[setter(r#override)]
    fn set_override(&mut self, v: bool) {
        self.set_bit(icmpv6::NA_FLAG_OVERRIDE, v)
    }
    #[getter]
    fn target_lladdr(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptTargetLinkAddr>(py, &self.options)
    }
});

/// Redirect (137, RFC 4861 §4.5).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Redirect {
    target: Addr6,
    destination: Addr6,
    options: List<Py<PyAny>, 8191>,
    nd_toomanyopt: Int<u32>,
    nd_dupopt: Int<u32>,
    nd_badopt: Int<u32>,
    nd_unknownopt: Int<u32>,
}
impl Redirect {
    fn wire(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let mut v = icmp_repr_wire(&icmpv6::Repr::Redirect { target: self.target.0, dest: self.destination.0, options: nd::Options::default() })?;
        emit_options(py, &self.options, &mut v)?;
        Ok(v)
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Redirect", "target" => &self.target, "destination" => &self.destination, "options" => &self.options)
    }
}
msg_class!(Redirect, {
    #[new]
    #[pyo3(signature = (target = None, destination = None, options = None))]
    fn new(py: Python<'_>, target: Option<Addr6>, destination: Option<Addr6>, options: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(Redirect {
            target: target.unwrap_or_default(),
            destination: destination.unwrap_or_default(),
            options: opt_list(py, options)?,
            nd_toomanyopt: Int(0),
            nd_dupopt: Int(0),
            nd_badopt: Int(0),
            nd_unknownopt: Int(0),
        })
    }
    #[getter]
    fn target_lladdr(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptTargetLinkAddr>(py, &self.options)
    }
    #[getter]
    fn redirected_header(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        first_lladdr::<NdOptRedirectedHeader>(py, &self.options)
    }
});

/// MLD Query (130): MLDv1 (RFC 2710 §3.6) or, with `v2`, MLDv2 (RFC 3810 §5.1).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct MldQuery {
    max_resp: Int<u16>,
    mcast_addr: Addr6,
    v2: bool,
    suppress: bool,
    qrv: Int<u8>,
    qqic: Int<u8>,
    sources: List<Addr6, 4094>,
}
impl MldQuery {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        let v2 = self.v2.then(|| mld::QueryV2 {
            suppress: self.suppress,
            qrv: self.qrv.0,
            qqic: self.qqic.0,
            sources: self.sources.iter().map(|a| a.0).collect(),
        });
        icmp_repr_wire(&icmpv6::Repr::Mld(mld::Repr::Query { max_resp: self.max_resp.0, mcast_addr: self.mcast_addr.0, v2 }))
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "MldQuery", "max_resp" => self.max_resp.0, "mcast_addr" => &self.mcast_addr, "v2" => self.v2,
            "suppress" => self.suppress, "qrv" => self.qrv.0, "qqic" => self.qqic.0, "sources" => self.sources.clone())
    }
}
msg_class!(MldQuery, {
    #[new]
    #[pyo3(signature = (max_resp = 10000, mcast_addr = None, v2 = false, suppress = false, qrv = 2, qqic = 125, sources = None))]
    fn new(#[pyo3(from_py_with = int_arg)] max_resp: u16, mcast_addr: Option<Addr6>, v2: bool, suppress: bool, #[pyo3(from_py_with = int_arg)] qrv: u8, #[pyo3(from_py_with = int_arg)] qqic: u8, sources: Option<List<Addr6, 4094>>) -> Self {
        MldQuery { max_resp: Int(max_resp), mcast_addr: mcast_addr.unwrap_or_default(), v2, suppress, qrv: Int(qrv), qqic: Int(qqic), sources: sources.unwrap_or_default() }
    }
});

/// MLDv1 Report (131, RFC 2710 §3).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct MldReport {
    mcast_addr: Addr6,
}
impl MldReport {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        icmp_repr_wire(&icmpv6::Repr::Mld(mld::Repr::Report { mcast_addr: self.mcast_addr.0 }))
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "MldReport", "mcast_addr" => &self.mcast_addr)
    }
}
msg_class!(MldReport, {
    #[new]
    #[pyo3(signature = (mcast_addr = None))]
    fn new(mcast_addr: Option<Addr6>) -> Self {
        MldReport { mcast_addr: mcast_addr.unwrap_or_default() }
    }
});

/// MLDv1 Done (132, RFC 2710 §3).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct MldDone {
    mcast_addr: Addr6,
}
impl MldDone {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        icmp_repr_wire(&icmpv6::Repr::Mld(mld::Repr::Done { mcast_addr: self.mcast_addr.0 }))
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "MldDone", "mcast_addr" => &self.mcast_addr)
    }
}
msg_class!(MldDone, {
    #[new]
    #[pyo3(signature = (mcast_addr = None))]
    fn new(mcast_addr: Option<Addr6>) -> Self {
        MldDone { mcast_addr: mcast_addr.unwrap_or_default() }
    }
});

/// A multicast address record of an MLDv2 Report (RFC 3810 §5.2.4).
#[pyclass(module = "kame._core", get_all, set_all, from_py_object)]
#[derive(Clone, PartialEq)]
pub struct MldAddressRecord {
    record_type: Int<u8>,
    mcast_addr: Addr6,
    sources: List<Addr6, 4094>,
    aux_data: Bytes,
}
#[pymethods]
impl MldAddressRecord {
    #[new]
    #[pyo3(signature = (record_type = 1, mcast_addr = None, sources = None, aux_data = None))]
    fn new(#[pyo3(from_py_with = int_arg)] record_type: u8, mcast_addr: Option<Addr6>, sources: Option<List<Addr6, 4094>>, aux_data: Option<Bytes>) -> Self {
        MldAddressRecord { record_type: Int(record_type), mcast_addr: mcast_addr.unwrap_or_default(), sources: sources.unwrap_or_default(), aux_data: aux_data.unwrap_or_default() }
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<MldAddressRecord>() {
            Ok(o) => *self == *o.borrow(),
            Err(_) => false,
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "MldAddressRecord", "record_type" => self.record_type.0, "mcast_addr" => &self.mcast_addr,
            "sources" => self.sources.clone(), "aux_data" => &self.aux_data)
    }
}

/// MLDv2 Report (143, RFC 3810 §5.2).
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Mldv2Report {
    records: List<MldAddressRecord, 4096>,
}
impl Mldv2Report {
    fn wire(&self, _py: Python<'_>) -> PyResult<Vec<u8>> {
        let records = self
            .records
            .iter()
            .map(|r| mld::AddressRecord {
                record_type: r.record_type.0,
                mcast_addr: r.mcast_addr.0,
                sources: r.sources.iter().map(|a| a.0).collect(),
                aux_data: &r.aux_data.0,
            })
            .collect();
        icmp_repr_wire(&icmpv6::Repr::Mld(mld::Repr::ReportV2 { records }))
    }
    fn repr_str(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Mldv2Report", "records" => self.records.clone())
    }
}
msg_class!(Mldv2Report, {
    #[new]
    #[pyo3(signature = (records = None))]
    fn new(records: Option<List<MldAddressRecord, 4096>>) -> Self {
        Mldv2Report { records: records.unwrap_or_default() }
    }
});

fn counters(o: &nd::Options<'_>) -> (u32, u32, u32, u32) {
    (o.toomanyopt, o.dupopt, o.badopt, o.unknownopt)
}

fn msg_to_py(py: Python<'_>, r: &icmpv6::Repr<'_>) -> PyResult<Py<PyAny>> {
    let a = |x: &Ipv6Addr| Addr6(*x);
    Ok(match r {
        icmpv6::Repr::EchoRequest { ident, seq_no, data } => {
            Icmpv6Echo { msg_type: Int(128), ident: Int(*ident), seq: Int(*seq_no), data: Bytes(data.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::EchoReply { ident, seq_no, data } => {
            Icmpv6Echo { msg_type: Int(129), ident: Int(*ident), seq: Int(*seq_no), data: Bytes(data.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::DstUnreachable { code, invoking } => {
            Icmpv6Error { msg_type: Int(1), code: Int(u8::from(*code)), param: Int(0), invoking: Bytes(invoking.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::PktTooBig { code, mtu, invoking } => {
            Icmpv6Error { msg_type: Int(2), code: Int(*code), param: Int(*mtu), invoking: Bytes(invoking.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::TimeExceeded { code, invoking } => {
            Icmpv6Error { msg_type: Int(3), code: Int(u8::from(*code)), param: Int(0), invoking: Bytes(invoking.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::ParamProblem { code, pointer, invoking } => {
            Icmpv6Error { msg_type: Int(4), code: Int(u8::from(*code)), param: Int(*pointer), invoking: Bytes(invoking.to_vec()) }.into_py_any(py)?
        }
        icmpv6::Repr::RouterSolicit { options } => {
            let (t, d, b, u) = counters(options);
            RouterSolicitation { options: options_of(py, options)?, nd_toomanyopt: Int(t), nd_dupopt: Int(d), nd_badopt: Int(b), nd_unknownopt: Int(u) }.into_py_any(py)?
        }
        icmpv6::Repr::RouterAdvert { cur_hop_limit, flags, router_lifetime, reachable_time, retrans_timer, options } => {
            let (t, d, b, u) = counters(options);
            RouterAdvertisement {
                cur_hop_limit: Int(*cur_hop_limit),
                flags: Int(*flags),
                router_lifetime: Int(*router_lifetime),
                reachable_time: Int(*reachable_time),
                retrans_timer: Int(*retrans_timer),
                options: options_of(py, options)?,
                nd_toomanyopt: Int(t),
                nd_dupopt: Int(d),
                nd_badopt: Int(b),
                nd_unknownopt: Int(u),
            }
            .into_py_any(py)?
        }
        icmpv6::Repr::NeighborSolicit { target, options } => {
            let (t, d, b, u) = counters(options);
            NeighborSolicitation { target: a(target), options: options_of(py, options)?, nd_toomanyopt: Int(t), nd_dupopt: Int(d), nd_badopt: Int(b), nd_unknownopt: Int(u) }
                .into_py_any(py)?
        }
        icmpv6::Repr::NeighborAdvert { flags, target, options } => {
            let (t, d, b, u) = counters(options);
            NeighborAdvertisement {
                target: a(target),
                flags: Int(*flags),
                options: options_of(py, options)?,
                nd_toomanyopt: Int(t),
                nd_dupopt: Int(d),
                nd_badopt: Int(b),
                nd_unknownopt: Int(u),
            }
            .into_py_any(py)?
        }
        icmpv6::Repr::Redirect { target, dest, options } => {
            let (t, d, b, u) = counters(options);
            Redirect {
                target: a(target),
                destination: a(dest),
                options: options_of(py, options)?,
                nd_toomanyopt: Int(t),
                nd_dupopt: Int(d),
                nd_badopt: Int(b),
                nd_unknownopt: Int(u),
            }
            .into_py_any(py)?
        }
        icmpv6::Repr::Mld(m) => match m {
            mld::Repr::Query { max_resp, mcast_addr, v2 } => {
                let (is2, suppress, qrv, qqic, sources) = match v2 {
                    Some(q) => (true, q.suppress, q.qrv, q.qqic, q.sources.iter().map(a).collect()),
                    None => (false, false, 0, 0, Vec::new()),
                };
                MldQuery { max_resp: Int(*max_resp), mcast_addr: a(mcast_addr), v2: is2, suppress, qrv: Int(qrv), qqic: Int(qqic), sources: List(sources) }.into_py_any(py)?
            }
            mld::Repr::Report { mcast_addr } => MldReport { mcast_addr: a(mcast_addr) }.into_py_any(py)?,
            mld::Repr::Done { mcast_addr } => MldDone { mcast_addr: a(mcast_addr) }.into_py_any(py)?,
            mld::Repr::ReportV2 { records } => Mldv2Report {
                records: records
                    .iter()
                    .map(|r| MldAddressRecord {
                        record_type: Int(r.record_type),
                        mcast_addr: a(&r.mcast_addr),
                        sources: r.sources.iter().map(a).collect(),
                        aux_data: Bytes(r.aux_data.to_vec()),
                    })
                    .collect(),
            }
            .into_py_any(py)?,
        },
        icmpv6::Repr::Unknown { msg_type, code, body } => {
            Icmpv6Unknown { msg_type: Int(*msg_type), code: Int(*code), body: Bytes(body.to_vec()) }.into_py_any(py)?
        }
    })
}

pub(crate) fn parse_icmpv6_impl(py: Python<'_>, buf: &[u8], src: Option<Addr6>, dst: Option<Addr6>, maxndopt: usize) -> PyResult<Py<PyAny>> {
    let ph = pseudo6(src, dst)?;
    let r = icmpv6::Repr::parse(buf, ph.as_ref().map(|(s, d)| (s, d)), maxndopt)?;
    let o = msg_to_py(py, &r)?;
    // Keep the "unused" word of Destination Unreachable / Time Exceeded
    // (zero on send, ignored on receipt, RFC 4443 §3.1, §3.3) so a parse
    // re-emits byte for byte.
    if let Ok(e) = o.bind(py).cast::<Icmpv6Error>() {
        e.borrow_mut().param = Int(icmpv6::Packet::new_unchecked(buf).param_problem_ptr());
    }
    Ok(o)
}

/// parse_icmpv6(buf, src=None, dst=None, maxndopt=10)
///
/// Parse an ICMPv6 message into its class. With `src` and `dst` the
/// checksum is verified (RFC 4443 §2.3). ND options are walked KAME-style
/// (seed §1.2): zero-length rejects, first `maxndopt` taken (0 = no limit),
/// the rest counted in `nd_toomanyopt`.
#[pyfunction]
#[pyo3(signature = (buf, src = None, dst = None, maxndopt = 10))]
fn parse_icmpv6(py: Python<'_>, buf: Bytes, src: Option<Addr6>, dst: Option<Addr6>, #[pyo3(from_py_with = int_arg)] maxndopt: usize) -> PyResult<Py<PyAny>> {
    parse_icmpv6_impl(py, &buf.0, src, dst, maxndopt)
}

/// parse_nd_options(buf, maxndopt=10) -> (options, counters)
///
/// KAME nd6_options() over a bare option area: a list of option objects
/// and a dict of counters (toomanyopt, dupopt, badopt, unknownopt).
#[pyfunction]
#[pyo3(signature = (buf, maxndopt = 10))]
fn parse_nd_options<'py>(py: Python<'py>, buf: Bytes, #[pyo3(from_py_with = int_arg)] maxndopt: usize) -> PyResult<Bound<'py, PyTuple>> {
    let o = nd::Options::walk(&buf.0, maxndopt)?;
    let list = PyList::new(py, options_of(py, &o)?.0)?;
    let d = pyo3::types::PyDict::new(py);
    d.set_item("toomanyopt", o.toomanyopt)?;
    d.set_item("dupopt", o.dupopt)?;
    d.set_item("badopt", o.badopt)?;
    d.set_item("unknownopt", o.unknownopt)?;
    PyTuple::new(py, [list.into_any(), d.into_any()])
}

// ------------------------------------------------------- IPv4 / UDP / TCP

/// The IPv4 header (RFC 791 §3.1), options raw.
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct Ipv4Header {
    tos: Int<u8>,
    total_length: Int<u16>,
    ident: Int<u16>,
    /// Three bits: reserved 4, DF 2, MF 1.
    flags: Int<u8>,
    /// In units of 8 octets.
    frag_offset: Int<u16>,
    ttl: Int<u8>,
    protocol: Int<u8>,
    src: Addr4,
    dst: Addr4,
    options: Bytes,
    /// As parsed (or None); to_bytes always computes it.
    checksum: Option<Int<u16>>,
}
impl Ipv4Header {
    fn wire(&self) -> PyResult<Vec<u8>> {
        let r = ipv4::Repr {
            tos: self.tos.0,
            total_len: self.total_length.0,
            ident: self.ident.0,
            flags: self.flags.0,
            frag_offset: self.frag_offset.0,
            ttl: self.ttl.0,
            protocol: self.protocol.0,
            src_addr: self.src.0,
            dst_addr: self.dst.0,
            options: &self.options.0,
        };
        let mut v = Vec::new();
        r.emit(&mut v)?;
        Ok(v)
    }
}
#[pymethods]
impl Ipv4Header {
    #[new]
    #[pyo3(signature = (src = None, dst = None, protocol = 0, total_length = 20, ttl = 64, tos = 0, ident = 0, flags = 0, frag_offset = 0, options = None, checksum = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(src: Option<Addr4>, dst: Option<Addr4>, #[pyo3(from_py_with = int_arg)] protocol: u8, #[pyo3(from_py_with = int_arg)] total_length: u16, #[pyo3(from_py_with = int_arg)] ttl: u8, #[pyo3(from_py_with = int_arg)] tos: u8, #[pyo3(from_py_with = int_arg)] ident: u16, #[pyo3(from_py_with = int_arg)] flags: u8, #[pyo3(from_py_with = int_arg)] frag_offset: u16, options: Option<Bytes>, #[pyo3(from_py_with = opt_int_arg)] checksum: Option<u16>) -> Self {
        Ipv4Header {
            tos: Int(tos),
            total_length: Int(total_length),
            ident: Int(ident),
            flags: Int(flags),
            frag_offset: Int(frag_offset),
            ttl: Int(ttl),
            protocol: Int(protocol),
            src: src.unwrap_or(Addr4(Ipv4Addr::UNSPECIFIED)),
            dst: dst.unwrap_or(Addr4(Ipv4Addr::UNSPECIFIED)),
            options: options.unwrap_or_default(),
            checksum: (checksum).map(Int),
        }
    }
    #[getter]
    fn header_len(&self) -> usize {
        20 + self.options.0.len()
    }
    #[getter]
    fn dscp(&self) -> u8 {
        self.tos.0 >> 2
    }
    #[getter]
    fn ecn(&self) -> u8 {
        self.tos.0 & 3
    }
    #[getter]
    fn df(&self) -> bool {
        self.flags.0 & ipv4::FLAG_DF != 0
    }
    #[getter]
    fn mf(&self) -> bool {
        self.flags.0 & ipv4::FLAG_MF != 0
    }
    /// The header with its checksum computed (RFC 791 §3.1).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.wire()?))
    }
    /// Parse the header of an IPv4 datagram (`buf` holds at least Total
    /// Length octets); `verify` checks the header checksum.
    #[staticmethod]
    #[pyo3(signature = (buf, verify = true))]
    fn from_bytes(buf: Bytes, verify: bool) -> PyResult<Self> {
        let r = ipv4::Repr::parse(&buf.0, verify)?;
        let p = ipv4::Packet::new_unchecked(&buf.0[..]);
        Ok(Ipv4Header {
            tos: Int(r.tos),
            total_length: Int(r.total_len),
            ident: Int(r.ident),
            flags: Int(r.flags),
            frag_offset: Int(r.frag_offset),
            ttl: Int(r.ttl),
            protocol: Int(r.protocol),
            src: Addr4(r.src_addr),
            dst: Addr4(r.dst_addr),
            options: Bytes(r.options.to_vec()),
            checksum: Some(Int(p.checksum())),
        })
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<Ipv4Header>() {
            Ok(o) => Ok(self.wire()? == o.borrow().wire()?),
            Err(_) => Ok(false),
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "Ipv4Header", "src" => &self.src, "dst" => &self.dst, "protocol" => self.protocol.0,
            "total_length" => self.total_length.0, "ttl" => self.ttl.0, "tos" => self.tos.0, "ident" => self.ident.0,
            "flags" => self.flags.0, "frag_offset" => self.frag_offset.0, "options" => &self.options,
            "checksum" => self.checksum.map(|v| v.0))
    }
}

/// A UDP datagram (RFC 768), header and payload.
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct UdpHeader {
    src_port: Int<u16>,
    dst_port: Int<u16>,
    payload: Bytes,
    /// As parsed (or None). to_bytes computes it when given src and dst,
    /// else writes this value (or 0).
    checksum: Option<Int<u16>>,
}
impl UdpHeader {
    fn wire(&self, pseudo: Option<&Pseudo>) -> PyResult<Vec<u8>> {
        let r = udp::Repr { src_port: self.src_port.0, dst_port: self.dst_port.0, payload: &self.payload.0 };
        let mut v = Vec::new();
        r.emit(&mut v, pseudo)?;
        if pseudo.is_none() {
            if let Some(f) = v.get_mut(6..8) {
                f.copy_from_slice(&self.checksum.map(|v| v.0).unwrap_or(0).to_be_bytes());
            }
        }
        Ok(v)
    }
}
#[pymethods]
impl UdpHeader {
    #[new]
    #[pyo3(signature = (src_port = 0, dst_port = 0, payload = None, checksum = None))]
    fn new(#[pyo3(from_py_with = int_arg)] src_port: u16, #[pyo3(from_py_with = int_arg)] dst_port: u16, payload: Option<Bytes>, #[pyo3(from_py_with = opt_int_arg)] checksum: Option<u16>) -> Self {
        UdpHeader { src_port: Int(src_port), dst_port: Int(dst_port), payload: payload.unwrap_or_default(), checksum: (checksum).map(Int) }
    }
    /// The Length field: 8 + payload, or 0 for a jumbogram (RFC 2675 §4).
    #[getter]
    fn length(&self) -> u16 {
        u16::try_from(8 + self.payload.0.len()).unwrap_or(0)
    }
    /// Header and payload. With `src` and `dst` (both IPv6 or both IPv4)
    /// the checksum is computed over that pseudo-header.
    #[pyo3(signature = (src = None, dst = None))]
    fn to_bytes<'py>(&self, py: Python<'py>, src: Option<Bound<'py, PyAny>>, dst: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
        let ph = pseudo_any(src.as_ref(), dst.as_ref())?;
        Ok(PyBytes::new(py, &self.wire(ph.as_ref())?))
    }
    /// Parse; with `src` and `dst` the checksum is verified (a zero
    /// checksum is refused over IPv6, RFC 8200 §8.1). A Length of 0 means a
    /// jumbogram: `buf` is the whole datagram (RFC 2675 §4).
    #[staticmethod]
    #[pyo3(signature = (buf, src = None, dst = None))]
    fn from_bytes(buf: Bytes, src: Option<Bound<'_, PyAny>>, dst: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let ph = pseudo_any(src.as_ref(), dst.as_ref())?;
        let r = udp::Repr::parse(&buf.0, ph.as_ref())?;
        let p = udp::Packet::new_unchecked(&buf.0[..]);
        Ok(UdpHeader { src_port: Int(r.src_port), dst_port: Int(r.dst_port), payload: Bytes(r.payload.to_vec()), checksum: Some(Int(p.checksum())) })
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<UdpHeader>() {
            Ok(o) => Ok(self.wire(None)? == o.borrow().wire(None)?),
            Err(_) => Ok(false),
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "UdpHeader", "src_port" => self.src_port.0, "dst_port" => self.dst_port.0,
            "payload" => &self.payload, "checksum" => self.checksum.map(|v| v.0))
    }
}

#[derive(Clone)]
enum OwnedTcpOpt {
    Eol,
    Nop,
    Mss(u16),
    Ws(u8),
    SackOk,
    Sack(Vec<(u32, u32)>),
    Ts(u32, u32),
    Unknown(u8, Vec<u8>),
}

impl OwnedTcpOpt {
    fn as_opt(&self) -> tcp::TcpOption<'_> {
        match self {
            OwnedTcpOpt::Eol => tcp::TcpOption::EndOfList,
            OwnedTcpOpt::Nop => tcp::TcpOption::NoOperation,
            OwnedTcpOpt::Mss(m) => tcp::TcpOption::MaxSegmentSize(*m),
            OwnedTcpOpt::Ws(s) => tcp::TcpOption::WindowScale(*s),
            OwnedTcpOpt::SackOk => tcp::TcpOption::SackPermitted,
            OwnedTcpOpt::Sack(b) => tcp::TcpOption::Sack(b.clone()),
            OwnedTcpOpt::Ts(a, b) => tcp::TcpOption::Timestamps { tsval: *a, tsecr: *b },
            OwnedTcpOpt::Unknown(k, d) => tcp::TcpOption::Unknown { kind: *k, data: d },
        }
    }

    fn from_opt(o: &tcp::TcpOption<'_>) -> Self {
        match o {
            tcp::TcpOption::EndOfList => OwnedTcpOpt::Eol,
            tcp::TcpOption::NoOperation => OwnedTcpOpt::Nop,
            tcp::TcpOption::MaxSegmentSize(m) => OwnedTcpOpt::Mss(*m),
            tcp::TcpOption::WindowScale(s) => OwnedTcpOpt::Ws(*s),
            tcp::TcpOption::SackPermitted => OwnedTcpOpt::SackOk,
            tcp::TcpOption::Sack(b) => OwnedTcpOpt::Sack(b.clone()),
            tcp::TcpOption::Timestamps { tsval, tsecr } => OwnedTcpOpt::Ts(*tsval, *tsecr),
            tcp::TcpOption::Unknown { kind, data } => OwnedTcpOpt::Unknown(*kind, data.to_vec()),
        }
    }

    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let none = py.None().into_bound(py);
        let t: Bound<'py, PyTuple> = match self {
            OwnedTcpOpt::Eol => PyTuple::new(py, [PyString::new(py, "eol").into_any(), none])?,
            OwnedTcpOpt::Nop => PyTuple::new(py, [PyString::new(py, "nop").into_any(), none])?,
            OwnedTcpOpt::Mss(m) => ("mss", *m).into_pyobject(py)?,
            OwnedTcpOpt::Ws(s) => ("wscale", *s).into_pyobject(py)?,
            OwnedTcpOpt::SackOk => PyTuple::new(py, [PyString::new(py, "sack_permitted").into_any(), none])?,
            OwnedTcpOpt::Sack(b) => ("sack", b.clone()).into_pyobject(py)?,
            OwnedTcpOpt::Ts(a, b) => ("timestamps", (*a, *b)).into_pyobject(py)?,
            OwnedTcpOpt::Unknown(k, d) => (*k, PyBytes::new(py, d)).into_pyobject(py)?,
        };
        Ok(t.into_any())
    }

    fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = obj.extract()?;
        if name.is_instance_of::<pyo3::types::PyInt>() {
            return Ok(OwnedTcpOpt::Unknown(int_named(&name, "kind")?, buf_vec(&value)?));
        }
        let n: String = name.extract()?;
        Ok(match n.as_str() {
            "eol" => OwnedTcpOpt::Eol,
            "nop" => OwnedTcpOpt::Nop,
            "mss" => OwnedTcpOpt::Mss(int_named(&value, "mss")?),
            "wscale" => OwnedTcpOpt::Ws(int_named(&value, "wscale")?),
            "sack_permitted" => OwnedTcpOpt::SackOk,
            "sack" => {
                // 40 octets of options hold at most 4 SACK blocks (RFC 2018 §3)
                let blocks: List<(Int<u32>, Int<u32>), 4> = value.extract()?;
                OwnedTcpOpt::Sack(blocks.0.into_iter().map(|(a, b)| (a.0, b.0)).collect())
            }
            "timestamps" => {
                let (a, b): (Int<u32>, Int<u32>) = value.extract()?;
                OwnedTcpOpt::Ts(a.0, b.0)
            }
            other => return Err(PyValueError::new_err(format!("unknown TCP option name {other:?} (use (kind, bytes) for others)"))),
        })
    }
}

/// A TCP segment (RFC 9293 §3.1), header, options and payload. Options are
/// `(name, value)` tuples: ("mss", int), ("wscale", int),
/// ("sack_permitted", None), ("sack", [(left, right), ...]),
/// ("timestamps", (tsval, tsecr)), ("nop", None), ("eol", None), or
/// (kind: int, data: bytes) for any other kind.
#[pyclass(module = "kame._core", get_all, set_all)]
pub struct TcpHeader {
    src_port: Int<u16>,
    dst_port: Int<u16>,
    seq: Int<u32>,
    ack: Int<u32>,
    /// Reserved and control bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128.
    flags: Int<u16>,
    window: Int<u16>,
    urgent: Int<u16>,
    options: List<Py<PyAny>, 8191>,
    payload: Bytes,
    checksum: Option<Int<u16>>,
}
impl TcpHeader {
    fn wire(&self, py: Python<'_>, pseudo: Option<&Pseudo>) -> PyResult<Vec<u8>> {
        let owned: Vec<OwnedTcpOpt> = self.options.iter().map(|o| OwnedTcpOpt::from_py(o.bind(py))).collect::<PyResult<_>>()?;
        let r = tcp::Repr {
            src_port: self.src_port.0,
            dst_port: self.dst_port.0,
            seq_number: self.seq.0,
            ack_number: self.ack.0,
            flags: self.flags.0,
            window_len: self.window.0,
            urgent_at: self.urgent.0,
            options: owned.iter().map(OwnedTcpOpt::as_opt).collect(),
            payload: &self.payload.0,
        };
        let mut v = Vec::new();
        r.emit(&mut v, pseudo)?;
        if pseudo.is_none() {
            if let Some(f) = v.get_mut(16..18) {
                f.copy_from_slice(&self.checksum.map(|v| v.0).unwrap_or(0).to_be_bytes());
            }
        }
        Ok(v)
    }
}
#[pymethods]
impl TcpHeader {
    #[new]
    #[pyo3(signature = (src_port = 0, dst_port = 0, seq = 0, ack = 0, flags = 0, window = 65535, urgent = 0, options = None, payload = None, checksum = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(py: Python<'_>, #[pyo3(from_py_with = int_arg)] src_port: u16, #[pyo3(from_py_with = int_arg)] dst_port: u16, #[pyo3(from_py_with = int_arg)] seq: u32, #[pyo3(from_py_with = int_arg)] ack: u32, #[pyo3(from_py_with = int_arg)] flags: u16, #[pyo3(from_py_with = int_arg)] window: u16, #[pyo3(from_py_with = int_arg)] urgent: u16, options: Option<Bound<'_, PyAny>>, payload: Option<Bytes>, #[pyo3(from_py_with = opt_int_arg)] checksum: Option<u16>) -> PyResult<Self> {
        Ok(TcpHeader { src_port: Int(src_port), dst_port: Int(dst_port), seq: Int(seq), ack: Int(ack), flags: Int(flags), window: Int(window), urgent: Int(urgent), options: opt_list(py, options)?, payload: payload.unwrap_or_default(), checksum: (checksum).map(Int) })
    }
    /// Data offset in octets (options padded to 4).
    #[getter]
    fn header_len(&self, py: Python<'_>) -> PyResult<usize> {
        let n: usize = self
            .options
            .iter()
            .map(|o| OwnedTcpOpt::from_py(o.bind(py)).map(|o| o.as_opt().buffer_len()))
            .sum::<PyResult<usize>>()?;
        Ok(20 + n.div_ceil(4) * 4)
    }
    /// The segment. With `src` and `dst` (same family) the checksum is
    /// computed (32-bit length over IPv6, so jumbo segments work).
    #[pyo3(signature = (src = None, dst = None))]
    fn to_bytes<'py>(&self, py: Python<'py>, src: Option<Bound<'py, PyAny>>, dst: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
        let ph = pseudo_any(src.as_ref(), dst.as_ref())?;
        Ok(PyBytes::new(py, &self.wire(py, ph.as_ref())?))
    }
    /// Parse; with `src` and `dst` the checksum is verified.
    #[staticmethod]
    #[pyo3(signature = (buf, src = None, dst = None))]
    fn from_bytes(py: Python<'_>, buf: Bytes, src: Option<Bound<'_, PyAny>>, dst: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let ph = pseudo_any(src.as_ref(), dst.as_ref())?;
        let r = tcp::Repr::parse(&buf.0, ph.as_ref())?;
        let p = tcp::Packet::new_unchecked(&buf.0[..]);
        let options = r.options.iter().map(|o| OwnedTcpOpt::from_opt(o).to_py(py).map(Bound::unbind)).collect::<PyResult<_>>()?;
        Ok(TcpHeader {
            src_port: Int(r.src_port),
            dst_port: Int(r.dst_port),
            seq: Int(r.seq_number),
            ack: Int(r.ack_number),
            flags: Int(r.flags),
            window: Int(r.window_len),
            urgent: Int(r.urgent_at),
            options,
            payload: Bytes(r.payload.to_vec()),
            checksum: Some(Int(p.checksum())),
        })
    }
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<TcpHeader>() {
            Ok(o) => Ok(self.wire(py, None)? == o.borrow().wire(py, None)?),
            Err(_) => Ok(false),
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of!(py, "TcpHeader", "src_port" => self.src_port.0, "dst_port" => self.dst_port.0, "seq" => self.seq.0,
            "ack" => self.ack.0, "flags" => self.flags.0, "window" => self.window.0, "urgent" => self.urgent.0,
            "options" => &self.options, "payload" => &self.payload, "checksum" => self.checksum.map(|v| v.0))
    }
}

/// icmp6_may_elicit_error(msg_type) -> bool: whether an ICMPv6 error may
/// answer a packet carrying this ICMPv6 type: not an error message (RFC 4443
/// §2.4 e.1), not a Redirect (seed §1.9).
#[pyfunction]
fn icmp6_may_elicit_error(#[pyo3(from_py_with = int_arg)] msg_type: u8) -> bool {
    icmpv6::Message::from(msg_type).may_elicit_error()
}

/// tcp_jumbo_mss(mss) -> int: the MSS option value to send; above 65535 it
/// is 65535, meaning "use the path MTU minus 60" (RFC 2675 §5).
#[pyfunction]
fn tcp_jumbo_mss(#[pyo3(from_py_with = int_arg)] mss: u64) -> u16 {
    tcp::jumbo_mss(mss)
}

/// tcp_effective_mss(mss_option, path_mtu) -> int (RFC 2675 §5).
#[pyfunction]
fn tcp_effective_mss(#[pyo3(from_py_with = int_arg)] mss_option: u16, #[pyo3(from_py_with = int_arg)] path_mtu: u64) -> u64 {
    tcp::effective_mss(mss_option, path_mtu)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NdOptSourceLinkAddr>()?;
    m.add_class::<NdOptTargetLinkAddr>()?;
    m.add_class::<NdOptPrefixInfo>()?;
    m.add_class::<NdOptRedirectedHeader>()?;
    m.add_class::<NdOptMtu>()?;
    m.add_class::<NdOptNonce>()?;
    m.add_class::<NdOptRouteInfo>()?;
    m.add_class::<NdOptRdnss>()?;
    m.add_class::<NdOptUnknown>()?;
    m.add_class::<Icmpv6Echo>()?;
    m.add_class::<Icmpv6Error>()?;
    m.add_class::<Icmpv6Unknown>()?;
    m.add_class::<RouterSolicitation>()?;
    m.add_class::<RouterAdvertisement>()?;
    m.add_class::<NeighborSolicitation>()?;
    m.add_class::<NeighborAdvertisement>()?;
    m.add_class::<Redirect>()?;
    m.add_class::<MldQuery>()?;
    m.add_class::<MldReport>()?;
    m.add_class::<MldDone>()?;
    m.add_class::<MldAddressRecord>()?;
    m.add_class::<Mldv2Report>()?;
    m.add_class::<Ipv4Header>()?;
    m.add_class::<UdpHeader>()?;
    m.add_class::<TcpHeader>()?;
    m.add_function(wrap_pyfunction!(parse_icmpv6, m)?)?;
    m.add_function(wrap_pyfunction!(parse_nd_options, m)?)?;
    m.add_function(wrap_pyfunction!(tcp_jumbo_mss, m)?)?;
    m.add_function(wrap_pyfunction!(icmp6_may_elicit_error, m)?)?;
    m.add_function(wrap_pyfunction!(tcp_effective_mss, m)?)?;
    m.add("ND6_MAXNDOPT", nd::ND6_MAXNDOPT)?;
    Ok(())
}
