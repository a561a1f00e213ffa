//! Prometheus text format 0.0.4, read exactly as the stock check reads it: prometheus_client's
//! text parser with the per-sample parsing the stock check patches in (lenient labels, a
//! fallback that turns a malformed label block into part of the metric name).

use std::borrow::Cow;

use super::{end_of_lines, Sink};
use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::lex::{
    is_legacy_metric_name, parse_value, scan_labels, split_quoted, unquote_unescape, Lines,
};
use crate::model::{Family, Labels, MetricType, Sample};
use crate::number::{float_error, Num};
use crate::text::{find_byte, py_lstrip, py_strip, rfind_byte};

/// Python's `string.whitespace`, the separators of `# HELP` / `# TYPE` lines.
const ASCII_WS: &[u8] = b" \t\n\r\x0b\x0c";

/// The common value text ` <decimal>` (one space, then digits with an optional fraction and
/// exponent, nothing after), read without the general tokenizer. `None` for anything else.
#[inline]
fn simple_value(s: &str) -> Option<Num> {
    let t = s.strip_prefix(' ')?;
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |b: &[u8], mut i: usize| -> Option<usize> {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    i = digits(b, i)?;
    let mut is_int = true;
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
        is_int = false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
        is_int = false;
    }
    if i != b.len() {
        return None;
    }
    // past Python's int() digit limit the text is read by float()
    let is_int = is_int && b.len() - usize::from(b.first() == Some(&b'-')) <= 4300;
    // `+ 0.0`: an int has no sign of zero (int("-0") is 0)
    let value = t.parse::<f64>().ok()? + if is_int { 0.0 } else { -0.0 };
    Some(if is_int {
        Num::int(t, value)
    } else {
        Num::float(value)
    })
}

/// `_parse_value_and_timestamp`: the first token is the value, the last (when there are two or
/// more) the timestamp in milliseconds; tokens in between are ignored.
pub(crate) fn parse_value_and_timestamp(s: &str) -> ScrapeResult<(Num, Option<f64>)> {
    if let Some(value) = simple_value(s) {
        return Ok((value, None));
    }
    let s = py_lstrip(s);
    let sep = if s.contains(' ') { ' ' } else { '\t' };
    let mut first: Option<&str> = None;
    let mut last: Option<&str> = None;
    let mut count = 0usize;
    for token in s.split(sep) {
        let token = py_strip(token);
        if token.is_empty() {
            continue;
        }
        if first.is_none() {
            first = Some(token);
        }
        last = Some(token);
        count += 1;
    }
    let Some(first) = first else {
        return Err(ScrapeError::value(float_error(s)));
    };
    let value = parse_value(first)?;
    let timestamp = match last {
        Some(last) if count > 1 => {
            let ts = parse_value(last)?;
            if ts.is_int {
                // `int / 1000` is a correctly rounded true division that overflows past f64.
                let scaled = format!("{}e-3", last.trim_start_matches('+'))
                    .parse::<f64>()
                    .unwrap_or(f64::INFINITY);
                if scaled.is_infinite() {
                    return Err(ScrapeError::new(
                        ErrorKind::Overflow,
                        "integer division result too large for a float",
                    ));
                }
                Some(scaled)
            } else {
                Some(ts.value / 1000.0)
            }
        }
        _ => None,
    };
    Ok((value, timestamp))
}

/// The patched `_parse_sample`: a label block from the first `{` to the last `}`; when anything
/// in it fails, the line is read again as `name value [timestamp]`, split at the first space.
/// The label block is validated here and parsed later, when needed (`Sample::ensure_labels`).
fn parse_sample(text: &str) -> ScrapeResult<Sample<'_>> {
    let bytes = text.as_bytes();
    if let (Some(label_start), Some(label_end)) = (find_byte(bytes, b'{'), rfind_byte(bytes, b'}'))
    {
        let name = py_strip(&text[..label_start]);
        let label_text = if label_start < label_end {
            &text[label_start + 1..label_end]
        } else {
            ""
        };
        match parse_value_and_timestamp(&text[label_end + 1..]) {
            Ok((value, _ts)) => {
                if scan_labels(label_text, &mut |_, _| {}).is_ok() {
                    let mut sample =
                        Sample::parsed(Cow::Borrowed(name), Labels::new(), label_text, value);
                    sample.pending = true;
                    return Ok(sample);
                }
            }
            Err(e) if e.kind != ErrorKind::Value => return Err(e),
            Err(_) => {}
        }
    }
    let sep = if text.contains(' ') { ' ' } else { '\t' };
    let name_end = text
        .find(sep)
        .ok_or_else(|| ScrapeError::value("substring not found"))?;
    let (value, _ts) = parse_value_and_timestamp(&text[name_end..])?;
    Ok(Sample::parsed(
        Cow::Borrowed(&text[..name_end]),
        Labels::new(),
        "",
        value,
    ))
}

