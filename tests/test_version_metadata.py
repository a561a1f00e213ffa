"""The NIM version (`/v1/version`) is looked up after the first good scrape, after any failed
scrape, and every VERSION_REFRESH_SECONDS; the stock check asks on every run (a deliberate
difference: the Agent keeps the value it was given, and the request costs as much as a tenth of a
run)."""

import pytest
from common import PayloadServer, StockNvidiaNIMCheck, fixture_bytes

import datadog_checks.nvidia_nim.version as version_module
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

# the check with its Rust core, and the pure-Python fallback: both keep these lookups
pytestmark = pytest.mark.parametrize('ours_class', [NvidiaNIMCheck, FallbackCheck], ids=['native', 'fallback'])


def version_requests(server) -> int:
    return sum(1 for path, _ in server.requests if path.endswith('/v1/version'))


def test_stock_asks_every_run_ours_once(aggregator, datadog_agent, ours_class):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock = StockNvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
        for _ in range(3):
            assert stock.run() == ''
        stock_requests = version_requests(server)
        server.requests.clear()
        ours = ours_class('nvidia_nim', {}, [dict(instance)])
        for _ in range(3):
            assert ours.run() == ''
        assert stock_requests == 3
        assert version_requests(server) == 1
    datadog_agent.assert_metadata('', {'version.major': '1', 'version.minor': '0', 'version.patch': '0'})


def test_asked_again_after_a_failed_scrape(aggregator, datadog_agent, ours_class):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        ours = ours_class('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics'}])
        assert ours.run() == ''
        server.status = 503
        assert ours.run() != ''
        server.status = 200
        server.version_body = b'{"release": "1.2.3"}'
        datadog_agent.reset()
        assert ours.run() == ''
        assert ours.run() == ''
        assert version_requests(server) == 2
    datadog_agent.assert_metadata('', {'version.raw': '1.2.3'})


def test_asked_again_after_the_refresh_interval(aggregator, datadog_agent, monkeypatch, ours_class):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        ours = ours_class('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics'}])
        assert ours.run() == ''
        monkeypatch.setattr(version_module, 'VERSION_REFRESH_SECONDS', 0)
        assert ours.run() == ''
        assert ours.run() == ''
        assert version_requests(server) == 3
