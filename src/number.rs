//! Numbers as CPython reads and writes them: sample values through `int()` then `float()` (their
//! grammar, whitespace, Unicode digits and digit limit), and `repr(float)` for the bound tags.

use std::borrow::Cow;
use std::fmt::Write;

use crate::text::{py_repr, py_strip};

pub mod int;

use int::{BigInt, FLOAT_EXACT_LIMIT};

/// A number read the way the stock parsers read sample values: `int()` first, then `float()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Num {
    /// The value as Python's `float(value)` gives it (correctly rounded).
    pub value: f64,
    /// `int()` accepted it (Python keeps an `int`, exact and unbounded).
    pub is_int: bool,
    /// An `int` too large for a float: using it as a float raises `OverflowError`.
    pub overflow: bool,
    /// The exact value of an `int` of magnitude 2^53 or more (past it `value` may be rounded);
    /// `None` for smaller ints (exact in `value`), floats and overflowing ints.
    pub exact: Option<Box<BigInt>>,
}

impl Num {
    /// A float sample value.
    pub fn float(value: f64) -> Self {
        Num {
            value,
            is_int: false,
            overflow: false,
            exact: None,
        }
    }

    /// An int sample value read from `text` (stripped, ASCII digits, Python's int grammar) whose
    /// float is `value`.
    pub fn int(text: &str, value: f64) -> Self {
        let overflow = value.is_infinite();
        let exact = if !overflow && value.abs() >= FLOAT_EXACT_LIMIT {
            BigInt::from_decimal(text).map(Box::new)
        } else {
            None
        };
        Num {
            value,
            is_int: true,
            overflow,
            exact,
        }
    }

    /// The exact Python `int` this value is, `None` for a float.
    pub fn to_int(&self) -> Option<BigInt> {
        if !self.is_int || self.overflow {
            return None;
        }
        match &self.exact {
            Some(n) => Some(n.as_ref().clone()),
            None => BigInt::from_integral_f64(self.value),
        }
    }

    /// Python's comparison of two sample values (exact between an `int` and a `float` too);
    /// `None` when either is NaN.
    pub fn py_cmp(&self, other: &Num) -> Option<std::cmp::Ordering> {
        let rough = self.value.partial_cmp(&other.value)?;
        if rough != std::cmp::Ordering::Equal || (self.exact.is_none() && other.exact.is_none()) {
            return Some(rough);
        }
        // equal as floats, at least one a wide int: the float of the other is integral here
        let exact = |n: &Num| n.to_int().or_else(|| BigInt::from_integral_f64(n.value));
        Some(exact(self)?.cmp(&exact(other)?))
    }
}

/// A number as the stock check holds it once read: a Python `int` (exact, unbounded) or a
/// `float`. Histogram decumulation subtracts these as Python does.
#[derive(Clone, Debug, PartialEq)]
pub enum PyNum {
    Int(i64),
    /// An int outside the `i64` range.
    Big(Box<BigInt>),
    Float(f64),
}

impl PyNum {
    /// The number a sample value is (its `float` when `int()` did not read it).
    pub fn of(num: &Num) -> Self {
        if !num.is_int || num.overflow {
            return PyNum::Float(num.value);
        }
        match &num.exact {
            Some(n) => PyNum::from_big(n.as_ref().clone()),
            // below 2^53 in magnitude: exact as a float, and in range
            None => PyNum::Int(num.value as i64),
        }
    }

    fn from_big(n: BigInt) -> Self {
        match n.to_i64() {
            Some(v) => PyNum::Int(v),
            None => PyNum::Big(Box::new(n)),
        }
    }

    fn to_big(&self) -> Option<BigInt> {
        match self {
            PyNum::Int(v) => Some(BigInt::from_i64(*v)),
            PyNum::Big(n) => Some(n.as_ref().clone()),
            PyNum::Float(_) => None,
        }
    }

