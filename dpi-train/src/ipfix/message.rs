//! IPFIX messages (RFC 7011): the header, template sets and data sets of
//! `dpi classify --ipfix`, encoded into a caller's buffer.
//!
//! Layout (RFC 7011 §3.1, §3.3, §3.4):
//!
//! - message header, 16 bytes: version 10, message length, export time
//!   (Unix seconds), sequence number (data records sent before this
//!   message in the observation domain, modulo 2^32), observation domain;
//! - set header, 4 bytes: set id (2 for a template set, ≥ 256 for the data
//!   set of that template) and set length;
//! - template record: template id, field count, then per field the
//!   information element id (the high bit set for an enterprise-specific
//!   element, followed by the 4-byte enterprise number) and the field
//!   length (65535 for variable length);
//! - a variable-length field (RFC 7011 §7): one length byte below 255,
//!   else 255 and a 2-byte length.

use std::net::IpAddr;

use super::record::FlowFields;

/// IPFIX version number (RFC 7011 §3.1).
pub const VERSION: u16 = 10;
/// Bytes of the message header.
pub const HEADER_LEN: usize = 16;
/// Set id of a template set (RFC 7011 §3.3.2).
pub const TEMPLATE_SET_ID: u16 = 2;
/// Template id of flows between IPv4 addresses.
pub const TEMPLATE_V4: u16 = 256;
/// Template id of flows between IPv6 addresses (and of mixed families,
/// IPv4 written as IPv4-mapped IPv6).
pub const TEMPLATE_V6: u16 = 257;
/// Private enterprise number of reverse information elements (RFC 5103 §6.1).
pub const REVERSE_PEN: u32 = 29305;
/// The longest value of a variable-length field that is written; longer
/// strings are cut at a character boundary.
pub const MAX_VARIABLE: usize = 255;

/// Information element ids (IANA "IPFIX Information Elements" registry,
/// RFC 7012 §5, RFC 6759 for 95/96).
pub mod ie {
    /// octetDeltaCount, unsigned64.
    pub const OCTET_DELTA_COUNT: u16 = 1;
    /// packetDeltaCount, unsigned64.
    pub const PACKET_DELTA_COUNT: u16 = 2;
    /// protocolIdentifier, unsigned8.
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    /// sourceTransportPort, unsigned16.
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    /// sourceIPv4Address.
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    /// destinationTransportPort, unsigned16.
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    /// destinationIPv4Address.
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    /// sourceIPv6Address.
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    /// destinationIPv6Address.
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    /// vlanId, unsigned16.
    pub const VLAN_ID: u16 = 58;
    /// applicationId, octetArray (RFC 6759 §4).
    pub const APPLICATION_ID: u16 = 95;
    /// applicationName, string (RFC 6759 §5).
    pub const APPLICATION_NAME: u16 = 96;
    /// flowEndReason, unsigned8.
    pub const FLOW_END_REASON: u16 = 136;
    /// flowStartMilliseconds, dateTimeMilliseconds.
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    /// flowEndMilliseconds, dateTimeMilliseconds.
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    /// flowStartNanoseconds, dateTimeNanoseconds.
    pub const FLOW_START_NANOSECONDS: u16 = 156;
    /// flowEndNanoseconds, dateTimeNanoseconds.
    pub const FLOW_END_NANOSECONDS: u16 = 157;
    /// httpRequestHost, string.
    pub const HTTP_REQUEST_HOST: u16 = 460;
}

/// Field length of a variable-length field.
pub const VARIABLE: u16 = 65535;

/// One field of a template: element id, length, reverse (RFC 5103) or not.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Information element id.
    pub id: u16,
    /// Field length in bytes, or [`VARIABLE`].
    pub len: u16,
    /// The reverse-direction element (enterprise 29305).
    pub reverse: bool,
}

const fn f(id: u16, len: u16) -> FieldSpec {
    FieldSpec {
        id,
        len,
        reverse: false,
    }
}

const fn r(id: u16, len: u16) -> FieldSpec {
    FieldSpec {
        id,
        len,
        reverse: true,
    }
}

/// Bytes of the applicationId value: the classification engine id and a
/// 4-byte selector (see [`super::appid`]).
pub const APPLICATION_ID_LEN: u16 = 5;

