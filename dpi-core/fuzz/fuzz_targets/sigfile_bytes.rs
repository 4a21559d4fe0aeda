//! Arbitrary bytes as a signature file (format detected from the content,
//! as `dpi classify --sig` does for a file without a known extension).
//!
//! - No panic, and the errors are bounded: at most `MAX_KEPT_ERRORS` kept,
//!   each line shown cut, the whole report a few kB at most.
//! - Line ends do not matter: when the input holds no `\r`, the same bytes
//!   with CRLF or CR line ends give the same set, or the same errors at the
//!   same places.
#![no_main]

use dpi_core::signature::{parse_bytes, Budget, SignatureErrors, SignatureSet};
use libfuzzer_sys::fuzz_target;

type Outcome = Result<SignatureSet, Vec<(u32, u32, String)>>;

fn outcome(r: Result<SignatureSet, SignatureErrors>) -> Outcome {
    r.map_err(|e| {
        assert!(e.errors().len() <= 20 && e.len() >= e.errors().len());
        let shown = e.to_string();
        assert!(shown.len() <= 40_000, "{} bytes of errors", shown.len());
        e.iter()
            .map(|x| (x.line(), x.column(), x.expected().to_string()))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let first = outcome(parse_bytes(data, "fuzz", None, &mut Budget::new()));
    if data.contains(&b'\r') {
        return;
    }
    for end in [&b"\r\n"[..], b"\r"] {
        let other: Vec<u8> = data
            .iter()
            .flat_map(|&b| if b == b'\n' { end.to_vec() } else { vec![b] })
            .collect();
        let again = outcome(parse_bytes(&other, "fuzz", None, &mut Budget::new()));
        assert_eq!(first, again, "line ends {end:?}");
    }
});
