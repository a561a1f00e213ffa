//! One OpenMetrics sample line: name, labels (the patched fast path and the strict state
//! machine), value, timestamp and exemplar, as the stock check's patched parser reads them.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::{ScrapeError, ScrapeResult};
use crate::lex::{
    closing_quote, is_label_name, is_legacy_metric_name, last_unquoted, next_unquoted, parse_value,
    replace_escaping, unquote_unescape,
};
use crate::model::{Labels, Sample, Timestamp};
use crate::number::{float_error, py_float, Num};
use crate::text::{py_repr, py_strip};

fn invalid_labels(text: &str) -> ScrapeError {
    ScrapeError::value(format!("Invalid labels: {text}"))
}

/// The patched `_parse_labels` of the OpenMetrics parser (a label block without exemplar).
fn parse_labels_fast(text: &str) -> ScrapeResult<Labels<'_>> {
    let mut labels = Labels::new();
    if !text.is_empty() && !text.contains('=') {
        return Err(ScrapeError::value(""));
    }
    let mut sub = text;
    while !sub.is_empty() {
        let value_start = sub.find('=').ok_or_else(|| invalid_labels(text))?;
        let label_name = &sub[..value_start];
        sub = &sub[value_start + 1..];
        if !sub.starts_with('"') {
            return Err(invalid_labels(text));
        }
        let value_substr = &sub[1..];
        if label_name.is_empty() || label_name.starts_with(',') {
            return Err(invalid_labels(text));
        }
        if value_substr.is_empty() || value_substr.ends_with(',') {
            return Err(invalid_labels(text));
        }
        let i = closing_quote(value_substr.as_bytes(), 0).ok_or_else(|| invalid_labels(text))?;
        let end = (i + 1).min(sub.len());
        let raw = &sub[1..end];
        let value = if raw.contains('\\') {
            Cow::Owned(replace_escaping(raw))
        } else {
            Cow::Borrowed(raw)
        };
        if !is_label_name(label_name) {
            return Err(invalid_labels(text));
        }
        if labels.contains(label_name) {
            return Err(invalid_labels(text));
        }
        labels.set(Cow::Borrowed(label_name), value);
        sub = &sub[(i + 2).min(sub.len())..];
        let comma = sub.starts_with(',');
        if comma {
            sub = &sub[1..];
        }
        if !sub.is_empty() && !comma {
            return Err(invalid_labels(text));
        }
    }
    Ok(labels)
}

/// The states of the strict label parser.
#[derive(PartialEq)]
enum LabelState {
    StartOfLabelName,
    LabelName,
    LabelValueQuote,
    LabelValue,
    LabelValueSlash,
    EndOfLabelValue,
    EndOfLabels,
}

/// The strict label parser, one character at a time: its state, the label being read, and the
/// labels read so far.
struct LabelMachine<'t> {
    /// The text after the `{` (for error messages).
    text: &'t str,
    state: LabelState,
    name: String,
    value: String,
    labels: Labels<'static>,
}

impl LabelMachine<'_> {
    fn invalid(&self) -> ScrapeError {
        ScrapeError::value(format!("Invalid line: {}", self.text))
    }

    /// Reads one character; `Ok(false)` at the space that ends the label block.
    fn step(&mut self, c: char) -> ScrapeResult<bool> {
        use LabelState as St;
        match self.state {
            St::StartOfLabelName if c == '}' => self.state = St::EndOfLabels,
            St::StartOfLabelName => {
                self.state = St::LabelName;
                self.name.push(c);
            }
            St::LabelName if c == '=' => self.state = St::LabelValueQuote,
            St::LabelName => self.name.push(c),
            St::LabelValueQuote if c == '"' => self.state = St::LabelValue,
            St::LabelValueQuote => return Err(self.invalid()),
            St::LabelValue if c == '\\' => self.state = St::LabelValueSlash,
            St::LabelValue if c == '"' => self.end_value()?,
            St::LabelValue => self.value.push(c),
            St::EndOfLabelValue if c == ',' => self.state = St::LabelName,
            St::EndOfLabelValue if c == '}' => self.state = St::EndOfLabels,
            St::EndOfLabelValue => return Err(self.invalid()),
            St::LabelValueSlash => {
                self.state = St::LabelValue;
                match c {
                    '\\' => self.value.push('\\'),
                    'n' => self.value.push('\n'),
                    '"' => self.value.push('"'),
                    other => {
                        self.value.push('\\');
                        self.value.push(other);
                    }
                }
            }
            St::EndOfLabels if c == ' ' => return Ok(false),
            St::EndOfLabels => return Err(self.invalid()),
        }
        Ok(true)
    }

    /// The closing quote of a value: the label is checked and kept.
    fn end_value(&mut self) -> ScrapeResult<()> {
        if !is_label_name(&self.name) {
            return Err(ScrapeError::value(format!(
                "Invalid line, bad label name: {}",
                self.text
            )));
        }
        if self.labels.contains(&self.name) {
            return Err(ScrapeError::value(format!(
                "Invalid line, duplicate label name: {}",
                self.text
            )));
        }
        self.labels.set(
            Cow::Owned(std::mem::take(&mut self.name)),
            Cow::Owned(std::mem::take(&mut self.value)),
        );
        self.state = LabelState::EndOfLabelValue;
        Ok(())
    }
}

