//! Nanosecond timestamps survive every output format: a nanosecond pcap
//! (magic a1b23c4d) and a pcapng with `if_tsresol` 9 give `first_ts` and
//! `last_ts` with all nine digits in JSON lines and CSV, and the exact
//! nanoseconds in Parquet, for `dpi extract` and `dpi classify`.

use std::path::PathBuf;
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use dpi_core::testing::udp_ipv4_frame;

/// The stamps of the two packets, nanoseconds since 1970 (not whole
/// microseconds, and past what a float of seconds holds).
const FIRST: u64 = 1_700_000_000_123_456_789;
const LAST: u64 = 1_700_000_001_987_654_321;

fn frames() -> Vec<Vec<u8>> {
    let q =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    vec![
        udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, q),
        udp_ipv4_frame([10, 0, 0, 53], 53, [10, 0, 0, 1], 40000, q),
    ]
}

/// A little-endian nanosecond pcap.
fn pcap_ns() -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_3c4du32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (f, ts) in frames().iter().zip([FIRST, LAST]) {
        let len = f.len() as u32;
        let secs = (ts / 1_000_000_000) as u32;
        let nanos = (ts % 1_000_000_000) as u32;
        for v in [secs, nanos, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

/// A pcapng block of `kind` around `body` (padded to 4 bytes).
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while b.len() % 4 != 0 {
        b.push(0);
    }
    let len = (b.len() + 12) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A pcapng file whose interface says `if_tsresol` 9 (nanoseconds).
fn pcapng_ns() -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 9
    idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    let mut out = block(0x0a0d_0d0a, &shb);
    out.extend(block(1, &idb));
    for (f, ts) in frames().iter().zip([FIRST, LAST]) {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        out.extend(block(6, &epb));
    }
    out
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dpi-ns-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dpi(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_dpi"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The first and last timestamps of the Parquet file `path`.
fn parquet_times(path: &std::path::Path) -> (i64, i64) {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.into_iter().next().unwrap().unwrap();
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<TimestampNanosecondType>()
            .value(0)
    };
    (col("first_ts"), col("last_ts"))
}

#[test]
fn nanoseconds_in_every_format() {
    let d = dir();
    let captures = [("ns.pcap", pcap_ns()), ("ns.pcapng", pcapng_ns())];
    for (name, bytes) in captures {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        for command in ["extract", "classify"] {
            let jsonl = dpi(&[command, "--format", "jsonl", "-q", p]);
            assert!(
                jsonl.contains(
                    "\"first_ts\":1700000000.123456789,\"last_ts\":1700000001.987654321,"
                ),
                "{command} {name}: {jsonl}"
            );
            assert!(jsonl.contains("\"duration\":1.864197532,"), "{jsonl}");
            let csv = dpi(&[command, "--format", "csv", "-q", p]);
            assert!(
                csv.contains(",1700000000.123456789,1700000001.987654321,"),
                "{command} {name}: {csv}"
            );
            let out = d.join(format!("{name}.{command}.parquet"));
            dpi(&[
                command,
                "--format",
                "parquet",
                "-q",
                "-o",
                out.to_str().unwrap(),
                p,
            ]);
            assert_eq!(
                parquet_times(&out),
                (FIRST as i64, LAST as i64),
                "{command} {name}"
            );
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}
