//! TLS records and handshake messages (RFC 5246, RFC 8446).

use super::{put16, put24, with_len16};
use crate::rng::Rng;

/// Record content type: change_cipher_spec.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
/// Record content type: handshake.
pub const HANDSHAKE: u8 = 22;
/// Record content type: application_data.
pub const APPLICATION_DATA: u8 = 23;

/// TLS_AES_128_GCM_SHA256.
pub const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;

/// One record with the given content type and legacy record version.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type];
    put16(&mut out, version);
    out.extend_from_slice(&with_len16(body));
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![msg_type];
    put24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put16(&mut out, kind);
    out.extend_from_slice(&with_len16(data));
    out
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    let mut inner = Vec::new();
    for v in values {
        put16(&mut inner, *v);
    }
    with_len16(&inner)
}

/// What a ClientHello offers.
#[derive(Debug, Clone)]
pub struct ClientHello<'a> {
    /// server_name (SNI).
    pub sni: &'a str,
    /// ALPN protocols, most preferred first.
    pub alpn: &'a [&'a str],
    /// Legacy session id (32 bytes when resuming a TLS 1.2 session).
    pub session_id: Vec<u8>,
}

/// A ClientHello record as a current browser sends it: TLS 1.3 and 1.2 in
/// supported_versions, an X25519 key share, SNI and ALPN.
pub fn client_hello(rng: &mut Rng, ch: &ClientHello) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, 0x0303);
    body.extend_from_slice(&rng.bytes(32));
    body.push(ch.session_id.len() as u8);
    body.extend_from_slice(&ch.session_id);
    body.extend_from_slice(&u16_list(&[
        0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ]));
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut ext = Vec::new();
    let mut sni = vec![0u8];
    sni.extend_from_slice(&with_len16(ch.sni.as_bytes()));
    ext.extend(extension(0x0000, &with_len16(&sni)));
    ext.extend(extension(0x0017, &[])); // extended_master_secret
    ext.extend(extension(0xff01, &[0])); // renegotiation_info
    ext.extend(extension(
        0x000a,
        &u16_list(&[0x001d, 0x0017, 0x0018, 0x0019]),
    ));
    ext.extend(extension(0x000b, &[1, 0])); // ec_point_formats: uncompressed
    ext.extend(extension(0x0023, &[])); // session_ticket
    if !ch.alpn.is_empty() {
        let mut alpn = Vec::new();
        for p in ch.alpn {
            alpn.push(p.len() as u8);
            alpn.extend_from_slice(p.as_bytes());
        }
        ext.extend(extension(0x0010, &with_len16(&alpn)));
    }
    ext.extend(extension(0x0005, &[1, 0, 0, 0, 0])); // status_request: OCSP
    ext.extend(extension(
        0x000d,
        &u16_list(&[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ]),
    ));
    let mut share = Vec::new();
    put16(&mut share, 0x001d);
    share.extend_from_slice(&with_len16(&rng.bytes(32)));
    ext.extend(extension(0x0033, &with_len16(&share))); // key_share
    ext.extend(extension(0x002b, &[4, 0x03, 0x04, 0x03, 0x03])); // supported_versions
    ext.extend(extension(0x002d, &[1, 1])); // psk_key_exchange_modes: psk_dhe_ke
    ext.extend(extension(0x001c, &[0x40, 0x01])); // record_size_limit
    body.extend_from_slice(&with_len16(&ext));

    record(HANDSHAKE, 0x0301, &handshake(1, &body))
}

/// A ServerHello record. With `tls13`, it carries supported_versions
/// (0x0304) and a key share; otherwise it selects TLS 1.2 and may confirm an
/// ALPN protocol.
pub fn server_hello(
    rng: &mut Rng,
    tls13: bool,
    session_id: &[u8],
    cipher: u16,
    alpn: Option<&str>,
) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, 0x0303);
    body.extend_from_slice(&rng.bytes(32));
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    put16(&mut body, cipher);
    body.push(0);
    let mut ext = Vec::new();
    if tls13 {
        let mut share = Vec::new();
        put16(&mut share, 0x001d);
        share.extend_from_slice(&with_len16(&rng.bytes(32)));
        ext.extend(extension(0x0033, &share));
        ext.extend(extension(0x002b, &[0x03, 0x04]));
    } else {
        ext.extend(extension(0xff01, &[0]));
        ext.extend(extension(0x0017, &[]));
        if let Some(p) = alpn {
            let mut list = vec![p.len() as u8];
            list.extend_from_slice(p.as_bytes());
            ext.extend(extension(0x0010, &with_len16(&list)));
        }
    }
    body.extend_from_slice(&with_len16(&ext));
    record(HANDSHAKE, 0x0303, &handshake(2, &body))
}

/// A ChangeCipherSpec record.
pub fn change_cipher_spec() -> Vec<u8> {
    record(CHANGE_CIPHER_SPEC, 0x0303, &[1])
}

/// Encrypted application data of `len` bytes (random, as ciphertext looks).
pub fn application_data(rng: &mut Rng, len: usize) -> Vec<u8> {
    record(APPLICATION_DATA, 0x0303, &rng.bytes(len))
}

/// An encrypted TLS 1.2 Finished (AES-GCM: 8-byte nonce, 16-byte message, 16-byte tag).
pub fn encrypted_finished(rng: &mut Rng) -> Vec<u8> {
    record(HANDSHAKE, 0x0303, &rng.bytes(40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_lengths_are_consistent() {
        let mut rng = Rng::new(1);
        let rec = client_hello(
            &mut rng,
            &ClientHello {
                sni: "www.example.com",
                alpn: &["h2", "http/1.1"],
                session_id: vec![7; 32],
            },
        );
        assert_eq!(rec[0], HANDSHAKE);
        let rec_len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
        assert_eq!(rec_len + 5, rec.len());
        assert_eq!(rec[5], 1);
        let hs_len = u32::from_be_bytes([0, rec[6], rec[7], rec[8]]) as usize;
        assert_eq!(hs_len + 4, rec_len);
        let needle = b"www.example.com";
        assert!(rec.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn server_hello_13_has_supported_versions() {
        let mut rng = Rng::new(2);
        let rec = server_hello(&mut rng, true, &[1; 32], TLS_AES_128_GCM_SHA256, None);
        assert_eq!(rec[5], 2);
        assert!(rec
            .windows(6)
            .any(|w| w == [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]));
        let rec_len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
        assert_eq!(rec_len + 5, rec.len());
    }
}
