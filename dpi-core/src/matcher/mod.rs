//! The signature matcher: a [`SignatureSet`] compiled once into an
//! immutable, `Send + Sync` value that tells which signatures hold for a
//! flow.
//!
//! Most users want the [`Classifier`](crate::Classifier), which sits on top
//! of the matcher and picks one label. The matcher is the lower-level piece:
//! [`Matcher::matches`] returns every signature whose conditions all hold.
//!
//! # How a flow is matched
//!
//! 1. **Atoms.** Every pattern contributes the literal bytes a match cannot
//!    do without: a literal pattern its bytes, a masked pattern its longest
//!    run of exact bytes (ties broken towards rarer bytes), a regex the set
//!    of literal prefixes every match starts with (when that set is
//!    finite; a large one is cut to a length that leaves at most 32
//!    distinct prefixes of at least 3 bytes). Case-sensitive atoms at a
//!    fixed offset are not searched for but looked up where they must
//!    sit: for each distinct offset, a
//!    table by first byte of the atoms starting there, so a direction costs
//!    one lookup per offset its bytes reach (a std.sig set of prefixes has
//!    a few dozen offsets) whatever the number of atoms, and short atoms
//!    cost no more than long ones. All the other atoms, in ASCII lower
//!    case, go into one Aho-Corasick automaton with standard semantics and
//!    overlapping search, so every occurrence of every atom is seen; it
//!    scans the bytes a `within N` or floating pattern can use once per
//!    direction. It is a table of our own (a DFA whose byte classes fold
//!    ASCII case), or, for a few atoms that `aho-corasick` finds a
//!    prefilter for or for more than 32 MiB of transitions, that crate's
//!    automaton over the bytes folded to lower case.
//! 2. **Verification.** Each atom occurrence names the patterns it belongs
//!    to, indexed by the offset the atom must sit at (for patterns at a fixed
//!    offset) or not (for patterns that float). The pattern is then checked
//!    in full: masked bytes at their offsets, `within N` bounds, the regex
//!    (anchored for `at N`; run at most once per direction and flow).
//!    Identical patterns of different signatures are compiled and checked
//!    once.
//! 3. **Signatures.** Every signature with at least one atom-bearing pattern
//!    is woken by one of them (its *gate*: the one with the most constrained
//!    bytes); only woken signatures are verified (transport, ports,
//!    features, the remaining patterns). Signatures with no atom at all
//!    (feature rules, port rules, all-wildcard masks, regexes without a
//!    literal) are found through a port index keyed by transport and server
//!    port, so only those that can apply to the flow are looked at.
//!
//! The cost per flow is one lookup per fixed offset and one automaton pass
//! per direction, plus work proportional to the atom occurrences found and
//! the signatures they wake, so it grows far slower than the number of
//! signatures.
//!
//! The per-flow state lives in a [`Scratch`] owned by the caller and reused
//! from flow to flow: after it has grown to the size of the set, matching
//! allocates nothing.
//!
//! A compiled set can be written out with [`Matcher::to_bytes`] and read
//! back with [`Matcher::from_bytes`], which checks every table, so that a
//! probe with a large set compiles it once.
//!
//! # Example
//!
//! ```
//! use dpi_core::matcher::{Matcher, Scratch};
//! use dpi_core::signature::parse_extended;
//! use dpi_core::FlowView;
//!
//! let set = parse_extended(
//!     "rule http\n  protocol HTTP\n  transport tcp\n  c2s at 0 \"GET \"\nend\n\
//!      rule web-port\n  protocol HTTP\n  transport tcp\n  ports 80\nend\n",
//!     "x.rules",
//! ).unwrap();
//! let matcher = Matcher::new(&set).unwrap();
//! let mut scratch = Scratch::new();
//!
//! let view = FlowView::new(6, 80).with_c2s(b"GET / HTTP/1.1\r\n");
//! assert_eq!(matcher.matches(&view, &mut scratch), &[0, 1]);
//!
//! let view = FlowView::new(6, 8080).with_c2s(b"POST / HTTP/1.1\r\n");
//! assert!(matcher.matches(&view, &mut scratch).is_empty());
//! ```

