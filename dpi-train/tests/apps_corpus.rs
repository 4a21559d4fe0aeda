//! Application figures on the shared corpus, as the README reports them:
//!
//! - `dpi eval --corpus $DPI_CORPUS/ndpi --folds 5 --reference ndpi
//!   --candidate dpi --only-dpi-confidence --format json`: the hand-written
//!   set (default.rules and apps.rules) grown by the trainer on four folds,
//!   evaluated on the fifth;
//! - `dpi eval --corpus $DPI_CORPUS/zeek --train-corpus $DPI_CORPUS/ndpi
//!   --train-corpus $DPI_CORPUS/mixed ...`: the same grown on the other
//!   corpora.
//!
//! Each run must reach the application recall and precision and the
//! master-protocol accuracy the README gives (rounded down), and the
//! master-protocol figures must not fall below those measured before
//! application rules existed (the README's "hand-written + learnt"
//! column).
//!
//! Without `DPI_CORPUS` the test prints a note and passes; with it set, a
//! missing corpus is a failure.

use std::path::PathBuf;
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the application figures are not measured");
        return None;
    };
    let root = PathBuf::from(root);
    for c in ["ndpi", "zeek", "mixed"] {
        assert!(
            root.join(c).join("pcap").is_dir(),
            "DPI_CORPUS={}: no {c}/pcap folder",
            root.display()
        );
    }
    Some(root)
}

fn eval(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .arg("eval")
        .args(args)
        .args([
            "--reference",
            "ndpi",
            "--candidate",
            "dpi",
            "--only-dpi-confidence",
            "--format",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpi eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn num(j: &serde_json::Value, path: &[&str]) -> f64 {
    let mut v = j;
    for p in path {
        v = &v[*p];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{} is not a number", path.join(".")))
}

#[test]
fn applications_over_five_folds_of_the_ndpi_corpus() {
    let Some(root) = corpus() else { return };
    let dir = root.join("ndpi");
    let j = eval(&[
        "--corpus".as_ref(),
        dir.as_os_str(),
        "--folds".as_ref(),
        "5".as_ref(),
    ]);
    let (recall, precision) = (num(&j, &["app_recall"]), num(&j, &["app_precision"]));
    let (pooled_recall, pooled_precision) = (
        num(&j, &["app_pooled", "app_recall"]),
        num(&j, &["app_pooled", "app_precision"]),
    );
    let accuracy = num(&j, &["accuracy"]);
    eprintln!(
        "ndpi, 5 folds: app recall {recall:.4} (pooled {pooled_recall:.4}), app precision {precision:.4} (pooled {pooled_precision:.4}), accuracy {accuracy:.4}"
    );
    assert!(recall >= 0.70, "app recall {recall}");
    assert!(pooled_recall >= 0.75, "pooled app recall {pooled_recall}");
    assert!(precision >= 0.98, "app precision {precision}");
    assert!(
        pooled_precision >= 0.98,
        "pooled app precision {pooled_precision}"
    );
    // Master protocols: 92.77% (mean of folds) measured; at least 92%.
    assert!(accuracy >= 0.92, "accuracy {accuracy}");
    assert_eq!(num(&j, &["app_flows"]), 1424.0);
}

#[test]
fn applications_on_the_zeek_corpus_trained_on_the_others() {
    let Some(root) = corpus() else { return };
    let (zeek, ndpi, mixed) = (root.join("zeek"), root.join("ndpi"), root.join("mixed"));
    let j = eval(&[
        "--corpus".as_ref(),
        zeek.as_os_str(),
        "--train-corpus".as_ref(),
        ndpi.as_os_str(),
        "--train-corpus".as_ref(),
        mixed.as_os_str(),
    ]);
    let (recall, precision) = (num(&j, &["app_recall"]), num(&j, &["app_precision"]));
    let accuracy = num(&j, &["accuracy"]);
    eprintln!(
        "zeek, trained on ndpi and mixed: app recall {recall:.4}, app precision {precision:.4}, accuracy {accuracy:.4}"
    );
    assert!(recall >= 0.79, "app recall {recall}");
    // The bar; 100% measured since bare-LF request heads give no
    // host (http__methods.pcap: nDPI names no application there either).
    assert!(precision >= 0.98, "app precision {precision}");
    // Master protocols: 98.39% measured.
    assert!(accuracy >= 0.98, "accuracy {accuracy}");
}
