//! The learning curve of the trainer alone: held-out accuracy and
//! precision on the Zeek corpus against the amount of training data (25%,
//! 50% and 100% of the nDPI corpus's captures, then the nDPI and mixed
//! corpora), with the time and peak memory of each training run.
//!
//! ```text
//! cargo build --release -p dpi-train
//! DPI_CORPUS=/path/to/corpus cargo run --release -p dpi-benches --bin learning-curve [OUT.svg]
//! ```
//!
//! Each point is `dpi train --corpus ... [--only-part 0/N] -o learnt.sig`
//! (no hand-written rules), timed with `/usr/bin/time`, then `dpi eval
//! --corpus zeek --sig learnt.sig --sig learnt.rules --reference ndpi
//! --candidate dpi --only-dpi-confidence` (the learnt rules alone). The
//! parts nest: the captures of part 0 of 4 are among those of part 0 of 2.
//! The `dpi` binary is `$DPI_BIN`, else `target/release/dpi`.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Point {
    label: String,
    captures: u64,
    accuracy: f64,
    precision: f64,
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(dpi: &Path, corpora: &[PathBuf], part: Option<&str>, dir: &Path) -> (f64, f64, PathBuf) {
    let sig = dir.join("learnt.sig");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%e %M"]).arg(dpi).arg("train");
    for c in corpora {
        cmd.arg("--corpus").arg(c);
    }
    if let Some(p) = part {
        cmd.args(["--only-part", p]);
    }
    cmd.args(["--reference", "ndpi", "-q", "-o"]).arg(&sig);
    let out = run(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default().to_owned();
    let mut it = last.split_whitespace();
    let secs: f64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
    let kb: f64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
    (secs, kb / 1024.0, sig)
}

fn report_counts(sig: &Path) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(format!("{}.report.txt", sig.display())).unwrap();
    let first = text.lines().next().unwrap_or_default();
    // "training: N captures, F flows, ..."
    let num = |word: &str| -> u64 {
        first
            .split(',')
            .find(|p| p.contains(word))
            .and_then(|p| p.split_whitespace().rev().nth(1))
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    };
    let captures = first
        .trim_start_matches("training: ")
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let learnt = text
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("learnt "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (captures, num("flows"), learnt)
}

fn eval(dpi: &Path, zeek: &Path, sig: &Path) -> (f64, f64) {
    let rules = sig.with_extension("rules");
    let out = run(Command::new(dpi)
        .arg("eval")
        .arg("--corpus")
        .arg(zeek)
        .arg("--sig")
        .arg(sig)
        .arg("--sig")
        .arg(&rules)
        .args([
            "--reference",
            "ndpi",
            "--candidate",
            "dpi",
            "--only-dpi-confidence",
            "--format",
            "json",
            "-q",
        ]));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        j["accuracy"].as_f64().unwrap(),
        j["precision"].as_f64().unwrap(),
    )
}

/// A line chart of accuracy and precision per point.
fn svg(points: &[Point]) -> String {
    let (w, h) = (640.0, 360.0);
    let (left, right, top, bottom) = (60.0, 20.0, 30.0, 70.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let x = |i: usize| left + pw * (i as f64 + 0.5) / points.len() as f64;
    let y = |v: f64| top + ph * (1.0 - v);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Learner alone on the Zeek corpus, by training data</text>\n",
        w / 2.0
    );
    for k in 0..=10 {
        let v = k as f64 / 10.0;
        s += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}</text>\n",
            w - right,
            left - 6.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (i, p) in points.iter().enumerate() {
        s += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{} captures</text>\n",
            x(i),
            h - bottom + 20.0,
            p.label,
            x(i),
            h - bottom + 36.0,
            p.captures
        );
    }
    for (name, colour, get) in [
        (
            "accuracy",
            "#1f77b4",
            (|p: &Point| p.accuracy) as fn(&Point) -> f64,
        ),
        ("precision", "#d62728", |p: &Point| p.precision),
    ] {
        let pts: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(get(p))))
            .collect();
        s += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
            pts.join(" ")
        );
        for (i, p) in points.iter().enumerate() {
            s += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{colour}\">{:.3}</text>\n",
                x(i),
                y(get(p)),
                x(i),
                y(get(p)) - 8.0,
                get(p)
            );
        }
        let ly = h - 14.0;
        let lx = if name == "accuracy" {
            left
        } else {
            left + 120.0
        };
        s += &format!(
            "<rect x=\"{lx}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{ly}\">{name}</text>\n",
            ly - 6.0,
            lx + 16.0
        );
    }
    s + "</svg>\n"
}

fn main() {
    let root = PathBuf::from(
        std::env::var_os("DPI_CORPUS").expect("set DPI_CORPUS to the shared corpus folder"),
    );
    let dpi = std::env::var_os("DPI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/dpi"));
    assert!(
        dpi.exists(),
        "{}: build it with cargo build --release -p dpi-train",
        dpi.display()
    );
    let out_svg = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("benches/figures/learning-curve.svg"));
    let (ndpi, zeek, mixed) = (root.join("ndpi"), root.join("zeek"), root.join("mixed"));
    let work = std::env::temp_dir().join(format!("dpi-learning-curve-{}", std::process::id()));
    let runs: Vec<(&str, Vec<PathBuf>, Option<&str>)> = vec![
        ("25% ndpi", vec![ndpi.clone()], Some("0/4")),
        ("50% ndpi", vec![ndpi.clone()], Some("0/2")),
        ("100% ndpi", vec![ndpi.clone()], None),
        ("ndpi + mixed", vec![ndpi.clone(), mixed.clone()], None),
    ];
    let mut points = Vec::new();
    println!("| training data | captures | flows | signatures learnt | accuracy | precision | train s | peak MB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (i, (label, corpora, part)) in runs.into_iter().enumerate() {
        let dir = work.join(format!("{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (seconds, peak_mb, sig) = train(&dpi, &corpora, part, &dir);
        let (captures, flows, signatures) = report_counts(&sig);
        let (accuracy, precision) = eval(&dpi, &zeek, &sig);
        println!(
            "| {label} | {captures} | {flows} | {signatures} | {accuracy:.4} | {precision:.4} | {seconds:.1} | {peak_mb:.0} |"
        );
        points.push(Point {
            label: label.to_owned(),
            captures,
            accuracy,
            precision,
        });
    }
    std::fs::write(&out_svg, svg(&points)).unwrap();
    eprintln!("wrote {}", out_svg.display());
    let _ = std::fs::remove_dir_all(&work);
}
