//! Hostile signature files and captures, built here and handed to the `dpi`
//! command: each finishes in at most 10 s and 200 MB (measured with
//! `/usr/bin/time` around the child process), and either loads or fails
//! with exit status 1 and an error of at most 10 kB that names the file and
//! the line.
//!
//! Without `/usr/bin/time` the limits are not measured and the test says so
//! (with `DPI_REQUIRE_TOOLS=1` that is a failure).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Most seconds and kilobytes a hostile input may cost the `dpi` command.
const MAX_SECONDS: f64 = 10.0;
const MAX_KB: u64 = 200 * 1024;
/// Longest error report, in bytes.
const MAX_ERROR_BYTES: usize = 10 * 1024;

const TIME: &str = "/usr/bin/time";

struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    /// Wall seconds and peak resident kilobytes, when measured.
    cost: Option<(f64, u64)>,
}

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("dpi-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// Runs `dpi ARGS` under `/usr/bin/time` when it is there.
fn dpi(args: &[&str], work: &Path) -> Outcome {
    let measured = Path::new(TIME).is_file();
    if !measured {
        assert!(
            std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{TIME} is missing (Debian package `time`) and DPI_REQUIRE_TOOLS=1"
        );
        eprintln!("note: {TIME} is missing; time and memory are not measured");
    }
    let report = work.join("time.txt");
    let mut cmd = if measured {
        let mut c = Command::new(TIME);
        c.arg("-f").arg("%e %M").arg("-o").arg(&report);
        c.arg(env!("CARGO_BIN_EXE_dpi"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_dpi"))
    };
    let out = cmd.args(args).output().unwrap();
    let cost = measured.then(|| {
        let text = std::fs::read_to_string(&report).unwrap();
        let last = text.lines().last().unwrap_or_default().to_string();
        let mut it = last.split_whitespace();
        let secs: f64 = it.next().and_then(|s| s.parse().ok()).unwrap();
        let kb: u64 = it.next().and_then(|s| s.parse().ok()).unwrap();
        (secs, kb)
    });
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        cost,
    }
}

fn within_limits(what: &str, o: &Outcome) {
    if let Some((secs, kb)) = o.cost {
        eprintln!("{what}: {secs:.2} s, {} MB, exit {:?}", kb / 1024, o.status);
        assert!(secs <= MAX_SECONDS, "{what}: {secs} s");
        assert!(kb <= MAX_KB, "{what}: {kb} kB");
    }
}

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus/samples")
        .join(name)
        .display()
        .to_string()
}

/// A deterministic run of letters and digits.
fn letters(n: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

fn rule(body: &str) -> Vec<u8> {
    format!("# hostile\nrule big\n  protocol X\n  transport tcp\n{body}\nend\n").into_bytes()
}

/// Classifies the web sample with the signature file `bytes`; the command
/// must either load it or fail with status 1 and a short error naming
/// `FILE:LINE`.
fn classify_with(name: &str, bytes: &[u8]) -> (Outcome, String) {
    let d = dir(name);
    let file = d.join(format!("{name}.rules"));
    std::fs::write(&file, bytes).unwrap();
    let file = file.display().to_string();
    let o = dpi(
        &[
            "classify",
            "-q",
            "--format",
            "jsonl",
            "--sig",
            &file,
            &sample("web.pcap"),
        ],
        &d,
    );
    within_limits(name, &o);
    match o.status {
        Some(0) => {}
        Some(1) => {
            assert!(
                o.stderr.len() <= MAX_ERROR_BYTES,
                "{name}: {} bytes of errors",
                o.stderr.len()
            );
            assert!(
                o.stderr.contains(&format!("{file}:")),
                "{name}: {}",
                o.stderr
            );
            assert!(
                o.stdout.is_empty(),
                "{name}: nothing is classified with a bad file"
            );
        }
        other => panic!("{name}: exit status {other:?}: {}", o.stderr),
    }
    (o, file)
}

#[test]
fn signature_files_from_the_table() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "literal-100k",
            rule(&format!("  c2s \"{}\"", "A".repeat(100_000))),
            ":5:7: expected a literal of at most 4096 bytes",
        ),
        (
            "literal-1m",
            rule(&format!("  c2s \"{}\"", letters(1_000_000, 1))),
            ":5:7: expected a literal of at most 4096 bytes",
        ),
        (
            "literal-8m",
            rule(&format!("  c2s \"{}\"", letters(8_000_000, 2))),
            ":5:7: expected a literal of at most 4096 bytes",
        ),
        (
            "regex-4m",
            rule(&format!(
                "  c2s regex \"{}{}\"",
                "a|(".repeat(1_000_000),
                ")".repeat(1_000_000)
            )),
            ":5:13: expected a regex of at most 4096 bytes",
        ),
        (
            "regex-unclosed",
            rule("  c2s regex \"(ab\""),
            ":5:14: expected a valid regex: unclosed group",
        ),
        (
            "regex-nested",
            rule(&format!(
                "  c2s regex \"{}a{}\"",
                "(".repeat(1000),
                ")".repeat(1000)
            )),
            ":5:78: expected a valid regex: exceed the maximum number of nested",
        ),
        (
            "regex-huge",
            rule("  c2s regex \"(?u)\\w{1000}\""),
            ":5:13: expected a valid regex: the compiled regex exceeds the limit",
        ),
        (
            "masked-100k",
            rule(&format!("  c2s at 0 hex \"{}\"", "4? ".repeat(100_000))),
            ":5:16: expected masked bytes of at most 4096 bytes",
        ),
        (
            "utf8-line-3",
            b"# one\n# two\n# th\xffree\nrule a\n  protocol A\nend\n".to_vec(),
            ":3:5: expected UTF-8 text",
        ),
    ];
    for (name, bytes, want) in cases {
        let (o, file) = classify_with(name, &bytes);
        assert_eq!(o.status, Some(1), "{name}: {}", o.stderr);
        assert!(
            o.stderr.contains(&format!("{file}{want}")),
            "{name}: {}\nshould contain {file}{want}",
            o.stderr
        );
    }
}

