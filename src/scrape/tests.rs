//! Table tests of the transform and scrape layers: a small exposition and a few options in, the
//! submissions out, one line per record as `method name value [tags] host` (a distribution
//! bucket as `bucket name value (lower, upper] [tags]`), with the stock
//! check's semantics (the `native` catch-all map entry of the differential tests: every counter,
//! gauge, histogram and summary family keeps its name and type; an untyped family maps to none).

use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::lex::LineFilter;
use crate::number::PyNum;
use crate::transform::config::{MetricSpec, TransformKind};
use crate::transform::record::{BucketRecord, Method, Record};
use crate::transform::share::ShareSource;

/// The `native` catch-all: each counter, gauge, histogram or summary family as itself.
struct Native;

impl Resolve for Native {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>> {
        let kind = match family.typ {
            MetricType::Counter => TransformKind::Counter,
            MetricType::Gauge => TransformKind::Gauge,
            MetricType::Histogram => TransformKind::Histogram,
            MetricType::Summary => TransformKind::Summary,
            _ => return Ok(None),
        };
        let name = family.name.to_string();
        Ok(Some(Arc::new(MetricSpec { kind, name, id: 0 })))
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Gauge => "gauge",
        Method::Rate => "rate",
        Method::MonotonicCount => "monotonic_count",
    }
}

fn line(method: Method, name: &str, value: f64, tags: &[String], hostname: &str) -> String {
    let host = if hostname.is_empty() {
        String::new()
    } else {
        format!(" host={hostname}")
    };
    let tags = tags.join(", ");
    format!("{} {name} {value} [{tags}]{host}", method_name(method))
}

/// The records of a scrape, one line each (cached series read back from the series cache).
fn render(out: &ScrapeOutput, config: &ScraperConfig, state: &ScraperState) -> Vec<String> {
    let tags = &config.static_tags;
    out.records
        .iter()
        .map(|record| match record {
            Record::Cached { slot, value } => match state.transformer.emission(*slot) {
                Some(e) => line(e.method, &e.name, *value, &e.tags.full(tags), &e.hostname),
                None => format!("missing slot {slot}"),
            },
            Record::Metric(m) => line(m.method, &m.name, m.value, &m.tags.full(tags), &m.hostname),
            Record::Bucket(b) => bucket_line(b, tags),
            other => format!("{other:?}"),
        })
        .collect()
}

/// `submit_histogram_bucket name value (lower, upper] [tags]`, the value as Python prints the
/// int or float it is.
fn bucket_line(b: &BucketRecord, static_tags: &[String]) -> String {
    let value = match &b.value {
        PyNum::Int(v) => v.to_string(),
        PyNum::Big(v) => v.to_decimal(),
        PyNum::Float(v) => format!("{v:?}"),
    };
    let tags = b.tags.full(static_tags).join(", ");
    let multiple = if b.multiple { " multiple" } else { "" };
    format!(
        "bucket {} {value} ({}, {}] [{tags}]{multiple}",
        b.name, b.lower, b.upper
    )
}

/// One Prometheus-text scrape.
fn prom(text: &str, c: &ScraperConfig, r: &mut dyn Resolve, s: &mut ScraperState) -> ScrapeOutput {
    scrape(text, Format::Prometheus, c, r, s, None)
}

fn config() -> ScraperConfig {
    ScraperConfig::with_static_tags(vec!["endpoint:e".into()])
}

/// Scrapes `text` (Prometheus format) twice with one scraper state; both scrapes must give the
/// same records (the second from the series cache). Returns them, or the error.
fn run(text: &str, config: &ScraperConfig) -> Result<Vec<String>, String> {
    let mut state = ScraperState::default();
    let first = prom(text, config, &mut Native, &mut state);
    let rendered = render(&first, config, &state);
    let second = prom(text, config, &mut Native, &mut state);
    assert_eq!(
        render(&second, config, &state),
        rendered,
        "second scrape of {text:?}"
    );
    match first.error {
        Some(e) => Err(format!("{rendered:?} then {}", e.message)),
        None => Ok(rendered),
    }
}

