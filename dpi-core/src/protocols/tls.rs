//! TLS and DTLS hellos: server name, ALPN, versions, cipher suites,
//! extensions, signature algorithms, and the JA4 / JA4S fingerprints.
//!
//! Wire formats: the record layer and the hello messages of RFC 8446
//! (sections 4.1.2, 4.1.3 and 5.1) and RFC 5246; the DTLS record and
//! handshake headers of RFC 6347 (sections 4.1 and 4.2.2); the extensions
//! `server_name` (RFC 6066, section 3), `application_layer_protocol_negotiation`
//! (RFC 7301), `supported_versions` and `signature_algorithms` (RFC 8446,
//! section 4.2). GREASE values are those of RFC 8701.
//!
//! [`parse_records`] reads a byte stream that starts with a TLS record (the
//! first bytes of a TCP direction) and puts the handshake message back
//! together when it is split over several records; [`parse_dtls_records`]
//! does the same for DTLS datagrams; [`parse_handshake`] reads one bare
//! handshake message (as QUIC's CRYPTO frames carry it).
//!
//! ```
//! use dpi_core::protocols::tls::{parse_handshake, Hello, Transport};
//! use dpi_core::protocols::Status;
//!
//! // A ClientHello with one cipher suite and a server name.
//! let mut body = vec![0x03, 0x03];
//! body.extend([0u8; 32]); // random
//! body.extend([0, 0, 2, 0x13, 0x01, 1, 0]); // no session id, one suite, null compression
//! let sni = b"example.com";
//! let ext_len = 5 + sni.len();
//! body.extend([0, ext_len as u8 + 4, 0, 0, 0, ext_len as u8]);
//! body.extend([0, sni.len() as u8 + 3, 0, 0, sni.len() as u8]);
//! body.extend(sni);
//! let mut msg = vec![1, 0, 0, body.len() as u8];
//! msg.extend(body);
//!
//! let parsed = parse_handshake(&msg);
//! assert_eq!(parsed.status, Status::Complete);
//! let Some(Hello::Client(ch)) = parsed.value else { panic!() };
//! assert_eq!(ch.server_name.as_deref(), Some("example.com"));
//! // TLS 1.2, a server name, one suite, one extension, no ALPN; with the
//! // server name left out no extension remains to hash.
//! let ja4 = ch.ja4(Transport::Tcp).unwrap();
//! assert!(ja4.starts_with("t12d010100_") && ja4.ends_with("_000000000000"));
//! ```

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::reader::{text, Reader};
use super::{Dissector, Metadata, Parsed, Status, TCP, UDP};
use crate::FlowView;

/// Record content type of handshake messages.
const HANDSHAKE: u8 = 22;
/// Handshake message types (RFC 8446, section 4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// Extension numbers.
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// The most bytes of one handshake message put back together from records.
const MAX_MESSAGE: usize = 1 << 16;

/// The transport a hello was carried over: the first character of JA4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC (`q`).
    Quic,
    /// DTLS (`d`).
    Dtls,
}

impl Transport {
    fn letter(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

/// A ClientHello as far as it was read. Lists hold the values in wire
/// order, GREASE values included; fields are set only when their bytes were
/// all present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// Cipher suites, once the whole list was read.
    pub cipher_suites: Option<Vec<u16>>,
    /// Extension numbers in wire order, as far as read.
    pub extensions: Vec<u16>,
    /// The extension block was read to its end.
    pub extensions_complete: bool,
    /// The `host_name` of the `server_name` extension.
    pub server_name: Option<String>,
    /// The protocols of the ALPN extension, in order (lossy UTF-8).
    pub alpn: Option<Vec<String>>,
    /// The first ALPN protocol as raw bytes (JA4 looks at its bytes).
    pub alpn_first: Option<Vec<u8>>,
    /// The `supported_versions` extension.
    pub supported_versions: Option<Vec<u16>>,
    /// The `signature_algorithms` extension, in order.
    pub signature_algorithms: Option<Vec<u16>>,
}

/// A ServerHello as far as it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version`.
    pub legacy_version: u16,
    /// The chosen cipher suite.
    pub cipher_suite: Option<u16>,
    /// Extension numbers in wire order, as far as read.
    pub extensions: Vec<u16>,
    /// The extension block was read to its end (or the hello has none).
    pub extensions_complete: bool,
    /// The version chosen through `supported_versions` (TLS 1.3).
    pub selected_version: Option<u16>,
    /// The protocol chosen through ALPN.
    pub alpn: Option<String>,
    /// Its raw bytes.
    pub alpn_raw: Option<Vec<u8>>,
}

