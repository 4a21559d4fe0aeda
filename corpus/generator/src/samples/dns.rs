//! `dns.pcapng`: name resolution on a LAN (Ethernet, microsecond
//! timestamps) and through a VPN tunnel (raw IP, nanosecond timestamps).

use super::{eth, lan, mac};
use crate::capture::{Capture, Container, Host, Path, EPOCH_2024, NS_PER_MS};
use crate::link::{Link, LINKTYPE_ETHERNET, LINKTYPE_RAW};
use crate::pcap::Endian;
use crate::pcapng::IfTsResol;
use crate::proto::dns::{self, Message, Record};
use crate::proto::netbios;

fn udp_exchange(cap: &mut Capture, path: &Path, at: u64, rtt_ns: u64, query: &[u8], reply: &[u8]) {
    cap.udp(path, at, true, query);
    cap.udp(path, at + rtt_ns, false, reply);
}

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "dns.pcapng",
        "DNS and the protocols that share its wire format (mDNS, LLMNR) plus NetBIOS name service, on two interfaces.",
        Container::Pcapng(Endian::Little),
        0x0d45_0002,
    );
    cap.add_iface(
        LINKTYPE_ETHERNET,
        "eth0",
        "LAN (Ethernet)",
        IfTsResol::Micro,
    );
    let tun0 = cap.add_iface(LINKTYPE_RAW, "tun0", "VPN tunnel (raw IP)", IfTsResol::Nano);
    let t0 = EPOCH_2024 + 60 * 1_000_000_000;
    let client = lan("192.168.1.20", 0x14);
    let resolver = lan("192.168.1.1", 0x01);

    // A and AAAA for the same name, each on its own source port.
    let q = Message {
        additional: vec![Record::edns(1232)],
        ..Message::query(cap.rng.next_u16(), "www.example.com", dns::A)
    };
    let r = q.reply(vec![Record::answer(dns::A, 3600, vec![203, 0, 113, 10])]);
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        resolver.clone(),
        53,
    );
    udp_exchange(&mut cap, &p, t0, 9 * NS_PER_MS, &q.encode(), &r.encode());
    cap.note(
        &p,
        "UDP",
        "DNS",
        "A www.example.com with EDNS0 OPT; answer 203.0.113.10 (compression pointer c00c)",
    );

    let q = Message {
        additional: vec![Record::edns(1232)],
        ..Message::query(cap.rng.next_u16(), "www.example.com", dns::AAAA)
    };
    let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
    v6.extend_from_slice(&[0; 11]);
    v6.push(0x10);
    let r = q.reply(vec![Record::answer(dns::AAAA, 3600, v6)]);
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        resolver.clone(),
        53,
    );
    udp_exchange(
        &mut cap,
        &p,
        t0 + 150_000,
        11 * NS_PER_MS,
        &q.encode(),
        &r.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "DNS",
        "AAAA www.example.com; answer 2001:db8::10",
    );

    // DNS over IPv6 to the router's global address.
    let q = Message::query(cap.rng.next_u16(), "mail.example.net", dns::A);
    let r = q.reply(vec![Record::answer(dns::A, 300, vec![198, 51, 100, 25])]);
    let p = eth(
        Host::new("2001:db8:1::20", mac(0x14), 64),
        cap.rng.ephemeral_port(),
        Host::new("2001:db8:1::1", mac(0x01), 64),
        53,
    );
    udp_exchange(
        &mut cap,
        &p,
        t0 + 2 * 1_000_000_000,
        7 * NS_PER_MS,
        &q.encode(),
        &r.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "DNS",
        "over IPv6: A mail.example.net; answer 198.51.100.25",
    );

    // mDNS: a query to the group and a device's multicast answer (two flows).
    let q = Message {
        flags: 0,
        id: 0,
        ..Message::query(0, "_googlecast._tcp.local", dns::PTR)
    };
    let p = eth(client.clone(), 5353, lan("224.0.0.251", 0), 5353);
    cap.udp(&p, t0 + 3 * 1_000_000_000, true, &q.encode());
    cap.note(
        &p,
        "UDP",
        "MDNS",
        "query PTR _googlecast._tcp.local (id 0, flags 0)",
    );
    let mut instance = vec![14];
    instance.extend_from_slice(b"Living-Room-TV");
    instance.extend_from_slice(&dns::QNAME_PTR);
    let answer = Message {
        flags: 0x8400,
        id: 0,
        answers: vec![Record::answer(dns::PTR, 120, instance)],
        additional: vec![Record {
            owner: dns::name("Living-Room-TV.local"),
            rtype: dns::A,
            class: 0x8001,
            ttl: 120,
            data: vec![192, 168, 1, 42],
        }],
        ..q.clone()
    };
    let p = eth(lan("192.168.1.42", 0x2a), 5353, lan("224.0.0.251", 0), 5353);
    cap.udp(
        &p,
        t0 + 3 * 1_000_000_000 + 4 * NS_PER_MS,
        true,
        &answer.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "MDNS",
        "response (flags 8400): PTR to Living-Room-TV, additional A with cache-flush class 0x8001",
    );

    let p = eth(
        Host::new("fe80::42:acff:fe11:14", mac(0x14), 255),
        5353,
        Host::new("ff02::fb", [0; 6], 255),
        5353,
    );
    let q6 = Message {
        flags: 0,
        id: 0,
        ..Message::query(0, "_ipp._tcp.local", dns::PTR)
    };
    cap.udp(&p, t0 + 3 * 1_000_000_000 + 200_000, true, &q6.encode());
    cap.note(
        &p,
        "UDP",
        "MDNS",
        "over IPv6 link-local to ff02::fb: query PTR _ipp._tcp.local",
    );

    // LLMNR: multicast query, unicast answer.
    let q = Message {
        flags: 0,
        ..Message::query(cap.rng.next_u16(), "fileserver", dns::A)
    };
    let qport = cap.rng.ephemeral_port();
    let p = eth(client.clone(), qport, lan("224.0.0.252", 0), 5355);
    cap.udp(&p, t0 + 4 * 1_000_000_000, true, &q.encode());
    cap.note(&p, "UDP", "LLMNR", "query A fileserver to 224.0.0.252");
    let r = Message {
        flags: 0x8000,
        answers: vec![Record::answer(dns::A, 30, vec![192, 168, 1, 30])],
        ..q.clone()
    };
    let p = eth(lan("192.168.1.30", 0x1e), 5355, client.clone(), qport);
    cap.udp(
        &p,
        t0 + 4 * 1_000_000_000 + 2 * NS_PER_MS,
        true,
        &r.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "LLMNR",
        "unicast response from the owner, source port 5355",
    );

    // NetBIOS name service: broadcast query, unicast answer.
    let id = cap.rng.next_u16();
    let p = eth(client.clone(), 137, lan("192.168.1.255", 0), 137);
    cap.udp(
        &p,
        t0 + 5 * 1_000_000_000,
        true,
        &netbios::name_query(id, "FILESERVER", 0x20),
    );
    cap.note(
        &p,
        "UDP",
        "NetBIOS",
        "broadcast name query FILESERVER<20>, flags 0x0110",
    );
    let p = eth(lan("192.168.1.30", 0x1e), 137, client, 137);
    cap.udp(
        &p,
        t0 + 5 * 1_000_000_000 + NS_PER_MS,
        true,
        &netbios::positive_response(id, "FILESERVER", 0x20, [192, 168, 1, 30]),
    );
    cap.note(
        &p,
        "UDP",
        "NetBIOS",
        "positive name query response, NB 192.168.1.30",
    );

    // Through the VPN tunnel: raw IP frames, nanosecond timestamps.
    let vpn_client = Host::new("10.8.0.2", [0; 6], 64);
    let vpn_dns = Host::new("10.8.0.1", [0; 6], 64);
    let tun = |cport| Path {
        iface: tun0,
        link: Link::Raw,
        client: vpn_client.clone(),
        server: vpn_dns.clone(),
        cport,
        sport: 53,
        server_side: false,
        tunnel: None,
    };
    let q = Message::query(cap.rng.next_u16(), "intranet.corp.example", dns::A);
    let r = q.reply(vec![Record::answer(dns::A, 600, vec![10, 20, 0, 15])]);
    let p = tun(cap.rng.ephemeral_port());
    udp_exchange(
        &mut cap,
        &p,
        t0 + 6 * 1_000_000_000 + 123_457,
        31_234_567,
        &q.encode(),
        &r.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "DNS",
        "raw IP interface: A intranet.corp.example",
    );
    let q = Message::query(cap.rng.next_u16(), "wpad.corp.example", dns::A);
    let r = Message {
        flags: 0x8183,
        ..q.clone()
    };
    let p = tun(cap.rng.ephemeral_port());
    udp_exchange(
        &mut cap,
        &p,
        t0 + 6 * 1_000_000_000 + 801_002_003,
        29_876_543,
        &q.encode(),
        &r.encode(),
    );
    cap.note(
        &p,
        "UDP",
        "DNS",
        "raw IP interface: A wpad.corp.example answered NXDOMAIN (rcode 3)",
    );
    cap
}
