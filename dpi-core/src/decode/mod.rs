//! Zero-copy decoding of link-layer frames down to the (innermost) IP packet.
//!
//! [`decode`] walks one frame from its link-layer header through VLAN tags,
//! MPLS labels and PPPoE, the IPv4 or IPv6 header (with IPv6 extension
//! headers and fragments) to the transport header, and looks through the
//! tunnels real corpora carry (GTP-U, GRE, VXLAN, Geneve, IP-in-IP, TZSP,
//! CAPWAP data) the way nDPI does: the flow is the inner one and
//! [`Packet::tunnel`](crate::Packet::tunnel) names the outer encapsulation.
//! (nDPI 4.11 does not look through Geneve and keeps the outer UDP flow;
//! Zeek, Suricata and tshark look through it, as this crate does.) When the
//! inner packet of a tunnel cannot be decoded, the outer packet is returned
//! with no tunnel.
//!
//! Nothing is copied or allocated, and no input makes it panic. Frames cut
//! short by the snap length still decode as long as the transport header is
//! present: `payload` holds the bytes captured, `payload_len` the length the
//! headers announce.
//!
//! Conventions worth knowing:
//!
//! - ICMP and ICMPv6 packets have ports 0; their payload starts after the
//!   8-byte header (type, code, checksum and the 4-byte rest-of-header).
//! - SCTP ports come from the common header; the payload is the chunk data
//!   after its 12 bytes.
//! - Other transports (ESP, IGMP, GRE and IP-in-IP that could not be looked
//!   through, ...) give a port-less flow whose payload is the IP payload.
//! - A later fragment (offset > 0) keeps the transport protocol number but
//!   has ports 0 and no TCP fields; a first fragment carries the ports.
//! - The VLAN id is the one of the last 802.1Q tag walked (for QinQ the inner
//!   tag), as nDPI's reader keeps it.
//!
//! ```
//! use dpi_core::{decode, LinkType};
//! let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 1234, [10, 0, 0, 2], 53, b"query");
//! let pkt = decode(LinkType::ETHERNET, &frame).unwrap();
//! assert_eq!((pkt.protocol, pkt.src_port, pkt.dst_port), (17, 1234, 53));
//! assert_eq!(pkt.payload, b"query");
//! ```

use crate::{LinkType, Packet};

mod capwap;
mod ethernet;
mod geneve;
mod gre;
mod gtp;
mod ieee80211;
mod ip;
mod link;
mod ppp;
mod transport;
mod tzsp;
mod vxlan;

#[cfg(test)]
mod tests;

/// Why a frame gave no packet. Small and `Copy`: building one never allocates.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The capture's link type is not one this crate decodes.
    UnsupportedLinkType(LinkType),
    /// Not an IP packet (ARP, LLC, STP, ...); the value is the ethertype or 0.
    NotIp(u16),
    /// The frame ends inside the header of `layer`.
    Truncated {
        /// The layer whose header is cut short ("ethernet", "ipv4", "tcp", ...).
        layer: &'static str,
        /// Offset of that header in the frame.
        offset: usize,
    },
    /// A header of `layer` is invalid.
    Malformed {
        /// The layer.
        layer: &'static str,
        /// Offset of that header in the frame.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DecodeError::UnsupportedLinkType(l) => write!(f, "unsupported link type: {l}"),
            DecodeError::NotIp(0) => write!(f, "not an IP packet"),
            DecodeError::NotIp(t) => write!(f, "not an IP packet (ethertype {t:#06x})"),
            DecodeError::Truncated { layer, offset } => {
                write!(f, "{layer} header at offset {offset} is cut short")
            }
            DecodeError::Malformed {
                layer,
                offset,
                reason,
            } => {
                write!(f, "{layer} header at offset {offset} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one frame of the given link type.
///
/// Returns the innermost IP packet's addresses, transport ports and payload,
/// borrowed from `frame`. See the [module documentation](self) for the
/// conventions on ICMP, fragments, tunnels and VLANs.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    link::decode_link(link, frame, 0, Ctx::default()).map(|d| d.packet)
}

/// [`decode`], with the identification of the IP datagram the packet is a
/// fragment of (IPv4's 16-bit Identification, IPv6's 32-bit fragment
/// header Identification; 0 for a packet that is not a fragment).
#[inline]
pub(crate) fn decode_with_id(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    link::decode_link(link, frame, 0, Ctx::default())
}

/// A decoded packet and what the flow table does not need but the meter
/// does.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Decoded<'a> {
    /// The packet.
    pub(crate) packet: Packet<'a>,
    /// The datagram identification of a fragment (0 when not a fragment).
    pub(crate) datagram_id: u32,
}

/// How many encapsulations (tunnels and PPI headers) are looked through at most.
const MAX_DEPTH: u8 = 4;

type DecodeResult<'a> = Result<Decoded<'a>, DecodeError>;

/// State carried down the layers of one frame.
#[derive(Copy, Clone, Debug, Default)]
struct Ctx {
    /// The VLAN id of the last 802.1Q tag walked.
    vlan: u16,
    /// How many encapsulations enclose the current layer.
    depth: u8,
}

impl Ctx {
    /// The context for one more level of encapsulation, or `None` at the limit.
    #[inline]
    fn deeper(self) -> Option<Ctx> {
        (self.depth < MAX_DEPTH).then_some(Ctx {
            depth: self.depth + 1,
            ..self
        })
    }
}

/// The byte at `off`, if present.
#[inline]
fn byte(f: &[u8], off: usize) -> Option<u8> {
    f.get(off).copied()
}

/// The big-endian `u16` at `off`, if present.
#[inline]
fn be16(f: &[u8], off: usize) -> Option<u16> {
    match f.get(off..off.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The big-endian `u32` at `off`, if present.
#[inline]
fn be32(f: &[u8], off: usize) -> Option<u32> {
    match f.get(off..off.checked_add(4)?) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// The `N` bytes at `off` as an array reference, if present.
#[inline]
fn array<const N: usize>(f: &[u8], off: usize) -> Option<&[u8; N]> {
    f.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The error for a header of `layer` at `offset` that the frame cuts short.
#[inline]
fn truncated(layer: &'static str, offset: usize) -> DecodeError {
    DecodeError::Truncated { layer, offset }
}

/// The error for an invalid header of `layer` at `offset`.
#[inline]
fn malformed(layer: &'static str, offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        layer,
        offset,
        reason,
    }
}
