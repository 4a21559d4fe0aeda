//! QUIC: the client's Initial packets, decrypted, and the TLS ClientHello
//! they carry; Google QUIC's plain-text `CHLO`.
//!
//! Initial packets are protected with keys anyone can derive from the
//! packet's Destination Connection ID (RFC 9001, section 5): an
//! HKDF-Extract with a salt fixed per version, HKDF-Expand-Label for the
//! `client in` secret and from it the AES-128-GCM key, IV and
//! header-protection key (labels `quic key`, `quic iv`, `quic hp`; QUIC
//! version 2 uses `quicv2 key`, `quicv2 iv`, `quicv2 hp` and its own salt
//! and long-header type numbers, RFC 9369 sections 3.2 and 3.3). Header
//! protection is removed with AES-ECB over a 16-byte sample (RFC 9001,
//! section 5.4).
//!
//! [`parse_initial`] takes the client's first datagrams as the flow table
//! keeps them (concatenated, see the crate's `DESIGN.md`), walks the
//! coalesced long-header packets by their Length field (RFC 9000, section
//! 17.2), finds the next datagram by its header when padding follows a
//! packet, decrypts every Initial packet, collects the CRYPTO frames
//! (skipping PADDING, PING and ACK; offsets in any order) and reads the
//! ClientHello from the contiguous start of the CRYPTO stream.
//!
//! ```
//! use dpi_core::protocols::quic::{is_client_initial, parse_initial};
//!
//! // RFC 9001, appendix A.2: the client's Initial packet.
//! let hex = include_str!("testdata/rfc9001-a2-client-initial.hex");
//! let bytes: Vec<u8> = hex.split_whitespace().collect::<String>().as_bytes()
//!     .chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect();
//! assert!(is_client_initial(&bytes));
//! let initial = parse_initial(&bytes).value.unwrap();
//! assert_eq!(initial.version, 1);
//! let ch = initial.client_hello.unwrap();
//! assert_eq!(ch.server_name.as_deref(), Some("example.com"));
//! ```

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::reader::{text, Reader};
use super::tls::{self, ClientHello, Hello, Transport};
use super::{Dissector, Metadata, Parsed, Status, UDP};
use crate::FlowView;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

/// RFC 9001, section 5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369, section 3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-22, section 5.2 (drafts 22; mvfst's `0xfaceb001`).
const SALT_D22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// draft-ietf-quic-tls-23, section 5.2 (drafts 23 to 28; mvfst's `0xfaceb002`).
const SALT_D23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-29, section 5.2 (drafts 29 to 32).
const SALT_D29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// Google's QUIC Q050 initial salt (Chromium's QUIC version table; the
/// same bytes appear in Wireshark's QUIC dissector).
const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];
/// Google's T050 initial salt (same source).
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google's T051 initial salt (same source).
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// Most Initial packets read from one flow.
const MAX_PACKETS: usize = 16;
/// Most CRYPTO bytes put together.
const MAX_CRYPTO: u64 = 1 << 16;

/// How a version protects its Initial packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// RFC 9001 labels with this salt; Initial is long-header type 0.
    V1(&'static [u8; 20]),
    /// RFC 9369 labels and salt; Initial is long-header type 1.
    V2,
    /// Google QUIC up to Q046: no encryption, a `CHLO` message in the clear.
    GoogleClear,
}

/// The protection schemes to try for `version` (more than one where the
/// published salt tables disagree; the AEAD tag tells which is right).
fn schemes(version: u32) -> &'static [Scheme] {
    match version {
        VERSION_1 | 0xff00_0021 | 0xff00_0022 => &[Scheme::V1(&SALT_V1)],
        VERSION_2 => &[Scheme::V2],
        0xff00_0016 | 0xface_b001 => &[Scheme::V1(&SALT_D22)],
        0xff00_0017..=0xff00_001c | 0xface_b002 => &[Scheme::V1(&SALT_D23)],
        0xff00_001d..=0xff00_0020 => &[Scheme::V1(&SALT_D29)],
        0xface_b00e..=0xface_b013 => &[Scheme::V1(&SALT_D29), Scheme::V1(&SALT_D23)],
        0x5130_3530 => &[Scheme::V1(&SALT_Q050)],
        0x5430_3530 => &[Scheme::V1(&SALT_T050)],
        0x5430_3531 => &[Scheme::V1(&SALT_T051)],
        v if is_google_clear(v) => &[Scheme::GoogleClear],
        _ => &[],
    }
}

