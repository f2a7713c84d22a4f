//! `kame.parse`, `kame.parse_many` and the `Packet` they return.
//!
//! A `Packet` keeps the caller's `bytes` (no copy when a `bytes` was given)
//! and the compact [`Summary`] of the dissection done in Rust. The fields
//! that every consumer reads (the flow key: addresses as raw octets, upper
//! protocol, ports, hop limit) are Python objects made at parse time and
//! read as struct members (no call into Rust); the addresses come from a
//! small intern table, so a flow's packets share one `bytes` per address.
//! Every other field is computed from the summary on access; the header
//! chain, the header objects and the upper-layer checksum verdict are
//! found again from the (immutable) bytes when first asked for.
//!
//! `parse_many` takes a reference to every input `bytes` (copying only
//! other buffers), releases the GIL and dissects them all into an array of
//! 8-octet rows; its `PacketBatch` builds a `Packet` only for the index
//! asked for.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::error::Error;
use crate::wire::dissect::{self, LinkHeader, LinkType, Net, Settings, Summary, Upper};
use crate::wire::exthdr::Chain;
use crate::wire::{icmpv6, nd, proto};

/// KAME's `nd6_maxndopt`: the ND options examined per message.
const ND_MAXOPT: usize = 10;

use super::util::{int_arg, ipv4_to_py, ipv6_to_py, owned_bytes};

/// A `link=` argument: a name or a pcap linktype (see `link::link_type`).
#[derive(Debug, Clone, Copy)]
struct LinkArg(LinkType);

impl FromPyObject<'_, '_> for LinkArg {
    type Error = PyErr;
    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        super::link::link_type(&obj).map(LinkArg)
    }
}

// ---------------------------------------------------------------------------
// The intern table: addresses and port numbers
// ---------------------------------------------------------------------------

/// Slots in the address table (direct-mapped, a power of two).
const ADDR_SLOTS: usize = 1024;

/// An address: 16 octets, or 4 (IPv4) with the rest zero.
type AddrKey = (u128, bool);

struct AddrSlot {
    key: AddrKey,
    raw: Py<PyBytes>,
    /// The `ipaddress` object, made on the first `src` / `dst` read.
    obj: Option<Py<PyAny>>,
}

/// Recently seen addresses (their raw `bytes` and `ipaddress` objects),
/// shared by the packets that carry them (all immutable objects): a
/// packet's `src_bytes`, `src`, an ND target... read twice, or from
/// another packet of the flow, is the same object. Only Rust code runs
/// under the lock (never Python code, which could switch threads while it
/// is held).
struct Intern {
    addrs: Vec<Option<AddrSlot>>,
}

static INTERN: Mutex<Intern> = Mutex::new(Intern { addrs: Vec::new() });

fn addr_key(a: &[u8]) -> AddrKey {
    match (<[u8; 16]>::try_from(a), <[u8; 4]>::try_from(a)) {
        (Ok(a6), _) => (u128::from_ne_bytes(a6), false),
        (_, Ok(a4)) => (u128::from(u32::from_ne_bytes(a4)), true),
        _ => (0, false),
    }
}

fn addr_slot(k: &AddrKey) -> usize {
    let h = ((k.0 as u64) ^ ((k.0 >> 64) as u64) ^ u64::from(k.1)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 54) as usize & (ADDR_SLOTS - 1)
}

fn intern() -> std::sync::MutexGuard<'static, Intern> {
    let mut t = INTERN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if t.addrs.is_empty() {
        t.addrs.resize_with(ADDR_SLOTS, || None);
    }
    t
}

impl Intern {
    /// The raw `bytes` of `a`, shared with earlier packets that carried it.
    /// An entry it evicts goes to `evicted`, to be dropped once the lock is
    /// released (dropping an `ipaddress` object may run a weakref callback).
    fn addr_bytes(&mut self, py: Python<'_>, a: &[u8], evicted: &mut Option<AddrSlot>) -> Py<PyBytes> {
        let k = addr_key(a);
        let Some(slot) = self.addrs.get_mut(addr_slot(&k)) else {
            return PyBytes::new(py, a).unbind();
        };
        match slot {
            Some(s) if s.key == k => s.raw.clone_ref(py),
            _ => {
                let raw = PyBytes::new(py, a).unbind();
                *evicted = slot.replace(AddrSlot { key: k, raw: raw.clone_ref(py), obj: None });
                raw
            }
        }
    }

}

/// The raw `bytes` of address `a`, shared through the intern table.
fn addr_bytes(py: Python<'_>, a: &[u8]) -> Py<PyBytes> {
    let mut evicted = None;
    let raw = intern().addr_bytes(py, a, &mut evicted);
    drop(evicted);
    raw
}

