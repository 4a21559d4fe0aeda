//! Table tests with hand-built frames, truncation sweeps and a proptest that
//! no input makes the decoder panic.

use std::net::IpAddr;

use proptest::prelude::*;

use super::{decode, DecodeError};
use crate::{Fragment, LinkType, Packet, TcpInfo, Tunnel};

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const C4: [u8; 4] = [192, 168, 1, 1];
const D4: [u8; 4] = [192, 168, 1, 2];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    // Data offset 6 words: one 4-byte option (MSS).
    v.extend_from_slice(&[0x60, flags, 0x20, 0x00, 0, 0, 0, 0]);
    v.extend_from_slice(&[2, 4, 5, 0xb4]);
    v.extend_from_slice(payload);
    v
}

fn ipv4_frag(protocol: u8, src: [u8; 4], dst: [u8; 4], frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34]);
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, protocol, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(l4);
    v
}

fn ipv4(protocol: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
    ipv4_frag(protocol, src, dst, 0x4000, l4)
}

fn ipv6(next: u8, src: [u8; 16], dst: [u8; 16], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(body);
    v
}

fn eth(ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An IPv4/UDP 10.0.0.1:1000 -> 10.0.0.2:53 datagram, the inner packet of most cases.
fn inner_udp4() -> Vec<u8> {
    ipv4(17, A4, B4, &udp(1000, 53, b"inner"))
}

/// What a case expects of the decoded packet.
#[derive(Debug)]
struct Want {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ports: (u16, u16),
    vlan: u16,
    tunnel: Option<Tunnel>,
    fragment: Fragment,
    payload: &'static [u8],
}

fn want4(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    ports: (u16, u16),
    payload: &'static [u8],
) -> Want {
    Want {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        protocol,
        ports,
        vlan: 0,
        tunnel: None,
        fragment: Fragment::Whole,
        payload,
    }
}

fn want6(protocol: u8, ports: (u16, u16), payload: &'static [u8]) -> Want {
    Want {
        src: IpAddr::from(A6),
        dst: IpAddr::from(B6),
        ..want4(A4, B4, protocol, ports, payload)
    }
}

fn inner() -> Want {
    want4(A4, B4, 17, (1000, 53), b"inner")
}

fn tunnelled(t: Tunnel) -> Want {
    Want {
        tunnel: Some(t),
        ..inner()
    }
}

fn check(name: &str, p: &Packet<'_>, w: &Want) {
    assert_eq!(p.src, w.src, "{name}: src");
    assert_eq!(p.dst, w.dst, "{name}: dst");
    assert_eq!(p.protocol, w.protocol, "{name}: protocol");
    assert_eq!((p.src_port, p.dst_port), w.ports, "{name}: ports");
    assert_eq!(p.vlan, w.vlan, "{name}: vlan");
    assert_eq!(p.tunnel, w.tunnel, "{name}: tunnel");
    assert_eq!(p.fragment, w.fragment, "{name}: fragment");
    assert_eq!(p.payload, w.payload, "{name}: payload");
    assert_eq!(
        p.payload_len as usize,
        w.payload.len(),
        "{name}: payload_len"
    );
}

/// Every prefix of `frame` decodes without panicking, and a prefix never
/// claims more payload than it holds.
fn sweep_truncations(link: LinkType, frame: &[u8]) {
    for n in 0..frame.len() {
        if let Ok(p) = decode(link, &frame[..n]) {
            assert!(p.payload.len() <= p.payload_len as usize);
        }
    }
}

fn ok_cases() -> Vec<(&'static str, LinkType, Vec<u8>, Want)> {
    let u4 = inner_udp4();
    let u6 = ipv6(17, A6, B6, &udp(1000, 53, b"inner"));
    let w6 = || want6(17, (1000, 53), b"inner");
    let vxlan_hdr: &[u8] = &[0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    let llc_ipv4: &[u8] = &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
    let wifi_qos: &[u8] = &[
        0x88, 0x01, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0,
    ];
    let wifi_4addr: &[u8] = &[
        0x08, 0x03, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 0, 0, 4, 4, 4, 4,
        4, 4,
    ];
    vec![
        ("ethernet", LinkType::ETHERNET, eth(0x0800, &u4), inner()),
        ("ethernet ipv6", LinkType::ETHERNET, eth(0x86dd, &u6), w6()),
        (
            "cisco metadata (sgt 42)",
            LinkType::ETHERNET,
            eth(0x8909, &cat(&[&[1, 1, 0, 1, 0, 0x2a, 0x08, 0x00], &u4])),
            inner(),
        ),
        ("raw v4", LinkType::RAW, u4.clone(), inner()),
        ("raw v6", LinkType::RAW, u6.clone(), w6()),
        ("raw openbsd", LinkType::RAW_OPENBSD, u4.clone(), inner()),
        ("ipv4", LinkType::IPV4, u4.clone(), inner()),
        ("ipv6", LinkType::IPV6, u6.clone(), w6()),
        (
            "null le",
            LinkType::NULL,
            cat(&[&[2, 0, 0, 0], &u4]),
            inner(),
        ),
        (
            "null be",
            LinkType::NULL,
            cat(&[&[0, 0, 0, 2], &u4]),
            inner(),
        ),
        (
            "null inet6 linux",
            LinkType::NULL,
            cat(&[&[10, 0, 0, 0], &u6]),
            w6(),
        ),
        (
            "null inet6 bsd",
            LinkType::NULL,
            cat(&[&[24, 0, 0, 0], &u6]),
            w6(),
        ),
        (
            "null inet6 freebsd",
            LinkType::NULL,
            cat(&[&[0, 0, 0, 28], &u6]),
            w6(),
        ),
        (
            "null inet6 darwin",
            LinkType::NULL,
            cat(&[&[30, 0, 0, 0], &u6]),
            w6(),
        ),
        ("loop", LinkType::LOOP, cat(&[&[0, 0, 0, 2], &u4]), inner()),
        (
            "loop inet6",
            LinkType::LOOP,
            cat(&[&[0, 0, 0, 24], &u6]),
            w6(),
        ),
        (
            "sll",
            LinkType::LINUX_SLL,
            cat(&[&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00], &u4]),
            inner(),
        ),
        (
            "sll rmnet",
            LinkType::LINUX_SLL,
            cat(&[&[0, 0, 0x02, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &u6]),
            w6(),
        ),
        (
            "sll vlan",
            LinkType::LINUX_SLL,
            cat(&[
                &[
                    0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x81, 0x00, 0, 7, 0x08, 0,
                ],
                &u4,
            ]),
            Want { vlan: 7, ..inner() },
        ),
        (
            "sll2",
            LinkType::LINUX_SLL2,
            cat(&[
                &[
                    0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
                ],
                &u6,
            ]),
            w6(),
        ),
        (
            "ppp",
            LinkType::PPP,
            cat(&[&[0xff, 0x03, 0x00, 0x21], &u4]),
            inner(),
        ),
        ("ppp bare", LinkType::PPP, cat(&[&[0x00, 0x57], &u6]), w6()),
        (
            "ppp compressed",
            LinkType::PPP,
            cat(&[&[0x21], &u4]),
            inner(),
        ),
        (
            "ppp cisco",
            LinkType::PPP,
            cat(&[&[0x0f, 0x00, 0x08, 0x00], &u4]),
            inner(),
        ),
        (
            "ppp hdlc",
            LinkType::PPP_HDLC,
            cat(&[&[0xff, 0x03, 0x00, 0x21], &u4]),
            inner(),
        ),
        (
            "c-hdlc",
            LinkType::C_HDLC,
            cat(&[&[0x8f, 0x00, 0x86, 0xdd], &u6]),
            w6(),
        ),
        (
            "ppi",
            LinkType::PPI,
            cat(&[&[0, 0, 8, 0, 1, 0, 0, 0], &eth(0x0800, &u4)]),
            inner(),
        ),
        (
            "ppi with field",
            LinkType::PPI,
            cat(&[&[0, 0, 12, 0, 1, 0, 0, 0, 9, 9, 9, 9], &eth(0x0800, &u4)]),
            inner(),
        ),
        (
            "ppi 802.11",
            LinkType::PPI,
            cat(&[&[0, 0, 8, 0, 105, 0, 0, 0], wifi_qos, llc_ipv4, &u4]),
            inner(),
        ),
        (
            "802.11",
            LinkType::IEEE802_11,
            cat(&[wifi_qos, llc_ipv4, &u4]),
            inner(),
        ),
        (
            // Present: TSFT, Flags (FCS included), Rate; then the 8-byte
            // TSFT, flags 0x10, the rate, a pad byte; the FCS ends the frame.
            "radiotap 802.11 with fcs",
            LinkType::IEEE802_11_RADIOTAP,
            cat(&[
                &[
                    0, 0, 20, 0, 0x07, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 2, 0, 0,
                ],
                wifi_qos,
                llc_ipv4,
                &u4,
                &[0xde, 0xad, 0xbe, 0xef],
            ]),
            inner(),
        ),
        (
            "radiotap with an extended bitmap",
            LinkType::IEEE802_11_RADIOTAP,
            cat(&[
                &[0, 0, 12, 0, 0, 0, 0, 0x80, 0, 0, 0, 0],
                wifi_qos,
                llc_ipv4,
                &u4,
            ]),
            inner(),
        ),
        (
            // Little-endian TLVs: a packet header (type 1, 8 bytes), a
            // prefix (type 10, "ab" and its padding), the payload (type 9).
            "nflog little-endian",
            LinkType::NFLOG,
            cat(&[
                &[2, 0, 0, 1],
                &[8, 0, 1, 0, 0x08, 0x00, 3, 0],
                &[6, 0, 10, 0, b'a', b'b', 0, 0],
                &(u4.len() as u16 + 4).to_le_bytes(),
                &[9, 0],
                &u4,
            ]),
            inner(),
        ),
        (
            "nflog big-endian ipv6",
            LinkType::NFLOG,
            cat(&[
                &[10, 0, 0, 0],
                &[0, 8, 0, 1, 0x86, 0xdd, 3, 0],
                &(u6.len() as u16 + 4).to_be_bytes(),
                &[0, 9],
                &u6,
            ]),
            w6(),
        ),
        (
            "vlan",
            LinkType::ETHERNET,
            eth(0x8100, &cat(&[&[0x20, 100, 0x08, 0x00], &u4])),
            Want {
                vlan: 100,
                ..inner()
            },
        ),
        (
            "qinq inner tag wins",
            LinkType::ETHERNET,
            eth(
                0x88a8,
                &cat(&[&[0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00], &u4]),
            ),
            Want {
                vlan: 20,
                ..inner()
            },
        ),
        (
            "qinq 9100",
            LinkType::ETHERNET,
            eth(
                0x9100,
                &cat(&[&[0, 30, 0x81, 0x00, 0xf0, 40, 0x86, 0xdd], &u6]),
            ),
            Want { vlan: 40, ..w6() },
        ),
        (
            "llc snap",
            LinkType::ETHERNET,
            eth((u4.len() + 8) as u16, &cat(&[llc_ipv4, &u4])),
            inner(),
        ),
        (
            "mpls two labels",
            LinkType::ETHERNET,
            eth(0x8847, &cat(&[&[0, 1, 0x00, 64, 0, 2, 0x01, 64], &u4])),
            inner(),
        ),
        (
            "mpls ipv6",
            LinkType::ETHERNET,
            eth(0x8847, &cat(&[&[0, 1, 0x01, 64], &u6])),
            w6(),
        ),
        (
            "mpls pseudowire",
            LinkType::ETHERNET,
            eth(
                0x8847,
                &cat(&[&[0, 1, 0x01, 64, 0, 0, 0, 0], &eth(0x0800, &u4)]),
            ),
            inner(),
        ),
        (
            "cisco fabricpath",
            LinkType::ETHERNET,
            eth(0x8903, &cat(&[&[0x00, 0x3f], &eth(0x0800, &u4)])),
            inner(),
        ),
        (
            "pppoe",
            LinkType::ETHERNET,
            eth(0x8864, &cat(&[&[0x11, 0, 0, 1, 0, 0, 0x00, 0x21], &u4])),
            inner(),
        ),
        (
            "pppoe ipv6 in vlan",
            LinkType::ETHERNET,
            eth(
                0x8100,
                &cat(&[&[0, 5, 0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x00, 0x57], &u6]),
            ),
            Want { vlan: 5, ..w6() },
        ),
        (
            "tcp",
            LinkType::RAW,
            ipv4(
                6,
                A4,
                B4,
                &tcp(40000, 80, 7, 9, TcpInfo::ACK | TcpInfo::PSH, b"GET /"),
            ),
            want4(A4, B4, 6, (40000, 80), b"GET /"),
        ),
        (
            "icmp",
            LinkType::RAW,
            ipv4(1, A4, B4, &[8, 0, 0, 0, 0, 1, 0, 1, b'p', b'i', b'n', b'g']),
            want4(A4, B4, 1, (0, 0), b"ping"),
        ),
        (
            "icmpv6",
            LinkType::RAW,
            ipv6(
                58,
                A6,
                B6,
                &[128, 0, 0, 0, 0, 1, 0, 1, b'p', b'i', b'n', b'g'],
            ),
            want6(58, (0, 0), b"ping"),
        ),
        (
            "sctp",
            LinkType::RAW,
            ipv4(
                132,
                A4,
                B4,
                &[0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 1, 0, 0, 0, 0, b'c', b'h'],
            ),
            want4(A4, B4, 132, (2905, 2906), b"ch"),
        ),
        (
            "esp",
            LinkType::RAW,
            ipv4(50, A4, B4, b"spi+seq"),
            want4(A4, B4, 50, (0, 0), b"spi+seq"),
        ),
        (
            "first fragment",
            LinkType::RAW,
            ipv4_frag(17, A4, B4, 0x2000, &udp(1000, 53, b"inner")),
            Want {
                fragment: Fragment::First,
                ..inner()
            },
        ),
        (
            "later fragment",
            LinkType::RAW,
            ipv4_frag(17, A4, B4, 0x0010, b"rest"),
            Want {
                fragment: Fragment::Later,
                ..want4(A4, B4, 17, (0, 0), b"rest")
            },
        ),
        (
            "ipv6 hop-by-hop and destination options",
            LinkType::RAW,
            ipv6(
                0,
                A6,
                B6,
                &cat(&[
                    &[60, 0, 1, 4, 0, 0, 0, 0],
                    &[17, 0, 1, 4, 0, 0, 0, 0],
                    &udp(1000, 53, b"inner"),
                ]),
            ),
            w6(),
        ),
        (
            "ipv6 first fragment",
            LinkType::RAW,
            ipv6(
                44,
                A6,
                B6,
                &cat(&[&[17, 0, 0x00, 0x01, 0, 0, 0, 9], &udp(1000, 53, b"inner")]),
            ),
            Want {
                fragment: Fragment::First,
                ..w6()
            },
        ),
        (
            "ipv6 later fragment",
            LinkType::RAW,
            ipv6(
                44,
                A6,
                B6,
                &cat(&[&[17, 0, 0x00, 0xa8, 0, 0, 0, 9], b"rest"]),
            ),
            Want {
                fragment: Fragment::Later,
                ..want6(17, (0, 0), b"rest")
            },
        ),
        // Tunnels.
        (
            "gtp-u",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    2152,
                    2152,
                    &cat(&[&[0x30, 0xff, 0, u4.len() as u8, 0, 0, 0, 1], &u4]),
                ),
            ),
            tunnelled(Tunnel::Gtp),
        ),
        (
            "gtp-u sequence and extension header",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    40000,
                    2152,
                    &cat(&[
                        &[
                            0x36,
                            0xff,
                            0,
                            (u6.len() + 8) as u8,
                            0,
                            0,
                            0,
                            1,
                            0,
                            1,
                            0,
                            0x85,
                        ],
                        &[1, 0x10, 5, 0],
                        &u6,
                    ]),
                ),
            ),
            Want {
                tunnel: Some(Tunnel::Gtp),
                ..w6()
            },
        ),
        (
            "gtp-u echo is the outer flow",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(2152, 2152, &[0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]),
            ),
            want4(
                C4,
                D4,
                17,
                (2152, 2152),
                &[0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0],
            ),
        ),
        (
            "vxlan with inner vlan",
            LinkType::ETHERNET,
            eth(
                0x8100,
                &cat(&[
                    &[0, 9, 0x08, 0x00],
                    &ipv4(
                        17,
                        C4,
                        D4,
                        &udp(
                            50000,
                            4789,
                            &cat(&[vxlan_hdr, &eth(0x8100, &cat(&[&[0, 5, 0x08, 0], &u4]))]),
                        ),
                    ),
                ]),
            ),
            Want {
                vlan: 5,
                ..tunnelled(Tunnel::Vxlan)
            },
        ),
        (
            "vxlan keeps outer vlan",
            LinkType::ETHERNET,
            eth(
                0x8100,
                &cat(&[
                    &[0, 9, 0x08, 0x00],
                    &ipv4(
                        17,
                        C4,
                        D4,
                        &udp(50000, 4789, &cat(&[vxlan_hdr, &eth(0x0800, &u4)])),
                    ),
                ]),
            ),
            Want {
                vlan: 9,
                ..tunnelled(Tunnel::Vxlan)
            },
        ),
        (
            "geneve ethernet with an option",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    50000,
                    6081,
                    &cat(&[
                        // Version 0, 2 option words; protocol TEB; VNI 42.
                        &[0x02, 0, 0x65, 0x58, 0, 0, 0x2a, 0],
                        // Option class 0x0108, type 1, length 1 word.
                        &[0x01, 0x08, 0x01, 0x01, 0xca, 0xfe, 0xba, 0xbe],
                        &eth(0x0800, &u4),
                    ]),
                ),
            ),
            tunnelled(Tunnel::Geneve),
        ),
        (
            "geneve ipv4 without ethernet",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(6081, 6081, &cat(&[&[0, 0, 0x08, 0x00, 0, 0, 1, 0], &u4])),
            ),
            tunnelled(Tunnel::Geneve),
        ),
        (
            "geneve control message is the outer flow",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(50000, 6081, &[0, 0x80, 0x08, 0x00, 0, 0, 1, 0, 0x45, 0]),
            ),
            want4(
                C4,
                D4,
                17,
                (50000, 6081),
                &[0, 0x80, 0x08, 0x00, 0, 0, 1, 0, 0x45, 0],
            ),
        ),
        (
            "gre ipv4",
            LinkType::RAW,
            ipv4(47, C4, D4, &cat(&[&[0, 0, 0x08, 0x00], &u4])),
            tunnelled(Tunnel::Gre),
        ),
        (
            "gre key and sequence",
            LinkType::RAW,
            ipv4(
                47,
                C4,
                D4,
                &cat(&[&[0x30, 0, 0x86, 0xdd, 0, 0, 0, 1, 0, 0, 0, 2], &u6]),
            ),
            Want {
                tunnel: Some(Tunnel::Gre),
                ..w6()
            },
        ),
        (
            "gre checksum and teb",
            LinkType::RAW,
            ipv4(
                47,
                C4,
                D4,
                &cat(&[&[0x80, 0, 0x65, 0x58, 0, 0, 0, 0], &eth(0x0800, &u4)]),
            ),
            tunnelled(Tunnel::Gre),
        ),
        (
            "erspan type ii",
            LinkType::RAW,
            ipv4(
                47,
                C4,
                D4,
                &cat(&[
                    &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1],
                    &[0x10, 1, 0, 0, 0, 0, 0, 0],
                    &eth(0x0800, &u4),
                ]),
            ),
            tunnelled(Tunnel::Gre),
        ),
        (
            "erspan type i",
            LinkType::RAW,
            ipv4(47, C4, D4, &cat(&[&[0, 0, 0x88, 0xbe], &eth(0x0800, &u4)])),
            tunnelled(Tunnel::Gre),
        ),
        (
            "pptp enhanced gre",
            LinkType::RAW,
            ipv4(
                47,
                C4,
                D4,
                &cat(&[
                    &[
                        0x30,
                        0x81,
                        0x88,
                        0x0b,
                        0,
                        (u4.len() + 4) as u8,
                        0,
                        7,
                        0,
                        0,
                        0,
                        1,
                        0,
                        0,
                        0,
                        1,
                    ],
                    &[0xff, 0x03, 0x00, 0x21],
                    &u4,
                ]),
            ),
            tunnelled(Tunnel::Gre),
        ),
        (
            "4in4",
            LinkType::RAW,
            ipv4(4, C4, D4, &u4),
            tunnelled(Tunnel::IpInIp),
        ),
        (
            "6in4",
            LinkType::RAW,
            ipv4(41, C4, D4, &u6),
            Want {
                tunnel: Some(Tunnel::IpInIp),
                ..w6()
            },
        ),
        (
            "4in6",
            LinkType::RAW,
            ipv6(4, B6, A6, &u4),
            tunnelled(Tunnel::IpInIp),
        ),
        (
            "6in6",
            LinkType::RAW,
            ipv6(41, B6, A6, &u6),
            Want {
                tunnel: Some(Tunnel::IpInIp),
                ..w6()
            },
        ),
        (
            "tzsp",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    40000,
                    37008,
                    &cat(&[&[1, 0, 0, 1, 0, 10, 2, 0xab, 0xcd, 1], &eth(0x0800, &u4)]),
                ),
            ),
            tunnelled(Tunnel::Tzsp),
        ),
        (
            "capwap 802.3",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    5247,
                    5247,
                    &cat(&[&[0, 0x10, 0, 0, 0, 0, 0, 0], &eth(0x0800, &u4)]),
                ),
            ),
            tunnelled(Tunnel::Capwap),
        ),
        (
            "capwap native 802.11 qos with radio mac",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    12345,
                    5247,
                    &cat(&[
                        &[0, 0x20, 0x43, 0x10, 0, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0],
                        wifi_qos,
                        llc_ipv4,
                        &u4,
                    ]),
                ),
            ),
            tunnelled(Tunnel::Capwap),
        ),
        (
            "capwap native 802.11 four addresses",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    5247,
                    5247,
                    &cat(&[
                        &[0, 0x10, 0x03, 0x00, 0, 0, 0, 0],
                        wifi_4addr,
                        llc_ipv4,
                        &u4,
                    ]),
                ),
            ),
            tunnelled(Tunnel::Capwap),
        ),
        (
            "capwap cisco swapped frame control",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(
                    5247,
                    5247,
                    &cat(&[
                        &[0, 0x10, 0x03, 0x00, 0, 0, 0, 0],
                        &[0x01, 0x08],
                        &wifi_qos[2..24],
                        llc_ipv4,
                        &u4,
                    ]),
                ),
            ),
            tunnelled(Tunnel::Capwap),
        ),
        (
            "gtp in gre names the outer tunnel",
            LinkType::RAW,
            ipv4(
                47,
                [1, 1, 1, 1],
                [2, 2, 2, 2],
                &cat(&[
                    &[0, 0, 0x08, 0x00],
                    &ipv4(
                        17,
                        C4,
                        D4,
                        &udp(
                            2152,
                            2152,
                            &cat(&[&[0x30, 0xff, 0, u4.len() as u8, 0, 0, 0, 1], &u4]),
                        ),
                    ),
                ]),
            ),
            tunnelled(Tunnel::Gre),
        ),
        (
            "undecodable inner falls back to the outer flow",
            LinkType::RAW,
            ipv4(
                17,
                C4,
                D4,
                &udp(5000, 4789, &[0x08, 0, 0, 0, 0, 0, 1, 0, 0xde, 0xad]),
            ),
            want4(
                C4,
                D4,
                17,
                (5000, 4789),
                &[0x08, 0, 0, 0, 0, 0, 1, 0, 0xde, 0xad],
            ),
        ),
    ]
}

