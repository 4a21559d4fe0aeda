//! `web.pcap`: browsing from one LAN client — HTTP and TLS with the
//! irregularities a reassembler meets (retransmission, out-of-order segments,
//! a connection already open when the capture started, a refused connection).

use super::{eth, lan, play, remote, session};
use crate::capture::{Capture, Container, EPOCH_2024, NS_PER_MS, NS_PER_S};
use crate::link::LINKTYPE_ETHERNET;
use crate::pcap::{Endian, TsResolution};
use crate::pcapng::IfTsResol;
use crate::proto::{http, tls, From};
use crate::tcp::{Quirk, TcpSession};

const UA_FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const UA_CURL: &str = "curl/8.5.0";

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "web.pcap",
        "HTTP and TLS from one LAN client, with a retransmission, an out-of-order pair, a mid-stream connection and a refused one.",
        Container::Pcap(Endian::Little, TsResolution::Micro),
        0x5745_4201,
    );
    cap.add_iface(LINKTYPE_ETHERNET, "eth0", "LAN", IfTsResol::Micro);
    let client = lan("192.168.1.20", 0x14);
    let t0 = EPOCH_2024;

    // A TLS connection that was already open when the capture started.
    let mut p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("198.51.100.77", 11),
        443,
    );
    let (c_isn, s_isn) = (cap.rng.next_u32(), cap.rng.next_u32());
    let mut s = TcpSession::new(t0 + 3 * NS_PER_MS, 24 * NS_PER_MS, c_isn, s_isn, 1460);
    let rec = tls::application_data(&mut cap.rng, 1398);
    s.server(&rec);
    s.ack(true).pause(400 * NS_PER_MS);
    let rec = tls::application_data(&mut cap.rng, 92);
    s.client(&rec);
    let rec = tls::application_data(&mut cap.rng, 310);
    s.server(&rec).ack(true);
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "TLS",
        "mid-stream: no SYN, starts with a server application-data record",
    );

    // Plain HTTP page, three-segment response.
    p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("203.0.113.10", 9),
        80,
    );
    let mut s = session(&mut cap, &p, t0 + 120 * NS_PER_MS, 18);
    s.handshake()
        .client(&http::get("www.example.com", "/", UA_FIREFOX));
    let body = http::html_page(&mut cap.rng, "Example Domain", 3600);
    s.pause(2 * NS_PER_MS)
        .server(&http::ok(
            "ECS (dcb/7EA3)",
            "Mon, 01 Jan 2024 00:00:00 GMT",
            "text/html; charset=UTF-8",
            &body,
        ))
        .ack(true)
        .pause(300 * NS_PER_MS)
        .close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "HTTP",
        "GET / Host www.example.com, 200 OK text/html in three segments",
    );

    // HTTP API call whose request is retransmitted.
    p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("203.0.113.45", 12),
        80,
    );
    let mut s = session(&mut cap, &p, t0 + 700 * NS_PER_MS, 30);
    s.handshake().send(
        true,
        &http::get("api.example.net", "/v1/status?verbose=1", UA_CURL),
        Quirk::RetransmitFirst,
    );
    let body = br#"{"status":"ok","version":"2.4.1","uptime":86400,"region":"eu-west"}"#;
    s.pause(NS_PER_MS)
        .server(&http::ok(
            "nginx/1.24.0",
            "Mon, 01 Jan 2024 00:00:01 GMT",
            "application/json",
            body,
        ))
        .ack(true)
        .close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "HTTP",
        "GET with curl User-Agent; the request segment is retransmitted after 230 ms (same seq)",
    );

    // TLS 1.3, server flight delivered out of order.
    p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("198.51.100.20", 10),
        443,
    );
    let mut s = session(&mut cap, &p, t0 + 1500 * NS_PER_MS, 22);
    let sid = cap.rng.bytes(32);
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "www.example.org",
            alpn: &["h2", "http/1.1"],
            session_id: sid.clone(),
        },
    );
    s.handshake().client(&ch);
    let mut flight = tls::server_hello(&mut cap.rng, true, &sid, tls::TLS_AES_128_GCM_SHA256, None);
    flight.extend(tls::change_cipher_spec());
    flight.extend(tls::application_data(&mut cap.rng, 2890));
    s.pause(NS_PER_MS).send(false, &flight, Quirk::SwapFirstTwo);
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::application_data(&mut cap.rng, 53));
    fin.extend(tls::application_data(&mut cap.rng, 120));
    s.client(&fin);
    let mut resp = tls::application_data(&mut cap.rng, 234);
    resp.extend(tls::application_data(&mut cap.rng, 234));
    resp.extend(tls::application_data(&mut cap.rng, 1680));
    s.pause(3 * NS_PER_MS)
        .server(&resp)
        .ack(true)
        .pause(NS_PER_S)
        .close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "TLS",
        "TLS 1.3: ClientHello SNI www.example.org, ALPN h2/http1.1, supported_versions; ServerHello selects 0x0304; the server's second segment arrives before its first (duplicate ACK follows)",
    );

    // TLS 1.2 abbreviated handshake (session resumption).
    p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("203.0.113.45", 12),
        443,
    );
    let mut s = session(&mut cap, &p, t0 + 2300 * NS_PER_MS, 30);
    let sid = cap.rng.bytes(32);
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "api.example.net",
            alpn: &["http/1.1"],
            session_id: sid.clone(),
        },
    );
    s.handshake().client(&ch);
    let mut flight = tls::server_hello(
        &mut cap.rng,
        false,
        &sid,
        tls::ECDHE_RSA_AES128_GCM,
        Some("http/1.1"),
    );
    flight.extend(tls::change_cipher_spec());
    flight.extend(tls::encrypted_finished(&mut cap.rng));
    s.pause(NS_PER_MS).server(&flight);
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::encrypted_finished(&mut cap.rng));
    fin.extend(tls::application_data(&mut cap.rng, 180));
    s.client(&fin);
    let resp = tls::application_data(&mut cap.rng, 420);
    s.pause(2 * NS_PER_MS).server(&resp).ack(true).close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "TLS",
        "TLS 1.2 session resumption: ClientHello SNI api.example.net, ALPN http/1.1; ServerHello 0x0303 echoes the session id, ALPN http/1.1; no certificate",
    );

    // HTTP on a non-standard port.
    p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        lan("192.168.1.10", 0x0a),
        8080,
    );
    let mut s = session(&mut cap, &p, t0 + 3100 * NS_PER_MS, 1);
    s.handshake();
    let get = http::get("192.168.1.10:8080", "/status", UA_CURL);
    let ok = http::ok(
        "Jetty(9.4.53)",
        "Mon, 01 Jan 2024 00:00:03 GMT",
        "text/plain",
        b"UP\n",
    );
    play(
        &mut s,
        &vec![(From::Client, get), (From::Server, ok)],
        0,
        400_000,
    );
    s.close();
    cap.tcp(&p, &s.finish());
    cap.note(&p, "TCP", "HTTP", "HTTP on port 8080 inside the LAN");

    // A refused connection: SYN answered by RST.
    p = eth(
        client,
        cap.rng.ephemeral_port(),
        remote("198.51.100.20", 10),
        8443,
    );
    let mut s = session(&mut cap, &p, t0 + 3500 * NS_PER_MS, 22);
    s.syn().reset(false);
    cap.tcp(&p, &s.finish());
    cap.note(&p, "TCP", "Unknown", "SYN answered by RST/ACK, no payload");
    cap
}
