//! SSH transport layer (RFC 4253): identification strings, binary packets,
//! KEXINIT and the curve25519 key exchange messages (RFC 8731).

use super::put32;
use crate::rng::Rng;

const KEX_CLIENT: &str = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
const KEX_SERVER: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com";
const HOSTKEY_CLIENT: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256";
const HOSTKEY_SERVER: &str = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519";
const CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const COMPRESSION: &str = "none,zlib@openssh.com";

/// SSH_MSG_KEXINIT.
pub const MSG_KEXINIT: u8 = 20;
/// SSH_MSG_NEWKEYS.
pub const MSG_NEWKEYS: u8 = 21;
/// SSH_MSG_KEX_ECDH_INIT.
pub const MSG_KEX_ECDH_INIT: u8 = 30;
/// SSH_MSG_KEX_ECDH_REPLY.
pub const MSG_KEX_ECDH_REPLY: u8 = 31;

/// The identification line, CRLF-terminated.
pub fn banner(software: &str) -> Vec<u8> {
    format!("SSH-2.0-{software}\r\n").into_bytes()
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    put32(out, s.len() as u32);
    out.extend_from_slice(s);
}

/// An unencrypted binary packet: length, padding length, payload, random
/// padding (at least 4 bytes, total a multiple of 8).
pub fn packet(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut out = Vec::with_capacity(5 + payload.len() + pad);
    put32(&mut out, (1 + payload.len() + pad) as u32);
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.extend_from_slice(&rng.bytes(pad));
    out
}

/// A KEXINIT packet with OpenSSH's algorithm lists for the client or the server.
pub fn kexinit(rng: &mut Rng, client: bool) -> Vec<u8> {
    let mut p = vec![MSG_KEXINIT];
    p.extend_from_slice(&rng.bytes(16));
    let (kex, hostkey) = if client {
        (KEX_CLIENT, HOSTKEY_CLIENT)
    } else {
        (KEX_SERVER, HOSTKEY_SERVER)
    };
    for list in [
        kex,
        hostkey,
        CIPHERS,
        CIPHERS,
        MACS,
        MACS,
        COMPRESSION,
        COMPRESSION,
        "",
        "",
    ] {
        string(&mut p, list.as_bytes());
    }
    p.push(0); // first_kex_packet_follows
    put32(&mut p, 0);
    packet(rng, &p)
}

/// SSH_MSG_KEX_ECDH_INIT with a curve25519 public key.
pub fn ecdh_init(rng: &mut Rng) -> Vec<u8> {
    let mut p = vec![MSG_KEX_ECDH_INIT];
    string(&mut p, &rng.bytes(32));
    packet(rng, &p)
}

/// SSH_MSG_KEX_ECDH_REPLY (ed25519 host key, ephemeral key, signature)
/// followed by SSH_MSG_NEWKEYS, as the server sends them in one write.
pub fn ecdh_reply_newkeys(rng: &mut Rng) -> Vec<u8> {
    let mut key_blob = Vec::new();
    string(&mut key_blob, b"ssh-ed25519");
    string(&mut key_blob, &rng.bytes(32));
    let mut sig = Vec::new();
    string(&mut sig, b"ssh-ed25519");
    string(&mut sig, &rng.bytes(64));
    let mut p = vec![MSG_KEX_ECDH_REPLY];
    string(&mut p, &key_blob);
    string(&mut p, &rng.bytes(32));
    string(&mut p, &sig);
    let mut out = packet(rng, &p);
    out.extend(newkeys(rng));
    out
}

/// SSH_MSG_NEWKEYS.
pub fn newkeys(rng: &mut Rng) -> Vec<u8> {
    packet(rng, &[MSG_NEWKEYS])
}

/// An encrypted packet (chacha20-poly1305: encrypted length, payload, 16-byte tag).
pub fn encrypted(rng: &mut Rng, len: usize) -> Vec<u8> {
    rng.bytes(4 + len + 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_is_block_aligned() {
        let mut rng = Rng::new(9);
        for n in 0..40 {
            let p = packet(&mut rng, &vec![1; n]);
            assert_eq!(p.len() % 8, 0);
            assert!(p[4] >= 4);
            assert_eq!(
                u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize + 4,
                p.len()
            );
        }
        assert_eq!(kexinit(&mut rng, true)[5], MSG_KEXINIT);
    }
}
