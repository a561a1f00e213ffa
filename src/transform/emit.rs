//! The per-type transformers: what metrics a prepared sample becomes (`gauge`, `counter`,
//! `histogram` with cumulative buckets, `summary`, `time_elapsed`, `rate`, `counter_gauge`,
//! `temporal_percent`), and the two transformers whose output is not a metric (`service_check`,
//! `metadata`). Decumulated histograms are `super::histogram`.

use std::sync::Arc;

use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::number::int::BigInt;
use crate::number::PyNum;

use super::config::{MetricSpec, ScraperConfig, TransformKind};
use super::prepare::{missing_upper_bound, Prepared};
use super::record::{MetadataRecord, Method, Record, ServiceCheckRecord};
use super::series::ValueOp;

/// Names derived from a transformer's Datadog name (`<name>.count` and friends), built once.
pub(crate) struct Names {
    pub base: Arc<str>,
    pub count: Arc<str>,
    pub sum: Arc<str>,
    pub bucket: Arc<str>,
    pub quantile: Arc<str>,
    pub total: Arc<str>,
}

impl Names {
    pub fn new(name: &str) -> Self {
        Names {
            base: Arc::from(name),
            count: Arc::from(format!("{name}.count")),
            sum: Arc::from(format!("{name}.sum")),
            bucket: Arc::from(format!("{name}.bucket")),
            quantile: Arc::from(format!("{name}.quantile")),
            total: Arc::from(format!("{name}.total")),
        }
    }
}

/// `<name>.sum` / `<name>.count` for a histogram's or summary's `_sum` / `_count` sample.
fn sum_or_count<'n>(names: &'n Names, sample_name: &str) -> Option<&'n Arc<str>> {
    if sample_name.ends_with("_sum") {
        Some(&names.sum)
    } else if sample_name.ends_with("_count") {
        Some(&names.count)
    } else {
        None
    }
}

/// The metrics the per-type transformer makes of one prepared sample: how their value follows
/// from the sample value, and their (method, name): none, one, or two (`counter_gauge`). `None`
/// for the transformers whose output is not a metric (`service_check`, `metadata`).
#[allow(clippy::type_complexity)]
pub(crate) fn plan<'n>(
    config: &ScraperConfig,
    spec: &MetricSpec,
    names: &'n Names,
    family_name: &str,
    p: &Prepared<'_, '_>,
) -> ScrapeResult<Option<(ValueOp, Vec<(Method, &'n Arc<str>)>)>> {
    use Method::*;
    use ValueOp::Same;
    let sample_name: &str = &p.sample.name;
    let one = |op, method, name| Ok(Some((op, vec![(method, name)])));
    let none = || Ok(Some((Same, Vec::new())));
    match &spec.kind {
        TransformKind::Gauge => one(Same, Gauge, &names.base),
        TransformKind::Counter => one(Same, MonotonicCount, &names.count),
        TransformKind::Histogram => {
            if let Some(name) = sum_or_count(names, sample_name) {
                one(Same, MonotonicCount, name)
            } else if config.histogram.collect_buckets && sample_name.ends_with("_bucket") {
                let ub = p.upper_bound().ok_or_else(missing_upper_bound)?;
                if ub.ends_with("inf") {
                    return none();
                }
                one(Same, MonotonicCount, &names.bucket)
            } else {
                none()
            }
        }
        TransformKind::Summary => match sum_or_count(names, sample_name) {
            Some(name) => one(Same, MonotonicCount, name),
            None if sample_name == family_name => one(Same, Gauge, &names.quantile),
            None => none(),
        },
        TransformKind::TimeElapsed => one(ValueOp::Elapsed, Gauge, &names.base),
        TransformKind::Rate => one(Same, Rate, &names.base),
        TransformKind::CounterGauge => Ok(Some((
            Same,
            vec![(Gauge, &names.total), (MonotonicCount, &names.count)],
        ))),
        TransformKind::TemporalPercent(scale) => one(ValueOp::Percent(*scale), Rate, &names.base),
        TransformKind::ServiceCheck(_) | TransformKind::Metadata(_) => Ok(None),
    }
}

/// The `service_check` and `metadata` transformers.
pub(crate) fn emit_other(
    spec: &MetricSpec,
    names: &Names,
    p: Prepared<'_, '_>,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    match &spec.kind {
        TransformKind::ServiceCheck(status_map) => {
            // int() truncates toward zero; an int sample is its own exact value, at any size
            let key = match PyNum::of(&p.sample.value) {
                PyNum::Int(v) => Some(BigInt::from_i64(v)),
                PyNum::Big(b) => Some(*b),
                PyNum::Float(v) => BigInt::from_integral_f64(v.trunc()),
            };
            let status = key.and_then(|k| status_map.get(&k).copied()).unwrap_or(3);
            out.push(Record::ServiceCheck(Box::new(ServiceCheckRecord {
                name: names.base.clone(),
                status,
                hostname: p.hostname,
            })));
        }
        TransformKind::Metadata(label) => {
            let value = p
                .labels
                .get(label)
                .ok_or_else(|| ScrapeError::new(ErrorKind::Key, label.clone()))?;
            out.push(Record::Metadata(Box::new(MetadataRecord {
                id: spec.id,
                name: names.base.clone(),
                value: value.to_string(),
            })));
        }
        _ => {}
    }
    Ok(())
}
