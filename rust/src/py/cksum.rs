//! Python bindings for the Internet checksum (`kame_core::cksum`):
//! `in6_cksum`, `in4_cksum`, `ip_cksum`, and the batch `cksum_many`.

use pyo3::prelude::*;
use std::net::Ipv6Addr;

use pyo3::types::{PyBytes, PyList, PyTuple};

use super::upper::{Addr4, Addr6};
use super::util::{buf_vec, int_arg, opt_int_arg, Int};
use crate::cksum;

/// The buffers of a `data` argument: one buffer, or a sequence of them.
/// `bytes` are borrowed (immutable); anything else is copied, so nothing
/// mutable is borrowed across a GIL release.
enum Chunk<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl Chunk<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Chunk::Bytes(b) => b.as_bytes(),
            Chunk::Owned(v) => v,
        }
    }
}

fn one<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Chunk<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Chunk::Bytes(b.clone()));
    }
    Ok(Chunk::Owned(buf_vec(obj)?))
}

fn chunks<'py>(data: &Bound<'py, PyAny>) -> PyResult<Vec<Chunk<'py>>> {
    let mut v = Vec::new();
    chunks_into(data, &mut v)?;
    Ok(v)
}

/// [`chunks`] appended to `v`.
fn chunks_into<'py>(data: &Bound<'py, PyAny>, v: &mut Vec<Chunk<'py>>) -> PyResult<()> {
    if let Ok(c) = one(data) {
        v.push(c);
        return Ok(());
    }
    for item in data.try_iter()? {
        v.push(one(&item?)?);
    }
    Ok(())
}

/// in6_cksum(src, dst, next_header, data, length=None) -> int
///
/// The Internet checksum (RFC 1071) over the IPv6 pseudo-header (RFC 8200
/// §8.1: 32-bit upper-layer length) and `data`: one buffer or a sequence of
/// buffers split anywhere (KAME in6_cksum over an mbuf chain, seed §1.11).
/// `length` defaults to the total length of `data`. Returns the value to
/// store in a zeroed checksum field, or 0 when verifying correct data.
#[pyfunction]
#[pyo3(signature = (src, dst, next_header, data, length = None))]
fn in6_cksum(src: Addr6, dst: Addr6, #[pyo3(from_py_with = int_arg)] next_header: u8, data: &Bound<'_, PyAny>, #[pyo3(from_py_with = opt_int_arg)] length: Option<u64>) -> PyResult<u16> {
    let cs = chunks(data)?;
    let total = length.unwrap_or_else(|| cs.iter().map(|c| c.as_slice().len() as u64).sum());
    Ok(cksum::in6_cksum(&src.0, &dst.0, next_header, total, cs.iter().map(Chunk::as_slice))?)
}

/// in4_cksum(src, dst, protocol, data, length=None) -> int
///
/// The same over the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1; 16-bit
/// length).
#[pyfunction]
#[pyo3(signature = (src, dst, protocol, data, length = None))]
fn in4_cksum(src: Addr4, dst: Addr4, #[pyo3(from_py_with = int_arg)] protocol: u8, data: &Bound<'_, PyAny>, #[pyo3(from_py_with = opt_int_arg)] length: Option<u64>) -> PyResult<u16> {
    let cs = chunks(data)?;
    let total = length.unwrap_or_else(|| cs.iter().map(|c| c.as_slice().len() as u64).sum());
    Ok(cksum::in4_cksum(&src.0, &dst.0, protocol, total, cs.iter().map(Chunk::as_slice))?)
}

/// ip_cksum(buf) -> int
///
/// The IPv4 header checksum (RFC 791 §3.1): 0 over a header with a correct
/// checksum; over a header with a zeroed field, the value to store.
#[pyfunction]
fn ip_cksum(buf: &Bound<'_, PyAny>) -> PyResult<u16> {
    let c = one(buf)?;
    Ok(cksum::ip_cksum(c.as_slice()))
}

/// cksum_many(items) -> list[int]
///
/// `in6_cksum` over many packets: `items` is a sequence of
/// `(src, dst, next_header, data)` with `data` one buffer or a sequence of
/// buffers. `bytes` are read in place; the sums are done as the items are
/// read, with the GIL held (a 1500-octet sum takes about 16 ns: releasing
/// the GIL, and copying every buffer so that it could be, cost more than
/// the arithmetic and made the batch slower than single calls).
///
/// What the items share is converted once: an address object that is the
/// same object as the previous item's is not parsed again (a flow's
/// packets carry the same two addresses), and one list of buffers serves
/// every item. A 4-tuple is read by index; anything else goes through the
/// general conversion, with its errors.
#[pyfunction]
fn cksum_many<'py>(py: Python<'py>, items: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let mut out: Vec<u16> = Vec::new();
    let mut cs: Vec<Chunk<'py>> = Vec::new();
    let mut src = Same::default();
    let mut dst = Same::default();
    for item in items.try_iter()? {
        let item = item?;
        let (s, d, nh, data) = match item.cast::<PyTuple>() {
            Ok(t) if t.len() == 4 => (
                src.get(t.get_borrowed_item(0)?)?,
                dst.get(t.get_borrowed_item(1)?)?,
                t.get_borrowed_item(2)?.extract::<Int<u8>>()?.0,
                t.get_item(3)?,
            ),
            _ => {
                let (s, d, nh, data): (Addr6, Addr6, Int<u8>, Bound<'py, PyAny>) = item.extract()?;
                (s.0, d.0, nh.0, data)
            }
        };
        cs.clear();
        chunks_into(&data, &mut cs)?;
        let total = cs.iter().map(|c| c.as_slice().len() as u64).sum();
        out.push(cksum::in6_cksum(&s, &d, nh, total, cs.iter().map(Chunk::as_slice))?);
    }
    PyList::new(py, out)
}

/// The address of the last object converted, kept while that object is
/// (so that its identity cannot pass to another object).
#[derive(Default)]
struct Same<'py> {
    last: Option<(Bound<'py, PyAny>, Ipv6Addr)>,
}

impl<'py> Same<'py> {
    fn get(&mut self, obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Ipv6Addr> {
        if let Some((o, a)) = &self.last {
            if o.is(&*obj) {
                return Ok(*a);
            }
        }
        let a = obj.extract::<Addr6>()?.0;
        self.last = Some((obj.to_owned(), a));
        Ok(a)
    }
}

/// cksum_path() -> str: which word-summing path this machine uses
/// ("avx512", "avx2" or "portable").
#[pyfunction]
fn cksum_path() -> &'static str {
    match cksum::path() {
        cksum::Path::Avx512 => "avx512",
        cksum::Path::Avx2 => "avx2",
        cksum::Path::Portable => "portable",
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(in6_cksum, m)?)?;
    m.add_function(wrap_pyfunction!(in4_cksum, m)?)?;
    m.add_function(wrap_pyfunction!(ip_cksum, m)?)?;
    m.add_function(wrap_pyfunction!(cksum_many, m)?)?;
    m.add_function(wrap_pyfunction!(cksum_path, m)?)?;
    Ok(())
}
