//! Geneve (RFC 8926, UDP port 6081): an 8-byte header and its options, then
//! an Ethernet frame (protocol type 0x6558, transparent Ethernet bridging)
//! or a packet of the EtherType the header names (IPv4 or IPv6 directly, as
//! cloud load balancers that mirror traffic send it).

use super::{be16, byte, ethernet, malformed, truncated, Ctx, DecodeResult};

/// Header: version and option length, flags, protocol type, VNI, reserved.
const GENEVE_LEN: usize = 8;
const GENEVE_FLAGS: usize = 1;
const GENEVE_PROTOCOL: usize = 2;
/// The version sits in the top 2 bits of the first byte; only 0 is defined.
const VERSION_SHIFT: u8 = 6;
/// The options' length, in 4-byte words: the low 6 bits of the first byte.
const OPT_LEN_MASK: u8 = 0x3f;
const OPT_WORD: usize = 4;
/// The O bit: a control message for the tunnel endpoint, not a packet.
const FLAG_O: u8 = 0x80;

/// A Geneve packet at `off`; its inner packet.
pub(super) fn geneve(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let first = byte(f, off).ok_or(truncated("geneve", off))?;
    let flags = byte(f, off + GENEVE_FLAGS).ok_or(truncated("geneve", off))?;
    let protocol = be16(f, off + GENEVE_PROTOCOL).ok_or(truncated("geneve", off))?;
    if first >> VERSION_SHIFT != 0 {
        return Err(malformed("geneve", off, "version is not 0"));
    }
    if flags & FLAG_O != 0 {
        return Err(malformed("geneve", off, "a control message (O bit)"));
    }
    let inner = off + GENEVE_LEN + usize::from(first & OPT_LEN_MASK) * OPT_WORD;
    if f.len() < inner {
        return Err(truncated("geneve", off));
    }
    match protocol {
        ethernet::ETHERTYPE_TEB => ethernet::ethernet(f, inner, ctx),
        other => ethernet::ethertype(f, inner, other, ctx),
    }
}
