//! `ShardedMeter::read_file` reads a classic pcap or a pcapng file with
//! every thread reading blocks of it. Against `FlowMeter::read_file` on
//! the same file: the same flows in the same order, the same counters and
//! the same error (message and offset), for a file whose records hold
//! records in their payloads (blocks that seem to start inside them), IP
//! fragments, time going back, a cross-flow announcement, a record too
//! long for a block read, a record header that is garbage, and a file cut
//! short; for pcapng also two interfaces of different time resolutions,
//! packet blocks with options, and blocks a split read leaves to one
//! reader (a new interface, a simple packet block, statistics, a second
//! section).

mod common;

use std::path::{Path, PathBuf};

use common::summary;

use dpi_core::expect::ExpectConfig;
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame, PcapNgWriter};
use dpi_core::{Flow, FlowConfig, FlowMeter, ShardedMeter, TcpInfo};

/// A pcap record: microsecond time, the frame, its length on the wire.
fn record(out: &mut Vec<u8>, micros: u64, frame: &[u8], wire: u32) {
    out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&wire.to_le_bytes());
    out.extend_from_slice(frame);
}

/// A payload made of pcap records, as a pcap file sent over the network
/// would hold: their headers chain as those of the file around them do.
fn pcap_in_payload(n: usize) -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..n {
        record(&mut p, 7_000_000 + i as u64, &[0x5a; 24], 24);
    }
    p
}

/// An IPv4 fragment of a UDP datagram: the first (with the UDP header) or
/// a later one.
fn fragment(id: u16, first: bool, src_port: u16) -> Vec<u8> {
    let mut f = udp_ipv4_frame([10, 7, 0, 1], src_port, [10, 7, 0, 2], 4789, &[0x11; 64]);
    // Ethernet (14) + IPv4: identification at 4, flags and offset at 6.
    f[18..20].copy_from_slice(&id.to_be_bytes());
    let flags_offset: u16 = if first { 0x2000 } else { 0x0010 };
    f[20..22].copy_from_slice(&flags_offset.to_be_bytes());
    f
}

/// The classic pcap file header: little-endian, microseconds, Ethernet.
fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out
}

/// A xorshift generator of 32-bit numbers from `seed`.
fn xorshift(seed: u32) -> impl FnMut() -> u32 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}

/// About 6,000 frames (2.5 MB) and their times in microseconds: many
/// flows over UDP and TCP, with all the above mixed in; `inner` is what
/// some datagrams carry (records of the file's own format).
fn frames(inner: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut t = 1_000_000u64;
    let mut rand = xorshift(0x9e37_79b9);
    for i in 0..6000u32 {
        t += u64::from(rand() % 50_000);
        let r = rand();
        let client = [10, (r >> 8) as u8 % 4, (r >> 16) as u8 % 8, 1];
        let port = 1024 + (r % 3000) as u16;
        let frame = match i % 11 {
            0 | 5 => udp_ipv4_frame(client, port, [192, 0, 2, 53], 53, inner),
            1 => fragment((i / 11) as u16, true, port),
            2 => fragment((i / 11) as u16, false, port),
            3 => tcp_ipv4_frame(client, port, [192, 0, 2, 80], 80, 1, 0, TcpInfo::SYN, b""),
            4 => tcp_ipv4_frame(
                client,
                port,
                [192, 0, 2, 80],
                80,
                2,
                1,
                TcpInfo::ACK | TcpInfo::PSH,
                b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
            ),
            6 => tcp_ipv4_frame(
                [192, 0, 2, 21],
                21,
                client,
                port,
                1,
                1,
                TcpInfo::ACK,
                b"229 Entering Extended Passive Mode (|||6446|)\r\n",
            ),
            7 => tcp_ipv4_frame(
                client,
                40000,
                [192, 0, 2, 21],
                6446,
                1,
                0,
                TcpInfo::SYN,
                b"",
            ),
            8 => {
                // Time goes back a little.
                udp_ipv4_frame(client, port, [192, 0, 2, 9], 123, &[0x23; 48])
            }
            _ => udp_ipv4_frame(
                client,
                port,
                [192, 0, 2, 99],
                9999,
                &vec![0x42; (r % 1400) as usize],
            ),
        };
        let at = if i % 11 == 8 { t - 20_000 } else { t };
        out.push((at, frame));
    }
    out
}

