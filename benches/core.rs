//! Core benchmark: parse + transform alone (no Python) on NIM-shaped payloads built from the real
//! NIM scrape in tests/fixtures, for 1, 10, 100 and 500 models, in Prometheus and OpenMetrics
//! formats. Prints MB/s and samples/s (best of several rounds, one thread).
//!
//!     cargo bench --bench core

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use nvidia_nim_core::error::ScrapeResult;
use nvidia_nim_core::model::{Family, MetricType};
use nvidia_nim_core::scrape::{scrape, Format, ScraperState};
use nvidia_nim_core::transform::config::{MetricSpec, ScraperConfig, TransformKind};
use nvidia_nim_core::transform::Resolve;

const FIXTURE: &str = include_str!("../tests/fixtures/nim_metrics.txt");
const MODEL: &str = "meta/llama-3.1-8b-instruct";

/// The fixture with every per-model series repeated for `models` models (families stay contiguous).
fn payload(models: usize, openmetrics: bool) -> String {
    let mut out = String::new();
    // each run of per-model lines (one family's series) is repeated model by model
    let mut block: Vec<&str> = Vec::new();
    let flush = |block: &mut Vec<&str>, out: &mut String| {
        for m in 0..models {
            for line in block.iter() {
                out.push_str(&line.replace(MODEL, &format!("{MODEL}-{m:03}")));
                out.push('\n');
            }
        }
        block.clear();
    };
    for line in FIXTURE.lines() {
        if line.contains(MODEL) {
            block.push(line);
        } else {
            flush(&mut block, &mut out);
            out.push_str(line);
            out.push('\n');
        }
    }
    flush(&mut block, &mut out);
    if openmetrics {
        // OpenMetrics: counters are typed without `_total`; the body ends with `# EOF`.
        let mut om = String::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some(name) = rest.strip_suffix("_total counter") {
                    om.push_str(&format!("# TYPE {name} counter\n"));
                    continue;
                }
            }
            if line.starts_with("# HELP ") && line.contains("_total ") {
                let help = line.replacen("_total ", " ", 1);
                om.push_str(&help);
                om.push('\n');
                continue;
            }
            om.push_str(line);
            om.push('\n');
        }
        om.push_str("# EOF\n");
        return om;
    }
    out
}

/// The default nvidia_nim map, resolved natively as the Python resolver does.
struct DefaultMap {
    map: HashMap<&'static str, (&'static str, bool)>,
}

impl DefaultMap {
    fn new() -> Self {
        let entries: [(&str, &str); 24] = [
            (
                "process_virtual_memory_bytes",
                "process.virtual_memory_bytes",
            ),
            (
                "process_resident_memory_bytes",
                "process.resident_memory_bytes",
            ),
            ("process_start_time_seconds", "process.start_time_seconds"),
            ("process_cpu_seconds", "process.cpu_seconds"),
            ("process_open_fds", "process.open_fds"),
            ("process_max_fds", "process.max_fds"),
            ("python_gc_objects_collected", "python.gc.objects.collected"),
            (
                "python_gc_objects_uncollectable",
                "python.gc.objects.uncollectable",
            ),
            ("python_gc_collections", "python.gc.collections"),
            ("python_info", "python.info"),
            ("num_requests_running", "num_requests.running"),
            ("num_requests_waiting", "num_requests.waiting"),
            ("num_request_max", "num_request.max"),
            ("gpu_cache_usage_perc", "gpu_cache_usage_percent"),
            ("prompt_tokens", "prompt_tokens"),
            ("generation_tokens", "generation_tokens"),
            ("time_to_first_token_seconds", "time_to_first_token.seconds"),
            (
                "time_per_output_token_seconds",
                "time_per_output_token.seconds",
            ),
            ("e2e_request_latency_seconds", "e2e_request_latency.seconds"),
            ("request_prompt_tokens", "request.prompt_tokens"),
            ("request_generation_tokens", "request.generation_tokens"),
            ("request_finish", "request.finish"),
            ("request_success", "request.success"),
            ("request_failure", "request.failure"),
        ];
        let map = entries
            .iter()
            .map(|(k, v)| (*k, (*v, *k == "process_start_time_seconds")))
            .collect();
        DefaultMap { map }
    }
}

impl Resolve for DefaultMap {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>> {
        let Some((name, elapsed)) = self.map.get(family.name.as_ref()) else {
            return Ok(None);
        };
        let kind = match (elapsed, family.typ) {
            (true, _) => TransformKind::TimeElapsed,
            (_, MetricType::Gauge) => TransformKind::Gauge,
            (_, MetricType::Counter) => TransformKind::Counter,
            (_, MetricType::Histogram) => TransformKind::Histogram,
            (_, MetricType::Summary) => TransformKind::Summary,
            _ => return Ok(None),
        };
        Ok(Some(Arc::new(MetricSpec {
            kind,
            name: name.to_string(),
            id: 0,
        })))
    }
}

fn main() {
    let mut config = ScraperConfig::with_static_tags(vec![
        "test:test".into(),
        "endpoint:http://localhost:8000/v1/metrics".into(),
    ]);
    // the check's default `rename_labels` (datadog_checks/nvidia_nim/metrics.py)
    config
        .rename_labels
        .insert("version".into(), "python_version".into());
    println!(
        "{:>6} {:>12} {:>10} {:>9} {:>10} {:>9} {:>12}",
        "models", "format", "bytes", "samples", "ms", "MB/s", "samples/s"
    );
    // CORE_BENCH_ONLY=<models>[,prometheus|openmetrics] narrows the run (for profiling)
    let only = std::env::var("CORE_BENCH_ONLY").unwrap_or_default();
    let mut only = only.split(',');
    let only_models: Option<usize> = only.next().and_then(|m| m.parse().ok());
    let only_format = only.next().map(str::to_string);
    for models in [1usize, 10, 100, 500] {
        if only_models.is_some_and(|m| m != models) {
            continue;
        }
        for (openmetrics, label) in [(false, "prometheus"), (true, "openmetrics")] {
            if only_format.as_deref().is_some_and(|f| f != label) {
                continue;
            }
            let body = payload(models, openmetrics);
            let format = if openmetrics {
                Format::OpenMetrics
            } else {
                Format::Prometheus
            };
            let samples = body
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .count();
            let mut state = ScraperState::default();
            let mut resolver = DefaultMap::new();
            let rounds = (50_000_000 / body.len()).clamp(10, 500);
            let mut best = f64::INFINITY;
            for _ in 0..rounds {
                let start = Instant::now();
                let out = scrape(&body, format, &config, &mut resolver, &mut state, None);
                let elapsed = start.elapsed().as_secs_f64();
                assert!(out.error.is_none(), "{:?}", out.error);
                std::hint::black_box(&out.records);
                // as the bindings do: the record vector serves the next scrape
                state.transformer.spare_records = out.records;
                best = best.min(elapsed);
            }
            println!(
                "{:>6} {:>12} {:>10} {:>9} {:>10.3} {:>9.0} {:>12.0}",
                models,
                label,
                body.len(),
                samples,
                best * 1000.0,
                body.len() as f64 / best / 1e6,
                samples as f64 / best
            );
        }
    }
}
