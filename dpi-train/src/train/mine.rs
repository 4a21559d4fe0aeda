//! Mining candidate signatures per protocol, validating them on captures
//! they were not mined from, and the tiers below them.
//!
//! For each protocol the reference labels (per transport, TCP and UDP),
//! and for each training fold holding some of its flows, that fold is held
//! out and candidates are mined on the others (a *rotation*):
//!
//! 1. **Positional masked patterns** per direction ([`super::masked`]).
//! 2. **Discriminative literals** per direction, at a fixed offset or
//!    anywhere in the first N bytes ([`super::literal`]).
//! 3. **Token-shape regexes** per direction ([`super::shape`]): fixed
//!    bytes after a field of varying length.
//! 4. **Both directions**: a pattern of the initiator's bytes and one of
//!    the responder's that are each right at least
//!    [`NEAR_PRECISION`] of the time but not precise enough alone are
//!    tried together, as one rule (argus's std.sig holds `src` and `dst`
//!    together).
//! 5. **Flow features** on the protocol's main server port
//!    ([`super::feature`]), for protocols whose bytes do not decide.
//!
//! Byte patterns need [`MIN_BITS`] constrained bits, a zero nibble
//! counting one. A literal anywhere in the first bytes, and a flow
//! feature, is only tried on the main port; a flow feature only when the
//! port alone would not pass (the feature must decide, not the port).
//!
//! A candidate is measured against every example of every class (see
//! [`super::score`]); it is tried with any server port first and with the
//! protocol's main port as a supporting condition when that is needed for
//! precision or when the rule was seen working on one port only (no two
//! server ports with true positives in two captures each) and has no
//! pattern at a fixed offset of [`STRONG_BITS`] constrained bits, provided that
//! without any port it is right at least [`PORTLESS_PRECISION`] of the
//! time on the mining folds. Candidates that cover `min_support` flows and
//! reach the precision threshold on the mining folds are chosen greedily
//! by the protocol flows they add (masked patterns, then literals,
//! regexes, pairs and features on ties). The held-out counts of the
//! rotations that chose a rule are pooled and the rule is kept only when
//! they pass [`super::evidence::Gate`].
//!
//! Then the flows no kept rule (nor a byte or feature rule of the base
//! set) names go to [`super::tiers`]: transport rules and the port tier.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use dpi_core::signature::{
    Direction, PatternKind, PortSet, Position, Provenance, Signature, Transport,
};
use rayon::prelude::*;

use super::evidence::{Evidence, Gate};
use super::example::Class;
use super::literal::GramStats;
use super::merge::{describe, identity};
use super::partial::Partial;
use super::score::{
    measure, measure_among, measure_matches, Counts, Measure, Pool, PoolItem, Prepared, Rotations,
};
use super::tiers::{self, TierRule};

pub use super::masked::{MASKED_MAX, MIN_BITS};

/// Least precision on the mining folds of a byte pattern or feature
/// without any port, for its variant on the main port to be a candidate:
/// the port supports the pattern, it does not stand in for it.
pub const PORTLESS_PRECISION: f64 = 0.5;
/// Least precision on the mining folds of a one-direction pattern to be
/// paired with one of the other direction.
pub const NEAR_PRECISION: f64 = 0.2;
/// Constrained bits (as [`MIN_BITS`] counts them) from which a pattern at
/// a fixed offset is specific enough to go to any port when it passes
/// without one, although it was seen working on one port only: six bytes
/// of a banner or magic number (`SSH-2.0`) do not open another
/// protocol's flows by chance.
pub const STRONG_BITS: u32 = 48;
/// Patterns per direction tried in pairs.
pub const NEAR_MAX: usize = 4;
/// Most rotations per protocol: its captures are spread over at most this
/// many parts, each held out in turn.
pub const ROTATIONS_MAX: usize = 8;

/// Thresholds and settings of mining.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// Least true positives on the mining folds (weighted flows) for a
    /// candidate, and least flows of a cluster or gram to make one.
    pub min_support: f64,
    /// When a rule is kept (held-out precision and its bound).
    pub gate: Gate,
    /// Weight of a match on an unlabelled or weakly labelled flow.
    pub unlabelled_weight: f64,
    /// Provenance source of what is learnt (`trained:ndpi`).
    pub source: String,
    /// Learn the transport and port tiers.
    pub tiers: bool,
    /// Learn `hostname suffix → application` rules ([`super::apps`]).
    pub apps: bool,
    /// Assigned ports and IP protocol numbers, evidence for the tiers
    /// (empty: none).
    pub assigned: std::sync::Arc<super::assigned::Assigned>,
}

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            min_support: 2.0,
            gate: Gate::default(),
            unlabelled_weight: 1.0,
            source: "trained:ndpi".into(),
            tiers: true,
            apps: true,
            assigned: std::sync::Arc::new(super::assigned::Assigned::builtin()),
        }
    }
}

