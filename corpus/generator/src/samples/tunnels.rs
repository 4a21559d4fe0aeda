//! `tunnels.pcap`: flows inside VXLAN, GTP-U and GRE, in a little-endian
//! nanosecond pcap. The classifier must label the inner flows.

use super::{eth, lan, play, session};
use crate::capture::{
    Capture, Container, Host, Path, Tunnel, TunnelKind, EPOCH_2024, NS_PER_MS, NS_PER_S,
};
use crate::link::LINKTYPE_ETHERNET;
use crate::pcap::{Endian, TsResolution};
use crate::pcapng::IfTsResol;
use crate::proto::dns::{self, Message, Record};
use crate::proto::{http, tls, From};

fn inner(
    client: &str,
    cport: u16,
    server: &str,
    sport: u16,
    kind: TunnelKind,
    outer: (Host, Host),
) -> Path {
    let (oc, os) = outer;
    Path {
        tunnel: Some(Tunnel {
            kind,
            outer_client: oc.clone(),
            outer_server: os.clone(),
        }),
        ..eth(
            Host::new(client, oc.mac, 64),
            cport,
            Host::new(server, os.mac, 64),
            sport,
        )
    }
}

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "tunnels.pcap",
        "Little-endian pcap with nanosecond timestamps: HTTP inside VXLAN, DNS and TLS inside GTP-U, ICMP inside GRE.",
        Container::Pcap(Endian::Little, TsResolution::Nano),
        0x7475_6e06,
    );
    cap.add_iface(
        LINKTYPE_ETHERNET,
        "eth3",
        "data-centre / mobile core span port",
        IfTsResol::Nano,
    );
    let t0 = EPOCH_2024 + 900 * NS_PER_S;

    // VXLAN between two hypervisors.
    let vteps = (lan("192.168.50.11", 0x31), lan("192.168.50.12", 0x32));
    let vx = TunnelKind::Vxlan { vni: 5001 };
    let p = inner(
        "10.200.0.5",
        cap.rng.ephemeral_port(),
        "10.200.0.9",
        80,
        vx,
        vteps,
    );
    let mut s = session(&mut cap, &p, t0, 1);
    s.handshake();
    let body = br#"{"healthy":true,"checks":["db","cache","queue"]}"#;
    let msgs = vec![
        (
            From::Client,
            http::get("10.200.0.9", "/healthz", "kube-probe/1.29"),
        ),
        (
            From::Server,
            http::ok(
                "envoy",
                "Mon, 01 Jan 2024 00:15:00 GMT",
                "application/json",
                body,
            ),
        ),
    ];
    play(&mut s, &msgs, 0, 300_000);
    s.close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "HTTP",
        "inner Ethernet + IPv4 in VXLAN: GET /healthz, 200 OK JSON",
    );

    // GTP-U between an eNodeB and the serving gateway.
    let enb = (lan("10.100.0.1", 0x41), lan("10.100.0.2", 0x42));
    let gtp = TunnelKind::GtpU { teid: 0x0001_a2b0 };
    let ue = "100.64.0.23";
    let p = inner(
        ue,
        cap.rng.ephemeral_port(),
        "198.51.100.53",
        53,
        gtp,
        enb.clone(),
    );
    let q = Message::query(cap.rng.next_u16(), "push.example.com", dns::A);
    let r = q.reply(vec![Record::answer(dns::A, 60, vec![203, 0, 113, 10])]);
    let at = t0 + NS_PER_S;
    cap.udp(&p, at, true, &q.encode());
    cap.udp(&p, at + 38 * NS_PER_MS, false, &r.encode());
    cap.note(
        &p,
        "UDP",
        "DNS",
        "inside GTP-U (G-PDU, message type 0xff): A push.example.com",
    );

    let p = inner(ue, cap.rng.ephemeral_port(), "203.0.113.10", 443, gtp, enb);
    let mut s = session(&mut cap, &p, at + 45 * NS_PER_MS, 60);
    s.handshake();
    let sid = cap.rng.bytes(32);
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "push.example.com",
            alpn: &["h2"],
            session_id: sid.clone(),
        },
    );
    let mut flight = tls::server_hello(&mut cap.rng, true, &sid, tls::TLS_AES_128_GCM_SHA256, None);
    flight.extend(tls::change_cipher_spec());
    flight.extend(tls::application_data(&mut cap.rng, 1100));
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::application_data(&mut cap.rng, 53));
    let msgs = vec![
        (From::Client, ch),
        (From::Server, flight),
        (From::Client, fin),
    ];
    play(&mut s, &msgs, 100_000, 2 * NS_PER_MS);
    s.ack(false).close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "TLS",
        "inside GTP-U: TLS 1.3 ClientHello SNI push.example.com",
    );

    // GRE between two routers.
    let routers = (
        Host::new("192.0.2.1", super::mac(0x51), 64),
        Host::new("192.0.2.2", super::GATEWAY_MAC, 62),
    );
    let p = inner("172.16.1.10", 0, "172.16.2.20", 0, TunnelKind::Gre, routers);
    cap.ping(&p, t0 + 2 * NS_PER_S, 4 * NS_PER_MS, 0x4242, 3);
    cap.note(&p, "ICMP", "ICMP", "inside GRE: 3 echo request/reply pairs");
    cap
}