#[test]
fn many_bad_lines_print_a_bounded_report() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "rule r{i}\n  protocol X\n  c2s at 0 hex \"zz{}\"\nend\n",
            "0".repeat(200)
        ));
    }
    let (o, file) = classify_with("many-errors", text.as_bytes());
    assert_eq!(o.status, Some(1));
    assert!(
        o.stderr
            .contains(&format!("20000 errors in {file}; nothing was loaded")),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("... and 19980 more errors"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_set_at_the_pattern_byte_limit_compiles_within_the_bounds() {
    // 256 literals of 4 KiB of random letters: 1 MiB, the most a set may hold.
    let mut text = String::new();
    for i in 0..256 {
        text.push_str(&format!(
            "rule r{i}\n  protocol X{i}\n  c2s \"{}\"\nend\n",
            letters(4096, i + 10)
        ));
    }
    let (o, _) = classify_with("pattern-bytes-1m", text.as_bytes());
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    // One literal more is refused, at the rule that crosses the limit.
    text.push_str(&format!(
        "rule last\n  protocol Y\n  c2s \"{}\"\nend\n",
        letters(4096, 7)
    ));
    let (o, file) = classify_with("pattern-bytes-over", text.as_bytes());
    assert_eq!(o.status, Some(1));
    assert!(
        o.stderr.contains(&format!(
            "{file}:1027:7: expected at most 1048576 bytes of literal and masked patterns"
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn empty_files_load_with_a_warning() {
    for (name, text) in [
        ("empty", ""),
        ("comments-only", "# nothing here\n\n! nor here\n"),
    ] {
        let (o, file) = classify_with(name, text.as_bytes());
        assert_eq!(o.status, Some(0), "{}", o.stderr);
        assert!(
            o.stderr
                .contains(&format!("dpi: warning: {file} holds no signature")),
            "{}",
            o.stderr
        );
        assert!(o
            .stdout
            .lines()
            .all(|l| l.contains("\"protocol\":\"Unknown\"")));
    }
}

#[test]
fn cr_only_and_crlf_rule_files_label_as_lf_does() {
    let lf = "# Web rules.\nrule http\n  protocol HTTP\n  transport tcp\n  c2s at 0 \"GET \"\nend\n\n\
              rule tls\n  protocol TLS\n  transport tcp\n  c2s at 0 hex \"16 03 0? ?? ?? 01\"\nend\n";
    let mut outputs = Vec::new();
    for (name, end) in [("lf", "\n"), ("cr", "\r"), ("crlf", "\r\n")] {
        let d = dir(&format!("ends-{name}"));
        let file = d.join("web.rules");
        std::fs::write(&file, lf.replace('\n', end)).unwrap();
        let o = dpi(
            &[
                "classify",
                "-q",
                "--format",
                "jsonl",
                "--sig",
                &file.display().to_string(),
                &sample("web.pcap"),
            ],
            &d,
        );
        assert_eq!(o.status, Some(0), "{name}: {}", o.stderr);
        assert!(o.stderr.is_empty(), "{name}: {}", o.stderr);
        outputs.push(o.stdout.replace(&d.display().to_string(), "DIR"));
    }
    assert!(
        outputs[0].contains("\"protocol\":\"HTTP\"") && outputs[0].contains("\"protocol\":\"TLS\"")
    );
    assert_eq!(outputs[1], outputs[0], "CR-only line ends");
    assert_eq!(outputs[2], outputs[0], "CRLF line ends");
}

/// A pcapng section with one Ethernet interface whose `if_tsoffset` is
/// `offset`, and one UDP frame.
fn pcapng_with_tsoffset(offset: i64, shb_trailer: Option<u32>) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8], trailer: Option<u32>) {
        let len = 12 + body.len() as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&trailer.unwrap_or(len).to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&[0xff; 8]);
    block(&mut out, 0x0a0d_0d0a, &shb, shb_trailer);
    let mut idb = vec![1, 0, 0, 0, 0, 0, 4, 0];
    idb.extend_from_slice(&[14, 0, 8, 0]);
    idb.extend_from_slice(&offset.to_le_bytes());
    idb.extend_from_slice(&[0, 0, 0, 0]);
    block(&mut out, 1, &idb, None);
    let frame = dpi_core::testing::udp_ipv4_frame(
        [10, 0, 0, 1],
        1000,
        [10, 0, 0, 2],
        53,
        b"\x12\x34\x01\x00",
    );
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&1_000_000u32.to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&frame);
    epb.resize(epb.len().div_ceil(4) * 4, 0);
    block(&mut out, 6, &epb, None);
    out
}

#[test]
fn captures_with_lying_pcapng_fields_are_errors() {
    let d = dir("pcapng");
    let cases = [
        ("tsoffset.pcapng", pcapng_with_tsoffset(i64::MAX, None), "corrupt capture at byte offset 64: timestamp out of range on interface 0"),
        ("shb-trailer.pcapng", pcapng_with_tsoffset(0, Some(36)), "corrupt capture at byte offset 0: section header block: trailing block length 36 differs from its leading length 28"),
    ];
    for (name, bytes, want) in cases {
        let file = d.join(name);
        std::fs::write(&file, bytes).unwrap();
        let o = dpi(&["extract", &file.display().to_string()], &d);
        within_limits(name, &o);
        assert_eq!(o.status, Some(1), "{name}: {}", o.stderr);
        assert!(
            o.stderr.contains(&format!("{}: {want}", file.display())),
            "{name}: {}",
            o.stderr
        );
    }
    // The same capture with a sane offset reads, its timestamp shifted by it.
    let file = d.join("ok.pcapng");
    std::fs::write(&file, pcapng_with_tsoffset(1_700_000_000, None)).unwrap();
    let o = dpi(&["extract", "-q", &file.display().to_string()], &d);
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    assert!(
        o.stdout.contains("\"first_ts\":1700000001.0"),
        "{}",
        o.stdout
    );
}

/// A raw-IPv4 pcap (link type 228) of `n` first fragments of distinct UDP
/// datagrams from distinct clients, whose later fragments never come, then
/// `n` later fragments of other datagrams whose first fragments never came.
fn fragment_flood(n: u32) -> Vec<u8> {
    let mut header = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    header.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&228u32.to_le_bytes());
    let mut out = header;
    for i in 0..2 * n {
        let first = i < n;
        let mut p = vec![0x45, 0, 0, 44];
        p.extend_from_slice(&(i as u16).to_be_bytes());
        p.extend_from_slice(&if first { [0x20, 0] } else { [0, 100] });
        p.extend_from_slice(&[64, 17, 0, 0, 10]);
        p.extend_from_slice(&(i + 1).to_be_bytes()[1..]);
        p.extend_from_slice(&[192, 0, 2, 1]);
        p.extend_from_slice(&(1024 + (i % 60_000) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 53, 0, 200, 0, 0]);
        p.extend_from_slice(&[0x51; 16]);
        for v in [
            1_700_000_000 + i / 100_000,
            (i % 100_000) * 10,
            p.len() as u32,
            p.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&p);
    }
    out
}

#[test]
fn a_fragment_flood_is_counted_in_bounded_memory() {
    let d = dir("fragments");
    let file = d.join("flood.pcap");
    std::fs::write(&file, fragment_flood(500_000)).unwrap();
    let o = dpi(
        &[
            "extract",
            "-j",
            "1",
            "--format",
            "csv",
            &file.display().to_string(),
        ],
        &d,
    );
    within_limits("fragment flood", &o);
    assert_eq!(o.status, Some(0), "{}", o.stderr);
    // Header row plus one row per flow: the 1,024 datagrams admitted.
    assert_eq!(o.stdout.lines().count(), 1 + 1024, "{}", o.stderr);
    assert!(o.stderr.contains("500000 later fragments"), "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "1024 datagram(s) whose later fragments never came; 498976 first fragment(s) refused"
        ),
        "{}",
        o.stderr
    );
}
