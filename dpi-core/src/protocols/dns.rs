//! DNS messages (RFC 1035, section 4), as DNS, mDNS (RFC 6762), LLMNR
//! (RFC 4795) and NetBIOS name service (RFC 1002, section 4.2) carry them:
//! the first question's name and type, the response code, and the answers
//! that name something (A, AAAA, CNAME, PTR, NS).
//!
//! Compression pointers (RFC 1035, section 4.1.4) are followed at most
//! [`MAX_POINTERS`] times and only backwards, so no message can loop.
//! NetBIOS names are decoded from their first-level encoding (RFC 1001,
//! section 14.1): 32 letters `A`..`P` give 16 bytes, the last one the
//! service suffix; the name is reported in lower case without trailing
//! spaces, as nDPI prints it.
//!
//! ```
//! use dpi_core::protocols::dns::parse_message;
//!
//! let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
//! let m = parse_message(q, false).value.unwrap();
//! assert_eq!(m.query_name.as_deref(), Some("www.example.com"));
//! assert_eq!(m.query_type, Some(1));
//! assert!(!m.response);
//! ```

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::reader::Reader;
use super::{either_port, Dissector, Metadata, Parsed, TCP, UDP};
use crate::FlowView;

/// Compression pointers followed per name at most.
pub const MAX_POINTERS: usize = 16;
/// Labels per name at most, and bytes per decoded name.
const MAX_LABELS: usize = 128;
const MAX_NAME: usize = 255;
/// Answers read at most.
const MAX_ANSWERS: usize = 64;

/// The fields of one DNS message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The transaction id.
    pub id: u16,
    /// The QR bit: a response.
    pub response: bool,
    /// The response code (RCODE, 4 bits).
    pub rcode: u8,
    /// The first question's name (decoded for NetBIOS).
    pub query_name: Option<String>,
    /// The first question's type.
    pub query_type: Option<u16>,
    /// Answers that name something: addresses and names, in order.
    pub answers: Vec<String>,
}

/// The mnemonic of a record type (RFC 1035, 3596, 2782, 6891, 9460), or
/// `TYPE<n>` (RFC 3597's form) for the others.
pub fn type_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        32 => "NB",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        t => return format!("TYPE{t}"),
    };
    s.to_string()
}

/// Reads a domain name at `at` of `msg`, following compression pointers
/// backwards only. Returns the name and the position after it in the
/// original place; `Err(true)` when the message ends inside the name,
/// `Err(false)` when the name is malformed.
fn read_name(msg: &[u8], at: usize) -> Result<(Vec<u8>, usize), bool> {
    // Most names fit in 64 bytes: one allocation instead of several.
    let mut name: Vec<u8> = Vec::with_capacity(64);
    let mut pos = at;
    let mut after = None;
    let mut jumps = 0;
    let mut labels = 0;
    loop {
        let len = *msg.get(pos).ok_or(true)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((name, after.unwrap_or(pos + 1)));
                }
                let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(true)?;
                labels += 1;
                if labels > MAX_LABELS || name.len() + label.len() + 1 > MAX_NAME {
                    return Err(false);
                }
                if !name.is_empty() {
                    name.push(b'.');
                }
                name.extend_from_slice(label);
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(true)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                jumps += 1;
                if target >= pos || jumps > MAX_POINTERS {
                    return Err(false);
                }
                after.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(false),
        }
    }
}

/// The name as text: as UTF-8 when it is UTF-8 without control characters
/// or spaces (mDNS and LLMNR names are UTF-8, RFC 6762 section 16 and RFC
/// 4795 section 2.1); otherwise printable ASCII bytes kept and the others
/// written `\DDD` (RFC 1035's escape in master files).
fn name_text(name: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(name) {
        if !s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return s.to_string();
        }
    }
    let mut s = String::with_capacity(name.len());
    for &b in name {
        if (0x21..0x7f).contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\{b:03}");
        }
    }
    s
}

/// Decodes a NetBIOS first-level encoded name (32 letters `A`..`P`).
pub fn netbios_name(encoded: &[u8]) -> Option<String> {
    if encoded.len() != 32 || !encoded.iter().all(|b| (b'A'..=b'P').contains(b)) {
        return None;
    }
    let bytes: Vec<u8> = encoded
        .chunks_exact(2)
        .map(|p| ((p[0] - b'A') << 4) | (p[1] - b'A'))
        .collect();
    // The 16th byte is the service suffix; the name is space-padded.
    let name = &bytes[..15];
    let end = name
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |p| p + 1);
    let s: String = name[..end]
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b.to_ascii_lowercase())
            } else {
                '?'
            }
        })
        .collect();
    Some(s)
}

