//! The aligned dataset as Parquet (columns as in [`super::dataset`]).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, ListBuilder, StringBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::dataset::AlignedFlow;
use crate::labels::Tool;

/// Rows kept before a record batch is written.
const BATCH_ROWS: usize = 8192;

/// Writes aligned rows to a Parquet file, Snappy-compressed, in batches.
pub struct ParquetWriter {
    tools: Vec<Tool>,
    schema: Arc<Schema>,
    writer: ArrowWriter<File>,
    rows: Vec<AlignedFlow>,
}

/// The Arrow schema of the aligned dataset for the given tools.
pub fn schema(tools: &[Tool]) -> Schema {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let list = || DataType::List(Arc::new(Field::new("item", DataType::UInt32, true)));
    let mut fields = vec![
        s("capture", false),
        s("file", false),
        s("transport", false),
        s("src_ip", false),
        Field::new("src_port", DataType::UInt16, false),
        s("dst_ip", false),
        Field::new("dst_port", DataType::UInt16, false),
        Field::new("vlan", DataType::UInt16, false),
        s("tunnel", true),
        Field::new("first_ts", DataType::Float64, false),
        Field::new("last_ts", DataType::Float64, false),
        Field::new("c2s_packets", DataType::UInt64, false),
        Field::new("s2c_packets", DataType::UInt64, false),
        Field::new("c2s_bytes", DataType::UInt64, false),
        Field::new("s2c_bytes", DataType::UInt64, false),
        Field::new("c2s_sizes", list(), false),
        Field::new("s2c_sizes", list(), false),
        s("c2s_payload", false),
        s("s2c_payload", false),
    ];
    for t in tools {
        let t = t.name();
        fields.push(s(&format!("{t}_protocol"), true));
        fields.push(s(&format!("{t}_master"), true));
        fields.push(s(&format!("{t}_app"), true));
        fields.push(s(&format!("{t}_confidence"), true));
        fields.push(Field::new(format!("{t}_records"), DataType::UInt32, true));
        fields.push(Field::new(format!("{t}_line"), DataType::UInt64, true));
        fields.push(s(&format!("{t}_match"), true));
    }
    Schema::new(fields)
}

impl ParquetWriter {
    /// Creates `path` for rows labelled by `tools` (in that order).
    pub fn create(path: &Path, tools: &[Tool]) -> anyhow::Result<ParquetWriter> {
        let file = File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let schema = Arc::new(schema(tools));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        Ok(ParquetWriter {
            tools: tools.to_vec(),
            schema,
            writer,
            rows: Vec::new(),
        })
    }

    /// Adds one row.
    pub fn push(&mut self, row: &AlignedFlow) -> anyhow::Result<()> {
        self.rows.push(row.clone());
        if self.rows.len() >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Writes the remaining rows and the file footer.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.flush_batch()?;
        self.writer.close()?;
        Ok(())
    }

    fn flush_batch(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let text = |f: &dyn Fn(&AlignedFlow) -> Option<&str>| -> ArrayRef {
            let mut b = StringBuilder::new();
            for r in &rows {
                b.append_option(f(r));
            }
            Arc::new(b.finish())
        };
        let u16s = |f: &dyn Fn(&AlignedFlow) -> u16| -> ArrayRef {
            let mut b = UInt16Builder::new();
            for r in &rows {
                b.append_value(f(r));
            }
            Arc::new(b.finish())
        };
        let u64s = |f: &dyn Fn(&AlignedFlow) -> Option<u64>| -> ArrayRef {
            let mut b = UInt64Builder::new();
            for r in &rows {
                b.append_option(f(r));
            }
            Arc::new(b.finish())
        };
        let f64s = |f: &dyn Fn(&AlignedFlow) -> f64| -> ArrayRef {
            let mut b = Float64Builder::new();
            for r in &rows {
                b.append_value(f(r));
            }
            Arc::new(b.finish())
        };
        let lists = |f: &dyn Fn(&AlignedFlow) -> &[u32]| -> ArrayRef {
            let mut b = ListBuilder::new(UInt32Builder::new());
            for r in &rows {
                b.values().append_slice(f(r));
                b.append(true);
            }
            Arc::new(b.finish())
        };
        let mut cols: Vec<ArrayRef> = vec![
            text(&|r| Some(&r.capture)),
            text(&|r| Some(&r.flow.file)),
            text(&|r| Some(&r.flow.transport)),
            text(&|r| Some(&r.flow.src_ip)),
            u16s(&|r| r.flow.src_port),
            text(&|r| Some(&r.flow.dst_ip)),
            u16s(&|r| r.flow.dst_port),
            u16s(&|r| r.flow.vlan),
            text(&|r| r.flow.tunnel.as_deref()),
            f64s(&|r| r.flow.first_ts),
            f64s(&|r| r.flow.last_ts),
            u64s(&|r| Some(r.flow.c2s_packets)),
            u64s(&|r| Some(r.flow.s2c_packets)),
            u64s(&|r| Some(r.flow.c2s_bytes)),
            u64s(&|r| Some(r.flow.s2c_bytes)),
            lists(&|r| &r.flow.c2s_sizes),
            lists(&|r| &r.flow.s2c_sizes),
            text(&|r| Some(&r.flow.c2s_payload)),
            text(&|r| Some(&r.flow.s2c_payload)),
        ];
        for i in 0..self.tools.len() {
            cols.push(text(&|r| label(r, i).map(|l| l.protocol.as_str())));
            cols.push(text(&|r| label(r, i).and_then(|l| l.master.as_deref())));
            cols.push(text(&|r| label(r, i).and_then(|l| l.app.as_deref())));
            cols.push(text(&|r| label(r, i).and_then(|l| l.confidence.as_deref())));
            let mut records = UInt32Builder::new();
            for r in &rows {
                records.append_option(label(r, i).map(|l| l.records));
            }
            cols.push(Arc::new(records.finish()));
            cols.push(u64s(&|r| label(r, i).map(|l| l.line as u64)));
            cols.push(text(&|r| label(r, i).map(|l| l.matched_by.name())));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), cols)?;
        self.writer.write(&batch)?;
        Ok(())
    }
}

fn label(r: &AlignedFlow, i: usize) -> Option<&super::RefLabel> {
    r.labels[i].as_ref()
}
