//! DNS answers read as they pass: which name an address was given for.
//!
//! A response (RFC 1035 section 4.1: header QR bit set, RCODE 0) names its
//! question and answers it with resource records; every `A` (type 1, 4
//! bytes) and `AAAA` (type 28, RFC 3596, 16 bytes) record of class IN in
//! the answer section maps its address to the *question's* name (the
//! name the client asked for, as nDPI's DNS cache keeps it, not the last
//! CNAME target). Names are read into a fixed buffer (at most 255 bytes,
//! RFC 1035 section 2.3.4), lower-cased, following compression pointers
//! (section 4.1.4) for at most 16 hops.
//!
//! Nothing here allocates; every read is bounds-checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name kept (RFC 1035 section 2.3.4: 255 octets on the wire,
/// 253 characters in text).
pub const MAX_NAME: usize = 255;

/// A host name held without allocation.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Name {
    len: u8,
    bytes: [u8; MAX_NAME],
}

impl Name {
    /// The empty name.
    pub const EMPTY: Name = Name {
        len: 0,
        bytes: [0; MAX_NAME],
    };

    /// The name's text (dot-separated labels, lower case).
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes other than controls are ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    fn push(&mut self, b: u8) -> Option<()> {
        let at = usize::from(self.len);
        *self.bytes.get_mut(at)? = b;
        self.len = u8::try_from(at + 1).ok()?;
        Some(())
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when a UDP datagram may be a DNS response: from port 53, at least
/// a header long, QR set, RCODE 0 and an answer count. The cheap test run
/// before [`for_each_answer`].
#[inline]
pub fn may_answer(src_port: u16, payload: &[u8]) -> bool {
    src_port == 53
        && payload.len() > 12
        && payload[2] & 0x80 != 0
        && payload[3] & 0x0f == 0
        && (payload[6] != 0 || payload[7] != 0)
}

/// Calls `f(address, question name)` for each A and AAAA answer of the DNS
/// response `msg`. Returns the number of answers given to `f`; a message
/// cut short gives the answers before the cut.
///
/// ```
/// use dpi_core::expect::dns_cache::for_each_answer;
///
/// let mut msg = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\
/// \x03www\x07Example\x03com\x00\x00\x01\x00\x01".to_vec();
/// msg.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22");
/// let mut seen = Vec::new();
/// for_each_answer(&msg, |ip, name| seen.push((ip.to_string(), name.as_str().to_string())));
/// assert_eq!(seen, [("93.184.216.34".to_string(), "www.example.com".to_string())]);
/// ```
pub fn for_each_answer(msg: &[u8], mut f: impl FnMut(IpAddr, &Name)) -> usize {
    let count = |at: usize| -> usize {
        msg.get(at..at + 2)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let (qd, an) = (count(4), count(6));
    if qd == 0 || an == 0 || msg.len() < 12 || msg[2] & 0x80 == 0 || msg[3] & 0x0f != 0 {
        return 0;
    }
    let mut question = Name::EMPTY;
    let Some(mut at) = read_name(msg, 12, &mut question) else {
        return 0;
    };
    if question.len == 0 {
        return 0;
    }
    at += 4;
    // Further questions (rare) are skipped.
    for _ in 1..qd.min(16) {
        let mut skip = Name::EMPTY;
        let Some(next) = read_name(msg, at, &mut skip) else {
            return 0;
        };
        at = next + 4;
    }
    let mut given = 0;
    for _ in 0..an.min(256) {
        let mut owner = Name::EMPTY;
        let Some(next) = read_name(msg, at, &mut owner) else {
            break;
        };
        let Some(fixed) = msg.get(next..next + 10) else {
            break;
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]) & 0x7fff;
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let Some(rdata) = msg.get(next + 10..next + 10 + rdlen) else {
            break;
        };
        at = next + 10 + rdlen;
        if class != 1 {
            continue;
        }
        let ip = match (rtype, rdata.len()) {
            (1, 4) => IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
            (28, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => continue,
        };
        given += 1;
        f(ip, &question);
    }
    given
}

/// Reads the name at `at` into `out` (text form, lower case) and returns
/// the offset after it in the message (after the first pointer, if any).
fn read_name(msg: &[u8], mut at: usize, out: &mut Name) -> Option<usize> {
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(end.unwrap_or(at + 1)),
            0x00 => {
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                if out.len > 0 {
                    out.push(b'.')?;
                }
                for &b in label {
                    // Printable ASCII only; other bytes make the name unusable.
                    if !(0x21..0x7f).contains(&b) || b == b'.' {
                        return None;
                    }
                    out.push(b.to_ascii_lowercase())?;
                }
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(at + 1)?;
                if end.is_none() {
                    end = Some(at + 2);
                }
                hops += 1;
                if hops > 16 {
                    return None;
                }
                at = usize::from(len & 0x3f) << 8 | usize::from(low);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(answers: &[u8], an: u8) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, an, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03cdn\x07Netflix\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(answers);
        m
    }

    #[test]
    fn cname_chain_maps_addresses_to_the_question() {
        let mut ans = Vec::new();
        // CNAME to a.b (uncompressed), then A and AAAA for a.b.
        ans.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x05\x01a\x01b\x00");
        ans.extend_from_slice(b"\xc0\x2d\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07");
        ans.extend_from_slice(b"\xc0\x2d\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10");
        ans.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let msg = response(&ans, 3);
        let mut seen = Vec::new();
        assert_eq!(
            for_each_answer(&msg, |ip, n| seen.push((ip, n.as_str().to_string()))),
            2
        );
        assert_eq!(seen[0].0, "10.0.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(seen[1].0, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(seen.iter().all(|(_, n)| n == "cdn.netflix.com"));
    }

    #[test]
    fn cut_and_hostile_messages() {
        let a = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07";
        let msg = response(a, 2);
        assert_eq!(for_each_answer(&msg, |_, _| {}), 1, "second answer missing");
        for cut in 0..msg.len() - 1 {
            assert_eq!(for_each_answer(&msg[..cut], |_, _| {}), 0);
        }
        // A pointer loop.
        let mut looped = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        looped.extend_from_slice(b"\xc0\x0c");
        assert_eq!(for_each_answer(&looped, |_, _| {}), 0);
        // A query (QR clear) and an error response give nothing.
        let mut q = msg.clone();
        q[2] = 0x01;
        assert_eq!(for_each_answer(&q, |_, _| {}), 0);
        let mut e = msg;
        e[3] = 0x83;
        assert_eq!(for_each_answer(&e, |_, _| {}), 0);
        assert!(!may_answer(53, &e));
    }
}
