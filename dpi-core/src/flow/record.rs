//! The record of a live flow, kept compact: the public [`Flow`] is built
//! only when the flow ends.
//!
//! A live flow holds its key (which gives both endpoints, the transport,
//! the ports and the VLAN id), per direction its counters, times, byte
//! buffer and capture state, and what only some flows need behind
//! pointers that stay null until they do: a direction's sizes after the
//! first and its inter-arrival times (made at its second packet), the
//! TCP out-of-order ranges (at the first range held), the label (at the
//! decision) and what other flows announced. A direction that carries one
//! payload keeps its size in place. Sizes are checked by
//! `table::sizes::live_flow_sizes_are_as_documented`.

use std::num::NonZeroU32;

use super::key::FlowKey;
use super::stream::{is_ack_padding, Bounds, Ranges, Stream};
use super::{DirectionStats, Flow, FlowEnd};
use crate::{FlowView, Fragment, Packet, Timestamp, Tunnel};

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// A live flow.
pub(super) struct Live {
    pub(super) key: FlowKey,
    /// Initiator to responder.
    pub(super) c2s: Dir,
    /// Responder to initiator.
    pub(super) s2c: Dir,
    /// What the flow has that the table keeps aside, by slot, and what
    /// happened to it: the `MARK_*` bits.
    marks: u8,
    /// The deciding signature of a label settled when the bytes were
    /// freed (`MARK_SETTLED`); `u32::MAX` for none.
    settled: u32,
    /// Sequence number (`FlowTable::set_seq`) of the flow's latest packet.
    pub(super) last_seq: u64,
    /// Outer encapsulation, the first one seen.
    pub(super) tunnel: Option<Tunnel>,
    /// OR of the TCP flags seen, initiator's then responder's.
    tcp_flags: [u8; 2],
}

/// The table holds the flow's final label (see
/// `FlowMeter::push_frame_events`): few flows have one.
pub(super) const MARK_LABEL: u8 = 1;
/// The table holds what other flows said about this one ([`Flow::cross`]).
pub(super) const MARK_CROSS: u8 = 2;
/// TCP: the flow was closed (a FIN each way, or a RST); the table holds
/// when, and the flow ends
/// [`FlowConfig::close_linger`](super::FlowConfig::close_linger) later.
pub(super) const MARK_CLOSED: u8 = 4;
/// [`FlowConfig::release_settled`](super::FlowConfig::release_settled) was
/// asked about the flow.
const MARK_ASKED: u8 = 8;
/// The flow's bytes were freed with the label they settled
/// ([`Flow::settled`]), in `settled`.
const MARK_SETTLED: u8 = 16;
/// The byte buffers were released: no more bytes are kept.
const MARK_RELEASED: u8 = 32;
/// The initiator is the key's `lo` endpoint.
const MARK_CLIENT_LO: u8 = 64;

/// The TCP range lists of the live directions that hold one
/// ([`Ranges`]), by [`range_key`].
pub(super) type RangeMap = hashbrown::HashMap<u64, Ranges>;

/// The key of slot `idx`'s initiator (`c2s`) or responder direction in a
/// [`RangeMap`].
pub(super) fn range_key(idx: u32, c2s: bool) -> u64 {
    u64::from(idx) << 1 | u64::from(c2s)
}

/// One direction of a live flow.
pub(crate) struct Dir {
    packets: u64,
    bytes: u64,
    payload_bytes: u64,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
    first_payload_ts: Option<Timestamp>,
    /// The user data captured.
    buf: Vec<u8>,
    /// Where the next bytes go.
    stream: Stream,
    /// The block of [`SeriesBlocks`] holding the sizes after the first and
    /// the inter-arrival times, once there are any (`NONE` before).
    series: u32,
    /// The first payload size (when K is above 0).
    first_size: Option<NonZeroU32>,
}

/// No block.
const NONE: u32 = u32::MAX;

/// Words per chunk of [`SeriesBlocks`] (512 KiB), or one block when a
/// block is larger.
const CHUNK_WORDS: usize = 1 << 16;

