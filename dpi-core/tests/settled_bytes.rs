//! `FlowConfig::release_settled` with `SettledLabel` frees a datagram
//! flow's bytes while it is live and changes no label and no field: every
//! flow of the sample captures, of generated exchanges and (when
//! `DPI_CORPUS` names the shared corpora) of every corpus capture gets
//! from `Classifier::classify_flow` what it gets when it keeps its bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dpi_core::classify::SettledLabel;
use dpi_core::matcher::Scratch;
use dpi_core::testing::udp_ipv4_frame;
use dpi_core::{
    Classification, Classifier, Flow, FlowConfig, FlowEvent, FlowMeter, Labeller, LinkType,
    Metadata, Timestamp,
};
use proptest::prelude::*;

/// The flows of `frames` (or of the capture at `path`) with the settle
/// check on or off.
fn flows(cfg: &FlowConfig, input: &Input<'_>) -> Vec<Flow> {
    let mut meter = FlowMeter::new(cfg.clone());
    let mut out = Vec::new();
    match input {
        Input::File(path) => {
            meter.read_file(path, &mut |f| out.push(f));
        }
        Input::Frames(frames) => {
            for (i, f) in frames.iter().enumerate() {
                let ts = Timestamp::from_micros(1_000 * i as u64);
                meter.push_frame(LinkType::ETHERNET, ts, f, f.len() as u32, &mut |fl| {
                    out.push(fl)
                });
            }
        }
    }
    meter.flush(&mut |f| out.push(f));
    out
}

enum Input<'a> {
    File(&'a Path),
    Frames(&'a [Vec<u8>]),
}

/// Each flow's label and fields.
type Labels = Vec<(Classification, Metadata)>;

/// Labels and fields with and without the check, and how many flows were
/// settled.
fn compare(classifier: &Arc<Classifier>, input: &Input<'_>) -> (Labels, Labels, usize) {
    let kept_cfg = FlowConfig::classification();
    let bytes = kept_cfg.payload_bytes;
    let mut freed_cfg = kept_cfg.clone();
    freed_cfg.release_settled = Some(Arc::new(SettledLabel::new(classifier.clone(), bytes)));
    let mut scratch = Scratch::new();
    let mut label = |fs: Vec<Flow>| -> (Labels, usize) {
        let settled = fs.iter().filter(|f| f.settled.is_some()).count();
        let l = fs
            .iter()
            .map(|f| classifier.classify_flow(f, bytes, &mut scratch))
            .collect();
        (l, settled)
    };
    let (kept, none) = label(flows(&kept_cfg, input));
    assert_eq!(none, 0, "no flow is settled without the check");
    let (freed, settled) = label(flows(&freed_cfg, input));
    (kept, freed, settled)
}

/// The labels the events path gives (`FlowMeter::push_frame_events`): each
/// flow's `Labelled` label and its `Ended` one, in the order they come.
fn event_labels(classifier: &Classifier, cfg: &FlowConfig, path: &Path) -> Vec<Classification> {
    let mut meter = FlowMeter::new(cfg.clone());
    let mut labeller = Labeller::new(classifier);
    let mut out = Vec::new();
    let mut on = |e: FlowEvent<'_>| match e {
        FlowEvent::Labelled { classification, .. } => out.push(classification.clone()),
        FlowEvent::Ended { classification, .. } => out.push(classification),
    };
    let file = std::fs::File::open(path).expect("opens");
    let mut reader = dpi_core::CaptureReader::new(file).expect("a capture");
    while let Ok(Some(f)) = reader.next_frame() {
        let (link, ts, data, len) = (f.link_type, f.ts, f.data.to_vec(), f.orig_len);
        meter.push_frame_events(link, ts, &data, len, &mut labeller, &mut on);
    }
    meter.flush_events(&mut labeller, &mut on);
    out
}

/// The events path (labels as soon as they are final) gives the same
/// labels, in the same order, with the settle check.
#[test]
fn live_labels_are_the_same_with_settled_bytes() {
    let classifier = Arc::new(Classifier::builtin());
    let kept = FlowConfig::classification();
    let mut freed = kept.clone();
    let check = SettledLabel::new(classifier.clone(), kept.payload_bytes);
    freed.release_settled = Some(Arc::new(check));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/samples");
    for name in SAMPLES {
        let path = dir.join(name);
        let a = event_labels(&classifier, &kept, &path);
        let b = event_labels(&classifier, &freed, &path);
        assert!(!a.is_empty(), "{name}");
        assert_eq!(a, b, "{name}");
    }
}

/// The repository's sample captures.
const SAMPLES: [&str; 6] = [
    "dns.pcapng",
    "mixed-be-ns.pcap",
    "tcp-services.pcapng",
    "tunnels.pcap",
    "vlan-ipv6.pcap",
    "web.pcap",
];

