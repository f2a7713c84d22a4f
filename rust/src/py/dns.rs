//! DNS messages for `kame.dns` (seed §1.17): `dns_parse` reads a whole
//! message with `wire::dns::parse` and hands it over as plain tuples that
//! `kame.dns` wraps in its dataclasses; `dns_encode_name` and `dns_query`
//! build names and queries. Errors are `kame.errors` classes with the
//! offset of the octet at fault (layer "dns").

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::wire::dns::{self, Name, RData, Section};

use super::util::{int_arg, ipv4_to_py, ipv6_to_py, with_bytes};

fn name_pair<'py>(py: Python<'py>, n: &Name) -> PyResult<Bound<'py, PyTuple>> {
    (PyString::new(py, &n.text), n.binary).into_pyobject(py)
}

/// Parse a DNS message: ``(id, flags, questions, records, edns)`` where a
/// question is ``(name, binary, qtype, qclass)``, a record ``(section,
/// name, binary, rtype, rclass, ttl, data, kind, value)`` (section 0
/// answer, 1 authority, 2 additional; kind 0 raw data, value None; 1 an
/// ipaddress address; 2 a name ``(text, binary)``; 3 an SOA ``(mname,
/// mbinary, rname, rbinary, serial, refresh, retry, expire, minimum)``; 4
/// an A6 ``(prefix_len, suffix, prefix_name, binary)``) and edns None or
/// ``(payload, ext_rcode, version, do, [(code, data)...])``.
#[pyfunction]
fn dns_parse<'py>(py: Python<'py>, buf: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    with_bytes(buf, |b| -> PyResult<Bound<'py, PyTuple>> {
        let m = dns::parse(b)?;
        let qs = PyList::empty(py);
        for q in &m.questions {
            qs.append((PyString::new(py, &q.name.text), q.name.binary, q.qtype, q.qclass))?;
        }
        let rs = PyList::empty(py);
        for r in &m.records {
            let section: u8 = match r.section {
                Section::Answer => 0,
                Section::Authority => 1,
                Section::Additional => 2,
            };
            let data = PyBytes::new(py, b.get(r.data.clone()).unwrap_or(&[]));
            let (kind, value): (u8, Bound<'py, PyAny>) = match &r.rdata {
                RData::A(a) => (1, ipv4_to_py(py, a)?),
                RData::Aaaa(a) => (1, ipv6_to_py(py, a)?),
                RData::Name(n) => (2, name_pair(py, n)?.into_any()),
                RData::Soa(s) => (
                    3,
                    (PyString::new(py, &s.mname.text), s.mname.binary, PyString::new(py, &s.rname.text), s.rname.binary, s.serial, s.refresh, s.retry, s.expire, s.minimum)
                        .into_pyobject(py)?
                        .into_any(),
                ),
                RData::A6 { prefix_len, suffix, prefix_name } => (
                    4,
                    (
                        *prefix_len,
                        ipv6_to_py(py, suffix)?,
                        prefix_name.as_ref().map(|n| PyString::new(py, &n.text)),
                        prefix_name.as_ref().is_some_and(|n| n.binary),
                    )
                        .into_pyobject(py)?
                        .into_any(),
                ),
                RData::Other => (0, py.None().into_bound(py)),
            };
            let row = PyTuple::new(
                py,
                [
                    section.into_pyobject(py)?.into_any(),
                    PyString::new(py, &r.name.text).into_any(),
                    r.name.binary.into_pyobject(py)?.to_owned().into_any(),
                    r.rtype.into_pyobject(py)?.into_any(),
                    r.rclass.into_pyobject(py)?.into_any(),
                    r.ttl.into_pyobject(py)?.into_any(),
                    data.into_any(),
                    kind.into_pyobject(py)?.into_any(),
                    value,
                ],
            )?;
            rs.append(row)?;
        }
        let edns = match &m.edns {
            None => py.None().into_bound(py),
            Some(e) => {
                let opts = PyList::empty(py);
                for (code, range) in &e.options {
                    opts.append((*code, PyBytes::new(py, b.get(range.clone()).unwrap_or(&[]))))?;
                }
                (e.payload, e.ext_rcode, e.version, e.dnssec_ok, opts).into_pyobject(py)?.into_any()
            }
        };
        (m.id, m.flags, qs, rs, edns).into_pyobject(py)
    })?
}

/// Wire form (no compression) of a presentation-form name; ValueError for
/// an empty label, a bad escape, a label over 63 octets or a name over 255.
#[pyfunction]
fn dns_encode_name<'py>(py: Python<'py>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyBytes>> {
    let text = name.to_str()?;
    let mut out = Vec::with_capacity(text.len() + 2);
    dns::encode_name(text, &mut out).map_err(|e| PyValueError::new_err(format!("{} in {:?}", e.reason(), text)))?;
    Ok(PyBytes::new(py, &out))
}

/// A query: id, name, qtype, RD, and the EDNS0 payload advertised (None:
/// no OPT record).
#[pyfunction]
#[pyo3(signature = (qid, name, qtype, rd=true, payload=None))]
fn dns_query<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] qid: u16,
    name: &Bound<'py, PyString>,
    #[pyo3(from_py_with = int_arg)] qtype: u16,
    rd: bool,
    payload: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let payload = match payload {
        None => None,
        Some(p) if p.is_none() => None,
        Some(p) => Some(int_arg::<u16>(p)?),
    };
    let text = name.to_str()?;
    let out = dns::build_query(qid, text, qtype, rd, payload).map_err(|e| PyValueError::new_err(format!("{} in {:?}", e.reason(), text)))?;
    Ok(PyBytes::new(py, &out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dns_parse, m)?)?;
    m.add_function(wrap_pyfunction!(dns_encode_name, m)?)?;
    m.add_function(wrap_pyfunction!(dns_query, m)?)?;
    Ok(())
}
