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
//! # CSV
//!
//! `per_protocol.csv`: `protocol,support,predicted,correct,precision,recall,f1`
//! (empty cells for undefined ratios). `flows.csv`:
//! `capture,reference_line,reference_label,reference,candidate`, one row per
//! evaluated flow (`candidate` empty when it names nothing).

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{json, Value};

use super::metrics::Metrics;
use super::{EvalFlow, EvalOptions, Evaluation};
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
    v
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
        "coverage {} ({}/{})  accuracy {} ({}/{})  precision {} ({}/{})",
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
    s.push('\n');
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
            ],
        )?;
    }
    Ok(())
}
