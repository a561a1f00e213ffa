//! One scrape: response text → parser chosen like the stock check → families → records.

use std::borrow::Cow;

use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::lex::Lines;
use crate::model::{Family, MetricType};
use crate::parse::{openmetrics, prom};
use crate::percentiles::{self, PercentileState};
use crate::transform::config::ScraperConfig;
use crate::transform::record::Record;
use crate::transform::share::{ShareSource, TARGET_INFO};
use crate::transform::{Handover, Resolve, Transformer, HANDOVER_BATCH};

/// The exposition format a body is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

/// The stock choice: OpenMetrics when `use_latest_spec` is set or when the media type (the
/// Content-Type up to the first `;`, taken as is) is exactly `application/openmetrics-text`.
pub fn choose_format(content_type: &str, use_latest_spec: bool) -> Format {
    let media_type = content_type.split(';').next().unwrap_or("");
    if use_latest_spec || media_type == "application/openmetrics-text" {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// UTF-8 text of a body, with invalid sequences replaced by U+FFFD as Python's
/// `errors="replace"` decoding does.
pub fn decode_utf8(body: &[u8]) -> Cow<'_, str> {
    // validation alone is several times faster than the lossy conversion's chunked scan
    match std::str::from_utf8(body) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    }
}

/// What a scrape produced: the records in submission order, and the error it stopped at, if any
/// (records made before the error are kept, as the stock check has already submitted them).
#[derive(Debug, Default)]
pub struct ScrapeOutput {
    pub records: Vec<Record>,
    pub error: Option<ScrapeError>,
    /// With `use_process_start_time` on a first scrape: the records from this index on come from
    /// the held-back counter, histogram and summary families, and `held_flush` is the
    /// `flush_first_value` they are submitted with.
    pub held_start: Option<usize>,
    pub held_flush: bool,
    /// The number of samples of each family parsed, in order (`telemetry.metrics.input.count`).
    pub input_samples: Vec<usize>,
    /// The lines `raw_line_filters` dropped before the scrape ended
    /// (`telemetry.metrics.blacklist.count`).
    pub filtered_lines: usize,
}

/// `use_process_start_time` while no scrape has succeeded yet: the Agent's start time (None when
/// the Agent does not know it).
#[derive(Clone, Copy, Debug)]
pub struct FirstScrape {
    pub agent_start_time: Option<f64>,
}

/// What a scraper keeps from one scrape to the next: the transformer's caches, and the bucket
/// counts `latency_percentiles` compares.
#[derive(Default)]
pub struct ScraperState {
    pub transformer: Transformer,
    pub percentiles: PercentileState,
}

/// Takes the records of a scrape while it runs, in order, and empties the vector: the `Option`
/// is the `flush_first_value` of the held-back families' records (`use_process_start_time`),
/// `None` for all others. An error stops the scrape.
pub type HandoverFn<'f> =
    &'f mut dyn FnMut(&mut Vec<Record>, Option<bool>, &Transformer) -> ScrapeResult<()>;

/// The optional hand-over of a streaming scrape, by batches; after a failed hand-over nothing
/// more is handed over.
struct BatchHandover<'f> {
    hand_over: Option<HandoverFn<'f>>,
    failed: bool,
    /// The `flush_first_value` of the records now being made (the held-back families').
    held: Option<bool>,
}

impl BatchHandover<'_> {
    /// Hands `records` over when they are a full batch, or whatever there is when `all`.
    fn batch(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &Transformer,
        all: bool,
    ) -> ScrapeResult<()> {
        let Some(hand_over) = self.hand_over.as_mut() else {
            return Ok(());
        };
        if self.failed || records.is_empty() || (!all && records.len() < HANDOVER_BATCH) {
            return Ok(());
        }
        hand_over(records, self.held, transformer).inspect_err(|_| self.failed = true)
    }
}

impl Handover for BatchHandover<'_> {
    fn hand_over(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &Transformer,
    ) -> ScrapeResult<()> {
        self.batch(records, transformer, false)
    }
}

/// Where a family goes once it is released (by the first-scrape hold and the `share_labels`
/// stage), in the stock check's order: `target_info` labels updated (unless the family is
/// excluded), the family resolved (exclusion, then the metric map), transformed, and observed
/// by `latency_percentiles` (estimates from its bucket changes, after its own records).
struct Emitter<'c, 'r, 's, 'f> {
    config: &'c ScraperConfig,
    /// The whole body (`transform::supersede` looks for a current family in it).
    body: &'c str,
    resolver: &'r mut dyn Resolve,
    state: &'s mut ScraperState,
    records: Vec<Record>,
    handover: BatchHandover<'f>,
}

