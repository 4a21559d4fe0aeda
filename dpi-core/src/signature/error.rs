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
        /// The line, or the part of it around the column when it is long.
        line_text: String,
        /// 0-based character position of the caret in `line_text`.
        caret: u32,
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
    /// a phrase that completes "expected ...". The line is kept only around
    /// the column and `found` only up to [`MAX_FOUND_CHARS`], so an error
    /// on a very long line stays short.
    pub(crate) fn syntax(
        source: &str,
        line: u32,
        column: u32,
        line_text: &str,
        found: &str,
        expected: impl Into<String>,
    ) -> Self {
        let found_chars = found.chars().count();
        let (window, shift) = line_window(line_text.trim_end(), column);
        let caret =
            (column as usize).saturating_sub(1) - shift.min((column as usize).saturating_sub(1));
        let room = window.chars().count().saturating_sub(caret).max(1);
        SignatureError {
            source: source.to_string(),
            kind: ErrorKind::Syntax {
                line,
                column,
                line_text: window,
                caret: caret as u32,
                width: found_chars.clamp(1, MAX_FOUND_CHARS + 1).min(room),
                found: cut(found, MAX_FOUND_CHARS),
                expected: expected.into(),
            },
        }
    }

    /// The same error with a caret `width` characters wide (for `found`
    /// text that is written differently from how the line shows it).
    pub(crate) fn with_width(mut self, w: usize) -> Self {
        if let ErrorKind::Syntax { width, .. } = &mut self.kind {
            *width = w.max(1);
        }
        self
    }

    /// The file is larger than `limit` bytes.
    pub(crate) fn too_large(source: &str, limit: u64) -> Self {
        SignatureError {
            source: source.to_string(),
            kind: ErrorKind::Io {
                message: format!(
                    "the file is larger than the limit of {limit} bytes (limit MAX_FILE_BYTES)"
                ),
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

    /// The offending text; empty when the line ended too early. Text
    /// longer than 80 characters is cut and ends with `…`.
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

    /// The offending line, trailing whitespace removed; a line longer than
    /// 160 characters is cut to the part around the column, with `…` where
    /// text was left out.
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
                caret,
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
                let shift = " ".repeat(*caret as usize);
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
    /// The first [`MAX_KEPT_ERRORS`] errors.
    errors: Vec<SignatureError>,
    /// All errors found, kept or not.
    total: usize,
}

/// Most errors a [`SignatureErrors`] keeps (and prints); the others are
/// only counted.
pub const MAX_KEPT_ERRORS: usize = 20;

/// Longest offending text an error keeps, in characters.
pub const MAX_FOUND_CHARS: usize = 80;

/// Longest line an error shows whole, in characters; a longer one is cut
/// to this many characters around the column.
pub const MAX_LINE_CHARS: usize = 160;

impl SignatureErrors {
    pub(crate) fn new(errors: Vec<SignatureError>) -> Self {
        let mut list = ErrorList::default();
        for e in errors {
            list.push(e);
        }
        list.into_errors()
    }

    /// The errors kept, in file order: the first [`MAX_KEPT_ERRORS`].
    pub fn errors(&self) -> &[SignatureError] {
        &self.errors
    }

    /// How many errors were found (at least one), counting those not kept.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Always false: a `SignatureErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Iterates the errors kept, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, SignatureError> {
        self.errors.iter()
    }
}

/// Collects errors while a file is parsed: keeps the first
/// [`MAX_KEPT_ERRORS`], counts all.
#[derive(Debug, Default)]
pub(crate) struct ErrorList {
    kept: Vec<SignatureError>,
    total: usize,
}

impl ErrorList {
    pub(crate) fn push(&mut self, e: SignatureError) {
        if self.kept.len() < MAX_KEPT_ERRORS {
            self.kept.push(e);
        }
        self.total += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub(crate) fn into_errors(self) -> SignatureErrors {
        SignatureErrors {
            errors: self.kept,
            total: self.total,
        }
    }
}

/// `text` cut to `max` characters, with `…` when something was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// The part of `line` shown for an error at 1-based `column`: the whole
/// line when it is short, else [`MAX_LINE_CHARS`] characters around the
/// column with `…` at a cut end. Also returns how many characters of the
/// line before the window the caret must skip (the `…` counted as one).
fn line_window(line: &str, column: u32) -> (String, usize) {
    let total = line.chars().count();
    if total <= MAX_LINE_CHARS {
        return (line.to_string(), 0);
    }
    let at = (column as usize).saturating_sub(1).min(total);
    let from = at.saturating_sub(MAX_LINE_CHARS / 3);
    let to = (from + MAX_LINE_CHARS).min(total);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(line.chars().skip(from).take(to - from));
    if to < total {
        out.push('…');
    }
    // The caret moves left by the characters left out, less the `…` shown.
    (out, from.saturating_sub(usize::from(from > 0)))
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
        let n = self.total;
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
        let rest = n - self.errors.len();
        if rest > 0 {
            writeln!(
                f,
                "\n... and {rest} more error{} in {source}, not shown",
                if rest == 1 { "" } else { "s" }
            )?;
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

/// Why a regex could not be compiled: the regex parser's own reason and,
/// when it names one, the place in the source.
///
/// ```
/// let e = dpi_core::signature::compile_regex("x{2,1}").unwrap_err();
/// assert_eq!(e.offset(), Some(1));
/// assert!(e.to_string().contains("invalid repetition count range"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    reason: String,
    /// Byte offset of the problem in the source, and its length in bytes.
    span: Option<(usize, usize)>,
}

impl RegexError {
    pub(crate) fn too_long(len: usize) -> Self {
        RegexError {
            reason: format!(
                "a regex of {len} bytes is longer than the limit of {} bytes (limit MAX_REGEX_BYTES)",
                super::limits::MAX_REGEX_BYTES
            ),
            span: None,
        }
    }

    pub(crate) fn from_build(e: &regex_automata::meta::BuildError) -> Self {
        if let Some(se) = e.syntax_error() {
            let (reason, span) = match se {
                regex_syntax::Error::Parse(x) => (x.kind().to_string(), Some(*x.span())),
                regex_syntax::Error::Translate(x) => (x.kind().to_string(), Some(*x.span())),
                other => (other.to_string(), None),
            };
            return RegexError {
                reason,
                span: span.map(|s| (s.start.offset, s.end.offset.saturating_sub(s.start.offset))),
            };
        }
        if let Some(limit) = e.size_limit() {
            return RegexError {
                reason: format!(
                    "the compiled regex exceeds the limit of {limit} bytes (limit MAX_REGEX_NFA_BYTES)"
                ),
                span: None,
            };
        }
        RegexError {
            reason: e.to_string(),
            span: None,
        }
    }

    /// What is wrong, in the regex parser's words (`unclosed group`,
    /// `exceed the maximum number of nested parentheses/brackets (64)`, …)
    /// or naming the size limit the regex exceeds.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Byte offset in the source where the problem lies, when known.
    pub fn offset(&self) -> Option<usize> {
        self.span.map(|s| s.0)
    }

    /// Length in bytes of the offending part of the source, when known.
    pub fn span_len(&self) -> Option<usize> {
        self.span.map(|s| s.1)
    }
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some((at, _)) => write!(f, "{} (at byte {} of the regex)", self.reason, at + 1),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for RegexError {}
