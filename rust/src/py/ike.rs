//! Python bindings for IKE: `IkeDh` (one ephemeral Diffie-Hellman key),
//! the PRFs and the IKEv2 key derivation, the SK payload, and the IKEv2
//! message parser/builder (header, payload chain, SA, TS).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::util::{bounded_items, buf_vec, int_arg, int_named, opt_int_arg, with_bytes};

use crate::ike::crypto::{self, Dh, Prf};
use crate::ike::msg::{self, Proposal, Selector, Transform};
use crate::ike::sk::{self, Encr, Integ};

type Any6<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

/// One side's ephemeral DH key for one exchange (IANA Transform Type 4
/// group: 2, 5, 14 MODP; 19, 20 NIST P-256/P-384; 31 X25519).
#[pyclass(name = "IkeDh", module = "kame._core")]
struct PyIkeDh {
    dh: Dh,
}

#[pymethods]
impl PyIkeDh {
    #[new]
    fn new(#[pyo3(from_py_with = int_arg)] group: u16) -> PyResult<Self> {
        Ok(PyIkeDh { dh: Dh::generate(group)? })
    }

    #[getter]
    fn group(&self) -> u16 {
        self.dh.group()
    }

    /// The Key Exchange Data to send.
    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.dh.public())
    }

    /// g^ir from the peer's Key Exchange Data (ECDH keys are single-use).
    fn shared<'py>(&mut self, py: Python<'py>, peer: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let peer = buf_vec(peer)?;
        let z = self.dh.shared(&peer)?;
        Ok(bytes(py, &z))
    }
}

/// prf(key, data) of IANA PRF `prf` (2, 4, 5, 6, 7).
#[pyfunction]
fn ike_prf<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] prf: u16, key: &Bound<'py, PyAny>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let p = Prf::from_id(prf)?;
    let key = buf_vec(key)?;
    let out = with_bytes(data, |d| p.prf(&key, &[d]))?;
    Ok(bytes(py, &out))
}

/// RFC 7296 §2.13 prf+(key, seed) cut to `length` octets.
#[pyfunction]
fn ike_prf_plus<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] prf: u16,
    key: &Bound<'py, PyAny>,
    seed: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] length: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = Prf::from_id(prf)?;
    let key = buf_vec(key)?;
    let out = with_bytes(seed, |s| p.prf_plus(&key, &[s], length as usize))??;
    Ok(bytes(py, &out))
}

/// RFC 7296 §2.14: SKEYSEED and the seven IKE SA keys, as a dict.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ike_keys<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] prf: u16,
    ni: &Bound<'py, PyAny>,
    nr: &Bound<'py, PyAny>,
    gir: &Bound<'py, PyAny>,
    spi_i: &Bound<'py, PyAny>,
    spi_r: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] integ_len: u16,
    #[pyo3(from_py_with = int_arg)] encr_len: u16,
) -> PyResult<Bound<'py, PyDict>> {
    let p = Prf::from_id(prf)?;
    let (ni, nr, gir) = (buf_vec(ni)?, buf_vec(nr)?, zeroize::Zeroizing::new(buf_vec(gir)?));
    let (si, sr) = (buf_vec(spi_i)?, buf_vec(spi_r)?);
    let seed = crypto::skeyseed(p, &ni, &nr, &gir);
    let k = crypto::ike_keys(p, seed, &ni, &nr, &si, &sr, integ_len as usize, encr_len as usize)?;
    let d = PyDict::new(py);
    for (name, v) in [
        ("skeyseed", &k.skeyseed),
        ("sk_d", &k.sk_d),
        ("sk_ai", &k.sk_ai),
        ("sk_ar", &k.sk_ar),
        ("sk_ei", &k.sk_ei),
        ("sk_er", &k.sk_er),
        ("sk_pi", &k.sk_pi),
        ("sk_pr", &k.sk_pr),
    ] {
        d.set_item(name, bytes(py, v))?;
    }
    Ok(d)
}

/// RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr).
#[pyfunction]
#[pyo3(signature = (prf, sk_d, ni, nr, length, gir=None))]
fn ike_child_keymat<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] prf: u16,
    sk_d: &Bound<'py, PyAny>,
    ni: &Bound<'py, PyAny>,
    nr: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] length: u32,
    gir: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let p = Prf::from_id(prf)?;
    let g = match gir {
        Some(g) if !g.is_none() => Some(buf_vec(g)?),
        _ => None,
    };
    let out = crypto::child_keymat(p, &buf_vec(sk_d)?, g.as_deref(), &buf_vec(ni)?, &buf_vec(nr)?, length as usize)?;
    Ok(bytes(py, &out))
}

/// RFC 2409 §5: SKEYID and SKEYID_d/_a/_e, as a dict (`psk` None: the
/// signature form, SKEYID = prf(Ni_b | Nr_b, g^xy)).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ikev1_keys<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] prf: u16,
    psk: Option<&Bound<'py, PyAny>>,
    ni: &Bound<'py, PyAny>,
    nr: &Bound<'py, PyAny>,
    gxy: &Bound<'py, PyAny>,
    cky_i: &Bound<'py, PyAny>,
    cky_r: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let p = Prf::from_id(prf)?;
    let gxy = zeroize::Zeroizing::new(buf_vec(gxy)?);
    let psk = match psk {
        Some(k) if !k.is_none() => Some(zeroize::Zeroizing::new(buf_vec(k)?)),
        _ => None,
    };
    let k = crypto::ikev1_keys(p, psk.as_ref().map(|k| &k[..]), &buf_vec(ni)?, &buf_vec(nr)?, &gxy, &buf_vec(cky_i)?, &buf_vec(cky_r)?);
    let d = PyDict::new(py);
    for (name, v) in [("skeyid", &k.skeyid), ("skeyid_d", &k.skeyid_d), ("skeyid_a", &k.skeyid_a), ("skeyid_e", &k.skeyid_e)] {
        d.set_item(name, bytes(py, v))?;
    }
    Ok(d)
}

/// `n` octets from the system's random source (SPIs, nonces).
#[pyfunction]
fn ike_random<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] n: u16) -> PyResult<Bound<'py, PyBytes>> {
    Ok(bytes(py, &crypto::random(n as usize)?))
}

fn algs(encr: u16, key_bits: u16, integ: u16) -> PyResult<(Encr, Integ)> {
    Ok((Encr::from_id(encr, key_bits)?, Integ::from_id(integ)?))
}

/// Seals `inner` (first payload type `first`) into an SK payload after the
/// 28-octet header; returns the whole message with its lengths set.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ike_seal<'py>(
    py: Python<'py>,
    header: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] first: u8,
    inner: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] encr: u16,
    #[pyo3(from_py_with = int_arg)] key_bits: u16,
    #[pyo3(from_py_with = int_arg)] integ: u16,
    ekey: &Bound<'py, PyAny>,
    akey: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (e, i) = algs(encr, key_bits, integ)?;
    let m = sk::seal(&buf_vec(header)?, first, &buf_vec(inner)?, e, i, &buf_vec(ekey)?, &buf_vec(akey)?)?;
    Ok(bytes(py, &m))
}

/// Opens the SK payload at `sk_offset` of message `msg`: (first inner
/// payload type, inner payload chain).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ike_open<'py>(
    py: Python<'py>,
    msg: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] sk_offset: u32,
    #[pyo3(from_py_with = int_arg)] encr: u16,
    #[pyo3(from_py_with = int_arg)] key_bits: u16,
    #[pyo3(from_py_with = int_arg)] integ: u16,
    ekey: &Bound<'py, PyAny>,
    akey: &Bound<'py, PyAny>,
) -> PyResult<(u8, Bound<'py, PyBytes>)> {
    let (e, i) = algs(encr, key_bits, integ)?;
    let m = buf_vec(msg)?;
    let (first, pt) = sk::open(&m, sk_offset as usize, e, i, &buf_vec(ekey)?, &buf_vec(akey)?)?;
    Ok((first, bytes(py, &pt)))
}

