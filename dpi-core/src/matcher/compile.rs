//! Compiling a signature set: distinct patterns ("probes"), their atoms,
//! the atom automata, the gates and the port indices.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use aho_corasick::automaton::Automaton;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_syntax::hir::literal::{rank, ExtractKind, Extractor};
use regex_syntax::hir::Look;

use super::{BuildError, BuildErrorKind, Matcher};
use crate::signature::limits::{self, Budget};
use crate::signature::{
    compile_regex, parse_regex_hir, Direction, Feature, MaskedByte, PatternKind, Position,
    Signature, SignatureSet,
};

/// At most this many literal prefixes of one regex become atoms; a regex
/// with more has them cut shorter ([`regex_atoms`]).
const MAX_REGEX_ATOMS: usize = 32;

/// Literal prefixes are cut no shorter than this many bytes to make atoms;
/// a regex whose prefixes stay too many even then is checked without an
/// atom.
const MIN_CUT_ATOM: usize = 3;

/// Port ranges up to this many ports in total are expanded into the exact
/// port map; wider ones are kept as ranges and checked one by one.
const MAX_EXPANDED_PORTS: u32 = 256;

/// At most this many (signature, port) entries in the exact port map of one
/// index; the ports of later signatures are kept as ranges, so the index
/// stays linear in the size of the set.
const MAX_EXPANDED_ENTRIES: usize = 1 << 20;

/// At most this many distinct offsets get a lookup table of fixed-offset
/// atoms (each costs 1 KiB); atoms at further offsets go to the automaton,
/// which checks their position as it finds them.
pub(crate) const MAX_FIXED_OFFSETS: usize = 4096;

/// The atom automaton is a DFA when its transition table is estimated to
/// fit in this many bytes (fastest to search), else a contiguous NFA
/// (memory and build time linear in the atoms' bytes). 10,000 signatures
/// with 3,500 literals anywhere take a few MiB; at 4 MiB they were an NFA
/// and classified a flow about 1.4 times slower.
const MAX_DFA_BYTES: usize = 32 << 20;

/// One distinct pattern (direction aside), compiled.
#[derive(Serialize, Deserialize)]
pub(crate) struct Probe {
    pub(crate) kind: ProbeKind,
    /// The pattern has at least one atom: it can only match where the scan
    /// found one, so its result is settled by the scan.
    pub(crate) has_atom: bool,
    /// The pattern constrains nothing and matches any bytes, even none.
    pub(crate) trivial: bool,
}

impl Probe {
    /// The constrained bytes of the pattern it was compiled from, as used
    /// for gates and precedence: a masked byte with a non-zero mask, each
    /// literal byte, the shortest literal prefix of a regex (0 without
    /// one). Read from what compiling kept, so no regex is parsed again.
    pub(crate) fn weight(&self) -> u32 {
        let n = match &self.kind {
            ProbeKind::Masked { checks } => checks.len(),
            ProbeKind::Literal { bytes, .. } => bytes.len(),
            ProbeKind::Regex { cut: true, .. } => 0,
            ProbeKind::Regex { prefixes, .. } => prefixes
                .as_ref()
                .and_then(|p| p.iter().map(|l| l.len()).min())
                .unwrap_or(0),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(
    try_from = "super::snapshot::WireProbeKind",
    into = "super::snapshot::WireProbeKind"
)]
pub(crate) enum ProbeKind {
    /// Masked bytes: the constrained bytes only, at absolute offsets.
    Masked { checks: Box<[(usize, u8, u8)]> },
    /// A literal; for `nocase` the bytes are lower-cased.
    Literal {
        bytes: Box<[u8]>,
        nocase: bool,
        position: Position,
    },
    /// A regex, with its literal prefixes when it has a usable set.
    Regex {
        /// Compiled when the set is compiled; in a set read back from bytes,
        /// on first use (`None`: it did not compile, and never matches).
        re: OnceLock<Option<Regex>>,
        /// What `re` is compiled from (a compiled set written out keeps it).
        source: Box<str>,
        position: Position,
        prefixes: Option<Box<[Box<[u8]>]>>,
        /// The bytes a match can begin with, one bit each (every bit when
        /// a match can be empty): at [`Position::At`] a byte outside the
        /// set rules the regex out without running it.
        first: FirstBytes,
        /// `prefixes` are all the regex matches: one found where the
        /// pattern needs it is a match, with no need to run the regex.
        exact: bool,
        /// `prefixes` were cut from a larger set ([`regex_atoms`]): they
        /// wake the regex, and weigh nothing in precedence, as a regex
        /// without a usable set.
        cut: bool,
        /// In a set read back from bytes, the budget its regexes are
        /// compiled under on first use (shared by all of them).
        lazy: Option<Arc<LazyRegexBudget>>,
    },
}

/// The compiled size of the regexes of a matcher read back from bytes,
/// compiled one by one on first use. A matcher written by
/// [`Matcher::to_bytes`](super::Matcher::to_bytes) was compiled within
/// [`MAX_SET_REGEX_BYTES`](limits::MAX_SET_REGEX_BYTES); one that was
/// altered could name any number of costly regexes. Past twice that limit
/// (room for another regex engine version's sizes) no further regex is
/// compiled: it matches nothing, and the time spent compiling stays
/// bounded too.
#[derive(Debug, Default)]
pub(crate) struct LazyRegexBudget {
    used: AtomicUsize,
    spent: AtomicBool,
}

impl LazyRegexBudget {
    /// Compiles `source` if the budget allows.
    pub(crate) fn compile(&self, source: &str) -> Option<Regex> {
        if self.spent.load(Ordering::Relaxed) {
            return None;
        }
        let re = crate::signature::compile_regex(source).ok()?;
        let size = re.memory_usage();
        let before = self.used.fetch_add(size, Ordering::Relaxed);
        if before.saturating_add(size) > 2 * limits::MAX_SET_REGEX_BYTES {
            self.spent.store(true, Ordering::Relaxed);
            return None;
        }
        Some(re)
    }
}

/// One signature, compiled: what the matcher needs to verify it.
#[derive(Serialize, Deserialize)]
pub(crate) struct CompiledSig {
    /// IP protocol number, or `None` for any.
    pub(crate) transport: Option<u8>,
    /// Port ranges; empty for any port.
    pub(crate) ports: Box<[(u16, u16)]>,
    pub(crate) features: Box<[Feature]>,
    /// (probe, direction) per pattern, in signature order.
    pub(crate) patterns: Box<[(u32, Direction)]>,
    /// The signature could stop matching as the flow grows: a `packets`
    /// feature has an upper bound, or a regex looks at what follows its match.
    pub(crate) may_stop: bool,
}

impl CompiledSig {
    #[inline]
    pub(crate) fn applies_to(&self, transport: u8, server_port: u16) -> bool {
        self.transport.is_none_or(|t| t == transport)
            && (self.ports.is_empty()
                || self
                    .ports
                    .iter()
                    .any(|&(lo, hi)| lo <= server_port && server_port <= hi))
    }
}

/// Where an atom occurrence points: probe `probe`, needing the atom to
/// start at `pos` (anchored targets) or anywhere (floating targets).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) pos: u32,
    pub(crate) probe: u32,
}

/// How the atoms are searched for. Either way the atoms are in ASCII lower
/// case and match bytes of either case.
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    try_from = "super::snapshot::WireEngine",
    into = "super::snapshot::WireEngine"
)]
pub(crate) enum Engine {
    /// Our own table (see [`super::dfa`]), folding case in its byte classes.
    Dfa(super::dfa::Dfa),
    /// Few atoms: `aho-corasick`'s DFA with its prefilter, which skips
    /// through the bytes to where an atom can start (the bytes are folded
    /// first).
    Prefiltered(aho_corasick::dfa::DFA, Box<[Box<[u8]>]>),
    /// An Aho-Corasick contiguous NFA, for sets whose DFA would be too
    /// large; it matches bytes exactly, so the bytes are folded first.
    Nfa(AhoCorasick, Box<[Box<[u8]>]>),
}

