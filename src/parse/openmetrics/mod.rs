//! OpenMetrics 1.0 text, read exactly as the stock check reads it: prometheus_client's strict
//! OpenMetrics parser with the per-sample parsing the stock check patches in.

mod native;
mod sample;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

use sample::{is_native_histogram_line, parse_sample};

use super::{end_of_lines, Sink};
use crate::error::{ScrapeError, ScrapeResult};
use crate::lex::{is_legacy_metric_name, split_quoted, unquote_unescape, Lines};
use crate::model::{Family, MetricType, Sample, Timestamp};
use crate::number::{float_error, py_float, Num};

/// The suffixes of the sample names a family of this type holds.
fn type_suffixes(typ: MetricType) -> &'static [&'static str] {
    match typ {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Histogram => &["_count", "_sum", "_bucket", "_created"],
        MetricType::GaugeHistogram => &["_gcount", "_gsum", "_bucket"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::Unknown | MetricType::StateSet => &[""],
    }
}

/// Suffix of a sample name after the family name (character-wise, as Python slices).
fn suffix_of<'s>(sample_name: &'s str, family: &str) -> &'s str {
    match sample_name.strip_prefix(family) {
        Some(rest) => rest,
        None => {
            let n = family.chars().count();
            sample_name
                .char_indices()
                .nth(n)
                .map_or("", |(i, _)| &sample_name[i..])
        }
    }
}

/// `_isUncanonicalNumber`: only `+Inf` has to be written canonically.
fn is_uncanonical_number(s: &str) -> ScrapeResult<bool> {
    let f = py_float(s).ok_or_else(|| ScrapeError::value(float_error(s)))?;
    Ok(f == f64::INFINITY && s != "+Inf")
}

fn is_integer(v: &Num) -> bool {
    v.is_int || (v.value.is_finite() && v.value.fract() == 0.0)
}

/// Python comparison of two timestamps (`None`, `Timestamp` or float).
fn timestamps_differ(a: &Option<Timestamp>, b: &Option<Timestamp>) -> bool {
    match (a, b) {
        (None, None) => false,
        (Some(Timestamp::Exact(s1, n1)), Some(Timestamp::Exact(s2, n2))) => s1 != s2 || n1 != n2,
        (Some(Timestamp::Float(x)), Some(Timestamp::Float(y))) => x != y,
        _ => true,
    }
}

/// `group_timestamp > sample_timestamp` in Python.
fn timestamp_greater(a: &Timestamp, b: &Timestamp) -> ScrapeResult<bool> {
    match (a, b) {
        (Timestamp::Exact(s1, n1), Timestamp::Exact(s2, n2)) => {
            Ok(if s1 == s2 { n1 > n2 } else { s1 > s2 })
        }
        (Timestamp::Float(x), Timestamp::Float(y)) => Ok(x > y),
        _ => Err(ScrapeError::value("'float' object has no attribute 'nsec'")),
    }
}

/// The labels that identify a sample's group (`_group_for_sample`), sorted.
fn group_for_sample(sample: &Sample<'_>, name: &str, typ: MetricType) -> Vec<(String, String)> {
    let skip: Option<&str> = match typ {
        MetricType::Info => return Vec::new(),
        MetricType::Summary if sample.name == name => Some("quantile"),
        MetricType::StateSet => Some(name),
        MetricType::Histogram | MetricType::GaugeHistogram
            if sample.name.strip_suffix("_bucket") == Some(name) =>
        {
            Some("le")
        }
        _ => None,
    };
    let mut g: Vec<(String, String)> = sample
        .labels
        .iter()
        .filter(|(n, _)| Some(*n) != skip)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    g.sort_unstable();
    g
}

/// What `_check_histogram` tracks of one group of a histogram's samples. Sample values are
/// compared as Python compares them (an `int` exactly, past 2^53 too).
struct HistogramGroup {
    count: Option<Num>,
    bucket: Option<f64>,
    negative_buckets: bool,
    has_sum: bool,
    has_gsum: bool,
    negative_gsum: bool,
    value: Num,
}

impl HistogramGroup {
    fn new() -> Self {
        HistogramGroup {
            count: None,
            bucket: None,
            negative_buckets: false,
            has_sum: false,
            has_gsum: false,
            negative_gsum: false,
            value: Num::int("0", 0.0),
        }
    }

