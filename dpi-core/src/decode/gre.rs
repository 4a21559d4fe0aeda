//! GRE (IP protocol 47): version 0 (RFC 2784/2890) with IPv4, IPv6,
//! transparent Ethernet bridging, MPLS and ERSPAN payloads, and version 1,
//! PPTP's enhanced GRE (RFC 2637) carrying PPP.

use super::{be16, byte, ethernet, malformed, ppp, truncated, Ctx, DecodeError, DecodeResult};

/// Base header: flags and version, protocol type.
const GRE_LEN: usize = 4;
const GRE_PROTOCOL: usize = 2;
/// Flag bits of the first 16 bits.
const GRE_C: u16 = 0x8000;
const GRE_R: u16 = 0x4000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;
/// Version 1 only: an acknowledgement number is present.
const GRE_A: u16 = 0x0080;
const GRE_VERSION_MASK: u16 = 0x0007;
/// Every optional field (checksum+offset, key, sequence, ack) is 4 bytes.
const GRE_FIELD_LEN: usize = 4;
/// In version 1 the key field holds the payload length (2 bytes) and call id.
const GRE_V1_PAYLOAD_LEN: usize = 4;

/// Protocol types.
const PROTO_PPP: u16 = 0x880b;
const PROTO_ERSPAN_2: u16 = 0x88be;
const PROTO_ERSPAN_3: u16 = 0x22eb;
/// ERSPAN type II header; type I has none (GRE without sequence number).
const ERSPAN_2_LEN: usize = 8;
/// ERSPAN type III header, and its optional platform sub-header (O flag,
/// the low bit of byte 11).
const ERSPAN_3_LEN: usize = 12;
const ERSPAN_3_FLAGS: usize = 11;
const ERSPAN_3_O: u8 = 0x01;
const ERSPAN_3_PLATFORM_LEN: usize = 8;

/// A GRE packet at `off`; its inner packet.
pub(super) fn gre(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let flags = be16(f, off).ok_or(truncated("gre", off))?;
    let protocol = be16(f, off + GRE_PROTOCOL).ok_or(truncated("gre", off))?;
    let mut p = off + GRE_LEN;
    match flags & GRE_VERSION_MASK {
        0 => {
            if flags & GRE_R != 0 {
                return Err(malformed("gre", off, "source routing not supported"));
            }
            for bit in [GRE_C, GRE_K, GRE_S] {
                if flags & bit != 0 {
                    p += GRE_FIELD_LEN;
                }
            }
            if f.len() < p {
                return Err(truncated("gre", off));
            }
            match protocol {
                ethernet::ETHERTYPE_TEB => ethernet::ethernet(f, p, ctx),
                PROTO_ERSPAN_2 if flags & GRE_S != 0 => {
                    ethernet::ethernet(f, p + ERSPAN_2_LEN, ctx)
                }
                PROTO_ERSPAN_2 => ethernet::ethernet(f, p, ctx),
                PROTO_ERSPAN_3 => {
                    let o = byte(f, p + ERSPAN_3_FLAGS).ok_or(truncated("erspan", p))? & ERSPAN_3_O;
                    let len = ERSPAN_3_LEN + if o != 0 { ERSPAN_3_PLATFORM_LEN } else { 0 };
                    ethernet::ethernet(f, p + len, ctx)
                }
                PROTO_PPP => ppp::ppp(f, p, ctx),
                other => ethernet::ethertype(f, p, other, ctx),
            }
        }
        1 => {
            if protocol != PROTO_PPP || flags & GRE_K == 0 {
                return Err(malformed(
                    "gre",
                    off,
                    "enhanced GRE must carry PPP with a key",
                ));
            }
            let payload_len = be16(f, p).ok_or(truncated("gre", off))?;
            p += GRE_V1_PAYLOAD_LEN;
            for bit in [GRE_S, GRE_A] {
                if flags & bit != 0 {
                    p += GRE_FIELD_LEN;
                }
            }
            if payload_len == 0 {
                // An acknowledgement only.
                return Err(DecodeError::NotIp(PROTO_PPP));
            }
            ppp::ppp(f, p, ctx)
        }
        _ => Err(malformed("gre", off, "unknown version")),
    }
}
