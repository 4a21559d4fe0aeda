//! The classifier: one label per flow, from the signatures that match it.
//!
//! - [`Classifier`] compiles a [`SignatureSet`] once (through the
//!   [`Matcher`]) and labels flows: [`Classifier::classify`] for a finished
//!   flow, [`Classifier::decide`] for a live one (it says whether more bytes
//!   could still change the answer).
//! - [`FlowView`] is what it looks at: the first bytes per direction, the
//!   transport and ports, packet counts and first payload sizes.
//! - [`Classification`] is the answer: protocol, app, [`Confidence`] and the
//!   reason (the deciding signature's id, else its `file:line`, else
//!   `#index`).
//! - The set's application rules ([`AppRule`](crate::signature::AppRule))
//!   name the application from the flow's protocol fields
//!   ([`Metadata`]): see [Applications](#applications).
//!
//! # Confidence
//!
//! Each signature has a confidence class, from what it tests:
//!
//! | class | the signature has |
//! | --- | --- |
//! | [`Confidence::Signature`] | a byte pattern that constrains something (a masked pattern with a non-wildcard byte, a literal, a regex) |
//! | [`Confidence::Feature`] | no such pattern, but feature predicates, or a transport and no ports (ICMP, IGMP, ESP, ... rules) |
//! | [`Confidence::Port`] | nothing but ports (and a transport); also a rule with no condition at all |
//! | [`Confidence::Unknown`] | — (no signature matched) |
//!
//! # Precedence
//!
//! When several signatures match, the one that decides is the first by:
//!
//! 1. the higher confidence class;
//! 2. the higher `priority`;
//! 3. the greater specificity: first the number of constrained bytes in its
//!    patterns (each masked byte with a non-zero mask, each literal byte,
//!    the shortest literal prefix of a regex), then having ports over not;
//! 4. the lower index in the set (file order; with several files, the
//!    earlier file first).
//!
//! The order is total, so the answer never depends on anything but the set
//! and the flow. When nothing matches and the client's port is below the
//! server's, the flow is tried [swapped](FlowView::swapped), in the same
//! order: a flow whose first packet came from the server (a capture that
//! starts with a DNS response or a server's banner, a request lost before
//! the capture) is named by what the server sent and the port it answers
//! from (a rule of nothing but ports on that port gives confidence
//! `port`).
//!
//! # Applications
//!
//! The master protocol comes from the signatures as above. The
//! application comes from the best application rule that holds for the
//! flow's protocol fields (host name conditions look at the server name,
//! [`Metadata::server_name`]: not at a DHCP client's name, a STUN realm
//! or an SSH banner), first by kind — `hostname exact`, then
//! `hostname suffix` (the longer suffix first), then `hostname regex`,
//! then `alpn` / `ja4` — then by `priority` (higher first), then by
//! position in the set. A deciding signature of class
//! [`Confidence::Signature`] that names an `app` keeps it (a byte pattern
//! that names the application — an SMB dialect, an OCSP request — is the
//! most specific evidence there is); when no application rule holds, the
//! application is the deciding signature's `app`, if it names one.
//!
//! An application rule that names a `protocol` also gives the master
//! protocol, but only where no signature-class rule names one (the best
//! signature is of class feature or port, or none matched): the answer
//! then has that protocol and confidence [`Confidence::Signature`] (the
//! host name, ALPN or JA4 was read from the flow's bytes), and `reason`
//! names the application rule. Otherwise `reason` names the deciding
//! signature, then ` + ` and the application rule.
//!
//! The protocol fields are read ([`protocols::extract`](crate::protocols::extract))
//! only when the set has application rules and the flow has bytes;
//! [`Classifier::classify_with_metadata`] takes fields read already. A
//! flow whose bytes no dissector applies to costs the dissectors' cheap
//! `applies` tests; the lookup itself costs a few hash lookups per host
//! name, whatever the number of rules (see `classify/apps.rs`).
//!
//! ```
//! use dpi_core::{Classifier, Confidence, FlowView, Metadata};
//! use dpi_core::signature::parse_extended;
//!
//! let set = parse_extended(r#"
//! rule tls
//!   protocol TLS
//!   transport tcp
//!   c2s at 0 hex "16 03 0? ?? ?? 01"
//! end
//! rule google
//!   app Google
//!   hostname suffix google.com
//! end
//! rule youtube
//!   app YouTube
//!   hostname suffix youtube.com
//! end
//! rule doh
//!   app DoH_DoT
//!   protocol TLS
//!   hostname exact dns.google
//! end
//! "#, "apps.rules").unwrap();
//! let classifier = Classifier::new(&set).unwrap();
//!
//! let hello = FlowView::new(6, 443).with_c2s(b"\x16\x03\x01\x02\x00\x01");
//! let meta = Metadata { hostname: Some("m.youtube.com".into()), ..Metadata::default() };
//! let c = classifier.classify_with_metadata(&hello, &meta);
//! assert_eq!((&*c.protocol, c.app.as_deref(), &*c.reason), ("TLS", Some("YouTube"), "tls + youtube"));
//!
//! // No byte rule names the flow: the application rule's protocol is taken.
//! let meta = Metadata { hostname: Some("dns.google".into()), ..Metadata::default() };
//! let c = classifier.classify_with_metadata(&FlowView::new(6, 443), &meta);
//! assert_eq!((&*c.protocol, c.app.as_deref(), c.confidence), ("TLS", Some("DoH_DoT"), Confidence::Signature));
//! ```
//!
//! # Other flows
//!
//! A flow can carry what other flows of its capture said about it
//! ([`FlowView::cross`], filled by [`FlowMeter`](crate::FlowMeter); see
//! [`expect`](crate::expect)), and its own first bytes can show a switch
//! to TLS:
//!
//! - announced as an FTP data connection: `FTP_DATA`, whatever matched;
//! - announced as an RTP or RTCP stream by SDP: `RTP` or `RTCP`, unless
//!   the best signature is of class [`Confidence::Signature`] and names
//!   another protocol (ICE puts STUN and DTLS on the media ports);
//! - an in-session upgrade (`STARTTLS`, `STLS`, `AUTH TLS`, see
//!   [`expect::starttls`](crate::expect::starttls)) on a TCP flow labelled
//!   by a guess or by a plain-text protocol of the family (SMTP, IMAP,
//!   POP3, FTP_CONTROL): `SMTPS`, `IMAPS`, `POPS`, `FTPS`;
//! - a server address named by an earlier DNS answer, when
//!   [`Classifier::use_dns_names`] is on and the flow has no server name
//!   of its own: the application rules look at that name; the
//!   application, never the master protocol, is taken from it.
//!
//! The first two and the upgrade give confidence [`Confidence::Signature`]
//! (bytes were read, in another flow or further in this one) and a
//! `reason` that names the announcing flow (`expected from FTP_CONTROL
//! 10.0.0.2:51234 <-> 10.0.0.1:21`) or the command (`upgraded to TLS by
//! STARTTLS`); [`Classification::cross`] is then true.
//!
//! # Early decisions
//!
//! [`Classifier::decide`] classifies a flow whose bytes may still grow. The
//! answer is [`Decision::Final`] when `complete` is true, or when
//!
//! - the best matching signature, if any, cannot stop matching: it has no
//!   `packets` predicate with an upper bound and no regex that looks past
//!   its match (`$`, `\b`, ...), and
//! - no signature of higher precedence could match later: for each, some
//!   condition already fails for good — transport or port; a masked byte or
//!   an `at N` literal that disagrees with bytes already seen, or whose bytes
//!   are all there; a `within N` literal or regex whose first N bytes are
//!   all there; an `at N` regex none of whose literal prefixes fits; a
//!   packet count above its bound; a size or first-payload side that is
//!   known and wrong. A direction holding
//!   [`byte_limit`](FlowView::byte_limit) bytes is complete.
//! - when no signature of the flow's own view matches and its client port
//!   is below its server's (the flow may be named with its sides swapped,
//!   see the [precedence](#precedence) section), the same holds of the
//!   swapped view: no signature ranking above its best match, if any, could
//!   match it later.
//!
//! Otherwise it is [`Decision::Pending`] with the best answer so far; ask
//! again when more bytes arrive. Patterns that may lie anywhere keep a
//! decision pending until their direction is complete.
//!
//! [`Classifier::classify`] costs one automaton pass per direction plus the
//! rules it wakes; [`Classifier::decide`] on an unfinished flow also looks
//! at every rule of higher precedence that can apply to the flow's
//! transport and server port, so its cost grows with those.
//!
//! # Example
//!
//! ```
//! use dpi_core::{Classifier, Confidence, Decision, FlowView};
//! use dpi_core::signature::parse_extended;
//!
//! let set = parse_extended(r#"
//! rule http-get
//!   protocol HTTP
//!   transport tcp
//!   c2s at 0 "GET "
//! end
//! rule tls
//!   protocol TLS
//!   transport tcp
//!   c2s at 0 hex "16 03 0? ?? ?? 01"
//! end
//! rule https-port
//!   protocol TLS
//!   transport tcp
//!   ports 443
//! end
//! "#, "web.rules").unwrap();
//! let classifier = Classifier::new(&set).unwrap();
//!
//! let c = classifier.classify(&FlowView::new(6, 8080).with_c2s(b"GET / HTTP/1.1\r\n"));
//! assert_eq!((&*c.protocol, c.confidence, &*c.reason), ("HTTP", Confidence::Signature, "http-get"));
//!
//! // Port 443 with no bytes yet: a port guess, and a TLS or HTTP pattern may still match.
//! let d = classifier.decide(&FlowView::new(6, 443), false);
//! assert!(matches!(&d, Decision::Pending(c) if c.confidence == Confidence::Port));
//!
//! // The first two bytes rule out both patterns: the port guess is final.
//! let d = classifier.decide(&FlowView::new(6, 443).with_c2s(b"SS"), false);
//! assert!(matches!(&d, Decision::Final(c) if &*c.protocol == "TLS"));
//! ```

