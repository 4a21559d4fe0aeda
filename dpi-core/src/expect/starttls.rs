//! In-session upgrades to TLS: the plain-text mail and file protocols
//! that switch to TLS on a command, named by what the session becomes, as
//! nDPI names them.
//!
//! | command (client) | protocol | becomes | source |
//! | --- | --- | --- | --- |
//! | `STARTTLS` | SMTP | `SMTPS` | RFC 3207 section 4 |
//! | `<tag> STARTTLS` | IMAP | `IMAPS` | RFC 3501 section 6.2.1 |
//! | `STLS` | POP3 | `POPS` | RFC 2595 section 4 |
//! | `AUTH TLS`, `AUTH SSL` | FTP | `FTPS` | RFC 4217 section 4 |
//!
//! The command alone is a request the server may refuse; the upgrade is
//! taken as done when the client's bytes go on, after the command line,
//! with a TLS handshake record (content type 22, version 3.x: RFC 8446
//! section 5.1). The server's first bytes must be the protocol's greeting
//! (`220` for SMTP and FTP, `+OK` for POP3, `* OK` for IMAP): IRC, XMPP
//! and others have a STARTTLS too. SMTP and IMAP share the command word;
//! the greeting tells them apart.
//!
//! This is not an expectation from another flow: the session announces
//! its own change. It lives here with the other announcements because it
//! names a flow from a message that is not the flow's first bytes.

/// An upgrade found in a flow's first bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The protocol the session becomes, as nDPI names it: `SMTPS`,
    /// `IMAPS`, `POPS` or `FTPS`.
    pub protocol: &'static str,
    /// The plain-text protocol the session was before it: `SMTP`, `IMAP`,
    /// `POP3` or `FTP_CONTROL`, as nDPI names them.
    pub from: &'static str,
    /// The command that asked for it: `STARTTLS`, `STLS`, `AUTH TLS` or `AUTH SSL`.
    pub command: &'static str,
}

/// The upgrade in a TCP flow's first bytes per direction, if the client
/// asked for one and then started a TLS handshake.
///
/// ```
/// use dpi_core::expect::starttls::upgrade;
///
/// let c2s = b"EHLO a\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";
/// let u = upgrade(c2s, b"220 mx ESMTP\r\n250 ok\r\n220 go ahead\r\n").unwrap();
/// assert_eq!((u.protocol, u.from, u.command), ("SMTPS", "SMTP", "STARTTLS"));
/// assert!(upgrade(b"EHLO a\r\nSTARTTLS\r\nQUIT\r\n", b"220 mx\r\n").is_none());
/// ```
pub fn upgrade(c2s: &[u8], s2c: &[u8]) -> Option<Upgrade> {
    let mut start = 0;
    // Walk the client's lines; the handshake must follow the command's line.
    while start < c2s.len() {
        let rest = &c2s[start..];
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        let after = &rest[end + 1..];
        if let Some(u) = command(line, s2c) {
            return tls_record(after).then_some(u);
        }
        start += end + 1;
    }
    None
}