/// The fields of the flow templates after the addresses, in order.
const COMMON: [FieldSpec; 16] = [
    f(ie::SOURCE_TRANSPORT_PORT, 2),
    f(ie::DESTINATION_TRANSPORT_PORT, 2),
    f(ie::PROTOCOL_IDENTIFIER, 1),
    f(ie::VLAN_ID, 2),
    f(ie::FLOW_START_NANOSECONDS, 8),
    f(ie::FLOW_END_NANOSECONDS, 8),
    f(ie::FLOW_START_MILLISECONDS, 8),
    f(ie::FLOW_END_MILLISECONDS, 8),
    f(ie::PACKET_DELTA_COUNT, 8),
    f(ie::OCTET_DELTA_COUNT, 8),
    r(ie::PACKET_DELTA_COUNT, 8),
    r(ie::OCTET_DELTA_COUNT, 8),
    f(ie::FLOW_END_REASON, 1),
    f(ie::APPLICATION_ID, APPLICATION_ID_LEN),
    f(ie::APPLICATION_NAME, VARIABLE),
    f(ie::HTTP_REQUEST_HOST, VARIABLE),
];

/// The fields of template `id` ([`TEMPLATE_V4`] or [`TEMPLATE_V6`]).
pub fn template_fields(id: u16) -> Vec<FieldSpec> {
    let (src, dst, len) = if id == TEMPLATE_V4 {
        (ie::SOURCE_IPV4_ADDRESS, ie::DESTINATION_IPV4_ADDRESS, 4)
    } else {
        (ie::SOURCE_IPV6_ADDRESS, ie::DESTINATION_IPV6_ADDRESS, 16)
    };
    let mut v = vec![f(src, len), f(dst, len)];
    v.extend_from_slice(&COMMON);
    v
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Overwrites the big-endian u16 at `at` (a length written after its
/// contents). `at + 2 <= out.len()` holds for every caller.
fn patch16(out: &mut [u8], at: usize, v: u16) {
    if let Some(dst) = out.get_mut(at..at + 2) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

/// Appends a message header with length 0, patched by [`finish_message`].
pub fn start_message(out: &mut Vec<u8>, export_time: u32, sequence: u32, domain: u32) {
    put16(out, VERSION);
    put16(out, 0);
    put32(out, export_time);
    put32(out, sequence);
    put32(out, domain);
}

/// Writes the message length into the header that starts `out`.
pub fn finish_message(out: &mut [u8]) {
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
    patch16(out, 2, len);
}

/// Appends a template set holding both flow templates.
pub fn put_template_set(out: &mut Vec<u8>) {
    let start = out.len();
    put16(out, TEMPLATE_SET_ID);
    put16(out, 0);
    for id in [TEMPLATE_V4, TEMPLATE_V6] {
        let fields = template_fields(id);
        put16(out, id);
        put16(out, fields.len() as u16);
        for s in fields {
            if s.reverse {
                put16(out, s.id | 0x8000);
                put16(out, s.len);
                put32(out, REVERSE_PEN);
            } else {
                put16(out, s.id);
                put16(out, s.len);
            }
        }
    }
    let len = (out.len() - start) as u16;
    patch16(out, start + 2, len);
}

/// Bytes of the template set [`put_template_set`] writes.
pub fn template_set_len() -> usize {
    let mut v = Vec::new();
    put_template_set(&mut v);
    v.len()
}

/// Appends a data set header for `template`; returns where it starts, for
/// [`finish_set`].
pub fn start_set(out: &mut Vec<u8>, template: u16) -> usize {
    let start = out.len();
    put16(out, template);
    put16(out, 0);
    start
}

/// Writes the length of the set that starts at `start`.
pub fn finish_set(out: &mut [u8], start: usize) {
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    patch16(out, start + 2, len);
}

/// The template of a flow between `a` and `b`.
pub fn template_of(a: IpAddr, b: IpAddr) -> u16 {
    match (a, b) {
        (IpAddr::V4(_), IpAddr::V4(_)) => TEMPLATE_V4,
        _ => TEMPLATE_V6,
    }
}

/// `s` cut to at most [`MAX_VARIABLE`] bytes at a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_VARIABLE {
        return s;
    }
    let mut end = MAX_VARIABLE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    let s = cut(s);
    // Below 255 bytes the length takes one byte (RFC 7011 §7).
    if s.len() < 255 {
        out.push(s.len() as u8);
    } else {
        out.push(255);
        put16(out, s.len() as u16);
    }
    out.extend_from_slice(s.as_bytes());
}

/// Milliseconds since 1970 of nanoseconds since 1970.
fn millis(nanos: u64) -> u64 {
    nanos / 1_000_000
}

/// dateTimeNanoseconds (RFC 7011 §6.1.10): NTP's 64-bit form, seconds
/// since 1900-01-01 in the high 32 bits and the binary fraction of a
/// second in the low 32.
pub fn ntp_time(unix_nanos: u64) -> u64 {
    // Seconds from 1900-01-01 to 1970-01-01 (RFC 5905 §6).
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let secs = (unix_nanos / 1_000_000_000 + NTP_UNIX_OFFSET) & 0xffff_ffff;
    let frac = ((unix_nanos % 1_000_000_000) << 32) / 1_000_000_000;
    secs << 32 | frac
}

fn put_ip(out: &mut Vec<u8>, ip: IpAddr, v6: bool) {
    match (ip, v6) {
        (IpAddr::V4(a), false) => out.extend_from_slice(&a.octets()),
        (IpAddr::V4(a), true) => out.extend_from_slice(&a.to_ipv6_mapped().octets()),
        (IpAddr::V6(a), _) => out.extend_from_slice(&a.octets()),
    }
}

/// Appends the data record of `r` in the layout of template `template`.
pub fn put_record(out: &mut Vec<u8>, template: u16, r: &FlowFields<'_>) {
    let v6 = template != TEMPLATE_V4;
    put_ip(out, r.src, v6);
    put_ip(out, r.dst, v6);
    put16(out, r.src_port);
    put16(out, r.dst_port);
    out.push(r.protocol);
    put16(out, r.vlan);
    put64(out, ntp_time(r.start_nanos));
    put64(out, ntp_time(r.end_nanos));
    put64(out, millis(r.start_nanos));
    put64(out, millis(r.end_nanos));
    put64(out, r.packets);
    put64(out, r.octets);
    put64(out, r.reverse_packets);
    put64(out, r.reverse_octets);
    out.push(r.end_reason);
    out.extend_from_slice(&r.application_id);
    put_string(out, r.application_name);
    put_string(out, r.hostname.unwrap_or(""));
}

/// Bytes [`put_record`] would write for `r` at most (the strings' length
/// bytes counted at their largest).
pub fn record_len_bound(template: u16, r: &FlowFields<'_>) -> usize {
    let addr = if template == TEMPLATE_V4 { 8 } else { 32 };
    let fixed: usize = COMMON
        .iter()
        .filter(|s| s.len != VARIABLE)
        .map(|s| usize::from(s.len))
        .sum();
    let var = |s: &str| 3 + cut(s).len();
    addr + fixed + var(r.application_name) + var(r.hostname.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_times() {
        assert_eq!(ntp_time(0), 2_208_988_800u64 << 32);
        // Half a second is half the fraction range.
        assert_eq!(ntp_time(500_000_000) & 0xffff_ffff, 1 << 31);
        let t = ntp_time(1_700_000_000_250_000_000);
        assert_eq!(t >> 32, 1_700_000_000 + 2_208_988_800);
        assert_eq!(t & 0xffff_ffff, 1 << 30);
    }

    #[test]
    fn strings_take_one_or_three_length_bytes() {
        let mut out = Vec::new();
        put_string(&mut out, "TLS.YouTube");
        assert_eq!(out[0], 11);
        assert_eq!(&out[1..], b"TLS.YouTube");
        out.clear();
        let long = "é".repeat(200);
        put_string(&mut out, &long);
        // 254 bytes: the longest whole-character cut of 255.
        assert_eq!(out[0], 254);
        assert_eq!(out.len(), 255);
        out.clear();
        put_string(&mut out, &"a".repeat(300));
        assert_eq!(&out[..3], &[255, 0, 255]);
        assert_eq!(out.len(), 258);
    }

    #[test]
    fn template_set_lengths_add_up() {
        let mut out = Vec::new();
        put_template_set(&mut out);
        assert_eq!(u16::from_be_bytes([out[0], out[1]]), TEMPLATE_SET_ID);
        assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])), out.len());
        // First template: id, count, then the fields.
        assert_eq!(u16::from_be_bytes([out[4], out[5]]), TEMPLATE_V4);
        let n = template_fields(TEMPLATE_V4).len();
        assert_eq!(usize::from(u16::from_be_bytes([out[6], out[7]])), n);
        // Two reverse fields carry 4 more bytes each.
        assert_eq!(out.len(), 4 + 2 * (4 + 4 * n + 8));
    }
}
