//! Running a corpus: our flows, each tool's records, and the aligned rows.
//!
//! # The aligned dataset
//!
//! One row per flow of ours, in capture order (captures sorted by name,
//! flows in the order the flow meter finished them). As JSON lines each
//! row is one object; as Parquet each key is a column (`?` marks a column
//! that may be null).
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `capture` | string | the capture's file name (`1kxun.pcap`) |
//! | `file` .. `s2c_payload` | | the [`FlowRecord`] fields, in its order: `file` (path), `transport`, `src_ip`, `src_port` (u16), `dst_ip`, `dst_port` (u16), `vlan` (u16, 0 untagged), `tunnel` (string?), `first_ts`, `last_ts` (f64 Unix seconds), `c2s_packets`, `s2c_packets`, `c2s_bytes`, `s2c_bytes` (u64), `c2s_sizes`, `s2c_sizes` (lists of u32), `duration` (f64 seconds), `c2s_payload_bytes`, `s2c_payload_bytes` (u64), `c2s_tcp_flags`, `s2c_tcp_flags` (u8, OR of the flags), `end_reason` (`idle`, `active`, `closed`, `evicted`, `flushed`; JSON lines only), `c2s_payload`, `s2c_payload` (lower-case hex of the first user-data bytes) |
//!
//! then, for each reference tool `<t>` asked for (`ndpi`, `lpi`, `argus`),
//! in that order, seven keys that are all null when the tool has no record
//! for the flow:
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `<t>_protocol` | string? | the tool's label as written (`HTTP.1kxun`, `HTTPS`, `http`; empty for an unlabelled argus record) |
//! | `<t>_master` | string? | the nDPI master protocol it stands for (`HTTP`); null when the name has no nDPI equivalent |
//! | `<t>_app` | string? | nDPI's application part (`1kxun`) |
//! | `<t>_confidence` | string? | nDPI's confidence (`DPI`, `Match by port`, ...) |
//! | `<t>_records` | u32? | how many records were matched to the flow (argus status records) |
//! | `<t>_line` | u64? | line of the chosen record in its label file |
//! | `<t>_match` | string? | `unique`, `time`, `counters` or `order` (see [`MatchMethod`](super::MatchMethod)) |

use std::path::PathBuf;

use dpi_core::{FileSummary, Flow};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{cover_flows, labels_per_flow, match_records, reference, Multiplicity, RefLabel};
use crate::labels::{Corpus, LabelRecord, NameRegistry, Tool};
use crate::record::{transport_name, FlowRecord};
use crate::runner::{run_files, FlowSink, RunOptions};

/// One of our flows with each reference tool's label.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedFlow {
    /// The capture's file name.
    pub capture: String,
    /// Our flow.
    pub flow: FlowRecord,
    /// One entry per tool asked for, in the order asked.
    pub labels: Vec<Option<RefLabel>>,
}

impl AlignedFlow {
    /// The row as a JSON object (the schema is in the module docs).
    pub fn to_json(&self, tools: &[Tool]) -> Value {
        let mut m = Map::new();
        m.insert("capture".into(), Value::String(self.capture.clone()));
        if let Value::Object(f) =
            serde_json::to_value(&self.flow).expect("a flow record serialises")
        {
            m.extend(f);
        }
        for (tool, label) in tools.iter().zip(&self.labels) {
            let t = tool.name();
            let l = label.as_ref();
            let s = |v: Option<String>| v.map(Value::String).unwrap_or(Value::Null);
            m.insert(format!("{t}_protocol"), s(l.map(|l| l.protocol.clone())));
            m.insert(format!("{t}_master"), s(l.and_then(|l| l.master.clone())));
            m.insert(format!("{t}_app"), s(l.and_then(|l| l.app.clone())));
            m.insert(
                format!("{t}_confidence"),
                s(l.and_then(|l| l.confidence.clone())),
            );
            m.insert(
                format!("{t}_records"),
                l.map(|l| l.records.into()).unwrap_or(Value::Null),
            );
            m.insert(
                format!("{t}_line"),
                l.map(|l| l.line.into()).unwrap_or(Value::Null),
            );
            m.insert(
                format!("{t}_match"),
                s(l.map(|l| l.matched_by.name().to_owned())),
            );
        }
        Value::Object(m)
    }
}

