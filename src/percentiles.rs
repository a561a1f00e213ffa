//! Latency percentiles (the `latency_percentiles` instance option): per-interval quantile
//! estimates of the latency histograms, computed from the change of their cumulative buckets
//! between two consecutive scrapes, the way Prometheus's `histogram_quantile` estimates a
//! quantile of `rate(<histogram>_bucket[...])`.
//!
//! * A series is one label set of a histogram family (all labels but `le`), keyed by the Datadog
//!   name of the histogram and its labels. Estimates are made per group: the series that agree on
//!   the grouping labels (`latency_percentiles_by`; by default every label but the engine-rank
//!   ones, `RANK_LABELS`), their bucket increases summed bound by bound, so that a model served
//!   by several engines or ranks gets one estimate. They are gauges named `<histogram
//!   name>.<suffix>` (`time_to_first_token.seconds.p99`), with the tags a histogram `.count` with
//!   the group's labels carries (label tags, then the instance tags and `endpoint:`). A group
//!   whose members have different bucket layouts, or one malformed member, gets no estimate.
//! * The first scrape of a series only records its buckets. An interval in which the `+Inf`
//!   bucket did not grow (no request) submits nothing.
//! * A counter reset (any bucket smaller than at the previous scrape, or a different set of
//!   bounds) means the process restarted within the interval: the new counts are then the
//!   interval's observations, as Prometheus's `increase()` takes them.
//! * Families that expose the same observations under two names (vLLM's renamed histograms) map
//!   to one Datadog name; the old one is not transformed, hence not observed, when the body has
//!   the current one (`transform::supersede`), so each estimate is made once, from the family sent.
//!
//! Nothing here can panic on input: every index is checked, and malformed samples (no `le`, a
//! bound or value that is not a number) leave their series out of the interval.
//!
//! The scrape hands each family here once its transformer has made its records (`observe`); the
//! estimates follow them. The state kept between scrapes is the scraper's (`scrape::ScraperState`),
//! beside the transformer's, and the option is part of the scraper options
//! (`transform::config::PercentileConfig`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Family, Labels};
use crate::number::py_float;
use crate::transform::config::{MetricSpec, PercentileConfig, ScraperConfig, TransformKind};
use crate::transform::record::{Method, MetricRecord, Record, TagList};
use crate::transform::tags::{build_label_tags, hostname_for, LabelView, NumberCache};

/// Series kept at most; past this the state starts over (series of label sets that never come
/// back cannot grow it without bound).
const SERIES_LIMIT: usize = 100_000;

/// The cumulative buckets of one series at the previous scrape: `(upper bound, count)`, sorted.
type Buckets = Vec<(f64, f64)>;

/// Cross-scrape state of one scraper.
#[derive(Debug, Default)]
pub struct PercentileState {
    series: HashMap<String, Buckets>,
    /// `<histogram>.<suffix>` names, per histogram, in quantile order.
    names: HashMap<String, Arc<[Arc<str>]>>,
    numbers: NumberCache,
}

impl PercentileState {
    fn names(&mut self, config: &PercentileConfig, histogram: &str) -> Arc<[Arc<str>]> {
        if let Some(n) = self.names.get(histogram) {
            return n.clone();
        }
        let names: Arc<[Arc<str>]> = config
            .quantiles
            .iter()
            .map(|(_, suffix)| Arc::from(format!("{histogram}.{suffix}")))
            .collect();
        self.names.insert(histogram.to_string(), names.clone());
        names
    }
}

/// The engine-rank labels a default estimate groups over (sums across): a model's data-parallel
/// engines (vLLM `engine`) and its tensor, pipeline, data and expert-parallel ranks (SGLang).
pub const RANK_LABELS: [&str; 5] = ["engine", "tp_rank", "pp_rank", "dp_rank", "moe_ep_rank"];

/// One series of the current scrape (one label set but `le`) and the group it is summed into.
struct Member {
    /// Its key in the state: the histogram's Datadog name and its labels.
    key: String,
    group: usize,
    buckets: Buckets,
    valid: bool,
}

