//! The single mapping from `kame_core::Error` to Python exceptions.
//!
//! The classes are ordinary Python classes defined in `kame/errors.py`, so
//! users can read, catch and subclass them; this file only picks the class
//! for an `ErrorKind` and fills in the attributes.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

use crate::error::{Error, ErrorKind};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("kame.errors")?.unbind()))
        .map(|m| m.bind(py))
}

fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Truncated { .. } => "TruncatedError",
        ErrorKind::Malformed => "MalformedError",
        ErrorKind::HeaderLimit { .. } => "HeaderLimitError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::Integrity => "IntegrityError",
        ErrorKind::Replay => "ReplayError",
        ErrorKind::BadPadding => "PaddingError",
        ErrorKind::Config => "ConfigError",
        ErrorKind::Limit { .. } => "LimitError",
        // --- ipcomp/tunnel ---
        ErrorKind::EcnDrop => "EcnDropError",
    }
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let module = errors_module(py)?;
    let cls = module.getattr(class_name(e.kind))?;
    let kw = PyDict::new(py);
    kw.set_item("layer", e.layer.name())?;
    kw.set_item("offset", e.offset)?;
    kw.set_item("reason", e.reason)?;
    if let Some(a) = e.icmp {
        let answer = module.getattr("Icmp6Answer")?.call1((a.icmp_type, a.code, a.pointer))?;
        kw.set_item("icmp", answer)?;
    }
    match e.kind {
        ErrorKind::Truncated { needed, available } => {
            kw.set_item("needed", needed)?;
            kw.set_item("available", available)?;
        }
        ErrorKind::HeaderLimit { limit } => kw.set_item("limit", limit)?,
        ErrorKind::Limit { limit } => kw.set_item("limit", limit)?,
        _ => {}
    }
    let exc = cls.call((e.to_string(),), Some(&kw))?;
    Ok(PyErr::from_value(exc))
}

/// `kame.errors.RangeError` for an integer argument outside `low..=high`
/// (`value` is the Python object given). The argument's name reaches the
/// exception through the note PyO3 adds ("while processing 'x'"), or
/// `argument` when the caller knows it.
pub fn range_error(value: &Bound<'_, PyAny>, low: i128, high: u128, argument: Option<&str>) -> PyErr {
    let py = value.py();
    let bits: u64 = value.call_method0("bit_length").and_then(|b| b.extract()).unwrap_or(0);
    let shown = if bits <= 256 {
        value.str().map(|s| s.to_string()).unwrap_or_default()
    } else {
        format!("an int of {bits} bits")
    };
    let msg = format!("{shown} is out of range {low}-{high}");
    let built = (|| -> PyResult<PyErr> {
        let cls = errors_module(py)?.getattr("RangeError")?;
        let kw = PyDict::new(py);
        kw.set_item("low", low)?;
        kw.set_item("high", high)?;
        kw.set_item("value", value)?;
        if let Some(a) = argument {
            kw.set_item("argument", a)?;
        }
        Ok(PyErr::from_value(cls.call((msg.as_str(),), Some(&kw))?))
    })();
    built.unwrap_or_else(|_| PyValueError::new_err(msg))
}

/// `kame.errors.ScopeError` (`EINVAL`): a zone given where none can go.
pub fn scope_error(py: Python<'_>, msg: String) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let cls = errors_module(py)?.getattr("ScopeError")?;
        Ok(PyErr::from_value(cls.call1((msg.as_str(), "EINVAL"))?))
    })();
    built.unwrap_or_else(|_| PyValueError::new_err(msg))
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| match build(py, &e) {
            Ok(err) => err,
            Err(_) => PyValueError::new_err(e.to_string()),
        })
    }
}
