//! The node's Neighbor Discovery fast path (`kame_core::nd6`): one call from
//! an Ethernet frame to the fields of an NS or NA, or `None` for the
//! general path; a batch form that parses with the GIL released; and the
//! NS/NA packet builders, taking addresses as the integers
//! `ipaddress.IPv6Address` keeps (`int(addr)`).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::nd6::{self, NdFields};

use super::util::{int_arg, with_bytes};

type Fields<'py> = (u8, u128, u128, u8, u128, u8, Option<Bound<'py, PyBytes>>, Option<Bound<'py, PyBytes>>, u32);

fn fields_to_py<'py>(py: Python<'py>, f: &NdFields<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let t: Fields<'py> = (
        f.msg_type,
        u128::from_be_bytes(f.src),
        u128::from_be_bytes(f.dst),
        f.hop_limit,
        u128::from_be_bytes(f.target),
        f.flags,
        f.lladdr.map(|b| PyBytes::new(py, b)),
        f.nonce.map(|b| PyBytes::new(py, b)),
        f.toomanyopt,
    );
    t.into_pyobject(py)
}

fn own_vec(own_lladdr: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    own_lladdr.map(|o| with_bytes(o, <[u8]>::to_vec)).transpose()
}

/// nd6_input(frame, hdrnestlimit=50, maxndopt=10, own_lladdr=None)
///
/// The fields of the NS or NA in an Ethernet frame, as
/// `(type, src, dst, hop_limit, target, flags, lladdr, nonce, toomanyopt)`
/// (addresses as ints; `lladdr` the first SLLA of an NS or TLLA of an NA;
/// `nonce` an NS's first Nonce), when the frame passes every check of the
/// general path (`ip6_validate`, `parse_icmpv6` with the checksum) and
/// carries no extension header and no address that the §1.14 or §1.3.1
/// rules could refuse; else None, and the caller runs the general path.
/// Frames whose source MAC is `own_lladdr` give None.
#[pyfunction]
#[pyo3(signature = (frame, hdrnestlimit = 50, maxndopt = 10, own_lladdr = None))]
fn nd6_input<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
    #[pyo3(from_py_with = int_arg)] maxndopt: usize,
    own_lladdr: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let own = own_vec(own_lladdr)?;
    with_bytes(frame, |b| nd6::nd6_classify(b, hdrnestlimit, maxndopt, own.as_deref()).map(|f| fields_to_py(py, &f)).transpose())?
}

/// nd6_input_many(frames, hdrnestlimit=50, maxndopt=10, own_lladdr=None)
///
/// `nd6_input` over many frames: a list with a tuple or None per frame.
/// `bytes` frames are read in place and classified as they are read, with
/// the GIL held (copying every frame into one buffer to release the GIL
/// for a classification of a few hundred nanoseconds made the batch slower
/// than single calls). A field equal to the previous frame's gives the
/// previous frame's object again (ints and bytes are immutable).
#[pyfunction]
#[pyo3(signature = (frames, hdrnestlimit = 50, maxndopt = 10, own_lladdr = None))]
fn nd6_input_many<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
    #[pyo3(from_py_with = int_arg)] maxndopt: usize,
    own_lladdr: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let own = own_vec(own_lladdr)?;
    let out = PyList::empty(py);
    let mut memo = Memo::default();
    for item in frames.try_iter()? {
        let r = with_bytes(&item?, |b| {
            nd6::nd6_classify(b, hdrnestlimit, maxndopt, own.as_deref()).map(|f| memo.fields(py, &f)).transpose()
        })??;
        match r {
            Some(t) => out.append(t)?,
            None => out.append(py.None())?,
        }
    }
    Ok(out)
}

/// The objects of the previous frame's fields in a batch: a field equal
/// to the previous frame's gives the same (immutable) `int` or `bytes`
/// object again instead of a new one. A run of NDP from one neighbour
/// (its address resolution, DAD probes, a scan of one prefix) repeats
/// most fields; making a 128-bit `int` is most of a result's cost.
#[derive(Default)]
struct Memo {
    src: Option<(u128, Py<PyAny>)>,
    dst: Option<(u128, Py<PyAny>)>,
    target: Option<(u128, Py<PyAny>)>,
    lladdr: Option<(Vec<u8>, Py<PyAny>)>,
}

