//! Per-shard training statistics that merge associatively.
//!
//! A [`Partial`] holds, per group (transport and class of the reference's
//! verdict), counted per training fold: the flows, the captures holding
//! at least one of them, and a bottom-k sample of the distinct flow
//! contents (the `k` with the smallest content hashes, each with its
//! flows per fold and the names of the first captures it was seen in).
//! Merging adds the counts, unites the captures and keeps the `k`
//! smallest hashes of the union: associative, commutative and
//! deterministic, so how a corpus is cut into shards does not change the
//! merged statistics. Memory is bounded by the distinct sampled contents
//! (at most `k` per group) times the folds: flows that repeat a content
//! cost a count, not an entry. Beside the groups, the host names of the
//! flows and nDPI's application for them are counted per capture
//! ([`HostCount`], for [`super::apps`]): they merge by adding counts. The
//! format is written as JSON; see the "Training" section of
//! `dpi-train/DESIGN.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::example::{Class, Example};
use super::hash::fold_of;
use super::sources::{fingerprint, sources, Sketch};
use crate::record::FlowRecord;

/// The `format` field of a partial file.
pub const PARTIAL_FORMAT: &str = "dpi-train-partial";
/// The `version` field this code writes and reads (6: a sketch of every
/// capture's flows, to find near-duplicate captures; 5: host names and
/// applications counted per capture; 4: every flow counted, with or
/// without user data, captures counted per group, sampled contents name
/// their captures, no gram tables; 3 counted grams; 2 had a group per
/// fold; 1 had text gram keys).
pub const PARTIAL_VERSION: u32 = 6;
/// Capture names kept per sampled content (the smallest ones).
pub const CAPTURES_KEPT: usize = 8;

/// What every merged partial must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The reference tools, in order (`ndpi`, `lpi`).
    pub references: Vec<String>,
    /// User-data bytes captured per direction.
    pub bytes: usize,
    /// Examples kept per group (the `k` of the bottom-k sample).
    pub sample: usize,
    /// Training folds: captures are split by a hash of their file name.
    pub folds: u8,
}

/// The identity of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    /// IP protocol number.
    pub transport: u8,
    /// The reference's verdict.
    pub class: Class,
}

/// A sampled example: one distinct content, how many flows of each fold
/// had it, and the captures it was seen in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled {
    /// The example (of several flows with this content: the one of the
    /// smallest capture name, then client port).
    #[serde(flatten)]
    pub example: Example,
    /// Flows with this content, per fold.
    pub counts: Vec<u64>,
    /// The captures (as recorded in [`Partial::captures`]) holding this
    /// content: the [`CAPTURES_KEPT`] smallest names, ascending.
    pub captures: Vec<String>,
}

/// The statistics of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Which group.
    pub key: GroupKey,
    /// Flows in the group, per fold.
    pub flows: Vec<u64>,
    /// Captures holding at least one flow of the group, per fold.
    pub captures: Vec<u64>,
    /// The distinct contents with the smallest hashes, at most `sample`,
    /// ascending by hash.
    pub sample: Vec<Sampled>,
}

impl Group {
    fn new(key: GroupKey, folds: usize) -> Group {
        Group {
            key,
            flows: vec![0; folds],
            captures: vec![0; folds],
            sample: Vec::new(),
        }
    }

    /// Flows of the group, all folds.
    pub fn total_flows(&self) -> u64 {
        self.flows.iter().fold(0, |n, x| n.saturating_add(*x))
    }

    /// Captures holding flows of the group, all folds.
    pub fn total_captures(&self) -> u64 {
        self.captures.iter().fold(0, |n, x| n.saturating_add(*x))
    }

    /// The weight of one sampled flow of `fold`: the fold's flows over
    /// the flows its sampled contents stand for (1 while the sample holds
    /// every content).
    pub fn weight(&self, fold: usize) -> f64 {
        let sampled = self
            .sample
            .iter()
            .fold(0u64, |n, s| n.saturating_add(s.counts[fold]));
        if sampled == 0 {
            0.0
        } else {
            self.flows[fold] as f64 / sampled as f64
        }
    }

    fn add(&mut self, capture: &str, e: Example, fold: usize, k: usize, new_capture: bool) {
        self.flows[fold] = self.flows[fold].saturating_add(1);
        if new_capture {
            self.captures[fold] = self.captures[fold].saturating_add(1);
        }
        let mut counts = vec![0; self.flows.len()];
        counts[fold] = 1;
        insert_bottom_k(
            &mut self.sample,
            Sampled {
                example: e,
                counts,
                captures: vec![capture.to_owned()],
            },
            k,
        );
    }

