//! Damaged captures for robustness tests: a seeded, deterministic campaign
//! of mutations of valid pcap and pcapng files.
//!
//! [`link_zoo`] writes small valid captures over every link type the
//! decoder knows (one pcap per link type, and pcapng files with all of them
//! as interfaces of two sections of opposite byte order). [`mutant`] damages
//! one base capture in one of the ways of [`Kind`]: truncation, bit flips,
//! overwritten bytes, corrupted record or block lengths (leading and
//! trailing), swapped record headers, a swapped byte order, shuffled,
//! duplicated, dropped or foreign records, another link type, inserted
//! garbage. Mutant `i` of a campaign depends only on the seed, `i` and the
//! bases, so any failing mutant can be written again alone
//! (`dpi-samples mutate --seed S --first I --count 1 -o DIR`).
//!
//! [`first_difference`] gives where the damage starts: every record that
//! ends before it is byte for byte the same as in the base.

use std::ops::Range;

use crate::link::{self, Hop, Link};
use crate::pcap::{Endian, PcapWriter, TsResolution};
use crate::pcapng::{IfTsResol, Interface, PcapngWriter};
use crate::rng::Rng;

/// The kinds of damage, in the order [`mutant`] draws them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The file ends at a random byte.
    Truncate,
    /// One to eight random bits flipped.
    BitFlips,
    /// A run of up to 16 bytes overwritten with random bytes.
    Overwrite,
    /// A record's captured length (pcap) or a block's leading total length
    /// (pcapng) set to a hostile value.
    RecordLength,
    /// A record's original length (pcap) or a block's trailing total
    /// length (pcapng) set to a hostile value.
    OtherLength,
    /// The headers of two records (pcap: 16 bytes; pcapng: type and
    /// length) swapped.
    SwapHeaders,
    /// The file's byte-order magic written the other way round.
    SwapByteOrder,
    /// The records from one on shuffled.
    Shuffle,
    /// A record repeated up to four times.
    Duplicate,
    /// A record left out.
    Drop,
    /// A record of another base capture spliced in.
    Foreign,
    /// The link type of the file (pcap) or of an interface (pcapng) changed.
    LinkType,
    /// Up to 64 random bytes inserted between two records.
    Garbage,
}

const KINDS: [Kind; 13] = [
    Kind::Truncate,
    Kind::BitFlips,
    Kind::Overwrite,
    Kind::RecordLength,
    Kind::OtherLength,
    Kind::SwapHeaders,
    Kind::SwapByteOrder,
    Kind::Shuffle,
    Kind::Duplicate,
    Kind::Drop,
    Kind::Foreign,
    Kind::LinkType,
    Kind::Garbage,
];

/// Link types of the zoo: every one the decoder reads.
pub const LINK_TYPES: [u16; 13] = [0, 1, 9, 14, 50, 101, 104, 108, 113, 192, 228, 229, 276];

/// One damaged capture.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// Index of the base capture it was made from.
    pub base: usize,
    /// Its number in the campaign.
    pub index: u64,
    /// The damage, in words (kind and where).
    pub what: String,
    /// The file.
    pub bytes: Vec<u8>,
}

/// Where `a` and `b` first differ (the shorter length when one is a
/// prefix of the other).
pub fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// The records of a capture: the file header (pcap) or every block
/// (pcapng) is a unit; `records` are the packet records and blocks.
#[derive(Debug, Clone)]
struct Layout {
    pcapng: bool,
    /// Every unit (file header, records, blocks), in file order, with its
    /// byte order.
    units: Vec<(Range<usize>, Endian)>,
}

fn endian_of_pcap(bytes: &[u8]) -> Option<Endian> {
    let m = bytes.get(..4)?;
    match u32::from_le_bytes(m.try_into().ok()?) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => Some(Endian::Little),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => Some(Endian::Big),
        _ => None,
    }
}

