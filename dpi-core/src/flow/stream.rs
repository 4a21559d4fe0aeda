//! Per-direction user-data capture: the first N bytes of one direction.
//!
//! # TCP
//!
//! The stream starts at ISN+1 when the SYN of the direction is seen before
//! any payload, otherwise at the sequence number of the first
//! payload-bearing segment seen. Bytes are written straight into the
//! direction's N-byte buffer at their offset from the stream start, so an
//! out-of-order segment costs no copy beyond its own bytes and no
//! allocation. Which parts of the buffer hold data is tracked by
//!
//! - `contig`: the length of the contiguous prefix from the stream start,
//! - `ranges`: up to `reorder_segments` disjoint, non-adjacent ranges
//!   beyond that prefix, sorted by offset (the list is made at the first
//!   range held, with room for all of them, so it never grows afterwards;
//!   a direction whose segments come in order never makes it).
//!
//! The buffer of a direction is allocated at its first payload, with the
//! room the capture needs: N bytes (or the
//! handshake's, below) for TCP; for datagrams, the first datagram's bytes
//! when nothing is appended to it (no concatenation, no handshake
//! gathering), N or the bound otherwise. A direction without payload
//! allocates nothing.
//!
//! Bytes already written are never overwritten: retransmissions and
//! overlaps keep the bytes first seen. A segment that would need a new range
//! while the list is full is dropped (it may be retransmitted later). The
//! captured user data is the contiguous prefix: bytes after a gap that never
//! fills are never reported. Sequence numbers are compared with wrapping
//! arithmetic: a segment starting up to 2^31 bytes before the stream start
//! counts as "before" and only its part from the start on is used.
//!
//! A SYN seen after the stream was started from a data segment (the capture
//! reordered the handshake) does not move the start.
//!
//! # Handshakes kept longer
//!
//! A direction made with a handshake bound (the initiator's, when
//! [`FlowConfig::handshake_bytes`](super::FlowConfig::handshake_bytes) is
//! above N) looks once at its first bytes, before storing them:
//!
//! - TCP: when they start a TLS handshake record holding a ClientHello,
//!   the capture limit becomes the hello's length as its headers announce
//!   it (record headers included), at most the bound; when they start an
//!   HTTP request (a method and a space), the bound (long request lines
//!   push the `Host` header past N);
//! - datagrams: when the first datagram is a QUIC client Initial of a
//!   version the QUIC parser reads, the capture keeps whole datagrams and
//!   appends the following long-header datagrams (the rest of the first
//!   flight) up to the bound; the first short-header datagram, a datagram
//!   cut by the snap length or the bound ends it; when it is a DTLS
//!   ClientHello, the same with the datagrams that start with a DTLS
//!   handshake record (a hello fragmented over datagrams);
//! - datagrams, in either direction (the responder's too): when the first
//!   datagram is one whole STUN message with the magic cookie (a WebRTC
//!   flow's connectivity checks, RFC 8445), it is kept (up to N), the
//!   STUN datagrams after it are passed over (at most 32), and when the
//!   first other datagram starts a DTLS handshake record (RFC 7983: DTLS
//!   and STUN share the port), it and the handshake datagrams after it
//!   are appended up to the bound, as above; any other datagram (media)
//!   ends the capture. The responder's direction looks for this alone.
//!
//! The buffer grows once, at that first look (after a STUN message, at the
//! DTLS datagram). Other flows keep N.
//!
//! # Datagrams (UDP and every other transport)
//!
//! The first payload-bearing datagram's first N bytes. With concatenation,
//! later datagrams are appended until N bytes are held; a datagram cut short
//! by the snap length (or a first fragment) ends the capture, so bytes that
//! did not follow each other are never joined.

use crate::TcpInfo;

/// Which handshake a datagram direction is gathering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gather {
    Off,
    /// QUIC: long-header datagrams.
    Quic,
    /// DTLS: datagrams that start with a DTLS handshake record.
    Dtls,
    /// A STUN message came first: later STUN datagrams are passed over,
    /// and a DTLS handshake datagram after them is gathered as `Dtls`.
    Stun,
}

/// STUN datagrams passed over after the first before a direction stops
/// waiting for what follows them.
const STUN_SKIP: u32 = 32;

/// What a direction looks for in its first bytes before storing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    /// Nothing (decided already, or no bound to raise the limit to).
    Done,
    /// A handshake to keep up to [`Bounds::handshake`]: a TLS ClientHello
    /// or an HTTP request (TCP), a QUIC or DTLS client's first flight or
    /// a STUN exchange (datagrams).
    Handshake,
    /// Datagrams of the responder: only a STUN exchange followed by DTLS.
    StunOnly,
}

/// The table's bounds, the same for every direction: handed in with each
/// packet rather than kept in each of them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// Bytes kept per direction (N).
    pub(crate) n: usize,
    /// TCP: out-of-order ranges held at most.
    pub(crate) reorder: usize,
    /// The bound a handshake may raise the capture limit to.
    pub(crate) handshake: usize,
    /// Datagrams: append later ones up to N.
    pub(crate) concat: bool,
}

