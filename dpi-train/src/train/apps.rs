//! Application rules learnt from host names: `hostname suffix S → app A`
//! from nDPI's `Master.App` labels and our flows' host names
//! ([`dpi_core::Metadata::hostname`]), under the held-out gate of every
//! learnt rule ([`super::evidence`]).
//!
//! The statistics are the [`HostCount`]s of the partial: per capture,
//! host name and reference verdict (application, DPI confidence or not),
//! the number of flows. For a candidate `S → A`, over the training flows
//! whose host name is `S` or lies below it:
//!
//! - a **true positive** is a flow nDPI labels by DPI with application
//!   `A`;
//! - a **false positive** is a flow nDPI labels by DPI with another
//!   application or with none, or one it labels otherwise (by port, by
//!   IP) with another application;
//! - a flow nDPI labels otherwise with `A` or with no application is
//!   neither;
//! - a flow on which a rule above (the hand-written or base application
//!   rules) outranks `S` — an exact name, or a longer suffix — is left
//!   out: that rule, not `S`, decides it.
//!
//! The counts per capture go through
//! [`Evidence::leave_one_capture_out`] and [`Gate::verdict`](super::evidence::Gate::verdict):
//! a suffix seen in one capture only has no evidence, however many flows
//! it names.
//!
//! Candidates of `A` are the suffixes of its hosts at label boundaries,
//! tried shortest first: the registrable-looking domain (`youtube.com`)
//! before `www.youtube.com`; a candidate under a suffix already kept for
//! `A` is skipped, and so is one whose flows the rules above already give
//! `A` (it would add nothing). Never a candidate: a single label (`com`),
//! a two-label name under a country code whose first label is a generic
//! second level (`co.uk`, `com.au`, `ne.jp`: public suffixes in
//! practice), a host that is an IP address literal. Kept rules that share
//! their registrable domain with flows of other applications are flagged
//! in the report (a shared host such as a CDN's: precise on this corpus,
//! worth a look).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use dpi_core::signature::{normalise_host, AppRule, HostMatch, Provenance, SignatureSet};
use dpi_core::{Classifier, FlowView, Metadata};

use super::evidence::Evidence;
use super::mine::{round4, MineOptions};
use super::partial::{HostCount, Partial};
use super::score::Counts;
use crate::record::{transport_number, FlowRecord};

/// The note written on every learnt application rule.
pub const NOTE: &str = "host suffix";

/// The server name of one of our flows as application rules see it
/// ([`Metadata::server_name`], normalised: ASCII lower case, no trailing
/// dot), read from all the bytes the record holds; `None` when the flow
/// has none.
pub fn host_of(rec: &FlowRecord) -> Option<String> {
    let transport = transport_number(&rec.transport)?;
    let c2s = super::example::unhex(&rec.c2s_payload)?;
    let s2c = super::example::unhex(&rec.s2c_payload)?;
    if c2s.is_empty() && s2c.is_empty() {
        return None;
    }
    let view = FlowView::new(transport, rec.dst_port)
        .with_client_port(rec.src_port)
        .with_c2s(&c2s)
        .with_s2c(&s2c);
    let meta = view.metadata();
    let host = normalise_host(meta.server_name()?).into_owned();
    (!host.is_empty()).then_some(host)
}

/// Whether `suffix` may become a rule at all: two labels or more, not an
/// IP address, not a two-label public suffix in practice (a generic
/// second level under a two-letter country code: `co.uk`, `com.br`).
pub fn registrable(suffix: &str) -> bool {
    let labels: Vec<&str> = suffix.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return false;
    }
    if suffix.parse::<IpAddr>().is_ok() || labels.iter().all(|l| l.parse::<u8>().is_ok()) {
        return false;
    }
    if labels.len() == 2 && public_second_level(labels[0], labels[1]) {
        return false;
    }
    true
}

/// `second.tld` under a country code where `second` is one of the generic
/// second levels many registries use (commercial, network, organisation,
/// government, education, academic).
fn public_second_level(second: &str, tld: &str) -> bool {
    const GENERIC: [&str; 14] = [
        "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nic", "ltd",
    ];
    tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()) && GENERIC.contains(&second)
}

