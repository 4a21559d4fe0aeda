//! IPv4 and IPv6 headers (with IPv6 extension headers and fragments), and
//! IP-in-IP encapsulation (IP protocols 4 and 41, any mix of versions).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice};

use super::transport::{self, Network};
use super::{array, byte, malformed, truncated, Ctx, DecodeError, DecodeResult};
use crate::Fragment;

/// IPv4 header: fixed part, and the offsets used from it.
const V4_MIN_LEN: usize = 20;
const V4_VERSION_IHL: usize = 0;
const V4_TOTAL_LEN: usize = 2;
const V4_IDENTIFICATION: usize = 4;
const V4_FRAGMENT: usize = 6;
const V4_PROTOCOL: usize = 9;
const V4_SRC: usize = 12;
const V4_DST: usize = 16;
const V4_MORE_FRAGMENTS: u16 = 0x2000;
const V4_OFFSET_MASK: u16 = 0x1fff;

/// IPv6 fixed header and its offsets.
const V6_LEN: usize = 40;
const V6_PAYLOAD_LEN: usize = 4;
const V6_NEXT_HEADER: usize = 6;
const V6_SRC: usize = 8;
const V6_DST: usize = 24;

/// IPv6 next-header values that are extension headers etherparse walks
/// (hop-by-hop, routing, fragment, destination options, authentication).
const V6_EXTENSIONS: [u8; 5] = [0, 43, 44, 60, 51];

/// IP protocol numbers of IP-in-IP.
pub(super) const PROTO_IPV4: u8 = 4;
pub(super) const PROTO_IPV6: u8 = 41;

/// An IPv4 or IPv6 packet at `off`, told by the first nibble; anything else
/// is not IP.
#[inline]
pub(super) fn ip_any(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    match byte(f, off).map(|b| b >> 4) {
        Some(4) => ipv4(f, off, ctx),
        Some(6) => ipv6(f, off, ctx),
        Some(_) => Err(DecodeError::NotIp(0)),
        None => Err(truncated("ip", off)),
    }
}

/// An IPv4 packet at `off`.
#[inline]
pub(super) fn ipv4(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; V4_MIN_LEN] = array(f, off).ok_or(truncated("ipv4", off))?;
    let vihl = h[V4_VERSION_IHL];
    if vihl >> 4 != 4 {
        return Err(malformed("ipv4", off, "version is not 4"));
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < V4_MIN_LEN {
        return Err(malformed("ipv4", off, "header length below 20"));
    }
    let available = f.len() - off;
    if available < ihl {
        return Err(truncated("ipv4", off));
    }
    let total = usize::from(u16::from_be_bytes([h[V4_TOTAL_LEN], h[V4_TOTAL_LEN + 1]]));
    // A total length below the header length is unset (segmentation offload
    // captures): the captured bytes are the packet then.
    let (len, end) = if total < ihl {
        (available, f.len())
    } else {
        (total, f.len().min(off + total))
    };
    let frag = u16::from_be_bytes([h[V4_FRAGMENT], h[V4_FRAGMENT + 1]]);
    let fragment = if frag & V4_OFFSET_MASK != 0 {
        Fragment::Later
    } else if frag & V4_MORE_FRAGMENTS != 0 {
        Fragment::First
    } else {
        Fragment::Whole
    };
    let src = Ipv4Addr::new(h[V4_SRC], h[V4_SRC + 1], h[V4_SRC + 2], h[V4_SRC + 3]);
    let dst = Ipv4Addr::new(h[V4_DST], h[V4_DST + 1], h[V4_DST + 2], h[V4_DST + 3]);
    let net = Network {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol: h[V4_PROTOCOL],
        fragment,
        frame: f.get(..end).unwrap_or(f),
        l4_off: off + ihl,
        l4_len: (len - ihl) as u32,
        datagram_id: u32::from(u16::from_be_bytes([
            h[V4_IDENTIFICATION],
            h[V4_IDENTIFICATION + 1],
        ])),
    };
    transport::transport(net, ctx)
}

/// An IPv6 packet at `off`, with its extension headers.
#[inline]
pub(super) fn ipv6(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    let h: &[u8; V6_LEN] = array(f, off).ok_or(truncated("ipv6", off))?;
    if h[0] >> 4 != 6 {
        return Err(malformed("ipv6", off, "version is not 6"));
    }
    let body_off = off + V6_LEN;
    let available = f.len() - body_off;
    let declared = usize::from(u16::from_be_bytes([
        h[V6_PAYLOAD_LEN],
        h[V6_PAYLOAD_LEN + 1],
    ]));
    // Payload length 0 is a jumbogram or an offloaded packet: use what was captured.
    let (len, end) = if declared == 0 {
        (available, f.len())
    } else {
        (declared, f.len().min(body_off + declared))
    };
    let frame = f.get(..end).unwrap_or(f);
    let next = h[V6_NEXT_HEADER];
    let src = IpAddr::V6(Ipv6Addr::from(*array::<16>(h, V6_SRC).unwrap_or(&[0; 16])));
    let dst = IpAddr::V6(Ipv6Addr::from(*array::<16>(h, V6_DST).unwrap_or(&[0; 16])));

    let (protocol, ext_len, fragment, datagram_id) = if V6_EXTENSIONS.contains(&next) {
        extensions(frame, body_off, next)?
    } else {
        (next, 0, Fragment::Whole, 0)
    };
    let net = Network {
        src,
        dst,
        protocol,
        fragment,
        frame,
        l4_off: body_off + ext_len,
        l4_len: len.saturating_sub(ext_len) as u32,
        datagram_id,
    };
    transport::transport(net, ctx)
}

/// Walks the IPv6 extension headers at `off` (the first of type `next`):
/// the transport protocol, the length of the extension headers, the
/// fragment state and the fragment header's Identification.
fn extensions(f: &[u8], off: usize, next: u8) -> Result<(u8, usize, Fragment, u32), DecodeError> {
    let body = f.get(off..).unwrap_or(&[]);
    let (exts, protocol, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(IpNumber(next), body);
    if let Some((e, _)) = err {
        let at = off + (body.len() - rest.len());
        return Err(match e {
            etherparse::err::ipv6_exts::HeaderSliceError::Len(_) => truncated("ipv6-ext", at),
            etherparse::err::ipv6_exts::HeaderSliceError::Content(_) => {
                malformed("ipv6-ext", at, "hop-by-hop header not first")
            }
        });
    }
    let mut fragment = Fragment::Whole;
    let mut id = 0;
    if exts.is_fragmenting_payload() {
        for ext in exts {
            if let Ipv6ExtensionSlice::Fragment(fr) = ext {
                id = fr.identification();
                if fr.fragment_offset().value() != 0 {
                    fragment = Fragment::Later;
                } else if fr.more_fragments() && fragment == Fragment::Whole {
                    fragment = Fragment::First;
                }
            }
        }
    }
    Ok((protocol.0, body.len() - rest.len(), fragment, id))
}

/// IP-in-IP: the inner packet at `off` of the outer protocol (4 or 41),
/// accepting either version whatever the protocol number says.
#[inline]
pub(super) fn ip_in_ip(f: &[u8], off: usize, ctx: Ctx) -> DecodeResult<'_> {
    ip_any(f, off, ctx)
}
