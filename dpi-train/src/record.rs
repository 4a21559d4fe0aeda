//! Flow records as the `dpi` command writes them (`dpi extract`, `dpi classify`).

use std::fmt::Write as _;
use std::io::{self, Write};

use dpi_core::Flow;
use serde::{Deserialize, Serialize};

/// nDPI's lower-case spelling of an IP protocol, or its number.
///
/// ```
/// assert_eq!(dpi_train::record::transport_name(6), "tcp");
/// assert_eq!(dpi_train::record::transport_name(58), "icmpv6");
/// assert_eq!(dpi_train::record::transport_name(99), "99");
/// ```
pub fn transport_name(protocol: u8) -> std::borrow::Cow<'static, str> {
    let name = match protocol {
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "icmpv6",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        113 => "pgm",
        132 => "sctp",
        n => return std::borrow::Cow::Owned(n.to_string()),
    };
    std::borrow::Cow::Borrowed(name)
}

/// The inverse of [`transport_name`]: a name (any case) or a number.
pub fn transport_number(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    (0..=255u8)
        .find(|p| transport_name(*p) == lower.as_str())
        .or_else(|| lower.parse().ok())
}

/// One flow as written by `dpi extract`. Field names are the JSON keys and CSV columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// The capture's path as given on the command line.
    pub file: String,
    /// nDPI's lower-case transport name or the IP protocol number.
    pub transport: String,
    /// Initiator address.
    pub src_ip: String,
    /// Initiator port (0 without ports).
    pub src_port: u16,
    /// Responder address.
    pub dst_ip: String,
    /// Responder port (0 without ports).
    pub dst_port: u16,
    /// VLAN id, 0 when untagged.
    pub vlan: u16,
    /// Outer encapsulation, or null.
    pub tunnel: Option<String>,
    /// First packet, Unix seconds.
    pub first_ts: f64,
    /// Last packet, Unix seconds.
    pub last_ts: f64,
    /// Packets from the initiator.
    pub c2s_packets: u64,
    /// Packets from the responder.
    pub s2c_packets: u64,
    /// Wire bytes from the initiator.
    pub c2s_bytes: u64,
    /// Wire bytes from the responder.
    pub s2c_bytes: u64,
    /// Payload sizes of the first K payload packets from the initiator.
    pub c2s_sizes: Vec<u32>,
    /// Payload sizes of the first K payload packets from the responder.
    pub s2c_sizes: Vec<u32>,
    /// `last_ts - first_ts`, seconds (computed from nanoseconds).
    #[serde(default)]
    pub duration: f64,
    /// Transport payload bytes from the initiator.
    #[serde(default)]
    pub c2s_payload_bytes: u64,
    /// Transport payload bytes from the responder.
    #[serde(default)]
    pub s2c_payload_bytes: u64,
    /// OR of the TCP flags the initiator sent (FIN 1, SYN 2, RST 4, PSH 8,
    /// ACK 16, URG 32, ECE 64, CWR 128); 0 for other transports.
    #[serde(default)]
    pub c2s_tcp_flags: u8,
    /// OR of the TCP flags the responder sent.
    #[serde(default)]
    pub s2c_tcp_flags: u8,
    /// Why the flow ended: `idle`, `active` (the active timeout),
    /// `closed` (TCP: a FIN each way or a RST, then the linger),
    /// `evicted` (the live-flow cap) or `flushed` (the end of the input).
    #[serde(default)]
    pub end_reason: String,
    /// Hex of the first N bytes of user data from the initiator.
    pub c2s_payload: String,
    /// Hex of the first N bytes of user data from the responder.
    pub s2c_payload: String,
}

/// Lower-case hex of `bytes`.
///
/// ```
/// assert_eq!(dpi_train::record::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The address as `IpAddr`'s `Display` writes it, without the formatting
/// machinery for the common IPv4 case.
fn ip_string(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut s = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
}

