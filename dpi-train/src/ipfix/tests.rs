//! The exporter's messages read back by a small IPFIX decoder written
//! from RFC 7011.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use dpi_core::{Classification, Confidence, Metadata};

use super::message::{REVERSE_PEN, TEMPLATE_SET_ID, TEMPLATE_V4, TEMPLATE_V6};
use super::*;
use crate::json_line::sample_flow;

/// A decoded message: header fields, whether it held templates, records.
#[derive(Debug)]
struct Decoded {
    len: usize,
    sequence: u32,
    domain: u32,
    templates: bool,
    records: Vec<HashMap<(u16, bool), Vec<u8>>>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

type Templates = HashMap<u16, Vec<(u16, u16, bool)>>;

fn decode(msg: &[u8], templates: &mut Templates) -> Decoded {
    assert_eq!(be16(msg, 0), 10);
    let len = usize::from(be16(msg, 2));
    assert_eq!(len, msg.len());
    let mut d = Decoded {
        len,
        sequence: be32(msg, 8),
        domain: be32(msg, 12),
        templates: false,
        records: Vec::new(),
    };
    let mut at = 16;
    while at < len {
        let id = be16(msg, at);
        let set_end = at + usize::from(be16(msg, at + 2));
        assert!(set_end <= len && set_end > at + 4, "set length");
        let mut p = at + 4;
        if id == TEMPLATE_SET_ID {
            d.templates = true;
            while p < set_end {
                let tid = be16(msg, p);
                let n = be16(msg, p + 2);
                p += 4;
                let mut fields = Vec::new();
                for _ in 0..n {
                    let ie = be16(msg, p);
                    let flen = be16(msg, p + 2);
                    p += 4;
                    let reverse = ie & 0x8000 != 0;
                    if reverse {
                        assert_eq!(be32(msg, p), REVERSE_PEN);
                        p += 4;
                    }
                    fields.push((ie & 0x7fff, flen, reverse));
                }
                templates.insert(tid, fields);
            }
        } else {
            let fields = templates
                .get(&id)
                .expect("data before its template")
                .clone();
            while p < set_end {
                let mut rec = HashMap::new();
                for &(ie, flen, reverse) in &fields {
                    let n = if flen == 65535 {
                        let b = usize::from(msg[p]);
                        p += 1;
                        if b == 255 {
                            let n = usize::from(be16(msg, p));
                            p += 2;
                            n
                        } else {
                            b
                        }
                    } else {
                        usize::from(flen)
                    };
                    rec.insert((ie, reverse), msg[p..p + n].to_vec());
                    p += n;
                }
                d.records.push(rec);
            }
        }
        assert_eq!(p, set_end);
        at = set_end;
    }
    d
}

fn classification(i: u32) -> Classification {
    Classification {
        protocol: Arc::from(["TLS", "DNS", "MyOwnProtocol", "Unknown"][i as usize % 4]),
        app: (i % 4 == 0).then(|| Arc::from("YouTube")),
        confidence: Confidence::Signature,
        reason: Arc::from("x"),
        signature: Some(i as usize % 4),
        app_rule: None,
        cross: false,
    }
}

fn meta(i: u32) -> Metadata {
    Metadata {
        hostname: (i % 3 == 0).then(|| format!("h{i}.example.com")),
        ..Metadata::default()
    }
}

fn u64_of(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap())
}

/// Checks the records against the flows they came from, in order.
fn check_records(records: &[HashMap<(u16, bool), Vec<u8>>]) {
    let reg = NameRegistry::builtin();
    for (i, rec) in records.iter().enumerate() {
        let i = i as u32;
        let flow = sample_flow(i);
        let c = classification(i);
        let get = |ie: u16| rec.get(&(ie, false)).unwrap();
        let addr = |ie4: u16, ie6: u16| -> IpAddr {
            match rec.get(&(ie4, false)) {
                Some(b) => IpAddr::from(<[u8; 4]>::try_from(&b[..]).unwrap()),
                None => {
                    let a = std::net::Ipv6Addr::from(
                        <[u8; 16]>::try_from(&rec[&(ie6, false)][..]).unwrap(),
                    );
                    a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(a))
                }
            }
        };
        assert_eq!(addr(8, 27), flow.client, "flow {i}");
        assert_eq!(addr(12, 28), flow.server, "flow {i}");
        assert_eq!(get(7), &flow.client_port.to_be_bytes());
        assert_eq!(get(11), &flow.server_port.to_be_bytes());
        assert_eq!(get(4), &[flow.protocol]);
        assert_eq!(get(58), &flow.vlan.to_be_bytes());
        assert_eq!(u64_of(get(2)), flow.c2s.packets);
        assert_eq!(u64_of(get(1)), flow.c2s.bytes);
        assert_eq!(u64_of(&rec[&(2, true)]), flow.s2c.packets);
        assert_eq!(u64_of(&rec[&(1, true)]), flow.s2c.bytes);
        assert_eq!(u64_of(get(152)), flow.first_ts.as_nanos() / 1_000_000);
        assert_eq!(u64_of(get(157)), message::ntp_time(flow.last_ts.as_nanos()));
        assert_eq!(get(136), &[record::flow_end_reason(flow.end)]);
        let name = std::str::from_utf8(get(96)).unwrap();
        assert_eq!(name, appid::application_name(&c));
        assert_eq!(get(95), &appid::application_id(&reg, &c.protocol));
        assert_eq!(get(95)[0], appid::ENGINE_PANA_L7);
        let host = meta(i).hostname.unwrap_or_default();
        assert_eq!(get(460), host.as_bytes());
    }
}

