"""Every mistake a user makes with `python -m datadog_checks.nvidia_nim` is one line on stderr, naming
what is wrong and what to do, with exit status 2 (usage) or 1 (the check's error), and no traceback."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

CLI = [sys.executable, '-m', 'datadog_checks.nvidia_nim']
DOWN = 'http://127.0.0.1:1/metrics'  # nothing listens on port 1
PREFIX = 'nvidia_nim: '


def run_cli(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def conf(*instance_lines):
    return 'init_config:\ninstances:\n' + ''.join(f'{line}\n' for line in instance_lines)


# name: (file content (str, bytes, a directory, or None for no file), CLI arguments, exit, what the line says)
# `{file}` in an argument is the file's path.
MISTAKES = {
    'file does not exist': (None, ['-c', '{file}'], 2, ['-c {file}: no such file', 'conf.d']),
    'file path is empty': (None, ['-c', ''], 2, ['-c: the path is empty']),
    'file is a directory': ('dir', ['-c', '{file}'], 2, ['-c {file}: is a directory', 'conf.yaml']),
    'file is not UTF-8': (b'instances:\n  - openmetrics_endpoint: "\xff"\n', ['-c', '{file}'], 2, ['UTF-8', 'line 2']),
    'file is not YAML': (
        conf(f'  - openmetrics_endpoint: [{DOWN}', '   bad: : :'),
        ['-c', '{file}'],
        2,
        ['-c {file}: not valid YAML', 'line 4'],
    ),
    'file is empty': ('', ['-c', '{file}'], 2, ['-c {file}: is empty', 'instances:']),
    'file is a list': ('- a\n- b\n', ['-c', '{file}'], 2, ['holds a YAML list, not init_config: and instances:']),
    'init_config is a list': ('init_config: [a]\ninstances: [{}]\n', ['-c', '{file}'], 2, ['init_config: is a list']),
    'no instances': ('init_config:\n', ['-c', '{file}'], 2, ['-c {file}: has no instances:']),
    'instances is empty': ('init_config:\ninstances:\n', ['-c', '{file}'], 2, ['instances: is empty']),
    'instances is a mapping': (
        f'init_config:\ninstances:\n  openmetrics_endpoint: {DOWN}\n',
        ['-c', '{file}'],
        2,
        ['instances: is a mapping, not a list', '"- "'],
    ),
    'instance is not a mapping': (
        conf(f'  - {DOWN}'),
        ['-c', '{file}'],
        2,
        ['instance #1: is a string, not a mapping'],
    ),
    'instance has no endpoint': (
        conf(f'  - openmetrics_endpoint: {DOWN}', '  - tags: [team:ml]'),
        ['-c', '{file}'],
        2,
        ['-c {file}, instance #2: has no openmetrics_endpoint', 'add openmetrics_endpoint:'],
    ),
    'models is negative': (None, ['--models', '-1'], 2, ['--models: -1 is out of range', '1 to 1000']),
    'models is zero': (None, ['--models', '0'], 2, ['--models: 0 is out of range']),
    'models is not a number': (None, ['--models', 'abc'], 2, ["--models: 'abc' is not a whole number"]),
    'models without the emulator': (
        None,
        ['--models', '2', '--endpoint', DOWN],
        2,
        ['--models: only applies to the embedded emulator'],
    ),
    'dialect without the emulator': (
        conf(f'  - openmetrics_endpoint: {DOWN}'),
        ['--dialect', 'vllm', '-c', '{file}'],
        2,
        ['--dialect: only applies to the embedded emulator'],
    ),
    'unknown dialect': (None, ['--dialect', 'trtllm'], 2, ["--dialect: invalid choice: 'trtllm'", '--help']),
    'endpoint is empty': (None, ['--endpoint', ''], 2, ['--endpoint: the URL is empty', 'embedded emulator']),
    'endpoint has no scheme': (
        None,
        ['--endpoint', 'localhost:8000/v1/metrics'],
        2,
        ['--endpoint', 'pass http://localhost:8000/v1/metrics'],
    ),
    'endpoint is not http': (None, ['--endpoint', 'ftp://nim/metrics'], 2, ["--endpoint: 'ftp://nim/metrics'"]),
    'percentiles are not numbers': (None, ['--latency-percentiles', 'abc'], 2, ["--latency-percentiles: 'abc'"]),
    'percentiles are percents': (None, ['--latency-percentiles', '50,99'], 2, ['--latency-percentiles: 50', '0.5']),
    'percentiles are empty': (None, ['--latency-percentiles', ''], 2, ['--latency-percentiles: no quantile given']),
    'percentiles are not finite': (None, ['--latency-percentiles', 'nan'], 2, ['--latency-percentiles: nan']),
    'unknown option': (None, ['--endpont', DOWN], 2, ['unrecognized arguments: --endpont', '--help']),
    'option without its value': (None, ['-c'], 2, ['-c/--config: expected one argument']),
    'two sources': (None, ['-c', 'x.yaml', '--endpoint', DOWN], 2, ['not allowed with argument -c/--config']),
    'bad regex in exclude_metrics_by_labels': (
        conf(f'  - openmetrics_endpoint: {DOWN}', '    exclude_metrics_by_labels: {model_name: ["("]}'),
        ['-c', '{file}'],
        1,
        ["-c {file}, instance #1: exclude_metrics_by_labels.model_name[0] '(': not a valid regular expression"],
    ),
    'bad regex in raw_line_filters': (
        conf(f'  - openmetrics_endpoint: {DOWN}', '    raw_line_filters: ["a", "(b"]'),
        ['-c', '{file}'],
        1,
        ["raw_line_filters[1] '(b': not a valid regular expression (missing ), unterminated subpattern at position 0)"],
    ),
    'option of the wrong type': (
        conf(f'  - openmetrics_endpoint: {DOWN}', '    timeout: soon'),
        ['-c', '{file}'],
        1,
        ['-c {file}, instance #1: the check failed:', 'timeout', 'fix that option in {file}'],
    ),
    'endpoint is down': (None, ['--endpoint', DOWN], 1, [f'--endpoint {DOWN}: the check failed: There was an error']),
}


# with --json too: the run errors (stdout holds the JSON document), and a few usage errors
JSON_TOO = {'file is not YAML', 'instances is a mapping', 'models is negative', 'endpoint is empty'}
CASES = [pytest.param(*case, False, id=name) for name, case in MISTAKES.items()] + [
    pytest.param(*case, True, id=f'{name} --json')
    for name, case in MISTAKES.items()
    if case[2] == 1 or name in JSON_TOO
]


@pytest.mark.parametrize('content, args, status, says, as_json', CASES)
def test_mistake_is_one_line_on_stderr(tmp_path, content, args, status, says, as_json):
    path = tmp_path / 'conf.yaml'
    if content == 'dir':
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    args = [arg.format(file=path) for arg in args]
    proc = run_cli(*args, *['--json'] * as_json)
    assert proc.returncode == status, proc.stderr
    assert 'Traceback' not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(PREFIX)
    for words in says:
        assert words.format(file=path) in line
    if status == 2:
        assert proc.stdout == ''  # a usage error runs nothing
    elif as_json:
        (instance,) = json.loads(proc.stdout)
        assert instance['runner']['LastError'] and instance['aggregator']['metrics'] == []
    else:
        assert '[ERROR]' in proc.stdout and '[OK]' not in proc.stdout
        assert 'Started the embedded NIM emulator' not in proc.stdout


def test_debug_adds_the_traceback(tmp_path):
    path = tmp_path / 'conf.yaml'
    path.write_text(conf(f'  - openmetrics_endpoint: [{DOWN}', '   bad: : :'))
    proc = run_cli('-c', str(path), '--debug')
    assert proc.returncode == 2
    first, *rest = proc.stderr.splitlines()
    assert first.startswith(f'{PREFIX}-c {path}: not valid YAML')
    assert 'Traceback (most recent call last):' in rest
    assert 'yaml.parser.ParserError' in proc.stderr
    failed = run_cli('--endpoint', DOWN, '--debug')
    assert failed.returncode == 1
    assert failed.stderr.startswith(f'{PREFIX}--endpoint {DOWN}: the check failed')
    assert 'requests.exceptions.ConnectionError' in failed.stderr


def as_nobody():
    """A command prefix that runs what follows as user nobody (65534), or None when none works here.
    (subprocess's `user=` cannot exec this Python when it lives under /root; setpriv can.)"""
    setpriv = shutil.which('setpriv')
    if setpriv is None:
        return None
    prefix = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups']
    probe = subprocess.run([*prefix, *CLI, '--version'], capture_output=True, timeout=60)
    return prefix if probe.returncode == 0 else None


def test_unreadable_file():
    prefix = []
    if os.geteuid() == 0:  # root reads any file: run the CLI as nobody
        prefix = as_nobody()
        if prefix is None:
            pytest.skip('running as root (who reads any file), and no way here to run the CLI as another user')
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # nobody may enter it, but not read the file
        path = os.path.join(folder, 'conf.yaml')
        with open(path, 'w') as f:
            f.write(conf(f'  - openmetrics_endpoint: {DOWN}'))
        os.chmod(path, 0o000)
        proc = subprocess.run([*prefix, *CLI, '-c', path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line == f'{PREFIX}-c {path}: permission denied; make the file readable by this user, or run as one who can'
    assert proc.stdout == ''
