//! The one error type of the core.
//!
//! Every fallible function in `kame_core` returns `Result<T, Error>`. An
//! `Error` says which layer refused the bytes, where (the absolute offset
//! from the start of the buffer the caller handed in, fixed up as the error
//! bubbles out of nested parsers), what kind of refusal it is, a short reason
//! that cites the RFC, and, when the RFCs require the receiver to answer, the
//! ICMPv6 error that must be sent back (type, code, pointer).
//!
//! "Not enough bytes" (`Truncated`) is kept apart from "the bytes say
//! something illegal" (`Malformed`): a stack counts the two differently
//! (`ip6s_tooshort` vs. `ip6s_badoptions`), and only the latter can ever
//! produce an ICMPv6 Parameter Problem.

use core::fmt;

/// The protocol layer (or core subsystem) that produced an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Ipv6,
    HopByHop,
    Routing,
    Fragment,
    DestOpts,
    Ah,
    Esp,
    IpComp,
    Icmpv6,
    Nd,
    Mld,
    Ipv4,
    Udp,
    Tcp,
    Reass,
    Cksum,
    Ipsec,
    Tunnel,
    Pcap,
    Ethernet,
    /// ICMPv4 (rust/src/inet/).
    Icmp,
    /// ARP (RFC 826): wire/arp.rs and rust/src/inet/.
    Arp,
    /// A Linux cooked capture header (LINKTYPE_LINUX_SLL / SLL2).
    Sll,
    /// The BSD loopback header (LINKTYPE_NULL / LINKTYPE_LOOP).
    Loopback,
    /// DNS messages (RFC 1035 §4): wire/dns.rs.
    Dns,
    /// The Mobility Header (RFC 6275 §6.1): wire/mh.rs.
    Mobility,
}

impl Layer {
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Ipv6 => "ipv6",
            Layer::HopByHop => "hop-by-hop",
            Layer::Routing => "routing",
            Layer::Fragment => "fragment",
            Layer::DestOpts => "destination-options",
            Layer::Ah => "ah",
            Layer::Esp => "esp",
            Layer::IpComp => "ipcomp",
            Layer::Icmpv6 => "icmpv6",
            Layer::Nd => "nd",
            Layer::Mld => "mld",
            Layer::Ipv4 => "ipv4",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Reass => "reass",
            Layer::Cksum => "cksum",
            Layer::Ipsec => "ipsec",
            Layer::Tunnel => "tunnel",
            Layer::Pcap => "pcap",
            Layer::Ethernet => "ethernet",
            Layer::Icmp => "icmp",
            Layer::Arp => "arp",
            Layer::Sll => "sll",
            Layer::Loopback => "null",
            Layer::Dns => "dns",
            Layer::Mobility => "mobility",
        }
    }
}

/// What kind of refusal an error is. Each kind maps to one Python exception
/// class in `kame.errors` (see `rust/src/py/errors.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The buffer ends before a field that a header (or a length field in
    /// it) requires. `needed` and `available` are byte counts from `offset`.
    Truncated { needed: u64, available: u64 },
    /// The bytes are present but say something illegal.
    Malformed,
    /// The header chain is longer than `hdrnestlimit` (seed §1.8).
    HeaderLimit { limit: u32 },
    /// A value the core understands but does not implement (e.g. an IPv6
    /// version field of 4 handed to the IPv6 parser is `Malformed`; an
    /// unknown routing type that must be skipped is not an error at all).
    Unsupported,
    /// An ICV (AH, ESP, AEAD tag) did not verify.
    Integrity,
    /// A sequence number was replayed or fell left of the window.
    Replay,
    /// A decrypted ESP trailer had padding other than 1, 2, 3, ...
    BadPadding,
    /// An SA or transform was configured wrongly (key length, algorithm).
    Config,
    /// A bounded resource would be exceeded (inflate cap, reassembly memory).
    Limit { limit: u64 },
    // --- ipcomp/tunnel ---
    /// A tunnel egress must drop the packet: a CE outer header over a
    /// Not-ECT inner one (RFC 6040 §4.2).
    EcnDrop,
    // --- end ipcomp/tunnel ---
}

/// The ICMPv6 error message a receiver must send in answer to the packet
/// (RFC 4443 §3): type, code and, for Parameter Problem, the pointer (the
/// offset of the offending octet counted from the start of the invoking
/// IPv6 header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmp6Answer {
    pub icmp_type: u8,
    pub code: u8,
    pub pointer: u32,
}

