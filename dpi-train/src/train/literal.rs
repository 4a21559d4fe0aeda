//! Discriminative literals: byte strings frequent in one protocol and rare
//! in the rest, at a fixed offset or anywhere in the first bytes.
//!
//! Per protocol, transport and direction ([`GramStats::new`], once for
//! every rotation): the 4-byte grams of the protocol's payloads are
//! counted per fold (each flow once per gram), at each offset below
//! [`FIXED_OFFSETS`] and anywhere in the captured bytes, with the
//! captures that hold them. The [`GRAM_CANDIDATES`] most frequent of each
//! kind are then looked for in every other flow of the transport with one
//! Aho-Corasick pass, which gives how often each is seen elsewhere, per
//! fold. A rotation ([`GramStats::candidates`]) takes, on its mining
//! folds, the grams held by at least `min_support` flows of the protocol,
//! in at least two of its captures when it has two, and right at least
//! half the time, most frequent first; each is extended while every
//! example holding it agrees on the next byte. A literal inside the first
//! 32 bytes is written as a masked pattern at offset 0 (so std.sig can
//! carry it).

use std::collections::{BTreeSet, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use dpi_core::signature::{MaskedByte, Pattern, PatternKind, Position, Signature};

use super::example::Class;
use super::masked::{bits, MASKED_MAX};
use super::mine::{base_sig, direction};
use super::score::{Pool, PoolItem, Rotations};

/// Length of the counted grams.
pub const GRAM: usize = 4;
/// Grams are counted at each offset below this one (and anywhere).
pub const FIXED_OFFSETS: usize = 64;
/// Grams of each kind (fixed offset, anywhere) looked for in other flows.
pub const GRAM_CANDIDATES: usize = 384;
/// Most literal candidates of each kind per protocol, direction and rotation.
pub const LITERALS_MAX: usize = 32;
/// Longest literal after extension.
pub const LITERAL_MAX: usize = 24;
/// Least precision of a gram on the mining folds to be a candidate.
pub const GRAM_PRECISION: f64 = 0.5;

/// Where a gram is counted: at an offset, or anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GramKey {
    /// The offset, or `None` for anywhere in the captured bytes.
    pub offset: Option<u16>,
    /// The gram's bytes.
    pub gram: [u8; GRAM],
}

#[derive(Debug, Clone, Default)]
struct Entry {
    pos: Vec<f64>,
    neg: Vec<f64>,
    /// (part, capture) pairs holding the gram in the protocol's flows.
    captures: BTreeSet<(usize, u32)>,
}

/// Gram counts of one protocol, transport and direction (see the module
/// docs).
pub struct GramStats {
    entries: Vec<(GramKey, Entry)>,
    bytes: usize,
}

fn window(p: &[u8], bytes: usize) -> &[u8] {
    &p[..p.len().min(bytes)]
}

/// The distinct gram keys of `p` (at most `bytes` of it), each once.
fn keys_of(p: &[u8], bytes: usize, out: &mut Vec<GramKey>) {
    out.clear();
    for (o, w) in window(p, bytes).windows(GRAM).enumerate() {
        let gram = [w[0], w[1], w[2], w[3]];
        if o < FIXED_OFFSETS {
            out.push(GramKey {
                offset: Some(o as u16),
                gram,
            });
        }
        out.push(GramKey { offset: None, gram });
    }
    out.sort_unstable();
    out.dedup();
}

fn gram_bits(g: &[u8; GRAM]) -> u32 {
    let m: Vec<MaskedByte> = g.iter().map(|&b| MaskedByte::exact(b)).collect();
    bits(&m)
}