impl Emitter<'_, '_, '_, '_> {
    fn emit(&mut self, mut family: Family<'_>) -> ScrapeResult<()> {
        let config = self.config;
        if config.share.target_info
            && family.name == TARGET_INFO
            && !self.resolver.is_excluded(&family.name)?
        {
            self.state
                .transformer
                .sharing
                .update_target_info(&family)
                .map_err(|m| ScrapeError::new(ErrorKind::Index, m))?;
        }
        let Some(spec) = self.resolver.resolve(&family)? else {
            return Ok(());
        };
        // an old family is not sent when the body has its current one (transform::supersede)
        if config.superseded.drops(
            &family.name,
            self.body,
            &config.raw_metric_prefix,
            config.raw_line_filter.as_ref(),
        ) {
            return Ok(());
        }
        let (state, records) = (&mut *self.state, &mut self.records);
        state
            .transformer
            .transform(config, &spec, &mut family, records, &mut self.handover)?;
        percentiles::observe(config, &mut state.percentiles, &spec, &mut family, records);
        self.batch(false)
    }

    /// Hands a full batch of records over (everything there is, when `all`).
    fn batch(&mut self, all: bool) -> ScrapeResult<()> {
        self.handover
            .batch(&mut self.records, &self.state.transformer, all)
    }
}

/// The `share_labels` stage: while configured sources are still to be seen, families wait here;
/// once the last source has been collected (or the stream ends) they go out in order.
struct ShareStage<'t> {
    pending: Vec<(String, ShareSource)>,
    buffer: Vec<Family<'t>>,
}

impl<'t> ShareStage<'t> {
    fn push(
        &mut self,
        family: Family<'t>,
        emitter: &mut Emitter<'_, '_, '_, '_>,
    ) -> ScrapeResult<()> {
        if self.pending.is_empty() {
            return emitter.emit(family);
        }
        // every configured source of this name collects from it, once
        let sharing = &mut emitter.state.transformer.sharing;
        self.pending.retain(|(name, source)| {
            let hit = *name == family.name;
            if hit {
                sharing.collect(&family, source);
            }
            !hit
        });
        self.buffer.push(family);
        if self.pending.is_empty() {
            emitter.state.transformer.sharing.cached = true;
            self.flush(emitter)?;
        }
        Ok(())
    }

    /// The waiting families go out in order, until one fails (those before it are sent).
    fn flush(&mut self, emitter: &mut Emitter<'_, '_, '_, '_>) -> ScrapeResult<()> {
        for family in self.buffer.drain(..) {
            emitter.emit(family)?;
        }
        Ok(())
    }
}

/// One scrape in progress, fed the parsed families one at a time (`on_family`); the stock
/// scraper's chain of generators (prefix strip and input telemetry, the first-scrape hold, the
/// `share_labels` stage, then exclusion, lookup and transform) as one value.
struct Scrape<'t, 'c, 'r, 's, 'f> {
    emitter: Emitter<'c, 'r, 's, 'f>,
    first_scrape: Option<FirstScrape>,
    stage: ShareStage<'t>,
    /// This scrape collects `share_labels` sources (none cached from an earlier scrape).
    collecting: bool,
    /// First scrape with `use_process_start_time`: families with counters wait for the end of
    /// the stream, and the smallest `process_start_time_seconds` decides how they are flushed.
    held: Vec<Family<'t>>,
    process_start_time: Option<f64>,
    input_samples: Vec<usize>,
}

impl<'t> Scrape<'t, '_, '_, '_, '_> {
    /// A family as the parser hands it over.
    fn on_family(&mut self, mut family: Family<'t>) -> ScrapeResult<()> {
        let config = self.emitter.config;
        self.input_samples.push(family.samples.len());
        if !config.raw_metric_prefix.is_empty() {
            if let Some(stripped) = family.name.strip_prefix(config.raw_metric_prefix.as_str()) {
                family.name = Cow::Owned(stripped.to_string());
            }
        }
        if config.share.is_configured() {
            // shared labels are collected from, and added to, parsed labels
            family.ensure_labels();
        }
        if self.first_scrape.is_some() {
            self.note_process_start_time(&family);
            if matches!(
                family.typ,
                MetricType::Counter | MetricType::Histogram | MetricType::Summary
            ) {
                self.held.push(family);
                return Ok(());
            }
        }
        self.stage.push(family, &mut self.emitter)?;
        self.emitter.batch(false)
    }

