"""Property tests of the core's canonical number strings (the `upper_bound` and `quantile` tag
values) against the stock rule, `str(float(s) or 0)`, over random and edge inputs."""

import math
import random
import struct
from decimal import Decimal

import pytest

from datadog_checks.base.checks.openmetrics.v2.labels import canonicalize_numeric_label
from datadog_checks.nvidia_nim import _core

SEED = 20261129


def stock(s: str):
    try:
        return str(canonicalize_numeric_label(s))
    except ValueError as e:
        return ('error', str(e))


def ours(s: str):
    try:
        return _core.canonical_number(s)
    except ValueError as e:
        return ('error', str(e))


def is_repr_tie(expected, got) -> bool:
    """Whether `got` differs from Python's repr only by resolving an exact tie the other way: two
    shortest strings of the same double, equally far from its exact value (Python picks the even
    digit; see test_shortest_repr_ties)."""
    if not isinstance(expected, str) or not isinstance(got, str) or expected == got:
        return False
    try:
        x = float(expected)
        if float(got) != x or len(got) != len(expected):
            return False
        return Decimal(x) * 2 == Decimal(expected) + Decimal(got)
    except ValueError:
        return False


def same(s: str, ties: list) -> bool:
    """ours(s) is stock(s), or (recorded in `ties`) the known tie difference."""
    expected, got = stock(s), ours(s)
    if is_repr_tie(expected, got):
        ties.append(s)
        return True
    return got == expected


def random_float(rnd: random.Random) -> float:
    """Any double: every exponent, subnormals, zeros, infinities and NaNs included."""
    return struct.unpack('<d', struct.pack('<Q', rnd.getrandbits(64)))[0]


def spellings(rnd: random.Random, x: float) -> list[str]:
    """Ways an exposition can write x."""
    r = repr(x)
    out = [r, str(x), f'{x:.17g}', f'{x:e}', f'{x:.3e}', f'{x:E}', f'{x:g}', r.upper()]
    if math.isfinite(x):
        out += [f'{x:.6f}', f'{x:.0f}' if abs(x) < 1e30 else r, '+' + r if x >= 0 else r]
        mantissa, _, exponent = f'{x:.17e}'.partition('e')
        out.append(f'{mantissa}0000e{exponent}')
        out.append(f'  {r}\t')
        if 'e' not in r and '.' in r:
            whole, frac = r.split('.')
            out.append(f'{whole}.{frac}{rnd.randint(0, 9)}')  # one digit past the shortest repr
            if len(whole) > 1 and whole.lstrip('-').isdigit():
                out.append(f'{whole[0]}_{whole[1:]}.{frac}')
    return out


def test_random_doubles():
    rnd = random.Random(SEED)
    checked, ties = 0, []
    for _ in range(20_000):
        for s in spellings(rnd, random_float(rnd)):
            assert same(s, ties), s
            checked += 1
    assert checked > 150_000


def test_random_doubles_near_the_notation_switches():
    # repr switches to scientific notation below 1e-4 and from 1e16: values around both edges,
    # and around the subnormal and overflow ends
    rnd = random.Random(SEED + 1)
    ties = []
    for base in (1e-4, 1e16, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0, 0.1, 1e15, 1e22):
        x = base
        for _ in range(200):
            for s in (repr(x), repr(-x), f'{x:.20g}', f'{x:.25e}'):
                assert same(s, ties), s
            x = math.nextafter(x, math.inf if rnd.random() < 0.5 else 0.0)


def test_decimal_strings_with_many_digits():
    # correct rounding of long mantissas and of far exponents (float() rounds exactly)
    rnd = random.Random(SEED + 2)
    ties = []
    for _ in range(5_000):
        digits = ''.join(rnd.choice('0123456789') for _ in range(rnd.randint(1, 60)))
        point = rnd.randint(0, len(digits))
        s = f'{digits[:point]}.{digits[point:]}e{rnd.randint(-340, 320)}'
        assert same(s, ties), s
        assert same(digits, ties), digits


def test_random_strings():
    # anything over the characters numbers are made of: both give the same string or the same error
    rnd = random.Random(SEED + 3)
    alphabet = '0123456789' * 3 + '..eE+-_ \tinfINFnaNtyx'
    outcomes = {'value': 0, 'error': 0}
    for _ in range(30_000):
        s = ''.join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        expected = stock(s)
        assert ours(s) == expected, s
        outcomes['error' if isinstance(expected, tuple) else 'value'] += 1
    assert min(outcomes.values()) > 3_000


EDGES = [
    '0',
    '-0',
    '+0',
    '0.0',
    '-0.0',
    '0e10',
    '1',
    '1.0',
    '2.50',
    '0.005',
    '.5',
    '5.',
    '1e3',
    '1E3',
    '1e+3',
    '1e-3',
    '0.0001',
    '0.00001',
    '2.5e-7',
    '1e15',
    '1e16',
    '9999999999999999',
    '123456789012345678',
    '5e-324',
    '4e-324',
    '2e-324',
    '1e-400',
    '1e400',
    '-1e400',
    '1.7976931348623157e308',
    '1.7976931348623159e308',
    '+Inf',
    '-Inf',
    'inf',
    'Infinity',
    '-infinity',
    'INF',
    'NaN',
    'nan',
    '-nan',
    '+NaN',
    '1_0',
    '1_000.000_1',
    '1e1_0',
    ' 1 ',
    '\t1\n',
    '1__0',
    '_1',
    '1_',
    '1._5',
    '0x10',
    '0b1',
    '0o7',
    '1e',
    'e1',
    '.',
    '',
    ' ',
    '+',
    '-',
    '--1',
    '+-1',
    '1.2.3',
    'infinit',
    'nana',
    '1 2',
    '1,5',
    '1' + '0' * 400,
    '9' * 5000,
    '0.' + '0' * 400 + '1',
    '1' * 800 + 'e-800',
]


@pytest.mark.parametrize('s', EDGES)
def test_edges(s):
    assert ours(s) == stock(s)


# int() and float() read any Unicode decimal digit
@pytest.mark.parametrize('s', ['١٢٣', '１.５', '१e2', '٠'])
def test_unicode_digits(s):
    assert ours(s) == stock(s)


# str.strip() removes \x1c-\x1f, float() does not
@pytest.mark.parametrize('s', ['\x1c1', '1\x1d', '\x1e1', '\x1f1'])
def test_information_separators(s):
    assert ours(s) == stock(s)


# repr() escapes what str.isprintable() refuses
@pytest.mark.parametrize('s', ['\u0378', '1\U0003ffff'])
def test_error_text_for_unprintable_characters(s):
    assert ours(s) == stock(s)


# an exact tie between two shortest strings: repr() keeps the even one
@pytest.mark.parametrize(
    's', ['1203524251652176.2', '1000000000000000.2', '1000000000000000.25', '1000000000000002.25']
)
def test_shortest_repr_ties(s):
    # 1203524251652176.2 is the double 1203524251652176.25: .2 and .3 both read back as it
    assert ours(s) == stock(s)