/// The state-machine label parser the patched code uses when the line holds ` # ` (an exemplar).
/// Returns the labels and the byte length consumed after the `{`.
fn parse_labels_state_machine(text: &str) -> ScrapeResult<(Labels<'static>, usize)> {
    let mut machine = LabelMachine {
        text,
        state: LabelState::StartOfLabelName,
        name: String::new(),
        value: String::new(),
        labels: Labels::new(),
    };
    let mut consumed = 0usize;
    for c in text.chars() {
        if !machine.step(c)? {
            break;
        }
        consumed += c.len_utf8();
    }
    Ok((machine.labels, consumed))
}

/// prometheus_client's strict `parse_labels(..., openmetrics=True)`, used for exemplar labels.
/// Returns the sum of name and value lengths (in characters), all that the caller needs.
fn parse_exemplar_labels(labels_string: &str) -> ScrapeResult<usize> {
    let mut sub = py_strip(labels_string);
    if sub.starts_with(',') {
        return Err(ScrapeError::value(format!(
            "leading comma: {labels_string}"
        )));
    }
    let invalid = || invalid_labels(labels_string);
    let mut seen: HashSet<String> = HashSet::new();
    let mut length = 0usize;
    while !sub.is_empty() {
        // _next_term
        let mut text = sub;
        if text.starts_with(',') {
            text = &text[1..];
            if text.is_empty() {
                return Err(invalid()); // empty value term
            }
            if text.starts_with(',') {
                return Err(invalid());
            }
        }
        let mut split = next_unquoted(text, b"=,}", 0);
        let label_name: &str;
        match split {
            Some(p) if text.as_bytes().get(p) == Some(&b'=') => {
                label_name = &text[..p];
                text = &text[p + 1..];
                split = next_unquoted(text, b",}", 0);
            }
            _ => label_name = "__name__",
        }
        let split = split.unwrap_or(text.len());
        let term = &text[..split];
        if term.is_empty() {
            return Err(invalid());
        }
        let value_term = py_strip(term);
        sub = py_strip(&text[split..]);
        if value_term.is_empty() {
            return Err(invalid());
        }
        let (name, quoted) = unquote_unescape(label_name).map_err(|_| invalid())?;
        if !quoted && !is_legacy_metric_name(&name) {
            return Err(invalid());
        }
        if !value_term.starts_with('"') {
            return Err(invalid());
        }
        let i = closing_quote(value_term.as_bytes(), 1).ok_or_else(invalid)?;
        if i + 1 != value_term.len() {
            return Err(invalid());
        }
        let (value, _) = unquote_unescape(value_term).map_err(|_| invalid())?;
        if name != "__name__" && name.starts_with("__") {
            return Err(invalid());
        }
        if !seen.insert(name.to_string()) {
            return Err(invalid());
        }
        length += name.chars().count() + value.chars().count();
    }
    Ok(length)
}

