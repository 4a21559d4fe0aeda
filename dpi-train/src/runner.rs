//! Runs captures through dpi-core's flow meter, in parallel over files (or,
//! for a single capture, over the flows of that capture: [`ShardedMeter`]),
//! and hands the flows to a sink in a deterministic order (the order of the
//! files given; within a file, the order one flow table finishes them, the
//! same whatever the thread count).
//!
//! The path `-` is standard input, read as a stream (see [`STDIN`]): flows
//! reach the sink as they end, also while the input stays open; its flows
//! are spread over the threads only when several are asked for
//! ([`RunOptions::stream_shards`], as for a live capture: [`StreamMeter`]).

use std::io::IsTerminal;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use dpi_core::expect::ExpectConfig;
use dpi_core::{
    CaptureReader, FileSummary, Flow, FlowConfig, FlowMeter, LinkType, MeterStats, ShardedMeter,
    Timestamp,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

/// Receives the flows of each file, file after file in the order given.
pub trait FlowSink {
    /// What a worker makes of each flow before the sink takes it.
    type Item: Send + 'static;
    /// A function that turns the flows of file `file` into items; the
    /// runner makes one per worker thread and calls it there, so the work
    /// it does (labelling, say) runs in parallel.
    fn worker(&self, file: usize) -> Box<dyn FnMut(Flow) -> Self::Item + Send>;
    /// One finished flow of file `file` (an index into the list of
    /// paths), made into an item by a [`worker`](Self::worker).
    fn flow(&mut self, file: usize, item: Self::Item) -> anyhow::Result<()>;
    /// File `file` is done; its counters and error, if any.
    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()>;
    /// Whether a single capture's flows are worth spreading over the
    /// threads when their number is left to the runner (`threads` 0). Handing
    /// packets to the workers costs the reading thread about as much as the
    /// flow table's own work (benches/README.md, "Where `-j 2` is bound"), so
    /// a sink whose workers do little (no labelling) says no: one capture is
    /// then read on one thread unless a thread count is given, or unless
    /// it is a file that every thread reads blocks of (classic pcap, most
    /// pcapng: [`ShardedMeter::reads_in_blocks`]).
    fn worth_sharding(&self) -> bool {
        true
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Flow-table settings.
    pub flow: FlowConfig,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar when standard error is a terminal.
    pub progress: bool,
}

impl RunOptions {
    /// The threads to run on: [`threads`](Self::threads), or one per core
    /// when it is 0.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        }
    }

    /// The shards a stream (standard input, a live capture) is run over:
    /// [`threads`](Self::threads) when it asks for several, else one. Its
    /// packets come through one reader, which hands them over (decoded,
    /// copied into batches) to the other threads while it runs a shard
    /// itself, so spreading a stream pays only where the flows' own work
    /// outweighs that and there are cores to spare: not by default
    /// (benches/README.md, "Streams over several threads").
    pub fn stream_shards(&self) -> usize {
        self.threads.max(1)
    }
}

/// The flow table of a stream, whose packets come one at a time (standard
/// input, a live capture): one [`FlowMeter`], whose flows the sink's
/// worker turns into items in the calling thread, or a [`ShardedMeter`]
/// whose shards do, each in its thread. The items, and their order, are
/// the same either way.
// One per stream, held where it runs: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum StreamMeter<T: Send + 'static> {
    /// One flow table, and the function that makes items of its flows.
    One(FlowMeter, Box<dyn FnMut(Flow) -> T + Send>),
    /// The flows spread over threads.
    Sharded(ShardedMeter<T>),
}

impl<T: Send + 'static> StreamMeter<T> {
    /// A meter of `shards` shards (one: a plain [`FlowMeter`]) whose
    /// flows `sink`'s workers for file `file` make into items.
    pub fn new<S: FlowSink<Item = T>>(
        cfg: &FlowConfig,
        shards: usize,
        sink: &S,
        file: usize,
    ) -> Self {
        if shards > 1 {
            StreamMeter::Sharded(ShardedMeter::new(
                cfg.clone(),
                &ExpectConfig::default(),
                shards,
                |_| sink.worker(file),
            ))
        } else {
            StreamMeter::One(FlowMeter::new(cfg.clone()), sink.worker(file))
        }
    }

    /// Hands in one frame (see [`FlowMeter::push_frame`]).
    pub fn push_frame(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        emit: &mut impl FnMut(T),
    ) {
        match self {
            StreamMeter::One(m, work) => {
                m.push_frame(link, ts, data, orig_len, &mut |f| emit(work(f)))
            }
            StreamMeter::Sharded(m) => m.push_frame(link, ts, data, orig_len, emit),
        }
    }

    /// Moves time on to `now` without a frame (see [`FlowMeter::expire`]).
    pub fn expire(&mut self, now: Timestamp, emit: &mut impl FnMut(T)) {
        match self {
            StreamMeter::One(m, work) => m.expire(now, &mut |f| emit(work(f))),
            StreamMeter::Sharded(m) => m.expire(now, emit),
        }
    }

    /// Lets out what the threads finished meanwhile, handing them the
    /// packets taken since ([`ShardedMeter::hand_over`]); nothing to do
    /// for one flow table, which lets each flow out as it ends.
    pub fn hand_over(&mut self, emit: &mut impl FnMut(T)) {
        if let StreamMeter::Sharded(m) = self {
            m.hand_over(emit);
        }
    }

    /// Finishes every live flow.
    pub fn flush(&mut self, emit: &mut impl FnMut(T)) {
        match self {
            StreamMeter::One(m, work) => m.flush(&mut |f| emit(work(f))),
            StreamMeter::Sharded(m) => m.flush(emit),
        }
    }

    /// Live flows (over the threads, as of their last batch).
    pub fn live_flows(&self) -> usize {
        match self {
            StreamMeter::One(m, _) => m.table().len(),
            StreamMeter::Sharded(m) => m.live_flows(),
        }
    }

    /// Counters since the meter was made.
    pub fn stats(&self) -> &MeterStats {
        match self {
            StreamMeter::One(m, _) => m.stats(),
            StreamMeter::Sharded(m) => m.stats(),
        }
    }
}

