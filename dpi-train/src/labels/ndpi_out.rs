//! ndpiReader's verbose per-flow text (the `.out` files of nDPI's tests).
//!
//! Only flow lines are read. They start with a tab, the flow number and a
//! second tab, then the L4 protocol and the endpoints:
//!
//! ```text
//! \t1\tTCP 192.168.2.126:45380 <-> 161.117.13.29:80 [proto: 7.295/HTTP.1kxun][IP: 274/Alibaba][ClearText][Confidence: DPI]...[7 pkts/4845 bytes <-> 73 pkts/178280 bytes]...
//! ```
//!
//! The L4 protocol is a name (`TCP`, `ICMPV6`, ...) or a number; IPv6
//! addresses are in square brackets; `->` instead of `<->` means one
//! direction only. Bracketed fields read: `[VLAN: n]`, `[proto: ...]`
//! (with an optional tunnel prefix, `[proto: GTP:7/HTTP]`),
//! `[Confidence: ...]` and the packet and byte counters. Flows under
//! `Undetected flows:` are numbered from 1 again; they are read the same
//! way. Files are not all UTF-8: bytes are decoded lossily.
//!
//! The header counts the flows per confidence (`Confidence DPI : 9
//! (flows)`). When it does, the flow lines must agree with it: a file
//! holding fewer (cut short, or with flow lines lost) or other flows is an
//! incomplete import, an error that keeps the records read. A last line
//! with no line end is reported as where the file was cut. ndpiReader run
//! with `-q` prints no header; then there is nothing to check against.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::error::ImportError;
use super::record::{split_ndpi_name, LabelRecord, ParsedLabels, Tool};
use super::text;

/// Reads an ndpiReader `.out` file.
pub fn parse_file(path: &Path) -> Result<ParsedLabels, ImportError> {
    let data = text::read(path)?;
    parse_bytes(path, &text::capture_name(path), &data)
}

/// Reads the contents of an ndpiReader `.out` file; `path` is only used in
/// messages.
pub fn parse_bytes(path: &Path, capture: &str, data: &[u8]) -> Result<ParsedLabels, ImportError> {
    let (data, cut) = text::split_truncated(data);
    let mut out = ParsedLabels::new(path.to_owned(), capture.to_owned());
    let mut recognised = false;
    let mut promised: BTreeMap<String, u64> = BTreeMap::new();
    for (n, line) in text::lines(data) {
        if !is_flow_line(&line) {
            if let Some((confidence, count)) = confidence_count(&line) {
                let c = promised.entry(confidence.to_owned()).or_default();
                *c = c.saturating_add(count);
                recognised = true;
            } else if line.starts_with("DPI Packets")
                || line.starts_with("Undetected flows:")
                || line.starts_with("Guessed flow protos")
            {
                recognised = true;
            }
            continue;
        }
        recognised = true;
        match parse_flow_line(&line, capture, n) {
            Ok(r) => out.records.push(r),
            Err(reason) => out.malformed_line(n, reason),
        }
    }
    if !recognised && !text::is_blank(data) {
        return Err(ImportError::wrong_format(
            path,
            "no ndpiReader flow line and no ndpiReader statistics found",
        ));
    }
    if cut.is_none() {
        if let Some(reason) = count_mismatch(&out, &promised) {
            return Err(ImportError::incomplete(None, reason, out));
        }
    }
    text::finish(out, cut)
}

/// `Confidence DPI              : 9 (flows)` gives (`DPI`, 9).
fn confidence_count(line: &str) -> Option<(&str, u64)> {
    let rest = line.strip_prefix("Confidence ")?;
    let (name, count) = rest.rsplit_once(": ")?;
    let count = count.trim().strip_suffix("(flows)")?.trim().parse().ok()?;
    Some((name.trim(), count))
}

