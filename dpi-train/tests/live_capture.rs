//! `dpi classify -i` and `dpi extract -i`: live capture on the loopback
//! interface with real sockets (an HTTP exchange over TCP, DNS-shaped
//! queries over UDP), ended by SIGINT or SIGTERM with every flow written
//! and exit status 0; the IPFIX export of live flows; and the errors for
//! an unknown interface and a bad filter.
//!
//! Capturing needs root (or CAP_NET_RAW and CAP_NET_ADMIN). Without it
//! the capture tests print why and pass, unless `DPI_REQUIRE_TOOLS` is
//! set (as in CI, which runs as root): then they fail.

#![cfg(feature = "live")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn dpi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpi"))
}

/// A running capture: its standard error read line by line in a thread.
struct Capture {
    child: Child,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// Starts `dpi ARGS` and waits until it says it captures. `None` (after
/// printing why) when it cannot capture here and the tests may skip.
fn start(args: &[&str]) -> Option<Capture> {
    let mut child = dpi()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpi");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                let ready = line.contains("capturing on");
                seen.push(line);
                if ready {
                    // libpcap is reading once the message is out; give
                    // the kernel's ring a moment.
                    std::thread::sleep(Duration::from_millis(300));
                    return Some(Capture {
                        child,
                        stderr: rx,
                        seen,
                    });
                }
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                let why = seen.join("\n");
                if std::env::var_os("DPI_REQUIRE_TOOLS").is_some() {
                    panic!("dpi {args:?} did not start capturing ({status}):\n{why}");
                }
                eprintln!("skipped: cannot capture here (run as root, or set DPI_REQUIRE_TOOLS=1 to fail): {why}");
                return None;
            }
        }
    }
}

impl Capture {
    /// Sends `signal` (`INT` or `TERM`), waits for the end; the exit
    /// status, standard output and standard error.
    fn stop(mut self, signal: &str) -> (Option<i32>, String, String) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(l);
        }
        (status.code(), out, self.seen.join("\n"))
    }
}

/// Reads one HTTP request from the next connection to `listener` and
/// answers it, closing the connection.
fn answer(listener: &TcpListener) {
    let (mut s, _) = listener.accept().unwrap();
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .unwrap();
}

/// A local HTTP server answering `requests` requests; returns its port.
fn http_server_for(requests: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for _ in 0..requests {
            answer(&listener);
        }
    });
    (port, h)
}

/// A local HTTP server answering one request; returns its port.
fn http_server() -> (u16, std::thread::JoinHandle<()>) {
    http_server_for(1)
}

