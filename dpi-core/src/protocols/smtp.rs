//! SMTP (RFC 5321, sections 4.1.1.1 and 4.2): the name the client gives
//! in `EHLO` or `HELO`, and the name the server gives in its `220`
//! greeting (the flow's host name, as nDPI reports it).
//!
//! ```
//! use dpi_core::protocols::smtp::parse_hello;
//!
//! assert_eq!(parse_hello(b"EHLO mail.example.com\r\n").value.as_deref(), Some("mail.example.com"));
//! ```

use super::reader::line_text;
use super::{Dissector, Metadata, Parsed, TCP};
use crate::FlowView;

/// Reads the client's `EHLO`/`HELO` line at the start of `bytes`.
pub fn parse_hello(bytes: &[u8]) -> Parsed<String> {
    let head = &bytes[..bytes.len().min(5)];
    let is_hello = head.len() == 5
        && (head[..4].eq_ignore_ascii_case(b"EHLO") || head[..4].eq_ignore_ascii_case(b"HELO"))
        && head[4] == b' ';
    if !is_hello {
        return if b"EHLO ".starts_with(&head.to_ascii_uppercase())
            || b"HELO ".starts_with(&head.to_ascii_uppercase())
        {
            Parsed::incomplete(None)
        } else {
            Parsed::invalid(None)
        };
    }
    let rest = &bytes[5..];
    let end = rest.iter().position(|&b| b == b'\n');
    let line = &rest[..end.unwrap_or(rest.len()).min(512)];
    let name = line_text(line).trim().to_string();
    match end {
        Some(_) => Parsed::complete(name),
        None => Parsed::incomplete(Some(name).filter(|n| !n.is_empty())),
    }
}

/// Registry entry: TCP flows whose server greets with `220` and whose
/// client starts with `EHLO` or `HELO`; the host name is the server's.
pub const DISSECTOR: Dissector = Dissector {
    name: "smtp",
    priority: 40,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    v.transport == TCP
        && v.s2c.starts_with(b"220")
        && v.c2s.len() >= 5
        && (v.c2s[..4].eq_ignore_ascii_case(b"EHLO") || v.c2s[..4].eq_ignore_ascii_case(b"HELO"))
}

#[cfg(test)]
#[test]
fn greeting() {
    assert_eq!(
        greeting_host(b"220 pigeon.example ESMTP ready\r\n").as_deref(),
        Some("pigeon.example")
    );
    assert_eq!(
        greeting_host(b"220-mx.example\r\n").as_deref(),
        Some("mx.example")
    );
    assert_eq!(greeting_host(b"220 mx"), None);
    assert_eq!(greeting_host(b"554 no"), None);
}

/// The server's name: the first word of its `220` greeting.
pub fn greeting_host(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(b"220")?;
    let rest = rest
        .strip_prefix(b" ")
        .or_else(|| rest.strip_prefix(b"-"))?;
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
    let host = line_text(&rest[..end.min(255)]);
    (!host.is_empty()).then_some(host)
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    m.hostname = greeting_host(v.s2c).or_else(|| parse_hello(v.c2s).value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    #[test]
    fn hello_lines() {
        assert_eq!(
            parse_hello(b"HELO pigeon.example\r\nMAIL FROM")
                .value
                .as_deref(),
            Some("pigeon.example")
        );
        let cut = parse_hello(b"EHLO mx.exa");
        assert_eq!(
            (cut.status, cut.value.as_deref()),
            (Status::Incomplete, Some("mx.exa"))
        );
        assert_eq!(parse_hello(b"EHL").status, Status::Incomplete);
        assert_eq!(parse_hello(b"QUIT\r\n").status, Status::Invalid);
    }
}