/// `Q0xx` up to Q046: Google QUIC versions without packet protection.
fn is_google_clear(v: u32) -> bool {
    let b = v.to_be_bytes();
    b[0] == b'Q' && b[1] == b'0' && b[2].is_ascii_digit() && b[3].is_ascii_digit() && {
        let n = (b[2] - b'0') * 10 + (b[3] - b'0');
        n <= 46
    }
}

/// True when `datagram` starts with a packet of a QUIC client's first
/// flight in a version this module reads: an IETF long header (version 1
/// or 2, drafts 22 to 34, mvfst, Google's Q046 to T051) of type Initial or
/// 0-RTT, or a Google
/// QUIC public header (Q043 and earlier) with a version. The flow table
/// asks this of a UDP flow's first datagram.
pub fn is_client_initial(datagram: &[u8]) -> bool {
    let Some(&b0) = datagram.first() else {
        return false;
    };
    if b0 & 0x80 != 0 {
        let Some(v) = datagram.get(1..5) else {
            return false;
        };
        let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        // Long-header types: Initial 0 and 0-RTT 1 in version 1 and the
        // drafts, Initial 1 and 0-RTT 2 in version 2 (RFC 9369 section
        // 3.2). A 0-RTT packet may reach the capture before the Initial it
        // was sent with.
        return match schemes(version).first() {
            Some(Scheme::V2) => matches!((b0 >> 4) & 3, 1 | 2),
            Some(Scheme::V1(_))
                if version >> 24 != u32::from(b'Q') && version >> 24 != u32::from(b'T') =>
            {
                matches!((b0 >> 4) & 3, 0 | 1)
            }
            Some(_) => true,
            None => false,
        };
    }
    // Google QUIC public header: version flag and an 8-byte connection id,
    // then the version.
    b0 & 0x09 == 0x09
        && datagram
            .get(9..13)
            .is_some_and(|v| is_google_clear(u32::from_be_bytes([v[0], v[1], v[2], v[3]])))
}

/// Google QUIC's client hello: the tags this crate reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chlo {
    /// The `SNI` tag.
    pub server_name: Option<String>,
    /// The `UAID` tag (the user agent).
    pub user_agent: Option<String>,
}

/// What the client's Initial packets gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Initial {
    /// The version of the first packet.
    pub version: u32,
    /// Initial packets decrypted (or read in the clear).
    pub packets: usize,
    /// The TLS ClientHello from the CRYPTO frames, as far as they reached.
    pub client_hello: Option<ClientHello>,
    /// Google QUIC's `CHLO`, for the versions that carry one.
    pub chlo: Option<Chlo>,
}

