//! FTP announcements of a data connection, read from one control segment.
//!
//! - `227` reply to `PASV` (RFC 959 section 4.1.2 and 4.2): the server
//!   names the address and port it listens on as six decimal numbers
//!   `h1,h2,h3,h4,p1,p2` (port = p1 × 256 + p2), usually in parentheses;
//!   RFC 959 leaves the text around them free, so the first run of six
//!   comma-separated numbers after the code is taken.
//! - `229` reply to `EPSV` (RFC 2428 section 3): `(<d><d><d><port><d>)`,
//!   the delimiter `<d>` any printable character; no address: the data
//!   connection goes to the control connection's server.
//! - `PORT h1,h2,h3,h4,p1,p2` (RFC 959 section 4.1.2) and `EPRT
//!   <d><af><d><address><d><port><d>` (RFC 2428 section 2; af 1 = IPv4,
//!   2 = IPv6): the client names where the server is to connect.
//!
//! Nothing here allocates; every read is bounds-checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Who named the data endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A server reply (`227`, `229`): the sender is the control server.
    Server,
    /// A client command (`PORT`, `EPRT`): the sender is the control client.
    Client,
}

/// A data endpoint announced on an FTP control connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// The address named, `None` for `229` (the control server's own).
    pub addr: Option<IpAddr>,
    /// The TCP port named (never 0).
    pub port: u16,
    /// Whether the segment came from the server or the client.
    pub side: Side,
}

/// The longest line looked at: a reply or command line is short, and a
/// segment that starts with `227` but goes on for kilobytes is not one.
const MAX_LINE: usize = 512;

/// True when `payload` may start an announcement: the cheap test run on
/// every TCP segment with payload before [`parse`].
#[inline]
pub fn may_announce(payload: &[u8]) -> bool {
    matches!(
        payload.get(..4),
        Some(b"227 " | b"229 " | b"227-" | b"229-")
    ) || payload
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"PORT ") || p.eq_ignore_ascii_case(b"EPRT "))
}

/// The data endpoint a control segment announces, if it starts with one of
/// the four messages above and the numbers are well formed.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use dpi_core::expect::ftp::{parse, Side};
///
/// let a = parse(b"227 Entering Passive Mode (10,0,0,2,200,21).\r\n").unwrap();
/// assert_eq!(a.addr, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
/// assert_eq!((a.port, a.side), (200 * 256 + 21, Side::Server));
/// assert_eq!(parse(b"229 Entering Extended Passive Mode (|||6446|)\r\n").unwrap().port, 6446);
/// assert_eq!(parse(b"PORT 10,0,0,1,4,1\r\n").unwrap().port, 1025);
/// assert!(parse(b"227 Entering Passive Mode (10,0,0,2,300,21)\r\n").is_none());
/// ```
pub fn parse(payload: &[u8]) -> Option<Announcement> {
    let line = first_line(payload);
    let head = line.get(..4)?;
    if head == b"227 " || head == b"227-" {
        let (addr, port) = six_numbers(&line[4..])?;
        return announced(Some(addr), port, Side::Server);
    }
    if head == b"229 " || head == b"229-" {
        // The first parenthesis that opens a well-formed field.
        let (addr, port) = line
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'(')
            .find_map(|(i, _)| extended(&line[i + 1..]))?;
        return announced(addr, port, Side::Server);
    }
    let cmd = line.get(..5)?;
    if cmd.eq_ignore_ascii_case(b"PORT ") {
        let (addr, port) = six_numbers(&line[5..])?;
        return announced(Some(addr), port, Side::Client);
    }
    if cmd.eq_ignore_ascii_case(b"EPRT ") {
        let (addr, port) = extended(&line[5..])?;
        return announced(Some(addr?), port, Side::Client);
    }
    None
}

fn announced(addr: Option<IpAddr>, port: u16, side: Side) -> Option<Announcement> {
    (port != 0).then_some(Announcement { addr, port, side })
}

/// The bytes up to the first line end, at most [`MAX_LINE`].
fn first_line(payload: &[u8]) -> &[u8] {
    let cut = &payload[..payload.len().min(MAX_LINE)];
    match cut.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => &cut[..end],
        None => cut,
    }
}

/// A decimal number of at most 5 digits at the start of `s`, with the
/// digits read.
fn number(s: &[u8]) -> Option<(u32, usize)> {
    let digits = s.iter().take(6).take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 5 {
        return None;
    }
    let v = s[..digits]
        .iter()
        .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    Some((v, digits))
}

/// The first run of six comma-separated numbers of 0..=255 in `s`.
fn six_numbers(s: &[u8]) -> Option<(IpAddr, u16)> {
    let mut start = 0;
    while start < s.len() {
        if s[start].is_ascii_digit() && (start == 0 || !s[start - 1].is_ascii_digit()) {
            if let Some(r) = six_at(&s[start..]) {
                return Some(r);
            }
        }
        start += 1;
    }
    None
}