/// TCP: out-of-order ranges `[start, end)` beyond the contiguous prefix,
/// sorted, disjoint and non-adjacent; made at the first range held, with
/// room for [`Bounds::reorder`] of them, and never grown past it. Few
/// directions ever hold one: the flow table keeps them aside, by slot, and
/// hands a direction its list with each segment.
// Boxed for a thin pointer in the table's map.
#[allow(clippy::box_collection)]
pub(crate) type Ranges = Option<Box<Vec<(u32, u32)>>>;

/// Capture state of one direction (16 bytes). The bytes live in the
/// direction's payload vector, a TCP direction's out-of-order ranges in
/// its [`Ranges`]; this holds what is needed to place more of them.
#[derive(Debug)]
pub(crate) struct Stream {
    /// TCP: sequence number of buffer offset 0, valid once `started`.
    base: u32,
    /// TCP: length of the contiguous prefix held in the buffer.
    /// Datagrams gathering after a STUN message: the STUN datagrams
    /// passed over since.
    contig: u32,
    /// The capture limit when a handshake raised it above N (0: N).
    limit: u32,
    /// `STARTED`, `CLOSED` and `RANGED` bits.
    bits: u8,
    /// The decision still to make at the first bytes.
    look: Look,
    /// Datagrams: the handshake datagrams being appended, if any.
    gather: Gather,
}

impl Stream {
    /// State for a TCP direction.
    pub(crate) fn tcp() -> Self {
        Stream {
            base: 0,
            contig: 0,
            limit: 0,
            bits: 0,
            look: Look::Done,
            gather: Gather::Off,
        }
    }

    /// State for a datagram direction (UDP and everything that is not TCP).
    pub(crate) fn datagram() -> Self {
        Stream::tcp()
    }

    /// Makes the direction look at its first bytes for a handshake that
    /// may be kept up to [`Bounds::handshake`] bytes.
    pub(crate) fn with_handshake_bound(mut self) -> Self {
        self.look = Look::Handshake;
        self
    }

    /// The responder's direction of a datagram flow: its first bytes may
    /// open a STUN exchange followed by a DTLS handshake kept up to
    /// [`Bounds::handshake`] bytes (the DTLS client of a WebRTC session
    /// may be either side), but no other handshake raises its limit.
    pub(crate) fn with_stun_bound(mut self) -> Self {
        self.look = Look::StunOnly;
        self
    }

    /// Datagrams: nothing more is appended (for TCP, always false).
    pub(crate) fn is_closed(&self) -> bool {
        self.bits & CLOSED != 0
    }

    /// TCP: the direction has a range list ([`Ranges`]), which the caller
    /// keeps and hands back with each segment.
    pub(crate) fn has_ranges(&self) -> bool {
        self.bits & RANGED != 0
    }

    fn close(&mut self) {
        self.bits |= CLOSED;
    }

    /// The capture limit: N, or the handshake's when it raised it.
    fn cap(&self, n: usize) -> usize {
        n.max(self.limit as usize)
    }

    /// The first bytes of the stream are `first`: raise the limit when they
    /// start a TLS ClientHello, and grow the buffer once.
    fn decide_tcp(&mut self, buf: &mut Vec<u8>, n: usize, bound: usize, first: &[u8]) {
        self.look = Look::Done;
        if bound <= n {
            return;
        }
        if crate::protocols::http::starts_request(first) {
            self.limit = bound as u32;
            buf.reserve_exact(bound.saturating_sub(buf.len()));
            return;
        }
        if !crate::protocols::tls::starts_handshake_record(first) {
            return;
        }
        if first.get(5) != Some(&1) {
            return;
        }
        let record = first
            .get(3..5)
            .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        let need = match first.get(6..9) {
            Some(l) if record > 0 => {
                let hello = 4 + u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize;
                // Every record carries at most `record` bytes of it.
                hello + 5 * hello.div_ceil(record)
            }
            _ => bound,
        };
        let limit = need.min(bound);
        if limit > n {
            self.limit = limit as u32;
            buf.reserve_exact(limit.saturating_sub(buf.len()));
        }
    }

    /// Accounts one TCP segment of this direction. `data` is the payload
    /// bytes present, `payload_len` the payload length the headers announce.
    pub(crate) fn tcp_segment(
        &mut self,
        buf: &mut Vec<u8>,
        ranges: &mut Ranges,
        bounds: Bounds,
        tcp: &TcpInfo,
        data: &[u8],
        payload_len: u32,
    ) {
        if is_ack_padding(tcp, data, payload_len) {
            return;
        }
        let syn = tcp.flags & TcpInfo::SYN != 0;
        let seq = if syn {
            tcp.seq.wrapping_add(1)
        } else {
            tcp.seq
        };
        if self.bits & STARTED == 0 {
            if syn || payload_len > 0 || !data.is_empty() {
                self.base = seq;
                self.bits |= STARTED;
            } else {
                return;
            }
        }
        if data.is_empty() {
            return;
        }
        let start = i64::from(seq.wrapping_sub(self.base) as i32);
        if self.look != Look::Done && start <= 0 && start + data.len() as i64 > 0 {
            let from = (-start) as usize;
            self.decide_tcp(buf, bounds.n, bounds.handshake, &data[from..]);
        }
        let n = self.cap(bounds.n);
        if self.contig as usize >= n {
            return;
        }
        if buf.capacity() < n {
            // The first bytes: room for the whole capture, once.
            buf.reserve_exact(n - buf.len());
        }
        let end = start + data.len() as i64;
        let s = start.max(i64::from(self.contig));
        let e = end.min(n as i64);
        if s >= e {
            return;
        }
        let from = (s - start) as usize;
        let to = (e - start) as usize;
        self.insert(
            buf,
            ranges,
            bounds.reorder,
            s as u32,
            e as u32,
            &data[from..to],
        );
    }

