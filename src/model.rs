//! The parsed exposition: families of samples borrowed from the response text.

use std::borrow::Cow;

use crate::lex::{replace_escaping, scan_labels};
use crate::number::Num;

/// A family's exposition type, as the stock parsers name them (`untyped` becomes `unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Summary,
    Histogram,
    GaugeHistogram,
    Unknown,
    Info,
    StateSet,
}

impl MetricType {
    /// The type word of a `# TYPE` line, or `None` for a word the stock parser rejects.
    pub fn from_type_word(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "summary" => MetricType::Summary,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "unknown" | "untyped" => MetricType::Unknown,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Unknown => "unknown",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// Labels in exposition order; names are unique (a repeated name replaces the value in place, as a
/// Python dict does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Labels<'a> {
    pub fn new() -> Self {
        Labels { pairs: Vec::new() }
    }

    /// `labels[name] = value`: replaces in place when present, appends otherwise.
    pub fn set(&mut self, name: Cow<'a, str>, value: Cow<'a, str>) {
        match self.pairs.iter_mut().find(|(n, _)| *n == name) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// `labels.pop(name)`.
    pub fn remove(&mut self, name: &str) -> Option<Cow<'a, str>> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index).1)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// The labels of a block the Prometheus parser accepted (`lex::scan_labels`): unescaped, a
    /// repeated name replacing the value in place (a Python dict).
    pub fn from_validated_block(block: &'a str) -> Self {
        let mut labels = Labels::new();
        // a block that fails here was never accepted by the parser; it yields what was read
        let _ = scan_labels(block, &mut |name, raw_value| {
            let value = if raw_value.contains('\\') {
                Cow::Owned(replace_escaping(raw_value))
            } else {
                Cow::Borrowed(raw_value)
            };
            labels.set(Cow::Borrowed(name), value);
        });
        labels
    }
}

/// One exposed sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    pub name: Cow<'a, str>,
    /// The labels, once parsed (see `pending`).
    pub labels: Labels<'a>,
    /// The label block as exposed (between the braces; empty without one): with the sample name,
    /// it identifies the series from one scrape to the next.
    pub label_text: &'a str,
    /// The Prometheus parser validates the label block but leaves it unparsed, so that a series
    /// seen in an earlier scrape costs no label parsing; `ensure_labels` parses it.
    pub pending: bool,
    pub value: Num,
    /// Parsed and validated like the stock parsers do, then only used for OpenMetrics grouping
    /// (boxed: rare, and a scrape can hold a million samples).
    pub timestamp: Option<Box<Timestamp>>,
    pub has_exemplar: bool,
}

impl<'a> Sample<'a> {
    /// A sample whose labels are already parsed.
    pub fn parsed(name: Cow<'a, str>, labels: Labels<'a>, label_text: &'a str, value: Num) -> Self {
        Sample {
            name,
            labels,
            label_text,
            pending: false,
            value,
            timestamp: None,
            has_exemplar: false,
        }
    }

    /// Drops parsed labels that can be parsed again from the label block (memory).
    pub fn release_labels(&mut self) {
        if !self.label_text.is_empty() {
            self.labels = Labels::new();
            self.pending = true;
        }
    }

    /// Parses a pending label block (validated by the parser, so this cannot fail).
    pub fn ensure_labels(&mut self) {
        if self.pending {
            self.labels = Labels::from_validated_block(self.label_text);
            self.pending = false;
        }
    }
}

/// An OpenMetrics timestamp, compared the way the stock parser compares them.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub enum Timestamp {
    /// Seconds and nanoseconds, from an integer or `a.b` text.
    Exact(i128, i64),
    /// Any other float text.
    Float(f64),
}

/// One metric family, yielded when the next family starts or the input ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Family<'a> {
    pub name: Cow<'a, str>,
    pub typ: MetricType,
    pub samples: Vec<Sample<'a>>,
}

impl Family<'_> {
    /// Parses every pending label block of the family.
    pub fn ensure_labels(&mut self) {
        for sample in self.samples.iter_mut() {
            sample.ensure_labels();
        }
    }
}
