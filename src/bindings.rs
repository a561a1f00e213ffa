//! Python bindings (`datadog_checks.nvidia_nim._core`): one `Scraper` per endpoint, one call per
//! scrape. Nothing panics across this boundary: a panic is caught and raised as RuntimeError.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::config::{HistogramOptions, LabelExcluder, ScraperConfig, TransformKind, Transformer};
use crate::model::{Family, ScrapeError, ScrapeResult};
use crate::scrape::{choose_format, decode_utf8, scrape, FirstScrape, Format};
use crate::share::{ShareConfig, ShareSource};
use crate::transform::{FamilyTransformer, Method, Record, Resolve, TagList};

/// Record kinds as the Python check reads them (the first tuple item).
const REC_GAUGE: u8 = 0;
const REC_RATE: u8 = 1;
const REC_MONOTONIC_COUNT: u8 = 3;
const REC_BUCKET: u8 = 10;
const REC_SERVICE_CHECK: u8 = 20;
const REC_METADATA: u8 = 30;

fn catch<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(PyRuntimeError::new_err(format!(
                "internal error in the nvidia_nim core while {what}: {detail}"
            )))
        }
    }
}

fn get_opt<'py>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match options.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v)),
        _ => Ok(None),
    }
}

fn get_str(options: &Bound<'_, PyDict>, key: &str) -> PyResult<String> {
    Ok(match get_opt(options, key)? {
        Some(v) => v.extract::<String>()?,
        None => String::new(),
    })
}

fn get_bool(options: &Bound<'_, PyDict>, key: &str, default: bool) -> PyResult<bool> {
    Ok(match get_opt(options, key)? {
        Some(v) => v.is_truthy()?,
        None => default,
    })
}

fn get_strings(options: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<String>> {
    Ok(match get_opt(options, key)? {
        Some(v) => v.extract::<Vec<String>>()?,
        None => Vec::new(),
    })
}

/// Builds the per-sample options from the dict the Python config module prepares.
fn scraper_config(options: &Bound<'_, PyDict>) -> PyResult<ScraperConfig> {
    let mut exclude_by_labels = HashMap::new();
    if let Some(map) = get_opt(options, "exclude_metrics_by_labels")? {
        let map = map
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("exclude_metrics_by_labels must be a mapping"))?;
        for (label, values) in map.iter() {
            let label: String = label.extract()?;
            let excluder = if values.is_instance_of::<pyo3::types::PyBool>() {
                LabelExcluder::Always
            } else {
                let patterns: Vec<String> = values.extract()?;
                let re = regex::Regex::new(&patterns.join("|")).map_err(|e| {
                    PyValueError::new_err(format!(
                        "Label `{label}` of setting `exclude_metrics_by_labels`: {e}"
                    ))
                })?;
                LabelExcluder::Pattern(re)
            };
            exclude_by_labels.insert(label, excluder);
        }
    }
    let rename_labels: HashMap<String, String> = match get_opt(options, "rename_labels")? {
        Some(v) => v.extract()?,
        None => HashMap::new(),
    };
    let hostname_format = get_str(options, "hostname_format")?;
    // share_labels: [(source, labels | None, match | None, values | None)], validated in Python
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
    let share = ShareConfig {
        sources: sources
            .into_iter()
            .map(|(name, labels, matching, values)| {
                let source = ShareSource {
                    labels: labels.map(|l| l.into_iter().collect()),
                    matching: matching.map(|m| m.into_iter().collect()),
                    values: values.map(|v| v.into_iter().collect()),
                };
                (name, source)
            })
            .collect(),
        cache: get_bool(options, "cache_shared_labels", true)?,
        target_info: get_bool(options, "target_info", false)?,
    };
    Ok(ScraperConfig {
        // latency_percentiles (src/percentiles.rs)
        percentiles: crate::percentiles::PercentileConfig::from_options(options)?,
        share,
        raw_metric_prefix: get_str(options, "raw_metric_prefix")?,
        exclude_by_labels,
        exclude_labels: get_strings(options, "exclude_labels")?
            .into_iter()
            .collect::<HashSet<_>>(),
        include_labels: get_strings(options, "include_labels")?
            .into_iter()
            .collect::<HashSet<_>>(),
        rename_labels,
        static_tags: get_strings(options, "static_tags")?,
        hostname_label: get_str(options, "hostname_label")?,
        hostname_format: if hostname_format.is_empty() {
            None
        } else {
            Some(hostname_format)
        },
        histogram: HistogramOptions {
            collect_buckets: get_bool(options, "collect_histogram_buckets", true)?,
            non_cumulative: get_bool(options, "non_cumulative_histogram_buckets", false)?,
            distributions: get_bool(options, "histogram_buckets_as_distributions", false)?,
            counters_with_distributions: get_bool(
                options,
                "collect_counters_with_distributions",
                false,
            )?,
            omit_bound_tags: get_bool(options, "collect_histograms_as_distributions", false)?,
            bound_tag_prefixes: get_strings(options, "histogram_bound_tag_prefixes")?,
        },
    })
}

