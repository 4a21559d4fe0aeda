//! The streaming entry point: frames in, finished flows out.

use std::collections::BTreeMap;
use std::path::Path;

use crate::decode::decode_with_id;
use crate::expect::{ExpectConfig, Expectations};
use crate::fragment::{DatagramKey, FragmentGuard, Verdict};
use crate::{
    CaptureReader, DecodeError, Error, Flow, FlowConfig, FlowTable, Fragment, LinkType, Timestamp,
};

/// Counters of what a [`FlowMeter`] saw, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeterStats {
    /// Frames handed in.
    pub frames: u64,
    /// Frames that decoded to an IP packet and were accounted to a flow.
    pub packets: u64,
    /// Frames that are not IP (ARP, LLC, ...).
    pub not_ip: u64,
    /// Frames cut short inside a header.
    pub truncated: u64,
    /// Frames with an invalid header, or whose IP length exceeds the frame's length on the wire.
    pub malformed: u64,
    /// Later IP fragments (no ports): counted, never a new flow.
    pub later_fragments: u64,
    /// First IP fragments not accounted to any flow because 1,024
    /// datagrams were already waiting for their later fragments (a flood of
    /// first fragments whose rest never comes).
    pub refused_fragments: u64,
    /// Datagrams whose first fragment came but no later fragment within
    /// 60 s, or before the end of the file ([`FlowMeter::read_file`]) or
    /// the [`FlowMeter::flush`].
    pub incomplete_datagrams: u64,
    /// Frames of link types this crate does not decode, by link type number.
    pub unsupported_link_types: BTreeMap<u32, u64>,
}

impl MeterStats {
    fn count_error(&mut self, e: DecodeError) {
        match e {
            DecodeError::UnsupportedLinkType(l) => {
                *self.unsupported_link_types.entry(l.0).or_default() += 1
            }
            DecodeError::NotIp(_) => self.not_ip += 1,
            DecodeError::Truncated { .. } => self.truncated += 1,
            DecodeError::Malformed { .. } => self.malformed += 1,
        }
    }

    /// These counters minus `before` (counters taken earlier from the same meter).
    pub(crate) fn since(&self, before: &MeterStats) -> MeterStats {
        let mut stats = self.clone();
        stats.frames -= before.frames;
        stats.packets -= before.packets;
        stats.not_ip -= before.not_ip;
        stats.truncated -= before.truncated;
        stats.malformed -= before.malformed;
        stats.later_fragments -= before.later_fragments;
        stats.refused_fragments -= before.refused_fragments;
        stats.incomplete_datagrams -= before.incomplete_datagrams;
        for (k, v) in stats.unsupported_link_types.iter_mut() {
            *v -= before.unsupported_link_types.get(k).copied().unwrap_or(0);
        }
        stats.unsupported_link_types.retain(|_, v| *v > 0);
        stats
    }

    /// Adds another set of counters to this one.
    pub fn add(&mut self, o: &MeterStats) {
        self.frames += o.frames;
        self.packets += o.packets;
        self.not_ip += o.not_ip;
        self.truncated += o.truncated;
        self.malformed += o.malformed;
        self.later_fragments += o.later_fragments;
        self.refused_fragments += o.refused_fragments;
        self.incomplete_datagrams += o.incomplete_datagrams;
        for (k, v) in &o.unsupported_link_types {
            *self.unsupported_link_types.entry(*k).or_default() += v;
        }
    }
}

/// What reading one capture file gave: its counters and, when the file
/// turned out corrupt or unreadable, the error that ended it.
#[derive(Debug)]
pub struct FileSummary {
    /// Counters for this file alone.
    pub stats: MeterStats,
    /// The error that stopped reading, if any. Flows seen before it were emitted.
    pub error: Option<Error>,
}

/// Decodes frames and accounts them to flows. Finished flows are handed to a callback.
///
/// ```
/// use dpi_core::{FlowConfig, FlowMeter, LinkType, Timestamp};
/// let mut meter = FlowMeter::new(FlowConfig::default());
/// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 2], 123, &[0x23; 48]);
/// let mut n = 0;
/// meter.push_frame(LinkType::ETHERNET, Timestamp::ZERO, &frame, frame.len() as u32, &mut |_| n += 1);
/// meter.flush(&mut |_| n += 1);
/// assert_eq!(n, 1);
/// assert_eq!(meter.stats().packets, 1);
/// ```
pub struct FlowMeter {
    table: FlowTable,
    intake: Intake,
    expect: Expectations,
}

/// Decoding and counting of frames, and the guard on IP fragments: what
/// comes before the flow table ([`FlowMeter`] and
/// [`ShardedMeter`](crate::ShardedMeter) share it).
#[derive(Default)]
pub(crate) struct Intake {
    pub(crate) stats: MeterStats,
    fragments: FragmentGuard,
}

