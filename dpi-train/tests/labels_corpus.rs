//! Imports every label file of the shared corpus (`DPI_CORPUS`, holding
//! `ndpi/` and `zeek/`), checks the counts its README gives, and measures
//! how often the name registry's mapping of libprotoident and argus labels
//! agrees with nDPI on the same flows.
//!
//! Without `DPI_CORPUS` the test prints a note and passes; with it set, a
//! missing corpus is a failure.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

use dpi_train::labels::{self, Corpus, LabelRecord, LabelSource, NameRegistry, Tool};

/// Flow lines in `expected/` per corpus, from the corpus README.
const OUT_FLOWS: [(&str, usize); 2] = [("ndpi", 8_708), ("zeek", 2_910)];

#[derive(Default)]
struct Totals {
    files: usize,
    records: usize,
    labelled: usize,
    malformed: usize,
    non_ip: usize,
    unmapped: BTreeMap<String, usize>,
}

type FlowKey = (String, u8, (IpAddr, u16), (IpAddr, u16));

fn key(r: &LabelRecord) -> FlowKey {
    let a = (r.src_ip, r.src_port);
    let b = (r.dst_ip, r.dst_port);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (r.capture.clone(), r.transport, lo, hi)
}

#[test]
fn corpus_labels() {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the corpus-wide label test is skipped");
        return;
    };
    let root = PathBuf::from(root);
    assert!(
        root.is_dir(),
        "DPI_CORPUS={} is not a folder",
        root.display()
    );
    let registry = NameRegistry::builtin();

    for (name, want_out) in OUT_FLOWS {
        let corpus = Corpus::open(root.join(name))
            .unwrap_or_else(|e| panic!("corpus `{name}` missing under DPI_CORPUS: {e}"));
        let captures = corpus.captures().unwrap();
        assert!(!captures.is_empty(), "{name}: no captures");
        let mut totals: BTreeMap<LabelSource, Totals> = BTreeMap::new();
        let mut records: BTreeMap<LabelSource, Vec<LabelRecord>> = BTreeMap::new();
        for source in LabelSource::ALL {
            let t = totals.entry(source).or_default();
            let all = records.entry(source).or_default();
            for (_, path) in corpus.label_files(source).unwrap() {
                let parsed =
                    labels::import_file(source, &path, &registry).unwrap_or_else(|e| panic!("{e}"));
                t.files += 1;
                t.records += parsed.records.len();
                t.labelled += parsed.records.iter().filter(|r| r.is_labelled()).count();
                t.malformed += parsed.malformed_lines;
                t.non_ip += parsed.skipped_non_ip;
                for m in &parsed.malformed {
                    eprintln!("malformed: {m}");
                }
                for (n, c) in parsed.unmapped {
                    *t.unmapped.entry(n).or_default() += c;
                }
                all.extend(parsed.records);
            }
            eprintln!(
                "{name:5} {:10} files {:4} records {:6} labelled {:6} malformed {:3} non-IP {:4} unmapped {:?}",
                source.to_string(),
                t.files,
                t.records,
                t.labelled,
                t.malformed,
                t.non_ip,
                t.unmapped
            );
        }

        let out = &totals[&LabelSource::NdpiOut];
        assert_eq!(out.records, want_out, "{name}: flow lines in expected/");
        for (source, t) in &totals {
            assert_eq!(t.malformed, 0, "{name} {source}: malformed lines");
            assert!(
                t.unmapped.is_empty(),
                "{name} {source}: unmapped names {:?}",
                t.unmapped
            );
        }
        if name == "ndpi" {
            assert_eq!(totals[&LabelSource::NdpiCsv].records, want_out);
            assert_eq!(totals[&LabelSource::NdpiJson].records, want_out);
            // Counts from the corpus's labels-README.md.
            let lpi = &totals[&LabelSource::Lpi];
            assert_eq!(lpi.records, 9_021, "ndpi: lpi flow lines");
            let argus = &totals[&LabelSource::Argus];
            assert_eq!(argus.records + argus.non_ip, 14_651, "ndpi: argus records");
            assert_eq!(argus.labelled, 6_077, "ndpi: labelled argus records");
            check_csv_matches_out(
                &records[&LabelSource::NdpiOut],
                &records[&LabelSource::NdpiCsv],
            );
        }

        let mut by_key: HashMap<FlowKey, Vec<&str>> = HashMap::new();
        for r in &records[&LabelSource::NdpiOut] {
            by_key
                .entry(key(r))
                .or_default()
                .push(r.master.as_deref().unwrap_or_default());
        }
        for source in [LabelSource::Lpi, LabelSource::Argus] {
            agreement(name, source.tool(), &records[&source], &by_key);
        }
    }
}

/// Row N of each CSV has the 5-tuple and protocol of flow line N of the
/// `.out` (the README measured 8,707 of 8,708).
fn check_csv_matches_out(out: &[LabelRecord], csv: &[LabelRecord]) {
    let mut per_capture: HashMap<&str, (Vec<&LabelRecord>, Vec<&LabelRecord>)> = HashMap::new();
    for r in out {
        per_capture.entry(&r.capture).or_default().0.push(r);
    }
    for r in csv {
        per_capture.entry(&r.capture).or_default().1.push(r);
    }
    let mut same = 0;
    let mut total = 0;
    for (o, c) in per_capture.values() {
        assert_eq!(
            o.len(),
            c.len(),
            "{}: .out and CSV flow counts",
            o[0].capture
        );
        for (a, b) in o.iter().zip(c) {
            total += 1;
            if key(a) == key(b) && a.protocol == b.protocol {
                same += 1;
            }
        }
    }
    eprintln!("ndpi  csv vs .out: {same} of {total} rows with the same 5-tuple and protocol");
    assert!(
        total - same <= 1,
        "csv and .out differ in {} rows",
        total - same
    );
}

/// Prints how often a tool's mapped label equals nDPI's master protocol on
/// the same 5-tuple, over labelled records that map to an nDPI name and
/// whose flow nDPI labelled (not Unknown).
fn agreement(
    corpus: &str,
    tool: Tool,
    records: &[LabelRecord],
    ndpi: &HashMap<FlowKey, Vec<&str>>,
) {
    let (mut joined, mut agree, mut unmatched) = (0usize, 0usize, 0usize);
    for r in records {
        let Some(master) = r.master.as_deref() else {
            continue;
        };
        let Some(masters) = ndpi.get(&key(r)) else {
            unmatched += 1;
            continue;
        };
        if masters.iter().all(|m| *m == "Unknown") {
            continue;
        }
        joined += 1;
        if masters.contains(&master) {
            agree += 1;
        }
    }
    let pct = if joined == 0 {
        0.0
    } else {
        100.0 * agree as f64 / joined as f64
    };
    eprintln!(
        "{corpus:5} {tool:5} mapped labels on flows nDPI labelled: {agree} of {joined} agree ({pct:.1}%); {unmatched} with no nDPI flow on the same 5-tuple"
    );
}
