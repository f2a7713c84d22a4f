//! Bindings for the header translator (`crate::xlat`, RFC 7915 / 6052 /
//! 7757): the `Xlat` class (a stateless translator's table and settings),
//! its `to6`/`to4` and their NAT64 forms `to6_nat`/`to4_nat` for a
//! session's binding, and `xlat_flow` (the flow a packet belongs to).
//!
//! A translation returns `(verdict, packets, reason)`: `("out", [..], None)`,
//! `("back", [icmp_error], reason)` or `("drop", [], reason)`; `reason` is
//! the `xlats_*` counter name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::xlat::{self, Config, Eam, Map, Nat, Prefix6052, Table, Verdict};

use super::upper::{Addr4, Addr6};
use super::util::{bounded_items, buf_vec, int_arg, opt_int_arg, with_bytes};

/// At most this many addresses in each RFC 6791 pool.
const POOL6791_MAX: usize = 4096;

type VerdictTuple<'py> = (&'static str, Bound<'py, PyList>, Option<&'static str>);
/// `(proto, src, dst, sport, dport, error, tcp_flags)`.
type FlowTuple = (u8, IpAddr, IpAddr, u16, u16, bool, u8);

fn cidr(s: &str) -> PyResult<(IpAddr, u8)> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.trim().parse().map_err(|_| PyValueError::new_err(format!("{s:?}: not an address or prefix")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l.trim().parse::<u8>().ok().filter(|&n| n <= max),
        None => Some(max),
    }
    .ok_or_else(|| PyValueError::new_err(format!("{s:?}: bad prefix length")))?;
    Ok((addr, len))
}

fn verdict<'py>(py: Python<'py>, v: Verdict) -> PyResult<VerdictTuple<'py>> {
    let list = PyList::empty(py);
    Ok(match v {
        Verdict::Out(pkts) => {
            for p in pkts {
                list.append(PyBytes::new(py, &p))?;
            }
            ("out", list, None)
        }
        Verdict::Back(p, d) => {
            list.append(PyBytes::new(py, &p))?;
            ("back", list, Some(d.name()))
        }
        Verdict::Drop(d) => ("drop", list, Some(d.name())),
    })
}

/// A stateless IP/ICMP translator (RFC 7915): an RFC 6052 prefix, an EAM
/// table (RFC 7757) and the settings of RFC 7915 §3.
#[pyclass(frozen, module = "kame._core", name = "Xlat")]
pub struct PyXlat {
    table: Table,
    cfg: Config,
}