/// Asks the Python resolver which transformer a family gets.
struct PyResolver<'a, 'py> {
    callable: &'a Bound<'py, PyAny>,
    error: Option<PyErr>,
}

impl PyResolver<'_, '_> {
    fn convert(&self, result: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Transformer>>> {
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
            "service_check" => TransformKind::ServiceCheck(arg.extract::<HashMap<i64, u8>>()?),
            "metadata" => TransformKind::Metadata(arg.extract()?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown transformer kind `{other}`"
                )))
            }
        };
        Ok(Some(Arc::new(Transformer { kind, name, id })))
    }
}

impl Resolve for PyResolver<'_, '_> {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>> {
        let outcome = self
            .callable
            .call1((
                family.name.as_ref(),
                family.typ.as_str(),
                family.samples.len(),
            ))
            .and_then(|r| self.convert(&r));
        outcome.map_err(|e| {
            self.error = Some(e);
            ScrapeError::value("resolver failed")
        })
    }

    fn is_excluded(&mut self, name: &str) -> ScrapeResult<bool> {
        let outcome = self
            .callable
            .call_method1("is_excluded", (name,))
            .and_then(|r| r.is_truthy());
        outcome.map_err(|e| {
            self.error = Some(e);
            ScrapeError::value("resolver failed")
        })
    }
}

/// Python strings kept at most (tags, names, hostnames); past this the cache starts over, so that
/// label values that never repeat cannot grow it without bound.
const STRING_CACHE_LIMIT: usize = 200_000;

/// Where metric records go in direct mode: `submit_metric(check, check_id, type, name, value,
/// tags, hostname, flush_first_value)` (the Agent's aggregator), with names namespaced and
/// filtered by the `namespaced(name) -> str | None` callable (cached per name).
struct Direct<'a, 'py> {
    submit_metric: &'a Bound<'py, PyAny>,
    check: &'a Bound<'py, PyAny>,
    check_id: &'a Bound<'py, PyAny>,
    namespaced: &'a Bound<'py, PyAny>,
    flush_first_value: bool,
}

/// The Rust half of one OpenMetrics scraper.
#[pyclass(module = "datadog_checks.nvidia_nim._core")]
pub struct Scraper {
    config: ScraperConfig,
    transformer: FamilyTransformer,
    static_tags: Vec<Py<PyString>>,
    /// Python strings of tags and hostnames, reused across records and scrapes.
    strings: HashMap<String, Py<PyString>>,
    /// Datadog name → namespaced Python name, or None when `metric_patterns` drops it.
    names: HashMap<String, Option<Py<PyString>>>,
    last_processed: usize,
}

