//! Where label routes (`route`) meet the per-type transformers: the emissions a prepared sample
//! plans, once per selected target. Runs on the slow path only (a series' first scrape); its
//! emissions are cached with the series.

use std::sync::Arc;

use crate::error::ScrapeResult;

use super::config::{ScraperConfig, Transformer};
use super::emit::{plan, Names};
use super::prepare::Prepared;
use super::record::Method;
use super::series::ValueOp;

/// What a prepared sample emits: the entry's per-type plan, once per selected target when the
/// entry has a route (`config.routes`), else once under its own name.
#[allow(clippy::type_complexity)]
pub(crate) fn plan_routed(
    config: &ScraperConfig,
    transformer: &Transformer,
    names: &Names,
    family_name: &str,
    p: &Prepared<'_, '_>,
) -> ScrapeResult<Option<(ValueOp, Vec<(Method, Arc<str>)>)>> {
    let owned = |planned: Vec<(Method, &Arc<str>)>| -> Vec<(Method, Arc<str>)> {
        planned.into_iter().map(|(m, n)| (m, n.clone())).collect()
    };
    let Some(route) = config.routes.get(&transformer.id) else {
        return Ok(plan(config, transformer, names, family_name, p)?
            .map(|(op, planned)| (op, owned(planned))));
    };
    let value = p.sample.labels.get(&route.label).unwrap_or("");
    let mut op = ValueOp::Same;
    let mut all = Vec::new();
    for (matcher, target) in &route.targets {
        if !matcher.matches(value) {
            continue;
        }
        let target = Names::new(target);
        match plan(config, transformer, &target, family_name, p)? {
            Some((target_op, planned)) => {
                op = target_op;
                all.extend(owned(planned));
            }
            None => return Ok(None),
        }
    }
    Ok(Some((op, all)))
}