/// A timestamp as decimal Unix seconds, exact: the nanoseconds are
/// written out, trailing zeros dropped down to `min_digits` fraction
/// digits (at least 1). A microsecond capture's stamps read as before a
/// nanosecond one's, and a nanosecond capture's keep all nine digits
/// (which a 64-bit float cannot hold).
///
/// ```
/// use dpi_core::Timestamp;
/// use dpi_train::record::seconds_text;
/// let ns = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
/// assert_eq!(seconds_text(ns, 1), "1700000000.123456789");
/// let us = Timestamp::from_secs_nanos(1_700_000_000, 250_000);
/// assert_eq!(seconds_text(us, 1), "1700000000.00025");
/// assert_eq!(seconds_text(us, 6), "1700000000.000250");
/// assert_eq!(seconds_text(Timestamp::from_secs_nanos(7, 0), 1), "7.0");
/// ```
pub fn seconds_text(ts: dpi_core::Timestamp, min_digits: usize) -> String {
    let mut out = Vec::with_capacity(24);
    put_seconds(&mut out, ts, min_digits);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`seconds_text`] of `ts`.
pub fn put_seconds(out: &mut Vec<u8>, ts: dpi_core::Timestamp, min_digits: usize) {
    let nanos = ts.as_nanos();
    crate::json_line::put_u64(out, nanos / 1_000_000_000);
    out.push(b'.');
    let mut frac = [0u8; 9];
    let mut f = nanos % 1_000_000_000;
    for d in frac.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let keep = min_digits.clamp(1, 9);
    let len = frac.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    out.extend_from_slice(&frac[..len.max(keep)]);
}

/// The CSV cells of `flow` read from `file`: [`FlowRecord::csv_cells`]
/// with the first and last timestamps exact (at least six fraction
/// digits, nine when the capture has nanoseconds).
pub fn flow_csv_cells(file: &str, flow: &Flow) -> Vec<String> {
    let mut cells = FlowRecord::new(file, flow).csv_cells();
    cells[8] = seconds_text(flow.first_ts, 6);
    cells[9] = seconds_text(flow.last_ts, 6);
    cells
}

/// A flow's duration in seconds, from its nanosecond timestamps.
pub fn duration(flow: &Flow) -> f64 {
    flow.last_ts.nanos_since(flow.first_ts) as f64 / 1e9
}

impl FlowRecord {
    /// The record of `flow`, read from capture `file`.
    pub fn new(file: &str, flow: &Flow) -> Self {
        FlowRecord {
            file: file.to_string(),
            transport: transport_name(flow.protocol).into_owned(),
            src_ip: ip_string(flow.client),
            src_port: flow.client_port,
            dst_ip: ip_string(flow.server),
            dst_port: flow.server_port,
            vlan: flow.vlan,
            tunnel: flow.tunnel.map(|t| t.as_str().to_string()),
            first_ts: flow.first_ts.as_secs_f64(),
            last_ts: flow.last_ts.as_secs_f64(),
            c2s_packets: flow.c2s.packets,
            s2c_packets: flow.s2c.packets,
            c2s_bytes: flow.c2s.bytes,
            s2c_bytes: flow.s2c.bytes,
            c2s_sizes: flow.c2s.sizes.clone(),
            s2c_sizes: flow.s2c.sizes.clone(),
            duration: duration(flow),
            c2s_payload_bytes: flow.c2s.payload_bytes,
            s2c_payload_bytes: flow.s2c.payload_bytes,
            c2s_tcp_flags: flow.c2s.tcp_flags,
            s2c_tcp_flags: flow.s2c.tcp_flags,
            end_reason: flow.end.as_str().to_string(),
            c2s_payload: hex(&flow.c2s_payload),
            s2c_payload: hex(&flow.s2c_payload),
        }
    }
}

/// Output formats of flow records.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row; lists are `;`-separated.
    Csv,
    /// A Parquet file (`-o FILE` required): typed columns, lists for the
    /// sizes, raw bytes for the payloads (see [`crate::output::parquet`]).
    Parquet,
}

/// The CSV columns of [`FlowRecord`], in order.
pub const CSV_COLUMNS: &[&str] = &[
    "file",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "vlan",
    "tunnel",
    "first_ts",
    "last_ts",
    "c2s_packets",
    "s2c_packets",
    "c2s_bytes",
    "s2c_bytes",
    "c2s_sizes",
    "s2c_sizes",
    "duration",
    "c2s_payload_bytes",
    "s2c_payload_bytes",
    "c2s_tcp_flags",
    "s2c_tcp_flags",
    "end_reason",
    "c2s_payload",
    "s2c_payload",
];

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn join_sizes(v: &[u32]) -> String {
    let mut s = String::new();
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        let _ = write!(s, "{x}");
    }
    s
}

