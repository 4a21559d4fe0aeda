//! Application payloads, one file per protocol, built from the protocol
//! specifications. Every function returns the bytes of one message (or a
//! scripted exchange); transport and timing are the caller's business.

pub mod ber;
pub mod bittorrent;
pub mod dhcp;
pub mod dns;
pub mod ftp;
pub mod http;
pub mod imap;
pub mod kerberos;
pub mod netbios;
pub mod ntp;
pub mod openvpn;
pub mod pop3;
pub mod quic;
pub mod rtp;
pub mod sip;
pub mod smtp;
pub mod snmp;
pub mod ssdp;
pub mod ssh;
pub mod stun;
pub mod syslog;
pub mod tls;

/// Who sends a message of a scripted exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// The initiator.
    Client,
    /// The responder.
    Server,
}

/// A scripted exchange: messages in the order they are sent.
pub type Dialogue = Vec<(From, Vec<u8>)>;

/// Appends a big-endian `u16`.
pub fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u32`.
pub fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian 24-bit length.
pub fn put24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
}

/// `bytes` prefixed with its length as a big-endian `u16`.
pub fn with_len16(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    put16(&mut out, bytes.len() as u16);
    out.extend_from_slice(bytes);
    out
}

/// Lines joined with CRLF, each line terminated.
pub fn crlf_lines(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A dialogue from text lines: each entry is one message, its lines CRLF-terminated.
pub fn text_dialogue(script: &[(From, &[&str])]) -> Dialogue {
    script
        .iter()
        .map(|(who, lines)| (*who, crlf_lines(lines)))
        .collect()
}
