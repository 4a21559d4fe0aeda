//! `dpi eval --reference ndpi --candidate lpi --only-dpi-confidence --format
//! json` over `$DPI_CORPUS/ndpi`, checked against a recomputation from the
//! label files.
//!
//! The recomputation reads nDPI's `.out` and libprotoident's files with the
//! importers, keeps the nDPI flows of DPI confidence with a protocol, and
//! joins libprotoident by 5-tuple where the 5-tuple is unique on both
//! sides. `flows.csv` (written with `--out-dir`) says which nDPI flows the
//! evaluation lined up with our flows; every one must be an nDPI flow that
//! counts, every unique 5-tuple must get the same libprotoident label, and
//! the JSON figures must equal the ones recomputed over those rows.
//!
//! Without `DPI_CORPUS` the test prints a note and passes; with it set, a
//! missing corpus is a failure.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use dpi_train::labels::{lpi, ndpi_out, Corpus, LabelRecord, LabelSource, NameRegistry};

type Key = (u8, (IpAddr, u16), (IpAddr, u16));

fn key(r: &LabelRecord) -> Key {
    let a = (r.src_ip, r.src_port);
    let b = (r.dst_ip, r.dst_port);
    if a <= b {
        (r.transport, a, b)
    } else {
        (r.transport, b, a)
    }
}

fn counts(r: &LabelRecord) -> Option<String> {
    let m = r.master.clone()?;
    let dpi = r
        .confidence
        .as_deref()
        .is_some_and(|c| c.starts_with("DPI"));
    (dpi && m != "Unknown" && !m.is_empty()).then_some(m)
}

fn named(r: &LabelRecord) -> Option<String> {
    r.master.clone().filter(|m| !m.is_empty() && m != "Unknown")
}

#[test]
fn eval_lpi_against_ndpi() {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the corpus evaluation test is skipped");
        return;
    };
    let dir = PathBuf::from(root).join("ndpi");
    let corpus = Corpus::open(&dir).unwrap_or_else(|e| panic!("DPI_CORPUS: {e}"));
    let out_dir = std::env::temp_dir().join(format!("dpi-eval-corpus-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["eval", "--corpus"])
        .arg(&dir)
        .args([
            "--reference",
            "ndpi",
            "--candidate",
            "lpi",
            "--only-dpi-confidence",
        ])
        .args(["--format", "json", "-q", "--out-dir"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dpi eval failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for field in ["flows", "coverage", "accuracy", "precision"] {
        assert!(j[field].is_number(), "`{field}` is not a number: {j}");
    }
    assert!(j["per_protocol"].is_array());

    // The label files, read independently.
    let registry = NameRegistry::builtin();
    let mut ndpi: HashMap<(String, usize), LabelRecord> = HashMap::new();
    let mut ndpi_keys: HashMap<(String, Key), usize> = HashMap::new();
    let mut lpi_keys: HashMap<(String, Key), Vec<Option<String>>> = HashMap::new();
    for (capture, path) in corpus.label_files(LabelSource::NdpiOut).unwrap() {
        for r in ndpi_out::parse_file(&path).unwrap().records {
            *ndpi_keys.entry((capture.clone(), key(&r))).or_default() += 1;
            ndpi.insert((capture.clone(), r.line), r);
        }
    }
    for (capture, path) in corpus.label_files(LabelSource::Lpi).unwrap() {
        for r in lpi::parse_file(&path, &registry).unwrap().records {
            lpi_keys
                .entry((capture.clone(), key(&r)))
                .or_default()
                .push(named(&r));
        }
    }
    let considered = ndpi.values().filter(|r| counts(r).is_some()).count();

    // The evaluated rows.
    let text = std::fs::read_to_string(out_dir.join("flows.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("capture,reference_line,reference_label,reference,candidate,reference_app,candidate_app,transport,src_ip,src_port,dst_ip,dst_port,confidence,signature")
    );
    let (mut rows, mut named_n, mut correct, mut checked, mut ambiguous, mut mismatched) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut per: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 14, "{line}");
        let capture = f[0].to_owned();
        let n: usize = f[1].parse().unwrap();
        let r = ndpi
            .get(&(capture.clone(), n))
            .unwrap_or_else(|| panic!("{capture}:{n} is not an nDPI flow"));
        let master = counts(r).unwrap_or_else(|| panic!("{capture}:{n} does not count"));
        assert_eq!(master, f[3], "{capture}:{n}");
        let candidate = (!f[4].is_empty()).then(|| f[4].to_owned());
        let k = (capture.clone(), key(r));
        match lpi_keys.get(&k) {
            Some(v) if v.len() == 1 && ndpi_keys[&k] == 1 => {
                checked += 1;
                if v[0] != candidate {
                    mismatched += 1;
                    eprintln!(
                        "{capture}:{n}: lpi says {:?}, dpi eval {:?}",
                        v[0], candidate
                    );
                }
            }
            Some(_) => ambiguous += 1,
            None => {
                checked += 1;
                if candidate.is_some() {
                    mismatched += 1;
                    eprintln!("{capture}:{n}: no lpi flow, dpi eval {candidate:?}");
                }
            }
        }
        rows += 1;
        per.entry(master.clone()).or_default()[0] += 1;
        if let Some(c) = &candidate {
            named_n += 1;
            per.entry(c.clone()).or_default()[1] += 1;
            if *c == master {
                correct += 1;
                per.entry(c.clone()).or_default()[2] += 1;
            }
        }
    }
    eprintln!(
        "ndpi corpus, lpi vs nDPI (DPI confidence): {considered} nDPI flows count, {rows} evaluated, {checked} checked by unique 5-tuple, {ambiguous} with a repeated 5-tuple, {mismatched} mismatched"
    );
    eprintln!(
        "coverage {:.4} accuracy {:.4} precision {:.4}",
        j["coverage"], j["accuracy"], j["precision"]
    );
    assert_eq!(mismatched, 0);
    assert_eq!(j["reference_records"].as_u64(), Some(considered as u64));
    assert_eq!(j["flows"].as_u64(), Some(rows));
    assert!(
        rows as f64 >= 0.98 * considered as f64,
        "{rows} of {considered}"
    );
    let close = |a: &serde_json::Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-12;
    assert!(close(&j["coverage"], named_n as f64 / rows as f64));
    assert!(close(&j["accuracy"], correct as f64 / rows as f64));
    assert!(close(&j["precision"], correct as f64 / named_n as f64));
    let table = j["per_protocol"].as_array().unwrap();
    assert_eq!(table.len(), per.len());
    for p in table {
        let name = p["protocol"].as_str().unwrap();
        let [s, pr, c] = per[name];
        assert_eq!(
            (
                p["support"].as_u64(),
                p["predicted"].as_u64(),
                p["correct"].as_u64()
            ),
            (Some(s), Some(pr), Some(c)),
            "{name}"
        );
    }
    assert!(out_dir.join("confusion.svg").is_file());
    assert!(out_dir.join("per_protocol.csv").is_file());
    let _ = std::fs::remove_dir_all(&out_dir);
}
