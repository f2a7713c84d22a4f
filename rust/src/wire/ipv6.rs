//! The IPv6 header (RFC 8200 §3) and `ip6_input`-style validation of a
//! received frame (RFC 8200 §4, RFC 2675 §3, seed §1.7 and §1.8).
//!
//! [`Packet`] is a zero-copy view over any `AsRef<[u8]>`; [`Repr`] the owned
//! form. [`validate`] does what KAME's `ip6_input` does before it hands the
//! packet to the upper layers: version, length against the frame (Payload
//! Length or the Jumbo Payload option), Hop-by-Hop options, the header chain
//! with the `hdrnestlimit` counter, Jumbo-with-Fragment, Destination
//! options. Every length on that path is a `u64`.

use crate::error::{Error, Icmp6Answer, Layer, Result};

use super::exthdr::{self, Chain, JumboInfo};
use super::opts::{self, opt_type, Action};
use super::proto;

/// Octets in the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// Largest payload a Payload Length field can announce (`IPV6_MAXPACKET`);
/// a Jumbo Payload Length must exceed it (RFC 2675 §3).
pub const MAXPACKET: u32 = 65535;

mod field {
    //! Byte ranges of the header (RFC 8200 §3):
    //!
    //! ```text
    //!  0                   1                   2                   3
    //!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |Version| Traffic Class |           Flow Label                  |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |         Payload Length        |  Next Header  |   Hop Limit   |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |                                                               |
    //! +                         Source Address                        +
    //! |                          (16 octets)                          |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! |                                                               |
    //! +                      Destination Address                      +
    //! |                          (16 octets)                          |
    //! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    //! ```
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Offset of the Payload Length field (the pointer of RFC 2675's "Payload
/// Length = 0 and Next Header = Hop-by-Hop and no Jumbo" error).
pub const PAYLOAD_LEN_OFFSET: usize = field::LENGTH.start;
/// Offset of the Next Header field.
pub const NEXT_HEADER_OFFSET: usize = field::NXT_HDR;

/// A read/write view of an IPv6 header at the start of a buffer.
///
/// After [`Packet::check_len`] (or with [`Packet::new_checked`]) no accessor
/// can fail. With [`Packet::new_unchecked`] on a buffer shorter than 40
/// octets, accessors read missing octets as zero and setters ignore them;
/// nothing panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` if the buffer cannot hold the fixed header (KAME counts
    /// this as `ip6s_toosmall`, "with size smaller than minimum").
    pub fn check_len(&self) -> Result<()> {
        let n = self.buffer.as_ref().len();
        if n < HEADER_LEN {
            return Err(Error::truncated(
                Layer::Ipv6,
                0,
                HEADER_LEN as u64,
                n as u64,
                "with size smaller than minimum: IPv6 header is 40 octets (RFC 8200 §3)",
            ));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn array<const N: usize>(&self, start: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.buffer.as_ref().get(start..start + N) {
            out.copy_from_slice(src);
        }
        out
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    fn word0(&self) -> u32 {
        u32::from_be_bytes(self.array::<4>(field::VER_TC_FLOW.start))
    }

    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes(self.array::<2>(field::LENGTH.start))
    }
    pub fn next_header(&self) -> u8 {
        self.byte(field::NXT_HDR)
    }
    pub fn hop_limit(&self) -> u8 {
        self.byte(field::HOP_LIMIT)
    }
    pub fn src_addr(&self) -> [u8; 16] {
        self.array::<16>(field::SRC_ADDR.start)
    }
    pub fn dst_addr(&self) -> [u8; 16] {
        self.array::<16>(field::DST_ADDR.start)
    }
    /// Everything after the fixed header, bounded by the buffer (not by
    /// Payload Length, which is 0 in a jumbogram; see [`validate`]).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, start: usize, src: &[u8]) {
        if let Some(dst) = self.buffer.as_mut().get_mut(start..start + src.len()) {
            dst.copy_from_slice(src);
        }
    }
    fn set_word0(&mut self, w: u32) {
        self.put(field::VER_TC_FLOW.start, &w.to_be_bytes());
    }
    pub fn set_version(&mut self, v: u8) {
        let w = (self.word0() & 0x0fff_ffff) | (u32::from(v & 0x0f) << 28);
        self.set_word0(w);
    }
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (self.word0() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_word0(w);
    }
    pub fn set_flow_label(&mut self, fl: u32) {
        let w = (self.word0() & 0xfff0_0000) | (fl & 0x000f_ffff);
        self.set_word0(w);
    }
    pub fn set_payload_len(&mut self, len: u16) {
        self.put(field::LENGTH.start, &len.to_be_bytes());
    }
    pub fn set_next_header(&mut self, nh: u8) {
        self.put(field::NXT_HDR, &[nh]);
    }
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.put(field::HOP_LIMIT, &[hl]);
    }
    pub fn set_src_addr(&mut self, a: &[u8; 16]) {
        self.put(field::SRC_ADDR.start, a);
    }
    pub fn set_dst_addr(&mut self, a: &[u8; 16]) {
        self.put(field::DST_ADDR.start, a);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut().get_mut(HEADER_LEN..).unwrap_or(&mut [])
    }
}

/// The IPv6 header, owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub next_header: u8,
    /// The Payload Length field as carried (0 in a jumbogram).
    pub payload_len: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// 20 bits; higher bits are dropped on emit.
    pub flow_label: u32,
}

