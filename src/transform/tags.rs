//! Tags and hostname of a sample, built in the stock order: exposition-order labels (filtered,
//! renamed; `upper_bound` where the stock normalization puts it), then the static tags.

use std::borrow::Cow;
use std::collections::HashMap;

use super::config::ScraperConfig;
use crate::error::{ScrapeError, ScrapeResult};
use crate::model::{Labels, MetricType};
use crate::number::canonical_number;

/// Canonical forms of `le` / `quantile` texts already seen (a scrape repeats the same few bounds
/// for every series).
#[derive(Debug, Default)]
pub struct NumberCache {
    canonical: HashMap<Box<str>, Box<str>>,
}

/// Bounds kept at most; a payload with more distinct bounds than this starts over.
const NUMBER_CACHE_LIMIT: usize = 4096;

impl NumberCache {
    pub fn canonical(&mut self, text: &str) -> ScrapeResult<String> {
        if let Some(c) = self.canonical.get(text) {
            return Ok(c.to_string());
        }
        let c = canonical_number(text).map_err(ScrapeError::value)?;
        if self.canonical.len() >= NUMBER_CACHE_LIMIT {
            self.canonical.clear();
        }
        self.canonical.insert(text.into(), c.as_str().into());
        Ok(c)
    }
}

/// A sample's labels after the stock label normalization, in the stock order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelView<'s> {
    pairs: Vec<(&'s str, Cow<'s, str>)>,
}

impl<'s> LabelView<'s> {
    /// Histogram families: `le` is popped and `upper_bound` set to its canonical value (in place
    /// when an `upper_bound` label exists, else at the end). Summary families: `quantile` is
    /// canonicalized in place. Other types keep their labels as they are.
    pub fn normalized(
        typ: MetricType,
        labels: &'s Labels<'_>,
        numbers: &mut NumberCache,
    ) -> ScrapeResult<Self> {
        let mut pairs: Vec<(&'s str, Cow<'s, str>)> = Vec::with_capacity(labels.len() + 1);
        match typ {
            MetricType::Histogram => {
                let upper = match labels.get("le") {
                    Some(le) => Some(numbers.canonical(le)?),
                    None => None,
                };
                let mut upper = upper;
                for (name, value) in labels.iter() {
                    if upper.is_some() && name == "le" {
                        continue;
                    }
                    if name == "upper_bound" {
                        if let Some(u) = upper.take() {
                            pairs.push((name, Cow::Owned(u)));
                            continue;
                        }
                    }
                    pairs.push((name, Cow::Borrowed(value)));
                }
                if let Some(u) = upper {
                    pairs.push(("upper_bound", Cow::Owned(u)));
                }
            }
            MetricType::Summary => {
                for (name, value) in labels.iter() {
                    if name == "quantile" {
                        let q = numbers.canonical(value)?;
                        pairs.push((name, Cow::Owned(q)));
                    } else {
                        pairs.push((name, Cow::Borrowed(value)));
                    }
                }
            }
            _ => {
                for (name, value) in labels.iter() {
                    pairs.push((name, Cow::Borrowed(value)));
                }
            }
        }
        Ok(LabelView { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (*n, v.as_ref()))
    }
}

/// The label tags of a sample (`<name or rename>:<value>`), or `None` when a label excludes the
/// whole sample.
pub fn build_label_tags(config: &ScraperConfig, labels: &LabelView<'_>) -> Option<Vec<String>> {
    let mut tags = Vec::with_capacity(labels.pairs.len());
    for (name, value) in labels.iter() {
        if let Some(excluder) = config.exclude_by_labels.get(name) {
            if excluder.matches(value) {
                return None;
            }
        }
        if config.exclude_labels.contains(name) {
            continue;
        }
        if !config.include_labels.is_empty() && !config.include_labels.contains(name) {
            continue;
        }
        let tag_name = config
            .rename_labels
            .get(name)
            .map_or(name, |renamed| renamed.as_str());
        let mut tag = String::with_capacity(tag_name.len() + 1 + value.len());
        tag.push_str(tag_name);
        tag.push(':');
        tag.push_str(value);
        tags.push(tag);
    }
    Some(tags)
}

/// `''`, or the `hostname_label` value (through `hostname_format`) when the sample has it.
pub fn hostname_for(config: &ScraperConfig, labels: &LabelView<'_>) -> String {
    if config.hostname_label.is_empty() {
        return String::new();
    }
    match labels.get(&config.hostname_label) {
        None => String::new(),
        Some(value) => match &config.hostname_format {
            Some(format) => format.replacen("<HOSTNAME>", value, 1),
            None => value.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&'static str, &'static str)]) -> Labels<'static> {
        let mut l = Labels::new();
        for (n, v) in pairs {
            l.set(Cow::Borrowed(n), Cow::Borrowed(v));
        }
        l
    }

    #[test]
    fn histogram_le_becomes_trailing_upper_bound() {
        let l = labels(&[("le", "1"), ("model_name", "m")]);
        let v =
            LabelView::normalized(MetricType::Histogram, &l, &mut NumberCache::default()).unwrap();
        let pairs: Vec<_> = v.iter().collect();
        assert_eq!(pairs, [("model_name", "m"), ("upper_bound", "1.0")]);
    }

    #[test]
    fn tags_in_stock_order_with_rename_and_filters() {
        let mut config = ScraperConfig::with_static_tags(vec![]);
        config.include_labels = ["a", "b", "node"].iter().map(|s| s.to_string()).collect();
        config.exclude_labels = ["b"].iter().map(|s| s.to_string()).collect();
        config.rename_labels.insert("a".into(), "renamed_a".into());
        config.rename_labels.insert("node".into(), "b".into());
        let l = labels(&[("a", "1"), ("b", "2"), ("node", "n1"), ("c", "3")]);
        let v = LabelView::normalized(MetricType::Gauge, &l, &mut NumberCache::default()).unwrap();
        assert_eq!(
            build_label_tags(&config, &v).unwrap(),
            ["renamed_a:1", "b:n1"]
        );
    }

    #[test]
    fn hostname_format_replaces_first_placeholder() {
        let mut config = ScraperConfig::with_static_tags(vec![]);
        config.hostname_label = "node".into();
        config.hostname_format = Some("<HOSTNAME>-x-<HOSTNAME>".into());
        let l = labels(&[("node", "n1")]);
        let v = LabelView::normalized(MetricType::Gauge, &l, &mut NumberCache::default()).unwrap();
        assert_eq!(hostname_for(&config, &v), "n1-x-<HOSTNAME>");
    }
}