/// The series one estimate is made from: the labels left after grouping, as tags and hostname,
/// and the sum of its members' increases over the interval.
struct Group {
    tags: Vec<String>,
    hostname: String,
    interval: Option<Buckets>,
    valid: bool,
}

impl Group {
    /// Adds one member's interval; members with another bucket layout spoil the group.
    fn add(&mut self, interval: Buckets) {
        match &mut self.interval {
            None => self.interval = Some(interval),
            Some(sum) => {
                let same = sum.len() == interval.len()
                    && sum
                        .iter()
                        .zip(&interval)
                        .all(|(a, b)| a.0.to_bits() == b.0.to_bits());
                if !same {
                    self.valid = false;
                    return;
                }
                for (a, b) in sum.iter_mut().zip(interval) {
                    a.1 += b.1;
                }
            }
        }
    }
}

/// After a family went through its transformer: when it is one of the configured histograms,
/// updates its series and appends a gauge record per configured quantile for every group whose
/// requests in the interval allow an estimate.
pub fn observe(
    config: &ScraperConfig,
    state: &mut PercentileState,
    spec: &MetricSpec,
    family: &mut Family<'_>,
    out: &mut Vec<Record>,
) {
    let options = &config.percentiles;
    if !options.is_enabled()
        || spec.kind != TransformKind::Histogram
        || !options.histograms.contains(&spec.name)
    {
        return;
    }
    // the series cache may have spared the family its label parsing
    family.ensure_labels();
    let (members, mut groups) = collect_series(config, state, &spec.name, family);
    let names = state.names(options, &spec.name);
    if state.series.len() + members.len() > SERIES_LIMIT {
        state.series.clear();
    }
    for member in members {
        let group = groups.get_mut(member.group);
        if !member.valid {
            // no estimate, and the next scrape starts the series over
            state.series.remove(&member.key);
            if let Some(group) = group {
                group.valid = false;
            }
            continue;
        }
        let previous = state.series.get(&member.key).map(Vec::as_slice);
        let interval = interval_buckets(previous, &member.buckets);
        state.series.insert(member.key, member.buckets);
        if let (Some(interval), Some(group)) = (interval, group) {
            group.add(interval);
        }
    }
    for group in groups {
        let Some(interval) = group.interval.filter(|_| group.valid) else {
            continue;
        };
        let tags = Arc::new(TagList {
            labels: group.tags,
            with_static: true,
            suffix: None,
        });
        let hostname: Arc<str> = Arc::from(group.hostname.as_str());
        for ((q, _), name) in options.quantiles.iter().zip(names.iter()) {
            // (a `-Inf` bound can make the estimate infinite or NaN: not sent)
            if let Some(value) = bucket_quantile(*q, &interval).filter(|v| v.is_finite()) {
                out.push(Record::Metric(Box::new(MetricRecord {
                    method: Method::Gauge,
                    name: name.clone(),
                    value,
                    tags: tags.clone(),
                    hostname: hostname.clone(),
                })));
            }
        }
    }
}

/// Whether a label (not `le`) is kept in the estimate's series: the configured labels, or by
/// default every label but the engine-rank ones.
fn grouped_by(options: &PercentileConfig, name: &str) -> bool {
    match &options.by_labels {
        Some(by) => by.iter().any(|b| b == name),
        None => !RANK_LABELS.contains(&name),
    }
}

fn push_key(key: &mut String, labels: &Labels<'_>, keep: impl Fn(&str) -> bool) {
    for (n, v) in labels.iter().filter(|(n, _)| *n != "le" && keep(n)) {
        key.push_str(n);
        key.push('\0');
        key.push_str(v);
        key.push('\0');
    }
}

