//! Python classes for the Segment Routing Header (RFC 8754), routing type
//! 4: `SegmentRoutingHeader` and its TLVs, `SrhTlv`. `RoutingHeader.srh`
//! (in `hdr6.rs`) decodes a type 4 Routing header into one; `kame.parse`
//! gives Routing headers in `Packet.headers`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::error::Layer;
use crate::wire::srh::{self, Hmac, TlvRepr};

use super::hdr6::{addr_repr, addresses_from_py, bytes_repr};
use super::util::{bounded_items, buf_vec as buffer_vec, int_arg, ipv6_to_py as addr_to_py, opt_int_arg, with_bytes as with_buffer};

/// One TLV of a Segment Routing Header (RFC 8754 §2.1): Pad1 (type 0, one
/// octet), PadN (type 4), HMAC (type 5: `d`, `key_id`, and the HMAC in
/// `value`), or any other type, kept as its type and data so that it
/// round-trips. `data` is the Variable-length data as on the wire (empty
/// for Pad1).
#[pyclass(module = "kame._core", name = "SrhTlv", eq, from_py_object)]
#[derive(Clone, PartialEq, Eq)]
pub struct SrhTlv {
    repr: TlvRepr,
}

impl SrhTlv {
    fn data_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.repr.emit(&mut out) {
            Ok(()) if self.repr != TlvRepr::Pad1 => out.get(2..).unwrap_or(&[]).to_vec(),
            _ => Vec::new(),
        }
    }
    fn from_type_data(t: u8, data: Vec<u8>) -> PyResult<Self> {
        let repr = match t {
            srh::tlv_type::PAD1 => {
                if !data.is_empty() {
                    return Err(PyValueError::new_err("Pad1 (type 0) carries no data (RFC 8754 §2.1.1.1)"));
                }
                TlvRepr::Pad1
            }
            _ => {
                let t = srh::Tlv { tlv_type: t, data: &data, offset: 0 };
                if t.tlv_type == srh::tlv_type::HMAC && data.len() < srh::HMAC_FIXED_LEN {
                    return Err(PyValueError::new_err("an HMAC TLV's data holds D, Reserved and the HMAC Key ID: 6 octets at least (RFC 8754 §2.1.2)"));
                }
                TlvRepr::parse(&t)
            }
        };
        if data.len() > 255 {
            return Err(PyValueError::new_err("TLV data is at most 255 octets (RFC 8754 §2.1)"));
        }
        Ok(SrhTlv { repr })
    }
}

#[pymethods]
impl SrhTlv {
    #[new]
    #[pyo3(signature = (r#type, data=None))]
    fn new(#[pyo3(from_py_with = int_arg)] r#type: u8, data: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let data = match data {
            Some(d) => buffer_vec(d)?,
            None => Vec::new(),
        };
        SrhTlv::from_type_data(r#type, data)
    }

    /// Pad1: one zero octet.
    #[staticmethod]
    fn pad1() -> Self {
        SrhTlv { repr: TlvRepr::Pad1 }
    }
    /// PadN with `n` zero padding octets (`n + 2` on the wire; RFC 8754
    /// allows 0 to 5).
    #[staticmethod]
    #[pyo3(signature = (n=0))]
    fn padn(#[pyo3(from_py_with = int_arg)] n: u8) -> Self {
        SrhTlv { repr: TlvRepr::PadN(vec![0; usize::from(n)]) }
    }
    /// The HMAC TLV (RFC 8754 §2.1.2): `hmac` is the keyed HMAC (multiples
    /// of 8 octets, up to 32), `d` the D flag.
    #[staticmethod]
    #[pyo3(signature = (key_id, hmac, d=false))]
    fn hmac(#[pyo3(from_py_with = int_arg)] key_id: u32, hmac: &Bound<'_, PyAny>, d: bool) -> PyResult<Self> {
        let hmac = buffer_vec(hmac)?;
        if hmac.len() > 255 - srh::HMAC_FIXED_LEN {
            return Err(PyValueError::new_err("an HMAC TLV holds at most 249 octets of HMAC"));
        }
        Ok(SrhTlv { repr: TlvRepr::Hmac(Hmac { d, reserved: 0, key_id, hmac }) })
    }

