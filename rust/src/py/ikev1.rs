//! Python bindings for IKEv1 (ISAKMP) messages and the phase-1/phase-2
//! CBC encryption of RFC 2409 Appendix B (kame_core::ike::v1).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::util::{bounded_items, buf_vec, int_arg, int_named};

use crate::ike::crypto::Prf;
use crate::ike::v1::{self, AttrVal, Cipher, Proposal, Sa, Transform};

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

fn payload_list<'py>(py: Python<'py>, ps: &[v1::Payload<'_>]) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for p in ps {
        l.append((p.ptype, bytes(py, p.body)))?;
    }
    Ok(l)
}

/// Parses an ISAKMP message: (header (cky_i, cky_r, next, version,
/// exchange, flags, msg_id, length), [(type, body)], ciphertext or None).
#[pyfunction]
fn ikev1_parse<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let b = buf_vec(data)?;
    let m = v1::parse(&b)?;
    let h = &m.header;
    let hdr = (bytes(py, &h.cky_i), bytes(py, &h.cky_r), h.next, h.version, h.exchange, h.flags, h.msg_id, h.length);
    (hdr, payload_list(py, &m.payloads)?, m.encrypted.map(|e| bytes(py, e))).into_pyobject(py)
}

/// Parses a decrypted payload chain starting with type `first` (trailing
/// padding allowed).
#[pyfunction]
fn ikev1_parse_chain<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] first: u8, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let b = buf_vec(data)?;
    payload_list(py, &v1::parse_chain(first, &b, 0, true)?)
}

/// Builds a payload chain from [(type, body)].
#[pyfunction]
fn ikev1_build_chain<'py>(py: Python<'py>, payloads: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut owned = Vec::new();
    for item in bounded_items(payloads, v1::MAX_PAYLOADS, "payloads")? {
        let (t, b): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
        owned.push((int_named::<u8>(&t, "payload type")?, buf_vec(&b)?));
    }
    let refs: Vec<(u8, &[u8])> = owned.iter().map(|(t, b)| (*t, &b[..])).collect();
    Ok(bytes(py, &v1::build_chain(&refs)?))
}

/// Parses an SA payload body: (doi, situation, [(num, protocol, spi,
/// [(num, id, [(attr_type, int (TV) or bytes (TLV))])])]).
#[pyfunction]
fn ikev1_parse_sa<'py>(py: Python<'py>, body: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let b = buf_vec(body)?;
    let sa = v1::parse_sa(&b, 0)?;
    let props = PyList::empty(py);
    for p in &sa.proposals {
        let ts = PyList::empty(py);
        for t in &p.transforms {
            let attrs = PyList::empty(py);
            for (ty, v) in &t.attrs {
                match v {
                    AttrVal::Basic(x) => attrs.append((*ty, *x))?,
                    AttrVal::Var(x) => attrs.append((*ty, bytes(py, x)))?,
                }
            }
            ts.append((t.num, t.id, attrs))?;
        }
        props.append((p.num, p.protocol, bytes(py, &p.spi), ts))?;
    }
    (sa.doi, sa.situation, props).into_pyobject(py)
}

/// Builds an SA payload body from (doi, situation, proposals) as
/// `ikev1_parse_sa` returns them (an int attribute is TV, bytes TLV).
#[pyfunction]
fn ikev1_build_sa<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] doi: u32,
    #[pyo3(from_py_with = int_arg)] situation: u32,
    proposals: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut props = Vec::new();
    for item in bounded_items(proposals, v1::MAX_PROPOSALS, "proposals")? {
        let (num, proto, spi, trs): (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
        let mut transforms = Vec::new();
        for t in bounded_items(&trs, v1::MAX_TRANSFORMS, "transforms")? {
            let (tn, id, attrs): (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>) = t.extract()?;
            let mut av = Vec::new();
            for a in bounded_items(&attrs, v1::MAX_ATTRS, "attributes")? {
                let (ty, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = a.extract()?;
                let ty = int_named::<u16>(&ty, "attribute type")?;
                let val = if v.cast::<PyBytes>().is_ok() { AttrVal::Var(buf_vec(&v)?) } else { AttrVal::Basic(int_named(&v, "attribute value")?) };
                av.push((ty, val));
            }
            transforms.push(Transform { num: int_named(&tn, "transform number")?, id: int_named(&id, "transform id")?, attrs: av });
        }
        props.push(Proposal { num: int_named(&num, "proposal number")?, protocol: int_named(&proto, "protocol")?, spi: buf_vec(&spi)?, transforms });
    }
    Ok(bytes(py, &v1::build_sa(&Sa { doi, situation, proposals: props })?))
}

/// Encrypts a payload chain with `cipher` (5 3DES, 7 AES with `key_bits`)
/// and `iv`, padded to the block size (RFC 2409 Appendix B).
#[pyfunction]
fn ikev1_encrypt<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] cipher: u16,
    #[pyo3(from_py_with = int_arg)] key_bits: u16,
    key: &Bound<'py, PyAny>,
    iv: &Bound<'py, PyAny>,
    plain: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = Cipher::from_id(cipher, key_bits)?;
    let key = zeroize::Zeroizing::new(buf_vec(key)?);
    Ok(bytes(py, &v1::encrypt(c, &key, &buf_vec(iv)?, &buf_vec(plain)?)?))
}

/// Decrypts an encrypted ISAKMP body; the padding stays.
#[pyfunction]
fn ikev1_decrypt<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] cipher: u16,
    #[pyo3(from_py_with = int_arg)] key_bits: u16,
    key: &Bound<'py, PyAny>,
    iv: &Bound<'py, PyAny>,
    ct: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = Cipher::from_id(cipher, key_bits)?;
    let key = zeroize::Zeroizing::new(buf_vec(key)?);
    Ok(bytes(py, &v1::decrypt(c, &key, &buf_vec(iv)?, &buf_vec(ct)?)?))
}

/// The phase-1 encryption key of `length` octets from SKEYID_e with PRF
/// `prf` (RFC 2409 Appendix B key expansion).
#[pyfunction]
fn ikev1_enc_key<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] prf: u16,
    skeyid_e: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] length: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = Prf::from_id(prf)?;
    let e = zeroize::Zeroizing::new(buf_vec(skeyid_e)?);
    Ok(bytes(py, &v1::enc_key(p, &e, length as usize)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ikev1_parse, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_parse_chain, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_build_chain, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_parse_sa, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_build_sa, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_enc_key, m)?)?;
    Ok(())
}
