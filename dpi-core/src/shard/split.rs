//! A classic pcap or pcapng file read by every thread of a
//! [`ShardedMeter`](crate::ShardedMeter) at once.
//!
//! The file is cut into blocks of [`BLOCK`] bytes. The threads claim
//! them in file order ([`Job::claim`]): a thread claims the next block
//! whenever it has room to read ahead, so a thread with less to do (fewer
//! flows, a core of its own) reads more of them, and the load balances
//! itself. Each thread reads the blocks it claimed (positioned reads of
//! one shared file), decodes the records that start in them and puts them
//! into a batch that goes to every other thread; every thread then steps
//! through all batches in file order, as in the batches of one reader. So
//! reading and decoding are split over the threads as the flows are.
//!
//! A block's first record is found without the block before it: the first
//! position from which [`SYNC_RECORDS`] record headers chain (plausible
//! lengths and fractions of a second in a pcap file; in a pcapng file,
//! enhanced packet blocks of a known interface whose length is repeated at
//! their end). Every thread checks, when it comes
//! to a block, that it starts where the record walk of the block before
//! ended. When it does not (a record whose payload holds what looks like
//! records, a capture inside the capture), every thread reads that block
//! again itself, from where it must start. A block that stopped at a
//! record this read does not take (one longer than [`MAX_RECORD`], one
//! the file ends inside, one that could not be read; in a pcapng file any
//! block but an enhanced packet block that one reader would take as it
//! is, see `capture/layout.rs`) ends the split read
//! there, and the meter reads the rest of the file in sequence, so what it
//! reports (errors and their offsets included) is what one reader gives.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{Item, Items};
use crate::capture::layout::{read_at, Layout, Rec, Records};
use crate::expect::Expectations;
use crate::flow::shard_of;
use crate::meter::decode_counted;
use crate::{Fragment, MeterStats, Packet};

/// Bytes of the file per block.
pub(crate) const BLOCK: u64 = 1 << 17;
/// Bytes read past a block's end with it, so that the record crossing its
/// end is read in the same call.
const OVERLAP: u64 = 2048;
/// The longest record a block takes; a longer one ends the split read.
pub(crate) const MAX_RECORD: u32 = 256 * 1024;
/// Record headers that must chain from a position for a block to start
/// there (fewer when the file ends first).
const SYNC_RECORDS: usize = 8;
/// Blocks read ahead of the block the slowest shard steps through, per
/// shard, and at least [`STEPS_AHEAD`] (see [`Job::claim`]).
pub(crate) const AHEAD: u64 = 4;
/// Blocks a worker claims past the one it steps through.
const LEAD: u64 = 4;
/// Blocks the calling thread claims past the one it steps through. It
/// merges and writes out the flows of every shard, in bursts (a mass
/// expiry), and between the bursts it is the thread ahead: the further it
/// may read then, the less the workers read.
const LEAD_CALLER: u64 = 8;
/// Blocks the calling thread may step through past the slowest worker
/// before it waits for it (its flows wait for the merge meanwhile).
pub(crate) const STEPS_AHEAD: u64 = 16;
/// Blocks a thread keeps for reuse once no thread holds them.
pub(crate) const KEEP: usize = 8;

/// One split read of a file.
pub(crate) struct Job {
    /// Number of the read in its meter.
    pub(crate) id: u64,
    pub(crate) file: File,
    pub(crate) layout: Layout,
    /// The file's length when the read began.
    pub(crate) len: u64,
    pub(crate) shards: u32,
    /// Sequence number of the first item of block 0; block `k`'s item `i`
    /// has `seq_base + (k << 32) + i` (a block holds fewer than 2^32).
    pub(crate) seq_base: u64,
    /// Who reads which block, and how far each shard stepped.
    pub(crate) claims: Claims,
}

/// The blocks of a split read claimed so far, and by whom.
pub(crate) struct Claims {
    state: Mutex<Claimed>,
    /// The next block each shard steps through.
    steps: Box<[AtomicU64]>,
}

struct Claimed {
    /// The first block nobody claimed.
    next: u64,
    /// The shard that reads block `k`, at `k % readers.len()`: enough for
    /// every block that can be claimed and not stepped through by all.
    readers: Box<[u32]>,
}

