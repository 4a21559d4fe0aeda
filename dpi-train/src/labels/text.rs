//! Small helpers shared by the importers.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::Path;

use super::error::ImportError;

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
/// line terminator (`\n` or `\r\n`).
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = (usize, Cow<'_, str>)> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    let empty = data.is_empty();
    data.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .enumerate()
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            (i + 1, String::from_utf8_lossy(l))
        })
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

/// Whether the data holds nothing but white space.
pub(crate) fn is_blank(data: &[u8]) -> bool {
    data.iter().all(u8::is_ascii_whitespace)
}

/// Whether the transport carries ports.
pub(crate) fn has_ports(transport: u8) -> bool {
    matches!(transport, 6 | 17 | 132 | 33 | 136)
}
