//! Importer of nDPI's custom-protocol file (`protos.txt`, given to
//! ndpiReader with `-p`) into the signature model.
//!
//! The lines it reads:
//!
//! ```text
//! # a comment
//! tcp:81,tcp:8181@HTTP                  port rules: one signature per transport
//! udp:5061-5062@SIP                     (a range of ports)
//! host:"netflix.com",host:"*.nflxvideo.net"@NetFlix   application rules (hostname suffix)
//! tcp:3000@ntop=400                     a protocol id after `=` is nDPI's own: left out
//! ```
//!
//! - `tcp:`/`udp:` items become one port rule per transport (`protocol
//!   NAME`, `transport tcp|udp`, `ports ...`, class port).
//! - `host:"NAME"` items become one application rule (`app NAME`,
//!   `hostname suffix ...`): a leading `*.` or `.` is dropped and the
//!   name matched at label boundaries (nDPI's own matcher may also match
//!   inside a label; dpi does not).
//! - What has no equivalent is reported, never silently dropped: `ip:` and
//!   `ipv6:` items (dpi has no address conditions), `nbpf:` filters, the
//!   `ip_risk_mask`, `host_risk_mask` and `trusted_issuer_dn` lines, and a
//!   host that is not a domain name (one label: nDPI matches it as a
//!   substring).
//! - Anything else is an error with its file, line and column, and the
//!   whole file is refused, as with the other signature formats.
//!
//! ```
//! use dpi_core::signature::{parse_ndpi_protos, HostMatch};
//!
//! let text = "tcp:81,tcp:8181,udp:81@HTTP\nhost:\"*.netflix.com\",host:\"nflxvideo.net\"@NetFlix\nip:1.2.3.4@X\n";
//! let import = parse_ndpi_protos(text, "protos.txt").unwrap();
//! assert_eq!(import.set.signatures.len(), 2); // HTTP over tcp, HTTP over udp
//! assert!(import.set.signatures[0].ports.contains(8181));
//! let app = &import.set.apps[0];
//! assert_eq!(app.app, "NetFlix");
//! assert_eq!(app.hostname, Some(HostMatch::Suffix(vec!["netflix.com".into(), "nflxvideo.net".into()])));
//! assert_eq!(import.skipped[0].line, 3); // ip rules are reported, not loaded
//! ```

use super::apps::check_domain;
use super::error::{SignatureError, SignatureErrors};
use super::{
    column_of, numbered_lines, AppRule, HostMatch, Location, PortRange, PortSet, Signature,
    SignatureSet, Transport,
};

/// The provenance source of imported rules.
pub const PROTOS_SOURCE: &str = "ndpi-protos";

/// What [`parse_ndpi_protos`] read: the rules, and what it could not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtosImport {
    /// Port rules (in `signatures`) and application rules (in `apps`), in
    /// line order.
    pub set: SignatureSet,
    /// Items or lines with no equivalent in dpi, in line order.
    pub skipped: Vec<SkippedItem>,
}

/// An item or line of `protos.txt` that dpi cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// The file (or source name) given to the importer.
    pub source: String,
    /// 1-based line.
    pub line: u32,
    /// The item as written (the whole line for a line kind dpi lacks).
    pub text: String,
    /// Why it was left out.
    pub reason: String,
}

impl std::fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: left out `{}`: {}",
            self.source, self.line, self.text, self.reason
        )
    }
}

/// Line kinds nDPI reads from the same file that are not protocol rules.
const OTHER_LINES: [&str; 3] = ["ip_risk_mask:", "host_risk_mask:", "trusted_issuer_dn:"];

/// Reads nDPI's `protos.txt` text; `source` names it in errors, locations
/// and the reports. Every bad line is reported; if there is any, nothing
/// is returned. `tcp:`/`udp:` items become port rules (one per
/// transport), `host:"NAME"` items application rules (`hostname suffix`,
/// matched at label boundaries); `ip:`, `ipv6:` and `nbpf:` items, the
/// risk-mask and trusted-issuer lines and one-label hosts have no
/// equivalent and are listed in [`ProtosImport::skipped`].
pub fn parse_ndpi_protos(text: &str, source: &str) -> Result<ProtosImport, SignatureErrors> {
    let mut out = ProtosImport {
        set: SignatureSet::new(),
        skipped: Vec::new(),
    };
    let mut errors = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for (number, line) in numbered_lines(text) {
        let t = line.trim();
        if t.is_empty() {
            pending.push(String::new());
            continue;
        }
        if t.starts_with('#') {
            pending.push(t.to_string());
            continue;
        }
        let start = line.len() - line.trim_start().len();
        let err = |at: usize, found: &str, expected: &str| {
            SignatureError::syntax(
                source,
                number,
                column_of(line, at),
                line,
                found,
                expected.to_string(),
            )
        };
        if let Some(kind) = OTHER_LINES.iter().find(|k| t.starts_with(*k)) {
            out.skipped.push(SkippedItem {
                source: source.to_string(),
                line: number,
                text: t.to_string(),
                reason: format!(
                    "`{}` lines set nDPI's risks and trusted issuers, not protocols",
                    kind.trim_end_matches(':')
                ),
            });
            continue;
        }
        match parse_line(line, start) {
            Ok(parsed) => {
                let comments = std::mem::take(&mut pending);
                add_line(&mut out, parsed, comments, source, number, line);
            }
            Err((at, found, expected)) => errors.push(err(at, found, &expected)),
        }
    }
    out.set.trailing_comments = pending;
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(SignatureErrors::new(errors))
    }
}

