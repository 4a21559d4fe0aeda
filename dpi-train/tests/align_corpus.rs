//! Alignment over the shared corpus (`DPI_CORPUS`): our flow must be found
//! for at least 98% of nDPI's expected flows of `ndpi/`; the figures of
//! every tool on both corpora are printed.
//!
//! Without `DPI_CORPUS` the test prints a note and passes; with it set, a
//! missing corpus is a failure.

use std::path::PathBuf;

use dpi_core::FlowConfig;
use dpi_train::align::align_corpus;
use dpi_train::labels::{Corpus, NameRegistry, Tool};
use dpi_train::runner::RunOptions;

#[test]
fn corpus_alignment() {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the corpus alignment test is skipped");
        return;
    };
    let root = PathBuf::from(root);
    assert!(
        root.is_dir(),
        "DPI_CORPUS={} is not a folder",
        root.display()
    );
    let registry = NameRegistry::builtin();
    let run = RunOptions {
        flow: FlowConfig::default(),
        threads: 0,
        progress: false,
    };
    let tools = Tool::ALL;
    for name in ["ndpi", "zeek"] {
        let corpus = Corpus::open(root.join(name))
            .unwrap_or_else(|e| panic!("corpus `{name}` missing under DPI_CORPUS: {e}"));
        let mut records = [0usize; 3];
        let mut matched = [0usize; 3];
        let mut flows = 0usize;
        let mut captures = 0usize;
        align_corpus(&corpus, &tools, &registry, &run, |a| {
            captures += 1;
            flows += a.flows.len();
            for (i, c) in a.tools.iter().enumerate() {
                records[i] += c.records;
                matched[i] += c.matched;
            }
            Ok(())
        })
        .unwrap();
        for (i, tool) in tools.iter().enumerate() {
            let rate = matched[i] as f64 / records[i].max(1) as f64;
            eprintln!(
                "{name}: {tool:5} {captures} captures, {flows} flows of ours; {} records, {} matched ({:.2}%)",
                records[i],
                matched[i],
                100.0 * rate
            );
            if name == "ndpi" && *tool == Tool::Ndpi {
                assert!(
                    records[i] > 8000,
                    "{name}: only {} nDPI records",
                    records[i]
                );
                assert!(
                    rate >= 0.98,
                    "{name}: our flow found for only {:.2}% of nDPI's expected flows",
                    100.0 * rate
                );
            }
        }
    }
}
