//! SOCKS: the destination a client asks the proxy for, when it gives a
//! name rather than an address (the flow's host name), and the fields of
//! what the client then sends through the proxy (a TLS ClientHello's
//! JA4, an HTTP request's host when the request gave an address).
//!
//! - SOCKS4 with its 4a extension: version 4, command (1 connect, 2 bind),
//!   port, an IPv4 address, a user id ending in a NUL; an address of
//!   `0.0.0.x` (x not 0) means that a host name, also ending in a NUL,
//!   follows the user id.
//! - SOCKS5 (RFC 1928): the client's greeting (version 5, the number of
//!   methods, the methods), then, when the server chose user name and
//!   password, that sub-negotiation (RFC 1929: version 1, the name and
//!   the password, each after its length), then the request: version 5,
//!   command (1 connect, 2 bind, 3 UDP associate), a reserved 0, the
//!   address type (1 IPv4, 3 a name after its length, 4 IPv6), the
//!   address, the port. The client's bytes hold these one after the other.
//!
//! ```
//! use dpi_core::protocols::socks::parse_request;
//!
//! let socks5 = b"\x05\x01\x00\x05\x01\x00\x03\x0bexample.org\x01\xbb";
//! assert_eq!(parse_request(socks5).value.as_deref(), Some("example.org"));
//! let socks4a = b"\x04\x01\x00\x50\x00\x00\x00\x01alice\x00example.org\x00";
//! assert_eq!(parse_request(socks4a).value.as_deref(), Some("example.org"));
//! ```

use super::reader::Reader;
use super::{Dissector, Metadata, Parsed, Status, TCP};
use crate::FlowView;

/// SOCKS4 commands: connect, bind.
const SOCKS4_COMMANDS: std::ops::RangeInclusive<u8> = 1..=2;
/// SOCKS4 reply codes (granted, rejected, no identd, identd mismatch).
const SOCKS4_REPLIES: std::ops::RangeInclusive<u8> = 0x5a..=0x5d;
/// SOCKS5 commands: connect, bind, UDP associate.
const SOCKS5_COMMANDS: std::ops::RangeInclusive<u8> = 1..=3;
/// SOCKS5 address types.
const ATYP_IPV4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_IPV6: u8 = 4;
/// RFC 1929's sub-negotiation version.
const USER_PASS_VERSION: u8 = 1;
/// The longest SOCKS4 user id or host name read (the protocol sets none).
const MAX_FIELD: usize = 255;

/// Reads the client's request at the start of `bytes`: the host name it
/// asks for (`value` is `None`, status complete, when it gives an address).
pub fn parse_request(bytes: &[u8]) -> Parsed<String> {
    request(bytes).0
}

/// [`parse_request`], with the length of the client's SOCKS messages when
/// they are complete: what the client sends through the proxy follows.
fn request(bytes: &[u8]) -> (Parsed<String>, usize) {
    match bytes.first() {
        Some(4) => socks4(bytes),
        Some(5) => socks5(bytes),
        Some(_) => (Parsed::invalid(None), 0),
        None => (Parsed::incomplete(None), 0),
    }
}

/// What a read that ran out of bytes or met a wrong field gives.
fn short_or_wrong(out_of_bytes: bool) -> Parsed<String> {
    if out_of_bytes {
        Parsed::incomplete(None)
    } else {
        Parsed::invalid(None)
    }
}

/// An address, not a name: the request is complete with no host name.
fn address_only() -> Parsed<String> {
    Parsed {
        value: None,
        status: Status::Complete,
    }
}

/// A host name as sent: printable ASCII with no space, 1 to 255 bytes.
fn host_name(b: &[u8]) -> Option<String> {
    (!b.is_empty() && b.len() <= MAX_FIELD && b.iter().all(|c| c.is_ascii_graphic()))
        .then(|| String::from_utf8_lossy(b).into_owned())
}

/// A NUL-terminated field of at most [`MAX_FIELD`] bytes starting at
/// `bytes[0]`: the field and what follows its NUL; `Err(true)` when the
/// bytes end first, `Err(false)` when it is too long.
fn nul_field(bytes: &[u8]) -> Result<(&[u8], &[u8]), bool> {
    let window = &bytes[..bytes.len().min(MAX_FIELD + 1)];
    match window.iter().position(|&b| b == 0) {
        Some(n) => Ok((&bytes[..n], &bytes[n + 1..])),
        None => Err(window.len() == bytes.len()),
    }
}

