//! The least work any flow classifier does over a classic pcap file, in
//! stages, to measure how much of a time budget is left for classifying.
//!
//! ```text
//! capture-floor [--stage read|walk|decode|table|lines] [--map] [-o OUT] FILE
//! ```
//!
//! Each stage does everything the one before it does, and more:
//!
//! - `read`: the file read with `read(2)` in 1 MiB pieces (the copy out of
//!   the page cache that any reader pays), or with `--map` mapped into memory
//!   (`MAP_POPULATE`) and one byte of each page read;
//! - `walk`: every record header read and the records stepped through;
//! - `decode`: Ethernet (and 802.1Q tags), IPv4 or IPv6, and the TCP or UDP
//!   ports of every packet, folded into a checksum;
//! - `table`: every packet looked up by its bidirectional 5-tuple in a hash
//!   table of flows (hashbrown, foldhash) that counts packets and bytes per
//!   direction; a flow ends when it has been idle for 600 s or when a TCP
//!   SYN follows its FIN or RST, as `dpi classify` ends them;
//! - `lines` (the default): one text line per flow written to OUT
//!   (`/dev/null` by default) in 64 KiB writes: its 5-tuple in hex, its
//!   counters and its first and last times.
//!
//! It classifies nothing and keeps no payload: whatever it takes, a
//! classifier that writes a record per flow takes at least as long. It
//! reads records and headers with a few lines of its own rather than with
//! `dpi_core::capture` and `dpi_core::decode`, on purpose: those handle
//! every link type, tunnel, fragment and damaged record, and the floor
//! must not carry that cost, or it would measure dpi rather than the
//! least any reader pays. Only
//! Ethernet pcap files are read (what `benches/compare.sh` builds); the flow
//! count and a checksum go to standard error so that no stage is optimised
//! away.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

/// A flow idle this long ends (nanoseconds), as at `dpi classify`'s default.
const IDLE_NS: u64 = 600 * 1_000_000_000;
const PIECE: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Read,
    Walk,
    Decode,
    Table,
    Lines,
}

/// Both endpoints in a fixed order, so that both directions find one flow.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    low: [u8; 16],
    high: [u8; 16],
    low_port: u16,
    high_port: u16,
    proto: u8,
}

#[derive(Clone, Copy)]
struct Counters {
    first: u64,
    last: u64,
    packets: [u32; 2],
    bytes: [u64; 2],
    ended: bool,
}

/// What one packet gives the table.
struct Packet {
    key: Key,
    /// 0 when the packet goes from `low` to `high`.
    dir: usize,
    syn_only: bool,
    fin_or_rst: bool,
}

struct Floor<W: Write> {
    stage: Stage,
    flows: HashMap<Key, Counters>,
    written: u64,
    checksum: u64,
    out: W,
    line: Vec<u8>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture-floor: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut stage = Stage::Lines;
    let mut out_path = String::from("/dev/null");
    let mut map = false;
    let mut input = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stage" => {
                stage = match args.next().as_deref() {
                    Some("read") => Stage::Read,
                    Some("walk") => Stage::Walk,
                    Some("decode") => Stage::Decode,
                    Some("table") => Stage::Table,
                    Some("lines") => Stage::Lines,
                    other => return Err(format!("unknown stage {other:?}")),
                }
            }
            "--map" => map = true,
            "-o" => out_path = args.next().ok_or("-o needs a file")?,
            "-h" | "--help" => {
                println!(
                    "usage: capture-floor [--stage read|walk|decode|table|lines] [--map] [-o OUT] FILE"
                );
                return Ok(());
            }
            _ if input.is_none() => input = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let path = input.ok_or("usage: capture-floor [--stage STAGE] [--map] [-o OUT] FILE")?;
    let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let out = File::create(&out_path).map_err(|e| format!("{out_path}: {e}"))?;
    let mut floor = Floor {
        stage,
        flows: HashMap::with_capacity(1 << 16),
        written: 0,
        checksum: 0,
        out: BufWriter::with_capacity(1 << 16, out),
        line: Vec::with_capacity(160),
    };
    let packets = if map {
        floor.map_file(&file)
    } else {
        floor.read_file(file)
    }
    .map_err(|e| format!("{path}: {e}"))?;
    floor.finish().map_err(|e| format!("{out_path}: {e}"))?;
    eprintln!(
        "{packets} packets, {} flows, checksum {:016x}",
        floor.written, floor.checksum
    );
    Ok(())
}

