//! `dpi convert`: rules of another tool as dpi signature rules.
//!
//! `--from ndpi-protos FILE` reads nDPI's custom-protocol file
//! (`protos.txt`, ndpiReader's `-p`) with
//! [`dpi_core::signature::parse_ndpi_protos`]: `tcp:`/`udp:` port lists
//! become port rules, `host:"NAME"` lists `hostname suffix` application
//! rules; what dpi cannot carry (`ip:`, `ipv6:`, `nbpf:`, risk masks,
//! trusted issuers, one-label hosts) is listed on standard error with its
//! line. A file with a bad line is refused whole: every bad line is
//! reported with its file, line and column, nothing is written, and the
//! exit status is 1. The output is the extended format (`.rules`), with
//! each rule's source line as a comment.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use dpi_core::signature::{parse_ndpi_protos, to_extended};

/// Formats `dpi convert` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertFrom {
    /// nDPI's custom-protocol file (`protos.txt`).
    NdpiProtos,
}

/// Arguments of `dpi convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The format of the input.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub from: ConvertFrom,
    /// The file to convert.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
    /// Write the rules here (extended format) instead of standard output.
    #[arg(long, short = 'o', value_name = "OUT.rules")]
    pub output: Option<PathBuf>,
    /// No list of left-out items, no summary on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `dpi convert`.
pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let name = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| anyhow::anyhow!("{name}: cannot read: {e}"))?;
    let import = match args.from {
        ConvertFrom::NdpiProtos => match parse_ndpi_protos(&text, &name) {
            Ok(i) => i,
            Err(e) => {
                eprint!("dpi: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    if !args.quiet {
        for s in &import.skipped {
            eprintln!("dpi: {s}");
        }
    }
    let header = format!(
        "# Converted by dpi {} from {name} (nDPI protos.txt)\n\n",
        env!("CARGO_PKG_VERSION")
    );
    let out = format!("{header}{}", to_extended(&import.set));
    match &args.output {
        Some(p) => std::fs::write(p, &out).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        None => {
            let mut o = std::io::stdout().lock();
            o.write_all(out.as_bytes())?;
            o.flush()?;
        }
    }
    if !args.quiet {
        eprintln!(
            "dpi: {name}: {} port rules, {} application rules; {} items left out",
            import.set.signatures.len(),
            import.set.apps.len(),
            import.skipped.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
