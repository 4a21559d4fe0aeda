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
//! half the time, most frequent first; each is extended only while other
//! flows of the mining folds still hold it, by the byte every example
//! holding it agrees on (the bytes after a literal nothing else holds tell
//! one capture's flows from the protocol's others: a host's identifier, a
//! session's). A literal lying mostly inside the host name the flows name
//! (DNS query, TLS or QUIC server name, HTTP `Host`) in half the examples
//! holding it is dropped: it names a host, not the protocol. A literal
//! inside the first 32 bytes is written as a masked pattern at offset 0
//! (so std.sig can carry it).

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
    /// The other flows holding the gram (indices among the transport's
    /// flows), the first [`NEGATIVES_KEPT`] of them: what extending the
    /// literal must leave out.
    negatives: Vec<u32>,
}

/// Other flows holding a gram kept to extend it against.
pub const NEGATIVES_KEPT: usize = 256;

/// Gram counts of one protocol, transport and direction (see the module
/// docs).
pub struct GramStats {
    entries: Vec<(GramKey, Entry)>,
    /// Where each key sits in `entries`.
    index: HashMap<GramKey, usize>,
    /// Where the host name lies in the protocol's flows' bytes, by
    /// example (its address: the rotations' items share the examples),
    /// read once for every rotation.
    hosts: HashMap<usize, (usize, usize)>,
    bytes: usize,
}

