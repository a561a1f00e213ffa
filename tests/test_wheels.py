"""scripts/wheels.py: the pure-Python wheel derived from the native one installs and works, and the
checks that `scripts/wheels` runs on every distribution catch what would make the Agent's pip
refuse a wheel or break the Agent's own `datadog_checks` package."""

import ctypes.util
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from common import PROJECT_ROOT

spec = importlib.util.spec_from_file_location('wheels', PROJECT_ROOT / 'scripts' / 'wheels.py')
wheels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wheels)


@pytest.fixture(scope='module')
def native_wheel() -> Path:
    """The x86_64 manylinux2014 wheel scripts/setup built (NIM_WHEEL)."""
    given = os.environ.get('NIM_WHEEL')
    if not given:
        pytest.fail('NIM_WHEEL is not set: run the tests with `bash scripts/test` (it builds the wheel)')
    return Path(given)


def rewrite(wheel: Path, out: Path, replace: dict[str, bytes | None]) -> Path:
    """A copy of `wheel` at `out` with members replaced (None: removed) or added."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, 'w') as dst:
        for name in src.namelist():
            if name not in replace:
                dst.writestr(name, src.read(name))
        for name, data in replace.items():
            if data is not None:
                dst.writestr(name, data)
    return out


def test_the_native_wheel_passes(native_wheel):
    detail, problems = wheels.check_wheel(native_wheel)
    assert problems == []
    major, minor = re.match(r'max GLIBC_(\d+)\.(\d+), auditwheel: manylinux_2_17$', detail).groups()
    assert (int(major), int(minor)) <= (2, 17)


def test_pure_wheel_installs_without_the_core(native_wheel, tmp_path):
    pure = wheels.make_pure(native_wheel, tmp_path)
    assert pure.name.endswith('-py3-none-any.whl')
    assert wheels.check_wheel(pure) == ('no extension module', [])
    target = tmp_path / 'site'
    pip = [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', '--target', str(target), str(pure)]
    subprocess.run(pip, check=True)  # pip verifies RECORD's hashes
    package = target / 'datadog_checks' / 'nvidia_nim'
    assert (package / 'fallback.py').is_file() and (package / 'data' / 'conf.yaml.example').is_file()
    assert not list(package.glob('_core*'))
    with zipfile.ZipFile(native_wheel) as zf:
        native_python = {n for n in zf.namelist() if n.endswith('.py')}
    assert {str(p.relative_to(target)) for p in target.rglob('*.py')} == native_python


def test_a_native_wheel_without_the_core_types_fails(native_wheel, tmp_path):
    bad = rewrite(native_wheel, tmp_path / native_wheel.name, {wheels.CORE_STUB: None})
    _, problems = wheels.check_wheel(bad)
    assert f'missing {wheels.CORE_STUB}' in problems


def test_a_wheel_shipping_the_namespace_init_fails(native_wheel, tmp_path):
    bad = rewrite(native_wheel, tmp_path / native_wheel.name, {'datadog_checks/__init__.py': b''})
    _, problems = wheels.check_wheel(bad)
    assert any('datadog_checks/__init__.py' in p for p in problems)


def test_tags_that_disagree_fail(native_wheel, tmp_path):
    with zipfile.ZipFile(native_wheel) as zf:
        wheel_file = wheels.dist_info(zf.namelist(), 'WHEEL')
        text = zf.read(wheel_file).decode()
    bad = rewrite(native_wheel, tmp_path / native_wheel.name, {wheel_file: text.replace('abi3', 'cp311').encode()})
    _, problems = wheels.check_wheel(bad)
    assert any('differ from the file name' in p for p in problems)


def test_an_extension_needing_a_newer_glibc_fails(native_wheel, tmp_path):
    """An extension linked against this machine's glibc (2.36) is what a plain build makes (libc
    itself stands in for one here: it also lacks the module init function)."""
    libc = ctypes.util.find_library('c')
    newer = next(
        Path(d, libc) for d in ('/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu') if Path(d, libc).exists()
    )
    bad = rewrite(
        native_wheel, tmp_path / native_wheel.name, {'datadog_checks/nvidia_nim/_core.abi3.so': newer.read_bytes()}
    )
    _, problems = wheels.check_wheel(bad)
    assert any(p.startswith('needs GLIBC (2, 3') for p in problems), problems
    assert 'does not export PyInit__core' in problems


def test_missing_requirement_fails(native_wheel, tmp_path):
    with zipfile.ZipFile(native_wheel) as zf:
        metadata_file = wheels.dist_info(zf.namelist(), 'METADATA')
        metadata = zf.read(metadata_file).decode()
    stripped = '\n'.join(line for line in metadata.splitlines() if not line.startswith('Requires-Dist:'))
    bad = rewrite(native_wheel, tmp_path / native_wheel.name, {metadata_file: stripped.encode()})
    _, problems = wheels.check_wheel(bad)
    assert any('Requires-Dist' in p for p in problems)