/// One item of a line, with its byte offset in the line.
#[derive(Debug)]
enum Item<'a> {
    Ports(Transport, PortRange),
    Host(String),
    Skip(&'a str, String),
}

#[derive(Debug)]
struct Line<'a> {
    items: Vec<(usize, Item<'a>)>,
    name: String,
}

type Fail<'a> = (usize, &'a str, String);

/// Splits `line` (its content starting at byte `start`) into items and the
/// protocol name.
fn parse_line(line: &str, start: usize) -> Result<Line<'_>, Fail<'_>> {
    let bytes = line.as_bytes();
    let end = line.trim_end().len();
    // The `@` that ends the items: the last one outside quotes.
    let mut at_sign = None;
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate().take(end).skip(start) {
        match b {
            b'"' => quoted = !quoted,
            b'@' if !quoted => at_sign = Some(i),
            _ => {}
        }
    }
    if quoted {
        let open = line[start..end].find('"').map_or(start, |i| start + i);
        return Err((
            open,
            &line[open..end],
            "a closing `\"` (unterminated string)".into(),
        ));
    }
    let Some(at) = at_sign else {
        return Err((
            end,
            "",
            "`@NAME` after the items (`tcp:PORT`, `udp:PORT`, `host:\"NAME\"`, `ip:ADDRESS`)"
                .into(),
        ));
    };
    let name_text = line[at + 1..end].trim();
    let name_at = at + 1 + (line[at + 1..end].len() - line[at + 1..end].trim_start().len());
    let name = match name_text.split_once('=') {
        Some((n, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => n,
        Some(_) => {
            return Err((
                name_at,
                name_text,
                "a protocol name, optionally followed by `=ID` (digits)".into(),
            ))
        }
        None => name_text,
    };
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | ',' | '@' | ':'))
    {
        return Err((
            name_at,
            name_text,
            "a protocol name after `@` (one word)".into(),
        ));
    }
    let mut items = Vec::new();
    let mut i = start;
    while i < at {
        // One item: up to the next comma outside quotes.
        let mut j = i;
        let mut q = false;
        while j < at {
            match bytes[j] {
                b'"' => q = !q,
                b',' if !q => break,
                _ => {}
            }
            j += 1;
        }
        let raw = &line[i..j];
        let lead = raw.len() - raw.trim_start().len();
        let item = raw.trim();
        let item_at = i + lead;
        if item.is_empty() {
            return Err((
                item_at,
                raw,
                "an item (`tcp:PORT`, `host:\"NAME\"`, ...)".into(),
            ));
        }
        items.push((item_at, parse_item(item, item_at)?));
        i = j + 1;
    }
    if items.is_empty() {
        return Err((start, &line[start..end], "items before `@`".into()));
    }
    Ok(Line {
        items,
        name: name.to_string(),
    })
}