/// The `_bucket` samples of a family by series (label set but `le`), in order of first
/// appearance, each assigned to its group (the labels kept by the grouping). A series excluded
/// by `exclude_metrics_by_labels` is left out; a group's tags and hostname are built from its
/// labels exactly as for a histogram `_count` sample with those labels.
fn collect_series(
    config: &ScraperConfig,
    state: &mut PercentileState,
    histogram: &str,
    family: &Family<'_>,
) -> (Vec<Member>, Vec<Group>) {
    let mut index: HashMap<String, Option<usize>> = HashMap::new();
    let mut group_index: HashMap<String, Option<usize>> = HashMap::new();
    let mut members: Vec<Member> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for sample in &family.samples {
        if !sample.name.ends_with("_bucket") {
            continue;
        }
        let mut raw_key = String::new();
        push_key(&mut raw_key, &sample.labels, |_| true);
        let slot = match index.get(&raw_key) {
            Some(slot) => *slot,
            None => {
                let group = member_group(
                    config,
                    state,
                    family,
                    &sample.labels,
                    &mut group_index,
                    &mut groups,
                );
                let slot = group.map(|group| {
                    members.push(Member {
                        key: format!("{histogram}\0{raw_key}"),
                        group,
                        buckets: Vec::new(),
                        valid: true,
                    });
                    members.len() - 1
                });
                index.insert(raw_key, slot);
                slot
            }
        };
        let Some(current) = slot.and_then(|i| members.get_mut(i)) else {
            continue;
        };
        let bound = sample.labels.get("le").and_then(py_float);
        let value = sample.value.value;
        match bound {
            Some(b) if !b.is_nan() && value.is_finite() && !sample.value.overflow => {
                current.buckets.push((b, value))
            }
            _ => current.valid = false,
        }
    }
    for m in members.iter_mut() {
        m.buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        m.buckets = coalesce(std::mem::take(&mut m.buckets));
    }
    (members, groups)
}

/// The group of a new series, created when it is the first of its group; `None` when the series
/// is excluded by `exclude_metrics_by_labels`.
fn member_group(
    config: &ScraperConfig,
    state: &mut PercentileState,
    family: &Family<'_>,
    labels: &Labels<'_>,
    group_index: &mut HashMap<String, Option<usize>>,
    groups: &mut Vec<Group>,
) -> Option<usize> {
    let mut without_le = labels.clone();
    without_le.remove("le");
    let view = LabelView::normalized(family.typ, &without_le, &mut state.numbers).ok()?;
    build_label_tags(config, &view)?;
    let options = &config.percentiles;
    let mut group_key = String::new();
    push_key(&mut group_key, labels, |n| grouped_by(options, n));
    if let Some(group) = group_index.get(&group_key) {
        return *group;
    }
    let mut kept = Labels::new();
    for (n, v) in labels
        .iter()
        .filter(|(n, _)| *n != "le" && grouped_by(options, n))
    {
        kept.set(n.to_string().into(), v.to_string().into());
    }
    let group = LabelView::normalized(family.typ, &kept, &mut state.numbers)
        .ok()
        .and_then(|view| {
            let tags = build_label_tags(config, &view)?;
            groups.push(Group {
                tags,
                hostname: hostname_for(config, &view),
                interval: None,
                valid: true,
            });
            Some(groups.len() - 1)
        });
    group_index.insert(group_key, group);
    group
}

/// Sorted buckets with equal bounds merged (their counts added), as `histogram_quantile` does.
fn coalesce(buckets: Buckets) -> Buckets {
    let mut out: Buckets = Vec::with_capacity(buckets.len());
    for (bound, count) in buckets {
        match out.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => out.push((bound, count)),
        }
    }
    out
}

/// The buckets of the interval since `previous`: the per-bound increase, or the new counts
/// after a counter reset; `None` on the first scrape of a series.
pub fn interval_buckets(
    previous: Option<&[(f64, f64)]>,
    current: &[(f64, f64)],
) -> Option<Buckets> {
    let previous = previous?;
    let same_bounds = previous.len() == current.len()
        && previous
            .iter()
            .zip(current)
            .all(|(p, c)| p.0.to_bits() == c.0.to_bits());
    let reset = !same_bounds || previous.iter().zip(current).any(|(p, c)| c.1 < p.1);
    if reset {
        return Some(current.to_vec());
    }
    Some(
        previous
            .iter()
            .zip(current)
            .map(|(p, c)| (c.0, c.1 - p.1))
            .collect(),
    )
}

