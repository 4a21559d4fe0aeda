//! Live capture: `dpi classify -i IFACE` and `dpi extract -i IFACE` read
//! frames from a network interface through libpcap (the `live` feature,
//! on by default) instead of capture files.
//!
//! Each record is written as its flow ends, as for standard input
//! ([`crate::runner::STDIN`]): by a TCP close, by the idle or active
//! timeout (the flow table's time is moved on by the wall clock every
//! [`TICK`](crate::runner::TICK) also while no packet comes), or at the
//! end. SIGINT and SIGTERM end the capture: every live flow is written
//! and the command exits 0 (a second signal while they are written ends
//! it at once, with status 1). Unless `-q`, a statistics line goes to
//! standard error every `--stats-interval` seconds (packets received and
//! dropped, live flows, records written).
//!
//! The records' `file` field is the interface's name. Timestamps are
//! asked of libpcap in nanoseconds. The capture is read without blocking
//! (libpcap's read timeout does not end a wait on Linux's TPACKET_V3 ring
//! while no packet comes, so SIGINT would wait for the next packet): an
//! empty ring is read again after 5 ms, which the kernel's buffer covers.
//!
//! Errors name the interface: an interface that does not exist (the
//! message lists those that do), no permission to capture (capturing
//! needs root, or the `CAP_NET_RAW` and `CAP_NET_ADMIN` capabilities), a
//! `--bpf` expression libpcap cannot compile (exit status 2).

use crate::runner::{FlowSink, RunOptions};
use dpi_core::FileSummary;

/// Options of live capture, shared by `dpi classify` and `dpi extract`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LiveArgs {
    /// Capture live from network interface IFACE (instead of capture
    /// files) until SIGINT or SIGTERM; records are written as flows end.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "captures"
    )]
    pub interface: Option<String>,
    /// With -i: a capture filter in libpcap's syntax (as tcpdump's), e.g.
    /// "tcp port 80".
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,
    /// With -i: bytes kept of each frame.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: u32,
    /// With -i: the kernel's capture buffer in KiB (as tcpdump's -B):
    /// frames that come while it is full are dropped (the statistics line
    /// counts them).
    #[arg(short = 'B', long, default_value_t = 8192, value_name = "KIB")]
    pub buffer_size: u32,
    /// With -i: put the interface in promiscuous mode (off by default:
    /// only the host's own traffic and broadcasts are seen).
    #[arg(long)]
    pub promisc: bool,
    /// With -i: seconds between statistics lines on standard error (0:
    /// none; -q silences them too).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub stats_interval: f64,
}

/// Why a live capture did not run.
#[derive(Debug)]
pub enum LiveError {
    /// The command line is wrong (a `--bpf` expression that does not
    /// compile): exit status 2.
    Usage(String),
    /// Capturing failed (no such interface, no permission, a read
    /// error): exit status 1.
    Failed(anyhow::Error),
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Usage(m) => f.write_str(m),
            LiveError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for LiveError {
    fn from(e: anyhow::Error) -> Self {
        LiveError::Failed(e)
    }
}

/// Checks the live options: `--bpf` and `--promisc` only with `-i`, and
/// the `--bpf` expression must compile as a filter of Ethernet frames (no
/// privilege needed), so that a typo is a usage error before anything is
/// opened or written.
pub fn check_filter(live: &LiveArgs) -> Result<(), LiveError> {
    if live.interface.is_none() && (live.bpf.is_some() || live.promisc) {
        return Err(LiveError::Usage(
            "--bpf and --promisc apply to a live capture: give the interface with -i IFACE".into(),
        ));
    }
    #[cfg(feature = "live")]
    if let Some(expr) = &live.bpf {
        return imp::check_filter(expr);
    }
    let _ = live;
    Ok(())
}

/// Captures on `live.interface` until SIGINT or SIGTERM, handing each flow
/// to `sink` (as file 0) as it ends; every live flow at the end. Returns
/// the counters (the statistics line is not written when `quiet`).
#[cfg(feature = "live")]
pub fn run_live<S: FlowSink>(
    live: &LiveArgs,
    opts: &RunOptions,
    quiet: bool,
    sink: &mut S,
) -> Result<FileSummary, LiveError> {
    imp::run(live, opts, quiet, sink)
}

/// Live capture is not built in: an error saying so.
#[cfg(not(feature = "live"))]
pub fn run_live<S: FlowSink>(
    live: &LiveArgs,
    _opts: &RunOptions,
    _quiet: bool,
    _sink: &mut S,
) -> Result<FileSummary, LiveError> {
    Err(LiveError::Failed(anyhow::anyhow!(
        "{}: this dpi was built without live capture (cargo feature `live`, which needs libpcap)",
        live.interface.as_deref().unwrap_or("")
    )))
}

#[cfg(feature = "live")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime};

