//! Table tests of the matcher and classifier: one row per case.

use dpi_core::matcher::{Matcher, Scratch};
use dpi_core::signature::{parse_extended, Side};
use dpi_core::{Classifier, Confidence, Decision, FlowView};

/// Ids of the rules of `rules` that match `view`, in set order.
fn matching(rules: &str, view: &FlowView<'_>) -> Vec<String> {
    let set = parse_extended(rules, "t.rules").unwrap_or_else(|e| panic!("{e}"));
    let m = Matcher::new(&set).unwrap();
    let mut scratch = Scratch::new();
    m.matches(view, &mut scratch)
        .iter()
        .map(|&i| set.signatures[i as usize].id.clone().unwrap_or_default())
        .collect()
}

fn rule(id: &str, body: &str) -> String {
    format!("rule {id}\n  protocol P{id}\n{body}\nend\n")
}

fn tcp(port: u16) -> FlowView<'static> {
    FlowView::new(6, port)
}

#[test]
fn pattern_table() {
    // (case, rule body, view, matches)
    let cases: Vec<(&str, &str, FlowView<'static>, bool)> = vec![
        (
            "masked exact",
            "c2s at 0 hex \"47 45 54 20\"",
            tcp(80).with_c2s(b"GET /"),
            true,
        ),
        (
            "masked mismatch",
            "c2s at 0 hex \"47 45 54 20\"",
            tcp(80).with_c2s(b"PUT /"),
            false,
        ),
        (
            "masked short payload",
            "c2s at 0 hex \"47 45 54 20\"",
            tcp(80).with_c2s(b"GET"),
            false,
        ),
        (
            "masked inner wildcard",
            "c2s at 0 hex \"16 03 ?? ?? ?? 01\"",
            tcp(1).with_c2s(b"\x16\x03\x01\x02\x00\x01"),
            true,
        ),
        (
            "masked nibble",
            "c2s at 0 hex \"16 03 0? ?? ?? 01\"",
            tcp(1).with_c2s(b"\x16\x03\x13\x02\x00\x01"),
            false,
        ),
        (
            "masked bit mask",
            "c2s at 0 hex \"80&C0 01\"",
            tcp(1).with_c2s(b"\xbf\x01"),
            true,
        ),
        (
            "masked bit mask mismatch",
            "c2s at 0 hex \"80&C0 01\"",
            tcp(1).with_c2s(b"\xff\x01"),
            false,
        ),
        (
            "masked no exact byte",
            "c2s at 0 hex \"4? 5?\"",
            tcp(1).with_c2s(b"\x41\x5f"),
            true,
        ),
        (
            "masked no exact byte mismatch",
            "c2s at 0 hex \"4? 5?\"",
            tcp(1).with_c2s(b"\x41\x6f"),
            false,
        ),
        (
            "masked trailing wildcard absent",
            "c2s at 0 hex \"55 ?? ??\"",
            tcp(1).with_c2s(b"\x55"),
            true,
        ),
        (
            "masked at offset",
            "c2s at 2 hex \"01 00 00 01\"",
            FlowView::new(17, 53).with_c2s(b"\xab\xcd\x01\x00\x00\x01"),
            true,
        ),
        (
            "masked at offset shifted",
            "c2s at 2 hex \"01 00 00 01\"",
            FlowView::new(17, 53).with_c2s(b"\xab\x01\x00\x00\x01"),
            false,
        ),
        (
            "masked all wildcard, no payload",
            "c2s at 0 hex \"?? ??\"",
            tcp(1),
            true,
        ),
        ("masked empty", "c2s at 0 hex \"\"", tcp(1), true),
        (
            "literal at",
            "c2s at 4 \"HTTP\"",
            tcp(1).with_c2s(b"GET HTTP"),
            true,
        ),
        (
            "literal at wrong offset",
            "c2s at 3 \"HTTP\"",
            tcp(1).with_c2s(b"GET HTTP"),
            false,
        ),
        (
            "literal at past end",
            "c2s at 6 \"HTTP\"",
            tcp(1).with_c2s(b"GET HTTP"),
            false,
        ),
        (
            "literal within, ends at N",
            "c2s within 8 \"HTTP\"",
            tcp(1).with_c2s(b"GET HTTP/1.1"),
            true,
        ),
        (
            "literal within, ends after N",
            "c2s within 7 \"HTTP\"",
            tcp(1).with_c2s(b"GET HTTP/1.1"),
            false,
        ),
        (
            "literal within, later copy",
            "c2s within 6 \"AB\"",
            tcp(1).with_c2s(b"xxxxxxxABxAB"),
            false,
        ),
        (
            "literal within, earlier copy",
            "c2s within 4 \"AB\"",
            tcp(1).with_c2s(b"xABxxxxxAB"),
            true,
        ),
        (
            "literal anywhere",
            "c2s \"Host:\"",
            tcp(1).with_c2s(b"GET / HTTP/1.1\r\nHost: x"),
            true,
        ),
        (
            "literal anywhere absent",
            "c2s \"Host:\"",
            tcp(1).with_c2s(b"GET / HTTP/1.1\r\nhost: x"),
            false,
        ),
        (
            "literal nocase",
            "c2s nocase \"host:\"",
            tcp(1).with_c2s(b"GET / HTTP/1.1\r\nHoSt: x"),
            true,
        ),
        (
            "literal nocase at",
            "c2s at 0 nocase \"get \"",
            tcp(1).with_c2s(b"GeT /"),
            true,
        ),
        (
            "literal nocase within",
            "c2s within 5 nocase \"et /\"",
            tcp(1).with_c2s(b"GeT /"),
            true,
        ),
        (
            "literal nocase no letters",
            "c2s nocase \"\\x01\\x02\"",
            tcp(1).with_c2s(b"\x00\x01\x02"),
            true,
        ),
        (
            "literal overlapping atoms",
            "c2s at 1 \"aab\"",
            tcp(1).with_c2s(b"aaab"),
            true,
        ),
        (
            "regex anywhere",
            "c2s regex \"Host: [a-z]+\\.com\"",
            tcp(1).with_c2s(b"x\r\nHost: example.com\r\n"),
            true,
        ),
        (
            "regex anywhere absent",
            "c2s regex \"Host: [a-z]+\\.com\"",
            tcp(1).with_c2s(b"x\r\nHost: example.org\r\n"),
            false,
        ),
        (
            "regex at",
            "c2s at 2 regex \"[0-9]{3} \"",
            tcp(1).with_c2s(b"xx200 OK"),
            true,
        ),
        (
            "regex at is anchored",
            "c2s at 1 regex \"[0-9]{3} \"",
            tcp(1).with_c2s(b"xx200 OK"),
            false,
        ),
        (
            "regex at with prefix",
            "c2s at 0 regex \"SSH-[12]\\.\"",
            tcp(1).with_c2s(b"SSH-2.0-OpenSSH"),
            true,
        ),
        (
            "regex at with prefix elsewhere",
            "c2s at 0 regex \"SSH-[12]\\.\"",
            tcp(1).with_c2s(b"xSSH-2.0-OpenSSH"),
            false,
        ),
        (
            "regex within",
            "c2s within 6 regex \"b+c\"",
            tcp(1).with_c2s(b"aaabbcdd"),
            true,
        ),
        (
            "regex within too short",
            "c2s within 5 regex \"b+c\"",
            tcp(1).with_c2s(b"aaabbcdd"),
            false,
        ),
        (
            "regex bytes mode",
            "c2s regex \"\\xFF\\x00\"",
            tcp(1).with_c2s(b"\x01\xff\x00"),
            true,
        ),
        (
            "regex case-insensitive",
            "c2s regex \"(?i)user-agent\"",
            tcp(1).with_c2s(b"USER-AGENT: x"),
            true,
        ),
        (
            "regex without literal",
            "c2s regex \"[a-c]{3}[0-9]\"",
            tcp(1).with_c2s(b"zzcab7"),
            true,
        ),
        (
            "regex without literal absent",
            "c2s regex \"[a-c]{3}[0-9]\"",
            tcp(1).with_c2s(b"zzcab"),
            false,
        ),
        (
            "s2c pattern on c2s bytes",
            "s2c at 0 \"220 \"",
            tcp(21).with_c2s(b"220 ready"),
            false,
        ),
        (
            "s2c pattern",
            "s2c at 0 \"220 \"",
            tcp(21).with_s2c(b"220 ready"),
            true,
        ),
        (
            "either c2s",
            "either at 0 \"xy\"",
            tcp(1).with_c2s(b"xyz"),
            true,
        ),
        (
            "either s2c",
            "either at 0 \"xy\"",
            tcp(1).with_s2c(b"xyz"),
            true,
        ),
        (
            "either none",
            "either at 0 \"xy\"",
            tcp(1).with_c2s(b"zxy").with_s2c(b"yx"),
            false,
        ),
        (
            "both",
            "both at 0 \"xy\"",
            tcp(1).with_c2s(b"xy1").with_s2c(b"xy2"),
            true,
        ),
        (
            "both one side",
            "both at 0 \"xy\"",
            tcp(1).with_c2s(b"xy1").with_s2c(b"yx2"),
            false,
        ),
        (
            "two patterns, both hold",
            "c2s at 0 \"GET \"\n  s2c at 0 \"HTTP/\"",
            tcp(1).with_c2s(b"GET /").with_s2c(b"HTTP/1.1"),
            true,
        ),
        (
            "two patterns, one holds",
            "c2s at 0 \"GET \"\n  s2c at 0 \"HTTP/\"",
            tcp(1).with_c2s(b"GET /").with_s2c(b"HTTX/1.1"),
            false,
        ),
        (
            "transport tcp on udp",
            "transport tcp\n  c2s \"ab\"",
            FlowView::new(17, 1).with_c2s(b"ab"),
            false,
        ),
        ("transport number", "transport 1", FlowView::new(1, 0), true),
        (
            "transport number other",
            "transport 1",
            FlowView::new(58, 0),
            false,
        ),
        (
            "port single",
            "transport udp\n  ports 53",
            FlowView::new(17, 53),
            true,
        ),
        (
            "port single other",
            "transport udp\n  ports 53",
            FlowView::new(17, 54),
            false,
        ),
        ("port range", "ports 8000-8099, 80", tcp(8080), true),
        ("port wide range", "ports 1024-65535", tcp(50000), true),
        (
            "port wide range below",
            "ports 1024-65535",
            tcp(1000),
            false,
        ),
        (
            "port with pattern",
            "ports 80\n  c2s at 0 \"GET \"",
            tcp(8080).with_c2s(b"GET /"),
            false,
        ),
        (
            "size",
            "size c2s 10-20",
            tcp(1).with_first_sizes(Some(12), None),
            true,
        ),
        (
            "size out of range",
            "size c2s 10-20",
            tcp(1).with_first_sizes(Some(21), None),
            false,
        ),
        (
            "size of silent side",
            "size s2c 0-",
            tcp(1).with_first_sizes(Some(21), None),
            false,
        ),
        (
            "size open range",
            "size s2c 1200-",
            FlowView::new(17, 443).with_first_sizes(None, Some(1250)),
            true,
        ),
        (
            "packets side",
            "packets c2s 2-3",
            tcp(1).with_packets(3, 9),
            true,
        ),
        (
            "packets total",
            "packets total 12-",
            tcp(1).with_packets(3, 9),
            true,
        ),
        (
            "packets total below",
            "packets total 13-",
            tcp(1).with_packets(3, 9),
            false,
        ),
        (
            "first payload",
            "first-payload s2c",
            tcp(1).with_first_payload(Side::Responder),
            true,
        ),
        (
            "first payload other",
            "first-payload s2c",
            tcp(1).with_first_payload(Side::Initiator),
            false,
        ),
        ("first payload unknown", "first-payload s2c", tcp(1), false),
        (
            "client port",
            "client-port 5355",
            FlowView::new(17, 50000).with_client_port(5355),
            true,
        ),
        (
            "client port range",
            "client-port 5350-5360",
            FlowView::new(17, 5355).with_client_port(50000),
            false,
        ),
    ];
    for (name, body, view, want) in cases {
        let rules = rule("r", body);
        let got = !matching(&rules, &view).is_empty();
        assert_eq!(got, want, "case `{name}`: {rules}");
    }
}

