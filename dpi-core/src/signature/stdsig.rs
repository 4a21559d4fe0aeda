//! The argus std.sig codec.
//!
//! One signature per line:
//!
//! ```text
//! Service: http            tcp port 80    n =  5433 src = "504F535420      "  dst = "485454502F312E  "
//! ```
//!
//! The service name, `tcp` or `udp`, `port N`, `n = COUNT`, then up to two
//! quoted hex strings (`src =` for the initiator's first bytes, `dst =` for
//! the responder's; a bare string fills the first of the two not yet given)
//! and trailing flags (`encrypted`). Each character of a hex string is a
//! nibble; a space is a wildcard nibble. At most 64 hex digits (32 bytes).
//! `#` and `!` start comment lines. `signatures/README.md` has the full grammar.

use super::error::{ErrorList, NotExpressible, SignatureError, SignatureErrors};
use super::limits::Budget;
use super::{
    column_of, numbered_lines, write_comment, Direction, Location, MaskedByte, Pattern,
    PatternKind, PortSet, Signature, SignatureSet, Transport,
};

/// Most bytes a std.sig pattern string can hold.
const MAX_BYTES: usize = 32;

/// Parses std.sig text; `source` names it in errors and locations.
///
/// Comment and blank lines are kept in the model. Every bad line is
/// reported; if there is any, nothing is returned.
///
/// ```
/// use dpi_core::signature::{parse_std_sig, Direction, MaskedByte, PatternKind, Transport};
///
/// let text = "# DNS\nService: domain udp port 53 n = 7 src = \"    0100\" encrypted\n";
/// let set = parse_std_sig(text, "std.sig").unwrap();
/// let sig = &set.signatures[0];
/// assert_eq!(sig.comments, vec!["# DNS".to_string()]);
/// assert_eq!((sig.protocol.as_str(), sig.transport, sig.ports.single_port()), ("domain", Transport::Udp, Some(53)));
/// assert!(sig.encrypted);
/// assert_eq!(sig.patterns[0].direction, Direction::Initiator);
/// let PatternKind::Masked { offset, bytes } = &sig.patterns[0].kind else { panic!() };
/// assert_eq!(*offset, 0);
/// assert_eq!(bytes, &[MaskedByte::any(), MaskedByte::any(), MaskedByte::exact(1), MaskedByte::exact(0)]);
/// ```
pub fn parse_std_sig(text: &str, source: &str) -> Result<SignatureSet, SignatureErrors> {
    parse(text, source, &mut Budget::new())
}

/// [`parse_std_sig`], counting the set-wide limits in `budget`.
pub(crate) fn parse(
    text: &str,
    source: &str,
    budget: &mut Budget,
) -> Result<SignatureSet, SignatureErrors> {
    let mut set = SignatureSet::new();
    let mut pending = Vec::new();
    let mut errors = ErrorList::default();
    for (number, line) in numbered_lines(text) {
        let t = line.trim();
        if t.is_empty() {
            pending.push(String::new());
            continue;
        }
        if t.starts_with('#') || t.starts_with('!') {
            pending.push(t.to_string());
            continue;
        }
        let mut cursor = Cursor {
            line,
            pos: 0,
            source,
            number,
        };
        match cursor.signature().and_then(|sig| cursor.count(sig, budget)) {
            Ok(mut sig) => {
                sig.comments = std::mem::take(&mut pending);
                set.signatures.push(sig);
            }
            Err(e) => {
                pending.clear();
                errors.push(e);
            }
        }
    }
    set.trailing_comments = pending;
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors.into_errors())
    }
}

struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    source: &'a str,
    number: u32,
}

impl<'a> Cursor<'a> {
    fn error(&self, at: usize, found: &str, expected: impl Into<String>) -> SignatureError {
        SignatureError::syntax(
            self.source,
            self.number,
            column_of(self.line, at),
            self.line,
            found,
            expected,
        )
    }

    /// Counts a parsed signature against the set-wide limits; a refusal
    /// names the line's first word.
    fn count(&self, sig: Signature, budget: &mut Budget) -> Result<Signature, SignatureError> {
        let start = self.line.len() - self.line.trim_start().len();
        let refuse = |e: super::limits::Exceeded| self.error(start, "Service:", e.to_string());
        budget.add_signature().map_err(refuse)?;
        for p in &sig.patterns {
            budget.add_condition().map_err(refuse)?;
            if let PatternKind::Masked { bytes, .. } = &p.kind {
                budget.add_pattern_bytes(bytes.len()).map_err(refuse)?;
            }
        }
        Ok(sig)
    }

