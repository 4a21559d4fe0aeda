//! `dpi extract` end to end: golden output over the project's sample
//! captures, and the handling of bad input.
//!
//! Regenerate the golden file after an intended change with
//! `DPI_BLESS=1 cargo test -p dpi-train --test extract_cli` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn dpi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpi"));
    c.current_dir(root());
    c
}

fn samples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("corpus/samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .map(|p| {
            format!(
                "corpus/samples/{}",
                p.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    v.sort();
    v
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dpi-extract-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn samples_match_golden_output() {
    for format in ["jsonl", "csv"] {
        let out = dpi()
            .args(["extract", "-q", "--format", format])
            .args(samples())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let golden = root().join(format!("dpi-train/tests/golden/extract-samples.{format}"));
        if std::env::var_os("DPI_BLESS").is_some() {
            std::fs::write(&golden, &out.stdout).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!("{}: {e} (run with DPI_BLESS=1 to create)", golden.display())
        });
        let got = String::from_utf8(out.stdout).unwrap();
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(
                g,
                w,
                "{format} line {} differs from {}",
                i + 1,
                golden.display()
            );
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "{format}: number of lines"
        );
    }
}

#[test]
fn records_carry_the_documented_fields() {
    let out = dpi()
        .args(["extract", "-q", "--bytes", "16", "corpus/samples/web.pcap"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut http = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in [
            "file",
            "transport",
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "vlan",
            "tunnel",
            "first_ts",
            "last_ts",
            "c2s_packets",
            "s2c_packets",
            "c2s_bytes",
            "s2c_bytes",
            "c2s_sizes",
            "s2c_sizes",
            "c2s_payload",
            "s2c_payload",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {line}");
        }
        assert_eq!(v["file"], "corpus/samples/web.pcap");
        assert!(
            v["c2s_payload"].as_str().unwrap().len() <= 32,
            "--bytes 16 keeps 16 bytes"
        );
        if v["c2s_payload"].as_str().unwrap().starts_with("474554202f") {
            // "GET /" from the client to port 80 or 8080.
            http += 1;
            assert!(matches!(v["dst_port"].as_u64(), Some(80 | 8080)));
            assert_eq!(v["transport"], "tcp");
        }
    }
    assert_eq!(http, 3, "the three HTTP flows of web.pcap");
}

#[test]
fn a_truncated_capture_keeps_its_flows_and_the_next_file_is_read() {
    let dir = scratch("truncated");
    let whole = std::fs::read(root().join("corpus/samples/web.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    // Cut in the middle of the last record.
    std::fs::write(&cut, &whole[..whole.len() - 40]).unwrap();
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture at all").unwrap();
    let out = dpi()
        .args(["extract", "-q"])
        .arg(&cut)
        .arg(&garbage)
        .arg(dir.join("missing.pcap"))
        .arg("corpus/samples/dns.pcapng")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "failures give a non-zero exit status"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains(&format!(
            "{}: corrupt capture at byte offset",
            cut.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: ", garbage.display())),
        "{stderr}"
    );
    assert!(stderr.contains("missing.pcap"), "{stderr}");
    let from_cut = stdout.lines().filter(|l| l.contains("cut.pcap")).count();
    let from_dns = stdout.lines().filter(|l| l.contains("dns.pcapng")).count();
    assert!(
        from_cut >= 6,
        "flows before the cut are written ({from_cut})"
    );
    assert!(from_dns > 0, "the files after a bad one are read");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn every_truncation_of_a_sample_is_handled() {
    let dir = scratch("every");
    let whole = std::fs::read(root().join("corpus/samples/dns.pcapng")).unwrap();
    let path = dir.join("t.pcapng");
    for len in (0..whole.len()).step_by(97) {
        std::fs::write(&path, &whole[..len]).unwrap();
        let out = dpi().args(["extract", "-q"]).arg(&path).output().unwrap();
        // Exit 0 (a cut on a record boundary) or 1 (corrupt); never a crash.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "len {len}: {:?}",
            out.status
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
