//! The lexing both exposition parsers share, one copy of each rule: lines, quoted text and its
//! escapes, metric and label names, the lenient label block of the Prometheus format, and sample
//! values. Everything here reads text exactly as prometheus_client's parsers (with the stock
//! check's patches) read it.
//!
//! Indexes are byte offsets found by searching for ASCII bytes, so every slice taken at one lies
//! on a character boundary; the scans check their bounds and cannot panic on any input.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::{ErrorKind, ScrapeError, ScrapeResult};
use crate::number::{parse_sample_value, Num};
use crate::text::{find_byte, py_lstrip, py_strip};

/// The longest line read, in bytes between two `\n` (the stock check's limit).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The error at a line longer than `MAX_LINE_BYTES` (the stock check's `ValueError`).
pub fn line_too_long() -> ScrapeError {
    ScrapeError::value(format!(
        "Response contains a line longer than {MAX_LINE_BYTES} bytes"
    ))
}

/// A yes/no question about a text (a pattern search, say).
pub type TextPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Which lines a scrape drops before parsing (`raw_line_filters`): `true` drops the line.
#[derive(Clone)]
pub struct LineFilter(pub TextPredicate);

impl std::fmt::Debug for LineFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineFilter")
    }
}

/// The lines of an exposition: breaks are `\n`, `\r\n` and `\r`, as for the stock check, but
/// not the other characters Python's `str.splitlines()` also breaks at (`\v`, `\f`, `\x1c`–`\x1e`,
/// `\x85`, U+2028, U+2029): those are ordinary characters of a label value or HELP text (a
/// deliberate fix; the stock check cuts the line there). A trailing break adds no empty line.
/// Iteration stops at a line longer than `MAX_LINE_BYTES` (`take_error` then says so).
///
/// With a filter, the lines it drops are skipped (and counted) as the parser pulls the next
/// line: like the stock check's line stream, a scrape that stops early has reached, and counted,
/// only the dropped lines before the line it stopped at.
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
    /// The body has a `\r` somewhere; without one the scan looks for `\n` alone.
    has_cr: bool,
    /// Where the current `\n`-delimited stretch began (the limit counts from there, as the
    /// stock check's stream does).
    stretch_start: usize,
    too_long: bool,
    filter: Option<LineFilter>,
    filtered: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            has_cr: text.as_bytes().contains(&b'\r'),
            stretch_start: 0,
            too_long: false,
            filter: None,
            filtered: 0,
        }
    }

    /// The lines `filter` keeps (all of them when it is `None`).
    pub fn filtered_by(text: &'a str, filter: Option<LineFilter>) -> Self {
        Lines {
            filter,
            ..Lines::new(text)
        }
    }

    /// The error iteration stopped at (a line longer than `MAX_LINE_BYTES`), once.
    pub fn take_error(&mut self) -> Option<ScrapeError> {
        std::mem::take(&mut self.too_long).then(line_too_long)
    }

    /// The lines the filter has dropped so far.
    pub fn filtered(&self) -> usize {
        self.filtered
    }

    /// The next line, filtered or not.
    #[inline]
    fn next_line(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.too_long {
            return None;
        }
        let rest = self.text.get(start..).filter(|r| !r.is_empty())?;
        let (end, next) = if self.has_cr {
            match rest.find(['\n', '\r']) {
                Some(i)
                    if rest.as_bytes().get(i) == Some(&b'\r')
                        && rest.as_bytes().get(i + 1) == Some(&b'\n') =>
                {
                    (start + i, start + i + 2)
                }
                Some(i) => (start + i, start + i + 1),
                None => (self.text.len(), self.text.len()),
            }
        } else {
            match find_byte(rest.as_bytes(), b'\n') {
                Some(i) => (start + i, start + i + 1),
                None => (self.text.len(), self.text.len()),
            }
        };
        // the stretch since the last `\n`, through this line (and its `\r`, if any)
        let stretch_end = if self.text.as_bytes().get(next.wrapping_sub(1)) == Some(&b'\n') {
            next - 1
        } else {
            next
        };
        if stretch_end - self.stretch_start > MAX_LINE_BYTES {
            self.too_long = true;
            return None;
        }
        if stretch_end < next {
            self.stretch_start = next;
        }
        self.pos = next;
        self.text.get(start..end)
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let Some(filter) = self.filter.take() else {
            return self.next_line();
        };
        let mut line = self.next_line();
        while line.is_some_and(|l| (filter.0)(l)) {
            self.filtered += 1;
            line = self.next_line();
        }
        self.filter = Some(filter);
        line
    }
}

/// Whether the `"` at byte `pos` of `s` is escaped (preceded by an odd number of backslashes).
#[inline]
pub fn is_escaped(s: &[u8], pos: usize) -> bool {
    let backslashes = s.get(..pos).map_or(0, |before| {
        before.iter().rev().take_while(|&&c| c == b'\\').count()
    });
    backslashes % 2 == 1
}

