//! A compiled set written out and read back: [`Matcher::to_bytes`] and
//! [`Matcher::from_bytes`].
//!
//! The snapshot is a header and the matcher's tables in `postcard`'s
//! encoding:
//!
//! | bytes | what |
//! | --- | --- |
//! | 16 | magic `dpi-matcher\0\0\0\0\0` |
//! | 4 | format version, little-endian (1) |
//! | 8 | fingerprint of the signatures it was compiled from, little-endian |
//! | rest | the tables: probes, signatures, fixed-offset atoms, the atom automaton, gates, port indices |
//!
//! What can be stored as it is, is: the automaton's transition table
//! ([`super::dfa`]), the fixed-offset tables, the gates and port indices.
//! Regexes are stored as their source: it must parse when the set is read
//! back, and each is compiled, under the same limits as when a set is
//! read, the first time a flow needs it (one that does not compile then,
//! which only a doctored snapshot can hold, never matches); an automaton that is not our own table (a
//! few atoms searched with a prefilter, or too many for a DFA) is stored as
//! its atoms and built again.
//!
//! Reading never trusts the bytes: every index and range of every table is
//! checked before the matcher is handed out (so matching can neither index
//! out of a table nor name a signature that does not exist), allocations
//! grow with the bytes actually read, and any failure is an error that says
//! what was wrong, never a panic.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::compile::{regex_atom_flags, Engine, FirstBytes, LazyRegexBudget, PortIndex, ProbeKind};
use super::Matcher;
use std::sync::{Arc, OnceLock};

use crate::signature::{parse_regex_hir, Position, SignatureSet};

const MAGIC: &[u8; 16] = b"dpi-matcher\0\0\0\0\0";
const VERSION: u32 = 1;
const HEADER: usize = 16 + 4 + 8;

/// Why a compiled set could not be read back.
///
/// ```
/// use dpi_core::matcher::Matcher;
///
/// let e = Matcher::from_bytes(b"not a compiled set").unwrap_err();
/// assert!(e.to_string().contains("no dpi-matcher header"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    message: String,
}