/// Reads a DNS message (without TCP's length prefix). `netbios` decodes
/// the question name as a NetBIOS name. Answers are read until the first
/// that does not parse; a message cut short is [`Status::Incomplete`](super::Status::Incomplete) with
/// what came before.
pub fn parse_message(msg: &[u8], netbios: bool) -> Parsed<Message> {
    let mut r = Reader::new(msg);
    let (Some(id), Some(flags), Some(qd), Some(an)) = (r.u16(), r.u16(), r.u16(), r.u16()) else {
        return Parsed::incomplete(None);
    };
    if r.skip(4).is_none() {
        return Parsed::incomplete(None);
    }
    let mut m = Message {
        id,
        response: flags & 0x8000 != 0,
        rcode: (flags & 0x000f) as u8,
        ..Message::default()
    };
    if (flags >> 11) & 0xf > 6 || qd > 64 {
        return Parsed::invalid(None);
    }
    let mut pos = 12;
    for i in 0..qd {
        let (name, next) = match read_name(msg, pos) {
            Ok(x) => x,
            Err(true) => return Parsed::incomplete(Some(m)),
            Err(false) => return Parsed::invalid(Some(m)),
        };
        let Some(t) = msg.get(next..next + 4) else {
            return Parsed::incomplete(Some(m));
        };
        if i == 0 {
            m.query_name = Some(if netbios {
                netbios_name(&name).unwrap_or_else(|| name_text(&name))
            } else {
                name_text(&name)
            });
            m.query_type = Some(u16::from_be_bytes([t[0], t[1]]));
        }
        pos = next + 4;
    }
    for _ in 0..an.min(MAX_ANSWERS as u16) {
        let (_, next) = match read_name(msg, pos) {
            Ok(x) => x,
            Err(true) => return Parsed::incomplete(Some(m)),
            Err(false) => return Parsed::invalid(Some(m)),
        };
        let mut rr = Reader::new(msg.get(next..).unwrap_or(&[]));
        let (Some(t), Some(_class), Some(_ttl), Some(len)) =
            (rr.u16(), rr.u16(), rr.u32(), rr.u16())
        else {
            return Parsed::incomplete(Some(m));
        };
        let data_at = next + 10;
        let Some(data) = msg.get(data_at..data_at + usize::from(len)) else {
            return Parsed::incomplete(Some(m));
        };
        match (t, data.len()) {
            (1, 4) => m
                .answers
                .push(Ipv4Addr::new(data[0], data[1], data[2], data[3]).to_string()),
            (28, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(data);
                m.answers.push(Ipv6Addr::from(a).to_string());
            }
            (2 | 5 | 12, _) => match read_name(msg, data_at) {
                Ok((n, _)) => m.answers.push(name_text(&n)),
                Err(_) => return Parsed::invalid(Some(m)),
            },
            _ => {}
        }
        pos = data_at + usize::from(len);
    }
    Parsed::complete(m)
}

/// Ports of the protocols that carry DNS messages: DNS, mDNS, LLMNR, NetBIOS name service.
const PORTS: [u16; 4] = [53, 5353, 5355, 137];

