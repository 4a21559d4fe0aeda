//! dpi-core's example `examples/classify.rs` (built-in set, public API
//! only) against `dpi classify --format jsonl` on every flow of the nDPI
//! capture corpus: the same flows with the same protocol, application and
//! confidence, 0 differences.
//!
//! The example is compiled into this test from its source, so the test
//! exercises the code a user runs with
//! `cargo run --release -p dpi-core --example classify -- CAPTURE...`.
//! Needs `DPI_CORPUS`; skipped with a note when it is unset.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)]
#[path = "../../dpi-core/examples/classify.rs"]
mod example;

/// Flow key -> (protocol, app, confidence), counted (a key can repeat
/// when a flow is split by a timeout).
type Labels = BTreeMap<(String, String), usize>;

fn labels(jsonl: &str) -> Labels {
    let mut m = Labels::new();
    for line in jsonl.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let key = [
            "file",
            "transport",
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
        ]
        .map(|k| v[k].to_string())
        .join(" ");
        let label = ["protocol", "app", "confidence"]
            .map(|k| v[k].to_string())
            .join(" ");
        *m.entry((key, label)).or_default() += 1;
    }
    m
}

#[test]
fn example_labels_equal_dpi_classify_on_the_ndpi_corpus() {
    let Some(corpus) = std::env::var_os("DPI_CORPUS").map(PathBuf::from) else {
        eprintln!("note: DPI_CORPUS is not set; the corpus test is skipped");
        return;
    };
    let pcap_dir = corpus.join("ndpi/pcap");
    let mut captures: Vec<String> = std::fs::read_dir(&pcap_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", pcap_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    captures.sort();
    assert!(
        !captures.is_empty(),
        "no captures in {}",
        pcap_dir.display()
    );

    let mut ours = Vec::new();
    example::run(&captures, &mut ours).expect("the example writes to memory");
    let ours = labels(&String::from_utf8(ours).unwrap());

    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["classify", "-q", "--format", "jsonl"])
        .args(&captures)
        .output()
        .expect("run dpi");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "dpi classify failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = labels(&String::from_utf8(out.stdout).unwrap());

    let flows: usize = theirs.values().sum();
    assert!(flows > 1000, "only {flows} flows");
    let mut differences = Vec::new();
    for (k, n) in &theirs {
        if ours.get(k) != Some(n) {
            differences.push(format!(
                "dpi classify {n}x {k:?}, example {:?}",
                ours.get(k)
            ));
        }
    }
    for (k, n) in &ours {
        if !theirs.contains_key(k) {
            differences.push(format!("example only {n}x {k:?}"));
        }
    }
    eprintln!(
        "note: {} captures, {flows} flows, {} differences",
        captures.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{} differences, first: {:#?}",
        differences.len(),
        &differences[..differences.len().min(10)]
    );
}
