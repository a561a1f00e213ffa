//! The whole scrape (parse, label normalization, tags, every transformer and histogram mode) on
//! arbitrary bytes, with every family mapped. The first byte picks the format and options.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use nvidia_nim_core::config::{ScraperConfig, TransformKind, Transformer};
use nvidia_nim_core::model::{Family, MetricType, ScrapeResult};
use nvidia_nim_core::scrape::{decode_utf8, scrape, FirstScrape, Format};
use nvidia_nim_core::transform::{FamilyTransformer, Resolve};

struct MapAll(u8);

impl Resolve for MapAll {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<Transformer>>> {
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
            (6, _) => TransformKind::ServiceCheck([(1, 0u8)].into_iter().collect()),
            (7, _) => TransformKind::Metadata("le".into()),
            _ => TransformKind::Counter,
        };
        Ok(Some(Arc::new(Transformer {
            kind,
            name: family.name.to_string(),
            id: 0,
        })))
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
    let mut transformer = FamilyTransformer::new();
    let first = (selector & 16 != 0).then_some(FirstScrape {
        agent_start_time: Some(0.0),
    });
    let out = scrape(
        &text,
        format,
        &config,
        &mut MapAll(selector),
        &mut transformer,
        first,
    );
    std::hint::black_box(out.records.len());
});
