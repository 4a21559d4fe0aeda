//! Checking one pattern or feature against a flow, and telling whether one
//! that does not hold yet could still hold once more bytes arrive.

use regex_automata::meta::Cache;
use regex_automata::{Anchored, Input};

use super::compile::{Probe, ProbeKind};
use crate::signature::{Feature, Position, Side};
use crate::view::FlowView;

/// A three-valued answer: holds, cannot hold whatever arrives later, or
/// not decided yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    No,
    Maybe,
    Yes,
}

impl Tri {
    pub(crate) fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }

    pub(crate) fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Maybe,
        }
    }

    fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

/// Whether `needle` (lower-cased when `nocase`) equals `hay`.
#[inline]
fn same(hay: &[u8], needle: &[u8], nocase: bool) -> bool {
    if nocase {
        hay.eq_ignore_ascii_case(needle)
    } else {
        hay == needle
    }
}

/// Whether the part of `needle` placed at `at` that `hay` already holds
/// agrees with it.
fn prefix_agrees(hay: &[u8], at: usize, needle: &[u8], nocase: bool) -> bool {
    let have = hay.get(at..).unwrap_or(&[]);
    let n = have.len().min(needle.len());
    same(&have[..n], &needle[..n], nocase)
}

/// Whether `hay` holds `needle`; an empty needle is everywhere (the
/// compiler marks such a literal trivial, but a matcher read back from
/// bytes is not trusted to).
fn contains(hay: &[u8], needle: &[u8], nocase: bool) -> bool {
    needle.is_empty()
        || (needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| same(w, needle, nocase)))
}

impl Probe {
    /// Verifies the probe after its atom was found where it needs to be,
    /// ending at `end`; `None` when a full evaluation is needed (regexes).
    #[inline]
    pub(crate) fn hit_check(&self, hay: &[u8], end: usize) -> Option<bool> {
        match &self.kind {
            ProbeKind::Masked { checks } => Some(
                checks
                    .iter()
                    .all(|&(pos, v, m)| hay.get(pos).is_some_and(|b| b & m == v)),
            ),
            ProbeKind::Literal {
                bytes,
                nocase,
                position,
            } => Some(
                end.checked_sub(bytes.len())
                    .and_then(|start| hay.get(start..end))
                    .is_some_and(|h| same(h, bytes, *nocase))
                    && match *position {
                        Position::Within(n) => end <= n as usize,
                        Position::At(_) | Position::Anywhere => true,
                    },
            ),
            ProbeKind::Regex {
                prefixes: Some(lits),
                exact: true,
                position,
                ..
            } => Some(lits.iter().any(|lit| {
                end.checked_sub(lit.len()).is_some_and(|start| {
                    hay.get(start..end) == Some(&lit[..])
                        && match *position {
                            Position::At(o) => start == o as usize,
                            Position::Within(n) => end <= n as usize,
                            Position::Anywhere => true,
                        }
                })
            })),
            ProbeKind::Regex { .. } => None,
        }
    }

    /// The full check of the probe against one direction's bytes; a regex
    /// searches with `cache` (made for it on first use: the caller keeps
    /// one per probe, so no search waits on another thread's).
    pub(crate) fn eval(&self, hay: &[u8], cache: &mut Option<Cache>) -> bool {
        match &self.kind {
            ProbeKind::Masked { checks } => checks
                .iter()
                .all(|&(pos, v, m)| hay.get(pos).is_some_and(|b| b & m == v)),
            ProbeKind::Literal {
                bytes,
                nocase,
                position,
            } => match *position {
                Position::At(o) => {
                    let o = o as usize;
                    o.checked_add(bytes.len())
                        .and_then(|end| hay.get(o..end))
                        .is_some_and(|h| same(h, bytes, *nocase))
                }
                Position::Within(n) => contains(&hay[..hay.len().min(n as usize)], bytes, *nocase),
                Position::Anywhere => contains(hay, bytes, *nocase),
            },
            ProbeKind::Regex {
                re,
                source,
                position,
                lazy,
                first,
                ..
            } => {
                if let Position::At(o) = *position {
                    // A byte no match begins with: no need to compile or run it.
                    if hay.get(o as usize).is_some_and(|&b| !first.has(b)) {
                        return false;
                    }
                }
                let compile = || match lazy {
                    Some(budget) => budget.compile(source),
                    None => crate::signature::compile_regex(source).ok(),
                };
                let Some(re) = re.get_or_init(compile) else {
                    return false;
                };
                let input = match *position {
                    Position::At(o) => {
                        let o = o as usize;
                        if o > hay.len() {
                            return false;
                        }
                        Input::new(hay).range(o..).anchored(Anchored::Yes)
                    }
                    Position::Within(n) => Input::new(hay).range(..hay.len().min(n as usize)),
                    Position::Anywhere => Input::new(hay),
                };
                let cache = cache.get_or_insert_with(|| re.create_cache());
                re.is_match_with(cache, &input)
            }
        }
    }

