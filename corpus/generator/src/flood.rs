//! `dpi-samples flood`: a capture of many distinct flows, written as a stream.
//!
//! Flow `i` goes from client `10.a.b.c` (the low 24 bits of `i`), port
//! `1024 + (i >> 24)`, to one of 254 servers in `192.0.2.0/24`. Even flows
//! are TCP (a SYN, the SYN-ACK, then 32-byte segments both ways), odd flows
//! UDP (a 48-byte request, a 96-byte reply, alternating). Every flow's
//! packets are written one after the other, 1 µs apart, so a flow table
//! sees a steady stream of new flows that never time out within the capture:
//! only its cap bounds it.
//!
//! Frames are built into one reused buffer and written through a
//! `BufWriter`: memory stays constant whatever the number of flows.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use dpi_samples::checksum::{fold, sum16};

/// Usage of the subcommand.
pub const USAGE: &str = "usage: dpi-samples flood [--flows N] [--packets-per-flow P] -o FILE.pcap";

/// First packet time, Unix seconds.
const START_SECS: u64 = 1_700_000_000;
/// Most flows with distinct 5-tuples: 2^24 client addresses times the client ports.
const MAX_FLOWS: u64 = (1 << 24) * (65_536 - 1024);
/// Snap length in the file header.
const SNAPLEN: u32 = 65_535;
/// pcap link type of Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const TCP_LEN: usize = 20;
const UDP_LEN: usize = 8;
const TCP: u8 = 6;
const UDP: u8 = 17;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flood {
    /// Distinct flows.
    pub flows: u64,
    /// Packets of each flow.
    pub packets_per_flow: u32,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Packets.
    pub packets: u64,
    /// Bytes of the file.
    pub bytes: u64,
}

/// The endpoints of flow `i`: client address and port, server address and port, transport.
fn endpoints(i: u64) -> ([u8; 4], u16, [u8; 4], u16, u8) {
    let client = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let client_port = 1024 + (i >> 24) as u16;
    let server = [192, 0, 2, 1 + (i % 254) as u8];
    if i % 2 == 0 {
        let port = if i % 4 == 0 { 80 } else { 443 };
        (client, client_port, server, port, TCP)
    } else {
        let port = if i % 4 == 1 { 53 } else { 123 };
        (client, client_port, server, port, UDP)
    }
}

/// One segment or datagram of a flow.
struct Segment<'a> {
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    protocol: u8,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
}

