//! Zero-copy decoding of link-layer frames down to the (innermost) IP packet.
//! (Interface; the implementation is being written.)

use crate::{LinkType, Packet};

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

/// Decodes one frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let _ = frame;
    Err(DecodeError::UnsupportedLinkType(link))
}