    /// `float(x)`: correctly rounded; infinite where Python raises `OverflowError`.
    pub fn to_f64(&self) -> f64 {
        match self {
            // `as` rounds to nearest, ties to even, as `float(int)` does
            PyNum::Int(v) => *v as f64,
            PyNum::Big(n) => n.to_f64(),
            PyNum::Float(v) => *v,
        }
    }

    /// `self - other` as Python computes it: exact between two ints, else in floats.
    pub fn sub(&self, other: &PyNum) -> PyNum {
        match (self, other) {
            (PyNum::Int(a), PyNum::Int(b)) => match a.checked_sub(*b) {
                Some(d) => PyNum::Int(d),
                None => PyNum::from_big(BigInt::from_i64(*a).sub(&BigInt::from_i64(*b))),
            },
            (PyNum::Float(_), _) | (_, PyNum::Float(_)) => {
                PyNum::Float(self.to_f64() - other.to_f64())
            }
            _ => match (self.to_big(), other.to_big()) {
                (Some(a), Some(b)) => PyNum::from_big(a.sub(&b)),
                _ => PyNum::Float(self.to_f64() - other.to_f64()),
            },
        }
    }
}

/// Checks the decimal-digit grammar `digit (['_'] digit)*`; returns the index after it.
fn scan_digits(b: &[u8], mut i: usize, allow_underscore: bool) -> Option<usize> {
    if i >= b.len() || !b[i].is_ascii_digit() {
        return None;
    }
    i += 1;
    loop {
        if i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        } else if allow_underscore && i + 1 < b.len() && b[i] == b'_' && b[i + 1].is_ascii_digit() {
            i += 2;
        } else {
            return Some(i);
        }
    }
}

/// Python `int(s)` for base 10 on an already stripped ASCII string: `[sign] digits`.
fn is_py_int_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    matches!(scan_digits(b, i, true), Some(end) if end == b.len())
}

/// Python `float(s)` grammar on an already stripped string (ASCII digits only).
fn is_py_float_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let rest = &s[i..];
    if rest.eq_ignore_ascii_case("inf")
        || rest.eq_ignore_ascii_case("infinity")
        || rest.eq_ignore_ascii_case("nan")
    {
        return true;
    }
    let mut saw_digits = false;
    if let Some(end) = scan_digits(b, i, true) {
        i = end;
        saw_digits = true;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if let Some(end) = scan_digits(b, i, true) {
            i = end;
            saw_digits = true;
        }
    }
    if !saw_digits {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        match scan_digits(b, i, true) {
            Some(end) => i = end,
            None => return false,
        }
    }
    i == b.len()
}

