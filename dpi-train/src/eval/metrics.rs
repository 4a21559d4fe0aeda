//! Agreement between a reference and a candidate, at master-protocol level.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// One reference flow: the protocol the reference names and the one the
/// candidate names, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The reference's master protocol (never `Unknown`).
    pub reference: String,
    /// The candidate's master protocol; `None` when it names none.
    pub candidate: Option<String>,
}

impl Outcome {
    /// An outcome from string slices.
    pub fn new(reference: &str, candidate: Option<&str>) -> Outcome {
        Outcome {
            reference: reference.to_owned(),
            candidate: candidate.map(str::to_owned),
        }
    }
}

/// Figures of one protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolStats {
    /// nDPI master protocol name.
    pub protocol: String,
    /// Reference flows of this protocol.
    pub support: u64,
    /// Flows the candidate names this protocol.
    pub predicted: u64,
    /// Flows both name this protocol.
    pub correct: u64,
    /// `correct / predicted`; null when never predicted.
    pub precision: Option<f64>,
    /// `correct / support`; null when the reference never names it.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall, `2 correct / (support + predicted)`.
    pub f1: Option<f64>,
}

/// A confusion matrix over the most frequent reference protocols.
///
/// Rows are the reference's protocols (the `top` most frequent, then
/// `other`); columns are the same protocols, then `other` (a protocol
/// outside the top) and `unknown` (the candidate names nothing). Rows and
/// columns with no flow are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub columns: Vec<String>,
    /// `cells[row][column]`: flow counts.
    pub cells: Vec<Vec<u64>>,
}

/// Name of the row and column that gather the protocols outside the top.
pub const OTHER: &str = "other";
/// Name of the column of flows the candidate does not name.
pub const UNKNOWN: &str = "unknown";

/// The figures of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Reference flows considered.
    pub flows: u64,
    /// Flows the candidate names (gives a label other than Unknown).
    pub named: u64,
    /// Flows the candidate names as the reference does.
    pub correct: u64,
    /// `named / flows`.
    pub coverage: f64,
    /// `correct / flows`.
    pub accuracy: f64,
    /// `correct / named`.
    pub precision: f64,
    /// One row per protocol named by either side, by support (descending),
    /// then predictions (descending), then name.
    pub per_protocol: Vec<ProtocolStats>,
    /// The confusion matrix.
    pub confusion: Confusion,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Metrics {
    /// Computes the figures of `outcomes`, with a confusion matrix over the
    /// `top` most frequent reference protocols.
    pub fn compute(outcomes: &[Outcome], top: usize) -> Metrics {
        #[derive(Default)]
        struct Count {
            support: u64,
            predicted: u64,
            correct: u64,
        }
        let mut per: BTreeMap<&str, Count> = BTreeMap::new();
        let (mut named, mut correct) = (0u64, 0u64);
        for o in outcomes {
            per.entry(&o.reference).or_default().support += 1;
            if let Some(c) = &o.candidate {
                named += 1;
                per.entry(c).or_default().predicted += 1;
                if *c == o.reference {
                    correct += 1;
                    per.entry(c).or_default().correct += 1;
                }
            }
        }
        let mut per_protocol: Vec<ProtocolStats> = per
            .into_iter()
            .map(|(p, c)| ProtocolStats {
                protocol: p.to_owned(),
                support: c.support,
                predicted: c.predicted,
                correct: c.correct,
                precision: (c.predicted > 0).then(|| ratio(c.correct, c.predicted)),
                recall: (c.support > 0).then(|| ratio(c.correct, c.support)),
                f1: (c.support + c.predicted > 0)
                    .then(|| ratio(2 * c.correct, c.support + c.predicted)),
            })
            .collect();
        per_protocol.sort_by(|a, b| {
            b.support
                .cmp(&a.support)
                .then(b.predicted.cmp(&a.predicted))
                .then(a.protocol.cmp(&b.protocol))
        });
        let flows = outcomes.len() as u64;
        let confusion = Confusion::compute(outcomes, &per_protocol, top);
        Metrics {
            flows,
            named,
            correct,
            coverage: ratio(named, flows),
            accuracy: ratio(correct, flows),
            precision: ratio(correct, named),
            per_protocol,
            confusion,
        }
    }
}

