//! Rust core of the `nvidia_nim` Datadog Agent check: parses the Prometheus text and OpenMetrics
//! expositions a NIM serves and turns them into the submissions the stock
//! `OpenMetricsBaseCheckV2` would make.

pub mod config;
pub mod error;
pub mod histogram;
pub mod lex;
pub mod model;
pub mod number;
pub mod parse;
pub mod percentiles;
pub mod record;
pub mod scrape;
pub mod series;
pub mod share;
pub mod tags;
pub mod text;
pub mod transform;
pub mod unicode;

mod bindings;
