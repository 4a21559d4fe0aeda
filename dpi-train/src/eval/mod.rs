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

pub mod candidate;
pub mod metrics;
pub mod report;
pub mod svg;

use serde::Serialize;

use crate::align::{align_corpus, named, AlignedFlow};
use crate::labels::{Corpus, NameRegistry, Tool};
use crate::runner::RunOptions;

pub use candidate::{dpi_candidate, Candidate, Source, ToolCandidate};
pub use metrics::{Confusion, Metrics, Outcome, ProtocolStats};

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
    pub signatures: Vec<std::path::PathBuf>,
    /// Protocols in the confusion matrix (by support).
    pub top: usize,
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
}

/// The result of an evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Reference records that count (named, and of DPI confidence when
    /// asked), aligned or not. For argus, status records, not flows.
    pub reference_records: u64,
    /// Of those, the records that found no flow of ours.
    pub unaligned: u64,
    /// The flows evaluated, in capture order.
    pub flows: Vec<EvalFlow>,
    /// The figures.
    pub metrics: Metrics,
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

/// Builds the candidate: a reference tool's labels (at `index` among the
/// aligned labels) or our classifier.
fn build_candidate(opts: &EvalOptions, tools: &[Tool]) -> anyhow::Result<Box<dyn Candidate>> {
    match opts.candidate.tool() {
        Some(t) => Ok(Box::new(ToolCandidate {
            index: tools
                .iter()
                .position(|x| *x == t)
                .expect("the candidate tool is aligned"),
        })),
        None => dpi_candidate(&opts.signatures),
    }
}

/// The tools to align for `opts`: the reference, then the candidate tool.
pub fn tools_for(opts: &EvalOptions) -> Vec<Tool> {
    let mut tools = vec![opts.reference];
    if let Some(t) = opts.candidate.tool() {
        if t != opts.reference {
            tools.push(t);
        }
    }
    tools
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
    let tools = tools_for(opts);
    let candidate = build_candidate(opts, &tools)?;
    let cand_index = opts
        .candidate
        .tool()
        .and_then(|t| tools.iter().position(|x| *x == t));
    let mut flows = Vec::new();
    let (mut reference_records, mut unaligned) = (0u64, 0u64);
    align_corpus(corpus, &tools, registry, run, |capture| {
        for (r, m) in &capture.records[0] {
            if considered(
                r.master.as_deref(),
                r.confidence.as_deref(),
                opts.only_dpi_confidence,
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
            let Some(mut e) = eval_flow(f, candidate.as_ref(), opts.only_dpi_confidence) else {
                continue;
            };
            // A candidate tool's record that spans this flow names it too.
            let at = |j: usize| -> Option<String> {
                let from_cover = cand_index.and_then(|c| {
                    let (r, _) = &capture.records[c][capture.covers[c][j]?];
                    named(r.master.as_deref()).map(str::to_owned)
                });
                from_cover.or_else(|| candidate.label(&capture.flows[j]))
            };
            e.candidate = at(i);
            if let (None, Some(r)) = (&e.candidate, cover[i]) {
                e.candidate = spans[&r].iter().filter(|&&j| j != i).find_map(|&j| at(j));
            }
            flows.push(e);
        }
        Ok(())
    })?;
    let outcomes: Vec<Outcome> = flows
        .iter()
        .map(|f| Outcome {
            reference: f.reference.clone(),
            candidate: f.candidate.clone(),
        })
        .collect();
    let metrics = Metrics::compute(&outcomes, opts.top);
    Ok(Evaluation {
        reference_records,
        unaligned,
        flows,
        metrics,
    })
}

/// The evaluated flow of `f`, when the reference (label 0) counts.
fn eval_flow(f: &AlignedFlow, candidate: &dyn Candidate, only_dpi: bool) -> Option<EvalFlow> {
    let r = f.labels.first()?.as_ref()?;
    let master = considered(r.master.as_deref(), r.confidence.as_deref(), only_dpi)?;
    Some(EvalFlow {
        capture: f.capture.clone(),
        reference_line: r.line,
        reference_label: r.protocol.clone(),
        reference: master.to_owned(),
        candidate: candidate
            .label(f)
            .and_then(|c| named(Some(&c)).map(str::to_owned)),
    })
}
