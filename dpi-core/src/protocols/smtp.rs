//! SMTP (RFC 5321, section 4.1.1.1): the name the client gives in `EHLO`
//! or `HELO`.
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
/// client starts with `EHLO` or `HELO`.
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

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    m.hostname = parse_hello(v.c2s).value;
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