    /// One sample of the group (`suffix`: `_bucket`, `_count`, ...).
    fn read(&mut self, s: &Sample<'_>, suffix: &str, name: &str) -> ScrapeResult<()> {
        match suffix {
            "_bucket" => {
                let le = s.labels.get("le").unwrap_or("");
                let b = py_float(le).ok_or_else(|| ScrapeError::value(float_error(le)))?;
                if b < 0.0 {
                    self.negative_buckets = true;
                }
                if self.bucket.is_some_and(|prev| b <= prev) {
                    return Err(ScrapeError::value(format!("Buckets out of order: {name}")));
                }
                if s.value.py_cmp(&self.value) == Some(Ordering::Less) {
                    return Err(ScrapeError::value(format!(
                        "Bucket values out of order: {name}"
                    )));
                }
                self.bucket = Some(b);
                self.value = s.value.clone();
            }
            "_count" | "_gcount" => self.count = Some(s.value.clone()),
            "_sum" => self.has_sum = true,
            "_gsum" => {
                self.has_gsum = true;
                if s.value.value < 0.0 {
                    self.negative_gsum = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `do_checks`: the group is complete.
    fn finish(&self, name: &str) -> ScrapeResult<()> {
        let err = |m: &str| Err(ScrapeError::value(format!("{m}{name}")));
        if self.bucket != Some(f64::INFINITY) {
            return err("+Inf bucket missing: ");
        }
        if let Some(count) = &self.count {
            if self.value.py_cmp(count) != Some(Ordering::Equal) {
                return err("Count does not match +Inf value: ");
            }
        }
        if self.has_sum && self.count.is_none() {
            return err("_count must be present if _sum is present: ");
        }
        if self.has_gsum && self.count.is_none() {
            return err("_gcount must be present if _gsum is present: ");
        }
        if !(self.has_sum || self.has_gsum) && self.count.is_some() {
            return err("_sum/_gsum must be present if _count is present: ");
        }
        if self.negative_buckets && self.has_sum {
            return err("Cannot have _sum with negative buckets: ");
        }
        if !self.negative_buckets && self.negative_gsum {
            return err("Cannot have negative _gsum with non-negative buckets: ");
        }
        Ok(())
    }
}

/// `_check_histogram`: bucket order, `+Inf` bucket, `_count`/`_sum` consistency per group.
fn check_histogram(samples: &[Sample<'_>], name: &str) -> ScrapeResult<()> {
    let mut group: Option<Vec<(String, String)>> = None;
    let mut timestamp: Option<Timestamp> = None;
    let mut state = HistogramGroup::new();
    for s in samples {
        let suffix = suffix_of(&s.name, name);
        if suffix.is_empty() {
            continue;
        }
        let g = group_for_sample(s, name, MetricType::Histogram);
        if group.as_ref() != Some(&g)
            || timestamps_differ(&s.timestamp.as_deref().copied(), &timestamp)
        {
            if group.is_some() {
                state.finish(name)?;
            }
            state = HistogramGroup::new();
        }
        group = Some(g);
        timestamp = s.timestamp.as_deref().copied();
        state.read(s, suffix, name)?;
    }
    if group.is_some() {
        state.finish(name)?;
    }
    Ok(())
}

/// A family's `# TYPE`, as read: a type, or a word that names none, which the stock parser
/// rejects only once the family is complete (until then it reads the family as `unknown`).
#[derive(Clone, Debug, PartialEq)]
enum DeclaredType {
    Known(MetricType),
    Invalid(String),
}

impl DeclaredType {
    /// The type of a `# TYPE` word other than `untyped` (which the parser refuses outright).
    fn from_word(word: &str) -> Self {
        match MetricType::from_type_word(word) {
            Some(typ) => DeclaredType::Known(typ),
            None => DeclaredType::Invalid(word.to_string()),
        }
    }
}

/// The family being read.
struct Current<'a> {
    name: Cow<'a, str>,
    /// `None` until a `# TYPE` line; a family started by a sample is `unknown`.
    declared: Option<DeclaredType>,
    unit: Option<String>,
    has_help: bool,
    samples: Vec<Sample<'a>>,
    allowed: Vec<String>,
    group: Option<Vec<(String, String)>>,
    seen_groups: HashSet<Vec<(String, String)>>,
    group_timestamp: Option<Timestamp>,
    group_series: HashSet<(String, Vec<(String, String)>)>,
}

impl<'a> Current<'a> {
    fn new(name: Cow<'a, str>, declared: Option<DeclaredType>, allowed: Vec<String>) -> Self {
        Current {
            name,
            declared,
            unit: None,
            has_help: false,
            samples: Vec::new(),
            allowed,
            group: None,
            seen_groups: HashSet::new(),
            group_timestamp: None,
            group_series: HashSet::new(),
        }
    }

    /// The type the family's samples are checked as: `unknown` without a valid `# TYPE`.
    fn typ(&self) -> MetricType {
        match self.declared {
            Some(DeclaredType::Known(typ)) => typ,
            Some(DeclaredType::Invalid(_)) | None => MetricType::Unknown,
        }
    }
}

/// `build_metric`: name clashes, unit rules, histogram checks, then the family.
fn build_family<'a>(
    cur: Current<'a>,
    seen_names: &mut HashSet<String>,
) -> ScrapeResult<Family<'a>> {
    let typ = cur.typ();
    let name = cur.name;
    let mut suffixes: Vec<&str> = vec![""];
    for s in type_suffixes(typ) {
        if !suffixes.contains(s) {
            suffixes.push(s);
        }
    }
    for suffix in suffixes {
        let full = format!("{name}{suffix}");
        if seen_names.contains(&full) {
            return Err(ScrapeError::value(format!("Clashing name: {full}")));
        }
        seen_names.insert(full);
    }
    let unit = cur.unit.unwrap_or_default();
    if !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
        return Err(ScrapeError::value(format!(
            "Unit does not match metric name: {name}"
        )));
    }
    if !unit.is_empty() && matches!(typ, MetricType::Info | MetricType::StateSet) {
        return Err(ScrapeError::value(format!(
            "Units not allowed for this metric type: {name}"
        )));
    }
    if matches!(typ, MetricType::Histogram | MetricType::GaugeHistogram) {
        check_histogram(&cur.samples, &name)?;
    }
    if name.is_empty() {
        return Err(ScrapeError::value("metric name cannot be empty"));
    }
    if let Some(DeclaredType::Invalid(word)) = cur.declared {
        return Err(ScrapeError::value(format!("Invalid metric type: {word}")));
    }
    Ok(Family {
        name,
        typ,
        samples: cur.samples,
    })
}

/// Parses a whole OpenMetrics body, handing each family to `sink` as soon as it is complete.
pub fn parse<'a>(text: &'a str, sink: &mut Sink<'a, '_>) -> ScrapeResult<()> {
    parse_lines(&mut Lines::new(text), sink)
}

