//! Submitting records from Python: straight to the aggregator (`submit_metric` by vectorcall,
//! with the Python names, tag lists and floats of each series built once and reused; buckets
//! through the check's `submit_histogram_bucket`, in record order), or as tuples for the check's
//! own AgentCheck calls. Records arrive in batches while a scrape runs. A bucket count is an exact
//! Python `int` when its samples were integers.

use std::collections::HashMap;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::number::PyNum;
use crate::transform::record::{BucketRecord, Method, MetricRecord, Record, TagList};
use crate::transform::Transformer;

/// Record kinds as the Python check reads them (the first tuple item); the metric kinds are the
/// aggregator's metric type codes. The module exports them (`RECORD_KINDS`), the check imports them.
const REC_GAUGE: u8 = 0;
const REC_RATE: u8 = 1;
const REC_MONOTONIC_COUNT: u8 = 3;
const REC_BUCKET: u8 = 10;
const REC_SERVICE_CHECK: u8 = 20;
const REC_METADATA: u8 = 30;

/// The record kinds under the names the module exports them.
pub(super) const RECORD_KINDS: [(&str, u8); 6] = [
    ("REC_GAUGE", REC_GAUGE),
    ("REC_RATE", REC_RATE),
    ("REC_MONOTONIC_COUNT", REC_MONOTONIC_COUNT),
    ("REC_BUCKET", REC_BUCKET),
    ("REC_SERVICE_CHECK", REC_SERVICE_CHECK),
    ("REC_METADATA", REC_METADATA),
];

/// Python strings kept at most (tags, names, hostnames); past this the cache starts over, so that
/// label values that never repeat cannot grow it without bound.
const STRING_CACHE_LIMIT: usize = 200_000;

/// Where metric records go in direct mode: `submit_metric(check, check_id, type, name, value,
/// tags, hostname, flush_first_value)` (the Agent's aggregator), with names namespaced and
/// filtered by the `namespaced(name) -> str | None` callable (cached per name).
pub(super) struct DirectTarget {
    pub submit_metric: Py<PyAny>,
    pub check: Py<PyAny>,
    pub check_id: Py<PyAny>,
    pub namespaced: Py<PyAny>,
    pub flush_first_value: bool,
    /// The aggregator's type codes of gauge, rate and monotonic count, as Python ints.
    pub method_codes: [Py<PyAny>; 3],
}

/// The Python objects a scraper reuses from one scrape to the next.
pub(super) struct PyCaches {
    pub static_tags: Vec<Py<PyString>>,
    /// Python strings of tags and hostnames, reused across records and scrapes.
    strings: HashMap<String, Py<PyString>>,
    /// Datadog name → namespaced Python name, or None when `metric_patterns` drops it.
    names: HashMap<String, Option<Py<PyString>>>,
    /// Python objects of cached series emissions, by slot (see `series`), for the cache
    /// generation `slots_generation`.
    slots: Vec<Option<PySlot>>,
    slots_generation: u64,
}

impl PyCaches {
    pub fn new(static_tags: Vec<Py<PyString>>) -> Self {
        PyCaches {
            static_tags,
            strings: HashMap::new(),
            names: HashMap::new(),
            slots: Vec::new(),
            slots_generation: 0,
        }
    }

    /// Drops the slots of an older series-cache generation (the cache only starts over at the
    /// beginning of a scrape, so this holds for the whole scrape).
    fn follow_generation(&mut self, transformer: &Transformer) {
        if self.slots_generation != transformer.series.generation {
            self.slots.clear();
            self.slots_generation = transformer.series.generation;
        }
    }
}

/// One scrape's submissions: metric records go to `direct` when given, every other record is
/// appended to `list` as a tuple. The first exception stops them (`error`).
pub(super) struct Submission<'c> {
    pub caches: &'c mut PyCaches,
    pub direct: Option<DirectTarget>,
    pub list: Py<PyList>,
    pub error: Option<PyErr>,
}

impl Submission<'_> {
    /// Submits and removes `records` (each monotonic count and bucket flushed with `held` when it
    /// is given, else with the check's own setting). False once a submission raised.
    pub fn submit(
        &mut self,
        py: Python<'_>,
        records: &mut Vec<Record>,
        held: Option<bool>,
        transformer: &Transformer,
    ) -> bool {
        if self.error.is_some() {
            records.clear();
            return false;
        }
        self.caches.follow_generation(transformer);
        let list = self.list.bind(py);
        for record in records.iter() {
            let outcome = match &self.direct {
                Some(direct) => self
                    .caches
                    .submit_direct(py, transformer, direct, record, held),
                None => Ok(false),
            };
            let outcome = match outcome {
                Ok(true) => Ok(()),
                Ok(false) => self
                    .caches
                    .record(py, transformer, record, held)
                    .and_then(|r| list.append(r)),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                self.error = Some(e);
                break;
            }
        }
        records.clear();
        self.error.is_none()
    }
}

