//! STUN binding (RFC 8489): header with the magic cookie, XOR-MAPPED-ADDRESS,
//! SOFTWARE and FINGERPRINT attributes.

use super::{put16, put32};
use std::net::Ipv4Addr;

/// The magic cookie at bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const SOFTWARE: u16 = 0x8022;
const FINGERPRINT: u16 = 0x8028;

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    put16(out, kind);
    put16(out, value.len() as u16);
    out.extend_from_slice(value);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn message(kind: u16, txid: &[u8; 12], attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    put16(&mut out, kind);
    put16(&mut out, 0);
    put32(&mut out, MAGIC_COOKIE);
    out.extend_from_slice(txid);
    for (k, v) in attrs {
        attribute(&mut out, *k, v);
    }
    // The length covers the FINGERPRINT attribute, which is computed last.
    let len = (out.len() - 20 + 8) as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    let fp = crc32(&out) ^ 0x5354_554e;
    attribute(&mut out, FINGERPRINT, &fp.to_be_bytes());
    out
}

/// A Binding request with SOFTWARE and FINGERPRINT.
pub fn binding_request(txid: &[u8; 12], software: &str) -> Vec<u8> {
    message(
        BINDING_REQUEST,
        txid,
        &[(SOFTWARE, software.as_bytes().to_vec())],
    )
}

/// A Binding success response reporting the reflexive address.
pub fn binding_response(txid: &[u8; 12], mapped: Ipv4Addr, port: u16, software: &str) -> Vec<u8> {
    let mut xma = vec![0, 0x01];
    put16(&mut xma, port ^ (MAGIC_COOKIE >> 16) as u16);
    put32(&mut xma, u32::from(mapped) ^ MAGIC_COOKIE);
    message(
        BINDING_SUCCESS,
        txid,
        &[
            (XOR_MAPPED_ADDRESS, xma),
            (SOFTWARE, software.as_bytes().to_vec()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn header_and_length() {
        let m = binding_request(&[3; 12], "libjuice");
        assert_eq!(m[..2], [0, 1]);
        assert_eq!(m[4..8], MAGIC_COOKIE.to_be_bytes());
        assert_eq!(u16::from_be_bytes([m[2], m[3]]) as usize, m.len() - 20);
        assert_eq!(m.len() % 4, 0);
    }
}
