//! Measuring candidates: does a signature match an example, and how
//! precise is it over a pool of examples.
//!
//! [`Prepared::matches`] follows the semantics of `signatures/README.md`
//! over the bytes an example holds: masked bytes, literals, regexes
//! (compiled as the matcher compiles them, see
//! [`dpi_core::signature::compile_regex`]), sizes, packet counts,
//! first-payload side.

use dpi_core::signature::{
    compile_regex, Direction, Feature, PatternKind, Position, Side, Signature,
};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use super::example::{Class, Example};
use super::partial::Partial;

fn regex_matches(re: &Regex, position: Position, data: &[u8]) -> bool {
    match position {
        Position::At(o) => {
            let o = o as usize;
            o <= data.len() && re.is_match(Input::new(data).range(o..).anchored(Anchored::Yes))
        }
        Position::Within(n) => re.is_match(Input::new(data).range(..data.len().min(n as usize))),
        Position::Anywhere => re.is_match(data),
    }
}

/// What a pattern is matched with: its compiled regex, or a substring
/// finder for a literal that may lie anywhere.
enum Compiled {
    None,
    Regex(Box<Regex>),
    Finder(Box<memchr::memmem::Finder<'static>>),
}

fn kind_matches(kind: &PatternKind, compiled: &Compiled, data: &[u8]) -> bool {
    let re = match compiled {
        Compiled::Regex(re) => Some(&**re),
        _ => None,
    };
    match kind {
        PatternKind::Masked { offset, bytes } => {
            let o = *offset as usize;
            bytes
                .iter()
                .enumerate()
                .all(|(i, m)| m.is_any() || data.get(o + i).is_some_and(|&b| m.matches(b)))
        }
        PatternKind::Literal {
            bytes,
            nocase,
            position,
        } => {
            let eq = |a: &[u8]| {
                if *nocase {
                    a.eq_ignore_ascii_case(bytes)
                } else {
                    a == bytes.as_slice()
                }
            };
            match *position {
                Position::At(o) => data
                    .get(o as usize..o as usize + bytes.len())
                    .is_some_and(eq),
                Position::Within(n) => {
                    let end = (n as usize).min(data.len());
                    match compiled {
                        Compiled::Finder(f) => f.find(&data[..end]).is_some(),
                        _ => contains(&data[..end], bytes, *nocase),
                    }
                }
                Position::Anywhere => match compiled {
                    Compiled::Finder(f) => f.find(data).is_some(),
                    _ => contains(data, bytes, *nocase),
                },
            }
        }
        PatternKind::Regex { position, .. } => {
            re.is_some_and(|re| regex_matches(re, *position, data))
        }
    }
}

/// Whether `needle` (not empty) occurs in `hay`, ASCII case ignored with
/// `nocase`.
fn contains(hay: &[u8], needle: &[u8], nocase: bool) -> bool {
    let Some(&first) = needle.first() else {
        return false;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last = hay.len() - needle.len();
    if !nocase {
        return memchr::memchr_iter(first, &hay[..=last])
            .any(|i| &hay[i..i + needle.len()] == needle);
    }
    let first = first.to_ascii_lowercase();
    hay.windows(needle.len())
        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(needle))
}

fn side_index(s: Side) -> usize {
    match s {
        Side::Initiator => 0,
        Side::Responder => 1,
    }
}

/// True when every condition of `sig` holds for `e` (compiles its
/// regexes; to match one signature against many examples, see
/// [`Prepared`]).
pub fn matches(sig: &Signature, e: &Example) -> bool {
    Prepared::new(sig).matches(e)
}

/// A signature with its regexes compiled, to be matched against examples.
/// A regex that does not compile never matches (the parsers reject such
/// signatures before they get here).
pub struct Prepared<'s> {
    sig: &'s Signature,
    compiled: Vec<Compiled>,
}

