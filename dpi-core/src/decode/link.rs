//! Link-layer dispatch: the pseudo headers of loopback, cooked, PPP, HDLC,
//! PPI, radiotap and NFLOG captures, down to an ethertype or an IP header.

use super::{
    be16, byte, ethernet, ieee80211, ip, malformed, ppp, truncated, Ctx, DecodeError, DecodeResult,
};
use crate::LinkType;

/// BSD loopback header: a 4-byte address family.
const NULL_LEN: usize = 4;
/// Address families meaning IPv4 / IPv6 across BSDs, Linux and Darwin.
const AF_INET: u32 = 2;
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// Linux cooked capture v1: 16 bytes, ARPHRD type at 2, protocol at 14.
const SLL_LEN: usize = 16;
const SLL_HATYPE: usize = 2;
const SLL_PROTOCOL: usize = 14;
/// Linux cooked capture v2: 20 bytes, protocol at 0, ARPHRD type at 8.
const SLL2_LEN: usize = 20;
const SLL2_PROTOCOL: usize = 0;
const SLL2_HATYPE: usize = 8;
/// ARPHRD types whose frames are bare IP packets (the protocol field may be
/// 0 or meaningless): IP tunnels, raw IP, rmnet (530), "none".
const ARPHRD_BARE_IP: [u16; 6] = [519, 530, 768, 776, 778, 0xfffe];
/// ARPHRD_NETLINK: netlink messages, never IP.
const ARPHRD_NETLINK: u16 = 824;

/// Cisco HDLC: address, control, 2-byte ethertype.
const C_HDLC_LEN: usize = 4;
const C_HDLC_PROTOCOL: usize = 2;
/// Cisco HDLC address bytes (unicast, broadcast), found under DLT PPP too.
const C_HDLC_UNICAST: u8 = 0x0f;
const C_HDLC_BROADCAST: u8 = 0x8f;

/// PPI: version, flags, header length (LE u16 at 2), inner DLT (LE u32 at 4).
const PPI_MIN_LEN: usize = 8;
const PPI_LEN: usize = 2;
const PPI_DLT: usize = 4;

/// Radiotap (radiotap.org): version 0, a pad byte, the header's length
/// (LE u16 at 2, the present bitmaps and the fields included), the first
/// present bitmap; the 802.11 frame follows the header. A frame that
/// carries its FCS (the Flags field's 0x10) keeps it: the IP header's
/// lengths end the packet before it.
const RADIOTAP_MIN_LEN: usize = 8;
const RADIOTAP_LEN: usize = 2;

/// NFLOG (libpcap's LINKTYPE_NFLOG): address family, version 0, resource
/// id (BE u16), then TLVs: length and type (u16 each, in the byte order of
/// the host that captured), the length counting the 4-byte TLV header,
/// each TLV padded to a multiple of 4 bytes. Type 9 (NFULA_PAYLOAD) holds
/// the packet, from its IP header.
const NFLOG_HEADER_LEN: usize = 4;
const NFLOG_TLV_HEADER_LEN: usize = 4;
const NFULA_PAYLOAD: u16 = 9;
/// The address families of an NFLOG header (Linux's AF_INET, AF_INET6).
const NFLOG_AF_INET: u8 = 2;
const NFLOG_AF_INET6: u8 = 10;

/// Decodes the frame of link type `link` whose link header starts at `off`.
pub(super) fn decode_link<'a>(
    link: LinkType,
    f: &'a [u8],
    off: usize,
    ctx: Ctx,
) -> DecodeResult<'a> {
    match link {
        LinkType::ETHERNET => ethernet::ethernet(f, off, ctx),
        LinkType::RAW | LinkType::RAW_OPENBSD => raw(f, off, ctx),
        LinkType::IPV4 => ip::ipv4(f, off, ctx),
        LinkType::IPV6 => ip::ipv6(f, off, ctx),
        LinkType::LINUX_SLL => sll(f, off, SLL_LEN, SLL_PROTOCOL, SLL_HATYPE, "sll", ctx),
        LinkType::LINUX_SLL2 => sll(f, off, SLL2_LEN, SLL2_PROTOCOL, SLL2_HATYPE, "sll2", ctx),
        LinkType::NULL => null(f, off, false, ctx),
        LinkType::LOOP => null(f, off, true, ctx),
        LinkType::PPP | LinkType::PPP_HDLC => match byte(f, off) {
            Some(C_HDLC_UNICAST | C_HDLC_BROADCAST) => c_hdlc(f, off, ctx),
            _ => ppp::ppp(f, off, ctx),
        },
        LinkType::C_HDLC => c_hdlc(f, off, ctx),
        LinkType::PPI => ppi(f, off, ctx),
        LinkType::IEEE802_11 => ieee80211::data_frame(f, off, ctx),
        LinkType::IEEE802_11_RADIOTAP => radiotap(f, off, ctx),
        LinkType::NFLOG => nflog(f, off, ctx),
        other => Err(DecodeError::UnsupportedLinkType(other)),
    }
}

/// Raw IP: the version is the first nibble.
#[inline]
fn raw(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    match byte(f, off).map(|b| b >> 4) {
        Some(4) => ip::ipv4(f, off, ctx),
        Some(6) => ip::ipv6(f, off, ctx),
        Some(_) => Err(malformed("raw", off, "IP version is neither 4 nor 6")),
        None => Err(truncated("raw", off)),
    }
}