impl FlowRecord {
    /// The CSV cells of this record, in [`CSV_COLUMNS`] order (unquoted).
    pub fn csv_cells(&self) -> Vec<String> {
        vec![
            self.file.clone(),
            self.transport.clone(),
            self.src_ip.clone(),
            self.src_port.to_string(),
            self.dst_ip.clone(),
            self.dst_port.to_string(),
            self.vlan.to_string(),
            self.tunnel.clone().unwrap_or_default(),
            format!("{:.6}", self.first_ts),
            format!("{:.6}", self.last_ts),
            self.c2s_packets.to_string(),
            self.s2c_packets.to_string(),
            self.c2s_bytes.to_string(),
            self.s2c_bytes.to_string(),
            join_sizes(&self.c2s_sizes),
            join_sizes(&self.s2c_sizes),
            format!("{:.9}", self.duration),
            self.c2s_payload_bytes.to_string(),
            self.s2c_payload_bytes.to_string(),
            self.c2s_tcp_flags.to_string(),
            self.s2c_tcp_flags.to_string(),
            self.end_reason.clone(),
            self.c2s_payload.clone(),
            self.s2c_payload.clone(),
        ]
    }
}

/// Writes a CSV line of cells, quoting where needed.
pub fn write_csv_line<W: Write>(out: &mut W, cells: &[String]) -> io::Result<()> {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_field(c).as_bytes())?;
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn ip_string_matches_display() {
        for v in [
            0u32,
            1,
            9,
            10,
            99,
            100,
            255,
            0x0a00_0001,
            0xc0a8_6401,
            0x0a63_0a09,
            u32::MAX,
        ] {
            let ip = IpAddr::V4(Ipv4Addr::from(v));
            assert_eq!(ip_string(ip), ip.to_string());
        }
        for b in 0..=255u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(b, b / 3, 255 - b, b / 10));
            assert_eq!(ip_string(ip), ip.to_string());
        }
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(ip_string(v6), "2001:db8::1");
    }

    #[test]
    fn microsecond_stamps_read_as_the_floats_did() {
        // What JSON lines and CSV wrote before the stamps were exact: the
        // same CSV cells, and JSON numbers that read as the same float or
        // its neighbour (the float was the nanoseconds divided by 1e9,
        // rounded twice: the exact text is the better one).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = [0, 1, 1_700_000_000, 4_102_444_800][i as usize % 4] + x % 1000;
            let micros = if i % 5 == 0 { 0 } else { (x >> 20) % 1_000_000 };
            let ts = dpi_core::Timestamp::from_secs_nanos(secs, micros as u32 * 1000);
            let float = ts.as_secs_f64();
            let json = seconds_text(ts, 1);
            let read: f64 = json.parse().unwrap();
            assert!(
                read.to_bits().abs_diff(float.to_bits()) <= 1,
                "{json} {float}"
            );
            if micros == 0 {
                assert_eq!(json, serde_json::to_string(&float).unwrap());
            }
            assert!(json.split_once('.').unwrap().1.len() <= 6, "{json}");
            assert_eq!(seconds_text(ts, 6), format!("{float:.6}"));
        }
    }

    #[test]
    fn nanosecond_stamps_keep_every_digit() {
        // `u64::MAX - 1` is the latest time a `Timestamp` holds.
        for nanos in [
            1u64,
            10,
            999_999_999,
            1_700_000_000_123_456_789,
            u64::MAX - 1,
        ] {
            let ts = dpi_core::Timestamp::from_nanos(nanos);
            for min in [0, 1, 6, 9, 20] {
                let text = seconds_text(ts, min);
                let (s, f) = text.split_once('.').unwrap();
                assert!(f.len() >= min.clamp(1, 9) && f.len() <= 9, "{text}");
                let frac: u64 = format!("{f:0<9}").parse().unwrap();
                assert_eq!(
                    s.parse::<u64>().unwrap() * 1_000_000_000 + frac,
                    nanos,
                    "{text}"
                );
            }
        }
    }
}
