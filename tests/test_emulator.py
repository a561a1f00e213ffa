"""The NIM emulator serves what a NIM 1.x serves."""

import json
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from datadog_checks.nvidia_nim.emulator import NimEmulator


def get(url, accept=None):
    request = urllib.request.Request(url, headers={'Accept': accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get('Content-Type'), response.read()


def test_endpoints():
    with NimEmulator(models=3) as emu:
        status, ctype, body = get(emu.base_url + '/v1/version')
        assert (status, json.loads(body)) == (200, {'release': '1.0.0', 'api': '1.0.0'})
        status, _, body = get(emu.base_url + '/v1/health/ready')
        assert status == 200 and json.loads(body)['object'] == 'health.response'
        status, ctype, body = get(emu.metrics_url, accept='text/plain')
        assert ctype.startswith('text/plain; version=0.0.4')
        families = {f.name: f for f in parse_prometheus(body.decode())}
        models = {s.labels['model_name'] for s in families['num_requests_running'].samples}
        assert len(models) == 3
        buckets = [
            s.labels['le'] for s in families['time_to_first_token_seconds'].samples if s.name.endswith('_bucket')
        ]
        assert buckets[:3] == ['0.001', '0.005', '0.01'] and len(buckets) == 3 * 17
        status, ctype, body = get(emu.base_url + '/metrics', accept='application/openmetrics-text; version=1.0.0')
        assert ctype.startswith('application/openmetrics-text')
        assert {'prompt_tokens', 'python_info', 'process_cpu_seconds'} <= {
            f.name for f in parse_openmetrics(body.decode())
        }


def test_values_move_between_scrapes():
    with NimEmulator() as emu:

        def prompt_tokens():
            body = get(emu.metrics_url)[2].decode()
            (family,) = [f for f in parse_prometheus(body) if f.name == 'prompt_tokens']
            return sum(s.value for s in family.samples if s.name.endswith('_total'))

        first = prompt_tokens()
        assert prompt_tokens() > first
