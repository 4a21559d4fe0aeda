//! Per-shard training statistics that merge associatively.
//!
//! A [`Partial`] holds, per group (transport and class of the reference's
//! verdict), counted per training fold: the flows, the per-direction
//! 4-byte grams (at each offset below [`POSITIONAL_OFFSETS`] and anywhere
//! in the captured bytes, each flow counted once per gram) and a bottom-k
//! sample of the distinct contents (the `k` with the smallest content
//! hashes, each with its flows per fold). Merging adds the counts, unites
//! the captures and keeps the `k` smallest hashes of the union:
//! associative, commutative and deterministic, so how a corpus is cut
//! into shards does not change the merged statistics. Memory is bounded
//! by the distinct grams and the distinct sampled contents (at most `k`
//! per group), times the folds: flows that repeat a content or a gram
//! cost a count, not an entry. The format is written as JSON; see the
//! "Training" section of `dpi-train/DESIGN.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::example::{Class, Example};
use super::hash::fold_of;

/// The `format` field of a partial file.
pub const PARTIAL_FORMAT: &str = "dpi-train-partial";
/// The `version` field this code writes and reads (3: groups per
/// transport and class with counts per fold, samples of distinct
/// contents; 2 had a group per fold; 1 had text gram keys).
pub const PARTIAL_VERSION: u32 = 3;
/// Length of the counted grams.
pub const GRAM: usize = 4;
/// Grams are counted at each offset below this one (and anywhere).
pub const POSITIONAL_OFFSETS: usize = 16;
/// The position of a gram counted anywhere in the captured bytes.
pub const ANYWHERE: u8 = 0xff;

/// A counted gram and where: `position << 32 | gram`, the gram's 4 bytes
/// read big-endian, the position its offset (below
/// [`POSITIONAL_OFFSETS`]) or [`ANYWHERE`]. Keys sort by position, then
/// by the gram's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GramKey(pub u64);

impl GramKey {
    /// The key of `gram` at `offset` ([`ANYWHERE`]: anywhere).
    pub fn new(offset: u8, gram: [u8; GRAM]) -> GramKey {
        GramKey(u64::from(offset) << 32 | u64::from(u32::from_be_bytes(gram)))
    }

    /// The offset of the gram, or `None` when counted anywhere.
    pub fn offset(self) -> Option<usize> {
        let p = (self.0 >> 32) as u8;
        (p != ANYWHERE).then_some(usize::from(p))
    }

    /// The gram's bytes.
    pub fn gram(self) -> [u8; GRAM] {
        (self.0 as u32).to_be_bytes()
    }

    /// The key as version 1 wrote it: `@O:HEX` or `*:HEX`.
    pub fn text(self) -> String {
        let h = crate::record::hex(&self.gram());
        match self.offset() {
            Some(o) => format!("@{o}:{h}"),
            None => format!("*:{h}"),
        }
    }
}

/// Per-fold counts of each distinct gram of one direction: one entry per
/// gram whatever the number of folds it was seen in, its `folds` counters
/// side by side in one arena. Written as `[[key, [count per fold]], ...]`
/// in key order. Two are equal when they hold the same grams with the
/// same counts (however they were filled).
#[derive(Debug, Clone, Default)]
pub struct GramCounts {
    folds: usize,
    index: BTreeMap<GramKey, u32>,
    counts: Vec<u64>,
}

impl GramCounts {
    fn new(folds: usize) -> GramCounts {
        GramCounts {
            folds,
            ..GramCounts::default()
        }
    }

