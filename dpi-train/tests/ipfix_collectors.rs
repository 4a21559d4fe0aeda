//! `dpi classify --ipfix` against real collectors: tshark captures the
//! loopback while nfdump's `nfcapd` listens on the port. Every flow of
//! the JSON lines must come out of tshark's IPFIX decoder as a data record
//! with the same 5-tuple, its applicationName and classification engine id
//! 13, and `nfdump` must list every flow that `nfcapd` stored.
//!
//! Needs `DPI_CORPUS` (60 captures of `ndpi/pcap`), tshark (with the
//! right to capture on `lo`), `nfcapd` and `nfdump`; without the tools the
//! test is skipped with a note, or fails when `DPI_REQUIRE_TOOLS=1`.
//!
//! ```sh
//! DPI_CORPUS=../shared/corpus cargo test --release -p dpi-train --test ipfix_collectors -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// (transport number, source, source port, destination, destination port).
type Key = (u8, IpAddr, u16, IpAddr, u16);

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Starts `cmd` and waits until a line of its standard error or output
/// contains `ready` (at most 30 s).
fn start(mut cmd: Command, ready: &'static str) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    for pipe in [
        Box::new(out) as Box<dyn std::io::Read + Send>,
        Box::new(err) as Box<dyn std::io::Read + Send>,
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.contains(ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{cmd:?} did not print `{ready}` within 30 s"));
    child
}

/// Sends `signal` to `child` and waits for it to end.
fn stop(mut child: Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// The flows of the JSON lines: key and applicationName, counted.
fn json_flows(jsonl: &[u8]) -> BTreeMap<(Key, String), u32> {
    let mut m = BTreeMap::new();
    for line in jsonl.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let port = |k: &str| v[k].as_u64().unwrap() as u16;
        let key = (
            dpi_train::record::transport_number(&s("transport")).unwrap(),
            s("src_ip").parse().unwrap(),
            port("src_port"),
            s("dst_ip").parse().unwrap(),
            port("dst_port"),
        );
        let name = match v["app"].as_str() {
            Some(app) => format!("{}.{app}", s("protocol")),
            None => s("protocol"),
        };
        *m.entry((key, name)).or_default() += 1;
    }
    m
}

/// Every data record tshark decodes: key, applicationName and engine id.
fn tshark_records(pcap: &Path, port: u16) -> Vec<(Key, String, String)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={port},cflow"), "-T", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut v = Vec::new();
    for p in &packets {
        let Some(cflow) = p["_source"]["layers"]["cflow"].as_object() else {
            continue;
        };
        for (name, set) in cflow {
            if !name.starts_with("Set ") {
                continue;
            }
            let Some(set) = set.as_object() else { continue };
            for (name, rec) in set {
                if !name.starts_with("Flow ") {
                    continue;
                }
                let s = |k: &str| rec[k].as_str().map(str::to_string);
                let ip = |a: &str, b: &str| -> IpAddr {
                    let t = s(a).or_else(|| s(b)).unwrap();
                    let ip: IpAddr = t.parse().unwrap();
                    match ip {
                        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
                        v4 => v4,
                    }
                };
                let n = |k: &str| s(k).unwrap().parse::<u16>().unwrap();
                let key = (
                    s("cflow.protocol").unwrap().parse().unwrap(),
                    ip("cflow.srcaddr", "cflow.srcaddrv6"),
                    n("cflow.srcport"),
                    ip("cflow.dstaddr", "cflow.dstaddrv6"),
                    n("cflow.dstport"),
                );
                v.push((
                    key,
                    s("cflow.appl_name").unwrap_or_default(),
                    s("cflow.appl_id.classification_engine_id").unwrap_or_default(),
                ));
            }
        }
    }
    v
}

/// The flows `nfdump` lists from the files of `dir`.
fn nfdump_flows(dir: &Path) -> BTreeMap<Key, u32> {
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(dir)
        .args(["-q", "-N", "-o", "fmt:%pr|%sa|%sp|%da|%dp", "-6"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        if f.len() != 5 {
            continue;
        }
        // -N: numbers; ICMP's destination port as type.code.
        let port = |t: &str| -> u16 {
            match t.split_once('.') {
                Some((ty, code)) => ty.parse::<u16>().unwrap() << 8 | code.parse::<u16>().unwrap(),
                None => t.parse().unwrap(),
            }
        };
        let key = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            port(f[2]),
            f[3].parse().unwrap(),
            port(f[4]),
        );
        *m.entry(key).or_default() += 1;
    }
    m
}