/// The upgrade a command line asks for, given the server's first bytes:
/// each protocol's greeting must open them (SMTP and FTP `220`, RFC 5321
/// section 4.2 and RFC 959 section 5.4; POP3 `+OK`, RFC 1939 section 4;
/// IMAP `* OK` or `* PREAUTH`, RFC 3501 section 7.1), so that another
/// protocol's STARTTLS (IRC, XMPP, LDAP, ...) is not taken for one.
fn command(line: &[u8], s2c: &[u8]) -> Option<Upgrade> {
    let eq = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let greets = |g: &[u8]| s2c.starts_with(g);
    let imap = greets(b"* OK") || greets(b"* PREAUTH");
    let upgrade = |protocol, command| {
        let from = match protocol {
            "SMTPS" => "SMTP",
            "IMAPS" => "IMAP",
            "POPS" => "POP3",
            _ => "FTP_CONTROL",
        };
        Some(Upgrade {
            protocol,
            from,
            command,
        })
    };
    if eq(line, b"STARTTLS") {
        return if imap {
            upgrade("IMAPS", "STARTTLS")
        } else if greets(b"220") {
            upgrade("SMTPS", "STARTTLS")
        } else {
            None
        };
    }
    if eq(line, b"STLS") {
        return if greets(b"+OK") {
            upgrade("POPS", "STLS")
        } else {
            None
        };
    }
    for (cmd, name) in [
        (&b"AUTH TLS"[..], "AUTH TLS"),
        (b"AUTH TLS-C", "AUTH TLS"),
        (b"AUTH SSL", "AUTH SSL"),
    ] {
        if eq(line, cmd) {
            return if greets(b"220") {
                upgrade("FTPS", name)
            } else {
                None
            };
        }
    }
    // "<tag> STARTTLS": IMAP.
    let space = line.iter().position(|&b| b == b' ')?;
    let (tag, cmd) = (&line[..space], &line[space + 1..]);
    let tagged = !tag.is_empty() && tag.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.');
    if tagged && eq(cmd, b"STARTTLS") && imap {
        return upgrade("IMAPS", "STARTTLS");
    }
    None
}

/// True when `b` starts with a TLS handshake record header.
fn tls_record(b: &[u8]) -> bool {
    matches!(b, [0x16, 0x03, 0x00..=0x04, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";

    fn with_hello(text: &[u8]) -> Vec<u8> {
        [text, HELLO].concat()
    }

    #[test]
    fn each_protocol() {
        let cases: [(&[u8], &[u8], &str, &str); 5] = [
            (b"EHLO x\r\nSTARTTLS\r\n", b"220 mail\r\n", "SMTPS", "SMTP"),
            (
                b"a001 CAPABILITY\r\na002 STARTTLS\r\n",
                b"* OK IMAP4rev1\r\n",
                "IMAPS",
                "IMAP",
            ),
            (b"STARTTLS\r\n", b"* OK ready\r\n", "IMAPS", "IMAP"),
            (b"CAPA\r\nSTLS\r\n", b"+OK POP3\r\n", "POPS", "POP3"),
            (
                b"AUTH TLS\r\n",
                b"220 FTP\r\n234 go\r\n",
                "FTPS",
                "FTP_CONTROL",
            ),
        ];
        for (c2s, s2c, want, from) in cases {
            let got = upgrade(&with_hello(c2s), s2c).map(|u| (u.protocol, u.from));
            assert_eq!(got, Some((want, from)), "{}", String::from_utf8_lossy(c2s));
        }
    }

    #[test]
    fn refused_or_plain_sessions_are_not_upgrades() {
        // The command without a handshake after it, a handshake without the
        // command, the word inside another line, a cut command line.
        assert!(upgrade(b"STARTTLS\r\nMAIL FROM:<a>\r\n", b"220 x\r\n").is_none());
        assert!(upgrade(&with_hello(b"EHLO x\r\n"), b"220 x\r\n").is_none());
        assert!(upgrade(&with_hello(b"NOOP STARTTLS please\r\n"), b"").is_none());
        assert!(upgrade(b"STARTTLS", b"").is_none());
        assert!(upgrade(b"", b"").is_none());
        // IRC's STARTTLS (IRCv3), and commands without their greeting.
        let irc = with_hello(b"CAP LS\r\nSTARTTLS\r\n");
        assert!(upgrade(&irc, b":irc.example.net NOTICE * :hi\r\n").is_none());
        assert!(upgrade(&with_hello(b"STLS\r\n"), b"220 x\r\n").is_none());
        assert!(upgrade(&with_hello(b"AUTH TLS\r\n"), b"").is_none());
        assert!(upgrade(&with_hello(b"a1 STARTTLS\r\n"), b"220 x\r\n").is_none());
    }
}