fn layout(bytes: &[u8]) -> Option<Layout> {
    let mut units = Vec::new();
    if let Some(e) = endian_of_pcap(bytes) {
        units.push((0..24.min(bytes.len()), e));
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let len = e.get_u32(bytes, at + 8) as usize;
            let end = (at + 16).checked_add(len)?.min(bytes.len());
            units.push((at..end, e));
            at = end;
        }
        return Some(Layout {
            pcapng: false,
            units,
        });
    }
    let mut at = 0;
    let mut e = Endian::Little;
    while at + 12 <= bytes.len() {
        if Endian::Little.get_u32(bytes, at) == crate::pcapng::SHB {
            e = if Endian::Little.get_u32(bytes, at + 8) == crate::pcapng::BYTE_ORDER_MAGIC {
                Endian::Little
            } else {
                Endian::Big
            };
        }
        let len = e.get_u32(bytes, at + 4) as usize;
        if len < 12 || at + len > bytes.len() {
            break;
        }
        units.push((at..at + len, e));
        at += len;
    }
    Some(Layout {
        pcapng: true,
        units,
    })
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (rng.next_u64() % n as u64) as usize
    }
}

/// A length that a reader must survive: zero, off by one or four, huge.
fn hostile_length(rng: &mut Rng, real: u32) -> u32 {
    let choices = [
        0,
        1,
        real.wrapping_sub(1),
        real.wrapping_add(1),
        real.wrapping_add(4),
        real.wrapping_sub(4),
        real.wrapping_mul(2),
        0x7fff_ffff,
        0xffff_ffff,
        64 * 1024 * 1024 + 4,
        rng.next_u32(),
    ];
    let v = pick(rng, &choices);
    if v == real {
        real ^ 0x10
    } else {
        v
    }
}

/// Mutant `index` of the campaign `seed` over `bases` (each a valid capture).
///
/// # Panics
///
/// When `bases` is empty.
pub fn mutant(bases: &[Vec<u8>], seed: u64, index: u64) -> Mutant {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995);
    let base = below(&mut rng, bases.len());
    let src = &bases[base];
    let kind = pick(&mut rng, &KINDS);
    let (mut bytes, mut what) = apply(kind, src, bases, &mut rng);
    if bytes == *src {
        // Some draws change nothing (two equal headers swapped, a shuffle
        // that kept the order): cut the file instead.
        (bytes, what) = apply(Kind::Truncate, src, bases, &mut rng);
    }
    Mutant {
        base,
        index,
        what,
        bytes,
    }
}