#[test]
fn tshark_and_nfcapd_receive_every_flow() {
    let Some(root) = std::env::var_os("DPI_CORPUS").map(PathBuf::from) else {
        eprintln!("DPI_CORPUS is not set: the IPFIX collector test is skipped");
        return;
    };
    let tools = have("tshark", "-v") && have("nfcapd", "-V") && have("nfdump", "-V");
    if !tools {
        assert!(
            std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "DPI_REQUIRE_TOOLS=1 but tshark, nfcapd or nfdump is not installed"
        );
        eprintln!("tshark, nfcapd or nfdump is not installed: the IPFIX collector test is skipped");
        return;
    }
    let dir = root.join("ndpi/pcap");
    let mut caps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    caps.sort();
    caps.truncate(60);
    assert_eq!(
        caps.len(),
        60,
        "fewer than 60 captures in {}",
        dir.display()
    );

    // IPFIX goes over UDP: a datagram the kernel drops under load (at a
    // collector's socket or tshark's capture) loses its records, so a
    // shortfall is tried again; a fault of ours shows in every attempt.
    let mut failures = Vec::new();
    for attempt in 0..3 {
        match exchange(&caps, attempt) {
            Ok(()) => return,
            Err(e) => {
                eprintln!("attempt {attempt}: {e}");
                failures.push(e);
            }
        }
    }
    panic!("every attempt lost records: {failures:#?}");
}

/// Exports the flows of `caps` to nfcapd and to a socket tshark watches,
/// then compares what each received with the JSON lines written.
fn exchange(caps: &[PathBuf], attempt: u32) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("dpi-ipfix-{}-{attempt}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let flows_dir = work.join("nfcapd");
    std::fs::create_dir_all(&flows_dir).unwrap();
    let pcap = work.join("lo.pcapng");
    // A port free now; nfcapd binds it next.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let mut t = Command::new("tshark");
    // A capture buffer of 64 MiB: the export is a burst of datagrams.
    t.args([
        "-i",
        "lo",
        "-B",
        "64",
        "-f",
        &format!("udp port {port}"),
        "-w",
    ])
    .arg(&pcap);
    let tshark = start(t, "Capturing on");
    // dumpcap reports its capture before it holds the first packet: a
    // datagram sent at once (the first, with the templates) can be missed.
    std::thread::sleep(Duration::from_secs(1));
    let mut n = Command::new("nfcapd");
    n.args([
        "-p",
        &port.to_string(),
        "-b",
        "127.0.0.1",
        "-B",
        "8388608",
        "-w",
    ])
    .arg(&flows_dir);
    let nfcapd = start(n, "Startup");

    let out = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["classify", "-q", "--format", "jsonl", "--ipfix"])
        .arg(format!("127.0.0.1:{port}"))
        .args(caps)
        .output()
        .unwrap();
    // The last datagrams reach both collectors.
    std::thread::sleep(Duration::from_secs(2));
    stop(tshark, "-INT");
    stop(nfcapd, "-TERM");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = json_flows(&out.stdout);
    let written: u32 = ours.values().sum();
    assert!(written > 1000, "{written} flows only");

    let records = tshark_records(&pcap, port);
    let mut seen: BTreeMap<(Key, String), u32> = BTreeMap::new();
    for (key, name, engine) in &records {
        assert!(
            !name.is_empty(),
            "{key:?}: a record without applicationName"
        );
        assert_eq!(engine, "13", "{key:?}: classification engine id");
        *seen.entry((*key, name.clone())).or_default() += 1;
    }
    for (k, n) in &ours {
        let got = seen.get(k).copied().unwrap_or(0);
        if got < *n {
            return Err(format!(
                "{k:?}: {n} flow(s) written, {got} record(s) decoded by tshark"
            ));
        }
    }

    let stored = nfdump_flows(&flows_dir);
    let mut by_key: BTreeMap<Key, u32> = BTreeMap::new();
    for ((key, _), n) in &ours {
        *by_key.entry(*key).or_default() += n;
    }
    if stored != by_key {
        return Err(format!(
            "nfdump's flows differ from the JSON lines': {stored:?} against {by_key:?}"
        ));
    }
    eprintln!(
        "{written} flows written; tshark decoded {} records, nfdump listed {}",
        records.len(),
        stored.values().sum::<u32>()
    );
    std::fs::remove_dir_all(&work).unwrap();
    Ok(())
}