/// Prometheus's `histogram_quantile` on cumulative buckets sorted by bound with equal bounds
/// merged: `None` where it answers NaN (no `+Inf` bucket, fewer than two buckets, no
/// observation). Counts that decrease with the bound are raised to the running maximum first
/// (Prometheus's monotonicity fix). The rank `q * observations` is found in the first bucket
/// whose count reaches it, and interpolated linearly inside it; the lowest bucket starts at 0
/// (or, when its bound is 0 or below, answers that bound); a rank in the `+Inf` bucket answers
/// the highest finite bound.
pub fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if q.is_nan() || buckets.len() < 2 {
        return None;
    }
    let last = buckets.len() - 1;
    let (top, _) = *buckets.get(last)?;
    if top != f64::INFINITY {
        return None;
    }
    let mut counts: Vec<f64> = Vec::with_capacity(buckets.len());
    let mut running = f64::NEG_INFINITY;
    for &(_, c) in buckets {
        running = running.max(c);
        counts.push(running);
    }
    let observations = *counts.get(last)?;
    if observations.is_nan() || observations <= 0.0 {
        return None;
    }
    let mut rank = q * observations;
    // the first of the finite buckets whose count reaches the rank, else the +Inf bucket
    let b = counts
        .get(..last)?
        .iter()
        .position(|&c| c >= rank)
        .unwrap_or(last);
    if b == last {
        return buckets.get(last - 1).map(|&(bound, _)| bound);
    }
    let (bucket_end, _) = *buckets.get(b)?;
    let mut count = *counts.get(b)?;
    if b == 0 && bucket_end <= 0.0 {
        return Some(bucket_end);
    }
    let mut bucket_start = 0.0;
    if b > 0 {
        let (prev_bound, _) = *buckets.get(b - 1)?;
        let prev_count = *counts.get(b - 1)?;
        bucket_start = prev_bound;
        count -= prev_count;
        rank -= prev_count;
    }
    Some(bucket_start + (bucket_end - bucket_start) * (rank / count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetricType, Sample};
    use crate::number::Num;
    use std::borrow::Cow;

    const INF: f64 = f64::INFINITY;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn interpolates_inside_the_bucket_that_reaches_the_rank() {
        // 100 requests: 10 ≤ 0.1 s, 40 in (0.1, 0.5], 40 in (0.5, 1], 10 above 1 s.
        let b = [(0.1, 10.0), (0.5, 50.0), (1.0, 90.0), (INF, 100.0)];
        // p50: rank 50 reaches the 0.5 bucket exactly (count 50 ≥ 50): 0.1 + 0.4 * (40/40) = 0.5
        assert!(close(bucket_quantile(0.5, &b).unwrap(), 0.5));
        // p75: rank 75 is in (0.5, 1]: 0.5 + 0.5 * (75-50)/40 = 0.8125
        assert!(close(bucket_quantile(0.75, &b).unwrap(), 0.8125));
        // p90: rank 90 reaches the 1.0 bucket exactly: 0.5 + 0.5 * 40/40 = 1.0
        assert!(close(bucket_quantile(0.9, &b).unwrap(), 1.0));
        // p5: rank 5 is in the first bucket, which starts at 0: 0 + 0.1 * 5/10 = 0.05
        assert!(close(bucket_quantile(0.05, &b).unwrap(), 0.05));
    }

    #[test]
    fn a_rank_in_the_inf_bucket_answers_the_highest_finite_bound() {
        let b = [(0.1, 10.0), (0.5, 50.0), (1.0, 90.0), (INF, 100.0)];
        // p99: rank 99 > 90, only the +Inf bucket reaches it → 1.0, the highest finite bound
        assert_eq!(bucket_quantile(0.99, &b), Some(1.0));
        // every observation above the last finite bound
        let all_slow = [(0.1, 0.0), (0.5, 0.0), (INF, 7.0)];
        assert_eq!(bucket_quantile(0.5, &all_slow), Some(0.5));
    }

    #[test]
    fn first_bucket_rules() {
        // lowest bound above 0: interpolation from 0; rank 0.25*4 = 1 of 4 in (0, 2] → 0.5
        assert!(close(
            bucket_quantile(0.25, &[(2.0, 4.0), (INF, 4.0)]).unwrap(),
            0.5
        ));
        // lowest bound 0 or below: that bound is the answer
        assert_eq!(bucket_quantile(0.5, &[(0.0, 3.0), (INF, 4.0)]), Some(0.0));
        assert_eq!(bucket_quantile(0.5, &[(-1.0, 3.0), (INF, 4.0)]), Some(-1.0));
    }

    #[test]
    fn no_answer_without_inf_bucket_observations_or_two_buckets() {
        assert_eq!(bucket_quantile(0.5, &[(0.1, 1.0), (1.0, 2.0)]), None);
        assert_eq!(bucket_quantile(0.5, &[(0.1, 0.0), (INF, 0.0)]), None);
        assert_eq!(bucket_quantile(0.5, &[(INF, 5.0)]), None);
        assert_eq!(bucket_quantile(0.5, &[]), None);
        assert_eq!(bucket_quantile(f64::NAN, &[(1.0, 1.0), (INF, 1.0)]), None);
    }

    #[test]
    fn non_monotonic_counts_are_raised_to_the_running_maximum() {
        // the 0.5 bucket (8) is below the 0.1 bucket (10): it counts as 10.
        // p50: rank 10 → reached by the 0.1 bucket: 0 + 0.1 * 10/10 = 0.1
        let b = [(0.1, 10.0), (0.5, 8.0), (1.0, 20.0), (INF, 20.0)];
        assert!(close(bucket_quantile(0.5, &b).unwrap(), 0.1));
        // p75: rank 15 → the 1.0 bucket (20): 0.5 + 0.5 * (15-10)/(20-10) = 0.75
        assert!(close(bucket_quantile(0.75, &b).unwrap(), 0.75));
    }

    #[test]
    fn interval_is_the_increase_or_the_new_counts_after_a_reset() {
        let before = vec![(0.1, 10.0), (1.0, 30.0), (INF, 40.0)];
        let after = vec![(0.1, 12.0), (1.0, 35.0), (INF, 50.0)];
        assert_eq!(interval_buckets(None, &after), None);
        assert_eq!(
            interval_buckets(Some(&before), &after),
            Some(vec![(0.1, 2.0), (1.0, 5.0), (INF, 10.0)])
        );
        // the process restarted: its counts since the restart are the interval
        let restarted = vec![(0.1, 1.0), (1.0, 3.0), (INF, 3.0)];
        assert_eq!(
            interval_buckets(Some(&before), &restarted),
            Some(restarted.clone())
        );
        // a different bucket layout is a restart too
        let relayout = vec![(0.5, 1.0), (INF, 2.0)];
        assert_eq!(
            interval_buckets(Some(&before), &relayout),
            Some(relayout.clone())
        );
    }

    fn bucket(
        name: &'static str,
        model: &'static str,
        le: &'static str,
        v: f64,
    ) -> Sample<'static> {
        let mut labels = Labels::new();
        labels.set(Cow::Borrowed("model_name"), Cow::Borrowed(model));
        labels.set(Cow::Borrowed("le"), Cow::Borrowed(le));
        let value = Num::float(v);
        Sample::parsed(Cow::Borrowed(name), labels, "", value)
    }

    fn ttft(counts: &[(&'static str, [f64; 4])]) -> Family<'static> {
        let mut samples = Vec::new();
        for (model, c) in counts {
            for (le, v) in ["0.1", "0.5", "1.0", "+Inf"].iter().zip(c) {
                samples.push(bucket("ttft_seconds_bucket", model, le, *v));
            }
        }
        Family {
            name: Cow::Borrowed("ttft_seconds"),
            typ: MetricType::Histogram,
            samples,
        }
    }

    fn setup() -> (ScraperConfig, MetricSpec, PercentileState) {
        let mut config = ScraperConfig::with_static_tags(vec!["endpoint:e".into()]);
        config.percentiles = PercentileConfig {
            quantiles: vec![(0.5, "p50".into()), (0.99, "p99".into())],
            histograms: vec!["time_to_first_token.seconds".into()],
            by_labels: None,
        };
        let transformer = MetricSpec {
            kind: TransformKind::Histogram,
            name: "time_to_first_token.seconds".into(),
            id: 0,
        };
        (config, transformer, PercentileState::default())
    }

    fn gauges(records: &[Record]) -> Vec<(String, f64, Vec<String>)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Metric(m) if m.method == Method::Gauge => Some((
                    m.name.to_string(),
                    m.value,
                    m.tags.full(&["endpoint:e".into()]),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn per_series_estimates_over_consecutive_scrapes() {
        let (config, transformer, mut state) = setup();
        let mut out = Vec::new();
        // scrape 1: only recorded
        let mut first = ttft(&[("a", [1.0, 2.0, 3.0, 4.0]), ("b", [0.0, 0.0, 0.0, 0.0])]);
        observe(&config, &mut state, &transformer, &mut first, &mut out);
        assert!(out.is_empty());
        // scrape 2: model a got 10 requests: +2 ≤ 0.1, +6 in (0.1, 0.5], +2 in (0.5, 1], 0 above;
        // model b got none.
        let mut second = ttft(&[("a", [3.0, 10.0, 13.0, 14.0]), ("b", [0.0, 0.0, 0.0, 0.0])]);
        observe(&config, &mut state, &transformer, &mut second, &mut out);
        let got = gauges(&out);
        // p50: rank 5 in (0.1, 0.5] (interval counts 2, 8, 10, 10): 0.1 + 0.4 * (5-2)/6 = 0.3
        // p99: rank 9.9 in (0.5, 1]: 0.5 + 0.5 * (9.9-8)/2 = 0.975
        let tags = vec!["model_name:a".to_string(), "endpoint:e".to_string()];
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "time_to_first_token.seconds.p50");
        assert!(close(got[0].1, 0.3));
        assert_eq!(got[0].2, tags);
        assert_eq!(got[1].0, "time_to_first_token.seconds.p99");
        assert!(close(got[1].1, 0.975));
        // scrape 3: no change at all → nothing
        out.clear();
        observe(&config, &mut state, &transformer, &mut second, &mut out);
        assert!(out.is_empty());
        // scrape 4: model a restarted and served 2 requests, both above 1 s: the new counts are
        // the interval; p50 and p99 land in +Inf → 1.0, the highest finite bound
        let mut fourth = ttft(&[("a", [0.0, 0.0, 0.0, 2.0]), ("b", [0.0, 0.0, 0.0, 0.0])]);
        observe(&config, &mut state, &transformer, &mut fourth, &mut out);
        let got = gauges(&out);
        assert_eq!(
            got.iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![1.0, 1.0],
            "{got:?}"
        );
    }

    /// `observe` of two scrapes of the ranked family, in order.
    fn observe_both(
        config: &ScraperConfig,
        state: &mut PercentileState,
        spec: &MetricSpec,
        scrapes: [&[(&'static str, &'static str, [f64; 4])]; 2],
        out: &mut Vec<Record>,
    ) {
        for counts in scrapes {
            observe(config, state, spec, &mut ranked(counts), out);
        }
    }

    fn ranked(counts: &[(&'static str, &'static str, [f64; 4])]) -> Family<'static> {
        let mut samples = Vec::new();
        for (model, engine, c) in counts {
            for (le, v) in ["0.1", "0.5", "1.0", "+Inf"].iter().zip(c) {
                let mut labels = Labels::new();
                labels.set(Cow::Borrowed("engine"), Cow::Borrowed(*engine));
                labels.set(Cow::Borrowed("model_name"), Cow::Borrowed(*model));
                labels.set(Cow::Borrowed("le"), Cow::Borrowed(*le));
                let value = Num::float(*v);
                samples.push(Sample::parsed(
                    Cow::Borrowed("ttft_seconds_bucket"),
                    labels,
                    "",
                    value,
                ));
            }
        }
        Family {
            name: Cow::Borrowed("ttft_seconds"),
            typ: MetricType::Histogram,
            samples,
        }
    }

    #[test]
    fn engines_of_a_model_are_summed_by_default_or_kept_apart_when_asked() {
        let (mut config, transformer, mut state) = setup();
        let mut out = Vec::new();
        let before = [("a", "0", [0.0; 4]), ("a", "1", [0.0; 4])];
        // engine 0 got 4 requests, all ≤ 0.1 s; engine 1 got 4, all in (0.5, 1]
        let after = [
            ("a", "0", [4.0, 4.0, 4.0, 4.0]),
            ("a", "1", [0.0, 0.0, 4.0, 4.0]),
        ];
        observe_both(
            &config,
            &mut state,
            &transformer,
            [&before, &after],
            &mut out,
        );
        // summed: counts 4, 4, 8, 8 over 8 requests. p50: rank 4 reached by the 0.1 bucket:
        // 0 + 0.1 * 4/4 = 0.1; p99: rank 7.92 in (0.5, 1]: 0.5 + 0.5 * (7.92-4)/4 = 0.99
        let got = gauges(&out);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(close(got[0].1, 0.1) && close(got[1].1, 0.99), "{got:?}");
        assert_eq!(got[0].2, ["model_name:a", "endpoint:e"]);
        // grouped by `model_name` and `engine`: one estimate per engine
        config.percentiles.by_labels = Some(vec!["model_name".into(), "engine".into()]);
        let (mut state, mut out) = (PercentileState::default(), Vec::new());
        observe_both(
            &config,
            &mut state,
            &transformer,
            [&before, &after],
            &mut out,
        );
        let got = gauges(&out);
        // engine 0: p50 rank 2 of 4 in (0, 0.1] → 0.05; engine 1: rank 2 in (0.5, 1] → 0.75
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(close(got[0].1, 0.05) && close(got[2].1, 0.75), "{got:?}");
        assert_eq!(got[2].2, ["engine:1", "model_name:a", "endpoint:e"]);
        // grouped by nothing: every series of the family in one estimate, without label tags
        config.percentiles.by_labels = Some(Vec::new());
        let (mut state, mut out) = (PercentileState::default(), Vec::new());
        observe_both(
            &config,
            &mut state,
            &transformer,
            [&before, &after],
            &mut out,
        );
        let got = gauges(&out);
        assert!(close(got[0].1, 0.1), "{got:?}");
        assert_eq!(got[0].2, ["endpoint:e"]);
    }

    #[test]
    fn a_restarted_engine_adds_its_new_counts_only() {
        let (config, transformer, mut state) = setup();
        let mut out = Vec::new();
        let first = [
            ("a", "0", [10.0, 10.0, 10.0, 10.0]),
            ("a", "1", [0.0, 0.0, 0.0, 8.0]),
        ];
        // engine 0 restarted and served 2 requests ≤ 0.1 s; engine 1 served 2 more above 1 s
        let second = [
            ("a", "0", [2.0, 2.0, 2.0, 2.0]),
            ("a", "1", [0.0, 0.0, 0.0, 10.0]),
        ];
        observe_both(
            &config,
            &mut state,
            &transformer,
            [&first, &second],
            &mut out,
        );
        // interval: 2 ≤ 0.1 and 2 in +Inf: counts 2, 2, 2, 4. p50: rank 2 → 0.1 * 2/2 = 0.1;
        // p99: rank 3.96 in +Inf → 1.0, the highest finite bound
        let got = gauges(&out);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(close(got[0].1, 0.1) && close(got[1].1, 1.0), "{got:?}");
    }

    #[test]
    fn other_histograms_and_disabled_option_submit_nothing() {
        let (mut config, mut transformer, mut state) = setup();
        let mut out = Vec::new();
        transformer.name = "request.prompt_tokens".into();
        for _ in 0..2 {
            let mut f = ttft(&[("a", [1.0, 2.0, 3.0, 4.0])]);
            observe(&config, &mut state, &transformer, &mut f, &mut out);
        }
        assert!(out.is_empty());
        transformer.name = "time_to_first_token.seconds".into();
        config.percentiles = PercentileConfig::default();
        observe(
            &config,
            &mut state,
            &transformer,
            &mut ttft(&[("a", [1.0, 2.0, 3.0, 4.0])]),
            &mut out,
        );
        observe(
            &config,
            &mut state,
            &transformer,
            &mut ttft(&[("a", [2.0, 2.0, 3.0, 5.0])]),
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn arbitrary_buckets_never_panic_and_answer_within_the_bounds() {
        // a small deterministic generator: bounds and counts of every kind, many scrapes
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let les = [
            "-1", "0", "0.1", "0.5", "1.0", "+Inf", "NaN", "-Inf", "x", "1e308",
        ];
        let values = [0.0, 1.0, 2.0, 5.0, -3.0, f64::NAN, f64::INFINITY, 1e300];
        let (config, transformer, mut state) = setup();
        let mut out = Vec::new();
        for _ in 0..2000 {
            let mut samples = Vec::new();
            for _ in 0..(next() % 8) {
                let le = les[(next() % les.len() as u64) as usize];
                let v = values[(next() % values.len() as u64) as usize];
                let model = if next() % 2 == 0 { "a" } else { "b" };
                samples.push(bucket("ttft_seconds_bucket", model, le, v));
            }
            let mut family = Family {
                name: Cow::Borrowed("ttft_seconds"),
                typ: MetricType::Histogram,
                samples,
            };
            observe(&config, &mut state, &transformer, &mut family, &mut out);
        }
        for (_, value, _) in gauges(&out) {
            assert!(value.is_finite(), "{value}");
        }
        // and the quantile of any finite, sorted bucket set lies between 0 (or the lowest bound)
        // and the highest finite bound
        for _ in 0..2000 {
            let mut b: Vec<(f64, f64)> = (0..(next() % 6))
                .map(|_| ((next() % 100) as f64 / 10.0, (next() % 50) as f64))
                .collect();
            b.push((INF, (next() % 60) as f64));
            b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
            let b = coalesce(b);
            let q = (next() % 999 + 1) as f64 / 1000.0;
            if let Some(v) = bucket_quantile(q, &b) {
                let highest = b.iter().rev().nth(1).map_or(0.0, |x| x.0);
                assert!((0.0..=highest).contains(&v), "{q} {b:?} → {v}");
            }
        }
    }

    #[test]
    fn malformed_series_are_left_out() {
        let (config, transformer, mut state) = setup();
        let mut out = Vec::new();
        let mut bad = ttft(&[("a", [1.0, 2.0, 3.0, 4.0]), ("b", [1.0, 2.0, 3.0, 4.0])]);
        observe(&config, &mut state, &transformer, &mut bad, &mut out);
        bad = ttft(&[("a", [2.0, 3.0, 4.0, 5.0]), ("b", [2.0, 3.0, 4.0, 5.0])]);
        // series a: one bucket's value is NaN; series b: one bound is not a number
        if let Some(s) = bad.samples.get_mut(1) {
            s.value.value = f64::NAN;
        }
        if let Some(s) = bad.samples.get_mut(5) {
            s.labels.set(Cow::Borrowed("le"), Cow::Borrowed("x"));
        }
        observe(&config, &mut state, &transformer, &mut bad, &mut out);
        assert!(out.is_empty());
    }
}
