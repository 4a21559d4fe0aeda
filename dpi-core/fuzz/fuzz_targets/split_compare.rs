//! What the split-read targets check of a file: `ShardedMeter::read_file`
//! with two shards gives what one `FlowMeter` gives, the same flows in the
//! same order, the same counters, the same error.

use std::path::Path;

use dpi_core::expect::ExpectConfig;
use dpi_core::{FlowConfig, FlowMeter, ShardedMeter};

/// Panics when the two readings of `path` differ.
pub fn reads_the_same(path: &Path) {
    let cfg = FlowConfig::default();
    let mut single = FlowMeter::new(cfg.clone());
    let mut want = Vec::new();
    let s1 = single.read_file(path, &mut |f| want.push(format!("{f:?}")));
    single.flush(&mut |f| want.push(format!("{f:?}")));
    let mut sharded = ShardedMeter::new(cfg, &ExpectConfig::default(), 2, |_| {
        |f: dpi_core::Flow| format!("{f:?}")
    });
    let mut got = Vec::new();
    let s2 = sharded.read_file(path, &mut |l| got.push(l));
    sharded.flush(&mut |l| got.push(l));
    assert_eq!(s1.stats, s2.stats);
    assert_eq!(
        s1.error.map(|e| e.to_string()),
        s2.error.map(|e| e.to_string())
    );
    assert!(got == want, "flows differ");
}
