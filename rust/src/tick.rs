//! Small generic pieces for the sans-I/O timers of the reassemblers: an
//! `f64` "now" with a total order (for deadline indexes) and the check that
//! a caller's `now` is a finite number of seconds.
//!
//! `inet::reass` (IPv4) uses these; `reass` (IPv6) has its own private
//! copy of the same `Tick` today and can move onto this one.

use crate::error::{Error, ErrorKind, Layer, Result};

/// Seconds on the caller's monotonic clock, totally ordered.
#[derive(Debug, Clone, Copy)]
pub struct Tick(pub f64);

impl PartialEq for Tick {
    fn eq(&self, o: &Self) -> bool {
        self.0.total_cmp(&o.0).is_eq()
    }
}
impl Eq for Tick {}
impl PartialOrd for Tick {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Tick {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// `now` as a [`Tick`], or a `Config` error of `layer` when it is not finite.
pub fn check_now(now: f64, layer: Layer) -> Result<Tick> {
    if now.is_finite() {
        Ok(Tick(now))
    } else {
        Err(Error::new(layer, ErrorKind::Config, 0, "now must be a finite number of seconds"))
    }
}

/// A timeout or interval in seconds: finite and not negative.
pub fn check_seconds(v: f64, layer: Layer) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::new(layer, ErrorKind::Config, 0, "a timeout must be a finite number of seconds >= 0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_and_checked() {
        assert!(Tick(1.0) < Tick(2.0));
        assert_eq!(Tick(0.0), Tick(0.0));
        assert!(check_now(f64::NAN, Layer::Reass).is_err());
        assert!(check_now(f64::INFINITY, Layer::Reass).is_err());
        assert!(check_seconds(-1.0, Layer::Reass).is_err());
        assert_eq!(check_seconds(30.0, Layer::Reass).unwrap(), 30.0);
    }
}