/// An automaton over distinct atoms and, per atom, its targets: first the
/// anchored ones sorted by position, then the floating ones.
#[derive(Serialize, Deserialize)]
pub(crate) struct AtomTable {
    pub(crate) engine: Engine,
    /// Only the first this many bytes can hold a wanted atom occurrence
    /// (the furthest end of an anchored atom; `usize::MAX` with floating ones).
    pub(crate) scan_limit: usize,
    pub(super) ranges: Vec<(u32, u32, u32)>,
    pub(super) targets: Vec<Target>,
}

impl AtomTable {
    #[inline]
    pub(crate) fn targets(&self, atom: usize) -> (&[Target], &[Target]) {
        let (lo, mid, hi) = self.ranges[atom];
        (
            &self.targets[lo as usize..mid as usize],
            &self.targets[mid as usize..hi as usize],
        )
    }

    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    pub(crate) fn memory(&self) -> usize {
        let engine = match &self.engine {
            Engine::Dfa(d) => d.memory(),
            Engine::Prefiltered(ac, _) => ac.memory_usage(),
            Engine::Nfa(ac, _) => ac.memory_usage(),
        };
        engine
            + self.ranges.len() * std::mem::size_of::<(u32, u32, u32)>()
            + self.targets.len() * std::mem::size_of::<Target>()
    }
}

/// Case-sensitive atoms at fixed offsets, looked up where they must be
/// rather than searched for: for each distinct offset, the atoms starting
/// there bucketed by their first byte. A flow costs one lookup per offset
/// that its bytes reach, plus a comparison per atom sharing the byte found.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct FixedAtoms {
    /// Distinct start offsets, ascending.
    pub(crate) offsets: Box<[u32]>,
    /// For offset index `i` and byte `b`, the entries starting with `b` at
    /// that offset are `entries[buckets[i * 256 + b]..buckets[i * 256 + b + 1]]`.
    pub(super) buckets: Box<[u32]>,
    pub(super) entries: Box<[FixedEntry]>,
    /// The atoms' bytes, one after the other.
    pub(super) bytes: Box<[u8]>,
    /// The probes of each entry.
    pub(super) probes: Box<[u32]>,
    /// Distinct atoms (whatever their offsets).
    distinct: usize,
}

/// One atom at one offset, and the probes needing it there.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(crate) struct FixedEntry {
    /// The atom's first (up to) 8 bytes as a little-endian word, and the
    /// mask of those bytes: most atoms are compared in one instruction.
    pub(crate) head: u64,
    pub(crate) head_mask: u64,
    pub(super) bytes: (u32, u32),
    pub(super) probes: (u32, u32),
}

impl FixedEntry {
    /// The atom's length.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        (self.bytes.1 - self.bytes.0) as usize
    }
}

/// The (up to) 8 bytes of `hay` from `off` as a little-endian word, zero
/// past the end.
#[inline]
pub(crate) fn word_at(hay: &[u8], off: usize) -> u64 {
    match hay.get(off..off.saturating_add(8)) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
        None => {
            let mut w = [0u8; 8];
            let rest = hay.get(off..).unwrap_or(&[]);
            w[..rest.len().min(8)].copy_from_slice(&rest[..rest.len().min(8)]);
            u64::from_le_bytes(w)
        }
    }
}

impl FixedAtoms {
    /// The atoms at offset index `i` whose first byte is `b`.
    #[inline]
    pub(crate) fn bucket(&self, i: usize, b: u8) -> &[FixedEntry] {
        let k = i * 256 + usize::from(b);
        &self.entries[self.buckets[k] as usize..self.buckets[k + 1] as usize]
    }

    /// The bytes of `e`.
    #[inline]
    pub(crate) fn atom(&self, e: &FixedEntry) -> &[u8] {
        &self.bytes[e.bytes.0 as usize..e.bytes.1 as usize]
    }

    /// Whether `e` occurs in `hay` at `off`, where `word` is
    /// [`word_at`]`(hay, off)`.
    #[inline]
    pub(crate) fn occurs(&self, e: &FixedEntry, hay: &[u8], off: usize, word: u64) -> bool {
        let len = e.len();
        word & e.head_mask == e.head
            && off.saturating_add(len) <= hay.len()
            && (len <= 8 || hay.get(off + 8..off + len) == self.atom(e).get(8..))
    }

