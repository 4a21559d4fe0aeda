//! POP3 (RFC 1939, capabilities RFC 2449).

use super::{text_dialogue, Dialogue, From};

/// Login, STAT, RETR of one short message, QUIT.
pub fn session() -> Dialogue {
    text_dialogue(&[
        (From::Server, &["+OK Dovecot (Debian) ready."]),
        (From::Client, &["CAPA"]),
        (
            From::Server,
            &[
                "+OK",
                "CAPA",
                "TOP",
                "UIDL",
                "RESP-CODES",
                "PIPELINING",
                "AUTH-RESP-CODE",
                "USER",
                "SASL PLAIN",
                ".",
            ],
        ),
        (From::Client, &["USER bob"]),
        (From::Server, &["+OK"]),
        (From::Client, &["PASS hunter2"]),
        (From::Server, &["+OK Logged in."]),
        (From::Client, &["STAT"]),
        (From::Server, &["+OK 1 412"]),
        (From::Client, &["RETR 1"]),
        (
            From::Server,
            &[
                "+OK 412 octets",
                "Return-Path: <alice@example.org>",
                "From: Alice <alice@example.org>",
                "To: Bob <bob@example.net>",
                "Subject: quarterly report",
                "Date: Mon, 01 Jan 2024 00:00:12 +0000",
                "",
                "Hi Bob,",
                "",
                "the figures are in the shared folder.",
                ".",
            ],
        ),
        (From::Client, &["QUIT"]),
        (From::Server, &["+OK Logging out."]),
    ])
}