impl<W: Write> Floor<W> {
    /// Reads the whole file with `read(2)` and steps through its records;
    /// returns how many.
    fn read_file(&mut self, mut file: File) -> Result<u64, String> {
        let mut buf = vec![0u8; PIECE];
        let mut start = 0usize;
        let mut end = 0usize;
        let mut header = None;
        let mut records = 0u64;
        loop {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end == buf.len() {
                // A record longer than the buffer: make room for it.
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read(&mut buf[end..]).map_err(|e| e.to_string())?;
            if n == 0 {
                return match end - start {
                    _ if header.is_none() && self.stage != Stage::Read => {
                        Err("shorter than a pcap header".into())
                    }
                    0 => Ok(records),
                    left => Err(format!("{left} bytes of a truncated record at the end")),
                };
            }
            end += n;
            self.checksum = self.checksum.wrapping_add(u64::from(buf[end - 1]));
            if self.stage == Stage::Read {
                start = end;
                continue;
            }
            let format = match header {
                Some(h) => h,
                None if end < 24 => continue,
                None => {
                    start = 24;
                    *header.insert(global_header(&buf[..24])?)
                }
            };
            start += self.walk(&buf[start..end], format, &mut records)?;
        }
    }

    /// Maps the whole file and steps through its records; returns how many.
    fn map_file(&mut self, file: &File) -> Result<u64, String> {
        // SAFETY: the mapping is only read, and the file is one this
        // program was asked to measure; a file truncated by another process
        // while mapped would fault, which a benchmark may accept.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(file) }
            .map_err(|e| e.to_string())?;
        if self.stage == Stage::Read {
            for page in map.chunks(4096) {
                self.checksum = self.checksum.wrapping_add(u64::from(page[0]));
            }
            return Ok(0);
        }
        let format = global_header(map.get(..24).ok_or("shorter than a pcap header")?)?;
        let mut records = 0;
        let used = self.walk(&map[24..], format, &mut records)?;
        match map.len() - 24 - used {
            0 => Ok(records),
            left => Err(format!("{left} bytes of a truncated record at the end")),
        }
    }

    /// Steps through the whole records at the start of `data`; returns the
    /// bytes they take.
    fn walk(
        &mut self,
        data: &[u8],
        (swapped, unit): (bool, u64),
        records: &mut u64,
    ) -> Result<usize, String> {
        let mut start = 0;
        while data.len() - start >= 16 {
            let rec = &data[start..start + 16];
            let word = |i: usize| {
                let b = [rec[i], rec[i + 1], rec[i + 2], rec[i + 3]];
                if swapped {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            let caplen = word(8) as usize;
            if caplen > 1 << 24 {
                return Err(format!("a record of {caplen} bytes"));
            }
            if data.len() - start < 16 + caplen {
                break;
            }
            let ts = u64::from(word(0)) * 1_000_000_000 + u64::from(word(4)) * unit;
            let wire = word(12);
            *records += 1;
            if self.stage >= Stage::Decode {
                if let Some(packet) = decode(&data[start + 16..start + 16 + caplen]) {
                    if self.stage == Stage::Decode {
                        self.checksum = self.checksum.wrapping_add(
                            u64::from(packet.key.low_port) ^ u64::from(packet.key.low[15]),
                        );
                    } else {
                        self.account(&packet, ts, wire).map_err(|e| e.to_string())?;
                    }
                }
            } else {
                self.checksum = self.checksum.wrapping_add(ts ^ u64::from(wire));
            }
            start += 16 + caplen;
        }
        Ok(start)
    }

    fn account(&mut self, p: &Packet, ts: u64, wire: u32) -> io::Result<()> {
        let fresh = Counters {
            first: ts,
            last: ts,
            packets: [0; 2],
            bytes: [0; 2],
            ended: false,
        };
        let flow = match self.flows.entry(p.key) {
            Entry::Vacant(v) => v.insert(fresh),
            Entry::Occupied(o) => {
                let flow = o.into_mut();
                if ts.saturating_sub(flow.last) > IDLE_NS || (flow.ended && p.syn_only) {
                    let old = std::mem::replace(flow, fresh);
                    if self.stage == Stage::Lines {
                        write_line(&mut self.out, &mut self.line, &p.key, &old)?;
                    }
                    self.written += 1;
                }
                flow
            }
        };
        flow.last = ts;
        flow.packets[p.dir] += 1;
        flow.bytes[p.dir] += u64::from(wire);
        flow.ended |= p.fin_or_rst;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        for (key, flow) in self.flows.drain() {
            if self.stage == Stage::Lines {
                write_line(&mut self.out, &mut self.line, &key, &flow)?;
            }
            self.written += 1;
        }
        self.out.flush()
    }
}

/// The byte order and the nanoseconds per fraction unit of a pcap file.
fn global_header(h: &[u8]) -> Result<(bool, u64), String> {
    let magic = [h[0], h[1], h[2], h[3]];
    let (swapped, unit) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, 1_000),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, 1_000),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, 1),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, 1),
        _ => return Err("not a classic pcap file".into()),
    };
    let link = [h[20], h[21], h[22], h[23]];
    let link = if swapped {
        u32::from_be_bytes(link)
    } else {
        u32::from_le_bytes(link)
    };
    if link != 1 {
        return Err(format!("link type {link}: only Ethernet (1) is read"));
    }
    Ok((swapped, unit))
}