/// The `ipaddress.IPv6Address` (or `IPv4Address`) of `a`, made once per
/// address while it stays in the table.
pub(crate) fn addr_object(py: Python<'_>, a: &[u8]) -> PyResult<Py<PyAny>> {
    let k = addr_key(a);
    let i = addr_slot(&k);
    if let Some(Some(s)) = intern().addrs.get(i) {
        if let (true, Some(o)) = (s.key == k, &s.obj) {
            return Ok(o.clone_ref(py));
        }
    }
    // Built without the lock: the constructor is Python code.
    let o = match (<[u8; 16]>::try_from(a), <[u8; 4]>::try_from(a)) {
        (Ok(a6), _) => ipv6_to_py(py, &a6)?.unbind(),
        (_, Ok(a4)) => ipv4_to_py(py, &a4)?.unbind(),
        _ => return Err(PyValueError::new_err("address is neither 16 nor 4 octets")),
    };
    let mut t = intern();
    let evicted = match t.addrs.get_mut(i) {
        Some(Some(s)) if s.key == k => s.obj.replace(o.clone_ref(py)),
        Some(slot) => slot
            .replace(AddrSlot { key: k, raw: PyBytes::new(py, a).unbind(), obj: Some(o.clone_ref(py)) })
            .and_then(|old| old.obj),
        None => None,
    };
    drop(t);
    drop(evicted);
    Ok(o)
}

// ---------------------------------------------------------------------------
// Packet
// ---------------------------------------------------------------------------

/// A dissected packet (or Ethernet frame). See `kame.parse`.
///
/// Made per packet, so it holds one Python object (the bytes) and a few
/// words of facts: no field is made into a Python object before it is
/// read. (No `freelist`: PyO3's takes a mutex per allocation and per free,
/// dearer than the interpreter's own small-object allocator.)
#[pyclass(module = "kame._core", name = "Packet", frozen)]
pub struct Packet {
    data: Py<PyBytes>,
    f: Facts,
    link: LinkType,
    settings: Settings,
    /// The checksum verdict once read: 0 not yet, 1 None, 2 good, 3 bad.
    cksum: AtomicU8,
}

/// What a `Packet` keeps of its [`Summary`]: the fields read often and
/// cheap to keep (a few words, so creating a packet copies little). The
/// rarer ones (Jumbo, Router Alert, Fragment, trailing octets, Ethernet
/// header, the chain) are found again by dissecting the immutable bytes.
#[derive(Debug, Clone, Copy)]
struct Facts {
    /// The source and destination addresses: 16 octets, or 4 (IPv4) then
    /// zeros.
    src: [u8; 16],
    dst: [u8; 16],
    net_offset: u64,
    packet_len: u64,
    upper_offset: u64,
    payload_offset: u64,
    upper: Upper,
    flow_label: u32,
    version: u8,
    /// Hop Limit (IPv4: TTL).
    hop_limit: u8,
    /// IPv6: 40; IPv4: the IHL in octets.
    header_len: u8,
    traffic_class: u8,
    next_header: u8,
    upper_proto: u8,
    /// (byte offset, more fragments, identification), as `fragment` gives it.
    fragment: Option<(u64, bool, u32)>,
}

/// An IPv4 address in 16 octets, the rest zero (as `Facts` keeps it).
fn widen(a: &[u8; 4]) -> [u8; 16] {
    let mut o = [0u8; 16];
    for (x, y) in o.iter_mut().zip(a) {
        *x = *y;
    }
    o
}

impl Facts {
    /// The source (or destination) address: its 16 or 4 octets.
    fn addr(&self, src: bool) -> &[u8] {
        let a = if src { &self.src } else { &self.dst };
        if self.version == 4 { a.get(..4).unwrap_or(a) } else { a }
    }

    fn of(s: &Summary) -> Facts {
        let (version, header_len, traffic_class, next_header, flow_label) = match s.net {
            Net::V6 { traffic_class, next_header, flow_label, .. } => (6, 40, traffic_class, next_header, flow_label),
            Net::V4 { tos, protocol, header_len, .. } => (4, header_len, tos, protocol, 0),
        };
        let (hop_limit, src, dst) = match &s.net {
            Net::V6 { hop_limit, src, dst, .. } => (*hop_limit, *src, *dst),
            Net::V4 { ttl, src, dst, .. } => (*ttl, widen(src), widen(dst)),
        };
        let fragment = match s.net {
            Net::V6 { fragment, .. } => fragment,
            Net::V4 { flags, frag_offset, ident, .. } => (flags & 1 != 0 || frag_offset != 0)
                .then_some((u64::from(frag_offset) * 8, flags & 1 != 0, u32::from(ident))),
        };
        Facts {
            src,
            dst,
            net_offset: s.net_offset,
            packet_len: s.packet_len,
            upper_offset: s.upper_offset,
            payload_offset: s.payload_offset,
            upper: s.upper,
            flow_label,
            version,
            hop_limit,
            header_len,
            traffic_class,
            next_header,
            upper_proto: s.upper_proto,
            fragment,
        }
    }
}