impl GramStats {
    /// Counts the grams of `protocol`'s flows (transport `t`, direction
    /// `d`) and looks for the frequent ones among the other flows.
    pub fn new(
        pool: &Pool<'_>,
        rots: &Rotations,
        protocol: &str,
        t: u8,
        d: usize,
        bytes: usize,
        min_support: f64,
    ) -> GramStats {
        let folds = rots.parts;
        let items = pool.for_transport(Some(t));
        let own = |it: &PoolItem<'_>| matches!(it.class, Class::Labelled(p) if p == protocol);
        // First the flows holding each gram, then, for the most frequent
        // of each kind, the counts per part and the captures.
        let mut totals: HashMap<GramKey, f64> = HashMap::new();
        let mut keys = Vec::new();
        for it in items.iter().filter(|it| own(it)) {
            let p = it.example.payload(d);
            if p.len() < GRAM {
                continue;
            }
            keys_of(p, bytes, &mut keys);
            for k in &keys {
                *totals.entry(*k).or_default() += it.weight;
            }
        }
        let mut ranked: Vec<(GramKey, f64)> = totals
            .into_iter()
            .filter(|(k, n)| *n >= min_support && gram_bits(&k.gram) >= 8)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut fixed = 0;
        let mut anywhere = 0;
        ranked.retain(|(k, _)| {
            let n = if k.offset.is_some() {
                &mut fixed
            } else {
                &mut anywhere
            };
            *n += 1;
            *n <= GRAM_CANDIDATES
        });
        let mut map: HashMap<GramKey, Entry> = ranked
            .into_iter()
            .map(|(k, _)| {
                (
                    k,
                    Entry {
                        pos: vec![0.0; folds],
                        neg: vec![0.0; folds],
                        captures: BTreeSet::new(),
                    },
                )
            })
            .collect();
        for it in items.iter().filter(|it| own(it)) {
            let p = it.example.payload(d);
            if p.len() < GRAM {
                continue;
            }
            keys_of(p, bytes, &mut keys);
            for k in &keys {
                if let Some(e) = map.get_mut(k) {
                    for (c, w) in it.shares() {
                        let f = rots.of(c);
                        e.pos[f] += w;
                        e.captures.insert((f, c));
                    }
                }
            }
        }
        let mut all: Vec<(GramKey, Entry)> = map.into_iter().collect();
        all.sort_by_key(|a| a.0);
        let mut stats = GramStats {
            entries: all,
            bytes,
        };
        stats.count_elsewhere(pool, rots, items, protocol, d);
        stats
    }

    /// Counts, per part, the other flows holding each gram.
    fn count_elsewhere(
        &mut self,
        pool: &Pool<'_>,
        rots: &Rotations,
        items: &[PoolItem<'_>],
        protocol: &str,
        d: usize,
    ) {
        let grams: Vec<[u8; GRAM]> = {
            let s: BTreeSet<[u8; GRAM]> = self.entries.iter().map(|(k, _)| k.gram).collect();
            s.into_iter().collect()
        };
        if grams.is_empty() {
            return;
        }
        let Ok(ac) = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&grams)
        else {
            return;
        };
        let index: HashMap<GramKey, usize> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (*k, i))
            .collect();
        let mut hit: Vec<usize> = Vec::new();
        for it in items {
            let w = match it.class {
                Class::Labelled(p) | Class::Weak(p) if p == protocol => continue,
                Class::Labelled(_) => 1.0,
                Class::Weak(_) | Class::Unlabelled => pool.unlabelled_weight,
            };
            let p = window(it.example.payload(d), self.bytes);
            if p.len() < GRAM {
                continue;
            }
            hit.clear();
            for m in ac.find_overlapping_iter(p) {
                let gram = grams[m.pattern().as_usize()];
                let o = m.start();
                if o < FIXED_OFFSETS {
                    if let Some(&i) = index.get(&GramKey {
                        offset: Some(o as u16),
                        gram,
                    }) {
                        hit.push(i);
                    }
                }
                if let Some(&i) = index.get(&GramKey { offset: None, gram }) {
                    hit.push(i);
                }
            }
            hit.sort_unstable();
            hit.dedup();
            for &i in &hit {
                for (c, share) in it.shares() {
                    self.entries[i].1.neg[rots.of(c)] += share * w;
                }
            }
        }
    }

    /// The literal candidates of a rotation holding out fold `held`:
    /// see the module docs. `positives` are the protocol's flows on the
    /// mining folds (for extension), `captures` how many captures of the
    /// mining folds hold them.
    #[allow(clippy::too_many_arguments)]
    pub fn candidates(
        &self,
        protocol: &str,
        t: u8,
        d: usize,
        held: usize,
        positives: &[&PoolItem<'_>],
        captures: usize,
        min_support: f64,
    ) -> Vec<Signature> {
        let sum = |v: &[f64]| -> f64 {
            v.iter()
                .enumerate()
                .filter(|(f, _)| *f != held)
                .map(|(_, x)| x)
                .sum()
        };
        let need_caps = captures.min(2);
        let mut scored: Vec<(f64, f64, GramKey)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| {
                let pos = sum(&e.pos);
                let neg = sum(&e.neg);
                let caps = e
                    .captures
                    .iter()
                    .filter(|(f, _)| *f != held)
                    .map(|(_, c)| c)
                    .collect::<BTreeSet<_>>()
                    .len();
                let precision = pos / (pos + neg);
                (pos >= min_support && caps >= need_caps && precision >= GRAM_PRECISION)
                    .then_some((pos, precision, *k))
            })
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then(a.2.cmp(&b.2))
        });
        let payloads: Vec<&[u8]> = positives
            .iter()
            .map(|it| window(it.example.payload(d), self.bytes))
            .collect();
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let (mut fixed, mut anywhere) = (0, 0);
        for (_, _, key) in scored {
            let n = if key.offset.is_some() {
                &mut fixed
            } else {
                &mut anywhere
            };
            if *n >= LITERALS_MAX {
                continue;
            }
            let pattern = match key.offset {
                Some(o) => {
                    let (o, lit) = extend_at(&payloads, usize::from(o), key.gram.to_vec());
                    if o + lit.len() <= MASKED_MAX {
                        let mut bytes = vec![MaskedByte::any(); o];
                        bytes.extend(lit.iter().map(|&b| MaskedByte::exact(b)));
                        Pattern::masked(direction(d), 0, bytes)
                    } else {
                        Pattern::literal_at(direction(d), o as u32, &lit)
                    }
                }
                None => Pattern {
                    direction: direction(d),
                    kind: PatternKind::Literal {
                        bytes: extend_within(&payloads, key.gram.to_vec()),
                        nocase: false,
                        position: Position::Within(self.bytes as u32),
                    },
                },
            };
            let lit: Vec<MaskedByte> = match &pattern.kind {
                PatternKind::Masked { bytes, .. } => bytes.clone(),
                PatternKind::Literal { bytes, .. } => {
                    bytes.iter().map(|&b| MaskedByte::exact(b)).collect()
                }
                PatternKind::Regex { .. } => Vec::new(),
            };
            if bits(&lit) < super::masked::MIN_BITS {
                continue;
            }
            let mut sig = base_sig(protocol, t);
            sig.patterns.push(pattern);
            if seen.insert(super::merge::identity(&sig)) {
                *n += 1;
                out.push(sig);
            }
        }
        out
    }
}

