"""The Agent-strict aggregator (strict_aggregator.py) refuses what the Agent's builtin refuses, with
the same exception types, and records what the builtin would hand the Agent."""

from pathlib import Path

import pytest
import strict_aggregator
from common import fixture_bytes
from strict_aggregator import StrictAggregator

from datadog_checks.base import AgentCheck
from datadog_checks.nvidia_nim import NvidiaNIMCheck

CHECK = object()
METRIC = (CHECK, 'id', 0, 'm', 1.0, ['a:1'], 'host', False)
SERVICE_CHECK = (CHECK, 'id', 'sc', 0, ['a:1'], 'host', '')
BUCKET = (CHECK, 'id', 'b', 5, 0, 1.0, True, 'host', ['a:1'], False)


def replaced(args: tuple, index: int, value) -> tuple:
    return args[:index] + (value,) + args[index + 1 :]


@pytest.fixture
def strict(aggregator):
    return StrictAggregator(aggregator)


REFUSED = {
    # submit_metric "OsisdOs|b"
    'metric_check_id_none': ('submit_metric', replaced(METRIC, 1, None), TypeError),
    'metric_type_float': ('submit_metric', replaced(METRIC, 2, 0.0), TypeError),
    'metric_type_past_int': ('submit_metric', replaced(METRIC, 2, 2**31), OverflowError),
    'metric_name_none': ('submit_metric', replaced(METRIC, 3, None), TypeError),
    'metric_name_bytes': ('submit_metric', replaced(METRIC, 3, b'm'), TypeError),
    'metric_name_nul': ('submit_metric', replaced(METRIC, 3, 'm\0x'), ValueError),
    'metric_name_surrogate': ('submit_metric', replaced(METRIC, 3, 'm\ud800'), UnicodeEncodeError),
    'metric_value_str': ('submit_metric', replaced(METRIC, 4, '1'), TypeError),
    'metric_value_none': ('submit_metric', replaced(METRIC, 4, None), TypeError),
    'metric_value_past_float': ('submit_metric', replaced(METRIC, 4, 10**400), OverflowError),
    'metric_tags_none': ('submit_metric', replaced(METRIC, 5, None), TypeError),
    'metric_tags_set': ('submit_metric', replaced(METRIC, 5, {'a:1'}), TypeError),
    'metric_hostname_none': ('submit_metric', replaced(METRIC, 6, None), TypeError),
    'metric_flush_float': ('submit_metric', replaced(METRIC, 7, 1.0), TypeError),
    'metric_flush_past_byte': ('submit_metric', replaced(METRIC, 7, 256), OverflowError),
    'metric_too_few': ('submit_metric', METRIC[:6], TypeError),
    'metric_too_many': ('submit_metric', METRIC + (True,), TypeError),
    # submit_service_check "OssiOss"
    'service_check_name_none': ('submit_service_check', replaced(SERVICE_CHECK, 2, None), TypeError),
    'service_check_status_str': ('submit_service_check', replaced(SERVICE_CHECK, 3, '0'), TypeError),
    'service_check_hostname_none': ('submit_service_check', replaced(SERVICE_CHECK, 5, None), TypeError),
    'service_check_message_none': ('submit_service_check', replaced(SERVICE_CHECK, 6, None), TypeError),
    'service_check_no_message': ('submit_service_check', SERVICE_CHECK[:6], TypeError),
    # submit_histogram_bucket "OssLffisO|b"
    'bucket_value_float': ('submit_histogram_bucket', replaced(BUCKET, 3, 5.0), TypeError),
    'bucket_value_2_63': ('submit_histogram_bucket', replaced(BUCKET, 3, 2**63), OverflowError),
    'bucket_value_below_long_long': ('submit_histogram_bucket', replaced(BUCKET, 3, -(2**63) - 1), OverflowError),
    'bucket_value_str': ('submit_histogram_bucket', replaced(BUCKET, 3, '5'), TypeError),
    'bucket_lower_str': ('submit_histogram_bucket', replaced(BUCKET, 4, '0'), TypeError),
    'bucket_upper_none': ('submit_histogram_bucket', replaced(BUCKET, 5, None), TypeError),
    'bucket_monotonic_float': ('submit_histogram_bucket', replaced(BUCKET, 6, 1.0), TypeError),
    'bucket_hostname_none': ('submit_histogram_bucket', replaced(BUCKET, 7, None), TypeError),
    'bucket_name_nul': ('submit_histogram_bucket', replaced(BUCKET, 2, 'b\0'), ValueError),
    'bucket_tags_none': ('submit_histogram_bucket', replaced(BUCKET, 8, None), TypeError),
    # submit_event "OsO"
    'event_not_dict': ('submit_event', (CHECK, 'id', []), TypeError),
    'event_check_id_none': ('submit_event', (CHECK, None, {}), TypeError),
}


@pytest.mark.parametrize('case', sorted(REFUSED))
def test_refused(strict, aggregator, case):
    function, args, error = REFUSED[case]
    with pytest.raises(error):
        getattr(strict, function)(*args)
    assert not aggregator._metrics and not aggregator._service_checks and not aggregator._histogram_buckets