#[test]
fn identical_patterns_of_many_rules() {
    let mut rules = String::new();
    for i in 0..50 {
        rules += &rule(
            &format!("r{i}"),
            &format!("ports {}\n  c2s at 0 \"GET \"", 8000 + i),
        );
    }
    rules += &rule("any", "c2s at 0 \"GET \"");
    let got = matching(&rules, &tcp(8007).with_c2s(b"GET /"));
    assert_eq!(got, vec!["r7", "any"]);
}

fn classifier(rules: &str) -> Classifier {
    Classifier::new(&parse_extended(rules, "p.rules").unwrap_or_else(|e| panic!("{e}"))).unwrap()
}

#[test]
fn precedence_table() {
    // (case, rules, view, deciding rule id, confidence)
    let http = tcp(80).with_c2s(b"GET / HTTP/1.1\r\nHost: a\r\n");
    let cases: Vec<(&str, String, FlowView<'static>, &str, Confidence)> = vec![
        (
            "signature beats feature and port",
            rule("port", "transport tcp\n  ports 80")
                + &rule("feat", "packets c2s 0-")
                + &rule("sig", "c2s at 0 \"GET\""),
            http,
            "sig",
            Confidence::Signature,
        ),
        (
            "feature beats port",
            rule("port", "transport tcp\n  ports 80")
                + &rule("feat", "transport tcp\n  packets c2s 0-"),
            http,
            "feat",
            Confidence::Feature,
        ),
        (
            "transport-only rule is a feature",
            rule("port", "ports 80") + &rule("tcp", "transport tcp"),
            http,
            "tcp",
            Confidence::Feature,
        ),
        (
            "all-wildcard pattern is a port guess",
            rule(
                "wild",
                "transport tcp\n  ports 80\n  c2s at 0 hex \"?? ??\"",
            ),
            http,
            "wild",
            Confidence::Port,
        ),
        (
            "priority beats specificity",
            rule("long", "c2s at 0 \"GET / HTTP\"")
                + &rule("short", "c2s at 0 \"GET\"\n  priority 1"),
            http,
            "short",
            Confidence::Signature,
        ),
        (
            "more constrained bytes win",
            rule("short", "c2s at 0 \"GET\"") + &rule("long", "c2s at 0 \"GET / HTTP\""),
            http,
            "long",
            Confidence::Signature,
        ),
        (
            "ports win a tie in bytes",
            rule("any", "c2s at 0 \"GET\"") + &rule("p80", "c2s at 0 \"GET\"\n  ports 80"),
            http,
            "p80",
            Confidence::Signature,
        ),
        (
            "lower index wins a full tie",
            rule("first", "c2s at 0 \"GET\"") + &rule("second", "c2s at 0 \"GET\""),
            http,
            "first",
            Confidence::Signature,
        ),
        (
            "negative priority loses",
            rule("neg", "c2s at 0 \"GET / HTTP\"\n  priority -1") + &rule("plain", "c2s \"Host\""),
            http,
            "plain",
            Confidence::Signature,
        ),
    ];
    for (name, rules, view, want, conf) in cases {
        let c = classifier(&rules).classify(&view);
        assert_eq!((&*c.reason, c.confidence), (want, conf), "case `{name}`");
        assert_eq!(&*c.protocol, format!("P{want}"), "case `{name}`");
    }
}

