//! Lining up reference labels with our flows.
//!
//! A reference record and one of our flows are the same conversation when
//! they have the same canonical 5-tuple: the IP protocol and the two
//! (address, port) endpoints, in either order (tools disagree on who
//! initiated). A VLAN id takes part only when both sides report one. When
//! the same 5-tuple occurs several times in a capture (a port reused, a
//! flow split by a timeout), the pair is chosen by time overlap when the
//! record has timestamps (nDPI's CSV and JSON, libprotoident, argus), by
//! the closeness of packet counters when it has only those (nDPI's `.out`),
//! and by order otherwise.
//!
//! nDPI and libprotoident report each conversation once, so their records
//! are matched one to one ([`Multiplicity::OneToOne`]); argus cuts a long
//! conversation into several status records, which all belong to the one
//! flow ([`Multiplicity::ManyToOne`]). [`match_records`] does the matching
//! for one capture, [`labels_per_flow`] picks the record that labels each
//! flow, [`reference`](mod@reference) reads a capture's records from a corpus, and
//! [`dataset`] runs a whole corpus and writes the aligned rows (the schema
//! is in [`dataset::AlignedFlow`]).

pub mod dataset;
mod parquet_out;
pub mod reference;

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::labels::{LabelRecord, Tool};
use crate::record::{transport_number, FlowRecord};

pub use dataset::{align_corpus, align_corpus_where, AlignedFlow, CaptureAlignment, ToolCounts};
pub use parquet_out::ParquetWriter;

/// Slack allowed between two timestamps of the same packet as different
/// tools print them (nDPI and libprotoident round to milliseconds).
pub const TIME_SLACK: f64 = 0.002;

/// The canonical, direction-free 5-tuple of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub transport: u8,
    /// The smaller (address, port) endpoint.
    pub lo: (IpAddr, u16),
    /// The other endpoint.
    pub hi: (IpAddr, u16),
}

impl FlowKey {
    /// The key of a conversation between `a` and `b`, in either direction.
    /// Ports count for TCP and UDP only: the reference tools write 0 for
    /// the ports of other transports (nDPI does so for SCTP too).
    pub fn new(transport: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> FlowKey {
        let (a, b) = match transport {
            6 | 17 => (a, b),
            _ => ((a.0, 0), (b.0, 0)),
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey { transport, lo, hi }
    }

    /// The key of a reference record.
    pub fn of_record(r: &LabelRecord) -> FlowKey {
        FlowKey::new(r.transport, (r.src_ip, r.src_port), (r.dst_ip, r.dst_port))
    }

    /// The key of one of our flows; `None` when its fields do not parse.
    pub fn of_flow(f: &FlowRecord) -> Option<FlowKey> {
        let t = transport_number(&f.transport)?;
        let a = f.src_ip.parse().ok()?;
        let b = f.dst_ip.parse().ok()?;
        Some(FlowKey::new(t, (a, f.src_port), (b, f.dst_port)))
    }
}

/// How records of a tool relate to flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiplicity {
    /// One record per conversation: each flow takes at most one record.
    OneToOne,
    /// Several records per conversation: a flow takes any number.
    ManyToOne,
}

impl Multiplicity {
    /// How `tool` reports conversations.
    pub fn of(tool: Tool) -> Multiplicity {
        match tool {
            Tool::Ndpi | Tool::Lpi => Multiplicity::OneToOne,
            Tool::Argus => Multiplicity::ManyToOne,
        }
    }
}

/// What decided a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMethod {
    /// The 5-tuple occurs once among our flows (and, one to one, once
    /// among the records).
    Unique,
    /// Chosen among several by time overlap.
    Time,
    /// Chosen among several by packet counters.
    Counters,
    /// Chosen among several by order of appearance.
    Order,
}

impl MatchMethod {
    /// The lower-case name used in the aligned dataset.
    pub fn name(self) -> &'static str {
        match self {
            MatchMethod::Unique => "unique",
            MatchMethod::Time => "time",
            MatchMethod::Counters => "counters",
            MatchMethod::Order => "order",
        }
    }
}

/// A reference record matched to one of our flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the flow.
    pub flow: usize,
    /// What decided it.
    pub method: MatchMethod,
}

/// Whether the VLAN ids of a flow (0 = untagged) and a record allow a match.
fn vlan_compatible(flow: u16, record: Option<u16>) -> bool {
    match record {
        Some(v) if flow != 0 => v == flow,
        _ => true,
    }
}

