//! Protocol fields ("metadata"): the server name and the fields behind a
//! flow's label, read from the first bytes captured per direction.
//!
//! - [`Metadata`] is what comes out: every field optional, documented once.
//! - [`extract`] (also [`Flow::metadata`](crate::Flow::metadata) and
//!   [`FlowView::metadata`](crate::FlowView::metadata)) runs the parsers
//!   that apply to a flow and merges what they find.
//! - One module per protocol, each a pure parser over bytes that never
//!   panics and tells an incomplete message ([`Status::Incomplete`]: the
//!   capture ended inside it; the fields read so far are kept) from an
//!   invalid one ([`Status::Invalid`]): [`tls`], [`quic`], [`http`],
//!   [`dns`], [`ssh`], [`dhcp`], [`sip`], [`stun`], [`smtp`], [`socks`].
//!
//! # The registry
//!
//! A table of [`Dissector`]s, one line per protocol: its name, a priority,
//! a cheap test of whether it applies (transport, ports, first bytes) and
//! its extraction. Every dissector that applies runs, in the order of
//! (priority, name), and a field already set by an earlier one is kept, so
//! the answer never depends on the order of the table. Adding a protocol is
//! one file and one line in [`DISSECTORS`].
//!
//! Cost: a flow without payload returns at once; otherwise each dissector's
//! test looks at a few bytes and ports, and only the parsers that apply
//! allocate (the strings they return).
//!
//! ```
//! use dpi_core::FlowView;
//!
//! let view = FlowView::new(6, 80).with_c2s(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n\r\n");
//! let meta = view.metadata();
//! assert_eq!(meta.hostname.as_deref(), Some("example.com"));
//! assert_eq!(meta.http_url.as_deref(), Some("/index.html"));
//! assert_eq!(meta.http_user_agent.as_deref(), Some("curl/8.0"));
//! assert_eq!(meta.dissector, Some("http"));
//! ```

use crate::FlowView;

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod quic;
mod reader;
pub mod sip;
pub mod smtp;
pub mod socks;
pub mod ssh;
pub mod stun;
pub mod tls;

#[cfg(test)]
mod proptests;

/// How far a parser got through a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The message was read to its end.
    Complete,
    /// The bytes ended inside the message; what was read before is kept.
    Incomplete,
    /// The bytes are not this protocol, or a field is wrong.
    Invalid,
}

/// What a parser read, and how far it got. `value` holds the fields read
/// before the end or the error (none when not even the start was read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<T> {
    /// The fields read.
    pub value: Option<T>,
    /// Whether the message was complete.
    pub status: Status,
}

impl<T> Parsed<T> {
    pub(crate) fn complete(v: T) -> Self {
        Parsed {
            value: Some(v),
            status: Status::Complete,
        }
    }

    pub(crate) fn incomplete(v: Option<T>) -> Self {
        Parsed {
            value: v,
            status: Status::Incomplete,
        }
    }

    pub(crate) fn invalid(v: Option<T>) -> Self {
        Parsed {
            value: v,
            status: Status::Invalid,
        }
    }

    /// Maps the value, keeping the status.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: self.value.map(f),
            status: self.status,
        }
    }
}

/// The protocol fields of one flow. Every field is optional: `None` when
/// the flow does not carry it or the captured bytes did not reach it.
///
/// `Send + Sync`; producing one allocates only the strings found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The name of the server as the protocol carries it, what nDPI prints
    /// as `Hostname/SNI`: the HTTP `Host` header (also SSDP's), the TLS or
    /// QUIC server name, the DNS, mDNS or LLMNR query name, the NetBIOS
    /// name (decoded, lower case), the DHCP host name (option 12), the SSH
    /// client's banner, the SMTP `EHLO`/`HELO` name, the STUN realm, the
    /// host a SOCKS client asks its proxy to reach.
    pub hostname: Option<String>,
    /// The application protocols the client offers through TLS or QUIC's
    /// ALPN, in its order.
    pub alpn: Option<Vec<String>>,
    /// The JA4 fingerprint of the TLS, DTLS or QUIC ClientHello (FoxIO's
    /// specification), when the whole hello was captured.
    pub ja4: Option<String>,
    /// The JA4S fingerprint of the TLS ServerHello.
    pub ja4s: Option<String>,
    /// The TLS version the server chose (`0x0304` for TLS 1.3).
    pub tls_version: Option<u16>,
    /// The QUIC version of the client's Initial packet (`0x00000001` for
    /// version 1, `0x6b3343cf` for version 2, `0xff00001d` for draft 29,
    /// `0x51303436` for Google's Q046, ...).
    pub quic_version: Option<u32>,
    /// The HTTP request method.
    pub http_method: Option<String>,
    /// The HTTP request target as sent (a path with its query, or an
    /// absolute URI through a proxy).
    pub http_url: Option<String>,
    /// The HTTP `User-Agent` header (for Google QUIC, its `UAID` tag).
    pub http_user_agent: Option<String>,
    /// The HTTP response status code.
    pub http_status: Option<u16>,
    /// The HTTP response `Server` header.
    pub http_server: Option<String>,
    /// The HTTP response `Content-Type` header.
    pub http_content_type: Option<String>,
    /// The type of the first DNS question (`A`, `AAAA`, `PTR`, ..., or
    /// `TYPE<n>` for a type without a mnemonic here).
    pub dns_query_type: Option<String>,
    /// The DNS response code (0 no error, 3 no such name, ...).
    pub dns_rcode: Option<u8>,
    /// The DNS answers that name something: A and AAAA addresses, CNAME,
    /// PTR and NS names, in response order.
    pub dns_answers: Option<Vec<String>>,
    /// The SSH client's identification line (`SSH-2.0-OpenSSH_9.6`).
    pub ssh_client: Option<String>,
    /// The SSH server's identification line.
    pub ssh_server: Option<String>,
    /// The DHCP vendor class identifier (option 60).
    pub dhcp_vendor_class: Option<String>,
    /// The SIP request URI.
    pub sip_request_uri: Option<String>,
    /// The host of the SIP `From` URI.
    pub sip_from: Option<String>,
    /// The host of the SIP `To` URI.
    pub sip_to: Option<String>,
    /// The STUN `SOFTWARE` attribute.
    pub stun_software: Option<String>,
    /// The dissector that set `hostname` or, without one, the first that
    /// found anything (`tls`, `quic`, `http`, `dns`, ...).
    pub dissector: Option<&'static str>,
}