/// The Python objects one series-cache slot submits with: built once, reused every scrape.
pub(super) struct PySlot {
    method: Method,
    /// The Datadog name (without namespace).
    name: Py<PyString>,
    /// The tag list and hostname (see `slot_objects`).
    objects: Option<(Py<PyList>, Py<PyString>)>,
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

/// The aggregator's type codes of gauge, rate and monotonic count (`DirectTarget::method_codes`).
pub(super) fn method_codes(py: Python<'_>) -> PyResult<[Py<PyAny>; 3]> {
    let code = |c: u8| c.into_pyobject(py).map(|c| c.into_any().unbind());
    Ok([
        code(REC_GAUGE)?,
        code(REC_RATE)?,
        code(REC_MONOTONIC_COUNT)?,
    ])
}

/// A number as the stock check holds it: a Python `int` (exact, any size) or `float`.
fn py_number<'py>(py: Python<'py>, n: &PyNum) -> PyResult<Bound<'py, PyAny>> {
    Ok(match n {
        PyNum::Int(v) => v.into_pyobject(py)?.into_any(),
        PyNum::Big(big) => py.get_type::<PyInt>().call1((big.to_decimal(),))?,
        PyNum::Float(v) => PyFloat::new(py, *v).into_any(),
    })
}

/// `submit_metric(check, check_id, type, name, value, tags, hostname, flush_first_value)`, with
/// `objects` the name, value, tag list and hostname (borrowed: the caller keeps them alive).
fn submit_metric(
    py: Python<'_>,
    direct: &DirectTarget,
    method: Method,
    objects: [*mut pyo3::ffi::PyObject; 4],
    flush: Option<bool>,
) -> PyResult<()> {
    let (code, flush) = match method {
        Method::Gauge => (&direct.method_codes[0], false),
        Method::Rate => (&direct.method_codes[1], false),
        Method::MonotonicCount => (
            &direct.method_codes[2],
            flush.unwrap_or(direct.flush_first_value),
        ),
    };
    let [name, value, tags, hostname] = objects;
    let flush = PyBool::new(py, flush);
    vectorcall(
        py,
        direct.submit_metric.bind(py),
        &[
            direct.check.as_ptr(),
            direct.check_id.as_ptr(),
            code.as_ptr(),
            name,
            value,
            tags,
            hostname,
            flush.as_ptr(),
        ],
    )?;
    Ok(())
}

