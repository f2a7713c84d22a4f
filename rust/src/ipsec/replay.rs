//! The anti-replay window (RFC 4303 §3.4.3, Appendix A; RFC 4302 §3.4.3).
//!
//! A bitmap of `size` bits (default 32 as KAME's `replay=4` octets; up to
//! [`MAX_WINDOW`]) kept as a ring of 64-bit words indexed by sequence number,
//! and the highest authenticated sequence number seen (64 bits, so that
//! extended sequence numbers work the same way). The check is split in two
//! as the RFC requires: [`ReplayWindow::check`] before the ICV is verified,
//! [`ReplayWindow::update`] only after it verified.

use crate::error::{Error, ErrorKind, Layer, Result};

/// Largest window accepted.
pub const MAX_WINDOW: u32 = 4096;
/// KAME's default (setkey `-r 4` octets = 32 packets).
pub const DEFAULT_WINDOW: u32 = 32;

#[derive(Debug, Clone)]
pub struct ReplayWindow {
    size: u32,
    /// highest sequence number accepted so far (0 = none)
    top: u64,
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets; 0 disables replay protection.
    pub fn new(size: u32) -> Result<ReplayWindow> {
        if size > MAX_WINDOW {
            return Err(Error::new(Layer::Ipsec, ErrorKind::Config, 0, "replay window larger than 4096"));
        }
        let words = (size as usize).div_ceil(64).max(1);
        Ok(ReplayWindow { size, top: 0, bits: vec![0; words] })
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn top(&self) -> u64 {
        self.top
    }

    fn cap(&self) -> u64 {
        (self.bits.len() as u64) * 64
    }

    fn bit(&self, seq: u64) -> bool {
        let i = seq % self.cap();
        self.bits.get((i / 64) as usize).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn set(&mut self, seq: u64, on: bool) {
        let i = seq % self.cap();
        if let Some(w) = self.bits.get_mut((i / 64) as usize) {
            if on {
                *w |= 1u64 << (i % 64);
            } else {
                *w &= !(1u64 << (i % 64));
            }
        }
    }

    /// Reconstruct the full 64-bit sequence number from the 32 bits on the
    /// wire (RFC 4303 Appendix A2.2). Without ESN it is just `seq_lo`.
    pub fn infer(&self, seq_lo: u32, esn: bool) -> u64 {
        if !esn {
            return u64::from(seq_lo);
        }
        let w = u64::from(self.size.max(1));
        let tl = self.top & 0xffff_ffff;
        let th = self.top >> 32;
        let sl = u64::from(seq_lo);
        let hi = if tl >= w - 1 {
            if sl >= tl - (w - 1) { th } else { th.wrapping_add(1) }
        } else {
            // window spans the 2^32 boundary
            let low_edge = (tl + (1u64 << 32) - (w - 1)) & 0xffff_ffff;
            // there is no epoch before 0
            if sl >= low_edge && th > 0 { th - 1 } else { th }
        };
        (hi << 32) | sl
    }

    /// Restart the window at `top` with an empty bitmap (SA state restored
    /// from elsewhere, or tests that start an ESN SA mid-epoch).
    pub fn reset(&mut self, top: u64) {
        self.top = top;
        self.bits.iter_mut().for_each(|w| *w = 0);
    }

    /// Would `seq` be accepted? (no state change)
    pub fn check(&self, seq: u64, offset: u64, layer: Layer) -> Result<()> {
        let replay = |r| Error::new(layer, ErrorKind::Replay, offset, r);
        if self.size == 0 {
            return Ok(());
        }
        if seq == 0 {
            return Err(replay("sequence number 0 is never sent (RFC 4303 §3.3.3)"));
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= u64::from(self.size) {
            return Err(replay("sequence number left of the replay window (RFC 4303 §3.4.3)"));
        }
        if self.bit(seq) {
            return Err(replay("replayed sequence number (RFC 4303 §3.4.3)"));
        }
        Ok(())
    }

    /// Record `seq` as received (call only after the ICV verified).
    pub fn update(&mut self, seq: u64) {
        if self.size == 0 {
            return;
        }
        if seq > self.top {
            let adv = seq - self.top;
            if adv >= self.cap() {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                for s in self.top + 1..seq {
                    self.set(s, false);
                }
            }
            self.top = seq;
        }
        self.set(seq, true);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn window_basics() {
        let mut w = ReplayWindow::new(32).unwrap();
        assert!(w.check(0, 0, Layer::Esp).is_err());
        for s in [1u64, 3, 2, 40] {
            w.check(s, 0, Layer::Esp).unwrap();
            w.update(s);
        }
        assert_eq!(w.check(2, 0, Layer::Esp).unwrap_err().kind, ErrorKind::Replay);
        assert!(w.check(8, 0, Layer::Esp).is_err()); // 40 - 8 = 32: left edge
        w.check(9, 0, Layer::Esp).unwrap();
        w.check(39, 0, Layer::Esp).unwrap();
        assert!(w.check(40, 0, Layer::Esp).is_err());
    }

    #[test]
    fn large_window_and_jump() {
        let mut w = ReplayWindow::new(1024).unwrap();
        w.update(5);
        w.update(5000);
        assert!(w.check(5, 0, Layer::Esp).is_err());
        w.check(4000, 0, Layer::Esp).unwrap();
        w.update(4000);
        assert!(w.check(4000, 0, Layer::Esp).is_err());
        assert!(ReplayWindow::new(5000).is_err());
    }

    #[test]
    fn esn_inference() {
        let mut w = ReplayWindow::new(64).unwrap();
        w.update(0x1_0000_0010);
        assert_eq!(w.infer(0x20, true), 0x1_0000_0020);
        // just below the wrap: belongs to the previous epoch
        assert_eq!(w.infer(0xffff_fff0, true), 0x0_ffff_fff0);
        w.update(0x1_ffff_fff0);
        // small number after a big one: next epoch
        assert_eq!(w.infer(5, true), 0x2_0000_0005);
        assert_eq!(w.infer(0xffff_ffe0, true), 0x1_ffff_ffe0);
    }
}