/// The directions' series (inter-arrival times, ns, of the first K
/// packets after the first; payload sizes after the first, of the next
/// K - 1 packets that carry payload), in blocks of one size handed out
/// by index and reused when their flow ends: no allocation per direction
/// and no allocator overhead, and a live direction holds 4 bytes for it.
/// A block is a header word (how many times, how many sizes), K times,
/// then the sizes two to a word. Blocks come in chunks of 512 KiB (5,041
/// blocks with K = 8; one block a chunk when K is so large that a block
/// is larger), so the store grows without copying what it holds; it keeps
/// the most blocks ever used at once, as the table's slab does. Past
/// 2^32 - 1 blocks (two per live flow at most) a direction gets none and
/// keeps its first size only.
pub(super) struct SeriesBlocks {
    k: usize,
    /// Words per block.
    block: usize,
    /// Blocks per chunk.
    per_chunk: usize,
    chunks: Vec<Box<[u64]>>,
    /// Blocks handed out so far, free or not.
    made: u32,
    /// First free block, chained through its header word.
    free: u32,
}

impl SeriesBlocks {
    pub(super) fn new(k: usize) -> Self {
        let block = 1 + k + k.div_ceil(2);
        SeriesBlocks {
            k,
            block,
            per_chunk: (CHUNK_WORDS / block).max(1),
            chunks: Vec::new(),
            made: 0,
            free: NONE,
        }
    }

    fn words(&self, i: u32) -> &[u64] {
        let (c, b) = (i as usize / self.per_chunk, i as usize % self.per_chunk);
        &self.chunks[c][b * self.block..(b + 1) * self.block]
    }

    fn words_mut(&mut self, i: u32) -> &mut [u64] {
        let (c, b) = (i as usize / self.per_chunk, i as usize % self.per_chunk);
        &mut self.chunks[c][b * self.block..(b + 1) * self.block]
    }

    /// A zeroed block, unless all 2^32 - 1 are taken.
    fn take(&mut self) -> Option<u32> {
        if self.free != NONE {
            let i = self.free;
            let w = self.words_mut(i);
            let next = w[0] as u32;
            w.fill(0);
            self.free = next;
            return Some(i);
        }
        let i = self.made;
        if i == NONE {
            return None;
        }
        if i as usize % self.per_chunk == 0 {
            self.chunks
                .push(vec![0; self.per_chunk * self.block].into_boxed_slice());
        }
        self.made += 1;
        Some(i)
    }

    /// Gives block `i` back.
    fn give(&mut self, i: u32) {
        let free = self.free;
        self.words_mut(i)[0] = u64::from(free);
        self.free = i;
    }

    /// Adds an inter-arrival time to block `i` unless K are held.
    fn push_iat(&mut self, i: u32, v: u64) {
        let k = self.k;
        let w = self.words_mut(i);
        let n = (w[0] & 0xffff_ffff) as usize;
        if n < k {
            w[1 + n] = v;
            w[0] += 1;
        }
    }

    /// Adds a size to block `i` unless K - 1 are held.
    fn push_size(&mut self, i: u32, v: u32) {
        let k = self.k;
        let w = self.words_mut(i);
        let n = (w[0] >> 32) as usize;
        if n + 1 < k {
            w[1 + k + n / 2] |= u64::from(v) << (32 * (n % 2));
            w[0] += 1 << 32;
        }
    }

    /// Block `i`'s times.
    fn iats(&self, i: u32) -> Vec<u64> {
        let w = self.words(i);
        w[1..1 + (w[0] & 0xffff_ffff) as usize].to_vec()
    }

    /// `first`, then block `i`'s sizes.
    fn sizes(&self, i: u32, first: u32) -> Vec<u32> {
        let (k, w) = (self.k, self.words(i));
        let n = (w[0] >> 32) as usize;
        let mut v = Vec::with_capacity(1 + n);
        v.push(first);
        v.extend((0..n).map(|j| (w[1 + k + j / 2] >> (32 * (j % 2))) as u32));
        v
    }
}

impl Dir {
    fn new(stream: Stream) -> Self {
        Dir {
            packets: 0,
            bytes: 0,
            payload_bytes: 0,
            first_ts: None,
            last_ts: None,
            first_payload_ts: None,
            buf: Vec::new(),
            stream,
            series: NONE,
            first_size: None,
        }
    }

    /// The direction's block, taken at its first entry.
    fn series(&mut self, blocks: &mut SeriesBlocks) -> Option<u32> {
        if self.series == NONE {
            self.series = blocks.take()?;
        }
        Some(self.series)
    }

