//! Fuzzes the QUIC Initial parser and detector: any bytes, and the bytes
//! behind a valid long header of each version family (so that the header
//! walk, header protection and the AEAD are reached). Never a panic.
#![no_main]

use dpi_core::protocols::quic::{is_client_initial, parse_initial};
use libfuzzer_sys::fuzz_target;

const VERSIONS: [u32; 6] = [1, 0x6b33_43cf, 0xff00_001d, 0xface_b002, 0x5430_3531, 0x5130_3433];

fuzz_target!(|data: &[u8]| {
    let _ = is_client_initial(data);
    let _ = parse_initial(data);
    if let Some((&sel, rest)) = data.split_first() {
        let v = VERSIONS[usize::from(sel) % VERSIONS.len()];
        let mut pkt = if v == 0x5130_3433 {
            // Google QUIC public header: flags, connection id, version.
            let mut p = vec![0x09, 1, 2, 3, 4, 5, 6, 7, 8];
            p.extend(v.to_be_bytes());
            p
        } else {
            let first = if v == 0x6b33_43cf { 0xd0 } else { 0xc0 };
            let mut p = vec![first];
            p.extend(v.to_be_bytes());
            p
        };
        pkt.extend_from_slice(rest);
        let _ = is_client_initial(&pkt);
        let _ = parse_initial(&pkt);
    }
});