#[test]
fn unknown_and_reason_forms() {
    let c = classifier(&rule("a", "c2s \"zz\"")).classify(&tcp(1).with_c2s(b"ab"));
    assert!(c.is_unknown());
    assert_eq!(&*c.protocol, "Unknown");
    assert_eq!(c.signature, None);
    // Without an id, the reason is file:line.
    let c = classifier("\n\nrule\n  protocol X\n  app Y\nend\n").classify(&tcp(1));
    assert_eq!(&*c.reason, "p.rules:3");
    assert_eq!(c.label(), "X.Y");
    assert_eq!(c.signature, Some(0));
}

#[test]
fn early_decision_table() {
    let rules = rule("tls", "transport tcp\n  c2s at 0 hex \"16 03 0? ?? ?? 01\"")
        + &rule("http", "transport tcp\n  c2s at 0 \"GET \"")
        + &rule(
            "host",
            "transport tcp\n  c2s within 64 nocase \"host:\"\n  priority -1",
        )
        + &rule("smtp", "transport tcp\n  ports 25\n  s2c at 0 \"220 \"")
        + &rule("port443", "transport tcp\n  ports 443")
        + &rule("bounded", "transport udp\n  ports 9\n  packets c2s 1-2")
        + &rule("icmp", "transport 1")
        + &rule("tail", "transport udp\n  ports 7\n  c2s regex \"ok$\"");
    let c = classifier(&rules);
    // (case, view, complete, final?, deciding id or "" for unknown)
    let cases: Vec<(&str, FlowView<'static>, bool, bool, &str)> = vec![
        ("no bytes yet", tcp(443), false, false, "port443"),
        ("no bytes, complete", tcp(443), true, true, "port443"),
        (
            "one TLS byte",
            tcp(443).with_c2s(b"\x16"),
            false,
            false,
            "port443",
        ),
        (
            "TLS header",
            tcp(443).with_c2s(b"\x16\x03\x01\x00\xc8\x01"),
            false,
            true,
            "tls",
        ),
        (
            "GET, host literal still possible",
            tcp(443).with_c2s(b"GET "),
            false,
            true,
            "http",
        ),
        (
            "neither TLS nor GET, host literal possible",
            tcp(443).with_c2s(b"POST / HTTP/1.1\r\n"),
            false,
            false,
            "port443",
        ),
        (
            "host literal window passed",
            tcp(443).with_c2s(&[b'x'; 64]),
            false,
            true,
            "port443",
        ),
        (
            "byte limit reached",
            tcp(443).with_c2s(b"POST").with_byte_limit(4),
            false,
            true,
            "port443",
        ),
        (
            "host found",
            tcp(8000).with_c2s(b"POST / HTTP/1.1\r\nHost: a"),
            false,
            true,
            "host",
        ),
        ("server-first, no bytes", tcp(25), false, false, ""),
        (
            "server banner",
            tcp(25).with_s2c(b"220 mail"),
            false,
            true,
            "smtp",
        ),
        (
            "wrong banner, client bytes may still be TLS",
            tcp(25).with_s2c(b"554 no"),
            false,
            false,
            "",
        ),
        (
            "wrong banner, client bytes decide",
            tcp(25)
                .with_s2c(b"554 no")
                .with_c2s(b"EHLO")
                .with_byte_limit(4),
            false,
            true,
            "",
        ),
        (
            "wrong banner, client may still send a host",
            tcp(25).with_s2c(b"554 no").with_c2s(b"EHLO"),
            false,
            false,
            "",
        ),
        (
            "bounded packets may stop holding",
            FlowView::new(17, 9).with_packets(1, 0),
            false,
            false,
            "bounded",
        ),
        (
            "bounded packets, complete",
            FlowView::new(17, 9).with_packets(1, 0),
            true,
            true,
            "bounded",
        ),
        (
            "bounded packets exceeded",
            FlowView::new(17, 9).with_packets(3, 0),
            false,
            true,
            "",
        ),
        ("transport only", FlowView::new(1, 0), false, true, "icmp"),
        (
            "regex at the end may stop matching",
            FlowView::new(17, 7).with_c2s(b"all ok"),
            false,
            false,
            "tail",
        ),
        (
            "regex at the end, complete",
            FlowView::new(17, 7).with_c2s(b"all ok"),
            true,
            true,
            "tail",
        ),
    ];
    for (name, view, complete, fin, want) in cases {
        let d = c.decide(&view, complete);
        assert_eq!(d.is_final(), fin, "case `{name}`: {d:?}");
        let got = d.classification();
        let id = if got.is_unknown() { "" } else { &*got.reason };
        assert_eq!(id, want, "case `{name}`");
        // A decision agrees with classify on the same bytes.
        assert_eq!(got, &c.classify(&view), "case `{name}`");
    }
}

