//! `dpi train` (mine signatures from reference labels and merge them into
//! a cumulative set) and `dpi merge` (unite signature files).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dpi_core::signature::SignatureSet;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::align::{registry, ReferenceArg};
use super::common::FlowArgs;
use crate::train::evidence::Gate;
use crate::train::{self, hash::part_of, merge, partial_parquet, MineOptions, Partial, Settings};

/// The mining settings of `dpi train` (and of `dpi eval`'s training).
#[derive(clap::Args, Debug, Clone)]
pub struct MineArgs {
    /// Least training flows a candidate must name correctly on its mining
    /// folds (and least flows of a cluster or gram to make one).
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    pub min_support: f64,
    /// Least precision, on the mining folds and on the captures held out.
    #[arg(long, default_value_t = 0.99, value_name = "P")]
    pub min_precision: f64,
    /// One-sided confidence of the lower bound of the held-out precision.
    #[arg(long, default_value_t = 0.95, value_name = "C")]
    pub confidence: f64,
    /// Least lower bound of the held-out precision (Wilson, at --confidence).
    #[arg(long, default_value_t = 0.5, value_name = "B")]
    pub min_bound: f64,
    /// True positives of one held-out capture counted at most in the bound.
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    pub per_capture: f64,
    /// Do not learn the transport rules and the port tier.
    #[arg(long)]
    pub no_tiers: bool,
    /// Do not learn application rules from host names.
    #[arg(long)]
    pub no_apps: bool,
    /// Do not take the registry of assigned ports and IP protocol numbers
    /// (signatures/assigned-ports.csv) as evidence for the tiers.
    #[arg(long)]
    pub no_assigned: bool,
    /// Weight of a match on a flow the reference leaves unlabelled (or labels only by port).
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub unlabelled_weight: f64,
}

impl MineArgs {
    /// The options these arguments describe, with provenance `source`.
    pub fn options(&self, source: String) -> MineOptions {
        MineOptions {
            min_support: self.min_support,
            gate: Gate {
                min_precision: self.min_precision,
                confidence: self.confidence,
                min_bound: self.min_bound,
                per_capture: self.per_capture,
            },
            unlabelled_weight: self.unlabelled_weight,
            source,
            tiers: !self.no_tiers,
            apps: !self.no_apps,
            assigned: if self.no_assigned {
                std::sync::Arc::new(crate::train::assigned::Assigned::default())
            } else {
                std::sync::Arc::new(crate::train::assigned::Assigned::builtin())
            },
        }
    }
}

/// Arguments of `dpi train`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("bytes", |a| a
    .default_value(super::classify::DEFAULT_BYTES)
    .help("User-data bytes per direction that mining reads (as many as dpi classify keeps)")))]
#[command(mut_arg("output", |a| a
    .required(true)
    .help("The std.sig written (the rules it cannot carry go to --extended-out); with --partial, the partial")))]
