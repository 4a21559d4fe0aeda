//! Kerberos 5 (RFC 4120) AS exchange over TCP 88 (4-byte length prefix).

use super::ber::{
    cons, ctx, integer, tlv, BIT_STRING, GENERALIZED_TIME, GENERAL_STRING, OCTET_STRING, SEQUENCE,
};

fn principal(name_type: i64, parts: &[&str]) -> Vec<u8> {
    let names: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| tlv(GENERAL_STRING, p.as_bytes()))
        .collect();
    cons(
        SEQUENCE,
        &[ctx(0, integer(name_type)), ctx(1, cons(SEQUENCE, &names))],
    )
}

/// An AS-REQ ([APPLICATION 10]) for `user@realm`, asking for a krbtgt ticket,
/// with the PA-PAC-REQUEST pre-auth data Windows clients send.
pub fn as_req(user: &str, realm: &str, nonce: u32, till: &str) -> Vec<u8> {
    let pac_request = cons(SEQUENCE, &[ctx(0, tlv(0x01, &[0xff]))]);
    let padata = cons(
        SEQUENCE,
        &[cons(
            SEQUENCE,
            &[
                ctx(1, integer(128)),
                ctx(2, tlv(OCTET_STRING, &pac_request)),
            ],
        )],
    );
    let etypes: Vec<Vec<u8>> = [18, 17, 23, 24, -135].iter().map(|e| integer(*e)).collect();
    let body = cons(
        SEQUENCE,
        &[
            ctx(0, tlv(BIT_STRING, &[0, 0x40, 0x81, 0x00, 0x10])), // forwardable, renewable, canonicalize, renewable-ok
            ctx(1, principal(1, &[user])),
            ctx(2, tlv(GENERAL_STRING, realm.as_bytes())),
            ctx(3, principal(2, &["krbtgt", realm])),
            ctx(5, tlv(GENERALIZED_TIME, till.as_bytes())),
            ctx(6, tlv(GENERALIZED_TIME, till.as_bytes())),
            ctx(7, integer(i64::from(nonce))),
            ctx(8, cons(SEQUENCE, &etypes)),
        ],
    );
    let req = cons(
        SEQUENCE,
        &[
            ctx(1, integer(5)),
            ctx(2, integer(10)),
            ctx(3, padata),
            ctx(4, body),
        ],
    );
    tlv(0x6a, &req)
}

/// A KRB-ERROR ([APPLICATION 30]) KDC_ERR_PREAUTH_REQUIRED (25).
pub fn preauth_required(user: &str, realm: &str, stime: &str, susec: i64) -> Vec<u8> {
    let err = cons(
        SEQUENCE,
        &[
            ctx(0, integer(5)),
            ctx(1, integer(30)),
            ctx(4, tlv(GENERALIZED_TIME, stime.as_bytes())),
            ctx(5, integer(susec)),
            ctx(6, integer(25)),
            ctx(7, tlv(GENERAL_STRING, realm.as_bytes())),
            ctx(8, principal(1, &[user])),
            ctx(9, tlv(GENERAL_STRING, realm.as_bytes())),
            ctx(10, principal(2, &["krbtgt", realm])),
        ],
    );
    tlv(0x7e, &err)
}

/// A message framed for TCP: a 4-byte big-endian length in front.
pub fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_req_tags() {
        let m = tcp_framed(&as_req("alice", "EXAMPLE.COM", 12345, "20370913024805Z"));
        assert_eq!(
            u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len() - 4
        );
        assert_eq!(m[4], 0x6a);
        assert_eq!(
            preauth_required("alice", "EXAMPLE.COM", "20240101000000Z", 5)[0],
            0x7e
        );
    }
}
