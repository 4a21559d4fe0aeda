//! The sample captures: one function per file, each returning a finished
//! [`Capture`]. Shared helpers live here.

mod dns;
mod mixed;
mod tcp_services;
mod tunnels;
mod vlan_ipv6;
mod web;

use crate::capture::{Capture, Host, Path, NS_PER_MS};
use crate::link::Link;
use crate::proto::{Dialogue, From};
use crate::tcp::TcpSession;

/// Every sample capture, in manifest order.
pub fn all() -> Vec<Capture> {
    vec![
        web::build(),
        dns::build(),
        mixed::build(),
        tcp_services::build(),
        vlan_ipv6::build(),
        tunnels::build(),
    ]
}

/// The router/gateway MAC used for every off-link host.
pub const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];

/// A locally administered MAC ending in `n`.
pub fn mac(n: u8) -> [u8; 6] {
    [0x02, 0x42, 0xac, 0x11, 0x00, n]
}

/// A host on the captured LAN (TTL 64, own MAC).
pub fn lan(ip: &str, n: u8) -> Host {
    Host::new(ip, mac(n), 64)
}

/// A host behind the router, `hops` away.
pub fn remote(ip: &str, hops: u8) -> Host {
    Host::new(ip, GATEWAY_MAC, 64 - hops)
}

/// A path on interface 0 with Ethernet framing, captured at the client.
pub fn eth(client: Host, cport: u16, server: Host, sport: u16) -> Path {
    Path {
        iface: 0,
        link: Link::Ethernet,
        client,
        server,
        cport,
        sport,
        server_side: false,
        tunnel: None,
    }
}

/// A new TCP session on `path`, starting at `start_ns`, with seeded ISNs and
/// the MSS of a 1500-byte MTU for the path's address family.
pub fn session(cap: &mut Capture, path: &Path, start_ns: u64, rtt_ms: u64) -> TcpSession {
    let c = cap.rng.next_u32();
    let s = cap.rng.next_u32();
    TcpSession::new(start_ns, rtt_ms * NS_PER_MS, c, s, usize::from(mss(path)))
}

/// MSS for a 1500-byte MTU: 1460 over IPv4, 1440 over IPv6.
pub fn mss(path: &Path) -> u16 {
    if path.client.ip.is_ipv6() {
        1440
    } else {
        1460
    }
}

/// Plays a scripted exchange: the client "thinks" `client_think_ns` before
/// each of its messages that follow a server message; the server answers
/// after `server_think_ns`.
pub fn play(
    sess: &mut TcpSession,
    dialogue: &Dialogue,
    client_think_ns: u64,
    server_think_ns: u64,
) {
    let mut last: Option<From> = None;
    for (who, msg) in dialogue {
        if last.is_some() && last != Some(*who) {
            sess.pause(if *who == From::Client {
                client_think_ns
            } else {
                server_think_ns
            });
        }
        match who {
            From::Client => sess.client(msg),
            From::Server => sess.server(msg),
        };
        last = Some(*who);
    }
}