fn memo_int(py: Python<'_>, slot: &mut Option<(u128, Py<PyAny>)>, v: u128) -> PyResult<Py<PyAny>> {
    if let Some((k, o)) = slot {
        if *k == v {
            return Ok(o.clone_ref(py));
        }
    }
    let o = v.into_py_any(py)?;
    *slot = Some((v, o.clone_ref(py)));
    Ok(o)
}

impl Memo {
    fn fields<'py>(&mut self, py: Python<'py>, f: &NdFields<'_>) -> PyResult<Bound<'py, PyTuple>> {
        let lladdr = match f.lladdr {
            None => py.None(),
            Some(b) => match &self.lladdr {
                Some((k, o)) if k.as_slice() == b => o.clone_ref(py),
                _ => {
                    let o = PyBytes::new(py, b).into_any().unbind();
                    self.lladdr = Some((b.to_vec(), o.clone_ref(py)));
                    o
                }
            },
        };
        let items: [Py<PyAny>; 9] = [
            f.msg_type.into_py_any(py)?,
            memo_int(py, &mut self.src, u128::from_be_bytes(f.src))?,
            memo_int(py, &mut self.dst, u128::from_be_bytes(f.dst))?,
            f.hop_limit.into_py_any(py)?,
            memo_int(py, &mut self.target, u128::from_be_bytes(f.target))?,
            f.flags.into_py_any(py)?,
            lladdr,
            // a nonce is random per probe: never the previous one
            f.nonce.map(|b| PyBytes::new(py, b)).into_py_any(py)?,
            f.toomanyopt.into_py_any(py)?,
        ];
        PyTuple::new(py, items)
    }
}

fn opt_bytes(o: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    match o {
        Some(x) if !x.is_none() => Ok(Some(with_bytes(x, <[u8]>::to_vec)?)),
        _ => Ok(None),
    }
}

/// nd6_na_output(src, dst, target, flags, tlla=None) -> bytes
///
/// The IPv6 packet of a Neighbor Advertisement: hop limit 255, the R (0x80),
/// S (0x40), O (0x20) `flags`, a Target Link-Layer Address option carrying
/// `tlla` when given, the checksum filled in. Addresses as ints.
#[pyfunction]
#[pyo3(signature = (src, dst, target, flags, tlla = None))]
fn nd6_na_output<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] src: u128,
    #[pyo3(from_py_with = int_arg)] dst: u128,
    #[pyo3(from_py_with = int_arg)] target: u128,
    #[pyo3(from_py_with = int_arg)] flags: u8,
    tlla: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let ll = opt_bytes(tlla)?;
    let mut out = Vec::with_capacity(40 + 32);
    nd6::nd6_na_output(&mut out, &src.to_be_bytes(), &dst.to_be_bytes(), &target.to_be_bytes(), flags, ll.as_deref())?;
    PyBytes::new(py, &out).into_bound_py_any(py)
}

/// nd6_ns_output(src, dst, target, slla=None, nonce=None) -> bytes
///
/// The IPv6 packet of a Neighbor Solicitation: hop limit 255, a Source
/// Link-Layer Address option when `slla` is given, then a Nonce option
/// (RFC 7527) when `nonce` is given. Addresses as ints.
#[pyfunction]
#[pyo3(signature = (src, dst, target, slla = None, nonce = None))]
fn nd6_ns_output<'py>(
    py: Python<'py>,
    #[pyo3(from_py_with = int_arg)] src: u128,
    #[pyo3(from_py_with = int_arg)] dst: u128,
    #[pyo3(from_py_with = int_arg)] target: u128,
    slla: Option<&Bound<'py, PyAny>>,
    nonce: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (ll, n) = (opt_bytes(slla)?, opt_bytes(nonce)?);
    let mut out = Vec::with_capacity(40 + 40);
    nd6::nd6_ns_output(&mut out, &src.to_be_bytes(), &dst.to_be_bytes(), &target.to_be_bytes(), ll.as_deref(), n.as_deref())?;
    PyBytes::new(py, &out).into_bound_py_any(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(nd6_input, m)?)?;
    m.add_function(wrap_pyfunction!(nd6_input_many, m)?)?;
    m.add_function(wrap_pyfunction!(nd6_na_output, m)?)?;
    m.add_function(wrap_pyfunction!(nd6_ns_output, m)?)?;
    Ok(())
}
