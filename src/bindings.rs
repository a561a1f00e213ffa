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
use crate::scrape::{choose_format, decode_utf8, scrape, Format};
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
    Ok(ScraperConfig {
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
}

/// The Rust half of one OpenMetrics scraper.
#[pyclass(module = "datadog_checks.nvidia_nim._core")]
pub struct Scraper {
    config: ScraperConfig,
    transformer: FamilyTransformer,
    static_tags: Vec<Py<PyString>>,
}

impl Scraper {
    fn tag_list<'py>(&self, py: Python<'py>, tags: &TagList) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for t in &tags.labels {
            list.append(t.as_str())?;
        }
        if tags.with_static {
            for t in &self.static_tags {
                list.append(t.bind(py))?;
            }
        }
        if let Some(s) = &tags.suffix {
            list.append(s.as_str())?;
        }
        Ok(list)
    }

    fn record<'py>(&self, py: Python<'py>, record: &Record) -> PyResult<Bound<'py, PyAny>> {
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
                (code, name.as_ref(), *value, tags, hostname.as_str())
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
            })
        })
    }

    /// Parses and transforms one response body. Returns `(records, error)`, where `error` is
    /// `None`, `(exception class name, message)`, or an exception the resolver raised; records
    /// made before an error are kept.
    #[pyo3(signature = (body, content_type, use_latest_spec, resolver))]
    fn scrape<'py>(
        &mut self,
        py: Python<'py>,
        body: &[u8],
        content_type: &str,
        use_latest_spec: bool,
        resolver: &Bound<'py, PyAny>,
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
            );
            let list = PyList::empty(py);
            for record in &output.records {
                list.append(self.record(py, record)?)?;
            }
            // A resolver exception ends the scrape like a parse error, after the records before it.
            let error = match (py_resolver.error.take(), output.error) {
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
