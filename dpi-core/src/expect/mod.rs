//! Cross-flow knowledge: what one flow says about another.
//!
//! Some flows are named by an earlier flow of the same capture rather than
//! by their own bytes:
//!
//! - an FTP control connection announces each data connection (`PASV`,
//!   `EPSV`, `PORT`, `EPRT`: [`ftp`]); the data connection is `FTP_DATA`;
//! - a SIP message's SDP body announces where each RTP stream and its RTCP
//!   go (`c=`, `m=`, `a=rtcp:`: [`sdp`]); the media flows are `RTP` and
//!   `RTCP`;
//! - a DNS answer names an address ([`dns_cache`]); a later flow to that
//!   address without a host name of its own gets its application from the
//!   name the client asked for (nDPI's "DNS cache").
//!
//! [`Expectations`] holds both tables, bounded in entries and in time.
//! [`FlowMeter`](crate::FlowMeter) feeds it with every packet's payload as
//! packets arrive, before the packet is accounted, after a cheap test
//! (port or first bytes) that lets other packets through at the cost of a
//! few comparisons; when a packet makes a new flow, the flow's endpoints
//! are looked up and what matched is attached to it ([`Flow::cross`](crate::Flow::cross),
//! seen by the classifier through [`FlowView::cross`](crate::FlowView::cross)).
//! A data flow that starts while its control flow is still live is thus
//! matched when it is made, as nDPI does it online.
//!
//! Each attachment names the announcing flow ([`Announcer`]); `dpi
//! classify` writes it in `reason` (`expected from FTP_CONTROL
//! 10.0.0.2:51234 <-> 10.0.0.1:21`).
//!
//! [`starttls`] is the in-session counterpart: a plain-text session that
//! switches to TLS on a command, named as nDPI names it (`SMTPS`, `IMAPS`,
//! `POPS`, `FTPS`).
//!
//! # Bounds
//!
//! | table | entries (default) | kept for | bytes per entry (slot + index, x86-64) |
//! | --- | --- | --- | --- |
//! | announced endpoints | 1,024 | 300 s | 136 + about 50 |
//! | DNS address → name | 4,096 | 3,600 s | 376 (the name in place, up to 255 bytes) + about 50 |
//!
//! Both tables are fixed arrays replaced by a clock (second chance): an
//! entry looked up since the hand last passed survives one more turn; a
//! full table replaces the first entry the hand finds unused. An entry
//! past its age is ignored and replaced in turn. The arrays are made at
//! the first entry (a capture without FTP, SIP or DNS answers costs
//! nothing), so at most about 2.2 MB per meter with the defaults; nothing
//! is allocated per packet after that. DNS record TTLs are not used:
//! nDPI's cache ignores them too, and a capture replayed later than the
//! TTL still names its flows.

pub mod dns_cache;
pub mod ftp;
pub mod sdp;
pub mod starttls;

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hashbrown::HashMap;

use crate::{Packet, Timestamp};

/// IP protocol numbers.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// Table sizes and ages.
///
/// ```
/// use dpi_core::expect::ExpectConfig;
/// let cfg = ExpectConfig::default();
/// assert_eq!((cfg.endpoints, cfg.dns_names), (1024, 4096));
/// assert_eq!(ExpectConfig::off().endpoints, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectConfig {
    /// Announced endpoints kept (FTP data, RTP, RTCP). 0 turns them off.
    pub endpoints: usize,
    /// How long an announced endpoint waits for its flow. Default 300 s.
    pub endpoint_age: Duration,
    /// DNS address → name entries kept. 0 turns the cache off.
    pub dns_names: usize,
    /// How long a DNS answer names its address. Default 3,600 s.
    pub dns_age: Duration,
}

impl Default for ExpectConfig {
    fn default() -> Self {
        ExpectConfig {
            endpoints: 1024,
            endpoint_age: Duration::from_secs(300),
            dns_names: 4096,
            dns_age: Duration::from_secs(3600),
        }
    }
}

