//! pcapng: block types, timestamps scaled by `if_tsresol` and
//! `if_tsoffset`, block lengths, and what each block does to the state.

use std::io::Read;

use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{parse_block_be, parse_block_le, Block, OptionCode, PcapBlockOwned};

use super::layout::{Rec, RecordFrame, Records};
use super::MAX_INTERFACES;
use super::{truncated, u16_at, u32_at, CaptureFormat, CaptureReader, InterfaceInfo, State, Step};
use crate::{Error, LinkType, Timestamp};

pub(super) const SHB_TYPE: u32 = 0x0a0d_0d0a;
pub(super) const IDB_TYPE: u32 = 0x0000_0001;
pub(super) const OPB_TYPE: u32 = 0x0000_0002;
pub(super) const SPB_TYPE: u32 = 0x0000_0003;
pub(super) const EPB_TYPE: u32 = 0x0000_0006;
pub(super) const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Smallest section header block: type, length, byte-order magic, version, section length, length.
pub(super) const SHB_MIN_LEN: usize = 28;

/// Where the packet bytes start inside each kind of record.
pub(super) const EPB_DATA_START: usize = 28;
pub(super) const OPB_DATA_START: usize = 28;
pub(super) const SPB_DATA_START: usize = 12;
/// Bytes of an enhanced packet block besides its packet and options: type,
/// length, interface, two words of time, two lengths, trailing length.
const EPB_MIN_LEN: usize = 32;

/// How the enhanced packet blocks of a pcapng file are read from anywhere
/// in it: the byte order and the interfaces of its first section, as the
/// blocks before its first packet block declare them. A block of another
/// kind (a new section or interface, a simple packet block, statistics)
/// is left to a reader that reads the file in sequence from there.
#[derive(Clone, Debug)]
pub(crate) struct NgLayout {
    /// Offset of the first packet block (an enhanced packet block).
    pub(crate) first_record: u64,
    big_endian: bool,
    interfaces: Vec<InterfaceInfo>,
}

impl NgLayout {
    /// The length of the block that starts `data`, when it is an enhanced
    /// packet block of at most `max` bytes (a multiple of four, as every
    /// block's).
    fn epb_len(&self, data: &[u8], max: u32) -> Option<usize> {
        let be = self.big_endian;
        let (kind, len) = (u32_at(data, 0, be)?, u32_at(data, 4, be)?);
        let ok = kind == EPB_TYPE && len <= max && len as usize >= EPB_MIN_LEN && len & 3 == 0;
        ok.then_some(len as usize)
    }
}

impl Records for NgLayout {
    fn head_len(&self) -> usize {
        8
    }

