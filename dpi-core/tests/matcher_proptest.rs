//! The compiled matcher agrees with a naive per-signature check, and early
//! decisions never change once final.

use dpi_core::matcher::{Matcher, Scratch};
use dpi_core::signature::{
    Direction, Feature, MaskedByte, Pattern, PatternKind, PortRange, PortSet, Position, Side,
    Signature, SignatureSet, Transport, ValueRange,
};
use dpi_core::{Classifier, FlowView};
use proptest::prelude::*;
use regex_automata::{meta::Regex, util::syntax, Anchored, Input};

// ---------------------------------------------------------------- reference

fn regex(source: &str) -> Regex {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(source)
        .unwrap()
}

fn eq(a: &[u8], b: &[u8], nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn pattern_holds(kind: &PatternKind, hay: &[u8]) -> bool {
    match kind {
        PatternKind::Masked { offset, bytes } => bytes.iter().enumerate().all(|(i, b)| {
            b.mask == 0
                || hay
                    .get(*offset as usize + i)
                    .is_some_and(|&x| x & b.mask == b.value)
        }),
        PatternKind::Literal {
            bytes,
            nocase,
            position,
        } => {
            let n = bytes.len();
            // Every start where the literal would fit, then the position rule.
            (0..hay.len().saturating_sub(n - 1)).any(|s| {
                let ok_pos = match *position {
                    Position::At(o) => s == o as usize,
                    Position::Within(w) => s + n <= w as usize,
                    Position::Anywhere => true,
                };
                ok_pos && eq(&hay[s..s + n], bytes, *nocase)
            })
        }
        PatternKind::Regex { source, position } => {
            let re = regex(source);
            match *position {
                Position::At(o) => {
                    (o as usize) <= hay.len()
                        && re.is_match(Input::new(hay).range(o as usize..).anchored(Anchored::Yes))
                }
                Position::Within(w) => {
                    re.is_match(Input::new(hay).range(..hay.len().min(w as usize)))
                }
                Position::Anywhere => re.is_match(hay),
            }
        }
    }
}

fn feature_holds(f: &Feature, v: &FlowView<'_>) -> bool {
    match *f {
        Feature::FirstPayloadSize { side, range } => match side {
            Side::Initiator => v.c2s_first_size,
            Side::Responder => v.s2c_first_size,
        }
        .is_some_and(|s| range.contains(u64::from(s))),
        Feature::Packets { side, range } => range.contains(match side {
            Some(Side::Initiator) => v.c2s_packets,
            Some(Side::Responder) => v.s2c_packets,
            None => v.c2s_packets + v.s2c_packets,
        }),
        Feature::FirstPayloadFrom(side) => v.first_payload == Some(side),
        Feature::ClientPort { lo, hi } => lo <= v.client_port && v.client_port <= hi,
    }
}

fn naive_matches(set: &SignatureSet, v: &FlowView<'_>) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, sig) in set.signatures.iter().enumerate() {
        let ok = sig.transport.matches(v.transport)
            && sig.ports.contains(v.server_port)
            && sig.features.iter().all(|f| feature_holds(f, v))
            && sig.patterns.iter().all(|p| {
                let c = || pattern_holds(&p.kind, v.c2s);
                let s = || pattern_holds(&p.kind, v.s2c);
                match p.direction {
                    Direction::Initiator => c(),
                    Direction::Responder => s(),
                    Direction::Either => c() || s(),
                    Direction::Both => c() && s(),
                }
            });
        if ok {
            out.push(i as u32);
        }
    }
    out
}

// ---------------------------------------------------------------- generators

/// Bytes from a small alphabet, so random patterns hit random payloads.
fn byte() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![b'a', b'b', b'A', b'B', b'/', 0x00, 0x16, 0x03])
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(byte(), 0..24)
}

fn position() -> impl Strategy<Value = Position> {
    prop_oneof![
        Just(Position::Anywhere),
        (0u32..8).prop_map(Position::At),
        (0u32..16).prop_map(Position::Within),
    ]
}

fn masked_byte() -> impl Strategy<Value = MaskedByte> {
    prop_oneof![
        3 => byte().prop_map(MaskedByte::exact),
        1 => Just(MaskedByte::any()),
        1 => (byte(), prop::sample::select(vec![0xf0u8, 0x0f, 0xc0, 0xdf]))
            .prop_map(|(v, m)| MaskedByte::new(v, m)),
    ]
}