/// A progress bar over the total size of `paths`, hidden when standard error
/// is not a terminal or when `enabled` is false.
pub fn progress_bar(paths: &[String], enabled: bool, what: &str) -> ProgressBar {
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let pb = if enabled && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .expect("a fixed, valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

/// The capture path that means standard input. Read alone, in the
/// calling thread, while a second thread parses the stream: when no frame
/// came for [`TICK`], the flow table's time is moved on by the time
/// waited (from the last frame's stamp), so idle flows and closed TCP
/// flows end while the writer of the stream is quiet.
pub const STDIN: &str = "-";

/// How long a quiet standard input is waited for before the flow table's
/// time moves on.
pub const TICK: Duration = Duration::from_millis(200);

/// Frames read from standard input and not yet taken: the reading thread
/// waits when this many are queued.
const QUEUE: usize = 1024;

fn one_file<T>(
    path: &str,
    cfg: &FlowConfig,
    mut work: Box<dyn FnMut(Flow) -> T + Send>,
) -> (Vec<T>, FileSummary) {
    let mut meter = FlowMeter::new(cfg.clone());
    let mut flows = Vec::new();
    let summary = meter.read_file(path, &mut |f| flows.push(work(f)));
    meter.flush(&mut |f| flows.push(work(f)));
    (flows, summary)
}

/// Runs one capture file over `shards` worker threads, each with its share
/// of the flows ([`ShardedMeter`]); the sink gets them in the order one
/// flow table gives.
fn sharded_file<S: FlowSink>(
    file: usize,
    path: &str,
    cfg: &FlowConfig,
    shards: usize,
    sink: &mut S,
) -> anyhow::Result<FileSummary> {
    let mut meter = ShardedMeter::new(cfg.clone(), &ExpectConfig::default(), shards, |_| {
        sink.worker(file)
    });
    let mut out = Emit {
        sink,
        file,
        failed: None,
    };
    let summary = meter.read_file(path, &mut |x| out.flow(x));
    meter.flush(&mut |x| out.flow(x));
    match out.failed {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Runs every capture of `paths` and feeds `sink`. Each file is its own flow
/// table. One file is streamed straight to the sink, its flows sharded over
/// the threads when there are several; several files are read in parallel
/// and handed over in order.
pub fn run_files<S: FlowSink>(
    paths: &[String],
    opts: &RunOptions,
    sink: &mut S,
) -> anyhow::Result<()> {
    let pb = progress_bar(paths, opts.progress, "reading");
    let threads = opts.thread_count();
    // A file read by every thread at once (classic pcap, most pcapng):
    // spreading it pays even for a sink whose workers do little.
    let shard = opts.threads != 0
        || sink.worth_sharding()
        || (paths.len() == 1 && ShardedMeter::<()>::reads_in_blocks(&paths[0]));
    if threads > 1 && shard && paths.len() == 1 && paths[0] != STDIN {
        let summary = sharded_file(0, &paths[0], &opts.flow, threads, sink)?;
        sink.file_done(0, summary)?;
        pb.inc(std::fs::metadata(&paths[0]).map(|m| m.len()).unwrap_or(0));
        pb.finish_and_clear();
        return Ok(());
    }
    if threads <= 1 || paths.len() <= 1 || paths.iter().any(|p| p == STDIN) {
        for (i, path) in paths.iter().enumerate() {
            if path == STDIN {
                let summary = run_stdin(i, opts, sink)?;
                sink.file_done(i, summary)?;
                continue;
            }
            let mut meter = FlowMeter::new(opts.flow.clone());
            let mut work = sink.worker(i);
            let mut out = Emit {
                sink: &mut *sink,
                file: i,
                failed: None,
            };
            let summary = meter.read_file(path, &mut |f| out.flow(work(f)));
            meter.flush(&mut |f| out.flow(work(f)));
            if let Some(e) = out.failed {
                return Err(e);
            }
            sink.file_done(i, summary)?;
            pb.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
        }
        pb.finish_and_clear();
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let batch = threads * 4;
    for (b, chunk) in paths.chunks(batch).enumerate() {
        let workers: Vec<_> = (0..chunk.len())
            .map(|j| sink.worker(b * batch + j))
            .collect();
        let results: Vec<(Vec<S::Item>, FileSummary)> = pool.install(|| {
            chunk
                .par_iter()
                .zip(workers)
                .map(|(p, work)| {
                    let r = one_file(p, &opts.flow, work);
                    pb.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
                    r
                })
                .collect()
        });
        for (j, (flows, summary)) in results.into_iter().enumerate() {
            let i = b * batch + j;
            for f in flows {
                sink.flow(i, f)?;
            }
            sink.file_done(i, summary)?;
        }
    }
    pb.finish_and_clear();
    Ok(())
}

/// A frame read from standard input, owned (its buffer goes back to the
/// reading thread for the next frame).
struct OwnedFrame {
    link: LinkType,
    ts: Timestamp,
    data: Vec<u8>,
    orig_len: u32,
}

enum Message {
    Frame(OwnedFrame),
    /// The end of the stream, with the error that ended it, if any.
    End(Option<dpi_core::Error>),
}

/// Parses the capture on standard input into `frames`, reusing the
/// buffers that come back through `spare`.
fn read_stdin(frames: SyncSender<Message>, spare: Receiver<Vec<u8>>) {
    let input = std::io::stdin().lock();
    let mut reader = match CaptureReader::new(input) {
        Ok(r) => r,
        Err(e) => {
            let _ = frames.send(Message::End(Some(e.with_path(STDIN_NAME))));
            return;
        }
    };
    loop {
        let msg = match reader.next_frame() {
            Ok(Some(f)) => {
                let mut data = spare.try_recv().unwrap_or_default();
                data.clear();
                data.extend_from_slice(f.data);
                Message::Frame(OwnedFrame {
                    link: f.link_type,
                    ts: f.ts,
                    data,
                    orig_len: f.orig_len,
                })
            }
            Ok(None) => Message::End(None),
            Err(e) => Message::End(Some(e.with_path(STDIN_NAME))),
        };
        let end = matches!(msg, Message::End(_));
        if frames.send(msg).is_err() || end {
            return;
        }
    }
}

/// How standard input is named in errors.
const STDIN_NAME: &str = "<stdin>";

/// Runs the capture on standard input through a flow table (spread over
/// the threads as [`RunOptions::stream_shards`] says), handing each flow
/// to `sink` as it ends. Stops at the first error of the sink (the
/// reading thread ends when the input does).
fn run_stdin<S: FlowSink>(
    file: usize,
    opts: &RunOptions,
    sink: &mut S,
) -> anyhow::Result<FileSummary> {
    let (frames_tx, frames) = sync_channel(QUEUE);
    let (spare, spare_rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_stdin(frames_tx, spare_rx))?;
    let mut meter = StreamMeter::new(&opts.flow, opts.stream_shards(), sink, file);
    let mut out = Emit {
        sink,
        file,
        failed: None,
    };
    // The last frame's stamp and when it came; when the threads were last
    // handed what came.
    let mut last: Option<(Timestamp, Instant)> = None;
    let mut handed = Instant::now();
    let error = loop {
        match frames.recv_timeout(TICK) {
            Ok(Message::Frame(f)) => {
                meter.push_frame(f.link, f.ts, &f.data, f.orig_len, &mut |x| out.flow(x));
                // One reading of the clock a frame, as before the threads.
                let now = Instant::now();
                last = Some((f.ts, now));
                let _ = spare.try_send(f.data);
                if now.duration_since(handed) >= TICK {
                    meter.hand_over(&mut |x| out.flow(x));
                    handed = now;
                }
            }
            Ok(Message::End(error)) => break error,
            Err(RecvTimeoutError::Timeout) => {
                if let Some((ts, at)) = last {
                    let waited = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    let now = Timestamp::from_nanos(ts.as_nanos().saturating_add(waited));
                    meter.expire(now, &mut |x| out.flow(x));
                    handed = Instant::now();
                }
            }
            Err(RecvTimeoutError::Disconnected) => break None,
        }
        if out.failed.is_some() {
            break None;
        }
    };
    meter.flush(&mut |x| out.flow(x));
    if let Some(e) = out.failed {
        return Err(e);
    }
    Ok(FileSummary {
        stats: meter.stats().clone(),
        error,
    })
}

/// Hands flows to a sink until it fails, then keeps its error.
struct Emit<'a, S> {
    sink: &'a mut S,
    file: usize,
    failed: Option<anyhow::Error>,
}

impl<S: FlowSink> Emit<'_, S> {
    fn flow(&mut self, f: S::Item) {
        if self.failed.is_none() {
            if let Err(e) = self.sink.flow(self.file, f) {
                self.failed = Some(e);
            }
        }
    }
}
