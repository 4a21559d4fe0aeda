//! Cumulative signature sets: identity, merging, and the provenance
//! comments that let std.sig carry what it has no field for.
//!
//! Two signatures are the same rule when everything but their support,
//! provenance, comments, id and location is equal ([`identity`]).
//! [`merge_sets`] unites sets: the same rule appears once, its support is
//! the sum, its held-out true and false positives add up (precision is
//! recomputed from them), its sources are united. The result is sorted by
//! protocol and identity, so merging is associative and commutative.
//! Application rules merge the same way ([`app_identity`]), sorted by
//! application and identity.

use std::collections::{BTreeMap, BTreeSet};

use dpi_core::signature::{to_extended, AppRule, Provenance, Signature, SignatureSet, StdQuoting};

/// The prefix of the comment line that carries a signature's provenance
/// in std.sig.
pub const PROVENANCE_PREFIX: &str = "# dpi-train:";

fn normalised(sig: &Signature) -> Signature {
    let mut s = sig.clone();
    s.id = None;
    s.location = None;
    s.comments.clear();
    s.support = 0;
    s.provenance = Provenance::default();
    s.std_quoting = StdQuoting::default();
    s
}

/// The identity of a rule: its conditions, protocol, app, priority and
/// flags, as extended-format text.
pub fn identity(sig: &Signature) -> String {
    to_extended(&SignatureSet {
        signatures: vec![normalised(sig)],
        ..SignatureSet::default()
    })
}

fn normalised_app(rule: &AppRule) -> AppRule {
    let mut r = rule.clone();
    r.id = None;
    r.location = None;
    r.comments.clear();
    r.support = 0;
    r.provenance = Provenance::default();
    r
}

/// The identity of an application rule: its conditions, application,
/// protocol and priority, as extended-format text.
pub fn app_identity(rule: &AppRule) -> String {
    to_extended(&SignatureSet {
        apps: vec![normalised_app(rule)],
        ..SignatureSet::default()
    })
}

/// An application rule in one line, for reports.
pub fn describe_app(rule: &AppRule) -> String {
    one_line(&app_identity(rule))
}

/// A rule's identity (its lines in the extended format) in one line.
fn one_line(identity: &str) -> String {
    identity
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "rule" && *l != "end")
        .collect::<Vec<_>>()
        .join("; ")
}

/// The id two records of one rule keep: the lesser of two, else the one
/// there is.
fn merge_id(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y).clone()),
        (x, y) => x.clone().or_else(|| y.clone()),
    }
}

/// The comments two records of one rule keep: those of both that are not
/// blank and that `keep` takes, once each, sorted.
fn merge_comments(a: &[String], b: &[String], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let comments: BTreeSet<&String> = a
        .iter()
        .chain(b)
        .filter(|c| !c.trim().is_empty() && keep(c))
        .collect();
    comments.into_iter().cloned().collect()
}

/// Merges two records of the same application rule.
fn merge_app_pair(a: &AppRule, b: &AppRule) -> AppRule {
    let mut r = a.clone();
    r.location = None;
    r.id = merge_id(&a.id, &b.id);
    r.comments = merge_comments(&a.comments, &b.comments, |_| true);
    r.support = a.support.saturating_add(b.support);
    r.provenance = merge_provenance(&a.provenance, &b.provenance);
    r
}

/// A rule in one line, for reports.
pub fn describe(sig: &Signature) -> String {
    one_line(&identity(sig))
}

fn merge_source(a: &Option<String>, b: &Option<String>) -> Option<String> {
    let set: BTreeSet<&str> = [a, b]
        .into_iter()
        .flatten()
        .flat_map(|s| s.split('+'))
        .filter(|s| !s.is_empty())
        .collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join("+"))
}

fn merge_note(a: &Option<String>, b: &Option<String>) -> Option<String> {
    let set: BTreeSet<&str> = [a, b]
        .into_iter()
        .flatten()
        .flat_map(|s| s.split("; "))
        .filter(|s| !s.is_empty())
        .collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join("; "))
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(0).saturating_add(y.unwrap_or(0))),
    }
}

/// Merges the provenance of two records of the same rule.
pub fn merge_provenance(a: &Provenance, b: &Provenance) -> Provenance {
    let tp = add_opt(a.true_positives, b.true_positives);
    let fp = add_opt(a.false_positives, b.false_positives);
    let precision = if tp.is_some() || fp.is_some() {
        let (t, f) = (tp.unwrap_or(0), fp.unwrap_or(0));
        let n = t.saturating_add(f);
        (n > 0).then(|| t as f64 / n as f64)
    } else {
        match (a.precision, b.precision) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    };
    Provenance {
        source: merge_source(&a.source, &b.source),
        precision: precision.map(|p| (p * 10_000.0).round() / 10_000.0),
        true_positives: tp,
        false_positives: fp,
        note: merge_note(&a.note, &b.note),
    }
}

/// Merges two records of the same rule.
pub fn merge_pair(a: &Signature, b: &Signature) -> Signature {
    let mut s = a.clone();
    s.location = None;
    s.id = merge_id(&a.id, &b.id);
    s.comments = merge_comments(&a.comments, &b.comments, |c| {
        !c.starts_with(PROVENANCE_PREFIX)
    });
    s.support = a.support.saturating_add(b.support);
    s.provenance = merge_provenance(&a.provenance, &b.provenance);
    s.std_quoting = StdQuoting::default();
    s
}

