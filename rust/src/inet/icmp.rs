//! ICMPv4 messages (RFC 792, RFC 1122 §3.2.2, RFC 1191): parse with the
//! checks of `icmp_input` (FreeBSD `ip_icmp.c`), build with the checksum.
//!
//! ```text
//!  0                   1                   2                   3
//! |     Type      |     Code      |          Checksum             |
//! |    rest of the header: ident/seq, unused/next-hop MTU, pointer |
//! |    data: echo data, or the invoking IP header + 8 octets ...   |
//! ```
//!
//! | refusal | kind, offset | `icmpstat` |
//! |---|---|---|
//! | shorter than 8 octets | `Truncated`, 0 | `icps_tooshort` |
//! | checksum | `Malformed`, 2 | `icps_checksum` |
//! | error message with a code out of range | `Malformed`, 1 | `icps_badcode` |
//! | error message without the invoking IPv4 header and 8 octets | `Truncated`, 8 | `icps_badlen` |

use crate::cksum;
use crate::error::{Error, Layer, Result};

pub const ICMP_ECHOREPLY: u8 = 0;
pub const ICMP_UNREACH: u8 = 3;
pub const ICMP_SOURCEQUENCH: u8 = 4;
pub const ICMP_REDIRECT: u8 = 5;
pub const ICMP_ECHO: u8 = 8;
pub const ICMP_TIMXCEED: u8 = 11;
pub const ICMP_PARAMPROB: u8 = 12;
pub const ICMP_MINLEN: usize = 8;

/// Is `t` an error message (RFC 1122 §3.2.2: never answered with an error)?
pub const fn is_error(t: u8) -> bool {
    matches!(t, ICMP_UNREACH | ICMP_SOURCEQUENCH | ICMP_REDIRECT | ICMP_TIMXCEED | ICMP_PARAMPROB)
}

/// One ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub icmp_type: u8,
    pub code: u8,
    /// Octets 4..8: identifier and sequence number (echo), next-hop MTU in
    /// the low 16 bits (Fragmentation Needed), pointer in the high 8 bits
    /// (Parameter Problem), gateway (Redirect).
    pub rest: u32,
    /// What follows the 8-octet header.
    pub data: &'a [u8],
}

/// Parse and check one message (the bytes after the IPv4 header).
pub fn parse(buf: &[u8], verify_checksum: bool) -> Result<Repr<'_>> {
    if buf.len() < ICMP_MINLEN {
        return Err(Error::truncated(Layer::Icmp, 0, ICMP_MINLEN as u64, buf.len() as u64, "ICMP header (RFC 792)"));
    }
    if verify_checksum && cksum::ip_cksum(buf) != 0 {
        return Err(Error::malformed(Layer::Icmp, 2, "bad ICMP checksum (RFC 792)"));
    }
    let b = |i: usize| buf.get(i).copied().unwrap_or(0);
    let (t, code) = (b(0), b(1));
    let max_code = match t {
        ICMP_UNREACH => 15,
        ICMP_REDIRECT => 3,
        ICMP_TIMXCEED => 1,
        ICMP_PARAMPROB => 2,
        ICMP_SOURCEQUENCH => 0,
        _ => u8::MAX,
    };
    if code > max_code {
        return Err(Error::malformed(Layer::Icmp, 1, "ICMP error with a code out of range (RFC 792, RFC 1122 §3.2.2)"));
    }
    let data = buf.get(ICMP_MINLEN..).unwrap_or(&[]);
    if is_error(t) {
        // RFC 792: the invoking datagram's IP header and its first 64 bits.
        let vhl = data.first().copied().unwrap_or(0);
        let hl = usize::from(vhl & 0x0f) * 4;
        if vhl >> 4 != 4 || hl < 20 {
            return Err(Error::malformed(Layer::Icmp, 8, "ICMP error without an IPv4 invoking header (RFC 792)"));
        }
        if data.len() < hl + 8 {
            return Err(Error::truncated(Layer::Icmp, 8, (hl + 8) as u64, data.len() as u64,
                                        "ICMP error shorter than the invoking header and 8 octets (RFC 792)"));
        }
    }
    Ok(Repr {
        icmp_type: t,
        code,
        rest: u32::from_be_bytes([b(4), b(5), b(6), b(7)]),
        data,
    })
}

impl Repr<'_> {
    pub fn buffer_len(&self) -> usize {
        ICMP_MINLEN + self.data.len()
    }

    /// Append the message with its checksum.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.icmp_type);
        out.push(self.code);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.rest.to_be_bytes());
        out.extend_from_slice(self.data);
        let c = cksum::ip_cksum(out.get(start..).unwrap_or(&[]));
        if let Some(f) = out.get_mut(start + 2..start + 4) {
            f.copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// RFC 1191 §7: the plateau table, for a Fragmentation Needed without a
/// next-hop MTU (routers before RFC 1191).
pub const MTU_PLATEAUS: [u16; 11] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// The largest plateau below `total_len` (the invoking datagram's Total
/// Length), at least 68 (RFC 1191 §5, §7).
pub fn next_plateau(total_len: u16) -> u16 {
    MTU_PLATEAUS.iter().copied().find(|&p| p < total_len).unwrap_or(68)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip() {
        let r = Repr { icmp_type: ICMP_ECHO, code: 0, rest: 0x1234_0001, data: b"kame" };
        let mut out = Vec::new();
        r.emit(&mut out);
        assert_eq!(out.len(), r.buffer_len());
        assert_eq!(parse(&out, true).unwrap(), r);
        out[9] ^= 1;
        assert_eq!(parse(&out, true).unwrap_err().offset, 2);
        assert!(parse(&out[..7], true).unwrap_err().is_truncated());
    }

    #[test]
    fn errors_need_their_invoking_header() {
        let mut inv = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        inv.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let r = Repr { icmp_type: ICMP_UNREACH, code: 3, rest: 0, data: &inv };
        let mut out = Vec::new();
        r.emit(&mut out);
        assert_eq!(parse(&out, true).unwrap().code, 3);
        let mut short = Vec::new();
        Repr { data: &inv[..27], ..r.clone() }.emit(&mut short);
        assert!(parse(&short, true).unwrap_err().is_truncated());
        let mut bad = Vec::new();
        Repr { code: 16, ..r.clone() }.emit(&mut bad);
        assert_eq!(parse(&bad, true).unwrap_err().offset, 1);
        let mut v6 = Vec::new();
        let mut i6 = inv.clone();
        i6[0] = 0x60;
        Repr { data: &i6, ..r }.emit(&mut v6);
        assert_eq!(parse(&v6, true).unwrap_err().offset, 8);
    }

    #[test]
    fn plateaus() {
        assert_eq!(next_plateau(1500), 1492);
        assert_eq!(next_plateau(1492), 1006);
        assert_eq!(next_plateau(60), 68);
        assert_eq!(next_plateau(65535), 32000);
    }
}
