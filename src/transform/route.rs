//! Label routes: one family's samples sent under several Datadog names, chosen per sample by the
//! value of one label.
//!
//! A route belongs to one metric-map entry (the transformer's `id`) and lists targets, each a
//! Datadog name and a match on the label's value: `Any`, `In(values)` or `NotIn(values)`. A sample
//! goes to every target whose match holds, each time through the entry's own per-type transformer
//! (a counter sample becomes one `monotonic_count` per target, with the same value, tags,
//! hostname and `flush_first_value` as any counter), and a sample no target matches is not sent.
//! An absent label matches as the empty value. The label stays a tag, unless the target drops it
//! (SGLang's priority gauges: the total, `priority=""`, goes out without a `priority` tag).
//!
//! The metric map sets them (`label_routes` in `datadog_checks/nvidia_nim/metrics.py`): vLLM V1's
//! `vllm:request_success_total{finished_reason}` counts every finished request; the NIM 1.x
//! meanings are `request.success` (stop, length), `request.failure` (any other reason) and
//! `request.finish` (all). Routes apply where a sample's emissions are planned, so a series'
//! cached emissions (the fast path) carry them too; decumulated histograms are not routed.

use std::sync::Arc;

/// Which values of the route's label select a target.
#[derive(Clone, Debug, PartialEq)]
pub enum RouteMatch {
    Any,
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl RouteMatch {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            RouteMatch::Any => true,
            RouteMatch::In(values) => values.iter().any(|v| v == value),
            RouteMatch::NotIn(values) => !values.iter().any(|v| v == value),
        }
    }
}

/// One target of a route: a Datadog name, the values that select it, and whether the sample keeps
/// the route's label as a tag there.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteTarget {
    pub name: Arc<str>,
    pub matcher: RouteMatch,
    pub keep_label: bool,
}

/// The routes of one metric-map entry.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRoute {
    pub label: String,
    pub targets: Vec<RouteTarget>,
}

impl LabelRoute {
    /// A route on `label` to its targets, in submission order.
    pub fn new(label: String, targets: Vec<RouteTarget>) -> Self {
        LabelRoute { label, targets }
    }

    /// The Datadog names of the targets a label value selects.
    pub fn selected<'r>(&'r self, value: &'r str) -> impl Iterator<Item = &'r str> + 'r {
        self.targets
            .iter()
            .filter(move |t| t.matcher.matches(value))
            .map(|t| &*t.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished() -> LabelRoute {
        let ok = vec!["stop".to_string(), "length".to_string()];
        let target = |name: &str, matcher| RouteTarget {
            name: Arc::from(name),
            matcher,
            keep_label: true,
        };
        LabelRoute::new(
            "finished_reason".into(),
            vec![
                target("request.success", RouteMatch::In(ok.clone())),
                target("request.failure", RouteMatch::NotIn(ok)),
                target("request.finish", RouteMatch::Any),
            ],
        )
    }

    #[test]
    fn each_value_selects_its_targets_in_order() {
        let route = finished();
        let of = |v| route.selected(v).collect::<Vec<_>>();
        assert_eq!(of("stop"), ["request.success", "request.finish"]);
        assert_eq!(of("length"), ["request.success", "request.finish"]);
        assert_eq!(of("abort"), ["request.failure", "request.finish"]);
        assert_eq!(of("error"), ["request.failure", "request.finish"]);
        // an absent label is the empty value: not a success
        assert_eq!(of(""), ["request.failure", "request.finish"]);
    }

    #[test]
    fn matches() {
        assert!(RouteMatch::Any.matches(""));
        assert!(RouteMatch::In(vec!["a".into()]).matches("a"));
        assert!(!RouteMatch::In(vec!["a".into()]).matches("b"));
        assert!(RouteMatch::NotIn(vec!["a".into()]).matches("b"));
        assert!(!RouteMatch::NotIn(vec!["a".into()]).matches("a"));
    }
}
