//! `dpi classify` as a stream: `-` reads standard input and each record is
//! written as its flow ends, a closed pipe ends the program quietly, and
//! the exit statuses (0, 1 for bad input, 2 for usage errors).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::TcpInfo;

const FIN: u8 = TcpInfo::FIN;
const SYN: u8 = TcpInfo::SYN;
const ACK: u8 = TcpInfo::ACK;
const PSH: u8 = TcpInfo::PSH;

/// A little-endian microsecond pcap of Ethernet `frames`, one per
/// millisecond from second 1,700,000,000.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let len = f.len() as u32;
        for v in [1_700_000_000u32, i as u32 * 1000, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// One whole HTTP exchange: handshake, request, response, a FIN each way,
/// the last ACK.
fn http_session() -> Vec<Vec<u8>> {
    http_session_from([192, 0, 2, 1], 40_000)
}

/// [`http_session`] from client `c`, port `cp`.
fn http_session_from(c: [u8; 4], cp: u16) -> Vec<Vec<u8>> {
    let (s, sp) = ([192, 0, 2, 80], 80);
    let req = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let (ci, si) = (1000u32, 5000u32);
    let rl = req.len() as u32;
    let sl = resp.len() as u32;
    vec![
        tcp_ipv4_frame(c, cp, s, sp, ci, 0, SYN, b""),
        tcp_ipv4_frame(s, sp, c, cp, si, ci + 1, SYN | ACK, b""),
        tcp_ipv4_frame(c, cp, s, sp, ci + 1, si + 1, ACK, b""),
        tcp_ipv4_frame(c, cp, s, sp, ci + 1, si + 1, ACK | PSH, req),
        tcp_ipv4_frame(s, sp, c, cp, si + 1, ci + 1 + rl, ACK | PSH, resp),
        tcp_ipv4_frame(c, cp, s, sp, ci + 1 + rl, si + 1 + sl, FIN | ACK, b""),
        tcp_ipv4_frame(s, sp, c, cp, si + 1 + sl, ci + 2 + rl, FIN | ACK, b""),
        tcp_ipv4_frame(c, cp, s, sp, ci + 2 + rl, si + 2 + sl, ACK, b""),
    ]
}

fn dpi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpi"))
}

/// `dpi classify --format jsonl -q -j JOBS -`, started, every stream
/// piped.
fn classify_stdin(jobs: &str) -> Child {
    dpi()
        .args(["classify", "--format", "jsonl", "-q", "-j", jobs, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpi")
}

/// [`classify_stdin`] given all of `input`: its exit status, output and
/// standard error.
fn classify_all_of(jobs: &str, input: &[u8]) -> std::process::Output {
    let mut child = classify_stdin(jobs);
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// [`classify_stdin`], running: its standard input, and its output lines
/// as they come.
fn stream_jsonl(jobs: &str) -> (Child, ChildStdin, mpsc::Receiver<String>) {
    let mut child = classify_stdin(jobs);
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    (child, stdin, rx)
}

#[test]
fn a_closed_flow_is_written_while_the_input_stays_open() {
    closed_flow_written_while_open("1");
}

/// Over two threads, the flow is a worker's or the reading thread's: its
/// record must come either way, with no full batch of packets behind it.
#[test]
fn a_closed_flow_is_written_while_the_input_stays_open_over_two_threads() {
    closed_flow_written_while_open("2");
}

/// Over two threads, with packets of another flow coming every 50 ms (so
/// the input is never quiet and a batch of packets fills slowly): the
/// closed flow's record still comes within a second or so.
#[test]
fn a_closed_flow_is_written_while_packets_trickle_in_over_two_threads() {
    let (mut child, mut stdin, rx) = stream_jsonl("2");
    // The whole file's records: the header and the session, then one
    // frame at a time (each its own record, stamped after the session).
    let head = pcap(&http_session());
    stdin.write_all(&head).unwrap();
    stdin.flush().unwrap();
    let start = Instant::now();
    let mut got = None;
    for i in 0..100u32 {
        let f = udp_ipv4_frame([10, 9, 9, 9], 7000, [10, 9, 9, 8], 7001, &[7; 40]);
        let len = f.len() as u32;
        let mut rec = Vec::new();
        for v in [1_700_000_001 + i, 0, len, len] {
            rec.extend_from_slice(&v.to_le_bytes());
        }
        rec.extend_from_slice(&f);
        stdin.write_all(&rec).unwrap();
        stdin.flush().unwrap();
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            got = Some(line);
            break;
        }
    }
    let line = got.expect("the closed flow's record while packets kept coming for 5 s");
    let waited = start.elapsed();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["protocol"].as_str(), v["dst_port"].as_u64()),
        (Some("HTTP"), Some(80)),
        "{line}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "the record came {waited:?} after the session"
    );
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // The other flow's record at the end.
    let last = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the last record");
    assert!(last.contains("\"dst_port\":7001"), "{last}");
}

fn closed_flow_written_while_open(jobs: &str) {
    let (mut child, mut stdin, rx) = stream_jsonl(jobs);
    stdin.write_all(&pcap(&http_session())).unwrap();
    stdin.flush().unwrap();
    let start = Instant::now();
    // The pipe stays open: the record must come from the close alone.
    let line = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the record of the closed flow within 5 s, the input still open");
    let waited = start.elapsed();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["protocol"], "HTTP", "{line}");
    assert_eq!(v["file"], "-");
    assert_eq!(
        (v["src_port"].as_u64(), v["dst_port"].as_u64()),
        (Some(40000), Some(80))
    );
    assert_eq!(
        v["c2s_packets"].as_u64().unwrap() + v["s2c_packets"].as_u64().unwrap(),
        8
    );
    eprintln!("note: the record came {waited:?} after the input was written");
    drop(stdin);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_err(),
        "one flow, one record"
    );
}

