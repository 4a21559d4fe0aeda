//! Capture timestamps.

use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
///
/// The latest time it holds is `u64::MAX - 1` nanoseconds (in the year
/// 2554); later ones saturate there. In exchange an `Option<Timestamp>`
/// takes 8 bytes, as a `Timestamp` does (it is stored plus one, so never
/// zero), which every live flow's record counts on.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(NonZeroU64);

impl Timestamp {
    /// The zero timestamp (the epoch).
    pub const ZERO: Timestamp = Timestamp::from_nanos(0);

    /// The latest timestamp.
    pub const MAX: Timestamp = Timestamp::from_nanos(u64::MAX);

    /// From nanoseconds since the epoch (saturating at [`Timestamp::MAX`]).
    pub const fn from_nanos(nanos: u64) -> Self {
        match NonZeroU64::new(nanos.saturating_add(1)) {
            Some(n) => Timestamp(n),
            None => Timestamp(NonZeroU64::MAX),
        }
    }

    /// From microseconds since the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp::from_nanos(micros.saturating_mul(1_000))
    }

    /// From whole seconds and a sub-second part in nanoseconds (saturating).
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp::from_nanos(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as u64),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0.get() - 1
    }

    /// Seconds since the epoch as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.as_nanos() as f64 / 1e9
    }

    /// `self - earlier` in nanoseconds, or 0 when `earlier` is later.
    pub const fn nanos_since(self, earlier: Timestamp) -> u64 {
        self.0.get().saturating_sub(earlier.0.get())
    }
}

impl Default for Timestamp {
    /// The epoch.
    fn default() -> Self {
        Timestamp::ZERO
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timestamp").field(&self.as_nanos()).finish()
    }
}

/// The serialised form: a newtype of the nanoseconds since the epoch.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Timestamp")]
struct Nanos(u64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Nanos(self.as_nanos()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Nanos::deserialize(d).map(|n| Timestamp::from_nanos(n.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_timestamp_takes_eight_bytes() {
        assert_eq!(std::mem::size_of::<Option<Timestamp>>(), 8);
        assert_eq!(std::mem::size_of::<Timestamp>(), 8);
    }

    #[test]
    fn nanoseconds_round_trip_order_and_saturate() {
        for n in [0, 1, 999, 1_700_000_000_123_456_789, u64::MAX - 1] {
            assert_eq!(Timestamp::from_nanos(n).as_nanos(), n);
        }
        assert_eq!(Timestamp::from_nanos(u64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::MAX.as_nanos(), u64::MAX - 1);
        assert_eq!(Timestamp::from_secs_nanos(u64::MAX, 5), Timestamp::MAX);
        assert_eq!(Timestamp::default(), Timestamp::ZERO);
        assert_eq!(Timestamp::ZERO.as_nanos(), 0);
        assert!(Timestamp::from_nanos(3) < Timestamp::from_nanos(4));
        assert_eq!(
            Timestamp::from_nanos(10).nanos_since(Timestamp::from_nanos(4)),
            6
        );
        assert_eq!(
            Timestamp::from_nanos(4).nanos_since(Timestamp::from_nanos(10)),
            0
        );
        assert_eq!(format!("{:?}", Timestamp::from_nanos(7)), "Timestamp(7)");
    }

    #[test]
    fn serialised_as_nanoseconds() {
        let t = Timestamp::from_nanos(1_500_000_000);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "1500000000");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("0").unwrap(),
            Timestamp::ZERO
        );
    }
}
