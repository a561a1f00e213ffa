//! From parsed families to submissions: the per-sample pipeline of the stock scraper (value
//! filter, label normalization, tag building, hostname) followed by the per-type transformer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{HistogramOptions, ScraperConfig, TransformKind, Transformer};
use crate::model::{ErrorKind, Family, MetricType, Sample, ScrapeError, ScrapeResult};
use crate::share::LabelSharing;
use crate::tags::{build_label_tags, hostname_for, LabelView, NumberCache};
use crate::text::{canonical_float, float_error, py_float};

/// The AgentCheck submission method a metric record goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Gauge,
    Rate,
    MonotonicCount,
}

/// One submission, in the order the stock check makes them.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Metric {
        method: Method,
        name: Arc<str>,
        value: f64,
        tags: TagList,
        hostname: String,
    },
    /// `submit_histogram_bucket` (distribution mode).
    Bucket {
        name: Arc<str>,
        value: f64,
        lower: f64,
        upper: f64,
        tags: TagList,
        hostname: String,
        /// `collect_histograms_as_distributions`: the multi-bucket API.
        multiple: bool,
    },
    /// A `service_check` transformer sample; its tags are the static tags only.
    ServiceCheck {
        name: Arc<str>,
        status: u8,
        hostname: String,
    },
    /// A `metadata` transformer sample: `set_metadata(name, value, **modifiers of id)`.
    Metadata {
        id: u32,
        name: Arc<str>,
        value: String,
    },
}

/// The tags of one record: label tags, then (when `with_static`) the scraper's static tags, then
/// the optional suffix tag (`lower_bound:` of non-cumulative buckets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TagList {
    pub labels: Vec<String>,
    pub with_static: bool,
    pub suffix: Option<String>,
}

impl TagList {
    /// The full tag list as the stock check builds it.
    pub fn full(&self, static_tags: &[String]) -> Vec<String> {
        let mut out = self.labels.clone();
        if self.with_static {
            out.extend(static_tags.iter().cloned());
        }
        if let Some(s) = &self.suffix {
            out.push(s.clone());
        }
        out
    }
}

/// Decides, for each family (after prefix stripping), which transformer applies, or none.
pub trait Resolve {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>>;

    /// Whether `exclude_metrics` drops this family (asked only for `target_info`).
    fn is_excluded(&mut self, _name: &str) -> ScrapeResult<bool> {
        Ok(false)
    }
}

/// A sample that passed the per-sample pipeline.
struct Prepared<'s, 'a> {
    sample: &'s Sample<'a>,
    /// The labels after the stock normalization (`le` → trailing `upper_bound`, canonical
    /// `quantile`), in the stock order.
    labels: LabelView<'s>,
    tags: Vec<String>,
    hostname: String,
}

