//! [`FlowView`]: what the classifier looks at. Its own module, below both
//! `classify/` (which decides from it) and `matcher/` (which runs the
//! signatures over it), so that neither imports the other for it.

use crate::signature::Side;
use crate::{Flow, Timestamp};

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
    /// The initiator's bytes are complete: no more will be added to
    /// `c2s` (a datagram direction keeps its first datagram only), which,
    /// like [`byte_limit`](Self::byte_limit), lets
    /// [`Classifier::decide`](crate::Classifier::decide) settle sooner.
    pub c2s_complete: bool,
    /// The responder's bytes are complete.
    pub s2c_complete: bool,
    /// What other flows said about this one ([`Flow::cross`]): an
    /// announcing flow's expectation names the protocol, a DNS answer's
    /// name feeds the application rules (see the
    /// [classifier's docs](crate::classify#other-flows)).
    pub cross: Option<&'a crate::expect::CrossFlow>,
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
            c2s_complete: false,
            s2c_complete: false,
            cross: None,
        }
    }

    /// Sets what other flows said about this one.
    pub fn with_cross(mut self, cross: &'a crate::expect::CrossFlow) -> Self {
        self.cross = Some(cross);
        self
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

    /// Says which directions' bytes are complete (no more will come).
    pub fn with_complete(mut self, c2s: bool, s2c: bool) -> Self {
        self.c2s_complete = c2s;
        self.s2c_complete = s2c;
        self
    }

    /// The same view with at most `n` bytes per direction: what the
    /// classifier is given when a flow kept a handshake longer than the
    /// bytes it classifies on.
    ///
    /// ```
    /// use dpi_core::FlowView;
    ///
    /// let v = FlowView::new(6, 80).with_c2s(b"GET / HTTP/1.1").first_bytes(3);
    /// assert_eq!(v.c2s, b"GET");
    /// ```
    pub fn first_bytes(mut self, n: usize) -> Self {
        self.c2s = &self.c2s[..self.c2s.len().min(n)];
        self.s2c = &self.s2c[..self.s2c.len().min(n)];
        self
    }

    /// The same flow seen from the other side: the responder's port,
    /// bytes, packets, first size and completeness as the initiator's, and
    /// the other way round. What the classifier tries on a flow whose
    /// first packet came from its server.
    ///
    /// ```
    /// use dpi_core::FlowView;
    ///
    /// let v = FlowView::new(6, 51000).with_client_port(80).with_c2s(b"HTTP/1.1 200 OK");
    /// let s = v.swapped();
    /// assert_eq!((s.client_port, s.server_port), (51000, 80));
    /// assert_eq!(s.s2c, b"HTTP/1.1 200 OK");
    /// assert_eq!(s.swapped(), v);
    /// ```
    pub fn swapped(self) -> Self {
        FlowView {
            client_port: self.server_port,
            server_port: self.client_port,
            c2s: self.s2c,
            s2c: self.c2s,
            c2s_packets: self.s2c_packets,
            s2c_packets: self.c2s_packets,
            c2s_first_size: self.s2c_first_size,
            s2c_first_size: self.c2s_first_size,
            first_payload: self.first_payload.map(|side| match side {
                Side::Initiator => Side::Responder,
                Side::Responder => Side::Initiator,
            }),
            c2s_complete: self.s2c_complete,
            s2c_complete: self.c2s_complete,
            ..self
        }
    }

    /// The protocol fields of the flow: every dissector of the
    /// [registry](crate::protocols) that applies, merged (see
    /// [`protocols::extract`](crate::protocols::extract)).
    pub fn metadata(&self) -> crate::Metadata {
        crate::protocols::extract(self)
    }

    /// Whether direction `d`'s bytes are complete (0 the initiator's).
    #[inline]
    pub(crate) fn side_complete(&self, d: usize) -> bool {
        if d == 0 {
            self.c2s_complete
        } else {
            self.s2c_complete
        }
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

/// The side whose first payload came first, from each side's first
/// payload time (the initiator on a tie).
pub(crate) fn first_payload_side(c2s: Option<Timestamp>, s2c: Option<Timestamp>) -> Option<Side> {
    match (c2s, s2c) {
        (Some(c), Some(s)) if s < c => Some(Side::Responder),
        (Some(_), _) => Some(Side::Initiator),
        (None, Some(_)) => Some(Side::Responder),
        (None, None) => None,
    }
}

impl<'a> From<&'a Flow> for FlowView<'a> {
    /// The view of a finished flow. The side that sent the first payload is
    /// the one whose first payload-carrying packet came first (the
    /// initiator on a tie).
    fn from(flow: &'a Flow) -> Self {
        let first_payload =
            first_payload_side(flow.c2s.first_payload_ts, flow.s2c.first_payload_ts);
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
            c2s_complete: false,
            s2c_complete: false,
            cross: flow.cross.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tcp_ipv4_frame;
    use crate::{FlowConfig, FlowMeter, LinkType, TcpInfo, Timestamp};

    /// A TCP session where `first` speaks first after the handshake.
    fn session(server_first: bool) -> Flow {
        let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut frames = vec![
            tcp_ipv4_frame(c, 40000, s, 25, 100, 0, TcpInfo::SYN, b""),
            tcp_ipv4_frame(s, 25, c, 40000, 500, 101, TcpInfo::SYN | TcpInfo::ACK, b""),
            tcp_ipv4_frame(c, 40000, s, 25, 101, 501, TcpInfo::ACK, b""),
        ];
        let banner = tcp_ipv4_frame(s, 25, c, 40000, 501, 101, TcpInfo::ACK, b"220 mx\r\n");
        let hello = tcp_ipv4_frame(c, 40000, s, 25, 101, 509, TcpInfo::ACK, b"EHLO a\r\n");
        if server_first {
            frames.extend([banner, hello]);
        } else {
            frames.extend([hello, banner]);
        }
        let mut meter = FlowMeter::new(FlowConfig::default());
        let mut flows = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let ts = Timestamp::from_micros(i as u64 * 1000);
            meter.push_frame(LinkType::ETHERNET, ts, f, f.len() as u32, &mut |fl| {
                flows.push(fl)
            });
        }
        meter.flush(&mut |fl| flows.push(fl));
        assert_eq!(flows.len(), 1);
        flows.pop().unwrap()
    }

    #[test]
    fn first_payload_side_follows_time_when_both_sides_speak() {
        assert_eq!(
            FlowView::from(&session(true)).first_payload,
            Some(Side::Responder)
        );
        assert_eq!(
            FlowView::from(&session(false)).first_payload,
            Some(Side::Initiator)
        );
    }
}