/// `parse`, over lines given one at a time.
pub fn parse_lines<'a>(lines: &mut Lines<'a>, sink: &mut Sink<'a, '_>) -> ScrapeResult<()> {
    let mut parser = Parser {
        cur: None,
        eof: false,
        seen_names: HashSet::new(),
        sink,
    };
    for (number, line) in lines.by_ref().enumerate() {
        parser.line(number, line)?;
    }
    end_of_lines(lines)?;
    parser.close_family()?;
    if !parser.eof {
        return Err(ScrapeError::value("Missing # EOF at end"));
    }
    Ok(())
}

/// The OpenMetrics parser's state between lines.
struct Parser<'a, 's, 'f> {
    /// The family being read.
    cur: Option<Current<'a>>,
    /// `# EOF` was read.
    eof: bool,
    /// The sample names the families read so far own (a name can only be used by one).
    seen_names: HashSet<String>,
    sink: &'s mut Sink<'a, 'f>,
}

impl<'a> Parser<'a, '_, '_> {
    /// One line (`number` counts from 0).
    fn line(&mut self, number: usize, line: &'a str) -> ScrapeResult<()> {
        if line.is_empty() {
            // Deliberate fix: the stock parser fails here with a bare IndexError
            // ("string index out of range").
            return Err(ScrapeError::value(format!(
                "Invalid OpenMetrics exposition: blank line at line {}",
                number + 1
            )));
        }
        if self.eof {
            return Err(ScrapeError::value(format!(
                "Received line after # EOF: {line}"
            )));
        }
        if line == "# EOF" {
            self.eof = true;
            Ok(())
        } else if line.starts_with('#') {
            self.metadata_line(line)
        } else {
            self.sample_line(line)
        }
    }

