//! Label sources under evaluation.

use std::fmt;
use std::path::PathBuf;

use crate::align::{named, AlignedFlow};
use crate::labels::Tool;

/// A source of labels: our classifier or a reference tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Source {
    /// This project's classifier.
    Dpi,
    /// nDPI.
    Ndpi,
    /// libprotoident.
    Lpi,
    /// argus.
    Argus,
}

impl Source {
    /// The reference tool, or `None` for our classifier.
    pub fn tool(self) -> Option<Tool> {
        match self {
            Source::Dpi => None,
            Source::Ndpi => Some(Tool::Ndpi),
            Source::Lpi => Some(Tool::Lpi),
            Source::Argus => Some(Tool::Argus),
        }
    }

    /// The short name (`dpi`, `ndpi`, `lpi`, `argus`).
    pub fn name(self) -> &'static str {
        match self {
            Source::Dpi => "dpi",
            Source::Ndpi => "ndpi",
            Source::Lpi => "lpi",
            Source::Argus => "argus",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something that names the master protocol of an aligned flow.
///
/// An evaluation asks it once per reference flow; `None` means it names
/// nothing (unknown, or a name with no nDPI equivalent).
pub trait Candidate: Send + Sync {
    /// The nDPI master protocol of `flow`, if the candidate names one.
    fn label(&self, flow: &AlignedFlow) -> Option<String>;
}

/// A reference tool's labels, read from the aligned flow.
#[derive(Debug, Clone, Copy)]
pub struct ToolCandidate {
    /// Index of the tool among the aligned flow's labels.
    pub index: usize,
}

impl Candidate for ToolCandidate {
    fn label(&self, flow: &AlignedFlow) -> Option<String> {
        let l = flow.labels.get(self.index)?.as_ref()?;
        named(l.master.as_deref()).map(str::to_owned)
    }
}

/// Our classifier as a candidate, built from the signature files `sigs`
/// (the shipped set when empty).
///
/// The classifier is not part of dpi-core yet; until it is, this is an
/// error. Wiring it in means: build the classifier here, and label each
/// flow from its user data, sizes and ports.
pub fn dpi_candidate(sigs: &[PathBuf]) -> anyhow::Result<Box<dyn Candidate>> {
    let _ = sigs;
    anyhow::bail!("the dpi candidate needs the classifier, which dpi-core does not have yet")
}
