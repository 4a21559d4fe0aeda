//! RTP and RTCP endpoints announced by an SDP body in a SIP message.
//!
//! A SIP message (RFC 3261 section 7) carries its SDP offer or answer as
//! the body, after the blank line. The SDP lines read (RFC 4566):
//!
//! - `c=IN IP4 <addr>` / `c=IN IP6 <addr>` (section 5.7): the connection
//!   address, at session level (before the first `m=`) or per media
//!   (overriding the session's);
//! - `m=<media> <port>[/<count>] <proto> ...` (section 5.14): a media
//!   stream; `<proto>` `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`, `RTP/SAVPF`,
//!   `UDP/TLS/RTP/SAVP(F)` run over UDP, `TCP/RTP/AVP` over TCP; other
//!   protocols (`udptl` for T.38, `TCP/MSRP`, ...) are not RTP and are
//!   skipped; port 0 means the stream is refused;
//! - `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605): the RTCP port when it is
//!   not the RTP port + 1, the default of RFC 3550 section 11.
//!
//! Nothing here allocates; every read is bounds-checked.

use std::net::IpAddr;

/// One RTP stream an SDP body announces.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Where the announcer receives RTP.
    pub addr: IpAddr,
    /// The RTP port (never 0).
    pub rtp_port: u16,
    /// Where the announcer receives RTCP (`a=rtcp:` or RTP port + 1).
    pub rtcp_addr: IpAddr,
    /// The RTCP port; `None` when the RTP port is 65535 and no `a=rtcp:` says otherwise.
    pub rtcp_port: Option<u16>,
    /// IP protocol number: 17 (UDP) or 6 (TCP/RTP/AVP).
    pub transport: u8,
}

/// SDP lines looked at, at most: a body with more is cut there.
const MAX_LINES: usize = 256;

/// True when `payload` may be a SIP message carrying SDP: the cheap test
/// run on every UDP or TCP packet with payload before [`for_each_media`].
/// Requests that carry offers or answers (INVITE, ACK, UPDATE, PRACK) and
/// responses.
#[inline]
pub fn may_announce(payload: &[u8]) -> bool {
    let p = &payload[..payload.len().min(8)];
    p == b"SIP/2.0 "
        || p.starts_with(b"INVITE ")
        || p.starts_with(b"ACK ")
        || p.starts_with(b"UPDATE ")
        || p.starts_with(b"PRACK ")
}

