//! The extended signature format: one `rule` block per signature.
//!
//! ```text
//! # HTTP requests on the usual ports.
//! rule http-get
//!   protocol HTTP
//!   transport tcp
//!   ports 80, 8080, 8000-8099
//!   c2s at 0 "GET "
//!   c2s within 256 nocase "\r\nHost:"
//!   s2c at 0 hex "48 54 54 50 2F 31 2E ?? 20"
//!   size c2s 16-
//!   source hand
//! end
//! ```
//!
//! Every line of a block is `key value...`; strings are double-quoted with
//! `\\ \" \n \r \t \0 \xHH` escapes, or raw (`r"..."`, `r#"..."#`).
//! `#` and `!` start comment lines. `signatures/README.md` has the grammar.

use super::apps::{self, AppPart};
use super::error::{ErrorList, SignatureError, SignatureErrors};
use super::limits::{self, Budget};
use super::{
    column_of, compile_regex, numbered_lines, write_comment, Direction, Feature, Location,
    MaskedByte, Pattern, PatternKind, PortRange, PortSet, Position, Provenance, Side, Signature,
    SignatureSet, Transport, ValueRange,
};

/// Parses extended-format text; `source` names it in errors and locations.
///
/// Every bad line is reported; if there is any, nothing is returned.
///
/// ```
/// use dpi_core::signature::{parse_extended, Direction, PatternKind, Position, Transport};
///
/// let text = r#"
/// rule tls-hello
///   protocol TLS
///   transport tcp
///   ports 443, 8443-8445
///   priority 5
///   c2s at 0 hex "16 03 0? ?? ?? 01"
///   either regex "^\x16\x03"
/// end
/// "#;
/// let set = parse_extended(text, "tls.rules").unwrap();
/// let sig = &set.signatures[0];
/// assert_eq!(sig.id.as_deref(), Some("tls-hello"));
/// assert_eq!(sig.transport, Transport::Tcp);
/// assert!(sig.ports.contains(8444));
/// assert_eq!(sig.priority, 5);
/// assert_eq!(sig.patterns[1].direction, Direction::Either);
/// assert!(matches!(&sig.patterns[1].kind, PatternKind::Regex { source, position: Position::Anywhere } if source == r"^\x16\x03"));
/// ```
pub fn parse_extended(text: &str, source: &str) -> Result<SignatureSet, SignatureErrors> {
    parse(text, source, &mut Budget::new())
}

/// [`parse_extended`], counting the set-wide limits in `budget`.
pub(crate) fn parse(
    text: &str,
    source: &str,
    budget: &mut Budget,
) -> Result<SignatureSet, SignatureErrors> {
    let mut set = SignatureSet::new();
    let mut pending: Vec<String> = Vec::new();
    let mut errors = ErrorList::default();
    let mut open: Option<Block> = None;
    for (number, line) in numbered_lines(text) {
        let t = line.trim();
        if t.is_empty() {
            if open.is_none() {
                pending.push(String::new());
            }
            continue;
        }
        if t.starts_with('#') || t.starts_with('!') {
            pending.push(t.to_string());
            continue;
        }
        let ctx = Ctx {
            source,
            number,
            line,
        };
        let tokens = match lex(line) {
            Ok(t) => t,
            Err((at, found, expected)) => {
                errors.push(ctx.error(at, found, expected));
                continue;
            }
        };
        let first = &tokens[0];
        match first.word() {
            Some("rule") => {
                if let Some(b) = open.take() {
                    errors.push(ctx.error(
                        first.start,
                        "rule",
                        format!("`end` to close the rule of line {} first", b.number),
                    ));
                }
                let mut sig = Signature::new(String::new());
                sig.location = Some(Location {
                    source: source.to_string(),
                    line: number,
                });
                sig.comments = std::mem::take(&mut pending);
                if let Some(tok) = tokens.get(1) {
                    match tok.text(line) {
                        Ok(id) => sig.id = Some(id),
                        Err((at, found, expected)) => errors.push(ctx.error(at, found, expected)),
                    }
                }
                if let Some(extra) = tokens.get(2) {
                    errors.push(ctx.error(
                        extra.start,
                        extra.raw,
                        "end of line after the rule name",
                    ));
                }
                open = Some(Block {
                    sig,
                    number,
                    line: line.to_string(),
                    seen: Vec::new(),
                    app: AppPart::default(),
                });
            }
            Some("end") => match open.take() {
                None => errors.push(ctx.error(first.start, "end", "`rule` (no rule is open)")),
                Some(mut b) => {
                    if let Some(extra) = tokens.get(1) {
                        errors.push(ctx.error(extra.start, extra.raw, "end of line after `end`"));
                    }
                    b.sig.comments.append(&mut pending);
                    // An error about the whole rule points at its `rule` line.
                    let (number, line) = (b.number, b.line.clone());
                    let at_rule = |expected: String| {
                        let column = column_of(&line, line.len() - line.trim_start().len());
                        SignatureError::syntax(source, number, column, &line, line.trim(), expected)
                    };
                    if b.app.is_rule() {
                        let has_protocol = b.seen.contains(&"protocol");
                        match apps::finish(b.sig, b.app, has_protocol, source, b.number, &b.line) {
                            // An application rule counts against the set's
                            // rule limit like any other.
                            Ok(rule) => match budget.add_signature() {
                                Ok(()) => set.apps.push(rule),
                                Err(e) => errors.push(at_rule(e.to_string())),
                            },
                            Err(e) => errors.push(e),
                        }
                    } else if !b.seen.contains(&"protocol") {
                        errors.push(at_rule("a `protocol` line in this rule".into()));
                    } else if let Err(e) = budget.add_signature() {
                        errors.push(at_rule(e.to_string()));
                    } else {
                        set.signatures.push(b.sig);
                    }
                }
            },
            _ => match open.as_mut() {
                None => errors.push(ctx.error(first.start, first.raw, "`rule` to start a rule")),
                Some(b) => {
                    if let Err(e) = statement(b, &ctx, &tokens, budget) {
                        errors.push(e);
                    }
                }
            },
        }
    }
    if let Some(b) = open {
        errors.push(SignatureError::syntax(
            source,
            b.number,
            column_of(&b.line, b.line.len() - b.line.trim_start().len()),
            &b.line,
            b.line.trim(),
            "`end` to close this rule before the end of the file",
        ));
    }
    set.trailing_comments = pending;
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors.into_errors())
    }
}

struct Block {
    sig: Signature,
    number: u32,
    line: String,
    seen: Vec<&'static str>,
    /// The `hostname`, `alpn` and `ja4` lines of an application rule.
    app: AppPart,
}

pub(super) struct Ctx<'a> {
    source: &'a str,
    pub(super) number: u32,
    pub(super) line: &'a str,
}

