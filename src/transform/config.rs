//! The scraper options the Rust core applies per sample, already validated by the Python side
//! (the bindings read them from the options dict).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use super::info::InfoGauges;
use super::route::LabelRoute;
use super::share::ShareConfig;
use super::supersede::Superseded;
use crate::lex::LineFilter;
use crate::number::int::BigInt;

/// How histogram families are submitted (the resolved `collect_histogram_buckets`,
/// `non_cumulative_histogram_buckets`, `histogram_buckets_as_distributions`,
/// `collect_counters_with_distributions` and `collect_histograms_as_distributions` flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramOptions {
    pub collect_buckets: bool,
    pub non_cumulative: bool,
    pub distributions: bool,
    pub counters_with_distributions: bool,
    /// `collect_histograms_as_distributions`: distributions without the bound tags.
    pub omit_bound_tags: bool,
    /// Tag prefixes removed in that mode (`upper_bound:` or its rename, and `lower_bound:`).
    pub bound_tag_prefixes: Vec<String>,
}

/// What a family is turned into, decided once per family by the resolver.
#[derive(Clone, Debug, PartialEq)]
pub enum TransformKind {
    Gauge,
    Counter,
    Histogram,
    Summary,
    TimeElapsed,
    Rate,
    CounterGauge,
    /// `rate(value / scale * 100)`.
    TemporalPercent(f64),
    /// Integer sample value → service check status (0 OK .. 3 UNKNOWN); anything unmapped is 3.
    ServiceCheck(HashMap<BigInt, u8>),
    /// The value of this label becomes the metadata value.
    Metadata(String),
}

/// What the resolver decided for one family: the kind of transformer and the Datadog name
/// (without namespace).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSpec {
    pub kind: TransformKind,
    pub name: String,
    /// An opaque id the Python side uses to find per-metric modifiers (metadata options).
    pub id: u32,
}

/// One `exclude_metrics_by_labels` entry: the label drops the sample always, or when its value
/// matches (the bindings search it with the Python pattern the stock check compiles, so that
/// every `re` construct means what it means there).
#[derive(Clone)]
pub enum LabelExcluder {
    Always,
    Matcher(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl LabelExcluder {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            LabelExcluder::Always => true,
            LabelExcluder::Matcher(matches) => matches(value),
        }
    }
}

impl fmt::Debug for LabelExcluder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelExcluder::Always => f.write_str("Always"),
            LabelExcluder::Matcher(_) => f.write_str("Matcher"),
        }
    }
}

/// The `latency_percentiles` option, validated: which quantiles, under which name suffixes, for
/// which histograms (Datadog names, after the metric map).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PercentileConfig {
    /// `(q, suffix)`, `0 < q < 1`, e.g. `(0.99, "p99")`.
    pub quantiles: Vec<(f64, String)>,
    /// Datadog names of the histograms that get estimates.
    pub histograms: Vec<String>,
    /// `latency_percentiles_by`: the labels a series is grouped by; `None` groups by every label
    /// but the engine-rank ones (src/percentiles.rs).
    pub by_labels: Option<Vec<String>>,
}

impl PercentileConfig {
    pub fn is_enabled(&self) -> bool {
        !self.quantiles.is_empty() && !self.histograms.is_empty()
    }
}

/// Per-sample options of one scraper.
#[derive(Clone, Debug, Default)]
pub struct ScraperConfig {
    pub raw_metric_prefix: String,
    pub exclude_by_labels: HashMap<String, LabelExcluder>,
    pub exclude_labels: HashSet<String>,
    pub include_labels: HashSet<String>,
    pub rename_labels: HashMap<String, String>,
    /// Instance tags (after `ignore_tags`) and `endpoint:<url>`, appended to every sample's tags.
    pub static_tags: Vec<String>,
    pub hostname_label: String,
    /// Contains `<HOSTNAME>`; only the first occurrence is replaced.
    pub hostname_format: Option<String>,
    pub histogram: HistogramOptions,
    pub share: ShareConfig,
    /// `latency_percentiles` (src/percentiles.rs).
    pub percentiles: PercentileConfig,
    /// `raw_line_filters`: the lines dropped before parsing.
    pub raw_line_filter: Option<LineFilter>,
    /// Label routes by transformer id (`route`).
    pub routes: HashMap<u32, Arc<LabelRoute>>,
    /// Old families dropped when their current family is in the body (`supersede`).
    pub superseded: Superseded,
    /// Info families sent as gauges, by transformer id (`info`).
    pub info_gauges: HashMap<u32, Arc<InfoGauges>>,
}

impl ScraperConfig {
    /// The stock scraper's defaults (no options set), with the given static tags. The check's
    /// own defaults (its `rename_labels`) are decided by the Python config module alone.
    pub fn with_static_tags(static_tags: Vec<String>) -> Self {
        ScraperConfig {
            static_tags,
            histogram: HistogramOptions {
                collect_buckets: true,
                ..HistogramOptions::default()
            },
            ..ScraperConfig::default()
        }
    }
}
