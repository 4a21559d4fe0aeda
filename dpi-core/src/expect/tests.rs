//! The tables driven through a [`FlowMeter`] with built frames.

use super::*;
use crate::signature::parse_extended;
use crate::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use crate::{Classifier, Flow, FlowConfig, FlowMeter, FlowView, LinkType, TcpInfo};

const SYN: u8 = TcpInfo::SYN;
const ACK: u8 = TcpInfo::ACK;

/// Frames at the given seconds through one meter; the finished flows.
fn run(cfg: &ExpectConfig, frames: &[(u64, Vec<u8>)]) -> Vec<Flow> {
    let mut meter = FlowMeter::with_expectations(FlowConfig::default(), cfg);
    let mut flows = Vec::new();
    for (s, f) in frames {
        let ts = Timestamp::from_secs_nanos(*s, 0);
        meter.push_frame(LinkType::ETHERNET, ts, f, f.len() as u32, &mut |fl| {
            flows.push(fl)
        });
    }
    meter.flush(&mut |fl| flows.push(fl));
    flows
}

fn flow_to(flows: &[Flow], port: u16) -> &Flow {
    flows
        .iter()
        .find(|f| f.server_port == port)
        .unwrap_or_else(|| panic!("no flow to port {port}: {flows:?}"))
}

fn classifier(rules: &str) -> Classifier {
    Classifier::new(&parse_extended(rules, "test.rules").unwrap()).unwrap()
}

/// An FTP control session whose server (10.0.0.1:21) sends `reply`.
fn control(reply: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    vec![
        (0, tcp_ipv4_frame(c, 51234, s, 21, 1, 0, SYN, b"")),
        (0, tcp_ipv4_frame(s, 21, c, 51234, 9, 2, SYN | ACK, b"")),
        (
            1,
            tcp_ipv4_frame(s, 21, c, 51234, 10, 2, ACK, b"220 ftp\r\n"),
        ),
        (2, tcp_ipv4_frame(c, 51234, s, 21, 2, 19, ACK, b"PASV\r\n")),
        (2, tcp_ipv4_frame(s, 21, c, 51234, 19, 8, ACK, reply)),
    ]
}

#[test]
fn passive_data_connection_is_ftp_data() {
    let mut frames = control(b"227 Entering Passive Mode (10,0,0,1,195,80).\r\n");
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    frames.push((3, tcp_ipv4_frame(c, 40000, s, 50000, 1, 0, SYN, b"")));
    frames.push((
        3,
        tcp_ipv4_frame(s, 50000, c, 40000, 1, 2, ACK, b"-rw-r--r-- 1 ftp"),
    ));
    // Another port of the same server: not announced.
    frames.push((3, tcp_ipv4_frame(c, 40001, s, 50001, 1, 0, SYN, b"")));
    let flows = run(&ExpectConfig::default(), &frames);
    let data = flow_to(&flows, 50000);
    let e = data
        .cross
        .as_ref()
        .and_then(|x| x.expected.as_ref())
        .unwrap();
    assert_eq!(e.protocol, "FTP_DATA");
    assert_eq!(
        e.by.to_string(),
        "FTP_CONTROL 10.0.0.2:51234 <-> 10.0.0.1:21"
    );
    assert!(flow_to(&flows, 50001).cross.is_none());
    assert!(flow_to(&flows, 21).cross.is_none());

    let cl = classifier("rule ftp\n  protocol FTP_CONTROL\n  ports 21\nend\n");
    let c = cl.classify(&FlowView::from(data));
    assert_eq!(&*c.protocol, "FTP_DATA");
    assert_eq!(
        &*c.reason,
        "expected from FTP_CONTROL 10.0.0.2:51234 <-> 10.0.0.1:21"
    );
    assert!(c.cross);
    assert!(!cl.classify(&FlowView::from(flow_to(&flows, 50001))).cross);
}

#[test]
fn extended_passive_uses_the_control_server_and_nat_is_followed() {
    // EPSV names no address: the control server's.
    let mut frames = control(b"229 Entering Extended Passive Mode (|||6446|)\r\n");
    frames.push((
        3,
        tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 6446, 1, 0, SYN, b""),
    ));
    let flows = run(&ExpectConfig::default(), &frames);
    assert!(flow_to(&flows, 6446).cross.is_some());
    // PASV naming a private address the client does not reach: the
    // control server's own address is expected too.
    let mut frames = control(b"227 Entering Passive Mode (192,168,7,7,4,1)\r\n");
    frames.push((
        3,
        tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 1025, 1, 0, SYN, b""),
    ));
    let flows = run(&ExpectConfig::default(), &frames);
    assert!(flow_to(&flows, 1025).cross.is_some());
}