impl<'s> Prepared<'s> {
    /// Compiles the regexes of `sig` (and a substring finder for each
    /// case-sensitive literal that may lie anywhere).
    pub fn new(sig: &'s Signature) -> Prepared<'s> {
        let compiled =
            sig.patterns
                .iter()
                .map(|p| match &p.kind {
                    PatternKind::Regex { source, .. } => compile_regex(source)
                        .map_or(Compiled::None, |r| Compiled::Regex(Box::new(r))),
                    PatternKind::Literal {
                        bytes,
                        nocase: false,
                        position: Position::Within(_) | Position::Anywhere,
                    } if !bytes.is_empty() => {
                        Compiled::Finder(Box::new(memchr::memmem::Finder::new(bytes).into_owned()))
                    }
                    _ => Compiled::None,
                })
                .collect();
        Prepared { sig, compiled }
    }

    /// True when every condition of the signature holds for `e`.
    pub fn matches(&self, e: &Example) -> bool {
        let sig = self.sig;
        if !sig.transport.matches(e.transport) || !sig.ports.contains(e.server_port) {
            return false;
        }
        let pat_ok = sig.patterns.iter().zip(&self.compiled).all(|(p, re)| {
            let (a, b) = (e.payload(0), e.payload(1));
            match p.direction {
                Direction::Initiator => kind_matches(&p.kind, re, a),
                Direction::Responder => kind_matches(&p.kind, re, b),
                Direction::Either => kind_matches(&p.kind, re, a) || kind_matches(&p.kind, re, b),
                Direction::Both => kind_matches(&p.kind, re, a) && kind_matches(&p.kind, re, b),
            }
        });
        pat_ok && features_hold(sig, e)
    }
}

fn features_hold(sig: &Signature, e: &Example) -> bool {
    sig.features.iter().all(|f| match f {
        Feature::FirstPayloadSize { side, range } => e
            .first_size(side_index(*side))
            .is_some_and(|s| range.contains(u64::from(s))),
        Feature::Packets { side, range } => {
            let n = match side {
                Some(Side::Initiator) => e.c2s_packets,
                Some(Side::Responder) => e.s2c_packets,
                None => e.c2s_packets.saturating_add(e.s2c_packets),
            };
            range.contains(n)
        }
        Feature::FirstPayloadFrom(s) => e.first_payload == Some(*s),
        Feature::ClientPort { lo, hi } => (*lo..=*hi).contains(&e.client_port),
    })
}

/// One example of the pool: a sampled content of one fold.
#[derive(Debug, Clone)]
pub struct PoolItem<'a> {
    /// The example.
    pub example: &'a Example,
    /// The reference's verdict.
    pub class: &'a Class,
    /// Its training fold.
    pub fold: u8,
    /// How many flows it stands for.
    pub weight: f64,
    /// The captures of the fold holding it (indices into
    /// [`Pool::captures`]); the weight is shared equally among them.
    pub captures: Vec<u32>,
}

impl PoolItem<'_> {
    /// Each capture holding the item with its share of the weight.
    pub fn shares(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        let share = self.weight / self.captures.len().max(1) as f64;
        self.captures.iter().map(move |&c| (c, share))
    }

    /// The item restricted to the captures `keep` accepts (weight
    /// scaled); `None` when it keeps none.
    pub fn restricted(&self, keep: impl Fn(u32) -> bool) -> Option<Self> {
        let captures: Vec<u32> = self.captures.iter().copied().filter(|&c| keep(c)).collect();
        if captures.is_empty() {
            return None;
        }
        let weight = self.weight * captures.len() as f64 / self.captures.len().max(1) as f64;
        Some(PoolItem {
            captures,
            weight,
            ..self.clone()
        })
    }
}

/// Every sampled example of a partial, by transport: one item per sampled
/// content and fold it was seen in, naming the captures of that fold that
/// hold it.
pub struct Pool<'a> {
    /// The examples, grouped by transport (ascending), then in group order.
    pub items: Vec<PoolItem<'a>>,
    /// Per transport, the range of `items` holding it, and the indices of
    /// the items with user data from the initiator and from the responder.
    ranges: Vec<(u8, std::ops::Range<usize>, [Vec<usize>; 2])>,
    /// Weight given to a match on an unlabelled or weakly labelled flow of
    /// another protocol.
    pub unlabelled_weight: f64,
    /// Number of training folds.
    pub folds: usize,
    /// The capture names the items refer to, ascending.
    pub captures: Vec<String>,
    /// The training fold of each capture.
    pub capture_folds: Vec<u8>,
}

/// The file name of a recorded capture (`corpus/file.pcap` → `file.pcap`).
pub fn file_name(capture: &str) -> &str {
    capture.rsplit('/').next().unwrap_or(capture)
}