impl Intake {
    /// Decodes a frame and counts it; the packet when it goes to a flow
    /// (later fragments included: they are counted and touch no flow).
    #[inline]
    pub(crate) fn accept<'d>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &'d [u8],
        orig_len: u32,
    ) -> Option<crate::Packet<'d>> {
        let d = decode_counted(&mut self.stats, link, data, orig_len)?;
        self.admit(&d.packet, d.datagram_id, ts).then_some(d.packet)
    }

    /// The fragment guard's part of [`accept`](Self::accept), for a
    /// packet [`decode_counted`] gave: whether it goes on (a first fragment
    /// is refused while too many datagrams are open); counts it.
    #[inline]
    pub(crate) fn admit(
        &mut self,
        pkt: &crate::Packet<'_>,
        datagram_id: u32,
        ts: Timestamp,
    ) -> bool {
        if pkt.fragment != Fragment::Whole {
            let key = DatagramKey {
                src: pkt.src,
                dst: pkt.dst,
                protocol: pkt.protocol,
                id: datagram_id,
            };
            if pkt.fragment == Fragment::Later {
                self.stats.later_fragments += 1;
                self.fragments.later(key);
            } else {
                let verdict = self.fragments.first(key, ts);
                self.stats.incomplete_datagrams += self.fragments.take_incomplete(false);
                if verdict == Verdict::Refuse {
                    self.stats.refused_fragments += 1;
                    return false;
                }
            }
        }
        self.stats.packets += 1;
        true
    }

    /// [`admit`](Self::admit) of a whole packet (not a fragment): it
    /// goes on, counted.
    #[inline]
    pub(crate) fn admit_whole(&mut self) {
        self.stats.packets += 1;
    }

    /// Whether no datagram waits for its later fragments.
    pub(crate) fn no_open_fragments(&self) -> bool {
        self.fragments.open() == 0
    }

    /// Counts the datagrams still waiting for their later fragments as
    /// incomplete (at the end of a file or a flush).
    pub(crate) fn drop_fragments(&mut self) {
        self.stats.incomplete_datagrams += self.fragments.take_incomplete(true);
    }
}

/// Decodes a frame and counts it in `stats` (frames, and what did not
/// decode); the decoded packet, to go through [`Intake::admit`].
#[inline]
pub(crate) fn decode_counted<'d>(
    stats: &mut MeterStats,
    link: LinkType,
    data: &'d [u8],
    orig_len: u32,
) -> Option<crate::decode::Decoded<'d>> {
    stats.frames += 1;
    match decode_with_id(link, data) {
        Ok(d) if d.packet.payload_len > orig_len => {
            // The IP header claims more bytes than the frame had on the
            // wire: a corrupt packet, not one cut by the snap length.
            stats.malformed += 1;
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            stats.count_error(e);
            None
        }
    }
}

/// Reads the frames of a capture from `input` into `push`; the error that
/// ended it, if any (errors name `path`).
pub(crate) fn read_frames<R: std::io::Read>(
    input: R,
    path: &Path,
    push: impl FnMut(LinkType, Timestamp, &[u8], u32),
) -> Option<Error> {
    read_frames_after(input, path, None, push)
}

/// [`read_frames`] of the rest of a file, from a record after the frame
/// of time `last` (what a pcapng simple packet block is given).
pub(crate) fn read_frames_after<R: std::io::Read>(
    input: R,
    path: &Path,
    last: Option<Timestamp>,
    mut push: impl FnMut(LinkType, Timestamp, &[u8], u32),
) -> Option<Error> {
    match CaptureReader::new(input) {
        Err(e) => Some(e.with_path(path)),
        Ok(mut reader) => {
            if let Some(ts) = last {
                reader.set_last_ts(ts);
            }
            loop {
                match reader.next_frame() {
                    Ok(Some(f)) => push(f.link_type, f.ts, f.data, f.orig_len),
                    Ok(None) => break None,
                    Err(e) => break Some(e.with_path(path)),
                }
            }
        }
    }
}

impl FlowMeter {
    /// A meter with an empty flow table and the default cross-flow
    /// tables ([`ExpectConfig::default`]).
    pub fn new(cfg: FlowConfig) -> Self {
        FlowMeter::with_expectations(cfg, &ExpectConfig::default())
    }

    /// A meter with cross-flow tables of the given bounds
    /// ([`ExpectConfig::off`] turns them off): see [`expect`](crate::expect).
    ///
    /// ```
    /// use dpi_core::expect::ExpectConfig;
    /// use dpi_core::testing::tcp_ipv4_frame;
    /// use dpi_core::{FlowConfig, FlowMeter, LinkType, TcpInfo, Timestamp};
    ///
    /// let reply = tcp_ipv4_frame([10, 0, 0, 1], 21, [10, 0, 0, 2], 51234, 1, 1, TcpInfo::ACK,
    ///     b"229 Entering Extended Passive Mode (|||6446|)\r\n");
    /// let data = tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 6446, 1, 0, TcpInfo::SYN, b"");
    /// for (cfg, announced) in [(ExpectConfig::default(), true), (ExpectConfig::off(), false)] {
    ///     let mut meter = FlowMeter::with_expectations(FlowConfig::default(), &cfg);
    ///     let mut flows = Vec::new();
    ///     for (i, f) in [&reply, &data].into_iter().enumerate() {
    ///         let ts = Timestamp::from_micros(i as u64);
    ///         meter.push_frame(LinkType::ETHERNET, ts, f, f.len() as u32, &mut |fl| flows.push(fl));
    ///     }
    ///     meter.flush(&mut |fl| flows.push(fl));
    ///     let data_flow = flows.iter().find(|f| f.server_port == 6446).unwrap();
    ///     assert_eq!(data_flow.cross.is_some(), announced);
    /// }
    /// ```
    pub fn with_expectations(cfg: FlowConfig, expect: &ExpectConfig) -> Self {
        FlowMeter {
            table: FlowTable::new(cfg),
            intake: Intake::default(),
            expect: Expectations::new(expect),
        }
    }

