//! Flows as Parquet: `dpi extract --format parquet` and `dpi classify
//! --format parquet`.
//!
//! The columns carry the names of the JSON keys, with types:
//!
//! | column | type | notes |
//! | --- | --- | --- |
//! | `file` | utf8 | the capture's path as given |
//! | `transport` | utf8 | nDPI's lower-case name (`tcp`, `udp`, ...) or the IP protocol number |
//! | `src_ip`, `dst_ip` | utf8 | initiator, responder |
//! | `src_port`, `dst_port` | uint16 | 0 without ports |
//! | `vlan` | uint16 | 0 when untagged |
//! | `tunnel` | utf8, null | outer encapsulation |
//! | `first_ts`, `last_ts` | timestamp(ns, UTC) | first and last packet |
//! | `c2s_packets`, `s2c_packets`, `c2s_bytes`, `s2c_bytes` | uint64 | per direction, bytes on the wire |
//! | `c2s_sizes`, `s2c_sizes` | list\<uint32\> | payload sizes of the first K payload packets |
//! | `c2s_payload`, `s2c_payload` | binary | the first N bytes of user data, raw (the JSON's hex decoded); `dpi classify` writes them only with `--payload` |
//!
//! then, for `dpi classify`, `protocol`, `confidence`, `reason` (utf8),
//! `app` (utf8, null), and the protocol fields `hostname`, `alpn`
//! (list\<utf8\>), `ja4`, `ja4s`, `http_user_agent`, `http_url`, `dns_query_type`,
//! `dns_answers` (list\<utf8\>), `ssh_client`, `ssh_server` (utf8), null
//! when absent.
//!
//! Rows are appended to column builders and handed to the Parquet writer
//! every [`BATCH_ROWS`] rows; a row group holds at most
//! [`ROW_GROUP_ROWS`] rows, so memory is bounded by one row group whatever
//! the number of flows. Columns are Snappy-compressed.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, ListBuilder, StringBuilder, TimestampNanosecondBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use dpi_core::{Classification, Flow, Metadata};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::commands::classify::{metadata_strings, METADATA_COLUMNS};
use crate::record::transport_name;

/// Rows kept in the column builders before they are handed to the writer.
pub const BATCH_ROWS: usize = 8192;

/// Rows of a row group at most.
pub const ROW_GROUP_ROWS: usize = 65536;

/// Which columns a file has.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// `c2s_payload` and `s2c_payload`.
    pub payload: bool,
    /// The label and protocol-field columns of `dpi classify`.
    pub labels: bool,
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// The Arrow schema of a file with `columns`.
///
/// ```
/// use dpi_train::output::parquet::{schema, Columns};
///
/// let s = schema(Columns { payload: false, labels: true });
/// assert_eq!(s.field(0).name(), "file");
/// assert!(s.field_with_name("protocol").is_ok());
/// assert!(s.field_with_name("c2s_payload").is_err());
/// ```
pub fn schema(columns: Columns) -> Schema {
    let ts = || DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        utf8("file", false),
        utf8("transport", false),
        utf8("src_ip", false),
        Field::new("src_port", DataType::UInt16, false),
        utf8("dst_ip", false),
        Field::new("dst_port", DataType::UInt16, false),
        Field::new("vlan", DataType::UInt16, false),
        utf8("tunnel", true),
        Field::new("first_ts", ts(), false),
        Field::new("last_ts", ts(), false),
        Field::new("c2s_packets", DataType::UInt64, false),
        Field::new("s2c_packets", DataType::UInt64, false),
        Field::new("c2s_bytes", DataType::UInt64, false),
        Field::new("s2c_bytes", DataType::UInt64, false),
        Field::new("c2s_sizes", list_of(DataType::UInt32), false),
        Field::new("s2c_sizes", list_of(DataType::UInt32), false),
    ];
    if columns.payload {
        fields.push(Field::new("c2s_payload", DataType::Binary, false));
        fields.push(Field::new("s2c_payload", DataType::Binary, false));
    }
    if columns.labels {
        fields.push(utf8("protocol", false));
        fields.push(utf8("app", true));
        fields.push(utf8("confidence", false));
        fields.push(utf8("reason", false));
        for name in METADATA_COLUMNS {
            if name == "alpn" || name == "dns_answers" {
                fields.push(Field::new(name, list_of(DataType::Utf8), true));
            } else {
                fields.push(utf8(name, true));
            }
        }
    }
    Schema::new(fields)
}