impl Ctx<'_> {
    pub(super) fn error(
        &self,
        at: usize,
        found: &str,
        expected: impl Into<String>,
    ) -> SignatureError {
        SignatureError::syntax(
            self.source,
            self.number,
            column_of(self.line, at),
            self.line,
            found,
            expected,
        )
    }
}

/// A lexing or decoding failure: byte offset in the line, offending text, expectation.
type Fail<'a> = (usize, &'a str, String);

#[derive(Debug)]
pub(super) struct Token<'a> {
    /// Byte offset of the token in the line.
    pub(super) start: usize,
    /// The token as written (quotes included).
    pub(super) raw: &'a str,
    kind: TokenKind,
}

#[derive(Debug)]
enum TokenKind {
    Word,
    /// A `"..."` string; its body starts at `body` (byte offset in the line).
    Quoted {
        body: usize,
        len: usize,
    },
    /// A raw `r#"..."#` string.
    Raw {
        body: usize,
        len: usize,
    },
}

impl<'a> Token<'a> {
    pub(super) fn word(&self) -> Option<&'a str> {
        match self.kind {
            TokenKind::Word => Some(self.raw),
            _ => None,
        }
    }

    /// The token as text: a word as is, a string decoded.
    pub(super) fn text(&self, line: &'a str) -> Result<String, Fail<'a>> {
        match self.kind {
            TokenKind::Word => Ok(self.raw.to_string()),
            TokenKind::Raw { body, len } => Ok(line[body..body + len].to_string()),
            TokenKind::Quoted { body, len } => {
                let bytes = unescape(&line[body..body + len], body)?;
                String::from_utf8(bytes).map_err(|_| {
                    (
                        self.start,
                        self.raw,
                        "text that decodes to UTF-8".to_string(),
                    )
                })
            }
        }
    }

    /// A string token's bytes: escapes decoded (raw strings verbatim).
    fn bytes(&self, line: &'a str) -> Option<Result<Vec<u8>, Fail<'a>>> {
        match self.kind {
            TokenKind::Word => None,
            TokenKind::Raw { body, len } => Some(Ok(line.as_bytes()[body..body + len].to_vec())),
            TokenKind::Quoted { body, len } => Some(unescape(&line[body..body + len], body)),
        }
    }

    /// A string token's body exactly as written (for regexes and hex).
    pub(super) fn verbatim(&self, line: &'a str) -> Option<(usize, &'a str)> {
        match self.kind {
            TokenKind::Word => None,
            TokenKind::Raw { body, len } | TokenKind::Quoted { body, len } => {
                Some((body, &line[body..body + len]))
            }
        }
    }
}

fn lex(line: &str) -> Result<Vec<Token<'_>>, Fail<'_>> {
    let mut tokens = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let c = line[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        if c == '"' {
            let mut j = i + 1;
            loop {
                match bytes.get(j) {
                    None => {
                        return Err((
                            start,
                            &line[start..],
                            "a closing `\"` (unterminated string)".into(),
                        ))
                    }
                    Some(b'\\') => j += 2,
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            tokens.push(Token {
                start,
                raw: &line[start..=j],
                kind: TokenKind::Quoted {
                    body: start + 1,
                    len: j - start - 1,
                },
            });
            i = j + 1;
            continue;
        }
        if c == 'r' {
            let hashes = line[i + 1..].bytes().take_while(|&b| b == b'#').count();
            if bytes.get(i + 1 + hashes) == Some(&b'"') {
                let body = i + 2 + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let Some(len) = line[body..].find(&close) else {
                    return Err((
                        start,
                        &line[start..],
                        format!("a closing `{close}` (unterminated raw string)"),
                    ));
                };
                let end = body + len + close.len();
                tokens.push(Token {
                    start,
                    raw: &line[start..end],
                    kind: TokenKind::Raw { body, len },
                });
                i = end;
                continue;
            }
        }
        let len = line[i..]
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(line.len() - i);
        tokens.push(Token {
            start,
            raw: &line[i..i + len],
            kind: TokenKind::Word,
        });
        i += len;
    }
    Ok(tokens)
}

/// Decodes the escapes of a quoted string body that starts at byte `base` of its line.
fn unescape(body: &str, base: usize) -> Result<Vec<u8>, Fail<'_>> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err((base + i, &body[i..], "an escape after `\\`".into()));
        };
        match e {
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            '0' => out.push(0),
            'x' => {
                let hex = body.get(i + 2..i + 4).unwrap_or(&body[i..]);
                match u8::from_str_radix(hex, 16) {
                    Ok(b) if hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        out.push(b);
                        chars.next();
                        chars.next();
                    }
                    _ => {
                        let end = (i + 4).min(body.len());
                        let found = body.get(i..end).unwrap_or(&body[i..]);
                        return Err((base + i, found, "two hex digits after `\\x`".into()));
                    }
                }
            }
            _ => {
                let found = &body[i..i + 1 + e.len_utf8()];
                return Err((
                    base + i,
                    found,
                    r#"an escape: `\\`, `\"`, `\n`, `\r`, `\t`, `\0` or `\xHH`"#.into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Parses the hex notation of masked bytes; errors carry the byte offset in `text`.
pub(crate) fn parse_hex_bytes(text: &str) -> Result<Vec<MaskedByte>, (usize, &str, String)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    let nibble = |c: u8| -> Option<Option<u8>> {
        match c {
            b'?' => Some(None),
            _ => (c as char).to_digit(16).map(|d| Some(d as u8)),
        }
    };
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let digit_end = |j: usize| text[j..].chars().next().map_or(j, |c| j + c.len_utf8());
        let hi = nibble(b[i]).ok_or_else(|| {
            (
                i,
                &text[i..digit_end(i)],
                "a hex digit or `?` (wildcard nibble)".to_string(),
            )
        })?;
        let Some(&second) = b.get(i + 1) else {
            return Err((start, &text[start..], "two characters per byte".into()));
        };
        let lo = match nibble(second) {
            Some(n) => n,
            None if second.is_ascii_whitespace() => {
                return Err((start, &text[start..i + 1], "two characters per byte".into()))
            }
            None => {
                return Err((
                    i + 1,
                    &text[i + 1..digit_end(i + 1)],
                    "a hex digit or `?` (wildcard nibble)".into(),
                ))
            }
        };
        i += 2;
        let mut mask = hi.map_or(0, |_| 0xf0) | lo.map_or(0, |_| 0x0f);
        let value = (hi.unwrap_or(0) << 4) | lo.unwrap_or(0);
        if b.get(i) == Some(&b'&') {
            if mask != 0xff {
                return Err((
                    start,
                    &text[start..i + 1],
                    "two hex digits before `&`".into(),
                ));
            }
            let m = text
                .get(i + 1..i + 3)
                .filter(|m| m.bytes().all(|c| c.is_ascii_hexdigit()));
            match m.and_then(|m| u8::from_str_radix(m, 16).ok()) {
                Some(m) => mask = m,
                None => {
                    let end = (i + 3).min(text.len());
                    let found = text.get(i..end).unwrap_or(&text[i..]);
                    return Err((i, found, "a two-digit hex mask after `&`".into()));
                }
            }
            i += 3;
        }
        if let Some(&c) = b.get(i) {
            if !c.is_ascii_whitespace() && c != b'?' && !c.is_ascii_hexdigit() {
                return Err((i, &text[i..digit_end(i)], "a space or the next byte".into()));
            }
        }
        out.push(MaskedByte::new(value, mask));
    }
    Ok(out)
}

const KEYS: &str = "a key (protocol, app, transport, ports, priority, encrypted, c2s, s2c, \
either, both, size, packets, first-payload, client-port, support, source, precision, true-positives, \
false-positives, note, argus-bare, hostname, alpn, ja4) or `end`";

fn statement(
    b: &mut Block,
    ctx: &Ctx<'_>,
    tokens: &[Token<'_>],
    budget: &mut Budget,
) -> Result<(), SignatureError> {
    let line = ctx.line;
    let key_tok = &tokens[0];
    let Some(key) = key_tok.word() else {
        return Err(ctx.error(key_tok.start, key_tok.raw, KEYS));
    };
    b.app.note(ctx, key_tok);
    if matches!(key, "hostname" | "alpn" | "ja4") {
        return apps::statement(&mut b.app, ctx, tokens, budget);
    }
    let fail = |(at, found, expected): Fail<'_>| ctx.error(at, found, expected);
    let end_of_line = line.trim_end().len();
    // The value tokens after the key, checked for count.
    let args = |min: usize, max: usize, what: &str| -> Result<&[Token<'_>], SignatureError> {
        let rest = &tokens[1..];
        if rest.len() < min {
            return Err(ctx.error(end_of_line, "", format!("{what} after `{key}`")));
        }
        if rest.len() > max {
            let extra = &rest[max];
            return Err(ctx.error(extra.start, extra.raw, format!("end of line after {what}")));
        }
        Ok(rest)
    };
    let once = |b: &mut Block, name: &'static str| {
        if b.seen.contains(&name) {
            Err(ctx.error(
                key_tok.start,
                key_tok.raw,
                format!("at most one `{name}` line per rule"),
            ))
        } else {
            b.seen.push(name);
            Ok(())
        }
    };
    let number = |t: &Token<'_>, what: &str| -> Result<u64, SignatureError> {
        t.word()
            .and_then(|w| w.parse::<u64>().ok())
            .ok_or_else(|| ctx.error(t.start, t.raw, what.to_string()))
    };
    let sig = &mut b.sig;
    match key {
        "protocol" | "app" | "source" | "note" => {
            let name: &'static str = match key {
                "protocol" => "protocol",
                "app" => "app",
                "source" => "source",
                _ => "note",
            };
            let v = args(1, 1, "a name or a quoted string")?;
            let text = v[0].text(line).map_err(fail)?;
            once(b, name)?;
            let sig = &mut b.sig;
            match name {
                "protocol" => sig.protocol = text,
                "app" => sig.app = Some(text),
                "source" => sig.provenance.source = Some(text),
                _ => sig.provenance.note = Some(text),
            }
        }
        "transport" => {
            let v = args(1, 1, "`tcp`, `udp`, `any` or an IP protocol number")?;
            let t = match v[0].word() {
                Some("tcp") => Transport::Tcp,
                Some("udp") => Transport::Udp,
                Some("any") => Transport::Any,
                Some(w) if w.parse::<u8>().is_ok() => {
                    Transport::from_number(w.parse().unwrap_or(0))
                }
                _ => {
                    return Err(ctx.error(
                        v[0].start,
                        v[0].raw,
                        "`tcp`, `udp`, `any` or an IP protocol number (0-255)",
                    ))
                }
            };
            once(b, "transport")?;
            b.sig.transport = t;
        }
        "ports" => {
            let v = args(
                1,
                usize::MAX,
                "port numbers or ranges (`80, 8000-8099`) or `any`",
            )?;
            let mut ranges = Vec::new();
            if !(v.len() == 1 && v[0].word() == Some("any")) {
                for t in v {
                    let Some(w) = t.word() else {
                        return Err(ctx.error(t.start, t.raw, "a port or a port range"));
                    };
                    let mut off = 0;
                    for seg in w.split(',') {
                        let at = t.start + off;
                        off += seg.len() + 1;
                        if seg.is_empty() {
                            continue;
                        }
                        let bad = || ctx.error(at, seg, "a port (0-65535) or a range `LOW-HIGH`");
                        let r = match seg.split_once('-') {
                            None => PortRange::single(seg.parse().map_err(|_| bad())?),
                            Some((a, z)) => PortRange {
                                start: a.parse().map_err(|_| bad())?,
                                end: z.parse().map_err(|_| bad())?,
                            },
                        };
                        if r.start > r.end {
                            return Err(ctx.error(
                                at,
                                seg,
                                "a range whose low port is not above its high port",
                            ));
                        }
                        ranges.push(r);
                    }
                }
                if ranges.is_empty() {
                    return Err(ctx.error(v[0].start, v[0].raw, "at least one port"));
                }
            }
            once(b, "ports")?;
            b.sig.ports = PortSet { ranges };
        }
        "priority" => {
            let v = args(1, 1, "an integer")?;
            let p = v[0]
                .word()
                .and_then(|w| w.parse::<i32>().ok())
                .ok_or_else(|| ctx.error(v[0].start, v[0].raw, "an integer priority"))?;
            once(b, "priority")?;
            b.sig.priority = p;
        }
        "support" | "true-positives" | "false-positives" => {
            let v = args(1, 1, "a count")?;
            let n = number(&v[0], "a count (a non-negative integer)")?;
            let name: &'static str = match key {
                "support" => "support",
                "true-positives" => "true-positives",
                _ => "false-positives",
            };
            once(b, name)?;
            let sig = &mut b.sig;
            match name {
                "support" => sig.support = n,
                "true-positives" => sig.provenance.true_positives = Some(n),
                _ => sig.provenance.false_positives = Some(n),
            }
        }
        "precision" => {
            let v = args(1, 1, "a number from 0 to 1")?;
            let p = v[0]
                .word()
                .and_then(|w| w.parse::<f64>().ok())
                .filter(|p| p.is_finite() && (0.0..=1.0).contains(p))
                .ok_or_else(|| ctx.error(v[0].start, v[0].raw, "a precision from 0 to 1"))?;
            once(b, "precision")?;
            b.sig.provenance.precision = Some(p);
        }
        "encrypted" => {
            args(0, 0, "nothing")?;
            once(b, "encrypted")?;
            b.sig.encrypted = true;
        }
        "argus-bare" => {
            let v = args(1, 2, "`src` and/or `dst`")?;
            let mut q = super::StdQuoting::default();
            for t in v {
                match t.word() {
                    Some("src") if !q.bare_src => q.bare_src = true,
                    Some("dst") if !q.bare_dst => q.bare_dst = true,
                    _ => return Err(ctx.error(t.start, t.raw, "`src` or `dst`, each once")),
                }
            }
            once(b, "argus-bare")?;
            b.sig.std_quoting = q;
        }
        "size" => {
            let v = args(2, 2, "a side (`c2s` or `s2c`) and a size range")?;
            let side =
                side(&v[0]).ok_or_else(|| ctx.error(v[0].start, v[0].raw, "`c2s` or `s2c`"))?;
            let range = range(&v[1]).ok_or_else(|| ctx.error(v[1].start, v[1].raw, RANGE))?;
            condition(ctx, key_tok, budget)?;
            sig.features.push(Feature::FirstPayloadSize { side, range });
        }
        "packets" => {
            let v = args(2, 2, "`c2s`, `s2c` or `total` and a count range")?;
            let side =
                match v[0].word() {
                    Some("total") => None,
                    _ => Some(side(&v[0]).ok_or_else(|| {
                        ctx.error(v[0].start, v[0].raw, "`c2s`, `s2c` or `total`")
                    })?),
                };
            let range = range(&v[1]).ok_or_else(|| ctx.error(v[1].start, v[1].raw, RANGE))?;
            condition(ctx, key_tok, budget)?;
            sig.features.push(Feature::Packets { side, range });
        }
        "first-payload" => {
            let v = args(1, 1, "a side (`c2s` or `s2c`)")?;
            let side =
                side(&v[0]).ok_or_else(|| ctx.error(v[0].start, v[0].raw, "`c2s` or `s2c`"))?;
            condition(ctx, key_tok, budget)?;
            sig.features.push(Feature::FirstPayloadFrom(side));
        }
        "client-port" => {
            let v = args(1, 1, "a port or port range")?;
            let (lo, hi) = port_range(&v[0])
                .ok_or_else(|| ctx.error(v[0].start, v[0].raw, "a port or LOW-HIGH (0-65535)"))?;
            condition(ctx, key_tok, budget)?;
            sig.features.push(Feature::ClientPort { lo, hi });
        }
        _ => match direction(key) {
            Some(direction) => {
                let kind = pattern(ctx, tokens, budget)?;
                condition(ctx, key_tok, budget)?;
                sig.patterns.push(Pattern { direction, kind });
            }
            None => return Err(ctx.error(key_tok.start, key_tok.raw, KEYS)),
        },
    }
    Ok(())
}