impl Prepared<'_, '_> {
    fn upper_bound(&self) -> Option<&str> {
        self.labels.get("upper_bound")
    }
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Names derived from a transformer's Datadog name (`<name>.count` and friends), built once.
struct Names {
    base: Arc<str>,
    count: Arc<str>,
    sum: Arc<str>,
    bucket: Arc<str>,
    quantile: Arc<str>,
    total: Arc<str>,
}

impl Names {
    fn new(name: &str) -> Self {
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

/// Turns families into records for one scraper; keeps derived names across families and scrapes.
pub struct FamilyTransformer {
    names: HashMap<String, Arc<Names>>,
    numbers: NumberCache,
    /// Samples handed to a transformer since the last `take_processed` (telemetry).
    processed: usize,
    /// Labels collected for `share_labels`.
    pub sharing: LabelSharing,
    /// `latency_percentiles` state across scrapes (src/percentiles.rs).
    pub percentiles: crate::percentiles::PercentileState,
}

impl Default for FamilyTransformer {
    fn default() -> Self {
        Self::new()
    }
}

impl FamilyTransformer {
    pub fn new() -> Self {
        FamilyTransformer {
            names: HashMap::new(),
            numbers: NumberCache::default(),
            processed: 0,
            sharing: LabelSharing::default(),
            percentiles: Default::default(),
        }
    }

    /// The number of samples handed to a transformer since the last call.
    pub fn take_processed(&mut self) -> usize {
        std::mem::take(&mut self.processed)
    }

    fn names(names: &mut HashMap<String, Arc<Names>>, name: &str) -> Arc<Names> {
        if let Some(n) = names.get(name) {
            return n.clone();
        }
        let n = Arc::new(Names::new(name));
        names.insert(name.to_string(), n.clone());
        n
    }

    /// Runs one family through the pipeline and its transformer, appending records in order.
    /// On error the records of the samples before the failing one stay in `out`.
    pub fn transform(
        &mut self,
        config: &ScraperConfig,
        transformer: &Transformer,
        family: &mut Family<'_>,
        out: &mut Vec<Record>,
    ) -> ScrapeResult<()> {
        if !self.sharing.is_empty() {
            for sample in family.samples.iter_mut() {
                self.sharing.populate(&mut sample.labels);
            }
        }
        let names = Self::names(&mut self.names, &transformer.name);
        let names = names.as_ref();
        let decumulate = transformer.kind == TransformKind::Histogram
            && (config.histogram.non_cumulative || config.histogram.distributions);
        if decumulate {
            let mut prepared = Vec::with_capacity(family.samples.len());
            for sample in family.samples.iter() {
                if let Some(p) = prepare(config, family.typ, sample, &mut self.numbers)? {
                    self.processed += 1;
                    prepared.push(p);
                }
            }
            return emit_decumulated(&config.histogram, config, names, prepared, out);
        }
        // Deliberate fix: an OpenMetrics counter's `_created` sample is its creation time, not a
        // count; the stock check submits it as a second `.count` value of the same context.
        let skip_created = family.typ == MetricType::Counter
            && matches!(
                transformer.kind,
                TransformKind::Counter | TransformKind::CounterGauge
            );
        for sample in family.samples.iter() {
            if skip_created && sample.name.ends_with("_created") {
                continue;
            }
            if let Some(p) = prepare(config, family.typ, sample, &mut self.numbers)? {
                self.processed += 1;
                emit(config, transformer, names, &family.name, p, out)?;
            }
        }
        Ok(())
    }
}

/// The stock `generate_sample_data` for one sample: `None` when the sample is skipped.
fn prepare<'s, 'a>(
    config: &ScraperConfig,
    typ: MetricType,
    sample: &'s Sample<'a>,
    numbers: &mut NumberCache,
) -> ScrapeResult<Option<Prepared<'s, 'a>>> {
    if sample.value.overflow {
        return Err(ScrapeError::new(
            ErrorKind::Overflow,
            "int too large to convert to float",
        ));
    }
    let v = sample.value.value;
    if v.is_nan() || v.is_infinite() {
        return Ok(None);
    }
    let labels = LabelView::normalized(typ, &sample.labels, numbers)?;
    let Some(tags) = build_label_tags(config, &labels) else {
        return Ok(None);
    };
    let hostname = hostname_for(config, &labels);
    Ok(Some(Prepared {
        sample,
        labels,
        tags,
        hostname,
    }))
}

fn metric(
    method: Method,
    name: &Arc<str>,
    value: f64,
    tags: Vec<String>,
    hostname: String,
) -> Record {
    Record::Metric {
        method,
        name: name.clone(),
        value,
        tags: TagList {
            labels: tags,
            with_static: true,
            suffix: None,
        },
        hostname,
    }
}

fn missing_upper_bound() -> ScrapeError {
    ScrapeError::new(ErrorKind::Key, "upper_bound")
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

/// The per-type transformers, one prepared sample at a time.
fn emit(
    config: &ScraperConfig,
    transformer: &Transformer,
    names: &Names,
    family_name: &str,
    p: Prepared<'_, '_>,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    use Method::*;
    let value = p.sample.value.value;
    let sample_name: &str = &p.sample.name;
    // the metric this sample becomes, if any
    let (method, name, value) = match &transformer.kind {
        TransformKind::Gauge => (Gauge, &names.base, value),
        TransformKind::Counter => (MonotonicCount, &names.count, value),
        TransformKind::Histogram => {
            if let Some(name) = sum_or_count(names, sample_name) {
                (MonotonicCount, name, value)
            } else if config.histogram.collect_buckets && sample_name.ends_with("_bucket") {
                let ub = p.upper_bound().ok_or_else(missing_upper_bound)?;
                if ub.ends_with("inf") {
                    return Ok(());
                }
                (MonotonicCount, &names.bucket, value)
            } else {
                return Ok(());
            }
        }
        TransformKind::Summary => match sum_or_count(names, sample_name) {
            Some(name) => (MonotonicCount, name, value),
            None if sample_name == family_name => (Gauge, &names.quantile, value),
            None => return Ok(()),
        },
        TransformKind::TimeElapsed => (Gauge, &names.base, now_seconds() - value),
        TransformKind::Rate => (Rate, &names.base, value),
        TransformKind::CounterGauge => {
            out.push(metric(
                Gauge,
                &names.total,
                value,
                p.tags.clone(),
                p.hostname.clone(),
            ));
            (MonotonicCount, &names.count, value)
        }
        TransformKind::TemporalPercent(scale) => (Rate, &names.base, value / scale * 100.0),
        TransformKind::ServiceCheck(status_map) => {
            // int() truncates toward zero
            let key = value.trunc();
            let status = if key.abs() < 9.2e18 {
                status_map.get(&(key as i64)).copied().unwrap_or(3)
            } else {
                3
            };
            out.push(Record::ServiceCheck {
                name: names.base.clone(),
                status,
                hostname: p.hostname,
            });
            return Ok(());
        }
        TransformKind::Metadata(label) => {
            let value = p
                .labels
                .get(label)
                .ok_or_else(|| ScrapeError::new(ErrorKind::Key, label.clone()))?;
            out.push(Record::Metadata {
                id: transformer.id,
                name: names.base.clone(),
                value: value.to_string(),
            });
            return Ok(());
        }
    };
    out.push(metric(method, name, value, p.tags, p.hostname));
    Ok(())
}

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
fn emit_decumulated(
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
                out.push(Record::Bucket {
                    name: names.base.clone(),
                    value: bucket_value,
                    lower: if lower == 0.0 { 0.0 } else { lower },
                    upper: if upper == 0.0 { 0.0 } else { upper },
                    tags,
                    hostname: p.hostname,
                    multiple: options.omit_bound_tags,
                });
            } else if !p.upper_bound().unwrap_or("").ends_with("inf") {
                out.push(Record::Metric {
                    method: MonotonicCount,
                    name: names.bucket.clone(),
                    value: bucket_value,
                    tags: TagList {
                        labels: p.tags,
                        with_static: true,
                        suffix: Some(format!("lower_bound:{lower_text}")),
                    },
                    hostname: p.hostname,
                });
            }
        } else if options.distributions && !options.counters_with_distributions {
            continue;
        } else if name.ends_with("_sum") {
            out.push(metric(
                MonotonicCount,
                &names.sum,
                value,
                p.tags,
                p.hostname,
            ));
        } else if name.ends_with("_count") {
            out.push(metric(
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