impl Repr {
    /// Parse the fixed header; `Malformed` if the version is not 6
    /// (`ip6s_badvers`, "with incorrect version number").
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::malformed(
                Layer::Ipv6,
                0,
                "with incorrect version number: not 6 (RFC 8200 §3)",
            ));
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write all 40 octets. The buffer must hold them (checked with
    /// `check_len`).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) -> Result<()> {
        p.check_len()?;
        p.set_word0((6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff));
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(&self.src_addr);
        p.set_dst_addr(&self.dst_addr);
        Ok(())
    }

    /// The 40 octets as an array.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut b[..]);
        // Cannot fail: the buffer is exactly HEADER_LEN.
        let _ = self.emit(&mut p);
        b
    }
}

/// A Home Address option found in a Destination Options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomeAddressInfo {
    pub addr: [u8; 16],
    /// Absolute offset of the option's type octet.
    pub offset: u64,
}

/// What [`validate`] learned about an accepted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub header: Repr,
    /// The declared payload length: the Payload Length field, or the Jumbo
    /// Payload Length when that field is 0 and Hop-by-Hop carries Jumbo.
    pub payload_len: u64,
    pub jumbo: Option<JumboInfo>,
    /// Octets of the frame past `40 + payload_len`, to be trimmed (KAME's
    /// `m_adj` in `ip6_input`).
    pub trailing: u64,
    /// The header chain within `40 + payload_len` octets.
    pub chain: Chain,
    /// The Router Alert value, if Hop-by-Hop carried one (RFC 2711).
    pub router_alert: Option<u16>,
    /// The Home Address option (RFC 6275 §6.3, seed §6.1); the last one if
    /// several Destination Options headers carry one.
    pub home_address: Option<HomeAddressInfo>,
    /// Source and destination of the upper-layer checksum pseudo-header
    /// (RFC 8200 §8.1; see [`exthdr::pseudo_header_addrs`]).
    pub pseudo_src: [u8; 16],
    pub pseudo_dst: [u8; 16],
}

impl Validated {
    /// Octets of the packet proper, `40 + payload_len`.
    pub fn packet_len(&self) -> u64 {
        HEADER_LEN as u64 + self.payload_len
    }
}

fn ptr(off: u64) -> u32 {
    u32::try_from(off).unwrap_or(u32::MAX)
}

/// The RFC 8200 §4.2 action for an option this node does not recognize,
/// as KAME's `ip6_unknown_opt`: `Ok` to skip it, else the drop, with the
/// ICMPv6 Parameter Problem code 2 where the action asks for one.
pub fn unknown_option(opt_type: u8, abs_offset: u64, layer: Layer, dst_is_multicast: bool) -> Result<()> {
    let e = |reason| Error::new(layer, crate::error::ErrorKind::Unsupported, abs_offset, reason);
    match opts::action(opt_type) {
        Action::Skip => Ok(()),
        Action::Discard => Err(e("unrecognized option, action 01: discard (RFC 8200 §4.2)")),
        Action::DiscardIcmp => Err(e("unrecognized option, action 10: discard, ICMPv6 Parameter Problem (RFC 8200 §4.2)")
            .answer(Icmp6Answer::option(ptr(abs_offset)))),
        Action::DiscardIcmpUnlessMulticast => {
            let err = e("unrecognized option, action 11: discard, ICMPv6 Parameter Problem unless multicast (RFC 8200 §4.2)");
            Err(if dst_is_multicast { err } else { err.answer(Icmp6Answer::option(ptr(abs_offset))) })
        }
    }
}

fn jumbo_err(off: u64, reason: &'static str) -> Error {
    Error::malformed(Layer::HopByHop, off, reason).answer(Icmp6Answer::header(ptr(off)))
}

/// KAME `ip6_hopopts_input` / `ip6_process_hopopts`: the options of the
/// Hop-by-Hop header at offset 40. Returns (jumbo, router alert).
fn hopopts(hbh: &[u8], plen: u16, dst_mcast: bool) -> Result<(Option<JumboInfo>, Option<u16>)> {
    let base = HEADER_LEN as u64;
    let mut jumbo: Option<JumboInfo> = None;
    let mut ra = None;
    for opt in opts::Iter::new(hbh, base, Layer::HopByHop) {
        let opt = opt?;
        let at = base + opt.offset as u64;
        match opt.opt_type {
            opt_type::PAD1 | opt_type::PADN => {}
            opt_type::JUMBO => {
                if opt.data.len() != usize::from(opts::JUMBO_DATA_LEN) {
                    return Err(jumbo_err(at + 1, "Jumbo Payload Opt Data Len is not 4 (RFC 2675 §3)"));
                }
                if plen != 0 {
                    return Err(jumbo_err(at, "Jumbo Payload option with Payload Length != 0 (RFC 2675 §3)"));
                }
                if jumbo.is_some() {
                    return Err(jumbo_err(at + 2, "more than one Jumbo Payload option (KAME ip6_process_hopopts)"));
                }
                if opt.offset % 4 != 2 {
                    return Err(jumbo_err(at, "Jumbo Payload option not aligned 4n+2 (RFC 2675 §3)"));
                }
                let v = match <[u8; 4]>::try_from(opt.data) {
                    Ok(b) => u32::from_be_bytes(b),
                    Err(_) => return Err(jumbo_err(at + 1, "Jumbo Payload Opt Data Len is not 4 (RFC 2675 §3)")),
                };
                if v <= MAXPACKET {
                    return Err(jumbo_err(at + 2, "Jumbo Payload Length < 65,536 (RFC 2675 §3)"));
                }
                jumbo = Some(JumboInfo { value: v, offset: at });
            }
            opt_type::ROUTER_ALERT => {
                match <[u8; 2]>::try_from(opt.data) {
                    Ok(b) => ra = Some(u16::from_be_bytes(b)),
                    Err(_) => {
                        return Err(Error::malformed(Layer::HopByHop, at + 1, "Router Alert Opt Data Len is not 2 (RFC 2711 §2.1)")
                            .answer(Icmp6Answer::header(ptr(at + 1))))
                    }
                }
            }
            t => unknown_option(t, at, Layer::HopByHop, dst_mcast)?,
        }
    }
    Ok((jumbo, ra))
}

