"""`python -m datadog_checks.nvidia_nim`, run as a user runs it: what it prints, in the Agent's layout."""

import json
import re
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.parser import text_string_to_metric_families

from datadog_checks.nvidia_nim.emulator import NimEmulator

SERIES_FIELDS = {'metric', 'points', 'tags', 'host', 'type', 'interval', 'source_type_name'}
SERVICE_CHECK_FIELDS = {'check', 'host_name', 'timestamp', 'status', 'message', 'tags'}
HEALTH = 'nvidia_nim.openmetrics.health'


def run_cli(*args, timeout=60):
    return subprocess.run(
        [sys.executable, '-m', 'datadog_checks.nvidia_nim', *args], capture_output=True, text=True, timeout=timeout
    )


def series_by_context(instance):
    """{(metric, sorted tags): [type, value]} of an instance's JSON, each context sent once."""
    found = {}
    for m in instance['aggregator']['metrics']:
        key = (m['metric'], tuple(sorted(m['tags'])))
        assert key not in found, key
        ((_, value),) = m['points']
        found[key] = [m['type'], value]
    return found


def test_demo_without_arguments_sends_what_a_first_agent_run_sends():
    proc = run_cli('--json')
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    (instance,) = json.loads(proc.stdout)  # one JSON document, nothing else on stdout
    runner, sent = instance['runner'], instance['aggregator']
    assert runner['LastError'] == '' and runner['TotalRuns'] == 1 and runner['TotalErrors'] == 0
    assert runner['CheckID'].startswith('nvidia_nim:')
    assert all(set(m) == SERIES_FIELDS and m['source_type_name'] == 'System' for m in sent['metrics'])
    names = {m['metric'] for m in sent['metrics']}
    assert {
        'nvidia_nim.num_requests.running',
        'nvidia_nim.gpu_cache_usage_percent',
        'nvidia_nim.num_request.max',
    } <= names
    # a first run sends no counter: the Agent holds each monotonic count's first value back
    assert {m['type'] for m in sent['metrics']} == {'gauge'}
    assert runner['MetricSamples'] > len(sent['metrics'])
    (health,) = sent['service_checks']
    assert set(health) == SERVICE_CHECK_FIELDS
    assert (health['check'], health['status'], health['message']) == (HEALTH, 0, '')
    assert instance['metadata']['version.raw'] == '1.0.0'


def test_table_output_and_check_rate(tmp_path):
    with NimEmulator(models=3) as emu:
        conf = tmp_path / 'conf.yaml'
        conf.write_text(f'init_config:\ninstances:\n  - openmetrics_endpoint: {emu.metrics_url}\n    tags: [team:ml]\n')
        proc = run_cli('-c', str(conf), '--check-rate')
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    assert emu.scrapes == 2
    out = proc.stdout
    sections = ['=== Series ===', '=== Service Checks ===', 'Running Checks', 'Metadata']
    assert [out.index(s) for s in sections] == sorted(out.index(s) for s in sections)
    assert re.search(r'^nvidia_nim\.num_requests\.running +gauge +\[\[\d+, \d+\]\] .*team:ml', out, re.M)
    assert re.search(r'^nvidia_nim\.prompt_tokens\.count +count +\[\[\d+, \d+\]\] ', out, re.M)
    assert re.search(rf'^{re.escape(HEALTH)} +- +\d+ +OK +- +.*team:ml', out, re.M)
    assert re.search(r'Instance ID: nvidia_nim:[0-9a-f]{16} \[OK\]', out)
    assert f'Configuration Source: file:{conf}' in out
    assert 'Total Runs: 2' in out
    last, total = map(int, re.search(r'Metric Samples: Last Run: (\d+), Total: (\d+)', out).groups())
    assert total == 2 * last > 0
    assert 'Service Checks: Last Run: 1, Total: 2' in out
    assert re.search(r'Last Successful Execution Date : \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+\)', out)
    assert '    version.raw: 1.0.0' in out
    assert 'Error:' not in out


def test_a_single_run_says_how_to_see_the_counters():
    proc = run_cli()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('Started the embedded NIM emulator at http://127.0.0.1:')
    assert 'run with -r/--check-rate to see them' in proc.stdout
    assert not re.search(r'^\S+ +count +', proc.stdout, re.M)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.read().decode())
            for s in family.samples
        }


def as_tags(labels):
    return tuple(sorted(f'{k}:{v}' for k, v in labels))


def test_check_rate_sends_counters_as_their_increase_between_the_two_runs():
    counters = {
        'prompt_tokens_total': 'nvidia_nim.prompt_tokens.count',
        'generation_tokens_total': 'nvidia_nim.generation_tokens.count',
        'request_success_total': 'nvidia_nim.request.success.count',
        'request_finish_total': 'nvidia_nim.request.finish.count',
        'e2e_request_latency_seconds_count': 'nvidia_nim.e2e_request_latency.seconds.count',
        'e2e_request_latency_seconds_sum': 'nvidia_nim.e2e_request_latency.seconds.sum',
    }
    gauges = {'num_requests_running': 'nvidia_nim.num_requests.running'}
    # the CLI scrapes one emulator twice; its twin (same seed) serves the same two payloads to us
    with NimEmulator(models=2, seed=7) as emu, NimEmulator(models=2, seed=7) as twin:
        proc = run_cli('--endpoint', emu.metrics_url, '--check-rate', '--json')
        first, second = scrape(twin.metrics_url), scrape(twin.metrics_url)
    assert proc.returncode == 0, proc.stderr
    assert emu.scrapes == 2
    (instance,) = json.loads(proc.stdout)
    sent = series_by_context(instance)
    endpoint = f'endpoint:{emu.metrics_url}'
    increases = []
    for (name, labels), raw in second.items():
        key = (counters.get(name) or gauges.get(name), tuple(sorted((*as_tags(labels), endpoint))))
        if name in counters:
            increases.append((raw - first[(name, labels)], raw))
            assert sent[key] == ['count', raw - first[(name, labels)]], key
        elif name in gauges:
            assert sent[key] == ['gauge', raw], key
    assert len(increases) > len(counters)
    assert any(0 < increase < raw for increase, raw in increases)  # the counters moved: not their raw values