/// The registrable-looking domain of `host`: its last two labels, or
/// three under a public second level.
pub fn registrable_domain(host: &str) -> &str {
    let dots: Vec<usize> = host.match_indices('.').map(|(i, _)| i).collect();
    // The last `labels` labels of the host.
    let take = |labels: usize| -> &str {
        if dots.len() < labels {
            host
        } else {
            &host[dots[dots.len() - labels] + 1..]
        }
    };
    let two = take(2);
    match two.split_once('.') {
        Some((a, b)) if public_second_level(a, b) => take(3),
        _ => two,
    }
}

/// The longest host name learnt from, in characters (a DNS name in text
/// form without its trailing dot, RFC 1035 section 2.3.4).
const MAX_HOST_NAME: usize = 253;

/// The suffixes of `host` at label boundaries, longest first (the host
/// itself first).
fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    std::iter::once(host).chain(host.match_indices('.').map(move |(i, _)| &host[i + 1..]))
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct SuffixOutcome {
    /// The application.
    pub app: String,
    /// The suffix.
    pub suffix: String,
    /// Its held-out evidence.
    pub evidence: Evidence,
    /// Captures with flows under the suffix that count (true or false
    /// positives).
    pub captures: usize,
    /// Training flows under the suffix labelled `app` by DPI (all captures).
    pub support: f64,
    /// Kept, or why not.
    pub verdict: Result<(), String>,
    /// Why a kept rule deserves a look (empty when none).
    pub flags: Vec<String>,
}

/// Figures of the host name statistics, for the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppSummary {
    /// Training flows with a host name.
    pub host_flows: u64,
    /// Flows nDPI labels by DPI with an application.
    pub app_flows: u64,
    /// Of those, flows without a host name.
    pub app_flows_without_host: u64,
    /// Applications nDPI names by DPI on flows with a host name.
    pub apps: usize,
    /// Of those, applications seen in one capture only (no rule can have
    /// held-out evidence), and their flows.
    pub apps_one_capture: usize,
    /// Flows of the applications seen in one capture only.
    pub flows_one_capture: u64,
    /// Candidates skipped because the rules above already give their
    /// flows the application.
    pub named_above: usize,
}

/// What the application learner did.
#[derive(Debug, Clone, Default)]
pub struct AppLearning {
    /// The rules kept, in (application, suffix) order.
    pub rules: Vec<AppRule>,
    /// Every candidate measured (kept or refused), in the order tried.
    pub outcomes: Vec<SuffixOutcome>,
    /// The statistics' figures.
    pub summary: AppSummary,
}

/// One host name's flows of one capture with one verdict.
struct Obs<'a> {
    capture: u32,
    host: &'a str,
    app: Option<&'a str>,
    dpi: bool,
    flows: f64,
}

/// The rules above, for what they decide on a host name.
struct Above {
    classifier: Option<Classifier>,
    rules: Vec<AppRule>,
}

impl Above {
    fn new(set: &SignatureSet) -> Above {
        // Host names only: transport and port conditions are dropped (the
        // statistics carry neither), so a rule counts wherever it could hold.
        let rules: Vec<AppRule> = set
            .apps
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.transport = dpi_core::signature::Transport::Any;
                r.ports = dpi_core::signature::PortSet::any();
                r.alpn.clear();
                r.ja4.clear();
                r
            })
            .filter(|r| r.hostname.is_some())
            .collect();
        let set = SignatureSet {
            apps: rules.clone(),
            ..SignatureSet::default()
        };
        Above {
            classifier: Classifier::new(&set).ok().filter(|_| !rules.is_empty()),
            rules,
        }
    }

    /// The rule above that decides `host`: its application and its rank
    /// against a suffix (`Some(len)`: a suffix of that length; `None`:
    /// an exact name, which outranks every suffix; a regex outranks none).
    fn decides(&self, host: &str) -> Option<(&str, Rank)> {
        let c = self.classifier.as_ref()?;
        let meta = Metadata {
            hostname: Some(host.to_owned()),
            ..Metadata::default()
        };
        let r = &self.rules[c.application(6, 443, &meta)?];
        let rank = match &r.hostname {
            Some(HostMatch::Exact(_)) => Rank::Exact,
            Some(HostMatch::Suffix(v)) => Rank::Suffix(
                v.iter()
                    .filter(|s| HostMatch::Suffix(vec![s.to_string()]).matches(host))
                    .map(|s| s.len())
                    .max()
                    .unwrap_or(0),
            ),
            _ => Rank::Weak,
        };
        Some((&r.app, rank))
    }
}

