//! The application rules of a set, indexed for lookup by a flow's
//! protocol fields.
//!
//! - `hostname exact`: a hash map from the (lower-case) name to its rules.
//! - `hostname suffix`: a hash map from the suffix to its rules; a host
//!   name is looked up once per label boundary, from the whole name down
//!   to its last label (`a.b.youtube.com`, `b.youtube.com`,
//!   `youtube.com`, `com`), so the first hit is the longest suffix and the
//!   cost grows with the labels of the name, not with the rules.
//! - `hostname regex`: each regex tried in turn (keep them few).
//! - `alpn`, `ja4` (rules without a host name condition): hash maps from
//!   the value to its rules.
//!
//! Every list of rules under a key is sorted by (priority, higher first;
//! position). A flow with no server name ([`Metadata::server_name`]),
//! ALPN or JA4 costs three `None` checks.

use hashbrown::HashMap;
use std::sync::Arc;

use regex_automata::meta::Regex;

use crate::matcher::BuildError;
use crate::signature::limits::{self, Budget};
use crate::signature::{compile_regex, normalise_host, HostMatch, SignatureSet};
use crate::Metadata;

/// One compiled application rule.
pub(crate) struct AppInfo {
    pub(crate) app: Arc<str>,
    pub(crate) protocol: Option<Arc<str>>,
    pub(crate) reason: Arc<str>,
    priority: i32,
    transport: Option<u8>,
    ports: Box<[(u16, u16)]>,
    /// ALPN values (one must be offered), when the rule has a condition.
    alpn: Box<[Box<str>]>,
    /// JA4 values in lower case (one must equal the flow's).
    ja4: Box<[Box<str>]>,
}

impl AppInfo {
    fn holds(&self, transport: u8, server_port: u16, meta: &Metadata) -> bool {
        if self.transport.is_some_and(|t| t != transport) {
            return false;
        }
        if !self.ports.is_empty()
            && !self
                .ports
                .iter()
                .any(|&(lo, hi)| lo <= server_port && server_port <= hi)
        {
            return false;
        }
        if !self.alpn.is_empty() {
            let offered = meta.alpn.as_deref().unwrap_or(&[]);
            if !self.alpn.iter().any(|a| offered.iter().any(|o| **a == **o)) {
                return false;
            }
        }
        if !self.ja4.is_empty() {
            let Some(j) = meta.ja4.as_deref() else {
                return false;
            };
            if !self.ja4.iter().any(|v| v.eq_ignore_ascii_case(j)) {
                return false;
            }
        }
        true
    }
}

/// The application rules of a set, indexed.
#[derive(Default)]
pub(crate) struct AppIndex {
    pub(crate) rules: Vec<AppInfo>,
    exact: HashMap<Box<str>, Vec<u32>>,
    suffix: HashMap<Box<str>, Vec<u32>>,
    regex: Vec<(Regex, u32)>,
    alpn: HashMap<Box<str>, Vec<u32>>,
    ja4: HashMap<Box<str>, Vec<u32>>,
}

/// What decided a flow's application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AppHit {
    /// The rule's index in the set's `apps`.
    pub(crate) rule: usize,
}