fn parse_item(item: &str, at: usize) -> Result<Item<'_>, Fail<'_>> {
    let Some((kind, value)) = item.split_once(':') else {
        return Err((
            at,
            item,
            "`KIND:VALUE` (tcp, udp, host, ip, ipv6, nbpf)".into(),
        ));
    };
    let value_at = at + kind.len() + 1;
    match kind.trim() {
        "tcp" | "udp" => {
            let t = if kind.trim() == "tcp" {
                Transport::Tcp
            } else {
                Transport::Udp
            };
            let v = value.trim();
            let bad = || {
                (
                    value_at,
                    value,
                    "a port (0-65535) or a range `LOW-HIGH`".to_string(),
                )
            };
            let r = match v.split_once('-') {
                None => PortRange::single(v.parse().map_err(|_| bad())?),
                Some((a, z)) => PortRange {
                    start: a.trim().parse().map_err(|_| bad())?,
                    end: z.trim().parse().map_err(|_| bad())?,
                },
            };
            if r.start > r.end {
                return Err((
                    value_at,
                    value,
                    "a range whose low port is not above its high port".into(),
                ));
            }
            Ok(Item::Ports(t, r))
        }
        "host" => {
            let v = value.trim();
            let Some(inner) = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .filter(|_| v.len() >= 2)
            else {
                return Err((
                    value_at,
                    value,
                    "a quoted host name: `host:\"NAME\"`".into(),
                ));
            };
            let name = inner.trim();
            let name = name
                .strip_prefix("*.")
                .or_else(|| name.strip_prefix('.'))
                .unwrap_or(name)
                .to_ascii_lowercase();
            if !name.contains('.') && check_domain(&name).is_ok() {
                return Ok(Item::Skip(
                    item,
                    "a host of one label (nDPI matches it as a substring; dpi matches host names at label boundaries)"
                        .into(),
                ));
            }
            match check_domain(&name) {
                Ok(()) => Ok(Item::Host(name)),
                Err(e) => Ok(Item::Skip(item, format!("not a domain name: expected {e}"))),
            }
        }
        "ip" | "ipv6" => Ok(Item::Skip(
            item,
            "IP address rules are not supported (dpi rules have no address conditions)".into(),
        )),
        "nbpf" => Ok(Item::Skip(
            item,
            "nBPF filters are not supported (dpi rules have no address conditions)".into(),
        )),
        _ => Err((
            at,
            kind,
            "`tcp`, `udp`, `host`, `ip`, `ipv6` or `nbpf`".into(),
        )),
    }
}

