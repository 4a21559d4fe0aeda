//! Streaming pcap and pcapng input with bounded memory.
//!
//! [`CaptureReader`] reads classic pcap (either byte order, micro- or
//! nanosecond stamps) and pcapng (any number of sections and interfaces,
//! per-interface link type, timestamp resolution and offset). Records are
//! parsed by `pcap-parser`'s streaming readers over a buffer of 256 KiB
//! that grows only for a single record larger than that, up to 64 MiB; a
//! larger record is an error.
//!
//! Every error names the byte offset of the record or block where it was
//! found. A file cut short inside a record yields the frames before it, then
//! the error; after an error the reader returns `Ok(None)`.
//!
//! ```
//! use dpi_core::{CaptureFormat, CaptureReader, LinkType};
//!
//! // A pcap header (little-endian, microseconds, Ethernet) and one 4-byte record.
//! let mut file = Vec::new();
//! file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
//! file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
//! file.extend_from_slice(&65535u32.to_le_bytes());
//! file.extend_from_slice(&1u32.to_le_bytes());
//! for v in [1u32, 500_000, 4, 60] {
//!     file.extend_from_slice(&v.to_le_bytes());
//! }
//! file.extend_from_slice(b"abcd");
//!
//! let mut reader = CaptureReader::new(&file[..]).unwrap();
//! assert_eq!(reader.format(), CaptureFormat::Pcap { nanos: false, big_endian: false });
//! let frame = reader.next_frame().unwrap().unwrap();
//! assert_eq!(frame.data, b"abcd");
//! assert_eq!(frame.orig_len, 60);
//! assert_eq!(frame.link_type, LinkType::ETHERNET);
//! assert_eq!(frame.ts.as_nanos(), 1_500_000_000);
//! assert_eq!(frame.offset, 24);
//! assert!(reader.next_frame().unwrap().is_none());
//! ```

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, LegacyPcapReader, OptionCode, PcapBlockOwned, PcapError, PcapNGReader};

use crate::{Error, LinkType, Timestamp};

/// Size of the read buffer a reader starts with.
const INITIAL_BUFFER: usize = 256 * 1024;

/// The smallest read buffer a reader is given.
const MIN_BUFFER: usize = 64;

/// The largest record or block a reader accepts; the buffer never grows beyond it.
const MAX_RECORD: usize = 64 * 1024 * 1024;

/// The most interfaces one pcapng section may declare.
const MAX_INTERFACES: usize = 1 << 16;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAP_MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

const SHB_TYPE: u32 = 0x0a0d_0d0a;
const IDB_TYPE: u32 = 0x0000_0001;
const OPB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Smallest section header block: type, length, byte-order magic, version, section length, length.
const SHB_MIN_LEN: usize = 28;

/// Where the packet bytes start inside each kind of record.
const EPB_DATA_START: usize = 28;
const OPB_DATA_START: usize = 28;
const SPB_DATA_START: usize = 12;

/// The container format of a capture file, as found in its first bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap.
    Pcap {
        /// Nanosecond timestamps (magic `a1b23c4d`) rather than microseconds.
        nanos: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Copy, Clone, Debug)]
pub struct Frame<'a> {
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// Link type of the frame (per interface in pcapng).
    pub link_type: LinkType,
    /// Capture time.
    pub ts: Timestamp,
    /// Byte offset of the record (pcap) or block (pcapng) in the file.
    pub offset: u64,
    /// pcapng interface index (0 for pcap).
    pub interface: u32,
}

/// What a capture declares about one interface: a pcapng Interface
/// Description Block, or the file header of a classic pcap.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Link type of the interface's frames.
    pub link_type: LinkType,
    /// Snap length (0: no limit).
    pub snaplen: u32,
    /// Timestamp resolution, coded as pcapng's `if_tsresol`: with bit 7
    /// clear, units of 10^-n seconds; with bit 7 set, units of 2^-n seconds
    /// (n in the low 7 bits). 6 for microsecond pcap, 9 for nanosecond.
    pub ts_resolution: u8,
    /// Seconds added to every timestamp (pcapng's `if_tsoffset`).
    pub ts_offset: i64,
}

impl InterfaceInfo {
    /// Converts a raw timestamp in this interface's units to a [`Timestamp`],
    /// saturating at both ends of its range.
    pub fn timestamp(&self, raw: u64) -> Timestamp {
        scaled_timestamp(raw, self.ts_resolution, self.ts_offset)
    }