fn pattern_kind() -> impl Strategy<Value = PatternKind> {
    prop_oneof![
        (0u32..6, prop::collection::vec(masked_byte(), 0..5))
            .prop_map(|(offset, bytes)| PatternKind::Masked { offset, bytes }),
        (
            prop::collection::vec(byte(), 1..4),
            any::<bool>(),
            position()
        )
            .prop_map(|(bytes, nocase, position)| PatternKind::Literal {
                bytes,
                nocase,
                position
            }),
        (
            prop::sample::select(vec![
                "ab+",
                "(?i)ab",
                "a.b",
                "[ab]{2}",
                "^ab",
                "b$",
                "a|bA",
                r"\x16\x03",
                "(?i)BA",
                r"\bab",
                "/",
                "",
                "[^a]",
                "a*",
                "A(b|/)",
                "x?ab",
                "(ab|b)c?",
                "\r\n",
                // More literal prefixes than become atoms: cut shorter.
                "a[ab/][ab/][ab/][ab/]",
                "(?i)aba[ab/]b",
                "[ab][ab][ab][ab][ab][ab]",
            ]),
            position()
        )
            .prop_map(|(s, position)| PatternKind::Regex {
                source: s.to_string(),
                position
            }),
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    prop::sample::select(vec![
        Direction::Initiator,
        Direction::Responder,
        Direction::Either,
        Direction::Both,
    ])
}

fn side() -> impl Strategy<Value = Side> {
    prop::sample::select(vec![Side::Initiator, Side::Responder])
}

fn range() -> impl Strategy<Value = ValueRange> {
    (0u64..5, proptest::option::of(0u64..5)).prop_map(|(a, b)| match b {
        Some(b) => ValueRange {
            min: a.min(b),
            max: Some(a.max(b)),
        },
        None => ValueRange { min: a, max: None },
    })
}

fn feature() -> impl Strategy<Value = Feature> {
    prop_oneof![
        (side(), range()).prop_map(|(side, range)| Feature::FirstPayloadSize { side, range }),
        (proptest::option::of(side()), range())
            .prop_map(|(side, range)| Feature::Packets { side, range }),
        side().prop_map(Feature::FirstPayloadFrom),
        (0u16..4, 0u16..4).prop_map(|(a, b)| Feature::ClientPort {
            lo: a.min(b),
            hi: a.max(b),
        }),
    ]
}

fn signature() -> impl Strategy<Value = Signature> {
    (
        prop::sample::select(vec![
            Transport::Any,
            Transport::Tcp,
            Transport::Udp,
            Transport::Other(1),
        ]),
        prop::collection::vec((0u16..4, 0u16..3), 0..3),
        prop::collection::vec((direction(), pattern_kind()), 0..3),
        prop::collection::vec(feature(), 0..2),
        -1i32..2,
        "[A-D]",
    )
        .prop_map(|(transport, ports, patterns, features, priority, proto)| {
            let mut s = Signature::new(proto);
            s.transport = transport;
            s.ports = PortSet {
                ranges: ports
                    .into_iter()
                    .map(|(a, w)| PortRange {
                        start: a,
                        end: a + w,
                    })
                    .collect(),
            };
            s.patterns = patterns
                .into_iter()
                .map(|(direction, kind)| Pattern { direction, kind })
                .collect();
            s.features = features;
            s.priority = priority;
            s
        })
}

fn set() -> impl Strategy<Value = SignatureSet> {
    prop::collection::vec(signature(), 0..12).prop_map(|signatures| SignatureSet {
        apps: Vec::new(),
        signatures,
        trailing_comments: Vec::new(),
    })
}

#[derive(Debug, Clone)]
struct Flowish {
    transport: u8,
    port: u16,
    client_port: u16,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    packets: (u64, u64),
    first: Option<Side>,
}

impl Flowish {
    fn view(&self) -> FlowView<'_> {
        let size = |b: &[u8]| (!b.is_empty()).then_some(b.len() as u32 % 6);
        let mut v = FlowView::new(self.transport, self.port)
            .with_client_port(self.client_port)
            .with_c2s(&self.c2s)
            .with_s2c(&self.s2c)
            .with_packets(self.packets.0, self.packets.1)
            .with_first_sizes(size(&self.c2s), size(&self.s2c));
        v.first_payload = self.first;
        v
    }
}

fn flow() -> impl Strategy<Value = Flowish> {
    (
        prop::sample::select(vec![1u8, 6, 17]),
        (0u16..6, 0u16..5),
        payload(),
        payload(),
        (0u64..6, 0u64..6),
        proptest::option::of(side()),
    )
        .prop_map(
            |(transport, (port, client_port), c2s, s2c, packets, first)| Flowish {
                transport,
                port,
                client_port,
                c2s,
                s2c,
                packets,
                first,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_agrees_with_naive(set in set(), flows in prop::collection::vec(flow(), 1..6)) {
        let m = Matcher::new(&set).unwrap();
        let mut scratch = Scratch::new();
        for f in &flows {
            let v = f.view();
            prop_assert_eq!(m.matches(&v, &mut scratch).to_vec(), naive_matches(&set, &v), "flow {:?}", f);
        }
    }

    #[test]
    fn final_decisions_hold_when_bytes_grow(set in set(), f in flow(), cut_c in 0usize..25, cut_s in 0usize..25, less_packets in (0u64..6, 0u64..6)) {
        let c = Classifier::new(&set).unwrap();
        let full = f.view();
        let c2s = &f.c2s[..cut_c.min(f.c2s.len())];
        let s2c = &f.s2c[..cut_s.min(f.s2c.len())];
        let mut early = full;
        early.c2s = c2s;
        early.s2c = s2c;
        early.c2s_packets = full.c2s_packets.saturating_sub(less_packets.0);
        early.s2c_packets = full.s2c_packets.saturating_sub(less_packets.1);
        if c2s.is_empty() { early.c2s_first_size = None; }
        if s2c.is_empty() { early.s2c_first_size = None; }
        if c2s.is_empty() && s2c.is_empty() { early.first_payload = None; }
        let d = c.decide(&early, false);
        prop_assert_eq!(d.classification(), &c.classify(&early));
        if d.is_final() {
            prop_assert_eq!(d.classification(), &c.classify(&full), "early {:?}", early);
        }
    }
}
