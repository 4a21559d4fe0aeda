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
//! cost a count, not an entry. Beside the groups, each capture has a
//! content ([`CaptureContent`]): a sketch of its flows and the host names
//! of its flows with nDPI's application for them ([`HostCount`], for
//! [`super::apps`]), kept once for all captures of equal content (a
//! replayed copy adds its name only). The format is written as JSON; see
//! the "Training" section of `dpi-train/DESIGN.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::example::{Class, Example};
use super::hash::{fold_of, stable_hash};
use super::sources::{fingerprint, sources_by_content, Sketch};
use crate::record::FlowRecord;

/// The `format` field of a partial file.
pub const PARTIAL_FORMAT: &str = "dpi-train-partial";
/// The `version` field this code writes and reads (7: captures name their
/// content, a sketch and host counts kept once for captures of equal
/// content; 6: a sketch of every capture's flows, to find near-duplicate
/// captures; 5: host names and
/// applications counted per capture; 4: every flow counted, with or
/// without user data, captures counted per group, sampled contents name
/// their captures, no gram tables; 3 counted grams; 2 had a group per
/// fold; 1 had text gram keys).
pub const PARTIAL_VERSION: u32 = 7;
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

/// What one capture adds beside its examples: a sketch of its flows (for
/// near-duplicate captures, see [`super::sources`]) and its host counts
/// (for [`super::apps`]). Captures with equal contents share one entry,
/// found by its [`CaptureContent::id`], so a copy of a capture under
/// another name costs its name and nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureContent {
    /// The sketch of the capture's flows.
    pub sketch: Sketch,
    /// Host names and applications, in (host, app, dpi) order, one entry
    /// per key, each with at least one flow.
    pub hosts: Vec<HostCount>,
}

impl AsRef<Sketch> for CaptureContent {
    fn as_ref(&self) -> &Sketch {
        &self.sketch
    }
}

impl CaptureContent {
    /// The content's identity: a stable hash of everything in it.
    ///
    /// ```
    /// use dpi_train::train::partial::CaptureContent;
    ///
    /// let mut a = CaptureContent::default();
    /// a.sketch.add(7);
    /// let b = a.clone();
    /// assert_eq!(a.id(), b.id());
    /// a.sketch.add(8);
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        let mut buf = Vec::with_capacity(32 + 8 * self.sketch.mins.len());
        buf.extend_from_slice(b"dpi-train-capture");
        buf.extend_from_slice(&self.sketch.flows.to_le_bytes());
        buf.extend_from_slice(&(self.sketch.mins.len() as u64).to_le_bytes());
        for m in &self.sketch.mins {
            buf.extend_from_slice(&m.to_le_bytes());
        }
        for h in &self.hosts {
            buf.extend_from_slice(&(h.host.len() as u64).to_le_bytes());
            buf.extend_from_slice(h.host.as_bytes());
            match &h.app {
                Some(a) => {
                    buf.push(1);
                    buf.extend_from_slice(&(a.len() as u64).to_le_bytes());
                    buf.extend_from_slice(a.as_bytes());
                }
                None => buf.push(0),
            }
            buf.push(u8::from(h.dpi));
            buf.extend_from_slice(&h.flows.to_le_bytes());
        }
        stable_hash(&buf)
    }

    /// Adds `h` to the ordered host counts (its flows to an equal key's).
    fn add_host(&mut self, h: HostCount) {
        fn key(x: &HostCount) -> (&str, Option<&str>, bool) {
            (&x.host, x.app.as_deref(), x.dpi)
        }
        match self.hosts.binary_search_by(|x| key(x).cmp(&key(&h))) {
            Ok(i) => self.hosts[i].flows = self.hosts[i].flows.saturating_add(h.flows),
            Err(i) => self.hosts.insert(i, h),
        }
    }

    fn check(&self) -> Result<(), String> {
        if !self.sketch.is_valid() {
            return Err("sketch not ascending, too long, or longer than its flows".to_owned());
        }
        let key = |h: &HostCount| (h.host.clone(), h.app.clone(), h.dpi);
        if !self.hosts.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
            return Err("hosts not in (host, app, dpi) order, or repeated".to_owned());
        }
        if let Some(h) = self.hosts.iter().find(|h| h.flows == 0) {
            return Err(format!("host entry {:?} with no flows", h.host));
        }
        Ok(())
    }
}