    /// Hands the family being read (if any) to the sink.
    fn close_family(&mut self) -> ScrapeResult<()> {
        match self.cur.take() {
            Some(c) => (self.sink)(build_family(c, &mut self.seen_names)?),
            None => Ok(()),
        }
    }

    /// A `# HELP`, `# TYPE` or `# UNIT` line.
    fn metadata_line(&mut self, line: &'a str) -> ScrapeResult<()> {
        let parts = split_quoted(line, b" ", 3);
        let (Some(&keyword), Some(&name), Some(&value)) =
            (parts.get(1), parts.get(2), parts.get(3))
        else {
            return Err(ScrapeError::value(format!("Invalid line: {line}")));
        };
        let (candidate, quoted) = unquote_unescape(name)?;
        if !quoted && !is_legacy_metric_name(&candidate) {
            return Err(ScrapeError::value(""));
        }
        let same = self.cur.as_ref().is_some_and(|c| c.name == candidate);
        if same && self.cur.as_ref().is_some_and(|c| !c.samples.is_empty()) {
            return Err(ScrapeError::value(format!(
                "Received metadata after samples: {line}"
            )));
        }
        if !same {
            self.close_family()?;
            let allowed = vec![candidate.to_string()];
            self.cur = Some(Current::new(candidate, None, allowed));
        }
        let Some(c) = self.cur.as_mut() else {
            return Ok(());
        };
        c.metadata(keyword, value, line)
    }

    /// A sample line: a new family when the family being read does not own its name, then the
    /// sample checked and kept.
    fn sample_line(&mut self, line: &'a str) -> ScrapeResult<()> {
        let is_histogram = self
            .cur
            .as_ref()
            .is_some_and(|c| c.typ() == MetricType::Histogram);
        if is_histogram && is_native_histogram_line(line)? {
            return Err(native::native_histogram_error(line));
        }
        let sample = parse_sample(line)?;
        let allowed = self
            .cur
            .as_ref()
            .is_some_and(|c| c.allowed.iter().any(|a| *a == sample.name));
        if !allowed {
            self.close_family()?;
            let (candidate, quoted) = unquote_unescape(&sample.name)?;
            if !quoted && !is_legacy_metric_name(&candidate) {
                return Err(ScrapeError::value(""));
            }
            let candidate: Cow<'a, str> = Cow::Owned(candidate.into_owned());
            self.cur = Some(Current::new(
                candidate,
                Some(DeclaredType::Known(MetricType::Unknown)),
                vec![sample.name.to_string()],
            ));
        }
        match self.cur.as_mut() {
            Some(c) => c.add_sample(sample, line),
            None => Ok(()),
        }
    }
}

impl<'a> Current<'a> {
    /// A metadata line's keyword and value for this family.
    fn metadata(&mut self, keyword: &str, value: &str, line: &str) -> ScrapeResult<()> {
        match keyword {
            "HELP" => {
                if self.has_help {
                    return Err(ScrapeError::value(format!(
                        "More than one HELP for metric: {line}"
                    )));
                }
                self.has_help = true;
            }
            "TYPE" => {
                if self.declared.is_some() {
                    return Err(ScrapeError::value(format!(
                        "More than one TYPE for metric: {line}"
                    )));
                }
                if value == "untyped" {
                    return Err(ScrapeError::value(format!(
                        "Invalid TYPE for metric: {line}"
                    )));
                }
                self.declared = Some(DeclaredType::from_word(value));
                self.allowed = type_suffixes(self.typ())
                    .iter()
                    .map(|s| format!("{}{}", self.name, s))
                    .collect();
            }
            "UNIT" => {
                if self.unit.is_some() {
                    return Err(ScrapeError::value(format!(
                        "More than one UNIT for metric: {line}"
                    )));
                }
                self.unit = Some(value.to_string());
            }
            _ => return Err(ScrapeError::value(format!("Invalid line: {line}"))),
        }
        Ok(())
    }

