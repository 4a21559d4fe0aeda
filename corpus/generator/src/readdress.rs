//! `dpi-samples readdress`: a classic pcap of Ethernet frames copied with
//! every IP address moved, so that a copy of a capture holds the same
//! traffic between other hosts.
//!
//! A capture merged with copies of itself shifted in time (`editcap -t`)
//! repeats each flow's 5-tuple. A meter that ends a flow after an idle
//! timeout sees every copy as new flows; one that keeps flows until the
//! end of the file sees the copies as more packets of the first copy's
//! flows, and does less work. Moving the addresses of copy `k` makes the
//! copies distinct flows for every tool.
//!
//! The outer IPv4 or IPv6 header (after Ethernet and any 802.1Q/802.1ad
//! tags) gets its source and destination moved: the address, or an IPv6
//! address's last 32 bits, read as a big-endian `u32` `a`, becomes `a +
//! k * 65535` (mod 2^32). The same map for every address keeps both
//! directions of a flow together, and it is one to one. Since 65536 is 1
//! modulo 65535, the one's-complement sum of the address's 16-bit words
//! does not change unless the addition wraps past 2^32 (addresses from
//! `255.249.0.0` up, for `k` up to 7), so the IPv4 header checksum and the
//! TCP and UDP checksums stay valid. Other frames, and addresses inside
//! tunnels or ICMP errors, are copied as they are. Records are streamed:
//! memory stays constant whatever the file's size.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;

use crate::link::LINKTYPE_ETHERNET;
use crate::pcap::{Endian, FILE_HEADER_LEN, MAGIC_MICRO, MAGIC_NANO, RECORD_HEADER_LEN};

/// Usage of the subcommand.
pub const USAGE: &str = "usage: dpi-samples readdress --shift K -o OUT.pcap IN.pcap";
/// A record longer than this is refused (the pcap format's own bound on
/// sane snap lengths).
const MAX_RECORD: usize = 1 << 18;

/// Moves the outer IP addresses of one Ethernet frame by `shift` (see
/// the module docs); returns whether the frame had an IP header to move.
pub fn readdress_frame(frame: &mut [u8], shift: u32) -> bool {
    let delta = shift.wrapping_mul(65_535);
    let mut off = 12;
    let mut ethertype = match frame.get(off..off + 2) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => return false,
    };
    // 802.1Q, 802.1ad and the older QinQ tag: 4 bytes each.
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
        off += 4;
        ethertype = match frame.get(off..off + 2) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]),
            None => return false,
        };
    }
    let ip = off + 2;
    let addresses: [usize; 2] = match ethertype {
        0x0800 if frame.len() >= ip + 20 && frame[ip] >> 4 == 4 => [ip + 12, ip + 16],
        0x86dd if frame.len() >= ip + 40 && frame[ip] >> 4 == 6 => [ip + 8 + 12, ip + 24 + 12],
        _ => return false,
    };
    for at in addresses {
        let word = &mut frame[at..at + 4];
        let a = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        word.copy_from_slice(&a.wrapping_add(delta).to_be_bytes());
    }
    true
}

