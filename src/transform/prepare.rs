//! The per-sample pipeline of the stock scraper, before any per-type transformer: value filter,
//! label normalization, tag building, hostname.

use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::model::{MetricType, Sample};

use super::config::ScraperConfig;
use super::tags::{build_label_tags, hostname_for, LabelView, NumberCache};

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

/// The stock error of a sample value that is an `int` too large for a float.
pub(crate) fn overflow_error() -> ScrapeError {
    ScrapeError::new(ErrorKind::Overflow, "int too large to convert to float")
}

/// The stock error of a histogram bucket without `le` (hence without `upper_bound`).
pub(crate) fn missing_upper_bound() -> ScrapeError {
    ScrapeError::new(ErrorKind::Key, "upper_bound")
}

/// The stock `generate_sample_data` for one sample: `None` when the sample is skipped.
pub(crate) fn prepare<'s, 'a>(
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
