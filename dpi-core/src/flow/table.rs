//! The table of live flows: lookup, timeouts and eviction.
//!
//! Live flows sit in a slab (`Vec<Option<Live>>`, freed slots chained into
//! a free list and reused) and are found through a hash index from the
//! canonical key to the slot index. The slots are also chained into an
//! intrusive doubly linked list in the order they last saw a packet: the
//! front is the longest-idle flow, so idle expiry and eviction pop from the
//! front and a packet moves its flow to the back, all O(1). The list links
//! and each flow's last packet time live in their own compact array (16
//! bytes a flow), apart from the flow records (`record.rs`), so that
//! keeping the order touches few cache lines.
//!
//! Timeouts are measured on the table's clock: the latest packet time (or
//! [`FlowTable::expire`] time) seen so far, which never goes backwards. A
//! flow's place in the list is the clock at its latest packet, so the list
//! is in clock order also when packet times go backwards (merged or
//! reordered captures), and the flows idle at a given moment are exactly a
//! prefix of it: whether a flow is idle depends on that flow and the clock
//! alone, not on the other flows (which is what lets shards of one table,
//! [`ShardedMeter`](crate::ShardedMeter), finish the same flows). Times
//! that go backwards never panic or underflow.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::Duration;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use super::key::FlowKey;
use super::record::{range_key, Live, RangeMap, SeriesBlocks, MARK_CLOSED, MARK_CROSS, MARK_LABEL};
use super::stream::Bounds;
use super::{Flow, FlowConfig, FlowEnd, FlowSummary};
use crate::{Classification, FlowView, Fragment, Packet, Timestamp};

/// End of a list.
const NIL: u32 = u32::MAX;
/// Close entries beyond twice the closed live flows that trigger a
/// compaction of the queue (`FlowTable::compact_closing`).
const CLOSING_SLACK: usize = 64;
/// Largest N honoured.
const MAX_PAYLOAD_BYTES: usize = 1 << 24;
/// Largest K honoured.
const MAX_FEATURE_PACKETS: usize = 1 << 16;
/// Largest out-of-order range count honoured.
const MAX_REORDER: usize = 1 << 12;
/// Largest live-flow cap honoured (slot indices are `u32`, `NIL` excluded).
const MAX_SLOTS: usize = (u32::MAX - 1) as usize;
/// IP protocol number of TCP.
const TCP: u8 = 6;

/// Where a finished flow falls in the order a single table emits flows
/// ([`FlowTable::set_seq`]): the sequence number of the packet that
/// finished it (`u64::MAX` at a flush), then what finished it (idle
/// expiry, a close's linger, the packet's own flow, eviction, in the
/// order a packet does them), then the sequence number of the flow's
/// latest packet (of its close, for the linger), which orders flows
/// finished by the same step. Tables that share one sequence of packets
/// (shards) can merge their flows by it into the order one table gives.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EndOrder {
    pub(crate) at: u64,
    pub(crate) step: u8,
    pub(crate) seq: u64,
}

/// Steps of [`EndOrder`], in the order a packet makes them.
const STEP_IDLE: u8 = 0;
const STEP_LINGER: u8 = 1;
const STEP_OWN: u8 = 2;
const STEP_EVICT: u8 = 3;

/// List links of one slab entry (the free list uses `next` only), with the
/// latest packet time of its flow.
#[derive(Copy, Clone)]
struct Link {
    prev: u32,
    next: u32,
    last: Timestamp,
}

/// The table of live flows.
///
/// Hand it decoded packets with [`process`](Self::process); finished flows
/// (idle or active timeout, eviction under the cap) come back through the
/// callback, and [`flush`](Self::flush) finishes the rest at the end of
/// input. [`expire`](Self::expire) advances time without a packet.
/// Defaults ([`FlowConfig::default`]): idle timeout 600 s, active timeout
/// 3600 s, cap 1,048,576 live flows, N = 64 user-data bytes and K = 8 sizes
/// and inter-arrival times per direction.
///
/// A live flow is a compact record (288 bytes on x86-64); the [`Flow`]
/// handed to the callback is built when the flow ends. A direction
/// allocates its byte buffer once, at its first payload, sized for the
/// whole capture (its TCP out-of-order range list at the first range
/// held); its sizes after the first and its inter-arrival times go to a
/// block of the table's own store, taken at its second packet and reused
/// after the flow ends; after that its packets allocate nothing.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use dpi_core::{FlowConfig, FlowTable, Fragment, Packet, TcpInfo, Timestamp};
///
/// let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// let server = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80));
/// let pkt = |src, sport, dst, dport, seq, flags, payload: &'static [u8]| Packet {
///     src,
///     dst,
///     protocol: 6,
///     src_port: sport,
///     dst_port: dport,
///     vlan: 0,
///     tunnel: None,
///     tcp: Some(TcpInfo { seq, ack: 0, flags, window: 65535 }),
///     fragment: Fragment::Whole,
///     payload,
///     payload_len: payload.len() as u32,
/// };
///
/// let mut table = FlowTable::new(FlowConfig::default());
/// let mut flows = Vec::new();
/// let mut emit = |f| flows.push(f);
/// let t = Timestamp::from_micros;
/// table.process(t(0), 60, &pkt(client, 40000, server, 80, 99, TcpInfo::SYN, b""), &mut emit);
/// table.process(t(10), 60, &pkt(server, 80, client, 40000, 499, TcpInfo::SYN | TcpInfo::ACK, b""), &mut emit);
/// // The second half of the request arrives first.
/// table.process(t(20), 60, &pkt(client, 40000, server, 80, 104, TcpInfo::ACK, b"/ HTTP/1.1"), &mut emit);
/// table.process(t(30), 60, &pkt(client, 40000, server, 80, 100, TcpInfo::ACK, b"GET "), &mut emit);
/// assert_eq!(table.len(), 1);
/// table.flush(&mut emit);
///
/// assert_eq!(flows.len(), 1);
/// let f = &flows[0];
/// assert_eq!((f.client, f.client_port, f.server_port), (client, 40000, 80));
/// assert_eq!(f.c2s_payload, b"GET / HTTP/1.1");
/// assert_eq!(f.c2s.packets, 3);
/// assert_eq!(f.c2s.sizes, [10, 4]);
/// assert_eq!(f.s2c.packets, 1);
/// ```
pub struct FlowTable {
    cfg: FlowConfig,
    idle_ns: u64,
    active_ns: u64,
    max_flows: usize,
    bounds: Bounds,
    /// The live directions' sizes and inter-arrival times.
    series: SeriesBlocks,
    /// Slot indices by key hash; the keys themselves live in the slots,
    /// so the index stays small (4 bytes a flow) and cache-resident.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    slots: Vec<Option<Live>>,
    links: Vec<Link>,
    /// First free slot, chained through `next`.
    free: u32,
    /// Longest-idle live flow.
    head: u32,
    /// Most recently seen live flow.
    tail: u32,
    /// Linger after a TCP close, in nanoseconds; `None` when closes are
    /// not followed.
    linger_ns: Option<u64>,
    /// Closed TCP flows waiting out the linger, in the order they closed:
    /// (slot, close time, sequence number of the closing packet, number of
    /// the close).
    closing: VecDeque<(u32, Timestamp, u64, u64)>,
    /// Closes seen, numbering each (an entry of `closing` acts only when
    /// it is its slot's latest close).
    closes_seen: u64,
    /// Sequence number of the packet being processed ([`Self::set_seq`]).
    seq: u64,
    /// The latest packet or expiry time seen.
    clock: Timestamp,
    /// What only some live flows have, by slot, so that every flow's slot
    /// does not pay for it (the slot's flags say which it has): the
    /// final label of the events path,
    labels: HashMap<u32, Classification>,
    /// what other flows said about it,
    crosses: HashMap<u32, Box<crate::expect::CrossFlow>>,
    /// a TCP flow's close time,
    closes: HashMap<u32, (Timestamp, u64)>,
    /// and a TCP direction's out-of-order ranges.
    ranges: RangeMap,
}

