//! Jumbograms through ESP, AH and IPComp (seed §1.7 with §4: lengths are
//! u64 on these paths), and the seed §4.6 ECN table through the ESP and AH
//! tunnel paths.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::error::ErrorKind;
use crate::tunnel::{self, EcnMode, IP6OPT_JUMBO};

/// An IPv6 jumbogram 2001:db8::1 -> 2001:db8::2: Payload Length 0, a
/// Hop-by-Hop header holding only the Jumbo Payload option (RFC 2675 §2),
/// UDP with length 0 (RFC 2675 §4) and `n` octets of data.
pub(crate) fn jumbogram(n: usize, tc: u8) -> Vec<u8> {
    let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0, 0, 0, 0, 64];
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    let jl = (8 + 8 + n) as u32;
    p.extend_from_slice(&[17, 0, IP6OPT_JUMBO, 4]);
    p.extend_from_slice(&jl.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 0, 0, 0]);
    p.extend((0..n).map(|i| (i % 251) as u8));
    p
}

fn jumbo_len(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[44], p[45], p[46], p[47]])
}

fn esp(enc: &str, kl: usize, auth: Option<(&str, usize)>, mode: Mode) -> EspSa {
    let mut c = EspConfig::new(0x4242, EncAlg::parse(enc).unwrap(), &vec![0x5a; kl]);
    if let Some((a, l)) = auth {
        c.auth = Some(AuthSpec::parse(a, false).unwrap());
        c.auth_key = vec![0xa5; l];
    }
    c.mode = mode;
    EspSa::new(c).unwrap()
}

#[test]
fn length_fields_near_2_16_and_2_32() {
    use tunnel::ip6_payload_fields as f;
    let l = Layer::Ipv6;
    assert_eq!(f(40, l).unwrap(), (0, None));
    assert_eq!(f(40 + 65535, l).unwrap(), (65535, None));
    assert_eq!(f(40 + 65536, l).unwrap(), (0, Some(65536)));
    assert_eq!(f(40 + u64::from(u32::MAX), l).unwrap(), (0, Some(u32::MAX)));
    let e = f(40 + u64::from(u32::MAX) + 1, l).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit { limit: u64::from(u32::MAX) });
    assert!(f(39, l).unwrap_err().is_truncated());
    // the outer header of a tunnel: 8 octets of Hop-by-Hop count too
    let t = crate::tunnel::TunnelParams::new("2001:db8::a".parse().unwrap(), "2001:db8::b".parse().unwrap());
    let mut h = Vec::new();
    let o = t.write_outer(&mut h, 50, 0, false, u64::from(u32::MAX) - 8).unwrap();
    assert_eq!((o.len, o.nh_at, h.len()), (48, 40, 48));
    assert_eq!(jumbo_len(&h), u32::MAX);
    assert_eq!((h[6], h[40], h[42]), (0, 50, IP6OPT_JUMBO));
    let e = t.write_outer(&mut Vec::new(), 50, 0, false, u64::from(u32::MAX) - 7).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit { limit: u64::from(u32::MAX) });
    let mut h = Vec::new();
    assert_eq!(t.write_outer(&mut h, 50, 0, false, 65535).unwrap().len, 40);
    assert_eq!(&h[4..6], &[0xff, 0xff]);
    let mut h = Vec::new();
    assert_eq!(t.write_outer(&mut h, 50, 0, false, 65536).unwrap().len, 48);
    assert_eq!(jumbo_len(&h), 65544);
    // an IPv4 outer header cannot carry more than 65535 - 20
    let t4 = crate::tunnel::TunnelParams::new("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    assert!(t4.write_outer(&mut Vec::new(), 50, 0, false, 65515).is_ok());
    let e = t4.write_outer(&mut Vec::new(), 50, 0, false, 65516).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
    // ESP's own length arithmetic, in u64 with no packet in memory
    let sa = esp("aes-cbc", 16, Some(("hmac-sha1", 20)), Mode::Transport);
    assert_eq!(sa.sealed_len(u64::from(u32::MAX), 14), u64::from(u32::MAX) + 8 + 16 + 14 + 2 + 12);
}

