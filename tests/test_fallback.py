"""Where the Rust core cannot be loaded (the pure-Python wheel on macOS, musl or another CPU, or a
broken install), the package serves `fallback.NvidiaNIMCheck`: datadog-checks-base's OpenMetrics
V2 scraper with this check's defaults. It must send what the stock check sends on a NIM 1.x, what
the native check sends on a NIM 2.x, keep the version fixes that live in Python, refuse the
core-only `latency_percentiles` clearly, and say once why it runs. (The version fixes are shown
for both checks in test_deliberate_differences.py and test_version_metadata.py.)"""

import json
import logging
import subprocess
import sys

import pytest
from common import PROJECT_ROOT, PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck, fixture_bytes, run_error
from test_same_as_stock import RUNS, assert_identical, run_both

from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import nim_metrics
from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

BLOCK_CORE = "import sys; sys.modules['datadog_checks.nvidia_nim._core'] = None\n"


def dialect_bodies(dialect: str, models: int) -> list[bytes]:
    nim = nim_metrics(dialect, models=models, seed=7)
    bodies = []
    for _ in range(RUNS):
        bodies.append(nim.exposition('text/plain')[0])
        nim.step()
    return bodies


def test_fixture_as_the_stock_check(aggregator, datadog_agent):
    body = fixture_bytes('nim_metrics.txt')
    results = run_both(
        aggregator, datadog_agent, [body] * RUNS, PROM_CONTENT_TYPE, checks=(StockNvidiaNIMCheck, FallbackCheck)
    )
    assert_identical(results)
    assert len(results[0][2]['metrics']) == 34
    assert results[0][2]['metadata'][('', 'version.raw')] == '1.0.0'


@pytest.mark.parametrize('models', [1, 10])
def test_nim1_emulator_as_the_stock_check(aggregator, datadog_agent, models):
    bodies = dialect_bodies('nim1', models)
    assert_identical(
        run_both(aggregator, datadog_agent, bodies, PROM_CONTENT_TYPE, checks=(StockNvidiaNIMCheck, FallbackCheck))
    )


@pytest.mark.parametrize('dialect', ['vllm', 'sglang'])
def test_nim2_dialects_as_the_native_check(aggregator, datadog_agent, dialect):
    """The stock map knows no 2.x names; the fallback carries the same default maps as the core."""
    results = run_both(
        aggregator, datadog_agent, dialect_bodies(dialect, 2), PROM_CONTENT_TYPE, checks=(NvidiaNIMCheck, FallbackCheck)
    )
    assert_identical(results)
    sent = results[-1][2]['metrics']
    assert 'nvidia_nim.num_requests.running' in sent and 'nvidia_nim.time_to_first_token.seconds.count' in sent
    stock = run_both(aggregator, datadog_agent, dialect_bodies(dialect, 2), PROM_CONTENT_TYPE)
    assert 'nvidia_nim.num_requests.running' not in stock[-1][0]['metrics']


def test_latency_percentiles_need_the_core(aggregator):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', 'latency_percentiles': [0.5, 0.99]}
        check = FallbackCheck('nvidia_nim', {}, [instance])
        for _ in range(2):
            error = run_error(check.run())
            assert error.startswith('Setting `latency_percentiles` needs the Rust core of datadog-nvidia-nim')
            assert 'remove the option, or install the native wheel' in error
        assert not aggregator.metric_names
        bad = FallbackCheck('nvidia_nim', {}, [{**instance, 'latency_percentiles': [2]}])
        assert 'Entry #1 of setting `latency_percentiles` must be a number between 0 and 1' in run_error(bad.run())
        empty = FallbackCheck('nvidia_nim', {}, [{**instance, 'latency_percentiles': []}])
        assert empty.run() == ''


def test_one_warning_says_why(aggregator, caplog):
    caplog.set_level(logging.WARNING)
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        check = FallbackCheck('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics'}])
        for _ in range(3):
            assert check.run() == ''
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert 'Rust core of datadog-nvidia-nim is not loaded' in warnings[0]
    assert 'integration install -w' in warnings[0]


def test_package_serves_the_fallback_without_the_core():
    """In a fresh interpreter where `_core` cannot be imported, the class the Agent's loader finds
    is the fallback; it scrapes the fixture as the native check does (scripts/prove_run.py)."""
    fixtures, metadata, prove = (PROJECT_ROOT / p for p in ('tests/fixtures', 'metadata.csv', 'scripts/prove_run.py'))
    runner = (
        'import runpy, sys\n'
        f'sys.argv = [{str(prove)!r}, {str(fixtures)!r}, {str(metadata)!r}, sys.argv[1]]\n'
        f'runpy.run_path({str(prove)!r}, run_name="__main__")\n'
    )
    reports = {}
    for label, prefix, expectation in (('native', '', '--expect-core'), ('fallback', BLOCK_CORE, '--expect-fallback')):
        proc = subprocess.run(
            [sys.executable, '-c', prefix + runner, expectation], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        reports[label] = json.loads(proc.stdout.strip().splitlines()[-1])
        reports[label]['stderr'] = proc.stderr
    assert reports['native']['check_class'] == 'datadog_checks.nvidia_nim.check.NvidiaNIMCheck'
    assert reports['fallback']['check_class'] == 'datadog_checks.nvidia_nim.fallback.NvidiaNIMCheck'
    assert reports['fallback']['submissions_sha256'] == reports['native']['submissions_sha256']
    assert reports['fallback']['nim1_metadata_metrics_sent'] == 34
    assert 'the pure-Python wheel, which has no native core, is installed' in reports['fallback']['stderr']
    assert 'not loaded' not in reports['native']['stderr']