/// What other flows said about the live flow `live` in slot `idx`, looked
/// up only when its mark says there is something.
fn cross_of<'a>(
    crosses: &'a HashMap<u32, Box<crate::expect::CrossFlow>>,
    live: &Live,
    idx: u32,
) -> Option<&'a crate::expect::CrossFlow> {
    if live.has(MARK_CROSS) {
        crosses.get(&idx).map(|c| &**c)
    } else {
        None
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            idle_ns: nanos(cfg.idle_timeout),
            active_ns: nanos(cfg.active_timeout),
            max_flows: cfg.max_flows.clamp(1, MAX_SLOTS),
            bounds: Bounds {
                n: cfg.payload_bytes.min(MAX_PAYLOAD_BYTES),
                reorder: cfg.reorder_segments.min(MAX_REORDER),
                handshake: cfg.handshake_bytes.min(MAX_PAYLOAD_BYTES),
                concat: cfg.udp_concat,
            },
            series: SeriesBlocks::new(cfg.feature_packets.min(MAX_FEATURE_PACKETS)),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            slots: Vec::new(),
            links: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            linger_ns: cfg.close_linger.map(nanos),
            closing: VecDeque::new(),
            closes_seen: 0,
            seq: 0,
            clock: Timestamp::ZERO,
            labels: HashMap::new(),
            crosses: HashMap::new(),
            closes: HashMap::new(),
            ranges: RangeMap::new(),
            cfg,
        }
    }

    /// The settings the table was made with.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Accounts one decoded packet seen at `ts` with `wire_len` bytes on the wire.
    ///
    /// Flows that this packet's time makes idle, the packet's own flow when
    /// it timed out, and a flow evicted to make room under the cap are
    /// finished and handed to `emit` first. Later IP fragments
    /// ([`Fragment::Later`]) are ignored: they neither make nor touch a flow.
    pub fn process<F: FnMut(Flow)>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        pkt: &Packet<'_>,
        emit: &mut F,
    ) {
        self.process_labelled(ts, wire_len, pkt, &mut |f, _, _| emit(f));
    }

    /// Sets the sequence number of the next packets handed in (until set
    /// again): flows finished from then on carry it in their [`EndOrder`].
    pub(crate) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// [`process`](Self::process), handing each finished flow with the
    /// label kept for it ([`label_slot`](Self::label_slot)) and its
    /// [`EndOrder`]; returns the slot of the packet's flow.
    pub(crate) fn process_labelled<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        pkt: &Packet<'_>,
        emit: &mut F,
    ) -> Option<u32> {
        if pkt.fragment == Fragment::Later {
            return None;
        }
        self.expire_labelled(ts, emit);
        let (key, src_is_lo) = FlowKey::of(pkt);
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let mut found = self
            .index
            .find(hash, |&i| {
                slots[i as usize].as_ref().is_some_and(|l| l.key == key)
            })
            .copied();
        if let Some(idx) = found {
            let first_ts = self.slots[idx as usize]
                .as_ref()
                .and_then(|l| l.first_ts())
                .unwrap_or(ts);
            // Only a closed flow has a close time: no lookup for the others.
            let closed = self.slots[idx as usize]
                .as_ref()
                .is_some_and(|l| l.has(MARK_CLOSED));
            let closed_at = closed.then(|| self.closes.get(&idx).map(|c| c.0)).flatten();
            let end = if closed_at.is_some_and(|c| self.closed_for_good(c, pkt)) {
                Some(FlowEnd::Closed)
            } else if self.clock.nanos_since(self.links[idx as usize].last) > self.idle_ns {
                Some(FlowEnd::IdleTimeout)
            } else if ts.nanos_since(first_ts) > self.active_ns {
                Some(FlowEnd::ActiveTimeout)
            } else {
                None
            };
            if let Some(end) = end {
                self.finish(idx, end, STEP_OWN, 0, emit);
                found = None;
            }
        }
        let idx = match found {
            Some(idx) => {
                self.move_to_back(idx);
                idx
            }
            None => self.create(key, hash, src_is_lo, pkt, emit),
        };
        let link = &mut self.links[idx as usize];
        link.last = self.clock;
        let bounds = self.bounds;
        let track = self.linger_ns.is_some();
        if let Some(live) = self.slots[idx as usize].as_mut() {
            let stores = (&mut self.series, &mut self.ranges);
            live.account((idx, src_is_lo), ts, wire_len, pkt, bounds, stores);
            live.last_seq = self.seq;
            if track && !live.has(MARK_CLOSED) && live.is_closed() {
                live.mark(MARK_CLOSED);
                self.closes_seen += 1;
                let n = self.closes_seen;
                self.closes.insert(idx, (self.clock, n));
                self.closing.push_back((idx, self.clock, self.seq, n));
                if self.closing.len() > 2 * self.closes.len() + CLOSING_SLACK {
                    let closes = &self.closes;
                    compact_closing(&mut self.closing, closes);
                }
            }
            if let Some(check) = &self.cfg.release_settled {
                if live.bytes_complete() && live.ask_once() {
                    let cross = cross_of(&self.crosses, live, idx);
                    if let Some(s) = check.settle(&live.view(cross)) {
                        live.settle(s);
                    }
                }
            }
        }
        Some(idx)
    }

    /// Whether the live flow in slot `idx` has its label.
    pub(crate) fn is_labelled(&self, idx: u32) -> bool {
        self.slots
            .get(idx as usize)
            .and_then(|s| s.as_ref())
            .is_some_and(|l| l.has(MARK_LABEL))
    }

    /// The live flow in slot `idx`: its view (the bytes captured for good
    /// so far) and whether it is closed (no more bytes will be kept).
    pub(crate) fn view_slot(&self, idx: u32) -> Option<(FlowView<'_>, bool)> {
        let live = self.slots.get(idx as usize)?.as_ref()?;
        let cross = cross_of(&self.crosses, live, idx);
        Some((live.view(cross), live.has(MARK_CLOSED)))
    }

    /// The endpoints and counters so far of the live flow in slot `idx`.
    pub(crate) fn summary(&self, idx: u32) -> Option<FlowSummary> {
        Some(self.slots.get(idx as usize)?.as_ref()?.summary())
    }

    /// Keeps `label` for the live flow in slot `idx`.
    pub(crate) fn set_label(&mut self, idx: u32, label: Classification) {
        if let Some(live) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) {
            live.mark(MARK_LABEL);
            self.labels.insert(idx, label);
        }
    }

    /// The label settled for the live flow in slot `idx` when its bytes
    /// were freed ([`FlowConfig::release_settled`]), if they were.
    pub(crate) fn settled(&self, idx: u32) -> Option<super::Settled> {
        self.slots.get(idx as usize)?.as_ref()?.settled()
    }

    /// Frees the byte buffers of the live flow in slot `idx` and stops
    /// capturing its bytes.
    pub(crate) fn release_bytes(&mut self, idx: u32) {
        if let Some(live) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) {
            live.release_bytes();
        }
    }

    /// Whether a packet (at the clock) finds a flow closed at `closed_at`
    /// over: the linger has passed, or the packet opens a new connection (a
    /// SYN without ACK: the port pair is reused).
    fn closed_for_good(&self, closed_at: Timestamp, pkt: &Packet<'_>) -> bool {
        let linger = self.linger_ns.unwrap_or(u64::MAX);
        let syn = crate::TcpInfo::SYN;
        let opens = pkt
            .tcp
            .is_some_and(|t| t.flags & (syn | crate::TcpInfo::ACK) == syn);
        opens || self.clock.nanos_since(closed_at) > linger
    }

    /// Advances time to `now` without a packet: every flow idle for longer
    /// than the idle timeout at `now` is finished and handed to `emit`.
    /// A `now` earlier than the latest packet time seen finishes nothing
    /// more than that packet did.
    pub fn expire<F: FnMut(Flow)>(&mut self, now: Timestamp, emit: &mut F) {
        self.expire_labelled(now, &mut |f, _, _| emit(f));
    }

    /// [`expire`](Self::expire) with the labels kept.
    pub(crate) fn expire_labelled<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        now: Timestamp,
        emit: &mut F,
    ) {
        self.clock = self.clock.max(now);
        let now = self.clock;
        while self.head != NIL
            && now.nanos_since(self.links[self.head as usize].last) > self.idle_ns
        {
            self.finish_head(FlowEnd::IdleTimeout, STEP_IDLE, emit);
        }
        let linger = self.linger_ns.unwrap_or(u64::MAX);
        while let Some(&(idx, closed_at, seq, n)) = self.closing.front() {
            if now.nanos_since(closed_at) <= linger {
                break;
            }
            self.closing.pop_front();
            // The slot may have been finished (and reused) since it closed.
            let still = self.closes.get(&idx) == Some(&(closed_at, n));
            if still {
                self.finish(idx, FlowEnd::Closed, STEP_LINGER, seq, emit);
            }
        }
    }

    /// Finishes every live flow, longest-idle first.
    pub fn flush<F: FnMut(Flow)>(&mut self, emit: &mut F) {
        self.flush_labelled(&mut |f, _, _| emit(f));
    }

    /// [`flush`](Self::flush) with the labels kept.
    pub(crate) fn flush_labelled<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        emit: &mut F,
    ) {
        let seq = self.seq;
        self.seq = u64::MAX;
        while self.head != NIL {
            self.finish_head(FlowEnd::Flushed, STEP_IDLE, emit);
        }
        self.seq = seq;
        self.closing.clear();
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No live flow.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives the live flow `pkt` belongs to, if any, what other flows
    /// said about it ([`Flow::cross`]).
    pub(crate) fn set_cross(&mut self, pkt: &Packet<'_>, cross: crate::expect::CrossFlow) {
        let (key, _) = FlowKey::of(pkt);
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let Some(&idx) = self.index.find(hash, |&i| {
            slots[i as usize].as_ref().is_some_and(|l| l.key == key)
        }) else {
            return;
        };
        if let Some(live) = self.slots[idx as usize].as_mut() {
            live.mark(MARK_CROSS);
            self.crosses.insert(idx, Box::new(cross));
        }
    }

    /// Makes a flow for `pkt`, evicting the longest-idle flow when full.
    fn create<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        key: FlowKey,
        hash: u64,
        src_is_lo: bool,
        pkt: &Packet<'_>,
        emit: &mut F,
    ) -> u32 {
        while self.index.len() >= self.max_flows && self.head != NIL {
            self.finish_head(FlowEnd::Evicted, STEP_EVICT, emit);
        }
        let syn_ack = pkt.protocol == TCP
            && pkt.tcp.is_some_and(|t| {
                t.flags & (crate::TcpInfo::SYN | crate::TcpInfo::ACK)
                    == crate::TcpInfo::SYN | crate::TcpInfo::ACK
            });
        let client_is_src = !syn_ack;
        let client_is_lo = key.is_loop() || src_is_lo == client_is_src;
        let live = Live::new(key, client_is_lo, pkt.tunnel, self.seq);
        let idx = if self.free != NIL {
            let idx = self.free;
            self.free = self.links[idx as usize].next;
            self.slots[idx as usize] = Some(live);
            idx
        } else {
            self.slots.push(Some(live));
            self.links.push(Link {
                prev: NIL,
                next: NIL,
                last: self.clock,
            });
            (self.slots.len() - 1) as u32
        };
        self.links[idx as usize].last = self.clock;
        self.push_back(idx);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, idx, |&i| {
            slots[i as usize]
                .as_ref()
                .map_or(0, |l| hasher.hash_one(l.key))
        });
        idx
    }

    /// Finishes the longest-idle flow by `step`, ordered by its latest packet.
    fn finish_head<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        end: FlowEnd,
        step: u8,
        emit: &mut F,
    ) {
        let idx = self.head;
        let seq = self.slots[idx as usize].as_ref().map_or(0, |l| l.last_seq);
        self.finish(idx, end, step, seq, emit);
    }

    /// Takes the flow in slot `idx` out of the table and emits it, finished
    /// at the current packet by `step`, ordered among that step's flows by `seq`.
    fn finish<F: FnMut(Flow, Option<Classification>, EndOrder)>(
        &mut self,
        idx: u32,
        end: FlowEnd,
        step: u8,
        seq: u64,
        emit: &mut F,
    ) {
        let order = EndOrder {
            at: self.seq,
            step,
            seq,
        };
        self.unlink(idx);
        let live = self.slots[idx as usize].take();
        self.links[idx as usize].next = self.free;
        self.free = idx;
        if let Some(live) = live {
            let hash = self.hasher.hash_one(live.key);
            if let Ok(entry) = self.index.find_entry(hash, |&i| i == idx) {
                entry.remove();
            }
            let label = live
                .has(MARK_LABEL)
                .then(|| self.labels.remove(&idx))
                .flatten();
            let cross = live
                .has(MARK_CROSS)
                .then(|| self.crosses.remove(&idx))
                .flatten();
            if live.has(MARK_CLOSED) {
                self.closes.remove(&idx);
            }
            for c2s in [true, false] {
                if live.has_ranges(c2s) {
                    self.ranges.remove(&range_key(idx, c2s));
                }
            }
            emit(live.into_flow(end, &mut self.series, cross), label, order);
        }
    }

    fn unlink(&mut self, idx: u32) {
        let Link { prev, next, .. } = self.links[idx as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        let s = &mut self.links[idx as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn push_back(&mut self, idx: u32) {
        let tail = self.tail;
        {
            let s = &mut self.links[idx as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.head = idx;
        } else {
            self.links[tail as usize].next = idx;
        }
        self.tail = idx;
    }

    fn move_to_back(&mut self, idx: u32) {
        if self.tail != idx {
            self.unlink(idx);
            self.push_back(idx);
        }
    }
}

/// Drops the close entries `expire` would skip: those whose flow ended
/// since (a SYN reused its ports, an idle timeout, eviction) or closed
/// again. An entry acts only when it is its slot's latest close (by the
/// number of the close), so dropping the others changes nothing. Without it the queue would grow with every
/// close while the capture's clock stands still (a SYN and a RST again and
/// again at one timestamp): now it holds at most about twice the closed
/// live flows.
fn compact_closing(
    closing: &mut VecDeque<(u32, Timestamp, u64, u64)>,
    closes: &HashMap<u32, (Timestamp, u64)>,
) {
    closing.retain(|&(idx, at, _, n)| closes.get(&idx) == Some(&(at, n)));
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::{TcpInfo, Tunnel};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
    const SYN: u8 = TcpInfo::SYN;
    const ACK: u8 = TcpInfo::ACK;

    fn secs(s: u64) -> Timestamp {
        Timestamp::from_secs_nanos(s, 0)
    }

    fn udp(src: IpAddr, sp: u16, dst: IpAddr, dp: u16, payload: &[u8]) -> Packet<'_> {
        Packet {
            src,
            dst,
            protocol: 17,
            src_port: sp,
            dst_port: dp,
            vlan: 0,
            tunnel: None,
            tcp: None,
            fragment: Fragment::Whole,
            payload,
            payload_len: payload.len() as u32,
        }
    }

    fn tcp(
        src: IpAddr,
        sp: u16,
        dst: IpAddr,
        dp: u16,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Packet<'_> {
        Packet {
            protocol: 6,
            tcp: Some(TcpInfo {
                seq,
                ack: 0,
                flags,
                window: 0,
            }),
            ..udp(src, sp, dst, dp, payload)
        }
    }

    /// A table and the flows it emitted.
    struct Run {
        table: FlowTable,
        out: Vec<Flow>,
    }

    impl Run {
        fn new(cfg: FlowConfig) -> Self {
            Run {
                table: FlowTable::new(cfg),
                out: Vec::new(),
            }
        }
        fn push(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
            let out = &mut self.out;
            self.table.process(ts, 100, pkt, &mut |f| out.push(f));
        }
        fn flush(mut self) -> Vec<Flow> {
            let out = &mut self.out;
            self.table.flush(&mut |f| out.push(f));
            self.out
        }
    }

    fn one_flow(cfg: FlowConfig, pkts: &[(u64, Packet<'_>)]) -> Flow {
        let mut r = Run::new(cfg);
        for (t, p) in pkts {
            r.push(Timestamp::from_nanos(*t), p);
        }
        let mut flows = r.flush();
        assert_eq!(flows.len(), 1, "{flows:?}");
        flows.remove(0)
    }

    #[test]
    fn initiator_is_first_sender() {
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, udp(B, 53, A, 5353, b"x")),
                (1, udp(A, 5353, B, 53, b"yy")),
            ],
        );
        assert_eq!(
            (f.client, f.client_port, f.server, f.server_port),
            (B, 53, A, 5353)
        );
        assert_eq!((f.c2s.packets, f.s2c.packets), (1, 1));
        assert_eq!(
            (f.c2s_payload.as_slice(), f.s2c_payload.as_slice()),
            (&b"x"[..], &b"yy"[..])
        );
    }

    #[test]
    fn syn_ack_first_makes_the_receiver_initiator() {
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, tcp(B, 80, A, 40000, 500, SYN | ACK, b"")),
                (1, tcp(A, 40000, B, 80, 101, ACK, b"")),
                (2, tcp(A, 40000, B, 80, 101, ACK, b"GET")),
                (3, tcp(B, 80, A, 40000, 501, ACK, b"HTTP")),
            ],
        );
        assert_eq!((f.client, f.client_port, f.server_port), (A, 40000, 80));
        assert_eq!((f.c2s.packets, f.s2c.packets), (2, 2));
        assert_eq!(f.c2s_payload, b"GET");
        assert_eq!(f.s2c_payload, b"HTTP");
        assert_eq!(f.s2c.tcp_flags, SYN | ACK);
    }

    #[test]
    fn initiator_never_changes() {
        // A SYN from the other side later does not swap the roles.
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, tcp(A, 1, B, 2, 7, ACK, b"")),
                (1, tcp(B, 2, A, 1, 9, SYN, b"")),
            ],
        );
        assert_eq!((f.client, f.client_port), (A, 1));
    }

    #[test]
    fn key_fields_make_separate_flows() {
        let mut r = Run::new(FlowConfig::default());
        let base = udp(A, 1, B, 2, b"");
        let pkts = [
            base,
            udp(B, 2, A, 1, b""),
            Packet { vlan: 5, ..base },
            Packet {
                protocol: 132,
                ..base
            },
            Packet {
                tunnel: Some(Tunnel::Vxlan),
                ..base
            },
            udp(A, 1, C, 2, b""),
        ];
        for p in &pkts {
            r.push(secs(0), p);
        }
        assert_eq!(r.table.len(), 4);
        let flows = r.flush();
        assert_eq!(
            flows
                .iter()
                .map(|f| f.c2s.packets + f.s2c.packets)
                .sum::<u64>(),
            6
        );
        let tunnelled = flows
            .iter()
            .find(|f| f.protocol == 17 && f.vlan == 0 && f.server == B)
            .unwrap();
        assert_eq!(tunnelled.tunnel, Some(Tunnel::Vxlan));
    }

    #[test]
    fn later_fragments_are_ignored() {
        let mut r = Run::new(FlowConfig::default());
        let p = Packet {
            fragment: Fragment::Later,
            ..udp(A, 0, B, 0, b"frag")
        };
        r.push(secs(0), &p);
        assert!(r.table.is_empty());
        r.push(secs(0), &udp(A, 1, B, 2, b"x"));
        r.push(
            secs(1),
            &Packet {
                src_port: 1,
                dst_port: 2,
                ..p
            },
        );
        let flows = r.flush();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].c2s.packets, 1);
    }

    #[test]
    fn first_fragment_counts_and_stops_concat() {
        let cfg = FlowConfig {
            udp_concat: true,
            ..FlowConfig::default()
        };
        let first = Packet {
            fragment: Fragment::First,
            ..udp(A, 1, B, 2, b"abc")
        };
        let f = one_flow(cfg, &[(0, first), (1, udp(A, 1, B, 2, b"def"))]);
        assert_eq!(f.c2s.packets, 2);
        assert_eq!(f.c2s_payload, b"abc");
    }

    #[test]
    fn idle_timeout_driven_by_packet_time() {
        let mut r = Run::new(FlowConfig {
            idle_timeout: Duration::from_secs(120),
            ..FlowConfig::default()
        });
        r.push(secs(0), &udp(A, 1, B, 2, b""));
        r.push(secs(100), &udp(A, 3, B, 4, b""));
        r.push(secs(120), &udp(A, 5, B, 6, b""));
        assert!(r.out.is_empty(), "exactly the timeout is not idle yet");
        r.push(secs(121), &udp(A, 5, B, 6, b""));
        assert_eq!(r.out.len(), 1);
        assert_eq!(
            (r.out[0].client_port, r.out[0].end),
            (1, FlowEnd::IdleTimeout)
        );
        assert_eq!(r.table.len(), 2);
        // Time going backwards expires nothing.
        r.table.expire(secs(5), &mut |_| panic!("nothing is idle"));
        let out = &mut r.out;
        r.table.expire(secs(221), &mut |f| out.push(f));
        assert_eq!(r.out.len(), 2);
        assert_eq!(r.out[1].client_port, 3);
        let out = &mut r.out;
        r.table.expire(secs(242), &mut |f| out.push(f));
        assert_eq!(r.out.len(), 3);
        assert!(r.table.is_empty());
    }

    #[test]
    fn idle_flow_is_restarted_by_its_next_packet() {
        let mut r = Run::new(FlowConfig {
            idle_timeout: Duration::from_secs(120),
            ..FlowConfig::default()
        });
        r.push(secs(0), &udp(A, 1, B, 2, b"one"));
        r.push(secs(500), &udp(B, 2, A, 1, b"two"));
        let flows = r.flush();
        assert_eq!(flows.len(), 2);
        assert_eq!(
            (flows[0].end, flows[0].c2s_payload.as_slice()),
            (FlowEnd::IdleTimeout, &b"one"[..])
        );
        assert_eq!((flows[1].end, flows[1].client), (FlowEnd::Flushed, B));
        assert_eq!(flows[1].c2s_payload, b"two");
    }

    const FIN: u8 = TcpInfo::FIN;
    const RST: u8 = TcpInfo::RST;

    fn ms(m: u64) -> Timestamp {
        Timestamp::from_nanos(m * 1_000_000)
    }

    #[test]
    fn tcp_close_ends_the_flow_after_the_linger() {
        // Rows: the closing packets, then whether a packet 1 s later still
        // counts to the flow, and what ends it.
        let cases: [(&str, &[(IpAddr, u8)]); 4] = [
            ("fin each way", &[(A, FIN | ACK), (B, FIN | ACK), (A, ACK)]),
            ("rst from the server", &[(B, RST)]),
            ("rst from the client", &[(A, RST | ACK)]),
            ("fin one way only", &[(A, FIN | ACK)]),
        ];
        for (name, closing) in cases {
            let mut r = Run::new(FlowConfig::default());
            r.push(ms(0), &tcp(A, 1000, B, 80, 1, SYN, b""));
            r.push(ms(1), &tcp(B, 80, A, 1000, 1, SYN | ACK, b""));
            for (i, &(src, flags)) in closing.iter().enumerate() {
                let (sp, dst, dp) = if src == A {
                    (1000, B, 80)
                } else {
                    (80, A, 1000)
                };
                r.push(ms(10 + i as u64), &tcp(src, sp, dst, dp, 2, flags, b""));
            }
            let closed = name != "fin one way only";
            // A retransmission within the linger counts to the flow.
            r.push(ms(1000), &tcp(A, 1000, B, 80, 2, ACK, b""));
            assert!(r.out.is_empty(), "{name}");
            let out = &mut r.out;
            r.table.expire(ms(2000), &mut |f| out.push(f));
            assert!(r.out.is_empty(), "{name}: the linger runs from the close");
            let out = &mut r.out;
            r.table
                .expire(ms(2011 + closing.len() as u64), &mut |f| out.push(f));
            if closed {
                assert_eq!(r.out.len(), 1, "{name}");
                assert_eq!(r.out[0].end, FlowEnd::Closed, "{name}");
                assert_eq!(
                    r.out[0].c2s.packets + r.out[0].s2c.packets,
                    3 + closing.len() as u64
                );
                assert!(r.table.is_empty(), "{name}");
            } else {
                assert!(r.out.is_empty(), "{name}");
                assert_eq!(r.table.len(), 1, "{name}");
            }
        }
    }

    #[test]
    fn a_packet_after_the_linger_starts_a_new_flow() {
        let mut r = Run::new(FlowConfig::default());
        r.push(ms(0), &tcp(A, 1000, B, 80, 1, SYN, b""));
        r.push(ms(5), &tcp(B, 80, A, 1000, 1, RST | ACK, b""));
        r.push(ms(2006), &tcp(A, 1000, B, 80, 2, ACK, b"late"));
        assert_eq!(r.out.len(), 1);
        assert_eq!(r.out[0].end, FlowEnd::Closed);
        let flows = r.flush();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[1].c2s_payload, b"late");
    }

    #[test]
    fn closes_at_a_standing_clock_keep_the_queue_bounded() {
        // A SYN then a RST on one 4-tuple, again and again at one
        // timestamp: every SYN ends the closed flow and reuses its slot.
        let mut r = Run::new(FlowConfig::default());
        for i in 0..10_000u32 {
            r.push(ms(0), &tcp(A, 1000, B, 80, i, SYN, b""));
            r.push(ms(0), &tcp(B, 80, A, 1000, i, RST | ACK, b""));
            assert!(r.table.closing.len() <= 2 * r.table.closes.len() + CLOSING_SLACK);
        }
        assert_eq!((r.out.len(), r.table.len()), (9_999, 1));
        let out = &mut r.out;
        r.table.expire(ms(3000), &mut |f| out.push(f));
        assert_eq!(r.out.len(), 10_000);
        assert!(r.out.iter().all(|f| f.end == FlowEnd::Closed));
        assert!(r.table.is_empty() && r.table.closing.is_empty());
    }

    /// A slot closed, reused and closed again at the same time: the flow
    /// ends where its own close puts it, whether or not the queue was
    /// compacted in between (so one table and the shards agree).
    #[test]
    fn a_slot_closed_again_at_the_same_time_ends_by_its_latest_close() {
        let order = |churn: u32| {
            let mut r = Run::new(FlowConfig::default());
            r.push(ms(0), &tcp(A, 1000, B, 80, 1, SYN, b""));
            r.push(ms(0), &tcp(B, 80, A, 1000, 1, RST | ACK, b""));
            // A SYN on the closed flow ends it; the new flow takes its slot.
            r.push(ms(0), &tcp(A, 1000, B, 80, 5, SYN, b""));
            for i in 0..churn {
                r.push(ms(0), &tcp(A, 2000, B, 80, i, SYN, b""));
                r.push(ms(0), &tcp(B, 80, A, 2000, i, RST | ACK, b""));
            }
            r.push(ms(0), &tcp(B, 80, A, 1000, 5, RST | ACK, b""));
            let out = &mut r.out;
            r.table.expire(ms(3000), &mut |f| out.push(f));
            r.out.iter().map(|f| f.client_port).collect::<Vec<_>>()
        };
        let (few, many) = (order(3), order(200));
        // The last flow of port 2000 closed before the second flow of port
        // 1000 did: it ends first.
        assert_eq!(few.last(), Some(&1000), "{few:?}");
        assert_eq!(many.last(), Some(&1000));
        assert_eq!(few.len(), 5);
        assert_eq!(many.len(), 202);
    }

    #[test]
    fn a_syn_on_a_closed_flow_starts_a_new_one_at_once() {
        let mut r = Run::new(FlowConfig::default());
        r.push(ms(0), &tcp(A, 1000, B, 80, 1, SYN, b""));
        r.push(ms(1), &tcp(A, 1000, B, 80, 2, FIN | ACK, b""));
        r.push(ms(2), &tcp(B, 80, A, 1000, 2, FIN | ACK, b""));
        r.push(ms(3), &tcp(A, 1000, B, 80, 900, SYN, b""));
        assert_eq!(r.out.len(), 1);
        assert_eq!((r.out[0].end, r.out[0].c2s.packets), (FlowEnd::Closed, 2));
        assert_eq!(r.table.len(), 1);
    }

    #[test]
    fn closes_are_not_followed_without_a_linger() {
        let mut r = Run::new(FlowConfig {
            close_linger: None,
            ..FlowConfig::default()
        });
        r.push(ms(0), &tcp(A, 1000, B, 80, 1, SYN, b""));
        r.push(ms(1), &tcp(B, 80, A, 1000, 1, RST, b""));
        r.push(ms(60_000), &tcp(A, 1000, B, 80, 1, SYN, b""));
        let flows = r.flush();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].end, FlowEnd::Flushed);
    }

    #[test]
    fn active_timeout_splits_a_long_flow() {
        let mut r = Run::new(FlowConfig::default());
        for t in (0..=3660).step_by(60) {
            let p = if t % 120 == 0 {
                udp(A, 1, B, 2, b"q")
            } else {
                udp(B, 2, A, 1, b"r")
            };
            r.push(secs(t), &p);
        }
        assert_eq!(r.out.len(), 1);
        let f = &r.out[0];
        assert_eq!(f.end, FlowEnd::ActiveTimeout);
        assert_eq!((f.first_ts, f.last_ts), (secs(0), secs(3600)));
        assert_eq!(f.c2s.packets + f.s2c.packets, 61);
        let flows = r.flush();
        assert_eq!(flows[1].first_ts, secs(3660));
        // The packet that started the new flow was B's.
        assert_eq!((flows[1].client, flows[1].c2s.packets), (B, 1));
    }

    #[test]
    fn eviction_takes_the_longest_idle() {
        let cfg = FlowConfig {
            max_flows: 3,
            ..FlowConfig::default()
        };
        let mut r = Run::new(cfg);
        for (t, port) in [(0, 1), (1, 2), (2, 3), (3, 1), (4, 4), (5, 5), (6, 2)] {
            r.push(secs(t), &udp(A, port, B, 9, b""));
            assert!(r.table.len() <= 3);
        }
        let ends: Vec<(u16, FlowEnd)> = r.out.iter().map(|f| (f.client_port, f.end)).collect();
        assert_eq!(
            ends,
            [
                (2, FlowEnd::Evicted),
                (3, FlowEnd::Evicted),
                (1, FlowEnd::Evicted)
            ]
        );
        let rest: Vec<u16> = r.flush().iter().skip(3).map(|f| f.client_port).collect();
        assert_eq!(rest, [4, 5, 2]);
    }

    #[test]
    fn zero_and_one_flow_caps() {
        for max_flows in [0, 1] {
            let mut r = Run::new(FlowConfig {
                max_flows,
                ..FlowConfig::default()
            });
            r.push(secs(0), &udp(A, 1, B, 2, b""));
            r.push(secs(0), &udp(A, 1, B, 2, b""));
            r.push(secs(1), &udp(A, 3, B, 2, b""));
            assert_eq!(r.table.len(), 1);
            let flows = r.flush();
            assert_eq!(flows.len(), 2);
            assert_eq!((flows[0].end, flows[0].c2s.packets), (FlowEnd::Evicted, 2));
        }
    }

    #[test]
    fn direction_stats() {
        let cfg = FlowConfig {
            feature_packets: 3,
            ..FlowConfig::default()
        };
        let ms = 1_000_000;
        let mut r = Run::new(cfg);
        let pkts = [
            (0, tcp(A, 1, B, 2, 10, SYN, b"")),
            (5 * ms, tcp(B, 2, A, 1, 90, SYN | ACK, b"")),
            (10 * ms, tcp(A, 1, B, 2, 11, ACK, b"")),
            (12 * ms, tcp(A, 1, B, 2, 11, ACK, b"abcd")),
            (20 * ms, tcp(A, 1, B, 2, 15, ACK | TcpInfo::PSH, b"ef")),
            (19 * ms, tcp(A, 1, B, 2, 17, ACK, b"g")),
            (30 * ms, tcp(A, 1, B, 2, 18, ACK | TcpInfo::FIN, b"hij")),
        ];
        for (t, p) in &pkts {
            let out = &mut r.out;
            r.table.process(
                Timestamp::from_nanos(*t),
                60 + p.payload.len() as u32,
                p,
                &mut |f| out.push(f),
            );
        }
        let f = &r.flush()[0];
        let c = &f.c2s;
        assert_eq!((c.packets, c.bytes, c.payload_bytes), (6, 370, 10));
        assert_eq!(c.tcp_flags, SYN | ACK | TcpInfo::PSH | TcpInfo::FIN);
        assert_eq!(c.sizes, [4, 2, 1]);
        // Backwards time gives a zero gap, measured against the latest time.
        assert_eq!(c.iats, [10 * ms, 2 * ms, 8 * ms]);
        assert_eq!(
            (c.first_ts, c.last_ts),
            (Some(Timestamp::ZERO), Some(Timestamp::from_nanos(30 * ms)))
        );
        assert_eq!(f.c2s_payload, b"abcdefghij");
        assert_eq!(
            (
                f.s2c.packets,
                f.s2c.bytes,
                f.s2c.sizes.len(),
                f.s2c.iats.len()
            ),
            (1, 60, 0, 0)
        );
        assert_eq!(
            (f.first_ts, f.last_ts),
            (Timestamp::ZERO, Timestamp::from_nanos(30 * ms))
        );
        assert!(f.c2s.sizes.capacity() >= 3);
    }

    #[test]
    fn backwards_time_before_flow_start() {
        let f = one_flow(
            FlowConfig::default(),
            &[
                (1_000, udp(A, 1, B, 2, b"a")),
                (10, udp(B, 2, A, 1, b"b")),
                (5, udp(A, 1, B, 2, b"c")),
            ],
        );
        assert_eq!((f.first_ts.as_nanos(), f.last_ts.as_nanos()), (5, 1_000));
        assert_eq!(f.c2s.iats, [0]);
        assert_eq!(f.c2s.first_ts, Some(Timestamp::from_nanos(5)));
    }

    #[test]
    fn zero_k_and_zero_n() {
        let cfg = FlowConfig {
            feature_packets: 0,
            payload_bytes: 0,
            ..FlowConfig::default()
        };
        let f = one_flow(
            cfg,
            &[(0, udp(A, 1, B, 2, b"abc")), (1, udp(A, 1, B, 2, b"d"))],
        );
        assert!(f.c2s.sizes.is_empty() && f.c2s.iats.is_empty() && f.c2s_payload.is_empty());
        assert_eq!(f.c2s.payload_bytes, 4);
    }

    #[test]
    fn udp_capture() {
        let grams = [
            (0, udp(A, 1, B, 2, b"")),
            (1, udp(A, 1, B, 2, b"hello")),
            (2, udp(A, 1, B, 2, b"world")),
        ];
        let cases = [
            (false, 64, &b"hello"[..]),
            (true, 64, b"helloworld"),
            (true, 7, b"hellowo"),
            (false, 3, b"hel"),
        ];
        for (udp_concat, payload_bytes, want) in cases {
            let cfg = FlowConfig {
                udp_concat,
                payload_bytes,
                ..FlowConfig::default()
            };
            let f = one_flow(cfg, &grams);
            assert_eq!(f.c2s_payload, want, "concat {udp_concat} n {payload_bytes}");
            assert!(f.s2c_payload.is_empty());
        }
    }

    #[test]
    fn snap_cut_datagram() {
        let mut p = udp(A, 1, B, 2, b"abc");
        p.payload_len = 100;
        let cfg = FlowConfig {
            udp_concat: true,
            ..FlowConfig::default()
        };
        let f = one_flow(cfg, &[(0, p), (1, udp(A, 1, B, 2, b"def"))]);
        assert_eq!(f.c2s_payload, b"abc");
        assert_eq!(f.c2s.payload_bytes, 103);
        assert_eq!(f.c2s.sizes, [100, 3]);
    }

    #[test]
    fn tcp_capture_through_the_table() {
        let isn_c = u32::MAX - 2;
        let isn_s = 7_000;
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, tcp(A, 1, B, 2, isn_c, SYN, b"")),
                (1, tcp(B, 2, A, 1, isn_s, SYN | ACK, b"")),
                // Client data wraps the sequence space and arrives out of order.
                (2, tcp(A, 1, B, 2, 2, ACK, b"DE")),
                (3, tcp(A, 1, B, 2, isn_c.wrapping_add(1), ACK, b"ABCX")),
                (4, tcp(A, 1, B, 2, isn_c.wrapping_add(1), ACK, b"ABC")),
                (5, tcp(B, 2, A, 1, isn_s + 1, ACK, b"ok")),
                (6, tcp(B, 2, A, 1, isn_s + 6, ACK, b"late")),
            ],
        );
        assert_eq!(f.c2s_payload, b"ABCXDE");
        assert_eq!(f.s2c_payload, b"ok");
    }

    #[test]
    fn tcp_without_handshake_starts_at_first_data() {
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, tcp(A, 1, B, 2, 500, ACK, b"")),
                (1, tcp(A, 1, B, 2, 600, ACK, b"mid")),
                (2, tcp(A, 1, B, 2, 597, ACK, b"abcmid")),
                (3, tcp(A, 1, B, 2, 603, ACK, b"dle")),
            ],
        );
        assert_eq!(f.c2s_payload, b"middle");
    }

    #[test]
    fn tcp_4096_bytes() {
        let data: Vec<u8> = (0..6000u32).map(|i| (i % 253) as u8).collect();
        let cfg = FlowConfig {
            payload_bytes: 4096,
            ..FlowConfig::default()
        };
        let mut pkts = vec![(0, tcp(A, 1, B, 2, 41, SYN, b""))];
        for (i, chunk) in data.chunks(1460).enumerate().rev() {
            pkts.push((
                i as u64 + 1,
                tcp(A, 1, B, 2, 42 + (i * 1460) as u32, ACK, chunk),
            ));
        }
        let f = one_flow(cfg, &pkts);
        assert_eq!(f.c2s_payload, &data[..4096]);
    }

    #[test]
    fn tcp_without_header_counts_but_captures_nothing() {
        let mut p = tcp(A, 1, B, 2, 0, ACK, b"abc");
        p.tcp = None;
        let f = one_flow(FlowConfig::default(), &[(0, p)]);
        assert_eq!((f.c2s.packets, f.c2s_payload.len()), (1, 0));
    }

    #[test]
    fn looped_endpoints_stay_one_direction() {
        let f = one_flow(
            FlowConfig::default(),
            &[
                (0, tcp(A, 7, A, 7, 1, SYN | ACK, b"")),
                (1, tcp(A, 7, A, 7, 2, ACK, b"x")),
            ],
        );
        assert_eq!((f.c2s.packets, f.s2c.packets), (2, 0));
    }

    #[test]
    fn slots_are_reused() {
        let cfg = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut r = Run::new(cfg);
        for port in 0..100 {
            r.push(secs(0), &udp(A, port, B, 2, b""));
        }
        assert_eq!(r.table.slots.len(), 2);
        assert_eq!(r.flush().len(), 100);
    }

    #[test]
    fn tls_client_hello_is_kept_whole() {
        let msg = crate::protocols::tls::tests::foxio_example();
        let mut record = vec![0x16, 3, 1];
        record.extend((msg.len() as u16).to_be_bytes());
        record.extend(&msg);
        let cfg = |handshake_bytes| FlowConfig {
            payload_bytes: 64,
            handshake_bytes,
            ..FlowConfig::default()
        };
        let (a, b) = record.split_at(100);
        let pkts = [
            (0, tcp(A, 1, B, 443, 9, SYN, b"")),
            (1, tcp(A, 1, B, 443, 10, ACK, a)),
            (2, tcp(A, 1, B, 443, 110, ACK, b)),
            (3, tcp(A, 1, B, 443, 10 + record.len() as u32, ACK, b"more")),
            (4, tcp(B, 443, A, 1, 500, ACK, &record)),
        ];
        let f = one_flow(cfg(4096), &pkts);
        assert_eq!(f.c2s_payload, record);
        assert_eq!(f.s2c_payload, &record[..64]);
        assert!(f.metadata().ja4.is_some());
        // A bound below the hello cuts it there; no bound keeps N.
        assert_eq!(one_flow(cfg(80), &pkts).c2s_payload, &record[..80]);
        assert_eq!(one_flow(cfg(0), &pkts).c2s_payload, &record[..64]);
        // Not TLS: N.
        let http = [(0, tcp(A, 1, B, 80, 9, ACK, &[b'G'; 200]))];
        assert_eq!(one_flow(cfg(4096), &http).c2s_payload.len(), 64);
    }

    #[test]
    fn quic_initial_datagrams_are_concatenated() {
        let initial = crate::protocols::quic::tests::rfc9001();
        let cfg = FlowConfig {
            payload_bytes: 512,
            handshake_bytes: 4096,
            ..FlowConfig::default()
        };
        let short = [0x40u8; 50];
        let pkts = [
            (0, udp(A, 1, B, 443, &initial)),
            (1, udp(B, 443, A, 1, &initial)),
            (2, udp(A, 1, B, 443, &initial)),
            (3, udp(A, 1, B, 443, &short)),
            (4, udp(A, 1, B, 443, &initial)),
        ];
        let f = one_flow(cfg.clone(), &pkts);
        assert_eq!(f.c2s_payload.len(), 2 * initial.len());
        assert_eq!(f.s2c_payload.len(), 512);
        let m = f.metadata();
        assert_eq!(m.hostname.as_deref(), Some("example.com"));
        assert_eq!(m.quic_version, Some(1));
        // The bound cuts the second datagram.
        let f = one_flow(
            FlowConfig {
                handshake_bytes: 1500,
                ..cfg.clone()
            },
            &pkts,
        );
        assert_eq!(f.c2s_payload.len(), 1500);
        // Without a bound: the first datagram's first N bytes.
        let f = one_flow(
            FlowConfig {
                handshake_bytes: 0,
                ..cfg
            },
            &pkts,
        );
        assert_eq!(f.c2s_payload, &initial[..512]);
    }

    #[test]
    fn table_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FlowTable>();
        check::<Flow>();
    }
}