fn lines(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|s| s.to_string()).collect()
}

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// (name, exposition, expected records)
const DEFAULT_OPTIONS: &[(&str, &str, &[&str])] = &[
    (
        "gauge",
        "# TYPE g gauge\ng{a=\"1\"} 3\ng{a=\"2\"} -0.5\n",
        &[
            "gauge g 3 [a:1, endpoint:e]",
            "gauge g -0.5 [a:2, endpoint:e]",
        ],
    ),
    (
        "counter: `.count`, a monotonic count",
        "# TYPE c_total counter\nc_total{a=\"1\"} 5\n",
        &["monotonic_count c.count 5 [a:1, endpoint:e]"],
    ),
    (
        "histogram: cumulative buckets with `upper_bound` (not the +Inf one, the same context as \
         `.count`), then `.count` and `.sum`",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum 4.5\n",
        &[
            "monotonic_count h.bucket 1 [upper_bound:1.0, endpoint:e]",
            "monotonic_count h.count 3 [endpoint:e]",
            "monotonic_count h.sum 4.5 [endpoint:e]",
        ],
    ),
    (
        "summary: `.quantile` gauges, then `.count` and `.sum`",
        "# TYPE s summary\ns{quantile=\"0.5\"} 2\ns_count 7\ns_sum 9\n",
        &[
            "gauge s.quantile 2 [quantile:0.5, endpoint:e]",
            "monotonic_count s.count 7 [endpoint:e]",
            "monotonic_count s.sum 9 [endpoint:e]",
        ],
    ),
    (
        "NaN and infinite values are skipped",
        "# TYPE g gauge\ng{a=\"1\"} NaN\ng{a=\"2\"} +Inf\ng{a=\"3\"} 1\n",
        &["gauge g 1 [a:3, endpoint:e]"],
    ),
    (
        "an untyped family maps to no transformer",
        "u 1\n# TYPE g gauge\ng 2\n",
        &["gauge g 2 [endpoint:e]"],
    ),
    ("an empty body is no metrics", "", &[]),
];

#[test]
fn families_of_each_type() {
    let config = config();
    for (name, text, expected) in DEFAULT_OPTIONS {
        assert_eq!(run(text, &config), Ok(lines(expected)), "{name}");
    }
}

type Options = fn(&mut ScraperConfig);

