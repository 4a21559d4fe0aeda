//! Fuzzes the importer of nDPI's protos.txt: it must never panic; what it
//! imports must write in the extended format and read back unchanged, and
//! every rule and left-out item must name a line of the input.
#![no_main]

use dpi_core::signature::{parse_extended, parse_ndpi_protos, to_extended};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = line_count(data);
    match parse_ndpi_protos(text, "fuzz.txt") {
        Ok(import) => {
            let written = to_extended(&import.set);
            let mut again = parse_extended(&written, "fuzz.rules").expect("imported rules read back");
            let mut set = import.set.clone();
            set.strip_locations();
            again.strip_locations();
            assert_eq!(set, again);
            for s in &import.set.signatures {
                let l = s.location.as_ref().expect("imported rules have a location").line;
                assert!(l >= 1 && l <= lines);
            }
            for a in &import.set.apps {
                let l = a.location.as_ref().expect("imported rules have a location").line;
                assert!(l >= 1 && l <= lines);
            }
            for s in &import.skipped {
                assert!(s.line >= 1 && s.line <= lines);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors.iter() {
                assert!(e.line() >= 1 && e.line() <= lines);
                assert!(e.column() >= 1);
            }
        }
    }
});

/// Lines as the signature readers count them: a line ends at LF, CR or
/// CRLF (not as `str::lines`, which keeps a lone CR inside its line).
fn line_count(data: &[u8]) -> u32 {
    let mut n = 0u32;
    let mut i = 0;
    while i < data.len() {
        n += 1;
        while i < data.len() && data[i] != b'\n' && data[i] != b'\r' {
            i += 1;
        }
        if data[i..].starts_with(b"\r\n") {
            i += 2;
        } else if i < data.len() {
            i += 1;
        }
    }
    n
}
