//! Agreement of a candidate label source with a reference, over a corpus.
//!
//! The flows evaluated are the reference's flows that the alignment
//! ([`crate::align`]) lined up with our flows and that the reference names
//! (a master protocol other than Unknown; with
//! [`EvalOptions::only_dpi_confidence`], only nDPI labels whose confidence
//! starts with `DPI`). The candidate is asked for each of them through our
//! flow, so that two external tools are compared on the same flows as our
//! classifier. When the reference's flow spans several of ours (we cut it
//! at an idle gap) and the candidate names nothing on the matched one, the
//! candidate's label of the other parts counts; likewise a candidate
//! tool's record that spans the flow names it. [`metrics`] computes the figures, [`report`] writes them as
//! text, JSON and CSV, [`svg`] draws the confusion matrix.
//!
//! With our classifier as the candidate ([`Source::Dpi`]) the same run
//! also gives libprotoident's and argus's figures on the same flows (when
//! the corpus has their labels), and can train: with
//! [`EvalOptions::folds`] the captures are split into K folds by a hash
//! of their file name and each fold is evaluated with the hand-written
//! set grown by the trainer on the other folds; with
//! [`EvalOptions::train_corpus`] the set is grown on another corpus. In
//! both cases the hand-written set alone is measured on the same flows
//! (the baseline). See [`train`] for the details.

pub mod candidate;
pub mod folds;
pub mod load;
pub mod metrics;
pub mod report;
pub mod svg;
pub mod train;

use std::path::PathBuf;

use serde::Serialize;

use crate::align::named;
use crate::labels::{Corpus, LabelSource, NameRegistry, Tool};
use crate::runner::RunOptions;

pub use candidate::{
    dpi_candidate, hand_written, Candidate, DpiCandidate, Label, Source, ToolCandidate,
};
pub use load::{Loaded, LoadedCapture};
pub use metrics::{Confusion, Metrics, Outcome, ProtocolStats};
pub use train::{Comparison, Figures, FoldResult, TrainingSummary};

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The reference tool.
    pub reference: Tool,
    /// The candidate.
    pub candidate: Source,
    /// Keep only reference labels with an nDPI confidence starting with `DPI`.
    pub only_dpi_confidence: bool,
    /// Signature files for the `dpi` candidate.
    pub signatures: Vec<PathBuf>,
    /// Protocols in the confusion matrix (chosen by errors first, see
    /// [`Confusion`]) and confusions listed.
    pub top: usize,
    /// K-fold evaluation by capture (0 or 1: none); `dpi` candidate only.
    pub folds: u8,
    /// Grow the hand-written set on these corpora, evaluate on the one
    /// given; `dpi` candidate only.
    pub train_corpus: Vec<PathBuf>,
    /// The references training learns from (the first decides, a second
    /// adds evidence where the first is silent); empty: the reference.
    pub train_reference: Vec<Tool>,
    /// User-data bytes per direction the trainer looks at (flows are cut
    /// to this many before mining; `dpi train` reads 512 by default).
    pub train_bytes: usize,
    /// The trainer's settings.
    pub mine: crate::train::MineOptions,
}

impl EvalOptions {
    /// Options with no training.
    pub fn new(reference: Tool, candidate: Source) -> EvalOptions {
        EvalOptions {
            reference,
            candidate,
            only_dpi_confidence: false,
            signatures: Vec::new(),
            top: 15,
            folds: 0,
            train_corpus: Vec::new(),
            train_reference: Vec::new(),
            train_bytes: train::TRAIN_BYTES,
            mine: crate::train::MineOptions {
                source: format!("trained:{}", reference.name()),
                ..crate::train::MineOptions::default()
            },
        }
    }

    /// Whether this run trains (folds or another corpus).
    pub fn trains(&self) -> bool {
        self.folds > 1 || !self.train_corpus.is_empty()
    }

    /// The references training learns from: [`EvalOptions::train_reference`],
    /// else the reference alone.
    pub fn train_references(&self) -> Vec<Tool> {
        if self.train_reference.is_empty() {
            vec![self.reference]
        } else {
            self.train_reference.clone()
        }
    }
}

/// One evaluated flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalFlow {
    /// The capture's file name.
    pub capture: String,
    /// Line of the reference record in its label file.
    pub reference_line: usize,
    /// The reference's label as written.
    pub reference_label: String,
    /// The reference's master protocol.
    pub reference: String,
    /// The candidate's master protocol, if it names one.
    pub candidate: Option<String>,
    /// The reference's application, if it names one.
    pub reference_app: Option<String>,
    /// The candidate's application, if it names one.
    pub candidate_app: Option<String>,
    /// Our flow's transport (nDPI's lower-case name or the number).
    pub transport: String,
    /// Our flow's initiator address.
    pub src_ip: String,
    /// Our flow's initiator port.
    pub src_port: u16,
    /// Our flow's responder address.
    pub dst_ip: String,
    /// Our flow's responder port.
    pub dst_port: u16,
    /// The candidate's confidence, when it gives one.
    pub confidence: Option<String>,
    /// The signature that decided the candidate's label (ours only).
    pub signature: Option<String>,
}

