//! Python bindings (`datadog_checks.nvidia_nim._core`): one `Scraper` per endpoint, one call per
//! scrape. Nothing panics across this boundary: a panic is caught and raised as RuntimeError.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};

use crate::config::{HistogramOptions, LabelExcluder, ScraperConfig, TransformKind, Transformer};
use crate::model::{Family, MetricType, ScrapeError, ScrapeResult};
use crate::scrape::{choose_format, decode_utf8, scrape, FirstScrape, Format};
use crate::share::{ShareConfig, ShareSource};
use crate::transform::{
    BucketRecord, FamilyTransformer, Method, MetricRecord, Record, Resolve, TagList,
};

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

/// The Python resolver's answer as a transformer.
fn convert_transformer(result: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Transformer>>> {
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

/// Resolved families: family type → family name → transformer (or none).
type Resolutions = HashMap<MetricType, HashMap<String, Option<Arc<Transformer>>>>;

/// Families resolved at most; past this the cache starts over.
const RESOLUTIONS_KEPT: usize = 10_000;

/// Asks the Python resolver which transformer a family gets, from a scrape that runs without
/// the GIL: the GIL is taken back only to call the resolver. Its answers are kept across scrapes
/// when `resolutions` is given (they depend on the family name and type alone, unless telemetry
/// counts every call).
struct PyResolver<'a> {
    callable: &'a Py<PyAny>,
    resolutions: Option<&'a mut Resolutions>,
    error: Option<PyErr>,
}

impl PyResolver<'_> {
    fn failed(&mut self, e: PyErr) -> ScrapeError {
        self.error = Some(e);
        ScrapeError::value("resolver failed")
    }
}

impl Resolve for PyResolver<'_> {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>> {
        let name: &str = &family.name;
        if let Some(hit) = self
            .resolutions
            .as_ref()
            .and_then(|r| r.get(&family.typ))
            .and_then(|r| r.get(name))
        {
            return Ok(hit.clone());
        }
        let callable = self.callable;
        let outcome = Python::attach(|py| {
            callable
                .bind(py)
                .call1((name, family.typ.as_str(), family.samples.len()))
                .and_then(|r| convert_transformer(&r))
        });
        let resolved = outcome.map_err(|e| self.failed(e))?;
        if let Some(resolutions) = self.resolutions.as_mut() {
            if resolutions.values().map(HashMap::len).sum::<usize>() >= RESOLUTIONS_KEPT {
                resolutions.clear();
            }
            resolutions
                .entry(family.typ)
                .or_default()
                .insert(name.to_string(), resolved.clone());
        }
        Ok(resolved)
    }

    fn is_excluded(&mut self, name: &str) -> ScrapeResult<bool> {
        let callable = self.callable;
        let outcome = Python::attach(|py| {
            callable
                .bind(py)
                .call_method1("is_excluded", (name,))
                .and_then(|r| r.is_truthy())
        });
        outcome.map_err(|e| self.failed(e))
    }
}

/// The largest record vector (in records) kept from one scrape to the next.
const RECORDS_KEPT: usize = 1 << 20;

/// The largest body buffer kept from one scrape to the next.
const BODY_BUFFER_KEPT: usize = 32 << 20;

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
    /// Python objects of cached series emissions, by slot (see `series`), for the cache
    /// generation `slots_generation`.
    slots: Vec<Option<PySlot>>,
    slots_generation: u64,
    /// The body of the last scrape given in chunks (its capacity is reused).
    body_buffer: Vec<u8>,
    /// Resolver answers, for the resolver object `resolver` (held, so it stays that object).
    resolutions: Resolutions,
    resolver: Option<Py<PyAny>>,
    last_processed: usize,
}

/// The Python objects one series-cache slot submits with: built once, reused every scrape.
struct PySlot {
    method: Method,
    /// The Datadog name (without namespace).
    name: Py<PyString>,
    tags: Py<PyList>,
    hostname: Py<PyString>,
    /// The namespaced name (None: dropped by `metric_patterns`), once asked for.
    direct_name: Option<Option<Py<PyString>>>,
    /// The last value submitted, and its float object.
    last_value: Option<(u64, Py<PyFloat>)>,
}

// `PyObject_Vectorcall` is in the stable ABI from Python 3.12 (the Agent embeds 3.12 and 3.13)
// and exported by libpython since 3.9, so an abi3 build for 3.11 can call it too. pyo3's own
// calls from an abi3-py311 build go through an argument tuple instead; one submission per metric
// makes the difference worth having.
extern "C" {
    fn PyObject_Vectorcall(
        callable: *mut pyo3::ffi::PyObject,
        args: *mut *mut pyo3::ffi::PyObject,
        nargsf: usize,
        kwnames: *mut pyo3::ffi::PyObject,
    ) -> *mut pyo3::ffi::PyObject;
}

