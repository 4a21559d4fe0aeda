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
//! replayed copy adds to a count and the hash of its name). The format is written as JSON; see
//! the "Training" section of `dpi-train/DESIGN.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::example::{Class, Example};
use super::hash::{fold_of, hash_fields, stable_hash};
use super::sources::{fingerprint, sources_by_content, Sketch};
use crate::record::FlowRecord;

/// The `format` field of a partial file.
pub const PARTIAL_FORMAT: &str = "dpi-train-partial";
/// The `version` field this code writes and reads (7: captures counted by
/// the hashes of their names, a sketch and host counts kept once per
/// distinct capture content, names kept for the captures samples name; 6: a sketch of every capture's flows, to find near-duplicate
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
    /// The captures (as recorded in the partial's capture list) holding this
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
        let mine = std::mem::take(&mut self.sample);
        self.sample = merge_bottom_k(mine, other.sample, k);
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

/// The `k` smallest hashes of two ascending samples, in one pass (as
/// [`insert_bottom_k`] of each of `b`'s examples into `a` would give:
/// bottom-k does not depend on the order): an example in both adds its
/// counts and captures, and the smaller by capture name, then client
/// port, stays.
fn merge_bottom_k(a: Vec<Sampled>, b: Vec<Sampled>, k: usize) -> Vec<Sampled> {
    let mut out: Vec<Sampled> = Vec::with_capacity(k.min(a.len() + b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < k {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.example.hash.cmp(&y.example.hash) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    let (Some(mut s), Some(e)) = (a.next(), b.next()) else {
                        break;
                    };
                    combine(&mut s, e);
                    Some(s)
                }
            },
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => None,
        };
        match next {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

/// Adds `e` (an example of the same hash) to `s`.
fn combine(s: &mut Sampled, e: Sampled) {
    for (x, n) in s.counts.iter_mut().zip(&e.counts) {
        *x = x.saturating_add(*n);
    }
    unite_captures(&mut s.captures, e.captures);
    let key = |x: &Example| (x.capture.clone(), x.client_port);
    if key(&e.example) < key(&s.example) {
        s.example = e.example;
    }
}

/// Inserts `e` into the ascending sample, keeping the `k` smallest hashes;
/// an example whose hash is already there adds its counts and captures to
/// it (and the smaller of the two by capture name, then client port,
/// stays).
fn insert_bottom_k(sample: &mut Vec<Sampled>, e: Sampled, k: usize) {
    match sample.binary_search_by(|x| x.example.hash.cmp(&e.example.hash)) {
        Ok(i) => combine(&mut sample[i], e),
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
/// found by its [`CaptureContent::id`], which counts them and keeps the
/// smallest of their names: a copy of a capture under another name adds
/// to a count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureContent {
    /// The smallest name of the captures with this content.
    pub first: String,
    /// How many captures have this content.
    pub captures: u64,
    /// The sketch of the flows of one such capture.
    pub sketch: Sketch,
    /// Host names and applications of one such capture, in (host, app,
    /// dpi) order, one entry per key, each with at least one flow.
    pub hosts: Vec<HostCount>,
}

impl AsRef<Sketch> for CaptureContent {
    fn as_ref(&self) -> &Sketch {
        &self.sketch
    }
}

impl CaptureContent {
    /// The content's identity: a stable hash of the sketch and the host
    /// counts (not of the names or the count of captures holding it).
    ///
    /// ```
    /// use dpi_train::train::partial::CaptureContent;
    ///
    /// let mut a = CaptureContent::default();
    /// a.sketch.add(7);
    /// let mut b = a.clone();
    /// b.first = "another.pcap".into();
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

    /// Counts `other`, of the same content, in this one.
    fn unite(&mut self, other: CaptureContent) {
        self.captures = self.captures.saturating_add(other.captures);
        if other.first < self.first {
            self.first = other.first;
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.captures == 0 || self.first.is_empty() {
            return Err("no capture holds it, or no name".to_owned());
        }
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

/// The hash under which a capture's name is counted
/// ([`Partial::has_capture`]).
pub fn capture_hash(name: &str) -> u64 {
    hash_fields(&[b"dpi-train-capture-name", name.as_bytes()])
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
/// in key order, capture contents that match their ids and count every
/// capture once).
///
/// What a capture leaves once counted ([`Partial::finish_capture`]) is
/// the hash of its name, its content (shared by the captures of equal
/// content) and, while a sampled example names it, its name: memory grows
/// with distinct contents, not with copies.
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
    /// The [`capture_hash`] of every finished capture.
    captures: BTreeSet<u64>,
    /// Finished captures by name, with their content id: those sampled
    /// examples name (and, until pruned, others).
    names: BTreeMap<String, u64>,
    /// The contents of the finished captures, by id.
    contents: BTreeMap<u64, CaptureContent>,
    /// The captures still being counted.
    open: BTreeMap<String, OpenCapture>,
    /// How many names to hold before they are pruned again.
    prune_at: usize,
}

/// A partial as written (finished, its names pruned).
#[derive(Serialize)]
struct PartialOut<'a> {
    format: &'a str,
    version: u32,
    settings: &'a Settings,
    captures: &'a BTreeSet<u64>,
    names: BTreeMap<&'a str, u64>,
    groups: &'a [Group],
    contents: &'a BTreeMap<u64, CaptureContent>,
}

impl Serialize for Partial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.finished();
        PartialOut {
            format: &p.format,
            version: p.version,
            settings: &p.settings,
            captures: &p.captures,
            names: p.named(),
            groups: &p.groups,
            contents: &p.contents,
        }
        .serialize(s)
    }
}

impl PartialEq for Partial {
    /// Equal statistics, however they were filled.
    fn eq(&self, o: &Partial) -> bool {
        let (a, b) = (self.finished(), o.finished());
        a.format == b.format
            && a.version == b.version
            && a.settings == b.settings
            && a.groups == b.groups
            && a.captures == b.captures
            && a.contents == b.contents
            && a.named() == b.named()
    }
}

impl Eq for Partial {}

/// A partial as written, before its checks.
#[derive(Deserialize)]
struct RawPartial {
    format: String,
    version: u32,
    settings: Settings,
    captures: Vec<u64>,
    #[serde(deserialize_with = "unique_keys")]
    names: BTreeMap<String, u64>,
    groups: Vec<Group>,
    #[serde(deserialize_with = "unique_keys")]
    contents: BTreeMap<u64, CaptureContent>,
}

/// A JSON object read as a map, refusing a key given twice (which a plain
/// map would keep the last of).
fn unique_keys<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord + std::fmt::Debug,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K, V> serde::de::Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + std::fmt::Debug,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object with distinct keys")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<K, V>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("key {k:?} given twice")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
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
        if !r.captures.windows(2).all(|w| w[0] < w[1]) {
            return Err("capture name hashes not ascending, or repeated".to_owned());
        }
        let captures: BTreeSet<u64> = r.captures.iter().copied().collect();
        let mut firsts: HashSet<&str> = HashSet::new();
        let mut counted: u64 = 0;
        for (id, c) in &r.contents {
            if !firsts.insert(c.first.as_str()) {
                return Err(format!(
                    "capture content {id}: its first capture {} is another content's",
                    c.first
                ));
            }
            c.check()
                .map_err(|e| format!("capture content {id}: {e}"))?;
            if c.id() != *id {
                return Err(format!(
                    "capture content {id}: its id is not the hash of what it holds ({})",
                    c.id()
                ));
            }
            if !captures.contains(&capture_hash(&c.first)) {
                return Err(format!(
                    "capture content {id}: its first capture {} is not counted",
                    c.first
                ));
            }
            counted = counted.saturating_add(c.captures);
        }
        if counted != captures.len() as u64 {
            return Err(format!(
                "{} captures counted, their contents count {counted}",
                captures.len()
            ));
        }
        for (c, id) in &r.names {
            let content = r.contents.get(id);
            if content.is_none_or(|x| x.first.as_str() > c.as_str())
                || !captures.contains(&capture_hash(c))
            {
                return Err(format!(
                    "capture {c}: not counted, or its content {id} missing or named after it"
                ));
            }
        }
        if let Some((g, c)) = r
            .groups
            .iter()
            .flat_map(|g| {
                g.sample
                    .iter()
                    .flat_map(move |s| s.captures.iter().map(move |c| (g, c)))
            })
            .find(|(_, c)| !r.names.contains_key(*c))
        {
            return Err(format!(
                "group {:?}: a sampled example names capture {c}, which is not in names",
                g.key
            ));
        }
        Ok(Partial {
            format: r.format,
            version: r.version,
            settings: r.settings,
            groups: r.groups,
            captures,
            prune_at: 2 * r.names.len() + PRUNE_SLACK,
            names: r.names,
            contents: r.contents,
            open: BTreeMap::new(),
        })
    }
}

/// Names held beyond those sampled examples name before they are pruned.
const PRUNE_SLACK: usize = 4096;

impl Partial {
    /// Empty statistics.
    pub fn new(settings: Settings) -> Partial {
        Partial {
            format: PARTIAL_FORMAT.to_owned(),
            version: PARTIAL_VERSION,
            settings,
            groups: Vec::new(),
            captures: BTreeSet::new(),
            names: BTreeMap::new(),
            contents: BTreeMap::new(),
            open: BTreeMap::new(),
            prune_at: PRUNE_SLACK,
        }
    }

    /// The capture being counted as `capture`, opened if needed; `None`
    /// for a capture finished already, whose flows are no longer counted
    /// (a capture's flows must all be added before it is finished).
    fn open_mut(&mut self, capture: &str) -> Option<&mut OpenCapture> {
        if !self.open.contains_key(capture) {
            if self.captures.contains(&capture_hash(capture)) {
                return None;
            }
            self.open.insert(capture.to_owned(), OpenCapture::default());
        }
        self.open.get_mut(capture)
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// with host name `host` (normalised by the caller; empty for none)
    /// and the reference's application verdict. (Sources are found from
    /// the flows of [`Partial::add_flow`]: captures with equal host counts
    /// and no flows counted are one content, hence one source.)
    pub fn add_host(&mut self, capture: &str, host: &str, app: Option<&str>, dpi: bool) {
        if let Some(o) = self.open_mut(capture) {
            o.content.add_host(HostCount {
                host: host.to_owned(),
                app: app.map(str::to_owned),
                dpi,
                flows: 1,
            });
        }
    }

    /// Counts one flow of `capture` (as recorded, see [`Partial::add_in`])
    /// in its sketch: every flow, with or without user data or a label.
    pub fn add_flow(&mut self, capture: &str, flow: &FlowRecord) {
        self.add_fingerprint(capture, fingerprint(flow));
    }

    /// Counts one flow of `capture` by its fingerprint
    /// ([`super::sources::fingerprint`]).
    pub fn add_fingerprint(&mut self, capture: &str, fingerprint: u64) {
        if let Some(o) = self.open_mut(capture) {
            o.content.sketch.add(fingerprint);
        }
    }

    /// Records that `capture` was read (even when it gave no example).
    pub fn add_capture(&mut self, capture: &str) {
        self.open_mut(capture);
    }

    /// Ends the counting of `capture`: its content is kept once for all
    /// captures of equal content, and what was held to count it is freed.
    /// Its flows must all have been added: flows added to it afterwards
    /// are not counted. Captures left open are finished when the partial
    /// is merged or written.
    pub fn finish_capture(&mut self, capture: &str) {
        let Some(o) = self.open.remove(capture) else {
            return;
        };
        let mut content = o.content;
        content.first = capture.to_owned();
        content.captures = 1;
        let id = content.id();
        match self.contents.get_mut(&id) {
            Some(c) => c.unite(content),
            None => {
                self.contents.insert(id, content);
            }
        }
        self.captures.insert(capture_hash(capture));
        self.names.insert(capture.to_owned(), id);
        if self.names.len() >= self.prune_at {
            self.prune_names();
        }
    }

    /// Finishes every open capture.
    pub fn finish_all(&mut self) {
        let names: Vec<String> = self.open.keys().cloned().collect();
        for c in names {
            self.finish_capture(&c);
        }
    }

    /// This partial with every capture finished (borrowed when none is open).
    fn finished(&self) -> std::borrow::Cow<'_, Partial> {
        if self.open.is_empty() {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut p = self.clone();
            p.finish_all();
            std::borrow::Cow::Owned(p)
        }
    }

    /// The names sampled examples hold.
    fn sampled_names(&self) -> BTreeSet<&str> {
        self.groups
            .iter()
            .flat_map(|g| g.sample.iter())
            .flat_map(|s| s.captures.iter().map(String::as_str))
            .collect()
    }

    /// The finished captures' names that sampled examples hold, with their
    /// content ids.
    fn named(&self) -> BTreeMap<&str, u64> {
        let used = self.sampled_names();
        self.names
            .iter()
            .filter(|(c, _)| used.contains(c.as_str()))
            .map(|(c, id)| (c.as_str(), *id))
            .collect()
    }

    /// Forgets the names no sampled example holds.
    fn prune_names(&mut self) {
        let used: HashSet<String> = self
            .sampled_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        self.names.retain(|c, _| used.contains(c));
        self.prune_at = 2 * self.names.len() + PRUNE_SLACK;
    }

    /// A partial of these parts, checked as one read from a file.
    pub(crate) fn from_parts(
        format: String,
        settings: Settings,
        captures: BTreeSet<u64>,
        names: BTreeMap<String, u64>,
        groups: Vec<Group>,
        contents: BTreeMap<u64, CaptureContent>,
    ) -> Result<Partial, String> {
        Partial::try_from(RawPartial {
            format,
            version: PARTIAL_VERSION,
            settings,
            captures: captures.into_iter().collect(),
            names,
            groups,
            contents,
        })
    }

    /// What the capture tables hold, every capture finished: the hashes
    /// of the capture names, the names sampled examples hold (with their
    /// content ids) and the contents.
    pub(crate) fn capture_tables(
        &self,
    ) -> (
        BTreeSet<u64>,
        BTreeMap<String, u64>,
        BTreeMap<u64, CaptureContent>,
    ) {
        let p = self.finished();
        let names = p
            .named()
            .into_iter()
            .map(|(c, id)| (c.to_owned(), id))
            .collect();
        (p.captures.clone(), names, p.contents.clone())
    }

    /// Whether `capture` is counted (finished or not).
    pub fn has_capture(&self, capture: &str) -> bool {
        self.open.contains_key(capture) || self.captures.contains(&capture_hash(capture))
    }

    /// The names of the captures counted that are still known (those
    /// being counted, and finished ones that sampled examples name),
    /// ascending.
    pub fn capture_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .names
            .keys()
            .chain(self.open.keys())
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// How many captures are counted.
    pub fn capture_count(&self) -> usize {
        self.captures.len() + self.open.len()
    }

    /// The distinct capture contents (each with how many captures hold it
    /// and the smallest of their names), by id; open captures count as
    /// finished.
    pub fn contents(&self) -> std::borrow::Cow<'_, BTreeMap<u64, CaptureContent>> {
        match self.finished() {
            std::borrow::Cow::Borrowed(p) => std::borrow::Cow::Borrowed(&p.contents),
            std::borrow::Cow::Owned(p) => std::borrow::Cow::Owned(p.contents),
        }
    }

    /// The content of a capture whose name is known (see
    /// [`Partial::capture_names`]).
    pub fn content_of(&self, capture: &str) -> Option<CaptureContent> {
        if let Some(o) = self.open.get(capture) {
            return Some(o.content.clone());
        }
        let id = self.names.get(capture)?;
        self.contents.get(id).cloned()
    }

    /// The source of each distinct content with flows, by content id, and
    /// of each known capture name: near-duplicate captures share one,
    /// named by the smallest of their names (see [`super::sources`]).
    pub fn sources(&self) -> Sources {
        let p = self.finished();
        let by_first: BTreeMap<&str, u64> = p
            .contents
            .iter()
            .map(|(id, c)| (c.first.as_str(), *id))
            .collect();
        let of_first = sources_by_content(&by_first, &p.contents);
        let of_content: BTreeMap<u64, String> = p
            .contents
            .iter()
            .filter_map(|(id, c)| Some((*id, of_first.get(&c.first)?.clone())))
            .collect();
        let of_name: BTreeMap<String, String> = p
            .names
            .iter()
            .filter_map(|(c, id)| Some((c.clone(), of_content.get(id)?.clone())))
            .collect();
        Sources {
            of_content,
            of_name,
        }
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
    /// partial (merging refuses partials that share a capture). A session
    /// the reference names by its in-session upgrade counts for the
    /// protocol it began as ([`Class::before_upgrade`]).
    pub fn add_in(&mut self, capture: &str, e: Example, class: Class) {
        let class = class.before_upgrade(&e);
        let fold = usize::from(fold_of(&e.capture, self.settings.folds));
        let key = GroupKey {
            transport: e.transport,
            class,
        };
        let Some(o) = self.open_mut(capture) else {
            return;
        };
        let new_capture = o.groups.insert(key.clone());
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
        if let Some(h) = other.captures.iter().find(|h| self.captures.contains(*h)) {
            let name = self
                .names
                .keys()
                .chain(other.names.keys())
                .find(|c| capture_hash(c) == *h)
                .map_or_else(|| format!("of name hash {h:016x}"), Clone::clone);
            anyhow::bail!("capture {name} is in two partials; each capture must be counted once");
        }
        self.captures.extend(other.captures);
        self.names.extend(other.names);
        for (id, c) in other.contents {
            match self.contents.get_mut(&id) {
                Some(x) => x.unite(c),
                None => {
                    self.contents.insert(id, c);
                }
            }
        }
        let k = self.settings.sample;
        for g in other.groups {
            let key = g.key.clone();
            self.group_mut(key).merge(g, k);
        }
        self.prune_names();
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
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // The format and version first, so that another file or version is
        // named as such rather than as a field that does not fit.
        #[derive(Deserialize)]
        struct Header {
            format: Option<serde_json::Value>,
            version: Option<serde_json::Value>,
        }
        let h: Header = match serde_json::from_slice(&bytes) {
            Ok(h) => h,
            Err(e) => match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                Ok(_) => anyhow::bail!("{}: not a {PARTIAL_FORMAT} file", path.display()),
                Err(_) => anyhow::bail!("{}: not JSON: {e}", path.display()),
            },
        };
        let format = h.format.as_ref().and_then(|x| x.as_str());
        let version = h.version.as_ref().and_then(|x| x.as_u64());
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
        serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// The sources of a partial's captures ([`Partial::sources`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The source of each content with flows, by content id.
    pub of_content: BTreeMap<u64, String>,
    /// The source of each known capture name with flows.
    pub of_name: BTreeMap<String, String>,
}

impl Sources {
    /// The source of a capture name: itself when unknown or without flows.
    pub fn of<'a>(&'a self, capture: &'a str) -> &'a str {
        self.of_name.get(capture).map_or(capture, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sampled(hash: u64, capture: u8, port: u16, counts: [u64; 2]) -> Sampled {
        let capture = format!("c{capture}");
        Sampled {
            example: Example {
                hash,
                capture: capture.clone(),
                transport: 6,
                client_port: port,
                server_port: 80,
                c2s: vec![hash as u8],
                s2c: Vec::new(),
                c2s_first_size: None,
                s2c_first_size: None,
                first_payload: None,
                c2s_packets: 1,
                s2c_packets: 0,
            },
            counts: counts.to_vec(),
            captures: vec![capture],
        }
    }

    /// An ascending sample of distinct hashes, at most `k`.
    fn sample(k: usize) -> impl Strategy<Value = Vec<Sampled>> {
        prop::collection::btree_map(0u64..40, (0u8..4, 0u16..3, any::<[u8; 2]>()), 0..k).prop_map(
            |m| {
                m.into_iter()
                    .map(|(h, (c, p, n))| sampled(h, c, p, [u64::from(n[0]), u64::from(n[1])]))
                    .collect()
            },
        )
    }

    proptest! {
        /// Merging in one pass gives what inserting one example at a time gives.
        #[test]
        fn one_pass_merge_equals_inserting_each(k in 1usize..12, a in sample(12), b in sample(12)) {
            let a: Vec<Sampled> = a.into_iter().take(k).collect();
            let mut want = a.clone();
            for e in b.clone() {
                insert_bottom_k(&mut want, e, k);
            }
            prop_assert_eq!(merge_bottom_k(a, b, k), want);
        }
    }
}
