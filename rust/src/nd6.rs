//! The Neighbor Discovery fast path of the node: KAME's `ether_input` ->
//! `ip6_input` -> `icmp6_input` -> `nd6_ns_input` / `nd6_na_input` for the
//! two messages a busy link is made of, in one pass over an Ethernet frame,
//! and the NS/NA output built in one call.
//!
//! [`nd6_classify`] is a filter in front of the general path, not a second
//! implementation of it: it runs the very same parsers
//! ([`ipv6::validate`] with `hdrnestlimit`, [`icmpv6::Repr::parse`] with
//! the checksum over the IPv6 source and destination, code 0, the minimum
//! lengths and KAME's capped option walk with `maxndopt`) and yields the
//! fields the ND state machines need only for a frame that every check of
//! the general path would let through up to the state machines. Anything
//! else (any error, any extension header, any other message, any address
//! the seed's §1.14 or §1.3.1 rules could refuse, a frame of our own) gives
//! `None`, and the caller runs the general path, which judges it and counts
//! the drop under its BSD name. The checks that need node state (hop
//! limit 255, target and destination rules, link-layer address length)
//! stay with the state machines, which see the same fields either way.

use std::net::Ipv6Addr;

use crate::error::{Error, Layer, Result};
use crate::wire::{icmpv6, ipv6, nd, proto};

/// Ethernet II header length and the IPv6 EtherType (RFC 2464).
pub const ETHER_HDR_LEN: usize = 14;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Neighbor Solicitation / Advertisement ICMPv6 types (RFC 4861 §4.3, §4.4).
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// The hop limit of every ND message sent (RFC 4861 §7.2.2, §7.2.4).
pub const ND_HOPLIMIT: u8 = 255;

/// What the ND state machines need of an accepted NS or NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdFields<'a> {
    /// 135 (NS) or 136 (NA).
    pub msg_type: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub hop_limit: u8,
    pub target: [u8; 16],
    /// NA: the R, S, O flags (`NA_FLAG_*`); NS: 0.
    pub flags: u8,
    /// NS: the first Source Link-Layer Address option's data; NA: the
    /// first Target Link-Layer Address option's data (first wins, as KAME).
    pub lladdr: Option<&'a [u8]>,
    /// NS: the first Nonce option's data (RFC 3971 §5.3.2, RFC 7527).
    pub nonce: Option<&'a [u8]>,
    /// Options past `maxndopt`, ignored (`icp6s_nd_toomanyopt`).
    pub toomanyopt: u32,
}

/// Whether `a` is surely outside every range the general path refuses or
/// rewrites: the seed's §1.14 ranges and `::1` all lie in `::/16` or
/// `2002::/16`; the embedded zone form (§1.3.1, `in6_clearscope`) is a
/// non-zero second word in a link-local unicast or an interface/link-local
/// multicast address. The unspecified source of a DAD probe is legal.
fn plain(a: &[u8; 16], unspecified_ok: bool) -> bool {
    let top = u16::from_be_bytes([a[0], a[1]]);
    if top == 0 {
        return unspecified_ok && a == &[0u8; 16];
    }
    if top == 0x2002 {
        return false;
    }
    let linklocal = a[0] == 0xfe && a[1] & 0xc0 == 0x80;
    let scoped_mcast = a[0] == 0xff && matches!(a[1] & 0x0f, 1 | 2);
    !((linklocal || scoped_mcast) && (a[2] != 0 || a[3] != 0))
}