const RANGE: &str = "a range: `N`, `LOW-HIGH` or `LOW-`";

/// Counts one more pattern or feature of the set, refusing it past the limit.
fn condition(ctx: &Ctx<'_>, key: &Token<'_>, budget: &mut Budget) -> Result<(), SignatureError> {
    budget
        .add_condition()
        .map_err(|e| ctx.error(key.start, key.raw, e.to_string()))
}

fn side(t: &Token<'_>) -> Option<Side> {
    match t.word()? {
        "c2s" | "initiator" | "src" => Some(Side::Initiator),
        "s2c" | "responder" | "dst" => Some(Side::Responder),
        _ => None,
    }
}

fn direction(w: &str) -> Option<Direction> {
    match w {
        "c2s" | "initiator" | "src" => Some(Direction::Initiator),
        "s2c" | "responder" | "dst" => Some(Direction::Responder),
        "either" => Some(Direction::Either),
        "both" => Some(Direction::Both),
        _ => None,
    }
}

fn range(t: &Token<'_>) -> Option<ValueRange> {
    let w = t.word()?;
    match w.split_once('-') {
        None => {
            let n = w.parse().ok()?;
            Some(ValueRange {
                min: n,
                max: Some(n),
            })
        }
        Some((a, "")) => Some(ValueRange {
            min: a.parse().ok()?,
            max: None,
        }),
        Some((a, z)) => {
            let (min, max) = (a.parse().ok()?, z.parse().ok()?);
            (min <= max).then_some(ValueRange {
                min,
                max: Some(max),
            })
        }
    }
}

