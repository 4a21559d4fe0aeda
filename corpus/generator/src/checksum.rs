//! The Internet checksum (RFC 1071) of IPv4 headers and of TCP and UDP
//! segments with their pseudo-header.

/// Ones' complement sum of `data` (16-bit big-endian words, an odd last
/// byte padded with zero) added to `sum`.
///
/// ```
/// use dpi_samples::checksum::{fold, sum16};
/// // RFC 1071's example words: 0x0001 0xf203 0xf4f5 0xf6f7 sum to 0xddf2.
/// let sum = sum16(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
/// assert_eq!(fold(sum), !0xddf2);
/// ```
pub fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// The checksum of a [`sum16`] total: its carries folded in, complemented.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