/// Rust's float parser on a literal that passed the Python grammar (underscores removed).
fn parse_checked_float(s: &str) -> f64 {
    let owned;
    let s = if s.contains('_') {
        owned = s.replace('_', "");
        owned.as_str()
    } else {
        s
    };
    let body = s.trim_start_matches(['+', '-']);
    let negative = s.starts_with('-');
    let magnitude = if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        f64::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else {
        body.parse::<f64>().unwrap_or(f64::NAN)
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The text `int()` and `float()` parse: surrounding whitespace removed (Unicode White_Space,
/// which unlike `str.strip()` keeps `\x1c`..`\x1f`), Unicode decimal digits as ASCII ones.
/// `None` when a non-ASCII character other than a digit remains (the literal is invalid).
fn number_text(s: &str) -> Option<Cow<'_, str>> {
    let t = s.trim_matches(char::is_whitespace);
    if t.is_ascii() {
        return Some(Cow::Borrowed(t));
    }
    t.chars()
        .map(|c| {
            if c.is_ascii() {
                Some(c)
            } else {
                crate::unicode::decimal_digit(c)
            }
        })
        .collect::<Option<String>>()
        .map(Cow::Owned)
}

/// Python `float(s)` for a str: surrounding whitespace is ignored, `_` is allowed between digits.
/// Returns `None` where Python raises `ValueError`.
pub fn py_float(s: &str) -> Option<f64> {
    let t = number_text(s)?;
    if is_py_float_literal(&t) {
        Some(parse_checked_float(&t))
    } else {
        None
    }
}

/// Python's limit on the digits of an `int()` conversion (`sys.get_int_max_str_digits()`).
const INT_MAX_STR_DIGITS: usize = 4300;

/// Python `int(s)` converted with `float()`: `None` where `int()` raises (past 4300 digits too).
/// The text returned is the literal `int()` read.
fn py_int_as_float(s: &str) -> Option<(f64, Cow<'_, str>)> {
    let t = number_text(s)?;
    if !is_py_int_literal(&t) || t.bytes().filter(u8::is_ascii_digit).count() > INT_MAX_STR_DIGITS {
        return None;
    }
    // an int has no sign of zero: int("-0") is 0
    let v = parse_checked_float(&t) + 0.0;
    Some((v, t))
}

/// Whether Python's `int(s)` reads `s` (base 10, whitespace around, `_` between digits).
pub fn py_int_reads(s: &str) -> bool {
    py_int_as_float(s).is_some()
}

/// The stock `_parse_value`: rejects padding and `_`, then tries `int()`, then `float()`.
/// The error is the stock `ValueError` text.
pub fn parse_sample_value(s: &str) -> Result<Num, String> {
    if py_strip(s).len() != s.len() || s.contains('_') {
        return Err(format!("Invalid value: {}", py_repr(s)));
    }
    if let Some((value, text)) = py_int_as_float(s) {
        return Ok(Num::int(&text, value));
    }
    match py_float(s) {
        Some(value) => Ok(Num::float(value)),
        None => Err(float_error(s)),
    }
}

/// `ValueError` text of a failed `float(s)`.
pub fn float_error(s: &str) -> String {
    format!("could not convert string to float: {}", py_repr(s))
}

/// `str(float(s) or 0)`: the canonical form the stock check gives `le` and `quantile` labels.
pub fn canonical_number(s: &str) -> Result<String, String> {
    match py_float(s) {
        Some(v) => Ok(canonical_float(v)),
        None => Err(float_error(s)),
    }
}

/// `str(x or 0)`: Python's float repr, with every zero written `0`.
pub fn canonical_float(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    py_float_repr(v)
}

/// `repr(float)`: the shortest round-trip digits, in plain notation when 1e-4 <= |x| < 1e16 and
/// in scientific notation (exponent signed, at least two digits) otherwise.
pub fn py_float_repr(v: f64) -> String {
    let mut out = String::new();
    write_py_float_repr(&mut out, v);
    out
}

/// Python's repr picks, of two shortest digit strings equally close to the value (the value's
/// exact decimal expansion ends in a 5 just past them), the one with the even last digit; the
/// standard library's shortest formatting takes the upper one. Such ties need 16 or more digits.
fn half_even_tie(v: f64, digits: &mut String, exp: i32) {
    let n = digits.len();
    let Some(last) = digits.as_bytes().last().copied() else {
        return;
    };
    if n < 16 || (last - b'0').is_multiple_of(2) {
        return;
    }
    let mut lower = digits.clone();
    lower.pop();
    lower.push(char::from(last - 1));
    // the exact expansion (a double's has at most 767 significant digits)
    let exact = format!("{:.800e}", v);
    let exact_digits: String = exact
        .split('e')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| *c != '.')
        .collect();
    let tie = exact_digits.get(..n) == Some(lower.as_str())
        && exact_digits.as_bytes().get(n) == Some(&b'5')
        && exact_digits.bytes().skip(n + 1).all(|b| b == b'0');
    if !tie {
        return;
    }
    let candidate = format!("{}.{}e{}", &lower[..1], &lower[1..], exp);
    if candidate
        .parse::<f64>()
        .is_ok_and(|c| c.to_bits() == v.to_bits())
    {
        *digits = lower;
    }
}

/// Appends `repr(v)` to `out`.
pub fn write_py_float_repr(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("nan");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits as d.ddddde[-]x.
    let sci = format!("{:e}", v);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    half_even_tie(v.abs(), &mut digits, exp);
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..(-point) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_numbers_match_python() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("0.0", "0"),
            ("+0", "0"),
            ("1", "1.0"),
            ("1.0", "1.0"),
            ("2.50", "2.5"),
            ("0.005", "0.005"),
            (".5", "0.5"),
            ("5.", "5.0"),
            ("1e3", "1000.0"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("2.5e-7", "2.5e-07"),
            ("1e15", "1000000000000000.0"),
            ("1e16", "1e+16"),
            ("9999999999999999", "1e+16"),
            ("123456789012345678", "1.2345678901234568e+17"),
            ("5e-324", "5e-324"),
            ("+Inf", "inf"),
            ("inf", "inf"),
            ("Infinity", "inf"),
            ("-Inf", "-inf"),
            ("NaN", "nan"),
            ("1_0", "10.0"),
            (" 1 ", "1.0"),
            ("-1.5e+300", "-1.5e+300"),
            ("0.1", "0.1"),
            ("1e22", "1e+22"),
            ("123.456", "123.456"),
        ];
        for (input, want) in cases {
            assert_eq!(
                canonical_number(input).as_deref(),
                Ok(want),
                "input {input:?}"
            );
        }
        assert_eq!(
            canonical_number("abc"),
            Err("could not convert string to float: 'abc'".to_string())
        );
    }

    #[test]
    fn float_grammar_rejects_what_python_rejects() {
        for bad in [
            "", ".", "e5", "1e", "1__0", "_1", "1_", "0x10", "1.2.3", "in", "+-1", "1e+",
        ] {
            assert_eq!(py_float(bad), None, "{bad:?}");
        }
        for good in ["1_0.5", "-.5", "+5.", "1E5", "iNfInItY", "-nan", "  7\t"] {
            assert!(py_float(good).is_some(), "{good:?}");
        }
    }

    #[test]
    fn sample_values() {
        let v = parse_sample_value("12").unwrap();
        assert!(v.is_int && v.value == 12.0);
        let v = parse_sample_value("1.5").unwrap();
        assert!(!v.is_int && v.value == 1.5);
        assert_eq!(
            parse_sample_value("1_000"),
            Err("Invalid value: '1_000'".to_string())
        );
        assert!(parse_sample_value(&"9".repeat(400)).unwrap().overflow);
        assert!(parse_sample_value("1e400").unwrap().value.is_infinite());
    }

    #[test]
    fn numbers_read_as_python_int_and_float_read_them() {
        // Unicode decimal digits and Unicode whitespace, but not \x1c..\x1f
        assert_eq!(py_float("\u{661}\u{662}"), Some(12.0));
        assert_eq!(py_float("\u{ff11}.\u{ff15}"), Some(1.5));
        assert_eq!(py_float("\u{2028}1\u{a0}"), Some(1.0));
        assert_eq!(py_float("\x1f1"), None);
        assert_eq!(py_float("\u{200b}1"), None);
        assert_eq!(py_float("1\u{e9}"), None);
        // past 4300 digits int() refuses and float() reads it
        let huge = parse_sample_value(&"9".repeat(5000)).unwrap();
        assert!(!huge.is_int && !huge.overflow && huge.value.is_infinite());
        assert!(parse_sample_value(&"9".repeat(4300)).unwrap().overflow);
    }

    #[test]
    fn float_repr_ties_to_even_like_python() {
        // exactly ...176.25 and ...176.75: both neighbours round-trip, Python keeps the even one
        let repr = |s: &str| py_float_repr(s.parse::<f64>().unwrap_or(f64::NAN));
        assert_eq!(repr("1203524251652176.25"), "1203524251652176.2");
        assert_eq!(repr("1203524251652176.75"), "1203524251652176.8");
        assert_eq!(repr("1000000000000000.25"), "1000000000000000.2");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(
            py_float_repr(123456789012345680.0),
            "1.2345678901234568e+17"
        );
    }
}