#[test]
fn rfc2675_receive_checks() {
    let l = Layer::Ipv6;
    let good = jumbogram(70000, 0);
    assert_eq!(tunnel::ip6_end(&good, l).unwrap(), good.len() as u64);
    // a Jumbo Payload option with a nonzero Payload Length
    let mut b = good.clone();
    b[4..6].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(tunnel::ip6_end(&b, l).unwrap_err().kind, ErrorKind::Malformed);
    // ... or one whose Payload Length ends inside the Hop-by-Hop header
    b[4..6].copy_from_slice(&1u16.to_be_bytes());
    assert!(tunnel::ip6_end(&b, l).unwrap_err().is_truncated());
    // Payload Length 0 and no option
    let mut b = good.clone();
    b[42] = 1; // PadN
    assert_eq!(tunnel::ip6_end(&b, l).unwrap_err().kind, ErrorKind::Malformed);
    // a Jumbo Payload Length of 65535 or less
    let mut b = good.clone();
    b[44..48].copy_from_slice(&65535u32.to_be_bytes());
    assert_eq!(tunnel::ip6_end(&b, l).unwrap_err().kind, ErrorKind::Malformed);
    // the option's data length must be 4
    let mut b = good.clone();
    b[43] = 2;
    assert!(tunnel::ip6_end(&b, l).is_err());
    // a packet shorter than its Jumbo Payload Length: ESP/AH refuse it
    let sa = &mut esp("null", 0, Some(("hmac-sha1", 20)), Mode::Transport);
    let c = sa.output(&good, None).unwrap();
    let e = esp("null", 0, Some(("hmac-sha1", 20)), Mode::Transport).input(&c[..c.len() - 1]).unwrap_err();
    assert!(e.is_truncated(), "{e:?}");
}

#[test]
fn esp_transport_jumbogram() {
    let p = jumbogram(70000, 0x28);
    for (enc, kl, auth) in [
        ("null", 0, Some(("hmac-sha1", 20))),
        ("aes-cbc", 16, Some(("hmac-sha256-128", 32))),
        ("aes-gcm-16", 20, None),
        ("chacha20-poly1305", 36, None),
    ] {
        let mut tx = esp(enc, kl, auth, Mode::Transport);
        let mut rx = esp(enc, kl, auth, Mode::Transport);
        let c = tx.output(&p, None).unwrap();
        // Payload Length 0; the Jumbo option stays first and grows with ESP
        assert_eq!(&c[4..7], &[0, 0, 0], "{enc}");
        assert_eq!((c[40], c[42]), (50, IP6OPT_JUMBO));
        assert_eq!(u64::from(jumbo_len(&c)), c.len() as u64 - 40);
        assert_eq!(rx.input(&c).unwrap(), p, "{enc}");
        let mut bad = tx.output(&p, None).unwrap();
        bad[48 + 8 + 16 + 300] ^= 0x40;
        assert_eq!(rx.input(&bad).unwrap_err().kind, ErrorKind::Integrity, "{enc}");
    }
}

#[test]
fn ah_transport_jumbogram() {
    let p = jumbogram(66000, 0);
    for (alg, kl) in [("hmac-sha1", 20), ("hmac-sha512-256", 64), ("aes-xcbc-mac", 16)] {
        let cfg = AhConfig::new(0x77, AuthSpec::parse(alg, false).unwrap(), &vec![3; kl]);
        let (mut tx, mut rx) = (AhSa::new(cfg.clone()).unwrap(), AhSa::new(cfg).unwrap());
        let a = tx.output(&p).unwrap();
        assert_eq!((a[6], a[40], a[48]), (0, 51, 17));
        assert_eq!(u64::from(jumbo_len(&a)), a.len() as u64 - 40);
        assert_eq!(rx.input(&a).unwrap(), p);
        // the Jumbo Payload option is immutable (type 0xC2: bit 0x20
        // clear): AH's zeroing leaves it, so the ICV covers it
        let mut z = a.clone();
        ah::zero_mutable(&mut z, 48, true).unwrap();
        assert_eq!(&z[40..48], &a[40..48]);
        let mut bad = tx.output(&p).unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(rx.input(&bad).unwrap_err().kind, ErrorKind::Integrity);
        // hop limit and traffic class are mutable, even on a jumbogram
        let mut hop = tx.output(&p).unwrap();
        hop[7] = 3;
        hop[1] ^= 0xf0;
        assert_eq!(rx.input(&hop).unwrap(), {
            let mut q = p.clone();
            q[7] = 3;
            q[1] ^= 0xf0;
            q
        });
    }
}