def test_accepted_as_the_builtin_reads_them(strict, aggregator):
    strict.submit_metric(CHECK, 'id', 3, 'm', 7, ('a:1', 5, None, b'b:2', 'c:3\0cut', 'd\ud800'), '', True)
    strict.submit_metric(CHECK, 'id', True, 'g', 1.5, 'xy', 'h')  # flush_first_value is optional
    strict.submit_histogram_bucket(CHECK, 'id', 'b', 2**63 - 1, 0, float('inf'), 1, 'h', [], 1)
    strict.submit_histogram_bucket(CHECK, 'id', 'b', -(2**63), 0.1, 0.2, 0, 'h', ['t'])
    strict.submit_service_check(CHECK, 'id', 'sc', 2, [], 'h', 'down')
    (m,) = aggregator.metrics('m')
    # non-str tags dropped (bytes kept), a tag cut at its NUL, one that is not UTF-8 dropped
    assert (m.type, m.value, m.tags, m.hostname, m.flush_first_value) == (3, 7.0, ['a:1', 'b:2', 'c:3'], '', True)
    assert type(m.value) is float
    (g,) = aggregator.metrics('g')
    assert (g.type, g.tags, g.flush_first_value) == (1, ['x', 'y'], False)
    first, second = aggregator.histogram_bucket('b')
    assert (first.value, first.upper_bound, first.monotonic, first.flush_first_value) == (
        2**63 - 1,
        float('inf'),
        True,
        True,
    )
    # bounds are C floats
    assert (second.lower_bound, second.upper_bound) == (pytest.approx(0.1, rel=1e-7), pytest.approx(0.2, rel=1e-7))
    assert second.lower_bound != 0.1
    aggregator.assert_service_check('sc', status=2, message='down')


def test_agent_7_66_has_no_multi_bucket_builtin(aggregator):
    assert not hasattr(StrictAggregator(aggregator, multi_buckets=False), 'submit_histogram_bucket_multi')
    strict = StrictAggregator(aggregator)
    with pytest.raises(TypeError):
        strict.submit_histogram_bucket_multi(*replaced(BUCKET, 3, 1.0))
    strict.submit_histogram_bucket_multi(*BUCKET)
    assert aggregator.histogram_bucket('b')[0].multiple_buckets


@pytest.fixture
def aggregator_mode():
    """These tests compare the stub alone with the double they put in front of it themselves."""
    return 'stub'


class Submitter(AgentCheck):
    """Submits a gauge and a bucket through the AgentCheck API."""

    def check(self, instance):
        self.gauge('g', 1, tags=instance['tags'])
        self.submit_histogram_bucket('b', instance['count'], 0, 1, True, None, instance['tags'])


@pytest.mark.parametrize(
    'count, tags, error, recorded',
    [
        (2**63 - 1, ['a:1'], None, ['a:1']),
        (2**63, ['a:1'], 'int too big to convert', ['a:1']),
        (2**63 - 1, ['a:1\0cut'], None, ['a:1']),
    ],
)
def test_installed_where_checks_submit(aggregator, monkeypatch, count, tags, error, recorded):
    """`install` puts the double where AgentCheck (and the native check's direct submission) find
    the aggregator; the stub alone takes what the Agent refuses or cuts."""
    check = Submitter('submitter', {}, [{'count': count, 'tags': tags}])
    assert check.run() == ''
    assert aggregator.metrics('g')[0].tags == tags
    aggregator.reset()
    strict_aggregator.install(monkeypatch, aggregator)
    result = check.run()
    assert (error in result) if error else result == ''
    assert aggregator.metrics('g')[0].tags == recorded


def test_direct_submission_goes_through_the_double(aggregator, monkeypatch, payload_server):
    """The native check's metrics skip AgentCheck (the core calls the aggregator's
    `submit_metric` itself): they reach the double all the same."""
    strict = strict_aggregator.install(monkeypatch, aggregator)
    seen = []
    submit = strict.submit_metric
    monkeypatch.setattr(strict, 'submit_metric', lambda *args: (seen.append(args[3]), submit(*args)))
    payload_server.body = fixture_bytes('nim_metrics.txt')
    check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': payload_server.base_url + '/metrics'}])
    assert check.run() == ''
    assert check._aggregator_target() is not None
    recorded = sum(len(aggregator.metrics(name)) for name in aggregator.metric_names)
    assert recorded > 30 and len(seen) == recorded


def test_every_module_of_the_strict_pass_exists():
    # a renamed test file would otherwise lose its strict pass without a word
    from conftest import STRICT_AGGREGATOR_MODULES

    tests = Path(__file__).parent
    assert sorted(m for m in STRICT_AGGREGATOR_MODULES if not (tests / f'{m}.py').is_file()) == []


@pytest.mark.parametrize(
    'options',
    [{'collect_histograms_as_distributions': True}, {'histogram_buckets_as_distributions': True}, {}],
)
def test_agent_7_66_same_as_stock(aggregator, datadog_agent, monkeypatch, options):
    """With an aggregator that has no `submit_histogram_bucket_multi` (Agent 7.66), both checks
    send the same, or fail alike."""
    from test_same_as_stock import RUNS, assert_identical, run_both

    strict_aggregator.install(monkeypatch, aggregator, multi_buckets=False)
    body = fixture_bytes('nim_metrics.txt')
    results = run_both(aggregator, datadog_agent, [body] * RUNS, 'text/plain', options)
    assert_identical(results)
    stock_snap, stock_error = results[-1][:2]
    assert stock_error or stock_snap['metrics'], 'the stock check sent something or failed'
