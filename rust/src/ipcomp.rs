//! IP Payload Compression (RFC 3173, which obsoletes RFC 2393) with DEFLATE
//! (RFC 2394), as KAME's `ipcomp_core.c` / `ipcomp_output.c` /
//! `ipcomp_input.c` did it (seed §4.4, DESIGN.md §4):
//!
//! - raw deflate: no zlib header, no Adler-32 ("KAME code does not attach
//!   Adler32 checksum to compressed data", seed §4.4); every packet is one
//!   complete stream (RFC 3173 §2: stateless, no history across packets);
//! - CPI 2 (well-known DEFLATE) or any negotiated CPI (KAME from 256);
//! - `deflate_policy` Z_DEFAULT_COMPRESSION, `deflate_window_out` 12,
//!   inflate window 15, both settable;
//! - payloads under 90 octets are not compressed (RFC 2394 threshold,
//!   KAME `minplen`), and a payload whose compressed form plus the 4-octet
//!   IPComp header is not smaller goes out as it was, with no IPComp header
//!   (RFC 3173 §2.2);
//! - inflate is capped: the decompressed payload may not exceed a caller
//!   cap (a decompression bomb is a `Limit` error, memory stays bounded);
//! - transport mode over IPv6 and IPv4 (the IPComp header goes after the
//!   unfragmentable part, RFC 3173 §2), and tunnel mode both ways: KAME
//!   could send tunnel-mode IPComp but not accept it (seed §4.4); here a
//!   decompressed payload with next header 41 or 4 is decapsulated.
//!
//! The zlib state is created once per direction and reset per packet
//! (`deflateReset` / `inflateReset`): building it is most of the per-packet
//! cost of zlib on MTU-sized payloads.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::tunnel::{self, ChainStop, EcnMode, TunnelParams};
use crate::wire::ipcomp::{self as hdr, HEADER_LEN};
use crate::wire::proto;

/// Z_DEFAULT_COMPRESSION (KAME `deflate_policy`).
pub const Z_DEFAULT_COMPRESSION: i32 = -1;
/// KAME `deflate_window_out`.
pub const DEFLATE_WINDOW_OUT: u8 = 12;
/// KAME `deflate_window_in` (MAX_WBITS): accepts any sender's window.
pub const DEFLATE_WINDOW_IN: u8 = 15;
/// Payloads shorter than this are sent uncompressed (RFC 2394, KAME
/// `ipcomp_deflate` minplen 90).
pub const DEFLATE_MINSIZE: usize = 90;
/// Default inflate cap: the largest payload a 16-bit length field can
/// describe. RFC 3173's IPComp header has no length field of its own; the
/// limits are the IP header's: IPv4 Total Length (16 bits), IPv6 Payload
/// Length (16 bits) or, for jumbograms, the Jumbo Payload Length (32 bits,
/// RFC 2675). Raise the cap (up to 2^32-1) to accept IPv6 jumbograms.
pub const DEFAULT_MAX_INFLATE: u64 = 65535;

fn config(reason: &'static str) -> Error {
    Error::new(Layer::IpComp, ErrorKind::Config, 0, reason)
}

fn check_level(level: i32) -> Result<Compression> {
    match level {
        -1 => Ok(Compression::default()),
        0..=9 => Ok(Compression::new(level as u32)),
        _ => Err(config(
            "deflate level must be -1 (Z_DEFAULT_COMPRESSION) or 0..9",
        )),
    }
}

fn check_window(window_bits: u8) -> Result<u8> {
    match window_bits {
        // zlib raises a raw window of 8 to 9 itself; do it here.
        8 => Ok(9),
        9..=15 => Ok(window_bits),
        _ => Err(config(
            "deflate window bits must be 8..15 (RFC 1951 §2: window up to 32K)",
        )),
    }
}

/// A reusable raw-deflate compressor.
pub struct Deflater {
    z: Compress,
    level: i32,
    window_bits: u8,
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("level", &self.level)
            .field("window_bits", &self.window_bits)
            .finish()
    }
}

impl Deflater {
    pub fn new(level: i32, window_bits: u8) -> Result<Deflater> {
        let c = check_level(level)?;
        let w = check_window(window_bits)?;
        Ok(Deflater {
            z: Compress::new_with_window_bits(c, false, w),
            level,
            window_bits: w,
        })
    }

    pub fn level(&self) -> i32 {
        self.level
    }

