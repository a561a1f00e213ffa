//! `share_labels`: labels collected from source families and merged into every sample, with the
//! stock collection, matching and caching rules.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::model::{Family, Labels};

/// One `share_labels` source (`true` is all fields `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShareSource {
    /// Only these labels are shared (all of them when `None`).
    pub labels: Option<HashSet<String>>,
    /// Share only with samples carrying the same values of these labels.
    pub matching: Option<HashSet<String>>,
    /// Only source samples with one of these values are used.
    pub values: Option<HashSet<i64>>,
}

/// The `share_labels` option: sources in configuration order, and `cache_shared_labels`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShareConfig {
    pub sources: Vec<(String, ShareSource)>,
    pub cache: bool,
}

impl ShareConfig {
    pub fn is_configured(&self) -> bool {
        !self.sources.is_empty()
    }
}

type Pairs = Vec<(String, String)>;

/// What has been collected: labels shared with every sample, and (match set, labels) rules.
#[derive(Debug, Default)]
pub struct LabelSharing {
    unconditional: Pairs,
    rules: Vec<(Pairs, Pairs)>,
    /// With caching, collection happens once: on the first scrape.
    pub cached: bool,
}

fn set_pair(pairs: &mut Pairs, name: &str, value: &str) {
    match pairs.iter_mut().find(|(n, _)| n == name) {
        Some(p) => p.1 = value.to_string(),
        None => pairs.push((name.to_string(), value.to_string())),
    }
}

fn value_allowed(allowed: &Option<HashSet<i64>>, value: f64) -> bool {
    match allowed {
        None => true,
        Some(set) => {
            value.is_finite()
                && value.fract() == 0.0
                && value.abs() < 9.2e18
                && set.contains(&(value as i64))
        }
    }
}

impl LabelSharing {
    pub fn is_empty(&self) -> bool {
        self.unconditional.is_empty() && self.rules.is_empty()
    }

    pub fn clear(&mut self) {
        self.unconditional.clear();
        self.rules.clear();
    }

    /// Collects from a source family.
    pub fn collect(&mut self, family: &Family<'_>, source: &ShareSource) {
        for sample in family
            .samples
            .iter()
            .filter(|s| value_allowed(&source.values, s.value.value))
        {
            match &source.matching {
                Some(matching) => {
                    let mut match_set = Pairs::new();
                    let mut shared = Pairs::new();
                    for (name, value) in sample.labels.iter() {
                        if matching.contains(name) {
                            set_pair(&mut match_set, name, value);
                        }
                        if source.labels.as_ref().is_none_or(|l| l.contains(name)) {
                            set_pair(&mut shared, name, value);
                        }
                    }
                    self.rules.push((match_set, shared));
                }
                None => {
                    for (name, value) in sample.labels.iter() {
                        if source.labels.as_ref().is_none_or(|l| l.contains(name)) {
                            set_pair(&mut self.unconditional, name, value);
                        }
                    }
                }
            }
        }
    }

    /// Merges the shared labels into one sample's labels, in place: the unconditional labels
    /// first (overwriting), then every rule whose match set the original labels contain.
    pub fn populate(&self, labels: &mut Labels<'_>) {
        let original: Vec<(String, String)> = if self.rules.is_empty() {
            Vec::new()
        } else {
            labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        for (name, value) in &self.unconditional {
            labels.set(Cow::Owned(name.clone()), Cow::Owned(value.clone()));
        }
        for (match_set, shared) in &self.rules {
            let matches = match_set
                .iter()
                .all(|pair| original.iter().any(|o| o == pair));
            if matches {
                for (name, value) in shared {
                    labels.set(Cow::Owned(name.clone()), Cow::Owned(value.clone()));
                }
            }
        }
    }
}
