#![no_main]
//! tcp_syncache: any octets as a sequence of SYNs, handshake ACKs, RSTs,
//! ICMP errors and clock steps for the core's SYN queue. Nothing panics;
//! the table never holds more entries than the bound it was given; every
//! SYN,ACK parses under its pseudo-header with the ACK of the SYN; the
//! timer queue drains (every entry ends within 15 s of its last SYN). The
//! interpreter is the core's `tcp::syncache_ops::run_ops`, which the core's
//! own tests also run.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kame_core::tcp::syncache_ops::run_ops(data);
});