/// Run the general path's parsers over `frame` (Ethernet II) and return
/// the NS/NA fields when the frame would reach the ND state machines, else
/// `None` (see the module documentation). `own_lladdr`: the receiving
/// interface's address, when frames from it are to be dropped (IFF_SIMPLEX).
pub fn nd6_classify<'a>(frame: &'a [u8], hdrnestlimit: u32, maxndopt: usize, own_lladdr: Option<&[u8]>) -> Option<NdFields<'a>> {
    let eth: &[u8; ETHER_HDR_LEN] = frame.get(..ETHER_HDR_LEN)?.try_into().ok()?;
    if u16::from_be_bytes([eth[12], eth[13]]) != ETHERTYPE_IPV6 {
        return None;
    }
    if own_lladdr.is_some_and(|own| Some(own) == eth.get(6..12)) {
        return None;
    }
    let packet = frame.get(ETHER_HDR_LEN..)?;
    let v = ipv6::validate(packet, hdrnestlimit).ok()?;
    let h = &v.header;
    if h.next_header != proto::ICMPV6 || !v.chain.headers.is_empty() || v.chain.upper_offset != ipv6::HEADER_LEN as u64 {
        return None;
    }
    if !plain(&h.src_addr, true) || !plain(&h.dst_addr, false) {
        return None;
    }
    let end = usize::try_from(v.packet_len()).ok()?;
    let body = packet.get(ipv6::HEADER_LEN..end)?;
    let (s, d) = (Ipv6Addr::from(h.src_addr), Ipv6Addr::from(h.dst_addr));
    let (msg_type, target, flags, lladdr, nonce, toomanyopt) = match icmpv6::Repr::parse(body, Some((&s, &d)), maxndopt).ok()? {
        icmpv6::Repr::NeighborSolicit { target, options } => {
            (ND_NEIGHBOR_SOLICIT, target, 0, options.source_lladdr(), options.nonce(), options.toomanyopt)
        }
        icmpv6::Repr::NeighborAdvert { flags, target, options } => {
            (ND_NEIGHBOR_ADVERT, target, flags, options.target_lladdr(), None, options.toomanyopt)
        }
        _ => return None,
    };
    Some(NdFields {
        msg_type,
        src: h.src_addr,
        dst: h.dst_addr,
        hop_limit: h.hop_limit,
        target: target.octets(),
        flags,
        lladdr,
        nonce,
        toomanyopt,
    })
}

fn ip6_nd_packet(out: &mut Vec<u8>, src: &[u8; 16], dst: &[u8; 16], msg: &icmpv6::Repr<'_>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0u8; ipv6::HEADER_LEN]);
    let (s, d) = (Ipv6Addr::from(*src), Ipv6Addr::from(*dst));
    msg.emit(out, Some((&s, &d)))?;
    let plen = out.len() - start - ipv6::HEADER_LEN;
    let payload_len = u16::try_from(plen).map_err(|_| {
        Error::new(Layer::Nd, crate::error::ErrorKind::Limit { limit: 65535 }, 0, "ND message longer than 65535 octets")
    })?;
    let hdr = ipv6::Repr {
        src_addr: *src,
        dst_addr: *dst,
        next_header: proto::ICMPV6,
        payload_len,
        hop_limit: ND_HOPLIMIT,
        traffic_class: 0,
        flow_label: 0,
    };
    if let Some(h) = out.get_mut(start..start + ipv6::HEADER_LEN) {
        h.copy_from_slice(&hdr.to_bytes());
    }
    Ok(())
}

/// Append the IPv6 packet of a Neighbor Advertisement (RFC 4861 §4.4,
/// §7.2.4): hop limit 255, the R/S/O `flags`, a Target Link-Layer Address
/// option when `tlla` is given, the checksum filled in.
pub fn nd6_na_output(out: &mut Vec<u8>, src: &[u8; 16], dst: &[u8; 16], target: &[u8; 16], flags: u8, tlla: Option<&[u8]>) -> Result<()> {
    let options = nd::Options::from_options(tlla.map(nd::Repr::TargetLinkLayerAddr).into_iter().collect());
    let msg = icmpv6::Repr::NeighborAdvert { flags: flags & 0xe0, target: Ipv6Addr::from(*target), options };
    ip6_nd_packet(out, src, dst, &msg)
}