fn socks4(bytes: &[u8]) -> (Parsed<String>, usize) {
    let mut r = Reader::new(bytes);
    let head = (|| {
        r.u8()?;
        let command = r.u8()?;
        r.skip(2)?;
        let ip = r.take(4)?;
        Some((command, [ip[0], ip[1], ip[2], ip[3]]))
    })();
    let Some((command, ip)) = head else {
        let short = bytes.len() < 2 || SOCKS4_COMMANDS.contains(&bytes[1]);
        return (short_or_wrong(short), 0);
    };
    if !SOCKS4_COMMANDS.contains(&command) {
        return (Parsed::invalid(None), 0);
    }
    let rest = match nul_field(r.rest()) {
        Ok((_user, rest)) => rest,
        Err(short) => return (short_or_wrong(short), 0),
    };
    // SOCKS4a: 0.0.0.x with x not 0.
    if ip[..3] != [0, 0, 0] || ip[3] == 0 {
        return (address_only(), bytes.len() - rest.len());
    }
    match nul_field(rest) {
        Ok((name, after)) => match host_name(name) {
            Some(n) => (Parsed::complete(n), bytes.len() - after.len()),
            None => (Parsed::invalid(None), 0),
        },
        Err(short) => (short_or_wrong(short), 0),
    }
}

fn socks5(bytes: &[u8]) -> (Parsed<String>, usize) {
    let mut r = Reader::new(bytes);
    let parsed = socks5_messages(&mut r);
    let used = if parsed.status == Status::Complete {
        r.pos()
    } else {
        0
    };
    (parsed, used)
}

/// The greeting, the sub-negotiation if any, the request (to the end of
/// its port) from `r`.
fn socks5_messages(r: &mut Reader<'_>) -> Parsed<String> {
    // The greeting.
    let methods = match (r.u8(), r.u8()) {
        (Some(5), Some(n)) if n > 0 => usize::from(n),
        (Some(5), Some(_)) => return Parsed::invalid(None),
        _ => return Parsed::incomplete(None),
    };
    if r.skip(methods).is_none() {
        return Parsed::incomplete(None);
    }
    // RFC 1929's sub-negotiation, when the server chose it.
    if r.rest().first() == Some(&USER_PASS_VERSION) {
        let skipped = (|| {
            r.u8()?;
            let user = r.u8()?;
            r.skip(usize::from(user))?;
            let pass = r.u8()?;
            r.skip(usize::from(pass))
        })();
        if skipped.is_none() {
            return Parsed::incomplete(None);
        }
    }
    // The request.
    let head = (|| Some((r.u8()?, r.u8()?, r.u8()?, r.u8()?)))();
    let Some((version, command, reserved, atyp)) = head else {
        return Parsed::incomplete(None);
    };
    if version != 5 || !SOCKS5_COMMANDS.contains(&command) || reserved != 0 {
        return Parsed::invalid(None);
    }
    let name = match atyp {
        ATYP_IPV4 => r.skip(4).map(|()| None),
        ATYP_IPV6 => r.skip(16).map(|()| None),
        ATYP_NAME => match r.u8().and_then(|len| r.take(usize::from(len))) {
            Some(name) => match host_name(name) {
                Some(n) => Some(Some(n)),
                None => return Parsed::invalid(None),
            },
            None => None,
        },
        _ => return Parsed::invalid(None),
    };
    match (name, r.skip(2)) {
        (Some(name), Some(())) => Parsed {
            value: name,
            status: Status::Complete,
        },
        // The name is whole even when the port was cut.
        (Some(name), None) => Parsed::incomplete(name),
        (None, _) => Parsed::incomplete(None),
    }
}

/// Whether the server's first bytes are a SOCKS reply to a request of
/// version `version`: SOCKS4's 0 and a reply code, SOCKS5's method
/// selection (version 5).
fn server_agrees(version: u8, s2c: &[u8]) -> bool {
    match (version, s2c) {
        (4, [0, code, ..]) => SOCKS4_REPLIES.contains(code),
        (5, [5, ..]) => true,
        _ => false,
    }
}