impl<'a> Pool<'a> {
    /// The pool of `p`'s samples.
    pub fn new(p: &'a Partial, unlabelled_weight: f64) -> Pool<'a> {
        let mut groups: Vec<_> = p.groups.iter().collect();
        groups.sort_by(|a, b| (a.key.transport, &a.key).cmp(&(b.key.transport, &b.key)));
        // Evidence is counted by source: near-duplicate captures are one
        // (named by the smallest of their names).
        let sources = p.sources();
        let names: std::collections::BTreeSet<&str> = p
            .groups
            .iter()
            .flat_map(|g| g.sample.iter())
            .flat_map(|s| s.captures.iter().map(|c| sources.of(c)))
            .collect();
        let captures: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let folds = p.settings.folds.max(1);
        let cap_fold: Vec<u8> = captures
            .iter()
            .map(|c| super::hash::fold_of(file_name(c), folds))
            .collect();
        let index = |c: &str| {
            captures
                .binary_search_by(|x| x.as_str().cmp(sources.of(c)))
                .ok()
        };
        let mut items = Vec::new();
        let mut ranges: Vec<(u8, std::ops::Range<usize>, [Vec<usize>; 2])> = Vec::new();
        for g in groups {
            let start = items.len();
            let weights: Vec<f64> = (0..g.flows.len()).map(|f| g.weight(f)).collect();
            for s in &g.sample {
                let mut ids: Vec<u32> = s
                    .captures
                    .iter()
                    .filter_map(|c| index(c))
                    .map(|i| i as u32)
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                for (f, &n) in s.counts.iter().enumerate() {
                    if n == 0 {
                        continue;
                    }
                    let here: Vec<u32> = ids
                        .iter()
                        .copied()
                        .filter(|&i| usize::from(cap_fold[i as usize]) == f)
                        .collect();
                    // A content whose captures of this fold were not
                    // kept (more than CAPTURES_KEPT) counts for the first
                    // one kept at all.
                    let here = if here.is_empty() {
                        ids.first().copied().into_iter().collect()
                    } else {
                        here
                    };
                    items.push(PoolItem {
                        example: &s.example,
                        class: &g.key.class,
                        fold: f as u8,
                        weight: n as f64 * weights[f],
                        captures: here,
                    });
                }
            }
            match ranges.last_mut() {
                Some((t, r, _)) if *t == g.key.transport => r.end = items.len(),
                _ => ranges.push((g.key.transport, start..items.len(), Default::default())),
            }
        }
        for (_, r, with) in &mut ranges {
            for i in r.clone() {
                for (d, w) in with.iter_mut().enumerate() {
                    if !items[i].example.payload(d).is_empty() {
                        w.push(i);
                    }
                }
            }
        }
        Pool {
            items,
            ranges,
            unlabelled_weight,
            folds: usize::from(folds),
            captures,
            capture_folds: cap_fold,
        }
    }

    /// The examples a signature with this transport can match.
    pub fn for_transport(&self, t: Option<u8>) -> &[PoolItem<'a>] {
        match t {
            None => &self.items,
            Some(t) => self
                .ranges
                .iter()
                .find(|(x, _, _)| *x == t)
                .map(|(_, r, _)| &self.items[r.clone()])
                .unwrap_or(&[]),
        }
    }

    /// The items of transport `t` with user data in direction `d`.
    fn with_payload(&self, t: u8, d: usize) -> impl Iterator<Item = &PoolItem<'a>> + '_ {
        self.ranges
            .iter()
            .find(|(x, _, _)| *x == t)
            .map(|(_, _, w)| w[d].as_slice())
            .unwrap_or(&[])
            .iter()
            .map(move |&i| &self.items[i])
    }

    /// The transports present, ascending.
    pub fn transports(&self) -> impl Iterator<Item = u8> + '_ {
        self.ranges.iter().map(|(t, _, _)| *t)
    }
}

/// The direction whose user data a signature cannot match without: that
/// of a pattern that constrains bytes and looks at one direction only.
fn needed_direction(sig: &Signature) -> Option<usize> {
    sig.patterns.iter().find_map(|p| {
        let constrains = match &p.kind {
            PatternKind::Masked { bytes, .. } => bytes.iter().any(|b| !b.is_any()),
            PatternKind::Literal { bytes, .. } => !bytes.is_empty(),
            PatternKind::Regex { .. } => false,
        };
        match (constrains, p.direction) {
            (true, Direction::Initiator) => Some(0),
            (true, Direction::Responder) => Some(1),
            _ => None,
        }
    })
}

/// What a signature did on one fold (weighted flow counts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Matched flows the reference labels with the signature's protocol.
    pub tp: f64,
    /// Matched flows the reference labels with another protocol, plus
    /// unlabelled or weakly labelled flows of other protocols times the
    /// unlabelled weight.
    pub fp: f64,
}

