//! IEEE 802.11 data frames (as CAPWAP and TZSP carry them natively): the
//! MAC header with its 4-address, QoS and HT-control variants, then LLC/SNAP.

use super::{byte, ethernet, truncated, Ctx, DecodeError, DecodeResult};

/// Frame control: byte 0 holds subtype (high nibble), type, version; byte 1 the flags.
const FC_TYPE_MASK: u8 = 0x0c;
const FC_TYPE_DATA: u8 = 0x08;
/// Subtype bits: QoS data, and "no data" (null function and friends).
const FC_SUBTYPE_QOS: u8 = 0x80;
const FC_SUBTYPE_NO_DATA: u8 = 0x40;
/// Flag bits: to-DS and from-DS (both: 4-address frame), protected, order (+HT control).
const FC_DS_BOTH: u8 = 0x03;
const FC_PROTECTED: u8 = 0x40;
const FC_ORDER: u8 = 0x80;
/// Header sizes.
const MAC_HEADER_LEN: usize = 24;
const ADDR4_LEN: usize = 6;
const QOS_CONTROL_LEN: usize = 2;
const HT_CONTROL_LEN: usize = 4;

/// The protocol version bits of frame control byte 0 (always 0).
const FC_VERSION_MASK: u8 = 0x03;

/// An 802.11 frame at `off`; the IP packet of a data frame.
#[inline]
pub(super) fn data_frame(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let fc0 = byte(f, off).ok_or(truncated("802.11", off))?;
    let fc1 = byte(f, off + 1).ok_or(truncated("802.11", off))?;
    data_frame_with_fc(f, off, fc0, fc1, ctx)
}

/// An 802.11 frame at `off` whose frame control may have its two bytes
/// swapped, as Cisco controllers send it over CAPWAP. A version field other
/// than 0 in the first byte, with 0 in the second, tells the swapped order.
pub(super) fn data_frame_either_order(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let b0 = byte(f, off).ok_or(truncated("802.11", off))?;
    let b1 = byte(f, off + 1).ok_or(truncated("802.11", off))?;
    if b0 & FC_VERSION_MASK != 0 && b1 & FC_VERSION_MASK == 0 {
        data_frame_with_fc(f, off, b1, b0, ctx)
    } else {
        data_frame_with_fc(f, off, b0, b1, ctx)
    }
}

/// An 802.11 frame at `off` with the frame control bytes given.
fn data_frame_with_fc(f: &[u8], off: usize, fc0: u8, fc1: u8, ctx: Ctx) -> DecodeResult<'_> {
    if fc0 & FC_VERSION_MASK != 0
        || fc0 & FC_TYPE_MASK != FC_TYPE_DATA
        || fc0 & FC_SUBTYPE_NO_DATA != 0
        || fc1 & FC_PROTECTED != 0
    {
        return Err(DecodeError::NotIp(0));
    }
    let mut len = MAC_HEADER_LEN;
    if fc1 & FC_DS_BOTH == FC_DS_BOTH {
        len += ADDR4_LEN;
    }
    if fc0 & FC_SUBTYPE_QOS != 0 {
        len += QOS_CONTROL_LEN;
        if fc1 & FC_ORDER != 0 {
            len += HT_CONTROL_LEN;
        }
    }
    let llc = off + len;
    if f.len() < llc {
        return Err(truncated("802.11", off));
    }
    match ethernet::llc_snap(f, llc) {
        Some(et) => ethernet::ethertype(f, llc + ethernet::LLC_SNAP_LEN, et, ctx),
        None if f.len() < llc + ethernet::LLC_SNAP_LEN => Err(truncated("llc", llc)),
        None => Err(DecodeError::NotIp(0)),
    }
}
