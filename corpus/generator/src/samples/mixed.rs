//! `mixed-be-ns.pcap`: a big-endian, nanosecond-resolution capture with the
//! common UDP protocols of a home or office network.

use super::{eth, lan, remote};
use crate::capture::{Capture, Container, Host, EPOCH_2024, NS_PER_MS, NS_PER_S};
use crate::link::LINKTYPE_ETHERNET;
use crate::pcap::{Endian, TsResolution};
use crate::pcapng::IfTsResol;
use crate::proto::{ber, dhcp, ntp, openvpn, quic, rtp, sip, snmp, ssdp, stun, syslog, tls};
use std::net::Ipv4Addr;

pub fn build() -> Capture {
    let mut cap = Capture::new(
        "mixed-be-ns.pcap",
        "Big-endian pcap with nanosecond timestamps: QUIC, NTP, DHCP, STUN, SIP with its RTP stream, SSDP, SNMP, Syslog, OpenVPN.",
        Container::Pcap(Endian::Big, TsResolution::Nano),
        0x3132_0003,
    );
    cap.add_iface(LINKTYPE_ETHERNET, "eth0", "LAN", IfTsResol::Nano);
    let t0 = EPOCH_2024 + 120 * NS_PER_S + 17;
    let client = lan("192.168.1.20", 0x14);
    let router = lan("192.168.1.1", 0x01);

    // DHCP: discover/offer/request/ack, all broadcast.
    let chaddr = super::mac(0x14);
    let xid = cap.rng.next_u32();
    let lease = dhcp::Lease {
        yiaddr: [192, 168, 1, 20],
        server: [192, 168, 1, 1],
        router: [192, 168, 1, 1],
        dns: [192, 168, 1, 1],
    };
    let from_client = eth(
        Host::new("0.0.0.0", chaddr, 64),
        68,
        Host::new("255.255.255.255", [0xff; 6], 64),
        67,
    );
    let from_server = eth(
        router.clone(),
        67,
        Host::new("255.255.255.255", [0xff; 6], 64),
        68,
    );
    cap.udp(
        &from_client,
        t0,
        true,
        &dhcp::client(dhcp::Kind::Discover, xid, chaddr, "laptop-20", None, None),
    );
    cap.udp(
        &from_server,
        t0 + 2 * NS_PER_MS + 311,
        true,
        &dhcp::server(dhcp::Kind::Offer, xid, chaddr, &lease),
    );
    cap.udp(
        &from_client,
        t0 + 3 * NS_PER_MS + 97,
        true,
        &dhcp::client(
            dhcp::Kind::Request,
            xid,
            chaddr,
            "laptop-20",
            Some(lease.yiaddr),
            Some(lease.server),
        ),
    );
    cap.udp(
        &from_server,
        t0 + 5 * NS_PER_MS + 4242,
        true,
        &dhcp::server(dhcp::Kind::Ack, xid, chaddr, &lease),
    );
    cap.note(
        &from_client,
        "UDP",
        "DHCP",
        "DISCOVER and REQUEST (magic cookie 63825363, option 53), broadcast",
    );
    cap.note(
        &from_server,
        "UDP",
        "DHCP",
        "OFFER and ACK for 192.168.1.20, broadcast",
    );

    // NTP.
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("203.0.113.123", 8),
        123,
    );
    let at = t0 + NS_PER_S + 123_456_789;
    cap.udp(&p, at, true, &ntp::client_request(at));
    cap.udp(
        &p,
        at + 14_200_033,
        false,
        &ntp::server_reply(at, at + 7_000_000, at + 7_000_150, *b"GPS\0"),
    );
    cap.note(
        &p,
        "UDP",
        "NTP",
        "NTPv4 mode 3 request, mode 4 reply, stratum 2, refid GPS",
    );

    // QUIC v1 handshake and a little 1-RTT traffic.
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("198.51.100.30", 10),
        443,
    );
    let dcid = cap.rng.bytes(8);
    let server_cid = cap.rng.bytes(8);
    let at = t0 + 2 * NS_PER_S;
    let rtt = 21 * NS_PER_MS;
    let dgrams: Vec<(u64, bool, Vec<u8>)> = vec![
        (
            0,
            true,
            quic::client_initial(&mut cap.rng, &dcid, &[], 1250),
        ),
        (
            rtt,
            false,
            quic::server_initial_handshake(&mut cap.rng, &[], &server_cid, 1200),
        ),
        (
            rtt + 40_000,
            false,
            quic::long_packet(
                &mut cap.rng,
                quic::LongType::Handshake,
                &[],
                &server_cid,
                1160,
            ),
        ),
        (
            rtt + 75_000,
            false,
            quic::long_packet(
                &mut cap.rng,
                quic::LongType::Handshake,
                &[],
                &server_cid,
                512,
            ),
        ),
        (
            rtt + 900_000,
            true,
            quic::client_initial(&mut cap.rng, &server_cid, &[], 1250),
        ),
        (
            rtt + 1_100_000,
            true,
            quic::long_packet(
                &mut cap.rng,
                quic::LongType::Handshake,
                &server_cid,
                &[],
                80,
            ),
        ),
        (
            rtt + 1_200_000,
            true,
            quic::short_packet(&mut cap.rng, &server_cid, 140),
        ),
        (
            2 * rtt + 2_000_000,
            false,
            quic::short_packet(&mut cap.rng, &[], 1200),
        ),
        (
            2 * rtt + 2_050_000,
            false,
            quic::short_packet(&mut cap.rng, &[], 1200),
        ),
        (
            2 * rtt + 2_100_000,
            false,
            quic::short_packet(&mut cap.rng, &[], 433),
        ),
        (
            3 * rtt,
            true,
            quic::short_packet(&mut cap.rng, &server_cid, 37),
        ),
    ];
    for (dt, c, d) in &dgrams {
        cap.udp(&p, at + dt, *c, d);
    }
    cap.note(
        &p,
        "UDP",
        "QUIC",
        "v1 Initial 1250 bytes (DCID 8, SCID 0, token length 0), server Initial+Handshake coalesced, then short-header packets; payloads random",
    );

    // STUN binding.
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        remote("198.51.100.99", 7),
        3478,
    );
    let txid: [u8; 12] = cap.rng.array();
    let at = t0 + 3 * NS_PER_S;
    cap.udp(&p, at, true, &stun::binding_request(&txid, "libjuice"));
    let mapped_port = cap.rng.ephemeral_port();
    cap.udp(
        &p,
        at + 33 * NS_PER_MS,
        false,
        &stun::binding_response(
            &txid,
            Ipv4Addr::new(203, 0, 113, 77),
            mapped_port,
            "coturn-4.6.2",
        ),
    );
    cap.note(&p, "UDP", "STUN", "Binding request/success (magic cookie 2112a442), XOR-MAPPED-ADDRESS 203.0.113.77, FINGERPRINT");

    // SIP call with an RTP stream negotiated in SDP.
    let pbx = remote("203.0.113.50", 6);
    let p = eth(client.clone(), 5060, pbx.clone(), 5060);
    let d = sip::Dialog {
        from_uri: "alice@192.168.1.20".into(),
        to_uri: "bob@203.0.113.50".into(),
        caller_addr: "192.168.1.20:5060".into(),
        call_id: format!("{}@192.168.1.20", cap.rng.alnum(16)),
        from_tag: cap.rng.alnum(10),
        to_tag: format!("as{}", cap.rng.hex(8).to_lowercase()),
        branch: format!("z9hG4bK.{}", cap.rng.alnum(9)),
    };
    let at = t0 + 4 * NS_PER_S;
    let offer = sip::sdp_audio("alice", 3_913_056_004, "192.168.1.20", 7078);
    let answer = sip::sdp_audio("asterisk", 1_704_067_204, "203.0.113.50", 10_000);
    let sip_rtt = 40 * NS_PER_MS;
    cap.udp(&p, at, true, &d.options());
    cap.udp(
        &p,
        at + sip_rtt,
        false,
        &d.response(200, "OK", "OPTIONS", 1, "203.0.113.50:5060", None),
    );
    let inv = at + 500 * NS_PER_MS;
    cap.udp(&p, inv, true, &d.invite(&offer));
    cap.udp(
        &p,
        inv + sip_rtt,
        false,
        &d.response(100, "Trying", "INVITE", 20, "", None),
    );
    let answered = inv + 1200 * NS_PER_MS;
    cap.udp(
        &p,
        answered,
        false,
        &d.response(
            200,
            "OK",
            "INVITE",
            20,
            "bob@203.0.113.50:5060",
            Some(&answer),
        ),
    );
    cap.udp(&p, answered + sip_rtt / 2 + 250_000, true, &d.ack());

    let rtp_path = eth(client.clone(), 7078, pbx, 10_000);
    let (ssrc_c, ssrc_s) = (cap.rng.next_u32(), cap.rng.next_u32());
    let (mut seq_c, mut seq_s) = (cap.rng.next_u16(), cap.rng.next_u16());
    let (mut ts_c, mut ts_s) = (cap.rng.next_u32(), cap.rng.next_u32());
    let start = answered + sip_rtt;
    const PACKETS: u64 = 40;
    for i in 0..PACKETS {
        let jitter = cap.rng.range(0, 900_000);
        let noise = cap.rng.bytes(160);
        let pkt = rtp::packet(
            i == 0,
            rtp::PCMU,
            seq_c,
            ts_c,
            ssrc_c,
            &rtp::quiet_pcmu(&noise),
        );
        cap.udp(&rtp_path, start + i * 20 * NS_PER_MS + jitter, true, &pkt);
        let noise = cap.rng.bytes(160);
        let pkt = rtp::packet(
            i == 0,
            rtp::PCMU,
            seq_s,
            ts_s,
            ssrc_s,
            &rtp::quiet_pcmu(&noise),
        );
        cap.udp(
            &rtp_path,
            start + i * 20 * NS_PER_MS + 7 * NS_PER_MS + jitter,
            false,
            &pkt,
        );
        seq_c = seq_c.wrapping_add(1);
        seq_s = seq_s.wrapping_add(1);
        ts_c = ts_c.wrapping_add(160);
        ts_s = ts_s.wrapping_add(160);
    }
    let bye = start + PACKETS * 20 * NS_PER_MS + 30 * NS_PER_MS;
    cap.udp(&p, bye, true, &d.bye());
    cap.udp(
        &p,
        bye + sip_rtt,
        false,
        &d.response(200, "OK", "BYE", 21, "bob@203.0.113.50:5060", None),
    );
    cap.note(
        &p,
        "UDP",
        "SIP",
        "OPTIONS/200, INVITE with SDP, 100 Trying, 200 OK with SDP, ACK, BYE/200 on 5060<->5060",
    );
    cap.note(
        &rtp_path,
        "UDP",
        "RTP",
        "RTP v2 PCMU, 40 packets each way every 20 ms, ports announced in the SIP SDP (7078 and 10000)",
    );

    // SSDP discovery: multicast search, unicast answer, multicast announcement.
    let group = Host::new("239.255.255.250", [0; 6], 1);
    let search_port = cap.rng.ephemeral_port();
    let p = eth(
        Host {
            ttl: 2,
            ..client.clone()
        },
        search_port,
        group.clone(),
        1900,
    );
    let at = t0 + 8 * NS_PER_S;
    cap.udp(
        &p,
        at,
        true,
        &ssdp::msearch("ssdp:all", "Linux/6.1 UPnP/2.0 GUPnP/1.6"),
    );
    cap.note(
        &p,
        "UDP",
        "SSDP",
        "M-SEARCH * ssdp:all to 239.255.255.250:1900",
    );
    let p = eth(router.clone(), 1900, client.clone(), search_port);
    let location = "http://192.168.1.1:5000/rootDesc.xml";
    let uuid = "2f402f80-da50-11e1-9b23-0242ac110001";
    cap.udp(
        &p,
        at + 60 * NS_PER_MS,
        true,
        &ssdp::search_response(
            location,
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
            uuid,
            "Mon, 01 Jan 2024 00:02:08 GMT",
        ),
    );
    cap.note(
        &p,
        "UDP",
        "SSDP",
        "unicast HTTP/1.1 200 OK answer from the router",
    );
    let p = eth(router.clone(), 1900, group, 1900);
    cap.udp(
        &p,
        at + 900 * NS_PER_MS,
        true,
        &ssdp::notify_alive(location, "upnp:rootdevice", uuid),
    );
    cap.note(&p, "UDP", "SSDP", "NOTIFY ssdp:alive from the router");

    // SNMP v2c get.
    let p = eth(
        client.clone(),
        cap.rng.ephemeral_port(),
        router.clone(),
        161,
    );
    let req_id = i64::from(cap.rng.next_u32() >> 1);
    let sys_descr: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
    let sys_uptime: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
    let at = t0 + 10 * NS_PER_S;
    cap.udp(
        &p,
        at,
        true,
        &snmp::get_request("public", req_id, &[sys_descr, sys_uptime]),
    );
    let descr = ber::tlv(ber::OCTET_STRING, b"Linux router 5.10.176 #0 SMP armv7l");
    let uptime = ber::tlv(0x43, &[0x01, 0x6e, 0x36, 0x00]); // TimeTicks
    cap.udp(
        &p,
        at + 1_700_000,
        false,
        &snmp::get_response(
            "public",
            req_id,
            &[(sys_descr, descr), (sys_uptime, uptime)],
        ),
    );
    cap.note(
        &p,
        "UDP",
        "SNMP",
        "v2c get-request community public for sysDescr.0 and sysUpTime.0, get-response",
    );

    // Syslog from the router to a collector (one direction).
    let p = eth(
        router.clone(),
        cap.rng.ephemeral_port(),
        lan("192.168.1.5", 0x05),
        514,
    );
    let at = t0 + 11 * NS_PER_S;
    cap.udp(
        &p,
        at,
        true,
        &syslog::rfc3164(
            34,
            "Jan  1 00:02:11",
            "router",
            "su",
            "'su root' failed for admin on /dev/pts/0",
        ),
    );
    cap.udp(
        &p,
        at + 2 * NS_PER_S + 4_004_004,
        true,
        &syslog::rfc5424(
            30,
            "2024-01-01T00:02:13.004Z",
            "router",
            "dnsmasq-dhcp",
            "1337",
            "-",
            "DHCPACK(br-lan) 192.168.1.20 02:42:ac:11:00:14 laptop-20",
        ),
    );
    cap.udp(
        &p,
        at + 5 * NS_PER_S + 77,
        true,
        &syslog::rfc5424(
            4,
            "2024-01-01T00:02:16.000Z",
            "router",
            "kernel",
            "-",
            "-",
            "nf_conntrack: table full, dropping packet",
        ),
    );
    cap.note(
        &p,
        "UDP",
        "Syslog",
        "three messages, client to collector only: RFC 3164 <34>, RFC 5424 <30> and <4>",
    );

    // OpenVPN: hard resets, ACK, the first TLS record in P_CONTROL_V1.
    let p = eth(
        client,
        cap.rng.ephemeral_port(),
        remote("198.51.100.200", 9),
        1194,
    );
    let cs: [u8; 8] = cap.rng.array();
    let ss: [u8; 8] = cap.rng.array();
    let at = t0 + 12 * NS_PER_S;
    let rtt = 28 * NS_PER_MS;
    cap.udp(&p, at, true, &openvpn::hard_reset_client(&cs));
    cap.udp(&p, at + rtt, false, &openvpn::hard_reset_server(&ss, &cs));
    cap.udp(&p, at + rtt + 200_000, true, &openvpn::ack(&cs, &ss));
    let ch = tls::client_hello(
        &mut cap.rng,
        &tls::ClientHello {
            sni: "vpn.example.com",
            alpn: &[],
            session_id: Vec::new(),
        },
    );
    cap.udp(
        &p,
        at + rtt + 900_000,
        true,
        &openvpn::control(openvpn::CONTROL_V1, &cs, &[], None, Some(1), &ch),
    );
    cap.udp(
        &p,
        at + 2 * rtt + 900_000,
        false,
        &openvpn::control(openvpn::ACK_V1, &ss, &[1], Some(&cs), None, &[]),
    );
    cap.note(&p, "UDP", "OpenVPN", "P_CONTROL_HARD_RESET_CLIENT_V2 (first byte 0x38), server reset, ACK, P_CONTROL_V1 carrying a TLS ClientHello");
    cap
}