    /// The probes of `e`.
    #[inline]
    pub(crate) fn probes(&self, e: &FixedEntry) -> &[u32] {
        &self.probes[e.probes.0 as usize..e.probes.1 as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.distinct
    }

    pub(crate) fn memory(&self) -> usize {
        self.offsets.len() * 4
            + self.buckets.len() * 4
            + self.entries.len() * std::mem::size_of::<FixedEntry>()
            + self.bytes.len()
            + self.probes.len() * 4
    }

    /// Builds the table from the collected atoms (anchored targets only).
    fn build(c: &AtomCollector) -> FixedAtoms {
        // (offset, atom id, probe), sorted: grouping by offset, then by atom.
        let mut all: Vec<(u32, u8, usize, u32)> = Vec::new();
        for (id, targets) in c.anchored.iter().enumerate() {
            for t in targets {
                all.push((t.pos, c.atoms[id][0], id, t.probe));
            }
        }
        all.sort_unstable();
        all.dedup();
        let mut offsets: Vec<u32> = all.iter().map(|a| a.0).collect();
        offsets.dedup();
        let mut buckets = vec![0u32; offsets.len() * 256 + 1];
        let mut entries: Vec<FixedEntry> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut probes: Vec<u32> = Vec::new();
        let mut placed: HashMap<usize, (u32, u32)> = HashMap::new();
        let mut i = 0;
        let mut slot = 0;
        for (oi, &off) in offsets.iter().enumerate() {
            for b in 0..256usize {
                buckets[oi * 256 + b] = entries.len() as u32;
                while i < all.len() && all[i].0 == off && usize::from(all[i].1) == b {
                    let id = all[i].2;
                    let lo = probes.len() as u32;
                    while i < all.len() && all[i].0 == off && all[i].2 == id {
                        probes.push(all[i].3);
                        i += 1;
                    }
                    let span = *placed.entry(id).or_insert_with(|| {
                        let lo = bytes.len() as u32;
                        bytes.extend_from_slice(&c.atoms[id]);
                        (lo, bytes.len() as u32)
                    });
                    let atom = &c.atoms[id];
                    let head_len = atom.len().min(8);
                    entries.push(FixedEntry {
                        head: word_at(&atom[..head_len], 0),
                        head_mask: if head_len == 8 {
                            u64::MAX
                        } else {
                            (1u64 << (8 * head_len)) - 1
                        },
                        bytes: span,
                        probes: (lo, probes.len() as u32),
                    });
                }
            }
            slot = oi * 256 + 256;
        }
        buckets[slot] = entries.len() as u32;
        FixedAtoms {
            offsets: offsets.into_boxed_slice(),
            buckets: buckets.into_boxed_slice(),
            entries: entries.into_boxed_slice(),
            bytes: bytes.into_boxed_slice(),
            probes: probes.into_boxed_slice(),
            distinct: c.anchored.iter().filter(|t| !t.is_empty()).count(),
        }
    }
}

/// Collects atoms and their targets before the automaton is built.
#[derive(Default)]
struct AtomCollector {
    ids: HashMap<Vec<u8>, usize>,
    scan_limit: usize,
    atoms: Vec<Vec<u8>>,
    anchored: Vec<Vec<Target>>,
    floating: Vec<Vec<Target>>,
}

impl AtomCollector {
    /// Registers `atom` for `probe`: at `pos`, or anywhere ending by `end`.
    fn add(&mut self, atom: &[u8], pos: Option<usize>, end: usize, probe: u32) {
        let id = match self.ids.get(atom) {
            Some(&id) => id,
            None => {
                let id = self.atoms.len();
                self.ids.insert(atom.to_vec(), id);
                self.atoms.push(atom.to_vec());
                self.anchored.push(Vec::new());
                self.floating.push(Vec::new());
                id
            }
        };
        let end = pos.map_or(end, |p| p.saturating_add(atom.len()));
        self.scan_limit = self.scan_limit.max(end);
        match pos {
            Some(pos) => self.anchored[id].push(Target {
                // Positions past u32 can never be reached by a scan (the
                // scan skips hits that start there); clamp them.
                pos: u32::try_from(pos).unwrap_or(u32::MAX),
                probe,
            }),
            None => self.floating[id].push(Target { pos: 0, probe }),
        }
    }

    fn build(self) -> Result<Option<AtomTable>, BuildError> {
        if self.atoms.is_empty() {
            return Ok(None);
        }
        let automaton_error = |message: String| BuildError {
            kind: BuildErrorKind::Automaton { message },
        };
        let engine = Engine::build(&self.atoms).map_err(automaton_error)?;
        let mut ranges = Vec::with_capacity(self.atoms.len());
        let mut targets = Vec::new();
        for (mut anchored, floating) in self.anchored.into_iter().zip(self.floating) {
            anchored.sort_by_key(|t| (t.pos, t.probe));
            anchored.dedup_by_key(|t| (t.pos, t.probe));
            let lo = targets.len() as u32;
            targets.extend(anchored);
            let mid = targets.len() as u32;
            targets.extend(floating);
            ranges.push((lo, mid, targets.len() as u32));
        }
        Ok(Some(AtomTable {
            engine,
            scan_limit: self.scan_limit,
            ranges,
            targets,
        }))
    }
}

impl Engine {
    /// The engine for `atoms` (in ASCII lower case): our own table unless
    /// `aho-corasick` finds a prefilter worth it (few atoms) or the table
    /// would be over [`MAX_DFA_BYTES`].
    pub(crate) fn build(atoms: &[Vec<u8>]) -> Result<Engine, String> {
        let boxed = || atoms.iter().map(|a| a.clone().into_boxed_slice()).collect();
        Ok(match automaton_kind(atoms) {
            AhoCorasickKind::DFA => {
                let ac = super::dfa::automaton(atoms, true)?;
                if ac.prefilter().is_some() {
                    Engine::Prefiltered(ac, boxed())
                } else {
                    Engine::Dfa(super::dfa::Dfa::from_automaton(&ac, atoms)?)
                }
            }
            kind => Engine::Nfa(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(kind))
                    .build(atoms)
                    .map_err(|e| e.to_string())?,
                boxed(),
            ),
        })
    }
}

