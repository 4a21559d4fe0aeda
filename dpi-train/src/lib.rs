//! The library behind the `dpi` command: flow records, reference labels,
//! alignment, training and evaluation.
#![forbid(unsafe_code)]
pub mod align;
pub mod eval;
pub mod labels;
pub mod record;
pub mod runner;
pub mod commands;
