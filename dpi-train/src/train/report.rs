//! The training report (`OUT.sig.report.txt`): what was kept and refused,
//! per protocol, with the held-out figures and the evidence, the tiers,
//! where learnt rules disagree with the base set, and rules that look
//! accidental.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use dpi_core::signature::{PatternKind, Signature, SignatureSet};
use dpi_core::{Classifier, Confidence, FlowView};

use super::evidence::Evidence;
use super::example::{Class, Example};
use super::merge::describe;
use super::partial::Partial;
use super::score::Pool;
use super::{MineOptions, Trained};

/// Training flows on which a base rule and a learnt rule name different
/// protocols.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// The base rule that decides among the base set, in one line.
    pub base: String,
    /// Its protocol.
    pub base_protocol: String,
    /// The learnt rule that decides among the learnt set, in one line.
    pub learnt: String,
    /// Its protocol.
    pub learnt_protocol: String,
    /// Training flows (weighted) where both match and disagree.
    pub flows: f64,
    /// Of those, flows the reference labels with the base rule's protocol.
    pub base_right: f64,
    /// Of those, flows the reference labels with the learnt rule's protocol.
    pub learnt_right: f64,
}

fn view(e: &Example) -> FlowView<'_> {
    let mut v = FlowView::new(e.transport, e.server_port)
        .with_client_port(e.client_port)
        .with_c2s(&e.c2s)
        .with_s2c(&e.s2c)
        .with_packets(e.c2s_packets, e.s2c_packets)
        .with_first_sizes(e.c2s_first_size, e.s2c_first_size);
    v.first_payload = e.first_payload;
    v
}

/// Where the base set and the learnt rules, each on its own, name
/// different protocols for a training flow.
pub fn disagreements(
    partial: &Partial,
    base: &SignatureSet,
    learnt: &SignatureSet,
    unlabelled_weight: f64,
) -> Vec<Disagreement> {
    if base.is_empty() || learnt.is_empty() {
        return Vec::new();
    }
    let (Ok(cb), Ok(cl)) = (Classifier::new(base), Classifier::new(learnt)) else {
        return Vec::new();
    };
    let pool = Pool::new(partial, unlabelled_weight);
    let mut out: BTreeMap<(usize, usize), Disagreement> = BTreeMap::new();
    for it in &pool.items {
        let v = view(it.example);
        let b = cb.classify(&v);
        let l = cl.classify(&v);
        let (Some(bi), Some(li)) = (b.signature, l.signature) else {
            continue;
        };
        if b.protocol == l.protocol {
            continue;
        }
        let d = out.entry((bi, li)).or_insert_with(|| Disagreement {
            base: describe(&base.signatures[bi]),
            base_protocol: b.protocol.to_string(),
            learnt: describe(&learnt.signatures[li]),
            learnt_protocol: l.protocol.to_string(),
            flows: 0.0,
            base_right: 0.0,
            learnt_right: 0.0,
        });
        d.flows += it.weight;
        if let Class::Labelled(p) = it.class {
            if *p == *b.protocol {
                d.base_right += it.weight;
            } else if *p == *l.protocol {
                d.learnt_right += it.weight;
            }
        }
    }
    let mut v: Vec<Disagreement> = out.into_values().collect();
    v.sort_by(|a, b| b.flows.total_cmp(&a.flows).then(a.base.cmp(&b.base)));
    v
}

/// Top-level domains and names that, as a learnt literal, name a host
/// rather than a protocol.
const HOSTY: &[&str] = &[
    "localhost",
    ".com",
    ".net",
    ".org",
    ".edu",
    ".gov",
    ".int",
    ".io",
    ".info",
    ".biz",
    ".arpa",
    ".local",
    ".co.",
    ".de",
    ".uk",
    ".cn",
    ".ru",
    ".jp",
    ".fr",
    ".br",
    "www.",
];

/// DNS-encoded labels of the same names (`\x03com\x00`).
fn dns_label(name: &str) -> Vec<u8> {
    let n = name.trim_matches('.');
    let mut v = vec![n.len() as u8];
    v.extend_from_slice(n.as_bytes());
    v
}

