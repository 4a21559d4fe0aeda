//! The signature set built into `dpi`, so `dpi classify` works with no file
//! around it: the hand-made rules of `signatures/default.rules` and
//! `signatures/apps.rules` (extended format; the second holds the
//! application rules), then what training learnt: `signatures/std.sig`
//! (argus grammar) and `signatures/trained.rules` (what std.sig cannot
//! carry). Learnt signatures and application rules yield to the hand-made
//! ones: see [`learnt_tier`].

use dpi_core::signature::{parse_extended, parse_std_sig, SignatureErrors, SignatureSet};

/// The text of `signatures/default.rules`, as built in.
pub const DEFAULT_RULES: &str = include_str!("../../signatures/default.rules");

/// The text of `signatures/apps.rules`, as built in.
pub const APPS_RULES: &str = include_str!("../../signatures/apps.rules");

/// The text of `signatures/std.sig`, as built in.
pub const STD_SIG: &str = include_str!("../../signatures/std.sig");

/// The text of `signatures/trained.rules`, as built in.
pub const TRAINED_RULES: &str = include_str!("../../signatures/trained.rules");

/// The built-in set: `default.rules` and `apps.rules` first, then
/// `std.sig`, then `trained.rules`, the last two through [`learnt_tier`].
/// Locations name the files by their file names.
///
/// ```
/// let set = dpi_train::default_sigs::default_set().unwrap();
/// assert_eq!(
///     set.len(),
///     dpi_train::default_sigs::rules().unwrap().len()
///         + dpi_train::default_sigs::std_sig().unwrap().len()
///         + dpi_train::default_sigs::trained_rules().unwrap().len()
/// );
/// ```
pub fn default_set() -> Result<SignatureSet, SignatureErrors> {
    let mut set = rules()?;
    let mut learnt = std_sig()?;
    learnt.extend(trained_rules()?);
    learnt_tier(&mut learnt, &set);
    set.extend(learnt);
    Ok(set)
}

/// Puts learnt signatures below every hand-made one: their priorities
/// are shifted (keeping their order among themselves) so that the highest
/// is one below the lowest priority in `hand`. Where a hand-made rule and
/// a learnt one of the same confidence class both match, the hand-made
/// rule decides (a learnt byte pattern still beats a hand-made port
/// guess). Learnt application rules are shifted the same way below the
/// hand-made application rules: where both hold with the same kind and
/// suffix length, the hand-made one decides (a learnt longer suffix or
/// exact name still does). Used for the built-in set and by `dpi eval`
/// when it grows the hand-made rules with training.
///
/// ```
/// use dpi_train::default_sigs::{learnt_tier, rules, std_sig};
/// let hand = rules().unwrap();
/// let lowest = hand.signatures.iter().map(|s| s.priority).min().unwrap();
/// let mut learnt = std_sig().unwrap();
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
            let p = i64::from(s.priority) + shift.min(0);
            s.priority = p.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        }
    }
    app_tier(learnt, hand);
}

/// The application-rule half of [`learnt_tier`].
fn app_tier(learnt: &mut SignatureSet, hand: &SignatureSet) {
    let floor = hand.apps.iter().map(|r| r.priority).min().unwrap_or(0);
    let Some(top) = learnt.apps.iter().map(|r| r.priority).max() else {
        return;
    };
    let shift = i64::from(floor) - 1 - i64::from(top);
    for r in &mut learnt.apps {
        let p = i64::from(r.priority) + shift.min(0);
        r.priority = p.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    }
}

/// The built-in hand-made rules: `default.rules`, then `apps.rules`.
pub fn rules() -> Result<SignatureSet, SignatureErrors> {
    let mut set = parse_extended(DEFAULT_RULES, "default.rules")?;
    set.extend(app_rules()?);
    Ok(set)
}

/// The built-in hand-made application rules (`apps.rules`).
pub fn app_rules() -> Result<SignatureSet, SignatureErrors> {
    parse_extended(APPS_RULES, "apps.rules")
}

/// The built-in trained signatures.
pub fn std_sig() -> Result<SignatureSet, SignatureErrors> {
    parse_std_sig(STD_SIG, "std.sig")
}

/// The built-in trained signatures that std.sig cannot carry.
pub fn trained_rules() -> Result<SignatureSet, SignatureErrors> {
    parse_extended(TRAINED_RULES, "trained.rules")
}

#[cfg(test)]
mod tests {
    #[test]
    fn built_in_set_parses_and_compiles() {
        let set = super::default_set().unwrap_or_else(|e| panic!("{e}"));
        dpi_core::Classifier::new(&set).unwrap();
    }
}