/// A capture being counted: its content so far and the groups it counted
/// in already.
#[derive(Debug, Clone, Default)]
struct OpenCapture {
    content: CaptureContent,
    groups: HashSet<GroupKey>,
}

/// Training statistics of a set of captures. Deserialising checks them
/// (counters per fold as the settings say, samples in hash order, no
/// larger than the settings keep, hashes that match their content, groups
/// in key order, capture contents that match their ids).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawPartial")]
pub struct Partial {
    /// Always [`PARTIAL_FORMAT`].
    pub format: String,
    /// Always [`PARTIAL_VERSION`].
    pub version: u32,
    /// What the statistics were taken with.
    pub settings: Settings,
    /// The groups, in key order.
    pub groups: Vec<Group>,
    /// The finished captures (file names), each with the id of its content.
    captures: BTreeMap<String, u64>,
    /// The contents of the finished captures, by id; each is some
    /// capture's.
    contents: BTreeMap<u64, CaptureContent>,
    /// The captures still being counted (see [`Partial::finish_capture`]).
    open: BTreeMap<String, OpenCapture>,
}

/// A partial as written: the captures still open are written as finished.
#[derive(Serialize)]
struct PartialOut<'a> {
    format: &'a str,
    version: u32,
    settings: &'a Settings,
    captures: BTreeMap<&'a str, u64>,
    groups: &'a [Group],
    contents: BTreeMap<u64, &'a CaptureContent>,
}

impl Serialize for Partial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (captures, contents) = self.capture_contents();
        PartialOut {
            format: &self.format,
            version: self.version,
            settings: &self.settings,
            captures,
            groups: &self.groups,
            contents,
        }
        .serialize(s)
    }
}

impl PartialEq for Partial {
    /// Equal statistics, however they were filled.
    fn eq(&self, o: &Partial) -> bool {
        self.format == o.format
            && self.version == o.version
            && self.settings == o.settings
            && self.groups == o.groups
            && self.capture_contents() == o.capture_contents()
    }
}

impl Eq for Partial {}

/// A partial as written, before its checks.
#[derive(Deserialize)]
struct RawPartial {
    format: String,
    version: u32,
    settings: Settings,
    captures: BTreeMap<String, u64>,
    groups: Vec<Group>,
    contents: BTreeMap<u64, CaptureContent>,
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
        for (id, c) in &r.contents {
            c.check()
                .map_err(|e| format!("capture content {id}: {e}"))?;
            if c.id() != *id {
                return Err(format!(
                    "capture content {id}: its id is not the hash of what it holds ({})",
                    c.id()
                ));
            }
        }
        if let Some((c, id)) = r
            .captures
            .iter()
            .find(|(_, id)| !r.contents.contains_key(id))
        {
            return Err(format!("capture {c}: content {id} missing"));
        }
        let used: BTreeSet<u64> = r.captures.values().copied().collect();
        if let Some(id) = r.contents.keys().find(|id| !used.contains(id)) {
            return Err(format!("capture content {id}: no capture has it"));
        }
        Ok(Partial {
            format: r.format,
            version: r.version,
            settings: r.settings,
            groups: r.groups,
            captures: r.captures,
            contents: r.contents,
            open: BTreeMap::new(),
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
            groups: Vec::new(),
            captures: BTreeMap::new(),
            contents: BTreeMap::new(),
            open: BTreeMap::new(),
        }
    }

