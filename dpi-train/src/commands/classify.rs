//! `dpi classify`: one label per flow.
//!
//! Each flow is written with the fields of `dpi extract` (same names; the
//! payload hex only with `--payload`) and four more:
//!
//! | field | meaning |
//! | --- | --- |
//! | `protocol` | the protocol of the deciding signature, `Unknown` when none matched |
//! | `app` | the application: the best application rule's over the flow's server name, ALPN and JA4, else the deciding signature's; empty (CSV, table `-`) or null (JSON) when none names one |
//! | `confidence` | `signature`, `feature`, `port` or `unknown` |
//! | `reason` | the deciding signature: its id, else `file:line`; then ` + ` and the application rule that named the application; for a flow another flow announced, `expected from <PROTOCOL> <a> <-> <b>` (the announcing flow); for an application named by an earlier DNS answer, ` (name <host> from DNS <a> <-> <b>)` after the rule; for a session upgraded to TLS, `upgraded to TLS by <command>` |
//!
//! then the protocol fields read from the flow's first bytes
//! ([`dpi_core::Metadata`]), null (JSON) or empty (CSV) when absent:
//! `hostname`, `alpn`, `ja4`, `http_user_agent`, `http_url`,
//! `dns_query_type`, `dns_answers`, `ssh_client`, `ssh_server` (the
//! README's table says what each holds). `--no-metadata` leaves them all
//! null and skips the extraction (and so no application rule applies).
//!
//! Formats: `table` (default; aligned columns — file, transport, endpoints,
//! packets and bytes per direction, the four labels — then a summary of
//! flows, packets and bytes per protocol), `csv` (a header row, every field),
//! `jsonl` (one object per flow, every field) and `parquet` (every field as
//! a typed column, to the `-o` file; [`crate::output::parquet`]).
//! `--ipfix HOST:PORT` also sends every flow to an IPFIX collector
//! ([`crate::ipfix`]), whatever the format.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use dpi_core::matcher::{Matcher, Scratch};
use dpi_core::signature::SignatureSet;
use dpi_core::{Classification, Classifier, Confidence, FileSummary, Flow, FlowView, Metadata};

use super::common::{FlowArgs, Report};
use crate::json_line::put_flow_fields;
use crate::output::parquet::{Columns, Labels, ParquetFlows};
use crate::record::{write_csv_line, FlowRecord, CSV_COLUMNS};
use crate::runner::FlowSink;

/// User-data bytes per direction that `dpi classify` keeps unless `--bytes`
/// says otherwise: [`dpi_core::FlowConfig::CLASSIFY_BYTES`], written out
/// for the argument parser (a test checks they agree). More than `dpi
/// extract`'s 64: rules look for literals (an HTTP `Host:` header, a TLS
/// server name) well past the first bytes.
pub const DEFAULT_BYTES: &str = "512";

/// Bytes of an opening TLS ClientHello or of a QUIC client's Initial
/// datagrams that `dpi classify` keeps unless `--handshake-bytes` says
/// otherwise: a QUIC ClientHello often spans two Initial datagrams of 1,200
/// bytes or more, and a TLS ClientHello with post-quantum key shares
/// passes 1,700 bytes.
pub const DEFAULT_HANDSHAKE_BYTES: usize = dpi_core::FlowConfig::CLASSIFY_HANDSHAKE_BYTES;

/// Output formats of `dpi classify`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifyFormat {
    /// Aligned columns for reading, then flows and bytes per protocol.
    Table,
    /// Comma-separated values with a header row; lists are `;`-separated.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// A Parquet file (`-o FILE` required): the JSON keys as typed columns
    /// (see [`crate::output::parquet`]).
    Parquet,
}

/// Arguments of `dpi classify`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("bytes", |a| a
    .default_value(DEFAULT_BYTES)
    .help("User-data bytes kept per direction (more than extract keeps, so literals further in, such as an HTTP Host header or a TLS server name, are seen)")))]
