//! Errors of the label importers.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::ParsedLabels;

/// A line of a label file that could not be read; the line was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// The label file.
    pub file: PathBuf,
    /// Line number, from 1.
    pub line: usize,
    /// What was wrong with it.
    pub reason: String,
}

impl LineError {
    pub(crate) fn new(file: PathBuf, line: usize, reason: String) -> LineError {
        LineError { file, line, reason }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// A label file that could not be imported, or only in part.
///
/// An incomplete file (cut short, or holding fewer flows than its own
/// header counts) still gives the records read: [`partial`](Self::partial).
#[derive(Debug)]
pub struct ImportError {
    path: PathBuf,
    kind: ErrorKind,
    /// What was read of an incomplete file.
    partial: Option<Box<ParsedLabels>>,
}

#[derive(Debug)]
enum ErrorKind {
    Io(io::Error),
    WrongFormat(String),
    MissingColumn(String),
    BadLine { line: usize, reason: String },
    Incomplete { line: Option<usize>, reason: String },
}

impl ImportError {
    pub(crate) fn io(path: &Path, e: io::Error) -> ImportError {
        ImportError {
            path: path.to_owned(),
            kind: ErrorKind::Io(e),
            partial: None,
        }
    }

    pub(crate) fn wrong_format(path: &Path, reason: impl Into<String>) -> ImportError {
        ImportError {
            path: path.to_owned(),
            kind: ErrorKind::WrongFormat(reason.into()),
            partial: None,
        }
    }

    pub(crate) fn missing_column(path: &Path, column: &str) -> ImportError {
        ImportError {
            path: path.to_owned(),
            kind: ErrorKind::MissingColumn(column.to_owned()),
            partial: None,
        }
    }

    pub(crate) fn bad_line(path: &Path, line: usize, reason: impl Into<String>) -> ImportError {
        ImportError {
            path: path.to_owned(),
            kind: ErrorKind::BadLine {
                line,
                reason: reason.into(),
            },
            partial: None,
        }
    }

    /// The file is incomplete (cut short at `line`, or holding less than
    /// it says); `partial` is what was read.
    pub(crate) fn incomplete(
        line: Option<usize>,
        reason: impl Into<String>,
        partial: ParsedLabels,
    ) -> ImportError {
        ImportError {
            path: partial.path.clone(),
            kind: ErrorKind::Incomplete {
                line,
                reason: reason.into(),
            },
            partial: Some(Box::new(partial)),
        }
    }

    /// Whether the file was read but is incomplete: cut short, or holding
    /// fewer flows than its own header counts. [`partial`](Self::partial)
    /// has what was read.
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, ErrorKind::Incomplete { .. })
    }

    /// The line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match &self.kind {
            ErrorKind::BadLine { line, .. } => Some(*line),
            ErrorKind::Incomplete { line, .. } => *line,
            _ => None,
        }
    }

    /// The records read from an incomplete file (in file order), with its
    /// malformed lines and counts.
    pub fn partial(&self) -> Option<&ParsedLabels> {
        self.partial.as_deref()
    }

    /// Takes the records read from an incomplete file.
    pub fn into_partial(self) -> Option<ParsedLabels> {
        self.partial.map(|p| *p)
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name of the required column the file lacks, if that is the error.
    pub fn missing_column_name(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::MissingColumn(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the file is not in the format the importer reads.
    pub fn is_wrong_format(&self) -> bool {
        matches!(self.kind, ErrorKind::WrongFormat(_))
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "{p}: cannot read: {e}"),
            ErrorKind::WrongFormat(r) => write!(f, "{p}: not the expected format: {r}"),
            ErrorKind::MissingColumn(c) => write!(f, "{p}: header has no column `{c}`"),
            ErrorKind::BadLine { line, reason } => write!(f, "{p}:{line}: {reason}"),
            ErrorKind::Incomplete {
                line: Some(line),
                reason,
            } => write!(f, "{p}:{line}: incomplete: {reason}"),
            ErrorKind::Incomplete { line: None, reason } => {
                write!(f, "{p}: incomplete: {reason}")
            }
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