/// A port, or `LOW-HIGH` with both ends given, within 0-65535.
fn port_range(t: &Token<'_>) -> Option<(u16, u16)> {
    let r = range(t)?;
    let lo = u16::try_from(r.min).ok()?;
    let hi = u16::try_from(r.max?).ok()?;
    Some((lo, hi))
}

/// `DIR [at N | within N] [nocase] ("literal" | hex "..." | regex "...")`.
fn pattern(
    ctx: &Ctx<'_>,
    tokens: &[Token<'_>],
    budget: &mut Budget,
) -> Result<PatternKind, SignatureError> {
    let line = ctx.line;
    let mut i = 1;
    let mut position = Position::Anywhere;
    let mut position_tok = None;
    if let Some(w @ ("at" | "within")) = tokens.get(i).and_then(Token::word) {
        let Some(t) = tokens.get(i + 1) else {
            return Err(ctx.error(line.trim_end().len(), "", format!("an offset after `{w}`")));
        };
        let n = t
            .word()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| ctx.error(t.start, t.raw, format!("a byte offset after `{w}`")))?;
        position = if w == "at" {
            Position::At(n)
        } else {
            Position::Within(n)
        };
        position_tok = Some(&tokens[i]);
        i += 2;
    }
    let mut nocase_tok = None;
    if tokens.get(i).and_then(Token::word) == Some("nocase") {
        nocase_tok = Some(&tokens[i]);
        i += 1;
    }
    const WHAT: &str = "a quoted literal, `hex \"...\"` or `regex \"...\"`";
    let Some(t) = tokens.get(i) else {
        return Err(ctx.error(line.trim_end().len(), "", WHAT));
    };
    let kind = match t.word() {
        Some(w @ ("hex" | "regex")) => {
            let Some(s) = tokens.get(i + 1) else {
                return Err(ctx.error(
                    line.trim_end().len(),
                    "",
                    format!("a quoted string after `{w}`"),
                ));
            };
            let Some((body, text)) = s.verbatim(line) else {
                return Err(ctx.error(s.start, s.raw, format!("a quoted string after `{w}`")));
            };
            if let Some(n) = nocase_tok {
                return Err(ctx.error(
                    n.start,
                    "nocase",
                    "`nocase` only before a quoted literal (use `(?i)` in a regex)",
                ));
            }
            i += 2;
            if w == "hex" {
                let offset = match position {
                    Position::At(n) => n,
                    _ => {
                        let (at, found) =
                            position_tok.map_or((t.start, t.raw), |p| (p.start, p.raw));
                        return Err(ctx.error(
                            at,
                            found,
                            "`at OFFSET` before `hex` (masked bytes sit at a fixed offset)",
                        ));
                    }
                };
                let bytes = parse_hex_bytes(text)
                    .map_err(|(at, found, expected)| ctx.error(body + at, found, expected))?;
                if bytes.len() > limits::MAX_MASKED_BYTES {
                    return Err(ctx.error(
                        s.start,
                        s.raw,
                        format!(
                            "masked bytes of at most {} bytes (limit MAX_MASKED_BYTES); these are {} bytes",
                            limits::MAX_MASKED_BYTES,
                            bytes.len()
                        ),
                    ));
                }
                budget
                    .add_pattern_bytes(bytes.len())
                    .map_err(|e| ctx.error(s.start, s.raw, e.to_string()))?;
                PatternKind::Masked { offset, bytes }
            } else {
                if let Some((c, ch)) = text.char_indices().find(|(_, c)| c.is_control()) {
                    return Err(ctx.error(
                        body + c,
                        &ch.to_string(),
                        "no raw control characters in a regex (write `\\t`, `\\n`, `\\xHH`)",
                    ));
                }
                check_regex(ctx, s, body, text, budget)?;
                PatternKind::Regex {
                    source: text.to_string(),
                    position,
                }
            }
        }
        Some(_) => return Err(ctx.error(t.start, t.raw, WHAT)),
        None => {
            let bytes = t
                .bytes(line)
                .unwrap_or_else(|| Ok(Vec::new()))
                .map_err(|(at, found, expected)| ctx.error(at, found, expected))?;
            if bytes.is_empty() {
                return Err(ctx.error(t.start, t.raw, "a non-empty literal"));
            }
            if bytes.len() > limits::MAX_LITERAL_BYTES {
                return Err(ctx.error(
                    t.start,
                    t.raw,
                    format!(
                        "a literal of at most {} bytes (limit MAX_LITERAL_BYTES); this one has {} bytes",
                        limits::MAX_LITERAL_BYTES,
                        bytes.len()
                    ),
                ));
            }
            budget
                .add_pattern_bytes(bytes.len())
                .map_err(|e| ctx.error(t.start, t.raw, e.to_string()))?;
            i += 1;
            PatternKind::Literal {
                bytes,
                nocase: nocase_tok.is_some(),
                position,
            }
        }
    };
    if let Some(extra) = tokens.get(i) {
        return Err(ctx.error(extra.start, extra.raw, "end of line after the pattern"));
    }
    Ok(kind)
}

