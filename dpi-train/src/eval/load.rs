//! A corpus read once for evaluation: each capture's alignment with the
//! raw flows beside it.
//!
//! The aligned rows carry the user data as hex; the classifier wants the
//! bytes, and several classifiers (one per fold) may look at the same
//! flows. So the flows of each capture are kept as the flow meter gave
//! them, index for index with the alignment's rows, and classified
//! through [`FlowView::from`](dpi_core::FlowView), exactly as
//! `dpi classify` does.

use dpi_core::{FileSummary, Flow};

use crate::align::dataset::align_capture;
use crate::align::{reference, CaptureAlignment};
use crate::labels::{Corpus, NameRegistry, Tool};
use crate::record::FlowRecord;
use crate::runner::{run_files, FlowSink, RunOptions};

/// One capture: its alignment and, for each of its aligned rows, the flow.
#[derive(Debug)]
pub struct LoadedCapture {
    /// The alignment (rows, records, covers).
    pub alignment: CaptureAlignment,
    /// `raw[i]` is the flow of `alignment.flows[i]`.
    pub raw: Vec<Flow>,
}

/// A corpus aligned with some tools.
#[derive(Debug)]
pub struct Loaded {
    /// The tools aligned, in order (the reference first).
    pub tools: Vec<Tool>,
    /// The captures, in name order; captures the corpus labels but does
    /// not hold come last, with no flows.
    pub captures: Vec<LoadedCapture>,
}

struct Sink<'a> {
    corpus: &'a Corpus,
    registry: &'a NameRegistry,
    tools: &'a [Tool],
    names: &'a [String],
    paths: &'a [String],
    raw: Vec<Flow>,
    out: Vec<LoadedCapture>,
}

impl Sink<'_> {
    fn finish(
        &mut self,
        capture: &str,
        raw: Vec<Flow>,
        path: &str,
        has_capture: bool,
        error: Option<String>,
    ) -> anyhow::Result<()> {
        let mut refs = Vec::new();
        for &tool in self.tools {
            refs.push((
                tool,
                reference::load(self.corpus, capture, tool, self.registry)?,
            ));
        }
        let records = raw.iter().map(|f| FlowRecord::new(path, f)).collect();
        let mut alignment = align_capture(capture, records, &refs);
        alignment.has_capture = has_capture;
        alignment.read_error = error;
        self.out.push(LoadedCapture { alignment, raw });
        Ok(())
    }
}

impl FlowSink for Sink<'_> {
    type Item = Flow;

    fn worker(&self, _file: usize) -> Box<dyn FnMut(Flow) -> Flow + Send> {
        Box::new(|f| f)
    }

    fn flow(&mut self, _file: usize, flow: Flow) -> anyhow::Result<()> {
        self.raw.push(flow);
        Ok(())
    }

    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()> {
        let raw = std::mem::take(&mut self.raw);
        let (name, path) = (self.names[file].clone(), self.paths[file].clone());
        self.finish(
            &name,
            raw,
            &path,
            true,
            summary.error.map(|e| e.to_string()),
        )
    }
}

/// Reads every capture of `corpus` and aligns it with `tools`, as
/// [`crate::align::align_corpus`] does, keeping the flows.
pub fn load(
    corpus: &Corpus,
    tools: &[Tool],
    registry: &NameRegistry,
    run: &RunOptions,
) -> anyhow::Result<Loaded> {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    let mut absent = Vec::new();
    for c in corpus.captures()? {
        match corpus.capture_path(&c) {
            Some(p) => {
                names.push(c);
                paths.push(p.to_string_lossy().into_owned());
            }
            None => absent.push(c),
        }
    }
    let mut sink = Sink {
        corpus,
        registry,
        tools,
        names: &names,
        paths: &paths,
        raw: Vec::new(),
        out: Vec::new(),
    };
    run_files(&paths, run, &mut sink)?;
    for c in absent {
        sink.finish(&c, Vec::new(), "", false, None)?;
    }
    Ok(Loaded {
        tools: tools.to_vec(),
        captures: sink.out,
    })
}
