//! NTP version 4 (RFC 5905) client and server packets.

use super::put32;

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp for `unix_ns`.
pub fn timestamp(unix_ns: u64) -> [u8; 8] {
    let secs = unix_ns / 1_000_000_000 + NTP_UNIX_OFFSET;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(secs as u32).to_be_bytes());
    out[4..].copy_from_slice(&(frac as u32).to_be_bytes());
    out
}

/// A client request (LI 0, VN 4, mode 3) with only the transmit timestamp set,
/// as chrony and systemd-timesyncd send it.
pub fn client_request(transmit_ns: u64) -> Vec<u8> {
    let mut out = vec![0x23, 0, 6, 0x20];
    out.extend_from_slice(&[0; 36]);
    out.extend_from_slice(&timestamp(transmit_ns));
    out
}

/// A server reply (LI 0, VN 4, mode 4, stratum 2) to a request sent at `origin_ns`.
pub fn server_reply(origin_ns: u64, receive_ns: u64, transmit_ns: u64, refid: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0x24, 2, 6, 0xe9];
    put32(&mut out, 0x0000_0c4a); // root delay
    put32(&mut out, 0x0000_0029); // root dispersion
    out.extend_from_slice(&refid);
    out.extend_from_slice(&timestamp(receive_ns - 512_000_000_000));
    out.extend_from_slice(&timestamp(origin_ns));
    out.extend_from_slice(&timestamp(receive_ns));
    out.extend_from_slice(&timestamp(transmit_ns));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_modes() {
        let t = 1_704_067_200_500_000_000;
        let c = client_request(t);
        let s = server_reply(t, t + 10_000_000, t + 10_050_000, *b"GPS\0");
        assert_eq!((c.len(), s.len()), (48, 48));
        assert_eq!((c[0] & 7, s[0] & 7), (3, 4));
        assert_eq!(timestamp(t)[..4], 3_913_056_000u32.to_be_bytes());
        assert_eq!(timestamp(t)[4..], 0x8000_0000u32.to_be_bytes());
    }
}
