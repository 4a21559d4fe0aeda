//! The common label record and the result of one import.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::LineError;

/// The tool that produced a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// nDPI's `ndpiReader`.
    Ndpi,
    /// libprotoident's `lpi_protoident`.
    Lpi,
    /// argus with `raservices`.
    Argus,
}

impl Tool {
    /// All tools, in a fixed order.
    pub const ALL: [Tool; 3] = [Tool::Ndpi, Tool::Lpi, Tool::Argus];

    /// The short name used in file paths and in the name registry:
    /// `ndpi`, `lpi`, `argus`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ndpi => "ndpi",
            Tool::Lpi => "lpi",
            Tool::Argus => "argus",
        }
    }

    /// The tool with the short name `name`, if any.
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// libprotoident's payload summary of a flow.
///
/// Direction 0 is the traffic sent from the endpoint libtrace takes to be
/// the server (usually, but not always, [`LabelRecord::dst_ip`]); direction
/// 1 is the other way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LpiPayload {
    /// Payload bytes sent in direction 0 and 1.
    pub bytes: [u64; 2],
    /// First 4 payload bytes in each direction, as 8 hex digits.
    pub first4: [String; 2],
    /// Size of the first payload-bearing packet in each direction.
    pub first_size: [u32; 2],
}

/// One flow as a reference tool labelled it.
///
/// `src` is the endpoint the tool takes as the initiator: for nDPI the
/// sender of the first packet, for libprotoident the client (the sender of
/// the first packet, endpoint B of its output), for argus its own flow
/// initiator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// The tool that gave the label.
    pub tool: Tool,
    /// File name of the capture the flow comes from (e.g. `1kxun.pcap`).
    pub capture: String,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, ...).
    pub transport: u8,
    /// Address of the initiator.
    pub src_ip: IpAddr,
    /// Port of the initiator; 0 for transports without ports (and ICMP).
    pub src_port: u16,
    /// Address of the responder.
    pub dst_ip: IpAddr,
    /// Port of the responder; 0 for transports without ports (and ICMP).
    pub dst_port: u16,
    /// ICMP or ICMPv6 type and code, when the tool reports them (argus).
    pub icmp: Option<(u8, u8)>,
    /// VLAN id, when the tool reports one and the flow is tagged.
    pub vlan: Option<u16>,
    /// Unix time of the first packet, in seconds.
    pub first_ts: Option<f64>,
    /// Unix time of the last packet, in seconds.
    pub last_ts: Option<f64>,
    /// The tool's own label as written, without decoration: `HTTP.1kxun`,
    /// `Unknown`, `Unknown_TCP`, `http` (from argus `srv=http`). Empty for
    /// an argus record with no label.
    pub protocol: String,
    /// The nDPI master protocol: for nDPI the part of the name before the
    /// dot (`HTTP` for `HTTP.1kxun`); for the other tools the nDPI name the
    /// registry maps the label to. `None` when the label has no nDPI
    /// equivalent, is not in the registry, or is empty.
    pub master: Option<String>,
    /// nDPI's application part, after the dot (`1kxun` for `HTTP.1kxun`).
    pub app: Option<String>,
    /// nDPI's numeric protocol id as written (`7.295`, `5`, `0`).
    pub ndpi_id: Option<String>,
    /// nDPI's confidence as text (`DPI`, `Match by port`, `Unknown`, ...).
    pub confidence: Option<String>,
    /// Tunnel the flow was carried in, as nDPI names it (`GTP`, `CAPWAP`).
    pub tunnel: Option<String>,
    /// ndpiReader's internal flow id (CSV and JSON), to join the two.
    pub flow_id: Option<u64>,
    /// Packets from src to dst.
    pub src_packets: Option<u64>,
    /// Bytes from src to dst, as the tool counts them.
    pub src_bytes: Option<u64>,
    /// Packets from dst to src.
    pub dst_packets: Option<u64>,
    /// Bytes from dst to src, as the tool counts them.
    pub dst_bytes: Option<u64>,
    /// libprotoident's payload summary.
    pub lpi: Option<LpiPayload>,
    /// Line number (from 1) in the label file.
    pub line: usize,
}

impl LabelRecord {
    /// A record with the given identity and every optional field empty.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        tool: Tool,
        capture: &str,
        transport: u8,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        protocol: String,
        master: Option<String>,
        line: usize,
    ) -> LabelRecord {
        LabelRecord {
            tool,
            capture: capture.to_owned(),
            transport,
            src_ip: src.0,
            src_port: src.1,
            dst_ip: dst.0,
            dst_port: dst.1,
            icmp: None,
            vlan: None,
            first_ts: None,
            last_ts: None,
            protocol,
            master,
            app: None,
            ndpi_id: None,
            confidence: None,
            tunnel: None,
            flow_id: None,
            src_packets: None,
            src_bytes: None,
            dst_packets: None,
            dst_bytes: None,
            lpi: None,
            line,
        }
    }

    /// Whether the tool gave the flow a label (argus leaves most records
    /// without one).
    pub fn is_labelled(&self) -> bool {
        !self.protocol.is_empty()
    }
}

/// Splits an nDPI name into master and application: `HTTP.1kxun` gives
/// (`HTTP`, `1kxun`), `DNS` gives (`DNS`, none).
pub(crate) fn split_ndpi_name(name: &str) -> (String, Option<String>) {
    match name.split_once('.') {
        Some((m, a)) if !m.is_empty() && !a.is_empty() => (m.to_owned(), Some(a.to_owned())),
        _ => (name.to_owned(), None),
    }
}

/// Malformed lines of one label file kept with their reason
/// ([`ParsedLabels::malformed`]); the others are only counted.
pub const MALFORMED_KEPT: usize = 100;

/// The result of importing one label file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ParsedLabels {
    /// The file that was read.
    pub path: PathBuf,
    /// File name of the capture the labels describe.
    pub capture: String,
    /// One record per flow (per argus record for argus), in file order.
    pub records: Vec<LabelRecord>,
    /// Lines that could not be read, with the reason; they were skipped.
    /// The first [`MALFORMED_KEPT`] only: `malformed_lines` counts them all.
    pub malformed: Vec<LineError>,
    /// How many lines could not be read.
    #[serde(default)]
    pub malformed_lines: usize,
    /// Records skipped because they are not IP (argus ARP and LLC records).
    pub skipped_non_ip: usize,
    /// Tool names that the name registry does not know, with how many
    /// records carried each.
    pub unmapped: BTreeMap<String, usize>,
}

impl ParsedLabels {
    pub(crate) fn new(path: PathBuf, capture: String) -> ParsedLabels {
        ParsedLabels {
            path,
            capture,
            ..ParsedLabels::default()
        }
    }

    /// Records a line that could not be read: counted always, kept with
    /// its reason while fewer than [`MALFORMED_KEPT`] are, so that a file
    /// of garbage costs no more memory than its good lines would.
    pub(crate) fn malformed_line(&mut self, line: usize, reason: impl Into<String>) {
        self.malformed_lines = self.malformed_lines.saturating_add(1);
        if self.malformed.len() < MALFORMED_KEPT {
            self.malformed
                .push(LineError::new(self.path.clone(), line, reason.into()));
        }
    }
}
