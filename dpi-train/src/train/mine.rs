//! Mining candidate signatures per protocol and validating them on the
//! other fold.
//!
//! For each protocol the reference labels (per transport), and for each
//! fold as the mining fold with the other one held out:
//!
//! 1. **Positional masked patterns** (per direction): the first 32 bytes
//!    of the protocol's payloads are clustered bottom-up; two clusters
//!    merge when their consensus keeps the most weight, where byte `i`
//!    weighs `1 / (1 + i/8)` (earlier bytes weigh more) and a byte counts
//!    fully when both nibbles agree, half when one does. The consensus of
//!    a cluster masks what its members disagree on (whole nibbles). The
//!    tree is walked from the root: the first node whose consensus is
//!    precise enough on the mining fold becomes a candidate, otherwise its
//!    children are tried.
//! 2. **Discriminative literals** (per direction): 4-byte grams at fixed
//!    offsets and anywhere in the first N bytes whose counts show them
//!    frequent in the protocol and rare elsewhere, extended while every
//!    example of the protocol that holds them agrees on the next byte.
//!    A literal inside the first 32 bytes is written as a masked pattern
//!    at offset 0 (so std.sig can carry it).
//! 3. **Token-shape regexes** (per direction, [`super::shape`]): where
//!    fixed bytes follow a field of varying length, e.g.
//!    `[A-Za-z]+\x20\x2f` after any method name.
//! 4. **Flow features** on the protocol's main server port: the first
//!    payload size of one side (one value, or the observed range), the
//!    side that sent the first payload (alone or with a size), the
//!    packets one side sent (the observed range).
//!
//! Byte patterns need [`MIN_BITS`] constrained bits, a zero nibble
//! counting one bit. A literal anywhere in the first bytes, and a flow
//! feature, is only tried on the main port; a flow feature only when the
//! port alone would not pass (the feature must decide, not the port).
//!
//! A candidate is measured against every example of every class (see
//! [`super::score`]); it is tried with any server port first and with the
//! protocol's main port as a supporting condition when that is needed for
//! precision (or when that port holds 90% of its matches), provided that
//! without any port it is right at least [`PORTLESS_PRECISION`] of the
//! time on the mining folds. Candidates that reach the support and
//! precision thresholds on the mining fold are chosen greedily by the
//! protocol flows they add (masked patterns, then literals, regexes and
//! features on ties), and each chosen one is kept only if its precision
//! on the held-out fold reaches the threshold with at least
//! `min_heldout` true positives there.

use std::collections::{BTreeMap, BTreeSet};

use dpi_core::signature::{
    Direction, Feature, MaskedByte, Pattern, PatternKind, PortSet, Position, Provenance, Side,
    Signature, Transport, ValueRange,
};
use rayon::prelude::*;

use super::example::Class;
use super::hash::stable_hash;
use super::merge::{describe, identity};
use super::partial::GramKey;
use super::partial::Partial;
use super::score::{measure, Counts, Measure, Pool, PoolItem, Prepared};

/// Most bytes of a positional masked pattern (what std.sig can carry).
pub const MASKED_MAX: usize = 32;
/// Most distinct payload prefixes clustered per protocol, direction and fold.
pub const CLUSTER_MAX: usize = 256;
/// Least constrained bits for a byte pattern to be a candidate (see
/// [`bits`]: a zero nibble counts one bit).
pub const MIN_BITS: u32 = 16;
/// Least precision on the mining folds of a byte pattern or feature
/// without any port, for its variant on the main port to be a candidate:
/// the port supports the pattern, it does not stand in for it.
pub const PORTLESS_PRECISION: f64 = 0.5;
/// Most literal candidates per protocol, direction and fold.
pub const LITERALS_MAX: usize = 48;
/// Longest literal after extension.
pub const LITERAL_MAX: usize = 24;

/// Thresholds and settings of mining.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// Least true positives on the mining fold (flows).
    pub min_support: f64,
    /// Least precision, on the mining fold and on the held-out fold.
    pub min_precision: f64,
    /// Least true positives on the held-out fold.
    pub min_heldout: f64,
    /// Keep candidates that match nothing on the held-out fold (their
    /// precision is then not recorded).
    pub allow_untested: bool,
    /// Weight of a match on an unlabelled or weakly labelled flow.
    pub unlabelled_weight: f64,
    /// Provenance source of what is learnt (`trained:ndpi`).
    pub source: String,
}

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            min_support: 5.0,
            min_precision: 0.99,
            min_heldout: 1.0,
            allow_untested: false,
            unlabelled_weight: 1.0,
            source: "trained:ndpi".into(),
        }
    }
}

