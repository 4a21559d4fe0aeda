//! Label importers on real excerpts of the shared corpus (lines copied from
//! its label files into `tests/data/labels/`) and on broken input.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use dpi_train::labels::{
    argus, lpi, ndpi_csv, ndpi_json, ndpi_out, LabelSource, Mapping, NameRegistry, Tool,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/labels")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ndpi_out_excerpt() {
    let p = ndpi_out::parse_file(&data("ndpi-sample.pcap.out")).unwrap();
    assert!(p.malformed.is_empty(), "{:?}", p.malformed);
    assert_eq!(p.capture, "ndpi-sample.pcap");
    assert_eq!(p.records.len(), 10);
    let r = &p.records[0];
    assert_eq!((r.tool, r.transport), (Tool::Ndpi, 6));
    assert_eq!((r.src_ip, r.src_port), (ip("192.168.2.126"), 45380));
    assert_eq!((r.dst_ip, r.dst_port), (ip("161.117.13.29"), 80));
    assert_eq!(r.protocol, "HTTP.1kxun");
    assert_eq!(r.master.as_deref(), Some("HTTP"));
    assert_eq!(r.app.as_deref(), Some("1kxun"));
    assert_eq!(r.ndpi_id.as_deref(), Some("7.295"));
    assert_eq!(r.confidence.as_deref(), Some("DPI"));
    assert_eq!(
        (r.src_packets, r.src_bytes, r.dst_packets, r.dst_bytes),
        (Some(7), Some(4845), Some(73), Some(178280))
    );
    assert_eq!(r.line, 2);

    let gtp = &p.records[2];
    assert_eq!(gtp.tunnel.as_deref(), Some("GTP"));
    assert_eq!(gtp.vlan, Some(113));
    assert_eq!(gtp.master.as_deref(), Some("HTTP"));

    let one_way = &p.records[3];
    assert_eq!(one_way.vlan, Some(505));
    assert_eq!(one_way.confidence.as_deref(), Some("Unknown"));
    assert_eq!((one_way.dst_packets, one_way.dst_bytes), (Some(0), Some(0)));

    let v6 = &p.records[4];
    assert_eq!(v6.transport, 58);
    assert_eq!(v6.dst_ip, ip("2604:a880:1:20::224:b001"));

    assert_eq!(p.records[6].transport, 118, "L4 given as a number");
    // ndpiReader prints 2600:1901:0:7a0b:: as 2600:1901::7a0b::
    assert_eq!(p.records[7].dst_ip, ip("2600:1901:0:7a0b::"));

    let undetected = &p.records[8];
    assert_eq!(undetected.protocol, "Unknown");
    assert_eq!(undetected.master.as_deref(), Some("Unknown"));
    assert_eq!(undetected.app, None);
}

#[test]
fn ndpi_out_broken_lines() {
    let good = "\t1\tUDP 10.0.0.1:53 -> 10.0.0.2:5353 [proto: 5/DNS][Confidence: DPI][1 pkts/80 bytes -> 0 pkts/0 bytes]";
    let cases: &[(&str, &str)] = &[
        ("\t2\tTCP 192.168.2.126:45380 <-> 161.117.13", "has no port"),
        ("\t2\tTCP 192.168.2.126:45380", "line ends"),
        (
            "\t3\tTCP 192.168.2.126:45380 <-> 161.117.13.29:80 [IP: 0/Unknown]",
            "no [proto",
        ),
        (
            "\t4\tXYZ 1.2.3.4:1 -> 5.6.7.8:2 [proto: 7/HTTP]",
            "unknown L4",
        ),
        (
            "\t5\tTCP 1.2.3.4:1 => 5.6.7.8:2 [proto: 7/HTTP]",
            "expected `<->`",
        ),
        (
            "\t6\tTCP 1.2.3.4:99999 -> 5.6.7.8:2 [proto: 7/HTTP]",
            "bad port",
        ),
        (
            "\t7\tTCP 1.2.3.4:1 -> 5.6.7.8:2 [proto: HTTP]",
            "proto `HTTP`",
        ),
    ];
    let mut text = format!("DPI Packets (TCP):\t1\n{good}\n");
    for (line, _) in cases {
        text.push_str(line);
        text.push('\n');
    }
    let p = ndpi_out::parse_bytes(Path::new("x.out"), "x", text.as_bytes()).unwrap();
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.malformed.len(), cases.len());
    for (e, (_, want)) in p.malformed.iter().zip(cases) {
        assert!(e.reason.contains(want), "{e} should mention {want}");
        assert!(e.to_string().starts_with("x.out:"), "{e}");
    }
    assert_eq!(p.malformed[0].line, 3);
}

