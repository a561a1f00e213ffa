//! Non-cumulative and distribution histograms: a family's buckets decumulated per label
//! context (`non_cumulative_histogram_buckets`, `histogram_buckets_as_distributions`).
//!
//! Bucket counts are numbers as the stock check holds them (`PyNum`): an integer sample stays an
//! exact integer, so a decumulated count is the exact difference the stock check computes, sent
//! as that integer to `submit_histogram_bucket` and as its correctly rounded float otherwise.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ScrapeError, ScrapeResult};
use crate::number::{canonical_float, float_error, py_float, PyNum};

use super::config::{HistogramOptions, ScraperConfig};
use super::emit::Names;
use super::prepare::{missing_upper_bound, overflow_error, Prepared};
use super::record::{BucketRecord, Method, MetricRecord, Record, TagList};
use super::tags::LabelView;

/// The label context of a bucket: every label but `upper_bound`, order-independent.
fn context_key(labels: &LabelView<'_>) -> String {
    let mut pairs: Vec<(&str, &str)> = labels.iter().filter(|(n, _)| *n != "upper_bound").collect();
    pairs.sort_unstable();
    let mut key = String::new();
    for (n, v) in pairs {
        key.push_str(n);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
    key
}

/// A bucket's place: its context and numeric upper bound.
type BucketKey = (String, f64);
/// The buckets of each context: (upper bound, count), the last count kept per bound.
type Contexts = HashMap<String, Vec<(f64, PyNum)>>;
/// (lower bound, decumulated count) per (context, upper bound bits).
type Decumulated = HashMap<(String, u64), (f64, PyNum)>;

/// The family's buckets by context, and each sample's bucket key (`None`: not a bucket).
fn collect_buckets(
    prepared: &[Prepared<'_, '_>],
) -> ScrapeResult<(Contexts, Vec<Option<BucketKey>>)> {
    let mut contexts: Contexts = HashMap::new();
    let mut keys = Vec::with_capacity(prepared.len());
    for p in prepared {
        if !p.sample.name.ends_with("_bucket") {
            keys.push(None);
            continue;
        }
        let ub_text = p.upper_bound().ok_or_else(missing_upper_bound)?;
        let ub = py_float(ub_text).ok_or_else(|| ScrapeError::value(float_error(ub_text)))?;
        let context = context_key(&p.labels);
        let count = PyNum::of(&p.sample.value);
        let entry = contexts.entry(context.clone()).or_default();
        match entry.iter_mut().find(|(u, _)| u.to_bits() == ub.to_bits()) {
            Some(slot) => slot.1 = count,
            None => entry.push((ub, count)),
        }
        keys.push(Some((context, ub)));
    }
    Ok((contexts, keys))
}

/// Per context, buckets ordered by bound: the first one's lower bound is 0 (or -inf below 0)
/// and its count is its own; each later one's lower bound is the previous bound and its count
/// the difference with the previous count.
fn decumulate(mut contexts: Contexts) -> Decumulated {
    let mut bounds = Decumulated::new();
    for (context, buckets) in contexts.iter_mut() {
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let mut previous: Option<(f64, &PyNum)> = None;
        for (upper, count) in buckets.iter() {
            let entry = match previous {
                None => (
                    if *upper >= 0.0 {
                        0.0
                    } else {
                        f64::NEG_INFINITY
                    },
                    count.clone(),
                ),
                Some((prev_upper, prev_count)) => (prev_upper, count.sub(prev_count)),
            };
            bounds.insert((context.clone(), upper.to_bits()), entry);
            previous = Some((*upper, count));
        }
    }
    bounds
}

/// A distribution bucket (`submit_histogram_bucket`); `None` for the degenerate -inf/-inf one.
fn distribution_bucket(
    options: &HistogramOptions,
    config: &ScraperConfig,
    names: &Names,
    p: Prepared<'_, '_>,
    (lower, upper): (f64, f64),
    count: PyNum,
) -> Option<Record> {
    if lower == upper && lower.is_infinite() {
        return None;
    }
    let mut tags = TagList {
        labels: p.tags,
        with_static: true,
        suffix: Some(format!("lower_bound:{}", canonical_float(lower))),
    };
    if options.omit_bound_tags {
        let full = tags.full(&config.static_tags);
        let keep = |t: &String| {
            !options
                .bound_tag_prefixes
                .iter()
                .any(|prefix| t.starts_with(prefix.as_str()))
        };
        tags = TagList {
            labels: full.into_iter().filter(keep).collect(),
            with_static: false,
            suffix: None,
        };
    }
    Some(Record::Bucket(Box::new(BucketRecord {
        name: names.base.clone(),
        value: count,
        lower: if lower == 0.0 { 0.0 } else { lower },
        upper: if upper == 0.0 { 0.0 } else { upper },
        tags,
        hostname: p.hostname,
        multiple: options.omit_bound_tags,
    })))
}

/// A non-cumulative bucket (`<name>.bucket`, monotonic count of `float(count)`); `None` for the
/// `inf` bucket. A count past the float range fails as `float()` fails on it.
fn non_cumulative_bucket(
    names: &Names,
    p: Prepared<'_, '_>,
    lower: f64,
    count: &PyNum,
) -> ScrapeResult<Option<Record>> {
    if p.upper_bound().unwrap_or("").ends_with("inf") {
        return Ok(None);
    }
    let value = count.to_f64();
    if value.is_infinite() && !matches!(count, PyNum::Float(_)) {
        return Err(overflow_error());
    }
    Ok(Some(Record::Metric(Box::new(MetricRecord {
        method: Method::MonotonicCount,
        name: names.bucket.clone(),
        value,
        tags: Arc::new(TagList {
            labels: p.tags,
            with_static: true,
            suffix: Some(format!("lower_bound:{}", canonical_float(lower))),
        }),
        hostname: Arc::from(p.hostname),
    }))))
}

/// Non-cumulative and distribution histograms: every sample of the family is collected first,
/// buckets are decumulated per label context, then all samples go out in their original order.
pub(crate) fn emit_decumulated(
    options: &HistogramOptions,
    config: &ScraperConfig,
    names: &Names,
    prepared: Vec<Prepared<'_, '_>>,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    let (contexts, keys) = collect_buckets(&prepared)?;
    let bounds = decumulate(contexts);
    for (p, key) in prepared.into_iter().zip(keys) {
        if let Some((context, upper)) = key {
            let (lower, count) = bounds
                .get(&(context, upper.to_bits()))
                .cloned()
                .unwrap_or_else(|| (0.0, PyNum::of(&p.sample.value)));
            let record = if options.distributions {
                distribution_bucket(options, config, names, p, (lower, upper), count)
            } else {
                non_cumulative_bucket(names, p, lower, &count)?
            };
            out.extend(record);
            continue;
        }
        if options.distributions && !options.counters_with_distributions {
            continue;
        }
        let name = if p.sample.name.ends_with("_sum") {
            &names.sum
        } else if p.sample.name.ends_with("_count") {
            &names.count
        } else {
            continue;
        };
        let value = p.sample.value.value;
        out.push(Record::metric(
            Method::MonotonicCount,
            name,
            value,
            p.tags,
            p.hostname,
        ));
    }
    Ok(())
}