impl AppIndex {
    /// Indexes the application rules of `set`, within the set-wide limits
    /// ([`limits`](crate::signature::limits): the number of rules, a host
    /// name regex's length and the memory of all of them), so that a set
    /// built in code costs no more than one the parsers accept. A host
    /// name regex that does not compile (the parsers never let one
    /// through) matches nothing.
    pub(crate) fn new(set: &SignatureSet) -> Result<AppIndex, BuildError> {
        let mut budget = Budget::new();
        let mut ix = AppIndex::default();
        let mut names: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: &str| -> Arc<str> {
            names
                .entry(s.to_string())
                .or_insert_with(|| Arc::from(s))
                .clone()
        };
        for (i, rule) in set.apps.iter().enumerate() {
            let over = |message: String| BuildError::app_rule(i, rule.location.clone(), message);
            budget
                .add_signature()
                .map_err(|e| over(format!("over a set-wide limit: {e}")))?;
            ix.rules.push(AppInfo {
                app: intern(&rule.app),
                protocol: rule.protocol.as_deref().map(&mut intern),
                reason: match (&rule.id, &rule.location) {
                    (Some(id), _) => Arc::from(id.as_str()),
                    (None, Some(loc)) => Arc::from(loc.to_string()),
                    (None, None) => Arc::from(format!("app #{i}")),
                },
                priority: rule.priority,
                transport: rule.transport.number(),
                ports: rule.ports.ranges.iter().map(|r| (r.start, r.end)).collect(),
                alpn: rule.alpn.iter().map(|a| Box::from(a.as_str())).collect(),
                ja4: rule
                    .ja4
                    .iter()
                    .map(|j| Box::from(j.to_ascii_lowercase().as_str()))
                    .collect(),
            });
            let i32 = i as u32;
            let key = |s: &str| -> Box<str> { Box::from(s.to_ascii_lowercase().as_str()) };
            match &rule.hostname {
                Some(HostMatch::Exact(v)) => {
                    for n in v {
                        push_once(ix.exact.entry(key(n)).or_default(), i32);
                    }
                }
                Some(HostMatch::Suffix(v)) => {
                    for n in v {
                        push_once(ix.suffix.entry(key(n)).or_default(), i32);
                    }
                }
                Some(HostMatch::Regex(source)) => {
                    if source.len() > limits::MAX_REGEX_BYTES {
                        return Err(over(format!(
                            "a host name regex of {} bytes exceeds the limit of {} bytes",
                            source.len(),
                            limits::MAX_REGEX_BYTES
                        )));
                    }
                    if let Ok(re) = compile_regex(source) {
                        budget
                            .add_regex_bytes(re.memory_usage())
                            .map_err(|e| over(format!("over a set-wide limit: {e}")))?;
                        ix.regex.push((re, i32));
                    }
                }
                None if !rule.alpn.is_empty() => {
                    for a in &rule.alpn {
                        push_once(ix.alpn.entry(Box::from(a.as_str())).or_default(), i32);
                    }
                }
                None => {
                    for j in &rule.ja4 {
                        push_once(ix.ja4.entry(key(j)).or_default(), i32);
                    }
                }
            }
        }
        let order = |list: &mut Vec<u32>| {
            list.sort_by_key(|&r| (std::cmp::Reverse(set.apps[r as usize].priority), r));
        };
        for m in [&mut ix.exact, &mut ix.suffix, &mut ix.alpn, &mut ix.ja4] {
            m.values_mut().for_each(order);
        }
        ix.regex
            .sort_by_key(|&(_, r)| (std::cmp::Reverse(set.apps[r as usize].priority), r));
        Ok(ix)
    }

