//! OpenVPN over UDP: the control-channel reset packets that open a session
//! (no tls-auth/tls-crypt, so the header is not wrapped).

use super::put32;

/// Opcode P_CONTROL_HARD_RESET_CLIENT_V2.
pub const HARD_RESET_CLIENT_V2: u8 = 7;
/// Opcode P_CONTROL_HARD_RESET_SERVER_V2.
pub const HARD_RESET_SERVER_V2: u8 = 8;
/// Opcode P_CONTROL_V1.
pub const CONTROL_V1: u8 = 4;
/// Opcode P_ACK_V1.
pub const ACK_V1: u8 = 5;

/// A control packet: opcode/key id, session id, ACK array, packet id, payload.
pub fn control(
    opcode: u8,
    session: &[u8; 8],
    acks: &[u32],
    remote: Option<&[u8; 8]>,
    packet_id: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = vec![opcode << 3];
    out.extend_from_slice(session);
    out.push(acks.len() as u8);
    for a in acks {
        put32(&mut out, *a);
    }
    if !acks.is_empty() {
        if let Some(r) = remote {
            out.extend_from_slice(r);
        }
    }
    if let Some(id) = packet_id {
        put32(&mut out, id);
    }
    out.extend_from_slice(payload);
    out
}

/// The client's first packet.
pub fn hard_reset_client(session: &[u8; 8]) -> Vec<u8> {
    control(HARD_RESET_CLIENT_V2, session, &[], None, Some(0), &[])
}

/// The server's answer, acknowledging the client's packet 0.
pub fn hard_reset_server(session: &[u8; 8], client_session: &[u8; 8]) -> Vec<u8> {
    control(
        HARD_RESET_SERVER_V2,
        session,
        &[0],
        Some(client_session),
        Some(0),
        &[],
    )
}

/// The client's ACK of the server's packet 0.
pub fn ack(session: &[u8; 8], server_session: &[u8; 8]) -> Vec<u8> {
    control(ACK_V1, session, &[0], Some(server_session), None, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_and_length() {
        let c = hard_reset_client(&[1; 8]);
        assert_eq!(c[0], 0x38);
        assert_eq!(c.len(), 14);
        let s = hard_reset_server(&[2; 8], &[1; 8]);
        assert_eq!(s[0], 0x40);
        assert_eq!(s.len(), 1 + 8 + 1 + 4 + 8 + 4);
    }
}
