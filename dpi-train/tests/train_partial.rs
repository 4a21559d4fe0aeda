//! Partial statistics: merging in any order and any cut gives the same
//! statistics; bad partial files are errors naming the file, never panics.

use std::path::Path;

use dpi_train::train::{Class, Example, Partial, Settings};
use proptest::prelude::*;

fn settings(sample: usize) -> Settings {
    Settings {
        references: vec!["ndpi".into()],
        bytes: 16,
        sample,
        folds: 3,
    }
}

fn example(capture: &str, port: u16, c2s: Vec<u8>) -> Example {
    Example::initiator_only(capture, 17, 1024 + port, port, c2s)
}

/// (capture index, class index, port, payload): few distinct values, so
/// contents and grams repeat across captures and folds.
fn flows() -> impl Strategy<Value = Vec<(u8, u8, u16, Vec<u8>)>> {
    prop::collection::vec(
        (
            0u8..9,
            0u8..4,
            prop::sample::select(vec![53u16, 80, 443]),
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x41, 0xff]), 0..8),
        ),
        0..60,
    )
}

fn class(i: u8) -> Class {
    match i {
        0 => Class::Labelled("A".into()),
        1 => Class::Labelled("B".into()),
        2 => Class::Weak("A".into()),
        _ => Class::Unlabelled,
    }
}

fn partial_of(
    flows: &[(u8, u8, u16, Vec<u8>)],
    sample: usize,
    keep: &dyn Fn(u8) -> bool,
) -> Partial {
    let mut p = Partial::new(settings(sample));
    for (cap, cls, port, c2s) in flows.iter().filter(|f| keep(f.0)) {
        let name = format!("cap-{cap}.pcap");
        p.add_capture(&name);
        let host = ["", "a.example", "b.example"][usize::from(*port % 3)];
        let app = (*cls == 0).then_some("App");
        if !host.is_empty() || app.is_some() {
            p.add_host(&name, host, app, *cls < 2);
        }
        if !c2s.is_empty() {
            p.add(example(&name, *port, c2s.clone()), class(*cls));
        }
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_associative_commutative_and_cut_free(
        flows in flows(),
        sample in 1usize..6,
        cut in prop::collection::vec(0u8..3, 9),
    ) {
        let whole = partial_of(&flows, sample, &|_| true);
        let part = |k: u8| partial_of(&flows, sample, &|c| cut[usize::from(c)] == k);
        let (a, b, c) = (part(0), part(1), part(2));
        let left = a.clone().merge(b.clone()).unwrap().merge(c.clone()).unwrap();
        let right = a.clone().merge(b.clone().merge(c.clone()).unwrap()).unwrap();
        let swapped = c.merge(b).unwrap().merge(a).unwrap();
        prop_assert_eq!(&left, &whole);
        prop_assert_eq!(&right, &whole);
        prop_assert_eq!(&swapped, &whole);
    }

    #[test]
    fn arbitrary_bytes_are_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let dir = std::env::temp_dir().join(format!("dpi-partial-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.part");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = Partial::read(&path) {
            prop_assert!(e.to_string().contains("x.part"), "{}", e);
        }
    }
}

/// A change that makes a valid partial invalid.
type Corruption = Box<dyn Fn(&mut serde_json::Value)>;

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
}

/// A small valid partial as a JSON value.
fn valid() -> serde_json::Value {
    let flows = vec![
        (0, 0, 53, vec![1, 2, 3, 4, 5]),
        (1, 1, 80, vec![0x41, 0x41, 0x41, 0x41]),
        (2, 3, 443, vec![0xff; 6]),
    ];
    serde_json::to_value(partial_of(&flows, 4, &|_| true)).unwrap()
}

