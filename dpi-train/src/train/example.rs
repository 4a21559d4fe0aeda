//! Training examples: our flows with the reference's verdict.

use dpi_core::signature::Side;
use serde::{Deserialize, Serialize};

use super::hash::hash_fields;
use crate::align::{named, AlignedFlow, RefLabel};
use crate::labels::Tool;
use crate::record::{transport_number, FlowRecord};

/// What the reference says about a flow, as training sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "protocol", rename_all = "lowercase")]
pub enum Class {
    /// The reference names this master protocol with confidence: nDPI by
    /// DPI (`DPI`, `DPI (cache)`, ...), libprotoident and argus whenever
    /// they name one. A positive example of the protocol.
    Labelled(String),
    /// The reference names this protocol, but weakly (nDPI by port or by
    /// IP), or two references disagree (the first one's name is kept).
    /// Neither for nor against this protocol; against any other.
    Weak(String),
    /// The reference names nothing. Against every protocol.
    Unlabelled,
}

impl Class {
    /// The protocol of a labelled or weak example.
    pub fn protocol(&self) -> Option<&str> {
        match self {
            Class::Labelled(p) | Class::Weak(p) => Some(p),
            Class::Unlabelled => None,
        }
    }

    /// The class of a flow from its aligned labels (one per tool in
    /// `tools`, in order).
    ///
    /// The first tool decides. nDPI counts as labelled only when its
    /// confidence starts with `DPI`; a name given otherwise (by port, by
    /// IP) is [`Class::Weak`]. A second tool adds evidence where the first
    /// is silent and doubt where they disagree: when the first names
    /// nothing and the second names a protocol, the example is weak for
    /// that protocol; when the first names a protocol with confidence and
    /// the second a different one, it is weak for the first one's (a
    /// disagreement is not evidence); when the second names nothing, the
    /// first one's verdict stands. Further tools are ignored.
    ///
    /// `None` when the first tool has no record of the flow at all (it
    /// never saw it as a flow: another split, a fragment it dropped) and
    /// the second names nothing: such a flow is evidence neither way.
    pub fn of(labels: &[Option<RefLabel>], tools: &[Tool]) -> Option<Class> {
        let second = labels
            .get(1)
            .and_then(Option::as_ref)
            .and_then(|l| named(l.master.as_deref()));
        let first = labels.first().and_then(Option::as_ref);
        let Some(master) = first.and_then(RefLabel::named_master) else {
            return match (second, first) {
                (Some(p), _) => Some(Class::Weak(p.to_owned())),
                (None, Some(_)) => Some(Class::Unlabelled),
                (None, None) => None,
            };
        };
        let l = first.expect("named above");
        let strong = match tools.first() {
            Some(Tool::Ndpi) => l
                .confidence
                .as_deref()
                .is_some_and(|c| c.starts_with("DPI")),
            _ => true,
        };
        if !strong {
            return Some(Class::Weak(master.to_owned()));
        }
        if let Some(other) = second {
            if other != master {
                return Some(Class::Weak(master.to_owned()));
            }
        }
        Some(Class::Labelled(master.to_owned()))
    }
}

impl Class {
    /// The class a flow is mined as: a TCP session the reference names by
    /// its in-session upgrade (`SMTPS` after `STARTTLS`, `POPS` after
    /// `STLS`, ...) counts for the plain-text protocol it began as, since
    /// the classifier names the upgrade itself from the session's bytes
    /// whatever rule named the plain protocol
    /// ([`dpi_core::expect::starttls`]): a rule for SMTP that matches such
    /// a session is right. A session of the upgraded name with no upgrade
    /// in its bytes (SMTPS on port 465, TLS from the start) keeps it.
    pub fn before_upgrade(self, e: &Example) -> Class {
        let upgraded = |p: &str| {
            if e.transport != 6 || !matches!(p, "SMTPS" | "IMAPS" | "POPS" | "FTPS") {
                return None;
            }
            dpi_core::expect::starttls::upgrade(&e.c2s, &e.s2c)
                .filter(|u| u.protocol == p)
                .map(|u| u.from.to_owned())
        };
        match self {
            Class::Labelled(p) => Class::Labelled(upgraded(&p).unwrap_or(p)),
            Class::Weak(p) => Class::Weak(upgraded(&p).unwrap_or(p)),
            Class::Unlabelled => Class::Unlabelled,
        }
    }
}