/// Why a candidate chosen on the mining fold was not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The candidate, in one line.
    pub rule: String,
    /// Why.
    pub reason: String,
}

/// What happened to one protocol (on one transport).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtocolSummary {
    /// nDPI master protocol.
    pub protocol: String,
    /// Transport name.
    pub transport: String,
    /// Labelled examples per fold (weighted).
    pub examples: Vec<f64>,
    /// Candidates measured.
    pub candidates: usize,
    /// Candidates precise enough on their mining fold.
    pub passed_mining: usize,
    /// Chosen by coverage (before the held-out check).
    pub chosen: usize,
    /// Signatures kept (after pooling the rotations' held-out counts).
    pub kept: usize,
    /// Chosen candidates that failed the held-out check.
    pub rejected: Vec<Rejected>,
    /// Rotations skipped: too few examples to mine, or none held out.
    pub folds_skipped: usize,
}

/// The result of mining.
#[derive(Debug, Clone, Default)]
pub struct Mined {
    /// The kept signatures, with support and provenance.
    pub signatures: Vec<Signature>,
    /// Per protocol and transport, in name order.
    pub summaries: Vec<ProtocolSummary>,
}

/// A candidate that passed the mining fold.
struct Fit {
    sig: Signature,
    measure: Measure,
    rank: u8,
    covered: Vec<usize>,
}

/// Mines `partial`.
pub fn mine(partial: &Partial, opts: &MineOptions, progress: &indicatif::ProgressBar) -> Mined {
    let pool = Pool::new(partial, opts.unlabelled_weight);
    let mut targets: BTreeSet<(String, u8)> = BTreeSet::new();
    for g in &partial.groups {
        if let Class::Labelled(p) = &g.key.class {
            if matches!(g.key.transport, 6 | 17) {
                targets.insert((p.clone(), g.key.transport));
            }
        }
    }
    let targets: Vec<_> = targets.into_iter().collect();
    progress.set_length(targets.len() as u64);
    let results: Vec<(ProtocolSummary, Vec<Signature>)> = targets
        .par_iter()
        .map(|(p, t)| {
            let r = mine_protocol(partial, &pool, p, *t, opts);
            progress.inc(1);
            r
        })
        .collect();
    let mut out = Mined::default();
    for (s, sigs) in results {
        out.summaries.push(s);
        out.signatures.extend(sigs);
    }
    out
}

fn transport_of(t: u8) -> Transport {
    Transport::from_number(t)
}

