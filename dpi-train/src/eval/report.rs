//! Evaluation reports: a text table, JSON, and CSV files.
//!
//! # JSON
//!
//! One object: `corpus`, `reference`, `candidate`, `only_dpi_confidence`,
//! `reference_records` (reference records that count, aligned or not),
//! `unaligned` (of those, the ones with no flow of ours), then the
//! [`Metrics`] fields: `flows`, `named`, `correct`, `coverage`,
//! `accuracy`, `precision` (numbers; ratios in 0..1), `per_protocol` (an
//! array of objects with `protocol`, `support`, `predicted`, `correct`,
//! `precision`, `recall`, `f1`; ratios are null when undefined) and
//! `confusion` (`rows`, `columns`, `cells`).
//!
//! With `--candidate dpi`, for each of `lpi` and `argus` whose labels the
//! corpus has, an object with the same `flows`, `named`, `correct`,
//! `coverage`, `accuracy`, `precision` over the same flows. With
//! training, `baseline` (the hand-written set alone, same fields) and
//! `train_bytes`; with `--train-corpus`, `training` (`corpus`,
//! `captures`, `examples`, `base`, `base_flagged` (hand-written rules
//! the trainer finds imprecise; kept), `learnt`,
//! `signatures`).
//!
//! With `--folds K`: `coverage`, `accuracy` and `precision`
//! (top level, and in `baseline`, `lpi`, `argus`) are the MEANS over the
//! folds that hold flows, while `flows`, `named` and `correct` are
//! totals over all folds (every flow is held out once); `pooled` (also
//! inside `baseline`, `lpi`, `argus`) has the figures over all held-out
//! flows at once, which `per_protocol` and `confusion` also describe.
//! `folds` is an array of K objects with, per fold: `fold`, `captures`
//! (held out) and `capture_names` (theirs, sorted), `training` (as above), the six figures, `baseline` and
//! `lpi`/`argus`.
//!
//! # CSV
//!
//! `per_protocol.csv`: `protocol,support,predicted,correct,precision,recall,f1`
//! (empty cells for undefined ratios). `flows.csv`:
//! `capture,reference_line,reference_label,reference,candidate,reference_app,candidate_app,transport,src_ip,src_port,dst_ip,dst_port,confidence,signature`,
//! one row per evaluated flow (`candidate` empty when it names nothing,
//! the applications empty when not named): the 5-tuple of our flow, then
//! the candidate's confidence (for `dpi`: `signature`, `feature`, `port`
//! or `unknown`; for a tool, its own confidence text when it has one) and
//! the deciding signature (for `dpi`: its id, else `file:line`, as `dpi
//! classify` writes `reason`; empty for a tool).

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{json, Value};

use super::metrics::Metrics;
use super::train::Figures;
use super::{EvalFlow, EvalOptions, Evaluation, Source};
use crate::record::write_csv_line;

/// The report as a JSON value.
pub fn to_json(corpus: &str, opts: &EvalOptions, e: &Evaluation) -> Value {
    let mut v = json!({
        "corpus": corpus,
        "reference": opts.reference.name(),
        "candidate": opts.candidate.name(),
        "only_dpi_confidence": opts.only_dpi_confidence,
        "reference_records": e.reference_records,
        "unaligned": e.unaligned,
    });
    if let (Value::Object(m), Value::Object(rest)) = (
        &mut v,
        serde_json::to_value(&e.metrics).expect("metrics serialise"),
    ) {
        m.extend(rest);
    }
    add_apps(&mut v, e);
    add_comparison(&mut v, opts, e);
    v
}

/// `app_recall`, `app_precision` (means over folds with `--folds`, the
/// pooled figures then under `app_pooled`), their counts and the top
/// application confusions.
fn add_apps(v: &mut Value, e: &Evaluation) {
    let Value::Object(m) = v else { return };
    let pooled = &e.apps;
    let top = e.comparison.apps_mean.as_ref().unwrap_or(pooled);
    m.insert("app_recall".into(), top.app_recall.into());
    m.insert("app_precision".into(), top.app_precision.into());
    for (k, x) in [
        ("app_flows", pooled.app_flows),
        ("app_recalled", pooled.app_recalled),
        ("app_named", pooled.app_named),
        ("app_correct", pooled.app_correct),
    ] {
        m.insert(k.into(), x.into());
    }
    if e.comparison.apps_mean.is_some() {
        m.insert(
            "app_pooled".into(),
            serde_json::json!({
                "app_recall": pooled.app_recall,
                "app_precision": pooled.app_precision,
            }),
        );
    }
    m.insert(
        "app_confusions".into(),
        pooled
            .app_confusions
            .iter()
            .map(|(r, c, n)| serde_json::json!({"reference": r, "candidate": c, "flows": n}))
            .collect(),
    );
}

fn figures(f: &Figures) -> Value {
    serde_json::to_value(f).expect("figures serialise")
}

