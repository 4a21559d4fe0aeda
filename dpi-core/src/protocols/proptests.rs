//! Property tests of every parser: arbitrary bytes never panic, and every
//! truncation of a valid message never panics and gives a prefix of the
//! fields the whole message gives (a field read from a truncation is the
//! whole message's value of that field; lists are prefixes).

use proptest::prelude::*;

use super::tls::{parse_dtls_records, parse_handshake, parse_records, Hello, Transport};
use super::{dhcp, dns, http, quic, sip, smtp, socks, ssh, stun, Status};
use crate::FlowView;

/// `Some(x)` in the truncation must be the whole message's `Some(x)`.
fn same_if_set<T: PartialEq + std::fmt::Debug>(part: &Option<T>, whole: &Option<T>) -> bool {
    part.is_none() || part == whole
}

fn tls_record(msg: &[u8], split: usize) -> Vec<u8> {
    let split = split.min(msg.len());
    let mut out = Vec::new();
    for part in [&msg[..split], &msg[split..]] {
        if part.is_empty() {
            continue;
        }
        out.extend([0x16, 3, 1]);
        out.extend((part.len() as u16).to_be_bytes());
        out.extend(part);
    }
    out
}

/// A ClientHello with a name, ALPN values and extensions drawn by proptest.
fn client_hello() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z]{1,20}(\\.[a-z]{1,10}){0,3}",
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..12), 0..4),
        prop::collection::vec(any::<u16>(), 0..30),
        prop::collection::vec(
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..20)),
            0..8,
        ),
    )
        .prop_map(|(name, alpn, ciphers, extra)| {
            use super::tls::tests::{alpn_ext, client_hello_msg, sni_ext};
            let mut exts = vec![sni_ext(&name)];
            if !alpn.is_empty() {
                let refs: Vec<&[u8]> = alpn.iter().map(|a| a.as_slice()).collect();
                exts.push(alpn_ext(&refs));
            }
            for (k, d) in extra {
                // Keep the drawn extensions away from the ones parsed.
                if ![0x0000, 0x0010, 0x000d, 0x002b].contains(&k) {
                    exts.push((k, d));
                }
            }
            client_hello_msg(0x0303, &ciphers, &exts)
        })
}

fn dns_response() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec("[a-z0-9]{1,12}", 1..5),
        prop::collection::vec(any::<[u8; 4]>(), 0..6),
    )
        .prop_map(|(labels, addrs)| {
            let mut m = vec![0xab, 0xcd, 0x81, 0x80, 0, 1];
            m.extend((addrs.len() as u16).to_be_bytes());
            m.extend([0, 0, 0, 0]);
            for l in &labels {
                m.push(l.len() as u8);
                m.extend(l.as_bytes());
            }
            m.extend([0, 0, 1, 0, 1]);
            for a in &addrs {
                m.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4]);
                m.extend(a);
            }
            m
        })
}

