//! ESP: `esp_output` / `esp_input` (RFC 4303; old ESP RFC 1827/1829;
//! ESP-in-UDP RFC 3948) over whole IPv6 or IPv4 packets, in transport or
//! tunnel mode.
//!
//! Output: sequence number (64-bit counter; the low 32 bits on the wire, the
//! high 32 in the ICV with ESN), IV (random for CBC, the 64-bit counter for
//! CTR/GCM/CCM/GMAC/ChaCha20 so nonces never repeat, the sequence number for
//! DES-deriv), padding 1, 2, 3, ... to the cipher block and 4-octet
//! alignment, optional `esp_randpad` (seed §4.3), ICV.
//!
//! Input: replay pre-check, ICV check in constant time *before* decrypting
//! (or the AEAD tag check), decrypt, padding check, and only then the replay
//! window update (RFC 4303 §3.4.3-3.4.4).

use ring::rand::{SecureRandom, SystemRandom};

use super::algo::{AuthAlg, AuthCtx, AuthSpec, CipherCtx, EncAlg};
use super::hdr::{self, Split};
use super::batch::{ArenaSa, BatchSa, Opened, OpenedAt, Span};
use super::replay::ReplayWindow;
use super::{Kat, Mode, SaStats};
use crate::error::{Error, ErrorKind, Layer, Result};
use crate::tunnel;
use crate::wire::proto;

/// RFC 3948 §2.2: the IKE/ESP port.
pub const NAT_T_PORT: u16 = 4500;

/// Configuration of an ESP SA.
#[derive(Debug, Clone)]
pub struct EspConfig {
    pub spi: u32,
    pub enc: EncAlg,
    pub enc_key: Vec<u8>,
    /// separate integrity algorithm (None or null for AEADs / no auth)
    pub auth: Option<AuthSpec>,
    pub auth_key: Vec<u8>,
    pub mode: Mode,
    /// replay window in packets, 0 = off (default 32)
    pub replay_window: u32,
    /// extended sequence numbers (RFC 4303 §2.2.1)
    pub esn: bool,
    /// ESP-in-UDP (RFC 3948): (source port, destination port)
    pub udp_encap: Option<(u16, u16)>,
    /// seed §4.3 `esp_randpad`: N > 0 pads ESP payloads shorter than N
    /// octets to a random length ≤ N; negative = off.
    pub randpad: i32,
    /// old ESP (RFC 1827): SPI then IV, no sequence number, no ICV
    pub old: bool,
}

impl EspConfig {
    pub fn new(spi: u32, enc: EncAlg, enc_key: &[u8]) -> EspConfig {
        EspConfig {
            spi,
            enc,
            enc_key: enc_key.to_vec(),
            auth: None,
            auth_key: Vec::new(),
            mode: Mode::Transport,
            replay_window: super::replay::DEFAULT_WINDOW,
            esn: false,
            udp_encap: None,
            randpad: -1,
            old: false,
        }
    }
}

/// An ESP security association: keys, counters and replay state.
pub struct EspSa {
    pub spi: u32,
    enc: EncAlg,
    cipher: CipherCtx,
    auth: AuthSpec,
    auth_ctx: AuthCtx,
    pub mode: Mode,
    /// the last sequence number sent (64 bits; first packet gets 1)
    pub seq: u64,
    pub replay: ReplayWindow,
    pub esn: bool,
    pub udp_encap: Option<(u16, u16)>,
    pub randpad: i32,
    pub old: bool,
    pub stats: SaStats,
    rng: SystemRandom,
    /// IV generator for the CBC ciphers: AES-128 under a random per-SA key
    /// over (SPI, sequence number), like Linux's seqiv/echainiv: never
    /// repeating, unpredictable without the key (RFC 3602 §2.1 asks for
    /// unpredictable IVs), and no system call per packet.
    ivgen: aes::Aes128,
}

fn config(r: &'static str) -> Error {
    Error::new(Layer::Esp, ErrorKind::Config, 0, r)
}

impl EspSa {
    pub fn new(cfg: EspConfig) -> Result<EspSa> {
        let cipher = CipherCtx::new(cfg.enc, &cfg.enc_key)?;
        let auth = cfg.auth.unwrap_or(AuthSpec { alg: AuthAlg::Null, icv_len: 0 });
        if cfg.enc.is_aead() && auth.alg != AuthAlg::Null {
            return Err(config("a combined-mode algorithm takes no separate integrity algorithm (RFC 4303 §3.2.3)"));
        }
        if cfg.old {
            if auth.alg != AuthAlg::Null {
                return Err(config("old ESP (RFC 1827) has no authentication; use AH"));
            }
            if !matches!(cfg.enc, EncAlg::Null | EncAlg::DesCbc | EncAlg::TripleDesCbc | EncAlg::BlowfishCbc | EncAlg::Cast128Cbc | EncAlg::Rc5Cbc | EncAlg::AesCbc) {
                return Err(config("old ESP carries CBC ciphers or null only (RFC 1829)"));
            }
            if cfg.esn {
                return Err(config("old ESP has no sequence number"));
            }
        }
        if cfg.enc == EncAlg::DesDeriv && cfg.esn {
            return Err(config("des-deriv uses the 32-bit sequence number as IV; no ESN"));
        }
        let auth_ctx = AuthCtx::new(auth.alg, &cfg.auth_key)?;
        let rng = SystemRandom::new();
        let mut ivk = zeroize::Zeroizing::new([0u8; 16]);
        rng.fill(ivk.as_mut()).map_err(|_| config("system random source failed"))?;
        let ivgen = {
            use aes::cipher::KeyInit;
            aes::Aes128::new(&aes::cipher::generic_array::GenericArray::from(*ivk))
        };
        Ok(EspSa {
            spi: cfg.spi,
            enc: cfg.enc,
            cipher,
            auth,
            auth_ctx,
            mode: cfg.mode,
            seq: 0,
            replay: ReplayWindow::new(cfg.replay_window)?,
            esn: cfg.esn,
            udp_encap: cfg.udp_encap,
            randpad: cfg.randpad,
            old: cfg.old,
            stats: SaStats::default(),
            rng,
            ivgen,
        })
    }

    pub fn enc(&self) -> EncAlg {
        self.enc
    }

    pub fn auth(&self) -> AuthSpec {
        self.auth
    }

    /// ICV octets appended to each packet.
    pub fn icv_len(&self) -> usize {
        if self.old {
            0
        } else if self.enc.is_aead() {
            self.enc.aead_icv()
        } else {
            self.auth.icv_len
        }
    }