impl LoadError {
    fn new(message: impl Into<String>) -> LoadError {
        LoadError {
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "compiled signature set: {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// FNV-1a, 64 bits: a hash that stays the same from build to build (the
/// standard library's may not).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The fingerprint of what a matcher compiled from `set` depends on: every
/// signature's transport, ports, features and patterns, in order.
pub(crate) fn fingerprint(set: &SignatureSet) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    set.signatures.len().hash(&mut h);
    for sig in &set.signatures {
        sig.transport.hash(&mut h);
        sig.ports.hash(&mut h);
        sig.features.hash(&mut h);
        sig.patterns.hash(&mut h);
    }
    h.finish()
}

/// How a probe is stored: a regex by its source.
#[derive(Serialize, Deserialize)]
pub(crate) enum WireProbeKind {
    Masked {
        checks: Box<[(usize, u8, u8)]>,
    },
    Literal {
        bytes: Box<[u8]>,
        nocase: bool,
        position: Position,
    },
    Regex {
        source: Box<str>,
        position: Position,
        prefixes: Option<Box<[Box<[u8]>]>>,
    },
}

impl From<ProbeKind> for WireProbeKind {
    fn from(k: ProbeKind) -> Self {
        match k {
            ProbeKind::Masked { checks } => WireProbeKind::Masked { checks },
            ProbeKind::Literal {
                bytes,
                nocase,
                position,
            } => WireProbeKind::Literal {
                bytes,
                nocase,
                position,
            },
            ProbeKind::Regex {
                source,
                position,
                prefixes,
                ..
            } => WireProbeKind::Regex {
                source,
                position,
                prefixes,
            },
        }
    }
}

impl TryFrom<WireProbeKind> for ProbeKind {
    type Error = String;

    fn try_from(k: WireProbeKind) -> Result<Self, String> {
        Ok(match k {
            WireProbeKind::Masked { checks } => ProbeKind::Masked { checks },
            WireProbeKind::Literal {
                bytes,
                nocase,
                position,
            } => ProbeKind::Literal {
                bytes,
                nocase,
                position,
            },
            WireProbeKind::Regex {
                source,
                position,
                prefixes,
            } => {
                // Checked here, compiled on first use: most of a large
                // set's regexes never run on a given link.
                let Some(hir) = parse_regex_hir(&source) else {
                    return Err(format!("regex {source:?} does not parse"));
                };
                let first = FirstBytes::of_hir(&hir);
                let (exact, cut) = match prefixes {
                    Some(_) => regex_atom_flags(&hir),
                    None => (false, false),
                };
                ProbeKind::Regex {
                    re: OnceLock::new(),
                    source,
                    position,
                    prefixes,
                    first,
                    exact,
                    cut,
                    // Set by `Matcher::from_bytes`, one budget for all.
                    lazy: None,
                }
            }
        })
    }
}

/// How the atom automaton is stored: our table as it is, another engine
/// by its atoms.
#[derive(Serialize, Deserialize)]
pub(crate) enum WireEngine {
    Table(Box<super::dfa::Dfa>),
    Atoms(Box<[Box<[u8]>]>),
}

impl From<Engine> for WireEngine {
    fn from(e: Engine) -> Self {
        match e {
            Engine::Dfa(d) => WireEngine::Table(Box::new(d)),
            Engine::Prefiltered(_, atoms) | Engine::Nfa(_, atoms) => WireEngine::Atoms(atoms),
        }
    }
}

impl TryFrom<WireEngine> for Engine {
    type Error = String;

    fn try_from(e: WireEngine) -> Result<Self, String> {
        match e {
            WireEngine::Table(d) => {
                d.validate()?;
                Ok(Engine::Dfa(*d))
            }
            WireEngine::Atoms(atoms) => {
                let atoms: Vec<Vec<u8>> = atoms.iter().map(|a| a.to_vec()).collect();
                if atoms.iter().any(|a| a.is_empty()) {
                    return Err("an empty atom".into());
                }
                let budget: usize = atoms.iter().map(Vec::len).sum();
                if budget > crate::signature::limits::MAX_SET_PATTERN_BYTES {
                    return Err(format!("{budget} bytes of atoms, over the set-wide limit"));
                }
                Engine::build(&atoms)
            }
        }
    }
}

impl Matcher {
    /// The compiled set as bytes, to be read back with
    /// [`Matcher::from_bytes`] by the same version of this crate: a probe
    /// with a large set compiles it once and then starts from the bytes.
    ///
    /// # Panics
    ///
    /// Never: every table is a sequence of known length.
    ///
    /// ```
    /// use dpi_core::matcher::{Matcher, Scratch};
    /// use dpi_core::signature::parse_extended;
    /// use dpi_core::FlowView;
    ///
    /// let set = parse_extended(
    ///     "rule http\n  protocol HTTP\n  c2s at 0 \"GET \"\nend\n\
    ///      rule tls\n  protocol TLS\n  c2s regex r\"^\\x16\\x03[\\x00-\\x04]\"\nend\n",
    ///     "x.rules",
    /// )
    /// .unwrap();
    /// let bytes = Matcher::new(&set).unwrap().to_bytes();
    /// let matcher = Matcher::from_bytes(&bytes).unwrap();
    /// assert!(matcher.fits(&set));
    /// let mut scratch = Scratch::new();
    /// let view = FlowView::new(6, 443).with_c2s(b"\x16\x03\x01\x02\x00");
    /// assert_eq!(matcher.matches(&view, &mut scratch), &[1]);
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.stats().automaton_bytes);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        postcard::to_extend(self, out)
            .expect("every table is a sequence of known length, which postcard writes")
    }