/// Builds the Ethernet/IPv4/TCP-or-UDP frame of `s` into `out` (cleared
/// first), with valid IPv4 and transport checksums.
fn frame(out: &mut Vec<u8>, s: &Segment<'_>) {
    out.clear();
    out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    debug_assert_eq!(out.len(), ETH_LEN);
    let l4_len = if s.protocol == TCP { TCP_LEN } else { UDP_LEN } + s.payload.len();
    let ip = out.len();
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&((IPV4_LEN + l4_len) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, s.protocol, 0, 0]);
    out.extend_from_slice(&s.src);
    out.extend_from_slice(&s.dst);
    let sum = fold(sum16(0, &out[ip..ip + IPV4_LEN]));
    out[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
    let l4 = out.len();
    out.extend_from_slice(&s.sport.to_be_bytes());
    out.extend_from_slice(&s.dport.to_be_bytes());
    if s.protocol == TCP {
        out.extend_from_slice(&s.seq.to_be_bytes());
        out.extend_from_slice(&s.ack.to_be_bytes());
        out.extend_from_slice(&[0x50, s.flags, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        out.extend_from_slice(&(l4_len as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(s.payload);
    let mut pseudo = sum16(0, &s.src);
    pseudo = sum16(pseudo, &s.dst);
    pseudo += u32::from(s.protocol) + l4_len as u32;
    let mut sum = fold(sum16(pseudo, &out[l4..]));
    if s.protocol == UDP && sum == 0 {
        sum = 0xffff;
    }
    let at = l4 + if s.protocol == TCP { 16 } else { 6 };
    out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// Packet `k` of flow `i`.
fn segment(i: u64, k: u32) -> Segment<'static> {
    const TCP_DATA: &[u8] = &[0x17; 32];
    const REQUEST: &[u8] = &[0x21; 48];
    const REPLY: &[u8] = &[0x42; 96];
    let (client, cport, server, sport, protocol) = endpoints(i);
    let client_isn = (i as u32).wrapping_mul(2_654_435_761);
    let server_isn = client_isn ^ 0x5a5a_5a5a;
    let c2s = k % 2 == 0;
    let (src, sp, dst, dp) = if c2s {
        (client, cport, server, sport)
    } else {
        (server, sport, client, cport)
    };
    let mut s = Segment {
        src,
        sport: sp,
        dst,
        dport: dp,
        protocol,
        seq: 0,
        ack: 0,
        flags: 0,
        payload: &[],
    };
    if protocol == UDP {
        s.payload = if c2s { REQUEST } else { REPLY };
        return s;
    }
    // Data segments after the handshake: the j-th of each direction.
    let j = k.saturating_sub(2) / 2;
    let len = TCP_DATA.len() as u32;
    let (c_next, s_next) = (client_isn.wrapping_add(1), server_isn.wrapping_add(1));
    (s.seq, s.ack, s.flags, s.payload) = match k {
        0 => (client_isn, 0, SYN, &[][..]),
        1 => (server_isn, c_next, SYN | ACK, &[][..]),
        _ if c2s => (
            c_next.wrapping_add(j * len),
            s_next.wrapping_add(j * len),
            ACK | PSH,
            TCP_DATA,
        ),
        _ => (
            s_next.wrapping_add(j * len),
            c_next.wrapping_add((j + 1) * len),
            ACK | PSH,
            TCP_DATA,
        ),
    };
    s
}

/// Writes the flood as a classic pcap file (little-endian, microseconds,
/// Ethernet) to `out`.
pub fn write<W: Write>(out: W, spec: Flood) -> io::Result<Written> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&SNAPLEN.to_le_bytes());
    header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    out.write_all(&header)?;
    let mut written = Written {
        packets: 0,
        bytes: header.len() as u64,
    };
    let mut buf = Vec::with_capacity(256);
    let mut record = [0u8; 16];
    for i in 0..spec.flows.min(MAX_FLOWS) {
        for k in 0..spec.packets_per_flow {
            frame(&mut buf, &segment(i, k));
            let micros = written.packets;
            let secs = START_SECS + micros / 1_000_000;
            record[0..4].copy_from_slice(&(secs as u32).to_le_bytes());
            record[4..8].copy_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
            record[8..12].copy_from_slice(&(buf.len() as u32).to_le_bytes());
            record[12..16].copy_from_slice(&(buf.len() as u32).to_le_bytes());
            out.write_all(&record)?;
            out.write_all(&buf)?;
            written.packets += 1;
            written.bytes += (record.len() + buf.len()) as u64;
        }
    }
    out.flush()?;
    Ok(written)
}

/// Runs `dpi-samples flood` with the arguments after the subcommand.
pub fn main(args: impl Iterator<Item = String>) -> ExitCode {
    let mut spec = Flood {
        flows: 5_000_000,
        packets_per_flow: 2,
    };
    let mut output: Option<String> = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(());
        let ok = match arg.as_str() {
            "--flows" => value()
                .and_then(|v| v.parse().map_err(drop))
                .map(|v| spec.flows = v),
            "--packets-per-flow" => value()
                .and_then(|v| v.parse().map_err(drop))
                .map(|v| spec.packets_per_flow = v),
            "-o" | "--output" => value().map(|v| output = Some(v)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => Err(()),
        };
        if ok.is_err() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let Some(path) = output else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if spec.flows > MAX_FLOWS {
        eprintln!("at most {MAX_FLOWS} flows have distinct 5-tuples");
        return ExitCode::from(2);
    }
    let result = File::create(&path).and_then(|f| write(f, spec));
    match result {
        Ok(w) => {
            println!(
                "{path}: {} flows, {} packets, {} bytes",
                spec.flows, w.packets, w.bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn five_tuples_are_distinct() {
        let mut seen = HashSet::new();
        for i in (0..300_000u64).chain([(1 << 24) - 1, 1 << 24, (1 << 24) + 1, MAX_FLOWS - 1]) {
            let (c, cp, s, sp, p) = endpoints(i);
            assert!(seen.insert((c, cp, s, sp, p)), "flow {i}");
        }
    }

    #[test]
    fn frames_have_valid_checksums() {
        let mut buf = Vec::new();
        for (i, k) in [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 3),
            (1, 0),
            (1, 1),
            (6, 5),
            (7, 4),
        ] {
            let s = segment(i, k);
            frame(&mut buf, &s);
            let ip = &buf[ETH_LEN..ETH_LEN + IPV4_LEN];
            assert_eq!(
                fold(sum16(0, ip)),
                0,
                "ipv4 checksum of flow {i} packet {k}"
            );
            let l4 = &buf[ETH_LEN + IPV4_LEN..];
            let mut pseudo = sum16(sum16(0, &s.src), &s.dst);
            pseudo += u32::from(s.protocol) + l4.len() as u32;
            assert_eq!(
                fold(sum16(pseudo, l4)),
                0,
                "transport checksum of flow {i} packet {k}"
            );
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            assert_eq!(total, buf.len() - ETH_LEN);
        }
    }

    #[test]
    fn tcp_flows_open_with_a_handshake() {
        let syn = segment(2, 0);
        let syn_ack = segment(2, 1);
        let data = segment(2, 2);
        assert_eq!((syn.protocol, syn.flags), (TCP, SYN));
        assert_eq!(syn_ack.flags, SYN | ACK);
        assert_eq!(syn_ack.ack, syn.seq.wrapping_add(1));
        assert_eq!((syn_ack.src, syn_ack.sport), (syn.dst, syn.dport));
        assert_eq!(data.seq, syn.seq.wrapping_add(1));
        assert_eq!(segment(2, 3).seq, syn_ack.seq.wrapping_add(1));
    }

    #[test]
    fn file_layout() {
        let mut out = Vec::new();
        let w = write(
            &mut out,
            Flood {
                flows: 3,
                packets_per_flow: 2,
            },
        )
        .unwrap();
        assert_eq!(w.packets, 6);
        assert_eq!(w.bytes, out.len() as u64);
        assert_eq!(&out[..4], &0xa1b2_c3d4u32.to_le_bytes());
        // First record: a TCP SYN of 54 bytes at the start time.
        assert_eq!(&out[24..28], &(START_SECS as u32).to_le_bytes());
        assert_eq!(&out[32..36], &54u32.to_le_bytes());
        assert_eq!(out[24 + 16 + ETH_LEN + 9], TCP);
    }
}
