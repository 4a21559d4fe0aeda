//! Label sources under evaluation.

use std::fmt;
use std::path::PathBuf;

use dpi_core::signature::SignatureSet;
use dpi_core::{Classifier, Flow, FlowView};

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

/// A candidate's label of one flow: an nDPI master protocol and, when it
/// names one, an application (nDPI's part after the dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The master protocol.
    pub master: String,
    /// The application.
    pub app: Option<String>,
    /// How sure the candidate is (ours: `signature`, `feature`, `port`;
    /// a tool's own confidence text), when it says.
    pub confidence: Option<String>,
    /// The signature that decided (ours: its id, else `file:line`).
    pub signature: Option<String>,
}

/// Something that names the master protocol of an aligned flow.
///
/// An evaluation asks it once per reference flow, with the aligned row
/// and the flow as the flow meter gave it (user data as bytes); `None`
/// means it names nothing (unknown, or a name with no nDPI equivalent).
pub trait Candidate: Send + Sync {
    /// The nDPI master protocol of `flow` (and its application), if the
    /// candidate names one.
    fn label(&self, flow: &AlignedFlow, raw: &Flow) -> Option<Label>;
}

/// A reference tool's labels, read from the aligned flow.
#[derive(Debug, Clone, Copy)]
pub struct ToolCandidate {
    /// Index of the tool among the aligned flow's labels.
    pub index: usize,
}

impl Candidate for ToolCandidate {
    fn label(&self, flow: &AlignedFlow, _raw: &Flow) -> Option<Label> {
        let l = flow.labels.get(self.index)?.as_ref()?;
        named(l.master.as_deref()).map(|m| Label {
            master: m.to_owned(),
            app: l.app.clone().filter(|a| !a.is_empty()),
            confidence: l.confidence.clone(),
            signature: None,
        })
    }
}

/// Our classifier as a candidate: each flow is classified as `dpi
/// classify` does: from `FlowView::from(&flow)` cut to the first
/// [`bytes`](DpiCandidate::bytes) per direction, with the application
/// rules over the protocol fields of all the bytes the flow kept (a
/// whole handshake). Every label but `Unknown` counts (port guesses
/// too). The protocol of a signature is an nDPI master name; a dotted
/// name is cut at the dot.
#[derive(Debug)]
pub struct DpiCandidate {
    /// The compiled set.
    pub classifier: Classifier,
    /// The bytes per direction the signatures see (`None`: all the flow holds).
    pub bytes: Option<usize>,
}

impl DpiCandidate {
    /// The candidate of `set`, its signatures seeing all the bytes a flow holds.
    pub fn new(set: &SignatureSet) -> anyhow::Result<DpiCandidate> {
        Ok(DpiCandidate {
            classifier: Classifier::new(set)?,
            bytes: None,
        })
    }

    /// The same, its signatures seeing the first `bytes` per direction
    /// (what `dpi classify --bytes N` gives them).
    pub fn with_bytes(mut self, bytes: usize) -> DpiCandidate {
        self.bytes = Some(bytes);
        self
    }
}

impl Candidate for DpiCandidate {
    fn label(&self, _flow: &AlignedFlow, raw: &Flow) -> Option<Label> {
        let mut view = FlowView::from(raw);
        let c = if self.classifier.app_rules() == 0 {
            if let Some(n) = self.bytes {
                view.c2s = &view.c2s[..view.c2s.len().min(n)];
                view.s2c = &view.s2c[..view.s2c.len().min(n)];
            }
            self.classifier
                .classify_with_metadata(&view, &Default::default())
        } else {
            let meta = view.metadata();
            if let Some(n) = self.bytes {
                view.c2s = &view.c2s[..view.c2s.len().min(n)];
                view.s2c = &view.s2c[..view.s2c.len().min(n)];
            }
            self.classifier.classify_with_metadata(&view, &meta)
        };
        if c.is_unknown() {
            return None;
        }
        let mut parts = c.protocol.splitn(2, '.');
        let master = parts.next().unwrap_or("");
        let app = c
            .app
            .as_deref()
            .or(parts.next())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        named(Some(master)).map(|m| Label {
            master: m.to_owned(),
            app,
            confidence: Some(c.confidence.as_str().to_owned()),
            signature: Some(c.reason.to_string()),
        })
    }
}

/// Our classifier as a candidate, built from the signature files `sigs`
/// (the built-in set of `dpi classify`, `default.rules` and `apps.rules`
/// then `std.sig`, when empty).
pub fn dpi_candidate(sigs: &[PathBuf]) -> anyhow::Result<Box<dyn Candidate>> {
    let set = crate::commands::classify::load_signatures(sigs)?;
    Ok(Box::new(DpiCandidate::new(&set)?))
}

/// The hand-written set that training grows: the files `sigs`, else the
/// built-in `default.rules` and `apps.rules`. The built-in `std.sig` is left out:
/// it is what `dpi train` learnt, possibly from the very captures held
/// out, so it would leak them into the evaluation.
pub fn hand_written(sigs: &[PathBuf]) -> anyhow::Result<SignatureSet> {
    if sigs.is_empty() {
        return crate::default_sigs::rules()
            .map_err(|e| anyhow::anyhow!("the built-in rules do not load: {e}"));
    }
    crate::commands::classify::load_signatures(sigs)
}