impl Packet {
    /// The whole summary, dissected again from the bytes (they were
    /// accepted when the packet was made, and are immutable).
    fn s(&self, py: Python<'_>) -> PyResult<Summary> {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let (chain, s) = &mut *scratch;
            dissect::dissect_to(self.data.bind(py).as_bytes(), self.link, self.settings, chain, s)?;
            Ok(*s)
        })
    }

    fn slice<'a>(&self, py: Python<'a>, from: u64, to: u64) -> Bound<'a, PyBytes> {
        let b = self.data.bind(py).as_bytes();
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(b.len());
        let to = usize::try_from(to).unwrap_or(usize::MAX).min(b.len()).max(from);
        PyBytes::new(py, b.get(from..to).unwrap_or(&[]))
    }

    fn end(&self) -> u64 {
        self.f.net_offset + self.f.packet_len
    }

    /// The header chain, walked again from the bytes (it was valid when
    /// the packet was parsed, and the bytes are immutable).
    fn walk_chain(&self, py: Python<'_>) -> PyResult<Chain> {
        let mut c = Chain::default();
        dissect::dissect_into(self.data.bind(py).as_bytes(), self.link, self.settings, &mut c)?;
        Ok(c)
    }

    /// The bytes of the ND message when this packet holds a whole one
    /// (types 133-137, not the first of several fragments): its ICMPv6
    /// header to the packet's end.
    fn nd_message<'a>(&self, b: &'a [u8]) -> Option<&'a [u8]> {
        let Upper::Icmpv6 { icmp_type: 133..=137, .. } = self.f.upper else {
            return None;
        };
        if self.f.version != 6 || self.fragmented_more() {
            return None;
        }
        let from = usize::try_from(self.f.upper_offset).ok()?;
        let to = usize::try_from(self.end()).ok()?;
        b.get(from..to)
    }

    /// The ND message's fixed-part checks and KAME's option walk (cap 10),
    /// as `upper` makes them, handing each option examined to `each`
    /// without collecting them; the message, or None if this packet holds
    /// no whole ND message. The checksum is not verified (see `cksum_ok`).
    fn nd_scan<'a>(&self, b: &'a [u8], each: impl FnMut(nd::Repr<'a>, &'a [u8])) -> PyResult<Option<&'a [u8]>> {
        let Some(msg) = self.nd_message(b) else {
            return Ok(None);
        };
        let Some(at) = icmpv6::nd_checked(msg)? else {
            return Ok(None);
        };
        nd::Options::scan(msg.get(at..).unwrap_or(&[]), ND_MAXOPT, each).map_err(|e| e.at(at as u64))?;
        Ok(Some(msg))
    }

    /// The first option `pick` takes (first wins, as the message objects'
    /// accessors take it).
    fn nd_first<'a, T>(&self, b: &'a [u8], pick: impl Fn(&nd::Repr<'a>) -> Option<T>) -> PyResult<Option<T>> {
        let mut found = None;
        self.nd_scan(b, |r, _| {
            if found.is_none() {
                found = pick(&r);
            }
        })?;
        Ok(found)
    }

    /// A first (or middle) fragment: the message is not all here.
    fn fragmented_more(&self) -> bool {
        self.f.fragment.is_some_and(|(_, more, _)| more)
    }


}

/// The link header's (source, destination, EtherType).
type LinkTuple<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, u16);

fn core_attr<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("kame._core")?.getattr(name)
}