/// Reads the client's Initial packets from `data`: one datagram, or
/// several concatenated. [`Status::Complete`] when the ClientHello (or
/// `CHLO`) was read whole, [`Status::Incomplete`] when packets were read
/// but the hello goes on past the bytes given, [`Status::Invalid`] when the
/// bytes are not an Initial this module reads or none decrypts.
pub fn parse_initial(data: &[u8]) -> Parsed<Initial> {
    let Some(version) = first_version(data) else {
        return if data.len() < 13 {
            Parsed::incomplete(None)
        } else {
            Parsed::invalid(None)
        };
    };
    let mut init = Initial {
        version,
        ..Initial::default()
    };
    let schemes = schemes(version);
    if schemes.first() == Some(&Scheme::GoogleClear) {
        return match find_chlo(data) {
            Some((chlo, complete)) => {
                init.packets = 1;
                init.chlo = Some(chlo);
                if complete {
                    Parsed::complete(init)
                } else {
                    Parsed::incomplete(Some(init))
                }
            }
            None => Parsed::invalid(Some(init)),
        };
    }
    let google = matches!(version, 0x5130_3530 | 0x5430_3530 | 0x5430_3531);
    let mut frags: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut keys: Option<(Vec<u8>, Keys)> = None;
    let mut pos = 0;
    let mut truncated = false;
    while pos < data.len() && init.packets < MAX_PACKETS {
        match long_packet(&data[pos..], version) {
            LongPacket::Packet {
                len,
                initial,
                dcid,
                pn_offset,
            } => {
                let pkt = &data[pos..pos + len];
                if initial {
                    // Keys come from the packet's own Destination
                    // Connection ID; a client that changed it keeps the
                    // first one's keys, which are tried next.
                    let mut plain = None;
                    if keys.as_ref().is_some_and(|(d, _)| d.as_slice() == dcid) {
                        plain = keys.as_ref().and_then(|(_, k)| k.open(pkt, pn_offset));
                    } else {
                        for s in schemes {
                            let k = Keys::derive(*s, dcid);
                            if let Some(p) = k.open(pkt, pn_offset) {
                                plain = Some(p);
                                keys = Some((dcid.to_vec(), k));
                                break;
                            }
                        }
                        if plain.is_none() {
                            plain = keys.as_ref().and_then(|(_, k)| k.open(pkt, pn_offset));
                        }
                    }
                    if let Some(plain) = plain {
                        init.packets += 1;
                        crypto_frames(&plain, google, &mut frags);
                    }
                }
                pos += len;
            }
            LongPacket::Truncated => {
                truncated = true;
                break;
            }
            LongPacket::NotOne => match next_packet(data, pos + 1, version) {
                Some(p) => pos = p,
                None => break,
            },
        }
    }
    if init.packets == 0 {
        return if truncated {
            Parsed::incomplete(Some(init))
        } else {
            Parsed::invalid(Some(init))
        };
    }
    let stream = contiguous(&mut frags);
    if stream.is_empty() {
        return Parsed::incomplete(Some(init));
    }
    if stream[0] != 1 {
        // Google's Q050 carries its CHLO in CRYPTO frames.
        if let Some((chlo, complete)) = find_chlo(&stream) {
            init.chlo = Some(chlo);
            return if complete {
                Parsed::complete(init)
            } else {
                Parsed::incomplete(Some(init))
            };
        }
        return Parsed::invalid(Some(init));
    }
    let hello = tls::parse_handshake(&stream);
    if let Some(Hello::Client(ch)) = hello.value {
        init.client_hello = Some(ch);
    }
    match hello.status {
        Status::Complete => Parsed::complete(init),
        Status::Incomplete => Parsed::incomplete(Some(init)),
        Status::Invalid => Parsed::invalid(Some(init)),
    }
}

/// The version of the packet at the start of `data`, when it is one this
/// module reads.
fn first_version(data: &[u8]) -> Option<u32> {
    if !is_client_initial(data) {
        return None;
    }
    let at = if data[0] & 0x80 != 0 { 1 } else { 9 };
    let v = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
}

enum LongPacket<'a> {
    /// A whole long-header packet of `len` bytes.
    Packet {
        len: usize,
        initial: bool,
        dcid: &'a [u8],
        pn_offset: usize,
    },
    /// A long header whose packet runs past the bytes given.
    Truncated,
    /// Not a long-header packet of this version.
    NotOne,
}