    /// The cross-flow tables.
    pub fn expectations(&self) -> &Expectations {
        &self.expect
    }

    /// Counters since the meter was made.
    pub fn stats(&self) -> &MeterStats {
        &self.intake.stats
    }

    /// The flow table.
    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    /// Hands in one frame. Flows finished by timeouts or eviction go to `emit`.
    ///
    /// IP fragments are not reassembled. A later fragment is counted and
    /// touches no flow. A first fragment is accounted to its flow unless
    /// 1,024 datagrams already wait for their later fragments (opened less
    /// than 60 s before): then it is counted in
    /// [`MeterStats::refused_fragments`] and makes no flow, so a flood of
    /// first fragments costs bounded memory.
    pub fn push_frame<F: FnMut(Flow)>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        emit: &mut F,
    ) {
        if let Some(pkt) = self.accept(link, ts, data, orig_len) {
            let (live, mut finished) = (self.table.len(), 0usize);
            self.table
                .process(ts, orig_len.max(data.len() as u32), &pkt, &mut |f| {
                    finished += 1;
                    emit(f)
                });
            if self.table.len() + finished > live {
                self.attach_cross(ts, &pkt);
            }
        }
    }

    /// Gives the flow `pkt` just made what other flows announced about it.
    pub(crate) fn attach_cross(&mut self, ts: Timestamp, pkt: &crate::Packet<'_>) {
        if let Some(cross) = self.expect.lookup(ts, pkt) {
            self.table.set_cross(pkt, cross);
        }
    }

    /// Decodes a frame and counts it; the packet when it goes to a flow.
    #[inline]
    pub(crate) fn accept<'d>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &'d [u8],
        orig_len: u32,
    ) -> Option<crate::Packet<'d>> {
        let pkt = self.intake.accept(link, ts, data, orig_len)?;
        self.expect.observe(ts, &pkt);
        Some(pkt)
    }

    /// The flow table, to change.
    pub(crate) fn table_mut(&mut self) -> &mut FlowTable {
        &mut self.table
    }

    /// Counts the datagrams still waiting for their later fragments as
    /// incomplete (at a flush).
    pub(crate) fn drop_fragments(&mut self) {
        self.intake.drop_fragments();
    }

    /// Advances time to `now` without a frame: flows idle for longer than
    /// the idle timeout, and TCP flows closed for longer than the close
    /// linger, are finished and handed to `emit` (see
    /// [`FlowTable::expire`]). A probe reading a live source calls it when
    /// no frame came for a while, with the time of its last frame plus the
    /// time waited.
    pub fn expire<F: FnMut(Flow)>(&mut self, now: Timestamp, emit: &mut F) {
        self.table.expire(now, emit);
    }

    /// Finishes every live flow (and counts the datagrams still waiting
    /// for their later fragments as incomplete).
    pub fn flush<F: FnMut(Flow)>(&mut self, emit: &mut F) {
        self.intake.drop_fragments();
        self.table.flush(emit);
    }

    /// Reads a whole capture file into the meter. Live flows stay in the table
    /// (call [`flush`](Self::flush) at the end), so several files can make one
    /// run. A corrupt or unreadable file ends with its error in the summary;
    /// flows seen before the error are kept.
    pub fn read_file<F: FnMut(Flow)>(
        &mut self,
        path: impl AsRef<Path>,
        emit: &mut F,
    ) -> FileSummary {
        let path = path.as_ref();
        match std::fs::File::open(path) {
            Ok(file) => self.read_from(std::io::BufReader::new(file), path, emit),
            Err(e) => FileSummary {
                stats: MeterStats::default(),
                error: Some(Error::from(e).with_path(path)),
            },
        }
    }

    /// [`read_file`](Self::read_file) over any reader (standard input, a
    /// socket); errors name `path`.
    pub fn read_from<R: std::io::Read, F: FnMut(Flow)>(
        &mut self,
        input: R,
        path: impl AsRef<Path>,
        emit: &mut F,
    ) -> FileSummary {
        let path = path.as_ref();
        let before = self.intake.stats.clone();
        let error = read_frames(input, path, |link, ts, data, len| {
            self.push_frame(link, ts, data, len, emit)
        });
        // Fragments do not carry over from one file to the next.
        self.intake.drop_fragments();
        let stats = self.intake.stats.since(&before);
        FileSummary { stats, error }
    }
}
