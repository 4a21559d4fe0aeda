//! Evaluating our classifier, alone or grown by the trainer.
//!
//! - Plain: the signature set (`--sig` files, else the built-in set of
//!   `dpi classify`) over every flow.
//! - Folds (`--folds K`): each capture falls in one of K folds with its
//!   source (near-duplicate captures are one source,
//!   [`crate::train::sources`], so they fall in one fold); the folds are
//!   stratified by protocol ([`super::folds`]): each protocol's sources
//!   are dealt over the folds, rarest protocols first, in the order of a
//!   hash of their names salted with [`FOLD_SALT`] (independent of the
//!   trainer's own inner folds). For each fold, the trainer (the
//!   mining of `dpi train`, default thresholds, its own inner folds)
//!   learns from the other K-1 folds on top of the hand-written set
//!   ([`hand_written`]): the evaluated set is the hand-written set
//!   followed by the learnt signatures it does not already hold, and is
//!   evaluated on the held-out fold. The headline figures
//!   are the means over the folds that hold flows.
//! - Another corpus (`--train-corpus A`): the same training on every
//!   capture of A, evaluated on the corpus given.
//!
//! With training, the hand-written set alone is evaluated on the same
//! flows (the baseline). libprotoident and argus are read from the
//! aligned labels of the same flows when the corpus has them.
//!
//! Training sees each flow's first [`EvalOptions::train_bytes`] bytes per
//! direction (512 by default, as `dpi train` and `dpi classify`); the
//! classifier's signatures see the first `--bytes` (512 by default, as
//! `dpi classify`), its application rules the protocol fields of all the
//! bytes the run kept (a whole TLS or QUIC hello with
//! `--handshake-bytes`, as `dpi classify`); the application learner the
//! host names of the same.

use serde::Serialize;

use super::candidate::{hand_written, Candidate, DpiCandidate, Source, ToolCandidate};
use super::load::{load, Loaded};
use super::metrics::Metrics;
use super::{finish, label_flows, outcomes, Asked, EvalOptions, Evaluation, Rows};
use crate::labels::{Corpus, NameRegistry, Tool};
use crate::runner::RunOptions;
use crate::train::hash::part_of;
use crate::train::merge::{app_identity, identity};
use crate::train::{self as trainer, Class, Example, MineOptions, Partial, Settings};
use dpi_core::signature::SignatureSet;

/// User-data bytes per direction the trainer sees by default (`dpi
/// train`'s default).
pub const TRAIN_BYTES: usize = 512;
/// The salt of the evaluation folds.
pub const FOLD_SALT: &str = "dpi-eval-fold";
/// Distinct contents kept per group (`dpi train`'s default `--sample`).
pub const SAMPLE: usize = 4096;
/// The trainer's inner folds (`dpi train`'s default `--folds`).
pub const INNER_FOLDS: u8 = 4;

/// The headline figures of one candidate on some flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Reference flows.
    pub flows: u64,
    /// Flows the candidate names.
    pub named: u64,
    /// Flows it names as the reference does.
    pub correct: u64,
    /// `named / flows`.
    pub coverage: f64,
    /// `correct / flows`.
    pub accuracy: f64,
    /// `correct / named`.
    pub precision: f64,
}

impl Figures {
    /// The figures of `m`.
    pub fn of(m: &Metrics) -> Figures {
        Figures {
            flows: m.flows,
            named: m.named,
            correct: m.correct,
            coverage: m.coverage,
            accuracy: m.accuracy,
            precision: m.precision,
        }
    }

    /// Counts added, ratios averaged over the items with flows.
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a Figures>) -> Figures {
        let mut out = Figures::default();
        let mut n = 0u32;
        for f in items {
            out.flows += f.flows;
            out.named += f.named;
            out.correct += f.correct;
            if f.flows > 0 {
                n += 1;
                out.coverage += f.coverage;
                out.accuracy += f.accuracy;
                out.precision += f.precision;
            }
        }
        if n > 0 {
            out.coverage /= f64::from(n);
            out.accuracy /= f64::from(n);
            out.precision /= f64::from(n);
        }
        out
    }
}

/// One fold of `--folds`.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldResult {
    /// The fold (0-based).
    pub fold: u8,
    /// Held-out captures (read from the capture files).
    pub captures: usize,
    /// Their names, sorted.
    pub capture_names: Vec<String>,
    /// What was trained on the other folds.
    pub training: TrainingSummary,
    /// The trained set (hand-written + learnt) on the held-out fold.
    pub figures: Figures,
    /// The hand-written set alone on the same flows.
    pub baseline: Figures,
    /// Other tools on the same flows.
    pub others: Vec<(Source, Figures)>,
    /// The trained set's application figures on the held-out fold.
    pub apps: super::metrics::AppMetrics,
}

