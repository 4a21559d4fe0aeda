//! Fragment floods: later fragments whose first fragment never comes, and
//! first fragments whose rest never comes, cost bounded memory, are
//! counted, and do not become thousands of flows; ordinary fragmented
//! traffic and the flows around a flood are not affected.

use dpi_core::{Flow, FlowConfig, FlowMeter, LinkType, Timestamp};

/// Most datagrams the meter keeps open (documented on `FlowMeter::push_frame`).
const OPEN: u64 = 1024;

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    !(sum as u16)
}

/// A raw IPv4 packet (link type 228): a fragment of datagram `id`.
fn v4(src: u32, id: u16, more: bool, offset8: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&(20 + payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&((u16::from(more) << 13) | offset8).to_be_bytes());
    h.extend_from_slice(&[64, 17, 0, 0]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&[192, 0, 2, 1]);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A raw IPv6 packet (link type 229) with a fragment header.
fn v6(src: u32, id: u32, more: bool, offset8: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[44, 64]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[17, 0]);
    p.extend_from_slice(&((offset8 << 3) | u16::from(more)).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The first 16 bytes of a UDP datagram from `port` to 53 (header and 8 bytes of data).
fn udp_head(port: u16) -> Vec<u8> {
    let mut u = port.to_be_bytes().to_vec();
    u.extend_from_slice(&[0, 53, 0, 80, 0, 0]);
    u.extend_from_slice(b"QUERY...");
    u
}

struct Run {
    meter: FlowMeter,
    flows: Vec<Flow>,
    max_live: usize,
}

impl Run {
    fn new() -> Self {
        Run {
            meter: FlowMeter::new(FlowConfig::default()),
            flows: Vec::new(),
            max_live: 0,
        }
    }

    fn push(&mut self, link: LinkType, micros: u64, frame: &[u8]) {
        let flows = &mut self.flows;
        self.meter.push_frame(
            link,
            Timestamp::from_micros(1_700_000_000_000_000 + micros),
            frame,
            frame.len() as u32,
            &mut |f| flows.push(f),
        );
        self.max_live = self.max_live.max(self.meter.table().len());
    }

    fn finish(mut self) -> Self {
        let flows = &mut self.flows;
        self.meter.flush(&mut |f| flows.push(f));
        self
    }
}

const V4: LinkType = LinkType(228);
const V6: LinkType = LinkType(229);

#[test]
fn later_fragments_without_their_first_make_no_flow() {
    let mut run = Run::new();
    for i in 0..100_000u32 {
        run.push(
            V4,
            u64::from(i),
            &v4(0x0a00_0000 + i, i as u16, i % 2 == 0, 185, &[7; 40]),
        );
        run.push(V6, u64::from(i), &v6(i, i, i % 2 == 0, 185, &[7; 40]));
    }
    let run = run.finish();
    let s = run.meter.stats();
    assert_eq!(s.later_fragments, 200_000);
    assert_eq!((run.flows.len(), run.max_live), (0, 0));
    assert_eq!((s.refused_fragments, s.incomplete_datagrams), (0, 0));
}

#[test]
fn a_flood_of_first_fragments_is_counted_not_made_flows() {
    let mut run = Run::new();
    // 50,000 distinct IPv4 and 50,000 IPv6 first fragments within 10 s, rest never sent,
    // with an ordinary DNS exchange every 1,000 packets.
    let mut legit = 0;
    for i in 0..100_000u32 {
        let port = 1024 + (i % 60_000) as u16;
        if i % 2 == 0 {
            run.push(
                V4,
                u64::from(i) * 100,
                &v4(0x0a00_0000 + i, i as u16, true, 0, &udp_head(port)),
            );
        } else {
            run.push(V6, u64::from(i) * 100, &v6(i, i, true, 0, &udp_head(port)));
        }
        if i % 1000 == 0 {
            let f = dpi_core::testing::udp_ipv4_frame(
                [172, 16, 0, 1],
                2000 + legit,
                [172, 16, 0, 2],
                53,
                b"\x12\x34\x01\x00",
            );
            run.push(LinkType::ETHERNET, u64::from(i) * 100, &f);
            legit += 1;
        }
    }
    let run = run.finish();
    let s = run.meter.stats();
    assert_eq!(s.refused_fragments, 100_000 - OPEN);
    assert_eq!(s.incomplete_datagrams, OPEN);
    let legit_server: std::net::IpAddr = [172, 16, 0, 2].into();
    let fragment_flows = run
        .flows
        .iter()
        .filter(|f| f.server != legit_server)
        .count();
    assert_eq!(fragment_flows as u64, OPEN);
    let legit_flows = run
        .flows
        .iter()
        .filter(|f| f.server == legit_server)
        .count();
    assert_eq!(
        legit_flows,
        usize::from(legit),
        "every ordinary flow is kept"
    );
    assert!(run.max_live as u64 <= OPEN + u64::from(legit));
}

#[test]
fn open_datagrams_age_out_after_a_minute() {
    let mut run = Run::new();
    // One first fragment every 10 ms for 20 minutes (120,000): at most 1,024
    // are open in any 60 s, so 6,000 per minute are refused and 1,024 admitted.
    for i in 0..120_000u32 {
        run.push(
            V4,
            u64::from(i) * 10_000,
            &v4(
                0x0a00_0000 + i,
                i as u16,
                true,
                0,
                &udp_head(1024 + (i % 60_000) as u16),
            ),
        );
    }
    let run = run.finish();
    let s = run.meter.stats();
    assert_eq!(s.refused_fragments + run.flows.len() as u64, 120_000);
    // 20 windows of 60 s (a datagram ages out 60 s after its first fragment).
    assert!(run.flows.len() as u64 <= 21 * OPEN, "{}", run.flows.len());
    assert!(run.flows.len() as u64 >= 19 * OPEN, "{}", run.flows.len());
    assert_eq!(s.incomplete_datagrams, run.flows.len() as u64);
}

#[test]
fn complete_fragmented_datagrams_are_never_refused() {
    let mut run = Run::new();
    // 20,000 datagrams of two fragments each, from distinct clients, back to back.
    for i in 0..20_000u32 {
        let port = 1024 + (i % 60_000) as u16;
        if i % 2 == 0 {
            run.push(
                V4,
                u64::from(i),
                &v4(0x0a00_0000 + i, i as u16, true, 0, &udp_head(port)),
            );
            run.push(
                V4,
                u64::from(i),
                &v4(0x0a00_0000 + i, i as u16, false, 2, &[9; 64]),
            );
        } else {
            run.push(V6, u64::from(i), &v6(i, i, true, 0, &udp_head(port)));
            run.push(V6, u64::from(i), &v6(i, i, false, 2, &[9; 64]));
        }
    }
    let run = run.finish();
    let s = run.meter.stats();
    assert_eq!((s.refused_fragments, s.incomplete_datagrams), (0, 0));
    assert_eq!(run.flows.len(), 20_000);
    assert_eq!(s.later_fragments, 20_000);
}
