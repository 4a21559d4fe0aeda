//! Near-duplicate captures: one source of evidence.
//!
//! Corpora hold the same traffic more than once: a trace and its filtered
//! copy, the same exchange with a VLAN tag and with two, a pcap and its
//! pcapng conversion, one trace shipped by two projects. Counted as two
//! captures, such a pair lets a rule mined from one be "confirmed" on the
//! other, and lets an evaluation fold test on the copy of a training
//! capture. So captures that share most of their flows are one *source*:
//! the trainer's held-out evidence ([`super::evidence`]) and rotations, the
//! application learner and `dpi eval --folds` all count sources, never two
//! captures of one source apart.
//!
//! A flow is identified by its [`fingerprint`]: transport, initiator and
//! responder address and port, and the first packet's time in
//! milliseconds. Each capture keeps a bottom-k [`Sketch`] of its flows'
//! fingerprints (the [`SKETCH_K`] smallest hashes, exact for smaller
//! captures) and its flow count. Two captures are one source when the
//! estimated share of the smaller one's flows that are also in the other
//! ([`Sketch::containment`]) is at least [`SAME_SOURCE`]; sources are the
//! connected parts of that relation, each named by its smallest capture
//! name ([`sources`]).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::hash::hash_fields;
use crate::record::FlowRecord;

/// Hashes kept per capture.
pub const SKETCH_K: usize = 64;
/// Containment from which two captures are one source.
pub const SAME_SOURCE: f64 = 0.5;
/// Captures sharing one kept hash that are compared pair by pair, at most
/// (see [`sources`]).
pub const MAX_SHARERS: usize = 1024;

/// The identity of a flow across captures (see the module docs): its
/// transport, initiator and responder endpoints and first packet's time.
///
/// ```
/// use dpi_train::train::sources::flow_fingerprint;
///
/// let a = flow_fingerprint("tcp", ("10.0.0.1", 40000), ("10.0.0.2", 80), 1.0002);
/// // The same flow in a copy whose timestamps have nanoseconds.
/// let b = flow_fingerprint("tcp", ("10.0.0.1", 40000), ("10.0.0.2", 80), 1.000_200_4);
/// assert_eq!(a, b);
/// assert_ne!(a, flow_fingerprint("tcp", ("10.0.0.1", 40000), ("10.0.0.2", 80), 1.5));
/// assert_ne!(a, flow_fingerprint("udp", ("10.0.0.1", 40000), ("10.0.0.2", 80), 1.0002));
/// ```
pub fn flow_fingerprint(
    transport: &str,
    initiator: (&str, u16),
    responder: (&str, u16),
    first_ts: f64,
) -> u64 {
    let ms = (first_ts * 1000.0).floor();
    let ms = if ms.is_finite() { ms as i64 } else { 0 };
    hash_fields(&[
        b"dpi-train-flow",
        transport.as_bytes(),
        initiator.0.as_bytes(),
        &initiator.1.to_be_bytes(),
        responder.0.as_bytes(),
        &responder.1.to_be_bytes(),
        &ms.to_be_bytes(),
    ])
}

/// The [`flow_fingerprint`] of a flow record.
pub fn fingerprint(r: &FlowRecord) -> u64 {
    flow_fingerprint(
        &r.transport,
        (&r.src_ip, r.src_port),
        (&r.dst_ip, r.dst_port),
        r.first_ts,
    )
}

/// The [`SKETCH_K`] smallest flow fingerprints of a capture and how many
/// flows it has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sketch {
    /// Flows counted (with repeats of a fingerprint).
    pub flows: u64,
    /// The smallest distinct fingerprints, ascending.
    pub mins: Vec<u64>,
}

impl AsRef<Sketch> for Sketch {
    fn as_ref(&self) -> &Sketch {
        self
    }
}

impl Sketch {
    /// Counts one flow.
    ///
    /// ```
    /// use dpi_train::train::sources::{Sketch, SKETCH_K};
    ///
    /// let mut s = Sketch::default();
    /// for h in (0..200u64).rev() {
    ///     s.add(h);
    ///     s.add(h);
    /// }
    /// assert_eq!(s.flows, 400);
    /// assert_eq!(s.mins, (0..SKETCH_K as u64).collect::<Vec<_>>());
    /// ```
    pub fn add(&mut self, h: u64) {
        self.flows = self.flows.saturating_add(1);
        if self.mins.len() == SKETCH_K && self.mins.last().is_some_and(|&m| h > m) {
            return;
        }
        if let Err(at) = self.mins.binary_search(&h) {
            self.mins.insert(at, h);
            self.mins.truncate(SKETCH_K);
        }
    }

    /// Whether the sketch is well formed (ascending, distinct, at most
    /// [`SKETCH_K`] hashes, no more than its flows).
    pub fn is_valid(&self) -> bool {
        self.mins.len() <= SKETCH_K
            && self.mins.len() as u64 <= self.flows
            && self.mins.windows(2).all(|w| w[0] < w[1])
    }