    pub fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// Compress `input` as one complete raw deflate stream and append it to
    /// `out` if it takes at most `limit` octets; otherwise leave `out` as it
    /// was and return `false` (the caller sends the payload uncompressed).
    /// Gives up as soon as the output exceeds `limit`, so incompressible
    /// data costs little.
    pub fn deflate_into(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        let start = out.len();
        let Some(end) = start.checked_add(limit) else {
            return false;
        };
        out.resize(end, 0);
        self.z.reset();
        let (in0, out0) = (self.z.total_in(), self.z.total_out());
        let st = match out.get_mut(start..) {
            Some(dst) => self.z.compress(input, dst, FlushCompress::Finish),
            None => {
                out.truncate(start);
                return false;
            }
        };
        let consumed = self.z.total_in().wrapping_sub(in0);
        let produced = usize::try_from(self.z.total_out().wrapping_sub(out0)).unwrap_or(usize::MAX);
        match st {
            Ok(Status::StreamEnd) if consumed == input.len() as u64 && produced <= limit => {
                out.truncate(start + produced);
                true
            }
            _ => {
                out.truncate(start);
                false
            }
        }
    }

    /// Compress `input` as one complete raw deflate stream, whatever its
    /// size.
    pub fn deflate(&mut self, input: &[u8]) -> Vec<u8> {
        // deflateBound for raw streams: len + len/4096*5 + a few bytes per
        // block; be generous and fall back to growing.
        let mut bound = input.len() + input.len() / 256 + 64;
        loop {
            let mut out = Vec::new();
            if self.deflate_into(input, &mut out, bound) {
                return out;
            }
            bound = bound.saturating_mul(2);
        }
    }
}

/// A reusable raw-inflate decompressor with a cap on its output.
pub struct Inflater {
    z: Decompress,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater").finish()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            z: Decompress::new_with_window_bits(false, DEFLATE_WINDOW_IN),
        }
    }

    /// Inflate one complete raw deflate stream from `input`, appending at
    /// most `cap` octets to `out`. Errors (offsets relative to `input`):
    /// `Limit { limit: cap }` if the stream would produce more (the output
    /// never grows past `cap + 1` octets), `Malformed` for a corrupt stream,
    /// one that ends before its final block, or bytes after it.
    pub fn inflate_into(&mut self, input: &[u8], out: &mut Vec<u8>, cap: u64) -> Result<()> {
        self.z.reset(false);
        let start = out.len();
        let cap_us = usize::try_from(cap).unwrap_or(usize::MAX);
        // one octet past the cap tells "too much"
        let room_max = cap_us.saturating_add(1).min(usize::MAX - start);
        let mut room = input.len().saturating_mul(4).max(2048).min(room_max);
        let mut filled: usize = 0;
        let mut consumed: usize = 0;
        let limit_err = || {
            Error::new(
                Layer::IpComp,
                ErrorKind::Limit { limit: cap },
                0,
                "decompressed payload exceeds the inflate cap (drop, DESIGN.md §3)",
            )
        };
        loop {
            out.resize(start + room, 0);
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let src = input.get(consumed..).unwrap_or(&[]);
            let r = match out.get_mut(start + filled..start + room) {
                Some(dst) => self.z.decompress(src, dst, FlushDecompress::Finish),
                None => Ok(Status::BufError),
            };
            let di = usize::try_from(self.z.total_in().wrapping_sub(in0)).unwrap_or(usize::MAX);
            let dout = usize::try_from(self.z.total_out().wrapping_sub(out0)).unwrap_or(usize::MAX);
            consumed = consumed.saturating_add(di);
            filled = filled.saturating_add(dout);
            if filled > cap_us {
                out.truncate(start);
                return Err(limit_err());
            }
            match r {
                Err(_) => {
                    out.truncate(start);
                    return Err(Error::malformed(
                        Layer::IpComp,
                        consumed as u64,
                        "corrupt deflate stream (RFC 1951)",
                    ));
                }
                Ok(Status::StreamEnd) => {
                    out.truncate(start + filled);
                    if consumed != input.len() {
                        out.truncate(start);
                        return Err(Error::malformed(
                            Layer::IpComp,
                            consumed as u64,
                            "bytes after the final deflate block (RFC 2394)",
                        ));
                    }
                    return Ok(());
                }
                Ok(_) => {
                    if filled >= room {
                        if room >= room_max {
                            out.truncate(start);
                            return Err(limit_err());
                        }
                        room = room.saturating_mul(2).min(room_max);
                    } else if di == 0 && dout == 0 {
                        out.truncate(start);
                        return Err(Error::malformed(
                            Layer::IpComp,
                            consumed as u64,
                            "deflate stream ends before its final block (RFC 1951 §3.2.3)",
                        ));
                    }
                }
            }
        }
    }
}

/// Raw deflate of `data` (no zlib header, no Adler-32).
pub fn deflate(data: &[u8], level: i32, window_bits: u8) -> Result<Vec<u8>> {
    Ok(Deflater::new(level, window_bits)?.deflate(data))
}

/// Raw inflate of one complete stream, at most `max_size` octets out.
pub fn inflate(data: &[u8], max_size: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    Inflater::new().inflate_into(data, &mut out, max_size)?;
    Ok(out)
}

/// Transport or tunnel mode (RFC 4301 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Transport,
    Tunnel,
}