/// The key of an example in [`GramStats::hosts`].
fn example_key(e: &super::example::Example) -> usize {
    e as *const super::example::Example as usize
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
                        negatives: Vec::new(),
                    },
                )
            })
            .collect();
        let mut hosts = HashMap::new();
        for it in items.iter().filter(|it| own(it)) {
            let p = it.example.payload(d);
            if p.len() < GRAM {
                continue;
            }
            if !map.is_empty() {
                if let Some(span) = host_span(it.example, window(p, bytes)) {
                    hosts.insert(example_key(it.example), span);
                }
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
        let index = all.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
        let mut stats = GramStats {
            entries: all,
            index,
            hosts,
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
        let index = &self.index;
        let mut hit: Vec<usize> = Vec::new();
        for (n, it) in items.iter().enumerate() {
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
                let e = &mut self.entries[i].1;
                for (c, share) in it.shares() {
                    e.neg[rots.of(c)] += share * w;
                }
                if e.negatives.len() < NEGATIVES_KEPT {
                    e.negatives.push(n as u32);
                }
            }
        }
    }

    /// The literal candidates of a rotation holding out fold `held`:
    /// see the module docs. `positives` are the protocol's flows on the
    /// mining folds (for extension), `captures` how many captures of the
    /// mining folds hold them, `others` the transport's flows (those
    /// [`GramStats::new`] was given: the other flows holding a gram are
    /// found among them).
    #[allow(clippy::too_many_arguments)]
    pub fn candidates(
        &self,
        protocol: &str,
        t: u8,
        d: usize,
        held: usize,
        positives: &[&PoolItem<'_>],
        others: &[PoolItem<'_>],
        rots: &Rotations,
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
        // Where each positive's host name lies in its bytes (a literal
        // there names a host, not the protocol).
        let names: Vec<Option<(usize, usize)>> = positives
            .iter()
            .map(|it| self.hosts.get(&example_key(it.example)).copied())
            .collect();
        // The other flows of the mining folds holding the gram.
        let negatives = |key: &GramKey| -> Vec<&[u8]> {
            self.index
                .get(key)
                .map(|&i| {
                    self.entries[i]
                        .1
                        .negatives
                        .iter()
                        .filter_map(|&n| others.get(n as usize))
                        .filter(|it| it.captures.iter().any(|&c| rots.of(c) != held))
                        .map(|it| window(it.example.payload(d), self.bytes))
                        .collect()
                })
                .unwrap_or_default()
        };
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
            let negs = negatives(&key);
            let pattern = match key.offset {
                Some(o) => {
                    let (o, lit) = extend_at(&payloads, &negs, usize::from(o), key.gram.to_vec());
                    if names_host(&payloads, &names, &lit, Some(o)) {
                        continue;
                    }
                    if o + lit.len() <= MASKED_MAX {
                        let mut bytes = vec![MaskedByte::any(); o];
                        bytes.extend(lit.iter().map(|&b| MaskedByte::exact(b)));
                        Pattern::masked(direction(d), 0, bytes)
                    } else {
                        Pattern::literal_at(direction(d), o as u32, &lit)
                    }
                }
                None => {
                    let lit = extend_within(&payloads, &negs, key.gram.to_vec());
                    if names_host(&payloads, &names, &lit, None) {
                        continue;
                    }
                    Pattern {
                        direction: direction(d),
                        kind: PatternKind::Literal {
                            bytes: lit,
                            nocase: false,
                            position: Position::Within(self.bytes as u32),
                        },
                    }
                }
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

/// Extends a literal at `o`, as far as it needs to: while some of the
/// other flows (`negatives`) still hold it there, by the byte every payload
/// holding it agrees on (to the right, else to the left). A literal no
/// other flow holds is not made longer: the bytes after it would only
/// tell this capture's flows from other captures of the same protocol.
pub fn extend_at(
    payloads: &[&[u8]],
    negatives: &[&[u8]],
    mut o: usize,
    mut lit: Vec<u8>,
) -> (usize, Vec<u8>) {
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
    while lit.len() < LITERAL_MAX && negatives.iter().any(|p| at(p, o, &lit)) {
        let len = lit.len();
        if let Some(b) = next(&lit, o, &|o| Some(o + len)) {
            lit.push(b);
        } else if let Some(b) = next(&lit, o, &|o| o.checked_sub(1)) {
            lit.insert(0, b);
            o -= 1;
        } else {
            break;
        }
    }
    (o, lit)
}

/// Extends a literal found anywhere, as [`extend_at`] does, by the byte
/// after its first occurrence in every payload holding it, while some of
/// the other flows still hold it.
pub fn extend_within(payloads: &[&[u8]], negatives: &[&[u8]], mut lit: Vec<u8>) -> Vec<u8> {
    let holds = |p: &[u8], lit: &[u8]| memchr::memmem::find(p, lit).is_some();
    while lit.len() < LITERAL_MAX && negatives.iter().any(|p| holds(p, &lit)) {
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

/// Where the host name the flow names (TLS or QUIC server name, HTTP
/// `Host`, DNS query name: [`dpi_core::Metadata::hostname`]) lies in `p`,
/// the example's bytes in one direction: as text, or as DNS labels.
fn host_span(e: &super::example::Example, p: &[u8]) -> Option<(usize, usize)> {
    let view = dpi_core::FlowView::new(e.transport, e.server_port)
        .with_client_port(e.client_port)
        .with_c2s(&e.c2s)
        .with_s2c(&e.s2c);
    let host = view.metadata().hostname?;
    let text = host.as_bytes();
    if text.len() < 3 {
        return None;
    }
    if let Some(i) = memchr::memmem::find(p, text) {
        return Some((i, i + text.len()));
    }
    // DNS labels: each label after its length byte.
    let mut wire = Vec::with_capacity(text.len() + 2);
    for label in host.split('.').filter(|l| !l.is_empty()) {
        wire.push(u8::try_from(label.len()).ok()?);
        wire.extend_from_slice(label.as_bytes());
    }
    memchr::memmem::find(p, &wire).map(|i| (i, i + wire.len()))
}

/// Whether `lit` (at `o`, or at its first occurrence when `None`) lies
/// mostly inside the host name in at least half of the payloads holding
/// it: a piece of a name (a domain, a host's label) says which hosts a
/// capture talked to, not which protocol it spoke.
fn names_host(
    payloads: &[&[u8]],
    names: &[Option<(usize, usize)>],
    lit: &[u8],
    o: Option<usize>,
) -> bool {
    let finder = memchr::memmem::Finder::new(lit);
    let (mut holding, mut inside) = (0usize, 0usize);
    for (p, name) in payloads.iter().zip(names) {
        let start = match o {
            Some(o) if at(p, o, lit) => o,
            Some(_) => continue,
            None => match finder.find(p) {
                Some(i) => i,
                None => continue,
            },
        };
        holding += 1;
        if let Some((a, b)) = *name {
            let overlap = (start + lit.len()).min(b).saturating_sub(start.max(a));
            if 2 * overlap > lit.len() {
                inside += 1;
            }
        }
    }
    holding > 0 && 2 * inside >= holding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_extension_stops_at_disagreement() {
        let p: Vec<&[u8]> = vec![b"xxMAGIC1", b"yyMAGIC2", b"zzMAGIC3"];
        // Another flow holds "MAGI" at 2: the literal grows until it no
        // longer does, or the examples disagree.
        let other: Vec<&[u8]> = vec![b"qqMAGIX"];
        let (o, lit) = extend_at(&p, &other, 2, b"MAGI".to_vec());
        assert_eq!((o, lit.as_slice()), (2, &b"MAGIC"[..]));
        let other: Vec<&[u8]> = vec![b"qqMAGIC9"];
        let (o, lit) = extend_at(&p, &other, 2, b"MAGI".to_vec());
        assert_eq!((o, lit.as_slice()), (2, &b"MAGIC"[..]));
        assert_eq!(
            extend_within(&p, &other, b"AGIC".to_vec()),
            b"AGIC".to_vec()
        );
    }

    #[test]
    fn a_literal_no_other_flow_holds_stays_short() {
        // Every example agrees on the bytes after the magic (a host's
        // identifier, say), but nothing else holds the magic: no growth.
        let p: Vec<&[u8]> = vec![b"MAGIhost-1234", b"MAGIhost-1234"];
        assert_eq!(
            extend_at(&p, &[], 0, b"MAGI".to_vec()),
            (0, b"MAGI".to_vec())
        );
        assert_eq!(extend_within(&p, &[], b"MAGI".to_vec()), b"MAGI".to_vec());
        // Left, when the right disagrees.
        let p: Vec<&[u8]> = vec![b"xMAGI1", b"xMAGI2"];
        let other: Vec<&[u8]> = vec![b"yMAGI3"];
        assert_eq!(
            extend_at(&p, &other, 1, b"MAGI".to_vec()),
            (0, b"xMAGI".to_vec())
        );
    }

    #[test]
    fn pieces_of_host_names_are_not_literals() {
        // DNS queries for names under the same domain.
        let q1 = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07cyberia\x03com\x00\x00\x01\x00\x01";
        let q2 = b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04mail\x07cyberia\x03com\x00\x00\x01\x00\x01";
        let examples: Vec<super::super::example::Example> = [&q1[..], &q2[..]]
            .iter()
            .map(|q| super::super::example::Example {
                hash: 0,
                capture: "a.pcap".into(),
                transport: 17,
                client_port: 40000,
                server_port: 53,
                c2s: q.to_vec(),
                s2c: Vec::new(),
                c2s_first_size: Some(q.len() as u32),
                s2c_first_size: None,
                first_payload: None,
                c2s_packets: 1,
                s2c_packets: 0,
            })
            .collect();
        let payloads: Vec<&[u8]> = examples.iter().map(|e| &e.c2s[..]).collect();
        let names: Vec<_> = examples
            .iter()
            .zip(&payloads)
            .map(|(e, p)| host_span(e, p))
            .collect();
        assert!(names.iter().all(|n| n.is_some()));
        assert!(names_host(&payloads, &names, b"yberia", None));
        assert!(names_host(&payloads, &names, b"\x03com", None));
        // The DNS header is not part of the name.
        assert!(!names_host(&payloads, &names, b"\x01\x00\x00\x01", Some(2)));
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
