//! The built-in set on flows built from the protocols' own layouts: rules
//! that name a protocol on any port when both sides confirm it, and the
//! near misses they must leave alone.

use dpi_core::{Classifier, FlowView};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// A flow to `port` with both sides' first bytes, their first payload sizes
/// being those bytes' lengths (a reply sent in one segment).
fn flow<'a>(transport: u8, port: u16, c2s: &'a [u8], s2c: &'a [u8]) -> FlowView<'a> {
    let size = |b: &[u8]| (!b.is_empty()).then_some(b.len() as u32);
    FlowView::new(transport, port)
        .with_client_port(50123)
        .with_c2s(c2s)
        .with_s2c(s2c)
        .with_packets(u64::from(!c2s.is_empty()), u64::from(!s2c.is_empty()))
        .with_first_sizes(size(c2s), size(s2c))
}

/// A TNS Connect packet: length 0x00D4, packet checksum 0, type 1, flags
/// 0, header checksum 0, version 315 (0x013B), oldest version 300
/// (0x012C), then the rest of the connect header.
const TNS_CONNECT: &[u8] =
    b"\x00\xd4\x00\x00\x01\x00\x00\x00\x01\x3b\x01\x2c\x0c\x41\x20\x00\xff\xff\x7f\x08";
/// The listener's Resend (type 11), an 8-byte packet.
const TNS_RESEND: &[u8] = b"\x00\x08\x00\x00\x0b\x00\x00\x00";
/// The listener's Accept (type 2).
const TNS_ACCEPT: &[u8] = b"\x00\x20\x00\x00\x02\x00\x00\x00\x01\x3b\x00\x00";

#[test]
fn any_port_rules_need_both_sides() {
    let c = Classifier::builtin();
    let greeting = b"220 mail.example.org ESMTP ready\r\n".as_slice();
    let ehlo = b"EHLO client.example.org\r\n".as_slice();
    // (case, view, expected label; "Unknown" when nothing may name it)
    let cases: Vec<(&str, FlowView<'_>, &str)> = vec![
        (
            "SMTP greeting and EHLO on another port",
            flow(TCP, 1224, ehlo, greeting),
            "SMTP",
        ),
        (
            "SMTP greeting and lower-case helo",
            flow(TCP, 4025, b"helo x\r\n", greeting),
            "SMTP",
        ),
        (
            "a 220 greeting answered by USER is not SMTP",
            flow(TCP, 4021, b"USER anonymous\r\n", greeting),
            "Unknown",
        ),
        (
            "EHLO with no greeting seen is not named off the mail ports",
            flow(TCP, 4025, ehlo, b""),
            "Unknown",
        ),
        (
            "IRCv3 capability request answered with a prefix",
            flow(
                TCP,
                80,
                b"CAP REQ :twitch.tv/tags\r\n",
                b":tmi.example.net CAP * ACK :twitch.tv/tags\r\n",
            ),
            "IRC",
        ),
        (
            "IRC registration answered by a numeric reply",
            flow(
                TCP,
                8000,
                b"NICK alice\r\nUSER alice 0 * :Alice\r\n",
                b":irc.example.net 001 alice :Welcome\r\n",
            ),
            "IRC",
        ),
        (
            "a session's ISON answered by a numeric reply",
            flow(
                TCP,
                7001,
                b"ISON alice bob\n",
                b":irc.example.net 303 carol :bob\r\n",
            ),
            "IRC",
        ),
        (
            "a server message on the IRC port, the session's start not captured",
            flow(TCP, 6667, b"", b":irc.example.net 303 carol :bob\r\n"),
            "IRC",
        ),
        (
            "NICK answered by bytes with no prefix",
            flow(TCP, 8000, b"NICK alice\r\n", b"\x00\x00\x00\x10\x01\x02"),
            "Unknown",
        ),
        (
            "SOCKS4a connect and a granted reply",
            flow(
                TCP,
                9901,
                b"\x04\x01\x01\xbb\x00\x00\x00\x01user\x00example.com\x00",
                b"\x00\x5a\x01\xbb\x0a\x00\x00\x01",
            ),
            "SOCKS",
        ),
        (
            "a SOCKS4-like request with a longer answer",
            flow(
                TCP,
                9901,
                b"\x04\x01\x01\xbb\x0a\x00\x00\x01\x00",
                b"\x00\x5a\x01\xbb\x0a\x00\x00\x01\x00\x00",
            ),
            "Unknown",
        ),
        (
            "SOCKS5 greeting and method selection",
            flow(TCP, 10080, b"\x05\x01\x02", b"\x05\x02"),
            "SOCKS",
        ),
        (
            "SOCKS5-like greeting answered by 3 bytes",
            flow(TCP, 10080, b"\x05\x01\x02", b"\x05\x02\x00"),
            "Unknown",
        ),
        (
            "TNS Connect on the listener port",
            flow(TCP, 1521, TNS_CONNECT, b""),
            "Oracle",
        ),
        (
            "TNS Connect elsewhere, answered by Resend",
            flow(TCP, 4000, TNS_CONNECT, TNS_RESEND),
            "Oracle",
        ),
        (
            "TNS Connect elsewhere, answered by Accept",
            flow(TCP, 4000, TNS_CONNECT, TNS_ACCEPT),
            "Oracle",
        ),
        (
            "TNS Connect elsewhere, no answer",
            flow(TCP, 4000, TNS_CONNECT, b""),
            "Unknown",
        ),
        (
            "TNS-like header of type Data on the listener port",
            flow(
                TCP,
                1521,
                b"\x00\xd4\x00\x00\x06\x00\x00\x00\x01\x3b\x01\x2c",
                b"",
            ),
            "Unknown",
        ),
        (
            "DHT query with the transaction id first",
            flow(
                UDP,
                20551,
                b"d1:t2:aa1:y1:q1:q9:find_node1:ad2:id20:abcdefghij0123456789e",
                b"",
            ),
            "BitTorrent",
        ),
        (
            "DHT message with the method first",
            flow(
                UDP,
                20551,
                b"d1:q9:find_node1:rd2:id20:abcdefghij0123456789e",
                b"",
            ),
            "BitTorrent",
        ),
        (
            "a bencoded dictionary with no node id",
            flow(UDP, 20551, b"d1:q9:find_node1:rd4:name5:alicee", b""),
            "Unknown",
        ),
    ];
    let mut wrong = Vec::new();
    for (case, view, want) in &cases {
        let got = c.classify(view);
        let label = if got.is_unknown() {
            "Unknown".to_string()
        } else {
            got.protocol.to_string()
        };
        if label != *want {
            wrong.push(format!("{case}: {label}, expected {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
