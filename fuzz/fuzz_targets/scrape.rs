//! The whole scrape (parse, label normalization, tags, every transformer and histogram mode) on
//! arbitrary bytes, with every family mapped. The first byte picks the format and options.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use nvidia_nim_core::error::ScrapeResult;
use nvidia_nim_core::model::{Family, MetricType};
use nvidia_nim_core::number::int::BigInt;
use nvidia_nim_core::scrape::{
    decode_utf8, scrape, scrape_streaming, FirstScrape, Format, ScraperState,
};
use nvidia_nim_core::transform::config::{MetricSpec, ScraperConfig, TransformKind};
use nvidia_nim_core::transform::record::Record;
use nvidia_nim_core::transform::{Resolve, Transformer};

struct MapAll(u8);

impl Resolve for MapAll {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>> {
        let kind = match (self.0 >> 4, family.typ) {
            (0, MetricType::Counter) => TransformKind::Counter,
            (0, MetricType::Histogram) => TransformKind::Histogram,
            (0, MetricType::Summary) => TransformKind::Summary,
            (0, _) => TransformKind::Gauge,
            (1, _) => TransformKind::Histogram,
            (2, _) => TransformKind::Summary,
            (3, _) => TransformKind::CounterGauge,
            (4, _) => TransformKind::TimeElapsed,
            (5, _) => TransformKind::TemporalPercent(1000.0),
            (6, _) => {
                TransformKind::ServiceCheck([(BigInt::from_i64(1), 0u8)].into_iter().collect())
            }
            (7, _) => TransformKind::Metadata("le".into()),
            _ => TransformKind::Counter,
        };
        Ok(Some(Arc::new(MetricSpec {
            kind,
            name: family.name.to_string(),
            id: 0,
        })))
    }
}

/// The records of a scrape as comparable text, cached ones resolved through the transformer
/// (values left out where they depend on the clock).
fn describe(records: &[Record], transformer: &Transformer, clock: bool, out: &mut Vec<String>) {
    for record in records {
        let text = match record {
            Record::Cached { slot, value } => {
                let Some(e) = transformer.emission(*slot) else {
                    panic!("cached record with no emission in slot {slot}");
                };
                let value = if clock { 0.0 } else { *value };
                format!(
                    "{:?} {} {:?} {:?} {}",
                    e.method,
                    e.name,
                    value.to_bits(),
                    e.tags,
                    e.hostname
                )
            }
            Record::Metric(m) => {
                let value = if clock { 0.0 } else { m.value };
                format!(
                    "{:?} {} {:?} {:?} {}",
                    m.method,
                    m.name,
                    value.to_bits(),
                    m.tags,
                    m.hostname
                )
            }
            other => format!("{other:?}"),
        };
        out.push(text);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut config = ScraperConfig::with_static_tags(vec!["endpoint:x".into()]);
    config.histogram.non_cumulative = selector & 1 != 0;
    config.histogram.distributions = selector & 2 != 0;
    config.histogram.counters_with_distributions = selector & 4 != 0;
    config.hostname_label = "host".into();
    let format = if selector & 8 != 0 {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    let text = decode_utf8(body);
    let first = (selector & 16 != 0).then_some(FirstScrape {
        agent_start_time: Some(0.0),
    });
    let clock = selector >> 4 == 4;
    // Streaming twice with one transformer (the second scrape reads the series cache) must give
    // what a fresh transformer gives with every record kept to the end.
    let mut cached = ScraperState::default();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut seen = Vec::new();
        let mut flush = |records: &mut Vec<Record>, held: Option<bool>, t: &Transformer| {
            describe(records, t, clock, &mut seen);
            seen.push(format!("{held:?}"));
            records.clear();
            Ok(())
        };
        let out = scrape_streaming(
            &text,
            format,
            &config,
            &mut MapAll(selector),
            &mut cached,
            first,
            Some(&mut flush),
        );
        assert!(out.records.is_empty());
        runs.push((seen, out.error));
    }
    let mut fresh = ScraperState::default();
    let out = scrape(
        &text,
        format,
        &config,
        &mut MapAll(selector),
        &mut fresh,
        first,
    );
    let mut kept = Vec::new();
    describe(&out.records, &fresh.transformer, clock, &mut kept);
    let strip = |seen: &[String]| -> Vec<String> {
        seen.iter()
            .filter(|s| !matches!(s.as_str(), "None" | "Some(true)" | "Some(false)"))
            .cloned()
            .collect()
    };
    assert_eq!(runs[0].1, out.error);
    assert_eq!(runs[1].1, out.error);
    assert_eq!(strip(&runs[0].0), kept);
    assert_eq!(strip(&runs[1].0), kept);
});