/// Reads the long header at the start of `b` (RFC 9000, section 17.2).
fn long_packet(b: &[u8], version: u32) -> LongPacket<'_> {
    let mut r = Reader::new(b);
    let Some(b0) = r.u8() else {
        return LongPacket::Truncated;
    };
    if b0 & 0x80 == 0 {
        return LongPacket::NotOne;
    }
    let Some(v) = r.u32() else {
        return LongPacket::Truncated;
    };
    if v != version {
        return LongPacket::NotOne;
    }
    let typ = (b0 >> 4) & 3;
    let initial = if version == VERSION_2 {
        typ == 1
    } else {
        typ == 0
    };
    let Some(dl) = r.u8() else {
        return LongPacket::Truncated;
    };
    if dl > 20 {
        return LongPacket::NotOne;
    }
    let Some(dcid) = r.take(usize::from(dl)) else {
        return LongPacket::Truncated;
    };
    let Some(sl) = r.u8() else {
        return LongPacket::Truncated;
    };
    if sl > 20 {
        return LongPacket::NotOne;
    }
    if r.skip(usize::from(sl)).is_none() {
        return LongPacket::Truncated;
    }
    let retry = if version == VERSION_2 {
        typ == 0
    } else {
        typ == 3
    };
    if retry {
        return LongPacket::Packet {
            len: b.len(),
            initial: false,
            dcid,
            pn_offset: 0,
        };
    }
    if initial {
        let Some(token) = r.varint() else {
            return LongPacket::Truncated;
        };
        if token > r.remaining() as u64 {
            return LongPacket::Truncated;
        }
        let _ = r.skip(token as usize);
    }
    let Some(len) = r.varint() else {
        return LongPacket::Truncated;
    };
    let pn_offset = r.pos();
    if len > r.remaining() as u64 {
        return LongPacket::Truncated;
    }
    LongPacket::Packet {
        len: pn_offset + len as usize,
        initial,
        dcid,
        pn_offset,
    }
}

/// The position of the next long-header packet of `version` at or after
/// `from`: padding after a packet hides where the next datagram starts, so
/// this looks for a first byte with the long-header bit followed by the
/// version. The answer is never before `from`, so the walk always moves on.
fn next_packet(data: &[u8], from: usize, version: u32) -> Option<usize> {
    let v = version.to_be_bytes();
    let mut at = from + 1;
    while at + 4 <= data.len() {
        let rel = data[at..].windows(4).position(|w| w == v)?;
        let p = at + rel;
        if data[p - 1] & 0xc0 == 0xc0 {
            return Some(p - 1);
        }
        at = p + 1;
    }
    None
}

/// The client's Initial keys for one Destination Connection ID.
struct Keys {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

/// HKDF-Expand-Label of TLS 1.3 (RFC 8446, section 7.1) with an empty context.
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    // The lengths asked for (16, 12, 32) are far below HKDF's limit.
    let _ = prk.expand(&info, out);
}

impl Keys {
    fn derive(scheme: Scheme, dcid: &[u8]) -> Keys {
        let (salt, key_l, iv_l, hp_l): (&[u8], &[u8], &[u8], &[u8]) = match scheme {
            Scheme::V2 => (&SALT_V2, b"quicv2 key", b"quicv2 iv", b"quicv2 hp"),
            Scheme::V1(salt) => (salt, b"quic key", b"quic iv", b"quic hp"),
            Scheme::GoogleClear => (&SALT_V1, b"quic key", b"quic iv", b"quic hp"),
        };
        let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
        let mut client = [0u8; 32];
        expand_label(&initial, b"client in", &mut client);
        let mut k = Keys {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
        if let Ok(secret) = Hkdf::<Sha256>::from_prk(&client) {
            expand_label(&secret, key_l, &mut k.key);
            expand_label(&secret, iv_l, &mut k.iv);
            expand_label(&secret, hp_l, &mut k.hp);
        }
        k
    }

    /// Removes header protection and decrypts one packet; `None` when the
    /// packet is too short or does not authenticate.
    fn open(&self, pkt: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
        // RFC 9001, section 5.4.2: the sample starts 4 bytes after the
        // start of the packet number.
        let sample = pkt.get(pn_offset + 4..pn_offset + 20)?;
        let hp = aes::Aes128::new_from_slice(&self.hp).ok()?;
        let mut mask = aes::Block::clone_from_slice(sample);
        hp.encrypt_block(&mut mask);
        let first = pkt[0] ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 3) + 1;
        let mut header = pkt.get(..pn_offset + pn_len)?.to_vec();
        header[0] = first;
        let mut pn: u64 = 0;
        for i in 0..pn_len {
            header[pn_offset + i] ^= mask[1 + i];
            pn = (pn << 8) | u64::from(header[pn_offset + i]);
        }
        let mut nonce = self.iv;
        for (i, b) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + i] ^= b;
        }
        let aead = Aes128Gcm::new_from_slice(&self.key).ok()?;
        aead.decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &pkt[pn_offset + pn_len..],
                aad: &header,
            },
        )
        .ok()
    }
}