    /// Distinct grams counted.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no gram was counted.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&mut self, key: GramKey) -> usize {
        let next = self.index.len() as u32;
        let i = *self.index.entry(key).or_insert(next) as usize;
        if i == next as usize {
            self.counts.resize(self.counts.len() + self.folds, 0);
        }
        i * self.folds
    }

    fn add(&mut self, key: GramKey, fold: usize, n: u64) {
        let at = self.slot(key) + fold;
        self.counts[at] = self.counts[at].saturating_add(n);
    }

    /// The counts per fold of `key`, if counted.
    pub fn get(&self, key: GramKey) -> Option<&[u64]> {
        let at = *self.index.get(&key)? as usize * self.folds;
        Some(&self.counts[at..at + self.folds])
    }

    /// The grams in key order, each with its count per fold.
    pub fn iter(&self) -> impl Iterator<Item = (GramKey, &[u64])> + '_ {
        self.index.iter().map(move |(k, &i)| {
            let at = i as usize * self.folds;
            (*k, &self.counts[at..at + self.folds])
        })
    }

    fn merge(&mut self, other: &GramCounts) {
        for (k, c) in other.iter() {
            let at = self.slot(k);
            for (x, n) in self.counts[at..at + self.folds].iter_mut().zip(c) {
                *x = x.saturating_add(*n);
            }
        }
    }
}

impl PartialEq for GramCounts {
    fn eq(&self, other: &GramCounts) -> bool {
        self.folds == other.folds && self.iter().eq(other.iter())
    }
}

impl Eq for GramCounts {}

impl Serialize for GramCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for GramCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<GramCounts, D::Error> {
        let v = Vec::<(GramKey, Vec<u64>)>::deserialize(d)?;
        let folds = v.first().map_or(0, |(_, c)| c.len());
        let mut g = GramCounts::new(folds);
        for (k, c) in v {
            if c.len() != folds {
                return Err(serde::de::Error::custom(format!(
                    "gram {} has {} fold counts, the first one {folds}",
                    k.text(),
                    c.len()
                )));
            }
            let at = g.slot(k);
            for (x, n) in g.counts[at..at + folds].iter_mut().zip(&c) {
                *x = x.saturating_add(*n);
            }
        }
        Ok(g)
    }
}

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

/// A sampled example: one distinct content and how many flows of each
/// fold had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled {
    /// The example (of several flows with this content: the one of the
    /// smallest capture name, then client port).
    #[serde(flatten)]
    pub example: Example,
    /// Flows with this content, per fold.
    pub counts: Vec<u64>,
}

/// The statistics of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Which group.
    pub key: GroupKey,
    /// Flows in the group (with user data), per fold.
    pub flows: Vec<u64>,
    /// Per direction (initiator, responder): each distinct gram and the
    /// number of flows holding it, per fold (see [`GramKey`]).
    pub grams: [GramCounts; 2],
    /// The distinct contents with the smallest hashes, at most `sample`,
    /// ascending by hash.
    pub sample: Vec<Sampled>,
}

impl Group {
    fn new(key: GroupKey, folds: usize) -> Group {
        Group {
            key,
            flows: vec![0; folds],
            grams: [GramCounts::new(folds), GramCounts::new(folds)],
            sample: Vec::new(),
        }
    }