    /// A sample of this family: its labels, grouping, timestamps and value checked, then kept
    /// unless it repeats a series of its group.
    fn add_sample(&mut self, sample: Sample<'a>, line: &str) -> ScrapeResult<()> {
        check_sample(self, &sample, line)?;
        let typ = self.typ();
        let g = group_for_sample(&sample, &self.name, typ);
        self.check_grouping(&g, &sample, line)?;
        let mut sorted: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        sorted.sort_unstable();
        let series_id = (sample.name.to_string(), sorted);
        let timestamp = sample.timestamp.as_deref().copied();
        let duplicate = !timestamps_differ(&timestamp, &self.group_timestamp)
            && self.group_series.contains(&series_id);
        check_sample_value(&self.name, typ, &sample, line)?;
        if !duplicate {
            self.samples.push(sample);
        }
        self.group_series.insert(series_id);
        self.seen_groups.insert(g.clone());
        self.group = Some(g);
        self.group_timestamp = timestamp;
        Ok(())
    }

    /// A sample's group `g`: not one seen before another, and with timestamps that agree with
    /// the group's. A new group starts with no series seen.
    fn check_grouping(
        &mut self,
        g: &Vec<(String, String)>,
        sample: &Sample<'_>,
        line: &str,
    ) -> ScrapeResult<()> {
        if self.group.is_some() && self.group.as_ref() != Some(g) && self.seen_groups.contains(g) {
            return Err(ScrapeError::value(format!(
                "Invalid metric grouping: {line}"
            )));
        }
        if self.group.as_ref() != Some(g) {
            self.group_series.clear();
            return Ok(());
        }
        if sample.timestamp.is_none() != self.group_timestamp.is_none() {
            return Err(ScrapeError::value(format!(
                "Mix of timestamp presence within a group: {line}"
            )));
        }
        if let (Some(gt), Some(st)) = (&self.group_timestamp, &sample.timestamp) {
            if timestamp_greater(gt, st)? && self.typ() != MetricType::Info {
                return Err(ScrapeError::value(format!(
                    "Timestamps went backwards within a group: {line}"
                )));
            }
        }
        Ok(())
    }
}

/// The label checks done before grouping.
fn check_sample(c: &Current<'_>, sample: &Sample<'_>, line: &str) -> ScrapeResult<()> {
    let name: &str = &c.name;
    let typ = c.typ();
    let sname: &str = &sample.name;
    if typ == MetricType::StateSet && !sample.labels.contains(name) {
        return Err(ScrapeError::value(format!(
            "Stateset missing label: {line}"
        )));
    }
    let is_bucket = sname.strip_suffix("_bucket") == Some(name);
    if is_bucket {
        let le = sample.labels.get("le").unwrap_or("NaN");
        if le == "NaN" || is_uncanonical_number(le)? {
            return Err(ScrapeError::value(format!("Invalid le label: {line}")));
        }
        if !is_integer(&sample.value) {
            return Err(ScrapeError::value(format!(
                "Bucket value must be an integer: {line}"
            )));
        }
    }
    let is_count =
        sname.strip_suffix("_count") == Some(name) || sname.strip_suffix("_gcount") == Some(name);
    if is_count && !is_integer(&sample.value) {
        return Err(ScrapeError::value(format!(
            "Count value must be an integer: {line}"
        )));
    }
    if typ == MetricType::Summary && name == sname {
        let invalid = || ScrapeError::value(format!("Invalid quantile label: {line}"));
        match sample.labels.get("quantile") {
            None => return Err(invalid()),
            Some(q) => {
                let f = py_float(q).ok_or_else(|| ScrapeError::value(float_error(q)))?;
                if !(0.0..=1.0).contains(&f) || is_uncanonical_number(q)? {
                    return Err(invalid());
                }
            }
        }
    }
    Ok(())
}

