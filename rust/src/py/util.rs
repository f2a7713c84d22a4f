//! Helpers shared by the binding files: buffers in, addresses in and out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

/// Run `f` over the octets of any buffer: `bytes` without a copy, anything
/// else (bytearray, memoryview, array...) through the buffer protocol with
/// one copy, so no borrow of a mutable buffer outlives this call.
pub fn with_bytes<R>(ob: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(b) = ob.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if ob.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("expected a bytes-like object, not str"));
    }
    let buf = PyBuffer::<u8>::get(ob)?;
    let v = buf.to_vec(ob.py())?;
    Ok(f(&v))
}

/// A copy of any buffer's octets.
pub fn buf_vec(ob: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    with_bytes(ob, <[u8]>::to_vec)
}

/// The buffer as an owned `bytes`: the same object when it already is one.
pub fn owned_bytes(ob: &Bound<'_, PyAny>) -> PyResult<Py<PyBytes>> {
    if let Ok(b) = ob.cast::<PyBytes>() {
        return Ok(b.clone().unbind());
    }
    let py = ob.py();
    with_bytes(ob, |b| PyBytes::new(py, b).unbind())
}

static IPV6ADDRESS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static IPV4ADDRESS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn ipaddress_class<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyAny>>, name: &str) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || Ok::<_, PyErr>(py.import("ipaddress")?.getattr(name)?.unbind()))
        .map(|c| c.bind(py))
}

pub fn ipv6_class(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    ipaddress_class(py, &IPV6ADDRESS, "IPv6Address")
}

pub fn ipv4_class(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    ipaddress_class(py, &IPV4ADDRESS, "IPv4Address")
}

/// `ipaddress.IPv6Address` from 16 octets.
pub fn ipv6_to_py<'py>(py: Python<'py>, a: &[u8; 16]) -> PyResult<Bound<'py, PyAny>> {
    ipv6_class(py)?.call1((u128::from_be_bytes(*a),))
}

/// `ipaddress.IPv4Address` from 4 octets.
pub fn ipv4_to_py<'py>(py: Python<'py>, a: &[u8; 4]) -> PyResult<Bound<'py, PyAny>> {
    ipv4_class(py)?.call1((u32::from_be_bytes(*a),))
}

/// An IP address from its 16 (IPv6) or 4 (IPv4) packed octets.
pub fn packed_ip(v: &[u8]) -> PyResult<IpAddr> {
    if let Ok(a) = <[u8; 16]>::try_from(v) {
        return Ok(IpAddr::V6(Ipv6Addr::from(a)));
    }
    if let Ok(a) = <[u8; 4]>::try_from(v) {
        return Ok(IpAddr::V4(Ipv4Addr::from(a)));
    }
    Err(PyValueError::new_err("a packed address is 4 or 16 bytes"))
}

/// An IP address from a `str`, an `ipaddress` object (anything with
/// `packed`) or its packed octets in any buffer.
pub fn ip_from_py(obj: &Bound<'_, PyAny>) -> PyResult<IpAddr> {
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        return s.parse().map_err(|_| PyValueError::new_err(format!("not an IP address: {s:?}")));
    }
    if let Ok(p) = obj.getattr("packed") {
        return packed_ip(&buf_vec(&p)?);
    }
    packed_ip(&buf_vec(obj)?)
}

/// The octets of any buffer as an owned `Vec` (for keys and packets that
/// must outlive the GIL).
pub fn owned_vec(ob: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    buf_vec(ob)
}

/// An IP address argument: an `ipaddress` object, a string ("2001:db8::1",
/// "192.0.2.1"; a "%zone" suffix is ignored) or 4 / 16 packed octets in any
/// buffer. A bad one is a `ConfigError` of `layer`.
pub fn ip_addr_arg(ob: &Bound<'_, PyAny>, layer: crate::error::Layer) -> PyResult<std::net::IpAddr> {
    use crate::error::{Error, ErrorKind};
    let bad = |r: &'static str| PyErr::from(Error::new(layer, ErrorKind::Config, 0, r));
    if !ob.is_instance_of::<PyString>() {
        if let Ok(v) = owned_vec(ob) {
            return match v.len() {
                4 => <[u8; 4]>::try_from(v.as_slice()).map(std::net::IpAddr::from).map_err(|_| bad("a packed address is 4 or 16 bytes")),
                16 => <[u8; 16]>::try_from(v.as_slice()).map(std::net::IpAddr::from).map_err(|_| bad("a packed address is 4 or 16 bytes")),
                _ => Err(bad("a packed address is 4 or 16 bytes")),
            };
        }
    }
    let s = ob.str()?.to_string();
    s.split('%').next().unwrap_or("").parse().map_err(|_| bad("not an IPv4 or IPv6 address"))
}

/// A seed §4.6 `net.inet6.ipsec6.ecn` argument: the sysctl integer (-1, 0,
/// 1; 2 = RFC 6040) or a name (`rfc2401`, `forbidden`, `allowed`, `rfc6040`).
pub fn ecn_arg(ob: &Bound<'_, PyAny>) -> PyResult<crate::tunnel::EcnMode> {
    use crate::error::{Error, ErrorKind, Layer};
    use crate::tunnel::EcnMode;
    if let Ok(i) = ob.extract::<i64>() {
        return Ok(EcnMode::from_sysctl(i)?);
    }
    let bad = |r: &'static str| PyErr::from(Error::new(Layer::Tunnel, ErrorKind::Config, 0, r));
    match ob.extract::<String>() {
        Ok(s) => match s.to_ascii_lowercase().as_str() {
            "rfc2401" | "nocare" => Ok(EcnMode::Rfc2401),
            "forbidden" => Ok(EcnMode::Forbidden),
            "allowed" => Ok(EcnMode::Allowed),
            "rfc6040" | "normal" => Ok(EcnMode::Rfc6040),
            _ => Err(bad("ecn must be -1/0/1/2 or 'rfc2401'/'forbidden'/'allowed'/'rfc6040'")),
        },
        Err(_) => Err(bad("ecn must be an int or a mode name")),
    }
}