/// Whether `lit` sits in `data` at `o`.
fn at(data: &[u8], o: usize, lit: &[u8]) -> bool {
    data.get(o..o + lit.len()).is_some_and(|x| x == lit)
}

/// Extends a literal at `o` while every payload holding it agrees on the
/// next byte (right, then left).
pub fn extend_at(payloads: &[&[u8]], mut o: usize, mut lit: Vec<u8>) -> (usize, Vec<u8>) {
    let next = |lit: &[u8], o: usize, idx: &dyn Fn(usize) -> Option<usize>| -> Option<u8> {
        let mut v: Option<u8> = None;
        for p in payloads.iter().filter(|p| at(p, o, lit)) {
            let b = *p.get(idx(o)?)?;
            match v {
                None => v = Some(b),
                Some(x) if x == b => {}
                _ => return None,
            }
        }
        v
    };
    while lit.len() < LITERAL_MAX {
        let len = lit.len();
        match next(&lit, o, &|o| Some(o + len)) {
            Some(b) => lit.push(b),
            None => break,
        }
    }
    while lit.len() < LITERAL_MAX && o > 0 {
        match next(&lit, o, &|o| o.checked_sub(1)) {
            Some(b) => {
                lit.insert(0, b);
                o -= 1;
            }
            None => break,
        }
    }
    (o, lit)
}

/// Extends a literal found anywhere while every payload holding it agrees
/// on the byte after its first occurrence.
pub fn extend_within(payloads: &[&[u8]], mut lit: Vec<u8>) -> Vec<u8> {
    while lit.len() < LITERAL_MAX {
        let mut v: Option<u8> = None;
        let mut ok = true;
        let finder = memchr::memmem::Finder::new(&lit);
        for p in payloads {
            let Some(i) = finder.find(p) else {
                continue;
            };
            match (p.get(i + lit.len()), v) {
                (Some(&b), None) => v = Some(b),
                (Some(&b), Some(x)) if b == x => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        match (ok, v) {
            (true, Some(b)) => lit.push(b),
            _ => break,
        }
    }
    lit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_extension_stops_at_disagreement() {
        let p: Vec<&[u8]> = vec![b"xxMAGIC1", b"yyMAGIC2", b"zzMAGIC3"];
        let (o, lit) = extend_at(&p, 2, b"MAGI".to_vec());
        assert_eq!((o, lit.as_slice()), (2, &b"MAGIC"[..]));
        assert_eq!(extend_within(&p, b"AGIC".to_vec()), b"AGIC".to_vec());
    }

    #[test]
    fn grams_are_counted_once_per_flow() {
        let mut keys = Vec::new();
        keys_of(b"abcdabcd", 512, &mut keys);
        let anywhere: Vec<_> = keys.iter().filter(|k| k.offset.is_none()).collect();
        assert_eq!(anywhere.len(), 4); // abcd bcda cdab dabc
        assert_eq!(keys.len() - anywhere.len(), 5); // offsets 0..5
    }
}