/// A file of garbage lines keeps the first reasons only, and counts all.
#[test]
fn malformed_lines_are_counted_and_kept_up_to_a_bound() {
    use dpi_train::labels::MALFORMED_KEPT;
    let good = "\t1\tTCP 1.2.3.4:1 -> 5.6.7.8:2 [proto: 7/HTTP]";
    let bad = "\t2\tTCP 1.2.3.4:1 -> 5.6.7.8:2 [proto: HTTP]\n";
    let text = format!("DPI Packets (TCP):\t1\n{good}\n{}", bad.repeat(100_000));
    let p = ndpi_out::parse_bytes(Path::new("x.out"), "x", text.as_bytes()).unwrap();
    assert_eq!((p.records.len(), p.malformed_lines), (1, 100_000));
    assert_eq!(p.malformed.len(), MALFORMED_KEPT);
    assert_eq!(p.malformed[0].line, 3);
}

#[test]
fn ndpi_out_not_utf8_and_other_format() {
    let mut bytes = b"DPI Packets (TCP):\t1\n\t1\tTCP 1.2.3.4:1 <-> 5.6.7.8:80 [proto: 7/HTTP][Confidence: DPI][1 pkts/60 bytes <-> 1 pkts/60 bytes][PLAIN TEXT (".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b')', b']', b'\n']);
    let p = ndpi_out::parse_bytes(Path::new("x.out"), "x", &bytes).unwrap();
    assert_eq!(p.records.len(), 1);

    let csv = std::fs::read(data("ndpi-4.11-sample.pcap.csv")).unwrap();
    let e = ndpi_out::parse_bytes(Path::new("y.out"), "y", &csv).unwrap_err();
    assert!(e.is_wrong_format(), "{e}");
    assert!(ndpi_out::parse_bytes(Path::new("z.out"), "z", b"")
        .unwrap()
        .records
        .is_empty());
}

#[test]
fn ndpi_csv_4_11() {
    let p = ndpi_csv::parse_file(&data("ndpi-4.11-sample.pcap.csv")).unwrap();
    assert!(p.malformed.is_empty(), "{:?}", p.malformed);
    assert_eq!(p.records.len(), 4);
    let r = &p.records[0];
    assert_eq!(r.flow_id, Some(145));
    assert_eq!(r.protocol, "HTTP.1kxun");
    assert_eq!(r.ndpi_id.as_deref(), Some("7.295"));
    assert_eq!((r.src_port, r.dst_port, r.transport), (45380, 80, 6));
    assert_eq!(r.first_ts, Some(1654385140.171));
    assert_eq!((r.src_packets, r.dst_bytes), (Some(7), Some(178280)));
    assert_eq!(r.confidence, None, "the CSV has no confidence");
    assert_eq!(p.records[2].master.as_deref(), Some("Unknown"));
    assert_eq!(p.records[3].dst_ip, ip("2600:1901:0:7a0b::"));
}

#[test]
fn ndpi_csv_debian_4_2_header() {
    let p = ndpi_csv::parse_file(&data("ndpi-4.2-sample.pcap.csv")).unwrap();
    assert!(p.malformed.is_empty(), "{:?}", p.malformed);
    assert_eq!(
        p.records.len(),
        3,
        "the row with a comma in a free-text column is read too"
    );
    let r = &p.records[0];
    assert_eq!(r.protocol, "HTTP");
    assert_eq!(r.ndpi_id.as_deref(), Some("7"));
    assert_eq!((r.src_ip, r.src_port), (ip("192.168.2.126"), 45380));
    assert_eq!(p.records[2].master.as_deref(), Some("TLS"));
}

