//! From parsed families to submissions: the per-sample pipeline of the stock scraper (value
//! filter, label normalization, tag building, hostname) followed by the per-type transformer.
//!
//! The layers, each using only the ones before it: `config` (the options, with `share`'s), `record`
//! (what comes out), `tags` and `prepare` (the per-sample pipeline), `series` (the cache of what
//! each series emits), `emit` and `histogram` (the per-type transformers), `route` and
//! `route_plan` (label routes), `supersede` (renamed families), `info` and `info_emit` (info
//! families as gauges), then the `Transformer` here, which runs a family through them with the
//! `MetricSpec` the resolver gave it.

pub mod config;
pub(crate) mod emit;
pub(crate) mod histogram;
pub mod info;
pub(crate) mod info_emit;
pub(crate) mod prepare;
pub mod record;
pub mod route;
pub(crate) mod route_plan;
pub(crate) mod series;
pub(crate) mod share;
pub mod supersede;
pub(crate) mod tags;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ScrapeResult;
use crate::model::{Family, MetricType, Sample};

use config::{MetricSpec, ScraperConfig, TransformKind};
use emit::{emit_other, Names};
use prepare::{overflow_error, prepare, Prepared};
use record::{MetricRecord, Record};
use series::{Emission, SeriesCache, ValueOp};
use share::LabelSharing;
use tags::NumberCache;

/// Decides, for each family (after prefix stripping), its `MetricSpec`, or none.
pub trait Resolve {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>>;

    /// Whether `exclude_metrics` drops this family (asked only for `target_info`).
    fn is_excluded(&mut self, _name: &str) -> ScrapeResult<bool> {
        Ok(false)
    }
}

/// Records at which the transformer hands what it made so far over (`Handover`).
pub const HANDOVER_BATCH: usize = 2048;

/// Takes records early, while a family is still being transformed (a streaming scrape submits
/// them), so that the records of a big family never all exist at once.
pub trait Handover {
    fn hand_over(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &Transformer,
    ) -> ScrapeResult<()>;
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What every sample of one family shares on its way through `Transformer::transform`.
struct SampleContext<'a> {
    config: &'a ScraperConfig,
    spec: &'a MetricSpec,
    names: &'a Names,
    family_name: &'a str,
    family_type: MetricType,
    /// The family's series cache scope (none: its samples are not cached).
    scope: Option<u32>,
    now: f64,
}

/// Turns families into records for one scraper, each by the `MetricSpec` it was resolved to; keeps
/// derived names, the series cache and shared labels across families and scrapes.
pub struct Transformer {
    names: HashMap<String, Arc<Names>>,
    numbers: NumberCache,
    /// Samples handed to a transformer since the last `take_processed` (telemetry).
    processed: usize,
    /// Labels collected for `share_labels`.
    pub sharing: LabelSharing,
    pub series: SeriesCache,
    /// An empty record vector whose capacity the next scrape reuses.
    pub spare_records: Vec<Record>,
}

impl Default for Transformer {
    fn default() -> Self {
        Self::new()
    }
}