#[pymethods]
impl PyXlat {
    #[new]
    #[pyo3(signature = (prefix="64:ff9b::/96", eam=None, *, forwarding=true, mtu6=1280, mtu4=1500, lowest_mtu6=1280,
                        copy_tos=true, udp0_compute=true, self4=None, self6=None, pool6791v4=None,
                        pool6791v6=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        prefix: Option<&str>,
        eam: Option<&Bound<'_, PyAny>>,
        forwarding: bool,
        #[pyo3(from_py_with = int_arg)] mtu6: usize,
        #[pyo3(from_py_with = int_arg)] mtu4: usize,
        #[pyo3(from_py_with = int_arg)] lowest_mtu6: usize,
        copy_tos: bool,
        udp0_compute: bool,
        self4: Option<Addr4>,
        self6: Option<Addr6>,
        pool6791v4: Option<Vec<Addr4>>,
        pool6791v6: Option<Vec<Addr6>>,
    ) -> PyResult<Self> {
        let pool6791v4: Vec<Ipv4Addr> = pool6791v4.unwrap_or_default().into_iter().map(|a| a.0).collect();
        let pool6791v6: Vec<Ipv6Addr> = pool6791v6.unwrap_or_default().into_iter().map(|a| a.0).collect();
        if pool6791v4.len() > POOL6791_MAX || pool6791v6.len() > POOL6791_MAX {
            return Err(PyValueError::new_err(format!("an RFC 6791 pool holds at most {POOL6791_MAX} addresses")));
        }
        let pool6 = match prefix {
            None => None,
            Some(p) => match cidr(p)? {
                (IpAddr::V6(a), l) => Some(Prefix6052::new(a, l).map_err(PyValueError::new_err)?),
                _ => return Err(PyValueError::new_err("the RFC 6052 prefix must be IPv6")),
            },
        };
        let items = match eam {
            Some(e) if !e.is_none() => bounded_items(e, xlat::EAM_MAX, "eam")?,
            _ => Vec::new(),
        };
        let mut table = Vec::with_capacity(items.len());
        for item in items {
            let (a4, a6): (String, String) = item.extract()?;
            let (IpAddr::V4(v4), l4) = cidr(&a4)? else {
                return Err(PyValueError::new_err(format!("{a4:?}: the first of an EAM pair is IPv4")));
            };
            let (IpAddr::V6(v6), l6) = cidr(&a6)? else {
                return Err(PyValueError::new_err(format!("{a6:?}: the second of an EAM pair is IPv6")));
            };
            table.push(Eam::new(v4, l4, v6, l6).map_err(PyValueError::new_err)?);
        }
        if !(1280..=mtu6).contains(&lowest_mtu6) {
            return Err(PyValueError::new_err("lowest_mtu6 must be 1280..mtu6"));
        }
        if !(1280..=65535).contains(&mtu6) || !(68..=65535).contains(&mtu4) {
            return Err(PyValueError::new_err("mtu6 must be 1280..65535 and mtu4 68..65535"));
        }
        Ok(PyXlat {
            table: Table { pool6, eam: table },
            cfg: Config {
                forwarding,
                mtu6,
                lowest_mtu6,
                mtu4,
                copy_tos,
                udp0_compute,
                self4: self4.map_or(Ipv4Addr::UNSPECIFIED, |a| a.0),
                self6: self6.map_or(Ipv6Addr::UNSPECIFIED, |a| a.0),
                pool6791v6,
                pool6791v4,
            },
        })
    }

    /// Translate an IPv4 packet to IPv6 (RFC 7915 §4).
    fn to6<'py>(&self, py: Python<'py>, packet: &Bound<'py, PyAny>) -> PyResult<VerdictTuple<'py>> {
        let v = with_bytes(packet, |p| xlat::xlat_4to6(p, &self.cfg, &self.table))?;
        verdict(py, v)
    }

    /// Translate an IPv6 packet to IPv4 (RFC 7915 §5); `ident` is the
    /// Identification for a packet without a Fragment header.
    #[pyo3(signature = (packet, ident=0))]
    fn to4<'py>(
        &self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
        #[pyo3(from_py_with = int_arg)] ident: u16,
    ) -> PyResult<VerdictTuple<'py>> {
        let v = with_bytes(packet, |p| xlat::xlat_6to4(p, &self.cfg, &self.table, ident))?;
        verdict(py, v)
    }

    /// NAT64 (RFC 6146 §3.7): IPv4 → IPv6 for a binding: `pool4` (the
    /// IPv4 face of `host6`) becomes `host6`, `port` the IPv6-side port
    /// (or ICMP identifier) of the outer destination or an error's inner
    /// source; other addresses go through the prefix.
    #[pyo3(signature = (packet, pool4, host6, port=None))]
    fn to6_nat<'py>(
        &self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
        pool4: Addr4,
        host6: Addr6,
        #[pyo3(from_py_with = opt_int_arg)] port: Option<u16>,
    ) -> PyResult<VerdictTuple<'py>> {
        let m = Nat { table: &self.table, x6: host6.0, t4: pool4.0, port };
        let v = with_bytes(packet, |p| xlat::xlat_4to6(p, &self.cfg, &m))?;
        verdict(py, v)
    }

    /// NAT64: IPv6 → IPv4 for a binding: `host6` becomes `pool4`, `port`
    /// its IPv4-side port (or ICMP identifier).
    #[pyo3(signature = (packet, host6, pool4, port=None, ident=0))]
    fn to4_nat<'py>(
        &self,
        py: Python<'py>,
        packet: &Bound<'py, PyAny>,
        host6: Addr6,
        pool4: Addr4,
        #[pyo3(from_py_with = opt_int_arg)] port: Option<u16>,
        #[pyo3(from_py_with = int_arg)] ident: u16,
    ) -> PyResult<VerdictTuple<'py>> {
        let m = Nat { table: &self.table, x6: host6.0, t4: pool4.0, port };
        let v = with_bytes(packet, |p| xlat::xlat_6to4(p, &self.cfg, &m, ident))?;
        verdict(py, v)
    }

    /// Translate a batch; returns how many came out translated (for the
    /// benchmark: one boundary crossing for many packets).
    #[pyo3(signature = (packets, to4=true))]
    fn batch(&self, py: Python<'_>, packets: &Bound<'_, PyAny>, to4: bool) -> PyResult<usize> {
        let packets: Vec<Vec<u8>> =
            bounded_items(packets, 1 << 22, "packets")?.iter().map(buf_vec).collect::<PyResult<_>>()?;
        Ok(py.detach(|| {
            packets
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    let v = if to4 {
                        xlat::xlat_6to4(p, &self.cfg, &self.table, *i as u16)
                    } else {
                        xlat::xlat_4to6(p, &self.cfg, &self.table)
                    };
                    matches!(v, Verdict::Out(_))
                })
                .count()
        }))
    }

    /// The IPv6 address an IPv4 address maps to (EAM, then RFC 6052), or
    /// None with no mapping.
    fn map4(&self, addr: Addr4) -> Option<Addr6> {
        self.table.to6(addr.0, xlat::Role::Dst).ok().map(Addr6)
    }

    /// The IPv4 address an IPv6 address maps to, or None.
    fn map6(&self, addr: Addr6) -> Option<Addr4> {
        self.table.to4(addr.0, xlat::Role::Dst).ok().map(Addr4)
    }

    fn __repr__(&self) -> String {
        let p = self.table.pool6.map(|p| format!("{}/{}", p.prefix, p.len)).unwrap_or_else(|| "None".into());
        format!("Xlat(prefix={p}, eam={}, forwarding={})", self.table.eam.len(), self.cfg.forwarding)
    }
}

