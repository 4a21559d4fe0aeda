//! Throughput of the packet path: decode alone, and decode plus flow table
//! plus user-data capture, over a fixed synthetic mix of frames held in memory.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::{decode, FlowConfig, FlowMeter, LinkType, TcpInfo, Timestamp};

/// A mix of 1,000 flows: TCP sessions of 10 packets (handshake, request,
/// response, close) and single-exchange UDP flows, interleaved.
fn frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..1000u32 {
        let c = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let s = [192, 0, 2, (i % 250) as u8 + 1];
        let port = 30000 + (i % 30000) as u16;
        if i % 3 == 0 {
            out.push(udp_ipv4_frame(c, port, s, 53, &[0x42; 40]));
            out.push(udp_ipv4_frame(s, 53, c, port, &[0x42; 120]));
        } else {
            let req = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\n\r\n";
            let resp = [0x55u8; 1400];
            out.push(tcp_ipv4_frame(c, port, s, 80, 1000, 0, TcpInfo::SYN, b""));
            out.push(tcp_ipv4_frame(
                s,
                80,
                c,
                port,
                5000,
                1001,
                TcpInfo::SYN | TcpInfo::ACK,
                b"",
            ));
            out.push(tcp_ipv4_frame(
                c,
                port,
                s,
                80,
                1001,
                5001,
                TcpInfo::ACK,
                b"",
            ));
            out.push(tcp_ipv4_frame(
                c,
                port,
                s,
                80,
                1001,
                5001,
                TcpInfo::ACK | TcpInfo::PSH,
                req,
            ));
            let mut seq = 5001u32;
            for _ in 0..4 {
                out.push(tcp_ipv4_frame(
                    s,
                    80,
                    c,
                    port,
                    seq,
                    1001 + req.len() as u32,
                    TcpInfo::ACK,
                    &resp,
                ));
                seq += resp.len() as u32;
            }
            out.push(tcp_ipv4_frame(
                c,
                port,
                s,
                80,
                1001 + req.len() as u32,
                seq,
                TcpInfo::ACK | TcpInfo::FIN,
                b"",
            ));
            out.push(tcp_ipv4_frame(
                s,
                80,
                c,
                port,
                seq,
                1002 + req.len() as u32,
                TcpInfo::ACK | TcpInfo::FIN,
                b"",
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("packets");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(decode(LinkType::ETHERNET, f));
            }
        })
    });
    g.bench_function("decode+flows+userdata", |b| {
        b.iter(|| {
            let mut meter = FlowMeter::new(FlowConfig::default());
            let mut n = 0u64;
            for (i, f) in frames.iter().enumerate() {
                meter.push_frame(
                    LinkType::ETHERNET,
                    Timestamp::from_micros(i as u64),
                    f,
                    f.len() as u32,
                    &mut |_| n += 1,
                );
            }
            meter.flush(&mut |_| n += 1);
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