/// One flow as training uses it: what a signature can look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Stable hash of what a signature can look at (see [`content_hash`]):
    /// flows that look the same to every signature have the same hash and
    /// are one example of the bottom-k samples, with a count per fold.
    pub hash: u64,
    /// The capture's file name (of several with the same content: the
    /// smallest name).
    pub capture: String,
    /// IP protocol number.
    pub transport: u8,
    /// The initiator's port (not part of the content: of several flows
    /// with the same content, the one of the kept example).
    pub client_port: u16,
    /// The responder's port.
    pub server_port: u16,
    /// The initiator's first bytes, as lower-case hex.
    #[serde(with = "hex_bytes")]
    pub c2s: Vec<u8>,
    /// The responder's first bytes, as lower-case hex.
    #[serde(with = "hex_bytes")]
    pub s2c: Vec<u8>,
    /// Size of the initiator's first payload packet.
    pub c2s_first_size: Option<u32>,
    /// Size of the responder's first payload packet.
    pub s2c_first_size: Option<u32>,
    /// The side that sent the first payload, when known (only one side sent any).
    pub first_payload: Option<Side>,
    /// Packets sent by the initiator.
    pub c2s_packets: u64,
    /// Packets sent by the responder.
    pub s2c_packets: u64,
}

impl Example {
    /// The example of one of our flows, with or without user data (a flow
    /// without any still tells the transport and port tiers something);
    /// `None` when its fields do not parse.
    pub fn from_record(capture: &str, f: &FlowRecord) -> Option<Example> {
        let transport = transport_number(&f.transport)?;
        let c2s = unhex(&f.c2s_payload)?;
        let s2c = unhex(&f.s2c_payload)?;
        let c2s_sent = !c2s.is_empty() || !f.c2s_sizes.is_empty();
        let s2c_sent = !s2c.is_empty() || !f.s2c_sizes.is_empty();
        let first_payload = match (c2s_sent, s2c_sent) {
            (true, false) => Some(Side::Initiator),
            (false, true) => Some(Side::Responder),
            _ => None,
        };
        let c2s_first_size = f.c2s_sizes.first().copied();
        let s2c_first_size = f.s2c_sizes.first().copied();
        let hash = content_hash(
            transport,
            f.dst_port,
            &c2s,
            &s2c,
            [c2s_first_size, s2c_first_size],
            first_payload,
            [f.c2s_packets, f.s2c_packets],
        );
        Some(Example {
            hash,
            capture: capture.to_owned(),
            transport,
            client_port: f.src_port,
            server_port: f.dst_port,
            c2s,
            s2c,
            c2s_first_size,
            s2c_first_size,
            first_payload,
            c2s_packets: f.c2s_packets,
            s2c_packets: f.s2c_packets,
        })
    }

    /// The example of a flow in which only the initiator sent user data,
    /// `c2s`, in one packet (hash as [`Example::from_record`] computes it).
    ///
    /// ```
    /// use dpi_train::train::Example;
    /// let a = Example::initiator_only("a.pcap", 17, 40000, 53, b"\x12\x34".to_vec());
    /// let b = Example::initiator_only("b.pcap", 17, 41000, 53, b"\x12\x34".to_vec());
    /// assert_eq!(a.hash, b.hash); // same content, other capture and client port
    /// ```
    pub fn initiator_only(
        capture: &str,
        transport: u8,
        client_port: u16,
        server_port: u16,
        c2s: Vec<u8>,
    ) -> Example {
        let size = Some(c2s.len() as u32);
        let first = Some(Side::Initiator);
        Example {
            hash: content_hash(
                transport,
                server_port,
                &c2s,
                &[],
                [size, None],
                first,
                [1, 0],
            ),
            capture: capture.to_owned(),
            transport,
            client_port,
            server_port,
            c2s,
            s2c: Vec::new(),
            c2s_first_size: size,
            s2c_first_size: None,
            first_payload: first,
            c2s_packets: 1,
            s2c_packets: 0,
        }
    }

    /// [`content_hash`] of this example's fields (what `hash` must be).
    pub fn content_hash(&self) -> u64 {
        content_hash(
            self.transport,
            self.server_port,
            &self.c2s,
            &self.s2c,
            [self.c2s_first_size, self.s2c_first_size],
            self.first_payload,
            [self.c2s_packets, self.s2c_packets],
        )
    }

    /// The example of an aligned flow with its class; `None` when the
    /// references say nothing of it (see [`Class::of`]).
    pub fn from_aligned(f: &AlignedFlow, tools: &[Tool]) -> Option<(Example, Class)> {
        let c = Class::of(&f.labels, tools)?;
        let e = Example::from_record(&f.capture, &f.flow)?;
        Some((e, c))
    }

