//! A small TCP session builder: it keeps sequence and acknowledgement
//! numbers consistent, segments payloads at the MSS, paces segments in time,
//! and can produce the irregularities a reassembler must cope with
//! (retransmission, out-of-order delivery, a capture that starts mid-stream).

/// TCP flags of one segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// SYN.
    pub syn: bool,
    /// ACK (the acknowledgement number is valid).
    pub ack: bool,
    /// PSH.
    pub psh: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
}

/// One segment as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// True when the client sent it.
    pub from_client: bool,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: Flags,
    /// Advertised window.
    pub window: u16,
    /// Carries the SYN options (MSS, SACK permitted, window scale).
    pub syn_options: bool,
    /// Payload.
    pub payload: Vec<u8>,
}

/// What to do to the next data transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Deliver in order, once.
    None,
    /// Send the first segment, then send it again after a retransmission timeout.
    RetransmitFirst,
    /// Deliver the second segment before the first (needs at least two segments);
    /// the receiver answers the early segment with a duplicate ACK.
    SwapFirstTwo,
}

#[derive(Debug, Clone, Copy)]
struct Side {
    next_seq: u32,
    /// Window in SYN segments (unscaled).
    syn_window: u16,
    /// Window field after the handshake (scaled by 2^WINDOW_SCALE).
    window: u16,
    sent_any: bool,
}

/// Window scale both sides announce (the SYN option carries it).
pub const WINDOW_SCALE: u8 = 7;

/// Builds the segments of one TCP connection.
#[derive(Debug)]
pub struct TcpSession {
    now: u64,
    rtt_ns: u64,
    mss: usize,
    client: Side,
    server: Side,
    last_from_client: Option<bool>,
    segments: Vec<Segment>,
    jitter: u64,
}

impl TcpSession {
    /// A connection whose first packet (the SYN) is sent at `start_ns`.
    /// `rtt_ns` is the round-trip time between the endpoints; the initial
    /// sequence numbers come from the caller (use the seeded generator).
    pub fn new(start_ns: u64, rtt_ns: u64, client_isn: u32, server_isn: u32, mss: usize) -> Self {
        TcpSession {
            now: start_ns,
            rtt_ns,
            mss,
            client: Side {
                next_seq: client_isn,
                syn_window: 64240,
                window: 502,
                sent_any: false,
            },
            server: Side {
                next_seq: server_isn,
                syn_window: 65160,
                window: 509,
                sent_any: false,
            },
            last_from_client: None,
            segments: Vec::new(),
            jitter: client_isn as u64 ^ server_isn as u64,
        }
    }

    /// Sends SYN, SYN-ACK and ACK.
    pub fn handshake(&mut self) -> &mut Self {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.emit(true, syn, Vec::new(), true);
        self.client.next_seq = self.client.next_seq.wrapping_add(1);
        let syn_ack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        self.emit(false, syn_ack, Vec::new(), true);
        self.server.next_seq = self.server.next_seq.wrapping_add(1);
        self.emit(true, ack_only(), Vec::new(), false);
        self
    }

    /// Sends only a SYN (for a refused or unanswered connection attempt).
    pub fn syn(&mut self) -> &mut Self {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.emit(true, syn, Vec::new(), true);
        self.client.next_seq = self.client.next_seq.wrapping_add(1);
        self
    }

    /// Advances the clock by `ns` (think time, server processing).
    pub fn pause(&mut self, ns: u64) -> &mut Self {
        self.now += ns;
        self
    }

    /// Advances the clock to `t_ns` unless it is already later.
    pub fn pause_until(&mut self, t_ns: u64) -> &mut Self {
        self.now = self.now.max(t_ns);
        self
    }

    /// The client sends `data`.
    pub fn client(&mut self, data: &[u8]) -> &mut Self {
        self.send(true, data, Quirk::None)
    }

    /// The server sends `data`.
    pub fn server(&mut self, data: &[u8]) -> &mut Self {
        self.send(false, data, Quirk::None)
    }

