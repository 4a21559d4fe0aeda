//! Which threads `run_files` runs a single capture's workers on: a sink
//! that says sharding is not worth it (`extract`, `align`) keeps one
//! capture on the calling thread when the thread count is left to the
//! runner, and is sharded when a count is given; a sink that labels flows
//! is sharded either way. The flows handed to the sink are the same in
//! every case.

use std::path::Path;
use std::thread::ThreadId;

use dpi_core::{FileSummary, Flow, FlowConfig};
use dpi_train::runner::{run_files, FlowSink, RunOptions};

/// Records the thread each worker call ran on, and the flows' client ports.
struct Probe {
    worth: bool,
    threads: Vec<ThreadId>,
    ports: Vec<u16>,
}

impl FlowSink for Probe {
    type Item = (ThreadId, u16);

    fn worker(&self, _file: usize) -> Box<dyn FnMut(Flow) -> (ThreadId, u16) + Send> {
        Box::new(|f| (std::thread::current().id(), f.client_port))
    }

    fn flow(&mut self, _file: usize, (t, port): (ThreadId, u16)) -> anyhow::Result<()> {
        self.threads.push(t);
        self.ports.push(port);
        Ok(())
    }

    fn file_done(&mut self, _file: usize, summary: FileSummary) -> anyhow::Result<()> {
        assert!(summary.error.is_none(), "{:?}", summary.error);
        Ok(())
    }

    fn worth_sharding(&self) -> bool {
        self.worth
    }
}

fn run(worth: bool, threads: usize) -> Probe {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/samples/web.pcap");
    let mut sink = Probe {
        worth,
        threads: Vec::new(),
        ports: Vec::new(),
    };
    let opts = RunOptions {
        flow: FlowConfig::default(),
        threads,
        progress: false,
    };
    run_files(&[capture.display().to_string()], &opts, &mut sink).unwrap();
    assert!(sink.ports.len() > 4, "too few flows: {}", sink.ports.len());
    sink
}

#[test]
fn a_sink_not_worth_sharding_reads_one_capture_on_the_calling_thread() {
    let me = std::thread::current().id();
    let one = run(false, 0);
    assert!(one.threads.iter().all(|&t| t == me));
    // Asked for two threads, it is sharded all the same: some flows are
    // made in the worker thread.
    let two = run(false, 2);
    assert!(two.threads.iter().any(|&t| t != me));
    let labelled = run(true, 2);
    assert!(labelled.threads.iter().any(|&t| t != me));
    assert_eq!(one.ports, two.ports);
    assert_eq!(one.ports, labelled.ports);
    // Left to the runner, a sink worth sharding is sharded when the machine
    // has several cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let default = run(true, 0);
    assert_eq!(default.threads.iter().any(|&t| t != me), cores > 1);
    assert_eq!(one.ports, default.ports);
}