/// What one training run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainingSummary {
    /// The training corpus (with `--train-corpus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corpus: Option<String>,
    /// Captures trained on.
    pub captures: usize,
    /// Training flows with user data (examples).
    pub examples: u64,
    /// Signatures in the hand-written set.
    pub base: usize,
    /// Hand-written signatures the trainer finds imprecise on the
    /// training flows (`dpi train --base` would drop them; here they are
    /// kept).
    pub base_flagged: usize,
    /// Signatures learnt (some may equal hand-written ones).
    pub learnt: usize,
    /// Application rules learnt from host names (not already hand-written).
    pub learnt_apps: usize,
    /// Signatures in the evaluated set.
    pub signatures: usize,
}

/// What an evaluation of our classifier adds to the figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// With folds: the means over the folds (the headline figures).
    pub mean: Option<Figures>,
    /// With training: the hand-written set alone (means with folds).
    pub baseline: Option<Figures>,
    /// With training: the hand-written set alone, over all flows at once.
    pub baseline_pooled: Option<Figures>,
    /// Other tools on the same flows (means with folds).
    pub others: Vec<(Source, Figures)>,
    /// Other tools over all flows at once (with folds).
    pub others_pooled: Vec<(Source, Figures)>,
    /// The folds, in order.
    pub folds: Vec<FoldResult>,
    /// With `--train-corpus`: the training.
    pub training: Option<TrainingSummary>,
    /// With folds: the means of the application figures over the folds.
    pub apps_mean: Option<super::metrics::AppMetrics>,
}

fn source_of(t: Tool) -> Source {
    match t {
        Tool::Ndpi => Source::Ndpi,
        Tool::Lpi => Source::Lpi,
        Tool::Argus => Source::Argus,
    }
}

/// The statistics `dpi train --bytes N` would collect from the captures
/// of `loaded` that `include` accepts, against the references `refs` (the
/// first decides, a second adds evidence: see [`Class::of`]; a reference
/// the corpus was not aligned with is left out). Captures are recorded as
/// `<label>/<file name>`, as `dpi train --corpus` records them.
pub fn partial_of(
    loaded: &Loaded,
    label: &str,
    include: &dyn Fn(&str) -> bool,
    refs: &[Tool],
    bytes: usize,
) -> Partial {
    let refs: Vec<(Tool, usize)> = refs
        .iter()
        .filter_map(|t| loaded.tools.iter().position(|x| x == t).map(|i| (*t, i)))
        .collect();
    let tools: Vec<Tool> = refs.iter().map(|(t, _)| *t).collect();
    let mut partial = Partial::new(Settings {
        references: tools.iter().map(|t| t.name().to_owned()).collect(),
        bytes,
        sample: SAMPLE,
        folds: INNER_FOLDS,
    });
    for lc in &loaded.captures {
        let a = &lc.alignment;
        if !a.has_capture || !include(&a.capture) {
            continue;
        }
        let key = format!("{label}/{}", a.capture);
        partial.add_capture(&key);
        let ndpi = refs.first().is_some_and(|(t, _)| *t == Tool::Ndpi);
        for f in &a.flows {
            partial.add_flow(&key, &f.flow);
            if let Some((_, i)) = refs.first() {
                let label = f.labels[*i].as_ref();
                crate::train::apps::count_host(&mut partial, &key, &f.flow, label, ndpi);
            }
            let mut rec = f.flow.clone();
            rec.c2s_payload.truncate(2 * bytes);
            rec.s2c_payload.truncate(2 * bytes);
            let labels: Vec<_> = refs.iter().map(|(_, i)| f.labels[*i].clone()).collect();
            if let (Some(e), Some(c)) = (
                Example::from_record(&f.capture, &rec),
                Class::of(&labels, &tools),
            ) {
                partial.add_in(&key, e, c);
            }
        }
        partial.finish_capture(&key);
    }
    partial
}

