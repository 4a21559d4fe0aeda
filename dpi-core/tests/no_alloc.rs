//! Once a flow exists and each of its directions has had its first payload
//! and its second packet, its packets allocate nothing: frames of existing
//! flows go through `FlowMeter::push_frame` while a counting global
//! allocator watches the thread that pushes them. Before that, a direction
//! allocates its byte buffer at its first payload and TCP its out-of-order
//! range list (two blocks) at the first range held; its sizes and
//! inter-arrival times take a block of the table's store, which allocates
//! a chunk per 512 KiB of blocks: at most four allocations a direction, once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use dpi_core::expect::ExpectConfig;
use dpi_core::testing::{tcp_ipv4_frame, udp_ipv4_frame};
use dpi_core::{FlowConfig, FlowMeter, LinkType, TcpInfo, Timestamp};
use etherparse::PacketBuilder;

/// The system allocator, counting allocations and reallocations made while
/// the calling thread has counting switched on.
struct Counting;

/// Allocations counted in every thread while counting was on there. Only
/// one test runs in this binary, so only its thread switches counting on.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Counting is on for this thread.
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

impl Counting {
    fn count() {
        // `try_with` never allocates for a `const` thread-local without a
        // destructor, and fails quietly while the thread is torn down.
        if WATCHED.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; counting touches only an atomic
// and a const thread-local `Cell`, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    WATCHED.with(|w| w.set(true));
    f();
    WATCHED.with(|w| w.set(false));
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

const SYN: u8 = TcpInfo::SYN;
const ACK: u8 = TcpInfo::ACK;
const PSH: u8 = TcpInfo::PSH;

const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";

const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 9_000;

/// One TCP connection: client and server endpoints.
#[derive(Copy, Clone)]
struct Conn {
    c: [u8; 4],
    cp: u16,
    s: [u8; 4],
    sp: u16,
}

impl Conn {
    fn new(i: u32) -> Self {
        Conn {
            c: [10, 1, (i >> 8) as u8, i as u8],
            cp: 40_000 + i as u16,
            s: [192, 0, 2, (i % 200) as u8 + 1],
            sp: if i % 2 == 0 { 80 } else { 443 },
        }
    }

    /// Client to server; `off` is the offset in the client's stream.
    fn c2s(&self, off: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        tcp_ipv4_frame(
            self.c,
            self.cp,
            self.s,
            self.sp,
            CLIENT_ISN + 1 + off,
            SERVER_ISN + 1,
            flags,
            data,
        )
    }

    /// Server to client; `off` is the offset in the server's stream.
    fn s2c(&self, off: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        tcp_ipv4_frame(
            self.s,
            self.sp,
            self.c,
            self.cp,
            SERVER_ISN + 1 + off,
            CLIENT_ISN + 1,
            flags,
            data,
        )
    }
}

/// An Ethernet frame with an IPv6/UDP datagram.
fn udp_ipv6_frame(src: [u8; 16], sport: u16, dst: [u8; 16], dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

fn v6(i: u8) -> [u8; 16] {
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i]
}

/// A DNS answer giving `www.example.com` the address 10.9.`a`.`b`.
fn dns_answer(a: u8, b: u8) -> Vec<u8> {
    let mut m = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01".to_vec();
    m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x09");
    m.extend_from_slice(&[a, b]);
    m
}

/// Messages that announce other flows, sent on existing flows: an FTP
/// passive reply, an FTP PORT command, a SIP message with SDP, a DNS
/// answer (`k` varies the announced ports and addresses).
fn announcing_frames(conns: &[Conn], k: u8) -> Vec<Vec<u8>> {
    let c = &conns[0];
    let pasv = format!("227 Entering Passive Mode (192,0,2,1,{k},7)\r\n");
    let port = format!("PORT 10,1,0,0,{k},9\r\n");
    let sdp = format!(
        "INVITE sip:b@x SIP/2.0\r\n\r\nv=0\r\nc=IN IP4 10.2.0.{k}\r\nm=audio {} RTP/AVP 0\r\n",
        20000 + u16::from(k) * 2
    );
    vec![
        c.s2c(5000, ACK, pasv.as_bytes()),
        c.c2s(5000, ACK, port.as_bytes()),
        udp_ipv6_frame(v6(0), 6000, v6(200), 443, sdp.as_bytes()),
        udp_ipv4_frame([192, 0, 2, 53], 53, [10, 2, 0, 0], 5000, &dns_answer(k, k)),
    ]
}

/// Frames that make the flows: TCP handshakes, first UDP datagrams.
fn opening_frames(conns: &[Conn]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for k in conns {
        out.push(tcp_ipv4_frame(
            k.c, k.cp, k.s, k.sp, CLIENT_ISN, 0, SYN, b"",
        ));
        out.push(tcp_ipv4_frame(
            k.s,
            k.sp,
            k.c,
            k.cp,
            SERVER_ISN,
            CLIENT_ISN + 1,
            SYN | ACK,
            b"",
        ));
    }
    for i in 0..16u8 {
        out.push(udp_ipv4_frame(
            [10, 2, 0, i],
            5000 + u16::from(i),
            [192, 0, 2, 53],
            53,
            b"\x12\x34\x01\x00",
        ));
        out.push(udp_ipv6_frame(
            v6(i),
            6000 + u16::from(i),
            v6(200),
            443,
            &[0xc3; 40],
        ));
    }
    out
}

/// Frames of the flows made by [`opening_frames`]: data both ways, in
/// order, out of order, retransmitted, overlapping, past the capture limit;
/// UDP both ways.
fn later_frames(conns: &[Conn]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let req = REQUEST;
    let resp = [0x55u8; 300];
    for k in conns {
        out.push(k.c2s(0, ACK, b""));
        // The request in three pieces: the last, then the first, then the middle.
        out.push(k.c2s(40, ACK | PSH, &req[40..]));
        out.push(k.c2s(0, ACK, &req[..20]));
        out.push(k.c2s(20, ACK, &req[20..40]));
        // Retransmission and an overlapping segment.
        out.push(k.c2s(0, ACK, &req[..20]));
        out.push(k.c2s(10, ACK | PSH, &req[10..50]));
        // The response, out of order with a gap filled later, then retransmitted.
        out.push(k.s2c(600, ACK, &resp));
        out.push(k.s2c(300, ACK, &resp));
        out.push(k.s2c(0, ACK, &resp));
        out.push(k.s2c(300, ACK, &resp));
        out.push(k.s2c(900, ACK | PSH, &resp));
        out.push(k.c2s(req.len() as u32, ACK, b""));
    }
    for i in 0..16u8 {
        out.push(udp_ipv4_frame(
            [192, 0, 2, 53],
            53,
            [10, 2, 0, i],
            5000 + u16::from(i),
            &[0x81; 90],
        ));
        out.push(udp_ipv4_frame(
            [10, 2, 0, i],
            5000 + u16::from(i),
            [192, 0, 2, 53],
            53,
            b"\x56\x78\x01\x00",
        ));
        out.push(udp_ipv6_frame(
            v6(200),
            443,
            v6(i),
            6000 + u16::from(i),
            &[0x4a; 1200],
        ));
        out.push(udp_ipv6_frame(
            v6(i),
            6000 + u16::from(i),
            v6(200),
            443,
            &[0xc3; 40],
        ));
    }
    out
}

fn run(cfg: FlowConfig, expect: &ExpectConfig) {
    let conns: Vec<Conn> = (0..64).map(Conn::new).collect();
    let mut opening = opening_frames(&conns);
    // The cross-flow tables are made at their first entries.
    opening.extend(announcing_frames(&conns, 0));
    let mut later = later_frames(&conns);
    // More entries than a small table holds: replacement allocates nothing either.
    for k in 1..40 {
        later.extend(announcing_frames(&conns, k));
    }
    let flows = conns.len() + 32;

    let mut meter = FlowMeter::with_expectations(cfg, expect);
    let mut emitted = 0usize;
    let mut t = 0u64;
    for f in &opening {
        t += 10;
        meter.push_frame(
            LinkType::ETHERNET,
            Timestamp::from_micros(t),
            f,
            f.len() as u32,
            &mut |_| emitted += 1,
        );
    }
    assert_eq!(meter.table().len(), flows);

    // Two rounds give every direction its first payload and its second
    // packet: each allocates what it needs, once (its buffer, its range
    // list, its share of a chunk of series blocks).
    let first = allocations_in(|| {
        for _ in 0..2 {
            for f in &later {
                t += 10;
                meter.push_frame(
                    LinkType::ETHERNET,
                    Timestamp::from_micros(t),
                    f,
                    f.len() as u32,
                    &mut |_| emitted += 1,
                );
            }
        }
    });
    assert!(
        first <= 8 * flows as u64,
        "{first} allocations for the first data of {flows} flows"
    );
    let rounds = 50u64;
    let n = allocations_in(|| {
        for _ in 2..rounds {
            for f in &later {
                t += 10;
                meter.push_frame(
                    LinkType::ETHERNET,
                    Timestamp::from_micros(t),
                    f,
                    f.len() as u32,
                    &mut |_| emitted += 1,
                );
            }
        }
    });
    assert_eq!(
        n,
        0,
        "{n} allocations for {} packets of existing flows",
        (rounds - 2) * later.len() as u64
    );
    assert_eq!(emitted, 0);
    assert_eq!(meter.table().len(), flows);
    // Every announcement was read: 4 endpoints (FTP passive and active,
    // RTP and RTCP) and one DNS address for each of the 40 values of `k`.
    let x = meter.expectations();
    assert_eq!(x.endpoints(), expect.endpoints.min(160));
    assert_eq!(x.dns_names(), expect.dns_names.min(40));
    assert_eq!(
        meter.stats().packets,
        (opening.len() + later.len() * rounds as usize) as u64
    );

    // What was captured is what the frames carried, so the phase above did the work.
    let mut out = Vec::new();
    meter.flush(&mut |f| out.push(f));
    assert_eq!(out.len(), flows);
    let n = meter.table().config().payload_bytes;
    for tcp in out.iter().filter(|f| f.protocol == 6) {
        assert_eq!(tcp.c2s_payload, &REQUEST[..REQUEST.len().min(n)]);
        assert_eq!(tcp.s2c_payload, vec![0x55; n.min(1200)]);
    }
    assert!(out
        .iter()
        .filter(|f| f.protocol == 17)
        .all(|f| !f.s2c_payload.is_empty()));
}

/// One test, so no other test's thread allocates while a phase is counted.
#[test]
fn packets_of_existing_flows_allocate_nothing() {
    let n = allocations_in(|| {
        std::hint::black_box(vec![1u8; 100]);
    });
    assert_eq!(n, 1, "the counter sees allocations");

    run(FlowConfig::default(), &ExpectConfig::default());
    let small = ExpectConfig {
        endpoints: 8,
        dns_names: 8,
        ..ExpectConfig::default()
    };
    run(FlowConfig::default(), &small);
    run(
        FlowConfig {
            payload_bytes: 1024,
            feature_packets: 32,
            udp_concat: true,
            reorder_segments: 2,
            ..FlowConfig::default()
        },
        &ExpectConfig::default(),
    );
}