/// Per-SA counters, the analogue of KAME's `ipcompstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpcompStats {
    /// Packets handed to `output` / `input` that came out without error.
    pub output_packets: u64,
    pub input_packets: u64,
    /// Payload octets before compression (output) / after decompression
    /// (input), and the compressed octets on the wire, for the packets
    /// that were compressed.
    pub output_bytes_in: u64,
    pub output_bytes_out: u64,
    pub input_bytes_in: u64,
    pub input_bytes_out: u64,
    /// Sent without IPComp: payload under `min_size`.
    pub output_threshold: u64,
    /// Sent without IPComp: compressed form not smaller (RFC 3173 §2.2).
    pub output_uncompressed: u64,
    /// Received without an IPComp header (the peer sent it as is).
    pub input_uncompressed: u64,
    /// Corrupt or truncated deflate streams.
    pub inflate_errors: u64,
    /// Streams that hit the inflate cap.
    pub inflate_limit: u64,
    /// Other refusals (bad headers, CPI mismatch, tunnel mismatch).
    pub errors: u64,
}

/// The results of a run of packets, in order.
type Outputs = Vec<Result<Vec<u8>>>;

impl IpcompStats {
    /// Add another association's counters (the workers of a batch).
    pub fn absorb(&mut self, o: &IpcompStats) {
        self.output_packets += o.output_packets;
        self.input_packets += o.input_packets;
        self.output_bytes_in += o.output_bytes_in;
        self.output_bytes_out += o.output_bytes_out;
        self.input_bytes_in += o.input_bytes_in;
        self.input_bytes_out += o.input_bytes_out;
        self.output_threshold += o.output_threshold;
        self.output_uncompressed += o.output_uncompressed;
        self.input_uncompressed += o.input_uncompressed;
        self.inflate_errors += o.inflate_errors;
        self.inflate_limit += o.inflate_limit;
        self.errors += o.errors;
    }
}

/// Settings of an IPComp association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcompConfig {
    pub cpi: u16,
    pub mode: Mode,
    /// Required in tunnel mode: outer endpoints, ECN mode, hop limit.
    pub tunnel: Option<TunnelParams>,
    pub level: i32,
    pub window_bits: u8,
    pub min_size: usize,
    pub max_inflate: u64,
}

impl Default for IpcompConfig {
    fn default() -> Self {
        IpcompConfig {
            cpi: hdr::cpi::DEFLATE,
            mode: Mode::Transport,
            tunnel: None,
            level: Z_DEFAULT_COMPRESSION,
            window_bits: DEFLATE_WINDOW_OUT,
            min_size: DEFLATE_MINSIZE,
            max_inflate: DEFAULT_MAX_INFLATE,
        }
    }
}

/// An IPComp association (IPCA): the compressor and decompressor state
/// kept across packets, and counters.
#[derive(Debug)]
pub struct IpcompSa {
    cfg: IpcompConfig,
    deflater: Deflater,
    inflater: Inflater,
    pub stats: IpcompStats,
}

fn ip_split(pkt: &[u8], output: bool) -> Result<(tunnel::IpFixed, ChainStop)> {
    let f = tunnel::ip_fixed(pkt, Layer::IpComp)?;
    let stop = if f.version == 6 {
        tunnel::walk6(pkt, &f, output, Layer::IpComp)?
    } else {
        ChainStop {
            nh_at: 9,
            nh: f.nh,
            off: f.hdr_len,
        }
    };
    Ok((f, stop))
}

impl IpcompSa {
    pub fn new(cfg: IpcompConfig) -> Result<IpcompSa> {
        if cfg.cpi == 0 || !hdr::cpi::is_usable(cfg.cpi) {
            return Err(config("CPI must be 1-4, 48-63 or 256-65535 (RFC 3173 §3)"));
        }
        if cfg.mode == Mode::Tunnel {
            match cfg.tunnel {
                Some(t) => {
                    t.outer_len().map_err(|mut e| {
                        e.layer = Layer::IpComp;
                        e
                    })?;
                }
                None => return Err(config("tunnel mode needs tunnel_src and tunnel_dst")),
            }
        }
        Ok(IpcompSa {
            deflater: Deflater::new(cfg.level, cfg.window_bits)?,
            inflater: Inflater::new(),
            cfg,
            stats: IpcompStats::default(),
        })
    }

    pub fn config(&self) -> &IpcompConfig {
        &self.cfg
    }

    /// Outbound processing (KAME `ipcomp4_output` / `ipcomp6_output`).
    /// Transport mode: the payload after the unfragmentable part is
    /// compressed in place of itself. Tunnel mode: the whole packet is
    /// encapsulated towards the tunnel endpoints and compressed.
    /// A payload under `min_size`, or whose compressed form is not smaller,
    /// goes out without an IPComp header (transport: unchanged; tunnel:
    /// plain IP-in-IP).
    pub fn output(&mut self, pkt: &[u8]) -> Result<Vec<u8>> {
        let r = match self.cfg.mode {
            Mode::Transport => self.output_transport(pkt),
            Mode::Tunnel => self.output_tunnel(pkt),
        };
        match r {
            Ok(v) => {
                self.stats.output_packets += 1;
                Ok(v)
            }
            Err(e) => {
                self.stats.errors += 1;
                Err(e)
            }
        }
    }