/// Grows `base` on `partial` with the trainer's default settings: the
/// result is `base` as it is, in its order, then the learnt signatures
/// that are not already in it, below every rule of `base` in priority
/// (see [`crate::default_sigs::learnt_tier`]). The trainer's verdict on the hand-written
/// rules (those it would drop from a `--base`) is counted, not applied.
fn grow(
    partial: &Partial,
    base: &SignatureSet,
    opts: &MineOptions,
) -> (SignatureSet, TrainingSummary) {
    let t = trainer::train(partial, base, opts, &indicatif::ProgressBar::hidden());
    let known: std::collections::BTreeSet<String> = base.signatures.iter().map(identity).collect();
    let known_apps: std::collections::BTreeSet<String> =
        base.apps.iter().map(app_identity).collect();
    let mut learnt = SignatureSet {
        signatures: t
            .mined
            .signatures
            .iter()
            .filter(|s| !known.contains(&identity(s)))
            .cloned()
            .collect(),
        apps: t
            .apps
            .rules
            .iter()
            .filter(|r| !known_apps.contains(&app_identity(r)))
            .cloned()
            .collect(),
        trailing_comments: Vec::new(),
    };
    let learnt_apps = learnt.apps.len();
    crate::default_sigs::learnt_tier(&mut learnt, base);
    let mut set = base.clone();
    set.extend(learnt);
    let summary = TrainingSummary {
        corpus: None,
        captures: partial.capture_count(),
        examples: partial.groups.iter().map(|g| g.total_flows()).sum(),
        base: base.len(),
        base_flagged: t.dropped.len(),
        learnt: t.mined.signatures.len(),
        learnt_apps,
        signatures: set.len(),
    };
    (set, summary)
}

/// `first`, then the tool candidates.
fn asked<'a>(first: &[&'a dyn Candidate], tools: &'a [(Source, ToolCandidate)]) -> Vec<Asked<'a>> {
    let mut v: Vec<Asked<'a>> = first
        .iter()
        .map(|c| Asked {
            candidate: *c,
            tool_index: None,
        })
        .collect();
    v.extend(tools.iter().map(|(_, t)| Asked {
        candidate: t,
        tool_index: Some(t.index),
    }));
    v
}

