//! Fuzzes the cross-flow parsers (FTP announcements, SDP media, DNS
//! answers, STARTTLS upgrades) and the tables behind them: the input is
//! also cut into frames pushed through a `FlowMeter` (TCP to port 21 or
//! 5060, UDP from port 53 or to 5060), so that what one frame announces
//! meets the flows the next frames make. Never a panic.
#![no_main]

use dpi_core::expect::{dns_cache, ftp, sdp, starttls};
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::{FlowConfig, FlowMeter, LinkType, TcpInfo, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ftp::parse(data);
    let _ = sdp::for_each_media(data, |_| {});
    let _ = dns_cache::for_each_answer(data, |_, n| {
        let _ = n.as_str();
    });
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let _ = starttls::upgrade(&data[..split], &data[split..]);

    // Frames: each chunk up to a 0xff byte is one payload; the chunk's
    // first byte picks the kind and the ports.
    let mut meter = FlowMeter::new(FlowConfig::default());
    for (i, chunk) in data.split(|&b| b == 0xff).take(64).enumerate() {
        let Some((&k, payload)) = chunk.split_first() else {
            continue;
        };
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, k & 3]);
        let port = 1024 + u16::from(k);
        let frame = match k % 5 {
            0 => tcp_ipv4_frame(a, 21, b, 40000, 1, 1, TcpInfo::ACK, payload),
            1 => tcp_ipv4_frame(b, 40000, a, 21, 1, 1, TcpInfo::ACK, payload),
            2 => udp_ipv4_frame(a, 53, b, 40000, payload),
            3 => udp_ipv4_frame(a, 5060, b, 5060, payload),
            _ => tcp_ipv4_frame(b, 40001, a, port, 1, 0, TcpInfo::SYN, payload),
        };
        let ts = Timestamp::from_secs_nanos(i as u64, 0);
        meter.push_frame(LinkType::ETHERNET, ts, &frame, frame.len() as u32, &mut |_| {});
    }
    meter.flush(&mut |_| {});
});