fn with_pooled(f: &Figures, pooled: Option<&Figures>) -> Value {
    let mut v = figures(f);
    if let (Value::Object(m), Some(p)) = (&mut v, pooled) {
        m.insert("pooled".into(), figures(p));
    }
    v
}

fn add_comparison(v: &mut Value, opts: &EvalOptions, e: &Evaluation) {
    let Value::Object(m) = v else { return };
    let c = &e.comparison;
    let pooled_other = |s: Source| c.others_pooled.iter().find(|(x, _)| *x == s).map(|x| &x.1);
    for (s, f) in &c.others {
        m.insert(s.name().into(), with_pooled(f, pooled_other(*s)));
    }
    if let Some(b) = &c.baseline {
        let pooled = (!c.folds.is_empty())
            .then_some(c.baseline_pooled.as_ref())
            .flatten();
        m.insert("baseline".into(), with_pooled(b, pooled));
    }
    if opts.trains() && opts.candidate == Source::Dpi {
        m.insert("train_bytes".into(), opts.train_bytes.into());
    }
    if let Some(t) = &c.training {
        m.insert(
            "training".into(),
            serde_json::to_value(t).expect("a summary serialises"),
        );
    }
    if let Some(mean) = &c.mean {
        m.insert("pooled".into(), figures(&Figures::of(&e.metrics)));
        m.insert("coverage".into(), mean.coverage.into());
        m.insert("accuracy".into(), mean.accuracy.into());
        m.insert("precision".into(), mean.precision.into());
        let folds: Vec<Value> = c
            .folds
            .iter()
            .map(|f| {
                let mut v = figures(&f.figures);
                if let Value::Object(o) = &mut v {
                    o.insert("fold".into(), f.fold.into());
                    o.insert("captures".into(), f.captures.into());
                    o.insert("capture_names".into(), f.capture_names.clone().into());
                    o.insert(
                        "training".into(),
                        serde_json::to_value(&f.training).expect("a summary serialises"),
                    );
                    o.insert("baseline".into(), figures(&f.baseline));
                    o.insert("app_recall".into(), f.apps.app_recall.into());
                    o.insert("app_precision".into(), f.apps.app_precision.into());
                    for (s, x) in &f.others {
                        o.insert(s.name().into(), figures(x));
                    }
                }
                v
            })
            .collect();
        m.insert("folds".into(), Value::Array(folds));
    }
}

fn figures_line(name: &str, f: &Figures) -> String {
    format!(
        "{name:<10} flows {:>6}  coverage {:>7}  accuracy {:>7}  precision {:>7}\n",
        f.flows,
        pct(f.coverage),
        pct(f.accuracy),
        pct(f.precision)
    )
}

