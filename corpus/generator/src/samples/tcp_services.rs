//! `tcp-services.pcapng`: classic TCP services captured on a Linux server
//! (`tcpdump -i any`, Linux cooked v1), a second interface in cooked v2 with
//! nanosecond timestamps, and a BSD loopback interface.

use super::{lan, play, remote, session};
use crate::capture::{Capture, Container, Host, Path, EPOCH_2024, NS_PER_MS, NS_PER_S};
use crate::link::{Link, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL};
use crate::pcap::Endian;
use crate::pcapng::IfTsResol;
use crate::proto::{bittorrent, ftp, imap, kerberos, pop3, smtp, ssh, tls, From};

fn path(
    iface: usize,
    link: Link,
    client: Host,
    cport: u16,
    server: Host,
    sport: u16,
    server_side: bool,
) -> Path {
    Path {
        iface,
        link,
        client,
        server,
        cport,
        sport,
        server_side,
        tunnel: None,
    }
}

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "tcp-services.pcapng",
        "TCP services seen from a Linux server: SSH, SMTP (plain and STARTTLS), FTP with its data channel, POP3, IMAP, BitTorrent, Kerberos.",
        Container::Pcapng(Endian::Little),
        0x7463_7004,
    );
    let any = cap.add_iface(
        LINKTYPE_LINUX_SLL,
        "any",
        "all interfaces (Linux cooked v1)",
        IfTsResol::Micro,
    );
    let eth1 = cap.add_iface(
        LINKTYPE_LINUX_SLL2,
        "eth1",
        "second NIC (Linux cooked v2)",
        IfTsResol::Nano,
    );
    let lo0 = cap.add_iface(LINKTYPE_NULL, "lo0", "BSD loopback", IfTsResol::Micro);
    let t0 = EPOCH_2024 + 300 * NS_PER_S;
    let server = lan("192.168.10.5", 0x05);

    // SSH: banners, KEXINIT both ways, curve25519 exchange, then encrypted packets.
    let admin = remote("198.51.100.23", 14);
    let p = path(
        any,
        Link::Sll,
        admin,
        cap.rng.ephemeral_port(),
        server.clone(),
        22,
        true,
    );
    let mut s = session(&mut cap, &p, t0, 35);
    s.handshake();
    let msgs = vec![
        (From::Server, ssh::banner("OpenSSH_9.2p1 Debian-2+deb12u3")),
        (From::Client, ssh::banner("OpenSSH_9.6")),
        (From::Client, ssh::kexinit(&mut cap.rng, true)),
        (From::Server, ssh::kexinit(&mut cap.rng, false)),
        (From::Client, ssh::ecdh_init(&mut cap.rng)),
        (From::Server, ssh::ecdh_reply_newkeys(&mut cap.rng)),
        (From::Client, ssh::newkeys(&mut cap.rng)),
        (From::Client, ssh::encrypted(&mut cap.rng, 28)),
        (From::Server, ssh::encrypted(&mut cap.rng, 28)),
        (From::Client, ssh::encrypted(&mut cap.rng, 60)),
        (From::Server, ssh::encrypted(&mut cap.rng, 44)),
        (From::Client, ssh::encrypted(&mut cap.rng, 380)),
        (From::Server, ssh::encrypted(&mut cap.rng, 12)),
    ];
    play(&mut s, &msgs, 300_000, 200_000);
    s.ack(true).pause(2 * NS_PER_S).close();
    cap.tcp(&p, &s.finish());
    cap.note(&p, "TCP", "SSH", "server banner SSH-2.0-OpenSSH_9.2p1 first, client SSH-2.0-OpenSSH_9.6, KEXINIT (20) both ways, ECDH init/reply, NEWKEYS, encrypted packets");

    // SMTP: a delivered message.
    let mta = remote("203.0.113.25", 12);
    let p = path(
        any,
        Link::Sll,
        mta,
        cap.rng.ephemeral_port(),
        server.clone(),
        25,
        true,
    );
    let mut s = session(&mut cap, &p, t0 + 3 * NS_PER_S, 42);
    s.handshake();
    play(
        &mut s,
        &smtp::send_mail(
            "mail.example.net",
            "mx.example.org",
            "alice@example.org",
            "bob@example.net",
            "Mon, 01 Jan 2024 00:05:03 +0000",
        ),
        500_000,
        800_000,
    );
    s.close_by_server();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "SMTP",
        "220 banner, EHLO, MAIL/RCPT/DATA, QUIT; server closes",
    );

    // SMTP submission that upgrades to TLS (nDPI calls this SMTPS).
    let laptop = remote("198.51.100.61", 9);
    let p = path(
        any,
        Link::Sll,
        laptop,
        cap.rng.ephemeral_port(),
        server.clone(),
        587,
        true,
    );
    let mut s = session(&mut cap, &p, t0 + 5 * NS_PER_S, 25);
    s.handshake();
    play(
        &mut s,
        &smtp::starttls("mail.example.net", "laptop-61"),
        400_000,
        300_000,
    );
    let sid = cap.rng.bytes(32);
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "mail.example.net",
            alpn: &[],
            session_id: sid.clone(),
        },
    );
    s.pause(300_000).client(&ch);
    let mut flight = tls::server_hello(&mut cap.rng, true, &sid, tls::TLS_AES_128_GCM_SHA256, None);
    flight.extend(tls::change_cipher_spec());
    flight.extend(tls::application_data(&mut cap.rng, 2200));
    s.pause(NS_PER_MS).server(&flight);
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::application_data(&mut cap.rng, 53));
    s.client(&fin).pause(NS_PER_MS);
    let data = tls::application_data(&mut cap.rng, 96);
    s.client(&data);
    let data = tls::application_data(&mut cap.rng, 310);
    s.server(&data).ack(true).close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "SMTPS",
        "port 587: EHLO, STARTTLS, 220 Ready, then a TLS 1.3 handshake (SNI mail.example.net)",
    );

    // FTP control with a passive data connection.
    let user = remote("203.0.113.80", 10);
    let data_port = 40_000 + (cap.rng.next_u16() % 10_000);
    let ctl = path(
        any,
        Link::Sll,
        user.clone(),
        cap.rng.ephemeral_port(),
        server.clone(),
        21,
        true,
    );
    let mut s = session(&mut cap, &ctl, t0 + 8 * NS_PER_S, 30);
    s.handshake();
    let script = ftp::session([192, 168, 10, 5], data_port);
    let list = script
        .iter()
        .position(|(who, m)| *who == From::Client && m.starts_with(b"LIST"))
        .expect("script has LIST");
    // Up to and including the 227 reply that announces the data port.
    play(&mut s, &script[..list].to_vec(), 600_000, 300_000);
    let data = path(
        any,
        Link::Sll,
        user,
        cap.rng.ephemeral_port(),
        server.clone(),
        data_port,
        true,
    );
    let mut d = session(&mut cap, &data, s.now() + 400_000, 30);
    d.handshake();
    // LIST once the data connection is up, then "150".
    s.pause_until(d.now() + 100_000).client(&script[list].1);
    s.pause(300_000).server(&script[list + 1].1);
    d.pause_until(s.now() + 50_000)
        .server(&ftp::listing())
        .close_by_server();
    // "226" after the transfer, then QUIT.
    s.pause_until(d.now() + 200_000);
    play(&mut s, &script[list + 2..].to_vec(), 600_000, 300_000);
    s.close_by_server();
    cap.tcp(&ctl, &s.finish());
    cap.note(
        &ctl,
        "TCP",
        "FTP_CONTROL",
        "anonymous login, SYST, PWD, TYPE I, PASV (227 announces the data port), LIST, QUIT",
    );
    cap.tcp(&data, &d.finish());
    cap.note(
        &data,
        "TCP",
        "FTP_DATA",
        "passive data connection to the port announced in 227: directory listing",
    );

    // POP3 on the cooked-v2 interface.
    let reader = lan("192.168.20.44", 0x2c);
    let server2 = Host::new("192.168.20.5", super::mac(0x06), 64);
    let p = path(
        eth1,
        Link::Sll2 { ifindex: 3 },
        reader.clone(),
        cap.rng.ephemeral_port(),
        server2.clone(),
        110,
        true,
    );
    let mut s = session(&mut cap, &p, t0 + 12 * NS_PER_S + 123_456_789, 2);
    s.handshake();
    play(&mut s, &pop3::session(), 700_000, 200_000);
    s.close_by_server();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "POP3",
        "+OK banner, CAPA, USER/PASS, STAT, RETR, QUIT",
    );

    // IMAP on the cooked-v2 interface.
    let p = path(
        eth1,
        Link::Sll2 { ifindex: 3 },
        reader,
        cap.rng.ephemeral_port(),
        server2,
        143,
        true,
    );
    let mut s = session(&mut cap, &p, t0 + 13 * NS_PER_S + 987_654_321, 2);
    s.handshake();
    play(&mut s, &imap::session(), 900_000, 300_000);
    s.close_by_server();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "IMAP",
        "* OK greeting, CAPABILITY, LOGIN, SELECT INBOX, FETCH, LOGOUT",
    );

    // BitTorrent peer connection made by the server.
    let peer = remote("203.0.113.99", 15);
    let p = path(
        any,
        Link::Sll,
        server.clone(),
        cap.rng.ephemeral_port(),
        peer,
        51413,
        false,
    );
    let mut s = session(&mut cap, &p, t0 + 15 * NS_PER_S, 60);
    let info_hash: [u8; 20] = cap.rng.array();
    let mut id_c = *b"-qB4630-000000000000";
    id_c[8..].copy_from_slice(cap.rng.alnum(12).as_bytes());
    let mut id_s = *b"-TR4050-000000000000";
    id_s[8..].copy_from_slice(cap.rng.alnum(12).as_bytes());
    s.handshake();
    let mut c_first = bittorrent::handshake(&info_hash, &id_c);
    c_first.extend(bittorrent::extended_handshake("qBittorrent v4.6.3", 6881));
    let mut s_first = bittorrent::handshake(&info_hash, &id_s);
    s_first.extend(bittorrent::extended_handshake("Transmission 4.0.5", 51413));
    s_first.extend(bittorrent::bitfield(&[0xff; 24]));
    let mut c_second = bittorrent::interested();
    c_second.extend(bittorrent::request(0, 0));
    let msgs = vec![
        (From::Client, c_first),
        (From::Server, s_first),
        (From::Client, c_second),
        (From::Server, bittorrent::unchoke()),
    ];
    play(&mut s, &msgs, 200_000, 300_000);
    s.reset(true);
    cap.tcp(&p, &s.finish());
    cap.note(&p, "TCP", "BitTorrent", "outbound: handshake \\x13BitTorrent protocol both ways, extension handshake, bitfield, interested/unchoke; ended by RST");

    // Kerberos AS exchange with a domain controller.
    let ws = lan("192.168.10.30", 0x1e);
    let p = path(
        any,
        Link::Sll,
        ws,
        cap.rng.ephemeral_port(),
        server.clone(),
        88,
        true,
    );
    let mut s = session(&mut cap, &p, t0 + 17 * NS_PER_S, 1);
    let nonce = cap.rng.next_u32() >> 1;
    s.handshake()
        .client(&kerberos::tcp_framed(&kerberos::as_req(
            "alice",
            "CORP.EXAMPLE",
            nonce,
            "20370913024805Z",
        )))
        .pause(600_000)
        .server(&kerberos::tcp_framed(&kerberos::preauth_required(
            "alice",
            "CORP.EXAMPLE",
            "20240101000517Z",
            412_345,
        )))
        .close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "Kerberos",
        "AS-REQ (APPLICATION 10, 0x6a) after a 4-byte length, KRB-ERROR 25 PREAUTH_REQUIRED (0x7e)",
    );

    // IMAP over the BSD loopback (a webmail front-end talking to the local server).
    let lo_c = Host::new("127.0.0.1", [0; 6], 64);
    let lo_s = Host::new("127.0.0.1", [0; 6], 64);
    let p = path(
        lo0,
        Link::Null {
            endian: Endian::Little,
        },
        lo_c,
        cap.rng.ephemeral_port(),
        lo_s,
        143,
        false,
    );
    let mut s = session(&mut cap, &p, t0 + 19 * NS_PER_S, 0);
    s.handshake();
    play(&mut s, &imap::session()[..5].to_vec(), 50_000, 30_000);
    s.close();
    cap.tcp(&p, &s.finish());
    cap.note(
        &p,
        "TCP",
        "IMAP",
        "BSD loopback (AF_INET = 2): greeting, CAPABILITY, LOGIN",
    );

    cap
}
