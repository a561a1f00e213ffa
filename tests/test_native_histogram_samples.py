"""OpenMetrics native-histogram sample lines (`h {count:...,sum:...}` in a histogram family).

A malformed one fails both checks with the stock parser's error (test_same_as_stock.py,
`native_histogram_*` corner cases). A well-formed one is a known gap, pinned here: the stock
parser reads it as a sample without a value, and the stock check then fails the scrape with
`must be real number, not NoneType` when the family is collected (and ignores it otherwise); this
check fails the scrape with `Native histogram samples are not supported: <line>` either way."""

import pytest
from common import OM_CONTENT_TYPE
from test_same_as_stock import CATCH_ALL, RUNS, assert_identical, run_both

WELL_FORMED = (
    b'# TYPE g gauge\ng 1\n# TYPE h histogram\nh{a="1"} {count:2,sum:1,schema:0,zero_threshold:0,zero_count:0}\n# EOF\n'
)


@pytest.mark.xfail(strict=True, reason='known gap: a well-formed native-histogram sample')
@pytest.mark.parametrize('options', [CATCH_ALL, {}], ids=['collected', 'not-collected'])
def test_well_formed_native_histogram_sample(aggregator, datadog_agent, options):
    assert_identical(run_both(aggregator, datadog_agent, [WELL_FORMED] * RUNS, OM_CONTENT_TYPE, options))


def test_well_formed_native_histogram_sample_errors(aggregator, datadog_agent):
    """What each check does with it today (the gap above)."""
    results = run_both(aggregator, datadog_agent, [WELL_FORMED], OM_CONTENT_TYPE, CATCH_ALL)
    _, stock_error, _, our_error = results[0]
    assert 'must be real number, not NoneType' in stock_error
    assert our_error.startswith('Native histogram samples are not supported: h{a="1"} {count:2')
