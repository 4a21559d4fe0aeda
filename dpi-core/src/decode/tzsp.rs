//! TZSP (TaZmen Sniffer Protocol, UDP port 37008): version, type,
//! encapsulated protocol, tagged fields up to the END tag, then the frame.

use super::{
    be16, byte, ethernet, ieee80211, malformed, truncated, Ctx, DecodeError, DecodeResult,
};

/// Header: version (1), type, encapsulated protocol (2 bytes).
const TZSP_LEN: usize = 4;
const TZSP_VERSION: usize = 0;
const TZSP_TYPE: usize = 1;
const TZSP_ENCAPSULATION: usize = 2;
const TZSP_VERSION_1: u8 = 1;
/// Types that carry a frame: received, to transmit.
const TZSP_TYPE_RECEIVED: u8 = 0;
const TZSP_TYPE_TRANSMIT: u8 = 1;
/// Encapsulated protocols.
const TZSP_ETHERNET: u16 = 1;
const TZSP_IEEE802_11: u16 = 18;
/// Tags: padding (1 byte), end (1 byte); others are type, length, value.
const TAG_PADDING: u8 = 0;
const TAG_END: u8 = 1;
/// Tags walked at most.
const TZSP_MAX_TAGS: usize = 64;

/// A TZSP packet at `off`; the encapsulated Ethernet or 802.11 frame.
pub(super) fn tzsp(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let version = byte(f, off + TZSP_VERSION).ok_or(truncated("tzsp", off))?;
    let kind = byte(f, off + TZSP_TYPE).ok_or(truncated("tzsp", off))?;
    let encapsulation = be16(f, off + TZSP_ENCAPSULATION).ok_or(truncated("tzsp", off))?;
    if version != TZSP_VERSION_1 {
        return Err(malformed("tzsp", off, "version is not 1"));
    }
    if kind != TZSP_TYPE_RECEIVED && kind != TZSP_TYPE_TRANSMIT {
        return Err(DecodeError::NotIp(0));
    }
    let mut p = off + TZSP_LEN;
    let mut ended = false;
    for _ in 0..TZSP_MAX_TAGS {
        match byte(f, p).ok_or(truncated("tzsp", p))? {
            TAG_PADDING => p += 1,
            TAG_END => {
                p += 1;
                ended = true;
                break;
            }
            _ => p += 2 + usize::from(byte(f, p + 1).ok_or(truncated("tzsp", p))?),
        }
    }
    if !ended {
        return Err(malformed("tzsp", p, "too many tags"));
    }
    match encapsulation {
        TZSP_ETHERNET => ethernet::ethernet(f, p, ctx),
        TZSP_IEEE802_11 => ieee80211::data_frame(f, p, ctx),
        _ => Err(DecodeError::NotIp(0)),
    }
}