    /// Parse one TLV at the start of `buf` (octets after it are ignored).
    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        let v = buffer_vec(buf)?;
        let short = |needed: usize| {
            crate::Error::truncated(Layer::Routing, 0, needed as u64, v.len() as u64, "TLV runs past the buffer (RFC 8754 §2.1)")
        };
        let t = *v.first().ok_or_else(|| short(1))?;
        if t == srh::tlv_type::PAD1 {
            return Ok(SrhTlv { repr: TlvRepr::Pad1 });
        }
        let n = usize::from(*v.get(1).ok_or_else(|| short(2))?);
        let data = v.get(2..2 + n).ok_or_else(|| short(2 + n))?;
        if t == srh::tlv_type::HMAC && data.len() < srh::HMAC_FIXED_LEN {
            return Err(crate::Error::malformed(Layer::Routing, 1, "HMAC TLV too short for its D, Reserved and HMAC Key ID fields (RFC 8754 §2.1.2)").into());
        }
        Ok(SrhTlv { repr: TlvRepr::parse(&srh::Tlv { tlv_type: t, data, offset: 0 }) })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::new();
        self.repr.emit(&mut out)?;
        Ok(PyBytes::new(py, &out))
    }

    fn __len__(&self) -> usize {
        self.repr.buffer_len()
    }

    #[getter(r#type)]
    fn get_type(&self) -> u8 {
        self.repr.tlv_type()
    }
    /// The Variable-length data as on the wire (b"" for Pad1).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data_bytes())
    }
    /// HMAC TLV: the D flag; None for other types.
    #[getter]
    fn d(&self) -> Option<bool> {
        match &self.repr {
            TlvRepr::Hmac(h) => Some(h.d),
            _ => None,
        }
    }
    /// HMAC TLV: the HMAC Key ID; None for other types.
    #[getter]
    fn key_id(&self) -> Option<u32> {
        match &self.repr {
            TlvRepr::Hmac(h) => Some(h.key_id),
            _ => None,
        }
    }
    /// HMAC TLV: the HMAC field; None for other types.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match &self.repr {
            TlvRepr::Hmac(h) => Some(PyBytes::new(py, &h.hmac)),
            _ => None,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match &self.repr {
            TlvRepr::Pad1 => "SrhTlv.pad1()".to_string(),
            TlvRepr::PadN(d) if d.iter().all(|b| *b == 0) && d.len() < 256 => format!("SrhTlv.padn({})", d.len()),
            TlvRepr::Hmac(h) if h.reserved == 0 => format!(
                "SrhTlv.hmac({:#x}, {}{})",
                h.key_id,
                bytes_repr(py, &h.hmac),
                if h.d { ", d=True" } else { "" }
            ),
            r => format!("SrhTlv({}, {})", r.tlv_type(), bytes_repr(py, &self.data_bytes())),
        }
    }
}

/// The most TLVs a list may hold: an SRH is at most 2048 octets (Hdr Ext
/// Len is 8 bits) and a TLV at least one.
const MAX_TLVS: usize = 2048;

fn tlvs_from_py(v: &Bound<'_, PyAny>) -> PyResult<Vec<TlvRepr>> {
    let mut out = Vec::new();
    for item in bounded_items(v, MAX_TLVS, "tlvs")? {
        let t = item.cast::<SrhTlv>().map_err(|_| PyTypeError::new_err("tlvs must be SrhTlv objects"))?;
        out.push(t.borrow().repr.clone());
    }
    Ok(out)
}

/// The Segment Routing Header (RFC 8754 §2), Routing header type 4:
/// `segments` (Segment List[0] first: the last segment of the path),
/// `segments_left`, `last_entry` (read-only: `len(segments) - 1`), `flags`,
/// `tag`, `tlvs` (`SrhTlv`), `next_header`. `from_bytes` refuses lengths
/// that lie (Last Entry beyond the header, a TLV overrunning it) with
/// `kame.MalformedError`; `to_bytes` pads with Pad1/PadN to a multiple of
/// 8 octets unless `pad=False`.
#[pyclass(module = "kame._core", name = "SegmentRoutingHeader", eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct SegmentRoutingHeader {
    pub(super) repr: srh::Repr,
}

impl SegmentRoutingHeader {
    fn bytes(&self, pad: bool) -> PyResult<Vec<u8>> {
        if pad {
            Ok(self.repr.padded().to_bytes()?)
        } else {
            Ok(self.repr.to_bytes()?)
        }
    }
}