    fn note_process_start_time(&mut self, family: &Family<'_>) {
        if family.name != "process_start_time_seconds" {
            return;
        }
        let min = family
            .samples
            .iter()
            .map(|s| s.value.value)
            .reduce(|a, b| if b < a { b } else { a });
        if let Some(min) = min {
            if self.process_start_time.is_none_or(|p| min < p) {
                self.process_start_time = Some(min);
            }
        }
    }

    /// After a complete stream on a first scrape: the held families go out, with their own
    /// `flush_first_value`.
    fn release_held(&mut self, first: FirstScrape, out: &mut ScrapeOutput) -> ScrapeResult<()> {
        let flushed = self.emitter.batch(true);
        out.held_start = Some(self.emitter.records.len());
        out.held_flush = matches!(
            (self.process_start_time, first.agent_start_time),
            (Some(p), Some(a)) if p > a
        );
        self.emitter.handover.held = Some(out.held_flush);
        flushed?;
        for family in std::mem::take(&mut self.held) {
            self.stage.push(family, &mut self.emitter)?;
            self.emitter.batch(false)?;
        }
        Ok(())
    }

    /// The end of the stream, `result` being how parsing ended: held families released after a
    /// complete stream, the `share_labels` state settled, the last records flushed.
    fn finish(mut self, result: ScrapeResult<()>, mut out: ScrapeOutput) -> ScrapeOutput {
        out.error = result.err();
        if let (Some(first), None) = (self.first_scrape, &out.error) {
            out.error = self.release_held(first, &mut out).err();
        }
        // a stream that ended before every source was seen releases what it held
        if out.error.is_none() {
            if self.collecting {
                self.emitter.state.transformer.sharing.cached = true;
            }
            out.error = self.stage.flush(&mut self.emitter).err();
        }
        let share = &self.emitter.config.share;
        let state = &mut *self.emitter.state;
        if share.is_configured() && !share.cache {
            state.transformer.sharing.clear();
        }
        // what is left goes out (the records made before an error are submitted too)
        if let Err(e) = self.emitter.batch(true) {
            out.error = Some(e);
        }
        self.emitter.state.transformer.end_scrape();
        out.records = self.emitter.records;
        out.input_samples = self.input_samples;
        out
    }
}

/// Parses `text` in `format` and transforms every family the resolver maps; the records are
/// returned all together.
pub fn scrape(
    text: &str,
    format: Format,
    config: &ScraperConfig,
    resolver: &mut dyn Resolve,
    state: &mut ScraperState,
    first_scrape: Option<FirstScrape>,
) -> ScrapeOutput {
    scrape_streaming(text, format, config, resolver, state, first_scrape, None)
}

/// `scrape`, with the records handed to `hand_over` in batches as they are made (then the output
/// holds none) when it is given.
pub fn scrape_streaming<'t>(
    text: &'t str,
    format: Format,
    config: &ScraperConfig,
    resolver: &mut dyn Resolve,
    state: &mut ScraperState,
    first_scrape: Option<FirstScrape>,
    hand_over: Option<HandoverFn<'_>>,
) -> ScrapeOutput {
    let mut records = std::mem::take(&mut state.transformer.spare_records);
    records.clear();
    state.transformer.begin_scrape();
    // An empty Prometheus body is an endpoint with no metrics. (An empty OpenMetrics body lacks its
    // `# EOF` and is rejected, as the OpenMetrics conformance cases require; the stock check skips
    // parsing and reports success.)
    if text.is_empty() && format == Format::Prometheus {
        return ScrapeOutput {
            records,
            ..ScrapeOutput::default()
        };
    }
    let share = &config.share;
    let collecting = share.is_configured() && (!share.cache || !state.transformer.sharing.cached);
    let mut scrape = Scrape {
        emitter: Emitter {
            config,
            body: text,
            resolver,
            state,
            records,
            handover: BatchHandover {
                hand_over,
                failed: false,
                held: None,
            },
        },
        first_scrape,
        stage: ShareStage {
            pending: if collecting {
                share.pending_sources()
            } else {
                Vec::new()
            },
            buffer: Vec::new(),
        },
        collecting,
        held: Vec::new(),
        process_start_time: None,
        input_samples: Vec::new(),
    };
    let mut lines = Lines::filtered_by(text, config.raw_line_filter.clone());
    let mut sink = |family: Family<'t>| scrape.on_family(family);
    let result = match format {
        Format::Prometheus => prom::parse_lines(&mut lines, &mut sink),
        Format::OpenMetrics => openmetrics::parse_lines(&mut lines, &mut sink),
    };
    let out = ScrapeOutput {
        filtered_lines: lines.filtered(),
        ..ScrapeOutput::default()
    };
    scrape.finish(result, out)
}

#[cfg(test)]
mod tests;
