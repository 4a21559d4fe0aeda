//! IMAP4rev1 (RFC 3501).

use super::{text_dialogue, Dialogue, From};

/// Greeting, CAPABILITY, LOGIN, SELECT, FETCH of flags, LOGOUT.
pub fn session() -> Dialogue {
    text_dialogue(&[
        (
            From::Server,
            &["* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready."],
        ),
        (From::Client, &["a001 CAPABILITY"]),
        (
            From::Server,
            &[
                "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN",
                "a001 OK Pre-login capabilities listed, post-login capabilities have more.",
            ],
        ),
        (From::Client, &["a002 LOGIN bob hunter2"]),
        (From::Server, &["a002 OK Logged in"]),
        (From::Client, &["a003 SELECT INBOX"]),
        (
            From::Server,
            &[
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
                "* 3 EXISTS",
                "* 0 RECENT",
                "* OK [UIDVALIDITY 1704067200] UIDs valid",
                "* OK [UIDNEXT 4] Predicted next UID",
                "a003 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).",
            ],
        ),
        (From::Client, &["a004 FETCH 1:3 (FLAGS)"]),
        (
            From::Server,
            &[
                "* 1 FETCH (FLAGS (\\Seen))",
                "* 2 FETCH (FLAGS (\\Seen))",
                "* 3 FETCH (FLAGS ())",
                "a004 OK Fetch completed (0.001 + 0.000 secs).",
            ],
        ),
        (From::Client, &["a005 LOGOUT"]),
        (From::Server, &["* BYE Logging out", "a005 OK Logout completed (0.001 + 0.000 secs)."]),
    ])
}
