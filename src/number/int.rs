//! Python `int` arithmetic for the sample values a float cannot hold exactly: an integer sample
//! value stays a Python `int` in the stock check, so a histogram's decumulated bucket counts are
//! exact differences of unbounded integers. Only what decumulation needs: reading, comparing,
//! subtracting, and converting to `float` (correctly rounded) or to decimal text.

use std::cmp::Ordering;

/// An integer, exact and unbounded: a sign and a magnitude in base 2^32, least significant limb
/// first, without high zero limbs (zero is the empty magnitude, never negative).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    limbs: Vec<u32>,
}

/// Integers whose magnitude is at most this are exact as floats; past it a value read as an
/// `int` keeps its exact form too.
pub const FLOAT_EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

impl BigInt {
    fn normalized(negative: bool, mut limbs: Vec<u32>) -> Self {
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        let negative = negative && !limbs.is_empty();
        BigInt { negative, limbs }
    }

    /// Reads `[+-]digits` (ASCII digits, `_` ignored: the caller checked Python's int grammar).
    pub fn from_decimal(text: &str) -> Option<Self> {
        let negative = text.starts_with('-');
        let digits = text.trim_start_matches(['+', '-']);
        let mut limbs: Vec<u32> = Vec::new();
        let mut seen = false;
        for b in digits.bytes() {
            if b == b'_' {
                continue;
            }
            if !b.is_ascii_digit() {
                return None;
            }
            seen = true;
            mul_add(&mut limbs, 10, u32::from(b - b'0'));
        }
        seen.then(|| Self::normalized(negative, limbs))
    }

    /// The exact integer value of an integral float (`int(x)` for a float with no fraction).
    pub fn from_integral_f64(v: f64) -> Option<Self> {
        if !v.is_finite() || v.fract() != 0.0 {
            return None;
        }
        let bits = v.abs().to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i64;
        if exponent == 0 {
            return Some(BigInt::default()); // zero (an integral subnormal is zero)
        }
        let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
        let shift = exponent - 1075; // value = mantissa * 2^shift
        let mut limbs = vec![mantissa as u32, (mantissa >> 32) as u32];
        if shift >= 0 {
            limbs = shl(&limbs, shift as u32);
        } else {
            // an integral float below 2^53: the shift drops only zero bits
            let m = mantissa >> (-shift).min(63) as u32;
            limbs = vec![m as u32, (m >> 32) as u32];
        }
        Some(Self::normalized(v < 0.0, limbs))
    }

    pub fn from_i64(v: i64) -> Self {
        let m = v.unsigned_abs();
        Self::normalized(v < 0, vec![m as u32, (m >> 32) as u32])
    }

    /// The value when it fits an `i64` (C `long long`).
    pub fn to_i64(&self) -> Option<i64> {
        if self.limbs.len() > 2 {
            return None;
        }
        let m = self
            .limbs
            .iter()
            .rev()
            .fold(0u64, |acc, &l| (acc << 32) | u64::from(l));
        if self.negative {
            0i64.checked_sub_unsigned(m)
        } else {
            i64::try_from(m).ok()
        }
    }

    /// `str(n)`.
    pub fn to_decimal(&self) -> String {
        if self.limbs.is_empty() {
            return "0".to_string();
        }
        let mut rest = self.limbs.clone();
        let mut chunks: Vec<u32> = Vec::new();
        while !rest.is_empty() {
            chunks.push(div_small(&mut rest, 1_000_000_000));
        }
        let mut out = String::with_capacity(chunks.len() * 9 + 1);
        if self.negative {
            out.push('-');
        }
        let mut iter = chunks.iter().rev();
        if let Some(first) = iter.next() {
            out.push_str(&first.to_string());
        }
        for chunk in iter {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }

    /// `float(n)`: correctly rounded (half to even); infinite where Python raises
    /// `OverflowError` (past the largest float).
    pub fn to_f64(&self) -> f64 {
        // the standard library's decimal reading is correctly rounded
        self.to_decimal().parse::<f64>().unwrap_or(f64::NAN)
    }

    /// `self - other`.
    pub fn sub(&self, other: &BigInt) -> BigInt {
        let flipped = BigInt {
            negative: !other.negative && !other.limbs.is_empty(),
            limbs: other.limbs.clone(),
        };
        self.add(&flipped)
    }

    fn add(&self, other: &BigInt) -> BigInt {
        if self.negative == other.negative {
            return Self::normalized(self.negative, add_magnitudes(&self.limbs, &other.limbs));
        }
        match cmp_magnitudes(&self.limbs, &other.limbs) {
            Ordering::Equal => BigInt::default(),
            Ordering::Greater => {
                Self::normalized(self.negative, sub_magnitudes(&self.limbs, &other.limbs))
            }
            Ordering::Less => {
                Self::normalized(other.negative, sub_magnitudes(&other.limbs, &self.limbs))
            }
        }
    }
}

impl Ord for BigInt {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_magnitudes(&self.limbs, &other.limbs),
            (true, true) => cmp_magnitudes(&other.limbs, &self.limbs),
        }
    }
}

