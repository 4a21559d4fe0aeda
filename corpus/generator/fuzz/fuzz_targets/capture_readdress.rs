//! `dpi-samples readdress` over any bytes: it never panics, a file it
//! copies has the input's length, and moving the copy back by the opposite
//! shift gives the input again (the map of addresses is one to one, and
//! what decides whether a frame is moved is left as it was).
#![no_main]

use dpi_samples::readdress::readdress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The shift from the last byte, so that the file's first bytes (the
    // seeds' pcap headers) stay as they are.
    let shift = data.last().map_or(1, |&b| u32::from(b));
    let mut out = Vec::new();
    if readdress(data, &mut out, shift).is_ok() {
        assert_eq!(out.len(), data.len(), "a copy has the input's length");
        let mut back = Vec::new();
        let records = readdress(&out[..], &mut back, shift.wrapping_neg());
        assert!(records.is_ok(), "a copy reads again: {records:?}");
        assert!(back == data, "moving back gives the input");
    }
});
