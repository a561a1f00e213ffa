//! Non-cumulative and distribution histograms: a family's buckets decumulated per label
//! context (`non_cumulative_histogram_buckets`, `histogram_buckets_as_distributions`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ScrapeError, ScrapeResult};
use crate::number::{canonical_float, float_error, py_float};

use super::config::{HistogramOptions, ScraperConfig};
use super::emit::Names;
use super::prepare::{missing_upper_bound, Prepared};
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

/// Non-cumulative and distribution histograms: every sample of the family is collected first,
/// buckets are decumulated per label context, then all samples go out in their original order.
pub(crate) fn emit_decumulated(
    options: &HistogramOptions,
    config: &ScraperConfig,
    names: &Names,
    prepared: Vec<Prepared<'_, '_>>,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    // context (sorted labels without `upper_bound`) → [(upper, value)], last value wins per bound
    let mut contexts: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    let mut keys: Vec<Option<(String, f64)>> = Vec::with_capacity(prepared.len());
    for p in prepared.iter() {
        if p.sample.name.ends_with("_bucket") {
            let ub_text = p.upper_bound().ok_or_else(missing_upper_bound)?;
            let ub = py_float(ub_text).ok_or_else(|| ScrapeError::value(float_error(ub_text)))?;
            let context = context_key(&p.labels);
            let entry = contexts.entry(context.clone()).or_default();
            match entry.iter_mut().find(|(u, _)| u.to_bits() == ub.to_bits()) {
                Some(slot) => slot.1 = p.sample.value.value,
                None => entry.push((ub, p.sample.value.value)),
            }
            keys.push(Some((context, ub)));
        } else {
            keys.push(None);
        }
    }
    // (lower, decumulated value) per (context, upper)
    let mut bounds: HashMap<(String, u64), (f64, f64)> = HashMap::new();
    for (context, buckets) in contexts.iter_mut() {
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let mut previous: Option<(f64, f64)> = None;
        for &(upper, value) in buckets.iter() {
            let entry = match previous {
                None => (if upper >= 0.0 { 0.0 } else { f64::NEG_INFINITY }, value),
                Some((prev_upper, prev_value)) => (prev_upper, value - prev_value),
            };
            bounds.insert((context.clone(), upper.to_bits()), entry);
            previous = Some((upper, value));
        }
    }
    use Method::*;
    for (p, key) in prepared.into_iter().zip(keys) {
        let value = p.sample.value.value;
        let name: &str = &p.sample.name;
        if let Some((context, upper)) = key {
            let (lower, bucket_value) = bounds
                .get(&(context, upper.to_bits()))
                .copied()
                .unwrap_or((0.0, value));
            let lower_text = canonical_float(lower);
            if options.distributions {
                if lower == upper && lower.is_infinite() {
                    continue;
                }
                let mut tags = TagList {
                    labels: p.tags,
                    with_static: true,
                    suffix: Some(format!("lower_bound:{lower_text}")),
                };
                if options.omit_bound_tags {
                    let full = tags.full(&config.static_tags);
                    tags = TagList {
                        labels: full
                            .into_iter()
                            .filter(|t| {
                                !options
                                    .bound_tag_prefixes
                                    .iter()
                                    .any(|prefix| t.starts_with(prefix.as_str()))
                            })
                            .collect(),
                        with_static: false,
                        suffix: None,
                    };
                }
                out.push(Record::Bucket(Box::new(BucketRecord {
                    name: names.base.clone(),
                    value: bucket_value,
                    lower: if lower == 0.0 { 0.0 } else { lower },
                    upper: if upper == 0.0 { 0.0 } else { upper },
                    tags,
                    hostname: p.hostname,
                    multiple: options.omit_bound_tags,
                })));
            } else if !p.upper_bound().unwrap_or("").ends_with("inf") {
                out.push(Record::Metric(Box::new(MetricRecord {
                    method: MonotonicCount,
                    name: names.bucket.clone(),
                    value: bucket_value,
                    tags: Arc::new(TagList {
                        labels: p.tags,
                        with_static: true,
                        suffix: Some(format!("lower_bound:{lower_text}")),
                    }),
                    hostname: Arc::from(p.hostname),
                })));
            }
        } else if options.distributions && !options.counters_with_distributions {
            continue;
        } else if name.ends_with("_sum") {
            out.push(Record::metric(
                MonotonicCount,
                &names.sum,
                value,
                p.tags,
                p.hostname,
            ));
        } else if name.ends_with("_count") {
            out.push(Record::metric(
                MonotonicCount,
                &names.count,
                value,
                p.tags,
                p.hostname,
            ));
        }
    }
    Ok(())
}
