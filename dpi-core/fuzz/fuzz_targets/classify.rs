//! Fuzzes the matcher and classifier: never a panic, and a final early
//! decision is what the whole flow gets.
//!
//! The first byte picks the mode. Mode 0: the rest is an extended rule file;
//! whatever parses must compile and classify a few fixed flows. Otherwise the
//! input is a flow (transport, port, packet counts, a split into the two
//! directions' bytes) classified against the shipped rules, with early
//! decisions on every prefix checked against the full answer.
#![no_main]

use std::sync::OnceLock;

use dpi_core::signature::parse_extended;
use dpi_core::{Classifier, FlowView};
use libfuzzer_sys::fuzz_target;

/// Most bytes of a flow input (both directions together).
const MAX_FLOW_BYTES: usize = 2048;

fn shipped() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| {
        let text = include_str!("../../../signatures/default.rules");
        let set = parse_extended(text, "default.rules").expect("shipped rules parse");
        Classifier::new(&set).expect("shipped rules compile")
    })
}

fn fixed_flows(c: &Classifier) {
    let views = [
        FlowView::new(6, 80).with_c2s(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        FlowView::new(17, 53)
            .with_c2s(b"\x12\x34\x01\x00\x00\x01\x00\x00")
            .with_packets(1, 0),
        FlowView::new(1, 0).with_packets(2, 2),
        FlowView::new(6, 443),
    ];
    for v in &views {
        let full = c.classify(v);
        assert_eq!(c.decide(v, true).into_classification(), full);
        let _ = c.decide(v, false);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            if let Ok(set) = parse_extended(text, "fuzz.rules") {
                let c = Classifier::new(&set).expect("parsed rules compile");
                fixed_flows(&c);
            }
        }
        return;
    }
    if rest.len() < 6 {
        return;
    }
    let transport = [6u8, 17, 1, 58, 132][usize::from(rest[0]) % 5];
    let port = u16::from_be_bytes([rest[1], rest[2]]);
    let packets = (u64::from(rest[3] & 0x0f), u64::from(rest[3] >> 4));
    // Every prefix is decided on below, so the work grows with the square
    // of the length: at most 2 KiB of flow bytes (dpi classify keeps 512
    // per direction by default), so that one input stays well within the
    // time limit.
    let bytes = &rest[5..rest.len().min(5 + MAX_FLOW_BYTES)];
    let split = usize::from(rest[4]).min(bytes.len());
    let (c2s, s2c) = bytes.split_at(split);
    let size = |b: &[u8]| (!b.is_empty()).then_some(b.len() as u32);
    let full = FlowView::new(transport, port)
        .with_c2s(c2s)
        .with_s2c(s2c)
        .with_packets(packets.0, packets.1)
        .with_first_sizes(size(c2s), size(s2c));
    let c = shipped();
    let answer = c.classify(&full);
    for n in 0..=c2s.len().max(s2c.len()) {
        let mut early = full;
        early.c2s = &c2s[..n.min(c2s.len())];
        early.s2c = &s2c[..n.min(s2c.len())];
        early.c2s_first_size = if early.c2s.is_empty() {
            None
        } else {
            full.c2s_first_size
        };
        early.s2c_first_size = if early.s2c.is_empty() {
            None
        } else {
            full.s2c_first_size
        };
        let d = c.decide(&early, false);
        if d.is_final() {
            assert_eq!(
                d.into_classification(),
                answer,
                "decided early on {early:?}"
            );
            break;
        }
    }
});
