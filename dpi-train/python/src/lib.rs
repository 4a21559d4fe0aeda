//! The native part of the `dpi` Python package: the `dpi` subcommands run
//! from a word list (`run`), and a classifier a program feeds frame by
//! frame (`Classifier`). The Python layer (`python/dpi/__init__.py`)
//! turns their outputs into dicts and Arrow tables.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dpi_core::matcher::Scratch;
use dpi_core::{Flow, FlowConfig, FlowMeter, LinkType, Timestamp};
use dpi_train::commands;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// The subcommands the package wraps.
#[derive(Parser)]
#[command(name = "dpi")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Classify(commands::classify::ClassifyArgs),
    Extract(commands::extract::ExtractArgs),
    Eval(commands::eval::EvalArgs),
    Train(commands::train::TrainArgs),
}

/// Runs `dpi ARGS...` (classify, extract, eval or train) with the GIL
/// released; returns the exit status (0 or 1). A wrong command line raises
/// ValueError with clap's message; a failed run raises RuntimeError.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<i32> {
    let cli = Cli::try_parse_from(std::iter::once("dpi".to_string()).chain(args))
        .map_err(|e| PyValueError::new_err(e.render().to_string()))?;
    let result = py.allow_threads(|| match cli.command {
        Command::Classify(a) => commands::classify::run(a),
        Command::Extract(a) => commands::extract::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Train(a) => commands::train::run(a),
    });
    match result {
        Ok(code) if code == ExitCode::SUCCESS => Ok(0),
        Ok(_) => Ok(1),
        Err(e) => Err(PyRuntimeError::new_err(format!("{e:#}"))),
    }
}

/// Labels the flows of frames handed in one by one.
#[pyclass(unsendable)]
struct Classifier {
    meter: FlowMeter,
    classifier: dpi_core::Classifier,
    scratch: Scratch,
    link: LinkType,
    bytes: usize,
    metadata: bool,
    source: String,
    /// Flows finished by the last call, waiting to be labelled.
    done: Vec<Flow>,
}

impl Classifier {
    fn label_done(&mut self) -> PyResult<Vec<String>> {
        let mut out = Vec::with_capacity(self.done.len());
        for mut flow in self.done.drain(..) {
            let (c, meta) = commands::classify::label_flow(
                &self.classifier,
                &mut flow,
                self.bytes,
                self.metadata,
                &mut self.scratch,
            );
            let line = commands::classify::json_line(&self.source, &flow, &c, &meta, false)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            out.push(String::from_utf8_lossy(&line).trim_end().to_string());
        }
        Ok(out)
    }
}

#[pymethods]
impl Classifier {
    /// A classifier over the signature files `sig` (the built-in set when
    /// empty), for frames of link type `link_type` (pcap's numbers: 1
    /// Ethernet, 101 raw IP, ...).
    #[new]
    #[pyo3(signature = (sig = Vec::new(), link_type = 1, bytes = 512, handshake_bytes = 4096, metadata = true, source = String::from("-")))]
    fn new(
        sig: Vec<String>,
        link_type: u32,
        bytes: usize,
        handshake_bytes: usize,
        metadata: bool,
        source: String,
    ) -> PyResult<Self> {
        let paths: Vec<std::path::PathBuf> = sig.into_iter().map(Into::into).collect();
        let set = commands::classify::load_signatures(&paths)
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        let classifier =
            dpi_core::Classifier::new(&set).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let cfg = FlowConfig {
            payload_bytes: bytes,
            handshake_bytes: if metadata { handshake_bytes } else { 0 },
            ..FlowConfig::default()
        };
        Ok(Classifier {
            meter: FlowMeter::new(cfg),
            classifier,
            scratch: Scratch::new(),
            link: LinkType(link_type),
            bytes,
            metadata,
            source,
            done: Vec::new(),
        })
    }

    /// Hands in one frame captured at `timestamp_ns` (Unix nanoseconds);
    /// returns the JSON lines of the flows it finished (by timeouts).
    #[pyo3(signature = (frame, timestamp_ns, wire_length = None))]
    fn push(
        &mut self,
        frame: &[u8],
        timestamp_ns: u64,
        wire_length: Option<u32>,
    ) -> PyResult<Vec<String>> {
        let ts = Timestamp::from_nanos(timestamp_ns);
        let len = wire_length.unwrap_or(u32::try_from(frame.len()).unwrap_or(u32::MAX));
        let done = &mut self.done;
        self.meter
            .push_frame(self.link, ts, frame, len, &mut |f| done.push(f));
        self.label_done()
    }

    /// Finishes every live flow; returns their JSON lines.
    fn flush(&mut self) -> PyResult<Vec<String>> {
        let done = &mut self.done;
        self.meter.flush(&mut |f| done.push(f));
        self.label_done()
    }
}

#[pymodule]
fn _dpi(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_class::<Classifier>()?;
    Ok(())
}
