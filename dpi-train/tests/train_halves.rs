//! Growing a signature set in two steps gives what training on all the
//! data at once gives.
//!
//! Reads the corpus from `DPI_CORPUS` (its `ndpi/` folder). Unset: the
//! test is skipped with a note. Set but missing: the test fails.
//!
//! The captures are split by a hash of their file name
//! ([`part_of`] salted with [`EVAL_SALT`]): part 0 of 4 (about 25%) is
//! held out for evaluation, the rest trains. The training captures are
//! split again ([`HALF_SALT`]) into halves A and B. Then:
//!
//! - growth: `dpi train` on A, its outputs (std.sig and extended rules)
//!   written and read back as `--base` of `dpi train` on B;
//! - merged partials: the statistics of A and B merged, which must equal
//!   the statistics of A∪B taken at once;
//! - at once: `dpi train` on A∪B.
//!
//! Each learnt set is evaluated as `dpi eval --folds` does: the
//! hand-written `default.rules` followed by the learnt signatures it does
//! not already hold, on the held-out captures, against nDPI's flows with
//! DPI confidence. Accuracy and precision of the growth and of the
//! training at once must be within one percentage point.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dpi_core::signature::SignatureSet;
use dpi_core::FlowConfig;
use dpi_train::commands::train::{load_sets, write_outputs};
use dpi_train::eval::load::{load, Loaded};
use dpi_train::eval::train::{partial_of, TRAIN_BYTES};
use dpi_train::eval::{hand_written, label_flows, outcomes, Asked, DpiCandidate, Figures, Metrics};
use dpi_train::labels::{Corpus, NameRegistry, Tool};
use dpi_train::runner::RunOptions;
use dpi_train::train::hash::part_of;
use dpi_train::train::merge::identity;
use dpi_train::train::{self, MineOptions, Partial, Trained};

/// The salt of the evaluation split.
const EVAL_SALT: &str = "train-halves-eval";
/// The salt of the split of the training captures into halves.
const HALF_SALT: &str = "train-halves-half";
/// Most difference allowed between the two ways, in percentage points.
const TOLERANCE_PP: f64 = 1.0;

fn corpus_dir() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the train-halves test is skipped");
        return None;
    };
    let dir = PathBuf::from(root).join("ndpi");
    assert!(
        dir.join("pcap").is_dir(),
        "DPI_CORPUS is set but {} has no pcap/",
        dir.display()
    );
    Some(dir)
}

/// The flows as `dpi eval` reads them (512 bytes per direction, the
/// trainer cutting them to its 64).
fn run_options() -> RunOptions {
    RunOptions {
        flow: FlowConfig {
            payload_bytes: 512,
            ..FlowConfig::default()
        },
        threads: 0,
        progress: false,
    }
}

fn is_eval(name: &str) -> bool {
    part_of(name, EVAL_SALT, 4) == 0
}

fn in_half(name: &str, half: u64) -> bool {
    !is_eval(name) && part_of(name, HALF_SALT, 2) == half
}

fn options() -> MineOptions {
    MineOptions {
        source: "trained:ndpi".to_owned(),
        ..MineOptions::default()
    }
}

fn train_on(partial: &Partial, base: &SignatureSet) -> Trained {
    train::train(partial, base, &options(), &indicatif::ProgressBar::hidden())
}

/// Writes `set` as `dpi train` does (std.sig and extended rules) and
/// reads it back as `dpi train --base` does.
fn round_trip(set: &SignatureSet, dir: &Path, name: &str) -> SignatureSet {
    let sig = dir.join(format!("{name}.sig"));
    let rules = dir.join(format!("{name}.rules"));
    write_outputs(set, &sig, &rules, &["train_halves".to_owned()]).unwrap();
    let back = load_sets(&[sig, rules]).unwrap();
    assert_eq!(
        ids(&back),
        ids(set),
        "{name}: the written set does not read back as the same rules"
    );
    back
}

fn ids(set: &SignatureSet) -> BTreeSet<String> {
    set.signatures.iter().map(identity).collect()
}

/// The hand-written set followed by the learnt signatures it lacks (as
/// `dpi eval --folds` evaluates a trained set).
fn on_top(hand: &SignatureSet, learnt: &SignatureSet) -> SignatureSet {
    let known = ids(hand);
    let mut set = hand.clone();
    set.signatures.extend(
        learnt
            .signatures
            .iter()
            .filter(|s| !known.contains(&identity(s)))
            .cloned(),
    );
    set
}

/// Figures of each set on the held-out captures, nDPI flows with DPI
/// confidence.
fn evaluate(loaded: &Loaded, sets: &[&SignatureSet]) -> Vec<Figures> {
    let cands: Vec<DpiCandidate> = sets.iter().map(|s| DpiCandidate::new(s).unwrap()).collect();
    let asked: Vec<Asked<'_>> = cands
        .iter()
        .map(|c| Asked {
            candidate: c,
            tool_index: None,
        })
        .collect();
    let (rows, _, _) = label_flows(loaded, &is_eval, &asked, true);
    (0..sets.len())
        .map(|k| Figures::of(&Metrics::compute(&outcomes(&rows, k), 0)))
        .collect()
}