    /// The bytes of direction `d` (0 initiator, 1 responder).
    pub fn payload(&self, d: usize) -> &[u8] {
        if d == 0 {
            &self.c2s
        } else {
            &self.s2c
        }
    }

    /// The first payload size of direction `d`.
    pub fn first_size(&self, d: usize) -> Option<u32> {
        if d == 0 {
            self.c2s_first_size
        } else {
            self.s2c_first_size
        }
    }
}

/// The hash of everything [`super::score::matches`] can look at: transport,
/// server port, the user data of both directions, first payload sizes,
/// the side of the first payload and the packet counts. Neither the
/// capture, nor the client port, nor the time is part of it.
pub fn content_hash(
    transport: u8,
    server_port: u16,
    c2s: &[u8],
    s2c: &[u8],
    first_sizes: [Option<u32>; 2],
    first_payload: Option<Side>,
    packets: [u64; 2],
) -> u64 {
    let size = |s: Option<u32>| -> [u8; 5] {
        let v = s.unwrap_or(0).to_le_bytes();
        [u8::from(s.is_some()), v[0], v[1], v[2], v[3]]
    };
    let side = match first_payload {
        None => 0u8,
        Some(Side::Initiator) => 1,
        Some(Side::Responder) => 2,
    };
    hash_fields(&[
        &[transport],
        &server_port.to_le_bytes(),
        c2s,
        s2c,
        &size(first_sizes[0]),
        &size(first_sizes[1]),
        &[side],
        &packets[0].to_le_bytes(),
        &packets[1].to_le_bytes(),
    ])
}

/// Bytes of lower-case (or upper-case) hex; `None` when not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::record::hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::unhex(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an even number of hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP session with both directions' first bytes.
    fn session(port: u16, c2s: &[u8], s2c: &[u8]) -> Example {
        let mut e = Example::initiator_only("a.pcap", 6, 40000, port, c2s.to_vec());
        e.s2c = s2c.to_vec();
        e.s2c_first_size = Some(s2c.len() as u32);
        e.hash = e.content_hash();
        e
    }

    const HELLO: &[u8] = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";

    #[test]
    fn upgraded_sessions_are_mined_as_what_they_began_as() {
        let starttls = session(
            25,
            &[b"EHLO x\r\nSTARTTLS\r\n".as_slice(), HELLO].concat(),
            b"220 mx ESMTP\r\n250 ok\r\n220 go\r\n",
        );
        let smtps = |c: fn(String) -> Class| c("SMTPS".into());
        assert_eq!(
            smtps(Class::Labelled).before_upgrade(&starttls),
            Class::Labelled("SMTP".into())
        );
        assert_eq!(
            smtps(Class::Weak).before_upgrade(&starttls),
            Class::Weak("SMTP".into())
        );
        let stls = session(
            110,
            &[b"CAPA\r\nSTLS\r\n".as_slice(), HELLO].concat(),
            b"+OK ready\r\n",
        );
        assert_eq!(
            Class::Labelled("POPS".into()).before_upgrade(&stls),
            Class::Labelled("POP3".into())
        );
    }

    #[test]
    fn other_sessions_keep_their_class() {
        // TLS from the first byte (port 465): no upgrade in the bytes.
        let implicit = session(465, HELLO, b"\x16\x03\x03\x00\x02\x02\x00");
        let c = Class::Labelled("SMTPS".into());
        assert_eq!(c.clone().before_upgrade(&implicit), c);
        // An upgrade to another protocol than the label's.
        let starttls = session(
            25,
            &[b"EHLO x\r\nSTARTTLS\r\n".as_slice(), HELLO].concat(),
            b"220 mx\r\n",
        );
        let imaps = Class::Labelled("IMAPS".into());
        assert_eq!(imaps.clone().before_upgrade(&starttls), imaps);
        // Plain labels, unlabelled flows and UDP flows.
        let smtp = Class::Labelled("SMTP".into());
        assert_eq!(smtp.clone().before_upgrade(&starttls), smtp);
        assert_eq!(
            Class::Unlabelled.before_upgrade(&starttls),
            Class::Unlabelled
        );
        let mut udp = starttls.clone();
        udp.transport = 17;
        let smtps = Class::Labelled("SMTPS".into());
        assert_eq!(smtps.clone().before_upgrade(&udp), smtps);
    }
}
