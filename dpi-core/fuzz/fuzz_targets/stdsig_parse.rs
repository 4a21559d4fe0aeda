//! Fuzzes the std.sig parser: it must never panic, and whatever it accepts
//! must survive a write and a second read unchanged.
#![no_main]

use dpi_core::signature::{parse_std_sig, to_std_sig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut set) = parse_std_sig(text, "fuzz.sig") {
        let (written, left_out) = to_std_sig(&set);
        assert!(left_out.is_empty(), "a parsed std.sig signature must be expressible");
        let mut again = parse_std_sig(&written, "fuzz.sig").expect("written std.sig reads back");
        set.strip_locations();
        again.strip_locations();
        assert_eq!(set, again);
    }
});
