//! Assigned ports and IP protocol numbers: the registry the port and
//! transport tiers take as one confirming source of evidence.
//!
//! The data file (`signatures/assigned-ports.csv`, embedded) lists, per
//! nDPI protocol, the TCP and UDP ports IANA assigns to it and its IP
//! protocol number, with the registered service name:
//!
//! ```text
//! ndpi,transport,port,service
//! Service_Location_Protocol,udp,427,svrloc
//! IPSec,ip,50,ESP
//! ```
//!
//! A tier rule `transport T, port P → protocol X` learnt from the flows of
//! one capture is weak evidence on its own (many flows of one capture are
//! one piece of evidence); when the registry assigns `T/P` to `X`, that
//! assignment is a second, independent one ([`super::evidence`]).
//!
//! ```
//! use dpi_train::train::assigned::Assigned;
//! let reg = Assigned::builtin();
//! assert!(reg.assigns(17, Some(427), "Service_Location_Protocol"));
//! assert!(reg.assigns(50, None, "IPSec"));
//! assert!(!reg.assigns(6, Some(427), "HTTP"));
//! assert_eq!(reg.service(17, Some(427)), Some(("Service_Location_Protocol", "svrloc")));
//! ```

use std::collections::BTreeMap;

/// The embedded copy of `signatures/assigned-ports.csv`.
pub const EMBEDDED: &str = include_str!("../../../signatures/assigned-ports.csv");

/// The most rows a registry file may hold (IANA's whole port registry has
/// about 15,000 entries).
pub const MAX_ROWS: usize = 100_000;

/// Assignments by (IP protocol number, port): the protocol and the
/// registered service name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assigned {
    map: BTreeMap<(u8, Option<u16>), (String, String)>,
}

impl Assigned {
    /// The registry built into the program.
    pub fn builtin() -> Assigned {
        Assigned::parse("signatures/assigned-ports.csv", EMBEDDED)
            .expect("the embedded assigned-ports.csv is valid")
    }

    /// Reads a registry from text; `name` is only used in messages. A bad
    /// row is an error naming the line: the file is curated.
    pub fn parse(name: &str, text: &str) -> Result<Assigned, String> {
        let mut map = BTreeMap::new();
        let mut header = false;
        for (n, line) in text.split(['\n', '\r']).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{name}: line {}", n + 1);
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if !header {
                if f != ["ndpi", "transport", "port", "service"] {
                    return Err(format!(
                        "{}: expected the header `ndpi,transport,port,service`",
                        at()
                    ));
                }
                header = true;
                continue;
            }
            let [ndpi, transport, port, service] = f[..] else {
                return Err(format!("{}: expected 4 fields, found {}", at(), f.len()));
            };
            if ndpi.is_empty() || service.is_empty() {
                return Err(format!("{}: empty protocol or service name", at()));
            }
            let key = match transport {
                "tcp" | "udp" => {
                    let p: u16 = port
                        .parse()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| format!("{}: bad port {port:?}", at()))?;
                    (if transport == "tcp" { 6 } else { 17 }, Some(p))
                }
                "ip" => {
                    let p: u8 = port
                        .parse()
                        .ok()
                        .filter(|&p| p != 6 && p != 17)
                        .ok_or_else(|| {
                            format!("{}: bad IP protocol number {port:?} (not TCP or UDP)", at())
                        })?;
                    (p, None)
                }
                other => {
                    return Err(format!(
                        "{}: bad transport {other:?} (tcp, udp or ip)",
                        at()
                    ))
                }
            };
            if map.len() >= MAX_ROWS {
                return Err(format!("{}: more than {MAX_ROWS} rows", at()));
            }
            if map
                .insert(key, (ndpi.to_owned(), service.to_owned()))
                .is_some()
            {
                return Err(format!("{}: {transport} {port} is listed twice", at()));
            }
        }
        if !header {
            return Err(format!("{name}: no header row"));
        }
        Ok(Assigned { map })
    }

    /// Whether the registry assigns `port` of IP protocol `transport` (or
    /// the IP protocol itself, with `port` `None`) to `protocol`.
    pub fn assigns(&self, transport: u8, port: Option<u16>, protocol: &str) -> bool {
        self.service(transport, port)
            .is_some_and(|(p, _)| p == protocol)
    }

    /// The protocol and the registered service name of a key.
    pub fn service(&self, transport: u8, port: Option<u16>) -> Option<(&str, &str)> {
        self.map
            .get(&(transport, port))
            .map(|(p, s)| (p.as_str(), s.as_str()))
    }

    /// Assignments held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is assigned.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_embedded_registry_names_known_protocols() {
        let reg = Assigned::builtin();
        assert!(reg.len() > 100);
        let names = crate::labels::NameRegistry::builtin();
        for (p, _) in reg.map.values() {
            assert!(
                matches!(
                    names.map(crate::labels::Tool::Ndpi, p),
                    crate::labels::registry::Mapping::Ndpi(_)
                ),
                "{p} is not an nDPI name of protocol-names.csv"
            );
        }
    }

    #[test]
    fn bad_rows_name_the_line() {
        let h = "ndpi,transport,port,service\n";
        for (body, needle) in [
            ("SSH,tcp,22\n", "line 2: expected 4 fields"),
            ("SSH,tcp,0,ssh\n", "line 2: bad port"),
            ("SSH,tcp,70000,ssh\n", "line 2: bad port"),
            ("SSH,sctp,22,ssh\n", "line 2: bad transport"),
            ("X,ip,6,tcp\n", "line 2: bad IP protocol number"),
            (
                "SSH,tcp,22,ssh\nSSH,tcp,22,ssh\n",
                "line 3: tcp 22 is listed twice",
            ),
        ] {
            let e = Assigned::parse("f.csv", &format!("{h}{body}")).unwrap_err();
            assert!(e.contains(needle), "{e}");
            assert!(e.starts_with("f.csv: "), "{e}");
        }
        assert!(Assigned::parse("f.csv", "# only\n")
            .unwrap_err()
            .contains("no header"));
        assert!(Assigned::parse("f.csv", "a,b\n")
            .unwrap_err()
            .contains("line 1"));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_fails_cleanly(text in "(?s).{0,300}") {
            let _ = Assigned::parse("x", &text);
            let _ = Assigned::parse("x", &format!("ndpi,transport,port,service\n{text}"));
        }
    }
}
