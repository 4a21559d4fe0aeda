//! GTP-U (GTPv1 user plane, UDP port 2152): only G-PDU messages carry an
//! inner IP packet.

use super::{byte, ip, malformed, truncated, Ctx, DecodeError, DecodeResult};

/// Mandatory header: flags, message type, length (of what follows these 8 bytes), TEID.
const GTP_LEN: usize = 8;
const GTP_FLAGS: usize = 0;
const GTP_MESSAGE_TYPE: usize = 1;
const GTP_LENGTH: usize = 2;
/// Optional fields (sequence number, N-PDU number, next extension type),
/// present when any of the E, S, PN flags is set.
const GTP_OPTIONAL_LEN: usize = 4;
const GTP_NEXT_EXTENSION: usize = 11;
/// Flag bits: version in the top 3 bits, protocol type, E, S, PN.
const GTP_VERSION_SHIFT: u8 = 5;
const GTP_PROTOCOL_TYPE: u8 = 0x10;
const GTP_E: u8 = 0x04;
const GTP_OPTIONAL: u8 = 0x07;
/// The message type of a G-PDU (T-PDU): user data.
const GTP_G_PDU: u8 = 0xff;
/// Extension headers followed at most.
const GTP_MAX_EXTENSIONS: usize = 8;

/// A GTP-U message at `off`; the inner IPv4 or IPv6 packet of a G-PDU.
pub(super) fn gtp_u(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; GTP_LEN] = super::array(f, off).ok_or(truncated("gtp", off))?;
    let flags = h[GTP_FLAGS];
    if flags >> GTP_VERSION_SHIFT != 1 || flags & GTP_PROTOCOL_TYPE == 0 {
        return Err(malformed("gtp", off, "not GTPv1"));
    }
    if h[GTP_MESSAGE_TYPE] != GTP_G_PDU {
        return Err(DecodeError::NotIp(0));
    }
    let length = usize::from(u16::from_be_bytes([h[GTP_LENGTH], h[GTP_LENGTH + 1]]));
    let f = f.get(..off + GTP_LEN + length).unwrap_or(f);
    let mut p = off + GTP_LEN;
    if flags & GTP_OPTIONAL != 0 {
        p += GTP_OPTIONAL_LEN;
        if flags & GTP_E != 0 {
            let mut next = byte(f, off + GTP_NEXT_EXTENSION).ok_or(truncated("gtp", off))?;
            let mut walked = 0;
            while next != 0 {
                walked += 1;
                if walked > GTP_MAX_EXTENSIONS {
                    return Err(malformed("gtp", p, "too many extension headers"));
                }
                // Length in 4-byte units, including itself and the next type byte.
                let len = usize::from(byte(f, p).ok_or(truncated("gtp", p))?) * 4;
                if len == 0 {
                    return Err(malformed("gtp", p, "extension header of length 0"));
                }
                next = byte(f, p + len - 1).ok_or(truncated("gtp", p))?;
                p += len;
            }
        }
    }
    ip::ip_any(f, p, ctx)
}