fn payload_list<'py>(py: Python<'py>, ps: &[msg::Payload<'_>]) -> PyResult<Bound<'py, PyList>> {
    let l = PyList::empty(py);
    for p in ps {
        l.append((p.ptype, p.critical, bytes(py, p.body)))?;
    }
    Ok(l)
}

/// Parses an IKEv2 message: (header tuple (spi_i, spi_r, next, version,
/// exchange, flags, msg_id, length), [(type, critical, body)], SK offset
/// or None).
#[pyfunction]
fn ike_parse<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let b = buf_vec(data)?;
    let m = msg::parse(&b)?;
    let h = &m.header;
    let hdr = (bytes(py, &h.spi_i), bytes(py, &h.spi_r), h.next, h.version, h.exchange, h.flags, h.msg_id, h.length);
    (hdr, payload_list(py, &m.payloads)?, m.sk).into_pyobject(py)
}

/// Parses a decrypted inner payload chain starting with type `first`.
#[pyfunction]
fn ike_parse_chain<'py>(py: Python<'py>, #[pyo3(from_py_with = int_arg)] first: u8, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let b = buf_vec(data)?;
    let (ps, sk) = msg::parse_chain(first, &b, 0)?;
    if sk.is_some() {
        return Err(crate::error::Error::malformed(crate::error::Layer::Ipsec, 0, "SK payload inside an SK payload").into());
    }
    payload_list(py, &ps)
}

/// Builds the 28-octet IKE header.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn ike_build_header<'py>(
    py: Python<'py>,
    spi_i: &Bound<'py, PyAny>,
    spi_r: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] next: u8,
    #[pyo3(from_py_with = int_arg)] exchange: u8,
    #[pyo3(from_py_with = int_arg)] flags: u8,
    #[pyo3(from_py_with = int_arg)] msg_id: u32,
    #[pyo3(from_py_with = int_arg)] length: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let spi = |o: &Bound<'py, PyAny>| -> PyResult<[u8; 8]> {
        buf_vec(o)?.try_into().map_err(|_| pyo3::exceptions::PyValueError::new_err("an IKE SPI is 8 bytes"))
    };
    let h = msg::Header { spi_i: spi(spi_i)?, spi_r: spi(spi_r)?, next, version: 0x20, exchange, flags, msg_id, length };
    Ok(bytes(py, &h.build()))
}

/// Builds a payload chain from [(type, critical, body)]; `last_next` is
/// the Next Payload of the last one.
#[pyfunction]
#[pyo3(signature = (payloads, last_next=0))]
fn ike_build_chain<'py>(py: Python<'py>, payloads: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] last_next: u8) -> PyResult<Bound<'py, PyBytes>> {
    let mut owned: Vec<(u8, bool, Vec<u8>)> = Vec::new();
    for item in bounded_items(payloads, msg::MAX_PAYLOADS, "payloads")? {
        let (t, c, b): (Bound<'py, PyAny>, bool, Bound<'py, PyAny>) = item.extract()?;
        owned.push((int_named(&t, "payload type")?, c, buf_vec(&b)?));
    }
    let refs: Vec<(u8, bool, &[u8])> = owned.iter().map(|(t, c, b)| (*t, *c, &b[..])).collect();
    Ok(bytes(py, &msg::build_chain(&refs, last_next)?))
}

/// Parses an SA payload body: [(num, protocol, spi, [(type, id, key_len)])].
#[pyfunction]
fn ike_parse_sa<'py>(py: Python<'py>, body: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let b = buf_vec(body)?;
    let out = PyList::empty(py);
    for p in msg::parse_sa(&b, 0)? {
        let ts = PyList::empty(py);
        for t in &p.transforms {
            ts.append((t.ttype, t.id, t.key_len))?;
        }
        out.append((p.num, p.protocol, bytes(py, &p.spi), ts))?;
    }
    Ok(out)
}

