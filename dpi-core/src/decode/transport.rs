//! Transport headers (TCP, UDP, SCTP, ICMP, ICMPv6, anything else as a
//! port-less flow), and the hand-off to the tunnels they may carry.

use std::net::IpAddr;

use super::{
    array, be16, capwap, geneve, gre, gtp, ip, truncated, tzsp, vxlan, Ctx, DecodeResult, Decoded,
};
use crate::{Fragment, Packet, TcpInfo, Tunnel};

/// IP protocol numbers.
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_GRE: u8 = 47;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// TCP header: fixed part and offsets.
const TCP_MIN_LEN: usize = 20;
const TCP_SEQ: usize = 4;
const TCP_ACK: usize = 8;
const TCP_DATA_OFFSET: usize = 12;
const TCP_FLAGS: usize = 13;
const TCP_WINDOW: usize = 14;
/// UDP header length.
const UDP_LEN: usize = 8;
/// SCTP common header length.
const SCTP_LEN: usize = 12;
/// ICMP/ICMPv6: type, code, checksum and the 4-byte rest of header.
const ICMP_LEN: usize = 8;

/// UDP ports of the tunnels looked through (either side).
const PORT_GTP_U: u16 = 2152;
const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const PORT_CAPWAP_DATA: u16 = 5247;
const PORT_TZSP: u16 = 37008;

/// What the IP layer hands to the transport layer.
pub(super) struct Network<'a> {
    /// Source address.
    pub(super) src: IpAddr,
    /// Destination address.
    pub(super) dst: IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub(super) protocol: u8,
    /// Fragment state.
    pub(super) fragment: Fragment,
    /// The frame, cut at the end of the IP packet.
    pub(super) frame: &'a [u8],
    /// Offset of the transport header in `frame`.
    pub(super) l4_off: usize,
    /// Transport length (header and payload) according to the IP header.
    pub(super) l4_len: u32,
    /// The datagram identification (IPv4 Identification, IPv6 fragment
    /// header Identification); 0 when the packet is not a fragment.
    pub(super) datagram_id: u32,
}

impl<'a> Network<'a> {
    /// The packet with the given ports, TCP fields and payload.
    #[inline]
    fn packet(
        &self,
        ctx: Ctx,
        ports: (u16, u16),
        tcp: Option<TcpInfo>,
        header_len: usize,
    ) -> Decoded<'a> {
        // Slices of the frame even when empty (at its end), so that the
        // payload always lies in the frame's bytes.
        let end = &self.frame[self.frame.len()..];
        let l4 = self.frame.get(self.l4_off..).unwrap_or(end);
        let packet = Packet {
            src: self.src,
            dst: self.dst,
            protocol: self.protocol,
            src_port: ports.0,
            dst_port: ports.1,
            vlan: ctx.vlan,
            tunnel: None,
            tcp,
            fragment: self.fragment,
            payload: l4.get(header_len..).unwrap_or(end),
            payload_len: self.l4_len.saturating_sub(header_len as u32),
        };
        Decoded {
            packet,
            datagram_id: if self.fragment == Fragment::Whole {
                0
            } else {
                self.datagram_id
            },
        }
    }
}

/// The transport layer of `net`, looking through tunnels where it finds one.
#[inline]
pub(super) fn transport(net: Network<'_>, ctx: Ctx) -> DecodeResult<'_> {
    let f = net.frame;
    let off = net.l4_off;
    if net.fragment == Fragment::Later {
        return Ok(net.packet(ctx, (0, 0), None, 0));
    }
    match net.protocol {
        PROTO_TCP => {
            let h: &[u8; TCP_MIN_LEN] = array(f, off).ok_or(truncated("tcp", off))?;
            let data_offset = usize::from(h[TCP_DATA_OFFSET] >> 4) * 4;
            if data_offset < TCP_MIN_LEN {
                return Err(super::malformed("tcp", off, "data offset below 20"));
            }
            let tcp = TcpInfo {
                seq: u32::from_be_bytes([
                    h[TCP_SEQ],
                    h[TCP_SEQ + 1],
                    h[TCP_SEQ + 2],
                    h[TCP_SEQ + 3],
                ]),
                ack: u32::from_be_bytes([
                    h[TCP_ACK],
                    h[TCP_ACK + 1],
                    h[TCP_ACK + 2],
                    h[TCP_ACK + 3],
                ]),
                flags: h[TCP_FLAGS],
                window: u16::from_be_bytes([h[TCP_WINDOW], h[TCP_WINDOW + 1]]),
            };
            let ports = (
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
            );
            Ok(net.packet(ctx, ports, Some(tcp), data_offset))
        }
        PROTO_UDP => {
            let h: &[u8; UDP_LEN] = array(f, off).ok_or(truncated("udp", off))?;
            let ports = (
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
            );
            if net.fragment == Fragment::Whole {
                if let Some(p) = udp_tunnel(f, off + UDP_LEN, ports, ctx) {
                    return Ok(p);
                }
            }
            Ok(net.packet(ctx, ports, None, UDP_LEN))
        }
        PROTO_ICMP | PROTO_ICMPV6 => Ok(net.packet(ctx, (0, 0), None, ICMP_LEN)),
        PROTO_SCTP => {
            let src = be16(f, off).ok_or(truncated("sctp", off))?;
            let dst = be16(f, off + 2).ok_or(truncated("sctp", off))?;
            if f.len() < off + SCTP_LEN {
                return Err(truncated("sctp", off));
            }
            Ok(net.packet(ctx, (src, dst), None, SCTP_LEN))
        }
        PROTO_GRE | ip::PROTO_IPV4 | ip::PROTO_IPV6 => {
            if net.fragment == Fragment::Whole {
                if let Some(inner) = ctx.deeper() {
                    let (r, tunnel) = if net.protocol == PROTO_GRE {
                        (gre::gre(f, off, inner), Tunnel::Gre)
                    } else {
                        (ip::ip_in_ip(f, off, inner), Tunnel::IpInIp)
                    };
                    if let Ok(mut p) = r {
                        p.packet.tunnel = Some(tunnel);
                        return Ok(p);
                    }
                }
            }
            Ok(net.packet(ctx, (0, 0), None, 0))
        }
        _ => Ok(net.packet(ctx, (0, 0), None, 0)),
    }
}

/// The inner packet of a UDP tunnel whose payload starts at `off`, when the
/// ports name one and the inner packet decodes.
#[inline]
fn udp_tunnel(f: &[u8], off: usize, (sport, dport): (u16, u16), ctx: Ctx) -> Option<Decoded<'_>> {
    let either = |port: u16| sport == port || dport == port;
    let (r, tunnel) = if either(PORT_GTP_U) {
        (gtp::gtp_u(f, off, ctx.deeper()?), Tunnel::Gtp)
    } else if either(PORT_VXLAN) {
        (vxlan::vxlan(f, off, ctx.deeper()?), Tunnel::Vxlan)
    } else if either(PORT_GENEVE) {
        (geneve::geneve(f, off, ctx.deeper()?), Tunnel::Geneve)
    } else if either(PORT_TZSP) {
        (tzsp::tzsp(f, off, ctx.deeper()?), Tunnel::Tzsp)
    } else if either(PORT_CAPWAP_DATA) {
        (capwap::capwap_data(f, off, ctx.deeper()?), Tunnel::Capwap)
    } else {
        return None;
    };
    let mut p = r.ok()?;
    p.packet.tunnel = Some(tunnel);
    Some(p)
}