impl Transformer {
    pub fn new() -> Self {
        Transformer {
            names: HashMap::new(),
            numbers: NumberCache::default(),
            processed: 0,
            sharing: LabelSharing::default(),
            series: SeriesCache::default(),
            spare_records: Vec::new(),
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
        spec: &MetricSpec,
        family: &mut Family<'_>,
        out: &mut Vec<Record>,
        spill: &mut dyn Handover,
    ) -> ScrapeResult<()> {
        if !self.sharing.is_empty() {
            for sample in family.samples.iter_mut() {
                sample.ensure_labels();
                self.sharing.populate(&mut sample.labels);
            }
        }
        if let Some(info) = config.info_gauges.get(&spec.id) {
            self.processed += 1;
            return info_emit::emit_info(config, info, family, &mut self.numbers, out);
        }
        let names = Self::names(&mut self.names, &spec.name);
        if spec.kind == TransformKind::Histogram
            && (config.histogram.non_cumulative || config.histogram.distributions)
        {
            return self.transform_decumulated(config, &names, family, out);
        }
        // Deliberate fix: an OpenMetrics counter's `_created` sample is its creation time, not a
        // count; the stock check submits it as a second `.count` value of the same context.
        let skip_created = family.typ == MetricType::Counter
            && matches!(
                spec.kind,
                TransformKind::Counter | TransformKind::CounterGauge
            );
        let cx = SampleContext {
            config,
            spec,
            names: &names,
            family_name: &family.name,
            family_type: family.typ,
            scope: self.series_scope(config, spec, family),
            now: now_seconds(),
        };
        for sample in family.samples.iter_mut() {
            if out.len() >= HANDOVER_BATCH {
                spill.hand_over(out, self)?;
            }
            if skip_created && sample.name.ends_with("_created") {
                continue;
            }
            // the value checks come first, as in the stock pipeline
            if sample.value.overflow {
                return Err(overflow_error());
            }
            if !sample.value.value.is_finite() {
                continue;
            }
            if !self.emit_cached(&cx, sample, out) {
                self.emit_sample(&cx, sample, out)?;
            }
        }
        Ok(())
    }

    /// A histogram family with `non_cumulative_histogram_buckets` or distributions: all its
    /// samples prepared, then decumulated together.
    fn transform_decumulated(
        &mut self,
        config: &ScraperConfig,
        names: &Names,
        family: &mut Family<'_>,
        out: &mut Vec<Record>,
    ) -> ScrapeResult<()> {
        family.ensure_labels();
        let mut prepared = Vec::with_capacity(family.samples.len());
        for sample in family.samples.iter() {
            if let Some(p) = prepare(config, family.typ, sample, &mut self.numbers)? {
                self.processed += 1;
                prepared.push(p);
            }
        }
        histogram::emit_decumulated(&config.histogram, config, names, prepared, out)
    }

    /// The series cache scope of a family's samples; none when they are not cached: shared
    /// labels can change their tags from scrape to scrape, or the transformer's output depends
    /// on more than the value.
    fn series_scope(
        &mut self,
        config: &ScraperConfig,
        spec: &MetricSpec,
        family: &Family<'_>,
    ) -> Option<u32> {
        let cacheable = !config.share.is_configured()
            && !matches!(
                spec.kind,
                TransformKind::ServiceCheck(_) | TransformKind::Metadata(_)
            );
        cacheable.then(|| {
            self.series.scope(format!(
                "{}\0{:?}\0{}\0{}",
                family.typ.as_str(),
                spec.kind,
                spec.name,
                family.name
            ))
        })
    }

    /// The records of a sample whose series is cached, from the cache; false when it is not.
    fn emit_cached(
        &mut self,
        cx: &SampleContext<'_>,
        sample: &Sample<'_>,
        out: &mut Vec<Record>,
    ) -> bool {
        let Some(scope) = cx.scope else {
            return false;
        };
        let Some(entry) = self.series.get(scope, &sample.name, sample.label_text) else {
            return false;
        };
        self.processed += usize::from(entry.processed);
        let value = entry.op.apply(sample.value.value, cx.now);
        for slot in entry.first_slot..entry.first_slot + u32::from(entry.count) {
            out.push(Record::Cached { slot, value });
        }
        true
    }

    /// A sample not cached: its labels parsed, the per-sample pipeline, its transformer.
    fn emit_sample(
        &mut self,
        cx: &SampleContext<'_>,
        sample: &mut Sample<'_>,
        out: &mut Vec<Record>,
    ) -> ScrapeResult<()> {
        // labels parsed here are dropped again once used (below): a big family holds its
        // label blocks, not their parsed form
        let reparse = sample.pending && self.sharing.is_empty();
        sample.ensure_labels();
        let prepared = prepare(cx.config, cx.family_type, sample, &mut self.numbers);
        let emitted = self.emit_prepared(cx, sample, prepared, out);
        if reparse {
            sample.release_labels();
        }
        emitted
    }

    /// The slow path of `transform` for one sample: its transformer's records, cached for the
    /// next scrapes when the family has a series scope.
    fn emit_prepared(
        &mut self,
        cx: &SampleContext<'_>,
        sample: &Sample<'_>,
        prepared: ScrapeResult<Option<Prepared<'_, '_>>>,
        out: &mut Vec<Record>,
    ) -> ScrapeResult<()> {
        let (name, labels) = (&sample.name, sample.label_text);
        let Some(p) = prepared? else {
            if let Some(scope) = cx.scope {
                self.series
                    .insert(scope, name, labels, false, ValueOp::Same, &[]);
            }
            return Ok(());
        };
        self.processed += 1;
        let Some((op, planned)) =
            route_plan::plan_routed(cx.config, cx.spec, cx.names, cx.family_name, &p)?
        else {
            emit_other(cx.spec, cx.names, p, out)?;
            return Ok(());
        };
        let emissions = route_plan::emissions(planned, p.tags, p.hostname);
        let value = op.apply(sample.value.value, cx.now);
        let first_slot = cx.scope.and_then(|scope| {
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
