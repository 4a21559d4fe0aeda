//! IPFIX export of classified flows (RFC 7011), for `dpi classify --ipfix`.
//!
//! Every finished flow becomes one data record of a biflow template
//! (RFC 5103: the source is the initiator, the reverse counters the
//! responder's). Two templates, 256 for IPv4 and 257 for IPv6, each with:
//!
//! | element | id | length |
//! | --- | --- | --- |
//! | sourceIPv4Address / sourceIPv6Address | 8 / 27 | 4 / 16 |
//! | destinationIPv4Address / destinationIPv6Address | 12 / 28 | 4 / 16 |
//! | sourceTransportPort, destinationTransportPort | 7, 11 | 2 |
//! | protocolIdentifier | 4 | 1 |
//! | vlanId | 58 | 2 |
//! | flowStartNanoseconds, flowEndNanoseconds | 156, 157 | 8 |
//! | flowStartMilliseconds, flowEndMilliseconds | 152, 153 | 8 |
//! | packetDeltaCount, octetDeltaCount | 2, 1 | 8 |
//! | reverse packetDeltaCount, octetDeltaCount | 2, 1 (enterprise 29305) | 8 |
//! | flowEndReason | 136 | 1 |
//! | applicationId | 95 | 5 (see [`appid`]) |
//! | applicationName | 96 | variable |
//! | httpRequestHost | 460 | variable: the flow's `hostname` field (HTTP Host, TLS or QUIC server name, DNS query name, ...), empty when none |
//!
//! The millisecond times repeat the nanosecond ones for collectors that
//! read only those. Octets are bytes on the wire, as `dpi classify`
//! counts them. flowEndReason comes from [`record::flow_end_reason`].
//!
//! Messages are at most `mtu` bytes (1400 unless told otherwise). Over
//! UDP the templates go in the first message and again every
//! [`TEMPLATE_REFRESH_MESSAGES`] messages or [`TEMPLATE_REFRESH`],
//! whichever comes first (RFC 7011 §8.4); over TCP once, at the start. The
//! sequence number counts the data records sent before each message.

pub mod appid;
pub mod message;
pub mod record;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use dpi_core::{Classification, Flow, Metadata};

use self::appid::AppIds;
use self::message::{
    finish_message, finish_set, put_record, put_template_set, record_len_bound, start_message,
    start_set, template_of, template_set_len, HEADER_LEN,
};
use self::record::FlowFields;
use crate::labels::registry::NameRegistry;

/// Messages after which the templates are sent again over UDP.
pub const TEMPLATE_REFRESH_MESSAGES: u32 = 16;
/// Time after which the templates are sent again over UDP.
pub const TEMPLATE_REFRESH: Duration = Duration::from_secs(10);
/// The default largest message.
pub const DEFAULT_MTU: usize = 1400;
/// The smallest `mtu` accepted: the header, the templates and the longest
/// record fit.
pub const MIN_MTU: usize = 1024;

/// The transport to the collector.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP datagrams, one message each.
    Udp,
    /// One TCP connection, messages one after another.
    Tcp,
}

/// A collector address: `HOST:PORT` (UDP), `udp://HOST:PORT` or
/// `tcp://HOST:PORT`.
///
/// ```
/// use dpi_train::ipfix::{parse_collector, Transport};
///
/// assert_eq!(parse_collector("127.0.0.1:4739").unwrap(), (Transport::Udp, "127.0.0.1:4739"));
/// assert_eq!(parse_collector("tcp://[::1]:4739").unwrap(), (Transport::Tcp, "[::1]:4739"));
/// assert!(parse_collector("sctp://h:1").is_err());
/// ```
pub fn parse_collector(spec: &str) -> anyhow::Result<(Transport, &str)> {
    if let Some(rest) = spec.strip_prefix("udp://") {
        return Ok((Transport::Udp, rest));
    }
    if let Some(rest) = spec.strip_prefix("tcp://") {
        return Ok((Transport::Tcp, rest));
    }
    if let Some((scheme, _)) = spec.split_once("://") {
        anyhow::bail!("--ipfix {spec}: unknown transport `{scheme}` (udp:// or tcp://)");
    }
    Ok((Transport::Udp, spec))
}