#[pymethods]
impl SegmentRoutingHeader {
    /// `segments_left` defaults to `len(segments) - 1` (a packet at its
    /// source, RFC 8754 §4.1).
    #[new]
    #[pyo3(signature = (segments, segments_left=None, tlvs=None, flags=0, tag=0, next_header=59))]
    fn new(
        segments: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = opt_int_arg)] segments_left: Option<u8>,
        tlvs: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = int_arg)] flags: u8,
        #[pyo3(from_py_with = int_arg)] tag: u16,
        #[pyo3(from_py_with = int_arg)] next_header: u8,
    ) -> PyResult<Self> {
        let segments = addresses_from_py(segments)?;
        if segments.is_empty() || segments.len() > 256 {
            return Err(PyValueError::new_err("an SRH has 1 to 256 segments (Last Entry is one octet)"));
        }
        let segments_left = match segments_left {
            Some(s) => s,
            None => u8::try_from(segments.len() - 1).unwrap_or(u8::MAX),
        };
        let tlvs = match tlvs {
            Some(t) => tlvs_from_py(t)?,
            None => Vec::new(),
        };
        Ok(SegmentRoutingHeader { repr: srh::Repr { next_header, segments_left, flags, tag, segments, tlvs } })
    }

    /// Parse the SRH at the start of `buf` (octets after it are ignored).
    #[staticmethod]
    fn from_bytes(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        let repr = with_buffer(buf, srh::Repr::parse)??;
        Ok(SegmentRoutingHeader { repr })
    }

    #[pyo3(signature = (pad=true))]
    fn to_bytes<'py>(&self, py: Python<'py>, pad: bool) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.bytes(pad)?))
    }

    /// Octets of `to_bytes()` (padded).
    fn __len__(&self) -> usize {
        self.repr.padded().buffer_len()
    }

    #[getter]
    fn segments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let v: PyResult<Vec<_>> = self.repr.segments.iter().map(|a| addr_to_py(py, a)).collect();
        PyList::new(py, v?)
    }
    #[setter]
    fn set_segments(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let s = addresses_from_py(v)?;
        if s.is_empty() || s.len() > 256 {
            return Err(PyValueError::new_err("an SRH has 1 to 256 segments (Last Entry is one octet)"));
        }
        self.repr.segments = s;
        Ok(())
    }
    /// Last Entry: the index of the last segment, `len(segments) - 1`.
    #[getter]
    fn last_entry(&self) -> u8 {
        self.repr.last_entry().unwrap_or(0)
    }
    #[getter]
    fn segments_left(&self) -> u8 {
        self.repr.segments_left
    }
    #[setter]
    fn set_segments_left(&mut self, #[pyo3(from_py_with = int_arg)] segments_left: u8) {
        self.repr.segments_left = segments_left;
    }
    #[getter]
    fn flags(&self) -> u8 {
        self.repr.flags
    }
    #[setter]
    fn set_flags(&mut self, #[pyo3(from_py_with = int_arg)] flags: u8) {
        self.repr.flags = flags;
    }
    #[getter]
    fn tag(&self) -> u16 {
        self.repr.tag
    }
    #[setter]
    fn set_tag(&mut self, #[pyo3(from_py_with = int_arg)] tag: u16) {
        self.repr.tag = tag;
    }
    /// A copy of the TLV list (padding included, as received); assign a
    /// new list to change it.
    #[getter]
    fn tlvs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.repr.tlvs.iter().map(|t| SrhTlv { repr: t.clone() }))
    }
    #[setter]
    fn set_tlvs(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.repr.tlvs = tlvs_from_py(v)?;
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

    fn __repr__(&self, py: Python<'_>) -> String {
        let s: Vec<String> = self.repr.segments.iter().map(|a| format!("'{}'", addr_repr(py, a))).collect();
        let t: Vec<String> = self.repr.tlvs.iter().map(|t| SrhTlv { repr: t.clone() }.__repr__(py)).collect();
        format!(
            "SegmentRoutingHeader(segments=[{}], segments_left={}, tlvs=[{}], flags={:#04x}, tag={:#06x}, next_header={})",
            s.join(", "),
            self.repr.segments_left,
            t.join(", "),
            self.repr.flags,
            self.repr.tag,
            self.repr.next_header
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SrhTlv>()?;
    m.add_class::<SegmentRoutingHeader>()?;
    Ok(())
}