impl Counts {
    /// `tp / (tp + fp)`; `None` when nothing matched.
    pub fn precision(&self) -> Option<f64> {
        let n = self.tp + self.fp;
        (n > 0.0).then(|| self.tp / n)
    }

    /// Adds another count.
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
    }
}

/// How the pool is split for validation: each capture goes to one part
/// (a *rotation* holds one part out and mines the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotations {
    /// The part of each capture (index into [`Pool::captures`]).
    pub of_capture: Vec<u8>,
    /// Number of parts.
    pub parts: usize,
}

impl Rotations {
    /// One part holding every capture.
    pub fn single(pool: &Pool<'_>) -> Rotations {
        Rotations {
            of_capture: vec![0; pool.captures.len()],
            parts: 1,
        }
    }

    /// The part of a capture.
    pub fn of(&self, capture: u32) -> usize {
        usize::from(self.of_capture[capture as usize])
    }

    /// The item's weight in part `part`.
    pub fn weight_in(&self, it: &PoolItem<'_>, part: usize) -> f64 {
        it.shares()
            .filter(|(c, _)| self.of(*c) == part)
            .map(|(_, w)| w)
            .sum()
    }

    /// Splits the captures so that those in `focus` (the captures holding
    /// the flows being learnt) are spread evenly over `parts` parts, in
    /// the order of a salted hash of their names, and every other capture
    /// falls in a part by that hash.
    pub fn spread(
        pool: &Pool<'_>,
        focus: &std::collections::BTreeSet<u32>,
        parts: usize,
    ) -> Rotations {
        let parts = parts.max(1);
        let h = |i: u32| {
            super::hash::hash_fields(&[b"dpi-train-rotation", pool.captures[i as usize].as_bytes()])
        };
        let mut of_capture: Vec<u8> = (0..pool.captures.len() as u32)
            .map(|i| (h(i) % parts as u64) as u8)
            .collect();
        let mut ordered: Vec<u32> = focus.iter().copied().collect();
        ordered.sort_by_key(|&i| (h(i), i));
        for (k, i) in ordered.into_iter().enumerate() {
            of_capture[i as usize] = (k % parts) as u8;
        }
        Rotations { of_capture, parts }
    }
}

/// A signature's counts on each part, the server ports of its true
/// positives and the captures they were found in.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    /// Per part.
    pub folds: Vec<Counts>,
    /// Per part: server port of each true positive (weighted count).
    pub tp_ports: Vec<std::collections::BTreeMap<u16, f64>>,
    /// Per part: the true positives per capture (index into
    /// [`Pool::captures`]).
    pub tp_captures: Vec<std::collections::BTreeMap<u32, f64>>,
    /// Per part: the (server port, capture) pairs of the true positives.
    pub tp_port_captures: Vec<std::collections::BTreeSet<(u16, u32)>>,
    /// Per part: the false positives per capture.
    pub fp_captures: Vec<std::collections::BTreeMap<u32, f64>>,
}

impl Measure {
    /// No match yet, over `parts` parts.
    pub fn new(parts: usize) -> Measure {
        Measure {
            folds: vec![Counts::default(); parts],
            tp_ports: vec![Default::default(); parts],
            tp_captures: vec![Default::default(); parts],
            tp_port_captures: vec![Default::default(); parts],
            fp_captures: vec![Default::default(); parts],
        }
    }

    /// True and false positives per capture, over every part.
    pub fn per_capture(&self) -> std::collections::BTreeMap<u32, Counts> {
        let mut out: std::collections::BTreeMap<u32, Counts> = std::collections::BTreeMap::new();
        for m in &self.tp_captures {
            for (&c, &n) in m {
                out.entry(c).or_default().tp += n;
            }
        }
        for m in &self.fp_captures {
            for (&c, &n) in m {
                out.entry(c).or_default().fp += n;
            }
        }
        out
    }

    /// Records a match of `it` with this verdict, each capture's share in
    /// that capture's part of `rots`.
    pub fn record(&mut self, it: &PoolItem<'_>, rots: &Rotations, verdict: Verdict) {
        for (c, share) in it.shares() {
            let f = rots.of(c).min(self.folds.len() - 1);
            match verdict {
                Verdict::True => {
                    self.folds[f].tp += share;
                    *self.tp_ports[f].entry(it.example.server_port).or_default() += share;
                    *self.tp_captures[f].entry(c).or_default() += share;
                    self.tp_port_captures[f].insert((it.example.server_port, c));
                }
                Verdict::False(w) => {
                    self.folds[f].fp += share * w;
                    *self.fp_captures[f].entry(c).or_default() += share * w;
                }
                Verdict::Neither => {}
            }
        }
    }