/// A hello message of either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// Sent by the client.
    Client(ClientHello),
    /// Sent by the server.
    Server(ServerHello),
}

/// True for the GREASE values of RFC 8701 (0x0a0a, 0x1a1a, ..., 0xfafa).
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// JA4's two characters for a protocol version (FoxIO's JA4 specification,
/// "TLS and DTLS Version").
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The first 12 hex digits of the SHA-256 of `s`, or twelve zeros for an
/// empty list (JA4's rule for an empty cipher or extension list).
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(12);
    for &b in &digest[..6] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// A count as JA4 writes it: two decimal digits, 99 at most.
fn push_count(s: &mut String, n: usize) {
    let n = n.min(99) as u8;
    s.push(char::from(b'0' + n / 10));
    s.push(char::from(b'0' + n % 10));
}

/// Lower-case hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `v` as four lower-case hex digits.
fn push_hex4(s: &mut String, v: u16) {
    for shift in [12, 8, 4, 0] {
        s.push(HEX[usize::from((v >> shift) & 0xf)] as char);
    }
}

fn hex_list<'a>(values: impl Iterator<Item = &'a u16>) -> String {
    let mut s = String::with_capacity(5 * values.size_hint().0);
    for &v in values {
        if !s.is_empty() {
            s.push(',');
        }
        push_hex4(&mut s, v);
    }
    s
}

/// JA4's two characters for an ALPN value: its first and last characters
/// when both are ASCII letters or digits, else the first and last digits of
/// its hex form; `00` when there is none.
fn alpn_code(alpn: Option<&[u8]>) -> String {
    let Some(a) = alpn.filter(|a| !a.is_empty()) else {
        return "00".to_string();
    };
    let (first, last) = (a[0], a[a.len() - 1]);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        format!("{}{}", char::from(first), char::from(last))
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        format!(
            "{}{}",
            char::from(HEX[usize::from(first >> 4)]),
            char::from(HEX[usize::from(last & 0x0f)])
        )
    }
}

impl ClientHello {
    /// The JA4 fingerprint (FoxIO's JA4 specification, `technical_details/JA4.md`
    /// of the FoxIO-LLC/ja4 repository): `None` until the cipher suites and
    /// the whole extension block were read.
    pub fn ja4(&self, transport: Transport) -> Option<String> {
        let ciphers = self.cipher_suites.as_ref()?;
        if !self.extensions_complete {
            return None;
        }
        // "The highest value in the extension", GREASE left out: for DTLS,
        // whose version numbers count down, that is the oldest version.
        let version = match &self.supported_versions {
            Some(vs) => vs
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .max()
                .unwrap_or(self.legacy_version),
            None => self.legacy_version,
        };
        let mut cs: Vec<u16> = ciphers.iter().copied().filter(|c| !is_grease(*c)).collect();
        let exts: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|e| !is_grease(*e))
            .collect();
        let sni = if self.extensions.contains(&EXT_SERVER_NAME) {
            'd'
        } else {
            'i'
        };
        let mut out = String::with_capacity(36);
        out.push(transport.letter());
        out.push_str(version_code(version));
        out.push(sni);
        push_count(&mut out, cs.len());
        push_count(&mut out, exts.len());
        out.push_str(&alpn_code(self.alpn_first.as_deref()));
        out.push('_');
        cs.sort_unstable();
        out.push_str(&hash12(&hex_list(cs.iter())));
        out.push('_');
        let mut sorted: Vec<u16> = exts
            .into_iter()
            .filter(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN)
            .collect();
        sorted.sort_unstable();
        let mut c_in = hex_list(sorted.iter());
        if !c_in.is_empty() {
            if let Some(sigs) = &self.signature_algorithms {
                let sigs: Vec<u16> = sigs.iter().copied().filter(|s| !is_grease(*s)).collect();
                if !sigs.is_empty() {
                    c_in.push('_');
                    c_in.push_str(&hex_list(sigs.iter()));
                }
            }
        }
        out.push_str(&hash12(&c_in));
        Some(out)
    }
}

impl ServerHello {
    /// The JA4S fingerprint (FoxIO's `technical_details/JA4S.md`): `None`
    /// until the cipher suite and the whole extension block were read.
    pub fn ja4s(&self, transport: Transport) -> Option<String> {
        let cipher = self.cipher_suite?;
        if !self.extensions_complete {
            return None;
        }
        let version = self.selected_version.unwrap_or(self.legacy_version);
        let exts: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|e| !is_grease(*e))
            .collect();
        Some(format!(
            "{}{}{:02}{}_{:04x}_{}",
            transport.letter(),
            version_code(version),
            exts.len().min(99),
            alpn_code(self.alpn_raw.as_deref()),
            cipher,
            hash12(&hex_list(exts.iter()))
        ))
    }
}

