//! One scrape: response text → parser chosen like the stock check → families → records.

use std::borrow::Cow;

use std::sync::Arc;

use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::model::{Family, MetricType};
use crate::parse::{openmetrics, prom};
use crate::percentiles::{self, PercentileState};
use crate::transform::config::{ScraperConfig, Transformer};
use crate::transform::record::Record;
use crate::transform::share::{ShareSource, TARGET_INFO};
use crate::transform::{FamilyTransformer, Resolve, Spill, SPILL_BATCH};

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
    pub transformer: FamilyTransformer,
    pub percentiles: PercentileState,
}

/// A parsed family on its way to the transformer.
struct Outgoing<'t> {
    family: Family<'t>,
    resolved: Option<Arc<Transformer>>,
    /// It is a `target_info` family (not excluded) whose labels replace the kept ones.
    target_info_update: bool,
}

impl Outgoing<'_> {
    /// `target_info` labels updated, then the family transformed, then observed by
    /// `latency_percentiles` (estimates from its bucket changes, after its own records).
    fn emit(
        mut self,
        config: &ScraperConfig,
        state: &mut ScraperState,
        records: &mut Vec<Record>,
        spill: &mut dyn Spill,
    ) -> ScrapeResult<()> {
        if self.target_info_update {
            state
                .transformer
                .sharing
                .update_target_info(&self.family)
                .map_err(|m| ScrapeError::new(ErrorKind::Index, m))?;
        }
        match self.resolved {
            Some(t) => {
                let family = &mut self.family;
                state
                    .transformer
                    .transform(config, &t, family, records, spill)?;
                percentiles::observe(config, &mut state.percentiles, &t, family, records);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The `share_labels` stage: while configured sources are still to be seen, families wait here;
/// once the last source has been collected (or the stream ends) they go out in order.
struct ShareStage<'t> {
    pending: Vec<(String, ShareSource)>,
    buffer: Vec<Outgoing<'t>>,
}

impl<'t> ShareStage<'t> {
    fn push(
        &mut self,
        outgoing: Outgoing<'t>,
        config: &ScraperConfig,
        state: &mut ScraperState,
        records: &mut Vec<Record>,
        spill: &mut dyn Spill,
    ) -> ScrapeResult<()> {
        if self.pending.is_empty() {
            return outgoing.emit(config, state, records, spill);
        }
        // every configured source of this name collects from it, once
        let sharing = &mut state.transformer.sharing;
        let family = &outgoing.family;
        self.pending.retain(|(name, source)| {
            let hit = *name == family.name;
            if hit {
                sharing.collect(family, source);
            }
            !hit
        });
        self.buffer.push(outgoing);
        if self.pending.is_empty() {
            state.transformer.sharing.cached = true;
            self.flush(config, state, records, spill)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        config: &ScraperConfig,
        state: &mut ScraperState,
        records: &mut Vec<Record>,
        spill: &mut dyn Spill,
    ) -> ScrapeResult<()> {
        for outgoing in self.buffer.drain(..) {
            outgoing.emit(config, state, records, spill)?;
        }
        Ok(())
    }
}

/// Takes the records of a scrape while it runs, in order, and empties the vector: the `Option`
/// is the `flush_first_value` of the held-back families' records (`use_process_start_time`),
/// `None` for all others. An error stops the scrape.
pub type Flush<'f> =
    &'f mut dyn FnMut(&mut Vec<Record>, Option<bool>, &FamilyTransformer) -> ScrapeResult<()>;

/// The optional flush of a streaming scrape; after a failed flush nothing more is flushed.
struct Stream<'f> {
    flush: Option<Flush<'f>>,
    failed: bool,
    /// The `flush_first_value` of the records now being made (the held-back families').
    held: Option<bool>,
}

impl Stream<'_> {
    /// Flushes `records` when they are a full batch, or whatever there is when `all`.
    fn batch(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &FamilyTransformer,
        all: bool,
    ) -> ScrapeResult<()> {
        let Some(flush) = self.flush.as_mut() else {
            return Ok(());
        };
        if self.failed || records.is_empty() || (!all && records.len() < SPILL_BATCH) {
            return Ok(());
        }
        flush(records, self.held, transformer).inspect_err(|_| self.failed = true)
    }
}

impl Spill for Stream<'_> {
    fn spill(
        &mut self,
        records: &mut Vec<Record>,
        transformer: &FamilyTransformer,
    ) -> ScrapeResult<()> {
        self.batch(records, transformer, false)
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

/// `scrape`, with the records handed to `flush` in batches as they are made (then the output
/// holds none) when it is given.
pub fn scrape_streaming<'t>(
    text: &'t str,
    format: Format,
    config: &ScraperConfig,
    resolver: &mut dyn Resolve,
    state: &mut ScraperState,
    first_scrape: Option<FirstScrape>,
    flush: Option<Flush<'_>>,
) -> ScrapeOutput {
    let mut stream = Stream {
        flush,
        failed: false,
        held: None,
    };
    let mut out = ScrapeOutput {
        records: std::mem::take(&mut state.transformer.spare_records),
        ..ScrapeOutput::default()
    };
    out.records.clear();
    state.transformer.begin_scrape();
    // An empty Prometheus body is an endpoint with no metrics. (An empty OpenMetrics body lacks its
    // `# EOF` and is rejected, as the OpenMetrics conformance cases require; the stock check skips
    // parsing and reports success.)
    if text.is_empty() && format == Format::Prometheus {
        return out;
    }
    let share = &config.share;
    let collecting = share.is_configured() && (!share.cache || !state.transformer.sharing.cached);
    let mut stage = ShareStage {
        pending: if collecting {
            share.pending_sources()
        } else {
            Vec::new()
        },
        buffer: Vec::new(),
    };
    let records = &mut out.records;
    // first scrape with `use_process_start_time`: families with counters wait for the end of the
    // stream, and the smallest `process_start_time_seconds` decides how they are flushed
    let mut held: Vec<Outgoing<'t>> = Vec::new();
    let mut process_start_time: Option<f64> = None;
    let mut sink = |mut family: Family<'t>| -> Result<(), ScrapeError> {
        if !config.raw_metric_prefix.is_empty() {
            if let Some(stripped) = family.name.strip_prefix(config.raw_metric_prefix.as_str()) {
                family.name = Cow::Owned(stripped.to_string());
            }
        }
        if share.is_configured() {
            // shared labels are collected from, and added to, parsed labels
            family.ensure_labels();
        }
        let resolved = resolver.resolve(&family)?;
        // an old family is not sent when the body has its current one (transform::supersede)
        let resolved = resolved.filter(|_| {
            !config
                .superseded
                .drops(&family.name, text, &config.raw_metric_prefix)
        });
        // the stock check updates `target_info` labels from a family that is not excluded
        let target_info_update = share.target_info
            && family.name == TARGET_INFO
            && !resolver.is_excluded(&family.name)?;
        let is_counter_family = matches!(
            family.typ,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        );
        if first_scrape.is_some() && family.name == "process_start_time_seconds" {
            let min =
                family
                    .samples
                    .iter()
                    .map(|s| s.value.value)
                    .reduce(|a, b| if b < a { b } else { a });
            if let Some(min) = min {
                if process_start_time.is_none_or(|p| min < p) {
                    process_start_time = Some(min);
                }
            }
        }
        let outgoing = Outgoing {
            family,
            resolved,
            target_info_update,
        };
        if first_scrape.is_some() && is_counter_family {
            held.push(outgoing);
            return Ok(());
        }
        stage.push(outgoing, config, state, records, &mut stream)?;
        stream.batch(records, &state.transformer, false)
    };
    let result = match format {
        Format::Prometheus => prom::parse(text, &mut sink),
        Format::OpenMetrics => openmetrics::parse(text, &mut sink),
    };
    out.error = result.err();
    // held families go out only after a complete stream
    if let (Some(first), None) = (first_scrape, &out.error) {
        if let Err(e) = stream.batch(&mut out.records, &state.transformer, true) {
            out.error = Some(e);
        }
        out.held_start = Some(out.records.len());
        out.held_flush = matches!(
            (process_start_time, first.agent_start_time),
            (Some(p), Some(a)) if p > a
        );
        stream.held = Some(out.held_flush);
        for outgoing in held {
            if out.error.is_some() {
                break;
            }
            let pushed = stage
                .push(outgoing, config, state, &mut out.records, &mut stream)
                .and_then(|()| stream.batch(&mut out.records, &state.transformer, false));
            if let Err(e) = pushed {
                out.error = Some(e);
            }
        }
    }
    // a stream that ended before every source was seen releases what it held
    if out.error.is_none() && !stage.buffer.is_empty() {
        if collecting {
            state.transformer.sharing.cached = true;
        }
        if let Err(e) = stage.flush(config, state, &mut out.records, &mut stream) {
            out.error = Some(e);
        }
    } else if out.error.is_none() && collecting {
        state.transformer.sharing.cached = true;
    }
    if share.is_configured() && !share.cache {
        state.transformer.sharing.clear();
    }
    // what is left goes out (the records made before an error are submitted too)
    if let Err(e) = stream.batch(&mut out.records, &state.transformer, true) {
        out.error = Some(e);
    }
    state.transformer.end_scrape();
    out
}
