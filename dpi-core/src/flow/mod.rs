//! The flow table: packets in, finished bidirectional flows out.
//!
//! - [`FlowTable`] keeps the live flows, keyed by a canonical bidirectional
//!   key (IP protocol, the two endpoints in a fixed order, VLAN id), and
//!   finishes them on idle and active timeouts, on eviction under the
//!   live-flow cap and on [`FlowTable::flush`].
//! - [`Flow`] is what comes out: endpoints with the initiator first,
//!   per-direction [`DirectionStats`] and the first N bytes of user data in
//!   each direction (TCP reassembled in sequence order).
//! - [`FlowConfig`] holds the timeouts, the cap, N and K.
//!
//! Internals: `key` (the canonical key), `table` (slab of live flows, LRU
//! list, timeouts, eviction), `stream` (user-data capture and TCP
//! reassembly).

use std::net::IpAddr;
use std::time::Duration;

use crate::{Timestamp, Tunnel};

mod key;
mod record;
mod stream;
mod table;

pub(crate) use table::EndOrder;
pub use table::FlowTable;

/// The shard (below `shards`) of the flow `pkt` belongs to: the same for
/// both directions and in every process. Shard 0 gets half the share of
/// each other shard (see [`shard_share`]).
#[inline]
pub(crate) fn shard_of(pkt: &crate::Packet<'_>, shards: usize) -> usize {
    let parts = 1 + WORKER_PARTS * (shards.max(1) as u64 - 1);
    // The hash scaled to `0..parts` by its high bits (a multiplication,
    // where `%` would be a division per packet).
    let part = (u128::from(key::shard_hash(pkt)) * u128::from(parts)) >> 64;
    (part as u64).div_ceil(WORKER_PARTS) as usize
}

/// Parts of the flows each shard but the first gets, for its one.
const WORKER_PARTS: u64 = 2;

/// Shard `i`'s share of `total` (rounded up) when [`shard_of`] deals flows
/// over `shards`: one part of `2 * shards - 1` for shard 0, two for each
/// other one. Shard 0 is the thread that also merges the output, and
/// reads and decodes the capture where it is read by one thread
/// ([`ShardedMeter`](crate::ShardedMeter)): with two shards, a third of
/// the flows for shard 0 was the fastest split measured over both ways of
/// reading (benches/README.md, "Blocks claimed").
pub(crate) fn shard_share(total: usize, i: usize, shards: usize) -> usize {
    let w = WORKER_PARTS as usize;
    let parts = 1 + w * (shards.max(1) - 1);
    let mine = if i == 0 { 1 } else { w };
    total.saturating_mul(mine).div_ceil(parts).max(1)
}