#[derive(Clone, Copy)]
enum Rank {
    Exact,
    Suffix(usize),
    Weak,
}

impl Rank {
    /// Whether the rule outranks a suffix of `len` bytes.
    fn outranks(self, len: usize) -> bool {
        match self {
            Rank::Exact => true,
            Rank::Suffix(l) => l > len,
            Rank::Weak => false,
        }
    }
}

/// Learns `hostname suffix → app` rules from the host statistics of
/// `partial`, below the application rules of `above` (see the module
/// docs).
pub fn learn(partial: &Partial, above: &SignatureSet, opts: &MineOptions) -> AppLearning {
    let mut out = AppLearning::default();
    // Captures are counted by source: near-duplicates are one. Flows per
    // (source, host, application, DPI): the captures of one source count
    // together, and captures of equal content are one entry that counts
    // each of them.
    let sources = partial.sources();
    let contents = partial.contents();
    let mut per_source: BTreeMap<(&str, &str, Option<&str>, bool), u64> = BTreeMap::new();
    for (id, content) in contents.iter() {
        let src = sources
            .of_content
            .get(id)
            .map_or(content.first.as_str(), String::as_str);
        for h in &content.hosts {
            let n = per_source
                .entry((src, h.host.as_str(), h.app.as_deref(), h.dpi))
                .or_insert(0);
            *n = n.saturating_add(h.flows.saturating_mul(content.captures));
        }
    }
    let captures: Vec<&str> = {
        let set: BTreeSet<&str> = per_source.keys().map(|k| k.0).collect();
        set.into_iter().collect()
    };
    let mut obs: Vec<Obs<'_>> = Vec::new();
    for ((src, host, app, dpi), flows) in &per_source {
        let (host, app, dpi, flows) = (*host, *app, *dpi, *flows);
        let named_app = app.filter(|a| !a.is_empty());
        if dpi && named_app.is_some() {
            out.summary.app_flows = out.summary.app_flows.saturating_add(flows);
            if host.is_empty() {
                out.summary.app_flows_without_host =
                    out.summary.app_flows_without_host.saturating_add(flows);
            }
        }
        // A host name longer than DNS allows (RFC 1035: 253 characters in
        // text form) names no domain a suffix rule could stand for, and each
        // of its labels would be a candidate: left out, so that the work per
        // name stays bounded.
        if host.is_empty() || host.len() > MAX_HOST_NAME {
            continue;
        }
        out.summary.host_flows = out.summary.host_flows.saturating_add(flows);
        obs.push(Obs {
            capture: captures.binary_search(src).unwrap_or(0) as u32,
            host,
            app: named_app,
            dpi,
            flows: flows as f64,
        });
    }
    // The flows under each suffix (every label boundary of every host).
    let mut under: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, o) in obs.iter().enumerate() {
        for s in suffixes(o.host) {
            under.entry(s).or_default().push(i);
        }
    }
    // Per application: its captures, flows and candidate suffixes.
    let mut apps: BTreeMap<&str, (BTreeSet<u32>, f64, BTreeSet<&str>)> = BTreeMap::new();
    for o in &obs {
        let (Some(app), true) = (o.app, o.dpi) else {
            continue;
        };
        let e = apps.entry(app).or_default();
        e.0.insert(o.capture);
        e.1 += o.flows;
        for s in suffixes(o.host) {
            if registrable(s) {
                e.2.insert(s);
            }
        }
    }
    out.summary.apps = apps.len();
    for (caps, flows, _) in apps.values() {
        if caps.len() == 1 {
            out.summary.apps_one_capture += 1;
            out.summary.flows_one_capture =
                out.summary.flows_one_capture.saturating_add(*flows as u64);
        }
    }
    let above = Above::new(above);
    let decided: Vec<Option<(&str, Rank)>> = obs.iter().map(|o| above.decides(o.host)).collect();
    for (app, (_, _, candidates)) in &apps {
        let mut ordered: Vec<&str> = candidates.iter().copied().collect();
        ordered.sort_by_key(|s| (s.matches('.').count(), s.len(), *s));
        let mut kept: Vec<&str> = Vec::new();
        for suffix in ordered {
            if kept
                .iter()
                .any(|k| HostMatch::Suffix(vec![k.to_string()]).matches(suffix))
            {
                continue;
            }
            let flows = under.get(suffix).map_or(&[][..], Vec::as_slice);
            let mut per_capture: BTreeMap<u32, Counts> = BTreeMap::new();
            let (mut adds, mut support, mut named) = (0.0, 0.0, 0.0);
            for &i in flows {
                let o = &obs[i];
                let positive = o.dpi && o.app == Some(*app);
                if positive {
                    named += o.flows;
                }
                if decided[i].is_some_and(|(_, r)| r.outranks(suffix.len())) {
                    continue;
                }
                let c = per_capture.entry(o.capture).or_default();
                match (o.dpi, o.app) {
                    (true, Some(_)) if positive => {
                        c.tp += o.flows;
                        support += o.flows;
                        if decided[i].is_none_or(|(d, _)| d != *app) {
                            adds += o.flows;
                        }
                    }
                    (true, _) => c.fp += o.flows,
                    (false, Some(a)) if a != *app => c.fp += o.flows,
                    (false, _) => {}
                }
            }
            per_capture.retain(|_, c| c.tp + c.fp > 0.0);
            if named > 0.0 && adds == 0.0 {
                out.summary.named_above += 1;
                continue;
            }
            let evidence = Evidence::leave_one_capture_out(
                &per_capture,
                opts.min_support,
                opts.gate.min_precision,
                opts.gate.per_capture,
            );
            let verdict = opts.gate.verdict(&evidence);
            let mut flags = Vec::new();
            if verdict.is_ok() {
                kept.push(suffix);
                let domain = registrable_domain(suffix);
                let others: f64 = under
                    .get(domain)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|&i| &obs[i])
                    .filter(|o| o.dpi && o.app != Some(*app))
                    .map(|o| o.flows)
                    .sum();
                if others > 0.0 {
                    flags.push(format!(
                        "{domain} also holds {others:.0} flows of other applications or of none"
                    ));
                }
                let mut rule = AppRule::new(*app);
                rule.hostname = Some(HostMatch::Suffix(vec![suffix.to_owned()]));
                rule.support = support.round() as u64;
                rule.provenance = Provenance {
                    source: Some(opts.source.clone()),
                    precision: evidence.precision().map(round4),
                    true_positives: Some(evidence.tp.round() as u64),
                    false_positives: Some(evidence.fp.round() as u64),
                    note: Some(NOTE.to_owned()),
                };
                out.rules.push(rule);
            }
            out.outcomes.push(SuffixOutcome {
                app: (*app).to_owned(),
                suffix: suffix.to_owned(),
                evidence,
                captures: per_capture.len(),
                support,
                verdict,
                flags,
            });
        }
    }
    out
}

