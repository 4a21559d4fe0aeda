//! Signatures: one model, with codecs for argus std.sig and the extended format.
//!
//! A [`SignatureSet`] is a list of [`Signature`]s. Each signature names the
//! protocol it recognises (nDPI spelling), the transport and ports it applies
//! to, byte [`Pattern`]s per direction and flow-[`Feature`] predicates, plus
//! what the trainer knows about it ([`Provenance`], support count).
//!
//! Two text codecs read and write the same model:
//!
//! - **std.sig**, argus's service-signature grammar ([`parse_std_sig`],
//!   [`to_std_sig`]): one port, tcp or udp, up to 32 masked bytes at offset 0
//!   per direction. Reading and writing loses nothing.
//! - **extended** ([`parse_extended`], [`to_extended`]): a block format for
//!   everything else — literals and masked bytes at any offset or anywhere in
//!   the first N bytes, case-insensitive literals, regexes, port sets,
//!   directions, size and packet predicates, priority, provenance — and
//!   the [`AppRule`]s, which name an application from a flow's protocol
//!   fields (host name, ALPN, JA4).
//!
//! Both formats are specified in `signatures/README.md`. nDPI's
//! custom-protocol file (`protos.txt`) can be imported with
//! [`parse_ndpi_protos`].
//!
//! Parsing reports every bad line and loads nothing when any line is bad.
//!
//! ```
//! use dpi_core::signature::{parse_std_sig, to_extended, parse_extended, Direction};
//!
//! let set = parse_std_sig(
//!     "Service: http tcp port 80 n = 5 src = \"474554202F\"  dst = \"485454502F312E  20\"\n",
//!     "std.sig",
//! ).unwrap();
//! let sig = &set.signatures[0];
//! assert_eq!(sig.protocol, "http");
//! assert_eq!(sig.support, 5);
//! assert_eq!(sig.patterns[0].direction, Direction::Initiator);
//!
//! // The same model, written in the extended format, reads back equal.
//! let text = to_extended(&set);
//! let mut again = parse_extended(&text, "x.rules").unwrap();
//! let mut original = set.clone();
//! again.strip_locations();
//! original.strip_locations();
//! assert_eq!(again, original);
//! ```

mod apps;
mod builtin;
mod error;
mod extended;
pub mod limits;
mod ndpi_protos;
mod stdsig;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use apps::{check_domain, normalise_host, AppKind, AppRule, HostMatch};
pub use builtin::{
    builtin_hand_rules, learnt_tier, try_builtin, APPS_RULES, DEFAULT_RULES, STD_SIG, TRAINED_RULES,
};
use error::ErrorList;
pub use error::{NotExpressible, RegexError, SignatureError, SignatureErrors};
pub use extended::{parse_extended, to_extended};
pub use limits::Budget;
pub use ndpi_protos::{parse_ndpi_protos, ProtosImport, SkippedItem, PROTOS_SOURCE};
pub use stdsig::{argus_loadable, parse_std_sig, std_sig_line, to_std_sig};

pub(crate) use regex_automata::meta::Regex;

/// An ordered collection of signatures, as read from one file.
///
/// Comment and blank lines are kept (attached to the signature that follows
/// them, or in [`trailing_comments`](SignatureSet::trailing_comments)) so a
/// file survives a read and a write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignatureSet {
    /// The signatures, in file order.
    pub signatures: Vec<Signature>,
    /// The application rules, in file order (written after the signatures).
    #[serde(default)]
    pub apps: Vec<AppRule>,
    /// Comment and blank lines after the last signature.
    pub trailing_comments: Vec<String>,
}

impl SignatureSet {
    /// An empty set.
    pub fn new() -> Self {
        SignatureSet::default()
    }

    /// Number of signatures (application rules not counted: see
    /// [`SignatureSet::apps`]).
    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    /// True when the set holds no signature and no application rule.
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty() && self.apps.is_empty()
    }

    /// Appends the signatures and application rules of `other`.
    pub fn extend(&mut self, other: SignatureSet) {
        self.signatures.extend(other.signatures);
        self.apps.extend(other.apps);
    }

    /// Forgets where each signature was read from, so sets read from
    /// different files (or written and read again) compare by content.
    ///
    /// ```
    /// use dpi_core::signature::parse_std_sig;
    ///
    /// let mut a = parse_std_sig("Service: x udp port 1 n = 1\n", "a.sig").unwrap();
    /// let mut b = parse_std_sig("\nService: x udp port 1 n = 1\n", "b.sig").unwrap();
    /// b.signatures[0].comments.clear();
    /// assert_ne!(a, b);
    /// a.strip_locations();
    /// b.strip_locations();
    /// assert_eq!(a, b);
    /// ```
    pub fn strip_locations(&mut self) {
        for s in &mut self.signatures {
            s.location = None;
        }
        for a in &mut self.apps {
            a.location = None;
        }
    }
}

/// Where a signature was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file (or other source name) given to the parser.
    pub source: String,
    /// The 1-based line of the signature (its `rule` line in the extended format).
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// One classification rule: when its conditions hold, the flow is `protocol`
/// (and `app`, when given).
///
/// All conditions must hold together: transport, ports, every pattern and
/// every feature predicate. See `signatures/README.md` for the exact meaning
/// of each field.
///
/// ```
/// use dpi_core::signature::{Direction, Pattern, PortSet, Signature, Transport};
///
/// let mut sig = Signature::new("HTTP");
/// sig.transport = Transport::Tcp;
/// sig.ports = PortSet::single(80);
/// sig.patterns.push(Pattern::literal_at(Direction::Initiator, 0, b"GET "));
/// assert!(sig.ports.contains(80));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// A stable identifier, when the rule has one (`rule NAME` in the extended format).
    pub id: Option<String>,
    /// Where the signature was read from; `None` for signatures built in code.
    pub location: Option<Location>,
    /// Comment lines (with their `#` or `!`) and blank lines (empty strings)
    /// that came right before the signature in its file.
    pub comments: Vec<String>,
    /// The protocol, in nDPI spelling (`"HTTP"`, `"TLS"`); argus service
    /// names (`"http"`) as read from std.sig.
    pub protocol: String,
    /// The application on top of the protocol (nDPI's `TLS.Google` is
    /// protocol `TLS`, app `Google`).
    pub app: Option<String>,
    /// The transport the rule applies to.
    pub transport: Transport,
    /// The server ports the rule applies to; empty means any port.
    pub ports: PortSet,
    /// Byte patterns; all must match.
    pub patterns: Vec<Pattern>,
    /// Flow-feature predicates; all must hold.
    pub features: Vec<Feature>,
    /// The payload is encrypted after the matched preamble (argus's `encrypted` flag).
    pub encrypted: bool,
    /// Higher priority wins when several rules match; default 0.
    pub priority: i32,
    /// How many flows backed this rule when it was learnt (std.sig `n =`).
    pub support: u64,
    /// Where the rule came from and how well it scored.
    pub provenance: Provenance,
    /// How the pattern strings were labelled in std.sig, kept so a line is
    /// written back as it was read.
    pub std_quoting: StdQuoting,
}

