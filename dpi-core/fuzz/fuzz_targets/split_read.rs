//! Arbitrary bytes as the records of a classic pcap file large enough to
//! be read in blocks by every thread (`ShardedMeter::read_file` with two
//! shards): the split read must never panic or hang, and must give what
//! one `FlowMeter` gives: the same flows in the same order, the same
//! counters, the same error.
//!
//! The input follows a pcap file header of its own when it does not start
//! with a pcap magic number, and is repeated (after its file header) until
//! the file passes 300,000 bytes, so that every block boundary falls
//! somewhere in the input's records.
#![no_main]

use dpi_core::ShardedMeter;
use libfuzzer_sys::fuzz_target;

#[path = "split_compare.rs"]
mod split_compare;

const SIZE: usize = 300_000;

fuzz_target!(|data: &[u8]| {
    let magic = data
        .get(..4)
        .map(|m| u32::from_le_bytes(m.try_into().unwrap()));
    let (header, records) = match magic {
        Some(0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) if data.len() >= 24 => {
            data.split_at(24)
        }
        _ => (
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0,
            ][..],
            data,
        ),
    };
    if records.is_empty() {
        return;
    }
    let mut file = header.to_vec();
    while file.len() < SIZE {
        file.extend_from_slice(records);
    }
    let path = std::env::temp_dir().join(format!("dpi-fuzz-split-{}.pcap", std::process::id()));
    if std::fs::write(&path, &file).is_err() {
        return;
    }
    if !ShardedMeter::<()>::reads_in_blocks(&path) {
        // A file header of the input's that the reader refuses.
        return;
    }
    split_compare::reads_the_same(&path);
});
