//! The reader's tests: pcap and pcapng files built byte by byte, every
//! truncation, mutations, and the shared corpus when present.

use super::pcap::*;
use super::pcapng::*;
use super::*;
use proptest::prelude::*;

fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// One record for the test writers: seconds, fraction, bytes, wire length.
#[derive(Clone, Debug, PartialEq)]
struct Rec {
    sec: u32,
    frac: u32,
    data: Vec<u8>,
    orig: u32,
}

fn rec(sec: u32, frac: u32, data: &[u8], orig: u32) -> Rec {
    Rec {
        sec,
        frac,
        data: data.to_vec(),
        orig,
    }
}

/// A classic pcap file header (version 2.4).
pub(crate) fn pcap_header(be: bool, nanos: bool, link: u32, snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put32(
        &mut out,
        if nanos { PCAP_MAGIC_NS } else { PCAP_MAGIC_US },
        be,
    );
    put16(&mut out, 2, be);
    put16(&mut out, 4, be);
    put32(&mut out, 0, be);
    put32(&mut out, 0, be);
    put32(&mut out, snaplen, be);
    put32(&mut out, link, be);
    out
}

fn pcap_record(out: &mut Vec<u8>, be: bool, r: &Rec) {
    put32(out, r.sec, be);
    put32(out, r.frac, be);
    put32(out, r.data.len() as u32, be);
    put32(out, r.orig, be);
    out.extend_from_slice(&r.data);
}

fn pcap(be: bool, nanos: bool, link: u32, recs: &[Rec]) -> Vec<u8> {
    let mut out = pcap_header(be, nanos, link, 65535);
    for r in recs {
        pcap_record(&mut out, be, r);
    }
    out
}

use crate::testing::PcapNgWriter as Ng;

#[derive(Clone, Debug, PartialEq)]
struct Owned {
    data: Vec<u8>,
    orig_len: u32,
    link: u32,
    ts: u64,
    offset: u64,
    interface: u32,
}

fn drain<R: Read>(mut r: CaptureReader<R>) -> (Vec<Owned>, Option<Error>) {
    let mut frames = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Some(f)) => frames.push(Owned {
                data: f.data.to_vec(),
                orig_len: f.orig_len,
                link: f.link_type.0,
                ts: f.ts.as_nanos(),
                offset: f.offset,
                interface: f.interface,
            }),
            Ok(None) => break,
            Err(e) => {
                // After an error the reader stays at its end.
                assert!(matches!(r.next_frame(), Ok(None)));
                return (frames, Some(e));
            }
        }
    }
    assert!(matches!(r.next_frame(), Ok(None)));
    (frames, None)
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Owned>, Option<Error>), Error> {
    CaptureReader::new(bytes).map(drain)
}

fn message(e: &Error) -> String {
    match e.kind() {
        crate::ErrorKind::Capture { message, .. } => message.clone(),
        other => format!("{other:?}"),
    }
}

/// A reader that hands out at most `chunk` bytes per call.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn pcap_byte_orders_and_resolutions() {
    for be in [false, true] {
        for nanos in [false, true] {
            let recs = [
                rec(10, 250, b"abcdef", 60),
                rec(11, 999, b"", 0),
                rec(12, 7, b"xyz", 3),
            ];
            let file = pcap(be, nanos, 113, &recs);
            let r = CaptureReader::new(&file[..]).unwrap();
            assert_eq!(
                r.format(),
                CaptureFormat::Pcap {
                    nanos,
                    big_endian: be
                }
            );
            assert_eq!(r.interfaces().len(), 1);
            assert_eq!(r.interfaces()[0].link_type, LinkType::LINUX_SLL);
            assert_eq!(r.interfaces()[0].snaplen, 65535);
            assert_eq!(r.offset(), 24);
            let (frames, err) = drain(r);
            assert!(err.is_none(), "{err:?}");
            let mult = if nanos { 1 } else { 1_000 };
            let mut offset = 24u64;
            assert_eq!(frames.len(), 3);
            for (f, r) in frames.iter().zip(&recs) {
                assert_eq!(f.data, r.data);
                assert_eq!(f.orig_len, r.orig);
                assert_eq!(f.link, 113);
                assert_eq!(
                    f.ts,
                    u64::from(r.sec) * 1_000_000_000 + u64::from(r.frac) * mult
                );
                assert_eq!(f.offset, offset);
                assert_eq!(f.interface, 0);
                offset += 16 + r.data.len() as u64;
            }
        }
    }
}

