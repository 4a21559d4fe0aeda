//! Limits on what a signature file and a signature set may hold, so that a
//! hostile or broken file costs bounded time and memory to read and compile.
//!
//! Each limit is a constant below. The parsers refuse a pattern or a rule
//! that goes over one with an error naming the file, the line, the column
//! and the limit; the matcher checks a whole set again when it is built
//! (sets made in code, or several files put together).
//!
//! Set-wide limits are counted by a [`Budget`]: [`load`](super::load) and
//! the `parse_*` functions start a fresh one per file; a program that puts
//! several files into one set passes one budget to
//! [`load_with_budget`](super::load_with_budget) for all of them, so the
//! file that crosses a limit is named at the place it does.
//!
//! ```
//! use dpi_core::signature::{limits, parse_extended};
//!
//! let long = "A".repeat(limits::MAX_LITERAL_BYTES + 1);
//! let text = format!("rule r\n  protocol X\n  c2s \"{long}\"\nend\n");
//! let errors = parse_extended(&text, "big.rules").unwrap_err();
//! let e = &errors.errors()[0];
//! assert_eq!((e.line(), e.column()), (3, 7));
//! assert!(e.expected().contains("at most 4096 bytes"));
//! ```

use std::fmt;

pub use super::error::{MAX_FOUND_CHARS, MAX_KEPT_ERRORS, MAX_LINE_CHARS};

/// Largest signature file [`load`](super::load) reads (16 MiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Longest literal pattern, in bytes after escapes are decoded.
pub const MAX_LITERAL_BYTES: usize = 4096;

/// Longest masked-bytes pattern (`hex "..."`), in bytes (wildcards count).
pub const MAX_MASKED_BYTES: usize = 4096;

/// Longest regex source, in bytes.
pub const MAX_REGEX_BYTES: usize = 4096;

/// Deepest nesting of groups and classes in a regex (the regex parser's
/// nest limit).
pub const MAX_REGEX_NESTING: u32 = 64;

/// Largest compiled form of one regex: the limit on each of its Thompson
/// NFAs (forward and reverse), in bytes.
pub const MAX_REGEX_NFA_BYTES: usize = 1 << 20;

/// Largest one-pass DFA the regex engine may build for one regex, in
/// bytes (beyond it the lazy DFA or the NFA simulations are used; no full
/// DFA is built, see [`compile_regex`](super::compile_regex)).
pub const MAX_REGEX_DFA_BYTES: usize = 256 << 10;

/// Largest lazy-DFA cache of one regex, per searching thread, in bytes.
pub const MAX_REGEX_CACHE_BYTES: usize = 512 << 10;

/// Most signatures in one set.
pub const MAX_SIGNATURES: usize = 100_000;

/// Most patterns and feature predicates, together, in one set.
pub const MAX_CONDITIONS: usize = 400_000;

/// Most literal and masked-pattern bytes in one set, all patterns together
/// (the atom automaton is built from these bytes, in time and memory
/// proportional to them).
pub const MAX_SET_PATTERN_BYTES: usize = 1 << 20;

/// Most heap bytes of compiled regexes in one set, all regexes together
/// (as the regex engine reports them).
pub const MAX_SET_REGEX_BYTES: usize = 32 << 20;

/// What a set has used of the set-wide limits so far.
///
/// ```
/// use dpi_core::signature::{load_with_budget, Budget};
///
/// let dir = std::env::temp_dir().join(format!("dpi-budget-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let (a, b) = (dir.join("a.rules"), dir.join("b.rules"));
/// std::fs::write(&a, "rule x\n  protocol X\n  c2s \"abc\"\nend\n").unwrap();
/// std::fs::write(&b, "rule y\n  protocol Y\n  c2s at 0 hex \"01 02\"\nend\n").unwrap();
/// let mut budget = Budget::new();
/// load_with_budget(&a, &mut budget).unwrap();
/// load_with_budget(&b, &mut budget).unwrap();
/// assert_eq!((budget.signatures(), budget.pattern_bytes()), (2, 5));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    signatures: usize,
    conditions: usize,
    pattern_bytes: usize,
    regex_bytes: usize,
    /// A regex was refused for the set-wide regex limit: later regexes are
    /// no longer compiled.
    regex_refused: bool,
    /// The text is built into this crate: its regexes are not compiled
    /// while it is parsed ([`Budget::built_in`]).
    built_in: bool,
}