#[test]
fn table_of_valid_frames() {
    for (name, link, frame, want) in ok_cases() {
        match decode(link, &frame) {
            Ok(p) => check(name, &p, &want),
            Err(e) => panic!("{name}: {e}"),
        }
        sweep_truncations(link, &frame);
    }
}

#[test]
fn tcp_fields_and_snap_length() {
    let f = eth(
        0x0800,
        &ipv4(6, A4, B4, &tcp(40000, 443, 1000, 2000, 0x18, &[7; 100])),
    );
    let p = decode(LinkType::ETHERNET, &f).unwrap();
    assert_eq!(
        p.tcp,
        Some(TcpInfo {
            seq: 1000,
            ack: 2000,
            flags: 0x18,
            window: 0x2000
        })
    );
    assert_eq!(p.payload_len, 100);
    // Cut by a snap length inside the payload: the length stays the header's.
    let cut = decode(LinkType::ETHERNET, &f[..f.len() - 60]).unwrap();
    assert_eq!((cut.payload.len(), cut.payload_len), (40, 100));
    // Cut inside the options: the fixed header is there, no payload.
    let cut = decode(LinkType::ETHERNET, &f[..14 + 20 + 22]).unwrap();
    assert_eq!(
        (cut.payload.len(), cut.payload_len, cut.tcp.is_some()),
        (0, 100, true)
    );
    // Ethernet padding after a short packet is not payload.
    let mut padded = eth(0x0800, &ipv4(6, A4, B4, &tcp(1, 2, 0, 0, 0x02, b"")));
    padded.extend_from_slice(&[0; 6]);
    let p = decode(LinkType::ETHERNET, &padded).unwrap();
    assert_eq!((p.payload, p.payload_len), (&[][..], 0));
}