    fn has_integrity(&self) -> bool {
        !self.old && self.icv_len() > 0
    }

    /// IV octets in the packet.
    fn iv_len(&self) -> usize {
        if self.old {
            // RFC 1829: the IV is one cipher block, carried after the SPI
            if self.enc == EncAlg::Null { 0 } else { self.enc.block() }
        } else {
            self.enc.iv_len()
        }
    }

    fn hdr_len(&self) -> usize {
        if self.old { 4 } else { 8 }
    }

    /// The ESP header + trailer overhead for a payload of `len` octets
    /// (without random padding), as TCP's MSS computation needs it.
    pub fn overhead(&self, len: usize) -> usize {
        let align = self.enc.pad_align();
        let body = len + 2;
        let pad = (align - body % align) % align;
        self.hdr_len() + self.iv_len() + pad + 2 + self.icv_len()
    }

    fn next_seq(&mut self) -> Result<u64> {
        let next = self.seq.checked_add(1).ok_or_else(|| config("sequence number space exhausted"))?;
        if !self.esn && next > u64::from(u32::MAX) && !self.old {
            return Err(Error::new(Layer::Esp, ErrorKind::Limit { limit: u64::from(u32::MAX) }, 0, "sequence number would cycle: rekey (RFC 4303 §3.3.3)"));
        }
        self.seq = next;
        Ok(next)
    }

    /// A fresh CBC IV: E(K_iv, SPI ‖ 0 ‖ seq) for new ESP; old ESP (no
    /// sequence number) draws from the system random source.
    fn next_iv(&mut self, seq: u64) -> Result<[u8; 16]> {
        use aes::cipher::BlockEncrypt;
        let mut b = [0u8; 16];
        if self.old {
            self.random_fill(&mut b)?;
            return Ok(b);
        }
        b[..4].copy_from_slice(&self.spi.to_be_bytes());
        b[8..].copy_from_slice(&seq.to_be_bytes());
        let mut blk = aes::Block::from(b);
        self.ivgen.encrypt_block(&mut blk);
        b.copy_from_slice(&blk);
        Ok(b)
    }

    fn random_fill(&self, b: &mut [u8]) -> Result<()> {
        self.rng.fill(b).map_err(|_| config("system random source failed"))
    }

