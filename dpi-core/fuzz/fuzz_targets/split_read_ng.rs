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

use dpi_core::expect::ExpectConfig;
use dpi_core::testing::PcapNgWriter;
use dpi_core::{FlowConfig, FlowMeter, ShardedMeter};
use libfuzzer_sys::fuzz_target;

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
    let cfg = FlowConfig::default();
    let mut single = FlowMeter::new(cfg.clone());
    let mut want = Vec::new();
    let s1 = single.read_file(&path, &mut |f| want.push(format!("{f:?}")));
    single.flush(&mut |f| want.push(format!("{f:?}")));
    let mut sharded = ShardedMeter::new(cfg, &ExpectConfig::default(), 2, |_| {
        |f: dpi_core::Flow| format!("{f:?}")
    });
    let mut got = Vec::new();
    let s2 = sharded.read_file(&path, &mut |l| got.push(l));
    sharded.flush(&mut |l| got.push(l));
    assert_eq!(s1.stats, s2.stats);
    assert_eq!(
        s1.error.map(|e| e.to_string()),
        s2.error.map(|e| e.to_string())
    );
    assert!(got == want, "flows differ");
});