mod apps;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use crate::view::FlowView;

use crate::matcher::{BuildError, Matcher, Scratch, Tri};
use crate::signature::{PatternKind, Signature, SignatureSet, Transport};
use crate::Metadata;

/// How a classification was reached; ordered from weakest to strongest
/// (`Unknown < Port < Feature < Signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// No signature matched.
    Unknown,
    /// A rule with only a transport and ports matched: a port guess.
    Port,
    /// A rule with feature predicates or a transport alone matched, no byte pattern.
    Feature,
    /// A byte pattern matched.
    Signature,
}

impl Confidence {
    /// The lower-case name: `signature`, `feature`, `port`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Unknown => "unknown",
            Confidence::Port => "port",
            Confidence::Feature => "feature",
            Confidence::Signature => "signature",
        }
    }

    /// The class of one signature (see the module docs).
    ///
    /// ```
    /// use dpi_core::Confidence;
    /// use dpi_core::signature::{PortSet, Signature, Transport};
    ///
    /// let mut sig = Signature::new("ICMP");
    /// sig.transport = Transport::Other(1);
    /// assert_eq!(Confidence::of(&sig), Confidence::Feature);
    /// sig.ports = PortSet::single(7);
    /// assert_eq!(Confidence::of(&sig), Confidence::Port);
    /// ```
    pub fn of(sig: &Signature) -> Confidence {
        let constrains = |k: &PatternKind| match k {
            PatternKind::Masked { bytes, .. } => bytes.iter().any(|b| !b.is_any()),
            PatternKind::Literal { bytes, .. } => !bytes.is_empty(),
            PatternKind::Regex { .. } => true,
        };
        if sig.patterns.iter().any(|p| constrains(&p.kind)) {
            Confidence::Signature
        } else if !sig.features.is_empty()
            || (sig.ports.is_any() && sig.transport != Transport::Any)
        {
            Confidence::Feature
        } else {
            Confidence::Port
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The label of one flow.
///
/// The strings are shared with the classifier (`Arc<str>`), so producing a
/// classification allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Classification {
    /// The protocol, as the deciding signature names it; `"Unknown"` when none matched.
    pub protocol: Arc<str>,
    /// The application: the best application rule's, else the deciding
    /// signature's when it names one.
    pub app: Option<Arc<str>>,
    /// How the label was reached.
    pub confidence: Confidence,
    /// The deciding signature: its id, else `file:line`, else `#index`;
    /// `"no signature matched"` for an unknown flow.
    pub reason: Arc<str>,
    /// The deciding signature's index in the set (`None` when no signature
    /// decided the protocol).
    pub signature: Option<usize>,
    /// The index of the application rule that gave `app` in the set's
    /// [`apps`](crate::signature::SignatureSet::apps).
    pub app_rule: Option<usize>,
    /// The label used what another flow said ([`FlowView::cross`]) or an
    /// in-session upgrade; `reason` then names that flow or command, so it
    /// differs from flow to flow.
    pub cross: bool,
}

impl Classification {
    /// `protocol` or `protocol.app` (nDPI's form).
    pub fn label(&self) -> String {
        match &self.app {
            Some(app) => format!("{}.{}", self.protocol, app),
            None => self.protocol.to_string(),
        }
    }

    /// True when no signature matched.
    pub fn is_unknown(&self) -> bool {
        self.confidence == Confidence::Unknown
    }
}

/// The answer for a flow that may still grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// More bytes or packets cannot change this answer.
    Final(Classification),
    /// The best answer so far; a signature of higher precedence could still match.
    Pending(Classification),
}

