"""`python -m datadog_checks.nvidia_nim`, run as a user runs it."""

import json
import subprocess
import sys

from datadog_checks.nvidia_nim.emulator import NimEmulator


def run_cli(*args, timeout=60):
    return subprocess.run(
        [sys.executable, '-m', 'datadog_checks.nvidia_nim', *args], capture_output=True, text=True, timeout=timeout
    )


def test_demo_without_arguments_scrapes_the_embedded_emulator():
    proc = run_cli('--json')
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result['error'] is None
    assert len({m['metric'] for m in result['metrics']}) == 34
    assert result['service_checks'][0]['status'] == 'OK'
    assert result['metadata']['version.raw'] == '1.0.0'


def test_table_output_and_check_rate(tmp_path):
    with NimEmulator(models=3) as emu:
        conf = tmp_path / 'conf.yaml'
        conf.write_text(f'init_config:\ninstances:\n  - openmetrics_endpoint: {emu.metrics_url}\n    tags: [team:ml]\n')
        proc = run_cli('-c', str(conf), '--check-rate')
    assert proc.returncode == 0, proc.stderr
    assert '--- Series ---' in proc.stdout
    assert 'nvidia_nim.num_requests.running' in proc.stdout
    assert 'team:ml' in proc.stdout
    assert '--- Run: OK;' in proc.stdout
    assert emu.scrapes == 2


def test_failed_run_exits_non_zero_without_leaking_secrets():
    proc = run_cli('--endpoint', 'http://127.0.0.1:1/metrics', '--json')
    assert proc.returncode == 1
    (result,) = json.loads(proc.stdout)
    assert result['error'].startswith('There was an error scraping endpoint http://127.0.0.1:1/metrics')
    assert result['service_checks'][0]['status'] == 'CRITICAL'


def test_config_with_credentials_never_prints_them(tmp_path):
    with NimEmulator() as emu:
        conf = tmp_path / 'conf.yaml'
        conf.write_text(
            'init_config:\ninstances:\n'
            f'  - openmetrics_endpoint: {emu.metrics_url}\n'
            '    username: nim\n    password: s3cr3t-passw0rd\n'
            '    extra_headers: {Authorization: "Bearer t0ken-value"}\n'
        )
        proc = run_cli('-c', str(conf))
    assert proc.returncode == 0, proc.stderr
    for secret in ('s3cr3t-passw0rd', 't0ken-value'):
        assert secret not in proc.stdout and secret not in proc.stderr