/// Evaluates the `dpi` candidate over `loaded` (see the module docs).
pub fn evaluate_dpi(
    loaded: &Loaded,
    registry: &NameRegistry,
    run: &RunOptions,
    opts: &EvalOptions,
) -> anyhow::Result<Evaluation> {
    let tool_cands: Vec<(Source, ToolCandidate)> = loaded
        .tools
        .iter()
        .enumerate()
        .skip(1)
        .map(|(index, t)| (source_of(*t), ToolCandidate { index }))
        .collect();
    let others_of = |rows: &Rows, skip: usize| -> Vec<(Source, Figures)> {
        tool_cands
            .iter()
            .enumerate()
            .map(|(k, (s, _))| {
                (
                    *s,
                    Figures::of(&Metrics::compute(&outcomes(rows, skip + k), 0)),
                )
            })
            .collect()
    };
    let only = opts.only_dpi_confidence;
    // The signatures see the first N bytes, as in `dpi classify`, even of
    // flows that kept a whole handshake for their protocol fields.
    let n = run.flow.payload_bytes;
    if opts.folds > 1 {
        let base = hand_written(&opts.signatures)?;
        let base_cand = DpiCandidate::new(&base)?.with_bytes(n);
        let k = u64::from(opts.folds);
        // Near-duplicate captures fall in one fold, so that no fold is
        // tested on a copy of a capture it was trained on.
        let sources = crate::train::sources::sources(&crate::train::sources::sketches_of(
            loaded
                .captures
                .iter()
                .filter(|c| c.alignment.has_capture)
                .flat_map(|c| {
                    let name = c.alignment.capture.as_str();
                    c.alignment.flows.iter().map(move |f| (name, &f.flow))
                }),
        ));
        // The protocols of each source, for folds stratified by protocol.
        let mut protocols: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for c in loaded.captures.iter().filter(|c| c.alignment.has_capture) {
            let name = c.alignment.capture.as_str();
            let set = protocols
                .entry(sources.get(name).map_or(name, String::as_str).to_owned())
                .or_default();
            for f in &c.alignment.flows {
                if let Some(r) = f.labels.first().and_then(Option::as_ref) {
                    if let Some(m) =
                        super::considered(r.master.as_deref(), r.confidence.as_deref(), only)
                    {
                        set.insert(m.to_owned());
                    }
                }
            }
        }
        let dealt = super::folds::stratified(&protocols, k, FOLD_SALT);
        let fold = |name: &str| {
            let source = sources.get(name).map_or(name, String::as_str);
            dealt
                .get(source)
                .copied()
                .unwrap_or_else(|| part_of(source, FOLD_SALT, k))
        };
        let corpus_label = "corpus";
        let mut all: Rows = Vec::new();
        let (mut records, mut unaligned) = (0u64, 0u64);
        let mut folds = Vec::new();
        for f in 0..k {
            let partial = partial_of(
                loaded,
                corpus_label,
                &|name| fold(name) != f,
                &opts.train_references(),
                opts.train_bytes,
            );
            let (set, training) = grow(&partial, &base, &opts.mine);
            let cand = DpiCandidate::new(&set)?.with_bytes(n);
            let asked = asked(&[&cand, &base_cand], &tool_cands);
            let (rows, rr, ua) = label_flows(loaded, &|name| fold(name) == f, &asked, only);
            records += rr;
            unaligned += ua;
            let mut capture_names: Vec<String> = loaded
                .captures
                .iter()
                .filter(|c| c.alignment.has_capture && fold(&c.alignment.capture) == f)
                .map(|c| c.alignment.capture.clone())
                .collect();
            capture_names.sort();
            folds.push(FoldResult {
                fold: f as u8,
                captures: capture_names.len(),
                capture_names,
                training,
                figures: Figures::of(&Metrics::compute(&outcomes(&rows, 0), 0)),
                apps: super::app_figures(&rows, 0, opts.top),
                baseline: Figures::of(&Metrics::compute(&outcomes(&rows, 1), 0)),
                others: others_of(&rows, 2),
            });
            all.extend(rows);
        }
        let mut comparison = Comparison {
            mean: Some(Figures::mean(folds.iter().map(|f| &f.figures))),
            baseline: Some(Figures::mean(folds.iter().map(|f| &f.baseline))),
            baseline_pooled: Some(Figures::of(&Metrics::compute(&outcomes(&all, 1), 0))),
            others: Vec::new(),
            others_pooled: others_of(&all, 2),
            folds: Vec::new(),
            training: None,
            apps_mean: None,
        };
        comparison.others = tool_cands
            .iter()
            .enumerate()
            .map(|(j, (s, _))| (*s, Figures::mean(folds.iter().map(|f| &f.others[j].1))))
            .collect();
        comparison.apps_mean = Some(super::metrics::AppMetrics::mean(
            folds.iter().map(|f| &f.apps),
        ));
        comparison.folds = folds;
        let mut e = finish(all, 0, records, unaligned, opts.top);
        e.comparison = comparison;
        return Ok(e);
    }
    if !opts.train_corpus.is_empty() {
        let base = hand_written(&opts.signatures)?;
        let base_cand = DpiCandidate::new(&base)?.with_bytes(n);
        let refs = opts.train_references();
        let mut partial: Option<Partial> = None;
        for dir in &opts.train_corpus {
            let train_corpus = Corpus::open(dir)?;
            let tools: Vec<Tool> = refs
                .iter()
                .copied()
                .filter(|t| *t == opts.reference || super::has_labels(&train_corpus, *t))
                .collect();
            let training = load(&train_corpus, &tools, registry, run)?;
            let label = crate::train::corpus_label(dir);
            let p = partial_of(&training, &label, &|_| true, &refs, opts.train_bytes);
            partial = Some(match partial {
                None => p,
                Some(acc) => acc.merge(p)?,
            });
        }
        let partial = partial.expect("at least one training corpus");
        let (set, mut summary) = grow(&partial, &base, &opts.mine);
        summary.corpus = Some(
            opts.train_corpus
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
        let cand = DpiCandidate::new(&set)?.with_bytes(n);
        let asked = asked(&[&cand, &base_cand], &tool_cands);
        let (rows, rr, ua) = label_flows(loaded, &|_| true, &asked, only);
        let baseline = Figures::of(&Metrics::compute(&outcomes(&rows, 1), 0));
        let others = others_of(&rows, 2);
        let mut e = finish(rows, 0, rr, ua, opts.top);
        e.comparison = Comparison {
            baseline: Some(baseline),
            baseline_pooled: Some(baseline),
            others,
            training: Some(summary),
            ..Comparison::default()
        };
        return Ok(e);
    }
    let set = crate::commands::classify::load_signatures(&opts.signatures)?;
    let cand = DpiCandidate::new(&set)?.with_bytes(n);
    let asked = asked(&[&cand], &tool_cands);
    let (rows, rr, ua) = label_flows(loaded, &|_| true, &asked, only);
    let others = others_of(&rows, 1);
    let mut e = finish(rows, 0, rr, ua, opts.top);
    e.comparison = Comparison {
        others,
        ..Comparison::default()
    };
    Ok(e)
}