#[test]
fn ndpi_csv_errors() {
    let p = Path::new("bad.csv");
    let e = ndpi_csv::parse_bytes(
        p,
        "bad",
        b"#flow_id|protocol|src_ip|src_port|dst_ip|dst_port\n1|6|1.2.3.4|1|5.6.7.8|2\n",
    )
    .unwrap_err();
    assert_eq!(e.missing_column_name(), Some("ndpi_proto"));
    assert!(e.to_string().contains("bad.csv") && e.to_string().contains("ndpi_proto"));

    let lpi_text = std::fs::read(data("lpi-sample.pcap.txt")).unwrap();
    assert!(ndpi_csv::parse_bytes(p, "bad", &lpi_text)
        .unwrap_err()
        .is_wrong_format());

    // Columns in another order, an unknown column, a truncated row, a bad number.
    let text = "#src_ip|dst_ip|extra|ndpi_proto|protocol|src_port|dst_port\n\
                1.2.3.4|5.6.7.8|x|DNS|17|53|5353\n\
                1.2.3.4|5.6.7.8|x|DNS\n\
                1.2.3.4|5.6.7.8|x|DNS|17|http|5353\n";
    let parsed = ndpi_csv::parse_bytes(p, "bad", text.as_bytes()).unwrap();
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(parsed.records[0].src_port, 53);
    assert_eq!(parsed.malformed.len(), 2);
    assert_eq!(parsed.malformed[0].line, 3);
    assert!(parsed.malformed[0].reason.contains("4 fields"));
    assert!(parsed.malformed[1].reason.contains("src_port"));
}

#[test]
fn ndpi_json_excerpt() {
    let p = ndpi_json::parse_file(&data("ndpi-sample.pcap.json")).unwrap();
    assert!(p.malformed.is_empty(), "{:?}", p.malformed);
    assert_eq!(p.records.len(), 3);
    let r = &p.records[0];
    assert_eq!(r.protocol, "LLMNR");
    assert_eq!(r.confidence.as_deref(), Some("DPI"));
    assert_eq!(r.flow_id, Some(12));
    assert_eq!((r.src_port, r.dst_port), (51458, 5355));
    assert_eq!(r.vlan, None);
    assert_eq!(p.records[1].confidence.as_deref(), Some("Unknown"));
    assert_eq!(p.records[2].vlan, Some(10));

    let text =
        b"{\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"5.6.7.8\",\"proto\":\"TCP\"}\n{\"src_ip\":\"1.2\n";
    let p = ndpi_json::parse_bytes(Path::new("j.json"), "j", text).unwrap();
    assert_eq!(p.records.len(), 0);
    assert_eq!(p.malformed.len(), 2);
    assert!(p.malformed[0].reason.contains("ndpi"));
    assert!(p.malformed[1].reason.contains("not JSON"));
    let e = ndpi_json::parse_bytes(Path::new("j.json"), "j", b"hello\n").unwrap_err();
    assert!(e.is_wrong_format());
}

#[test]
fn lpi_excerpt() {
    let reg = NameRegistry::builtin();
    let p = lpi::parse_file(&data("lpi-sample.pcap.txt"), &reg).unwrap();
    assert!(p.malformed.is_empty() && p.unmapped.is_empty());
    assert_eq!(p.records.len(), 7);
    let r = &p.records[0];
    assert_eq!(r.tool, Tool::Lpi);
    assert_eq!(r.protocol, "HTTP");
    assert_eq!(r.master.as_deref(), Some("HTTP"));
    // Endpoint B (the client) is the source, A (the server) the destination.
    assert_eq!((r.src_ip, r.src_port), (ip("192.168.115.8"), 49612));
    assert_eq!((r.dst_ip, r.dst_port), (ip("183.131.48.145"), 80));
    let pl = r.lpi.as_ref().unwrap();
    assert_eq!(pl.bytes, [633, 864]);
    assert_eq!(pl.first4, ["48545450".to_owned(), "47455420".to_owned()]);
    assert_eq!(pl.first_size, [633, 432]);
    assert_eq!(
        p.records[1].master.as_deref(),
        Some("TLS"),
        "HTTPS is nDPI's TLS"
    );
    for r in &p.records[2..5] {
        assert_eq!(r.master, None, "{} has no nDPI equivalent", r.protocol);
    }
    assert_eq!(
        (p.records[4].src_port, p.records[4].dst_port),
        (0, 0),
        "IP-in-IP has no ports"
    );
    assert_eq!(p.records[5].dst_ip, ip("ff02::1:3"));
}

