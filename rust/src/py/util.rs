//! Helpers shared by the binding files: buffers in, addresses in and out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

use super::errors::{range_error, scope_error};

// ---------------------------------------------------------------------------
// Integers: every integer argument of every binding is range-checked here
// ---------------------------------------------------------------------------

/// The integer types a binding takes, with their range.
pub trait IntArg: Sized + Copy {
    const LOW: i128;
    const HIGH: u128;
    /// PyO3's own conversion (an `OverflowError` when out of range).
    fn extract_exact(ob: &Bound<'_, PyAny>) -> PyResult<Self>;
}

macro_rules! int_arg_impl {
    ($($t:ty),*) => {$(
        impl IntArg for $t {
            #[allow(clippy::cast_lossless, clippy::cast_possible_wrap)]
            const LOW: i128 = <$t>::MIN as i128;
            #[allow(clippy::cast_lossless, clippy::cast_sign_loss)]
            const HIGH: u128 = <$t>::MAX as u128;
            fn extract_exact(ob: &Bound<'_, PyAny>) -> PyResult<Self> {
                ob.extract::<$t>()
            }
        }
    )*};
}
int_arg_impl!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64);

fn int_checked<T: IntArg>(ob: &Bound<'_, PyAny>, name: Option<&str>) -> PyResult<T> {
    match T::extract_exact(ob) {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyOverflowError>(ob.py()) => Err(range_error(ob, T::LOW, T::HIGH, name)),
        Err(e) => Err(e),
    }
}

/// An integer argument: any `int` (or `__index__` object) that fits `T`; one
/// that does not is `kame.errors.RangeError` (a `ValueError` naming the
/// argument and its range) rather than PyO3's bare `OverflowError`; a
/// non-integer stays a `TypeError`. Use on every integer parameter:
/// `#[pyo3(from_py_with = int_arg)] hop_limit: u8`.
pub fn int_arg<T: IntArg>(ob: &Bound<'_, PyAny>) -> PyResult<T> {
    int_checked(ob, None)
}

/// [`int_arg`] for an optional parameter (`None` is `None`).
pub fn opt_int_arg<T: IntArg>(ob: &Bound<'_, PyAny>) -> PyResult<Option<T>> {
    if ob.is_none() {
        return Ok(None);
    }
    int_arg(ob).map(Some)
}

/// [`int_arg`] where the caller names the argument (integers taken out of
/// tuples and lists).
pub fn int_named<T: IntArg>(ob: &Bound<'_, PyAny>, name: &str) -> PyResult<T> {
    int_checked(ob, Some(name))
}

/// The items of an iterable argument, at most `max` of them: more is
/// `kame.errors.RangeError` (an `IPv6Network` is iterable too, over 2**64
/// addresses: nothing a user passes may be collected without a bound).
pub fn bounded_items<'py>(ob: &Bound<'py, PyAny>, max: usize, what: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let mut out = Vec::new();
    for item in ob.try_iter()? {
        if out.len() == max {
            let n = pyo3::types::PyInt::new(ob.py(), max + 1);
            return Err(range_error(n.as_any(), 0, max as u128, Some(what)));
        }
        out.push(item?);
    }
    Ok(out)
}

/// A list argument or attribute of at most `MAX` items. PyO3's own `Vec<T>`
/// extraction reserves `len(seq)` slots first, so `range(10**12)` aborts
/// the process; this one refuses `str`/`bytes` (as PyO3 does), walks any
/// iterable and stops at `MAX` (`kame.errors.RangeError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T, const MAX: usize>(pub Vec<T>);

impl<T, const MAX: usize> Default for List<T, MAX> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'a, 'py, T, const MAX: usize> FromPyObject<'a, 'py> for List<T, MAX>
where
    T: for<'b> FromPyObject<'b, 'py>,
{
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err("expected a list, not str or bytes"));
        }
        let items = bounded_items(&obj, MAX, "list")?;
        let mut v = Vec::with_capacity(items.len());
        for it in &items {
            v.push(it.extract::<T>().map_err(Into::into)?);
        }
        Ok(List(v))
    }
}

impl<'py, T, const MAX: usize> IntoPyObject<'py> for List<T, MAX>
where
    T: IntoPyObject<'py>,
{
    type Target = pyo3::types::PyList;
    type Output = Bound<'py, pyo3::types::PyList>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        pyo3::types::PyList::new(py, self.0)
    }
}