#[test]
fn old_pcap_versions_swap_lengths() {
    // (minor version, first length field, second, captured, wire)
    let cases = [
        (2u16, 10u32, 3u32, 3usize, 10u32),
        (2, 3, 10, 10, 3),
        (3, 10, 3, 3, 10),
        (3, 3, 10, 3, 10),
        (4, 3, 10, 3, 10),
    ];
    for (minor, first, second, captured, wire) in cases {
        let mut file = pcap_header(false, false, 1, 65535);
        file[6] = minor as u8;
        put32(&mut file, 1, false);
        put32(&mut file, 2, false);
        put32(&mut file, first, false);
        put32(&mut file, second, false);
        file.extend_from_slice(&[7; 10][..captured]);
        let (frames, err) = read_all(&file).unwrap();
        assert!(err.is_none(), "2.{minor}: {err:?}");
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].data.len(), frames[0].orig_len),
            (captured, wire),
            "2.{minor}"
        );
        assert_eq!(frames[0].ts, 1_000_002_000);
    }
}

#[test]
fn pcap_link_type_ignores_fcs_bits() {
    let file = pcap(
        false,
        false,
        1 | (1 << 28) | (2 << 26),
        &[rec(1, 1, b"a", 1)],
    );
    let (frames, err) = read_all(&file).unwrap();
    assert!(err.is_none());
    assert_eq!(frames[0].link, 1);
}

#[test]
fn pcapng_sections_and_interfaces() {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 4, None, None)
        .idb(101, 0, Some(9), Some(10))
        .block(0x7000_0001, b"skip me")
        .epb(0, 1_500_000, b"eth-frame", 100)
        .epb(1, 2_000_000_123, b"raw", 3)
        .spb(b"hello", 5)
        .opb(1, 5, b"old", 9)
        .shb(true)
        .idb(113, 65535, Some(0x80 | 10), Some(-1))
        .epb(0, 3 * 1024 + 512, b"sll", 3)
        .spb(b"tiny", 4)
        .epb(1, 0, b"nope", 4);
    let file = ng.out.clone();
    let o = |i: usize| ng.offsets[i] as u64;
    let mut r = CaptureReader::new(&file[..]).unwrap();
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(
        (f.data, f.orig_len, f.link_type, f.interface),
        (&b"eth-frame"[..], 100, LinkType::ETHERNET, 0)
    );
    assert_eq!((f.ts.as_nanos(), f.offset), (1_500_000_000, o(4)));
    assert_eq!(r.interfaces().len(), 2);
    assert_eq!(r.interfaces()[1].ts_offset, 10);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(
        (f.data, f.link_type, f.interface),
        (&b"raw"[..], LinkType::RAW, 1)
    );
    assert_eq!((f.ts.as_nanos(), f.offset), (12_000_000_123, o(5)));
    // Simple packet: interface 0, cut to its snap length, time of the last frame.
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!((f.data, f.orig_len, f.interface), (&b"hell"[..], 5, 0));
    assert_eq!((f.ts.as_nanos(), f.offset), (12_000_000_123, o(6)));
    // Obsolete packet block on interface 1.
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(
        (f.data, f.orig_len, f.interface, f.link_type),
        (&b"old"[..], 9, 1, LinkType::RAW)
    );
    assert_eq!((f.ts.as_nanos(), f.offset), (10_000_000_005, o(7)));
    // Second section, big-endian, binary fractions, negative offset.
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(
        (f.data, f.link_type, f.interface),
        (&b"sll"[..], LinkType::LINUX_SLL, 0)
    );
    assert_eq!((f.ts.as_nanos(), f.offset), (2_500_000_000, o(10)));
    assert_eq!(r.interfaces().len(), 1);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!((f.data, f.ts.as_nanos()), (&b"tiny"[..], 2_500_000_000));
    let e = r.next_frame().unwrap_err();
    assert_eq!(e.offset(), Some(o(12)));
    assert!(message(&e).contains("interface 1"), "{e}");
    assert!(r.next_frame().unwrap().is_none());
}

