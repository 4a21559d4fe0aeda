//! Application rules: the application of a flow (and, where no byte rule
//! names one, its protocol) from the protocol fields read from its first
//! bytes — the server name, the ALPN list, the JA4 fingerprint — rather
//! than from byte patterns.
//!
//! ```text
//! # YouTube's own domains.
//! rule youtube
//!   app YouTube
//!   hostname suffix youtube.com youtu.be googlevideo.com ytimg.com
//! end
//!
//! rule doh-google
//!   app DoH_DoT
//!   protocol TLS
//!   hostname exact dns.google
//! end
//! ```
//!
//! In the extended format an application rule is a `rule` block with a
//! `hostname`, `alpn` or `ja4` line; it needs `app` and may have
//! `protocol`, `transport`, `ports`, `priority` and the provenance lines,
//! but no byte pattern nor feature. std.sig cannot carry it.
//! `signatures/README.md` has the statements and the precedence.

use serde::{Deserialize, Serialize};

use super::error::SignatureError;
use super::extended::{
    check_regex, write_evidence, write_keyed, write_rule_line, write_scope, write_text, Ctx, Token,
};
use super::limits::Budget;
use super::{column_of, compile_regex, Location, PortSet, Provenance, Signature, Transport};

/// A rule that names an application from a flow's protocol fields
/// ([`Metadata`](crate::Metadata)): its host name, the ALPN protocols its
/// client offers, its JA4 fingerprint.
///
/// Every condition given must hold: the transport, the server port, the
/// host name condition, one of the `alpn` values offered, one of the `ja4`
/// values. A rule has at least one of `hostname`, `alpn`, `ja4`.
///
/// ```
/// use dpi_core::signature::{AppRule, HostMatch};
///
/// let mut rule = AppRule::new("YouTube");
/// rule.hostname = Some(HostMatch::Suffix(vec!["youtube.com".into()]));
/// assert!(rule.hostname.as_ref().unwrap().matches("m.youtube.com"));
/// assert!(!rule.hostname.as_ref().unwrap().matches("notyoutube.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRule {
    /// A stable identifier (`rule NAME`).
    pub id: Option<String>,
    /// Where the rule was read from; `None` for rules built in code.
    pub location: Option<Location>,
    /// Comment and blank lines that came right before the rule.
    pub comments: Vec<String>,
    /// The application, nDPI's name after the dot (`Google` of `TLS.Google`).
    pub app: String,
    /// The master protocol the rule gives where no signature-class rule
    /// names one (see the precedence in `signatures/README.md`).
    pub protocol: Option<String>,
    /// The transport the rule applies to.
    pub transport: Transport,
    /// The server ports the rule applies to; empty means any port.
    pub ports: PortSet,
    /// The condition on the flow's host name.
    pub hostname: Option<HostMatch>,
    /// The rule holds when the client offers one of these ALPN protocols
    /// (exact, case-sensitive as ALPN ids are bytes); empty: no condition.
    pub alpn: Vec<String>,
    /// The rule holds when the flow's JA4 is one of these (ASCII case
    /// ignored); empty: no condition.
    pub ja4: Vec<String>,
    /// Breaks ties between rules of the same kind; higher wins; default 0.
    pub priority: i32,
    /// How many flows backed the rule when it was learnt.
    pub support: u64,
    /// Where the rule came from and how well it scored.
    pub provenance: Provenance,
}

impl AppRule {
    /// A rule naming `app` with no condition yet: any transport, any
    /// port, no protocol, priority 0.
    pub fn new(app: impl Into<String>) -> AppRule {
        AppRule {
            id: None,
            location: None,
            comments: Vec::new(),
            app: app.into(),
            protocol: None,
            transport: Transport::Any,
            ports: PortSet::any(),
            hostname: None,
            alpn: Vec::new(),
            ja4: Vec::new(),
            priority: 0,
            support: 0,
            provenance: Provenance::default(),
        }
    }

    /// The kind of the rule's strongest condition, which ranks it among
    /// matching application rules (see [`AppKind`]).
    pub fn kind(&self) -> AppKind {
        match &self.hostname {
            Some(HostMatch::Exact(_)) => AppKind::HostExact,
            Some(HostMatch::Suffix(_)) => AppKind::HostSuffix,
            Some(HostMatch::Regex(_)) => AppKind::HostRegex,
            None => AppKind::Fingerprint,
        }
    }

