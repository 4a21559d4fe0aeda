//! JSON lines of flow records written straight from a [`Flow`], byte for
//! byte what `serde_json` writes for the same [`FlowRecord`](crate::record::FlowRecord)
//! fields, without building the record, except the timestamps: `first_ts`
//! and `last_ts` are exact decimal seconds ([`crate::record::seconds_text`]),
//! all nine digits of a nanosecond capture kept. `dpi extract` and `dpi
//! classify` write one such line per flow.

use std::io::Write as _;
use std::net::IpAddr;

use dpi_core::Flow;

use crate::record::transport_name;

/// Appends the decimal digits of `n`.
pub fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `"ip"` as `IpAddr`'s `Display` writes it.
pub fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.push(b'"');
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                put_u64(out, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
    out.push(b'"');
}

/// Appends `"hex"` of `bytes` (lower case, as [`crate::record::hex`]).
pub fn put_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    for &b in bytes {
        out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]);
    }
    out.push(b'"');
}

/// Appends a JSON array of sizes.
pub fn put_sizes(out: &mut Vec<u8>, sizes: &[u32]) {
    out.push(b'[');
    for (i, &n) in sizes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_u64(out, u64::from(n));
    }
    out.push(b']');
}

/// Appends the flow fields of `flow`'s JSON object, from the opening brace
/// to the last field (the payload hex only with `payload`), leaving the
/// object open for the caller's closing. `file_json` is the capture path as
/// a JSON string.
pub fn put_flow_fields(
    out: &mut Vec<u8>,
    file_json: &[u8],
    flow: &Flow,
    payload: bool,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"file\":");
    out.extend_from_slice(file_json);
    out.extend_from_slice(b",\"transport\":\"");
    out.extend_from_slice(transport_name(flow.protocol).as_bytes());
    out.extend_from_slice(b"\",\"src_ip\":");
    put_ip(out, flow.client);
    out.extend_from_slice(b",\"src_port\":");
    put_u64(out, u64::from(flow.client_port));
    out.extend_from_slice(b",\"dst_ip\":");
    put_ip(out, flow.server);
    out.extend_from_slice(b",\"dst_port\":");
    put_u64(out, u64::from(flow.server_port));
    out.extend_from_slice(b",\"vlan\":");
    put_u64(out, u64::from(flow.vlan));
    out.extend_from_slice(b",\"tunnel\":");
    match flow.tunnel {
        Some(t) => serde_json::to_writer(&mut *out, t.as_str())?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"first_ts\":");
    crate::record::put_seconds(out, flow.first_ts, 1);
    out.extend_from_slice(b",\"last_ts\":");
    crate::record::put_seconds(out, flow.last_ts, 1);
    out.extend_from_slice(b",\"c2s_packets\":");
    put_u64(out, flow.c2s.packets);
    out.extend_from_slice(b",\"s2c_packets\":");
    put_u64(out, flow.s2c.packets);
    out.extend_from_slice(b",\"c2s_bytes\":");
    put_u64(out, flow.c2s.bytes);
    out.extend_from_slice(b",\"s2c_bytes\":");
    put_u64(out, flow.s2c.bytes);
    out.extend_from_slice(b",\"c2s_sizes\":");
    put_sizes(out, &flow.c2s.sizes);
    out.extend_from_slice(b",\"s2c_sizes\":");
    put_sizes(out, &flow.s2c.sizes);
    out.extend_from_slice(b",\"duration\":");
    serde_json::to_writer(&mut *out, &crate::record::duration(flow))?;
    out.extend_from_slice(b",\"c2s_payload_bytes\":");
    put_u64(out, flow.c2s.payload_bytes);
    out.extend_from_slice(b",\"s2c_payload_bytes\":");
    put_u64(out, flow.s2c.payload_bytes);
    out.extend_from_slice(b",\"c2s_tcp_flags\":");
    put_u64(out, u64::from(flow.c2s.tcp_flags));
    out.extend_from_slice(b",\"s2c_tcp_flags\":");
    put_u64(out, u64::from(flow.s2c.tcp_flags));
    out.extend_from_slice(b",\"end_reason\":\"");
    out.extend_from_slice(flow.end.as_str().as_bytes());
    out.push(b'"');
    if payload {
        out.extend_from_slice(b",\"c2s_payload\":");
        put_hex(out, &flow.c2s_payload);
        out.extend_from_slice(b",\"s2c_payload\":");
        put_hex(out, &flow.s2c_payload);
    }
    Ok(())
}