    /// Reads back a set written by [`Matcher::to_bytes`], checking every
    /// table: a damaged or hostile snapshot is refused with the reason.
    /// Pair the matcher with the set it was compiled from
    /// ([`Classifier::with_matcher`](crate::Classifier::with_matcher)
    /// checks this with [`Matcher::fits`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Matcher, LoadError> {
        if bytes.len() < HEADER || &bytes[..16] != MAGIC {
            return Err(LoadError::new(
                "no dpi-matcher header: not written by Matcher::to_bytes",
            ));
        }
        let version = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
        if version != VERSION {
            return Err(LoadError::new(format!(
                "format version {version}; this build reads version {VERSION}"
            )));
        }
        let fingerprint = u64::from_le_bytes(bytes[20..28].try_into().unwrap_or_default());
        let (mut matcher, rest): (Matcher, &[u8]) = postcard::take_from_bytes(&bytes[HEADER..])
            .map_err(|e| LoadError::new(format!("the tables do not decode: {e}")))?;
        if !rest.is_empty() {
            return Err(LoadError::new(format!(
                "{} bytes after the tables",
                rest.len()
            )));
        }
        if matcher.fingerprint != fingerprint {
            return Err(LoadError::new("the header and the tables disagree"));
        }
        matcher.validate().map_err(LoadError::new)?;
        matcher.dedupe_targets();
        let budget = Arc::new(LazyRegexBudget::default());
        for p in &mut matcher.probes {
            if let ProbeKind::Regex { lazy, .. } = &mut p.kind {
                *lazy = Some(budget.clone());
            }
        }
        Ok(matcher)
    }

    /// Whether this matcher was compiled from `set` (the same signatures'
    /// transports, ports, features and patterns, in the same order).
    pub fn fits(&self, set: &SignatureSet) -> bool {
        self.sigs.len() == set.signatures.len() && self.fingerprint == fingerprint(set)
    }

    /// Drops repeated patterns from each atom's targets and each
    /// fixed-offset entry (the compiler lists a pattern once, or twice when
    /// two of a regex's prefixes fold to one atom): an altered file could
    /// list one pattern a million times under one atom and make each hit
    /// walk its signatures as often. Matching is unchanged.
    fn dedupe_targets(&mut self) {
        let mut seen = vec![u32::MAX; self.probes.len()];
        if let Some(t) = &mut self.atoms {
            let mut targets = Vec::with_capacity(t.targets.len());
            for (k, r) in t.ranges.iter_mut().enumerate() {
                let (lo, mid, hi) = (r.0 as usize, r.1 as usize, r.2 as usize);
                let start = targets.len() as u32;
                let mut anchored: Vec<_> = t.targets[lo..mid].to_vec();
                anchored.sort_by_key(|x| (x.pos, x.probe));
                anchored.dedup_by_key(|x| (x.pos, x.probe));
                targets.extend(anchored);
                let middle = targets.len() as u32;
                for x in &t.targets[mid..hi] {
                    if std::mem::replace(&mut seen[x.probe as usize], k as u32) != k as u32 {
                        targets.push(*x);
                    }
                }
                *r = (start, middle, targets.len() as u32);
            }
            t.targets = targets;
        }
        seen.fill(u32::MAX);
        let fx = &mut self.fixed;
        let mut probes = Vec::with_capacity(fx.probes.len());
        for (k, e) in fx.entries.iter_mut().enumerate() {
            let start = probes.len() as u32;
            for &p in &fx.probes[e.probes.0 as usize..e.probes.1 as usize] {
                if std::mem::replace(&mut seen[p as usize], k as u32) != k as u32 {
                    probes.push(p);
                }
            }
            e.probes = (start, probes.len() as u32);
        }
        fx.probes = probes.into_boxed_slice();
    }

    /// Checks that every index and range in the tables is in bounds, and
    /// that the ranges lie as the compiler lays them out: each list is cut
    /// into consecutive ranges (no two overlap, so a file cannot make one
    /// entry stand for many), and each signature is gated at most once.
    fn validate(&self) -> Result<(), String> {
        let probes = self.probes.len();
        let sigs = self.sigs.len();
        if sigs > crate::signature::limits::MAX_SIGNATURES {
            return Err(format!("{sigs} signatures, over the limit"));
        }
        let probe_ok = |p: u32| (p as usize) < probes;
        let sig_ok = |s: u32| (s as usize) < sigs;
        for (i, s) in self.sigs.iter().enumerate() {
            if let Some(&(p, _)) = s.patterns.iter().find(|(p, _)| !probe_ok(*p)) {
                return Err(format!("signature {i} names pattern {p} of {probes}"));
            }
        }
        let fx = &self.fixed;
        if fx.buckets.len() != fx.offsets.len() * 256 + 1
            || fx.buckets.windows(2).any(|w| w[0] > w[1])
            || fx.buckets.last().map(|&b| b as usize) != Some(fx.entries.len())
        {
            return Err("the fixed-offset buckets do not cover their entries".into());
        }
        if fx.offsets.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the fixed offsets are not ascending".into());
        }
        if fx.offsets.len() > super::compile::MAX_FIXED_OFFSETS {
            return Err(format!(
                "{} fixed offsets, over the limit",
                fx.offsets.len()
            ));
        }
        if !consecutive(fx.entries.iter().map(|e| e.probes), fx.probes.len()) {
            return Err("the fixed-offset entries' patterns overlap or leave gaps".into());
        }
        for (i, e) in fx.entries.iter().enumerate() {
            let span_ok = |(lo, hi): (u32, u32), len: usize| lo <= hi && hi as usize <= len;
            if !span_ok(e.bytes, fx.bytes.len()) || !span_ok(e.probes, fx.probes.len()) {
                return Err(format!("fixed-offset entry {i} is out of its tables"));
            }
        }
        if let Some(&p) = fx.probes.iter().find(|&&p| !probe_ok(p)) {
            return Err(format!("a fixed-offset atom names pattern {p} of {probes}"));
        }
        if let Some(t) = &self.atoms {
            if let Engine::Dfa(d) = &t.engine {
                if d.atom_lens.len() != t.ranges.len() {
                    return Err("the automaton and its atom list differ in length".into());
                }
            }
            let atoms = match &t.engine {
                Engine::Dfa(d) => d.atom_lens.len(),
                Engine::Prefiltered(_, a) | Engine::Nfa(_, a) => a.len(),
            };
            if t.ranges.len() != atoms {
                return Err("the automaton and its atom list differ in length".into());
            }
            let n = t.targets.len() as u32;
            if t.ranges
                .iter()
                .any(|&(lo, mid, hi)| lo > mid || mid > hi || hi > n)
            {
                return Err("an atom's targets are out of the target list".into());
            }
            if !consecutive(
                t.ranges.iter().map(|&(lo, _, hi)| (lo, hi)),
                t.targets.len(),
            ) {
                return Err("the atoms' targets overlap or leave gaps".into());
            }
            if let Some(x) = t.targets.iter().find(|x| !probe_ok(x.probe)) {
                return Err(format!("an atom names pattern {} of {probes}", x.probe));
            }
        }
        if self.gate_ranges.len() != probes {
            return Err("the gates do not match the patterns".into());
        }
        let gated = self.gated.len() as u32;
        if self
            .gate_ranges
            .iter()
            .any(|&(lo, hi)| lo > hi || hi > gated)
        {
            return Err("a gate range is out of the gated list".into());
        }
        if let Some(&s) = self.gated.iter().find(|&&s| !sig_ok(s)) {
            return Err(format!("a gate names signature {s} of {sigs}"));
        }
        if !consecutive(self.gate_ranges.iter().copied(), self.gated.len()) {
            return Err("the gate ranges overlap or leave gaps".into());
        }
        let mut gated_once = vec![false; sigs];
        if self
            .gated
            .iter()
            .any(|&s| std::mem::replace(&mut gated_once[s as usize], true))
        {
            return Err("a signature is gated twice".into());
        }
        for (name, index) in [("ungated", &self.ungated), ("port", &self.all)] {
            if !port_index_ok(index, sig_ok) {
                return Err(format!(
                    "the {name} index names a signature that does not exist"
                ));
            }
        }
        Ok(())
    }
}

