//! `--format parquet` read back by DuckDB: the flows per protocol (and
//! per transport, for `dpi extract`) that DuckDB counts in the Parquet
//! file are the ones the JSON lines of the same run hold, and the column
//! types are the documented ones.
//!
//! DuckDB is its Python package: the interpreter is `DPI_PYTHON` (what
//! `.ci/run` sets to its venv), else `python3`. Without DuckDB the test is
//! skipped with a note, or fails when `DPI_REQUIRE_TOOLS=1`. The project's
//! sample captures are always read; with `DPI_CORPUS` set, 60 captures of
//! the nDPI corpus as well.
//!
//! ```sh
//! DPI_PYTHON=target/ci-venv/bin/python DPI_CORPUS=../shared/corpus \
//!     cargo test --release -p dpi-train --test parquet_duckdb -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn python() -> String {
    std::env::var("DPI_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Whether the interpreter imports duckdb; fails the test instead when
/// the tools are required.
fn duckdb_available() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import duckdb"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "DPI_REQUIRE_TOOLS=1 but {} cannot import duckdb",
            python()
        );
        eprintln!(
            "{} cannot import duckdb: the DuckDB comparison is skipped",
            python()
        );
    }
    ok
}

/// The sample captures, then 60 nDPI corpus captures when `DPI_CORPUS`
/// is set.
fn captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("corpus/samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    v.sort();
    if let Some(corpus) = std::env::var_os("DPI_CORPUS") {
        let dir = Path::new(&corpus).join("ndpi/pcap");
        let mut c: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path().to_string_lossy().into_owned())
            .collect();
        c.sort();
        v.extend(c.into_iter().take(60));
    }
    v
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dpi-parquet-duckdb-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dpi(args: &[&str], captures: &[String]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(args)
        .args(captures)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Rows of a DuckDB query, each row's columns joined by tabs.
fn duckdb(sql: &str) -> Vec<String> {
    let script = format!(
        "import duckdb\nfor r in duckdb.sql({sql:?}).fetchall():\n    print('\\t'.join(str(x) for x in r))\n"
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "duckdb {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `value<TAB>count` rows as a map.
fn counts(rows: &[String]) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|r| {
            let (k, n) = r.rsplit_once('\t').unwrap();
            (k.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// Flows per value of `key` in JSON lines.
fn json_counts(jsonl: &[u8], key: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        *m.entry(v[key].as_str().unwrap().to_string()).or_default() += 1;
    }
    m
}

fn types(file: &Path) -> BTreeMap<String, String> {
    duckdb(&format!("describe select * from '{}'", file.display()))
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split('\t').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

#[test]
fn classify_counts_per_protocol_agree_with_json_lines() {
    if !duckdb_available() {
        return;
    }
    let caps = captures();
    let file = scratch().join("classify.parquet");
    let f = file.to_str().unwrap();
    let jsonl = dpi(&["classify", "-q", "--format", "jsonl"], &caps);
    dpi(&["classify", "-q", "--format", "parquet", "-o", f], &caps);
    let want = json_counts(&jsonl, "protocol");
    let got = counts(&duckdb(&format!(
        "select protocol, count(*) from '{f}' group by 1 order by 1"
    )));
    assert_eq!(got, want);
    let flows: u64 = want.values().sum();
    eprintln!(
        "{} captures, {flows} flows, {} protocols: DuckDB's counts per protocol are the JSON lines'",
        caps.len(),
        want.len()
    );
    let t = types(&file);
    for (col, ty) in [
        ("src_port", "USMALLINT"),
        ("first_ts", "TIMESTAMP WITH TIME ZONE"),
        ("c2s_bytes", "UBIGINT"),
        ("c2s_sizes", "UINTEGER[]"),
        ("protocol", "VARCHAR"),
        ("alpn", "VARCHAR[]"),
    ] {
        let got = t.get(col).map(String::as_str);
        // DuckDB names nanosecond timestamps TIMESTAMPTZ_NS.
        let ok = got == Some(ty) || (col == "first_ts" && got == Some("TIMESTAMPTZ_NS"));
        assert!(ok, "{col}: {got:?}, expected {ty}");
    }
    assert!(!t.contains_key("c2s_payload"), "payload without --payload");
    // Hostnames: the same non-null count.
    let hosts = jsonl
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            !v["hostname"].is_null()
        })
        .count();
    let got = duckdb(&format!("select count(hostname) from '{f}'"));
    assert_eq!(got, [hosts.to_string()]);
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn extract_counts_per_transport_and_bytes_agree_with_json_lines() {
    if !duckdb_available() {
        return;
    }
    let caps = captures();
    let file = scratch().join("extract.parquet");
    let f = file.to_str().unwrap();
    let jsonl = dpi(&["extract", "-q", "--format", "jsonl"], &caps);
    dpi(&["extract", "-q", "--format", "parquet", "-o", f], &caps);
    let want = json_counts(&jsonl, "transport");
    let got = counts(&duckdb(&format!(
        "select transport, count(*) from '{f}' group by 1 order by 1"
    )));
    assert_eq!(got, want);
    // Totals of the counters, the sizes and the payload bytes (the JSON's
    // hex is twice as long as the raw bytes).
    let (mut bytes, mut sizes, mut payload) = (0u64, 0u64, 0u64);
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        bytes += v["c2s_bytes"].as_u64().unwrap() + v["s2c_bytes"].as_u64().unwrap();
        sizes += v["c2s_sizes"].as_array().unwrap().len() as u64;
        payload += v["c2s_payload"].as_str().unwrap().len() as u64 / 2;
    }
    let got = duckdb(&format!(
        "select sum(c2s_bytes + s2c_bytes), sum(len(c2s_sizes)), sum(octet_length(c2s_payload)) from '{f}'"
    ));
    assert_eq!(got, [format!("{bytes}\t{sizes}\t{payload}")]);
    assert_eq!(
        types(&file).get("c2s_payload").map(String::as_str),
        Some("BLOB")
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn parquet_without_an_output_file_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["classify", "--format", "parquet"])
        .arg(root().join("corpus/samples/web.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-o FILE"), "{err}");
}