#[test]
fn pcapng_packet_before_any_interface() {
    let mut ng = Ng::new();
    ng.shb(false).spb(b"x", 1);
    let (frames, err) = read_all(&ng.out).unwrap();
    assert!(frames.is_empty());
    let err = err.unwrap();
    assert_eq!(err.offset(), Some(ng.offsets[1] as u64));
    assert!(message(&err).contains("interface 0"), "{err}");
}

#[test]
fn bad_headers() {
    let mut short_pcap = pcap_header(false, false, 1, 65535);
    short_pcap.truncate(10);
    let mut huge_shb = Ng::new();
    huge_shb.shb(false);
    huge_shb.out[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let mut bad_bom = Ng::new();
    bad_bom.shb(false);
    bad_bom.out[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty file (0 bytes)"),
        (b"ab", "not a pcap or pcapng file (only 2 bytes)"),
        (
            b"GET / HTTP/1.1\r\n",
            "not a pcap or pcapng file (magic 47 45 54 20)",
        ),
        (
            &short_pcap,
            "file ends inside the pcap file header: 10 bytes present, 24 needed",
        ),
        (&bad_bom.out, "unknown byte-order magic"),
        (
            &huge_shb.out,
            "record of 2147483632 bytes exceeds the limit",
        ),
        (
            &bad_bom.out[..7],
            "file ends inside a record: 7 bytes present",
        ),
    ];
    for (bytes, want) in cases {
        let e = CaptureReader::new(*bytes).err().expect("an error");
        assert_eq!(e.offset(), Some(0));
        assert!(message(&e).contains(want), "{e} does not say {want}");
    }
}

#[test]
fn bad_records() {
    let mut huge = pcap(false, false, 1, &[rec(1, 1, b"ok", 2)]);
    put32(&mut huge, 1, false);
    put32(&mut huge, 1, false);
    put32(&mut huge, 0xffff_fff0, false);
    put32(&mut huge, 0xffff_fff0, false);
    huge.extend_from_slice(&[0; 64]);
    let mut cut = pcap(false, false, 1, &[]);
    put32(&mut cut, 1, false);
    put32(&mut cut, 1, false);
    put32(&mut cut, 1_000_000, false);
    put32(&mut cut, 1_000_000, false);
    cut.extend_from_slice(&[0; 10]);
    let mut odd_len = Ng::new();
    odd_len
        .shb(false)
        .idb(1, 0, None, None)
        .epb(0, 0, b"abcd", 4);
    let at = odd_len.offsets[2];
    odd_len.out[at + 4] = 13;
    let mut caplen_past_end = Ng::new();
    caplen_past_end
        .shb(false)
        .idb(1, 0, None, None)
        .epb(0, 0, b"abcd", 4);
    let at2 = caplen_past_end.offsets[2];
    caplen_past_end.out[at2 + 20] = 200;
    let cases: &[(&[u8], usize, u64, &str)] = &[
        (&huge, 1, 24 + 18, "exceeds the limit of 67108864 bytes"),
        (
            &cut,
            0,
            24,
            "file ends inside a record: 26 bytes present, 1000016 needed",
        ),
        (
            &odd_len.out,
            0,
            at as u64,
            "invalid enhanced packet block length 13",
        ),
        (
            &caplen_past_end.out,
            0,
            at2 as u64,
            "invalid enhanced packet block",
        ),
    ];
    for (bytes, n, offset, want) in cases {
        let (frames, err) = read_all(bytes).unwrap();
        assert_eq!(frames.len(), *n);
        let e = err.expect("an error");
        assert_eq!(e.offset(), Some(*offset), "{e}");
        assert!(message(&e).contains(want), "{e} does not say {want}");
    }
}

#[test]
fn a_block_whose_fields_run_past_its_end_reads_the_same_from_any_buffer() {
    // An enhanced packet block whose captured length runs past the block:
    // pcap-parser asks for more bytes, or says its buffer is too small,
    // by what else the buffer holds. The error is the same however the
    // file is read: whole, in small reads, with small buffers, or from
    // that block on after the leading blocks (as a split read hands the
    // rest of a file over).
    let mut w = Ng::new();
    w.shb(false).idb(1, 0, None, None);
    for i in 0..3 {
        w.epb(0, i, &[0x11; 60], 60);
    }
    w.epb(0, 0, &[0x22; 72], 72);
    // More than the reader's buffer after it, so that the buffer is full
    // when the block is parsed.
    for i in 0..4000 {
        w.epb(0, i, &[0x33; 60], 60);
    }
    let at = w.offsets[5];
    w.out[at + 20..at + 24].copy_from_slice(&184u32.to_le_bytes());
    let lead = &w.out[..w.offsets[2]];
    fn message_of<R: Read>(reader: Result<CaptureReader<R>, Error>, frames: usize) -> String {
        let (got, err) = drain(reader.unwrap());
        assert_eq!(got.len(), frames);
        message(&err.expect("an error"))
    }
    let mut seen = Vec::new();
    for size in [64, 4096, INITIAL_BUFFER] {
        for chunk in [7, 1 << 20] {
            let input = Chunked {
                data: &w.out,
                chunk,
            };
            seen.push(message_of(CaptureReader::with_buffer_size(input, size), 3));
        }
    }
    let rest = std::io::BufReader::new(lead.chain(&w.out[at..]));
    seen.push(message_of(CaptureReader::new(rest), 0));
    seen.dedup();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("fields run past its end"), "{}", seen[0]);
}

