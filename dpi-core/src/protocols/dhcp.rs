//! DHCP (RFC 2131, section 2; options of RFC 2132): the client's host name
//! (option 12) and vendor class identifier (option 60).
//!
//! ```
//! use dpi_core::protocols::dhcp::parse_message;
//!
//! let mut m = vec![1, 1, 6, 0];
//! m.resize(236, 0);
//! m.extend([99, 130, 83, 99, 53, 1, 1, 12, 4, b'h', b'o', b's', b't', 255]);
//! let d = parse_message(&m).value.unwrap();
//! assert_eq!(d.host_name.as_deref(), Some("host"));
//! assert_eq!(d.message_type, Some(1));
//! ```

use super::reader::{text, Reader};
use super::{either_port, Dissector, Metadata, Parsed, UDP};
use crate::FlowView;

/// The fixed BOOTP part before the magic cookie.
const FIXED: usize = 236;
/// RFC 2131, section 3: 99.130.83.99.
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// The fields reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// BOOTP op: 1 request, 2 reply.
    pub op: u8,
    /// DHCP message type (option 53).
    pub message_type: Option<u8>,
    /// Host name (option 12).
    pub host_name: Option<String>,
    /// Vendor class identifier (option 60).
    pub vendor_class: Option<String>,
}

/// Reads a DHCP message: the BOOTP header, the magic cookie and the
/// options up to `end` (255) or the end of the bytes.
pub fn parse_message(bytes: &[u8]) -> Parsed<Message> {
    let Some(&op) = bytes.first() else {
        return Parsed::incomplete(None);
    };
    if op != 1 && op != 2 {
        return Parsed::invalid(None);
    }
    let mut m = Message {
        op,
        ..Message::default()
    };
    let Some(cookie) = bytes.get(FIXED..FIXED + 4) else {
        return Parsed::incomplete(Some(m));
    };
    if cookie != MAGIC {
        return Parsed::invalid(Some(m));
    }
    let mut r = Reader::new(&bytes[FIXED + 4..]);
    loop {
        let Some(code) = r.u8() else {
            return Parsed::incomplete(Some(m));
        };
        match code {
            0 => continue,
            255 => return Parsed::complete(m),
            _ => {}
        }
        let Some(len) = r.u8() else {
            return Parsed::incomplete(Some(m));
        };
        let Some(data) = r.take(usize::from(len)) else {
            return Parsed::incomplete(Some(m));
        };
        match code {
            12 => m.host_name = text(data).map(|s| s.trim_end_matches('\0').to_string()),
            53 if len == 1 => m.message_type = Some(data[0]),
            60 => m.vendor_class = text(data),
            _ => {}
        }
    }
}

/// Registry entry: UDP flows between ports 67 and 68.
pub const DISSECTOR: Dissector = Dissector {
    name: "dhcp",
    priority: 30,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    v.transport == UDP && (either_port(v, 67) || either_port(v, 68))
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    for side in [v.c2s, v.s2c] {
        if let Some(d) = parse_message(side).value {
            if m.hostname.is_none() {
                m.hostname = d.host_name;
            }
            if m.dhcp_vendor_class.is_none() {
                m.dhcp_vendor_class = d.vendor_class;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Status;

    fn discover() -> Vec<u8> {
        let mut m = vec![1, 1, 6, 0];
        m.resize(FIXED, 0);
        m.extend(MAGIC);
        m.extend([53, 1, 1, 0, 12, 6]);
        m.extend(b"laptop");
        m.extend([60, 8]);
        m.extend(b"MSFT 5.0");
        m.push(255);
        m
    }

    #[test]
    fn options() {
        let p = parse_message(&discover());
        assert_eq!(p.status, Status::Complete);
        let d = p.value.unwrap();
        assert_eq!(d.host_name.as_deref(), Some("laptop"));
        assert_eq!(d.vendor_class.as_deref(), Some("MSFT 5.0"));
    }

    #[test]
    fn truncations() {
        let full = discover();
        for n in 0..full.len() {
            let p = parse_message(&full[..n]);
            assert_eq!(p.status, Status::Incomplete, "{n}");
            if let Some(h) = p.value.and_then(|d| d.host_name) {
                assert_eq!(h, "laptop");
            }
        }
        let mut bad = discover();
        bad[FIXED] = 0;
        assert_eq!(parse_message(&bad).status, Status::Invalid);
    }
}