#[test]
fn decision_pending_then_final() {
    let c = classifier(
        &(rule("http", "transport tcp\n  c2s at 0 \"GET \"")
            + &rule("web", "transport tcp\n  ports 80")),
    );
    let bytes = b"GET / HTTP/1.1";
    let mut decided = None;
    for n in 0..=bytes.len() {
        match c.decide(&tcp(80).with_c2s(&bytes[..n]), false) {
            Decision::Final(cl) => {
                decided = Some((n, cl));
                break;
            }
            Decision::Pending(cl) => assert_eq!(&*cl.reason, "web"),
        }
    }
    let (n, cl) = decided.expect("decided before the end");
    assert_eq!(n, 4);
    assert_eq!(&*cl.reason, "http");
    // "PUT" is ruled out at its first byte.
    assert!(c.decide(&tcp(80).with_c2s(b"P"), false).is_final());
}

#[test]
fn public_types_are_send_sync() {
    fn check<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    check::<Matcher>();
    check::<Classifier>();
    check::<dpi_core::Classification>();
    check::<Decision>();
    check::<FlowView<'static>>();
    check::<Scratch>();
    check::<dpi_core::matcher::BuildError>();
}

#[test]
fn one_scratch_many_matchers() {
    let small = Matcher::new(&parse_extended(&rule("a", "c2s \"ab\""), "s").unwrap()).unwrap();
    let mut big_rules = String::new();
    for i in 0..100 {
        big_rules += &rule(&format!("b{i}"), &format!("c2s \"x{i}y\""));
    }
    let big = Matcher::new(&parse_extended(&big_rules, "b").unwrap()).unwrap();
    let mut s = Scratch::new();
    let v = tcp(1).with_c2s(b"zabx99yx5y");
    assert_eq!(small.matches(&v, &mut s), &[0]);
    assert_eq!(big.matches(&v, &mut s), &[5, 99]);
    assert_eq!(small.matches(&v, &mut s), &[0]);
}