impl Signature {
    /// A signature for `protocol` with no condition yet: any transport, any
    /// port, no pattern, priority 0, support 0.
    pub fn new(protocol: impl Into<String>) -> Self {
        Signature {
            id: None,
            location: None,
            comments: Vec::new(),
            protocol: protocol.into(),
            app: None,
            transport: Transport::Any,
            ports: PortSet::any(),
            patterns: Vec::new(),
            features: Vec::new(),
            encrypted: false,
            priority: 0,
            support: 0,
            provenance: Provenance::default(),
            std_quoting: StdQuoting::default(),
        }
    }

    /// The label in nDPI form: `protocol` or `protocol.app`.
    ///
    /// ```
    /// let mut s = dpi_core::signature::Signature::new("TLS");
    /// s.app = Some("Google".into());
    /// assert_eq!(s.label(), "TLS.Google");
    /// ```
    pub fn label(&self) -> String {
        match &self.app {
            Some(app) => format!("{}.{}", self.protocol, app),
            None => self.protocol.clone(),
        }
    }
}

/// Which std.sig pattern strings were written without their `src =` /
/// `dst =` label.
///
/// In std.sig a bare quoted string fills the first of src and dst not yet
/// given (argus files contain lines like `src = "..."  "..."`). This only
/// affects how a line is written; the model is the same either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StdQuoting {
    /// The src string had no `src =` label.
    pub bare_src: bool,
    /// The dst string had no `dst =` label.
    pub bare_dst: bool,
}

/// The transport a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Transport {
    /// Any transport.
    Any,
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
    /// Another IP protocol number (never 6 or 17; use [`Transport::from_number`]).
    Other(u8),
}

impl Transport {
    /// The transport for an IP protocol number: 6 is TCP, 17 is UDP.
    ///
    /// ```
    /// use dpi_core::signature::Transport;
    /// assert_eq!(Transport::from_number(6), Transport::Tcp);
    /// assert_eq!(Transport::from_number(132), Transport::Other(132));
    /// ```
    pub fn from_number(n: u8) -> Self {
        match n {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            n => Transport::Other(n),
        }
    }

    /// The IP protocol number, or `None` for [`Transport::Any`].
    pub fn number(self) -> Option<u8> {
        match self {
            Transport::Any => None,
            Transport::Tcp => Some(6),
            Transport::Udp => Some(17),
            Transport::Other(n) => Some(n),
        }
    }

    /// True when a flow with IP protocol `proto` satisfies this condition.
    pub fn matches(self, proto: u8) -> bool {
        match self.number() {
            None => true,
            Some(n) => n == proto,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Any => f.write_str("any"),
            Transport::Tcp => f.write_str("tcp"),
            Transport::Udp => f.write_str("udp"),
            Transport::Other(n) => write!(f, "{n}"),
        }
    }
}

/// An inclusive range of ports; `start == end` for a single port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// First port of the range.
    pub start: u16,
    /// Last port of the range (inclusive, `>= start`).
    pub end: u16,
}

impl PortRange {
    /// The range holding only `port`.
    pub fn single(port: u16) -> Self {
        PortRange {
            start: port,
            end: port,
        }
    }

    /// True when `port` lies in the range.
    pub fn contains(self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }
}

/// The ports a rule applies to: a list of ranges, kept in the order written.
/// An empty list means any port.
///
/// ```
/// use dpi_core::signature::{PortRange, PortSet};
///
/// let ports = PortSet { ranges: vec![PortRange::single(80), PortRange { start: 8000, end: 8099 }] };
/// assert!(ports.contains(8080));
/// assert!(!ports.contains(443));
/// assert!(PortSet::any().contains(443));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortSet {
    /// The ranges; empty means any port.
    pub ranges: Vec<PortRange>,
}

impl PortSet {
    /// Any port.
    pub fn any() -> Self {
        PortSet { ranges: Vec::new() }
    }

    /// Exactly one port.
    pub fn single(port: u16) -> Self {
        PortSet {
            ranges: vec![PortRange::single(port)],
        }
    }

    /// True when the set places no condition on the port.
    pub fn is_any(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when `port` satisfies the condition.
    pub fn contains(&self, port: u16) -> bool {
        self.is_any() || self.ranges.iter().any(|r| r.contains(port))
    }

    /// The port, when the set is exactly one single port (as std.sig needs).
    pub fn single_port(&self) -> Option<u16> {
        match self.ranges.as_slice() {
            [r] if r.start == r.end => Some(r.start),
            _ => None,
        }
    }
}

/// Which direction's bytes a pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// The bytes sent by the flow's initiator (client to server, `c2s`, std.sig `src`).
    Initiator,
    /// The bytes sent by the responder (server to client, `s2c`, std.sig `dst`).
    Responder,
    /// Either direction's bytes may match.
    Either,
    /// Both directions' bytes must match.
    Both,
}

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// The initiator (client).
    Initiator,
    /// The responder (server).
    Responder,
}

/// A byte pattern with the direction it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pattern {
    /// The direction whose first bytes are searched.
    pub direction: Direction,
    /// What to look for, and where.
    pub kind: PatternKind,
}

impl Pattern {
    /// Masked bytes at a fixed `offset`.
    pub fn masked(direction: Direction, offset: u32, bytes: Vec<MaskedByte>) -> Self {
        Pattern {
            direction,
            kind: PatternKind::Masked { offset, bytes },
        }
    }

