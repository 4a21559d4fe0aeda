//! Training on half of the nDPI corpus and evaluating on the other half.
//!
//! Reads the corpus from `DPI_CORPUS` (its `ndpi/` folder). Unset: the
//! test is skipped with a note. Set but missing: the test fails.
//!
//! Captures are split by a hash of their file name
//! (`dpi_train::train::hash::part_of(name, "dpi-split", 2)`, as
//! `dpi train --exclude-part 0/2` does): part 1 trains, part 0 is held
//! out. The figures printed are measured on part 0 only.

use std::path::{Path, PathBuf};

use dpi_core::signature::{load, parse_std_sig, SignatureSet};
use dpi_core::{Classifier, FlowView};
use dpi_train::align::align_corpus;
use dpi_train::commands::train::SPLIT_SALT;
use dpi_train::eval::{considered, Metrics, Outcome};
use dpi_train::labels::{Corpus, NameRegistry, Tool};
use dpi_train::runner::RunOptions;
use dpi_train::train::hash::part_of;
use dpi_train::train::{self, merge, Example, MineOptions, Settings};

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("DPI_CORPUS")?).join("ndpi");
    assert!(
        dir.is_dir(),
        "DPI_CORPUS is set but {} is missing",
        dir.display()
    );
    Some(dir)
}

fn run_options() -> RunOptions {
    RunOptions {
        flow: dpi_core::FlowConfig {
            payload_bytes: 64,
            feature_packets: 8,
            idle_timeout: std::time::Duration::from_secs(600),
            ..Default::default()
        },
        threads: 0,
        progress: false,
    }
}

/// Per-flow outcomes of `classifier` on the held-out captures, for nDPI
/// flows with DPI confidence (`dpi eval --only-dpi-confidence`) and for
/// all flows nDPI names.
fn evaluate(dir: &Path, classifier: &Classifier) -> (Vec<Outcome>, Vec<Outcome>) {
    let corpus = Corpus::open(dir).unwrap();
    let registry = NameRegistry::builtin();
    let (mut dpi_only, mut all) = (Vec::new(), Vec::new());
    align_corpus(&corpus, &[Tool::Ndpi], &registry, &run_options(), |c| {
        if part_of(&c.capture, SPLIT_SALT, 2) != 0 {
            return Ok(());
        }
        for f in &c.flows {
            let Some(l) = f.labels[0].as_ref() else {
                continue;
            };
            let Some(master) = considered(l.master.as_deref(), None, false) else {
                continue;
            };
            let label = Example::from_record(&f.capture, &f.flow).and_then(|e| {
                let view = FlowView::new(e.transport, e.server_port)
                    .with_client_port(e.client_port)
                    .with_c2s(&e.c2s)
                    .with_s2c(&e.s2c)
                    .with_packets(e.c2s_packets, e.s2c_packets)
                    .with_first_sizes(e.c2s_first_size, e.s2c_first_size);
                let view = match e.first_payload {
                    Some(s) => view.with_first_payload(s),
                    None => view,
                };
                let c = classifier.classify(&view);
                (!c.is_unknown()).then(|| c.protocol.to_string())
            });
            // Flows without user data go through the classifier too (ports, transport).
            let label = label.or_else(|| {
                let t = dpi_train::record::transport_number(&f.flow.transport)?;
                let c = classifier.classify(
                    &FlowView::new(t, f.flow.dst_port)
                        .with_client_port(f.flow.src_port)
                        .with_packets(f.flow.c2s_packets, f.flow.s2c_packets),
                );
                (!c.is_unknown()).then(|| c.protocol.to_string())
            });
            let o = Outcome::new(master, label.as_deref());
            if l.confidence
                .as_deref()
                .is_some_and(|c| c.starts_with("DPI"))
            {
                dpi_only.push(o.clone());
            }
            all.push(o);
        }
        Ok(())
    })
    .unwrap();
    (dpi_only, all)
}

fn print(name: &str, outcomes: &[Outcome]) {
    let m = Metrics::compute(outcomes, 10);
    println!(
        "{name}: flows {}, coverage {:.3}, accuracy {:.3}, precision {:.3}",
        m.flows, m.coverage, m.accuracy, m.precision
    );
}

