//! Benchmarks of dpi; see `benches/`.