impl Metadata {
    /// The host name when it names the server the client reached: set by
    /// the TLS, DTLS, QUIC, HTTP or DNS dissector (the server name, the
    /// `Host` header, the query name), or by the caller (no dissector). A
    /// NetBIOS name (dissector `netbios`: not a domain name, whatever it
    /// looks like), a DHCP client's own name, an SMTP greeting, a STUN realm,
    /// an SSH banner or a SOCKS destination (the server reached is the
    /// proxy) is not one. Application rules match this name.
    ///
    /// ```
    /// use dpi_core::Metadata;
    /// let mut m = Metadata { hostname: Some("www.example.com".into()), ..Metadata::default() };
    /// assert_eq!(m.server_name(), Some("www.example.com"));
    /// m.dissector = Some("dhcp");
    /// assert_eq!(m.server_name(), None);
    /// ```
    pub fn server_name(&self) -> Option<&str> {
        match self.dissector {
            None | Some("tls" | "dtls" | "quic" | "http" | "dns") => self.hostname.as_deref(),
            Some(_) => None,
        }
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }

    /// Sets every field of `self` that is unset and set in `other`.
    fn fill(&mut self, other: Metadata) {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        if self.hostname.is_none() && other.hostname.is_some() {
            self.dissector = other.dissector;
        }
        take!(
            hostname,
            alpn,
            ja4,
            ja4s,
            tls_version,
            quic_version,
            http_method,
            http_url,
            http_user_agent,
            http_status,
            http_server,
            http_content_type,
            dns_query_type,
            dns_rcode,
            dns_answers,
            ssh_client,
            ssh_server,
            dhcp_vendor_class,
            sip_request_uri,
            sip_from,
            sip_to,
            stun_software,
            dissector
        );
    }
}

/// One protocol's entry in the registry.
#[derive(Clone, Copy)]
pub struct Dissector {
    /// Short lower-case name, unique in the table (`tls`, `dns`, ...).
    pub name: &'static str,
    /// Lower runs first; among equal priorities, the name decides.
    pub priority: u8,
    /// Whether the dissector applies to the flow: transport, ports and a
    /// look at the first bytes, nothing that allocates.
    pub applies: fn(&FlowView<'_>) -> bool,
    /// Reads the flow's fields into a fresh [`Metadata`].
    pub extract: fn(&FlowView<'_>, &mut Metadata),
}

impl std::fmt::Debug for Dissector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dissector")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// The registry: one line per protocol.
pub const DISSECTORS: &[Dissector] = &[
    tls::DISSECTOR,
    tls::DTLS_DISSECTOR,
    quic::DISSECTOR,
    http::DISSECTOR,
    dns::DISSECTOR,
    ssh::DISSECTOR,
    dhcp::DISSECTOR,
    sip::DISSECTOR,
    stun::DISSECTOR,
    smtp::DISSECTOR,
    socks::DISSECTOR,
];

/// IP protocol numbers.
pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;

/// The protocol fields of a flow: runs every registered dissector that
/// applies, in (priority, name) order, and merges what they find.
///
/// A flow without payload costs one comparison and allocates nothing.
pub fn extract(view: &FlowView<'_>) -> Metadata {
    let mut meta = Metadata::default();
    if view.c2s.is_empty() && view.s2c.is_empty() {
        return meta;
    }
    let mut chosen = [usize::MAX; 16];
    let mut n = 0;
    for (i, d) in DISSECTORS.iter().enumerate() {
        if n < chosen.len() && (d.applies)(view) {
            chosen[n] = i;
            n += 1;
        }
    }
    let chosen = &mut chosen[..n];
    chosen.sort_unstable_by_key(|&i| (DISSECTORS[i].priority, DISSECTORS[i].name));
    for &i in chosen.iter() {
        let d = &DISSECTORS[i];
        let mut found = Metadata::default();
        (d.extract)(view, &mut found);
        if !found.is_empty() {
            // A dissector may name itself more precisely (NetBIOS names
            // come from the DNS dissector).
            found.dissector = found.dissector.or(Some(d.name));
            meta.fill(found);
        }
    }
    meta
}

/// Whether either port of the flow is `port`.
pub(crate) fn either_port(view: &FlowView<'_>, port: u16) -> bool {
    view.server_port == port || view.client_port == port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_metadata_is_send_sync() {
        let mut names: Vec<&str> = DISSECTORS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
        fn check<T: Send + Sync>() {}
        check::<Metadata>();
        check::<Dissector>();
    }

    #[test]
    fn empty_flow_gives_nothing() {
        assert!(extract(&FlowView::new(6, 443)).is_empty());
    }

    #[test]
    fn order_of_the_table_does_not_matter() {
        // Every permutation of priorities gives one answer: the sort key
        // is (priority, name), and names are unique.
        let mut keys: Vec<(u8, &str)> = DISSECTORS.iter().map(|d| (d.priority, d.name)).collect();
        let mut rev = keys.clone();
        rev.reverse();
        keys.sort_unstable();
        rev.sort_unstable();
        assert_eq!(keys, rev);
    }
}