/// The result of an evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Reference records that count (named, and of DPI confidence when
    /// asked), aligned or not. For argus, status records, not flows.
    pub reference_records: u64,
    /// Of those, the records that found no flow of ours.
    pub unaligned: u64,
    /// The flows evaluated, in capture order (with folds, every fold's
    /// held-out flows, each labelled by its fold's candidate).
    pub flows: Vec<EvalFlow>,
    /// The figures over [`Evaluation::flows`].
    pub metrics: Metrics,
    /// The application figures over the same flows.
    pub apps: metrics::AppMetrics,
    /// Baseline, other tools, folds and training (empty for a plain run
    /// of a tool candidate).
    pub comparison: Comparison,
}

/// Whether a reference label counts, and its master protocol: it names a
/// protocol and, when `only_dpi_confidence`, its confidence starts with
/// `DPI`.
pub fn considered<'a>(
    master: Option<&'a str>,
    confidence: Option<&str>,
    only_dpi_confidence: bool,
) -> Option<&'a str> {
    if only_dpi_confidence && !confidence.is_some_and(|c| c.starts_with("DPI")) {
        return None;
    }
    named(master)
}

/// Whether `corpus` holds label files of `tool`.
pub fn has_labels(corpus: &Corpus, tool: Tool) -> bool {
    let sources: &[LabelSource] = match tool {
        Tool::Ndpi => &[
            LabelSource::NdpiOut,
            LabelSource::NdpiJson,
            LabelSource::NdpiCsv,
        ],
        Tool::Lpi => &[LabelSource::Lpi],
        Tool::Argus => &[LabelSource::Argus],
    };
    sources
        .iter()
        .any(|s| corpus.label_files(*s).is_ok_and(|f| !f.is_empty()))
}

/// The tools to align for `opts` on `corpus`: the reference, then the
/// candidate tool; for the `dpi` candidate, libprotoident and argus when
/// the corpus has their labels (their figures on the same flows).
pub fn tools_for(opts: &EvalOptions, corpus: &Corpus) -> Vec<Tool> {
    let mut tools = vec![opts.reference];
    match opts.candidate.tool() {
        Some(t) => tools.push(t),
        None => tools.extend(
            [Tool::Lpi, Tool::Argus]
                .into_iter()
                .filter(|t| has_labels(corpus, *t)),
        ),
    }
    let mut seen = Vec::new();
    tools.retain(|t| {
        let new = !seen.contains(t);
        seen.push(*t);
        new
    });
    tools
}

/// Evaluated flows, each with one label per candidate asked.
pub type Rows = Vec<(EvalFlow, Vec<Option<Label>>)>;

/// One candidate asked over a loaded corpus: the labels, and the index of
/// its tool among the aligned tools (so that a record of that tool that
/// spans a flow names it too).
pub struct Asked<'a> {
    /// The candidate.
    pub candidate: &'a dyn Candidate,
    /// Its tool's index among the aligned tools, if it is a tool.
    pub tool_index: Option<usize>,
}