/// `_parse_timestamp`: `None` for no text; an exact timestamp for `int` or `a.b` text; a float
/// otherwise.
fn parse_timestamp(ts: &str) -> ScrapeResult<Option<Timestamp>> {
    if ts.is_empty() {
        return Ok(None);
    }
    let invalid = || ScrapeError::value(format!("Invalid timestamp: {}", py_repr(ts)));
    if py_strip(ts).len() != ts.len() || ts.contains('_') {
        return Err(invalid());
    }
    if let Some(sec) = py_int(ts) {
        return Ok(Some(Timestamp::Exact(sec, 0)));
    }
    // `int(parts[0])` fails first when there is no `.` (the text is not an int): the float path
    if let Some((a, b)) = ts.split_once('.') {
        let frac: String = b.chars().take(9).collect();
        let padded = format!("{frac:0<9}");
        if let (Some(sec), Some(nsec)) = (py_int(a), py_int(&padded)) {
            if (0..1_000_000_000).contains(&nsec) {
                let nsec = if sec < 0 { -nsec } else { nsec };
                return Ok(Some(Timestamp::Exact(sec, nsec as i64)));
            }
        }
    }
    let f = py_float(ts).ok_or_else(|| ScrapeError::value(float_error(ts)))?;
    if f.is_nan() || f.is_infinite() {
        return Err(invalid());
    }
    Ok(Some(Timestamp::Float(f)))
}

/// Python `int(s)` for timestamps (bounded to i128 here).
fn py_int(s: &str) -> Option<i128> {
    let t = py_strip(s);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let cleaned: String = t.chars().filter(|c| *c != '_').collect();
    cleaned.parse::<i128>().ok()
}

/// The states of the reader of what follows a sample's value.
#[derive(PartialEq, Clone, Copy)]
enum RestState {
    Timestamp,
    ExemplarHash,
    ExemplarSpace,
    ExemplarStartOfLabels,
    ExemplarParsedLabels,
    ExemplarValueSpace,
    ExemplarValue,
    ExemplarTimestamp,
}

/// The reader of what follows a sample's value (timestamp, exemplar), one character outside
/// quotes at a time.
struct RestMachine<'t> {
    /// The text after the value.
    text: &'t str,
    state: RestState,
    timestamp: String,
    ex_value: String,
    ex_timestamp: String,
    /// The exemplar's label length, once its labels are read.
    ex_label_length: Option<usize>,
}

impl<'t> RestMachine<'t> {
    fn new(text: &'t str) -> Self {
        RestMachine {
            text,
            state: RestState::Timestamp,
            timestamp: String::new(),
            ex_value: String::new(),
            ex_timestamp: String::new(),
            ex_label_length: None,
        }
    }

    fn invalid(&self) -> ScrapeError {
        ScrapeError::value(format!("Invalid line: {}", self.text))
    }

    fn step(&mut self, c: char) -> ScrapeResult<()> {
        use RestState as St;
        match self.state {
            St::Timestamp if c == '#' && self.timestamp.is_empty() => {
                self.state = St::ExemplarSpace;
            }
            St::Timestamp if c == ' ' => self.state = St::ExemplarHash,
            St::Timestamp => self.timestamp.push(c),
            St::ExemplarHash if c == '#' => self.state = St::ExemplarSpace,
            St::ExemplarSpace if c == ' ' => self.state = St::ExemplarStartOfLabels,
            St::ExemplarStartOfLabels if c == '{' => {
                self.ex_label_length = Some(parse_exemplar_labels(self.exemplar_label_block())?);
                self.state = St::ExemplarParsedLabels;
            }
            St::ExemplarHash | St::ExemplarSpace | St::ExemplarStartOfLabels => {
                return Err(self.invalid());
            }
            St::ExemplarParsedLabels => {
                if c == '}' {
                    self.state = St::ExemplarValueSpace;
                }
            }
            St::ExemplarValueSpace if c == ' ' => self.state = St::ExemplarValue,
            St::ExemplarValueSpace => return Err(self.invalid()),
            St::ExemplarValue if c == ' ' && self.ex_value.is_empty() => {
                return Err(self.invalid());
            }
            St::ExemplarValue if c == ' ' => self.state = St::ExemplarTimestamp,
            St::ExemplarValue => self.ex_value.push(c),
            St::ExemplarTimestamp => self.ex_timestamp.push(c),
        }
        Ok(())
    }