impl Decision {
    /// The classification, final or not.
    pub fn classification(&self) -> &Classification {
        match self {
            Decision::Final(c) | Decision::Pending(c) => c,
        }
    }

    /// Takes the classification, final or not.
    pub fn into_classification(self) -> Classification {
        match self {
            Decision::Final(c) | Decision::Pending(c) => c,
        }
    }

    /// True for [`Decision::Final`].
    pub fn is_final(&self) -> bool {
        matches!(self, Decision::Final(_))
    }
}

struct SigInfo {
    protocol: Arc<str>,
    app: Option<Arc<str>>,
    reason: Arc<str>,
    confidence: Confidence,
}

/// A compiled signature set that labels flows. Immutable, `Send + Sync`.
///
/// See the [module docs](self) for the confidence classes, the precedence
/// among matching signatures and early decisions.
pub struct Classifier {
    matcher: Matcher,
    info: Vec<SigInfo>,
    /// Position of each signature in precedence order (0 decides first).
    rank: Vec<u32>,
    unknown: Classification,
    /// The application rules, indexed.
    apps: apps::AppIndex,
    /// [`CROSS_NAMES`], shared by the labels that use them.
    cross_names: [Arc<str>; 7],
    /// Application rules also look at a DNS answer's name for the server.
    dns_names: bool,
}