impl PartialOrd for BigInt {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `limbs = limbs * factor + add`.
fn mul_add(limbs: &mut Vec<u32>, factor: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in limbs.iter_mut() {
        let v = u64::from(*limb) * u64::from(factor) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        limbs.push(carry as u32);
    }
}

/// `limbs /= divisor` (normalized afterwards); returns the remainder.
fn div_small(limbs: &mut Vec<u32>, divisor: u32) -> u32 {
    let mut rem = 0u64;
    for limb in limbs.iter_mut().rev() {
        let v = (rem << 32) | u64::from(*limb);
        *limb = (v / u64::from(divisor)) as u32;
        rem = v % u64::from(divisor);
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    rem as u32
}

fn shl(limbs: &[u32], shift: u32) -> Vec<u32> {
    let words = (shift / 32) as usize;
    let bits = shift % 32;
    let mut out = vec![0u32; words];
    let mut carry = 0u32;
    for &l in limbs {
        if bits == 0 {
            out.push(l);
        } else {
            out.push((l << bits) | carry);
            carry = l >> (32 - bits);
        }
    }
    if carry != 0 {
        out.push(carry);
    }
    out
}

fn cmp_magnitudes(a: &[u32], b: &[u32]) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

fn add_magnitudes(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u64;
    for i in 0..a.len().max(b.len()) {
        let v = u64::from(a.get(i).copied().unwrap_or(0))
            + u64::from(b.get(i).copied().unwrap_or(0))
            + carry;
        out.push(v as u32);
        carry = v >> 32;
    }
    if carry != 0 {
        out.push(carry as u32);
    }
    out
}

/// `a - b` for `a >= b`.
fn sub_magnitudes(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i64;
    for (i, &limb) in a.iter().enumerate() {
        let mut v = i64::from(limb) - i64::from(b.get(i).copied().unwrap_or(0)) - borrow;
        borrow = 0;
        if v < 0 {
            v += 1 << 32;
            borrow = 1;
        }
        out.push(v as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(s: &str) -> BigInt {
        BigInt::from_decimal(s).unwrap_or_default()
    }

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "9007199254740993",
            "-9223372036854775808",
            "18446744073709551617",
            &"9".repeat(309),
        ] {
            assert_eq!(big(s).to_decimal(), s);
        }
        assert_eq!(big("-0").to_decimal(), "0");
        assert_eq!(big("+0_01").to_decimal(), "1");
        assert_eq!(BigInt::from_decimal("1x"), None);
    }

    #[test]
    fn subtraction_and_order() {
        let cases = [
            ("9007199254740995", "9007199254740993", "2"),
            ("1", "18446744073709551616", "-18446744073709551615"),
            ("-5", "-7", "2"),
            ("-5", "7", "-12"),
            ("4294967296", "1", "4294967295"),
        ];
        for (a, b, d) in cases {
            assert_eq!(big(a).sub(&big(b)).to_decimal(), d, "{a} - {b}");
        }
        assert!(big("-3") < big("2"));
        assert!(big("-3") < big("-2"));
        assert!(big("18446744073709551616") > big("18446744073709551615"));
    }

    #[test]
    fn arithmetic_agrees_with_i128() {
        // fixed pseudo-random values of 0 to 100 bits, both signs
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut step = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut next = || {
            let (hi, lo, pick) = (step(), step(), step());
            let bits = (pick % 101) as u32;
            let wide = (u128::from(hi) << 64) | u128::from(lo);
            let magnitude = wide.checked_shr(128 - bits).unwrap_or(0) as i128;
            if pick & 1 == 0 {
                magnitude
            } else {
                -magnitude
            }
        };
        for _ in 0..2000 {
            let (a, b) = (next(), next());
            let (x, y) = (big(&a.to_string()), big(&b.to_string()));
            assert_eq!(x.sub(&y).to_decimal(), (a - b).to_string(), "{a} - {b}");
            assert_eq!(x.cmp(&y), a.cmp(&b), "{a} <=> {b}");
            assert_eq!(x.to_f64(), a as f64, "float({a})");
            assert_eq!(x.to_i64(), i64::try_from(a).ok(), "{a} as i64");
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(big("9223372036854775807").to_i64(), Some(i64::MAX));
        assert_eq!(big("-9223372036854775808").to_i64(), Some(i64::MIN));
        assert_eq!(big("9223372036854775808").to_i64(), None);
        assert_eq!(
            BigInt::from_i64(i64::MIN).to_decimal(),
            "-9223372036854775808"
        );
        // half to even: 2^53 + 1 rounds down, 2^53 + 3 up
        assert_eq!(big("9007199254740993").to_f64(), 9007199254740992.0);
        assert_eq!(big("9007199254740995").to_f64(), 9007199254740996.0);
        assert!(big(&format!("2{}", "0".repeat(308))).to_f64().is_infinite());
        for v in [
            0.0,
            -1.0,
            2f64.powi(63),
            -2f64.powi(100),
            1e308,
            4503599627370497.0,
        ] {
            let n = BigInt::from_integral_f64(v).unwrap_or_default();
            assert_eq!(n.to_decimal(), format!("{v:.0}"));
        }
        assert_eq!(BigInt::from_integral_f64(0.5), None);
    }
}
