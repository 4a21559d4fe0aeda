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

pub(crate) mod layout;
mod pcap;
mod pcapng;
#[cfg(test)]
pub(crate) mod tests;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use crate::{Error, LinkType, Timestamp};

use self::pcap::{PcapLengths, PCAP_HEADER_LEN, PCAP_MAGIC_MODIFIED, PCAP_MAGIC_NS, PCAP_MAGIC_US};
use self::pcapng::{block_name, checked_scaled_timestamp, scaled_timestamp, SHB_TYPE};

/// Size of the read buffer a reader starts with.
const INITIAL_BUFFER: usize = 256 * 1024;

/// The smallest read buffer a reader is given.
const MIN_BUFFER: usize = 64;

/// The largest record or block a reader accepts; the buffer never grows beyond it.
const MAX_RECORD: usize = 64 * 1024 * 1024;

/// The most interfaces one pcapng section may declare.
const MAX_INTERFACES: usize = 1 << 16;

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

fn too_large(len: usize) -> String {
    format!("record of {len} bytes exceeds the limit of {MAX_RECORD} bytes")
}

fn truncated(present: usize, needed: usize) -> String {
    format!("file ends inside a record: {present} bytes present, {needed} needed")
}

/// An error reported by pcap-parser for a record that is wholly in the buffer.
fn describe_parse_error(e: &PcapError<&[u8]>, what: &str) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid {what} (pcap-parser: {})", kind.description())
        }
        // The whole record is in the buffer when it is parsed: pcap-parser
        // wanting more means its fields run past its end. Which of the
        // three it says depends on what else the buffer holds, so it is
        // not named: the message is the file's, however it was read.
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::BufferTooSmall => {
            format!("invalid {what}: its fields run past its end")
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

    /// Takes `ts` for the time of the frame before the next record (what a
    /// simple packet block, which has none, is given), when this reader
    /// starts in the middle of a file.
    pub(crate) fn set_last_ts(&mut self, ts: Timestamp) {
        self.state.last_ts = ts;
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
