//! One capture over several threads: flows sharded by their key.
//!
//! The calling thread decodes each frame (counters and the fragment guard
//! as [`FlowMeter`](crate::FlowMeter) keeps them) and picks the flow's
//! shard from a hash of the flow's endpoints, IP protocol and VLAN id
//! (the same for both directions). Shard 0 is the calling thread's own: it processes that
//! shard's packets at once, with no copy and no hand-over, so that `N`
//! shards run on `N` threads. The packets go into a batch for the other
//! shards, with their payload copied only where a worker reads it (the
//! worker's own packets, and those the cross-flow tables look at). Full
//! batches go to every worker thread; each shard owns one [`FlowTable`]
//! and processes the packets of its shard, and for the packets of the
//! other shards only moves its table's time on (idle expiry, closed
//! flows' linger), as one table would at that packet. Finished flows go
//! through the caller's per-shard function (in the worker's thread, or
//! in the calling thread for shard 0), and come back to the calling
//! thread, which merges them into the order one
//! [`FlowMeter`](crate::FlowMeter) gives (flows carry the position of the
//! packet that finished them, see `flow::EndOrder`).
//!
//! A classic pcap or pcapng file given to [`ShardedMeter::read_file`] is
//! read differently (`split.rs`): every thread reads blocks of the file
//! itself, decodes them and hands them to the others, so that reading
//! and decoding are split over the threads too; each shard still steps
//! through every packet in file order.
//!
//! Cross-flow knowledge ([`expect`](crate::expect)) links flows of
//! different keys, so of different shards: every worker keeps its own copy
//! of the tables and feeds it every packet of the batch in capture order,
//! so the copy of the worker that makes a flow holds what one meter's
//! tables would hold at that packet.

mod split;

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::capture::layout::{read_at, Layout};
use crate::expect::{ExpectConfig, Expectations};
use crate::flow::{shard_of, shard_share, EndOrder};
use crate::meter::{read_frames, read_frames_after, Intake};
use crate::{
    FileSummary, Flow, FlowConfig, FlowTable, Fragment, LinkType, MeterStats, Packet, Timestamp,
};

/// Packets per batch.
const BATCH_PACKETS: usize = 4096;
/// Payload bytes per batch before it is sent, whatever its packet count.
const BATCH_BYTES: usize = 1 << 20;
/// Batches handed to the workers whose flows have not come back yet, at
/// most.
const IN_FLIGHT: usize = 4;

/// One entry of a batch.
enum Item {
    /// A decoded packet: its payload is `bytes[start..end]` of the batch.
    Packet {
        ts: Timestamp,
        wire_len: u32,
        shard: u32,
        /// The cross-flow tables may read something from it.
        announces: bool,
        /// The datagram identification of a fragment (in a split read,
        /// where the fragment guard runs as the items are stepped through).
        datagram_id: u32,
        pkt: Packet<'static>,
        start: u32,
        end: u32,
    },
    /// Time moves on without a packet ([`ShardedMeter::expire`]).
    Expire(Timestamp),
}

impl Item {
    /// What every shard reads of it.
    fn head(&self) -> Head {
        match *self {
            Item::Expire(ts) => Head {
                ts,
                shard: Head::EVERY,
            },
            Item::Packet {
                ts,
                shard,
                announces,
                ref pkt,
                ..
            } => Head {
                ts,
                shard: if announces || pkt.fragment != Fragment::Whole {
                    Head::EVERY
                } else {
                    shard
                },
            },
        }
    }
}

/// What every shard reads of an item of a batch. Most items are packets
/// of another shard, at which a shard only moves its table's time on:
/// their head is all it reads, 16 bytes where the whole item takes 112.
#[derive(Clone, Copy)]
struct Head {
    ts: Timestamp,
    /// The shard of a whole packet the cross-flow tables do not look at,
    /// else [`Head::EVERY`]: every shard reads the whole item.
    shard: u32,
}

impl Head {
    const EVERY: u32 = u32::MAX;

    /// Shard `me` only moves its time on at this item: it is a whole
    /// packet of another shard, which the cross-flow tables do not look
    /// at (what [`step`] does then).
    fn passes(&self, me: u32) -> bool {
        self.shard != me && self.shard != Head::EVERY
    }
}

/// Items and their heads, side by side.
#[derive(Default)]
struct Items {
    heads: Vec<Head>,
    items: Vec<Item>,
}

