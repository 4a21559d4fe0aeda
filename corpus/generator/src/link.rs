//! Link-layer framing: the headers that sit in front of the IP packet for
//! each link type the samples use.

use crate::pcap::Endian;
use std::net::IpAddr;

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in host byte order.
pub const LINKTYPE_NULL: u16 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// LINKTYPE_RAW: the packet starts with the IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u16 = 101;
/// LINKTYPE_LINUX_SLL: Linux "cooked" capture, version 1 (16-byte header).
pub const LINKTYPE_LINUX_SLL: u16 = 113;
/// LINKTYPE_LINUX_SLL2: Linux "cooked" capture, version 2 (20-byte header).
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;
/// Address family of IPv6 on the loopback of Darwin (macOS), the usual source of NULL captures.
const AF_INET6_DARWIN: u32 = 30;
const AF_INET: u32 = 2;

/// How a frame is wrapped around its IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II.
    Ethernet,
    /// Ethernet II with 802.1Q tags, outermost first; two tags make a QinQ
    /// frame whose outer tag uses the 802.1ad TPID 0x88a8.
    Vlan(Vec<u16>),
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2 with the given interface index.
    Sll2 {
        /// Interface index written in the header.
        ifindex: u32,
    },
    /// BSD loopback; the address family is written in `endian`.
    Null {
        /// Byte order of the file, which is the capturing host's.
        endian: Endian,
    },
    /// No link header.
    Raw,
}

impl Link {
    /// The LINKTYPE_* of an interface carrying frames of this kind.
    pub fn linktype(&self) -> u16 {
        match self {
            Link::Ethernet | Link::Vlan(_) => LINKTYPE_ETHERNET,
            Link::Sll => LINKTYPE_LINUX_SLL,
            Link::Sll2 { .. } => LINKTYPE_LINUX_SLL2,
            Link::Null { .. } => LINKTYPE_NULL,
            Link::Raw => LINKTYPE_RAW,
        }
    }
}

/// The two MAC addresses and the direction of one frame.
#[derive(Debug, Clone, Copy)]
pub struct Hop {
    /// Sender MAC.
    pub src_mac: [u8; 6],
    /// Receiver MAC when the destination is unicast.
    pub dst_mac: [u8; 6],
    /// Destination IP, to pick a multicast or broadcast MAC.
    pub dst_ip: IpAddr,
    /// True when the capturing host sent the frame.
    pub outbound: bool,
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast() || v4.octets()[3] == 255)
}

/// The destination MAC for `hop`: derived from the IP for multicast and broadcast.
pub fn dst_mac(hop: &Hop) -> [u8; 6] {
    match hop.dst_ip {
        IpAddr::V4(v4) if v4.is_multicast() => {
            let o = v4.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(v6) if v6.is_multicast() => {
            let o = v6.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        ip if is_broadcast(ip) => [0xff; 6],
        _ => hop.dst_mac,
    }
}

/// Wraps `ip_packet` in the link header for `link`.
pub fn frame(link: &Link, hop: &Hop, ip_packet: &[u8]) -> Vec<u8> {
    let v6 = ip_packet.first().map(|b| b >> 4) == Some(6);
    let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
    let mut out = Vec::with_capacity(ip_packet.len() + 24);
    match link {
        Link::Ethernet | Link::Vlan(_) => {
            out.extend_from_slice(&dst_mac(hop));
            out.extend_from_slice(&hop.src_mac);
            if let Link::Vlan(tags) = link {
                for (i, vid) in tags.iter().enumerate() {
                    let tpid = if i == 0 && tags.len() > 1 {
                        TPID_8021AD
                    } else {
                        TPID_8021Q
                    };
                    out.extend_from_slice(&tpid.to_be_bytes());
                    out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
                }
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Sll => {
            out.extend_from_slice(&u16::from(packet_type(hop)).to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&hop.src_mac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Sll2 { ifindex } => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ifindex.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(packet_type(hop));
            out.push(6);
            out.extend_from_slice(&hop.src_mac);
            out.extend_from_slice(&[0, 0]);
        }
        Link::Null { endian } => {
            let af = if v6 { AF_INET6_DARWIN } else { AF_INET };
            endian.put_u32(&mut out, af);
        }
        Link::Raw => {}
    }
    out.extend_from_slice(ip_packet);
    out
}

/// Linux `PACKET_*` type: 0 to us, 1 broadcast, 2 multicast, 4 sent by us.
fn packet_type(hop: &Hop) -> u8 {
    if hop.outbound {
        4
    } else if hop.dst_ip.is_multicast() {
        2
    } else if is_broadcast(hop.dst_ip) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(dst: &str, outbound: bool) -> Hop {
        Hop {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            dst_ip: dst.parse().unwrap(),
            outbound,
        }
    }

    #[test]
    fn header_lengths_and_types() {
        let ip4 = [0x45u8; 20];
        let ip6 = [0x60u8; 40];
        let cases: Vec<(Link, &[u8], usize, u16)> = vec![
            (Link::Ethernet, &ip4, 14, 1),
            (Link::Vlan(vec![10]), &ip4, 18, 1),
            (Link::Vlan(vec![100, 200]), &ip6, 22, 1),
            (Link::Sll, &ip4, 16, 113),
            (Link::Sll2 { ifindex: 3 }, &ip6, 20, 276),
            (
                Link::Null {
                    endian: Endian::Little,
                },
                &ip4,
                4,
                0,
            ),
            (Link::Raw, &ip6, 0, 101),
        ];
        for (link, ip, hdr, lt) in cases {
            let f = frame(&link, &hop("192.0.2.1", true), ip);
            assert_eq!(f.len(), hdr + ip.len(), "{link:?}");
            assert_eq!(&f[hdr..], ip);
            assert_eq!(link.linktype(), lt);
        }
    }

    #[test]
    fn qinq_uses_8021ad_outer_tag() {
        let f = frame(
            &Link::Vlan(vec![100, 200]),
            &hop("192.0.2.1", false),
            &[0x45; 20],
        );
        assert_eq!(f[12..14], [0x88, 0xa8]);
        assert_eq!(f[14..16], [0x00, 100]);
        assert_eq!(f[16..18], [0x81, 0x00]);
        assert_eq!(f[18..20], [0x00, 200]);
        assert_eq!(f[20..22], [0x08, 0x00]);
    }

    #[test]
    fn multicast_and_broadcast_macs() {
        assert_eq!(dst_mac(&hop("224.0.0.251", true)), [1, 0, 0x5e, 0, 0, 0xfb]);
        assert_eq!(dst_mac(&hop("ff02::fb", true)), [0x33, 0x33, 0, 0, 0, 0xfb]);
        assert_eq!(dst_mac(&hop("255.255.255.255", true)), [0xff; 6]);
        assert_eq!(dst_mac(&hop("192.0.2.7", true)), [2, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn sll_packet_types() {
        let to_us = frame(&Link::Sll, &hop("192.0.2.1", false), &[0x45; 20]);
        let by_us = frame(&Link::Sll, &hop("192.0.2.1", true), &[0x45; 20]);
        let mcast = frame(&Link::Sll, &hop("224.0.0.251", false), &[0x45; 20]);
        assert_eq!((to_us[1], by_us[1], mcast[1]), (0, 4, 2));
        assert_eq!(to_us[14..16], [0x08, 0x00]);
    }
}
