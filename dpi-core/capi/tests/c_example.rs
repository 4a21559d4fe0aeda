//! The C example, `examples/labels.c`, compiled with the system's C
//! compiler against the static library and run over the sample captures:
//! it prints the labels `dpi classify` gives (through the live-flow
//! events) for every flow of the file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The directory of the static library cargo built next to this test
/// (`target/<profile>/deps`, or the profile directory above it).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let a = dir.join("libdpi.a");
        if a.is_file() {
            return a;
        }
    }
    // cargo may name it with the crate's hash.
    let mut found: Vec<PathBuf> = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("libdpi-") && n.ends_with(".a")
        })
        .collect();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found
        .pop()
        .unwrap_or_else(|| panic!("no libdpi.a next to {}", exe.display()))
}

/// The example, compiled once per test run.
fn example() -> PathBuf {
    static EXAMPLE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXAMPLE.get_or_init(compile).clone()
}

fn compile() -> PathBuf {
    let out = std::env::temp_dir().join(format!("dpi-labels-{}", std::process::id()));
    let src = root().join("dpi-core/capi/examples/labels.c");
    let include = root().join("dpi-core/capi/include");
    let o = Command::new("cc")
        .args([
            "-std=c99",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-I",
        ])
        .arg(&include)
        .arg(&src)
        .arg(library())
        .args(["-lpthread", "-ldl", "-lm", "-lrt", "-o"])
        .arg(&out)
        .output()
        .expect("run cc");
    assert!(
        o.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn labels(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(example())
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The (client, server, protocol) of each flow the Rust library labels
/// in `capture` through the same events.
fn rust_labels(capture: &str) -> Vec<(String, String, String)> {
    use dpi_core::{Classifier, FlowConfig, FlowEvent, FlowMeter, Labeller};
    let classifier = Classifier::builtin();
    let mut labeller = Labeller::new(&classifier);
    let mut meter = FlowMeter::new(FlowConfig::classification());
    let mut reader =
        dpi_core::CaptureReader::new(std::fs::File::open(root().join(capture)).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut on = |e: FlowEvent<'_>| {
        if let FlowEvent::Ended {
            flow,
            classification,
        } = e
        {
            let ep = |ip: std::net::IpAddr, port: u16| match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                v4 => format!("{v4}:{port}"),
            };
            out.push((
                ep(flow.client, flow.client_port),
                ep(flow.server, flow.server_port),
                classification.protocol.to_string(),
            ));
        }
    };
    while let Some(f) = reader.next_frame().unwrap() {
        let (link, ts, len) = (f.link_type, f.ts, f.orig_len);
        meter.push_frame_events(link, ts, f.data, len, &mut labeller, &mut on);
    }
    meter.flush_events(&mut labeller, &mut on);
    out.sort();
    out
}

#[test]
fn the_c_example_prints_the_labels_of_a_sample() {
    for capture in [
        "corpus/samples/web.pcap",
        "corpus/samples/mixed-be-ns.pcap",
        "corpus/samples/vlan-ipv6.pcap",
    ] {
        let (code, stdout, stderr) = labels(&[capture]);
        assert_eq!(code, 0, "{capture}: {stderr}");
        let mut got: Vec<(String, String, String)> = stdout
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 6, "{l}");
                (f[1].to_string(), f[2].to_string(), f[3].to_string())
            })
            .collect();
        got.sort();
        let want = rust_labels(capture);
        assert!(!want.is_empty());
        assert_eq!(got, want, "{capture}");
        assert!(
            stderr.contains(&format!("{} flow(s)", want.len())),
            "{stderr}"
        );
    }
    let (_, web, _) = labels(&["corpus/samples/web.pcap"]);
    for protocol in ["HTTP", "TLS"] {
        assert!(
            web.lines().any(|l| l.split(' ').nth(3) == Some(protocol)),
            "no {protocol} flow in\n{web}"
        );
    }
}

#[test]
fn signature_files_and_their_errors() {
    let dir = std::env::temp_dir().join(format!("dpi-capi-sigs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("http.sig");
    std::fs::write(
        &good,
        "Service: http tcp port 80 n = 1 src = \"474554202F\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = labels(&["corpus/samples/web.pcap", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.lines().any(|l| l.contains(" http ")), "{stdout}");
    let bad = dir.join("bad.sig");
    std::fs::write(&bad, "Service: nonsense without a transport\n").unwrap();
    let (code, _, stderr) = labels(&["corpus/samples/web.pcap", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("bad.sig"), "{stderr}");
    let (code, _, stderr) = labels(&["corpus/samples/no-such.pcap"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no-such.pcap"), "{stderr}");
    let (code, _, _) = labels(&[]);
    assert_eq!(code, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
