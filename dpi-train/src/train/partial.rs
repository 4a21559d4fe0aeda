//! Per-shard training statistics that merge associatively.
//!
//! A [`Partial`] holds, per group (training fold, transport, class of the
//! reference's verdict): the flow count, first-payload sizes and sides,
//! per-direction counts of 4-byte grams (at each offset below
//! [`POSITIONAL_OFFSETS`] and anywhere in the captured bytes, each flow
//! counted once per gram) and a bottom-k sample of the examples (the `k`
//! with the smallest hashes). Merging adds the counts, unites the
//! captures and keeps the `k` smallest hashes of the union: associative,
//! commutative and deterministic, so how a corpus is cut into shards does
//! not change the merged statistics. The format is written as JSON; see
//! the "Training" section of `dpi-train/DESIGN.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::example::{Class, Example};
use super::hash::fold_of;

/// The `format` field of a partial file.
pub const PARTIAL_FORMAT: &str = "dpi-train-partial";
/// The `version` field this code writes and reads (2: numeric gram keys;
/// version 1 had text keys `@O:HEX` / `*:HEX`).
pub const PARTIAL_VERSION: u32 = 2;
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

/// Gram counts, written as `[[key, count], ...]` in key order.
mod gram_counts {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::GramKey;

    type Counts = [BTreeMap<GramKey, u64>; 2];

    pub fn serialize<S: Serializer>(c: &Counts, s: S) -> Result<S::Ok, S::Error> {
        let v: [Vec<(GramKey, u64)>; 2] = [
            c[0].iter().map(|(k, n)| (*k, *n)).collect(),
            c[1].iter().map(|(k, n)| (*k, *n)).collect(),
        ];
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Counts, D::Error> {
        let [a, b] = <[Vec<(GramKey, u64)>; 2]>::deserialize(d)?;
        let sum = |v: Vec<(GramKey, u64)>| {
            let mut m = BTreeMap::new();
            for (k, n) in v {
                *m.entry(k).or_insert(0u64) += n;
            }
            m
        };
        Ok([sum(a), sum(b)])
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
    /// Training fold of the captures (by file name, see [`fold_of`]).
    pub fold: u8,
    /// IP protocol number.
    pub transport: u8,
    /// The reference's verdict.
    pub class: Class,
}

/// The statistics of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Which group.
    pub key: GroupKey,
    /// Flows in the group (with user data).
    pub flows: u64,
    /// Flows whose first payload came from the initiator, the responder,
    /// or an unknown side (both sent).
    pub first_payload: [u64; 3],
    /// Per direction (initiator, responder): first payload size to count.
    pub first_sizes: [BTreeMap<u32, u64>; 2],
    /// Per direction: gram to number of flows holding it (see [`GramKey`]).
    #[serde(with = "gram_counts")]
    pub grams: [BTreeMap<GramKey, u64>; 2],
    /// The examples with the smallest hashes, at most `sample`, ascending.
    pub sample: Vec<Example>,
}

impl Group {
    fn new(key: GroupKey) -> Group {
        Group {
            key,
            flows: 0,
            first_payload: [0; 3],
            first_sizes: Default::default(),
            grams: Default::default(),
            sample: Vec::new(),
        }
    }

    /// The weight of one sampled example: flows per sampled example.
    pub fn weight(&self) -> f64 {
        if self.sample.is_empty() {
            0.0
        } else {
            self.flows as f64 / self.sample.len() as f64
        }
    }

    fn add(&mut self, e: Example, k: usize, scratch: &mut Vec<GramKey>) {
        self.flows += 1;
        let side = match e.first_payload {
            Some(dpi_core::signature::Side::Initiator) => 0,
            Some(dpi_core::signature::Side::Responder) => 1,
            None => 2,
        };
        self.first_payload[side] += 1;
        for d in 0..2 {
            if let Some(s) = e.first_size(d) {
                *self.first_sizes[d].entry(s).or_default() += 1;
            }
            grams_into(e.payload(d), scratch);
            for g in scratch.iter() {
                *self.grams[d].entry(*g).or_default() += 1;
            }
        }
        insert_bottom_k(&mut self.sample, e, k);
    }

    fn merge(&mut self, other: Group, k: usize) {
        self.flows += other.flows;
        for i in 0..3 {
            self.first_payload[i] += other.first_payload[i];
        }
        for d in 0..2 {
            for (s, n) in &other.first_sizes[d] {
                *self.first_sizes[d].entry(*s).or_default() += n;
            }
            for (g, n) in &other.grams[d] {
                *self.grams[d].entry(*g).or_default() += n;
            }
        }
        for e in other.sample {
            insert_bottom_k(&mut self.sample, e, k);
        }
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
/// an example whose hash is already there is not added twice.
fn insert_bottom_k(sample: &mut Vec<Example>, e: Example, k: usize) {
    match sample.binary_search_by(|x| x.hash.cmp(&e.hash)) {
        Ok(_) => {}
        Err(at) => {
            if at < k {
                sample.insert(at, e);
                sample.truncate(k);
            }
        }
    }
}

/// Training statistics of a set of captures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        let at = match self.groups.binary_search_by(|g| g.key.cmp(&key)) {
            Ok(i) => i,
            Err(i) => {
                self.groups.insert(i, Group::new(key));
                i
            }
        };
        &mut self.groups[at]
    }

    /// Adds one example of class `class`; its fold comes from its capture.
    pub fn add(&mut self, e: Example, class: Class) {
        if !self.captures.contains(&e.capture) {
            self.add_capture(&e.capture);
        }
        let key = GroupKey {
            fold: fold_of(&e.capture, self.settings.folds),
            transport: e.transport,
            class,
        };
        let k = self.settings.sample;
        let mut scratch = std::mem::take(&mut self.scratch);
        self.group_mut(key).add(e, k, &mut scratch);
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
            anyhow::bail!(
                "{}: partial version {:?}, this dpi reads version {PARTIAL_VERSION}",
                path.display(),
                version
            );
        }
        serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}
