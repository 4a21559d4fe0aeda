//! The protocol-name registry: libprotoident and argus names in nDPI's
//! spelling.
//!
//! The data file (`signatures/protocol-names.csv`, embedded as the
//! default) has `#` comment lines, a header `tool,name,ndpi,id` (or
//! `tool,name,ndpi` without ids), and one row per name:
//!
//! ```text
//! tool,name,ndpi,id
//! ndpi,TLS,TLS,91
//! lpi,HTTPS,TLS
//! lpi,No_Payload,-
//! argus,domain,DNS
//! ```
//!
//! `tool` is `ndpi`, `lpi` or `argus`. `ndpi` rows declare nDPI's own
//! names (`name` and `ndpi` equal) and may carry nDPI's numeric protocol
//! id; every other row maps to a declared nDPI name or to `-`, meaning the
//! name has no nDPI equivalent, and has no id. Names are case-sensitive,
//! as the tools print them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::error::ImportError;
use super::record::Tool;

/// The embedded copy of `signatures/protocol-names.csv`.
pub const EMBEDDED: &str = include_str!("../../../signatures/protocol-names.csv");

/// What the registry says about one tool's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// The nDPI name it corresponds to.
    Ndpi(String),
    /// The registry lists the name, and nDPI has no equivalent.
    NoEquivalent,
    /// The registry does not list the name.
    Unmapped,
}

/// Protocol names of every tool, mapped to nDPI's spelling.
#[derive(Debug, Clone, Default)]
pub struct NameRegistry {
    map: BTreeMap<(Tool, String), Option<String>>,
    /// nDPI's protocol id of each `ndpi` row that has one.
    ids: BTreeMap<String, u16>,
}