impl Scraper {
    fn py_str<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if let Some(p) = self.strings.get(s) {
            return p.bind(py).clone();
        }
        if self.strings.len() >= STRING_CACHE_LIMIT {
            self.strings.clear();
        }
        let p = PyString::new(py, s);
        self.strings.insert(s.to_string(), p.clone().unbind());
        p
    }

    fn namespaced<'py>(
        &mut self,
        py: Python<'py>,
        direct: &Direct<'_, 'py>,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        if let Some(n) = self.names.get(name) {
            return Ok(n.as_ref().map(|p| p.bind(py).clone()));
        }
        let result = direct.namespaced.call1((name,))?;
        let full = if result.is_none() {
            None
        } else {
            Some(result.cast_into::<PyString>()?)
        };
        self.names
            .insert(name.to_string(), full.as_ref().map(|p| p.clone().unbind()));
        Ok(full)
    }

    fn tag_list<'py>(&mut self, py: Python<'py>, tags: &TagList) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for t in &tags.labels {
            list.append(self.py_str(py, t))?;
        }
        if tags.with_static {
            for t in &self.static_tags {
                list.append(t.bind(py))?;
            }
        }
        if let Some(s) = &tags.suffix {
            list.append(self.py_str(py, s))?;
        }
        Ok(list)
    }

    /// Submits a metric record straight to the aggregator; false when it is not a metric record.
    fn submit_direct<'py>(
        &mut self,
        py: Python<'py>,
        direct: &Direct<'_, 'py>,
        record: &Record,
        flush: Option<bool>,
    ) -> PyResult<bool> {
        let Record::Metric {
            method,
            name,
            value,
            tags,
            hostname,
        } = record
        else {
            return Ok(false);
        };
        let Some(full_name) = self.namespaced(py, direct, name)? else {
            return Ok(true);
        };
        let (code, flush) = match method {
            Method::Gauge => (REC_GAUGE, false),
            Method::Rate => (REC_RATE, false),
            Method::MonotonicCount => (
                REC_MONOTONIC_COUNT,
                flush.unwrap_or(direct.flush_first_value),
            ),
        };
        let tags = self.tag_list(py, tags)?;
        let hostname = self.py_str(py, hostname);
        direct.submit_metric.call1((
            direct.check,
            direct.check_id,
            code,
            full_name,
            *value,
            tags,
            hostname,
            flush,
        ))?;
        Ok(true)
    }

    fn record<'py>(
        &mut self,
        py: Python<'py>,
        record: &Record,
        flush: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match record {
            Record::Metric {
                method,
                name,
                value,
                tags,
                hostname,
            } => {
                let code = match method {
                    Method::Gauge => REC_GAUGE,
                    Method::Rate => REC_RATE,
                    Method::MonotonicCount => REC_MONOTONIC_COUNT,
                };
                let tags = self.tag_list(py, tags)?;
                let hostname = self.py_str(py, hostname);
                (code, name.as_ref(), *value, tags, hostname, flush)
                    .into_pyobject(py)?
                    .into_any()
            }
            Record::Bucket {
                name,
                value,
                lower,
                upper,
                tags,
                hostname,
                multiple,
            } => {
                let tags = self.tag_list(py, tags)?;
                (
                    REC_BUCKET,
                    name.as_ref(),
                    *value,
                    *lower,
                    *upper,
                    tags,
                    hostname.as_str(),
                    *multiple,
                    flush,
                )
                    .into_pyobject(py)?
                    .into_any()
            }
            Record::ServiceCheck {
                name,
                status,
                hostname,
            } => (REC_SERVICE_CHECK, name.as_ref(), *status, hostname.as_str())
                .into_pyobject(py)?
                .into_any(),
            Record::Metadata { id, name, value } => {
                (REC_METADATA, *id, name.as_ref(), value.as_str())
                    .into_pyobject(py)?
                    .into_any()
            }
        })
    }
}