/// Builds an SA payload body from [(num, protocol, spi, [(type, id, key_len)])].
#[pyfunction]
fn ike_build_sa<'py>(py: Python<'py>, proposals: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut props = Vec::new();
    for item in bounded_items(proposals, msg::MAX_PROPOSALS, "proposals")? {
        let (num, proto, spi, trs): (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>) = item.extract()?;
        let mut transforms = Vec::new();
        for t in bounded_items(&trs, msg::MAX_TRANSFORMS, "transforms")? {
            let (tt, id, kl): (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>) = t.extract()?;
            transforms.push(Transform { ttype: int_named(&tt, "transform type")?, id: int_named(&id, "transform id")?, key_len: opt_int_arg(&kl)? });
        }
        props.push(Proposal { num: int_named(&num, "proposal number")?, protocol: int_named(&proto, "protocol")?, spi: buf_vec(&spi)?, transforms });
    }
    Ok(bytes(py, &msg::build_sa(&props)?))
}

/// Parses a TSi/TSr body: [(ts_type, protocol, start_port, end_port, start, end)].
#[pyfunction]
fn ike_parse_ts<'py>(py: Python<'py>, body: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let b = buf_vec(body)?;
    let out = PyList::empty(py);
    for s in msg::parse_ts(&b, 0)? {
        out.append((s.ts_type, s.protocol, s.start_port, s.end_port, bytes(py, &s.start), bytes(py, &s.end)))?;
    }
    Ok(out)
}

/// Builds a TSi/TSr body from [(ts_type, protocol, start_port, end_port, start, end)].
#[pyfunction]
fn ike_build_ts<'py>(py: Python<'py>, selectors: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut sel = Vec::new();
    for item in bounded_items(selectors, msg::MAX_SELECTORS, "selectors")? {
        let (t, p, sp, ep, s, e): Any6<'py> = item.extract()?;
        sel.push(Selector {
            ts_type: int_named(&t, "ts_type")?,
            protocol: int_named(&p, "protocol")?,
            start_port: int_named(&sp, "start_port")?,
            end_port: int_named(&ep, "end_port")?,
            start: buf_vec(&s)?,
            end: buf_vec(&e)?,
        });
    }
    Ok(bytes(py, &msg::build_ts(&sel)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIkeDh>()?;
    m.add_function(wrap_pyfunction!(ike_prf, m)?)?;
    m.add_function(wrap_pyfunction!(ike_prf_plus, m)?)?;
    m.add_function(wrap_pyfunction!(ike_keys, m)?)?;
    m.add_function(wrap_pyfunction!(ike_child_keymat, m)?)?;
    m.add_function(wrap_pyfunction!(ike_random, m)?)?;
    m.add_function(wrap_pyfunction!(ikev1_keys, m)?)?;
    m.add_function(wrap_pyfunction!(ike_seal, m)?)?;
    m.add_function(wrap_pyfunction!(ike_open, m)?)?;
    m.add_function(wrap_pyfunction!(ike_parse, m)?)?;
    m.add_function(wrap_pyfunction!(ike_parse_chain, m)?)?;
    m.add_function(wrap_pyfunction!(ike_build_header, m)?)?;
    m.add_function(wrap_pyfunction!(ike_build_chain, m)?)?;
    m.add_function(wrap_pyfunction!(ike_parse_sa, m)?)?;
    m.add_function(wrap_pyfunction!(ike_build_sa, m)?)?;
    m.add_function(wrap_pyfunction!(ike_parse_ts, m)?)?;
    m.add_function(wrap_pyfunction!(ike_build_ts, m)?)?;
    register_cert(m)?;
    Ok(())
}

// --- ike cert --- X.509 certificates and signature AUTH (rust/src/ike/cert.rs)

use crate::ike::cert::{self, CertError, PrivateKey};
use crate::ike::v1sig::{self, RsaKey};

fn cert_err(py: Python<'_>, e: CertError) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let cls = py.import("kame.errors")?.getattr("CertificateError")?;
        let kw = PyDict::new(py);
        kw.set_item("layer", "ike")?;
        kw.set_item("reason", e.code())?;
        Ok(PyErr::from_value(cls.call((e.to_string(),), Some(&kw))?))
    })();
    built.unwrap_or_else(|err| err)
}

/// DER certificates from PEM text (every CERTIFICATE block) or one DER
/// certificate; each is checked to parse.
#[pyfunction]
fn ike_cert_load<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let data = buf_vec(data)?;
    let ders = cert::pem_or_der(&data, "CERTIFICATE").map_err(|e| cert_err(py, e))?;
    let out = PyList::empty(py);
    for d in ders {
        cert::parse(&d).map_err(|e| cert_err(py, e))?;
        out.append(bytes(py, &d))?;
    }
    Ok(out)
}

