//! Info gauges: an info-style family (its value a marker or a timestamp, its data in label values)
//! sent as gauges a user can graph, each computed from one label of the family's latest sample.
//!
//! vLLM's `vllm:lora_requests_info` is set to the current time with labels `running_lora_adapters`
//! and `waiting_lora_adapters` (comma-separated adapter names) and `max_lora`; every label set it
//! ever had stays in the exposition, so the sample with the highest value is the current state.
//! The metric map turns it into `lora.running_adapters`, `lora.waiting_adapters` (the number of
//! adapters) and `lora.max_adapters` (`INFO_GAUGES` in `datadog_checks/nvidia_nim/metrics.py`).
//! The gauges carry the sample's other labels as tags; `info_emit` makes them.

use std::sync::Arc;

/// How a gauge's value follows from its label's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoValue {
    /// The number of non-empty comma-separated items.
    Count,
    /// The value read as a number (no gauge when it is not one).
    Number,
}

impl InfoValue {
    pub fn of(self, label_value: &str) -> Option<f64> {
        match self {
            InfoValue::Count => Some(
                label_value
                    .split(',')
                    .filter(|item| !item.trim().is_empty())
                    .count() as f64,
            ),
            InfoValue::Number => crate::number::py_float(label_value).filter(|v| v.is_finite()),
        }
    }
}

/// The gauges of one info family's map entry: `(Datadog name, how, label)`.
#[derive(Clone, Debug, PartialEq)]
pub struct InfoGauges {
    pub gauges: Vec<(Arc<str>, InfoValue, String)>,
}

impl InfoGauges {
    /// Whether a label feeds a gauge (it is then not a tag).
    pub fn uses(&self, label: &str) -> bool {
        self.gauges.iter().any(|(_, _, l)| l == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(InfoValue::Count.of(""), Some(0.0));
        assert_eq!(InfoValue::Count.of("a"), Some(1.0));
        assert_eq!(InfoValue::Count.of("a,b,c"), Some(3.0));
        assert_eq!(InfoValue::Count.of("a,,b,"), Some(2.0));
        assert_eq!(InfoValue::Number.of("4"), Some(4.0));
        assert_eq!(InfoValue::Number.of("x"), None);
        assert_eq!(InfoValue::Number.of("nan"), None);
    }
}
