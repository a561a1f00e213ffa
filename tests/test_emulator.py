"""The NIM emulator serves what a NIM 1.x serves, or a NIM 2.x passing vLLM V1 or SGLang metrics
through; the CLI picks the dialect."""

import json
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from datadog_checks.nvidia_nim.emulator import NimEmulator, nim_metrics


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


def families(body: bytes) -> dict:
    return {f.name: f for f in parse_prometheus(body.decode())}


def test_vllm_dialect():
    with NimEmulator(models=2, dialect='vllm') as emu:
        assert json.loads(get(emu.base_url + '/v1/version')[2])['release'] == '2.0.0'
        found = families(get(emu.metrics_url, accept='text/plain')[2])
    for name in ('vllm:num_requests_running', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'):
        assert found[name].type == 'gauge'
    for name in ('vllm:prompt_tokens', 'vllm:request_success', 'vllm:prefix_cache_hits', 'vllm:num_preemptions'):
        assert found[name].type == 'counter'
    for name in ('vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds', 'vllm:iteration_tokens_total'):
        assert found[name].type == 'histogram'
    running = found['vllm:num_requests_running'].samples
    assert {tuple(sorted(s.labels)) for s in running} == {('engine', 'model_name')}
    assert len({s.labels['model_name'] for s in running}) == 2
    reasons = {s.labels['finished_reason'] for s in found['vllm:request_success'].samples}
    assert reasons == {'stop', 'length', 'abort'}
    # the renamed families carry the same values as the old ones
    kv = {s.labels['model_name']: s.value for s in found['vllm:kv_cache_usage_perc'].samples}
    assert kv == {s.labels['model_name']: s.value for s in found['vllm:gpu_cache_usage_perc'].samples}
    assert not [name for name in found if not name.startswith(('vllm:', 'process_', 'python_'))]


def test_sglang_dialect():
    with NimEmulator(dialect='sglang') as emu:
        found = families(get(emu.metrics_url)[2])
    for name in ('sglang:num_running_reqs', 'sglang:num_queue_reqs', 'sglang:token_usage'):
        assert found[name].type == 'gauge'
    for name in ('sglang:prompt_tokens', 'sglang:num_requests', 'sglang:cached_tokens'):
        assert found[name].type == 'counter'
    (sample, *_) = found['sglang:time_to_first_token_seconds'].samples
    assert {k: v for k, v in sample.labels.items() if k != 'le'} == {
        'model_name': 'meta/llama-3.1-8b-instruct',
        'engine_type': 'unified',
        'tp_rank': '0',
        'pp_rank': '0',
    }
    assert not [name for name in found if not name.startswith(('sglang:', 'process_', 'python_'))]


def test_unknown_dialect():
    with pytest.raises(ValueError, match="unknown NIM dialect 'trtllm'"):
        nim_metrics('trtllm')


@pytest.mark.parametrize('dialect', ['vllm', 'sglang'])
def test_cli_dialect(dialect):
    proc = subprocess.run(
        [sys.executable, '-m', 'datadog_checks.nvidia_nim', '--dialect', dialect, '--json', '-r'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    names = {m['metric'] for m in result['aggregator']['metrics']}
    assert {'nvidia_nim.num_requests.running', 'nvidia_nim.time_to_first_token.seconds.count'} <= names
    assert result['metadata']['version.raw'] == '2.0.0'


def test_cli_latency_percentiles():
    proc = subprocess.run(
        [sys.executable, '-m', 'datadog_checks.nvidia_nim', '--latency-percentiles', '0.5,0.99', '--json', '-r'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    names = {m['metric'] for m in result['aggregator']['metrics']}
    # the second run has an interval: the emulator serves requests between the two scrapes
    assert {'nvidia_nim.time_to_first_token.seconds.p50', 'nvidia_nim.e2e_request_latency.seconds.p99'} <= names