    /// Distinct flows: exact below [`SKETCH_K`], else the flow count.
    fn distinct(&self) -> f64 {
        if self.mins.len() < SKETCH_K {
            self.mins.len() as f64
        } else {
            self.flows as f64
        }
    }

    /// The estimated share of the smaller capture's flows that the other
    /// holds too: the Jaccard index `J` of the two sets from the bottom-k
    /// of their union, then `|A ∩ B| = J (|A| + |B|) / (1 + J)`. Exact when
    /// both captures have fewer than [`SKETCH_K`] distinct flows.
    ///
    /// ```
    /// use dpi_train::train::sources::Sketch;
    ///
    /// let of = |r: std::ops::Range<u64>| {
    ///     let mut s = Sketch::default();
    ///     r.for_each(|h| s.add(h * 7919));
    ///     s
    /// };
    /// assert_eq!(of(0..10).containment(&of(0..40)), 1.0);
    /// assert_eq!(of(0..10).containment(&of(5..40)), 0.5);
    /// assert_eq!(of(0..10).containment(&of(10..20)), 0.0);
    /// assert!(of(0..1000).containment(&of(0..2000)) > 0.7);
    /// ```
    pub fn containment(&self, o: &Sketch) -> f64 {
        let (a, b) = (self.distinct(), o.distinct());
        if a == 0.0 || b == 0.0 {
            return 0.0;
        }
        // The bottom-k of the union, and how many of it both hold.
        let (mut i, mut j, mut seen, mut both) = (0, 0, 0usize, 0usize);
        while seen < SKETCH_K && (i < self.mins.len() || j < o.mins.len()) {
            let x = self.mins.get(i).copied().unwrap_or(u64::MAX);
            let y = o.mins.get(j).copied().unwrap_or(u64::MAX);
            if i < self.mins.len() && j < o.mins.len() && x == y {
                both += 1;
                i += 1;
                j += 1;
            } else if j >= o.mins.len() || (i < self.mins.len() && x < y) {
                i += 1;
            } else {
                j += 1;
            }
            seen += 1;
        }
        let jaccard = both as f64 / seen.max(1) as f64;
        let shared = jaccard * (a + b) / (1.0 + jaccard);
        (shared / a.min(b)).min(1.0)
    }
}

/// The source of every capture of `sketches`: the smallest name among the
/// captures linked to it by a containment of at least [`SAME_SOURCE`]
/// (transitively). A capture without a sketch is not in the map (it is
/// its own source).
///
/// ```
/// use std::collections::BTreeMap;
/// use dpi_train::train::sources::{sources, Sketch};
///
/// let of = |r: std::ops::Range<u64>| {
///     let mut s = Sketch::default();
///     r.for_each(|h| s.add(h));
///     s
/// };
/// let mut sk = BTreeMap::new();
/// sk.insert("b.pcap".to_owned(), of(0..10));
/// sk.insert("a-filtered.pcap".to_owned(), of(0..6));
/// sk.insert("c.pcap".to_owned(), of(100..110));
/// let s = sources(&sk);
/// assert_eq!(s["b.pcap"], "a-filtered.pcap");
/// assert_eq!(s["c.pcap"], "c.pcap");
/// ```
pub fn sources(sketches: &BTreeMap<String, Sketch>) -> BTreeMap<String, String> {
    let names: Vec<&String> = sketches.keys().collect();
    let list: Vec<&Sketch> = sketches.values().collect();
    let mut parent: Vec<usize> = (0..names.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let link = |parent: &mut [usize], a: usize, b: usize| {
        let (ra, rb) = (root(parent, a), root(parent, b));
        // Already one source: the containment would add nothing.
        if ra != rb && list[a].containment(list[b]) >= SAME_SOURCE {
            // Names are in ascending order: the smaller index names the source.
            parent[ra.max(rb)] = ra.min(rb);
        }
    };
    // Copies of one capture have the same sketch: linked in one pass.
    let mut first: HashMap<&[u64], usize> = HashMap::new();
    for (i, s) in list.iter().enumerate() {
        if s.mins.is_empty() {
            continue;
        }
        match first.get(s.mins.as_slice()) {
            Some(&j) => link(&mut parent, j, i),
            None => {
                first.insert(s.mins.as_slice(), i);
            }
        }
    }
    // Only captures that share a kept hash can be linked. The sources are
    // the connected parts, whatever order the pairs are tried in, so each
    // hash's captures are tried as they come, with no list of pairs. A
    // hash held by more than `MAX_SHARERS` captures links none of them:
    // such captures are copies (linked above) or share other hashes, and a
    // file of partial statistics cannot make the work grow with the square
    // of its size.
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, s) in list.iter().enumerate() {
        for &h in &s.mins {
            by_hash.entry(h).or_default().push(i);
        }
    }
    let mut hashes: Vec<(&u64, &Vec<usize>)> = by_hash.iter().collect();
    hashes.sort_unstable();
    for (_, v) in hashes {
        if v.len() < 2 || v.len() > MAX_SHARERS {
            continue;
        }
        for (k, &a) in v.iter().enumerate() {
            for &b in &v[k + 1..] {
                link(&mut parent, a, b);
            }
        }
    }
    (0..names.len())
        .map(|i| {
            let r = root(&mut parent, i);
            (names[i].clone(), names[r].clone())
        })
        .collect()
}