    fn merge(&mut self, other: Group, k: usize) {
        for (x, n) in self.flows.iter_mut().zip(&other.flows) {
            *x = x.saturating_add(*n);
        }
        for (x, n) in self.captures.iter_mut().zip(&other.captures) {
            *x = x.saturating_add(*n);
        }
        for e in other.sample {
            insert_bottom_k(&mut self.sample, e, k);
        }
    }

    fn check(&self, folds: usize, k: usize) -> Result<(), String> {
        if self.flows.len() != folds || self.captures.len() != folds {
            return Err(format!(
                "group {:?}: {} flow and {} capture counts, settings say {folds} folds",
                self.key,
                self.flows.len(),
                self.captures.len()
            ));
        }
        if let Some(s) = self.sample.iter().find(|s| s.counts.len() != folds) {
            return Err(format!(
                "group {:?}: sampled example {} with {} fold counts, settings say {folds}",
                self.key,
                s.example.hash,
                s.counts.len()
            ));
        }
        if let Some(s) = self.sample.iter().find(|s| {
            s.captures.is_empty()
                || s.captures.len() > CAPTURES_KEPT
                || !s.captures.windows(2).all(|w| w[0] < w[1])
        }) {
            return Err(format!(
                "group {:?}: sampled example {} names {} captures (1 to {CAPTURES_KEPT}, ascending, expected)",
                self.key,
                s.example.hash,
                s.captures.len()
            ));
        }
        if !self
            .sample
            .windows(2)
            .all(|w| w[0].example.hash < w[1].example.hash)
        {
            return Err(format!(
                "group {:?}: sample not in ascending hash order",
                self.key
            ));
        }
        if self.sample.len() > k {
            return Err(format!(
                "group {:?}: {} sampled examples, settings keep {k}",
                self.key,
                self.sample.len()
            ));
        }
        if let Some(s) = self.sample.iter().find(|s| {
            s.example.hash != s.example.content_hash() || s.example.transport != self.key.transport
        }) {
            return Err(format!(
                "group {:?}: sampled example {} does not match its content (hash or transport)",
                self.key, s.example.hash
            ));
        }
        Ok(())
    }
}

/// Adds `h` to the ordered host counts (its flows to an equal key's).
fn insert_host(hosts: &mut Vec<HostCount>, h: HostCount) {
    fn key(x: &HostCount) -> (&str, &str, Option<&str>, bool) {
        (&x.capture, &x.host, x.app.as_deref(), x.dpi)
    }
    match hosts.binary_search_by(|x| key(x).cmp(&key(&h))) {
        Ok(i) => hosts[i].flows = hosts[i].flows.saturating_add(h.flows),
        Err(i) => hosts.insert(i, h),
    }
}

/// Unites two ascending capture lists, keeping the [`CAPTURES_KEPT`]
/// smallest names.
fn unite_captures(a: &mut Vec<String>, b: Vec<String>) {
    a.extend(b);
    a.sort_unstable();
    a.dedup();
    a.truncate(CAPTURES_KEPT);
}

/// Inserts `e` into the ascending sample, keeping the `k` smallest hashes;
/// an example whose hash is already there adds its counts and captures to
/// it (and the smaller of the two by capture name, then client port,
/// stays).
fn insert_bottom_k(sample: &mut Vec<Sampled>, e: Sampled, k: usize) {
    match sample.binary_search_by(|x| x.example.hash.cmp(&e.example.hash)) {
        Ok(i) => {
            let s = &mut sample[i];
            for (x, n) in s.counts.iter_mut().zip(&e.counts) {
                *x = x.saturating_add(*n);
            }
            unite_captures(&mut s.captures, e.captures);
            let key = |x: &Example| (x.capture.clone(), x.client_port);
            if key(&e.example) < key(&s.example) {
                s.example = e.example;
            }
        }
        Err(at) => {
            if at < k {
                sample.insert(at, e);
                sample.truncate(k);
            }
        }
    }
}

