//! RTP version 2 (RFC 3550) with G.711 payloads (RFC 3551).

use super::{put16, put32};

/// Payload type 0: PCMU, 8 kHz, 20 ms = 160 samples per packet.
pub const PCMU: u8 = 0;

/// One RTP packet.
pub fn packet(
    marker: bool,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = vec![0x80, (u8::from(marker) << 7) | (payload_type & 0x7f)];
    put16(&mut out, seq);
    put32(&mut out, timestamp);
    put32(&mut out, ssrc);
    out.extend_from_slice(payload);
    out
}

/// 160 samples of quiet µ-law audio around the silence code 0xff.
pub fn quiet_pcmu(noise: &[u8]) -> Vec<u8> {
    noise.iter().take(160).map(|n| 0xf8 | (n & 0x07)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        let p = packet(true, PCMU, 7, 160, 0xdeadbeef, &[0xff; 160]);
        assert_eq!(p.len(), 172);
        assert_eq!(p[..2], [0x80, 0x80]);
        assert_eq!(p[8..12], [0xde, 0xad, 0xbe, 0xef]);
    }
}
