//! DHCP (RFC 2131, options RFC 2132) in BOOTP messages.

use super::{put16, put32};

/// The magic cookie that starts the options field.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// DHCP message types (option 53).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// DHCPDISCOVER.
    Discover = 1,
    /// DHCPOFFER.
    Offer = 2,
    /// DHCPREQUEST.
    Request = 3,
    /// DHCPACK.
    Ack = 5,
}

/// Addresses of a server message.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    /// Offered address (yiaddr).
    pub yiaddr: [u8; 4],
    /// Server identifier.
    pub server: [u8; 4],
    /// Router.
    pub router: [u8; 4],
    /// DNS server.
    pub dns: [u8; 4],
}

fn option(out: &mut Vec<u8>, code: u8, data: &[u8]) {
    out.push(code);
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

fn bootp(
    op: u8,
    xid: u32,
    secs: u16,
    chaddr: [u8; 6],
    yiaddr: [u8; 4],
    siaddr: [u8; 4],
) -> Vec<u8> {
    let mut out = vec![op, 1, 6, 0];
    put32(&mut out, xid);
    put16(&mut out, secs);
    put16(&mut out, 0x8000); // broadcast flag
    out.extend_from_slice(&[0; 4]); // ciaddr
    out.extend_from_slice(&yiaddr);
    out.extend_from_slice(&siaddr);
    out.extend_from_slice(&[0; 4]); // giaddr
    out.extend_from_slice(&chaddr);
    out.extend_from_slice(&[0; 10]);
    out.extend_from_slice(&[0; 64]); // sname
    out.extend_from_slice(&[0; 128]); // file
    out.extend_from_slice(&MAGIC_COOKIE);
    out
}

/// A client message (DISCOVER or REQUEST) from `chaddr` with hostname and parameter list.
pub fn client(
    kind: Kind,
    xid: u32,
    chaddr: [u8; 6],
    hostname: &str,
    requested: Option<[u8; 4]>,
    server: Option<[u8; 4]>,
) -> Vec<u8> {
    let mut out = bootp(1, xid, 3, chaddr, [0; 4], [0; 4]);
    option(&mut out, 53, &[kind as u8]);
    let mut client_id = vec![1];
    client_id.extend_from_slice(&chaddr);
    option(&mut out, 61, &client_id);
    if let Some(addr) = requested {
        option(&mut out, 50, &addr);
    }
    if let Some(addr) = server {
        option(&mut out, 54, &addr);
    }
    option(&mut out, 57, &1500u16.to_be_bytes());
    option(&mut out, 12, hostname.as_bytes());
    option(&mut out, 55, &[1, 121, 3, 6, 15, 108, 114, 119, 252, 42]);
    out.push(255);
    pad_to_minimum(&mut out);
    out
}

/// A server message (OFFER or ACK) for `lease`.
pub fn server(kind: Kind, xid: u32, chaddr: [u8; 6], lease: &Lease) -> Vec<u8> {
    let mut out = bootp(2, xid, 0, chaddr, lease.yiaddr, lease.server);
    option(&mut out, 53, &[kind as u8]);
    option(&mut out, 54, &lease.server);
    option(&mut out, 51, &86_400u32.to_be_bytes());
    option(&mut out, 58, &43_200u32.to_be_bytes());
    option(&mut out, 59, &75_600u32.to_be_bytes());
    option(&mut out, 1, &[255, 255, 255, 0]);
    option(&mut out, 3, &lease.router);
    option(&mut out, 6, &lease.dns);
    option(&mut out, 15, b"lan");
    out.push(255);
    pad_to_minimum(&mut out);
    out
}

/// BOOTP messages are at least 300 bytes (RFC 1542).
fn pad_to_minimum(out: &mut Vec<u8>) {
    if out.len() < 300 {
        out.resize(300, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let d = client(
            Kind::Discover,
            0x3903f326,
            [2, 0, 0, 0, 0, 9],
            "laptop",
            None,
            None,
        );
        assert_eq!(d.len(), 300);
        assert_eq!(d[236..240], MAGIC_COOKIE);
        assert_eq!(d[240..243], [53, 1, 1]);
        assert_eq!(d[28..34], [2, 0, 0, 0, 0, 9]);
    }
}
