//! Partial statistics as Parquet tables (`dpi train --partial --format
//! parquet`), so that the reduce step can be plain SQL on an engine that
//! reads Parquet (Spark, DuckDB).
//!
//! A Parquet partial is a directory holding one table per kind of
//! statistic, each `<table>.parquet`: a file, or a directory of Parquet
//! files (as Spark writes them). Rows are a set: their order does not
//! matter, and the reader sorts them. Every statistic is one row per
//! counter, so that merging is `GROUP BY` with `sum`, and the bottom-k
//! sets are `row_number() ... <= k`. Integer columns are read from any
//! integer type, or a decimal of scale 0, whose values fit (Spark has no
//! unsigned types and writes `UInt64` back as `Decimal(20,0)`). The
//! schema (version [`TABLES_VERSION`]) is documented in the "Partial
//! statistics as tables" part of `dpi-train/DESIGN.md`; the merge as SQL is
//! `dpi-train/spark/reduce.sql`.
//!
//! Reading goes through the same checks as a JSON partial.
//!
//! ```
//! use dpi_train::train::{partial_parquet, Class, Example, Partial, Settings};
//!
//! let settings = Settings { references: vec!["ndpi".into()], bytes: 16, sample: 8, folds: 2 };
//! let mut p = Partial::new(settings);
//! p.add(Example::initiator_only("a.pcap", 17, 5000, 53, vec![1, 2, 3, 4]), Class::Labelled("DNS".into()));
//! let dir = std::env::temp_dir().join(format!("dpi-doc-parquet-{}", std::process::id()));
//! partial_parquet::write(&p, &dir).unwrap();
//! assert_eq!(partial_parquet::read(&dir).unwrap(), p);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch, StringArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema};
use dpi_core::signature::Side;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::example::{Class, Example};
use super::partial::{CaptureContent, Group, GroupKey, HostCount, Partial, Sampled, Settings};
use super::partial::{PARTIAL_FORMAT, PARTIAL_VERSION};
use super::sources::Sketch;

/// The version of the table layout (the `tables` column of `settings`).
pub const TABLES_VERSION: u32 = 2;

/// Rows a table file may hold per byte of file, at most (one bit a row),
/// beyond [`MIN_ROWS`]: checked from the file's metadata before its pages
/// are decoded.
const ROWS_PER_BYTE: u64 = 8;
/// Rows any table file may hold, whatever its size.
const MIN_ROWS: u64 = 4096;

/// The tables of a Parquet partial, in the order they are written.
pub const TABLES: [&str; 10] = [
    "settings",
    "captures",
    "names",
    "groups",
    "samples",
    "sample_counts",
    "sample_captures",
    "contents",
    "hosts",
    "sketch_mins",
];

/// Whether `path` holds a Parquet partial (a directory) rather than JSON.
pub fn is_parquet(path: &Path) -> bool {
    path.is_dir()
}

fn class_columns(c: &Class) -> (&'static str, &str) {
    match c {
        Class::Labelled(p) => ("labelled", p),
        Class::Weak(p) => ("weak", p),
        Class::Unlabelled => ("unlabelled", ""),
    }
}