#[test]
fn active_data_connection_from_the_server() {
    let (c, s) = ([10, 0, 0, 2], [10, 0, 0, 1]);
    let frames = vec![
        (
            0,
            tcp_ipv4_frame(c, 51234, s, 21, 1, 0, ACK, b"PORT 10,0,0,2,156,64\r\n"),
        ),
        // The server connects from port 20 to the announced client port.
        (1, tcp_ipv4_frame(s, 20, c, 40000, 1, 0, SYN, b"")),
    ];
    let flows = run(&ExpectConfig::default(), &frames);
    let e = flow_to(&flows, 40000)
        .cross
        .as_ref()
        .unwrap()
        .expected
        .clone()
        .unwrap();
    assert_eq!(e.protocol, "FTP_DATA");
    assert_eq!(
        e.by.to_string(),
        "FTP_CONTROL 10.0.0.2:51234 <-> 10.0.0.1:21"
    );
}

#[test]
fn expectations_age_and_can_be_turned_off() {
    let mut frames = control(b"227 Entering Passive Mode (10,0,0,1,195,80).\r\n");
    frames.push((
        303,
        tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 50000, 1, 0, SYN, b""),
    ));
    let flows = run(&ExpectConfig::default(), &frames);
    assert!(flow_to(&flows, 50000).cross.is_none(), "300 s passed");
    let mut frames = control(b"227 Entering Passive Mode (10,0,0,1,195,80).\r\n");
    frames.push((
        3,
        tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 50000, 1, 0, SYN, b""),
    ));
    let flows = run(&ExpectConfig::off(), &frames);
    assert!(flows.iter().all(|f| f.cross.is_none()));
}

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Content-Type: application/sdp\r\n\r\n\
v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0\r\nm=video 40010 RTP/AVP 96\r\na=rtcp:40020\r\n";

#[test]
fn sdp_media_are_rtp_and_rtcp() {
    let (a, b) = ([10, 0, 0, 5], [10, 0, 0, 9]);
    // Media that looks like nothing in particular (not RTP's first byte).
    let media = [0u8; 40];
    let frames = vec![
        (0, udp_ipv4_frame(a, 5060, b, 5060, INVITE)),
        (1, udp_ipv4_frame(b, 30000, a, 40000, &media)),
        (1, udp_ipv4_frame(b, 30001, a, 40001, &media)),
        // The announced side sends first.
        (1, udp_ipv4_frame(a, 40010, b, 30010, &media)),
        (1, udp_ipv4_frame(b, 30011, a, 40020, &media)),
        (1, udp_ipv4_frame(b, 30002, a, 40002, &media)),
    ];
    let flows = run(&ExpectConfig::default(), &frames);
    let cl = classifier("rule sip\n  protocol SIP\n  ports 5060\nend\n");
    let label = |port: u16| {
        let f = flows
            .iter()
            .find(|f| f.server_port == port || f.client_port == port)
            .unwrap();
        let c = cl.classify(&FlowView::from(f));
        (c.protocol.to_string(), c.reason.to_string())
    };
    let by = "expected from SIP 10.0.0.5:5060 <-> 10.0.0.9:5060";
    assert_eq!(label(40000), ("RTP".into(), by.into()));
    assert_eq!(label(40001), ("RTCP".into(), by.into()));
    assert_eq!(label(40010), ("RTP".into(), by.into()));
    assert_eq!(label(40020), ("RTCP".into(), by.into()));
    assert_eq!(label(40002).0, "Unknown");
}

#[test]
fn a_byte_signature_beats_announced_media_but_not_ftp_data() {
    let (a, b) = ([10, 0, 0, 5], [10, 0, 0, 9]);
    // ICE: a STUN binding request on the announced media port.
    let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
    let frames = vec![
        (0, udp_ipv4_frame(a, 5060, b, 5060, INVITE)),
        (1, udp_ipv4_frame(b, 30000, a, 40000, stun)),
    ];
    let flows = run(&ExpectConfig::default(), &frames);
    let cl = classifier("rule stun\n  protocol STUN\n  c2s at 4 hex \"21 12 A4 42\"\nend\n");
    let c = cl.classify(&FlowView::from(flow_to(&flows, 40000)));
    assert_eq!(&*c.protocol, "STUN");
    assert!(!c.cross);
}

/// A DNS response from 10.0.0.53 giving `www.example.com` the address
/// 93.184.216.34.
fn dns_answer() -> Vec<u8> {
    let mut msg = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\
\x03www\x07example\x03com\x00\x00\x01\x00\x01"
        .to_vec();
    msg.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22");
    udp_ipv4_frame([10, 0, 0, 53], 53, [10, 0, 0, 2], 40053, &msg)
}

