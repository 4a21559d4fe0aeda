//! The subcommands of `dpi`.

pub mod align;
pub mod classify;
pub mod common;
pub mod convert;
pub mod eval;
pub mod extract;
pub mod label;
pub mod train;
