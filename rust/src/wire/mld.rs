//! Multicast Listener Discovery: MLDv1 (RFC 2710 §3) Query, Report, Done
//! and MLDv2 (RFC 3810 §5) Query and Report with multicast address records.
//!
//! ```text
//! MLDv1 (RFC 2710 §3), 24 octets:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! |     Maximum Response Delay    |          Reserved             |
//! |                       Multicast Address (16)                  |
//! MLDv2 Query (RFC 3810 §5.1), 28 + 16 N octets: as above, then
//! | Resv  |S| QRV |     QQIC      |     Number of Sources (N)     |
//! |                    Source Addresses [N] (16 each)             |
//! MLDv2 Report (RFC 3810 §5.2), type 143:
//! |  Type = 143   |    Reserved   |           Checksum            |
//! |           Reserved            |Nr of Mcast Address Records (M)|
//! |                  Multicast Address Records [M]                |
//! record: | Record Type | Aux Data Len | Number of Sources (N) |
//!         | Multicast Address (16) | Sources [N] | Auxiliary Data |
//! ```
//! The messages are handed in whole (type octet first); the checksum is
//! the ICMPv6 layer's business (`wire::icmpv6`).

use std::net::Ipv6Addr;

use crate::error::{Error, ErrorKind, Layer, Result};

mod field {
    #![allow(dead_code)]
    pub const MAX_RESP: core::ops::Range<usize> = 4..6;
    pub const MCAST: usize = 8;
    pub const V1_LEN: usize = 24;
    pub const Q2_FLAGS: usize = 24;
    pub const Q2_QQIC: usize = 25;
    pub const Q2_NSRC: core::ops::Range<usize> = 26..28;
    pub const Q2_SRC: usize = 28;
    pub const R2_NREC: core::ops::Range<usize> = 6..8;
    pub const R2_REC: usize = 8;
}

pub const TYPE_QUERY: u8 = 130;
pub const TYPE_REPORT: u8 = 131;
pub const TYPE_DONE: u8 = 132;
pub const TYPE_REPORT_V2: u8 = 143;

/// MLDv2 multicast address record types (RFC 3810 §5.2.12).
pub const MODE_IS_INCLUDE: u8 = 1;
pub const MODE_IS_EXCLUDE: u8 = 2;
pub const CHANGE_TO_INCLUDE_MODE: u8 = 3;
pub const CHANGE_TO_EXCLUDE_MODE: u8 = 4;
pub const ALLOW_NEW_SOURCES: u8 = 5;
pub const BLOCK_OLD_SOURCES: u8 = 6;

/// The MLDv2 part of a Query (RFC 3810 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryV2 {
    /// S flag: suppress router-side processing (§5.1.7).
    pub suppress: bool,
    /// Querier's Robustness Variable, 3 bits (§5.1.8).
    pub qrv: u8,
    /// Querier's Query Interval Code (§5.1.9).
    pub qqic: u8,
    pub sources: Vec<Ipv6Addr>,
}

/// One multicast address record of an MLDv2 Report (RFC 3810 §5.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressRecord<'a> {
    pub record_type: u8,
    pub mcast_addr: Ipv6Addr,
    pub sources: Vec<Ipv6Addr>,
    /// Auxiliary data, a multiple of 4 octets (§5.2.10).
    pub aux_data: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Repr<'a> {
    /// Type 130. `v2` is present for a 28+ octet query (RFC 3810 §8.1).
    Query { max_resp: u16, mcast_addr: Ipv6Addr, v2: Option<QueryV2> },
    /// MLDv1 Report, type 131.
    Report { mcast_addr: Ipv6Addr },
    /// MLDv1 Done, type 132.
    Done { mcast_addr: Ipv6Addr },
    /// MLDv2 Report, type 143.
    ReportV2 { records: Vec<AddressRecord<'a>> },
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    b.get(r).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_be_bytes).unwrap_or(0)
}

fn addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s = b.get(at..at.checked_add(16)?)?;
    <[u8; 16]>::try_from(s).ok().map(Ipv6Addr::from)
}

fn trunc(at: usize, needed: usize, have: usize, reason: &'static str) -> Error {
    Error::truncated(Layer::Mld, at as u64, needed as u64, have.saturating_sub(at) as u64, reason)
}

fn addrs(b: &[u8], at: usize, n: usize, reason: &'static str) -> Result<Vec<Ipv6Addr>> {
    let need = n.checked_mul(16).ok_or(trunc(at, usize::MAX, b.len(), reason))?;
    if b.len() < at.saturating_add(need) {
        return Err(trunc(at, need, b.len(), reason));
    }
    Ok((0..n).filter_map(|i| addr_at(b, at + 16 * i)).collect())
}

