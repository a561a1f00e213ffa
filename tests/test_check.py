"""The check on the real NIM fixture and on the live emulator, over real HTTP on loopback."""

import pytest
from common import OM_CONTENT_TYPE, PROM_CONTENT_TYPE, fixture_bytes, map_metadata, run_error

from datadog_checks.base import AgentCheck
from datadog_checks.dev.utils import get_metadata_metrics
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.metrics import METRIC_MAP
from datadog_checks.nvidia_nim.version import version_url

METADATA = get_metadata_metrics()


# What a NIM 1.x sends: the rows of the stock map (the others document the NIM 2.x engine families
# and the opt-in latency percentiles, covered by test_nim2.py and test_percentiles.py).
NIM1_METADATA = map_metadata(METADATA, METRIC_MAP)


def make_check(endpoint, **options):
    instance = {'openmetrics_endpoint': endpoint, 'tags': ['test:test'], **options}
    return NvidiaNIMCheck('nvidia_nim', {}, [instance])


def assert_documented_metrics(aggregator, endpoint):
    for name in NIM1_METADATA:
        aggregator.assert_metric(name)
        aggregator.assert_metric_has_tag(name, 'test:test')
        aggregator.assert_metric_has_tag(name, f'endpoint:{endpoint}')
    aggregator.assert_all_metrics_covered()
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)
    aggregator.assert_no_duplicate_all()


def test_metadata_csv_lists_the_34_nim1_metrics():
    assert len(NIM1_METADATA) == 34


@pytest.mark.parametrize('path', ['/metrics', '/v1/metrics'])
def test_fixture_emits_the_documented_metrics(aggregator, datadog_agent, dd_run_check, payload_server, path):
    payload_server.body = fixture_bytes('nim_metrics.txt')
    endpoint = payload_server.base_url + path
    check = make_check(endpoint)
    dd_run_check(check)
    assert_documented_metrics(aggregator, endpoint)
    aggregator.assert_service_check(
        'nvidia_nim.openmetrics.health', AgentCheck.OK, tags=['test:test', f'endpoint:{endpoint}'], count=1
    )
    datadog_agent.assert_metadata(
        '',
        {
            'version.scheme': 'semver',
            'version.major': '1',
            'version.minor': '0',
            'version.patch': '0',
            'version.raw': '1.0.0',
        },
    )
    assert ('/v1/version',) == tuple(p for p, _ in payload_server.requests if p.endswith('version'))


def test_fixture_values_and_tags(aggregator, dd_run_check, payload_server):
    payload_server.body = fixture_bytes('nim_metrics.txt')
    endpoint = payload_server.base_url + '/metrics'
    dd_run_check(make_check(endpoint))
    model = 'model_name:meta/llama-3.1-8b-instruct'
    base = ['test:test', f'endpoint:{endpoint}']
    aggregator.assert_metric('nvidia_nim.num_request.max', 64.0, tags=[model] + base, metric_type=aggregator.GAUGE)
    aggregator.assert_metric(
        'nvidia_nim.request.finish.count',
        5.0,
        tags=[model, 'finished_reason:length'] + base,
        metric_type=aggregator.MONOTONIC_COUNT,
        flush_first_value=False,
    )
    aggregator.assert_metric(
        'nvidia_nim.time_to_first_token.seconds.bucket', 2.0, tags=[model, 'upper_bound:0.02'] + base
    )
    aggregator.assert_metric(
        'nvidia_nim.python.info',
        1.0,
        tags=['implementation:CPython', 'major:3', 'minor:10', 'patchlevel:12', 'python_version:3.10.12'] + base,
    )
    # the +Inf bucket is the same context as `.count` and is not sent
    for m in aggregator.metrics('nvidia_nim.time_to_first_token.seconds.bucket'):
        assert not any(t.startswith('upper_bound:inf') for t in m.tags)
    assert len(aggregator.metrics('nvidia_nim.time_to_first_token.seconds.bucket')) == 16
    # time_elapsed: seconds since the fixture's process start
    (start,) = aggregator.metrics('nvidia_nim.process.start_time_seconds')
    assert start.value > 1e7