/// (name, options, exposition, expected records)
const OPTION_CASES: &[(&str, Options, &str, &[&str])] = &[
    (
        "exclude_labels drops a label's tag",
        |c| c.exclude_labels = set(&["b"]),
        "# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\n",
        &["gauge g 1 [a:1, endpoint:e]"],
    ),
    (
        "include_labels keeps only those labels",
        |c| c.include_labels = set(&["b"]),
        "# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\n",
        &["gauge g 1 [b:2, endpoint:e]"],
    ),
    (
        "rename_labels renames a tag",
        |c| {
            c.rename_labels.insert("version".into(), "python_version".into());
        },
        "# TYPE g gauge\ng{version=\"3.12\"} 1\n",
        &["gauge g 1 [python_version:3.12, endpoint:e]"],
    ),
    (
        "raw_metric_prefix is stripped before anything else",
        |c| c.raw_metric_prefix = "vllm:".into(),
        "# TYPE vllm:g gauge\nvllm:g 1\n",
        &["gauge g 1 [endpoint:e]"],
    ),
    (
        "hostname_label with hostname_format",
        |c| {
            c.hostname_label = "node".into();
            c.hostname_format = Some("<HOSTNAME>-x".into());
        },
        "# TYPE g gauge\ng{node=\"n1\"} 1\n",
        &["gauge g 1 [node:n1, endpoint:e] host=n1-x"],
    ),
    (
        "collect_histogram_buckets off: only `.count` and `.sum`",
        |c| c.histogram.collect_buckets = false,
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum 4\n",
        &[
            "monotonic_count h.count 3 [endpoint:e]",
            "monotonic_count h.sum 4 [endpoint:e]",
        ],
    ),
    (
        "share_labels: a source's labels go to every sample, whatever the order",
        |c| {
            let source = ShareSource {
                labels: Some(set(&["region"])),
                ..ShareSource::default()
            };
            c.share.sources = vec![("src".into(), source)];
            c.share.cache = true;
        },
        "# TYPE g gauge\ng 1\n# TYPE src gauge\nsrc{region=\"eu\",other=\"x\"} 1\n",
        &[
            "gauge g 1 [region:eu, endpoint:e]",
            "gauge src 1 [region:eu, other:x, endpoint:e]",
        ],
    ),
    (
        "share_labels with match: only samples with the same values of those labels",
        |c| {
            let source = ShareSource {
                labels: Some(set(&["region"])),
                matching: Some(set(&["pod"])),
                ..ShareSource::default()
            };
            c.share.sources = vec![("src".into(), source)];
            c.share.cache = true;
        },
        "# TYPE src gauge\nsrc{pod=\"p1\",region=\"eu\"} 1\n# TYPE g gauge\ng{pod=\"p1\"} 1\ng{pod=\"p2\"} 2\n",
        &[
            "gauge src 1 [pod:p1, region:eu, endpoint:e]",
            "gauge g 1 [pod:p1, region:eu, endpoint:e]",
            "gauge g 2 [pod:p2, endpoint:e]",
        ],
    ),
    (
        "non_cumulative_histogram_buckets: each bucket's own count, with both bounds as tags",
        |c| c.histogram.non_cumulative = true,
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum 4\n",
        &[
            "monotonic_count h.bucket 1 [upper_bound:1.0, endpoint:e, lower_bound:0]",
            "monotonic_count h.count 3 [endpoint:e]",
            "monotonic_count h.sum 4 [endpoint:e]",
        ],
    ),
    (
        "histogram_buckets_as_distributions: decumulated buckets, exact past 2^53",
        |c| {
            c.histogram.non_cumulative = true;
            c.histogram.distributions = true;
        },
        "# TYPE h histogram\nh_bucket{le=\"1\"} 9007199254740993\nh_bucket{le=\"+Inf\"} \
         9007199254740996\nh_count 9007199254740996\nh_sum 4\n",
        // no `.count` or `.sum` without collect_counters_with_distributions
        &[
            "bucket h 9007199254740993 (0, 1] [upper_bound:1.0, endpoint:e, lower_bound:0]",
            "bucket h 3 (1, inf] [upper_bound:inf, endpoint:e, lower_bound:1.0]",
        ],
    ),
    (
        "raw_line_filters: matching lines are dropped before parsing",
        |c| c.raw_line_filter = Some(LineFilter(Arc::new(|l: &str| l.starts_with("drop")))),
        "# TYPE g gauge\ndrop{a=\"1\"} 1\ng 2\n",
        &["gauge g 2 [endpoint:e]"],
    ),
];

#[test]
fn options() {
    for (name, options, text, expected) in OPTION_CASES {
        let mut config = config();
        options(&mut config);
        assert_eq!(run(text, &config), Ok(lines(expected)), "{name}");
    }
}

/// (name, exposition, records made before the error, then the error)
const ERROR_CASES: &[(&str, &str, &str)] = &[
    (
        "a parse error keeps the families before it",
        "# TYPE a gauge\na 1\n# TYPE g gauge\ng abc\n",
        "[\"gauge a 1 [endpoint:e]\"] then could not convert string to float: 'abc'",
    ),
    (
        "an invalid type fails once its family is read",
        "# TYPE a gauge\na 1\n# TYPE g weird\ng 1\n",
        "[\"gauge a 1 [endpoint:e]\"] then Invalid metric type: weird",
    ),
];

#[test]
fn errors() {
    let config = config();
    for (name, text, expected) in ERROR_CASES {
        assert_eq!(
            run(text, &config).err().as_deref(),
            Some(*expected),
            "{name}"
        );
    }
}