#[test]
fn train_on_half_evaluate_on_the_other() {
    let Some(dir) = corpus_dir() else {
        eprintln!("note: DPI_CORPUS is not set; corpus training test skipped");
        return;
    };
    let settings = Settings {
        references: vec!["ndpi".into()],
        bytes: 64,
        sample: 4096,
        folds: 4,
    };
    let include = |name: &str| part_of(name, SPLIT_SALT, 2) != 0;
    let partial = train::collect_partial(
        std::slice::from_ref(&dir),
        &[Tool::Ndpi],
        &NameRegistry::builtin(),
        &run_options(),
        settings,
        &include,
    )
    .unwrap();
    // Captures are recorded as `<corpus folder>/<file>`.
    assert!(partial
        .capture_names()
        .iter()
        .all(|c| c.starts_with("ndpi/") && include(&c["ndpi/".len()..])));
    let opts = MineOptions::default();
    let trained = train::train(
        &partial,
        &SignatureSet::new(),
        &opts,
        &indicatif::ProgressBar::hidden(),
    );
    assert!(!trained.set.is_empty(), "nothing learnt");
    for s in &trained.set.signatures {
        let p = s.provenance.precision.expect("held-out precision recorded");
        assert!(p >= opts.gate.min_precision, "{s:?}");
    }

    let out = std::env::temp_dir().join(format!("dpi-train-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let (std_text, ext_text, ns, ne) = merge::split_outputs(&trained.set, &["test".into()]);
    std::fs::write(out.join("std.sig"), &std_text).unwrap();
    std::fs::write(out.join("trained.rules"), &ext_text).unwrap();
    let loaded_std = load(out.join("std.sig")).unwrap();
    let loaded_ext = load(out.join("trained.rules")).unwrap();
    assert_eq!(loaded_std.len(), ns);
    // The extended file holds the signatures std.sig cannot carry and the
    // application rules.
    assert_eq!(loaded_ext.len() + loaded_ext.apps.len(), ne);
    assert_eq!(loaded_ext.apps.len(), trained.set.apps.len());
    parse_std_sig(&std_text, "std.sig").unwrap();
    println!(
        "learnt {} signatures ({ns} std.sig, {ne} extended) from {} captures",
        trained.set.len(),
        partial.capture_count()
    );
    let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &trained.set.signatures {
        *per.entry(&s.protocol).or_default() += 1;
    }
    println!("per protocol: {per:?}");

    let rules_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signatures/default.rules");
    let hand = match load(&rules_path) {
        Ok(s) => s,
        Err(e) => {
            println!("note: default.rules not usable ({e}); evaluating trained set alone");
            SignatureSet::new()
        }
    };
    let mut both = hand.clone();
    both.signatures
        .extend(loaded_std.signatures.iter().cloned());
    both.signatures
        .extend(loaded_ext.signatures.iter().cloned());
    let held_out = |set: &SignatureSet| {
        let c = Classifier::new(set).unwrap();
        evaluate(&dir, &c)
    };
    let trained_only = {
        let mut s = loaded_std.clone();
        s.signatures.extend(loaded_ext.signatures.iter().cloned());
        s
    };
    for (name, set) in [
        ("trained only", &trained_only),
        ("default.rules only", &hand),
        ("default.rules + trained", &both),
    ] {
        let (dpi, all) = held_out(set);
        print(
            &format!("held-out half, {name}, nDPI DPI-confidence flows"),
            &dpi,
        );
        print(
            &format!("held-out half, {name}, all flows nDPI names"),
            &all,
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// The nDPI and Zeek corpora share capture file names; their partials
/// merge, and equal the statistics of both read in one run.
#[test]
fn corpora_sharing_file_names_merge() {
    let Some(ndpi) = corpus_dir() else {
        return;
    };
    let zeek = ndpi.with_file_name("zeek");
    let settings = Settings {
        references: vec!["ndpi".into()],
        bytes: 64,
        sample: 4096,
        folds: 4,
    };
    let collect = |dirs: &[std::path::PathBuf]| {
        train::collect_partial(
            dirs,
            &[Tool::Ndpi],
            &NameRegistry::builtin(),
            &run_options(),
            settings.clone(),
            &|_| true,
        )
        .unwrap()
    };
    let a = collect(std::slice::from_ref(&ndpi));
    let b = collect(std::slice::from_ref(&zeek));
    let file = |c: &&str| c.split_once('/').map(|(_, f)| f.to_owned());
    let shared = a
        .capture_names()
        .iter()
        .filter_map(file)
        .filter(|f| b.capture_names().iter().filter_map(file).any(|g| &g == f))
        .count();
    assert!(shared > 0, "the corpora no longer share a file name");
    let both = collect(&[ndpi.clone(), zeek.clone()]);
    assert!(a.merge(b).unwrap() == both);
    // One corpus given twice is refused.
    let twice = train::collect_partial(
        &[ndpi.clone(), ndpi],
        &[Tool::Ndpi],
        &NameRegistry::builtin(),
        &run_options(),
        settings,
        &|_| true,
    );
    assert!(twice.unwrap_err().to_string().contains("counted already"));
}
