//! Reading the signature files named on the command line (`--sig`).
//!
//! All files of one run make one set and are held to the set-wide limits of
//! `dpi_core::signature::limits` together: the file that crosses one is
//! named at the line and column where it does. Every bad file is reported
//! (at most `MAX_KEPT_ERRORS` errors each, then the count of the others)
//! and nothing is loaded when one is bad. A file that holds no signature is
//! loaded (an empty base is how the learner is measured alone) with a
//! warning naming it.

use std::fmt::Write as _;
use std::path::PathBuf;

use dpi_core::signature::{load_with_budget, Budget, SignatureSet};

/// Why the signature files of a run could not be loaded: the errors of
/// every bad file, as they are printed.
#[derive(Debug)]
pub struct SignatureFilesError {
    bad_files: usize,
    report: String,
}

impl SignatureFilesError {
    /// How many files could not be loaded.
    pub fn bad_files(&self) -> usize {
        self.bad_files
    }

    /// The errors of every bad file, each file's block as
    /// `SignatureErrors` prints it.
    pub fn report(&self) -> &str {
        &self.report
    }
}

impl std::fmt::Display for SignatureFilesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{} signature file(s) could not be loaded",
            self.report, self.bad_files
        )
    }
}

impl std::error::Error for SignatureFilesError {}

/// Loads `paths` into one set, in order. Warnings (a file with no
/// signature) go to `warn`, one line each.
pub fn load_files(
    paths: &[PathBuf],
    warn: &mut dyn FnMut(&str),
) -> Result<SignatureSet, SignatureFilesError> {
    let mut set = SignatureSet::new();
    let mut budget = Budget::new();
    let mut bad_files = 0;
    let mut report = String::new();
    for p in paths {
        match load_with_budget(p, &mut budget) {
            Ok(s) => {
                if s.is_empty() {
                    warn(&format!(
                        "warning: {} holds no signature; nothing was loaded from it",
                        p.display()
                    ));
                }
                set.extend(s);
            }
            Err(e) => {
                bad_files += 1;
                let _ = write!(report, "{e}");
            }
        }
    }
    if bad_files > 0 {
        return Err(SignatureFilesError { bad_files, report });
    }
    Ok(set)
}