/// The host statistics of one aligned flow: its normalised host name (or
/// empty) and the first reference's application verdict, when the flow is
/// worth counting (a host name, or an application named by DPI). `ndpi`
/// is whether the first reference is nDPI (only nDPI names applications).
pub fn host_entry(
    rec: &FlowRecord,
    label: Option<&crate::align::RefLabel>,
    ndpi: bool,
) -> Option<(String, Option<String>, bool)> {
    let l = label.filter(|_| ndpi)?;
    let dpi = l
        .confidence
        .as_deref()
        .is_some_and(|c| c.starts_with("DPI"));
    let app = l.app.clone().filter(|a| !a.is_empty());
    let host = host_of(rec);
    if host.is_none() && !(dpi && app.is_some()) {
        return None;
    }
    Some((host.unwrap_or_default(), app, dpi))
}

/// Counts the host statistics of `rec` into `partial` under `capture`.
pub fn count_host(
    partial: &mut Partial,
    capture: &str,
    rec: &FlowRecord,
    label: Option<&crate::align::RefLabel>,
    ndpi: bool,
) {
    if let Some((host, app, dpi)) = host_entry(rec, label, ndpi) {
        partial.add_host(capture, &host, app.as_deref(), dpi);
    }
}

/// The report section of the application learner.
pub fn report(s: &mut String, l: &AppLearning) {
    use std::fmt::Write as _;
    let m = &l.summary;
    let _ = writeln!(
        s,
        "\napplications from host names (hostname suffix -> nDPI's application; same held-out gate)"
    );
    let _ = writeln!(
        s,
        "training flows with a host name: {}; flows nDPI labels by DPI with an application: {}, of which {} have no host name; applications on flows with a host name: {}, of which {} are in one capture only ({} flows: no held-out evidence possible); candidates the rules above name already: {}",
        m.host_flows,
        m.app_flows,
        m.app_flows_without_host,
        m.apps,
        m.apps_one_capture,
        m.flows_one_capture,
        m.named_above
    );
    let kept: Vec<&SuffixOutcome> = l.outcomes.iter().filter(|o| o.verdict.is_ok()).collect();
    let _ = writeln!(
        s,
        "kept {} suffix rules for {} applications; {} candidates refused",
        kept.len(),
        kept.iter().map(|o| &o.app).collect::<BTreeSet<_>>().len(),
        l.outcomes.len() - kept.len()
    );
    let _ = writeln!(
        s,
        "  {:<22} {:<40} {:>9} {:>6} {:>5} {:>8} {:>6} {:>6}  flags",
        "application", "suffix", "precision", "tp", "fp", "captures", "capped", "bound"
    );
    let z = super::evidence::Gate::default().z();
    for o in &kept {
        let e = &o.evidence;
        let _ = writeln!(
            s,
            "  {:<22} {:<40} {:>9.4} {:>6.0} {:>5.0} {:>8} {:>6.1} {:>6.3}  {}",
            o.app,
            o.suffix,
            e.precision().unwrap_or(0.0),
            e.tp,
            e.fp,
            e.captures,
            e.capped_tp,
            e.lower_bound(z),
            o.flags.join("; ")
        );
    }
    let _ = writeln!(
        s,
        "refused, per application its shortest candidate (of {} refused):",
        l.outcomes.len() - kept.len()
    );
    let mut seen = BTreeSet::new();
    for o in l.outcomes.iter().filter(|o| o.verdict.is_err()) {
        if !seen.insert(&o.app) {
            continue;
        }
        if let Err(why) = &o.verdict {
            let _ = writeln!(
                s,
                "  {:<22} {:<40} {:>6.0} flows in {} captures: {why}",
                o.app, o.suffix, o.support, o.captures
            );
        }
    }
}