/// The protocols other flows or an in-session upgrade can name.
const CROSS_NAMES: [&str; 7] = ["FTP_DATA", "RTP", "RTCP", "SMTPS", "IMAPS", "POPS", "FTPS"];

/// The plain-text protocols an in-session upgrade renames.
const UPGRADED_FROM: [&str; 8] = [
    "SMTP",
    "IMAP",
    "POP3",
    "FTP_CONTROL",
    "SMTPS",
    "IMAPS",
    "POPS",
    "FTPS",
];

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("matcher", &self.matcher)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

fn with_thread_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::new()),
    })
}

impl Classifier {
    /// Compiles `set`. Fails only for a set built in code that goes over a
    /// limit ([`limits`](crate::signature::limits); application rules
    /// count too) or holds a regex that does not compile (an application
    /// rule's host name regex that does not compile matches nothing).
    pub fn new(set: &SignatureSet) -> Result<Classifier, BuildError> {
        Classifier::assemble(set, Matcher::new(set)?)
    }

    /// The classifier of `set` with its matcher compiled earlier and read
    /// back ([`Matcher::from_bytes`]): how a probe with a large set starts
    /// without compiling it again. Refused when the matcher was compiled
    /// from another set ([`Matcher::fits`]).
    ///
    /// ```
    /// use dpi_core::matcher::Matcher;
    /// use dpi_core::signature::SignatureSet;
    /// use dpi_core::{Classifier, FlowView};
    ///
    /// let set = SignatureSet::builtin();
    /// let bytes = Matcher::new(&set).unwrap().to_bytes();
    /// let classifier = Classifier::with_matcher(&set, Matcher::from_bytes(&bytes).unwrap()).unwrap();
    /// let c = classifier.classify(&FlowView::new(6, 8080).with_c2s(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    /// assert_eq!(&*c.protocol, "HTTP");
    ///
    /// let other = dpi_core::signature::parse_extended("rule a\n  protocol A\nend\n", "a.rules").unwrap();
    /// assert!(Classifier::with_matcher(&other, Matcher::from_bytes(&bytes).unwrap()).is_err());
    /// ```
    pub fn with_matcher(set: &SignatureSet, matcher: Matcher) -> Result<Classifier, BuildError> {
        if !matcher.fits(set) {
            return Err(BuildError::mismatch(set.signatures.len(), matcher.len()));
        }
        Classifier::assemble(set, matcher)
    }

    fn assemble(set: &SignatureSet, matcher: Matcher) -> Result<Classifier, BuildError> {
        let apps = apps::AppIndex::new(set)?;
        let mut names: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: &str| -> Arc<str> {
            names
                .entry(s.to_string())
                .or_insert_with(|| Arc::from(s))
                .clone()
        };
        let info: Vec<SigInfo> = set
            .signatures
            .iter()
            .enumerate()
            .map(|(i, sig)| SigInfo {
                protocol: intern(&sig.protocol),
                app: sig.app.as_deref().map(&mut intern),
                reason: match (&sig.id, &sig.location) {
                    (Some(id), _) => Arc::from(id.as_str()),
                    (None, Some(loc)) => Arc::from(loc.to_string()),
                    (None, None) => Arc::from(format!("#{i}")),
                },
                confidence: Confidence::of(sig),
            })
            .collect();
        let key = |i: usize| {
            let sig = &set.signatures[i];
            let bytes = matcher.signature_weight(i);
            (
                std::cmp::Reverse(info[i].confidence),
                std::cmp::Reverse(sig.priority),
                std::cmp::Reverse(bytes),
                std::cmp::Reverse(!sig.ports.is_any()),
                i,
            )
        };
        let mut order: Vec<usize> = (0..set.signatures.len()).collect();
        order.sort_by_cached_key(|&i| key(i));
        let mut rank = vec![0u32; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as u32;
        }
        Ok(Classifier {
            matcher,
            info,
            rank,
            unknown: Classification {
                protocol: Arc::from("Unknown"),
                app: None,
                confidence: Confidence::Unknown,
                reason: Arc::from("no signature matched"),
                signature: None,
                app_rule: None,
                cross: false,
            },
            apps,
            cross_names: CROSS_NAMES.map(Arc::from),
            dns_names: false,
        })
    }

    /// The classifier of the built-in signature set
    /// ([`SignatureSet::builtin`]): the labels `dpi classify` gives when no
    /// signature file is named.
    ///
    /// ```
    /// use dpi_core::{Classifier, FlowView};
    ///
    /// let classifier = Classifier::builtin();
    /// let c = classifier.classify(&FlowView::new(6, 8080).with_c2s(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    /// assert_eq!(&*c.protocol, "HTTP");
    /// ```
    ///
    /// # Panics
    ///
    /// Only if the embedded set does not parse or compile, which the
    /// crate's tests rule out.
    pub fn builtin() -> Classifier {
        match Classifier::new(&SignatureSet::builtin()) {
            Ok(c) => c,
            Err(e) => panic!("the built-in signature set does not compile: {e}"),
        }
    }