#[test]
fn captures_of_equal_content_share_it() {
    let mut p = Partial::new(settings(4));
    for name in ["r1-a.pcap", "a.pcap", "r2-a.pcap", "b.pcap"] {
        p.add_capture(name);
        p.add_host(name, "a.example", Some("App"), true);
        if name == "b.pcap" {
            p.add_host(name, "b.example", None, true);
        }
        p.finish_capture(name);
    }
    assert_eq!(p.capture_count(), 4);
    assert!(p.has_capture("r2-a.pcap") && !p.has_capture("r3-a.pcap"));
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 4);
    let contents = v["contents"].as_object().unwrap();
    assert_eq!(contents.len(), 2);
    let a = contents.values().find(|c| c["first"] == "a.pcap").unwrap();
    assert_eq!(a["captures"], 3);
    // No sampled example names them: the names are not kept.
    assert!(v["names"].as_object().unwrap().is_empty());
    // Merging a copy of a content already held adds to its count.
    let mut q = Partial::new(settings(4));
    q.add_host("0-a.pcap", "a.example", Some("App"), true);
    let merged = p.clone().merge(q).unwrap();
    let v = serde_json::to_value(&merged).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 5);
    let contents = v["contents"].as_object().unwrap();
    assert_eq!(contents.len(), 2);
    let a = contents
        .values()
        .find(|c| c["first"] == "0-a.pcap")
        .unwrap();
    assert_eq!(a["captures"], 4);
    // Flows added to a capture after it was finished are not counted: the
    // statistics stay whole.
    let before = serde_json::to_value(&p).unwrap();
    p.add_host("b.pcap", "late.example", None, true);
    p.add(example("b.pcap", 53, vec![1, 2, 3, 4]), class(0));
    assert_eq!(serde_json::to_value(&p).unwrap(), before);
    // The same capture in two partials is refused, by name.
    let mut r = Partial::new(settings(4));
    r.add_capture("b.pcap");
    let e = p.merge(r).unwrap_err().to_string();
    assert!(e.contains("b.pcap") && e.contains("two partials"), "{e}");
}

#[test]
fn bad_partial_files_name_the_file_and_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("dpi-partial-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shard.part");
    // The valid one reads back equal.
    write_json(&path, &valid());
    let back = Partial::read(&path).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), valid());

    let cases: Vec<(&str, Corruption)> = vec![
        ("of version 2", Box::new(|v| v["version"] = 2.into())),
        (
            "not a dpi-train-partial",
            Box::new(|v| v["format"] = "other".into()),
        ),
        (
            "capture counts",
            Box::new(|v| v["groups"][0]["flows"] = serde_json::json!([1, 2])),
        ),
        (
            "sampled example",
            Box::new(|v| v["groups"][0]["sample"][0]["counts"] = serde_json::json!([1])),
        ),
        (
            "names 0 captures",
            Box::new(|v| v["groups"][0]["sample"][0]["captures"] = serde_json::json!([])),
        ),
        (
            "ascending",
            Box::new(|v| {
                v["groups"][0]["sample"][0]["captures"] = serde_json::json!(["b", "a"]);
            }),
        ),
        (
            "settings keep 0",
            Box::new(|v| v["settings"]["sample"] = 0.into()),
        ),
        (
            "does not match its content",
            Box::new(|v| v["groups"][0]["sample"][0]["c2s"] = "00".into()),
        ),
        (
            "groups not in key order",
            Box::new(|v| {
                let g = v["groups"].as_array_mut().unwrap();
                g.reverse();
            }),
        ),
    ];
    let content = |v: &serde_json::Value| {
        v["contents"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone()
    };
    let more: Vec<(&str, Corruption)> = vec![
        (
            "is not the hash of what it holds",
            Box::new(move |v| {
                let id = content(v);
                v["contents"][&id]["sketch"]["flows"] = 99.into();
            }),
        ),
        (
            "their contents count",
            Box::new(move |v| {
                let id = content(v);
                v["contents"][&id]["captures"] = 7.into();
            }),
        ),
        (
            "not counted, or its content 1 missing",
            Box::new(|v| v["names"]["cap-0.pcap"] = 1.into()),
        ),
        (
            "which is not in names",
            Box::new(|v| v["names"] = serde_json::json!({})),
        ),
        (
            "hosts not in (host, app, dpi) order",
            Box::new(move |v| {
                let id = content(v);
                let h = v["contents"][&id]["hosts"].as_array_mut().unwrap();
                let first = h[0].clone();
                h.push(first);
            }),
        ),
    ];
    for (want, corrupt) in cases.into_iter().chain(more) {
        let mut v = valid();
        corrupt(&mut v);
        write_json(&path, &v);
        let e = Partial::read(&path).unwrap_err().to_string();
        assert!(e.contains("shard.part"), "{want}: {e}");
        assert!(e.contains(want), "{want}: {e}");
    }
    // A key given twice in an object is refused (JSON maps keep the last).
    for field in ["names", "contents"] {
        let text = serde_json::to_string(&valid()).unwrap();
        let obj = valid()[field].as_object().unwrap().clone();
        let (k, x) = obj.iter().next().unwrap();
        let entry = format!("{}:{}", serde_json::to_string(k).unwrap(), x);
        let at = format!("\"{field}\":{{");
        let text = text.replacen(&at, &format!("{at}{entry},"), 1);
        std::fs::write(&path, text).unwrap();
        let e = Partial::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("shard.part") && e.contains("given twice"),
            "{field}: {e}"
        );
    }
    // Deserialising without `Partial::read` checks as much.
    let mut v = valid();
    v["groups"][0]["flows"] = serde_json::json!([1]);
    assert!(serde_json::from_value::<Partial>(v).is_err());
    std::fs::write(&path, b"{ not json").unwrap();
    let e = Partial::read(&path).unwrap_err().to_string();
    assert!(e.contains("shard.part") && e.contains("not JSON"), "{e}");
}

