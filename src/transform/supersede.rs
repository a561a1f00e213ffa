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

use crate::lex::LineFilter;

/// Old family name (as resolved, after `raw_metric_prefix` is stripped) → current family name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Superseded {
    pairs: HashMap<String, String>,
}

/// The sample-name suffixes a family's samples may carry.
const SUFFIXES: [&str; 6] = ["_total", "_bucket", "_count", "_sum", "_gcount", "_gsum"];

impl Superseded {
    /// The pairs, old family name → current family name.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Superseded {
            pairs: pairs.into_iter().collect(),
        }
    }

    /// No pair is configured.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether the family `name` is an old family whose current family has a sample line in
    /// `text` (the whole body; `prefix` is the `raw_metric_prefix` the body's names carry) that
    /// `raw_line_filters` (`filter`) keeps.
    pub fn drops(&self, name: &str, text: &str, prefix: &str, filter: Option<&LineFilter>) -> bool {
        if self.pairs.is_empty() {
            return false;
        }
        match self.pairs.get(name) {
            Some(current) => has_sample_line(text, prefix, current, filter),
            None => false,
        }
    }
}

/// Whether a line of `text` is a sample line of `prefix` + `family` that `filter` keeps: after
/// optional spaces and tabs (the Prometheus parser strips a line), the name, an optional sample
/// suffix, then `{`, a space or a tab.
pub fn has_sample_line(
    text: &str,
    prefix: &str,
    family: &str,
    filter: Option<&LineFilter>,
) -> bool {
    let needle = format!("{prefix}{family}");
    if needle.is_empty() {
        return false;
    }
    text.match_indices(needle.as_str()).any(|(at, _)| {
        let (Some(before), Some(rest)) = (text.get(..at), text.get(at + needle.len()..)) else {
            return false;
        };
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let indented_start = before
            .get(line_start..)
            .is_some_and(|indent| indent.bytes().all(|b| b == b' ' || b == b'\t'));
        let after_name = SUFFIXES
            .iter()
            .find_map(|s| rest.strip_prefix(s))
            .unwrap_or(rest);
        let is_sample =
            indented_start && matches!(after_name.as_bytes().first(), Some(b'{' | b' ' | b'\t'));
        is_sample && filter.is_none_or(|f| !(f.0)(whole_line(text, line_start)))
    })
}

/// The line of `text` that starts at `start`, without its line break.
fn whole_line(text: &str, start: usize) -> &str {
    let line = text.get(start..).unwrap_or("");
    line.find(['\n', '\r'])
        .map_or(line, |end| line.get(..end).unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const BOTH: &str = "# TYPE vllm:gpu_cache_usage_perc gauge\n\
vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.1\n\
# HELP vllm:kv_cache_usage_perc x\n\
vllm:kv_cache_usage_perc{model_name=\"m\"} 0.2\n\
vllm:prefix_cache_queries_total{model_name=\"m\"} 3\n\
vllm:inter_token_latency_seconds_bucket{le=\"1\"} 3\n";

    fn found(text: &str, prefix: &str, family: &str) -> bool {
        has_sample_line(text, prefix, family, None)
    }

    #[test]
    fn sample_lines_only() {
        let table: [(&str, &str, &str, bool); 12] = [
            (BOTH, "", "vllm:kv_cache_usage_perc", true),
            (BOTH, "", "vllm:prefix_cache_queries", true),
            (BOTH, "", "vllm:inter_token_latency_seconds", true),
            // a TYPE or HELP line is not a sample; a longer name is another family
            (
                "# TYPE vllm:kv_cache_usage_perc gauge\n",
                "",
                "vllm:kv_cache_usage_perc",
                false,
            ),
            (
                "vllm:kv_cache_usage_perc_other 1\n",
                "",
                "vllm:kv_cache_usage_perc",
                false,
            ),
            // in a label value or after another name on the line: not a sample of the family
            ("x{a=\"vllm:a 1\"} 1\n", "", "vllm:a", false),
            ("x 1\r\nvllm:a 1\n", "", "vllm:a", true),
            // indented: the Prometheus parser strips the line
            ("x 1\n  \tvllm:a{b=\"c\"} 1\n", "", "vllm:a", true),
            ("x 1\n- vllm:a 1\n", "", "vllm:a", false),
            ("p_vllm:a 1\n", "p_", "vllm:a", true),
            ("vllm:a 1\n", "p_", "vllm:a", false),
            ("", "", "", false),
        ];
        for (text, prefix, family, expected) in table {
            assert_eq!(found(text, prefix, family), expected, "{text:?} {family}");
        }
    }

    #[test]
    fn a_line_raw_line_filters_drops_is_not_there() {
        let filter = LineFilter(Arc::new(|l: &str| l.starts_with("vllm:kv_cache")));
        let has = |text: &str| has_sample_line(text, "", "vllm:kv_cache_usage_perc", Some(&filter));
        assert!(!has(BOTH));
        // the filter sees the whole line, not the rest of it from the name on
        assert!(has("x 1\n vllm:kv_cache_usage_perc 0.2\n"));
        let s = Superseded::new([(
            "vllm:gpu_cache_usage_perc".to_string(),
            "vllm:kv_cache_usage_perc".to_string(),
        )]);
        assert!(!s.drops("vllm:gpu_cache_usage_perc", BOTH, "", Some(&filter)));
        assert!(s.drops("vllm:gpu_cache_usage_perc", BOTH, "", None));
    }

    #[test]
    fn only_old_families_whose_current_one_is_present_are_dropped() {
        let s = Superseded::new([(
            "vllm:gpu_cache_usage_perc".to_string(),
            "vllm:kv_cache_usage_perc".to_string(),
        )]);
        assert!(s.drops("vllm:gpu_cache_usage_perc", BOTH, "", None));
        assert!(!s.drops("vllm:kv_cache_usage_perc", BOTH, "", None));
        let alone = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.1\n";
        assert!(!s.drops("vllm:gpu_cache_usage_perc", alone, "", None));
        assert!(!Superseded::default().drops("vllm:gpu_cache_usage_perc", BOTH, "", None));
    }
}