/// The automaton kind for `atoms` (in lower case): a DFA when its
/// estimated transition table (one state per atom byte, a row per byte
/// class rounded up to a power of two as in `aho-corasick`'s DFA, which our
/// table is read from; 4 bytes per entry) fits in [`MAX_DFA_BYTES`], else a
/// contiguous NFA. Either way the build costs time and memory linear in the
/// atoms' bytes (the DFA's within its budget).
fn automaton_kind(atoms: &[Vec<u8>]) -> AhoCorasickKind {
    let mut seen = [false; 256];
    let mut states = 1usize;
    for a in atoms {
        states = states.saturating_add(a.len());
        for &b in a {
            seen[usize::from(b)] = true;
        }
    }
    // Each byte that occurs may split a class; bytes that never occur share one.
    let classes = (seen.iter().filter(|&&b| b).count() + 1).min(256);
    let stride = classes.next_power_of_two();
    if states.saturating_mul(stride).saturating_mul(4) <= MAX_DFA_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    }
}

/// Signatures by transport and server port. Keys use 256 for "any
/// transport".
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct PortIndex {
    #[serde(serialize_with = "sorted")]
    pub(super) exact: hashbrown::HashMap<(u16, u16), Vec<u32>>,
    #[serde(serialize_with = "sorted")]
    pub(super) ranges: hashbrown::HashMap<u16, Vec<(u16, u16, u32)>>,
    #[serde(serialize_with = "sorted")]
    pub(super) any_port: hashbrown::HashMap<u16, Vec<u32>>,
    count: usize,
    /// Entries of `exact` so far.
    expanded: usize,
}

const ANY_TRANSPORT: u16 = 256;

/// A map written in key order, so that a compiled set's bytes are the same
/// every time it is written.
fn sorted<K: Ord + Serialize, V: Serialize, S: serde::Serializer>(
    map: &hashbrown::HashMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    s.collect_map(entries)
}

impl PortIndex {
    fn insert(&mut self, s: u32, sig: &CompiledSig) {
        self.count += 1;
        let key = sig.transport.map_or(ANY_TRANSPORT, u16::from);
        if sig.ports.is_empty() {
            self.any_port.entry(key).or_default().push(s);
            return;
        }
        let total: u32 = sig
            .ports
            .iter()
            .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
            .sum();
        let expand =
            total <= MAX_EXPANDED_PORTS && self.expanded + total as usize <= MAX_EXPANDED_ENTRIES;
        if expand {
            self.expanded += total as usize;
        }
        for &(lo, hi) in sig.ports.iter() {
            if expand {
                for port in lo..=hi {
                    self.exact.entry((key, port)).or_default().push(s);
                }
            } else {
                self.ranges.entry(key).or_default().push((lo, hi, s));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Calls `f` for each signature that can apply to `transport` and
    /// `port` (a signature with several matching ranges may come twice),
    /// until `f` returns false. Returns false when stopped early.
    #[inline]
    pub(crate) fn for_each(
        &self,
        transport: u8,
        port: u16,
        f: &mut dyn FnMut(u32) -> bool,
    ) -> bool {
        if self.count == 0 {
            return true;
        }
        for key in [u16::from(transport), ANY_TRANSPORT] {
            if let Some(v) = self.exact.get(&(key, port)) {
                if !v.iter().all(|&s| f(s)) {
                    return false;
                }
            }
            if let Some(v) = self.ranges.get(&key) {
                for &(lo, hi, s) in v {
                    if lo <= port && port <= hi && !f(s) {
                        return false;
                    }
                }
            }
            if let Some(v) = self.any_port.get(&key) {
                if !v.iter().all(|&s| f(s)) {
                    return false;
                }
            }
        }
        true
    }
}

/// Constrained bytes of a pattern, as used for gates and precedence: a
/// masked byte with a non-zero mask, each literal byte, the shortest
/// literal prefix of a regex (0 without one). What [`Probe::weight`]
/// reads from the compiled pattern.
#[cfg(test)]
pub(crate) fn pattern_weight(kind: &PatternKind) -> u32 {
    match kind {
        PatternKind::Masked { bytes, .. } => bytes.iter().filter(|b| !b.is_any()).count() as u32,
        PatternKind::Literal { bytes, .. } => bytes.len() as u32,
        PatternKind::Regex { source, .. } => regex_prefixes(source)
            .and_then(|p| p.iter().map(|l| l.len()).min())
            .unwrap_or(0) as u32,
    }
}

/// The literal prefixes every match of `source` starts with, when that is
/// a small finite set of non-empty literals.
#[cfg(test)]
fn regex_prefixes(source: &str) -> Option<Vec<Vec<u8>>> {
    literal_seq(&parse_hir(source)?)
        .filter(|(lits, _)| lits.len() <= MAX_REGEX_ATOMS)
        .map(|(p, _)| p)
}

/// Every literal prefix of `hir` the extractor finds (within its own
/// limits), sorted and distinct, when all are non-empty, and whether they
/// are exact: the regex matches those literals and nothing else (no
/// look-around, whose context the literals do not carry).
fn literal_seq(hir: &regex_syntax::hir::Hir) -> Option<(Vec<Vec<u8>>, bool)> {
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.is_empty()) {
        return None;
    }
    let exact = seq.is_exact() && hir.properties().look_set().is_empty();
    let mut out: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    out.sort();
    out.dedup();
    Some((out, exact))
}

/// The atoms of a regex: its literal prefixes ([`literal_seq`]) when
/// there are at most [`MAX_REGEX_ATOMS`]; otherwise the same prefixes cut
/// to the longest length (at least [`MIN_CUT_ATOM`] bytes) that leaves at
/// most that many distinct ones. Every match still starts with one of
/// them, so they can wake the regex; a cut set is not exact. `"SIP/2\.0
/// [1-6][0-9][0-9] "` has 60 prefixes of 10 bytes, and six of 9 bytes
/// (`"SIP/2.0 1"` to `"SIP/2.0 6"`). Returns the atoms, whether they are
/// exact, and whether they were cut.
fn regex_atoms(hir: &regex_syntax::hir::Hir) -> Option<(Vec<Vec<u8>>, bool, bool)> {
    let (lits, exact) = literal_seq(hir)?;
    if lits.len() <= MAX_REGEX_ATOMS {
        return Some((lits, exact, false));
    }
    let longest = lits.iter().map(Vec::len).max().unwrap_or(0);
    (MIN_CUT_ATOM..longest).rev().find_map(|len| {
        let mut cut: Vec<Vec<u8>> = lits
            .iter()
            .map(|l| l[..l.len().min(len)].to_vec())
            .collect();
        cut.sort();
        cut.dedup();
        (cut.len() <= MAX_REGEX_ATOMS).then_some((cut, false, true))
    })
}

/// Whether the atoms of `hir` ([`regex_atoms`]) are all its matches, and
/// whether they were cut from a larger set of prefixes: what a set read
/// back works out again from the regex.
pub(crate) fn regex_atom_flags(hir: &regex_syntax::hir::Hir) -> (bool, bool) {
    regex_atoms(hir).map_or((false, false), |(_, exact, cut)| (exact, cut))
}

fn parse_hir(source: &str) -> Option<regex_syntax::hir::Hir> {
    parse_regex_hir(source)
}

/// A set of bytes, one bit each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FirstBytes([u64; 4]);

impl FirstBytes {
    const ALL: FirstBytes = FirstBytes([u64::MAX; 4]);

    /// Whether `b` is in the set.
    #[inline]
    pub(crate) fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn add(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    /// The bytes a match of `source` can begin with; every byte when a
    /// match can be empty or the source does not parse.
    #[cfg(test)]
    pub(crate) fn of_regex(source: &str) -> FirstBytes {
        parse_hir(source).map_or(FirstBytes::ALL, |hir| FirstBytes::of_hir(&hir))
    }

    /// The bytes a match of `hir` can begin with (as
    /// [`of_regex`](Self::of_regex)).
    pub(crate) fn of_hir(hir: &regex_syntax::hir::Hir) -> FirstBytes {
        let mut set = FirstBytes([0; 4]);
        if set.collect(hir) {
            FirstBytes::ALL
        } else {
            set
        }
    }

    /// Adds the bytes a match of `hir` can begin with; returns whether it
    /// can match the empty string (then what follows it can begin the
    /// match too). Recursion is bounded by the parser's nesting limit.
    fn collect(&mut self, hir: &regex_syntax::hir::Hir) -> bool {
        use regex_syntax::hir::{Class, HirKind};
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => true,
            HirKind::Literal(lit) => match lit.0.first() {
                Some(&b) => {
                    self.add(b, b);
                    false
                }
                None => true,
            },
            HirKind::Class(Class::Bytes(c)) => {
                for r in c.ranges() {
                    self.add(r.start(), r.end());
                }
                false
            }
            HirKind::Class(Class::Unicode(c)) => {
                // Signatures are parsed in bytes mode; should a Unicode
                // class come, a character beyond ASCII may begin with any
                // byte from 0x80.
                for r in c.ranges() {
                    let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                    if lo < 0x80 {
                        self.add(lo as u8, hi.min(0x7f) as u8);
                    }
                    if hi >= 0x80 {
                        self.add(0x80, 0xff);
                    }
                }
                false
            }
            HirKind::Repetition(r) => self.collect(&r.sub) || r.min == 0,
            HirKind::Capture(c) => self.collect(&c.sub),
            HirKind::Concat(parts) => parts.iter().all(|h| self.collect(h)),
            HirKind::Alternation(alts) => alts.iter().fold(false, |e, h| self.collect(h) | e),
        }
    }
}

/// Whether a match of `source` can disappear when bytes are appended: it
/// looks at what follows (`$`, word boundaries, CRLF-mode `^`). Only `^`
/// and multi-line `^` look solely at what precedes.
#[cfg(test)]
fn regex_looks_ahead(source: &str) -> bool {
    hir_looks_ahead(parse_hir(source).as_ref())
}

/// [`regex_looks_ahead`] of a regex's syntax tree (`None`: it did not
/// parse, and is taken to look ahead).
fn hir_looks_ahead(hir: Option<&regex_syntax::hir::Hir>) -> bool {
    hir.is_none_or(|hir| {
        !hir.properties()
            .look_set()
            .remove(Look::Start)
            .remove(Look::StartLF)
            .is_empty()
    })
}

/// The best atom of a masked pattern: the longest run of exact bytes,
/// ties broken towards rarer bytes. Returns (start index, length).
fn masked_atom(bytes: &[MaskedByte]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, u32)> = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].mask != 0xff {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].mask == 0xff {
            i += 1;
        }
        let len = i - start;
        let score: u32 = bytes[start..i]
            .iter()
            .map(|b| u32::from(rank(b.value)))
            .sum();
        let better = match best {
            None => true,
            Some((_, blen, bscore)) => len > blen || (len == blen && score < bscore),
        };
        if better {
            best = Some((start, len, score));
        }
    }
    best.map(|(s, l, _)| (s, l))
}

