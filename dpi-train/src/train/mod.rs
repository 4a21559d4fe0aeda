//! The trainer: mining signatures from reference labels, validating them
//! on held-out captures, and merging them into a cumulative set.
//!
//! - [`example`]: our flows with the reference's verdict ([`Class`]).
//! - [`partial`]: per-shard statistics ([`Partial`]) that merge
//!   associatively: the map step of training; [`partial_parquet`]
//!   writes and reads them as Parquet tables, for a SQL reduce.
//! - [`mine`]: candidates per protocol and direction, mined on some
//!   folds and measured on the one held out: the reduce step. The
//!   candidates come from [`masked`] (positional masked patterns),
//!   [`literal`] (discriminative literals), [`shape`] (token-shape
//!   regexes), pairs of both directions, and [`feature`] (flow
//!   features).
//! - [`evidence`]: when a rule is kept (held-out precision and a
//!   statistical bound, with support counted in captures).
//! - [`tiers`]: transport rules and the port tier, learnt from the flows
//!   no byte or feature rule names; [`assigned`]: the registry of
//!   assigned ports and IP protocol numbers they take as evidence.
//! - [`apps`]: `hostname suffix → application` rules from nDPI's
//!   application labels and our flows' host names.
//! - [`score`]: matching a candidate against examples and counting.
//! - [`merge`]: cumulative sets (`--base`, `dpi merge`) and the std.sig
//!   provenance comment.
//!
//! The pipeline of `dpi train` is [`collect_partial`] (or reading
//! partials), then [`train`], then [`merge::split_outputs`] and
//! [`report_text`].

pub mod apps;
pub mod assigned;
pub mod evidence;
pub mod example;
pub mod feature;
pub mod hash;
pub mod literal;
pub mod masked;
pub mod merge;
pub mod mine;
pub mod partial;
pub mod partial_parquet;
pub mod report;
pub mod score;
pub mod shape;
pub mod sources;
pub mod tiers;

use std::path::PathBuf;

use dpi_core::signature::SignatureSet;

pub use example::{Class, Example};
pub use mine::{MineOptions, Mined, ProtocolSummary};
pub use partial::{HostCount, Partial, Settings};

use crate::align::align_corpus_where;
use crate::labels::{Corpus, NameRegistry, Tool};
use crate::runner::RunOptions;

/// Reads every capture of `corpora` (those `include` accepts, by file
/// name), aligns them with `tools` and counts them into one partial.
///
/// Captures are recorded as `<corpus folder name>/<file name>` (so two
/// corpora may hold files of the same name, as the nDPI and Zeek corpora
/// do); a capture recorded twice — two corpus folders of the same name
/// holding the same file name, or one corpus given twice — is an error.
pub fn collect_partial(
    corpora: &[PathBuf],
    tools: &[Tool],
    registry: &NameRegistry,
    run: &RunOptions,
    settings: Settings,
    include: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Partial> {
    let mut partial = Partial::new(settings);
    for dir in corpora {
        let corpus = Corpus::open(dir)?;
        let label = corpus_label(dir);
        align_corpus_where(&corpus, tools, registry, run, include, |capture| {
            if !capture.has_capture {
                return Ok(());
            }
            let key = format!("{label}/{}", capture.capture);
            if partial.has_capture(&key) {
                return Err(anyhow::anyhow!(
                    "{}: capture {key} is counted already (a corpus given twice, or two corpus folders named {label})",
                    dir.display()
                ));
            }
            partial.add_capture(&key);
            let ndpi = tools.first() == Some(&Tool::Ndpi);
            let bytes = partial.settings.bytes;
            for f in &capture.flows {
                // The host name from all the bytes kept (a whole handshake);
                // the byte statistics from the first `bytes` per direction.
                let label = f.labels.first().and_then(Option::as_ref);
                partial.add_flow(&key, &f.flow);
                apps::count_host(&mut partial, &key, &f.flow, label, ndpi);
                let mut rec = f.flow.clone();
                rec.c2s_payload.truncate(2 * bytes);
                rec.s2c_payload.truncate(2 * bytes);
                let example = Example::from_record(&f.capture, &rec);
                if let (Some(e), Some(c)) = (example, Class::of(&f.labels, tools)) {
                    partial.add_in(&key, e, c);
                }
            }
            partial.finish_capture(&key);
            Ok(())
        })?;
    }
    Ok(partial)
}

/// The name a corpus folder's captures are recorded under: its last path
/// component (of the absolute path for `.` and the like).
pub fn corpus_label(dir: &std::path::Path) -> String {
    let named = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(dir)
        .or_else(|| std::fs::canonicalize(dir).ok().as_deref().and_then(named))
        .unwrap_or_else(|| "corpus".to_owned())
}

/// A base signature dropped by new evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedBase {
    /// The rule, in one line.
    pub rule: String,
    /// Why.
    pub reason: String,
}

