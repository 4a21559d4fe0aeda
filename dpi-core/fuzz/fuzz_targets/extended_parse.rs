//! Fuzzes the extended-format parser: it must never panic, and whatever it
//! accepts must survive a write and a second read unchanged.
#![no_main]

use dpi_core::signature::{parse_extended, to_extended};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut set) = parse_extended(text, "fuzz.rules") {
        let written = to_extended(&set);
        let mut again = parse_extended(&written, "fuzz.rules").expect("written rules read back");
        set.strip_locations();
        again.strip_locations();
        assert_eq!(set, again);
    }
});