fn six_at(s: &[u8]) -> Option<(IpAddr, u16)> {
    let mut v = [0u8; 6];
    let mut at = 0;
    for (i, slot) in v.iter_mut().enumerate() {
        if i > 0 {
            // Spaces after the comma occur in the wild ("10, 0, 0, 2, ...").
            if s.get(at) != Some(&b',') {
                return None;
            }
            at += 1;
            while s.get(at) == Some(&b' ') {
                at += 1;
            }
        }
        let (n, len) = number(s.get(at..)?)?;
        *slot = u8::try_from(n).ok()?;
        at += len;
    }
    let addr = IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]));
    Some((addr, u16::from(v[4]) << 8 | u16::from(v[5])))
}

/// `<d><af><d><address><d><port><d>` (EPRT) or `<d><d><d><port><d>`
/// (the 229 reply): the address, when there is one, and the port.
fn extended(s: &[u8]) -> Option<(Option<IpAddr>, u16)> {
    let d = *s.first()?;
    if !(33..=126).contains(&d) || d.is_ascii_digit() {
        return None;
    }
    let mut fields = s[1..].split(|&b| b == d);
    let af = fields.next()?;
    let addr = fields.next()?;
    let port = fields.next()?;
    // The closing delimiter must be there.
    fields.next()?;
    let (p, len) = number(port)?;
    if len != port.len() {
        return None;
    }
    let port = u16::try_from(p).ok()?;
    let addr = match (af, addr) {
        (b"", b"") => None,
        (b"1", a) => Some(IpAddr::V4(std::str::from_utf8(a).ok()?.parse().ok()?)),
        (b"2", a) => Some(IpAddr::V6(
            std::str::from_utf8(a).ok()?.parse::<Ipv6Addr>().ok()?,
        )),
        _ => return None,
    };
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn passive_replies() {
        let a = parse(b"227 Entering Passive Mode (90,130,70,73,100,85)\r\n").unwrap();
        assert_eq!(
            (a.addr, a.port, a.side),
            (v4(90, 130, 70, 73), 25685, Side::Server)
        );
        // No parentheses, spaces after commas, text before.
        let a = parse(b"227 =192,168,1,2, 4, 1 ok\r\n").unwrap();
        assert_eq!((a.addr, a.port), (v4(192, 168, 1, 2), 1025));
        // The reply code alone or numbers out of range announce nothing.
        assert!(parse(b"227 Entering Passive Mode\r\n").is_none());
        assert!(parse(b"227 (1,2,3,4,5)\r\n").is_none());
        assert!(parse(b"227 (1,2,3,4,0,0)\r\n").is_none());
        assert!(parse(b"227 (1,2,3,4,5,123456)\r\n").is_none());
        // The numbers must be on the first line.
        assert!(parse(b"227 wait\r\n(1,2,3,4,5,6)\r\n").is_none());
    }

    #[test]
    fn extended_passive_and_active() {
        let a = parse(b"229 Entering Extended Passive Mode (|||6446|)\r\n").unwrap();
        assert_eq!((a.addr, a.port, a.side), (None, 6446, Side::Server));
        let a = parse(b"EPRT |1|132.235.1.2|6275|\r\n").unwrap();
        assert_eq!(
            (a.addr, a.port, a.side),
            (v4(132, 235, 1, 2), 6275, Side::Client)
        );
        let a = parse(b"eprt |2|1080::8:800:200C:417A|5282|\r\n").unwrap();
        assert_eq!(a.addr, Some("1080::8:800:200C:417A".parse().unwrap()));
        assert_eq!(a.port, 5282);
        let a = parse(b"PORT 10,0,0,1,4,1\r\n").unwrap();
        assert_eq!(
            (a.addr, a.port, a.side),
            (v4(10, 0, 0, 1), 1025, Side::Client)
        );
        for bad in [
            &b"229 (|||70000|)"[..],
            b"229 (||6446|)",
            b"229 (|||6446)",
            b"EPRT |3|1.2.3.4|5|",
            b"EPRT |1|1.2.3|5|",
            b"EPRT ||||",
            b"PORT 1,2,3",
            b"PORTS",
            b"",
        ] {
            assert!(parse(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn cheap_test_agrees_with_the_parser() {
        for p in [
            &b"227 (1,2,3,4,5,6)"[..],
            b"229 (|||6446|)",
            b"PORT 1,2,3,4,5,6",
            b"EPRT |1|1.2.3.4|5|",
        ] {
            assert!(may_announce(p) && parse(p).is_some());
        }
        assert!(!may_announce(b"220 ftp ready"));
        assert!(!may_announce(b"GET / HTTP/1.1"));
    }
}
