"""The project's scripts refuse an interpreter they cannot use at once, in one line, before
anything slow (scripts/venv.sh, sourced by setup, demo, test, wheels and prove-wheels)."""

import os
import subprocess

import pytest
from common import PROJECT_ROOT


def run_setup(python: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHON': python}
    return subprocess.run(
        ['bash', 'scripts/setup'], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def old_python(directory) -> str:
    """An interpreter that says it is 3.10 and fails the version test, as a real 3.10 does."""
    fake = directory / 'python3.10'
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "Python 3.10.13"; exit 0; }\nexit 1\n')
    fake.chmod(0o755)
    return str(fake)


@pytest.mark.parametrize(
    'python, found',
    [('/nonexistent/python3', 'no runnable /nonexistent/python3'), (None, 'Python 3.10.13')],
    ids=['missing', 'too-old'],
)
def test_unusable_python_is_one_line_and_exit_2(tmp_path, python, found):
    proc = run_setup(python or old_python(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ''
    (line,) = proc.stderr.splitlines()
    assert line == (
        f'needs Python 3.11 or newer with the venv module (found: {found}); '
        'pick another with PYTHON=, e.g. PYTHON=python3.12 bash scripts/demo'
    )