class TwoPayloads(BaseHTTPRequestHandler):
    """Serves PAYLOADS[0], then PAYLOADS[1] on every later request."""

    payloads: list[bytes] = []
    served = 0

    def do_GET(self):
        if self.path != '/metrics':
            self.send_error(404)
            return
        body = self.payloads[min(TwoPayloads.served, 1)]
        TwoPayloads.served += 1
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; version=0.0.4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def exposition(values):
    lines = ['# TYPE prompt_tokens_total counter']
    lines += [f'prompt_tokens_total{{model_name="{model}"}} {value}' for model, value in values.items()]
    return ('\n'.join(lines) + '\n').encode()


def test_check_rate_flushes_new_and_reset_counters_whole_on_the_second_run():
    first = {'grows': 10, 'restarted': 50}
    second = {'grows': 25, 'restarted': 4, 'new': 7}
    TwoPayloads.payloads = [exposition(first), exposition(second)]
    TwoPayloads.served = 0
    server = ThreadingHTTPServer(('127.0.0.1', 0), TwoPayloads)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}/metrics'
        proc = run_cli('--endpoint', url, '-r', '--json')
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    (instance,) = json.loads(proc.stdout)
    sent = series_by_context(instance)
    for model, value in second.items():
        before = first.get(model)
        # the check flushes first values from its 2nd run on: a new counter, or one that went down
        # (restarted from 0), is sent whole, as the Agent does with flush_first_value
        expected = value - before if before is not None and value >= before else value
        key = ('nvidia_nim.prompt_tokens.count', tuple(sorted([f'model_name:{model}', f'endpoint:{url}'])))
        assert sent[key] == ['count', expected], model


def test_latency_percentiles_apply_to_every_instance_of_the_file(tmp_path):
    with NimEmulator() as emu:
        conf = tmp_path / 'conf.yaml'
        conf.write_text(
            'init_config:\ninstances:\n'
            f'  - openmetrics_endpoint: {emu.metrics_url}\n'
            f'  - openmetrics_endpoint: {emu.metrics_url}\n    latency_percentiles: [0.3]\n'
        )
        proc = run_cli('-c', str(conf), '-r', '--json', '--latency-percentiles', '0.5')
    assert proc.returncode == 0, proc.stderr
    instances = json.loads(proc.stdout)
    assert len(instances) == 2
    for instance in instances:
        names = {m['metric'] for m in instance['aggregator']['metrics']}
        assert 'nvidia_nim.time_to_first_token.seconds.p50' in names
        assert not any(name.endswith('.p30') for name in names)


def test_models_option_sets_what_the_emulator_serves():
    proc = run_cli('--models', '3', '--json')
    assert proc.returncode == 0, proc.stderr
    (instance,) = json.loads(proc.stdout)
    models = {t for m in instance['aggregator']['metrics'] for t in m['tags'] if t.startswith('model_name:')}
    assert len(models) == 3


def test_failed_run_exits_1_with_the_checks_error_on_stderr():
    proc = run_cli('--endpoint', 'http://127.0.0.1:1/metrics', '--json')
    assert proc.returncode == 1
    (instance,) = json.loads(proc.stdout)
    assert instance['runner']['LastError'].startswith('There was an error scraping endpoint http://127.0.0.1:1/metrics')
    assert instance['runner']['TotalErrors'] == 1 and instance['runner']['LastSuccessDate'] == 0
    assert instance['aggregator']['metrics'] == []
    assert [s['status'] for s in instance['aggregator']['service_checks']] == [2]
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        'nvidia_nim: --endpoint http://127.0.0.1:1/metrics: the check failed: There was an error scraping endpoint'
    )
    assert line.endswith('; check that the NIM is up and serves its metrics at that URL')


def test_config_with_credentials_never_prints_them(tmp_path):
    with NimEmulator() as emu:
        conf = tmp_path / 'conf.yaml'
        conf.write_text(
            'init_config:\ninstances:\n'
            f'  - openmetrics_endpoint: {emu.metrics_url}\n'
            '    username: nim\n    password: s3cr3t-passw0rd\n'
            '    extra_headers: {Authorization: "Bearer t0ken-value"}\n'
        )
        procs = [run_cli('-c', str(conf)), run_cli('-c', str(conf), '--json', '-r')]
    for proc in procs:
        assert proc.returncode == 0, proc.stderr
        for secret in ('s3cr3t-passw0rd', 't0ken-value'):
            assert secret not in proc.stdout and secret not in proc.stderr
    assert 'nvidia_nim.num_requests.running' in procs[0].stdout
    assert json.loads(procs[1].stdout)[0]['runner']['TotalRuns'] == 2