#[test]
fn regex_build_error_names_signature() {
    let mut set = parse_extended(&rule("a", "c2s \"ab\""), "s").unwrap();
    let mut bad = set.signatures[0].clone();
    bad.patterns = vec![dpi_core::signature::Pattern::regex(
        dpi_core::signature::Direction::Initiator,
        "(unclosed",
    )];
    set.signatures.push(bad);
    let err = Matcher::new(&set).unwrap_err();
    assert_eq!(err.signature(), Some(1));
    assert!(err.to_string().contains("signature 1"));
}

/// A flow seen from its response first (server port = the client's
/// ephemeral port) is named by a rule of nothing but ports on the port it
/// answers from, only when nothing names it on its server port.
#[test]
fn port_rules_fall_back_to_the_client_port() {
    let rules = "rule dns-port\n  protocol DNS\n  transport udp\n  ports 53\nend\n\
                 rule high\n  protocol HighPort\n  transport udp\n  ports 40000\nend\n\
                 rule tcp53\n  protocol TcpDns\n  transport tcp\n  ports 53\nend\n";
    let set = parse_extended(rules, "t.rules").unwrap();
    let c = Classifier::new(&set).unwrap();
    // The response came first: client 53, server 41000.
    let reply = FlowView::new(17, 41000).with_client_port(53);
    let l = c.classify(&reply);
    assert_eq!((&*l.protocol, l.confidence), ("DNS", Confidence::Port));
    // A rule on the server port wins.
    let l = c.classify(&FlowView::new(17, 40000).with_client_port(53));
    assert_eq!(&*l.protocol, "HighPort");
    // A client port above the server's is an ephemeral port, not a
    // service: no fallback.
    let l = c.classify(&FlowView::new(17, 443).with_client_port(40000));
    assert!(l.is_unknown(), "{}", l.protocol);
    // The transport must agree.
    let l = c.classify(&FlowView::new(6, 41000).with_client_port(53));
    assert_eq!(&*l.protocol, "TcpDns");
    let l = c.classify(&FlowView::new(132, 41000).with_client_port(53));
    assert!(l.is_unknown());
    // The decision on a growing flow is the same label, not final while a
    // byte rule could still name it.
    let with_bytes = format!(
        "{rules}rule bytes\n  protocol Bytes\n  transport udp\n  c2s at 0 hex \"AB CD\"\nend\n"
    );
    let c = Classifier::new(&parse_extended(&with_bytes, "t.rules").unwrap()).unwrap();
    match c.decide(&reply, false) {
        Decision::Pending(l) => assert_eq!(&*l.protocol, "DNS"),
        Decision::Final(l) => panic!("final too early: {}", l.protocol),
    }
}

