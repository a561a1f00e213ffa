//! Python-compatible text primitives.
//!
//! The stock check runs on CPython: it strips with `str.strip()` and quotes with `repr(str)`.
//! Every function here reproduces one of those exactly, so that the same bytes give the same
//! names, tags and error messages; the byte searches are what the lexer (`crate::lex`) scans
//! with. Numbers are `crate::number`, lines and escapes `crate::lex`.

use std::fmt::Write;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