#[pymethods]
impl Packet {
    /// The source address as 16 (or 4) raw octets.
    #[getter]
    fn src_bytes(&self, py: Python<'_>) -> Py<PyBytes> {
        addr_bytes(py, self.f.addr(true))
    }
    /// The destination address as 16 (or 4) raw octets.
    #[getter]
    fn dst_bytes(&self, py: Python<'_>) -> Py<PyBytes> {
        addr_bytes(py, self.f.addr(false))
    }
    /// Hop Limit (IPv4: TTL).
    #[getter]
    fn hop_limit(&self) -> u8 {
        self.f.hop_limit
    }
    /// The protocol ending the header chain: 6, 17, 58, ... or 50 (ESP),
    /// 108 (IPComp), 59 (none), 44 for a non-first fragment.
    #[getter]
    fn upper_proto(&self) -> u8 {
        self.f.upper_proto
    }
    /// UDP/TCP source port, or None.
    #[getter]
    fn sport(&self) -> Option<u16> {
        match self.f.upper {
            Upper::Udp { sport, .. } | Upper::Tcp { sport, .. } => Some(sport),
            _ => None,
        }
    }
    /// UDP/TCP destination port, or None.
    #[getter]
    fn dport(&self) -> Option<u16> {
        match self.f.upper {
            Upper::Udp { dport, .. } | Upper::Tcp { dport, .. } => Some(dport),
            _ => None,
        }
    }
    /// 6 or 4.
    #[getter]
    fn version(&self) -> u8 {
        self.f.version
    }
    /// IPv6 Traffic Class, or the IPv4 TOS octet.
    #[getter]
    fn traffic_class(&self) -> u8 {
        self.f.traffic_class
    }
    #[getter]
    fn flow_label(&self) -> u32 {
        self.f.flow_label
    }
    /// The real payload length (the Jumbo Payload Length for a jumbogram),
    /// as an int that may exceed 65535.
    #[getter]
    fn payload_len(&self) -> u64 {
        self.f.packet_len.saturating_sub(u64::from(self.f.header_len))
    }
    /// The Next Header of the IPv6 header (IPv4: the protocol).
    #[getter]
    fn next_header(&self) -> u8 {
        self.f.next_header
    }
    /// The source address, an `ipaddress.IPv6Address` (or `IPv4Address`).
    #[getter]
    fn src(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        addr_object(py, self.f.addr(true))
    }
    /// The destination address, an `ipaddress.IPv6Address` (or `IPv4Address`).
    #[getter]
    fn dst(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        addr_object(py, self.f.addr(false))
    }
    /// The Jumbo Payload Length, or None if this is not a jumbogram.
    #[getter]
    fn jumbo(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        Ok(match self.s(py)?.net {
            Net::V6 { jumbo, .. } => jumbo,
            Net::V4 { .. } => None,
        })
    }
    /// The Router Alert value (RFC 2711), or None.
    #[getter]
    fn router_alert(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        Ok(match self.s(py)?.net {
            Net::V6 { router_alert, .. } => router_alert,
            Net::V4 { .. } => None,
        })
    }
    /// (byte offset, more fragments, identification) of the Fragment
    /// header (IPv4: of the header fields), or None if not a fragment.
    #[getter]
    fn fragment(&self) -> Option<(u64, bool, u32)> {
        self.f.fragment
    }
    /// The fragment's byte offset (`fragment[0]`), or None if not a
    /// fragment (one field, with no tuple made).
    #[getter]
    fn frag_offset(&self) -> Option<u64> {
        self.f.fragment.map(|f| f.0)
    }
    /// The fragment's identification (`fragment[2]`), or None.
    #[getter]
    fn frag_ident(&self) -> Option<u32> {
        self.f.fragment.map(|f| f.2)
    }
    /// Octets of the frame past the end of the packet (to be trimmed).
    #[getter]
    fn trailing(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.s(py)?.trailing)
    }
    /// The extension headers as (protocol, offset, length) tuples.
    #[getter]
    fn chain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<(u8, u64, u64)> = self.walk_chain(py)?.headers.iter().map(|h| (h.proto, h.offset, h.len)).collect();
        PyList::new(py, items)
    }
    /// The extension headers as objects (`HopByHop`, `DestOpts`,
    /// `RoutingHeader`, `FragmentHeader`; AH as raw bytes).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for h in &self.walk_chain(py)?.headers {
            let raw = self.slice(py, h.offset, h.offset + h.len);
            let cls = match h.proto {
                proto::HOPOPTS => Some("HopByHop"),
                proto::DSTOPTS => Some("DestOpts"),
                proto::ROUTING => Some("RoutingHeader"),
                proto::FRAGMENT => Some("FragmentHeader"),
                _ => None,
            };
            match cls {
                Some(c) => out.append(core_attr(py, c)?.call_method1("from_bytes", (raw,))?)?,
                None => out.append(raw)?,
            }
        }
        Ok(out)
    }
    #[getter]
    fn upper_offset(&self) -> u64 {
        self.f.upper_offset
    }
    #[getter]
    fn payload_offset(&self) -> u64 {
        self.f.payload_offset
    }
    /// ICMPv6 (or ICMP) type, or None.
    #[getter]
    fn icmp_type(&self) -> Option<u8> {
        match self.f.upper {
            Upper::Icmpv6 { icmp_type, .. } | Upper::Icmp { icmp_type, .. } => Some(icmp_type),
            _ => None,
        }
    }
    #[getter]
    fn icmp_code(&self) -> Option<u8> {
        match self.f.upper {
            Upper::Icmpv6 { code, .. } | Upper::Icmp { code, .. } => Some(code),
            _ => None,
        }
    }
    /// TCP (seq, ack, flags, window), or None.
    #[getter]
    fn tcp(&self) -> Option<(u32, u32, u16, u16)> {
        match self.f.upper {
            Upper::Tcp { seq, ack, flags, window, .. } => Some((seq, ack, flags, window)),
            _ => None,
        }
    }
    /// The TCP sequence number, or None (one field of `tcp`, with no tuple
    /// made).
    #[getter]
    fn seq(&self) -> Option<u32> {
        match self.f.upper {
            Upper::Tcp { seq, .. } => Some(seq),
            _ => None,
        }
    }
    /// The TCP acknowledgment number, or None.
    #[getter]
    fn ack(&self) -> Option<u32> {
        match self.f.upper {
            Upper::Tcp { ack, .. } => Some(ack),
            _ => None,
        }
    }
    /// The TCP flags (the 12 bits after the data offset: NS/AE to FIN), or
    /// None.
    #[getter]
    fn tcp_flags(&self) -> Option<u16> {
        match self.f.upper {
            Upper::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }
    /// The TCP window as sent (not scaled), or None.
    #[getter]
    fn window(&self) -> Option<u16> {
        match self.f.upper {
            Upper::Tcp { window, .. } => Some(window),
            _ => None,
        }
    }
    /// True/False when the upper-layer checksum was verified; None when it
    /// could not be (not asked, a fragment, no checksummed upper layer).
    /// Verified on the first read (the bytes are immutable), then kept.
    #[getter]
    fn cksum_ok(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        const UNKNOWN: u8 = 0;
        let code = |v: Option<bool>| match v {
            None => 1,
            Some(true) => 2,
            Some(false) => 3,
        };
        let mut c = self.cksum.load(Ordering::Relaxed);
        if c == UNKNOWN {
            c = if self.settings.verify_cksum { code(self.s(py)?.cksum_ok) } else { code(None) };
            self.cksum.store(c, Ordering::Relaxed);
        }
        Ok(match c {
            2 => Some(true),
            3 => Some(false),
            _ => None,
        })
    }
    /// The upper-layer payload (after the UDP/TCP/ICMPv6 header).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.slice(py, self.f.payload_offset, self.end())
    }
    /// The upper-layer header and everything after it, to the packet's end.
    #[getter]
    fn upper_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.slice(py, self.f.upper_offset, self.end())
    }
    /// When the UDP/TCP checksum did not verify: (stored, expected,
    /// offload), offload being True when the stored value is what checksum
    /// offload leaves in a capture on the sending host (the pseudo-header
    /// sum; or zero in a packet a cooked header marks as sent by the
    /// capturing host). None otherwise.
    #[getter]
    fn cksum_bad(&self, py: Python<'_>) -> PyResult<Option<(u16, u16, bool)>> {
        if !self.settings.verify_cksum || self.cksum_ok(py)? != Some(false) {
            return Ok(None);
        }
        Ok(self.s(py)?.cksum_bad.map(|b| (b.stored, b.expected, b.offload)))
    }
    /// The upper-layer message as an object: the ICMPv6 message (with ND
    /// options) or the `UdpHeader` / `TcpHeader`; None otherwise. The
    /// ICMPv6 checksum is verified, except in a first fragment (offset 0,
    /// M set), which holds only part of the message it covers (RFC 8200
    /// §4.5); an atomic fragment holds all of it.
    #[getter]
    fn upper(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let raw = self.upper_bytes(py);
        let o = match self.f.upper {
            Upper::Icmpv6 { .. } if self.f.fragment.is_some_and(|(_, more, _)| more) => {
                core_attr(py, "parse_icmpv6")?.call1((raw,))?
            }
            Upper::Icmpv6 { .. } => {
                // the pseudo-header from the parsed addresses, straight to
                // the parser (no ipaddress objects made and read back)
                let a6 = |a: &[u8]| <[u8; 16]>::try_from(a).ok().map(|a| super::upper::Addr6(a.into()));
                let (src, dst) = (a6(self.f.addr(true)), a6(self.f.addr(false)));
                if src.is_none() || dst.is_none() {
                    return Err(PyValueError::new_err("ICMPv6 outside an IPv6 packet"));
                }
                return Ok(Some(super::upper::parse_icmpv6_impl(py, raw.as_bytes(), src, dst, ND_MAXOPT)?));
            }
            Upper::Udp { .. } => core_attr(py, "UdpHeader")?.call_method1("from_bytes", (raw,))?,
            Upper::Tcp { .. } => core_attr(py, "TcpHeader")?.call_method1("from_bytes", (raw,))?,
            _ => return Ok(None),
        };
        Ok(Some(o.unbind()))
    }
    /// The Neighbor Discovery target (NS, NA, Redirect) as an
    /// `ipaddress.IPv6Address`, read from the bytes without building the
    /// message object; None for any other packet. The message is checked
    /// and its options walked as `upper` does (KAME's cap of 10), so a
    /// message `upper` refuses raises the same `ParseError` here. The
    /// checksum is not verified (see `cksum_ok`).
    #[getter]
    fn nd_target(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let b = self.data.bind(py).as_bytes();
        match self.nd_scan(b, |_, _| ())? {
            Some(msg) if matches!(msg.first(), Some(135..=137)) => match msg.get(8..24) {
                Some(t) => Ok(Some(addr_object(py, t)?)),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }
    /// The first Source Link-Layer Address option's data (first wins, as
    /// `upper.source_lladdr`), or None; see `nd_target`.
    #[getter]
    fn nd_source_lladdr<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let b = self.data.bind(py).as_bytes();
        let d = self.nd_first(b, |r| if let nd::Repr::SourceLinkLayerAddr(d) = r { Some(*d) } else { None })?;
        Ok(d.map(|d| PyBytes::new(py, d)))
    }
    /// The first Target Link-Layer Address option's data, or None.
    #[getter]
    fn nd_target_lladdr<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let b = self.data.bind(py).as_bytes();
        let d = self.nd_first(b, |r| if let nd::Repr::TargetLinkLayerAddr(d) = r { Some(*d) } else { None })?;
        Ok(d.map(|d| PyBytes::new(py, d)))
    }
    /// The first MTU option's value, or None.
    #[getter]
    fn nd_mtu(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        let b = self.data.bind(py).as_bytes();
        self.nd_first(b, |r| if let nd::Repr::Mtu(m) = r { Some(*m) } else { None })
    }
    /// The first Prefix Information option's prefix as an
    /// `ipaddress.IPv6Address` (`nd_prefixes[0].prefix` with no option
    /// object made), or None; see `nd_target`.
    #[getter]
    fn nd_prefix(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let b = self.data.bind(py).as_bytes();
        let p = self.nd_first(b, |r| if let nd::Repr::PrefixInformation(pi) = r { Some(pi.prefix.octets()) } else { None })?;
        p.map(|p| addr_object(py, &p)).transpose()
    }
    /// The first Prefix Information option's prefix length, or None.
    #[getter]
    fn nd_prefix_len(&self, py: Python<'_>) -> PyResult<Option<u8>> {
        let b = self.data.bind(py).as_bytes();
        self.nd_first(b, |r| if let nd::Repr::PrefixInformation(pi) = r { Some(pi.prefix_len) } else { None })
    }
    /// Every Prefix Information option (`NdOptPrefixInfo`), in order; an
    /// empty list for any other packet.
    #[getter]
    fn nd_prefixes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let b = self.data.bind(py).as_bytes();
        let mut found = Vec::new();
        self.nd_scan(b, |r, _| {
            if matches!(r, nd::Repr::PrefixInformation(_)) {
                found.push(r);
            }
        })?;
        let out = PyList::empty(py);
        for r in &found {
            out.append(super::upper::nd_to_py(py, r)?)?;
        }
        Ok(out)
    }
    /// The ND options examined (at most KAME's 10) as (type, data) pairs in
    /// wire order, the data after the type and length octets; an empty
    /// list for any other packet.
    #[getter]
    fn nd_options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let b = self.data.bind(py).as_bytes();
        // the spans as the option walk cut them (one walk, no second one)
        let mut spans: Vec<&[u8]> = Vec::new();
        self.nd_scan(b, |_, opt| spans.push(opt))?;
        let out = PyList::empty(py);
        for opt in spans {
            let (Some(&t), Some(d)) = (opt.first(), opt.get(2..)) else { continue };
            out.append((t, PyBytes::new(py, d)))?;
        }
        Ok(out)
    }
    /// (src, dst, ethertype) of the link header: Ethernet's; a Linux
    /// cooked header's link-layer source address, b"" and its protocol
    /// type. None for a raw packet or a loopback header (see
    /// `kame.parse_link` for every field).
    #[getter]
    fn link<'py>(&self, py: Python<'py>) -> PyResult<Option<LinkTuple<'py>>> {
        if self.link == LinkType::Raw {
            return Ok(None);
        }
        Ok(match self.s(py)?.link {
            LinkHeader::Ethernet(e) => Some((PyBytes::new(py, &e.src), PyBytes::new(py, &e.dst), e.ethertype)),
            LinkHeader::Sll(h) => Some((PyBytes::new(py, h.address()), PyBytes::new(py, b""), h.protocol)),
            LinkHeader::Null(_) | LinkHeader::None => None,
        })
    }
    /// The whole packet as on the wire, link header included.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = &self.f;
        Ok(format!(
            "<Packet v{} {} > {} proto {} len {}>",
            self.version(),
            self.src(py)?.bind(py).str()?,
            self.dst(py)?.bind(py).str()?,
            s.upper_proto,
            s.packet_len
        ))
    }
}

