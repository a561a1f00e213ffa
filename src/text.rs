//! Python-compatible text primitives.
//!
//! The stock check runs on CPython: it strips with `str.strip()`, splits lines with
//! `str.splitlines()`, reads numbers with `int()`/`float()` and writes bounds with `repr(float)`.
//! Every function here reproduces one of those exactly, so that the same bytes give the same
//! names, tags and values.

use std::fmt::Write;

pub use crate::number::{
    canonical_float, canonical_number, float_error, parse_sample_value, py_float, py_float_repr,
    write_py_float_repr, Num,
};

/// `str.isspace()` for one character: Unicode White_Space plus the ASCII separators
/// U+001C..U+001F, which CPython also counts as whitespace.
#[inline]
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[inline]
fn is_ascii_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f)
}

/// `str.strip()` without arguments.
#[inline]
pub fn py_strip(s: &str) -> &str {
    py_rstrip(py_lstrip(s))
}

/// `str.lstrip()` without arguments.
#[inline]
pub fn py_lstrip(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if is_ascii_py_space(b) {
                i += 1;
                continue;
            }
            break;
        }
        // Non-ASCII: decode one char.
        match s[i..].chars().next() {
            Some(c) if is_py_space(c) => i += c.len_utf8(),
            _ => break,
        }
    }
    &s[i..]
}

/// `str.rstrip()` without arguments.
#[inline]
pub fn py_rstrip(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while end > 0 {
        let b = bytes[end - 1];
        if b < 0x80 {
            if is_ascii_py_space(b) {
                end -= 1;
                continue;
            }
            break;
        }
        match s[..end].chars().next_back() {
            Some(c) if is_py_space(c) => end -= c.len_utf8(),
            _ => break,
        }
    }
    &s[..end]
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first `needle` byte in `hay`, eight bytes at a time (the standard library's
/// `str::find(char)` costs a `memcmp` call per candidate, which dominates on short lines).
#[inline]
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // the lowest set bit marks the first zero byte (higher ones may be false positives)
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| offset + p)
}

/// Index of the last `needle` byte in `hay`.
#[inline]
pub fn rfind_byte(hay: &[u8], needle: u8) -> Option<usize> {
    hay.iter().rposition(|&b| b == needle)
}

/// The longest line read, in bytes between two `\n` (the stock check's limit).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The error at a line longer than `MAX_LINE_BYTES` (the stock check's `ValueError`).
pub fn line_too_long() -> crate::model::ScrapeError {
    crate::model::ScrapeError::value(format!(
        "Response contains a line longer than {MAX_LINE_BYTES} bytes"
    ))
}

/// The lines of an exposition: breaks are `\n`, `\r\n` and `\r`, as for the stock check, but
/// not the other characters Python's `str.splitlines()` also breaks at (`\v`, `\f`, `\x1c`–`\x1e`,
/// `\x85`, U+2028, U+2029): those are ordinary characters of a label value or HELP text (a
/// deliberate fix; the stock check cuts the line there). A trailing break adds no empty line.
/// Iteration stops at a line longer than `MAX_LINE_BYTES` (`too_long` then says so).
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
    /// The body has a `\r` somewhere; without one the scan looks for `\n` alone.
    has_cr: bool,
    /// Where the current `\n`-delimited stretch began (the limit counts from there, as the
    /// stock check's stream does).
    stretch_start: usize,
    too_long: bool,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            has_cr: text.as_bytes().contains(&b'\r'),
            stretch_start: 0,
            too_long: false,
        }
    }

    /// Iteration stopped at a line longer than `MAX_LINE_BYTES`.
    pub fn too_long(&self) -> bool {
        self.too_long
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
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

/// `repr(str)`, as Python writes it in error messages.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if crate::unicode::is_printable(c) => out.push(c),
            c => {
                let u = c as u32;
                let _ = if u <= 0xff {
                    write!(out, "\\x{:02x}", u)
                } else if u <= 0xffff {
                    write!(out, "\\u{:04x}", u)
                } else {
                    write!(out, "\\U{:08x}", u)
                };
            }
        }
    }
    out.push(quote);
    out
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

/// Whether the `"` at byte `pos` of `s` is escaped (preceded by an odd number of backslashes).
#[inline]
pub fn is_escaped(s: &[u8], pos: usize) -> bool {
    let mut n = 0;
    while pos > n && s[pos - 1 - n] == b'\\' {
        n += 1;
    }
    n % 2 == 1
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
        assert!(lines.too_long());
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
        assert!(lines.too_long());
    }

    #[test]
    fn byte_search_finds_the_first_and_last() {
        for len in 0..40 {
            for at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[at] = b'{';
                if at + 3 < len {
                    hay[at + 3] = b'{';
                }
                assert_eq!(find_byte(&hay, b'{'), Some(at), "len {len} at {at}");
                assert_eq!(find_byte(&hay, 0x80 | b'{'), None);
            }
            assert_eq!(find_byte(&vec![0xff; len], 0x7f), None);
        }
        assert_eq!(rfind_byte(b"a}b}c", b'}'), Some(3));
    }

    #[test]
    fn strip_like_python() {
        assert_eq!(py_strip("\u{a0}\x1f x \u{3000}"), "x");
        assert_eq!(py_strip("é "), "é");
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a'b\""), "'a\\'b\"'");
        assert_eq!(py_repr("\x01\n"), "'\\x01\\n'");
        assert_eq!(py_repr("é"), "'é'");
    }

    #[test]
    fn unescaping() {
        assert_eq!(replace_escaping(r#"a\\b\nc\"d\x"#), "a\\b\nc\"d\\x");
    }
}
