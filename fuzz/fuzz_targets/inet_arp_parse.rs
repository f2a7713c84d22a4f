#![no_main]
//! inet_arp_parse: any bytes through the ARP parser; what parses emits
//! back to the same 28 octets.
use kame_core::inet::arp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = arp::parse(data) {
        let out = r.emit();
        assert_eq!(&out[..], &data[..arp::ARP_LEN]);
        assert_eq!(arp::parse(&out), Ok(r));
    }
});
