//! The layout of a labelled corpus folder.
//!
//! A corpus is a folder laid out as follows (both corpora of the project's
//! shared corpus, `ndpi/` and `zeek/`, follow it):
//!
//! ```text
//! <corpus>/
//!   pcap/<capture>                   the captures (.pcap, .pcapng, .cap, ...)
//!   expected/<capture>.out           ndpiReader's verbose per-flow text
//!   labels/ndpi/<capture>.csv        ndpiReader -C CSV
//!   labels/ndpi/<capture>.json       ndpiReader -k JSON lines
//!   labels/lpi/<capture>.txt         lpi_protoident output
//!   labels/argus/<capture>.txt       argus + raservices records
//! ```
//!
//! `<capture>` is the capture's file name, extension included
//! (`1kxun.pcap` has `expected/1kxun.pcap.out`). Any of these files may be
//! missing for a capture: a tool that could not read a capture, or found
//! no flow in it, leaves no file. That means "no labels from this tool",
//! not an error. Folders other than these are ignored.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::ImportError;
use super::record::Tool;

/// One kind of label file in a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LabelSource {
    /// `expected/<capture>.out`.
    NdpiOut,
    /// `labels/ndpi/<capture>.csv`.
    NdpiCsv,
    /// `labels/ndpi/<capture>.json`.
    NdpiJson,
    /// `labels/lpi/<capture>.txt`.
    Lpi,
    /// `labels/argus/<capture>.txt`.
    Argus,
}

impl LabelSource {
    /// Every kind, in a fixed order.
    pub const ALL: [LabelSource; 5] = [
        LabelSource::NdpiOut,
        LabelSource::NdpiCsv,
        LabelSource::NdpiJson,
        LabelSource::Lpi,
        LabelSource::Argus,
    ];

    /// The tool whose labels the file holds.
    pub fn tool(self) -> Tool {
        match self {
            LabelSource::NdpiOut | LabelSource::NdpiCsv | LabelSource::NdpiJson => Tool::Ndpi,
            LabelSource::Lpi => Tool::Lpi,
            LabelSource::Argus => Tool::Argus,
        }
    }

    /// The folder, relative to the corpus root.
    pub fn folder(self) -> &'static str {
        match self {
            LabelSource::NdpiOut => "expected",
            LabelSource::NdpiCsv | LabelSource::NdpiJson => "labels/ndpi",
            LabelSource::Lpi => "labels/lpi",
            LabelSource::Argus => "labels/argus",
        }
    }

    /// The extension added to the capture's file name.
    pub fn extension(self) -> &'static str {
        match self {
            LabelSource::NdpiOut => ".out",
            LabelSource::NdpiCsv => ".csv",
            LabelSource::NdpiJson => ".json",
            LabelSource::Lpi | LabelSource::Argus => ".txt",
        }
    }

    /// The path of `capture`'s file of this kind under `root` (which may
    /// not exist).
    pub fn path(self, root: &Path, capture: &str) -> PathBuf {
        root.join(self.folder())
            .join(format!("{capture}{}", self.extension()))
    }
}

impl fmt::Display for LabelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabelSource::NdpiOut => "ndpi .out",
            LabelSource::NdpiCsv => "ndpi csv",
            LabelSource::NdpiJson => "ndpi json",
            LabelSource::Lpi => "lpi",
            LabelSource::Argus => "argus",
        })
    }
}

/// A corpus folder.
#[derive(Debug, Clone)]
pub struct Corpus {
    root: PathBuf,
}

impl Corpus {
    /// Opens a corpus folder; it must exist and hold `pcap/`, `expected/`
    /// or `labels/`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Corpus, ImportError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(ImportError::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            ));
        }
        if !["pcap", "expected", "labels"]
            .iter()
            .any(|d| root.join(d).is_dir())
        {
            return Err(ImportError::wrong_format(
                &root,
                "not a corpus folder: no pcap/, expected/ or labels/",
            ));
        }
        Ok(Corpus { root })
    }

    /// The corpus folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every capture the corpus knows, sorted: the files of `pcap/`, and
    /// the captures named by label files (a corpus may ship labels without
    /// the captures).
    pub fn captures(&self) -> Result<Vec<String>, ImportError> {
        let mut names = BTreeSet::new();
        names.extend(list(&self.root.join("pcap"), "")?);
        for source in LabelSource::ALL {
            names.extend(list(&self.root.join(source.folder()), source.extension())?);
        }
        Ok(names.into_iter().collect())
    }

    /// The capture file itself, if present.
    pub fn capture_path(&self, capture: &str) -> Option<PathBuf> {
        Some(self.root.join("pcap").join(capture)).filter(|p| p.is_file())
    }

    /// `capture`'s label file of the given kind, or `None` when the tool
    /// left none.
    pub fn label_file(&self, capture: &str, source: LabelSource) -> Option<PathBuf> {
        Some(source.path(&self.root, capture)).filter(|p| p.is_file())
    }

    /// All label files of one kind, sorted by capture.
    pub fn label_files(&self, source: LabelSource) -> Result<Vec<(String, PathBuf)>, ImportError> {
        let names = list(&self.root.join(source.folder()), source.extension())?;
        Ok(names
            .into_iter()
            .map(|c| {
                let p = source.path(&self.root, &c);
                (c, p)
            })
            .collect())
    }
}

/// File names in `dir` ending in `ext`, with `ext` removed; nothing when
/// the folder does not exist.
fn list(dir: &Path, ext: &str) -> Result<Vec<String>, ImportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImportError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ImportError::io(dir, e))?;
        // Follow symbolic links: a corpus may be assembled from links.
        if !entry.path().is_file() {
            continue;
        }
        // Captures and label files are joined by name: a name that is not
        // UTF-8 could not be matched with its other files, so it is an
        // error naming the file rather than a capture silently missing.
        let Ok(name) = entry.file_name().into_string() else {
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a file name that is not UTF-8 (rename the file)",
            );
            return Err(ImportError::io(&entry.path(), e));
        };
        if let Some(stem) = name.strip_suffix(ext) {
            if !stem.is_empty() {
                out.push(stem.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}