/// The sample names a family accepts: its name followed by one of these suffixes.
fn allowed_suffixes(type_word: &str) -> &'static [&'static str] {
    match type_word {
        "summary" => &["_count", "_sum", ""],
        "histogram" => &["_count", "_sum", "_bucket"],
        _ => &[""],
    }
}

fn is_allowed(sample_name: &str, base: &str, suffixes: &[&str]) -> bool {
    sample_name
        .strip_prefix(base)
        .is_some_and(|rest| suffixes.contains(&rest))
}

/// `build_metric` + `Metric()`: counter `_total` handling, name and type validation.
fn build_family<'a>(
    name: Cow<'a, str>,
    type_word: &str,
    mut samples: Vec<Sample<'a>>,
) -> ScrapeResult<Family<'a>> {
    let mut name = name;
    if type_word == "counter" {
        if let Some(stripped) = name.strip_suffix("_total") {
            name = Cow::Owned(stripped.to_string());
        } else {
            for s in samples.iter_mut() {
                s.name = Cow::Owned(format!("{}_total", s.name));
            }
        }
    }
    if name.is_empty() {
        return Err(ScrapeError::value("metric name cannot be empty"));
    }
    let typ = MetricType::from_type_word(type_word)
        .ok_or_else(|| ScrapeError::value(format!("Invalid metric type: {type_word}")))?;
    Ok(Family { name, typ, samples })
}

/// Parses a whole body, handing each family to `sink` as soon as it is complete. Stops at the
/// first error; the families handed over before it stay handed over.
pub fn parse<'a>(text: &'a str, sink: &mut Sink<'a, '_>) -> ScrapeResult<()> {
    parse_lines(&mut Lines::new(text), sink)
}

/// `parse`, over lines given one at a time.
pub fn parse_lines<'a>(lines: &mut Lines<'a>, sink: &mut Sink<'a, '_>) -> ScrapeResult<()> {
    let mut parser = Parser {
        name: Cow::Borrowed(""),
        type_word: "untyped",
        samples: Vec::new(),
        allowed_base: Cow::Borrowed(""),
        allowed: &[],
        sink,
    };
    for raw_line in lines.by_ref() {
        let line = py_strip(raw_line);
        if line.starts_with('#') {
            parser.comment_line(line)?;
        } else if !line.is_empty() {
            parser.sample_line(line)?;
        }
    }
    end_of_lines(lines)?;
    parser.close_family()
}

/// The Prometheus parser's state between lines: the family being read.
struct Parser<'a, 's, 'f> {
    /// Empty while no family is being read.
    name: Cow<'a, str>,
    type_word: &'a str,
    samples: Vec<Sample<'a>>,
    /// Allowed sample names: `allowed_base` followed by one of `allowed` (none when empty).
    allowed_base: Cow<'a, str>,
    allowed: &'static [&'static str],
    sink: &'s mut Sink<'a, 'f>,
}

impl<'a> Parser<'a, '_, '_> {
    /// Hands the family being read (if any) to the sink; no family (and no sample) is held after it.
    fn close_family(&mut self) -> ScrapeResult<()> {
        let name = std::mem::take(&mut self.name);
        let samples = std::mem::take(&mut self.samples);
        if name.is_empty() {
            return Ok(());
        }
        (self.sink)(build_family(name, self.type_word, samples)?)
    }