    /// Accounts one packet, keeping at most `k` sizes and inter-arrival
    /// times (the semantics of [`DirectionStats`]).
    fn record(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        payload_len: u32,
        blocks: &mut SeriesBlocks,
    ) {
        let k = blocks.k;
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        self.payload_bytes += u64::from(payload_len);
        match self.last_ts {
            Some(last) => {
                if k > 0 {
                    if let Some(i) = self.series(blocks) {
                        blocks.push_iat(i, ts.nanos_since(last));
                    }
                }
                self.last_ts = Some(last.max(ts));
            }
            None => self.last_ts = Some(ts),
        }
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        if let Some(size) = NonZeroU32::new(payload_len) {
            if self.first_payload_ts.is_none() {
                self.first_payload_ts = Some(ts);
            }
            if k > 0 && self.first_size.is_none() {
                self.first_size = Some(size);
            } else if k > 1 {
                if let Some(i) = self.series(blocks) {
                    blocks.push_size(i, payload_len);
                }
            }
        }
    }

    /// The bytes captured for good so far (TCP: the contiguous prefix).
    fn ready(&self, is_tcp: bool) -> &[u8] {
        &self.buf[..self.stream.ready(&self.buf, is_tcp)]
    }

    /// The finished direction: its statistics and bytes; its block is
    /// given back.
    fn finish(
        self,
        is_tcp: bool,
        tcp_flags: u8,
        blocks: &mut SeriesBlocks,
    ) -> (DirectionStats, Vec<u8>) {
        let Dir {
            packets,
            bytes,
            payload_bytes,
            first_ts,
            last_ts,
            first_payload_ts,
            mut buf,
            stream,
            series,
            first_size,
        } = self;
        stream.finish(&mut buf, is_tcp);
        let iats = if series == NONE {
            Vec::new()
        } else {
            blocks.iats(series)
        };
        let sizes = match first_size {
            Some(first) if series != NONE => blocks.sizes(series, first.get()),
            Some(first) => vec![first.get()],
            None => Vec::new(),
        };
        if series != NONE {
            blocks.give(series);
        }
        let stats = DirectionStats {
            packets,
            bytes,
            payload_bytes,
            first_ts,
            last_ts,
            first_payload_ts,
            tcp_flags,
            sizes,
            iats,
        };
        (stats, buf)
    }
}

impl Live {
    /// A flow whose initiator is the key's `lo` endpoint when
    /// `client_is_lo`. Its directions look at their first bytes for a
    /// handshake to keep longer ([`Bounds::handshake`]): the initiator's,
    /// and a STUN exchange on the responder's side of a datagram flow.
    pub(super) fn new(key: FlowKey, client_is_lo: bool, tunnel: Option<Tunnel>, seq: u64) -> Self {
        let is_tcp = key.protocol() == TCP;
        let (c2s, s2c) = if is_tcp {
            (Stream::tcp().with_handshake_bound(), Stream::tcp())
        } else {
            (
                Stream::datagram().with_handshake_bound(),
                Stream::datagram().with_stun_bound(),
            )
        };
        Live {
            key,
            c2s: Dir::new(c2s),
            s2c: Dir::new(s2c),
            marks: if client_is_lo { MARK_CLIENT_LO } else { 0 },
            last_seq: seq,
            tunnel,
            settled: u32::MAX,
            tcp_flags: [0; 2],
        }
    }

    fn is_tcp(&self) -> bool {
        self.key.protocol() == TCP
    }

