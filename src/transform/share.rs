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

/// The `share_labels` option: sources in configuration order, `cache_shared_labels`, and
/// `target_info` (the labels of the `target_info` family go to every sample).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShareConfig {
    pub sources: Vec<(String, ShareSource)>,
    pub cache: bool,
    pub target_info: bool,
}

/// The family whose labels `target_info` shares.
pub const TARGET_INFO: &str = "target_info";

impl ShareConfig {
    pub fn is_configured(&self) -> bool {
        !self.sources.is_empty() || self.target_info
    }

    /// The sources a collecting scrape waits for (`target_info` counts as one).
    pub fn pending_sources(&self) -> Vec<(String, ShareSource)> {
        let mut pending = self.sources.clone();
        if self.target_info {
            pending.push((TARGET_INFO.to_string(), ShareSource::default()));
        }
        pending
    }
}

type Pairs = Vec<(String, String)>;

/// What has been collected: labels shared with every sample, and (match set, labels) rules.
#[derive(Debug, Default)]
pub struct LabelSharing {
    unconditional: Pairs,
    rules: Vec<(Pairs, Pairs)>,
    /// The labels of `target_info` (kept across scrapes; replaced when they change).
    target_info: Pairs,
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
        self.unconditional.is_empty() && self.rules.is_empty() && self.target_info.is_empty()
    }

    /// A `target_info` family going out: its first sample's labels replace the kept ones when
    /// they differ (compared as mappings). A family without samples fails like the stock check.
    pub fn update_target_info(&mut self, family: &Family<'_>) -> Result<(), String> {
        let first = family
            .samples
            .first()
            .ok_or_else(|| "list index out of range".to_string())?;
        let mut new: Pairs = Vec::new();
        for (n, v) in first.labels.iter() {
            set_pair(&mut new, n, v);
        }
        let mut a = new.clone();
        let mut b = self.target_info.clone();
        a.sort_unstable();
        b.sort_unstable();
        if a != b {
            self.target_info = new;
        }
        Ok(())
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
                    // all labels of a `target_info` family are kept apart from the others
                    let store = if source.labels.is_none() && family.name == TARGET_INFO {
                        &mut self.target_info
                    } else {
                        &mut self.unconditional
                    };
                    for (name, value) in sample.labels.iter() {
                        if source.labels.as_ref().is_none_or(|l| l.contains(name)) {
                            set_pair(store, name, value);
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
        // `labels.update(ChainMap(unconditional, target_info))`: target_info's keys first, then
        // the other unconditional ones; an unconditional value wins a clash
        for (name, value) in &self.target_info {
            let value = self
                .unconditional
                .iter()
                .find(|(n, _)| n == name)
                .map_or(value, |(_, v)| v);
            labels.set(Cow::Owned(name.clone()), Cow::Owned(value.clone()));
        }
        for (name, value) in &self.unconditional {
            if !self.target_info.iter().any(|(n, _)| n == name) {
                labels.set(Cow::Owned(name.clone()), Cow::Owned(value.clone()));
            }
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