/// BSD null (host byte order, either accepted) and OpenBSD loop (network order).
fn null(f: &[u8], off: usize, network_order: bool, ctx: Ctx) -> DecodeResult<'_> {
    let layer = if network_order { "loop" } else { "null" };
    let b: [u8; NULL_LEN] = *super::array(f, off).ok_or(truncated(layer, off))?;
    let family = if network_order {
        u32::from_be_bytes(b)
    } else {
        // The writer's byte order is unknown: families are small numbers,
        // so a value above 16 bits was written in the other order.
        let le = u32::from_le_bytes(b);
        if le > 0xffff {
            le.swap_bytes()
        } else {
            le
        }
    };
    let inner = off + NULL_LEN;
    if family == AF_INET {
        ip::ipv4(f, inner, ctx)
    } else if AF_INET6.contains(&family) {
        ip::ipv6(f, inner, ctx)
    } else {
        Err(DecodeError::NotIp(family as u16))
    }
}

/// Linux cooked capture, v1 or v2.
fn sll<'a>(
    f: &'a [u8],
    off: usize,
    len: usize,
    protocol_at: usize,
    hatype_at: usize,
    layer: &'static str,
    ctx: Ctx,
) -> DecodeResult<'a> {
    let inner = off + len;
    if f.len() < inner {
        return Err(truncated(layer, off));
    }
    let protocol = be16(f, off + protocol_at).ok_or(truncated(layer, off))?;
    let hatype = be16(f, off + hatype_at).ok_or(truncated(layer, off))?;
    if hatype == ARPHRD_NETLINK {
        return Err(DecodeError::NotIp(protocol));
    }
    match protocol {
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => {
            ethernet::ethertype(f, inner, protocol, ctx)
        }
        _ if ARPHRD_BARE_IP.contains(&hatype) => match byte(f, inner).map(|b| b >> 4) {
            Some(4) => ip::ipv4(f, inner, ctx),
            Some(6) => ip::ipv6(f, inner, ctx),
            _ => Err(DecodeError::NotIp(protocol)),
        },
        _ => ethernet::ethertype(f, inner, protocol, ctx),
    }
}

/// Cisco HDLC: 4 bytes, the ethertype at 2.
fn c_hdlc(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let protocol = be16(f, off + C_HDLC_PROTOCOL).ok_or(truncated("c-hdlc", off))?;
    ethernet::ethertype(f, off + C_HDLC_LEN, protocol, ctx)
}

/// PPI: skip the header and decode the inner frame by its own link type.
fn ppi(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; PPI_MIN_LEN] = super::array(f, off).ok_or(truncated("ppi", off))?;
    let len = usize::from(u16::from_le_bytes([h[PPI_LEN], h[PPI_LEN + 1]]));
    let dlt = u32::from_le_bytes([h[PPI_DLT], h[PPI_DLT + 1], h[PPI_DLT + 2], h[PPI_DLT + 3]]);
    if len < PPI_MIN_LEN {
        return Err(malformed("ppi", off, "header length below 8"));
    }
    if f.len() < off + len {
        return Err(truncated("ppi", off));
    }
    let inner = ctx
        .deeper()
        .ok_or(malformed("ppi", off, "nested too deep"))?;
    decode_link(LinkType(dlt), f, off + len, inner)
}

/// Radiotap: skip the header, then the 802.11 frame.
fn radiotap(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; RADIOTAP_MIN_LEN] = super::array(f, off).ok_or(truncated("radiotap", off))?;
    if h[0] != 0 {
        return Err(malformed("radiotap", off, "version is not 0"));
    }
    let len = usize::from(u16::from_le_bytes([h[RADIOTAP_LEN], h[RADIOTAP_LEN + 1]]));
    if len < RADIOTAP_MIN_LEN {
        return Err(malformed("radiotap", off, "header length below 8"));
    }
    if f.len() < off + len {
        return Err(truncated("radiotap", off));
    }
    ieee80211::data_frame(f, off + len, ctx)
}

/// NFLOG: walk the TLVs to the payload and decode it by the header's
/// address family. The byte order is the one in which the first TLV's type
/// is below 256 (every NFULA type is).
fn nflog(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; NFLOG_HEADER_LEN] = super::array(f, off).ok_or(truncated("nflog", off))?;
    let family = h[0];
    if h[1] != 0 {
        return Err(malformed("nflog", off, "version is not 0"));
    }
    let mut p = off + NFLOG_HEADER_LEN;
    let first: &[u8; NFLOG_TLV_HEADER_LEN] = super::array(f, p).ok_or(truncated("nflog", p))?;
    let little_endian = first[3] == 0;
    let word = |b: [u8; 2]| {
        if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    loop {
        let t: &[u8; NFLOG_TLV_HEADER_LEN] = super::array(f, p).ok_or(truncated("nflog", p))?;
        let len = usize::from(word([t[0], t[1]]));
        let kind = word([t[2], t[3]]);
        if len < NFLOG_TLV_HEADER_LEN {
            return Err(malformed("nflog", p, "TLV length below 4"));
        }
        let end = p + len;
        if kind == NFULA_PAYLOAD {
            // The packet ends with its TLV, or where the capture was cut.
            let f = &f[..end.min(f.len())];
            let inner = p + NFLOG_TLV_HEADER_LEN;
            return match family {
                NFLOG_AF_INET => ip::ipv4(f, inner, ctx),
                NFLOG_AF_INET6 => ip::ipv6(f, inner, ctx),
                other => Err(DecodeError::NotIp(u16::from(other))),
            };
        }
        if end > f.len() {
            return Err(truncated("nflog", p));
        }
        // TLVs are aligned to 4 bytes from the start of the header.
        p = off + (end - off).next_multiple_of(4);
    }
}