thread_local! {
    /// The chain and summary `kame.parse` dissects into, reused (one per
    /// thread, so nothing is zeroed or copied per packet).
    static SCRATCH: RefCell<(Chain, Summary)> = const { RefCell::new((Chain::new(), Summary::EMPTY)) };
}

fn packet_from<'py>(py: Python<'py>, data: Py<PyBytes>, link: LinkType, settings: Settings) -> PyResult<Bound<'py, Packet>> {
    // The borrow ends before any Python object is made or dropped (a
    // weakref callback could call `parse` again on this thread).
    // The checksum is left to the first read of `cksum_ok`.
    let lazy = Settings { verify_cksum: false, ..settings };
    let f = SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (chain, s) = &mut *scratch;
        dissect::dissect_to(data.bind(py).as_bytes(), link, lazy, chain, s).map(|()| Facts::of(s))
    })?;
    Bound::new(py, Packet { data, f, link, settings, cksum: AtomicU8::new(0) })
}

/// Dissect one packet: `ip6_input`'s checks (version, lengths, jumbograms,
/// the header chain under `hdrnestlimit`), then the upper-layer header; its
/// checksum is verified when `cksum_ok` is first read. Raises a
/// `kame.ParseError` subclass for what a stack would drop.
#[pyfunction]
#[pyo3(signature = (data, hdrnestlimit=50, verify_cksum=true, link=LinkArg(LinkType::Raw)))]
fn parse<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
    verify_cksum: bool,
    link: LinkArg,
) -> PyResult<Bound<'py, Packet>> {
    let settings = Settings { hdrnestlimit, verify_cksum };
    packet_from(py, owned_bytes(data)?, link.0, settings)
}