    /// A case-sensitive literal at a fixed `offset`.
    pub fn literal_at(direction: Direction, offset: u32, bytes: &[u8]) -> Self {
        Pattern {
            direction,
            kind: PatternKind::Literal {
                bytes: bytes.to_vec(),
                nocase: false,
                position: Position::At(offset),
            },
        }
    }

    /// A regex searched anywhere in the captured bytes. The source is not
    /// checked here; the parsers check that it compiles.
    pub fn regex(direction: Direction, source: impl Into<String>) -> Self {
        Pattern {
            direction,
            kind: PatternKind::Regex {
                source: source.into(),
                position: Position::Anywhere,
            },
        }
    }
}

/// What a pattern looks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PatternKind {
    /// Masked bytes starting at `offset`: byte `i` of the payload at
    /// `offset + i` must equal `bytes[i].value` under `bytes[i].mask`.
    /// Trailing and inner wildcard bytes (mask 0) need not be present.
    Masked {
        /// Offset of the first byte from the start of the direction's payload.
        offset: u32,
        /// The masked bytes.
        bytes: Vec<MaskedByte>,
    },
    /// A literal byte string.
    Literal {
        /// The bytes; never empty in a parsed signature.
        bytes: Vec<u8>,
        /// Compare ASCII letters without regard to case.
        nocase: bool,
        /// Where the literal must lie.
        position: Position,
    },
    /// A regular expression in regex-automata syntax, kept as its source.
    /// It is compiled in bytes mode, Unicode off (`\\xFF` is the byte 0xFF).
    Regex {
        /// The regex source.
        source: String,
        /// Where the match must lie ([`Position::At`] anchors the match start).
        position: Position,
    },
}

/// Where a literal or regex must lie in a direction's captured bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Position {
    /// Anywhere in the captured bytes.
    Anywhere,
    /// Starting exactly at this offset.
    At(u32),
    /// Entirely within the first N bytes (the match ends at or before N).
    Within(u32),
}

/// One byte of a masked pattern: the payload byte `b` matches when
/// `b & mask == value`.
///
/// `mask` 0xff compares exactly, 0x00 is a wildcard, 0xf0 / 0x0f compare one
/// nibble; any other mask compares the chosen bits. `value` never has bits
/// outside `mask` (the constructor clears them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MaskedByte {
    /// The expected bits.
    pub value: u8,
    /// Which bits are compared.
    pub mask: u8,
}

impl MaskedByte {
    /// A masked byte; bits of `value` outside `mask` are cleared.
    pub fn new(value: u8, mask: u8) -> Self {
        MaskedByte {
            value: value & mask,
            mask,
        }
    }

    /// A byte that must equal `value`.
    pub fn exact(value: u8) -> Self {
        MaskedByte { value, mask: 0xff }
    }

    /// A byte that matches anything.
    pub fn any() -> Self {
        MaskedByte { value: 0, mask: 0 }
    }

    /// True when `byte` matches.
    pub fn matches(self, byte: u8) -> bool {
        byte & self.mask == self.value
    }

    /// True for a wildcard (mask 0).
    pub fn is_any(self) -> bool {
        self.mask == 0
    }

    /// Parses the extended format's hex notation: two characters per byte,
    /// each a hex digit or `?` (a wildcard nibble), optionally followed by
    /// `&MM` for an arbitrary bit mask; whitespace between bytes is ignored.
    ///
    /// ```
    /// use dpi_core::signature::MaskedByte;
    ///
    /// let bytes = MaskedByte::parse_hex("47 ?? 5? 80&C0").unwrap();
    /// assert_eq!(bytes, vec![
    ///     MaskedByte::exact(0x47),
    ///     MaskedByte::any(),
    ///     MaskedByte::new(0x50, 0xf0),
    ///     MaskedByte::new(0x80, 0xc0),
    /// ]);
    /// assert!(MaskedByte::parse_hex("4").is_err());
    /// ```
    pub fn parse_hex(text: &str) -> Result<Vec<MaskedByte>, String> {
        extended::parse_hex_bytes(text).map_err(|(offset, found, expected)| {
            format!(
                "at character {}: expected {expected}, found `{found}`",
                offset + 1
            )
        })
    }
}

/// A predicate over flow features, for what bytes alone cannot decide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Feature {
    /// The payload size of the first payload-carrying packet sent by `side`
    /// lies in `range` (a side that sent no payload has no first size, so the
    /// predicate fails).
    FirstPayloadSize {
        /// Whose first payload packet.
        side: Side,
        /// Allowed sizes in bytes.
        range: ValueRange,
    },
    /// The number of packets (all packets, with or without payload) sent by
    /// `side`, or by both sides together when `side` is `None`, lies in `range`.
    Packets {
        /// Whose packets; `None` counts both directions.
        side: Option<Side>,
        /// Allowed counts.
        range: ValueRange,
    },
    /// The first payload of the flow was sent by this side.
    FirstPayloadFrom(Side),
    /// The initiator's port lies in `lo..=hi`: a flow seen from its server
    /// first (a response whose request went to another address, such as an
    /// LLMNR or mDNS answer to a multicast query) is told by the port it
    /// comes from, where `ports` tests the other side's.
    ClientPort {
        /// The lowest port allowed.
        lo: u16,
        /// The highest port allowed.
        hi: u16,
    },
}

/// An inclusive range of counts or sizes; `max: None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueRange {
    /// The smallest allowed value.
    pub min: u64,
    /// The largest allowed value, or `None` for no upper bound.
    pub max: Option<u64>,
}

impl ValueRange {
    /// True when `v` lies in the range.
    pub fn contains(self, v: u64) -> bool {
        v >= self.min
            && match self.max {
                Some(m) => v <= m,
                None => true,
            }
    }
}

/// Where a rule came from and how well it scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Who made it: `"hand"`, `"argus"`, `"trained:ndpi"`, ...
    pub source: Option<String>,
    /// Measured precision on held-out files, in `0.0..=1.0`.
    pub precision: Option<f64>,
    /// Held-out flows the rule labelled as the reference did.
    pub true_positives: Option<u64>,
    /// Held-out flows the rule labelled differently from the reference.
    pub false_positives: Option<u64>,
    /// Free text: why the rule exists, what replaced what.
    pub note: Option<String>,
}