    /// For a probe that does not match `hay` now, in a direction where more
    /// bytes may still arrive (appended to `hay`): [`Tri::No`] when no
    /// continuation can make it match, [`Tri::Maybe`] otherwise.
    pub(crate) fn could_grow_into_match(&self, hay: &[u8]) -> Tri {
        let len = hay.len();
        match &self.kind {
            ProbeKind::Masked { checks } => {
                let mut missing = false;
                for &(pos, v, m) in checks.iter() {
                    match hay.get(pos) {
                        Some(b) if b & m != v => return Tri::No,
                        Some(_) => {}
                        None => missing = true,
                    }
                }
                if missing {
                    Tri::Maybe
                } else {
                    Tri::No
                }
            }
            ProbeKind::Literal {
                bytes,
                nocase,
                position,
            } => match *position {
                Position::At(o) => {
                    let o = o as usize;
                    if len >= o.saturating_add(bytes.len())
                        || !prefix_agrees(hay, o, bytes, *nocase)
                    {
                        Tri::No
                    } else {
                        Tri::Maybe
                    }
                }
                Position::Within(n) => {
                    if len >= n as usize {
                        Tri::No
                    } else {
                        Tri::Maybe
                    }
                }
                Position::Anywhere => Tri::Maybe,
            },
            ProbeKind::Regex {
                position, prefixes, ..
            } => match *position {
                Position::At(o) => {
                    let o = o as usize;
                    match prefixes {
                        Some(p) if !p.iter().any(|lit| prefix_agrees(hay, o, lit, false)) => {
                            Tri::No
                        }
                        _ => Tri::Maybe,
                    }
                }
                // Look-around at byte N may depend on the byte after it.
                Position::Within(n) => {
                    if len > n as usize {
                        Tri::No
                    } else {
                        Tri::Maybe
                    }
                }
                Position::Anywhere => Tri::Maybe,
            },
        }
    }
}

/// Evaluates a feature predicate. With `complete`, nothing more will
/// arrive, so the answer is never [`Tri::Maybe`].
pub(crate) fn feature(f: &Feature, view: &FlowView<'_>, complete: bool) -> Tri {
    match *f {
        Feature::FirstPayloadSize { side, range } => {
            let size = match side {
                Side::Initiator => view.c2s_first_size,
                Side::Responder => view.s2c_first_size,
            };
            match size {
                Some(sz) => Tri::from_bool(range.contains(u64::from(sz))),
                None if complete => Tri::No,
                None => Tri::Maybe,
            }
        }
        Feature::Packets { side, range } => {
            let n = match side {
                Some(Side::Initiator) => view.c2s_packets,
                Some(Side::Responder) => view.s2c_packets,
                None => view.c2s_packets.saturating_add(view.s2c_packets),
            };
            if range.max.is_some_and(|m| n > m) {
                Tri::No
            } else if range.contains(n) {
                Tri::Yes
            } else if complete {
                Tri::No
            } else {
                Tri::Maybe
            }
        }
        Feature::FirstPayloadFrom(side) => match view.first_payload {
            Some(s) => Tri::from_bool(s == side),
            None if complete => Tri::No,
            None => Tri::Maybe,
        },
        Feature::ClientPort { lo, hi } => Tri::from_bool((lo..=hi).contains(&view.client_port)),
    }
}
