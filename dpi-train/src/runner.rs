//! Runs captures through dpi-core's flow meter, in parallel over files, and
//! hands the flows to a sink in a deterministic order (the order of the files given).

use std::io::IsTerminal;

use dpi_core::{FileSummary, Flow, FlowConfig, FlowMeter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

/// Receives the flows of each file, file after file in the order given.
pub trait FlowSink {
    /// One finished flow of file `file` (an index into the list of paths).
    fn flow(&mut self, file: usize, flow: Flow) -> anyhow::Result<()>;
    /// File `file` is done; its counters and error, if any.
    fn file_done(&mut self, file: usize, summary: FileSummary) -> anyhow::Result<()>;
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Flow-table settings.
    pub flow: FlowConfig,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar when standard error is a terminal.
    pub progress: bool,
}

/// A progress bar over the total size of `paths`, hidden when standard error
/// is not a terminal or when `enabled` is false.
pub fn progress_bar(paths: &[String], enabled: bool, what: &str) -> ProgressBar {
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let pb = if enabled && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .expect("a fixed, valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

fn one_file(path: &str, cfg: &FlowConfig) -> (Vec<Flow>, FileSummary) {
    let mut meter = FlowMeter::new(cfg.clone());
    let mut flows = Vec::new();
    let summary = meter.read_file(path, &mut |f| flows.push(f));
    meter.flush(&mut |f| flows.push(f));
    (flows, summary)
}

/// Runs every capture of `paths` and feeds `sink`. Each file is its own flow
/// table. One file is streamed straight to the sink; several are read in
/// parallel and handed over in order.
pub fn run_files<S: FlowSink>(
    paths: &[String],
    opts: &RunOptions,
    sink: &mut S,
) -> anyhow::Result<()> {
    let pb = progress_bar(paths, opts.progress, "reading");
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    if threads <= 1 || paths.len() <= 1 {
        for (i, path) in paths.iter().enumerate() {
            let mut meter = FlowMeter::new(opts.flow.clone());
            let mut failed: Option<anyhow::Error> = None;
            let mut emit = |f: Flow| {
                if failed.is_none() {
                    if let Err(e) = sink.flow(i, f) {
                        failed = Some(e);
                    }
                }
            };
            let summary = meter.read_file(path, &mut emit);
            meter.flush(&mut emit);
            if let Some(e) = failed {
                return Err(e);
            }
            sink.file_done(i, summary)?;
            pb.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
        }
        pb.finish_and_clear();
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let batch = threads * 4;
    for (b, chunk) in paths.chunks(batch).enumerate() {
        let results: Vec<(Vec<Flow>, FileSummary)> = pool.install(|| {
            chunk
                .par_iter()
                .map(|p| {
                    let r = one_file(p, &opts.flow);
                    pb.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
                    r
                })
                .collect()
        });
        for (j, (flows, summary)) in results.into_iter().enumerate() {
            let i = b * batch + j;
            for f in flows {
                sink.flow(i, f)?;
            }
            sink.file_done(i, summary)?;
        }
    }
    pb.finish_and_clear();
    Ok(())
}
