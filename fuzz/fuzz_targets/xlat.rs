#![no_main]
//! xlat: arbitrary bytes through the RFC 7915 translator both ways, with
//! an RFC 6052 prefix of a length the input picks (every legal one) and an
//! EAM, forwarding on or off, small MTUs, RFC 6791 pools or none. No
//! panic; every translated packet parses as its family's header with a
//! correct header length field; a translation back never panics either.
use std::net::{Ipv4Addr, Ipv6Addr};

use kame_core::xlat::{xlat_4to6, xlat_6to4, flow4, flow6, Config, Eam, Prefix6052, Table, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, pkt)) = data.split_first() else { return };
    let lens = [32u8, 40, 48, 56, 64, 96];
    let len = lens[usize::from(sel) % lens.len()];
    let Ok(p) = Prefix6052::new(Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0), len) else { return };
    let Ok(e) = Eam::new(Ipv4Addr::new(192, 0, 2, 0), 24, Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0), 120) else {
        return;
    };
    let t = Table { pool6: Some(p), eam: vec![e] };
    let cfg = Config {
        forwarding: sel & 0x80 != 0,
        mtu4: if sel & 0x40 != 0 { 576 } else { 1500 },
        mtu6: 1280 + usize::from(sel & 0x20) * 8,
        pool6791v6: if sel & 0x10 != 0 { vec![Ipv6Addr::new(0x2001, 0xdb8, 0x6791, 0, 0, 0, 0, 1)] } else { vec![] },
        pool6791v4: if sel & 0x10 != 0 { vec![Ipv4Addr::new(203, 0, 113, 91)] } else { vec![] },
        ..Config::default()
    };
    let _ = flow4(pkt);
    let _ = flow6(pkt);
    for v in [xlat_4to6(pkt, &cfg, &t), xlat_6to4(pkt, &cfg, &t, 7)] {
        if let Verdict::Out(out) = v {
            for o in out {
                match o.first().map(|b| b >> 4) {
                    Some(4) => {
                        assert_eq!(usize::from(u16::from_be_bytes([o[2], o[3]])), o.len());
                        let _ = xlat_4to6(&o, &cfg, &t);
                    }
                    Some(6) => {
                        assert_eq!(usize::from(u16::from_be_bytes([o[4], o[5]])) + 40, o.len());
                        let _ = xlat_6to4(&o, &cfg, &t, 1);
                    }
                    _ => panic!("translated packet of no family"),
                }
            }
        }
    }
});