/// KAME `dest6_input`: the options of one Destination Options header at
/// absolute offset `base`. Recognizes Pad1, PadN and Home Address (seed
/// §6.1); others follow their action bits.
fn dest6(hdr: &[u8], base: u64, dst_mcast: bool, hao: &mut Option<HomeAddressInfo>) -> Result<()> {
    for opt in opts::Iter::new(hdr, base, Layer::DestOpts) {
        let opt = opt?;
        let at = base + opt.offset as u64;
        match opt.opt_type {
            opt_type::PAD1 | opt_type::PADN => {}
            opt_type::HOME_ADDRESS => {
                let a = <[u8; 16]>::try_from(opt.data).map_err(|_| {
                    Error::malformed(Layer::DestOpts, at + 1, "Home Address Opt Data Len is not 16 (RFC 6275 §6.3)")
                        .answer(Icmp6Answer::header(ptr(at + 1)))
                })?;
                if !is_unicast_routable(&a) {
                    return Err(Error::malformed(
                        Layer::DestOpts,
                        at + 2,
                        "Home Address is not a unicast routable address (RFC 6275 §6.3, seed §1.14)",
                    ));
                }
                // The last wins, as in `exthdr::pseudo_header_addrs`.
                *hao = Some(HomeAddressInfo { addr: a, offset: at });
            }
            t => unknown_option(t, at, Layer::DestOpts, dst_mcast)?,
        }
    }
    Ok(())
}

/// Not multicast, unspecified, loopback, or IPv4-mapped (seed §1.14).
fn is_unicast_routable(a: &[u8; 16]) -> bool {
    let zero10 = a.iter().take(10).all(|b| *b == 0);
    let mapped = zero10 && a.get(10..12) == Some(&[0xff, 0xff][..]);
    let unspec_or_loop = a.iter().take(15).all(|b| *b == 0) && a.get(15).is_some_and(|b| *b <= 1);
    a.first() != Some(&0xff) && !mapped && !unspec_or_loop
}

/// KAME `ip6_input`'s address sanity checks (`ip6s_badscope`, no ICMPv6):
/// an IPv4-mapped source or destination (seed §1.14: "someone is trying to
/// impersonate IPv4 peer"), a multicast source, an unspecified destination
/// (RFC 4291 §2.5.2, §2.7).
pub fn check_addresses(src: &[u8; 16], dst: &[u8; 16]) -> Result<()> {
    let (s, d) = (field::SRC_ADDR.start as u64, field::DST_ADDR.start as u64);
    if is_v4mapped(src) {
        return Err(Error::malformed(Layer::Ipv6, s, "IPv4-mapped source address on the wire (seed §1.14)"));
    }
    if is_v4mapped(dst) {
        return Err(Error::malformed(Layer::Ipv6, d, "IPv4-mapped destination address on the wire (seed §1.14)"));
    }
    if src[0] == 0xff {
        return Err(Error::malformed(Layer::Ipv6, s, "multicast source address (RFC 4291 §2.7)"));
    }
    if dst == &[0u8; 16] {
        return Err(Error::malformed(Layer::Ipv6, d, "unspecified destination address (RFC 4291 §2.5.2)"));
    }
    Ok(())
}

fn is_v4mapped(a: &[u8; 16]) -> bool {
    u128::from_be_bytes(*a) >> 32 == 0xffff
}

