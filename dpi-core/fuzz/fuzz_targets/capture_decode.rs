//! Arbitrary bytes as a capture file: the reader and the flow meter must
//! never panic, whatever the input. The input's length picks the meter's
//! settings: the defaults (even), or `dpi classify`'s (odd: 512 bytes a
//! direction, handshakes gathered up to 4 KiB, after a STUN exchange too).
#![no_main]

use dpi_core::{CaptureReader, FlowConfig, FlowMeter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `new` with a 4 KiB buffer instead of 256 KiB: the same code, many more
    // runs per second, and records larger than the buffer take the growth path.
    let Ok(mut reader) = CaptureReader::with_buffer_size(data, 4096) else {
        return;
    };
    let cfg = if data.len() % 2 == 1 {
        FlowConfig::classification()
    } else {
        FlowConfig::default()
    };
    let mut meter = FlowMeter::new(cfg);
    let mut flows = 0usize;
    let mut emit = |_| flows += 1;
    // Every record takes at least 12 bytes of input, so this loop ends.
    while let Ok(Some(frame)) = reader.next_frame() {
        meter.push_frame(
            frame.link_type,
            frame.ts,
            frame.data,
            frame.orig_len,
            &mut emit,
        );
    }
    meter.flush(&mut emit);
    assert!(meter.stats().frames <= data.len() as u64 / 12);
});
