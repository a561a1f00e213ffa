//! Where label routes (`route`) meet the per-type transformers: the emissions a prepared sample
//! plans, once per selected target. Runs on the slow path only (a series' first scrape); its
//! emissions are cached with the series.

use std::sync::Arc;

use crate::error::ScrapeResult;

use super::config::{MetricSpec, ScraperConfig};
use super::emit::{plan, Names};
use super::prepare::Prepared;
use super::record::{Method, TagList};
use super::series::{Emission, ValueOp};

/// One metric a prepared sample emits: method, Datadog name, and the tag of the route's label
/// when that target sends the sample without it.
pub(crate) struct Planned {
    pub method: Method,
    pub name: Arc<str>,
    pub drop_tag: Option<Arc<str>>,
}

/// What a prepared sample emits: the entry's per-type plan, once per selected target when the
/// entry has a route (`config.routes`), else once under its own name.
pub(crate) fn plan_routed(
    config: &ScraperConfig,
    spec: &MetricSpec,
    names: &Names,
    family_name: &str,
    p: &Prepared<'_, '_>,
) -> ScrapeResult<Option<(ValueOp, Vec<Planned>)>> {
    fn owned(planned: Vec<(Method, &Arc<str>)>, drop_tag: &Option<Arc<str>>) -> Vec<Planned> {
        planned
            .into_iter()
            .map(|(method, name)| Planned {
                method,
                name: name.clone(),
                drop_tag: drop_tag.clone(),
            })
            .collect()
    }
    let Some(route) = config.routes.get(&spec.id) else {
        return Ok(plan(config, spec, names, family_name, p)?
            .map(|(op, planned)| (op, owned(planned, &None))));
    };
    let value = p.sample.labels.get(&route.label).unwrap_or("");
    // the tag the route's label became (after `rename_labels`), for the targets that drop it
    let label_tag: Option<Arc<str>> = Some(Arc::from(format!(
        "{}:{value}",
        config
            .rename_labels
            .get(&route.label)
            .map_or(route.label.as_str(), String::as_str)
    )));
    let mut op = ValueOp::Same;
    let mut all = Vec::new();
    for target in &route.targets {
        if !target.matcher.matches(value) {
            continue;
        }
        let names = Names::new(&target.name);
        let Some((target_op, planned)) = plan(config, spec, &names, family_name, p)? else {
            return Ok(None);
        };
        op = target_op;
        let drop_tag = if target.keep_label { &None } else { &label_tag };
        all.extend(owned(planned, drop_tag));
    }
    Ok(Some((op, all)))
}

/// The emissions of a sample's planned metrics, with its label tags (all of them, or without the
/// route label's tag where a target drops it) and hostname.
pub(crate) fn emissions(
    planned: Vec<Planned>,
    tags: Vec<String>,
    hostname: String,
) -> Vec<Emission> {
    let without = |drop: &str| {
        let mut labels = tags.clone();
        if let Some(i) = labels.iter().position(|t| t == drop) {
            labels.remove(i);
        }
        Arc::new(TagList {
            labels,
            with_static: true,
            suffix: None,
        })
    };
    let stripped = planned
        .iter()
        .find_map(|p| p.drop_tag.as_deref())
        .map(without);
    let full = Arc::new(TagList {
        labels: tags,
        with_static: true,
        suffix: None,
    });
    let hostname: Arc<str> = Arc::from(hostname);
    planned
        .into_iter()
        .map(|p| Emission {
            method: p.method,
            name: p.name,
            tags: match (&p.drop_tag, &stripped) {
                (Some(_), Some(stripped)) => stripped.clone(),
                _ => full.clone(),
            },
            hostname: hostname.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::model::{Labels, MetricType, Sample};
    use crate::number::Num;
    use crate::transform::config::TransformKind;
    use crate::transform::prepare::prepare;
    use crate::transform::route::{LabelRoute, RouteMatch, RouteTarget};
    use crate::transform::tags::NumberCache;

    fn sample(priority: Option<&'static str>) -> Sample<'static> {
        let mut labels = Labels::new();
        labels.set(Cow::Borrowed("model_name"), Cow::Borrowed("m"));
        if let Some(p) = priority {
            labels.set(Cow::Borrowed("priority"), Cow::Borrowed(p));
        }
        let value = Num::float(3.0);
        Sample::parsed(Cow::Borrowed("q"), labels, "", value)
    }

    /// `(name, label tags)` of each emission of a gauge sample through the priority route.
    fn emitted(config: &ScraperConfig, s: &Sample<'_>) -> Vec<(String, Vec<String>)> {
        let transformer = MetricSpec {
            kind: TransformKind::Gauge,
            name: "num_requests.waiting".into(),
            id: 7,
        };
        let names = Names::new(&transformer.name);
        let mut numbers = NumberCache::default();
        let p = prepare(config, MetricType::Gauge, s, &mut numbers)
            .ok()
            .flatten()
            .expect("a gauge sample passes the pipeline");
        let (_, planned) = plan_routed(config, &transformer, &names, "q", &p)
            .ok()
            .flatten()
            .expect("a gauge has a plan");
        emissions(planned, p.tags, p.hostname)
            .into_iter()
            .map(|e| (e.name.to_string(), e.tags.labels.clone()))
            .collect()
    }

    #[test]
    fn the_total_drops_the_label_and_children_keep_it() {
        let mut config = ScraperConfig::with_static_tags(Vec::new());
        let target = |name: &str, matcher, keep_label| RouteTarget {
            name: Arc::from(name),
            matcher,
            keep_label,
        };
        let empty = vec![String::new()];
        config.routes.insert(
            7,
            Arc::new(LabelRoute::new(
                "priority".into(),
                vec![
                    target("num_requests.waiting", RouteMatch::In(empty.clone()), false),
                    target(
                        "num_requests.waiting.by_priority",
                        RouteMatch::NotIn(empty),
                        true,
                    ),
                ],
            )),
        );
        let total = emitted(&config, &sample(Some("")));
        assert_eq!(
            total,
            [("num_requests.waiting".into(), vec!["model_name:m".into()])]
        );
        let child = emitted(&config, &sample(Some("2")));
        let tags: Vec<String> = vec!["model_name:m".into(), "priority:2".into()];
        assert_eq!(child, [("num_requests.waiting.by_priority".into(), tags)]);
        // no label: the total, as without priority scheduling
        let plain = emitted(&config, &sample(None));
        assert_eq!(
            plain,
            [("num_requests.waiting".into(), vec!["model_name:m".into()])]
        );
        // a renamed label is dropped under its new name
        config
            .rename_labels
            .insert("priority".into(), "prio".into());
        let child = emitted(&config, &sample(Some("1")));
        assert_eq!(child[0].1, ["model_name:m", "prio:1"]);
        // without a route: the entry's own name, all tags
        config.routes.clear();
        config.rename_labels.remove("priority");
        let unrouted = emitted(&config, &sample(Some("")));
        let tags: Vec<String> = vec!["model_name:m".into(), "priority:".into()];
        assert_eq!(unrouted, [("num_requests.waiting".into(), tags)]);
    }
}