/// Turns one parsed line into rules (and skipped items).
fn add_line(
    out: &mut ProtosImport,
    parsed: Line<'_>,
    mut comments: Vec<String>,
    source: &str,
    number: u32,
    line: &str,
) {
    let location = Location {
        source: source.to_string(),
        line: number,
    };
    comments.push(format!("# {source}:{number}: {}", line.trim()));
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for (_, item) in parsed.items {
        match item {
            Item::Ports(Transport::Tcp, r) => tcp.push(r),
            Item::Ports(_, r) => udp.push(r),
            Item::Host(h) => {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
            Item::Skip(text, reason) => out.skipped.push(SkippedItem {
                source: source.to_string(),
                line: number,
                text: text.to_string(),
                reason,
            }),
        }
    }
    for (t, ranges, tag) in [(Transport::Tcp, tcp, "tcp"), (Transport::Udp, udp, "udp")] {
        if ranges.is_empty() {
            continue;
        }
        let mut sig = Signature::new(parsed.name.clone());
        sig.id = Some(format!("protos-{number}-{tag}"));
        sig.location = Some(location.clone());
        sig.comments = std::mem::take(&mut comments);
        sig.transport = t;
        sig.ports = PortSet { ranges };
        sig.provenance.source = Some(PROTOS_SOURCE.to_string());
        out.set.signatures.push(sig);
    }
    if !hosts.is_empty() {
        let mut rule = AppRule::new(parsed.name);
        rule.id = Some(format!("protos-{number}-host"));
        rule.location = Some(location);
        rule.comments = comments;
        rule.hostname = Some(HostMatch::Suffix(hosts));
        rule.provenance.source = Some(PROTOS_SOURCE.to_string());
        out.set.apps.push(rule);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_extended, to_extended};
    use super::*;
    use proptest::prelude::*;

    /// Found by the `ndpi_protos` fuzz target: a lone CR ends a line, so the
    /// error on the third line (`&`) names line 3 of a three-line text.
    #[test]
    fn lone_cr_counts_as_a_line_end() {
        let errors = parse_ndpi_protos("\r\u{1}\n&", "protos.txt").unwrap_err();
        let lines: Vec<u32> = errors.iter().map(|e| e.line()).collect();
        assert!(lines.iter().all(|&l| (1..=3).contains(&l)), "{lines:?}");
        assert!(lines.contains(&3), "{lines:?}");
    }

    #[test]
    fn lines_table() {
        let text = "\
# Format: <tcp|udp>:<port>,...@<proto>
tcp:81,tcp:8181@HTTP
udp:5061-5062@SIP
tcp:860,udp:860,tcp:3260,udp:3260@iSCSI
tcp:3000@ntop=400

nbpf:\"host 192.168.1.1 and port 80\"@HomeRouter
host:\"disneyplus.com\",host:\"*.disney-plus.net\",host:\"localhost\"@DisneyPlus
host:\"a@b.example\"@Odd
ip:213.75.170.11/32:443@CustomProtocol
ipv6:[3ffe:507::1]@V6
host_risk_mask:\".home\"=0\r
trusted_issuer_dn:\"CN=x, O=y\"
";
        let import = parse_ndpi_protos(text, "protos.txt").unwrap_or_else(|e| panic!("{e}"));
        type Row = (String, Transport, Vec<(u16, u16)>, u32);
        let sigs: Vec<Row> = import
            .set
            .signatures
            .iter()
            .map(|s| {
                (
                    s.protocol.clone(),
                    s.transport,
                    s.ports.ranges.iter().map(|r| (r.start, r.end)).collect(),
                    s.location.as_ref().map_or(0, |l| l.line),
                )
            })
            .collect();
        assert_eq!(
            sigs,
            vec![
                (
                    "HTTP".into(),
                    Transport::Tcp,
                    vec![(81, 81), (8181, 8181)],
                    2
                ),
                ("SIP".into(), Transport::Udp, vec![(5061, 5062)], 3),
                (
                    "iSCSI".into(),
                    Transport::Tcp,
                    vec![(860, 860), (3260, 3260)],
                    4
                ),
                (
                    "iSCSI".into(),
                    Transport::Udp,
                    vec![(860, 860), (3260, 3260)],
                    4
                ),
                ("ntop".into(), Transport::Tcp, vec![(3000, 3000)], 5),
            ]
        );
        assert_eq!(import.set.apps.len(), 1);
        let app = &import.set.apps[0];
        assert_eq!(app.app, "DisneyPlus");
        assert_eq!(
            app.hostname,
            Some(HostMatch::Suffix(vec![
                "disneyplus.com".into(),
                "disney-plus.net".into()
            ]))
        );
        let skipped: Vec<(u32, &str)> = import
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.split_whitespace().next().unwrap_or("")))
            .collect();
        assert_eq!(
            skipped,
            vec![
                (7, "nBPF"),
                (8, "a"),
                (9, "not"),
                (10, "IP"),
                (11, "IP"),
                (12, "`host_risk_mask`"),
                (13, "`trusted_issuer_dn`"),
            ]
        );
        assert!(import.skipped[0]
            .to_string()
            .starts_with("protos.txt:7: left out `nbpf:"));
        // The import is a signature set like any other: it writes and reads back.
        let written = to_extended(&import.set);
        let mut back =
            parse_extended(&written, "x.rules").unwrap_or_else(|e| panic!("{e}\n{written}"));
        let mut orig = import.set.clone();
        back.strip_locations();
        orig.strip_locations();
        assert_eq!(back, orig);
        assert!(
            written.contains("# protos.txt:2: tcp:81,tcp:8181@HTTP"),
            "{written}"
        );
    }

    #[test]
    fn bad_lines_name_line_and_column() {
        // (line, column, found, expectation)
        let cases: &[(&str, u32, &str, &str)] = &[
            ("tcp:81", 7, "", "`@NAME`"),
            ("tcp:81@", 8, "", "a protocol name"),
            ("tcp:81@two words", 8, "two words", "one word"),
            ("tcp:81@X=abc", 8, "X=abc", "`=ID`"),
            ("tcp:8x1@HTTP", 5, "8x1", "a port"),
            ("udp:90-80@X", 5, "90-80", "low port"),
            ("tcp:70000@X", 5, "70000", "a port"),
            ("sctp:9@X", 1, "sctp", "`tcp`, `udp`"),
            ("  tcp:1,,tcp:2@X", 9, "", "an item"),
            ("host:netflix.com@NetFlix", 6, "netflix.com", "quoted host"),
            (
                "host:\"netflix.com@NetFlix",
                6,
                "\"netflix.com@NetFlix",
                "unterminated",
            ),
            ("81@X", 1, "81", "`KIND:VALUE`"),
            ("@X", 1, "@X", "items before"),
        ];
        for (line, col, found, expected) in cases {
            let text = format!("# head\n{line}\n");
            let errs = parse_ndpi_protos(&text, "p.txt").unwrap_err();
            assert_eq!(errs.len(), 1, "{line}: {errs}");
            let e = &errs.errors()[0];
            assert_eq!((e.source_name(), e.line()), ("p.txt", 2), "{line}");
            assert_eq!(e.column(), *col, "{line}: {e}");
            assert_eq!(e.found(), *found, "{line}: {e}");
            assert!(e.expected().contains(expected), "{line}: {e}");
        }
        // Every bad line is reported, and nothing is loaded.
        let errs = parse_ndpi_protos("tcp:1@A\nx\ntcp:2@B\ny@\n", "p.txt").unwrap_err();
        assert_eq!(
            errs.iter().map(|e| e.line()).collect::<Vec<_>>(),
            vec![2, 4]
        );
    }

    /// A line of the file, as a model.
    #[derive(Debug, Clone)]
    enum ModelItem {
        Port(bool, u16, u16),
        Host(String),
        Ip(String),
    }

    fn model_item() -> impl Strategy<Value = ModelItem> {
        prop_oneof![
            (any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(tcp, a, b)| ModelItem::Port(
                tcp,
                a.min(b),
                a.max(b)
            )),
            super::super::strategies::domain().prop_map(ModelItem::Host),
            "[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?(:[0-9]{1,5})?".prop_map(ModelItem::Ip),
        ]
    }

    fn write_item(i: &ModelItem, star: bool) -> String {
        match i {
            ModelItem::Port(tcp, a, b) => {
                let t = if *tcp { "tcp" } else { "udp" };
                if a == b {
                    format!("{t}:{a}")
                } else {
                    format!("{t}:{a}-{b}")
                }
            }
            ModelItem::Host(h) if star => format!("host:\"*.{h}\""),
            ModelItem::Host(h) => format!("host:\"{h}\""),
            ModelItem::Ip(a) => format!("ip:{a}"),
        }
    }

    proptest! {
        #[test]
        fn written_lines_import_as_their_model(
            lines in prop::collection::vec(
                (prop::collection::vec(model_item(), 1..5), "[A-Za-z][A-Za-z0-9_]{0,12}", any::<bool>(), proptest::option::of(0u32..100_000)),
                0..8,
            )
        ) {
            let mut text = String::from("# generated\n");
            for (items, name, star, id) in &lines {
                let list: Vec<String> = items.iter().map(|i| write_item(i, *star)).collect();
                text.push_str(&list.join(","));
                text.push('@');
                text.push_str(name);
                if let Some(id) = id {
                    text.push_str(&format!("={id}"));
                }
                text.push('\n');
            }
            let import = parse_ndpi_protos(&text, "gen.txt").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let (mut sigs, mut apps, mut skipped) = (0usize, 0usize, 0usize);
            for (items, name, _, _) in &lines {
                let tcp: Vec<(u16, u16)> = items.iter().filter_map(|i| match i { ModelItem::Port(true, a, b) => Some((*a, *b)), _ => None }).collect();
                let udp: Vec<(u16, u16)> = items.iter().filter_map(|i| match i { ModelItem::Port(false, a, b) => Some((*a, *b)), _ => None }).collect();
                let mut hosts: Vec<String> = Vec::new();
                for i in items {
                    match i {
                        ModelItem::Host(h) if h.contains('.') => {
                            let h = h.to_ascii_lowercase();
                            if !hosts.contains(&h) { hosts.push(h); }
                        }
                        ModelItem::Host(_) | ModelItem::Ip(_) => skipped += 1,
                        ModelItem::Port(..) => {}
                    }
                }
                for ranges in [tcp, udp] {
                    if ranges.is_empty() { continue; }
                    let s = &import.set.signatures[sigs];
                    prop_assert_eq!(&s.protocol, name);
                    let got: Vec<(u16, u16)> = s.ports.ranges.iter().map(|r| (r.start, r.end)).collect();
                    prop_assert_eq!(got, ranges);
                    sigs += 1;
                }
                if !hosts.is_empty() {
                    let a = &import.set.apps[apps];
                    prop_assert_eq!(&a.app, name);
                    prop_assert_eq!(a.hostname.clone(), Some(HostMatch::Suffix(hosts)));
                    apps += 1;
                }
            }
            prop_assert_eq!(sigs, import.set.signatures.len());
            prop_assert_eq!(apps, import.set.apps.len());
            prop_assert_eq!(skipped, import.skipped.len());
            // What is imported writes and reads back.
            let written = to_extended(&import.set);
            let mut back = parse_extended(&written, "x.rules").map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
            let mut orig = import.set.clone();
            back.strip_locations();
            orig.strip_locations();
            prop_assert_eq!(back, orig);
        }

        #[test]
        fn importer_never_panics(text in "[ -~\t\r\n\u{e9}]{0,300}") {
            let _ = parse_ndpi_protos(&text, "fuzz.txt");
        }

        #[test]
        fn importer_never_panics_near_the_grammar(body in r#"[a-z0-9":@,*.\-/=\[\] ]{0,60}"#) {
            for prefix in ["tcp:", "udp:", "host:\"", "ip:", ""] {
                let _ = parse_ndpi_protos(&format!("{prefix}{body}\n"), "fuzz.txt");
            }
        }
    }
}