    /// Places `data`, which covers `[s, e)` with `contig <= s < e <= n`,
    /// holding at most `max_ranges` ranges beyond the prefix.
    fn insert(
        &mut self,
        buf: &mut Vec<u8>,
        ranges: &mut Ranges,
        max_ranges: usize,
        s: u32,
        e: u32,
        data: &[u8],
    ) {
        // Ranges that overlap or touch [s, e) merge with it.
        let held = ranges.as_deref().map_or(&[][..], |r| r.as_slice());
        let first = held.partition_point(|&(_, re)| re < s);
        let mut last = first;
        while last < held.len() && held[last].0 <= e {
            last += 1;
        }
        let merging = last - first;
        if s > self.contig && merging == 0 && held.len() >= max_ranges {
            return;
        }
        if buf.len() < e as usize {
            buf.resize(e as usize, 0);
        }
        if s <= self.contig && merging == 0 {
            // In order, touching no range: the common case.
            write(buf, s, e, s, data);
            self.contig = self.contig.max(e);
            return;
        }
        // The first range held makes the list, with room for all of them, once.
        self.bits |= RANGED;
        let ranges = ranges.get_or_insert_with(|| Box::new(Vec::with_capacity(max_ranges)));
        // Fill the holes of [s, e) that no range covers yet.
        let mut cursor = s;
        for &(rs, re) in &ranges[first..last] {
            if rs > cursor {
                let hole_end = rs.min(e);
                write(buf, cursor, hole_end, s, data);
            }
            cursor = cursor.max(re);
        }
        if cursor < e {
            write(buf, cursor, e, s, data);
        }
        let (mut ms, mut me) = (s, e);
        if merging > 0 {
            ms = ms.min(ranges[first].0);
            me = me.max(ranges[last - 1].1);
        }
        if ms <= self.contig {
            self.contig = self.contig.max(me);
            ranges.drain(first..last);
            // The grown prefix may now touch the next range.
            if let Some(&(rs, re)) = ranges.first() {
                if rs <= self.contig {
                    self.contig = self.contig.max(re);
                    ranges.remove(0);
                }
            }
        } else if merging == 0 {
            ranges.insert(first, (ms, me));
        } else {
            ranges[first] = (ms, me);
            ranges.drain(first + 1..last);
        }
    }

    /// Accounts one datagram of this direction.
    pub(crate) fn datagram_payload(
        &mut self,
        buf: &mut Vec<u8>,
        bounds: Bounds,
        data: &[u8],
        complete: bool,
    ) {
        let (n, concat) = (bounds.n, bounds.concat);
        if self.is_closed() {
            return;
        }
        if self.look != Look::Done {
            let bound = bounds.handshake;
            let stun_only = self.look == Look::StunOnly;
            self.look = Look::Done;
            let gather = if bound <= n {
                Gather::Off
            } else if complete && crate::protocols::stun::message_len(data) == Some(data.len()) {
                Gather::Stun
            } else if stun_only {
                Gather::Off
            } else if crate::protocols::quic::is_client_initial(data) {
                Gather::Quic
            } else if crate::protocols::tls::starts_dtls_client_hello(data) {
                Gather::Dtls
            } else {
                Gather::Off
            };
            if gather == Gather::Stun {
                // The STUN message itself, up to N: the room for more
                // is made only when a DTLS handshake follows.
                self.gather = gather;
                self.limit = bound as u32;
                let take = n.min(data.len());
                buf.reserve_exact(take);
                buf.extend_from_slice(&data[..take]);
                if take < data.len() {
                    self.close();
                }
                return;
            }
            if gather != Gather::Off {
                self.gather = gather;
                self.limit = bound as u32;
                buf.reserve_exact(bound.saturating_sub(buf.len()));
            }
        }
        if self.gather == Gather::Stun {
            if crate::protocols::stun::starts_message(data) {
                // The exchange goes on (checks, retransmissions): passed
                // over, a bounded number of times.
                self.contig += 1;
                if self.contig >= STUN_SKIP {
                    self.close();
                }
                return;
            }
            if !(complete && crate::protocols::tls::starts_dtls_handshake(data)) {
                // Media (RTP, RTCP) or anything else: nothing more kept.
                self.close();
                return;
            }
            self.gather = Gather::Dtls;
            let bound = self.cap(n);
            buf.reserve_exact(bound.saturating_sub(buf.len()));
        }
        if self.gather != Gather::Off {
            // Whole handshake datagrams only, up to the bound.
            let n = self.cap(n);
            let more = match self.gather {
                Gather::Quic => data.first().is_some_and(|b| b & 0x80 != 0),
                _ => crate::protocols::tls::starts_dtls_handshake(data),
            };
            if !buf.is_empty() && !more {
                self.close();
                return;
            }
            let take = n.saturating_sub(buf.len()).min(data.len());
            buf.extend_from_slice(&data[..take]);
            if !complete || buf.len() >= n {
                self.close();
            }
            return;
        }
        let room = n.saturating_sub(buf.len());
        let take = room.min(data.len());
        if buf.capacity() == 0 {
            // The first datagram: its bytes when nothing is appended to
            // it, else room for N.
            let appends = concat && complete && take < n;
            buf.reserve_exact(if appends { n } else { take });
        }
        buf.extend_from_slice(&data[..take]);
        if !concat || !complete || buf.len() >= n {
            self.close();
        }
    }

