//! The README's sample output is what the command prints: the block between
//! `<!-- figures:sample-output -->` markers holds `$ dpi ...` lines, each
//! followed by its output, and this test runs each command from the
//! repository root and compares (JSON lines as values, so spacing aside).
//! `python3 benches/readme_figures.py --write sample-output` rewrites it.

use std::path::Path;
use std::process::Command;

const BEGIN: &str = "<!-- figures:sample-output -->";
const END: &str = "<!-- /figures:sample-output -->";

/// The `(command line, expected output)` pairs of the block.
fn commands(readme: &str) -> Vec<(String, String)> {
    let start = readme
        .find(BEGIN)
        .expect("README has the sample-output block")
        + BEGIN.len();
    let end = readme[start..].find(END).expect("the block is closed") + start;
    let mut out: Vec<(String, String)> = Vec::new();
    for line in readme[start..end].lines() {
        if line.starts_with("```") {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

#[test]
fn readme_sample_output_is_what_dpi_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let cmds = commands(&readme);
    assert_eq!(cmds.len(), 2, "a table and a JSON line: {cmds:?}");
    for (cmd, expected) in cmds {
        let (cmd, head) = match cmd.split_once(" | head -") {
            Some((c, n)) => (c.to_string(), Some(n.parse::<usize>().unwrap())),
            None => (cmd, None),
        };
        let mut words = cmd.split_whitespace();
        assert_eq!(words.next(), Some("dpi"), "{cmd}");
        let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
            .args(words)
            .arg("-q")
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        let got: Vec<&str> = match head {
            Some(n) => got.lines().take(n).collect(),
            None => got.lines().collect(),
        };
        if cmd.contains("jsonl") {
            let want: Vec<serde_json::Value> = expected
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let got: Vec<serde_json::Value> = got
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(got, want, "{cmd}: the README shows other records");
        } else {
            let got: Vec<&str> = got.iter().map(|l| l.trim_end()).collect();
            let want: Vec<&str> = expected.lines().map(|l| l.trim_end()).collect();
            assert_eq!(got, want, "{cmd}: the README shows another table");
        }
    }
}