/// A set-wide limit that a signature or pattern would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Signatures,
    Conditions,
    PatternBytes { used: usize, adding: usize },
    RegexBytes { used: usize, adding: usize },
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exceeded::Signatures => write!(
                f,
                "at most {MAX_SIGNATURES} signatures in one set (limit MAX_SIGNATURES)"
            ),
            Exceeded::Conditions => write!(
                f,
                "at most {MAX_CONDITIONS} patterns and feature predicates in one set (limit MAX_CONDITIONS)"
            ),
            Exceeded::PatternBytes { used, adding } => write!(
                f,
                "at most {MAX_SET_PATTERN_BYTES} bytes of literal and masked patterns in one set \
                 (limit MAX_SET_PATTERN_BYTES; {used} used before this pattern of {adding})"
            ),
            Exceeded::RegexBytes { used, adding } => write!(
                f,
                "at most {MAX_SET_REGEX_BYTES} bytes of compiled regexes in one set \
                 (limit MAX_SET_REGEX_BYTES; {used} used before this regex of {adding})"
            ),
        }
    }
}

impl Budget {
    /// Nothing used yet.
    pub fn new() -> Self {
        Budget::default()
    }

    /// Signatures counted so far.
    pub fn signatures(&self) -> usize {
        self.signatures
    }

    /// Patterns and feature predicates counted so far.
    pub fn conditions(&self) -> usize {
        self.conditions
    }

    /// Literal and masked-pattern bytes counted so far.
    pub fn pattern_bytes(&self) -> usize {
        self.pattern_bytes
    }

    /// Heap bytes of compiled regexes counted so far.
    pub fn regex_bytes(&self) -> usize {
        self.regex_bytes
    }

    pub(crate) fn add_signature(&mut self) -> Result<(), Exceeded> {
        if self.signatures >= MAX_SIGNATURES {
            return Err(Exceeded::Signatures);
        }
        self.signatures += 1;
        Ok(())
    }

    pub(crate) fn add_condition(&mut self) -> Result<(), Exceeded> {
        if self.conditions >= MAX_CONDITIONS {
            return Err(Exceeded::Conditions);
        }
        self.conditions += 1;
        Ok(())
    }

    pub(crate) fn add_pattern_bytes(&mut self, n: usize) -> Result<(), Exceeded> {
        let total = self.pattern_bytes.saturating_add(n);
        if total > MAX_SET_PATTERN_BYTES {
            return Err(Exceeded::PatternBytes {
                used: self.pattern_bytes,
                adding: n,
            });
        }
        self.pattern_bytes = total;
        Ok(())
    }

    pub(crate) fn add_regex_bytes(&mut self, n: usize) -> Result<(), Exceeded> {
        let total = self.regex_bytes.saturating_add(n);
        if total > MAX_SET_REGEX_BYTES {
            self.regex_refused = true;
            return Err(Exceeded::RegexBytes {
                used: self.regex_bytes,
                adding: n,
            });
        }
        self.regex_bytes = total;
        Ok(())
    }

    /// True once a regex was refused for the set-wide regex limit: the set
    /// cannot load, so later regexes are not compiled.
    pub(crate) fn regexes_spent(&self) -> bool {
        self.regex_refused
    }

    /// A budget for the texts built into this crate
    /// ([`builtin`](super::builtin)): their regexes are not compiled to
    /// be checked while they are parsed, since the crate's tests parse
    /// the same texts with the checks and the classifier compiles each
    /// regex when it is built (so a start-up compiles each regex once,
    /// not twice). Everything else is counted and checked as by
    /// [`Budget::new`].
    pub(crate) fn built_in() -> Self {
        Budget {
            built_in: true,
            ..Budget::default()
        }
    }

    /// Whether regexes are compiled to be checked while parsing (all but
    /// the built-in texts).
    pub(crate) fn checks_regexes(&self) -> bool {
        !self.built_in
    }
}
