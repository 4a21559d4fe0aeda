//! The subcommands of `dpi`.

pub mod common;
pub mod extract;
