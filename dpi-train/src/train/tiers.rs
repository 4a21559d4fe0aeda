//! The port tier and the transport tier: what a flow is when no byte or
//! feature rule names it.
//!
//! - **Transport tier**: for IP protocols other than TCP and UDP (ICMP,
//!   IGMP, ICMPv6, ESP, SCTP, OSPF, ...), a rule `transport N → P` (class
//!   `feature` in the classifier: a transport without ports).
//! - **Port tier**: per TCP or UDP server port, a rule `transport T,
//!   port P → protocol` (class `port`, below every byte and feature rule).
//!
//! Both are learnt from the flows that no byte or feature rule (learnt,
//! or of the base set) names: the flows that would reach them. The
//! reference's weak labels count as positives here (nDPI's own "by port"
//! guess is what nDPI knows of a port); flows of other protocols, weak or
//! not, and, times the unlabelled weight, flows it leaves unlabelled are
//! against. The candidate of a key is the protocol named most on it; it
//! is kept only on the capture-by-capture held-out evidence of
//! [`super::evidence`], like every learnt rule, and its held-out precision
//! is written with it. Where the registry of assigned ports and IP
//! protocol numbers ([`super::assigned`]) gives the key to that protocol,
//! the assignment counts as one more source
//! ([`Evidence::with_assignment`]).

use std::collections::BTreeMap;

use dpi_core::signature::{PortSet, Provenance, Signature, Transport};
use dpi_core::Confidence;
use rayon::prelude::*;

use super::evidence::Evidence;
use super::example::Class;
use super::mine::{round4, MineOptions};
use super::score::{Measure, Pool, PoolItem, Prepared, Rotations, Verdict};

/// What the tiers decided for one key.
#[derive(Debug, Clone, PartialEq)]
pub struct TierRule {
    /// IP protocol number.
    pub transport: u8,
    /// The server port (port tier), or `None` (transport tier).
    pub port: Option<u16>,
    /// The protocol chosen on the mining folds.
    pub protocol: String,
    /// Captures with flows on the key.
    pub captures: usize,
    /// Its pooled held-out evidence.
    pub evidence: Evidence,
    /// Kept, or why not.
    pub verdict: Result<(), String>,
    /// The registered service name when the registry of assigned ports
    /// gives the key to the protocol (one more source of evidence).
    pub assigned: Option<String>,
}

/// The flows on one key: those no byte or feature rule names, and all.
type KeyFlows<'p, 'e> = (Vec<&'p PoolItem<'e>>, Vec<&'p PoolItem<'e>>);

/// The key of a flow in the tiers: (transport, server port) for TCP and
/// UDP with a port, (transport, none) for other transports; `None` for
/// TCP or UDP without a port.
fn key_of(it: &PoolItem<'_>) -> Option<(u8, Option<u16>)> {
    let t = it.example.transport;
    match t {
        6 | 17 if it.example.server_port == 0 => None,
        6 | 17 => Some((t, Some(it.example.server_port))),
        _ => Some((t, None)),
    }
}

/// What a match of a tier rule of `protocol` on `class` says: weak labels
/// of the protocol count for it.
fn tier_verdict(class: &Class, protocol: &str, w: f64) -> Verdict {
    match class {
        Class::Labelled(p) | Class::Weak(p) if p == protocol => Verdict::True,
        Class::Labelled(_) => Verdict::False(1.0),
        Class::Weak(_) | Class::Unlabelled => Verdict::False(w),
    }
}

