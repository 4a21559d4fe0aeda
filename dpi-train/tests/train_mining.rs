//! Mining on small synthetic examples, and partials that merge
//! associatively.

use dpi_core::signature::{Feature, PatternKind, Signature};
use dpi_train::train::hash::{fold_of, stable_hash};
use dpi_train::train::partial::CAPTURES_KEPT;
use dpi_train::train::score::{measure_folds, Pool};
use dpi_train::train::{self, Class, Example, MineOptions, Partial, Settings};
use indicatif::ProgressBar;

fn settings() -> Settings {
    Settings {
        references: vec!["ndpi".into()],
        bytes: 64,
        sample: 4096,
        folds: 4,
    }
}

/// Pseudo-random bytes from a seed.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (stable_hash(&[seed.to_le_bytes(), (i as u64).to_le_bytes()].concat()) & 0xff) as u8
        })
        .collect()
}

fn example(capture: &str, i: u64, port: u16, c2s: Vec<u8>) -> Example {
    Example::initiator_only(capture, 17, 40000 + i as u16, port, c2s)
}

/// `n` flows per protocol spread over 24 captures.
/// A protocol: its name, server port and payload generator.
type Spec<'a> = (&'a str, u16, &'a dyn Fn(u64) -> Vec<u8>);

fn corpus(protocols: &[Spec<'_>], n: u64) -> Vec<(Example, Class)> {
    let mut out = Vec::new();
    for (pi, (name, port, gen)) in protocols.iter().enumerate() {
        for i in 0..n {
            let cap = format!("cap-{}.pcap", (i + pi as u64 * 7) % 24);
            let ex = example(&cap, i * 31 + pi as u64, *port, gen(i * 31 + pi as u64));
            out.push((ex, Class::Labelled((*name).into())));
        }
    }
    out
}

fn partial_of(examples: &[(Example, Class)]) -> Partial {
    let mut p = Partial::new(settings());
    for (e, c) in examples {
        p.add(e.clone(), c.clone());
    }
    p
}

fn mine(p: &Partial) -> Vec<Signature> {
    let t = train::train(
        p,
        &Default::default(),
        &MineOptions::default(),
        &ProgressBar::hidden(),
    );
    t.set.signatures
}

#[test]
fn shared_prefix_gives_no_imprecise_pattern() {
    let a = |s: u64| [b"HELO".as_slice(), b"A", &noise(s, 20)].concat();
    let b = |s: u64| [b"HELO".as_slice(), b"B", &noise(s, 20)].concat();
    let ex = corpus(&[("Alpha", 7000, &a), ("Beta", 7000, &b)], 80);
    let p = partial_of(&ex);
    let sigs = mine(&p);
    assert!(!sigs.is_empty(), "something is learnt");
    let pool = Pool::new(&p, 1.0);
    for s in &sigs {
        let c = measure_folds(s, &pool).total();
        assert_eq!(c.fp, 0.0, "imprecise: {s:?}");
        assert!(c.tp >= 5.0);
    }
    for proto in ["Alpha", "Beta"] {
        assert!(sigs.iter().any(|s| s.protocol == proto), "{proto} learnt");
    }
}

/// Fixed bytes after a word of varying length: neither a masked pattern at
/// fixed offsets nor a 4-byte literal can place them; a regex can.
#[test]
fn varying_word_then_fixed_bytes_gives_regex() {
    let word = |s: u64| {
        let n = 3 + (noise(s, 1)[0] % 7) as usize;
        let letters: Vec<u8> = noise(s + 5, n).iter().map(|b| b'a' + b % 26).collect();
        let digits: Vec<u8> = noise(s + 7, 3).iter().map(|b| b'0' + b % 10).collect();
        [letters.as_slice(), b" :", &digits, b":", &noise(s + 9, 8)].concat()
    };
    let other = |s: u64| noise(s + 77, 20);
    let ex = corpus(&[("Word", 7000, &word), ("Noise", 7001, &other)], 80);
    let sigs = mine(&partial_of(&ex));
    let regex = sigs
        .iter()
        .filter(|s| s.protocol == "Word")
        .flat_map(|s| &s.patterns)
        .find_map(|p| match &p.kind {
            PatternKind::Regex { source, .. } => Some(source.clone()),
            _ => None,
        });
    assert_eq!(
        regex.as_deref(),
        Some("[A-Za-z]+\\x20\\x3a[0-9]+\\x3a"),
        "{sigs:#?}"
    );
}

/// Flow features decide only where the port does not: random bytes of a
/// fixed size on a port shared with another protocol give a size rule on
/// that port; random bytes alone on their port give no feature rule (it
/// would be a port guess).
#[test]
fn feature_rules_say_more_than_their_port() {
    let sized = |s: u64| noise(s + 11, 40);
    let shared = |s: u64| noise(s + 13, 20 + (s % 7) as usize);
    let alone = |s: u64| noise(s + 17, 10 + (s % 30) as usize);
    let ex = corpus(
        &[
            ("Sized", 4000, &sized),
            ("Shared", 4000, &shared),
            ("Alone", 4100, &alone),
        ],
        80,
    );
    let sigs = mine(&partial_of(&ex));
    let size_rule = sigs.iter().any(|s| {
        s.protocol == "Sized"
            && s.ports.contains(4000)
            && s.features.iter().any(|f| {
                matches!(f, Feature::FirstPayloadSize { range, .. } if range.contains(40) && !range.contains(39))
            })
    });
    assert!(size_rule, "{sigs:#?}");
    assert!(
        !sigs
            .iter()
            .any(|s| s.protocol == "Alone" && !s.features.is_empty()),
        "{sigs:#?}"
    );
}

#[test]
fn magic_at_offset_four_gives_masked_pattern() {
    let magic = |s: u64| {
        [
            noise(s, 4).as_slice(),
            b"\xDE\xAD\xBE\xEF",
            &noise(s + 1, 12),
        ]
        .concat()
    };
    let other = |s: u64| noise(s + 99, 20);
    let ex = corpus(&[("Magic", 9000, &magic), ("Noise", 9001, &other)], 80);
    let sigs = mine(&partial_of(&ex));
    let found = sigs.iter().filter(|s| s.protocol == "Magic").any(|s| {
        s.patterns.iter().any(|p| match &p.kind {
            PatternKind::Masked { offset: 0, bytes } => {
                bytes.len() >= 8
                    && bytes[..4]
                        .iter()
                        .all(|b| b.mask == 0 || b.mask == 0xf0 || b.mask == 0x0f)
                    && bytes[4..8]
                        .iter()
                        .map(|b| (b.value, b.mask))
                        .collect::<Vec<_>>()
                        == vec![(0xDE, 0xff), (0xAD, 0xff), (0xBE, 0xff), (0xEF, 0xff)]
            }
            _ => false,
        })
    });
    assert!(found, "no masked DE AD BE EF at offset 4 in {sigs:#?}");
    // The std.sig codec can carry it.
    let (std_text, _, ns, _) = train::merge::split_outputs(
        &dpi_core::signature::SignatureSet {
            signatures: sigs,
            ..Default::default()
        },
        &[],
    );
    assert!(ns >= 1);
    assert!(std_text.contains("DEADBEEF"), "{std_text}");
    dpi_core::signature::parse_std_sig(&std_text, "t.sig").unwrap();
}

#[test]
fn sharding_does_not_change_the_result() {
    let a = |s: u64| [b"\x01\x02".as_slice(), &noise(s, 10)].concat();
    let b = |s: u64| [noise(s, 2).as_slice(), b"ZZ", &noise(s + 5, 10)].concat();
    let c = |s: u64| noise(s + 7, 12);
    let ex = corpus(&[("A", 1, &a), ("B", 2, &b), ("C", 3, &c)], 60);
    let whole = partial_of(&ex);
    // Two different cuts by capture: (odd, even) and (three shards by name length and index).
    let shard = |f: &dyn Fn(&str) -> usize, n: usize| -> Vec<Partial> {
        let mut parts: Vec<Partial> = (0..n).map(|_| Partial::new(settings())).collect();
        for (e, c) in &ex {
            parts[f(&e.capture) % n].add(e.clone(), c.clone());
        }
        parts
    };
    let num = |c: &str| -> usize { c[4..c.len() - 5].parse().unwrap() };
    let cut1 = shard(&|c| num(c) % 2, 2);
    let cut2 = shard(&|c| num(c) / 5, 5);
    let merge_all = |parts: Vec<Partial>, rev: bool| {
        let mut it: Vec<Partial> = parts;
        if rev {
            it.reverse();
        }
        let mut acc = it.remove(0);
        for p in it {
            acc = acc.merge(p).unwrap();
        }
        acc
    };
    let m1 = merge_all(cut1, false);
    let m2 = merge_all(cut2.clone(), true);
    // ((a+b)+c) against (a+(b+c)) on the second cut.
    let mut c2 = cut2;
    let right = {
        let tail = c2.split_off(1);
        let tail = merge_all(tail, false);
        c2.remove(0).merge(tail).unwrap()
    };
    assert_eq!(m1, whole);
    assert_eq!(m2, whole);
    assert_eq!(right, whole);
    // A JSON round trip keeps everything.
    let dir = std::env::temp_dir().join(format!("dpi-train-part-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.part");
    m1.write(&path).unwrap();
    let back = Partial::read(&path).unwrap();
    assert_eq!(back, whole);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(mine(&m1), mine(&whole));
    assert!(!mine(&whole).is_empty());
    // Overlapping shards are refused.
    assert!(whole.clone().merge(whole.clone()).is_err());
}

#[test]
fn small_sample_keeps_smallest_hashes() {
    let a = |s: u64| noise(s, 8);
    let ex = corpus(&[("A", 1, &a)], 50);
    let mut s = settings();
    s.sample = 10;
    let mut p = Partial::new(s.clone());
    for (e, c) in &ex {
        p.add(e.clone(), c.clone());
    }
    assert_eq!(p.groups.len(), 1);
    let g = &p.groups[0];
    assert_eq!(g.sample.len(), 10);
    assert!(g
        .sample
        .windows(2)
        .all(|w| w[0].example.hash < w[1].example.hash));
    let mut hashes: Vec<u64> = ex.iter().map(|(e, _)| e.hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let kept: Vec<u64> = g.sample.iter().map(|s| s.example.hash).collect();
    assert_eq!(kept, hashes[..10]);
    // Each sampled content counts its flows in the fold of their capture.
    for s in &g.sample {
        let mut want = vec![0u64; 4];
        for (e, _) in ex.iter().filter(|(e, _)| e.hash == s.example.hash) {
            want[usize::from(fold_of(&e.capture, 4))] += 1;
        }
        assert_eq!(s.counts, want);
    }
    assert_eq!(g.total_flows(), 50);
    // The weights scale the sampled flows of a fold up to the fold's flows.
    for f in 0..4 {
        let sampled: u64 = g.sample.iter().map(|s| s.counts[f]).sum();
        if sampled > 0 {
            let w = g.weight(f) * sampled as f64;
            assert!((w - g.flows[f] as f64).abs() < 1e-9);
        }
    }
}

/// Replaying the same flows under other capture names adds counts, not
/// entries: the statistics hold one entry per distinct content, naming at
/// most a few of its captures.
#[test]
fn replay_adds_counts_not_entries() {
    let a = |s: u64| [b"MAGI".as_slice(), &noise(s, 12)].concat();
    let b = |s: u64| noise(s + 1000, 16);
    let ex = corpus(&[("A", 7, &a), ("B", 9, &b)], 60);
    let once = partial_of(&ex);
    let mut ten = Partial::new(settings());
    for r in 0..10 {
        for (e, c) in &ex {
            let mut e = e.clone();
            e.capture = format!("r{r}_{}", e.capture);
            ten.add(e, c.clone());
        }
    }
    assert_eq!(once.groups.len(), ten.groups.len());
    for (g1, g10) in once.groups.iter().zip(&ten.groups) {
        assert_eq!(g1.sample.len(), g10.sample.len());
        assert!(g10.sample.iter().all(|s| s.captures.len() <= CAPTURES_KEPT));
        assert_eq!(10 * g1.total_captures(), g10.total_captures());
        assert_eq!(10 * g1.total_flows(), g10.total_flows());
        let n1: u64 = g1.sample.iter().flat_map(|s| &s.counts).sum();
        let n10: u64 = g10.sample.iter().flat_map(|s| &s.counts).sum();
        assert_eq!(10 * n1, n10);
    }
}

/// A TCP session with both directions' first bytes.
fn session(capture: &str, i: u64, port: u16, c2s: Vec<u8>, s2c: &[u8]) -> Example {
    let mut e = Example::initiator_only(capture, 6, 40000 + i as u16, port, c2s);
    e.s2c = s2c.to_vec();
    e.s2c_first_size = Some(s2c.len() as u32);
    e.s2c_packets = 1;
    e.hash = e.content_hash();
    e
}

/// SMTP sessions the reference names SMTPS because they went on to
/// STARTTLS count for SMTP (the classifier names the upgrade from the
/// session's bytes): the client's `EHLO` is then SMTP's whatever name
/// follows it, and what is learnt holds for names it never saw. Were the
/// upgraded sessions evidence against SMTP, their host names (here from
/// another part of the alphabet) would be all that told the two apart.
#[test]
fn upgraded_sessions_count_for_the_plain_protocol() {
    let hello = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";
    let name = |s: u64, first: u8, span: u8| -> Vec<u8> {
        let mut n: Vec<u8> = noise(s + 3, 8).iter().map(|b| b'a' + b % 26).collect();
        n[0] = first + noise(s, 1)[0] % span;
        n
    };
    let mut ex = Vec::new();
    for i in 0..80u64 {
        let cap = format!("cap-{}.pcap", i % 24);
        let plain = [b"EHLO ".as_slice(), &name(i, b'a', 15), b"\r\nQUIT\r\n"].concat();
        ex.push((
            session(&cap, i, 25, plain, b"220 mx ESMTP\r\n"),
            Class::Labelled("SMTP".into()),
        ));
        let upgraded = [
            b"EHLO ".as_slice(),
            &name(i + 500, b'p', 11),
            b"\r\nSTARTTLS\r\n",
            hello,
        ]
        .concat();
        ex.push((
            session(&cap, i + 500, 25, upgraded, b"220 mx ESMTP\r\n220 go\r\n"),
            Class::Labelled("SMTPS".into()),
        ));
    }
    let sigs = mine(&partial_of(&ex));
    let smtp: Vec<&Signature> = sigs.iter().filter(|s| s.protocol == "SMTP").collect();
    assert!(!smtp.is_empty(), "{sigs:#?}");
    // Sessions from names of a kind no training session had.
    let unseen: Vec<(Example, Class)> = (0..40u64)
        .map(|i| {
            let c2s = format!("EHLO [10.0.{}.{}]\r\n", i % 7, i).into_bytes();
            let cap = format!("new-{}.pcap", i % 8);
            (
                session(&cap, i, 25, c2s, b"220 other ESMTP\r\n"),
                Class::Labelled("SMTP".into()),
            )
        })
        .collect();
    let held = partial_of(&unseen);
    let pool = Pool::new(&held, 1.0);
    let best = smtp
        .iter()
        .map(|s| measure_folds(s, &pool).total().tp)
        .fold(0.0, f64::max);
    assert_eq!(best, 40.0, "{smtp:#?}");
}

/// A rule seen working on one port only keeps that port, unless its
/// pattern at a fixed offset is long enough to be the protocol's wherever
/// it is (a banner): then it goes to any port.
#[test]
fn only_strong_patterns_leave_the_one_port_they_were_seen_on() {
    let banner = |s: u64| [b"BANNER-7.0-".as_slice(), &noise(s, 20)].concat();
    let magic = |s: u64| [b"\x7f\x10".as_slice(), &noise(s + 3, 20)].concat();
    let other = |s: u64| noise(s + 77, 24);
    let ex = corpus(
        &[
            ("Banner", 7000, &banner),
            ("Magic", 7001, &magic),
            ("Noise", 7002, &other),
        ],
        80,
    );
    let sigs = mine(&partial_of(&ex));
    let of =
        |name: &str| -> Vec<&Signature> { sigs.iter().filter(|s| s.protocol == name).collect() };
    let banner = of("Banner");
    assert!(!banner.is_empty(), "{sigs:#?}");
    assert!(
        banner
            .iter()
            .any(|s| s.ports == dpi_core::signature::PortSet::any()),
        "{banner:#?}"
    );
    let magic = of("Magic");
    assert!(!magic.is_empty(), "{sigs:#?}");
    assert!(
        magic
            .iter()
            .all(|s| s.ports == dpi_core::signature::PortSet::single(7001)),
        "{magic:#?}"
    );
}