/// Why a candidate chosen on the mining folds was not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The candidate, in one line.
    pub rule: String,
    /// Why.
    pub reason: String,
}

/// A kept rule and its held-out evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The rule, in one line.
    pub rule: String,
    /// Its pooled held-out evidence.
    pub evidence: Evidence,
    /// Training flows it names correctly, all folds.
    pub support: f64,
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
    /// Captures holding them.
    pub captures: usize,
    /// Candidates measured.
    pub candidates: usize,
    /// Candidates precise enough on their mining folds.
    pub passed_mining: usize,
    /// Chosen by coverage (before the held-out check).
    pub chosen: usize,
    /// Signatures kept (after pooling the rotations' held-out counts).
    pub kept: Vec<Kept>,
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
    /// The transport and port tiers, kept or not.
    pub tiers: Vec<TierRule>,
}

/// A candidate that passed the mining folds.
struct Fit {
    sig: Signature,
    measure: Measure,
    rank: u8,
    covered: Vec<usize>,
}

/// What [`Ctx::try_fit`] made of a candidate.
pub(super) enum Fitted {
    /// Passes on the mining folds (in the variant returned).
    Pass(Box<(Signature, Measure)>),
    /// Fails, but is right at least [`NEAR_PRECISION`] of the time on
    /// `min_support` flows: worth pairing with the other direction.
    Near(f64),
    /// Fails.
    Fail,
}

/// One rotation's mining context.
pub(super) struct Ctx<'p, 'a> {
    pub pool: &'p Pool<'a>,
    pub rots: &'p Rotations,
    pub held: usize,
    pub opts: &'p MineOptions,
    /// Per direction, near misses (true positives on the mining folds, rule).
    near: RefCell<[Vec<(f64, Signature)>; 2]>,
}

/// Mines `partial`. `base` is the set the learnt rules join: its byte and
/// feature rules take flows out of the tiers.
pub fn mine(
    partial: &Partial,
    base: &[Signature],
    opts: &MineOptions,
    progress: &indicatif::ProgressBar,
) -> Mined {
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
    progress.set_length(targets.len() as u64 + 1);
    let bytes = partial.settings.bytes;
    let results: Vec<(ProtocolSummary, Vec<Signature>)> = targets
        .par_iter()
        .map(|(p, t)| {
            let r = mine_protocol(&pool, p, *t, bytes, opts);
            progress.inc(1);
            r
        })
        .collect();
    let mut out = Mined::default();
    for (s, sigs) in results {
        out.summaries.push(s);
        out.signatures.extend(sigs);
    }
    if opts.tiers {
        let mut decided: Vec<Signature> = base.to_vec();
        decided.extend(out.signatures.iter().cloned());
        let (sigs, rules) = tiers::learn(&pool, &decided, opts);
        out.signatures.extend(sigs);
        out.tiers = rules;
    }
    progress.inc(1);
    out
}

fn transport_of(t: u8) -> Transport {
    Transport::from_number(t)
}

