//! Superseded families: where an engine renamed a family and, for a release or two, exposes both
//! names, and both map to the same Datadog name, only the current family is sent in a scrape
//! whose body has it; the old one is sent when it is alone.
//!
//! The pairs come from the metric map (`SUPERSEDED` in `datadog_checks/nvidia_nim/metrics.py`,
//! kept only where both families resolve to the same Datadog name). The check costs nothing on a
//! body without an old family: only when an old family arrives is the body searched, once, for a
//! sample line of the current one (its name at the start of a line, followed by `{`, a space, or
//! a counter or histogram sample suffix). The decision is made before the old family is
//! transformed, so it makes no records and `latency_percentiles` sees only the family sent.

use std::collections::HashMap;

/// Old family name (as resolved, after `raw_metric_prefix` is stripped) → current family name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Superseded {
    pairs: HashMap<String, String>,
}

/// The sample-name suffixes a family's samples may carry.
const SUFFIXES: [&str; 6] = ["_total", "_bucket", "_count", "_sum", "_gcount", "_gsum"];

impl Superseded {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Superseded {
            pairs: pairs.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether the family `name` is an old family whose current family has a sample in `text`
    /// (the whole body; `prefix` is the `raw_metric_prefix` the body's names carry).
    pub fn drops(&self, name: &str, text: &str, prefix: &str) -> bool {
        if self.pairs.is_empty() {
            return false;
        }
        match self.pairs.get(name) {
            Some(current) => has_sample_line(text, prefix, current),
            None => false,
        }
    }
}

/// Whether a line of `text` starts with `prefix` + `family` + an optional sample suffix, followed
/// by `{`, a space or a tab.
pub fn has_sample_line(text: &str, prefix: &str, family: &str) -> bool {
    let needle = format!("{prefix}{family}");
    if needle.is_empty() {
        return false;
    }
    text.match_indices(needle.as_str()).any(|(at, _)| {
        let line_start = at == 0 || matches!(text.as_bytes().get(at - 1), Some(b'\n' | b'\r'));
        let Some(rest) = text.get(at + needle.len()..) else {
            return false;
        };
        let rest = SUFFIXES
            .iter()
            .find_map(|s| rest.strip_prefix(s))
            .unwrap_or(rest);
        line_start && matches!(rest.as_bytes().first(), Some(b'{' | b' ' | b'\t'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &str = "# TYPE vllm:gpu_cache_usage_perc gauge\n\
vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.1\n\
# HELP vllm:kv_cache_usage_perc x\n\
vllm:kv_cache_usage_perc{model_name=\"m\"} 0.2\n\
vllm:prefix_cache_queries_total{model_name=\"m\"} 3\n\
vllm:inter_token_latency_seconds_bucket{le=\"1\"} 3\n";

    #[test]
    fn sample_lines_only() {
        assert!(has_sample_line(BOTH, "", "vllm:kv_cache_usage_perc"));
        assert!(has_sample_line(BOTH, "", "vllm:prefix_cache_queries"));
        assert!(has_sample_line(
            BOTH,
            "",
            "vllm:inter_token_latency_seconds"
        ));
        // a TYPE or HELP line is not a sample; a longer name is another family
        assert!(!has_sample_line(
            "# TYPE vllm:kv_cache_usage_perc gauge\n",
            "",
            "vllm:kv_cache_usage_perc"
        ));
        assert!(!has_sample_line(
            "vllm:kv_cache_usage_perc_other 1\n",
            "",
            "vllm:kv_cache_usage_perc"
        ));
        assert!(has_sample_line("x 1\r\nvllm:a 1\n", "", "vllm:a"));
        assert!(has_sample_line("p_vllm:a 1\n", "p_", "vllm:a"));
        assert!(!has_sample_line("vllm:a 1\n", "p_", "vllm:a"));
        assert!(!has_sample_line("", "", ""));
    }

    #[test]
    fn only_old_families_whose_current_one_is_present_are_dropped() {
        let s = Superseded::new([(
            "vllm:gpu_cache_usage_perc".to_string(),
            "vllm:kv_cache_usage_perc".to_string(),
        )]);
        assert!(s.drops("vllm:gpu_cache_usage_perc", BOTH, ""));
        assert!(!s.drops("vllm:kv_cache_usage_perc", BOTH, ""));
        let alone = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.1\n";
        assert!(!s.drops("vllm:gpu_cache_usage_perc", alone, ""));
        assert!(!Superseded::default().drops("vllm:gpu_cache_usage_perc", BOTH, ""));
    }
}
