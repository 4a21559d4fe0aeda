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

fn kind_matches(kind: &PatternKind, re: Option<&Regex>, data: &[u8]) -> bool {
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
                    contains(&data[..end], bytes, *nocase)
                }
                Position::Anywhere => contains(data, bytes, *nocase),
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
    regexes: Vec<Option<Regex>>,
}

impl<'s> Prepared<'s> {
    /// Compiles the regexes of `sig`.
    pub fn new(sig: &'s Signature) -> Prepared<'s> {
        let regexes = sig
            .patterns
            .iter()
            .map(|p| match &p.kind {
                PatternKind::Regex { source, .. } => compile_regex(source).ok(),
                _ => None,
            })
            .collect();
        Prepared { sig, regexes }
    }

    /// True when every condition of the signature holds for `e`.
    pub fn matches(&self, e: &Example) -> bool {
        let sig = self.sig;
        if !sig.transport.matches(e.transport) || !sig.ports.contains(e.server_port) {
            return false;
        }
        let pat_ok = sig.patterns.iter().zip(&self.regexes).all(|(p, re)| {
            let (a, b) = (e.payload(0), e.payload(1));
            let re = re.as_ref();
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
                None => e.c2s_packets + e.s2c_packets,
            };
            range.contains(n)
        }
        Feature::FirstPayloadFrom(s) => e.first_payload == Some(*s),
    })
}

/// One example of the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolItem<'a> {
    /// The example.
    pub example: &'a Example,
    /// The reference's verdict.
    pub class: &'a Class,
    /// Its training fold.
    pub fold: u8,
    /// How many flows it stands for.
    pub weight: f64,
}

/// Every sampled example of a partial, by transport: one item per sampled
/// content and fold it was seen in.
pub struct Pool<'a> {
    /// The examples, grouped by transport (ascending), then in group order.
    pub items: Vec<PoolItem<'a>>,
    /// Per transport, the range of `items` holding it.
    ranges: Vec<(u8, std::ops::Range<usize>)>,
    /// Weight given to a match on an unlabelled or weakly labelled flow of
    /// another protocol.
    pub unlabelled_weight: f64,
    /// Number of training folds.
    pub folds: usize,
}

impl<'a> Pool<'a> {
    /// The pool of `p`'s samples.
    pub fn new(p: &'a Partial, unlabelled_weight: f64) -> Pool<'a> {
        let mut groups: Vec<_> = p.groups.iter().collect();
        groups.sort_by(|a, b| (a.key.transport, &a.key).cmp(&(b.key.transport, &b.key)));
        let mut items = Vec::new();
        let mut ranges: Vec<(u8, std::ops::Range<usize>)> = Vec::new();
        for g in groups {
            let start = items.len();
            let weights: Vec<f64> = (0..g.flows.len()).map(|f| g.weight(f)).collect();
            for s in &g.sample {
                for (f, &n) in s.counts.iter().enumerate() {
                    if n > 0 {
                        items.push(PoolItem {
                            example: &s.example,
                            class: &g.key.class,
                            fold: f as u8,
                            weight: n as f64 * weights[f],
                        });
                    }
                }
            }
            match ranges.last_mut() {
                Some((t, r)) if *t == g.key.transport => r.end = items.len(),
                _ => ranges.push((g.key.transport, start..items.len())),
            }
        }
        Pool {
            items,
            ranges,
            unlabelled_weight,
            folds: usize::from(p.settings.folds.max(1)),
        }
    }

    /// The examples a signature with this transport can match.
    pub fn for_transport(&self, t: Option<u8>) -> &[PoolItem<'a>] {
        match t {
            None => &self.items,
            Some(t) => self
                .ranges
                .iter()
                .find(|(x, _)| *x == t)
                .map(|(_, r)| &self.items[r.clone()])
                .unwrap_or(&[]),
        }
    }
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

/// A signature's counts on each fold, and the server ports of its true
/// positives (port, weighted count), per fold.
#[derive(Debug, Clone, Default)]
pub struct Measure {
    /// Per fold.
    pub folds: Vec<Counts>,
    /// Per fold: server port of each true positive.
    pub tp_ports: Vec<std::collections::BTreeMap<u16, f64>>,
}

impl Measure {
    /// The counts over every fold but `held`.
    pub fn except(&self, held: usize) -> Counts {
        let mut c = Counts::default();
        for (i, f) in self.folds.iter().enumerate() {
            if i != held {
                c.add(*f);
            }
        }
        c
    }

    /// The counts over every fold.
    pub fn total(&self) -> Counts {
        self.except(usize::MAX)
    }

    /// Server ports of the true positives over every fold but `held`.
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

/// Measures `sig` over the pool.
pub fn measure(sig: &Signature, pool: &Pool<'_>) -> Measure {
    let mut m = Measure {
        folds: vec![Counts::default(); pool.folds],
        tp_ports: vec![Default::default(); pool.folds],
    };
    let prepared = Prepared::new(sig);
    for it in pool.for_transport(sig.transport.number()) {
        if !prepared.matches(it.example) {
            continue;
        }
        let f = usize::from(it.fold).min(pool.folds - 1);
        match it.class {
            Class::Labelled(p) if *p == sig.protocol => {
                m.folds[f].tp += it.weight;
                *m.tp_ports[f].entry(it.example.server_port).or_default() += it.weight;
            }
            Class::Labelled(_) => m.folds[f].fp += it.weight,
            Class::Weak(p) if *p == sig.protocol => {}
            Class::Weak(_) | Class::Unlabelled => {
                m.folds[f].fp += it.weight * pool.unlabelled_weight
            }
        }
    }
    m
}