impl Provenance {
    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        *self == Provenance::default()
    }
}

/// Compiles a regex source the way signatures use it: bytes mode (Unicode
/// off, so `\xFF` is the byte 0xFF and `.` any byte but `\n`), matches need
/// not be valid UTF-8. `(?u)` turns Unicode back on inside a pattern.
///
/// The source may be at most [`limits::MAX_REGEX_BYTES`] long and nest
/// groups at most [`limits::MAX_REGEX_NESTING`] deep; its NFAs may take at
/// most [`limits::MAX_REGEX_NFA_BYTES`] each, its one-pass DFA at most
/// [`limits::MAX_REGEX_DFA_BYTES`], and the lazy DFA's cache at most
/// [`limits::MAX_REGEX_CACHE_BYTES`] per searching thread. A refusal says
/// why, and where in the source when the regex parser found the problem.
///
/// No full DFA and no literal prefilter is built: a signature's regex runs
/// over at most a few kilobytes of one flow, where the lazy DFA is as fast
/// once warm, and building them was most of the time of loading the
/// built-in set (determinizing every small regex ahead of time, and a
/// Teddy prefilter for each literal prefix: the matcher already finds a
/// regex's literal prefixes with its own automaton before running it).
///
/// The parsers call this to reject bad regexes; the matcher compiles with
/// the same settings by calling it too, and so can other code that must
/// agree with the matcher on what a signature's regex matches.
///
/// ```
/// let re = dpi_core::signature::compile_regex(r"^\x16\x03").unwrap();
/// assert!(re.is_match(b"\x16\x03\x01".as_slice()));
/// let e = dpi_core::signature::compile_regex("ab(cd").unwrap_err();
/// assert_eq!((e.reason(), e.offset()), ("unclosed group", Some(2)));
/// ```
pub fn compile_regex(source: &str) -> Result<Regex, RegexError> {
    if source.len() > limits::MAX_REGEX_BYTES {
        return Err(RegexError::too_long(source.len()));
    }
    regex_automata::meta::Regex::builder()
        .syntax(regex_syntax_config())
        .configure(
            regex_automata::meta::Config::new()
                .nfa_size_limit(Some(limits::MAX_REGEX_NFA_BYTES))
                .onepass_size_limit(Some(limits::MAX_REGEX_DFA_BYTES))
                .dfa(false)
                .auto_prefilter(false)
                .hybrid_cache_capacity(limits::MAX_REGEX_CACHE_BYTES),
        )
        .build(source)
        .map_err(|e| RegexError::from_build(&e))
}

/// The regex syntax settings of signatures: bytes mode, Unicode off, the
/// nesting limit of [`limits::MAX_REGEX_NESTING`].
fn regex_syntax_config() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(limits::MAX_REGEX_NESTING)
}

/// Parses a regex source into its high-level form with the settings of
/// [`compile_regex`]; `None` when it does not parse or is too long.
pub(crate) fn parse_regex_hir(source: &str) -> Option<regex_syntax::hir::Hir> {
    if source.len() > limits::MAX_REGEX_BYTES {
        return None;
    }
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(limits::MAX_REGEX_NESTING)
        .build()
        .parse(source)
        .ok()
}

/// The two text formats of a signature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// argus std.sig (`Service:` lines).
    StdSig,
    /// The extended format (`rule` blocks).
    Extended,
}

impl Format {
    /// Guesses the format: by extension (`.sig` is std.sig, `.rules` is
    /// extended), otherwise by content (the first line that is not blank
    /// nor a comment starts with `Service:` in std.sig).
    ///
    /// ```
    /// use dpi_core::signature::Format;
    ///
    /// assert_eq!(Format::detect(Some("a/std.sig".as_ref()), ""), Format::StdSig);
    /// assert_eq!(Format::detect(None, "# x\nService: a tcp port 1 n = 1\n"), Format::StdSig);
    /// assert_eq!(Format::detect(None, "rule x\nprotocol A\nend\n"), Format::Extended);
    /// ```
    pub fn detect(path: Option<&Path>, text: &str) -> Format {
        match path.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
            Some("sig") => return Format::StdSig,
            Some("rules") => return Format::Extended,
            _ => {}
        }
        let first = numbered_lines(text)
            .map(|(_, l)| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'));
        match first {
            Some(l) if l.starts_with("Service:") => Format::StdSig,
            _ => Format::Extended,
        }
    }
}

/// Parses `text` in the given format; `source` names it in errors and locations.
///
/// ```
/// use dpi_core::signature::{parse, Format};
///
/// let set = parse("rule r\n  protocol DNS\nend\n", "x.rules", Format::Extended).unwrap();
/// assert_eq!(set.signatures[0].protocol, "DNS");
/// ```
pub fn parse(text: &str, source: &str, format: Format) -> Result<SignatureSet, SignatureErrors> {
    parse_with_budget(text, source, format, &mut Budget::new())
}

/// Like [`parse`], counting the set-wide [`limits`] in `budget`, which may
/// already hold what earlier files of the same set used. On success the
/// budget holds this file's signatures too; on failure it is left as it
/// was.
pub fn parse_with_budget(
    text: &str,
    source: &str,
    format: Format,
    budget: &mut Budget,
) -> Result<SignatureSet, SignatureErrors> {
    let mut local = budget.clone();
    let set = match format {
        Format::StdSig => stdsig::parse(text, source, &mut local),
        Format::Extended => extended::parse(text, source, &mut local),
    }?;
    *budget = local;
    Ok(set)
}

/// Reads a signature file, detecting its format with [`Format::detect`].
///
/// Every bad line is reported; on any error nothing is returned. The file
/// must be UTF-8 text of at most [`limits::MAX_FILE_BYTES`]; lines may end
/// in `\n`, `\r\n` or `\r`. A byte sequence that is not UTF-8 is reported
/// with its line and column.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dpi-sig-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("std.sig");
/// std::fs::write(&path, "Service: ssh tcp port 22 n = 3 src = \"5353482D\"\n").unwrap();
/// let set = dpi_core::signature::load(&path).unwrap();
/// assert_eq!(set.signatures[0].protocol, "ssh");
/// std::fs::write(&path, b"# ok\r# caf\xE9\rService: ssh tcp port 22 n = 3\r").unwrap();
/// let e = dpi_core::signature::load(&path).unwrap_err();
/// assert_eq!((e.errors()[0].line(), e.errors()[0].column()), (2, 6));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<SignatureSet, SignatureErrors> {
    load_with_budget(path, &mut Budget::new())
}