/// Many flows, more packets than a batch holds: HTTP sessions (each on
/// its own client port, closed) among DNS-shaped queries, and a flow
/// whose packets span the whole capture.
fn many_flows() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for i in 0..1200u16 {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let mut query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00".to_vec();
        query.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        frames.push(udp_ipv4_frame(
            client,
            30000 + i,
            [10, 0, 0, 53],
            53,
            &query,
        ));
        if i % 3 == 0 {
            frames.extend(http_session_from(client, 40_000 + i));
        }
        frames.push(udp_ipv4_frame(
            [10, 9, 9, 9],
            7000,
            [10, 9, 9, 8],
            7001,
            &[i as u8; 40],
        ));
    }
    frames
}

/// Standard input read by one thread and by several: the same bytes.
#[test]
fn standard_input_over_threads_writes_what_one_thread_writes() {
    let input = pcap(&many_flows());
    let run = |jobs: &str| {
        let out = classify_all_of(jobs, &input);
        assert_eq!(
            out.status.code(),
            Some(0),
            "-j {jobs}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run("1");
    let lines = one.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    // 1,200 queries, 400 sessions, the long flow.
    assert_eq!(lines, 1601);
    let text = String::from_utf8_lossy(&one);
    assert_eq!(text.matches("\"protocol\":\"HTTP\"").count(), 400);
    for jobs in ["2", "3"] {
        assert!(run(jobs) == one, "-j {jobs} wrote other bytes than -j 1");
    }
}

/// A stream cut inside a record, read by one thread and by two: the
/// flows before the cut written (the same bytes), the error named with
/// the place, exit status 1 both times.
#[test]
fn a_cut_stream_over_threads_keeps_what_came_before() {
    let whole = pcap(&many_flows());
    // Inside the last record: its header and a few bytes of its frame.
    let cut = &whole[..whole.len() - 30];
    let one = classify_all_of("1", cut);
    let two = classify_all_of("2", cut);
    assert_eq!(
        one.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(
        two.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&two.stderr)
    );
    let lines = one
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines, 1601, "every flow before the cut");
    assert!(two.stdout == one.stdout, "-j 2 wrote other bytes than -j 1");
    let err = String::from_utf8_lossy(&two.stderr);
    assert!(err.contains("<stdin>"), "{err}");
}

#[test]
fn standard_input_read_to_its_end() {
    let mut frames = http_session();
    frames.push(udp_ipv4_frame(
        [10, 0, 0, 1],
        5353,
        [10, 0, 0, 2],
        53,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",
    ));
    let mut child = dpi()
        .args(["classify", "--format", "csv", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpi");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&pcap(&frames))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(",HTTP,"), "{text}");
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    // Enough flows that the output fills the pipe after the reader left.
    let frames: Vec<Vec<u8>> = (0..20_000u32)
        .map(|i| {
            udp_ipv4_frame(
                [10, 1, (i >> 8) as u8, i as u8],
                1024 + (i % 60_000) as u16,
                [10, 0, 0, 2],
                53,
                b"\x12\x34",
            )
        })
        .collect();
    let path = std::env::temp_dir().join(format!("dpi-stream-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap(&frames)).unwrap();
    let mut child = dpi()
        .args(["classify", "--format", "jsonl", "-q"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpi");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(first.starts_with('{'), "{first}");
    assert_eq!(stderr, "", "nothing on standard error");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn exit_statuses() {
    let dir = std::env::temp_dir().join(format!("dpi-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("ok.pcap");
    std::fs::write(&capture, pcap(&http_session())).unwrap();
    let bad_sig = dir.join("bad.rules");
    std::fs::write(&bad_sig, "rule x\n  protocol\nend\n").unwrap();
    let bad_capture = dir.join("bad.pcap");
    std::fs::write(&bad_capture, b"not a capture at all").unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = dpi().arg("classify").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let cases: Vec<(&str, Vec<std::ffi::OsString>, i32, Option<String>)> = vec![
        ("success", vec![os("-q"), capture.clone().into()], 0, None),
        (
            "unknown flag",
            vec![os("--no-such-flag"), capture.clone().into()],
            2,
            None,
        ),
        ("no capture named", vec![], 2, None),
        (
            "bad signature file",
            vec![os("--sig"), bad_sig.clone().into(), capture.clone().into()],
            1,
            Some(format!("{}:2", bad_sig.display())),
        ),
        (
            "bad capture",
            vec![os("-q"), bad_capture.clone().into()],
            1,
            Some(bad_capture.display().to_string()),
        ),
        (
            "missing capture",
            vec![os("-q"), dir.join("none.pcap").into()],
            1,
            Some(dir.join("none.pcap").display().to_string()),
        ),
        (
            "unwritable output",
            vec![
                os("-o"),
                dir.join("no/such/dir/out").into(),
                capture.clone().into(),
            ],
            1,
            Some(dir.join("no/such/dir/out").display().to_string()),
        ),
    ];
    for (name, args, want, names) in cases {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(want), "{name}: {stderr}");
        if let Some(n) = names {
            assert!(
                stderr.contains(&n),
                "{name}: the message names {n}: {stderr}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