    /// Converts a raw timestamp in this interface's units to a
    /// [`Timestamp`]; `None` when the time (with `if_tsoffset`) lies
    /// outside its range, before 1970 or after 2554. The reader refuses
    /// such a packet with an error rather than saturating.
    ///
    /// ```
    /// use dpi_core::{InterfaceInfo, LinkType};
    ///
    /// let mut i = InterfaceInfo { link_type: LinkType::ETHERNET, snaplen: 0, ts_resolution: 6, ts_offset: 0 };
    /// assert_eq!(i.checked_timestamp(1_500_000).map(|t| t.as_nanos()), Some(1_500_000_000));
    /// i.ts_offset = i64::MAX;
    /// assert_eq!(i.checked_timestamp(1), None);
    /// ```
    pub fn checked_timestamp(&self, raw: u64) -> Option<Timestamp> {
        checked_scaled_timestamp(raw, self.ts_resolution, self.ts_offset)
    }
}

/// A streaming reader over a pcap or pcapng capture with bounded memory.
///
/// The buffer holds 256 KiB and grows only when a single record is larger,
/// never beyond 64 MiB.
pub struct CaptureReader<R: Read> {
    inner: Inner<R>,
    format: CaptureFormat,
    io_error: Arc<Mutex<Option<io::Error>>>,
    /// Absolute offset of the first byte held in the buffer.
    offset: u64,
    /// Length of the record handed out last; consumed at the next call.
    pending: usize,
    capacity: usize,
    state: State,
    done: bool,
}

/// Parsing state that outlives a single record.
struct State {
    /// Byte order of the pcap file, or of the current pcapng section.
    big_endian: bool,
    /// pcap only: length of a record header (16, or 24 in the modified format).
    record_header: usize,
    /// pcap: the one interface from the file header; pcapng: the current section's.
    interfaces: Vec<InterfaceInfo>,
    /// Time of the last frame, given to Simple Packet Blocks (which carry none).
    last_ts: Timestamp,
    /// pcapng: type of the block about to be parsed, in the section's byte order.
    block_type: u32,
    /// pcap: whether record headers give the two lengths in the old order.
    lengths: PcapLengths,
}

/// Files written before pcap format 2.3 store the wire length before the
/// captured length; in 2.3 files either order occurs. libpcap and Wireshark
/// swap the two fields for such files, and so does this reader.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum PcapLengths {
    /// Captured length, then wire length.
    InOrder,
    /// Wire length, then captured length (before 2.3).
    Swapped,
    /// Either order; the smaller one is the captured length (2.3).
    MaybeSwapped,
}

enum Inner<R: Read> {
    Pcap(LegacyPcapReader<Source<R>>),
    Ng(PcapNGReader<Source<R>>),
}

impl<R: Read> Inner<R> {
    fn get(&self) -> &dyn PcapReaderIterator {
        match self {
            Inner::Pcap(r) => r,
            Inner::Ng(r) => r,
        }
    }

    fn get_mut(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Inner::Pcap(r) => r,
            Inner::Ng(r) => r,
        }
    }

    /// The unread bytes of the buffer; called per record, so dispatched
    /// statically rather than through [`get`](Self::get).
    #[inline]
    fn data(&self) -> &[u8] {
        match self {
            Inner::Pcap(r) => r.data(),
            Inner::Ng(r) => r.data(),
        }
    }

    /// Marks `n` bytes read without moving the rest of the buffer.
    #[inline]
    fn consume_noshift(&mut self, n: usize) {
        match self {
            Inner::Pcap(r) => r.consume_noshift(n),
            Inner::Ng(r) => r.consume_noshift(n),
        }
    }
}

/// The input as pcap-parser sees it: the bytes already read to recognise the
/// file, then the rest of the reader. I/O errors are kept aside, since
/// pcap-parser reports them without their cause.
struct Source<R> {
    head: Vec<u8>,
    head_pos: usize,
    inner: R,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head_pos < self.head.len() {
            let n = (self.head.len() - self.head_pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            if self.head_pos == self.head.len() {
                self.head = Vec::new();
                self.head_pos = 0;
            }
            return Ok(n);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let message = e.to_string();
                    if let Ok(mut slot) = self.error.lock() {
                        *slot = Some(e);
                    }
                    return Err(io::Error::other(message));
                }
                Ok(n) => return Ok(n),
            }
        }
    }
}

/// Reads from `r` into `buf` until it holds `want` bytes or the input ends.
/// Allocates only as bytes arrive.
fn read_up_to<R: Read>(r: &mut R, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    if buf.len() >= want {
        return Ok(());
    }
    let missing = (want - buf.len()) as u64;
    r.by_ref().take(missing).read_to_end(buf)?;
    Ok(())
}