/// (subject DER, subject text, issuer text, notBefore, notAfter (Unix
/// seconds), SHA-1 of the SubjectPublicKeyInfo, subjectAltNames as
/// [(ID type, data)], key type "rsa"/"p256"/"p384"/"p521"/"other").
#[pyfunction]
fn ike_cert_info<'py>(py: Python<'py>, der: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let der = buf_vec(der)?;
    let i = cert::info(&der).map_err(|e| cert_err(py, e))?;
    let alts = PyList::empty(py);
    for (t, d) in &i.alt_ids {
        alts.append((*t, bytes(py, d)))?;
    }
    (bytes(py, &i.subject_der), i.subject, i.issuer, i.not_before, i.not_after, bytes(py, &i.spki_sha1), alts, i.key_type)
        .into_pyobject(py)
}

/// Verify `leaf` up to one of `cas` through `intermediates` at Unix time
/// `now` (dates, CA flags, keyUsage/extendedKeyUsage, pathLenConstraint,
/// nameConstraints, and revocation by any of `crls` (DER) that its
/// issuers signed); the path length, or `kame.errors.CertificateError`.
#[pyfunction]
#[pyo3(signature = (leaf, intermediates, cas, now, crls = None))]
fn ike_cert_verify<'py>(py: Python<'py>, leaf: &Bound<'py, PyAny>, intermediates: &Bound<'py, PyAny>, cas: &Bound<'py, PyAny>, now: i64, crls: Option<&Bound<'py, PyAny>>) -> PyResult<usize> {
    let leaf = buf_vec(leaf)?;
    let inter = bounded_items(intermediates, cert::MAX_DEPTH * 2, "intermediates")?.iter().map(buf_vec).collect::<PyResult<Vec<_>>>()?;
    let cas = bounded_items(cas, 1024, "cas")?.iter().map(buf_vec).collect::<PyResult<Vec<_>>>()?;
    let crls = match crls {
        Some(c) => bounded_items(c, 1024, "crls")?.iter().map(buf_vec).collect::<PyResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    cert::verify_chain_crl(&leaf, &inter, &cas, &crls, now).map_err(|e| cert_err(py, e))
}

/// DER CRLs from PEM text (every X509 CRL block) or one DER CRL; each is
/// checked to parse (a delta CRL or an unknown critical extension is refused).
#[pyfunction]
fn ike_crl_load<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let data = buf_vec(data)?;
    let ders = cert::load_crls(&data).map_err(|e| cert_err(py, e))?;
    let out = PyList::empty(py);
    for d in ders {
        out.append(bytes(py, &d))?;
    }
    Ok(out)
}

/// (issuer text, thisUpdate, nextUpdate or None (Unix seconds), number of revoked serials).
#[pyfunction]
fn ike_crl_info(py: Python<'_>, der: &Bound<'_, PyAny>) -> PyResult<(String, i64, Option<i64>, usize)> {
    let der = buf_vec(der)?;
    cert::crl_info(&der).map_err(|e| cert_err(py, e))
}

/// Whether the ID payload (type, data) names the certificate: None, or
/// `kame.errors.CertificateError` (reason "id_mismatch").
#[pyfunction]
fn ike_cert_id_match<'py>(py: Python<'py>, der: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] id_type: u8, data: &Bound<'py, PyAny>) -> PyResult<()> {
    let der = buf_vec(der)?;
    let data = buf_vec(data)?;
    cert::id_matches(&der, id_type, &data).map_err(|e| cert_err(py, e))
}

/// The text of a DER Name ("C=CH, O=kame, CN=moon").
#[pyfunction]
fn ike_dn_text(py: Python<'_>, der: &Bound<'_, PyAny>) -> PyResult<String> {
    let der = buf_vec(der)?;
    cert::dn_text(&der).map_err(|e| cert_err(py, e))
}

