//! Options and reporting shared by the subcommands that read captures.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dpi_core::{FileSummary, FlowConfig, MeterStats};

use crate::live::{LiveArgs, LiveError};
use crate::runner::{run_files, FlowSink, RunOptions};

/// Bytes of output gathered before a write (when records are not flushed
/// one by one).
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Whether the input is a stream whose flows end over time (standard
/// input, a live interface) rather than capture files read at full speed.
pub fn streaming_input(captures: &[String], live: &LiveArgs) -> bool {
    live.interface.is_some() || captures.iter().any(|c| c == crate::runner::STDIN)
}

/// The names of the inputs: the capture paths, or the interface of `-i`
/// (the `file` field of live records).
pub fn input_names(captures: &[String], live: &LiveArgs) -> Vec<String> {
    match &live.interface {
        Some(iface) => vec![iface.clone()],
        None => captures.to_vec(),
    }
}

/// Reads the captures, or the interface of `-i` until SIGINT or SIGTERM,
/// into `sink`. A live capture that fails after it started is returned
/// as `Ok(Some(error))`, so that what was written is finished first.
pub fn run_inputs<S: FlowSink>(
    captures: &[String],
    live: &LiveArgs,
    opts: &RunOptions,
    sink: &mut S,
) -> anyhow::Result<Option<anyhow::Error>> {
    if live.interface.is_none() {
        run_files(captures, opts, sink)?;
        return Ok(None);
    }
    match crate::live::run_live(live, opts, !opts.progress, sink) {
        Ok(summary) => {
            sink.file_done(0, summary)?;
            Ok(None)
        }
        Err(LiveError::Failed(e)) => Ok(Some(e)),
        Err(LiveError::Usage(m)) => Ok(Some(anyhow::anyhow!(m))),
    }
}

/// Flow-table and run options common to commands that read captures.
#[derive(clap::Args, Clone, Debug)]
pub struct FlowArgs {
    /// User-data bytes kept per direction.
    #[arg(long = "bytes", default_value_t = 64, value_name = "N")]
    pub bytes: usize,
    /// Payload sizes kept per direction: those of the first K packets that carry user data.
    #[arg(long = "sizes", default_value_t = 8, value_name = "K")]
    pub sizes: usize,
    /// Seconds without a packet after which a flow is finished.
    #[arg(long, default_value_t = 600.0, value_name = "SECS")]
    pub idle_timeout: f64,
    /// Seconds after which a long flow is finished and a new one started.
    #[arg(long, default_value_t = 3600.0, value_name = "SECS")]
    pub active_timeout: f64,
    /// Live flows at most; the longest-idle one is evicted (and written) to make room.
    #[arg(long, default_value_t = 1 << 20, value_name = "FLOWS")]
    pub max_flows: usize,
    /// UDP: concatenate datagrams up to N bytes instead of keeping the first one only.
    #[arg(long)]
    pub udp_concat: bool,
    /// Worker threads (0: one per core): several captures are read in
    /// parallel; a single capture's flows are spread over the threads by
    /// a hash of their endpoints (with 0, `extract` and `align`, which
    /// label nothing, spread only a pcap or pcapng file of 256 KiB or more
    /// that every thread reads blocks of, and read any other capture on
    /// one thread, as handing its packets over would cost more than it
    /// spreads). Standard input (`-`) and a live capture (`-i`) are spread
    /// only when a count of 2 or more is given. The output is the same
    /// whatever the count.
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// No progress bar, no summary on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Flush the output after every record, also into a regular file
    /// (records are flushed one by one anyway into a terminal, and into a
    /// pipe when reading standard input or an interface).
    #[arg(long)]
    pub line_buffered: bool,
}

impl FlowArgs {
    /// The flow-table configuration these options describe.
    pub fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            idle_timeout: Duration::from_secs_f64(self.idle_timeout.max(0.0)),
            active_timeout: Duration::from_secs_f64(self.active_timeout.max(0.0)),
            max_flows: self.max_flows.max(1),
            payload_bytes: self.bytes,
            feature_packets: self.sizes,
            udp_concat: self.udp_concat,
            ..FlowConfig::default()
        }
    }

    /// Run options for [`crate::runner::run_files`].
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            flow: self.flow_config(),
            threads: self.threads,
            progress: !self.quiet,
        }
    }

    /// The output stream: the `-o` file or standard output, buffered.
    /// It is flushed at the end of every line (so after every record of
    /// the line formats) with `--line-buffered`, when it is a terminal,
    /// and when the input is a stream (`streaming`: standard input or a
    /// live interface) and the output is not a regular file, so that a
    /// reader of a pipe gets each record as its flow ends. Reading
    /// capture files into a pipe or a device fills whole buffers, as
    /// `tcpdump -r` and `grep` do (a write per record cost a system call
    /// per flow).
    pub fn open_output(&self, streaming: bool) -> anyhow::Result<Box<dyn Write>> {
        use std::io::IsTerminal;
        Ok(match &self.output {
            Some(p) => {
                let file = std::fs::File::create(p)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                let out = Output {
                    terminal: file.is_terminal(),
                    regular: file.metadata().is_ok_and(|m| m.is_file()),
                };
                Box::new(LineFlush {
                    per_line: out.per_line(self.line_buffered, streaming),
                    inner: BufWriter::with_capacity(OUTPUT_BUFFER, file),
                })
            }
            None => {
                let stdout = io::stdout();
                let out = Output {
                    terminal: stdout.is_terminal(),
                    regular: stdout_is_regular_file(),
                };
                Box::new(LineFlush {
                    per_line: out.per_line(self.line_buffered, streaming),
                    inner: BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock()),
                })
            }
        })
    }

    /// [`Self::open_output`], or a sink when the output goes elsewhere
    /// (a Parquet file, which the writer creates itself).
    pub fn open_output_unless(
        &self,
        elsewhere: bool,
        streaming: bool,
    ) -> anyhow::Result<Box<dyn Write>> {
        if elsewhere {
            Ok(Box::new(io::sink()))
        } else {
            self.open_output(streaming)
        }
    }

    /// The `-o` file of `--format parquet`, which needs one (Parquet is a
    /// binary format with its index at the end).
    pub fn parquet_path(&self) -> anyhow::Result<&std::path::Path> {
        self.output
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--format parquet writes a file: give it with -o FILE"))
    }
}