impl ExpectConfig {
    /// Both tables off: flows are named by their own bytes only.
    pub fn off() -> Self {
        ExpectConfig {
            endpoints: 0,
            dns_names: 0,
            ..ExpectConfig::default()
        }
    }
}

/// The flow whose message announced something: its protocol and its two
/// endpoints (for FTP and DNS the control client or resolver's client
/// first; for SIP the sender of the message first).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Announcer {
    /// `FTP_CONTROL`, `SIP` or `DNS`.
    pub protocol: &'static str,
    /// IP protocol number of the announcing flow.
    pub transport: u8,
    /// The first endpoint (see above).
    pub client: SocketAddr,
    /// The second endpoint.
    pub server: SocketAddr,
}

impl fmt::Display for Announcer {
    /// `FTP_CONTROL 10.0.0.2:51234 <-> 10.0.0.1:21`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} <-> {}", self.protocol, self.client, self.server)
    }
}

/// A flow announced by another one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// What the flow is: `FTP_DATA`, `RTP` or `RTCP`.
    pub protocol: &'static str,
    /// Who announced it.
    pub by: Announcer,
}

/// A host name for the flow's server address, from an earlier DNS answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedName {
    /// The name the client asked for (lower case).
    pub name: Box<str>,
    /// The DNS flow that answered.
    pub by: Announcer,
}

/// What other flows said about a flow when it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrossFlow {
    /// The flow was announced by a control flow.
    pub expected: Option<Expected>,
    /// Its server address was named by a DNS answer.
    pub dns: Option<CachedName>,
}

/// A fixed-size table replaced by a clock (second chance).
struct Clock<K, V> {
    cap: usize,
    index: HashMap<K, u32>,
    slots: Vec<(K, V, bool)>,
    hand: usize,
}

impl<K: Copy + Eq + Hash, V> Clock<K, V> {
    fn new(cap: usize) -> Self {
        Clock {
            cap: cap.min(1 << 24),
            index: HashMap::new(),
            slots: Vec::new(),
            hand: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn insert(&mut self, key: K, value: V) {
        if self.cap == 0 {
            return;
        }
        if self.slots.is_empty() {
            // Made once, at the first entry; twice the entries so that the
            // index never grows (hashbrown rehashes in place below half).
            self.index.reserve(2 * self.cap);
            self.slots.reserve_exact(self.cap);
        }
        if let Some(&i) = self.index.get(&key) {
            if let Some(slot) = self.slots.get_mut(i as usize) {
                *slot = (key, value, true);
            }
            return;
        }
        if self.slots.len() < self.cap {
            self.index.insert(key, self.slots.len() as u32);
            self.slots.push((key, value, false));
            return;
        }
        // Second chance: clear the referenced bits the hand passes, at most
        // one turn, then take the slot under the hand.
        for _ in 0..self.cap {
            let slot = &mut self.slots[self.hand];
            if !slot.2 {
                break;
            }
            slot.2 = false;
            self.hand = (self.hand + 1) % self.cap;
        }
        let i = self.hand;
        self.hand = (self.hand + 1) % self.cap;
        let old = self.slots[i].0;
        self.index.remove(&old);
        self.slots[i] = (key, value, false);
        self.index.insert(key, i as u32);
    }

    fn get(&mut self, key: &K) -> Option<&V> {
        let &i = self.index.get(key)?;
        let slot = self.slots.get_mut(i as usize)?;
        slot.2 = true;
        Some(&slot.1)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Hash)]
struct EndpointKey {
    addr: IpAddr,
    port: u16,
    transport: u8,
}

struct Announced {
    protocol: &'static str,
    by: Announcer,
    until: Timestamp,
}

struct DnsEntry {
    name: dns_cache::Name,
    by: Announcer,
    until: Timestamp,
}

/// The per-capture tables: announced endpoints and the DNS cache.
///
/// [`FlowMeter`](crate::FlowMeter) owns one and drives it; a probe with its
/// own packet loop can drive one with [`observe`](Self::observe) and
/// [`lookup`](Self::lookup).
///
/// ```
/// use dpi_core::expect::Expectations;
/// use dpi_core::testing::tcp_ipv4_frame;
/// use dpi_core::{decode, LinkType, TcpInfo, Timestamp};
///
/// let mut x = Expectations::default();
/// let reply = tcp_ipv4_frame([10, 0, 0, 1], 21, [10, 0, 0, 2], 51234, 1, 1, TcpInfo::ACK,
///     b"227 Entering Passive Mode (10,0,0,1,195,80)\r\n");
/// x.observe(Timestamp::from_micros(1), &decode(LinkType::ETHERNET, &reply).unwrap());
/// let syn = tcp_ipv4_frame([10, 0, 0, 2], 40000, [10, 0, 0, 1], 50000, 1, 0, TcpInfo::SYN, b"");
/// let cross = x.lookup(Timestamp::from_micros(2), &decode(LinkType::ETHERNET, &syn).unwrap()).unwrap();
/// let e = cross.expected.unwrap();
/// assert_eq!(e.protocol, "FTP_DATA");
/// assert_eq!(e.by.to_string(), "FTP_CONTROL 10.0.0.2:51234 <-> 10.0.0.1:21");
/// ```
pub struct Expectations {
    endpoint_ns: u64,
    dns_ns: u64,
    endpoints: Clock<EndpointKey, Announced>,
    dns: Clock<IpAddr, DnsEntry>,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations::new(&ExpectConfig::default())
    }
}

impl fmt::Debug for Expectations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expectations")
            .field("endpoints", &self.endpoints.len())
            .field("dns_names", &self.dns.len())
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn later(ts: Timestamp, ns: u64) -> Timestamp {
    Timestamp::from_nanos(ts.as_nanos().saturating_add(ns))
}

impl Expectations {
    /// Empty tables of the given bounds (nothing is allocated until the
    /// first entry).
    pub fn new(cfg: &ExpectConfig) -> Self {
        Expectations {
            endpoint_ns: nanos(cfg.endpoint_age),
            dns_ns: nanos(cfg.dns_age),
            endpoints: Clock::new(cfg.endpoints),
            dns: Clock::new(cfg.dns_names),
        }
    }

