//! `dpi extract`: one record per flow.

use std::io::Write;
use std::process::ExitCode;

use dpi_core::{FileSummary, Flow};

use super::common::{FlowArgs, Report};
use crate::json_line::put_flow_fields;
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
    /// One record, serialised here and written with one call.
    line: Vec<u8>,
    /// The JSON string of `paths[.0]`, escaped once per file.
    file_json: (usize, Vec<u8>),
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
                let rec = FlowRecord::new(&self.paths[file], &flow);
                write_csv_line(&mut self.out, &rec.csv_cells())?
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
    let mut out = args.flow.open_output()?;
    if args.format == RecordFormat::Csv {
        let header: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
        write_csv_line(&mut out, &header)?;
    }
    let mut w = Writer {
        paths: &args.captures,
        format: args.format,
        out,
        line: Vec::with_capacity(1024),
        file_json: (0, Vec::new()),
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use dpi_core::{DirectionStats, FlowEnd, Timestamp, Tunnel};

    use super::*;

    fn flow(i: u32) -> Flow {
        let stats = |packets: u64, sizes: Vec<u32>| DirectionStats {
            packets,
            bytes: packets * 1514 + u64::from(i),
            payload_bytes: 0,
            first_ts: None,
            last_ts: None,
            first_payload_ts: None,
            tcp_flags: 0,
            sizes,
            iats: Vec::new(),
        };
        let v4 = |v: u32| IpAddr::V4(Ipv4Addr::from(v.wrapping_mul(2_654_435_761)));
        Flow {
            protocol: [6, 17, 1, 58, 132, 99, 255, 0][i as usize % 8],
            client: if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16))
            } else {
                v4(i)
            },
            client_port: (i * 7919) as u16,
            server: if i % 7 == 6 {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            } else {
                v4(i + 1)
            },
            server_port: [0, 1, 80, 443, 65535][i as usize % 5],
            vlan: [0, 1, 4095][i as usize % 3],
            tunnel: [
                None,
                Some(Tunnel::Gtp),
                Some(Tunnel::Vxlan),
                Some(Tunnel::IpInIp),
            ][i as usize % 4],
            first_ts: Timestamp::from_nanos(
                u64::from(i) * 123_456_789_011 % 1_800_000_000_000_000_000,
            ),
            last_ts: Timestamp::from_micros(u64::from(i) * 1_000_003),
            c2s: stats(u64::from(i) * 3, (0..i % 9).map(|k| k * 100 + i).collect()),
            s2c: stats(u64::from(i).pow(3), vec![]),
            c2s_payload: (0..(i * 13 % 70) as u8)
                .map(|b| b.wrapping_mul(37))
                .collect(),
            s2c_payload: if i % 3 == 0 {
                Vec::new()
            } else {
                vec![0xff, 0, 0x0a, i as u8]
            },
            end: FlowEnd::Flushed,
        }
    }

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
            let mut want = serde_json::to_vec(&FlowRecord::new(file, &f)).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(&want),
                "flow {i}"
            );
        }
    }
}
