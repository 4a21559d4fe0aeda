//! STUN messages (RFC 8489, section 5 and 14; the classic form of RFC
//! 3489 without the magic cookie is read the same way): the `REALM`,
//! `SOFTWARE` and `USERNAME` attributes.
//!
//! ```
//! use dpi_core::protocols::stun::parse_message;
//!
//! let mut m = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
//! m.extend([7u8; 12]);
//! m.extend([0x00, 0x14, 0x00, 0x07]);
//! m.extend(b"example\0");
//! let s = parse_message(&m).value.unwrap();
//! assert_eq!(s.realm.as_deref(), Some("example"));
//! ```

use super::reader::{text, Reader};
use super::{Dissector, Metadata, Parsed, TCP, UDP};
use crate::FlowView;

/// RFC 8489, section 5.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
const USERNAME: u16 = 0x0006;
const REALM: u16 = 0x0014;
const SOFTWARE: u16 = 0x8022;

/// The fields reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Message type (method and class).
    pub message_type: u16,
    /// The `USERNAME` attribute.
    pub username: Option<String>,
    /// The `REALM` attribute.
    pub realm: Option<String>,
    /// The `SOFTWARE` attribute.
    pub software: Option<String>,
}

/// Reads a STUN message: the 20-byte header, then attributes (type,
/// length, value padded to 4 bytes) up to the header's length.
pub fn parse_message(bytes: &[u8]) -> Parsed<Message> {
    let mut r = Reader::new(bytes);
    let (Some(t), Some(len)) = (r.u16(), r.u16()) else {
        return Parsed::incomplete(None);
    };
    if t & 0xc000 != 0 || len % 4 != 0 {
        return Parsed::invalid(None);
    }
    if r.skip(16).is_none() {
        return Parsed::incomplete(None);
    }
    let mut m = Message {
        message_type: t,
        ..Message::default()
    };
    let (body, cut) = match r.take(usize::from(len)) {
        Some(b) => (b, false),
        None => (r.rest(), true),
    };
    let mut a = Reader::new(body);
    while !a.is_empty() {
        let (Some(at), Some(alen)) = (a.u16(), a.u16()) else {
            return if cut {
                Parsed::incomplete(Some(m))
            } else {
                Parsed::invalid(Some(m))
            };
        };
        let Some(v) = a.take(usize::from(alen)) else {
            return if cut {
                Parsed::incomplete(Some(m))
            } else {
                Parsed::invalid(Some(m))
            };
        };
        let _ = a.skip((4 - usize::from(alen) % 4) % 4);
        let value = || text(v).map(|s| s.trim_end_matches('\0').to_string());
        match at {
            USERNAME => m.username = value(),
            REALM => m.realm = value(),
            SOFTWARE => m.software = value(),
            _ => {}
        }
    }
    if cut {
        Parsed::incomplete(Some(m))
    } else {
        Parsed::complete(m)
    }
}

/// The bytes start like a STUN message with the magic cookie.
pub fn starts_message(b: &[u8]) -> bool {
    b.len() >= 20 && b[0] & 0xc0 == 0 && b[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// The length of the whole STUN message (with the magic cookie) at the
/// start of `b`: its 20-byte header and the attributes its length field
/// announces; `None` when `b` does not start with one or cuts it short.
///
/// ```
/// use dpi_core::protocols::stun::message_len;
/// let mut m = vec![0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42];
/// m.extend([7u8; 12]);
/// m.extend([0x80, 0x22, 0x00, 0x00]);
/// assert_eq!(message_len(&m), Some(24));
/// assert_eq!(message_len(&m[..23]), None);
/// ```
pub fn message_len(b: &[u8]) -> Option<usize> {
    if !starts_message(b) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    (len % 4 == 0 && 20 + len <= b.len()).then_some(20 + len)
}

/// What follows the whole STUN messages at the start of `b` (at most
/// eight): where a flow that opens with a STUN exchange (WebRTC, RFC 8445
/// and RFC 7983) has its next protocol's bytes kept; `b` itself when it
/// does not start with one.
pub fn after_messages(b: &[u8]) -> &[u8] {
    let mut rest = b;
    for _ in 0..8 {
        match message_len(rest) {
            Some(n) => rest = &rest[n..],
            None => break,
        }
    }
    rest
}

/// Registry entry: UDP or TCP flows whose first bytes are a STUN message
/// with the magic cookie.
pub const DISSECTOR: Dissector = Dissector {
    name: "stun",
    priority: 40,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    (v.transport == UDP || v.transport == TCP) && (starts_message(v.c2s) || starts_message(v.s2c))
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    for side in [v.c2s, v.s2c] {
        if !starts_message(side) {
            continue;
        }
        if let Some(s) = parse_message(side).value {
            if m.hostname.is_none() {
                m.hostname = s.realm;
            }
            if m.stun_software.is_none() {
                m.stun_software = s.software;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    fn binding() -> Vec<u8> {
        let mut attrs = Vec::new();
        for (t, v) in [
            (USERNAME, &b"alice:bob"[..]),
            (SOFTWARE, b"libjingle"),
            (REALM, b"turn.example.org"),
        ] {
            attrs.extend(t.to_be_bytes());
            attrs.extend((v.len() as u16).to_be_bytes());
            attrs.extend(v);
            attrs.resize(attrs.len().div_ceil(4) * 4, 0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend((attrs.len() as u16).to_be_bytes());
        m.extend(MAGIC_COOKIE.to_be_bytes());
        m.extend([1u8; 12]);
        m.extend(attrs);
        m
    }

    #[test]
    fn attributes_and_truncations() {
        let full = binding();
        let p = parse_message(&full);
        assert_eq!(p.status, Status::Complete);
        let s = p.value.unwrap();
        assert_eq!(s.username.as_deref(), Some("alice:bob"));
        assert_eq!(s.software.as_deref(), Some("libjingle"));
        assert_eq!(s.realm.as_deref(), Some("turn.example.org"));
        for n in 0..full.len() {
            let p = parse_message(&full[..n]);
            assert_eq!(p.status, Status::Incomplete, "{n}");
            if let Some(r) = p.value.and_then(|m| m.realm) {
                assert_eq!(r, "turn.example.org");
            }
        }
    }
}
