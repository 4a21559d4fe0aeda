//! Labels every flow of the captures named on the command line with the
//! built-in signature set and prints one JSON line per flow: the labels
//! `dpi classify` gives, through the public API alone.
//!
//! ```text
//! cargo run --release -p dpi-core --example classify -- CAPTURE...
//! ```
//!
//! Each capture is its own flow table, as in `dpi classify`. A capture that
//! cannot be read is reported on standard error with its file and byte
//! offset; the flows read before the error are still printed, and the exit
//! status is 1.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use dpi_core::matcher::Scratch;
use dpi_core::{Classifier, Flow, FlowConfig, FlowMeter};

/// The JSON line of one labelled flow.
fn json_line(
    out: &mut impl Write,
    file: &str,
    flow: &Flow,
    classifier: &Classifier,
    bytes: usize,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let (c, _meta) = classifier.classify_flow(flow, bytes, scratch);
    // IANA protocol keywords (Assigned Internet Protocol Numbers registry).
    let transport = match flow.protocol {
        1 => "icmp".to_string(),
        2 => "igmp".to_string(),
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        47 => "gre".to_string(),
        50 => "esp".to_string(),
        51 => "ah".to_string(),
        58 => "icmpv6".to_string(),
        89 => "ospf".to_string(),
        103 => "pim".to_string(),
        112 => "vrrp".to_string(),
        113 => "pgm".to_string(),
        132 => "sctp".to_string(),
        n => n.to_string(),
    };
    let line = serde_json::json!({
        "file": file,
        "transport": transport,
        "src_ip": flow.client.to_string(),
        "src_port": flow.client_port,
        "dst_ip": flow.server.to_string(),
        "dst_port": flow.server_port,
        "protocol": &*c.protocol,
        "app": c.app.as_deref(),
        "confidence": c.confidence.as_str(),
    });
    writeln!(out, "{line}")
}

/// Classifies every capture of `paths` into `out`; returns how many could
/// not be read (each reported on standard error).
pub fn run(paths: &[String], out: &mut impl Write) -> io::Result<usize> {
    let classifier = Classifier::builtin();
    let cfg = FlowConfig::classification();
    let bytes = cfg.payload_bytes;
    let mut scratch = Scratch::new();
    let mut failed = 0;
    for path in paths {
        let mut meter = FlowMeter::new(cfg.clone());
        let mut flows = Vec::new();
        let summary = meter.read_file(path, &mut |f| flows.push(f));
        meter.flush(&mut |f| flows.push(f));
        for flow in &flows {
            json_line(out, path, flow, &classifier, bytes, &mut scratch)?;
        }
        if let Some(e) = summary.error {
            eprintln!("classify: {e}");
            failed += 1;
        }
    }
    out.flush()?;
    Ok(failed)
}

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: classify CAPTURE...");
        return ExitCode::from(2);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match run(&paths, &mut out) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("classify: {e}");
            ExitCode::FAILURE
        }
    }
}
