//! Syslog over UDP 514: RFC 5424 and the older RFC 3164 format.

/// An RFC 5424 message; `pri` is facility * 8 + severity.
pub fn rfc5424(
    pri: u8,
    timestamp: &str,
    host: &str,
    app: &str,
    procid: &str,
    msgid: &str,
    msg: &str,
) -> Vec<u8> {
    format!("<{pri}>1 {timestamp} {host} {app} {procid} {msgid} - {msg}").into_bytes()
}

/// An RFC 3164 (BSD) message.
pub fn rfc3164(pri: u8, timestamp: &str, host: &str, tag: &str, msg: &str) -> Vec<u8> {
    format!("<{pri}>{timestamp} {host} {tag}: {msg}").into_bytes()
}