/// Reads one handshake message: type (1 byte), length (3 bytes), body.
/// Only ClientHello and ServerHello are read; another type is
/// [`Status::Invalid`] with no value.
pub fn parse_handshake(msg: &[u8]) -> Parsed<Hello> {
    let mut r = Reader::new(msg);
    let (Some(kind), Some(len)) = (r.u8(), r.u24()) else {
        return Parsed::incomplete(None);
    };
    let body = r.rest();
    let (body, cut) = if body.len() >= len as usize {
        (&body[..len as usize], false)
    } else {
        (body, true)
    };
    let parsed = match kind {
        CLIENT_HELLO => client_hello(body, false, !cut).map(Hello::Client),
        SERVER_HELLO => server_hello(body, !cut).map(Hello::Server),
        _ => return Parsed::invalid(None),
    };
    if cut && parsed.status == Status::Complete {
        // The body read as complete up to the cut, but the message goes on.
        return Parsed::incomplete(parsed.value);
    }
    parsed
}

/// Reads the first handshake message of a TLS byte stream (one direction
/// of a TCP flow), joining the fragments of consecutive handshake records.
pub fn parse_records(stream: &[u8]) -> Parsed<Hello> {
    let mut r = Reader::new(stream);
    let mut msg: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    while let Some(header) = r.take(5) {
        let (kind, major, len) = (
            header[0],
            header[1],
            usize::from(u16::from_be_bytes([header[3], header[4]])),
        );
        if kind != HANDSHAKE || major != 3 {
            if msg.is_empty() {
                return Parsed::invalid(None);
            }
            break;
        }
        let frag = match r.take(len) {
            Some(f) => f,
            None => {
                let rest = r.rest();
                append(&mut msg, rest);
                break;
            }
        };
        append(&mut msg, frag);
        if whole_message(&msg) || msg.len() >= MAX_MESSAGE {
            break;
        }
    }
    if msg.is_empty() {
        return Parsed::incomplete(None);
    }
    parse_handshake(&msg)
}

/// Reads the first ClientHello or ServerHello of DTLS datagrams (one
/// direction of a UDP flow, datagrams concatenated or the first alone):
/// DTLS records (13-byte header) carrying handshake fragments (12-byte
/// header), put together by fragment offset.
pub fn parse_dtls_records(data: &[u8]) -> Parsed<Hello> {
    let mut r = Reader::new(data);
    let mut msg: Vec<u8> = Vec::new();
    let mut have = 0usize;
    let mut kind = None;
    let mut total = 0usize;
    while let Some(header) = r.take(13) {
        let (ctype, major) = (header[0], header[1]);
        let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        if ctype != HANDSHAKE || (major != 0xfe && major != 1) {
            break;
        }
        let rec = match r.take(len) {
            Some(rec) => rec,
            None => {
                let rest = r.rest();
                let _ = r.skip(rest.len());
                rest
            }
        };
        let mut h = Reader::new(rec);
        let (Some(t), Some(mlen), Some(_seq), Some(off), Some(flen)) =
            (h.u8(), h.u24(), h.u16(), h.u24(), h.u24())
        else {
            break;
        };
        if kind.is_none() {
            kind = Some(t);
            total = (mlen as usize).min(MAX_MESSAGE);
            msg.resize(total, 0);
        }
        if kind != Some(t) || off as usize != have {
            // Only the fragments that extend the message in order are used.
            if kind == Some(t) {
                continue;
            }
            break;
        }
        let frag = h.rest();
        let frag = &frag[..frag.len().min(flen as usize)];
        let end = (have + frag.len()).min(total);
        msg[have..end].copy_from_slice(&frag[..end - have]);
        have = end;
        if have >= total || r.is_empty() {
            break;
        }
    }
    let Some(kind) = kind else {
        return if r.pos() == 0 && data.len() >= 13 {
            Parsed::invalid(None)
        } else {
            Parsed::incomplete(None)
        };
    };
    msg.truncate(have);
    let parsed = match kind {
        CLIENT_HELLO => client_hello(&msg, true, have >= total).map(Hello::Client),
        SERVER_HELLO => server_hello(&msg, have >= total).map(Hello::Server),
        _ => return Parsed::invalid(None),
    };
    if have < total && parsed.status == Status::Complete {
        return Parsed::incomplete(parsed.value);
    }
    parsed
}

