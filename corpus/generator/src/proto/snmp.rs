//! SNMPv2c (RFC 3416 PDUs in the RFC 1901 community message), BER-encoded.

use super::ber::{cons, integer, oid, tlv, NULL, OCTET_STRING, SEQUENCE};

const GET_REQUEST: u8 = 0xa0;
const GET_RESPONSE: u8 = 0xa2;

fn message(community: &str, pdu_tag: u8, request_id: i64, varbinds: Vec<Vec<u8>>) -> Vec<u8> {
    let pdu = cons(
        pdu_tag,
        &[
            integer(request_id),
            integer(0),
            integer(0),
            cons(SEQUENCE, &varbinds),
        ],
    );
    cons(
        SEQUENCE,
        &[integer(1), tlv(OCTET_STRING, community.as_bytes()), pdu],
    )
}

/// A get-request for each OID in `oids` (values NULL).
pub fn get_request(community: &str, request_id: i64, oids: &[&[u32]]) -> Vec<u8> {
    let vbs = oids
        .iter()
        .map(|o| cons(SEQUENCE, &[oid(o), tlv(NULL, &[])]))
        .collect();
    message(community, GET_REQUEST, request_id, vbs)
}

/// A response binding each OID to an already-encoded value.
pub fn get_response(community: &str, request_id: i64, bindings: &[(&[u32], Vec<u8>)]) -> Vec<u8> {
    let vbs = bindings
        .iter()
        .map(|(o, v)| cons(SEQUENCE, &[oid(o), v.clone()]))
        .collect();
    message(community, GET_RESPONSE, request_id, vbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let m = get_request("public", 1, &[&[1, 3, 6, 1, 2, 1, 1, 1, 0]]);
        assert_eq!(m[0], 0x30);
        assert_eq!(m[1] as usize, m.len() - 2);
        assert_eq!(m[2..5], [2, 1, 1]);
        assert_eq!(&m[5..13], b"\x04\x06public");
        assert_eq!(m[13], 0xa0);
    }
}
