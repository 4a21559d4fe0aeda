//! SSH identification strings (RFC 4253, section 4.2): `SSH-protoversion-softwareversion
//! SP comments CR LF`, the first line each side sends. Lines before it that
//! do not start with `SSH-` are allowed to servers and skipped.
//!
//! ```
//! use dpi_core::protocols::ssh::parse_banner;
//!
//! let b = parse_banner(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n\x00\x00\x05").value.unwrap();
//! assert_eq!(b, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3");
//! ```

use super::reader::line_text;
use super::{Dissector, Metadata, Parsed, TCP};
use crate::FlowView;

/// RFC 4253 allows 255 bytes for the line, CR LF included.
const MAX_LINE: usize = 255;
/// Lines skipped before the identification at most.
const MAX_SKIPPED: usize = 16;

/// Reads the identification line (without CR LF). Without a line end in
/// the bytes, the line so far is returned as [`Status::Incomplete`](super::Status::Incomplete).
pub fn parse_banner(bytes: &[u8]) -> Parsed<String> {
    let mut rest = bytes;
    for _ in 0..=MAX_SKIPPED {
        match rest.iter().position(|&b| b == b'\n') {
            Some(e) => {
                let line = &rest[..e];
                if line.starts_with(b"SSH-") {
                    return Parsed::complete(line_text(&line[..line.len().min(MAX_LINE)]));
                }
                rest = &rest[e + 1..];
            }
            None if rest.starts_with(b"SSH-") => {
                let text = line_text(&rest[..rest.len().min(MAX_LINE)]);
                return if rest.len() >= MAX_LINE {
                    Parsed::complete(text)
                } else {
                    Parsed::incomplete(Some(text))
                };
            }
            None if b"SSH-".starts_with(rest) => return Parsed::incomplete(None),
            None => return Parsed::invalid(None),
        }
    }
    Parsed::invalid(None)
}

/// Registry entry: TCP flows where either side starts with `SSH-`.
pub const DISSECTOR: Dissector = Dissector {
    name: "ssh",
    priority: 20,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    v.transport == TCP && (v.c2s.starts_with(b"SSH-") || v.s2c.starts_with(b"SSH-"))
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    if v.c2s.starts_with(b"SSH-") {
        m.ssh_client = parse_banner(v.c2s).value;
    }
    if v.s2c.starts_with(b"SSH-") {
        m.ssh_server = parse_banner(v.s2c).value;
    }
    // nDPI prints the client's identification as the flow's host name.
    m.hostname = m.ssh_client.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    #[test]
    fn banners() {
        let p = parse_banner(b"SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.1\r\n");
        assert_eq!(p.status, Status::Complete);
        assert_eq!(
            p.value.as_deref(),
            Some("SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.1")
        );
        let cut = parse_banner(b"SSH-2.0-Open");
        assert_eq!(
            (cut.status, cut.value.as_deref()),
            (Status::Incomplete, Some("SSH-2.0-Open"))
        );
        let pre = parse_banner(b"Welcome\r\nSSH-1.99-Cisco-1.25\n");
        assert_eq!(pre.value.as_deref(), Some("SSH-1.99-Cisco-1.25"));
        assert_eq!(parse_banner(b"HTTP/1.1 200 OK").status, Status::Invalid);
    }

    #[test]
    fn client_banner_is_the_host_name() {
        let v = FlowView::new(6, 22)
            .with_c2s(b"SSH-2.0-AsyncSSH_2.8.1\r\n")
            .with_s2c(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        let m = crate::protocols::extract(&v);
        assert_eq!(m.hostname.as_deref(), Some("SSH-2.0-AsyncSSH_2.8.1"));
        assert_eq!(
            m.ssh_server.as_deref(),
            Some("SSH-2.0-OpenSSH_9.2p1 Debian-2")
        );
    }
}