    /// [`IpcompSa::output`] over a batch on up to `threads` threads (the
    /// calling one and workers of the IPsec batch pool): each packet is
    /// compressed on its own (the deflate state is reset per packet, RFC
    /// 3173 §2.2), so the results are those of one call per packet in
    /// order whichever thread compressed it. The threads claim
    /// `OUT_CLAIM` packets at a time, each worker with its own compressor
    /// (made when it first claims), and their counters are added to this
    /// SA's.
    pub fn output_many(&mut self, packets: &[&[u8]], threads: usize) -> Vec<Result<Vec<u8>>> {
        const OUT_CLAIM: usize = 4;
        let claims = packets.len().div_ceil(OUT_CLAIM);
        let pool = if threads > 1 && claims > 1 { crate::ipsec::batch::pool() } else { None };
        let Some(pool) = pool else {
            return packets.iter().map(|p| self.output(p)).collect();
        };
        let parts = threads.min(pool.current_num_threads() + 1).min(claims);
        let slots: Vec<std::sync::Mutex<Vec<Result<Vec<u8>>>>> = (0..claims).map(|_| Default::default()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let counted = std::sync::Mutex::new(IpcompStats::default());
        let cfg = self.cfg;
        // one claim after another, each compressed by `each`
        let work = |each: &mut dyn FnMut(&[&[u8]]) -> Outputs| loop {
            let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (Some(slot), Some(part)) = (slots.get(c), packets.chunks(OUT_CLAIM).nth(c)) else { break };
            let r = each(part);
            *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = r;
        };
        let work = &work;
        let mine = &mut *self;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.in_place_scope(|s| {
                for _ in 1..parts {
                    let counted = &counted;
                    s.spawn(move |_| {
                        let mut sa: Option<IpcompSa> = None;
                        work(&mut |part| match &mut sa {
                            Some(sa) => part.iter().map(|p| sa.output(p)).collect(),
                            None => match IpcompSa::new(cfg) {
                                Ok(made) => {
                                    let made = sa.insert(made);
                                    part.iter().map(|p| made.output(p)).collect()
                                }
                                Err(e) => part.iter().map(|_| Err(e)).collect(),
                            },
                        });
                        if let Some(sa) = sa {
                            counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).absorb(&sa.stats);
                        }
                    });
                }
                work(&mut |part| part.iter().map(|p| mine.output(p)).collect());
            })
        }));
        self.stats.absorb(&counted.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut out = Vec::with_capacity(packets.len());
        for (slot, part) in slots.into_iter().zip(packets.chunks(OUT_CLAIM)) {
            let r = slot.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            // a claim lost to a panicking thread fails whole
            if r.len() == part.len() {
                out.extend(r);
            } else {
                out.extend(part.iter().map(|_| Err(config("IPComp batch worker thread failed"))));
            }
        }
        out
    }

    /// Compress `payload` into `out` after a fresh IPComp header naming
    /// `nh`; false (and `out` unchanged) if not worth it.
    fn compress_payload(&mut self, payload: &[u8], nh: u8, out: &mut Vec<u8>) -> bool {
        if payload.len() < self.cfg.min_size {
            self.stats.output_threshold += 1;
            return false;
        }
        // compressed + 4 must be smaller than the payload
        let Some(limit) = payload.len().checked_sub(HEADER_LEN + 1) else {
            self.stats.output_uncompressed += 1;
            return false;
        };
        let mark = out.len();
        out.extend_from_slice(
            &hdr::Repr {
                next_header: nh,
                flags: 0,
                cpi: self.cfg.cpi,
            }
            .to_bytes(),
        );
        if self.deflater.deflate_into(payload, out, limit) {
            self.stats.output_bytes_in += payload.len() as u64;
            self.stats.output_bytes_out += (out.len() - mark - HEADER_LEN) as u64;
            true
        } else {
            out.truncate(mark);
            self.stats.output_uncompressed += 1;
            false
        }
    }

    fn output_transport(&mut self, pkt: &[u8]) -> Result<Vec<u8>> {
        let (f, stop) = ip_split(pkt, true)?;
        if stop.nh == proto::IPCOMP {
            return Err(Error::malformed(
                Layer::IpComp,
                stop.nh_at as u64,
                "payload is already IPComp",
            ));
        }
        let payload = pkt.get(stop.off..f.end).unwrap_or(&[]);
        let head = pkt.get(..stop.off).unwrap_or(&[]);
        let mut out = Vec::with_capacity(f.end);
        out.extend_from_slice(head);
        if !self.compress_payload(payload, stop.nh, &mut out) {
            return Ok(pkt.get(..f.end).unwrap_or(pkt).to_vec());
        }
        tunnel::fix_lengths(
            &mut out,
            f.version,
            f.hdr_len,
            stop.nh_at,
            proto::IPCOMP,
            Layer::IpComp,
        )?;
        Ok(out)
    }

    fn output_tunnel(&mut self, pkt: &[u8]) -> Result<Vec<u8>> {
        let Some(t) = self.cfg.tunnel else {
            return Err(config("tunnel mode needs tunnel_src and tunnel_dst"));
        };
        let (next, f, df) = tunnel::inner_info(pkt).map_err(|mut e| {
            e.layer = Layer::IpComp;
            e
        })?;
        if tunnel::nest_depth(pkt, t.nest_limit) >= t.nest_limit {
            return Err(Error::new(
                Layer::IpComp,
                ErrorKind::HeaderLimit {
                    limit: t.nest_limit,
                },
                0,
                "inner packet already carries nest_limit IP-in-IP layers: tunnel loop? (seed §1.5)",
            ));
        }
        let inner = pkt.get(..f.end).unwrap_or(pkt);
        let hl = t.outer_len()?;
        let mut out = Vec::with_capacity(hl + inner.len());
        out.resize(hl, 0);
        let compressed = self.compress_payload(inner, next, &mut out);
        if !compressed {
            out.extend_from_slice(inner);
        }
        let (nh, plen) = if compressed {
            (proto::IPCOMP, out.len() - hl)
        } else {
            (next, inner.len())
        };
        let mut outer = Vec::with_capacity(hl + 8);
        t.write_outer(&mut outer, nh, f.tos, df, plen as u64)?;
        if outer.len() == hl {
            if let Some(h) = out.get_mut(..hl) {
                h.copy_from_slice(&outer);
            }
        } else {
            // a jumbogram's outer header carries a Hop-by-Hop header
            out.splice(..hl, outer);
        }
        Ok(out)
    }

    /// Inbound processing (KAME `ipcomp4_input` / `ipcomp6_input`, plus the
    /// tunnel-mode acceptance KAME lacked). A packet with no IPComp header
    /// is the peer's uncompressed form (RFC 3173 §2.2): transport mode
    /// passes it through, tunnel mode decapsulates it.
    pub fn input(&mut self, pkt: &[u8]) -> Result<Vec<u8>> {
        let before = (self.stats.inflate_limit, self.stats.inflate_errors);
        match self.input_inner(pkt) {
            Ok(v) => {
                self.stats.input_packets += 1;
                Ok(v)
            }
            Err(e) => {
                // inflate failures were counted where they happened
                if before == (self.stats.inflate_limit, self.stats.inflate_errors) {
                    match e.kind {
                        // the decompressed packet does not fit its length field
                        ErrorKind::Limit { .. } => self.stats.inflate_limit += 1,
                        _ => self.stats.errors += 1,
                    }
                }
                Err(e)
            }
        }
    }

    fn input_inner(&mut self, pkt: &[u8]) -> Result<Vec<u8>> {
        let (f, stop) = ip_split(pkt, false)?;
        if stop.nh != proto::IPCOMP {
            self.stats.input_uncompressed += 1;
            let whole = pkt.get(..f.end).unwrap_or(pkt);
            return match self.cfg.mode {
                Mode::Transport => Ok(whole.to_vec()),
                Mode::Tunnel => self.decap(whole).map_err(|mut e| {
                    e.layer = Layer::IpComp;
                    e
                }),
            };
        }
        let h = hdr::Packet::new_checked(pkt.get(stop.off..f.end).unwrap_or(&[]))
            .map_err(|e| e.at(stop.off as u64))?;
        let repr = hdr::Repr::parse(&h).map_err(|e| e.at(stop.off as u64))?;
        if repr.cpi != self.cfg.cpi {
            return Err(Error::malformed(
                Layer::IpComp,
                (stop.off + 2) as u64,
                "CPI does not match this IPComp association (RFC 3173 §3)",
            ));
        }
        if repr.next_header == proto::IPCOMP {
            return Err(Error::malformed(
                Layer::IpComp,
                stop.off as u64,
                "nested IPComp refused",
            ));
        }
        let comp_off = stop.off + HEADER_LEN;
        let comp = pkt.get(comp_off..f.end).unwrap_or(&[]);
        let mut out = Vec::new();
        out.extend_from_slice(pkt.get(..stop.off).unwrap_or(&[]));
        if let Err(e) = self.inflater.inflate_into(comp, &mut out, self.cfg.max_inflate) {
            match e.kind {
                ErrorKind::Limit { .. } => self.stats.inflate_limit += 1,
                _ => self.stats.inflate_errors += 1,
            }
            return Err(e.at(comp_off as u64));
        }
        self.stats.input_bytes_in += comp.len() as u64;
        self.stats.input_bytes_out += (out.len() - stop.off) as u64;
        let tunnelled = repr.next_header == proto::IPV4 || repr.next_header == proto::IPV6;
        match self.cfg.mode {
            Mode::Transport => {
                if f.version == 6 && (out.len() as u64) > 40 + tunnel::IPV6_MAXPACKET {
                    // a jumbogram sent compressed below 65536 octets:
                    // its Jumbo Payload option comes back (RFC 2675)
                    if let Some(b) = out.get_mut(stop.nh_at) {
                        *b = repr.next_header;
                    }
                    tunnel::ip6_restore_jumbo(&mut out, Layer::IpComp)?;
                    tunnel::ip6_set_lengths(&mut out, Layer::IpComp)?;
                    return Ok(out);
                }
                tunnel::fix_lengths(
                    &mut out,
                    f.version,
                    f.hdr_len,
                    stop.nh_at,
                    repr.next_header,
                    Layer::IpComp,
                )?;
                Ok(out)
            }
            Mode::Tunnel if tunnelled => {
                // the inner packet starts right after the outer headers
                let Some(t) = self.cfg.tunnel else {
                    return Err(config("tunnel mode needs tunnel_src and tunnel_dst"));
                };
                let (src, dst) = tunnel::addrs(pkt, f.version);
                if src != t.src || dst != t.dst {
                    return Err(Error::malformed(
                        Layer::IpComp,
                        0,
                        "outer addresses do not match the tunnel endpoints (KAME key_checktunnelsanity)",
                    ));
                }
                let inner = out.get(stop.off..).unwrap_or(&[]);
                let inner =
                    tunnel::inner_slice(inner, repr.next_header, stop.off).map_err(|mut e| {
                        e.layer = Layer::IpComp;
                        e
                    })?;
                let mut inner = inner.to_vec();
                tunnel::egress_inner(&mut inner, t.ecn, f.tos)?;
                Ok(inner)
            }
            Mode::Tunnel => Err(Error::malformed(
                Layer::IpComp,
                stop.off as u64,
                "tunnel-mode IPComp association got a payload that is not IPv4 or IPv6",
            )),
        }
    }

    fn decap(&self, pkt: &[u8]) -> Result<Vec<u8>> {
        let Some(t) = self.cfg.tunnel else {
            return Err(config("tunnel mode needs tunnel_src and tunnel_dst"));
        };
        let d = tunnel::decapsulate(pkt, t.ecn, false, 1)?;
        if d.outer_src != t.src || d.outer_dst != t.dst {
            return Err(Error::malformed(
                Layer::IpComp,
                0,
                "outer addresses do not match the tunnel endpoints (KAME key_checktunnelsanity)",
            ));
        }
        Ok(d.packet)
    }
}