/// Whether `a` lies in one of the ranges that seed §1.14 ("Invalid addresses
/// on the wire") lists as usable to hose an implementation or bypass
/// security controls; returns the reason. The table, as the seed gives it:
///
/// - IPv4-mapped embedding unspecified/loopback/multicast/broadcast:
///   `::ffff:0.0.0.0/104`, `::ffff:127.0.0.0/104`, `::ffff:224.0.0.0/100`,
///   `::ffff:255.0.0.0/104`
/// - 6to4 (RFC 3056) from unspecified/loopback/multicast/broadcast/private
///   IPv4: `2002:0000::/24`, `2002:7f00::/24`, `2002:e000::/24`,
///   `2002:ff00::/24`, `2002:0a00::/24`, `2002:ac10::/28`, `2002:c0a8::/32`
///   (the seed's `2002:e000::/24` covers 224.0.0.0/8 only, not all of
///   224/4; kept as written)
/// - IPv4-compatible embedding the same: `::0.0.0.0/104`, `::127.0.0.0/104`,
///   `::224.0.0.0/100`, `::255.0.0.0/104`, except `::` and `::1`
///   themselves, which are not IPv4-compatible (RFC 4291 §2.5.5.1).
///
/// Policy (dropping, logging) is the node's: KAME applies these through its
/// default filter configuration, not in `ip6_input`.
pub fn suspicious_address(a: &[u8; 16]) -> Option<&'static str> {
    let zero = |n: usize| a.iter().take(n).all(|b| *b == 0);
    let v4 = |i: usize| a.get(i).copied().unwrap_or(0);
    let bad_v4 = |o0: u8| o0 == 0 || o0 == 127 || (224..=239).contains(&o0) || o0 == 255;
    if is_v4mapped(a) && bad_v4(v4(12)) {
        return Some("IPv4-mapped address embedding an unspecified/loopback/multicast/broadcast IPv4 address (seed §1.14)");
    }
    if a[0] == 0x20 && a[1] == 0x02 {
        let (b2, b3) = (a[2], a[3]);
        let bad = matches!(b2, 0x00 | 0x7f | 0xe0 | 0xff | 0x0a) || (b2 == 0xac && b3 & 0xf0 == 0x10) || (b2 == 0xc0 && b3 == 0xa8);
        if bad {
            return Some("6to4 address from an unspecified/loopback/multicast/broadcast/private IPv4 address (seed §1.14)");
        }
    }
    if zero(12) && !(zero(15) && a[15] <= 1) && bad_v4(v4(12)) {
        return Some("IPv4-compatible address embedding an unspecified/loopback/multicast/broadcast IPv4 address (seed §1.14)");
    }
    None
}

/// Validate a received frame the way KAME's `ip6_input` does, in its order:
///
/// 1. 40 octets (`Truncated`, `ip6s_toosmall`), version 6 (`Malformed`,
///    `ip6s_badvers`), [`check_addresses`] (`Malformed`, `ip6s_badscope`).
/// 2. If Next Header is Hop-by-Hop: its options (`ip6_hopopts_input`),
///    with the RFC 2675 §3 errors, each `Malformed` with the Parameter
///    Problem code 0 and pointer the RFC gives: Jumbo with Payload Length
///    != 0 → the option type; Jumbo Payload Length < 65,536 → the
///    high-order octet of that length; Opt Data Len != 4 → the length
///    octet; a second Jumbo or one not aligned 4n+2 → as KAME. Unknown
///    options follow their action bits (`Unsupported`, code 2).
/// 3. Payload Length 0, Next Header Hop-by-Hop and no Jumbo → pointer to
///    the Payload Length field (offset 4).
/// 4. The frame must hold `40 + declared` octets, else `Truncated` with
///    reason "with data size < data length" (`ip6s_tooshort`, no ICMPv6);
///    longer frames are accepted and the excess reported in `trailing`.
/// 5. The chain within `40 + declared` octets ([`exthdr::walk`]:
///    `hdrnestlimit`, Hop-by-Hop only first, RFC 5095 routing rules).
/// 6. Jumbo with a Fragment header → pointer to the first octet of the
///    Fragment header (RFC 2675 §3, KAME `frag6_input`).
/// 7. Destination options (`dest6_input`): Home Address recognized.
///
/// A fragment is validated up to its Fragment header; what follows is the
/// reassembler's, then [`validate_reassembled`]'s (see [`exthdr::walk`]):
/// the options of Destination Options headers after the Fragment header of
/// a first fragment are not judged either.
pub fn validate(frame: &[u8], hdrnestlimit: u32) -> Result<Validated> {
    validate_as(frame, hdrnestlimit, Walk::Whole)
}

/// [`validate`] for the datagram the reassembler rebuilt (or an atomic
/// fragment without its Fragment header): the removed Fragment header
/// counts toward `hdrnestlimit` as KAME's `ip6_input` counted it (seed
/// §1.8), and a Fragment header left in it is nested and refused with
/// Parameter Problem code 0 pointing at it (see
/// [`exthdr::walk_reassembled_into`]).
pub fn validate_reassembled(frame: &[u8], hdrnestlimit: u32) -> Result<Validated> {
    validate_as(frame, hdrnestlimit, Walk::Reassembled)
}

/// [`validate`] for a packet this node does not deliver but forwards: RFC
/// 8200 §4, extension headers other than Hop-by-Hop are the business of
/// the node named in the Destination Address alone. Steps 1 to 4 as in
/// [`validate`] (the IPv6 header, its addresses, the Hop-by-Hop header,
/// the lengths with the jumbogram rules); the rest of the chain is read,
/// as [`exthdr::walk_transit_into`] does, and reported (`chain.upper`,
/// `upper_offset`, `headers`: what the ICMPv6 error rules and the Redirect
/// rule of `ip6_forward` look at) but not judged: steps 5 to 7 raise
/// nothing. `hdrnestlimit` bounds the read (it stops there) instead of
/// refusing the packet, as KAME's `ip6_input` ran its header loop for
/// local delivery only. `home_address` is `None`: Destination Options are
/// not processed.
pub fn validate_transit(frame: &[u8], hdrnestlimit: u32) -> Result<Validated> {
    validate_as(frame, hdrnestlimit, Walk::Transit)
}