fn http_exchange(port: u16) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: live-test\r\nAccept: */*\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `dpi classify -i lo -j JOBS` of TCP port `port`, JSON lines, a
/// statistics line every half second.
fn classify_tcp_port(port: u16, jobs: &str) -> Option<Capture> {
    let filter = format!("tcp port {port}");
    start(&[
        "classify",
        "-i",
        "lo",
        "-j",
        jobs,
        "--bpf",
        &filter,
        "--format",
        "jsonl",
        "--stats-interval",
        "0.5",
    ])
}

#[test]
fn an_http_exchange_on_loopback_is_labelled_http() {
    let (port, server) = http_server();
    let Some(cap) = classify_tcp_port(port, "1") else {
        return;
    };
    http_exchange(port);
    server.join().unwrap();
    // Long enough for one statistics line.
    std::thread::sleep(Duration::from_millis(1200));
    let (code, out, err) = cap.stop("INT");
    assert_eq!(code, Some(0), "{err}");
    let flows = json_lines(&out);
    assert_eq!(flows.len(), 1, "{out}");
    let f = &flows[0];
    assert_eq!(f["protocol"], "HTTP", "{out}");
    assert_eq!(f["file"], "lo");
    assert_eq!(f["dst_port"].as_u64(), Some(u64::from(port)));
    assert_eq!(f["hostname"], "example.com");
    assert_eq!(f["http_url"], "/index.html");
    assert!(f["c2s_packets"].as_u64().unwrap() >= 3, "{out}");
    assert!(f["s2c_packets"].as_u64().unwrap() >= 2, "{out}");
    assert!(
        err.contains("packets received"),
        "no statistics line:\n{err}"
    );
    // The closing summary names the interface, not a count of files.
    assert!(err.contains("dpi: interface lo; "), "{err}");
    assert!(!err.contains("file(s)"), "{err}");
}

#[test]
fn a_burst_of_http_exchanges_on_loopback_is_captured_whole() {
    burst_of_http_exchanges("1");
}

/// The same, the flows spread over two threads.
#[test]
fn a_burst_of_http_exchanges_on_loopback_over_two_threads() {
    burst_of_http_exchanges("2");
}

/// A burst of 50 HTTP exchanges on loopback, one after the other, captured
/// with `-j JOBS`: each is one HTTP flow (no frame lost to a full capture
/// ring), and the statistics line counts the live flows (of every thread).
fn burst_of_http_exchanges(jobs: &str) {
    const EXCHANGES: usize = 50;
    let (port, server) = http_server_for(EXCHANGES);
    let Some(cap) = classify_tcp_port(port, jobs) else {
        return;
    };
    let mut client_ports = Vec::new();
    for _ in 0..EXCHANGES {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client_ports.push(u64::from(c.local_addr().unwrap().port()));
        c.write_all(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        c.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let (code, out, err) = cap.stop("INT");
    assert_eq!(code, Some(0), "{err}");
    // The closing statistics: nothing dropped.
    let last = err
        .lines()
        .rev()
        .find(|l| l.contains("packets received"))
        .unwrap_or_default();
    assert!(
        last.contains(" 0 dropped by the kernel, 0 by the interface"),
        "packets dropped:\n{err}"
    );
    let flows = json_lines(&out);
    assert_eq!(flows.len(), EXCHANGES, "{err}");
    assert!(flows.iter().all(|f| f["protocol"] == "HTTP"), "{out}");
    let mut ports: Vec<u64> = flows
        .iter()
        .map(|f| f["src_port"].as_u64().unwrap())
        .collect();
    ports.sort_unstable();
    client_ports.sort_unstable();
    assert_eq!(ports, client_ports, "{out}");
    // A statistics line while the flows were live: some counted.
    let live: Vec<u64> = err
        .lines()
        .filter_map(|l| {
            l.split(" live flows")
                .next()?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(!live.is_empty(), "no statistics line:\n{err}");
    assert!(live.iter().all(|&n| n <= EXCHANGES as u64), "{err}");
}

#[test]
fn udp_queries_are_labelled_dns_and_sigterm_flushes() {
    // A resolver on port 53 of a loopback address of its own (any
    // 127.0.0.0/8 address is the host's), so as not to meet a local one.
    let server = match UdpSocket::bind("127.0.0.77:53") {
        Ok(s) => s,
        Err(e) if std::env::var_os("DPI_REQUIRE_TOOLS").is_none() => {
            eprintln!("skipped: cannot bind 127.0.0.77:53 ({e}); run as root, or set DPI_REQUIRE_TOOLS=1 to fail");
            return;
        }
        Err(e) => panic!("bind 127.0.0.77:53: {e}"),
    };
    let port = 53;
    let Some(cap) = start(&[
        "classify",
        "-i",
        "lo",
        "--bpf",
        "udp and host 127.0.0.77",
        "--format",
        "csv",
        "--bytes",
        "128",
    ]) else {
        return;
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A standard query for example.com A, and its answer.
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    for id in 0..3u8 {
        query[1] = id;
        client.send_to(&query, ("127.0.0.77", port)).unwrap();
        let mut buf = [0u8; 512];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let mut answer = buf[..n].to_vec();
        answer[2] = 0x81;
        answer[3] = 0x80;
        answer[7] = 1;
        answer
            .extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01");
        server.send_to(&answer, from).unwrap();
        client.recv_from(&mut buf).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let (code, out, err) = cap.stop("TERM");
    assert_eq!(code, Some(0), "{err}");
    let mut rows = csv_rows(&out);
    let header = rows.remove(0);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    let r = &rows[0];
    assert_eq!(r[col("protocol")], "DNS", "{out}");
    assert_eq!(r[col("dst_port")], port.to_string());
    assert_eq!(r[col("c2s_packets")], "3");
    assert_eq!(r[col("s2c_packets")], "3");
    assert_eq!(r[col("hostname")], "example.com");
    assert_eq!(r[col("end_reason")], "flushed");
}

/// CSV rows split on commas (no cell here holds one).
fn csv_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| {
            l.split(',')
                .map(|c| c.trim_matches('"').to_string())
                .collect()
        })
        .collect()
}

#[test]
fn live_flows_reach_the_ipfix_collector_and_extract_captures_too() {
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let to = collector.local_addr().unwrap().to_string();
    let (port, server) = http_server();
    let filter = format!("tcp port {port}");
    let Some(cap) = start(&[
        "classify", "-i", "lo", "--bpf", &filter, "--format", "jsonl", "--ipfix", &to,
    ]) else {
        return;
    };
    http_exchange(port);
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = cap.stop("INT");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json_lines(&out).len(), 1, "{out}");
    assert!(err.contains("IPFIX: 1 record(s)"), "{err}");
    // An IPFIX message (version 10) holding the label's text.
    let mut buf = vec![0u8; 65536];
    let mut got = Vec::new();
    while let Ok(n) = collector.recv(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"HTTP") {
            break;
        }
    }
    assert_eq!(got.get(..2), Some(&[0u8, 10][..]));
    assert!(got.windows(4).any(|w| w == b"HTTP"));

    let (port, server) = http_server();
    let filter = format!("tcp port {port}");
    let Some(cap) = start(&["extract", "-i", "lo", "--bpf", &filter]) else {
        return;
    };
    http_exchange(port);
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = cap.stop("INT");
    assert_eq!(code, Some(0), "{err}");
    let flows = json_lines(&out);
    assert_eq!(flows.len(), 1, "{out}");
    assert!(flows[0]["c2s_payload"]
        .as_str()
        .unwrap()
        .starts_with(&hex(b"GET /index.html")));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn an_unknown_interface_is_named() {
    let o = dpi()
        .args(["classify", "-i", "nosuchif0", "--format", "jsonl"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nosuchif0"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_bad_filter_is_a_usage_error() {
    let o = dpi()
        .args(["classify", "-i", "lo", "--bpf", "tcp prot 80"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--bpf") && err.contains("tcp prot 80"),
        "{err}"
    );
    // -i and capture files together, --bpf without -i: usage errors too.
    for args in [
        &["classify", "-i", "lo", "corpus/samples/web.pcap"][..],
        &["extract", "--bpf", "tcp", "corpus/samples/web.pcap"][..],
    ] {
        let o = dpi().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}