fn mine_protocol(
    pool: &Pool<'_>,
    protocol: &str,
    t: u8,
    bytes: usize,
    opts: &MineOptions,
) -> (ProtocolSummary, Vec<Signature>) {
    let items = pool.for_transport(Some(t));
    let mut captures = BTreeSet::new();
    for it in items {
        if matches!(it.class, Class::Labelled(p) if p == protocol) {
            captures.extend(it.captures.iter().copied());
        }
    }
    let rots = Rotations::spread(pool, &captures, captures.len().min(ROTATIONS_MAX));
    let parts = rots.parts;
    let mut summary = ProtocolSummary {
        protocol: protocol.to_owned(),
        transport: crate::record::transport_name(t).into_owned(),
        examples: vec![0.0; parts],
        captures: captures.len(),
        ..Default::default()
    };
    for it in items {
        if matches!(it.class, Class::Labelled(p) if p == protocol) {
            for (c, w) in it.shares() {
                summary.examples[rots.of(c)] += w;
            }
        }
    }
    let grams: [GramStats; 2] =
        [0, 1].map(|d| GramStats::new(pool, &rots, protocol, t, d, bytes, opts.min_support));
    // Every rule chosen in some rotation, once, with its measure.
    let mut chosen_all: BTreeMap<String, (Signature, Measure)> = BTreeMap::new();
    // The rotations are independent: mined in parallel, united in order.
    let rotations: Vec<Option<Rotation>> = (0..parts)
        .into_par_iter()
        .map(|held| {
            if parts < 2 || summary.examples[held] <= 0.0 {
                return None;
            }
            rotation(pool, &rots, items, &grams, protocol, t, held, opts)
        })
        .collect();
    for r in rotations {
        let Some(r) = r else {
            summary.folds_skipped += 1;
            continue;
        };
        summary.candidates += r.candidates;
        summary.passed_mining += r.passed;
        for f in r.chosen {
            chosen_all
                .entry(identity(&f.sig))
                .or_insert((f.sig, f.measure));
        }
    }
    summary.chosen = chosen_all.len();
    // Held-out evidence, capture by capture; the gate.
    let mut kept: Vec<(Signature, Measure, Evidence)> = Vec::new();
    for (_, (sig, m)) in chosen_all {
        let ev = Evidence::leave_one_capture_out(
            &m.per_capture(),
            opts.min_support,
            opts.gate.min_precision,
            opts.gate.per_capture,
        );
        match opts.gate.verdict(&ev) {
            Ok(()) => kept.push((sig, m, ev)),
            Err(reason) => summary.rejected.push(Rejected {
                rule: describe(&sig),
                reason,
            }),
        }
    }
    // Every rule the gate keeps stays, even one that names no training
    // flow the others miss: on other captures the rules miss different
    // flows (a server banner that differs, a client command that does
    // not), and each has its own held-out evidence.
    let mut sigs = Vec::new();
    for (mut sig, m, ev) in kept {
        sig.support = m.total().tp.round() as u64;
        sig.provenance = Provenance {
            source: Some(opts.source.clone()),
            precision: ev.precision().map(round4),
            true_positives: Some(ev.tp.round() as u64),
            false_positives: Some(ev.fp.round() as u64),
            note: None,
        };
        summary.kept.push(Kept {
            rule: describe(&sig),
            evidence: ev,
            support: m.total().tp,
        });
        sigs.push(sig);
    }
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
#[allow(clippy::too_many_arguments)]
fn rotation(
    pool: &Pool<'_>,
    rots: &Rotations,
    items: &[PoolItem<'_>],
    grams: &[GramStats; 2],
    protocol: &str,
    t: u8,
    held: usize,
    opts: &MineOptions,
) -> Option<Rotation> {
    let mining: Vec<PoolItem<'_>> = items
        .iter()
        .filter(|it| matches!(it.class, Class::Labelled(p) if p == protocol))
        .filter_map(|it| it.restricted(|c| rots.of(c) != held))
        .collect();
    let positives: Vec<&PoolItem<'_>> = mining.iter().collect();
    let weight: f64 = positives.iter().map(|it| it.weight).sum();
    if weight < opts.min_support {
        return None;
    }
    let mining_captures = positives
        .iter()
        .flat_map(|it| it.captures.iter().copied())
        .collect::<BTreeSet<_>>()
        .len();
    let ctx = Ctx {
        pool,
        rots,
        held,
        opts,
        near: RefCell::new([Vec::new(), Vec::new()]),
    };
    let mut candidates = 0;
    let mut fits: Vec<Fit> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut consider = |sig: Signature, rank: u8, needs_port: bool, fits: &mut Vec<Fit>| {
        candidates += 1;
        let d = sig.patterns.first().map(|p| match p.direction {
            Direction::Responder => 1,
            _ => 0,
        });
        match ctx.try_fit(sig.clone(), needs_port) {
            Fitted::Pass(b) => {
                let (sig, m) = *b;
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
            Fitted::Near(tp) => {
                if let (Some(d), 1) = (d, sig.patterns.len()) {
                    if sig.features.is_empty() && sig.ports.is_any() {
                        ctx.near.borrow_mut()[d].push((tp, sig));
                    }
                }
            }
            Fitted::Fail => {}
        }
    };
    for (d, grams) in grams.iter().enumerate() {
        for sig in super::masked::candidates(&ctx, protocol, t, d, &positives) {
            consider(sig, 0, false, &mut fits);
        }
        for sig in grams.candidates(
            protocol,
            t,
            d,
            held,
            &positives,
            items,
            rots,
            mining_captures,
            opts.min_support,
        ) {
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
    }
    // Both directions together, where neither decides alone.
    let near = std::mem::take(&mut *ctx.near.borrow_mut());
    let best = |mut v: Vec<(f64, Signature)>| {
        v.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| identity(&a.1).cmp(&identity(&b.1)))
        });
        v.dedup_by(|a, b| identity(&a.1) == identity(&b.1));
        v.truncate(NEAR_MAX);
        v
    };
    let [c2s, s2c] = near;
    let (c2s, s2c) = (best(c2s), best(s2c));
    for (_, a) in &c2s {
        for (_, b) in &s2c {
            let mut sig = a.clone();
            sig.patterns.extend(b.patterns.iter().cloned());
            consider(sig, 3, false, &mut fits);
        }
    }
    for d in 0..2 {
        for sig in super::feature::candidates(protocol, t, d, &positives, opts) {
            consider(sig, 4, true, &mut fits);
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

/// Rounds to 4 decimals (for provenance figures).
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Ctx<'_, '_> {
    fn passes(&self, c: Counts) -> bool {
        c.tp >= self.opts.min_support
            && c.precision()
                .is_some_and(|p| p >= self.opts.gate.min_precision)
    }

    /// [`Ctx::try_fit`]'s passing variant, if any.
    pub(super) fn fit(&self, sig: Signature, needs_port: bool) -> Option<(Signature, Measure)> {
        match self.try_fit(sig, needs_port) {
            Fitted::Pass(b) => Some(*b),
            _ => None,
        }
    }

    /// Tries `sig` with any server port (unless it `needs_port`), then
    /// with the main port of its true positives; says which variant
    /// passes on the mining folds (all but `held`), or whether it comes
    /// near. The port is a supporting condition: added when the rule needs
    /// it for precision, or when the rule has been seen working on one
    /// port only (no two server ports with true positives in two captures
    /// each): a rule is not extended to ports the protocol was never seen
    /// on. A rule without byte patterns (a flow-feature rule) must say
    /// more than its port: when the port alone would pass, it is not a
    /// candidate.
    pub(super) fn try_fit(&self, sig: Signature, needs_port: bool) -> Fitted {
        let (pool, rots, held) = (self.pool, self.rots, self.held);
        let (m, hits) = measure_matches(&sig, pool, rots);
        let ports = m.ports_except(held);
        let main = ports
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(p, n)| (*p, *n));
        let here = m.except(held);
        let any_ok = !needs_port && self.passes(here);
        let roams = m.ports_in_two_captures(held) >= 2 || strong(&sig);
        if let Some((port, _)) = main {
            if (!any_ok || !roams) && self.portless_precise(&sig, &m) {
                let mut sp = sig.clone();
                sp.ports = PortSet::single(port);
                // The port narrows the rule: its matches are among `hits`.
                let mp = if sig.ports.is_any() {
                    measure_among(&sp, &hits, pool, rots)
                } else {
                    measure(&sp, pool, rots)
                };
                if self.passes(mp.except(held)) {
                    if sig.patterns.is_empty() {
                        // When the port alone would pass, the features decide
                        // nothing.
                        let mut bare = sp.clone();
                        bare.patterns.clear();
                        bare.features.clear();
                        if self.passes(measure(&bare, pool, rots).except(held)) {
                            return Fitted::Fail;
                        }
                    }
                    return Fitted::Pass(Box::new((sp, mp)));
                }
            }
        }
        if any_ok {
            return Fitted::Pass(Box::new((sig, m)));
        }
        if here.tp >= self.opts.min_support && here.precision().is_some_and(|p| p >= NEAR_PRECISION)
        {
            Fitted::Near(here.tp)
        } else {
            Fitted::Fail
        }
    }

    /// Records `sig`, a one-direction pattern of direction `d` with `tp`
    /// true positives on the mining folds, as a near miss.
    pub(super) fn push_near(&self, d: usize, tp: f64, sig: Signature) {
        self.near.borrow_mut()[d].push((tp, sig));
    }

    /// Whether `sig` without any port (`m` is its measure as it is)
    /// reaches [`PORTLESS_PRECISION`] on the mining folds.
    fn portless_precise(&self, sig: &Signature, m: &Measure) -> bool {
        let c = if sig.ports == PortSet::any() {
            m.except(self.held)
        } else {
            let mut s = sig.clone();
            s.ports = PortSet::any();
            measure(&s, self.pool, self.rots).except(self.held)
        };
        c.precision().is_some_and(|p| p >= PORTLESS_PRECISION)
    }
}

/// Whether a pattern of `sig` at a fixed offset has [`STRONG_BITS`]
/// constrained bits.
fn strong(sig: &Signature) -> bool {
    sig.patterns.iter().any(|p| match &p.kind {
        PatternKind::Masked { bytes, .. } => super::masked::bits(bytes) >= STRONG_BITS,
        PatternKind::Literal {
            bytes,
            nocase: false,
            position: Position::At(_),
        } => {
            let exact: Vec<_> = bytes
                .iter()
                .map(|&b| dpi_core::signature::MaskedByte::exact(b))
                .collect();
            super::masked::bits(&exact) >= STRONG_BITS
        }
        _ => false,
    })
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
                    .then_with(|| identity(&fb.sig).cmp(&identity(&fa.sig)))
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

/// The pattern direction of direction index `d` (0 initiator, 1 responder).
pub fn direction(d: usize) -> Direction {
    if d == 0 {
        Direction::Initiator
    } else {
        Direction::Responder
    }
}

/// An empty signature of `protocol` on transport `t`.
pub fn base_sig(protocol: &str, t: u8) -> Signature {
    let mut s = Signature::new(protocol);
    s.transport = transport_of(t);
    s
}