/// Lines the filter drops are counted as the parser reaches them: none past a parse error.
#[test]
fn filtered_lines_are_counted_up_to_where_the_scrape_stops() {
    let mut config = config();
    config.raw_line_filter = Some(LineFilter(Arc::new(|l: &str| l.starts_with("drop"))));
    let cases = [
        ("drop 1\n# TYPE g gauge\ndrop 2\ng 1\ndrop 3\n", 3, false),
        ("drop 1\n# TYPE g gauge\ng abc\ndrop 2\n", 1, true),
    ];
    for (text, filtered, failed) in cases {
        let mut state = ScraperState::default();
        let out = prom(text, &config, &mut Native, &mut state);
        assert_eq!(
            (out.filtered_lines, out.error.is_some()),
            (filtered, failed),
            "{text:?}"
        );
    }
}

/// Every parsed family's sample count is recorded, mapped or not (`telemetry`).
#[test]
fn input_samples_are_counted_per_family() {
    let text = "u 1\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"2\"} 2\n";
    let mut state = ScraperState::default();
    let out = prom(text, &config(), &mut Native, &mut state);
    assert_eq!(out.input_samples, [1, 2]);
}

/// A resolver that fails for one family name.
struct FailingOn(&'static str);

impl Resolve for FailingOn {
    fn resolve(&mut self, family: &Family<'_>) -> ScrapeResult<Option<Arc<MetricSpec>>> {
        if family.name == self.0 {
            return Err(ScrapeError::new(ErrorKind::Key, "unknown"));
        }
        Native.resolve(family)
    }
}

/// Families held for a `share_labels` source that never comes go out at the end of the stream;
/// when one fails, those before it are sent and the later ones are not (but were parsed).
#[test]
fn held_families_before_a_failing_one_are_sent() {
    let mut config = config();
    config.share.sources = vec![("missing".into(), ShareSource::default())];
    let text = "# TYPE g gauge\ng 1\n# TYPE u gauge\nu 5\n# TYPE h gauge\nh 1\n";
    let mut state = ScraperState::default();
    let out = prom(text, &config, &mut FailingOn("u"), &mut state);
    assert_eq!(render(&out, &config, &state), ["gauge g 1 [endpoint:e]"]);
    assert_eq!(out.error.map(|e| e.message), Some("unknown".to_string()));
    assert_eq!(out.input_samples, [1, 1, 1]);
    // a parse error while they wait: none is sent
    let text = "# TYPE g gauge\ng 1\n# TYPE h gauge\nh abc\n";
    let out = prom(text, &config, &mut Native, &mut state);
    assert!(out.records.is_empty() && out.error.is_some());
}

/// On a first scrape with `use_process_start_time`, counter, histogram and summary families go
/// out after the others, flushed when the process started after the Agent.
#[test]
fn first_scrape_holds_counter_families_to_the_end() {
    let text = "# TYPE c_total counter\nc_total 1\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 200\n";
    let config = config();
    for (agent_start, flush) in [(Some(100.0), true), (Some(300.0), false), (None, false)] {
        let mut state = ScraperState::default();
        let first = Some(FirstScrape {
            agent_start_time: agent_start,
        });
        let out = scrape(
            text,
            Format::Prometheus,
            &config,
            &mut Native,
            &mut state,
            first,
        );
        assert_eq!(
            render(&out, &config, &state),
            [
                "gauge process_start_time_seconds 200 [endpoint:e]",
                "monotonic_count c.count 1 [endpoint:e]"
            ]
        );
        assert_eq!((out.held_start, out.held_flush), (Some(1), flush));
    }
}

/// The OpenMetrics parser feeds the same pipeline: a counter's `_created` is not a count.
#[test]
fn openmetrics_counter_without_created() {
    let text = "# TYPE c counter\nc_total 5\nc_created 1.7e9\n# EOF\n";
    let config = config();
    let mut state = ScraperState::default();
    let out = scrape(
        text,
        Format::OpenMetrics,
        &config,
        &mut Native,
        &mut state,
        None,
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(
        render(&out, &config, &state),
        ["monotonic_count c.count 5 [endpoint:e]"]
    );
}
