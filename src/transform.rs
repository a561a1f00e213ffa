//! From parsed families to submissions: the per-sample pipeline of the stock scraper (value
//! filter, label normalization, tag building, hostname) followed by the per-type transformer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{HistogramOptions, ScraperConfig, TransformKind, Transformer};
use crate::model::{ErrorKind, Family, MetricType, Sample, ScrapeError, ScrapeResult};
use crate::series::{Emission, SeriesCache, ValueOp};
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

/// One submission, in the order the stock check makes them. Kept small (the payloads of the rare
/// kinds are boxed): a scrape makes one per metric.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A metric of a cached series: its method, name, tags and hostname are the emission in
    /// `slot` of the transformer's series cache (`FamilyTransformer::emission`).
    Cached {
        slot: u32,
        value: f64,
    },
    Metric(Box<MetricRecord>),
    /// `submit_histogram_bucket` (distribution mode).
    Bucket(Box<BucketRecord>),
    /// A `service_check` transformer sample; its tags are the static tags only.
    ServiceCheck(Box<ServiceCheckRecord>),
    /// A `metadata` transformer sample: `set_metadata(name, value, **modifiers of id)`.
    Metadata(Box<MetadataRecord>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricRecord {
    pub method: Method,
    pub name: Arc<str>,
    pub value: f64,
    pub tags: Arc<TagList>,
    pub hostname: Arc<str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BucketRecord {
    pub name: Arc<str>,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub tags: TagList,
    pub hostname: String,
    /// `collect_histograms_as_distributions`: the multi-bucket API.
    pub multiple: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCheckRecord {
    pub name: Arc<str>,
    pub status: u8,
    pub hostname: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetadataRecord {
    pub id: u32,
    pub name: Arc<str>,
    pub value: String,
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

/// Records at which a transformer offers what it made so far to its `Spill`.
pub const SPILL_BATCH: usize = 2048;

/// Takes records early, while a family is still being transformed (a streaming scrape submits
/// them), so that the records of a big family never all exist at once.
pub trait Spill {
    fn spill(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &FamilyTransformer,
    ) -> ScrapeResult<()>;
}

/// A `Spill` that leaves every record where it is.
pub struct Keep;

impl Spill for Keep {
    fn spill(&mut self, _: &mut Vec<Record>, _: &FamilyTransformer) -> ScrapeResult<()> {
        Ok(())
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
    pub series: SeriesCache,
    /// An empty record vector whose capacity the next scrape reuses.
    pub spare_records: Vec<Record>,
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
            series: SeriesCache::default(),
            spare_records: Vec::new(),
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
        spill: &mut dyn Spill,
    ) -> ScrapeResult<()> {
        if !self.sharing.is_empty() {
            for sample in family.samples.iter_mut() {
                sample.ensure_labels();
                self.sharing.populate(&mut sample.labels);
            }
        }
        let names = Self::names(&mut self.names, &transformer.name);
        let names = names.as_ref();
        let decumulate = transformer.kind == TransformKind::Histogram
            && (config.histogram.non_cumulative || config.histogram.distributions);
        if decumulate {
            family.ensure_labels();
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
        // Series are cached unless shared labels can change their tags from scrape to scrape,
        // or the transformer's output depends on more than the value.
        let cacheable = !config.share.is_configured()
            && !matches!(
                transformer.kind,
                TransformKind::ServiceCheck(_) | TransformKind::Metadata(_)
            );
        let scope = cacheable.then(|| {
            self.series.scope(format!(
                "{}\0{:?}\0{}\0{}",
                family.typ.as_str(),
                transformer.kind,
                transformer.name,
                family.name
            ))
        });
        let now = now_seconds();
        for sample in family.samples.iter_mut() {
            if out.len() >= SPILL_BATCH {
                spill.spill(out, self)?;
            }
            if skip_created && sample.name.ends_with("_created") {
                continue;
            }
            // the value checks come first, as in the stock pipeline
            if sample.value.overflow {
                return Err(overflow_error());
            }
            let value = sample.value.value;
            if !value.is_finite() {
                continue;
            }
            if let Some(scope) = scope {
                if let Some(entry) = self.series.get(scope, &sample.name, sample.label_text) {
                    self.processed += usize::from(entry.processed);
                    let value = apply(entry.op, value, now);
                    for slot in entry.first_slot..entry.first_slot + u32::from(entry.count) {
                        out.push(Record::Cached { slot, value });
                    }
                    continue;
                }
            }
            // labels parsed here are dropped again once used (below): a big family holds its
            // label blocks, not their parsed form
            let reparse = sample.pending && self.sharing.is_empty();
            sample.ensure_labels();
            let prepared = prepare(config, family.typ, sample, &mut self.numbers);
            let emitted = self.emit_prepared(
                config,
                transformer,
                names,
                &family.name,
                sample,
                prepared,
                scope,
                value,
                now,
                out,
            );
            if reparse {
                sample.release_labels();
            }
            emitted?;
        }
        Ok(())
    }

    /// The slow path of `transform` for one sample: its transformer's records, cached for the
    /// next scrapes when `scope` is given.
    #[allow(clippy::too_many_arguments)]
    fn emit_prepared(
        &mut self,
        config: &ScraperConfig,
        transformer: &Transformer,
        names: &Names,
        family_name: &str,
        sample: &Sample<'_>,
        prepared: ScrapeResult<Option<Prepared<'_, '_>>>,
        scope: Option<u32>,
        value: f64,
        now: f64,
        out: &mut Vec<Record>,
    ) -> ScrapeResult<()> {
        {
            let Some(p) = prepared? else {
                if let Some(scope) = scope {
                    let (name, labels) = (&sample.name, sample.label_text);
                    self.series
                        .insert(scope, name, labels, false, ValueOp::Same, &[]);
                }
                return Ok(());
            };
            self.processed += 1;
            let Some((op, planned)) = plan(config, transformer, names, family_name, &p)? else {
                emit_other(transformer, names, p, out)?;
                return Ok(());
            };
            let tags = Arc::new(TagList {
                labels: p.tags,
                with_static: true,
                suffix: None,
            });
            let hostname: Arc<str> = Arc::from(p.hostname);
            let emissions: Vec<Emission> = planned
                .into_iter()
                .map(|(method, name)| Emission {
                    method,
                    name: name.clone(),
                    tags: tags.clone(),
                    hostname: hostname.clone(),
                })
                .collect();
            let value = apply(op, value, now);
            let first_slot = scope.and_then(|scope| {
                let (name, labels) = (&sample.name, sample.label_text);
                self.series
                    .insert(scope, name, labels, true, op, &emissions)
            });
            for (i, e) in emissions.into_iter().enumerate() {
                out.push(match first_slot {
                    Some(first) => Record::Cached {
                        slot: first + i as u32,
                        value,
                    },
                    None => Record::Metric(Box::new(MetricRecord {
                        method: e.method,
                        name: e.name,
                        value,
                        tags: e.tags,
                        hostname: e.hostname,
                    })),
                });
            }
        }
        Ok(())
    }

    /// The method, name, tags and hostname of a `Record::Cached` slot.
    pub fn emission(&self, slot: u32) -> Option<&Emission> {
        self.series.emission(slot)
    }

    /// Starts a scrape (the series cache applies a reset decided at the end of the last one).
    pub fn begin_scrape(&mut self) {
        self.series.begin_scrape();
    }

    /// Ends a scrape (the series cache decides whether what went stale is dropped).
    pub fn end_scrape(&mut self) {
        self.series.end_scrape();
    }
}

fn overflow_error() -> ScrapeError {
    ScrapeError::new(ErrorKind::Overflow, "int too large to convert to float")
}

#[inline]
fn apply(op: ValueOp, value: f64, now: f64) -> f64 {
    match op {
        ValueOp::Same => value,
        ValueOp::Elapsed => now - value,
        ValueOp::Percent(scale) => value / scale * 100.0,
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
        return Err(overflow_error());
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
    Record::Metric(Box::new(MetricRecord {
        method,
        name: name.clone(),
        value,
        tags: Arc::new(TagList {
            labels: tags,
            with_static: true,
            suffix: None,
        }),
        hostname: Arc::from(hostname),
    }))
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

/// The metrics the per-type transformer makes of one prepared sample: how their value follows
/// from the sample value, and their (method, name): none, one, or two (`counter_gauge`). `None`
/// for the transformers whose output is not a metric (`service_check`, `metadata`).
#[allow(clippy::type_complexity)]
fn plan<'n>(
    config: &ScraperConfig,
    transformer: &Transformer,
    names: &'n Names,
    family_name: &str,
    p: &Prepared<'_, '_>,
) -> ScrapeResult<Option<(ValueOp, Vec<(Method, &'n Arc<str>)>)>> {
    use Method::*;
    use ValueOp::Same;
    let sample_name: &str = &p.sample.name;
    let one = |op, method, name| Ok(Some((op, vec![(method, name)])));
    let none = || Ok(Some((Same, Vec::new())));
    match &transformer.kind {
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
fn emit_other(
    transformer: &Transformer,
    names: &Names,
    p: Prepared<'_, '_>,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    match &transformer.kind {
        TransformKind::ServiceCheck(status_map) => {
            // int() truncates toward zero
            let key = p.sample.value.value.trunc();
            let status = if key.abs() < 9.2e18 {
                status_map.get(&(key as i64)).copied().unwrap_or(3)
            } else {
                3
            };
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
                id: transformer.id,
                name: names.base.clone(),
                value: value.to_string(),
            })));
        }
        _ => {}
    }
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
