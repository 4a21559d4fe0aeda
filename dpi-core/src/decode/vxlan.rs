//! VXLAN (RFC 7348, UDP port 4789): an 8-byte header, then an Ethernet frame.

use super::{byte, ethernet, malformed, truncated, Ctx, DecodeResult};

/// Header: flags, reserved, VNI, reserved.
const VXLAN_LEN: usize = 8;
const VXLAN_FLAGS: usize = 0;
/// The I flag: the VNI is valid.
const VXLAN_I: u8 = 0x08;

/// A VXLAN packet at `off`; the inner Ethernet frame.
pub(super) fn vxlan(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let flags = byte(f, off + VXLAN_FLAGS).ok_or(truncated("vxlan", off))?;
    if f.len() < off + VXLAN_LEN {
        return Err(truncated("vxlan", off));
    }
    if flags & VXLAN_I == 0 {
        return Err(malformed("vxlan", off, "I flag not set"));
    }
    ethernet::ethernet(f, off + VXLAN_LEN, ctx)
}