/// Copies the classic pcap `input` to `output` with every frame moved by
/// `shift`; the records read.
pub fn readdress(input: impl Read, output: impl Write, shift: u32) -> io::Result<u64> {
    let (mut input, mut output) = (BufReader::new(input), BufWriter::new(output));
    let mut header = [0u8; FILE_HEADER_LEN];
    input
        .read_exact(&mut header)
        .map_err(|e| invalid(format!("no pcap file header: {e}")))?;
    let magic = Endian::Little.get_u32(&header, 0);
    let endian = if magic == MAGIC_MICRO || magic == MAGIC_NANO {
        Endian::Little
    } else if magic.swap_bytes() == MAGIC_MICRO || magic.swap_bytes() == MAGIC_NANO {
        Endian::Big
    } else {
        return Err(invalid(format!(
            "not a classic pcap file (magic {magic:#010x})"
        )));
    };
    let link = endian.get_u32(&header, 20) & 0x0fff_ffff;
    if link != u32::from(LINKTYPE_ETHERNET) {
        return Err(invalid(format!(
            "link type {link}: only Ethernet (1) is moved"
        )));
    }
    output.write_all(&header)?;
    let (mut record, mut frame) = ([0u8; RECORD_HEADER_LEN], Vec::new());
    let mut records = 0u64;
    loop {
        // The end of the file may only come between records.
        let mut got = 0;
        while got < record.len() {
            match input.read(&mut record[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got == 0 {
            break;
        }
        if got < record.len() {
            return Err(invalid(format!(
                "the header of record {} is cut short ({got} of {RECORD_HEADER_LEN} bytes)",
                records + 1
            )));
        }
        let len = endian.get_u32(&record, 8) as usize;
        if len > MAX_RECORD {
            return Err(invalid(format!(
                "record {} claims {len} bytes (at most {MAX_RECORD})",
                records + 1
            )));
        }
        frame.resize(len, 0);
        input
            .read_exact(&mut frame)
            .map_err(|e| invalid(format!("record {} is cut short: {e}", records + 1)))?;
        readdress_frame(&mut frame, shift);
        output.write_all(&record)?;
        output.write_all(&frame)?;
        records += 1;
    }
    output.flush()?;
    Ok(records)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// `dpi-samples readdress --shift K -o OUT IN`.
pub fn main(args: impl Iterator<Item = String>) -> ExitCode {
    let (mut shift, mut out, mut input) = (None::<u32>, None::<String>, None::<String>);
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--shift" => shift = args.next().and_then(|v| v.parse().ok()),
            "-o" => out = args.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if input.is_none() && !a.starts_with('-') => input = Some(a),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(shift), Some(out), Some(input)) = (shift, out, input) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = File::open(&input)
        .map_err(|e| (input.clone(), e))
        .and_then(|i| {
            File::create(&out)
                .map(|o| (i, o))
                .map_err(|e| (out.clone(), e))
        })
        .and_then(|(i, o)| readdress(i, o, shift).map_err(|e| (input.clone(), e)));
    match result {
        Ok(n) => {
            println!("{out}: {n} records, addresses moved by {shift}");
            ExitCode::SUCCESS
        }
        Err((path, e)) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::checksum::{fold, sum16};
    use crate::pcap::{PcapWriter, TsResolution};

    /// A microsecond pcap of Ethernet `frames`, in byte order `endian`.
    fn ethernet_file(endian: Endian, frames: &[&[u8]]) -> Vec<u8> {
        let mut w = PcapWriter::new(
            endian,
            TsResolution::Micro,
            u32::from(LINKTYPE_ETHERNET),
            65_535,
        );
        for (t, f) in frames.iter().enumerate() {
            w.write_packet(t as u64 * 1_000_000_000, f);
        }
        w.into_bytes()
    }

    fn ipv4_frame(src: [u8; 4], dst: [u8; 4], vlan: bool) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let c = fold(sum16(0, &ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        f
    }

    #[test]
    fn both_directions_move_alike_and_checksums_hold() {
        let a = ipv4_frame([10, 0, 0, 1], [192, 0, 2, 7], true);
        let b = ipv4_frame([192, 0, 2, 7], [10, 0, 0, 1], true);
        let (mut a2, mut b2) = (a.clone(), b.clone());
        assert!(readdress_frame(&mut a2, 3) && readdress_frame(&mut b2, 3));
        let ip = 18;
        assert_ne!(a2[ip + 12..ip + 20], a[ip + 12..ip + 20]);
        // The reply's source is the request's destination, moved alike.
        assert_eq!(a2[ip + 12..ip + 16], b2[ip + 16..ip + 20]);
        assert_eq!(a2[ip + 16..ip + 20], b2[ip + 12..ip + 16]);
        assert_eq!(fold(sum16(0, &a2[ip..ip + 20])), 0, "IPv4 header checksum");
        // Shift 0 changes nothing.
        let mut same = a.clone();
        readdress_frame(&mut same, 0);
        assert_eq!(same, a);
    }

    #[test]
    fn other_frames_and_short_frames_are_left_alone() {
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        let before = arp.clone();
        assert!(!readdress_frame(&mut arp, 5));
        assert_eq!(arp, before);
        let mut cut = ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], false);
        cut.truncate(20);
        assert!(!readdress_frame(&mut cut, 5));
        assert!(!readdress_frame(&mut [], 5));
    }

    proptest::proptest! {
        /// Whatever follows a valid file header, or no header at all: an
        /// error or a copy of the same length, never a panic.
        #[test]
        fn any_bytes_are_refused_or_copied(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            header in proptest::prelude::any::<bool>(),
            shift in 0u32..16,
        ) {
            let mut file = Vec::new();
            if header {
                file = ethernet_file(Endian::Little, &[]);
            }
            file.extend_from_slice(&tail);
            let mut out = Vec::new();
            if readdress(&file[..], &mut out, shift).is_ok() {
                proptest::prop_assert_eq!(out.len(), file.len());
            }
            let mut frame = tail.clone();
            readdress_frame(&mut frame, shift);
            proptest::prop_assert_eq!(frame.len(), tail.len());
        }
    }

    #[test]
    fn files_are_copied_record_for_record() {
        let frame = ipv4_frame([10, 1, 2, 3], [10, 3, 2, 1], false);
        let frames = [&frame[..], &frame[..], &frame[..]];
        // Big-endian files are read too, and moved alike.
        let big = ethernet_file(Endian::Big, &frames);
        let mut out = Vec::new();
        assert_eq!(readdress(&big[..], &mut out, 1).unwrap(), 3);
        assert_eq!(out.len(), big.len());
        assert_ne!(out, big);
        let file = ethernet_file(Endian::Little, &frames);
        let mut out = Vec::new();
        assert_eq!(readdress(&file[..], &mut out, 1).unwrap(), 3);
        assert_eq!(out.len(), file.len());
        assert_eq!(out[..40], file[..40]);
        assert_ne!(out, file);
        // A record cut short is an error that says so.
        let err = readdress(&file[..file.len() - 3], &mut Vec::new(), 1).unwrap_err();
        assert!(err.to_string().contains("record 3 is cut short"), "{err}");
        let mut cut_header = file.clone();
        cut_header.extend_from_slice(&[0; 5]);
        let err = readdress(&cut_header[..], &mut Vec::new(), 1).unwrap_err();
        assert!(
            err.to_string().contains("header of record 4 is cut short"),
            "{err}"
        );
        let err = readdress(&b"not a pcap file at all!!"[..], &mut Vec::new(), 1).unwrap_err();
        assert!(err.to_string().contains("not a classic pcap"), "{err}");
    }
}
