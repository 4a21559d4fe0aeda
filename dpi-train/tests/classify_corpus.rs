//! `dpi classify --sig <argus std.sig>` over the whole nDPI capture corpus.
//!
//! Needs `DPI_CORPUS` (the shared corpus root). The argus reference
//! signatures come from `DPI_SIGREF`, else
//! `$DPI_CORPUS/../signatures-reference/argus-std.sig`. When `DPI_CORPUS`
//! is unset the test is skipped with a note; when it is set and anything is
//! missing, the test fails.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn argus_signatures_over_the_ndpi_corpus() {
    let Some(corpus) = std::env::var_os("DPI_CORPUS").map(PathBuf::from) else {
        eprintln!("note: DPI_CORPUS is not set; the corpus test is skipped");
        return;
    };
    let sigref = std::env::var_os("DPI_SIGREF")
        .map(PathBuf::from)
        .unwrap_or_else(|| corpus.join("../signatures-reference/argus-std.sig"));
    assert!(
        sigref.is_file(),
        "argus std.sig not found at {}",
        sigref.display()
    );
    let pcap_dir = corpus.join("ndpi/pcap");
    let mut captures: Vec<String> = std::fs::read_dir(&pcap_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", pcap_dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    captures.sort();
    assert!(
        !captures.is_empty(),
        "no captures in {}",
        pcap_dir.display()
    );

    let out_file =
        std::env::temp_dir().join(format!("dpi-classify-corpus-{}.csv", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["classify", "--no-metadata", "--format", "csv", "--sig"])
        .arg(&sigref)
        .arg("-o")
        .arg(&out_file)
        .args(&captures)
        .output()
        .expect("run dpi");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 1 means some capture files could not be read to the end (each
    // is reported); 2 would be a failure of the command itself.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "dpi classify failed ({:?}): {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let csv = std::fs::read_to_string(&out_file).unwrap();
    std::fs::remove_file(&out_file).ok();
    let mut lines = csv.lines();
    let header = lines.next().expect("a header");
    assert!(
        header.ends_with(",protocol,app,confidence,reason,hostname,alpn,ja4,ja4s,http_user_agent,http_url,dns_query_type,dns_answers,ssh_client,ssh_server"),
        "{header}"
    );
    let mut flows = 0usize;
    let mut by_signature = 0usize;
    for l in lines {
        flows += 1;
        // The protocol fields are last (empty with --no-metadata), after
        // the reason (a file:line) and the confidence.
        let fields = dpi_train::commands::classify::METADATA_COLUMNS.len();
        if l.rsplit(',').nth(fields + 1) == Some("signature") {
            by_signature += 1;
        }
    }
    eprintln!(
        "note: {} captures, {flows} flows, {by_signature} labelled by an argus signature",
        captures.len()
    );
    assert!(flows > 0);
    assert!(by_signature > 0);
}
