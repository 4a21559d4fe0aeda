//! Evaluation figures on small hand-made tables, with exact expected numbers.

use dpi_train::eval::report::{to_json, to_text, write_per_protocol};
use dpi_train::eval::{svg, EvalOptions, Evaluation, Metrics, Outcome, Source};
use dpi_train::labels::Tool;

fn table() -> Vec<Outcome> {
    let rows: [(&str, Option<&str>, usize); 7] = [
        ("HTTP", Some("HTTP"), 3),
        ("HTTP", None, 1),
        ("HTTP", Some("TLS"), 1),
        ("DNS", Some("DNS"), 2),
        ("TLS", Some("HTTP"), 1),
        ("TLS", None, 1),
        ("SSH", Some("SSH"), 1),
    ];
    rows.iter()
        .flat_map(|&(r, c, n)| vec![Outcome::new(r, c); n])
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn totals() {
    let m = Metrics::compute(&table(), 15);
    assert_eq!((m.flows, m.named, m.correct), (10, 8, 6));
    assert!(close(m.coverage, 0.8));
    assert!(close(m.accuracy, 0.6));
    assert!(close(m.precision, 0.75));
}

#[test]
fn per_protocol() {
    let m = Metrics::compute(&table(), 15);
    let got: Vec<(&str, u64, u64, u64)> = m
        .per_protocol
        .iter()
        .map(|p| (p.protocol.as_str(), p.support, p.predicted, p.correct))
        .collect();
    assert_eq!(
        got,
        [
            ("HTTP", 5, 4, 3),
            ("DNS", 2, 2, 2),
            ("TLS", 2, 1, 0),
            ("SSH", 1, 1, 1)
        ]
    );
    let http = &m.per_protocol[0];
    assert!(close(http.precision.unwrap(), 0.75));
    assert!(close(http.recall.unwrap(), 0.6));
    assert!(close(http.f1.unwrap(), 2.0 / 3.0));
    let tls = &m.per_protocol[2];
    assert_eq!(
        (tls.precision, tls.recall, tls.f1),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    let dns = &m.per_protocol[1];
    assert_eq!(
        (dns.precision, dns.recall, dns.f1),
        (Some(1.0), Some(1.0), Some(1.0))
    );
}

#[test]
fn predicted_only_protocol_has_no_recall() {
    let m = Metrics::compute(
        &[
            Outcome::new("DNS", Some("MDNS")),
            Outcome::new("DNS", Some("DNS")),
        ],
        15,
    );
    let mdns = m
        .per_protocol
        .iter()
        .find(|p| p.protocol == "MDNS")
        .unwrap();
    assert_eq!((mdns.support, mdns.predicted, mdns.correct), (0, 1, 0));
    assert_eq!(
        (mdns.precision, mdns.recall, mdns.f1),
        (Some(0.0), None, Some(0.0))
    );
    let dns = &m.per_protocol[0];
    assert_eq!(dns.protocol, "DNS");
    assert_eq!((dns.precision, dns.recall), (Some(1.0), Some(0.5)));
    assert!(close(dns.f1.unwrap(), 2.0 / 3.0));
}

#[test]
fn empty_table() {
    let m = Metrics::compute(&[], 15);
    assert_eq!((m.flows, m.named, m.correct), (0, 0, 0));
    assert_eq!((m.coverage, m.accuracy, m.precision), (0.0, 0.0, 0.0));
    assert!(m.per_protocol.is_empty());
}

#[test]
fn confusion_chosen_by_errors() {
    // Two places: the confused pair HTTP/TLS takes them, not DNS (more
    // flows than TLS, but never wrong); DNS and SSH flows, right, fall in
    // `other, right`.
    let m = Metrics::compute(&table(), 2);
    let c = &m.confusion;
    assert_eq!(c.rows, ["HTTP", "TLS", "other"]);
    assert_eq!(c.columns, ["HTTP", "TLS", "other, right", "unknown"]);
    assert_eq!(
        c.cells,
        vec![vec![3, 1, 0, 1], vec![1, 0, 0, 1], vec![0, 0, 3, 0]]
    );
    assert!(c.agrees(2, 2) && c.agrees(0, 0) && !c.agrees(0, 1));
    let total: u64 = c.cells.iter().flatten().sum();
    assert_eq!(total, m.flows);
    assert_eq!(
        m.confusions,
        [
            ("HTTP".to_string(), "TLS".to_string(), 1),
            ("TLS".to_string(), "HTTP".to_string(), 1)
        ]
    );
    // Everything chosen: no `other` row, and no empty `other` column.
    let m = Metrics::compute(&table(), 15);
    assert_eq!(m.confusion.rows, ["HTTP", "DNS", "TLS", "SSH"]);
    assert_eq!(
        m.confusion.columns,
        ["HTTP", "DNS", "TLS", "SSH", "unknown"]
    );
    assert_eq!(m.confusion.cells[2], [1, 0, 0, 0, 1]);
}

#[test]
fn confusion_splits_other_into_right_and_wrong() {
    // Four places: half go to the largest confusion (A as B), then the
    // protocols of most reference flows (A, C, E). G and H are not
    // chosen: H's flows, right, fall in `other, right`; C as D and E as
    // F (D and F not chosen) in `other, wrong`.
    let rows: [(&str, Option<&str>, usize); 9] = [
        ("A", Some("A"), 10),
        ("A", Some("B"), 5),
        ("C", Some("D"), 4),
        ("C", Some("C"), 8),
        ("E", Some("E"), 3),
        ("E", Some("F"), 2),
        ("G", Some("A"), 1),
        ("G", None, 1),
        ("H", Some("H"), 2),
    ];
    let outcomes: Vec<Outcome> = rows
        .iter()
        .flat_map(|&(r, c, n)| vec![Outcome::new(r, c); n])
        .collect();
    let m = Metrics::compute(&outcomes, 4);
    let c = &m.confusion;
    // In per_protocol order: A 15, C 12, E 5 flows, B none (5 predicted).
    assert_eq!(c.rows, ["A", "C", "E", "other"]);
    assert_eq!(
        c.columns,
        [
            "A",
            "C",
            "E",
            "B",
            "other, right",
            "other, wrong",
            "unknown"
        ]
    );
    assert_eq!(
        c.cells,
        vec![
            vec![10, 0, 0, 5, 0, 0, 0],
            vec![0, 8, 0, 0, 0, 4, 0],
            vec![0, 0, 3, 0, 0, 2, 0],
            vec![1, 0, 0, 0, 2, 0, 1],
        ]
    );
    assert!(c.agrees(3, 4) && !c.agrees(1, 5) && c.agrees(2, 2));
    let total: u64 = c.cells.iter().flatten().sum();
    assert_eq!(total, m.flows);
    assert_eq!(m.confusions.len(), 4);
    assert_eq!(m.confusions[0], ("A".to_string(), "B".to_string(), 5));
    assert_eq!(m.confusions[3], ("G".to_string(), "A".to_string(), 1));
}

fn evaluation() -> (EvalOptions, Evaluation) {
    let opts = EvalOptions {
        only_dpi_confidence: true,
        train_bytes: 64,
        ..EvalOptions::new(Tool::Ndpi, Source::Lpi)
    };
    let e = Evaluation {
        reference_records: 11,
        unaligned: 1,
        flows: vec![],
        metrics: Metrics::compute(&table(), 15),
        apps: dpi_train::eval::metrics::AppMetrics::compute(
            [
                (Some("YouTube"), Some("YouTube")),
                (Some("Google"), None),
                (None, Some("Netflix")),
                (Some("Apple"), Some("apple")),
            ],
            15,
        ),
        comparison: Default::default(),
    };
    (opts, e)
}

#[test]
fn reports() {
    let (opts, e) = evaluation();
    let j = to_json("c", &opts, &e);
    assert_eq!(j["flows"], 10);
    assert_eq!(j["coverage"], 0.8);
    assert_eq!(j["accuracy"], 0.6);
    assert_eq!(j["precision"], 0.75);
    assert_eq!(j["reference_records"], 11);
    assert_eq!(j["per_protocol"][0]["protocol"], "HTTP");
    assert_eq!(j["per_protocol"][0]["support"], 5);
    assert_eq!(j["app_recall"], 2.0 / 3.0);
    assert_eq!(j["app_precision"], 2.0 / 3.0);
    assert_eq!(j["app_confusions"][0]["reference"], "-");
    assert_eq!(j["app_confusions"][0]["candidate"], "Netflix");
    let t = to_text("c", &opts, &e);
    assert!(t.contains("coverage 80.00% (8/10)"), "{t}");
    assert!(t.contains("applications: recall 66.67% (2/3)"), "{t}");
    assert!(t.contains("precision 75.00% (6/8)"), "{t}");
    let mut csv = Vec::new();
    write_per_protocol(&mut csv, &e.metrics).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "protocol,support,predicted,correct,precision,recall,f1"
    );
    assert_eq!(lines[1], "HTTP,5,4,3,0.750000,0.600000,0.666667");
    assert_eq!(lines.len(), 5);
    let s = svg::heatmap(&e.metrics.confusion, "lpi vs <ndpi>");
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(s.contains("lpi vs &lt;ndpi&gt;"));
    assert_eq!(s.matches("<rect x=").count(), 4 * 5);
}