/// Like [`load`], counting the set-wide [`limits`] in `budget` (see
/// [`parse_with_budget`]): several files loaded with one budget are held to
/// the limits of one set, and the file that crosses a limit is named at
/// the pattern or rule that does.
pub fn load_with_budget(
    path: impl AsRef<Path>,
    budget: &mut Budget,
) -> Result<SignatureSet, SignatureErrors> {
    use std::io::Read as _;
    let path = path.as_ref();
    let name = path.display().to_string();
    let io_error = |e: &std::io::Error| SignatureErrors::new(vec![SignatureError::io(&name, e)]);
    let file = std::fs::File::open(path).map_err(|e| io_error(&e))?;
    let mut bytes = Vec::new();
    file.take(limits::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(&e))?;
    parse_bytes(&bytes, &name, Some(path), budget)
}

/// Reads the contents of a signature file as [`load_with_budget`] does:
/// at most [`limits::MAX_FILE_BYTES`], UTF-8 (a bad byte sequence is
/// reported at its line and column), the format detected from `path`'s
/// extension or else the content ([`Format::detect`]). `source` names the
/// file in errors and locations.
///
/// ```
/// use dpi_core::signature::{parse_bytes, Budget};
///
/// let set = parse_bytes(b"rule r\r  protocol DNS\rend\r", "x.rules", None, &mut Budget::new()).unwrap();
/// assert_eq!(set.signatures[0].protocol, "DNS");
/// let e = parse_bytes(b"rule r\n  protocol \xFF\nend\n", "y.rules", None, &mut Budget::new()).unwrap_err();
/// assert_eq!((e.errors()[0].line(), e.errors()[0].column()), (2, 12));
/// ```
pub fn parse_bytes(
    bytes: &[u8],
    source: &str,
    path: Option<&Path>,
    budget: &mut Budget,
) -> Result<SignatureSet, SignatureErrors> {
    if bytes.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(SignatureErrors::new(vec![SignatureError::too_large(
            source,
            limits::MAX_FILE_BYTES,
        )]));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| not_utf8(source, bytes))?;
    parse_with_budget(text, source, Format::detect(path, text), budget)
}

/// One error per line of `bytes` that is not UTF-8, at the first bad byte.
fn not_utf8(source: &str, bytes: &[u8]) -> SignatureErrors {
    let mut errors = ErrorList::default();
    for (number, line) in numbered_byte_lines(bytes) {
        if let Err(e) = std::str::from_utf8(line) {
            let good = e.valid_up_to();
            let bad_len = e.error_len().unwrap_or(line.len() - good);
            let found: String = line[good..good + bad_len]
                .iter()
                .map(|b| format!("\\x{b:02X}"))
                .collect();
            let text = String::from_utf8_lossy(line);
            let column = column_of(&text, good);
            errors.push(
                SignatureError::syntax(
                    source,
                    number,
                    column,
                    &text,
                    &found,
                    "UTF-8 text (signature files are UTF-8)",
                )
                .with_width(1),
            );
        }
    }
    errors.into_errors()
}

/// Column (1-based, in characters) of byte offset `at` in `line`.
pub(crate) fn column_of(line: &str, at: usize) -> u32 {
    let at = at.min(line.len());
    let prefix = line.get(..at).unwrap_or(line);
    prefix.chars().count() as u32 + 1
}

/// Splits text into lines numbered from 1. A line ends at `\n`, `\r\n` or
/// a lone `\r` (the terminator is not part of the line); a terminator at the
/// very end does not start another line.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    // Lines end only at ASCII bytes, so every piece is valid UTF-8.
    numbered_byte_lines(text.as_bytes())
        .map(|(n, l)| (n, std::str::from_utf8(l).unwrap_or_default()))
}

/// [`numbered_lines`] over bytes.
pub(crate) fn numbered_byte_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let mut rest = bytes;
    let mut number = 0u32;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number = number.saturating_add(1);
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        rest = &rest[end + skip..];
        Some((number, line))
    })
}

/// Writes comment lines so they read back as the same comments.
pub(crate) fn write_comment(out: &mut String, comment: &str) {
    let c = comment.replace(['\n', '\r'], " ");
    let c = c.trim();
    if !c.is_empty() && !c.starts_with('#') && !c.starts_with('!') {
        out.push_str("# ");
    }
    out.push_str(c);
    out.push('\n');
}

#[cfg(test)]
pub(crate) mod strategies {
    //! Proptest generators for the model, shared by the codec tests.

    use super::*;
    use proptest::prelude::*;