/// A varied flow for tests of the writers: IPv4 and IPv6, every kind of
/// tunnel, empty and full payloads, extreme ports and times.
#[cfg(test)]
pub(crate) fn sample_flow(i: u32) -> Flow {
    let stats = |packets: u64, sizes: Vec<u32>| dpi_core::DirectionStats {
        packets,
        bytes: packets * 1514 + u64::from(i),
        payload_bytes: packets * 1000 + u64::from(i % 3),
        first_ts: None,
        last_ts: None,
        first_payload_ts: None,
        tcp_flags: (i * 37) as u8,
        sizes,
        iats: Vec::new(),
    };
    let v4 = |v: u32| IpAddr::V4(std::net::Ipv4Addr::from(v.wrapping_mul(2_654_435_761)));
    Flow {
        protocol: [6, 17, 1, 58, 132, 99, 255, 0][i as usize % 8],
        client: if i % 5 == 4 {
            IpAddr::V6(std::net::Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16,
            ))
        } else {
            v4(i)
        },
        client_port: (i * 7919) as u16,
        server: if i % 7 == 6 {
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        } else {
            v4(i + 1)
        },
        server_port: [0, 1, 80, 443, 65535][i as usize % 5],
        vlan: [0, 1, 4095][i as usize % 3],
        tunnel: [
            None,
            Some(dpi_core::Tunnel::Gtp),
            Some(dpi_core::Tunnel::Vxlan),
            Some(dpi_core::Tunnel::IpInIp),
        ][i as usize % 4],
        first_ts: dpi_core::Timestamp::from_nanos(
            u64::from(i) * 123_456_789_011 % 1_800_000_000_000_000_000,
        ),
        last_ts: dpi_core::Timestamp::from_micros(u64::from(i) * 1_000_003),
        c2s: stats(u64::from(i) * 3, (0..i % 9).map(|k| k * 100 + i).collect()),
        s2c: stats(u64::from(i).pow(3), vec![]),
        c2s_payload: (0..(i * 13 % 70) as u8)
            .map(|b| b.wrapping_mul(37))
            .collect(),
        s2c_payload: if i % 3 == 0 {
            Vec::new()
        } else {
            vec![0xff, 0, 0x0a, i as u8]
        },
        end: [
            dpi_core::FlowEnd::Flushed,
            dpi_core::FlowEnd::Closed,
            dpi_core::FlowEnd::IdleTimeout,
            dpi_core::FlowEnd::ActiveTimeout,
            dpi_core::FlowEnd::Evicted,
        ][i as usize % 5],
        cross: None,
        settled: None,
    }
}

/// `serde_json`'s text of a record whose `first_ts` was set to 0.5 and
/// `last_ts` to 0.25, with those two written as the JSON lines write
/// `flow`'s: exact decimal seconds.
#[cfg(test)]
pub(crate) fn with_exact_times(text: &str, flow: &Flow) -> String {
    use crate::record::seconds_text;
    text.replacen(
        "\"first_ts\":0.5,",
        &format!("\"first_ts\":{},", seconds_text(flow.first_ts, 1)),
        1,
    )
    .replacen(
        "\"last_ts\":0.25,",
        &format!("\"last_ts\":{},", seconds_text(flow.last_ts, 1)),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits() {
        let mut out = Vec::new();
        for n in [0, 9, 10, 99, 100, 65_535, u64::from(u32::MAX), u64::MAX] {
            out.clear();
            put_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn addresses_as_display_writes_them() {
        for ip in ["0.0.0.0", "192.0.2.255", "2001:db8::1", "::ffff:10.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            put_ip(&mut out, ip);
            assert_eq!(out, format!("\"{ip}\"").as_bytes());
        }
    }
}