/// The value checks done after grouping.
fn check_sample_value(
    name: &str,
    typ: MetricType,
    sample: &Sample<'_>,
    line: &str,
) -> ScrapeResult<()> {
    let v = sample.value.value;
    if typ == MetricType::StateSet && v != 0.0 && v != 1.0 {
        return Err(ScrapeError::value(format!(
            "Stateset samples can only have values zero and one: {line}"
        )));
    }
    if typ == MetricType::Info && v != 1.0 {
        return Err(ScrapeError::value(format!(
            "Info samples can only have value one: {line}"
        )));
    }
    if typ == MetricType::Summary && name == sample.name && v < 0.0 {
        return Err(ScrapeError::value(format!(
            "Quantile values cannot be negative: {line}"
        )));
    }
    let suffix = suffix_of(&sample.name, name);
    if ["_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"].contains(&suffix) && v.is_nan() {
        return Err(ScrapeError::value(format!(
            "Counter-like samples cannot be NaN: {line}"
        )));
    }
    if ["_total", "_sum", "_count", "_bucket", "_gcount"].contains(&suffix) && v < 0.0 {
        return Err(ScrapeError::value(format!(
            "Counter-like samples cannot be negative: {line}"
        )));
    }
    if sample.has_exemplar {
        let ok = (matches!(typ, MetricType::Histogram | MetricType::GaugeHistogram)
            && sample.name.ends_with("_bucket"))
            || (typ == MetricType::Counter && sample.name.ends_with("_total"));
        if !ok {
            return Err(ScrapeError::value(format!(
                "Invalid line only histogram/gaugehistogram buckets and counters can have exemplars: {line}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn run(text: &str) -> (Vec<Family<'_>>, Option<ScrapeError>) {
        let mut out = Vec::new();
        let err = parse(text, &mut |f| {
            out.push(f);
            Ok(())
        })
        .err();
        (out, err)
    }

    #[test]
    fn counter_with_created() {
        let (f, e) = run("# TYPE c counter\nc_total 5\nc_created 1.7e9\n# EOF\n");
        assert!(e.is_none(), "{e:?}");
        assert_eq!(f[0].name, "c");
        assert_eq!(f[0].samples.len(), 2);
    }

    #[test]
    fn missing_eof_after_families() {
        let (f, e) = run("# TYPE g gauge\ng 1\n");
        assert_eq!(f.len(), 1);
        assert_eq!(e.unwrap().message, "Missing # EOF at end");
    }

    #[test]
    fn blank_line_is_a_clear_error() {
        let (_, e) = run("# TYPE g gauge\n\ng 1\n# EOF\n");
        let e = e.unwrap();
        assert_eq!(e.kind, ErrorKind::Value);
        assert_eq!(
            e.message,
            "Invalid OpenMetrics exposition: blank line at line 2"
        );
    }

    #[test]
    fn histogram_rules() {
        let ok = "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n# EOF\n";
        assert!(run(ok).1.is_none());
        let no_inf = "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\n# EOF\n";
        assert_eq!(run(no_inf).1.unwrap().message, "+Inf bucket missing: h");
    }

    #[test]
    fn exemplar_on_bucket() {
        let t = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2 # {trace_id=\"a\"} 1.5 123\nh_count 2\nh_sum 3\n# EOF\n";
        let (f, e) = run(t);
        assert!(e.is_none(), "{e:?}");
        assert!(f[0].samples[0].has_exemplar);
    }

    #[test]
    fn a_type_word_that_names_no_type_fails_once_its_family_is_read() {
        let (f, e) = run("# TYPE a gauge\na 1\n# TYPE g weird\ng 1\n# EOF\n");
        assert_eq!((f.len(), f[0].typ), (1, MetricType::Gauge));
        assert_eq!(e.unwrap().message, "Invalid metric type: weird");
        // until then its samples are checked as `unknown` ones
        let (_, e) = run("# TYPE g weird\ng 1 # {a=\"1\"} 1\n# EOF\n");
        assert!(e.unwrap().message.starts_with("Invalid line only"));
        let (_, e) = run("# TYPE g untyped\n# EOF\n");
        assert_eq!(
            e.unwrap().message,
            "Invalid TYPE for metric: # TYPE g untyped"
        );
    }

    #[test]
    fn exemplar_on_gauge_rejected() {
        let t = "# TYPE g gauge\ng 2 # {a=\"1\"} 1\n# EOF\n";
        assert!(run(t).1.unwrap().message.starts_with("Invalid line only"));
    }
}
