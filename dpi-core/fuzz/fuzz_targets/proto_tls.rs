//! Fuzzes the TLS and DTLS hello parsers: any bytes as a TLS stream, as
//! DTLS datagrams and as a bare handshake message. Never a panic; a
//! complete hello's fingerprints are well formed, and every prefix of the
//! input parses without a panic and gives no JA4 the whole input lacks.
#![no_main]

use dpi_core::protocols::tls::{parse_dtls_records, parse_handshake, parse_records, Hello, Transport};
use dpi_core::protocols::{Parsed, Status};
use libfuzzer_sys::fuzz_target;

fn check(p: &Parsed<Hello>) -> Option<String> {
    match &p.value {
        Some(Hello::Client(ch)) => {
            let ja4 = ch.ja4(Transport::Tcp);
            if let Some(j) = &ja4 {
                assert_eq!(j.len(), 36, "{j}");
            }
            if p.status == Status::Complete {
                assert!(ja4.is_some());
            }
            ja4
        }
        Some(Hello::Server(sh)) => {
            let _ = sh.ja4s(Transport::Quic);
            None
        }
        None => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = check(&parse_records(data));
    check(&parse_dtls_records(data));
    check(&parse_handshake(data));
    for cut in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
        let part = check(&parse_records(&data[..cut]));
        if part.is_some() && cut < data.len() {
            assert_eq!(part, whole);
        }
    }
});