#[test]
fn lpi_errors_and_unknown_names() {
    let reg = NameRegistry::builtin();
    let text = "HTTP 183.131.48.145 192.168.115.8 80 49612 6 1470104381.895 1470104382.124 633 864 48545450 HTTP 633 47455420 GET. 432\n\
                HTTPS 192.168.115.75 192.168.5.16 443 53623 6 1470104381.238\n\
                BrandNewProto 10.0.0.1 10.0.0.2 80 1234 6 1.0 2.0 0 0 00000000 .... 0 00000000 .... 0\n\
                HTTP 10.0.0.1 10.0.0.2 80 1234 6 1.0 2.0 0 0 zz000000 .... 0 00000000 .... 0\n";
    let p = lpi::parse_bytes(Path::new("l.txt"), "l", text.as_bytes(), &reg).unwrap();
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.malformed.len(), 2);
    assert!(p.malformed[0].reason.contains("7 fields"));
    assert_eq!(p.malformed[0].to_string(), "l.txt:2: 7 fields, expected 16");
    assert_eq!(p.unmapped.get("BrandNewProto"), Some(&1));
    assert_eq!(p.records[1].master, None);

    let argus_text = std::fs::read(data("argus-sample.pcap.txt")).unwrap();
    assert!(lpi::parse_bytes(Path::new("a.txt"), "a", &argus_text, &reg)
        .unwrap_err()
        .is_wrong_format());
    assert!(lpi::parse_bytes(Path::new("e.txt"), "e", b"", &reg)
        .unwrap()
        .records
        .is_empty());
}

#[test]
fn argus_excerpt() {
    let reg = NameRegistry::builtin();
    let p = argus::parse_file(&data("argus-sample.pcap.txt"), &reg).unwrap();
    assert!(
        p.malformed.is_empty() && p.unmapped.is_empty(),
        "{:?}",
        p.malformed
    );
    assert_eq!(p.skipped_non_ip, 2, "one ARP and one LLC record");
    assert_eq!(p.records.len(), 7);
    let dns = &p.records[0];
    assert_eq!(
        (dns.protocol.as_str(), dns.master.as_deref()),
        ("domain", Some("DNS"))
    );
    assert_eq!((dns.src_packets, dns.src_bytes), (Some(2), Some(136)));
    assert!(!p.records[1].is_labelled());
    assert_eq!(p.records[1].master, None);
    assert_eq!(p.records[2].master.as_deref(), Some("HTTP"));
    assert_eq!(p.records[3].master.as_deref(), Some("RTP"));
    let icmp = &p.records[4];
    assert_eq!((icmp.transport, icmp.src_port, icmp.dst_port), (1, 0, 0));
    assert_eq!(icmp.icmp, Some((3, 3)), "0x0303: type 3, code 3");
    assert_eq!(p.records[5].icmp, Some((1, 4)), "ICMPv6 type 1, code 4");
    assert_eq!(p.records[6].transport, 2);
}