/// A file, where each record after the file header starts, where each
/// frame's record ends, and the length of the file header.
type Truncation<'a> = (&'a [u8], &'a [usize], &'a [usize], usize);

#[test]
fn truncation_at_every_byte() {
    let pc = pcap(
        true,
        false,
        1,
        &[
            rec(1, 2, b"first", 5),
            rec(3, 4, b"", 0),
            rec(5, 6, b"third!", 6),
        ],
    );
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 0, Some(9), None)
        .epb(0, 7, b"one", 3)
        .block(0x7000_0001, b"")
        .spb(b"two", 3)
        .shb(true)
        .idb(101, 0, None, None)
        .opb(0, 9, b"three", 5);
    let mut ng_ends = ng.offsets[1..].to_vec();
    ng_ends.push(ng.out.len());
    let pc_starts = [24usize, 45, 61];
    let pc_frame_ends = [45usize, 61, pc.len()];
    let ng_frame_ends = [ng_ends[2], ng_ends[4], ng_ends[7]];
    let cases: [Truncation; 2] = [
        (&pc, &pc_starts, &pc_frame_ends, 24),
        (&ng.out, &ng.offsets[1..], &ng_frame_ends, ng.offsets[1]),
    ];
    for (file, starts, frame_ends, header) in cases {
        let (full, err) = read_all(file).unwrap();
        assert!(err.is_none(), "{err:?}");
        assert_eq!(full.len(), frame_ends.len());
        for cut in 0..=file.len() {
            let Ok((frames, err)) = read_all(&file[..cut]) else {
                assert!(cut < header, "cut {cut}");
                continue;
            };
            assert!(cut >= header, "cut {cut}");
            assert_eq!(frames[..], full[..frames.len()], "cut {cut}");
            let whole = frame_ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(frames.len(), whole, "cut {cut}");
            if starts.contains(&cut) || cut == file.len() {
                assert!(err.is_none(), "cut {cut}: {err:?}");
            } else {
                let e = err.unwrap_or_else(|| panic!("cut {cut}: no error"));
                assert!(
                    message(&e).contains("file ends inside a record"),
                    "cut {cut}: {e}"
                );
                let start = starts.iter().filter(|&&s| s < cut).max().unwrap();
                assert_eq!(e.offset(), Some(*start as u64), "cut {cut}");
            }
        }
    }
}