pub struct ClassifyArgs {
    /// Signature file, std.sig or extended rules (by extension, else by
    /// content). Repeatable; replaces the built-in set. Earlier files win
    /// full ties.
    #[arg(long = "sig", value_name = "FILE")]
    pub sigs: Vec<PathBuf>,
    /// The signature set compiled, kept in FILE from one run to the next:
    /// read instead of compiling the set when it was compiled from the same
    /// signatures; otherwise (no such file, another set, a damaged or older
    /// file: said on standard error) the set is compiled and FILE written.
    /// Worth it for large sets, whose compiling takes most of the start.
    #[arg(long, value_name = "FILE")]
    pub compiled: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ClassifyFormat::Table)]
    pub format: ClassifyFormat,
    /// Also write the first bytes of each direction, in hex.
    #[arg(long)]
    pub payload: bool,
    /// Do not read protocol fields (hostname, ALPN, JA4, ...): they are
    /// written as null, no flow keeps its handshake past N bytes, and no
    /// application rule applies.
    #[arg(long)]
    pub no_metadata: bool,
    /// Name the application of a flow without a server name of its own
    /// from the name an earlier DNS answer of the capture gave its server
    /// address (`reason` then says which DNS flow). Off by default: nDPI's
    /// label does not do it.
    #[arg(long)]
    pub dns_names: bool,
    /// Bytes kept of a flow's opening TLS ClientHello or QUIC Initial
    /// datagrams, so that the server name and JA4 are read from the whole
    /// hello (other flows keep `--bytes`).
    #[arg(long, default_value_t = DEFAULT_HANDSHAKE_BYTES, value_name = "N")]
    pub handshake_bytes: usize,
    #[command(flatten)]
    pub ipfix: crate::ipfix::IpfixArgs,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub live: crate::live::LiveArgs,
    /// pcap or pcapng files; `-` reads standard input as a stream (each
    /// record is written as its flow ends, also while the input is open).
    #[arg(required_unless_present = "interface", value_name = "CAPTURE")]
    pub captures: Vec<String>,
}

/// The signature set of a run: the files given (see
/// [`crate::sigfiles`]), else the built-in set. Bad files and files with no
/// signature are reported on standard error.
pub fn load_signatures(paths: &[PathBuf]) -> anyhow::Result<SignatureSet> {
    if paths.is_empty() {
        return match crate::default_sigs::default_set() {
            Ok(set) => Ok(set),
            Err(e) => bail!("the built-in signature set does not load: {e}"),
        };
    }
    crate::sigfiles::load_files(paths, &mut |w| eprintln!("dpi: {w}")).map_err(|e| {
        eprint!("dpi: {}", e.report());
        anyhow::anyhow!("{} signature file(s) could not be loaded", e.bad_files())
    })
}

/// The label fields of a JSON line for classification `c`. The same for
/// every flow the same signature decides, so it is built once per
/// signature.
fn label_tail(c: &Classification) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b",\"protocol\":");
    serde_json::to_writer(&mut out, &*c.protocol)?;
    out.extend_from_slice(b",\"app\":");
    serde_json::to_writer(&mut out, &c.app.as_deref())?;
    out.extend_from_slice(b",\"confidence\":\"");
    out.extend_from_slice(c.confidence.as_str().as_bytes());
    out.extend_from_slice(b"\",\"reason\":");
    serde_json::to_writer(&mut out, &*c.reason)?;
    Ok(out)
}

/// Deciding signature, application rule and confidence.
type TailKey = (Option<usize>, Option<usize>, Confidence);

/// The label fields of the JSON lines a worker wrote last, by deciding
/// signature, application rule and confidence: a worker builds them once
/// per label rather than once per flow. An entry is used only when the
/// protocol, application and reason are those it was built for; a label
/// that used another flow names it in its reason, and is built each time.
#[derive(Default)]
struct TailCache {
    tails: hashbrown::HashMap<TailKey, (Classification, Vec<u8>)>,
    /// The last label that used another flow.
    cross: Vec<u8>,
}

impl TailCache {
    fn get(&mut self, c: &Classification) -> serde_json::Result<&[u8]> {
        if c.cross {
            self.cross = label_tail(c)?;
            return Ok(&self.cross);
        }
        let key = (c.signature, c.app_rule, c.confidence);
        let fresh = |(made, _): &(Classification, Vec<u8>)| {
            made.protocol == c.protocol && made.app == c.app && made.reason == c.reason
        };
        if !self.tails.get(&key).is_some_and(fresh) {
            self.tails.insert(key, (c.clone(), label_tail(c)?));
        }
        Ok(self.tails.get(&key).map_or(&[][..], |(_, t)| &t[..]))
    }
}

/// The metadata fields `dpi classify` writes, in order.
pub const METADATA_COLUMNS: [&str; 10] = [
    "hostname",
    "alpn",
    "ja4",
    "ja4s",
    "http_user_agent",
    "http_url",
    "dns_query_type",
    "dns_answers",
    "ssh_client",
    "ssh_server",
];

/// The single-valued fields of `m`, in [`METADATA_COLUMNS`] order without
/// its two lists (`alpn`, `dns_answers`).
pub fn metadata_strings(m: &Metadata) -> [&Option<String>; 8] {
    [
        &m.hostname,
        &m.ja4,
        &m.ja4s,
        &m.http_user_agent,
        &m.http_url,
        &m.dns_query_type,
        &m.ssh_client,
        &m.ssh_server,
    ]
}