    fn rest(&self) -> &'a str {
        &self.line[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn at_end(&self) -> bool {
        self.rest().trim().is_empty()
    }

    /// A run of characters up to whitespace, `=` or `"`; returns its start.
    fn word(&mut self) -> (usize, &'a str) {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '"')
            .unwrap_or(rest.len());
        self.pos += len;
        (start, &rest[..len])
    }

    /// A run of characters up to whitespace.
    fn token(&mut self) -> (usize, &'a str) {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.pos += len;
        (start, &rest[..len])
    }

    fn expect_equals(&mut self, key: &str) -> Result<(), SignatureError> {
        self.skip_ws();
        if self.rest().starts_with('=') {
            self.pos += 1;
            self.skip_ws();
            Ok(())
        } else {
            let (at, found) = self.clone_token();
            Err(self.error(at, found, format!("`=` after `{key}`")))
        }
    }

    /// The next whitespace-delimited token, without consuming it.
    fn clone_token(&self) -> (usize, &'a str) {
        let rest = self.rest();
        let at = self.pos + (rest.len() - rest.trim_start().len());
        let t = &self.line[at..];
        (at, &t[..t.find(char::is_whitespace).unwrap_or(t.len())])
    }

    fn signature(&mut self) -> Result<Signature, SignatureError> {
        self.skip_ws();
        if !self.rest().starts_with("Service:") {
            let (at, found) = self.clone_token();
            return Err(self.error(
                at,
                found,
                "`Service:`, a comment (`#` or `!`) or a blank line",
            ));
        }
        self.pos += "Service:".len();
        let (at, name) = self.token();
        if name.is_empty() {
            return Err(self.error(at, "", "a service name"));
        }
        if let Some(q) = name.find('"') {
            return Err(self.error(at + q, "\"", "a service name without quotes"));
        }
        if name.starts_with('.') {
            return Err(self.error(at, name, "a service name not starting with `.`"));
        }
        if let Some(c) = name.find(|c: char| c.is_control()) {
            let found = name[c..]
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default();
            return Err(self.error(at + c, &found, "a service name without control characters"));
        }
        let (protocol, app) = match name.split_once('.') {
            Some((p, a)) => (p.to_string(), Some(a.to_string())),
            None => (name.to_string(), None),
        };
        let mut sig = Signature::new(protocol);
        sig.app = app;
        sig.location = Some(Location {
            source: self.source.to_string(),
            line: self.number,
        });

        let (at, t) = self.token();
        sig.transport = match t {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            _ => return Err(self.error(at, t, "`tcp` or `udp`")),
        };
        let (at, t) = self.token();
        if t != "port" {
            return Err(self.error(at, t, "`port` and a port number"));
        }
        let (at, t) = self.token();
        let port: u16 = t
            .parse()
            .map_err(|_| self.error(at, t, "a port number (0-65535)"))?;
        sig.ports = PortSet::single(port);

        let mut support = None;
        let mut src = false;
        let mut dst = false;
        loop {
            self.skip_ws();
            if self.at_end() {
                break;
            }
            let (at, key) = if self.rest().starts_with('"') {
                (self.pos, "")
            } else {
                self.word()
            };
            match key {
                "n" => {
                    if support.is_some() {
                        return Err(self.error(at, key, "only one `n =` per line"));
                    }
                    self.expect_equals("n")?;
                    let (at, t) = self.token();
                    support = Some(
                        t.parse::<u64>()
                            .map_err(|_| self.error(at, t, "a count after `n =`"))?,
                    );
                }
                "encrypted" => {
                    if sig.encrypted {
                        return Err(self.error(at, key, "`encrypted` only once"));
                    }
                    sig.encrypted = true;
                }
                "src" | "dst" | "" => {
                    let direction = match key {
                        "src" => Direction::Initiator,
                        "dst" => Direction::Responder,
                        _ if !src => Direction::Initiator,
                        _ if !dst => Direction::Responder,
                        _ => {
                            let (at, t) = self.clone_token();
                            return Err(self.error(
                                at,
                                t,
                                "at most two pattern strings (src and dst)",
                            ));
                        }
                    };
                    let taken = if direction == Direction::Initiator {
                        &mut src
                    } else {
                        &mut dst
                    };
                    if *taken {
                        return Err(self.error(at, key, format!("only one `{key} =` per line")));
                    }
                    *taken = true;
                    if key.is_empty() {
                        if direction == Direction::Initiator {
                            sig.std_quoting.bare_src = true;
                        } else {
                            sig.std_quoting.bare_dst = true;
                        }
                    } else {
                        self.expect_equals(key)?;
                    }
                    let bytes = self.hex_string(key)?;
                    sig.patterns.push(Pattern::masked(direction, 0, bytes));
                }
                _ => {
                    let (at, t) = self.clone_token_from(at);
                    return Err(self.error(
                        at,
                        t,
                        "`n =`, `src =`, `dst =`, a quoted hex string or `encrypted`",
                    ));
                }
            }
        }
        match support {
            Some(n) => sig.support = n,
            None => {
                return Err(self.error(self.line.trim_end().len(), "", "`n = COUNT`"));
            }
        }
        Ok(sig)
    }

    fn clone_token_from(&self, at: usize) -> (usize, &'a str) {
        let t = &self.line[at..];
        (at, &t[..t.find(char::is_whitespace).unwrap_or(t.len())])
    }

    /// A quoted string of hex digits and spaces, the cursor on its opening quote.
    fn hex_string(&mut self, key: &str) -> Result<Vec<MaskedByte>, SignatureError> {
        self.skip_ws();
        let open = self.pos;
        if !self.rest().starts_with('"') {
            let (at, t) = self.clone_token();
            let what = if key.is_empty() {
                "a quoted hex string".to_string()
            } else {
                format!("a quoted hex string after `{key} =`")
            };
            return Err(self.error(at, t, what));
        }
        let body_start = open + 1;
        let Some(len) = self.line[body_start..].find('"') else {
            return Err(self.error(
                open,
                &self.line[open..],
                "a closing `\"` (unterminated string)",
            ));
        };
        let body = &self.line[body_start..body_start + len];
        self.pos = body_start + len + 1;
        let mut nibbles = Vec::with_capacity(body.len().min(2 * MAX_BYTES + 2));
        for (i, c) in body.char_indices() {
            match c {
                ' ' => nibbles.push(None),
                _ => match c.to_digit(16) {
                    Some(d) => nibbles.push(Some(d as u8)),
                    None => {
                        return Err(self.error(
                            body_start + i,
                            &c.to_string(),
                            "a hex digit or a space (wildcard nibble)",
                        ))
                    }
                },
            }
        }
        let quoted = &self.line[open..self.pos];
        if nibbles.len() % 2 != 0 {
            return Err(self.error(
                open,
                quoted,
                format!(
                    "an even number of hex digits, two per byte (found {})",
                    nibbles.len()
                ),
            ));
        }
        if nibbles.len() > 2 * MAX_BYTES {
            return Err(self.error(
                open,
                quoted,
                format!(
                    "at most {} hex digits ({MAX_BYTES} bytes) per string (found {})",
                    2 * MAX_BYTES,
                    nibbles.len()
                ),
            ));
        }
        Ok(nibbles
            .chunks(2)
            .map(|pair| {
                let (hi, hm) = pair[0].map_or((0, 0), |v| (v << 4, 0xf0));
                let (lo, lm) = pair[1].map_or((0, 0), |v| (v, 0x0f));
                MaskedByte::new(hi | lo, hm | lm)
            })
            .collect())
    }
}

/// Writes the signatures std.sig can express; returns the text and, for
/// every other signature, why it was left out.
///
/// Comment lines are written for all signatures (a comment may head a
/// section), so the text keeps the file's layout.
///
/// ```
/// use dpi_core::signature::{parse_std_sig, to_std_sig};
///
/// let text = "# ftp\nService: ftp tcp port 21 n = 9 src = \"32323020\"  dst = \"3232302D  \"\n";
/// let set = parse_std_sig(text, "std.sig").unwrap();
/// let (written, left_out) = to_std_sig(&set);
/// assert!(left_out.is_empty());
/// assert_eq!(
///     written,
///     "# ftp\nService: ftp             tcp port 21    n =     9 src = \"32323020\"  dst = \"3232302D  \"\n",
/// );
/// assert_eq!(parse_std_sig(&written, "std.sig").unwrap(), set);
/// ```
pub fn to_std_sig(set: &SignatureSet) -> (String, Vec<NotExpressible>) {
    let mut out = String::new();
    let mut left_out = Vec::new();
    for (index, sig) in set.signatures.iter().enumerate() {
        for c in &sig.comments {
            write_comment(&mut out, c);
        }
        match std_sig_line(sig) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(mut e) => {
                e.index = index;
                left_out.push(e);
            }
        }
    }
    for (index, rule) in set.apps.iter().enumerate() {
        left_out.push(NotExpressible {
            index,
            application: true,
            id: rule.id.clone(),
            location: rule.location.clone(),
            reason: "an application rule (host name, ALPN or JA4 of the protocol fields); \
                     std.sig matches bytes only"
                .to_string(),
        });
    }
    for c in &set.trailing_comments {
        write_comment(&mut out, c);
    }
    (out, left_out)
}

