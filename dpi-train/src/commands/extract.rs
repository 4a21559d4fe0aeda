//! `dpi extract`: one record per flow.

use std::io::Write;
use std::process::ExitCode;

use dpi_core::{FileSummary, Flow};

use super::common::{FlowArgs, Report};
use crate::record::{write_csv_line, FlowRecord, RecordFormat, CSV_COLUMNS};
use crate::runner::{run_files, FlowSink};

/// Arguments of `dpi extract`.
#[derive(clap::Args, Debug)]
pub struct ExtractArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RecordFormat::Jsonl)]
    pub format: RecordFormat,
    #[command(flatten)]
    pub flow: FlowArgs,
    /// pcap or pcapng files.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<String>,
}

struct Writer<'a> {
    paths: &'a [String],
    format: RecordFormat,
    out: Box<dyn Write>,
    report: Report,
}

impl FlowSink for Writer<'_> {
    fn flow(&mut self, file: usize, flow: Flow) -> anyhow::Result<()> {
        let rec = FlowRecord::new(&self.paths[file], &flow);
        match self.format {
            RecordFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, &rec)?;
                self.out.write_all(b"\n")?;
            }
            RecordFormat::Csv => write_csv_line(&mut self.out, &rec.csv_cells())?,
        }
        self.report.flows += 1;
        Ok(())
    }

    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()> {
        self.out.flush()?;
        self.report.file_done(&self.paths[file], &summary);
        Ok(())
    }
}

/// Runs `dpi extract`.
pub fn run(args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let mut out = args.flow.open_output()?;
    if args.format == RecordFormat::Csv {
        let header: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
        write_csv_line(&mut out, &header)?;
    }
    let mut w = Writer {
        paths: &args.captures,
        format: args.format,
        out,
        report: Report::default(),
    };
    run_files(&args.captures, &args.flow.run_options(), &mut w)?;
    w.out.flush()?;
    w.report.finish(args.flow.quiet);
    Ok(if w.report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
