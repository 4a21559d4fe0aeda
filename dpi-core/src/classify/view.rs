//! [`FlowView`]: what the classifier looks at.

use crate::signature::Side;
use crate::Flow;

/// A borrowed summary of one flow: what signatures are matched against.
///
/// Build one from a finished [`Flow`] with `FlowView::from(&flow)`, or
/// field by field in a probe that classifies flows while they are live.
/// Every field is public; the `with_*` methods are shortcuts.
///
/// ```
/// use dpi_core::FlowView;
/// use dpi_core::signature::Side;
///
/// let view = FlowView::new(17, 53)
///     .with_client_port(40177)
///     .with_c2s(b"\x12\x34\x01\x00\x00\x01")
///     .with_packets(1, 0)
///     .with_first_sizes(Some(6), None)
///     .with_first_payload(Side::Initiator);
/// assert_eq!(view.server_port, 53);
/// assert!(view.s2c.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowView<'a> {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, ...).
    pub transport: u8,
    /// The initiator's port (0 without ports).
    pub client_port: u16,
    /// The responder's port (0 without ports); port conditions test this one.
    pub server_port: u16,
    /// The first bytes of user data sent by the initiator.
    pub c2s: &'a [u8],
    /// The first bytes of user data sent by the responder.
    pub s2c: &'a [u8],
    /// Packets sent by the initiator so far.
    pub c2s_packets: u64,
    /// Packets sent by the responder so far.
    pub s2c_packets: u64,
    /// Payload size of the initiator's first payload-carrying packet.
    pub c2s_first_size: Option<u32>,
    /// Payload size of the responder's first payload-carrying packet.
    pub s2c_first_size: Option<u32>,
    /// Which side sent the flow's first payload, when known.
    pub first_payload: Option<Side>,
    /// The most user-data bytes captured per direction, when bounded: a
    /// direction holding this many bytes gets no more, which lets
    /// [`Classifier::decide`](crate::Classifier::decide) settle sooner.
    pub byte_limit: Option<usize>,
}

impl<'a> FlowView<'a> {
    /// A flow of IP protocol `transport` to `server_port`, with no data yet.
    pub fn new(transport: u8, server_port: u16) -> Self {
        FlowView {
            transport,
            client_port: 0,
            server_port,
            c2s: &[],
            s2c: &[],
            c2s_packets: 0,
            s2c_packets: 0,
            c2s_first_size: None,
            s2c_first_size: None,
            first_payload: None,
            byte_limit: None,
        }
    }

    /// Sets the initiator's port.
    pub fn with_client_port(mut self, port: u16) -> Self {
        self.client_port = port;
        self
    }

    /// Sets the initiator's first bytes.
    pub fn with_c2s(mut self, bytes: &'a [u8]) -> Self {
        self.c2s = bytes;
        self
    }

    /// Sets the responder's first bytes.
    pub fn with_s2c(mut self, bytes: &'a [u8]) -> Self {
        self.s2c = bytes;
        self
    }

    /// Sets the packet counts per direction.
    pub fn with_packets(mut self, c2s: u64, s2c: u64) -> Self {
        self.c2s_packets = c2s;
        self.s2c_packets = s2c;
        self
    }

    /// Sets the first payload sizes per direction.
    pub fn with_first_sizes(mut self, c2s: Option<u32>, s2c: Option<u32>) -> Self {
        self.c2s_first_size = c2s;
        self.s2c_first_size = s2c;
        self
    }

    /// Sets the side that sent the first payload.
    pub fn with_first_payload(mut self, side: Side) -> Self {
        self.first_payload = Some(side);
        self
    }

    /// Sets the capture bound per direction.
    pub fn with_byte_limit(mut self, n: usize) -> Self {
        self.byte_limit = Some(n);
        self
    }

    /// Direction `d`'s bytes: 0 the initiator's, 1 the responder's.
    #[inline]
    pub(crate) fn side(&self, d: usize) -> &'a [u8] {
        if d == 0 {
            self.c2s
        } else {
            self.s2c
        }
    }
}

impl<'a> From<&'a Flow> for FlowView<'a> {
    /// The view of a finished flow. The side that sent the first payload is
    /// known when only one side sent any; when both did, a [`Flow`] does
    /// not say which was first and `first_payload` is `None`.
    fn from(flow: &'a Flow) -> Self {
        let c2s_sent = flow.c2s.payload_bytes > 0 || !flow.c2s_payload.is_empty();
        let s2c_sent = flow.s2c.payload_bytes > 0 || !flow.s2c_payload.is_empty();
        let first_payload = match (c2s_sent, s2c_sent) {
            (true, false) => Some(Side::Initiator),
            (false, true) => Some(Side::Responder),
            _ => None,
        };
        FlowView {
            transport: flow.protocol,
            client_port: flow.client_port,
            server_port: flow.server_port,
            c2s: &flow.c2s_payload,
            s2c: &flow.s2c_payload,
            c2s_packets: flow.c2s.packets,
            s2c_packets: flow.s2c.packets,
            c2s_first_size: flow.c2s.sizes.first().copied(),
            s2c_first_size: flow.s2c.sizes.first().copied(),
            first_payload,
            byte_limit: None,
        }
    }
}