def test_flush_first_value_run_over_run(aggregator, dd_run_check, payload_server):
    payload_server.body = fixture_bytes('nim_metrics.txt')
    check = make_check(payload_server.base_url + '/metrics')
    dd_run_check(check)
    assert {m.flush_first_value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')} == {False}
    aggregator.reset()
    dd_run_check(check)
    assert {m.flush_first_value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')} == {True}
    # a failed run drops it back to False for the next good run
    aggregator.reset()
    payload_server.status = 500
    with pytest.raises(Exception, match='500 Server Error'):
        dd_run_check(check)
    payload_server.status = 200
    dd_run_check(check)
    assert {m.flush_first_value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')} == {False}


def test_http_error_is_critical_and_fails_the_run(aggregator, payload_server):
    payload_server.status = 404
    endpoint = payload_server.base_url + '/metrics'
    check = make_check(endpoint)
    message = run_error(check.run())
    assert message.startswith(f'There was an error scraping endpoint {endpoint}: 404 Client Error')
    assert not aggregator.metric_names
    aggregator.assert_service_check(
        'nvidia_nim.openmetrics.health', AgentCheck.CRITICAL, message='404 Client Error', count=1
    )


def test_version_endpoint_failure_keeps_the_run_and_metrics(aggregator, datadog_agent, payload_server):
    payload_server.body = fixture_bytes('nim_metrics.txt')
    payload_server.version_body = b'not json'
    check = make_check(payload_server.base_url + '/metrics')
    assert check.run() == ''
    assert len(aggregator.metric_names) == 34
    datadog_agent.assert_metadata_count(0)


def test_no_metadata_when_collection_is_disabled(datadog_agent, dd_run_check, payload_server):
    payload_server.body = fixture_bytes('nim_metrics.txt')
    datadog_agent._config['enable_metadata_collection'] = False
    dd_run_check(make_check(payload_server.base_url + '/metrics'))
    datadog_agent.assert_metadata_count(0)
    assert not [p for p, _ in payload_server.requests if 'version' in p]


@pytest.mark.parametrize(
    'release, expected',
    [('1.2.3.4', '1.2.3'), ('1.2', None), ('', None)],
)
def test_release_parsing(datadog_agent, dd_run_check, payload_server, release, expected):
    payload_server.version_body = f'{{"release": "{release}"}}'.encode()
    dd_run_check(make_check(payload_server.base_url + '/metrics'))
    if expected is None:
        datadog_agent.assert_metadata_count(0)
    else:
        datadog_agent.assert_metadata('', {'version.raw': expected})


@pytest.mark.parametrize(
    'endpoint, expected',
    [
        ('http://h:8000/metrics', 'http://h:8000/v1/version'),
        ('http://h:8000/v1/metrics', 'http://h:8000/v1/version'),
        ('https://h/nim/v1/metrics/', 'https://h/nim/v1/version'),
        ('http://h:8000/prom?x=1', 'http://h:8000/v1/version'),
    ],
)
def test_version_url(endpoint, expected):
    assert version_url(endpoint) == expected


def test_accept_header_asks_for_prometheus_text_or_openmetrics(dd_run_check, payload_server):
    payload_server.body = b'# EOF\n'  # valid in both formats
    dd_run_check(make_check(payload_server.base_url + '/metrics'))
    dd_run_check(make_check(payload_server.base_url + '/metrics', use_latest_spec=True))
    accepts = [h.get('Accept') for p, h in payload_server.requests if p == '/metrics']
    assert accepts == [
        'text/plain',
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1',
    ]


@pytest.mark.parametrize('path', ['/metrics', '/v1/metrics'])
@pytest.mark.parametrize('use_latest_spec', [False, True])
def test_live_emulator(aggregator, datadog_agent, dd_run_check, emulator, path, use_latest_spec):
    endpoint = emulator.base_url + path
    check = make_check(endpoint, use_latest_spec=use_latest_spec)
    dd_run_check(check)
    assert_documented_metrics(aggregator, endpoint)
    aggregator.assert_service_check('nvidia_nim.openmetrics.health', AgentCheck.OK, count=1)
    datadog_agent.assert_metadata('', {'version.raw': '1.0.0', 'version.scheme': 'semver'})
    first = sum(m.value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count'))
    aggregator.reset()
    dd_run_check(check)
    second = sum(m.value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count'))
    assert second > first  # the emulator's counters move between scrapes


def test_openmetrics_content_type_selects_the_openmetrics_parser(aggregator, dd_run_check, payload_server):
    # the same gauge without `# EOF`: fine as Prometheus text, an error as OpenMetrics
    payload_server.body = b'# TYPE num_requests_running gauge\nnum_requests_running 3\n'
    payload_server.content_type = PROM_CONTENT_TYPE
    check = make_check(payload_server.base_url + '/metrics')
    dd_run_check(check)
    aggregator.assert_metric('nvidia_nim.num_requests.running', 3.0)
    aggregator.reset()
    payload_server.content_type = OM_CONTENT_TYPE
    assert run_error(check.run()) == 'Missing # EOF at end'
    aggregator.assert_metric('nvidia_nim.num_requests.running', 3.0)
    aggregator.assert_service_check('nvidia_nim.openmetrics.health', AgentCheck.OK)


def test_missing_endpoint_is_a_configuration_error_on_every_run(aggregator):
    check = NvidiaNIMCheck('nvidia_nim', {}, [{}])
    for _ in range(2):
        assert run_error(check.run()).splitlines() == [
            'Detected 1 error while loading configuration model `InstanceConfig`:',
            'openmetrics_endpoint',
            '  Field required',
        ]
    assert not aggregator.service_check_names


@pytest.mark.parametrize('agent_start, expected', [(0, True), (4e9, False)])
def test_use_process_start_time_decides_the_first_flush(
    aggregator, datadog_agent, dd_run_check, payload_server, agent_start, expected
):
    # the fixture NIM started at 1.73e9: after an Agent started at 0, before one started at 4e9
    payload_server.body = fixture_bytes('nim_metrics.txt')
    datadog_agent.set_process_start_time(agent_start)
    check = make_check(payload_server.base_url + '/metrics', use_process_start_time=True)
    dd_run_check(check)
    assert {m.flush_first_value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')} == {expected}
    assert {m.flush_first_value for m in aggregator.metrics('nvidia_nim.time_to_first_token.seconds.bucket')} == {
        expected
    }
    aggregator.assert_metric('nvidia_nim.num_requests.running', flush_first_value=False)
