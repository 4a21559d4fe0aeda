//! Merging signature sets: associative, commutative, no duplicates,
//! support adds up; std.sig provenance comments survive a round trip.

use std::collections::BTreeMap;

use dpi_core::signature::{
    AppRule, Direction, HostMatch, MaskedByte, Pattern, PortSet, Provenance, Signature,
    SignatureSet, Transport,
};
use dpi_train::train::merge::{
    app_identity, identity, merge_sets, restore_provenance, split_outputs,
};
use proptest::prelude::*;

fn signature() -> impl Strategy<Value = Signature> {
    (
        prop::sample::select(vec!["DNS", "HTTP", "TLS"]),
        prop::bool::ANY,
        prop::sample::select(vec![53u16, 80, 443]),
        prop::collection::vec(prop::sample::select(vec![0x00u8, 0x16, 0x47]), 1..3),
        0u64..1000,
        prop::option::of((0u64..50, 0u64..5)),
        prop::option::of(prop::sample::select(vec![
            "trained:ndpi",
            "hand",
            "trained:lpi",
        ])),
    )
        .prop_map(|(proto, udp, port, bytes, support, counts, source)| {
            let mut s = Signature::new(proto);
            s.transport = if udp { Transport::Udp } else { Transport::Tcp };
            s.ports = PortSet::single(port);
            s.patterns.push(Pattern::masked(
                Direction::Initiator,
                0,
                bytes.into_iter().map(MaskedByte::exact).collect(),
            ));
            s.support = support;
            s.provenance = Provenance {
                source: source.map(str::to_owned),
                precision: counts.map(|(tp, fp)| {
                    if tp + fp == 0 {
                        1.0
                    } else {
                        tp as f64 / (tp + fp) as f64
                    }
                }),
                true_positives: counts.map(|c| c.0),
                false_positives: counts.map(|c| c.1),
                note: None,
            };
            s
        })
}

fn app_rule() -> impl Strategy<Value = AppRule> {
    (
        prop::sample::select(vec!["Google", "YouTube"]),
        prop::sample::select(vec!["google.com", "youtube.com", "ytimg.com"]),
        0u64..1000,
        prop::option::of((0u64..50, 0u64..5)),
        prop::option::of(prop::sample::select(vec!["trained:ndpi", "hand"])),
    )
        .prop_map(|(app, suffix, support, counts, source)| {
            let mut r = AppRule::new(app);
            r.hostname = Some(HostMatch::Suffix(vec![suffix.to_owned()]));
            r.support = support;
            r.provenance = Provenance {
                source: source.map(str::to_owned),
                precision: None,
                true_positives: counts.map(|c| c.0),
                false_positives: counts.map(|c| c.1),
                note: None,
            };
            r
        })
}

fn set() -> impl Strategy<Value = SignatureSet> {
    (
        prop::collection::vec(signature(), 0..8),
        prop::collection::vec(app_rule(), 0..4),
    )
        .prop_map(|(signatures, apps)| SignatureSet {
            signatures,
            apps,
            trailing_comments: vec![],
        })
}

fn supports(s: &SignatureSet) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for sig in &s.signatures {
        *m.entry(identity(sig)).or_default() += sig.support;
    }
    for r in &s.apps {
        *m.entry(app_identity(r)).or_default() += r.support;
    }
    m
}

proptest! {
    #[test]
    fn merge_is_associative_and_commutative(a in set(), b in set(), c in set()) {
        let ab = merge_sets([&a, &b]);
        let left = merge_sets([&ab, &c]);
        let bc = merge_sets([&b, &c]);
        let right = merge_sets([&a, &bc]);
        prop_assert_eq!(&left, &right);
        prop_assert_eq!(merge_sets([&a, &b]), merge_sets([&b, &a]));
        prop_assert_eq!(merge_sets([&a, &b, &c]), left.clone());
        // No duplicates, and support adds up per rule.
        let ids: Vec<String> = left.signatures.iter().map(identity).collect();
        let mut dedup = ids.clone();
        dedup.dedup();
        prop_assert_eq!(ids.len(), dedup.len());
        let app_ids: Vec<String> = left.apps.iter().map(app_identity).collect();
        let mut dedup = app_ids.clone();
        dedup.sort();
        dedup.dedup();
        prop_assert_eq!(app_ids.len(), dedup.len());
        let mut want = supports(&a);
        for (k, v) in supports(&b).into_iter().chain(supports(&c)) {
            *want.entry(k).or_default() += v;
        }
        prop_assert_eq!(supports(&left), want);
        // Merging with nothing changes nothing more.
        prop_assert_eq!(merge_sets([&left]), left.clone());
    }

    #[test]
    fn outputs_read_back(a in set()) {
        let merged = merge_sets([&a]);
        let (std_text, ext_text, ns, ne) = split_outputs(&merged, &["header".to_owned()]);
        prop_assert_eq!(ns + ne, merged.len() + merged.apps.len());
        let mut s = dpi_core::signature::parse_std_sig(&std_text, "x.sig").unwrap();
        let e = dpi_core::signature::parse_extended(&ext_text, "x.rules").unwrap();
        restore_provenance(&mut s);
        let back = merge_sets([&s, &e]);
        let strip = |set: &SignatureSet| -> Vec<(String, u64, Provenance)> {
            set.signatures
                .iter()
                .map(|x| (identity(x), x.support, x.provenance.clone()))
                .chain(set.apps.iter().map(|x| (app_identity(x), x.support, x.provenance.clone())))
                .collect()
        };
        prop_assert_eq!(strip(&back), strip(&merged));
    }
}

/// Provenance read from a comment holds what a file may say: a precision
/// that is not a share is not read, and counts at the top of `u64` merge
/// without overflowing.
#[test]
fn provenance_from_hostile_comments() {
    use dpi_train::train::merge::{merge_provenance, parse_provenance_comment};
    for bad in ["NaN", "inf", "-0.5", "1.5"] {
        let p = parse_provenance_comment(&format!("# dpi-train: precision={bad}")).unwrap();
        assert_eq!(p.precision, None, "{bad}");
    }
    let p = parse_provenance_comment("# dpi-train: precision=0.75").unwrap();
    assert_eq!(p.precision, Some(0.75));
    let big = parse_provenance_comment(&format!("# dpi-train: tp={} fp=1", u64::MAX)).unwrap();
    let m = merge_provenance(&big, &Provenance::default());
    assert_eq!(m.true_positives, Some(u64::MAX));
    assert!(m.precision.is_some_and(|x| (0.0..=1.0).contains(&x)));
}
