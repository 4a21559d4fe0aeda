//! The crate's error type: opaque, with a kind that carries the context.

use std::fmt;
use std::path::PathBuf;

/// An error from dpi-core. [`Error::kind`] tells what went wrong and where.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
}

/// What went wrong, with the place it went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The capture is not pcap or pcapng, or is corrupt at `offset` (bytes from the start of the file).
    Capture {
        /// Byte offset of the record or block that could not be read.
        offset: u64,
        /// What was wrong there.
        message: String,
    },
}

impl Error {
    /// An error of the given kind, not yet tied to a file.
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, path: None }
    }

    /// A capture error at a byte offset.
    pub fn capture(offset: u64, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Capture {
            offset,
            message: message.into(),
        })
    }

    /// Ties the error to the file it came from.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The same error with its capture offset (if any) `by` bytes later.
    pub(crate) fn shifted(mut self, by: u64) -> Self {
        if let ErrorKind::Capture { offset, .. } = &mut self.kind {
            *offset = offset.saturating_add(by);
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file the error came from, when known.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The byte offset in the file, when the error has one.
    pub fn offset(&self) -> Option<u64> {
        match &self.kind {
            ErrorKind::Capture { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::Capture { offset, message } => {
                write!(f, "corrupt capture at byte offset {offset}: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