/// Distance in seconds between two time intervals; 0 when they overlap
/// (within [`TIME_SLACK`]).
fn interval_gap(a: (f64, f64), b: (f64, f64)) -> f64 {
    let gap = a.0.max(b.0) - a.1.min(b.1);
    if gap <= TIME_SLACK {
        0.0
    } else {
        gap
    }
}

/// The cost of pairing `r` with `f` (lower is better) and what it rests on.
/// `order` is the distance between their ranks in their groups.
fn cost(f: &FlowRecord, r: &LabelRecord, order: usize) -> (MatchMethod, [f64; 3]) {
    let counters = match (r.src_packets, r.dst_packets) {
        (Some(a), Some(b)) => Some(
            (f.c2s_packets.saturating_add(f.s2c_packets) as f64 - a.saturating_add(b) as f64).abs(),
        ),
        _ => None,
    };
    match (r.first_ts, r.last_ts) {
        (Some(first), last) => {
            let last = last.unwrap_or(first);
            let gap = interval_gap((f.first_ts, f.last_ts), (first, last));
            let start = (f.first_ts - first).abs();
            (MatchMethod::Time, [gap, start, counters.unwrap_or(0.0)])
        }
        (None, _) => match counters {
            Some(c) => (MatchMethod::Counters, [c, order as f64, 0.0]),
            None => (MatchMethod::Order, [order as f64, 0.0, 0.0]),
        },
    }
}

/// Matches the records of one capture to its flows.
///
/// Returns, for each record, the flow it belongs to, or `None` when no
/// flow has its 5-tuple (or, one to one, every such flow is taken by a
/// closer record). Deterministic: ties go to the earlier flow and the
/// earlier record.
pub fn match_records(
    flows: &[FlowRecord],
    records: &[LabelRecord],
    multiplicity: Multiplicity,
) -> Vec<Option<Match>> {
    let mut by_key: HashMap<FlowKey, Vec<usize>> = HashMap::new();
    for (i, f) in flows.iter().enumerate() {
        if let Some(k) = FlowKey::of_flow(f) {
            by_key.entry(k).or_default().push(i);
        }
    }
    for group in by_key.values_mut() {
        group.sort_by(|&a, &b| {
            flows[a]
                .first_ts
                .total_cmp(&flows[b].first_ts)
                .then(a.cmp(&b))
        });
    }
    let mut rec_groups: HashMap<FlowKey, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        rec_groups.entry(FlowKey::of_record(r)).or_default().push(i);
    }
    let mut out = vec![None; records.len()];
    for (key, recs) in &rec_groups {
        let Some(cands) = by_key.get(key) else {
            continue;
        };
        match multiplicity {
            Multiplicity::ManyToOne => {
                for (rank, &ri) in recs.iter().enumerate() {
                    let r = &records[ri];
                    let ok: Vec<(usize, usize)> = cands
                        .iter()
                        .enumerate()
                        .filter(|(_, &fi)| vlan_compatible(flows[fi].vlan, r.vlan))
                        .map(|(p, &fi)| (p, fi))
                        .collect();
                    let best = ok
                        .iter()
                        .map(|&(p, fi)| (cost(&flows[fi], r, p.abs_diff(rank)), p, fi))
                        .min_by(|a, b| cmp_cost(&a.0 .1, &b.0 .1).then(a.1.cmp(&b.1)));
                    if let Some(((method, _), _, fi)) = best {
                        let method = if ok.len() == 1 {
                            MatchMethod::Unique
                        } else {
                            method
                        };
                        out[ri] = Some(Match { flow: fi, method });
                    }
                }
            }
            Multiplicity::OneToOne => {
                let mut pairs = Vec::new();
                for (rank, &ri) in recs.iter().enumerate() {
                    let r = &records[ri];
                    for (p, &fi) in cands.iter().enumerate() {
                        if vlan_compatible(flows[fi].vlan, r.vlan) {
                            pairs.push((cost(&flows[fi], r, p.abs_diff(rank)), rank, p, ri, fi));
                        }
                    }
                }
                let unique = recs.len() == 1 && pairs.len() == 1;
                pairs.sort_by(|a, b| {
                    cmp_cost(&a.0 .1, &b.0 .1)
                        .then(a.1.cmp(&b.1))
                        .then(a.2.cmp(&b.2))
                });
                let mut flow_taken = vec![false; cands.len()];
                for ((method, _), _, p, ri, fi) in pairs {
                    if flow_taken[p] || out[ri].is_some() {
                        continue;
                    }
                    flow_taken[p] = true;
                    let method = if unique { MatchMethod::Unique } else { method };
                    out[ri] = Some(Match { flow: fi, method });
                }
            }
        }
    }
    out
}