/// The column builders of one batch.
struct Builders {
    file: StringBuilder,
    transport: StringBuilder,
    src_ip: StringBuilder,
    src_port: UInt16Builder,
    dst_ip: StringBuilder,
    dst_port: UInt16Builder,
    vlan: UInt16Builder,
    tunnel: StringBuilder,
    first_ts: TimestampNanosecondBuilder,
    last_ts: TimestampNanosecondBuilder,
    counters: [UInt64Builder; 4],
    c2s_sizes: ListBuilder<UInt32Builder>,
    s2c_sizes: ListBuilder<UInt32Builder>,
    c2s_payload: BinaryBuilder,
    s2c_payload: BinaryBuilder,
    /// `protocol`, `app`, `confidence`, `reason`.
    labels: [StringBuilder; 4],
    /// The single-valued protocol fields, in [`METADATA_COLUMNS`] order.
    meta: [StringBuilder; 8],
    alpn: ListBuilder<StringBuilder>,
    dns_answers: ListBuilder<StringBuilder>,
}

impl Builders {
    fn new() -> Self {
        let ts = || TimestampNanosecondBuilder::new().with_timezone("UTC");
        Builders {
            file: StringBuilder::new(),
            transport: StringBuilder::new(),
            src_ip: StringBuilder::new(),
            src_port: UInt16Builder::new(),
            dst_ip: StringBuilder::new(),
            dst_port: UInt16Builder::new(),
            vlan: UInt16Builder::new(),
            tunnel: StringBuilder::new(),
            first_ts: ts(),
            last_ts: ts(),
            counters: std::array::from_fn(|_| UInt64Builder::new()),
            c2s_sizes: ListBuilder::new(UInt32Builder::new()),
            s2c_sizes: ListBuilder::new(UInt32Builder::new()),
            c2s_payload: BinaryBuilder::new(),
            s2c_payload: BinaryBuilder::new(),
            labels: std::array::from_fn(|_| StringBuilder::new()),
            meta: std::array::from_fn(|_| StringBuilder::new()),
            alpn: ListBuilder::new(StringBuilder::new()),
            dns_answers: ListBuilder::new(StringBuilder::new()),
        }
    }

    /// The arrays of the rows appended so far, in schema order; the
    /// builders are left empty.
    fn finish(&mut self, columns: Columns) -> Vec<ArrayRef> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.transport.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_ip.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.vlan.finish()),
            Arc::new(self.tunnel.finish()),
            Arc::new(self.first_ts.finish()),
            Arc::new(self.last_ts.finish()),
        ];
        for c in &mut self.counters {
            cols.push(Arc::new(c.finish()));
        }
        cols.push(Arc::new(self.c2s_sizes.finish()));
        cols.push(Arc::new(self.s2c_sizes.finish()));
        if columns.payload {
            cols.push(Arc::new(self.c2s_payload.finish()));
            cols.push(Arc::new(self.s2c_payload.finish()));
        }
        if columns.labels {
            for l in &mut self.labels {
                cols.push(Arc::new(l.finish()));
            }
            let mut meta = self.meta.iter_mut();
            for name in METADATA_COLUMNS {
                match name {
                    "alpn" => cols.push(Arc::new(self.alpn.finish())),
                    "dns_answers" => cols.push(Arc::new(self.dns_answers.finish())),
                    _ => {
                        if let Some(m) = meta.next() {
                            cols.push(Arc::new(m.finish()));
                        }
                    }
                }
            }
        }
        cols
    }
}

/// Nanoseconds as Arrow's signed timestamp (times past 2262 are clamped).
fn nanos(ts: dpi_core::Timestamp) -> i64 {
    i64::try_from(ts.as_nanos()).unwrap_or(i64::MAX)
}

