//! Rust core of the `nvidia_nim` Datadog Agent check: parses the Prometheus text and OpenMetrics
//! expositions a NIM serves and turns them into the submissions the stock
//! `OpenMetricsBaseCheckV2` would make.
//!
//! The modules form layers, each using only its own layer and the layers before it
//! (tests/test_module_graph.py checks this order, and that no module depends on one that depends
//! on it):
//!
//! 1. `error`, and the Python-compatible primitives `unicode`, `text`, `number`;
//! 2. `lex`: the lexing both parsers share;
//! 3. `model`: the parsed exposition (families, samples, labels);
//! 4. `parse`: the Prometheus and OpenMetrics parsers;
//! 5. `transform`: from families to records (options, tags, per-type transformers, histograms,
//!    shared labels, the series cache);
//! 6. `percentiles`: estimates from the families a transformer has handled;
//! 7. `scrape`: one scrape, from body to records;
//! 8. `bindings`: the Python module, the only user of pyo3.
//!
//! The modules the benchmarks and fuzz targets use are public; the others are crate-private.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub(crate) mod lex;
pub mod model;
pub mod number;
pub mod parse;
pub(crate) mod percentiles;
pub mod scrape;
pub(crate) mod text;
pub mod transform;
pub(crate) mod unicode;

mod bindings;