/// Flows of one capture with one host name and one application verdict
/// of the reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HostCount {
    /// The capture, as recorded in [`Partial::captures`].
    pub capture: String,
    /// The flows' host name (`Metadata::hostname`, normalised: lower
    /// case, no trailing dot); empty for flows without one (counted only
    /// when the reference names an application).
    pub host: String,
    /// The reference's application (nDPI's part after the dot).
    pub app: Option<String>,
    /// The reference's confidence starts with `DPI`.
    pub dpi: bool,
    /// How many flows.
    pub flows: u64,
}

/// Training statistics of a set of captures. Deserialising checks them
/// (counters per fold as the settings say, samples in hash order, no
/// larger than the settings keep, hashes that match their content, groups
/// in key order).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawPartial")]
pub struct Partial {
    /// Always [`PARTIAL_FORMAT`].
    pub format: String,
    /// Always [`PARTIAL_VERSION`].
    pub version: u32,
    /// What the statistics were taken with.
    pub settings: Settings,
    /// The captures counted (file names).
    pub captures: BTreeSet<String>,
    /// The groups, in key order.
    pub groups: Vec<Group>,
    /// Host names and applications per capture, in (capture, host, app,
    /// dpi) order, one entry per key.
    pub hosts: Vec<HostCount>,
    /// A sketch of each capture's flows (see [`super::sources`]).
    pub sketches: BTreeMap<String, Sketch>,
    /// The (capture, group) pairs counted so far by this process, so that a
    /// capture counts once per group however its flows are added.
    #[serde(skip)]
    seen: HashSet<(String, GroupKey)>,
}

impl PartialEq for Partial {
    /// Equal statistics, however they were filled.
    fn eq(&self, o: &Partial) -> bool {
        self.format == o.format
            && self.version == o.version
            && self.settings == o.settings
            && self.captures == o.captures
            && self.groups == o.groups
            && self.hosts == o.hosts
            && self.sketches == o.sketches
    }
}

impl Eq for Partial {}

/// A partial as written, before its checks.
#[derive(Deserialize)]
struct RawPartial {
    format: String,
    version: u32,
    settings: Settings,
    captures: BTreeSet<String>,
    groups: Vec<Group>,
    hosts: Vec<HostCount>,
    sketches: BTreeMap<String, Sketch>,
}

impl TryFrom<RawPartial> for Partial {
    type Error = String;

    fn try_from(r: RawPartial) -> Result<Partial, String> {
        let folds = usize::from(r.settings.folds.max(1));
        for g in &r.groups {
            g.check(folds, r.settings.sample)?;
        }
        if !r.groups.windows(2).all(|w| w[0].key < w[1].key) {
            return Err("groups not in key order".to_owned());
        }
        fn key(h: &HostCount) -> (&str, &str, Option<&str>, bool) {
            (&h.capture, &h.host, h.app.as_deref(), h.dpi)
        }
        if !r.hosts.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
            return Err("hosts not in (capture, host, app, dpi) order, or repeated".to_owned());
        }
        if let Some(h) = r
            .hosts
            .iter()
            .find(|h| h.flows == 0 || !r.captures.contains(&h.capture))
        {
            return Err(format!(
                "host entry {:?} of capture {}: no flows, or a capture not counted",
                h.host, h.capture
            ));
        }
        if let Some((c, _)) = r
            .sketches
            .iter()
            .find(|(c, s)| !s.is_valid() || !r.captures.contains(*c))
        {
            return Err(format!(
                "sketch of capture {c}: not ascending, too long, or a capture not counted"
            ));
        }
        Ok(Partial {
            format: r.format,
            version: r.version,
            settings: r.settings,
            captures: r.captures,
            groups: r.groups,
            hosts: r.hosts,
            sketches: r.sketches,
            seen: HashSet::new(),
        })
    }
}

