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

/// A confusion matrix over the protocols where the errors are.
///
/// At most `top` protocols are chosen: first the two sides of the most
/// frequent confusions (reference says one protocol, the candidate
/// another), until half of the places are taken, then the protocols of
/// most reference flows. Rows are the chosen protocols the reference
/// names, then `other` (the reference names a protocol not chosen);
/// columns are the chosen protocols, then `other, right` (the candidate
/// names the reference's protocol, not chosen), `other, wrong` (the
/// candidate names another protocol, not chosen) and `unknown` (it names
/// nothing). Chosen protocols are in the order of
/// [`Metrics::per_protocol`]; `other` rows and columns with no flow are
/// left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub columns: Vec<String>,
    /// `cells[row][column]`: flow counts.
    pub cells: Vec<Vec<u64>>,
}

/// Name of the row that gathers the reference protocols not chosen.
pub const OTHER: &str = "other";
/// Name of the column of flows whose protocol, not chosen, the candidate
/// names as the reference does.
pub const OTHER_RIGHT: &str = "other, right";
/// Name of the column of flows the candidate names as a protocol not
/// chosen, other than the reference's.
pub const OTHER_WRONG: &str = "other, wrong";
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
    /// The most frequent confusions, at most `top`: (reference protocol,
    /// candidate protocol, flows), by flows (descending), then names.
    /// Flows the candidate names nothing on are not confusions.
    pub confusions: Vec<(String, String, u64)>,
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
        let mut confusions = confusion_pairs(outcomes);
        let confusion = Confusion::compute(outcomes, &per_protocol, &confusions, top);
        confusions.truncate(top);
        Metrics {
            flows,
            named,
            correct,
            coverage: ratio(named, flows),
            accuracy: ratio(correct, flows),
            precision: ratio(correct, named),
            per_protocol,
            confusion,
            confusions,
        }
    }
}

/// Every (reference, candidate) pair where the candidate names another
/// protocol than the reference, with its flows: by flows (descending),
/// then names.
fn confusion_pairs(outcomes: &[Outcome]) -> Vec<(String, String, u64)> {
    let mut pairs: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for o in outcomes {
        if let Some(c) = &o.candidate {
            if *c != o.reference {
                *pairs.entry((&o.reference, c)).or_default() += 1;
            }
        }
    }
    let mut v: Vec<(String, String, u64)> = pairs
        .into_iter()
        .map(|((r, c), n)| (r.to_owned(), c.to_owned(), n))
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    v
}

impl Confusion {
    /// The protocols of the matrix: see [`Confusion`].
    fn chosen<'a>(
        per_protocol: &'a [ProtocolStats],
        pairs: &'a [(String, String, u64)],
        top: usize,
    ) -> Vec<&'a str> {
        let mut chosen: BTreeSet<&str> = BTreeSet::new();
        let half = top.div_ceil(2);
        for (r, c, _) in pairs {
            if chosen.len() >= half {
                break;
            }
            chosen.insert(r);
            if chosen.len() < top {
                chosen.insert(c);
            }
        }
        for p in per_protocol.iter().filter(|p| p.support > 0) {
            if chosen.len() >= top {
                break;
            }
            chosen.insert(&p.protocol);
        }
        per_protocol
            .iter()
            .map(|p| p.protocol.as_str())
            .filter(|p| chosen.contains(p))
            .collect()
    }

    fn compute(
        outcomes: &[Outcome],
        per_protocol: &[ProtocolStats],
        pairs: &[(String, String, u64)],
        top: usize,
    ) -> Confusion {
        let chosen = Confusion::chosen(per_protocol, pairs, top);
        let support = |p: &str| {
            per_protocol
                .iter()
                .find(|s| s.protocol == p)
                .is_some_and(|s| s.support > 0)
        };
        let col_of = |p: &str| chosen.iter().position(|t| *t == p);
        let rows_chosen: Vec<&str> = chosen.iter().copied().filter(|p| support(p)).collect();
        let row_of = |p: &str| {
            rows_chosen
                .iter()
                .position(|t| *t == p)
                .unwrap_or(rows_chosen.len())
        };
        let mut rows: Vec<String> = rows_chosen.iter().map(|s| s.to_string()).collect();
        rows.push(OTHER.into());
        let mut columns: Vec<String> = chosen.iter().map(|s| s.to_string()).collect();
        let (right, wrong, unknown) = (columns.len(), columns.len() + 1, columns.len() + 2);
        columns.extend([OTHER_RIGHT.into(), OTHER_WRONG.into(), UNKNOWN.into()]);
        let mut cells = vec![vec![0u64; columns.len()]; rows.len()];
        for o in outcomes {
            let r = row_of(&o.reference);
            let c = match &o.candidate {
                None => unknown,
                Some(c) => match col_of(c) {
                    Some(k) => k,
                    None if *c == o.reference => right,
                    None => wrong,
                },
            };
            cells[r][c] += 1;
        }
        let keep_rows: Vec<usize> = (0..rows.len())
            .filter(|&r| r < rows_chosen.len() || cells[r].iter().any(|&n| n > 0))
            .collect();
        let keep_cols: Vec<usize> = (0..columns.len())
            .filter(|&c| c < chosen.len() || cells.iter().any(|row| row[c] > 0))
            .collect();
        Confusion {
            rows: keep_rows.iter().map(|&r| rows[r].clone()).collect(),
            columns: keep_cols.iter().map(|&c| columns[c].clone()).collect(),
            cells: keep_rows
                .iter()
                .map(|&r| keep_cols.iter().map(|&c| cells[r][c]).collect())
                .collect(),
        }
    }

    /// Whether the cell at (`row`, `column`) holds agreements: the same
    /// protocol, or `other` against `other, right`.
    pub fn agrees(&self, row: usize, column: usize) -> bool {
        match (self.rows.get(row), self.columns.get(column)) {
            (Some(r), Some(c)) => r == c || (r == OTHER && c == OTHER_RIGHT),
            _ => false,
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