/// Columns under construction, each with its name.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn add(&mut self, name: &str, nullable: bool, a: ArrayRef) -> &mut Columns {
        self.fields
            .push(Field::new(name, a.data_type().clone(), nullable));
        self.arrays.push(a);
        self
    }

    fn u8s(&mut self, name: &str, v: Vec<u8>) -> &mut Columns {
        self.add(name, false, Arc::new(UInt8Array::from(v)))
    }

    fn u16s(&mut self, name: &str, v: Vec<u16>) -> &mut Columns {
        self.add(name, false, Arc::new(UInt16Array::from(v)))
    }

    fn u32s(&mut self, name: &str, v: Vec<Option<u32>>) -> &mut Columns {
        self.add(name, true, Arc::new(UInt32Array::from(v)))
    }

    fn u64s(&mut self, name: &str, v: Vec<u64>) -> &mut Columns {
        self.add(name, false, Arc::new(UInt64Array::from(v)))
    }

    fn strs(&mut self, name: &str, v: Vec<Option<&str>>) -> &mut Columns {
        let nullable = v.iter().any(Option::is_none) || name == "app";
        self.add(name, nullable, Arc::new(StringArray::from(v)))
    }

    fn bins(&mut self, name: &str, v: Vec<&[u8]>) -> &mut Columns {
        self.add(name, false, Arc::new(BinaryArray::from_vec(v)))
    }

    fn bools(&mut self, name: &str, v: Vec<bool>) -> &mut Columns {
        self.add(name, false, Arc::new(BooleanArray::from(v)))
    }

    fn write(&mut self, dir: &Path, table: &str) -> anyhow::Result<()> {
        let path = dir.join(format!("{table}.parquet"));
        let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", path.display());
        let schema = Arc::new(Schema::new(std::mem::take(&mut self.fields)));
        let batch = RecordBatch::try_new(schema.clone(), std::mem::take(&mut self.arrays))
            .map_err(|e| err(&e))?;
        let f = File::create(&path).map_err(|e| err(&e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut w = ArrowWriter::try_new(f, schema, Some(props)).map_err(|e| err(&e))?;
        w.write(&batch).map_err(|e| err(&e))?;
        w.close().map_err(|e| err(&e))?;
        Ok(())
    }
}

/// Writes `p` as a directory of Parquet tables at `dir` (created if
/// needed; tables already there are replaced).
pub fn write(p: &Partial, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let s = &p.settings;
    Columns::default()
        .strs("format", vec![Some(&p.format)])
        .add(
            "version",
            false,
            Arc::new(UInt32Array::from(vec![p.version])),
        )
        .add(
            "tables",
            false,
            Arc::new(UInt32Array::from(vec![TABLES_VERSION])),
        )
        .strs("references", vec![Some(&s.references.join(","))])
        .u64s("bytes", vec![s.bytes as u64])
        .u64s("sample", vec![s.sample as u64])
        .u8s("folds", vec![s.folds])
        .write(dir, "settings")?;
    let (captures, names, contents) = p.capture_tables();
    Columns::default()
        .u64s("capture_hash", captures.iter().copied().collect())
        .write(dir, "captures")?;
    Columns::default()
        .strs("capture", names.keys().map(|c| Some(c.as_str())).collect())
        .u64s("content", names.values().copied().collect())
        .write(dir, "names")?;
    write_groups(p, dir)?;
    write_samples(p, dir)?;
    let hosts: Vec<(u64, &HostCount)> = contents
        .iter()
        .flat_map(|(id, c)| c.hosts.iter().map(move |h| (*id, h)))
        .collect();
    Columns::default()
        .u64s("content", hosts.iter().map(|h| h.0).collect())
        .strs(
            "host",
            hosts.iter().map(|h| Some(h.1.host.as_str())).collect(),
        )
        .strs("app", hosts.iter().map(|h| h.1.app.as_deref()).collect())
        .bools("dpi", hosts.iter().map(|h| h.1.dpi).collect())
        .u64s("flows", hosts.iter().map(|h| h.1.flows).collect())
        .write(dir, "hosts")?;
    Columns::default()
        .u64s("content", contents.keys().copied().collect())
        .strs(
            "first",
            contents.values().map(|c| Some(c.first.as_str())).collect(),
        )
        .u64s("captures", contents.values().map(|c| c.captures).collect())
        .u64s("flows", contents.values().map(|c| c.sketch.flows).collect())
        .write(dir, "contents")?;
    let mins: Vec<(u64, u64)> = contents
        .iter()
        .flat_map(|(id, c)| c.sketch.mins.iter().map(move |m| (*id, *m)))
        .collect();
    Columns::default()
        .u64s("content", mins.iter().map(|m| m.0).collect())
        .u64s("fingerprint", mins.iter().map(|m| m.1).collect())
        .write(dir, "sketch_mins")
}

/// The group-key columns of rows, one key per row.
fn key_columns(c: &mut Columns, keys: &[&GroupKey]) {
    c.u8s("transport", keys.iter().map(|k| k.transport).collect())
        .strs(
            "kind",
            keys.iter()
                .map(|k| Some(class_columns(&k.class).0))
                .collect(),
        )
        .strs(
            "protocol",
            keys.iter()
                .map(|k| Some(class_columns(&k.class).1))
                .collect(),
        );
}

fn write_groups(p: &Partial, dir: &Path) -> anyhow::Result<()> {
    let rows: Vec<(&GroupKey, u8, u64, u64)> = p
        .groups
        .iter()
        .flat_map(|g| (0..g.flows.len()).map(move |f| (&g.key, f as u8, g.flows[f], g.captures[f])))
        .collect();
    let mut c = Columns::default();
    key_columns(&mut c, &rows.iter().map(|r| r.0).collect::<Vec<_>>());
    c.u8s("fold", rows.iter().map(|r| r.1).collect())
        .u64s("flows", rows.iter().map(|r| r.2).collect())
        .u64s("captures", rows.iter().map(|r| r.3).collect())
        .write(dir, "groups")
}

fn write_samples(p: &Partial, dir: &Path) -> anyhow::Result<()> {
    let samples: Vec<(&GroupKey, &Sampled)> = p
        .groups
        .iter()
        .flat_map(|g| g.sample.iter().map(move |s| (&g.key, s)))
        .collect();
    let keys: Vec<&GroupKey> = samples.iter().map(|s| s.0).collect();
    let ex: Vec<&Example> = samples.iter().map(|s| &s.1.example).collect();
    let mut c = Columns::default();
    key_columns(&mut c, &keys);
    c.u64s("hash", ex.iter().map(|e| e.hash).collect())
        .strs(
            "capture",
            ex.iter().map(|e| Some(e.capture.as_str())).collect(),
        )
        .u16s("client_port", ex.iter().map(|e| e.client_port).collect())
        .u16s("server_port", ex.iter().map(|e| e.server_port).collect())
        .bins("c2s", ex.iter().map(|e| e.c2s.as_slice()).collect())
        .bins("s2c", ex.iter().map(|e| e.s2c.as_slice()).collect())
        .u32s(
            "c2s_first_size",
            ex.iter().map(|e| e.c2s_first_size).collect(),
        )
        .u32s(
            "s2c_first_size",
            ex.iter().map(|e| e.s2c_first_size).collect(),
        )
        .add(
            "first_payload",
            true,
            Arc::new(StringArray::from(
                ex.iter()
                    .map(|e| e.first_payload.map(side_name))
                    .collect::<Vec<_>>(),
            )),
        )
        .u64s("c2s_packets", ex.iter().map(|e| e.c2s_packets).collect())
        .u64s("s2c_packets", ex.iter().map(|e| e.s2c_packets).collect())
        .write(dir, "samples")?;

    let counts: Vec<(&GroupKey, u64, u8, u64)> = samples
        .iter()
        .flat_map(|(k, s)| {
            s.counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(move |(f, n)| (*k, s.example.hash, f as u8, *n))
        })
        .collect();
    let mut c = Columns::default();
    key_columns(&mut c, &counts.iter().map(|r| r.0).collect::<Vec<_>>());
    c.u64s("hash", counts.iter().map(|r| r.1).collect())
        .u8s("fold", counts.iter().map(|r| r.2).collect())
        .u64s("flows", counts.iter().map(|r| r.3).collect())
        .write(dir, "sample_counts")?;

    let caps: Vec<(&GroupKey, u64, &str)> = samples
        .iter()
        .flat_map(|(k, s)| {
            s.captures
                .iter()
                .map(move |c| (*k, s.example.hash, c.as_str()))
        })
        .collect();
    let mut c = Columns::default();
    key_columns(&mut c, &caps.iter().map(|r| r.0).collect::<Vec<_>>());
    c.u64s("hash", caps.iter().map(|r| r.1).collect())
        .strs("capture", caps.iter().map(|r| Some(r.2)).collect())
        .write(dir, "sample_captures")
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Initiator => "initiator",
        Side::Responder => "responder",
    }
}

