//! The `dpi` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dpi_train::commands;

/// Protocol classification and signature training over packet captures.
#[derive(Parser)]
#[command(name = "dpi", version, about, long_about = None, after_help = EXIT_STATUS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write one record per flow: endpoints, counters, first payload sizes and user data.
    Extract(commands::extract::ExtractArgs),
    /// Label every flow: protocol, app, confidence and the deciding signature.
    Classify(commands::classify::ClassifyArgs),
    /// Reference labels: run ndpiReader over captures, or read label files.
    Label(commands::label::LabelArgs),
    /// Line up reference labels with our flows; write the aligned dataset.
    Align(commands::align::AlignArgs),
    /// Agreement of a label source with a reference: coverage, accuracy, precision, per protocol.
    Eval(commands::eval::EvalArgs),
    /// Mine signatures from reference labels, validate them on held-out captures, grow a std.sig.
    Train(commands::train::TrainArgs),
    /// Unite signature files: one record per rule, support added.
    Merge(commands::train::MergeArgs),
    /// Convert another tool's rules (nDPI's protos.txt) into dpi rules.
    Convert(commands::convert::ConvertArgs),
}

/// The exit statuses, as `dpi --help` shows them.
const EXIT_STATUS: &str = "Exit status: 0 when everything was read and written, or when the \
reader of the output went away (a closed pipe, as with `| head`: the program ends quietly); 1 \
when an input could not be used (a capture, signature or label file that is missing, corrupt or \
over a limit: what could be read is still written, and the message names the file and place) or \
the run failed (an output that cannot be written); 2 when the command line is wrong.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Extract(a) => commands::extract::run(a),
        Command::Classify(a) => commands::classify::run(a),
        Command::Label(a) => commands::label::run(a),
        Command::Align(a) => commands::align::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Merge(a) => commands::train::run_merge(a),
        Command::Convert(a) => commands::convert::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpi: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` is a write into a pipe whose reader went away.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