/// Collects the CRYPTO frames of one decrypted payload (RFC 9000, section
/// 19): PADDING, PING and ACK are skipped; any other frame ends the walk.
/// Google's Q050 and T05x versions number their CRYPTO frame 0x08 (the
/// IETF number of a STREAM frame, which an Initial packet never carries).
fn crypto_frames(plain: &[u8], google: bool, frags: &mut Vec<(u64, Vec<u8>)>) {
    let mut r = Reader::new(plain);
    while let Some(t) = r.varint() {
        match t {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                let ok = (|| {
                    let (_largest, _delay, count, _first) =
                        (r.varint()?, r.varint()?, r.varint()?, r.varint()?);
                    for _ in 0..count.min(256) {
                        r.varint()?;
                        r.varint()?;
                    }
                    if t == 0x03 {
                        r.varint()?;
                        r.varint()?;
                        r.varint()?;
                    }
                    Some(())
                })();
                if ok.is_none() {
                    return;
                }
            }
            0x06 | 0x08 if t == 0x06 || google => {
                let (Some(off), Some(len)) = (r.varint(), r.varint()) else {
                    return;
                };
                let Some(data) = r.take(usize::try_from(len).unwrap_or(usize::MAX)) else {
                    return;
                };
                if off < MAX_CRYPTO {
                    let keep = (MAX_CRYPTO - off).min(data.len() as u64) as usize;
                    frags.push((off, data[..keep].to_vec()));
                }
            }
            _ => return,
        }
    }
}

/// The CRYPTO stream from offset 0 as far as the fragments reach without a gap.
fn contiguous(frags: &mut [(u64, Vec<u8>)]) -> Vec<u8> {
    frags.sort_by_key(|f| f.0);
    let mut out: Vec<u8> = Vec::new();
    for (off, data) in frags.iter() {
        let have = out.len() as u64;
        if *off > have {
            break;
        }
        let skip = (have - off) as usize;
        if skip < data.len() {
            out.extend_from_slice(&data[skip..]);
        }
    }
    out
}

/// Finds and reads a Google QUIC `CHLO` message (tag, entry count and
/// padding, then (tag, end offset) pairs in little-endian, then the values)
/// in `b`; the flag says whether every value was present.
fn find_chlo(b: &[u8]) -> Option<(Chlo, bool)> {
    let at = b.windows(4).position(|w| w == b"CHLO")?;
    let mut r = Reader::new(&b[at + 4..]);
    let n = r.take(2).map(|x| u16::from_le_bytes([x[0], x[1]]))?;
    r.skip(2)?;
    let mut entries = Vec::with_capacity(usize::from(n.min(64)));
    let mut complete = true;
    for _ in 0..n {
        let (Some(tag), Some(end)) = (r.take(4), r.take(4)) else {
            complete = false;
            break;
        };
        entries.push((
            tag,
            u32::from_le_bytes([end[0], end[1], end[2], end[3]]) as usize,
        ));
    }
    let values = r.rest();
    let mut chlo = Chlo::default();
    let mut start = 0usize;
    for (tag, end) in entries {
        if end < start {
            return None;
        }
        let Some(v) = values.get(start..end) else {
            complete = false;
            break;
        };
        match tag {
            b"SNI\0" => chlo.server_name = text(v),
            b"UAID" => chlo.user_agent = text(v),
            _ => {}
        }
        start = end;
    }
    Some((chlo, complete))
}

