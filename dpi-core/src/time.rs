//! Capture timestamps.

use serde::{Deserialize, Serialize};

/// A capture timestamp: nanoseconds since the Unix epoch.
///
/// pcap files carry micro- or nanosecond stamps and pcapng files carry any
/// resolution; all are converted to nanoseconds on input.
///
/// ```
/// use dpi_core::Timestamp;
/// let t = Timestamp::from_micros(1_500_000);
/// assert_eq!(t.as_nanos(), 1_500_000_000);
/// assert_eq!(t.as_secs_f64(), 1.5);
/// ```
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The zero timestamp (the epoch).
    pub const ZERO: Timestamp = Timestamp(0);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// From microseconds since the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp(micros.saturating_mul(1_000))
    }

    /// From whole seconds and a sub-second part in nanoseconds (saturating).
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as u64),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the epoch as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in nanoseconds, or 0 when `earlier` is later.
    pub const fn nanos_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