fn u32_at(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn u16_at(data: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let b: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

/// The time of a pcap record: seconds and the micro- or nanosecond part.
#[inline]
fn pcap_timestamp(sec: u32, frac: u32, nanos: bool) -> Timestamp {
    let frac = u64::from(frac);
    let frac_nanos = if nanos {
        frac
    } else {
        frac.saturating_mul(1_000)
    };
    Timestamp::from_nanos(
        u64::from(sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(frac_nanos),
    )
}

fn too_large(len: usize) -> String {
    format!("record of {len} bytes exceeds the limit of {MAX_RECORD} bytes")
}

fn truncated(present: usize, needed: usize) -> String {
    format!("file ends inside a record: {present} bytes present, {needed} needed")
}

/// A raw timestamp in units given by a pcapng `if_tsresol` value, plus an
/// offset in seconds, as nanoseconds since the epoch (saturating).
fn scaled_timestamp(raw: u64, tsresol: u8, offset_secs: i64) -> Timestamp {
    let total = scaled_nanos(raw, tsresol, offset_secs);
    Timestamp::from_nanos(u64::try_from(total.max(0)).unwrap_or(u64::MAX))
}

/// [`scaled_timestamp`], or `None` when the time lies outside what a
/// [`Timestamp`] holds (before 1970, or after 2554).
fn checked_scaled_timestamp(raw: u64, tsresol: u8, offset_secs: i64) -> Option<Timestamp> {
    u64::try_from(scaled_nanos(raw, tsresol, offset_secs))
        .ok()
        .map(Timestamp::from_nanos)
}

/// Nanoseconds since the epoch of a raw timestamp, exactly (no `u64` or
/// `i64` product can overflow an `i128` here).
fn scaled_nanos(raw: u64, tsresol: u8, offset_secs: i64) -> i128 {
    let raw = u128::from(raw);
    let exp = u32::from(tsresol & 0x7f);
    let nanos: u128 = if tsresol & 0x80 == 0 {
        if exp <= 9 {
            raw * 10u128.pow(9 - exp)
        } else {
            10u128.checked_pow(exp - 9).map_or(0, |d| raw / d)
        }
    } else {
        (raw * 1_000_000_000) >> exp
    };
    // `nanos` < 2^64 * 10^9 < 2^94 and the offset * 10^9 < 2^94 in magnitude.
    i128::try_from(nanos).unwrap_or(i128::MAX) + i128::from(offset_secs) * 1_000_000_000
}

/// The error for a pcapng timestamp that lies outside what a [`Timestamp`]
/// holds.
fn timestamp_overflow(offset: u64, interface: u32, iface: &InterfaceInfo, raw: u64) -> Error {
    Error::capture(
        offset,
        format!(
            "timestamp out of range on interface {interface}: {raw} units of its resolution \
             (if_tsresol {:#04x}) plus its if_tsoffset of {} s is not between 1970 and 2554",
            iface.ts_resolution, iface.ts_offset
        ),
    )
}

fn block_name(block_type: u32) -> &'static str {
    match block_type {
        SHB_TYPE => "section header block",
        IDB_TYPE => "interface description block",
        OPB_TYPE => "packet block",
        SPB_TYPE => "simple packet block",
        EPB_TYPE => "enhanced packet block",
        _ => "block",
    }
}

/// An error reported by pcap-parser for a record that is wholly in the buffer.
fn describe_parse_error(e: &PcapError<&[u8]>, what: &str) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid {what} (pcap-parser: {})", kind.description())
        }
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::BufferTooSmall => {
            format!("invalid {what}: its fields run past its end (pcap-parser: {e})")
        }
        other => format!("invalid {what} (pcap-parser: {other})"),
    }
}

/// What one parsed record turned out to be.
enum Step {
    Skip,
    Frame {
        start: usize,
        len: usize,
        orig_len: u32,
        link_type: LinkType,
        ts: Timestamp,
        interface: u32,
    },
}

