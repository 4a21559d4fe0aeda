//! Cross-flow labels against nDPI's over the ndpi and zeek corpora.
//!
//! Every capture of `$DPI_CORPUS/{ndpi,zeek}/pcap` goes through the flow
//! meter with `dpi classify`'s defaults (512 bytes per direction,
//! handshakes kept up to 4096 bytes), each flow is labelled by the
//! built-in set twice — with what other flows said about it
//! ([`Flow::cross`]) and without — and flows are matched to the flow lines
//! of `expected/<capture>.out` by 5-tuple. Only nDPI flows whose
//! confidence starts with `DPI` count.
//!
//! - FTP_DATA, RTP and RTCP together: our protocol equals nDPI's on at
//!   least 90% of them, over both corpora (24 flows: FTP_DATA 1 + 4, RTP
//!   17 + 0, RTCP 2 + 0; measured 23); RTP alone, the one label with
//!   enough flows, too (measured 16 of 17).
//! - SMTPS, POPS, IMAPS, FTPS (STARTTLS upgrades and implicit TLS): no
//!   fewer equal than without.
//! - Every master protocol: no fewer equal than without, in each corpus.
//! - Application agreement over all flows with an nDPI application: no
//!   lower than without.
//! - Applications named from a DNS answer (off by default,
//!   [`Classifier::use_dns_names`]): how many and how many equal nDPI's,
//!   printed by the second test, which asserts only that the answers were
//!   read (nDPI's own label does not use its DNS cache, so most such
//!   names are applications nDPI leaves out).
//!
//! Without `DPI_CORPUS` the test prints a note and passes; with it set, a
//! missing corpus is a failure.
//!
//! ```sh
//! DPI_CORPUS=/work/shared/corpus cargo test --release -p dpi-train --test crossflow_corpus -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dpi_core::{Classifier, FileSummary, Flow, FlowView};
use dpi_train::align::{match_records, Multiplicity};
use dpi_train::commands::classify::{DEFAULT_BYTES, DEFAULT_HANDSHAKE_BYTES};
use dpi_train::labels::ndpi_out;
use dpi_train::record::FlowRecord;
use dpi_train::runner::{run_files, FlowSink, RunOptions};

fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("DPI_CORPUS").or_else(|| {
        eprintln!("DPI_CORPUS is not set: the cross-flow comparison is skipped");
        None
    })?);
    for c in ["ndpi", "zeek"] {
        assert!(
            p.join(c).join("pcap").is_dir() && p.join(c).join("expected").is_dir(),
            "DPI_CORPUS is set but {} has no {c}/pcap and {c}/expected",
            p.display()
        );
    }
    Some(p)
}

/// Our labels per flow: (protocol, app) with and without cross-flow knowledge.
#[derive(Clone)]
struct Labels {
    with: (String, Option<String>),
    without: (String, Option<String>),
    app_from_dns: bool,
}

struct Collect {
    classifier: Classifier,
    bytes: usize,
    flows: Vec<Vec<(FlowRecord, Labels)>>,
}

impl Collect {
    fn label(&self, flow: &Flow) -> (String, Option<String>, bool) {
        let meta = flow.metadata();
        let mut view = FlowView::from(flow);
        view.c2s = &view.c2s[..view.c2s.len().min(self.bytes)];
        view.s2c = &view.s2c[..view.s2c.len().min(self.bytes)];
        let c = self.classifier.classify_with_metadata(&view, &meta);
        let from_dns = c.cross && c.reason.contains(" from DNS ");
        (
            c.protocol.to_string(),
            c.app.map(|a| a.to_string()),
            from_dns,
        )
    }
}

impl FlowSink for Collect {
    type Item = Flow;

    fn worker(&self, _file: usize) -> Box<dyn FnMut(Flow) -> Flow + Send> {
        Box::new(|f| f)
    }

