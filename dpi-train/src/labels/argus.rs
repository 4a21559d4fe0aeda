//! argus flow records labelled by `raservices`: tab-separated, with a
//! header row.
//!
//! ```text
//! StartTime LastTime Proto SrcAddr Sport Dir DstAddr Dport SrcPkts DstPkts SrcBytes DstBytes State Cause Label srcUdata dstUdata
//! ```
//!
//! Columns are found by name; required are `StartTime`, `LastTime`,
//! `Proto`, `SrcAddr`, `Sport`, `DstAddr`, `Dport` and `Label`. One record
//! per argus flow record: a flow active for longer than the status interval
//! gives several records, each labelled on its own.
//!
//! - `Label` is `srv=NAME` or empty; the record's protocol is `NAME`
//!   (empty when unlabelled) and its master the nDPI name the registry
//!   gives.
//! - ARP records (`Proto` 2054, an ethertype) and LLC records (`Proto` 0
//!   with MAC addresses) are not IP: they are skipped and counted in
//!   [`ParsedLabels::skipped_non_ip`].
//! - For ICMP, `Sport` is `0xCCTT` (code, type); for ICMPv6 `Sport` is the
//!   type and `Dport` the code. Both go to [`LabelRecord::icmp`], and the
//!   ports are 0, as nDPI prints them.
//!
//! A last line with no line end is where the file was cut: an incomplete
//! import that keeps the records before it.

use std::path::Path;

use super::error::ImportError;
use super::record::{LabelRecord, ParsedLabels, Tool};
use super::registry::{Mapping, NameRegistry};
use super::text;

const REQUIRED: [&str; 8] = [
    "StartTime",
    "LastTime",
    "Proto",
    "SrcAddr",
    "Sport",
    "DstAddr",
    "Dport",
    "Label",
];
const OPTIONAL: [&str; 4] = ["SrcPkts", "DstPkts", "SrcBytes", "DstBytes"];

/// Reads an argus/raservices label file.
pub fn parse_file(path: &Path, registry: &NameRegistry) -> Result<ParsedLabels, ImportError> {
    let data = text::read(path)?;
    parse_bytes(path, &text::capture_name(path), &data, registry)
}

struct Columns {
    required: [usize; 8],
    optional: [Option<usize>; 4],
    needed: usize,
}

fn header(path: &Path, line: &str) -> Result<Columns, ImportError> {
    let names: Vec<&str> = line.split('\t').map(str::trim).collect();
    if !names.contains(&"StartTime") {
        return Err(ImportError::wrong_format(
            path,
            "the first line is not an argus header (`StartTime<TAB>LastTime<TAB>Proto...`)",
        ));
    }
    let text::Columns {
        required,
        optional,
        end: needed,
    } = text::find_columns(path, &names, REQUIRED, OPTIONAL)?;
    Ok(Columns {
        required,
        optional,
        needed,
    })
}

/// Reads the contents of an argus/raservices label file; `path` is only
/// used in messages.
pub fn parse_bytes(
    path: &Path,
    capture: &str,
    data: &[u8],
    registry: &NameRegistry,
) -> Result<ParsedLabels, ImportError> {
    let (data, cut) = text::split_truncated(data);
    let mut out = ParsedLabels::new(path.to_owned(), capture.to_owned());
    let mut lines = text::lines(data);
    let Some((_, first)) = lines.next().filter(|_| !text::is_blank(data)) else {
        return text::finish(out, cut);
    };
    let cols = header(path, &first)?;
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(&line, &cols, capture, n) {
            Ok(Row::NonIp) => out.skipped_non_ip += 1,
            Ok(Row::Ip(mut r)) => {
                if r.is_labelled() {
                    r.master = match registry.map(Tool::Argus, &r.protocol) {
                        Mapping::Ndpi(name) => Some(name),
                        Mapping::NoEquivalent => None,
                        Mapping::Unmapped => {
                            *out.unmapped.entry(r.protocol.clone()).or_default() += 1;
                            None
                        }
                    };
                }
                out.records.push(*r);
            }
            Err(reason) => out.malformed_line(n, reason),
        }
    }
    text::finish(out, cut)
}

enum Row {
    Ip(Box<LabelRecord>),
    NonIp,
}

fn parse_row(line: &str, cols: &Columns, capture: &str, n: usize) -> Result<Row, String> {
    let f: Vec<&str> = line.split('\t').map(str::trim).collect();
    if f.len() < cols.needed {
        return Err(format!(
            "{} fields, expected at least {}",
            f.len(),
            cols.needed
        ));
    }
    let [start, last, proto, saddr, sport, daddr, dport, label] = cols.required.map(|i| f[i]);
    let proto: u32 = proto.parse().map_err(|_| format!("bad Proto `{proto}`"))?;
    let (Ok(transport), Some(src_ip), Some(dst_ip)) =
        (u8::try_from(proto), text::ip(saddr), text::ip(daddr))
    else {
        return Ok(Row::NonIp);
    };
    let sport_n = port_value(sport)?;
    let dport_n = port_value(dport)?;
    let (icmp, ports) = match transport {
        1 => (Some(((sport_n & 0xff) as u8, (sport_n >> 8) as u8)), (0, 0)),
        58 => {
            let t = u8::try_from(sport_n).map_err(|_| format!("bad ICMPv6 type `{sport}`"))?;
            let c = u8::try_from(dport_n).map_err(|_| format!("bad ICMPv6 code `{dport}`"))?;
            (Some((t, c)), (0, 0))
        }
        t if text::has_ports(t) => {
            let s = u16::try_from(sport_n).map_err(|_| format!("bad Sport `{sport}`"))?;
            let d = u16::try_from(dport_n).map_err(|_| format!("bad Dport `{dport}`"))?;
            (None, (s, d))
        }
        _ => (None, (0, 0)),
    };
    let protocol = if label.is_empty() {
        String::new()
    } else {
        let name = label
            .strip_prefix("srv=")
            .ok_or_else(|| format!("label `{label}` is not `srv=NAME`"))?;
        if name.is_empty() {
            return Err("empty service name in label".into());
        }
        name.to_owned()
    };
    let time =
        |s: &str| -> Result<f64, String> { s.parse().map_err(|_| format!("bad time `{s}`")) };
    let mut r = LabelRecord::new(
        Tool::Argus,
        capture,
        transport,
        (src_ip, ports.0),
        (dst_ip, ports.1),
        protocol,
        None,
        n,
    );
    r.icmp = icmp;
    r.first_ts = Some(time(start)?);
    r.last_ts = Some(time(last)?);
    let count = |c: Option<usize>, name: &str| -> Result<Option<u64>, String> {
        match c.map(|i| f[i]).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| format!("bad {name} `{s}`")),
        }
    };
    let [sp, dp, sb, db] = cols.optional;
    r.src_packets = count(sp, "SrcPkts")?;
    r.dst_packets = count(dp, "DstPkts")?;
    r.src_bytes = count(sb, "SrcBytes")?;
    r.dst_bytes = count(db, "DstBytes")?;
    Ok(Row::Ip(Box::new(r)))
}

/// A port column: decimal, `0x` hex, or empty (0).
fn port_value(s: &str) -> Result<u32, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let v = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.map_err(|_| format!("bad port `{s}`"))
}