/// A reference record that found no flow of ours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmatched {
    /// The tool.
    pub tool: Tool,
    /// The capture's file name.
    pub capture: String,
    /// Line in the label file.
    pub line: usize,
    /// Transport name.
    pub transport: String,
    /// The tool's initiator, `address:port`.
    pub src: String,
    /// The tool's responder, `address:port`.
    pub dst: String,
    /// VLAN id, when the tool gave one.
    pub vlan: Option<u16>,
    /// The tool's label.
    pub protocol: String,
    /// nDPI's confidence.
    pub confidence: Option<String>,
}

impl Unmatched {
    fn new(r: &LabelRecord) -> Unmatched {
        let ep = |ip: std::net::IpAddr, port: u16| match ip {
            std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
            a => format!("{a}:{port}"),
        };
        Unmatched {
            tool: r.tool,
            capture: r.capture.clone(),
            line: r.line,
            transport: transport_name(r.transport).into_owned(),
            src: ep(r.src_ip, r.src_port),
            dst: ep(r.dst_ip, r.dst_port),
            vlan: r.vlan,
            protocol: r.protocol.clone(),
            confidence: r.confidence.clone(),
        }
    }
}

/// One tool's side of a capture's alignment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolCounts {
    /// Whether the tool left a label file for the capture.
    pub has_file: bool,
    /// Records read.
    pub records: usize,
    /// Records matched to a flow.
    pub matched: usize,
    /// Lines of the label file that could not be read.
    pub malformed: usize,
    /// Our flows with no record of this tool.
    pub flows_without: usize,
    /// The records that found no flow.
    pub unmatched: Vec<Unmatched>,
}

/// A capture's aligned flows and counts.
#[derive(Debug, Clone)]
pub struct CaptureAlignment {
    /// The capture's file name.
    pub capture: String,
    /// Whether the capture file is in the corpus (labels may come without it).
    pub has_capture: bool,
    /// Why reading the capture stopped early, if it did (the flows seen
    /// before are kept).
    pub read_error: Option<String>,
    /// Our flows with their labels.
    pub flows: Vec<AlignedFlow>,
    /// Per tool asked for, in order.
    pub tools: Vec<ToolCounts>,
    /// Every record of each tool asked for, in file order, with the index
    /// of the flow it was matched to.
    pub records: Vec<Vec<(LabelRecord, Option<usize>)>>,
    /// Per tool asked for, per flow: the index (in `records`) of the record
    /// the flow belongs to, counting the flows that a one-to-one record
    /// spans besides its own match (see [`cover_flows`]).
    pub covers: Vec<Vec<Option<usize>>>,
}

/// Aligns one capture's flows with each tool's records.
pub fn align_capture(
    capture: &str,
    flows: Vec<FlowRecord>,
    references: &[(Tool, Option<crate::labels::ParsedLabels>)],
) -> CaptureAlignment {
    let mut labels: Vec<Vec<Option<RefLabel>>> = Vec::new();
    let mut counts = Vec::new();
    let mut all_records = Vec::new();
    let mut covers = Vec::new();
    for (tool, parsed) in references {
        let mut c = ToolCounts::default();
        let Some(parsed) = parsed else {
            labels.push(vec![None; flows.len()]);
            c.flows_without = flows.len();
            counts.push(c);
            all_records.push(Vec::new());
            covers.push(vec![None; flows.len()]);
            continue;
        };
        let matches = match_records(&flows, &parsed.records, Multiplicity::of(*tool));
        let per_flow = labels_per_flow(flows.len(), &parsed.records, &matches);
        covers.push(match Multiplicity::of(*tool) {
            Multiplicity::OneToOne => cover_flows(&flows, &parsed.records, &matches),
            Multiplicity::ManyToOne => vec![None; flows.len()],
        });
        c.has_file = true;
        c.records = parsed.records.len();
        c.malformed = parsed.malformed_lines;
        c.matched = matches.iter().filter(|m| m.is_some()).count();
        c.flows_without = per_flow.iter().filter(|l| l.is_none()).count();
        c.unmatched = parsed
            .records
            .iter()
            .zip(&matches)
            .filter(|(_, m)| m.is_none())
            .map(|(r, _)| Unmatched::new(r))
            .collect();
        all_records.push(
            parsed
                .records
                .iter()
                .cloned()
                .zip(matches.iter().map(|m| m.map(|m| m.flow)))
                .collect(),
        );
        labels.push(per_flow);
        counts.push(c);
    }
    let flows = flows
        .into_iter()
        .enumerate()
        .map(|(i, flow)| AlignedFlow {
            capture: capture.to_owned(),
            flow,
            labels: labels.iter().map(|l| l[i].clone()).collect(),
        })
        .collect();
    CaptureAlignment {
        capture: capture.to_owned(),
        has_capture: true,
        read_error: None,
        flows,
        tools: counts,
        records: all_records,
        covers,
    }
}