impl Items {
    fn with_capacity(n: usize) -> Self {
        Items {
            heads: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, item: Item) {
        self.heads.push(item.head());
        self.items.push(item);
    }

    fn clear(&mut self) {
        self.heads.clear();
        self.items.clear();
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Packets handed to every worker at once.
struct Batch {
    /// Sequence number of the first item.
    first: u64,
    items: Items,
    bytes: Vec<u8>,
    /// Finish every live flow after the items.
    flush: bool,
    /// In a split read: the block the items come from (and `bytes` is
    /// the block as read from the file).
    block: Option<split::BlockInfo>,
}

impl Batch {
    fn new(first: u64) -> Self {
        Batch {
            first,
            items: Items::with_capacity(BATCH_PACKETS),
            bytes: Vec::with_capacity(BATCH_BYTES),
            flush: false,
            block: None,
        }
    }

    /// A batch with no room yet.
    fn new_empty() -> Self {
        Batch {
            first: 0,
            items: Items::default(),
            bytes: Vec::new(),
            flush: false,
            block: None,
        }
    }

    /// `item` (one of this batch's) as a shard steps through it, with its
    /// payload in the batch's bytes, and the datagram identification of a
    /// fragment.
    fn step(&self, item: &Item) -> (Step<'_>, u32) {
        match *item {
            Item::Expire(now) => (Step::Expire(now), 0),
            Item::Packet {
                ts,
                wire_len,
                shard,
                announces,
                datagram_id,
                pkt,
                start,
                end,
            } => {
                let payload = self.bytes.get(start as usize..end as usize).unwrap_or(&[]);
                let pkt = Packet { payload, ..pkt };
                let step = Step::Packet {
                    ts,
                    wire_len,
                    shard,
                    announces,
                    pkt,
                };
                (step, datagram_id)
            }
        }
    }
}

/// Flows a worker finished, in its order, sent at most this many at a
/// time (a flush of many flows is merged while it runs).
const CHUNK: usize = 1024;

/// Chunks of flows a worker may have sent and not yet taken: with the
/// chunks taken and not merged yet (at most [`QUEUED`]), this bounds the
/// memory of flows waiting for another worker's.
const FLOW_CHUNKS: usize = 4;
/// Flows of a worker taken and not merged yet, at most (a chunk more).
const QUEUED: usize = 2 * CHUNK;

/// What a worker sends back.
enum Msg<T> {
    /// Flows it finished, in its order.
    Flows(Vec<(EndOrder, T)>),
    /// It is done with a batch, whose last item came before this
    /// sequence number.
    End(u64),
    /// In a split read: a block it read.
    Block(Arc<Batch>),
}

/// What a worker is handed.
enum Work {
    /// A batch of the calling thread's.
    Batch(Arc<Batch>),
    /// A split read begins.
    Split(Arc<SplitRun>),
    /// A block of a split read (run number, batch).
    Block(u64, Arc<Batch>),
    /// The split read of that number is over.
    EndSplit(u64),
}

/// One split read, as every thread sees it.
struct SplitRun {
    job: split::Job,
    /// Every worker's inbox (shard `i` at `i - 1`).
    inboxes: Vec<Sender<Work>>,
}

struct Worker<T> {
    batches: Option<Sender<Work>>,
    flows: Receiver<Msg<T>>,
    /// Flows, ends and blocks of a split read (unbounded: what a worker
    /// sends is bounded by the blocks it may read ahead).
    split: Receiver<Msg<T>>,
    /// Blocks it read, not yet taken by the split read.
    blocks: VecDeque<Arc<Batch>>,
    /// Flows received and not merged yet, in the worker's order.
    queue: VecDeque<(EndOrder, T)>,
    /// Batches it is done with.
    ended: u64,
    /// The items before this sequence number are behind it: a flow it
    /// finishes from now on is finished at this item or later.
    done: u64,
    /// Its live flows after the last batch or block it stepped through.
    live: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl<T> Worker<T> {
    fn take(&mut self, m: Msg<T>) {
        match m {
            Msg::Flows(f) => self.queue.extend(f),
            Msg::End(upto) => {
                self.ended += 1;
                self.done = self.done.max(upto);
            }
            Msg::Block(b) => self.blocks.push_back(b),
        }
    }
}

/// A flow meter whose flow table is split over worker threads, for one
/// capture on several cores.
///
/// Frames go in as to [`FlowMeter`](crate::FlowMeter); each shard turns
/// the flows of its shard into a `T` with the function made for it (a
/// probe labels them there, so classification runs in parallel too), and
/// the `T`s come out through the callbacks of
/// [`push_frame`](Self::push_frame), [`expire`](Self::expire) and
/// [`flush`](Self::flush), in the order a single `FlowMeter` finishes the
/// flows. Shard 0 runs in the calling thread, inside those calls; shards
/// 1 to N - 1 in a worker thread each. Flows come later than from a
/// `FlowMeter`: a batch of packets is handed to the workers when it is
/// full (4,096 packets or 1 MiB of payload), at [`expire`](Self::expire)
/// and at [`flush`](Self::flush), and a flow goes out once no worker can
/// still finish an earlier one.
///
/// What differs from a single meter: the live-flow cap
/// ([`FlowConfig::max_flows`]) is divided among the shards in the shares
/// their flows are dealt in (shard 0, which also reads and merges, gets
/// one part of `2N - 1` and each worker two; each share rounded up), so
/// when the table is full which flow is evicted can differ; and each worker's copy of the cross-flow
/// tables is looked up only for the flows it makes, so when such a table
/// is full (1,024 announced endpoints or 4,096 DNS names by default),
/// which entry its clock replaces can differ. Below those bounds the
/// flows and their order are those of a `FlowMeter`.
///
/// ```
/// use dpi_core::{Classifier, FlowConfig, FlowMeter, LinkType, ShardedMeter, Timestamp};
/// use dpi_core::expect::ExpectConfig;
/// use dpi_core::matcher::Scratch;
/// use dpi_core::testing::udp_ipv4_frame;
/// use std::sync::Arc;
///
/// let classifier = Arc::new(Classifier::builtin());
/// let cfg = FlowConfig::classification();
/// // Each worker labels the flows of its shard with its own scratch space.
/// let mut sharded = ShardedMeter::new(cfg.clone(), &ExpectConfig::default(), 2, |_| {
///     let (classifier, mut scratch) = (classifier.clone(), Scratch::new());
///     move |flow: dpi_core::Flow| {
///         let (label, _) = classifier.classify_flow(&flow, 512, &mut scratch);
///         (flow.client_port, label.protocol.to_string())
///     }
/// });
/// let mut single = FlowMeter::new(cfg);
/// let (mut got, mut want) = (Vec::new(), Vec::new());
/// let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
/// for i in 0..100u16 {
///     let frame = udp_ipv4_frame([10, 0, 0, 1], 40000 + i, [10, 0, 0, 53], 53, query);
///     let ts = Timestamp::from_micros(u64::from(i));
///     sharded.push_frame(LinkType::ETHERNET, ts, &frame, frame.len() as u32, &mut |x| got.push(x));
///     single.push_frame(LinkType::ETHERNET, ts, &frame, frame.len() as u32, &mut |f| want.push(f.client_port));
/// }
/// sharded.flush(&mut |x| got.push(x));
/// single.flush(&mut |f| want.push(f.client_port));
/// // The same flows in the same order.
/// assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), want);
/// assert!(got.iter().all(|x| x.1 == "DNS"));
/// assert_eq!(sharded.stats().packets, 100);
/// ```
pub struct ShardedMeter<T: Send + 'static> {
    intake: Intake,
    /// Shard 0, run in the calling thread.
    local: Local<T>,
    /// The other shards: the batches to them and the merge of every
    /// shard's flows.
    hub: Hub<T>,
    /// Split reads begun.
    splits: u64,
}

impl<T: Send + 'static> ShardedMeter<T> {
    /// A meter of `shards` shards (at least one: the calling thread's,
    /// and `shards - 1` worker threads), each with its share of the flow
    /// table and a copy of the cross-flow tables of the given bounds;
    /// `make(i)` makes the function shard `i` runs on each flow it
    /// finishes (shard 0's in the calling thread).
    pub fn new<W, M>(cfg: FlowConfig, expect: &ExpectConfig, shards: usize, mut make: M) -> Self
    where
        W: FnMut(Flow) -> T + Send + 'static,
        M: FnMut(usize) -> W,
    {
        let shards = shards.clamp(1, u32::MAX as usize);
        // Each shard's cap is its share of the whole.
        let per_shard = |i: usize| FlowConfig {
            max_flows: shard_share(cfg.max_flows.max(1), i, shards),
            ..cfg.clone()
        };
        let local = Local {
            table: FlowTable::new(per_shard(0)),
            x: Expectations::new(expect),
            work: Box::new(make(0)),
        };
        let workers = (1..shards)
            .map(|i| {
                // Room for every batch that may be in flight, so that
                // handing one over never waits (the workers may be waiting
                // for their flows to be taken).
                let (batches, batches_rx) = channel::<Work>();
                let (flows_tx, flows) = sync_channel(FLOW_CHUNKS);
                let (split_tx, split) = channel();
                let (cfg, expect, work) = (per_shard(i), expect.clone(), make(i));
                let live = Arc::new(AtomicUsize::new(0));
                let out = Out {
                    flows: flows_tx,
                    split: split_tx,
                    live: live.clone(),
                };
                let thread = std::thread::Builder::new()
                    .name(format!("shard-{i}"))
                    .spawn(move || run_worker(i as u32, cfg, &expect, work, batches_rx, out))
                    .ok();
                Worker {
                    batches: Some(batches),
                    flows,
                    split,
                    blocks: VecDeque::new(),
                    queue: VecDeque::new(),
                    ended: 0,
                    done: 0,
                    live,
                    thread,
                }
            })
            .collect();
        ShardedMeter {
            intake: Intake::default(),
            local,
            hub: Hub {
                workers,
                local: VecDeque::new(),
                batch: Batch::new(0),
                next: 0,
                sent: 0,
                spent: VecDeque::new(),
                horizon: None,
            },
            splits: 0,
        }
    }

    /// Whether [`read_file`](Self::read_file) reads `path` with every
    /// thread reading blocks of it (a classic pcap file, or a pcapng file
    /// whose interfaces are declared before its first packet, of at least
    /// two blocks, 256 KiB), rather than in the calling thread alone. A caller
    /// whose per-flow work is light can spread such a file over the
    /// threads with gain, where handing one reader's packets over would
    /// cost more than it spreads.
    ///
    /// ```
    /// use dpi_core::ShardedMeter;
    /// let small = std::env::temp_dir().join("dpi-doc-reads-in-blocks.pcap");
    /// std::fs::write(&small, b"not a capture").unwrap();
    /// assert!(!ShardedMeter::<()>::reads_in_blocks(&small));
    /// ```
    pub fn reads_in_blocks(path: impl AsRef<Path>) -> bool {
        std::fs::File::open(path)
            .ok()
            .and_then(|f| split_layout(&f))
            .is_some()
    }

    /// Shards: the calling thread's and one a worker thread.
    pub fn shards(&self) -> usize {
        self.hub.workers.len() + 1
    }

    /// Counters since the meter was made (the flow table's live count is
    /// the workers').
    pub fn stats(&self) -> &MeterStats {
        &self.intake.stats
    }

    /// Live flows over every shard: shard 0's now, each worker's as of the
    /// last batch it stepped through (packets handed in since may have
    /// made more; none is live after [`flush`](Self::flush)). For a
    /// probe's statistics.
    ///
    /// ```
    /// use dpi_core::{FlowConfig, LinkType, ShardedMeter, Timestamp};
    /// use dpi_core::expect::ExpectConfig;
    /// use dpi_core::testing::udp_ipv4_frame;
    ///
    /// let mut m = ShardedMeter::new(FlowConfig::default(), &ExpectConfig::default(), 2, |_| |f| f);
    /// let mut ended = 0;
    /// for i in 0..10u16 {
    ///     let frame = udp_ipv4_frame([10, 0, 0, 1], 40000 + i, [10, 0, 0, 2], 9, b"x");
    ///     m.push_frame(LinkType::ETHERNET, Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |_| ended += 1);
    /// }
    /// assert!(m.live_flows() <= 10);
    /// m.flush(&mut |_| ended += 1);
    /// assert_eq!((m.live_flows(), ended), (0, 10));
    /// ```
    pub fn live_flows(&self) -> usize {
        self.local.table.len()
            + self
                .hub
                .workers
                .iter()
                .map(|w| w.live.load(Ordering::Relaxed))
                .sum::<usize>()
    }

    /// Hands in one frame; the flows finished so far whose turn has come
    /// go to `emit` (see the type's docs for when).
    pub fn push_frame<E: FnMut(T)>(
        &mut self,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        emit: &mut E,
    ) {
        let Some(pkt) = self.intake.accept(link, ts, data, orig_len) else {
            return;
        };
        let shard = if pkt.fragment == Fragment::Later {
            0
        } else {
            shard_of(&pkt, self.shards()) as u32
        };
        let item = Step::Packet {
            ts,
            wire_len: orig_len.max(data.len() as u32),
            shard,
            announces: Expectations::may_announce(&pkt),
            pkt,
        };
        // The workers' batch first: shard 0's flows wait for the items
        // before theirs to be sent.
        let seq = self.hub.push(&item);
        self.local.step(seq, item, &mut self.hub, emit);
        if self.hub.batch_full() {
            self.hub.send(false);
            self.hub.collect(false, emit);
        }
    }

    /// Advances time to `now` without a frame, as
    /// [`FlowMeter::expire`](crate::FlowMeter::expire) does; the batch is
    /// handed over and the flows whose turn has come go to `emit`.
    pub fn expire<E: FnMut(T)>(&mut self, now: Timestamp, emit: &mut E) {
        let seq = self.hub.push(&Step::Expire(now));
        self.local.step(seq, Step::Expire(now), &mut self.hub, emit);
        self.hub.send(false);
        self.hub.collect(false, emit);
    }

    /// Hands the packets taken since the last batch went out to the
    /// workers now, and lets out the flows whose turn has come. A batch
    /// otherwise goes when it is full or at [`expire`](Self::expire): a
    /// caller whose packets come slowly (a live capture, a stream) calls
    /// this now and then, so that the flows its workers finish are not
    /// held back by a batch that fills slowly. It changes neither the
    /// flows nor their order.
    pub fn hand_over<E: FnMut(T)>(&mut self, emit: &mut E) {
        self.hub.send(false);
        self.hub.collect(false, emit);
    }

    /// Finishes every live flow and waits for the workers: every flow
    /// handed in so far has gone to `emit` when it returns. The meter can
    /// be used again afterwards.
    pub fn flush<E: FnMut(T)>(&mut self, emit: &mut E) {
        self.intake.drop_fragments();
        // The workers flush while shard 0 does.
        self.hub.send(true);
        self.local.flush(&mut self.hub, emit);
        self.hub.collect(true, emit);
    }

    /// Reads a whole capture file into the meter, as
    /// [`FlowMeter::read_file`](crate::FlowMeter::read_file) does; live
    /// flows stay in the tables until [`flush`](Self::flush).
    ///
    /// A classic pcap file of at least two blocks (256 KiB) is read by
    /// every thread at once, and so is a pcapng file whose first packet
    /// block follows the blocks declaring its interfaces within its first
    /// block (until a block that declares more, or one other than an
    /// enhanced packet block): each reads and decodes blocks of it, and
    /// every shard steps through all of them in file order (see the
    /// type's docs). The flows, their order, the counters and the error,
    /// if any, are the same as from one reader.
    pub fn read_file<E: FnMut(T)>(&mut self, path: impl AsRef<Path>, emit: &mut E) -> FileSummary {
        let path = path.as_ref();
        match std::fs::File::open(path) {
            Ok(file) => match self.read_split(&file, path, emit) {
                Some(summary) => summary,
                None => self.read_from(std::io::BufReader::new(file), path, emit),
            },
            Err(e) => FileSummary {
                stats: MeterStats::default(),
                error: Some(crate::Error::from(e).with_path(path)),
            },
        }
    }

    /// Reads a classic pcap or pcapng file with every thread reading
    /// blocks of it (see `split.rs`); `None`, having read nothing, when the
    /// file is not one (not a regular file, shorter than two blocks, a
    /// pcapng file whose first packet is not an enhanced packet block in
    /// its first block), when
    /// there are no workers, or when datagrams wait for later fragments
    /// from frames handed in before.
    fn read_split<E: FnMut(T)>(
        &mut self,
        file: &std::fs::File,
        path: &Path,
        emit: &mut E,
    ) -> Option<FileSummary> {
        if self.hub.workers.is_empty() || !self.intake.no_open_fragments() {
            return None;
        }
        let (layout, len) = split_layout(file)?;
        // What was handed in before goes first.
        self.hub.send(false);
        self.hub.collect(true, emit);
        self.splits += 1;
        let job = split::Job {
            id: self.splits,
            file: file.try_clone().ok()?,
            layout,
            len,
            shards: self.shards() as u32,
            seq_base: self.hub.next,
            claims: split::Claims::new(self.shards() as u32),
        };
        let run = Arc::new(SplitRun {
            job,
            inboxes: self
                .hub
                .workers
                .iter()
                .filter_map(|w| w.batches.clone())
                .collect(),
        });
        for w in &self.hub.workers {
            if let Some(tx) = &w.batches {
                let _ = tx.send(Work::Split(run.clone()));
            }
        }
        let before = self.intake.stats.clone();
        let job = &run.job;
        let mut side = SplitSide::new(0, job);
        self.hub.horizon = Some(job.first_seq(0));
        while side.done.is_none() {
            let workers = &self.hub.workers;
            side.read_ahead(job, |b| {
                for tx in workers.iter().filter_map(|w| w.batches.as_ref()) {
                    let _ = tx.send(Work::Block(job.id, b.clone()));
                }
            });
            for w in &mut self.hub.workers {
                while let Some(b) = w.blocks.pop_front() {
                    side.arrived(job.id, b);
                }
            }
            if let Some(b) = side.take_next(job) {
                if let Some(info) = &b.block {
                    self.intake.stats.add(&info.stats);
                }
                let (local, hub) = (&mut self.local, &mut self.hub);
                // As a batch is sent before shard 0's flows of it merge:
                // a worker not done with the block holds them up, and a
                // worker's flows past it wait for shard 0.
                hub.sent += 1;
                hub.horizon = Some(job.first_seq(side.next_step + 1));
                let work = &mut local.work;
                step_block(
                    0,
                    &mut local.table,
                    &mut local.x,
                    &mut self.intake,
                    &b,
                    &mut |f, _, o| hub.push_local(o, work(f), emit),
                );
                side.stepped(job, &b);
                hub.collect(false, emit);
                continue;
            }
            if side.done.is_some() {
                break;
            }
            // The next block is a worker's: wait for it. Or no thread may
            // read it yet: wait for the worker furthest behind to step on.
            let from = job
                .reader(side.next_step)
                .or_else(|| job.slowest_worker())
                .unwrap_or(0) as usize;
            let Some(w) = from
                .checked_sub(1)
                .and_then(|i| self.hub.workers.get_mut(i))
            else {
                side.done = Some(Some(side.expect));
                break;
            };
            match w.split.recv() {
                Ok(m) => w.take(m),
                Err(_) => {
                    // The worker is gone (its function panicked): the rest
                    // is read in sequence; the panic is raised again when
                    // the meter is dropped.
                    w.batches = None;
                    side.done = Some(Some(side.expect));
                }
            }
        }
        // Every worker through every block shard 0 stepped through.
        self.hub.collect(true, emit);
        for w in &mut self.hub.workers {
            if let Some(tx) = &w.batches {
                let _ = tx.send(Work::EndSplit(job.id));
            }
            w.blocks.clear();
        }
        self.hub.horizon = None;
        self.hub.next = job.seq_end();
        self.hub.batch.first = self.hub.next;
        let error = match side.done {
            Some(Some(at)) => {
                let first = job.layout.first_record();
                self.read_rest(file, path, first, at, side.last_ts, emit)
            }
            _ => None,
        };
        self.intake.drop_fragments();
        Some(FileSummary {
            stats: self.intake.stats.since(&before),
            error,
        })
    }

    /// Reads the records of `file` from `at` on in sequence, as
    /// [`read_from`](Self::read_from) would have read them there (`last`:
    /// the time of the frame before); the error that ended it, if any, at
    /// its offset in the file.
    fn read_rest<E: FnMut(T)>(
        &mut self,
        file: &std::fs::File,
        path: &Path,
        first_record: u64,
        at: u64,
        last: Option<Timestamp>,
        emit: &mut E,
    ) -> Option<crate::Error> {
        let mut head = vec![0u8; first_record as usize];
        let mut rest = file;
        let opened = read_at(file, &mut head, 0)
            .and_then(|()| rest.seek(SeekFrom::Start(at)))
            .map_err(|e| crate::Error::from(e).with_path(path));
        if let Err(e) = opened {
            return Some(e);
        }
        // The file header (a pcapng file's blocks before its first
        // packet), then the file from `at`: offsets `at - first_record`
        // short of the file's.
        let input = std::io::BufReader::new(head.as_slice().chain(rest));
        read_frames_after(input, path, last, |link, ts, data, len| {
            self.push_frame(link, ts, data, len, emit)
        })
        .map(|e| e.shifted(at - first_record))
    }

    /// [`read_file`](Self::read_file) over any reader; errors name `path`.
    pub fn read_from<R: std::io::Read, E: FnMut(T)>(
        &mut self,
        input: R,
        path: impl AsRef<Path>,
        emit: &mut E,
    ) -> FileSummary {
        let path = path.as_ref();
        let before = self.intake.stats.clone();
        let error = read_frames(input, path, |link, ts, data, len| {
            self.push_frame(link, ts, data, len, emit)
        });
        self.intake.drop_fragments();
        FileSummary {
            stats: self.intake.stats.since(&before),
            error,
        }
    }
}

/// The record layout and length of `file` when a split read can take
/// it: a regular classic pcap file, or a pcapng file whose first packet
/// block (an enhanced one) comes within its first [`split::BLOCK`] bytes,
/// of at least two blocks past its first record.
fn split_layout(file: &std::fs::File) -> Option<(Layout, u64)> {
    if !split::SUPPORTED {
        return None;
    }
    let meta = file.metadata().ok().filter(|m| m.is_file())?;
    let layout = Layout::of_file(file, split::BLOCK)?;
    let len = meta.len();
    (len >= layout.first_record() + 2 * split::BLOCK).then_some((layout, len))
}

/// The other shards: the batch being filled for them, the batches sent,
/// and the merge of every shard's flows into one table's order.
struct Hub<T> {
    /// Shards 1 to N - 1.
    workers: Vec<Worker<T>>,
    /// Flows shard 0 finished and not merged yet, in its order.
    local: VecDeque<(EndOrder, T)>,
    batch: Batch,
    /// Sequence number of the next item.
    next: u64,
    /// Batches sent.
    sent: u64,
    /// Batches sent, oldest first: reused once every worker is done with
    /// them, so that batches are not allocated (and their pages faulted in)
    /// again and again.
    spent: VecDeque<Arc<Batch>>,
    /// In a split read: the sequence number of the first item shard 0 has
    /// not stepped through (the workers may be ahead of it there).
    horizon: Option<u64>,
}

impl<T> Hub<T> {
    /// Puts the next item into the batch (when there are workers) and
    /// returns its sequence number. A worker reads the payload of its own
    /// packets, and of those the cross-flow tables look at.
    fn push(&mut self, item: &Step<'_>) -> u64 {
        let seq = self.next;
        self.next += 1;
        if self.workers.is_empty() {
            return seq;
        }
        let b = &mut self.batch;
        b.items.push(match *item {
            Step::Expire(now) => Item::Expire(now),
            Step::Packet {
                ts,
                wire_len,
                shard,
                announces,
                pkt,
            } => {
                let start = b.bytes.len();
                if shard != 0 || announces {
                    b.bytes.extend_from_slice(pkt.payload);
                }
                let end = b.bytes.len();
                Item::Packet {
                    ts,
                    wire_len,
                    shard,
                    announces,
                    datagram_id: 0,
                    pkt: Packet {
                        payload: &[],
                        ..pkt
                    },
                    // A batch holds far less than 4 GiB: it is sent at 1 MiB.
                    start: start as u32,
                    end: end as u32,
                }
            }
        });
        seq
    }

    fn batch_full(&self) -> bool {
        self.batch.items.len() >= BATCH_PACKETS || self.batch.bytes.len() >= BATCH_BYTES
    }

    /// Takes a flow shard 0 finished; merges when too many wait, sending
    /// the batch early if they wait for it. Shard 0 is then in the middle
    /// of an item (a mass expiry, a flush): its flows still to come are
    /// later than `o`, but may be earlier than a worker's flow of the same
    /// item, so only the workers' flows before `o` may go.
    fn push_local<E: FnMut(T)>(&mut self, o: EndOrder, t: T, emit: &mut E) {
        self.local.push_back((o, t));
        if self.local.len() > QUEUED {
            self.send(false);
            self.merge(Some(o), false, emit);
        }
    }

    /// Hands the batch being filled to every worker (when it holds
    /// anything, or to flush).
    fn send(&mut self, flush: bool) {
        if self.horizon.is_some() {
            // A split read: the workers read the file themselves.
            return;
        }
        if self.workers.is_empty() || (self.batch.items.is_empty() && !flush) {
            self.batch.first = self.next;
            return;
        }
        let mut next = None;
        if let Some(old) = self.spent.front_mut() {
            if let Some(b) = Arc::get_mut(old) {
                b.items.clear();
                b.bytes.clear();
                b.first = self.next;
                b.flush = false;
                b.block = None;
                next = Some(std::mem::replace(b, Batch::new_empty()));
            }
        }
        if next.is_some() {
            self.spent.pop_front();
        }
        let next = next.unwrap_or_else(|| Batch::new(self.next));
        let mut batch = std::mem::replace(&mut self.batch, next);
        batch.flush = flush;
        let batch = Arc::new(batch);
        self.spent.push_back(batch.clone());
        if self.spent.len() > 2 * IN_FLIGHT + 2 {
            self.spent.pop_front();
        }
        for w in &mut self.workers {
            let sent = w
                .batches
                .as_ref()
                .is_some_and(|tx| tx.send(Work::Batch(batch.clone())).is_ok());
            if !sent {
                // The worker is gone (its function panicked): its flows
                // are lost; the panic is raised again when the meter is
                // dropped.
                w.batches = None;
            }
        }
        self.sent += 1;
    }

    /// Hands to `emit` the flows whose turn has come: a flow can go once
    /// every other shard has either a later flow waiting or is done with
    /// every item sent (each shard's flows come in order, and an item not
    /// sent yet finishes only later flows). Waits for the workers when
    /// `all` (until every flow of the batches sent went) or when too many
    /// batches are in flight or too many of shard 0's flows wait. Called
    /// right after [`send`](Self::send) only: shard 0's flows may then go
    /// as soon as no worker can still finish an earlier one.
    fn collect<E: FnMut(T)>(&mut self, all: bool, emit: &mut E) {
        self.merge(None, all, emit);
    }

    /// [`collect`](Self::collect), letting a worker's flow go only when it
    /// is earlier than `before` (when given).
    fn merge<E: FnMut(T)>(&mut self, before: Option<EndOrder>, all: bool, emit: &mut E) {
        loop {
            let split = self.horizon.is_some();
            for w in &mut self.workers {
                while w.queue.len() < QUEUED {
                    let rx = if split { &w.split } else { &w.flows };
                    match rx.try_recv() {
                        Ok(m) => w.take(m),
                        Err(_) => break,
                    }
                }
            }
            loop {
                // Index 0 is shard 0. It is never behind: every item goes
                // into the batch before shard 0 steps through it, and a
                // merge always follows a send, so the items behind shard
                // 0's flows have all gone to the workers.
                let mut best: Option<(usize, EndOrder)> = self.local.front().map(|(o, _)| (0, *o));
                // A worker with nothing queued that is still at work may
                // yet finish a flow at the first item it has not stepped
                // through, or later: only a flow finished before that may
                // go.
                let mut pending: Option<u64> = None;
                for (i, w) in self.workers.iter().enumerate() {
                    match w.queue.front() {
                        // Ahead of shard 0 in a split read: shard 0 may
                        // still finish earlier flows.
                        Some((o, _)) if self.horizon.is_some_and(|h| o.at >= h) => {}
                        // Shard 0 may still finish an earlier flow.
                        Some((o, _)) if before.is_some_and(|b| *o > b) => {}
                        Some((o, _)) if best.is_none_or(|(_, b)| *o < b) => {
                            best = Some((i + 1, *o))
                        }
                        Some(_) => {}
                        None if w.ended < self.sent => {
                            pending = Some(pending.map_or(w.done, |p| p.min(w.done)))
                        }
                        None => {}
                    }
                }
                let Some((i, _)) = best.filter(|(_, o)| pending.is_none_or(|p| o.at < p)) else {
                    break;
                };
                let next = match i {
                    0 => self.local.pop_front(),
                    _ => self.workers[i - 1].queue.pop_front(),
                };
                if let Some((_, t)) = next {
                    emit(t);
                }
            }
            let lagging = self
                .workers
                .iter()
                .map(|w| self.sent - w.ended.min(self.sent))
                .max()
                .unwrap_or(0);
            let local_waits = self.local.len() > QUEUED;
            let in_flight = if split {
                split::STEPS_AHEAD
            } else {
                IN_FLIGHT as u64
            };
            if lagging == 0 || (!all && lagging <= in_flight && !local_waits) {
                return;
            }
            // Wait for a worker that holds the merge up (else for one
            // still at work).
            let sent = self.sent;
            let at = self
                .workers
                .iter()
                .position(|w| w.queue.is_empty() && w.ended < sent)
                .or_else(|| self.workers.iter().position(|w| w.ended < sent));
            if let Some(w) = at.map(|i| &mut self.workers[i]) {
                let rx = if split { &w.split } else { &w.flows };
                match rx.recv() {
                    Ok(m) => w.take(m),
                    Err(_) => {
                        // The worker is gone (its function panicked): it
                        // finishes nothing more; the panic is raised again
                        // when the meter is dropped.
                        w.batches = None;
                        w.ended = sent;
                    }
                }
            }
        }
    }
}

impl<T: Send + 'static> Drop for ShardedMeter<T> {
    /// Stops the workers (live flows are dropped: call
    /// [`flush`](Self::flush) first) and raises again a panic of a
    /// worker's function.
    fn drop(&mut self) {
        for w in &mut self.hub.workers {
            w.batches = None;
        }
        let mut panic = None;
        for w in &mut self.hub.workers {
            if let Some(t) = w.thread.take() {
                if let Err(p) = t.join() {
                    panic.get_or_insert(p);
                }
            }
        }
        if let Some(p) = panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(p);
            }
        }
    }
}