impl Confusion {
    fn compute(outcomes: &[Outcome], per_protocol: &[ProtocolStats], top: usize) -> Confusion {
        let tops: Vec<&str> = per_protocol
            .iter()
            .filter(|p| p.support > 0)
            .take(top)
            .map(|p| p.protocol.as_str())
            .collect();
        let top_set: BTreeSet<&str> = tops.iter().copied().collect();
        let mut labels: Vec<String> = tops.iter().map(|s| s.to_string()).collect();
        labels.push(OTHER.into());
        let mut columns = labels.clone();
        columns.push(UNKNOWN.into());
        let row_of = |p: &str| tops.iter().position(|t| *t == p).unwrap_or(tops.len());
        let mut cells = vec![vec![0u64; columns.len()]; labels.len()];
        for o in outcomes {
            let r = row_of(&o.reference);
            let c = match &o.candidate {
                None => columns.len() - 1,
                Some(c) if top_set.contains(c.as_str()) => row_of(c),
                Some(_) => tops.len(),
            };
            cells[r][c] += 1;
        }
        let keep_rows: Vec<usize> = (0..labels.len())
            .filter(|&r| r < tops.len() || cells[r].iter().any(|&n| n > 0))
            .collect();
        let keep_cols: Vec<usize> = (0..columns.len())
            .filter(|&c| c < tops.len() || cells.iter().any(|row| row[c] > 0))
            .collect();
        Confusion {
            rows: keep_rows.iter().map(|&r| labels[r].clone()).collect(),
            columns: keep_cols.iter().map(|&c| columns[c].clone()).collect(),
            cells: keep_rows
                .iter()
                .map(|&r| keep_cols.iter().map(|&c| cells[r][c]).collect())
                .collect(),
        }
    }
}

/// Application-level figures: how often the candidate names the
/// application the reference names (nDPI's part after the dot:
/// `TLS.YouTube` → `YouTube`), compared without regard to ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AppMetrics {
    /// Reference flows that name an application.
    pub app_flows: u64,
    /// Of those, the flows where the candidate names the same one.
    pub app_recalled: u64,
    /// Flows (of all evaluated) where the candidate names an application.
    pub app_named: u64,
    /// Of those, the flows where it is the reference's.
    pub app_correct: u64,
    /// `app_recalled / app_flows`.
    pub app_recall: f64,
    /// `app_correct / app_named`.
    pub app_precision: f64,
    /// The most frequent disagreements (reference application or `-`,
    /// candidate application or `-`, flows), most first.
    pub app_confusions: Vec<(String, String, u64)>,
}

impl AppMetrics {
    /// Computes the figures over `(reference app, candidate app)` pairs,
    /// keeping the `top` most frequent disagreements (at least 10).
    ///
    /// ```
    /// use dpi_train::eval::metrics::AppMetrics;
    /// let m = AppMetrics::compute(
    ///     [(Some("YouTube"), Some("youtube")), (Some("Google"), None), (None, Some("Google"))],
    ///     10,
    /// );
    /// assert_eq!((m.app_flows, m.app_recalled, m.app_named, m.app_correct), (2, 1, 2, 1));
    /// assert_eq!(m.app_confusions.len(), 2);
    /// ```
    pub fn compute<'a>(
        pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
        top: usize,
    ) -> AppMetrics {
        let mut m = AppMetrics::default();
        let mut wrong: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for (r, c) in pairs {
            let same = matches!((r, c), (Some(r), Some(c)) if r.eq_ignore_ascii_case(c));
            if r.is_some() {
                m.app_flows += 1;
                m.app_recalled += u64::from(same);
            }
            if c.is_some() {
                m.app_named += 1;
                m.app_correct += u64::from(same);
            }
            if !same && (r.is_some() || c.is_some()) {
                let key = (r.unwrap_or("-").to_owned(), c.unwrap_or("-").to_owned());
                *wrong.entry(key).or_default() += 1;
            }
        }
        m.app_recall = ratio(m.app_recalled, m.app_flows);
        m.app_precision = ratio(m.app_correct, m.app_named);
        let mut v: Vec<(String, String, u64)> =
            wrong.into_iter().map(|((a, b), n)| (a, b, n)).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        v.truncate(top.max(10));
        m.app_confusions = v;
        m
    }

    /// The means of `app_recall` and `app_precision` over `items` that
    /// hold flows (counts added).
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a AppMetrics>) -> AppMetrics {
        let mut out = AppMetrics::default();
        let (mut nr, mut np) = (0u32, 0u32);
        for m in items {
            out.app_flows += m.app_flows;
            out.app_recalled += m.app_recalled;
            out.app_named += m.app_named;
            out.app_correct += m.app_correct;
            if m.app_flows > 0 {
                nr += 1;
                out.app_recall += m.app_recall;
            }
            if m.app_named > 0 {
                np += 1;
                out.app_precision += m.app_precision;
            }
        }
        if nr > 0 {
            out.app_recall /= f64::from(nr);
        }
        if np > 0 {
            out.app_precision /= f64::from(np);
        }
        out
    }
}