    /// The capture being counted as `capture`, opened if needed. A capture
    /// finished already is opened again: its content is counted on, but
    /// the groups it counted in are forgotten, so they count it again.
    fn open_mut(&mut self, capture: &str) -> &mut OpenCapture {
        if !self.open.contains_key(capture) {
            let content = match self.captures.remove(capture) {
                Some(id) => {
                    let c = self.contents.get(&id).cloned().unwrap_or_default();
                    if !self.captures.values().any(|x| *x == id) {
                        self.contents.remove(&id);
                    }
                    c
                }
                None => CaptureContent::default(),
            };
            self.open.insert(
                capture.to_owned(),
                OpenCapture {
                    content,
                    groups: HashSet::new(),
                },
            );
        }
        self.open
            .get_mut(capture)
            .expect("the capture was opened just above")
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// with host name `host` (normalised by the caller; empty for none)
    /// and the reference's application verdict.
    pub fn add_host(&mut self, capture: &str, host: &str, app: Option<&str>, dpi: bool) {
        self.open_mut(capture).content.add_host(HostCount {
            host: host.to_owned(),
            app: app.map(str::to_owned),
            dpi,
            flows: 1,
        });
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// in its sketch: every flow, with or without user data or a label.
    pub fn add_flow(&mut self, capture: &str, flow: &FlowRecord) {
        let h = fingerprint(flow);
        self.open_mut(capture).content.sketch.add(h);
    }

    /// Records that `capture` was read (even when it gave no example).
    pub fn add_capture(&mut self, capture: &str) {
        self.open_mut(capture);
    }

    /// Ends the counting of `capture`: its content is kept once, shared
    /// with every capture of equal content, and what was held to count
    /// it is freed. Its flows must not be added again (a capture opened
    /// again counts in its groups twice). Captures left open are finished
    /// when the partial is merged or written.
    pub fn finish_capture(&mut self, capture: &str) {
        if let Some(o) = self.open.remove(capture) {
            let id = o.content.id();
            self.contents.entry(id).or_insert(o.content);
            self.captures.insert(capture.to_owned(), id);
        }
    }

    /// Finishes every open capture.
    pub fn finish_all(&mut self) {
        let names: Vec<String> = self.open.keys().cloned().collect();
        for c in names {
            self.finish_capture(&c);
        }
    }

    /// Whether `capture` is counted (finished or not).
    pub fn has_capture(&self, capture: &str) -> bool {
        self.captures.contains_key(capture) || self.open.contains_key(capture)
    }

    /// The names of the captures counted, ascending.
    pub fn capture_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .captures
            .keys()
            .chain(self.open.keys())
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v
    }

    /// How many captures are counted.
    pub fn capture_count(&self) -> usize {
        self.captures.len() + self.open.len()
    }

    /// Every capture counted, each with the id of its content, and the
    /// distinct contents by id (the open captures' as they stand).
    pub fn capture_contents(&self) -> (BTreeMap<&str, u64>, BTreeMap<u64, &CaptureContent>) {
        let mut captures: BTreeMap<&str, u64> = self
            .captures
            .iter()
            .map(|(c, i)| (c.as_str(), *i))
            .collect();
        let mut contents: BTreeMap<u64, &CaptureContent> =
            self.contents.iter().map(|(i, c)| (*i, c)).collect();
        for (c, o) in &self.open {
            let id = o.content.id();
            captures.insert(c, id);
            contents.entry(id).or_insert(&o.content);
        }
        (captures, contents)
    }

    /// The source of each capture with flows: near-duplicate captures
    /// share one (see [`super::sources`]). Captures of equal content are
    /// compared once.
    pub fn sources(&self) -> BTreeMap<String, String> {
        let (captures, contents) = self.capture_contents();
        sources_by_content(&captures, &contents)
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
        let fold = usize::from(fold_of(&e.capture, self.settings.folds));
        let key = GroupKey {
            transport: e.transport,
            class,
        };
        let new_capture = self.open_mut(capture).groups.insert(key.clone());
        let k = self.settings.sample;
        self.group_mut(key).add(capture, e, fold, k, new_capture);
    }

    /// Merges two partials, finishing their open captures. They must have
    /// the same settings and no capture in common (a capture counted twice
    /// would count double).
    pub fn merge(mut self, mut other: Partial) -> anyhow::Result<Partial> {
        if self.settings != other.settings {
            anyhow::bail!(
                "partials taken with different settings: {:?} and {:?}",
                self.settings,
                other.settings
            );
        }
        self.finish_all();
        other.finish_all();
        if let Some(c) = other
            .captures
            .keys()
            .find(|c| self.captures.contains_key(*c))
        {
            anyhow::bail!("capture {c} is in two partials; each capture must be counted once");
        }
        self.captures.extend(other.captures);
        for (id, c) in other.contents {
            self.contents.entry(id).or_insert(c);
        }
        let k = self.settings.sample;
        for g in other.groups {
            let key = g.key.clone();
            self.group_mut(key).merge(g, k);
        }
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