mod compile;
mod dfa;
mod eval;
mod snapshot;

use std::fmt;

use crate::signature::{Direction, SignatureSet};
use crate::view::FlowView;

#[cfg(test)]
pub(crate) use compile::pattern_weight;
pub(crate) use eval::Tri;
pub use snapshot::LoadError;

/// A signature set compiled for matching. Immutable and `Send + Sync`:
/// share one between threads (each thread with its own [`Scratch`]).
/// [`Matcher::to_bytes`] writes it out and [`Matcher::from_bytes`] reads it
/// back, so a large set is compiled once.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Matcher {
    /// [`snapshot::fingerprint`] of the set it was compiled from.
    fingerprint: u64,
    probes: Vec<compile::Probe>,
    sigs: Vec<compile::CompiledSig>,
    /// Case-sensitive atoms at fixed offsets, looked up at those offsets.
    fixed: compile::FixedAtoms,
    /// The automaton of all other atoms (in lower case, matching bytes of
    /// either case), when there are any.
    atoms: Option<compile::AtomTable>,
    /// For each probe, the signatures it gates (flattened: `gate_ranges[p]`
    /// is a range of `gated`).
    gate_ranges: Vec<(u32, u32)>,
    gated: Vec<u32>,
    /// Signatures that no atom can wake, by transport and port.
    ungated: compile::PortIndex,
    /// Every signature, by transport and port (for early decisions).
    all: compile::PortIndex,
    /// Tells this matcher from every other in the process, so that a
    /// scratch drops the regex caches it made for another.
    #[serde(skip, default = "matcher_id")]
    id: u64,
}

/// A number no other matcher of the process has.
pub(crate) fn matcher_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("signatures", &self.sigs.len())
            .field("patterns", &self.probes.len())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Sizes of a compiled set, for diagnostics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MatcherStats {
    /// Signatures in the set.
    pub signatures: usize,
    /// Distinct patterns (identical patterns of several signatures count once).
    pub patterns: usize,
    /// Distinct case-sensitive atoms at a fixed offset (looked up at their
    /// offsets, not searched for).
    pub anchored_atoms: usize,
    /// Distinct other atoms: floating and case-insensitive ones (one
    /// automaton over all captured bytes, ASCII case folded).
    pub floating_atoms: usize,
    /// Patterns with no atom, checked directly when their signature is looked at.
    pub atomless_patterns: usize,
    /// Signatures that no atom wakes (found through the port index).
    pub ungated_signatures: usize,
    /// Heap bytes used by the automaton and the fixed-offset tables
    /// (approximate).
    pub automaton_bytes: usize,
}

/// Why a signature set could not be compiled.
///
/// Sets read by the parsers compile unless several files together go over
/// a set-wide limit ([`limits`](crate::signature::limits)); other errors
/// come from sets built in code. The error names the signature at fault
/// (its index and, when it was read from a file, `file:line`), the pattern
/// when one is, and the limit or the regex parser's reason.
///
/// ```
/// use dpi_core::matcher::Matcher;
/// use dpi_core::signature::{Direction, Pattern, Signature, SignatureSet};
///
/// let mut sig = Signature::new("X");
/// sig.patterns.push(Pattern::literal_at(Direction::Initiator, 0, &[b'A'; 5000]));
/// let set = SignatureSet { signatures: vec![sig], ..Default::default() };
/// let e = Matcher::new(&set).unwrap_err();
/// assert_eq!((e.signature(), e.pattern()), (Some(0), Some(0)));
/// assert!(e.to_string().contains("exceeds the limit of 4096 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BuildErrorKind {
    Signature {
        signature: usize,
        pattern: Option<usize>,
        location: Option<crate::signature::Location>,
        message: String,
    },
    Automaton {
        message: String,
    },
    Mismatch {
        set: usize,
        matcher: usize,
    },
    /// An application rule (index in the set's `apps`) over a limit.
    AppRule {
        rule: usize,
        location: Option<crate::signature::Location>,
        message: String,
    },
}

impl BuildError {
    pub(crate) fn mismatch(set: usize, matcher: usize) -> BuildError {
        BuildError {
            kind: BuildErrorKind::Mismatch { set, matcher },
        }
    }