    /// Flows of the group, all folds.
    pub fn total_flows(&self) -> u64 {
        self.flows.iter().fold(0, |n, x| n.saturating_add(*x))
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

    fn add(&mut self, e: Example, fold: usize, k: usize, scratch: &mut Vec<GramKey>) {
        self.flows[fold] = self.flows[fold].saturating_add(1);
        for d in 0..2 {
            grams_into(e.payload(d), scratch);
            for g in scratch.iter() {
                self.grams[d].add(*g, fold, 1);
            }
        }
        let mut counts = vec![0; self.flows.len()];
        counts[fold] = 1;
        insert_bottom_k(&mut self.sample, Sampled { example: e, counts }, k);
    }

    fn merge(&mut self, other: Group, k: usize) {
        for (x, n) in self.flows.iter_mut().zip(&other.flows) {
            *x = x.saturating_add(*n);
        }
        for d in 0..2 {
            self.grams[d].merge(&other.grams[d]);
        }
        for e in other.sample {
            insert_bottom_k(&mut self.sample, e, k);
        }
    }

    fn check(&mut self, folds: usize, k: usize) -> Result<(), String> {
        if self.flows.len() != folds {
            return Err(format!(
                "group {:?}: {} fold counts, settings say {folds}",
                self.key,
                self.flows.len()
            ));
        }
        for g in &mut self.grams {
            if g.is_empty() {
                g.folds = folds;
            } else if g.folds != folds {
                return Err(format!(
                    "group {:?}: grams with {} fold counts, settings say {folds}",
                    self.key, g.folds
                ));
            }
        }
        if let Some(s) = self.sample.iter().find(|s| s.counts.len() != folds) {
            return Err(format!(
                "group {:?}: sampled example {} with {} fold counts, settings say {folds}",
                self.key,
                s.example.hash,
                s.counts.len()
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

/// The distinct gram keys of one direction's bytes, in key order.
pub fn grams_of(bytes: &[u8]) -> Vec<GramKey> {
    let mut out = Vec::new();
    grams_into(bytes, &mut out);
    out
}

/// [`grams_of`] into `out` (cleared first).
fn grams_into(bytes: &[u8], out: &mut Vec<GramKey>) {
    out.clear();
    for (o, w) in bytes.windows(GRAM).enumerate() {
        let g = [w[0], w[1], w[2], w[3]];
        if o < POSITIONAL_OFFSETS {
            out.push(GramKey::new(o as u8, g));
        }
        out.push(GramKey::new(ANYWHERE, g));
    }
    out.sort_unstable();
    out.dedup();
}

/// Inserts `e` into the ascending sample, keeping the `k` smallest hashes;
/// an example whose hash is already there adds its counts to it (and the
/// smaller of the two by capture name, then client port, stays).
fn insert_bottom_k(sample: &mut Vec<Sampled>, e: Sampled, k: usize) {
    match sample.binary_search_by(|x| x.example.hash.cmp(&e.example.hash)) {
        Ok(i) => {
            let s = &mut sample[i];
            for (x, n) in s.counts.iter_mut().zip(&e.counts) {
                *x = x.saturating_add(*n);
            }
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

/// Training statistics of a set of captures. Deserialising checks them
/// (counters per fold as the settings say, samples in hash order, no
/// larger than the settings keep, hashes that match their content, groups
/// in key order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Reused buffer of the grams of one direction (empty between calls).
    #[serde(skip)]
    scratch: Vec<GramKey>,
}

/// A partial as written, before its checks.
#[derive(Deserialize)]
struct RawPartial {
    format: String,
    version: u32,
    settings: Settings,
    captures: BTreeSet<String>,
    groups: Vec<Group>,
}

impl TryFrom<RawPartial> for Partial {
    type Error = String;

    fn try_from(r: RawPartial) -> Result<Partial, String> {
        let folds = usize::from(r.settings.folds.max(1));
        let mut groups = r.groups;
        for g in &mut groups {
            g.check(folds, r.settings.sample)?;
        }
        if !groups.windows(2).all(|w| w[0].key < w[1].key) {
            return Err("groups not in key order".to_owned());
        }
        Ok(Partial {
            format: r.format,
            version: r.version,
            settings: r.settings,
            captures: r.captures,
            groups,
            scratch: Vec::new(),
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
            scratch: Vec::new(),
        }
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
    /// change the statistics.
    pub fn add_in(&mut self, capture: &str, e: Example, class: Class) {
        if !self.captures.contains(capture) {
            self.add_capture(capture);
        }
        let fold = usize::from(fold_of(&e.capture, self.settings.folds));
        let key = GroupKey {
            transport: e.transport,
            class,
        };
        let k = self.settings.sample;
        let mut scratch = std::mem::take(&mut self.scratch);
        self.group_mut(key).add(e, fold, k, &mut scratch);
        scratch.clear();
        self.scratch = scratch;
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
