//! ndpiReader's `-k` JSON serialisation: one JSON object per line.
//!
//! Keys read: `src_ip`, `dest_ip`, `src_port` and `dst_port` (absent when
//! 0), `proto` (the L4 name, or a number), `vlan_id` (0 = untagged),
//! `flow_id`, `first_seen`, `last_seen`, `xfer.src2dst_packets` (and the
//! other three counters), and under `ndpi`: `proto`, `proto_id` and
//! `confidence`, an object `{"<id>": "<name>"}` that is absent when the
//! confidence is Unknown. The lines are not in the CSV or `.out` order:
//! join on `flow_id` and the 5-tuple. A last line with no line end is
//! where the file was cut: an incomplete import that keeps the flows
//! before it.

use std::path::Path;

use serde_json::Value;

use super::error::ImportError;
use super::record::{split_ndpi_name, LabelRecord, ParsedLabels, Tool};
use super::text;

/// Reads an ndpiReader JSON-lines file.
pub fn parse_file(path: &Path) -> Result<ParsedLabels, ImportError> {
    let data = text::read(path)?;
    parse_bytes(path, &text::capture_name(path), &data)
}

/// Reads the contents of an ndpiReader JSON-lines file; `path` is only used
/// in messages.
pub fn parse_bytes(path: &Path, capture: &str, data: &[u8]) -> Result<ParsedLabels, ImportError> {
    let (data, cut) = text::split_truncated(data);
    let mut out = ParsedLabels::new(path.to_owned(), capture.to_owned());
    let mut objects = 0usize;
    let mut first_line = None;
    for (n, line) in text::lines(data) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        first_line.get_or_insert(n);
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.malformed_line(n, format!("not JSON: {e}"));
                continue;
            }
        };
        if !value.is_object() {
            out.malformed_line(n, "not a JSON object");
            continue;
        }
        objects += 1;
        match parse_flow(&value, capture, n) {
            Ok(r) => out.records.push(r),
            Err(reason) => out.malformed_line(n, reason),
        }
    }
    if let (0, Some(n)) = (objects, first_line) {
        return Err(ImportError::wrong_format(
            path,
            format!("no line is a JSON object (first non-empty line: {n})"),
        ));
    }
    text::finish(out, cut)
}

fn parse_flow(v: &Value, capture: &str, n: usize) -> Result<LabelRecord, String> {
    let s = |key: &str| v.get(key).and_then(Value::as_str);
    let u = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    let ip = |key: &str| -> Result<std::net::IpAddr, String> {
        let t = s(key).ok_or_else(|| format!("no `{key}`"))?;
        text::ndpi_ip(t).ok_or_else(|| format!("bad `{key}` `{t}`"))
    };
    let port = |key: &str| -> Result<u16, String> {
        match v.get(key) {
            None => Ok(0),
            Some(p) => p
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("bad `{key}` {p}")),
        }
    };
    let l4 = match v.get("proto") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Number(p)) => p.to_string(),
        _ => return Err("no `proto`".into()),
    };
    let transport = text::transport_number(&l4).ok_or_else(|| format!("unknown L4 `{l4}`"))?;
    let ndpi = v.get("ndpi").ok_or("no `ndpi` object")?;
    let name = ndpi
        .get("proto")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or("no `ndpi.proto`")?;
    let (master, app) = split_ndpi_name(name);
    let mut r = LabelRecord::new(
        Tool::Ndpi,
        capture,
        transport,
        (ip("src_ip")?, port("src_port")?),
        (ip("dest_ip")?, port("dst_port")?),
        name.to_owned(),
        Some(master),
        n,
    );
    r.app = app;
    r.ndpi_id = ndpi.get("proto_id").and_then(|i| match i {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    r.confidence = match ndpi.get("confidence") {
        None => Some("Unknown".to_owned()),
        Some(Value::Object(m)) => m.values().next().and_then(Value::as_str).map(str::to_owned),
        Some(other) => return Err(format!("bad `ndpi.confidence` {other}")),
    };
    r.vlan = u(v, "vlan_id")
        .filter(|&id| id != 0)
        .map(|id| u16::try_from(id).map_err(|_| format!("bad `vlan_id` {id}")))
        .transpose()?;
    r.flow_id = u(v, "flow_id");
    r.first_ts = v.get("first_seen").and_then(Value::as_f64);
    r.last_ts = v.get("last_seen").and_then(Value::as_f64);
    if let Some(x) = v.get("xfer") {
        r.src_packets = u(x, "src2dst_packets");
        r.src_bytes = u(x, "src2dst_bytes");
        r.dst_packets = u(x, "dst2src_packets");
        r.dst_bytes = u(x, "dst2src_bytes");
    }
    Ok(r)
}
