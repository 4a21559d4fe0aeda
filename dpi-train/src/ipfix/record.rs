//! The values of one flow's data record, taken from a classified flow.

use std::net::IpAddr;

use dpi_core::{Flow, FlowEnd};

/// flowEndReason values (IANA "flowEndReason (Value 136)" registry,
/// RFC 5102 §5.11.3).
pub mod end_reason {
    /// No packet for the idle timeout.
    pub const IDLE_TIMEOUT: u8 = 1;
    /// Longer than the active timeout.
    pub const ACTIVE_TIMEOUT: u8 = 2;
    /// The end of the flow was seen (TCP FIN or RST).
    pub const END_OF_FLOW: u8 = 3;
    /// Forced end: the end of the input.
    pub const FORCED_END: u8 = 4;
    /// Lack of resources: evicted to keep the flow table's cap.
    pub const LACK_OF_RESOURCES: u8 = 5;
}

/// The flowEndReason of a flow that ended with `end`. The one place where
/// the flow table's end reasons meet IPFIX's.
///
/// ```
/// use dpi_core::FlowEnd;
/// use dpi_train::ipfix::record::{end_reason, flow_end_reason};
///
/// assert_eq!(flow_end_reason(FlowEnd::IdleTimeout), end_reason::IDLE_TIMEOUT);
/// assert_eq!(flow_end_reason(FlowEnd::Flushed), end_reason::FORCED_END);
/// assert_eq!(flow_end_reason(FlowEnd::Closed), end_reason::END_OF_FLOW);
/// ```
pub fn flow_end_reason(end: FlowEnd) -> u8 {
    match end {
        FlowEnd::IdleTimeout => end_reason::IDLE_TIMEOUT,
        FlowEnd::ActiveTimeout => end_reason::ACTIVE_TIMEOUT,
        FlowEnd::Evicted => end_reason::LACK_OF_RESOURCES,
        FlowEnd::Flushed => end_reason::FORCED_END,
        FlowEnd::Closed => end_reason::END_OF_FLOW,
    }
}

/// One data record's values. Source is the flow's initiator; the reverse
/// counters (RFC 5103) are the responder's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFields<'a> {
    /// Initiator address.
    pub src: IpAddr,
    /// Responder address.
    pub dst: IpAddr,
    /// Initiator port.
    pub src_port: u16,
    /// Responder port.
    pub dst_port: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// VLAN id, 0 when untagged.
    pub vlan: u16,
    /// First packet, nanoseconds since 1970.
    pub start_nanos: u64,
    /// Last packet, nanoseconds since 1970.
    pub end_nanos: u64,
    /// Initiator packets.
    pub packets: u64,
    /// Initiator bytes on the wire.
    pub octets: u64,
    /// Responder packets.
    pub reverse_packets: u64,
    /// Responder bytes on the wire.
    pub reverse_octets: u64,
    /// flowEndReason.
    pub end_reason: u8,
    /// applicationId: engine id and selector.
    pub application_id: [u8; 5],
    /// applicationName: nDPI's `Protocol.App` spelling.
    pub application_name: &'a str,
    /// The flow's hostname field.
    pub hostname: Option<&'a str>,
}

impl<'a> FlowFields<'a> {
    /// The fields of `flow`, whose application is `application_name` with
    /// id `application_id`, and whose hostname is `hostname`.
    pub fn new(
        flow: &Flow,
        application_id: [u8; 5],
        application_name: &'a str,
        hostname: Option<&'a str>,
    ) -> Self {
        FlowFields {
            src: flow.client,
            dst: flow.server,
            src_port: flow.client_port,
            dst_port: flow.server_port,
            protocol: flow.protocol,
            vlan: flow.vlan,
            start_nanos: flow.first_ts.as_nanos(),
            end_nanos: flow.last_ts.as_nanos(),
            packets: flow.c2s.packets,
            octets: flow.c2s.bytes,
            reverse_packets: flow.s2c.packets,
            reverse_octets: flow.s2c.bytes,
            end_reason: flow_end_reason(flow.end),
            application_id,
            application_name,
            hostname,
        }
    }
}