/// Why a learnt rule looks accidental, if it does: a literal that names a
/// host (a top-level domain, `localhost`, `www.`), or a port rule on a
/// port the hand-written set gives to another protocol.
pub fn accidental(sig: &Signature, ports_of: &BTreeMap<u16, BTreeSet<String>>) -> Option<String> {
    for p in &sig.patterns {
        let bytes: Vec<u8> = match &p.kind {
            PatternKind::Literal { bytes, .. } => bytes.clone(),
            PatternKind::Masked { bytes, .. } => bytes
                .iter()
                .filter(|b| b.mask == 0xff)
                .map(|b| b.value)
                .collect(),
            PatternKind::Regex { source, .. } => source.as_bytes().to_vec(),
        };
        let lower = bytes.to_ascii_lowercase();
        for h in HOSTY {
            let dotted = h.as_bytes();
            let label = dns_label(h);
            let found = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
            if found(dotted) || (h.starts_with('.') && found(&label)) {
                return Some(format!("a literal naming a host ({})", h.trim_matches('.')));
            }
        }
    }
    if Confidence::of(sig) == Confidence::Port {
        for range in &sig.ports.ranges {
            for port in range.start..=range.end {
                if let Some(owners) = ports_of.get(&port) {
                    if !owners.contains(&sig.protocol) {
                        let list: Vec<&str> = owners.iter().map(String::as_str).collect();
                        return Some(format!(
                            "port {port} belongs to {} in the hand-written set",
                            list.join(", ")
                        ));
                    }
                }
                if port == u16::MAX {
                    break;
                }
            }
        }
    }
    None
}

/// The ports the hand-written rules name, with their protocols.
fn hand_ports() -> BTreeMap<u16, BTreeSet<String>> {
    let mut out: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    if let Ok(set) = crate::default_sigs::rules() {
        for s in &set.signatures {
            for r in &s.ports.ranges {
                if r.end.saturating_sub(r.start) > 64 {
                    continue;
                }
                for p in r.start..=r.end {
                    out.entry(p).or_default().insert(s.protocol.clone());
                }
            }
        }
    }
    out
}

fn evidence_text(ev: &Evidence, opts: &MineOptions) -> String {
    format!(
        "held-out precision {} tp {:.0} fp {:.0} captures {} counted {:.1} bound {:.3}",
        ev.precision().map_or("-".into(), |p| format!("{p:.4}")),
        ev.tp,
        ev.fp,
        ev.captures,
        ev.capped_tp,
        ev.lower_bound(opts.gate.z())
    )
}