/// Whether `ranges`, in order, cut `0..len` into consecutive pieces.
fn consecutive(ranges: impl Iterator<Item = (u32, u32)>, len: usize) -> bool {
    let mut at = 0u32;
    for (lo, hi) in ranges {
        if lo != at || hi < lo {
            return false;
        }
        at = hi;
    }
    at as usize == len
}

fn port_index_ok(index: &PortIndex, ok: impl Fn(u32) -> bool) -> bool {
    index.exact.values().flatten().all(|&s| ok(s))
        && index.ranges.values().flatten().all(|&(_, _, s)| ok(s))
        && index.any_port.values().flatten().all(|&s| ok(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Scratch;
    use crate::signature::parse_extended;
    use crate::signature::{limits, Direction};
    use crate::FlowView;

    fn set() -> SignatureSet {
        parse_extended(
            "rule http\n  protocol HTTP\n  transport tcp\n  c2s at 0 \"GET \"\nend\n\
             rule host\n  protocol X\n  c2s nocase \"host: example\"\nend\n\
             rule tls\n  protocol TLS\n  c2s regex r\"^\\x16\\x03[\\x00-\\x04]\"\nend\n\
             rule m\n  protocol M\n  c2s at 2 hex \"0? ?? 00 01\"\n  ports 53\nend\n\
             rule p\n  protocol P\n  transport udp\n  ports 5000-5010\nend\n",
            "x.rules",
        )
        .unwrap()
    }

    fn views() -> Vec<FlowView<'static>> {
        vec![
            FlowView::new(6, 80).with_c2s(b"GET / HTTP/1.1\r\nHOST: Example.com\r\n"),
            FlowView::new(6, 443).with_c2s(b"\x16\x03\x01\x00"),
            FlowView::new(17, 53).with_c2s(b"\x12\x34\x01\x00\x00\x01"),
            FlowView::new(17, 5003).with_c2s(b"x"),
            FlowView::new(17, 9).with_c2s(b"nothing"),
        ]
    }

    #[test]
    fn round_trip_matches_the_same() {
        let set = set();
        let built = Matcher::new(&set).unwrap();
        let bytes = built.to_bytes();
        let loaded = Matcher::from_bytes(&bytes).unwrap();
        assert!(loaded.fits(&set));
        assert_eq!(loaded.to_bytes(), bytes);
        let (mut a, mut b) = (Scratch::new(), Scratch::new());
        let mut named = Vec::new();
        for v in views() {
            let want = built.matches(&v, &mut a).to_vec();
            assert_eq!(loaded.matches(&v, &mut b), &want[..]);
            named.extend(want);
        }
        // Every rule of the set names one of the flows.
        named.sort_unstable();
        named.dedup();
        assert_eq!(named, [0, 1, 2, 3, 4]);
        let mut other = set.clone();
        other.signatures[0].ports = crate::signature::PortSet::single(8080);
        assert!(!loaded.fits(&other));
    }

    #[test]
    fn damaged_snapshots_are_refused_not_panicked_on() {
        let bytes = Matcher::new(&set()).unwrap().to_bytes();
        let e = Matcher::from_bytes(&bytes[..10]).unwrap_err();
        assert!(e.to_string().contains("no dpi-matcher header"), "{e}");
        let mut v = bytes.clone();
        v[16] = 9;
        assert!(Matcher::from_bytes(&v)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        let e = Matcher::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("do not decode"), "{e}");
        let mut v = bytes.clone();
        v.push(0);
        assert!(Matcher::from_bytes(&v)
            .unwrap_err()
            .to_string()
            .contains("after the tables"));
        // Every single-byte change either loads a valid matcher or is refused.
        for i in HEADER..bytes.len() {
            for x in [0u8, 1, 0x7f, 0xff] {
                let mut v = bytes.clone();
                v[i] = x;
                if let Ok(m) = Matcher::from_bytes(&v) {
                    let mut s = Scratch::new();
                    for view in views() {
                        m.matches(&view, &mut s);
                    }
                }
            }
        }
    }

    /// A set with enough floating atoms that they are searched with our
    /// own table (no prefilter), so that the table itself is written out.
    fn many_words() -> SignatureSet {
        let mut text = String::new();
        for i in 0..160u32 {
            let word: String = (0..6)
                .map(|k| char::from(b'a' + ((i * 7 + k * 13 + i / 5) % 26) as u8))
                .collect();
            text += &format!(
                "rule w{i}\n  protocol W{}\n  c2s nocase \"{word}\"\nend\n",
                i % 9
            );
        }
        parse_extended(&text, "w.rules").unwrap()
    }

    #[test]
    fn the_automaton_table_round_trips_and_is_checked() {
        let set = many_words();
        let built = Matcher::new(&set).unwrap();
        assert!(matches!(
            built.atoms.as_ref().map(|t| &t.engine),
            Some(Engine::Dfa(_))
        ));
        let bytes = built.to_bytes();
        let loaded = Matcher::from_bytes(&bytes).unwrap();
        // "ananan" is the word of rule w0 (and of some others).
        let hay = b"xx ANANAN and some other text";
        let (mut a, mut b) = (Scratch::new(), Scratch::new());
        let v = FlowView::new(6, 80).with_c2s(hay);
        let want = built.matches(&v, &mut a).to_vec();
        assert!(want.contains(&0), "{want:?}");
        assert_eq!(loaded.matches(&v, &mut b), &want[..]);
        // Single-byte damage anywhere in the tables: loaded and safe to
        // use, or refused.
        for i in (HEADER..bytes.len()).step_by(7) {
            let mut d = bytes.clone();
            d[i] ^= 0x5a;
            if let Ok(m) = Matcher::from_bytes(&d) {
                m.matches(&v, &mut a);
            }
        }
    }

    /// Tables altered by hand (the fingerprint does not cover them): what
    /// the compiler never writes is refused, or made harmless on load.
    #[test]
    fn altered_tables_are_refused_or_harmless() {
        use super::super::compile::{Probe, ProbeKind, Target};
        let set = many_words();
        let reload = |m: &Matcher| Matcher::from_bytes(&m.to_bytes());
        // Every pattern claiming every gated signature: overlapping ranges.
        let mut m = Matcher::new(&set).unwrap();
        let all = (0, m.gated.len() as u32);
        m.gate_ranges.iter_mut().for_each(|r| *r = all);
        let e = reload(&m).unwrap_err();
        assert!(e.to_string().contains("gate ranges overlap"), "{e}");
        // A signature gated twice.
        let mut m = Matcher::new(&set).unwrap();
        let (first, last) = (m.gated[0], m.gated.len() - 1);
        m.gated[last] = first;
        assert!(reload(&m).unwrap_err().to_string().contains("gated twice"));
        // An atom's targets overlapping the next atom's.
        let mut m = Matcher::new(&set).unwrap();
        let t = m.atoms.as_mut().unwrap();
        t.ranges[1].0 = 0;
        assert!(reload(&m)
            .unwrap_err()
            .to_string()
            .contains("targets overlap"));
        // One pattern listed many times under one atom: loaded once.
        let mut m = Matcher::new(&set).unwrap();
        let v = FlowView::new(6, 80).with_c2s(b"xx ANANAN and some other text");
        let want = m.matches(&v, &mut Scratch::new()).to_vec();
        let t = m.atoms.as_mut().unwrap();
        let (lo, mid, hi) = t.ranges[0];
        let x: Target = t.targets[lo as usize..hi as usize][0];
        let extra = 10_000u32;
        let mut targets = t.targets[..mid as usize].to_vec();
        targets.extend(std::iter::repeat_n(x, extra as usize));
        targets.extend_from_slice(&t.targets[mid as usize..]);
        t.targets = targets;
        t.ranges[0].2 += extra;
        for r in &mut t.ranges[1..] {
            *r = (r.0 + extra, r.1 + extra, r.2 + extra);
        }
        let loaded = reload(&m).unwrap();
        let lt = loaded.atoms.as_ref().unwrap();
        assert!(lt.targets.len() <= Matcher::new(&set).unwrap().atoms.unwrap().targets.len() + 1);
        assert_eq!(loaded.matches(&v, &mut Scratch::new()), &want[..]);
        // An empty literal that is not marked trivial matches, no panic.
        let mut m = Matcher::new(&set).unwrap();
        m.probes[0] = Probe {
            kind: ProbeKind::Literal {
                bytes: Box::new([]),
                nocase: false,
                position: Position::Anywhere,
            },
            has_atom: false,
            trivial: false,
        };
        let m = reload(&m).unwrap();
        m.matches(&FlowView::new(6, 80), &mut Scratch::new());
        m.matches(&v, &mut Scratch::new());
    }

    /// Regexes compiled on first use in a matcher read back from bytes
    /// stop at a budget: many costly ones cost bounded memory and time.
    #[test]
    fn costly_regexes_read_back_stop_at_the_budget() {
        // Matches the empty string: no atom gates it, every copy runs.
        let costly = "(?:a{2000})?";
        let text = format!("rule r\n  protocol R\n  c2s regex \"{costly}\"\nend\n");
        let set = parse_extended(&text, "r.rules").unwrap();
        let mut m = Matcher::new(&set).unwrap();
        let one = crate::signature::compile_regex(costly)
            .unwrap()
            .memory_usage();
        // As many copies of the costly pattern as would take four times
        // the budget (an altered file: a compiled set stays within it).
        let copies = 8 * limits::MAX_SET_REGEX_BYTES / one + 1;
        let p = m
            .probes
            .iter()
            .position(|p| matches!(p.kind, ProbeKind::Regex { .. }))
            .unwrap();
        let ProbeKind::Regex {
            source,
            position,
            prefixes,
            ..
        } = &m.probes[p].kind
        else {
            unreachable!()
        };
        let (source, position, prefixes) = (source.clone(), *position, prefixes.clone());
        for i in 0..copies {
            m.probes.push(super::super::compile::Probe {
                kind: ProbeKind::Regex {
                    re: OnceLock::new(),
                    source: format!("{source}(?:z{i})?").into(),
                    position,
                    prefixes: prefixes.clone(),
                    first: super::super::compile::FirstBytes::of_regex(&source),
                    exact: false,
                    cut: false,
                    lazy: None,
                },
                has_atom: false,
                trivial: false,
            });
            m.gate_ranges
                .push((m.gated.len() as u32, m.gated.len() as u32));
        }
        // Every copy verified by one signature with no atom to gate it.
        let last = m.sigs.len() - 1;
        let pats: Vec<_> = (0..copies)
            .map(|i| ((m.probes.len() - copies + i) as u32, Direction::Initiator))
            .collect();
        m.sigs[last].patterns = pats.into_boxed_slice();
        let m = Matcher::from_bytes(&m.to_bytes()).unwrap();
        m.matches(&FlowView::new(6, 80).with_c2s(b"aaaa"), &mut Scratch::new());
        let used: usize = m
            .probes
            .iter()
            .filter_map(|p| match &p.kind {
                ProbeKind::Regex { re, .. } => {
                    re.get().and_then(|r| r.as_ref()).map(|r| r.memory_usage())
                }
                _ => None,
            })
            .sum();
        assert!(
            used <= 2 * limits::MAX_SET_REGEX_BYTES,
            "{used} bytes of regexes"
        );
        assert!(
            used >= limits::MAX_SET_REGEX_BYTES,
            "the budget was used: {used}"
        );
    }

    #[test]
    fn fingerprint_is_stable() {
        // A change here means snapshots written earlier no longer load:
        // raise VERSION with it.
        let set = parse_extended("rule a\n  protocol A\n  c2s at 0 \"ab\"\nend\n", "a").unwrap();
        assert_eq!(fingerprint(&set), fingerprint(&set.clone()));
        assert_ne!(fingerprint(&set), fingerprint(&SignatureSet::default()));
    }
}