/// Learns the tiers from the flows of `pool` that none of `decided` (byte
/// and feature rules; port-class rules are ignored) names, and where that
/// keeps nothing for a key, from every flow on the key.
pub fn learn(
    pool: &Pool<'_>,
    decided: &[Signature],
    opts: &MineOptions,
) -> (Vec<Signature>, Vec<TierRule>) {
    let prepared: Vec<Prepared<'_>> = decided
        .iter()
        .filter(|s| Confidence::of(s) != Confidence::Port)
        .map(Prepared::new)
        .collect();
    let mut by_key: BTreeMap<(u8, Option<u16>), KeyFlows<'_, '_>> = BTreeMap::new();
    let decided_by: Vec<bool> = pool
        .items
        .par_iter()
        .map(|it| prepared.iter().any(|p| p.matches(it.example)))
        .collect();
    for (it, &named) in pool.items.iter().zip(&decided_by) {
        if let Some(k) = key_of(it) {
            let (residual, all) = by_key.entry(k).or_default();
            if !named {
                residual.push(it);
            }
            all.push(it);
        }
    }
    // A key is learnt from the flows no byte or feature rule names; when
    // that fails (the rules above name most of the key's training flows,
    // so few are left, or the rest is mixed), from every flow on the key:
    // the fallback that catches what the byte rules miss on other
    // captures, measured against everything on the port.
    let results: Vec<(Vec<Signature>, Vec<TierRule>)> = by_key
        .par_iter()
        .map(|(&(t, port), (residual, all))| {
            let first = (!residual.is_empty()).then(|| learn_key(pool, t, port, residual, opts));
            if first
                .as_ref()
                .is_some_and(|(_, r)| r.iter().all(|r| r.verdict.is_ok()) && !r.is_empty())
                || residual.len() == all.len()
            {
                return first.unwrap_or_default();
            }
            let second = learn_key(pool, t, port, all, opts);
            if second.1.iter().any(|r| r.verdict.is_ok()) {
                second
            } else {
                first.unwrap_or(second)
            }
        })
        .collect();
    let mut sigs = Vec::new();
    let mut rules = Vec::new();
    for (s, r) in results {
        sigs.extend(s);
        rules.extend(r);
    }
    (sigs, rules)
}

fn learn_key(
    pool: &Pool<'_>,
    t: u8,
    port: Option<u16>,
    items: &[&PoolItem<'_>],
    opts: &MineOptions,
) -> (Vec<Signature>, Vec<TierRule>) {
    let w = opts.unlabelled_weight;
    // The protocol named most on the key (weak labels included).
    let mut votes: BTreeMap<&str, f64> = BTreeMap::new();
    for it in items {
        if let Class::Labelled(p) | Class::Weak(p) = it.class {
            *votes.entry(p.as_str()).or_default() += it.weight;
        }
    }
    let Some((&protocol, _)) = votes
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
    else {
        return (Vec::new(), Vec::new());
    };
    let mut m = Measure::new(1);
    let one = Rotations::single(pool);
    for it in items {
        m.record(it, &one, tier_verdict(it.class, protocol, w));
    }
    let service = opts
        .assigned
        .service(t, port)
        .filter(|(p, _)| *p == protocol)
        .map(|(_, s)| s.to_owned());
    let evidence = if service.is_some() {
        Evidence::with_assignment(
            &m.per_capture(),
            opts.gate.min_precision,
            opts.gate.per_capture,
        )
    } else {
        Evidence::leave_one_capture_out(
            &m.per_capture(),
            opts.min_support,
            opts.gate.min_precision,
            opts.gate.per_capture,
        )
    };
    let verdict = opts.gate.verdict(&evidence);
    let mut sigs = Vec::new();
    if verdict.is_ok() {
        let mut s = Signature::new(protocol);
        s.transport = Transport::from_number(t);
        s.ports = port.map_or_else(PortSet::any, PortSet::single);
        s.support = m.total().tp.round() as u64;
        s.provenance = Provenance {
            source: Some(opts.source.clone()),
            precision: evidence.precision().map(round4),
            true_positives: Some(evidence.tp.round() as u64),
            false_positives: Some(evidence.fp.round() as u64),
            note: Some(format!(
                "{}{}",
                if port.is_some() {
                    "port tier"
                } else {
                    "transport tier"
                },
                service
                    .as_deref()
                    .map(|s| format!("; assigned: {s}"))
                    .unwrap_or_default()
            )),
        };
        sigs.push(s);
    }
    let rule = TierRule {
        transport: t,
        port,
        protocol: protocol.to_owned(),
        captures: m.per_capture().len(),
        evidence,
        verdict,
        assigned: service,
    };
    (sigs, vec![rule])
}
