//! `dpi label`: reference labels, imported from label files or made by
//! running an installed ndpiReader.
//!
//! With `--ndpi-reader`, each capture is run through
//! `ndpiReader -q -t -v 2 -i CAPTURE -C CSV`; the CSV is written as
//! `labels/ndpi/<capture>.csv` and the verbose per-flow text (standard
//! output, which carries the confidence) as `expected/<capture>.out`, under
//! `--out-dir` (the corpus layout, so `dpi align` and `dpi eval` read
//! them). Without `--out-dir` the records are printed as JSON lines. With
//! `--from`, the arguments are label files of that kind and their records
//! are printed as JSON lines; the records of an incomplete file (cut short,
//! or holding fewer flows than its header counts) are printed too, its
//! error is reported and the exit status is 1.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use rayon::prelude::*;

use crate::align::reference;
use crate::labels::{self, Corpus, LabelSource, NameRegistry, ParsedLabels, Tool};
use crate::runner::progress_bar;

/// The ndpiReader run when `--ndpi-reader` is given without a path.
pub const NDPI_READER: &str = "ndpiReader";

/// Kinds of label files for `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FromArg {
    /// ndpiReader's verbose text (`.out`).
    NdpiOut,
    /// ndpiReader's `-C` CSV.
    NdpiCsv,
    /// ndpiReader's `-k` JSON lines.
    NdpiJson,
    /// lpi_protoident output.
    Lpi,
    /// argus + raservices records.
    Argus,
}

impl FromArg {
    fn source(self) -> LabelSource {
        match self {
            FromArg::NdpiOut => LabelSource::NdpiOut,
            FromArg::NdpiCsv => LabelSource::NdpiCsv,
            FromArg::NdpiJson => LabelSource::NdpiJson,
            FromArg::Lpi => LabelSource::Lpi,
            FromArg::Argus => LabelSource::Argus,
        }
    }
}

/// Arguments of `dpi label`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["ndpi_reader", "from"])))]
pub struct LabelArgs {
    /// Run ndpiReader over each capture (`--ndpi-reader=PATH` for another binary).
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true,
          default_missing_value = NDPI_READER, conflicts_with = "from")]
    pub ndpi_reader: Option<PathBuf>,
    /// Read label files of this kind instead of running a tool.
    #[arg(long, value_enum, value_name = "KIND")]
    pub from: Option<FromArg>,
    /// Write label files here, in the corpus layout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Protocol-name registry for lpi and argus names.
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// Parallel runs of the tool (0: one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// No progress bar, no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Captures (with --ndpi-reader) or label files (with --from).
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<String>,
}

/// Why running ndpiReader over a capture failed.
#[derive(Debug)]
pub enum RunError {
    /// The binary could not be started because it does not exist.
    Missing(PathBuf),
    /// Any other failure, with its description.
    Failed(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Missing(p) => write!(
                f,
                "ndpiReader not found: `{}` (install Debian's libndpi-bin, or pass --ndpi-reader=PATH)",
                p.display()
            ),
            RunError::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for RunError {}

/// The capture's file name, used to name its label files.
fn capture_name(capture: &Path) -> String {
    capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| capture.display().to_string())
}

/// Runs `reader` over `capture` and writes `labels/ndpi/<capture>.csv` and
/// `expected/<capture>.out` under `root`.
pub fn run_ndpi_reader(reader: &Path, capture: &Path, root: &Path) -> Result<(), RunError> {
    let name = capture_name(capture);
    let csv = LabelSource::NdpiCsv.path(root, &name);
    let out = LabelSource::NdpiOut.path(root, &name);
    for p in [&csv, &out] {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| RunError::Failed(format!("{}: {e}", d.display())))?;
        }
    }
    let stdout = std::fs::File::create(&out)
        .map_err(|e| RunError::Failed(format!("{}: {e}", out.display())))?;
    let result = Command::new(reader)
        .args(["-q", "-t", "-v", "2", "-i"])
        .arg(capture)
        .arg("-C")
        .arg(&csv)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output();
    let output = match result {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(&out);
            return Err(RunError::Missing(reader.to_owned()));
        }
        Err(e) => {
            return Err(RunError::Failed(format!("{}: {e}", reader.display())));
        }
    };
    // ndpiReader 4.2 reports a capture it cannot read with an `ERROR:`
    // line on standard output and exit status 0: its own words are the
    // message either way.
    let error_line = std::fs::read(&out).ok().and_then(|text| {
        String::from_utf8_lossy(&text)
            .lines()
            .find(|l| l.trim_start().starts_with("ERROR"))
            .map(|l| l.trim().to_string())
    });
    if !output.status.success() || error_line.is_some() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let msg: Vec<&str> = [stderr.trim(), error_line.as_deref().unwrap_or("")]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&csv);
        return Err(RunError::Failed(format!(
            "{}: ndpiReader failed ({}): {}",
            capture.display(),
            output.status,
            if msg.is_empty() {
                "it printed no message".to_string()
            } else {
                msg.join("; ")
            }
        )));
    }
    if !csv.is_file() {
        std::fs::write(&csv, b"")
            .map_err(|e| RunError::Failed(format!("{}: {e}", csv.display())))?;
    }
    Ok(())
}