    /// Lets the application rules look at the name an earlier DNS answer
    /// gave a flow's server address ([`FlowView::cross`]) when the flow has
    /// no server name of its own (off by default). The application, never
    /// the master protocol, is taken from such a name, and `reason` gets
    /// ` (name <host> from DNS <client> <-> <server>)`. Off by default
    /// because nDPI's label does not do it (it shows its DNS cache's guess
    /// apart, as "FPC"): on the ndpi corpus it names 22 more flows, of
    /// which 3 carry nDPI's application.
    ///
    /// ```
    /// use dpi_core::expect::{Announcer, CachedName, CrossFlow};
    /// use dpi_core::signature::parse_extended;
    /// use dpi_core::{Classifier, FlowView};
    ///
    /// let set = parse_extended(
    ///     "rule tls\n  protocol TLS\n  transport tcp\n  ports 443\nend\n\
    ///      rule netflix\n  app NetFlix\n  hostname suffix nflxvideo.net\nend\n",
    ///     "x.rules",
    /// ).unwrap();
    /// let mut classifier = Classifier::new(&set).unwrap();
    /// let cross = CrossFlow {
    ///     dns: Some(CachedName {
    ///         name: "ipv4-c001.nflxvideo.net".into(),
    ///         by: Announcer {
    ///             protocol: "DNS",
    ///             transport: 17,
    ///             client: "10.0.0.2:40053".parse().unwrap(),
    ///             server: "10.0.0.53:53".parse().unwrap(),
    ///         },
    ///     }),
    ///     ..CrossFlow::default()
    /// };
    /// let view = FlowView::new(6, 443).with_c2s(b"\x17\x03\x03\x00\x20").with_cross(&cross);
    /// assert_eq!(classifier.classify(&view).app, None);
    /// classifier.use_dns_names(true);
    /// let c = classifier.classify(&view);
    /// assert_eq!((&*c.protocol, c.app.as_deref()), ("TLS", Some("NetFlix")));
    /// assert!(c.reason.ends_with("(name ipv4-c001.nflxvideo.net from DNS 10.0.0.2:40053 <-> 10.0.0.53:53)"));
    /// ```
    pub fn use_dns_names(&mut self, on: bool) {
        self.dns_names = on;
    }

    /// The matcher underneath.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Number of signatures.
    pub fn len(&self) -> usize {
        self.info.len()
    }

    /// True when the set has no signature (every flow is unknown).
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Number of application rules.
    pub fn app_rules(&self) -> usize {
        self.apps.rules.len()
    }

    /// The application rule that holds for a flow of IP protocol
    /// `transport` to `server_port` with protocol fields `meta`, by the
    /// precedence of the [module docs](self#applications): its index in
    /// the set's `apps`.
    pub fn application(&self, transport: u8, server_port: u16, meta: &Metadata) -> Option<usize> {
        self.apps.best(transport, server_port, meta).map(|h| h.rule)
    }

    /// `c` with the application of the flow's protocol fields `meta`.
    fn with_app(
        &self,
        mut c: Classification,
        view: &FlowView<'_>,
        meta: &Metadata,
    ) -> Classification {
        if c.app.is_some() && c.confidence == Confidence::Signature {
            return c;
        }
        let Some(hit) = self.apps.best(view.transport, view.server_port, meta) else {
            return self.with_cached_name(c, view, meta);
        };
        let rule = &self.apps.rules[hit.rule];
        c.app = Some(rule.app.clone());
        c.app_rule = Some(hit.rule);
        match &rule.protocol {
            Some(p) if c.confidence < Confidence::Signature => {
                c.protocol = p.clone();
                c.confidence = Confidence::Signature;
                c.reason = rule.reason.clone();
                c.signature = None;
            }
            _ => c.reason = Arc::from(format!("{} + {}", c.reason, rule.reason)),
        }
        c
    }

    /// `c` with the application named by a DNS answer for the flow's
    /// server, when the flow has no server name of its own and a protocol.
    /// The master protocol is never taken from such a rule.
    fn with_cached_name(
        &self,
        mut c: Classification,
        view: &FlowView<'_>,
        meta: &Metadata,
    ) -> Classification {
        let Some(cached) = view.cross.and_then(|x| x.dns.as_ref()) else {
            return c;
        };
        if !self.dns_names {
            return c;
        }
        if c.app.is_some() || c.is_unknown() || meta.server_name().is_some() {
            return c;
        }
        let named = Metadata {
            hostname: Some(cached.name.to_string()),
            dissector: None,
            ..Metadata::default()
        };
        if let Some(hit) = self.apps.best(view.transport, view.server_port, &named) {
            let rule = &self.apps.rules[hit.rule];
            c.app = Some(rule.app.clone());
            c.app_rule = Some(hit.rule);
            c.reason = Arc::from(format!(
                "{} + {} (name {} from {})",
                c.reason, rule.reason, cached.name, cached.by
            ));
            c.cross = true;
        }
        c
    }

