//! `dpi align`: our flows with each reference tool's labels.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::common::FlowArgs;
use crate::align::dataset::Unmatched;
use crate::align::{align_corpus, ParquetWriter, ToolCounts};
use crate::labels::{Corpus, NameRegistry, Tool};
use crate::record::write_csv_line;

/// A reference tool on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ReferenceArg {
    /// nDPI (`expected/*.out`, `labels/ndpi/*.json` or `*.csv`).
    Ndpi,
    /// libprotoident (`labels/lpi/*.txt`).
    Lpi,
    /// argus (`labels/argus/*.txt`).
    Argus,
}

impl ReferenceArg {
    /// The tool.
    pub fn tool(self) -> Tool {
        match self {
            ReferenceArg::Ndpi => Tool::Ndpi,
            ReferenceArg::Lpi => Tool::Lpi,
            ReferenceArg::Argus => Tool::Argus,
        }
    }
}

/// Arguments of `dpi align`.
#[derive(clap::Args, Debug)]
pub struct AlignArgs {
    /// The corpus folder (`pcap/`, `expected/`, `labels/<tool>/`).
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Reference tools to align (repeatable; all three when not given).
    #[arg(long = "reference", value_enum, value_name = "TOOL")]
    pub references: Vec<ReferenceArg>,
    /// Also write the aligned rows as Parquet.
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<PathBuf>,
    /// Write per-capture counts of matched and unmatched records as CSV.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write every reference record that found no flow, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub unmatched: Option<PathBuf>,
    /// Protocol-name registry (default: the built-in copy of
    /// `signatures/protocol-names.csv`).
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// The registry from `--names`, or the built-in one.
pub fn registry(names: &Option<PathBuf>) -> anyhow::Result<NameRegistry> {
    Ok(match names {
        Some(p) => NameRegistry::load(p)?,
        None => NameRegistry::builtin(),
    })
}

/// The tools asked for, in the fixed order ndpi, lpi, argus, without repeats.
pub fn tools_of(args: &[ReferenceArg]) -> Vec<Tool> {
    let mut v: Vec<ReferenceArg> = if args.is_empty() {
        vec![ReferenceArg::Ndpi, ReferenceArg::Lpi, ReferenceArg::Argus]
    } else {
        args.to_vec()
    };
    v.sort();
    v.dedup();
    v.into_iter().map(ReferenceArg::tool).collect()
}

fn create(p: &PathBuf) -> anyhow::Result<BufWriter<std::fs::File>> {
    Ok(BufWriter::new(
        std::fs::File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
    ))
}

#[derive(Default)]
struct Totals {
    records: usize,
    matched: usize,
    flows_labelled: usize,
    files: usize,
    malformed: usize,
}

/// Runs `dpi align`.
pub fn run(args: AlignArgs) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::open(&args.corpus)?;
    let registry = registry(&args.names)?;
    let tools = tools_of(&args.references);
    let mut out = args.flow.open_output(false)?;
    let mut parquet = args
        .parquet
        .as_ref()
        .map(|p| ParquetWriter::create(p, &tools))
        .transpose()?;
    let mut report = args.report.as_ref().map(create).transpose()?;
    if let Some(r) = report.as_mut() {
        let header = [
            "capture",
            "tool",
            "has_capture",
            "has_labels",
            "records",
            "matched",
            "unmatched",
            "flows",
            "flows_without_label",
        ];
        write_csv_line(r, &header.map(String::from))?;
    }
    let mut unmatched_out = args.unmatched.as_ref().map(create).transpose()?;
    let mut totals: Vec<Totals> = tools.iter().map(|_| Totals::default()).collect();
    let mut worst: Vec<BTreeMap<String, usize>> = tools.iter().map(|_| BTreeMap::new()).collect();
    let (mut flows, mut captures, mut read_errors) = (0usize, 0usize, 0usize);
    align_corpus(&corpus, &tools, &registry, &args.flow.run_options(), |a| {
        captures += 1;
        flows += a.flows.len();
        if let Some(e) = &a.read_error {
            read_errors += 1;
            if !args.flow.quiet {
                eprintln!("dpi: {}: {e}", a.capture);
            }
        }
        for f in &a.flows {
            serde_json::to_writer(&mut out, &f.to_json(&tools))?;
            out.write_all(b"\n")?;
            if let Some(p) = parquet.as_mut() {
                p.push(f)?;
            }
        }
        for (i, (tool, c)) in tools.iter().zip(&a.tools).enumerate() {
            let t = &mut totals[i];
            t.records += c.records;
            t.matched += c.matched;
            t.flows_labelled += a.flows.len() - c.flows_without;
            t.files += usize::from(c.has_file);
            t.malformed += c.malformed;
            if c.records > c.matched {
                worst[i].insert(a.capture.clone(), c.records - c.matched);
            }
            if let Some(r) = report.as_mut() {
                write_report_row(r, &a.capture, *tool, a.has_capture, a.flows.len(), c)?;
            }
            if let Some(u) = unmatched_out.as_mut() {
                for m in &c.unmatched {
                    write_unmatched(u, m)?;
                }
            }
        }
        Ok(())
    })?;
    out.flush()?;
    if let Some(p) = parquet {
        p.finish()?;
    }
    if let Some(mut r) = report {
        r.flush()?;
    }
    if let Some(mut u) = unmatched_out {
        u.flush()?;
    }
    if !args.flow.quiet {
        eprintln!(
            "dpi: {captures} capture(s), {flows} flows of ours, {read_errors} capture(s) read with an error"
        );
        for ((tool, t), w) in tools.iter().zip(&totals).zip(&worst) {
            let rate = if t.records == 0 {
                0.0
            } else {
                100.0 * t.matched as f64 / t.records as f64
            };
            eprintln!(
                "dpi: {tool:5}: {} label file(s), {} records, {} matched ({rate:.2}%), {} unmatched, {} malformed lines; {} of our flows labelled",
                t.files,
                t.records,
                t.matched,
                t.records - t.matched,
                t.malformed,
                t.flows_labelled
            );
            let mut w: Vec<(&String, &usize)> = w.iter().collect();
            w.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            if !w.is_empty() {
                let list: Vec<String> = w
                    .iter()
                    .take(8)
                    .map(|(c, n)| format!("{c} ({n})"))
                    .collect();
                eprintln!("dpi: {tool:5}: most unmatched: {}", list.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report_row<W: Write>(
    w: &mut W,
    capture: &str,
    tool: Tool,
    has_capture: bool,
    flows: usize,
    c: &ToolCounts,
) -> anyhow::Result<()> {
    write_csv_line(
        w,
        &[
            capture.to_owned(),
            tool.name().to_owned(),
            has_capture.to_string(),
            c.has_file.to_string(),
            c.records.to_string(),
            c.matched.to_string(),
            (c.records - c.matched).to_string(),
            flows.to_string(),
            c.flows_without.to_string(),
        ],
    )?;
    Ok(())
}

fn write_unmatched<W: Write>(w: &mut W, m: &Unmatched) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *w, m)?;
    w.write_all(b"\n")?;
    Ok(())
}
