//! Small frame builders for examples and tests.

use etherparse::PacketBuilder;

/// An Ethernet II frame with an IPv4/UDP datagram carrying `payload`.
///
/// ```
/// let f = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"hi");
/// assert_eq!(f.len(), 14 + 20 + 8 + 2);
/// ```
pub fn udp_ipv4_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

/// An Ethernet II frame with an IPv4/TCP segment carrying `payload`.
/// `flags` uses the [`TcpInfo`](crate::TcpInfo) bit values.
///
/// ```
/// use dpi_core::TcpInfo;
/// let f = dpi_core::testing::tcp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 1, 0, TcpInfo::SYN, b"");
/// assert_eq!(f.len(), 14 + 20 + 20);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn tcp_ipv4_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 65535);
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x10 != 0 {
        b = b.ack(ack);
    }
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x04 != 0 {
        b = b.rst();
    }
    if flags & 0x08 != 0 {
        b = b.psh();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}
