//! The signature set built into `dpi`, so `dpi classify` works with no file
//! around it: the hand-made rules of `signatures/default.rules` (extended
//! format), then what training learnt: `signatures/std.sig` (argus grammar)
//! and `signatures/trained.rules` (what std.sig cannot carry). Learnt
//! signatures yield to the hand-made ones: see [`learnt_tier`].

use dpi_core::signature::{parse_extended, parse_std_sig, SignatureErrors, SignatureSet};

/// The text of `signatures/default.rules`, as built in.
pub const DEFAULT_RULES: &str = include_str!("../../signatures/default.rules");

/// The text of `signatures/std.sig`, as built in.
pub const STD_SIG: &str = include_str!("../../signatures/std.sig");

/// The text of `signatures/trained.rules`, as built in.
pub const TRAINED_RULES: &str = include_str!("../../signatures/trained.rules");

/// The built-in set: `default.rules` first, then `std.sig`, then
/// `trained.rules`, the last two through [`learnt_tier`]. Locations name
/// the files by their file names.
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
    learnt.signatures.extend(trained_rules()?.signatures);
    learnt_tier(&mut learnt);
    set.signatures.extend(learnt.signatures);
    Ok(set)
}

/// Puts learnt signatures one priority below the hand-made ones: where a
/// hand-made rule and a learnt one of the same confidence class both
/// match, the hand-made rule decides (a learnt byte pattern still beats
/// a hand-made port guess). Used for the built-in set and by `dpi eval`
/// when it grows the hand-made rules with training.
///
/// ```
/// let mut set = dpi_train::default_sigs::std_sig().unwrap();
/// dpi_train::default_sigs::learnt_tier(&mut set);
/// assert!(set.signatures.iter().all(|s| s.priority == -1));
/// ```
pub fn learnt_tier(set: &mut SignatureSet) {
    for s in &mut set.signatures {
        s.priority = s.priority.saturating_sub(1);
    }
}

/// The built-in hand-made rules.
pub fn rules() -> Result<SignatureSet, SignatureErrors> {
    parse_extended(DEFAULT_RULES, "default.rules")
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