/// The length of the server's SOCKS messages at the start of `s2c`, when
/// they are all there: SOCKS4's 8-byte reply; SOCKS5's method selection,
/// RFC 1929's status when it chose user name and password, and the reply
/// (version, code, a reserved byte, the address type, the address, the
/// port).
fn reply_len(s2c: &[u8]) -> Option<usize> {
    let mut r = Reader::new(s2c);
    match r.u8()? {
        0 => r.skip(7).map(|()| 8),
        5 => {
            if r.u8()? == 2 {
                r.skip(2)?;
            }
            let (_, _, _, atyp) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
            match atyp {
                ATYP_IPV4 => r.skip(4)?,
                ATYP_IPV6 => r.skip(16)?,
                ATYP_NAME => {
                    let len = r.u8()?;
                    r.skip(usize::from(len))?
                }
                _ => return None,
            }
            r.skip(2)?;
            Some(r.pos())
        }
        _ => None,
    }
}

/// Registry entry: TCP flows whose client starts with a SOCKS4 request or
/// a SOCKS5 greeting and whose server, when it answered, answers as a
/// SOCKS server does.
pub const DISSECTOR: Dissector = Dissector {
    name: "socks",
    priority: 45,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    let version = match v.c2s {
        [4, command, ..] if SOCKS4_COMMANDS.contains(command) => 4,
        [5, methods, ..] if *methods > 0 => 5,
        _ => return false,
    };
    v.transport == TCP && (v.s2c.is_empty() || server_agrees(version, v.s2c))
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    let (parsed, used) = request(v.c2s);
    m.hostname = parsed.value;
    if parsed.status == Status::Complete {
        // What the client sends through the proxy: its fields (a TLS
        // ClientHello's JA4 and ALPN, an HTTP request's), and its name when
        // the request gave an address. A SOCKS request inside is not read
        // again.
        let s2c = reply_len(v.s2c).map_or(&[][..], |n| &v.s2c[n..]);
        let inner = FlowView {
            c2s: &v.c2s[used.min(v.c2s.len())..],
            s2c,
            ..*v
        };
        if !matches!(inner.c2s.first(), Some(4 | 5)) {
            m.fill(super::extract(&inner));
        }
    }
    // Not a server name that application rules match, whoever read it.
    m.dissector = Some("socks");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOCKS5_USER_PASS: &[u8] =
        b"\x05\x02\x00\x02\x01\x05alice\x06secret\x05\x01\x00\x03\x0fwww.example.com\x00\x50";

    #[test]
    fn requests() {
        let cases: &[(&str, &[u8], Status, Option<&str>)] = &[
            (
                "socks5 with a user name and password",
                SOCKS5_USER_PASS,
                Status::Complete,
                Some("www.example.com"),
            ),
            (
                "socks5 to an IPv4 address",
                b"\x05\x01\x00\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50",
                Status::Complete,
                None,
            ),
            (
                "socks5 greeting alone",
                b"\x05\x01\x00",
                Status::Incomplete,
                None,
            ),
            ("socks5 with no method", b"\x05\x00", Status::Invalid, None),
            (
                "socks5 command 9",
                b"\x05\x01\x00\x05\x09\x00\x01\x0a\x00\x00\x01\x00\x50",
                Status::Invalid,
                None,
            ),
            (
                "socks5 name with a space",
                b"\x05\x01\x00\x05\x01\x00\x03\x03a b\x00\x50",
                Status::Invalid,
                None,
            ),
            (
                "socks4 to an address",
                b"\x04\x01\x00\x50\x0a\x00\x00\x01bob\x00",
                Status::Complete,
                None,
            ),
            (
                "socks4a with an empty user id",
                b"\x04\x02\x01\xbb\x00\x00\x00\x07\x00login.example.net\x00",
                Status::Complete,
                Some("login.example.net"),
            ),
            (
                "socks4a cut inside the name",
                b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00login.exa",
                Status::Incomplete,
                None,
            ),
            (
                "socks4 command 3",
                b"\x04\x03\x00\x50\x0a\x00\x00\x01\x00",
                Status::Invalid,
                None,
            ),
        ];
        for (case, bytes, status, name) in cases {
            let p = parse_request(bytes);
            assert_eq!((p.status, p.value.as_deref()), (*status, *name), "{case}");
        }
    }

    #[test]
    fn every_cut_is_incomplete_until_the_name_ends() {
        let name_end = SOCKS5_USER_PASS.len() - 2;
        for n in 0..SOCKS5_USER_PASS.len() {
            let p = parse_request(&SOCKS5_USER_PASS[..n]);
            if n < name_end {
                assert_eq!((p.status, p.value), (Status::Incomplete, None), "{n}");
            } else {
                assert_eq!(p.value.as_deref(), Some("www.example.com"), "{n}");
            }
        }
    }

    #[test]
    fn a_request_for_an_address_takes_the_name_from_what_follows() {
        let c2s = b"\x05\x01\x00\x05\x01\x00\x01\x5d\xb8\xd8\x22\x00\x50GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        let v = FlowView::new(TCP, 1080)
            .with_c2s(c2s)
            .with_s2c(b"\x05\x00\x05\x00\x00\x01\x0a\x00\x00\x02\x00\x50");
        let m = super::super::extract(&v);
        assert_eq!(m.hostname.as_deref(), Some("www.example.org"));
        assert_eq!(m.http_method.as_deref(), Some("GET"));
        assert_eq!((m.dissector, m.server_name()), (Some("socks"), None));
        // A name in the request wins over the one inside.
        let named = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00a.example\x00GET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
        let m = super::super::extract(&FlowView::new(TCP, 1080).with_c2s(named));
        assert_eq!(m.hostname.as_deref(), Some("a.example"));
        // SOCKS inside SOCKS is not read again.
        let twice = b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00\x04\x01\x00\x50\x00\x00\x00\x01\x00c.example\x00";
        let m = super::super::extract(&FlowView::new(TCP, 1080).with_c2s(twice));
        assert_eq!(m.hostname, None);
    }

    #[test]
    fn the_server_replies_are_measured() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"\x00\x5a\x01\xbb\x0a\x00\x00\x01\x16\x03", Some(8)),
            (
                b"\x05\x00\x05\x00\x00\x01\x0a\x00\x00\x02\x00\x50\x16",
                Some(12),
            ),
            (b"\x05\x02\x01\x00\x05\x00\x00\x03\x01a\x00\x50", Some(12)),
            (b"\x05\x02\x01\x00\x05\x00\x00\x04", None),
            (b"\x05\x00\x05\x00\x00\x07\x00\x00", None),
            (b"\x00\x5a", None),
            (b"", None),
        ];
        for (s2c, want) in cases {
            assert_eq!(reply_len(s2c), *want, "{s2c:?}");
        }
    }

    #[test]
    fn a_long_user_id_is_refused() {
        let mut b = b"\x04\x01\x00\x50\x00\x00\x00\x01".to_vec();
        b.extend([b'u'; 300]);
        b.extend(b"\x00x.example\x00");
        assert_eq!(parse_request(&b).status, Status::Invalid);
    }

    #[test]
    fn the_server_must_answer_as_socks_does() {
        let c2s = b"\x04\x01\x01\xbb\x00\x00\x00\x01u\x00example.com\x00";
        let view = |s2c: &'static [u8]| FlowView::new(TCP, 9901).with_c2s(c2s).with_s2c(s2c);
        let named = |v: FlowView<'_>| super::super::extract(&v).hostname;
        assert_eq!(named(view(b"")).as_deref(), Some("example.com"));
        assert_eq!(
            named(view(b"\x00\x5a\x01\xbb\x0a\x00\x00\x01")).as_deref(),
            Some("example.com")
        );
        assert_eq!(named(view(b"HTTP/1.1 400 Bad Request\r\n")), None);
        let m = super::super::extract(&view(b"\x00\x5a\x01\xbb\x0a\x00\x00\x01"));
        assert_eq!(m.dissector, Some("socks"));
        // Not a server name that application rules match.
        assert_eq!(m.server_name(), None);
    }
}