    /// Announced endpoints held (live or aged, not yet replaced).
    pub fn endpoints(&self) -> usize {
        self.endpoints.len()
    }

    /// DNS cache entries held.
    pub fn dns_names(&self) -> usize {
        self.dns.len()
    }

    /// Reads what one packet announces, if anything. Packets without
    /// payload and packets whose first bytes or port rule out FTP, SIP and
    /// DNS answers cost a few comparisons.
    pub fn observe(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
        let p = pkt.payload;
        if p.len() < 4 {
            return;
        }
        match pkt.protocol {
            TCP => {
                if ftp::may_announce(p) {
                    self.ftp(ts, pkt);
                } else if sdp::may_announce(p) {
                    self.sdp(ts, pkt);
                }
            }
            UDP => {
                if dns_cache::may_answer(pkt.src_port, p) {
                    self.dns_answer(ts, pkt);
                } else if sdp::may_announce(p) {
                    self.sdp(ts, pkt);
                }
            }
            _ => {}
        }
    }

    /// Whether [`observe`](Self::observe) would look further than its first
    /// test at `pkt`: false means observing it changes nothing.
    pub(crate) fn may_announce(pkt: &Packet<'_>) -> bool {
        let p = pkt.payload;
        p.len() >= 4
            && match pkt.protocol {
                TCP => ftp::may_announce(p) || sdp::may_announce(p),
                UDP => dns_cache::may_answer(pkt.src_port, p) || sdp::may_announce(p),
                _ => false,
            }
    }