pub struct TrainArgs {
    /// Corpus folders (`pcap/`, `expected/`, `labels/<tool>/`); repeatable.
    #[arg(long = "corpus", value_name = "DIR")]
    pub corpora: Vec<PathBuf>,
    /// Reference labels: the first decides; a second must agree (repeatable, at most two).
    #[arg(
        long = "reference",
        value_enum,
        value_name = "TOOL",
        default_value = "ndpi"
    )]
    pub references: Vec<ReferenceArg>,
    /// Existing signature files to grow (std.sig or .rules; repeatable).
    #[arg(long = "base", value_name = "FILE")]
    pub base: Vec<PathBuf>,
    /// Hand-written signature files the learnt rules rank below
    /// (repeatable): the flows they name do not reach the port tier, and
    /// where a learnt rule disagrees with them on a training flow the
    /// report says so; they are neither dropped nor written out.
    #[arg(long = "hand-written", value_name = "FILE")]
    pub hand_written: Vec<PathBuf>,
    /// Where the signatures std.sig cannot carry go (default: the output
    /// with extension `.rules`).
    #[arg(long, value_name = "FILE")]
    pub extended_out: Option<PathBuf>,
    #[command(flatten)]
    pub mine: MineArgs,
    /// Distinct flow contents kept per group in the statistics (bottom-k sample by content hash).
    #[arg(long, default_value_t = 4096, value_name = "K")]
    pub sample: usize,
    /// Training folds (2 to 16): captures split by file name; rules mined on
    /// the other folds are validated on each in turn.
    #[arg(long, default_value_t = 4, value_name = "K")]
    pub folds: u8,
    /// Write the statistics of these captures (a partial) to `-o` and stop.
    #[arg(long)]
    pub partial: bool,
    /// The format of `--partial`: one JSON file, or a directory of Parquet
    /// tables (merged by plain SQL, see dpi-train/spark/reduce.sql).
    #[arg(long, value_enum, default_value = "json", requires = "partial")]
    pub format: PartialFormat,
    /// Mine from these partials instead of reading corpora (repeatable):
    /// JSON files, or directories of Parquet tables.
    #[arg(long = "from-partials", value_name = "FILE", num_args = 1..)]
    pub from_partials: Vec<PathBuf>,
    /// Use only the captures whose file name falls in part I of N
    /// (`I/N`, by a hash of the name; `--exclude-part` for the others).
    #[arg(long, value_name = "I/N")]
    pub only_part: Option<String>,
    /// Use only the captures NOT in part I of N.
    #[arg(long, value_name = "I/N")]
    pub exclude_part: Option<String>,
    /// Protocol-name registry (default: the built-in copy).
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// Bytes kept of a flow's opening TLS ClientHello, QUIC Initial
    /// datagrams or HTTP request, for the host names the application
    /// rules are learnt from (mining still reads --bytes).
    #[arg(long, default_value_t = super::classify::DEFAULT_HANDSHAKE_BYTES, value_name = "N")]
    pub handshake_bytes: usize,
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// How `dpi train --partial` writes the statistics.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialFormat {
    /// One JSON file.
    Json,
    /// A directory of Parquet tables.
    Parquet,
}

/// The start of the header line `dpi train` writes (dropped on reading a base).
pub const HEADER_PREFIX: &str = "# Trained by dpi ";

/// The salt of `--only-part` / `--exclude-part`.
pub const SPLIT_SALT: &str = "dpi-split";

fn parse_part(s: &str) -> anyhow::Result<(u64, u64)> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| anyhow::anyhow!("expected I/N, found {s}"))?;
    let (i, n): (u64, u64) = (i.trim().parse()?, n.trim().parse()?);
    if n == 0 || i >= n {
        anyhow::bail!("expected I/N with I < N, found {s}");
    }
    Ok((i, n))
}