/// The quote that closes a quoted label value, found as the stock parsers find it: from `start`,
/// the first `"` of `bytes` that is not escaped. `None` when a search finds no `"` at all; the
/// length of `bytes` when the last quote found was escaped and is the last byte.
#[inline]
pub fn closing_quote(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() {
        i += find_byte(bytes.get(i..)?, b'"')?;
        if !is_escaped(bytes, i) {
            break;
        }
        i += 1;
    }
    Some(i)
}

/// Index of the next byte of `chars` at or after `start` that is not inside double quotes.
pub fn next_unquoted(text: &str, chars: &[u8], start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut in_quotes = false;
    for (i, &c) in b.iter().enumerate().skip(start) {
        if c == b'"' && !is_escaped(b, i) {
            in_quotes = !in_quotes;
        }
        if !in_quotes && chars.contains(&c) {
            return Some(i);
        }
    }
    None
}

/// Index of the last byte of `chars` outside double quotes (the scan stops before index 0).
pub fn last_unquoted(text: &str, chars: &[u8]) -> Option<usize> {
    let b = text.as_bytes();
    let mut in_quotes = false;
    for (i, &c) in b.iter().enumerate().skip(1).rev() {
        if c == b'"' && !is_escaped(b, i) {
            in_quotes = !in_quotes;
        }
        if !in_quotes && chars.contains(&c) {
            return Some(i);
        }
    }
    None
}

/// prometheus_client's `_split_quoted(text, separators, maxsplit)`: split outside quotes, runs
/// of separators count once, and the last token takes the rest of the line.
pub fn split_quoted<'a>(text: &'a str, separators: &[u8], maxsplit: usize) -> Vec<&'a str> {
    let mut tokens: Vec<&'a str> = vec![""];
    let mut x = 0;
    while x < text.len() {
        match next_unquoted(text, separators, x) {
            None => {
                if let Some(last) = tokens.last_mut() {
                    *last = &text[x..];
                }
                x = text.len();
            }
            Some(pos) if pos == x => x += 1,
            Some(pos) => {
                if maxsplit > 0 && tokens.len() > maxsplit {
                    if let Some(last) = tokens.last_mut() {
                        *last = &text[x..];
                    }
                    break;
                }
                if let Some(last) = tokens.last_mut() {
                    *last = &text[x..pos];
                }
                x = pos + 1;
                tokens.push("");
            }
        }
    }
    tokens
}

/// `_unquote_unescape`: strips, removes surrounding quotes, unescapes. Returns (text, quoted).
pub fn unquote_unescape(text: &str) -> ScrapeResult<(Cow<'_, str>, bool)> {
    if text.is_empty() {
        return Ok((Cow::Borrowed(text), false));
    }
    let mut t = py_strip(text);
    let mut quoted = false;
    if t.is_empty() {
        // `text.strip()[0]` of a text that was only whitespace
        return Err(ScrapeError::new(
            ErrorKind::Index,
            "string index out of range",
        ));
    }
    if t.starts_with('"') {
        if t.len() == 1 || !t.ends_with('"') {
            return Err(ScrapeError::value("missing close quote"));
        }
        t = &t[1..t.len() - 1];
        quoted = true;
    }
    if t.contains('\\') {
        Ok((Cow::Owned(replace_escaping(t)), quoted))
    } else {
        Ok((Cow::Borrowed(t), quoted))
    }
}