impl<'a> Repr<'a> {
    /// Whether `msg_type` is an MLD message type.
    pub fn is_mld(msg_type: u8) -> bool {
        matches!(msg_type, TYPE_QUERY | TYPE_REPORT | TYPE_DONE | TYPE_REPORT_V2)
    }

    /// Parse a whole MLD message (ICMPv6 type octet first).
    pub fn parse(msg: &'a [u8]) -> Result<Repr<'a>> {
        let t = msg.first().copied().unwrap_or(0);
        if t == TYPE_REPORT_V2 {
            if msg.len() < field::R2_REC {
                return Err(trunc(0, field::R2_REC, msg.len(), "MLDv2 Report header (RFC 3810 §5.2)"));
            }
            let n = usize::from(be16(msg, field::R2_NREC));
            let mut at = field::R2_REC;
            let mut records = Vec::new();
            for _ in 0..n {
                if msg.len() < at + 20 {
                    return Err(trunc(at, 20, msg.len(), "MLDv2 multicast address record (RFC 3810 §5.2.4)"));
                }
                let record_type = msg.get(at).copied().unwrap_or(0);
                let aux = usize::from(msg.get(at + 1).copied().unwrap_or(0)) * 4;
                let nsrc = usize::from(be16(msg, at + 2..at + 4));
                let mcast_addr = addr_at(msg, at + 4).unwrap_or(Ipv6Addr::UNSPECIFIED);
                let sources = addrs(msg, at + 20, nsrc, "MLDv2 record sources overrun the message (RFC 3810 §5.2.6)")?;
                let aux_at = at + 20 + 16 * nsrc;
                let aux_data = msg
                    .get(aux_at..aux_at + aux)
                    .ok_or(trunc(aux_at, aux, msg.len(), "MLDv2 record auxiliary data overruns the message (RFC 3810 §5.2.10)"))?;
                records.push(AddressRecord { record_type, mcast_addr, sources, aux_data });
                at = aux_at + aux;
            }
            return Ok(Repr::ReportV2 { records });
        }
        if msg.len() < field::V1_LEN {
            return Err(trunc(0, field::V1_LEN, msg.len(), "MLD message shorter than 24 octets (RFC 2710 §3)"));
        }
        let mcast_addr = addr_at(msg, field::MCAST).unwrap_or(Ipv6Addr::UNSPECIFIED);
        match t {
            TYPE_QUERY => {
                let max_resp = be16(msg, field::MAX_RESP);
                let v2 = match msg.len() {
                    24 => None,
                    25..=27 => {
                        return Err(Error::malformed(
                            Layer::Mld,
                            24,
                            "MLD Query of 25 to 27 octets is neither MLDv1 nor MLDv2 (RFC 3810 §8.1)",
                        ))
                    }
                    _ => {
                        let flags = msg.get(field::Q2_FLAGS).copied().unwrap_or(0);
                        let n = usize::from(be16(msg, field::Q2_NSRC));
                        let sources = addrs(msg, field::Q2_SRC, n, "MLDv2 Query sources overrun the message (RFC 3810 §5.1.10)")?;
                        Some(QueryV2 {
                            suppress: flags & 0x08 != 0,
                            qrv: flags & 0x07,
                            qqic: msg.get(field::Q2_QQIC).copied().unwrap_or(0),
                            sources,
                        })
                    }
                };
                Ok(Repr::Query { max_resp, mcast_addr, v2 })
            }
            TYPE_REPORT => Ok(Repr::Report { mcast_addr }),
            TYPE_DONE => Ok(Repr::Done { mcast_addr }),
            _ => Err(Error::malformed(Layer::Mld, 0, "not an MLD message type (RFC 2710 §3, RFC 3810 §5)")),
        }
    }

    pub fn msg_type(&self) -> u8 {
        match self {
            Repr::Query { .. } => TYPE_QUERY,
            Repr::Report { .. } => TYPE_REPORT,
            Repr::Done { .. } => TYPE_DONE,
            Repr::ReportV2 { .. } => TYPE_REPORT_V2,
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Query { v2: Some(q), .. } => 28 + 16 * q.sources.len(),
            Repr::Query { .. } | Repr::Report { .. } | Repr::Done { .. } => 24,
            Repr::ReportV2 { records } => {
                8 + records.iter().map(|r| 20 + 16 * r.sources.len() + r.aux_data.len().div_ceil(4) * 4).sum::<usize>()
            }
        }
    }

    /// Append the message with a zero checksum.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let limit = |what: &'static str, limit: u64| Error::new(Layer::Mld, ErrorKind::Limit { limit }, 0, what);
        out.push(self.msg_type());
        out.extend_from_slice(&[0, 0, 0]);
        match self {
            Repr::Query { max_resp, mcast_addr, v2 } => {
                out.extend_from_slice(&max_resp.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&mcast_addr.octets());
                if let Some(q) = v2 {
                    let n = u16::try_from(q.sources.len())
                        .map_err(|_| limit("MLDv2 Query with more than 65535 sources (RFC 3810 §5.1.10)", 65535))?;
                    out.push((u8::from(q.suppress) << 3) | (q.qrv & 7));
                    out.push(q.qqic);
                    out.extend_from_slice(&n.to_be_bytes());
                    for s in &q.sources {
                        out.extend_from_slice(&s.octets());
                    }
                }
            }
            Repr::Report { mcast_addr } | Repr::Done { mcast_addr } => {
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&mcast_addr.octets());
            }
            Repr::ReportV2 { records } => {
                let n = u16::try_from(records.len())
                    .map_err(|_| limit("MLDv2 Report with more than 65535 records (RFC 3810 §5.2.3)", 65535))?;
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&n.to_be_bytes());
                for r in records {
                    let aux_words = r.aux_data.len().div_ceil(4);
                    let aux = u8::try_from(aux_words)
                        .map_err(|_| limit("MLDv2 auxiliary data longer than 255 words (RFC 3810 §5.2.6)", 255 * 4))?;
                    let ns = u16::try_from(r.sources.len())
                        .map_err(|_| limit("MLDv2 record with more than 65535 sources (RFC 3810 §5.2.6)", 65535))?;
                    out.push(r.record_type);
                    out.push(aux);
                    out.extend_from_slice(&ns.to_be_bytes());
                    out.extend_from_slice(&r.mcast_addr.octets());
                    for s in &r.sources {
                        out.extend_from_slice(&s.octets());
                    }
                    out.extend_from_slice(r.aux_data);
                    out.resize(out.len() + (aux_words * 4 - r.aux_data.len()), 0);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // scapy: ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::fb"),
    //   ICMPv6MLDMultAddrRec(rtype=1, dst="ff05::1:3", sources=["2001:db8::1"])])
    // (checksum bytes zeroed)
    const REPORT2: &str = "8f000000 00000002 04000000 ff0200000000000000000000000000fb \
        01000001 ff050000000000000000000000010003 20010db8000000000000000000000001";

    #[test]
    fn report_v2_scapy() {
        let b = hex(REPORT2);
        let r = Repr::parse(&b).unwrap();
        let Repr::ReportV2 { records } = &r else { panic!() };
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].record_type, CHANGE_TO_EXCLUDE_MODE);
        assert_eq!(records[0].mcast_addr, "ff02::fb".parse::<Ipv6Addr>().unwrap());
        assert_eq!(records[1].sources, vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()]);
        let mut out = Vec::new();
        r.emit(&mut out).unwrap();
        assert_eq!(out, b);
        assert_eq!(r.buffer_len(), b.len());
    }

    #[test]
    fn query_versions() {
        let q1 = Repr::Query { max_resp: 10000, mcast_addr: Ipv6Addr::UNSPECIFIED, v2: None };
        let mut out = Vec::new();
        q1.emit(&mut out).unwrap();
        assert_eq!(out.len(), 24);
        assert_eq!(Repr::parse(&out).unwrap(), q1);
        let q2 = Repr::Query {
            max_resp: 10000,
            mcast_addr: "ff02::1:3".parse().unwrap(),
            v2: Some(QueryV2 { suppress: true, qrv: 2, qqic: 125, sources: vec![Ipv6Addr::LOCALHOST] }),
        };
        let mut out = Vec::new();
        q2.emit(&mut out).unwrap();
        assert_eq!(out.len(), 44);
        assert_eq!(Repr::parse(&out).unwrap(), q2);
        // 26 octets: neither version.
        assert_eq!(Repr::parse(&out[..26]).unwrap_err().kind, ErrorKind::Malformed);
        // Source count overruns.
        assert!(Repr::parse(&out[..40]).unwrap_err().is_truncated());
    }

    #[test]
    fn truncated_record() {
        let b = hex(REPORT2);
        for n in 0..b.len() {
            assert!(Repr::parse(&b[..n]).is_err(), "n={n}");
        }
    }
}