#[pymethods]
impl Scraper {
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        catch("reading the scraper options", || {
            let config = scraper_config(options)?;
            let static_tags = config
                .static_tags
                .iter()
                .map(|t| PyString::new(py, t).unbind())
                .collect();
            Ok(Scraper {
                config,
                transformer: FamilyTransformer::new(),
                static_tags,
                strings: HashMap::new(),
                names: HashMap::new(),
                last_processed: 0,
            })
        })
    }

    /// Samples handed to a transformer during the last scrape (for `telemetry`).
    #[getter]
    fn processed_samples(&self) -> usize {
        self.last_processed
    }

    /// Parses and transforms one response body. Returns `(records, error)`, where `error` is
    /// `None`, `(exception class name, message)`, or an exception the resolver or the aggregator
    /// raised; records made before an error are kept.
    ///
    /// With `direct = (submit_metric, check, check_id, namespaced, flush_first_value)`, gauge,
    /// rate and monotonic_count records are submitted here, straight to the aggregator, and only
    /// the other records are returned.
    ///
    /// With `first_scrape` (`use_process_start_time` before any successful scrape), counter,
    /// histogram and summary families are held to the end; their monotonic and bucket records
    /// carry their own `flush_first_value` (decided from `agent_start_time`) as a last item,
    /// which is `None` on every other record.
    #[pyo3(signature = (body, content_type, use_latest_spec, resolver, direct=None, first_scrape=false, agent_start_time=None))]
    #[allow(clippy::too_many_arguments)]
    fn scrape<'py>(
        &mut self,
        py: Python<'py>,
        body: &[u8],
        content_type: &str,
        use_latest_spec: bool,
        resolver: &Bound<'py, PyAny>,
        direct: Option<&Bound<'py, PyTuple>>,
        first_scrape: bool,
        agent_start_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyList>, Option<Bound<'py, PyAny>>)> {
        catch("parsing a scrape", || {
            let text = decode_utf8(body);
            let format = choose_format(content_type, use_latest_spec);
            let mut py_resolver = PyResolver {
                callable: resolver,
                error: None,
            };
            let output = scrape(
                &text,
                format,
                &self.config,
                &mut py_resolver,
                &mut self.transformer,
                first_scrape.then_some(FirstScrape { agent_start_time }),
            );
            self.last_processed = self.transformer.take_processed();
            let direct_items = match direct {
                Some(t) => Some((
                    t.get_item(0)?,
                    t.get_item(1)?,
                    t.get_item(2)?,
                    t.get_item(3)?,
                    t.get_item(4)?.is_truthy()?,
                )),
                None => None,
            };
            let direct = direct_items.as_ref().map(|(s, c, i, n, f)| Direct {
                submit_metric: s,
                check: c,
                check_id: i,
                namespaced: n,
                flush_first_value: *f,
            });
            let list = PyList::empty(py);
            let mut submit_error = None;
            for (index, record) in output.records.iter().enumerate() {
                let flush = match output.held_start {
                    Some(start) if index >= start => Some(output.held_flush),
                    _ => None,
                };
                if let Some(d) = &direct {
                    match self.submit_direct(py, d, record, flush) {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(e) => {
                            submit_error = Some(e);
                            break;
                        }
                    }
                }
                list.append(self.record(py, record, flush)?)?;
            }
            // A resolver or aggregator exception ends the scrape like a parse error, after the
            // records before it.
            let error = match (submit_error.or(py_resolver.error.take()), output.error) {
                (Some(e), _) => Some(e.into_value(py).into_bound(py).into_any()),
                (None, Some(e)) => Some((e.kind.as_str(), e.message).into_pyobject(py)?.into_any()),
                (None, None) => None,
            };
            Ok((list, error))
        })
    }
}

/// `str(float(s) or 0)`, the canonical bound string (exposed for property tests).
#[pyfunction]
fn canonical_number(s: &str) -> PyResult<String> {
    crate::text::canonical_number(s).map_err(PyValueError::new_err)
}

/// Which parser a Content-Type selects: `"openmetrics"` or `"prometheus"`.
#[pyfunction]
fn format_for(content_type: &str, use_latest_spec: bool) -> &'static str {
    match choose_format(content_type, use_latest_spec) {
        Format::OpenMetrics => "openmetrics",
        Format::Prometheus => "prometheus",
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scraper>()?;
    m.add_function(wrap_pyfunction!(canonical_number, m)?)?;
    m.add_function(wrap_pyfunction!(format_for, m)?)?;
    Ok(())
}