fn append<'a>(msg: &mut Cow<'a, [u8]>, more: &'a [u8]) {
    if msg.is_empty() {
        *msg = Cow::Borrowed(more);
    } else {
        let room = MAX_MESSAGE.saturating_sub(msg.len());
        msg.to_mut()
            .extend_from_slice(&more[..more.len().min(room)]);
    }
}

/// The buffer holds a whole handshake message (header and body).
fn whole_message(msg: &[u8]) -> bool {
    msg.len() >= 4 && msg.len() >= 4 + u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize
}

/// Reads a ClientHello body. `dtls` adds the cookie after the session id;
/// `whole` says the body is the whole message (not cut by the capture).
fn client_hello(body: &[u8], dtls: bool, whole: bool) -> Parsed<ClientHello> {
    let mut ch = ClientHello::default();
    let status = read_client_hello(body, dtls, whole, &mut ch);
    let started = ch.legacy_version != 0;
    match status {
        Status::Complete => Parsed::complete(ch),
        Status::Incomplete => Parsed::incomplete(started.then_some(ch)),
        Status::Invalid => Parsed::invalid(started.then_some(ch)),
    }
}

/// What both hellos start with: the legacy version, stored in `version`
/// once read (3.x or DTLS's 0xfe.., and 0x0100 from a DTLS client), the
/// random and the session id; the status to stop with when it is cut
/// short or malformed.
fn read_hello_start(r: &mut Reader<'_>, dtls: bool, version: &mut u16) -> Result<(), Status> {
    let v = r.u16().ok_or(Status::Incomplete)?;
    if v >> 8 != 3 && v >> 8 != 0xfe && !(dtls && v == 0x0100) {
        return Err(Status::Invalid);
    }
    *version = v;
    r.skip(32).ok_or(Status::Incomplete)?;
    let sid = r.u8().ok_or(Status::Incomplete)?;
    if sid > 32 {
        return Err(Status::Invalid);
    }
    r.skip(usize::from(sid)).ok_or(Status::Incomplete)?;
    Ok(())
}

fn read_client_hello(body: &[u8], dtls: bool, whole: bool, ch: &mut ClientHello) -> Status {
    let mut r = Reader::new(body);
    if let Err(status) = read_hello_start(&mut r, dtls, &mut ch.legacy_version) {
        return status;
    }
    if dtls {
        let Some(cookie) = r.u8() else {
            return Status::Incomplete;
        };
        if r.skip(usize::from(cookie)).is_none() {
            return Status::Incomplete;
        }
    }
    let Some(cs_len) = r.u16() else {
        return Status::Incomplete;
    };
    if cs_len % 2 != 0 {
        return Status::Invalid;
    }
    let Some(cs) = r.take(usize::from(cs_len)) else {
        return Status::Incomplete;
    };
    ch.cipher_suites = Some(
        cs.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    );
    let Some(comp) = r.u8() else {
        return Status::Incomplete;
    };
    if r.skip(usize::from(comp)).is_none() {
        return Status::Incomplete;
    }
    let mut kinds = std::mem::take(&mut ch.extensions);
    let status = read_extensions(&mut r, whole, &mut kinds, |kind, data| {
        client_extension(kind, data, ch)
    });
    ch.extensions = kinds;
    ch.extensions_complete = status == Status::Complete;
    status
}

/// The extension block that ends a hello, read from `r`: each
/// extension's type is pushed on `kinds` and `each(type, data)` reads it
/// (`None`: it is malformed, and so is the hello). A block longer than
/// the bytes left is read as far as they go, and the hello is incomplete;
/// an extension that overruns a block that is all there is invalid. With
/// `whole`, `r` holds the hello to its end, so a hello without the block
/// (allowed before TLS 1.3) is complete.
fn read_extensions(
    r: &mut Reader<'_>,
    whole: bool,
    kinds: &mut Vec<u16>,
    mut each: impl FnMut(u16, &[u8]) -> Option<()>,
) -> Status {
    if r.is_empty() {
        return if whole {
            Status::Complete
        } else {
            Status::Incomplete
        };
    }
    let Some(ext_len) = r.u16() else {
        return Status::Incomplete;
    };
    let (block, cut) = match r.take(usize::from(ext_len)) {
        Some(b) => (b, false),
        None => (r.rest(), true),
    };
    let broken = if cut {
        Status::Incomplete
    } else {
        Status::Invalid
    };
    let mut e = Reader::new(block);
    while !e.is_empty() {
        let (Some(kind), Some(len)) = (e.u16(), e.u16()) else {
            return broken;
        };
        kinds.push(kind);
        let Some(data) = e.take(usize::from(len)) else {
            return broken;
        };
        if each(kind, data).is_none() {
            return Status::Invalid;
        }
    }
    if cut {
        Status::Incomplete
    } else {
        Status::Complete
    }
}

