//! Training on a distributed engine: partials as Parquet tables, their
//! reduce as SQL (DuckDB on one machine, Spark SQL on a cluster), and the
//! Spark job `dpi-train/spark/train_spark.py`.
//!
//! Reads the Zeek corpus from `DPI_CORPUS` (unset: skipped with a note).
//! The DuckDB and Spark tests run `DPI_PYTHON` (default `python3`), which
//! must import `duckdb` / `pyspark`; when it cannot they are skipped with
//! a note, unless `DPI_REQUIRE_TOOLS=1`, which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use dpi_train::train::{partial_parquet, Class, Example, Partial, Settings};

const DPI: &str = env!("CARGO_BIN_EXE_dpi");

fn corpus() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the test is skipped");
        return None;
    };
    let dir = PathBuf::from(root).join("zeek");
    assert!(
        dir.join("pcap").is_dir(),
        "DPI_CORPUS is set but {} has no pcap/",
        dir.display()
    );
    Some(dir)
}

/// The Python that imports `module`, or `None` (skip) when it cannot and
/// tools are not required.
fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("DPI_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "DPI_REQUIRE_TOOLS=1 and {python} cannot import {module} (set DPI_PYTHON)"
    );
    eprintln!("note: {python} cannot import {module}; the test is skipped");
    None
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("spark")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dpi-spark-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `dpi train --partial` of shard `i` of `n` of `corpus`, in `format`.
fn shard(corpus: &Path, i: usize, n: usize, format: &str, out: &Path) {
    run(Command::new(DPI)
        .args(["train", "--partial", "-q", "--format", format])
        .arg("--only-part")
        .arg(format!("{i}/{n}"))
        .arg("--corpus")
        .arg(corpus)
        .arg("-o")
        .arg(out));
}

/// `dpi train --from-partials` of `partials`; the std.sig and rules texts.
fn mine(partials: &[PathBuf], out: &Path) -> (String, String) {
    let sig = out.with_extension("sig");
    let rules = out.with_extension("rules");
    run(Command::new(DPI)
        .args(["train", "-q", "--from-partials"])
        .args(partials)
        .arg("-o")
        .arg(&sig)
        .arg("--extended-out")
        .arg(&rules));
    (
        std::fs::read_to_string(&sig).unwrap(),
        std::fs::read_to_string(&rules).unwrap(),
    )
}

fn json_merge(partials: &[PathBuf]) -> Partial {
    let mut it = partials.iter().map(|p| Partial::read(p).unwrap());
    let first = it.next().unwrap();
    it.fold(first, |a, b| a.merge(b).unwrap())
}