const LEGEND: &str = "\
Legend
  examples   flows the reference labels with the protocol (DPI confidence for nDPI), per training fold
  captures   captures holding them (support is counted in captures as well as flows)
  cands      candidates measured over all rotations (a rotation holds one fold out and mines the others)
  mined      candidates precise enough on their mining folds
  chosen     candidates chosen (greedy cover of the protocol's flows) in some rotation
  kept       rules kept: held-out precision >= min precision, and the Wilson lower bound of the
             held-out precision (each held-out capture counting for at most `per capture` flows)
             >= min bound
  skipped    rotations skipped (no flow of the protocol in the held-out fold, or too few to mine)
  held-out precision / tp / fp   pooled over the rotations that chose the rule, on captures it
             was not mined from; fp counts other protocols' flows and, times the unlabelled
             weight, unlabelled or weakly labelled ones
  captures / counted / bound     held-out captures with a true positive, the capped count, and
             the lower bound of the precision
  n          training flows the rule names correctly (all folds): std.sig's `n =`
  assigned   (tiers) the registry of assigned ports and IP protocol numbers gives the key to
             the protocol, under this service name: it counts as one more confirming capture
  FLAG       the rule looks accidental (a literal naming a host, a port the hand-written set
             gives to another protocol): check it before shipping
";

/// The training summary: per protocol what was kept and refused and why.
pub fn report_text(partial: &Partial, t: &Trained, opts: &MineOptions) -> String {
    let mut s = String::new();
    let flows: u64 = partial.groups.iter().map(|g| g.total_flows()).sum();
    let labelled: u64 = partial
        .groups
        .iter()
        .filter(|g| matches!(g.key.class, Class::Labelled(_)))
        .map(|g| g.total_flows())
        .sum();
    let g = &opts.gate;
    let _ = writeln!(
        s,
        "training: {} captures, {flows} flows, {labelled} labelled; {} bytes per direction, {} folds; min support {}, min precision {}, bound at {:.0}% >= {} with at most {} flows per capture",
        partial.capture_count(),
        partial.settings.bytes,
        partial.settings.folds,
        opts.min_support,
        g.min_precision,
        g.confidence * 100.0,
        g.min_bound,
        g.per_capture,
    );
    let tier_kept = t.mined.tiers.iter().filter(|r| r.verdict.is_ok()).count();
    let _ = writeln!(
        s,
        "learnt {} signatures ({} in the transport and port tiers; {} already in the base) and {} application rules; base: {} kept, {} dropped; result {} signatures and {} application rules",
        t.mined.signatures.len(),
        tier_kept,
        t.refound,
        t.apps.rules.len(),
        t.base_kept,
        t.dropped.len(),
        t.set.len(),
        t.set.apps.len()
    );
    let _ = writeln!(s, "\n{LEGEND}");
    let _ = writeln!(
        s,
        "{:<26} {:<5} {:>24} {:>8} {:>6} {:>6} {:>6} {:>5} {:>7}",
        "protocol",
        "trans",
        "examples per fold",
        "captures",
        "cands",
        "mined",
        "chosen",
        "kept",
        "skipped"
    );
    for p in &t.mined.summaries {
        let per_fold: Vec<String> = p.examples.iter().map(|x| format!("{x:.0}")).collect();
        let _ = writeln!(
            s,
            "{:<26} {:<5} {:>24} {:>8} {:>6} {:>6} {:>6} {:>5} {:>7}",
            p.protocol,
            p.transport,
            per_fold.join("/"),
            p.captures,
            p.candidates,
            p.passed_mining,
            p.chosen,
            p.kept.len(),
            p.folds_skipped,
        );
    }
    let ports_of = hand_ports();
    let flag = |rule: &str| -> String {
        t.mined
            .signatures
            .iter()
            .find(|sig| describe(sig) == rule)
            .and_then(|sig| accidental(sig, &ports_of))
            .map_or(String::new(), |f| format!("  FLAG: {f}"))
    };
    let _ = writeln!(s, "\nPer protocol: kept and refused");
    for p in &t.mined.summaries {
        if p.kept.is_empty() && p.rejected.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{} ({}):", p.protocol, p.transport);
        for k in &p.kept {
            let _ = writeln!(
                s,
                "  kept     n={:.0} {}  [{}]{}",
                k.support,
                evidence_text(&k.evidence, opts),
                k.rule,
                flag(&k.rule)
            );
        }
        for r in &p.rejected {
            let _ = writeln!(s, "  refused  {}  [{}]", r.reason, r.rule);
        }
    }
    let never: Vec<String> = t
        .mined
        .summaries
        .iter()
        .filter(|p| p.kept.is_empty() && p.rejected.is_empty())
        .map(|p| {
            let why = if p.folds_skipped == p.examples.len() {
                "too few examples to mine, or all in one fold"
            } else if p.passed_mining == 0 {
                "no candidate precise enough on its mining folds"
            } else {
                "no candidate chosen"
            };
            format!("  {} ({}): {why}", p.protocol, p.transport)
        })
        .collect();
    if !never.is_empty() {
        let _ = writeln!(s, "\nNothing chosen:");
        for l in never {
            let _ = writeln!(s, "{l}");
        }
    }
    let _ = writeln!(
        s,
        "\nTransport and port tiers (flows no byte or feature rule names):"
    );
    for r in &t.mined.tiers {
        let key = match r.port {
            Some(p) => format!("{} port {p}", crate::record::transport_name(r.transport)),
            None => format!("transport {}", crate::record::transport_name(r.transport)),
        };
        let verdict = match &r.verdict {
            Ok(()) => "kept   ".to_owned(),
            Err(e) => format!("refused ({e})"),
        };
        let rule = match r.port {
            Some(p) => format!("{} {p}", crate::record::transport_name(r.transport)),
            None => crate::record::transport_name(r.transport).into_owned(),
        };
        let flagged = t
            .mined
            .signatures
            .iter()
            .find(|sig| {
                sig.protocol == r.protocol
                    && sig.patterns.is_empty()
                    && sig.features.is_empty()
                    && sig.transport.number() == Some(r.transport)
                    && r.port.is_some_and(|p| sig.ports.contains(p))
            })
            .and_then(|sig| accidental(sig, &ports_of))
            .map_or(String::new(), |f| format!("  FLAG: {f}"));
        let assigned = r
            .assigned
            .as_deref()
            .map_or(String::new(), |a| format!(" assigned {a}"));
        let _ = writeln!(
            s,
            "  {key:<16} -> {:<24} {verdict} captures {}{assigned} {}  [{rule}]{flagged}",
            r.protocol,
            r.captures,
            evidence_text(&r.evidence, opts),
        );
    }
    if !t.disagreements.is_empty() {
        let _ = writeln!(
            s,
            "\nWhere a learnt rule and a base rule name different protocols on training flows (learnt rules rank below the base set):"
        );
        for d in &t.disagreements {
            let _ = writeln!(
                s,
                "  {:.0} flows (reference agrees with base {:.0}, with learnt {:.0}): base {} [{}] vs learnt {} [{}]",
                d.flows, d.base_right, d.learnt_right, d.base_protocol, d.base, d.learnt_protocol, d.learnt
            );
        }
    }
    if !t.dropped.is_empty() {
        let _ = writeln!(s, "\nBase signatures dropped:");
        for d in &t.dropped {
            let _ = writeln!(s, "  {}  [{}]", d.reason, d.rule);
        }
    }
    if opts.apps {
        super::apps::report(&mut s, &t.apps);
    }
    s
}