    pub fn comment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[#!][ -~]{0,20}".prop_map(|s| s.trim().to_string()),
        ]
    }

    pub fn masked_byte() -> impl Strategy<Value = MaskedByte> {
        prop_oneof![
            any::<u8>().prop_map(MaskedByte::exact),
            Just(MaskedByte::any()),
            (any::<u8>(), prop::sample::select(vec![0xf0u8, 0x0f]))
                .prop_map(|(v, m)| MaskedByte::new(v, m)),
            (any::<u8>(), any::<u8>()).prop_map(|(v, m)| MaskedByte::new(v, m)),
        ]
    }

    pub fn nibble_masked_byte() -> impl Strategy<Value = MaskedByte> {
        (
            any::<u8>(),
            prop::sample::select(vec![0xffu8, 0xf0, 0x0f, 0x00]),
        )
            .prop_map(|(v, m)| MaskedByte::new(v, m))
    }

    fn position() -> impl Strategy<Value = Position> {
        prop_oneof![
            Just(Position::Anywhere),
            (0u32..2000).prop_map(Position::At),
            (0u32..2000).prop_map(Position::Within),
        ]
    }

    fn regex_source() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ]{0,8}",
            prop::sample::select(vec![
                r"^GET /".to_string(),
                r"\x16\x03[\x00-\x03]".to_string(),
                r#"say "hi""#.to_string(),
                r##"x\"#"##.to_string(),
                r"(?i)host:\s*\S+\r\n".to_string(),
                r"[^\\]+\\".to_string(),
                "\u{e9}t\u{e9}".to_string(),
            ]),
        ]
    }

    fn direction() -> impl Strategy<Value = Direction> {
        prop::sample::select(vec![
            Direction::Initiator,
            Direction::Responder,
            Direction::Either,
            Direction::Both,
        ])
    }

    fn side() -> impl Strategy<Value = Side> {
        prop::sample::select(vec![Side::Initiator, Side::Responder])
    }

    pub fn pattern() -> impl Strategy<Value = Pattern> {
        let kind = prop_oneof![
            (0u32..1000, prop::collection::vec(masked_byte(), 0..40))
                .prop_map(|(offset, bytes)| PatternKind::Masked { offset, bytes }),
            (
                prop::collection::vec(any::<u8>(), 1..20),
                any::<bool>(),
                position()
            )
                .prop_map(|(bytes, nocase, position)| PatternKind::Literal {
                    bytes,
                    nocase,
                    position
                }),
            (regex_source(), position())
                .prop_map(|(source, position)| PatternKind::Regex { source, position }),
        ];
        (direction(), kind).prop_map(|(direction, kind)| Pattern { direction, kind })
    }

    fn value_range() -> impl Strategy<Value = ValueRange> {
        (any::<u64>(), proptest::option::of(any::<u64>())).prop_map(|(a, b)| match b {
            Some(b) => ValueRange {
                min: a.min(b),
                max: Some(a.max(b)),
            },
            None => ValueRange { min: a, max: None },
        })
    }

    fn feature() -> impl Strategy<Value = Feature> {
        prop_oneof![
            (side(), value_range())
                .prop_map(|(side, range)| Feature::FirstPayloadSize { side, range }),
            (proptest::option::of(side()), value_range())
                .prop_map(|(side, range)| Feature::Packets { side, range }),
            side().prop_map(Feature::FirstPayloadFrom),
            (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Feature::ClientPort {
                lo: a.min(b),
                hi: a.max(b),
            }),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z][A-Za-z0-9_.:-]{0,12}",
            ".{0,12}",
            "[ -~\t\r\n\0]{0,8}"
        ]
    }

    fn transport() -> impl Strategy<Value = Transport> {
        prop_oneof![
            Just(Transport::Any),
            Just(Transport::Tcp),
            Just(Transport::Udp),
            any::<u8>().prop_map(Transport::from_number),
        ]
    }

    fn ports() -> impl Strategy<Value = PortSet> {
        prop::collection::vec((any::<u16>(), any::<u16>()), 0..4).prop_map(|v| PortSet {
            ranges: v
                .into_iter()
                .map(|(a, b)| PortRange {
                    start: a.min(b),
                    end: a.max(b),
                })
                .collect(),
        })
    }

    fn provenance() -> impl Strategy<Value = Provenance> {
        (
            proptest::option::of(text()),
            proptest::option::of((0u32..=1_000_000).prop_map(|x| f64::from(x) / 1e6)),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(text()),
        )
            .prop_map(
                |(source, precision, true_positives, false_positives, note)| Provenance {
                    source,
                    precision,
                    true_positives,
                    false_positives,
                    note,
                },
            )
    }

    /// Any signature the model can hold (locations left out).
    pub fn signature() -> impl Strategy<Value = Signature> {
        (
            (
                proptest::option::of(text()),
                prop::collection::vec(comment(), 0..3),
                text(),
                proptest::option::of(text()),
                transport(),
                ports(),
            ),
            (
                prop::collection::vec(pattern(), 0..4),
                prop::collection::vec(feature(), 0..3),
                any::<bool>(),
                any::<i32>(),
                any::<u64>(),
                provenance(),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (id, comments, protocol, app, transport, ports),
                    (patterns, features, encrypted, priority, support, provenance, bs, bd),
                )| Signature {
                    id,
                    location: None,
                    comments,
                    protocol,
                    app,
                    transport,
                    ports,
                    patterns,
                    features,
                    encrypted,
                    priority,
                    support,
                    provenance,
                    std_quoting: StdQuoting {
                        bare_src: bs,
                        bare_dst: bd,
                    },
                },
            )
    }

    /// Domain names as application rules accept them.
    pub fn domain() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9_]{1,8}){0,3}",
            "[A-Za-z0-9]{1,6}\\.[A-Za-z]{2,4}",
            Just("xn--bcher-kva.example".to_string()),
            Just("b\u{fc}cher.example".to_string()),
        ]
    }

    fn host_match() -> impl Strategy<Value = HostMatch> {
        prop_oneof![
            prop::collection::vec(domain(), 1..4).prop_map(HostMatch::Exact),
            prop::collection::vec(domain(), 1..4).prop_map(HostMatch::Suffix),
            regex_source().prop_map(HostMatch::Regex),
        ]
    }

    /// Any application rule the model can hold (locations left out).
    pub fn app_rule() -> impl Strategy<Value = AppRule> {
        let alpn = prop::collection::vec(
            prop_oneof![
                Just("h2".to_string()),
                Just("http/1.1".to_string()),
                "[ -~]{1,10}",
                Just("\u{e9}t\u{e9}".to_string())
            ],
            0..3,
        );
        let ja4 = prop::collection::vec("[a-z0-9_]{1,36}", 0..3);
        (
            (
                proptest::option::of(text()),
                prop::collection::vec(comment(), 0..3),
                text(),
                proptest::option::of(text()),
                transport(),
                ports(),
            ),
            (
                proptest::option::of(host_match()),
                alpn,
                ja4,
                any::<i32>(),
                any::<u64>(),
                provenance(),
            ),
        )
            .prop_map(
                |(
                    (id, comments, app, protocol, transport, ports),
                    (hostname, alpn, mut ja4, priority, support, provenance),
                )| {
                    if hostname.is_none() && alpn.is_empty() && ja4.is_empty() {
                        ja4.push("t13d1516h2_8daaf6152771_e5627efa2ab1".to_string());
                    }
                    AppRule {
                        id,
                        location: None,
                        comments,
                        app,
                        protocol,
                        transport,
                        ports,
                        hostname,
                        alpn,
                        ja4,
                        priority,
                        support,
                        provenance,
                    }
                },
            )
    }

    /// Any set of signatures and application rules.
    pub fn signature_set() -> impl Strategy<Value = SignatureSet> {
        (
            prop::collection::vec(signature(), 0..5),
            prop::collection::vec(app_rule(), 0..3),
            prop::collection::vec(comment(), 0..3),
        )
            .prop_map(|(signatures, apps, trailing_comments)| SignatureSet {
                signatures,
                apps,
                trailing_comments,
            })
    }

    /// Signatures of the kind std.sig can express.
    pub fn std_signature() -> impl Strategy<Value = Signature> {
        let name = "[A-Za-z][A-Za-z0-9_-]{0,15}";
        (
            (
                prop::collection::vec(comment(), 0..3),
                name,
                proptest::option::of(name),
                any::<bool>(),
                any::<u16>(),
                any::<u64>(),
                any::<bool>(),
            ),
            (
                proptest::option::of(prop::collection::vec(nibble_masked_byte(), 0..=32)),
                proptest::option::of(prop::collection::vec(nibble_masked_byte(), 0..=32)),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (comments, protocol, app, tcp, port, support, encrypted),
                    (src, dst, bs, bd, dst_first),
                )| {
                    let mut sig = Signature::new(protocol);
                    sig.comments = comments;
                    sig.app = app;
                    sig.transport = if tcp { Transport::Tcp } else { Transport::Udp };
                    sig.ports = PortSet::single(port);
                    sig.support = support;
                    sig.encrypted = encrypted;
                    if let Some(b) = src {
                        sig.patterns
                            .push(Pattern::masked(Direction::Initiator, 0, b));
                    }
                    if let Some(b) = dst {
                        sig.patterns
                            .push(Pattern::masked(Direction::Responder, 0, b));
                    }
                    if dst_first {
                        sig.patterns.reverse();
                    }
                    sig.std_quoting = StdQuoting {
                        bare_src: bs,
                        bare_dst: bd,
                    };
                    sig
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync + std::panic::UnwindSafe>() {}
        check::<SignatureSet>();
        check::<Signature>();
        check::<SignatureError>();
        check::<SignatureErrors>();
        check::<NotExpressible>();
    }

    #[test]
    fn readme_examples_parse() {
        let readme = include_str!("../../../signatures/README.md");
        let mut parsed = 0;
        for block in readme.split("```text\n").skip(1) {
            let block = block.split("```").next().unwrap_or("");
            if block.lines().any(|l| l.starts_with("rule")) {
                let set = parse_extended(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
                let mut back = parse_extended(&to_extended(&set), "README.md").unwrap();
                let mut orig = set;
                back.strip_locations();
                orig.strip_locations();
                assert_eq!(back, orig);
                parsed += 1;
            } else if block.lines().any(|l| l.starts_with("Service:")) {
                let set = parse_std_sig(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
                assert!(to_std_sig(&set).1.is_empty());
                parsed += 1;
            }
        }
        assert_eq!(parsed, 3);
    }

    #[test]
    fn regexes_compile_in_bytes_mode() {
        let re = compile_regex(r"^\x16\x03[\x00-\x03]").unwrap();
        assert!(re.is_match(b"\x16\x03\x01\x02\x00".as_slice()));
        assert!(compile_regex(r"\xFF").unwrap().is_match(b"\xff".as_slice()));
        assert!(compile_regex("(unclosed").is_err());
    }

    #[test]
    fn masked_byte_matching() {
        let cases = [
            (MaskedByte::exact(0x47), 0x47, true),
            (MaskedByte::exact(0x47), 0x46, false),
            (MaskedByte::any(), 0x00, true),
            (MaskedByte::new(0x5f, 0xf0), 0x5a, true),
            (MaskedByte::new(0x5f, 0xf0), 0x6a, false),
            (MaskedByte::new(0x07, 0x0f), 0xa7, true),
            (MaskedByte::new(0x80, 0xc0), 0xbf, true),
            (MaskedByte::new(0x80, 0xc0), 0xff, false),
        ];
        for (m, b, want) in cases {
            assert_eq!(m.matches(b), want, "{m:?} vs {b:#04x}");
        }
        assert_eq!(MaskedByte::new(0xff, 0xf0).value, 0xf0);
    }

    #[test]
    fn ranges_and_ports() {
        let r = ValueRange {
            min: 10,
            max: Some(20),
        };
        assert!(r.contains(10) && r.contains(20) && !r.contains(21) && !r.contains(9));
        assert!(ValueRange { min: 5, max: None }.contains(u64::MAX));
        assert_eq!(PortSet::single(53).single_port(), Some(53));
        assert_eq!(PortSet::any().single_port(), None);
        assert!(Transport::Any.matches(1));
        assert!(!Transport::Tcp.matches(17));
    }

    #[test]
    fn load_reports_missing_file() {
        let err = load("/nonexistent/dir/none.sig").unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err.errors()[0].line(), 0);
        assert!(err
            .to_string()
            .contains("/nonexistent/dir/none.sig: cannot read"));
    }

    #[test]
    fn line_ends_lf_crlf_and_cr() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("a", &["a"]),
            ("a\n", &["a"]),
            ("a\nb", &["a", "b"]),
            ("a\r\nb\r\n", &["a", "b"]),
            ("a\rb\r", &["a", "b"]),
            ("a\r\rb", &["a", "", "b"]),
            ("a\n\r\nb\r\n\n", &["a", "", "b", ""]),
            ("\r\n", &[""]),
            ("\n\r", &["", ""]),
        ];
        for (text, want) in cases {
            let got: Vec<(u32, &str)> = numbered_lines(text).collect();
            let want: Vec<(u32, &str)> = want
                .iter()
                .enumerate()
                .map(|(i, l)| (i as u32 + 1, *l))
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn every_line_end_reads_the_same_set() {
        let lf = "# c\nrule a\n  protocol HTTP\n  c2s at 0 \"GET \"\nend\n\n# tail\n";
        let std = "# c\nService: http tcp port 80 n = 2 src = \"474554\"\n";
        for (text, parse) in [
            (
                lf,
                parse_extended as fn(&str, &str) -> Result<SignatureSet, SignatureErrors>,
            ),
            (std, parse_std_sig),
        ] {
            let want = parse(text, "x").unwrap();
            assert_eq!(want.len(), 1);
            for end in ["\r\n", "\r"] {
                let other = text.replace('\n', end);
                assert_eq!(parse(&other, "x").unwrap(), want, "{other:?}");
            }
        }
        // A rule written with lone CRs is one rule, not one long comment.
        assert_eq!(
            Format::detect(None, "# x\rService: a tcp port 1 n = 1\r"),
            Format::StdSig
        );
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column() {
        let dir = std::env::temp_dir().join(format!("dpi-sig-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.rules");
        std::fs::write(
            &path,
            b"# one\r\n# two\n# th\xFFree\nrule a\n  protocol \xC3X\nend\n",
        )
        .unwrap();
        let e = load(&path).unwrap_err();
        let got: Vec<(u32, u32, &str)> = e
            .iter()
            .map(|e| (e.line(), e.column(), e.found()))
            .collect();
        assert_eq!(got, [(3, 5, "\\xFF"), (5, 12, "\\xC3")]);
        assert!(
            e.to_string().contains("bad.rules:3:5: expected UTF-8 text"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_over_the_size_limit_are_refused_unread() {
        let dir = std::env::temp_dir().join(format!("dpi-sig-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.rules");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(limits::MAX_FILE_BYTES + 1).unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.to_string()
                .contains("larger than the limit of 16777216 bytes"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_budget_holds_several_files_to_the_set_limits() {
        let regex_rule =
            |i: usize| format!("rule r{i}\n  protocol X\n  c2s regex \"q{i}z+\"\nend\n");
        let lit_rule = |i: usize| {
            format!(
                "rule l{i}\n  protocol X\n  c2s \"{}\"\nend\n",
                "x".repeat(limits::MAX_LITERAL_BYTES)
            )
        };
        // Each file alone is within the pattern-byte limit; together they are not.
        let half = limits::MAX_SET_PATTERN_BYTES / limits::MAX_LITERAL_BYTES / 2 + 1;
        let a: String = (0..half).map(lit_rule).collect();
        let mut budget = Budget::new();
        parse_with_budget(&a, "a.rules", Format::Extended, &mut budget).unwrap();
        let used = budget.clone();
        let e = parse_with_budget(&a, "b.rules", Format::Extended, &mut budget).unwrap_err();
        assert_eq!(budget, used, "a refused file adds nothing to the budget");
        let first = &e.errors()[0];
        assert_eq!((first.source_name(), first.column()), ("b.rules", 7));
        assert!(
            first.expected().contains("MAX_SET_PATTERN_BYTES"),
            "{first}"
        );
        assert!(parse_extended(&a, "alone.rules").is_ok());
        // Regexes count their compiled size.
        let r: String = (0..3).map(regex_rule).collect();
        let mut budget = Budget::new();
        parse_with_budget(&r, "r.rules", Format::Extended, &mut budget).unwrap();
        assert!(budget.regex_bytes() > 0 && budget.conditions() == 3);
    }

    #[test]
    fn application_rules_count_against_the_set_limits() {
        // A host-name regex of a few bytes compiles to about 1 MB: the
        // set-wide regex budget refuses a file of many of them, as it does
        // for byte regexes, instead of compiling each.
        let rule =
            |i: usize| format!("rule a{i}\n  app X\n  hostname regex \"\\w{{9000}}\"\nend\n");
        let text: String = (0..100).map(rule).collect();
        let e = parse_extended(&text, "apps.rules").unwrap_err();
        assert!(e.to_string().contains("MAX_SET_REGEX_BYTES"), "{e}");
        let ok: String = (0..2).map(rule).collect();
        let mut budget = Budget::new();
        parse_with_budget(&ok, "ok.rules", Format::Extended, &mut budget).unwrap();
        assert!(budget.regex_bytes() > 0 && budget.signatures() == 2);
        // A set built in code is held to the same limits by the classifier.
        let mut set = parse_extended(&ok, "ok.rules").unwrap();
        let one = set.apps[0].clone();
        set.apps = vec![one; 100];
        let Err(e) = crate::Classifier::new(&set) else {
            panic!("a set over the limit was compiled")
        };
        assert!(e.to_string().contains("application rule"), "{e}");
        assert!(e.location().is_some());
    }

    #[test]
    fn errors_are_bounded_in_number_and_length() {
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!(
                "rule r{i}\n  protocol X\n  c2s at 0 hex \"zz\"\nend\n"
            ));
        }
        let long = "y".repeat(100_000);
        text.push_str(&format!(
            "rule long\n  protocol X\n  bogus {long} \"{long}\"\nend\n"
        ));
        let e = parse_extended(&text, "many.rules").unwrap_err();
        assert_eq!(e.len(), 501);
        assert_eq!(e.errors().len(), error::MAX_KEPT_ERRORS);
        let shown = e.to_string();
        assert!(
            shown.contains("... and 481 more errors in many.rules, not shown"),
            "{shown}"
        );
        assert!(shown.len() < 10_000, "{} bytes", shown.len());
        // A long line is cut around the column; the caret still points at the token.
        let e = parse_extended(
            &format!("rule a\n  protocol X\n  note \"{long}\" extra\nend\n"),
            "long.rules",
        )
        .unwrap_err();
        let e = &e.errors()[0];
        assert_eq!((e.line(), e.column()), (3, 100_011));
        assert!(e.line_text().chars().count() <= error::MAX_LINE_CHARS + 2);
        let shown = e.to_string();
        assert!(shown.len() < 1_000, "{shown}");
        let caret_line = shown.lines().last().unwrap();
        let text_line = shown.lines().nth(1).unwrap();
        let caret_at = caret_line.chars().position(|c| c == '^').unwrap();
        let word: String = text_line.chars().skip(caret_at).take(5).collect();
        assert_eq!(word, "extra", "{shown}");
    }

    #[test]
    fn load_detects_extended() {
        let dir = std::env::temp_dir().join(format!("dpi-sig-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.rules");
        std::fs::write(&path, "rule a\n  protocol DNS\n  transport udp\nend\n").unwrap();
        let set = load(&path).unwrap();
        assert_eq!(set.signatures[0].transport, Transport::Udp);
        assert_eq!(
            set.signatures[0].location,
            Some(Location {
                source: path.display().to_string(),
                line: 1
            })
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