/// One packet of a batch: what `PacketBatch` answers without building a
/// `Packet` (8 octets, so that millions fit).
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// `Summary::upper_proto`, 255 when refused.
    upper_proto: u8,
    refused: bool,
    /// 0: not verified, 1: good, 2: bad.
    cksum: u8,
}

impl Row {
    const REFUSED: Row = Row { upper_proto: 255, refused: true, cksum: 0 };

    fn of(s: &Summary) -> Row {
        let cksum = match s.cksum_ok {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        };
        Row { upper_proto: s.upper_proto, refused: false, cksum }
    }
}

/// The result of `parse_many`: every packet dissected, objects built on
/// demand.
#[pyclass(module = "kame._core", name = "PacketBatch", frozen)]
pub struct PacketBatch {
    items: Items,
    rows: Vec<Row>,
    /// (index, error) of every refused packet, in order.
    errors: Vec<(usize, Error)>,
    link: LinkType,
    settings: Settings,
}

/// The iterator of a `PacketBatch`.
#[pyclass(module = "kame._core", name = "PacketBatchIter")]
pub struct PacketBatchIter {
    batch: Py<PacketBatch>,
    next: usize,
}

#[pymethods]
impl PacketBatchIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, Packet>>> {
        let b = self.batch.get();
        let Some(item) = b.items.get(py, self.next) else {
            return Ok(None);
        };
        self.next += 1;
        packet_from(py, item, b.link, b.settings).map(Some)
    }
}

