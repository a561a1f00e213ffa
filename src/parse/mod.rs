//! The two exposition parsers: Prometheus text 0.0.4 and OpenMetrics 1.0, each turning a body
//! into families (`crate::model`) handed over one at a time.

pub mod openmetrics;
pub mod prom;
