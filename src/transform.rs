//! From parsed families to submissions: the per-sample pipeline of the stock scraper (value
//! filter, label normalization, tag building, hostname) followed by the per-type transformer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{ScraperConfig, TransformKind, Transformer};
use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::model::{Family, MetricType, Sample};
pub use crate::record::{
    BucketRecord, MetadataRecord, Method, MetricRecord, Record, ServiceCheckRecord, Spill, TagList,
    SPILL_BATCH,
};
use crate::series::{Emission, SeriesCache, ValueOp};
use crate::share::LabelSharing;
use crate::tags::{build_label_tags, hostname_for, LabelView, NumberCache};

/// Decides, for each family (after prefix stripping), which transformer applies, or none.
pub trait Resolve {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>>;

    /// Whether `exclude_metrics` drops this family (asked only for `target_info`).
    fn is_excluded(&mut self, _name: &str) -> ScrapeResult<bool> {
        Ok(false)
    }
}

/// A sample that passed the per-sample pipeline.
pub(crate) struct Prepared<'s, 'a> {
    pub sample: &'s Sample<'a>,
    /// The labels after the stock normalization (`le` → trailing `upper_bound`, canonical
    /// `quantile`), in the stock order.
    pub labels: LabelView<'s>,
    pub tags: Vec<String>,
    pub hostname: String,
}

impl Prepared<'_, '_> {
    pub fn upper_bound(&self) -> Option<&str> {
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
pub(crate) struct Names {
    pub base: Arc<str>,
    pub count: Arc<str>,
    pub sum: Arc<str>,
    pub bucket: Arc<str>,
    pub quantile: Arc<str>,
    pub total: Arc<str>,
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
            return crate::histogram::emit_decumulated(
                &config.histogram,
                config,
                names,
                prepared,
                out,
            );
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

pub(crate) fn metric(
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

pub(crate) fn missing_upper_bound() -> ScrapeError {
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