/// Why the flow lines read disagree with the header's counts per
/// confidence, if they do. Malformed flow lines count as flows of unknown
/// confidence: then only the totals are compared.
fn count_mismatch(out: &ParsedLabels, promised: &BTreeMap<String, u64>) -> Option<String> {
    if promised.is_empty() {
        return None;
    }
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for r in &out.records {
        let c = r.confidence.as_deref().unwrap_or("(none)");
        *seen.entry(c.to_owned()).or_default() += 1;
    }
    // Saturating: a header may promise any count; 2^64 flows are never
    // all there, so a saturated sum still reports the file as incomplete.
    let want = promised.values().fold(0u64, |a, &n| a.saturating_add(n));
    let lines = (out.records.len() + out.malformed_lines) as u64;
    let per_confidence_differs = out.malformed.is_empty() && seen != *promised;
    if want == lines && !per_confidence_differs {
        return None;
    }
    let list = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "ndpiReader's header counts {want} flow(s) ({}) but the file holds {lines} flow line(s) ({}{}): \
         flows are missing or the file was altered; the {} flow(s) read were kept",
        list(promised),
        list(&seen),
        if out.malformed.is_empty() {
            String::new()
        } else {
            format!(", {} malformed", out.malformed_lines)
        },
        out.records.len()
    ))
}

/// Whether the line has the shape of a flow line: tab, digits, tab, then a
/// non-space character.
fn is_flow_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('\t') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    rest.strip_prefix('\t')
        .and_then(|r| r.chars().next())
        .is_some_and(|c| !c.is_whitespace())
}

fn parse_flow_line(line: &str, capture: &str, n: usize) -> Result<LabelRecord, String> {
    let rest = line.trim_start_matches('\t');
    let (_, rest) = rest
        .split_once('\t')
        .ok_or("no tab after the flow number")?;
    let mut words = rest.splitn(5, ' ');
    let l4 = words.next().unwrap_or_default();
    let transport =
        text::transport_number(l4).ok_or_else(|| format!("unknown L4 protocol `{l4}`"))?;
    let src = endpoint(words.next().ok_or("line ends before the source")?)?;
    let arrow = words.next().ok_or("line ends before the direction")?;
    if arrow != "<->" && arrow != "->" {
        return Err(format!("expected `<->` or `->`, found `{arrow}`"));
    }
    let dst = endpoint(words.next().ok_or("line ends before the destination")?)?;
    let fields = words.next().ok_or("line ends after the endpoints")?;

    let mut proto = None;
    let mut vlan = None;
    let mut confidence = None;
    let mut counters = None;
    for field in bracketed(fields) {
        if let Some(v) = field.strip_prefix("proto: ") {
            proto = Some(v);
        } else if let Some(v) = field.strip_prefix("VLAN: ") {
            vlan = Some(v.parse::<u16>().map_err(|_| format!("bad VLAN `{v}`"))?);
        } else if let Some(v) = field.strip_prefix("Confidence: ") {
            confidence = Some(v.to_owned());
        } else if field.contains(" pkts/") {
            counters = Some(parse_counters(field)?);
            break;
        }
    }
    let proto = proto.ok_or("no [proto: ...] field")?;
    let (tunnel, id, name) = parse_proto(proto)?;
    let (master, app) = split_ndpi_name(name);
    let mut r = LabelRecord::new(
        Tool::Ndpi,
        capture,
        transport,
        src,
        dst,
        name.to_owned(),
        Some(master),
        n,
    );
    r.app = app;
    r.ndpi_id = Some(id.to_owned());
    r.tunnel = tunnel.map(str::to_owned);
    r.vlan = vlan;
    r.confidence = confidence;
    if let Some([a, b, c, d]) = counters {
        r.src_packets = Some(a);
        r.src_bytes = Some(b);
        r.dst_packets = Some(c);
        r.dst_bytes = Some(d);
    }
    Ok(r)
}

/// `1.2.3.4:80` or `[2001:db8::1]:443`.
fn endpoint(s: &str) -> Result<(IpAddr, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint `{s}` has no port"))?;
    let ip = text::ndpi_ip(host).ok_or_else(|| format!("bad address in `{s}`"))?;
    let port = port
        .parse()
        .map_err(|_| format!("bad port in endpoint `{s}`"))?;
    Ok((ip, port))
}