#[test]
fn records_larger_than_the_buffer_and_short_reads() {
    let big = vec![0x5a; INITIAL_BUFFER + 1000];
    let mut recs = vec![rec(1, 0, &big, big.len() as u32)];
    for i in 0..3000u32 {
        let len = (i % 300) as usize;
        recs.push(rec(i, i, &vec![i as u8; len], len as u32 + 4));
    }
    let file = pcap(false, true, 1, &recs);
    for (chunk, buffer) in [
        (1usize << 20, INITIAL_BUFFER),
        (4093, INITIAL_BUFFER),
        (777, 100),
    ] {
        let source = Chunked { data: &file, chunk };
        let r = CaptureReader::with_buffer_size(source, buffer).unwrap();
        let (frames, err) = drain(r);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames.len(), recs.len());
        let mut offset = 24u64;
        for (f, r) in frames.iter().zip(&recs) {
            assert_eq!(f.data, r.data);
            assert_eq!(f.offset, offset);
            offset += 16 + r.data.len() as u64;
        }
    }
}

#[test]
fn io_errors_keep_their_cause() {
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let file = pcap(false, false, 1, &[rec(1, 1, b"abc", 3)]);
    let (frames, err) = drain(CaptureReader::new(Failing(&file)).unwrap());
    assert_eq!(frames.len(), 1);
    match err.unwrap().kind() {
        crate::ErrorKind::Io(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
    let e = CaptureReader::new(Failing(b"")).err().unwrap();
    assert!(matches!(e.kind(), crate::ErrorKind::Io(_)));
}

#[test]
fn timestamp_scaling() {
    let cases: &[(u64, u8, i64, u64)] = &[
        (1_500_000, 6, 0, 1_500_000_000),
        (1_500_000_001, 9, 0, 1_500_000_001),
        (15, 1, 0, 1_500_000_000),
        (1_500_000_000_123, 12, 0, 1_500_000_000),
        (u64::MAX, 12, 0, u64::MAX / 1000),
        (u64::MAX, 127, 0, 0),
        (2048, 0x80 | 10, 0, 2_000_000_000),
        (1, 0x80 | 127, 0, 0),
        // Saturated at the latest timestamp (`Timestamp::MAX`).
        (u64::MAX, 0x80, 0, u64::MAX - 1),
        (u64::MAX, 0, i64::MAX, u64::MAX - 1),
        (5, 0, -10, 0),
        (5, 0, i64::MIN, 0),
        (1_000_000, 6, 7, 8_000_000_000),
    ];
    for &(raw, res, off, want) in cases {
        assert_eq!(
            scaled_timestamp(raw, res, off).as_nanos(),
            want,
            "{raw} {res} {off}"
        );
    }
}

#[test]
fn timestamps_out_of_range() {
    let cases: &[(u64, u8, i64, Option<u64>)] = &[
        (1_500_000, 6, 0, Some(1_500_000_000)),
        (u64::MAX / 1000, 6, 0, Some(u64::MAX / 1000 * 1000)),
        (u64::MAX / 1000 + 1, 6, 0, None),
        (u64::MAX, 0x80, 0, None),
        (1, 6, i64::MAX, None),
        (1, 6, (u64::MAX / 1_000_000_000) as i64 + 1, None),
        (5, 0, -5, Some(0)),
        (5, 0, -6, None),
        (5, 0, i64::MIN, None),
    ];
    for &(raw, res, off, want) in cases {
        assert_eq!(
            checked_scaled_timestamp(raw, res, off).map(|t| t.as_nanos()),
            want,
            "{raw} {res} {off}"
        );
    }
    // A pcapng interface whose if_tsoffset takes every stamp past 2554.
    let mut w = Ng::new();
    w.shb(false)
        .idb(1, 0, None, Some(0))
        .idb(1, 0, None, Some(i64::MAX))
        .epb(0, 1, b"ok", 2)
        .epb(1, 1, b"bad", 3)
        .epb(0, 2, b"never", 5);
    let (frames, err) = read_all(&w.out).unwrap();
    assert_eq!(frames.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.offset(), Some(w.offsets[4] as u64));
    let text = message(&err);
    assert!(
        text.contains("interface 1") && text.contains("if_tsoffset of 9223372036854775807 s"),
        "{text}"
    );
}

#[test]
fn trailing_block_lengths_are_checked_on_every_block() {
    for (block, name) in [
        (0, "section header block"),
        (1, "interface description block"),
        (2, "enhanced packet block"),
        (3, "section header block"),
    ] {
        let mut w = Ng::new();
        w.shb(false).idb(1, 0, None, None).epb(0, 5, b"abcd", 4);
        w.shb(true).idb(1, 0, None, None).epb(0, 6, b"efgh", 4);
        let good = read_all(&w.out).unwrap();
        assert!(good.1.is_none() && good.0.len() == 2);
        let mut bad = w.out.clone();
        let start = w.offsets[block];
        let end = w.offsets.get(block + 1).copied().unwrap_or(bad.len());
        bad[end - 4] ^= 0x04;
        // A damaged first section header is refused when the file is opened.
        let (frames, err) = match read_all(&bad) {
            Ok(r) => r,
            Err(e) => (Vec::new(), Some(e)),
        };
        let err = err.unwrap_or_else(|| panic!("block {block}: no error"));
        assert_eq!(err.offset(), Some(start as u64), "block {block}");
        let text = message(&err);
        assert!(
            text.contains(&format!("{name}: trailing block length")),
            "{text}"
        );
        assert_eq!(frames.len(), usize::from(block == 3), "block {block}");
    }
}

#[test]
fn reader_is_send() {
    fn send<T: Send>() {}
    send::<CaptureReader<std::fs::File>>();
}

/// Frame counts over the shared corpus, one line per file (path, frames,
/// error, first and last timestamp in ns), to compare with `capinfos -c -M`: `DPI_CORPUS=... cargo test -p dpi-core -- --ignored corpus_frame_counts --nocapture`.
#[test]
#[ignore]
fn corpus_frame_counts() {
    let Some(root) = std::env::var_os("DPI_CORPUS") else {
        eprintln!("DPI_CORPUS is not set; nothing to do");
        return;
    };
    let root = std::path::PathBuf::from(root);
    let mut files = 0;
    for dir in ["ndpi/pcap", "zeek/pcap"] {
        let dir = root.join(dir);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            files += 1;
            let (frames, err) = match CaptureReader::open(&path) {
                Err(e) => (Vec::new(), Some(e)),
                Ok(r) => drain(r),
            };
            let err = err
                .map(|e| e.with_path(&path).to_string())
                .unwrap_or_default();
            let first = frames.first().map_or(0, |f| f.ts);
            let last = frames.last().map_or(0, |f| f.ts);
            println!(
                "{}\t{}\t{err}\t{first}\t{last}",
                path.display(),
                frames.len()
            );
        }
    }
    assert!(files > 0, "no capture files under {}", root.display());
}

fn arb_rec(nanos: bool) -> impl Strategy<Value = Rec> {
    let frac_max: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };
    (
        any::<u32>(),
        0..frac_max,
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<u16>(),
    )
        .prop_map(|(sec, frac, data, extra)| {
            let orig = data.len() as u32 + u32::from(extra);
            Rec {
                sec,
                frac,
                data,
                orig,
            }
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        if let Ok(r) = CaptureReader::new(&bytes[..]) {
            let _ = drain(r);
        }
    }

    #[test]
    fn arbitrary_records_never_panic(
        be in any::<bool>(),
        ng in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut file = if ng {
            let mut w = Ng::new();
            w.shb(be).idb(1, 0, None, None);
            w.out
        } else {
            pcap_header(be, false, 1, 65535)
        };
        file.extend_from_slice(&body);
        let (frames, _) = read_all(&file).unwrap();
        prop_assert!(frames.len() <= body.len() / 12);
    }

    #[test]
    fn mutated_pcapng_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut w = Ng::new();
        w.shb(false)
            .idb(1, 0, Some(9), Some(3))
            .epb(0, 12, b"data", 4)
            .spb(b"spb", 3)
            .opb(0, 1, b"opb", 3)
            .shb(true)
            .idb(101, 0, Some(0x85), None)
            .epb(0, 99, b"be", 2);
        let mut file = w.out;
        for (i, v) in flips {
            let at = i.index(file.len());
            file[at] = v;
        }
        if let Ok(r) = CaptureReader::new(&file[..]) {
            let _ = drain(r);
        }
    }

    #[test]
    fn pcap_round_trip(
        be in any::<bool>(),
        nanos in any::<bool>(),
        link in 0u32..300,
        recs in proptest::collection::vec(arb_rec(true), 0..40),
        chunk in 1usize..5000,
        buffer in 0usize..2000,
    ) {
        let recs: Vec<Rec> = recs
            .into_iter()
            .map(|mut r| {
                if !nanos {
                    r.frac %= 1_000_000;
                }
                r
            })
            .collect();
        let file = pcap(be, nanos, link, &recs);
        let source = Chunked { data: &file, chunk };
        let (frames, err) = drain(CaptureReader::with_buffer_size(source, buffer).unwrap());
        prop_assert!(err.is_none());
        prop_assert_eq!(frames.len(), recs.len());
        let mult = if nanos { 1 } else { 1_000 };
        let mut offset = 24u64;
        for (f, r) in frames.iter().zip(&recs) {
            prop_assert_eq!(&f.data, &r.data);
            prop_assert_eq!(f.orig_len, r.orig);
            prop_assert_eq!(f.link, link);
            prop_assert_eq!(f.ts, u64::from(r.sec) * 1_000_000_000 + u64::from(r.frac) * mult);
            prop_assert_eq!(f.offset, offset);
            offset += 16 + r.data.len() as u64;
        }
    }

    #[test]
    fn pcapng_round_trip(
        be in any::<bool>(),
        recs in proptest::collection::vec((any::<bool>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..40),
    ) {
        // Microsecond stamps of interface 0 stay below 2554 (later ones are errors).
        let recs: Vec<(bool, u64, Vec<u8>)> = recs
            .into_iter()
            .map(|(second, ts, data)| (second, if second { ts } else { ts % (u64::MAX / 1000 + 1) }, data))
            .collect();
        let mut w = Ng::new();
        w.shb(be).idb(1, 0, None, None).idb(228, 0, Some(9), None);
        for (second, ts, data) in &recs {
            w.epb(u32::from(*second), *ts, data, data.len() as u32);
        }
        let (frames, err) = read_all(&w.out).unwrap();
        prop_assert!(err.is_none());
        prop_assert_eq!(frames.len(), recs.len());
        for (i, (f, (second, ts, data))) in frames.iter().zip(&recs).enumerate() {
            prop_assert_eq!(&f.data, data);
            prop_assert_eq!(f.interface, u32::from(*second));
            prop_assert_eq!(f.link, if *second { 228 } else { 1 });
            let want = if *second { *ts } else { ts * 1_000 };
            prop_assert_eq!(f.ts, want);
            prop_assert_eq!(f.offset, w.offsets[i + 3] as u64);
        }
    }
}
