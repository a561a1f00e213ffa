"""Secrets never show (logs at every level, run errors and tracebacks, service-check messages,
warnings, the CLI's output), and the TLS options work against a local HTTPS server with a CA made
for the test."""

import base64
import json
import logging
import subprocess
import sys

import pytest
from common import (
    PayloadServer,
    StockNvidiaNIMCheck,
    TLSFiles,
    fixture_bytes,
    health_checks,
    run_error,
    without_addresses,
)

from datadog_checks.base import AgentCheck
from datadog_checks.nvidia_nim import NvidiaNIMCheck

PASSWORD = 'pw-Xq83-never-shown'
TOKEN = 'tok-Zr55-never-shown'
API_KEY = 'key-Wm21-never-shown'
KEY_PASSWORD = 'keypass-Lt07-never-shown'
SECRETS = [PASSWORD, TOKEN, API_KEY, KEY_PASSWORD, base64.b64encode(f'nim:{PASSWORD}'.encode()).decode()]


def auth_options(kind, tmp_path):
    """(instance options, the request header that carries the secret)."""
    if kind == 'basic':
        return {'username': 'nim', 'password': PASSWORD}, ('Authorization', 'Basic ' + SECRETS[-1])
    if kind == 'auth_token':
        token_file = tmp_path / 'token'
        token_file.write_text(TOKEN + '\n')
        options = {
            'auth_token': {
                'reader': {'type': 'file', 'path': str(token_file)},
                'writer': {'type': 'header', 'name': 'Authorization', 'value': 'Bearer <TOKEN>'},
            }
        }
        return options, ('Authorization', f'Bearer {TOKEN}')
    if kind == 'headers':
        return {'headers': {'Authorization': f'Bearer {TOKEN}', 'Accept': '*/*'}}, ('Authorization', f'Bearer {TOKEN}')
    if kind == 'extra_headers':
        return {'extra_headers': {'Authorization': f'Bearer {TOKEN}', 'X-Api-Key': API_KEY}}, ('X-Api-Key', API_KEY)
    raise AssertionError(kind)


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


AUTH_KINDS = ['basic', 'auth_token', 'headers', 'extra_headers']


@pytest.mark.parametrize('outcome', ['ok', 'unauthorized', 'refused'])
@pytest.mark.parametrize('kind', AUTH_KINDS)
def test_secrets_never_show(aggregator, caplog, tmp_path, kind, outcome):
    caplog.set_level(logging.DEBUG)
    options, (header, value) = auth_options(kind, tmp_path)
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        if outcome == 'unauthorized':
            server.status = 401
        url = server.base_url + '/metrics' if outcome != 'refused' else 'http://127.0.0.1:1/metrics'
        instance = {'openmetrics_endpoint': url, 'log_requests': True, 'tags': ['team:ml'], **options}
        check = NvidiaNIMCheck('nvidia_nim', {}, [instance])
        results = [check.run(), check.run()]
        requests = list(server.requests)
    if outcome == 'refused':
        assert all(run_error(r).startswith('There was an error scraping endpoint') for r in results)
    else:
        # the secret was sent, so it was there to leak
        assert requests and all(headers.get(header) == value for _, headers in requests)
        if outcome == 'ok':
            assert results == ['', '']
            assert len(aggregator.metric_names) == 34
        else:
            assert all('401 Client Error' in run_error(r) for r in results)
    logged = '\n'.join(f'{r.name} {r.levelname} {r.getMessage()}' for r in caplog.records)
    assert 'Sending GET request to' in logged  # log_requests: the debug logs were captured
    messages = [m for _, m in health_checks(aggregator)]
    tags = [t for name in aggregator.metric_names for m in aggregator.metrics(name) for t in m.tags]
    assert_no_secret(logged, *results, *messages, *tags, *map(str, check.warnings))