/// The reference flows of the captures `include` accepts, each labelled
/// by every candidate of `asked` (in order), with the counts of reference
/// records that count and of those left unaligned.
pub fn label_flows(
    loaded: &Loaded,
    include: &dyn Fn(&str) -> bool,
    asked: &[Asked<'_>],
    only_dpi_confidence: bool,
) -> (Rows, u64, u64) {
    let mut rows = Vec::new();
    let (mut reference_records, mut unaligned) = (0u64, 0u64);
    for lc in &loaded.captures {
        let capture = &lc.alignment;
        if !include(&capture.capture) {
            continue;
        }
        for (r, m) in &capture.records[0] {
            if considered(
                r.master.as_deref(),
                r.confidence.as_deref(),
                only_dpi_confidence,
            )
            .is_some()
            {
                reference_records += 1;
                if m.is_none() {
                    unaligned += 1;
                }
            }
        }
        let cover = &capture.covers[0];
        let mut spans: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        for (j, r) in cover.iter().enumerate() {
            if let Some(r) = r {
                spans.entry(*r).or_default().push(j);
            }
        }
        for (i, f) in capture.flows.iter().enumerate() {
            let Some(r) = f.labels.first().and_then(Option::as_ref) else {
                continue;
            };
            let Some(master) = considered(
                r.master.as_deref(),
                r.confidence.as_deref(),
                only_dpi_confidence,
            ) else {
                continue;
            };
            let e = EvalFlow {
                capture: f.capture.clone(),
                reference_line: r.line,
                reference_label: r.protocol.clone(),
                reference: master.to_owned(),
                candidate: None,
                reference_app: r.app.clone().filter(|a| !a.is_empty()),
                candidate_app: None,
                transport: f.flow.transport.clone(),
                src_ip: f.flow.src_ip.clone(),
                src_port: f.flow.src_port,
                dst_ip: f.flow.dst_ip.clone(),
                dst_port: f.flow.dst_port,
                confidence: None,
                signature: None,
            };
            let labels = asked
                .iter()
                .map(|a| {
                    // A candidate tool's record that spans this flow names it too.
                    let at = |j: usize| -> Option<Label> {
                        let from_cover = a.tool_index.and_then(|c| {
                            let (r, _) = &capture.records[c][capture.covers[c][j]?];
                            named(r.master.as_deref()).map(|m| Label {
                                master: m.to_owned(),
                                app: r.app.clone().filter(|a| !a.is_empty()),
                                confidence: r.confidence.clone(),
                                signature: None,
                            })
                        });
                        from_cover
                            .or_else(|| a.candidate.label(&capture.flows[j], &lc.raw[j]))
                            .filter(|l| named(Some(&l.master)).is_some())
                    };
                    let mut l = at(i);
                    if let (None, Some(r)) = (&l, cover[i]) {
                        l = spans[&r].iter().filter(|&&j| j != i).find_map(|&j| at(j));
                    }
                    l
                })
                .collect();
            rows.push((e, labels));
        }
    }
    (rows, reference_records, unaligned)
}

/// The outcomes of candidate `k` over `rows`.
pub fn outcomes(rows: &[(EvalFlow, Vec<Option<Label>>)], k: usize) -> Vec<Outcome> {
    rows.iter()
        .map(|(e, l)| Outcome {
            reference: e.reference.clone(),
            candidate: l[k].as_ref().map(|l| l.master.clone()),
        })
        .collect()
}

/// The application figures of candidate `k` over `rows`.
pub fn app_figures(
    rows: &[(EvalFlow, Vec<Option<Label>>)],
    k: usize,
    top: usize,
) -> metrics::AppMetrics {
    metrics::AppMetrics::compute(
        rows.iter().map(|(e, l)| {
            (
                e.reference_app.as_deref(),
                l[k].as_ref().and_then(|l| l.app.as_deref()),
            )
        }),
        top,
    )
}

/// Evaluates the candidate against the reference over `corpus`.
pub fn evaluate(
    corpus: &Corpus,
    registry: &NameRegistry,
    run: &RunOptions,
    opts: &EvalOptions,
) -> anyhow::Result<Evaluation> {
    if opts.only_dpi_confidence && opts.reference != Tool::Ndpi {
        anyhow::bail!(
            "--only-dpi-confidence needs the ndpi reference (only nDPI gives a confidence)"
        );
    }
    if opts.trains() && opts.candidate != Source::Dpi {
        anyhow::bail!("--folds and --train-corpus need --candidate dpi");
    }
    if opts.folds > 1 && !opts.train_corpus.is_empty() {
        anyhow::bail!("give --folds or --train-corpus, not both");
    }
    let tools = tools_for(opts, corpus);
    let loaded = load::load(corpus, &tools, registry, run)?;
    if opts.candidate == Source::Dpi {
        return train::evaluate_dpi(&loaded, registry, run, opts);
    }
    let t = opts.candidate.tool().expect("a tool candidate");
    let index = tools.iter().position(|x| *x == t).expect("aligned");
    let candidate = ToolCandidate { index };
    let asked = [Asked {
        candidate: &candidate,
        tool_index: Some(index),
    }];
    let (rows, reference_records, unaligned) =
        label_flows(&loaded, &|_| true, &asked, opts.only_dpi_confidence);
    Ok(finish(rows, 0, reference_records, unaligned, opts.top))
}

/// The evaluation of candidate `k` over `rows`.
pub fn finish(
    rows: Rows,
    k: usize,
    reference_records: u64,
    unaligned: u64,
    top: usize,
) -> Evaluation {
    let metrics = Metrics::compute(&outcomes(&rows, k), top);
    let apps = app_figures(&rows, k, top);
    let flows = rows
        .into_iter()
        .map(|(mut e, mut l)| {
            let l = l.swap_remove(k);
            e.candidate_app = l.as_ref().and_then(|l| l.app.clone());
            e.confidence = l.as_ref().and_then(|l| l.confidence.clone());
            e.signature = l.as_ref().and_then(|l| l.signature.clone());
            e.candidate = l.map(|l| l.master);
            e
        })
        .collect();
    Evaluation {
        reference_records,
        unaligned,
        flows,
        metrics,
        apps,
        comparison: Comparison::default(),
    }
}