    fn take(&self, data: &[u8], max: u32) -> Rec {
        if data.len() < 8 {
            return Rec::Need(8);
        }
        let Some(len) = self.epb_len(data, max) else {
            return Rec::Stop;
        };
        if data.len() < len {
            return Rec::Need(len);
        }
        let block = &data[..len];
        let be = self.big_endian;
        if u32_at(block, len - 4, be) != Some(len as u32) {
            return Rec::Stop;
        }
        // The same parser as the reader's, so that a block it refuses
        // (options that do not parse, say) is refused here too.
        let parsed = if be {
            parse_block_be(block)
        } else {
            parse_block_le(block)
        };
        let Ok((rest, Block::EnhancedPacket(epb))) = parsed else {
            return Rec::Stop;
        };
        let Some(iface) = usize::try_from(epb.if_id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
        else {
            return Rec::Stop;
        };
        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let caplen = epb.packet_data().len();
        match iface.checked_timestamp(raw) {
            Some(ts) if rest.is_empty() && EPB_DATA_START + caplen <= len => {
                Rec::Frame(RecordFrame {
                    len,
                    start: EPB_DATA_START,
                    caplen,
                    orig_len: epb.origlen,
                    ts,
                    link_type: iface.link_type,
                })
            }
            _ => Rec::Stop,
        }
    }

    /// An enhanced packet block of an interface declared before the first
    /// packet, with a captured length that fits in it, and the same
    /// length at its end when `data` holds it.
    fn plausible(&self, data: &[u8], max: u32) -> Option<usize> {
        let be = self.big_endian;
        let len = self.epb_len(data, max)?;
        let iface = u32_at(data, 8, be)?;
        let caplen = u32_at(data, 20, be)?;
        let fits = (iface as usize) < self.interfaces.len()
            && caplen as usize <= len - EPB_MIN_LEN
            && data
                .get(len - 4..len)
                .is_none_or(|_| u32_at(data, len - 4, be) == Some(len as u32));
        fits.then_some(len)
    }
}

impl<R: Read> CaptureReader<R> {
    /// The layout of a pcapng file's enhanced packet blocks, right after
    /// its first section header block was read: the blocks up to its first
    /// packet block are read (`None` when that is not an enhanced packet
    /// block, or when none comes before the input ends).
    pub(crate) fn ng_layout(mut self) -> Option<NgLayout> {
        if self.format != CaptureFormat::PcapNg {
            return None;
        }
        match self.advance() {
            Ok(Some(_)) if self.state.block_type == EPB_TYPE => Some(NgLayout {
                first_record: self.offset,
                big_endian: self.state.big_endian,
                interfaces: self.state.interfaces.clone(),
            }),
            _ => None,
        }
    }
}

/// A raw timestamp in units given by a pcapng `if_tsresol` value, plus an
/// offset in seconds, as nanoseconds since the epoch (saturating).
pub(super) fn scaled_timestamp(raw: u64, tsresol: u8, offset_secs: i64) -> Timestamp {
    let total = scaled_nanos(raw, tsresol, offset_secs);
    Timestamp::from_nanos(u64::try_from(total.max(0)).unwrap_or(u64::MAX))
}

/// [`scaled_timestamp`], or `None` when the time lies outside what a
/// [`Timestamp`] holds (before 1970, or after 2554).
pub(super) fn checked_scaled_timestamp(
    raw: u64,
    tsresol: u8,
    offset_secs: i64,
) -> Option<Timestamp> {
    u64::try_from(scaled_nanos(raw, tsresol, offset_secs))
        .ok()
        .map(Timestamp::from_nanos)
}

/// Nanoseconds since the epoch of a raw timestamp, exactly (no `u64` or
/// `i64` product can overflow an `i128` here).
pub(super) fn scaled_nanos(raw: u64, tsresol: u8, offset_secs: i64) -> i128 {
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
pub(super) fn timestamp_overflow(
    offset: u64,
    interface: u32,
    iface: &InterfaceInfo,
    raw: u64,
) -> Error {
    Error::capture(
        offset,
        format!(
            "timestamp out of range on interface {interface}: {raw} units of its resolution \
             (if_tsresol {:#04x}) plus its if_tsoffset of {} s is not between 1970 and 2554",
            iface.ts_resolution, iface.ts_offset
        ),
    )
}

pub(super) fn block_name(block_type: u32) -> &'static str {
    match block_type {
        SHB_TYPE => "section header block",
        IDB_TYPE => "interface description block",
        OPB_TYPE => "packet block",
        SPB_TYPE => "simple packet block",
        EPB_TYPE => "enhanced packet block",
        _ => "block",
    }
}
impl State {
    /// Takes what a record says into the state; tells whether it is a frame.
    pub(super) fn step(&mut self, block: PcapBlockOwned<'_>, offset: u64) -> Result<Step, Error> {
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

impl<R: Read> CaptureReader<R> {
    /// Checks that the pcapng block at the start of the buffer (whole in
    /// it, see [`fill_record`](Self::fill_record)) ends with the same total
    /// length it starts with, as every block must, the section header
    /// block included (pcapng, IETF draft-ietf-opsawg-pcapng, section 3.1).
    pub(super) fn check_trailing_length(&self, offset: u64) -> Result<(), Error> {
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
    pub(super) fn ng_block_len(data: &[u8], section_be: bool) -> Result<(usize, bool), Error> {
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
}