/// Checks that the regex `text` (the body of string token `tok`, at byte
/// `body` of the line) compiles within the limits, and counts its compiled
/// size. A problem the regex parser places is reported at that character.
pub(super) fn check_regex(
    ctx: &Ctx<'_>,
    tok: &Token<'_>,
    body: usize,
    text: &str,
    budget: &mut Budget,
) -> Result<(), SignatureError> {
    if text.len() > limits::MAX_REGEX_BYTES {
        return Err(ctx.error(
            tok.start,
            tok.raw,
            format!(
                "a regex of at most {} bytes (limit MAX_REGEX_BYTES); this one has {} bytes",
                limits::MAX_REGEX_BYTES,
                text.len()
            ),
        ));
    }
    if budget.regexes_spent() || !budget.checks_regexes() {
        // The set is refused already, and compiling more regexes would
        // only cost time; or the text is built in, checked by the tests.
        return Ok(());
    }
    match compile_regex(text) {
        Ok(re) => budget
            .add_regex_bytes(re.memory_usage())
            .map_err(|e| ctx.error(tok.start, tok.raw, e.to_string())),
        Err(e) => Err(match e.offset().filter(|&o| o <= text.len()) {
            Some(at) => {
                let end = (at + e.span_len().unwrap_or(0)).min(text.len());
                let end = if end > at {
                    end
                } else {
                    text[at..].chars().next().map_or(at, |c| at + c.len_utf8())
                };
                let found = text.get(at..end).unwrap_or("");
                ctx.error(body + at, found, format!("a valid regex: {}", e.reason()))
            }
            None => ctx.error(tok.start, tok.raw, format!("a valid regex: {}", e.reason())),
        }),
    }
}

/// Writes a signature set in the extended format. Every model reads back
/// equal (locations aside) with [`parse_extended`].
///
/// ```
/// use dpi_core::signature::*;
///
/// let mut sig = Signature::new("HTTP");
/// sig.id = Some("http-get".into());
/// sig.transport = Transport::Tcp;
/// sig.ports = PortSet { ranges: vec![PortRange::single(80), PortRange { start: 8000, end: 8099 }] };
/// sig.patterns.push(Pattern::literal_at(Direction::Initiator, 0, b"GET "));
/// sig.features.push(Feature::FirstPayloadFrom(Side::Initiator));
/// sig.provenance.source = Some("hand".into());
/// let set = SignatureSet { signatures: vec![sig], ..Default::default() };
/// let text = to_extended(&set);
/// assert_eq!(text, "rule http-get\n  protocol HTTP\n  transport tcp\n  ports 80, 8000-8099\n  \
///                   c2s at 0 \"GET \"\n  first-payload c2s\n  source hand\nend\n");
/// let mut back = parse_extended(&text, "x.rules").unwrap();
/// back.strip_locations();
/// assert_eq!(back, set);
/// ```
pub fn to_extended(set: &SignatureSet) -> String {
    let mut out = String::new();
    for sig in &set.signatures {
        for c in &sig.comments {
            write_comment(&mut out, c);
        }
        write_rule(&mut out, sig);
    }
    for rule in &set.apps {
        for c in &rule.comments {
            write_comment(&mut out, c);
        }
        apps::write_rule(&mut out, rule);
    }
    for c in &set.trailing_comments {
        write_comment(&mut out, c);
    }
    out
}

/// The line that opens a rule: `rule`, and its id when it has one.
pub(super) fn write_rule_line(out: &mut String, id: Option<&str>) {
    out.push_str("rule");
    if let Some(id) = id {
        out.push(' ');
        write_text(out, id);
    }
    out.push('\n');
}

/// The lines of a rule's transport, ports and priority, each left out
/// when it has its default value.
pub(super) fn write_scope(out: &mut String, transport: Transport, ports: &PortSet, priority: i32) {
    use std::fmt::Write as _;
    if transport != Transport::Any {
        let _ = writeln!(out, "  transport {transport}");
    }
    if !ports.is_any() {
        let list: Vec<String> = ports
            .ranges
            .iter()
            .map(|r| {
                if r.start == r.end {
                    r.start.to_string()
                } else {
                    format!("{}-{}", r.start, r.end)
                }
            })
            .collect();
        let _ = writeln!(out, "  ports {}", list.join(", "));
    }
    if priority != 0 {
        let _ = writeln!(out, "  priority {priority}");
    }
}

/// The lines of a rule's support and provenance, each left out when it
/// is not known.
pub(super) fn write_evidence(out: &mut String, support: u64, p: &Provenance) {
    use std::fmt::Write as _;
    if support != 0 {
        let _ = writeln!(out, "  support {support}");
    }
    if let Some(s) = &p.source {
        write_keyed(out, "source", s);
    }
    if let Some(x) = p.precision {
        let _ = writeln!(out, "  precision {x}");
    }
    if let Some(n) = p.true_positives {
        let _ = writeln!(out, "  true-positives {n}");
    }
    if let Some(n) = p.false_positives {
        let _ = writeln!(out, "  false-positives {n}");
    }
    if let Some(s) = &p.note {
        write_keyed(out, "note", s);
    }
}