#[test]
fn sample_captures_keep_their_labels_and_fields() {
    let classifier = Arc::new(Classifier::builtin());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/samples");
    let mut settled = 0;
    for name in SAMPLES {
        let path = dir.join(name);
        let (kept, freed, n) = compare(&classifier, &Input::File(&path));
        assert_eq!(kept, freed, "{name}");
        settled += n;
    }
    // The check is not idle: some sample flows are datagram exchanges
    // whose bytes go.
    assert!(settled > 0);
}

#[test]
fn corpus_captures_keep_their_labels_and_fields() {
    let Some(corpus) = std::env::var_os("DPI_CORPUS").map(PathBuf::from) else {
        assert!(
            std::env::var("DPI_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "DPI_REQUIRE_TOOLS=1 but DPI_CORPUS is not set"
        );
        eprintln!("DPI_CORPUS not set: skipped");
        return;
    };
    let classifier = Arc::new(Classifier::builtin());
    let (mut files, mut flows_seen, mut settled) = (0, 0, 0);
    for part in ["ndpi", "zeek"] {
        let dir = corpus.join(part).join("pcap");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for path in &paths {
            let (kept, freed, n) = compare(&classifier, &Input::File(path));
            assert_eq!(kept, freed, "{}", path.display());
            files += 1;
            flows_seen += kept.len();
            settled += n;
        }
    }
    eprintln!("{files} captures, {flows_seen} flows, {settled} settled while live");
    assert!(
        files > 1000 && settled > 1000,
        "{files} captures, {settled} settled"
    );
}

/// A label that later packets change is not settled: a rule that needs
/// four packets outranks one that matches at once, so after the first
/// exchange the bytes must stay (the finished flow is named by the first
/// rule), and a flow that ends before the fourth packet keeps the second.
#[test]
fn labels_that_later_packets_change_are_not_settled() {
    let rules = r#"
rule later
  protocol Later
  transport udp
  ports 7777
  c2s at 0 "AB"
  packets total 4-
  priority 5
end

rule now
  protocol Now
  transport udp
  ports 7777
  c2s at 0 "A"
end
"#;
    let set = dpi_core::signature::parse_extended(rules, "test.rules").expect("valid rules");
    let classifier = Arc::new(Classifier::new(&set).expect("compiles"));
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let exchange = [
        udp_ipv4_frame(c, 40001, s, 7777, b"ABCD"),
        udp_ipv4_frame(s, 7777, c, 40001, b"xyz"),
    ];
    let longer: Vec<Vec<u8>> = exchange
        .iter()
        .cloned()
        .chain(exchange.iter().cloned())
        .collect();
    for (frames, want, settles) in [(&exchange[..], "Now", false), (&longer[..], "Later", false)] {
        let (kept, freed, settled) = compare(&classifier, &Input::Frames(frames));
        assert_eq!(&*kept[0].0.protocol, want);
        assert_eq!(kept, freed);
        assert_eq!(settled > 0, settles);
    }
    // Without the rule that needs more packets, the same exchange settles.
    let set = dpi_core::signature::parse_extended(
        rules
            .split("rule now")
            .nth(1)
            .map(|r| format!("rule now{r}"))
            .as_deref()
            .unwrap_or(""),
        "test.rules",
    )
    .expect("valid rules");
    let classifier = Arc::new(Classifier::new(&set).expect("compiles"));
    let (kept, freed, settled) = compare(&classifier, &Input::Frames(&exchange));
    assert_eq!(&*kept[0].0.protocol, "Now");
    assert_eq!(kept, freed);
    assert_eq!(settled, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Datagram exchanges to service ports, with payloads that look like
    /// their protocol or not, and a varying number of later packets.
    #[test]
    fn generated_exchanges_keep_their_labels_and_fields(
        port in prop::sample::select(vec![53u16, 67, 123, 137, 161, 443, 500, 1900, 3478, 5060, 5353, 9, 40000]),
        request in prop::collection::vec(any::<u8>(), 1..80),
        reply in prop::collection::vec(any::<u8>(), 1..120),
        prefix in prop::sample::select(vec![
            &b""[..],
            &b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"[..],
            &b"\x23"[..],
            &b"\x00\x01\x00\x00\x21\x12\xa4\x42"[..],
            &b"OPTIONS sip:a SIP/2.0\r\n"[..],
            &b"M-SEARCH * HTTP/1.1\r\n"[..],
        ]),
        later in 0usize..6,
    ) {
        let classifier = Arc::new(Classifier::builtin());
        let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let request: Vec<u8> = prefix.iter().copied().chain(request).collect();
        let mut frames = vec![
            udp_ipv4_frame(c, 40001, s, port, &request),
            udp_ipv4_frame(s, port, c, 40001, &reply),
        ];
        for i in 0..later {
            let (a, ap, b, bp) = if i % 2 == 0 { (c, 40001, s, port) } else { (s, port, c, 40001) };
            frames.push(udp_ipv4_frame(a, ap, b, bp, &reply[..reply.len().min(i + 1)]));
        }
        let (kept, freed, _) = compare(&classifier, &Input::Frames(&frames));
        prop_assert_eq!(kept, freed);
    }
}
