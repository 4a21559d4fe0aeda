//! The built-in signature set: what `dpi classify` uses when no file is
//! given, embedded so that a probe linking this crate gets the same labels.
//!
//! The set is, in order: the hand-written rules of `signatures/default.rules`
//! and `signatures/apps.rules` (extended format; the second holds the
//! application rules), then what training learnt, `signatures/std.sig`
//! (argus grammar) and `signatures/trained.rules` (what std.sig cannot
//! carry). Learnt signatures and application rules yield to the
//! hand-written ones: see [`learnt_tier`].

use super::limits::Budget;
#[cfg(test)]
use super::parse_extended;
use super::{extended, parse_std_sig, SignatureErrors, SignatureSet};

/// The text of `signatures/default.rules`, as built in.
pub const DEFAULT_RULES: &str = include_str!("../../../signatures/default.rules");

/// The text of `signatures/apps.rules`, as built in.
pub const APPS_RULES: &str = include_str!("../../../signatures/apps.rules");

/// The text of `signatures/std.sig`, as built in.
pub const STD_SIG: &str = include_str!("../../../signatures/std.sig");

/// The text of `signatures/trained.rules`, as built in.
pub const TRAINED_RULES: &str = include_str!("../../../signatures/trained.rules");

impl SignatureSet {
    /// The built-in set: `default.rules` and `apps.rules` first, then
    /// `std.sig`, then `trained.rules`, the last two through
    /// [`learnt_tier`]. Locations name the files by their file names.
    ///
    /// The embedded texts are parsed by the crate's tests, so this never
    /// fails; [`try_builtin`] returns the parse errors instead of
    /// panicking, for a build whose files were edited.
    ///
    /// ```
    /// use dpi_core::signature::{builtin_hand_rules, SignatureSet};
    ///
    /// let set = SignatureSet::builtin();
    /// let hand = builtin_hand_rules().unwrap();
    /// // The hand-written rules come first and keep their priorities.
    /// assert_eq!(set.signatures[..hand.len()], hand.signatures[..]);
    /// assert!(set.apps.iter().any(|r| r.app == "YouTube"));
    /// ```
    ///
    /// # Panics
    ///
    /// Only if the embedded files do not parse, which the crate's tests
    /// rule out.
    pub fn builtin() -> SignatureSet {
        match try_builtin() {
            Ok(set) => set,
            Err(e) => panic!("the built-in signature set does not parse: {e}"),
        }
    }
}

/// [`SignatureSet::builtin`], returning the parse errors of the embedded
/// files (there are none in a build that passed its tests). Their regexes
/// are not compiled here, only when a classifier is built from the set
/// (the tests parse the same texts with the regexes compiled and check
/// that the sets are equal).
pub fn try_builtin() -> Result<SignatureSet, SignatureErrors> {
    let mut set = builtin_hand_rules()?;
    let mut learnt = parse_std_sig(STD_SIG, "std.sig")?;
    learnt.extend(parse_built_in(TRAINED_RULES, "trained.rules")?);
    learnt_tier(&mut learnt, &set);
    set.extend(learnt);
    Ok(set)
}

/// The built-in hand-written rules: `default.rules`, then `apps.rules`.
pub fn builtin_hand_rules() -> Result<SignatureSet, SignatureErrors> {
    let mut set = parse_built_in(DEFAULT_RULES, "default.rules")?;
    set.extend(parse_built_in(APPS_RULES, "apps.rules")?);
    Ok(set)
}

/// An embedded extended-format text, parsed as
/// [`parse_extended`](super::parse_extended) does but without compiling
/// its regexes to check them ([`Budget::built_in`]); the tests check that
/// this gives the same set as the checked parse.
fn parse_built_in(text: &str, name: &str) -> Result<SignatureSet, SignatureErrors> {
    extended::parse(text, name, &mut Budget::built_in())
}