/// Appends the metadata fields of `m` to a JSON object (each `,"name":value`).
fn put_metadata(out: &mut Vec<u8>, m: &Metadata) -> serde_json::Result<()> {
    let strings = metadata_strings(m);
    let lists = [&m.alpn, &m.dns_answers];
    let mut s = strings.iter();
    let mut l = lists.iter();
    for name in METADATA_COLUMNS {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        if name == "alpn" || name == "dns_answers" {
            serde_json::to_writer(&mut *out, l.next().copied().unwrap_or(&None))?;
        } else {
            serde_json::to_writer(&mut *out, s.next().copied().unwrap_or(&None))?;
        }
    }
    Ok(())
}

/// The CSV cells of the metadata fields (lists joined with `;`, empty
/// when absent).
fn metadata_cells(m: &Metadata) -> Vec<String> {
    let mut strings = metadata_strings(m).into_iter();
    let mut lists = [&m.alpn, &m.dns_answers].into_iter();
    METADATA_COLUMNS
        .iter()
        .map(|&name| {
            if name == "alpn" || name == "dns_answers" {
                lists
                    .next()
                    .and_then(|v| v.as_ref())
                    .map(|x| x.join(";"))
                    .unwrap_or_default()
            } else {
                strings.next().cloned().flatten().unwrap_or_default()
            }
        })
        .collect()
}

/// Appends the JSON line of a classified flow, byte for byte what
/// `serde_json` writes for the flow's [`FlowRecord`] fields (the payloads
/// only with `payload`) followed by the label and metadata fields, without
/// building the record. `file_json` is the capture path as a JSON string,
/// `tail` the [`label_tail`] of the flow's classification.
fn put_json_line(
    out: &mut Vec<u8>,
    file_json: &[u8],
    flow: &Flow,
    payload: bool,
    tail: &[u8],
    meta: &Metadata,
) -> serde_json::Result<()> {
    put_flow_fields(out, file_json, flow, payload)?;
    out.extend_from_slice(tail);
    put_metadata(out, meta)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

const LABEL_COLUMNS: [&str; 4] = ["protocol", "app", "confidence", "reason"];

const TABLE_COLUMNS: [&str; 10] = [
    "file",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "c2s_packets",
    "s2c_packets",
    "c2s_bytes",
    "s2c_bytes",
];

/// The CSV header of `dpi classify`.
pub fn csv_columns(payload: bool) -> Vec<&'static str> {
    CSV_COLUMNS
        .iter()
        .copied()
        .filter(|c| payload || !c.ends_with("_payload"))
        .chain(LABEL_COLUMNS)
        .chain(METADATA_COLUMNS)
        .collect()
}

/// Flows, packets and bytes of one protocol.
#[derive(Default, Clone, Copy)]
struct Tally {
    flows: u64,
    packets: u64,
    bytes: u64,
}

struct Writer<'a> {
    paths: &'a [String],
    format: ClassifyFormat,
    payload: bool,
    /// Read protocol fields.
    metadata: bool,
    /// N: the bytes per direction the classifier looks at (flows that kept
    /// a handshake hold more).
    bytes: usize,
    /// Shared by the workers that label the flows.
    classifier: std::sync::Arc<Classifier>,
    out: Box<dyn Write>,
    report: Report,
    rows: Vec<Vec<String>>,
    /// One per (deciding signature, application rule) seen.
    labels: Vec<Label>,
    /// The index in `labels` of each (signature, application rule).
    label_index: hashbrown::HashMap<(Option<usize>, Option<usize>), usize>,
    /// The index in `labels` of each label that used another flow, by its
    /// JSON text.
    cross_index: std::collections::HashMap<Box<[u8]>, usize>,
    /// One JSON line, built here and written with one call.
    line: Vec<u8>,
    /// The workers' JSON lines, once written, go back to them from here.
    spares: LineSpares,
    /// Lines written and not handed back yet.
    spent: Vec<Vec<u8>>,
    /// The JSON string of `paths[.0]`, escaped once per file.
    file_json: (usize, Vec<u8>),
    /// The Parquet file of `--format parquet`.
    parquet: Option<ParquetFlows>,
    /// The collector of `--ipfix`.
    ipfix: Option<crate::ipfix::Exporter>,
}

/// What is kept per deciding signature: its protocol, the end of its JSON
/// lines and the flows, packets and bytes it labelled.
struct Label {
    protocol: std::sync::Arc<str>,
    tail: Box<[u8]>,
    tally: Tally,
}