/// The flow an IPv4 or IPv6 packet belongs to, as NAT64 keys sessions
/// (RFC 6146 §3.4): `(proto, src, dst, sport, dport, error, tcp_flags)`,
/// proto 1 for ICMP and ICMPv6, ports the identifier for ICMP queries; an
/// error gives its inner packet's flow turned round. A packet with no flow
/// gives `(None, reason)`, the `xlats_*` counter; a flow `(flow, None)`.
#[pyfunction]
fn xlat_flow(packet: &Bound<'_, PyAny>) -> PyResult<(Option<FlowTuple>, Option<&'static str>)> {
    let r = with_bytes(packet, |p| match p.first().map(|b| b >> 4) {
        Some(4) => xlat::flow4(p)
            .map(|f| (f.proto, IpAddr::V4(f.src), IpAddr::V4(f.dst), f.sport, f.dport, f.error, f.tcp_flags))
            .map_err(|d| d.name()),
        Some(6) => xlat::flow6(p)
            .map(|f| (f.proto, IpAddr::V6(f.src), IpAddr::V6(f.dst), f.sport, f.dport, f.error, f.tcp_flags))
            .map_err(|d| d.name()),
        Some(_) => Err(xlat::Drop::BadHeader.name()),
        None => Err(xlat::Drop::Short.name()),
    })?;
    Ok(match r {
        Ok(f) => (Some(f), None),
        Err(d) => (None, Some(d)),
    })
}

/// Every `xlats_*` counter name.
#[pyfunction]
fn xlat_drop_names() -> Vec<&'static str> {
    xlat::Drop::ALL.iter().map(|d| d.name()).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyXlat>()?;
    m.add_function(wrap_pyfunction!(xlat_flow, m)?)?;
    m.add_function(wrap_pyfunction!(xlat_drop_names, m)?)?;
    Ok(())
}
