//! A capture file being assembled: its interfaces, its packets (kept sorted
//! by time when written) and the list of flows it holds, for the manifest.

use crate::link::{frame, Hop, Link};
use crate::pcap::{Endian, PcapWriter, TsResolution};
use crate::pcapng::{IfTsResol, Interface, PcapngWriter};
use crate::rng::Rng;
use crate::tcp::Segment;
use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, TcpHeader,
    TcpOptionElement,
};
use std::net::IpAddr;

/// 2024-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const EPOCH_2024: u64 = 1_704_067_200 * NS_PER_S;
/// Nanoseconds per second.
pub const NS_PER_S: u64 = 1_000_000_000;
/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;

const SNAPLEN: u32 = 262_144;

/// One endpoint: its address, the MAC its frames carry on the captured link,
/// and the TTL / hop limit its packets have when they reach the capture point.
#[derive(Debug, Clone)]
pub struct Host {
    /// IP address.
    pub ip: IpAddr,
    /// MAC address (for remote hosts, the router's).
    pub mac: [u8; 6],
    /// TTL or hop limit as captured.
    pub ttl: u8,
}

impl Host {
    /// A host from an address literal.
    ///
    /// # Panics
    ///
    /// When `ip` is not an address literal (the generator's own constants).
    pub fn new(ip: &str, mac: [u8; 6], ttl: u8) -> Host {
        Host {
            ip: ip.parse().expect("address literal"),
            mac,
            ttl,
        }
    }
}

/// Where a flow runs: the interface and link framing, and both endpoints.
#[derive(Debug, Clone)]
pub struct Path {
    /// Interface index in the capture.
    pub iface: usize,
    /// Link framing of the flow's frames.
    pub link: Link,
    /// The initiator.
    pub client: Host,
    /// The responder.
    pub server: Host,
    /// Client port (0 for ICMP).
    pub cport: u16,
    /// Server port (0 for ICMP).
    pub sport: u16,
    /// True when the capture was taken on the server (its packets are the outbound ones).
    pub server_side: bool,
    /// Encapsulation between the captured link and the flow's IP packets.
    pub tunnel: Option<Tunnel>,
}

/// Tunnel protocols the samples carry flows in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    /// VXLAN (RFC 7348): UDP 4789, 8-byte header, inner Ethernet frame.
    Vxlan {
        /// VXLAN network identifier (24 bits).
        vni: u32,
    },
    /// GTP-U v1 (3GPP TS 29.281): UDP 2152, G-PDU carrying an IP packet.
    GtpU {
        /// Tunnel endpoint id of the uplink; the downlink uses `teid + 1`.
        teid: u32,
    },
    /// GRE (RFC 2784), IP protocol 47, carrying IPv4.
    Gre,
}

/// The outer endpoints and kind of a tunnel.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// Kind.
    pub kind: TunnelKind,
    /// Outer address on the flow client's side.
    pub outer_client: Host,
    /// Outer address on the flow server's side.
    pub outer_server: Host,
}

/// Container format of a capture.
#[derive(Debug, Clone, Copy)]
pub enum Container {
    /// Classic pcap.
    Pcap(Endian, TsResolution),
    /// pcapng, one section.
    Pcapng(Endian),
}

/// A flow listed in the manifest.
#[derive(Debug, Clone)]
pub struct FlowNote {
    /// Application protocol as nDPI names it.
    pub protocol: String,
    /// `TCP`, `UDP`, `ICMP`, `ICMPV6`.
    pub transport: &'static str,
    /// Initiator endpoint.
    pub client: String,
    /// Responder endpoint.
    pub server: String,
    /// Interface index.
    pub iface: usize,
    /// Link framing, as text.
    pub link: String,
    /// What is notable about the flow.
    pub note: String,
}

#[derive(Debug)]
struct Record {
    ts_ns: u64,
    iface: usize,
    frame: Vec<u8>,
}

/// An interface of the capture.
#[derive(Debug, Clone)]
pub struct IfaceDef {
    /// LINKTYPE_*.
    pub linktype: u16,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Timestamp resolution (pcapng only).
    pub tsresol: IfTsResol,
}