/// Whether argus's `raservices` (argus-client 3.0.8) loads the std.sig line
/// of `sig` and reads it as dpi does: the line must be writable
/// ([`std_sig_line`]), carry at least one pattern string with a constrained
/// byte (raservices crashes on a line with no string), and every byte must be
/// exact or a whole wildcard (raservices refuses a wildcard low nibble and
/// widens a wildcard high nibble to the whole byte). Returns why not.
///
/// ```
/// use dpi_core::signature::{argus_loadable, parse_std_sig};
/// let set = parse_std_sig(
///     "Service: a tcp port 1 n = 1 src = \"4142\"\nService: b tcp port 2 n = 1 src = \"4 42\"\n",
///     "x.sig",
/// ).unwrap();
/// assert!(argus_loadable(&set.signatures[0]).is_ok());
/// assert!(argus_loadable(&set.signatures[1]).is_err());
/// ```
pub fn argus_loadable(sig: &Signature) -> Result<(), String> {
    std_sig_line(sig).map_err(|e| e.reason)?;
    let mut constrained = false;
    for p in &sig.patterns {
        if let PatternKind::Masked { bytes, .. } = &p.kind {
            for b in bytes {
                match b.mask {
                    0xff => constrained = true,
                    0x00 => {}
                    m => {
                        return Err(format!(
                        "a nibble mask {m:02X} (raservices reads only exact and wildcard bytes)"
                    ))
                    }
                }
            }
        }
    }
    if !constrained {
        return Err("no constrained byte (raservices needs a pattern string)".into());
    }
    Ok(())
}

