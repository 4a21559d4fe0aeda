//! Classification time per flow as the signature set grows: 10, 100, 1,000
//! and 10,000 generated signatures of realistic shapes (masked prefixes at
//! offset 0, literals anywhere, some case-insensitive, a few regexes, port
//! and transport rules) over a fixed set of flows (an HTTP exchange, a TLS
//! ClientHello with its ServerHello, a DNS query and answer, random bytes).
//!
//! `cargo bench -p dpi-benches --bench signatures`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dpi_core::matcher::{Matcher, Scratch};
use dpi_core::signature::{
    Direction, MaskedByte, Pattern, PatternKind, PortSet, Position, Signature, SignatureSet,
    Transport,
};
use dpi_core::{Classifier, FlowView};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn word(&mut self, n: usize) -> Vec<u8> {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_/.";
        (0..n)
            .map(|_| A[self.below(A.len() as u64) as usize])
            .collect()
    }
}

/// `n` signatures: 55% masked prefixes at offset 0 (4-16 bytes, some
/// wildcard and nibble bytes), 35% literals anywhere (4-12 characters, a
/// fifth of them case-insensitive), 5% regexes with a literal start, 5%
/// port or transport rules. The first few are real rules so that flows
/// also match.
fn signatures(n: usize) -> SignatureSet {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let mut set = SignatureSet::new();
    let real: Vec<Signature> = {
        let mut http = Signature::new("HTTP");
        http.transport = Transport::Tcp;
        http.patterns
            .push(Pattern::literal_at(Direction::Initiator, 0, b"GET "));
        let mut tls = Signature::new("TLS");
        tls.transport = Transport::Tcp;
        tls.patterns.push(Pattern::masked(
            Direction::Initiator,
            0,
            MaskedByte::parse_hex("16 03 0? ?? ?? 01").unwrap(),
        ));
        let mut dns = Signature::new("DNS");
        dns.transport = Transport::Udp;
        dns.ports = PortSet::single(53);
        dns.patterns.push(Pattern::masked(
            Direction::Initiator,
            2,
            MaskedByte::parse_hex("0? ?? 00 01").unwrap(),
        ));
        vec![http, tls, dns]
    };
    for sig in real.into_iter().take(n) {
        set.signatures.push(sig);
    }
    while set.signatures.len() < n {
        let i = set.signatures.len();
        let mut sig = Signature::new(format!("P{}", i % 300));
        sig.transport = if rng.below(2) == 0 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let roll = rng.below(100);
        if roll < 55 {
            let len = 4 + rng.below(13) as usize;
            let bytes = rng
                .bytes(len)
                .into_iter()
                .map(|b| match rng.below(10) {
                    0 | 1 => MaskedByte::any(),
                    2 => MaskedByte::new(b, 0xf0),
                    _ => MaskedByte::exact(b),
                })
                .collect();
            let dir = if rng.below(3) == 0 {
                Direction::Responder
            } else {
                Direction::Initiator
            };
            sig.patterns.push(Pattern::masked(dir, 0, bytes));
            if rng.below(2) == 0 {
                sig.ports = PortSet::single(1 + rng.below(65000) as u16);
            }
        } else if roll < 90 {
            let len = 4 + rng.below(9) as usize;
            sig.patterns.push(Pattern {
                direction: if rng.below(2) == 0 {
                    Direction::Initiator
                } else {
                    Direction::Either
                },
                kind: PatternKind::Literal {
                    bytes: rng.word(len),
                    nocase: rng.below(5) == 0,
                    position: Position::Anywhere,
                },
            });
        } else if roll < 95 {
            let word = String::from_utf8(rng.word(5)).unwrap();
            let source = format!(r"{}[0-9a-f]{{4,8}}\.(com|net|org)", regex_escape(&word));
            sig.patterns.push(Pattern {
                direction: Direction::Initiator,
                kind: PatternKind::Regex {
                    source,
                    position: Position::Anywhere,
                },
            });
        } else {
            sig.ports = PortSet::single(1 + rng.below(65000) as u16);
        }
        set.signatures.push(sig);
    }
    set
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct TestFlow {
    name: &'static str,
    transport: u8,
    port: u16,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

/// Realistic first 512 bytes per direction.
fn flows() -> Vec<TestFlow> {
    let cut = |mut v: Vec<u8>| {
        v.truncate(512);
        v
    };
    let http_req = b"GET /static/js/app.4f3c2a.js HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
Referer: https://www.example.com/\r\nConnection: keep-alive\r\nSec-Fetch-Dest: script\r\n\r\n"
        .to_vec();
    let mut http_resp =
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
Content-Type: application/javascript\r\nContent-Length: 48213\r\nConnection: keep-alive\r\n\
Cache-Control: max-age=31536000\r\nETag: \"65a1b2c3-bc55\"\r\n\r\n"
            .to_vec();
    let mut rng = Rng(42);
    http_resp.extend(rng.bytes(400));

    // TLS 1.3 ClientHello with SNI, then the random-looking rest.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend(rng.bytes(32));
    hello.push(32);
    hello.extend(rng.bytes(32));
    hello.extend([0x00, 0x20]);
    hello.extend(rng.bytes(32));
    hello.extend([
        0x01, 0x00, 0x01, 0x93, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f,
    ]);
    hello.extend(b"www.example.org");
    hello.extend([0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02]);
    hello.extend(b"h2");
    hello.push(8);
    hello.extend(b"http/1.1");
    hello.extend(rng.bytes(400));
    let mut server_hello = vec![
        0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03,
    ];
    server_hello.extend(rng.bytes(600));

    let dns_q = b"\x1c\x2b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x07example\x03com\x00\x00\x01\x00\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00".to_vec();
    let mut dns_a = dns_q.clone();
    dns_a[2] = 0x81;
    dns_a[3] = 0x80;
    dns_a.extend(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xcb\x00\x71\x0a");

    vec![
        TestFlow {
            name: "http",
            transport: 6,
            port: 80,
            c2s: cut(http_req),
            s2c: cut(http_resp),
        },
        TestFlow {
            name: "tls",
            transport: 6,
            port: 443,
            c2s: cut(hello),
            s2c: cut(server_hello),
        },
        TestFlow {
            name: "dns",
            transport: 17,
            port: 53,
            c2s: dns_q,
            s2c: dns_a,
        },
        TestFlow {
            name: "random",
            transport: 6,
            port: 40000,
            c2s: rng.bytes(512),
            s2c: rng.bytes(512),
        },
    ]
}

fn bench(c: &mut Criterion) {
    let flows = flows();
    let views: Vec<FlowView<'_>> = flows
        .iter()
        .map(|f| {
            FlowView::new(f.transport, f.port)
                .with_client_port(50000)
                .with_c2s(&f.c2s)
                .with_s2c(&f.s2c)
                .with_packets(3, 3)
                .with_first_sizes(Some(f.c2s.len() as u32), Some(f.s2c.len() as u32))
        })
        .collect();

    let mut group = c.benchmark_group("classify_per_flow");
    for n in [10usize, 100, 1_000, 10_000] {
        let classifier = Classifier::new(&signatures(n)).unwrap();
        let mut scratch = Scratch::new();
        // Sanity: the real rules decide the real flows.
        for (f, v) in flows.iter().zip(&views).take(3) {
            let got = classifier.classify_with(v, &mut scratch);
            assert!(n < 3 || !got.is_unknown(), "{}: {got:?}", f.name);
        }
        eprintln!("{n} signatures: {:?}", classifier.matcher().stats());
        group.throughput(Throughput::Elements(views.len() as u64));
        group.bench_with_input(BenchmarkId::new("all4", n), &n, |b, _| {
            b.iter(|| {
                for v in &views {
                    black_box(classifier.classify_with(black_box(v), &mut scratch));
                }
            })
        });
        for (f, v) in flows.iter().zip(&views) {
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(BenchmarkId::new(f.name, n), &n, |b, _| {
                b.iter(|| black_box(classifier.classify_with(black_box(v), &mut scratch)))
            });
        }
    }
    group.finish();

    // Early decisions on the first 16 bytes of each flow (a live probe).
    let mut group = c.benchmark_group("decide_first_16_bytes");
    for n in [100usize, 10_000] {
        let classifier = Classifier::new(&signatures(n)).unwrap();
        let mut scratch = Scratch::new();
        let early: Vec<FlowView<'_>> = views
            .iter()
            .map(|v| {
                let mut e = *v;
                e.c2s = &v.c2s[..16.min(v.c2s.len())];
                e.s2c = &[];
                e.s2c_first_size = None;
                e
            })
            .collect();
        group.throughput(Throughput::Elements(early.len() as u64));
        group.bench_with_input(BenchmarkId::new("all4", n), &n, |b, _| {
            b.iter(|| {
                for v in &early {
                    black_box(classifier.decide_with(black_box(v), false, &mut scratch));
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for n in [100usize, 10_000] {
        let set = signatures(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
            b.iter(|| black_box(Classifier::new(set).unwrap()))
        });
    }
    group.finish();

    // The same classifiers started from a compiled set written out earlier.
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for n in [100usize, 10_000] {
        let set = signatures(n);
        let bytes = Matcher::new(&set).unwrap().to_bytes();
        eprintln!("{n} signatures: compiled set of {} bytes", bytes.len());
        group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
            b.iter(|| {
                let matcher = Matcher::from_bytes(black_box(&bytes)).unwrap();
                black_box(Classifier::with_matcher(set, matcher).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