/// Where a batch's packets are.
enum Items {
    /// One `bytes` per packet (the caller's, or copies of other buffers).
    Each(Vec<Py<PyBytes>>),
    /// Spans `[start, end)` of one `bytes` holding them all.
    Spans(Py<PyBytes>, Vec<(usize, usize)>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::Each(v) => v.len(),
            Items::Spans(_, v) => v.len(),
        }
    }

    /// Packet `j` as its own `bytes` (a copy out of a shared buffer).
    fn get(&self, py: Python<'_>, j: usize) -> Option<Py<PyBytes>> {
        match self {
            Items::Each(v) => v.get(j).map(|b| b.clone_ref(py)),
            Items::Spans(buf, v) => {
                let &(a, b) = v.get(j)?;
                Some(PyBytes::new(py, buf.as_bytes(py).get(a..b)?).unbind())
            }
        }
    }
}

#[pymethods]
impl PacketBatch {
    fn __len__(&self) -> usize {
        self.rows.len()
    }
    /// The packets in order, as `batch[i]` gives them (a refused one raises
    /// its `ParseError`).
    fn __iter__(slf: Py<Self>) -> PacketBatchIter {
        PacketBatchIter { batch: slf, next: 0 }
    }
    /// The `Packet` at `i`; raises the packet's `ParseError` if it was
    /// refused.
    fn __getitem__<'py>(&self, py: Python<'py>, i: isize) -> PyResult<Bound<'py, Packet>> {
        let n = self.items.len() as isize;
        let j = if i < 0 { i + n } else { i };
        let item = usize::try_from(j).ok().and_then(|j| self.items.get(py, j));
        let Some(item) = item else {
            return Err(PyIndexError::new_err("PacketBatch index out of range"));
        };
        packet_from(py, item, self.link, self.settings)
    }
    /// How many packets were accepted.
    #[getter]
    fn ok_count(&self) -> usize {
        self.rows.len() - self.errors.len()
    }
    /// The upper-layer protocol of each packet as bytes (255 where refused).
    fn upper_protos<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let v: Vec<u8> = self.rows.iter().map(|r| r.upper_proto).collect();
        PyBytes::new(py, &v)
    }
    /// The checksum verdict of each packet as bytes: 1 good, 2 bad, 0 not
    /// verified (not asked, a fragment, no checksummed upper layer, or
    /// refused).
    fn cksum_verdicts<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let v: Vec<u8> = self.rows.iter().map(|r| if r.refused { 0 } else { r.cksum }).collect();
        PyBytes::new(py, &v)
    }
    /// (index, exception) for every refused packet.
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (i, e) in &self.errors {
            let exc: PyErr = (*e).into();
            out.append(PyTuple::new(py, [i.into_pyobject(py)?.into_any(), exc.into_value(py).into_bound(py).into_any()])?)?;
        }
        Ok(out)
    }
}