    /// `c` renamed by what other flows announced about the flow, or by an
    /// in-session upgrade (see the [module docs](self#other-flows)).
    fn with_cross(&self, mut c: Classification, view: &FlowView<'_>) -> Classification {
        let name = |n: &str| {
            self.cross_names
                .iter()
                .find(|a| &***a == n)
                .cloned()
                .unwrap_or_else(|| Arc::from(n))
        };
        if let Some(e) = view.cross.and_then(|x| x.expected.as_ref()) {
            let media = e.protocol == "RTP" || e.protocol == "RTCP";
            let same_family = media && (&*c.protocol == "RTP" || &*c.protocol == "RTCP");
            if !media || same_family || c.confidence < Confidence::Signature {
                c.protocol = name(e.protocol);
                c.app = None;
                c.confidence = Confidence::Signature;
                c.reason = Arc::from(format!("expected from {}", e.by));
                c.signature = None;
                c.cross = true;
                return c;
            }
        }
        if view.transport == 6
            && (c.confidence < Confidence::Signature || UPGRADED_FROM.contains(&&*c.protocol))
        {
            if let Some(u) = crate::expect::starttls::upgrade(view.c2s, view.s2c) {
                if &*c.protocol != u.protocol || c.signature.is_none() {
                    c.protocol = name(u.protocol);
                    c.confidence = Confidence::Signature;
                    c.reason = Arc::from(format!("upgraded to TLS by {}", u.command));
                    c.signature = None;
                    c.cross = true;
                }
            }
        }
        c
    }

    /// `c` with the application of the view's own protocol fields, read
    /// only when the set has application rules and the flow has bytes.
    fn with_own_app(&self, c: Classification, view: &FlowView<'_>) -> Classification {
        let c = self.with_cross(c, view);
        if self.apps.is_empty() || (view.c2s.is_empty() && view.s2c.is_empty()) {
            return c;
        }
        let meta = view.metadata();
        self.with_app(c, view, &meta)
    }

