//! SMTP (RFC 5321) with ESMTP extensions and STARTTLS (RFC 3207).

use super::{text_dialogue, Dialogue, From};

/// A complete mail submission: banner, EHLO, envelope, DATA, QUIT.
pub fn send_mail(server: &str, client: &str, from: &str, to: &str, date: &str) -> Dialogue {
    let banner = format!("220 {server} ESMTP Postfix (Debian/GNU)");
    let ehlo = format!("EHLO {client}");
    let ehlo_250 = format!("250-{server}");
    let mail = format!("MAIL FROM:<{from}> SIZE=412");
    let rcpt = format!("RCPT TO:<{to}>");
    let hdr_from = format!("From: Alice <{from}>");
    let hdr_to = format!("To: Bob <{to}>");
    let hdr_date = format!("Date: {date}");
    let msgid = format!("Message-ID: <20240101000012.4F2A1@{client}>");
    let bye = "221 2.0.0 Bye";
    text_dialogue(&[
        (From::Server, &[&banner]),
        (From::Client, &[&ehlo]),
        (
            From::Server,
            &[
                &ehlo_250,
                "250-PIPELINING",
                "250-SIZE 10240000",
                "250-VRFY",
                "250-ETRN",
                "250-STARTTLS",
                "250-ENHANCEDSTATUSCODES",
                "250-8BITMIME",
                "250-DSN",
                "250 CHUNKING",
            ],
        ),
        (From::Client, &[&mail]),
        (From::Server, &["250 2.1.0 Ok"]),
        (From::Client, &[&rcpt]),
        (From::Server, &["250 2.1.5 Ok"]),
        (From::Client, &["DATA"]),
        (From::Server, &["354 End data with <CR><LF>.<CR><LF>"]),
        (
            From::Client,
            &[
                &hdr_from,
                &hdr_to,
                "Subject: quarterly report",
                &hdr_date,
                &msgid,
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "",
                "Hi Bob,",
                "",
                "the figures are in the shared folder.",
                "",
                "Alice",
                ".",
            ],
        ),
        (From::Server, &["250 2.0.0 Ok: queued as 4F2A1C0035"]),
        (From::Client, &["QUIT"]),
        (From::Server, &[bye]),
    ])
}

/// Submission on port 587 that upgrades with STARTTLS; the TLS handshake follows.
pub fn starttls(server: &str, client: &str) -> Dialogue {
    let banner = format!("220 {server} ESMTP ready");
    let ehlo = format!("EHLO {client}");
    let ehlo_250 = format!("250-{server}");
    text_dialogue(&[
        (From::Server, &[&banner]),
        (From::Client, &[&ehlo]),
        (
            From::Server,
            &[
                &ehlo_250,
                "250-SIZE 35882577",
                "250-8BITMIME",
                "250-STARTTLS",
                "250-ENHANCEDSTATUSCODES",
                "250 SMTPUTF8",
            ],
        ),
        (From::Client, &["STARTTLS"]),
        (From::Server, &["220 2.0.0 Ready to start TLS"]),
    ])
}