impl NameRegistry {
    /// The registry built into the program (the data file as it was when
    /// the program was built).
    pub fn builtin() -> NameRegistry {
        NameRegistry::parse(Path::new("signatures/protocol-names.csv"), EMBEDDED)
            .expect("the embedded protocol-names.csv is valid")
    }

    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<NameRegistry, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
        NameRegistry::parse(path, &text)
    }

    /// Reads a registry from text; `path` is only used in messages. Any
    /// bad row is an error: the file is curated, not tool output. Lines may
    /// end in LF, CRLF or CR.
    pub fn parse(path: &Path, text: &str) -> Result<NameRegistry, ImportError> {
        let mut map = BTreeMap::new();
        let mut ids = BTreeMap::new();
        let mut targets = Vec::new();
        let mut seen_header = false;
        for (n, line) in super::text::lines(text.as_bytes()) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if !seen_header {
                if f != ["tool", "name", "ndpi"] && f != ["tool", "name", "ndpi", "id"] {
                    return Err(ImportError::wrong_format(
                        path,
                        "the first row is not the header `tool,name,ndpi,id` (or `tool,name,ndpi`)",
                    ));
                }
                seen_header = true;
                continue;
            }
            let (tool, name, ndpi, id) = match f[..] {
                [tool, name, ndpi] => (tool, name, ndpi, None),
                [tool, name, ndpi, id] => (tool, name, ndpi, Some(id)),
                _ => {
                    return Err(ImportError::bad_line(
                        path,
                        n,
                        format!("{} fields, expected 3 or 4", f.len()),
                    ))
                }
            };
            let tool = Tool::from_name(tool)
                .ok_or_else(|| ImportError::bad_line(path, n, format!("unknown tool `{tool}`")))?;
            if name.is_empty() || ndpi.is_empty() {
                return Err(ImportError::bad_line(path, n, "empty field"));
            }
            if tool == Tool::Ndpi && name != ndpi {
                return Err(ImportError::bad_line(
                    path,
                    n,
                    "an ndpi row must map a name to itself",
                ));
            }
            if let Some(id) = id {
                if tool != Tool::Ndpi {
                    return Err(ImportError::bad_line(path, n, "only an ndpi row has an id"));
                }
                let id: u16 = id.parse().map_err(|_| {
                    ImportError::bad_line(
                        path,
                        n,
                        format!("id `{id}` is not a number from 0 to 65535"),
                    )
                })?;
                if let Some((other, _)) = ids.iter().find(|(_, v)| **v == id) {
                    return Err(ImportError::bad_line(
                        path,
                        n,
                        format!("id {id} is already `{other}`'s"),
                    ));
                }
                ids.insert(name.to_owned(), id);
            }
            let target = (ndpi != "-").then(|| ndpi.to_owned());
            if let Some(t) = &target {
                targets.push((n, t.clone()));
            }
            if map.insert((tool, name.to_owned()), target).is_some() {
                return Err(ImportError::bad_line(
                    path,
                    n,
                    format!("`{tool},{name}` is listed twice"),
                ));
            }
        }
        if !seen_header {
            return Err(ImportError::wrong_format(
                path,
                "no header `tool,name,ndpi`",
            ));
        }
        for (n, t) in targets {
            if !map.contains_key(&(Tool::Ndpi, t.clone())) {
                return Err(ImportError::bad_line(
                    path,
                    n,
                    format!("`{t}` is not declared as an nDPI name (no row `ndpi,{t},{t}`)"),
                ));
            }
        }
        Ok(NameRegistry { map, ids })
    }

    /// nDPI's numeric id of protocol `name` (nDPI's spelling), when the
    /// registry gives one.
    ///
    /// ```
    /// let r = dpi_train::labels::registry::NameRegistry::builtin();
    /// assert_eq!(r.ndpi_id("TLS"), Some(91));
    /// assert_eq!(r.ndpi_id("DNS"), Some(5));
    /// assert_eq!(r.ndpi_id("NoSuchProtocol"), None);
    /// ```
    pub fn ndpi_id(&self, name: &str) -> Option<u16> {
        self.ids.get(name).copied()
    }

    /// The nDPI name for `name` as `tool` writes it.
    pub fn map(&self, tool: Tool, name: &str) -> Mapping {
        match self.map.get(&(tool, name.to_owned())) {
            Some(Some(n)) => Mapping::Ndpi(n.clone()),
            Some(None) => Mapping::NoEquivalent,
            None => Mapping::Unmapped,
        }
    }

    /// The names the registry lists for `tool`, sorted.
    pub fn names(&self, tool: Tool) -> impl Iterator<Item = &str> {
        self.map
            .keys()
            .filter(move |(t, _)| *t == tool)
            .map(|(_, n)| n.as_str())
    }

    /// The nDPI names that other tools' names map to, sorted.
    pub fn mapped_targets(&self) -> BTreeSet<&str> {
        self.map
            .iter()
            .filter(|((t, _), _)| *t != Tool::Ndpi)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the registry has no rows.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid() {
        let r = NameRegistry::builtin();
        assert_eq!(r.map(Tool::Lpi, "HTTPS"), Mapping::Ndpi("TLS".into()));
        assert_eq!(r.map(Tool::Lpi, "No_Payload"), Mapping::NoEquivalent);
        assert_eq!(r.map(Tool::Lpi, "Unknown_TCP"), Mapping::NoEquivalent);
        assert_eq!(r.map(Tool::Argus, "domain"), Mapping::Ndpi("DNS".into()));
        assert_eq!(r.map(Tool::Ndpi, "HTTP"), Mapping::Ndpi("HTTP".into()));
        assert_eq!(r.map(Tool::Lpi, "NoSuchProtocol"), Mapping::Unmapped);
        assert_eq!(r.ndpi_id("Unknown"), Some(0));
        assert_eq!(r.ndpi_id("HTTP"), Some(7));
        assert_eq!(r.ndpi_id("QUIC"), Some(188));
        // Every nDPI name has its id.
        for name in r.names(Tool::Ndpi) {
            assert!(r.ndpi_id(name).is_some(), "{name}");
        }
    }

    #[test]
    fn any_line_end() {
        let lf = super::EMBEDDED;
        let want = NameRegistry::parse(Path::new("lf.csv"), lf).unwrap();
        for end in ["\r\n", "\r"] {
            let text = lf.replace('\n', end);
            let got = NameRegistry::parse(Path::new("x.csv"), &text).unwrap();
            assert_eq!(got.map, want.map, "{end:?}");
        }
        let e = NameRegistry::parse(Path::new("t.csv"), "tool,name,ndpi\rlpi,HTTP\r").unwrap_err();
        assert!(e.to_string().contains("t.csv:2: 2 fields"), "{e}");
    }

    #[test]
    fn bad_rows_are_errors() {
        let p = Path::new("t.csv");
        let cases = [
            ("lpi,HTTP,HTTP\n", "header"),
            ("tool,name,ndpi\nlpi,HTTP\n", "t.csv:2: 2 fields"),
            ("tool,name,ndpi,id\nndpi,A,A,x\n", "not a number"),
            ("tool,name,ndpi,id\nndpi,A,A,70000\n", "not a number"),
            (
                "tool,name,ndpi,id\nndpi,A,A,1\nndpi,B,B,1\n",
                "already `A`'s",
            ),
            (
                "tool,name,ndpi,id\nndpi,A,A,1\nlpi,a,A,1\n",
                "only an ndpi row",
            ),
            ("tool,name,ndpi,id\nndpi,A,A,1,2\n", "5 fields"),
            ("tool,name,ndpi\nfoo,HTTP,HTTP\n", "unknown tool"),
            ("tool,name,ndpi\nlpi,HTTP,HTTP\n", "not declared"),
            ("tool,name,ndpi\nndpi,A,A\nndpi,A,A\n", "listed twice"),
            ("tool,name,ndpi\nndpi,A,B\n", "to itself"),
        ];
        for (text, want) in cases {
            let e = NameRegistry::parse(p, text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
