//! Fuzzes the HTTP request and response parsers. Never a panic; a prefix
//! that reads a `Host` reads the one the whole input gives.
#![no_main]

use dpi_core::protocols::http::{parse_request, parse_response};
use dpi_core::protocols::Status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_request(data);
    let _ = parse_response(data);
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    req.extend_from_slice(data);
    let full = parse_request(&req);
    let cut = parse_request(&req[..req.len() / 2]);
    if full.status == Status::Complete {
        if let Some(host) = cut.value.and_then(|r| r.host) {
            assert_eq!(Some(host), full.value.and_then(|r| r.host));
        }
    }
    let _ = whole;
});