    /// Sends `data` from one side, cut at the MSS; the receiver acknowledges
    /// every second full segment, as delayed ACK does.
    pub fn send(&mut self, from_client: bool, data: &[u8], quirk: Quirk) -> &mut Self {
        let chunks: Vec<&[u8]> = data.chunks(self.mss).collect();
        let start_seq = self.side(from_client).next_seq;
        let mut seqs = Vec::with_capacity(chunks.len());
        let mut seq = start_seq;
        for c in &chunks {
            seqs.push(seq);
            seq = seq.wrapping_add(c.len() as u32);
        }
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        if quirk == Quirk::SwapFirstTwo && order.len() >= 2 {
            order.swap(0, 1);
        }
        let mut since_ack = 0;
        for (n, &i) in order.iter().enumerate() {
            let flags = Flags {
                ack: true,
                psh: i + 1 == chunks.len(),
                ..Flags::default()
            };
            self.emit_at(from_client, seqs[i], flags, chunks[i].to_vec());
            if quirk == Quirk::RetransmitFirst && n == 0 {
                self.now += 200_000_000 + self.rtt_ns;
                self.emit_at(from_client, seqs[i], flags, chunks[i].to_vec());
            }
            if quirk == Quirk::SwapFirstTwo && n == 0 && chunks.len() >= 2 {
                // Duplicate ACK: the receiver still waits for the first segment.
                self.pure_ack_at(!from_client, start_seq);
            }
            since_ack += 1;
            if since_ack == 2 && n + 1 < order.len() {
                let acked = if quirk == Quirk::SwapFirstTwo && n == 1 {
                    seqs[1].wrapping_add(chunks[1].len() as u32)
                } else {
                    seqs[i].wrapping_add(chunks[i].len() as u32)
                };
                self.pure_ack_at(!from_client, acked);
                since_ack = 0;
            }
        }
        self.side_mut(from_client).next_seq = seq;
        self
    }

    /// A pure ACK from one side, acknowledging everything received so far.
    pub fn ack(&mut self, from_client: bool) -> &mut Self {
        let upto = self.side(!from_client).next_seq;
        self.pure_ack_at(from_client, upto);
        self
    }

    /// The client closes: FIN, the server's FIN-ACK, the final ACK.
    pub fn close(&mut self) -> &mut Self {
        self.fin(true);
        self.fin(false);
        self.emit(true, ack_only(), Vec::new(), false);
        self
    }

    /// The server closes first (as SMTP, POP3 and FTP servers do after QUIT).
    pub fn close_by_server(&mut self) -> &mut Self {
        self.fin(false);
        self.fin(true);
        self.emit(false, ack_only(), Vec::new(), false);
        self
    }

    /// One side aborts with RST.
    /// A reset answering a SYN (nothing sent before by that side) carries
    /// sequence number 0, as a closed port's reply does.
    pub fn reset(&mut self, from_client: bool) -> &mut Self {
        let flags = Flags {
            rst: true,
            ack: true,
            ..Flags::default()
        };
        if !self.side(from_client).sent_any {
            self.push(from_client, 0, flags, Vec::new(), false);
        } else {
            self.emit(from_client, flags, Vec::new(), false);
        }
        self
    }

    fn fin(&mut self, from_client: bool) {
        let flags = Flags {
            fin: true,
            ack: true,
            ..Flags::default()
        };
        self.emit(from_client, flags, Vec::new(), false);
        let s = self.side_mut(from_client);
        s.next_seq = s.next_seq.wrapping_add(1);
    }

    /// The segments built so far, in capture order.
    pub fn finish(&self) -> Vec<Segment> {
        self.segments.clone()
    }

    /// Time of the last segment.
    pub fn now(&self) -> u64 {
        self.now
    }

    fn side(&self, client: bool) -> Side {
        if client {
            self.client
        } else {
            self.server
        }
    }