/// [`sources`] of captures that share sketches: `captures` gives each
/// capture's content id, `contents` the content of each id. Captures of
/// one content are one source (named by the smallest of them, as
/// [`sources`] would link them); the distinct contents are compared
/// once each. A capture whose content has no flows is not in the map.
///
/// ```
/// use std::collections::BTreeMap;
/// use dpi_train::train::sources::{sources_by_content, Sketch};
///
/// let mut a = Sketch::default();
/// (0..10).for_each(|h| a.add(h));
/// let mut b = Sketch::default();
/// (100..110).for_each(|h| b.add(h));
/// let captures = BTreeMap::from([("r1-a.pcap", 1), ("r0-a.pcap", 1), ("b.pcap", 2)]);
/// let contents = BTreeMap::from([(1, &a), (2, &b)]);
/// let s = sources_by_content(&captures, &contents);
/// assert_eq!(s["r1-a.pcap"], "r0-a.pcap");
/// assert_eq!(s["b.pcap"], "b.pcap");
/// ```
pub fn sources_by_content<C: AsRef<Sketch>>(
    captures: &BTreeMap<&str, u64>,
    contents: &BTreeMap<u64, C>,
) -> BTreeMap<String, String> {
    // The first (smallest) capture of each content with flows names it.
    let mut first: HashMap<u64, &str> = HashMap::new();
    for (c, id) in captures {
        if contents
            .get(id)
            .is_some_and(|s| !s.as_ref().mins.is_empty())
        {
            first.entry(*id).or_insert(c);
        }
    }
    let by_name: BTreeMap<String, Sketch> = first
        .iter()
        .filter_map(|(id, c)| {
            contents
                .get(id)
                .map(|s| ((*c).to_owned(), s.as_ref().clone()))
        })
        .collect();
    let of_first = sources(&by_name);
    captures
        .iter()
        .filter_map(|(c, id)| {
            let f = first.get(id)?;
            Some(((*c).to_owned(), of_first.get(*f)?.clone()))
        })
        .collect()
}

/// The sketches of the flows of some captures, by capture name.
pub fn sketches_of<'a>(
    flows: impl IntoIterator<Item = (&'a str, &'a FlowRecord)>,
) -> BTreeMap<String, Sketch> {
    let mut out: BTreeMap<String, Sketch> = BTreeMap::new();
    for (capture, r) in flows {
        match out.get_mut(capture) {
            Some(s) => s.add(fingerprint(r)),
            None => {
                let mut s = Sketch::default();
                s.add(fingerprint(r));
                out.insert(capture.to_owned(), s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn of(hashes: &[u64]) -> Sketch {
        let mut s = Sketch::default();
        hashes.iter().for_each(|&h| s.add(h));
        s
    }

    #[test]
    fn chains_are_one_source() {
        let mut sk = BTreeMap::new();
        sk.insert("x".to_owned(), of(&[1, 2, 3, 4]));
        sk.insert("y".to_owned(), of(&[3, 4, 5, 6]));
        sk.insert("z".to_owned(), of(&[5, 6, 7, 8]));
        sk.insert("w".to_owned(), of(&[9]));
        let s = sources(&sk);
        assert_eq!(s["z"], "x");
        assert_eq!(s["y"], "x");
        assert_eq!(s["w"], "w");
    }

    #[test]
    fn copies_beyond_the_sharers_bound_are_one_source() {
        // More copies of one capture than are compared pair by pair, and as
        // many captures sharing only one hash: the copies are one source,
        // the others stand alone, with no list of all their pairs.
        let mut sk = BTreeMap::new();
        for i in 0..MAX_SHARERS + 10 {
            sk.insert(format!("copy{i:05}"), of(&[1, 2, 3, 4]));
            sk.insert(format!("other{i:05}"), of(&[0, 1000 + i as u64]));
        }
        let s = sources(&sk);
        assert!((0..MAX_SHARERS + 10).all(|i| s[&format!("copy{i:05}")] == "copy00000"));
        assert!((0..MAX_SHARERS + 10).all(|i| s[&format!("other{i:05}")] == format!("other{i:05}")));
    }

    #[test]
    fn empty_captures_stand_alone() {
        assert_eq!(of(&[]).containment(&of(&[1])), 0.0);
    }

    proptest! {
        #[test]
        fn containment_is_a_share(a in proptest::collection::vec(any::<u64>(), 0..300),
                                  b in proptest::collection::vec(any::<u64>(), 0..300)) {
            let (x, y) = (of(&a), of(&b));
            prop_assert!(x.is_valid() && y.is_valid());
            let c = x.containment(&y);
            prop_assert!((0.0..=1.0).contains(&c));
            prop_assert!((c - y.containment(&x)).abs() < 1e-9);
            if !a.is_empty() {
                prop_assert_eq!(x.containment(&x), 1.0);
            }
        }
    }
}
