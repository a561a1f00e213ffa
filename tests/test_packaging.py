"""The wheel as the Agent installs it: built by maturin, installed with --no-deps into a fresh
venv that holds only datadog-checks-base and its dependencies, then loaded and run from there."""

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from common import PROJECT_ROOT, map_metadata

from datadog_checks.nvidia_nim.emulator import NimEmulator
from datadog_checks.nvidia_nim.metrics import METRIC_MAP

REQUIREMENTS = PROJECT_ROOT / 'requirements-test.txt'
WHEELHOUSE = PROJECT_ROOT / '.venv' / 'wheelhouse'


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    """NIM_WHEEL (the wheel CI built), else a fresh maturin build."""
    given = os.environ.get('NIM_WHEEL')
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp('dist')
    subprocess.run(
        [sys.executable, '-m', 'maturin', 'build', '--release', '-q', '-o', str(out)], cwd=PROJECT_ROOT, check=True
    )
    (built,) = out.glob('*.whl')
    return built


def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
    assert 'datadog_checks/__init__.py' not in names
    assert all(n.startswith(('datadog_checks/nvidia_nim/', 'datadog_nvidia_nim-')) for n in names)
    assert 'datadog_checks/nvidia_nim/data/conf.yaml.example' in names
    assert 'datadog_checks/nvidia_nim/data/auto_conf.yaml' in names
    assert any(n.startswith('datadog_checks/nvidia_nim/_core.') and n.endswith('.so') for n in names)
    # the types of the extension module ship beside it
    assert 'datadog_checks/nvidia_nim/_core.pyi' in names
    requires = [line for line in metadata.splitlines() if line.startswith('Requires-Dist:')]
    assert requires and all('datadog-checks-base' in line for line in requires)
    assert 'abi3' in wheel.name


def test_installed_wheel_runs_in_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    python = venv / 'bin' / 'python'
    base_requirements = tmp_path / 'base.txt'
    lines = REQUIREMENTS.read_text().split('# test harness')[0]
    base_requirements.write_text(lines)
    pip = [str(python), '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    # offline: scripts/setup downloaded the runtime requirements into the wheelhouse
    offline = ['--no-index', '--find-links', str(WHEELHOUSE)]
    subprocess.run(pip + offline + ['-r', str(base_requirements)], check=True)
    subprocess.run(pip + ['--no-deps', str(wheel)], check=True)
    script = textwrap.dedent(
        """
        import importlib, json, sys
        from datadog_checks.base import AgentCheck
        from datadog_checks.base.stubs import aggregator, datadog_agent
        module = importlib.import_module('datadog_checks.nvidia_nim')
        assert module.__file__.startswith(sys.prefix), module.__file__
        cls = next(
            getattr(module, n) for n in dir(module)
            if isinstance(getattr(module, n), type) and issubclass(getattr(module, n), AgentCheck)
            and getattr(module, n) is not AgentCheck and not getattr(module, n).__subclasses__()
        )
        out = {}
        for url in sys.argv[1:]:
            aggregator.reset(); datadog_agent.reset()
            check = cls(name='nvidia_nim', init_config={}, instances=({'openmetrics_endpoint': url},))
            result = check.run()
            out[url] = {
                'result': result,
                'types': {n: sorted({m.type for m in aggregator.metrics(n)}) for n in aggregator.metric_names},
                'health': [s.status for s in aggregator.service_checks('nvidia_nim.openmetrics.health')],
                'metadata': {k[1]: v for k, v in datadog_agent._metadata.items()},
            }
        print(json.dumps(out))
        """
    )
    with NimEmulator() as emu:
        urls = [emu.base_url + '/metrics', emu.base_url + '/v1/metrics']
        proc = subprocess.run([str(python), '-c', script, *urls], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import json

    from datadog_checks.dev.utils import get_metadata_metrics

    metadata = get_metadata_metrics()
    expected_types = {'gauge': [0], 'count': [3]}
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for url in urls:
        r = results[url]
        assert r['result'] == ''
        assert set(r['types']) == set(map_metadata(metadata, METRIC_MAP))  # the NIM 1.x rows
        for name, types in r['types'].items():
            assert types == expected_types[metadata[name]['metric_type']], name
        assert r['health'] == [0]
        assert r['metadata']['version.scheme'] == 'semver'
        assert r['metadata']['version.raw'] == '1.0.0'