impl Icmp6Answer {
    pub const TYPE_DST_UNREACH: u8 = 1;
    pub const TYPE_PACKET_TOO_BIG: u8 = 2;
    pub const TYPE_TIME_EXCEEDED: u8 = 3;
    pub const TYPE_PARAM_PROB: u8 = 4;

    /// Parameter Problem, code 0: erroneous header field encountered.
    pub const fn header(pointer: u32) -> Self {
        Icmp6Answer { icmp_type: 4, code: 0, pointer }
    }
    /// Parameter Problem, code 1: unrecognized Next Header type.
    pub const fn next_header(pointer: u32) -> Self {
        Icmp6Answer { icmp_type: 4, code: 1, pointer }
    }
    /// Parameter Problem, code 2: unrecognized IPv6 option.
    pub const fn option(pointer: u32) -> Self {
        Icmp6Answer { icmp_type: 4, code: 2, pointer }
    }
    /// Parameter Problem, code 3: IPv6 first fragment has incomplete header
    /// chain (RFC 7112).
    pub const fn incomplete_chain(pointer: u32) -> Self {
        Icmp6Answer { icmp_type: 4, code: 3, pointer }
    }
    /// Time Exceeded, code 1: fragment reassembly time exceeded.
    pub const fn reassembly_timeout() -> Self {
        Icmp6Answer { icmp_type: 3, code: 1, pointer: 0 }
    }
}

/// An error from the core: which layer, what kind, where, why, and what to
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub layer: Layer,
    pub kind: ErrorKind,
    /// Absolute offset (from the start of the caller's buffer) of the field
    /// at fault.
    pub offset: u64,
    /// A short human reason, citing the RFC where one applies.
    pub reason: &'static str,
    /// The ICMPv6 error the receiver must send, if any.
    pub icmp: Option<Icmp6Answer>,
}

pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    pub const fn new(layer: Layer, kind: ErrorKind, offset: u64, reason: &'static str) -> Self {
        Error { layer, kind, offset, reason, icmp: None }
    }

    /// Not enough bytes: the field at `offset` needs `needed` bytes and the
    /// buffer has `available` from there.
    pub const fn truncated(
        layer: Layer,
        offset: u64,
        needed: u64,
        available: u64,
        reason: &'static str,
    ) -> Self {
        Error::new(layer, ErrorKind::Truncated { needed, available }, offset, reason)
    }

    /// The bytes at `offset` say something illegal.
    pub const fn malformed(layer: Layer, offset: u64, reason: &'static str) -> Self {
        Error::new(layer, ErrorKind::Malformed, offset, reason)
    }

    /// Attach the ICMPv6 error that the receiver must send.
    pub const fn answer(mut self, icmp: Icmp6Answer) -> Self {
        self.icmp = Some(icmp);
        self
    }

    /// Shift the offset (and a Parameter Problem pointer) by `base`: used
    /// when an error from a nested parser bubbles up to a caller whose
    /// buffer starts `base` bytes earlier.
    pub fn at(mut self, base: u64) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: {}", self.layer.name(), self.offset, self.reason)?;
        match self.kind {
            ErrorKind::Truncated { needed, available } => {
                write!(f, " (needs {needed} bytes, {available} available)")?
            }
            ErrorKind::HeaderLimit { limit } => write!(f, " (hdrnestlimit {limit})")?,
            ErrorKind::Limit { limit } => write!(f, " (limit {limit})")?,
            _ => {}
        }
        if let Some(a) = self.icmp {
            write!(f, " [answer ICMPv6 type {} code {} pointer {}]", a.icmp_type, a.code, a.pointer)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_everything() {
        let e = Error::truncated(Layer::Ipv6, 0, 40, 12, "IPv6 header (RFC 8200 §3)");
        let s = e.to_string();
        assert!(s.contains("ipv6 at offset 0"));
        assert!(s.contains("needs 40 bytes, 12 available"));
        let e = Error::malformed(Layer::HopByHop, 42, "Jumbo Payload with payload length != 0 (RFC 2675 §3)")
            .answer(Icmp6Answer::header(4))
            .at(14);
        assert_eq!(e.offset, 56);
        assert!(e.to_string().contains("type 4 code 0 pointer 4"));
    }
}
