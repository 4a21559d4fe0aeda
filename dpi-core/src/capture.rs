//! Streaming pcap and pcapng input. (Interface; the implementation is being written.)

use std::io::Read;
use std::path::Path;

use crate::{Error, LinkType, Timestamp};

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

/// A streaming reader over a pcap or pcapng capture with bounded memory.
pub struct CaptureReader<R: Read> {
    _r: R,
}

impl CaptureReader<std::io::BufReader<std::fs::File>> {
    /// Opens a capture file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let _ = path;
        todo!()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header from `reader`.
    pub fn new(reader: R) -> Result<Self, Error> {
        let _ = reader;
        todo!()
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        todo!()
    }

    /// The next frame; `Ok(None)` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Error> {
        todo!()
    }
}
