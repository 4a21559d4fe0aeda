//! Ethernet II and 802.3 frames, 802.1Q/QinQ tags, Cisco MetaData (SGT)
//! headers, MPLS label stacks and PPPoE sessions, down to the IP header.

use super::{be16, byte, ip, malformed, ppp, truncated, Ctx, DecodeError, DecodeResult};

/// Ethernet header: destination, source, ethertype at 12.
const ETH_LEN: usize = 14;
const ETH_TYPE: usize = 12;

/// Ethertypes handled here.
pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Transparent Ethernet bridging: an Ethernet frame follows (GRE, Geneve).
pub(super) const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub(super) const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Cisco FabricPath: 2 bytes (FTag, TTL) after the ethertype, then the
/// inner Ethernet frame.
const ETHERTYPE_FABRICPATH: u16 = 0x8903;
const FABRICPATH_TAG_LEN: usize = 2;
/// Cisco MetaData, which carries a TrustSec security group tag inline:
/// version (1 byte), length (1), option length and type (2), the tag (2),
/// then the next ethertype (2).
const ETHERTYPE_CISCO_METADATA: u16 = 0x8909;
const CMD_LEN: usize = 8;
const CMD_NEXT_TYPE: usize = 6;
/// Values up to this are an 802.3 length, not an ethertype.
const MAX_8023_LENGTH: u16 = 1500;

/// 802.1Q tag: TCI (VLAN id in the low 12 bits), then the next ethertype.
const VLAN_LEN: usize = 4;
const VLAN_ID_MASK: u16 = 0x0fff;

/// 802.2 LLC with SNAP: AA AA 03, 3-byte OUI, ethertype.
pub(super) const LLC_SNAP_LEN: usize = 8;
const LLC_SNAP_PREFIX: [u8; 3] = [0xaa, 0xaa, 0x03];

/// MPLS label stack entry: 4 bytes, bottom-of-stack bit in byte 2.
const MPLS_LEN: usize = 4;
const MPLS_BOTTOM: usize = 2;
const MPLS_BOTTOM_BIT: u8 = 0x01;
/// Label stack entries walked at most.
const MPLS_MAX_LABELS: usize = 16;
/// Pseudowire control word before an Ethernet frame (first nibble 0).
const PW_CONTROL_WORD_LEN: usize = 4;

/// PPPoE session header: ver/type, code, session id, length; then PPP.
const PPPOE_LEN: usize = 6;

/// Tags (802.1Q, LLC/SNAP) walked at most before giving up.
const MAX_TAGS: usize = 8;

/// An Ethernet frame starting at `off`.
#[inline]
pub(super) fn ethernet(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let et = be16(f, off + ETH_TYPE).ok_or(truncated("ethernet", off))?;
    ethertype(f, off + ETH_LEN, et, ctx)
}

/// The payload at `off` of an ethertype `et` (after any link header).
#[inline]
pub(super) fn ethertype(f: &[u8], mut off: usize, mut et: u16, mut ctx: Ctx) -> DecodeResult<'_> {
    for _ in 0..MAX_TAGS {
        match et {
            ETHERTYPE_IPV4 => return ip::ipv4(f, off, ctx),
            ETHERTYPE_IPV6 => return ip::ipv6(f, off, ctx),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                let tci = be16(f, off).ok_or(truncated("vlan", off))?;
                et = be16(f, off + 2).ok_or(truncated("vlan", off))?;
                ctx.vlan = tci & VLAN_ID_MASK;
                off += VLAN_LEN;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return mpls(f, off, ctx),
            ETHERTYPE_CISCO_METADATA => {
                et = be16(f, off + CMD_NEXT_TYPE).ok_or(truncated("cisco metadata", off))?;
                off += CMD_LEN;
            }
            ETHERTYPE_FABRICPATH => {
                off += FABRICPATH_TAG_LEN;
                et = be16(f, off + ETH_TYPE).ok_or(truncated("fabricpath", off))?;
                off += ETH_LEN;
            }
            ETHERTYPE_PPPOE_SESSION => {
                if f.len() < off + PPPOE_LEN {
                    return Err(truncated("pppoe", off));
                }
                return match ppp::ppp(f, off + PPPOE_LEN, ctx) {
                    Err(DecodeError::NotIp(_)) => Err(DecodeError::NotIp(ETHERTYPE_PPPOE_SESSION)),
                    r => r,
                };
            }
            len if len <= MAX_8023_LENGTH => {
                // 802.3 with LLC: only SNAP can carry an ethertype.
                match llc_snap(f, off) {
                    Some(t) => {
                        et = t;
                        off += LLC_SNAP_LEN;
                    }
                    None => return Err(DecodeError::NotIp(0)),
                }
            }
            other => return Err(DecodeError::NotIp(other)),
        }
    }
    Err(malformed("vlan", off, "too many tags"))
}

/// The ethertype of an 802.2 LLC/SNAP header at `off`, if it is one.
/// The payload follows `LLC_SNAP_LEN` bytes later.
#[inline]
pub(super) fn llc_snap(f: &[u8], off: usize) -> Option<u16> {
    let h: &[u8; LLC_SNAP_LEN] = super::array(f, off)?;
    (h[..3] == LLC_SNAP_PREFIX).then(|| u16::from_be_bytes([h[6], h[7]]))
}

/// An MPLS label stack at `off`; after the bottom label, IPv4, IPv6 or a
/// pseudowire control word with an Ethernet frame (told by the first nibble).
pub(super) fn mpls(f: &[u8], mut off: usize, ctx: Ctx) -> DecodeResult<'_> {
    for _ in 0..MPLS_MAX_LABELS {
        let bottom = byte(f, off + MPLS_BOTTOM).ok_or(truncated("mpls", off))? & MPLS_BOTTOM_BIT;
        off += MPLS_LEN;
        if bottom != 0 {
            return match byte(f, off).map(|b| b >> 4) {
                Some(4) => ip::ipv4(f, off, ctx),
                Some(6) => ip::ipv6(f, off, ctx),
                // A pseudowire's Ethernet frame is one more level: each
                // level may hold another MPLS stack (or PPPoE carrying
                // MPLS), so the depth bound is what ends the recursion.
                Some(0) => match ctx.deeper() {
                    Some(inner) => ethernet(f, off + PW_CONTROL_WORD_LEN, inner),
                    None => Err(malformed("mpls", off, "pseudowire nested too deep")),
                },
                Some(_) => Err(DecodeError::NotIp(ETHERTYPE_MPLS)),
                None => Err(truncated("mpls", off)),
            };
        }
    }
    Err(malformed("mpls", off, "label stack too deep"))
}
