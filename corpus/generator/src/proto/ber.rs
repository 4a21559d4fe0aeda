//! Minimal ASN.1 BER/DER encoding (definite lengths), for SNMP and Kerberos.

/// Universal INTEGER.
pub const INTEGER: u8 = 0x02;
/// Universal BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// Universal OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// Universal NULL.
pub const NULL: u8 = 0x05;
/// Universal OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// Universal GeneralizedTime.
pub const GENERALIZED_TIME: u8 = 0x18;
/// Universal GeneralString.
pub const GENERAL_STRING: u8 = 0x1b;
/// Constructed SEQUENCE.
pub const SEQUENCE: u8 = 0x30;

/// One TLV with a definite length in the shortest form.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = (n as u32)
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed TLV whose content is the concatenation of `parts`.
pub fn cons(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// Context-specific constructed tag `[n]` (explicit tagging).
pub fn ctx(n: u8, inner: Vec<u8>) -> Vec<u8> {
    tlv(0xa0 | n, &inner)
}

/// INTEGER in two's complement, minimal length.
pub fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

/// OBJECT IDENTIFIER from its arcs.
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        groups.reverse();
        body.extend_from_slice(&groups);
    }
    tlv(OID, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(integer(0), vec![2, 1, 0]);
        assert_eq!(integer(128), vec![2, 2, 0, 128]);
        assert_eq!(integer(-1), vec![2, 1, 0xff]);
        assert_eq!(integer(0x1234_5678), vec![2, 4, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(
            oid(&[1, 3, 6, 1, 2, 1, 1, 1, 0]),
            vec![6, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0]
        );
        assert_eq!(
            oid(&[1, 2, 840, 113549]),
            vec![6, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
        let long = tlv(OCTET_STRING, &[0; 300]);
        assert_eq!(long[..4], [4, 0x82, 0x01, 0x2c]);
        assert_eq!(tlv(OCTET_STRING, &[0; 200])[..3], [4, 0x81, 200]);
    }
}