fn push_ip(b: &mut StringBuilder, ip: std::net::IpAddr) {
    use std::fmt::Write as _;
    // Writing into a string builder cannot fail; the value is closed by
    // the empty append.
    let _ = write!(b, "{ip}");
    b.append_value("");
}

fn push_list(b: &mut ListBuilder<StringBuilder>, v: &Option<Vec<String>>) {
    match v {
        Some(items) => {
            for s in items {
                b.values().append_value(s);
            }
            b.append(true);
        }
        None => b.append(false),
    }
}

/// Writes flows to a Parquet file.
///
/// ```
/// use dpi_train::output::parquet::{Columns, ParquetFlows};
///
/// let dir = std::env::temp_dir().join(format!("dpi-doc-parquet-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("flows.parquet");
/// let frame = dpi_core::testing::udp_ipv4_frame([10, 0, 0, 1], 40000, [10, 0, 0, 53], 53, b"hello");
/// let mut meter = dpi_core::FlowMeter::new(dpi_core::FlowConfig::default());
/// let mut flows = Vec::new();
/// meter.push_frame(dpi_core::LinkType::ETHERNET, dpi_core::Timestamp::from_micros(1), &frame, frame.len() as u32, &mut |f| flows.push(f));
/// meter.flush(&mut |f| flows.push(f));
///
/// let mut w = ParquetFlows::create(&path, Columns { payload: true, labels: false }).unwrap();
/// for f in &flows {
///     w.push("a.pcap", f, None).unwrap();
/// }
/// assert_eq!(w.finish().unwrap(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct ParquetFlows {
    path: PathBuf,
    columns: Columns,
    schema: Arc<Schema>,
    writer: ArrowWriter<BufWriter<File>>,
    b: Builders,
    /// Rows in the builders.
    pending: usize,
    /// Rows written in all.
    rows: u64,
}

/// The label of a classified flow: its classification and protocol fields.
pub struct Labels<'a> {
    /// What the classifier said.
    pub classification: &'a Classification,
    /// The protocol fields read from the flow.
    pub metadata: &'a Metadata,
}

impl ParquetFlows {
    /// Creates (or truncates) `path` for rows with `columns`.
    pub fn create(path: &Path, columns: Columns) -> anyhow::Result<ParquetFlows> {
        let file = File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let schema = Arc::new(schema(columns));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(ROW_GROUP_ROWS)
            .build();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(ParquetFlows {
            path: path.to_path_buf(),
            columns,
            schema,
            writer,
            b: Builders::new(),
            pending: 0,
            rows: 0,
        })
    }