fn mine_protocol(
    partial: &Partial,
    pool: &Pool<'_>,
    protocol: &str,
    t: u8,
    opts: &MineOptions,
) -> (ProtocolSummary, Vec<Signature>) {
    let folds = pool.folds;
    let mut summary = ProtocolSummary {
        protocol: protocol.to_owned(),
        transport: crate::record::transport_name(t).into_owned(),
        examples: vec![0.0; folds],
        ..Default::default()
    };
    let items = pool.for_transport(Some(t));
    for it in items {
        if matches!(it.class, Class::Labelled(p) if p == protocol) {
            summary.examples[usize::from(it.fold).min(folds - 1)] += it.weight;
        }
    }
    // Per rule: the rule, its measure, and its pooled held-out counts over
    // the rotations that chose it.
    let mut chosen_all: BTreeMap<String, (Signature, Measure, Counts)> = BTreeMap::new();
    // The rotations are independent: mined in parallel, pooled in order.
    let rotations: Vec<Option<Rotation>> = (0..folds)
        .into_par_iter()
        .map(|held| {
            if summary.examples[held] <= 0.0 {
                return None;
            }
            rotation(partial, pool, items, protocol, t, held, opts)
        })
        .collect();
    for (held, r) in rotations.into_iter().enumerate() {
        let Some(r) = r else {
            summary.folds_skipped += 1;
            continue;
        };
        summary.candidates += r.candidates;
        summary.passed_mining += r.passed;
        summary.chosen += r.chosen.len();
        for f in r.chosen {
            let h = f.measure.folds[held];
            let e =
                chosen_all
                    .entry(identity(&f.sig))
                    .or_insert((f.sig, f.measure, Counts::default()));
            e.2.add(h);
        }
    }
    let mut sigs = Vec::new();
    for (_, (mut sig, m, held)) in chosen_all {
        let verdict = match held.precision() {
            None if opts.allow_untested => Ok(()),
            None => Err("no match on held-out folds (untested)".to_owned()),
            Some(p) if p < opts.min_precision => Err(format!(
                "held-out precision {p:.4} < {} (tp {:.0}, fp {:.0})",
                opts.min_precision, held.tp, held.fp
            )),
            Some(_) if held.tp < opts.min_heldout => Err(format!(
                "held-out support {:.0} < {}",
                held.tp, opts.min_heldout
            )),
            Some(_) => Ok(()),
        };
        if let Err(reason) = verdict {
            summary.rejected.push(Rejected {
                rule: describe(&sig),
                reason,
            });
            continue;
        }
        sig.support = m.total().tp.round() as u64;
        sig.provenance = Provenance {
            source: Some(opts.source.clone()),
            precision: held.precision().map(round4),
            true_positives: held.precision().map(|_| held.tp.round() as u64),
            false_positives: held.precision().map(|_| held.fp.round() as u64),
            note: None,
        };
        sigs.push(sig);
    }
    // Rotations may keep a rule both with and without the main port: the
    // rule without it says the same for more flows.
    let portless: BTreeSet<String> = sigs
        .iter()
        .filter(|s| s.ports.is_any())
        .map(identity)
        .collect();
    sigs.retain(|s| {
        if s.ports.is_any() || s.patterns.is_empty() {
            return true;
        }
        let mut any = s.clone();
        any.ports = PortSet::any();
        !portless.contains(&identity(&any))
    });
    summary.kept = sigs.len();
    (summary, sigs)
}

/// What mining did with one fold held out.
struct Rotation {
    candidates: usize,
    passed: usize,
    chosen: Vec<Fit>,
}