/// The stock label unescaping (`\\` → `\`, `\n` → newline, `\"` → `"`; any other backslash is
/// kept), applied left to right without overlaps.
pub fn replace_escaping(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some('"') => {
                    out.push('"');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `METRIC_NAME_RE` (`[a-zA-Z_:][a-zA-Z0-9_:]*`), the legacy metric-name rule.
pub fn is_legacy_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    b.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `METRIC_LABEL_NAME_RE` (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Byte offset of the `n`-th character of `s` (clamped to its length), for the few places where
/// the stock parser mixes indexes of two different strings.
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// Python slice `s[start:end]` on character indexes, clamped.
fn char_slice(s: &str, start: usize, end: usize) -> &str {
    let a = char_offset(s, start);
    let b = char_offset(s, end);
    if a >= b {
        ""
    } else {
        &s[a..b]
    }
}

/// A Prometheus label block with a label whose `=` or opening quote is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MalformedLabelBlock;

/// The patched `_parse_labels` (prometheus_client 0.21.1): lenient about everything except a
/// missing `=` or quote, which is an error (the caller then falls back). Each label goes to
/// `on_label` as (name, raw value) in exposition order; the value is still escaped.
pub fn scan_labels<'t>(
    labels_string: &'t str,
    on_label: &mut impl FnMut(&'t str, &'t str),
) -> Result<(), MalformedLabelBlock> {
    if find_byte(labels_string.as_bytes(), b'=').is_none() {
        return Ok(());
    }
    let mut sub = labels_string;
    while !sub.is_empty() {
        let value_start = find_byte(sub.as_bytes(), b'=').ok_or(MalformedLabelBlock)?;
        let label_name = &sub[..value_start];
        sub = py_lstrip(&sub[value_start + 1..]);
        let quote_start = find_byte(sub.as_bytes(), b'"').ok_or(MalformedLabelBlock)? + 1;
        let value_substr = &sub[quote_start..];
        let i = closing_quote(value_substr.as_bytes(), 0).ok_or(MalformedLabelBlock)?;
        // The stock code slices `sub` with an index into `value_substr`; the two agree only when
        // the quote follows `=` directly, which is the usual case and handled in bytes.
        let (raw_value, rest) = if quote_start == 1 {
            let end = (i + 1).min(sub.len());
            let raw = if end > 1 { &sub[1..end] } else { "" };
            let rest_start = (i + 2).min(sub.len());
            (raw, &sub[rest_start..])
        } else {
            let quote_start_chars = char_count(&sub[..quote_start]);
            let quote_end_chars = char_count(&value_substr[..i.min(value_substr.len())]) + 1;
            let raw = char_slice(sub, quote_start_chars, quote_end_chars);
            let rest = &sub[char_offset(sub, quote_end_chars + 1)..];
            (raw, rest)
        };
        on_label(py_strip(label_name), raw_value);
        let next_comma = find_byte(rest.as_bytes(), b',').map_or(0, |p| p + 1);
        sub = py_lstrip(&rest[next_comma..]);
    }
    Ok(())
}

/// One sample-value token, read the stock way: `int()`, then `float()`.
pub fn parse_value(token: &str) -> ScrapeResult<Num> {
    parse_sample_value(token).map_err(ScrapeError::value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_at_newline_and_carriage_return_only() {
        let text = "a\nb\r\nc\rd\u{2028}e\u{85}f\x1cg\x0bh\n";
        let lines: Vec<&str> = Lines::new(text).collect();
        assert_eq!(lines, ["a", "b", "c", "d\u{2028}e\u{85}f\x1cg\x0bh"]);
        let lines: Vec<&str> = Lines::new("\n\nx").collect();
        assert_eq!(lines, ["", "", "x"]);
        let lines: Vec<&str> = Lines::new("x\r\n\r\ny\r").collect();
        assert_eq!(lines, ["x", "", "y"]);
        assert_eq!(Lines::new("").count(), 0);
    }

    #[test]
    fn lines_stop_past_the_limit() {
        let long = format!("a\n{}\nb\n", "x".repeat(MAX_LINE_BYTES + 1));
        let mut lines = Lines::new(&long);
        assert_eq!(lines.next(), Some("a"));
        assert_eq!(lines.next(), None);
        assert!(lines.take_error().is_some());
        let at_limit = format!("{}\nb", "x".repeat(MAX_LINE_BYTES));
        let lines: Vec<&str> = Lines::new(&at_limit).collect();
        assert_eq!(lines.len(), 2);
        // carriage returns do not end the stretch the limit counts
        let cr = format!(
            "{}\r{}\n",
            "x".repeat(MAX_LINE_BYTES / 2),
            "y".repeat(MAX_LINE_BYTES / 2 + 1)
        );
        let mut lines = Lines::new(&cr);
        assert!(lines.next().is_some());
        assert_eq!(lines.next(), None);
        assert!(lines.take_error().is_some());
    }

    #[test]
    fn a_filter_drops_lines_as_they_are_pulled() {
        let filter = LineFilter(Arc::new(|l: &str| l.starts_with('#')));
        let mut lines = Lines::filtered_by("# a\nx\r\n# b\n# c\ny", Some(filter));
        assert_eq!((lines.next(), lines.filtered()), (Some("x"), 1));
        assert_eq!((lines.next(), lines.filtered()), (Some("y"), 3));
        assert_eq!((lines.next(), lines.filtered()), (None, 3));
    }

    #[test]
    fn unescaping() {
        assert_eq!(replace_escaping(r#"a\\b\nc\"d\x"#), "a\\b\nc\"d\\x");
    }

    #[test]
    fn split_quoted_like_python() {
        assert_eq!(
            split_quoted("# HELP name  doc  text", b" \t\n\r\x0b\x0c", 3),
            ["#", "HELP", "name", "doc  text"]
        );
        assert_eq!(split_quoted("# TYPE", b" \t\n\r\x0b\x0c", 3), ["#", "TYPE"]);
    }

    #[test]
    fn closing_quotes_skip_escaped_ones() {
        assert_eq!(closing_quote(b"abc\"rest", 0), Some(3));
        assert_eq!(closing_quote(br#"a\"b"c"#, 0), Some(4));
        assert_eq!(closing_quote(br#"a\\"b"#, 0), Some(3));
        assert_eq!(closing_quote(br#"a\""#, 0), Some(3));
        assert_eq!(closing_quote(b"", 0), Some(0));
        assert_eq!(closing_quote(b"abc", 0), None);
        assert_eq!(closing_quote(b"\"x\"", 1), Some(2));
    }

    #[test]
    fn unquoted_scans() {
        assert_eq!(next_unquoted(r#"a{b="}"}c"#, b"}", 0), Some(7));
        assert_eq!(last_unquoted(r#"{a="}"} 1"#, b"}"), Some(6));
        assert_eq!(last_unquoted("}", b"}"), None);
    }
}
