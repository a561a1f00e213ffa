//! Latency percentiles (the `latency_percentiles` instance option): per-interval quantile
//! estimates of the latency histograms, computed from the change of their cumulative buckets
//! between two consecutive scrapes, the way Prometheus's `histogram_quantile` estimates a
//! quantile of `rate(<histogram>_bucket[...])`.
//!
//! * A series is one label set of a histogram family (all labels but `le`), keyed by the Datadog
//!   name of the histogram, its tags and its hostname. Its estimates are gauges named
//!   `<histogram name>.<suffix>` (`time_to_first_token.seconds.p99`), with exactly the tags the
//!   histogram's own `.count` / `.sum` carry (label tags, then the instance tags and `endpoint:`).
//! * The first scrape of a series only records its buckets. An interval in which the `+Inf`
//!   bucket did not grow (no request) submits nothing.
//! * A counter reset (any bucket smaller than at the previous scrape, or a different set of
//!   bounds) means the process restarted within the interval: the new counts are then the
//!   interval's observations, as Prometheus's `increase()` takes them.
//! * Families that expose the same observations under two names (vLLM's renamed histograms) map
//!   to one Datadog name and therefore share one series: the second copy finds no change and
//!   submits nothing, so each estimate goes out once.
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
use crate::transform::config::{PercentileConfig, ScraperConfig, TransformKind, Transformer};
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

/// One series of the current scrape.
struct Series {
    tags: Vec<String>,
    hostname: String,
    buckets: Buckets,
    valid: bool,
}

/// After a family went through its transformer: when it is one of the configured histograms,
/// updates its series and appends a gauge record per configured quantile for every series whose
/// requests in the interval allow an estimate.
pub fn observe(
    config: &ScraperConfig,
    state: &mut PercentileState,
    transformer: &Transformer,
    family: &mut Family<'_>,
    out: &mut Vec<Record>,
) {
    let options = &config.percentiles;
    if !options.is_enabled()
        || transformer.kind != TransformKind::Histogram
        || !options.histograms.contains(&transformer.name)
    {
        return;
    }
    // the series cache may have spared the family its label parsing
    family.ensure_labels();
    let current = collect_series(config, state, family);
    let names = state.names(options, &transformer.name);
    if state.series.len() + current.len() > SERIES_LIMIT {
        state.series.clear();
    }
    for series in current {
        let mut key = String::with_capacity(64);
        key.push_str(&transformer.name);
        key.push('\0');
        key.push_str(&series.hostname);
        for t in &series.tags {
            key.push('\0');
            key.push_str(t);
        }
        if !series.valid {
            // no estimate, and the next scrape starts the series over
            state.series.remove(&key);
            continue;
        }
        let previous = state.series.get(&key).map(Vec::as_slice);
        let Some(interval) = interval_buckets(previous, &series.buckets) else {
            state.series.insert(key, series.buckets);
            continue;
        };
        state.series.insert(key, series.buckets);
        for ((q, _), name) in options.quantiles.iter().zip(names.iter()) {
            // (a `-Inf` bound can make the estimate infinite or NaN: not sent)
            if let Some(value) = bucket_quantile(*q, &interval).filter(|v| v.is_finite()) {
                out.push(Record::Metric(Box::new(MetricRecord {
                    method: Method::Gauge,
                    name: name.clone(),
                    value,
                    tags: Arc::new(TagList {
                        labels: series.tags.clone(),
                        with_static: true,
                        suffix: None,
                    }),
                    hostname: Arc::from(series.hostname.as_str()),
                })));
            }
        }
    }
}

/// The `_bucket` samples of a family grouped by series, in order of first appearance; tags and
/// hostname are built once per series, from its labels without `le`, exactly as for the
/// histogram's `_count` sample.
fn collect_series(
    config: &ScraperConfig,
    state: &mut PercentileState,
    family: &Family<'_>,
) -> Vec<Series> {
    let mut index: HashMap<String, Option<usize>> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for sample in &family.samples {
        if !sample.name.ends_with("_bucket") {
            continue;
        }
        let mut raw_key = String::new();
        for (n, v) in sample.labels.iter().filter(|(n, _)| *n != "le") {
            raw_key.push_str(n);
            raw_key.push('\0');
            raw_key.push_str(v);
            raw_key.push('\0');
        }
        let slot = match index.get(&raw_key) {
            Some(slot) => *slot,
            None => {
                let slot = new_series(config, state, family, &sample.labels).map(|s| {
                    series.push(s);
                    series.len() - 1
                });
                index.insert(raw_key, slot);
                slot
            }
        };
        // a series excluded by `exclude_metrics_by_labels` has no slot
        let Some(current) = slot.and_then(|i| series.get_mut(i)) else {
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
    for s in series.iter_mut() {
        s.buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        s.buckets = coalesce(std::mem::take(&mut s.buckets));
    }
    series
}

fn new_series(
    config: &ScraperConfig,
    state: &mut PercentileState,
    family: &Family<'_>,
    labels: &Labels<'_>,
) -> Option<Series> {
    let mut without_le = labels.clone();
    without_le.remove("le");
    let view = LabelView::normalized(family.typ, &without_le, &mut state.numbers).ok()?;
    let tags = build_label_tags(config, &view)?;
    let hostname = hostname_for(config, &view);
    Some(Series {
        tags,
        hostname,
        buckets: Vec::new(),
        valid: true,
    })
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

    fn setup() -> (ScraperConfig, Transformer, PercentileState) {
        let mut config = ScraperConfig::with_static_tags(vec!["endpoint:e".into()]);
        config.percentiles = PercentileConfig {
            quantiles: vec![(0.5, "p50".into()), (0.99, "p99".into())],
            histograms: vec!["time_to_first_token.seconds".into()],
        };
        let transformer = Transformer {
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