/// The result of [`train`].
#[derive(Debug, Clone)]
pub struct Trained {
    /// The merged set: the base (less what was dropped) and what was learnt.
    pub set: SignatureSet,
    /// What mining did.
    pub mined: Mined,
    /// Base signatures dropped, with the reason.
    pub dropped: Vec<DroppedBase>,
    /// Learnt signatures that were already in the base (their support added).
    pub refound: usize,
    /// Base signatures kept.
    pub base_kept: usize,
    /// Training flows on which a base rule and a learnt one both name a
    /// protocol, and not the same one.
    pub disagreements: Vec<report::Disagreement>,
    /// What the application learner did (its rules are in `set.apps`).
    pub apps: apps::AppLearning,
}

/// Matches on training flows from which an imprecise base rule is dropped.
pub const BASE_MIN_MATCHES: f64 = 5.0;

/// Mines `partial`, re-measures `base` on it and merges.
///
/// A base signature with a byte pattern (masked bytes, literal or regex)
/// or a feature predicate is dropped when it matches at least
/// [`BASE_MIN_MATCHES`] training flows (weighted, all folds) with a
/// precision below the gate's `min_precision`; port-only rules are kept as
/// they are.
pub fn train(
    partial: &Partial,
    base: &SignatureSet,
    opts: &MineOptions,
    progress: &indicatif::ProgressBar,
) -> Trained {
    train_above(partial, base, &SignatureSet::default(), opts, progress)
}

/// [`train`] below a set of rules that rank above everything learnt (the
/// hand-written set): `above` takes flows out of the tiers and is compared
/// with what is learnt (the disagreements), but it is never dropped nor
/// written to the result.
pub fn train_above(
    partial: &Partial,
    base: &SignatureSet,
    above: &SignatureSet,
    opts: &MineOptions,
    progress: &indicatif::ProgressBar,
) -> Trained {
    let mut decided = above.signatures.clone();
    decided.extend(base.signatures.iter().cloned());
    let mined = mine::mine(partial, &decided, opts, progress);
    let pool = score::Pool::new(partial, opts.unlabelled_weight);
    let mut kept = SignatureSet {
        signatures: Vec::new(),
        apps: base.apps.clone(),
        trailing_comments: base.trailing_comments.clone(),
    };
    let mut dropped = Vec::new();
    for sig in &base.signatures {
        let measurable = !sig.patterns.is_empty() || !sig.features.is_empty();
        if measurable {
            let m = score::measure_folds(sig, &pool);
            let c = m.total();
            if let Some(p) = c.precision() {
                if c.tp + c.fp >= BASE_MIN_MATCHES && p < opts.gate.min_precision {
                    dropped.push(DroppedBase {
                        rule: merge::describe(sig),
                        reason: format!(
                            "precision {p:.4} < {} on this training set (tp {:.0}, fp {:.0})",
                            opts.gate.min_precision, c.tp, c.fp
                        ),
                    });
                    continue;
                }
            }
        }
        kept.signatures.push(sig.clone());
    }
    let ids: std::collections::BTreeSet<String> =
        kept.signatures.iter().map(merge::identity).collect();
    let refound = mined
        .signatures
        .iter()
        .filter(|s| ids.contains(&merge::identity(s)))
        .count();
    let app_learning = if opts.apps {
        let mut app_above = above.clone();
        app_above.apps.extend(base.apps.iter().cloned());
        apps::learn(partial, &app_above, opts)
    } else {
        apps::AppLearning::default()
    };
    let learnt = SignatureSet {
        signatures: mined.signatures.clone(),
        apps: app_learning.rules.clone(),
        trailing_comments: Vec::new(),
    };
    let base_kept = kept.len();
    let mut reference_set = above.clone();
    reference_set
        .signatures
        .extend(kept.signatures.iter().cloned());
    let disagreements =
        report::disagreements(partial, &reference_set, &learnt, opts.unlabelled_weight);
    let set = merge::merge_sets([&kept, &learnt]);
    Trained {
        set,
        mined,
        dropped,
        refound,
        base_kept,
        disagreements,
        apps: app_learning,
    }
}

pub use report::report_text;