fn apply(kind: Kind, src: &[u8], bases: &[Vec<u8>], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut b = src.to_vec();
    let lay = layout(src).unwrap_or(Layout {
        pcapng: false,
        units: Vec::new(),
    });
    // The units after the file header (pcap) or the first block (pcapng).
    let records: Vec<(Range<usize>, Endian)> = lay.units.iter().skip(1).cloned().collect();
    let what = match kind {
        Kind::Truncate => {
            let at = below(rng, b.len());
            b.truncate(at);
            format!("truncated at byte {at}")
        }
        Kind::BitFlips => {
            let n = 1 + below(rng, 8);
            let mut at = Vec::new();
            for _ in 0..n {
                let i = below(rng, b.len());
                b[i] ^= 1 << below(rng, 8);
                at.push(i);
            }
            format!("{n} bit(s) flipped at bytes {at:?}")
        }
        Kind::Overwrite => {
            let at = below(rng, b.len());
            let n = (1 + below(rng, 16)).min(b.len() - at);
            for x in &mut b[at..at + n] {
                *x = rng.next_u64() as u8;
            }
            format!("{n} byte(s) overwritten at byte {at}")
        }
        Kind::RecordLength | Kind::OtherLength => {
            let Some((r, e)) = records.get(below(rng, records.len())).cloned() else {
                return apply(Kind::Truncate, src, bases, rng);
            };
            let field = match (lay.pcapng, kind) {
                (false, Kind::RecordLength) => r.start + 8,
                (false, _) => r.start + 12,
                (true, Kind::RecordLength) => r.start + 4,
                (true, _) => r.end - 4,
            };
            if field + 4 > b.len() {
                return apply(Kind::Truncate, src, bases, rng);
            }
            let real = e.get_u32(&b, field);
            let v = hostile_length(rng, real);
            let mut put = Vec::new();
            e.put_u32(&mut put, v);
            b[field..field + 4].copy_from_slice(&put);
            format!("length field at byte {field}: {real} -> {v}")
        }
        Kind::SwapHeaders => {
            if records.len() < 2 {
                return apply(Kind::BitFlips, src, bases, rng);
            }
            let i = below(rng, records.len() - 1);
            let j = i + 1 + below(rng, records.len() - i - 1);
            let n = if lay.pcapng { 8 } else { 16 };
            let (a, c) = (records[i].0.start, records[j].0.start);
            if a + n > b.len() || c + n > b.len() {
                return apply(Kind::BitFlips, src, bases, rng);
            }
            let ha = src[a..a + n].to_vec();
            let hc = src[c..c + n].to_vec();
            b[a..a + n].copy_from_slice(&hc);
            b[c..c + n].copy_from_slice(&ha);
            format!("headers of records at bytes {a} and {c} swapped")
        }
        Kind::SwapByteOrder => {
            let at = if lay.pcapng { 8 } else { 0 };
            if at + 4 > b.len() {
                return apply(Kind::Truncate, src, bases, rng);
            }
            b[at..at + 4].reverse();
            format!("byte-order magic at byte {at} reversed")
        }
        Kind::Shuffle | Kind::Duplicate | Kind::Drop | Kind::Foreign | Kind::Garbage => {
            if records.is_empty() {
                return apply(Kind::Overwrite, src, bases, rng);
            }
            let head = records[0].0.start;
            let tail_start = records.last().map_or(b.len(), |r| r.0.end);
            let mut recs: Vec<Vec<u8>> =
                records.iter().map(|r| src[r.0.clone()].to_vec()).collect();
            let k = below(rng, recs.len());
            let what = match kind {
                Kind::Shuffle => {
                    for i in (k + 1..recs.len()).rev() {
                        let j = k + below(rng, i - k + 1);
                        recs.swap(i, j);
                    }
                    format!("records {k}.. shuffled")
                }
                Kind::Duplicate => {
                    let times = 1 + below(rng, 4);
                    for _ in 0..times {
                        recs.insert(k, recs[k].clone());
                    }
                    format!("record {k} repeated {times} time(s)")
                }
                Kind::Drop => {
                    recs.remove(k);
                    format!("record {k} left out")
                }
                Kind::Foreign => {
                    let other = &bases[below(rng, bases.len())];
                    let theirs = layout(other).map(|l| l.units).unwrap_or_default();
                    match theirs.get(1 + below(rng, theirs.len().saturating_sub(1))) {
                        Some((r, _)) if r.end <= other.len() => {
                            recs.insert(k, other[r.clone()].to_vec());
                            format!("a record of another capture put before record {k}")
                        }
                        _ => return apply(Kind::Drop, src, bases, rng),
                    }
                }
                _ => {
                    let n = 1 + below(rng, 64);
                    let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                    recs.insert(k, junk);
                    format!("{n} random byte(s) put before record {k}")
                }
            };
            let mut out = src[..head].to_vec();
            for r in &recs {
                out.extend_from_slice(r);
            }
            out.extend_from_slice(&src[tail_start..]);
            b = out;
            what
        }
        Kind::LinkType => {
            let lt = if below(rng, 4) == 0 {
                u32::from(rng.next_u16())
            } else {
                u32::from(pick(rng, &LINK_TYPES))
            };
            if lay.pcapng {
                let idbs: Vec<&(Range<usize>, Endian)> = lay
                    .units
                    .iter()
                    .filter(|(r, e)| e.get_u32(src, r.start) == crate::pcapng::IDB)
                    .collect();
                let Some((r, e)) = idbs.get(below(rng, idbs.len())).copied().cloned() else {
                    return apply(Kind::BitFlips, src, bases, rng);
                };
                let mut put = Vec::new();
                e.put_u16(&mut put, lt as u16);
                b[r.start + 8..r.start + 10].copy_from_slice(&put);
                format!("interface at byte {}: link type {lt}", r.start)
            } else {
                let Some(e) = endian_of_pcap(src) else {
                    return apply(Kind::BitFlips, src, bases, rng);
                };
                let mut put = Vec::new();
                e.put_u32(&mut put, lt);
                b[20..24].copy_from_slice(&put);
                format!("file link type {lt}")
            }
        }
    };
    (b, format!("{kind:?}: {what}"))
}

