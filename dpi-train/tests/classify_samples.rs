//! `dpi classify` over the project's sample captures (`corpus/samples`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    assert!(v.len() >= 6, "sample captures missing: {v:?}");
    v
}

fn dpi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(args)
        .output()
        .expect("run dpi")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dpi-classify-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `dpi classify --format jsonl` and parses its lines.
fn classify_jsonl(extra: &[&str], captures: &[String]) -> Vec<serde_json::Value> {
    let mut args = vec!["classify", "--format", "jsonl", "-q"];
    args.extend_from_slice(extra);
    args.extend(captures.iter().map(String::as_str));
    let out = dpi(&args);
    assert!(
        out.status.success(),
        "dpi classify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Flow key: capture file name and the two endpoints as the manifest
/// writes them (`ip:port`, `[ipv6]:port`, or the bare address without ports).
type Key = (String, String, String);

fn endpoint(ip: &str, port: u64, with_port: bool) -> String {
    match (with_port, ip.contains(':')) {
        (false, _) => ip.to_string(),
        (true, true) => format!("[{ip}]:{port}"),
        (true, false) => format!("{ip}:{port}"),
    }
}

fn key_of(v: &serde_json::Value) -> Key {
    let file = Path::new(v["file"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let ports = matches!(v["transport"].as_str(), Some("tcp" | "udp"));
    (
        file,
        endpoint(
            v["src_ip"].as_str().unwrap(),
            v["src_port"].as_u64().unwrap(),
            ports,
        ),
        endpoint(
            v["dst_ip"].as_str().unwrap(),
            v["dst_port"].as_u64().unwrap(),
            ports,
        ),
    )
}

/// The manifest's expected protocol per flow, with its notes.
fn manifest() -> HashMap<Key, (String, String)> {
    let text = std::fs::read_to_string(root().join("corpus/samples/MANIFEST.md")).unwrap();
    let mut file = String::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## `") {
            file = name.trim_end_matches('`').to_string();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | protocol | L4 | client | server | if | framing | notes |
        if cells.len() >= 9 && cells[1].parse::<u32>().is_ok() {
            out.insert(
                (file.clone(), cells[4].to_string(), cells[5].to_string()),
                (cells[2].to_string(), cells[8].to_string()),
            );
        }
    }
    out
}

const RULES: &str = r#"
rule http-get
  protocol HTTP
  transport tcp
  c2s at 0 regex "(GET|POST|HEAD|PUT) /"
end
rule tls-hello
  protocol TLS
  transport tcp
  c2s at 0 hex "16 03 0? ?? ?? 01"
end
rule dns
  protocol DNS
  transport udp
  ports 53
  c2s at 2 hex "0? ?? 00 01"
end
rule ssh
  protocol SSH
  transport tcp
  either at 0 "SSH-"
end
rule icmp
  protocol ICMP
  transport 1
end
rule icmpv6
  protocol ICMPV6
  transport 58
end
rule mdns
  protocol MDNS
  transport udp
  ports 5353
end
"#;

/// Flows whose expected protocol is in `main` and which `dpi classify`
/// labels differently: (key, expected, got).
fn disagreements(rows: &[serde_json::Value], main: &[&str]) -> Vec<(Key, String, String)> {
    let expected = manifest();
    assert!(expected.len() >= 40, "manifest rows: {}", expected.len());
    let mut bad = Vec::new();
    let mut seen = 0;
    for r in rows {
        let k = key_of(r);
        let Some((want, notes)) = expected.get(&k) else {
            continue;
        };
        seen += 1;
        // A connection caught mid-stream has no first bytes to go by.
        if !main.contains(&want.as_str()) || notes.starts_with("mid-stream") {
            continue;
        }
        let got = r["protocol"].as_str().unwrap().to_string();
        if &got != want {
            bad.push((k, want.clone(), got));
        }
    }
    assert!(seen >= 40, "only {seen} flows lined up with the manifest");
    bad
}

#[test]
fn own_rules_recognise_the_main_protocols() {
    let dir = temp_dir("own");
    let rules = dir.join("t.rules");
    std::fs::write(&rules, RULES).unwrap();
    let rows = classify_jsonl(&["--sig", rules.to_str().unwrap()], &samples());
    let bad = disagreements(
        &rows,
        &["HTTP", "TLS", "DNS", "SSH", "ICMP", "ICMPV6", "MDNS"],
    );
    assert!(bad.is_empty(), "{bad:#?}");
    let by_reason = rows
        .iter()
        .filter(|r| r["reason"] == "tls-hello")
        .inspect(|r| assert_eq!(r["confidence"], "signature"))
        .count();
    assert!(by_reason >= 4, "{by_reason}");
    let icmp = rows.iter().find(|r| r["protocol"] == "ICMP").unwrap();
    assert_eq!(icmp["confidence"], "feature");
    assert!(icmp.get("c2s_payload").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn built_in_set_recognises_the_main_protocols() {
    let rules = dpi_train::default_sigs::rules().unwrap();
    if rules.is_empty() {
        eprintln!("note: signatures/default.rules is not built in yet; skipped");
        return;
    }
    let rows = classify_jsonl(&[], &samples());
    let bad = disagreements(
        &rows,
        &[
            "HTTP", "TLS", "DNS", "SSH", "ICMP", "ICMPV6", "QUIC", "MDNS",
        ],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn csv_and_table_and_payload() {
    let caps = samples();
    let dir = temp_dir("fmt");
    let rules = dir.join("t.rules");
    std::fs::write(&rules, RULES).unwrap();
    let sig = rules.to_str().unwrap();

    let out = dpi(&["classify", "-q", "--sig", sig, "--format", "csv", &caps[0]]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("file,transport,src_ip,src_port,dst_ip,dst_port,"));
    assert!(
        header.ends_with(",s2c_sizes,duration,c2s_payload_bytes,s2c_payload_bytes,c2s_tcp_flags,s2c_tcp_flags,end_reason,protocol,app,confidence,reason,hostname,alpn,ja4,ja4s,http_user_agent,http_url,dns_query_type,dns_answers,ssh_client,ssh_server"),
        "{header}"
    );

    let out = dpi(&[
        "classify",
        "-q",
        "--sig",
        sig,
        "--format",
        "csv",
        "--payload",
        &caps[0],
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains(",c2s_payload,s2c_payload,protocol,"));

    let rows = classify_jsonl(&["--sig", sig, "--payload", "--bytes", "16"], &caps);
    let http = rows.iter().find(|r| r["protocol"] == "HTTP").unwrap();
    assert!(http["c2s_payload"].as_str().unwrap().starts_with("474554"));
    assert!(http["c2s_payload"].as_str().unwrap().len() <= 32);

    let out = dpi(&["classify", "-q", "--sig", sig, &caps[0], &caps[1]]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("file ") && lines[0].contains("  protocol  "));
    // Aligned: the protocol column starts at the same place on every row.
    let col = lines[0].find("protocol").unwrap();
    let table_rows: Vec<&&str> = lines.iter().take_while(|l| !l.is_empty()).collect();
    assert!(table_rows.len() > 2);
    for l in &table_rows[1..] {
        assert_eq!(l.as_bytes()[col - 1], b' ', "{l}");
        assert_ne!(l.as_bytes()[col], b' ', "{l}");
    }
    let summary = &lines[table_rows.len() + 1..];
    assert!(summary[0].starts_with("protocol") && summary[0].contains("bytes"));
    assert!(summary.last().unwrap().starts_with("total"));
    assert!(summary.iter().any(|l| l.starts_with("DNS ")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_signature_files_report_every_line() {
    let dir = temp_dir("bad");
    let bad = dir.join("bad.rules");
    std::fs::write(
        &bad,
        "rule a\n  protocol X\n  c2s at 0 hex \"4G\"\nend\nrule b\n  protocol Y\n  prio 3\nend\n",
    )
    .unwrap();
    let bad_sig = dir.join("bad.sig");
    std::fs::write(&bad_sig, "Service: x tcp port 1 src = \"41\"\n").unwrap();
    let out = dpi(&[
        "classify",
        "-q",
        "--sig",
        bad.to_str().unwrap(),
        "--sig",
        bad_sig.to_str().unwrap(),
        &samples()[0],
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rules:3:"), "{err}");
    assert!(err.contains("bad.rules:7:"), "{err}");
    assert!(err.contains("bad.sig:1:"), "{err}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn std_sig_and_rules_files_together() {
    let dir = temp_dir("mixed");
    let sig = dir.join("mine.sig");
    std::fs::write(
        &sig,
        "Service: web tcp port 80 n = 3 src = \"474554202F\"\n",
    )
    .unwrap();
    let rules = dir.join("t.rules");
    std::fs::write(&rules, RULES).unwrap();
    let rows = classify_jsonl(
        &[
            "--sig",
            sig.to_str().unwrap(),
            "--sig",
            rules.to_str().unwrap(),
        ],
        &samples(),
    );
    // Both files load; on port 80 the std.sig line and the regex tie on
    // class, priority and constrained bytes (the regex's shortest prefix,
    // "GET /", is as long as the 5 masked bytes), so the port decides: the
    // std.sig line wins.
    let web = rows.iter().filter(|r| r["protocol"] == "web").count();
    assert!(web >= 5, "{web}");
    assert!(rows
        .iter()
        .filter(|r| r["protocol"] == "web")
        .all(|r| r["reason"].as_str().unwrap().ends_with("mine.sig:1")));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--compiled FILE`: written on the first run, read on the next, rewritten
/// when damaged or compiled from other signatures; the labels never change.
#[test]
fn compiled_set_file_is_reused_and_rewritten() {
    let caps = samples();
    let dir = temp_dir("compiled");
    let file = dir.join("set.dpic");
    let _ = std::fs::remove_file(&file);
    let f = file.display().to_string();
    let plain = classify_jsonl(&[], &caps);
    let first = classify_jsonl(&["--compiled", &f], &caps);
    let written = std::fs::read(&file).expect("the compiled set is written");
    assert!(written.starts_with(b"dpi-matcher"));
    let again = classify_jsonl(&["--compiled", &f], &caps);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        written,
        "read, not rewritten"
    );
    assert_eq!(plain, first);
    assert_eq!(plain, again);

    // Damaged: said, compiled again, rewritten.
    let mut damaged = written.clone();
    damaged.truncate(written.len() / 2);
    std::fs::write(&file, &damaged).unwrap();
    let mut args = vec!["classify", "--format", "jsonl", "-q", "--compiled", &f];
    args.extend(caps.iter().map(String::as_str));
    let out = dpi(&args);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("set.dpic") && err.contains("do not decode"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), written);

    // Another set: said, and the file now holds that set.
    let rules = root()
        .join("signatures/default.rules")
        .display()
        .to_string();
    let mut args = vec!["classify", "--format", "jsonl", "-q", "--sig", &rules];
    args.extend(["--compiled", &f]);
    args.extend(caps.iter().map(String::as_str));
    let out = dpi(&args);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compiled from other signatures"), "{err}");
    assert_ne!(std::fs::read(&file).unwrap(), written);
    let _ = std::fs::remove_dir_all(&dir);
}
