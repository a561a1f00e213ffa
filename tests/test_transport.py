"""Which transport the metrics request takes, and that a base package without the parts the kept
session reads still gets every metric through the plain `self.http.get`."""

import types

import pytest
from common import fixture_bytes

from datadog_checks.base.utils import http as base_http
from datadog_checks.nvidia_nim import NvidiaNIMCheck, transport
from datadog_checks.nvidia_nim.transport import (
    BASE_MODULE_NAMES,
    KeptSessionTransport,
    PlainTransport,
    missing_base_internals,
)


def make_check(endpoint, **options):
    return NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint, **options}])


def scrape(dd_run_check, aggregator, server, **options):
    server.body = fixture_bytes('nim_metrics.txt')
    check = make_check(f'{server.base_url}/v1/metrics', **options)
    dd_run_check(check)
    return check, {m.name for m in aggregator.metrics('nvidia_nim.num_requests.running')}


def test_the_pinned_base_has_everything_the_kept_session_reads():
    # a release of the base package that drops one of these makes every run cost more: this says so
    check = make_check('http://127.0.0.1:1/metrics')
    assert missing_base_internals(check.http) == []


@pytest.mark.parametrize('persist', [False, True])
def test_the_kept_session_serves_http_endpoints(dd_run_check, aggregator, payload_server, persist):
    check, running = scrape(dd_run_check, aggregator, payload_server, persist_connections=persist)
    assert isinstance(check._transport, KeptSessionTransport)
    assert running == {'nvidia_nim.num_requests.running'}


@pytest.mark.parametrize('name', BASE_MODULE_NAMES)
def test_a_base_without_a_module_name_falls_back_to_plain_requests(
    dd_run_check, aggregator, payload_server, monkeypatch, caplog, name
):
    # the base's own module keeps the name (its wrapper uses it); the transport's view of it lacks it
    view = types.SimpleNamespace(**{n: getattr(base_http, n) for n in BASE_MODULE_NAMES if n != name})
    monkeypatch.setattr(transport, 'base_http', view)
    caplog.set_level('DEBUG')
    check, running = scrape(dd_run_check, aggregator, payload_server)
    assert isinstance(check._transport, PlainTransport)
    assert running == {'nvidia_nim.num_requests.running'}
    assert f'lacks {name}' in caplog.text


def test_a_wrapper_refusing_a_session_argument_falls_back_to_plain_requests(
    dd_run_check, aggregator, payload_server, monkeypatch
):
    original = base_http.RequestsWrapper.__init__

    def without_session(self, instance, init_config, remapper=None, logger=None, **kwargs):
        if kwargs:
            raise TypeError(f'unexpected keyword arguments {sorted(kwargs)}')
        original(self, instance, init_config, remapper, logger)

    monkeypatch.setattr(base_http.RequestsWrapper, '__init__', without_session)
    check, running = scrape(dd_run_check, aggregator, payload_server)
    assert isinstance(check._transport, PlainTransport)
    assert running == {'nvidia_nim.num_requests.running'}