    /// The signature indices in precedence order (the first decides first).
    pub fn precedence(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rank.len()).collect();
        order.sort_by_key(|&i| self.rank[i]);
        order
    }

    /// The confidence class of signature `index`.
    pub fn confidence_of(&self, index: usize) -> Option<Confidence> {
        self.info.get(index).map(|i| i.confidence)
    }

    fn label_of(&self, s: Option<usize>) -> Classification {
        match s {
            None => self.unknown.clone(),
            Some(s) => {
                let i = &self.info[s];
                Classification {
                    protocol: i.protocol.clone(),
                    app: i.app.clone(),
                    confidence: i.confidence,
                    reason: i.reason.clone(),
                    signature: Some(s),
                    app_rule: None,
                    cross: false,
                }
            }
        }
    }

    fn best(&self, view: &FlowView<'_>, scratch: &mut Scratch) -> Option<usize> {
        self.best_side(view, scratch, false).map(|(s, _)| s)
    }

    /// The deciding signature, and whether it holds for the flow seen
    /// from the other side. When no signature matches, the flow is tried
    /// [swapped](FlowView::swapped) if its client's port is below its
    /// server's: a flow whose first packet came from the server (a capture
    /// that starts with a response, a request lost before the capture) is
    /// then named by what its server sent and the port it answers from. A
    /// service port is the lower of the two far more often than not, and a
    /// client's ephemeral port (32768 and up on Linux, 49152 and up
    /// elsewhere) must not be taken for a service. With `own_after`, the
    /// scratch is left holding the flow's own view (what the outlook of an
    /// early decision reads).
    fn best_side(
        &self,
        view: &FlowView<'_>,
        scratch: &mut Scratch,
        own_after: bool,
    ) -> Option<(usize, bool)> {
        self.matcher.run(view, scratch);
        if let Some(s) = self.first_match(scratch) {
            return Some((s, false));
        }
        if !swappable(view) {
            return None;
        }
        self.matcher.run(&view.swapped(), scratch);
        let swapped = self.first_match(scratch);
        if own_after {
            self.matcher.run(view, scratch);
        }
        swapped.map(|s| (s, true))
    }

    /// The matching signature that ranks first.
    fn first_match(&self, scratch: &Scratch) -> Option<usize> {
        scratch
            .matches()
            .iter()
            .map(|&s| s as usize)
            .min_by_key(|&s| self.rank[s])
    }

    /// Labels a flow, using a scratch kept per thread.
    ///
    /// Equivalent to [`Classifier::decide`] with `complete` true.
    pub fn classify(&self, view: &FlowView<'_>) -> Classification {
        with_thread_scratch(|s| self.classify_with(view, s))
    }

    /// Labels a flow, using the caller's scratch (no allocation once it has
    /// grown, for a set without application rules).
    pub fn classify_with(&self, view: &FlowView<'_>, scratch: &mut Scratch) -> Classification {
        let best = self.best(view, scratch);
        self.with_own_app(self.label_of(best), view)
    }

    /// Labels a flow whose protocol fields were read already (`meta`, for
    /// instance from the whole handshake while `view` holds the first N
    /// bytes): the application rules look at `meta`, not at the view.
    pub fn classify_with_metadata(&self, view: &FlowView<'_>, meta: &Metadata) -> Classification {
        with_thread_scratch(|s| self.classify_with_metadata_in(view, meta, s))
    }

    /// [`Classifier::classify_with_metadata`] with the caller's scratch.
    pub fn classify_with_metadata_in(
        &self,
        view: &FlowView<'_>,
        meta: &Metadata,
        scratch: &mut Scratch,
    ) -> Classification {
        let best = self.best(view, scratch);
        self.with_app(self.with_cross(self.label_of(best), view), view, meta)
    }

    /// Labels a finished flow as `dpi classify` does: the protocol fields
    /// are read from every byte the flow kept (a whole TLS or QUIC
    /// handshake included), the signatures run over the first `bytes`
    /// bytes per direction (give [`FlowConfig::payload_bytes`](crate::FlowConfig::payload_bytes),
    /// so that labels do not depend on the handshake bound). Returns the
    /// label and the fields.
    ///
    /// ```
    /// use dpi_core::{Classifier, FlowConfig, FlowMeter, LinkType, Timestamp};
    /// use dpi_core::matcher::Scratch;
    ///
    /// let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
    /// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, query);
    /// let cfg = FlowConfig::classification();
    /// let bytes = cfg.payload_bytes;
    /// let mut meter = FlowMeter::new(cfg);
    /// let mut flows = Vec::new();
    /// meter.push_frame(LinkType::ETHERNET, Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |f| flows.push(f));
    /// meter.flush(&mut |f| flows.push(f));
    ///
    /// let classifier = Classifier::builtin();
    /// let (c, meta) = classifier.classify_flow(&flows[0], bytes, &mut Scratch::new());
    /// assert_eq!(&*c.protocol, "DNS");
    /// assert_eq!(meta.hostname.as_deref(), Some("www.example.com"));
    /// ```
    pub fn classify_flow(
        &self,
        flow: &crate::Flow,
        bytes: usize,
        scratch: &mut Scratch,
    ) -> (Classification, Metadata) {
        let view = FlowView::from(flow);
        if let Some(s) = flow.settled {
            return (self.settled_label(s, &view), Metadata::default());
        }
        let meta = view.metadata();
        let c = self.classify_with_metadata_in(&view.first_bytes(bytes), &meta, scratch);
        (c, meta)
    }

    /// Every matching signature's label, in precedence order (the first is
    /// what [`Classifier::classify`] returns, application rules aside).
    pub fn classify_all(&self, view: &FlowView<'_>) -> Vec<Classification> {
        with_thread_scratch(|scratch| {
            self.matcher.run(view, scratch);
            let mut m: Vec<usize> = scratch.matches().iter().map(|&s| s as usize).collect();
            m.sort_by_key(|&s| self.rank[s]);
            m.into_iter().map(|s| self.label_of(Some(s))).collect()
        })
    }

    /// Labels a flow that may still grow; see the module docs for when the
    /// answer is final. With `complete` (no more bytes will come) it always is.
    pub fn decide(&self, view: &FlowView<'_>, complete: bool) -> Decision {
        with_thread_scratch(|s| self.decide_with(view, complete, s))
    }

    /// [`Classifier::decide`] with the caller's scratch.
    pub fn decide_with(
        &self,
        view: &FlowView<'_>,
        complete: bool,
        scratch: &mut Scratch,
    ) -> Decision {
        let (best, is_final) = self.decide_best(view, complete, scratch);
        let label = self.with_own_app(self.label_of(best), view);
        if is_final {
            Decision::Final(label)
        } else {
            Decision::Pending(label)
        }
    }

    /// The label of a flow whose bytes were freed with `s` settled
    /// ([`SettledLabel`]): they gave no field, and this signature was
    /// final.
    pub(crate) fn settled_label(&self, s: crate::Settled, view: &FlowView<'_>) -> Classification {
        let best = s
            .signature
            .map(|i| i as usize)
            .filter(|&i| i < self.rank.len());
        let meta = Metadata::default();
        self.with_app(self.with_cross(self.label_of(best), view), view, &meta)
    }

    /// The deciding signature now, and whether it is final (no signature
    /// that ranks higher can still match, and it cannot stop matching).
    fn decide_best(
        &self,
        view: &FlowView<'_>,
        complete: bool,
        scratch: &mut Scratch,
    ) -> (Option<usize>, bool) {
        let best = self.best_side(view, scratch, !complete);
        if complete {
            return (best.map(|(b, _)| b), true);
        }
        if best.is_some_and(|(b, _)| self.matcher.may_stop_matching(b)) {
            return (best.map(|(b, _)| b), false);
        }
        // A label from the swapped flow stands only while no signature can
        // still match the flow's own view.
        let limit = match best {
            Some((b, false)) => self.rank[b],
            _ => u32::MAX,
        };
        let open = self.may_still_match(view, limit, scratch)
            // While the own view matches nothing, the swapped view decides:
            // no label (or its label) is final only when no signature
            // ranking above it can still match the swapped view.
            || (!matches!(best, Some((_, false))) && swappable(view) && {
                let swapped = view.swapped();
                self.matcher.run(&swapped, scratch);
                let limit = best.map_or(u32::MAX, |(b, _)| self.rank[b]);
                self.may_still_match(&swapped, limit, scratch)
            });
        (best.map(|(b, _)| b), !open)
    }

    /// Whether a signature ranking above `limit` may still match `view`
    /// as more bytes come (the matcher has run over `view` into `scratch`).
    fn may_still_match(&self, view: &FlowView<'_>, limit: u32, scratch: &mut Scratch) -> bool {
        self.matcher
            .any_applicable(view, scratch, &mut |s, scratch| {
                self.rank[s] < limit && self.matcher.outlook(s, view, false, scratch) != Tri::No
            })
    }
}