    /// The counts over every part but `held`.
    pub fn except(&self, held: usize) -> Counts {
        let mut c = Counts::default();
        for (i, f) in self.folds.iter().enumerate() {
            if i != held {
                c.add(*f);
            }
        }
        c
    }

    /// The counts over every part.
    pub fn total(&self) -> Counts {
        self.except(usize::MAX)
    }

    /// The server ports on which true positives were found in at least
    /// two captures, over every part but `held`.
    pub fn ports_in_two_captures(&self, held: usize) -> usize {
        let mut per: std::collections::BTreeMap<u16, std::collections::BTreeSet<u32>> =
            std::collections::BTreeMap::new();
        for (i, f) in self.tp_port_captures.iter().enumerate() {
            if i != held {
                for &(p, c) in f {
                    per.entry(p).or_default().insert(c);
                }
            }
        }
        per.values().filter(|c| c.len() >= 2).count()
    }

    /// Server ports of the true positives over every part but `held`.
    pub fn ports_except(&self, held: usize) -> std::collections::BTreeMap<u16, f64> {
        let mut out = std::collections::BTreeMap::new();
        for (i, f) in self.tp_ports.iter().enumerate() {
            if i != held {
                for (p, n) in f {
                    *out.entry(*p).or_default() += n;
                }
            }
        }
        out
    }
}

/// What a match on an example says about a rule of some protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The reference labels the flow with the rule's protocol.
    True,
    /// Another protocol, or none: a false positive of this weight.
    False(f64),
    /// A weak label of the rule's own protocol: neither for nor against.
    Neither,
}

/// The verdict of a match on an example of class `class` for a rule of
/// `protocol`.
pub fn verdict(class: &Class, protocol: &str, unlabelled_weight: f64) -> Verdict {
    match class {
        Class::Labelled(p) if p == protocol => Verdict::True,
        Class::Labelled(_) => Verdict::False(1.0),
        Class::Weak(p) if p == protocol => Verdict::Neither,
        Class::Weak(_) | Class::Unlabelled => Verdict::False(unlabelled_weight),
    }
}

/// Measures `sig` over the pool, per part of `rots`.
pub fn measure(sig: &Signature, pool: &Pool<'_>, rots: &Rotations) -> Measure {
    measure_matches(sig, pool, rots).0
}

/// [`measure`], and the items matched (so that a variant of `sig` that
/// only narrows it, such as a port added, can be measured on them alone
/// with [`measure_among`]).
pub fn measure_matches<'p, 'a>(
    sig: &Signature,
    pool: &'p Pool<'a>,
    rots: &Rotations,
) -> (Measure, Vec<&'p PoolItem<'a>>) {
    let mut m = Measure::new(rots.parts);
    let mut hits = Vec::new();
    let prepared = Prepared::new(sig);
    let mut each = |it: &'p PoolItem<'a>| {
        if prepared.matches(it.example) {
            m.record(
                it,
                rots,
                verdict(it.class, &sig.protocol, pool.unlabelled_weight),
            );
            hits.push(it);
        }
    };
    match (sig.transport.number(), needed_direction(sig)) {
        (Some(t), Some(d)) => pool.with_payload(t, d).for_each(&mut each),
        (t, _) => pool.for_transport(t).iter().for_each(&mut each),
    }
    (m, hits)
}

/// Measures `sig` over `among`, the items a broader signature matched.
pub fn measure_among(
    sig: &Signature,
    among: &[&PoolItem<'_>],
    pool: &Pool<'_>,
    rots: &Rotations,
) -> Measure {
    let mut m = Measure::new(rots.parts);
    let prepared = Prepared::new(sig);
    for it in among {
        if prepared.matches(it.example) {
            m.record(
                it,
                rots,
                verdict(it.class, &sig.protocol, pool.unlabelled_weight),
            );
        }
    }
    m
}

/// Measures `sig` over the pool, per training fold.
pub fn measure_folds(sig: &Signature, pool: &Pool<'_>) -> Measure {
    let rots = Rotations {
        of_capture: pool.capture_folds.clone(),
        parts: pool.folds,
    };
    measure(sig, pool, &rots)
}
