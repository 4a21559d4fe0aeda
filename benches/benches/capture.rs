//! Throughput over real traffic: a few captures of the shared corpus
//! (`DPI_CORPUS`), held in memory.
//!
//! - `corpus/frames`: the frames, already read, through `FlowMeter`
//!   (decode, flow table, user-data capture).
//! - `corpus/file+frames`: the capture files' bytes through
//!   `CaptureReader` and then `FlowMeter`: everything `dpi extract` does
//!   per packet but the disk and the output.
//!
//! Without `DPI_CORPUS` the benchmarks are skipped with a note; with it
//! set, a missing capture is an error.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dpi_core::{CaptureReader, FlowConfig, FlowMeter, LinkType, Timestamp};

/// The captures, relative to `DPI_CORPUS`: busy Ethernet captures of both
/// corpora, pcap and pcapng.
const CAPTURES: &[&str] = &[
    "ndpi/pcap/1kxun.pcap",
    "ndpi/pcap/netflix.pcap",
    "ndpi/pcap/reddit.pcap",
    "ndpi/pcap/teams.pcap",
    "ndpi/pcap/wechat.pcap",
    "ndpi/pcap/gnutella.pcap",
    "ndpi/pcap/webex.pcap",
    "ndpi/pcap/alexa-app.pcapng",
    "zeek/pcap/smb__smb2.pcap",
    "zeek/pcap/ssh__ssh.pcap",
    "zeek/pcap/http__206_example_b.pcap",
];

/// One frame as read from a capture.
struct OwnedFrame {
    link: LinkType,
    ts: Timestamp,
    data: Vec<u8>,
    orig_len: u32,
}

fn read_frames(path: &Path) -> Vec<OwnedFrame> {
    let mut reader =
        CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(f) = reader
        .next_frame()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        out.push(OwnedFrame {
            link: f.link_type,
            ts: f.ts,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("note: DPI_CORPUS is not set; the corpus benchmarks are skipped");
        return;
    };
    let root = PathBuf::from(root);
    let paths: Vec<PathBuf> = CAPTURES.iter().map(|p| root.join(p)).collect();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    let frames: Vec<Vec<OwnedFrame>> = paths.iter().map(|p| read_frames(p)).collect();
    let packets: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let bytes: u64 = files.iter().map(|f| f.len() as u64).sum();
    eprintln!(
        "note: {} captures, {packets} frames, {bytes} bytes",
        CAPTURES.len()
    );

    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Elements(packets));
    g.bench_function("frames", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for file in &frames {
                let mut meter = FlowMeter::new(FlowConfig::default());
                for f in file {
                    meter.push_frame(f.link, f.ts, &f.data, f.orig_len, &mut |_| n += 1);
                }
                meter.flush(&mut |_| n += 1);
            }
            black_box(n)
        })
    });
    g.bench_function("file+frames", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for file in &files {
                let mut meter = FlowMeter::new(FlowConfig::default());
                let mut reader = CaptureReader::new(&file[..]).expect("read before");
                while let Ok(Some(f)) = reader.next_frame() {
                    let (link, ts, data, len) = (f.link_type, f.ts, f.data, f.orig_len);
                    meter.push_frame(link, ts, data, len, &mut |_| n += 1);
                }
                meter.flush(&mut |_| n += 1);
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
