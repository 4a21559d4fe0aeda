//! `vlan-ipv6.pcap`: a trunk port: 802.1Q and QinQ tagged flows, IPv6 TCP
//! and UDP, ICMP and ICMPv6 echo.

use super::{eth, lan, play, remote, session};
use crate::capture::{Capture, Container, Host, Path, EPOCH_2024, NS_PER_MS, NS_PER_S};
use crate::link::{Link, LINKTYPE_ETHERNET};
use crate::pcap::{Endian, TsResolution};
use crate::pcapng::IfTsResol;
use crate::proto::dns::{self, Message, Record};
use crate::proto::{http, ntp, tls, From};

fn tagged(tags: &[u16], client: Host, cport: u16, server: Host, sport: u16) -> Path {
    Path {
        link: Link::Vlan(tags.to_vec()),
        ..eth(client, cport, server, sport)
    }
}

fn http_flow(cap: &mut Capture, p: &Path, start: u64, rtt_ms: u64, host: &str, page: usize) {
    let mut s = session(cap, p, start, rtt_ms);
    s.handshake();
    let body = http::html_page(&mut cap.rng, host, page);
    let msgs = vec![
        (From::Client, http::get(host, "/index.html", "Wget/1.21.4")),
        (
            From::Server,
            http::ok(
                "Apache/2.4.58 (Debian)",
                "Mon, 01 Jan 2024 00:10:00 GMT",
                "text/html",
                &body,
            ),
        ),
    ];
    play(&mut s, &msgs, 0, 800_000);
    s.ack(true).close();
    cap.tcp(p, &s.finish());
}

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "vlan-ipv6.pcap",
        "A trunk port: 802.1Q and QinQ tagged flows, IPv6 TCP and UDP, ICMP and ICMPv6 echo.",
        Container::Pcap(Endian::Little, TsResolution::Micro),
        0x7601_0005,
    );
    cap.add_iface(LINKTYPE_ETHERNET, "eth2", "trunk port", IfTsResol::Micro);
    let t0 = EPOCH_2024 + 600 * NS_PER_S;

    // VLAN 10: IPv4 HTTP.
    let p = tagged(
        &[10],
        lan("10.10.10.20", 0x20),
        cap.rng.ephemeral_port(),
        lan("10.10.10.80", 0x50),
        80,
    );
    http_flow(&mut cap, &p, t0, 1, "intranet.example", 2000);
    cap.note(&p, "TCP", "HTTP", "GET /index.html, 200 OK text/html");

    // VLAN 20: IPv6 HTTP.
    let p = tagged(
        &[20],
        Host::new("2001:db8:20::20", super::mac(0x21), 64),
        cap.rng.ephemeral_port(),
        Host::new("2001:db8:20::80", super::mac(0x51), 64),
        80,
    );
    http_flow(&mut cap, &p, t0 + NS_PER_S, 1, "docs.example", 1200);
    cap.note(
        &p,
        "TCP",
        "HTTP",
        "IPv6 inside VLAN 20: GET /index.html, 200 OK",
    );

    // QinQ 100/200: IPv4 TLS and IPv6 DNS.
    let p = tagged(
        &[100, 200],
        lan("172.16.5.20", 0x22),
        cap.rng.ephemeral_port(),
        remote("198.51.100.20", 8),
        443,
    );
    let mut s = session(&mut cap, &p, t0 + 2 * NS_PER_S, 19);
    let sid = cap.rng.bytes(32);
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "cdn.example.com",
            alpn: &["h2"],
            session_id: sid.clone(),
        },
    );
    let mut flight = tls::server_hello(&mut cap.rng, true, &sid, tls::TLS_AES_128_GCM_SHA256, None);
    flight.extend(tls::change_cipher_spec());
    flight.extend(tls::application_data(&mut cap.rng, 1900));
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::application_data(&mut cap.rng, 53));
    let msgs = vec![
        (From::Client, ch),
        (From::Server, flight),
        (From::Client, fin),
    ];
    s.handshake();
    play(&mut s, &msgs, 200_000, 900_000);
    s.ack(false).close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "TLS",
        "QinQ: TLS 1.3 ClientHello SNI cdn.example.com, ALPN h2",
    );

    let p = tagged(
        &[100, 200],
        Host::new("2001:db8:100::20", super::mac(0x22), 64),
        cap.rng.ephemeral_port(),
        Host::new("2001:db8:100::53", GATEWAY, 63),
        53,
    );
    let q = Message::query(cap.rng.next_u16(), "cdn.example.com", dns::AAAA);
    let mut addr = vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x44];
    addr.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x20]);
    let r = q.reply(vec![Record::answer(dns::AAAA, 300, addr)]);
    let at = t0 + 2 * NS_PER_S - 30 * NS_PER_MS;
    cap.udp(&p, at, true, &q.encode());
    cap.udp(&p, at + 4 * NS_PER_MS, false, &r.encode());
    cap.note(&p, "UDP", "DNS", "QinQ, IPv6: AAAA cdn.example.com");

    // Untagged IPv6: HTTP and NTP.
    let host6 = Host::new("2001:db8:1::20", super::mac(0x14), 64);
    let p = eth(
        host6.clone(),
        cap.rng.ephemeral_port(),
        Host::new("2001:db8:80::80", super::GATEWAY_MAC, 57),
        80,
    );
    http_flow(&mut cap, &p, t0 + 3 * NS_PER_S, 12, "www.example.com", 900);
    cap.note(
        &p,
        "TCP",
        "HTTP",
        "untagged IPv6 TCP: GET /index.html, 200 OK",
    );

    let p = eth(
        host6.clone(),
        123,
        Host::new("2001:db8:123::123", super::GATEWAY_MAC, 58),
        123,
    );
    let at = t0 + 4 * NS_PER_S;
    cap.udp(&p, at, true, &ntp::client_request(at));
    cap.udp(
        &p,
        at + 9 * NS_PER_MS,
        false,
        &ntp::server_reply(
            at,
            at + 4 * NS_PER_MS,
            at + 4 * NS_PER_MS + 80_000,
            [0xc0, 0x00, 0x02, 0x7b],
        ),
    );
    cap.note(&p, "UDP", "NTP", "untagged IPv6 UDP, port 123 both ways");

    // Echo: ICMP and ICMPv6, four each.
    let p = eth(lan("192.168.1.20", 0x14), 0, remote("203.0.113.1", 6), 0);
    cap.ping(&p, t0 + 5 * NS_PER_S, 12 * NS_PER_MS, 0x1c2d, 4);
    cap.note(
        &p,
        "ICMP",
        "ICMP",
        "4 echo request/reply pairs, 56-byte Linux ping payload",
    );
    let p = eth(
        host6,
        0,
        Host::new("2001:db8::1", super::GATEWAY_MAC, 58),
        0,
    );
    cap.ping(&p, t0 + 10 * NS_PER_S, 13 * NS_PER_MS, 0x1c2e, 4);
    cap.note(
        &p,
        "ICMPV6",
        "ICMPV6",
        "4 echo request/reply pairs (types 128/129)",
    );
    cap
}

const GATEWAY: [u8; 6] = super::GATEWAY_MAC;
