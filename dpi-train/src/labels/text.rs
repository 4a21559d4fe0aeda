//! Small helpers shared by the importers.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::Path;

use super::error::ImportError;
use super::record::ParsedLabels;

/// Reads a whole file as bytes.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, ImportError> {
    std::fs::read(path).map_err(|e| ImportError::io(path, e))
}

/// The capture a label file describes: its file name without the label
/// extension (`1kxun.pcap.out` gives `1kxun.pcap`).
pub(crate) fn capture_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".out", ".csv", ".json", ".txt"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem.to_owned();
        }
    }
    name
}

/// Lines of a byte buffer, numbered from 1, decoded lossily, without the
/// line terminator: `\n`, `\r\n` or a lone `\r` (files written on any
/// system read the same). A terminator at the very end does not start
/// another line.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = (usize, Cow<'_, str>)> {
    let mut rest = data;
    let mut number = 0usize;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        rest = &rest[end + skip..];
        Some((number, String::from_utf8_lossy(line)))
    })
}

/// Splits off a last line that has no line end: the tools end every line,
/// so such a line is where the file was cut short. Returns the data up to
/// and including the last line end, and the number of the cut line (none
/// when the data ends with a line end or the rest is blank).
pub(crate) fn split_truncated(data: &[u8]) -> (&[u8], Option<usize>) {
    let end = data
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    let (body, tail) = data.split_at(end);
    if is_blank(tail) {
        return (data, None);
    }
    (body, Some(lines(body).count() + 1))
}

/// The result of an import whose data was split by [`split_truncated`]:
/// the labels, or, when the last line was cut, an error that names it and
/// carries the labels read before it.
pub(crate) fn finish(
    out: ParsedLabels,
    truncated: Option<usize>,
) -> Result<ParsedLabels, ImportError> {
    match truncated {
        None => Ok(out),
        Some(line) => Err(ImportError::incomplete(
            Some(line),
            format!(
                "the file ends inside line {line}, which has no line end: the file was cut short; \
                 that line was not read, the {} record(s) before it were",
                out.records.len()
            ),
            out,
        )),
    }
}

/// Parses an IP address, with or without square brackets.
pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Parses an IP address as ndpiReader 4.11 prints it.
///
/// ndpiReader writes a single zero group of an IPv6 address as an empty
/// group, besides the usual `::` for the longest run: `2600:1901::7a0b::`
/// for `2600:1901:0:7a0b::`. When an address has more than one `::`, every
/// `::` but the last is read as one zero group.
pub(crate) fn ndpi_ip(s: &str) -> Option<IpAddr> {
    if let Some(ip) = ip(s) {
        return Some(ip);
    }
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    let last = s.rfind("::")?;
    let (head, tail) = s.split_at(last);
    if !head.contains("::") {
        return None;
    }
    let fixed = format!("{}{tail}", head.replace("::", ":0:"));
    fixed.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// IP protocol number of an L4 name as ndpiReader prints it, or the number
/// itself when it prints one.
pub(crate) fn transport_number(name: &str) -> Option<u8> {
    let n = match name {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "ICMPV6" => 58,
        "IGMP" => 2,
        "GRE" => 47,
        "ESP" => 50,
        "AH" => 51,
        "OSPF" => 89,
        "PIM" => 103,
        "VRRP" => 112,
        "PGM" => 113,
        "SCTP" => 132,
        "IP_IN_IP" | "IPIP" => 4,
        "EGP" => 8,
        _ => return name.parse().ok(),
    };
    Some(n)
}

/// Where a header's columns are (see [`find_columns`]).
pub(crate) struct Columns<const R: usize, const O: usize> {
    /// The index of each required column.
    pub required: [usize; R],
    /// The index of each optional column that is there.
    pub optional: [Option<usize>; O],
    /// One past the last of them.
    pub end: usize,
}

/// Where the `required` and `optional` columns are among the header's
/// `names`; an error naming the first required one that is missing.
pub(crate) fn find_columns<const R: usize, const O: usize>(
    path: &Path,
    names: &[&str],
    required: [&str; R],
    optional: [&str; O],
) -> Result<Columns<R, O>, ImportError> {
    let find = |c: &str| names.iter().position(|n| *n == c);
    let mut at = [0; R];
    for (slot, name) in at.iter_mut().zip(required) {
        *slot = find(name).ok_or_else(|| ImportError::missing_column(path, name))?;
    }
    let optional = optional.map(find);
    let end = at
        .iter()
        .copied()
        .chain(optional.iter().flatten().copied())
        .max()
        .unwrap_or(0)
        + 1;
    Ok(Columns {
        required: at,
        optional,
        end,
    })
}

/// Whether the data holds nothing but white space.
pub(crate) fn is_blank(data: &[u8]) -> bool {
    data.iter().all(u8::is_ascii_whitespace)
}

/// Whether the transport carries ports.
pub(crate) fn has_ports(transport: u8) -> bool {
    matches!(transport, 6 | 17 | 132 | 33 | 136)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_cut_lines() {
        let cases: &[(&[u8], &[&str], Option<usize>)] = &[
            (b"", &[], None),
            (b"a\nb\n", &["a", "b"], None),
            (b"a\r\nb\r\n", &["a", "b"], None),
            (b"a\rb\r", &["a", "b"], None),
            (b"a\n\nb\n", &["a", "", "b"], None),
            (b"a\nb", &["a"], Some(2)),
            (b"a\r\nb\r\nc", &["a", "b"], Some(3)),
            (b"a\n  \t", &["a", "  \t"], None),
            (b"abc", &[], Some(1)),
        ];
        for (data, want, cut) in cases {
            let (body, got_cut) = split_truncated(data);
            let got: Vec<String> = lines(body).map(|(_, l)| l.into_owned()).collect();
            assert_eq!(got, *want, "{data:?}");
            assert_eq!(got_cut, *cut, "{data:?}");
        }
        let numbered: Vec<usize> = lines(b"x\r\ny\rz\n").map(|(n, _)| n).collect();
        assert_eq!(numbered, [1, 2, 3]);
    }
}
