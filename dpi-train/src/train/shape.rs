//! Token-shape regexes: for protocols whose fixed bytes follow a field of
//! varying length (a method name, a number, a word), which neither a
//! masked pattern at fixed offsets nor a literal can place.
//!
//! The first [`SHAPE_BYTES`] bytes of a payload are cut into tokens: runs
//! of ASCII letters, runs of ASCII digits, and single other bytes. Flows
//! of a protocol whose payloads start with the same sequence of token
//! kinds (and the same other bytes) form a group; the group's regex keeps
//! a run as a literal when every flow has the same run there and writes
//! it as a class (`[A-Za-z]+`, `[0-9]+`) otherwise. A group gives a
//! candidate when its regex needs that freedom (some run's length varies)
//! and still pins at least [`FIXED_AFTER`] bytes after the first varying
//! run, e.g. `[A-Za-z]+\x20sip\x3a` for SIP requests whatever the method.
//! Candidates are anchored at the start of the direction's bytes and are
//! measured and validated like every other candidate.

use std::collections::BTreeMap;

use dpi_core::signature::{Direction, Pattern, PatternKind, Position, Signature, Transport};

use super::score::PoolItem;

/// Bytes of a payload cut into tokens.
pub const SHAPE_BYTES: usize = 48;
/// Tokens of a shape at most.
pub const SHAPE_TOKENS: usize = 10;
/// Least fixed bytes after the first run of varying length.
pub const FIXED_AFTER: usize = 2;
/// Least fixed bytes in all.
pub const FIXED_MIN: usize = 3;
/// Most regex candidates per protocol, direction and rotation.
pub const REGEX_MAX: usize = 24;

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Letters,
    Digits,
    Byte(u8),
}

/// A token: its kind and its bytes.
type Token<'a> = (Kind, &'a [u8]);

/// The tokens of `p`: runs of letters, runs of digits, other bytes. A run
/// that reaches the end of the bytes looked at is left out (it may go on).
fn tokens(p: &[u8]) -> Vec<Token<'_>> {
    let end = p.len().min(SHAPE_BYTES);
    let mut out = Vec::new();
    let mut i = 0;
    while i < end && out.len() < SHAPE_TOKENS {
        let b = p[i];
        let class = |c: u8| {
            if c.is_ascii_alphabetic() {
                Some(Kind::Letters)
            } else if c.is_ascii_digit() {
                Some(Kind::Digits)
            } else {
                None
            }
        };
        match class(b) {
            Some(k) => {
                let mut j = i + 1;
                while j < end && class(p[j]) == Some(k) {
                    j += 1;
                }
                if j == end {
                    break;
                }
                out.push((k, &p[i..j]));
                i = j;
            }
            None => {
                out.push((Kind::Byte(b), &p[i..=i]));
                i += 1;
            }
        }
    }
    out
}

fn push_literal(src: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            src.push(char::from(b));
        } else {
            src.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// The regex of a group of token lists sharing their first `n` kinds;
/// `None` when it does not need a varying run or pins too few bytes.
fn regex_of(group: &[&[Token<'_>]], n: usize) -> Option<String> {
    let mut src = String::new();
    let (mut fixed, mut fixed_after, mut varied) = (0usize, 0usize, false);
    for i in 0..n {
        let (kind, first) = group[0][i];
        let same = group.iter().all(|t| t[i].1 == first);
        if same {
            push_literal(&mut src, first);
            fixed += first.len();
            if varied {
                fixed_after += first.len();
            }
            continue;
        }
        let lens_vary = group.iter().any(|t| t[i].1.len() != first.len());
        varied |= lens_vary;
        src.push_str(match kind {
            Kind::Letters => "[A-Za-z]+",
            Kind::Digits => "[0-9]+",
            // Equal kinds of single bytes are equal bytes.
            Kind::Byte(_) => return None,
        });
    }
    (varied && fixed >= FIXED_MIN && fixed_after >= FIXED_AFTER).then_some(src)
}

/// Regex candidates for `protocol` in direction `d` (0 initiator, 1
/// responder) from its flows on the mining folds.
pub fn candidates(
    protocol: &str,
    t: u8,
    d: usize,
    positives: &[&PoolItem<'_>],
    min_support: f64,
) -> Vec<Signature> {
    let toks: Vec<(Vec<Token<'_>>, f64)> = positives
        .iter()
        .map(|it| (tokens(it.example.payload(d)), it.weight))
        .filter(|(t, _)| t.len() >= 2)
        .collect();
    // Shape prefix -> members.
    let mut groups: BTreeMap<Vec<Kind>, Vec<usize>> = BTreeMap::new();
    for (i, (tk, _)) in toks.iter().enumerate() {
        for n in 2..=tk.len() {
            let shape: Vec<Kind> = tk[..n].iter().map(|(k, _)| *k).collect();
            groups.entry(shape).or_default().push(i);
        }
    }
    let mut found: BTreeMap<String, f64> = BTreeMap::new();
    for (shape, members) in &groups {
        let weight: f64 = members.iter().map(|&i| toks[i].1).sum();
        if weight < min_support {
            continue;
        }
        let lists: Vec<&[Token<'_>]> = members.iter().map(|&i| toks[i].0.as_slice()).collect();
        if let Some(src) = regex_of(&lists, shape.len()) {
            let w = found.entry(src).or_default();
            *w = w.max(weight);
        }
    }
    let mut ranked: Vec<(String, f64)> = found.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(REGEX_MAX)
        .map(|(src, _)| {
            let mut s = Signature::new(protocol);
            s.transport = Transport::from_number(t);
            s.patterns.push(Pattern {
                direction: if d == 0 {
                    Direction::Initiator
                } else {
                    Direction::Responder
                },
                kind: PatternKind::Regex {
                    source: src,
                    position: Position::At(0),
                },
            });
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_runs_and_leave_out_an_open_end() {
        let t = tokens(b"GET /a1 HTTP");
        let kinds: Vec<Kind> = t.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::Letters,
                Kind::Byte(b' '),
                Kind::Byte(b'/'),
                Kind::Letters,
                Kind::Digits,
                Kind::Byte(b' ')
            ]
        );
    }

    #[test]
    fn varying_method_gives_a_class_then_fixed_bytes() {
        let a = tokens(b"INVITE sip:alice@example.org SIP/2.0\r\n");
        let b = tokens(b"REGISTER sip:bob@example.net SIP/2.0\r\n");
        let g = [a.as_slice(), b.as_slice()];
        assert_eq!(regex_of(&g, 4).as_deref(), Some("[A-Za-z]+\\x20sip\\x3a"));
        // Without a varying length there is no need for a regex.
        let c = tokens(b"ABCD sip:x");
        let e = tokens(b"WXYZ sip:y");
        assert_eq!(regex_of(&[c.as_slice(), e.as_slice()], 4), None);
    }
}