    fn flow(&mut self, file: usize, mut flow: Flow) -> anyhow::Result<()> {
        let (p, a, app_from_dns) = self.label(&flow);
        flow.cross = None;
        let (p0, a0, _) = self.label(&flow);
        let labels = Labels {
            with: (p, a),
            without: (p0, a0),
            app_from_dns,
        };
        self.flows[file].push((FlowRecord::new("", &flow), labels));
        Ok(())
    }

    fn file_done(&mut self, _file: usize, _summary: FileSummary) -> anyhow::Result<()> {
        Ok(())
    }
}

#[derive(Default, Clone, Copy)]
struct Count {
    total: usize,
    with: usize,
    without: usize,
}

impl Count {
    fn add(&mut self, with: bool, without: bool) {
        self.total += 1;
        self.with += usize::from(with);
        self.without += usize::from(without);
    }
    fn pct(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.with as f64 / self.total as f64
        }
    }
}

#[derive(Default)]
struct Figures {
    /// Per nDPI master protocol.
    by_proto: BTreeMap<String, Count>,
    all: Count,
    apps: Count,
    /// Flows whose application came from a DNS answer, and how many equal nDPI's.
    dns_named: usize,
    dns_equal: usize,
}

const EXPECTED: [&str; 3] = ["FTP_DATA", "RTP", "RTCP"];
const UPGRADED: [&str; 4] = ["SMTPS", "POPS", "IMAPS", "FTPS"];

fn run_corpus(dir: &Path, dns_names: bool, verbose: bool) -> Figures {
    let mut paths: Vec<String> = std::fs::read_dir(dir.join("pcap"))
        .expect("pcap folder")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .collect();
    paths.sort();
    let bytes: usize = DEFAULT_BYTES.parse().expect("a number");
    let cfg = dpi_core::FlowConfig {
        payload_bytes: bytes,
        handshake_bytes: DEFAULT_HANDSHAKE_BYTES,
        ..dpi_core::FlowConfig::default()
    };
    let set = dpi_train::default_sigs::default_set().expect("the built-in set loads");
    let mut sink = Collect {
        classifier: {
            let mut c = Classifier::new(&set).expect("the built-in set compiles");
            c.use_dns_names(dns_names);
            c
        },
        bytes,
        flows: vec![Vec::new(); paths.len()],
    };
    let opts = RunOptions {
        flow: cfg,
        threads: 0,
        progress: false,
    };
    run_files(&paths, &opts, &mut sink).expect("captures run");
    let mut f = Figures::default();
    for (path, flows) in paths.iter().zip(&sink.flows) {
        let name = Path::new(path).file_name().expect("a name");
        let out = dir
            .join("expected")
            .join(format!("{}.out", name.to_string_lossy()));
        let Ok(parsed) = ndpi_out::parse_file(&out) else {
            continue;
        };
        let records: Vec<_> = flows.iter().map(|(r, _)| r.clone()).collect();
        let matches = match_records(&records, &parsed.records, Multiplicity::OneToOne);
        for (rec, m) in parsed.records.iter().zip(&matches) {
            if !rec
                .confidence
                .as_deref()
                .is_some_and(|c| c.starts_with("DPI"))
            {
                continue;
            }
            let Some(master) = rec.master.clone() else {
                continue;
            };
            let ours = m.map(|m| &flows[m.flow].1);
            let same = |l: Option<&(String, Option<String>)>| l.is_some_and(|l| l.0 == master);
            let (w, wo) = (same(ours.map(|l| &l.with)), same(ours.map(|l| &l.without)));
            f.by_proto.entry(master.clone()).or_default().add(w, wo);
            f.all.add(w, wo);
            if verbose
                && (EXPECTED.contains(&master.as_str())
                    || UPGRADED.contains(&master.as_str())
                    || w != wo)
            {
                println!(
                    "{}:{} nDPI {master}: ours {:?}, without other flows {:?}",
                    name.to_string_lossy(),
                    rec.line,
                    ours.map(|l| &l.with.0),
                    ours.map(|l| &l.without.0)
                );
            }
            if let Some(app) = rec.app.as_deref() {
                let same_app = |l: Option<&(String, Option<String>)>| {
                    l.is_some_and(|l| l.1.as_deref() == Some(app))
                };
                f.apps.add(
                    same_app(ours.map(|l| &l.with)),
                    same_app(ours.map(|l| &l.without)),
                );
            }
            if let Some(l) = ours.filter(|l| l.app_from_dns) {
                f.dns_named += 1;
                if rec.app.is_some() && l.with.1 == rec.app {
                    f.dns_equal += 1;
                }
                if verbose {
                    println!(
                        "{}:{} dns-named {:?}, nDPI app {:?}",
                        name.to_string_lossy(),
                        rec.line,
                        l.with.1,
                        rec.app
                    );
                }
            }
        }
    }
    f
}