#[test]
fn parquet_and_json_partials_mine_to_the_same_bytes() {
    let Some(corpus) = corpus() else { return };
    let dir = scratch("formats");
    let (mut json, mut parquet) = (Vec::new(), Vec::new());
    for i in 0..3 {
        json.push(dir.join(format!("s{i}.json")));
        parquet.push(dir.join(format!("s{i}.pq")));
        shard(&corpus, i, 3, "json", &json[i]);
        shard(&corpus, i, 3, "parquet", &parquet[i]);
        let a = Partial::read(&json[i]).unwrap();
        assert_eq!(partial_parquet::read(&parquet[i]).unwrap(), a);
    }
    let merged = json_merge(&json);
    assert!(merged.capture_count() > 700, "{}", merged.capture_count());
    let from_json = mine(&json, &dir.join("j"));
    let from_parquet = mine(&parquet, &dir.join("p"));
    assert!(from_json.0.lines().any(|l| !l.starts_with('#')));
    assert_eq!(from_json, from_parquet);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duckdb_reduce_equals_dpi_merge() {
    let Some(corpus) = corpus() else { return };
    let Some(python) = python_with("duckdb") else {
        return;
    };
    let dir = scratch("duckdb");
    let (mut json, mut parquet) = (Vec::new(), Vec::new());
    for i in 0..4 {
        json.push(dir.join(format!("s{i}.json")));
        parquet.push(dir.join(format!("s{i}.pq")));
        shard(&corpus, i, 4, "json", &json[i]);
        shard(&corpus, i, 4, "parquet", &parquet[i]);
    }
    let reduced = dir.join("reduced.pq");
    run(Command::new(&python)
        .arg(script("reduce_duckdb.py"))
        .arg("-o")
        .arg(&reduced)
        .args(&parquet));
    let sql = partial_parquet::read(&reduced).unwrap();
    assert_eq!(sql, json_merge(&json));
    // Bottom-k cut: the same shards at a sample of 3 per group.
    let cut: Vec<PathBuf> = (0..4).map(|i| dir.join(format!("k{i}.pq"))).collect();
    for (i, c) in cut.iter().enumerate() {
        let mut p = Partial::read(&json[i]).unwrap();
        p.settings.sample = 3;
        for g in &mut p.groups {
            g.sample.truncate(3);
        }
        partial_parquet::write(&p, c).unwrap();
    }
    let reduced_cut = dir.join("reduced-cut.pq");
    run(Command::new(&python)
        .arg(script("reduce_duckdb.py"))
        .arg("-o")
        .arg(&reduced_cut)
        .args(&cut));
    let merged_cut = cut
        .iter()
        .map(|c| partial_parquet::read(c).unwrap())
        .reduce(|a, b| a.merge(b).unwrap())
        .unwrap();
    assert_eq!(partial_parquet::read(&reduced_cut).unwrap(), merged_cut);
    assert!(merged_cut.groups.iter().any(|g| g.sample.len() == 3));
    // A capture in two partials is refused.
    let twice = Command::new(&python)
        .arg(script("reduce_duckdb.py"))
        .arg("-o")
        .arg(dir.join("twice.pq"))
        .args([&parquet[0], &parquet[0]])
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("two partials"));
    // So does dpi's merge, naming the file that repeats it.
    let twice = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args([
            "train",
            "-q",
            "--partial",
            "--format",
            "parquet",
            "--from-partials",
        ])
        .args([&parquet[0], &parquet[0]])
        .arg("-o")
        .arg(dir.join("twice-dpi.pq"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(1), "{err}");
    assert!(
        err.contains("two partials") && err.contains(&*parquet[0].to_string_lossy()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The signature lines of a file (comment lines aside).
fn signatures(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn spark_training_equals_dpi_train() {
    let Some(corpus) = corpus() else { return };
    let Some(python) = python_with("pyspark") else {
        return;
    };
    let dir = scratch("spark");
    let b = dir.join("B.sig");
    run(Command::new(DPI)
        .args(["train", "-q", "--reference", "ndpi", "--corpus"])
        .arg(&corpus)
        .arg("-o")
        .arg(&b)
        .arg("--extended-out")
        .arg(dir.join("B.rules")));
    let (want_sig, want_rules) = (signatures(&b), signatures(&dir.join("B.rules")));
    assert!(!want_sig.is_empty() && !want_rules.is_empty());
    for shards in [None, Some(1), Some(8)] {
        let name = shards.map_or_else(|| "A".to_owned(), |n| format!("A{n}"));
        let a = dir.join(format!("{name}.sig"));
        let rules = dir.join(format!("{name}.rules"));
        let mut cmd = Command::new(&python);
        cmd.arg(script("train_spark.py"))
            .args(["--master", "local[2]", "--reference", "ndpi", "--corpus"])
            .arg(&corpus)
            .arg("-o")
            .arg(&a)
            .arg("--extended-out")
            .arg(&rules)
            .arg("--dpi")
            .arg(DPI);
        if let Some(n) = shards {
            cmd.arg("--shards").arg(n.to_string());
        }
        run(&mut cmd);
        assert_eq!(signatures(&a), want_sig, "{shards:?} shards");
        assert_eq!(signatures(&rules), want_rules, "{shards:?} shards");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tiny() -> Partial {
    let settings = Settings {
        references: vec!["ndpi".into()],
        bytes: 16,
        sample: 8,
        folds: 2,
    };
    let mut p = Partial::new(settings);
    p.add(
        Example::initiator_only("a.pcap", 17, 5000, 53, vec![1, 2, 3, 4]),
        Class::Labelled("DNS".into()),
    );
    p.add(
        Example::initiator_only("b.pcap", 6, 5001, 80, b"GET /".to_vec()),
        Class::Unlabelled,
    );
    p
}

#[test]
fn bad_parquet_partials_name_the_file_and_the_fault() {
    let dir = scratch("bad");
    let good = dir.join("good");
    partial_parquet::write(&tiny(), &good).unwrap();
    assert_eq!(partial_parquet::read(&good).unwrap(), tiny());

    // A table missing.
    let missing = dir.join("missing");
    partial_parquet::write(&tiny(), &missing).unwrap();
    std::fs::remove_file(missing.join("hosts.parquet")).unwrap();
    let e = partial_parquet::read(&missing).unwrap_err().to_string();
    assert!(e.contains("hosts.parquet") && e.contains("missing"), "{e}");

    // A table that is not Parquet.
    let garbage = dir.join("garbage");
    partial_parquet::write(&tiny(), &garbage).unwrap();
    std::fs::write(garbage.join("groups.parquet"), b"not parquet at all").unwrap();
    let e = partial_parquet::read(&garbage).unwrap_err().to_string();
    assert!(e.contains("groups.parquet"), "{e}");

    // A table of another partial: the samples no longer match the groups.
    let other = dir.join("other");
    partial_parquet::write(&tiny(), &other).unwrap();
    let mut p2 = tiny();
    p2.groups.retain(|g| g.key.transport == 6);
    let donor = dir.join("donor");
    partial_parquet::write(&p2, &donor).unwrap();
    std::fs::copy(donor.join("groups.parquet"), other.join("groups.parquet")).unwrap();
    let e = partial_parquet::read(&other).unwrap_err().to_string();
    assert!(e.contains("no counts"), "{e}");

    // Through the command line: the error names the directory.
    let out = Command::new(DPI)
        .args(["train", "-q", "--from-partials"])
        .arg(&garbage)
        .arg("-o")
        .arg(dir.join("x.sig"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("groups.parquet"));
    std::fs::remove_dir_all(&dir).unwrap();
}