/// Flow-table settings.
///
/// ```
/// use std::time::Duration;
/// use dpi_core::FlowConfig;
///
/// let cfg = FlowConfig { payload_bytes: 256, idle_timeout: Duration::from_secs(30), ..FlowConfig::default() };
/// assert_eq!(cfg.max_flows, 1 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// A flow with no packet for longer than this is finished
    /// ([`FlowEnd::IdleTimeout`]). Time is capture time: it advances with
    /// the packets handed in and with [`FlowTable::expire`]. Default 600 s:
    /// long enough that a capture gives the flows nDPI reports (it does not
    /// split flows on idle gaps), short enough, with the cap, to bound a probe's table.
    pub idle_timeout: Duration,
    /// A packet arriving when its flow is older than this (since the flow's
    /// first packet) finishes the flow ([`FlowEnd::ActiveTimeout`]) and
    /// starts a new one with that packet. Default 3600 s.
    pub active_timeout: Duration,
    /// Hard cap on live flows; when full, the longest-idle flow is evicted
    /// ([`FlowEnd::Evicted`]) to make room. 0 is treated as 1 (every new flow
    /// evicts the previous one). Default 1,048,576.
    pub max_flows: usize,
    /// User-data bytes kept per direction (N). Values above 16 MiB are
    /// treated as 16 MiB. Default 64.
    pub payload_bytes: usize,
    /// Payload sizes and inter-arrival times kept per direction (K). Values
    /// above 65,536 are treated as 65,536. Default 8.
    pub feature_packets: usize,
    /// UDP (and every transport other than TCP): concatenate datagrams up to
    /// N bytes instead of keeping the first one only. Default false.
    pub udp_concat: bool,
    /// The initiator's handshake kept up to this many bytes (when above N):
    /// a TCP flow whose first bytes start a TLS ClientHello keeps the
    /// hello whole, up to this bound; a UDP flow whose first datagram is a
    /// QUIC client Initial of a version the QUIC parser reads keeps whole
    /// datagrams and appends the following long-header ones (the client's
    /// first flight) up to this bound, so that [`Flow::metadata`] sees the
    /// whole ClientHello; a UDP direction (either one) whose first datagram
    /// is a STUN message keeps it and, passing over the STUN datagrams
    /// after it, appends a DTLS handshake that follows them (WebRTC) up to
    /// this bound. Other flows keep N. The buffer of such a flow
    /// grows once, when its first bytes arrive. Default 0 (off); `dpi
    /// classify` sets 4096. Values above 16 MiB are treated as 16 MiB.
    pub handshake_bytes: usize,
    /// TCP: out-of-order byte ranges held per direction while waiting for a
    /// gap to fill (0 keeps in-order data only). Values above 4096 are
    /// treated as 4096. Default 8.
    pub reorder_segments: usize,
    /// TCP: how long a closed flow (a FIN seen each way, or a RST) stays
    /// in the table before it ends ([`FlowEnd::Closed`]), so that
    /// retransmissions and the last ACKs still count to it. Time is
    /// capture time, as for the idle timeout: the first packet or
    /// [`FlowTable::expire`] more than this after the close ends the flow;
    /// a SYN without ACK on the same endpoints ends it at once (a new
    /// connection). `None` follows no close: TCP flows end like the others.
    /// Default 2 s, a little above the 1 s initial retransmission timeout
    /// of RFC 6298 (section 2.1).
    pub close_linger: Option<Duration>,
    /// Frees a datagram flow's bytes (UDP and every transport other than
    /// TCP) while it is live, once both directions' bytes are complete
    /// (their first datagram, unless [`udp_concat`](Self::udp_concat) or a
    /// kept handshake appends more) and this check settles its label: it
    /// is asked once per flow, at the packet that completes the second
    /// direction. The finished flow then carries no bytes and the settled
    /// label ([`Flow::settled`]). `None` (the default) keeps the bytes
    /// until the flow ends. `dpi classify` sets
    /// [`SettledLabel`](crate::classify::SettledLabel) when it writes no
    /// payload bytes: a flood of one-exchange UDP flows then holds no
    /// buffers.
    pub release_settled: Option<std::sync::Arc<dyn SettledBytes>>,
}

/// Settles a live flow's label from its complete bytes, so that they can
/// be freed before it ends ([`FlowConfig::release_settled`]).
pub trait SettledBytes: Send + Sync + std::fmt::Debug {
    /// The label of the finished flow when the bytes of `view` (complete
    /// in both directions, with the flow's counters so far) already fix
    /// it, whatever packets come later, and give no protocol field; `None`
    /// when the flow must keep its bytes.
    fn settle(&self, view: &crate::FlowView<'_>) -> Option<Settled>;
}

/// A label fixed while the flow was live, when its bytes were freed
/// ([`FlowConfig::release_settled`]): the classifier's deciding signature,
/// by index in its set, or none (an unknown flow).
/// [`Classifier::classify_flow`](crate::Classifier::classify_flow) labels
/// such a flow with it: give it the classifier that settled it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The deciding signature's index, `None` when none matched.
    pub signature: Option<u32>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout: Duration::from_secs(600),
            active_timeout: Duration::from_secs(3600),
            max_flows: 1 << 20,
            payload_bytes: 64,
            feature_packets: 8,
            udp_concat: false,
            handshake_bytes: 0,
            reorder_segments: 8,
            close_linger: Some(Duration::from_secs(2)),
            release_settled: None,
        }
    }
}

impl FlowConfig {
    /// User-data bytes per direction that `dpi classify` keeps and
    /// classifies on (N): rules look for literals (an HTTP `Host:` header,
    /// a TLS server name) well past the first 64 bytes.
    pub const CLASSIFY_BYTES: usize = 512;