/// The `--ipfix` options of `dpi classify`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct IpfixArgs {
    /// Also send every flow to this IPFIX collector: HOST:PORT (UDP),
    /// udp://HOST:PORT or tcp://HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub ipfix: Option<String>,
    /// Largest IPFIX message, in bytes.
    #[arg(long, default_value_t = DEFAULT_MTU, value_name = "BYTES", requires = "ipfix")]
    pub ipfix_mtu: usize,
    /// Observation domain id of the IPFIX messages.
    #[arg(long, default_value_t = 1, value_name = "ID", requires = "ipfix")]
    pub ipfix_domain: u32,
}

impl IpfixArgs {
    /// The exporter these options ask for, connected; `None` without `--ipfix`.
    pub fn exporter(&self) -> anyhow::Result<Option<Exporter>> {
        let Some(spec) = &self.ipfix else {
            return Ok(None);
        };
        let cfg = ExportConfig {
            mtu: self.ipfix_mtu,
            domain: self.ipfix_domain,
        };
        Exporter::connect(spec, cfg).map(Some)
    }
}

/// Export settings.
#[derive(Clone, Debug)]
pub struct ExportConfig {
    /// Largest message in bytes ([`MIN_MTU`] to 65535).
    pub mtu: usize,
    /// The observation domain id of every message.
    pub domain: u32,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            mtu: DEFAULT_MTU,
            domain: 1,
        }
    }
}

enum Sink {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream),
}

/// Counters of an export.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Messages sent.
    pub messages: u64,
    /// Data records sent.
    pub records: u64,
    /// Messages that carried the templates.
    pub template_messages: u64,
}

/// Sends flows to an IPFIX collector.
///
/// ```
/// use dpi_train::ipfix::{ExportConfig, Exporter};
///
/// let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let addr = collector.local_addr().unwrap().to_string();
/// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, b"hello");
/// let mut meter = dpi_core::FlowMeter::new(dpi_core::FlowConfig::default());
/// let mut flows = Vec::new();
/// meter.push_frame(dpi_core::LinkType::ETHERNET, dpi_core::Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |f| flows.push(f));
/// meter.flush(&mut |f| flows.push(f));
/// let c = dpi_core::Classification {
///     protocol: "DNS".into(),
///     app: None,
///     confidence: dpi_core::Confidence::Port,
///     reason: "port".into(),
///     signature: None,
///     app_rule: None,
///     cross: false,
/// };
///
/// let mut x = Exporter::connect(&addr, ExportConfig::default()).unwrap();
/// x.export(&flows[0], &c, &dpi_core::Metadata::default()).unwrap();
/// let stats = x.finish().unwrap();
/// assert_eq!((stats.messages, stats.records), (1, 1));
///
/// let mut buf = [0u8; 2048];
/// let n = collector.recv(&mut buf).unwrap();
/// assert_eq!(&buf[..2], &[0, 10]); // IPFIX version 10
/// assert_eq!(usize::from(u16::from_be_bytes([buf[2], buf[3]])), n);
/// ```
pub struct Exporter {
    sink: Sink,
    collector: String,
    cfg: ExportConfig,
    app: AppIds,
    /// The message being filled; empty when none is open.
    buf: Vec<u8>,
    /// The open data set: its template and where it starts.
    set: Option<(u16, usize)>,
    /// Data records in the open message.
    in_message: u32,
    /// Data records sent before the open message, modulo 2^32.
    sequence: u32,
    /// When the templates were last sent, and messages since.
    templates: Option<(Instant, u32)>,
    stats: ExportStats,
}