    /// The padding for a payload of `payload_len` octets: RFC 4303 §2.4's
    /// 1, 2, 3, ... to the cipher block and 4-octet alignment, plus the
    /// seed §4.3 `esp_randpad`, or the known-answer padding.
    fn choose_pad<'k>(&self, payload_len: usize, kat: Option<&'k Kat>) -> Result<Pad<'k>> {
        let align = self.enc.pad_align();
        let base = payload_len + 2;
        if let Some(pad) = kat.and_then(|k| k.pad.as_deref()) {
            if pad.len() > 255 || (base + pad.len()) % self.enc.block().max(1) != 0 {
                return Err(config("known-answer padding does not align the payload"));
            }
            return Ok(Pad::Given(pad));
        }
        let mut padlen = (align - base % align) % align;
        if self.randpad > 0 {
            let n = self.randpad as usize;
            let len = base + padlen;
            if len < n {
                // seed §4.3: pad to a random length ≤ N (N excludes
                // the ICV), in whole alignment units, padding ≤ 255
                let room = ((n - len) / align).min((255 - padlen) / align);
                let mut r = [0u8; 2];
                self.random_fill(&mut r)?;
                let k = usize::from(u16::from_be_bytes(r)) % (room + 1);
                padlen += k * align;
            }
        }
        Ok(Pad::Len(padlen))
    }

    /// Octets the ESP part (SPI through ICV) takes for a payload of
    /// `payload_len` octets and `pad_len` octets of padding; `u64`, so the
    /// arithmetic near the 32-bit Jumbo Payload Length is checkable with no
    /// such payload in memory.
    pub fn sealed_len(&self, payload_len: u64, pad_len: u64) -> u64 {
        (self.hdr_len() + self.iv_len() + 2 + self.icv_len()) as u64 + payload_len + pad_len
    }

    /// Append `SPI ‖ seq ‖ IV ‖ E(payload ‖ pad ‖ padlen ‖ nh) ‖ ICV` to
    /// `out` (RFC 4303 §3.3).
    pub fn seal(&mut self, payload: &[u8], nh: u8, kat: Option<&Kat>, out: &mut Vec<u8>) -> Result<()> {
        let pad = self.choose_pad(payload.len(), kat)?;
        self.seal_padded(payload, nh, pad, kat, out)
    }

    fn seal_padded(&mut self, payload: &[u8], nh: u8, pad: Pad<'_>, kat: Option<&Kat>, out: &mut Vec<u8>) -> Result<()> {
        let base = out.len();
        let at = self.seal_layout(payload, nh, pad, kat, out)?;
        let r = self.seal_crypt(out.get_mut(base..).unwrap_or(&mut []), at.from(base));
        if r.is_err() {
            out.truncate(base);
        }
        r
    }

    /// The sequential half of [`EspSa::seal`]: take the sequence number,
    /// write SPI, sequence number, IV and the plaintext with its padding and
    /// trailer, and leave room (zeros) for the ICV. What is left ([`EspSa::seal_crypt`]) depends on nothing but
    /// these octets and the keys, so a batch runs it in parallel.
    fn seal_layout(&mut self, payload: &[u8], nh: u8, pad: Pad<'_>, kat: Option<&Kat>, out: &mut Vec<u8>) -> Result<SealAt> {
        let seq = if self.old { 0 } else { self.next_seq()? };
        let start = out.len();
        out.extend_from_slice(&self.spi.to_be_bytes());
        if !self.old {
            out.extend_from_slice(&(seq as u32).to_be_bytes());
        }
        // IV
        let iv_len = self.iv_len();
        let iv_at = out.len();
        out.resize(iv_at + iv_len, 0);
        match kat.and_then(|k| k.iv.as_deref()) {
            Some(iv) => {
                if iv.len() != iv_len {
                    return Err(config("known-answer IV has the wrong length"));
                }
                if let Some(d) = out.get_mut(iv_at..) {
                    d.copy_from_slice(iv);
                }
            }
            None if self.enc.counter_iv() && !self.old => {
                if let Some(d) = out.get_mut(iv_at..) {
                    d.copy_from_slice(&seq.to_be_bytes());
                }
            }
            None => {
                let iv = self.next_iv(seq)?;
                if let (Some(d), Some(s)) = (out.get_mut(iv_at..), iv.get(..iv_len)) {
                    d.copy_from_slice(s);
                }
            }
        }
        // payload, padding, trailer
        let body_at = out.len();
        out.extend_from_slice(payload);
        match pad {
            Pad::Given(p) => {
                out.extend_from_slice(p);
                out.push(p.len() as u8);
            }
            Pad::Len(n) => {
                out.extend((1..=n).map(|i| i as u8));
                out.push(n as u8);
            }
        }
        out.push(nh);
        let body_end = out.len();
        out.resize(body_end + self.icv_len(), 0);
        Ok(SealAt { start, iv_at, body_at, body_end, seq })
    }

    /// Encrypt in place the plaintext [`EspSa::seal_layout`] wrote and write
    /// the ICV in the room left for it; `out` is the packet, `at` from its
    /// start. Touches nothing outside `out`, so the packets of a batch are
    /// sealed on several threads at once.
    fn seal_crypt(&self, out: &mut [u8], at: SealAt) -> Result<()> {
        let SealAt { start, iv_at, body_at, body_end, seq } = at;
        let icv_len = self.icv_len();
        if out.len() < body_end + icv_len || start > iv_at || iv_at > body_at || body_at > body_end {
            return Err(config("ESP output buffer changed between layout and encryption"));
        }
        // encrypt
        let esn_hi = ((seq >> 32) as u32).to_be_bytes();
        match self.enc {
            EncAlg::AesGmac => {
                let mut aad = Vec::with_capacity(body_end - start + 4);
                aad.extend_from_slice(out.get(start..start + 4).unwrap_or(&[]));
                if self.esn {
                    aad.extend_from_slice(&esn_hi);
                }
                aad.extend_from_slice(out.get(start + 4..body_end).unwrap_or(&[]));
                let iv = iv8(out.get(iv_at..body_at))?;
                let mut tag = [0u8; 16];
                self.cipher.seal(&iv, &aad, &mut [], &mut tag)?;
                put_icv(out, body_end, tag.get(..icv_len).unwrap_or(&[]));
            }
            e if e.is_aead() => {
                let aad = self.aead_aad(seq);
                let iv = iv8(out.get(iv_at..body_at))?;
                let mut tag = [0u8; 16];
                let body = out.get_mut(body_at..body_end).unwrap_or(&mut []);
                self.cipher.seal(&iv, aad.as_slice(), body, &mut tag)?;
                put_icv(out, body_end, tag.get(..icv_len).unwrap_or(&[]));
            }
            _ => {
                let ivbuf = self.cipher_iv(out.get(iv_at..body_at).unwrap_or(&[]), seq);
                if icv_len > 0 {
                    // CBC and HMAC stitched where the pair allows it
                    let tail: &[u8] = if self.esn { &esn_hi } else { &[] };
                    let (front, back) = out.split_at_mut(body_at);
                    let head = front.get(start..).unwrap_or(&[]);
                    let body = back.get_mut(..body_end - body_at).unwrap_or(&mut []);
                    if let Some(tag) = self.cipher.encrypt_then_mac(&self.auth_ctx, ivbuf.as_slice(), head, body, tail) {
                        let tag = tag?;
                        put_icv(out, body_end, tag.as_slice().get(..icv_len).unwrap_or(&[]));
                        return Ok(());
                    }
                }
                let body = out.get_mut(body_at..body_end).unwrap_or(&mut []);
                self.cipher.encrypt(ivbuf.as_slice(), body)?;
                if icv_len > 0 {
                    let mut icv = [0u8; 64];
                    let icv = icv.get_mut(..icv_len).unwrap_or(&mut []);
                    {
                        let covered = out.get(start..body_end).unwrap_or(&[]);
                        if self.esn {
                            self.auth_ctx.sign_into(&[covered, &esn_hi], icv);
                        } else {
                            self.auth_ctx.sign_into(&[covered], icv);
                        }
                    }
                    put_icv(out, body_end, icv);
                }
            }
        }
        Ok(())
    }

    /// The IV the cipher uses: the carried IV, or for DES-deriv the
    /// sequence number extended as KAME's esp_cbc_decrypt did
    /// (seq ‖ ~seq).
    fn cipher_iv(&self, carried: &[u8], seq: u64) -> IvBuf {
        let mut b = IvBuf { buf: [0; 16], len: 0 };
        if self.enc == EncAlg::DesDeriv {
            let s = (seq as u32).to_be_bytes();
            b.buf[..4].copy_from_slice(&s);
            for (d, s) in b.buf[4..8].iter_mut().zip(s.iter()) {
                *d = !s;
            }
            b.len = 8;
        } else {
            let n = carried.len().min(16);
            if let (Some(d), Some(s)) = (b.buf.get_mut(..n), carried.get(..n)) {
                d.copy_from_slice(s);
            }
            b.len = n;
        }
        b
    }

    /// AAD of RFC 4106 §5 / RFC 7634 §2.1: SPI ‖ seq, or SPI ‖ seq_hi ‖ seq_lo.
    fn aead_aad(&self, seq: u64) -> AadBuf {
        let mut a = AadBuf { buf: [0; 12], len: 8 };
        a.buf[..4].copy_from_slice(&self.spi.to_be_bytes());
        if self.esn {
            a.buf[4..12].copy_from_slice(&seq.to_be_bytes());
            a.len = 12;
        } else {
            a.buf[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        }
        a
    }

    /// Verify and decrypt the ESP part `esp` (SPI through ICV) in place.
    /// Returns (next header, start, end) of the payload within `esp`.
    /// `base` is the offset of `esp` in the packet, for errors.
    pub fn open(&mut self, esp: &mut [u8], base: usize) -> Result<(u8, usize, usize)> {
        let seq = self.open_check(esp, base)?;
        let r = self.open_crypt(esp, base, seq)?;
        if self.has_integrity() {
            self.replay.update(seq);
        }
        Ok(r)
    }

    /// The checks before any cryptography: length, SPI, and the replay
    /// pre-check against the window as it stands (RFC 4303 §3.4.3).
    /// Returns the full (ESN-inferred) sequence number.
    fn open_check(&self, esp: &[u8], base: usize) -> Result<u64> {
        let b = base as u64;
        let min = self.hdr_len() + self.iv_len() + 2 + self.icv_len();
        if esp.len() < min {
            return Err(Error::truncated(Layer::Esp, b, min as u64, esp.len() as u64, "ESP header, IV, trailer and ICV (RFC 4303 §2)"));
        }
        let spi = be32(esp, 0);
        if spi != self.spi {
            return Err(Error::malformed(Layer::Esp, b, "SPI does not match this SA"));
        }
        let seq = if self.old {
            0
        } else {
            let lo = be32(esp, 4);
            self.replay.infer(lo, self.esn)
        };
        if self.has_integrity() {
            self.replay.check(seq, b + 4, Layer::Esp)?;
        }
        Ok(seq)
    }

    /// ICV check, decryption and padding check of a packet
    /// [`EspSa::open_check`] let through as `seq`; no SA state changes.
    fn open_crypt(&self, esp: &mut [u8], base: usize, seq: u64) -> Result<(u8, usize, usize)> {
        let b = base as u64;
        let hl = self.hdr_len();
        let iv_len = self.iv_len();
        let icv_len = self.icv_len();
        let min = hl + iv_len + 2 + icv_len;
        if esp.len() < min {
            return Err(Error::truncated(Layer::Esp, b, min as u64, esp.len() as u64, "ESP header, IV, trailer and ICV (RFC 4303 §2)"));
        }
        let ct_start = hl + iv_len;
        let ct_end = esp.len() - icv_len;
        let esn_hi = ((seq >> 32) as u32).to_be_bytes();
        match self.enc {
            EncAlg::AesGmac => {
                let mut aad = Vec::with_capacity(ct_end + 4);
                aad.extend_from_slice(esp.get(..4).unwrap_or(&[]));
                if self.esn {
                    aad.extend_from_slice(&esn_hi);
                }
                aad.extend_from_slice(esp.get(4..ct_end).unwrap_or(&[]));
                let iv = iv8(esp.get(hl..ct_start))?;
                let (_, tag) = esp.split_at(ct_end);
                self.cipher.open(&iv, &aad, &mut [], tag, b + ct_end as u64)?;
            }
            e if e.is_aead() => {
                let aad = self.aead_aad(seq);
                let iv = iv8(esp.get(hl..ct_start))?;
                let region = esp.get_mut(ct_start..).unwrap_or(&mut []);
                self.cipher.open_contiguous(&iv, aad.as_slice(), region, icv_len, b + ct_end as u64)?;
            }
            _ => {
                if icv_len > 0 {
                    let (covered, icv) = esp.split_at(ct_end);
                    let ok = if self.esn {
                        self.auth_ctx.verify(&[covered, &esn_hi], icv)
                    } else {
                        self.auth_ctx.verify(&[covered], icv)
                    };
                    if !ok {
                        return Err(Error::new(Layer::Esp, ErrorKind::Integrity, b + ct_end as u64, "ESP ICV mismatch (RFC 4303 §3.4.4)"));
                    }
                }
                let blk = self.enc.block();
                if (ct_end - ct_start) % blk != 0 {
                    return Err(Error::malformed(Layer::Esp, b + ct_start as u64, "ciphertext not a multiple of the cipher block (RFC 4303 §2.4)"));
                }
                let ivbuf = self.cipher_iv(esp.get(hl..ct_start).unwrap_or(&[]), seq);
                let body = esp.get_mut(ct_start..ct_end).unwrap_or(&mut []);
                self.cipher.decrypt(ivbuf.as_slice(), body)?;
            }
        }
        // trailer
        let nh = esp.get(ct_end - 1).copied().unwrap_or(0);
        let padlen = usize::from(esp.get(ct_end - 2).copied().unwrap_or(0));
        let pt_end = (ct_end - 2)
            .checked_sub(padlen)
            .filter(|e| *e >= ct_start)
            .ok_or_else(|| Error::new(Layer::Esp, ErrorKind::BadPadding, b + (ct_end - 2) as u64, "ESP pad length exceeds the payload (RFC 4303 §2.4)"))?;
        if !self.old {
            let pad = esp.get(pt_end..ct_end - 2).unwrap_or(&[]);
            if pad.iter().enumerate().any(|(i, &v)| usize::from(v) != i + 1) {
                return Err(Error::new(Layer::Esp, ErrorKind::BadPadding, b + pt_end as u64, "ESP padding is not 1, 2, 3, ... (RFC 4303 §2.4)"));
            }
        }
        Ok((nh, ct_start, pt_end))
    }

    /// `esp6_output` / `esp4_output`: protect a whole IP packet.
    pub fn output(&mut self, packet: &[u8], kat: Option<&Kat>) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(packet.len() + self.max_overhead());
        self.output_into(packet, kat, &mut out)?;
        Ok(out)
    }

    /// The most octets output can add (outer header with a Jumbo Payload
    /// option, UDP, ESP header, IV, maximal padding, trailer, ICV): what an
    /// arena batch reserves per packet, so that it is not moved mid-batch.
    pub fn max_overhead(&self) -> usize {
        48 + 8 + 8 + 16 + 255 + 2 + 32
    }

    /// [`EspSa::output`] into a caller's buffer (cleared first), so a
    /// sender can reuse one allocation.
    pub fn output_into(&mut self, packet: &[u8], kat: Option<&Kat>, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        self.output_append(packet, kat, out)
    }

    /// [`EspSa::output`] appended to `buf` after what it holds (nothing is
    /// appended when the packet is refused): a batch writes all its packets
    /// into one buffer, with no allocation and no copy per packet.
    pub fn output_append(&mut self, packet: &[u8], kat: Option<&Kat>, buf: &mut Vec<u8>) -> Result<()> {
        let base = buf.len();
        let r = self
            .output_prepare(packet, kat, buf)
            .and_then(|plan| self.output_finish(buf.get_mut(base..).unwrap_or(&mut []), &plan));
        if r.is_err() {
            buf.truncate(base);
        }
        self.count_output(&r, buf.len() - base);
        r
    }

    fn count_output<T>(&mut self, r: &Result<T>, len: usize) {
        if r.is_ok() {
            self.stats.out_packets += 1;
            self.stats.out_bytes += len as u64;
        }
    }

    /// The sequential half of `esp_output`: headers, sequence number, IV,
    /// padding and the plaintext appended to `out`, room left for the ICV;
    /// the plan it returns is from where the packet starts. Something may
    /// have been appended when it fails (the caller truncates).
    fn output_prepare(&mut self, packet: &[u8], kat: Option<&Kat>, out: &mut Vec<u8>) -> Result<EspPlan> {
        let udp = self.udp_encap.is_some();
        let carrier = if udp { proto::UDP } else { proto::ESP };
        let base = out.len();
        match self.mode {
            Mode::Transport => {
                let s = hdr::split_output(packet)?;
                out.extend_from_slice(packet.get(..s.off).unwrap_or(&[]));
                let udp_at = out.len() - base;
                if udp {
                    out.extend_from_slice(&[0; 8]);
                }
                let payload = packet.get(s.off..).unwrap_or(&[]);
                let pad = self.choose_pad(payload.len(), kat)?;
                let at = self.seal_layout(payload, s.nh, pad, kat, out)?.from(base);
                if let Some(b) = out.get_mut(base + s.nh_pos) {
                    *b = carrier;
                }
                Ok(EspPlan { at, udp_at, v6: s.v6, transport: true })
            }
            Mode::Tunnel(t) => {
                let v = hdr::version(packet)?;
                let inner_nh = if v == 6 { proto::IPV6 } else { proto::IPV4 };
                // the padding is chosen first so the outer header, which
                // may need a Jumbo Payload option, is written once
                let pad = self.choose_pad(packet.len(), kat)?;
                let esp_len = self.sealed_len(packet.len() as u64, pad.len() as u64) + if udp { 8 } else { 0 };
                t.write_outer(out, carrier, tunnel::tos_of(packet), tunnel::df_of(packet), esp_len)
                    .map_err(|mut e| {
                        e.layer = Layer::Esp;
                        e
                    })?;
                let udp_at = out.len() - base;
                if udp {
                    out.extend_from_slice(&[0; 8]);
                }
                let at = self.seal_layout(packet, inner_nh, pad, kat, out)?.from(base);
                Ok(EspPlan { at, udp_at, v6: t.src.is_ipv6(), transport: false })
            }
        }
    }

    /// The half of `esp_output` that needs no SA state but the keys:
    /// encryption, ICV, the ESP-in-UDP header and the lengths, in place in
    /// `pkt`, the packet [`EspSa::output_prepare`] laid out.
    fn output_finish(&self, pkt: &mut [u8], plan: &EspPlan) -> Result<()> {
        self.seal_crypt(pkt, plan.at)?;
        self.finish_udp(pkt, plan.v6, plan.udp_at)?;
        if plan.transport {
            // a jumbogram's Jumbo Payload Length grows with it (RFC 2675)
            hdr::fix_lengths(pkt, plan.v6)?;
        }
        Ok(())
    }

    /// The UDP header for ESP-in-UDP (RFC 3948 §2.1: checksum zero over
    /// IPv4; computed over IPv6); `out` is the whole packet, the UDP header
    /// at `udp_at` in it.
    fn finish_udp(&self, out: &mut [u8], v6: bool, udp_at: usize) -> Result<()> {
        if let Some((sport, dport)) = self.udp_encap {
            let ulen = u16::try_from(out.len() - udp_at).map_err(|_| {
                Error::new(Layer::Esp, ErrorKind::Limit { limit: 65535 }, udp_at as u64, "ESP-in-UDP datagram over 65535 octets (RFC 768 length)")
            })?;
            let mut h = [0u8; 8];
            h[0..2].copy_from_slice(&sport.to_be_bytes());
            h[2..4].copy_from_slice(&dport.to_be_bytes());
            h[4..6].copy_from_slice(&ulen.to_be_bytes());
            if let Some(u) = out.get_mut(udp_at..udp_at + 8) {
                u.copy_from_slice(&h);
            }
            if v6 {
                let c = {
                    let src = out.get(8..24).unwrap_or(&[]);
                    let dst = out.get(24..40).unwrap_or(&[]);
                    hdr::udp6_cksum(src, dst, out.get(udp_at..).unwrap_or(&[]))
                };
                if let Some(u) = out.get_mut(udp_at + 6..udp_at + 8) {
                    u.copy_from_slice(&c.to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// `esp6_input` / `esp4_input`: verify, decrypt and strip ESP. In
    /// transport mode the packet comes back without ESP (Next Header and
    /// lengths fixed); in tunnel mode the inner packet comes back.
    pub fn input(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        let r = self.input_check(packet).and_then(|c| {
            let o = self.input_crypt(packet, &c);
            self.input_commit(&c, o)
        });
        self.count_input(&r, packet.len());
        r
    }

    fn count_input<T>(&mut self, r: &Result<T>, len: usize) {
        match r {
            Ok(_) => {
                self.stats.in_packets += 1;
                self.stats.in_bytes += len as u64;
            }
            Err(e) => self.stats.count_in_error(e),
        }
    }

    /// The sequential checks of `esp_input` before any cryptography: the
    /// header walk, ESP-in-UDP marker, length, SPI and the replay
    /// pre-check against the window as it stands now.
    fn input_check(&self, packet: &[u8]) -> Result<EspInCheck> {
        let (s, esp_at) = if self.udp_encap.is_some() {
            let s = hdr::find_proto(packet, proto::UDP, Layer::Esp)?;
            let at = s.off + 8;
            let marker = packet.get(at..at + 4).ok_or_else(|| {
                Error::truncated(Layer::Udp, s.off as u64, 12, packet.len().saturating_sub(s.off) as u64, "ESP-in-UDP (RFC 3948 §2.2)")
            })?;
            if marker == [0, 0, 0, 0] {
                return Err(Error::malformed(Layer::Esp, at as u64, "non-ESP marker: an IKE packet, not ESP (RFC 3948 §2.2)"));
            }
            (s, at)
        } else {
            let s = hdr::find_proto(packet, proto::ESP, Layer::Esp)?;
            (s, s.off)
        };
        let seq = self.open_check(packet.get(esp_at..).unwrap_or(&[]), esp_at)?;
        Ok(EspInCheck { s, esp_at, seq })
    }

    /// ICV, decryption, padding and decapsulation of a checked packet: a
    /// pure function of the packet, its sequence number and the keys, so
    /// a batch runs it in parallel.
    fn input_crypt(&self, packet: &[u8], c: &EspInCheck) -> Opened {
        let mut buf = packet.to_vec();
        let esp = buf.get_mut(c.esp_at..).unwrap_or(&mut []);
        match self.open_crypt(esp, c.esp_at, c.seq) {
            Err(e) => Opened::Refused(e),
            Ok((nh, ps, pe)) => Opened::Verified(self.decap(buf, c.s, nh, c.esp_at + ps, c.esp_at + pe, Layer::Esp)),
        }
    }

    /// Only after the ICV verified does the window move (RFC 4303 §3.4.3).
    fn input_commit(&mut self, c: &EspInCheck, o: Opened) -> Result<Vec<u8>> {
        match o {
            Opened::Refused(e) => Err(e),
            Opened::Verified(r) => {
                if self.has_integrity() {
                    self.replay.update(c.seq);
                }
                r
            }
        }
    }

    fn decap(&self, mut buf: Vec<u8>, s: Split, nh: u8, ps: usize, pe: usize, layer: Layer) -> Result<Vec<u8>> {
        self.decap_at(&mut buf, 0, s, nh, ps, pe, layer)?;
        Ok(buf)
    }

    /// Decapsulate in place the decrypted packet at `base` in `buf`, its
    /// payload at `ps..pe` (from `base`): the transport-mode packet without
    /// ESP, or the tunnel's inner packet, is left at `base`.
    #[allow(clippy::too_many_arguments)]
    fn decap_at(&self, buf: &mut Vec<u8>, base: usize, s: Split, nh: u8, ps: usize, pe: usize, layer: Layer) -> Result<()> {
        let (from, to) = (base + ps, base + pe);
        if from > to || to > buf.len() || base + s.off > from {
            return Err(Error::malformed(layer, ps as u64, "ESP payload outside the packet"));
        }
        if let Mode::Tunnel(t) = self.mode {
            if nh != proto::IPV6 && nh != proto::IPV4 {
                return Err(Error::malformed(layer, ps as u64, "tunnel-mode SA but the payload is not an IP packet (RFC 4301 §5.2)"));
            }
            let outer_tos = tunnel::tos_of(buf.get(base..).unwrap_or(&[]));
            buf.copy_within(from..to, base);
            buf.truncate(base + (pe - ps));
            let inner = buf.get_mut(base..).unwrap_or(&mut []);
            hdr::version(inner).map_err(|e| e.at(ps as u64))?;
            // seed §4.6 egress: the outer ECN onto the inner header
            tunnel::egress_inner(inner, t.ecn, outer_tos).map_err(|e| e.at(ps as u64))?;
            return Ok(());
        }
        buf.copy_within(from..to, base + s.off);
        buf.truncate(base + s.off + (pe - ps));
        let pkt = buf.get_mut(base..).unwrap_or(&mut []);
        if let Some(b) = pkt.get_mut(s.nh_pos) {
            *b = nh;
        }
        hdr::fix_lengths(pkt, s.v6)
    }

    /// The cryptographic half of input in place in `pkt`, a copy of a
    /// packet [`EspSa::input_check`] let through: where in `pkt` the packet
    /// it gives lies.
    fn input_open(&self, pkt: &mut [u8], c: &EspInCheck) -> OpenedAt {
        let esp = pkt.get_mut(c.esp_at..).unwrap_or(&mut []);
        match self.open_crypt(esp, c.esp_at, c.seq) {
            Err(e) => OpenedAt::Refused(e),
            Ok((nh, ps, pe)) => OpenedAt::Verified(self.decap_span(pkt, c.s, nh, c.esp_at + ps, c.esp_at + pe)),
        }
    }

    /// [`EspSa::decap_at`] without moving the payload at `from..to` in
    /// `pkt`: the tunnel's inner packet is where it is; in transport mode
    /// the headers before ESP are moved up to end where the payload
    /// starts. The same octets and errors; returns where they lie.
    fn decap_span(&self, pkt: &mut [u8], s: Split, nh: u8, from: usize, to: usize) -> Result<(usize, usize)> {
        let layer = Layer::Esp;
        if from > to || to > pkt.len() || s.off > from {
            return Err(Error::malformed(layer, from as u64, "ESP payload outside the packet"));
        }
        if let Mode::Tunnel(t) = self.mode {
            if nh != proto::IPV6 && nh != proto::IPV4 {
                return Err(Error::malformed(layer, from as u64, "tunnel-mode SA but the payload is not an IP packet (RFC 4301 §5.2)"));
            }
            let outer_tos = tunnel::tos_of(pkt);
            let inner = pkt.get_mut(from..to).unwrap_or(&mut []);
            hdr::version(inner).map_err(|e| e.at(from as u64))?;
            // seed §4.6 egress: the outer ECN onto the inner header
            tunnel::egress_inner(inner, t.ecn, outer_tos).map_err(|e| e.at(from as u64))?;
            return Ok((from, to));
        }
        let start = from - s.off;
        pkt.copy_within(..s.off, start);
        let out = pkt.get_mut(start..to).unwrap_or(&mut []);
        if let Some(b) = out.get_mut(s.nh_pos) {
            *b = nh;
        }
        hdr::fix_lengths(out, s.v6)?;
        Ok((start, to))
    }

    /// [`EspSa::input`] appended to `buf` after what it holds (nothing is
    /// appended when the packet is dropped): the packet is copied once, into
    /// `buf`, and verified, decrypted and decapsulated there. The checks,
    /// the window and the counters are those of [`EspSa::input`].
    pub fn input_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<()> {
        let base = buf.len();
        let r = self.input_check(packet).and_then(|c| {
            buf.extend_from_slice(packet);
            let esp = buf.get_mut(base + c.esp_at..).unwrap_or(&mut []);
            let opened = match self.open_crypt(esp, c.esp_at, c.seq) {
                Err(e) => Opened::Refused(e),
                Ok((nh, ps, pe)) => Opened::Verified(
                    self.decap_at(buf, base, c.s, nh, c.esp_at + ps, c.esp_at + pe, Layer::Esp).map(|()| Vec::new()),
                ),
            };
            self.input_commit(&c, opened).map(drop)
        });
        if r.is_err() {
            buf.truncate(base);
        }
        self.count_input(&r, packet.len());
        r
    }
}

impl BatchSa for EspSa {
    type OutJob = EspOutJob;
    type InCheck = EspInCheck;

    fn out_job(&self, packet_len: usize) -> EspOutJob {
        EspOutJob { out: Vec::with_capacity(packet_len + self.max_overhead()), plan: None }
    }
    fn out_prepare(&mut self, packet: &[u8], job: &mut EspOutJob) -> Result<()> {
        job.plan = Some(self.output_prepare(packet, None, &mut job.out)?);
        Ok(())
    }
    fn out_finish(&self, mut job: EspOutJob) -> Result<Vec<u8>> {
        let plan = job.plan.ok_or_else(|| config("ESP output finished before it was laid out"))?;
        self.output_finish(&mut job.out, &plan).map(|()| job.out)
    }
    fn out_count(&mut self, r: &Result<Vec<u8>>) {
        let len = r.as_ref().map_or(0, |v| v.len());
        self.count_output(r, len);
    }
    fn in_check(&self, packet: &[u8]) -> Result<EspInCheck> {
        self.input_check(packet)
    }
    fn in_seq(c: &EspInCheck) -> u64 {
        c.seq
    }
    fn in_crypt(&self, packet: &[u8], c: &EspInCheck) -> Opened {
        self.input_crypt(packet, c)
    }
    fn in_commit(&mut self, c: &EspInCheck, o: Opened) -> Result<Vec<u8>> {
        self.input_commit(c, o)
    }
    fn in_count(&mut self, r: &Result<Vec<u8>>, len: usize) {
        self.count_input(r, len);
    }
    fn out_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<()> {
        self.output_append(packet, None, buf)
    }
    fn in_append(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<()> {
        self.input_append(packet, buf)
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_be_bytes).unwrap_or(0)
}

fn iv8(s: Option<&[u8]>) -> Result<[u8; 8]> {
    s.and_then(|s| <[u8; 8]>::try_from(s).ok()).ok_or_else(|| config("combined-mode IV must be 8 octets"))
}

/// The padding of one packet: given (known-answer tests) or a length.
enum Pad<'k> {
    Given(&'k [u8]),
    Len(usize),
}

impl Pad<'_> {
    fn len(&self) -> usize {
        match self {
            Pad::Given(p) => p.len(),
            Pad::Len(n) => *n,
        }
    }
}

/// What `esp_input`'s checks found: where ESP is and its sequence number.
impl ArenaSa for EspSa {
    type Plan = EspPlan;

    fn out_growth(&self) -> usize {
        self.max_overhead()
    }
    fn out_layout(&mut self, packet: &[u8], buf: &mut Vec<u8>) -> Result<EspPlan> {
        self.output_prepare(packet, None, buf)
    }
    fn out_seal(&self, pkt: &mut [u8], plan: &EspPlan) -> Result<()> {
        self.output_finish(pkt, plan)
    }
    fn out_counted(&mut self, r: &Span) {
        let len = r.as_ref().map_or(0, |(a, b)| b - a);
        self.count_output(r, len);
    }
    fn in_open(&self, pkt: &mut [u8], c: &EspInCheck) -> OpenedAt {
        self.input_open(pkt, c)
    }
    fn in_accept(&mut self, c: &EspInCheck) {
        if self.has_integrity() {
            self.replay.update(c.seq);
        }
    }
    fn in_counted(&mut self, r: &Span, len: usize) {
        self.count_input(r, len);
    }
}

pub struct EspInCheck {
    s: Split,
    esp_at: usize,
    seq: u64,
}

/// One packet of `esp_output` between its sequential and its parallel
/// half.
pub struct EspOutJob {
    out: Vec<u8>,
    plan: Option<EspPlan>,
}

/// What the cryptographic half of `esp_output` needs to know of a packet
/// laid out by the sequential half (the offsets from its start).
#[derive(Debug, Clone, Copy)]
pub struct EspPlan {
    at: SealAt,
    udp_at: usize,
    v6: bool,
    transport: bool,
}

/// Where [`EspSa::seal_layout`] put the parts of one ESP packet in the
/// output buffer, and the sequence number it took.
#[derive(Debug, Clone, Copy)]
struct SealAt {
    start: usize,
    iv_at: usize,
    body_at: usize,
    body_end: usize,
    seq: u64,
}

impl SealAt {
    /// The same places counted from `base`.
    fn from(self, base: usize) -> SealAt {
        SealAt {
            start: self.start - base,
            iv_at: self.iv_at - base,
            body_at: self.body_at - base,
            body_end: self.body_end - base,
            seq: self.seq,
        }
    }
}

/// Write the ICV into the room [`EspSa::seal_layout`] left for it.
fn put_icv(out: &mut [u8], at: usize, icv: &[u8]) {
    if let Some(d) = out.get_mut(at..at + icv.len()) {
        d.copy_from_slice(icv);
    }
}

struct IvBuf {
    buf: [u8; 16],
    len: usize,
}
impl IvBuf {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

struct AadBuf {
    buf: [u8; 12],
    len: usize,
}
impl AadBuf {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    pub(crate) fn hx(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn udp6(payload_len: usize) -> Vec<u8> {
        let mut p = vec![0x60, 0x12, 0x34, 0x56, 0, 0, 17, 64];
        p.extend_from_slice(&hx("20010db8000000000000000000000001"));
        p.extend_from_slice(&hx("20010db8000000000000000000000002"));
        let ulen = (8 + payload_len) as u16;
        p.extend_from_slice(&[0x12, 0x34, 0x00, 0x35]);
        p.extend_from_slice(&ulen.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend((0..payload_len).map(|i| i as u8));
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    fn sa(enc: &str, ek: &[u8], auth: Option<(&str, &[u8])>, mode: Mode) -> EspSa {
        let mut c = EspConfig::new(0x1000, EncAlg::parse(enc).unwrap(), ek);
        if let Some((a, k)) = auth {
            c.auth = Some(AuthSpec::parse(a, false).unwrap());
            c.auth_key = k.to_vec();
        }
        c.mode = mode;
        EspSa::new(c).unwrap()
    }

    #[test]
    fn roundtrip_every_cipher() {
        type Case = (&'static str, usize, Option<(&'static str, usize)>);
        let cases: &[Case] = &[
            ("null", 0, Some(("hmac-sha1", 20))),
            ("des-cbc", 8, Some(("hmac-md5", 16))),
            ("des-deriv", 8, Some(("keyed-md5", 16))),
            ("3des-cbc", 24, Some(("keyed-sha1", 20))),
            ("blowfish-cbc", 16, Some(("hmac-ripemd160", 20))),
            ("cast128-cbc", 16, Some(("aes-xcbc-mac", 16))),
            ("rc5-cbc", 16, Some(("aes-cmac", 16))),
            ("aes-cbc", 16, Some(("hmac-sha256", 32))),
            ("aes-cbc", 32, Some(("hmac-sha512-256", 64))),
            ("aes-ctr", 20, Some(("hmac-sha384-192", 48))),
            ("aes-gcm-16", 20, None),
            ("aes-gcm-12", 28, None),
            ("aes-gcm-8", 36, None),
            ("aes-ccm-8", 19, None),
            ("aes-ccm-16", 35, None),
            ("aes-gmac", 20, None),
            ("chacha20-poly1305", 36, None),
        ];
        for &(enc, kl, auth) in cases {
            for mode in [Mode::Transport, Mode::tunnel(&[0xaa; 16], &[0xbb; 16]).unwrap(), Mode::tunnel(&[10, 0, 0, 1], &[10, 0, 0, 2]).unwrap()] {
                let ek = vec![0x42u8; kl];
                let ak;
                let a = match auth {
                    Some((n, l)) => {
                        ak = vec![0x24u8; l];
                        Some((n, ak.as_slice()))
                    }
                    None => None,
                };
                let mut tx = sa(enc, &ek, a, mode);
                let mut rx = sa(enc, &ek, a, mode);
                for n in [0usize, 1, 13, 100, 1400] {
                    let p = udp6(n);
                    let c = tx.output(&p, None).unwrap();
                    assert_ne!(c, p);
                    let back = rx.input(&c).unwrap();
                    assert_eq!(back, p, "{enc} {mode:?} {n}");
                    if rx.has_integrity() {
                        assert_eq!(rx.input(&c).unwrap_err().kind, ErrorKind::Replay, "{enc}");
                        let mut bad = c.clone();
                        let last = bad.len() - 1;
                        bad[last] ^= 1;
                        let e = rx.input(&bad).unwrap_err().kind;
                        assert!(e == ErrorKind::Integrity || e == ErrorKind::Replay, "{enc} {e:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn output_structure() {
        // the RFC 3602 §4 packet vectors are checked from tests/test_ipsec_kat.py
        let mut tx = sa("aes-cbc", &[1; 16], Some(("hmac-sha1", &[2; 20])), Mode::Transport);
        let p = udp6(20);
        let c = tx.output(&p, None).unwrap();
        // 40 + 8 (SPI, seq) + 16 IV + 48 (28 + pad 2 + 2 -> 32? ) ...
        assert_eq!(c[6], 50);
        assert_eq!((c.len() - 40 - 8 - 16 - 12) % 16, 0);
        assert_eq!(u16::from_be_bytes([c[4], c[5]]) as usize, c.len() - 40);
        assert_eq!(&c[40..44], &0x1000u32.to_be_bytes());
        assert_eq!(&c[44..48], &1u32.to_be_bytes());
    }

    #[test]
    fn padding_error_and_truncation() {
        let mut tx = sa("aes-cbc", &[1; 16], None, Mode::Transport);
        let mut rx = sa("aes-cbc", &[1; 16], None, Mode::Transport);
        let p = udp6(10);
        let kat = Kat { iv: Some(vec![0; 16]), pad: Some(vec![9; 12]) };
        let c = tx.output(&p, Some(&kat)).unwrap();
        assert_eq!(rx.input(&c).unwrap_err().kind, ErrorKind::BadPadding);
        assert_eq!(rx.stats.padding_errors, 1);
        assert!(rx.input(&c[..50]).unwrap_err().is_truncated());
        assert!(rx.input(&[]).is_err());
    }

    #[test]
    fn esn_and_old_and_udp() {
        let mut c = EspConfig::new(7, EncAlg::AesCbc, &[3; 16]);
        c.auth = Some(AuthSpec::parse("hmac-sha1", false).unwrap());
        c.auth_key = vec![4; 20];
        c.esn = true;
        let mut tx = EspSa::new(c.clone()).unwrap();
        let mut rx = EspSa::new(c.clone()).unwrap();
        tx.seq = 0x1_ffff_fffe;
        rx.replay.update(0x1_ffff_fff0);
        for _ in 0..4 {
            let p = udp6(30);
            let e = tx.output(&p, None).unwrap();
            assert_eq!(rx.input(&e).unwrap(), p);
        }
        assert_eq!(rx.replay.top(), 0x2_0000_0002);
        // old ESP: DES-CBC, IV in the header, no sequence number
        let mut o = EspConfig::new(9, EncAlg::DesCbc, &[5; 8]);
        o.old = true;
        let mut tx = EspSa::new(o.clone()).unwrap();
        let mut rx = EspSa::new(o.clone()).unwrap();
        let p = udp6(33);
        let e = tx.output(&p, None).unwrap();
        assert_eq!(e.len(), 40 + 4 + 8 + 48);
        assert_eq!(rx.input(&e).unwrap(), p);
        assert_eq!(rx.input(&e).unwrap(), p); // no replay protection in old ESP
        o.auth = Some(AuthSpec::parse("hmac-md5", false).unwrap());
        o.auth_key = vec![0; 16];
        assert!(EspSa::new(o).is_err());
        // ESP-in-UDP over IPv4 tunnel
        let mut u = EspConfig::new(11, EncAlg::AesGcm(16), &[6; 20]);
        u.udp_encap = Some((4500, 4500));
        u.mode = Mode::tunnel(&[192, 0, 2, 1], &[192, 0, 2, 2]).unwrap();
        let mut tx = EspSa::new(u.clone()).unwrap();
        let mut rx = EspSa::new(u).unwrap();
        let p = udp6(50);
        let e = tx.output(&p, None).unwrap();
        assert_eq!(e[9], 17);
        assert_eq!(&e[20..24], &[0x11, 0x94, 0x11, 0x94]);
        assert_eq!(&e[26..28], &[0, 0]);
        assert_eq!(rx.input(&e).unwrap(), p);
    }

    #[test]
    fn randpad_bounds() {
        let mut c = EspConfig::new(1, EncAlg::AesCbc, &[3; 16]);
        c.randpad = 128;
        let mut tx = EspSa::new(c.clone()).unwrap();
        let mut rx = EspSa::new(c).unwrap();
        let mut lens = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let p = udp6(4);
            let e = tx.output(&p, None).unwrap();
            let esp_payload = e.len() - 40 - 8 - 16;
            assert!(esp_payload <= 128, "{esp_payload}");
            assert_eq!(esp_payload % 16, 0);
            lens.insert(esp_payload);
            assert_eq!(rx.input(&e).unwrap(), p);
        }
        assert!(lens.len() > 1);
        // longer than N: minimal padding
        let p = udp6(200);
        let e = tx.output(&p, None).unwrap();
        assert_eq!(e.len() - 40 - 8 - 16, (208usize + 2).div_ceil(16) * 16);
    }
}