/// Writes one signature as a std.sig line (no newline, no comments), or
/// says why std.sig cannot express it (with `index` 0; [`to_std_sig`] sets
/// the real index).
///
/// ```
/// use dpi_core::signature::{std_sig_line, Signature, PortSet, Transport};
///
/// let mut sig = Signature::new("ssh");
/// sig.transport = Transport::Tcp;
/// sig.ports = PortSet::single(22);
/// assert_eq!(std_sig_line(&sig).unwrap(), "Service: ssh             tcp port 22    n =     0");
/// sig.priority = 3;
/// assert_eq!(std_sig_line(&sig).unwrap_err().reason, "priority 3 (std.sig has no priority)");
/// ```
pub fn std_sig_line(sig: &Signature) -> Result<String, NotExpressible> {
    let fail = |reason: String| NotExpressible {
        index: 0,
        application: false,
        id: sig.id.clone(),
        location: sig.location.clone(),
        reason,
    };
    let transport = match sig.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
        other => {
            return Err(fail(format!(
                "transport `{other}` (std.sig has tcp and udp only)"
            )))
        }
    };
    let Some(port) = sig.ports.single_port() else {
        return Err(fail(if sig.ports.is_any() {
            "any port (std.sig needs exactly one port)".to_string()
        } else {
            "a port set or range (std.sig has exactly one port)".to_string()
        }));
    };
    if sig.id.is_some() {
        return Err(fail("a rule id (std.sig has no ids)".into()));
    }
    if sig.priority != 0 {
        return Err(fail(format!(
            "priority {} (std.sig has no priority)",
            sig.priority
        )));
    }
    if !sig.features.is_empty() {
        return Err(fail(
            "feature predicates (std.sig has byte patterns only)".into(),
        ));
    }
    if !sig.provenance.is_empty() {
        return Err(fail(
            "provenance fields (std.sig records only the support count)".into(),
        ));
    }
    let name_ok = |s: &str| {
        !s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    };
    if sig.protocol.is_empty() || sig.protocol.contains('.') || !name_ok(&sig.protocol) {
        return Err(fail(format!(
            "protocol name {:?} (a std.sig service name is one word without `.`)",
            sig.protocol
        )));
    }
    let mut name = sig.protocol.clone();
    if let Some(app) = &sig.app {
        if !name_ok(app) {
            return Err(fail(format!("app name {app:?} (std.sig needs one word)")));
        }
        name.push('.');
        name.push_str(app);
    }

    let mut line = format!(
        "Service: {name:<15} {transport} port {port:<5} n = {:>5}",
        sig.support
    );
    let mut seen_src = false;
    let mut seen_dst = false;
    for (i, p) in sig.patterns.iter().enumerate() {
        let (label, seen, bare) =
            match p.direction {
                Direction::Initiator => ("src", &mut seen_src, sig.std_quoting.bare_src),
                Direction::Responder => ("dst", &mut seen_dst, sig.std_quoting.bare_dst),
                Direction::Either | Direction::Both => {
                    return Err(fail(format!(
                    "pattern {} applies to {} directions (std.sig has src and dst patterns only)",
                    i + 1,
                    if p.direction == Direction::Either { "either of the" } else { "both" }
                )))
                }
            };
        if *seen {
            return Err(fail(format!(
                "two {label} patterns (std.sig has one per direction)"
            )));
        }
        *seen = true;
        let bytes = match &p.kind {
            PatternKind::Masked { offset: 0, bytes } => bytes,
            PatternKind::Masked { offset, .. } => {
                return Err(fail(format!(
                    "masked bytes at offset {offset} (std.sig patterns start at offset 0)"
                )))
            }
            PatternKind::Literal { .. } => {
                return Err(fail(
                    "a literal pattern (std.sig has masked bytes at offset 0 only)".into(),
                ))
            }
            PatternKind::Regex { .. } => {
                return Err(fail(
                    "a regex pattern (std.sig has masked bytes at offset 0 only)".into(),
                ))
            }
        };
        if bytes.len() > MAX_BYTES {
            return Err(fail(format!(
                "a {label} pattern of {} bytes (at most {MAX_BYTES})",
                bytes.len()
            )));
        }
        let mut hex = String::with_capacity(bytes.len() * 2);
        for (j, b) in bytes.iter().enumerate() {
            for (shift, nibble_mask) in [(4u8, 0xf0u8), (0, 0x0f)] {
                match b.mask & nibble_mask {
                    0 => hex.push(' '),
                    m if m == nibble_mask => {
                        let d = (b.value >> shift) & 0x0f;
                        hex.push(char::from_digit(u32::from(d), 16).map_or('0', |c| c.to_ascii_uppercase()));
                    }
                    _ => {
                        return Err(fail(format!(
                            "byte {j} of the {label} pattern has mask {:#04x} (std.sig masks whole nibbles only)",
                            b.mask
                        )))
                    }
                }
            }
        }
        // A bare string fills the first of src and dst not yet given; write
        // it bare only when it reads back into the same slot.
        let first_free_is_this = match p.direction {
            Direction::Initiator => true,
            _ => seen_src,
        };
        if bare && !first_free_is_this {
            return Err(fail(format!(
                "a bare {label} string here would read back as src (std.sig quoting)"
            )));
        }
        line.push_str(if i == 0 { " " } else { "  " });
        if !bare {
            line.push_str(label);
            line.push_str(" = ");
        }
        line.push('"');
        line.push_str(&hex);
        line.push('"');
    }
    if sig.std_quoting.bare_src && !seen_src || sig.std_quoting.bare_dst && !seen_dst {
        return Err(fail(
            "a bare-string flag for a pattern the signature does not have".into(),
        ));
    }
    if sig.encrypted {
        line.push_str("  encrypted");
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::super::{strategies, StdQuoting};
    use super::*;
    use proptest::prelude::*;

    fn one(line: &str) -> Signature {
        let mut set = parse_std_sig(line, "t.sig").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.signatures.len(), 1);
        set.signatures.remove(0)
    }

    fn masked(sig: &Signature, i: usize) -> (Direction, Vec<MaskedByte>) {
        match &sig.patterns[i].kind {
            PatternKind::Masked { offset: 0, bytes } => (sig.patterns[i].direction, bytes.clone()),
            other => panic!("not masked at 0: {other:?}"),
        }
    }

    #[test]
    fn parses_the_variants_of_the_reference_file() {
        let x = MaskedByte::exact;
        let any = MaskedByte::any();
        type Expected = Vec<(Direction, Vec<MaskedByte>)>;
        let cases: &[(&str, Expected, bool, StdQuoting)] = &[
            (
                r#"Service: ftp             tcp port 21    n =  1043 src = "32323020    ""#,
                vec![(
                    Direction::Initiator,
                    vec![x(0x32), x(0x32), x(0x30), x(0x20), any, any],
                )],
                false,
                StdQuoting::default(),
            ),
            (
                r#"Service: ssh             tcp port 22    n =    12 src = "5353482D  2E"  encrypted"#,
                vec![(
                    Direction::Initiator,
                    vec![x(0x53), x(0x53), x(0x48), x(0x2d), any, x(0x2e)],
                )],
                true,
                StdQuoting::default(),
            ),
            (
                r#"Service: nicname         tcp port 43    n =   100 src = ""                                  dst = """#,
                vec![
                    (Direction::Initiator, vec![]),
                    (Direction::Responder, vec![]),
                ],
                false,
                StdQuoting::default(),
            ),
            (
                r#"Service: ident           tcp port 113   n =     6 src = "    35"          "3238""#,
                vec![
                    (Direction::Initiator, vec![any, any, x(0x35)]),
                    (Direction::Responder, vec![x(0x32), x(0x38)]),
                ],
                false,
                StdQuoting {
                    bare_src: false,
                    bare_dst: true,
                },
            ),
            (
                r#"Service: afs3-prserver   udp port 7002  n =     1 dst = "3DFE 00a0 ""#,
                vec![(
                    Direction::Responder,
                    vec![
                        x(0x3d),
                        x(0xfe),
                        MaskedByte::new(0x00, 0x0f),
                        x(0x0a),
                        MaskedByte::new(0x00, 0xf0),
                    ],
                )],
                false,
                StdQuoting::default(),
            ),
            (
                r#"Service: ndmp            udp port 10000 n =   824 dst = "31""#,
                vec![(Direction::Responder, vec![x(0x31)])],
                false,
                StdQuoting::default(),
            ),
            (
                r#"Service: x udp port 9 n=3 "01" "02""#,
                vec![
                    (Direction::Initiator, vec![x(1)]),
                    (Direction::Responder, vec![x(2)]),
                ],
                false,
                StdQuoting {
                    bare_src: true,
                    bare_dst: true,
                },
            ),
            (
                r#"Service: x udp port 9 dst = "02" "01" n = 3"#,
                vec![
                    (Direction::Responder, vec![x(2)]),
                    (Direction::Initiator, vec![x(1)]),
                ],
                false,
                StdQuoting {
                    bare_src: true,
                    bare_dst: false,
                },
            ),
            (
                "Service: x tcp port 9 n = 3",
                vec![],
                false,
                StdQuoting::default(),
            ),
        ];
        for (line, patterns, encrypted, quoting) in cases {
            let sig = one(line);
            let got: Vec<_> = (0..sig.patterns.len()).map(|i| masked(&sig, i)).collect();
            assert_eq!(&got, patterns, "{line}");
            assert_eq!(sig.encrypted, *encrypted, "{line}");
            assert_eq!(sig.std_quoting, *quoting, "{line}");
            let written = std_sig_line(&sig).unwrap();
            let mut again = one(&written);
            again.location = sig.location.clone();
            assert_eq!(again, sig, "{line} -> {written}");
        }
    }

    #[test]
    fn header_fields() {
        let sig = one("Service: TLS.Google tcp port 443 n = 12345678901 src = \"16\"");
        assert_eq!(sig.protocol, "TLS");
        assert_eq!(sig.app.as_deref(), Some("Google"));
        assert_eq!(sig.transport, Transport::Tcp);
        assert_eq!(sig.ports.single_port(), Some(443));
        assert_eq!(sig.support, 12_345_678_901);
        assert_eq!(
            sig.location,
            Some(Location {
                source: "t.sig".into(),
                line: 1
            })
        );
        assert!(std_sig_line(&sig)
            .unwrap()
            .starts_with("Service: TLS.Google      tcp port 443"));
    }

    #[test]
    fn comments_and_blank_lines_are_kept() {
        let text = "#a\n\n! b \nService: x tcp port 1 n = 1\n  \n# end\n";
        let set = parse_std_sig(text, "t.sig").unwrap();
        assert_eq!(set.signatures[0].comments, vec!["#a", "", "! b"]);
        assert_eq!(set.trailing_comments, vec!["", "# end"]);
        let (written, left_out) = to_std_sig(&set);
        assert!(left_out.is_empty());
        assert_eq!(parse_std_sig(&written, "t.sig").unwrap(), set);
    }

    #[test]
    fn malformed_lines_name_line_and_column() {
        // (line text, column, found, part of the expectation)
        let cases: &[(&str, u32, &str, &str)] = &[
            (
                r#"Service: a tcp port 1 n = 1 src = "4G""#,
                37,
                "G",
                "hex digit",
            ),
            (
                r#"Service: a tcp port 1 n = 1 src = "474""#,
                35,
                r#""474""#,
                "even number",
            ),
            (
                r#"Service: a tcp port 1 n = 1 src = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20""#,
                35,
                r#""000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20""#,
                "at most 64 hex digits",
            ),
            (r#"Service: a tcp 80 n = 1"#, 16, "80", "`port`"),
            (r#"Service: a tcp port n = 1"#, 21, "n", "port number"),
            (
                r#"Service: a tcp port 70000 n = 1"#,
                21,
                "70000",
                "port number",
            ),
            (
                r#"Service: a sctp port 1 n = 1"#,
                12,
                "sctp",
                "`tcp` or `udp`",
            ),
            (
                r#"Service: a tcp port 1 n = 1 prio = 3"#,
                29,
                "prio",
                "`n =`",
            ),
            (
                r#"Service: a tcp port 1 n = 1 src = "4142"#,
                35,
                r#""4142"#,
                "closing",
            ),
            (r#"Service: a tcp port 1 src = "41""#, 33, "", "`n = COUNT`"),
            (r#"Service: a tcp port 1 n = x"#, 27, "x", "count"),
            (
                r#"Service: a tcp port 1 n = 1 src = "41" src = "42""#,
                40,
                "src",
                "only one",
            ),
            (
                r#"Service: a tcp port 1 n = 1 "41" "42" "43""#,
                39,
                r#""43""#,
                "at most two",
            ),
            (
                r#"Service: a tcp port 1 n = 1 src "41""#,
                33,
                r#""41""#,
                "`=`",
            ),
            (r#"Servce: a tcp port 1 n = 1"#, 1, "Servce:", "`Service:`"),
            (r#"Service:"#, 9, "", "service name"),
            (
                r#"Service: .x tcp port 1 n = 1"#,
                10,
                ".x",
                "not starting with `.`",
            ),
        ];
        for (line, col, found, expected) in cases {
            let text = format!("# ok\n{line}\n");
            let errs = parse_std_sig(&text, "bad.sig").unwrap_err();
            assert_eq!(errs.len(), 1, "{line}");
            let e = &errs.errors()[0];
            assert_eq!(e.source_name(), "bad.sig");
            assert_eq!(e.line(), 2, "{line}");
            assert_eq!(e.column(), *col, "{line}: {e}");
            assert_eq!(e.found(), *found, "{line}: {e}");
            assert!(e.expected().contains(expected), "{line}: {e}");
            assert!(e.to_string().contains(line.trim_end()), "{e}");
        }
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = "Service: a tcp port 1 n = 1\nService: b tcp port x n = 1\nService: c tcp port 1 n = 1\nService: d tcp port 1 n = 1 src = \"4\"\n";
        let errs = parse_std_sig(text, "t.sig").unwrap_err();
        let lines: Vec<u32> = errs.iter().map(|e| e.line()).collect();
        assert_eq!(lines, vec![2, 4]);
        let shown = errs.to_string();
        assert!(
            shown.starts_with("2 errors in t.sig; nothing was loaded"),
            "{shown}"
        );
        assert!(
            shown.contains("t.sig:2:21:") && shown.contains("t.sig:4:35:"),
            "{shown}"
        );
    }

    #[test]
    fn not_expressible_reasons() {
        use super::super::{Feature, PortRange, Position, Side, ValueRange};
        let mut base = Signature::new("http");
        base.transport = Transport::Tcp;
        base.ports = PortSet::single(80);
        assert!(std_sig_line(&base).is_ok());
        type Change = Box<dyn Fn(&mut Signature)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|s| s.transport = Transport::Any),
                "transport `any`",
            ),
            (
                Box::new(|s| s.transport = Transport::Other(132)),
                "transport `132`",
            ),
            (Box::new(|s| s.ports = PortSet::any()), "any port"),
            (
                Box::new(|s| {
                    s.ports = PortSet {
                        ranges: vec![PortRange { start: 80, end: 90 }],
                    }
                }),
                "port set or range",
            ),
            (Box::new(|s| s.id = Some("r".into())), "rule id"),
            (
                Box::new(|s| {
                    s.features.push(Feature::FirstPayloadSize {
                        side: Side::Initiator,
                        range: ValueRange { min: 1, max: None },
                    })
                }),
                "feature",
            ),
            (
                Box::new(|s| s.provenance.precision = Some(0.5)),
                "provenance",
            ),
            (
                Box::new(|s| s.protocol = "two words".into()),
                "protocol name",
            ),
            (Box::new(|s| s.protocol = "a.b".into()), "protocol name"),
            (
                Box::new(|s| {
                    s.patterns
                        .push(Pattern::literal_at(Direction::Initiator, 0, b"GET"))
                }),
                "literal",
            ),
            (
                Box::new(|s| s.patterns.push(Pattern::regex(Direction::Initiator, "x"))),
                "regex",
            ),
            (
                Box::new(|s| {
                    s.patterns
                        .push(Pattern::masked(Direction::Initiator, 4, vec![]))
                }),
                "offset 4",
            ),
            (
                Box::new(|s| {
                    s.patterns.push(Pattern::masked(
                        Direction::Initiator,
                        0,
                        vec![MaskedByte::any(); 33],
                    ))
                }),
                "33 bytes",
            ),
            (
                Box::new(|s| {
                    s.patterns.push(Pattern::masked(
                        Direction::Responder,
                        0,
                        vec![MaskedByte::new(0x80, 0x80)],
                    ))
                }),
                "mask 0x80",
            ),
            (
                Box::new(|s| {
                    s.patterns
                        .push(Pattern::masked(Direction::Either, 0, vec![]))
                }),
                "either",
            ),
            (
                Box::new(|s| {
                    s.patterns
                        .push(Pattern::masked(Direction::Initiator, 0, vec![]));
                    s.patterns
                        .push(Pattern::masked(Direction::Initiator, 0, vec![]));
                }),
                "two src",
            ),
            (
                Box::new(|s| {
                    s.patterns
                        .push(Pattern::masked(Direction::Responder, 0, vec![]));
                    s.std_quoting.bare_dst = true;
                }),
                "read back as src",
            ),
            (
                Box::new(|s| s.std_quoting.bare_src = true),
                "bare-string flag",
            ),
            (
                Box::new(|s| {
                    s.patterns.push(Pattern {
                        direction: Direction::Initiator,
                        kind: PatternKind::Literal {
                            bytes: b"a".to_vec(),
                            nocase: true,
                            position: Position::Anywhere,
                        },
                    })
                }),
                "literal",
            ),
        ];
        for (change, want) in cases {
            let mut sig = base.clone();
            change(&mut sig);
            let e = std_sig_line(&sig).unwrap_err();
            assert!(e.reason.contains(want), "{want}: {e}");
            assert!(e.to_string().contains("not expressible in std.sig: "));
        }
    }

    #[test]
    fn to_std_sig_routes_the_rest() {
        let mut ok = Signature::new("dns");
        ok.transport = Transport::Udp;
        ok.ports = PortSet::single(53);
        let bad = Signature::new("DNS");
        let mut app = crate::signature::AppRule::new("Google");
        app.hostname = Some(crate::signature::HostMatch::Suffix(vec![
            "google.com".into()
        ]));
        let set = SignatureSet {
            signatures: vec![bad.clone(), ok.clone(), bad],
            apps: vec![app],
            trailing_comments: vec![],
        };
        let (text, left_out) = to_std_sig(&set);
        assert_eq!(
            left_out
                .iter()
                .map(|e| (e.index, e.application))
                .collect::<Vec<_>>(),
            vec![(0, false), (2, false), (0, true)]
        );
        assert!(left_out[2]
            .to_string()
            .starts_with("application rule #0: not expressible in std.sig: an application rule"));
        assert_eq!(parse_std_sig(&text, "x").unwrap().signatures.len(), 1);
    }

    /// The reference file: `DPI_SIGREF`, or `$DPI_CORPUS/../signatures-reference/argus-std.sig`.
    fn reference_file() -> Option<(std::path::PathBuf, String)> {
        let path = if let Ok(p) = std::env::var("DPI_SIGREF") {
            std::path::PathBuf::from(p)
        } else if let Ok(c) = std::env::var("DPI_CORPUS") {
            std::path::Path::new(&c).join("../signatures-reference/argus-std.sig")
        } else {
            eprintln!(
                "note: reference std.sig test skipped: set DPI_SIGREF or DPI_CORPUS to run it"
            );
            return None;
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Some((path, text)),
            Err(e) => panic!("reference std.sig {} cannot be read: {e}", path.display()),
        }
    }

    fn normalise(line: &str) -> String {
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn reference_file_round_trips() {
        let Some((path, text)) = reference_file() else {
            return;
        };
        let name = path.display().to_string();
        let set = parse_std_sig(&text, &name).unwrap_or_else(|e| panic!("{e}"));
        let expected_sigs = text.lines().filter(|l| l.starts_with("Service:")).count();
        assert_eq!(set.signatures.len(), expected_sigs);
        let (written, left_out) = to_std_sig(&set);
        assert!(left_out.is_empty(), "{left_out:?}");
        // The model survives a write and a read exactly, locations included.
        assert_eq!(parse_std_sig(&written, &name).unwrap(), set);
        // Every line survives up to whitespace.
        let a: Vec<String> = text.lines().map(normalise).collect();
        let b: Vec<String> = written.lines().map(normalise).collect();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "line {}", i + 1);
        }
        // And through the extended format.
        let ext = super::super::to_extended(&set);
        let mut back =
            super::super::parse_extended(&ext, "x.rules").unwrap_or_else(|e| panic!("{e}"));
        let mut orig = set.clone();
        back.strip_locations();
        orig.strip_locations();
        assert_eq!(back, orig);
    }

    proptest! {
        #[test]
        fn expressible_models_round_trip(
            sigs in prop::collection::vec(strategies::std_signature(), 0..6),
            trailing in prop::collection::vec(strategies::comment(), 0..3),
        ) {
            let sigs: Vec<Signature> = sigs.into_iter().filter(|s| std_sig_line(s).is_ok()).collect();
            let set = SignatureSet { signatures: sigs, apps: Vec::new(), trailing_comments: trailing };
            let (text, left_out) = to_std_sig(&set);
            prop_assert!(left_out.is_empty());
            let mut back = parse_std_sig(&text, "p.sig").unwrap();
            back.strip_locations();
            prop_assert_eq!(back, set);
        }

        #[test]
        fn any_model_round_trips_or_is_refused(set in strategies::signature_set()) {
            let (text, left_out) = to_std_sig(&set);
            let mut back = parse_std_sig(&text, "p.sig").unwrap();
            back.strip_locations();
            let kept: Vec<Signature> = set
                .signatures
                .iter()
                .enumerate()
                .filter(|(i, _)| !left_out.iter().any(|e| e.index == *i))
                .map(|(_, s)| s.clone())
                .collect();
            prop_assert_eq!(back.signatures.len(), kept.len());
            for (b, k) in back.signatures.iter().zip(&kept) {
                let mut b = b.clone();
                // Comments of refused signatures move on to the next written one.
                b.comments.clear();
                let mut k = k.clone();
                k.comments.clear();
                prop_assert_eq!(b, k);
            }
        }

        #[test]
        fn parser_never_panics(text in "[ -~\n]{0,200}") {
            let _ = parse_std_sig(&text, "fuzz.sig");
        }

        #[test]
        fn parser_never_panics_on_service_lines(
            tail in r#"[ tcpudortn=srcdst"0-9A-Fa-f]{0,80}"#,
        ) {
            let _ = parse_std_sig(&format!("Service: x {tail}\n"), "fuzz.sig");
        }
    }
}
