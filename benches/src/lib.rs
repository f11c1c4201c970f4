//! Switchyard benchmarks: see `benches/` and BENCHMARKS.md.
