//! Link-layer types as numbered by pcap and pcapng (`LINKTYPE_*`).

use serde::{Deserialize, Serialize};

/// A link-layer header type, as numbered in pcap/pcapng headers.
///
/// Unknown numbers are kept as they are, so no value is lost.
///
/// ```
/// use dpi_core::LinkType;
/// assert_eq!(LinkType::ETHERNET.0, 1);
/// assert_eq!(LinkType::ETHERNET.name(), Some("ETHERNET"));
/// assert_eq!(LinkType(9999).name(), None);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP (RFC 1661), with or without address/control bytes.
    pub const PPP: LinkType = LinkType(9);
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// Raw IPv4 or IPv6, version taken from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// IEEE 802.11 frames with no radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 frames after a radiotap header (monitor-mode Wi-Fi).
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Per-Packet Information header followed by another link type.
    pub const PPI: LinkType = LinkType(192);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter NFLOG: a header and TLVs, the packet in one of them.
    pub const NFLOG: LinkType = LinkType(239);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// The value OpenBSD's libpcap writes for raw IP in some files.
    pub const RAW_OPENBSD: LinkType = LinkType(14);

    /// The `LINKTYPE_` name without its prefix, for the types this crate decodes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::PPP => "PPP",
            LinkType::PPP_HDLC => "PPP_HDLC",
            LinkType::RAW | LinkType::RAW_OPENBSD => "RAW",
            LinkType::C_HDLC => "C_HDLC",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::PPI => "PPI",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            LinkType::IEEE802_11 => "IEEE802_11",
            LinkType::IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
            LinkType::NFLOG => "NFLOG",
            _ => return None,
        })
    }
}

impl std::fmt::Display for LinkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "link type {}", self.0),
        }
    }
}