fn regex_error(set: &SignatureSet, at: (usize, usize), e: &dyn std::fmt::Display) -> BuildError {
    limit_error(set, at, format!("regex does not compile: {e}"))
}

/// An error about pattern `at.1` of signature `at.0` (or the signature
/// itself when `at.1` is `usize::MAX`).
fn limit_error(set: &SignatureSet, at: (usize, usize), message: String) -> BuildError {
    BuildError {
        kind: BuildErrorKind::Signature {
            signature: at.0,
            pattern: (at.1 != usize::MAX).then_some(at.1),
            location: set.signatures.get(at.0).and_then(|s| s.location.clone()),
            message,
        },
    }
}

/// Checks a whole set against the per-pattern and set-wide limits
/// ([`limits`]) before anything is compiled. Regexes are counted as they
/// are compiled ([`compile_probe`]).
fn check_limits(set: &SignatureSet, budget: &mut Budget) -> Result<(), BuildError> {
    for (si, sig) in set.signatures.iter().enumerate() {
        let whole = (si, usize::MAX);
        budget
            .add_signature()
            .map_err(|e| limit_error(set, whole, format!("over a set-wide limit: {e}")))?;
        for _ in &sig.features {
            budget
                .add_condition()
                .map_err(|e| limit_error(set, whole, format!("over a set-wide limit: {e}")))?;
        }
        for (pi, p) in sig.patterns.iter().enumerate() {
            let at = (si, pi);
            budget
                .add_condition()
                .map_err(|e| limit_error(set, at, format!("over a set-wide limit: {e}")))?;
            let (len, max, what) = match &p.kind {
                PatternKind::Literal { bytes, .. } => {
                    (bytes.len(), limits::MAX_LITERAL_BYTES, "literal")
                }
                PatternKind::Masked { bytes, .. } => {
                    (bytes.len(), limits::MAX_MASKED_BYTES, "masked pattern")
                }
                PatternKind::Regex { source, .. } => {
                    (source.len(), limits::MAX_REGEX_BYTES, "regex")
                }
            };
            if len > max {
                return Err(limit_error(
                    set,
                    at,
                    format!("{what} of {len} bytes exceeds the limit of {max} bytes"),
                ));
            }
            if !matches!(p.kind, PatternKind::Regex { .. }) {
                budget
                    .add_pattern_bytes(len)
                    .map_err(|e| limit_error(set, at, format!("over a set-wide limit: {e}")))?;
            }
        }
    }
    Ok(())
}