    /// Bytes of an opening TLS ClientHello or of a QUIC client's Initial
    /// datagrams that `dpi classify` keeps for the protocol fields
    /// ([`FlowConfig::handshake_bytes`]): a QUIC ClientHello often spans two
    /// Initial datagrams of 1,200 bytes or more, and a TLS ClientHello with
    /// post-quantum key shares passes 1,700 bytes.
    pub const CLASSIFY_HANDSHAKE_BYTES: usize = 4096;

    /// The settings `dpi classify` uses by default: the defaults, with
    /// [`CLASSIFY_BYTES`](Self::CLASSIFY_BYTES) bytes per direction and
    /// handshakes kept up to
    /// [`CLASSIFY_HANDSHAKE_BYTES`](Self::CLASSIFY_HANDSHAKE_BYTES). Give
    /// the flows to [`Classifier::classify_flow`](crate::Classifier::classify_flow)
    /// with `payload_bytes` to get its labels.
    ///
    /// ```
    /// use dpi_core::FlowConfig;
    ///
    /// let cfg = FlowConfig::classification();
    /// assert_eq!((cfg.payload_bytes, cfg.handshake_bytes), (512, 4096));
    /// assert_eq!(cfg.idle_timeout, FlowConfig::default().idle_timeout);
    /// ```
    pub fn classification() -> Self {
        FlowConfig {
            payload_bytes: Self::CLASSIFY_BYTES,
            handshake_bytes: Self::CLASSIFY_HANDSHAKE_BYTES,
            ..FlowConfig::default()
        }
    }
}

/// Why a flow was finished.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FlowEnd {
    /// No packet for the idle timeout.
    IdleTimeout,
    /// Longer than the active timeout.
    ActiveTimeout,
    /// Evicted to keep the live-flow cap.
    Evicted,
    /// Emitted by [`FlowTable::flush`] at the end of input.
    Flushed,
    /// TCP: closed by a FIN each way or a RST, then
    /// [`FlowConfig::close_linger`] passed.
    Closed,
}

impl FlowEnd {
    /// The reason's name in records: `idle`, `active`, `evicted`,
    /// `flushed` or `closed`.
    ///
    /// ```
    /// assert_eq!(dpi_core::FlowEnd::Closed.as_str(), "closed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FlowEnd::IdleTimeout => "idle",
            FlowEnd::ActiveTimeout => "active",
            FlowEnd::Evicted => "evicted",
            FlowEnd::Flushed => "flushed",
            FlowEnd::Closed => "closed",
        }
    }
}

/// Counters of one direction of a flow.
///
/// Timestamps that go backwards never make a negative span: `first_ts` is
/// the earliest and `last_ts` the latest time seen, and a packet stamped
/// before the latest one seen so far gets an inter-arrival time of 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Packets.
    pub packets: u64,
    /// Bytes on the wire (whole frames).
    pub bytes: u64,
    /// Transport payload bytes.
    pub payload_bytes: u64,
    /// First packet time.
    pub first_ts: Option<Timestamp>,
    /// Last packet time.
    pub last_ts: Option<Timestamp>,
    /// Time of the first packet that carried payload.
    pub first_payload_ts: Option<Timestamp>,
    /// OR of the TCP flags seen.
    pub tcp_flags: u8,
    /// Payload sizes of the first K packets that carry payload.
    pub sizes: Vec<u32>,
    /// Inter-arrival times (ns) of the first K packets after the first.
    pub iats: Vec<u64>,
}

/// A live flow's endpoints and counters so far: what
/// [`FlowEvent::Labelled`](crate::FlowEvent::Labelled) reports when the
/// label is decided. `From<&Flow>` gives the same for a finished flow.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use dpi_core::{FlowConfig, FlowMeter, FlowSummary, LinkType, Timestamp};
///
/// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, b"\x12\x34");
/// let mut meter = FlowMeter::new(FlowConfig::default());
/// let mut flows = Vec::new();
/// meter.push_frame(LinkType::ETHERNET, Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |f| flows.push(f));
/// meter.flush(&mut |f| flows.push(f));
/// let s = FlowSummary::from(&flows[0]);
/// assert_eq!((s.client, s.server_port), (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 53));
/// assert_eq!((s.c2s_packets, s.s2c_packets), (1, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSummary {
    /// IP protocol number.
    pub protocol: u8,
    /// The initiator's address.
    pub client: IpAddr,
    /// The initiator's port (0 without ports).
    pub client_port: u16,
    /// The responder's address.
    pub server: IpAddr,
    /// The responder's port (0 without ports).
    pub server_port: u16,
    /// VLAN id ([`Flow::vlan`]).
    pub vlan: u16,
    /// Outer encapsulation, when the flow was tunnelled (the first one seen).
    pub tunnel: Option<Tunnel>,
    /// First packet time.
    pub first_ts: Timestamp,
    /// Last packet time so far.
    pub last_ts: Timestamp,
    /// Packets from the initiator so far.
    pub c2s_packets: u64,
    /// Packets from the responder so far.
    pub s2c_packets: u64,
    /// Bytes on the wire from the initiator so far.
    pub c2s_bytes: u64,
    /// Bytes on the wire from the responder so far.
    pub s2c_bytes: u64,
}