    /// The exemplar's label block, between the first `{` and the last `}` outside quotes.
    fn exemplar_label_block(&self) -> &'t str {
        let text = self.text;
        let start = next_unquoted(text, b"{", 0);
        let end = last_unquoted(text, b"}");
        match (start, end) {
            (Some(s), Some(e)) if s < e => &text[s + 1..e],
            (Some(s), None) => {
                // Python's `text[s + 1:-1]`: all but the last character
                let end = text.char_indices().next_back().map_or(0, |(i, _)| i);
                if end > s + 1 {
                    &text[s + 1..end]
                } else {
                    ""
                }
            }
            _ => "",
        }
    }

    /// The timestamp, and whether there was an exemplar, once every character is read.
    fn finish(self) -> ScrapeResult<(Option<Timestamp>, bool)> {
        use RestState as St;
        let incomplete = match self.state {
            St::Timestamp => self.timestamp.is_empty(),
            St::ExemplarTimestamp => self.ex_timestamp.is_empty(),
            St::ExemplarHash
            | St::ExemplarSpace
            | St::ExemplarStartOfLabels
            | St::ExemplarParsedLabels => true,
            St::ExemplarValueSpace | St::ExemplarValue => false,
        };
        if incomplete {
            return Err(self.invalid());
        }
        let ts = parse_timestamp(&self.timestamp)?;
        let Some(length) = self.ex_label_length else {
            return Ok((ts, false));
        };
        if length > 128 {
            return Err(ScrapeError::value(format!(
                "Exemplar labels are too long: {}",
                self.text
            )));
        }
        parse_value(&self.ex_value)?;
        parse_timestamp(&self.ex_timestamp)?;
        Ok((ts, true))
    }
}

/// `_parse_remaining_text`: value, then optional timestamp and exemplar.
fn parse_remaining_text(text: &str) -> ScrapeResult<(Num, Option<Timestamp>, bool)> {
    let (first, rest) = match text.split_once(' ') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let value = parse_value(first)?;
    let Some(text) = rest else {
        return Ok((value, None, false));
    };
    let mut machine = RestMachine::new(text);
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if !in_quotes {
            machine.step(c)?;
        }
    }
    let (ts, has_exemplar) = machine.finish()?;
    Ok((value, ts, has_exemplar))
}

/// The patched `_parse_sample` of the OpenMetrics parser.
pub(super) fn parse_sample(text: &str) -> ScrapeResult<Sample<'_>> {
    const SEPARATOR: &str = " # ";
    let label_start = text.find('{');
    let no_labels = match label_start {
        None => true,
        Some(ls) => text[..ls].contains(SEPARATOR),
    };
    if no_labels {
        let name_end = text
            .find(' ')
            .ok_or_else(|| ScrapeError::value("substring not found"))?;
        let (value, timestamp, has_exemplar) = parse_remaining_text(&text[name_end + 1..])?;
        return Ok(Sample {
            name: Cow::Borrowed(&text[..name_end]),
            labels: Labels::new(),
            label_text: "",
            pending: false,
            value,
            timestamp: timestamp.map(Box::new),
            has_exemplar,
        });
    }
    let label_start = label_start.unwrap_or(0);
    let name = &text[..label_start];
    let (labels, label_text, remaining_start) = if !text.contains(SEPARATOR) {
        let label_end = text
            .rfind('}')
            .ok_or_else(|| ScrapeError::value("substring not found"))?;
        let label_text = if label_end > label_start {
            &text[label_start + 1..label_end]
        } else {
            ""
        };
        (parse_labels_fast(label_text)?, label_text, label_end + 2)
    } else {
        let (labels, consumed) = parse_labels_state_machine(&text[label_start + 1..])?;
        // the block through its closing brace (the series key only needs to determine the labels)
        let block = text
            .get(label_start + 1..label_start + 1 + consumed)
            .unwrap_or("");
        (labels, block, label_start + consumed + 2)
    };
    let remaining = text.get(remaining_start..).unwrap_or("");
    let (value, timestamp, has_exemplar) = parse_remaining_text(remaining)?;
    Ok(Sample {
        name: Cow::Borrowed(name),
        labels,
        label_text,
        pending: false,
        value,
        timestamp: timestamp.map(Box::new),
        has_exemplar,
    })
}

/// Whether a histogram-family line is a native-histogram sample (`name{...} {count:...}`).
pub(super) fn is_native_histogram_line(text: &str) -> ScrapeResult<bool> {
    let Some(i) = next_unquoted(text, b" {", 0) else {
        return Ok(false);
    };
    let mut i = i;
    if text.as_bytes().get(i) == Some(&b'{') {
        i = next_unquoted(text, b"}", i).ok_or_else(|| ScrapeError::value(""))?;
    }
    let Some(start) = next_unquoted(text, b"{", i + 1) else {
        return Ok(false);
    };
    if let Some(hash) = next_unquoted(text, b"#", i + 1) {
        if hash < start {
            return Ok(false);
        }
    }
    Ok(true)
}