/// The leading `[...]` fields of `s`, stopping at the first field that is
/// not closed or holds a nested bracket.
fn bracketed(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let body = rest.strip_prefix('[')?;
        let end = body.find(']')?;
        let field = &body[..end];
        if field.contains('[') {
            return None;
        }
        rest = &body[end + 1..];
        Some(field)
    })
}

/// `GTP:7/HTTP` gives (`GTP`, `7`, `HTTP`); `7.295/HTTP.1kxun` gives (none,
/// `7.295`, `HTTP.1kxun`).
fn parse_proto(v: &str) -> Result<(Option<&str>, &str, &str), String> {
    let (ids, name) = v
        .split_once('/')
        .ok_or_else(|| format!("proto `{v}` has no `/`"))?;
    let (tunnel, id) = match ids.split_once(':') {
        Some((t, id)) => (Some(t), id),
        None => (None, ids),
    };
    let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !valid_id || name.is_empty() {
        return Err(format!("bad proto field `{v}`"));
    }
    Ok((tunnel, id, name))
}

/// `7 pkts/4845 bytes <-> 73 pkts/178280 bytes` (or with `->`).
fn parse_counters(v: &str) -> Result<[u64; 4], String> {
    let bad = || format!("bad packet counters `{v}`");
    let (a, b) = v
        .split_once(" <-> ")
        .or_else(|| v.split_once(" -> "))
        .ok_or_else(bad)?;
    let one = |s: &str| -> Option<(u64, u64)> {
        let (p, b) = s.split_once(" pkts/")?;
        let b = b.strip_suffix(" bytes")?;
        Some((p.parse().ok()?, b.parse().ok()?))
    };
    let (p1, b1) = one(a).ok_or_else(bad)?;
    let (p2, b2) = one(b).ok_or_else(bad)?;
    Ok([p1, b1, p2, b2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_field_forms() {
        let cases = [
            ("7.295/HTTP.1kxun", (None, "7.295", "HTTP.1kxun")),
            ("GTP:7/HTTP", (Some("GTP"), "7", "HTTP")),
            (
                "CAPWAP:91.239/TLS.GoogleServices",
                (Some("CAPWAP"), "91.239", "TLS.GoogleServices"),
            ),
            ("0/Unknown", (None, "0", "Unknown")),
        ];
        for (input, want) in cases {
            assert_eq!(parse_proto(input).unwrap(), want, "{input}");
        }
        assert!(parse_proto("HTTP").is_err());
        assert!(parse_proto("x/HTTP").is_err());
    }

    #[test]
    fn confidence_header_lines() {
        assert_eq!(
            confidence_count("Confidence DPI              : 9 (flows)"),
            Some(("DPI", 9))
        );
        assert_eq!(
            confidence_count("Confidence DPI (partial cache): 1 (flows)"),
            Some(("DPI (partial cache)", 1))
        );
        assert_eq!(
            confidence_count("Confidence Match by port    : 12 (flows)"),
            Some(("Match by port", 12))
        );
        assert_eq!(confidence_count("Confidence: DPI"), None);
        assert_eq!(confidence_count("DPI Packets (TCP):\t17"), None);
    }

    #[test]
    fn header_counts_that_overflow_report_an_incomplete_file() {
        // Each count fits in a u64, their sum does not: the file promises
        // more flows than it holds (none), whatever the arithmetic.
        let text = format!(
            "Confidence DPI : {} (flows)\nConfidence Match by port : 1 (flows)\n",
            u64::MAX
        );
        let e = parse_bytes(Path::new("x.out"), "x.pcap", text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("header counts"), "{e}");
    }

    #[test]
    fn flow_line_shape() {
        assert!(is_flow_line(
            "\t1\tTCP 1.2.3.4:1 <-> 5.6.7.8:2 [proto: 7/HTTP]"
        ));
        assert!(!is_flow_line("\t1\t 192.168.5.16             \t 2      "));
        assert!(!is_flow_line("DPI Packets (TCP):\t408"));
        assert!(!is_flow_line("\tHTTP\t12\t3"));
    }
}