#[test]
fn offloaded_lengths_use_the_captured_bytes() {
    let mut f = ipv4(17, A4, B4, &udp(1, 2, b"abc"));
    f[2] = 0;
    f[3] = 0;
    let p = decode(LinkType::RAW, &f).unwrap();
    assert_eq!((p.payload, p.payload_len), (&b"abc"[..], 3));
    let mut f = ipv6(17, A6, B6, &udp(1, 2, b"abc"));
    f[4] = 0;
    f[5] = 0;
    let p = decode(LinkType::RAW, &f).unwrap();
    assert_eq!((p.payload, p.payload_len), (&b"abc"[..], 3));
}

#[test]
fn errors() {
    let u4 = inner_udp4();
    let cases: Vec<(&str, LinkType, Vec<u8>, DecodeError)> = vec![
        (
            "arp",
            LinkType::ETHERNET,
            eth(0x0806, &[0; 28]),
            DecodeError::NotIp(0x0806),
        ),
        (
            "lldp",
            LinkType::ETHERNET,
            eth(0x88cc, &[0; 20]),
            DecodeError::NotIp(0x88cc),
        ),
        (
            "stp",
            LinkType::ETHERNET,
            eth(38, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]),
            DecodeError::NotIp(0),
        ),
        (
            "arp in vlan",
            LinkType::ETHERNET,
            eth(0x8100, &[0, 1, 0x08, 0x06, 0, 0]),
            DecodeError::NotIp(0x0806),
        ),
        (
            "pppoe lcp",
            LinkType::ETHERNET,
            eth(0x8864, &[0x11, 0, 0, 1, 0, 4, 0xc0, 0x21, 1, 1]),
            DecodeError::NotIp(0x8864),
        ),
        (
            "null unknown family",
            LinkType::NULL,
            cat(&[&[7, 0, 0, 0], &u4]),
            DecodeError::NotIp(7),
        ),
        (
            "ppp lcp",
            LinkType::PPP,
            vec![0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4],
            DecodeError::NotIp(0xc021),
        ),
        (
            "user link type",
            LinkType(147),
            u4.clone(),
            DecodeError::UnsupportedLinkType(LinkType(147)),
        ),
        (
            "empty ethernet",
            LinkType::ETHERNET,
            vec![],
            DecodeError::Truncated {
                layer: "ethernet",
                offset: 0,
            },
        ),
        (
            "short ipv4",
            LinkType::ETHERNET,
            eth(0x0800, &u4[..19]),
            DecodeError::Truncated {
                layer: "ipv4",
                offset: 14,
            },
        ),
        (
            "short udp",
            LinkType::RAW,
            u4[..25].to_vec(),
            DecodeError::Truncated {
                layer: "udp",
                offset: 20,
            },
        ),
        (
            "raw version 5",
            LinkType::RAW,
            vec![0x50; 40],
            DecodeError::Malformed {
                layer: "raw",
                offset: 0,
                reason: "IP version is neither 4 nor 6",
            },
        ),
        (
            "ipv4 ihl 4",
            LinkType::IPV4,
            cat(&[&[0x44], &u4[1..]]),
            DecodeError::Malformed {
                layer: "ipv4",
                offset: 0,
                reason: "header length below 20",
            },
        ),
        (
            "ipv6 as ipv4",
            LinkType::IPV4,
            ipv6(17, A6, B6, b""),
            DecodeError::Malformed {
                layer: "ipv4",
                offset: 0,
                reason: "version is not 4",
            },
        ),
        (
            "radiotap version 1",
            LinkType::IEEE802_11_RADIOTAP,
            cat(&[&[1, 0, 8, 0, 0, 0, 0, 0], &u4]),
            DecodeError::Malformed {
                layer: "radiotap",
                offset: 0,
                reason: "version is not 0",
            },
        ),
        (
            "radiotap length below its header",
            LinkType::IEEE802_11_RADIOTAP,
            cat(&[&[0, 0, 4, 0, 0, 0, 0, 0], &u4]),
            DecodeError::Malformed {
                layer: "radiotap",
                offset: 0,
                reason: "header length below 8",
            },
        ),
        (
            "radiotap beacon",
            LinkType::IEEE802_11_RADIOTAP,
            cat(&[&[0, 0, 8, 0, 0, 0, 0, 0, 0x80, 0], &[0; 40]]),
            DecodeError::NotIp(0),
        ),
        (
            "nflog tlv length 2",
            LinkType::NFLOG,
            cat(&[&[2, 0, 0, 0], &[2, 0, 1, 0], &u4]),
            DecodeError::Malformed {
                layer: "nflog",
                offset: 4,
                reason: "TLV length below 4",
            },
        ),
        (
            "nflog tlv past the frame",
            LinkType::NFLOG,
            cat(&[&[2, 0, 0, 0], &[0, 1, 1, 0], &[0; 12]]),
            DecodeError::Truncated {
                layer: "nflog",
                offset: 4,
            },
        ),
        (
            "nflog without payload",
            LinkType::NFLOG,
            cat(&[&[2, 0, 0, 0], &[8, 0, 1, 0, 0x08, 0x00, 3, 0]]),
            DecodeError::Truncated {
                layer: "nflog",
                offset: 12,
            },
        ),
        (
            "nflog family other than IP",
            LinkType::NFLOG,
            cat(&[
                &[7, 0, 0, 0],
                &(u4.len() as u16 + 4).to_le_bytes(),
                &[9, 0],
                &u4,
            ]),
            DecodeError::NotIp(7),
        ),
        (
            "nflog version 1",
            LinkType::NFLOG,
            cat(&[
                &[2, 1, 0, 0],
                &(u4.len() as u16 + 4).to_le_bytes(),
                &[9, 0],
                &u4,
            ]),
            DecodeError::Malformed {
                layer: "nflog",
                offset: 0,
                reason: "version is not 0",
            },
        ),
        (
            "ppi nested too deep",
            LinkType::PPI,
            [0, 0, 8, 0, 192, 0, 0, 0].repeat(6),
            DecodeError::Malformed {
                layer: "ppi",
                offset: 32,
                reason: "nested too deep",
            },
        ),
    ];
    for (name, link, frame, want) in cases {
        assert_eq!(decode(link, &frame), Err(want), "{name}");
        sweep_truncations(link, &frame);
    }
}