/// Reads the extensions the metadata needs; `None` when one is malformed.
fn client_extension(kind: u16, data: &[u8], ch: &mut ClientHello) -> Option<()> {
    let mut r = Reader::new(data);
    match kind {
        EXT_SERVER_NAME if !data.is_empty() => {
            let list = r.u16()?;
            let mut l = Reader::new(r.take(usize::from(list))?);
            while !l.is_empty() {
                let t = l.u8()?;
                let n = l.u16()?;
                let name = l.take(usize::from(n))?;
                if t == 0 && ch.server_name.is_none() {
                    ch.server_name = text(name);
                }
            }
        }
        EXT_ALPN => {
            let list = r.u16()?;
            let mut l = Reader::new(r.take(usize::from(list))?);
            let mut names = Vec::new();
            while !l.is_empty() {
                let n = l.u8()?;
                let p = l.take(usize::from(n))?;
                if names.is_empty() {
                    ch.alpn_first = Some(p.to_vec());
                }
                names.push(String::from_utf8_lossy(p).into_owned());
            }
            ch.alpn = Some(names);
        }
        EXT_SUPPORTED_VERSIONS => {
            let n = r.u8()?;
            let v = r.take(usize::from(n))?;
            ch.supported_versions = Some(
                v.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            );
        }
        EXT_SIGNATURE_ALGORITHMS => {
            let n = r.u16()?;
            let v = r.take(usize::from(n))?;
            ch.signature_algorithms = Some(
                v.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            );
        }
        _ => {}
    }
    Some(())
}

fn server_hello(body: &[u8], whole: bool) -> Parsed<ServerHello> {
    let mut sh = ServerHello::default();
    let status = read_server_hello(body, whole, &mut sh);
    let started = sh.legacy_version != 0;
    match status {
        Status::Complete => Parsed::complete(sh),
        Status::Incomplete => Parsed::incomplete(started.then_some(sh)),
        Status::Invalid => Parsed::invalid(started.then_some(sh)),
    }
}

fn read_server_hello(body: &[u8], whole: bool, sh: &mut ServerHello) -> Status {
    let mut r = Reader::new(body);
    if let Err(status) = read_hello_start(&mut r, false, &mut sh.legacy_version) {
        return status;
    }
    let (Some(cipher), Some(_comp)) = (r.u16(), r.u8()) else {
        return Status::Incomplete;
    };
    sh.cipher_suite = Some(cipher);
    let mut kinds = std::mem::take(&mut sh.extensions);
    let status = read_extensions(&mut r, whole, &mut kinds, |kind, data| {
        server_extension(kind, data, sh);
        Some(())
    });
    sh.extensions = kinds;
    sh.extensions_complete = status == Status::Complete;
    status
}

/// Reads the extensions of a ServerHello the metadata needs; a malformed
/// one is passed over.
fn server_extension(kind: u16, data: &[u8], sh: &mut ServerHello) {
    let mut d = Reader::new(data);
    match kind {
        EXT_SUPPORTED_VERSIONS => sh.selected_version = d.u16(),
        EXT_ALPN => {
            let p = d
                .u16()
                .and_then(|_| d.u8())
                .and_then(|n| d.take(usize::from(n)));
            if let Some(p) = p {
                sh.alpn = Some(String::from_utf8_lossy(p).into_owned());
                sh.alpn_raw = Some(p.to_vec());
            }
        }
        _ => {}
    }
}

/// Registry entry: TLS over TCP (a handshake record at the start of either
/// direction).
pub const DISSECTOR: Dissector = Dissector {
    name: "tls",
    priority: 10,
    applies: applies_tcp,
    extract: extract_tcp,
};

/// Registry entry: DTLS (a DTLS handshake record at the start of either
/// direction of a UDP flow).
pub const DTLS_DISSECTOR: Dissector = Dissector {
    name: "dtls",
    priority: 10,
    applies: applies_dtls,
    extract: extract_dtls,
};