/// Puts learnt signatures below every hand-written one: their priorities
/// are shifted (keeping their order among themselves) so that the highest
/// is one below the lowest priority in `hand`. Where a hand-written rule
/// and a learnt one of the same confidence class both match, the
/// hand-written rule decides (a learnt byte pattern still beats a
/// hand-written port guess). Learnt application rules are shifted the same
/// way below the hand-written application rules: where both hold with the
/// same kind and suffix length, the hand-written one decides (a learnt
/// longer suffix or exact name still does). Used for the built-in set and
/// when a set of hand-written rules is grown with training.
///
/// ```
/// use dpi_core::signature::{builtin_hand_rules, learnt_tier, parse_std_sig, STD_SIG};
///
/// let hand = builtin_hand_rules().unwrap();
/// let lowest = hand.signatures.iter().map(|s| s.priority).min().unwrap();
/// let mut learnt = parse_std_sig(STD_SIG, "std.sig").unwrap();
/// learnt_tier(&mut learnt, &hand);
/// assert!(learnt.signatures.iter().all(|s| s.priority < lowest));
/// ```
pub fn learnt_tier(learnt: &mut SignatureSet, hand: &SignatureSet) {
    let floor = hand
        .signatures
        .iter()
        .map(|s| s.priority)
        .min()
        .unwrap_or(0);
    if let Some(top) = learnt.signatures.iter().map(|s| s.priority).max() {
        let shift = i64::from(floor) - 1 - i64::from(top);
        for s in &mut learnt.signatures {
            s.priority = shifted(s.priority, shift);
        }
    }
    let floor = hand.apps.iter().map(|r| r.priority).min().unwrap_or(0);
    if let Some(top) = learnt.apps.iter().map(|r| r.priority).max() {
        let shift = i64::from(floor) - 1 - i64::from(top);
        for r in &mut learnt.apps {
            r.priority = shifted(r.priority, shift);
        }
    }
}

/// `priority` moved down by `shift` when it is negative, within `i32`.
fn shifted(priority: i32, shift: i64) -> i32 {
    let p = i64::from(priority) + shift.min(0);
    p.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_set_parses_and_compiles() {
        let set = try_builtin().unwrap_or_else(|e| panic!("{e}"));
        let hand = builtin_hand_rules().unwrap();
        let std = parse_std_sig(STD_SIG, "std.sig").unwrap();
        let trained = parse_extended(TRAINED_RULES, "trained.rules").unwrap();
        assert_eq!(set.len(), hand.len() + std.len() + trained.len());
        assert!(!std.is_empty() && !hand.apps.is_empty());
        crate::Classifier::new(&set).unwrap();
    }

    #[test]
    fn built_in_texts_parse_the_same_with_their_regexes_checked() {
        for (text, name) in [
            (DEFAULT_RULES, "default.rules"),
            (APPS_RULES, "apps.rules"),
            (TRAINED_RULES, "trained.rules"),
        ] {
            let checked = parse_extended(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parse_built_in(text, name).unwrap(), checked, "{name}");
        }
        // A regex that does not compile is caught only by the checked parse.
        let bad = "rule x\n  protocol X\n  c2s regex \"ab(\"\nend\n";
        assert!(parse_extended(bad, "bad.rules").is_err());
        assert!(parse_built_in(bad, "bad.rules").is_ok());
    }

    #[test]
    fn learnt_rules_yield_to_hand_written_ones() {
        let set = SignatureSet::builtin();
        let hand = builtin_hand_rules().unwrap();
        let (h, l) = set.signatures.split_at(hand.signatures.len());
        let lowest = h.iter().map(|s| s.priority).min().unwrap();
        assert!(l.iter().all(|s| s.priority < lowest));
        let (ha, la) = set.apps.split_at(hand.apps.len());
        let lowest = ha.iter().map(|r| r.priority).min().unwrap();
        assert!(la.iter().all(|r| r.priority < lowest));
    }

    #[test]
    fn shifts_saturate() {
        assert_eq!(shifted(5, -10), -5);
        assert_eq!(shifted(5, 3), 5);
        assert_eq!(shifted(i32::MIN + 1, -5), i32::MIN);
    }
}