    /// A `#` line: `# HELP` and `# TYPE` may start a family; other comments are skipped.
    fn comment_line(&mut self, line: &'a str) -> ScrapeResult<()> {
        let parts = split_quoted(line, ASCII_WS, 3);
        let Some(&keyword) = parts.get(1) else {
            return Ok(());
        };
        let mut candidate: Cow<'a, str> = Cow::Borrowed("");
        if let Some(&name) = parts.get(2) {
            if keyword != "TYPE" && keyword != "HELP" {
                return Ok(());
            }
            let (c, quoted) = unquote_unescape(name)?;
            if !quoted && !is_legacy_metric_name(&c) {
                return Err(ScrapeError::value(""));
            }
            candidate = c;
        }
        if keyword == "HELP" {
            if candidate != self.name {
                self.close_family()?;
                self.name = candidate.clone();
                self.type_word = "untyped";
                self.allowed_base = candidate;
                self.allowed = &[""];
            }
        } else if keyword == "TYPE" {
            let Some(&type_word) = parts.get(3) else {
                return Err(ScrapeError::value(""));
            };
            if candidate != self.name {
                self.close_family()?;
                self.name = candidate;
            }
            self.type_word = type_word;
            self.allowed_base = self.name.clone();
            self.allowed = allowed_suffixes(type_word);
        }
        Ok(())
    }

    /// A sample line: kept in the family being read when its name is allowed there, else a
    /// family of its own (after the one being read).
    fn sample_line(&mut self, line: &'a str) -> ScrapeResult<()> {
        let sample = parse_sample(line)?;
        if is_allowed(&sample.name, &self.allowed_base, self.allowed) {
            self.samples.push(sample);
            return Ok(());
        }
        self.close_family()?;
        self.type_word = "untyped";
        self.allowed_base = Cow::Borrowed("");
        self.allowed = &[];
        let sample_name = sample.name.clone();
        (self.sink)(build_family(sample_name, "untyped", vec![sample])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families(text: &str) -> (Vec<Family<'_>>, Option<ScrapeError>) {
        let mut out = Vec::new();
        let err = parse(text, &mut |mut f| {
            f.ensure_labels();
            out.push(f);
            Ok(())
        })
        .err();
        (out, err)
    }

    #[test]
    fn counter_total_is_stripped_from_family() {
        let (f, e) = families("# TYPE c_total counter\nc_total{x=\"1\"} 10\n");
        assert!(e.is_none());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "c");
        assert_eq!(f[0].typ, MetricType::Counter);
        assert_eq!(f[0].samples[0].name, "c_total");
        assert_eq!(f[0].samples[0].labels.get("x"), Some("1"));
    }

    #[test]
    fn counter_without_total_in_type_yields_untyped_total() {
        let (f, _) = families("# TYPE e counter\ne_total 12\n");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].name.as_ref(), f[0].samples.len()), ("e", 0));
        assert_eq!(
            (f[1].name.as_ref(), f[1].typ),
            ("e_total", MetricType::Unknown)
        );
    }

    #[test]
    fn lenient_labels() {
        let (f, e) = families("g{ a = \"1\" , b=\"x\\\"y\",} 3\n");
        assert!(e.is_none());
        let labels: Vec<_> = f[0].samples[0].labels.iter().collect();
        assert_eq!(labels, [("a", "1"), ("b", "x\"y")]);
        // duplicate keeps first position, last value
        let (f, _) = families("g{a=\"1\",b=\"2\",a=\"3\"} 3\n");
        let labels: Vec<_> = f[0].samples[0].labels.iter().collect();
        assert_eq!(labels, [("a", "3"), ("b", "2")]);
    }

    #[test]
    fn unclosed_brace_becomes_name() {
        let (f, e) = families("g{a=\"1\" 3\n");
        assert!(e.is_none());
        assert_eq!(f[0].name, "g{a=\"1\"");
    }

    #[test]
    fn bad_values() {
        let (_, e) = families("g abc\n");
        assert_eq!(
            e.unwrap().message,
            "could not convert string to float: 'abc'"
        );
        let (_, e) = families("g 1_000\n");
        assert_eq!(e.unwrap().message, "Invalid value: '1_000'");
        let (_, e) = families("# TYPE g weird\ng 1\n");
        assert_eq!(e.unwrap().message, "Invalid metric type: weird");
        let (_, e) = families("g{a=\"x\n");
        assert_eq!(e.unwrap().message, "substring not found");
    }

    #[test]
    fn histogram_family_and_created_split() {
        let text = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_created 5\n";
        let (f, e) = families(text);
        assert!(e.is_none());
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].samples.len(), 4);
        assert_eq!(f[1].name, "h_created");
    }
}