/// The bytes start like a TLS handshake record (type 22, version 3.x).
pub fn starts_handshake_record(b: &[u8]) -> bool {
    b.len() >= 3 && b[0] == HANDSHAKE && b[1] == 3 && b[2] <= 4
}

/// The bytes start like a DTLS handshake record: type 22, a DTLS version
/// (0xfeff, 0xfefd, 0xfefc, or OpenSSL's pre-standard 0x0100).
fn starts_dtls_record(b: &[u8]) -> bool {
    b.len() >= 3
        && b[0] == HANDSHAKE
        && ((b[1] == 0xfe && b[2] >= 0xfc) || (b[1] == 1 && b[2] == 0))
}

/// The datagram starts with a DTLS handshake record.
pub fn starts_dtls_handshake(b: &[u8]) -> bool {
    starts_dtls_record(b)
}

/// The datagram starts with a DTLS record carrying a ClientHello fragment.
pub fn starts_dtls_client_hello(b: &[u8]) -> bool {
    starts_dtls_record(b) && b.get(13) == Some(&CLIENT_HELLO)
}

fn applies_tcp(v: &FlowView<'_>) -> bool {
    v.transport == TCP && (starts_handshake_record(v.c2s) || starts_handshake_record(v.s2c))
}

/// A direction's DTLS bytes: from its start, or after the STUN messages a
/// WebRTC flow opens with (RFC 7983 demultiplexes both on one port).
fn dtls_part(side: &[u8]) -> &[u8] {
    if starts_dtls_record(side) {
        side
    } else {
        super::stun::after_messages(side)
    }
}

fn applies_dtls(v: &FlowView<'_>) -> bool {
    v.transport == UDP
        && (starts_dtls_record(dtls_part(v.c2s)) || starts_dtls_record(dtls_part(v.s2c)))
}

/// Copies a ClientHello's fields into the fields of `m` still unset.
pub(crate) fn fill_client(ch: &ClientHello, transport: Transport, m: &mut Metadata) {
    if m.hostname.is_none() {
        m.hostname = ch.server_name.clone();
    }
    if m.alpn.is_none() {
        m.alpn = ch.alpn.clone();
    }
    if m.ja4.is_none() {
        m.ja4 = ch.ja4(transport);
    }
}

fn fill_server(sh: &ServerHello, transport: Transport, m: &mut Metadata) {
    if sh.cipher_suite.is_some() && m.tls_version.is_none() {
        m.tls_version = Some(sh.selected_version.unwrap_or(sh.legacy_version));
    }
    if m.ja4s.is_none() {
        m.ja4s = sh.ja4s(transport);
    }
}

fn fill(p: Parsed<Hello>, transport: Transport, m: &mut Metadata) {
    match p.value {
        Some(Hello::Client(ch)) => fill_client(&ch, transport, m),
        Some(Hello::Server(sh)) => fill_server(&sh, transport, m),
        None => {}
    }
}

fn extract_tcp(v: &FlowView<'_>, m: &mut Metadata) {
    for side in [v.c2s, v.s2c] {
        if starts_handshake_record(side) {
            fill(parse_records(side), Transport::Tcp, m);
        }
    }
}