    /// Cuts the buffer down to the user data that was captured.
    /// How many of `buf`'s bytes are captured for good while the flow is
    /// live: TCP, the contiguous prefix (out-of-order ranges wait beyond
    /// it); datagrams, all of them.
    pub(crate) fn ready(&self, buf: &[u8], is_tcp: bool) -> usize {
        if is_tcp {
            buf.len().min(self.contig as usize)
        } else {
            buf.len()
        }
    }

    pub(crate) fn finish(&self, buf: &mut Vec<u8>, is_tcp: bool) {
        if is_tcp {
            buf.truncate(self.contig as usize);
        }
    }
}

/// [`Stream::bits`]: TCP, the stream start is known.
const STARTED: u8 = 1;
/// Datagrams: nothing more is appended.
const CLOSED: u8 = 2;
/// TCP: the direction has a range list.
const RANGED: u8 = 4;

/// Copies `data[lo - s .. hi - s]` to `buf[lo..hi]`.
fn write(buf: &mut [u8], lo: u32, hi: u32, s: u32, data: &[u8]) {
    let (lo, hi, s) = (lo as usize, hi as usize, s as usize);
    buf[lo..hi].copy_from_slice(&data[lo - s..hi - s]);
}

/// Whether a TCP segment is padding rather than stream data: a bare ACK
/// (no SYN, FIN, RST or PSH) whose 2 to 7 payload bytes are all zero.
/// Some links and middleboxes pad short ACKs this way and count the
/// padding in the IP length; the bytes share the sequence number of the
/// data that follows, so taken as data they would shadow its first bytes
/// (a ClientHello read from its third byte). nDPI skips them too (its TCP
/// ACK payload heuristic). A single byte is left alone: it is a keep-alive.
/// The packet still counts in the flow's packets and sizes.
pub(crate) fn is_ack_padding(tcp: &TcpInfo, data: &[u8], payload_len: u32) -> bool {
    const NOT_BARE: u8 = TcpInfo::SYN | TcpInfo::FIN | TcpInfo::RST | TcpInfo::PSH;
    tcp.flags & TcpInfo::ACK != 0
        && tcp.flags & NOT_BARE == 0
        && (2..8).contains(&payload_len)
        && data.len() == payload_len as usize
        && data.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISN: u32 = 1000;

    /// Bounds of a TCP direction: N, ranges held.
    pub(super) fn tb(n: usize, reorder: usize) -> Bounds {
        Bounds {
            n,
            reorder,
            handshake: 0,
            concat: false,
        }
    }

    /// Bounds of a datagram direction: N, concatenation, handshake bound.
    pub(super) fn db(n: usize, concat: bool, handshake: usize) -> Bounds {
        Bounds {
            n,
            reorder: 0,
            handshake,
            concat,
        }
    }

    /// Name, N, range capacity, SYN's ISN, segments `(seq, bytes)`, expected capture.
    type TcpCase<'a> = (
        &'a str,
        usize,
        usize,
        Option<u32>,
        &'a [(u32, &'a [u8])],
        &'a [u8],
    );
    /// Name, N, concatenate, datagrams `(bytes, complete)`, expected capture.
    type DatagramCase<'a> = (&'a str, usize, bool, &'a [(&'a [u8], bool)], &'a [u8]);

    fn seg(seq: u32, flags: u8) -> TcpInfo {
        TcpInfo {
            seq,
            ack: 0,
            flags,
            window: 0,
        }
    }

    /// Feeds segments `(seq, bytes)` and returns the captured user data.
    fn run(n: usize, max_ranges: usize, syn: Option<u32>, segs: &[(u32, &[u8])]) -> Vec<u8> {
        let (mut st, mut r) = (Stream::tcp(), None);
        let mut buf = Vec::with_capacity(n);
        if let Some(isn) = syn {
            st.tcp_segment(
                &mut buf,
                &mut r,
                tb(n, max_ranges),
                &seg(isn, TcpInfo::SYN),
                &[],
                0,
            );
        }
        for &(seq, d) in segs {
            st.tcp_segment(
                &mut buf,
                &mut r,
                tb(n, max_ranges),
                &seg(seq, TcpInfo::ACK),
                d,
                d.len() as u32,
            );
        }
        st.finish(&mut buf, true);
        buf
    }

    /// Padding on a bare ACK (nDPI's TCP ACK payload heuristic) is not
    /// data: the record that follows at the same sequence number is read
    /// from its first byte, with or without a SYN seen. Zeros that are
    /// data (PSH set, one byte, or any non-zero byte) stay.
    #[test]
    fn bare_ack_padding_is_not_data() {
        let hello: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        let feed = |syn: bool, first: (u8, &[u8])| {
            let (mut st, mut r) = (Stream::tcp(), None);
            let mut buf = Vec::with_capacity(64);
            if syn {
                let syn = seg(ISN, TcpInfo::SYN);
                st.tcp_segment(&mut buf, &mut r, tb(64, 4), &syn, &[], 0);
            }
            let (flags, pad) = first;
            let (a, b) = (
                seg(ISN + 1, flags),
                seg(ISN + 1, TcpInfo::ACK | TcpInfo::PSH),
            );
            st.tcp_segment(&mut buf, &mut r, tb(64, 4), &a, pad, pad.len() as u32);
            st.tcp_segment(&mut buf, &mut r, tb(64, 4), &b, hello, hello.len() as u32);
            st.finish(&mut buf, true);
            buf
        };
        for syn in [true, false] {
            for pad in [&[0u8; 2][..], &[0; 6], &[0; 7]] {
                assert_eq!(
                    feed(syn, (TcpInfo::ACK, pad)),
                    hello,
                    "syn {syn} pad {pad:?}"
                );
            }
            // Data: PSH set, a keep-alive's single byte, 8 bytes, a non-zero byte.
            let kept: [(u8, &[u8]); 4] = [
                (TcpInfo::ACK | TcpInfo::PSH, &[0, 0]),
                (TcpInfo::ACK, &[0]),
                (TcpInfo::ACK, &[0; 8]),
                (TcpInfo::ACK, &[0, 1]),
            ];
            for (flags, d) in kept {
                let got = feed(syn, (flags, d));
                assert_eq!(&got[..d.len()], d, "syn {syn} flags {flags:#x} {d:?}");
                assert_eq!(&got[d.len()..], &hello[d.len()..], "syn {syn} {d:?}");
            }
        }
        // A padding segment announcing more than it carries is not padding
        // that can be checked: it is left to the stream as before.
        let t = seg(ISN + 1, TcpInfo::ACK);
        assert!(!is_ack_padding(&t, &[0, 0], 4));
        assert!(is_ack_padding(&t, &[0, 0, 0, 0], 4));
    }

    #[test]
    fn tcp_cases() {
        let s = ISN + 1;
        let cases: &[TcpCase] = &[
            (
                "in order",
                64,
                8,
                Some(ISN),
                &[(s, b"abc"), (s + 3, b"def")],
                b"abcdef",
            ),
            (
                "cut at n",
                4,
                8,
                Some(ISN),
                &[(s, b"abc"), (s + 3, b"def")],
                b"abcd",
            ),
            (
                "out of order",
                64,
                8,
                Some(ISN),
                &[(s + 3, b"def"), (s, b"abc")],
                b"abcdef",
            ),
            (
                "three reversed",
                64,
                8,
                Some(ISN),
                &[(s + 6, b"ghi"), (s + 3, b"def"), (s, b"abc")],
                b"abcdefghi",
            ),
            (
                "retransmit",
                64,
                8,
                Some(ISN),
                &[(s, b"abc"), (s, b"abc"), (s + 3, b"de")],
                b"abcde",
            ),
            (
                "overlap keeps first bytes",
                64,
                8,
                Some(ISN),
                &[(s, b"abcd"), (s + 2, b"XXef")],
                b"abcdef",
            ),
            (
                "overlap over a pending range keeps first bytes",
                64,
                8,
                Some(ISN),
                &[(s + 4, b"ef"), (s + 2, b"cdXXgh"), (s, b"ab")],
                b"abcdefgh",
            ),
            (
                "gap never fills",
                64,
                8,
                Some(ISN),
                &[(s, b"abc"), (s + 5, b"fgh")],
                b"abc",
            ),
            (
                "gap before anything",
                64,
                8,
                Some(ISN),
                &[(s + 1, b"bcd")],
                b"",
            ),
            (
                "no syn: first data starts",
                64,
                8,
                None,
                &[(5000, b"abc"), (5003, b"def")],
                b"abcdef",
            ),
            (
                "no syn: earlier data ignored",
                64,
                8,
                None,
                &[(5003, b"def"), (5000, b"abc")],
                b"def",
            ),
            (
                "before start ignored",
                64,
                8,
                Some(ISN),
                &[(ISN - 10, b"zzzz"), (s, b"ab")],
                b"ab",
            ),
            (
                "straddles start",
                64,
                8,
                Some(ISN),
                &[(ISN - 1, b"xyab"), (s + 2, b"c")],
                b"abc",
            ),
            (
                "beyond window ignored",
                4,
                8,
                Some(ISN),
                &[(s + 4, b"efgh"), (s, b"abcd")],
                b"abcd",
            ),
            (
                "no reorder room",
                64,
                0,
                Some(ISN),
                &[(s + 3, b"def"), (s, b"abc")],
                b"abc",
            ),
            ("zero n", 0, 8, Some(ISN), &[(s, b"abc")], b""),
            (
                "wrap-around",
                64,
                8,
                Some(u32::MAX - 1),
                &[(u32::MAX, b"a"), (0, b"bc"), (2, b"d")],
                b"abcd",
            ),
            (
                "wrap-around out of order",
                64,
                8,
                Some(u32::MAX - 2),
                &[(0, b"cd"), (u32::MAX - 1, b"ab")],
                b"abcd",
            ),
            (
                "garbage far seq",
                64,
                8,
                Some(ISN),
                &[(s, b"ab"), (s.wrapping_add(1 << 31), b"zz")],
                b"ab",
            ),
        ];
        for (name, n, r, syn, segs, want) in cases {
            assert_eq!(run(*n, *r, *syn, segs), *want, "{name}");
        }
    }

    #[test]
    fn full_range_list_drops_new_islands_but_extends_existing() {
        let s = ISN + 1;
        let got = run(
            64,
            1,
            Some(ISN),
            &[
                (s + 4, b"ef"),
                (s + 10, b"kl"), // no room: dropped
                (s + 6, b"gh"),  // extends the held range
                (s, b"abcd"),
                (s + 8, b"ij"),
                (s + 10, b"kl"),
            ],
        );
        assert_eq!(got, b"abcdefghijkl");
    }

    /// A TCP direction of N = 16 holding up to 8 ranges.
    struct Dir16 {
        st: Stream,
        ranges: Ranges,
        buf: Vec<u8>,
    }

    impl Dir16 {
        fn new() -> Self {
            let (st, ranges, buf) = (Stream::tcp(), None, Vec::with_capacity(16));
            Dir16 { st, ranges, buf }
        }

        /// One segment: sequence number, flags, bytes present, length announced.
        fn seg(&mut self, seq: u32, flags: u8, data: &[u8], len: u32) {
            let tcp = seg(seq, flags);
            self.st
                .tcp_segment(&mut self.buf, &mut self.ranges, tb(16, 8), &tcp, data, len);
        }

        /// The bytes captured.
        fn bytes(mut self) -> Vec<u8> {
            self.st.finish(&mut self.buf, true);
            self.buf
        }
    }

    #[test]
    fn syn_with_payload_starts_after_isn() {
        let mut d = Dir16::new();
        d.seg(ISN, TcpInfo::SYN, b"hi", 2);
        d.seg(ISN + 3, TcpInfo::ACK, b"!", 1);
        assert_eq!(d.bytes(), b"hi!");
    }

    #[test]
    fn truncated_segment_leaves_a_gap() {
        let mut d = Dir16::new();
        d.seg(ISN, TcpInfo::SYN, &[], 0);
        d.seg(ISN + 1, TcpInfo::ACK, b"ab", 4);
        d.seg(ISN + 5, TcpInfo::ACK, b"ef", 2);
        assert_eq!(d.bytes(), b"ab");
    }

    #[test]
    fn late_syn_does_not_move_the_start() {
        let mut d = Dir16::new();
        d.seg(ISN + 3, TcpInfo::ACK, b"cd", 2);
        d.seg(ISN, TcpInfo::SYN, &[], 0);
        d.seg(ISN + 1, TcpInfo::ACK, b"ab", 2);
        assert_eq!(d.bytes(), b"cd");
    }

    #[test]
    fn n_4096_in_random_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let s = ISN + 1;
        let chunks: Vec<(u32, &[u8])> = data
            .chunks(100)
            .enumerate()
            .map(|(i, c)| (s + i as u32 * 100, c))
            .collect();
        // Deliver odd chunks first, then even ones, then everything again.
        let mut order: Vec<(u32, &[u8])> = chunks.iter().copied().skip(1).step_by(2).collect();
        order.extend(chunks.iter().copied().step_by(2));
        order.extend(chunks.iter().copied());
        assert_eq!(run(4096, 32, Some(ISN), &order), &data[..4096]);
    }

    #[test]
    fn datagrams() {
        let cases: &[DatagramCase] = &[
            (
                "first only",
                64,
                false,
                &[(b"abc", true), (b"def", true)],
                b"abc",
            ),
            ("first cut at n", 2, false, &[(b"abc", true)], b"ab"),
            (
                "empty ones skipped",
                64,
                false,
                &[(b"", true), (b"abc", true)],
                b"abc",
            ),
            (
                "concat",
                64,
                true,
                &[(b"abc", true), (b"def", true)],
                b"abcdef",
            ),
            (
                "concat to n",
                5,
                true,
                &[(b"abc", true), (b"def", true), (b"g", true)],
                b"abcde",
            ),
            (
                "concat stops after a cut datagram",
                64,
                true,
                &[(b"ab", false), (b"cd", true)],
                b"ab",
            ),
            ("zero n", 0, true, &[(b"abc", true)], b""),
        ];
        for (name, n, concat, grams, want) in cases {
            let mut st = Stream::datagram();
            let mut buf = Vec::with_capacity(*n);
            for &(d, complete) in *grams {
                if !d.is_empty() {
                    st.datagram_payload(&mut buf, db(*n, *concat, 0), d, complete);
                }
            }
            st.finish(&mut buf, false);
            assert_eq!(buf, *want, "{name}");
        }
    }

    /// A STUN binding request with a 4-byte attribute (28 bytes).
    fn stun(id: u8) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        m.extend([id; 12]);
        m.extend([0x80, 0x22, 0x00, 0x04]);
        m.extend(b"test");
        m
    }

    #[test]
    fn dtls_after_stun_is_kept() {
        let dtls: Vec<u8> = [&[0x16, 0xfe, 0xfd, 0, 0][..], &[7u8; 40]].concat();
        let rtp = [0x80u8, 0x60, 0, 1, 0, 0, 0, 1];
        let feed = |st: &mut Stream, grams: &[&[u8]]| {
            let mut buf = Vec::new();
            for g in grams {
                st.datagram_payload(&mut buf, db(64, false, 4096), g, true);
            }
            buf
        };
        // STUN datagrams after the first are passed over; the DTLS
        // handshake datagrams after them are appended past N, up to the
        // bound; the first datagram of another kind ends it.
        for mut st in [
            Stream::datagram().with_handshake_bound(),
            Stream::datagram().with_stun_bound(),
        ] {
            let got = feed(&mut st, &[&stun(1), &stun(2), &dtls, &dtls, &rtp, &dtls]);
            assert_eq!(got, [stun(1), dtls.clone(), dtls.clone()].concat());
        }
        // Media after the STUN exchange: the STUN message alone.
        let mut st = Stream::datagram().with_handshake_bound();
        assert_eq!(feed(&mut st, &[&stun(1), &rtp, &dtls]), stun(1));
        // No bound above N (the default settings): the first datagram.
        let mut st = Stream::datagram();
        assert_eq!(feed(&mut st, &[&stun(1), &dtls]), stun(1));
        // At most 32 STUN datagrams are passed over.
        let mut st = Stream::datagram().with_handshake_bound();
        let mut grams: Vec<Vec<u8>> = (0..40).map(stun).collect();
        grams.push(dtls.clone());
        let refs: Vec<&[u8]> = grams.iter().map(|g| &g[..]).collect();
        assert_eq!(feed(&mut st, &refs), stun(0));
        // The responder's direction gathers no client hello of its own.
        let mut st = Stream::datagram().with_stun_bound();
        let hello: Vec<u8> = [
            &[0x16, 0xfe, 0xfd, 0, 0][..],
            &[0u8; 8],
            &[0, 70, 1],
            &[7u8; 67],
        ]
        .concat();
        assert_eq!(feed(&mut st, &[&hello, &dtls]), hello[..64].to_vec());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::tests::{db, tb};
    use super::*;

    /// A byte stream, the (offset, len) segments it is sent as (every byte
    /// covered, plus duplicates and overlaps) in delivery order, the ISN,
    /// N and the range-list capacity.
    /// Stream, segments `(offset, len)` in delivery order, ISN, N, range capacity.
    type Scenario = (Vec<u8>, Vec<(usize, usize)>, u32, usize, usize);

    fn scenario() -> impl Strategy<Value = Scenario> {
        (
            prop::collection::vec(any::<u8>(), 0..300),
            prop::collection::vec(1usize..40, 0..40),
            prop::collection::vec((0usize..300, 0usize..60), 0..10),
            prop_oneof![any::<u32>(), (u32::MAX - 200)..=u32::MAX],
            0usize..400,
            0usize..12,
        )
            .prop_flat_map(|(data, cuts, extra, isn, n, reorder)| {
                let mut segs = Vec::new();
                let mut at = 0;
                let mut cuts = cuts.into_iter().cycle();
                while at < data.len() {
                    let len = cuts.next().unwrap_or(data.len()).min(data.len() - at);
                    segs.push((at, len));
                    at += len;
                }
                for (a, l) in extra {
                    if a < data.len() {
                        segs.push((a, l.min(data.len() - a)));
                    }
                }
                (
                    Just(data),
                    Just(segs).prop_shuffle(),
                    Just(isn),
                    Just(n),
                    Just(reorder),
                )
            })
    }

    fn capture(
        data: &[u8],
        segs: &[(usize, usize)],
        isn: u32,
        n: usize,
        reorder: usize,
        syn: bool,
    ) -> Vec<u8> {
        let (mut st, mut r) = (Stream::tcp(), None);
        let mut buf = Vec::with_capacity(n);
        let ack = TcpInfo {
            seq: 0,
            ack: 0,
            flags: TcpInfo::ACK,
            window: 0,
        };
        if syn {
            let syn = TcpInfo {
                seq: isn,
                flags: TcpInfo::SYN,
                ..ack
            };
            st.tcp_segment(&mut buf, &mut r, tb(n, reorder), &syn, &[], 0);
        }
        // Data segments carry PSH: a bare ACK of a few zero bytes would be
        // taken for padding (`is_ack_padding`, tested on its own).
        let data_flags = TcpInfo::ACK | TcpInfo::PSH;
        for &(off, len) in segs {
            let seq = isn.wrapping_add(1).wrapping_add(off as u32);
            let d = &data[off..off + len];
            st.tcp_segment(
                &mut buf,
                &mut r,
                tb(n, reorder),
                &TcpInfo {
                    seq,
                    flags: data_flags,
                    ..ack
                },
                d,
                len as u32,
            );
            assert!(buf.capacity() >= n);
        }
        st.finish(&mut buf, true);
        buf
    }

    proptest! {
        #[test]
        fn capture_is_a_prefix_of_the_stream((data, segs, isn, n, reorder) in scenario()) {
            let cap = buf_ptr_stable(&data, &segs, isn, n, reorder);
            let got = capture(&data, &segs, isn, n, reorder, true);
            prop_assert!(got.len() <= n);
            prop_assert_eq!(&got[..], &data[..got.len()]);
            if reorder >= segs.len() {
                prop_assert_eq!(&got[..], &data[..n.min(data.len())]);
            }
            // With room for every segment, all of the first N bytes arrive.
            let all = capture(&data, &segs, isn, n, segs.len(), true);
            prop_assert_eq!(&all[..], &data[..n.min(data.len())]);
            prop_assert!(cap);
        }

        #[test]
        fn without_syn_capture_starts_at_the_first_segment((data, segs, isn, n, reorder) in scenario()) {
            let got = capture(&data, &segs, isn, n, reorder, false);
            prop_assert!(got.len() <= n);
            let start = segs.iter().find(|s| s.1 > 0).map_or(0, |s| s.0);
            prop_assert_eq!(&got[..], &data[start..start + got.len()]);
        }

        /// Datagrams of any kind (STUN, DTLS, QUIC-like, random, cut or
        /// whole) in any order: no panic, the capture holds at most the
        /// bound (or N) and starts with the first datagram.
        #[test]
        fn datagram_gathering_stays_bounded(
            grams in proptest::collection::vec(
                (0u8..4, proptest::collection::vec(any::<u8>(), 0..300), any::<bool>()),
                1..40,
            ),
            n in 0usize..200,
            bound in 0usize..1500,
            responder in any::<bool>(),
        ) {
            let grams: Vec<(Vec<u8>, bool)> = grams
                .into_iter()
                .map(|(kind, mut d, complete)| {
                    match kind {
                        0 => {
                            // A whole STUN message.
                            d.truncate(d.len() / 4 * 4);
                            let mut m = vec![0x00, 0x01];
                            m.extend((d.len() as u16).to_be_bytes());
                            m.extend([0x21, 0x12, 0xa4, 0x42]);
                            m.extend([5u8; 12]);
                            m.extend(d);
                            (m, complete)
                        }
                        1 => ([&[0x16, 0xfe, 0xfd, 0, 0][..], &d].concat(), complete),
                        2 => ([&[0xc3, 0, 0, 0, 1][..], &d].concat(), complete),
                        _ => (d, complete),
                    }
                })
                .collect();
            let mut st = if responder {
                Stream::datagram().with_stun_bound()
            } else {
                Stream::datagram().with_handshake_bound()
            };
            let mut buf = Vec::new();
            for (d, complete) in &grams {
                if !d.is_empty() {
                    st.datagram_payload(&mut buf, db(n, false, bound), d, *complete);
                }
            }
            prop_assert!(buf.len() <= n.max(bound));
            if let Some((first, _)) = grams.iter().find(|g| !g.0.is_empty()) {
                let k = buf.len().min(first.len());
                prop_assert_eq!(&buf[..k], &first[..k]);
            }
        }
    }

    /// The buffer never moves (no reallocation) while segments are placed.
    fn buf_ptr_stable(
        data: &[u8],
        segs: &[(usize, usize)],
        isn: u32,
        n: usize,
        reorder: usize,
    ) -> bool {
        let (mut st, mut r) = (Stream::tcp(), None);
        let mut buf: Vec<u8> = Vec::with_capacity(n);
        let ptr = buf.as_ptr();
        for &(off, len) in segs {
            let seq = isn.wrapping_add(1).wrapping_add(off as u32);
            let tcp = TcpInfo {
                seq,
                ack: 0,
                flags: TcpInfo::ACK,
                window: 0,
            };
            st.tcp_segment(
                &mut buf,
                &mut r,
                tb(n, reorder),
                &tcp,
                &data[off..off + len],
                len as u32,
            );
        }
        // The range list is reserved once, whole, at its first range.
        let ranges_cap = r.as_ref().map_or(0, |r| r.capacity());
        n == 0 || (buf.as_ptr() == ptr && (ranges_cap == 0 || ranges_cap == reorder))
    }
}
