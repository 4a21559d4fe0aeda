//! `dpi eval`: agreement of a label source with a reference.
//!
//! The flows are read as `dpi classify` reads them: `--bytes` defaults to
//! [`DEFAULT_BYTES`] (512) here too, and a flow that opens with a TLS or
//! QUIC hello or an HTTP request keeps it whole up to `--handshake-bytes`
//! (4096) for its protocol fields, so `dpi eval --candidate dpi` gives
//! each flow the label and application `dpi classify` gives it. Training
//! (`--folds`, `--train-corpus`) cuts the flows to `--train-bytes` (512,
//! `dpi train`'s default) before mining, and learns application rules
//! from the host names of the whole handshakes.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::align::{registry, ReferenceArg};
use super::classify::{DEFAULT_BYTES, DEFAULT_HANDSHAKE_BYTES};
use super::common::FlowArgs;
use crate::eval::{self, report, svg, EvalOptions, Source};
use crate::labels::Corpus;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    /// A readable table.
    Text,
    /// One JSON object (see `dpi_train::eval::report`).
    Json,
}

/// Arguments of `dpi eval`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("bytes", |a| a
    .default_value(DEFAULT_BYTES)
    .help("User-data bytes kept per direction (as dpi classify: the dpi candidate sees the flows dpi classify sees)")))]
pub struct EvalArgs {
    /// The corpus folder (`pcap/`, `expected/`, `labels/<tool>/`).
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// The reference labels.
    #[arg(long, value_enum, value_name = "TOOL")]
    pub reference: ReferenceArg,
    /// The labels under evaluation.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub candidate: Source,
    /// Signature file for the dpi candidate (repeatable); replaces the
    /// built-in set (default.rules, apps.rules, std.sig and
    /// trained.rules, as dpi classify). With training, the hand-written
    /// set to grow (default: the built-in default.rules and apps.rules).
    #[arg(long = "sig", value_name = "FILE")]
    pub sigs: Vec<PathBuf>,
    /// K-fold evaluation by capture file (dpi candidate): for each fold,
    /// grow the hand-written set with `dpi train`'s mining on the other
    /// folds and evaluate on it; figures are means over the folds.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u8).range(2..=64))]
    pub folds: Option<u8>,
    /// Grow the hand-written set on this corpus and evaluate on --corpus
    /// (dpi candidate); repeatable: the corpora are trained on together.
    #[arg(long, value_name = "DIR", conflicts_with = "folds")]
    pub train_corpus: Vec<PathBuf>,
    /// The references training learns from (repeatable, at most two): the
    /// first decides, the second adds evidence where the first is silent
    /// (default: the reference alone).
    #[arg(long, value_enum, value_name = "TOOL")]
    pub train_reference: Vec<ReferenceArg>,
    /// User-data bytes per direction the trainer sees.
    #[arg(long, default_value_t = eval::train::TRAIN_BYTES, value_name = "N")]
    pub train_bytes: usize,
    /// Bytes kept of a flow's opening TLS ClientHello, QUIC Initial
    /// datagrams or HTTP request, for its protocol fields (as dpi
    /// classify; 0: none).
    #[arg(long, default_value_t = DEFAULT_HANDSHAKE_BYTES, value_name = "N")]
    pub handshake_bytes: usize,
    /// Report format.
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,
    /// Count only reference flows whose nDPI confidence starts with "DPI".
    #[arg(long)]
    pub only_dpi_confidence: bool,
    /// Write confusion.svg, per_protocol.csv and flows.csv here.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Protocols in the confusion matrix (half for the sides of the most
    /// frequent confusions, the rest for the protocols of most flows), and
    /// confusions listed in the text report.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub top: usize,
    /// Protocol-name registry (default: the built-in copy of
    /// `signatures/protocol-names.csv`).
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    #[command(flatten)]
    pub mine: super::train::MineArgs,
    #[command(flatten)]
    pub flow: FlowArgs,
}

fn create(p: PathBuf) -> anyhow::Result<BufWriter<std::fs::File>> {
    Ok(BufWriter::new(
        std::fs::File::create(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
    ))
}

/// Runs `dpi eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::open(&args.corpus)?;
    let registry = registry(&args.names)?;
    let opts = EvalOptions {
        reference: args.reference.tool(),
        candidate: args.candidate,
        only_dpi_confidence: args.only_dpi_confidence,
        signatures: args.sigs.clone(),
        top: args.top,
        folds: args.folds.unwrap_or(0),
        train_corpus: args.train_corpus.clone(),
        train_reference: args.train_reference.iter().map(|r| r.tool()).collect(),
        train_bytes: args.train_bytes.max(1),
        mine: args
            .mine
            .options(format!("trained:{}", args.reference.tool().name())),
    };
    let mut run = args.flow.run_options();
    run.flow.handshake_bytes = args.handshake_bytes;
    let e = eval::evaluate(&corpus, &registry, &run, &opts)?;
    let name = args.corpus.display().to_string();
    let mut out = args.flow.open_output(false)?;
    match args.format {
        EvalFormat::Text => out.write_all(report::to_text(&name, &opts, &e).as_bytes())?,
        EvalFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report::to_json(&name, &opts, &e))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let title = format!(
            "{} vs {} on {}{}",
            opts.candidate,
            opts.reference,
            name,
            if opts.only_dpi_confidence {
                " (DPI confidence)"
            } else {
                ""
            }
        );
        std::fs::write(
            dir.join("confusion.svg"),
            svg::heatmap(&e.metrics.confusion, &title),
        )?;
        let mut w = create(dir.join("per_protocol.csv"))?;
        report::write_per_protocol(&mut w, &e.metrics)?;
        w.flush()?;
        let mut w = create(dir.join("flows.csv"))?;
        report::write_flows(&mut w, &e.flows)?;
        w.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