/// A rule's line of `key` and its text `value`, quoted as it needs.
pub(super) fn write_keyed(out: &mut String, key: &str, value: &str) {
    out.push_str("  ");
    out.push_str(key);
    out.push(' ');
    write_text(out, value);
    out.push('\n');
}

fn write_rule(out: &mut String, sig: &Signature) {
    use std::fmt::Write as _;
    write_rule_line(out, sig.id.as_deref());
    write_keyed(out, "protocol", &sig.protocol);
    if let Some(app) = &sig.app {
        write_keyed(out, "app", app);
    }
    write_scope(out, sig.transport, &sig.ports, sig.priority);
    if sig.encrypted {
        out.push_str("  encrypted\n");
    }
    for p in &sig.patterns {
        out.push_str("  ");
        out.push_str(match p.direction {
            Direction::Initiator => "c2s",
            Direction::Responder => "s2c",
            Direction::Either => "either",
            Direction::Both => "both",
        });
        let position = match &p.kind {
            PatternKind::Masked { offset, .. } => Position::At(*offset),
            PatternKind::Literal { position, .. } | PatternKind::Regex { position, .. } => {
                *position
            }
        };
        match position {
            Position::Anywhere => {}
            Position::At(n) => {
                let _ = write!(out, " at {n}");
            }
            Position::Within(n) => {
                let _ = write!(out, " within {n}");
            }
        }
        match &p.kind {
            PatternKind::Masked { bytes, .. } => {
                out.push_str(" hex \"");
                for (i, b) in bytes.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    write_masked(out, *b);
                }
                out.push('"');
            }
            PatternKind::Literal { bytes, nocase, .. } => {
                if *nocase {
                    out.push_str(" nocase");
                }
                out.push(' ');
                write_quoted(out, bytes);
            }
            PatternKind::Regex { source, .. } => {
                out.push_str(" regex ");
                write_regex(out, source);
            }
        }
        out.push('\n');
    }
    for f in &sig.features {
        let side = |s: &Side| match s {
            Side::Initiator => "c2s",
            Side::Responder => "s2c",
        };
        let _ = match f {
            Feature::FirstPayloadSize { side: s, range } => {
                writeln!(out, "  size {} {}", side(s), fmt_range(range))
            }
            Feature::Packets { side: s, range } => writeln!(
                out,
                "  packets {} {}",
                s.as_ref().map_or("total", side),
                fmt_range(range)
            ),
            Feature::FirstPayloadFrom(s) => writeln!(out, "  first-payload {}", side(s)),
            Feature::ClientPort { lo, hi } if lo == hi => writeln!(out, "  client-port {lo}"),
            Feature::ClientPort { lo, hi } => writeln!(out, "  client-port {lo}-{hi}"),
        };
    }
    write_evidence(out, sig.support, &sig.provenance);
    match (sig.std_quoting.bare_src, sig.std_quoting.bare_dst) {
        (false, false) => {}
        (true, false) => out.push_str("  argus-bare src\n"),
        (false, true) => out.push_str("  argus-bare dst\n"),
        (true, true) => out.push_str("  argus-bare src dst\n"),
    }
    out.push_str("end\n");
}

fn fmt_range(r: &ValueRange) -> String {
    match r.max {
        Some(m) if m == r.min => m.to_string(),
        Some(m) => format!("{}-{}", r.min, m),
        None => format!("{}-", r.min),
    }
}

fn write_masked(out: &mut String, b: MaskedByte) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let hi = HEX[usize::from(b.value >> 4)] as char;
    let lo = HEX[usize::from(b.value & 0x0f)] as char;
    match b.mask {
        0xff => {
            out.push(hi);
            out.push(lo);
        }
        0x00 => out.push_str("??"),
        0xf0 => {
            out.push(hi);
            out.push('?');
        }
        0x0f => {
            out.push('?');
            out.push(lo);
        }
        m => {
            out.push(hi);
            out.push(lo);
            out.push('&');
            out.push(HEX[usize::from(m >> 4)] as char);
            out.push(HEX[usize::from(m & 0x0f)] as char);
        }
    }
}

/// A word, if the text reads back as that word; a quoted string otherwise.
pub(super) fn write_text(out: &mut String, s: &str) {
    let plain = !s.is_empty()
        && !s.starts_with("r#")
        && !s.starts_with("r\"")
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"');
    if plain {
        out.push_str(s);
    } else {
        write_quoted(out, s.as_bytes());
    }
}

fn write_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            0x80.. => {
                // Keep valid UTF-8 characters readable; escape stray bytes.
                let len = match b {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => 1,
                };
                match bytes
                    .get(i..i + len)
                    .and_then(|s| std::str::from_utf8(s).ok())
                {
                    Some(s) if len > 1 => {
                        out.push_str(s);
                        i += len;
                        continue;
                    }
                    _ => out.push_str(&format!("\\x{b:02X}")),
                }
            }
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
        i += 1;
    }
    out.push('"');
}

/// Regex sources are kept verbatim: a plain string when it reads back
/// unchanged, a raw string when it holds `"`, with control characters
/// replaced by their regex escapes (same meaning, different text).
pub(super) fn write_regex(out: &mut String, source: &str) {
    let mut s = String::with_capacity(source.len());
    for c in source.chars() {
        match c {
            '\n' => s.push_str(r"\n"),
            '\r' => s.push_str(r"\r"),
            '\t' => s.push_str(r"\t"),
            c if c.is_control() => s.push_str(&format!("\\x{{{:X}}}", u32::from(c))),
            c => s.push(c),
        }
    }
    let trailing_backslashes = s.chars().rev().take_while(|&c| c == '\\').count();
    if !s.contains('"') && trailing_backslashes % 2 == 0 {
        out.push('"');
        out.push_str(&s);
        out.push('"');
        return;
    }
    let mut hashes = 1;
    while s.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let h = "#".repeat(hashes);
    out.push_str(&format!("r{h}\"{s}\"{h}"));
}

#[cfg(test)]
mod tests {
    use super::super::strategies;
    use super::*;
    use proptest::prelude::*;

    fn parse_one(body: &str) -> Signature {
        let text = format!("rule t\n  protocol P\n{body}\nend\n");
        let mut set = parse_extended(&text, "t.rules").unwrap_or_else(|e| panic!("{e}"));
        set.signatures.remove(0)
    }

