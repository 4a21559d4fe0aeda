//! The flow table. (Interface; the implementation is being written.)

use std::net::IpAddr;
use std::time::Duration;

use crate::{Packet, Timestamp, Tunnel};

/// Flow-table settings.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// A flow with no packet for this long is finished.
    pub idle_timeout: Duration,
    /// A flow older than this is finished and a new one started.
    pub active_timeout: Duration,
    /// Hard cap on live flows; the longest-idle flow is evicted to make room.
    pub max_flows: usize,
    /// User-data bytes kept per direction (N).
    pub payload_bytes: usize,
    /// Payload sizes and inter-arrival times kept per direction (K).
    pub feature_packets: usize,
    /// UDP: concatenate datagrams up to N bytes instead of keeping the first one only.
    pub udp_concat: bool,
    /// TCP: out-of-order segments held per direction while waiting for a gap to fill.
    pub reorder_segments: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout: Duration::from_secs(120),
            active_timeout: Duration::from_secs(3600),
            max_flows: 1 << 20,
            payload_bytes: 64,
            feature_packets: 8,
            udp_concat: false,
            reorder_segments: 8,
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
}

/// Counters of one direction of a flow.
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
    /// OR of the TCP flags seen.
    pub tcp_flags: u8,
    /// Payload sizes of the first K packets that carry payload.
    pub sizes: Vec<u32>,
    /// Inter-arrival times (ns) of the first K packets after the first.
    pub iats: Vec<u64>,
}

/// A finished bidirectional flow.
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
    /// Outermost VLAN id, 0 when untagged.
    pub vlan: u16,
    /// Outer encapsulation, when the flow was tunnelled.
    pub tunnel: Option<Tunnel>,
    /// First packet time.
    pub first_ts: Timestamp,
    /// Last packet time.
    pub last_ts: Timestamp,
    /// Initiator to responder.
    pub c2s: DirectionStats,
    /// Responder to initiator.
    pub s2c: DirectionStats,
    /// First bytes of user data from the initiator.
    pub c2s_payload: Vec<u8>,
    /// First bytes of user data from the responder.
    pub s2c_payload: Vec<u8>,
    /// Why the flow was finished.
    pub end: FlowEnd,
}

/// The table of live flows.
pub struct FlowTable {
    _cfg: FlowConfig,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable { _cfg: cfg }
    }

    /// Accounts one decoded packet seen at `ts` with `wire_len` bytes on the wire.
    pub fn process<F: FnMut(Flow)>(&mut self, ts: Timestamp, wire_len: u32, pkt: &Packet<'_>, emit: &mut F) {
        let _ = (ts, wire_len, pkt, emit);
        todo!()
    }

    /// Finishes every live flow.
    pub fn flush<F: FnMut(Flow)>(&mut self, emit: &mut F) {
        let _ = emit;
        todo!()
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        0
    }

    /// No live flow.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
