#![no_main]
//! tcp_input: any octets as a TCP segment under an IPv6 and an IPv4
//! pseudo-header. Parsing never panics; a parsed segment's header length is
//! within the input, at most 4 SACK blocks come out, and rebuilding the
//! segment from the parsed fields and the input's option area checksums to
//! a segment that parses to the same fields.
use kame_core::cksum::Pseudo;
use kame_core::tcp::seg::{build_options, emit, Header, Segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v6 = Pseudo::V6 { src: "2001:db8::1".parse().unwrap(), dst: "2001:db8::2".parse().unwrap() };
    let v4 = Pseudo::V4 { src: [10, 0, 0, 1].into(), dst: [10, 0, 0, 2].into() };
    let _ = Segment::parse(data, Some(&v4));
    let Ok(s) = Segment::parse(data, None) else { return };
    assert!(s.header_len >= 20 && s.header_len <= data.len());
    assert!(s.opts.sack.len() <= 4);
    let o = &s.opts;
    let opts = build_options(o.mss, o.wscale, o.sack_permitted, o.ts, &o.sack);
    assert!(opts.len() <= 40 && opts.len() % 4 == 0);
    let h = Header { src_port: s.src_port, dst_port: s.dst_port, seq: s.seq, ack: s.ack, flags: s.flags, window: s.window, urgent: s.urgent };
    let mut out = Vec::new();
    emit(&mut out, &h, &opts, data.get(s.header_len..).unwrap_or(&[]), &v6).unwrap();
    let r = Segment::parse(&out, Some(&v6)).unwrap();
    assert_eq!((r.seq, r.ack, r.flags, r.window), (s.seq, s.ack, s.flags, s.window));
    assert_eq!(r.opts.mss, o.mss);
    assert_eq!(r.opts.ts, o.ts);
});
