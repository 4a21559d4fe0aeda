//! `dpi eval --candidate dpi` over the shared corpus: the built-in set on
//! the nDPI corpus (checked against a recomputation from `dpi classify`
//! and nDPI's `.out` files), K folds with training, and training on one
//! corpus evaluated on the other.
//!
//! Reads the corpus from `DPI_CORPUS` (its `ndpi/` and `zeek/` folders).
//! Unset: each test prints a note and passes. Set but missing: failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus(name: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the dpi evaluation test is skipped");
        return None;
    };
    let dir = PathBuf::from(root).join(name);
    assert!(
        dir.join("pcap").is_dir(),
        "DPI_CORPUS is set but {} has no pcap/",
        dir.display()
    );
    Some(dir)
}

fn dpi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpi"))
}

/// Runs `dpi eval --reference ndpi --candidate dpi --only-dpi-confidence
/// --format json -q --corpus DIR` with `extra` arguments.
fn eval_json(dir: &Path, extra: &[&str]) -> Value {
    let out = dpi()
        .args(["eval", "--corpus"])
        .arg(dir)
        .args([
            "--reference",
            "ndpi",
            "--candidate",
            "dpi",
            "--only-dpi-confidence",
            "--format",
            "json",
            "-q",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpi eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn num(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("`{field}` is not a number in {v}"))
}

fn line(name: &str, v: &Value) -> String {
    format!(
        "{name}: flows {} coverage {:.4} accuracy {:.4} precision {:.4}",
        v["flows"],
        num(v, "coverage"),
        num(v, "accuracy"),
        num(v, "precision")
    )
}

/// Prints the figures of a run (candidate, baseline, lpi, argus) and
/// checks that the fields are there.
fn print_and_check(what: &str, j: &Value, dir: &Path, trained: bool) {
    println!("{}", line(what, j));
    for field in ["flows", "coverage", "accuracy", "precision"] {
        assert!(j[field].is_number(), "`{field}` missing: {j}");
    }
    for tool in ["baseline", "lpi", "argus"] {
        let present = match tool {
            "baseline" => trained,
            t => dir.join("labels").join(t).is_dir(),
        };
        if present {
            assert!(j[tool].is_object(), "`{tool}` missing");
            println!("{}", line(&format!("  {tool}"), &j[tool]));
            for field in ["flows", "coverage", "accuracy", "precision"] {
                assert!(j[tool][field].is_number(), "`{tool}.{field}` missing");
            }
        }
    }
}

type Key = (String, String, (IpAddr, u16), (IpAddr, u16));

fn key(capture: &str, transport: &str, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    let transport = transport.to_ascii_lowercase();
    let ports = matches!(transport.as_str(), "tcp" | "udp");
    let a = (a.0, if ports { a.1 } else { 0 });
    let b = (b.0, if ports { b.1 } else { 0 });
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (capture.to_owned(), transport, lo, hi)
}

fn endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// A flow line of an nDPI `.out` file: the key, the master protocol and
/// whether the confidence starts with `DPI`.
fn out_line(capture: &str, line: &str) -> Option<(Key, String, bool)> {
    let mut words = line.split_whitespace();
    words.next()?.parse::<u64>().ok()?;
    let transport = words.next()?;
    let a = endpoint(words.next()?)?;
    if !matches!(words.next()?, "->" | "<->") {
        return None;
    }
    let b = endpoint(words.next()?)?;
    let proto = line.split("[proto: ").nth(1)?.split(']').next()?;
    let name = proto.split_once('/')?.1;
    let master = name.split('.').next()?.to_owned();
    let confidence = line.split("[Confidence: ").nth(1)?.split(']').next()?;
    Some((
        key(capture, transport, a, b),
        master,
        confidence.starts_with("DPI"),
    ))
}

/// Coverage, accuracy and precision of `dpi classify` against the `.out`
/// files, recomputed from the two outputs alone.
fn recompute(dir: &Path) -> (usize, f64, f64, f64) {
    let mut captures: Vec<PathBuf> = std::fs::read_dir(dir.join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    captures.sort();
    let out = dpi()
        .args(["classify", "--format", "jsonl", "-q"])
        .args(&captures)
        .output()
        .unwrap();
    // A capture that ends inside a record fails the run after its flows
    // are written; the output is still complete.
    let mut ours: HashMap<Key, Vec<String>> = HashMap::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let file = v["file"].as_str().unwrap();
        let capture = Path::new(file).file_name().unwrap().to_str().unwrap();
        let ep = |ip: &str, port: &str| -> (IpAddr, u16) {
            (
                v[ip].as_str().unwrap().parse().unwrap(),
                v[port].as_u64().unwrap() as u16,
            )
        };
        let k = key(
            capture,
            v["transport"].as_str().unwrap(),
            ep("src_ip", "src_port"),
            ep("dst_ip", "dst_port"),
        );
        let p = v["protocol"].as_str().unwrap();
        let master = p.split('.').next().unwrap().to_owned();
        ours.entry(k).or_default().push(master);
    }
    let (mut flows, mut named, mut correct) = (0usize, 0usize, 0usize);
    for e in std::fs::read_dir(dir.join("expected")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let Some(capture) = name.strip_suffix(".out") else {
            continue;
        };
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for l in text.lines() {
            let Some((k, master, dpi)) = out_line(capture, l) else {
                continue;
            };
            if !dpi || master == "Unknown" {
                continue;
            }
            let Some(labels) = ours.get(&k) else {
                continue;
            };
            flows += 1;
            if let Some(c) = labels.iter().find(|m| *m != "Unknown") {
                named += 1;
                if *c == master {
                    correct += 1;
                }
            }
        }
    }
    let r = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (flows, r(named, flows), r(correct, flows), r(correct, named))
}

#[test]
fn default_set_on_the_ndpi_corpus() {
    let Some(dir) = corpus("ndpi") else { return };
    let j = eval_json(&dir, &[]);
    print_and_check("dpi eval, built-in set, ndpi corpus", &j, &dir, false);
    let (flows, coverage, accuracy, precision) = recompute(&dir);
    println!(
        "recomputed from dpi classify and expected/*.out: flows {flows} coverage {coverage:.4} accuracy {accuracy:.4} precision {precision:.4}"
    );
    let (a, p) = (num(&j, "accuracy"), num(&j, "precision"));
    assert!(a >= 0.75, "accuracy {a} < 0.75");
    assert!(p >= 0.97, "precision {p} < 0.97");
    assert!(
        (a - accuracy).abs() <= 0.01,
        "accuracy: dpi eval {a}, recomputed {accuracy}"
    );
    assert!(
        (p - precision).abs() <= 0.01,
        "precision: dpi eval {p}, recomputed {precision}"
    );
    assert!((num(&j, "coverage") - coverage).abs() <= 0.01);
}

#[test]
fn five_folds_on_the_ndpi_corpus() {
    let Some(dir) = corpus("ndpi") else { return };
    let j = eval_json(&dir, &["--folds", "5"]);
    print_and_check("dpi eval --folds 5, mean over folds", &j, &dir, true);
    let folds = j["folds"].as_array().expect("a `folds` array");
    assert_eq!(folds.len(), 5);
    for f in folds {
        println!(
            "{}  ({})",
            line(&format!("  fold {}", f["fold"]), f),
            line("baseline", &f["baseline"])
        );
        assert!(f["training"]["learnt"].is_u64());
    }
    let total: u64 = folds.iter().map(|f| f["flows"].as_u64().unwrap()).sum();
    assert_eq!(j["flows"].as_u64(), Some(total));
    let mean = folds.iter().map(|f| num(f, "accuracy")).sum::<f64>() / 5.0;
    assert!((num(&j, "accuracy") - mean).abs() < 1e-9);
    let (a, p) = (num(&j, "accuracy"), num(&j, "precision"));
    assert!(a >= 0.85, "mean accuracy {a} < 0.85");
    assert!(p >= 0.98, "mean precision {p} < 0.98");
}

#[test]
fn train_on_ndpi_evaluate_on_zeek() {
    let (Some(zeek), Some(ndpi)) = (corpus("zeek"), corpus("ndpi")) else {
        return;
    };
    let train = ndpi.to_str().unwrap().to_owned();
    let j = eval_json(&zeek, &["--train-corpus", &train]);
    print_and_check("dpi eval on zeek, trained on ndpi", &j, &zeek, true);
    let t = &j["training"];
    println!(
        "  training: {} captures, {} hand-written, {} learnt, {} signatures",
        t["captures"], t["base"], t["learnt"], t["signatures"]
    );
    assert!(t["captures"].as_u64().unwrap() > 0);
    let (a, p) = (num(&j, "accuracy"), num(&j, "precision"));
    assert!(a >= 0.85, "accuracy {a} < 0.85");
    assert!(p >= 0.98, "precision {p} < 0.98");
}