impl Partial {
    /// Empty statistics.
    pub fn new(settings: Settings) -> Partial {
        Partial {
            format: PARTIAL_FORMAT.to_owned(),
            version: PARTIAL_VERSION,
            settings,
            captures: BTreeSet::new(),
            groups: Vec::new(),
            hosts: Vec::new(),
            sketches: BTreeMap::new(),
            seen: HashSet::new(),
        }
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// with host name `host` (normalised by the caller; empty for none)
    /// and the reference's application verdict.
    pub fn add_host(&mut self, capture: &str, host: &str, app: Option<&str>, dpi: bool) {
        if !self.captures.contains(capture) {
            self.add_capture(capture);
        }
        let entry = HostCount {
            capture: capture.to_owned(),
            host: host.to_owned(),
            app: app.map(str::to_owned),
            dpi,
            flows: 1,
        };
        insert_host(&mut self.hosts, entry);
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// in its sketch: every flow, with or without user data or a label.
    pub fn add_flow(&mut self, capture: &str, flow: &FlowRecord) {
        if !self.captures.contains(capture) {
            self.add_capture(capture);
        }
        let h = fingerprint(flow);
        match self.sketches.get_mut(capture) {
            Some(s) => s.add(h),
            None => {
                let mut s = Sketch::default();
                s.add(h);
                self.sketches.insert(capture.to_owned(), s);
            }
        }
    }

    /// The source of each capture with a sketch: near-duplicate captures
    /// share one (see [`super::sources`]).
    pub fn sources(&self) -> BTreeMap<String, String> {
        sources(&self.sketches)
    }

    /// Records that `capture` was read (even when it gave no example).
    pub fn add_capture(&mut self, capture: &str) {
        self.captures.insert(capture.to_owned());
    }

    fn group_mut(&mut self, key: GroupKey) -> &mut Group {
        let folds = usize::from(self.settings.folds.max(1));
        let at = match self.groups.binary_search_by(|g| g.key.cmp(&key)) {
            Ok(i) => i,
            Err(i) => {
                self.groups.insert(i, Group::new(key, folds));
                i
            }
        };
        &mut self.groups[at]
    }

    /// Adds one example of class `class`, recording its capture's file
    /// name; its fold comes from that name.
    pub fn add(&mut self, e: Example, class: Class) {
        let capture = e.capture.clone();
        self.add_in(&capture, e, class);
    }

    /// Adds one example of class `class` read from the capture recorded as
    /// `capture` (e.g. `corpus/file.pcap`, so that two corpora may hold
    /// files of the same name); its fold comes from its file name
    /// (`e.capture`), so how captures are grouped into folders does not
    /// change the statistics. A capture's flows must all be added to one
    /// partial (merging refuses partials that share a capture).
    pub fn add_in(&mut self, capture: &str, e: Example, class: Class) {
        if !self.captures.contains(capture) {
            self.add_capture(capture);
        }
        let fold = usize::from(fold_of(&e.capture, self.settings.folds));
        let key = GroupKey {
            transport: e.transport,
            class,
        };
        let new_capture = self.seen.insert((capture.to_owned(), key.clone()));
        let k = self.settings.sample;
        self.group_mut(key).add(capture, e, fold, k, new_capture);
    }

    /// Merges two partials. They must have the same settings and no
    /// capture in common (a capture counted twice would count double).
    pub fn merge(mut self, other: Partial) -> anyhow::Result<Partial> {
        if self.settings != other.settings {
            anyhow::bail!(
                "partials taken with different settings: {:?} and {:?}",
                self.settings,
                other.settings
            );
        }
        if let Some(c) = self.captures.intersection(&other.captures).next() {
            anyhow::bail!("capture {c} is in two partials; each capture must be counted once");
        }
        self.captures.extend(other.captures);
        self.seen.extend(other.seen);
        let k = self.settings.sample;
        for g in other.groups {
            let key = g.key.clone();
            self.group_mut(key).merge(g, k);
        }
        for h in other.hosts {
            insert_host(&mut self.hosts, h);
        }
        self.sketches.extend(other.sketches);
        Ok(self)
    }

    /// Writes the partial as JSON.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let f =
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        serde_json::to_writer(&mut w, self)?;
        std::io::Write::flush(&mut w)?;
        Ok(())
    }

    /// Reads a partial written by [`Partial::write`], checking its format and version.
    pub fn read(path: &Path) -> anyhow::Result<Partial> {
        let f =
            std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(f))
            .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
        let format = v.get("format").and_then(|x| x.as_str());
        let version = v.get("version").and_then(|x| x.as_u64());
        if format != Some(PARTIAL_FORMAT) {
            anyhow::bail!("{}: not a {PARTIAL_FORMAT} file", path.display());
        }
        if version != Some(u64::from(PARTIAL_VERSION)) {
            let found = version.map_or_else(|| "missing".to_owned(), |v| v.to_string());
            anyhow::bail!(
                "{}: partial statistics of version {found}; this dpi reads version {PARTIAL_VERSION} (write them again with this dpi's `dpi train --partial`)",
                path.display(),
            );
        }
        serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}
