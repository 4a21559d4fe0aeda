//! ndpiReader's `-C` CSV.
//!
//! The first line is the header and starts with `#`. Columns are found by
//! name, never by position, so headers of other ndpiReader versions work
//! as long as they have the required columns (`protocol`, `src_ip`,
//! `src_port`, `dst_ip`, `dst_port`, `ndpi_proto`); unknown columns are
//! ignored. nDPI 4.11 separates fields with `|`; Debian's ndpiReader 4.2
//! with `,` and names the protocol by its master only (`HTTP`, `7`). The
//! separator is taken from the header. Neither version quotes fields.
//!
//! With `,` as separator some free-text fields (ALPN lists, TLS versions,
//! flow info) can contain the separator and give a row more fields than
//! the header. Such a row is still read when every column used here comes
//! before the first free-text column; a row with fewer fields than the
//! header is reported as malformed. A last line with no line end is where
//! the file was cut: an incomplete import that keeps the rows before it.

use std::path::Path;

use super::error::ImportError;
use super::record::{split_ndpi_name, LabelRecord, ParsedLabels, Tool};
use super::text;

const REQUIRED: [&str; 6] = [
    "protocol",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "ndpi_proto",
];

const OPTIONAL: [&str; 8] = [
    "flow_id",
    "first_seen",
    "last_seen",
    "ndpi_proto_num",
    "c_to_s_pkts",
    "c_to_s_bytes",
    "s_to_c_pkts",
    "s_to_c_bytes",
];

/// Columns whose text may contain the separator.
fn is_free_text(column: &str) -> bool {
    [
        "server_info",
        "alpn",
        "tls_supported_versions",
        "flow_info",
        "user_agent",
        "ja3",
        "hassh",
        "plen_bins",
    ]
    .iter()
    .any(|t| column.contains(t))
}

/// Reads an ndpiReader CSV file.
pub fn parse_file(path: &Path) -> Result<ParsedLabels, ImportError> {
    let data = text::read(path)?;
    parse_bytes(path, &text::capture_name(path), &data)
}

struct Columns {
    required: [usize; 6],
    optional: [Option<usize>; 8],
    count: usize,
    /// Every used column index is below this one.
    used_end: usize,
    /// Index of the first free-text column.
    free_text: usize,
}

fn header(path: &Path, line: &str) -> Result<(char, Columns), ImportError> {
    let Some(body) = line.strip_prefix('#') else {
        return Err(ImportError::wrong_format(
            path,
            "the first line is not an ndpiReader CSV header (`#flow_id|protocol|...`)",
        ));
    };
    let sep = if body.contains('|') { '|' } else { ',' };
    let names: Vec<&str> = body.split(sep).map(str::trim).collect();
    let text::Columns {
        required,
        optional,
        end: used_end,
    } = text::find_columns(path, &names, REQUIRED, OPTIONAL)?;
    let free_text = names
        .iter()
        .position(|n| is_free_text(n))
        .unwrap_or(names.len());
    let cols = Columns {
        required,
        optional,
        count: names.len(),
        used_end,
        free_text,
    };
    Ok((sep, cols))
}

/// Reads the contents of an ndpiReader CSV file; `path` is only used in
/// messages.
pub fn parse_bytes(path: &Path, capture: &str, data: &[u8]) -> Result<ParsedLabels, ImportError> {
    let (data, cut) = text::split_truncated(data);
    let mut out = ParsedLabels::new(path.to_owned(), capture.to_owned());
    let mut lines = text::lines(data);
    let Some((_, first)) = lines.next().filter(|_| !text::is_blank(data)) else {
        return text::finish(out, cut);
    };
    let (sep, cols) = header(path, &first)?;
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(&line, sep, &cols, capture, n) {
            Ok(r) => out.records.push(r),
            Err(reason) => out.malformed_line(n, reason),
        }
    }
    text::finish(out, cut)
}

fn parse_row(
    line: &str,
    sep: char,
    cols: &Columns,
    capture: &str,
    n: usize,
) -> Result<LabelRecord, String> {
    let f: Vec<&str> = line.split(sep).collect();
    if f.len() < cols.count {
        return Err(format!("{} fields, the header has {}", f.len(), cols.count));
    }
    if f.len() > cols.count && cols.used_end > cols.free_text {
        return Err(format!(
            "{} fields, the header has {}, and the columns needed are not all before the free-text ones",
            f.len(),
            cols.count
        ));
    }
    let [proto_c, sip_c, sport_c, dip_c, dport_c, name_c] = cols.required;
    let transport: u8 = num(f[proto_c], "protocol")?;
    let src_ip = text::ndpi_ip(f[sip_c]).ok_or_else(|| format!("bad src_ip `{}`", f[sip_c]))?;
    let dst_ip = text::ndpi_ip(f[dip_c]).ok_or_else(|| format!("bad dst_ip `{}`", f[dip_c]))?;
    let src_port: u16 = num(f[sport_c], "src_port")?;
    let dst_port: u16 = num(f[dport_c], "dst_port")?;
    let name = f[name_c].trim();
    if name.is_empty() {
        return Err("empty ndpi_proto".into());
    }
    let (master, app) = split_ndpi_name(name);
    let mut r = LabelRecord::new(
        Tool::Ndpi,
        capture,
        transport,
        (src_ip, src_port),
        (dst_ip, dst_port),
        name.to_owned(),
        Some(master),
        n,
    );
    r.app = app;
    let [flow_id, first, last, id, cp, cb, sp, sb] = cols.optional;
    let get = |c: Option<usize>| c.map(|i| f[i].trim()).filter(|s| !s.is_empty());
    r.flow_id = get(flow_id).map(|s| num(s, "flow_id")).transpose()?;
    r.first_ts = get(first).map(|s| num(s, "first_seen")).transpose()?;
    r.last_ts = get(last).map(|s| num(s, "last_seen")).transpose()?;
    r.ndpi_id = get(id).map(str::to_owned);
    r.src_packets = get(cp).map(|s| num(s, "c_to_s_pkts")).transpose()?;
    r.src_bytes = get(cb).map(|s| num(s, "c_to_s_bytes")).transpose()?;
    r.dst_packets = get(sp).map(|s| num(s, "s_to_c_pkts")).transpose()?;
    r.dst_bytes = get(sb).map(|s| num(s, "s_to_c_bytes")).transpose()?;
    Ok(r)
}

fn num<T: std::str::FromStr>(s: &str, column: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| format!("bad {column} `{s}`"))
}
