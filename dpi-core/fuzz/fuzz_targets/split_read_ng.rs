//! Arbitrary bytes as the blocks of a pcapng file large enough to be read
//! in blocks by every thread (`ShardedMeter::read_file` with two shards):
//! the split read must never panic or hang, and must give what one
//! `FlowMeter` gives: the same flows in the same order, the same counters,
//! the same error.
//!
//! The input follows a section header block and two Ethernet interfaces
//! of its own (microseconds; nanoseconds with a time offset), and is
//! repeated until the file passes 300,000 bytes, so that every block
//! boundary falls somewhere in the input's blocks.
#![no_main]

use dpi_core::testing::PcapNgWriter;
use libfuzzer_sys::fuzz_target;

#[path = "split_compare.rs"]
mod split_compare;

const SIZE: usize = 300_000;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let mut w = PcapNgWriter::new();
    w.shb(false)
        .idb(1, 0, None, None)
        .idb(1, 0, Some(9), Some(-3));
    let mut file = w.out;
    while file.len() < SIZE {
        file.extend_from_slice(data);
    }
    let path = std::env::temp_dir().join(format!("dpi-fuzz-split-{}.pcapng", std::process::id()));
    if std::fs::write(&path, &file).is_err() {
        return;
    }
    split_compare::reads_the_same(&path);
});