/// Where a worker sends what it finished.
struct Out<T> {
    /// Batches of the calling thread's (bounded: a flush of many flows is
    /// merged while it runs).
    flows: SyncSender<Msg<T>>,
    /// A split read.
    split: Sender<Msg<T>>,
    /// The worker's live flows, set after each batch and block.
    live: Arc<AtomicUsize>,
}

/// One worker: its share of the flow table and its copy of the
/// cross-flow tables, fed every batch.
fn run_worker<T, W: FnMut(Flow) -> T>(
    me: u32,
    cfg: FlowConfig,
    expect: &ExpectConfig,
    mut work: W,
    inbox: Receiver<Work>,
    out: Out<T>,
) {
    let mut table = FlowTable::new(cfg);
    let mut x = Expectations::new(expect);
    let mut flows: Vec<(EndOrder, T)> = Vec::new();
    // The last split read begun, and blocks of a later one that came
    // before the word it began (another worker may start on it first).
    let (mut last_split, mut early) = (0u64, Vec::new());
    while let Ok(msg) = inbox.recv() {
        let batch = match msg {
            Work::Batch(b) => b,
            Work::Split(run) => {
                last_split = run.job.id;
                let early = std::mem::take(&mut early);
                if !split_worker(
                    me, &run, early, &mut table, &mut x, &mut work, &inbox, &out.split,
                ) {
                    return;
                }
                out.live.store(table.len(), Ordering::Relaxed);
                continue;
            }
            Work::Block(id, b) if id > last_split => {
                early.push(b);
                continue;
            }
            // Read ahead of a split read that is over.
            Work::Block(..) | Work::EndSplit(_) => continue,
        };
        let mut emit = |f: Flow, _, o: EndOrder| {
            flows.push((o, work(f)));
            if flows.len() >= CHUNK {
                // The receiver is gone only when the meter is: nothing to do.
                let _ = out.flows.send(Msg::Flows(std::mem::take(&mut flows)));
            }
        };
        let items = &batch.items;
        for (i, (head, item)) in items.heads.iter().zip(&items.items).enumerate() {
            let seq = batch.first + i as u64;
            if head.passes(me) {
                table.set_seq(seq);
                table.expire_labelled(head.ts, &mut emit);
                continue;
            }
            let (item, _) = batch.step(item);
            step(me, &mut table, &mut x, seq, item, &mut emit);
        }
        if batch.flush {
            table.flush_labelled(&mut emit);
        }
        out.live.store(table.len(), Ordering::Relaxed);
        if !flows.is_empty()
            && out
                .flows
                .send(Msg::Flows(std::mem::take(&mut flows)))
                .is_err()
        {
            return;
        }
        let upto = batch.first + items.len() as u64;
        if out.flows.send(Msg::End(upto)).is_err() {
            return;
        }
    }
}