/// Registry entry: a UDP flow whose initiator's first datagram is a QUIC
/// client Initial of a version this module reads.
pub const DISSECTOR: Dissector = Dissector {
    name: "quic",
    priority: 10,
    applies,
    extract,
};

fn applies(v: &FlowView<'_>) -> bool {
    v.transport == UDP && is_client_initial(v.c2s)
}

fn extract(v: &FlowView<'_>, m: &mut Metadata) {
    let p = parse_initial(v.c2s);
    let Some(init) = p.value else {
        return;
    };
    m.quic_version = Some(init.version);
    if let Some(ch) = &init.client_hello {
        tls::fill_client(ch, Transport::Quic, m);
    }
    if let Some(chlo) = init.chlo {
        m.hostname = chlo.server_name;
        m.http_user_agent = chlo.user_agent;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    pub(crate) fn rfc9001() -> Vec<u8> {
        unhex(include_str!("testdata/rfc9001-a2-client-initial.hex"))
    }

    pub(crate) fn rfc9369() -> Vec<u8> {
        unhex(include_str!("testdata/rfc9369-a2-client-initial.hex"))
    }

    const DCID: &str = "8394c8f03e515708";

    #[test]
    fn rfc9001_appendix_a1_keys() {
        let k = Keys::derive(Scheme::V1(&SALT_V1), &unhex(DCID));
        assert_eq!(k.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn rfc9369_appendix_a1_keys() {
        let k = Keys::derive(Scheme::V2, &unhex(DCID));
        assert_eq!(k.key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(k.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
        assert_eq!(k.hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    /// The CRYPTO frame of RFC 9001 appendix A.2 (the same in RFC 9369):
    /// a ClientHello for example.com with ALPN "alpn".
    fn check_rfc_hello(init: &Initial) {
        let ch = init.client_hello.as_ref().unwrap();
        assert_eq!(ch.server_name.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, Some(vec!["alpn".to_string()]));
        assert_eq!(ch.cipher_suites, Some(vec![0x1301, 0x1302]));
        assert_eq!(init.packets, 1);
    }

    #[test]
    fn rfc9001_appendix_a2_client_initial() {
        let p = parse_initial(&rfc9001());
        assert_eq!(p.status, Status::Complete);
        let init = p.value.unwrap();
        assert_eq!(init.version, VERSION_1);
        check_rfc_hello(&init);
        let ja4 = init.client_hello.unwrap().ja4(Transport::Quic).unwrap();
        assert!(ja4.starts_with("q13d0211an_"), "{ja4}");
    }

    #[test]
    fn rfc9369_appendix_a2_client_initial() {
        let bytes = rfc9369();
        assert!(is_client_initial(&bytes));
        let p = parse_initial(&bytes);
        assert_eq!(p.status, Status::Complete);
        let init = p.value.unwrap();
        assert_eq!(init.version, VERSION_2);
        check_rfc_hello(&init);
    }

    #[test]
    fn a_flipped_byte_does_not_decrypt() {
        let mut b = rfc9001();
        b[600] ^= 1;
        assert_eq!(parse_initial(&b).status, Status::Invalid);
    }

    #[test]
    fn truncations_are_incomplete() {
        let b = rfc9001();
        for n in [0, 1, 5, 20, 100, 1199] {
            let p = parse_initial(&b[..n]);
            assert_ne!(p.status, Status::Complete, "{n}");
            assert!(p.value.and_then(|i| i.client_hello).is_none());
        }
    }

    #[test]
    fn padding_between_datagrams_is_skipped() {
        // The packet, 40 bytes of padding outside it, then the packet again
        // as a second datagram: both decrypt.
        let one = rfc9001();
        let mut two = one.clone();
        two.extend([0u8; 40]);
        two.extend(&one);
        let init = parse_initial(&two).value.unwrap();
        assert_eq!(init.packets, 2);
        check_rfc_hello(&Initial { packets: 1, ..init });
    }

    #[test]
    fn crypto_offsets_out_of_order() {
        let mut frags = vec![
            (5, b"fgh".to_vec()),
            (0, b"abcde".to_vec()),
            (3, b"dexx".to_vec()),
        ];
        assert_eq!(contiguous(&mut frags), b"abcdexxh".to_vec());
        let mut gap = vec![(4, b"x".to_vec()), (0, b"ab".to_vec())];
        assert_eq!(contiguous(&mut gap), b"ab".to_vec());
    }

    #[test]
    fn google_chlo_tags() {
        let mut m = b"junkCHLO".to_vec();
        m.extend(2u16.to_le_bytes());
        m.extend([0, 0]);
        m.extend(b"SNI\0");
        m.extend(11u32.to_le_bytes());
        m.extend(b"UAID");
        m.extend(17u32.to_le_bytes());
        m.extend(b"example.comChrome");
        let (chlo, complete) = find_chlo(&m).unwrap();
        assert!(complete);
        assert_eq!(chlo.server_name.as_deref(), Some("example.com"));
        assert_eq!(chlo.user_agent.as_deref(), Some("Chrome"));
        let (cut, complete) = find_chlo(&m[..m.len() - 3]).unwrap();
        assert!(!complete);
        assert_eq!(cut.server_name.as_deref(), Some("example.com"));
    }

    #[test]
    fn fuzz_regressions() {
        // A long header whose fields are refused, with the version repeated
        // right after its first byte: the walk used to find the same place
        // again and never end.
        // The fuzz target puts a version-1 long header before the input
        // (its first byte picks the version; 0 is version 1).
        let b = unhex(include_str!("testdata/fuzz-quic-timeout-1.hex"));
        let mut pkt = vec![0xc0];
        pkt.extend(VERSION_1.to_be_bytes());
        pkt.extend(&b[1..]);
        let _ = parse_initial(&pkt);
        let _ = parse_initial(&b);
        let mut same = vec![0xc0];
        same.extend(VERSION_1.to_be_bytes());
        same.push(0xff);
        same.extend(VERSION_1.to_be_bytes());
        same.extend([0xc0; 40]);
        assert_eq!(parse_initial(&same).status, Status::Invalid);
    }

    #[test]
    fn initial_detection() {
        assert!(is_client_initial(&rfc9001()));
        assert!(!is_client_initial(b""));
        assert!(!is_client_initial(&[0xc0, 0, 0, 0, 9]));
        // A v1 Handshake packet (type 2) is not an Initial.
        let mut hs = rfc9001();
        hs[0] = 0xe0;
        assert!(!is_client_initial(&hs));
        // Google QUIC Q043 public header.
        let mut g = vec![0x09, 1, 2, 3, 4, 5, 6, 7, 8];
        g.extend(b"Q043");
        assert!(is_client_initial(&g));
        g[11] = b'5';
        assert!(!is_client_initial(&g));
        // 0-RTT: type 1 in version 1, 2 in version 2 (where 3 is Handshake).
        let mut v2 = rfc9369();
        for (b0, want) in [(0xe0, true), (0xf0, false)] {
            v2[0] = b0;
            assert_eq!(is_client_initial(&v2), want, "{b0:#x}");
        }
    }

    #[test]
    fn a_0rtt_packet_ahead_of_the_initial() {
        // A 0-RTT packet of the same connection (RFC 9001 appendix A's
        // Destination Connection ID), 32 bytes of protected payload, then
        // the Initial in the next datagram: the capture saw them reordered.
        let mut data = vec![0xd0];
        data.extend(VERSION_1.to_be_bytes());
        data.push(8);
        data.extend(unhex(DCID));
        data.extend([0, 0x40, 0x20]);
        data.extend([0x5a; 32]);
        assert!(is_client_initial(&data));
        data.extend(rfc9001());
        let p = parse_initial(&data);
        let ch = p.value.and_then(|i| i.client_hello).unwrap();
        assert_eq!(ch.server_name.as_deref(), Some("example.com"));
    }
}
