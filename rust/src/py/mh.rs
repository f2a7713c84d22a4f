//! The Mobility Header (RFC 6275 §6.1) for `kame.mip6`: `mh_parse` reads
//! one into a `MobilityHeader`, `mh_build` builds one (signed with Binding
//! Authorization Data when `auth` is given), `mh_verify_auth` checks an
//! Authenticator in constant time, and `mip6_keygen_token` / `mip6_kbm` are
//! the Return Routability arithmetic of §5.2.5. Errors are `kame.errors`
//! classes with layer "mobility" and the offset in the Mobility Header.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::wire::mh::{self, opt_type, Message, OptRepr};

use super::hdr6::addr_from_py;
use super::util::{buf_vec, int_arg, ipv6_to_py, opt_int_arg, with_bytes};

fn opt_addr(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<[u8; 16]>> {
    match ob {
        Some(o) if !o.is_none() => addr_from_py(o).map(Some),
        _ => Ok(None),
    }
}

/// The pseudo-header's source and destination: both given or neither.
#[allow(clippy::type_complexity)]
fn pseudo_addrs(src: Option<&Bound<'_, PyAny>>, dst: Option<&Bound<'_, PyAny>>) -> PyResult<(Option<[u8; 16]>, Option<[u8; 16]>)> {
    let (s, d) = (opt_addr(src)?, opt_addr(dst)?);
    if s.is_some() != d.is_some() {
        return Err(PyValueError::new_err("src and dst go together"));
    }
    Ok((s, d))
}

fn octets<const N: usize>(ob: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<[u8; N]> {
    match ob {
        Some(o) if !o.is_none() => {
            let v = buf_vec(o)?;
            <[u8; N]>::try_from(v.as_slice()).map_err(|_| PyValueError::new_err(format!("{what} is {N} octets")))
        }
        _ => Ok([0; N]),
    }
}

/// A parsed Mobility Header (RFC 6275 §6.1). Fields a message type does not
/// have are `None`.
#[pyclass(module = "kame._core", name = "MobilityHeader", frozen, get_all)]
pub struct MobilityHeader {
    payload_proto: u8,
    mh_type: u8,
    checksum: u16,
    /// The message's length in octets ((Header Len + 1) * 8).
    length: usize,
    cookie: Option<Py<PyBytes>>,
    nonce_index: Option<u16>,
    token: Option<Py<PyBytes>>,
    seq: Option<u16>,
    flags: Option<u16>,
    lifetime: Option<u16>,
    status: Option<u8>,
    home_address: Option<Py<PyAny>>,
    /// The message data of an unknown MH type (after the checksum).
    data: Option<Py<PyBytes>>,
    /// Every option as ``(offset, type, data)``, Pad1 and PadN included.
    options: Py<PyList>,
    refresh_advice: Option<u16>,
    alt_coa: Option<Py<PyAny>>,
    nonce_indices: Option<(u16, u16)>,
    /// The Authenticator of the last Binding Authorization Data option.
    auth_data: Option<Py<PyBytes>>,
    /// Whether Binding Authorization Data is the last option (§6.2.7).
    auth_last: bool,
}

#[pymethods]
impl MobilityHeader {
    fn __repr__(&self) -> String {
        format!("MobilityHeader(mh_type={}, length={}, checksum=0x{:04x})", self.mh_type, self.length, self.checksum)
    }
}

/// Parse the Mobility Header at the start of ``buf``; with ``src`` and
/// ``dst`` (the pseudo-header addresses: the home address for a packet
/// with a Home Address option, the final destination) the checksum is
/// verified.
#[pyfunction]
#[pyo3(signature = (buf, src=None, dst=None))]
fn mh_parse(py: Python<'_>, buf: &Bound<'_, PyAny>, src: Option<&Bound<'_, PyAny>>, dst: Option<&Bound<'_, PyAny>>) -> PyResult<MobilityHeader> {
    let (s, d) = pseudo_addrs(src, dst)?;
    let pseudo = s.as_ref().zip(d.as_ref());
    with_bytes(buf, |b| -> PyResult<MobilityHeader> {
        let r = mh::Repr::parse(b, pseudo)?;
        let bytes = |v: &[u8]| PyBytes::new(py, v).unbind();
        let mut out = MobilityHeader {
            payload_proto: r.payload_proto,
            mh_type: r.message.mh_type(),
            checksum: r.checksum,
            length: r.len,
            cookie: None,
            nonce_index: None,
            token: None,
            seq: None,
            flags: None,
            lifetime: None,
            status: None,
            home_address: None,
            data: None,
            options: PyList::empty(py).unbind(),
            refresh_advice: None,
            alt_coa: None,
            nonce_indices: None,
            auth_data: None,
            auth_last: false,
        };
        match &r.message {
            Message::Brr => {}
            Message::HomeTestInit { cookie } | Message::CareofTestInit { cookie } => out.cookie = Some(bytes(cookie)),
            Message::HomeTest { nonce_index, cookie, token } | Message::CareofTest { nonce_index, cookie, token } => {
                out.nonce_index = Some(*nonce_index);
                out.cookie = Some(bytes(cookie));
                out.token = Some(bytes(token));
            }
            Message::BindingUpdate { seq, flags, lifetime } => {
                out.seq = Some(*seq);
                out.flags = Some(*flags);
                out.lifetime = Some(*lifetime);
            }
            Message::BindingAck { status, flags, seq, lifetime } => {
                out.status = Some(*status);
                out.flags = Some(u16::from(*flags));
                out.seq = Some(*seq);
                out.lifetime = Some(*lifetime);
            }
            Message::BindingError { status, home_address } => {
                out.status = Some(*status);
                out.home_address = Some(ipv6_to_py(py, home_address)?.unbind());
            }
            Message::Unknown { data, .. } => out.data = Some(bytes(data)),
        }
        let opts = out.options.bind(py);
        for (i, o) in r.options.iter().enumerate() {
            let data = b.get(o.offset..o.offset + o.opt.wire_len()).and_then(|w| w.get(if o.opt.opt_type() == opt_type::PAD1 { 1.. } else { 2.. })).unwrap_or(&[]);
            opts.append(PyTuple::new(py, [o.offset.into_pyobject(py)?.into_any(), o.opt.opt_type().into_pyobject(py)?.into_any(), PyBytes::new(py, data).into_any()])?)?;
            match &o.opt {
                OptRepr::RefreshAdvice(v) if out.refresh_advice.is_none() => out.refresh_advice = Some(*v),
                OptRepr::AltCoa(a) if out.alt_coa.is_none() => out.alt_coa = Some(ipv6_to_py(py, a)?.unbind()),
                OptRepr::NonceIndices { home, careof } if out.nonce_indices.is_none() => out.nonce_indices = Some((*home, *careof)),
                OptRepr::AuthData(a) => {
                    out.auth_data = Some(bytes(a));
                    out.auth_last = r.options.get(i + 1..).is_some_and(|rest| rest.iter().all(|p| matches!(p.opt, OptRepr::Pad1 | OptRepr::PadN(_))));
                }
                _ => {}
            }
        }
        Ok(out)
    })?
}

/// Build a Mobility Header of ``mh_type`` from the fields it has (the rest
/// are ignored), then the options: Binding Refresh Advice, Alternate
/// Care-of Address, Nonce Indices, then ``options`` as ``(type, data)``,
/// each aligned as §6.2 says, and with ``auth=(kbm, coa, cn)`` Binding
/// Authorization Data last (§5.2.6). The checksum is computed with ``src``
/// and ``dst`` (the final destination), else left 0. An unknown
/// ``mh_type`` carries ``data`` as its message data.
#[pyfunction]
#[pyo3(signature = (mh_type, *, src=None, dst=None, payload_proto=59, cookie=None, nonce_index=0, token=None, seq=0, flags=0, lifetime=0, status=0, home_address=None, data=None, refresh_advice=None, alt_coa=None, nonce_indices=None, options=None, auth=None))]
#[allow(clippy::too_many_arguments)]
fn mh_build<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] mh_type: u8,
    src: Option<&Bound<'py, PyAny>>,
    dst: Option<&Bound<'py, PyAny>>,
    #[pyo3(from_py_with = int_arg)] payload_proto: u8,
    cookie: Option<&Bound<'py, PyAny>>,
    #[pyo3(from_py_with = int_arg)] nonce_index: u16,
    token: Option<&Bound<'py, PyAny>>,
    #[pyo3(from_py_with = int_arg)] seq: u16,
    #[pyo3(from_py_with = int_arg)] flags: u16,
    #[pyo3(from_py_with = int_arg)] lifetime: u16,
    #[pyo3(from_py_with = int_arg)] status: u8,
    home_address: Option<&Bound<'py, PyAny>>,
    data: Option<&Bound<'py, PyAny>>,
    #[pyo3(from_py_with = opt_int_arg)] refresh_advice: Option<u16>,
    alt_coa: Option<&Bound<'py, PyAny>>,
    nonce_indices: Option<(u16, u16)>,
    options: Option<Vec<(u8, Vec<u8>)>>,
    auth: Option<(Vec<u8>, Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (s, d) = pseudo_addrs(src, dst)?;
    let pseudo = s.as_ref().zip(d.as_ref());
    let cookie: [u8; 8] = octets(cookie, "cookie")?;
    let token: [u8; 8] = octets(token, "token")?;
    let data_v = match data {
        Some(o) if !o.is_none() => buf_vec(o)?,
        _ => Vec::new(),
    };
    if data_v.len() > 2042 {
        return Err(PyValueError::new_err("message data over 2042 octets"));
    }
    let message = match mh_type {
        mh::mh_type::BRR => Message::Brr,
        mh::mh_type::HOTI => Message::HomeTestInit { cookie },
        mh::mh_type::COTI => Message::CareofTestInit { cookie },
        mh::mh_type::HOT => Message::HomeTest { nonce_index, cookie, token },
        mh::mh_type::COT => Message::CareofTest { nonce_index, cookie, token },
        mh::mh_type::BU => Message::BindingUpdate { seq, flags, lifetime },
        mh::mh_type::BA => Message::BindingAck {
            status,
            flags: u8::try_from(flags).map_err(|_| PyValueError::new_err("a Binding Acknowledgement's flags are 8 bits"))?,
            seq,
            lifetime,
        },
        mh::mh_type::BE => Message::BindingError { status, home_address: opt_addr(home_address)?.unwrap_or([0; 16]) },
        t => Message::Unknown { mh_type: t, data: &data_v },
    };
    let alt = opt_addr(alt_coa)?;
    let extra = options.unwrap_or_default();
    if extra.len() > 1024 {
        return Err(PyValueError::new_err("more than 1024 options"));
    }
    let mut opts: Vec<OptRepr<'_>> = Vec::new();
    if let Some(v) = refresh_advice {
        opts.push(OptRepr::RefreshAdvice(v));
    }
    if let Some(a) = alt {
        opts.push(OptRepr::AltCoa(a));
    }
    if let Some((h, c)) = nonce_indices {
        opts.push(OptRepr::NonceIndices { home: h, careof: c });
    }
    for (t, d) in &extra {
        opts.push(match *t {
            opt_type::PAD1 => OptRepr::Pad1,
            opt_type::PADN => OptRepr::PadN(2 + d.len()),
            t => OptRepr::Unknown { opt_type: t, data: d },
        });
    }
    let out = match auth {
        Some((kbm, coa, cn)) => mh::emit_signed(59, &message, &opts, &kbm, &addr_from_py(&coa)?, &addr_from_py(&cn)?, None),
        None => mh::emit(59, &message, &opts, None),
    };
    let mut out = out?;
    if let Some(p) = out.first_mut() {
        *p = payload_proto;
    }
    if let Some((a, b)) = pseudo {
        mh::set_checksum(&mut out, a, b)?;
    }
    Ok(PyBytes::new(py, &out))
}

/// Whether the Authenticator of the last Binding Authorization Data option
/// of the Mobility Header ``buf`` is the first 96 bits of
/// HMAC_SHA1(``kbm``, ``coa`` | ``cn`` | MH data) (§5.2.6, §6.2.7),
/// compared in constant time; False without one or when ``buf`` does not
/// parse.
#[pyfunction]
fn mh_verify_auth(buf: &Bound<'_, PyAny>, kbm: &Bound<'_, PyAny>, coa: &Bound<'_, PyAny>, cn: &Bound<'_, PyAny>) -> PyResult<bool> {
    let kbm = buf_vec(kbm)?;
    let coa = addr_from_py(coa)?;
    let cn = addr_from_py(cn)?;
    with_bytes(buf, |b| {
        let Ok(r) = mh::Repr::parse(b, None) else { return false };
        let Some(o) = r.options.iter().rev().find(|o| o.opt.opt_type() == opt_type::AUTH_DATA) else { return false };
        let start = o.offset + 2;
        let body = b.get(..r.len).unwrap_or(&[]);
        mh::rr::verify(&kbm, &coa, &cn, body, start..start + (o.opt.wire_len() - 2))
    })
}

/// A keygen token (§5.2.5): the first 64 bits of HMAC_SHA1(``kcn``,
/// ``addr`` | ``nonce`` | ``which``); ``which`` 0 for the home keygen
/// token, 1 for the care-of keygen token.
#[pyfunction]
fn mip6_keygen_token<'py>(py: Python<'py>, kcn: &Bound<'py, PyAny>, addr: &Bound<'py, PyAny>, nonce: &Bound<'py, PyAny>, #[pyo3(from_py_with = int_arg)] which: u8) -> PyResult<Bound<'py, PyBytes>> {
    if which > 1 {
        return Err(PyValueError::new_err("which is 0 (home) or 1 (care-of)"));
    }
    let kcn = buf_vec(kcn)?;
    let nonce = buf_vec(nonce)?;
    let a = addr_from_py(addr)?;
    Ok(PyBytes::new(py, &mh::rr::keygen_token(&kcn, &a, &nonce, which)))
}

/// Kbm (§5.2.5): SHA1(home token | care-of token), or SHA1(home token)
/// without a care-of token (a mobile node at home).
#[pyfunction]
#[pyo3(signature = (home_token, careof_token=None))]
fn mip6_kbm<'py>(py: Python<'py>, home_token: &Bound<'py, PyAny>, careof_token: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
    let h: [u8; 8] = octets(Some(home_token), "home_token")?;
    let c: Option<[u8; 8]> = match careof_token {
        Some(o) if !o.is_none() => Some(octets(Some(o), "careof_token")?),
        _ => None,
    };
    Ok(PyBytes::new(py, &mh::rr::kbm(&h, c.as_ref())))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MobilityHeader>()?;
    m.add_function(wrap_pyfunction!(mh_parse, m)?)?;
    m.add_function(wrap_pyfunction!(mh_build, m)?)?;
    m.add_function(wrap_pyfunction!(mh_verify_auth, m)?)?;
    m.add_function(wrap_pyfunction!(mip6_keygen_token, m)?)?;
    m.add_function(wrap_pyfunction!(mip6_kbm, m)?)?;
    Ok(())
}