/// Which walk [`validate_impl`] makes of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// A packet as received, for us ([`validate`]).
    Whole,
    /// A datagram the reassembler rebuilt ([`validate_reassembled`]).
    Reassembled,
    /// A packet to forward ([`validate_transit`]).
    Transit,
}

fn validate_as(frame: &[u8], hdrnestlimit: u32, how: Walk) -> Result<Validated> {
    let mut chain = Chain::default();
    let mut c = Checked::EMPTY;
    validate_impl(frame, hdrnestlimit, how, &mut chain, &mut c)?;
    let (pseudo_src, pseudo_dst) = c.pseudo_addrs(frame, &chain);
    Ok(Validated {
        header: c.header,
        payload_len: c.payload_len,
        jumbo: c.jumbo,
        trailing: c.trailing,
        chain,
        router_alert: c.router_alert,
        home_address: c.home_address,
        pseudo_src,
        pseudo_dst,
    })
}

/// What [`validate_into`] returns: [`Validated`] without the chain, which
/// it writes into the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub header: Repr,
    pub payload_len: u64,
    pub jumbo: Option<JumboInfo>,
    pub trailing: u64,
    pub router_alert: Option<u16>,
    pub home_address: Option<HomeAddressInfo>,
}

impl Checked {
    /// A placeholder to be overwritten by [`validate_to`].
    pub const EMPTY: Checked = Checked {
        header: Repr {
            src_addr: [0; 16],
            dst_addr: [0; 16],
            next_header: proto::NONE,
            payload_len: 0,
            hop_limit: 0,
            traffic_class: 0,
            flow_label: 0,
        },
        payload_len: 0,
        jumbo: None,
        trailing: 0,
        router_alert: None,
        home_address: None,
    };

    /// Octets of the packet proper, `40 + payload_len`.
    pub fn packet_len(&self) -> u64 {
        HEADER_LEN as u64 + self.payload_len
    }

    /// Source and destination of the upper-layer checksum pseudo-header
    /// of `frame`, whose chain is `chain` (see
    /// [`exthdr::pseudo_header_addrs`]).
    pub fn pseudo_addrs(&self, frame: &[u8], chain: &Chain) -> ([u8; 16], [u8; 16]) {
        let own = (self.header.src_addr, self.header.dst_addr);
        if chain.headers.is_empty() {
            return own;
        }
        let end = usize::try_from(self.packet_len()).unwrap_or(usize::MAX).min(frame.len());
        exthdr::pseudo_header_addrs(frame.get(..end).unwrap_or(frame), chain).unwrap_or(own)
    }
}

/// [`validate`] with the header chain walked into `chain` (no copy of it):
/// the path of `dissect` and `parse_many`.
pub fn validate_into(frame: &[u8], hdrnestlimit: u32, chain: &mut Chain) -> Result<Checked> {
    let mut c = Checked::EMPTY;
    validate_to(frame, hdrnestlimit, chain, &mut c)?;
    Ok(c)
}

/// [`validate_into`] writing its findings into the caller's `out` too (no
/// copy of them on the way back): the path of `dissect`.
#[inline(always)]
pub fn validate_to(frame: &[u8], hdrnestlimit: u32, chain: &mut Chain, out: &mut Checked) -> Result<()> {
    validate_impl(frame, hdrnestlimit, Walk::Whole, chain, out)
}