    /// True when the rule has a condition on protocol fields (a rule
    /// without one is not an application rule).
    pub fn has_condition(&self) -> bool {
        self.hostname.is_some() || !self.alpn.is_empty() || !self.ja4.is_empty()
    }
}

/// The kind of an application rule, strongest first: when several
/// application rules hold for a flow, the strongest kind decides, then
/// (for suffixes) the longer suffix, then the priority, then the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppKind {
    /// `hostname exact`.
    HostExact,
    /// `hostname suffix`.
    HostSuffix,
    /// `hostname regex`.
    HostRegex,
    /// `alpn` or `ja4` without a host name condition.
    Fingerprint,
}

/// A condition on a flow's host name. Names compare with ASCII case
/// ignored and a trailing dot of the flow's name removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostMatch {
    /// The host name is one of these names.
    Exact(Vec<String>),
    /// The host name is one of these names or a name below one of them:
    /// `youtube.com` holds for `youtube.com` and `m.youtube.com`, not for
    /// `notyoutube.com`.
    Suffix(Vec<String>),
    /// The regex (bytes mode, as byte patterns; see
    /// [`compile_regex`]) matches the host name in lower case, anywhere
    /// (anchor it with `^` and `$`).
    Regex(String),
}

impl HostMatch {
    /// Whether `host` satisfies the condition (the classifier uses an
    /// index instead; this is the plain definition). An invalid regex
    /// matches nothing.
    ///
    /// ```
    /// use dpi_core::signature::HostMatch;
    /// let exact = HostMatch::Exact(vec!["dns.google".into()]);
    /// assert!(exact.matches("DNS.Google."));
    /// assert!(!exact.matches("x.dns.google"));
    /// let re = HostMatch::Regex(r"^r[0-9]+---sn-".into());
    /// assert!(re.matches("r4---sn-hpa7kn7s.googlevideo.com"));
    /// ```
    pub fn matches(&self, host: &str) -> bool {
        let host = normalise_host(host);
        match self {
            HostMatch::Exact(names) => names.iter().any(|n| n.eq_ignore_ascii_case(&host)),
            HostMatch::Suffix(names) => names.iter().any(|n| suffix_matches(n, &host)),
            HostMatch::Regex(source) => {
                compile_regex(source).is_ok_and(|re| re.is_match(host.as_bytes()))
            }
        }
    }
}

/// A flow's host name as application rules see it: ASCII letters in lower
/// case, one trailing dot removed.
pub fn normalise_host(host: &str) -> std::borrow::Cow<'_, str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(host.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(host)
    }
}

/// Whether `host` (normalised) is `suffix` or a name below it.
pub(crate) fn suffix_matches(suffix: &str, host: &str) -> bool {
    let (h, s) = (host.as_bytes(), suffix.as_bytes());
    if h.len() < s.len() || !h[h.len() - s.len()..].eq_ignore_ascii_case(s) {
        return false;
    }
    h.len() == s.len() || h[h.len() - s.len() - 1] == b'.'
}

/// Checks a domain name as written in a rule; `Err` says what is wrong.
///
/// A name is 1 to 253 bytes of labels separated by dots, each label 1 to
/// 63 bytes of letters, digits, `-` and `_` (or non-ASCII characters, for
/// internationalised names written in Unicode); no leading or trailing
/// dot, no wildcard.
pub fn check_domain(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a domain name, not an empty string".into());
    }
    if name.contains('*') {
        return Err(
            "a domain name without `*` (`hostname suffix` holds for the name and every name below it)"
                .into(),
        );
    }
    if name.starts_with('.') || name.ends_with('.') {
        return Err("a domain name without a leading or trailing dot".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "a domain name of at most 253 bytes (this one has {})",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("a domain name without an empty label (`..`)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "labels of at most 63 bytes (`{label}` has {})",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii()))
        {
            return Err(format!(
                "letters, digits, `-`, `_` or `.` in a domain name, not `{}`",
                c.escape_default()
            ));
        }
        if label.chars().any(char::is_control) {
            return Err("a domain name without control characters".into());
        }
    }
    Ok(())
}

fn check_alpn(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 255 {
        return Err("an ALPN protocol id of 1 to 255 bytes".into());
    }
    if v.chars().any(char::is_control) {
        return Err("an ALPN protocol id without control characters".into());
    }
    Ok(())
}

fn check_ja4(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(
            "a JA4 fingerprint (letters, digits and `_`, such as t13d1516h2_8daaf6152771_e5627efa2ab1)"
                .into(),
        );
    }
    Ok(())
}