fn decode(data: &[u8]) -> Option<Packet> {
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes([*data.get(12)?, *data.get(13)?]);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        at += 4;
        ethertype = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
    }
    let ip = data.get(at + 2..)?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    let (proto, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if ip.len() < 20 || ihl < 20 {
                return None;
            }
            src[12..].copy_from_slice(&ip[12..16]);
            dst[12..].copy_from_slice(&ip[16..20]);
            let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
            (
                ip[9],
                if fragment == 0 {
                    ip.get(ihl..)?
                } else {
                    &[][..]
                },
            )
        }
        0x86dd => {
            if ip.len() < 40 {
                return None;
            }
            src.copy_from_slice(&ip[8..24]);
            dst.copy_from_slice(&ip[24..40]);
            (ip[6], &ip[40..])
        }
        _ => return None,
    };
    let (sport, dport, flags) = match proto {
        6 | 17 if l4.len() >= 4 => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
            if proto == 6 {
                l4.get(13).copied().unwrap_or(0)
            } else {
                0
            },
        ),
        _ => (0, 0, 0),
    };
    let forward = (src, sport) <= (dst, dport);
    let key = if forward {
        Key {
            low: src,
            high: dst,
            low_port: sport,
            high_port: dport,
            proto,
        }
    } else {
        Key {
            low: dst,
            high: src,
            low_port: dport,
            high_port: sport,
            proto,
        }
    };
    Some(Packet {
        key,
        dir: usize::from(!forward),
        syn_only: flags & 0x12 == 0x02,
        fin_or_rst: flags & 0x05 != 0,
    })
}

