//! SIP requests (RFC 3261, sections 7.1, 20.20 and 20.39): the request
//! URI, and the hosts of the `From` and `To` URIs (compact forms `f:` and
//! `t:` too).
//!
//! ```
//! use dpi_core::protocols::sip::parse_request;
//!
//! let r = parse_request(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1\r\nTo: <sip:bob@biloxi.example.com>\r\n\r\n")
//!     .value.unwrap();
//! assert_eq!(r.request_uri, "sip:bob@biloxi.example.com");
//! assert_eq!(r.from_host.as_deref(), Some("atlanta.example.com"));
//! assert_eq!(r.to_host.as_deref(), Some("biloxi.example.com"));
//! ```

use super::reader::line_text;
use super::{Dissector, Metadata, Parsed, Status, TCP, UDP};
use crate::FlowView;

/// The fields reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The request URI.
    pub request_uri: String,
    /// The host of the `From` URI.
    pub from_host: Option<String>,
    /// The host of the `To` URI.
    pub to_host: Option<String>,
}

/// The methods of RFC 3261 and its common extensions.
const METHODS: &[&[u8]] = &[
    b"INVITE ",
    b"REGISTER ",
    b"OPTIONS ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"MESSAGE ",
    b"INFO ",
    b"PRACK ",
    b"UPDATE ",
    b"REFER ",
    b"PUBLISH ",
];

/// The host part of a SIP URI inside a header value: after `sip:` or
/// `sips:` and the user part, up to a port, parameter, header or bracket.
pub fn uri_host(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let start = lower
        .find("sips:")
        .map(|p| p + 5)
        .or_else(|| lower.find("sip:").map(|p| p + 4))?;
    let uri = &value[start..];
    let end = uri.find(['>', ';', '?', ' ', ',']).unwrap_or(uri.len());
    let uri = &uri[..end];
    let host = uri.rsplit_once('@').map_or(uri, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// Reads a SIP request: the request line and the complete header lines
/// before the bytes end or the blank line.
pub fn parse_request(bytes: &[u8]) -> Parsed<Request> {
    if !METHODS.iter().any(|m| bytes.starts_with(m)) {
        return Parsed::invalid(None);
    }
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let complete_first = bytes.len() > first.len();
    let line = line_text(first);
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), version) = (parts.next(), parts.next(), parts.next()) else {
        return Parsed::incomplete(None);
    };
    if complete_first && version != Some("SIP/2.0") {
        return Parsed::invalid(None);
    }
    if !complete_first {
        return Parsed::incomplete(None);
    }
    let mut r = Request {
        method: method.to_string(),
        request_uri: uri.to_string(),
        ..Request::default()
    };
    let mut consumed = first.len() + 1;
    let mut status = Status::Incomplete;
    for l in lines {
        let whole = consumed + l.len() < bytes.len();
        if !whole {
            break;
        }
        consumed += l.len() + 1;
        let text = line_text(l);
        if text.is_empty() {
            status = Status::Complete;
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("from") || name == "f" {
            r.from_host = uri_host(value);
        } else if name.eq_ignore_ascii_case("to") || name == "t" {
            r.to_host = uri_host(value);
        }
    }
    Parsed {
        value: Some(r),
        status,
    }
}

/// Registry entry: TCP or UDP flows whose initiator starts with a SIP method.
pub const DISSECTOR: Dissector = Dissector {
    name: "sip",
    priority: 30,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    (v.transport == UDP || v.transport == TCP) && METHODS.iter().any(|m| v.c2s.starts_with(m))
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    if let Some(r) = parse_request(v.c2s).value {
        m.sip_request_uri = Some(r.request_uri);
        m.sip_from = r.from_host;
        m.sip_to = r.to_host;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"REGISTER sip:registrar.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060\r\nf: <sip:alice@example.com:5060>;tag=a\r\nt: sip:alice@[2001:db8::1]\r\n\r\n";

    #[test]
    fn headers_and_truncations() {
        let p = parse_request(REQ);
        assert_eq!(p.status, Status::Complete);
        let r = p.value.unwrap();
        assert_eq!(r.method, "REGISTER");
        assert_eq!(r.from_host.as_deref(), Some("example.com"));
        assert_eq!(r.to_host.as_deref(), Some("2001:db8::1"));
        for n in 0..REQ.len() {
            let p = parse_request(&REQ[..n]);
            assert_ne!(p.status, Status::Complete, "{n}");
            if let Some(cut) = p.value {
                assert_eq!(cut.request_uri, r.request_uri);
                assert!(cut.from_host.is_none() || cut.from_host == r.from_host);
                assert!(cut.to_host.is_none() || cut.to_host == r.to_host);
            }
        }
    }
}