    /// Appends the row of `flow`, read from capture `path`, with its
    /// labels when the file has label columns (`None` leaves them null, or
    /// empty where they are not nullable).
    pub fn push(
        &mut self,
        path: &str,
        flow: &Flow,
        labels: Option<&Labels<'_>>,
    ) -> anyhow::Result<()> {
        let b = &mut self.b;
        b.file.append_value(path);
        b.transport.append_value(transport_name(flow.protocol));
        push_ip(&mut b.src_ip, flow.client);
        b.src_port.append_value(flow.client_port);
        push_ip(&mut b.dst_ip, flow.server);
        b.dst_port.append_value(flow.server_port);
        b.vlan.append_value(flow.vlan);
        b.tunnel.append_option(flow.tunnel.map(|t| t.as_str()));
        b.first_ts.append_value(nanos(flow.first_ts));
        b.last_ts.append_value(nanos(flow.last_ts));
        let counts = [
            flow.c2s.packets,
            flow.s2c.packets,
            flow.c2s.bytes,
            flow.s2c.bytes,
        ];
        for (c, v) in b.counters.iter_mut().zip(counts) {
            c.append_value(v);
        }
        b.c2s_sizes.values().append_slice(&flow.c2s.sizes);
        b.c2s_sizes.append(true);
        b.s2c_sizes.values().append_slice(&flow.s2c.sizes);
        b.s2c_sizes.append(true);
        if self.columns.payload {
            b.c2s_payload.append_value(&flow.c2s_payload);
            b.s2c_payload.append_value(&flow.s2c_payload);
        }
        if self.columns.labels {
            match labels {
                Some(l) => {
                    let c = l.classification;
                    b.labels[0].append_value(&*c.protocol);
                    b.labels[1].append_option(c.app.as_deref());
                    b.labels[2].append_value(c.confidence.as_str());
                    b.labels[3].append_value(&*c.reason);
                    let m = l.metadata;
                    for (col, v) in b.meta.iter_mut().zip(metadata_strings(m)) {
                        col.append_option(v.as_deref());
                    }
                    push_list(&mut b.alpn, &m.alpn);
                    push_list(&mut b.dns_answers, &m.dns_answers);
                }
                None => {
                    b.labels[0].append_value("");
                    b.labels[1].append_null();
                    b.labels[2].append_value("");
                    b.labels[3].append_value("");
                    for col in &mut b.meta {
                        col.append_null();
                    }
                    b.alpn.append(false);
                    b.dns_answers.append(false);
                }
            }
        }
        self.pending += 1;
        if self.pending >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Writes the remaining rows and the footer; returns the rows written.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.flush_batch()?;
        let path = self.path.clone();
        let mut inner = self
            .writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        std::io::Write::flush(&mut inner)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(self.rows)
    }

