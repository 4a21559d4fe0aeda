//! libprotoident's `lpi_protoident` output: one flow per line, 16 fields
//! separated by spaces.
//!
//! ```text
//! HTTP 183.131.48.145 192.168.115.8 80 49612 6 1470104381.895 1470104382.124 633 864 48545450 HTTP 633 47455420 GET. 432
//! ```
//!
//! Fields: protocol name; IP of endpoint A (the destination of the first
//! packet, the server) and of endpoint B (the client); port of A and of B;
//! IP protocol number; first and last packet time; payload bytes in
//! direction 0 and 1; then per direction the first 4 payload bytes as hex,
//! the same as ASCII and the size of the first payload-bearing packet.
//! The record's `src` is B and its `dst` is A. Names such as
//! `Unknown_TCP`, `No_Payload` or `Unsupported` (not TCP/UDP) are kept as
//! the protocol; the registry maps them to no nDPI name. Ports of
//! transports without ports are set to 0, as nDPI prints them. A last
//! line with no line end is where the file was cut: an incomplete import
//! that keeps the flows before it.

use std::path::Path;

use super::error::ImportError;
use super::record::{LabelRecord, LpiPayload, ParsedLabels, Tool};
use super::registry::{Mapping, NameRegistry};
use super::text;

/// Reads an `lpi_protoident` output file.
pub fn parse_file(path: &Path, registry: &NameRegistry) -> Result<ParsedLabels, ImportError> {
    let data = text::read(path)?;
    parse_bytes(path, &text::capture_name(path), &data, registry)
}

/// Reads the contents of an `lpi_protoident` output file; `path` is only
/// used in messages.
pub fn parse_bytes(
    path: &Path,
    capture: &str,
    data: &[u8],
    registry: &NameRegistry,
) -> Result<ParsedLabels, ImportError> {
    let (data, cut) = text::split_truncated(data);
    let mut out = ParsedLabels::new(path.to_owned(), capture.to_owned());
    let mut first_bad = None;
    for (n, line) in text::lines(data) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line, capture, n) {
            Ok(mut r) => {
                r.master = match registry.map(Tool::Lpi, &r.protocol) {
                    Mapping::Ndpi(name) => Some(name),
                    Mapping::NoEquivalent => None,
                    Mapping::Unmapped => {
                        *out.unmapped.entry(r.protocol.clone()).or_default() += 1;
                        None
                    }
                };
                out.records.push(r);
            }
            Err(reason) => {
                first_bad.get_or_insert(n);
                out.malformed_line(n, reason);
            }
        }
    }
    if let (true, Some(n)) = (out.records.is_empty(), first_bad) {
        return Err(ImportError::wrong_format(
            path,
            format!("no line has the 16 lpi_protoident fields (first bad line: {n})"),
        ));
    }
    text::finish(out, cut)
}

fn parse_line(line: &str, capture: &str, n: usize) -> Result<LabelRecord, String> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    if f.len() != 16 {
        return Err(format!("{} fields, expected 16", f.len()));
    }
    let ip = |i: usize| text::ip(f[i]).ok_or_else(|| format!("bad address `{}`", f[i]));
    let int = |i: usize| -> Result<u64, String> {
        f[i].parse()
            .map_err(|_| format!("field {} is not a number: `{}`", i + 1, f[i]))
    };
    let port = |i: usize| -> Result<u16, String> {
        f[i].parse().map_err(|_| format!("bad port `{}`", f[i]))
    };
    let float = |i: usize| -> Result<f64, String> {
        f[i].parse().map_err(|_| format!("bad time `{}`", f[i]))
    };
    let transport: u8 = f[5]
        .parse()
        .map_err(|_| format!("bad IP protocol `{}`", f[5]))?;
    let (mut a_port, mut b_port) = (port(3)?, port(4)?);
    if !text::has_ports(transport) {
        (a_port, b_port) = (0, 0);
    }
    let size = |i: usize| -> Result<u32, String> {
        f[i].parse()
            .map_err(|_| format!("bad packet size `{}`", f[i]))
    };
    let hex = |i: usize| -> Result<String, String> {
        if f[i].len() == 8 && f[i].bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(f[i].to_owned())
        } else {
            Err(format!("field {} is not 8 hex digits: `{}`", i + 1, f[i]))
        }
    };
    let mut r = LabelRecord::new(
        Tool::Lpi,
        capture,
        transport,
        (ip(2)?, b_port),
        (ip(1)?, a_port),
        f[0].to_owned(),
        None,
        n,
    );
    r.first_ts = Some(float(6)?);
    r.last_ts = Some(float(7)?);
    r.lpi = Some(LpiPayload {
        bytes: [int(8)?, int(9)?],
        first4: [hex(10)?, hex(13)?],
        first_size: [size(12)?, size(15)?],
    });
    Ok(r)
}
