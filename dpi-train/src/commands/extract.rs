//! `dpi extract`: one record per flow.

use std::io::Write;
use std::process::ExitCode;

use dpi_core::{FileSummary, Flow};

use super::common::{FlowArgs, Report};
use crate::json_line::put_flow_fields;
use crate::output::parquet::{Columns, ParquetFlows};
use crate::record::{flow_csv_cells, write_csv_line, RecordFormat, CSV_COLUMNS};
use crate::runner::FlowSink;

/// Arguments of `dpi extract`.
#[derive(clap::Args, Debug)]
pub struct ExtractArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RecordFormat::Jsonl)]
    pub format: RecordFormat,
    #[command(flatten)]
    pub flow: FlowArgs,
    #[command(flatten)]
    pub live: crate::live::LiveArgs,
    /// pcap or pcapng files; `-` reads standard input as a stream.
    #[arg(required_unless_present = "interface", value_name = "CAPTURE")]
    pub captures: Vec<String>,
}

struct Writer<'a> {
    paths: &'a [String],
    format: RecordFormat,
    out: Box<dyn Write>,
    /// One record, serialised here and written with one call.
    line: Vec<u8>,
    /// The JSON string of `paths[.0]`, escaped once per file.
    file_json: (usize, Vec<u8>),
    /// The Parquet file of `--format parquet`.
    parquet: Option<ParquetFlows>,
    report: Report,
}

/// Appends the JSON line of `flow`, byte for byte what `serde_json` writes
/// for its [`FlowRecord`]. `file_json` is the capture path as a JSON string.
fn put_json_record(out: &mut Vec<u8>, file_json: &[u8], flow: &Flow) -> serde_json::Result<()> {
    put_flow_fields(out, file_json, flow, true)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

impl FlowSink for Writer<'_> {
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
        match self.format {
            RecordFormat::Jsonl => {
                if self.file_json.0 != file || self.file_json.1.is_empty() {
                    self.file_json.1.clear();
                    serde_json::to_writer(&mut self.file_json.1, &self.paths[file])?;
                    self.file_json.0 = file;
                }
                self.line.clear();
                put_json_record(&mut self.line, &self.file_json.1, &flow)?;
                self.out.write_all(&self.line)?;
            }
            RecordFormat::Csv => {
                write_csv_line(&mut self.out, &flow_csv_cells(&self.paths[file], &flow))?
            }
            RecordFormat::Parquet => {
                if let Some(p) = &mut self.parquet {
                    p.push(&self.paths[file], &flow, None)?;
                }
            }
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
    if let Err(e) = crate::live::check_filter(&args.live) {
        eprintln!("dpi: error: {e}");
        return Ok(ExitCode::from(2));
    }
    let parquet = if args.format == RecordFormat::Parquet {
        let columns = Columns {
            payload: true,
            labels: false,
        };
        Some(ParquetFlows::create(args.flow.parquet_path()?, columns)?)
    } else {
        None
    };
    let streaming = super::common::streaming_input(&args.captures, &args.live);
    let mut out = args.flow.open_output_unless(parquet.is_some(), streaming)?;
    if args.format == RecordFormat::Csv {
        let header: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
        write_csv_line(&mut out, &header)?;
    }
    let paths = super::common::input_names(&args.captures, &args.live);
    let mut w = Writer {
        paths: &paths,
        format: args.format,
        out,
        line: Vec::with_capacity(1024),
        file_json: (0, Vec::new()),
        parquet,
        report: Report::of(&args.live),
    };
    let failed =
        super::common::run_inputs(&args.captures, &args.live, &args.flow.run_options(), &mut w)?;
    w.out.flush()?;
    if let Some(p) = w.parquet.take() {
        p.finish()?;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(w.report.finish(args.flow.quiet))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_line::sample_flow as flow;
    use crate::record::FlowRecord;

    #[test]
    fn json_lines_match_the_serde_record() {
        let files = [
            "a.pcap",
            "/tmp/dir with space/x.pcapng",
            "quote\"back\\slash\ttab",
            "é.pcap",
        ];
        let mut line = Vec::new();
        for i in 0..200 {
            let f = flow(i);
            let file = files[i as usize % files.len()];
            let file_json = serde_json::to_vec(file).unwrap();
            line.clear();
            put_json_record(&mut line, &file_json, &f).unwrap();
            let mut rec = FlowRecord::new(file, &f);
            (rec.first_ts, rec.last_ts) = (0.5, 0.25);
            let serde = String::from_utf8(serde_json::to_vec(&rec).unwrap()).unwrap();
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