/// Check an AUTH payload's signature (`method`, `data`) over `octets` with
/// the certificate's key: None, or `kame.errors.CertificateError`.
#[pyfunction]
fn ike_auth_verify<'py>(py: Python<'py>, der: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] method: u8, data: &Bound<'py, PyAny>, octets: &Bound<'py, PyAny>) -> PyResult<()> {
    let der = buf_vec(der)?;
    let data = buf_vec(data)?;
    let octets = buf_vec(octets)?;
    cert::verify_auth(&der, method, &data, &octets).map_err(|e| cert_err(py, e))
}

/// Our private key for signature AUTH (PEM or DER PKCS#8; RSA also PKCS#1).
#[pyclass(name = "IkeKey", module = "kame._core")]
struct PyIkeKey {
    key: PrivateKey,
    v1: Option<RsaKey>,
}

#[pymethods]
impl PyIkeKey {
    #[new]
    fn new(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let data = buf_vec(data)?;
        let key = PrivateKey::load(&data).map_err(|e| cert_err(py, e))?;
        let v1 = if key.key_type() == "rsa" { RsaKey::load(&data).ok() } else { None };
        Ok(PyIkeKey { key, v1 })
    }

    /// "rsa", "p256" or "p384".
    #[getter]
    fn key_type(&self) -> &'static str {
        self.key.key_type()
    }

    /// The public key as a certificate's subjectPublicKey carries it.
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.key.public_key())
    }

    /// (method, AUTH data) signing `octets`: method 14 with a hash from
    /// `hashes` (the peer's SIGNATURE_HASH_ALGORITHMS), or 9/10.
    fn sign_auth<'py>(&self, py: Python<'py>, #[pyo3(from_py_with = int_arg)] method: u8, hashes: Vec<u16>, octets: &Bound<'py, PyAny>) -> PyResult<(u8, Bound<'py, PyBytes>)> {
        let octets = buf_vec(octets)?;
        let (m, d) = self.key.sign_auth(method, &hashes, &octets).map_err(|e| cert_err(py, e))?;
        Ok((m, bytes(py, &d)))
    }

    /// IKEv1's SIG_I/SIG_R (RFC 2409 §5.1): the PKCS#1 v1.5 signature of
    /// the bare `hash` (RSA keys only).
    fn sign_v1<'py>(&self, py: Python<'py>, hash: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let hash = buf_vec(hash)?;
        let k = self.v1.as_ref().ok_or_else(|| {
            cert_err(py, CertError::Unsupported(format!("IKEv1 signatures with a {} key", self.key.key_type())))
        })?;
        Ok(bytes(py, &k.sign_hash(&hash).map_err(|e| cert_err(py, e))?))
    }
}

/// Check IKEv1's SIG payload (`sig` over `hash`) with the certificate's
/// RSA key: None, or `kame.errors.CertificateError`.
#[pyfunction]
fn ike_v1_sig_verify<'py>(py: Python<'py>, der: &Bound<'py, PyAny>, hash: &Bound<'py, PyAny>, sig: &Bound<'py, PyAny>) -> PyResult<()> {
    let (der, hash, sig) = (buf_vec(der)?, buf_vec(hash)?, buf_vec(sig)?);
    v1sig::verify_hash(&der, &hash, &sig).map_err(|e| cert_err(py, e))
}

pub fn register_cert(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIkeKey>()?;
    m.add_function(wrap_pyfunction!(ike_cert_load, m)?)?;
    m.add_function(wrap_pyfunction!(ike_cert_info, m)?)?;
    m.add_function(wrap_pyfunction!(ike_cert_verify, m)?)?;
    m.add_function(wrap_pyfunction!(ike_crl_load, m)?)?;
    m.add_function(wrap_pyfunction!(ike_crl_info, m)?)?;
    m.add_function(wrap_pyfunction!(ike_cert_id_match, m)?)?;
    m.add_function(wrap_pyfunction!(ike_dn_text, m)?)?;
    m.add_function(wrap_pyfunction!(ike_auth_verify, m)?)?;
    m.add_function(wrap_pyfunction!(ike_v1_sig_verify, m)?)?;
    Ok(())
}
// --- end ike cert ---