/// Dissect many packets at once: a reference to every `bytes` is taken
/// (other buffers are copied), then the GIL is released while Rust
/// dissects them all. With `offsets`, `packets` is one buffer holding them
/// all back to back and `offsets` the n + 1 boundaries (packet i is
/// `packets[offsets[i]:offsets[i + 1]]`, as a pcap reader or a ring buffer
/// leaves them). Refusals do not raise; see `PacketBatch.errors()`.
#[pyfunction]
#[pyo3(signature = (packets, hdrnestlimit=50, verify_cksum=true, link=LinkArg(LinkType::Raw), offsets=None))]
fn parse_many(
    py: Python<'_>,
    packets: &Bound<'_, PyAny>,
    #[pyo3(from_py_with = int_arg)] hdrnestlimit: u32,
    verify_cksum: bool,
    link: LinkArg,
    offsets: Option<super::util::List<usize, { 1 << 24 }>>,
) -> PyResult<PacketBatch> {
    let link = link.0;
    let settings = Settings { hdrnestlimit, verify_cksum };
    let items = match offsets {
        Some(offsets) => {
            let buf = owned_bytes(packets)?;
            let n = buf.as_bytes(py).len();
            let spans: Vec<(usize, usize)> = offsets.windows(2).filter_map(|w| w.first().zip(w.get(1))).map(|(&a, &b)| (a, b)).collect();
            if spans.iter().any(|&(a, b)| a > b || b > n) {
                return Err(PyValueError::new_err("offsets must be non-decreasing and within the buffer"));
            }
            Items::Spans(buf, spans)
        }
        None => Items::Each(each_bytes(packets)?),
    };
    let slices: Vec<&[u8]> = match &items {
        Items::Each(v) => v.iter().map(|b| b.as_bytes(py)).collect(),
        Items::Spans(buf, spans) => {
            let b = buf.as_bytes(py);
            spans.iter().map(|&(x, y)| b.get(x..y).unwrap_or(&[])).collect()
        }
    };
    let (rows, errors) = py.detach(|| {
        let mut chain = Chain::default();
        let mut s = Summary::EMPTY;
        let mut rows = Vec::with_capacity(slices.len());
        let mut errors = Vec::new();
        for (i, b) in slices.iter().enumerate() {
            match dissect::dissect_to(b, link, settings, &mut chain, &mut s) {
                Ok(()) => rows.push(Row::of(&s)),
                Err(e) => {
                    rows.push(Row::REFUSED);
                    errors.push((i, e));
                }
            }
        }
        (rows, errors)
    });
    drop(slices);
    Ok(PacketBatch { items, rows, errors, link, settings })
}

/// Every packet of an iterable as a `bytes` (the caller's own when it is
/// one, a copy of any other buffer).
fn each_bytes(packets: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyBytes>>> {
    let mut items: Vec<Py<PyBytes>> = Vec::with_capacity(packets.len().unwrap_or(0));
    let mut take = |item: Bound<'_, PyAny>| -> PyResult<()> {
        match item.cast_into::<PyBytes>() {
            Ok(b) => items.push(b.unbind()),
            Err(e) => items.push(owned_bytes(&e.into_inner())?),
        }
        Ok(())
    };
    if let Ok(list) = packets.cast::<PyList>() {
        for item in list.iter() {
            take(item)?;
        }
    } else if let Ok(tuple) = packets.cast::<PyTuple>() {
        for item in tuple.iter() {
            take(item)?;
        }
    } else {
        for item in packets.try_iter()? {
            take(item?)?;
        }
    }
    Ok(items)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Packet>()?;
    m.add_class::<PacketBatch>()?;
    m.add_class::<PacketBatchIter>()?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(parse_many, m)?)?;
    Ok(())
}