fn extract_dtls(v: &FlowView<'_>, m: &mut Metadata) {
    for side in [dtls_part(v.c2s), dtls_part(v.s2c)] {
        if starts_dtls_record(side) {
            fill(parse_dtls_records(side), Transport::Dtls, m);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ClientHello handshake message from its parts.
    pub(crate) fn client_hello_msg(
        version: u16,
        ciphers: &[u16],
        extensions: &[(u16, Vec<u8>)],
    ) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend([7u8; 32]);
        body.push(0);
        body.extend(((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            body.extend(c.to_be_bytes());
        }
        body.extend([1, 0]);
        let mut ext = Vec::new();
        for (k, d) in extensions {
            ext.extend(k.to_be_bytes());
            ext.extend((d.len() as u16).to_be_bytes());
            ext.extend(d);
        }
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut msg = vec![CLIENT_HELLO];
        msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend(body);
        msg
    }

    pub(crate) fn sni_ext(name: &str) -> (u16, Vec<u8>) {
        let n = name.len() as u16;
        let mut d = (n + 3).to_be_bytes().to_vec();
        d.push(0);
        d.extend(n.to_be_bytes());
        d.extend(name.as_bytes());
        (EXT_SERVER_NAME, d)
    }

    pub(crate) fn alpn_ext(names: &[&[u8]]) -> (u16, Vec<u8>) {
        let mut l = Vec::new();
        for n in names {
            l.push(n.len() as u8);
            l.extend(*n);
        }
        let mut d = (l.len() as u16).to_be_bytes().to_vec();
        d.extend(l);
        (EXT_ALPN, d)
    }

    fn u16_list(kind: u16, values: &[u16], one_byte_len: bool) -> (u16, Vec<u8>) {
        let mut d = Vec::new();
        if one_byte_len {
            d.push((values.len() * 2) as u8);
        } else {
            d.extend(((values.len() * 2) as u16).to_be_bytes());
        }
        for v in values {
            d.extend(v.to_be_bytes());
        }
        (kind, d)
    }

    /// The ClientHello of FoxIO's JA4 example (`technical_details/JA4.md`):
    /// its 15 cipher suites, 16 extensions and 8 signature algorithms in
    /// the order given there, with GREASE values added.
    pub(crate) fn foxio_example() -> Vec<u8> {
        let ciphers = [
            0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let order = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let mut exts = vec![(0x3a3a, vec![])];
        for k in order {
            exts.push(match k {
                0x0000 => sni_ext("example.com"),
                0x0010 => alpn_ext(&[b"h2", b"http/1.1"]),
                0x000d => u16_list(0x000d, &sigs, false),
                0x002b => u16_list(0x002b, &[0x7a7a, 0x0304, 0x0303], true),
                k => (k, vec![]),
            });
        }
        exts.push((0x4a4a, vec![0]));
        client_hello_msg(0x0303, &ciphers, &exts)
    }

    fn record(msg: &[u8], split: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for &end in split.iter().chain(std::iter::once(&msg.len())) {
            out.extend([HANDSHAKE, 3, 1]);
            out.extend(((end - at) as u16).to_be_bytes());
            out.extend(&msg[at..end]);
            at = end;
        }
        out
    }

    #[test]
    fn foxio_ja4_example() {
        // FoxIO's worked example: JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1.
        let msg = foxio_example();
        let p = parse_handshake(&msg);
        assert_eq!(p.status, Status::Complete);
        let Some(Hello::Client(ch)) = p.value else {
            panic!("not a ClientHello")
        };
        assert_eq!(ch.server_name.as_deref(), Some("example.com"));
        assert_eq!(
            ch.alpn,
            Some(vec!["h2".to_string(), "http/1.1".to_string()])
        );
        assert_eq!(
            ch.ja4(Transport::Tcp).as_deref(),
            Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
        );
        assert_eq!(
            ch.ja4(Transport::Quic).as_deref(),
            Some("q13d1516h2_8daaf6152771_e5627efa2ab1")
        );
    }

    #[test]
    fn foxio_hash_examples() {
        // The strings and truncated hashes given in JA4.md.
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
        assert_eq!(hash12(""), "000000000000");
    }

    #[test]
    fn foxio_alpn_examples() {
        let cases: &[(&[u8], &str)] = &[
            (b"h2", "h2"),
            (b"http/1.1", "h1"),
            (b"h", "hh"),
            (b"", "00"),
            (&[0xab], "ab"),
            (&[0xab, 0xcd], "ad"),
            (&[0x30, 0xab], "3b"),
            (&[0x30, 0x31, 0xab, 0xcd], "3d"),
            (&[0x30, 0xab, 0xcd, 0x31], "01"),
        ];
        for (alpn, want) in cases {
            assert_eq!(alpn_code(Some(alpn)), *want, "{alpn:?}");
        }
        assert_eq!(alpn_code(None), "00");
    }

    #[test]
    fn foxio_ja4s_example() {
        // JA4S.md: extensions 0005,0017,ff01,0000, cipher c030, TLS 1.2.
        let sh = ServerHello {
            legacy_version: 0x0303,
            cipher_suite: Some(0xc030),
            extensions: vec![0x0005, 0x0017, 0xff01, 0x0000],
            extensions_complete: true,
            ..ServerHello::default()
        };
        assert_eq!(
            sh.ja4s(Transport::Tcp).as_deref(),
            Some("t120400_c030_4e8089b08790")
        );
    }

    #[test]
    fn records_split_anywhere_give_the_same_hello() {
        let msg = foxio_example();
        let whole = parse_records(&record(&msg, &[]));
        for cut in [1, 3, 4, 50, 100, msg.len() - 1] {
            let split = parse_records(&record(&msg, &[cut]));
            assert_eq!(split, whole, "split at {cut}");
        }
        let three = parse_records(&record(&msg, &[10, 60]));
        assert_eq!(three, whole);
        // Bytes after the message (the next record) change nothing.
        let mut more = record(&msg, &[40]);
        more.extend([0x14, 3, 3, 0, 1, 1]);
        assert_eq!(parse_records(&more), whole);
    }

    #[test]
    fn truncation_gives_incomplete_and_a_prefix() {
        let full = record(&foxio_example(), &[]);
        for n in 0..full.len() {
            let p = parse_records(&full[..n]);
            assert_eq!(p.status, Status::Incomplete, "cut at {n}");
            if let Some(Hello::Client(ch)) = &p.value {
                assert!(ch.ja4(Transport::Tcp).is_none());
                if let Some(sni) = &ch.server_name {
                    assert_eq!(sni, "example.com");
                }
            }
        }
    }

    #[test]
    fn not_tls_is_invalid() {
        assert_eq!(parse_records(b"GET / HTTP/1.1\r\n").status, Status::Invalid);
        assert_eq!(
            parse_records(&[0x16, 3, 1, 0, 4, 9, 0, 0, 0]).status,
            Status::Invalid
        );
        assert_eq!(parse_records(&[0x16, 3]).status, Status::Incomplete);
    }

    #[test]
    fn server_hello_with_tls13_version_and_alpn() {
        let mut body = vec![3, 3];
        body.extend([1u8; 32]);
        body.push(0);
        body.extend([0x13, 0x01, 0]);
        let exts: Vec<u8> = [
            &[0x00, 0x2b, 0, 2, 3, 4][..],
            &[0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2'][..],
        ]
        .concat();
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut msg = vec![SERVER_HELLO, 0, 0, body.len() as u8];
        msg.extend(body);
        let p = parse_records(&record(&msg, &[]));
        let Some(Hello::Server(sh)) = p.value else {
            panic!()
        };
        assert_eq!(sh.selected_version, Some(0x0304));
        assert_eq!(sh.alpn.as_deref(), Some("h2"));
        let ja4s = sh.ja4s(Transport::Tcp).unwrap();
        assert!(ja4s.starts_with("t1302h2_1301_"), "{ja4s}");
    }

    #[test]
    fn dtls_client_hello_in_two_fragments() {
        let msg = foxio_example();
        // DTLS: the body gains a cookie after the session id.
        let body = &msg[4..];
        let mut dbody = body[..35].to_vec();
        dbody.push(0); // empty cookie
        dbody.extend(&body[35..]);
        dbody[0] = 0xfe;
        dbody[1] = 0xfd;
        let total = dbody.len();
        let mut out = Vec::new();
        for (off, part) in [(0, &dbody[..100]), (100, &dbody[100..])] {
            let mut hs = vec![CLIENT_HELLO];
            hs.extend(&(total as u32).to_be_bytes()[1..]);
            hs.extend([0, 0]);
            hs.extend(&(off as u32).to_be_bytes()[1..]);
            hs.extend(&(part.len() as u32).to_be_bytes()[1..]);
            hs.extend(part);
            out.extend([HANDSHAKE, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend((hs.len() as u16).to_be_bytes());
            out.extend(hs);
        }
        let p = parse_dtls_records(&out);
        assert_eq!(p.status, Status::Complete);
        let Some(Hello::Client(ch)) = p.value else {
            panic!()
        };
        // supported_versions says TLS 1.3 here (0x0304, the highest value).
        assert_eq!(
            ch.ja4(Transport::Dtls).as_deref(),
            Some("d13d1516h2_8daaf6152771_e5627efa2ab1")
        );
        // The same hello after a STUN binding request (WebRTC), in either
        // direction: the DTLS dissector reads it after the STUN message.
        let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        stun.extend([9u8; 12]);
        stun.extend([0x80, 0x22, 0x00, 0x04]);
        stun.extend(b"test");
        let mut flow = stun.clone();
        flow.extend(&out);
        for (c2s, s2c) in [(&flow[..], &stun[..]), (&stun[..], &flow[..])] {
            let view = FlowView::new(UDP, 3478)
                .with_client_port(50000)
                .with_c2s(c2s)
                .with_s2c(s2c);
            assert_eq!(
                crate::protocols::extract(&view).ja4.as_deref(),
                Some("d13d1516h2_8daaf6152771_e5627efa2ab1")
            );
        }
        // A STUN message alone, or one whose length runs past the bytes,
        // gives no DTLS.
        let view = FlowView::new(UDP, 3478).with_c2s(&stun[..24]);
        assert!(crate::protocols::extract(&view).ja4.is_none());
    }
}
