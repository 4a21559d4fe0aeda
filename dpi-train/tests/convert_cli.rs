//! `dpi convert --from ndpi-protos`: nDPI's protos.txt as dpi rules.

use std::process::Command;

use dpi_core::signature::{load, HostMatch, Transport};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dpi-convert-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn converts_ports_and_hosts_and_lists_what_it_leaves_out() {
    let d = dir("ok");
    let input = d.join("protos.txt");
    std::fs::write(
        &input,
        "# custom protocols\r\ntcp:81,tcp:8181,udp:81@HTTP\r\nhost:\"netflix.com\",host:\"*.nflxvideo.net\"@NetFlix=300\r\nip:8.248.73.247:443@AmazonPrime\r\n",
    )
    .unwrap();
    let out = d.join("out.rules");
    let o = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["convert", "--from", "ndpi-protos"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("protos.txt:4: left out `ip:8.248.73.247:443`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 port rules, 1 application rules; 1 items left out"),
        "{stderr}"
    );
    let set = load(&out).unwrap_or_else(|e| panic!("{e}"));
    let ports: Vec<(&str, Transport, bool)> = set
        .signatures
        .iter()
        .map(|s| (s.protocol.as_str(), s.transport, s.ports.contains(8181)))
        .collect();
    assert_eq!(
        ports,
        vec![
            ("HTTP", Transport::Tcp, true),
            ("HTTP", Transport::Udp, false)
        ]
    );
    assert_eq!(set.apps[0].app, "NetFlix");
    assert_eq!(
        set.apps[0].hostname,
        Some(HostMatch::Suffix(vec![
            "netflix.com".into(),
            "nflxvideo.net".into()
        ]))
    );
    // The converted rules classify: a port guess, and an application.
    let c = dpi_core::Classifier::new(&set).unwrap();
    let meta = dpi_core::Metadata {
        hostname: Some("occ-0-1.nflxvideo.net".into()),
        ..Default::default()
    };
    let got = c.classify_with_metadata(&dpi_core::FlowView::new(6, 8181), &meta);
    assert_eq!(
        (got.protocol.as_ref(), got.app.as_deref()),
        ("HTTP", Some("NetFlix"))
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_bad_line_refuses_the_file() {
    let d = dir("bad");
    let input = d.join("bad.txt");
    std::fs::write(&input, "tcp:81@HTTP\nhost:netflix.com@NetFlix\n").unwrap();
    let out = d.join("out.rules");
    let o = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["convert", "--from", "ndpi-protos"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.txt:2:6: expected a quoted host name"),
        "{stderr}"
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(&d).unwrap();
}