#[test]
fn nesting_stops_at_the_depth_limit() {
    // Eight levels of IP-in-IP: the decoder looks through four and reports
    // the packet found there.
    let mut p = inner_udp4();
    for i in 0..8u8 {
        p = ipv4(4, [10, 1, 0, i], [10, 2, 0, i], &p);
    }
    let d = decode(LinkType::RAW, &p).unwrap();
    assert_eq!(d.tunnel, Some(Tunnel::IpInIp));
    assert_eq!((d.src, d.protocol), (IpAddr::from([10, 1, 0, 3]), 4));
}

#[test]
fn pseudowires_nest_only_to_the_depth_limit() {
    // Ethernet over an MPLS pseudowire (bottom label, zero control word)
    // holding another one, and so on: every level recursed once, so a
    // frame of many levels must end at the depth limit, not at the end of
    // the stack. Two levels decode; a thousand give an error.
    // Each level's headers come before the frame it holds, so N levels
    // are N copies of one 22-byte header and the innermost frame.
    let level = eth(0x8847, &[0, 0, 0x01, 64, 0, 0, 0, 0]);
    let frame = |levels: usize| {
        let mut f = level.repeat(levels);
        f.extend_from_slice(&eth(0x0800, &inner_udp4()));
        f
    };
    let two = frame(2);
    assert_eq!(decode(LinkType::ETHERNET, &two).unwrap().protocol, 17);
    // Far deeper than a test thread's stack allows a frame per level.
    assert!(decode(LinkType::ETHERNET, &frame(300_000)).is_err());
}