    /// What the tables say about a flow made by `pkt` (its first packet):
    /// `None` when nothing. Looks up the packet's destination, then its
    /// source, among the announced endpoints (media may flow first from
    /// the announced side), and the server's address in the DNS cache.
    pub fn lookup(&mut self, ts: Timestamp, pkt: &Packet<'_>) -> Option<CrossFlow> {
        if self.endpoints.is_empty() && self.dns.is_empty() {
            return None;
        }
        let mut cross = CrossFlow::default();
        if !self.endpoints.is_empty() {
            for (addr, port) in [(pkt.dst, pkt.dst_port), (pkt.src, pkt.src_port)] {
                let key = EndpointKey {
                    addr,
                    port,
                    transport: pkt.protocol,
                };
                if let Some(a) = self.endpoints.get(&key).filter(|a| ts <= a.until) {
                    cross.expected = Some(Expected {
                        protocol: a.protocol,
                        by: a.by,
                    });
                    break;
                }
            }
        }
        if !self.dns.is_empty() {
            let syn_ack = pkt.tcp.is_some_and(|t| {
                t.flags & (crate::TcpInfo::SYN | crate::TcpInfo::ACK)
                    == crate::TcpInfo::SYN | crate::TcpInfo::ACK
            });
            let server = if syn_ack { pkt.src } else { pkt.dst };
            if let Some(e) = self.dns.get(&server).filter(|e| ts <= e.until) {
                cross.dns = Some(CachedName {
                    name: e.name.as_str().into(),
                    by: e.by,
                });
            }
        }
        (cross != CrossFlow::default()).then_some(cross)
    }

    fn announce(&mut self, key: EndpointKey, protocol: &'static str, by: Announcer, ts: Timestamp) {
        let until = later(ts, self.endpoint_ns);
        self.endpoints.insert(
            key,
            Announced {
                protocol,
                by,
                until,
            },
        );
    }

    fn ftp(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
        let Some(a) = ftp::parse(pkt.payload) else {
            return;
        };
        let (src, dst) = (
            SocketAddr::new(pkt.src, pkt.src_port),
            SocketAddr::new(pkt.dst, pkt.dst_port),
        );
        let (by, named_by) = match a.side {
            ftp::Side::Server => ((dst, src), pkt.src),
            ftp::Side::Client => ((src, dst), pkt.src),
        };
        let by = Announcer {
            protocol: "FTP_CONTROL",
            transport: TCP,
            client: by.0,
            server: by.1,
        };
        let addr = a.addr.unwrap_or(named_by);
        let key = |addr| EndpointKey {
            addr,
            port: a.port,
            transport: TCP,
        };
        self.announce(key(addr), "FTP_DATA", by, ts);
        // A server behind NAT names its private address; the client
        // connects to the public one it reached the control port on.
        if addr != named_by {
            self.announce(key(named_by), "FTP_DATA", by, ts);
        }
    }

    fn sdp(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
        let by = Announcer {
            protocol: "SIP",
            transport: pkt.protocol,
            client: SocketAddr::new(pkt.src, pkt.src_port),
            server: SocketAddr::new(pkt.dst, pkt.dst_port),
        };
        let mut found = [None; 16];
        let mut n = 0;
        sdp::for_each_media(pkt.payload, |m| {
            if let Some(slot) = found.get_mut(n) {
                *slot = Some(m);
                n += 1;
            }
        });
        for m in found.iter().flatten() {
            let rtp = EndpointKey {
                addr: m.addr,
                port: m.rtp_port,
                transport: m.transport,
            };
            self.announce(rtp, "RTP", by, ts);
            if let Some(port) = m
                .rtcp_port
                .filter(|&p| p != m.rtp_port || m.rtcp_addr != m.addr)
            {
                let rtcp = EndpointKey {
                    addr: m.rtcp_addr,
                    port,
                    transport: m.transport,
                };
                self.announce(rtcp, "RTCP", by, ts);
            }
        }
    }

    fn dns_answer(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
        if self.dns.cap == 0 {
            return;
        }
        let by = Announcer {
            protocol: "DNS",
            transport: pkt.protocol,
            client: SocketAddr::new(pkt.dst, pkt.dst_port),
            server: SocketAddr::new(pkt.src, pkt.src_port),
        };
        let until = later(ts, self.dns_ns);
        let dns = &mut self.dns;
        dns_cache::for_each_answer(pkt.payload, |ip, name| {
            dns.insert(
                ip,
                DnsEntry {
                    name: *name,
                    by,
                    until,
                },
            );
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
