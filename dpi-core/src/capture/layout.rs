//! Reading the records of a capture file from anywhere in it: what a split
//! read (`crate::shard::split`, several threads reading blocks of one
//! file) needs of the format. A classic pcap file's records are laid out
//! by its file header ([`PcapLayout`]); a pcapng file's enhanced packet
//! blocks by the section header and interface blocks before its first
//! packet ([`NgLayout`]).
//!
//! A record is taken here only when one [`CaptureReader`] reading the
//! file in sequence would hand out the same frame from it and change
//! nothing else it keeps; anything else (another kind of block, a field
//! out of range, a record that does not parse) is left to that reader.

use std::fs::File;
use std::io::Read;

use super::pcapng::SHB_TYPE;
use super::{u32_at, CaptureReader};
use crate::{LinkType, Timestamp};

pub(crate) use super::pcap::PcapLayout;
pub(crate) use super::pcapng::NgLayout;

/// How the records of a file are laid out.
#[derive(Clone, Debug)]
pub(crate) enum Layout {
    Pcap(PcapLayout),
    Ng(NgLayout),
}

/// The frame of a record, as one reader would hand it out.
#[derive(Copy, Clone, Debug)]
pub(crate) struct RecordFrame {
    /// Bytes of the whole record.
    pub(crate) len: usize,
    /// Where the frame's bytes start in the record, and how many.
    pub(crate) start: usize,
    pub(crate) caplen: usize,
    pub(crate) orig_len: u32,
    pub(crate) ts: Timestamp,
    pub(crate) link_type: LinkType,
}

/// What the bytes at a record's start say.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Rec {
    /// The record (or the part that gives its length) takes this many
    /// bytes, more than were given.
    Need(usize),
    /// A frame.
    Frame(RecordFrame),
    /// Not a record this read takes (see the module docs), or longer than
    /// the limit given.
    Stop,
}

impl Layout {
    /// The layout of the file `file` (read with positioned reads, so its
    /// position does not move), when it is a classic pcap or a pcapng file
    /// whose first packet block comes within its first `prefix` bytes.
    pub(crate) fn of_file(file: &File, prefix: u64) -> Option<Layout> {
        let mut head = vec![0u8; 24];
        read_at(file, &mut head, 0).ok()?;
        if u32_at(&head, 0, false) == Some(SHB_TYPE) {
            let input = At {
                file,
                pos: 0,
                end: prefix,
            };
            let reader = CaptureReader::new(std::io::BufReader::new(input)).ok()?;
            reader.ng_layout().map(Layout::Ng)
        } else {
            let reader = CaptureReader::new(&head[..]).ok()?;
            reader.pcap_layout().map(Layout::Pcap)
        }
    }

    /// Offset of the first record.
    pub(crate) fn first_record(&self) -> u64 {
        match self {
            Layout::Pcap(l) => l.first_record,
            Layout::Ng(l) => l.first_record,
        }
    }
}

/// The part of a record that gives its length, its frame, and whether it
/// looks like a record (to find where one starts in a block of the file).
pub(crate) trait Records {
    /// Bytes at a record's start that give its length.
    fn head_len(&self) -> usize;

    /// What `data`, the bytes from a record's start on, hold: the frame
    /// when the whole record is there and its content is at most `max`
    /// bytes long.
    fn take(&self, data: &[u8], max: u32) -> Rec;

    /// When the bytes at `data` look like the start of a record whose
    /// content is at most `max` bytes: its length. What can only be
    /// checked with the whole record is checked when `data` holds it.
    fn plausible(&self, data: &[u8], max: u32) -> Option<usize>;
}

/// A file read from `pos` to `end` with positioned reads.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.end.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = read_some_at(self.file, &mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads `buf.len()` bytes of `file` from `offset` (no seek: threads read
/// one file at once).
#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn read_some_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
pub(crate) fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(not(unix))]
fn read_some_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}
