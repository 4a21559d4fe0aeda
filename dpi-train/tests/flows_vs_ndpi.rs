//! Our flows against nDPI's over the shared corpus: every capture of
//! `$DPI_CORPUS/ndpi/pcap` is read by the flow meter and its flows compared
//! with the flow lines of `$DPI_CORPUS/ndpi/expected/<capture>.out`.
//!
//! Key: tcp, udp or other; the two endpoints, direction ignored; for "other"
//! transports ports are left out (nDPI writes 0 for them, SCTP included).
//! At least 98% of nDPI's flows must be among ours, and at most 3% of ours
//! may be absent from nDPI's, both counted over the whole corpus.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use dpi_core::{FlowConfig, FlowMeter};
use dpi_train::labels::ndpi_out;

type Key = (u8, (IpAddr, u16), (IpAddr, u16));

fn key(transport: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    let class = match transport {
        6 | 17 => transport,
        _ => 0,
    };
    let (a, b) = if class == 0 {
        ((a.0, 0), (b.0, 0))
    } else {
        (a, b)
    };
    if a <= b {
        (class, a, b)
    } else {
        (class, b, a)
    }
}

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("DPI_CORPUS") {
        None => {
            eprintln!("DPI_CORPUS is not set: the corpus comparison is skipped");
            None
        }
        Some(p) => {
            let p = PathBuf::from(p).join("ndpi");
            assert!(
                p.join("pcap").is_dir() && p.join("expected").is_dir(),
                "DPI_CORPUS is set but {} has no pcap/ and expected/",
                p.display()
            );
            Some(p)
        }
    }
}

/// Multiset difference count: how many of `a`'s keys have no partner in `b`.
fn missing(a: &HashMap<Key, usize>, b: &HashMap<Key, usize>) -> usize {
    a.iter()
        .map(|(k, n)| n.saturating_sub(b.get(k).copied().unwrap_or(0)))
        .sum()
}

fn count(keys: impl Iterator<Item = Key>) -> HashMap<Key, usize> {
    let mut m = HashMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn our_flows_match_ndpi_flows() {
    let Some(root) = corpus() else { return };
    let (found, extra) = compare(&root, FlowConfig::default(), true);
    assert!(
        found >= 0.98,
        "only {:.2}% of nDPI's flows found",
        100.0 * found
    );
    assert!(
        extra <= 0.03,
        "{:.2}% of our flows are not nDPI's",
        100.0 * extra
    );
    // The same without timeouts, to show how many differences the idle
    // timeout alone makes (nDPI's reader does not split flows on idle gaps).
    let endless = FlowConfig {
        idle_timeout: std::time::Duration::from_secs(u32::MAX as u64),
        active_timeout: std::time::Duration::from_secs(u32::MAX as u64),
        ..FlowConfig::default()
    };
    println!("--- without idle and active timeouts:");
    compare(&root, endless, false);
}

/// Compares our flows under `cfg` with nDPI's; prints and returns the share
/// of nDPI's flows found and the share of ours absent from nDPI's.
fn compare(root: &Path, cfg: FlowConfig, details: bool) -> (f64, f64) {
    let mut captures: Vec<PathBuf> = std::fs::read_dir(root.join("pcap"))
        .expect("readable pcap folder")
        .map(|e| e.expect("directory entry").path())
        .collect();
    captures.sort();
    assert!(!captures.is_empty(), "no captures in {}", root.display());

    let (mut theirs_total, mut ours_total, mut theirs_missing, mut ours_extra) = (0, 0, 0, 0);
    let mut worst: Vec<(usize, usize, String)> = Vec::new();
    let mut failed_files = Vec::new();
    for cap in &captures {
        let name = cap.file_name().unwrap().to_string_lossy().to_string();
        let out = root.join("expected").join(format!("{name}.out"));
        let theirs = ndpi_out::parse_file(Path::new(&out)).expect("readable .out");
        let theirs = count(
            theirs
                .records
                .iter()
                .map(|r| key(r.transport, (r.src_ip, r.src_port), (r.dst_ip, r.dst_port))),
        );
        let mut ours = Vec::new();
        let mut meter = FlowMeter::new(cfg.clone());
        let summary = meter.read_file(cap, &mut |f| ours.push(f));
        meter.flush(&mut |f| ours.push(f));
        if let Some(e) = summary.error {
            failed_files.push(e.to_string());
        }
        let ours = count(ours.iter().map(|f| {
            key(
                f.protocol,
                (f.client, f.client_port),
                (f.server, f.server_port),
            )
        }));
        let m = missing(&theirs, &ours);
        let x = missing(&ours, &theirs);
        theirs_total += theirs.values().sum::<usize>();
        ours_total += ours.values().sum::<usize>();
        theirs_missing += m;
        ours_extra += x;
        if m + x > 0 {
            worst.push((m, x, name));
        }
    }
    worst.sort_by_key(|w| std::cmp::Reverse(w.0 + w.1));
    let found = 1.0 - theirs_missing as f64 / theirs_total as f64;
    let extra = ours_extra as f64 / ours_total as f64;
    println!(
        "captures: {}, failed with an error: {}",
        captures.len(),
        failed_files.len()
    );
    for e in &failed_files {
        println!("  {e}");
    }
    println!(
        "nDPI flows: {theirs_total}, found among ours: {:.2}% ({theirs_missing} missing)",
        100.0 * found
    );
    println!(
        "our flows: {ours_total}, absent from nDPI's: {:.2}% ({ours_extra})",
        100.0 * extra
    );
    println!("captures with differences (nDPI flows missing, our flows extra):");
    for (m, x, n) in worst.iter().take(if details { 40 } else { 10 }) {
        println!("  {n}: {m} missing, {x} extra");
    }
    (found, extra)
}

/// Every capture of both corpora is read without a panic; failures are per
/// file, with the reason (printed), and the flows before them are kept.
#[test]
fn every_corpus_capture_is_read_or_fails_cleanly() {
    let Some(ndpi) = corpus() else { return };
    let root = ndpi.parent().unwrap().to_path_buf();
    let mut files = 0;
    let mut failed = Vec::new();
    for sub in ["ndpi", "zeek"] {
        let dir = root.join(sub).join("pcap");
        assert!(dir.is_dir(), "{} is missing", dir.display());
        let mut caps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        caps.sort();
        for cap in caps {
            files += 1;
            let mut meter = FlowMeter::new(FlowConfig::default());
            let mut n = 0usize;
            let summary = meter.read_file(&cap, &mut |_| n += 1);
            meter.flush(&mut |_| n += 1);
            if let Some(e) = summary.error {
                assert_eq!(e.path(), Some(cap.as_path()), "the error names the file");
                failed.push(format!("{e} ({n} flows kept)"));
            }
        }
    }
    println!("{files} captures read, {} failed:", failed.len());
    for f in &failed {
        println!("  {f}");
    }
    assert!(files > 1000);
}
