//! Bounded bookkeeping of IP fragments, so that fragment floods cost
//! bounded memory and do not turn into flows.
//!
//! Fragments are not reassembled. A later fragment (offset > 0) carries no
//! ports: it is counted and never touches a flow. A first fragment carries
//! the transport header and is accounted to its flow like any packet, as
//! nDPI's reader does, but only while fewer than [`MAX_OPEN_DATAGRAMS`]
//! datagrams are *open*: their first fragment was seen, no later fragment
//! of the same datagram (addresses, protocol and Identification) has come
//! yet, and it is not older than [`REASSEMBLY_TIMEOUT_NS`]. When that many
//! are open, which only happens when first fragments keep coming without
//! the rest (a flood, or a capture filter that kept first fragments only),
//! further first fragments of datagrams not already open are refused:
//! counted, not accounted to any flow, so they make no new flows.
//!
//! Memory: at most [`MAX_OPEN_DATAGRAMS`] entries in a map and twice as
//! many in the queue that ages them out, whatever the traffic, reserved
//! when the first fragment arrives. A later fragment that arrives before
//! its first fragment does not close the datagram; it ages out.

use std::collections::VecDeque;
use std::net::IpAddr;

use hashbrown::HashMap;

use crate::Timestamp;

/// Most datagrams waiting for their later fragments at one time.
pub(crate) const MAX_OPEN_DATAGRAMS: usize = 1024;

/// How long a datagram stays open after its first fragment: 60 s, the time
/// after which IPv6 abandons reassembly (RFC 8200, section 4.5), longer
/// than the 15 s lower bound of RFC 791's reassembly timer for IPv4.
pub(crate) const REASSEMBLY_TIMEOUT_NS: u64 = 60_000_000_000;

/// One IP datagram: both addresses, the transport protocol and the
/// Identification field (RFC 791, RFC 8200 section 4.5).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DatagramKey {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) protocol: u8,
    pub(crate) id: u32,
}

/// What to do with a first fragment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Account it to its flow.
    Admit,
    /// Count it only: too many datagrams are open.
    Refuse,
}

/// The open datagrams.
#[derive(Debug, Default)]
pub(crate) struct FragmentGuard {
    /// Open datagrams and the time of their first fragment.
    open: HashMap<DatagramKey, Timestamp>,
    /// The same datagrams in arrival order, for ageing; entries whose
    /// datagram was closed since are skipped (and dropped when the queue
    /// grows past twice the map's limit).
    queue: VecDeque<(DatagramKey, Timestamp)>,
    /// Datagrams that aged out or were still open at the end: their later
    /// fragments never came.
    incomplete: u64,
}

impl FragmentGuard {
    /// A first fragment of datagram `key` seen at `now`.
    pub(crate) fn first(&mut self, key: DatagramKey, now: Timestamp) -> Verdict {
        if self.open.capacity() == 0 {
            // Once per guard: all the room it will ever use, so fragments
            // of existing flows allocate nothing afterwards.
            self.open.reserve(MAX_OPEN_DATAGRAMS);
            self.queue.reserve(2 * MAX_OPEN_DATAGRAMS);
        }
        self.age(now);
        if self.open.contains_key(&key) {
            return Verdict::Admit;
        }
        if self.open.len() >= MAX_OPEN_DATAGRAMS {
            return Verdict::Refuse;
        }
        self.open.insert(key, now);
        if self.queue.len() >= 2 * MAX_OPEN_DATAGRAMS {
            let open = &self.open;
            self.queue.retain(|(k, t)| open.get(k) == Some(t));
        }
        self.queue.push_back((key, now));
        Verdict::Admit
    }

    /// A later fragment of datagram `key`: the datagram is no longer open.
    pub(crate) fn later(&mut self, key: DatagramKey) {
        self.open.remove(&key);
    }

    /// Closes every open datagram (the end of the capture) and returns how
    /// many datagrams were incomplete since the last call.
    pub(crate) fn take_incomplete(&mut self, flush: bool) -> u64 {
        if flush {
            self.incomplete += self.open.len() as u64;
            self.open.clear();
            self.queue.clear();
        }
        std::mem::take(&mut self.incomplete)
    }

    /// Datagrams open now.
    pub(crate) fn open(&self) -> usize {
        self.open.len()
    }

    /// Ages out the datagrams opened more than the reassembly timeout
    /// before `now`.
    fn age(&mut self, now: Timestamp) {
        while let Some(&(key, t)) = self.queue.front() {
            if now.nanos_since(t) <= REASSEMBLY_TIMEOUT_NS {
                break;
            }
            self.queue.pop_front();
            if self.open.get(&key) == Some(&t) {
                self.open.remove(&key);
                self.incomplete += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> DatagramKey {
        DatagramKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            protocol: 17,
            id,
        }
    }

    #[test]
    fn open_datagrams_are_bounded_closed_and_aged() {
        let mut g = FragmentGuard::default();
        let t0 = Timestamp::from_nanos(1_000);
        for id in 0..MAX_OPEN_DATAGRAMS as u32 {
            assert_eq!(g.first(key(id), t0), Verdict::Admit);
        }
        assert_eq!(g.first(key(1 << 20), t0), Verdict::Refuse);
        // A datagram already open is admitted again (a retransmitted first fragment).
        assert_eq!(g.first(key(5), t0), Verdict::Admit);
        // Its later fragment closes it and makes room.
        g.later(key(5));
        assert_eq!(g.first(key(1 << 20), t0), Verdict::Admit);
        assert_eq!(g.open(), MAX_OPEN_DATAGRAMS);
        // After the timeout, all of them age out as incomplete.
        let later = Timestamp::from_nanos(1_000 + REASSEMBLY_TIMEOUT_NS + 1);
        assert_eq!(g.first(key(1 << 21), later), Verdict::Admit);
        assert_eq!(g.open(), 1);
        assert_eq!(g.take_incomplete(false), MAX_OPEN_DATAGRAMS as u64);
        assert_eq!(g.take_incomplete(true), 1);
        assert_eq!(g.open(), 0);
    }

    #[test]
    fn the_queue_stays_bounded_when_datagrams_complete() {
        let mut g = FragmentGuard::default();
        let t = Timestamp::from_nanos(1);
        for id in 0..100_000 {
            assert_eq!(g.first(key(id), t), Verdict::Admit);
            g.later(key(id));
            assert!(g.queue.len() <= 2 * MAX_OPEN_DATAGRAMS);
        }
        assert_eq!(g.take_incomplete(true), 0);
    }
}
