//! applicationId and applicationName (RFC 6759) of a classification.
//!
//! applicationId is 5 bytes: the classification engine id 13, PANA-L7
//! ("proprietary layer 7 definition", RFC 6759 §4.1 table 1), then a
//! 4-byte big-endian selector: nDPI's numeric id of the flow's protocol
//! as `signatures/protocol-names.csv` gives it (TLS 91, DNS 5, QUIC 188,
//! Unknown 0, ...), or, for a protocol name the file does not list (a
//! name from the user's own signatures), the FNV-1a hash of the name with
//! the high bit set, so that it never meets an nDPI id and stays the same
//! from run to run. applicationName is nDPI's spelling: the protocol,
//! then `.` and the application when there is one (`TLS.YouTube`).

use std::collections::HashMap;
use std::sync::Arc;

use dpi_core::Classification;

use crate::labels::registry::NameRegistry;

/// Classification engine id PANA-L7 (RFC 6759 §4.1).
pub const ENGINE_PANA_L7: u8 = 13;

/// The selector of a protocol name the registry does not list.
///
/// ```
/// let s = dpi_train::ipfix::appid::unlisted_selector("MyProtocol");
/// assert!(s >= 0x8000_0000);
/// assert_eq!(s, dpi_train::ipfix::appid::unlisted_selector("MyProtocol"));
/// ```
pub fn unlisted_selector(name: &str) -> u32 {
    // FNV-1a, 32 bits (offset basis and prime of the FNV specification,
    // draft-eastlake-fnv).
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h | 0x8000_0000
}

/// The selector of protocol `name`.
pub fn selector(registry: &NameRegistry, name: &str) -> u32 {
    registry
        .ndpi_id(name)
        .map(u32::from)
        .unwrap_or_else(|| unlisted_selector(name))
}

/// The applicationId bytes of protocol `name`.
///
/// ```
/// use dpi_train::ipfix::appid::application_id;
/// use dpi_train::labels::registry::NameRegistry;
///
/// let r = NameRegistry::builtin();
/// assert_eq!(application_id(&r, "TLS"), [13, 0, 0, 0, 91]);
/// ```
pub fn application_id(registry: &NameRegistry, name: &str) -> [u8; 5] {
    let s = selector(registry, name).to_be_bytes();
    [ENGINE_PANA_L7, s[0], s[1], s[2], s[3]]
}

/// The applicationName of a classification.
pub fn application_name(c: &Classification) -> String {
    match &c.app {
        Some(app) => format!("{}.{app}", c.protocol),
        None => c.protocol.to_string(),
    }
}

/// A protocol and its application, as a classification names them.
type AppKey = (Arc<str>, Option<Arc<str>>);

/// applicationId and applicationName per (protocol, application), built
/// once each.
#[derive(Default)]
pub struct AppIds {
    registry: NameRegistry,
    known: HashMap<AppKey, (Box<str>, [u8; 5])>,
}

impl AppIds {
    /// Ids from `registry`.
    pub fn new(registry: NameRegistry) -> Self {
        AppIds {
            registry,
            known: HashMap::new(),
        }
    }

    /// The applicationName and applicationId of `c`.
    pub fn get(&mut self, c: &Classification) -> (&str, [u8; 5]) {
        let key = (c.protocol.clone(), c.app.clone());
        let registry = &self.registry;
        let (name, id) = self.known.entry(key).or_insert_with(|| {
            (
                application_name(c).into_boxed_str(),
                application_id(registry, &c.protocol),
            )
        });
        (name, *id)
    }
}