/// Canonical form of a lone record: what merging would make of it.
fn canonical(sig: &Signature) -> Signature {
    merge_pair(sig, &normalised(sig))
}

/// Unites signature sets: one record per rule, support and held-out
/// counts added, sorted by (protocol, identity). Associative and
/// commutative.
pub fn merge_sets<'a>(sets: impl IntoIterator<Item = &'a SignatureSet>) -> SignatureSet {
    let mut by_id: BTreeMap<(String, String), Signature> = BTreeMap::new();
    let mut apps: BTreeMap<(String, String), AppRule> = BTreeMap::new();
    let mut trailing: BTreeSet<String> = BTreeSet::new();
    for set in sets {
        for rule in &set.apps {
            let key = (rule.app.clone(), app_identity(rule));
            match apps.get_mut(&key) {
                Some(have) => *have = merge_app_pair(have, rule),
                None => {
                    let lone = merge_app_pair(rule, &normalised_app(rule));
                    apps.insert(key, lone);
                }
            }
        }
        for sig in &set.signatures {
            let key = (sig.protocol.clone(), identity(sig));
            match by_id.get_mut(&key) {
                Some(have) => *have = merge_pair(have, sig),
                None => {
                    by_id.insert(key, canonical(sig));
                }
            }
        }
        trailing.extend(
            set.trailing_comments
                .iter()
                .filter(|c| !c.trim().is_empty())
                .cloned(),
        );
    }
    SignatureSet {
        signatures: by_id.into_values().collect(),
        apps: apps.into_values().collect(),
        trailing_comments: trailing.into_iter().collect(),
    }
}

/// The provenance comment of a signature written to std.sig, or `None`
/// when it has no provenance.
pub fn provenance_comment(p: &Provenance) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(s) = &p.source {
        parts.push(format!("source={s}"));
    }
    if let Some(x) = p.precision {
        parts.push(format!("precision={x}"));
    }
    if let Some(x) = p.true_positives {
        parts.push(format!("tp={x}"));
    }
    if let Some(x) = p.false_positives {
        parts.push(format!("fp={x}"));
    }
    if let Some(n) = &p.note {
        parts.push(format!("note={}", n.replace(' ', "_")));
    }
    Some(format!("{PROVENANCE_PREFIX} {}", parts.join(" ")))
}

/// Reads back a provenance comment written by [`provenance_comment`].
pub fn parse_provenance_comment(c: &str) -> Option<Provenance> {
    let rest = c.trim().strip_prefix(PROVENANCE_PREFIX)?;
    let mut p = Provenance::default();
    for w in rest.split_whitespace() {
        let (k, v) = w.split_once('=')?;
        match k {
            "source" => p.source = Some(v.to_owned()),
            // A precision is a share: NaN, infinities and values outside
            // 0..=1 are not read.
            "precision" => p.precision = v.parse::<f64>().ok().filter(|x| (0.0..=1.0).contains(x)),
            "tp" => p.true_positives = v.parse().ok(),
            "fp" => p.false_positives = v.parse().ok(),
            "note" => p.note = Some(v.replace('_', " ")),
            _ => {}
        }
    }
    Some(p)
}

/// Moves provenance comments (read from std.sig) into the model.
pub fn restore_provenance(set: &mut SignatureSet) {
    for s in &mut set.signatures {
        if let Some(i) = s
            .comments
            .iter()
            .position(|c| c.starts_with(PROVENANCE_PREFIX))
        {
            let c = s.comments.remove(i);
            if s.provenance.is_empty() {
                if let Some(p) = parse_provenance_comment(&c) {
                    s.provenance = p;
                }
            }
        }
    }
}

/// Splits a set into what std.sig can carry (provenance moved into a
/// comment) and the rest (application rules included), and writes both
/// texts: (std.sig, extended, number in std.sig, number in extended,
/// application rules counted).
pub fn split_outputs(set: &SignatureSet, header: &[String]) -> (String, String, usize, usize) {
    let mut std_set = SignatureSet::new();
    let mut ext_set = SignatureSet::new();
    for sig in &set.signatures {
        let mut s = sig.clone();
        s.comments.retain(|c| !c.starts_with(PROVENANCE_PREFIX));
        let mut plain = s.clone();
        plain.provenance = Provenance::default();
        plain.id = None;
        // std.sig gets only what argus's raservices reads as dpi does.
        if dpi_core::signature::argus_loadable(&plain).is_ok() {
            if let Some(c) = provenance_comment(&sig.provenance) {
                plain.comments.push(c);
            }
            std_set.signatures.push(plain);
        } else {
            ext_set.signatures.push(s);
        }
    }
    ext_set.apps = set.apps.clone();
    let head: String = header.iter().map(|h| format!("# {h}\n")).collect();
    let (std_text, left) = dpi_core::signature::to_std_sig(&std_set);
    debug_assert!(left.is_empty());
    let ext_text = to_extended(&ext_set);
    let (ns, ne) = (std_set.len(), ext_set.len() + ext_set.apps.len());
    (
        format!("{head}{std_text}"),
        format!("{head}{ext_text}"),
        ns,
        ne,
    )
}
