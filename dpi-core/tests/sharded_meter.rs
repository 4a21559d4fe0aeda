//! `ShardedMeter` against `FlowMeter` on the same frames: the same flows in
//! the same order, whatever the shard count, also when flows end all along
//! the input (idle timeouts, TCP closes and their linger, explicit
//! expiry), when packet times go backwards, and when a flow is announced
//! by a flow of another shard; under a full table every flow still comes
//! out once.

mod common;

use std::time::Duration;

use common::summary;

use dpi_core::expect::ExpectConfig;
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::{Flow, FlowConfig, FlowMeter, LinkType, ShardedMeter, TcpInfo, Timestamp};

const SYN: u8 = TcpInfo::SYN;
const ACK: u8 = TcpInfo::ACK;
const FIN: u8 = TcpInfo::FIN;
const RST: u8 = TcpInfo::RST;
const PSH: u8 = TcpInfo::PSH;

/// An input step: a frame at a time, or time moving on without one.
enum Step {
    Frame(u64, Vec<u8>),
    Expire(u64),
}

/// A deterministic mix: UDP exchanges, TCP sessions that close by FIN or
/// RST or stay open, time that jumps forward (idle timeouts) and back, an
/// FTP passive reply announcing a data connection, explicit expiry.
fn input() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = 1_000_000u64; // microseconds
    let mut x = 0x2545_f491u32;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..40u32 {
        for i in 0..25u32 {
            let r = rand();
            let c = [10, 0, (i >> 4) as u8, (i & 15) as u8 + 1];
            let s = [192, 0, 2, (r % 7) as u8 + 1];
            let port = 1024 + (round * 25 + i) as u16 % 60_000;
            t += u64::from(r % 3000);
            match r % 4 {
                0 => {
                    steps.push(Step::Frame(
                        t,
                        udp_ipv4_frame(c, port, s, 53, b"\x12\x34\x01\x00q"),
                    ));
                    steps.push(Step::Frame(
                        t + 40,
                        udp_ipv4_frame(s, 53, c, port, b"\x12\x34\x81\x80a"),
                    ));
                }
                1 | 2 => {
                    let close = if r % 4 == 1 { FIN | ACK } else { RST };
                    steps.push(Step::Frame(
                        t,
                        tcp_ipv4_frame(c, port, s, 80, 100, 0, SYN, b""),
                    ));
                    steps.push(Step::Frame(
                        t + 10,
                        tcp_ipv4_frame(s, 80, c, port, 500, 101, SYN | ACK, b""),
                    ));
                    steps.push(Step::Frame(
                        t + 20,
                        tcp_ipv4_frame(
                            c,
                            port,
                            s,
                            80,
                            101,
                            501,
                            PSH | ACK,
                            b"GET / HTTP/1.1\r\n\r\n",
                        ),
                    ));
                    steps.push(Step::Frame(
                        t + 30,
                        tcp_ipv4_frame(
                            s,
                            80,
                            c,
                            port,
                            501,
                            119,
                            PSH | ACK,
                            b"HTTP/1.1 200 OK\r\n\r\n",
                        ),
                    ));
                    if r % 3 != 0 {
                        steps.push(Step::Frame(
                            t + 40,
                            tcp_ipv4_frame(c, port, s, 80, 119, 520, close, b""),
                        ));
                        steps.push(Step::Frame(
                            t + 50,
                            tcp_ipv4_frame(s, 80, c, port, 520, 120, close, b""),
                        ));
                    }
                }
                _ => {
                    // An FTP control reply announcing a passive data port,
                    // then the data connection (another key, likely another shard).
                    let p = 40_000 + (round * 25 + i) as u16 % 20_000;
                    let reply = format!(
                        "227 Entering Passive Mode (192,0,2,{},{},{})\r\n",
                        s[3],
                        p >> 8,
                        p & 0xff
                    );
                    steps.push(Step::Frame(
                        t,
                        tcp_ipv4_frame(s, 21, c, port, 900, 77, PSH | ACK, reply.as_bytes()),
                    ));
                    steps.push(Step::Frame(
                        t + 25,
                        tcp_ipv4_frame(c, port + 1, s, p, 10, 0, SYN, b""),
                    ));
                }
            }
        }
        // Now and then: a jump forward past the idle timeout, a packet
        // stamped in the past, time moved on without a frame.
        match round % 5 {
            1 => t += 3_000_000,
            2 => steps.push(Step::Frame(
                t - 2_500_000,
                udp_ipv4_frame([10, 9, 9, 9], 5000, [192, 0, 2, 9], 123, b"late"),
            )),
            3 => steps.push(Step::Expire(t + 1_500_000)),
            _ => {}
        }
    }
    steps
}

fn config() -> FlowConfig {
    FlowConfig {
        idle_timeout: Duration::from_secs(2),
        close_linger: Some(Duration::from_millis(500)),
        ..FlowConfig::default()
    }
}