    fn flush_batch(&mut self) -> anyhow::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let cols = self.b.finish(self.columns);
        let batch = RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        self.writer
            .write(&batch)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        self.rows += self.pending as u64;
        self.pending = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type};
    use arrow_array::Array;
    use dpi_core::Confidence;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::json_line::sample_flow;
    use crate::record::FlowRecord;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dpi-parquet-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn read(path: &Path) -> (Vec<RecordBatch>, usize) {
        let f = File::open(path).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let groups = b.metadata().num_row_groups();
        let batches = b.build().unwrap().map(|r| r.unwrap()).collect();
        (batches, groups)
    }

    #[test]
    fn rows_read_back_as_the_records() {
        let path = temp("extract.parquet");
        let n = BATCH_ROWS as u32 * 9 + 17;
        let cols = Columns {
            payload: true,
            labels: false,
        };
        let mut w = ParquetFlows::create(&path, cols).unwrap();
        for i in 0..n {
            w.push(&format!("f{}.pcap", i % 3), &sample_flow(i), None)
                .unwrap();
        }
        assert_eq!(w.finish().unwrap(), u64::from(n));
        let (batches, groups) = read(&path);
        assert_eq!(groups, (n as usize).div_ceil(ROW_GROUP_ROWS));
        let mut i = 0u32;
        for b in &batches {
            assert_eq!(b.schema().as_ref(), &schema(cols));
            let s = |c: &str| b.column_by_name(c).unwrap().as_string::<i32>().clone();
            let (file, transport, src_ip, dst_ip, tunnel) = (
                s("file"),
                s("transport"),
                s("src_ip"),
                s("dst_ip"),
                s("tunnel"),
            );
            let u16s = |c: &str| {
                b.column_by_name(c)
                    .unwrap()
                    .as_primitive::<UInt16Type>()
                    .clone()
            };
            let u64s = |c: &str| {
                b.column_by_name(c)
                    .unwrap()
                    .as_primitive::<UInt64Type>()
                    .clone()
            };
            let ts = |c: &str| {
                b.column_by_name(c)
                    .unwrap()
                    .as_primitive::<TimestampNanosecondType>()
                    .clone()
            };
            let sizes = |c: &str| b.column_by_name(c).unwrap().as_list::<i32>().clone();
            let bin = |c: &str| b.column_by_name(c).unwrap().as_binary::<i32>().clone();
            for r in 0..b.num_rows() {
                let f = sample_flow(i);
                let want = FlowRecord::new(&format!("f{}.pcap", i % 3), &f);
                assert_eq!(file.value(r), want.file);
                assert_eq!(transport.value(r), want.transport);
                assert_eq!(src_ip.value(r), want.src_ip);
                assert_eq!(dst_ip.value(r), want.dst_ip);
                assert_eq!(u16s("src_port").value(r), want.src_port);
                assert_eq!(u16s("dst_port").value(r), want.dst_port);
                assert_eq!(u16s("vlan").value(r), want.vlan);
                assert_eq!(
                    (!tunnel.is_null(r)).then(|| tunnel.value(r)),
                    want.tunnel.as_deref()
                );
                assert_eq!(ts("first_ts").value(r), nanos(f.first_ts));
                assert_eq!(ts("last_ts").value(r), nanos(f.last_ts));
                assert_eq!(u64s("c2s_packets").value(r), want.c2s_packets);
                assert_eq!(u64s("s2c_bytes").value(r), want.s2c_bytes);
                let c2s = sizes("c2s_sizes").value(r);
                assert_eq!(
                    c2s.as_primitive::<UInt32Type>().values(),
                    &want.c2s_sizes[..]
                );
                let s2c = sizes("s2c_sizes").value(r);
                assert_eq!(
                    s2c.as_primitive::<UInt32Type>().values(),
                    &want.s2c_sizes[..]
                );
                assert_eq!(bin("c2s_payload").value(r), &f.c2s_payload[..]);
                assert_eq!(bin("s2c_payload").value(r), &f.s2c_payload[..]);
                i += 1;
            }
        }
        assert_eq!(i, n);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn label_columns_hold_the_classification_and_fields() {
        let path = temp("classify.parquet");
        let cols = Columns {
            payload: false,
            labels: true,
        };
        let mut w = ParquetFlows::create(&path, cols).unwrap();
        let c = |p: &str, app: Option<&str>| Classification {
            protocol: p.into(),
            app: app.map(Into::into),
            confidence: Confidence::Signature,
            reason: "sig 7".into(),
            signature: Some(7),
            app_rule: None,
            cross: false,
        };
        let m = Metadata {
            hostname: Some("www.example.com".into()),
            alpn: Some(vec!["h2".into(), "http/1.1".into()]),
            ..Metadata::default()
        };
        let none = Metadata::default();
        let a = c("TLS", Some("YouTube"));
        let b = c("DNS", None);
        w.push(
            "a.pcap",
            &sample_flow(1),
            Some(&Labels {
                classification: &a,
                metadata: &m,
            }),
        )
        .unwrap();
        w.push(
            "a.pcap",
            &sample_flow(2),
            Some(&Labels {
                classification: &b,
                metadata: &none,
            }),
        )
        .unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        let (batches, _) = read(&path);
        let b = &batches[0];
        assert!(b.column_by_name("c2s_payload").is_none());
        let s = |c: &str| b.column_by_name(c).unwrap().as_string::<i32>().clone();
        assert_eq!(s("protocol").value(0), "TLS");
        assert_eq!(s("protocol").value(1), "DNS");
        assert_eq!(s("app").value(0), "YouTube");
        assert!(s("app").is_null(1));
        assert_eq!(s("confidence").value(0), "signature");
        assert_eq!(s("reason").value(1), "sig 7");
        assert_eq!(s("hostname").value(0), "www.example.com");
        assert!(s("hostname").is_null(1));
        let alpn = b.column_by_name("alpn").unwrap().as_list::<i32>().clone();
        let first = alpn.value(0);
        let first = first.as_string::<i32>();
        assert_eq!(
            (0..first.len()).map(|k| first.value(k)).collect::<Vec<_>>(),
            ["h2", "http/1.1"]
        );
        assert!(alpn.is_null(1));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_that_cannot_be_created_is_named() {
        let path = Path::new("/nonexistent-dir-of-dpi/x.parquet");
        let err = ParquetFlows::create(
            path,
            Columns {
                payload: false,
                labels: false,
            },
        )
        .err()
        .unwrap();
        assert!(err
            .to_string()
            .contains("/nonexistent-dir-of-dpi/x.parquet"));
    }
}