/// A capture being built.
#[derive(Debug)]
pub struct Capture {
    /// File name inside `corpus/samples/`.
    pub file_name: String,
    /// One-line purpose for the manifest.
    pub summary: String,
    /// Container format.
    pub container: Container,
    /// Interfaces (exactly one for pcap).
    pub ifaces: Vec<IfaceDef>,
    /// Flows, in the order they were added.
    pub flows: Vec<FlowNote>,
    /// Seeded generator for everything random in this capture.
    pub rng: Rng,
    records: Vec<Record>,
    ip_id: u16,
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    match (ip, port) {
        (IpAddr::V4(a), 0) => a.to_string(),
        (IpAddr::V6(a), 0) => a.to_string(),
        (IpAddr::V4(a), p) => format!("{a}:{p}"),
        (IpAddr::V6(a), p) => format!("[{a}]:{p}"),
    }
}

fn link_text(link: &Link) -> String {
    match link {
        Link::Ethernet => "Ethernet".into(),
        Link::Vlan(tags) if tags.len() == 1 => format!("Ethernet, 802.1Q VLAN {}", tags[0]),
        Link::Vlan(tags) => format!(
            "Ethernet, QinQ (802.1ad outer {}, 802.1Q inner {})",
            tags[0], tags[1]
        ),
        Link::Sll => "Linux SLL".into(),
        Link::Sll2 { .. } => "Linux SLL2".into(),
        Link::Null { .. } => "BSD loopback".into(),
        Link::Raw => "raw IP".into(),
    }
}

fn framing_text(path: &Path) -> String {
    let link = link_text(&path.link);
    let Some(t) = &path.tunnel else {
        return link;
    };
    let outer = format!("{} <-> {}", t.outer_client.ip, t.outer_server.ip);
    match t.kind {
        TunnelKind::Vxlan { vni } => {
            format!("{link}, VXLAN VNI {vni} (UDP 4789, {outer}), inner Ethernet")
        }
        TunnelKind::GtpU { teid } => {
            format!(
                "{link}, GTP-U TEID {teid:#x}/{:#x} (UDP 2152, {outer})",
                teid + 1
            )
        }
        TunnelKind::Gre => format!("{link}, GRE (IP proto 47, {outer})"),
    }
}

impl Capture {
    /// A capture with the given container; add interfaces next.
    pub fn new(file_name: &str, summary: &str, container: Container, seed: u64) -> Capture {
        let mut rng = Rng::new(seed);
        let ip_id = rng.next_u16();
        Capture {
            file_name: file_name.into(),
            summary: summary.into(),
            container,
            ifaces: Vec::new(),
            flows: Vec::new(),
            rng,
            records: Vec::new(),
            ip_id,
        }
    }

    /// Adds an interface and returns its index.
    pub fn add_iface(
        &mut self,
        linktype: u16,
        name: &str,
        description: &str,
        tsresol: IfTsResol,
    ) -> usize {
        self.ifaces.push(IfaceDef {
            linktype,
            name: name.into(),
            description: description.into(),
            tsresol,
        });
        self.ifaces.len() - 1
    }

    /// Records a flow for the manifest.
    pub fn note(&mut self, path: &Path, transport: &'static str, protocol: &str, note: &str) {
        self.flows.push(FlowNote {
            protocol: protocol.into(),
            transport,
            client: endpoint(path.client.ip, path.cport),
            server: endpoint(path.server.ip, path.sport),
            iface: path.iface,
            link: framing_text(path),
            note: note.into(),
        });
    }

    /// Adds a frame carrying `ip_packet` from `src` to `dst`.
    pub fn push_ip(&mut self, path: &Path, ts_ns: u64, from_client: bool, ip_packet: &[u8]) {
        let (src, dst) = if from_client {
            (&path.client, &path.server)
        } else {
            (&path.server, &path.client)
        };
        let hop = Hop {
            src_mac: src.mac,
            dst_mac: dst.mac,
            dst_ip: dst.ip,
            outbound: from_client != path.server_side,
        };
        let wrapped;
        let ip_packet = match &path.tunnel {
            Some(t) => {
                wrapped = self.encapsulate(t, from_client, ip_packet);
                &wrapped[..]
            }
            None => ip_packet,
        };
        let hop = match &path.tunnel {
            Some(t) => Hop {
                dst_ip: if from_client {
                    t.outer_server.ip
                } else {
                    t.outer_client.ip
                },
                ..hop
            },
            None => hop,
        };
        let f = frame(&path.link, &hop, ip_packet);
        let micro = match self.container {
            Container::Pcap(_, res) => res == TsResolution::Micro,
            Container::Pcapng(_) => self.ifaces[path.iface].tsresol == IfTsResol::Micro,
        };
        // Store the time as the file will: cut to the interface's resolution.
        let ts_ns = if micro { ts_ns - ts_ns % 1_000 } else { ts_ns };
        self.records.push(Record {
            ts_ns,
            iface: path.iface,
            frame: f,
        });
    }