#[test]
fn argus_errors() {
    let reg = NameRegistry::builtin();
    let no_label = "StartTime\tLastTime\tProto\tSrcAddr\tSport\tDir\tDstAddr\tDport\n";
    let e = argus::parse_bytes(Path::new("a.txt"), "a", no_label.as_bytes(), &reg).unwrap_err();
    assert_eq!(e.missing_column_name(), Some("Label"));

    let lpi_text = std::fs::read(data("lpi-sample.pcap.txt")).unwrap();
    assert!(argus::parse_bytes(Path::new("b.txt"), "b", &lpi_text, &reg)
        .unwrap_err()
        .is_wrong_format());

    let text = "StartTime\tLastTime\tProto\tSrcAddr\tSport\tDir\tDstAddr\tDport\tLabel\n\
                1.0\t2.0\t6\t10.0.0.1\t1234\t->\t10.0.0.2\t80\tsrv=http\n\
                1.0\t2.0\t6\t10.0.0.1\t1234\n\
                1.0\t2.0\t6\t10.0.0.1\t1234\t->\t10.0.0.2\t80\tsrv=not-a-service\n\
                1.0\t2.0\t6\t10.0.0.1\t1234\t->\t10.0.0.2\t80\tdrv=http\n\
                1.0\t2.0\tsix\t10.0.0.1\t1234\t->\t10.0.0.2\t80\t\n";
    let p = argus::parse_bytes(Path::new("c.txt"), "c", text.as_bytes(), &reg).unwrap();
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.malformed.len(), 3);
    assert_eq!(
        p.malformed.iter().map(|e| e.line).collect::<Vec<_>>(),
        [3, 5, 6]
    );
    assert_eq!(p.unmapped.get("not-a-service"), Some(&1));
}