fn write_line<W: Write>(
    out: &mut W,
    line: &mut Vec<u8>,
    key: &Key,
    flow: &Counters,
) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = itoa::Buffer::new();
    line.clear();
    line.extend_from_slice(digits.format(key.proto).as_bytes());
    for (addr, port) in [(&key.low, key.low_port), (&key.high, key.high_port)] {
        line.push(b' ');
        for b in addr {
            line.push(HEX[usize::from(b >> 4)]);
            line.push(HEX[usize::from(b & 15)]);
        }
        line.push(b':');
        line.extend_from_slice(digits.format(port).as_bytes());
    }
    for n in [
        u64::from(flow.packets[0]),
        u64::from(flow.packets[1]),
        flow.bytes[0],
        flow.bytes[1],
        flow.first,
        flow.last,
    ] {
        line.push(b' ');
        line.extend_from_slice(digits.format(n).as_bytes());
    }
    line.push(b'\n');
    out.write_all(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn floor(stage: Stage) -> Floor<Vec<u8>> {
        Floor {
            stage,
            flows: HashMap::new(),
            written: 0,
            checksum: 0,
            out: Vec::new(),
            line: Vec::new(),
        }
    }

    /// An Ethernet frame with an IPv4 header and the first bytes of TCP.
    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0; 9]);
        f.push(flags);
        f.extend_from_slice(&[0; 6]);
        f
    }

    /// A little-endian microsecond pcap record.
    fn record(seconds: u32, frame: &[u8]) -> Vec<u8> {
        let n = frame.len() as u32;
        [
            seconds.to_le_bytes(),
            0u32.to_le_bytes(),
            n.to_le_bytes(),
            n.to_le_bytes(),
        ]
        .concat()
        .into_iter()
        .chain(frame.iter().copied())
        .collect()
    }

    const LE_MICRO: [u8; 24] = [
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];

    #[test]
    fn both_directions_are_one_flow() {
        let a = decode(&tcp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 0x02)).unwrap();
        let b = decode(&tcp4([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, 0x12)).unwrap();
        assert!(a.key == b.key);
        assert_ne!(a.dir, b.dir);
        assert!(a.syn_only && !b.syn_only);
        let rst = decode(&tcp4([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, 0x04)).unwrap();
        assert!(rst.fin_or_rst);
        // An 802.1Q tag before the ethertype.
        let plain = tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2, 0);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        tagged.extend_from_slice(&plain[12..]);
        assert!(decode(&tagged).unwrap().key == decode(&plain).unwrap().key);
        // Cut frames and other ethertypes give nothing.
        for n in 0..plain.len() {
            let _ = decode(&plain[..n]);
        }
        assert!(decode(&plain[..20]).is_none());
        let mut arp = plain.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(decode(&arp).is_none());
    }

    #[test]
    fn flows_end_idle_or_at_a_new_syn() {
        let syn = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 0x02);
        let fin = tcp4([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, 0x11);
        let mut file = LE_MICRO.to_vec();
        for (t, f) in [(0, &syn), (1, &fin), (2, &syn), (2000, &syn), (2001, &fin)] {
            file.extend(record(t, f));
        }
        let mut fl = floor(Stage::Lines);
        let mut records = 0;
        let format = global_header(&file[..24]).unwrap();
        assert_eq!(
            fl.walk(&file[24..], format, &mut records),
            Ok(file.len() - 24)
        );
        fl.finish().unwrap();
        // A SYN after the FIN, then a SYN 1,998 s later.
        assert_eq!((records, fl.written), (5, 3));
        let text = String::from_utf8(fl.out).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| l.starts_with("6 ")), "{text}");
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(global_header(&[0u8; 24]).is_err());
        let mut linux_sll = LE_MICRO;
        linux_sll[20] = 113;
        assert!(global_header(&linux_sll).is_err());
        // A record that says it is larger than 16 MiB.
        let mut rec = record(0, &[0u8; 20]);
        rec[8..12].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut records = 0;
        let format = global_header(&LE_MICRO).unwrap();
        assert!(floor(Stage::Table)
            .walk(&rec, format, &mut records)
            .is_err());
        // A cut record is left for the next read.
        let whole = record(0, &tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0));
        let got = floor(Stage::Table).walk(&whole[..whole.len() - 1], format, &mut records);
        assert_eq!(got, Ok(0));
    }

    #[test]
    fn read_and_mapped_files_agree_and_cut_files_fail() {
        let frame = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 0x02);
        let mut file = LE_MICRO.to_vec();
        for t in 0..3000 {
            file.extend(record(t * 700, &frame));
        }
        let path = std::env::temp_dir().join(format!("capture-floor-{}.pcap", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let mut read = floor(Stage::Lines);
        let n = read.read_file(File::open(&path).unwrap()).unwrap();
        let mut mapped = floor(Stage::Lines);
        let m = mapped.map_file(&File::open(&path).unwrap()).unwrap();
        read.finish().unwrap();
        mapped.finish().unwrap();
        // Idle for 700 s each time: every packet is a flow of its own.
        assert_eq!(
            (n, m, read.written, mapped.written),
            (3000, 3000, 3000, 3000)
        );
        assert_eq!(read.out, mapped.out);
        std::fs::write(&path, &file[..10]).unwrap();
        let e = floor(Stage::Table).read_file(File::open(&path).unwrap());
        assert!(e.unwrap_err().contains("header"));
        let e = floor(Stage::Table).map_file(&File::open(&path).unwrap());
        assert!(e.unwrap_err().contains("header"));
        std::fs::write(&path, &file[..file.len() - 3]).unwrap();
        let e = floor(Stage::Table).read_file(File::open(&path).unwrap());
        assert!(e.unwrap_err().contains("truncated"));
        let e = floor(Stage::Table).map_file(&File::open(&path).unwrap());
        assert!(e.unwrap_err().contains("truncated"));
        std::fs::remove_file(&path).unwrap();
    }

    proptest! {
        #[test]
        fn any_bytes_cost_no_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&data);
            let mut records = 0;
            for format in [(false, 1_000), (true, 1)] {
                let mut fl = floor(Stage::Lines);
                if let Ok(used) = fl.walk(&data, format, &mut records) {
                    prop_assert!(used <= data.len());
                }
                prop_assert!(fl.finish().is_ok());
            }
        }
    }
}
