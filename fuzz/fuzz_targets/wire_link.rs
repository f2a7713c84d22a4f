#![no_main]
//! Link headers and ARP on any bytes (first byte picks the link type):
//! never panic; `link` and `arp` agree with `dissect` on what the payload
//! is; offsets stay inside the frame; an ARP that parses re-emits to the
//! octets it came from, and a cooked or loopback header re-emits and
//! re-parses to itself.
use kame_core::wire::dissect::{self, LinkHeader, LinkType, Settings};
use kame_core::wire::{arp, null, sll};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 6] =
    [LinkType::Raw, LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Loop];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let lt = LINKS[usize::from(sel) % LINKS.len()];
    let settings = Settings { hdrnestlimit: 50, verify_cksum: sel & 0x80 == 0 };
    let l = dissect::link(frame, lt);
    let d = dissect::dissect(frame, lt, settings);
    let a = dissect::arp(frame, lt);
    match &l {
        Err(e) => {
            // A cut link header refuses everything, with the same error.
            assert_eq!(d.as_ref().err(), Some(e));
            assert_eq!(a.as_ref().err(), Some(e));
        }
        Ok(l) => {
            assert!(l.payload_offset <= frame.len() || lt == LinkType::Raw);
            assert!(!(l.is_ip() && l.is_arp()));
            if lt != LinkType::Raw && !l.is_ip() {
                assert!(d.is_err(), "dissect accepted a non-IP payload");
            }
            if let Ok(d) = &d {
                assert_eq!(d.summary.link, if lt == LinkType::Raw { LinkHeader::None } else { l.header });
                assert_eq!(d.summary.net_offset as usize, l.payload_offset);
                if let Some(b) = d.summary.cksum_bad {
                    assert_eq!(d.summary.cksum_ok, Some(false));
                    assert_ne!(b.stored, b.expected);
                }
            }
            match (&a, l.is_arp()) {
                (Ok((al, r)), true) => {
                    assert_eq!(al, l);
                    let body = &frame[l.payload_offset..];
                    let mut out = [0u8; arp::ETHERNET_IPV4_LEN];
                    r.emit(&mut out).expect("emit");
                    assert_eq!(&out[..], &body[..arp::ETHERNET_IPV4_LEN]);
                }
                (Ok(_), false) => panic!("arp accepted a frame whose link header is not ARP"),
                (Err(e), _) => assert!(e.offset <= frame.len() as u64),
            }
            match l.header {
                LinkHeader::Sll(h) => {
                    let mut out = vec![0u8; h.buffer_len()];
                    h.emit(&mut out).expect("emit");
                    assert_eq!(sll::Repr::parse(&out, h.version).expect("re-parse"), h);
                }
                LinkHeader::Null(h) => {
                    let order = if lt == LinkType::Null { null::Order::Host } else { null::Order::Network };
                    let mut out = [0u8; null::HEADER_LEN];
                    h.emit(&mut out, order).expect("emit");
                    // In host order the byte order is a guess: a family
                    // too large for either reading does not round-trip.
                    if order == null::Order::Network || h.family <= 0xffff {
                        assert_eq!(null::Repr::parse(&out, order).expect("re-parse"), h);
                    }
                }
                _ => {}
            }
        }
    }
    // The view never reads past the buffer whatever the lengths say.
    let p = arp::Packet::new_unchecked(frame);
    let n = p.sender_hardware_addr().len() + p.sender_protocol_addr().len() + p.target_hardware_addr().len() + p.target_protocol_addr().len();
    assert!(p.check_len().is_err() || n + arp::HEADER_LEN == p.total_len());
});
