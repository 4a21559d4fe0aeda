//! QUIC version 1 packets (RFC 9000). Payloads are random: real ones are
//! encrypted, and the first byte's low bits are masked by header protection.

use super::put32;
use crate::rng::Rng;

/// QUIC version 1.
pub const VERSION_1: u32 = 0x0000_0001;

/// A variable-length integer (RFC 9000, section 16).
pub fn varint(v: u64) -> Vec<u8> {
    match v {
        0..=63 => vec![v as u8],
        64..=16383 => (0x4000 | v as u16).to_be_bytes().to_vec(),
        16384..=1_073_741_823 => (0x8000_0000 | v as u32).to_be_bytes().to_vec(),
        _ => (0xc000_0000_0000_0000 | v).to_be_bytes().to_vec(),
    }
}

/// Long-header packet types.
#[derive(Debug, Clone, Copy)]
pub enum LongType {
    /// Initial (0).
    Initial,
    /// Handshake (2).
    Handshake,
}

/// One long-header packet whose protected part (packet number and payload)
/// is `protected_len` random bytes. Initial packets carry a token length.
pub fn long_packet(
    rng: &mut Rng,
    kind: LongType,
    dcid: &[u8],
    scid: &[u8],
    protected_len: usize,
) -> Vec<u8> {
    let type_bits = match kind {
        LongType::Initial => 0,
        LongType::Handshake => 2,
    };
    let mut out = vec![0xc0 | (type_bits << 4) | (rng.next_u32() as u8 & 0x0f)];
    put32(&mut out, VERSION_1);
    out.push(dcid.len() as u8);
    out.extend_from_slice(dcid);
    out.push(scid.len() as u8);
    out.extend_from_slice(scid);
    if let LongType::Initial = kind {
        out.extend_from_slice(&varint(0)); // no token
    }
    out.extend_from_slice(&varint(protected_len as u64));
    out.extend_from_slice(&rng.bytes(protected_len));
    out
}

/// A client Initial datagram padded to `datagram_len` (at least 1200 bytes, RFC 9000 14.1).
pub fn client_initial(rng: &mut Rng, dcid: &[u8], scid: &[u8], datagram_len: usize) -> Vec<u8> {
    let header = 1 + 4 + 1 + dcid.len() + 1 + scid.len() + 1 + 2;
    long_packet(rng, LongType::Initial, dcid, scid, datagram_len - header)
}

/// The server's first datagram: an Initial coalesced with a Handshake packet.
pub fn server_initial_handshake(
    rng: &mut Rng,
    dcid: &[u8],
    scid: &[u8],
    datagram_len: usize,
) -> Vec<u8> {
    let mut out = long_packet(rng, LongType::Initial, dcid, scid, 133);
    let header = 1 + 4 + 1 + dcid.len() + 1 + scid.len() + 2;
    let rest = datagram_len - out.len() - header;
    out.extend(long_packet(rng, LongType::Handshake, dcid, scid, rest));
    out
}

/// A short-header (1-RTT) packet to the peer whose connection id is `dcid`.
pub fn short_packet(rng: &mut Rng, dcid: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0x40 | (rng.next_u32() as u8 & 0x3f)];
    out.extend_from_slice(dcid);
    out.extend_from_slice(&rng.bytes(len.saturating_sub(out.len())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(37), vec![0x25]);
        assert_eq!(varint(15293), vec![0x7b, 0xbd]);
        assert_eq!(varint(494878333), vec![0x9d, 0x7f, 0x3e, 0x7d]);
    }

    #[test]
    fn initial_header_and_size() {
        let mut rng = Rng::new(5);
        let p = client_initial(&mut rng, &[1; 8], &[], 1250);
        assert_eq!(p.len(), 1250);
        assert_eq!(p[0] & 0xf0, 0xc0);
        assert_eq!(p[1..5], [0, 0, 0, 1]);
        assert_eq!(p[5], 8);
        assert_eq!(p[14], 0); // SCID length
        assert_eq!(p[15], 0); // token length
        let len = u16::from_be_bytes([p[16], p[17]]) & 0x3fff;
        assert_eq!(len as usize, 1250 - 18);
        let s = server_initial_handshake(&mut rng, &[], &[2; 8], 1200);
        assert_eq!(s.len(), 1200);
    }
}
