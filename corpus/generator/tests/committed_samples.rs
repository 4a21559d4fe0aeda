//! The files committed under `corpus/samples/` are exactly what the generator
//! writes, so they can never drift from the code and the manifest.

use std::path::PathBuf;

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

#[test]
fn committed_samples_match_the_generator() {
    let files = dpi_samples::generate();
    let problems = dpi_samples::check(&samples_dir(), &files).expect("samples directory readable");
    assert!(
        problems.is_empty(),
        "corpus/samples is out of date (run `cargo run -p dpi-samples -- corpus/samples`):\n{}",
        problems.join("\n")
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(dpi_samples::generate(), dpi_samples::generate());
}

#[test]
fn samples_stay_small_and_open_with_the_right_magic() {
    let files = dpi_samples::generate();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert!(total < 200 * 1024, "samples total {total} bytes");
    let magic = |name: &str| -> [u8; 4] {
        let (_, b) = files.iter().find(|(n, _)| n == name).expect(name);
        [b[0], b[1], b[2], b[3]]
    };
    assert_eq!(magic("web.pcap"), [0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(magic("vlan-ipv6.pcap"), [0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(magic("mixed-be-ns.pcap"), [0xa1, 0xb2, 0x3c, 0x4d]);
    assert_eq!(magic("tunnels.pcap"), [0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(magic("dns.pcapng"), [0x0a, 0x0d, 0x0d, 0x0a]);
    assert_eq!(magic("tcp-services.pcapng"), [0x0a, 0x0d, 0x0d, 0x0a]);
}

#[test]
fn manifest_lists_every_capture() {
    let files = dpi_samples::generate();
    let (_, manifest) = files
        .iter()
        .find(|(n, _)| n == dpi_samples::MANIFEST)
        .expect("manifest generated");
    let text = String::from_utf8(manifest.clone()).expect("utf-8");
    for (name, _) in files.iter().filter(|(n, _)| n != dpi_samples::MANIFEST) {
        assert!(
            text.contains(&format!("## `{name}`")),
            "{name} missing from manifest"
        );
    }
}

#[test]
fn check_reports_differences_missing_and_extra_files() {
    let dir = std::env::temp_dir().join(format!("dpi-samples-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = vec![
        ("a.pcap".to_string(), vec![1, 2, 3]),
        ("b.pcap".to_string(), vec![4]),
        ("c.pcap".to_string(), vec![5]),
    ];
    std::fs::write(dir.join("a.pcap"), [1, 2, 3]).unwrap();
    std::fs::write(dir.join("b.pcap"), [9]).unwrap();
    std::fs::write(dir.join("stray.pcap"), [0]).unwrap();
    let problems = dpi_samples::check(&dir, &files).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].starts_with("b.pcap"));
    assert!(problems[1].starts_with("c.pcap"));
    assert!(problems[2].starts_with("stray.pcap"));
}