/// Calls `f` for each RTP stream of the SDP body of the SIP message
/// `payload` (at most 16). Returns the number of streams found.
///
/// ```
/// use dpi_core::expect::sdp::for_each_media;
///
/// let msg = b"SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n\
/// v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
/// m=audio 40000 RTP/AVP 0 8\r\na=rtcp:40011\r\n";
/// let mut seen = Vec::new();
/// for_each_media(msg, |m| seen.push((m.addr.to_string(), m.rtp_port, m.rtcp_port)));
/// assert_eq!(seen, [("10.0.0.9".to_string(), 40000, Some(40011))]);
/// ```
pub fn for_each_media(payload: &[u8], mut f: impl FnMut(Media)) -> usize {
    let Some(body) = body(payload) else {
        return 0;
    };
    let mut session_addr: Option<IpAddr> = None;
    let mut cur: Option<Pending> = None;
    let mut found = 0;
    let mut emit = |p: Pending, session: Option<IpAddr>, found: &mut usize| {
        if *found >= 16 {
            return;
        }
        let Some(addr) = p.addr.or(session) else {
            return;
        };
        let (rtcp_addr, rtcp_port) = match p.rtcp {
            Some((port, a)) => (a.unwrap_or(addr), Some(port)),
            None => (addr, p.port.checked_add(1)),
        };
        *found += 1;
        f(Media {
            addr,
            rtp_port: p.port,
            rtcp_addr,
            rtcp_port: rtcp_port.filter(|&p| p != 0),
            transport: p.transport,
        });
    };
    for line in body
        .split(|&b| b == b'\n')
        .take(MAX_LINES)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
    {
        if let Some(rest) = line.strip_prefix(b"m=") {
            if let Some(p) = cur.take() {
                emit(p, session_addr, &mut found);
            }
            cur = media_line(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"c=") {
            let addr = connection(rest);
            match &mut cur {
                Some(p) => p.addr = addr.or(p.addr),
                None => session_addr = addr,
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"a=rtcp:") {
            if let Some(p) = &mut cur {
                p.rtcp = rtcp_attr(rest);
            }
        }
    }
    if let Some(p) = cur.take() {
        emit(p, session_addr, &mut found);
    }
    found
}

/// A media section being read.
#[derive(Copy, Clone)]
struct Pending {
    port: u16,
    transport: u8,
    addr: Option<IpAddr>,
    rtcp: Option<(u16, Option<IpAddr>)>,
}

/// The SDP body: what follows the first blank line, when it starts `v=0`.
fn body(payload: &[u8]) -> Option<&[u8]> {
    let crlf = find(payload, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(payload, b"\n\n").map(|i| i + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let body = &payload[start..];
    body.starts_with(b"v=0").then_some(body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `<media> <port>[/<count>] <proto> <fmt> ...`, for RTP protocols.
fn media_line(rest: &[u8]) -> Option<Pending> {
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let _media = words.next()?;
    let port_field = words.next()?;
    let port_text = port_field.split(|&b| b == b'/').next()?;
    let port: u16 = std::str::from_utf8(port_text).ok()?.parse().ok()?;
    let proto = words.next()?;
    let transport = match proto {
        b"RTP/AVP" | b"RTP/SAVP" | b"RTP/AVPF" | b"RTP/SAVPF" | b"UDP/TLS/RTP/SAVP"
        | b"UDP/TLS/RTP/SAVPF" => 17,
        b"TCP/RTP/AVP" | b"TCP/RTP/AVPF" => 6,
        _ => return None,
    };
    (port != 0).then_some(Pending {
        port,
        transport,
        addr: None,
        rtcp: None,
    })
}

/// `IN IP4 <addr>[/ttl]` or `IN IP6 <addr>`.
fn connection(rest: &[u8]) -> Option<IpAddr> {
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    if words.next()? != b"IN" {
        return None;
    }
    let family = words.next()?;
    let addr = words.next()?.split(|&b| b == b'/').next()?;
    let text = std::str::from_utf8(addr).ok()?;
    match family {
        b"IP4" => text.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        b"IP6" => text.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

/// `<port> [IN IP4 <addr>]`.
fn rtcp_attr(rest: &[u8]) -> Option<(u16, Option<IpAddr>)> {
    let mut words = rest.splitn(2, |&b| b == b' ');
    let port: u16 = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    (port != 0).then(|| (port, words.next().and_then(connection)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(msg: &[u8]) -> Vec<Media> {
        let mut v = Vec::new();
        let n = for_each_media(msg, |m| v.push(m));
        assert_eq!(n, v.len());
        v
    }

    #[test]
    fn session_and_media_connections() {
        let msg = b"INVITE sip:b@x SIP/2.0\r\nContent-Length: 1\r\n\r\nv=0\r\n\
c=IN IP4 192.0.2.1\r\nm=audio 49170 RTP/AVP 0\r\n\
m=video 51372 RTP/AVP 99\r\nc=IN IP6 2001:db8::2\r\na=rtcp:53020 IN IP4 192.0.2.7\r\n\
m=image 6000 udptl t38\r\nm=audio 0 RTP/AVP 0\r\n";
        let v = all(msg);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].addr, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (v[0].rtp_port, v[0].rtcp_port, v[0].transport),
            (49170, Some(49171), 17)
        );
        assert_eq!(v[1].addr, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!(v[1].rtcp_addr, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(v[1].rtcp_port, Some(53020));
    }

    #[test]
    fn no_body_no_address_no_media() {
        assert!(all(b"SIP/2.0 180 Ringing\r\n\r\n").is_empty());
        assert!(all(b"SIP/2.0 200 OK\r\n\r\nv=0\r\nm=audio 5 RTP/AVP 0\r\n").is_empty());
        assert!(all(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\n").is_empty());
        assert!(
            all(b"X\r\n\r\nv=0\nc=IN IP4 1.2.3.4\nm=audio 65535 TCP/RTP/AVP 0\n")
                .iter()
                .all(|m| m.rtcp_port.is_none() && m.transport == 6)
        );
        assert!(all(b"X\r\n\r\nv=0\nc=IN IP4 1.2.3.4\nm=audio x RTP/AVP 0\n").is_empty());
    }

    #[test]
    fn cheap_test() {
        assert!(may_announce(b"SIP/2.0 200 OK\r\n"));
        assert!(may_announce(b"INVITE sip:a@b SIP/2.0\r\n"));
        assert!(!may_announce(b"REGISTER sip:a SIP/2.0\r\n"));
        assert!(!may_announce(b"\x80\x00"));
    }
}