/// The host counts of `partial` for one capture whose name it still
/// knows (see [`Partial::capture_names`]; for tests and tools).
pub fn hosts_of(partial: &Partial, capture: &str) -> Vec<HostCount> {
    partial
        .content_of(capture)
        .map_or_else(Vec::new, |c| c.hosts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::Settings;

    fn partial(entries: &[(&str, &str, Option<&str>, bool, u64)]) -> Partial {
        let mut p = Partial::new(Settings {
            references: vec!["ndpi".into()],
            bytes: 512,
            sample: 16,
            folds: 4,
        });
        for &(cap, host, app, dpi, n) in entries {
            for i in 0..n {
                p.add_host(cap, host, app, dpi);
                // Each capture's flows of its own.
                let fp = crate::train::hash::hash_fields(&[
                    cap.as_bytes(),
                    host.as_bytes(),
                    &i.to_le_bytes(),
                ]);
                p.add_fingerprint(cap, fp);
            }
        }
        p
    }

    fn kept(l: &AppLearning) -> Vec<(String, String)> {
        l.rules
            .iter()
            .map(|r| {
                let Some(HostMatch::Suffix(v)) = &r.hostname else {
                    panic!("a suffix rule")
                };
                (r.app.clone(), v[0].clone())
            })
            .collect()
    }

    #[test]
    fn registrable_suffixes() {
        for (s, want) in [
            ("youtube.com", true),
            ("com", false),
            ("co.uk", false),
            ("bbc.co.uk", true),
            ("com.br", false),
            ("ne.jp", false),
            ("10.0.0.1", false),
            ("250.153", false),
            ("dns.google", true),
        ] {
            assert_eq!(registrable(s), want, "{s}");
        }
        assert_eq!(registrable_domain("a.b.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(registrable_domain("m.youtube.com"), "youtube.com");
        assert_eq!(registrable_domain("localhost"), "localhost");
    }

    #[test]
    fn shortest_precise_suffix_with_evidence_from_two_captures() {
        let p = partial(&[
            ("a", "www.youtube.com", Some("YouTube"), true, 3),
            ("b", "m.youtube.com", Some("YouTube"), true, 2),
            ("c", "i.ytimg.com", Some("YouTube"), true, 5),
            // one capture only: no evidence
            ("d", "x.onlyhere.net", Some("Lonely"), true, 50),
        ]);
        let l = learn(&p, &SignatureSet::default(), &MineOptions::default());
        assert_eq!(
            kept(&l),
            vec![("YouTube".to_string(), "youtube.com".to_string())]
        );
        assert_eq!(l.rules[0].support, 5);
        assert_eq!(l.summary.apps_one_capture, 1);
        assert!(l
            .outcomes
            .iter()
            .any(|o| o.suffix == "onlyhere.net" && o.verdict.is_err()));
    }

    #[test]
    fn copies_of_a_capture_are_one_source() {
        let mut p = partial(&[("a", "x.onlyhere.net", Some("Lonely"), true, 3)]);
        // The same flows under two other names.
        for c in ["r1-a", "r2-a"] {
            for i in 0..3u64 {
                p.add_host(c, "x.onlyhere.net", Some("Lonely"), true);
                let fp =
                    crate::train::hash::hash_fields(&[b"a", b"x.onlyhere.net", &i.to_le_bytes()]);
                p.add_fingerprint(c, fp);
            }
        }
        assert_eq!(p.capture_count(), 3);
        assert_eq!(p.contents().len(), 1);
        let l = learn(&p, &SignatureSet::default(), &MineOptions::default());
        assert!(kept(&l).is_empty());
        assert_eq!(l.summary.apps_one_capture, 1);
        assert_eq!(l.summary.host_flows, 9);
    }

    #[test]
    fn false_positives_push_to_longer_suffixes() {
        let p = partial(&[
            ("a", "www.google.com", Some("Google"), true, 2),
            ("b", "www.google.com", Some("Google"), true, 2),
            ("a", "play.google.com", Some("PlayStore"), true, 2),
            ("b", "play.google.com", Some("PlayStore"), true, 2),
            // a flow without application by DPI under the domain is against
            ("c", "other.google.com", None, true, 1),
            // by port with the same app: neither for nor against
            ("c", "www.google.com", Some("Google"), false, 9),
        ]);
        let l = learn(&p, &SignatureSet::default(), &MineOptions::default());
        let mut k = kept(&l);
        k.sort();
        assert_eq!(
            k,
            vec![
                ("Google".to_string(), "www.google.com".to_string()),
                ("PlayStore".to_string(), "play.google.com".to_string()),
            ]
        );
        // google.com does not stand without either capture: its false
        // positives (PlayStore, no application) sink it.
        assert!(l.outcomes.iter().any(|o| o.suffix == "google.com"
            && o.app == "Google"
            && o.verdict.as_ref().is_err_and(|e| e.contains("fp 5"))));
        // Kept rules under a shared domain are flagged.
        assert!(l
            .outcomes
            .iter()
            .filter(|o| o.verdict.is_ok())
            .all(|o| !o.flags.is_empty()));
    }

    #[test]
    fn rules_above_take_their_flows() {
        let p = partial(&[
            ("a", "www.google.com", Some("Google"), true, 2),
            ("b", "www.google.com", Some("Google"), true, 2),
            ("a", "play.google.com", Some("PlayStore"), true, 2),
            ("b", "play.google.com", Some("PlayStore"), true, 2),
        ]);
        let above = dpi_core::signature::parse_extended(
            "rule p\n  app PlayStore\n  hostname exact play.google.com\nend\n",
            "h.rules",
        )
        .unwrap();
        let l = learn(&p, &above, &MineOptions::default());
        // The exact rule decides play.google.com: google.com is precise on the
        // rest; both PlayStore candidates (google.com, play.google.com) would
        // add nothing.
        assert_eq!(
            kept(&l),
            vec![("Google".to_string(), "google.com".to_string())]
        );
        assert_eq!(l.summary.named_above, 2);
    }
}