/// Mines `protocol` on every fold but `held` and chooses candidates;
/// `None` when the mining folds hold too few of its flows.
fn rotation(
    partial: &Partial,
    pool: &Pool<'_>,
    items: &[PoolItem<'_>],
    protocol: &str,
    t: u8,
    held: usize,
    opts: &MineOptions,
) -> Option<Rotation> {
    let positives: Vec<&PoolItem<'_>> = items
        .iter()
        .filter(|it| {
            usize::from(it.fold) != held && matches!(it.class, Class::Labelled(p) if p == protocol)
        })
        .collect();
    let weight: f64 = positives.iter().map(|it| it.weight).sum();
    if weight < opts.min_support {
        return None;
    }
    let mut candidates = 0;
    let mut fits: Vec<Fit> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut consider = |sig: Signature, rank: u8, needs_port: bool, fits: &mut Vec<Fit>| {
        candidates += 1;
        if let Some((sig, m)) = fit(sig, pool, held, opts, needs_port) {
            if seen.insert(identity(&sig)) {
                let prepared = Prepared::new(&sig);
                let covered = positives
                    .iter()
                    .enumerate()
                    .filter(|(_, it)| prepared.matches(it.example))
                    .map(|(i, _)| i)
                    .collect();
                fits.push(Fit {
                    sig,
                    measure: m,
                    rank,
                    covered,
                });
            }
        }
    };
    for d in 0..2 {
        for sig in masked_candidates(protocol, t, d, &positives, opts, pool, held) {
            consider(sig, 0, false, &mut fits);
        }
        for sig in literal_candidates(partial, protocol, t, d, held, &positives, opts) {
            // A literal anywhere in the first bytes also turns up inside
            // other protocols that carry this one (a tunnel, a proxy): it
            // needs the main port.
            let within = sig.patterns.iter().any(|p| {
                matches!(
                    p.kind,
                    PatternKind::Literal {
                        position: Position::Within(_),
                        ..
                    }
                )
            });
            consider(sig, 1, within, &mut fits);
        }
        for sig in super::shape::candidates(protocol, t, d, &positives, opts.min_support) {
            consider(sig, 2, false, &mut fits);
        }
        for sig in feature_candidates(protocol, t, d, &positives, opts) {
            consider(sig, 3, true, &mut fits);
        }
    }
    let passed = fits.len();
    let chosen = choose(fits, &positives, opts.min_support);
    Some(Rotation {
        candidates,
        passed,
        chosen,
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn passes(c: Counts, opts: &MineOptions) -> bool {
    c.tp >= opts.min_support && c.precision().is_some_and(|p| p >= opts.min_precision)
}

/// Tries `sig` with any server port (unless it `needs_port`), then with
/// the main port of its true positives; returns the variant that passes
/// on the mining folds (all but `held`). A rule without byte patterns (a
/// flow-feature rule) must say more than its port: when the port alone
/// would pass, it is not a candidate.
fn fit(
    sig: Signature,
    pool: &Pool<'_>,
    held: usize,
    opts: &MineOptions,
    needs_port: bool,
) -> Option<(Signature, Measure)> {
    let m = measure(&sig, pool);
    let ports = m.ports_except(held);
    let total: f64 = ports.values().sum();
    let main = ports
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(p, n)| (*p, *n));
    let any_ok = !needs_port && passes(m.except(held), opts);
    if let Some((port, n)) = main {
        if (!any_ok || n >= 0.9 * total) && portless_precise(&sig, &m, pool, held) {
            let mut sp = sig.clone();
            sp.ports = PortSet::single(port);
            let mp = measure(&sp, pool);
            if passes(mp.except(held), opts) {
                if sig.patterns.is_empty() {
                    // When the port alone would pass, the features decide
                    // nothing.
                    let mut bare = sp.clone();
                    bare.patterns.clear();
                    bare.features.clear();
                    if passes(measure(&bare, pool).except(held), opts) {
                        return None;
                    }
                }
                return Some((sp, mp));
            }
        }
    }
    any_ok.then_some((sig, m))
}

/// Whether `sig` without any port (`m` is its measure as it is) reaches
/// [`PORTLESS_PRECISION`] on the mining folds.
fn portless_precise(sig: &Signature, m: &Measure, pool: &Pool<'_>, held: usize) -> bool {
    let c = if sig.ports == PortSet::any() {
        m.except(held)
    } else {
        let mut s = sig.clone();
        s.ports = PortSet::any();
        measure(&s, pool).except(held)
    };
    c.precision().is_some_and(|p| p >= PORTLESS_PRECISION)
}

/// Makes a passing masked pattern as general as the mining folds allow
/// without cutting through what the protocol's examples all agree on:
/// the shortest passing prefix, extended to the end of the run of exact
/// bytes it stops in; then each byte that is not part of a run of exact
/// bytes (a nibble, or a lone exact byte) is wildcarded, last first, when
/// the pattern still passes. Chance agreements (a letter of a name) go,
/// magic numbers and fixed headers stay whole.
fn generalise(sig: Signature, pool: &Pool<'_>, held: usize, opts: &MineOptions) -> Signature {
    let with = |bytes: Vec<MaskedByte>| {
        let mut s = sig.clone();
        if let Some(PatternKind::Masked { bytes: b, .. }) =
            s.patterns.first_mut().map(|p| &mut p.kind)
        {
            *b = trim(bytes);
        }
        s
    };
    let Some(PatternKind::Masked { bytes, .. }) = sig.patterns.first().map(|p| &p.kind) else {
        return sig;
    };
    let exact = |b: &MaskedByte| b.mask == 0xff;
    let mut bytes = bytes.clone();
    for len in 1..bytes.len() {
        if bytes[len - 1].is_any() || bits(&bytes[..len]) < MIN_BITS {
            continue;
        }
        if fit(with(bytes[..len].to_vec()), pool, held, opts, false).is_some() {
            let mut end = len;
            if exact(&bytes[len - 1]) {
                while end < bytes.len() && exact(&bytes[end]) {
                    end += 1;
                }
            }
            bytes.truncate(end);
            break;
        }
    }
    for i in (0..bytes.len()).rev() {
        if bytes[i].is_any() {
            continue;
        }
        let in_run = exact(&bytes[i])
            && ((i > 0 && exact(&bytes[i - 1])) || bytes.get(i + 1).is_some_and(exact));
        if in_run {
            continue;
        }
        let mut b = bytes.clone();
        b[i] = MaskedByte::any();
        if bits(&b) >= MIN_BITS && fit(with(b.clone()), pool, held, opts, false).is_some() {
            bytes = b;
        }
    }
    with(bytes)
}

/// Picks candidates greedily by the positives they add; stops when the
/// best adds fewer than `min_support` flows.
fn choose(mut fits: Vec<Fit>, positives: &[&PoolItem<'_>], min_support: f64) -> Vec<Fit> {
    let mut covered = vec![false; positives.len()];
    let mut out = Vec::new();
    loop {
        let gain = |f: &Fit| -> f64 {
            f.covered
                .iter()
                .filter(|&&i| !covered[i])
                .map(|&i| positives[i].weight)
                .sum()
        };
        let best = fits
            .iter()
            .enumerate()
            .map(|(i, f)| (i, gain(f)))
            .max_by(|a, b| {
                let (fa, fb) = (&fits[a.0], &fits[b.0]);
                a.1.total_cmp(&b.1)
                    .then(fb.rank.cmp(&fa.rank))
                    .then(identity(&fb.sig).cmp(&identity(&fa.sig)))
            });
        match best {
            Some((i, g)) if g >= min_support && g > 0.0 => {
                let f = fits.swap_remove(i);
                for &c in &f.covered {
                    covered[c] = true;
                }
                out.push(f);
            }
            _ => return out,
        }
    }
}

fn direction(d: usize) -> Direction {
    if d == 0 {
        Direction::Initiator
    } else {
        Direction::Responder
    }
}

fn base_sig(protocol: &str, t: u8) -> Signature {
    let mut s = Signature::new(protocol);
    s.transport = transport_of(t);
    s
}

/// Constrained bits of masked bytes, a constrained nibble counting 4
/// bits, or 1 when it is zero: zeros (padding, high bytes of lengths,
/// reserved fields) are common to most binary protocols and tell little
/// about which one a payload is.
fn bits(bytes: &[MaskedByte]) -> u32 {
    bytes
        .iter()
        .map(|b| {
            [0xf0u8, 0x0f]
                .iter()
                .filter(|&&n| b.mask & n == n)
                .map(|&n| if b.value & n == 0 { 1 } else { 4 })
                .sum::<u32>()
        })
        .sum()
}

/// Byte weight: earlier bytes weigh more.
fn weight_at(i: usize) -> f64 {
    1.0 / (1.0 + i as f64 / 8.0)
}

/// The nibble-wise consensus of two masked prefixes.
fn consensus(a: &[MaskedByte], b: &[MaskedByte]) -> Vec<MaskedByte> {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let mut mask = 0u8;
            for nib in [0xf0u8, 0x0f] {
                if x.mask & nib == nib && y.mask & nib == nib && x.value & nib == y.value & nib {
                    mask |= nib;
                }
            }
            MaskedByte::new(x.value, mask)
        })
        .collect()
}

fn score(c: &[MaskedByte]) -> f64 {
    c.iter()
        .enumerate()
        .map(|(i, b)| weight_at(i) * f64::from(b.mask.count_ones()) / 8.0)
        .sum()
}

fn trim(mut c: Vec<MaskedByte>) -> Vec<MaskedByte> {
    while c.last().is_some_and(|b| b.is_any()) {
        c.pop();
    }
    c
}

struct Node {
    cons: Vec<MaskedByte>,
    weight: f64,
    children: Option<(usize, usize)>,
}

/// Agglomerative clustering of weighted prefixes; returns the nodes (leaves
/// first) and the roots.
fn cluster(prefixes: Vec<(Vec<u8>, f64)>) -> (Vec<Node>, Vec<usize>) {
    let mut nodes: Vec<Node> = prefixes
        .into_iter()
        .map(|(p, w)| Node {
            cons: p.iter().map(|&b| MaskedByte::exact(b)).collect(),
            weight: w,
            children: None,
        })
        .collect();
    let n = nodes.len();
    // slot -> node; slots merged away become None.
    let mut slots: Vec<Option<usize>> = (0..n).map(Some).collect();
    let mut sim = vec![vec![f64::NEG_INFINITY; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            sim[i][j] = score(&consensus(&nodes[i].cons, &nodes[j].cons));
        }
    }
    for _ in 1..n {
        let mut best: Option<(usize, usize, f64)> = None;
        for i in 0..n {
            if slots[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if slots[j].is_none() {
                    continue;
                }
                if best.is_none_or(|(_, _, s)| sim[i][j] > s) {
                    best = Some((i, j, sim[i][j]));
                }
            }
        }
        let Some((i, j, _)) = best else { break };
        let (a, b) = (slots[i].expect("active"), slots[j].expect("active"));
        let node = Node {
            cons: consensus(&nodes[a].cons, &nodes[b].cons),
            weight: nodes[a].weight + nodes[b].weight,
            children: Some((a, b)),
        };
        nodes.push(node);
        slots[i] = Some(nodes.len() - 1);
        slots[j] = None;
        let ci = nodes.len() - 1;
        for k in 0..n {
            if k == i || slots[k].is_none() {
                continue;
            }
            let s = score(&consensus(
                &nodes[ci].cons,
                &nodes[slots[k].expect("active")].cons,
            ));
            if k < i {
                sim[k][i] = s;
            } else {
                sim[i][k] = s;
            }
        }
    }
    let roots = slots.into_iter().flatten().collect();
    (nodes, roots)
}

fn masked_candidates(
    protocol: &str,
    t: u8,
    d: usize,
    positives: &[&PoolItem<'_>],
    opts: &MineOptions,
    pool: &Pool<'_>,
    held: usize,
) -> Vec<Signature> {
    let mut prefixes: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
    for it in positives {
        let p = it.example.payload(d);
        if p.is_empty() {
            continue;
        }
        let p = &p[..p.len().min(MASKED_MAX)];
        *prefixes.entry(p.to_vec()).or_default() += it.weight;
    }
    let mut list: Vec<(u64, Vec<u8>, f64)> = prefixes
        .into_iter()
        .map(|(p, w)| (stable_hash(&p), p, w))
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    list.truncate(CLUSTER_MAX);
    let (nodes, roots) = cluster(list.into_iter().map(|(_, p, w)| (p, w)).collect());
    let mut out = Vec::new();
    let mut stack: Vec<usize> = roots;
    stack.sort_unstable_by(|a, b| b.cmp(a));
    while let Some(i) = stack.pop() {
        let node = &nodes[i];
        if node.weight < opts.min_support {
            continue;
        }
        let pat = trim(node.cons.clone());
        let mut found = false;
        if bits(&pat) >= MIN_BITS {
            let mut sig = base_sig(protocol, t);
            sig.patterns.push(Pattern::masked(direction(d), 0, pat));
            if fit(sig.clone(), pool, held, opts, false).is_some() {
                out.push(generalise(sig, pool, held, opts));
                found = true;
            }
        }
        if !found {
            if let Some((a, b)) = node.children {
                stack.push(b);
                stack.push(a);
            }
        }
    }
    out
}

/// Whether `lit` sits in `data` at `o`.
fn at(data: &[u8], o: usize, lit: &[u8]) -> bool {
    data.get(o..o + lit.len()).is_some_and(|x| x == lit)
}

fn literal_candidates(
    partial: &Partial,
    protocol: &str,
    t: u8,
    d: usize,
    held: usize,
    positives: &[&PoolItem<'_>],
    opts: &MineOptions,
) -> Vec<Signature> {
    let outside = |c: &[u64]| -> u64 {
        c.iter()
            .enumerate()
            .filter(|(f, _)| *f != held)
            .fold(0u64, |a, (_, n)| a.saturating_add(*n))
    };
    let groups: Vec<_> = partial
        .groups
        .iter()
        .filter(|g| g.key.transport == t)
        .collect();
    // The protocol's frequent grams on the mining folds, then how often
    // each is seen in other classes there.
    let mut own: BTreeMap<GramKey, u64> = BTreeMap::new();
    for g in groups
        .iter()
        .filter(|g| matches!(&g.key.class, Class::Labelled(p) if p == protocol))
    {
        for (k, c) in g.grams[d].iter() {
            let n = outside(c);
            if n > 0 {
                let o = own.entry(k).or_default();
                *o = o.saturating_add(n);
            }
        }
    }
    own.retain(|_, n| *n as f64 >= opts.min_support);
    let mut others: BTreeMap<GramKey, f64> = BTreeMap::new();
    for g in &groups {
        let w = match &g.key.class {
            Class::Labelled(p) | Class::Weak(p) if p == protocol => continue,
            Class::Labelled(_) => 1.0,
            _ => opts.unlabelled_weight,
        };
        for k in own.keys() {
            if let Some(c) = g.grams[d].get(*k) {
                let n = outside(c);
                if n > 0 {
                    *others.entry(*k).or_default() += w * n as f64;
                }
            }
        }
    }
    // Ties are broken by the key's text, as when keys were text.
    let mut scored: Vec<(f64, String, GramKey)> = own
        .iter()
        .filter(|(_, &n)| n as f64 >= opts.min_support)
        .filter_map(|(k, &n)| {
            let o = others.get(k).copied().unwrap_or(0.0);
            let p = n as f64 / (n as f64 + o);
            (p >= opts.min_precision).then(|| (n as f64, k.text(), *k))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, _, key) in scored.into_iter().take(LITERALS_MAX) {
        let gram = key.gram().to_vec();
        let payloads: Vec<&[u8]> = positives.iter().map(|it| it.example.payload(d)).collect();
        let pattern = if let Some(o) = key.offset() {
            let (o, lit) = extend_at(&payloads, o, gram);
            if o + lit.len() <= MASKED_MAX {
                let mut bytes = vec![MaskedByte::any(); o];
                bytes.extend(lit.iter().map(|&b| MaskedByte::exact(b)));
                Pattern::masked(direction(d), 0, bytes)
            } else {
                Pattern::literal_at(direction(d), o as u32, &lit)
            }
        } else {
            let lit = extend_within(&payloads, gram);
            Pattern {
                direction: direction(d),
                kind: PatternKind::Literal {
                    bytes: lit,
                    nocase: false,
                    position: Position::Within(partial.settings.bytes as u32),
                },
            }
        };
        let lit: Vec<MaskedByte> = match &pattern.kind {
            PatternKind::Masked { bytes, .. } => bytes.clone(),
            PatternKind::Literal { bytes, .. } => {
                bytes.iter().map(|&b| MaskedByte::exact(b)).collect()
            }
            PatternKind::Regex { .. } => Vec::new(),
        };
        if bits(&lit) < MIN_BITS {
            continue;
        }
        let mut sig = base_sig(protocol, t);
        sig.patterns.push(pattern);
        if seen.insert(identity(&sig)) {
            out.push(sig);
        }
    }
    out
}

/// Extends a literal at `o` while every payload holding it agrees on the
/// next byte (right, then left).
fn extend_at(payloads: &[&[u8]], mut o: usize, mut lit: Vec<u8>) -> (usize, Vec<u8>) {
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
fn extend_within(payloads: &[&[u8]], mut lit: Vec<u8>) -> Vec<u8> {
    while lit.len() < LITERAL_MAX {
        let mut v: Option<u8> = None;
        let mut ok = true;
        for p in payloads {
            let Some(i) = p.windows(lit.len()).position(|w| w == lit.as_slice()) else {
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

fn feature_candidates(
    protocol: &str,
    t: u8,
    d: usize,
    positives: &[&PoolItem<'_>],
    opts: &MineOptions,
) -> Vec<Signature> {
    let mut ports: BTreeMap<u16, f64> = BTreeMap::new();
    for it in positives {
        *ports.entry(it.example.server_port).or_default() += it.weight;
    }
    let Some((&port, &n)) = ports
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
    else {
        return Vec::new();
    };
    if n < opts.min_support {
        return Vec::new();
    }
    let on_port: Vec<&&PoolItem<'_>> = positives
        .iter()
        .filter(|it| it.example.server_port == port)
        .collect();
    let mut sizes: BTreeMap<u32, f64> = BTreeMap::new();
    for it in &on_port {
        if let Some(s) = it.example.first_size(d) {
            *sizes.entry(s).or_default() += it.weight;
        }
    }
    let side = if d == 0 {
        Side::Initiator
    } else {
        Side::Responder
    };
    let make = |range: ValueRange| {
        let mut s = base_sig(protocol, t);
        s.ports = PortSet::single(port);
        s.features.push(Feature::FirstPayloadSize { side, range });
        s
    };
    let mut out: Vec<Signature> = sizes
        .iter()
        .filter(|(_, &w)| w >= opts.min_support)
        .map(|(&s, _)| {
            make(ValueRange {
                min: u64::from(s),
                max: Some(u64::from(s)),
            })
        })
        .collect();
    if let (Some((&lo, _)), Some((&hi, _))) = (sizes.first_key_value(), sizes.last_key_value()) {
        if lo < hi {
            out.push(make(ValueRange {
                min: u64::from(lo),
                max: Some(u64::from(hi)),
            }));
        }
    }
    // The side of the first payload: alone on the port, and with each
    // frequent first size of that side.
    let first_from: f64 = on_port
        .iter()
        .filter(|it| it.example.first_payload == Some(side))
        .map(|it| it.weight)
        .sum();
    if first_from >= opts.min_support {
        let mut s = base_sig(protocol, t);
        s.ports = PortSet::single(port);
        s.features.push(Feature::FirstPayloadFrom(side));
        out.push(s);
        let mut sized: BTreeMap<u32, f64> = BTreeMap::new();
        for it in on_port
            .iter()
            .filter(|it| it.example.first_payload == Some(side))
        {
            if let Some(n) = it.example.first_size(d) {
                *sized.entry(n).or_default() += it.weight;
            }
        }
        for (&n, _) in sized.iter().filter(|(_, &w)| w >= opts.min_support) {
            let mut s = make(ValueRange {
                min: u64::from(n),
                max: Some(u64::from(n)),
            });
            s.features.push(Feature::FirstPayloadFrom(side));
            out.push(s);
        }
    }
    // The packets this side sends: the observed range on the port.
    let packets = |it: &&&PoolItem<'_>| {
        if d == 0 {
            it.example.c2s_packets
        } else {
            it.example.s2c_packets
        }
    };
    if let (Some(lo), Some(hi)) = (
        on_port.iter().map(packets).min(),
        on_port.iter().map(packets).max(),
    ) {
        if lo > 0 || hi < u64::MAX {
            let mut s = base_sig(protocol, t);
            s.ports = PortSet::single(port);
            s.features.push(Feature::Packets {
                side: Some(side),
                range: ValueRange {
                    min: lo,
                    max: Some(hi),
                },
            });
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consensus_masks_disagreeing_nibbles() {
        let a: Vec<MaskedByte> = [0x12u8, 0x34, 0x56]
            .iter()
            .map(|&b| MaskedByte::exact(b))
            .collect();
        let b: Vec<MaskedByte> = [0x12u8, 0x38, 0x96, 0x00]
            .iter()
            .map(|&b| MaskedByte::exact(b))
            .collect();
        let c = consensus(&a, &b);
        assert_eq!(
            c,
            vec![
                MaskedByte::exact(0x12),
                MaskedByte::new(0x30, 0xf0),
                MaskedByte::new(0x06, 0x0f)
            ]
        );
        assert!(score(&c) > 1.0);
    }

    #[test]
    fn zero_nibbles_count_one_bit() {
        let b = |v: u8, m: u8| MaskedByte::new(v, m);
        assert_eq!(bits(&[b(0x47, 0xff), b(0x45, 0xff)]), 16);
        assert_eq!(bits(&[b(0x00, 0xff), b(0x00, 0xff), b(0x01, 0xff)]), 9);
        assert_eq!(bits(&[b(0x40, 0xf0), MaskedByte::any(), b(0x00, 0x0f)]), 5);
    }

    #[test]
    fn literal_extension_stops_at_disagreement() {
        let p: Vec<&[u8]> = vec![b"xxMAGIC1", b"yyMAGIC2", b"zzMAGIC3"];
        let (o, lit) = extend_at(&p, 2, b"MAGI".to_vec());
        assert_eq!((o, lit.as_slice()), (2, &b"MAGIC"[..]));
        assert_eq!(extend_within(&p, b"AGIC".to_vec()), b"AGIC".to_vec());
    }
}
