//! `dpi classify -j N` on one capture shards its flows over N threads; the
//! output must be the bytes `-j 1` writes.
//!
//! - The sample captures through the `dpi` binary with `-j 1`, `-j 2` and
//!   `-j 3`, with the default timeouts and with a 1 ms idle timeout (so
//!   that flows end all along the capture, not only at the flush, and the
//!   shards' flows must interleave).
//! - Every capture of `$DPI_CORPUS/{ndpi,zeek}/pcap` in process:
//!   [`FlowMeter`] against [`ShardedMeter`] with 2 and 3 shards, each flow
//!   labelled and written as `dpi classify --format jsonl` writes it
//!   ([`label_flow`], [`json_line`]), the lines compared byte for byte.
//!   The captures with flows that other flows announced (FTP_DATA, RTP;
//!   see `crossflow_corpus`) are among them, so a shard that makes such a
//!   flow must have seen the announcement made in another shard.
//!   Without `DPI_CORPUS` this part prints a note and passes; with it set,
//!   a missing corpus is a failure.
//!
//! ```sh
//! DPI_CORPUS=/work/shared/corpus cargo test --release -p dpi-train --test sharded_classify
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use dpi_core::expect::ExpectConfig;
use dpi_core::matcher::Scratch;
use dpi_core::{Classifier, Flow, FlowConfig, FlowMeter, ShardedMeter};
use dpi_train::commands::classify::{json_line, label_flow, DEFAULT_HANDSHAKE_BYTES};

fn samples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/samples");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    assert!(v.len() >= 6, "sample captures missing: {v:?}");
    v
}

fn classify(jobs: &str, extra: &[&str], capture: &str) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["classify", "--format", "jsonl", "-q", "-j", jobs])
        .args(extra)
        .arg(capture)
        .output()
        .expect("run dpi");
    assert!(
        out.status.success(),
        "dpi classify -j {jobs} {capture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn samples_give_the_same_bytes_with_any_thread_count() {
    let quick = ["--idle-timeout", "0.001"];
    for extra in [&[][..], &quick[..]] {
        for capture in samples() {
            let one = classify("1", extra, &capture);
            assert!(!one.is_empty(), "{capture}: no flow");
            for jobs in ["2", "3"] {
                let many = classify(jobs, extra, &capture);
                assert!(
                    one == many,
                    "{capture} {extra:?}: -j {jobs} differs from -j 1:\n{}\n---\n{}",
                    String::from_utf8_lossy(&one),
                    String::from_utf8_lossy(&many)
                );
            }
        }
    }
}

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("DPI_CORPUS").or_else(|| {
        eprintln!("DPI_CORPUS is not set: the corpus comparison is skipped");
        None
    })?);
    for c in ["ndpi", "zeek"] {
        assert!(
            p.join(c).join("pcap").is_dir(),
            "DPI_CORPUS is set but {} has no {c}/pcap",
            p.display()
        );
    }
    Some(p)
}

/// `dpi classify`'s flow settings.
fn config() -> FlowConfig {
    FlowConfig {
        handshake_bytes: DEFAULT_HANDSHAKE_BYTES,
        ..FlowConfig::classification()
    }
}

/// The JSON line of one flow, as `dpi classify --format jsonl` writes it.
fn line(classifier: &Classifier, scratch: &mut Scratch, mut flow: Flow) -> Vec<u8> {
    let bytes = FlowConfig::CLASSIFY_BYTES;
    let (c, meta) = label_flow(classifier, &mut flow, bytes, true, scratch);
    json_line("capture", &flow, &c, &meta, false).expect("JSON of a flow")
}

fn single(classifier: &Classifier, path: &Path) -> Vec<Vec<u8>> {
    let mut meter = FlowMeter::new(config());
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    meter.read_file(path, &mut |f| out.push(line(classifier, &mut scratch, f)));
    meter.flush(&mut |f| out.push(line(classifier, &mut scratch, f)));
    out
}

fn sharded(classifier: &Arc<Classifier>, path: &Path, shards: usize) -> Vec<Vec<u8>> {
    let mut meter = ShardedMeter::new(config(), &ExpectConfig::default(), shards, |_| {
        let (classifier, mut scratch) = (classifier.clone(), Scratch::new());
        move |f| line(&classifier, &mut scratch, f)
    });
    let mut out = Vec::new();
    meter.read_file(path, &mut |l| out.push(l));
    meter.flush(&mut |l| out.push(l));
    out
}

#[test]
fn corpus_captures_give_the_same_lines_sharded() {
    let Some(root) = corpus() else { return };
    let classifier = Arc::new(Classifier::builtin());
    let (mut captures, mut flows, mut announced) = (0, 0, 0);
    for c in ["ndpi", "zeek"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(c).join("pcap"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let want = single(&classifier, &path);
            for shards in [2, 3] {
                let got = sharded(&classifier, &path, shards);
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{}: {shards} shards, flow count",
                    path.display()
                );
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        g == w,
                        "{}: {shards} shards, flow {i}:\n{}\n{}",
                        path.display(),
                        String::from_utf8_lossy(g),
                        String::from_utf8_lossy(w)
                    );
                }
            }
            captures += 1;
            flows += want.len();
            announced += want
                .iter()
                .filter(|l| l.windows(14).any(|w| w == b"expected from "))
                .count();
        }
    }
    eprintln!("{captures} captures, {flows} flows, {announced} labelled by another flow");
    assert!(captures > 1000, "{captures} captures");
    // FTP_DATA and RTP flows of the corpora (crossflow_corpus counts 24
    // that nDPI labels so; ours label more).
    assert!(
        announced >= 20,
        "{announced} flows labelled by another flow"
    );
}