/// Extends one-to-one matches to the flows a longer record spans.
///
/// A reference tool may keep as one flow what our flow meter cut in two
/// (an idle gap longer than our timeout). Returns, per flow, the record it
/// belongs to: its own match, or else the matched record with the same
/// 5-tuple whose time interval overlaps it (the closest start first).
pub fn cover_flows(
    flows: &[FlowRecord],
    records: &[LabelRecord],
    matches: &[Option<Match>],
) -> Vec<Option<usize>> {
    let mut out = vec![None; flows.len()];
    let mut by_key: HashMap<FlowKey, Vec<usize>> = HashMap::new();
    for (ri, m) in matches.iter().enumerate() {
        if let Some(m) = m {
            out[m.flow] = Some(ri);
            if records[ri].first_ts.is_some() {
                by_key
                    .entry(FlowKey::of_record(&records[ri]))
                    .or_default()
                    .push(ri);
            }
        }
    }
    for (fi, f) in flows.iter().enumerate() {
        if out[fi].is_some() {
            continue;
        }
        let Some(recs) = FlowKey::of_flow(f).and_then(|k| by_key.get(&k)) else {
            continue;
        };
        out[fi] = recs
            .iter()
            .copied()
            .filter(|&ri| vlan_compatible(f.vlan, records[ri].vlan))
            .filter_map(|ri| {
                let r = &records[ri];
                let first = r.first_ts?;
                let last = r.last_ts.unwrap_or(first);
                (interval_gap((f.first_ts, f.last_ts), (first, last)) == 0.0)
                    .then(|| ((f.first_ts - first).abs(), ri))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, ri)| ri);
    }
    out
}

fn cmp_cost(a: &[f64; 3], b: &[f64; 3]) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// One tool's label of one of our flows, as the aligned dataset holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefLabel {
    /// The tool's label as written (`HTTP.1kxun`, `HTTPS`, `http`).
    pub protocol: String,
    /// The nDPI master protocol it stands for, if any.
    pub master: Option<String>,
    /// nDPI's application part.
    pub app: Option<String>,
    /// nDPI's confidence.
    pub confidence: Option<String>,
    /// How many of the tool's records were matched to the flow (argus may
    /// have several).
    pub records: u32,
    /// Line of the chosen record in the label file.
    pub line: usize,
    /// What decided the match of the chosen record.
    pub matched_by: MatchMethod,
}

impl RefLabel {
    /// The master protocol when it names one: not empty, not `Unknown`.
    pub fn named_master(&self) -> Option<&str> {
        named(self.master.as_deref())
    }
}

/// `name` when it names a protocol: present, not empty and not `Unknown`.
pub fn named(name: Option<&str>) -> Option<&str> {
    name.filter(|m| !m.is_empty() && *m != "Unknown")
}

/// Picks, for each of `flow_count` flows, the label of the records matched
/// to it: a labelled record before an unlabelled one, then the earliest
/// (by first timestamp, then by line).
pub fn labels_per_flow(
    flow_count: usize,
    records: &[LabelRecord],
    matches: &[Option<Match>],
) -> Vec<Option<RefLabel>> {
    let mut chosen: Vec<Option<(usize, MatchMethod, u32)>> = vec![None; flow_count];
    for (ri, m) in matches.iter().enumerate() {
        let Some(m) = m else { continue };
        let slot = &mut chosen[m.flow];
        match slot {
            None => *slot = Some((ri, m.method, 1)),
            Some((best, method, n)) => {
                *n += 1;
                if better(&records[ri], &records[*best]) {
                    *best = ri;
                    *method = m.method;
                }
            }
        }
    }
    chosen
        .into_iter()
        .map(|c| {
            c.map(|(ri, method, n)| {
                let r = &records[ri];
                RefLabel {
                    protocol: r.protocol.clone(),
                    master: r.master.clone(),
                    app: r.app.clone(),
                    confidence: r.confidence.clone(),
                    records: n,
                    line: r.line,
                    matched_by: method,
                }
            })
        })
        .collect()
}

fn better(a: &LabelRecord, b: &LabelRecord) -> bool {
    if a.is_labelled() != b.is_labelled() {
        return a.is_labelled();
    }
    let ta = a.first_ts.unwrap_or(f64::INFINITY);
    let tb = b.first_ts.unwrap_or(f64::INFINITY);
    match ta.total_cmp(&tb) {
        std::cmp::Ordering::Equal => a.line < b.line,
        o => o.is_lt(),
    }
}

#[cfg(test)]
mod tests;
