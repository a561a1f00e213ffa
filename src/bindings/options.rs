//! Reading the options dict the Python config module prepares, and the resolver's answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::lex::{LineFilter, TextPredicate};
use crate::number::int::BigInt;
use crate::transform::config::{
    HistogramOptions, LabelExcluder, MetricSpec, PercentileConfig, ScraperConfig, TransformKind,
};
use crate::transform::share::{ShareConfig, ShareSource};

/// `options[key]` when it is set and not `None`.
fn get_opt<'py>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match options.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// `options[key]`, which the Python config module always sets (it decides the defaults).
fn required<'py>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyAny>> {
    options
        .get_item(key)?
        .ok_or_else(|| PyTypeError::new_err(format!("missing scraper option `{key}`")))
}

fn get_str(options: &Bound<'_, PyDict>, key: &str) -> PyResult<String> {
    required(options, key)?.extract()
}

fn get_strings(options: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<String>> {
    required(options, key)?.extract()
}

fn required_bool(options: &Bound<'_, PyDict>, key: &str) -> PyResult<bool> {
    required(options, key)?.is_truthy()
}

/// Builds the per-sample options from the dict the Python config module prepares.
pub(super) fn scraper_config(options: &Bound<'_, PyDict>) -> PyResult<ScraperConfig> {
    let hostname_format = get_str(options, "hostname_format")?;
    Ok(ScraperConfig {
        routes: super::routes::label_routes(get_opt(options, "label_routes")?)?,
        superseded: super::routes::superseded(get_opt(options, "superseded")?)?,
        info_gauges: super::routes::info_gauges(get_opt(options, "info_gauges")?)?,
        percentiles: percentile_config(options)?,
        share: share_config(options)?,
        raw_metric_prefix: get_str(options, "raw_metric_prefix")?,
        exclude_by_labels: exclude_by_labels(options)?,
        exclude_labels: get_strings(options, "exclude_labels")?
            .into_iter()
            .collect::<HashSet<_>>(),
        include_labels: get_strings(options, "include_labels")?
            .into_iter()
            .collect::<HashSet<_>>(),
        rename_labels: match get_opt(options, "rename_labels")? {
            Some(v) => v.extract()?,
            None => HashMap::new(),
        },
        static_tags: get_strings(options, "static_tags")?,
        hostname_label: get_str(options, "hostname_label")?,
        hostname_format: (!hostname_format.is_empty()).then_some(hostname_format),
        histogram: histogram_options(options)?,
        raw_line_filter: raw_line_filter(options)?,
    })
}

/// A compiled Python pattern's `search` as a yes/no question about a text (an exception is a no).
fn searcher(pattern: &Bound<'_, PyAny>) -> PyResult<TextPredicate> {
    let search = pattern.getattr("search")?.unbind();
    Ok(Arc::new(move |text: &str| {
        Python::attach(|py| {
            search
                .bind(py)
                .call1((text,))
                .is_ok_and(|found| !found.is_none())
        })
    }))
}

/// `exclude_metrics_by_labels`: label → `True`, or the compiled Python pattern
/// (`re.compile('|'.join(values))`) its values are searched with.
fn exclude_by_labels(options: &Bound<'_, PyDict>) -> PyResult<HashMap<String, LabelExcluder>> {
    let mut excluders = HashMap::new();
    let Some(map) = get_opt(options, "exclude_metrics_by_labels")? else {
        return Ok(excluders);
    };
    let map = map
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("exclude_metrics_by_labels must be a mapping"))?;
    for (label, values) in map.iter() {
        let label: String = label.extract()?;
        let excluder = if values.is_instance_of::<pyo3::types::PyBool>() {
            LabelExcluder::Always
        } else {
            LabelExcluder::Matcher(searcher(&values)?)
        };
        excluders.insert(label, excluder);
    }
    Ok(excluders)
}

/// `raw_line_filter`: None, or the compiled Python pattern of `raw_line_filters`.
fn raw_line_filter(options: &Bound<'_, PyDict>) -> PyResult<Option<LineFilter>> {
    match get_opt(options, "raw_line_filter")? {
        Some(pattern) => Ok(Some(LineFilter(searcher(&pattern)?))),
        None => Ok(None),
    }
}