    #[test]
    fn statements_table() {
        let x = MaskedByte::exact;
        type Check = Box<dyn Fn(&Signature) -> bool>;
        let cases: Vec<(&str, Check)> = vec![
            (
                "  app Google",
                Box::new(|s| s.app.as_deref() == Some("Google")),
            ),
            (
                "  transport udp",
                Box::new(|s| s.transport == Transport::Udp),
            ),
            (
                "  transport 132",
                Box::new(|s| s.transport == Transport::Other(132)),
            ),
            ("  transport 6", Box::new(|s| s.transport == Transport::Tcp)),
            (
                "  ports 80,443 8000-8099",
                Box::new(|s| {
                    s.ports.ranges
                        == vec![
                            PortRange::single(80),
                            PortRange::single(443),
                            PortRange {
                                start: 8000,
                                end: 8099,
                            },
                        ]
                }),
            ),
            ("  ports any", Box::new(|s| s.ports.is_any())),
            ("  priority -3", Box::new(|s| s.priority == -3)),
            ("  encrypted", Box::new(|s| s.encrypted)),
            ("  support 77", Box::new(|s| s.support == 77)),
            (
                "  source \"trained:ndpi\"",
                Box::new(|s| s.provenance.source.as_deref() == Some("trained:ndpi")),
            ),
            (
                "  precision 0.25",
                Box::new(|s| s.provenance.precision == Some(0.25)),
            ),
            (
                "  true-positives 9",
                Box::new(|s| s.provenance.true_positives == Some(9)),
            ),
            (
                "  false-positives 1",
                Box::new(|s| s.provenance.false_positives == Some(1)),
            ),
            (
                "  note \"a\\tb\"",
                Box::new(|s| s.provenance.note.as_deref() == Some("a\tb")),
            ),
            (
                "  argus-bare dst",
                Box::new(|s| s.std_quoting.bare_dst && !s.std_quoting.bare_src),
            ),
            (
                "  c2s at 2 hex \"01 0? ?F ?? 80&C0\"",
                Box::new(move |s| {
                    s.patterns[0]
                        == Pattern::masked(
                            Direction::Initiator,
                            2,
                            vec![
                                x(1),
                                MaskedByte::new(0, 0xf0),
                                MaskedByte::new(0x0f, 0x0f),
                                MaskedByte::any(),
                                MaskedByte::new(0x80, 0xc0),
                            ],
                        )
                }),
            ),
            (
                "  s2c at 0 hex \"485454\"",
                Box::new(move |s| {
                    s.patterns[0]
                        == Pattern::masked(Direction::Responder, 0, vec![x(0x48), x(0x54), x(0x54)])
                }),
            ),
            (
                "  either within 64 nocase \"host:\\x00\\r\\n\"",
                Box::new(|s| {
                    s.patterns[0]
                        == Pattern {
                            direction: Direction::Either,
                            kind: PatternKind::Literal {
                                bytes: b"host:\x00\r\n".to_vec(),
                                nocase: true,
                                position: Position::Within(64),
                            },
                        }
                }),
            ),
            (
                "  both \"\u{e9}\"",
                Box::new(|s| {
                    matches!(&s.patterns[0].kind, PatternKind::Literal { bytes, position: Position::Anywhere, nocase: false } if bytes == "\u{e9}".as_bytes())
                        && s.patterns[0].direction == Direction::Both
                }),
            ),
            (
                "  c2s at 4 regex \"\\d+\\\"\"",
                Box::new(|s| {
                    s.patterns[0].kind
                        == PatternKind::Regex {
                            source: r#"\d+\""#.into(),
                            position: Position::At(4),
                        }
                }),
            ),
            (
                "  c2s regex r#\"say \"hi\"\"#",
                Box::new(
                    |s| matches!(&s.patterns[0].kind, PatternKind::Regex { source, .. } if source == r#"say "hi""#),
                ),
            ),
            (
                "  size c2s 10-200",
                Box::new(|s| {
                    s.features[0]
                        == Feature::FirstPayloadSize {
                            side: Side::Initiator,
                            range: ValueRange {
                                min: 10,
                                max: Some(200),
                            },
                        }
                }),
            ),
            (
                "  packets total 3-",
                Box::new(|s| {
                    s.features[0]
                        == Feature::Packets {
                            side: None,
                            range: ValueRange { min: 3, max: None },
                        }
                }),
            ),
            (
                "  packets s2c 0",
                Box::new(|s| {
                    s.features[0]
                        == Feature::Packets {
                            side: Some(Side::Responder),
                            range: ValueRange {
                                min: 0,
                                max: Some(0),
                            },
                        }
                }),
            ),
            (
                "  first-payload s2c",
                Box::new(|s| s.features[0] == Feature::FirstPayloadFrom(Side::Responder)),
            ),
            (
                "  client-port 5355",
                Box::new(|s| s.features[0] == Feature::ClientPort { lo: 5355, hi: 5355 }),
            ),
            (
                "  client-port 0-1023",
                Box::new(|s| s.features[0] == Feature::ClientPort { lo: 0, hi: 1023 }),
            ),
        ];
        for (line, check) in cases {
            let sig = parse_one(line);
            assert!(check(&sig), "{line}: {sig:?}");
            let set = SignatureSet {
                signatures: vec![sig],
                ..SignatureSet::default()
            };
            let mut back = parse_extended(&to_extended(&set), "t.rules").unwrap();
            let mut orig = set.clone();
            back.strip_locations();
            orig.strip_locations();
            assert_eq!(back, orig, "{line}");
        }
    }

    #[test]
    fn comments_blank_lines_and_layout() {
        let text = "# head\n\nrule a\n  # inside\n\n  protocol A\nend\n\n! tail\n";
        let set = parse_extended(text, "t.rules").unwrap();
        assert_eq!(set.signatures[0].comments, vec!["# head", "", "# inside"]);
        assert_eq!(set.trailing_comments, vec!["", "! tail"]);
        assert_eq!(set.signatures[0].location.as_ref().map(|l| l.line), Some(3));
        let mut back = parse_extended(&to_extended(&set), "t.rules").unwrap();
        back.strip_locations();
        let mut orig = set;
        orig.strip_locations();
        assert_eq!(back, orig);
    }

    #[test]
    fn malformed_lines_name_line_and_column() {
        // (statement inside a rule, column, found, part of the expectation)
        let cases: &[(&str, u32, &str, &str)] = &[
            ("  prio 3", 3, "prio", "a key"),
            ("  c2s at 0 hex \"4G\"", 18, "G", "hex digit"),
            ("  c2s at 0 hex \"474\"", 19, "4", "two characters per byte"),
            ("  c2s hex \"47\"", 7, "hex", "`at OFFSET`"),
            ("  c2s within 8 hex \"47\"", 7, "within", "`at OFFSET`"),
            (
                "  c2s regex \"(ab\"",
                14,
                "(",
                "a valid regex: unclosed group",
            ),
            (
                "  c2s regex \"a{2,1}\"",
                15,
                "{2,1}",
                "invalid repetition count range",
            ),
            (
                "  c2s regex \"(?u)\\w{200}\"",
                13,
                "\"(?u)\\w{200}\"",
                "exceeds the limit",
            ),
            ("  c2s \"abc", 7, "\"abc", "unterminated"),
            ("  c2s \"a\\qb\"", 9, "\\q", "an escape"),
            ("  c2s \"a\\x4\"", 9, "\\x4", "two hex digits"),
            ("  c2s \"\"", 7, "\"\"", "non-empty"),
            ("  c2s nocase regex \"a\"", 7, "nocase", "`nocase` only"),
            ("  c2s at x \"a\"", 10, "x", "byte offset"),
            ("  c2s \"a\" extra", 11, "extra", "end of line"),
            ("  c2s", 6, "", "a quoted literal"),
            ("  ports 80,9x", 12, "9x", "a port"),
            ("  ports 90-80", 9, "90-80", "range"),
            ("  ports", 8, "", "port numbers"),
            ("  transport sctp", 13, "sctp", "`tcp`"),
            ("  priority high", 12, "high", "integer"),
            ("  precision 1.5", 13, "1.5", "from 0 to 1"),
            ("  support -1", 11, "-1", "count"),
            ("  size c2s 5-1", 12, "5-1", "range"),
            ("  size up 5", 8, "up", "`c2s` or `s2c`"),
            ("  packets c2s", 14, "", "`total`"),
            ("  client-port 70000", 15, "70000", "0-65535"),
            ("  client-port 1024-", 15, "1024-", "LOW-HIGH"),
            ("  client-port", 14, "", "a port"),
            ("  protocol Q", 3, "protocol", "at most one"),
            ("  encrypted yes", 13, "yes", "end of line"),
            ("  argus-bare src src", 18, "src", "each once"),
            ("  app \"\\xFF\"", 7, "\"\\xFF\"", "UTF-8"),
            ("  c2s r#\"abc\"", 7, "r#\"abc\"", "unterminated raw"),
            ("  c2s regex \"a\tb\"", 15, "\t", "control characters"),
        ];
        for (stmt, col, found, expected) in cases {
            let text = format!("# c\nrule t\n  protocol P\n{stmt}\nend\n");
            let errs = parse_extended(&text, "bad.rules").unwrap_err();
            assert_eq!(errs.len(), 1, "{stmt}: {errs}");
            let e = &errs.errors()[0];
            assert_eq!((e.source_name(), e.line()), ("bad.rules", 4), "{stmt}");
            assert_eq!(e.column(), *col, "{stmt}: {e}");
            assert_eq!(e.found(), *found, "{stmt}: {e}");
            assert!(e.expected().contains(expected), "{stmt}: {e}");
        }
    }

    #[test]
    fn block_structure_errors() {
        let cases: &[(&str, &[(u32, &str)])] = &[
            ("protocol A\n", &[(1, "`rule`")]),
            ("end\n", &[(1, "no rule is open")]),
            ("rule a\n  protocol A\n", &[(1, "`end` to close")]),
            ("rule a\n  app X\nend\n", &[(1, "`protocol` line")]),
            (
                "rule a\n  protocol A\nrule b\n  protocol B\nend\n",
                &[(3, "`end` to close the rule of line 1")],
            ),
            (
                "rule a b\n  protocol A\nend x\n",
                &[(1, "end of line"), (3, "end of line")],
            ),
            (
                "rule a\n  protocol A\n  bogus\n  c2s at 0 hex \"zz\"\nend\nrule\n  x\nend\n",
                &[
                    (3, "a key"),
                    (4, "hex digit"),
                    (7, "a key"),
                    (6, "`protocol` line"),
                ],
            ),
        ];
        for (text, want) in cases {
            let errs = parse_extended(text, "b.rules").unwrap_err();
            let got: Vec<(u32, String)> = errs
                .iter()
                .map(|e| (e.line(), e.expected().to_string()))
                .collect();
            assert_eq!(got.len(), want.len(), "{text}: {errs}");
            for ((gl, ge), (wl, we)) in got.iter().zip(want.iter()) {
                assert_eq!(gl, wl, "{text}: {errs}");
                assert!(ge.contains(we), "{text}: {ge} !~ {we}");
            }
        }
    }

    #[test]
    fn writer_forms() {
        let mut s = Signature::new("two words");
        s.id = Some(String::new());
        s.app = Some("r#x".into());
        s.patterns.push(Pattern::regex(Direction::Both, "a\"b\"#c"));
        s.patterns.push(Pattern::regex(Direction::Both, "x\ny"));
        s.patterns.push(Pattern::literal_at(
            Direction::Initiator,
            3,
            b"\x00\xff\"\\\xc3\xa9",
        ));
        s.patterns.push(Pattern::masked(
            Direction::Responder,
            1,
            vec![MaskedByte::new(0x12, 0x3c)],
        ));
        let text = to_extended(&SignatureSet {
            signatures: vec![s],
            ..SignatureSet::default()
        });
        assert!(text.contains("rule \"\"\n"), "{text}");
        assert!(text.contains("protocol \"two words\"\n"), "{text}");
        assert!(text.contains("app \"r#x\"\n"), "{text}");
        assert!(text.contains("both regex r##\"a\"b\"#c\"##\n"), "{text}");
        assert!(text.contains("both regex \"x\\ny\"\n"), "{text}");
        assert!(
            text.contains("c2s at 3 \"\\0\\xFF\\\"\\\\\u{e9}\"\n"),
            "{text}"
        );
        assert!(text.contains("s2c at 1 hex \"10&3C\"\n"), "{text}");
        let set = parse_extended(&text, "w.rules").unwrap();
        assert!(
            matches!(&set.signatures[0].patterns[0].kind, PatternKind::Regex { source, .. } if source == "a\"b\"#c")
        );
    }

    proptest! {
        #[test]
        fn any_model_round_trips(set in strategies::signature_set()) {
            let text = to_extended(&set);
            let mut back = parse_extended(&text, "p.rules").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            back.strip_locations();
            prop_assert_eq!(back, set, "{}", text);
        }

        #[test]
        fn parser_never_panics(text in "[ -~\n\u{e9}]{0,300}") {
            let _ = parse_extended(&text, "fuzz.rules");
        }

        #[test]
        fn parser_never_panics_in_rules(body in r#"[ a-z0-9"\\#r?&,\-.x]{0,60}"#) {
            let _ = parse_extended(&format!("rule a\nprotocol A\nc2s {body}\nend\n"), "fuzz.rules");
            let _ = parse_extended(&format!("rule a\nprotocol A\nc2s at 0 hex {body}\nend\n"), "fuzz.rules");
        }

        #[test]
        fn hex_round_trips(bytes in prop::collection::vec(strategies::masked_byte(), 0..40)) {
            let mut s = String::new();
            for b in &bytes {
                write_masked(&mut s, *b);
                s.push(' ');
            }
            prop_assert_eq!(parse_hex_bytes(&s).unwrap(), bytes);
        }
    }
}