fn print_records(out: &mut dyn Write, parsed: &ParsedLabels) -> io::Result<()> {
    for r in &parsed.records {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn summary(parsed: &ParsedLabels) -> String {
    let named = parsed
        .records
        .iter()
        .filter(|r| crate::align::named(r.master.as_deref()).is_some())
        .count();
    format!(
        "{}: {} flows, {} named, {} malformed lines",
        parsed.capture,
        parsed.records.len(),
        named,
        parsed.malformed_lines
    )
}

/// Runs `dpi label`.
pub fn run(args: LabelArgs) -> anyhow::Result<ExitCode> {
    let registry = match &args.names {
        Some(p) => NameRegistry::load(p)?,
        None => NameRegistry::builtin(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if let Some(from) = args.from {
        let mut failed = false;
        for f in &args.inputs {
            let (parsed, error) = match labels::import_file(from.source(), Path::new(f), &registry)
            {
                Ok(p) => (Some(p), None),
                Err(e) => (e.partial().cloned(), Some(e)),
            };
            if let Some(p) = &parsed {
                print_records(&mut out, p)?;
                if !args.quiet {
                    eprintln!("dpi: {}", summary(p));
                    for m in &p.malformed {
                        eprintln!("dpi: malformed: {m}");
                    }
                    if p.malformed_lines > p.malformed.len() {
                        eprintln!(
                            "dpi: ... and {} more malformed lines, not shown",
                            p.malformed_lines - p.malformed.len()
                        );
                    }
                }
            }
            if let Some(e) = error {
                eprintln!("dpi: error: {e}");
                failed = true;
            }
        }
        out.flush()?;
        return Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let Some(reader) = &args.ndpi_reader else {
        anyhow::bail!("say what to do: --ndpi-reader[=PATH] to run ndpiReader over captures, or --from KIND to read label files");
    };
    let temp;
    let root: &Path = match &args.out_dir {
        Some(d) => d,
        None => {
            temp = std::env::temp_dir().join(format!("dpi-label-{}", std::process::id()));
            &temp
        }
    };
    let threads = if args.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        args.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let pb = progress_bar(&args.inputs, !args.quiet, "ndpiReader");
    let results: Vec<Result<(), RunError>> = pool.install(|| {
        args.inputs
            .par_iter()
            .map(|c| {
                let r = run_ndpi_reader(reader, Path::new(c), root);
                pb.inc(std::fs::metadata(c).map(|m| m.len()).unwrap_or(0));
                r
            })
            .collect()
    });
    pb.finish_and_clear();
    if let Some(Err(e @ RunError::Missing(_))) = results.first() {
        anyhow::bail!("{e}");
    }
    let corpus = Corpus::open(root)?;
    let mut failed = 0usize;
    for (c, r) in args.inputs.iter().zip(results) {
        if let Err(e) = r {
            eprintln!("dpi: error: {e}");
            failed += 1;
            continue;
        }
        let name = capture_name(Path::new(c));
        match reference::load(&corpus, &name, Tool::Ndpi, &registry) {
            Ok(Some(p)) => {
                if args.out_dir.is_none() {
                    print_records(&mut out, &p)?;
                }
                if !args.quiet {
                    eprintln!("dpi: {}", summary(&p));
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("dpi: error: {e}");
                failed += 1;
            }
        }
    }
    out.flush()?;
    if args.out_dir.is_none() {
        let _ = std::fs::remove_dir_all(root);
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
