//! CAPWAP data channel (RFC 5415, UDP port 5247): the header, then an
//! 802.3 frame or a native 802.11 frame (T bit, wireless binding 1).

use super::{
    be16, be32, ethernet, ieee80211, malformed, truncated, Ctx, DecodeError, DecodeResult,
};

/// The first 32 bits: preamble (version, type), HLEN, RID, WBID, T, F, L, W, M, K, flags.
const CAPWAP_MIN_LEN: usize = 8;
const PREAMBLE_SHIFT: u32 = 24;
const HLEN_SHIFT: u32 = 19;
const HLEN_MASK: u32 = 0x1f;
const WBID_SHIFT: u32 = 9;
const WBID_MASK: u32 = 0x1f;
const BIT_T: u32 = 0x100;
const BIT_F: u32 = 0x80;
const BIT_K: u32 = 0x08;
/// Fragment offset: the high 13 bits of bytes 6-7.
const FRAGMENT_OFFSET: usize = 6;
const FRAGMENT_OFFSET_SHIFT: u16 = 3;
/// Wireless binding id of IEEE 802.11.
const WBID_IEEE802_11: u32 = 1;

/// A CAPWAP data packet at `off`; the IP packet of the frame it carries.
pub(super) fn capwap_data(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let w = be32(f, off).ok_or(truncated("capwap", off))?;
    if w >> PREAMBLE_SHIFT != 0 {
        // Version 0, type 0: a plain header (type 1 is a DTLS record).
        return Err(DecodeError::NotIp(0));
    }
    let hlen = ((w >> HLEN_SHIFT) & HLEN_MASK) as usize * 4;
    if hlen < CAPWAP_MIN_LEN {
        return Err(malformed("capwap", off, "header length below 8"));
    }
    if f.len() < off + hlen {
        return Err(truncated("capwap", off));
    }
    if w & BIT_K != 0 {
        return Err(DecodeError::NotIp(0));
    }
    if w & BIT_F != 0 {
        let fragment = be16(f, off + FRAGMENT_OFFSET).ok_or(truncated("capwap", off))?;
        if fragment >> FRAGMENT_OFFSET_SHIFT != 0 {
            return Err(DecodeError::NotIp(0));
        }
    }
    let inner = off + hlen;
    if w & BIT_T == 0 {
        ethernet::ethernet(f, inner, ctx)
    } else if (w >> WBID_SHIFT) & WBID_MASK == WBID_IEEE802_11 {
        ieee80211::data_frame_either_order(f, inner, ctx)
    } else {
        Err(DecodeError::NotIp(0))
    }
}