impl<'py, 'l, T, const MAX: usize> IntoPyObject<'py> for &'l List<T, MAX>
where
    &'l T: IntoPyObject<'py>,
{
    type Target = pyo3::types::PyList;
    type Output = Bound<'py, pyo3::types::PyList>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        pyo3::types::PyList::new(py, self.0.iter())
    }
}

impl<T, const MAX: usize> FromIterator<T> for List<T, MAX> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        List(it.into_iter().collect())
    }
}

impl<T, const MAX: usize> std::ops::Deref for List<T, MAX> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

/// An integer attribute of a class with `set_all`: reads as `T`, and setting
/// it from Python is range-checked as [`int_arg`] does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int<T>(pub T);

impl<T: IntArg> FromPyObject<'_, '_> for Int<T> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        int_arg(&obj).map(Int)
    }
}

impl<'py, T: IntoPyObject<'py>> IntoPyObject<'py> for Int<T> {
    type Target = T::Target;
    type Output = T::Output;
    type Error = T::Error;
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        self.0.into_pyobject(py)
    }
}

impl<'py, T: IntoPyObject<'py> + Copy> IntoPyObject<'py> for &Int<T> {
    type Target = T::Target;
    type Output = T::Output;
    type Error = T::Error;
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        self.0.into_pyobject(py)
    }
}

impl<T> From<T> for Int<T> {
    fn from(v: T) -> Self {
        Int(v)
    }
}

/// Refuse an `ipaddress` object or a string that carries a zone: no header
/// on the wire can carry one (RFC 4007 §6); the zone belongs to the node or
/// the socket that sends it (`kame.scope6`). `kame.errors.ScopeError`.
pub fn no_zone(ob: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(s) = ob.cast::<PyString>() {
        let t = s.to_cow()?;
        if t.contains('%') {
            return Err(scope_error(ob.py(), format!("{t:?}: a packet carries no zone; give it to the node or socket")));
        }
        return Ok(());
    }
    if let Ok(z) = ob.getattr("scope_id") {
        if !z.is_none() {
            let t = ob.str().map(|s| s.to_string()).unwrap_or_default();
            return Err(scope_error(ob.py(), format!("{t:?}: a packet carries no zone; give it to the node or socket")));
        }
    }
    Ok(())
}

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

// The `ipaddress` objects in and out without running their Python
// constructors and properties: `IPv6Address.__init__` and `.packed` cost a
// microsecond each, more than parsing the packet. The classes keep their
// value in the slots `_ip` (an int) and `_scope_id` (IPv6), CPython's layout
// since 3.9; it is checked once against the public constructor, and when it
// does not hold every conversion goes through the public API instead.

static OBJECT_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static SLOTS_OK: PyOnceLock<bool> = PyOnceLock::new();

fn object_new(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    OBJECT_NEW
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("builtins")?.getattr("object")?.getattr("__new__")?.unbind()))
        .map(|c| c.bind(py))
}

/// True when `ipaddress` objects keep `_ip`/`_scope_id` as expected.
fn slots_ok(py: Python<'_>) -> bool {
    *SLOTS_OK.get_or_init(py, || {
        let check = || -> PyResult<bool> {
            let v: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
            let public = ipv6_class(py)?.call1((v,))?;
            let ours = build_slots(py, ipv6_class(py)?, v.into_pyobject(py)?.into_any(), true)?;
            let four = ipv4_class(py)?.call1((0xC000_0201u32,))?;
            let four_ours = build_slots(py, ipv4_class(py)?, 0xC000_0201u32.into_pyobject(py)?.into_any(), false)?;
            Ok(public.eq(&ours)?
                && public.hash()? == ours.hash()?
                && public.str()?.to_cow()? == ours.str()?.to_cow()?
                && public.getattr("_ip")?.extract::<u128>()? == v
                && public.getattr("_scope_id")?.is_none()
                && four.eq(&four_ours)?
                && four.getattr("_ip")?.extract::<u32>()? == 0xC000_0201)
        };
        check().unwrap_or(false)
    })
}

fn build_slots<'py>(py: Python<'py>, cls: &Bound<'py, PyAny>, v: Bound<'py, PyAny>, v6: bool) -> PyResult<Bound<'py, PyAny>> {
    let o = object_new(py)?.call1((cls,))?;
    o.setattr(pyo3::intern!(py, "_ip"), v)?;
    if v6 {
        o.setattr(pyo3::intern!(py, "_scope_id"), py.None())?;
    }
    Ok(o)
}

