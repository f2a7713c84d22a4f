#![no_main]
//! IPv4 / UDP / TCP parsers on any bytes (first byte picks which): never
//! panic; what parses re-emits and re-parses to the same Repr.
use std::net::{Ipv4Addr, Ipv6Addr};

use kame_core::cksum::Pseudo;
use kame_core::wire::{ipv4, tcp, udp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let v6 = Pseudo::V6 { src: Ipv6Addr::LOCALHOST, dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2) };
    let v4 = Pseudo::V4 { src: Ipv4Addr::new(10, 0, 0, 1), dst: Ipv4Addr::new(10, 0, 0, 2) };
    match sel % 3 {
        0 => {
            let _ = ipv4::Repr::parse(rest, true);
            if let Ok(r) = ipv4::Repr::parse(rest, false) {
                let p = ipv4::Packet::new_checked(rest).expect("checked");
                let mut out = Vec::new();
                r.emit(&mut out).expect("emit");
                out.extend_from_slice(p.payload());
                let again = ipv4::Repr::parse(&out, true).expect("re-parse");
                assert_eq!(again, r);
            }
        }
        1 => {
            let _ = udp::Repr::parse(rest, Some(&v6));
            let _ = udp::Repr::parse(rest, Some(&v4));
            if let Ok(r) = udp::Repr::parse(rest, None) {
                let mut out = Vec::new();
                r.emit(&mut out, Some(&v6)).expect("emit");
                assert_eq!(udp::Repr::parse(&out, Some(&v6)).expect("re-parse"), r);
            }
        }
        _ => {
            let _ = tcp::Repr::parse(rest, Some(&v6));
            if let Ok(r) = tcp::Repr::parse(rest, None) {
                let mut out = Vec::new();
                if r.emit(&mut out, Some(&v4)).is_ok() {
                    let again = tcp::Repr::parse(&out, Some(&v4)).expect("re-parse");
                    assert_eq!(again, r);
                }
            }
        }
    }
});
