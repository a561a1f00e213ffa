//! From parsed families to submissions: the per-sample pipeline of the stock scraper (value
//! filter, label normalization, tag building, hostname) followed by the per-type transformer.
//!
//! The layers, each using only the ones before it: `config` (the options, with `share`'s), `record`
//! (what comes out), `tags` and `prepare` (the per-sample pipeline), `series` (the cache of what
//! each series emits), `emit` and `histogram` (the per-type transformers), `route` and
//! `route_plan` (label routes), `supersede` (renamed families), `info` and `info_emit` (info
//! families as gauges), then the
//! `FamilyTransformer` here, which runs a family through them.

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

use config::{ScraperConfig, TransformKind, Transformer};
use emit::{emit_other, Names};
use prepare::{overflow_error, prepare, Prepared};
use record::{MetricRecord, Record};
use series::{Emission, SeriesCache, ValueOp};
use share::LabelSharing;
use tags::NumberCache;

/// Decides, for each family (after prefix stripping), which transformer applies, or none.
pub trait Resolve {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>>;

    /// Whether `exclude_metrics` drops this family (asked only for `target_info`).
    fn is_excluded(&mut self, _name: &str) -> ScrapeResult<bool> {
        Ok(false)
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

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
        if let Some(spec) = config.info_gauges.get(&transformer.id) {
            self.processed += 1;
            return info_emit::emit_info(config, spec, family, &mut self.numbers, out);
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
            return histogram::emit_decumulated(&config.histogram, config, names, prepared, out);
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
                    let value = entry.op.apply(value, now);
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
            let Some((op, planned)) =
                route_plan::plan_routed(config, transformer, names, family_name, &p)?
            else {
                emit_other(transformer, names, p, out)?;
                return Ok(());
            };
            let emissions = route_plan::emissions(planned, p.tags, p.hostname);
            let value = op.apply(value, now);
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
