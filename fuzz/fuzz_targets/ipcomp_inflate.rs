#![no_main]
//! Random bytes into the capped raw inflate, into an IPComp association's
//! input (as a whole packet, and wrapped behind an IPv6 + IPComp header so
//! they reach the inflater), and into tunnel decapsulation. Invariants: no
//! panic; inflate output never exceeds its cap; a packet out of `input`
//! never exceeds the cap plus its headers; whatever we deflate inflates
//! back; an IPv6 jumbogram (RFC 2675) built from the input goes out and
//! comes back whole (the receiver's cap raised for it).
use kame_core::ipcomp::{self, IpcompConfig, IpcompSa, Mode};
use kame_core::tunnel::{self, EcnMode, TunnelParams};
use libfuzzer_sys::fuzz_target;

fn v6_ipcomp(comp: &[u8]) -> Vec<u8> {
    let plen = (comp.len() + 4).min(65535) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&plen.to_be_bytes());
    p.extend_from_slice(&[108, 64]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(&[41, 0, 0, 2]);
    p.extend_from_slice(&comp[..comp.len().min(65531)]);
    p
}

/// An IPv6 jumbogram whose payload repeats `body` past 65535 octets.
fn v6_jumbo(body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(&[59, 0, 0xc2, 4, 0, 0, 0, 0]);
    while p.len() < 40 + 65536 + 8 {
        p.extend_from_slice(if body.is_empty() { &[0x6b] } else { body });
    }
    let jl = (p.len() - 40) as u32;
    p[44..48].copy_from_slice(&jl.to_be_bytes());
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((cap_bytes, body)) = rest.split_at_checked(2) else {
        return;
    };
    let cap = u64::from(u16::from_be_bytes([cap_bytes[0], cap_bytes[1]])) * 4;

    // 1. capped inflate
    if let Ok(out) = ipcomp::inflate(body, cap) {
        assert!(out.len() as u64 <= cap);
    }

    // 2. deflate round trip at a level / window picked by `sel`
    if sel & 0x80 != 0 {
        let level = i32::from(sel & 0x0f) % 11 - 1;
        let wbits = 9 + (sel >> 4 & 0x07) % 7;
        let c = ipcomp::deflate(body, level, wbits).expect("valid settings");
        assert_eq!(
            ipcomp::inflate(&c, body.len() as u64).expect("own output"),
            body
        );
    }

    // 3. the association, transport and tunnel, raw and wrapped
    let src = "2001:db8::1".parse().unwrap();
    let dst = "2001:db8::2".parse().unwrap();
    let mut t = TunnelParams::new(src, dst);
    t.ecn = EcnMode::from_sysctl(i64::from(sel & 3) - 1).unwrap();
    for mode in [Mode::Transport, Mode::Tunnel] {
        let cfg = IpcompConfig {
            mode,
            tunnel: Some(t),
            max_inflate: cap,
            ..IpcompConfig::default()
        };
        let mut sa = IpcompSa::new(cfg).unwrap();
        let jumbo = sel & 0x20 != 0;
        let pkts = if jumbo {
            vec![v6_jumbo(body)]
        } else {
            vec![body.to_vec(), v6_ipcomp(body)]
        };
        for pkt in pkts {
            if let Ok(out) = sa.input(&pkt) {
                assert!(out.len() as u64 <= cap.max(65535) + 60 + pkt.len() as u64);
            }
            if let Ok(out) = sa.output(&pkt) {
                // what we send, a peer with the default cap accepts back
                // (a jumbogram's peer raises it)
                let mut peer = IpcompSa::new(IpcompConfig {
                    max_inflate: if jumbo { 1 << 20 } else { 65535 },
                    ..cfg
                })
                .unwrap();
                let back = peer.input(&out).expect("own output must be accepted");
                assert!(!back.is_empty());
                if jumbo && mode == Mode::Transport {
                    assert_eq!(back, pkt);
                }
            }
        }
    }

    // 4. tunnels
    let _ = tunnel::decapsulate(body, t.ecn, sel & 0x40 != 0, 8);
    let _ = tunnel::encapsulate(body, &t);
});
