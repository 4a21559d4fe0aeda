//! The signature set built into `dpi`: dpi-core's built-in set
//! ([`SignatureSet::builtin`]), so that `dpi classify` and a probe that
//! links dpi-core give the same labels. The texts and [`learnt_tier`] live
//! in `dpi_core::signature`; this module names them for the commands.

use dpi_core::signature::{
    builtin_hand_rules, parse_extended, parse_std_sig, SignatureErrors, SignatureSet,
};

pub use dpi_core::signature::{learnt_tier, APPS_RULES, DEFAULT_RULES, STD_SIG, TRAINED_RULES};

/// The built-in set: `default.rules` and `apps.rules` first, then
/// `std.sig`, then `trained.rules`, the last two through [`learnt_tier`]
/// ([`dpi_core::signature::try_builtin`]).
///
/// ```
/// let set = dpi_train::default_sigs::default_set().unwrap();
/// assert_eq!(set, dpi_core::signature::SignatureSet::builtin());
/// ```
pub fn default_set() -> Result<SignatureSet, SignatureErrors> {
    dpi_core::signature::try_builtin()
}

/// The built-in hand-made rules: `default.rules`, then `apps.rules`.
pub fn rules() -> Result<SignatureSet, SignatureErrors> {
    builtin_hand_rules()
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
