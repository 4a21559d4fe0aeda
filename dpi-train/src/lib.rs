//! The library behind the `dpi` command: flow records, reference labels,
//! alignment, training and evaluation.
#![forbid(unsafe_code)]
pub mod align;
pub mod commands;
pub mod default_sigs;
pub mod eval;
pub mod ipfix;
pub mod json_line;
pub mod labels;
pub mod live;
pub mod output;
pub mod record;
pub mod runner;
pub mod sigfiles;
pub mod train;