/// The atom collectors: case-sensitive atoms at a fixed position (looked
/// up at that position, see [`FixedAtoms`]), and all the others,
/// lower-cased, in one automaton that scans everything folded to lower
/// case (a case-sensitive atom found in another case is turned down when
/// its pattern is verified).
#[derive(Default)]
struct Collectors {
    anchored: AtomCollector,
    other: AtomCollector,
    /// The distinct offsets of `anchored` (at most [`MAX_FIXED_OFFSETS`]).
    fixed_offsets: HashSet<usize>,
}

impl Collectors {
    fn add(&mut self, atom: &[u8], nocase: bool, position: Position, probe: u32) {
        let (pos, end) = match position {
            Position::At(o) => (Some(o as usize), usize::MAX),
            Position::Within(n) => (None, n as usize),
            Position::Anywhere => (None, usize::MAX),
        };
        let fixed = match pos {
            Some(p) if !nocase => {
                self.fixed_offsets.contains(&p)
                    || (self.fixed_offsets.len() < MAX_FIXED_OFFSETS
                        && self.fixed_offsets.insert(p))
            }
            _ => false,
        };
        if fixed {
            self.anchored.add(atom, pos, end, probe);
        } else {
            self.other.add(&atom.to_ascii_lowercase(), pos, end, probe);
        }
    }
}

/// Compiles one distinct pattern and registers its atoms.
fn compile_probe(
    set: &SignatureSet,
    kind: &PatternKind,
    id: u32,
    tables: &mut Collectors,
    at: (usize, usize),
    budget: &mut Budget,
) -> Result<(Probe, bool), BuildError> {
    match kind {
        PatternKind::Masked { offset, bytes } => {
            let offset = *offset as usize;
            let checks: Box<[(usize, u8, u8)]> = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| !b.is_any())
                .map(|(i, b)| (offset + i, b.value, b.mask))
                .collect();
            let trivial = checks.is_empty();
            let mut has_atom = false;
            if let Some((start, len)) = masked_atom(bytes) {
                let atom: Vec<u8> = bytes[start..start + len].iter().map(|b| b.value).collect();
                let at = u32::try_from(offset + start).unwrap_or(u32::MAX);
                tables.add(&atom, false, Position::At(at), id);
                has_atom = true;
            }
            Ok((
                Probe {
                    kind: ProbeKind::Masked { checks },
                    has_atom,
                    trivial,
                },
                false,
            ))
        }
        PatternKind::Literal {
            bytes,
            nocase,
            position,
        } => {
            // A literal without ASCII letters is the same either way.
            let nocase = *nocase && bytes.iter().any(u8::is_ascii_alphabetic);
            let bytes: Vec<u8> = if nocase {
                bytes.to_ascii_lowercase()
            } else {
                bytes.clone()
            };
            let has_atom = !bytes.is_empty();
            if has_atom {
                tables.add(&bytes, nocase, *position, id);
            }
            Ok((
                Probe {
                    kind: ProbeKind::Literal {
                        bytes: bytes.into_boxed_slice(),
                        nocase,
                        position: *position,
                    },
                    has_atom,
                    trivial: !has_atom,
                },
                false,
            ))
        }
        PatternKind::Regex { source, position } => {
            let re = compile_regex(source).map_err(|e| regex_error(set, at, &e))?;
            budget
                .add_regex_bytes(re.memory_usage())
                .map_err(|e| limit_error(set, at, format!("over a set-wide limit: {e}")))?;
            let hir = parse_hir(source);
            let first = hir.as_ref().map_or(FirstBytes::ALL, FirstBytes::of_hir);
            let atoms = hir.as_ref().and_then(regex_atoms);
            let exact = atoms.as_ref().is_some_and(|&(_, exact, _)| exact);
            let cut = atoms.as_ref().is_some_and(|&(_, _, cut)| cut);
            let prefixes = atoms.map(|(p, _, _)| p);
            let looks_ahead = hir_looks_ahead(hir.as_ref());
            if let Some(p) = &prefixes {
                for lit in p {
                    tables.add(lit, false, *position, id);
                }
            }
            Ok((
                Probe {
                    has_atom: prefixes.is_some(),
                    kind: ProbeKind::Regex {
                        re: OnceLock::from(Some(re)),
                        source: source.as_str().into(),
                        position: *position,
                        prefixes: prefixes
                            .map(|p| p.into_iter().map(Vec::into_boxed_slice).collect()),
                        first,
                        exact,
                        cut,
                        lazy: None,
                    },
                    trivial: false,
                },
                looks_ahead,
            ))
        }
    }
}

/// Signature `sig` compiled, with its patterns' probes; `looks_ahead`:
/// one of them is a regex that looks at what follows its match.
fn compile_sig(
    sig: &Signature,
    patterns: Box<[(u32, Direction)]>,
    looks_ahead: bool,
) -> CompiledSig {
    CompiledSig {
        transport: sig.transport.number(),
        ports: sig.ports.ranges.iter().map(|r| (r.start, r.end)).collect(),
        features: sig.features.clone().into_boxed_slice(),
        patterns,
        may_stop: looks_ahead
            || sig
                .features
                .iter()
                .any(|f| matches!(f, Feature::Packets { range, .. } if range.max.is_some())),
    }
}