/// A statement's place, for an error reported later.
#[derive(Debug, Clone, Default)]
pub(super) struct Spot {
    line: u32,
    text: String,
    start: usize,
    raw: String,
}

/// The application part of a rule block being read.
#[derive(Debug, Default)]
pub(super) struct AppPart {
    hostname: Option<HostMatch>,
    alpn: Vec<String>,
    ja4: Vec<String>,
    /// The first statement that only a signature rule can hold.
    byte_condition: Option<Spot>,
    /// A `hostname`, `alpn` or `ja4` line was read, even a bad one: the
    /// block is an application rule (and needs no `protocol`).
    seen: bool,
}

/// Keys that only a signature rule holds: byte patterns, features, flags
/// of std.sig.
const SIGNATURE_ONLY: [&str; 12] = [
    "c2s",
    "s2c",
    "either",
    "both",
    "initiator",
    "responder",
    "src",
    "dst",
    "size",
    "packets",
    "first-payload",
    "client-port",
];

impl AppPart {
    /// True when the block is an application rule.
    pub(super) fn is_rule(&self) -> bool {
        self.seen || self.hostname.is_some() || !self.alpn.is_empty() || !self.ja4.is_empty()
    }

    /// Notes a statement of the block (its key token), so a byte
    /// condition in an application rule can be reported where it stands.
    pub(super) fn note(&mut self, ctx: &Ctx<'_>, key: &Token<'_>) {
        let k = key.raw;
        let signature_only = SIGNATURE_ONLY.contains(&k) || matches!(k, "encrypted" | "argus-bare");
        if signature_only && self.byte_condition.is_none() {
            self.byte_condition = Some(Spot {
                line: ctx.number,
                text: ctx.line.to_string(),
                start: key.start,
                raw: k.to_string(),
            });
        }
    }
}