#[inline(always)]
fn validate_impl(frame: &[u8], hdrnestlimit: u32, how: Walk, chain: &mut Chain, out: &mut Checked) -> Result<()> {
    let flen = frame.len() as u64;
    let pkt = Packet::new_checked(frame)?;
    let header = Repr::parse(&pkt)?;
    check_addresses(&header.src_addr, &header.dst_addr)?;
    let dst_mcast = header.dst_addr[0] == 0xff;
    let plen = header.payload_len;

    let (jumbo, router_alert) = if header.next_header == proto::HOPOPTS {
        let hbh = exthdr::options_header_at(frame, HEADER_LEN, Layer::HopByHop)?;
        hopopts(hbh, plen, dst_mcast)?
    } else {
        (None, None)
    };

    if plen == 0 && header.next_header == proto::HOPOPTS && jumbo.is_none() {
        return Err(Error::malformed(
            Layer::Ipv6,
            PAYLOAD_LEN_OFFSET as u64,
            "Payload Length 0 with Hop-by-Hop header but no Jumbo Payload option (RFC 2675 §3)",
        )
        .answer(Icmp6Answer::header(PAYLOAD_LEN_OFFSET as u32)));
    }

    let declared: u64 = match jumbo {
        Some(j) => u64::from(j.value),
        None => u64::from(plen),
    };
    let needed = HEADER_LEN as u64 + declared;
    if flen < needed {
        return Err(Error::truncated(Layer::Ipv6, 0, needed, flen, "with data size < data length"));
    }
    let trailing = flen - needed;
    let packet = usize::try_from(needed).ok().and_then(|n| frame.get(..n)).ok_or(Error::truncated(
        Layer::Ipv6,
        0,
        needed,
        flen,
        "with data size < data length",
    ))?;

    match how {
        Walk::Whole => exthdr::walk_into(packet, header.next_header, HEADER_LEN, hdrnestlimit, chain)?,
        Walk::Reassembled => exthdr::walk_reassembled_into(packet, header.next_header, HEADER_LEN, hdrnestlimit, chain)?,
        Walk::Transit => {
            // RFC 8200 §4: the rest is the destination's.
            exthdr::walk_transit_into(packet, header.next_header, HEADER_LEN, hdrnestlimit, chain)?;
            *out = Checked { header, payload_len: declared, jumbo, trailing, router_alert, home_address: None };
            return Ok(());
        }
    }

    if let (Some(_), Some(f)) = (jumbo, chain.fragment) {
        return Err(Error::malformed(
            Layer::Fragment,
            f.offset,
            "Jumbo Payload option with a Fragment header (RFC 2675 §3)",
        )
        .answer(Icmp6Answer::header(ptr(f.offset))));
    }

    // The headers after the Fragment header of a real fragment are judged
    // after reassembly (RFC 8200 §4.5); an atomic fragment's, now.
    let judged_end = match chain.fragment {
        Some(f) if f.repr.frag_offset != 0 || f.repr.more_frags => f.offset,
        _ => u64::MAX,
    };
    let mut home_address = None;
    for h in chain.headers.iter().filter(|h| h.proto == proto::DSTOPTS && h.offset < judged_end) {
        let (s, e) = (h.offset as usize, (h.offset + h.len) as usize);
        if let Some(hdr) = packet.get(s..e) {
            dest6(hdr, h.offset, dst_mcast, &mut home_address)?;
        }
    }

    *out = Checked { header, payload_len: declared, jumbo, trailing, router_alert, home_address };
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    // An ICMPv6 Echo Request fe80::1 -> ff02::1 built with scapy 2.6
    // (IPv6(src="fe80::1", dst="ff02::1", tc=0xb8, fl=0x12345, hlim=255)
    //  / ICMPv6EchoRequest(id=0x1234, seq=1, data=b"kame")).
    const PACKET_BYTES: [u8; 52] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x0c, 0x3a, 0xff, //
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, //
        0x80, 0x00, 0x97, 0x37, 0x12, 0x34, 0x00, 0x01, b'k', b'a', b'm', b'e',
    ];

    fn fe80_1() -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[15] = 1;
        a
    }
    fn ff02_1() -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xff;
        a[1] = 0x02;
        a[15] = 1;
        a
    }

    fn repr() -> Repr {
        Repr {
            src_addr: fe80_1(),
            dst_addr: ff02_1(),
            next_header: 58,
            payload_len: 12,
            hop_limit: 255,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 12);
        assert_eq!(p.next_header(), 58);
        assert_eq!(p.hop_limit(), 255);
        assert_eq!(p.src_addr(), fe80_1());
        assert_eq!(p.dst_addr(), ff02_1());
        assert_eq!(p.payload().len(), 12);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 52];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0xb8);
        p.set_flow_label(0x12345);
        p.set_payload_len(12);
        p.set_next_header(58);
        p.set_hop_limit(255);
        p.set_src_addr(&fe80_1());
        p.set_dst_addr(&ff02_1());
        p.payload_mut().copy_from_slice(&PACKET_BYTES[40..]);
        assert_eq!(buf, PACKET_BYTES);
    }

    #[test]
    fn parse_emit() {
        let p = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr());
        assert_eq!(repr().to_bytes()[..], PACKET_BYTES[..40]);
    }

    #[test]
    fn truncated_and_bad_version() {
        let e = Packet::new_checked(&PACKET_BYTES[..39]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 40, available: 39 });
        // new_unchecked on a short buffer never panics.
        let p = Packet::new_unchecked(&PACKET_BYTES[..3]);
        assert_eq!(p.payload_len(), 0);
        assert_eq!(p.src_addr(), [0; 16]);
        let mut b = PACKET_BYTES;
        b[0] = 0x4b;
        let e = validate(&b, 50).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.icmp.is_none());
    }

    #[test]
    fn validate_plain_and_trailing() {
        let v = validate(&PACKET_BYTES, 50).unwrap();
        assert_eq!(v.payload_len, 12);
        assert_eq!(v.trailing, 0);
        assert_eq!(v.chain.upper, 58);
        assert_eq!(v.chain.upper_offset, 40);
        assert_eq!(v.chain.upper_nh_offset, 6);
        let mut long = PACKET_BYTES.to_vec();
        long.extend_from_slice(&[0; 6]);
        assert_eq!(validate(&long, 50).unwrap().trailing, 6);
        let e = validate(&PACKET_BYTES[..51], 50).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 52, available: 51 });
        assert_eq!(e.reason, "with data size < data length");
        assert!(e.icmp.is_none());
    }

    /// IPv6 + Hop-by-Hop with Jumbo (the layout of `ping6 -b 70000 -s 68000
    /// ::1`, seed §1.7) followed by `rest`.
    fn jumbogram(jumbo_len: u32, plen: u16, rest: &[u8], next: u8) -> Vec<u8> {
        let mut b = Vec::with_capacity(48 + rest.len());
        let mut r = repr();
        r.src_addr = [0; 16];
        r.src_addr[15] = 1;
        r.dst_addr = r.src_addr;
        r.payload_len = plen;
        r.next_header = 0;
        r.hop_limit = 64;
        r.traffic_class = 0;
        r.flow_label = 0;
        b.extend_from_slice(&r.to_bytes());
        b.extend_from_slice(&[next, 0, 0xc2, 4]);
        b.extend_from_slice(&jumbo_len.to_be_bytes());
        b.extend_from_slice(rest);
        b
    }

    #[test]
    fn jumbo_length_near_2_32_without_allocating() {
        let b = jumbogram(0xffff_ffff, 0, &[], 59);
        assert_eq!(b.len(), 48);
        let e = validate(&b, 50).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated { needed: 0xffff_ffff + 40, available: 48 });
        assert_eq!(e.reason, "with data size < data length");
        assert!(e.icmp.is_none());
    }

    #[test]
    fn jumbogram_68000() {
        // ping6 -s 68000: ICMPv6 echo header 8 + 67992 data.
        let mut icmp = vec![0u8; 68000];
        icmp[0] = 128;
        icmp[4..6].copy_from_slice(&0x4b41u16.to_be_bytes());
        for (i, b) in icmp[8..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let b = jumbogram(8 + 68000, 0, &icmp, 58);
        assert_eq!(b.len(), 40 + 8 + 68000);
        let v = validate(&b, 50).unwrap();
        assert_eq!(v.payload_len, 68008);
        assert_eq!(v.jumbo, Some(JumboInfo { value: 68008, offset: 42 }));
        assert_eq!(v.chain.upper, 58);
        assert_eq!(v.chain.upper_offset, 48);
        assert_eq!(v.chain.upper_nh_offset, 40);
        assert_eq!(v.chain.unfragmentable_len, 48);
        assert_eq!(v.trailing, 0);
        assert_eq!(v.chain.jumbo, v.jumbo);
    }

    #[test]
    fn rfc2675_errors() {
        let icmp = vec![0u8; 70000];
        // Jumbo with Payload Length != 0: pointer to the option type (42).
        let e = validate(&jumbogram(70008, 8, &icmp, 58), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(42)));
        // Jumbo Payload Length < 65536: pointer to its high-order octet (44).
        let e = validate(&jumbogram(65535, 0, &icmp, 58), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(44)));
        // Payload Length 0, Next Header HBH, no Jumbo: pointer 4.
        let mut b = jumbogram(70008, 0, &icmp, 58);
        b[42] = 0x01; // PadN(4) in place of Jumbo
        let e = validate(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(4)));
        assert_eq!(e.offset, 4);
        // Jumbo with a Fragment header: pointer to the Fragment header (48).
        let mut rest = vec![58, 0, 0, 0, 0, 0, 0, 1];
        rest.extend_from_slice(&icmp);
        let e = validate(&jumbogram(70008, 0, &rest, 44), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(48)));
        assert_eq!(e.layer, Layer::Fragment);
        // Opt Data Len != 4: pointer to the length octet (43); the two
        // octets left over become Pad1s.
        let mut b = jumbogram(70008, 0, &icmp, 58);
        b[43] = 2;
        b[46] = 0;
        b[47] = 0;
        let e = validate(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(43)));
        // Misaligned: Pad1 then Jumbo at offset 3 of a 16-octet header,
        // then PadN(5): pointer to the option type (43).
        let mut b = repr();
        b.next_header = 0;
        b.payload_len = 0;
        let mut b = b.to_bytes().to_vec();
        b.extend_from_slice(&[58, 1, 0x00, 0xc2, 4]);
        b.extend_from_slice(&(16u32 + 70000).to_be_bytes());
        b.extend_from_slice(&[0x01, 5, 0, 0, 0, 0, 0]);
        assert_eq!(b.len(), 56);
        b.extend_from_slice(&icmp);
        let e = validate(&b, 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::header(43)));
    }

    #[test]
    fn unknown_hbh_option_actions() {
        // HBH: 3b 00 | opt type T len 4 (0 0 0 0): 8 octets, PL 8.
        let mk = |t: u8, dst: [u8; 16]| {
            let mut r = repr();
            r.next_header = 0;
            r.payload_len = 8;
            r.dst_addr = dst;
            let mut b = r.to_bytes().to_vec();
            b.extend_from_slice(&[59, 0, t, 4, 0, 0, 0, 0]);
            b
        };
        let mut uni = fe80_1();
        uni[15] = 2;
        assert!(validate(&mk(0x1e, uni), 50).is_ok());
        let e = validate(&mk(0x5e, uni), 50).unwrap_err();
        assert_eq!((e.kind, e.icmp), (ErrorKind::Unsupported, None));
        let e = validate(&mk(0x9e, ff02_1()), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::option(42)));
        let e = validate(&mk(0xde, ff02_1()), 50).unwrap_err();
        assert_eq!(e.icmp, None);
        let e = validate(&mk(0xde, uni), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::option(42)));
        // Router alert recognized.
        let mut b = mk(0x05, uni);
        b[43] = 2;
        b[46] = 1;
        b[47] = 0;
        let v = validate(&b, 50).unwrap();
        assert_eq!(v.router_alert, Some(0));
    }

    #[test]
    fn addresses_seed_1_14() {
        let a = |s: &str| -> [u8; 16] { s.parse::<std::net::Ipv6Addr>().unwrap().octets() };
        for bad in ["::ffff:0.0.0.1", "::ffff:127.0.0.1", "::ffff:239.1.1.1", "::ffff:255.255.255.255",
                    "2002::1", "2002:7f00:1::", "2002:e000::1", "2002:ff00::", "2002:0a00::", "2002:ac1f::",
                    "2002:c0a8:101::1", "::0.0.0.2", "::127.0.0.1", "::224.0.0.1", "::255.0.0.1"] {
            assert!(suspicious_address(&a(bad)).is_some(), "{bad}");
        }
        for good in ["::", "::1", "::ffff:192.0.2.1", "2002:c000:0201::1", "2002:ac20::", "2001:db8::1",
                     "::192.0.2.1", "fe80::1", "ff02::1"] {
            assert!(suspicious_address(&a(good)).is_none(), "{good}");
        }
        let (u, m) = (a("2001:db8::1"), a("ff02::1"));
        assert!(check_addresses(&u, &m).is_ok());
        assert_eq!(check_addresses(&m, &u).unwrap_err().offset, 8);
        assert_eq!(check_addresses(&u, &[0; 16]).unwrap_err().offset, 24);
        assert_eq!(check_addresses(&a("::ffff:192.0.2.1"), &u).unwrap_err().offset, 8);
        assert_eq!(check_addresses(&u, &a("::ffff:192.0.2.1")).unwrap_err().offset, 24);
    }

    #[test]
    fn home_address_option() {
        // DestOpts with PadN(2) + HAO 2001:db8::1 (RFC 6275 §6.3 layout).
        let mut r = repr();
        r.dst_addr = fe80_1();
        r.next_header = 60;
        r.payload_len = 24;
        let mut b = r.to_bytes().to_vec();
        let mut hao = [0u8; 16];
        hao[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        hao[15] = 1;
        b.extend_from_slice(&[59, 2, 1, 2, 0, 0, 0xc9, 16]);
        b.extend_from_slice(&hao);
        let v = validate(&b, 50).unwrap();
        assert_eq!(v.home_address, Some(HomeAddressInfo { addr: hao, offset: 46 }));
        b[48] = 0xff;
        assert!(validate(&b, 50).is_err());
    }

    /// A packet with `ext` (headers, first named `nh`) and no upper layer
    /// beyond what `ext` names, to 2001:db8::2.
    fn with_chain(nh: u8, ext: &[u8]) -> Vec<u8> {
        let mut r = repr();
        r.dst_addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        r.next_header = nh;
        r.payload_len = ext.len() as u16;
        let mut b = r.to_bytes().to_vec();
        b.extend_from_slice(ext);
        b
    }

    #[test]
    fn transit_judges_header_and_hop_by_hop_only() {
        // RFC 8200 §4: what only the destination judges.
        let rh0 = [59, 2, 0, 1, 0, 0, 0, 0, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let dst_discard = [59, 0, 0x81, 4, 0, 0, 0, 0];
        let two_frags = [44, 0, 0, 0, 0, 0, 0, 1, 59, 0, 0, 0, 0, 0, 0, 2];
        let late_hbh = [0, 0, 1, 4, 0, 0, 0, 0, 59, 0, 1, 4, 0, 0, 0, 0];
        let mut deep = Vec::new();
        for i in 0..60 {
            deep.extend_from_slice(&[if i < 59 { 60 } else { 59 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        let cases: [(u8, &[u8]); 5] = [(43, &rh0), (60, &dst_discard), (44, &two_frags), (60, &late_hbh), (60, &deep)];
        for (nh, ext) in cases {
            let b = with_chain(nh, ext);
            assert!(validate(&b, 50).is_err(), "{nh} {ext:?}");
            let v = validate_transit(&b, 50).unwrap();
            assert_eq!(v.packet_len(), b.len() as u64);
        }
        let v = validate_transit(&with_chain(43, &rh0), 50).unwrap();
        assert_eq!((v.chain.upper, v.chain.upper_offset, v.chain.headers.len()), (59, 64, 1));
        // hdrnestlimit stops the read: 50 headers and the 51st named.
        let v = validate_transit(&with_chain(60, &deep), 50).unwrap();
        assert_eq!((v.chain.headers.len(), v.chain.upper, v.chain.truncated), (50, 60, false));
        assert_eq!(validate_transit(&with_chain(60, &deep), 0).unwrap().chain.headers.len(), 60);
        // A misplaced Hop-by-Hop header ends the read.
        let v = validate_transit(&with_chain(60, &late_hbh), 50).unwrap();
        assert_eq!((v.chain.upper, v.chain.upper_offset), (0, 48));
        // Hop-by-Hop is every node's: an unknown option, action 10.
        let e = validate_transit(&with_chain(0, &[59, 0, 0x9e, 4, 0, 0, 0, 0]), 50).unwrap_err();
        assert_eq!(e.icmp, Some(Icmp6Answer::option(42)));
        // The lengths too: a header that runs past the packet is read as far as it goes.
        let mut short = with_chain(43, &rh0);
        short[5] = 8;
        short.truncate(48);
        let v = validate_transit(&short, 50).unwrap();
        assert!(v.chain.truncated);
        short[5] = 9;
        assert!(validate_transit(&short, 50).unwrap_err().is_truncated());
        // What validate accepts, validate_transit accepts with the same chain.
        let ok = with_chain(60, &[59, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(validate_transit(&ok, 50).unwrap().chain, validate(&ok, 50).unwrap().chain);
    }
}