/// Compiles a whole set.
pub(crate) fn build(set: &SignatureSet) -> Result<Matcher, BuildError> {
    let mut budget = Budget::new();
    check_limits(set, &mut budget)?;
    let mut probe_ids: HashMap<&PatternKind, u32> = HashMap::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut weights: Vec<u32> = Vec::new();
    // Whether each probe is a regex that looks at what follows its match.
    let mut looks: Vec<bool> = Vec::new();
    let mut tables = Collectors::default();
    let mut sigs = Vec::with_capacity(set.signatures.len());
    let mut gates: Vec<Option<u32>> = Vec::with_capacity(set.signatures.len());

    for (si, sig) in set.signatures.iter().enumerate() {
        let mut pats = Vec::with_capacity(sig.patterns.len());
        let mut gate: Option<(u32, u32)> = None;
        for (pi, pat) in sig.patterns.iter().enumerate() {
            let id = match probe_ids.get(&pat.kind) {
                Some(&id) => id,
                None => {
                    let id = probes.len() as u32;
                    let (probe, looks_ahead) =
                        compile_probe(set, &pat.kind, id, &mut tables, (si, pi), &mut budget)?;
                    weights.push(probe.weight());
                    looks.push(looks_ahead);
                    probes.push(probe);
                    probe_ids.insert(&pat.kind, id);
                    id
                }
            };
            if probes[id as usize].has_atom {
                let w = weights[id as usize];
                if gate.is_none_or(|(_, gw)| w > gw) {
                    gate = Some((id, w));
                }
            }
            pats.push((id, pat.direction));
        }
        let looks_ahead = pats.iter().any(|&(id, _)| looks[id as usize]);
        sigs.push(compile_sig(sig, pats.into_boxed_slice(), looks_ahead));
        gates.push(gate.map(|(id, _)| id));
    }

    let mut per_probe: Vec<Vec<u32>> = vec![Vec::new(); probes.len()];
    let mut ungated = PortIndex::default();
    let mut all = PortIndex::default();
    for (s, (sig, gate)) in sigs.iter().zip(&gates).enumerate() {
        match gate {
            Some(p) => per_probe[*p as usize].push(s as u32),
            None => ungated.insert(s as u32, sig),
        }
        all.insert(s as u32, sig);
    }
    let mut gate_ranges = Vec::with_capacity(probes.len());
    let mut gated = Vec::with_capacity(sigs.len());
    for list in per_probe {
        let lo = gated.len() as u32;
        gated.extend(list);
        gate_ranges.push((lo, gated.len() as u32));
    }

    Ok(Matcher {
        fingerprint: super::snapshot::fingerprint(set),
        probes,
        sigs,
        fixed: FixedAtoms::build(&tables.anchored),
        atoms: tables.other.build()?,
        gate_ranges,
        gated,
        ungated,
        all,
        id: super::matcher_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_atoms_compare_by_word_up_to_the_end_of_the_bytes() {
        let mut c = AtomCollector::default();
        for (i, atom) in [&b"\x16\x03\x00"[..], b"\x16\x03", b"GET /index.h"]
            .iter()
            .enumerate()
        {
            c.add(atom, Some(2), usize::MAX, i as u32);
        }
        let fx = FixedAtoms::build(&c);
        let found = |hay: &[u8]| -> Vec<u32> {
            let word = word_at(hay, 2);
            let mut v: Vec<u32> = hay
                .get(2)
                .map(|&b| fx.bucket(0, b))
                .unwrap_or(&[])
                .iter()
                .filter(|e| fx.occurs(e, hay, 2, word))
                .flat_map(|e| fx.probes(e).to_vec())
                .collect();
            v.sort_unstable();
            v
        };
        // The zero padding past the end must not stand in for a zero byte.
        assert_eq!(found(b"xx\x16\x03"), vec![1]);
        assert_eq!(found(b"xx\x16\x03\x00"), vec![0, 1]);
        assert_eq!(found(b"xx\x16\x03\x01\x00\x00\x00\x00\x00"), vec![1]);
        // Longer than a word: the rest is compared too.
        assert_eq!(found(b"xxGET /index.h"), vec![2]);
        assert_eq!(found(b"xxGET /index.x"), Vec::<u32>::new());
        assert_eq!(found(b"xxGET /index."), Vec::<u32>::new());
        assert_eq!(word_at(b"ab", 5), 0);
        assert_eq!(word_at(b"abc", 1), u64::from_le_bytes(*b"bc\0\0\0\0\0\0"));
    }

    #[test]
    fn first_bytes_of_regexes() {
        let set = |source: &str| {
            let f = FirstBytes::of_regex(source);
            (0..=255u8).filter(|&b| f.has(b)).collect::<Vec<u8>>()
        };
        assert_eq!(set("GET|POST"), b"GP");
        assert_eq!(set("(?i)get"), b"Gg");
        assert_eq!(set("a*b+c"), b"ab");
        assert_eq!(set("^(?:x|)\\x16\\x03"), b"\x16x");
        assert_eq!(set("[0-2]{2}"), b"012");
        assert_eq!(set("\\bHTTP/"), b"H");
        // A regex that can match nothing at all rules out no byte.
        assert_eq!(set("a?").len(), 256);
        assert_eq!(set("(a|b*)").len(), 256);
        assert_eq!(set("(").len(), 256);
    }

    proptest::proptest! {
        /// A byte outside the set never begins a match, for every regex of
        /// the built-in set.
        #[test]
        fn first_bytes_hold_for_builtin_regexes(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            text in "[ -~]{0,24}",
            pick in 0usize..1000,
        ) {
            let set = crate::signature::SignatureSet::builtin();
            let sources: Vec<&str> = set
                .signatures
                .iter()
                .flat_map(|s| s.patterns.iter())
                .filter_map(|p| match &p.kind {
                    PatternKind::Regex { source, .. } => Some(source.as_str()),
                    _ => None,
                })
                .collect();
            let source = sources[pick % sources.len()];
            let re = compile_regex(source).unwrap();
            let first = FirstBytes::of_regex(source);
            // Every first byte, before random bytes and before printable
            // text (most of the set's regexes match text).
            for rest in [&tail[..], text.as_bytes()] {
                for b in 0..=255u8 {
                    let mut hay = vec![b];
                    hay.extend_from_slice(rest);
                    let input =
                        regex_automata::Input::new(&hay).anchored(regex_automata::Anchored::Yes);
                    if re.is_match(input) {
                        proptest::prop_assert!(first.has(b), "{source:?} matched {hay:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn masked_atom_prefers_long_then_rare() {
        let b = MaskedByte::parse_hex("47 ?? 45 54 20 ?? 00 00").unwrap();
        assert_eq!(masked_atom(&b), Some((2, 3)));
        let b = MaskedByte::parse_hex("20 20 ?? 16 03").unwrap();
        assert_eq!(masked_atom(&b), Some((3, 2)));
        let b = MaskedByte::parse_hex("4? ?? 80&C0").unwrap();
        assert_eq!(masked_atom(&b), None);
    }

    #[test]
    fn regex_prefix_sets() {
        assert_eq!(
            regex_prefixes("GET|POST"),
            Some(vec![b"GET".to_vec(), b"POST".to_vec()])
        );
        assert_eq!(
            regex_prefixes(r"\x16\x03[\x00-\x03]").map(|v| v.len()),
            Some(4)
        );
        assert_eq!(regex_prefixes(r".*foo"), None);
        assert_eq!(regex_prefixes(r"a?"), None);
    }

    #[test]
    fn many_prefixes_are_cut_into_atoms() {
        let atoms = |s: &str| regex_atoms(&parse_hir(s).unwrap());
        // 60 prefixes of 10 bytes; 6 of 9.
        let (sip, exact, cut) = atoms(r"SIP/2\.0 [1-6][0-9][0-9] ").unwrap();
        assert!(cut && !exact);
        assert_eq!(
            sip,
            (b'1'..=b'6')
                .map(|d| [&b"SIP/2.0 "[..], &[d]].concat())
                .collect::<Vec<_>>()
        );
        // Up to 32 stay as they are (exact when the regex is only them).
        assert_eq!(
            atoms("GET|POST"),
            Some((vec![b"GET".to_vec(), b"POST".to_vec()], true, false))
        );
        // 7 methods x 16 case variants of "http": every prefix starts with
        // one of the atoms, of at least three bytes.
        let proxy = "(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) (?i:https?)://";
        let (full, _) = literal_seq(&parse_hir(proxy).unwrap()).unwrap();
        let (cut_set, _, cut) = atoms(proxy).unwrap();
        assert!(full.len() > MAX_REGEX_ATOMS && cut && cut_set.len() <= MAX_REGEX_ATOMS);
        assert!(cut_set.iter().all(|a| a.len() >= MIN_CUT_ATOM));
        assert!(full
            .iter()
            .all(|l| cut_set.iter().any(|a| l.starts_with(a))));
        // Still too many at three bytes: no atom.
        assert_eq!(atoms("[a-h][a-h][a-h]x"), None);
    }

    #[test]
    fn automaton_kind_by_size() {
        let small = vec![b"get ".to_vec(), b"host:".to_vec()];
        assert_eq!(automaton_kind(&small), AhoCorasickKind::DFA);
        // 64 KiB of atoms over all 256 byte values: a DFA would take 64 MiB.
        let all: Vec<Vec<u8>> = (0..256u32).map(|i| vec![i as u8; 256]).collect();
        assert_eq!(automaton_kind(&all), AhoCorasickKind::ContiguousNFA);
    }

    /// A set of `n` signatures, each with a literal at its own offset and a
    /// port range of `ports` ports.
    fn spread_set(n: u32, ports: u16) -> SignatureSet {
        use crate::signature::{Direction, Pattern, PortRange, PortSet};
        let signatures = (0..n)
            .map(|i| {
                let mut s = Signature::new("X");
                s.patterns.push(Pattern::literal_at(
                    Direction::Initiator,
                    i * 3,
                    format!("k{i}").as_bytes(),
                ));
                s.ports = PortSet {
                    ranges: vec![PortRange {
                        start: 1,
                        end: ports,
                    }],
                };
                s
            })
            .collect();
        SignatureSet {
            signatures,
            ..Default::default()
        }
    }

    #[test]
    fn many_offsets_and_ports_stay_linear() {
        use crate::view::FlowView;
        let n = (MAX_FIXED_OFFSETS + 500) as u32;
        let set = spread_set(n, 256);
        let m = build(&set).unwrap();
        assert_eq!(m.fixed.offsets.len(), MAX_FIXED_OFFSETS);
        // Tables of fixed-offset atoms cost 1 KiB per offset; the rest is linear.
        assert!(m.stats().automaton_bytes < 64 << 20, "{:?}", m.stats());
        let mut scratch = super::super::Scratch::new();
        for i in [0, MAX_FIXED_OFFSETS as u32 - 1, n - 1] {
            let mut bytes = vec![b'.'; (i * 3) as usize];
            bytes.extend_from_slice(format!("k{i}").as_bytes());
            let view = FlowView::new(6, 200).with_c2s(&bytes);
            assert!(m.matches(&view, &mut scratch).contains(&i), "signature {i}");
            let view = FlowView::new(6, 300).with_c2s(&bytes);
            assert!(!m.matches(&view, &mut scratch).contains(&i), "port of {i}");
        }
        let all = &m.all;
        assert!(all.expanded <= MAX_EXPANDED_ENTRIES);
    }

    #[test]
    fn sets_over_a_limit_are_refused_with_their_place() {
        use crate::signature::{parse_extended, Direction, Pattern};
        let mut set = parse_extended(
            "rule a\n  protocol A\nend\nrule b\n  protocol B\nend\n",
            "x.rules",
        )
        .unwrap();
        set.signatures[1].patterns.push(Pattern::regex(
            Direction::Initiator,
            format!("{}a{}", "(".repeat(100), ")".repeat(100)),
        ));
        let e = build(&set).err().unwrap();
        assert_eq!((e.signature(), e.pattern()), (Some(1), Some(0)));
        assert!(
            e.to_string()
                .starts_with("x.rules:4: signature 1, pattern 0: regex does not compile: exceed"),
            "{e}"
        );
        set.signatures[1].patterns[0] = Pattern::literal_at(Direction::Initiator, 0, b"ab");
        set.signatures.extend(std::iter::repeat_n(
            set.signatures[0].clone(),
            limits::MAX_SIGNATURES,
        ));
        let e = build(&set).err().unwrap();
        assert_eq!(e.signature(), Some(limits::MAX_SIGNATURES));
        assert!(e.to_string().contains("MAX_SIGNATURES"), "{e}");
    }

    #[test]
    fn regexes_that_look_ahead() {
        for (re, want) in [
            ("^ab", false),
            ("(?m)^ab", false),
            ("ab", false),
            ("ab$", true),
            (r"\bab", true),
            ("(?Rm)^ab", true),
        ] {
            assert_eq!(regex_looks_ahead(re), want, "{re}");
        }
    }
}
