//! Python bindings (`datadog_checks.nvidia_nim._core`): one `Scraper` per endpoint, one call per
//! scrape. Nothing panics across this boundary: a panic is caught and raised as RuntimeError.

mod options;
mod routes;
mod submit;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::error::{ScrapeError, ScrapeResult};
use crate::model::{Family, MetricType};
use crate::scrape::{
    choose_format, decode_utf8, scrape_streaming, FirstScrape, Format, ScrapeOutput, ScraperState,
};
use crate::transform::config::{MetricSpec, ScraperConfig};
use crate::transform::record::Record;
use crate::transform::{Resolve, Transformer};
use options::{convert_transformer, scraper_config};
use submit::{method_codes, DirectTarget, PyCaches, Submission, RECORD_KINDS};

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

/// Resolved families: family type → family name → transformer (or none).
type Resolutions = HashMap<MetricType, HashMap<String, Option<Arc<MetricSpec>>>>;

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
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>> {
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

/// The largest body buffer kept from one scrape to the next.
const BODY_BUFFER_KEPT: usize = 32 << 20;

/// Where the records of a scrape go without passing through Python tuples, in record order:
/// gauge, rate and monotonic_count records straight to the Agent's aggregator with
/// `submit_metric(check, check_id, kind, name, value, tags, hostname, flush_first_value)`,
/// histogram buckets through `check.submit_histogram_bucket`; `namespaced(name)` is the submitted
/// name (None when `metric_patterns` drops it), `flush_first_value` the check's.
#[pyclass(frozen, module = "datadog_checks.nvidia_nim._core")]
pub struct AggregatorTarget {
    submit_metric: Py<PyAny>,
    check: Py<PyAny>,
    check_id: Py<PyAny>,
    namespaced: Py<PyAny>,
    flush_first_value: bool,
}

#[pymethods]
impl AggregatorTarget {
    #[new]
    #[pyo3(signature = (*, submit_metric, check, check_id, namespaced, flush_first_value))]
    fn new(
        submit_metric: Py<PyAny>,
        check: Py<PyAny>,
        check_id: Py<PyAny>,
        namespaced: Py<PyAny>,
        flush_first_value: bool,
    ) -> Self {
        AggregatorTarget {
            submit_metric,
            check,
            check_id,
            namespaced,
            flush_first_value,
        }
    }
}

impl AggregatorTarget {
    fn direct_target(&self, py: Python<'_>) -> PyResult<DirectTarget> {
        Ok(DirectTarget {
            submit_metric: self.submit_metric.clone_ref(py),
            check: self.check.clone_ref(py),
            check_id: self.check_id.clone_ref(py),
            namespaced: self.namespaced.clone_ref(py),
            flush_first_value: self.flush_first_value,
            method_codes: method_codes(py)?,
        })
    }
}

/// What the last scrape counted for `telemetry`.
#[derive(Default)]
struct ScrapeCounts {
    processed_samples: usize,
    input_samples: Vec<usize>,
    filtered_lines: usize,
}

/// The Rust half of one OpenMetrics scraper.
#[pyclass(module = "datadog_checks.nvidia_nim._core")]
pub struct Scraper {
    config: ScraperConfig,
    state: ScraperState,
    caches: PyCaches,
    /// The body of the last scrape given in chunks (its capacity is reused).
    body_buffer: Vec<u8>,
    /// Resolver answers, for the resolver object `resolver` (held, so it stays that object).
    resolutions: Resolutions,
    resolver: Option<Py<PyAny>>,
    counts: ScrapeCounts,
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
                state: ScraperState::default(),
                caches: PyCaches::new(static_tags),
                body_buffer: Vec::new(),
                resolutions: HashMap::new(),
                resolver: None,
                counts: ScrapeCounts::default(),
            })
        })
    }

    /// Samples handed to a transformer during the last scrape (for `telemetry`).
    #[getter]
    fn processed_samples(&self) -> usize {
        self.counts.processed_samples
    }

    /// The number of samples of each family the last scrape parsed, in order (for `telemetry`).
    #[getter]
    fn input_samples(&self) -> Vec<usize> {
        self.counts.input_samples.clone()
    }

    /// The lines `raw_line_filters` dropped during the last scrape, up to where it ended (for
    /// `telemetry`).
    #[getter]
    fn filtered_lines(&self) -> usize {
        self.counts.filtered_lines
    }

    /// Parses and transforms one response body (`bytes`, or a list of `bytes` chunks, which is
    /// emptied once copied). Returns `(records, error)`, where `error` is `None`, `(exception
    /// class name, message)`, or an exception the resolver or the aggregator raised; records made
    /// before an error are kept. The GIL is released while the core works.
    ///
    /// With `direct`, gauge, rate and monotonic_count records are submitted here, straight to
    /// the aggregator, and only the other records are returned.
    ///
    /// With `first_scrape` (`use_process_start_time` before any successful scrape), counter,
    /// histogram and summary families are held to the end; their monotonic and bucket records
    /// carry their own `flush_first_value` (decided from `agent_start_time`) as a last item,
    /// which is `None` on every other record.
    #[pyo3(signature = (body, *, content_type, use_latest_spec, resolver, direct=None, first_scrape=false, agent_start_time=None))]
    #[allow(clippy::too_many_arguments)]
    fn scrape<'py>(
        &mut self,
        py: Python<'py>,
        body: &Bound<'py, PyAny>,
        content_type: &str,
        use_latest_spec: bool,
        resolver: &Bound<'py, PyAny>,
        direct: Option<&Bound<'py, AggregatorTarget>>,
        first_scrape: bool,
        agent_start_time: Option<f64>,
    ) -> PyResult<(Bound<'py, PyList>, Option<Bound<'py, PyAny>>)> {
        catch("parsing a scrape", || {
            let mut buffer = std::mem::take(&mut self.body_buffer);
            let bytes = body_bytes(body, &mut buffer)?;
            let telemetry = self.use_resolver(py, resolver);
            let callable = resolver.clone().unbind();
            let mut py_resolver = PyResolver {
                callable: &callable,
                resolutions: (!telemetry).then_some(&mut self.resolutions),
                error: None,
            };
            let mut submission = Submission {
                caches: &mut self.caches,
                direct: direct.map(|d| d.get().direct_target(py)).transpose()?,
                list: PyList::empty(py).unbind(),
                error: None,
            };
            let job = ScrapeJob {
                bytes,
                format: choose_format(content_type, use_latest_spec),
                first: first_scrape.then_some(FirstScrape { agent_start_time }),
            };
            let output = job.run(
                py,
                &self.config,
                &mut self.state,
                &mut py_resolver,
                &mut submission,
            );
            let error = submission.error.take().or(py_resolver.error.take());
            let list = submission.list.into_bound(py);
            // a buffer is kept for the common sizes; an exceptional body's memory is returned
            if buffer.capacity() <= BODY_BUFFER_KEPT {
                self.body_buffer = buffer;
            }
            let parse_error = self.settle(output);
            // A resolver or aggregator exception ends the scrape like a parse error, after the
            // records before it.
            let error = match (error, parse_error) {
                (Some(e), _) => Some(e.into_value(py).into_bound(py).into_any()),
                (None, Some(e)) => Some((e.kind.as_str(), e.message).into_pyobject(py)?.into_any()),
                (None, None) => None,
            };
            Ok((list, error))
        })
    }
}