/// A flow no rule names whose client port is below its server's (its
/// first packet came from the server) is tried with its sides swapped: a
/// rule on the server's bytes names it, its port condition holding on the
/// port the server answers from. A rule of the flow's own view still
/// wins, and a flow whose client port is above its server's (an ephemeral
/// port) is not swapped.
#[test]
fn a_flow_seen_from_its_server_first_is_swapped() {
    let rules =
        "rule banner\n  protocol Banner\n  transport tcp\n  ports 2100\n  s2c at 0 \"220 \"\nend\n\
                 rule hello\n  protocol Hello\n  transport tcp\n  c2s at 0 \"HELO\"\nend\n";
    let c = Classifier::new(&parse_extended(rules, "t.rules").unwrap()).unwrap();
    // The banner came first, from port 2100; the client's reply is "s2c".
    let seen = FlowView::new(6, 50000)
        .with_client_port(2100)
        .with_c2s(b"220 ready")
        .with_s2c(b"EHLO x");
    let l = c.classify(&seen);
    assert_eq!(
        (&*l.protocol, l.confidence),
        ("Banner", Confidence::Signature)
    );
    // The same bytes the right way round give the same label.
    assert_eq!(c.classify(&seen.swapped()).protocol, l.protocol);
    // A rule of the flow's own view wins over the swapped one.
    let own = seen.with_c2s(b"HELO there").with_s2c(b"220 ready");
    assert_eq!(&*c.classify(&own).protocol, "Hello");
    // A client port above the server's is not taken for a service.
    let ephemeral = FlowView::new(6, 2100)
        .with_client_port(50000)
        .with_c2s(b"220 ready");
    assert!(c.classify(&ephemeral).is_unknown());
    // The transport must agree.
    let udp = FlowView::new(17, 50000)
        .with_client_port(2100)
        .with_c2s(b"220 ready");
    assert!(c.classify(&udp).is_unknown());
    // Before its bytes come, the flow's own view can match nothing (the
    // banner rule alone), but the swapped one still can: no final answer
    // yet.
    let banner = rules.split_once("rule hello").unwrap().0;
    let c = Classifier::new(&parse_extended(banner, "t.rules").unwrap()).unwrap();
    let early = FlowView::new(6, 50000).with_client_port(2100);
    match c.decide(&early, false) {
        Decision::Pending(l) => assert!(l.is_unknown()),
        Decision::Final(l) => panic!("final too early: {}", l.protocol),
    }
    match c.decide(&early.with_c2s(b"220 ready"), false) {
        Decision::Final(l) => assert_eq!(&*l.protocol, "Banner"),
        Decision::Pending(l) => panic!("still pending: {}", l.protocol),
    }
}