/// Whether standard output is a regular file (not a pipe, a terminal or a
/// device).
#[cfg(unix)]
fn stdout_is_regular_file() -> bool {
    use std::os::fd::AsFd;
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file())
}

/// Whether standard output is a regular file: unknown here, so no.
#[cfg(not(unix))]
fn stdout_is_regular_file() -> bool {
    false
}

/// What the output is, as far as flushing goes.
#[derive(Clone, Copy)]
struct Output {
    /// A terminal.
    terminal: bool,
    /// A regular file.
    regular: bool,
}

impl Output {
    /// Whether every record is flushed as it is written (see
    /// [`FlowArgs::open_output`]).
    fn per_line(self, line_buffered: bool, streaming: bool) -> bool {
        line_buffered || self.terminal || (streaming && !self.regular)
    }
}

/// A buffered writer that flushes after a write that ends a line, when
/// `per_line`.
struct LineFlush<W: Write> {
    inner: BufWriter<W>,
    per_line: bool,
}

impl<W: Write> Write for LineFlush<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.per_line && n > 0 && buf[n - 1] == b'\n' {
            self.inner.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Collects per-file outcomes and reports them on standard error.
#[derive(Default)]
pub struct Report {
    /// Counters over all files.
    pub totals: MeterStats,
    /// Files that failed.
    pub failed: usize,
    /// Files read.
    pub files: usize,
    /// Flows written.
    pub flows: u64,
    /// The interface captured on, when the input was a live capture
    /// rather than files.
    pub interface: Option<String>,
}

impl Report {
    /// A report of the inputs `live` names: an interface when it is set.
    pub fn of(live: &LiveArgs) -> Report {
        Report {
            interface: live.interface.clone(),
            ..Report::default()
        }
    }

    /// Records the outcome of one file and reports its problems on standard error.
    pub fn file_done(&mut self, path: &str, summary: &FileSummary) {
        self.files += 1;
        self.totals.add(&summary.stats);
        for (lt, n) in &summary.stats.unsupported_link_types {
            eprintln!(
                "dpi: {path}: {n} frame(s) of unsupported {} skipped",
                dpi_core::LinkType(*lt)
            );
        }
        if let Some(e) = &summary.error {
            self.failed += 1;
            eprintln!("dpi: error: {e}");
        }
    }

    /// Prints the closing summary unless `quiet`; the exit status: a
    /// failure when a file failed.
    pub fn finish(&self, quiet: bool) -> ExitCode {
        if !quiet {
            self.print();
        }
        if self.failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    fn print(&self) {
        let t = &self.totals;
        let inputs = match &self.interface {
            Some(i) if self.failed > 0 => format!("interface {i}, failed"),
            Some(i) => format!("interface {i}"),
            None => format!("{} file(s), {} failed", self.files, self.failed),
        };
        eprintln!(
            "dpi: {inputs}; {} frames, {} IP packets, {} flows; skipped: {} not IP, {} truncated, {} malformed, {} later fragments, {} of unsupported link types",
            t.frames,
            t.packets,
            self.flows,
            t.not_ip,
            t.truncated,
            t.malformed,
            t.later_fragments,
            t.unsupported_link_types.values().sum::<u64>()
        );
        if t.refused_fragments > 0 || t.incomplete_datagrams > 0 {
            eprintln!(
                "dpi: fragments: {} datagram(s) whose later fragments never came; {} first fragment(s) refused (1,024 datagrams were waiting for theirs)",
                t.incomplete_datagrams, t.refused_fragments
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn records_are_flushed_one_by_one_only_where_a_reader_waits_for_them() {
        let pipe = Output {
            terminal: false,
            regular: false,
        };
        let file = Output {
            terminal: false,
            regular: true,
        };
        let tty = Output {
            terminal: true,
            regular: false,
        };
        // Capture files into a pipe or /dev/null: whole buffers.
        assert!(!pipe.per_line(false, false));
        // Standard input or an interface into a pipe: record by record.
        assert!(pipe.per_line(false, true));
        // A regular file is never read while it is written, unless asked.
        assert!(!file.per_line(false, true));
        assert!(file.per_line(true, false));
        // A terminal: always record by record.
        assert!(tty.per_line(false, false));
    }
}