#[cfg(test)]
mod proptests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::TcpInfo;

    #[derive(Clone, Debug)]
    struct P {
        dt: i64,
        src: u8,
        dst: u8,
        sport: u8,
        dport: u8,
        protocol: u8,
        vlan: u16,
        frag: u8,
        tcp: Option<(u32, u8)>,
        payload: Vec<u8>,
        extra_len: u32,
    }

    fn packet() -> impl Strategy<Value = P> {
        (
            (-5i64..200, 0u8..4, 0u8..4, 0u8..3, 0u8..3),
            (
                prop_oneof![Just(6u8), Just(17), Just(1), Just(132)],
                0u16..2,
                0u8..6,
            ),
            prop::option::of((any::<u32>(), any::<u8>())),
            prop::collection::vec(any::<u8>(), 0..24),
            prop_oneof![Just(0u32), 0u32..50],
        )
            .prop_map(
                |(
                    (dt, src, dst, sport, dport),
                    (protocol, vlan, frag),
                    tcp,
                    payload,
                    extra_len,
                )| P {
                    dt,
                    src,
                    dst,
                    sport,
                    dport,
                    protocol,
                    vlan,
                    frag,
                    tcp,
                    payload,
                    extra_len,
                },
            )
    }

    fn addr(i: u8) -> IpAddr {
        match i {
            0 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            1 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            2 => IpAddr::V6(Ipv6Addr::LOCALHOST),
            _ => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn nothing_is_lost(
            pkts in prop::collection::vec(packet(), 0..200),
            max_flows in 0usize..5,
            idle_s in 0u64..300,
            active_s in 0u64..600,
            n in 0usize..40,
            k in 0usize..4,
            reorder in 0usize..3,
            udp_concat in any::<bool>(),
            expire_every in 0usize..20,
            handshake_bytes in prop_oneof![Just(0usize), 0usize..80],
            linger_s in prop_oneof![Just(None), (0u64..5).prop_map(Some)],
        ) {
            let cfg = FlowConfig {
                idle_timeout: Duration::from_secs(idle_s),
                active_timeout: Duration::from_secs(active_s),
                max_flows,
                payload_bytes: n,
                feature_packets: k,
                udp_concat,
                handshake_bytes,
                reorder_segments: reorder,
                close_linger: linger_s.map(Duration::from_secs),
                release_settled: None,
            };
            let mut table = FlowTable::new(cfg);
            let mut out: Vec<Flow> = Vec::new();
            let mut t: u64 = 1_000_000_000_000;
            let mut counted = 0u64;
            for (i, p) in pkts.iter().enumerate() {
                t = t.saturating_add_signed(p.dt * 1_000_000_000);
                let fragment = match p.frag { 0 => Fragment::Later, 1 => Fragment::First, _ => Fragment::Whole };
                let pkt = Packet {
                    src: addr(p.src),
                    dst: addr(p.dst),
                    protocol: p.protocol,
                    src_port: u16::from(p.sport),
                    dst_port: u16::from(p.dport),
                    vlan: p.vlan,
                    tunnel: None,
                    tcp: p.tcp.map(|(seq, flags)| TcpInfo { seq, ack: 0, flags, window: 0 }),
                    fragment,
                    payload: &p.payload,
                    payload_len: p.payload.len() as u32 + p.extra_len,
                };
                if fragment != Fragment::Later {
                    counted += 1;
                }
                table.process(Timestamp::from_nanos(t), 60, &pkt, &mut |f| out.push(f));
                prop_assert!(table.len() <= max_flows.max(1));
                if expire_every > 0 && i % expire_every == 0 {
                    table.expire(Timestamp::from_nanos(t), &mut |f| out.push(f));
                }
            }
            table.flush(&mut |f| out.push(f));
            prop_assert!(table.is_empty());
            let total: u64 = out.iter().map(|f| f.c2s.packets + f.s2c.packets).sum();
            prop_assert_eq!(total, counted);
            for f in &out {
                prop_assert!(f.first_ts <= f.last_ts);
                prop_assert!(f.c2s.packets + f.s2c.packets > 0);
                prop_assert!(f.c2s_payload.len() <= n.max(handshake_bytes) && f.s2c_payload.len() <= n);
                prop_assert!(f.c2s.sizes.len() <= k && f.c2s.iats.len() <= k);
                prop_assert!(f.s2c.sizes.len() <= k && f.s2c.iats.len() <= k);
            }
        }
    }
}
/// The sizes `dpi-core/DESIGN.md` gives for a live flow (x86-64).
#[cfg(all(test, target_arch = "x86_64"))]
mod sizes {
    #[test]
    fn live_flow_sizes_are_as_documented() {
        use std::mem::size_of;
        assert_eq!(size_of::<Option<super::Live>>(), 248);
        assert_eq!(size_of::<super::super::record::Dir>(), 96);
        assert_eq!(size_of::<super::super::stream::Stream>(), 16);
        assert_eq!(size_of::<super::FlowKey>(), 40);
        assert_eq!(size_of::<super::Link>(), 16);
        assert_eq!(size_of::<super::Flow>(), 336);
    }
}
