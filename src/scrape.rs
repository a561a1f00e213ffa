//! One scrape: response text → parser chosen like the stock check → families → records.

use std::borrow::Cow;

use crate::config::ScraperConfig;
use crate::model::{Family, ScrapeError};
use crate::transform::{FamilyTransformer, Record, Resolve};
use crate::{openmetrics, prom};

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
    String::from_utf8_lossy(body)
}

/// What a scrape produced: the records in submission order, and the error it stopped at, if any
/// (records made before the error are kept, as the stock check has already submitted them).
#[derive(Debug, Default)]
pub struct ScrapeOutput {
    pub records: Vec<Record>,
    pub error: Option<ScrapeError>,
}

/// Parses `text` in `format` and transforms every family the resolver maps.
pub fn scrape(
    text: &str,
    format: Format,
    config: &ScraperConfig,
    resolver: &mut dyn Resolve,
    transformer: &mut FamilyTransformer,
) -> ScrapeOutput {
    let mut out = ScrapeOutput::default();
    // An empty Prometheus body is an endpoint with no metrics. (An empty OpenMetrics body lacks its
    // `# EOF` and is rejected, as the OpenMetrics conformance cases require; the stock check skips
    // parsing and reports success.)
    if text.is_empty() && format == Format::Prometheus {
        return out;
    }
    let records = &mut out.records;
    let mut sink = |mut family: Family<'_>| -> Result<(), ScrapeError> {
        if !config.raw_metric_prefix.is_empty() {
            if let Some(stripped) = family.name.strip_prefix(config.raw_metric_prefix.as_str()) {
                family.name = Cow::Owned(stripped.to_string());
            }
        }
        match resolver.resolve(&family)? {
            Some(t) => transformer.transform(config, &t, &mut family, records),
            None => Ok(()),
        }
    };
    let result = match format {
        Format::Prometheus => prom::parse(text, &mut sink),
        Format::OpenMetrics => openmetrics::parse(text, &mut sink),
    };
    out.error = result.err();
    out
}