#[test]
fn tunnel_jumbogram_inner_and_outer() {
    let t6 = Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap();
    // a jumbogram inside ESP: the outer header becomes one too
    let inner = jumbogram(80000, 0);
    let mut tx = esp("aes-gcm-16", 20, None, t6);
    let mut rx = esp("aes-gcm-16", 20, None, t6);
    let c = tx.output(&inner, None).unwrap();
    assert_eq!((c[6], c[40], c[42]), (0, 50, IP6OPT_JUMBO));
    assert_eq!(u64::from(jumbo_len(&c)), c.len() as u64 - 40);
    assert_eq!(rx.input(&c).unwrap(), inner);
    // an ordinary inner packet of 65500 octets needs a jumbo outer header
    let mut small = jumbogram(65500 - 56, 0);
    small[40..48].copy_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    let plen = (small.len() - 40) as u16;
    small[4..6].copy_from_slice(&plen.to_be_bytes());
    let c = tx.output(&small, None).unwrap();
    assert_eq!(c[6], 0);
    assert_eq!(rx.input(&c).unwrap(), small);
    // AH in tunnel mode over the jumbo outer header
    let mut cfg = AhConfig::new(0x99, AuthSpec::parse("hmac-sha1", false).unwrap(), &[1; 20]);
    cfg.mode = t6;
    let (mut atx, mut arx) = (AhSa::new(cfg.clone()).unwrap(), AhSa::new(cfg).unwrap());
    let a = atx.output(&inner).unwrap();
    assert_eq!((a[6], a[40]), (0, 51));
    assert_eq!(arx.input(&a).unwrap(), inner);
    // an IPv4 outer header cannot carry it: a typed limit, not a wrap
    let t4 = Mode::tunnel(&[192, 0, 2, 1], &[192, 0, 2, 2]).unwrap();
    let e = esp("aes-gcm-16", 20, None, t4).output(&inner, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
    // nor an ordinary IPv6 packet that grows past 65535 in transport mode
    let mut big = small.clone();
    big.resize(40 + 65535, 0);
    let plen = (big.len() - 40) as u16;
    big[4..6].copy_from_slice(&plen.to_be_bytes());
    let e = esp("aes-cbc", 16, Some(("hmac-sha1", 20)), Mode::Transport).output(&big, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
}

#[test]
fn ipcomp_jumbogram() {
    use crate::ipcomp::{IpcompConfig, IpcompSa};
    let cfg = IpcompConfig { max_inflate: 1 << 20, ..IpcompConfig::default() };
    let mut tx = IpcompSa::new(cfg).unwrap();
    let mut rx = IpcompSa::new(cfg).unwrap();
    // compressible: the compressed datagram is an ordinary packet (the
    // Jumbo option left as PadN) and the receiver restores the jumbogram
    let p = jumbogram(200_000, 0);
    let c = tx.output(&p).unwrap();
    assert!(c.len() < 65535);
    assert_eq!(&c[40..48], &[108, 0, 1, 4, 0, 0, 0, 0]);
    assert_eq!(u16::from_be_bytes([c[4], c[5]]) as usize, c.len() - 40);
    assert_eq!(rx.input(&c).unwrap(), p);
    // still a jumbogram once compressed
    let mut q = jumbogram(300_000, 0);
    let mut x: u32 = 1;
    for (i, b) in q[56..].iter_mut().enumerate() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = if i % 2 == 0 { (x >> 24) as u8 } else { 0 };
    }
    let c = tx.output(&q).unwrap();
    assert!(c.len() > 65575 && c.len() < q.len());
    assert_eq!((c[6], c[40], c[42]), (0, 108, IP6OPT_JUMBO));
    assert_eq!(u64::from(jumbo_len(&c)), c.len() as u64 - 40);
    assert_eq!(rx.input(&c).unwrap(), q);
    // the default cap (65535) refuses it: a limit, memory bounded
    let mut capped = IpcompSa::new(IpcompConfig::default()).unwrap();
    assert!(matches!(capped.input(&c).unwrap_err().kind, ErrorKind::Limit { .. }));
}

/// seed §4.6, written out cell by cell as the seed's table says (not
/// through `ip_ecn_ingress` / `ip_ecn_egress`): (mode, inner TOS) -> outer
/// TOS on encapsulation.
fn seed_ingress(mode: i64, inner: u8) -> u8 {
    match mode {
        -1 => inner,
        0 => inner & 0xfc,
        1 => inner & 0xfe,
        _ => inner, // RFC 6040 normal mode: copy
    }
}

/// (mode, outer TOS arriving, inner TOS) -> inner TOS after
/// decapsulation, or None for RFC 6040's drop.
fn seed_egress(mode: i64, outer: u8, inner: u8) -> Option<u8> {
    match mode {
        -1 | 0 => Some(inner),
        1 => Some(if outer & 0x01 != 0 { inner | 0x01 } else { inner }),
        _ => {
            let (o, i) = (outer & 3, inner & 3);
            let e = match (i, o) {
                (0, 3) => return None,
                (0, _) => 0,
                (2, 0) => 2,
                (2, o) => o,
                (1, 0) | (1, 2) | (1, 1) => 1,
                (1, 3) => 3,
                _ => 3,
            };
            Some((inner & 0xfc) | e)
        }
    }
}

fn set_tos(p: &mut [u8], tos: u8) {
    if p[0] >> 4 == 6 {
        p[0] = 0x60 | (tos >> 4);
        p[1] = (tos << 4) | (p[1] & 0x0f);
    } else {
        p[1] = tos;
        crate::tunnel::ipv4_set_cksum(&mut p[..20]);
    }
}

#[test]
fn seed_4_6_table_through_esp_and_ah_tunnels() {
    let v6_inner = {
        let mut p = jumbogram(64, 0);
        p[40..48].copy_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    };
    let v4_inner = {
        let mut p = vec![0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0x12, 0x34, 0, 53, 0, 16, 0, 0]);
        p.extend_from_slice(b"kame ecn");
        crate::tunnel::ipv4_set_cksum(&mut p[..20]);
        p
    };
    let mut cells = 0;
    for mode in [-1i64, 0, 1, 2] {
        let ecn = EcnMode::from_sysctl(mode).unwrap();
        for (outer_v6, ends) in [(true, (&[0xaa; 16][..], &[0xbb; 16][..])), (false, (&[192, 0, 2, 1][..], &[192, 0, 2, 2][..]))] {
            let m = Mode::tunnel(ends.0, ends.1).unwrap().with_ecn(ecn);
            for base in [&v6_inner, &v4_inner] {
                for dscp in [0x00u8, 0xb8] {
                    for inner_ecn in 0..4u8 {
                        let inner_tos = dscp | inner_ecn;
                        let mut inner = base.clone();
                        set_tos(&mut inner, inner_tos);
                        // encapsulation: ESP and AH write the same outer TOS
                        let mut tx = esp("aes-gcm-16", 20, None, m);
                        let c = tx.output(&inner, None).unwrap();
                        assert_eq!(tunnel::tos_of(&c), seed_ingress(mode, inner_tos), "esp in mode {mode} tos {inner_tos:#x}");
                        let mut ac = AhConfig::new(9, AuthSpec::parse("hmac-sha1", false).unwrap(), &[2; 20]);
                        ac.mode = m;
                        let a = AhSa::new(ac.clone()).unwrap().output(&inner).unwrap();
                        assert_eq!(tunnel::tos_of(&a), seed_ingress(mode, inner_tos), "ah in mode {mode}");
                        // decapsulation: every outer ECN codepoint on arrival
                        // (the outer TOS is outside the ESP ICV and is a
                        // mutable field for AH)
                        for outer_ecn in 0..4u8 {
                            let outer_tos = (seed_ingress(mode, inner_tos) & 0xfc) | outer_ecn;
                            let mut rx = esp("aes-gcm-16", 20, None, m);
                            let mut w = c.clone();
                            set_tos(&mut w, outer_tos);
                            let mut aw = a.clone();
                            set_tos(&mut aw, outer_tos);
                            let ah_got = AhSa::new(ac.clone()).unwrap().input(&aw);
                            match (rx.input(&w), seed_egress(mode, outer_tos, inner_tos)) {
                                (Ok(got), Some(want)) => {
                                    assert_eq!(tunnel::tos_of(&got), want, "mode {mode} outer {outer_tos:#x} inner {inner_tos:#x}");
                                    let mut expect = inner.clone();
                                    set_tos(&mut expect, want);
                                    assert_eq!(got, expect);
                                    assert_eq!(ah_got.unwrap(), expect);
                                }
                                (Err(e), None) => {
                                    assert_eq!(e.kind, ErrorKind::EcnDrop);
                                    assert_eq!(rx.stats.ecn_drops, 1);
                                    assert_eq!(ah_got.unwrap_err().kind, ErrorKind::EcnDrop);
                                }
                                (r, w) => panic!("mode {mode} outer {outer_tos:#x} inner {inner_tos:#x}: {r:?} vs {w:?}"),
                            }
                            cells += 1;
                        }
                    }
                }
            }
            let _ = outer_v6;
        }
    }
    assert_eq!(cells, 4 * 2 * 2 * 2 * 4 * 4);
}