    fn encapsulate(&mut self, t: &Tunnel, from_client: bool, inner: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (&t.outer_client, &t.outer_server)
        } else {
            (&t.outer_server, &t.outer_client)
        };
        let (s4, d4) = match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (s.octets(), d.octets()),
            _ => panic!("outer tunnel addresses are IPv4 in the samples"),
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        let mut h = Ipv4Header::new(0, src.ttl, IpNumber::UDP, s4, d4).expect("empty header");
        h.identification = self.ip_id;
        let mut out = Vec::new();
        match t.kind {
            TunnelKind::Vxlan { vni } => {
                let mut payload = vec![0x08, 0, 0, 0];
                payload.extend_from_slice(&(vni << 8).to_be_bytes());
                let (smac, dmac) = if from_client {
                    ([0x02, 0, 0, 0, 0x0a, 0x01], [0x02, 0, 0, 0, 0x0a, 0x02])
                } else {
                    ([0x02, 0, 0, 0, 0x0a, 0x02], [0x02, 0, 0, 0, 0x0a, 0x01])
                };
                payload.extend_from_slice(&dmac);
                payload.extend_from_slice(&smac);
                payload.extend_from_slice(&[0x08, 0x00]);
                payload.extend_from_slice(inner);
                // Source port from the inner addresses, so one inner flow keeps one outer port.
                let hash = inner[12..20]
                    .iter()
                    .fold(0u16, |a, b| a.rotate_left(3) ^ u16::from(*b));
                PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default()))
                    .udp(49152 + hash % 16384, 4789)
                    .write(&mut out, &payload)
                    .expect("vxlan packet");
            }
            TunnelKind::GtpU { teid } => {
                let teid = if from_client { teid } else { teid + 1 };
                let mut payload = vec![0x30, 0xff];
                payload.extend_from_slice(&(inner.len() as u16).to_be_bytes());
                payload.extend_from_slice(&teid.to_be_bytes());
                payload.extend_from_slice(inner);
                PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default()))
                    .udp(2152, 2152)
                    .write(&mut out, &payload)
                    .expect("gtp packet");
            }
            TunnelKind::Gre => {
                let mut payload = vec![0, 0, 0x08, 0x00];
                payload.extend_from_slice(inner);
                h.protocol = IpNumber::GRE;
                h.set_payload_len(payload.len()).expect("fits");
                h.header_checksum = h.calc_header_checksum();
                out.extend_from_slice(&h.to_bytes());
                out.extend_from_slice(&payload);
            }
        }
        out
    }

    fn ip_headers(
        &mut self,
        path: &Path,
        from_client: bool,
        proto: IpNumber,
        df: bool,
    ) -> IpHeaders {
        let (src, dst) = if from_client {
            (&path.client, &path.server)
        } else {
            (&path.server, &path.client)
        };
        self.ip_id = self.ip_id.wrapping_add(1 + (self.rng.next_u16() & 3));
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(0, src.ttl, proto, s.octets(), d.octets())
                    .expect("empty payload fits");
                h.identification = self.ip_id;
                h.dont_fragment = df;
                IpHeaders::Ipv4(h, Default::default())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let label = (u32::from(path.cport) << 4 ^ u32::from(path.sport)) & 0xfffff;
                IpHeaders::Ipv6(
                    Ipv6Header {
                        traffic_class: 0,
                        flow_label: Ipv6FlowLabel::try_new(label).expect("20 bits"),
                        payload_length: 0,
                        next_header: proto,
                        hop_limit: src.ttl,
                        source: s.octets(),
                        destination: d.octets(),
                    },
                    Default::default(),
                )
            }
            _ => panic!("mixed address families in one path"),
        }
    }

    /// Adds one UDP datagram.
    pub fn udp(&mut self, path: &Path, ts_ns: u64, from_client: bool, payload: &[u8]) {
        let ip = self.ip_headers(path, from_client, IpNumber::UDP, false);
        let (sp, dp) = if from_client {
            (path.cport, path.sport)
        } else {
            (path.sport, path.cport)
        };
        let mut out = Vec::new();
        PacketBuilder::ip(ip)
            .udp(sp, dp)
            .write(&mut out, payload)
            .expect("udp packet");
        self.push_ip(path, ts_ns, from_client, &out);
    }

    /// Adds the segments of a TCP connection.
    pub fn tcp(&mut self, path: &Path, segments: &[Segment]) {
        for s in segments {
            let ip = self.ip_headers(path, s.from_client, IpNumber::TCP, true);
            let (sp, dp) = if s.from_client {
                (path.cport, path.sport)
            } else {
                (path.sport, path.cport)
            };
            let mut h = TcpHeader::new(sp, dp, s.seq, s.window);
            h.syn = s.flags.syn;
            h.ack = s.flags.ack;
            h.psh = s.flags.psh;
            h.fin = s.flags.fin;
            h.rst = s.flags.rst;
            h.acknowledgment_number = if s.flags.ack { s.ack } else { 0 };
            if s.syn_options {
                h.set_options(&[
                    TcpOptionElement::MaximumSegmentSize(if path.client.ip.is_ipv6() {
                        1440
                    } else {
                        1460
                    }),
                    TcpOptionElement::Noop,
                    TcpOptionElement::WindowScale(crate::tcp::WINDOW_SCALE),
                    TcpOptionElement::Noop,
                    TcpOptionElement::Noop,
                    TcpOptionElement::SelectiveAcknowledgementPermitted,
                ])
                .expect("options fit");
            }
            let mut out = Vec::new();
            PacketBuilder::ip(ip)
                .tcp_header(h)
                .write(&mut out, &s.payload)
                .expect("tcp packet");
            self.push_ip(path, s.ts_ns, s.from_client, &out);
        }
    }

    /// Adds `count` echo request/reply pairs (ICMP or ICMPv6 by address family),
    /// one per second, each reply `rtt_ns` after its request.
    pub fn ping(&mut self, path: &Path, start_ns: u64, rtt_ns: u64, ident: u16, count: u16) {
        for i in 0..count {
            let ts = start_ns + u64::from(i) * NS_PER_S + self.rng.range(0, 300_000);
            // Linux ping payload: 8-byte timeval, then 0x10, 0x11, ...
            let mut data = Vec::with_capacity(56);
            data.extend_from_slice(&(ts / NS_PER_S).to_le_bytes());
            data.extend((0u8..48).map(|b| b + 0x10));
            let seq = i + 1;
            for from_client in [true, false] {
                let v6 = path.client.ip.is_ipv6();
                let proto = if v6 {
                    IpNumber::IPV6_ICMP
                } else {
                    IpNumber::ICMP
                };
                let ip = self.ip_headers(path, from_client, proto, !v6);
                let b = PacketBuilder::ip(ip);
                let mut out = Vec::new();
                let r = match (v6, from_client) {
                    (false, true) => b.icmpv4_echo_request(ident, seq).write(&mut out, &data),
                    (false, false) => b.icmpv4_echo_reply(ident, seq).write(&mut out, &data),
                    (true, true) => b.icmpv6_echo_request(ident, seq).write(&mut out, &data),
                    (true, false) => b.icmpv6_echo_reply(ident, seq).write(&mut out, &data),
                };
                r.expect("icmp packet");
                let at = if from_client { ts } else { ts + rtt_ns };
                self.push_ip(path, at, from_client, &out);
            }
        }
    }

    /// Number of packets so far.
    pub fn packet_count(&self) -> usize {
        self.records.len()
    }

    /// Time of the first and last packet.
    pub fn time_span(&self) -> (u64, u64) {
        let first = self.records.iter().map(|r| r.ts_ns).min().unwrap_or(0);
        let last = self.records.iter().map(|r| r.ts_ns).max().unwrap_or(0);
        (first, last)
    }

    /// The file's bytes: packets in time order (ties keep insertion order).
    pub fn render(&self) -> Vec<u8> {
        let mut order: Vec<&Record> = self.records.iter().collect();
        order.sort_by_key(|r| r.ts_ns);
        match self.container {
            Container::Pcap(endian, res) => {
                assert_eq!(self.ifaces.len(), 1, "a pcap file has one link type");
                let mut w =
                    PcapWriter::new(endian, res, u32::from(self.ifaces[0].linktype), SNAPLEN);
                for r in order {
                    w.write_packet(r.ts_ns, &r.frame);
                }
                w.into_bytes()
            }
            Container::Pcapng(endian) => {
                let mut w = PcapngWriter::new(
                    endian,
                    "x86_64",
                    "Linux 6.1.0-17-amd64",
                    "dpi-samples (the dpi project's sample generator)",
                );
                for i in &self.ifaces {
                    w.add_interface(Interface {
                        linktype: i.linktype,
                        snaplen: SNAPLEN,
                        name: i.name.clone(),
                        description: i.description.clone(),
                        tsresol: i.tsresol,
                    });
                }
                for r in order {
                    w.write_packet(r.iface as u32, r.ts_ns, &r.frame, None);
                }
                w.into_bytes()
            }
        }
    }
}
