//! What every label-importer fuzz target checks, whatever the importer:
//!
//! - no panic, on any bytes;
//! - every record and every malformed line comes from a distinct line,
//!   numbered within the file, in file order;
//! - an incomplete import carries the records read, and names its line
//!   when it is about one;
//! - line ends do not matter: when the input holds no `\r`, the same bytes
//!   with CRLF or CR line ends give the same records, the same malformed
//!   lines and the same kind of error at the same line.

use std::path::Path;

/// dpi-train's label importers, compiled from its source.
#[path = "../../src/labels/mod.rs"]
#[allow(dead_code)]
pub mod labels;

use labels::{import_bytes, ImportError, LabelSource, NameRegistry, ParsedLabels};

/// What an import gave: the records (complete or not) and, for an error,
/// whether it is an incomplete import and its line.
type Outcome<'a> = (Option<&'a ParsedLabels>, Option<(bool, Option<usize>)>);

fn summary(r: &Result<ParsedLabels, ImportError>) -> Outcome<'_> {
    match r {
        Ok(p) => (Some(p), None),
        Err(e) => (e.partial(), Some((e.is_incomplete(), e.line()))),
    }
}

fn check_lines(p: &ParsedLabels, data: &[u8]) {
    let lines = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
    let mut last = 0;
    for r in &p.records {
        assert!(r.line > last, "records in file order, one per line");
        assert!(r.line <= lines, "line {} of a file of {lines} lines", r.line);
        last = r.line;
    }
    let mut last = 0;
    for m in &p.malformed {
        assert!(m.line > last && m.line <= lines);
        assert!(p.records.iter().all(|r| r.line != m.line));
        last = m.line;
    }
}

/// The built-in name registry, read once.
fn registry() -> &'static NameRegistry {
    static R: std::sync::OnceLock<NameRegistry> = std::sync::OnceLock::new();
    R.get_or_init(NameRegistry::builtin)
}

/// Runs the checks for `source` on `data`.
pub fn check(source: LabelSource, data: &[u8]) {
    let registry = registry();
    let path = Path::new("fuzz.pcap.txt");
    let first = import_bytes(source, path, data, registry);
    let (parsed, error) = summary(&first);
    if let Some(p) = parsed {
        check_lines(p, data);
    }
    if let Some((true, _)) = error {
        assert!(parsed.is_some(), "an incomplete import keeps what it read");
    }
    if data.contains(&b'\r') {
        return;
    }
    for end in [&b"\r\n"[..], b"\r"] {
        let other: Vec<u8> = data
            .iter()
            .flat_map(|&b| if b == b'\n' { end.to_vec() } else { vec![b] })
            .collect();
        let again = import_bytes(source, path, &other, registry);
        let (p2, e2) = summary(&again);
        assert_eq!(error, e2, "same outcome with {end:?} line ends");
        match (parsed, p2) {
            (Some(a), Some(b)) => {
                assert_eq!(a.records, b.records, "same records with {end:?} line ends");
                assert_eq!(a.malformed, b.malformed);
            }
            (None, None) => {}
            _ => panic!("records with one line end and not the other"),
        }
    }
}