impl Writer<'_> {
    fn table_header(&self) -> Vec<String> {
        let mut h: Vec<String> = TABLE_COLUMNS.iter().map(|s| s.to_string()).collect();
        h.extend(LABEL_COLUMNS.iter().map(|s| s.to_string()));
        h.push("hostname".into());
        if self.payload {
            h.push("c2s_payload".into());
            h.push("s2c_payload".into());
        }
        h
    }

    fn write_table(&mut self) -> anyhow::Result<()> {
        let header = self.table_header();
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let numeric = |i: usize| matches!(i, 3 | 5..=9);
        let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = w.saturating_sub(c.chars().count());
                if numeric(i) {
                    s.extend(std::iter::repeat_n(' ', pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            writeln!(out, "{s}")
        };
        line(&mut *self.out, &header)?;
        for r in &self.rows {
            line(&mut *self.out, r)?;
        }
        self.write_summary()
    }

    fn write_summary(&mut self) -> anyhow::Result<()> {
        let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
        for l in &self.labels {
            let t = tally.entry(&l.protocol).or_default();
            t.flows += l.tally.flows;
            t.packets += l.tally.packets;
            t.bytes += l.tally.bytes;
        }
        let mut by: Vec<(&&str, &Tally)> = tally.iter().collect();
        by.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        let total = by.iter().fold(Tally::default(), |acc, (_, t)| Tally {
            flows: acc.flows + t.flows,
            packets: acc.packets + t.packets,
            bytes: acc.bytes + t.bytes,
        });
        let name_w = by
            .iter()
            .map(|(n, _)| n.chars().count())
            .chain(["protocol".len(), "total".len()])
            .max()
            .unwrap_or(8);
        let pct = |b: u64| {
            if total.bytes == 0 {
                0.0
            } else {
                100.0 * b as f64 / total.bytes as f64
            }
        };
        writeln!(self.out)?;
        writeln!(
            self.out,
            "{:<name_w$}  {:>8}  {:>10}  {:>14}  {:>6}",
            "protocol", "flows", "packets", "bytes", "bytes%"
        )?;
        for (name, t) in by.iter().map(|(n, t)| (**n, **t)).chain([("total", total)]) {
            writeln!(
                self.out,
                "{:<name_w$}  {:>8}  {:>10}  {:>14}  {:>6.1}",
                name,
                t.flows,
                t.packets,
                t.bytes,
                pct(t.bytes)
            )?;
        }
        Ok(())
    }
}

impl Writer<'_> {
    /// The index in `labels` of classification `c`, its label kept on
    /// first use.
    fn label(&mut self, c: &Classification) -> anyhow::Result<usize> {
        // A label that another flow gave names that flow in its reason:
        // kept per reason, not per signature.
        if c.cross {
            let tail = label_tail(c)?.into_boxed_slice();
            if let Some(&k) = self.cross_index.get(&tail) {
                return Ok(k);
            }
            self.labels.push(Label {
                protocol: c.protocol.clone(),
                tail: tail.clone(),
                tally: Tally::default(),
            });
            self.cross_index.insert(tail, self.labels.len() - 1);
            return Ok(self.labels.len() - 1);
        }
        let key = (c.signature, c.app_rule);
        if let Some(&k) = self.label_index.get(&key) {
            return Ok(k);
        }
        self.labels.push(Label {
            protocol: c.protocol.clone(),
            tail: label_tail(c)?.into_boxed_slice(),
            tally: Tally::default(),
        });
        let k = self.labels.len() - 1;
        self.label_index.insert(key, k);
        Ok(k)
    }

    /// Writes the JSON line of `flow`, read from file `file`, whose label
    /// is `labels[k]`.
    fn write_json(
        &mut self,
        file: usize,
        flow: &Flow,
        k: usize,
        meta: &Metadata,
    ) -> anyhow::Result<()> {
        if self.file_json.0 != file || self.file_json.1.is_empty() {
            self.file_json.1.clear();
            serde_json::to_writer(&mut self.file_json.1, &self.paths[file])?;
            self.file_json.0 = file;
        }
        let tail = &self.labels[k].tail;
        self.line.clear();
        put_json_line(
            &mut self.line,
            &self.file_json.1,
            flow,
            self.payload,
            tail,
            meta,
        )?;
        self.out.write_all(&self.line)?;
        Ok(())
    }
}

/// A flow labelled by a worker: its label and counts, and either its JSON
/// line (`--format jsonl` without `--ipfix`: the worker writes it, and the
/// flow is dropped there) or the flow and its protocol fields.
pub struct Labelled {
    classification: Classification,
    packets: u64,
    bytes: u64,
    /// The JSON line, or the flow and its fields to write.
    done: Done,
}

enum Done {
    Line(Vec<u8>),
    Flow(Box<(Flow, Metadata)>),
}