/// Reads a `hostname`, `alpn` or `ja4` statement into `part`.
pub(super) fn statement(
    part: &mut AppPart,
    ctx: &Ctx<'_>,
    tokens: &[Token<'_>],
    budget: &mut Budget,
) -> Result<(), SignatureError> {
    part.seen = true;
    let line = ctx.line;
    let key = &tokens[0];
    let end_of_line = line.trim_end().len();
    let once = |taken: bool| {
        if taken {
            Err(ctx.error(
                key.start,
                key.raw,
                format!("at most one `{}` line per rule", key.raw),
            ))
        } else {
            Ok(())
        }
    };
    let texts = |from: usize,
                 what: &str,
                 check: &dyn Fn(&str) -> Result<(), String>|
     -> Result<Vec<String>, SignatureError> {
        let rest = &tokens[from..];
        if rest.is_empty() {
            return Err(ctx.error(end_of_line, "", format!("{what} after `{}`", key.raw)));
        }
        let mut out = Vec::with_capacity(rest.len());
        for t in rest {
            let v = t.text(line).map_err(|(at, f, e)| ctx.error(at, f, e))?;
            check(&v).map_err(|e| ctx.error(t.start, t.raw, e))?;
            out.push(v);
        }
        Ok(out)
    };
    match key.raw {
        "hostname" => {
            once(part.hostname.is_some())?;
            const KIND: &str = "`exact`, `suffix` or `regex` after `hostname`";
            let Some(kind) = tokens.get(1) else {
                return Err(ctx.error(end_of_line, "", KIND));
            };
            part.hostname = Some(match kind.word() {
                Some("exact") => {
                    HostMatch::Exact(texts(2, "one or more domain names", &|n| check_domain(n))?)
                }
                Some("suffix") => {
                    HostMatch::Suffix(texts(2, "one or more domain names", &|n| check_domain(n))?)
                }
                Some("regex") => {
                    let Some(s) = tokens.get(2) else {
                        return Err(ctx.error(
                            end_of_line,
                            "",
                            "a quoted regex after `hostname regex`",
                        ));
                    };
                    let Some((body, text)) = s.verbatim(line) else {
                        return Err(ctx.error(
                            s.start,
                            s.raw,
                            "a quoted regex after `hostname regex`",
                        ));
                    };
                    if let Some((c, ch)) = text.char_indices().find(|(_, c)| c.is_control()) {
                        return Err(ctx.error(
                            body + c,
                            &ch.to_string(),
                            "no raw control characters in a regex (write `\\t`, `\\n`, `\\xHH`)",
                        ));
                    }
                    // The set-wide regex budget counts host-name regexes too.
                    check_regex(ctx, s, body, text, budget)?;
                    if let Some(extra) = tokens.get(3) {
                        return Err(ctx.error(
                            extra.start,
                            extra.raw,
                            "end of line after the regex",
                        ));
                    }
                    HostMatch::Regex(text.to_string())
                }
                _ => return Err(ctx.error(kind.start, kind.raw, KIND)),
            });
        }
        "alpn" => {
            once(!part.alpn.is_empty())?;
            part.alpn = texts(1, "one or more ALPN protocol ids", &check_alpn)?;
        }
        _ => {
            once(!part.ja4.is_empty())?;
            part.ja4 = texts(1, "one or more JA4 fingerprints", &check_ja4)?;
        }
    }
    Ok(())
}

/// The application rule of a block that [`AppPart::is_rule`]: the
/// statements it shares with signature rules come from `sig` (`app`,
/// `protocol` when `has_protocol`, transport, ports, priority, support,
/// provenance, id, comments). The block opened at line `number` (`text`).
pub(super) fn finish(
    sig: Signature,
    part: AppPart,
    has_protocol: bool,
    source: &str,
    number: u32,
    text: &str,
) -> Result<AppRule, SignatureError> {
    if let Some(s) = part.byte_condition {
        return Err(SignatureError::syntax(
            source,
            s.line,
            column_of(&s.text, s.start),
            &s.text,
            &s.raw,
            "no byte pattern, feature, `encrypted` or `argus-bare` in an application rule \
             (a rule with `hostname`, `alpn` or `ja4`); put them in a rule of their own",
        ));
    }
    let Some(app) = sig.app else {
        return Err(SignatureError::syntax(
            source,
            number,
            column_of(text, text.len() - text.trim_start().len()),
            text,
            text.trim(),
            "an `app` line in this application rule (it has `hostname`, `alpn` or `ja4`)",
        ));
    };
    Ok(AppRule {
        id: sig.id,
        location: sig.location,
        comments: sig.comments,
        app,
        protocol: has_protocol.then_some(sig.protocol),
        transport: sig.transport,
        ports: sig.ports,
        hostname: part.hostname,
        alpn: part.alpn,
        ja4: part.ja4,
        priority: sig.priority,
        support: sig.support,
        provenance: sig.provenance,
    })
}

/// Writes one application rule in the extended format.
pub(super) fn write_rule(out: &mut String, rule: &AppRule) {
    write_rule_line(out, rule.id.as_deref());
    write_keyed(out, "app", &rule.app);
    if let Some(p) = &rule.protocol {
        write_keyed(out, "protocol", p);
    }
    write_scope(out, rule.transport, &rule.ports, rule.priority);
    let list = |out: &mut String, key: &str, values: &[String]| {
        out.push_str("  ");
        out.push_str(key);
        for v in values {
            out.push(' ');
            write_text(out, v);
        }
        out.push('\n');
    };
    match &rule.hostname {
        None => {}
        Some(HostMatch::Exact(names)) => list(out, "hostname exact", names),
        Some(HostMatch::Suffix(names)) => list(out, "hostname suffix", names),
        Some(HostMatch::Regex(source)) => {
            out.push_str("  hostname regex ");
            super::extended::write_regex(out, source);
            out.push('\n');
        }
    }
    if !rule.alpn.is_empty() {
        list(out, "alpn", &rule.alpn);
    }
    if !rule.ja4.is_empty() {
        list(out, "ja4", &rule.ja4);
    }
    write_evidence(out, rule.support, &rule.provenance);
    out.push_str("end\n");
}

#[cfg(test)]
mod tests {
    use super::super::strategies;
    use super::super::{parse_extended, to_extended, to_std_sig, SignatureSet};
    use super::*;
    use proptest::prelude::*;

    fn parse_app(body: &str) -> AppRule {
        let text = format!("rule a\n  app Google\n{body}\nend\n");
        let mut set = parse_extended(&text, "a.rules").unwrap_or_else(|e| panic!("{e}"));
        assert!(set.signatures.is_empty());
        set.apps.remove(0)
    }

    fn round_trip(set: &SignatureSet) {
        let text = to_extended(set);
        let mut back = parse_extended(&text, "r.rules").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut orig = set.clone();
        back.strip_locations();
        orig.strip_locations();
        assert_eq!(back, orig, "{text}");
    }

    #[test]
    fn statements_table() {
        type Check = Box<dyn Fn(&AppRule) -> bool>;
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&str, Check)> = vec![
            (
                "  hostname exact dns.google",
                Box::new(move |r| {
                    r.hostname == Some(HostMatch::Exact(names(&["dns.google"])))
                        && r.kind() == AppKind::HostExact
                }),
            ),
            (
                "  hostname suffix youtube.com \"youtu.be\" ytimg.com",
                Box::new(move |r| {
                    r.hostname
                        == Some(HostMatch::Suffix(names(&[
                            "youtube.com",
                            "youtu.be",
                            "ytimg.com",
                        ])))
                }),
            ),
            (
                "  hostname regex \"^r[0-9]+---sn-[a-z0-9-]+\\.googlevideo\\.com$\"",
                Box::new(|r| {
                    matches!(&r.hostname, Some(HostMatch::Regex(s)) if s == r"^r[0-9]+---sn-[a-z0-9-]+\.googlevideo\.com$")
                        && r.kind() == AppKind::HostRegex
                }),
            ),
            (
                "  alpn h3 \"http/1.1\"",
                Box::new(move |r| r.alpn == names(&["h3", "http/1.1"]) && r.kind() == AppKind::Fingerprint),
            ),
            (
                "  ja4 t13d1516h2_8daaf6152771_e5627efa2ab1",
                Box::new(move |r| r.ja4 == names(&["t13d1516h2_8daaf6152771_e5627efa2ab1"])),
            ),
            (
                "  hostname suffix google.com\n  protocol TLS\n  transport tcp\n  ports 443\n  priority 2\n  source hand\n  support 4",
                Box::new(|r| {
                    r.protocol.as_deref() == Some("TLS")
                        && r.transport == Transport::Tcp
                        && r.ports.contains(443)
                        && !r.ports.contains(80)
                        && r.priority == 2
                        && r.support == 4
                        && r.provenance.source.as_deref() == Some("hand")
                }),
            ),
        ];
        for (body, check) in cases {
            let rule = parse_app(body);
            assert!(check(&rule), "{body}: {rule:?}");
            assert_eq!(rule.app, "Google");
            round_trip(&SignatureSet {
                apps: vec![rule],
                ..SignatureSet::default()
            });
        }
    }

    #[test]
    fn suffixes_hold_at_label_boundaries() {
        let m = HostMatch::Suffix(vec!["youtube.com".into(), "Co.UK".into()]);
        for (host, want) in [
            ("youtube.com", true),
            ("m.youtube.com", true),
            ("a.b.YouTube.com.", true),
            ("notyoutube.com", false),
            ("youtube.com.evil", false),
            ("com", false),
            ("x.co.uk", true),
            ("", false),
        ] {
            assert_eq!(m.matches(host), want, "{host}");
        }
    }

    #[test]
    fn malformed_statements_name_line_and_column() {
        // (statement inside an application rule, column, found, expectation)
        let cases: &[(&str, u32, &str, &str)] = &[
            ("  hostname", 11, "", "`exact`, `suffix` or `regex`"),
            ("  hostname prefix a.com", 12, "prefix", "`exact`, `suffix`"),
            ("  hostname suffix", 18, "", "one or more domain names"),
            (
                "  hostname suffix *.google.com",
                19,
                "*.google.com",
                "without `*`",
            ),
            (
                "  hostname exact .google.com",
                18,
                ".google.com",
                "leading or trailing dot",
            ),
            ("  hostname exact a..b", 18, "a..b", "empty label"),
            ("  hostname exact a/b.com", 18, "a/b.com", "not `/`"),
            ("  hostname regex", 17, "", "a quoted regex"),
            ("  hostname regex (ab", 18, "(ab", "a quoted regex"),
            // As for byte regexes, the error points into the regex.
            ("  hostname regex \"(ab\"", 19, "(", "a valid regex"),
            ("  hostname regex \"a\" b", 22, "b", "end of line"),
            ("  alpn", 7, "", "ALPN protocol ids"),
            ("  alpn \"\"", 8, "\"\"", "1 to 255 bytes"),
            ("  ja4 t13d-x", 7, "t13d-x", "JA4 fingerprint"),
            ("  ja4 \"\\q\"", 8, "\\q", "an escape"),
        ];
        for (stmt, col, found, expected) in cases {
            let text = format!("# c\nrule t\n  app A\n{stmt}\nend\n");
            let errs = parse_extended(&text, "bad.rules").unwrap_err();
            assert_eq!(errs.len(), 1, "{stmt}: {errs}");
            let e = &errs.errors()[0];
            assert_eq!((e.source_name(), e.line()), ("bad.rules", 4), "{stmt}");
            assert_eq!(e.column(), *col, "{stmt}: {e}");
            assert_eq!(e.found(), *found, "{stmt}: {e}");
            assert!(e.expected().contains(expected), "{stmt}: {e}");
        }
    }

    #[test]
    fn block_errors_of_application_rules() {
        // (text, line, column, expectation)
        let cases: &[(&str, u32, u32, &str)] = &[
            (
                "rule a\n  hostname suffix google.com\nend\n",
                1,
                1,
                "an `app` line",
            ),
            (
                "rule a\n  app G\n  c2s \"x\"\n  hostname suffix google.com\nend\n",
                3,
                3,
                "no byte pattern",
            ),
            (
                "rule a\n  app G\n  alpn h2\n  size c2s 5\nend\n",
                4,
                3,
                "no byte pattern",
            ),
            (
                "rule a\n  app G\n  ja4 abc\n  encrypted\nend\n",
                4,
                3,
                "no byte pattern",
            ),
            (
                "rule a\n  app G\n  hostname exact a.com\n  hostname suffix b.com\nend\n",
                4,
                3,
                "at most one `hostname`",
            ),
            (
                "rule a\n  app G\n  alpn h2\n  alpn h3\nend\n",
                4,
                3,
                "at most one `alpn`",
            ),
        ];
        for (text, line, col, expected) in cases {
            let errs = parse_extended(text, "b.rules").unwrap_err();
            assert_eq!(errs.len(), 1, "{text}: {errs}");
            let e = &errs.errors()[0];
            assert_eq!((e.line(), e.column()), (*line, *col), "{text}: {e}");
            assert!(e.expected().contains(expected), "{text}: {e}");
        }
        // A rule with `app` and no application condition stays a signature
        // rule, which needs `protocol`.
        let errs = parse_extended("rule a\n  app G\nend\n", "b.rules").unwrap_err();
        assert!(errs.errors()[0].expected().contains("`protocol` line"));
    }

    #[test]
    fn signatures_and_application_rules_share_a_file() {
        let text = "# hand\nrule tls\n  protocol TLS\n  c2s at 0 hex \"16 03\"\nend\n\n# Google's domains\nrule g\n  app Google\n  protocol TLS\n  hostname suffix google.com\nend\n# end\n";
        let set = parse_extended(text, "s.rules").unwrap();
        assert_eq!((set.signatures.len(), set.apps.len()), (1, 1));
        assert_eq!(set.apps[0].comments, vec!["", "# Google's domains"]);
        assert_eq!(set.apps[0].location.as_ref().map(|l| l.line), Some(8));
        assert_eq!(set.trailing_comments, vec!["# end"]);
        round_trip(&set);
        let (_, left_out) = to_std_sig(&set);
        assert_eq!(left_out.len(), 2);
        assert!(left_out[1].application);
    }

    proptest! {
        #[test]
        fn any_app_rule_round_trips(rules in prop::collection::vec(strategies::app_rule(), 0..4)) {
            let set = SignatureSet { apps: rules, ..SignatureSet::default() };
            let text = to_extended(&set);
            let mut back = parse_extended(&text, "p.rules").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            back.strip_locations();
            prop_assert_eq!(back, set, "{}", text);
        }

        #[test]
        fn generated_domains_are_accepted(d in strategies::domain()) {
            prop_assert!(check_domain(&d).is_ok(), "{}", d);
            let m = HostMatch::Suffix(vec![d.clone()]);
            let below = format!("x.{}", d.to_ascii_uppercase());
            let beside = format!("x{d}");
            prop_assert!(m.matches(&d));
            prop_assert!(m.matches(&below));
            prop_assert!(!m.matches(&beside));
        }

        #[test]
        fn app_statements_never_panic(body in r#"[ a-z0-9"\\#r*.?&,\-_x/]{0,60}"#) {
            for key in ["hostname suffix", "hostname exact", "hostname regex", "hostname", "alpn", "ja4"] {
                let _ = parse_extended(&format!("rule a\napp A\n{key} {body}\nend\n"), "fuzz.rules");
            }
        }
    }
}