/// `share_labels`, `cache_shared_labels` and `target_info`.
fn share_config(options: &Bound<'_, PyDict>) -> PyResult<ShareConfig> {
    // [(source, labels | None, match | None, values | None)], validated in Python
    type SourceTuple = (
        String,
        Option<Vec<String>>,
        Option<Vec<String>>,
        Option<Vec<i64>>,
    );
    let sources: Vec<SourceTuple> = match get_opt(options, "share_labels")? {
        Some(v) => v.extract()?,
        None => Vec::new(),
    };
    let sources = sources
        .into_iter()
        .map(|(name, labels, matching, values)| {
            let source = ShareSource {
                labels: labels.map(|l| l.into_iter().collect()),
                matching: matching.map(|m| m.into_iter().collect()),
                values: values.map(|v| v.into_iter().collect()),
            };
            (name, source)
        })
        .collect();
    Ok(ShareConfig {
        sources,
        cache: required_bool(options, "cache_shared_labels")?,
        target_info: required_bool(options, "target_info")?,
    })
}

/// The histogram options, as the Python config module resolved them from one another.
fn histogram_options(options: &Bound<'_, PyDict>) -> PyResult<HistogramOptions> {
    Ok(HistogramOptions {
        collect_buckets: required_bool(options, "collect_histogram_buckets")?,
        non_cumulative: required_bool(options, "non_cumulative_histogram_buckets")?,
        distributions: required_bool(options, "histogram_buckets_as_distributions")?,
        counters_with_distributions: required_bool(options, "collect_counters_with_distributions")?,
        omit_bound_tags: required_bool(options, "collect_histograms_as_distributions")?,
        bound_tag_prefixes: get_strings(options, "histogram_bound_tag_prefixes")?,
    })
}

/// `options["latency_percentiles"]`: `None`, or `{"quantiles": [(q, suffix), ...], "histograms":
/// [name, ...]}` as the Python config module validated it (src/percentiles.rs).
fn percentile_config(options: &Bound<'_, PyDict>) -> PyResult<PercentileConfig> {
    let Some(value) = get_opt(options, "latency_percentiles")? else {
        return Ok(PercentileConfig::default());
    };
    // the quantiles are checked (0 < q < 1) by the Python module alone
    let quantiles: Vec<(f64, String)> = value.get_item("quantiles")?.extract()?;
    let histograms: Vec<String> = value.get_item("histograms")?.extract()?;
    let by_labels: Option<Vec<String>> = value.get_item("by")?.extract()?;
    Ok(PercentileConfig {
        quantiles,
        histograms,
        by_labels,
    })
}

/// The Python resolver's answer as a transformer.
pub(super) fn convert_transformer(result: &Bound<'_, PyAny>) -> PyResult<Option<Arc<MetricSpec>>> {
    if result.is_none() {
        return Ok(None);
    }
    let tuple = result.cast::<PyTuple>()?;
    let kind: String = tuple.get_item(0)?.extract()?;
    let name: String = tuple.get_item(1)?.extract()?;
    let arg = tuple.get_item(2)?;
    let id: u32 = tuple.get_item(3)?.extract()?;
    let kind = match kind.as_str() {
        "gauge" => TransformKind::Gauge,
        "counter" => TransformKind::Counter,
        "histogram" => TransformKind::Histogram,
        "summary" => TransformKind::Summary,
        "time_elapsed" => TransformKind::TimeElapsed,
        "rate" => TransformKind::Rate,
        "counter_gauge" => TransformKind::CounterGauge,
        "temporal_percent" => TransformKind::TemporalPercent(arg.extract()?),
        "service_check" => TransformKind::ServiceCheck(status_map(&arg)?),
        "metadata" => TransformKind::Metadata(arg.extract()?),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown transformer kind `{other}`"
            )))
        }
    };
    Ok(Some(Arc::new(MetricSpec { kind, name, id })))
}

/// A `service_check` transformer's `status_map` (Python ints → status codes), its keys exact at
/// any size, as the stock check's `int(key)` keeps them.
fn status_map(arg: &Bound<'_, PyAny>) -> PyResult<HashMap<BigInt, u8>> {
    let map = arg
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("status_map must be a mapping"))?;
    let mut statuses = HashMap::with_capacity(map.len());
    for (key, status) in map.iter() {
        let text: String = key.str()?.extract()?;
        let key = BigInt::from_decimal(&text).ok_or_else(|| {
            PyValueError::new_err(format!("status_map key {text} is not an integer"))
        })?;
        statuses.insert(key, status.extract()?);
    }
    Ok(statuses)
}