def run_cli(*args):
    return subprocess.run(
        [sys.executable, '-m', 'datadog_checks.nvidia_nim', *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize('status', [200, 403])
def test_cli_output_never_shows_secrets(tmp_path, status):
    instances = []
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        server.status = status
        for kind in AUTH_KINDS:
            options, _ = auth_options(kind, tmp_path)
            instances.append({'openmetrics_endpoint': server.base_url + '/metrics', 'log_requests': True, **options})
        conf = tmp_path / 'conf.yaml'
        conf.write_text(json.dumps({'init_config': {}, 'instances': instances}))  # JSON is YAML
        table = run_cli('-c', str(conf))
        as_json = run_cli('-c', str(conf), '--json')
        seen = {headers.get('Authorization') for _, headers in server.requests}
    assert f'Bearer {TOKEN}' in seen and f'Basic {SECRETS[-1]}' in seen
    for proc in (table, as_json):
        assert proc.returncode == (0 if status == 200 else 1), proc.stderr
        assert_no_secret(proc.stdout, proc.stderr)
    results = json.loads(as_json.stdout)
    assert len(results) == 4
    if status == 200:
        assert all(r['runner']['LastError'] == '' and r['runner']['MetricSamples'] > 100 for r in results)
    else:
        assert all('403 Client Error' in r['runner']['LastError'] for r in results)


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    return TLSFiles(tmp_path_factory.mktemp('tls'), key_password=KEY_PASSWORD.encode())


def run_both(aggregator, instance):
    """(error, health) of the stock check and of ours on the same instance."""
    results = []
    for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
        aggregator.reset()
        error = run_error(cls('nvidia_nim', {}, [instance]).run())
        results.append((without_addresses(error), without_addresses(str(health_checks(aggregator)))))
    return results


def test_tls_verification_fails_without_the_ca(aggregator, tls):
    with PayloadServer(fixture_bytes('nim_metrics.txt'), tls=tls.server_context()) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        stock, ours = run_both(aggregator, instance)
    assert 'CERTIFICATE_VERIFY_FAILED' in ours[0]
    assert ours == stock
    (status, _), *_ = health_checks(aggregator)
    assert status == AgentCheck.CRITICAL


@pytest.mark.parametrize('options', ['ca', 'no_verify'])
def test_tls_passes_with_the_ca_or_without_verification(aggregator, tls, options):
    with PayloadServer(fixture_bytes('nim_metrics.txt'), tls=tls.server_context()) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
        instance.update({'tls_ca_cert': tls.ca_cert} if options == 'ca' else {'tls_verify': False})
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
    assert len(aggregator.metric_names) == 34
    assert health_checks(aggregator) == [(AgentCheck.OK, '')]


def test_tls_client_certificate(aggregator, tls):
    with PayloadServer(fixture_bytes('nim_metrics.txt'), tls=tls.server_context(require_client_cert=True)) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', 'tls_ca_cert': tls.ca_cert}
        # without a client certificate the server ends the handshake
        stock, ours = run_both(aggregator, instance)
        assert ours[0].startswith(f'There was an error scraping endpoint {server.base_url}/metrics: ')
        assert 'SSLError' in ours[0] or 'Connection' in ours[0]
        assert health_checks(aggregator)[0][0] == AgentCheck.CRITICAL
        aggregator.reset()
        # with one (its key encrypted), it gets the metrics
        instance.update(tls_cert=tls.client_cert, tls_private_key=tls.client_key, tls_private_key_password=KEY_PASSWORD)
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
    assert len(aggregator.metric_names) == 34
    assert health_checks(aggregator) == [(AgentCheck.OK, '')]


@pytest.mark.xfail(
    strict=True,
    reason='datadog_checks.base.utils.tls.create_ssl_context logs its whole config at debug level, '
    "tls_private_key_password included (the stock check's too)",
)
def test_tls_key_password_never_logged(caplog, tls):
    caplog.set_level(logging.DEBUG)
    with PayloadServer(fixture_bytes('nim_metrics.txt'), tls=tls.server_context(require_client_cert=True)) as server:
        instance = {
            'openmetrics_endpoint': server.base_url + '/metrics',
            'tls_ca_cert': tls.ca_cert,
            'tls_cert': tls.client_cert,
            'tls_private_key': tls.client_key,
            'tls_private_key_password': KEY_PASSWORD,
        }
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
    assert_no_secret('\n'.join(r.getMessage() for r in caplog.records))
