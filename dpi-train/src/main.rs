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
    #[command(after_help = EXTRACT_EXAMPLES)]
    Extract(commands::extract::ExtractArgs),
    /// Label every flow: protocol, app, confidence and the deciding signature.
    #[command(after_help = CLASSIFY_EXAMPLES)]
    Classify(commands::classify::ClassifyArgs),
    /// Reference labels: run ndpiReader over captures, or read label files.
    #[command(after_help = LABEL_EXAMPLES)]
    Label(commands::label::LabelArgs),
    /// Line up reference labels with our flows; write the aligned dataset.
    #[command(after_help = ALIGN_EXAMPLES)]
    Align(commands::align::AlignArgs),
    /// Agreement of a label source with a reference: coverage, accuracy, precision, per protocol.
    #[command(after_help = EVAL_EXAMPLES)]
    Eval(commands::eval::EvalArgs),
    /// Mine signatures from reference labels, validate them on held-out captures, grow a std.sig.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(commands::train::TrainArgs),
    /// Unite signature files: one record per rule, support added.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(commands::train::MergeArgs),
    /// Convert another tool's rules (nDPI's protos.txt) into dpi rules.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(commands::convert::ConvertArgs),
}

const EXTRACT_EXAMPLES: &str = "Examples:
  dpi extract capture.pcap > flows.jsonl
  dpi extract --format csv --bytes 128 -o flows.csv a.pcap b.pcapng
  dpi extract --format parquet -o flows.parquet captures/*.pcap
  dpi extract -i eth0 --bpf \"tcp port 443\" > flows.jsonl      (until Ctrl-C)";

const CLASSIFY_EXAMPLES: &str = "Examples:
  dpi classify capture.pcap
  dpi classify --format jsonl -q captures/*.pcap > labels.jsonl
  dpi classify --format parquet -o labels.parquet captures/*.pcap
  dpi classify --sig my.rules --sig signatures/std.sig capture.pcap
  dpi classify --format jsonl --ipfix 127.0.0.1:4739 capture.pcap > labels.jsonl
  dpi classify --ipfix tcp://collector.example:4739 --ipfix-domain 7 capture.pcap
  tcpdump -i eth0 -w - | dpi classify --format jsonl -
  dpi classify -i eth0 --bpf \"udp port 53\" --format jsonl     (until Ctrl-C or SIGTERM)";

const LABEL_EXAMPLES: &str = "Examples:
  dpi label --ndpi-reader --out-dir corpus/ corpus/pcap/*.pcap
  dpi label --ndpi-reader=/opt/ndpi/bin/ndpiReader capture.pcap > ndpi.jsonl
  dpi label --from lpi labels/lpi/capture.pcap.txt";

const ALIGN_EXAMPLES: &str = "Examples:
  dpi align --corpus corpus/ -o aligned.jsonl
  dpi align --corpus corpus/ --reference ndpi --parquet aligned.parquet --report counts.csv -o aligned.jsonl";

const EVAL_EXAMPLES: &str = "Examples:
  dpi eval --corpus corpus/ --reference ndpi --candidate dpi
  dpi eval --corpus corpus/ --reference ndpi --candidate dpi --out-dir report/
  dpi eval --corpus corpus/ --reference ndpi --candidate dpi --folds 4 --format json
  dpi eval --corpus corpus/ --reference ndpi --candidate lpi --only-dpi-confidence";

const TRAIN_EXAMPLES: &str = "Examples:
  dpi train --corpus corpus/ -o std.sig
  dpi train --corpus a/ --corpus b/ --reference ndpi --reference lpi --base signatures/std.sig -o std.sig
  dpi train --corpus corpus/ --partial -o part1.json --only-part 1/2
  dpi train --from-partials part1.json part2.json -o std.sig";

const MERGE_EXAMPLES: &str = "Examples:
  dpi merge -o std.sig one.sig two.sig
  dpi merge -o std.sig --extended-out std.rules one.sig two.rules";

const CONVERT_EXAMPLES: &str = "Examples:
  dpi convert --from ndpi-protos protos.txt -o custom.rules
  dpi classify --sig custom.rules --sig signatures/default.rules capture.pcap";

/// The exit statuses, as `dpi --help` shows them.
const EXIT_STATUS: &str = "Exit status: 0 when everything was read and written, or when the \
reader of the output went away (a closed pipe, as with `| head`: the program ends quietly); 1 \
when an input could not be used (a capture, signature or label file that is missing, corrupt or \
over a limit: what could be read is still written, and the message names the file and place) or \
the run failed (an output that cannot be written; a live capture on an interface that does not \
exist, that may not be captured on, or whose reading failed); 2 when the command line is wrong \
(also a --bpf filter that does not compile). A live capture (-i) ends with 0 on SIGINT or \
SIGTERM, after every live flow is written.";

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
