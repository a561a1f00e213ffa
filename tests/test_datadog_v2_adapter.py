"""The adapter that runs datadog-checks-base's own OpenMetrics V2 tests against this check
(scripts/datadog-v2-suite): its generic V2 check sends what the stock class sends, and its
comparison of the two runs' outcomes."""

import copy

import pytest
from common import PROM_CONTENT_TYPE, snapshot
from datadog_v2_adapter import compare, make_v2_check

from datadog_checks.base import OpenMetricsBaseCheckV2

BODY = b'# TYPE g gauge\ng{a="1",version="3"} 2\n# TYPE c counter\nc_total 5\n'


@pytest.mark.parametrize(
    'class_namespace, options',
    [
        ('test', {'metrics': ['.+']}),
        ('', {'metrics': ['.+'], 'namespace': 'foo'}),
        ('', {'metrics': [{'g': 'renamed'}]}),
    ],
    ids=['class-namespace', 'instance-namespace', 'no-namespace'],
)
def test_generic_check_sends_what_the_stock_class_sends(
    aggregator, datadog_agent, payload_server, monkeypatch, class_namespace, options
):
    monkeypatch.setenv('DDEV_SKIP_GENERIC_TAGS_CHECK', '1')
    payload_server.body, payload_server.content_type = BODY, PROM_CONTENT_TYPE
    instance = {'openmetrics_endpoint': payload_server.base_url + '/metrics', **options}
    snaps = []
    for cls in (OpenMetricsBaseCheckV2, make_v2_check()):
        aggregator.reset()
        check = cls('test', {}, [copy.deepcopy(instance)])
        check.__NAMESPACE__ = class_namespace
        assert check.run() == ''
        snaps.append(snapshot(aggregator, datadog_agent))
    stock, ours = snaps
    assert ours['metrics'] == stock['metrics'] and stock['metrics']
    assert ours['service_checks'] == stock['service_checks']


def test_comparison():
    stock = {'a': ['passed', ''], 'b': ['failed', 'boom'], 'c': ['failed', 'boom'], 'd': ['passed', '']}
    stock['e'] = ['skipped', '']
    native = {'a': ['passed', ''], 'b': ['failed', 'boom'], 'c': ['failed', 'other'], 'd': ['failed', 'x']}
    native['e'] = ['skipped', '']
    counts, regressions = compare(stock, native)
    assert counts == {'passed': 1, 'not applicable': 1, 'failing on stock too': 1}
    assert regressions == ['c: other', 'd: x']


def test_comparison_needs_the_same_tests_on_both_sides():
    stock = {'a': ['passed', ''], 'b': ['passed', '']}
    counts, regressions = compare(stock, {'a': ['passed', ''], 'z': ['passed', '']})
    assert counts['passed'] == 2
    assert regressions == ['b: not run against this check', 'z: not run against the stock check']
    assert compare({}, {}) == ({'passed': 0, 'not applicable': 0, 'failing on stock too': 0}, ['no test ran'])


def test_failure_messages_compare_whole_but_in_any_line_order():
    from types import SimpleNamespace

    from datadog_v2_adapter import failure_message

    def report(message):
        return SimpleNamespace(longrepr=SimpleNamespace(reprcrash=SimpleNamespace(message=message)))

    first = report('AssertionError: Needed 1, got 0\nExpected x: 1\nExpected y: 2 at 0x7f00')
    second = report('AssertionError: Needed 1, got 0\nExpected y: 2 at 0x7f99\nExpected x: 1')
    assert failure_message(first) == failure_message(second)
    assert failure_message(first) != failure_message(report('AssertionError: Needed 1, got 2\nExpected x: 1'))
