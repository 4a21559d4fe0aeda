//! Host names against tshark's own fields on some corpus captures.
//!
//! For each capture, tshark prints per packet the TLS server name
//! (`tls.handshake.extensions_server_name`, which it also reads from the
//! QUIC Initial packets it decrypts), Google QUIC's `SNI` tag
//! (`gquic.tag.sni`), the HTTP `Host` (`http.host`) and the DNS, mDNS and
//! LLMNR query name (`dns.qry.name`) with the packet's endpoints. NetBIOS
//! name service flows (port 137) are left out: tshark prints their names
//! in another form (`nbns.name`, with the suffix). Each of our
//! flows whose `hostname` comes from the TLS, QUIC, HTTP or DNS dissector
//! must find its name among the values tshark printed for the same
//! 5-tuple, and each flow for which tshark printed a value must have one
//! from us. Needs `DPI_CORPUS`; without tshark the test is skipped with a
//! note, or fails when `DPI_REQUIRE_TOOLS=1`.
//!
//! ```sh
//! DPI_CORPUS=../shared/corpus cargo test --release -p dpi-train --test metadata_tshark -- --nocapture
//! ```

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use dpi_core::{FlowConfig, FlowMeter};
use dpi_train::commands::classify::{DEFAULT_BYTES, DEFAULT_HANDSHAKE_BYTES};

/// Captures with TLS, QUIC, HTTP and DNS flows of the nDPI corpus.
const CAPTURES: &[&str] = &[
    "443-chrome.pcap",
    "443-curl.pcap",
    "443-firefox.pcap",
    "443-git.pcap",
    "443-safari.pcap",
    "android.pcap",
    "dns.pcap",
    "dns_long_domainname.pcap",
    "http.pcapng",
    "http_ipv6.pcap",
    "http-lines-split.pcap",
    "quic.pcap",
    "quic-33.pcapng",
    "quic_t51.pcap",
    "quic-mvfst-22.pcap",
    "1kxun.pcap",
];

type Key = (u8, (IpAddr, u16), (IpAddr, u16));

fn key(proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// tshark's host names per 5-tuple.
fn tshark_names(cap: &PathBuf) -> HashMap<Key, BTreeSet<String>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .args([
            "-n",
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=f",
        ])
        .args([
            "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
        ])
        .args([
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
        ])
        .args([
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "http.host",
            "-e",
            "dns.qry.name",
        ])
        .args(["-e", "gquic.tag.sni"])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names: HashMap<Key, BTreeSet<String>> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 12 {
            continue;
        }
        let src = f[0].parse().or_else(|_| f[1].parse());
        let dst = f[2].parse().or_else(|_| f[3].parse());
        let (Ok(src), Ok(dst)) = (src, dst) else {
            continue;
        };
        let (proto, sp, dp) = if !f[4].is_empty() {
            (6, f[4], f[5])
        } else {
            (17, f[6], f[7])
        };
        let (Ok(sp), Ok(dp)) = (sp.parse::<u16>(), dp.parse::<u16>()) else {
            continue;
        };
        for v in &f[8..12] {
            if !v.is_empty() {
                names
                    .entry(key(proto, (src, sp), (dst, dp)))
                    .or_default()
                    .insert(v.to_ascii_lowercase());
            }
        }
    }
    names
}

#[test]
fn hostnames_agree_with_tshark() {
    let Some(root) = std::env::var_os("DPI_CORPUS").map(PathBuf::from) else {
        eprintln!("DPI_CORPUS is not set: the tshark comparison is skipped");
        return;
    };
    let dir = root.join("ndpi").join("pcap");
    assert!(
        dir.is_dir(),
        "DPI_CORPUS is set but {} is missing",
        dir.display()
    );
    if !tshark_available() {
        assert!(
            std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "DPI_REQUIRE_TOOLS=1 but tshark is not installed"
        );
        eprintln!("tshark is not installed: the tshark comparison is skipped");
        return;
    }
    let cfg = FlowConfig {
        payload_bytes: DEFAULT_BYTES.parse().expect("a number"),
        handshake_bytes: DEFAULT_HANDSHAKE_BYTES,
        ..FlowConfig::default()
    };
    let (mut ours_named, mut ours_agree, mut theirs_named, mut theirs_found) = (0, 0, 0, 0);
    for name in CAPTURES {
        let cap = dir.join(name);
        assert!(cap.is_file(), "{} is missing", cap.display());
        let theirs = tshark_names(&cap);
        let mut meter = FlowMeter::new(cfg.clone());
        let mut flows = Vec::new();
        meter.read_file(&cap, &mut |f| flows.push(f));
        meter.flush(&mut |f| flows.push(f));
        for f in &flows {
            let k = key(
                f.protocol,
                (f.client, f.client_port),
                (f.server, f.server_port),
            );
            let m = f.metadata();
            if f.client_port == 137 || f.server_port == 137 {
                continue;
            }
            let ours = m
                .hostname
                .as_deref()
                .filter(|_| matches!(m.dissector, Some("tls" | "quic" | "http" | "dns")))
                .map(str::to_ascii_lowercase);
            let tshark = theirs.get(&k);
            if let Some(t) = tshark {
                theirs_named += 1;
                if ours.is_some() {
                    theirs_found += 1;
                } else {
                    println!("{name}: tshark {t:?}, ours none ({k:?})");
                }
            }
            if let Some(o) = ours {
                ours_named += 1;
                // tshark's http.host keeps the port; ours drops it over TCP.
                let agree = tshark.is_some_and(|t| {
                    t.iter()
                        .any(|v| *v == o || dpi_core::protocols::http::host_without_port(v) == o)
                });
                if agree {
                    ours_agree += 1;
                } else {
                    println!("{name}: ours {o:?}, tshark {tshark:?} ({k:?})");
                }
            }
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    println!(
        "tshark: {ours_agree}/{ours_named} of our host names among tshark's for the flow ({:.2}%); {theirs_found}/{theirs_named} flows tshark names have one of ours ({:.2}%)",
        pct(ours_agree, ours_named),
        pct(theirs_found, theirs_named)
    );
    assert!(ours_named > 100, "too few flows compared: {ours_named}");
    assert!(pct(ours_agree, ours_named) >= 97.0);
    assert!(pct(theirs_found, theirs_named) >= 95.0);
}