/// Reads the value of a row (not null) of a column.
type Getter<'a, T> = &'a dyn Fn(&ArrayRef, usize) -> Result<Option<T>, String>;

/// The rows of one table, read from its file or files.
struct Table {
    /// `<dir>/<table>.parquet`, for messages.
    path: PathBuf,
    batches: Vec<(PathBuf, RecordBatch)>,
}

impl Table {
    fn read(dir: &Path, name: &str) -> anyhow::Result<Table> {
        let path = dir.join(format!("{name}.parquet"));
        let files = if path.is_dir() {
            let mut v = Vec::new();
            for e in
                std::fs::read_dir(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            {
                let p = e
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    .path();
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if n.ends_with(".parquet") && !n.starts_with('.') && !n.starts_with('_') {
                    v.push(p);
                }
            }
            v.sort();
            v
        } else if path.is_file() {
            vec![path.clone()]
        } else {
            anyhow::bail!(
                "{}: table {name} of the partial is missing (a Parquet partial holds {})",
                path.display(),
                TABLES.join(", ")
            );
        };
        let mut batches = Vec::new();
        for f in files {
            let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", f.display());
            let file = File::open(&f).map_err(|e| err(&e))?;
            let bytes = file.metadata().map_err(|e| err(&e))?.len();
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
            // Checked before anything is decoded: compressed pages can
            // expand without bound (a column of zeros), and a partial's
            // rows each hold at least a hash or a count that varies.
            let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let most = bytes.saturating_mul(ROWS_PER_BYTE).max(MIN_ROWS);
            if rows > most {
                return Err(err(&format!(
                    "{rows} rows in {bytes} bytes: more than {ROWS_PER_BYTE} rows per byte of \
                     file, which no partial written by dpi holds (a damaged or altered table)"
                )));
            }
            let reader = builder.build().map_err(|e| err(&e))?;
            for b in reader {
                batches.push((f.clone(), b.map_err(|e| err(&e))?));
            }
        }
        Ok(Table { path, batches })
    }

    fn rows(&self) -> usize {
        self.batches.iter().map(|(_, b)| b.num_rows()).sum()
    }

    /// Every value of column `name`, through `get` (row within the batch).
    fn column<T>(&self, name: &str, get: Getter<T>) -> anyhow::Result<Vec<Option<T>>> {
        let mut out = Vec::with_capacity(self.rows());
        let mut row = 0usize;
        for (f, b) in &self.batches {
            let col = b
                .column_by_name(name)
                .ok_or_else(|| anyhow::anyhow!("{}: no column {name}", f.display()))?;
            for i in 0..col.len() {
                let v = if col.is_null(i) {
                    None
                } else {
                    get(col, i).map_err(|e| {
                        anyhow::anyhow!("{}: column {name}, row {row}: {e}", f.display())
                    })?
                };
                out.push(v);
                row += 1;
            }
        }
        Ok(out)
    }

    /// A column that must have no nulls.
    fn required<T>(&self, name: &str, get: Getter<T>) -> anyhow::Result<Vec<T>> {
        self.column(name, get)?
            .into_iter()
            .enumerate()
            .map(|(row, v)| {
                v.ok_or_else(|| {
                    anyhow::anyhow!("{}: column {name}, row {row}: null", self.path.display())
                })
            })
            .collect()
    }

    fn uint(&self, name: &str) -> anyhow::Result<Vec<u64>> {
        self.required(name, &get_u64)
    }

    fn uint_as<T: TryFrom<u64>>(&self, name: &str) -> anyhow::Result<Vec<T>> {
        self.uint(name)?
            .into_iter()
            .enumerate()
            .map(|(row, v)| {
                T::try_from(v).map_err(|_| {
                    anyhow::anyhow!(
                        "{}: column {name}, row {row}: {v} is out of range",
                        self.path.display()
                    )
                })
            })
            .collect()
    }

    fn opt_u32(&self, name: &str) -> anyhow::Result<Vec<Option<u32>>> {
        self.column(name, &|a, i| {
            get_u64(a, i)?
                .map(|v| u32::try_from(v).map_err(|_| format!("{v} is out of range")))
                .transpose()
        })
    }

    fn string(&self, name: &str) -> anyhow::Result<Vec<String>> {
        self.required(name, &get_str)
    }

    fn opt_string(&self, name: &str) -> anyhow::Result<Vec<Option<String>>> {
        self.column(name, &get_str)
    }

    fn binary(&self, name: &str) -> anyhow::Result<Vec<Vec<u8>>> {
        self.required(name, &|a, i| match a.data_type() {
            DataType::Binary => Ok(Some(a.as_binary::<i32>().value(i).to_vec())),
            DataType::LargeBinary => Ok(Some(a.as_binary::<i64>().value(i).to_vec())),
            DataType::BinaryView => Ok(Some(a.as_binary_view().value(i).to_vec())),
            t => Err(format!("{t} where bytes are expected")),
        })
    }

    fn boolean(&self, name: &str) -> anyhow::Result<Vec<bool>> {
        self.required(name, &|a, i| match a.data_type() {
            DataType::Boolean => Ok(Some(a.as_boolean().value(i))),
            t => Err(format!("{t} where a boolean is expected")),
        })
    }

    fn keys(&self) -> anyhow::Result<Vec<GroupKey>> {
        let transport: Vec<u8> = self.uint_as("transport")?;
        let kind = self.string("kind")?;
        let protocol = self.opt_string("protocol")?;
        let mut out = Vec::with_capacity(kind.len());
        for (row, ((t, k), p)) in transport.into_iter().zip(kind).zip(protocol).enumerate() {
            let class = match (k.as_str(), p) {
                ("labelled", Some(p)) if !p.is_empty() => Class::Labelled(p),
                ("weak", Some(p)) if !p.is_empty() => Class::Weak(p),
                ("unlabelled", p) if p.as_deref().unwrap_or("").is_empty() => Class::Unlabelled,
                (k, p) => anyhow::bail!(
                    "{}: row {row}: class {k:?} with protocol {p:?} (labelled or weak with a protocol, unlabelled without, expected)",
                    self.path.display()
                ),
            };
            out.push(GroupKey {
                transport: t,
                class,
            });
        }
        Ok(out)
    }
}

fn get_u64(a: &ArrayRef, i: usize) -> Result<Option<u64>, String> {
    fn signed(v: i64) -> Result<Option<u64>, String> {
        u64::try_from(v)
            .map(Some)
            .map_err(|_| format!("{v} is negative"))
    }
    match a.data_type() {
        DataType::UInt8 => Ok(Some(a.as_primitive::<UInt8Type>().value(i).into())),
        DataType::UInt16 => Ok(Some(a.as_primitive::<UInt16Type>().value(i).into())),
        DataType::UInt32 => Ok(Some(a.as_primitive::<UInt32Type>().value(i).into())),
        DataType::UInt64 => Ok(Some(a.as_primitive::<UInt64Type>().value(i))),
        DataType::Int8 => signed(a.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => signed(a.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => signed(a.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => signed(a.as_primitive::<Int64Type>().value(i)),
        DataType::Decimal128(_, 0) => {
            let v = a.as_primitive::<Decimal128Type>().value(i);
            u64::try_from(v)
                .map(Some)
                .map_err(|_| format!("{v} is out of range"))
        }
        t => Err(format!("{t} where an unsigned integer is expected")),
    }
}

fn get_str(a: &ArrayRef, i: usize) -> Result<Option<String>, String> {
    match a.data_type() {
        DataType::Utf8 => Ok(Some(a.as_string::<i32>().value(i).to_owned())),
        DataType::LargeUtf8 => Ok(Some(a.as_string::<i64>().value(i).to_owned())),
        DataType::Utf8View => Ok(Some(a.as_string_view().value(i).to_owned())),
        t => Err(format!("{t} where text is expected")),
    }
}

fn parse_side(s: Option<String>) -> Result<Option<Side>, String> {
    match s.as_deref() {
        None => Ok(None),
        Some("initiator") => Ok(Some(Side::Initiator)),
        Some("responder") => Ok(Some(Side::Responder)),
        Some(x) => Err(format!(
            "first_payload {x:?} (initiator or responder expected)"
        )),
    }
}

/// Reads a Parquet partial (a directory written by [`write`](fn@write), or by a SQL
/// reduce of such directories), checking it as a JSON partial is checked.
pub fn read(dir: &Path) -> anyhow::Result<Partial> {
    let d = dir.display();
    let t = Table::read(dir, "settings")?;
    if t.rows() != 1 {
        anyhow::bail!(
            "{}: {} rows, one expected (partials of different settings do not merge)",
            t.path.display(),
            t.rows()
        );
    }
    let format = t.string("format")?.remove(0);
    let version = t.uint("version")?[0];
    let tables = t.uint("tables")?[0];
    if format != PARTIAL_FORMAT {
        anyhow::bail!("{}: not a {PARTIAL_FORMAT} table", t.path.display());
    }
    if version != u64::from(PARTIAL_VERSION) || tables != u64::from(TABLES_VERSION) {
        anyhow::bail!(
            "{}: partial statistics of version {version}, tables version {tables}; this dpi reads version {PARTIAL_VERSION}, tables version {TABLES_VERSION} (write them again with this dpi's `dpi train --partial`)",
            t.path.display()
        );
    }
    let references = t.string("references")?.remove(0);
    let settings = Settings {
        references: references.split(',').map(str::to_owned).collect(),
        bytes: t.uint_as::<usize>("bytes")?[0],
        sample: t.uint_as::<usize>("sample")?[0],
        folds: t.uint_as::<u8>("folds")?[0],
    };
    let folds = usize::from(settings.folds.max(1));

    let t = Table::read(dir, "captures")?;
    let mut captures: BTreeSet<u64> = BTreeSet::new();
    for h in t.uint("capture_hash")? {
        if !captures.insert(h) {
            anyhow::bail!(
                "{}: capture of name hash {h:016x} listed twice; each capture must be counted once",
                t.path.display()
            );
        }
    }
    let t = Table::read(dir, "names")?;
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    for (c, id) in t.string("capture")?.into_iter().zip(t.uint("content")?) {
        if names.insert(c.clone(), id).is_some() {
            anyhow::bail!("{}: capture {c} named twice", t.path.display());
        }
    }

    let t = Table::read(dir, "groups")?;
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    let fold_col: Vec<u8> = t.uint_as("fold")?;
    let flows = t.uint("flows")?;
    let caps = t.uint("captures")?;
    let mut seen = BTreeSet::new();
    for (row, (key, ((f, n), c))) in t
        .keys()?
        .into_iter()
        .zip(fold_col.into_iter().zip(flows).zip(caps))
        .enumerate()
    {
        let fi = usize::from(f);
        if fi >= folds || !seen.insert((key.clone(), f)) {
            anyhow::bail!(
                "{}: row {row}: fold {f} of group {key:?} repeated or not below {folds}",
                t.path.display()
            );
        }
        let g = groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            flows: vec![0; folds],
            captures: vec![0; folds],
            sample: Vec::new(),
        });
        g.flows[fi] = n;
        g.captures[fi] = c;
    }

    let samples = read_samples(dir, folds)?;
    for ((key, _), s) in samples {
        let g = groups.get_mut(&key).ok_or_else(|| {
            anyhow::anyhow!(
                "{d}: sampled example {} of a group with no counts ({key:?})",
                s.example.hash
            )
        })?;
        g.sample.push(s);
    }

    let t = Table::read(dir, "contents")?;
    let mut contents: BTreeMap<u64, CaptureContent> = BTreeMap::new();
    for (((id, first), n), flows) in t
        .uint("content")?
        .into_iter()
        .zip(t.string("first")?)
        .zip(t.uint("captures")?)
        .zip(t.uint("flows")?)
    {
        let c = CaptureContent {
            first,
            captures: n,
            sketch: Sketch {
                flows,
                mins: Vec::new(),
            },
            hosts: Vec::new(),
        };
        if contents.insert(id, c).is_some() {
            anyhow::bail!("{}: content {id} listed twice", t.path.display());
        }
    }
    fn content_mut<'a>(
        contents: &'a mut BTreeMap<u64, CaptureContent>,
        id: u64,
        table: &Path,
    ) -> anyhow::Result<&'a mut CaptureContent> {
        contents.get_mut(&id).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: content {id} not in the contents table",
                table.display()
            )
        })
    }
    let t = Table::read(dir, "sketch_mins")?;
    for (id, m) in t.uint("content")?.into_iter().zip(t.uint("fingerprint")?) {
        content_mut(&mut contents, id, &t.path)?.sketch.mins.push(m);
    }
    let t = Table::read(dir, "hosts")?;
    for ((((id, host), app), dpi), flows) in t
        .uint("content")?
        .into_iter()
        .zip(t.string("host")?)
        .zip(t.opt_string("app")?)
        .zip(t.boolean("dpi")?)
        .zip(t.uint("flows")?)
    {
        content_mut(&mut contents, id, &t.path)?
            .hosts
            .push(HostCount {
                host,
                app,
                dpi,
                flows,
            });
    }
    for c in contents.values_mut() {
        c.sketch.mins.sort_unstable();
        c.hosts.sort();
    }

    Partial::from_parts(
        format,
        settings,
        captures,
        names,
        groups.into_values().collect(),
        contents,
    )
    .map_err(|e| anyhow::anyhow!("{d}: {e}"))
}

