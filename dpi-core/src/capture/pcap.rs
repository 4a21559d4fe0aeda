//! Classic pcap: the file header's magic numbers, record lengths (in
//! either order before format 2.3) and timestamps, and the fast path for
//! a record whole in the buffer.

use std::io::Read;

use super::{u32_at, CaptureReader, State, Step};
use crate::{Error, LinkType, Timestamp};

pub(super) const PCAP_HEADER_LEN: usize = 24;
pub(super) const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
pub(super) const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
pub(super) const PCAP_MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// Files written before pcap format 2.3 store the wire length before the
/// captured length; in 2.3 files either order occurs. libpcap and Wireshark
/// swap the two fields for such files, and so does this reader.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum PcapLengths {
    /// Captured length, then wire length.
    InOrder,
    /// Wire length, then captured length (before 2.3).
    Swapped,
    /// Either order; the smaller one is the captured length (2.3).
    MaybeSwapped,
}

/// The time of a pcap record: seconds and the micro- or nanosecond part.
#[inline]
pub(super) fn pcap_timestamp(sec: u32, frac: u32, nanos: bool) -> Timestamp {
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
/// Captured length, wire length, and whether they were swapped, of the
/// pcap record whose header starts `data`.
#[inline]
fn record_lengths(data: &[u8], big_endian: bool, lengths: PcapLengths) -> Option<(u32, u32, bool)> {
    let first = u32_at(data, 8, big_endian)?;
    let second = u32_at(data, 12, big_endian)?;
    let swap = match lengths {
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

/// How the records of a classic pcap file are laid out, from its file
/// header: what reading its records from anywhere in the file takes
/// (`crate::split` reads blocks of one file on several threads).
#[derive(Copy, Clone, Debug)]
pub(crate) struct PcapLayout {
    /// Bytes of a record header (16, or 24 in the modified format).
    pub(crate) header_len: usize,
    /// Offset of the first record (the file header's length).
    pub(crate) first_record: u64,
    /// The file's one link type.
    pub(crate) link_type: LinkType,
    big_endian: bool,
    lengths: PcapLengths,
    nanos: bool,
}

/// One record as [`PcapLayout::record`] reads its header.
#[derive(Copy, Clone, Debug)]
pub(crate) struct RecordHeader {
    /// Captured length: the bytes after the header.
    pub(crate) caplen: u32,
    /// Length on the wire.
    pub(crate) orig_len: u32,
    /// Seconds and their fraction, as stored.
    pub(crate) sec: u32,
    pub(crate) frac: u32,
}

impl PcapLayout {
    /// The header of the record that starts `data` (`None` when `data` is
    /// shorter than a header).
    #[inline]
    pub(crate) fn record(&self, data: &[u8]) -> Option<RecordHeader> {
        let (caplen, orig_len, _) = record_lengths(data, self.big_endian, self.lengths)?;
        Some(RecordHeader {
            caplen,
            orig_len,
            sec: u32_at(data, 0, self.big_endian)?,
            frac: u32_at(data, 4, self.big_endian)?,
        })
    }

    /// The time of a record, as the reader gives it.
    #[inline]
    pub(crate) fn timestamp(&self, r: &RecordHeader) -> Timestamp {
        pcap_timestamp(r.sec, r.frac, self.nanos)
    }

    /// Whether the fraction of a second is one this file can hold (below
    /// a million microseconds or a billion nanoseconds).
    #[inline]
    pub(crate) fn frac_in_range(&self, r: &RecordHeader) -> bool {
        r.frac < if self.nanos { 1_000_000_000 } else { 1_000_000 }
    }
}

impl super::layout::Records for PcapLayout {
    fn head_len(&self) -> usize {
        self.header_len
    }

    #[inline]
    fn take(&self, data: &[u8], max: u32) -> super::layout::Rec {
        use super::layout::{Rec, RecordFrame};
        let Some(r) = self.record(data) else {
            return Rec::Need(self.header_len);
        };
        if r.caplen > max {
            return Rec::Stop;
        }
        let len = self.header_len + r.caplen as usize;
        if data.len() < len {
            return Rec::Need(len);
        }
        Rec::Frame(RecordFrame {
            len,
            start: self.header_len,
            caplen: r.caplen as usize,
            orig_len: r.orig_len,
            ts: self.timestamp(&r),
            link_type: self.link_type,
        })
    }

    /// A captured length from 1 to the wire length, a wire length of at
    /// most `max` and a fraction of a second in range (so that runs of
    /// zeros, or of one repeated byte, are not taken for records).
    fn plausible(&self, data: &[u8], max: u32) -> Option<usize> {
        let r = self.record(data)?;
        (r.caplen != 0 && r.caplen <= r.orig_len && r.orig_len <= max && self.frac_in_range(&r))
            .then_some(self.header_len + r.caplen as usize)
    }
}

impl<R: Read> CaptureReader<R> {
    /// The layout of a classic pcap file's records, right after the file
    /// header was read (`None` for pcapng).
    pub(crate) fn pcap_layout(&self) -> Option<PcapLayout> {
        let iface = self.state.interfaces.first()?;
        match self.format {
            super::CaptureFormat::Pcap { nanos, big_endian } => Some(PcapLayout {
                header_len: self.state.record_header,
                first_record: self.offset(),
                link_type: iface.link_type,
                big_endian,
                lengths: self.state.lengths,
                nanos,
            }),
            super::CaptureFormat::PcapNg => None,
        }
    }
}

impl State {
    /// Captured length, wire length, and whether they were swapped, of the
    /// pcap record whose header starts `data`.
    pub(super) fn pcap_lengths(&self, data: &[u8]) -> Option<(u32, u32, bool)> {
        record_lengths(data, self.big_endian, self.lengths)
    }

    pub(super) fn pcap_frame(
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
}

impl<R: Read> CaptureReader<R> {
    /// The common case of a pcap file: the next record is already whole in
    /// the buffer. Takes it as [`advance`](Self::advance) would, in one
    /// pass over its header; `None` leaves everything else (refills,
    /// growth, the end, errors) to `advance`.
    #[inline]
    pub(super) fn pcap_record_in_buffer(&mut self) -> Option<Step> {
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
}