/// About 2.5 MB of pcap records of [`frames`].
fn file_body() -> Vec<u8> {
    let mut out = pcap_header(262_144);
    for (at, frame) in frames(&pcap_in_payload(40)) {
        record(&mut out, at, &frame, frame.len() as u32);
    }
    out
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn config() -> FlowConfig {
    FlowConfig {
        idle_timeout: std::time::Duration::from_secs(2),
        ..FlowConfig::default()
    }
}

/// Flows, counters and error of one `FlowMeter`.
fn single(path: &Path) -> (Vec<String>, String, Option<String>) {
    let mut meter = FlowMeter::new(config());
    let mut out = Vec::new();
    let s = meter.read_file(path, &mut |f| out.push(summary(&f)));
    meter.flush(&mut |f| out.push(summary(&f)));
    (
        out,
        format!("{:?}", s.stats),
        s.error.map(|e| e.to_string()),
    )
}

fn sharded(path: &Path, shards: usize) -> (Vec<String>, String, Option<String>) {
    let mut meter = ShardedMeter::new(config(), &ExpectConfig::default(), shards, |_| {
        |f: Flow| summary(&f)
    });
    let mut out = Vec::new();
    let s = meter.read_file(path, &mut |l| out.push(l));
    meter.flush(&mut |l| out.push(l));
    (
        out,
        format!("{:?}", s.stats),
        s.error.map(|e| e.to_string()),
    )
}

fn check(name: &str, bytes: &[u8], error: bool) {
    let path = write(name, bytes);
    let want = single(&path);
    assert!(want.0.len() > 1000, "{name}: {} flows", want.0.len());
    assert_eq!(want.2.is_some(), error, "{name}: {:?}", want.2);
    for shards in [2, 3, 4] {
        let got = sharded(&path, shards);
        assert_eq!(got.0.len(), want.0.len(), "{name}, {shards} shards");
        assert!(got.0 == want.0, "{name}, {shards} shards: flows differ");
        assert_eq!(got.1, want.1, "{name}, {shards} shards");
        assert_eq!(got.2, want.2, "{name}, {shards} shards");
    }
}

/// The offset of the first record at or past `offset` in a file of
/// [`file_body`]'s.
fn record_after(file: &[u8], offset: usize) -> usize {
    let mut at = 24;
    while at < offset {
        let caplen = u32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
    }
    at
}

#[test]
fn a_whole_file() {
    let body = file_body();
    assert!(body.len() > 2_000_000, "{}", body.len());
    check("split-whole.pcap", &body, false);
}

#[test]
fn a_file_cut_short() {
    let body = file_body();
    check("split-cut.pcap", &body[..body.len() - 30], true);
}

#[test]
fn a_long_record_then_more() {
    // A record of 300,000 bytes at about a third of the file, then the
    // rest: read on in sequence after it.
    let body = file_body();
    let at = record_after(&body, body.len() / 3);
    let mut file = body[..at].to_vec();
    // A datagram followed by 300,000 bytes of padding in its frame.
    let mut frame = udp_ipv4_frame([10, 1, 1, 1], 5555, [10, 2, 2, 2], 5555, b"long");
    frame.resize(300_000, 0);
    record(&mut file, 5_000_000_000, &frame, frame.len() as u32);
    file.extend_from_slice(&body[at..]);
    check("split-long.pcap", &file, false);
}

#[test]
fn a_garbage_record_header() {
    // A header claiming 100 MB in the middle of the file.
    let body = file_body();
    let at = record_after(&body, body.len() / 2);
    let mut file = body.clone();
    file[at + 8..at + 12].copy_from_slice(&100_000_000u32.to_le_bytes());
    check("split-garbage.pcap", &file, true);
}

/// pcapng files of [`frames`], little-endian.
mod ng {
    use super::*;

    /// A payload made of enhanced packet blocks, as a pcapng file sent
    /// over the network would hold.
    pub fn in_payload(n: usize) -> Vec<u8> {
        let mut w = PcapNgWriter::new();
        for i in 0..n {
            w.epb(0, 7_000_000 + i as u64, &[0x5a; 24], 24);
        }
        w.out
    }

    /// A section (big-endian when `be`) with interface 0 in microseconds
    /// and interface 1 in nanoseconds, 10 s later by its offset; then
    /// [`frames`] spread over both, every fifth block with an `epb_flags`
    /// option. `between(i, w)` may add blocks before frame `i`.
    pub fn file_in(be: bool, mut between: impl FnMut(usize, &mut PcapNgWriter)) -> Vec<u8> {
        let mut w = PcapNgWriter::new();
        w.shb(be)
            .idb(1, 262_144, None, None)
            .idb(1, 262_144, Some(9), Some(-10));
        for (i, (micros, frame)) in frames(&in_payload(40)).into_iter().enumerate() {
            between(i, &mut w);
            let (iface, units) = if i % 3 == 1 {
                (1, (micros + 10_000_000) * 1000)
            } else {
                (0, micros)
            };
            let flags = if be {
                1u32.to_be_bytes()
            } else {
                1u32.to_le_bytes()
            };
            let options: &[(u16, &[u8])] = if i % 5 == 0 { &[(2, &flags)] } else { &[] };
            w.epb_with_options(iface, units, &frame, frame.len() as u32, options);
        }
        w.out
    }

    /// [`file_in`] little-endian.
    pub fn file(between: impl FnMut(usize, &mut PcapNgWriter)) -> Vec<u8> {
        file_in(false, between)
    }

    /// The offset of the first block at or past `offset`.
    pub fn block_after(file: &[u8], offset: usize) -> usize {
        let mut at = 0;
        while at < offset {
            at += u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        }
        at
    }
}

#[test]
fn a_whole_pcapng_file() {
    for (name, be) in [
        ("split-whole.pcapng", false),
        ("split-whole-be.pcapng", true),
    ] {
        let file = ng::file_in(be, |_, _| {});
        assert!(file.len() > 2_000_000, "{}", file.len());
        let path = write(name, &file);
        assert!(ShardedMeter::<()>::reads_in_blocks(&path), "{name}");
        check(name, &file, false);
    }
}

#[test]
fn a_pcapng_file_cut_short() {
    let file = ng::file(|_, _| {});
    check("split-cut.pcapng", &file[..file.len() - 30], true);
}

#[test]
fn pcapng_blocks_left_to_one_reader() {
    // Each in a file of its own, about half way: statistics, a third
    // interface, simple packet blocks (timed by the frame before), a new
    // section whose interface is in nanoseconds. Each file is read on in
    // sequence from there.
    let spb = udp_ipv4_frame([10, 9, 9, 9], 999, [10, 8, 8, 8], 53, b"simple");
    let n = spb.len() as u32;
    type Add<'a> = &'a dyn Fn(&mut PcapNgWriter);
    let kinds: [(&str, Add); 4] = [
        ("split-isb.pcapng", &|w| {
            w.isb(0, 5);
        }),
        ("split-idb.pcapng", &|w| {
            w.idb(1, 0, Some(3), None);
        }),
        ("split-spb.pcapng", &|w| {
            w.spb(&spb, n).spb(&spb, n);
        }),
        ("split-shb.pcapng", &|w| {
            w.shb(false).idb(1, 0, Some(9), None).idb(1, 0, None, None);
        }),
    ];
    for (name, add) in kinds {
        let file = ng::file(|i, out| {
            if i == 3000 {
                add(out);
            }
        });
        check(name, &file, false);
    }
}

#[test]
fn a_pcapng_block_too_long_then_more() {
    let file = ng::file(|_, _| {});
    let at = ng::block_after(&file, file.len() / 3);
    let mut frame = udp_ipv4_frame([10, 1, 1, 1], 5555, [10, 2, 2, 2], 5555, b"long");
    frame.resize(300_000, 0);
    let mut w = PcapNgWriter {
        out: file[..at].to_vec(),
        ..PcapNgWriter::default()
    };
    w.epb(0, 5_000_000_000, &frame, frame.len() as u32);
    let mut long = w.out;
    long.extend_from_slice(&file[at..]);
    check("split-long.pcapng", &long, false);
}

#[test]
fn a_garbage_pcapng_block() {
    // A block whose trailing length differs from its leading one, then
    // one that claims 100 MB.
    let file = ng::file(|_, _| {});
    for (name, at, value) in [
        ("split-trailing.pcapng", file.len() / 2, None),
        ("split-huge.pcapng", file.len() / 4, Some(100_000_000u32)),
    ] {
        let at = ng::block_after(&file, at);
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        let mut bad = file.clone();
        match value {
            Some(v) => bad[at + 4..at + 8].copy_from_slice(&v.to_le_bytes()),
            None => bad[at + len - 4] ^= 4,
        }
        check(name, &bad, true);
    }
}

mod hostile {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// A frame picked by `r`: random bytes, records of the file's own
    /// format (`inner(n)`), or a datagram carrying some.
    fn random_frame(
        r: u32,
        rand: &mut impl FnMut() -> u32,
        inner: fn(usize) -> Vec<u8>,
    ) -> Vec<u8> {
        match r % 4 {
            0 => (0..(r >> 8) % 200).map(|_| rand() as u8).collect(),
            1 => inner(1 + (r as usize >> 8) % 30),
            _ => udp_ipv4_frame(
                [10, 0, (r >> 8) as u8, 1],
                1000 + (r >> 16) as u16 % 500,
                [10, 1, 0, 1],
                53,
                &inner((r as usize >> 4) % 20),
            ),
        }
    }

    /// `file` with bytes past its first `keep` overwritten and `cut` bytes
    /// cut off its end: the split read gives what one reader gives.
    fn damaged_reads_the_same(
        name: &str,
        mut file: Vec<u8>,
        keep: usize,
        damage: Vec<(u32, u8)>,
        cut: usize,
    ) -> Result<(), TestCaseError> {
        let n = file.len();
        for (at, byte) in damage {
            let at = keep + at as usize % (n - keep);
            file[at] = byte;
        }
        file.truncate(n - cut);
        let path = write(name, &file);
        let want = single(&path);
        let got = sharded(&path, 2);
        prop_assert!(got.0 == want.0, "flows differ");
        prop_assert_eq!(got.1, want.1);
        prop_assert_eq!(got.2, want.2);
        std::fs::remove_file(&path).ok();
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Records of any content, some bytes of the file then overwritten
        /// at random: the split read gives what one reader gives, error
        /// included.
        #[test]
        fn any_damage_reads_the_same(
            seed in any::<u32>(),
            damage in proptest::collection::vec((any::<u32>(), any::<u8>()), 0..12),
            cut in 0usize..64,
        ) {
            let mut rand = xorshift(seed);
            let mut file = pcap_header(65_535);
            let mut t = 1_000_000u64;
            while file.len() < 300_000 {
                let r = rand();
                t += u64::from(r % 10_000);
                let frame = random_frame(r, &mut rand, pcap_in_payload);
                record(&mut file, t, &frame, frame.len() as u32);
            }
            damaged_reads_the_same(&format!("split-hostile-{seed}.pcap"), file, 24, damage, cut)?;
        }

        /// The same for pcapng: enhanced packet blocks of any content,
        /// some holding blocks in their payloads, other blocks here and
        /// there (simple packets, statistics, a new interface).
        #[test]
        fn any_damage_reads_the_same_pcapng(
            seed in any::<u32>(),
            damage in proptest::collection::vec((any::<u32>(), any::<u8>()), 0..12),
            cut in 0usize..64,
        ) {
            let mut rand = xorshift(seed);
            let mut w = PcapNgWriter::new();
            w.shb(false).idb(1, 0, None, None).idb(1, 0, Some(0x86), Some(5));
            let mut t = 1_000_000u64;
            while w.out.len() < 300_000 {
                let r = rand();
                t += u64::from(r % 10_000);
                let frame = random_frame(r, &mut rand, ng::in_payload);
                let len = frame.len() as u32;
                let flags = 1u32.to_le_bytes();
                let options: &[(u16, &[u8])] = if r & 0x100 != 0 { &[(2, &flags)] } else { &[] };
                match (r >> 24) % 64 {
                    0 => w.spb(&frame, len),
                    1 => w.isb(0, t),
                    2 => w.idb(1, 0, Some(9), None),
                    _ => w.epb_with_options((r >> 30) & 1, t, &frame, len, options),
                };
            }
            damaged_reads_the_same(&format!("split-hostile-{seed}.pcapng"), w.out, 0, damage, cut)?;
        }
    }
}