impl Scraper {
    /// Starts using `resolver`: its answers are kept while it is the same object and counts
    /// nothing. Returns whether it counts (`telemetry`), in which case it is asked every time.
    fn use_resolver(&mut self, py: Python<'_>, resolver: &Bound<'_, PyAny>) -> bool {
        if !self
            .resolver
            .as_ref()
            .is_some_and(|r| r.bind(py).is(resolver))
        {
            self.resolutions.clear();
            self.resolver = Some(resolver.clone().unbind());
        }
        resolver
            .getattr("telemetry")
            .and_then(|t| t.is_truthy())
            .unwrap_or(true)
    }

    /// Keeps what the scrape counted and its record vector's capacity (for the next scrape);
    /// returns the parse error it stopped at.
    fn settle(&mut self, output: ScrapeOutput) -> Option<ScrapeError> {
        self.counts = ScrapeCounts {
            processed_samples: self.state.transformer.take_processed(),
            input_samples: output.input_samples,
            filtered_lines: output.filtered_lines,
        };
        let mut records = output.records;
        records.clear();
        self.state.transformer.spare_records = records;
        output.error
    }
}

/// The bytes of a body: one `bytes` read in place, or a list of chunks copied into `buffer`
/// (kept between scrapes) and emptied, so that the body is not held twice.
fn body_bytes<'b>(body: &'b Bound<'_, PyAny>, buffer: &'b mut Vec<u8>) -> PyResult<&'b [u8]> {
    if let Ok(b) = body.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    buffer.clear();
    for chunk in body.try_iter()? {
        buffer.extend_from_slice(chunk?.cast::<PyBytes>()?.as_bytes());
    }
    if let Ok(list) = body.cast::<PyList>() {
        list.call_method0("clear")?;
    }
    Ok(buffer.as_slice())
}

/// One scrape's input, run without the GIL.
struct ScrapeJob<'b> {
    bytes: &'b [u8],
    format: Format,
    first: Option<FirstScrape>,
}

impl ScrapeJob<'_> {
    /// Parsing and transforming need no Python object: other threads run meanwhile. The GIL is
    /// taken back to ask the resolver about a new family and to submit each batch of records,
    /// so a scrape never holds all its records at once.
    fn run(
        self,
        py: Python<'_>,
        config: &ScraperConfig,
        state: &mut ScraperState,
        resolver: &mut PyResolver<'_>,
        submission: &mut Submission<'_>,
    ) -> ScrapeOutput {
        py.detach(|| {
            let mut hand_over =
                |records: &mut Vec<Record>, held: Option<bool>, transformer: &Transformer| {
                    let submitted =
                        Python::attach(|py| submission.submit(py, records, held, transformer));
                    if submitted {
                        Ok(())
                    } else {
                        Err(ScrapeError::value("submission failed"))
                    }
                };
            let text = decode_utf8(self.bytes);
            scrape_streaming(
                &text,
                self.format,
                config,
                resolver,
                state,
                self.first,
                Some(&mut hand_over),
            )
        })
    }
}

/// `str(float(s) or 0)`, the canonical bound string (exposed for property tests).
#[pyfunction]
fn canonical_number(s: &str) -> PyResult<String> {
    crate::number::canonical_number(s).map_err(PyValueError::new_err)
}

/// Which parser a Content-Type selects: `"openmetrics"` or `"prometheus"`.
#[pyfunction]
fn format_for(content_type: &str, use_latest_spec: bool) -> &'static str {
    match choose_format(content_type, use_latest_spec) {
        Format::OpenMetrics => "openmetrics",
        Format::Prometheus => "prometheus",
    }
}

/// The module; its Python types are in `datadog_checks/nvidia_nim/_core.pyi`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scraper>()?;
    m.add_class::<AggregatorTarget>()?;
    m.add_function(wrap_pyfunction!(canonical_number, m)?)?;
    m.add_function(wrap_pyfunction!(format_for, m)?)?;
    for (name, kind) in RECORD_KINDS {
        m.add(name, kind)?;
    }
    Ok(())
}
