//! Live-flow events against classification of the finished flows.
//!
//! Random sessions (TCP and UDP, a few connections at once, payloads from
//! a vocabulary of protocol openings and random bytes, closes, idle gaps)
//! go through `FlowMeter::push_frame_events`. Every flow gets exactly one
//! label event, before or at its end; its end carries the same label; and
//! that label equals what `Classifier::classify_flow` gives on the
//! finished flow. The set is the built-in signatures without the
//! application rules: with them, the application is read from the fields
//! captured at the decision, which a later host name could change.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use dpi_core::matcher::Scratch;
use dpi_core::signature::SignatureSet;
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::{
    Classification, Classifier, FlowConfig, FlowEnd, FlowEvent, FlowMeter, Labeller, LinkType,
    TcpInfo, Timestamp,
};
use proptest::prelude::*;

const WORDS: [&[u8]; 8] = [
    b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03",
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
    b"220 mail.example.com ESMTP\r\n",
    b"",
    b"\x00\x00\x00\x00",
];
const PORTS: [u16; 6] = [80, 443, 22, 53, 25, 5000];

#[derive(Clone, Debug)]
struct Step {
    conn: u8,
    from_client: bool,
    word: usize,
    random: Vec<u8>,
    flags: u8,
    gap_ms: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..4,
        any::<bool>(),
        0usize..WORDS.len() + 1,
        prop::collection::vec(any::<u8>(), 0..24),
        prop_oneof![
            6 => Just(TcpInfo::ACK | TcpInfo::PSH),
            1 => Just(TcpInfo::SYN),
            1 => Just(TcpInfo::FIN | TcpInfo::ACK),
            1 => Just(TcpInfo::RST),
        ],
        prop_oneof![8 => 0u64..50, 1 => 1000u64..4000],
    )
        .prop_map(|(conn, from_client, word, random, flags, gap_ms)| Step {
            conn,
            from_client,
            word,
            random,
            flags,
            gap_ms,
        })
}

type Key = (IpAddr, u16, IpAddr, u16, u8);

fn same(a: &Classification, b: &Classification) -> bool {
    (&a.protocol, &a.app, a.confidence, &a.reason) == (&b.protocol, &b.app, b.confidence, &b.reason)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn events_agree_with_classification_of_the_finished_flow(
        steps in prop::collection::vec(step(), 1..60),
        udp in prop::collection::vec(any::<bool>(), 4),
        release in any::<bool>(),
        bytes in prop_oneof![Just(512usize), 4usize..40],
    ) {
        let mut set = SignatureSet::builtin();
        set.apps.clear();
        let classifier = Classifier::new(&set).unwrap();
        let cfg = FlowConfig {
            payload_bytes: bytes,
            idle_timeout: Duration::from_secs(3),
            ..FlowConfig::classification()
        };
        let mut meter = FlowMeter::new(cfg);
        let mut labeller = Labeller::new(&classifier).release_bytes(release);
        let mut scratch = Scratch::new();
        let mut labels: HashMap<Key, Classification> = HashMap::new();
        let mut ended = 0usize;
        let mut failures: Vec<String> = Vec::new();
        let mut seq = [[1000u32; 2]; 4];
        let mut t = 1_000_000u64;
        let mut on = |e: FlowEvent<'_>| match e {
            FlowEvent::Labelled { flow, classification } => {
                let key = (flow.client, flow.client_port, flow.server, flow.server_port, flow.protocol);
                if labels.insert(key, classification.clone()).is_some() {
                    failures.push(format!("a second label for {key:?}"));
                }
            }
            FlowEvent::Ended { flow, classification } => {
                ended += 1;
                let key = (flow.client, flow.client_port, flow.server, flow.server_port, flow.protocol);
                match labels.remove(&key) {
                    None => failures.push(format!("{key:?} ended with no label event")),
                    Some(l) if !same(&l, &classification) => failures.push(format!("{key:?}: label {l:?}, end {classification:?}")),
                    Some(_) => {}
                }
                if !release {
                    let (c, _) = classifier.classify_flow(&flow, bytes, &mut scratch);
                    if !same(&c, &classification) {
                        failures.push(format!("{key:?} ({:?}): event {} {:?} {}, finished flow {} {:?} {}", flow.end,
                            classification.protocol, classification.confidence, classification.reason,
                            c.protocol, c.confidence, c.reason));
                    }
                }
            }
        };
        for s in &steps {
            t += s.gap_ms * 1_000_000;
            let c = usize::from(s.conn);
            let (client, server, cport, sport) = ([10, 0, 0, 1 + s.conn], [192, 0, 2, 9], 40_000 + u16::from(s.conn), PORTS[c % PORTS.len()]);
            let data: &[u8] = if s.word < WORDS.len() { WORDS[s.word] } else { &s.random };
            let d = usize::from(!s.from_client);
            let frame = if udp[c] {
                if s.from_client { udp_ipv4_frame(client, cport, server, sport, data) } else { udp_ipv4_frame(server, sport, client, cport, data) }
            } else {
                let (me, other) = (seq[c][d], seq[c][1 - d]);
                let f = if s.from_client {
                    tcp_ipv4_frame(client, cport, server, sport, me, other, s.flags, data)
                } else {
                    tcp_ipv4_frame(server, sport, client, cport, me, other, s.flags, data)
                };
                seq[c][d] = me.wrapping_add(data.len() as u32 + u32::from(s.flags & (TcpInfo::SYN | TcpInfo::FIN) != 0));
                f
            };
            meter.push_frame_events(LinkType::ETHERNET, Timestamp::from_nanos(t), &frame, frame.len() as u32, &mut labeller, &mut on);
        }
        meter.flush_events(&mut labeller, &mut on);
        prop_assert!(failures.is_empty(), "{:#?}", failures);
        prop_assert!(labels.is_empty(), "labels of flows that never ended: {:?}", labels.keys());
        prop_assert!(ended > 0);
    }
}

