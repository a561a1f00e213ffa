//! Native-histogram sample lines (`name{labels} {count:...,sum:...,...}` in a histogram family):
//! the errors the stock parser (`_parse_nh_sample`, `_parse_nh_struct`) raises on a malformed
//! one, in its order. A well-formed one is not supported here.

use crate::error::{ErrorKind, ScrapeError};
use crate::lex::next_unquoted;
use crate::number::{float_error, py_float, py_int_reads};
use crate::text::py_repr;

/// The suffixes of a histogram's classic samples, which a native sample's name must not have.
const HISTOGRAM_SUFFIXES: [&str; 4] = ["_count", "_sum", "_bucket", "_created"];

/// The error a line that `is_native_histogram_line` accepted fails the scrape with.
pub(super) fn native_histogram_error(line: &str) -> ScrapeError {
    let Some(i) = next_unquoted(line, b" {", 0) else {
        return unsupported(line);
    };
    let has_labels = line.as_bytes().get(i) == Some(&b'{');
    let after = if has_labels {
        next_unquoted(line, b"}", i).unwrap_or(i)
    } else {
        i
    };
    let Some(start) = next_unquoted(line, b"{", after + 1) else {
        return unsupported(line);
    };
    if next_unquoted(line, b"}", start).is_none() {
        return ScrapeError::value("");
    }
    let (name, what) = if has_labels {
        (
            &line[..i],
            "the sample name of a native histogram with labels should have no suffixes",
        )
    } else {
        // the text before the character that precedes the struct's `{`
        let end = line[..start].char_indices().last().map_or(0, |(at, _)| at);
        (
            &line[..end],
            "the sample name of a native histogram should have no suffixes",
        )
    };
    if HISTOGRAM_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        // a ValueError of two arguments: its text is the tuple's repr
        return ScrapeError::value(format!("({}, {})", py_repr(what), py_repr(name)));
    }
    struct_error(&line[start..]).unwrap_or_else(|| unsupported(line))
}

fn unsupported(line: &str) -> ScrapeError {
    ScrapeError::value(format!(
        "Native histogram samples are not supported: {line}"
    ))
}

/// `_parse_nh_struct`: the first of `count` (int), `sum` (float), `schema` (int),
/// `zero_threshold` (float), `zero_count` (int) that is missing (`KeyError`) or unreadable.
fn struct_error(text: &str) -> Option<ScrapeError> {
    let items = items(text);
    let get = |key: &str| items.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
    for (key, is_int) in [
        ("count", true),
        ("sum", false),
        ("schema", true),
        ("zero_threshold", false),
        ("zero_count", true),
    ] {
        let Some(value) = get(key) else {
            return Some(ScrapeError::new(ErrorKind::Key, key));
        };
        if is_int && !py_int_reads(value) {
            return Some(ScrapeError::value(format!(
                "invalid literal for int() with base 10: {}",
                py_repr(value)
            )));
        }
        if !is_int && py_float(value).is_none() {
            return Some(ScrapeError::value(float_error(value)));
        }
    }
    None
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `re.findall(r'(\w+):\s*([^,}]+)', text)`: (key, value) pairs in order.
fn items(text: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut p = 0;
    while p < text.len() {
        let rest = &text[p..];
        let step = rest.chars().next().map_or(1, char::len_utf8);
        let key_len: usize = rest
            .chars()
            .take_while(|c| is_word(*c))
            .map(char::len_utf8)
            .sum();
        if key_len == 0 || !rest[key_len..].starts_with(':') {
            p += step;
            continue;
        }
        let after = &rest[key_len + 1..];
        let space: usize = after
            .chars()
            .take_while(|c| is_space(*c))
            .map(char::len_utf8)
            .sum();
        let value_len = after[space..]
            .find([',', '}'])
            .unwrap_or(after.len() - space);
        let (from, len) = match (value_len, after[..space].chars().last()) {
            (0, Some(last)) => (space - last.len_utf8(), last.len_utf8()), // `\s*` gives one back
            (0, None) => {
                p += step;
                continue;
            }
            (n, _) => (space, n),
        };
        found.push((&rest[..key_len], &after[from..from + len]));
        p += key_len + 1 + from + len;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(line: &str) -> String {
        native_histogram_error(line).to_string()
    }

    #[test]
    fn errors_of_malformed_native_samples() {
        assert_eq!(message("h_buck t{a=\"3\"} 4"), "KeyError: count");
        assert_eq!(message("h {count:1"), "ValueError: ");
        assert_eq!(
            message("h {count:x}"),
            "ValueError: invalid literal for int() with base 10: 'x'"
        );
        assert_eq!(
            message("h {count: 2 ,sum:y}"),
            "ValueError: could not convert string to float: 'y'"
        );
        assert_eq!(message("h {count:1,sum:1}"), "KeyError: schema");
        assert_eq!(
            message("h_bucket{a=\"1\"} {count:1}"),
            "ValueError: ('the sample name of a native histogram with labels should have no \
             suffixes', 'h_bucket')"
        );
        assert!(
            message("h {count:1,sum:1,schema:0,zero_threshold:0,zero_count:0}")
                .contains("not supported")
        );
    }

    #[test]
    fn multibyte_text_before_the_struct() {
        // Python drops the one character before `{` (here two bytes) from the name
        assert_eq!(message("h_count \u{e9}{count:1}"), "KeyError: sum");
        assert_eq!(message("h_count\u{e9} \u{e9}{count:1}"), "KeyError: sum");
    }

    #[test]
    fn items_as_python_findall_reads_them() {
        assert_eq!(
            items("{count:24, sum: 1.5,bad,x:,y: ,z:[0:2]}"),
            [("count", "24"), ("sum", "1.5"), ("y", " "), ("z", "[0:2]")]
        );
    }
}
