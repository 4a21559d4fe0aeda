//! NetBIOS name service (RFC 1002) over UDP 137.

use super::{put16, put32};

/// A NetBIOS name in first-level encoding: the 15-character name padded
/// with spaces plus the suffix byte, each nibble as `'A' + nibble`, as one
/// 32-byte label followed by the root label.
pub fn encode_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    for (i, b) in name.bytes().take(15).enumerate() {
        raw[i] = b.to_ascii_uppercase();
    }
    raw[15] = suffix;
    let mut out = vec![32];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out
}

/// A broadcast name query (opcode 0, RD and B set) for type NB.
pub fn name_query(id: u16, name: &str, suffix: u8) -> Vec<u8> {
    let mut out = Vec::new();
    put16(&mut out, id);
    put16(&mut out, 0x0110);
    put16(&mut out, 1);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, 0);
    out.extend_from_slice(&encode_name(name, suffix));
    put16(&mut out, 0x0020); // NB
    put16(&mut out, 0x0001); // IN
    out
}

/// A positive name query response (AA, RD) with one NB record.
pub fn positive_response(id: u16, name: &str, suffix: u8, addr: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    put16(&mut out, id);
    put16(&mut out, 0x8500);
    put16(&mut out, 0);
    put16(&mut out, 1);
    put16(&mut out, 0);
    put16(&mut out, 0);
    out.extend_from_slice(&encode_name(name, suffix));
    put16(&mut out, 0x0020);
    put16(&mut out, 0x0001);
    put32(&mut out, 300_000);
    put16(&mut out, 6);
    put16(&mut out, 0x0000); // NB_FLAGS: B-node, unique
    out.extend_from_slice(&addr);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_level_encoding() {
        let n = encode_name("FRED", 0x20);
        assert_eq!(n.len(), 34);
        assert_eq!(&n[1..9], b"EGFCEFEE");
        assert_eq!(&n[31..33], b"CA");
        assert_eq!(name_query(1, "WORKGROUP", 0).len(), 12 + 34 + 4);
    }
}