/// Every link type the decoder knows, and a few it does not.
const LINKS: [LinkType; 18] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::PPP,
    LinkType::PPP_HDLC,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::PPI,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType::RAW_OPENBSD,
    LinkType::IEEE802_11,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::NFLOG,
    LinkType(147),
    LinkType(u32::MAX),
];

/// Whether `p`'s payload is a slice of `frame` (an empty one at most at
/// its end): what a split read, which keeps payloads as offsets into the
/// bytes read, relies on.
fn payload_in(frame: &[u8], p: &Packet<'_>) -> bool {
    let (at, base) = (p.payload.as_ptr() as usize, frame.as_ptr() as usize);
    at >= base && at + p.payload.len() <= base + frame.len()
}

#[test]
fn an_empty_payload_is_a_slice_of_the_frame() {
    // Cut inside the TCP options, and inside the UDP header of a frame
    // whose IP header says more.
    let f = eth(0x0800, &ipv4(6, A4, B4, &tcp(1, 2, 0, 0, 0x18, &[7; 100])));
    let mut t = f[..14 + 20 + 22].to_vec();
    t[14 + 20 + 12] = 0xf0;
    let u = eth(0x0800, &ipv4(17, A4, B4, &udp(1, 2, b"abc")));
    for frame in [&t[..], &f[..14 + 20 + 22], &u[..14 + 20 + 4]] {
        if let Ok(p) = decode(LinkType::ETHERNET, frame) {
            assert!(p.payload.is_empty());
            assert!(payload_in(frame, &p), "{:?}", p.payload.as_ptr());
        }
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(
        link in prop::sample::select(&LINKS[..]),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(p) = decode(link, &bytes) {
            prop_assert!(p.payload.len() <= p.payload_len as usize);
            prop_assert!(payload_in(&bytes, &p));
        }
    }

    #[test]
    fn never_panics_on_mutated_valid_frames(
        case in 0..ok_cases().len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let (_, link, mut frame, _) = ok_cases().swap_remove(case);
        for (i, b) in edits {
            let at = i.index(frame.len());
            frame[at] = b;
        }
        for n in 0..=frame.len() {
            if let Ok(p) = decode(link, &frame[..n]) {
                prop_assert!(p.payload.len() <= p.payload_len as usize);
                prop_assert!(payload_in(&frame[..n], &p));
            }
        }
    }
}