fn show(what: &str, f: &Figures, signatures: usize) -> String {
    format!(
        "{what:<34} {signatures:>5} signatures  accuracy {:6.2}%  precision {:6.2}%  coverage {:6.2}%  ({} of {} flows correct, {} named)",
        100.0 * f.accuracy,
        100.0 * f.precision,
        100.0 * f.coverage,
        f.correct,
        f.flows,
        f.named
    )
}

#[test]
fn growth_in_halves_matches_training_at_once() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let start = Instant::now();
    let corpus = Corpus::open(&dir).unwrap();
    let registry = NameRegistry::builtin();
    let loaded = load(&corpus, &[Tool::Ndpi], &registry, &run_options()).unwrap();
    let names: Vec<&str> = loaded
        .captures
        .iter()
        .filter(|c| c.alignment.has_capture)
        .map(|c| c.alignment.capture.as_str())
        .collect();
    let count = |f: &dyn Fn(&str) -> bool| names.iter().filter(|n| f(n)).count();
    let (n_eval, n_a, n_b) = (
        count(&is_eval),
        count(&|n| in_half(n, 0)),
        count(&|n| in_half(n, 1)),
    );
    eprintln!(
        "captures: {} read; {n_eval} held out for evaluation, {n_a} in half A, {n_b} in half B ({:.1} s to read)",
        names.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(n_eval > 0 && n_a > 0 && n_b > 0, "an empty part");
    assert_eq!(n_eval + n_a + n_b, names.len());
    let eval_share = n_eval as f64 / names.len() as f64;
    assert!(
        (0.15..0.35).contains(&eval_share),
        "held-out share {eval_share:.3}, expected about 0.25"
    );

    let pa = partial_of(
        &loaded,
        "corpus",
        &|n| in_half(n, 0),
        &[Tool::Ndpi],
        TRAIN_BYTES,
    );
    let pb = partial_of(
        &loaded,
        "corpus",
        &|n| in_half(n, 1),
        &[Tool::Ndpi],
        TRAIN_BYTES,
    );
    let pab = partial_of(
        &loaded,
        "corpus",
        &|n| !is_eval(n),
        &[Tool::Ndpi],
        TRAIN_BYTES,
    );
    assert!(
        pa.clone().merge(pb.clone()).unwrap() == pab,
        "the merged statistics of A and B differ from those of A and B read at once"
    );
    let flows = |p: &Partial| p.groups.iter().map(|g| g.total_flows()).sum::<u64>();
    eprintln!(
        "examples: A {}, B {}, A and B {}",
        flows(&pa),
        flows(&pb),
        flows(&pab)
    );

    let tmp = std::env::temp_dir().join(format!("dpi-train-halves-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let t_a = train_on(&pa, &SignatureSet::new());
    let base_a = round_trip(&t_a.set, &tmp, "a");
    let t_grown = train_on(&pb, &base_a);
    let grown = round_trip(&t_grown.set, &tmp, "a_then_b");
    let t_once = train_on(&pab, &SignatureSet::new());
    let once = round_trip(&t_once.set, &tmp, "a_and_b");
    std::fs::remove_dir_all(&tmp).unwrap();
    eprintln!(
        "learnt: A {}; B on top of A {} ({} already in A, {} of A kept, {} dropped); A and B at once {}; in common {}",
        t_a.set.len(),
        grown.len(),
        t_grown.refound,
        t_grown.base_kept,
        t_grown.dropped.len(),
        once.len(),
        ids(&grown).intersection(&ids(&once)).count()
    );

    let hand = hand_written(&[]).unwrap();
    let sets = [
        on_top(&hand, &grown),
        on_top(&hand, &once),
        on_top(&hand, &t_a.set),
        hand.clone(),
    ];
    let figures = evaluate(&loaded, &sets.iter().collect::<Vec<_>>());
    let labels = [
        "A, then B with --base A",
        "A and B at once",
        "A alone",
        "hand-written alone",
    ];
    for ((what, f), set) in labels.iter().zip(&figures).zip(&sets) {
        eprintln!("{}", show(what, f, set.len()));
    }
    eprintln!("total {:.1} s", start.elapsed().as_secs_f64());

    let (g, o) = (&figures[0], &figures[1]);
    assert!(g.flows > 0, "no held-out flow with DPI confidence");
    let d_acc = 100.0 * (g.accuracy - o.accuracy).abs();
    let d_prec = 100.0 * (g.precision - o.precision).abs();
    eprintln!("difference: accuracy {d_acc:.3} pp, precision {d_prec:.3} pp");
    assert!(
        d_acc <= TOLERANCE_PP,
        "accuracy differs by {d_acc:.3} pp (grown {:.4}, at once {:.4})",
        g.accuracy,
        o.accuracy
    );
    assert!(
        d_prec <= TOLERANCE_PP,
        "precision differs by {d_prec:.3} pp (grown {:.4}, at once {:.4})",
        g.precision,
        o.precision
    );
}