    /// True when the set has no application rule.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The application rule that decides for a flow of `transport` to
    /// `server_port` with protocol fields `meta`: the first that holds by
    /// kind (exact, suffix by length, regex, ALPN/JA4), then priority,
    /// then position.
    pub(crate) fn best(&self, transport: u8, server_port: u16, meta: &Metadata) -> Option<AppHit> {
        let server = meta.server_name();
        if self.rules.is_empty() || (server.is_none() && meta.alpn.is_none() && meta.ja4.is_none())
        {
            return None;
        }
        let first = |list: Option<&Vec<u32>>| -> Option<AppHit> {
            list?
                .iter()
                .find(|&&r| self.rules[r as usize].holds(transport, server_port, meta))
                .map(|&r| AppHit { rule: r as usize })
        };
        if let Some(host) = server {
            let host = normalise_host(host);
            let host = host.as_ref();
            if !host.is_empty() {
                if let Some(hit) = first(self.exact.get(host)) {
                    return Some(hit);
                }
                if !self.suffix.is_empty() {
                    let mut at = 0;
                    loop {
                        if let Some(hit) = first(self.suffix.get(&host[at..])) {
                            return Some(hit);
                        }
                        match host[at..].find('.') {
                            Some(dot) => at += dot + 1,
                            None => break,
                        }
                    }
                }
                if let Some(hit) = self
                    .regex
                    .iter()
                    .find(|(re, r)| {
                        re.is_match(host.as_bytes())
                            && self.rules[*r as usize].holds(transport, server_port, meta)
                    })
                    .map(|&(_, r)| AppHit { rule: r as usize })
                {
                    return Some(hit);
                }
            }
        }
        if self.alpn.is_empty() && self.ja4.is_empty() {
            return None;
        }
        // ALPN and JA4 rules rank together, by priority then position.
        let mut best: Option<u32> = None;
        let mut consider = |list: Option<&Vec<u32>>| {
            if let Some(r) = list.and_then(|l| {
                l.iter()
                    .copied()
                    .find(|&r| self.rules[r as usize].holds(transport, server_port, meta))
            }) {
                best = Some(match best {
                    None => r,
                    Some(b) => {
                        if self.rank(r) < self.rank(b) {
                            r
                        } else {
                            b
                        }
                    }
                });
            }
        };
        for a in meta.alpn.iter().flatten() {
            consider(self.alpn.get(a.as_str()));
        }
        if let Some(j) = meta.ja4.as_deref() {
            consider(self.ja4.get(j.to_ascii_lowercase().as_str()));
        }
        best.map(|r| AppHit { rule: r as usize })
    }

    /// Order among rules of the same kind: priority (higher first), then
    /// position.
    fn rank(&self, r: u32) -> (std::cmp::Reverse<i32>, u32) {
        (std::cmp::Reverse(self.rules[r as usize].priority), r)
    }
}