fn single(cfg: FlowConfig, steps: &[Step]) -> (Vec<String>, u64) {
    let mut meter = FlowMeter::new(cfg);
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Frame(t, f) => meter.push_frame(
                LinkType::ETHERNET,
                Timestamp::from_micros(*t),
                f,
                f.len() as u32,
                &mut |fl| out.push(summary(&fl)),
            ),
            Step::Expire(t) => {
                meter.expire(Timestamp::from_micros(*t), &mut |fl| out.push(summary(&fl)))
            }
        }
    }
    meter.flush(&mut |fl| out.push(summary(&fl)));
    (out, meter.stats().packets)
}

fn sharded(cfg: FlowConfig, steps: &[Step], shards: usize) -> (Vec<String>, u64) {
    sharded_paced(cfg, steps, shards, None)
}

/// [`sharded`], with the workers' function taking `slow` per flow: the
/// workers then fall behind the calling thread at a mass expiry, so that
/// the merge, waiting for them, may run out of shard 0's flows in the
/// middle of an item.
fn sharded_paced(
    cfg: FlowConfig,
    steps: &[Step],
    shards: usize,
    slow: Option<std::time::Duration>,
) -> (Vec<String>, u64) {
    let mut meter = ShardedMeter::new(cfg, &ExpectConfig::default(), shards, |i| {
        move |fl: Flow| {
            if let Some(d) = slow.filter(|_| i > 0) {
                std::thread::sleep(d);
            }
            summary(&fl)
        }
    });
    assert_eq!(meter.shards(), shards);
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Frame(t, f) => meter.push_frame(
                LinkType::ETHERNET,
                Timestamp::from_micros(*t),
                f,
                f.len() as u32,
                &mut |l| out.push(l),
            ),
            Step::Expire(t) => meter.expire(Timestamp::from_micros(*t), &mut |l| out.push(l)),
        }
    }
    meter.flush(&mut |l| out.push(l));
    (out, meter.stats().packets)
}

#[test]
fn same_flows_in_the_same_order() {
    let steps = input();
    let (want, packets) = single(config(), &steps);
    // The input exercises what it is meant to.
    let count = |what: &str| want.iter().filter(|l| l.contains(what)).count();
    assert!(count("IdleTimeout") > 10, "{}", count("IdleTimeout"));
    assert!(count("Closed") > 10, "{}", count("Closed"));
    assert!(count("Flushed") > 0);
    assert!(count("FTP_DATA") > 10, "{}", count("FTP_DATA"));
    for shards in [1, 2, 3, 4, 7] {
        let (got, p) = sharded(config(), &steps, shards);
        assert_eq!(p, packets, "{shards} shards: packets");
        assert_eq!(got.len(), want.len(), "{shards} shards: flow count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{shards} shards, flow {i}");
        }
    }
}

#[test]
fn a_full_table_still_gives_every_flow_once() {
    let steps = input();
    let cfg = FlowConfig {
        max_flows: 16,
        ..config()
    };
    let (got, packets) = sharded(cfg, &steps, 3);
    assert!(got.iter().any(|l| l.contains("Evicted")));
    // Evicted flows can be split differently from one table's; every
    // packet is still in exactly one flow that came out.
    let total: u64 = got
        .iter()
        .flat_map(|l| l.split("packets: ").skip(1))
        .map(|p| {
            p.split(',')
                .next()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, packets);
}

/// Many flows ending at one packet (a jump in time expires them all) and
/// at the flush: far more than the calling thread's shard may hold back
/// while the workers catch up, between two batches and within one.
#[test]
fn mass_expiry_and_flush_in_the_same_order() {
    let mut steps = Vec::new();
    let mut t = 1_000_000u64;
    for wave in 0..3u32 {
        for i in 0..12_000u32 {
            let c = [10, (wave + 1) as u8, (i >> 8) as u8, i as u8];
            let port = 1024 + (i % 50_000) as u16;
            t += 1;
            steps.push(Step::Frame(
                t,
                udp_ipv4_frame(c, port, [192, 0, 2, 1], 53, b"\x12\x34\x01\x00"),
            ));
            if i % 3 == 0 {
                t += 1;
                steps.push(Step::Frame(
                    t,
                    udp_ipv4_frame([192, 0, 2, 1], 53, c, port, b"\x12\x34\x81\x80"),
                ));
            }
        }
        // Every flow of the wave is idle at the next wave's first packet
        // (the last wave ends at the flush).
        t += 10_000_000;
    }
    let (want, packets) = single(config(), &steps);
    assert_eq!(want.len(), 36_000);
    assert_eq!(
        want.iter().filter(|l| l.contains("IdleTimeout")).count(),
        24_000
    );
    // More of shard 0's flows wait at one packet than it holds back
    // (2,048) with 2 and 3 shards, so it merges before it is done with
    // that packet; with slow workers, the merge waits for them there.
    let slow = Some(std::time::Duration::from_micros(5));
    for (shards, pace) in [(2, None), (3, None), (2, slow), (3, slow)] {
        let (got, p) = sharded_paced(config(), &steps, shards, pace);
        assert_eq!(p, packets);
        assert_eq!(got.len(), want.len(), "{shards} shards: flow count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{shards} shards, {pace:?} a worker's flow, flow {i}");
        }
    }
}