    pub(crate) fn app_rule(
        rule: usize,
        location: Option<crate::signature::Location>,
        message: String,
    ) -> BuildError {
        BuildError {
            kind: BuildErrorKind::AppRule {
                rule,
                location,
                message,
            },
        }
    }

    /// The index of the signature at fault, when one is.
    pub fn signature(&self) -> Option<usize> {
        match &self.kind {
            BuildErrorKind::Signature { signature, .. } => Some(*signature),
            BuildErrorKind::Automaton { .. }
            | BuildErrorKind::Mismatch { .. }
            | BuildErrorKind::AppRule { .. } => None,
        }
    }

    /// The index of the pattern at fault in its signature, when one is.
    pub fn pattern(&self) -> Option<usize> {
        match &self.kind {
            BuildErrorKind::Signature { pattern, .. } => *pattern,
            BuildErrorKind::Automaton { .. }
            | BuildErrorKind::Mismatch { .. }
            | BuildErrorKind::AppRule { .. } => None,
        }
    }

    /// Where the signature at fault was read from, when known.
    pub fn location(&self) -> Option<&crate::signature::Location> {
        match &self.kind {
            BuildErrorKind::Signature { location, .. }
            | BuildErrorKind::AppRule { location, .. } => location.as_ref(),
            BuildErrorKind::Automaton { .. } | BuildErrorKind::Mismatch { .. } => None,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::Signature {
                signature,
                pattern,
                location,
                message,
            } => {
                if let Some(loc) = location {
                    write!(f, "{loc}: ")?;
                }
                write!(f, "signature {signature}")?;
                if let Some(p) = pattern {
                    write!(f, ", pattern {p}")?;
                }
                write!(f, ": {message}")
            }
            BuildErrorKind::Automaton { message } => {
                write!(f, "cannot build the atom automaton: {message}")
            }
            BuildErrorKind::AppRule {
                rule,
                location,
                message,
            } => {
                if let Some(loc) = location {
                    write!(f, "{loc}: ")?;
                }
                write!(f, "application rule {rule}: {message}")
            }
            BuildErrorKind::Mismatch { set, matcher } => write!(
                f,
                "the compiled matcher ({matcher} signatures) was not compiled from this set \
                 ({set} signatures): compile it again"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Per-flow working memory of a [`Matcher`] (and of the classifier on top
/// of it), owned by the caller and reused from flow to flow.
///
/// A scratch is not tied to one matcher: it grows to the largest set it has
/// been used with. It also holds a search cache for each regex of the last
/// matcher it ran, made when that regex first runs (so that threads, each
/// with its scratch, never share one); using it with another matcher drops
/// them. Resetting between flows is O(1) (generation stamps), so reusing
/// one scratch allocates nothing once it has grown.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    gen: u32,
    probe_stamp: Vec<u32>,
    probe_bits: Vec<u8>,
    sig_stamp: Vec<u32>,
    outlook_stamp: Vec<u32>,
    matched_probes: Vec<u32>,
    matches: Vec<u32>,
    /// The responder's atom occurrences (atom, start, end) while the
    /// initiator's are looked at.
    later: Vec<(usize, usize, usize)>,
    /// A direction's bytes in ASCII lower case, for an automaton of
    /// `aho-corasick`'s (our own table folds case itself).
    lower: Vec<u8>,
    /// The matcher the regex caches were made for (0: none yet).
    owner: u64,
    /// One search cache per probe, made when its regex first runs.
    regex_caches: Vec<Option<regex_automata::meta::Cache>>,
}

const EVAL: [u8; 2] = [1, 4];
const MATCH: [u8; 2] = [2, 8];

impl Scratch {
    /// An empty scratch; it grows on first use.
    pub fn new() -> Self {
        Scratch::default()
    }

    /// `hay` in ASCII lower case, in the scratch's buffer (taken out; put
    /// it back into `lower` when done, so that it is reused).
    fn fold(&mut self, hay: &[u8]) -> Vec<u8> {
        let mut lower = std::mem::take(&mut self.lower);
        lower.clear();
        lower.extend(hay.iter().map(u8::to_ascii_lowercase));
        lower
    }

    /// Starts a new flow for matcher `owner`, a set of `probes` patterns and
    /// `sigs` signatures.
    fn start(&mut self, owner: u64, probes: usize, sigs: usize) {
        if self.owner != owner {
            self.owner = owner;
            self.regex_caches.clear();
        }
        if self.regex_caches.len() < probes {
            self.regex_caches.resize_with(probes, || None);
        }
        if self.probe_stamp.len() < probes {
            self.probe_stamp.resize(probes, 0);
            self.probe_bits.resize(probes, 0);
        }
        if self.sig_stamp.len() < sigs {
            self.sig_stamp.resize(sigs, 0);
            self.outlook_stamp.resize(sigs, 0);
        }
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.probe_stamp.iter_mut().for_each(|s| *s = 0);
            self.sig_stamp.iter_mut().for_each(|s| *s = 0);
            self.outlook_stamp.iter_mut().for_each(|s| *s = 0);
            self.gen = 1;
        }
        self.matched_probes.clear();
        self.matches.clear();
    }

    /// The state bits of probe `p` for the current flow.
    #[inline]
    fn bits(&mut self, p: usize) -> &mut u8 {
        if self.probe_stamp[p] != self.gen {
            self.probe_stamp[p] = self.gen;
            self.probe_bits[p] = 0;
        }
        &mut self.probe_bits[p]
    }

    /// The signatures found by the last run, unordered.
    pub(crate) fn matches(&self) -> &[u32] {
        &self.matches
    }

    /// Marks signature `s` as looked at; false when it already was.
    #[inline]
    fn visit(&mut self, s: usize) -> bool {
        if self.sig_stamp[s] == self.gen {
            false
        } else {
            self.sig_stamp[s] = self.gen;
            true
        }
    }

    /// Marks signature `s` as looked at by an early decision; false when
    /// it already was.
    #[inline]
    fn visit_outlook(&mut self, s: usize) -> bool {
        if self.outlook_stamp[s] == self.gen {
            false
        } else {
            self.outlook_stamp[s] = self.gen;
            true
        }
    }
}

impl Matcher {
    /// Compiles `set`.
    ///
    /// Fails only when a regex does not compile (sets read by the parsers
    /// never fail) or the automaton cannot be built.
    pub fn new(set: &SignatureSet) -> Result<Matcher, BuildError> {
        compile::build(set)
    }

    /// Number of signatures in the compiled set.
    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    /// True when the set has no signature.
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// Sizes of the compiled set.
    pub fn stats(&self) -> MatcherStats {
        MatcherStats {
            signatures: self.sigs.len(),
            patterns: self.probes.len(),
            anchored_atoms: self.fixed.len(),
            floating_atoms: self.atoms.as_ref().map_or(0, |t| t.len()),
            atomless_patterns: self
                .probes
                .iter()
                .filter(|p| !p.has_atom && !p.trivial)
                .count(),
            ungated_signatures: self.ungated.len(),
            automaton_bytes: self.fixed.memory() + self.atoms.as_ref().map_or(0, |t| t.memory()),
        }
    }

    /// The indices (in set order, ascending) of every signature whose
    /// conditions all hold for `view`.
    ///
    /// The slice borrows `scratch` and is valid until its next use.
    pub fn matches<'s>(&self, view: &FlowView<'_>, scratch: &'s mut Scratch) -> &'s [u32] {
        self.run(view, scratch);
        scratch.matches.sort_unstable();
        &scratch.matches
    }

    /// The constrained bytes of signature `s`'s patterns, summed (see
    /// `compile::Probe::weight`): how specific it is, for precedence.
    pub(crate) fn signature_weight(&self, s: usize) -> u32 {
        self.sigs.get(s).map_or(0, |sig| {
            sig.patterns
                .iter()
                .filter_map(|&(p, _)| self.probes.get(p as usize))
                .fold(0u32, |sum, p| sum.saturating_add(p.weight()))
        })
    }

    /// Fills `scratch.matches` (unordered) for `view`.
    pub(crate) fn run(&self, view: &FlowView<'_>, scratch: &mut Scratch) {
        scratch.start(self.id, self.probes.len(), self.sigs.len());
        match &self.atoms {
            Some(
                t @ compile::AtomTable {
                    engine: compile::Engine::Dfa(dfa),
                    ..
                },
            ) if !view.c2s.is_empty() && !view.s2c.is_empty() => {
                self.scan_both(t, dfa, view, scratch)
            }
            _ => {
                for (d, hay) in [view.c2s, view.s2c].into_iter().enumerate() {
                    if hay.is_empty() {
                        continue;
                    }
                    self.scan_fixed(d, hay, scratch);
                    if let Some(t) = &self.atoms {
                        self.scan(t, d, hay, scratch);
                    }
                }
            }
        }
        let mut i = 0;
        while i < scratch.matched_probes.len() {
            let p = scratch.matched_probes[i] as usize;
            i += 1;
            let (lo, hi) = self.gate_ranges[p];
            for k in lo..hi {
                let s = self.gated[k as usize] as usize;
                if scratch.visit(s) && self.verify(s, view, scratch) {
                    scratch.matches.push(s as u32);
                }
            }
        }
        let mut each = |s: u32| {
            let s = s as usize;
            if scratch.visit(s) && self.verify(s, view, scratch) {
                scratch.matches.push(s as u32);
            }
            true
        };
        self.ungated
            .for_each(view.transport, view.server_port, &mut each);
    }

    /// Looks up the fixed-offset atoms in direction `d`'s bytes.
    #[inline]
    fn scan_fixed(&self, d: usize, hay: &[u8], scratch: &mut Scratch) {
        let fx = &self.fixed;
        for (i, &off) in fx.offsets.iter().enumerate() {
            let off = off as usize;
            let Some(&b) = hay.get(off) else {
                break;
            };
            let bucket = fx.bucket(i, b);
            if bucket.is_empty() {
                continue;
            }
            let word = compile::word_at(hay, off);
            for e in bucket {
                if fx.occurs(e, hay, off, word) {
                    let end = off + e.len();
                    for &p in fx.probes(e) {
                        self.on_hit(p as usize, d, hay, end, scratch);
                    }
                }
            }
        }
    }

    /// Both directions' bytes through the fixed-offset tables and the
    /// automaton `dfa` of `table`, with the same calls in the same order as
    /// one direction after the other: the automaton walks both directions
    /// at once ([`dfa::Dfa::for_each_match_pair`]), and the responder's
    /// occurrences wait in the scratch until the initiator's are done.
    fn scan_both(
        &self,
        table: &compile::AtomTable,
        dfa: &dfa::Dfa,
        view: &FlowView<'_>,
        scratch: &mut Scratch,
    ) {
        let hays = [view.c2s, view.s2c];
        let scan = hays.map(|h| &h[..h.len().min(table.scan_limit)]);
        self.scan_fixed(0, hays[0], scratch);
        let mut later = std::mem::take(&mut scratch.later);
        later.clear();
        dfa.for_each_match_pair(scan, |lane, atom, start, end| {
            if lane == 0 {
                self.on_atom(table, atom, start, end, 0, hays[0], scratch);
            } else {
                later.push((atom, start, end));
            }
        });
        self.scan_fixed(1, hays[1], scratch);
        for &(atom, start, end) in &later {
            self.on_atom(table, atom, start, end, 1, hays[1], scratch);
        }
        scratch.later = later;
    }

    /// One automaton pass over direction `d`'s bytes.
    fn scan(&self, table: &compile::AtomTable, d: usize, hay: &[u8], scratch: &mut Scratch) {
        let hay_scan = &hay[..hay.len().min(table.scan_limit)];
        match &table.engine {
            compile::Engine::Dfa(dfa) => dfa.for_each_match(hay_scan, |atom, start, end| {
                self.on_atom(table, atom, start, end, d, hay, scratch)
            }),
            compile::Engine::Prefiltered(ac, _) => {
                use aho_corasick::automaton::Automaton;
                let mut lower = scratch.fold(hay_scan);
                if let Ok(iter) = ac.try_find_overlapping_iter(aho_corasick::Input::new(&lower[..]))
                {
                    for m in iter {
                        let atom = m.pattern().as_usize();
                        self.on_atom(table, atom, m.start(), m.end(), d, hay, scratch);
                    }
                }
                std::mem::swap(&mut scratch.lower, &mut lower);
            }
            compile::Engine::Nfa(ac, _) => {
                let mut lower = scratch.fold(hay_scan);
                if let Ok(iter) = ac.try_find_overlapping_iter(&lower[..]) {
                    for m in iter {
                        let atom = m.pattern().as_usize();
                        self.on_atom(table, atom, m.start(), m.end(), d, hay, scratch);
                    }
                }
                std::mem::swap(&mut scratch.lower, &mut lower);
            }
        }
    }

    /// Atom `atom` of `table` occurs in direction `d` from `start` to `end`:
    /// every probe needing it there (or anywhere) is checked.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn on_atom(
        &self,
        table: &compile::AtomTable,
        atom: usize,
        start: usize,
        end: usize,
        d: usize,
        hay: &[u8],
        scratch: &mut Scratch,
    ) {
        let (anchored, floating) = table.targets(atom);
        if !anchored.is_empty() {
            if let Ok(start) = u32::try_from(start) {
                let lo = anchored.partition_point(|t| t.pos < start);
                for t in anchored[lo..].iter().take_while(|t| t.pos == start) {
                    self.on_hit(t.probe as usize, d, hay, end, scratch);
                }
            }
        }
        for t in floating {
            self.on_hit(t.probe as usize, d, hay, end, scratch);
        }
    }

    /// An atom of probe `p` occurs where the probe needs it, in direction
    /// `d`, ending at `end`: verify the probe there.
    #[inline]
    fn on_hit(&self, p: usize, d: usize, hay: &[u8], end: usize, scratch: &mut Scratch) {
        let before = *scratch.bits(p);
        if before & MATCH[d] != 0 {
            return;
        }
        let probe = &self.probes[p];
        let ok = match probe.hit_check(hay, end) {
            Some(ok) => ok,
            None => {
                if before & EVAL[d] != 0 {
                    return;
                }
                *scratch.bits(p) |= EVAL[d];
                probe.eval(hay, &mut scratch.regex_caches[p])
            }
        };
        if ok {
            *scratch.bits(p) |= MATCH[d] | EVAL[d];
            if before & (MATCH[0] | MATCH[1]) == 0 {
                scratch.matched_probes.push(p as u32);
            }
        }
    }

    /// Whether probe `p` matches direction `d` of the flow; atom-bearing
    /// probes were settled by the scan, the others are evaluated on demand.
    fn probe_matches(
        &self,
        p: usize,
        d: usize,
        view: &FlowView<'_>,
        scratch: &mut Scratch,
    ) -> bool {
        let probe = &self.probes[p];
        if probe.trivial {
            return true;
        }
        let bits = *scratch.bits(p);
        if probe.has_atom || bits & EVAL[d] != 0 {
            return bits & MATCH[d] != 0;
        }
        let ok = probe.eval(view.side(d), &mut scratch.regex_caches[p]);
        *scratch.bits(p) |= EVAL[d] | if ok { MATCH[d] } else { 0 };
        ok
    }

    /// Checks every condition of signature `s`.
    fn verify(&self, s: usize, view: &FlowView<'_>, scratch: &mut Scratch) -> bool {
        let sig = &self.sigs[s];
        if !sig.applies_to(view.transport, view.server_port) {
            return false;
        }
        if !sig
            .features
            .iter()
            .all(|f| eval::feature(f, view, true) == Tri::Yes)
        {
            return false;
        }
        sig.patterns.iter().all(|&(p, dir)| {
            let p = p as usize;
            match dir {
                Direction::Initiator => self.probe_matches(p, 0, view, scratch),
                Direction::Responder => self.probe_matches(p, 1, view, scratch),
                Direction::Either => {
                    self.probe_matches(p, 0, view, scratch)
                        || self.probe_matches(p, 1, view, scratch)
                }
                Direction::Both => {
                    self.probe_matches(p, 0, view, scratch)
                        && self.probe_matches(p, 1, view, scratch)
                }
            }
        })
    }

    /// Whether signature `s` matches now ([`Tri::Yes`]), cannot match
    /// however many more bytes and packets arrive ([`Tri::No`]), or might
    /// ([`Tri::Maybe`]). Call after [`Matcher::run`] on the same view and
    /// scratch.
    pub(crate) fn outlook(
        &self,
        s: usize,
        view: &FlowView<'_>,
        complete: bool,
        scratch: &mut Scratch,
    ) -> Tri {
        let sig = &self.sigs[s];
        if !sig.applies_to(view.transport, view.server_port) {
            return Tri::No;
        }
        // With every byte in, an unmatched pattern settles the signature
        // at once: the patterns are looked at first then (the features
        // otherwise, as they are cheaper than asking whether more bytes
        // could still match).
        let bytes_done = complete || (view.c2s_complete && view.s2c_complete);
        if bytes_done {
            let p = self.patterns_outlook(sig, view, complete, scratch);
            if p == Tri::No {
                return Tri::No;
            }
            p.and(Self::features_outlook(sig, view, complete))
        } else {
            let f = Self::features_outlook(sig, view, complete);
            if f == Tri::No {
                return Tri::No;
            }
            f.and(self.patterns_outlook(sig, view, complete, scratch))
        }
    }

    /// The features' part of [`outlook`](Self::outlook).
    fn features_outlook(sig: &compile::CompiledSig, view: &FlowView<'_>, complete: bool) -> Tri {
        let mut all = Tri::Yes;
        for f in &sig.features {
            all = all.and(eval::feature(f, view, complete));
            if all == Tri::No {
                return Tri::No;
            }
        }
        all
    }

    /// The patterns' part of [`outlook`](Self::outlook).
    fn patterns_outlook(
        &self,
        sig: &compile::CompiledSig,
        view: &FlowView<'_>,
        complete: bool,
        scratch: &mut Scratch,
    ) -> Tri {
        let mut all = Tri::Yes;
        for &(p, dir) in sig.patterns.iter() {
            let p = p as usize;
            let mut side = |d: usize| {
                if self.probe_matches(p, d, view, scratch) {
                    Tri::Yes
                } else {
                    let hay = view.side(d);
                    let done = complete
                        || view.side_complete(d)
                        || view.byte_limit.is_some_and(|n| hay.len() >= n);
                    if done {
                        Tri::No
                    } else {
                        self.probes[p].could_grow_into_match(hay)
                    }
                }
            };
            let t = match dir {
                Direction::Initiator => side(0),
                Direction::Responder => side(1),
                Direction::Either => side(0).or(side(1)),
                Direction::Both => side(0).and(side(1)),
            };
            all = all.and(t);
            if all == Tri::No {
                return Tri::No;
            }
        }
        all
    }

    /// True when `pred` holds for some signature that could apply to a
    /// flow with this transport and server port (each is asked at most once
    /// per flow; the search stops at the first `true`). Call after
    /// [`Matcher::run`] on the same view and scratch.
    pub(crate) fn any_applicable(
        &self,
        view: &FlowView<'_>,
        scratch: &mut Scratch,
        pred: &mut dyn FnMut(usize, &mut Scratch) -> bool,
    ) -> bool {
        !self
            .all
            .for_each(view.transport, view.server_port, &mut |s| {
                !(scratch.visit_outlook(s as usize) && pred(s as usize, scratch))
            })
    }

    /// Whether a signature that matches now could stop matching as the
    /// flow grows (a `packets` upper bound, a regex that looks ahead).
    pub(crate) fn may_stop_matching(&self, s: usize) -> bool {
        self.sigs[s].may_stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_generation_wraps() {
        let mut s = Scratch::new();
        s.start(1, 2, 2);
        *s.bits(0) = MATCH[0];
        assert!(s.visit(1));
        s.gen = u32::MAX;
        s.start(1, 2, 2);
        assert_eq!(s.gen, 1);
        assert_eq!(*s.bits(0), 0);
        assert!(s.visit(1));
        assert!(!s.visit(1));
    }

    #[test]
    fn a_regex_that_looks_ahead_marks_every_signature_that_shares_it() {
        let set = crate::signature::parse_extended(
            "rule a\n  protocol A\n  c2s regex \"abc$\"\nend\n\
             rule b\n  protocol B\n  c2s \"xyz\"\n  c2s regex \"abc$\"\nend\n\
             rule c\n  protocol C\n  c2s regex \"^abc\"\nend\n\
             rule d\n  protocol D\n  c2s regex \"abc\\b\"\nend\n",
            "t.rules",
        )
        .unwrap();
        let m = Matcher::new(&set).unwrap();
        let stops: Vec<bool> = (0..4).map(|s| m.may_stop_matching(s)).collect();
        assert_eq!(stops, [true, true, false, true]);
    }

    #[test]
    fn atoms_cut_from_many_prefixes_wake_their_regex() {
        // 60 and 112 literal prefixes: both regexes get cut atoms.
        let set = crate::signature::parse_extended(
            "rule sip\n  protocol SIP\n  either at 0 regex \"SIP/2\\.0 [1-6][0-9][0-9] \"\nend\n\
             rule proxy\n  protocol HTTP_Proxy\n  transport tcp\n  \
             c2s at 0 regex \"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) (?i:https?)://\"\nend\n",
            "cut.rules",
        )
        .unwrap();
        let built = Matcher::new(&set).unwrap();
        assert!(built.probes.iter().all(|p| p.has_atom));
        let read = Matcher::from_bytes(&built.to_bytes()).unwrap();
        let mut scratch = Scratch::new();
        for m in [&built, &read] {
            for class in b'1'..=b'7' {
                let status = format!("SIP/2.0 {}03 x\r\n", char::from(class));
                for view in [
                    FlowView::new(17, 5060).with_c2s(status.as_bytes()),
                    FlowView::new(17, 5060)
                        .with_c2s(b"OPTIONS sip:a SIP/2.0\r\n")
                        .with_s2c(status.as_bytes()),
                ] {
                    let want: &[u32] = if class <= b'6' { &[0] } else { &[] };
                    assert_eq!(m.matches(&view, &mut scratch), want, "{status}");
                }
            }
            for method in ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"] {
                for scheme in ["http", "HTTPS", "hTtP"] {
                    let req = format!("{method} {scheme}://example.com/ HTTP/1.1\r\n");
                    let view = FlowView::new(6, 3128).with_c2s(req.as_bytes());
                    assert_eq!(m.matches(&view, &mut scratch), &[1], "{req}");
                }
            }
            let view = FlowView::new(6, 3128).with_c2s(b"GET /index.html HTTP/1.1\r\n");
            assert!(m.matches(&view, &mut scratch).is_empty());
        }
    }

    #[test]
    fn signature_weights_are_those_of_the_patterns() {
        // The weights read from the compiled probes, in a set compiled here
        // and in one read back, are those worked out from the patterns.
        let mut set = crate::signature::SignatureSet::builtin();
        set.extend(
            crate::signature::parse_extended(
                "rule w\n  protocol W\n  c2s regex \"^(?:abc|de)[0-9]+\"\n  \
                 s2c at 2 hex \"01 ?? 03\"\n  c2s nocase \"HeLLo\"\nend\n\
                 rule cut\n  protocol SIP\n  either at 0 regex \"SIP/2\\.0 [1-6][0-9][0-9] \"\nend\n",
                "w.rules",
            )
            .unwrap(),
        );
        let built = Matcher::new(&set).unwrap();
        let read = Matcher::from_bytes(&built.to_bytes()).unwrap();
        for (i, sig) in set.signatures.iter().enumerate() {
            let want: u32 = sig.patterns.iter().map(|p| pattern_weight(&p.kind)).sum();
            assert_eq!(built.signature_weight(i), want, "signature {i}");
            assert_eq!(read.signature_weight(i), want, "signature {i}");
        }
        // The masked pattern counts its 2 constrained bytes, the literal its 5.
        let last = set.signatures.len() - 1;
        assert!(built.signature_weight(last - 1) >= 2 + 5 + 2);
        // A regex whose atoms were cut from 60 prefixes weighs nothing, as
        // when it had no atom.
        assert_eq!(built.signature_weight(last), 0);
    }
}