    fn side_mut(&mut self, client: bool) -> &mut Side {
        if client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    fn emit(&mut self, from_client: bool, flags: Flags, payload: Vec<u8>, syn_options: bool) {
        let seq = self.side(from_client).next_seq;
        self.push(from_client, seq, flags, payload, syn_options);
    }

    fn emit_at(&mut self, from_client: bool, seq: u32, flags: Flags, payload: Vec<u8>) {
        self.push(from_client, seq, flags, payload, false);
    }

    fn pure_ack_at(&mut self, from_client: bool, ack: u32) {
        let seq = self.side(from_client).next_seq;
        self.advance(from_client);
        self.side_mut(from_client).sent_any = true;
        self.segments.push(Segment {
            ts_ns: self.now,
            from_client,
            seq,
            ack,
            flags: ack_only(),
            window: self.side(from_client).window,
            syn_options: false,
            payload: Vec::new(),
        });
    }

    fn push(&mut self, from_client: bool, seq: u32, flags: Flags, payload: Vec<u8>, opts: bool) {
        self.advance(from_client);
        let ack = if flags.ack {
            self.side(!from_client).next_seq
        } else {
            0
        };
        let side = self.side(from_client);
        let window = if flags.syn {
            side.syn_window
        } else {
            side.window
        };
        self.side_mut(from_client).sent_any = true;
        self.segments.push(Segment {
            ts_ns: self.now,
            from_client,
            seq,
            ack,
            flags,
            window,
            syn_options: opts,
            payload,
        });
    }

    /// Moves the clock: half a round trip when the direction changes, a few
    /// tens of microseconds between back-to-back segments of one sender.
    fn advance(&mut self, from_client: bool) {
        self.jitter = self
            .jitter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (self.jitter >> 33) % 40_000;
        match self.last_from_client {
            None => {}
            Some(prev) if prev == from_client => self.now += 12_000 + j,
            Some(_) => self.now += self.rtt_ns / 2 + j * 3,
        }
        self.last_from_client = Some(from_client);
    }
}

fn ack_only() -> Flags {
    Flags {
        ack: true,
        ..Flags::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn handshake_numbers() {
        let mut s = TcpSession::new(0, 20 * MS, 1000, 5000, 1460);
        s.handshake();
        let seg = s.finish();
        assert_eq!(seg.len(), 3);
        assert!(seg[0].flags.syn && !seg[0].flags.ack && seg[0].seq == 1000);
        assert!(seg[1].flags.syn && seg[1].flags.ack);
        assert_eq!((seg[1].seq, seg[1].ack), (5000, 1001));
        assert_eq!((seg[2].seq, seg[2].ack), (1001, 5001));
        assert!(seg[0].syn_options && seg[1].syn_options && !seg[2].syn_options);
        assert!(seg.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns));
    }

    #[test]
    fn segmentation_and_acks() {
        let mut s = TcpSession::new(0, 20 * MS, 0, 0, 100);
        s.handshake().client(b"GET").server(&[7u8; 350]).close();
        let seg = s.finish();
        let data: Vec<&Segment> = seg
            .iter()
            .filter(|x| !x.from_client && !x.payload.is_empty())
            .collect();
        assert_eq!(
            data.iter().map(|x| x.payload.len()).collect::<Vec<_>>(),
            vec![100, 100, 100, 50]
        );
        for w in data.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + w[0].payload.len() as u32);
        }
        assert!(data[3].flags.psh && !data[0].flags.psh);
        // Every data segment acknowledges the client's request.
        assert!(data.iter().all(|x| x.ack == 1 + 3));
        // Delayed ACK after the second segment.
        assert!(seg
            .iter()
            .any(|x| x.from_client && x.payload.is_empty() && x.ack == 1 + 200));
        // FIN exchange: client FIN consumes one sequence number.
        let fins: Vec<&Segment> = seg.iter().filter(|x| x.flags.fin).collect();
        assert_eq!(fins.len(), 2);
        assert_eq!(fins[1].ack, fins[0].seq + 1);
        assert_eq!(seg.last().unwrap().ack, fins[1].seq + 1);
    }

    #[test]
    fn retransmission_repeats_sequence_number() {
        let mut s = TcpSession::new(0, 20 * MS, 0, 0, 1460);
        s.handshake().send(true, b"hello", Quirk::RetransmitFirst);
        let data: Vec<Segment> = s
            .finish()
            .into_iter()
            .filter(|x| !x.payload.is_empty())
            .collect();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].seq, data[1].seq);
        assert_eq!(data[0].payload, data[1].payload);
        assert!(data[1].ts_ns - data[0].ts_ns >= 200 * MS);
    }

    #[test]
    fn out_of_order_pair() {
        let mut s = TcpSession::new(0, 20 * MS, 0, 0, 10);
        s.handshake().send(false, &[1u8; 25], Quirk::SwapFirstTwo);
        let seg = s.finish();
        let data: Vec<&Segment> = seg.iter().filter(|x| !x.payload.is_empty()).collect();
        assert_eq!(
            data.iter().map(|x| x.seq).collect::<Vec<_>>(),
            vec![11, 1, 21]
        );
        // Duplicate ACK right after the early segment.
        let dup = seg
            .iter()
            .position(|x| x.from_client && x.payload.is_empty() && x.ack == 1 && x.seq == 1);
        assert!(dup.is_some());
    }

    #[test]
    fn mid_stream_session_has_no_syn() {
        let mut s = TcpSession::new(0, 20 * MS, 77, 99, 1460);
        s.client(b"abc").server(b"de");
        let seg = s.finish();
        assert!(seg.iter().all(|x| !x.flags.syn));
        assert_eq!((seg[0].seq, seg[0].ack), (77, 99));
        assert_eq!((seg[1].seq, seg[1].ack), (99, 80));
    }

    #[test]
    fn refused_connection() {
        let mut s = TcpSession::new(0, 20 * MS, 500, 900, 1460);
        s.syn().reset(false);
        let seg = s.finish();
        assert_eq!(seg.len(), 2);
        assert!(seg[1].flags.rst && seg[1].flags.ack);
        assert_eq!((seg[1].seq, seg[1].ack), (0, 501));
    }

    #[test]
    fn windows_scaled_after_syn() {
        let mut s = TcpSession::new(0, 20 * MS, 0, 0, 1460);
        s.handshake().client(b"x");
        let seg = s.finish();
        assert_eq!(seg[0].window, 64240);
        assert!(seg[2..]
            .iter()
            .all(|x| u32::from(x.window) << WINDOW_SCALE >= 64_000));
    }
}
