//! Reading the metric map's label routes and superseded families from the options dict
//! (`transform::route`, `transform::supersede`), as `datadog_checks/nvidia_nim/routes.py`
//! prepares them.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::transform::info::{InfoGauges, InfoValue};
use crate::transform::route::{LabelRoute, RouteMatch, RouteTarget};
use crate::transform::supersede::Superseded;

/// One target as Python gives it: `(Datadog name, "any" | "in" | "not_in", values, keep label)`.
type TargetTuple = (String, String, Vec<String>, bool);

/// `options["label_routes"]` (None when unset): `{transformer id: (label, [target, ...])}`.
pub(super) fn label_routes(
    value: Option<Bound<'_, PyAny>>,
) -> PyResult<HashMap<u32, Arc<LabelRoute>>> {
    let Some(value) = value else {
        return Ok(HashMap::new());
    };
    let raw: HashMap<u32, (String, Vec<TargetTuple>)> = value.extract()?;
    let mut routes = HashMap::with_capacity(raw.len());
    for (id, (label, targets)) in raw {
        let mut converted = Vec::with_capacity(targets.len());
        for (name, mode, values, keep_label) in targets {
            let matcher = match mode.as_str() {
                "any" => RouteMatch::Any,
                "in" => RouteMatch::In(values),
                "not_in" => RouteMatch::NotIn(values),
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown label route match `{other}`"
                    )))
                }
            };
            converted.push(RouteTarget {
                name: Arc::from(name),
                matcher,
                keep_label,
            });
        }
        routes.insert(id, Arc::new(LabelRoute::new(label, converted)));
    }
    Ok(routes)
}

/// `options["superseded"]` (None when unset): `[(old family, current family), ...]`.
pub(super) fn superseded(value: Option<Bound<'_, PyAny>>) -> PyResult<Superseded> {
    let Some(value) = value else {
        return Ok(Superseded::default());
    };
    let pairs: Vec<(String, String)> = value.extract()?;
    Ok(Superseded::new(pairs))
}

/// `options["info_gauges"]` (None when unset):
/// `{transformer id: [(Datadog name, "count" | "number", label), ...]}`.
pub(super) fn info_gauges(
    value: Option<Bound<'_, PyAny>>,
) -> PyResult<HashMap<u32, Arc<InfoGauges>>> {
    let Some(value) = value else {
        return Ok(HashMap::new());
    };
    let raw: HashMap<u32, Vec<(String, String, String)>> = value.extract()?;
    let mut out = HashMap::with_capacity(raw.len());
    for (id, gauges) in raw {
        let mut converted = Vec::with_capacity(gauges.len());
        for (name, how, label) in gauges {
            let how = match how.as_str() {
                "count" => InfoValue::Count,
                "number" => InfoValue::Number,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown info gauge value `{other}`"
                    )))
                }
            };
            converted.push((Arc::from(name), how, label));
        }
        out.insert(id, Arc::new(InfoGauges { gauges: converted }));
    }
    Ok(out)
}