fn bar(enabled: bool, what: &str) -> ProgressBar {
    let pb = if enabled && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len}")
            .expect("a fixed, valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

/// Reads signature files (std.sig provenance comments restored) and merges
/// them; the files together are held to the set-wide limits, as one set.
pub fn load_sets(paths: &[PathBuf]) -> anyhow::Result<SignatureSet> {
    let mut sets = Vec::new();
    let mut budget = dpi_core::signature::Budget::new();
    for p in paths {
        let mut s = dpi_core::signature::load_with_budget(p, &mut budget)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        merge::restore_provenance(&mut s);
        for sig in &mut s.signatures {
            sig.comments.retain(|c| !c.starts_with(HEADER_PREFIX));
        }
        sets.push(s);
    }
    Ok(merge::merge_sets(&sets))
}

fn default_extended(out: &Path) -> PathBuf {
    let p = out.with_extension("rules");
    if p == out {
        PathBuf::from(format!("{}.extended.rules", out.display()))
    } else {
        p
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes `set` as std.sig to `out` and the rest to `extended`; returns
/// the two counts.
pub fn write_outputs(
    set: &SignatureSet,
    out: &Path,
    extended: &Path,
    header: &[String],
) -> anyhow::Result<(usize, usize)> {
    let (std_text, ext_text, ns, ne) = merge::split_outputs(set, header);
    write(out, &std_text)?;
    write(extended, &ext_text)?;
    Ok((ns, ne))
}

/// Runs `dpi train`.
pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let out = args
        .flow
        .output
        .clone()
        .ok_or_else(|| anyhow::anyhow!("dpi train needs -o OUT"))?;
    let mut refs = args.references.clone();
    refs.dedup();
    if refs.len() > 2 {
        anyhow::bail!("at most two references (the first decides, the second must agree)");
    }
    let tools: Vec<_> = refs.iter().map(|r| r.tool()).collect();
    let settings = Settings {
        references: tools.iter().map(|t| t.name().to_owned()).collect(),
        bytes: args.flow.bytes,
        sample: args.sample.max(1),
        folds: args.folds.clamp(2, 16),
    };
    let quiet = args.flow.quiet;
    let partial = if args.from_partials.is_empty() {
        if args.corpora.is_empty() {
            anyhow::bail!("give --corpus DIR (or --from-partials FILE...)");
        }
        let only = args.only_part.as_deref().map(parse_part).transpose()?;
        let exclude = args.exclude_part.as_deref().map(parse_part).transpose()?;
        let include = move |name: &str| {
            only.is_none_or(|(i, n)| part_of(name, SPLIT_SALT, n) == i)
                && exclude.is_none_or(|(i, n)| part_of(name, SPLIT_SALT, n) != i)
        };
        let registry = registry(&args.names)?;
        let mut run = args.flow.run_options();
        run.flow.handshake_bytes = args.handshake_bytes;
        train::collect_partial(&args.corpora, &tools, &registry, &run, settings, &include)?
    } else {
        let mut acc: Option<Partial> = None;
        for p in &args.from_partials {
            let part = if partial_parquet::is_parquet(p) {
                partial_parquet::read(p)?
            } else {
                Partial::read(p)?
            };
            acc = Some(match acc {
                None => part,
                Some(a) => a
                    .merge(part)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            });
        }
        acc.expect("at least one partial")
    };
    if args.partial {
        match args.format {
            PartialFormat::Json => partial.write(&out)?,
            PartialFormat::Parquet => partial_parquet::write(&partial, &out)?,
        }
        if !quiet {
            eprintln!(
                "dpi: wrote statistics of {} captures ({} groups) to {}",
                partial.capture_count(),
                partial.groups.len(),
                out.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let base = load_sets(&args.base)?;
    let opts = args
        .mine
        .options(format!("trained:{}", partial.settings.references.join("+")));
    let pb = bar(!quiet, "mining");
    let above = load_sets(&args.hand_written)?;
    let trained = train::train_above(&partial, &base, &above, &opts, &pb);
    pb.finish_and_clear();
    let extended = args
        .extended_out
        .clone()
        .unwrap_or_else(|| default_extended(&out));
    let header = vec![format!(
        "Trained by dpi {} from {} captures against {}; support n = training flows matched",
        env!("CARGO_PKG_VERSION"),
        partial.capture_count(),
        partial.settings.references.join("+")
    )];
    let (ns, ne) = write_outputs(&trained.set, &out, &extended, &header)?;
    let report = train::report_text(&partial, &trained, &opts);
    let report_path = PathBuf::from(format!("{}.report.txt", out.display()));
    write(&report_path, &report)?;
    if !quiet {
        eprint!("{report}");
        eprintln!(
            "dpi: {ns} signatures to {}, {ne} to {}, report in {}",
            out.display(),
            extended.display(),
            report_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `dpi merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Signature files (std.sig or .rules).
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// The std.sig output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Where the signatures std.sig cannot carry go (default: the output
    /// with extension `.rules`).
    #[arg(long, value_name = "FILE")]
    pub extended_out: Option<PathBuf>,
}

/// Runs `dpi merge`.
pub fn run_merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let set = load_sets(&args.inputs)?;
    let extended = args
        .extended_out
        .clone()
        .unwrap_or_else(|| default_extended(&args.output));
    let (ns, ne) = write_outputs(&set, &args.output, &extended, &[])?;
    eprintln!(
        "dpi: {ns} signatures to {}, {ne} to {}",
        args.output.display(),
        extended.display()
    );
    Ok(ExitCode::SUCCESS)
}
