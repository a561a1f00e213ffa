//! Making the gauges of an info family (`info`): from its latest sample, the configured gauges,
//! tagged with the sample's other labels as any sample's labels become tags.

use crate::error::ScrapeResult;
use crate::model::{Family, Labels};

use super::config::ScraperConfig;
use super::info::InfoGauges;
use super::record::{Method, Record};
use super::tags::{build_label_tags, hostname_for, LabelView, NumberCache};

/// Appends the gauges of `family`'s latest sample (the highest finite value, the first of equal
/// ones, among the samples `exclude_metrics_by_labels` keeps). Nothing for a family without one.
pub(crate) fn emit_info(
    config: &ScraperConfig,
    spec: &InfoGauges,
    family: &mut Family<'_>,
    numbers: &mut NumberCache,
    out: &mut Vec<Record>,
) -> ScrapeResult<()> {
    family.ensure_labels();
    let mut latest = None;
    for sample in family.samples.iter().filter(|s| s.name == family.name) {
        let value = sample.value.value;
        if !value.is_finite() || sample.value.overflow || latest.is_some_and(|(v, _)| value <= v) {
            continue;
        }
        // a sample `exclude_metrics_by_labels` drops is not a candidate
        let view = LabelView::normalized(family.typ, &sample.labels, numbers)?;
        if build_label_tags(config, &view).is_some() {
            latest = Some((value, sample));
        }
    }
    let Some((_, sample)) = latest else {
        return Ok(());
    };
    let mut others = Labels::new();
    for (name, value) in sample.labels.iter().filter(|(n, _)| !spec.uses(n)) {
        others.set(name.to_string().into(), value.to_string().into());
    }
    let view = LabelView::normalized(family.typ, &others, numbers)?;
    let Some(tags) = build_label_tags(config, &view) else {
        return Ok(());
    };
    let hostname = hostname_for(config, &view);
    for (name, how, label) in &spec.gauges {
        if let Some(value) = how.of(sample.labels.get(label).unwrap_or("")) {
            out.push(Record::metric(
                Method::Gauge,
                name,
                value,
                tags.clone(),
                hostname.clone(),
            ));
        }
    }
    Ok(())
}
