"""Each deliberate difference from the stock check, showing the stock behaviour and ours."""

import socket

import pytest
from common import (
    OM_CONTENT_TYPE,
    PayloadServer,
    RawServer,
    StockNvidiaNIMCheck,
    fixture_bytes,
    health_checks,
    http_response,
    run_error,
    submitted_count,
)
from test_same_as_stock import ENVIRONMENT_VARIABLES

from datadog_checks.base import AgentCheck
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import NimEmulator
from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

COUNTER_WITH_CREATED = b'# TYPE prompt_tokens counter\nprompt_tokens_total 5\nprompt_tokens_created 1.7e9\n# EOF\n'


def test_openmetrics_counter_created_is_not_a_second_count(aggregator):
    with PayloadServer(COUNTER_WITH_CREATED, OM_CONTENT_TYPE) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        assert StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
        stock = [m.value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')]
        aggregator.reset()
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
        ours = [m.value for m in aggregator.metrics('nvidia_nim.prompt_tokens.count')]
    assert stock == [5.0, 1.7e9]
    assert ours == [5.0]


@pytest.mark.parametrize('ours', [NvidiaNIMCheck, FallbackCheck], ids=['native', 'fallback'])
def test_version_for_v1_metrics_endpoint(aggregator, datadog_agent, ours):
    # The documented NIM endpoint is /v1/metrics; the stock check asks /v1/v1/version (404) and
    # fails every run after submitting the metrics. Ours (with or without the core) asks /v1/version.
    with NimEmulator() as emu:
        instance = {'openmetrics_endpoint': emu.base_url + '/v1/metrics'}
        stock_error = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        stock_metrics = len(aggregator.metric_names)
        datadog_agent.assert_metadata_count(0)
        aggregator.reset()
        assert ours('nvidia_nim', {}, [instance]).run() == ''
        ours_metrics = len(aggregator.metric_names)
    assert '404 Client Error' in stock_error and '/v1/v1/version' in stock_error
    assert stock_metrics == ours_metrics == 34
    datadog_agent.assert_metadata('', {'version.raw': '1.0.0'})


@pytest.mark.parametrize('ours', [NvidiaNIMCheck, FallbackCheck], ids=['native', 'fallback'])
def test_version_endpoint_failure_does_not_fail_the_run(aggregator, datadog_agent, ours):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        server.version_body = b'<html>not json</html>'
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock_error = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        aggregator.reset()
        our_result = ours('nvidia_nim', {}, [instance]).run()
        ours_metrics = len(aggregator.metric_names)
    assert 'Expecting value' in stock_error
    assert our_result == ''
    assert ours_metrics == 34
    datadog_agent.assert_metadata_count(0)


def test_empty_openmetrics_body_is_an_error(aggregator):
    # OpenMetrics requires `# EOF`; the conformance case bad_no_eof is an empty body. The stock
    # check never starts its parser on an empty body and reports success.
    with PayloadServer(b'', OM_CONTENT_TYPE) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        ours = run_error(NvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
    assert stock is None
    assert ours == 'Missing # EOF at end'


def test_body_cut_short_is_critical_and_submits_nothing(aggregator):
    # The server announces the whole body's Content-Length and closes after two thirds of it. The
    # stock check has sent health OK before reading, then submits every family read before the
    # cut and fails. Here the body is read whole before anything is used: health CRITICAL, same
    # run error, nothing submitted.
    filler = b''.join(b'num_requests_waiting{model_name="m%d"} 1\n' % i for i in range(3000))
    body = fixture_bytes('nim_metrics.txt') + b'\n# TYPE num_requests_waiting gauge\n' + filler
    whole = http_response(body)
    with RawServer(lambda conn, path: conn.sendall(whole[: len(whole) - len(body) // 3])) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock_error = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        stock_health = health_checks(aggregator)
        stock_metrics = len(aggregator.metric_names)
        aggregator.reset()
        our_error = run_error(NvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        our_health = health_checks(aggregator)
    assert 'IncompleteRead(' in stock_error
    assert our_error == stock_error
    assert stock_health == [(AgentCheck.OK, '')]
    assert stock_metrics == 34
    assert our_health == [(AgentCheck.CRITICAL, our_error.split(': ', 1)[1])]
    assert submitted_count(aggregator) == 0


UTF8_LABELS = '# TYPE num_requests_running gauge\nnum_requests_running{model_name="llama-é✓-日本"} 1\n'.encode()


def model_tags(aggregator):
    return [t for m in aggregator.metrics('nvidia_nim.num_requests.running') for t in m.tags if t.startswith('model_')]


def body_for(content_type):
    return UTF8_LABELS + (b'# EOF\n' if content_type.startswith('application/openmetrics-text') else b'')


@pytest.mark.parametrize(
    'content_type',
    ['text/plain', 'text/plain; version=0.0.4', 'application/openmetrics-text; version=1.0.0', 'text/plain; charset='],
)
def test_utf8_label_values_without_a_charset(aggregator, content_type):
    # requests decodes a response without a charset whose type contains `text` (text/plain, and
    # application/openmetrics-text too) as ISO-8859-1, so the stock check turns UTF-8 label values
    # into mojibake; ours decodes UTF-8 when no charset is named.
    with PayloadServer(body_for(content_type), content_type) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock_error = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
        stock = model_tags(aggregator)
        aggregator.reset()
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
        ours = model_tags(aggregator)
    if content_type.endswith('charset='):
        # an empty charset: requests hands the stock check an empty encoding name
        assert stock_error == 'unknown encoding: ' and stock == []
    else:
        assert stock_error is None
        assert stock == ['model_name:llama-Ã©â\x9c\x93-æ\x97¥æ\x9c¬']
    assert ours == ['model_name:llama-é✓-日本']


@pytest.mark.parametrize(
    'content_type, expected',
    [
        ('text/plain; charset=utf-8', 'model_name:llama-é✓-日本'),
        ('text/plain; charset="UTF-8"', 'model_name:llama-é✓-日本'),
        ('text/plain; charset=iso-8859-1', 'model_name:llama-Ã©â\x9c\x93-æ\x97¥æ\x9c¬'),
        ('application/openmetrics-text; version=1.0.0; charset=utf-8', 'model_name:llama-é✓-日本'),
        ('application/x-prometheus', 'model_name:llama-é✓-日本'),
        (None, 'model_name:llama-é✓-日本'),
    ],
)
def test_an_explicit_charset_decodes_as_in_the_stock_check(aggregator, content_type, expected):
    # requests' own encoding (the named charset, or UTF-8 for a type without `text`) is kept
    with PayloadServer(body_for(content_type or ''), content_type) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        assert StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
        stock = model_tags(aggregator)
        aggregator.reset()
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
        ours = model_tags(aggregator)
    assert stock == ours == [expected]


# the proxy variables among those the differential suite sets (any case)
PROXY_VARIABLES = tuple(name for name in ENVIRONMENT_VARIABLES if name.lower().endswith('_proxy'))


def test_proxy_variables_are_read_at_the_first_request(aggregator, monkeypatch):
    # The stock check (requests) reads the proxy variables of the process environment at every
    # request; ours once per check instance, at its first request (the Agent's environment does not
    # change while it runs, and reading it costs about as much as parsing a one-model scrape).
    # Set before a check is created, they are honoured by both (test_same_as_stock.py).
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        dead_proxy = f'http://127.0.0.1:{s.getsockname()[1]}'
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock = StockNvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
        ours = NvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
        assert stock.run() == '' and ours.run() == ''
        monkeypatch.setenv('HTTP_PROXY', dead_proxy)
        stock_error = run_error(stock.run())
        assert ours.run() == ''
        # a check created now reads it, as the stock check does
        assert run_error(NvidiaNIMCheck('nvidia_nim', {}, [dict(instance)]).run()) == stock_error
    assert 'Unable to connect to proxy' in stock_error