/// A UDP/IPv4 or IPv6 datagram (checksum 0, which UDP over IPv4 allows).
fn udp(v6: bool, src: u8, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    ip(v6, src, 17, &l4)
}

/// A TCP segment in an IPv4 or IPv6 packet (checksum 0).
fn tcp(v6: bool, src: u8, sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut l4 = sport.to_be_bytes().to_vec();
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    l4.extend_from_slice(payload);
    ip(v6, src, 6, &l4)
}

/// An IPv4 (with its header checksum) or IPv6 packet from host `src` to
/// host 1 of the documentation ranges.
fn ip(v6: bool, src: u8, protocol: u8, l4: &[u8]) -> Vec<u8> {
    if v6 {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        p.extend_from_slice(&[protocol, 64]);
        for host in [src, 1] {
            p.extend_from_slice(&[
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, host,
            ]);
        }
        p.extend_from_slice(l4);
        return p;
    }
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&(20 + l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
    h.extend_from_slice(&[192, 0, 2, src, 192, 0, 2, 1]);
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(l4);
    h
}

/// The IP packets every zoo capture carries: a DNS exchange, an HTTP
/// request in a TCP handshake, both over IPv4 and IPv6 (raw IPv4 and
/// IPv6 link types get only their version).
fn packets(v4: bool, v6: bool) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    for (is_v6, on) in [(false, v4), (true, v6)] {
        if !on {
            continue;
        }
        let c = if is_v6 { 20 } else { 10 };
        out.push((true, udp(is_v6, c, 40000, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")));
        out.push((
            false,
            udp(
                is_v6,
                c,
                53,
                40000,
                b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00",
            ),
        ));
        out.push((true, tcp(is_v6, c, 40001, 80, 1000, 0x02, b"")));
        out.push((false, tcp(is_v6, c, 80, 40001, 5000, 0x12, b"")));
        out.push((
            true,
            tcp(
                is_v6,
                c,
                40001,
                80,
                1001,
                0x18,
                b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            ),
        ));
        out.push((
            false,
            tcp(
                is_v6,
                c,
                80,
                40001,
                5001,
                0x18,
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ),
        ));
    }
    out
}

/// `ip` wrapped for link type `lt` in a file of byte order `e`.
fn wrap(lt: u16, e: Endian, outbound: bool, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().map(|b| b >> 4) == Some(6);
    let hop = Hop {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        dst_ip: if v6 {
            "2001:db8::1"
                .parse()
                .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into())
        } else {
            std::net::Ipv4Addr::new(192, 0, 2, 1).into()
        },
        outbound,
    };
    let ethernet = || link::frame(&Link::Ethernet, &hop, ip);
    let ppp_protocol: &[u8] = if v6 { &[0x00, 0x57] } else { &[0x00, 0x21] };
    let ethertype: &[u8] = if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] };
    let mut out = Vec::new();
    match lt {
        0 => return link::frame(&Link::Null { endian: e }, &hop, ip),
        1 => return ethernet(),
        // RFC 1662 framing: address, control, then the PPP protocol.
        9 | 50 => {
            out.extend_from_slice(&[0xff, 0x03]);
            out.extend_from_slice(ppp_protocol);
        }
        // Cisco HDLC: address, control, ethertype.
        104 => {
            out.extend_from_slice(&[0x0f, 0x00]);
            out.extend_from_slice(ethertype);
        }
        // OpenBSD loopback: the address family in network byte order.
        108 => out.extend_from_slice(&(if v6 { 24u32 } else { 2 }).to_be_bytes()),
        113 => return link::frame(&Link::Sll, &hop, ip),
        276 => return link::frame(&Link::Sll2 { ifindex: 2 }, &hop, ip),
        // PPI: version 0, flags 0, header length 8, then an Ethernet frame.
        192 => {
            out.extend_from_slice(&[0, 0, 8, 0, 1, 0, 0, 0]);
            out.extend_from_slice(&ethernet());
            return out;
        }
        // 14 (raw IP as OpenBSD numbers it), 101, 228, 229: no header.
        _ => {}
    }
    out.extend_from_slice(ip);
    out
}