fn http_request() -> impl Strategy<Value = Vec<u8>> {
    (
        "/[a-z0-9/]{0,40}",
        "[a-z]{1,15}\\.[a-z]{2,5}",
        "[ -~&&[^\\r\\n]]{0,40}",
        prop::collection::vec(("[A-Za-z-]{1,12}", "[a-z0-9 ]{0,20}"), 0..6),
    )
        .prop_map(|(path, host, ua, extra)| {
            let mut r = format!("GET {path} HTTP/1.1\r\n");
            for (k, v) in &extra[..extra.len() / 2] {
                r.push_str(&format!("X-{k}: {v}\r\n"));
            }
            r.push_str(&format!("Host: {host}\r\nUser-Agent: {}\r\n", ua.trim()));
            for (k, v) in &extra[extra.len() / 2..] {
                r.push_str(&format!("X-{k}: {v}\r\n"));
            }
            r.push_str("\r\n");
            r.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..600), port in any::<u16>()) {
        let _ = parse_records(&b);
        let _ = parse_dtls_records(&b);
        if let Some(Hello::Client(ch)) = parse_handshake(&b).value {
            let _ = ch.ja4(Transport::Tcp);
        }
        let _ = quic::parse_initial(&b);
        let _ = http::parse_request(&b);
        let _ = http::parse_response(&b);
        let _ = dns::parse_message(&b, false);
        let _ = dns::parse_message(&b, true);
        let _ = ssh::parse_banner(&b);
        let _ = dhcp::parse_message(&b);
        let _ = sip::parse_request(&b);
        let _ = stun::parse_message(&b);
        let _ = smtp::parse_hello(&b);
        let _ = socks::parse_request(&b);
        let half = b.len() / 2;
        for t in [6, 17] {
            let v = FlowView::new(t, port).with_c2s(&b[..half]).with_s2c(&b[half..]);
            let _ = v.metadata();
        }
    }

    #[test]
    fn quic_headers_with_arbitrary_bodies(v in 0usize..4, b in prop::collection::vec(any::<u8>(), 0..1400)) {
        let versions = [1u32, 0x6b33_43cf, 0xff00_001d, 0x5430_3531];
        let mut p = vec![if v == 1 { 0xd0 } else { 0xc0 }];
        p.extend(versions[v].to_be_bytes());
        p.extend(b);
        let _ = quic::parse_initial(&p);
    }

    #[test]
    fn tls_truncations_give_a_prefix(msg in client_hello(), split in 0usize..400) {
        let stream = tls_record(&msg, split);
        let whole = parse_records(&stream);
        prop_assert_eq!(whole.status, Status::Complete);
        let Some(Hello::Client(w)) = whole.value else { panic!("no hello") };
        prop_assert!(w.ja4(Transport::Tcp).is_some());
        for n in 0..stream.len() {
            let p = parse_records(&stream[..n]);
            prop_assert_ne!(p.status, Status::Complete);
            if let Some(Hello::Client(c)) = p.value {
                prop_assert!(same_if_set(&c.server_name, &w.server_name));
                prop_assert!(same_if_set(&c.alpn, &w.alpn));
                prop_assert!(same_if_set(&c.cipher_suites, &w.cipher_suites));
                prop_assert!(w.extensions.starts_with(&c.extensions));
                prop_assert!(c.ja4(Transport::Tcp).is_none());
            }
        }
    }

    #[test]
    fn quic_truncations_never_complete(n in 0usize..1200) {
        let b = quic::tests::rfc9001();
        let p = quic::parse_initial(&b[..n]);
        prop_assert_ne!(p.status, Status::Complete);
        prop_assert!(p.value.and_then(|i| i.client_hello).is_none());
    }

    #[test]
    fn dns_truncations_give_a_prefix(msg in dns_response()) {
        let whole = dns::parse_message(&msg, false);
        prop_assert_eq!(whole.status, Status::Complete);
        let w = whole.value.unwrap();
        for n in 0..msg.len() {
            let p = dns::parse_message(&msg[..n], false);
            prop_assert_eq!(p.status, Status::Incomplete);
            if let Some(m) = p.value {
                prop_assert!(same_if_set(&m.query_name, &w.query_name));
                prop_assert!(w.answers.starts_with(&m.answers));
            }
        }
    }

    #[test]
    fn http_truncations_give_a_prefix(req in http_request()) {
        let whole = http::parse_request(&req);
        prop_assert_eq!(whole.status, Status::Complete);
        let w = whole.value.unwrap();
        for n in 0..req.len() {
            let p = http::parse_request(&req[..n]);
            prop_assert_ne!(p.status, Status::Complete);
            if let Some(r) = p.value {
                prop_assert_eq!(&r.method, &w.method);
                prop_assert_eq!(&r.target, &w.target);
                prop_assert!(same_if_set(&r.host, &w.host));
                prop_assert!(same_if_set(&r.user_agent, &w.user_agent));
            }
        }
    }

    #[test]
    fn small_parsers_truncations(name in "[a-z][a-z0-9.-]{0,30}") {
        // SSH: the identification line so far is a prefix of the whole one.
        let banner = format!("SSH-2.0-{name}\r\n");
        let whole = ssh::parse_banner(banner.as_bytes()).value.unwrap();
        for n in 0..banner.len() {
            if let Some(part) = ssh::parse_banner(&banner.as_bytes()[..n]).value {
                prop_assert!(whole.starts_with(&part));
            }
        }
        // SMTP: the name so far is a prefix of the whole one.
        let hello = format!("EHLO {name}\r\n");
        let whole = smtp::parse_hello(hello.as_bytes()).value.unwrap();
        for n in 0..hello.len() {
            if let Some(part) = smtp::parse_hello(&hello.as_bytes()[..n]).value {
                prop_assert!(whole.starts_with(&part));
            }
        }
        // SOCKS4a and SOCKS5: a name is read only once it is whole.
        let mut s4 = b"\x04\x01\x00\x50\x00\x00\x00\x01user\x00".to_vec();
        s4.extend(name.as_bytes());
        s4.push(0);
        let mut s5 = b"\x05\x01\x00\x05\x01\x00\x03".to_vec();
        s5.push(name.len() as u8);
        s5.extend(name.as_bytes());
        s5.extend([1, 187]);
        for req in [&s4, &s5] {
            let whole = socks::parse_request(req).value;
            prop_assert_eq!(whole.as_deref(), Some(name.as_str()));
            for n in 0..req.len() {
                let part = socks::parse_request(&req[..n]);
                prop_assert!(part.status != Status::Invalid);
                prop_assert!(same_if_set(&part.value, &Some(name.clone())));
            }
        }
        // DHCP: a host name read from a truncation is the whole one.
        let mut d = vec![1, 1, 6, 0];
        d.resize(236, 0);
        d.extend([99, 130, 83, 99, 12, name.len() as u8]);
        d.extend(name.as_bytes());
        d.push(255);
        let whole = dhcp::parse_message(&d).value.unwrap();
        for n in 0..d.len() {
            if let Some(m) = dhcp::parse_message(&d[..n]).value {
                prop_assert!(same_if_set(&m.host_name, &whole.host_name));
            }
        }
        // SIP: hosts read from a truncation are the whole one's.
        let s = format!("OPTIONS sip:{name} SIP/2.0\r\nFrom: <sip:a@{name}>\r\nTo: <sip:b@{name}>\r\n\r\n");
        let whole = sip::parse_request(s.as_bytes()).value.unwrap();
        for n in 0..s.len() {
            if let Some(r) = sip::parse_request(&s.as_bytes()[..n]).value {
                prop_assert!(same_if_set(&r.from_host, &whole.from_host));
                prop_assert!(same_if_set(&r.to_host, &whole.to_host));
            }
        }
        // STUN: a realm read from a truncation is the whole one.
        let mut m = vec![0x00, 0x01];
        let padded = name.len().div_ceil(4) * 4;
        m.extend(((4 + padded) as u16).to_be_bytes());
        m.extend(stun::MAGIC_COOKIE.to_be_bytes());
        m.extend([3u8; 12]);
        m.extend([0x00, 0x14]);
        m.extend((name.len() as u16).to_be_bytes());
        m.extend(name.as_bytes());
        m.resize(20 + 4 + padded, 0);
        let whole = stun::parse_message(&m).value.unwrap();
        for n in 0..m.len() {
            if let Some(s) = stun::parse_message(&m[..n]).value {
                prop_assert!(same_if_set(&s.realm, &whole.realm));
            }
        }
    }
}