impl From<&Flow> for FlowSummary {
    fn from(f: &Flow) -> Self {
        FlowSummary {
            protocol: f.protocol,
            client: f.client,
            client_port: f.client_port,
            server: f.server,
            server_port: f.server_port,
            vlan: f.vlan,
            tunnel: f.tunnel,
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            c2s_packets: f.c2s.packets,
            s2c_packets: f.s2c.packets,
            c2s_bytes: f.c2s.bytes,
            s2c_bytes: f.s2c.bytes,
        }
    }
}

/// A finished bidirectional flow.
///
/// The initiator (`client`) is the sender of the first packet seen, except
/// when that packet is a TCP SYN+ACK: then its receiver is. `first_ts` and
/// `last_ts` are the earliest and latest packet times of both directions.
#[derive(Clone, Debug)]
pub struct Flow {
    /// IP protocol number.
    pub protocol: u8,
    /// The initiator's address.
    pub client: IpAddr,
    /// The initiator's port (0 without ports).
    pub client_port: u16,
    /// The responder's address.
    pub server: IpAddr,
    /// The responder's port (0 without ports).
    pub server_port: u16,
    /// VLAN id of the last 802.1Q/802.1ad tag the decoder walked (the
    /// innermost of stacked tags), 0 when untagged.
    pub vlan: u16,
    /// Outer encapsulation, when the flow was tunnelled (the first one seen).
    pub tunnel: Option<Tunnel>,
    /// First packet time.
    pub first_ts: Timestamp,
    /// Last packet time.
    pub last_ts: Timestamp,
    /// Initiator to responder.
    pub c2s: DirectionStats,
    /// Responder to initiator.
    pub s2c: DirectionStats,
    /// First bytes of user data from the initiator (at most N, or at most
    /// [`FlowConfig::handshake_bytes`] for a flow that starts with a TLS
    /// ClientHello or a QUIC Initial; for TCP the contiguous prefix of the
    /// stream in sequence order).
    pub c2s_payload: Vec<u8>,
    /// First bytes of user data from the responder.
    pub s2c_payload: Vec<u8>,
    /// Why the flow was finished.
    pub end: FlowEnd,
    /// What other flows said about this one when it was made (an FTP data
    /// connection or media stream they announced, a DNS name for its
    /// server): set by [`FlowMeter`](crate::FlowMeter), see [`expect`](crate::expect).
    pub cross: Option<Box<crate::expect::CrossFlow>>,
    /// The label settled while the flow was live, its bytes then freed
    /// ([`FlowConfig::release_settled`]); `None` for a flow that kept its
    /// bytes.
    pub settled: Option<Settled>,
}

impl Flow {
    /// The protocol fields of the flow, read from its first bytes per
    /// direction (see [`protocols`](crate::protocols)).
    ///
    /// ```
    /// use dpi_core::{FlowConfig, FlowMeter, LinkType, Timestamp};
    ///
    /// let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x1c\x00\x01";
    /// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, query);
    /// let mut meter = FlowMeter::new(FlowConfig::default());
    /// let mut flows = Vec::new();
    /// meter.push_frame(LinkType::ETHERNET, Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |f| flows.push(f));
    /// meter.flush(&mut |f| flows.push(f));
    /// let meta = flows[0].metadata();
    /// assert_eq!(meta.hostname.as_deref(), Some("www.example.com"));
    /// assert_eq!(meta.dns_query_type.as_deref(), Some("AAAA"));
    /// ```
    pub fn metadata(&self) -> crate::Metadata {
        crate::protocols::extract(&crate::FlowView::from(self))
    }
}