#[test]
fn announced_flows_are_labelled_as_ndpi_labels_them() {
    let Some(root) = corpus() else {
        return;
    };
    let verbose = std::env::var_os("DPI_CROSSFLOW_VERBOSE").is_some();
    let mut together = Count::default();
    let mut per_label: BTreeMap<&str, Count> = BTreeMap::new();
    for c in ["ndpi", "zeek"] {
        let f = run_corpus(&root.join(c), false, verbose);
        for label in EXPECTED.iter().chain(&UPGRADED) {
            let n = f.by_proto.get(*label).copied().unwrap_or_default();
            println!(
                "{c} {label:<9} {:>3}/{:<3} equal ({:.1}%), {:>3} without other flows",
                n.with,
                n.total,
                n.pct(),
                n.without
            );
            let t = per_label.entry(label).or_default();
            t.total += n.total;
            t.with += n.with;
            t.without += n.without;
            if EXPECTED.contains(label) {
                together.total += n.total;
                together.with += n.with;
                together.without += n.without;
            }
        }
        println!(
            "{c}: master protocol equal on {}/{} DPI-confidence flows ({:.4}), {} without other flows; application equal on {}/{} ({} without); {} applications named from DNS answers, {} equal to nDPI's",
            f.all.with,
            f.all.total,
            f.all.with as f64 / f.all.total.max(1) as f64,
            f.all.without,
            f.apps.with,
            f.apps.total,
            f.apps.without,
            f.dns_named,
            f.dns_equal
        );
        for (p, n) in &f.by_proto {
            assert!(
                n.with >= n.without,
                "{c}: {p} equal on {} flows, {} without other flows",
                n.with,
                n.without
            );
        }
        assert!(
            f.all.with >= f.all.without,
            "{c}: master protocols got worse"
        );
        assert!(f.apps.with >= f.apps.without, "{c}: applications got worse");
    }
    println!(
        "FTP_DATA, RTP and RTCP together: {}/{} ({:.1}%), {} without other flows",
        together.with,
        together.total,
        together.pct(),
        together.without
    );
    assert!(
        together.total >= 20,
        "the corpora hold {} such flows",
        together.total
    );
    assert!(
        together.pct() >= 90.0,
        "FTP_DATA/RTP/RTCP at {:.1}%",
        together.pct()
    );
    let rtp = per_label["RTP"];
    assert!(rtp.pct() >= 90.0, "RTP at {:.1}%", rtp.pct());
}

#[test]
fn dns_names_measured() {
    let Some(root) = corpus() else {
        return;
    };
    let verbose = std::env::var_os("DPI_CROSSFLOW_VERBOSE").is_some();
    let mut named = 0;
    for c in ["ndpi", "zeek"] {
        let f = run_corpus(&root.join(c), true, verbose);
        println!(
            "{c}, applications from DNS answers on: application equal on {}/{} flows with an nDPI application ({} without other flows); {} named from DNS answers, {} equal to nDPI's",
            f.apps.with, f.apps.total, f.apps.without, f.dns_named, f.dns_equal
        );
        named += f.dns_named;
    }
    assert!(named > 0, "no flow was named from a DNS answer");
}