    use anyhow::anyhow;
    use dpi_core::{FileSummary, LinkType, Timestamp};
    use pcap::{Capture, Device, Linktype, Precision};

    use super::{LiveArgs, LiveError};
    use crate::runner::{FlowSink, RunOptions, StreamMeter, TICK};

    /// How long an empty capture is waited for before it is read again.
    const IDLE_WAIT: Duration = Duration::from_millis(5);

    /// The wall clock as a capture timestamp.
    fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// What to add to a failure to open `iface` so that its cause is clear.
    fn hint(message: &str) -> &'static str {
        let m = message.to_ascii_lowercase();
        if m.contains("permission") || m.contains("not permitted") {
            " (capturing needs root, or the CAP_NET_RAW and CAP_NET_ADMIN capabilities)"
        } else {
            ""
        }
    }

    /// Checks that `expr` compiles as a filter of Ethernet frames (no
    /// privilege needed), so that a typo is a usage error.
    pub(super) fn check_filter(expr: &str) -> Result<(), LiveError> {
        let dead = Capture::dead(Linktype::ETHERNET)
            .map_err(|e| LiveError::Failed(anyhow!("libpcap: {e}")))?;
        dead.compile(expr, true)
            .map(drop)
            .map_err(|e| LiveError::Usage(format!("--bpf {expr:?}: {}", pcap_message(&e))))
    }

    /// libpcap's own words for `e`.
    fn pcap_message(e: &pcap::Error) -> String {
        match e {
            pcap::Error::PcapError(m) => m.clone(),
            other => other.to_string(),
        }
    }

    fn open(live: &LiveArgs, iface: &str) -> Result<Capture<pcap::Active>, LiveError> {
        if let Ok(devices) = Device::list() {
            if !devices.iter().any(|d| d.name == iface) {
                let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
                return Err(LiveError::Failed(anyhow!(
                    "{iface}: no such network interface (there are: {})",
                    names.join(", ")
                )));
            }
        }
        let failed = |e: pcap::Error| {
            let m = pcap_message(&e);
            LiveError::Failed(anyhow!("{iface}: cannot capture: {m}{}", hint(&m)))
        };
        let snaplen = i32::try_from(live.snaplen.max(64)).unwrap_or(i32::MAX);
        // Not libpcap's immediate mode: on Linux it turns to a ring of
        // fixed slots, one frame of the snap length each, so that a
        // buffer of a few MiB holds a handful of frames and a burst is
        // dropped by the kernel (50 HTTP exchanges on loopback: 908 of
        // 1,000 packets). The ring of blocks packs frames, and a block is
        // handed over when full or after the read timeout: a frame waits
        // at most `TICK`.
        let mut cap = Capture::from_device(iface)
            .map_err(failed)?
            .promisc(live.promisc)
            .snaplen(snaplen)
            .buffer_size(i32::try_from(live.buffer_size.saturating_mul(1024)).unwrap_or(i32::MAX))
            .timeout(i32::try_from(TICK.as_millis()).unwrap_or(200))
            .precision(Precision::Nano)
            .open()
            .map_err(failed)?
            .setnonblock()
            .map_err(failed)?;
        if let Some(expr) = &live.bpf {
            cap.filter(expr, true).map_err(|e| {
                LiveError::Failed(anyhow!("{iface}: --bpf {expr:?}: {}", pcap_message(&e)))
            })?;
        }
        Ok(cap)
    }

    /// Hands flows to a sink until it fails, then keeps its error.
    struct Emit<'a, S: FlowSink> {
        sink: &'a mut S,
        written: u64,
        failed: Option<anyhow::Error>,
    }

    impl<S: FlowSink> Emit<'_, S> {
        fn flow(&mut self, f: S::Item) {
            if self.failed.is_none() {
                match self.sink.flow(0, f) {
                    Ok(()) => self.written += 1,
                    Err(e) => self.failed = Some(e),
                }
            }
        }
    }

    pub(super) fn run<S: FlowSink>(
        live: &LiveArgs,
        opts: &RunOptions,
        quiet: bool,
        sink: &mut S,
    ) -> Result<FileSummary, LiveError> {
        let iface = live.interface.as_deref().unwrap_or_default();
        // The handlers come first: a signal while the device opens is
        // not lost.
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // A second signal while the flows are written ends at once.
            signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
                .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
                .map_err(|e| anyhow!("cannot handle signal {sig}: {e}"))?;
        }
        let mut cap = open(live, iface)?;
        let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        if !quiet {
            eprintln!(
                "dpi: capturing on {iface} (link type {link}{}); SIGINT or SIGTERM ends it",
                live.bpf
                    .as_deref()
                    .map(|e| format!(", filter {e:?}"))
                    .unwrap_or_default()
            );
        }
        let stats_every = (!quiet && live.stats_interval > 0.0)
            .then(|| Duration::from_secs_f64(live.stats_interval.min(1e9)));
        let mut meter = StreamMeter::new(&opts.flow, opts.stream_shards(), sink, 0);
        let mut out = Emit {
            sink,
            written: 0,
            failed: None,
        };
        let (mut last_expire, mut last_stats) = (Instant::now(), Instant::now());
        let mut error = None;
        while !stop.load(Ordering::Relaxed) && out.failed.is_none() {
            match cap.next_packet() {
                Ok(p) => {
                    let secs = u64::try_from(p.header.ts.tv_sec).unwrap_or(0);
                    let nanos = u32::try_from(p.header.ts.tv_usec).unwrap_or(0);
                    let ts = Timestamp::from_secs_nanos(secs, nanos);
                    meter.push_frame(link, ts, p.data, p.header.len, &mut |f| out.flow(f));
                }
                // Nothing to read (the capture does not block: libpcap's
                // read timeout does not end a wait on Linux's TPACKET_V3
                // ring while no packet comes).
                Err(pcap::Error::TimeoutExpired) => std::thread::sleep(IDLE_WAIT),
                // A signal can break the wait; the loop's test sees it.
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(e) => {
                    error = Some(anyhow!("{iface}: capture failed: {}", pcap_message(&e)));
                    break;
                }
            }
            if last_expire.elapsed() >= TICK {
                meter.expire(now(), &mut |f| out.flow(f));
                last_expire = Instant::now();
            }
            if let Some(every) = stats_every {
                if last_stats.elapsed() >= every {
                    let s = cap.stats().ok();
                    eprintln!(
                        "dpi: {iface}: {} packets received, {} dropped by the kernel, {} by the interface; {} live flows, {} written",
                        s.map_or(0, |s| s.received),
                        s.map_or(0, |s| s.dropped),
                        s.map_or(0, |s| s.if_dropped),
                        meter.live_flows(),
                        out.written
                    );
                    last_stats = Instant::now();
                }
            }
        }
        meter.flush(&mut |f| out.flow(f));
        if let Some(e) = out.failed {
            return Err(LiveError::Failed(e));
        }
        if let Some(e) = error {
            return Err(LiveError::Failed(e));
        }
        if !quiet {
            if let Ok(s) = cap.stats() {
                eprintln!(
                    "dpi: {iface}: {} packets received, {} dropped by the kernel, {} by the interface",
                    s.received, s.dropped, s.if_dropped
                );
            }
        }
        Ok(FileSummary {
            stats: meter.stats().clone(),
            error: None,
        })
    }
}
