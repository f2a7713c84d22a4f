//! ICMPv6 (RFC 4443) with the Neighbor Discovery messages (RFC 4861 §4)
//! and MLD (RFC 2710, RFC 3810; the bodies are in `wire::mld`).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type-specific word (identifier/sequence, MTU, pointer) |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Message Body                          |
//! ```
//! Error messages carry "as much of the invoking packet as possible"
//! (RFC 4443 §2.4 c) as raw bytes; walking the headers in it is the
//! IPv6 layer's (lax) chain walker's job.
//!
//! The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200
//! §8.1) with a 32-bit length, so ICMPv6 in a jumbogram checksums right.

use std::net::Ipv6Addr;

use crate::cksum;
use crate::error::{Error, Layer, Result};
use crate::wire::{mld, nd, proto};

/// Declare an open enum over an integer: known values get a variant, any
/// other value round-trips as `Unknown(v)` (smoltcp `enum_with_unknown!`).
macro_rules! open_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident($ty:ty) {
            $( $(#[$vm:meta])* $var:ident = $val:expr ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $var, )+
            Unknown($ty),
        }
        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $( x if x == $val => $name::$var, )+
                    other => $name::Unknown(other),
                }
            }
        }
        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                match v {
                    $( $name::$var => $val, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use open_enum;

open_enum! {
    /// ICMPv6 message types (IANA "ICMPv6 Parameters").
    pub enum Message(u8) {
        DstUnreachable = 1,
        PktTooBig = 2,
        TimeExceeded = 3,
        ParamProblem = 4,
        EchoRequest = 128,
        EchoReply = 129,
        MldQuery = 130,
        MldReport = 131,
        MldDone = 132,
        RouterSolicit = 133,
        RouterAdvert = 134,
        NeighborSolicit = 135,
        NeighborAdvert = 136,
        Redirect = 137,
        Mldv2Report = 143,
    }
}

impl Message {
    /// Error messages have the high-order bit of the type clear (RFC 4443 §2.1).
    pub fn is_error(self) -> bool {
        u8::from(self) & 0x80 == 0
    }

    /// Whether an ICMPv6 error may be sent in answer to a packet carrying
    /// this message: never for an ICMPv6 error (RFC 4443 §2.4 e.1) nor for
    /// a Redirect (seed §1.9: "disallow ICMPv6 error packet against ICMPv6
    /// redirect"). (Unknown informational types may be answered.)
    pub fn may_elicit_error(self) -> bool {
        !self.is_error() && self != Message::Redirect
    }
}

open_enum! {
    /// Destination Unreachable codes (RFC 4443 §3.1).
    pub enum DstUnreachable(u8) {
        NoRoute = 0,
        AdminProhibit = 1,
        BeyondScope = 2,
        AddrUnreachable = 3,
        PortUnreachable = 4,
        FailedPolicy = 5,
        RejectRoute = 6,
        SourceRoutingHeader = 7,
    }
}

open_enum! {
    /// Time Exceeded codes (RFC 4443 §3.3).
    pub enum TimeExceeded(u8) {
        HopLimitExceeded = 0,
        FragReassemblyExceeded = 1,
    }
}

open_enum! {
    /// Parameter Problem codes (RFC 4443 §3.4, RFC 7112).
    pub enum ParamProblem(u8) {
        ErroneousHdrField = 0,
        UnrecognizedNxtHdr = 1,
        UnrecognizedOption = 2,
        IncompleteChain = 3,
    }
}

/// Router Advertisement flag bits (RFC 4861 §4.2, RFC 3775 H, RFC 4191
/// Prf, RFC 4389 P).
pub const RA_FLAG_MANAGED: u8 = 0x80;
pub const RA_FLAG_OTHER: u8 = 0x40;
pub const RA_FLAG_HOME_AGENT: u8 = 0x20;
pub const RA_PRF_MASK: u8 = 0x18;
pub const RA_FLAG_PROXY: u8 = 0x04;

/// Neighbor Advertisement flag bits (RFC 4861 §4.4).
pub const NA_FLAG_ROUTER: u8 = 0x80;
pub const NA_FLAG_SOLICITED: u8 = 0x40;
pub const NA_FLAG_OVERRIDE: u8 = 0x20;

mod field {
    #![allow(dead_code)]
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const UNUSED: Range<usize> = 4..8;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const MTU: Range<usize> = 4..8;
    pub const POINTER: Range<usize> = 4..8;
    pub const HEADER_END: usize = 8;
    // RA (RFC 4861 §4.2)
    pub const CUR_HOP_LIMIT: usize = 4;
    pub const ROUTER_FLAGS: usize = 5;
    pub const ROUTER_LT: Range<usize> = 6..8;
    pub const REACHABLE_TM: Range<usize> = 8..12;
    pub const RETRANS_TM: Range<usize> = 12..16;
    // NS / NA / Redirect
    pub const NEIGH_FLAGS: usize = 4;
    pub const TARGET_ADDR: usize = 8;
    pub const DEST_ADDR: usize = 24;
    // where the options start
    pub const RS_OPTS: usize = 8;
    pub const RA_OPTS: usize = 16;
    pub const NS_OPTS: usize = 24;
    pub const NA_OPTS: usize = 24;
    pub const REDIRECT_OPTS: usize = 40;
}

/// A read-only (or read-write) view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    b.get(r).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_be_bytes).unwrap_or(0)
}

fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    b.get(at..at + 16).and_then(|s| <[u8; 16]>::try_from(s).ok()).map(Ipv6Addr::from).unwrap_or(Ipv6Addr::UNSPECIFIED)
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view, after checking the four-octet ICMPv6 header is present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < 4 {
            return Err(Error::truncated(Layer::Icmpv6, 0, 4, n as u64, "ICMPv6 header (RFC 4443 §2.1)"));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref().get(field::TYPE).copied().unwrap_or(0))
    }
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref().get(field::CODE).copied().unwrap_or(0)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT)
    }
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }
    pub fn pkt_too_big_mtu(&self) -> u32 {
        be32(self.buffer.as_ref(), field::MTU)
    }
    pub fn param_problem_ptr(&self) -> u32 {
        be32(self.buffer.as_ref(), field::POINTER)
    }
    /// The octets after the first 8 (invoking packet, echo data...).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::HEADER_END..).unwrap_or(&[])
    }

    /// Whether the checksum is right for this pseudo-header (RFC 4443 §2.3).
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        matches!(cksum::in6_cksum(src, dst, proto::ICMPV6, b.len() as u64, [b]), Ok(0))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Compute and store the checksum for this pseudo-header.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        let b = self.buffer.as_mut();
        if let Some(c) = b.get_mut(field::CHECKSUM) {
            c.fill(0);
        }
        let c = cksum::in6_cksum(src, dst, proto::ICMPV6, b.len() as u64, [&*b])?;
        if let Some(f) = b.get_mut(field::CHECKSUM) {
            f.copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

/// A parsed ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Repr<'a> {
    EchoRequest { ident: u16, seq_no: u16, data: &'a [u8] },
    EchoReply { ident: u16, seq_no: u16, data: &'a [u8] },
    /// RFC 4443 §3.1; `invoking` is the invoking packet as received.
    DstUnreachable { code: DstUnreachable, invoking: &'a [u8] },
    /// RFC 4443 §3.2; the code is 0 on send and ignored on receipt (kept).
    PktTooBig { code: u8, mtu: u32, invoking: &'a [u8] },
    TimeExceeded { code: TimeExceeded, invoking: &'a [u8] },
    /// RFC 4443 §3.4: `pointer` is the offset of the offending octet.
    ParamProblem { code: ParamProblem, pointer: u32, invoking: &'a [u8] },
    /// RFC 4861 §4.1.
    RouterSolicit { options: nd::Options<'a> },
    /// RFC 4861 §4.2 (`flags`: M, O, H, Prf, P; see `RA_FLAG_*`).
    RouterAdvert {
        cur_hop_limit: u8,
        flags: u8,
        router_lifetime: u16,
        reachable_time: u32,
        retrans_timer: u32,
        options: nd::Options<'a>,
    },
    /// RFC 4861 §4.3.
    NeighborSolicit { target: Ipv6Addr, options: nd::Options<'a> },
    /// RFC 4861 §4.4 (`flags`: R, S, O; see `NA_FLAG_*`).
    NeighborAdvert { flags: u8, target: Ipv6Addr, options: nd::Options<'a> },
    /// RFC 4861 §4.5.
    Redirect { target: Ipv6Addr, dest: Ipv6Addr, options: nd::Options<'a> },
    Mld(mld::Repr<'a>),
    /// Any other type (or a type this parser does not model): lossless.
    Unknown { msg_type: u8, code: u8, body: &'a [u8] },
}

fn nd_code(b: &[u8], section: &'static str) -> Result<()> {
    if b.get(field::CODE).copied().unwrap_or(0) != 0 {
        return Err(Error::malformed(Layer::Icmpv6, field::CODE as u64, section));
    }
    Ok(())
}

fn nd_len(b: &[u8], min: usize, reason: &'static str) -> Result<()> {
    if b.len() < min {
        return Err(Error::truncated(Layer::Icmpv6, 0, min as u64, b.len() as u64, reason));
    }
    Ok(())
}

/// The checks on an ND message's fixed part (ICMP Code 0 and the length
/// of the fixed part: RFC 4861 §6.1, §7.1, §8.1) and the offset where its
/// options start; None when `b` is not an ND message (types 133-137).
pub fn nd_checked(b: &[u8]) -> Result<Option<usize>> {
    let (at, code_rule, len_rule) = match Message::from(b.first().copied().unwrap_or(0)) {
        Message::RouterSolicit => (
            field::RS_OPTS,
            "Router Solicitation ICMP Code is not 0 (RFC 4861 §6.1.1)",
            "Router Solicitation shorter than 8 octets (RFC 4861 §6.1.1)",
        ),
        Message::RouterAdvert => (
            field::RA_OPTS,
            "Router Advertisement ICMP Code is not 0 (RFC 4861 §6.1.2)",
            "Router Advertisement shorter than 16 octets (RFC 4861 §6.1.2)",
        ),
        Message::NeighborSolicit => (
            field::NS_OPTS,
            "Neighbor Solicitation ICMP Code is not 0 (RFC 4861 §7.1.1)",
            "Neighbor Solicitation shorter than 24 octets (RFC 4861 §7.1.1)",
        ),
        Message::NeighborAdvert => (
            field::NA_OPTS,
            "Neighbor Advertisement ICMP Code is not 0 (RFC 4861 §7.1.2)",
            "Neighbor Advertisement shorter than 24 octets (RFC 4861 §7.1.2)",
        ),
        Message::Redirect => (field::REDIRECT_OPTS, "Redirect ICMP Code is not 0 (RFC 4861 §8.1)", "Redirect shorter than 40 octets (RFC 4861 §8.1)"),
        _ => return Ok(None),
    };
    Packet::new_checked(b)?;
    nd_code(b, code_rule)?;
    nd_len(b, at, len_rule)?;
    Ok(Some(at))
}

fn opts(b: &[u8], at: usize, maxndopt: usize) -> Result<nd::Options<'_>> {
    nd::Options::walk(b.get(at..).unwrap_or(&[]), maxndopt).map_err(|e| e.at(at as u64))
}

fn is_solicited_node(a: &Ipv6Addr) -> bool {
    let o = a.octets();
    o.get(..13) == Some(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff][..])
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80)
}

impl<'a> Repr<'a> {
    /// Parse a message. With `pseudo` = (source, destination) the checksum
    /// is verified first (RFC 4443 §2.3). ND options are walked with KAME's
    /// cap `maxndopt` ([`nd::ND6_MAXNDOPT`]; 0 = no limit). ND messages
    /// with a non-zero code or shorter than their fixed part are refused
    /// (RFC 4861 §6.1, §7.1, §8.1).
    pub fn parse(data: &'a [u8], pseudo: Option<(&Ipv6Addr, &Ipv6Addr)>, maxndopt: usize) -> Result<Repr<'a>> {
        let p = Packet::new_checked(data)?;
        if let Some((src, dst)) = pseudo {
            if !p.verify_checksum(src, dst) {
                return Err(Error::malformed(Layer::Icmpv6, 2, "bad ICMPv6 checksum (RFC 4443 §2.3)"));
            }
        }
        let b = data;
        let code = p.msg_code();
        let invoking = || b.get(field::HEADER_END..).unwrap_or(&[]);
        let need8 = |what| nd_len(b, 8, what);
        Ok(match p.msg_type() {
            Message::EchoRequest | Message::EchoReply => {
                need8("ICMPv6 Echo shorter than 8 octets (RFC 4443 §4.1)")?;
                let (ident, seq_no, data) = (p.echo_ident(), p.echo_seq_no(), invoking());
                if p.msg_type() == Message::EchoRequest {
                    Repr::EchoRequest { ident, seq_no, data }
                } else {
                    Repr::EchoReply { ident, seq_no, data }
                }
            }
            Message::DstUnreachable => {
                need8("ICMPv6 error shorter than 8 octets (RFC 4443 §3.1)")?;
                Repr::DstUnreachable { code: code.into(), invoking: invoking() }
            }
            Message::PktTooBig => {
                need8("ICMPv6 error shorter than 8 octets (RFC 4443 §3.2)")?;
                Repr::PktTooBig { code, mtu: p.pkt_too_big_mtu(), invoking: invoking() }
            }
            Message::TimeExceeded => {
                need8("ICMPv6 error shorter than 8 octets (RFC 4443 §3.3)")?;
                Repr::TimeExceeded { code: code.into(), invoking: invoking() }
            }
            Message::ParamProblem => {
                need8("ICMPv6 error shorter than 8 octets (RFC 4443 §3.4)")?;
                Repr::ParamProblem { code: code.into(), pointer: p.param_problem_ptr(), invoking: invoking() }
            }
            Message::RouterSolicit => {
                nd_checked(b)?;
                Repr::RouterSolicit { options: opts(b, field::RS_OPTS, maxndopt)? }
            }
            Message::RouterAdvert => {
                nd_checked(b)?;
                Repr::RouterAdvert {
                    cur_hop_limit: b.get(field::CUR_HOP_LIMIT).copied().unwrap_or(0),
                    flags: b.get(field::ROUTER_FLAGS).copied().unwrap_or(0),
                    router_lifetime: be16(b, field::ROUTER_LT),
                    reachable_time: be32(b, field::REACHABLE_TM),
                    retrans_timer: be32(b, field::RETRANS_TM),
                    options: opts(b, field::RA_OPTS, maxndopt)?,
                }
            }
            Message::NeighborSolicit => {
                nd_checked(b)?;
                Repr::NeighborSolicit { target: addr_at(b, field::TARGET_ADDR), options: opts(b, field::NS_OPTS, maxndopt)? }
            }
            Message::NeighborAdvert => {
                nd_checked(b)?;
                Repr::NeighborAdvert {
                    flags: b.get(field::NEIGH_FLAGS).copied().unwrap_or(0) & 0xe0,
                    target: addr_at(b, field::TARGET_ADDR),
                    options: opts(b, field::NA_OPTS, maxndopt)?,
                }
            }
            Message::Redirect => {
                nd_checked(b)?;
                Repr::Redirect {
                    target: addr_at(b, field::TARGET_ADDR),
                    dest: addr_at(b, field::DEST_ADDR),
                    options: opts(b, field::REDIRECT_OPTS, maxndopt)?,
                }
            }
            Message::MldQuery | Message::MldReport | Message::MldDone | Message::Mldv2Report => Repr::Mld(mld::Repr::parse(b)?),
            Message::Unknown(t) => Repr::Unknown { msg_type: t, code, body: b.get(4..).unwrap_or(&[]) },
        })
    }

    pub fn msg_type(&self) -> u8 {
        let m = match self {
            Repr::EchoRequest { .. } => Message::EchoRequest,
            Repr::EchoReply { .. } => Message::EchoReply,
            Repr::DstUnreachable { .. } => Message::DstUnreachable,
            Repr::PktTooBig { .. } => Message::PktTooBig,
            Repr::TimeExceeded { .. } => Message::TimeExceeded,
            Repr::ParamProblem { .. } => Message::ParamProblem,
            Repr::RouterSolicit { .. } => Message::RouterSolicit,
            Repr::RouterAdvert { .. } => Message::RouterAdvert,
            Repr::NeighborSolicit { .. } => Message::NeighborSolicit,
            Repr::NeighborAdvert { .. } => Message::NeighborAdvert,
            Repr::Redirect { .. } => Message::Redirect,
            Repr::Mld(m) => return m.msg_type(),
            Repr::Unknown { msg_type, .. } => return *msg_type,
        };
        m.into()
    }

    /// The ND options, for ND messages.
    pub fn nd_options(&self) -> Option<&nd::Options<'a>> {
        match self {
            Repr::RouterSolicit { options }
            | Repr::RouterAdvert { options, .. }
            | Repr::NeighborSolicit { options, .. }
            | Repr::NeighborAdvert { options, .. }
            | Repr::Redirect { options, .. } => Some(options),
            _ => None,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::EchoRequest { data, .. } | Repr::EchoReply { data, .. } => 8 + data.len(),
            Repr::DstUnreachable { invoking, .. }
            | Repr::PktTooBig { invoking, .. }
            | Repr::TimeExceeded { invoking, .. }
            | Repr::ParamProblem { invoking, .. } => 8 + invoking.len(),
            Repr::RouterSolicit { options } => field::RS_OPTS + options.buffer_len(),
            Repr::RouterAdvert { options, .. } => field::RA_OPTS + options.buffer_len(),
            Repr::NeighborSolicit { options, .. } => field::NS_OPTS + options.buffer_len(),
            Repr::NeighborAdvert { options, .. } => field::NA_OPTS + options.buffer_len(),
            Repr::Redirect { options, .. } => field::REDIRECT_OPTS + options.buffer_len(),
            Repr::Mld(m) => m.buffer_len(),
            Repr::Unknown { body, .. } => 4 + body.len(),
        }
    }

    /// Append the message to `out`; with `pseudo` the checksum is filled
    /// in, otherwise it is left 0.
    pub fn emit(&self, out: &mut Vec<u8>, pseudo: Option<(&Ipv6Addr, &Ipv6Addr)>) -> Result<()> {
        let start = out.len();
        let code = match self {
            Repr::DstUnreachable { code, .. } => u8::from(*code),
            Repr::PktTooBig { code, .. } => *code,
            Repr::TimeExceeded { code, .. } => u8::from(*code),
            Repr::ParamProblem { code, .. } => u8::from(*code),
            Repr::Unknown { code, .. } => *code,
            _ => 0,
        };
        if let Repr::Mld(m) = self {
            m.emit(out)?;
        } else {
            out.extend_from_slice(&[self.msg_type(), code, 0, 0]);
        }
        match self {
            Repr::EchoRequest { ident, seq_no, data } | Repr::EchoReply { ident, seq_no, data } => {
                out.extend_from_slice(&ident.to_be_bytes());
                out.extend_from_slice(&seq_no.to_be_bytes());
                out.extend_from_slice(data);
            }
            Repr::DstUnreachable { invoking, .. } | Repr::TimeExceeded { invoking, .. } => {
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(invoking);
            }
            Repr::PktTooBig { mtu: v, invoking, .. } | Repr::ParamProblem { pointer: v, invoking, .. } => {
                out.extend_from_slice(&v.to_be_bytes());
                out.extend_from_slice(invoking);
            }
            Repr::RouterSolicit { options } => {
                out.extend_from_slice(&[0; 4]);
                options.emit(out)?;
            }
            Repr::RouterAdvert { cur_hop_limit, flags, router_lifetime, reachable_time, retrans_timer, options } => {
                out.push(*cur_hop_limit);
                out.push(*flags);
                out.extend_from_slice(&router_lifetime.to_be_bytes());
                out.extend_from_slice(&reachable_time.to_be_bytes());
                out.extend_from_slice(&retrans_timer.to_be_bytes());
                options.emit(out)?;
            }
            Repr::NeighborSolicit { target, options } => {
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&target.octets());
                options.emit(out)?;
            }
            Repr::NeighborAdvert { flags, target, options } => {
                out.extend_from_slice(&[flags & 0xe0, 0, 0, 0]);
                out.extend_from_slice(&target.octets());
                options.emit(out)?;
            }
            Repr::Redirect { target, dest, options } => {
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&target.octets());
                out.extend_from_slice(&dest.octets());
                options.emit(out)?;
            }
            Repr::Mld(_) => {}
            Repr::Unknown { body, .. } => out.extend_from_slice(body),
        }
        if let Some((src, dst)) = pseudo {
            let msg = out.get_mut(start..).unwrap_or(&mut []);
            Packet::new_unchecked(msg).fill_checksum(src, dst)?;
        }
        Ok(())
    }

    /// The message validation of RFC 4861 that needs the IP header (§6.1.1,
    /// §6.1.2, §7.1.1, §7.1.2, §8.1) and of MLD (RFC 2710 §3, RFC 3810
    /// §5): hop limit, source and destination rules, target address rules.
    /// (Code 0, minimum lengths and option lengths are checked by
    /// [`Repr::parse`].) Messages other than ND and MLD pass.
    pub fn validate(&self, hop_limit: u8, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        let bad = |off: u64, reason| Err(Error::malformed(Layer::Nd, off, reason));
        let hop = |section| if hop_limit != 255 { bad(0, section) } else { Ok(()) };
        match self {
            Repr::RouterSolicit { options } => {
                hop("IP Hop Limit is not 255 (RFC 4861 §6.1.1)")?;
                if src.is_unspecified() && options.source_lladdr().is_some() {
                    return bad(8, "Router Solicitation from the unspecified address carries a source link-layer address option (RFC 4861 §6.1.1)");
                }
                Ok(())
            }
            Repr::RouterAdvert { .. } => {
                hop("IP Hop Limit is not 255 (RFC 4861 §6.1.2)")?;
                if !is_link_local(src) {
                    return bad(0, "Router Advertisement IP Source Address is not link-local (RFC 4861 §6.1.2)");
                }
                Ok(())
            }
            Repr::NeighborSolicit { target, options } => {
                hop("IP Hop Limit is not 255 (RFC 4861 §7.1.1)")?;
                if target.is_multicast() {
                    return bad(8, "Neighbor Solicitation Target Address is a multicast address (RFC 4861 §7.1.1)");
                }
                if src.is_unspecified() {
                    if !is_solicited_node(dst) {
                        return bad(0, "Neighbor Solicitation from the unspecified address (DAD) not sent to a solicited-node multicast address (RFC 4861 §7.1.1)");
                    }
                    if options.source_lladdr().is_some() {
                        return bad(24, "Neighbor Solicitation from the unspecified address (DAD) carries a source link-layer address option (RFC 4861 §7.1.1)");
                    }
                }
                Ok(())
            }
            Repr::NeighborAdvert { flags, target, .. } => {
                hop("IP Hop Limit is not 255 (RFC 4861 §7.1.2)")?;
                if target.is_multicast() {
                    return bad(8, "Neighbor Advertisement Target Address is a multicast address (RFC 4861 §7.1.2)");
                }
                if dst.is_multicast() && flags & NA_FLAG_SOLICITED != 0 {
                    return bad(4, "Neighbor Advertisement to a multicast address has the Solicited flag set (RFC 4861 §7.1.2)");
                }
                Ok(())
            }
            Repr::Redirect { target, dest, .. } => {
                hop("IP Hop Limit is not 255 (RFC 4861 §8.1)")?;
                if !is_link_local(src) {
                    return bad(0, "Redirect IP Source Address is not link-local (RFC 4861 §8.1)");
                }
                if dest.is_multicast() {
                    return bad(24, "Redirect Destination Address is a multicast address (RFC 4861 §8.1)");
                }
                if !is_link_local(target) && target != dest {
                    return bad(8, "Redirect Target Address is neither link-local nor the Destination Address (RFC 4861 §8.1)");
                }
                Ok(())
            }
            Repr::Mld(m) => {
                if hop_limit != 1 {
                    return Err(Error::malformed(Layer::Mld, 0, "MLD message with IP Hop Limit other than 1 (RFC 2710 §3, RFC 3810 §5)"));
                }
                let v2_report_from_unspec = matches!(m, mld::Repr::ReportV2 { .. }) && src.is_unspecified();
                if !is_link_local(src) && !v2_report_from_unspec {
                    return Err(Error::malformed(Layer::Mld, 0, "MLD message IP Source Address is not link-local (RFC 2710 §3, RFC 3810 §5.2.13)"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // scapy: IPv6(src="fe80::1", dst="ff02::1")/ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abc")
    const ECHO: &str = "8000ab9c12340001616263";

    // scapy: IPv6(src="fe80::1", dst="ff02::1")/ICMPv6ND_RA(chlim=64, M=1, prf=1, routerlifetime=1800,
    //   reachabletime=30000, retranstimer=1000)/ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55")
    //   /ICMPv6NDOptPrefixInfo(prefix="2001:db8::", prefixlen=64)
    const RA: &str = "8600e2464088070800007530000003e80101001122334455030440c0ffffffffffffffff0000000020010db8000000000000000000000000";

    // scapy: IPv6(src="::", dst="ff02::1:ff00:2")/ICMPv6ND_NS(tgt="2001:db8::2")
    const NS_DAD: &str = "87004ceb0000000020010db8000000000000000000000002";

    #[test]
    fn echo_deconstruct_construct() {
        let b = hex(ECHO);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert!(p.verify_checksum(&a("fe80::1"), &a("ff02::1")));
        assert!(!p.verify_checksum(&a("fe80::2"), &a("ff02::1")));
        let r = Repr::parse(&b, Some((&a("fe80::1"), &a("ff02::1"))), 10).unwrap();
        assert_eq!(r, Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abc" });
        let mut out = Vec::new();
        r.emit(&mut out, Some((&a("fe80::1"), &a("ff02::1")))).unwrap();
        assert_eq!(out, b);
        assert_eq!(r.buffer_len(), b.len());
        // a corrupted checksum is refused
        let mut c = b.clone();
        c[3] ^= 1;
        assert_eq!(Repr::parse(&c, Some((&a("fe80::1"), &a("ff02::1"))), 10).unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn ra_scapy() {
        let b = hex(RA);
        let (s, d) = (a("fe80::1"), a("ff02::1"));
        let r = Repr::parse(&b, Some((&s, &d)), 10).unwrap();
        let Repr::RouterAdvert { cur_hop_limit, flags, router_lifetime, reachable_time, retrans_timer, options } = &r else {
            panic!("{r:?}")
        };
        assert_eq!(*cur_hop_limit, 64);
        assert_eq!(*flags, RA_FLAG_MANAGED | 0x08);
        assert_eq!(*router_lifetime, 1800);
        assert_eq!(*reachable_time, 30000);
        assert_eq!(*retrans_timer, 1000);
        assert_eq!(options.source_lladdr(), Some(&[0, 0x11, 0x22, 0x33, 0x44, 0x55][..]));
        assert_eq!(options.prefixes().next().unwrap().prefix, a("2001:db8::"));
        r.validate(255, &s, &d).unwrap();
        assert!(r.validate(64, &s, &d).is_err());
        assert!(r.validate(255, &a("2001:db8::1"), &d).is_err());
        let mut out = Vec::new();
        r.emit(&mut out, Some((&s, &d))).unwrap();
        assert_eq!(out, b);
        // every truncation is refused, none panics
        for n in 0..b.len() {
            let _ = Repr::parse(&b[..n], None, 10);
        }
        assert!(Repr::parse(&b[..15], None, 10).unwrap_err().is_truncated());
        // non-zero code
        let mut c = b.clone();
        c[1] = 1;
        assert_eq!(Repr::parse(&c, None, 10).unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn ns_dad_rules() {
        let b = hex(NS_DAD);
        let (s, d) = (Ipv6Addr::UNSPECIFIED, a("ff02::1:ff00:2"));
        let r = Repr::parse(&b, Some((&s, &d)), 10).unwrap();
        assert_eq!(r, Repr::NeighborSolicit { target: a("2001:db8::2"), options: nd::Options::default() });
        r.validate(255, &s, &d).unwrap();
        // DAD NS must go to the solicited-node group
        assert!(r.validate(255, &s, &a("ff02::1")).is_err());
        // and carry no SLLA
        let with_slla = Repr::NeighborSolicit {
            target: a("2001:db8::2"),
            options: nd::Options::from_options(vec![nd::Repr::SourceLinkLayerAddr(&[1, 2, 3, 4, 5, 6])]),
        };
        assert!(with_slla.validate(255, &s, &d).is_err());
        with_slla.validate(255, &a("fe80::9"), &d).unwrap();
        // multicast target
        let m = Repr::NeighborSolicit { target: a("ff02::1"), options: nd::Options::default() };
        assert!(m.validate(255, &a("fe80::9"), &d).is_err());
    }

    #[test]
    fn na_redirect_rules() {
        let na = Repr::NeighborAdvert { flags: NA_FLAG_SOLICITED, target: a("fe80::2"), options: nd::Options::default() };
        assert!(na.validate(255, &a("fe80::2"), &a("ff02::1")).is_err());
        na.validate(255, &a("fe80::2"), &a("fe80::1")).unwrap();
        let rd = Repr::Redirect { target: a("2001:db8::5"), dest: a("2001:db8::6"), options: nd::Options::default() };
        assert!(rd.validate(255, &a("fe80::1"), &a("fe80::2")).is_err());
        let rd = Repr::Redirect { target: a("2001:db8::6"), dest: a("2001:db8::6"), options: nd::Options::default() };
        rd.validate(255, &a("fe80::1"), &a("fe80::2")).unwrap();
        let mut out = Vec::new();
        rd.emit(&mut out, None).unwrap();
        assert_eq!(out.len(), 40);
        assert_eq!(Repr::parse(&out, None, 10).unwrap(), rd);
    }

    #[test]
    fn errors_and_unknown_round_trip() {
        let inv = [0x60u8, 0, 0, 0, 0, 8, 17, 64];
        let cases = [
            Repr::DstUnreachable { code: DstUnreachable::PortUnreachable, invoking: &inv },
            Repr::PktTooBig { code: 0, mtu: 1280, invoking: &inv },
            Repr::TimeExceeded { code: TimeExceeded::FragReassemblyExceeded, invoking: &inv },
            Repr::ParamProblem { code: ParamProblem::UnrecognizedNxtHdr, pointer: 6, invoking: &inv },
            Repr::ParamProblem { code: ParamProblem::Unknown(9), pointer: 6, invoking: &inv },
            Repr::Unknown { msg_type: 200, code: 3, body: &[1, 2, 3] },
            Repr::Unknown { msg_type: 5, code: 3, body: &[] },
        ];
        let (s, d) = (a("2001:db8::1"), a("2001:db8::2"));
        for r in cases {
            let mut out = Vec::new();
            r.emit(&mut out, Some((&s, &d))).unwrap();
            assert_eq!(out.len(), r.buffer_len());
            assert_eq!(Repr::parse(&out, Some((&s, &d)), 10).unwrap(), r);
        }
        // Errors shorter than 8 octets are truncated.
        assert!(Repr::parse(&[1, 4, 0, 0, 0], None, 10).unwrap_err().is_truncated());
        assert!(Repr::parse(&[1, 4, 0], None, 10).unwrap_err().is_truncated());
    }

    #[test]
    fn zero_length_option_rejects_message() {
        let rs = hex("85000000 00000000 0100000000000000");
        let e = Repr::parse(&rs, None, 10).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.offset, 9);
        assert_eq!(e.layer, Layer::Nd);
    }

    #[test]
    fn no_error_for_errors_or_redirects() {
        assert!(!Message::from(1).may_elicit_error());
        assert!(!Message::from(127).may_elicit_error());
        assert!(!Message::Redirect.may_elicit_error());
        assert!(Message::EchoRequest.may_elicit_error());
        assert!(Message::from(200).may_elicit_error());
    }

    #[test]
    fn mld_validate() {
        let r = Repr::Mld(mld::Repr::Report { mcast_addr: a("ff02::fb") });
        r.validate(1, &a("fe80::1"), &a("ff02::fb")).unwrap();
        assert!(r.validate(255, &a("fe80::1"), &a("ff02::fb")).is_err());
        assert!(r.validate(1, &Ipv6Addr::UNSPECIFIED, &a("ff02::fb")).is_err());
        let r2 = Repr::Mld(mld::Repr::ReportV2 { records: vec![] });
        r2.validate(1, &Ipv6Addr::UNSPECIFIED, &a("ff02::16")).unwrap();
    }
}
