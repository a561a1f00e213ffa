"""Histogram bucket counts past the float range of exact integers, against the stock check.

An integer sample value stays a Python `int` in the stock check: its decumulated bucket counts are
exact integer differences, handed to `submit_histogram_bucket` as `int`s in distribution mode and
through `float()` in the non-cumulative mode. Tables of counts around 2^53, 2^62 and 2^63 (and past
C `long long`, where the Agent's builtin refuses them for both checks) go through both checks, in
every decumulating mode and with both aggregators (conftest: the stub, and the Agent-strict one)."""

import pytest
from common import OM_CONTENT_TYPE, PROM_CONTENT_TYPE
from test_same_as_stock import RUNS, run_both

P53, P62, P63 = 2**53, 2**62, 2**63
# counts a bucket of its own is decumulated to: every one within C long long
IN_RANGE = [
    0,
    1,
    P53 - 1,
    P53,
    P53 + 1,
    P53 + 2,
    P53 + 3,
    P53 + 5,
    3 * P53 + 1,
    P62 + 7,
    P62 + 1,
    P63 - 512,
    P63 - 511,
    P63 - 101,
    P63 - 2,
    P63 - 1,
    -1,
    -(P53 + 1),
    -(P63 - 101),
    -P63,
]
# counts past C long long: the Agent refuses them (`OverflowError`) in distribution mode
BEYOND = [P63, P63 + 1, -P63 - 1, 2**64 + 5, 10**30 + 1, 3 * 10**300 + 7]
MODES = {
    'distributions': {'histogram_buckets_as_distributions': True},
    'distributions_counters': {'histogram_buckets_as_distributions': True, 'collect_counters_with_distributions': True},
    'histograms_as_distributions': {'collect_histograms_as_distributions': True},
    'non_cumulative': {'non_cumulative_histogram_buckets': True},
}
MAP = {'extra_metrics': [{'h': {'type': 'native'}}]}


def family(counts: list[int | str], openmetrics: bool = False) -> bytes:
    """One histogram context per count: its first bucket holds the count, the second twice the
    count (decumulated to the count again, the difference of two cumulative values past it), the
    `+Inf` bucket one more (decumulated to 1)."""
    lines = ['# TYPE h histogram']
    for i, count in enumerate(counts):
        text = str(count)
        if isinstance(count, int):
            second, third = 2 * count, 2 * count + 1
        else:  # a float text: the stock parser reads it as a float
            second = third = text
        lines += [
            f'h_bucket{{c="{i}",le="1.0"}} {text}',
            f'h_bucket{{c="{i}",le="2.0"}} {second}',
            f'h_bucket{{c="{i}",le="+Inf"}} {third}',
            f'h_count{{c="{i}"}} {third}',
            f'h_sum{{c="{i}"}} {second}',
        ]
    if openmetrics:
        lines.append('# EOF')
    return ('\n'.join(lines) + '\n').encode()


def exact(snap) -> list:
    """The records with every value's type and repr (the stub's records compare 5 == 5.0)."""
    buckets = [tuple(b) + (type(b.value).__name__, repr(b.value)) for b in snap['buckets']]
    metrics = [
        (name, tuple(m), type(m.value).__name__, repr(m.value))
        for name in sorted(snap['metrics'])
        for m in snap['metrics'][name]
    ]
    return buckets + metrics


def compare(aggregator, datadog_agent, body, content_type, options):
    results = run_both(aggregator, datadog_agent, [body] * RUNS, content_type, {**MAP, **options})
    for stock_snap, stock_error, our_snap, our_error in results:
        assert our_error == stock_error
        assert exact(our_snap) == exact(stock_snap)
    return results


@pytest.mark.parametrize('mode', sorted(MODES))
def test_counts_within_long_long(aggregator, datadog_agent, mode):
    results = compare(aggregator, datadog_agent, family(IN_RANGE), PROM_CONTENT_TYPE, MODES[mode])
    stock_snap, stock_error = results[-1][0], results[-1][1]
    assert stock_error is None
    if 'non_cumulative' in mode:
        values = [m.value for m in stock_snap['metrics']['nvidia_nim.h.bucket']]
        assert float(P63 - 101) in values
    else:
        values = {b.value for b in stock_snap['buckets']}
        # the counts the issue names, exact (a float carries none of them)
        assert {P53 + 1, P62 + 7, P63 - 101, P63 - 1, -P63} <= values
        assert all(type(b.value) is int for b in stock_snap['buckets'])


@pytest.mark.parametrize('count', BEYOND, ids=str)
@pytest.mark.parametrize('mode', ['distributions', 'non_cumulative'])
def test_counts_past_long_long(aggregator, datadog_agent, aggregator_mode, mode, count):
    results = compare(aggregator, datadog_agent, family([count]), PROM_CONTENT_TYPE, MODES[mode])
    stock_error = results[0][1]
    if mode == 'distributions' and aggregator_mode == 'strict':
        assert stock_error is not None and 'int too big to convert' in stock_error
    else:
        assert stock_error is None


FLOATS = ['9007199254740993.0', '1.5', '9.223372036854776e18', '1e30', '-2.5']