/// The sampled examples, by (group, hash), with their counts and captures.
fn read_samples(dir: &Path, folds: usize) -> anyhow::Result<BTreeMap<(GroupKey, u64), Sampled>> {
    let t = Table::read(dir, "samples")?;
    let keys = t.keys()?;
    let hash = t.uint("hash")?;
    let capture = t.string("capture")?;
    let client_port: Vec<u16> = t.uint_as("client_port")?;
    let server_port: Vec<u16> = t.uint_as("server_port")?;
    let c2s = t.binary("c2s")?;
    let s2c = t.binary("s2c")?;
    let c2s_first = t.opt_u32("c2s_first_size")?;
    let s2c_first = t.opt_u32("s2c_first_size")?;
    let first = t.opt_string("first_payload")?;
    let c2s_packets = t.uint("c2s_packets")?;
    let s2c_packets = t.uint("s2c_packets")?;
    let mut out = BTreeMap::new();
    let rows = keys
        .into_iter()
        .zip(hash)
        .zip(capture)
        .zip(client_port)
        .zip(server_port);
    let rest = c2s
        .into_iter()
        .zip(s2c)
        .zip(c2s_first)
        .zip(s2c_first)
        .zip(first);
    for (row, ((((((key, h), cap), cp), sp), ((((c, s), cf), sf), fp)), (cpk, spk))) in rows
        .zip(rest)
        .zip(c2s_packets.into_iter().zip(s2c_packets))
        .enumerate()
    {
        let first_payload =
            parse_side(fp).map_err(|e| anyhow::anyhow!("{}: row {row}: {e}", t.path.display()))?;
        let example = Example {
            hash: h,
            capture: cap,
            transport: key.transport,
            client_port: cp,
            server_port: sp,
            c2s: c,
            s2c: s,
            c2s_first_size: cf,
            s2c_first_size: sf,
            first_payload,
            c2s_packets: cpk,
            s2c_packets: spk,
        };
        let sampled = Sampled {
            example,
            counts: vec![0; folds],
            captures: Vec::new(),
        };
        if out.insert((key.clone(), h), sampled).is_some() {
            anyhow::bail!(
                "{}: row {row}: hash {h} sampled twice in group {key:?}",
                t.path.display()
            );
        }
    }
    let t = Table::read(dir, "sample_counts")?;
    let fold: Vec<u8> = t.uint_as("fold")?;
    for (row, ((key, h), (f, n))) in t
        .keys()?
        .into_iter()
        .zip(t.uint("hash")?)
        .zip(fold.into_iter().zip(t.uint("flows")?))
        .enumerate()
    {
        let s = out.get_mut(&(key.clone(), h)).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: row {row}: counts of hash {h} not sampled in group {key:?}",
                t.path.display()
            )
        })?;
        let slot = s.counts.get_mut(usize::from(f)).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: row {row}: fold {f} not below {folds}",
                t.path.display()
            )
        })?;
        if *slot != 0 {
            anyhow::bail!(
                "{}: row {row}: fold {f} of hash {h} repeated",
                t.path.display()
            );
        }
        *slot = n;
    }
    let t = Table::read(dir, "sample_captures")?;
    for (row, ((key, h), c)) in t
        .keys()?
        .into_iter()
        .zip(t.uint("hash")?)
        .zip(t.string("capture")?)
        .enumerate()
    {
        let s = out.get_mut(&(key.clone(), h)).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: row {row}: captures of hash {h} not sampled in group {key:?}",
                t.path.display()
            )
        })?;
        s.captures.push(c);
    }
    for s in out.values_mut() {
        s.captures.sort_unstable();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::UInt64Array;

    /// A table of a million zeros compresses to a few kilobytes: refused
    /// from its metadata, before its pages are decoded.
    #[test]
    fn tables_that_expand_far_beyond_their_size_are_refused_unread() {
        let dir = std::env::temp_dir().join(format!("dpi-parquet-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "folds",
            DataType::UInt64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(UInt64Array::from(vec![0u64; 1_000_000]))],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let file = File::create(dir.join("settings.parquet")).unwrap();
        let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let size = std::fs::metadata(dir.join("settings.parquet"))
            .unwrap()
            .len();
        assert!(size * ROWS_PER_BYTE < 1_000_000, "{size} bytes");
        let Err(e) = Table::read(&dir, "settings") else {
            panic!("a table of a million rows in a few kilobytes was read")
        };
        assert!(e.to_string().contains("rows per byte"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
