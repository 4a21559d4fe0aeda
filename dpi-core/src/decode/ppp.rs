//! PPP framing (RFC 1661/1662): optional address and control bytes, a 1- or
//! 2-byte protocol field. Used by the PPP link types, PPPoE and PPTP's GRE.

use super::{byte, ethernet, ip, truncated, Ctx, DecodeError, DecodeResult};

/// HDLC-like framing: all-stations address and unnumbered-information control.
const PPP_ADDRESS: u8 = 0xff;
const PPP_CONTROL: u8 = 0x03;
/// PPP protocol numbers for IPv4, IPv6 and MPLS unicast.
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;

/// A PPP frame at `off`.
pub(super) fn ppp(f: &[u8], mut off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let first = byte(f, off).ok_or(truncated("ppp", off))?;
    if first == PPP_ADDRESS && byte(f, off + 1) == Some(PPP_CONTROL) {
        off += 2;
    }
    let hi = byte(f, off).ok_or(truncated("ppp", off))?;
    // Protocol-field compression: an odd first byte is a 1-byte protocol.
    let (protocol, len) = if hi & 1 == 1 {
        (u16::from(hi), 1)
    } else {
        let lo = byte(f, off + 1).ok_or(truncated("ppp", off))?;
        (u16::from_be_bytes([hi, lo]), 2)
    };
    match protocol {
        PPP_IPV4 => ip::ipv4(f, off + len, ctx),
        PPP_IPV6 => ip::ipv6(f, off + len, ctx),
        PPP_MPLS => ethernet::mpls(f, off + len, ctx),
        other => Err(DecodeError::NotIp(other)),
    }
}