impl PyCaches {
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
        direct: &DirectTarget,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        if let Some(n) = self.names.get(name) {
            return Ok(n.as_ref().map(|p| p.bind(py).clone()));
        }
        let result = direct.namespaced.bind(py).call1((name,))?;
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
    fn slot(
        &mut self,
        py: Python<'_>,
        transformer: &Transformer,
        slot: u32,
    ) -> PyResult<&mut PySlot> {
        let index = slot as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, || None);
        }
        if self.slots.get(index).is_some_and(Option::is_none) {
            let emission = transformer
                .emission(slot)
                .cloned()
                .ok_or_else(|| PyRuntimeError::new_err("series slot missing"))?;
            let built = PySlot {
                method: emission.method,
                name: PyString::new(py, &emission.name).unbind(),
                objects: None,
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

    /// The tag list and hostname of a slot, built the first time they are needed (not for a
    /// metric that `metric_patterns` drops).
    fn slot_objects<'py>(
        &mut self,
        py: Python<'py>,
        transformer: &Transformer,
        slot: u32,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyString>)> {
        if let Some((tags, hostname)) = &self.slot(py, transformer, slot)?.objects {
            return Ok((tags.bind(py).clone(), hostname.bind(py).clone()));
        }
        let emission = transformer
            .emission(slot)
            .cloned()
            .ok_or_else(|| PyRuntimeError::new_err("series slot missing"))?;
        let tags = self.tag_list(py, &emission.tags)?;
        let hostname = self.py_str(py, &emission.hostname);
        self.slot(py, transformer, slot)?.objects =
            Some((tags.clone().unbind(), hostname.clone().unbind()));
        Ok((tags, hostname))
    }

    /// Submits a metric record straight to the aggregator; false when it is not a metric record.
    fn submit_direct(
        &mut self,
        py: Python<'_>,
        transformer: &Transformer,
        direct: &DirectTarget,
        record: &Record,
        flush: Option<bool>,
    ) -> PyResult<bool> {
        match record {
            Record::Cached { slot, value } => {
                self.submit_cached(py, transformer, direct, *slot, *value, flush)?;
                Ok(true)
            }
            Record::Metric(metric) => {
                let MetricRecord {
                    method,
                    name,
                    value,
                    tags,
                    hostname,
                } = metric.as_ref();
                let Some(full_name) = self.namespaced(py, direct, name)? else {
                    return Ok(true);
                };
                let tags = self.tag_list(py, tags)?;
                let hostname = self.py_str(py, hostname);
                let value = PyFloat::new(py, *value);
                let objects = [
                    full_name.as_ptr(),
                    value.as_ptr(),
                    tags.as_ptr(),
                    hostname.as_ptr(),
                ];
                submit_metric(py, direct, *method, objects, flush)?;
                Ok(true)
            }
            Record::Bucket(bucket) => {
                self.submit_bucket(py, direct, bucket, flush)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// `check.submit_histogram_bucket(...)` as the check's own submission makes it (`lower or
    /// 0`, `upper or 0`), in record order: a bucket the Agent refuses fails the run before the
    /// records after it, as in the stock check.
    fn submit_bucket(
        &mut self,
        py: Python<'_>,
        direct: &DirectTarget,
        bucket: &BucketRecord,
        flush: Option<bool>,
    ) -> PyResult<()> {
        let bound = |v: f64| -> PyResult<Bound<'_, PyAny>> {
            Ok(if v == 0.0 {
                0i64.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, v).into_any()
            })
        };
        let tags = self.tag_list(py, &bucket.tags)?;
        let args = (
            bucket.name.as_ref(),
            py_number(py, &bucket.value)?,
            bound(bucket.lower)?,
            bound(bucket.upper)?,
            true,
            bucket.hostname.as_str(),
            tags,
        );
        let kwargs = PyDict::new(py);
        kwargs.set_item(
            "flush_first_value",
            flush.unwrap_or(direct.flush_first_value),
        )?;
        if bucket.multiple {
            kwargs.set_item("multiple_buckets", true)?;
        }
        direct
            .check
            .bind(py)
            .call_method("submit_histogram_bucket", args, Some(&kwargs))?;
        Ok(())
    }

    /// Submits a cached series' value with the slot's own objects, borrowed for the call (the
    /// slot holds them): no reference is taken or dropped per submission.
    fn submit_cached(
        &mut self,
        py: Python<'_>,
        transformer: &Transformer,
        direct: &DirectTarget,
        slot: u32,
        value: f64,
        flush: Option<bool>,
    ) -> PyResult<()> {
        if self.slot(py, transformer, slot)?.direct_name.is_none() {
            // first submission of the slot: its namespaced name, then (unless `metric_patterns`
            // drops it) its tag list and hostname
            let raw = self
                .slot(py, transformer, slot)?
                .name
                .bind(py)
                .to_str()?
                .to_owned();
            let full = self.namespaced(py, direct, &raw)?;
            let keep = full.is_some();
            self.slot(py, transformer, slot)?.direct_name = Some(full.map(Bound::unbind));
            if keep {
                self.slot_objects(py, transformer, slot)?;
            }
        }
        let entry = self.slot(py, transformer, slot)?;
        let Some(Some(full_name)) = &entry.direct_name else {
            return Ok(());
        };
        let Some((tags, hostname)) = &entry.objects else {
            return Err(PyRuntimeError::new_err("series slot objects missing"));
        };
        // a value that did not change since the last scrape reuses its float object
        let value_object = match &entry.last_value {
            Some((bits, object)) if *bits == value.to_bits() => object,
            _ => {
                &entry
                    .last_value
                    .insert((value.to_bits(), PyFloat::new(py, value).unbind()))
                    .1
            }
        };
        let objects = [
            full_name.as_ptr(),
            value_object.as_ptr(),
            tags.as_ptr(),
            hostname.as_ptr(),
        ];
        submit_metric(py, direct, entry.method, objects, flush)
    }

    /// A bucket record's tuple: the count an exact Python `int` when it is one (see `py_number`).
    fn bucket_record<'py>(
        &mut self,
        py: Python<'py>,
        bucket: &BucketRecord,
        flush: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let BucketRecord {
            name,
            value,
            lower,
            upper,
            tags,
            hostname,
            multiple,
        } = bucket;
        let tags = self.tag_list(py, tags)?;
        Ok((
            REC_BUCKET,
            name.as_ref(),
            py_number(py, value)?,
            *lower,
            *upper,
            tags,
            hostname.as_str(),
            *multiple,
            flush,
        )
            .into_pyobject(py)?
            .into_any())
    }

    fn record<'py>(
        &mut self,
        py: Python<'py>,
        transformer: &Transformer,
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
                let (tags, hostname) = self.slot_objects(py, transformer, *slot)?;
                let entry = self.slot(py, transformer, *slot)?;
                (
                    code(entry.method),
                    entry.name.bind(py).clone(),
                    *value,
                    tags,
                    hostname,
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
            Record::Bucket(bucket) => self.bucket_record(py, bucket, flush)?,
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
