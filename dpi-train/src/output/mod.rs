//! Flow writers beyond JSON lines and CSV: Parquet files
//! ([`parquet`]).

pub mod parquet;