fn comparison_text(e: &Evaluation) -> String {
    let c = &e.comparison;
    let mut s = String::new();
    if let Some(t) = &c.training {
        let _ = writeln!(
            s,
            "trained on {} ({} captures, {} examples): {} hand-written ({} flagged imprecise, kept) + {} learnt = {} signatures",
            t.corpus.as_deref().unwrap_or("-"),
            t.captures,
            t.examples,
            t.base,
            t.base_flagged,
            t.learnt,
            t.signatures
        );
    }
    if !c.folds.is_empty() {
        let _ = writeln!(
            s,
            "{:>4} {:>8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "fold",
            "captures",
            "learnt",
            "flows",
            "coverage",
            "accuracy",
            "precision",
            "base acc",
            "base prec"
        );
        for f in &c.folds {
            let _ = writeln!(
                s,
                "{:>4} {:>8} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
                f.fold,
                f.captures,
                f.training.learnt,
                f.figures.flows,
                pct(f.figures.coverage),
                pct(f.figures.accuracy),
                pct(f.figures.precision),
                pct(f.baseline.accuracy),
                pct(f.baseline.precision)
            );
        }
        if let Some(mean) = &c.mean {
            s.push_str("mean over folds (the JSON's top-level figures):\n");
            s.push_str(&figures_line("trained", mean));
        }
    }
    if let Some(b) = &c.baseline {
        s.push_str(&figures_line("baseline", b));
    }
    for (src, f) in &c.others {
        s.push_str(&figures_line(src.name(), f));
    }
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn opt_pct(x: Option<f64>) -> String {
    x.map(pct).unwrap_or_else(|| "-".into())
}

/// The report as a readable text table.
pub fn to_text(corpus: &str, opts: &EvalOptions, e: &Evaluation) -> String {
    let m = &e.metrics;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} vs reference {} on {}{}",
        opts.candidate,
        opts.reference,
        corpus,
        if opts.only_dpi_confidence {
            " (reference confidence DPI only)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "reference records {}  unaligned {}  flows {}",
        e.reference_records, e.unaligned, m.flows
    );
    let _ = writeln!(
        s,
        "{}coverage {} ({}/{})  accuracy {} ({}/{})  precision {} ({}/{})",
        if e.comparison.mean.is_some() {
            "pooled over the held-out folds: "
        } else {
            ""
        },
        pct(m.coverage),
        m.named,
        m.flows,
        pct(m.accuracy),
        m.correct,
        m.flows,
        pct(m.precision),
        m.correct,
        m.named
    );
    let a = &e.apps;
    let mean = e.comparison.apps_mean.as_ref();
    let _ = writeln!(
        s,
        "applications{}: recall {} ({}/{})  precision {} ({}/{}){}",
        if mean.is_some() { " (pooled)" } else { "" },
        pct(a.app_recall),
        a.app_recalled,
        a.app_flows,
        pct(a.app_precision),
        a.app_correct,
        a.app_named,
        mean.map_or(String::new(), |m| format!(
            "; mean over folds: recall {}  precision {}",
            pct(m.app_recall),
            pct(m.app_precision)
        ))
    );
    if !m.confusions.is_empty() {
        let list: Vec<String> = m
            .confusions
            .iter()
            .map(|(r, c, n)| format!("{r} -> {c} ({n})"))
            .collect();
        let _ = writeln!(
            s,
            "top confusions (reference -> candidate): {}",
            list.join(", ")
        );
    }
    if !a.app_confusions.is_empty() {
        let list: Vec<String> = a
            .app_confusions
            .iter()
            .map(|(r, c, n)| format!("{r} -> {c} ({n})"))
            .collect();
        let _ = writeln!(s, "top application confusions: {}", list.join(", "));
    }
    s.push('\n');
    s.push_str(&comparison_text(e));
    let width = m
        .per_protocol
        .iter()
        .map(|p| p.protocol.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        s,
        "{:width$}  {:>7}  {:>9}  {:>7}  {:>9}  {:>8}  {:>8}",
        "protocol", "support", "predicted", "correct", "precision", "recall", "F1"
    );
    for p in &m.per_protocol {
        let _ = writeln!(
            s,
            "{:width$}  {:>7}  {:>9}  {:>7}  {:>9}  {:>8}  {:>8}",
            p.protocol,
            p.support,
            p.predicted,
            p.correct,
            opt_pct(p.precision),
            opt_pct(p.recall),
            opt_pct(p.f1)
        );
    }
    s.push('\n');
    s.push_str(&confusion_text(m));
    s
}

/// The confusion matrix as text: reference rows, candidate columns, names
/// cut to 8 characters.
fn confusion_text(m: &Metrics) -> String {
    let c = &m.confusion;
    let short = |n: &str| n.chars().take(8).collect::<String>();
    let rw = c.rows.iter().map(|r| r.len()).max().unwrap_or(5).max(9);
    let mut s = String::new();
    let _ = write!(s, "{:rw$}", "ref \\ cand");
    for col in &c.columns {
        let _ = write!(s, " {:>8}", short(col));
    }
    s.push('\n');
    for (r, row) in c.rows.iter().zip(&c.cells) {
        let _ = write!(s, "{r:rw$}");
        for n in row {
            let _ = write!(s, " {n:>8}");
        }
        s.push('\n');
    }
    s
}

fn opt_num(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// Writes `per_protocol.csv`.
pub fn write_per_protocol<W: Write>(out: &mut W, m: &Metrics) -> io::Result<()> {
    let header = [
        "protocol",
        "support",
        "predicted",
        "correct",
        "precision",
        "recall",
        "f1",
    ];
    write_csv_line(out, &header.map(String::from))?;
    for p in &m.per_protocol {
        write_csv_line(
            out,
            &[
                p.protocol.clone(),
                p.support.to_string(),
                p.predicted.to_string(),
                p.correct.to_string(),
                opt_num(p.precision),
                opt_num(p.recall),
                opt_num(p.f1),
            ],
        )?;
    }
    Ok(())
}

/// Writes `flows.csv`.
pub fn write_flows<W: Write>(out: &mut W, flows: &[EvalFlow]) -> io::Result<()> {
    let header = [
        "capture",
        "reference_line",
        "reference_label",
        "reference",
        "candidate",
        "reference_app",
        "candidate_app",
        "transport",
        "src_ip",
        "src_port",
        "dst_ip",
        "dst_port",
        "confidence",
        "signature",
    ];
    write_csv_line(out, &header.map(String::from))?;
    for f in flows {
        write_csv_line(
            out,
            &[
                f.capture.clone(),
                f.reference_line.to_string(),
                f.reference_label.clone(),
                f.reference.clone(),
                f.candidate.clone().unwrap_or_default(),
                f.reference_app.clone().unwrap_or_default(),
                f.candidate_app.clone().unwrap_or_default(),
                f.transport.clone(),
                f.src_ip.clone(),
                f.src_port.to_string(),
                f.dst_ip.clone(),
                f.dst_port.to_string(),
                f.confidence.clone().unwrap_or_default(),
                f.signature.clone().unwrap_or_default(),
            ],
        )?;
    }
    Ok(())
}