/// Registry entry: UDP or TCP flows with one of DNS's ports on either side.
pub const DISSECTOR: Dissector = Dissector {
    name: "dns",
    priority: 30,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    (v.transport == UDP || (v.transport == TCP && either_port(v, 53)))
        && PORTS.iter().any(|&p| either_port(v, p))
        && (v.c2s.len() >= 12 || v.s2c.len() >= 12)
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    let netbios = either_port(v, 137);
    let strip = |b: &'_ [u8]| -> Vec<u8> {
        if v.transport == TCP {
            b.get(2..).unwrap_or(&[]).to_vec()
        } else {
            b.to_vec()
        }
    };
    let (c2s, s2c) = (strip(v.c2s), strip(v.s2c));
    let q = parse_message(&c2s, netbios).value;
    let r = parse_message(&s2c, netbios).value;
    // The question from the initiator's message, else from the answer.
    let question = q.as_ref().filter(|q| q.query_name.is_some()).or(r.as_ref());
    if let Some(q) = question {
        m.hostname = q.query_name.clone().filter(|n| !n.is_empty());
        m.dns_query_type = q.query_type.map(type_name);
        if netbios && m.hostname.is_some() {
            // A NetBIOS name is not a server's domain name: application
            // rules leave it alone (see `Metadata::server_name`).
            m.dissector = Some("netbios");
        }
    }
    // The response: the responder's message, else the initiator's when it
    // is one (a capture that starts with the answer).
    let response = r
        .as_ref()
        .filter(|r| r.response)
        .or(q.as_ref().filter(|q| q.response));
    if let Some(resp) = response {
        m.dns_rcode = Some(resp.rcode);
        if !resp.answers.is_empty() {
            m.dns_answers = Some(resp.answers.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    /// A response for www.example.com: a CNAME through a pointer, then an
    /// A and an AAAA record for the target.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // CNAME www.example.com -> cdn.example.com (pointer to "example.com" at 16).
        m.extend([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend(b"\x03cdn\xc0\x10");
        let cdn = 12 + 21 + 12;
        m.extend([
            0xc0, cdn as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34,
        ]);
        m.extend([0xc0, cdn as u8, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m
    }

    #[test]
    fn answers_with_compression() {
        let p = parse_message(&response(), false);
        assert_eq!(p.status, Status::Complete);
        let m = p.value.unwrap();
        assert!(m.response);
        assert_eq!(m.query_name.as_deref(), Some("www.example.com"));
        assert_eq!(
            m.answers,
            ["cdn.example.com", "93.184.216.34", "2001:db8::1"]
        );
    }

    #[test]
    fn truncations_give_a_prefix() {
        let full = parse_message(&response(), false).value.unwrap();
        let bytes = response();
        for n in 0..bytes.len() {
            let p = parse_message(&bytes[..n], false);
            assert_eq!(p.status, Status::Incomplete, "{n}");
            if let Some(m) = p.value {
                assert!(full.answers.starts_with(&m.answers));
                if let Some(q) = m.query_name {
                    assert_eq!(Some(q), full.query_name);
                }
            }
        }
    }

    #[test]
    fn pointer_loops_are_refused() {
        // A question name that points at itself, and one that points forward.
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(parse_message(&m, false).status, Status::Invalid);
        m[13] = 40;
        assert_eq!(parse_message(&m, false).status, Status::Invalid);
        // A chain of backward pointers longer than the limit.
        let mut chain = vec![0u8; 12];
        chain.extend([1, b'a', 0]);
        let mut prev = 12;
        for _ in 0..40 {
            let here = chain.len();
            chain.extend([0xc0, prev as u8]);
            prev = here;
        }
        assert_eq!(read_name(&chain, prev), Err(false));
        assert_eq!(read_name(&chain, 17).unwrap().0, b"a");
    }

    #[test]
    fn netbios_names() {
        // "FHEPFCELEHFCEPFFFACACACACACACAAA" is WORKGROUP<00>.
        assert_eq!(
            netbios_name(b"FHEPFCELEHFCEPFFFACACACACACACAAA").as_deref(),
            Some("workgroup")
        );
        assert_eq!(
            netbios_name(b"CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").as_deref(),
            Some("*")
        );
        assert_eq!(netbios_name(b"ABC"), None);
    }

    #[test]
    fn netbios_names_are_not_server_names() {
        // A NetBIOS name query for WORKGROUP<00> on port 137.
        let mut q = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20];
        q.extend(b"FHEPFCELEHFCEPFFFACACACACACACAAA\x00\x00\x20\x00\x01");
        let v = FlowView::new(UDP, 137).with_client_port(137).with_c2s(&q);
        let m = v.metadata();
        assert_eq!(m.hostname.as_deref(), Some("workgroup"));
        assert_eq!(m.dissector, Some("netbios"));
        assert_eq!(m.server_name(), None);
    }

    #[test]
    fn dissector_on_a_flow() {
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
        let v = FlowView::new(17, 53).with_c2s(q).with_s2c(&[]);
        let r = response();
        let v = v.with_s2c(&r);
        let m = super::super::extract(&v);
        assert_eq!(m.hostname.as_deref(), Some("www.example.com"));
        assert_eq!(m.dns_query_type.as_deref(), Some("A"));
        assert_eq!(m.dns_rcode, Some(0));
        assert_eq!(m.dns_answers.unwrap().len(), 3);
    }
}