impl Exporter {
    /// Opens the transport to `spec` (see [`parse_collector`]).
    pub fn connect(spec: &str, cfg: ExportConfig) -> anyhow::Result<Exporter> {
        let (transport, addr) = parse_collector(spec)?;
        if !(MIN_MTU..=usize::from(u16::MAX)).contains(&cfg.mtu) {
            anyhow::bail!(
                "--ipfix-mtu {}: must be from {MIN_MTU} to 65535 bytes",
                cfg.mtu
            );
        }
        let target = addr
            .to_socket_addrs()
            .map_err(|e| anyhow::anyhow!("--ipfix {spec}: {e}"))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("--ipfix {spec}: the name has no address"))?;
        let sink = match transport {
            Transport::Udp => {
                let local = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local)
                    .map_err(|e| anyhow::anyhow!("--ipfix {spec}: a UDP socket: {e}"))?;
                Sink::Udp(s, target)
            }
            Transport::Tcp => Sink::Tcp(
                TcpStream::connect(target)
                    .map_err(|e| anyhow::anyhow!("--ipfix {spec}: connecting: {e}"))?,
            ),
        };
        Ok(Exporter {
            sink,
            collector: spec.to_string(),
            buf: Vec::with_capacity(cfg.mtu),
            cfg,
            app: AppIds::new(NameRegistry::builtin()),
            set: None,
            in_message: 0,
            sequence: 0,
            templates: None,
            stats: ExportStats::default(),
        })
    }

    fn templates_due(&self) -> bool {
        match (&self.sink, self.templates) {
            (_, None) => true,
            (Sink::Tcp(_), Some(_)) => false,
            (Sink::Udp(..), Some((at, n))) => {
                n >= TEMPLATE_REFRESH_MESSAGES || at.elapsed() >= TEMPLATE_REFRESH
            }
        }
    }

    fn open_message(&mut self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.buf.clear();
        start_message(
            &mut self.buf,
            u32::try_from(now).unwrap_or(u32::MAX),
            self.sequence,
            self.cfg.domain,
        );
        if self.templates_due() {
            put_template_set(&mut self.buf);
            self.templates = Some((Instant::now(), 0));
            self.stats.template_messages += 1;
        }
    }

    /// Sends the open message, if any.
    fn send(&mut self) -> anyhow::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some((_, start)) = self.set.take() {
            finish_set(&mut self.buf, start);
        }
        finish_message(&mut self.buf);
        let sent = match &mut self.sink {
            Sink::Udp(s, to) => s.send_to(&self.buf, *to).map(|_| ()),
            Sink::Tcp(s) => s.write_all(&self.buf),
        };
        sent.map_err(|e| anyhow::anyhow!("IPFIX collector {}: {e}", self.collector))?;
        self.sequence = self.sequence.wrapping_add(self.in_message);
        self.stats.messages += 1;
        self.stats.records += u64::from(self.in_message);
        self.in_message = 0;
        if let Some((_, n)) = &mut self.templates {
            *n += 1;
        }
        self.buf.clear();
        Ok(())
    }

    /// Adds the record of `flow`, classified `c` with protocol fields
    /// `meta`; sends the message it fills.
    pub fn export(
        &mut self,
        flow: &Flow,
        c: &Classification,
        meta: &Metadata,
    ) -> anyhow::Result<()> {
        let template = template_of(flow.client, flow.server);
        let need = {
            let (name, id) = self.app.get(c);
            let fields = FlowFields::new(flow, id, name, meta.hostname.as_deref());
            record_len_bound(template, &fields) + 4
        };
        if !self.buf.is_empty() && self.buf.len() + need > self.cfg.mtu {
            self.send()?;
        }
        if self.buf.is_empty() {
            self.open_message();
        }
        match self.set {
            Some((t, _)) if t == template => {}
            other => {
                if let Some((_, start)) = other {
                    finish_set(&mut self.buf, start);
                }
                self.set = Some((template, start_set(&mut self.buf, template)));
            }
        }
        let (name, id) = self.app.get(c);
        let fields = FlowFields::new(flow, id, name, meta.hostname.as_deref());
        put_record(&mut self.buf, template, &fields);
        self.in_message += 1;
        Ok(())
    }

    /// Sends what is left; the counters of the export.
    pub fn finish(mut self) -> anyhow::Result<ExportStats> {
        self.send()?;
        if let Sink::Tcp(s) = &mut self.sink {
            s.flush()
                .map_err(|e| anyhow::anyhow!("IPFIX collector {}: {e}", self.collector))?;
        }
        Ok(self.stats)
    }
}

/// Bytes of a message holding the templates and nothing else.
pub fn template_message_len() -> usize {
    HEADER_LEN + template_set_len()
}

#[cfg(test)]
mod tests;