/// A worker's part of a split read: reads its blocks, hands them to the
/// other threads, steps through every block in file order; false when
/// the meter is gone.
#[allow(clippy::too_many_arguments)]
fn split_worker<T, W: FnMut(Flow) -> T>(
    me: u32,
    run: &Arc<SplitRun>,
    early: Vec<Arc<Batch>>,
    table: &mut FlowTable,
    x: &mut Expectations,
    work: &mut W,
    inbox: &Receiver<Work>,
    out: &Sender<Msg<T>>,
) -> bool {
    let mut side = SplitSide::new(me, &run.job);
    for b in early {
        side.arrived(run.job.id, b);
    }
    // The fragment guard, as the calling thread's: its counts are not used.
    let mut intake = Intake::default();
    let mut flows: Vec<(EndOrder, T)> = Vec::new();
    loop {
        side.read_ahead(&run.job, |b| {
            for (i, tx) in run.inboxes.iter().enumerate() {
                if i + 1 != me as usize {
                    let _ = tx.send(Work::Block(run.job.id, b.clone()));
                }
            }
            let _ = out.send(Msg::Block(b.clone()));
        });
        if side.done.is_some() {
            return true;
        }
        if let Some(b) = side.take_next(&run.job) {
            let mut emit = |f: Flow, _, o: EndOrder| {
                flows.push((o, work(f)));
                if flows.len() >= CHUNK {
                    let _ = out.send(Msg::Flows(std::mem::take(&mut flows)));
                }
            };
            step_block(me, table, x, &mut intake, &b, &mut emit);
            side.stepped(&run.job, &b);
            if !flows.is_empty() && out.send(Msg::Flows(std::mem::take(&mut flows))).is_err() {
                return false;
            }
            if out.send(Msg::End(b.first + b.items.len() as u64)).is_err() {
                return false;
            }
            continue;
        }
        match inbox.recv() {
            Ok(Work::Block(id, b)) if id == run.job.id => side.arrived(id, b),
            Ok(Work::EndSplit(id)) if id == run.job.id => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// One thread's progress through a split read.
struct SplitSide {
    me: u32,
    /// The next block to step through.
    next_step: u64,
    /// Where that block must start: where the one before ended.
    expect: u64,
    /// Blocks read and not stepped through yet.
    waiting: BTreeMap<u64, Arc<Batch>>,
    /// Blocks it read, oldest first: reused once every thread dropped them.
    spent: VecDeque<Arc<Batch>>,
    /// Set when the read is over: where the rest of the file is to be read
    /// in sequence (`None`: nothing is left).
    done: Option<Option<u64>>,
    /// The time of the last frame of the blocks stepped through.
    last_ts: Option<Timestamp>,
}

impl SplitSide {
    fn new(me: u32, job: &split::Job) -> Self {
        SplitSide {
            me,
            next_step: 0,
            expect: job.layout.first_record(),
            waiting: BTreeMap::new(),
            spent: VecDeque::new(),
            done: (job.blocks() == 0).then_some(None),
            last_ts: None,
        }
    }

    /// Reads the blocks it may claim ([`split::Job::claim`]); `send`
    /// hands each to the other threads.
    fn read_ahead(&mut self, job: &split::Job, mut send: impl FnMut(&Arc<Batch>)) {
        while self.done.is_none() {
            let Some(k) = job.claim(self.me) else {
                break;
            };
            let mut b = self.recycle();
            b.first = job.first_seq(k);
            b.block = Some(split::read_block(job, k, None, &mut b.bytes, &mut b.items));
            let b = Arc::new(b);
            send(&b);
            self.waiting.insert(k, b.clone());
            self.spent.push_back(b);
        }
    }

    /// A batch to fill: the oldest one read, when no thread holds it any
    /// more. Free batches past [`split::KEEP`] are dropped, so that a
    /// thread that once read far ahead does not keep their memory.
    fn recycle(&mut self) -> Batch {
        while self.spent.len() > split::KEEP
            && self
                .spent
                .front_mut()
                .is_some_and(|b| Arc::get_mut(b).is_some())
        {
            self.spent.pop_front();
        }
        if let Some(old) = self.spent.front_mut() {
            if let Some(b) = Arc::get_mut(old) {
                let b = std::mem::replace(b, Batch::new_empty());
                self.spent.pop_front();
                return b;
            }
        }
        Batch::new_empty()
    }

    /// A block another thread read for split read `run`.
    fn arrived(&mut self, run: u64, b: Arc<Batch>) {
        if let Some(k) = b.block.as_ref().filter(|i| i.run == run).map(|i| i.block) {
            if k >= self.next_step {
                self.waiting.insert(k, b);
            }
        }
    }

    /// The next block to step through, when it is here. When it does not
    /// start where the block before ended, it is read again here from
    /// there.
    fn take_next(&mut self, job: &split::Job) -> Option<Arc<Batch>> {
        let b = self.waiting.remove(&self.next_step)?;
        let start = b.block.as_ref().map_or(u64::MAX, |i| i.start);
        if start == self.expect {
            return Some(b);
        }
        let mut again = Batch::new_empty();
        again.first = b.first;
        again.block = Some(split::read_block(
            job,
            self.next_step,
            Some(self.expect),
            &mut again.bytes,
            &mut again.items,
        ));
        Some(Arc::new(again))
    }

    /// After stepping through block `b`.
    fn stepped(&mut self, job: &split::Job, b: &Batch) {
        self.next_step += 1;
        if let Some(ts) = b.block.as_ref().and_then(|i| i.last_ts) {
            self.last_ts = Some(ts);
        }
        job.step_to(self.me, self.next_step);
        match b.block.as_ref().map(|i| i.tail) {
            Some(split::Tail::Next(at)) => {
                self.expect = at;
                if self.next_step >= job.blocks() {
                    self.done = Some((at < job.len).then_some(at));
                }
            }
            Some(split::Tail::Stop(at)) => self.done = Some(Some(at)),
            None => self.done = Some(Some(self.expect)),
        }
    }
}

/// Steps shard `me` through the records of a block, the fragment guard
/// first, as [`FlowMeter`](crate::FlowMeter) takes them.
fn step_block<F: FnMut(Flow, Option<crate::Classification>, EndOrder)>(
    me: u32,
    table: &mut FlowTable,
    x: &mut Expectations,
    intake: &mut Intake,
    batch: &Batch,
    emit: &mut F,
) {
    let items = &batch.items;
    for (i, (head, item)) in items.heads.iter().zip(&items.items).enumerate() {
        let seq = batch.first + i as u64;
        if head.passes(me) {
            // What the fragment guard and `step` do with a whole packet
            // of another shard.
            intake.admit_whole();
            table.set_seq(seq);
            table.expire_labelled(head.ts, emit);
            continue;
        }
        let (item, datagram_id) = batch.step(item);
        let Step::Packet { ts, ref pkt, .. } = item else {
            continue;
        };
        if !intake.admit(pkt, datagram_id, ts) {
            continue;
        }
        step(me, table, x, seq, item, emit);
    }
}

/// Shard 0: its table and cross-flow tables, run in the calling thread.
struct Local<T> {
    table: FlowTable,
    x: Expectations,
    work: Box<dyn FnMut(Flow) -> T + Send>,
}

impl<T> Local<T> {
    /// Item `seq`; the flows it finishes go to the merge.
    fn step<E: FnMut(T)>(&mut self, seq: u64, item: Step<'_>, hub: &mut Hub<T>, emit: &mut E) {
        let work = &mut self.work;
        step(
            0,
            &mut self.table,
            &mut self.x,
            seq,
            item,
            &mut |f, _, o| hub.push_local(o, work(f), emit),
        );
    }

    /// Finishes every live flow of shard 0 into the merge.
    fn flush<E: FnMut(T)>(&mut self, hub: &mut Hub<T>, emit: &mut E) {
        let work = &mut self.work;
        self.table
            .flush_labelled(&mut |f, _, o| hub.push_local(o, work(f), emit));
    }
}

/// One item of the capture's sequence, as a shard sees it.
enum Step<'a> {
    Packet {
        ts: Timestamp,
        wire_len: u32,
        shard: u32,
        announces: bool,
        pkt: Packet<'a>,
    },
    Expire(Timestamp),
}

/// What shard `me` does with item `seq`: the packets of its shard go to
/// its table; at the others its table only moves its time on, as one
/// table would at that packet.
fn step<F: FnMut(Flow, Option<crate::Classification>, EndOrder)>(
    me: u32,
    table: &mut FlowTable,
    x: &mut Expectations,
    seq: u64,
    item: Step<'_>,
    emit: &mut F,
) {
    table.set_seq(seq);
    let (ts, wire_len, shard, announces, pkt) = match item {
        Step::Expire(now) => return table.expire_labelled(now, emit),
        Step::Packet {
            ts,
            wire_len,
            shard,
            announces,
            pkt,
        } => (ts, wire_len, shard, announces, pkt),
    };
    // As `FlowMeter::push_frame`: the tables read the packet before the
    // flow table accounts it (the calling thread ran observe's first
    // test).
    if announces {
        x.observe(ts, &pkt);
    }
    if pkt.fragment == Fragment::Later {
        return;
    }
    if shard != me {
        table.expire_labelled(ts, emit);
        return;
    }
    let (live, mut finished) = (table.len(), 0usize);
    table.process_labelled(ts, wire_len, &pkt, &mut |f, l, o| {
        finished += 1;
        emit(f, l, o)
    });
    if table.len() + finished > live {
        if let Some(cross) = x.lookup(ts, &pkt) {
            table.set_cross(&pkt, cross);
        }
    }
}
