use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn flow(t: &str, a: &str, ap: u16, b: &str, bp: u16, first: f64, last: f64) -> FlowRecord {
    FlowRecord {
        file: "x.pcap".into(),
        transport: t.into(),
        src_ip: a.into(),
        src_port: ap,
        dst_ip: b.into(),
        dst_port: bp,
        vlan: 0,
        tunnel: None,
        first_ts: first,
        last_ts: last,
        c2s_packets: 1,
        s2c_packets: 1,
        c2s_bytes: 60,
        s2c_bytes: 60,
        c2s_sizes: vec![],
        s2c_sizes: vec![],
        duration: last - first,
        c2s_payload_bytes: 0,
        s2c_payload_bytes: 0,
        c2s_tcp_flags: 0,
        s2c_tcp_flags: 0,
        end_reason: "flushed".into(),
        c2s_payload: String::new(),
        s2c_payload: String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn rec(
    tool: Tool,
    t: u8,
    a: &str,
    ap: u16,
    b: &str,
    bp: u16,
    proto: &str,
    line: usize,
) -> LabelRecord {
    LabelRecord::new(
        tool,
        "x.pcap",
        t,
        (ip(a), ap),
        (ip(b), bp),
        proto.into(),
        Some(proto.into()),
        line,
    )
}

#[test]
fn key_ignores_direction() {
    let a = FlowKey::new(6, (ip("10.0.0.2"), 80), (ip("10.0.0.1"), 4000));
    let b = FlowKey::new(6, (ip("10.0.0.1"), 4000), (ip("10.0.0.2"), 80));
    assert_eq!(a, b);
    let f = flow("tcp", "10.0.0.2", 80, "10.0.0.1", 4000, 0.0, 1.0);
    assert_eq!(FlowKey::of_flow(&f), Some(a));
    let r = rec(Tool::Ndpi, 6, "10.0.0.1", 4000, "10.0.0.2", 80, "HTTP", 1);
    assert_eq!(FlowKey::of_record(&r), a);
}

#[test]
fn unique_reversed_and_missing() {
    let flows = vec![
        flow("tcp", "10.0.0.1", 4000, "10.0.0.2", 80, 0.0, 1.0),
        flow("udp", "10.0.0.1", 5000, "10.0.0.3", 53, 0.0, 1.0),
    ];
    let recs = vec![
        rec(Tool::Ndpi, 17, "10.0.0.3", 53, "10.0.0.1", 5000, "DNS", 1),
        rec(Tool::Ndpi, 6, "10.0.0.1", 4000, "10.0.0.2", 80, "HTTP", 2),
        rec(Tool::Ndpi, 6, "10.0.0.1", 4001, "10.0.0.2", 80, "HTTP", 3),
    ];
    let m = match_records(&flows, &recs, Multiplicity::OneToOne);
    assert_eq!(
        m,
        vec![
            Some(Match {
                flow: 1,
                method: MatchMethod::Unique
            }),
            Some(Match {
                flow: 0,
                method: MatchMethod::Unique
            }),
            None,
        ]
    );
}

#[test]
fn repeated_tuple_by_time() {
    let flows = vec![
        flow("udp", "10.0.0.1", 5000, "10.0.0.3", 53, 100.0, 101.0),
        flow("udp", "10.0.0.1", 5000, "10.0.0.3", 53, 10.0, 11.0),
        flow("udp", "10.0.0.1", 5000, "10.0.0.3", 53, 500.0, 501.0),
    ];
    let mut a = rec(Tool::Lpi, 17, "10.0.0.1", 5000, "10.0.0.3", 53, "DNS", 1);
    a.first_ts = Some(100.0005);
    a.last_ts = Some(100.9);
    let mut b = rec(Tool::Lpi, 17, "10.0.0.1", 5000, "10.0.0.3", 53, "DNS", 2);
    b.first_ts = Some(10.0);
    b.last_ts = Some(10.5);
    let m = match_records(&flows, &[a, b], Multiplicity::OneToOne);
    assert_eq!(
        m[0],
        Some(Match {
            flow: 0,
            method: MatchMethod::Time
        })
    );
    assert_eq!(
        m[1],
        Some(Match {
            flow: 1,
            method: MatchMethod::Time
        })
    );
}

#[test]
fn one_to_one_never_shares_a_flow() {
    let flows = vec![flow("tcp", "10.0.0.1", 4000, "10.0.0.2", 80, 0.0, 1.0)];
    let mut a = rec(Tool::Ndpi, 6, "10.0.0.1", 4000, "10.0.0.2", 80, "HTTP", 1);
    a.first_ts = Some(50.0);
    a.last_ts = Some(51.0);
    let mut b = a.clone();
    b.first_ts = Some(0.5);
    b.line = 2;
    let m = match_records(&flows, &[a.clone(), b.clone()], Multiplicity::OneToOne);
    assert_eq!(m[0], None);
    assert_eq!(m[1].map(|m| m.flow), Some(0));
    let m = match_records(&flows, &[a, b], Multiplicity::ManyToOne);
    assert!(m.iter().all(|m| m.map(|m| m.flow) == Some(0)));
}

#[test]
fn counters_decide_without_timestamps() {
    let mut f1 = flow("tcp", "10.0.0.1", 4000, "10.0.0.2", 80, 0.0, 1.0);
    f1.c2s_packets = 3;
    f1.s2c_packets = 2;
    let mut f2 = flow("tcp", "10.0.0.1", 4000, "10.0.0.2", 80, 5.0, 6.0);
    f2.c2s_packets = 40;
    f2.s2c_packets = 60;
    let mut r = rec(Tool::Ndpi, 6, "10.0.0.1", 4000, "10.0.0.2", 80, "HTTP", 1);
    r.src_packets = Some(41);
    r.dst_packets = Some(59);
    let m = match_records(&[f1, f2], &[r], Multiplicity::OneToOne);
    assert_eq!(
        m[0],
        Some(Match {
            flow: 1,
            method: MatchMethod::Counters
        })
    );
}

#[test]
fn vlan_only_when_both_have_one() {
    let mut f1 = flow("udp", "10.0.0.1", 5000, "10.0.0.3", 53, 0.0, 1.0);
    f1.vlan = 10;
    let mut f2 = f1.clone();
    f2.vlan = 20;
    let mut r = rec(Tool::Ndpi, 17, "10.0.0.1", 5000, "10.0.0.3", 53, "DNS", 1);
    r.vlan = Some(20);
    let untagged = rec(Tool::Lpi, 17, "10.0.0.1", 5000, "10.0.0.3", 53, "DNS", 2);
    let m = match_records(&[f1.clone(), f2], &[r], Multiplicity::OneToOne);
    assert_eq!(m[0].map(|m| m.flow), Some(1));
    let m = match_records(&[f1], &[untagged], Multiplicity::OneToOne);
    assert_eq!(m[0].map(|m| m.flow), Some(0));
}

#[test]
fn argus_label_prefers_labelled_then_earliest() {
    let flows = vec![flow("tcp", "10.0.0.1", 4000, "10.0.0.2", 80, 0.0, 20.0)];
    let mut recs = Vec::new();
    for (i, (label, ts)) in [("", 0.0), ("http", 10.0), ("https", 5.0)]
        .iter()
        .enumerate()
    {
        let mut r = rec(
            Tool::Argus,
            6,
            "10.0.0.1",
            4000,
            "10.0.0.2",
            80,
            label,
            i + 1,
        );
        r.first_ts = Some(*ts);
        r.last_ts = Some(*ts + 5.0);
        recs.push(r);
    }
    let m = match_records(&flows, &recs, Multiplicity::ManyToOne);
    let l = labels_per_flow(1, &recs, &m);
    let l = l[0].as_ref().unwrap();
    assert_eq!(l.protocol, "https");
    assert_eq!(l.records, 3);
    assert_eq!(l.line, 3);
}
