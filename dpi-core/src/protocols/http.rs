//! HTTP/1.x requests and responses (RFC 9112), read with `httparse`; also
//! SSDP and other HTTP-shaped text over UDP.
//!
//! A message cut by the capture limit still gives every header line that
//! was complete before the cut: the bytes up to the last line end are read
//! as if the header block ended there.
//!
//! Lines must end in CRLF, as RFC 9112 (section 2.2) requires of senders: a
//! head with a bare LF gives no fields. The RFC lets a recipient accept a
//! bare LF, and some servers do; we do not, as nDPI does not (its line
//! reader splits on CRLF alone), and as strict proxies do not (a bare LF
//! is a known request-smuggling vector). Browsers and HTTP libraries always
//! send CRLF; bare-LF requests come from hand-made tests and scanners.
//!
//! ```
//! use dpi_core::protocols::http::parse_request;
//! use dpi_core::protocols::Status;
//!
//! let p = parse_request(b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAcc");
//! assert_eq!(p.status, Status::Incomplete);
//! let req = p.value.unwrap();
//! assert_eq!(req.host.as_deref(), Some("example.com"));
//! assert_eq!(req.user_agent.as_deref(), Some("curl/8.0"));
//! ```

use super::reader::line_text;
use super::{Dissector, Metadata, Parsed, TCP, UDP};
use crate::FlowView;

/// Header lines read per message at most.
const MAX_HEADERS: usize = 96;

/// The request fields reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method (`GET`, `POST`, `M-SEARCH`, ...).
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// The response fields reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Server` header.
    pub server: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
}

/// Parses a head (start line and headers) with the header slots given:
/// `Ok(None)` when the head is incomplete, `Err` when it is malformed.
type HeadParser<T> = for<'b> fn(&'b [u8], &mut [httparse::Header<'b>]) -> Result<Option<T>, ()>;

/// Runs `parse` over `bytes`; when the header block is cut short, again
/// over the complete lines with an end of headers added.
fn with_cut<T>(bytes: &[u8], parse: HeadParser<T>) -> Parsed<T> {
    if has_bare_lf(bytes) {
        return Parsed::invalid(None);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match parse(bytes, &mut headers) {
        Ok(Some(v)) => return Parsed::complete(v),
        Ok(None) => {}
        Err(()) => return Parsed::invalid(None),
    }
    // Incomplete: keep the complete lines.
    let Some(last) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Parsed::incomplete(None);
    };
    let mut cut = bytes[..=last].to_vec();
    cut.extend_from_slice(b"\r\n");
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match parse(&cut, &mut headers) {
        Ok(Some(v)) => Parsed::incomplete(Some(v)),
        _ => Parsed::incomplete(None),
    }
}

/// Whether the head (the bytes before the first CRLF CRLF, or all of
/// them) holds a line feed that no carriage return precedes.
fn has_bare_lf(bytes: &[u8]) -> bool {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |p| p + 4);
    bytes[..end]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
}

fn header(headers: &[httparse::Header<'_>], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| line_text(h.value).trim().to_string())
}

/// Reads a request: the request line and the headers before the first
/// empty line. [`Status::Incomplete`](super::Status::Incomplete) keeps what the complete lines held.
pub fn parse_request(bytes: &[u8]) -> Parsed<Request> {
    with_cut(bytes, request_head)
}

fn request_head<'b>(
    b: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<Option<Request>, ()> {
    {
        let mut req = httparse::Request::new(headers);
        match req.parse(b) {
            Ok(httparse::Status::Complete(_)) => Ok(Some(Request {
                method: req.method.unwrap_or_default().to_string(),
                target: req.path.unwrap_or_default().to_string(),
                host: header(req.headers, "host"),
                user_agent: header(req.headers, "user-agent"),
            })),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(_) => Err(()),
        }
    }
}

/// Reads a response: the status line and the headers.
pub fn parse_response(bytes: &[u8]) -> Parsed<Response> {
    with_cut(bytes, response_head)
}

fn response_head<'b>(
    b: &'b [u8],
    headers: &mut [httparse::Header<'b>],
) -> Result<Option<Response>, ()> {
    {
        let mut resp = httparse::Response::new(headers);
        match resp.parse(b) {
            Ok(httparse::Status::Complete(_)) => Ok(Some(Response {
                status: resp.code.unwrap_or(0),
                server: header(resp.headers, "server"),
                content_type: header(resp.headers, "content-type"),
            })),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(_) => Err(()),
        }
    }
}

/// The request methods recognised at the start of a flow (RFC 9110
/// section 9, WebDAV, SSDP, the IN and OUT channels of RPC over HTTP
/// ([MS-RPCH] section 2.1.2.1) and a few more that real traffic carries).
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"REPORT ",
    b"SEARCH ",
    b"M-SEARCH ",
    b"NOTIFY ",
    b"SUBSCRIBE ",
    b"UNSUBSCRIBE ",
    b"RPC_IN_DATA ",
    b"RPC_OUT_DATA ",
];

