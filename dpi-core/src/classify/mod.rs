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
//! and the flow.
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

mod view;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use view::FlowView;

use crate::matcher::{BuildError, Matcher, Scratch, Tri};
use crate::signature::{PatternKind, Signature, SignatureSet, Transport};

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
    /// The application, when the deciding signature names one.
    pub app: Option<Arc<str>>,
    /// How the label was reached.
    pub confidence: Confidence,
    /// The deciding signature: its id, else `file:line`, else `#index`;
    /// `"no signature matched"` for an unknown flow.
    pub reason: Arc<str>,
    /// The deciding signature's index in the set.
    pub signature: Option<usize>,
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
}

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
    /// Compiles `set`. Fails only for a set built in code with a regex that
    /// does not compile.
    pub fn new(set: &SignatureSet) -> Result<Classifier, BuildError> {
        let matcher = Matcher::new(set)?;
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
            let bytes: u32 = sig
                .patterns
                .iter()
                .map(|p| crate::matcher::pattern_weight(&p.kind))
                .sum();
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
            },
        })
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
                }
            }
        }
    }

    fn best(&self, view: &FlowView<'_>, scratch: &mut Scratch) -> Option<usize> {
        self.matcher.run(view, scratch);
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

    /// Labels a flow, using the caller's scratch (no allocation once it has grown).
    pub fn classify_with(&self, view: &FlowView<'_>, scratch: &mut Scratch) -> Classification {
        let best = self.best(view, scratch);
        self.label_of(best)
    }

    /// Every matching signature's label, in precedence order (the first is
    /// what [`Classifier::classify`] returns).
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
        let best = self.best(view, scratch);
        let label = self.label_of(best);
        if complete {
            return Decision::Final(label);
        }
        if best.is_some_and(|b| self.matcher.may_stop_matching(b)) {
            return Decision::Pending(label);
        }
        let limit = best.map_or(u32::MAX, |b| self.rank[b]);
        let open = self
            .matcher
            .any_applicable(view, scratch, &mut |s, scratch| {
                self.rank[s] < limit && self.matcher.outlook(s, view, false, scratch) != Tri::No
            });
        if open {
            Decision::Pending(label)
        } else {
            Decision::Final(label)
        }
    }
}