/// `ipaddress.IPv6Address` from 16 octets.
pub fn ipv6_to_py<'py>(py: Python<'py>, a: &[u8; 16]) -> PyResult<Bound<'py, PyAny>> {
    let v = u128::from_be_bytes(*a);
    if slots_ok(py) {
        return build_slots(py, ipv6_class(py)?, v.into_pyobject(py)?.into_any(), true);
    }
    ipv6_class(py)?.call1((v,))
}

/// `ipaddress.IPv4Address` from 4 octets.
pub fn ipv4_to_py<'py>(py: Python<'py>, a: &[u8; 4]) -> PyResult<Bound<'py, PyAny>> {
    let v = u32::from_be_bytes(*a);
    if slots_ok(py) {
        return build_slots(py, ipv4_class(py)?, v.into_pyobject(py)?.into_any(), false);
    }
    ipv4_class(py)?.call1((v,))
}

/// The address an exact `IPv6Address`/`IPv4Address` or an exact `bytes` of
/// 16 or 4 octets holds, read without a Python call or a raised-and-dropped
/// exception; None for anything else (str, subclasses, other buffers: the
/// general path). A zoned `IPv6Address` is `ScopeError` (a packet carries
/// no zone).
pub fn ip_fast(ob: &Bound<'_, PyAny>) -> PyResult<Option<IpAddr>> {
    if let Ok(b) = ob.cast_exact::<PyBytes>() {
        return match b.as_bytes().len() {
            16 | 4 => packed_ip(b.as_bytes()).map(Some),
            _ => Ok(None),
        };
    }
    let py = ob.py();
    let t = ob.get_type();
    if t.is(ipv6_class(py)?) && slots_ok(py) {
        if !ob.getattr(pyo3::intern!(py, "_scope_id"))?.is_none() {
            no_zone(ob)?;
        }
        let v: u128 = ob.getattr(pyo3::intern!(py, "_ip"))?.extract()?;
        return Ok(Some(IpAddr::V6(Ipv6Addr::from(v))));
    }
    if t.is(ipv4_class(py)?) && slots_ok(py) {
        let v: u32 = ob.getattr(pyo3::intern!(py, "_ip"))?.extract()?;
        return Ok(Some(IpAddr::V4(Ipv4Addr::from(v))));
    }
    Ok(None)
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
    if let Some(a) = ip_fast(obj)? {
        return Ok(a);
    }
    no_zone(obj)?;
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
/// "192.0.2.1"; a "%zone" is `ScopeError`, see [`no_zone`]) or 4 / 16 packed
/// octets in any buffer. A bad one is a `ConfigError` of `layer`.
pub fn ip_addr_arg(ob: &Bound<'_, PyAny>, layer: crate::error::Layer) -> PyResult<std::net::IpAddr> {
    use crate::error::{Error, ErrorKind};
    let bad = |r: &'static str| PyErr::from(Error::new(layer, ErrorKind::Config, 0, r));
    if let Some(a) = ip_fast(ob)? {
        return Ok(a);
    }
    no_zone(ob)?;
    if !ob.is_instance_of::<PyString>() {
        if let Ok(v) = owned_vec(ob) {
            return match v.len() {
                4 => <[u8; 4]>::try_from(v.as_slice()).map(std::net::IpAddr::from).map_err(|_| bad("a packed address is 4 or 16 bytes")),
                16 => <[u8; 16]>::try_from(v.as_slice()).map(std::net::IpAddr::from).map_err(|_| bad("a packed address is 4 or 16 bytes")),
                _ => Err(bad("a packed address is 4 or 16 bytes")),
            };
        }
    }
    if let Ok(p) = ob.getattr("packed") {
        return packed_ip(&buf_vec(&p)?).map_err(|_| bad("a packed address is 4 or 16 bytes"));
    }
    let s = ob.cast::<PyString>().map_err(|_| PyTypeError::new_err("an address is an ipaddress object, a str or 4 / 16 octets"))?.to_cow()?;
    s.parse().map_err(|_| bad("not an IPv4 or IPv6 address"))
}

/// A seed §4.6 `net.inet6.ipsec6.ecn` argument: the sysctl integer (-1, 0,
/// 1; 2 = RFC 6040) or a name (`rfc2401`, `forbidden`, `allowed`, `rfc6040`).
pub fn ecn_arg(ob: &Bound<'_, PyAny>) -> PyResult<crate::tunnel::EcnMode> {
    use crate::error::{Error, ErrorKind, Layer};
    use crate::tunnel::EcnMode;
    if ob.is_instance_of::<pyo3::types::PyInt>() {
        return Ok(EcnMode::from_sysctl(int_arg::<i64>(ob)?)?);
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