/// Collects each capture's flows and aligns it when it is done.
struct Collector<'a, F> {
    corpus: &'a Corpus,
    registry: &'a NameRegistry,
    tools: &'a [Tool],
    names: &'a [String],
    paths: &'a [String],
    flows: Vec<FlowRecord>,
    each: F,
}

impl<F> Collector<'_, F>
where
    F: FnMut(CaptureAlignment) -> anyhow::Result<()>,
{
    fn finish(
        &mut self,
        capture: &str,
        flows: Vec<FlowRecord>,
        has_capture: bool,
        error: Option<String>,
    ) -> anyhow::Result<()> {
        let mut refs = Vec::new();
        for &tool in self.tools {
            let parsed = reference::load(self.corpus, capture, tool, self.registry)?;
            refs.push((tool, parsed));
        }
        let mut a = align_capture(capture, flows, &refs);
        a.has_capture = has_capture;
        a.read_error = error;
        (self.each)(a)
    }
}

impl<F> FlowSink for Collector<'_, F>
where
    F: FnMut(CaptureAlignment) -> anyhow::Result<()>,
{
    type Item = Flow;

    fn worker(&self, _file: usize) -> Box<dyn FnMut(Flow) -> Flow + Send> {
        Box::new(|f| f)
    }

    /// Records are written in the reading thread: spreading one capture
    /// that one thread reads would only add the hand-over (a file that
    /// every thread reads blocks of is spread all the same).
    fn worth_sharding(&self) -> bool {
        false
    }

    fn flow(&mut self, file: usize, flow: Flow) -> anyhow::Result<()> {
        self.flows.push(FlowRecord::new(&self.paths[file], &flow));
        Ok(())
    }

    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()> {
        let flows = std::mem::take(&mut self.flows);
        let name = self.names[file].clone();
        self.finish(&name, flows, true, summary.error.map(|e| e.to_string()))
    }
}

/// Runs every capture of `corpus` through the flow meter, aligns its flows
/// with the records of each of `tools`, and hands each capture's result to
/// `each`, in the order of the capture names. Captures that the corpus
/// labels but does not hold come last, with no flows.
pub fn align_corpus<F>(
    corpus: &Corpus,
    tools: &[Tool],
    registry: &NameRegistry,
    run: &RunOptions,
    each: F,
) -> anyhow::Result<()>
where
    F: FnMut(CaptureAlignment) -> anyhow::Result<()>,
{
    align_corpus_where(corpus, tools, registry, run, &|_| true, each)
}

/// [`align_corpus`] over the captures whose name `include` accepts only:
/// the others are not read at all (a shard of a corpus costs its own
/// captures, not the whole corpus).
pub fn align_corpus_where<F>(
    corpus: &Corpus,
    tools: &[Tool],
    registry: &NameRegistry,
    run: &RunOptions,
    include: &dyn Fn(&str) -> bool,
    each: F,
) -> anyhow::Result<()>
where
    F: FnMut(CaptureAlignment) -> anyhow::Result<()>,
{
    let captures = corpus.captures()?;
    let mut names = Vec::new();
    let mut paths = Vec::new();
    let mut absent = Vec::new();
    for c in captures.into_iter().filter(|c| include(c)) {
        match corpus.capture_path(&c) {
            Some(p) => {
                names.push(c);
                paths.push(path_string(p));
            }
            None => absent.push(c),
        }
    }
    let mut sink = Collector {
        corpus,
        registry,
        tools,
        names: &names,
        paths: &paths,
        flows: Vec::new(),
        each,
    };
    run_files(&paths, run, &mut sink)?;
    for c in absent {
        sink.finish(&c, Vec::new(), false, None)?;
    }
    Ok(())
}

fn path_string(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}