#[test]
fn a_closed_session_is_labelled_at_its_close_and_ends_after_the_linger() {
    let classifier = Classifier::builtin();
    for release in [false, true] {
        let mut labeller = Labeller::new(&classifier).release_bytes(release);
        let mut meter = FlowMeter::new(FlowConfig::classification());
        let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
        let frames = [
            tcp_ipv4_frame(c, 40000, s, 80, 1, 0, TcpInfo::SYN, b""),
            tcp_ipv4_frame(s, 80, c, 40000, 7, 2, TcpInfo::SYN | TcpInfo::ACK, b""),
            tcp_ipv4_frame(c, 40000, s, 80, 2, 8, TcpInfo::ACK | TcpInfo::PSH, req),
            tcp_ipv4_frame(
                c,
                40000,
                s,
                80,
                2 + req.len() as u32,
                8,
                TcpInfo::FIN | TcpInfo::ACK,
                b"",
            ),
            tcp_ipv4_frame(
                s,
                80,
                c,
                40000,
                8,
                3 + req.len() as u32,
                TcpInfo::FIN | TcpInfo::ACK,
                b"",
            ),
        ];
        let mut log: Vec<(usize, String)> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let ts = Timestamp::from_micros(1000 * i as u64);
            meter.push_frame_events(
                LinkType::ETHERNET,
                ts,
                f,
                f.len() as u32,
                &mut labeller,
                &mut |e| match e {
                    FlowEvent::Labelled { classification, .. } => {
                        log.push((i, format!("label {}", classification.protocol)))
                    }
                    FlowEvent::Ended { .. } => log.push((i, "end".into())),
                },
            );
        }
        // Labelled at the close: no byte is kept after it.
        assert_eq!(log, [(4, "label HTTP".to_string())], "release {release}");
        let mut ends = Vec::new();
        meter.expire_events(
            Timestamp::from_micros(1_500_000),
            &mut labeller,
            &mut |_| panic!("within the linger"),
        );
        meter.expire_events(Timestamp::from_micros(2_004_001), &mut labeller, &mut |e| {
            if let FlowEvent::Ended {
                flow,
                classification,
            } = e
            {
                ends.push((
                    flow.end,
                    classification.protocol.to_string(),
                    flow.c2s_payload.len(),
                    flow.c2s.packets,
                ));
            }
        });
        let kept = if release { 0 } else { req.len() };
        assert_eq!(
            ends,
            [(FlowEnd::Closed, "HTTP".to_string(), kept, 3)],
            "release {release}"
        );
    }
}