/// TCP sessions on client ports 2000 + i, each closed by FIN both ways,
/// session i from `t0 + i * gap` (microseconds).
fn closed_sessions(n: u16, t0: u64, gap: u64) -> Vec<Step> {
    let (c, s) = ([10, 0, 0, 1], [192, 0, 2, 80]);
    let mut steps = Vec::new();
    for i in 0..n {
        let (cp, t) = (2000 + i, t0 + u64::from(i) * gap);
        let frames = [
            tcp_ipv4_frame(c, cp, s, 80, 1, 0, SYN, b""),
            tcp_ipv4_frame(s, 80, c, cp, 9, 2, SYN | ACK, b""),
            tcp_ipv4_frame(c, cp, s, 80, 2, 10, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n"),
            tcp_ipv4_frame(c, cp, s, 80, 20, 10, FIN | ACK, b""),
            tcp_ipv4_frame(s, 80, c, cp, 10, 21, FIN | ACK, b""),
            tcp_ipv4_frame(c, cp, s, 80, 21, 11, ACK, b""),
        ];
        for (k, f) in frames.into_iter().enumerate() {
            steps.push(Step::Frame(t + k as u64, f));
        }
    }
    steps
}

/// A probe's loop: a session now and then, time moved on by the clock
/// every tick (200 ms), the workers given time to step through each. A
/// flow that ended goes out within a few ticks, whichever shard holds it,
/// with no flush, also at a tick where no other shard ends one: the merge
/// lets a flow go once every worker has stepped past the item that ended
/// it, not only once every batch handed over (each tick hands one over)
/// is done.
#[test]
fn ended_flows_go_out_at_the_ticks_of_a_live_loop() {
    let cfg = config();
    let mut meter = ShardedMeter::new(cfg, &ExpectConfig::default(), 2, |_| {
        |fl: Flow| fl.client_port
    });
    let sessions = 12u16;
    let (t0, gap, tick) = (1_000_000u64, 700_000u64, 200_000u64);
    let mut frames = closed_sessions(sessions, t0, gap).into_iter().peekable();
    // (client port, the tick it went out at), and the tick each session
    // could end at: past its close and the linger.
    let mut out: Vec<(u16, u64)> = Vec::new();
    let mut t = t0;
    while t < t0 + u64::from(sessions) * gap + 10 * tick {
        t += tick;
        while let Some(Step::Frame(ft, f)) =
            frames.next_if(|s| matches!(s, Step::Frame(ft, _) if *ft <= t))
        {
            let ts = Timestamp::from_micros(ft);
            meter.push_frame(LinkType::ETHERNET, ts, &f, f.len() as u32, &mut |p| {
                out.push((p, t))
            });
        }
        meter.expire(Timestamp::from_micros(t), &mut |p| out.push((p, t)));
        std::thread::sleep(Duration::from_millis(5));
    }
    let ports: Vec<u16> = out.iter().map(|o| o.0).collect();
    let want: Vec<u16> = (0..sessions).map(|i| 2000 + i).collect();
    assert_eq!(ports, want, "the closed flows, in order, before any flush");
    for &(port, at) in &out {
        let ended = t0 + u64::from(port - 2000) * gap + 500_000;
        assert!(
            at <= ended + 3 * tick,
            "session {port} ended by {ended} µs went out at the tick of {at} µs"
        );
    }
    assert_eq!(meter.live_flows(), 0);
    meter.flush(&mut |p| out.push((p, 0)));
    assert_eq!(out.len(), usize::from(sessions));
}

/// `hand_over` between packets that come slowly: the flows the workers
/// finish go out although no batch fills and no tick moves time on (the
/// packets of another flow end them, past a linger of 1 ms).
#[test]
fn hand_over_lets_out_what_a_slow_stream_finished() {
    let cfg = FlowConfig {
        close_linger: Some(Duration::from_millis(1)),
        ..config()
    };
    let mut meter = ShardedMeter::new(cfg, &ExpectConfig::default(), 2, |_| {
        |fl: Flow| fl.client_port
    });
    let sessions = 12;
    let mut out = Vec::new();
    for s in closed_sessions(sessions, 1_000_000, 100) {
        if let Step::Frame(t, f) = s {
            let ts = Timestamp::from_micros(t);
            meter.push_frame(LinkType::ETHERNET, ts, &f, f.len() as u32, &mut |p| {
                out.push(p)
            });
        }
    }
    // A packet of another flow now and then, each followed by a hand-over.
    for k in 0..50u64 {
        let f = udp_ipv4_frame([10, 9, 9, 9], 7000, [10, 9, 9, 8], 7001, b"x");
        let ts = Timestamp::from_micros(1_010_000 + k);
        meter.push_frame(LinkType::ETHERNET, ts, &f, f.len() as u32, &mut |p| {
            out.push(p)
        });
        meter.hand_over(&mut |p| out.push(p));
        if out.len() == usize::from(sessions) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let want: Vec<u16> = (0..sessions).map(|i| 2000 + i).collect();
    assert_eq!(
        out, want,
        "the closed flows, in order, while the stream goes on"
    );
    meter.flush(&mut |p| out.push(p));
    assert_eq!(out.last(), Some(&7000));
}
