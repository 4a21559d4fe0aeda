//! Errors of the signature codecs: every error names the file, the line and
//! the column, shows the offending text and says what was expected.

use std::fmt;

use super::Location;

/// One problem found while reading a signature file.
///
/// The error is opaque: ask it for the place ([`source_name`], [`line`],
/// [`column`]), the offending text ([`found`]) and what the parser expected
/// there ([`expected`]). Its `Display` form is one header line in the usual
/// `file:line:column:` shape followed by the offending line with a caret.
///
/// [`source_name`]: SignatureError::source_name
/// [`line`]: SignatureError::line
/// [`column`]: SignatureError::column
/// [`found`]: SignatureError::found
/// [`expected`]: SignatureError::expected
///
/// ```
/// use dpi_core::signature::parse_std_sig;
///
/// let errors = parse_std_sig("Service: http tcp port 80 n = 1 src = \"4X\"\n", "my.sig")
///     .unwrap_err();
/// let e = &errors.errors()[0];
/// assert_eq!((e.source_name(), e.line(), e.column()), ("my.sig", 1, 41));
/// assert_eq!(e.found(), "X");
/// assert!(e.to_string().starts_with("my.sig:1:41: expected a hex digit"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    source: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    Syntax {
        line: u32,
        column: u32,
        line_text: String,
        width: usize,
        found: String,
        expected: String,
    },
    Io {
        message: String,
    },
}

impl SignatureError {
    /// A syntax error at 1-based `line` and `column` (in characters).
    ///
    /// `found` is the offending text (empty for "end of line"), `expected`
    /// a phrase that completes "expected ...".
    pub(crate) fn syntax(
        source: &str,
        line: u32,
        column: u32,
        line_text: &str,
        found: &str,
        expected: impl Into<String>,
    ) -> Self {
        SignatureError {
            source: source.to_string(),
            kind: ErrorKind::Syntax {
                line,
                column,
                line_text: line_text.trim_end().to_string(),
                width: found.chars().count().max(1),
                found: found.to_string(),
                expected: expected.into(),
            },
        }
    }

    /// The file could not be read at all.
    pub(crate) fn io(source: &str, err: &std::io::Error) -> Self {
        SignatureError {
            source: source.to_string(),
            kind: ErrorKind::Io {
                message: err.to_string(),
            },
        }
    }

    /// The name of the file (or other source) the text came from.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// The 1-based line of the error; 0 when the file could not be read.
    pub fn line(&self) -> u32 {
        match &self.kind {
            ErrorKind::Syntax { line, .. } => *line,
            ErrorKind::Io { .. } => 0,
        }
    }

    /// The 1-based column (in characters) of the error; 0 when the file
    /// could not be read.
    pub fn column(&self) -> u32 {
        match &self.kind {
            ErrorKind::Syntax { column, .. } => *column,
            ErrorKind::Io { .. } => 0,
        }
    }

    /// The offending text; empty when the line ended too early.
    pub fn found(&self) -> &str {
        match &self.kind {
            ErrorKind::Syntax { found, .. } => found,
            ErrorKind::Io { .. } => "",
        }
    }

    /// What the parser expected at that place (or, for a read failure,
    /// the reason the file could not be read).
    pub fn expected(&self) -> &str {
        match &self.kind {
            ErrorKind::Syntax { expected, .. } => expected,
            ErrorKind::Io { message } => message,
        }
    }

    /// The whole offending line, trailing whitespace removed.
    pub fn line_text(&self) -> &str {
        match &self.kind {
            ErrorKind::Syntax { line_text, .. } => line_text,
            ErrorKind::Io { .. } => "",
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Io { message } => write!(f, "{}: cannot read: {}", self.source, message),
            ErrorKind::Syntax {
                line,
                column,
                line_text,
                width,
                found,
                expected,
            } => {
                write!(
                    f,
                    "{}:{}:{}: expected {}, ",
                    self.source, line, column, expected
                )?;
                if found.is_empty() {
                    writeln!(f, "found end of line")?;
                } else {
                    writeln!(f, "found `{found}`")?;
                }
                let number = line.to_string();
                writeln!(f, "{number} | {line_text}")?;
                let pad = " ".repeat(number.len());
                let shift = " ".repeat(column.saturating_sub(1) as usize);
                write!(f, "{pad} | {shift}{}", "^".repeat(*width))
            }
        }
    }
}

impl std::error::Error for SignatureError {}

/// All the problems found in one signature file.
///
/// Parsing never stops at the first bad line: every bad line is reported,
/// and nothing of the file is loaded.
///
/// ```
/// use dpi_core::signature::parse_std_sig;
///
/// let text = "Service: a tcp port x n = 1\nService: b tcp port 1 n = 1 src = \"123\"\n";
/// let errors = parse_std_sig(text, "two.sig").unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert_eq!(errors.errors()[0].line(), 1);
/// assert_eq!(errors.errors()[1].line(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureErrors {
    errors: Vec<SignatureError>,
}

impl SignatureErrors {
    pub(crate) fn new(errors: Vec<SignatureError>) -> Self {
        SignatureErrors { errors }
    }

    /// The errors, in file order.
    pub fn errors(&self) -> &[SignatureError] {
        &self.errors
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `SignatureErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Iterates the errors in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, SignatureError> {
        self.errors.iter()
    }
}

impl IntoIterator for SignatureErrors {
    type Item = SignatureError;
    type IntoIter = std::vec::IntoIter<SignatureError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a> IntoIterator for &'a SignatureErrors {
    type Item = &'a SignatureError;
    type IntoIter = std::slice::Iter<'a, SignatureError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for SignatureErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        let source = self.errors.first().map(|e| e.source.as_str()).unwrap_or("");
        writeln!(
            f,
            "{n} error{} in {source}; nothing was loaded",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SignatureErrors {}

/// A signature that the std.sig format cannot express, with the reason.
///
/// Returned by [`to_std_sig`](super::to_std_sig) for each signature it left
/// out, so a caller can route those to the extended format instead.
///
/// ```
/// use dpi_core::signature::{to_std_sig, Signature, SignatureSet};
///
/// let set = SignatureSet { signatures: vec![Signature::new("HTTP")], ..Default::default() };
/// let (_text, left_out) = to_std_sig(&set);
/// assert_eq!(left_out[0].index, 0);
/// assert!(left_out[0].to_string().contains("not expressible in std.sig: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExpressible {
    /// Index of the signature in [`SignatureSet::signatures`](super::SignatureSet::signatures),
    /// or of the application rule in [`SignatureSet::apps`](super::SignatureSet::apps)
    /// when [`application`](NotExpressible::application) is true.
    pub index: usize,
    /// The item left out is an application rule, not a signature.
    pub application: bool,
    /// The signature's id, when it has one.
    pub id: Option<String>,
    /// Where the signature was read from, when known.
    pub location: Option<Location>,
    /// Why std.sig cannot say it.
    pub reason: String,
}

impl fmt::Display for NotExpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.application {
            "application rule"
        } else {
            "signature"
        };
        write!(f, "{what} #{}", self.index)?;
        if let Some(id) = &self.id {
            write!(f, " `{id}`")?;
        }
        if let Some(loc) = &self.location {
            write!(f, " ({}:{})", loc.source, loc.line)?;
        }
        write!(f, ": not expressible in std.sig: {}", self.reason)
    }
}

impl std::error::Error for NotExpressible {}
