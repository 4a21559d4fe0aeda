//! BitTorrent peer wire protocol (BEP 3, extension bits from BEP 10 and BEP 5).

use super::put32;

/// The handshake: protocol string, reserved bits, info hash, peer id.
pub fn handshake(info_hash: &[u8; 20], peer_id: &[u8; 20]) -> Vec<u8> {
    let mut out = vec![19];
    out.extend_from_slice(b"BitTorrent protocol");
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]); // extension protocol, DHT, fast
    out.extend_from_slice(info_hash);
    out.extend_from_slice(peer_id);
    out
}

/// A length-prefixed peer message.
pub fn message(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put32(&mut out, 1 + payload.len() as u32);
    out.push(id);
    out.extend_from_slice(payload);
    out
}

/// An extension-protocol handshake (message 20, extended id 0) with a bencoded dictionary.
pub fn extended_handshake(client: &str, port: u16) -> Vec<u8> {
    let dict = format!(
        "d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi{port}e4:reqqi500e1:v{}:{client}e",
        client.len()
    );
    let mut payload = vec![0];
    payload.extend_from_slice(dict.as_bytes());
    message(20, &payload)
}

/// Bitfield (5) message.
pub fn bitfield(bits: &[u8]) -> Vec<u8> {
    message(5, bits)
}

/// Interested (2) message.
pub fn interested() -> Vec<u8> {
    message(2, &[])
}

/// Unchoke (1) message.
pub fn unchoke() -> Vec<u8> {
    message(1, &[])
}

/// Request (6) for a 16 KiB block.
pub fn request(piece: u32, offset: u32) -> Vec<u8> {
    let mut p = Vec::new();
    put32(&mut p, piece);
    put32(&mut p, offset);
    put32(&mut p, 16384);
    message(6, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_is_68_bytes() {
        let h = handshake(&[1; 20], &[2; 20]);
        assert_eq!(h.len(), 68);
        assert_eq!(&h[..20], b"\x13BitTorrent protocol");
        assert_eq!(interested(), vec![0, 0, 0, 1, 2]);
    }
}