/// Whether a flow that no signature names is tried with its sides swapped
/// (see [`Classifier::best_side`]): its client's port is below its
/// server's.
fn swappable(view: &FlowView<'_>) -> bool {
    view.client_port != 0 && view.client_port < view.server_port
}

/// What `dpi classify` gives [`FlowConfig::release_settled`](crate::FlowConfig::release_settled):
/// a datagram flow's complete bytes go when they give no protocol field
/// and the deciding signature is final with them ([`Classifier::decide`]:
/// no signature that ranks higher can still match, whatever packets come,
/// and it cannot stop matching). The finished flow carries that signature
/// ([`Flow::settled`](crate::Flow::settled)), and
/// [`Classifier::classify_flow`] gives it the label it would have got with
/// its bytes.
///
/// ```
/// use std::sync::Arc;
/// use dpi_core::classify::SettledLabel;
/// use dpi_core::matcher::Scratch;
/// use dpi_core::testing::udp_ipv4_frame;
/// use dpi_core::{Classifier, FlowConfig, FlowMeter, LinkType, Timestamp};
///
/// let classifier = Arc::new(Classifier::builtin());
/// let mut cfg = FlowConfig::classification();
/// let bytes = cfg.payload_bytes;
/// let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
/// let frames = [
///     udp_ipv4_frame(c, 40000, s, 9, &[0x21; 48]), // discard: no rule, no field
///     udp_ipv4_frame(s, 9, c, 40000, &[0x42; 96]),
/// ];
/// let run = |cfg: FlowConfig| {
///     let mut meter = FlowMeter::new(cfg);
///     let mut flows = Vec::new();
///     for (i, f) in frames.iter().enumerate() {
///         let ts = Timestamp::from_micros(i as u64);
///         meter.push_frame(LinkType::ETHERNET, ts, f, f.len() as u32, &mut |f| flows.push(f));
///     }
///     meter.flush(&mut |f| flows.push(f));
///     flows.remove(0)
/// };
/// let kept = run(cfg.clone());
/// cfg.release_settled = Some(Arc::new(SettledLabel::new(classifier.clone(), bytes)));
/// let freed = run(cfg);
/// // The bytes went at the reply; the counters stay, and so does the label.
/// assert!(freed.c2s_payload.is_empty() && freed.s2c_payload.is_empty() && freed.settled.is_some());
/// assert_eq!(freed.s2c.payload_bytes, 96);
/// let mut scratch = Scratch::new();
/// assert_eq!(
///     classifier.classify_flow(&freed, bytes, &mut scratch),
///     classifier.classify_flow(&kept, bytes, &mut scratch)
/// );
/// ```
pub struct SettledLabel {
    classifier: Arc<Classifier>,
    bytes: usize,
}

impl SettledLabel {
    /// The check for `classifier` labelling flows on their first `bytes`
    /// bytes per direction (give [`FlowConfig::payload_bytes`](crate::FlowConfig::payload_bytes)).
    pub fn new(classifier: Arc<Classifier>, bytes: usize) -> Self {
        SettledLabel { classifier, bytes }
    }
}

impl fmt::Debug for SettledLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettledLabel")
            .field("signatures", &self.classifier.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl crate::SettledBytes for SettledLabel {
    fn settle(&self, view: &FlowView<'_>) -> Option<crate::Settled> {
        // The fields are read from every byte kept, as at the flow's end.
        if !view.metadata().is_empty() {
            return None;
        }
        let with = view.first_bytes(self.bytes).with_complete(true, true);
        let (best, is_final) =
            with_thread_scratch(|s| self.classifier.decide_best(&with, false, s));
        let signature = match best {
            Some(b) => Some(u32::try_from(b).ok()?),
            None => None,
        };
        is_final.then_some(crate::Settled { signature })
    }
}