/// The bytes start with an HTTP request method and a space.
pub fn starts_request(b: &[u8]) -> bool {
    METHODS.iter().any(|m| b.starts_with(m))
}

/// The bytes start with an HTTP status line.
pub fn starts_response(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.")
}

/// Registry entry: TCP or UDP flows whose first bytes are an HTTP request
/// or response.
pub const DISSECTOR: Dissector = Dissector {
    name: "http",
    priority: 20,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    (v.transport == TCP || v.transport == UDP)
        && (starts_request(v.c2s) || starts_response(v.s2c) || starts_response(v.c2s))
}

/// The host of a `Host` header value without its port (`[v6]:port` keeps
/// the address inside the brackets), as nDPI reports HTTP host names.
pub fn host_without_port(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    if starts_request(v.c2s) {
        if let Some(req) = parse_request(v.c2s).value {
            // Over TCP the port is dropped; SSDP and other HTTP-shaped
            // text over UDP keep the header as sent, as nDPI prints them.
            m.hostname = match (req.host, v.transport) {
                (Some(h), TCP) => Some(host_without_port(&h).to_string()),
                (h, _) => h,
            };
            m.http_user_agent = req.user_agent;
            m.http_method = Some(req.method);
            m.http_url = Some(req.target);
        }
    }
    let resp = if starts_response(v.s2c) {
        v.s2c
    } else if starts_response(v.c2s) {
        v.c2s
    } else {
        return;
    };
    if let Some(r) = parse_response(resp).value {
        m.http_status = Some(r.status);
        m.http_server = r.server;
        m.http_content_type = r.content_type;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    const REQ: &[u8] =
        b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\n\r\nbody";

    #[test]
    fn request_fields() {
        let p = parse_request(REQ);
        assert_eq!(p.status, Status::Complete);
        let r = p.value.unwrap();
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("GET", "/index.html?q=1")
        );
        assert_eq!(r.host.as_deref(), Some("www.example.com"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
    }

    #[test]
    fn every_cut_keeps_complete_lines() {
        let end = REQ.len() - 4;
        let host_line_end = REQ.windows(2).position(|w| w == b"m\r").unwrap() + 3;
        for n in 0..end {
            let p = parse_request(&REQ[..n]);
            assert_eq!(p.status, Status::Incomplete, "cut at {n}");
            let host = p.value.and_then(|r| r.host);
            if n >= host_line_end {
                assert_eq!(host.as_deref(), Some("www.example.com"), "cut at {n}");
            } else {
                assert_eq!(host, None, "cut at {n}");
            }
        }
    }

    #[test]
    fn response_fields() {
        let p = parse_response(
            b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        );
        let r = p.value.unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.server.as_deref(), Some("nginx"));
        assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
    }

    #[test]
    fn rpc_over_http_channels() {
        let v = FlowView::new(6, 80).with_c2s(
            b"RPC_IN_DATA /rpc/rpcproxy.dll?mail.example.org:6001 HTTP/1.1\r\nHost: mail.example.org\r\nContent-Length: 1073741824\r\n\r\n",
        );
        let m = super::super::extract(&v);
        assert_eq!(m.hostname.as_deref(), Some("mail.example.org"));
        assert_eq!(m.http_method.as_deref(), Some("RPC_IN_DATA"));
    }

    #[test]
    fn ssdp_over_udp() {
        let v = FlowView::new(17, 1900).with_c2s(
            b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n\r\n",
        );
        let m = super::super::extract(&v);
        assert_eq!(m.hostname.as_deref(), Some("239.255.255.250:1900"));
        assert_eq!(m.http_method.as_deref(), Some("M-SEARCH"));
    }

    #[test]
    fn ports_are_dropped_over_tcp() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("[2001:db8::1]:80"), "2001:db8::1");
        assert_eq!(host_without_port("2001:db8::1"), "2001:db8::1");
        assert_eq!(host_without_port("example.com"), "example.com");
        let v = FlowView::new(6, 8080).with_c2s(b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
        assert_eq!(
            super::super::extract(&v).hostname.as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn garbage_is_invalid() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\nHost: example.com\n\n").status,
            Status::Invalid
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: example.com\nX: y\r\n\r\n").value,
            None
        );
        // A bare LF in the body is the body's business.
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nHost: example.com\r\n\r\na\nb")
                .value
                .and_then(|r| r.host)
                .as_deref(),
            Some("example.com")
        );
        assert_eq!(
            parse_request(b"GET\x00\x01 junk\r\n\r\n").status,
            Status::Invalid
        );
        assert_eq!(
            parse_response(b"HTTP/9.9 abc\r\n\r\n").status,
            Status::Invalid
        );
    }
}