    /// The first packet time of both directions.
    pub(super) fn first_ts(&self) -> Option<Timestamp> {
        match (self.c2s.first_ts, self.s2c.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last packet time of both directions.
    fn last_ts(&self) -> Option<Timestamp> {
        self.c2s.last_ts.max(self.s2c.last_ts)
    }

    /// Accounts one packet of this flow, sent by the key's `lo` endpoint
    /// when `src_is_lo`.
    pub(super) fn account(
        &mut self,
        (idx, src_is_lo): (u32, bool),
        ts: Timestamp,
        wire_len: u32,
        pkt: &Packet<'_>,
        bounds: Bounds,
        (blocks, ranges): (&mut SeriesBlocks, &mut RangeMap),
    ) {
        if self.tunnel.is_none() {
            self.tunnel = pkt.tunnel;
        }
        let is_tcp = self.is_tcp();
        let c2s = self.key.is_loop() || src_is_lo == self.client_is_lo();
        let dir = if c2s { &mut self.c2s } else { &mut self.s2c };
        self.tcp_flags[usize::from(!c2s)] |= pkt.tcp.map_or(0, |t| t.flags);
        // Padding on a bare ACK is not payload: not in the payload bytes,
        // the sizes or the first payload, as it is not in the stream.
        let padding = is_tcp
            && pkt
                .tcp
                .is_some_and(|t| is_ack_padding(&t, pkt.payload, pkt.payload_len));
        let payload_len = if padding { 0 } else { pkt.payload_len };
        dir.record(ts, wire_len, payload_len, blocks);
        // After a close (a FIN each way, or a RST) no byte is added: the
        // flow's bytes are what its label was decided on.
        if self.marks & (MARK_RELEASED | MARK_CLOSED) != 0 {
            return;
        }
        if is_tcp {
            if let Some(tcp) = &pkt.tcp {
                let (buf, data, len) = (&mut dir.buf, pkt.payload, pkt.payload_len);
                let key = range_key(idx, c2s);
                let held = if dir.stream.has_ranges() {
                    ranges.get_mut(&key)
                } else {
                    None
                };
                match held {
                    Some(r) => dir.stream.tcp_segment(buf, r, bounds, tcp, data, len),
                    None => {
                        let mut r = None;
                        dir.stream.tcp_segment(buf, &mut r, bounds, tcp, data, len);
                        if r.is_some() {
                            ranges.insert(key, r);
                        }
                    }
                }
            }
        } else if pkt.payload_len > 0 || !pkt.payload.is_empty() {
            let complete =
                pkt.payload.len() >= pkt.payload_len as usize && pkt.fragment == Fragment::Whole;
            dir.stream
                .datagram_payload(&mut dir.buf, bounds, pkt.payload, complete);
        }
    }

    /// TCP: a RST was seen, or a FIN each way.
    pub(super) fn is_closed(&self) -> bool {
        use crate::TcpInfo;
        let [c, s] = self.tcp_flags;
        self.is_tcp() && ((c | s) & TcpInfo::RST != 0 || c & s & TcpInfo::FIN != 0)
    }

    /// Whether direction `c2s` (else the responder's) holds a range list.
    pub(super) fn has_ranges(&self, c2s: bool) -> bool {
        if c2s {
            self.c2s.stream.has_ranges()
        } else {
            self.s2c.stream.has_ranges()
        }
    }

    /// A datagram flow whose bytes are complete both ways and still held.
    pub(super) fn bytes_complete(&self) -> bool {
        !self.is_tcp()
            && !self.is_released()
            && self.c2s.stream.is_closed()
            && self.s2c.stream.is_closed()
    }

    /// True the first time only: whether the release check is to be
    /// asked now.
    pub(super) fn ask_once(&mut self) -> bool {
        let first = !self.has(MARK_ASKED);
        self.mark(MARK_ASKED);
        first
    }

    /// Whether the flow has mark `m` (a `MARK_*` bit).
    pub(super) fn has(&self, m: u8) -> bool {
        self.marks & m != 0
    }

    /// Sets mark `m`.
    pub(super) fn mark(&mut self, m: u8) {
        self.marks |= m;
    }

    /// The initiator is the key's `lo` endpoint.
    pub(super) fn client_is_lo(&self) -> bool {
        self.has(MARK_CLIENT_LO)
    }

    /// The byte buffers were released: no more bytes are kept.
    pub(super) fn is_released(&self) -> bool {
        self.has(MARK_RELEASED)
    }

    /// Frees the bytes with the label they settled ([`Flow::settled`]).
    pub(super) fn settle(&mut self, s: super::Settled) {
        self.release_bytes();
        self.mark(MARK_SETTLED);
        self.settled = s.signature.unwrap_or(u32::MAX);
    }

    /// The label settled when the bytes were freed, if they were.
    pub(super) fn settled(&self) -> Option<super::Settled> {
        self.has(MARK_SETTLED).then(|| super::Settled {
            signature: Some(self.settled).filter(|&s| s != u32::MAX),
        })
    }

    /// Frees the byte buffers; no more bytes are kept.
    pub(super) fn release_bytes(&mut self) {
        self.mark(MARK_RELEASED);
        self.c2s.buf = Vec::new();
        self.s2c.buf = Vec::new();
    }

    /// The initiator's and the responder's (address, port).
    fn endpoints(&self) -> ((std::net::IpAddr, u16), (std::net::IpAddr, u16)) {
        let lo = self.key.endpoint(true);
        let hi = self.key.endpoint(false);
        if self.client_is_lo() {
            (lo, hi)
        } else {
            (hi, lo)
        }
    }

    /// What the classifier looks at now: the bytes captured for good so
    /// far (TCP: the contiguous prefix), as [`FlowView::from`] gives it for
    /// the finished flow.
    pub(super) fn view<'a>(&'a self, cross: Option<&'a crate::expect::CrossFlow>) -> FlowView<'a> {
        let is_tcp = self.is_tcp();
        let first_payload =
            crate::view::first_payload_side(self.c2s.first_payload_ts, self.s2c.first_payload_ts);
        let ((_, client_port), (_, server_port)) = self.endpoints();
        FlowView {
            transport: self.key.protocol(),
            client_port,
            server_port,
            c2s: self.c2s.ready(is_tcp),
            s2c: self.s2c.ready(is_tcp),
            c2s_packets: self.c2s.packets,
            s2c_packets: self.s2c.packets,
            c2s_first_size: self.c2s.first_size.map(NonZeroU32::get),
            s2c_first_size: self.s2c.first_size.map(NonZeroU32::get),
            first_payload,
            byte_limit: None,
            c2s_complete: self.is_released() || (!is_tcp && self.c2s.stream.is_closed()),
            s2c_complete: self.is_released() || (!is_tcp && self.s2c.stream.is_closed()),
            cross,
        }
    }

    /// The flow's endpoints and counters so far.
    pub(super) fn summary(&self) -> super::FlowSummary {
        let ((client, client_port), (server, server_port)) = self.endpoints();
        let first_ts = self.first_ts().unwrap_or(Timestamp::ZERO);
        super::FlowSummary {
            protocol: self.key.protocol(),
            client,
            client_port,
            server,
            server_port,
            vlan: self.key.vlan(),
            tunnel: self.tunnel,
            first_ts,
            last_ts: self.last_ts().unwrap_or(first_ts),
            c2s_packets: self.c2s.packets,
            s2c_packets: self.s2c.packets,
            c2s_bytes: self.c2s.bytes,
            s2c_bytes: self.s2c.bytes,
        }
    }

    /// The finished record.
    pub(super) fn into_flow(
        self,
        end: FlowEnd,
        blocks: &mut SeriesBlocks,
        cross: Option<Box<crate::expect::CrossFlow>>,
    ) -> Flow {
        let settled = self.settled();
        let is_tcp = self.is_tcp();
        let s = self.summary();
        let [c2s_flags, s2c_flags] = self.tcp_flags;
        let (c2s, c2s_payload) = self.c2s.finish(is_tcp, c2s_flags, blocks);
        let (s2c, s2c_payload) = self.s2c.finish(is_tcp, s2c_flags, blocks);
        Flow {
            protocol: s.protocol,
            client: s.client,
            client_port: s.client_port,
            server: s.server,
            server_port: s.server_port,
            vlan: s.vlan,
            tunnel: s.tunnel,
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            c2s,
            s2c,
            c2s_payload,
            s2c_payload,
            end,
            cross,
            settled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeriesBlocks;

    /// Blocks across chunk boundaries, for a small K and for a K whose
    /// block is larger than a chunk, hold what was pushed and come back
    /// zeroed when reused.
    #[test]
    fn series_blocks_hold_their_entries_across_chunks() {
        for (k, count) in [(8usize, 5_100u32), (65_536, 3)] {
            let mut b = SeriesBlocks::new(k);
            let ids: Vec<u32> = (0..count).map(|_| b.take().unwrap()).collect();
            assert_eq!(ids, (0..count).collect::<Vec<_>>());
            for &i in &ids {
                b.push_iat(i, u64::from(i) * 3);
                b.push_size(i, i + 7);
                b.push_size(i, i + 8);
            }
            for &i in &ids {
                assert_eq!(b.iats(i), [u64::from(i) * 3]);
                assert_eq!(b.sizes(i, 1), [1, i + 7, i + 8]);
            }
            b.give(ids[1]);
            let again = b.take().unwrap();
            assert_eq!(again, ids[1]);
            assert!(b.iats(again).is_empty() && b.sizes(again, 5) == [5]);
        }
        // K = 2: one time, and one size after the first.
        let mut b = SeriesBlocks::new(2);
        let i = b.take().unwrap();
        for v in 0..5 {
            b.push_iat(i, v);
            b.push_size(i, 100 + v as u32);
        }
        assert_eq!((b.iats(i), b.sizes(i, 9)), (vec![0, 1], vec![9, 100]));
    }
}

#[cfg(test)]
mod proptests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use proptest::prelude::*;

    use super::super::{DirectionStats, Flow, FlowConfig, FlowTable};
    use crate::{Fragment, Packet, Timestamp};

    /// What a direction's statistics are, computed the plain way.
    fn model(stats: &mut DirectionStats, ts: Timestamp, wire: u32, payload: u32, k: usize) {
        stats.packets += 1;
        stats.bytes += u64::from(wire);
        stats.payload_bytes += u64::from(payload);
        match stats.last_ts {
            Some(last) => {
                if stats.iats.len() < k {
                    stats.iats.push(ts.nanos_since(last));
                }
                stats.last_ts = Some(last.max(ts));
            }
            None => stats.last_ts = Some(ts),
        }
        stats.first_ts = Some(stats.first_ts.map_or(ts, |f| f.min(ts)));
        if payload > 0 {
            stats.first_payload_ts.get_or_insert(ts);
            if stats.sizes.len() < k {
                stats.sizes.push(payload);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Datagrams of three flows under a cap of one live flow (each
        /// change of flow evicts the previous one, so slots and series
        /// blocks are reused): every finished flow's counters, times,
        /// sizes and inter-arrival times are the plain computation's.
        #[test]
        fn finished_flows_hold_what_their_packets_say(
            pkts in prop::collection::vec((0u8..3, any::<bool>(), -3i64..20, 0u32..2000), 1..120),
            k in 0usize..6,
        ) {
            let cfg = FlowConfig {
                max_flows: 1,
                feature_packets: k,
                idle_timeout: Duration::from_secs(1 << 30),
                active_timeout: Duration::from_secs(1 << 30),
                ..FlowConfig::default()
            };
            let mut table = FlowTable::new(cfg);
            let mut out: Vec<Flow> = Vec::new();
            let mut want: Vec<(IpAddr, DirectionStats, DirectionStats)> = Vec::new();
            let mut current: Option<u8> = None;
            let mut t: u64 = 1_000_000_000_000;
            let server = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
            let payload = vec![0x5a; 2000];
            for &(flow, from_client, dt, len) in &pkts {
                t = t.saturating_add_signed(dt * 1_000_000);
                let ts = Timestamp::from_nanos(t);
                let client = IpAddr::V4(Ipv4Addr::new(10, 0, 0, flow + 1));
                let (src, dst) = if from_client { (client, server) } else { (server, client) };
                let pkt = Packet {
                    src,
                    dst,
                    protocol: 17,
                    src_port: if from_client { 40000 } else { 53 },
                    dst_port: if from_client { 53 } else { 40000 },
                    vlan: 0,
                    tunnel: None,
                    tcp: None,
                    fragment: Fragment::Whole,
                    payload: &payload[..len as usize],
                    payload_len: len,
                };
                if current != Some(flow) {
                    current = Some(flow);
                    want.push((src, DirectionStats::default(), DirectionStats::default()));
                }
                let (first_sender, c2s, s2c) = want.last_mut().unwrap();
                let stats = if src == *first_sender { c2s } else { s2c };
                model(stats, ts, len + 42, len, k);
                table.process(ts, len + 42, &pkt, &mut |f| out.push(f));
            }
            table.flush(&mut |f| out.push(f));
            prop_assert_eq!(out.len(), want.len());
            for (f, (client, c2s, s2c)) in out.iter().zip(&want) {
                prop_assert_eq!(f.client, *client);
                prop_assert_eq!(&f.c2s, c2s);
                prop_assert_eq!(&f.s2c, s2c);
                let first = c2s.first_ts.into_iter().chain(s2c.first_ts).min().unwrap();
                let last = c2s.last_ts.into_iter().chain(s2c.last_ts).max().unwrap();
                prop_assert_eq!((f.first_ts, f.last_ts), (first, last));
            }
        }
    }
}