/// Replaces the value at a path picked by `choice` in `v` with `new`.
fn mutate(v: &mut serde_json::Value, choice: &[u32], new: serde_json::Value) {
    let Some((&c, rest)) = choice.split_first() else {
        *v = new;
        return;
    };
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(c as usize % m.len()).unwrap().clone();
            mutate(m.get_mut(&k).unwrap(), rest, new);
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            mutate(&mut a[c as usize % n], rest, new);
        }
        _ => *v = new,
    }
}

fn any_json() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![0u64, 1, 2, 3, u64::MAX, u64::MAX / 2])
            .prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z0-9./-]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([0, 1, u64::MAX])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A valid partial with some values replaced anywhere: reading it is
    /// an error or a partial that mines, writes and reads back, never a
    /// panic.
    #[test]
    fn mutated_partials_are_refused_or_mined(
        flows in flows(),
        edits in prop::collection::vec((prop::collection::vec(any::<u32>(), 1..7), any_json()), 1..4),
    ) {
        let mut v = serde_json::to_value(partial_of(&flows, 3, &|_| true)).unwrap();
        for (path, new) in edits {
            mutate(&mut v, &path, new);
        }
        if let Ok(p) = serde_json::from_value::<Partial>(v) {
            let opts = dpi_train::train::MineOptions::default();
            let base = dpi_core::signature::SignatureSet::default();
            let _ = dpi_train::train::train(&p, &base, &opts, &indicatif::ProgressBar::hidden());
            let back: Partial = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
            prop_assert_eq!(back, p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Counters are not covered by a hash: any value of theirs reads, and
    /// the partial still mines without a panic (no overflow, no division
    /// by zero).
    #[test]
    fn extreme_counters_still_mine(
        flows in prop::collection::vec(
            (0u8..9, 0u8..4, prop::sample::select(vec![53u16, 80, 443]),
             prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x41, 0xff]), 1..8)),
            4..60,
        ),
        edits in prop::collection::vec(
            (any::<u32>(), 0u8..3, any::<u32>(), any::<u32>(),
             prop::sample::select(vec![0u64, 1, 2, u64::MAX, u64::MAX / 2, 1 << 53])),
            1..6,
        ),
    ) {
        let mut v = serde_json::to_value(partial_of(&flows, 3, &|_| true)).unwrap();
        for (g, what, s, f, n) in edits {
            let groups = v["groups"].as_array_mut().unwrap();
            if groups.is_empty() {
                break;
            }
            let len = groups.len();
            let group = &mut groups[g as usize % len];
            let counters = match what {
                0 => &mut group["flows"],
                1 => &mut group["captures"],
                _ => {
                    let sample = group["sample"].as_array_mut().unwrap();
                    let len = sample.len();
                    &mut sample[s as usize % len]["counts"]
                }
            };
            let counters = counters.as_array_mut().unwrap();
            let len = counters.len();
            counters[f as usize % len] = n.into();
        }
        let p: Partial = serde_json::from_value(v).unwrap();
        let opts = dpi_train::train::MineOptions::default();
        let base = dpi_core::signature::SignatureSet::default();
        let t = dpi_train::train::train(&p, &base, &opts, &indicatif::ProgressBar::hidden());
        for s in &t.mined.signatures {
            if let Some(x) = s.provenance.precision {
                prop_assert!((0.0..=1.0).contains(&x), "precision {x}");
            }
        }
    }
}