/// JSON line buffers handed back, once written, to the workers that fill
/// them, a batch at a time: so that a line is not allocated in a worker
/// and freed in the writing thread, which costs the allocator a lock and
/// cache misses each time.
#[derive(Clone, Default)]
struct LineSpares(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl LineSpares {
    /// Buffers moved at a time.
    const BATCH: usize = 64;
    /// Buffers kept for the workers, at most.
    const KEEP: usize = 4 * Self::BATCH;
    /// A buffer that grew past this is dropped rather than kept.
    const LARGEST: usize = 1 << 14;

    fn pool(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A vector of empty buffers stays whole whatever panics.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty buffer from the worker's `stock`, refilled from the spares
    /// when it ran out; `None` when there are none.
    fn take(&self, stock: &mut Vec<Vec<u8>>) -> Option<Vec<u8>> {
        if stock.is_empty() {
            let mut pool = self.pool();
            let from = pool.len().saturating_sub(Self::BATCH);
            stock.extend(pool.drain(from..));
        }
        stock.pop()
    }

    /// Keeps `line`, once written, in `spent`; hands `spent` to the
    /// workers when a batch is full.
    fn give_back(&self, mut line: Vec<u8>, spent: &mut Vec<Vec<u8>>) {
        if line.capacity() > Self::LARGEST {
            return;
        }
        line.clear();
        spent.push(line);
        if spent.len() >= Self::BATCH {
            let mut pool = self.pool();
            let room = Self::KEEP.saturating_sub(pool.len());
            pool.extend(spent.drain(..).take(room));
            spent.clear();
        }
    }
}

impl FlowSink for Writer<'_> {
    type Item = Labelled;

    fn worker(&self, file: usize) -> Box<dyn FnMut(Flow) -> Self::Item + Send> {
        let classifier = self.classifier.clone();
        let (bytes, metadata, payload) = (self.bytes, self.metadata, self.payload);
        let lines = self.format == ClassifyFormat::Jsonl && self.ipfix.is_none();
        let file_json = serde_json::to_vec(&self.paths[file]).unwrap_or_default();
        let mut scratch = Scratch::new();
        // Room for a line as long as the longest so far (up to 16 KiB), so
        // that writing one seldom grows it.
        let mut room = 512usize;
        let mut tails = TailCache::default();
        let spares = self.spares.clone();
        let mut stock = Vec::new();
        Box::new(move |mut flow| {
            let (c, meta) = label_flow(&classifier, &mut flow, bytes, metadata, &mut scratch);
            let packets = flow.c2s.packets + flow.s2c.packets;
            let wire = flow.c2s.bytes + flow.s2c.bytes;
            let mut line = if lines {
                spares
                    .take(&mut stock)
                    .unwrap_or_else(|| Vec::with_capacity(room))
            } else {
                Vec::new()
            };
            let written = lines
                && tails
                    .get(&c)
                    .and_then(|tail| {
                        put_json_line(&mut line, &file_json, &flow, payload, tail, &meta)
                    })
                    .is_ok();
            room = room.max(line.len().min(1 << 14));
            let done = if written {
                Done::Line(line)
            } else {
                Done::Flow(Box::new((flow, meta)))
            };
            Labelled {
                classification: c,
                packets,
                bytes: wire,
                done,
            }
        })
    }

    fn flow(&mut self, file: usize, item: Self::Item) -> anyhow::Result<()> {
        let c = item.classification;
        let k = self.label(&c)?;
        let l = &mut self.labels[k];
        l.tally.flows += 1;
        l.tally.packets += item.packets;
        l.tally.bytes += item.bytes;
        self.report.flows += 1;
        let (flow, meta) = match item.done {
            Done::Line(line) => {
                self.out.write_all(&line)?;
                self.spares.give_back(line, &mut self.spent);
                return Ok(());
            }
            Done::Flow(b) => *b,
        };
        if let Some(x) = &mut self.ipfix {
            x.export(&flow, &c, &meta)?;
        }
        match self.format {
            ClassifyFormat::Jsonl => self.write_json(file, &flow, k, &meta)?,
            ClassifyFormat::Parquet => {
                if let Some(p) = &mut self.parquet {
                    let labels = Labels {
                        classification: &c,
                        metadata: &meta,
                    };
                    p.push(&self.paths[file], &flow, Some(&labels))?;
                }
            }
            ClassifyFormat::Csv => {
                let mut cells: Vec<String> =
                    crate::record::flow_csv_cells(&self.paths[file], &flow)
                        .into_iter()
                        .zip(CSV_COLUMNS)
                        .filter(|(_, col)| self.payload || !col.ends_with("_payload"))
                        .map(|(c, _)| c)
                        .collect();
                cells.push(c.protocol.to_string());
                cells.push(c.app.as_deref().unwrap_or("").to_string());
                cells.push(c.confidence.as_str().to_string());
                cells.push(c.reason.to_string());
                cells.extend(metadata_cells(&meta));
                write_csv_line(&mut self.out, &cells)?;
            }
            ClassifyFormat::Table => {
                let rec = FlowRecord::new(&self.paths[file], &flow);
                let mut cells = vec![
                    rec.file.clone(),
                    rec.transport.clone(),
                    rec.src_ip.clone(),
                    rec.src_port.to_string(),
                    rec.dst_ip.clone(),
                    rec.dst_port.to_string(),
                    rec.c2s_packets.to_string(),
                    rec.s2c_packets.to_string(),
                    rec.c2s_bytes.to_string(),
                    rec.s2c_bytes.to_string(),
                    c.protocol.to_string(),
                    c.app.as_deref().unwrap_or("-").to_string(),
                    c.confidence.as_str().to_string(),
                    c.reason.to_string(),
                    meta.hostname.clone().unwrap_or_else(|| "-".to_string()),
                ];
                if self.payload {
                    cells.push(rec.c2s_payload.clone());
                    cells.push(rec.s2c_payload.clone());
                }
                self.rows.push(cells);
            }
        }
        Ok(())
    }

    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()> {
        self.out.flush()?;
        self.report.file_done(&self.paths[file], &summary);
        Ok(())
    }
}

/// Labels `flow` as `dpi classify` does: its protocol fields read from
/// all the bytes it kept (unless `metadata` is false), then its user data
/// cut to `bytes` per direction, which the signatures see, and the
/// application rules over the fields.
pub fn label_flow(
    classifier: &Classifier,
    flow: &mut Flow,
    bytes: usize,
    metadata: bool,
    scratch: &mut Scratch,
) -> (Classification, Metadata) {
    // The classifier sees N bytes, also of flows that kept a handshake for
    // the protocol fields; the application rules see the fields (none
    // without metadata).
    // A flow whose label was settled while live (its bytes freed) has
    // no field either way.
    let (c, meta) = if metadata || flow.settled.is_some() {
        classifier.classify_flow(flow, bytes, scratch)
    } else {
        let meta = Metadata::default();
        let view = FlowView::from(&*flow).first_bytes(bytes);
        let c = classifier.classify_with_metadata_in(&view, &meta, scratch);
        (c, meta)
    };
    // So do the payload columns.
    flow.c2s_payload.truncate(bytes);
    flow.s2c_payload.truncate(bytes);
    (c, meta)
}

/// The JSON line `dpi classify --format jsonl` writes for `flow`, read
/// from capture `file` and labelled `c` with fields `meta` (the payload
/// hex only with `payload`), newline included.
pub fn json_line(
    file: &str,
    flow: &Flow,
    c: &Classification,
    meta: &Metadata,
    payload: bool,
) -> serde_json::Result<Vec<u8>> {
    let file_json = serde_json::to_vec(file)?;
    let mut out = Vec::with_capacity(512);
    put_json_line(&mut out, &file_json, flow, payload, &label_tail(c)?, meta)?;
    Ok(out)
}

/// The classifier of `set` from its compiled form in `path` when that
/// fits the set, else compiled, with `path` written for the next run.
fn compiled_classifier(set: &SignatureSet, path: &Path) -> anyhow::Result<Classifier> {
    let shown = path.display();
    match std::fs::read(path) {
        Ok(bytes) => match Matcher::from_bytes(&bytes) {
            Ok(m) if m.fits(set) => return Ok(Classifier::with_matcher(set, m)?),
            Ok(_) => eprintln!(
                "dpi: {shown}: compiled from other signatures; compiling these and rewriting it"
            ),
            Err(e) => eprintln!("dpi: {shown}: {e}; compiling the set and rewriting it"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("{shown}: {e}"),
    }
    let matcher = Matcher::new(set)?;
    std::fs::write(path, matcher.to_bytes()).with_context(|| format!("writing {shown}"))?;
    Ok(Classifier::with_matcher(set, matcher)?)
}

/// Runs `dpi classify`.
pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    if let Err(e) = crate::live::check_filter(&args.live) {
        eprintln!("dpi: error: {e}");
        return Ok(ExitCode::from(2));
    }
    let set = load_signatures(&args.sigs)?;
    let mut classifier = match &args.compiled {
        Some(path) => compiled_classifier(&set, path)?,
        None => Classifier::new(&set)?,
    };
    classifier.use_dns_names(args.dns_names);
    let parquet = if args.format == ClassifyFormat::Parquet {
        let columns = Columns {
            payload: args.payload,
            labels: true,
        };
        Some(ParquetFlows::create(args.flow.parquet_path()?, columns)?)
    } else {
        None
    };
    let streaming = super::common::streaming_input(&args.captures, &args.live);
    let mut out = args.flow.open_output_unless(parquet.is_some(), streaming)?;
    if args.format == ClassifyFormat::Csv {
        let header: Vec<String> = csv_columns(args.payload)
            .into_iter()
            .map(str::to_string)
            .collect();
        write_csv_line(&mut out, &header)?;
    }
    let mut opts = args.flow.run_options();
    if !args.no_metadata {
        opts.flow.handshake_bytes = args.handshake_bytes;
    }
    let classifier = std::sync::Arc::new(classifier);
    if !args.payload {
        // A datagram flow's bytes that can no longer change its label or
        // fields go while it is live; no payload column needs them.
        let check = dpi_core::classify::SettledLabel::new(classifier.clone(), args.flow.bytes);
        opts.flow.release_settled = Some(std::sync::Arc::new(check));
    }
    let paths = super::common::input_names(&args.captures, &args.live);
    let mut w = Writer {
        paths: &paths,
        format: args.format,
        payload: args.payload,
        metadata: !args.no_metadata,
        bytes: args.flow.bytes,
        classifier,
        out,
        report: Report::of(&args.live),
        rows: Vec::new(),
        labels: Vec::new(),
        label_index: Default::default(),
        cross_index: Default::default(),
        line: Vec::with_capacity(4096),
        spares: LineSpares::default(),
        spent: Vec::new(),
        file_json: (0, Vec::new()),
        parquet,
        ipfix: args.ipfix.exporter()?,
    };
    let failed = super::common::run_inputs(&args.captures, &args.live, &opts, &mut w)?;
    if w.format == ClassifyFormat::Table && (failed.is_none() || w.report.flows > 0) {
        w.write_table()?;
    }
    w.out.flush()?;
    if let Some(p) = w.parquet.take() {
        p.finish()?;
    }
    if let Some(x) = w.ipfix.take() {
        let s = x.finish()?;
        if !args.flow.quiet {
            eprintln!(
                "dpi: IPFIX: {} record(s) in {} message(s) to {}",
                s.records,
                s.messages,
                args.ipfix.ipfix.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(w.report.finish(args.flow.quiet))
}

#[cfg(test)]
mod tests {
    use crate::json_line::sample_flow as flow;
    use std::sync::Arc;

    use dpi_core::Confidence;
    use serde::Serialize;

    use super::*;

    /// One classified flow as `serde_json` writes it: the record's fields
    /// (payloads only when asked for), then the label fields.
    #[derive(Serialize)]
    struct JsonRow<'a> {
        file: &'a str,
        transport: &'a str,
        src_ip: &'a str,
        src_port: u16,
        dst_ip: &'a str,
        dst_port: u16,
        vlan: u16,
        tunnel: Option<&'a str>,
        first_ts: f64,
        last_ts: f64,
        c2s_packets: u64,
        s2c_packets: u64,
        c2s_bytes: u64,
        s2c_bytes: u64,
        c2s_sizes: &'a [u32],
        s2c_sizes: &'a [u32],
        duration: f64,
        c2s_payload_bytes: u64,
        s2c_payload_bytes: u64,
        c2s_tcp_flags: u8,
        s2c_tcp_flags: u8,
        end_reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        c2s_payload: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        s2c_payload: Option<&'a str>,
        protocol: &'a str,
        app: Option<&'a str>,
        confidence: &'static str,
        reason: &'a str,
        hostname: Option<&'a str>,
        alpn: Option<&'a [String]>,
        ja4: Option<&'a str>,
        ja4s: Option<&'a str>,
        http_user_agent: Option<&'a str>,
        http_url: Option<&'a str>,
        dns_query_type: Option<&'a str>,
        dns_answers: Option<&'a [String]>,
        ssh_client: Option<&'a str>,
        ssh_server: Option<&'a str>,
    }

    impl<'a> JsonRow<'a> {
        fn new(r: &'a FlowRecord, c: &'a Classification, payload: bool, m: &'a Metadata) -> Self {
            JsonRow {
                file: &r.file,
                transport: &r.transport,
                src_ip: &r.src_ip,
                src_port: r.src_port,
                dst_ip: &r.dst_ip,
                dst_port: r.dst_port,
                vlan: r.vlan,
                tunnel: r.tunnel.as_deref(),
                first_ts: r.first_ts,
                last_ts: r.last_ts,
                c2s_packets: r.c2s_packets,
                s2c_packets: r.s2c_packets,
                c2s_bytes: r.c2s_bytes,
                s2c_bytes: r.s2c_bytes,
                c2s_sizes: &r.c2s_sizes,
                s2c_sizes: &r.s2c_sizes,
                duration: r.duration,
                c2s_payload_bytes: r.c2s_payload_bytes,
                s2c_payload_bytes: r.s2c_payload_bytes,
                c2s_tcp_flags: r.c2s_tcp_flags,
                s2c_tcp_flags: r.s2c_tcp_flags,
                end_reason: &r.end_reason,
                c2s_payload: payload.then_some(r.c2s_payload.as_str()),
                s2c_payload: payload.then_some(r.s2c_payload.as_str()),
                protocol: &c.protocol,
                app: c.app.as_deref(),
                confidence: c.confidence.as_str(),
                reason: &c.reason,
                hostname: m.hostname.as_deref(),
                alpn: m.alpn.as_deref(),
                ja4: m.ja4.as_deref(),
                ja4s: m.ja4s.as_deref(),
                http_user_agent: m.http_user_agent.as_deref(),
                http_url: m.http_url.as_deref(),
                dns_query_type: m.dns_query_type.as_deref(),
                dns_answers: m.dns_answers.as_deref(),
                ssh_client: m.ssh_client.as_deref(),
                ssh_server: m.ssh_server.as_deref(),
            }
        }
    }

    fn metadata(i: u32) -> Metadata {
        let text = ["example.com", "q\"uote", "é ☃", "\u{1}ctl", ""];
        let pick =
            |k: u32| (i % (k + 2) != 0).then(|| text[(i + k) as usize % text.len()].to_string());
        let list = |k: u32| {
            (i % (k + 3) == 1).then(|| (0..i % 4).map(|j| text[j as usize].to_string()).collect())
        };
        Metadata {
            hostname: pick(0),
            alpn: list(0),
            ja4: pick(1),
            http_user_agent: pick(2),
            http_url: pick(3),
            dns_query_type: pick(4),
            dns_answers: list(1),
            ssh_client: pick(5),
            ssh_server: pick(6),
            ja4s: pick(7),
            ..Metadata::default()
        }
    }

    fn classification(i: u32) -> Classification {
        let text = ["HTTP", "q\"uote\\back", "tab\there", "é ☃", "\u{1}ctl"];
        let pick = |k: u32| Arc::<str>::from(text[(i + k) as usize % text.len()]);
        Classification {
            protocol: pick(0),
            app: (i % 3 != 0).then(|| pick(1)),
            confidence: [
                Confidence::Unknown,
                Confidence::Port,
                Confidence::Feature,
                Confidence::Signature,
            ][i as usize % 4],
            reason: pick(2),
            signature: (i % 4 != 0).then_some(i as usize),
            app_rule: (i % 5 == 1).then_some(i as usize),
            cross: i % 6 == 2,
        }
    }

    #[test]
    fn cached_label_fields_are_those_of_each_label() {
        let mut cache = TailCache::default();
        // Keys that come back with other texts, cross labels, and every
        // confidence: the cache gives what `label_tail` builds, each time.
        for i in 0..600u32 {
            let mut c = classification(i % 37);
            if i % 7 == 3 {
                c.reason = Arc::from(format!("other reason {i}"));
            }
            if i % 11 == 5 {
                c.app = Some(Arc::from("Changed"));
            }
            assert_eq!(cache.get(&c).unwrap(), &label_tail(&c).unwrap()[..], "{i}");
        }
    }

    #[test]
    fn defaults_are_the_librarys() {
        assert_eq!(
            DEFAULT_BYTES.parse::<usize>().unwrap(),
            dpi_core::FlowConfig::CLASSIFY_BYTES
        );
    }

    #[test]
    fn json_lines_match_the_serde_rows() {
        let files = [
            "a.pcap",
            "/tmp/dir with space/x.pcapng",
            "quote\"back\\slash\ttab",
            "é.pcap",
        ];
        let mut line = Vec::new();
        for i in 0..400 {
            let f = flow(i);
            let c = classification(i);
            let payload = i % 2 == 0;
            let file = files[i as usize % files.len()];
            let file_json = serde_json::to_vec(file).unwrap();
            let tail = label_tail(&c).unwrap();
            let m = metadata(i);
            line.clear();
            put_json_line(&mut line, &file_json, &f, payload, &tail, &m).unwrap();
            let mut rec = FlowRecord::new(file, &f);
            (rec.first_ts, rec.last_ts) = (0.5, 0.25);
            let serde = String::from_utf8(
                serde_json::to_vec(&JsonRow::new(&rec, &c, payload, &m)).unwrap(),
            )
            .unwrap();
            let mut want = crate::json_line::with_exact_times(&serde, &f).into_bytes();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(&want),
                "flow {i}"
            );
        }
    }
}