#[test]
fn udp_messages_decode_to_the_flows() {
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = collector.local_addr().unwrap().to_string();
    let cfg = ExportConfig {
        mtu: 1200,
        domain: 77,
    };
    let mut x = Exporter::connect(&addr, cfg).unwrap();
    let n = 400;
    for i in 0..n {
        x.export(&sample_flow(i), &classification(i), &meta(i))
            .unwrap();
    }
    let stats = x.finish().unwrap();
    assert_eq!(stats.records, u64::from(n));
    let mut templates = Templates::new();
    let mut records = Vec::new();
    let mut buf = vec![0u8; 65536];
    for m in 0..stats.messages {
        let len = collector.recv(&mut buf).unwrap();
        let d = decode(&buf[..len], &mut templates);
        assert!(d.len <= 1200, "message {m}: {} bytes", d.len);
        assert_eq!(d.domain, 77);
        assert_eq!(d.sequence as usize, records.len(), "message {m}");
        // Templates in the first message, then every 16 messages.
        assert_eq!(
            d.templates,
            m % u64::from(TEMPLATE_REFRESH_MESSAGES) == 0,
            "message {m}"
        );
        assert!(!d.records.is_empty());
        records.extend(d.records);
    }
    assert!(stats.messages > u64::from(TEMPLATE_REFRESH_MESSAGES));
    assert_eq!(records.len(), n as usize);
    assert!(templates.contains_key(&TEMPLATE_V4) && templates.contains_key(&TEMPLATE_V6));
    check_records(&records);
}

#[test]
fn tcp_sends_the_templates_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", listener.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let mut x = Exporter::connect(&addr, ExportConfig::default()).unwrap();
    let n = 300;
    for i in 0..n {
        x.export(&sample_flow(i), &classification(i), &meta(i))
            .unwrap();
    }
    let stats = x.finish().unwrap();
    let bytes = reader.join().unwrap();
    let mut templates = Templates::new();
    let mut records = Vec::new();
    let mut at = 0;
    let mut messages = 0;
    while at < bytes.len() {
        let len = usize::from(be16(&bytes, at + 2));
        let d = decode(&bytes[at..at + len], &mut templates);
        assert_eq!(d.templates, messages == 0);
        assert_eq!(d.sequence as usize, records.len());
        records.extend(d.records);
        at += len;
        messages += 1;
    }
    assert_eq!(messages, stats.messages);
    assert_eq!(stats.template_messages, 1);
    assert_eq!(records.len(), n as usize);
    check_records(&records);
}

#[test]
fn bad_settings_are_refused() {
    let cases = [
        ("127.0.0.1:4739", 100, "--ipfix-mtu 100"),
        ("127.0.0.1:4739", 70000, "--ipfix-mtu 70000"),
        ("sctp://127.0.0.1:4739", 1400, "unknown transport `sctp`"),
        ("no-port-here", 1400, "--ipfix no-port-here"),
    ];
    for (spec, mtu, want) in cases {
        let cfg = ExportConfig { mtu, domain: 1 };
        let e = Exporter::connect(spec, cfg).err().unwrap().to_string();
        assert!(e.contains(want), "{spec}: {e}");
    }
}

#[test]
fn every_end_reason_maps() {
    use dpi_core::FlowEnd;
    for (end, want) in [
        (FlowEnd::IdleTimeout, 1),
        (FlowEnd::ActiveTimeout, 2),
        (FlowEnd::Flushed, 4),
        (FlowEnd::Evicted, 5),
    ] {
        assert_eq!(record::flow_end_reason(end), want);
    }
}
