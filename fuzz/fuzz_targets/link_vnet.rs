#![no_main]
//! link_vnet: any octets as what a TAP opened with IFF_VNET_HDR hands us.
//! Parsing never panics; a header that passes leaves a frame 10 octets
//! shorter whose checksum field (when one is to be completed) lies within
//! it, completing it leaves data that sums to the
//! complement of the pseudo-header sum the field held, and the header re-emits to
//! the same octets. The header of a super-segment for any frame never
//! panics either, and names a TCP header within the frame.
use kame_core::cksum::sum16;
use kame_core::wire::vnet::{self, Repr, F_NEEDS_CSUM, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((r, frame)) = Repr::parse(data) {
        assert_eq!(frame.len() + HEADER_LEN, data.len());
        assert_eq!(&r.emit()[..], &data[..HEADER_LEN]);
        let (r2, out) = vnet::input(data).unwrap();
        assert_eq!(r, r2);
        assert_eq!(out.len(), frame.len());
        if r.flags & F_NEEDS_CSUM != 0 {
            // the field held the pseudo-header's sum P; the data now sums to
            // !P, so with the pseudo-header it sums to all ones
            let start = usize::from(r.csum_start);
            let at = start + usize::from(r.csum_offset);
            let p = u16::from_be_bytes([frame[at], frame[at + 1]]);
            let v = sum16(&out[start..]);
            let want = !p;
            assert!(v == want || (v == 0 && want == 0xFFFF) || (v == 0xFFFF && want == 0), "{v:04x} {want:04x}");
        }
    }
    let gso = u16::from_le_bytes([data.first().copied().unwrap_or(0), data.get(1).copied().unwrap_or(0)]);
    if let Ok(h) = vnet::output_hdr(data, gso) {
        assert!(usize::from(h.hdr_len) <= data.len());
    }
});
