//! The decoded view of one packet: what the flow table needs, borrowed from the frame.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The outer encapsulation a flow was carried in, when the decoder looked
/// through a tunnel to the inner packet (as nDPI does).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tunnel {
    /// GTP-U (UDP port 2152).
    Gtp,
    /// GRE (IP protocol 47), including ERSPAN-less transparent Ethernet bridging.
    Gre,
    /// VXLAN (UDP port 4789).
    Vxlan,
    /// Geneve (UDP port 6081).
    Geneve,
    /// IPv4 or IPv6 carried directly in IPv4 or IPv6 (IP protocols 4 and 41).
    IpInIp,
    /// TZSP (UDP port 37008).
    Tzsp,
    /// CAPWAP data channel (UDP port 5247).
    Capwap,
}

impl Tunnel {
    /// Lower-case name as written in flow records (`gtp`, `gre`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Tunnel::Gtp => "gtp",
            Tunnel::Gre => "gre",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::IpInIp => "ipinip",
            Tunnel::Tzsp => "tzsp",
            Tunnel::Capwap => "capwap",
        }
    }
}

/// Where a packet stands with respect to IP fragmentation.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not fragmented.
    #[default]
    Whole,
    /// The first fragment (offset 0, more fragments follow): carries the transport header.
    First,
    /// A later fragment: no transport header, no ports. Counted, never a new flow.
    Later,
}

/// TCP header fields the flow table and the stream reassembler use.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpInfo {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// The flag byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
    pub flags: u8,
    /// Window field as sent.
    pub window: u16,
}

impl TcpInfo {
    /// FIN flag.
    pub const FIN: u8 = 0x01;
    /// SYN flag.
    pub const SYN: u8 = 0x02;
    /// RST flag.
    pub const RST: u8 = 0x04;
    /// PSH flag.
    pub const PSH: u8 = 0x08;
    /// ACK flag.
    pub const ACK: u8 = 0x10;
}

/// One decoded IP packet (the innermost one when tunnels were looked through).
///
/// `payload` borrows from the frame: the transport payload as captured, which
/// may be shorter than `payload_len` when the snap length cut the frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, ...).
    pub protocol: u8,
    /// Source port; 0 for transports without ports and for later fragments.
    pub src_port: u16,
    /// Destination port; 0 for transports without ports and for later fragments.
    pub dst_port: u16,
    /// The VLAN id of the last 802.1Q tag walked (the inner one with QinQ, and a
    /// tag inside a tunnel replaces an outer one, as nDPI keeps it); 0 when untagged.
    pub vlan: u16,
    /// The outer encapsulation when a tunnel was looked through.
    pub tunnel: Option<Tunnel>,
    /// TCP fields, for TCP packets with a complete TCP header.
    pub tcp: Option<TcpInfo>,
    /// Fragmentation state of the (inner) IP packet.
    pub fragment: Fragment,
    /// Transport payload bytes present in the frame.
    pub payload: &'a [u8],
    /// Transport payload length according to the headers (>= `payload.len()`).
    pub payload_len: u32,
}