#[test]
fn registry_maps_and_reports() {
    let reg = NameRegistry::builtin();
    let cases = [
        (Tool::Lpi, "SSL/TLS", Mapping::Ndpi("TLS".into())),
        (Tool::Lpi, "mDNS", Mapping::Ndpi("MDNS".into())),
        (Tool::Lpi, "Unsupported", Mapping::NoEquivalent),
        (Tool::Argus, "bootps", Mapping::Ndpi("DHCP".into())),
        (Tool::Argus, "x11", Mapping::NoEquivalent),
        (Tool::Argus, "HTTP", Mapping::Unmapped),
    ];
    for (tool, name, want) in cases {
        assert_eq!(reg.map(tool, name), want, "{tool} {name}");
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signatures/protocol-names.csv");
    let loaded = NameRegistry::load(&file).unwrap();
    assert_eq!(loaded.len(), reg.len());
    for t in reg.mapped_targets() {
        assert_eq!(reg.map(Tool::Ndpi, t), Mapping::Ndpi(t.to_owned()));
    }
}

#[test]
fn import_dispatch_by_source() {
    let reg = NameRegistry::builtin();
    let cases = [
        (LabelSource::NdpiOut, "ndpi-sample.pcap.out", 10),
        (LabelSource::NdpiCsv, "ndpi-4.11-sample.pcap.csv", 4),
        (LabelSource::NdpiJson, "ndpi-sample.pcap.json", 3),
        (LabelSource::Lpi, "lpi-sample.pcap.txt", 7),
        (LabelSource::Argus, "argus-sample.pcap.txt", 7),
    ];
    for (source, file, n) in cases {
        let p = dpi_train::labels::import_file(source, &data(file), &reg).unwrap();
        assert_eq!(p.records.len(), n, "{file}");
        assert!(p.records.iter().all(|r| r.tool == source.tool()));
    }
}

#[test]
fn corpus_layout() {
    let root = std::env::temp_dir().join(format!("dpi-labels-layout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("pcap")).unwrap();
    std::fs::create_dir_all(root.join("labels/lpi")).unwrap();
    std::fs::create_dir_all(root.join("expected")).unwrap();
    std::fs::write(root.join("pcap/a.pcap"), b"").unwrap();
    std::fs::write(root.join("pcap/b.pcapng"), b"").unwrap();
    std::fs::write(root.join("expected/a.pcap.out"), b"").unwrap();
    std::fs::write(root.join("labels/lpi/b.pcapng.txt"), b"").unwrap();
    let c = dpi_train::labels::Corpus::open(&root).unwrap();
    assert_eq!(c.captures().unwrap(), ["a.pcap", "b.pcapng"]);
    assert!(c.label_file("a.pcap", LabelSource::NdpiOut).is_some());
    assert!(
        c.label_file("a.pcap", LabelSource::Lpi).is_none(),
        "no file is no labels"
    );
    assert!(c.label_file("b.pcapng", LabelSource::Lpi).is_some());
    assert!(c.label_file("b.pcapng", LabelSource::Argus).is_none());
    assert_eq!(c.label_files(LabelSource::Lpi).unwrap().len(), 1);
    std::fs::remove_dir_all(&root).unwrap();
    assert!(dpi_train::labels::Corpus::open(&root).is_err());
}

/// Imports `data` as `source` would read a file named `name`.
fn import_bytes(
    source: LabelSource,
    name: &str,
    data: &[u8],
) -> Result<dpi_train::labels::ParsedLabels, dpi_train::labels::ImportError> {
    let reg = NameRegistry::builtin();
    let path = Path::new(name);
    match source {
        LabelSource::NdpiOut => ndpi_out::parse_bytes(path, name, data),
        LabelSource::NdpiCsv => ndpi_csv::parse_bytes(path, name, data),
        LabelSource::NdpiJson => ndpi_json::parse_bytes(path, name, data),
        LabelSource::Lpi => lpi::parse_bytes(path, name, data, &reg),
        LabelSource::Argus => argus::parse_bytes(path, name, data, &reg),
    }
}

const SAMPLES: [(LabelSource, &str); 6] = [
    (LabelSource::NdpiOut, "ndpi-sample.pcap.out"),
    (LabelSource::NdpiCsv, "ndpi-4.11-sample.pcap.csv"),
    (LabelSource::NdpiCsv, "ndpi-4.2-sample.pcap.csv"),
    (LabelSource::NdpiJson, "ndpi-sample.pcap.json"),
    (LabelSource::Lpi, "lpi-sample.pcap.txt"),
    (LabelSource::Argus, "argus-sample.pcap.txt"),
];

#[test]
fn every_line_end_reads_the_same_records() {
    for (source, file) in SAMPLES {
        let lf = std::fs::read(data(file)).unwrap();
        assert!(!lf.contains(&b'\r'), "{file} has LF ends");
        let want = import_bytes(source, file, &lf).unwrap();
        assert!(!want.records.is_empty(), "{file}");
        for end in [&b"\r\n"[..], b"\r"] {
            let other: Vec<u8> = lf
                .iter()
                .flat_map(|&b| if b == b'\n' { end.to_vec() } else { vec![b] })
                .collect();
            let got = import_bytes(source, file, &other).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(got.records, want.records, "{file} with {end:?}");
            assert_eq!(got.malformed, want.malformed, "{file} with {end:?}");
        }
    }
}

#[test]
fn a_cut_last_line_is_an_incomplete_import_that_keeps_the_rest() {
    for (source, file) in SAMPLES {
        let whole = std::fs::read(data(file)).unwrap();
        let want = import_bytes(source, file, &whole).unwrap();
        let lines = whole.iter().filter(|&&b| b == b'\n').count();
        // Cut the last line in its middle.
        let last_start = whole[..whole.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap()
            + 1;
        let cut = &whole[..last_start + (whole.len() - last_start) / 2];
        let e = import_bytes(source, file, cut).unwrap_err();
        assert!(e.is_incomplete(), "{file}: {e}");
        assert_eq!(e.line(), Some(lines), "{file}: {e}");
        assert!(
            e.to_string().starts_with(&format!(
                "{file}:{lines}: incomplete: the file ends inside line {lines}"
            )),
            "{file}: {e}"
        );
        let partial = e.partial().unwrap();
        assert_eq!(
            partial.records[..],
            want.records[..want.records.len() - 1],
            "{file}: every record before the cut is kept"
        );
        // Cut exactly after a line end: nothing to see for a file without a header count.
        let clean = &whole[..last_start];
        if source != LabelSource::NdpiOut {
            assert_eq!(
                import_bytes(source, file, clean).unwrap().records.len(),
                want.records.len() - 1
            );
        }
    }
}

#[test]
fn ndpi_out_flow_lines_must_match_the_header_counts() {
    let flow = |n: u32, conf: &str| {
        format!("\t{n}\tUDP 10.0.0.1:{n} <-> 10.0.0.2:53 [proto: 5/DNS][Confidence: {conf}][1 pkts/80 bytes <-> 1 pkts/120 bytes]\n")
    };
    let header = "DPI Packets (UDP):\t3\t(1.00 pkts/flow)\nConfidence DPI              : 2 (flows)\nConfidence Unknown          : 1 (flows)\n\n";
    let good = format!(
        "{header}{}{}\n\nUndetected flows:\n{}",
        flow(1, "DPI"),
        flow(2, "DPI"),
        flow(1, "Unknown")
    );
    let p = import_bytes(LabelSource::NdpiOut, "ok.out", good.as_bytes()).unwrap();
    assert_eq!(p.records.len(), 3);

    let cases = [
        // A flow line lost (the file cut at a line end).
        (format!("{header}{}", flow(1, "DPI")), "header counts 3 flow(s) (DPI: 2, Unknown: 1) but the file holds 1 flow line(s) (DPI: 1)", 1),
        // As many lines, other confidences.
        (format!("{header}{}{}{}", flow(1, "DPI"), flow(2, "Unknown"), flow(3, "Unknown")), "(DPI: 1, Unknown: 2)", 3),
        // One flow too many.
        (format!("{good}{}", flow(2, "Unknown")), "holds 4 flow line(s)", 4),
    ];
    for (text, want, kept) in cases {
        let e = import_bytes(LabelSource::NdpiOut, "bad.out", text.as_bytes()).unwrap_err();
        assert!(e.is_incomplete() && e.line().is_none(), "{e}");
        assert!(
            e.to_string()
                .starts_with("bad.out: incomplete: ndpiReader's header counts"),
            "{e}"
        );
        assert!(e.to_string().contains(want), "{e}\nshould contain {want}");
        assert_eq!(e.partial().unwrap().records.len(), kept);
    }
    // A malformed flow line still counts as a flow line; the import succeeds with it reported.
    let text = format!(
        "{header}{}{}\t3\tUDP 10.0.0.1:1 <-> nowhere [proto: 5/DNS]\n",
        flow(1, "DPI"),
        flow(2, "DPI")
    );
    let p = import_bytes(LabelSource::NdpiOut, "m.out", text.as_bytes()).unwrap();
    assert_eq!((p.records.len(), p.malformed.len()), (2, 1));
}

/// The first 43 lines of the nDPI corpus's `stun.pcap.out`: its header
/// counts 9 flows, the lines hold 3. `dpi label` writes the 3, names the
/// file and exits 1.
#[test]
fn truncated_corpus_out_file_exits_1_and_keeps_its_rows() {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the truncated stun.pcap.out test is skipped");
        return;
    };
    let source = PathBuf::from(root).join("ndpi/expected/stun.pcap.out");
    let text = std::fs::read(&source)
        .unwrap_or_else(|e| panic!("DPI_CORPUS is set but {} is missing: {e}", source.display()));
    let head: Vec<u8> = text
        .split_inclusive(|&b| b == b'\n')
        .take(43)
        .flatten()
        .copied()
        .collect();
    let dir = std::env::temp_dir().join(format!("dpi-truncated-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("stun.pcap.out");
    std::fs::write(&file, &head).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(["label", "--from", "ndpi-out"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "dpi: error: {}: incomplete: ndpiReader's header counts 9 flow(s)",
            file.display()
        )),
        "{stderr}"
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["protocol"], "STUN.FacebookVoip");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A capture whose file name is not UTF-8 is an error naming the file, not
/// a capture silently left out.
#[test]
fn corpus_names_that_are_not_utf8_are_an_error() {
    use std::os::unix::ffi::OsStrExt;
    let root = std::env::temp_dir().join(format!("dpi-corpus-names-{}", std::process::id()));
    std::fs::create_dir_all(root.join("pcap")).unwrap();
    std::fs::write(root.join("pcap").join("good.pcap"), b"").unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"bad-\xff.pcap");
    std::fs::write(root.join("pcap").join(bad), b"").unwrap();
    let corpus = dpi_train::labels::Corpus::open(&root).unwrap();
    let e = corpus.captures().unwrap_err().to_string();
    assert!(e.contains("not UTF-8") && e.contains("bad-"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}