@pytest.mark.parametrize('mode', sorted(MODES))
def test_float_counts(aggregator, datadog_agent, aggregator_mode, mode):
    """Float samples stay floats: `int()` truncates them in `submit_histogram_bucket`, so 2^63
    (as a float) and 1e30 are past C long long there for both checks."""
    for text in FLOATS:
        results = compare(aggregator, datadog_agent, family([text]), PROM_CONTENT_TYPE, MODES[mode])
        refused = aggregator_mode == 'strict' and 'distributions' in mode and text in ('9.223372036854776e18', '1e30')
        assert (results[0][1] is not None) == refused, text


def test_int_and_float_buckets_mixed(aggregator, datadog_agent):
    """An int bucket after a float one is decumulated in floats, as Python subtracts them."""
    body = (
        b'# TYPE h histogram\nh_bucket{le="1.0"} 9007199254740993.0\n'
        b'h_bucket{le="2.0"} 9007199254740999\nh_bucket{le="+Inf"} 18014398509481985\n'
        b'h_count 1\nh_sum 1\n'
    )
    for mode in MODES.values():
        compare(aggregator, datadog_agent, body, PROM_CONTENT_TYPE, mode)


@pytest.mark.parametrize('mode', sorted(MODES))
def test_openmetrics_counts(aggregator, datadog_agent, mode):
    compare(aggregator, datadog_agent, family(IN_RANGE[:12], openmetrics=True), OM_CONTENT_TYPE, MODES[mode])


OPENMETRICS_CHECKS = {
    'count_differs_past_2_53': ('9007199254740993', '9007199254740993', '9007199254740992'),
    'count_equal_past_2_53': ('9007199254740993', '9007199254740993', '9007199254740993'),
    'count_a_float': ('9007199254740993', '9007199254740993', '9007199254740992.0'),
    'bucket_values_decrease_past_2_53': ('9007199254740993', '9007199254740992', '9007199254740992'),
    'bucket_values_past_2_63': (str(P63 + 1), str(2 * P63), str(2 * P63)),
}


@pytest.mark.parametrize('case', sorted(OPENMETRICS_CHECKS))
def test_openmetrics_histogram_checks_compare_exactly(aggregator, datadog_agent, case):
    """The OpenMetrics parser compares a histogram's bucket values and `_count` as Python does:
    exactly, an int with a float too."""
    first, last, count = OPENMETRICS_CHECKS[case]
    body = (
        f'# TYPE h histogram\nh_bucket{{le="1.0"}} {first}\nh_bucket{{le="+Inf"}} {last}\n'
        f'h_count {count}\nh_sum 1\n# EOF\n'
    ).encode()
    results = compare(aggregator, datadog_agent, body, OM_CONTENT_TYPE, {})
    stock_error = results[0][1]
    assert (stock_error is None) == (case in ('count_equal_past_2_53', 'bucket_values_past_2_63'))


@pytest.mark.parametrize(
    'value',
    ['9007199254740993', '9007199254740992', '9007199254740993.0', '-5', '2.9', '18446744073709551617', '9.21e18'],
)
def test_service_check_values_are_python_ints(aggregator, datadog_agent, value):
    """A `service_check` transformer looks `int(value)` up in its `status_map`: exactly, keys and
    values past the 64-bit range and floats past 2^63 included."""
    status_map = {
        '9007199254740993': 'ok',
        '9007199254740992': 'critical',
        '-5': 'warning',
        '2': 'ok',
        '18446744073709551617': 'critical',
        '9210000000000000000': 'warning',
    }
    options = {'metrics': [{'s': {'type': 'service_check', 'status_map': status_map}}]}
    body = f'# TYPE s gauge\ns {value}\n'.encode()
    results = run_both(aggregator, datadog_agent, [body] * RUNS, PROM_CONTENT_TYPE, options)
    for stock_snap, stock_error, our_snap, our_error in results:
        assert our_error == stock_error is None
        assert our_snap['service_checks'] == stock_snap['service_checks']
        assert stock_snap['service_checks']['nvidia_nim.s']


OVERFLOWING = {
    # two ints whose difference is past the float range: `float()` of it raises in the
    # non-cumulative mode (the buckets before it are sent)
    'int_difference': ('-' + '1' + '0' * 308, '1' + '0' * 308),
    # two floats whose difference is infinite: `int()` of it raises in distribution mode
    'float_difference': ('-1.7e308', '1.7e308'),
}


@pytest.mark.parametrize('case', sorted(OVERFLOWING))
@pytest.mark.parametrize('mode', sorted(MODES))
def test_differences_past_the_float_range(aggregator, datadog_agent, aggregator_mode, mode, case):
    low, high = OVERFLOWING[case]
    body = (
        f'# TYPE h histogram\nh_bucket{{le="0.5"}} 1\nh_bucket{{le="1.0"}} {low}\n'
        f'h_bucket{{le="2.0"}} {high}\nh_bucket{{le="+Inf"}} {high}\nh_count 1\nh_sum 1\n'
    ).encode()
    results = compare(aggregator, datadog_agent, body, PROM_CONTENT_TYPE, MODES[mode])
    distributions = mode != 'non_cumulative'
    if case == 'int_difference':
        # an exact int in distribution mode: past C long long for the Agent only
        expected = not distributions or aggregator_mode == 'strict'
    else:
        expected = distributions
    assert any(error is not None for _, error, _, _ in results) == expected