/// Blocks that may be read past the one the slowest shard steps through.
fn window(shards: u32) -> u64 {
    (AHEAD * u64::from(shards.max(1))).max(STEPS_AHEAD)
}

impl Claims {
    pub(crate) fn new(shards: u32) -> Claims {
        let window = window(shards);
        Claims {
            state: Mutex::new(Claimed {
                next: 0,
                readers: vec![0; 2 * window as usize].into_boxed_slice(),
            }),
            steps: (0..shards.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Claimed> {
        // The state stays whole whatever panics: a poisoned lock is fine.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Job {
    /// Blocks of the file.
    pub(crate) fn blocks(&self) -> u64 {
        self.len
            .saturating_sub(self.layout.first_record())
            .div_ceil(BLOCK)
    }

    /// The next block for shard `me` to read, if any may be read now:
    /// blocks are claimed in file order, up to [`AHEAD`] per shard past
    /// the block the slowest shard steps through (what bounds the blocks
    /// held in memory).
    pub(crate) fn claim(&self, me: u32) -> Option<u64> {
        let steps = &self.claims.steps;
        let slowest = steps.iter().map(|s| s.load(Ordering::Acquire)).min()?;
        let own = steps.get(me as usize)?.load(Ordering::Relaxed);
        let lead = if me == 0 { LEAD_CALLER } else { LEAD };
        let limit = (slowest + window(self.shards))
            .min(own + lead)
            .min(self.blocks());
        let mut c = self.claims.state();
        let k = c.next;
        if k >= limit {
            return None;
        }
        c.next += 1;
        let ring = c.readers.len() as u64;
        c.readers[(k % ring) as usize] = me;
        Some(k)
    }

    /// The shard reading block `k`, once claimed; for a block no shard has
    /// stepped past (the ring of readers covers those).
    pub(crate) fn reader(&self, k: u64) -> Option<u32> {
        let c = self.claims.state();
        let ring = c.readers.len() as u64;
        (k < c.next && c.next - k <= ring).then(|| c.readers[(k % ring) as usize])
    }

    /// Shard `me` steps through block `k` next.
    pub(crate) fn step_to(&self, me: u32, k: u64) {
        if let Some(s) = self.claims.steps.get(me as usize) {
            s.store(k, Ordering::Release);
        }
    }

    /// The worker (shard 1 or later) furthest behind: the one to wait for
    /// when no block may be read now.
    pub(crate) fn slowest_worker(&self) -> Option<u32> {
        (1..self.claims.steps.len())
            .min_by_key(|&i| self.claims.steps[i].load(Ordering::Acquire))
            .map(|i| i as u32)
    }

    fn begin(&self, k: u64) -> u64 {
        self.layout.first_record() + k * BLOCK
    }

    /// Sequence number of block `k`'s first item.
    pub(crate) fn first_seq(&self, k: u64) -> u64 {
        self.seq_base + (k << 32)
    }

    /// Sequence numbers taken by the whole file.
    pub(crate) fn seq_end(&self) -> u64 {
        self.first_seq(self.blocks() + 1)
    }
}

/// Where a block's record walk ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// The first record at or past the block's end starts here (the file's
    /// length after the last record).
    Next(u64),
    /// A record this read does not take starts here: the rest of the file
    /// is read in sequence from here.
    Stop(u64),
}

/// What a batch of a split read says about its block.
pub(crate) struct BlockInfo {
    /// The read ([`Job::id`]) and the block.
    pub(crate) run: u64,
    pub(crate) block: u64,
    /// Where its first record was taken to start (`u64::MAX`: no start
    /// found, or the block could not be read).
    pub(crate) start: u64,
    pub(crate) tail: Tail,
    /// The time of the block's last frame, if it has one (what a pcapng
    /// simple packet block after it is given).
    pub(crate) last_ts: Option<crate::Timestamp>,
    /// Frames and what did not decode (packets are counted as they are
    /// stepped through, by the fragment guard's [`Intake::admit`]).
    ///
    /// [`Intake::admit`]: crate::meter::Intake::admit
    pub(crate) stats: MeterStats,
}

/// Reads block `k` into `bytes` and decodes its records into `out`.
/// `bytes` keeps its length from one block to the next (so that it is not
/// zeroed again each time); the block's bytes are its first
/// `BlockInfo::filled`.
///
/// The block's first record is found as the module's docs say, or taken to
/// start at `start` when given.
pub(super) fn read_block(
    job: &Job,
    k: u64,
    start: Option<u64>,
    bytes: &mut Vec<u8>,
    out: &mut Items,
) -> BlockInfo {
    match &job.layout {
        Layout::Pcap(l) => walk_block(l, job, k, start, bytes, out),
        Layout::Ng(l) => walk_block(l, job, k, start, bytes, out),
    }
}

/// [`read_block`] over records laid out as `layout` says.
fn walk_block<L: Records>(
    layout: &L,
    job: &Job,
    k: u64,
    start: Option<u64>,
    bytes: &mut Vec<u8>,
    out: &mut Items,
) -> BlockInfo {
    out.clear();
    let begin = job.begin(k);
    let end = (begin + BLOCK).min(job.len);
    let mut buf = Buf {
        job,
        begin,
        bytes,
        filled: 0,
    };
    let mut info = BlockInfo {
        run: job.id,
        block: k,
        start: u64::MAX,
        tail: Tail::Stop(u64::MAX),
        last_ts: None,
        stats: MeterStats::default(),
    };
    if !buf.fill(end) {
        return info;
    }
    let start = match start {
        Some(at) => Some(at),
        None if k == 0 => Some(job.layout.first_record()),
        None => find_start(layout, job, begin, buf.data()),
    };
    let Some(start) = start.filter(|&at| at >= begin) else {
        return info;
    };
    info.start = start;
    let mut at = start;
    info.tail = loop {
        if at >= end {
            break Tail::Next(at);
        }
        let pos = (at - begin) as usize;
        let mut want = layout.head_len();
        let r = loop {
            if !buf.fill(at + want as u64) {
                break None;
            }
            match layout.take(&buf.data()[pos..], MAX_RECORD) {
                Rec::Need(n) if n > want => want = n,
                Rec::Frame(r) => break Some(r),
                Rec::Need(_) | Rec::Stop => break None,
            }
        };
        let Some(r) = r else {
            break Tail::Stop(at);
        };
        info.last_ts = Some(r.ts);
        let all = buf.data();
        let data = &all[pos + r.start..pos + r.start + r.caplen];
        if let Some(d) = decode_counted(&mut info.stats, r.link_type, data, r.orig_len) {
            let pkt = d.packet;
            // The payload is a slice of the block's bytes, unless it is
            // empty: then it may be a slice of nothing (a header longer
            // than its frame), which is kept as `0..0`.
            let from = (pkt.payload.as_ptr() as usize)
                .checked_sub(all.as_ptr() as usize)
                .filter(|&f| f + pkt.payload.len() <= all.len());
            debug_assert!(from.is_some() || pkt.payload.is_empty());
            let (start, end) = from.map_or((0, 0), |f| (f, f + pkt.payload.len()));
            let shard = if pkt.fragment == Fragment::Later {
                0
            } else {
                shard_of(&pkt, job.shards as usize) as u32
            };
            out.push(Item::Packet {
                ts: r.ts,
                wire_len: r.orig_len.max(r.caplen as u32),
                shard,
                announces: Expectations::may_announce(&pkt),
                datagram_id: d.datagram_id,
                // A block holds far less than 4 GiB.
                start: start as u32,
                end: end as u32,
                pkt: Packet {
                    payload: &[],
                    ..pkt
                },
            });
        }
        at += r.len as u64;
    };
    info
}

/// The bytes of one block as read so far.
struct Buf<'a> {
    job: &'a Job,
    /// Offset in the file of `bytes[0]`.
    begin: u64,
    bytes: &'a mut Vec<u8>,
    /// Bytes read.
    filled: usize,
}

impl Buf<'_> {
    fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Makes sure the file is read up to offset `upto` (reading
    /// [`OVERLAP`] more when it reads); false when the file ends before
    /// `upto` or cannot be read.
    fn fill(&mut self, upto: u64) -> bool {
        let have = self.begin + self.filled as u64;
        if upto <= have {
            return true;
        }
        if upto > self.job.len {
            return false;
        }
        let to = ((upto + OVERLAP).min(self.job.len) - self.begin) as usize;
        if self.bytes.len() < to {
            self.bytes.resize(to, 0);
        }
        if read_at(&self.job.file, &mut self.bytes[self.filled..to], have).is_err() {
            return false;
        }
        self.filled = to;
        true
    }
}

/// Whether positioned reads are available (a split read needs them).
pub(crate) const SUPPORTED: bool = cfg!(unix);

/// The first position in the block from which record headers chain.
fn find_start<L: Records>(layout: &L, job: &Job, begin: u64, bytes: &[u8]) -> Option<u64> {
    let limit = (BLOCK as usize).min(bytes.len());
    (0..limit)
        .find(|&p| chains(layout, job, begin, bytes, p))
        .map(|p| begin + p as u64)
}

/// Whether [`SYNC_RECORDS`] plausible record headers follow one another
/// from `p` (or fewer, up to the file's end exactly), each of at most
/// [`MAX_RECORD`] bytes ([`Records::plausible`]).
fn chains<L: Records>(layout: &L, job: &Job, begin: u64, bytes: &[u8], mut p: usize) -> bool {
    for i in 0..SYNC_RECORDS {
        if begin + p as u64 == job.len {
            return i > 0;
        }
        if bytes.len().saturating_sub(p) < layout.head_len() {
            // Past what was read, after two headers that chained.
            return i >= 2;
        }
        match layout.plausible(&bytes[p..], MAX_RECORD) {
            Some(len) => p += len,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A split read of a classic pcap file of `blocks` blocks (records are
    /// not read: only the claims are looked at), over `shards` shards.
    fn job(blocks: u64, shards: u32) -> Job {
        // Little-endian microsecond pcap, Ethernet.
        let bytes = crate::capture::tests::pcap_header(false, false, 1, 65535);
        let layout = crate::capture::CaptureReader::new(&bytes[..])
            .ok()
            .and_then(|r| r.pcap_layout())
            .map(Layout::Pcap)
            .expect("a pcap file header");
        let path = std::env::temp_dir().join(format!(
            "dpi-split-claims-{}-{blocks}-{shards}.pcap",
            std::process::id()
        ));
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        Job {
            id: 1,
            file,
            layout,
            len: 24 + blocks * BLOCK,
            shards,
            seq_base: 0,
            claims: Claims::new(shards),
        }
    }

    #[test]
    fn a_thread_claims_up_to_its_lead_in_file_order() {
        let j = job(100, 2);
        let mine: Vec<u64> = std::iter::from_fn(|| j.claim(0)).collect();
        assert_eq!(mine, (0..LEAD_CALLER).collect::<Vec<_>>());
        // A worker takes what follows, up to its own (shorter) lead, which
        // its claims do not reach past the window of the slowest.
        assert_eq!(j.claim(1), None, "{LEAD_CALLER} blocks are claimed");
        let at = LEAD_CALLER - 1;
        j.step_to(1, at);
        let theirs: Vec<u64> = std::iter::from_fn(|| j.claim(1)).collect();
        assert_eq!(theirs, (LEAD_CALLER..at + LEAD).collect::<Vec<_>>());
        for k in 0..LEAD_CALLER {
            assert_eq!(j.reader(k), Some(0));
        }
        for k in LEAD_CALLER..at + LEAD {
            assert_eq!(j.reader(k), Some(1));
        }
        assert_eq!(j.reader(at + LEAD), None, "not claimed yet");
    }

    #[test]
    fn the_calling_thread_reads_further_ahead_than_a_worker() {
        let j = job(100, 2);
        // Both at block 0, the worker first: it stops at its own lead, and
        // the calling thread still has blocks to claim past it.
        let theirs: Vec<u64> = std::iter::from_fn(|| j.claim(1)).collect();
        let mine: Vec<u64> = std::iter::from_fn(|| j.claim(0)).collect();
        assert_eq!(theirs, (0..LEAD).collect::<Vec<_>>());
        assert!(!mine.is_empty(), "the calling thread claimed nothing");
        assert_eq!(mine, (LEAD..LEAD_CALLER).collect::<Vec<_>>());
    }

    #[test]
    fn claims_stay_within_the_window_of_the_slowest_shard() {
        let j = job(1000, 3);
        // Shard 2 far ahead: it may not claim past the window beyond
        // the slowest (shards 0 and 1 at block 0).
        j.step_to(2, 500);
        let ahead: Vec<u64> = std::iter::from_fn(|| j.claim(2)).collect();
        assert_eq!(ahead, (0..window(3)).collect::<Vec<_>>());
        assert_eq!(j.slowest_worker(), Some(1));
        // Every block claimed keeps its reader while no shard is past it.
        for k in 0..window(3) {
            assert_eq!(j.reader(k), Some(2));
        }
        j.step_to(0, 500);
        j.step_to(1, window(3) - 1);
        assert_eq!(j.claim(1), Some(window(3)));
        assert_eq!(j.slowest_worker(), Some(1));
    }

    #[test]
    fn claims_end_at_the_last_block() {
        let j = job(3, 2);
        j.step_to(0, 2);
        j.step_to(1, 2);
        let all: Vec<u64> = std::iter::from_fn(|| j.claim(0).or_else(|| j.claim(1))).collect();
        assert_eq!(all, vec![0, 1, 2]);
    }

    /// Blocks of a pcapng file in either byte order, over two interfaces,
    /// some datagrams carrying enhanced packet blocks: each block's walk
    /// starts where the one before ended (read again from there when its
    /// start was guessed inside such a payload), none stops, and every
    /// packet is taken once.
    #[test]
    fn every_block_of_a_pcapng_file_is_walked() {
        use crate::testing::{udp_ipv4_frame, PcapNgWriter};
        for be in [false, true] {
            let mut inner = PcapNgWriter {
                be,
                ..PcapNgWriter::default()
            };
            for i in 0..20 {
                inner.epb(0, i, &[0x5a; 24], 24);
            }
            let mut w = PcapNgWriter::new();
            w.shb(be).idb(1, 0, None, None).idb(1, 0, Some(9), Some(3));
            let mut packets = 0u64;
            while w.out.len() < 5 * BLOCK as usize {
                let payload = if packets % 4 == 0 {
                    inner.out.clone()
                } else {
                    vec![packets as u8; (packets * 37 % 1400) as usize]
                };
                let port = 1000 + (packets % 500) as u16;
                let frame = udp_ipv4_frame([10, 0, 0, 1], port, [10, 0, 0, 2], 53, &payload);
                w.epb(
                    (packets % 2) as u32,
                    1_000_000 + packets,
                    &frame,
                    frame.len() as u32,
                );
                packets += 1;
            }
            let path = std::env::temp_dir()
                .join(format!("dpi-split-walk-{}-{be}.pcapng", std::process::id()));
            std::fs::write(&path, &w.out).unwrap();
            let file = File::open(&path).unwrap();
            let _ = std::fs::remove_file(&path);
            let layout = Layout::of_file(&file, BLOCK).expect("a pcapng layout");
            assert_eq!(layout.first_record(), w.offsets[3] as u64);
            let job = Job {
                id: 1,
                file,
                layout,
                len: w.out.len() as u64,
                shards: 2,
                seq_base: 0,
                claims: Claims::new(2),
            };
            let (mut bytes, mut items) = (Vec::new(), Items::default());
            let (mut expect, mut taken, mut again) = (job.layout.first_record(), 0, 0);
            for k in 0..job.blocks() {
                let mut info = read_block(&job, k, None, &mut bytes, &mut items);
                if info.start != expect {
                    again += 1;
                    info = read_block(&job, k, Some(expect), &mut bytes, &mut items);
                }
                match info.tail {
                    Tail::Next(at) => expect = at,
                    Tail::Stop(at) => panic!("block {k} stops at {at}"),
                }
                taken += items.len() as u64;
            }
            assert_eq!((expect, taken), (job.len, packets));
            assert!(again < job.blocks() / 2, "{again} of {}", job.blocks());
        }
    }
}