/// Positional arguments at most, for `vectorcall`.
const MAX_VECTORCALL_ARGS: usize = 8;

/// `callable(*args)` through the vectorcall protocol. `args` are borrowed references that the
/// caller keeps alive for the duration of the call.
fn vectorcall<'py>(
    py: Python<'py>,
    callable: &Bound<'py, PyAny>,
    args: &[*mut pyo3::ffi::PyObject],
) -> PyResult<Bound<'py, PyAny>> {
    let n = args.len();
    if n > MAX_VECTORCALL_ARGS {
        return Err(PyRuntimeError::new_err("too many arguments for vectorcall"));
    }
    // slot 0 stays free so that a bound method can put `self` there without a copy
    let mut slots = [std::ptr::null_mut(); MAX_VECTORCALL_ARGS + 1];
    for (slot, arg) in slots.iter_mut().skip(1).zip(args) {
        *slot = *arg;
    }
    const ARGUMENTS_OFFSET: usize = 1 << (usize::BITS - 1);
    // SAFETY: `callable` and every argument are live objects (borrowed from bound references the
    // caller holds); the array outlives the call; the result is a new reference or NULL with the
    // error set, which `from_owned_ptr_or_err` takes over.
    unsafe {
        let result = PyObject_Vectorcall(
            callable.as_ptr(),
            slots.as_mut_ptr().add(1),
            n | ARGUMENTS_OFFSET,
            std::ptr::null_mut(),
        );
        Bound::from_owned_ptr_or_err(py, result)
    }
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

    /// The Python objects of a cached series slot, built the first time the slot is seen.
    fn slot(&mut self, py: Python<'_>, slot: u32) -> PyResult<&mut PySlot> {
        let index = slot as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, || None);
        }
        if self.slots.get(index).is_some_and(Option::is_none) {
            let emission = self
                .transformer
                .emission(slot)
                .cloned()
                .ok_or_else(|| PyRuntimeError::new_err("series slot missing"))?;
            let built = PySlot {
                method: emission.method,
                tags: self.tag_list(py, &emission.tags)?.unbind(),
                hostname: self.py_str(py, &emission.hostname).unbind(),
                name: PyString::new(py, &emission.name).unbind(),
                direct_name: None,
                last_value: None,
            };
            if let Some(entry) = self.slots.get_mut(index) {
                *entry = Some(built);
            }
        }
        self.slots
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or_else(|| PyRuntimeError::new_err("series slot missing"))
    }

    /// Submits a metric record straight to the aggregator; false when it is not a metric record.
    fn submit_direct<'py>(
        &mut self,
        py: Python<'py>,
        direct: &Direct<'_, 'py>,
        record: &Record,
        flush: Option<bool>,
    ) -> PyResult<bool> {
        let (method, full_name, value, value_object, tags, hostname) = match record {
            Record::Cached { slot, value } => {
                let entry = self.slot(py, *slot)?;
                // a value that did not change since the last scrape reuses its float object
                let value_object = match &entry.last_value {
                    Some((bits, object)) if *bits == value.to_bits() => object.bind(py).clone(),
                    _ => {
                        let object = PyFloat::new(py, *value);
                        entry.last_value = Some((value.to_bits(), object.clone().unbind()));
                        object
                    }
                };
                let known = entry
                    .direct_name
                    .as_ref()
                    .map(|n| n.as_ref().map(|n| n.bind(py).clone()));
                let (method, tags, hostname) = (
                    entry.method,
                    entry.tags.bind(py).clone(),
                    entry.hostname.bind(py).clone(),
                );
                let full_name = match known {
                    Some(n) => n,
                    None => {
                        let raw = entry.name.bind(py).to_str()?.to_owned();
                        let full = self.namespaced(py, direct, &raw)?;
                        self.slot(py, *slot)?.direct_name =
                            Some(full.as_ref().map(|n| n.clone().unbind()));
                        full
                    }
                };
                (
                    method,
                    full_name,
                    *value,
                    Some(value_object),
                    tags,
                    hostname,
                )
            }
            Record::Metric(metric) => {
                let MetricRecord {
                    method,
                    name,
                    value,
                    tags,
                    hostname,
                } = metric.as_ref();
                let full_name = self.namespaced(py, direct, name)?;
                let tags = self.tag_list(py, tags)?;
                let hostname = self.py_str(py, hostname);
                (*method, full_name, *value, None, tags, hostname)
            }
            _ => return Ok(false),
        };
        let Some(full_name) = full_name else {
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
        let code = code.into_pyobject(py)?;
        let value = match value_object {
            Some(v) => v,
            None => PyFloat::new(py, value),
        };
        let flush = PyBool::new(py, flush);
        vectorcall(
            py,
            direct.submit_metric,
            &[
                direct.check.as_ptr(),
                direct.check_id.as_ptr(),
                code.as_ptr(),
                full_name.as_ptr(),
                value.as_ptr(),
                tags.as_ptr(),
                hostname.as_ptr(),
                flush.as_ptr(),
            ],
        )?;
        Ok(true)
    }

    fn record<'py>(
        &mut self,
        py: Python<'py>,
        record: &Record,
        flush: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let code = |method: Method| match method {
            Method::Gauge => REC_GAUGE,
            Method::Rate => REC_RATE,
            Method::MonotonicCount => REC_MONOTONIC_COUNT,
        };
        Ok(match record {
            Record::Cached { slot, value } => {
                let entry = self.slot(py, *slot)?;
                (
                    code(entry.method),
                    entry.name.bind(py).clone(),
                    *value,
                    entry.tags.bind(py).clone(),
                    entry.hostname.bind(py).clone(),
                    flush,
                )
                    .into_pyobject(py)?
                    .into_any()
            }
            Record::Metric(metric) => {
                let MetricRecord {
                    method,
                    name,
                    value,
                    tags,
                    hostname,
                } = metric.as_ref();
                let tags = self.tag_list(py, tags)?;
                let hostname = self.py_str(py, hostname);
                (code(*method), name.as_ref(), *value, tags, hostname, flush)
                    .into_pyobject(py)?
                    .into_any()
            }
            Record::Bucket(bucket) => {
                let BucketRecord {
                    name,
                    value,
                    lower,
                    upper,
                    tags,
                    hostname,
                    multiple,
                } = bucket.as_ref();
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
            Record::ServiceCheck(check) => (
                REC_SERVICE_CHECK,
                check.name.as_ref(),
                check.status,
                check.hostname.as_str(),
            )
                .into_pyobject(py)?
                .into_any(),
            Record::Metadata(m) => (REC_METADATA, m.id, m.name.as_ref(), m.value.as_str())
                .into_pyobject(py)?
                .into_any(),
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
                slots: Vec::new(),
                slots_generation: 0,
                body_buffer: Vec::new(),
                resolutions: HashMap::new(),
                resolver: None,
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
        body: &Bound<'py, PyAny>,
        content_type: &str,
        use_latest_spec: bool,
        resolver: &Bound<'py, PyAny>,
        direct: Option<&Bound<'py, PyTuple>>,
        first_scrape: bool,
        agent_start_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyList>, Option<Bound<'py, PyAny>>)> {
        catch("parsing a scrape", || {
            // one `bytes` is read in place; a list of chunks is copied into the buffer kept
            // between scrapes
            let mut buffer = std::mem::take(&mut self.body_buffer);
            let bytes = match body.cast::<PyBytes>() {
                Ok(b) => b.as_bytes(),
                Err(_) => {
                    buffer.clear();
                    for chunk in body.try_iter()? {
                        buffer.extend_from_slice(chunk?.cast::<PyBytes>()?.as_bytes());
                    }
                    buffer.as_slice()
                }
            };
            let format = choose_format(content_type, use_latest_spec);
            // the resolver's answers are kept while it is the same object and counts nothing
            if !self
                .resolver
                .as_ref()
                .is_some_and(|r| r.bind(py).is(resolver))
            {
                self.resolutions.clear();
                self.resolver = Some(resolver.clone().unbind());
            }
            let telemetry = resolver
                .getattr("telemetry")
                .and_then(|t| t.is_truthy())
                .unwrap_or(true);
            let callable = resolver.clone().unbind();
            let mut py_resolver = PyResolver {
                callable: &callable,
                resolutions: (!telemetry).then_some(&mut self.resolutions),
                error: None,
            };
            let (config, transformer) = (&self.config, &mut self.transformer);
            let first = first_scrape.then_some(FirstScrape { agent_start_time });
            // parsing and transforming need no Python object: other threads run meanwhile
            let output = py.detach(|| {
                let text = decode_utf8(bytes);
                scrape(&text, format, config, &mut py_resolver, transformer, first)
            });
            let py_error = py_resolver.error.take();
            // a buffer is kept for the common sizes; an exceptional body's memory is returned
            if buffer.capacity() <= BODY_BUFFER_KEPT {
                self.body_buffer = buffer;
            }
            self.last_processed = self.transformer.take_processed();
            // slots of an older cache generation no longer match what the core emits (the cache
            // only starts over at the beginning of a scrape)
            if self.slots_generation != self.transformer.series.generation {
                self.slots.clear();
                self.slots_generation = self.transformer.series.generation;
            }
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
            // the record vector's capacity serves the next scrape
            let mut records = output.records;
            if records.capacity() <= RECORDS_KEPT {
                records.clear();
                self.transformer.spare_records = records;
            }
            // A resolver or aggregator exception ends the scrape like a parse error, after the
            // records before it.
            let error = match (submit_error.or(py_error), output.error) {
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