/// Append the IPv6 packet of a Neighbor Solicitation (RFC 4861 §4.3,
/// §7.2.2): hop limit 255, a Source Link-Layer Address option when `slla`
/// is given, then a Nonce option (RFC 7527) when `nonce` is given.
pub fn nd6_ns_output(
    out: &mut Vec<u8>,
    src: &[u8; 16],
    dst: &[u8; 16],
    target: &[u8; 16],
    slla: Option<&[u8]>,
    nonce: Option<&[u8]>,
) -> Result<()> {
    let mut opts = Vec::with_capacity(2);
    if let Some(ll) = slla {
        opts.push(nd::Repr::SourceLinkLayerAddr(ll));
    }
    if let Some(n) = nonce {
        opts.push(nd::Repr::Nonce(n));
    }
    let msg = icmpv6::Repr::NeighborSolicit { target: Ipv6Addr::from(*target), options: nd::Options::from_options(opts) };
    ip6_nd_packet(out, src, dst, &msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    fn frame(pkt: &[u8], smac: [u8; 6]) -> Vec<u8> {
        let mut f = vec![0x33, 0x33, 0xff, 0x01, 0x63, 0x17];
        f.extend_from_slice(&smac);
        f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f.extend_from_slice(pkt);
        f
    }

    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn ns_frame() -> Vec<u8> {
        let mut p = Vec::new();
        nd6_ns_output(&mut p, &a("fe80::1"), &a("ff02::1:ff01:6317"), &a("fe80::200:f8ff:fe01:6317"), Some(&PEER), Some(&[1, 2, 3, 4, 5, 6]))
            .unwrap();
        frame(&p, PEER)
    }

    #[test]
    fn ns_is_classified() {
        let f = ns_frame();
        let n = nd6_classify(&f, 50, 10, None).unwrap();
        assert_eq!(n.msg_type, ND_NEIGHBOR_SOLICIT);
        assert_eq!(n.src, a("fe80::1"));
        assert_eq!(n.dst, a("ff02::1:ff01:6317"));
        assert_eq!(n.target, a("fe80::200:f8ff:fe01:6317"));
        assert_eq!(n.hop_limit, 255);
        assert_eq!(n.lladdr, Some(&PEER[..]));
        assert_eq!(n.nonce, Some(&[1u8, 2, 3, 4, 5, 6][..]));
        assert_eq!(n.toomanyopt, 0);
    }

    #[test]
    fn na_is_classified_with_flags() {
        let mut p = Vec::new();
        nd6_na_output(&mut p, &a("fe80::2"), &a("fe80::1"), &a("fe80::2"), icmpv6::NA_FLAG_SOLICITED | icmpv6::NA_FLAG_OVERRIDE, Some(&PEER))
            .unwrap();
        let f = frame(&p, PEER);
        let n = nd6_classify(&f, 50, 10, None).unwrap();
        assert_eq!((n.msg_type, n.flags, n.lladdr), (ND_NEIGHBOR_ADVERT, 0x60, Some(&PEER[..])));
    }

    #[test]
    fn own_frame_bad_checksum_and_others_go_to_the_general_path() {
        let f = ns_frame();
        assert!(nd6_classify(&f, 50, 10, Some(&PEER)).is_none());
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1; // checksum no longer matches
        assert!(nd6_classify(&bad, 50, 10, None).is_none());
        let mut code = f.clone();
        code[14 + 40 + 1] = 1; // ICMP code 1 (and a wrong checksum)
        assert!(nd6_classify(&code, 50, 10, None).is_none());
        assert!(nd6_classify(&f[..f.len() - 1], 50, 10, None).is_none());
        assert!(nd6_classify(&f[..10], 50, 10, None).is_none());
        let mut v4 = f.clone();
        v4[12] = 0x08;
        v4[13] = 0x00;
        assert!(nd6_classify(&v4, 50, 10, None).is_none());
    }

    #[test]
    fn risky_addresses_go_to_the_general_path() {
        assert!(plain(&a("fe80::1"), false));
        assert!(plain(&a("2001:db8::1"), false));
        assert!(plain(&a("::"), true));
        assert!(!plain(&a("::"), false));
        assert!(!plain(&a("::1"), true));
        assert!(!plain(&a("::ffff:10.0.0.1"), true));
        assert!(!plain(&a("2002:a00::1"), true));
        assert!(!plain(&a("fe80:5::1"), true)); // embedded zone
        assert!(!plain(&a("ff02:3::1"), true));
        assert!(plain(&a("ff05:3::1"), true)); // site scope: no embedded form
    }

    #[test]
    fn ns_output_matches_the_general_emitter() {
        let mut fast = Vec::new();
        nd6_ns_output(&mut fast, &a("fe80::1"), &a("ff02::1:ff00:2"), &a("fe80::2"), Some(&PEER), None).unwrap();
        let msg = icmpv6::Repr::NeighborSolicit {
            target: "fe80::2".parse().unwrap(),
            options: nd::Options::from_options(vec![nd::Repr::SourceLinkLayerAddr(&PEER)]),
        };
        let (s, d) = ("fe80::1".parse().unwrap(), "ff02::1:ff00:2".parse().unwrap());
        let mut body = Vec::new();
        msg.emit(&mut body, Some((&s, &d))).unwrap();
        assert_eq!(&fast[40..], &body[..]);
        assert_eq!(fast[7], 255);
        assert_eq!(u16::from_be_bytes([fast[4], fast[5]]) as usize, body.len());
        assert!(icmpv6::Repr::parse(&fast[40..], Some((&s, &d)), 10).is_ok());
    }
}