fn zoo_packets(lt: u16) -> Vec<(bool, Vec<u8>)> {
    match lt {
        228 => packets(true, false),
        229 => packets(false, true),
        _ => packets(true, true),
    }
}

/// The bases of the standard campaign: the sample captures of
/// [`generate`](crate::generate) (the manifest left out), then
/// [`link_zoo`], as `(file name, bytes)`.
pub fn bases() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = crate::generate()
        .into_iter()
        .filter(|(name, _)| name != crate::MANIFEST)
        .collect();
    out.extend(link_zoo());
    out
}

/// Small valid captures over every link type of [`LINK_TYPES`]: one pcap
/// per link type (alternately little-endian microsecond and big-endian
/// nanosecond), then two pcapng files holding all link types as
/// interfaces, in two sections of opposite byte order.
pub fn link_zoo() -> Vec<(String, Vec<u8>)> {
    let t0 = crate::capture::EPOCH_2024;
    let mut out = Vec::new();
    for (i, &lt) in LINK_TYPES.iter().enumerate() {
        let (e, res) = if i % 2 == 0 {
            (Endian::Little, TsResolution::Micro)
        } else {
            (Endian::Big, TsResolution::Nano)
        };
        let mut w = PcapWriter::new(e, res, u32::from(lt), 65535);
        for (n, (outbound, p)) in zoo_packets(lt).iter().enumerate() {
            w.write_packet(t0 + n as u64 * 1_000_000, &wrap(lt, e, *outbound, p));
        }
        out.push((format!("zoo-{lt}.pcap"), w.into_bytes()));
    }
    for (name, first) in [
        ("zoo-le-be.pcapng", Endian::Little),
        ("zoo-be-le.pcapng", Endian::Big),
    ] {
        let mut bytes = Vec::new();
        for e in [
            first,
            if first == Endian::Little {
                Endian::Big
            } else {
                Endian::Little
            },
        ] {
            let mut w = PcapngWriter::new(e, "zoo", "zoo", "dpi-samples mutate");
            for (i, &lt) in LINK_TYPES.iter().enumerate() {
                w.add_interface(Interface {
                    linktype: lt,
                    snaplen: 65535,
                    name: format!("if{i}"),
                    description: format!("link type {lt}"),
                    tsresol: if i % 2 == 0 {
                        IfTsResol::Micro
                    } else {
                        IfTsResol::Nano
                    },
                });
            }
            let mut n = 0u64;
            for (i, &lt) in LINK_TYPES.iter().enumerate() {
                for (outbound, p) in zoo_packets(lt) {
                    w.write_packet(
                        i as u32,
                        t0 + n * 1_000_000,
                        &wrap(lt, e, outbound, &p),
                        None,
                    );
                    n += 1;
                }
            }
            bytes.extend_from_slice(&w.into_bytes());
        }
        out.push((name.to_string(), bytes));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaigns_are_deterministic_and_damage_their_base() {
        let bases: Vec<Vec<u8>> = link_zoo().into_iter().map(|(_, b)| b).collect();
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..500 {
            let a = mutant(&bases, 7, i);
            let b = mutant(&bases, 7, i);
            assert_eq!((a.base, &a.what, &a.bytes), (b.base, &b.what, &b.bytes));
            assert_ne!(a.bytes, bases[a.base], "{}", a.what);
            kinds.insert(a.what.split(':').next().unwrap_or_default().to_string());
        }
        assert_eq!(kinds.len(), KINDS.len(), "{kinds:?}");
        assert_ne!(mutant(&bases, 7, 1).bytes, mutant(&bases, 8, 1).bytes);
    }

    #[test]
    fn layouts_find_every_record() {
        for (name, bytes) in link_zoo() {
            let l = layout(&bytes).unwrap();
            assert_eq!(l.units.last().map(|u| u.0.end), Some(bytes.len()), "{name}");
            let packets = l.units.len() - 1;
            if !l.pcapng {
                assert!(packets == 6 || packets == 12, "{name}: {packets}");
            }
        }
    }
}
