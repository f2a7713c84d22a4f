#![no_main]
//! inet_ip_validate: any bytes through `ip_validate` (with and without the
//! checksum), the ICMP parser, `ip_fragment` and `ip_forward_ttl`. No
//! panic; a datagram that validates fragments into pieces that validate,
//! fit the MTU and carry its data in order.
use kame_core::inet::{icmp, ip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mtu_b, pkt) = match data.split_first() {
        Some((m, p)) => (*m, p),
        None => return,
    };
    let _ = icmp::parse(pkt, true);
    let _ = icmp::parse(pkt, false);
    let _ = ip::ip_options(pkt.get(..40.min(pkt.len())).unwrap_or(&[]), 20);
    let _ = ip::ip_validate(pkt, true);
    let Ok(v) = ip::ip_validate(pkt, false) else {
        return;
    };
    assert!(v.header_len >= 20 && v.header_len <= v.total_len && v.total_len <= pkt.len());
    if let Ok(f) = ip::ip_forward_ttl(pkt) {
        assert!(ip::ip_validate(&f, true).is_ok());
    }
    let mtu = 28 + usize::from(mtu_b) * 8;
    if let Ok(frags) = ip::ip_fragment(pkt, mtu) {
        let mut data = Vec::new();
        for f in &frags {
            assert!(frags.len() == 1 || f.len() <= mtu);
            let fv = ip::ip_validate(f, frags.len() > 1).expect("a fragment we built validates");
            if frags.len() > 1 {
                assert_eq!(fv.frag_off, v.frag_off + data.len());
            }
            data.extend_from_slice(&f[fv.header_len..fv.total_len]);
        }
        assert_eq!(data, pkt[v.header_len..v.total_len]);
    }
});