impl State {
    fn interface(&self, id: u32, offset: u64) -> Result<InterfaceInfo, Error> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied()
            .ok_or_else(|| {
                Error::capture(
                    offset,
                    format!(
                        "packet refers to interface {id}, but its section defines {} interface(s)",
                        self.interfaces.len()
                    ),
                )
            })
    }

    /// Captured length, wire length, and whether they were swapped, of the
    /// pcap record whose header starts `data`.
    fn pcap_lengths(&self, data: &[u8]) -> Option<(u32, u32, bool)> {
        let first = u32_at(data, 8, self.big_endian)?;
        let second = u32_at(data, 12, self.big_endian)?;
        let swap = match self.lengths {
            PcapLengths::InOrder => false,
            PcapLengths::Swapped => true,
            PcapLengths::MaybeSwapped => first > second,
        };
        Some(if swap {
            (second, first, true)
        } else {
            (first, second, false)
        })
    }

    fn pcap_frame(
        &mut self,
        sec: u32,
        frac: u32,
        len: usize,
        orig_len: u32,
        offset: u64,
    ) -> Result<Step, Error> {
        let iface = self.interface(0, offset)?;
        let ts = pcap_timestamp(sec, frac, iface.ts_resolution == 9);
        self.last_ts = ts;
        Ok(Step::Frame {
            start: self.record_header,
            len,
            orig_len,
            link_type: iface.link_type,
            ts,
            interface: 0,
        })
    }

    /// Takes what a record says into the state; tells whether it is a frame.
    fn step(&mut self, block: PcapBlockOwned<'_>, offset: u64) -> Result<Step, Error> {
        let ng = match block {
            PcapBlockOwned::LegacyHeader(_) => return Ok(Step::Skip),
            PcapBlockOwned::Legacy(b) => {
                return self.pcap_frame(b.ts_sec, b.ts_usec, b.data.len(), b.origlen, offset);
            }
            PcapBlockOwned::NG(ng) => ng,
        };
        match ng {
            Block::SectionHeader(shb) => {
                self.big_endian = shb.big_endian();
                self.interfaces.clear();
                Ok(Step::Skip)
            }
            Block::InterfaceDescription(idb) => {
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err(Error::capture(
                        offset,
                        format!("more than {MAX_INTERFACES} interfaces in one section"),
                    ));
                }
                let mut info = InterfaceInfo {
                    link_type: LinkType(u32::from(idb.linktype.0 as u16)),
                    snaplen: idb.snaplen,
                    ts_resolution: 6,
                    ts_offset: 0,
                };
                for opt in &idb.options {
                    let Ok(value) = opt.as_bytes() else { continue };
                    if opt.code == OptionCode::IfTsresol {
                        if let Some(&r) = value.first() {
                            info.ts_resolution = r;
                        }
                    } else if opt.code == OptionCode::IfTsoffset {
                        if let Some(b) = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                            info.ts_offset = if self.big_endian {
                                i64::from_be_bytes(b)
                            } else {
                                i64::from_le_bytes(b)
                            };
                        }
                    }
                }
                self.interfaces.push(info);
                Ok(Step::Skip)
            }
            Block::EnhancedPacket(epb) => {
                let iface = self.interface(epb.if_id, offset)?;
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = iface
                    .checked_timestamp(raw)
                    .ok_or_else(|| timestamp_overflow(offset, epb.if_id, &iface, raw))?;
                self.last_ts = ts;
                Ok(Step::Frame {
                    start: EPB_DATA_START,
                    len: epb.packet_data().len(),
                    orig_len: epb.origlen,
                    link_type: iface.link_type,
                    ts,
                    interface: epb.if_id,
                })
            }
            Block::SimplePacket(spb) => {
                let iface = self.interface(0, offset)?;
                let mut len = spb.packet_data().len();
                if iface.snaplen != 0 {
                    len = len.min(usize::try_from(iface.snaplen).unwrap_or(usize::MAX));
                }
                Ok(Step::Frame {
                    start: SPB_DATA_START,
                    len,
                    orig_len: spb.origlen,
                    link_type: iface.link_type,
                    ts: self.last_ts,
                    interface: 0,
                })
            }
            Block::Unknown(ub) if self.block_type == OPB_TYPE => {
                let be = self.big_endian;
                let body = ub.data;
                let short = || Error::capture(offset, "packet block shorter than its header");
                let id = u16_at(body, 0, be).ok_or_else(short)?;
                let ts_high = u32_at(body, 4, be).ok_or_else(short)?;
                let ts_low = u32_at(body, 8, be).ok_or_else(short)?;
                let caplen = u32_at(body, 12, be).ok_or_else(short)?;
                let orig_len = u32_at(body, 16, be).ok_or_else(short)?;
                let room = body.len() - 20;
                let len = usize::try_from(caplen).unwrap_or(usize::MAX);
                if len > room {
                    return Err(Error::capture(
                        offset,
                        format!("packet block: captured length {caplen} exceeds the {room} bytes of the block"),
                    ));
                }
                let iface = self.interface(u32::from(id), offset)?;
                let raw = (u64::from(ts_high) << 32) | u64::from(ts_low);
                let ts = iface
                    .checked_timestamp(raw)
                    .ok_or_else(|| timestamp_overflow(offset, u32::from(id), &iface, raw))?;
                self.last_ts = ts;
                Ok(Step::Frame {
                    start: OPB_DATA_START,
                    len,
                    orig_len,
                    link_type: iface.link_type,
                    ts,
                    interface: u32::from(id),
                })
            }
            _ => Ok(Step::Skip),
        }
    }
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let file = File::open(path)?;
        Self::new(BufReader::new(file))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header from `reader`.
    pub fn new(reader: R) -> Result<Self, Error> {
        Self::with_buffer_size(reader, INITIAL_BUFFER)
    }

    /// Like [`new`](Self::new), with a read buffer of `bytes` (at least 64)
    /// instead of 256 KiB. The buffer still grows for a larger record, up to
    /// 64 MiB.
    pub fn with_buffer_size(mut reader: R, bytes: usize) -> Result<Self, Error> {
        let mut head = Vec::with_capacity(PCAP_HEADER_LEN);
        read_up_to(&mut reader, &mut head, 12)?;
        if head.is_empty() {
            return Err(Error::capture(
                0,
                "empty file (0 bytes): not a pcap or pcapng file",
            ));
        }
        let Some(magic) = u32_at(&head, 0, false) else {
            return Err(Error::capture(
                0,
                format!("not a pcap or pcapng file (only {} bytes)", head.len()),
            ));
        };
        let io_error = Arc::new(Mutex::new(None));
        let (format, record_header, big_endian) = match magic {
            PCAP_MAGIC_US => (
                CaptureFormat::Pcap {
                    nanos: false,
                    big_endian: false,
                },
                16,
                false,
            ),
            PCAP_MAGIC_NS => (
                CaptureFormat::Pcap {
                    nanos: true,
                    big_endian: false,
                },
                16,
                false,
            ),
            PCAP_MAGIC_MODIFIED => (
                CaptureFormat::Pcap {
                    nanos: false,
                    big_endian: false,
                },
                24,
                false,
            ),
            m if m == PCAP_MAGIC_US.swap_bytes() => (
                CaptureFormat::Pcap {
                    nanos: false,
                    big_endian: true,
                },
                16,
                true,
            ),
            m if m == PCAP_MAGIC_NS.swap_bytes() => (
                CaptureFormat::Pcap {
                    nanos: true,
                    big_endian: true,
                },
                16,
                true,
            ),
            SHB_TYPE => (CaptureFormat::PcapNg, 0, false),
            _ => {
                return Err(Error::capture(
                    0,
                    format!(
                        "not a pcap or pcapng file (magic {:02x} {:02x} {:02x} {:02x})",
                        head[0], head[1], head[2], head[3]
                    ),
                ))
            }
        };
        let mut capacity = bytes.clamp(MIN_BUFFER, MAX_RECORD);
        let inner = match format {
            CaptureFormat::Pcap { .. } => {
                read_up_to(&mut reader, &mut head, PCAP_HEADER_LEN)?;
                if head.len() < PCAP_HEADER_LEN {
                    return Err(Error::capture(
                        0,
                        format!(
                            "file ends inside the pcap file header: {} bytes present, {PCAP_HEADER_LEN} needed",
                            head.len()
                        ),
                    ));
                }
                let source = Source {
                    head,
                    head_pos: 0,
                    inner: reader,
                    error: io_error.clone(),
                };
                let r = LegacyPcapReader::new(capacity, source)
                    .map_err(|e| Error::capture(0, describe_parse_error(&e, "pcap file header")))?;
                Inner::Pcap(r)
            }
            CaptureFormat::PcapNg => {
                if head.len() < 12 {
                    return Err(Error::capture(0, truncated(head.len(), 12)));
                }
                let (shb_len, _) = Self::ng_block_len(&head, false)?;
                if shb_len > MAX_RECORD {
                    return Err(Error::capture(0, too_large(shb_len)));
                }
                read_up_to(&mut reader, &mut head, shb_len)?;
                if head.len() < shb_len {
                    return Err(Error::capture(0, truncated(head.len(), shb_len)));
                }
                capacity = capacity.max(shb_len);
                let source = Source {
                    head,
                    head_pos: 0,
                    inner: reader,
                    error: io_error.clone(),
                };
                let r = PcapNGReader::new(capacity, source).map_err(|e| {
                    Error::capture(0, describe_parse_error(&e, "section header block"))
                })?;
                Inner::Ng(r)
            }
        };
        let mut reader = CaptureReader {
            inner,
            format,
            io_error,
            offset: 0,
            pending: 0,
            capacity,
            state: State {
                big_endian,
                record_header,
                interfaces: Vec::new(),
                last_ts: Timestamp::ZERO,
                block_type: 0,
                lengths: PcapLengths::InOrder,
            },
            done: false,
        };
        if let CaptureFormat::Pcap { nanos, .. } = format {
            let it = reader.inner.get_mut();
            let (len, snaplen, network, version) = match it.next() {
                Ok((len, PcapBlockOwned::LegacyHeader(h))) => (
                    len,
                    h.snaplen,
                    h.network.0,
                    (h.version_major, h.version_minor),
                ),
                Ok(_) => return Err(Error::capture(0, "pcap file header not recognised")),
                Err(e) => {
                    return Err(Error::capture(
                        0,
                        describe_parse_error(&e, "pcap file header"),
                    ))
                }
            };
            it.consume(len);
            reader.offset = len as u64;
            if record_header == 16 {
                reader.state.lengths = match version {
                    (0..=1, _) | (2, 0..=2) => PcapLengths::Swapped,
                    (2, 3) => PcapLengths::MaybeSwapped,
                    _ => PcapLengths::InOrder,
                };
            }
            reader.state.interfaces.push(InterfaceInfo {
                link_type: LinkType((network as u32) & 0xffff),
                snaplen,
                ts_resolution: if nanos { 9 } else { 6 },
                ts_offset: 0,
            });
        }
        Ok(reader)
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte offset in the file of the next record to be read.
    pub fn offset(&self) -> u64 {
        self.offset + self.pending as u64
    }

    /// The interfaces of the current pcapng section, by index; for pcap, the
    /// one interface the file header describes.
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.state.interfaces
    }

    /// The next frame; `Ok(None)` at the end of the file.
    ///
    /// After an error the reader returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Error> {
        self.consume_pending();
        if self.done {
            return Ok(None);
        }
        let fast = match self.format {
            CaptureFormat::Pcap { .. } => self.pcap_record_in_buffer(),
            CaptureFormat::PcapNg => None,
        };
        let step = match fast {
            Some(step) => step,
            None => {
                let result = self.advance();
                if !matches!(result, Ok(Some(_))) {
                    self.done = true;
                }
                let Some(step) = result? else { return Ok(None) };
                step
            }
        };
        let Step::Frame {
            start,
            len,
            orig_len,
            link_type,
            ts,
            interface,
        } = step
        else {
            return Ok(None);
        };
        let offset = self.offset;
        let data = start
            .checked_add(len)
            .and_then(|end| self.inner.data().get(start..end))
            .ok_or_else(|| Error::capture(offset, "packet data lies outside its record"))?;
        Ok(Some(Frame {
            data,
            orig_len,
            link_type,
            ts,
            offset,
            interface,
        }))
    }

    /// The common case of a pcap file: the next record is already whole in
    /// the buffer. Takes it as [`advance`](Self::advance) would, in one
    /// pass over its header; `None` leaves everything else (refills,
    /// growth, the end, errors) to `advance`.
    #[inline]
    fn pcap_record_in_buffer(&mut self) -> Option<Step> {
        let hdr = self.state.record_header;
        let data = self.inner.data();
        let (caplen, orig_len, _) = self.state.pcap_lengths(data)?;
        let len = usize::try_from(caplen).ok()?;
        if data.len() < hdr.checked_add(len)? {
            return None;
        }
        let be = self.state.big_endian;
        let (sec, frac) = (u32_at(data, 0, be)?, u32_at(data, 4, be)?);
        let iface = *self.state.interfaces.first()?;
        let ts = pcap_timestamp(sec, frac, iface.ts_resolution == 9);
        self.state.last_ts = ts;
        self.pending = hdr + len;
        Some(Step::Frame {
            start: hdr,
            len,
            orig_len,
            link_type: iface.link_type,
            ts,
            interface: 0,
        })
    }

    fn consume_pending(&mut self) {
        if self.pending > 0 {
            // No shift here: `refill` moves the unread tail to the front
            // when more bytes are needed, so each byte is moved at most once.
            self.inner.consume_noshift(self.pending);
            self.offset += self.pending as u64;
            self.pending = 0;
        }
    }

    /// Parses records until a frame; leaves it unconsumed in the buffer.
    fn advance(&mut self) -> Result<Option<Step>, Error> {
        loop {
            if !self.fill_record()? {
                return Ok(None);
            }
            let offset = self.offset;
            let what = match self.format {
                CaptureFormat::Pcap { .. } => "pcap record",
                CaptureFormat::PcapNg => block_name(self.state.block_type),
            };
            if let CaptureFormat::Pcap { .. } = self.format {
                let data = self.inner.data();
                // The whole record is in the buffer (`fill_record`): take it
                // here rather than through pcap-parser, which would read the
                // same header again.
                if let Some((caplen, orig_len, _)) = self.state.pcap_lengths(data) {
                    let sec = u32_at(data, 0, self.state.big_endian).unwrap_or(0);
                    let frac = u32_at(data, 4, self.state.big_endian).unwrap_or(0);
                    let len = usize::try_from(caplen).unwrap_or(usize::MAX);
                    let step = self.state.pcap_frame(sec, frac, len, orig_len, offset)?;
                    self.pending = self.state.record_header.saturating_add(len);
                    return Ok(Some(step));
                }
            }
            if let CaptureFormat::PcapNg = self.format {
                self.check_trailing_length(offset)?;
            }
            let (len, step) = match self.inner.get_mut().next() {
                Ok((len, block)) => (len, self.state.step(block, offset)?),
                Err(PcapError::Eof) => return Ok(None),
                Err(e) => return Err(Error::capture(offset, describe_parse_error(&e, what))),
            };
            if len == 0 {
                return Err(Error::capture(offset, format!("empty {what}")));
            }
            self.pending = len;
            match step {
                Step::Skip => self.consume_pending(),
                frame => return Ok(Some(frame)),
            }
        }
    }

    /// Checks that the pcapng block at the start of the buffer (whole in
    /// it, see [`fill_record`](Self::fill_record)) ends with the same total
    /// length it starts with, as every block must, the section header
    /// block included (pcapng, IETF draft-ietf-opsawg-pcapng, section 3.1).
    fn check_trailing_length(&self, offset: u64) -> Result<(), Error> {
        let data = self.inner.data();
        let at = |e: Error| match e.kind() {
            crate::ErrorKind::Capture { message, .. } => Error::capture(offset, message.clone()),
            _ => e,
        };
        let (len, be) = Self::ng_block_len(data, self.state.big_endian).map_err(at)?;
        let trailing = len.checked_sub(4).and_then(|end| u32_at(data, end, be));
        match trailing {
            Some(t) if t as usize == len => Ok(()),
            Some(t) => Err(Error::capture(
                offset,
                format!(
                    "{}: trailing block length {t} differs from its leading length {len}",
                    block_name(u32_at(data, 0, be).unwrap_or(0))
                ),
            )),
            None => Err(Error::capture(offset, truncated(data.len(), len))),
        }
    }

    /// Length of the pcapng block at the start of `data` and whether it is
    /// big-endian; `section_be` is the byte order of the current section.
    fn ng_block_len(data: &[u8], section_be: bool) -> Result<(usize, bool), Error> {
        let raw_type = u32_at(data, 0, false).unwrap_or(0);
        let be = if raw_type == SHB_TYPE {
            match u32_at(data, 8, false) {
                Some(BYTE_ORDER_MAGIC) => false,
                Some(m) if m == BYTE_ORDER_MAGIC.swap_bytes() => true,
                m => {
                    return Err(Error::capture(
                        0,
                        format!(
                            "section header block with unknown byte-order magic {:08x}",
                            m.unwrap_or(0).swap_bytes()
                        ),
                    ))
                }
            }
        } else {
            section_be
        };
        let len = u32_at(data, 4, be).unwrap_or(0);
        let min = if raw_type == SHB_TYPE {
            SHB_MIN_LEN
        } else {
            12
        };
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize < min || len & 3 != 0 {
            return Err(Error::capture(
                0,
                format!("invalid {} length {len}", block_name(raw_type)),
            ));
        }
        Ok((len_usize, be))
    }

    /// Reads until the whole record at the start of the buffer is present.
    /// `Ok(false)` at a clean end of file.
    fn fill_record(&mut self) -> Result<bool, Error> {
        let offset = self.offset;
        let at = |e: Error| match e.kind() {
            crate::ErrorKind::Capture { message, .. } => Error::capture(offset, message.clone()),
            _ => e,
        };
        loop {
            let data = self.inner.data();
            let avail = data.len();
            let needed = match self.format {
                CaptureFormat::Pcap { .. } => {
                    let hdr = self.state.record_header;
                    match self.state.pcap_lengths(data) {
                        Some((caplen, _, _)) if avail >= hdr => {
                            hdr.saturating_add(usize::try_from(caplen).unwrap_or(usize::MAX))
                        }
                        _ => hdr,
                    }
                }
                CaptureFormat::PcapNg => {
                    let is_shb = u32_at(data, 0, false) == Some(SHB_TYPE);
                    let hdr = if is_shb { 12 } else { 8 };
                    if avail < hdr {
                        hdr
                    } else {
                        let (len, be) =
                            Self::ng_block_len(data, self.state.big_endian).map_err(at)?;
                        self.state.block_type = u32_at(data, 0, be).unwrap_or(0);
                        len
                    }
                }
            };
            if avail >= needed && avail > 0 {
                return Ok(true);
            }
            if self.inner.get().reader_exhausted() {
                if avail == 0 {
                    return Ok(false);
                }
                return Err(Error::capture(offset, truncated(avail, needed)));
            }
            if needed > MAX_RECORD {
                return Err(Error::capture(offset, too_large(needed)));
            }
            if needed > self.capacity {
                let new_capacity = needed.div_ceil(4096).saturating_mul(4096).min(MAX_RECORD);
                self.inner.get_mut().grow(new_capacity);
                self.capacity = new_capacity;
            }
            if self.inner.get_mut().refill().is_err() {
                let cause = self.io_error.lock().ok().and_then(|mut slot| slot.take());
                return Err(match cause {
                    Some(e) => Error::from(e),
                    None => Error::capture(offset, "read error"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
        out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
        out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn pad4(out: &mut Vec<u8>) {
        out.resize(out.len().div_ceil(4) * 4, 0);
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

    fn pcap_header(be: bool, nanos: bool, link: u32, snaplen: u32) -> Vec<u8> {
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

    /// A pcapng writer: blocks are appended in the byte order of the section.
    struct Ng {
        out: Vec<u8>,
        be: bool,
        /// Offset of every block written, in order.
        offsets: Vec<usize>,
    }

    impl Ng {
        fn new() -> Self {
            Ng {
                out: Vec::new(),
                be: false,
                offsets: Vec::new(),
            }
        }

        fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
            let be = self.be;
            let mut padded = body.to_vec();
            pad4(&mut padded);
            self.offsets.push(self.out.len());
            let len = padded.len() as u32 + 12;
            put32(&mut self.out, block_type, be);
            put32(&mut self.out, len, be);
            self.out.extend_from_slice(&padded);
            put32(&mut self.out, len, be);
            self
        }

        fn shb(&mut self, be: bool) -> &mut Self {
            self.be = be;
            let mut b = Vec::new();
            put32(&mut b, BYTE_ORDER_MAGIC, be);
            put16(&mut b, 1, be);
            put16(&mut b, 0, be);
            b.extend_from_slice(&[0xff; 8]);
            self.block(SHB_TYPE, &b)
        }

        fn idb(
            &mut self,
            link: u16,
            snaplen: u32,
            tsresol: Option<u8>,
            tsoffset: Option<i64>,
        ) -> &mut Self {
            let be = self.be;
            let mut b = Vec::new();
            put16(&mut b, link, be);
            put16(&mut b, 0, be);
            put32(&mut b, snaplen, be);
            if let Some(r) = tsresol {
                put16(&mut b, 9, be);
                put16(&mut b, 1, be);
                b.extend_from_slice(&[r, 0, 0, 0]);
            }
            if let Some(o) = tsoffset {
                put16(&mut b, 14, be);
                put16(&mut b, 8, be);
                b.extend_from_slice(&if be { o.to_be_bytes() } else { o.to_le_bytes() });
            }
            if tsresol.is_some() || tsoffset.is_some() {
                put32(&mut b, 0, be);
            }
            self.block(IDB_TYPE, &b)
        }

        fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
            let be = self.be;
            let mut b = Vec::new();
            put32(&mut b, if_id, be);
            put32(&mut b, (ts >> 32) as u32, be);
            put32(&mut b, ts as u32, be);
            put32(&mut b, data.len() as u32, be);
            put32(&mut b, orig, be);
            b.extend_from_slice(data);
            self.block(EPB_TYPE, &b)
        }

        fn spb(&mut self, data: &[u8], orig: u32) -> &mut Self {
            let be = self.be;
            let mut b = Vec::new();
            put32(&mut b, orig, be);
            b.extend_from_slice(data);
            self.block(SPB_TYPE, &b)
        }

        fn opb(&mut self, if_id: u16, ts: u64, data: &[u8], orig: u32) -> &mut Self {
            let be = self.be;
            let mut b = Vec::new();
            put16(&mut b, if_id, be);
            put16(&mut b, 0, be);
            put32(&mut b, (ts >> 32) as u32, be);
            put32(&mut b, ts as u32, be);
            put32(&mut b, data.len() as u32, be);
            put32(&mut b, orig, be);
            b.extend_from_slice(data);
            self.block(OPB_TYPE, &b)
        }
    }

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
            (u64::MAX, 0x80, 0, u64::MAX),
            (u64::MAX, 0, i64::MAX, u64::MAX),
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
}