fn push_once(list: &mut Vec<u32>, r: u32) {
    if list.last() != Some(&r) {
        list.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{parse_extended, AppKind, AppRule};
    use crate::{Classifier, Confidence, FlowView};
    use proptest::prelude::*;

    fn meta(host: Option<&str>, alpn: &[&str], ja4: Option<&str>) -> Metadata {
        Metadata {
            hostname: host.map(str::to_string),
            alpn: (!alpn.is_empty()).then(|| alpn.iter().map(|s| s.to_string()).collect()),
            ja4: ja4.map(str::to_string),
            ..Metadata::default()
        }
    }

    const RULES: &str = r#"
rule google
  app Google
  hostname suffix google.com
end
rule play
  app PlayStore
  hostname exact play.google.com android.clients.google.com
end
rule apis
  app GoogleServices
  hostname suffix googleapis.com clients.google.com
end
rule video-re
  app YouTube
  hostname regex "^r[0-9]+---sn-"
end
rule gv
  app GoogleVideo
  hostname suffix googlevideo.com
end
rule h3
  app SomeH3
  alpn h3
end
rule ja4
  app Curl
  ja4 t13d311100_e8f1e7e78f70_d41ae481755e
  priority 5
end
rule dot
  app DoH_DoT
  protocol DoH_DoT
  transport tcp
  ports 853
  hostname suffix google.com
  priority -1
end
rule low
  app Low
  hostname suffix mail.google.com
  priority -5
end
rule high
  app High
  hostname suffix mail.google.com
  priority 5
end
"#;

    fn app_of(c: &Classifier, port: u16, m: &Metadata) -> Option<String> {
        c.application(6, port, m)
            .map(|i| c.apps.rules[i].app.to_string())
    }

    #[test]
    fn precedence_table() {
        let set = parse_extended(RULES, "t.rules").unwrap();
        let c = Classifier::new(&set).unwrap();
        // (host, alpn, ja4, port, app)
        type Case<'a> = (
            Option<&'a str>,
            &'a [&'a str],
            Option<&'a str>,
            u16,
            Option<&'a str>,
        );
        let cases: &[Case<'_>] = &[
            (Some("www.google.com"), &[], None, 443, Some("Google")),
            (Some("WWW.Google.COM."), &[], None, 443, Some("Google")),
            (Some("play.google.com"), &[], None, 443, Some("PlayStore")),
            // exact beats a longer suffix
            (
                Some("android.clients.google.com"),
                &[],
                None,
                443,
                Some("PlayStore"),
            ),
            // the longer suffix wins
            (
                Some("x.clients.google.com"),
                &[],
                None,
                443,
                Some("GoogleServices"),
            ),
            (Some("notgoogle.com"), &[], None, 443, None),
            // a suffix beats a regex
            (
                Some("r4---sn-abc.googlevideo.com"),
                &[],
                None,
                443,
                Some("GoogleVideo"),
            ),
            (
                Some("r4---sn-abc.example.net"),
                &[],
                None,
                443,
                Some("YouTube"),
            ),
            // a host name rule beats ALPN and JA4
            (
                Some("www.google.com"),
                &["h3"],
                Some("t13d311100_e8f1e7e78f70_d41ae481755e"),
                443,
                Some("Google"),
            ),
            // ALPN and JA4 rank by priority
            (
                Some("example.org"),
                &["h2", "h3"],
                Some("T13D311100_e8f1e7e78f70_d41ae481755e"),
                443,
                Some("Curl"),
            ),
            (None, &["h2", "h3"], None, 443, Some("SomeH3")),
            (None, &["h2"], None, 443, None),
            // priority among suffixes of the same length
            (Some("mail.google.com"), &[], None, 443, Some("High")),
            // a rule whose port does not hold is passed over
            (Some("dns.google.com"), &[], None, 853, Some("Google")),
            (None, &[], None, 443, None),
            (Some(""), &[], None, 443, None),
        ];
        for (host, alpn, ja4, port, want) in cases {
            let m = meta(*host, alpn, *ja4);
            assert_eq!(
                app_of(&c, *port, &m).as_deref(),
                *want,
                "{host:?} {alpn:?} {ja4:?} {port}"
            );
        }
    }

    #[test]
    fn master_protocol_only_where_no_signature_names_one() {
        let text = format!(
            "{RULES}\nrule tls\n  protocol TLS\n  transport tcp\n  c2s at 0 hex \"16 03\"\nend\n\
             rule port853\n  protocol DoT_by_port\n  transport tcp\n  ports 853\nend\n"
        );
        let set = parse_extended(&text, "t.rules").unwrap();
        let c = Classifier::new(&set).unwrap();
        let hello = b"\x16\x03\x01";
        let m = Metadata {
            hostname: Some("x.google.com".into()),
            ..Metadata::default()
        };
        // The deciding application rule (`google`: same suffix as `dot`, higher
        // priority) names no protocol: the port rule's stands.
        let only_port = FlowView::new(6, 853);
        let got = c.classify_with_metadata(&only_port, &m);
        assert_eq!(got.protocol.as_ref(), "DoT_by_port");
        let with_bytes = c.classify_with_metadata(&FlowView::new(6, 853).with_c2s(hello), &m);
        assert_eq!(with_bytes.reason.as_ref(), "tls + google");
        assert_eq!(got.app.as_deref(), Some("Google"));
        assert_eq!(got.reason.as_ref(), "port853 + google");
        assert_eq!(got.confidence, Confidence::Port);
        let doh = Metadata {
            hostname: Some("google.com".into()),
            ..Metadata::default()
        };
        let set2 = parse_extended(
            "rule port853\n  protocol DoT_by_port\n  transport tcp\n  ports 853\nend\n\
             rule dot\n  app DoH_DoT\n  protocol DoH_DoT\n  hostname suffix google.com\nend\n\
             rule tls\n  protocol TLS\n  transport tcp\n  c2s at 0 hex \"16 03\"\nend\n",
            "t.rules",
        )
        .unwrap();
        let c2 = Classifier::new(&set2).unwrap();
        let by_port = c2.classify_with_metadata(&only_port, &doh);
        assert_eq!(
            (
                by_port.protocol.as_ref(),
                by_port.app.as_deref(),
                by_port.confidence,
                by_port.reason.as_ref()
            ),
            ("DoH_DoT", Some("DoH_DoT"), Confidence::Signature, "dot")
        );
        assert_eq!((by_port.signature, by_port.app_rule), (None, Some(0)));
        let by_bytes = c2.classify_with_metadata(&FlowView::new(6, 853).with_c2s(hello), &doh);
        assert_eq!(
            (
                by_bytes.protocol.as_ref(),
                by_bytes.app.as_deref(),
                by_bytes.reason.as_ref()
            ),
            ("TLS", Some("DoH_DoT"), "tls + dot")
        );
        // Unknown flows get the protocol too; with no metadata nothing changes.
        let unknown = c2.classify_with_metadata(&FlowView::new(17, 9), &doh);
        assert_eq!(unknown.protocol.as_ref(), "DoH_DoT");
        let plain = c2.classify_with_metadata(&FlowView::new(17, 9), &Metadata::default());
        assert!(plain.is_unknown() && plain.app.is_none());
    }

    #[test]
    fn classify_reads_the_fields_of_the_view() {
        let set = parse_extended(
            "rule http\n  protocol HTTP\n  c2s at 0 \"GET \"\nend\n\
             rule ex\n  app Example\n  hostname suffix example.com\nend\n",
            "t.rules",
        )
        .unwrap();
        let c = Classifier::new(&set).unwrap();
        let req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
        let got = c.classify(&FlowView::new(6, 80).with_c2s(req));
        assert_eq!(
            (got.protocol.as_ref(), got.app.as_deref()),
            ("HTTP", Some("Example"))
        );
        assert!(c
            .decide(&FlowView::new(6, 80).with_c2s(req), true)
            .classification()
            .app
            .is_some());
        // A byte rule that names the application keeps it; a port rule's
        // application yields to an application rule.
        let set = parse_extended(
            "rule http\n  protocol HTTP\n  app Web\n  c2s at 0 \"GET \"\nend\n\
             rule p\n  protocol HTTP\n  app ByPort\n  transport tcp\n  ports 80\nend\n\
             rule ex\n  app Example\n  hostname suffix example.com\nend\n",
            "t.rules",
        )
        .unwrap();
        let c = Classifier::new(&set).unwrap();
        let got = c.classify(&FlowView::new(6, 80).with_c2s(req));
        assert_eq!((got.app.as_deref(), got.app_rule), (Some("Web"), None));
        let post = b"POST / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
        let got = c.classify(&FlowView::new(6, 80).with_c2s(post));
        assert_eq!(
            (got.app.as_deref(), got.app_rule),
            (Some("Example"), Some(0))
        );
        let got = c.classify(&FlowView::new(6, 80).with_c2s(b"POST / HTTP/1.1\r\n\r\n"));
        assert_eq!((got.app.as_deref(), got.app_rule), (Some("ByPort"), None));
    }

    /// The plain definition: every rule that holds, ranked by kind,
    /// matched suffix length, priority and position.
    fn reference(rules: &[AppRule], transport: u8, port: u16, m: &Metadata) -> Option<usize> {
        let host = m
            .hostname
            .as_deref()
            .map(|h| normalise_host(h).into_owned());
        let holds = |r: &AppRule| {
            r.transport.matches(transport)
                && r.ports.contains(port)
                && match &r.hostname {
                    None => true,
                    Some(h) => host
                        .as_deref()
                        .is_some_and(|x| !x.is_empty() && h.matches(x)),
                }
                && (r.alpn.is_empty() || m.alpn.iter().flatten().any(|o| r.alpn.contains(o)))
                && (r.ja4.is_empty()
                    || m.ja4
                        .as_deref()
                        .is_some_and(|j| r.ja4.iter().any(|v| v.eq_ignore_ascii_case(j))))
        };
        rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.has_condition() && holds(r))
            .min_by_key(|(i, r)| {
                let len = match (&r.hostname, host.as_deref()) {
                    (Some(HostMatch::Suffix(v)), Some(h)) => v
                        .iter()
                        .filter(|s| HostMatch::Suffix(vec![s.to_string()]).matches(h))
                        .map(|s| s.len())
                        .max()
                        .unwrap_or(0),
                    _ => 0,
                };
                let kind = r.kind();
                (
                    kind,
                    std::cmp::Reverse(len),
                    std::cmp::Reverse(r.priority),
                    *i,
                )
            })
            .map(|(i, _)| i)
    }

    fn small_rule() -> impl Strategy<Value = AppRule> {
        let name = prop::sample::select(vec![
            "google.com",
            "mail.google.com",
            "a.mail.google.com",
            "youtube.com",
            "com",
            "b.com",
        ]);
        let host = prop_oneof![
            Just(None),
            prop::collection::vec(name.clone(), 1..3)
                .prop_map(|v| Some(HostMatch::Exact(v.into_iter().map(String::from).collect()))),
            prop::collection::vec(name, 1..3)
                .prop_map(|v| Some(HostMatch::Suffix(v.into_iter().map(String::from).collect()))),
            prop::sample::select(vec!["^mail\\.", "google", "^b\\.com$"])
                .prop_map(|r| Some(HostMatch::Regex(r.to_string()))),
        ];
        let alpn = prop::collection::vec(prop::sample::select(vec!["h2", "h3"]), 0..2);
        let ja4 = prop::collection::vec(prop::sample::select(vec!["j1", "J2"]), 0..2);
        (
            host,
            alpn,
            ja4,
            -2i32..3,
            prop::option::of(prop::sample::select(vec![443u16, 853])),
            any::<bool>(),
        )
            .prop_map(|(hostname, alpn, mut ja4, priority, port, tcp)| {
                if hostname.is_none() && alpn.is_empty() && ja4.is_empty() {
                    ja4.push("j1");
                }
                let mut r = AppRule::new("A");
                r.hostname = hostname;
                r.alpn = alpn.into_iter().map(String::from).collect();
                r.ja4 = ja4.into_iter().map(String::from).collect();
                r.priority = priority;
                if let Some(p) = port {
                    r.ports = crate::signature::PortSet::single(p);
                }
                if tcp {
                    r.transport = crate::signature::Transport::Tcp;
                }
                r
            })
    }

    proptest! {
        #[test]
        fn index_agrees_with_the_definition(
            rules in prop::collection::vec(small_rule(), 0..8),
            host in prop::option::of(prop::sample::select(vec![
                "google.com", "mail.google.com", "a.mail.google.com", "x.a.mail.google.com",
                "MAIL.GOOGLE.COM.", "b.com", "youtube.com", "notgoogle.com", "com", ""])),
            alpn in prop::collection::vec(prop::sample::select(vec!["h2", "h3", "x"]), 0..3),
            ja4 in prop::option::of(prop::sample::select(vec!["j1", "j2", "J1"])),
            port in prop::sample::select(vec![443u16, 853, 80]),
            udp in any::<bool>(),
        ) {
            let set = SignatureSet { apps: rules.clone(), ..SignatureSet::default() };
            let c = Classifier::new(&set).unwrap();
            let m = Metadata {
                hostname: host.map(str::to_string),
                alpn: (!alpn.is_empty()).then(|| alpn.iter().map(|s| s.to_string()).collect()),
                ja4: ja4.map(str::to_string),
                ..Metadata::default()
            };
            let t = if udp { 17 } else { 6 };
            prop_assert_eq!(c.application(t, port, &m), reference(&rules, t, port, &m));
            let _ = AppKind::HostExact;
        }
    }
}