/// The ECN mode a tunnel-mode IPComp SA uses (for callers that build the
/// config by hand).
pub fn default_ecn() -> EcnMode {
    EcnMode::default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const HELLO_RAW: [u8; 7] = [0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog. ";
    // zlib 1.x, level 6, raw window 2^12, of FOX x4 (Python zlib, wbits=-12)
    const FOX4_Z12: &str = "0bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d5228014ae72456552aa4e4a7eb29840c0ec500";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn text(n: usize) -> Vec<u8> {
        FOX.iter().copied().cycle().take(n).collect()
    }

    fn v6(nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[nh, 64]);
        p.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p.extend_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p.extend_from_slice(payload);
        p
    }

    fn v4(proto_: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let ihl = 20 + options.len();
        let total = (ihl + payload.len()) as u16;
        let mut p = vec![0x40 | (ihl / 4) as u8, 0x10];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[
            0x12, 0x34, 0, 0, 64, proto_, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ]);
        p.extend_from_slice(options);
        tunnel::ipv4_set_cksum(&mut p[..ihl]);
        p.extend_from_slice(payload);
        p
    }

    fn udp(data: &[u8]) -> Vec<u8> {
        let mut u = vec![0x04, 0xd2, 0x00, 0x35];
        u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(data);
        u
    }

    #[test]
    fn known_vectors() {
        assert_eq!(inflate(&HELLO_RAW, 100).unwrap(), b"hello");
        assert_eq!(deflate(b"hello", -1, 15).unwrap(), HELLO_RAW);
        let fox4 = text(180);
        // zlib-rs does not pick the same matches as C zlib: not byte-equal,
        // but both inflate to the same data.
        assert_eq!(
            inflate(&deflate(&fox4, -1, 12).unwrap(), 180).unwrap(),
            fox4
        );
        assert_eq!(inflate(&hex(FOX4_Z12), 180).unwrap(), fox4);
    }

    #[test]
    fn inflate_refusals() {
        assert_eq!(
            inflate(&HELLO_RAW, 4).unwrap_err().kind,
            ErrorKind::Limit { limit: 4 }
        );
        assert_eq!(inflate(&HELLO_RAW, 5).unwrap(), b"hello");
        for n in 0..HELLO_RAW.len() {
            assert_eq!(
                inflate(&HELLO_RAW[..n], 100).unwrap_err().kind,
                ErrorKind::Malformed,
                "cut {n}"
            );
        }
        let mut trailing = HELLO_RAW.to_vec();
        trailing.push(0);
        assert_eq!(
            inflate(&trailing, 100).unwrap_err().kind,
            ErrorKind::Malformed
        );
        // block type 3 is reserved (RFC 1951 §3.2.3)
        assert_eq!(
            inflate(&[0x07], 100).unwrap_err().kind,
            ErrorKind::Malformed
        );
        // a zlib-wrapped stream is not raw deflate
        assert!(inflate(
            &[0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15],
            100
        )
        .is_err());
    }

    #[test]
    fn bomb_is_a_limit() {
        let zeros = vec![0u8; 10 << 20];
        let bomb = deflate(&zeros, 9, 15).unwrap();
        assert!(bomb.len() < 20_000);
        let e = inflate(&bomb, 65535).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
        assert_eq!(inflate(&bomb, 10 << 20).unwrap().len(), 10 << 20);
    }

    #[test]
    fn reuse_state() {
        let mut d = Deflater::new(-1, 12).unwrap();
        let mut i = Inflater::new();
        for n in [0usize, 1, 90, 1400, 9000, 70000] {
            let data = text(n);
            let c = d.deflate(&data);
            let mut out = vec![0xee];
            i.inflate_into(&c, &mut out, 1 << 20).unwrap();
            assert_eq!(&out[1..], &data[..]);
        }
    }

    #[test]
    fn config_refusals() {
        assert_eq!(Deflater::new(10, 12).unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Deflater::new(-2, 12).unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Deflater::new(6, 16).unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Deflater::new(6, 8).unwrap().window_bits(), 9);
        let bad = IpcompConfig {
            cpi: 5,
            ..IpcompConfig::default()
        };
        assert_eq!(IpcompSa::new(bad).unwrap_err().kind, ErrorKind::Config);
        let bad = IpcompConfig {
            mode: Mode::Tunnel,
            ..IpcompConfig::default()
        };
        assert_eq!(IpcompSa::new(bad).unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn transport_v6_round_trip() {
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let pkt = v6(17, &udp(&text(600)));
        let out = sa.output(&pkt).unwrap();
        assert!(out.len() < pkt.len());
        assert_eq!(out[6], proto::IPCOMP);
        assert_eq!(
            u16::from_be_bytes([out[4], out[5]]) as usize,
            out.len() - 40
        );
        assert_eq!(&out[40..44], &[17, 0, 0, 2]);
        // the compressed part is raw deflate (no zlib header)
        assert_eq!(inflate(&out[44..], 65535).unwrap(), &pkt[40..]);
        assert_eq!(sa.input(&out).unwrap(), pkt);
        assert_eq!(sa.stats.output_packets, 1);
        assert_eq!(sa.stats.input_packets, 1);
        assert_eq!(sa.stats.output_bytes_in, 608);
    }

    #[test]
    fn transport_v6_after_routing_header() {
        // HBH -> DSTOPTS -> ROUTING -> DSTOPTS -> UDP: IPComp goes after the
        // routing header; the final destination options are compressed.
        let mut ext = Vec::new();
        ext.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&udp(&text(300)));
        let pkt = v6(0, &ext);
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let out = sa.output(&pkt).unwrap();
        assert_eq!(&out[40..56], &pkt[40..56]);
        assert_eq!(&out[57..64], &pkt[57..64]);
        assert_eq!(out[56], proto::IPCOMP);
        assert_eq!(&out[64..68], &[60, 0, 0, 2]);
        assert_eq!(sa.input(&out).unwrap(), pkt);
    }

    #[test]
    fn transport_v4_with_options() {
        let pkt = v4(6, &[0x94, 0x04, 0, 0], &text(500));
        let mut sa = IpcompSa::new(IpcompConfig {
            cpi: 300,
            ..IpcompConfig::default()
        })
        .unwrap();
        let out = sa.output(&pkt).unwrap();
        assert_eq!(out[9], proto::IPCOMP);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]) as usize, out.len());
        assert!(tunnel::ipv4_cksum_ok(&out[..24]));
        assert_eq!(&out[24..28], &[6, 0, 0x01, 0x2c]);
        assert_eq!(sa.input(&out).unwrap(), pkt);
        // another CPI is refused
        let mut other = IpcompSa::new(IpcompConfig::default()).unwrap();
        assert_eq!(other.input(&out).unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn not_compressed_when_small_or_incompressible() {
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let small = v6(17, &udp(&text(81))); // 89-octet payload
        assert_eq!(sa.output(&small).unwrap(), small);
        assert_eq!(sa.stats.output_threshold, 1);
        let big = v6(17, &udp(&text(82))); // 90 octets: tried
        assert_eq!(sa.output(&big).unwrap()[6], proto::IPCOMP);
        // xorshift noise does not compress
        let mut x: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..1400)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let pkt = v6(17, &noise);
        assert_eq!(sa.output(&pkt).unwrap(), pkt);
        assert_eq!(sa.stats.output_uncompressed, 1);
        // the uncompressed form passes input untouched
        assert_eq!(sa.input(&pkt).unwrap(), pkt);
        assert_eq!(sa.stats.input_uncompressed, 1);
    }

    #[test]
    fn bomb_through_the_sa() {
        let zeros = vec![0u8; 10 << 20];
        let mut comp = vec![17, 0, 0, 2];
        comp.extend_from_slice(&deflate(&zeros, 9, 15).unwrap());
        let pkt = v6(proto::IPCOMP, &comp);
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let e = sa.input(&pkt).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
        assert_eq!(e.offset, 44);
        assert_eq!(sa.stats.inflate_limit, 1);
        // a corrupt stream is counted as an inflate error, offset absolute
        let pkt = v6(proto::IPCOMP, &[17, 0, 0, 2, 0x07, 0, 0]);
        let e = sa.input(&pkt).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.offset >= 44);
        assert_eq!(sa.stats.inflate_errors, 1);
        // expanding past 65535 of IPv6 Payload Length is a limit too
        let mut sa = IpcompSa::new(IpcompConfig {
            max_inflate: 1 << 20,
            ..IpcompConfig::default()
        })
        .unwrap();
        let mut comp = vec![17, 0, 0, 2];
        comp.extend_from_slice(&deflate(&vec![0u8; 70000], 9, 15).unwrap());
        let e = sa.input(&v6(proto::IPCOMP, &comp)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit { limit: 65535 });
    }

    fn tunnel_sa(src: &str, dst: &str) -> IpcompSa {
        let t = TunnelParams::new(
            src.parse::<IpAddr>().unwrap(),
            dst.parse::<IpAddr>().unwrap(),
        );
        IpcompSa::new(IpcompConfig {
            mode: Mode::Tunnel,
            tunnel: Some(t),
            ..IpcompConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn tunnel_mode_both_ways() {
        for (src, dst) in [
            ("2001:db8:f::1", "2001:db8:f::2"),
            ("198.51.100.1", "198.51.100.2"),
        ] {
            for inner in [v6(17, &udp(&text(700))), v4(17, &[], &udp(&text(700)))] {
                let mut sa = tunnel_sa(src, dst);
                let out = sa.output(&inner).unwrap();
                let v = out[0] >> 4;
                let (nh_at, hl) = if v == 4 { (9, 20) } else { (6, 40) };
                assert_eq!(out[nh_at], proto::IPCOMP);
                assert_eq!(out[hl], if inner[0] >> 4 == 4 { 4 } else { 41 });
                if v == 4 {
                    assert!(tunnel::ipv4_cksum_ok(&out[..20]));
                    assert_eq!(u16::from_be_bytes([out[2], out[3]]) as usize, out.len());
                } else {
                    assert_eq!(
                        u16::from_be_bytes([out[4], out[5]]) as usize,
                        out.len() - 40
                    );
                }
                assert_eq!(sa.input(&out).unwrap(), inner);
                // the uncompressed form is plain IP-in-IP, accepted too
                let small = v6(17, &udp(b"tiny"));
                let plain = sa.output(&small).unwrap();
                assert_eq!(plain[nh_at], 41);
                assert_eq!(sa.input(&plain).unwrap(), small);
                // wrong endpoints are refused
                let mut other = tunnel_sa(dst, src);
                assert!(other.input(&out).is_err());
            }
        }
    }

    #[test]
    fn late_hop_by_hop_agrees_both_ways() {
        // fuzz finding: DSTOPTS -> HBH (illegal: HBH not first). Output and
        // input must agree on where the payload starts, in every mode.
        let mut ext = vec![0u8, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&udp(&text(20)));
        let pkt = v6(60, &ext);
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let out = sa.output(&pkt).unwrap();
        assert_eq!(sa.input(&out).unwrap(), pkt);
        let mut t = tunnel_sa("2001:db8::1", "2001:db8::2");
        let out = t.output(&pkt).unwrap();
        assert_eq!(t.input(&out).unwrap(), pkt);
    }

    #[test]
    fn truncations_never_panic() {
        let mut sa = IpcompSa::new(IpcompConfig::default()).unwrap();
        let out = sa.output(&v6(17, &udp(&text(400)))).unwrap();
        for n in 0..out.len() {
            let _ = sa.input(&out[..n]);
            let _ = sa.output(&out[..n]);
        }
        let mut t = tunnel_sa("2001:db8::1", "2001:db8::2");
        let out = t.output(&v4(17, &[], &udp(&text(400)))).unwrap();
        for n in 0..out.len() {
            let _ = t.input(&out[..n]);
        }
    }
}
