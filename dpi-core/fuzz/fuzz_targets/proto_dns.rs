//! Fuzzes the DNS message parser (DNS and NetBIOS name decoding). Never a
//! panic, never a loop: compression pointers are bounded.
#![no_main]

use dpi_core::protocols::dns::{netbios_name, parse_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_message(data, false);
    let _ = parse_message(data, true);
    let _ = netbios_name(data);
    for cut in [data.len() / 2, data.len().saturating_sub(1)] {
        let _ = parse_message(&data[..cut], false);
    }
});