#[test]
fn dns_answer_names_a_later_flow_without_a_name() {
    let (c, s) = ([10, 0, 0, 2], [93, 184, 216, 34]);
    let frames = vec![
        (0, dns_answer()),
        (1, tcp_ipv4_frame(c, 40000, s, 443, 1, 0, SYN, b"")),
        (
            1,
            tcp_ipv4_frame(c, 40000, s, 443, 2, 0, ACK, b"\x17\x03\x03\x00\x10"),
        ),
        // Another address: no name.
        (
            1,
            tcp_ipv4_frame(
                c,
                40001,
                [93, 184, 216, 35],
                443,
                2,
                0,
                ACK,
                b"\x17\x03\x03\x00\x10",
            ),
        ),
    ];
    let flows = run(&ExpectConfig::default(), &frames);
    let f = flows
        .iter()
        .find(|f| f.server == std::net::IpAddr::from(s))
        .unwrap();
    let name = f.cross.as_ref().and_then(|x| x.dns.as_ref()).unwrap();
    assert_eq!(&*name.name, "www.example.com");
    assert_eq!(name.by.to_string(), "DNS 10.0.0.2:40053 <-> 10.0.0.53:53");
    let cl = classifier(
        "rule tls\n  protocol TLS\n  transport tcp\n  ports 443\nend\n\
rule example\n  app Example\n  protocol HTTP\n  hostname suffix example.com\nend\n",
    );
    // Off by default.
    assert_eq!(cl.classify(&FlowView::from(f)).app, None);
    let mut cl = cl;
    cl.use_dns_names(true);
    let c = cl.classify(&FlowView::from(f));
    // The application, never the master protocol, comes from the name.
    assert_eq!((&*c.protocol, c.app.as_deref()), ("TLS", Some("Example")));
    assert_eq!(
        &*c.reason,
        "tls + example (name www.example.com from DNS 10.0.0.2:40053 <-> 10.0.0.53:53)"
    );
    let other = flows.iter().find(|f| f.client_port == 40001).unwrap();
    assert!(other.cross.is_none());
    assert_eq!(cl.classify(&FlowView::from(other)).app, None);
}

#[test]
fn starttls_sessions_take_the_upgraded_name() {
    let cl = classifier(
        "rule smtp\n  protocol SMTP\n  transport tcp\n  ports 25\n  either at 0 \"220 \"\nend\n",
    );
    let c2s = b"EHLO a\r\nSTARTTLS\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    let c = cl.classify(&FlowView::new(6, 25).with_c2s(c2s).with_s2c(b"220 mx\r\n"));
    assert_eq!(
        (&*c.protocol, &*c.reason),
        ("SMTPS", "upgraded to TLS by STARTTLS")
    );
    let c = cl.classify(
        &FlowView::new(6, 25)
            .with_c2s(b"EHLO a\r\nQUIT\r\n")
            .with_s2c(b"220 mx\r\n"),
    );
    assert_eq!(&*c.protocol, "SMTP");
}

#[test]
fn the_clock_keeps_entries_looked_up() {
    let mut t: Clock<u32, u32> = Clock::new(3);
    for k in 0..3 {
        t.insert(k, k);
    }
    assert_eq!(t.get(&0), Some(&0));
    // 0 was looked up: 1 goes first, then 2.
    t.insert(3, 3);
    assert!(t.get(&1).is_none());
    t.insert(4, 4);
    assert_eq!(t.get(&0), Some(&0));
    assert_eq!(t.get(&2), None);
    assert_eq!(t.len(), 3);
    // Updating a key in place takes no slot.
    t.insert(4, 40);
    assert_eq!(t.get(&4), Some(&40));
    assert_eq!(t.len(), 3);
    let mut off: Clock<u32, u32> = Clock::new(0);
    off.insert(1, 1);
    assert!(off.is_empty());
}

#[test]
fn tables_stay_within_their_bounds() {
    let cfg = ExpectConfig {
        endpoints: 8,
        dns_names: 4,
        ..ExpectConfig::default()
    };
    let mut x = Expectations::new(&cfg);
    for p in 1..100u16 {
        let reply = format!("227 ok (10,0,0,1,1,{})\r\n", p % 256);
        let f = tcp_ipv4_frame(
            [10, 0, 0, 1],
            21,
            [10, 0, 0, 2],
            5000,
            1,
            1,
            ACK,
            reply.as_bytes(),
        );
        x.observe(
            Timestamp::ZERO,
            &crate::decode(LinkType::ETHERNET, &f).unwrap(),
        );
        let mut msg =
            b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01".to_vec();
        msg.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x0a\x00");
        msg.extend_from_slice(&p.to_be_bytes());
        let f = udp_ipv4_frame([10, 0, 0, 53], 53, [10, 0, 0, 2], 4000, &msg);
        x.observe(
            Timestamp::ZERO,
            &crate::decode(LinkType::ETHERNET, &f).unwrap(),
        );
    }
    assert_eq!((x.endpoints(), x.dns_names()), (8, 4));
}

#[test]
fn entry_sizes_are_as_documented() {
    use std::mem::size_of;
    let dns = size_of::<(IpAddr, DnsEntry, bool)>() + size_of::<(IpAddr, u32)>();
    let endpoint = size_of::<(EndpointKey, Announced, bool)>() + size_of::<(EndpointKey, u32)>();
    println!("bytes per entry: DNS {dns}, endpoint {endpoint}");
    assert!(dns <= 400, "{dns}");
    assert!(endpoint <= 160, "{endpoint}");
}
