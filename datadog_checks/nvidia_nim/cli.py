"""Run the nvidia_nim check once (twice with -r) the way `datadog-agent check nvidia_nim` does, and
print what the Agent would send, in the Agent's layout.

Without -c/--endpoint it starts the embedded NIM emulator on loopback and scrapes that; --dialect
picks what it serves (NIM 1.x, or a NIM 2.x passing vLLM V1 or SGLang metrics through)."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

import yaml

from datadog_checks.base.agent import aggregator, datadog_agent

from . import NvidiaNIMCheck, __version__
from .emulator import DIALECTS, NimEmulator

CHECK = 'nvidia_nim'
PROG = 'python -m datadog_checks.nvidia_nim'
MAX_MODELS = 1000
STATUSES = {0: 'OK', 1: 'WARNING', 2: 'CRITICAL', 3: 'UNKNOWN'}
# the type of the series the Agent sends for each submission type (a rate is sent as a gauge); the
# check submits no other type (a counter, histogram or historate would be shown as its last value)
SENT_TYPES = {
    aggregator.GAUGE: 'gauge',
    aggregator.RATE: 'gauge',
    aggregator.COUNT: 'count',
    aggregator.MONOTONIC_COUNT: 'count',
    aggregator.COUNTER: 'counter',
    aggregator.HISTOGRAM: 'histogram',
    aggregator.HISTORATE: 'historate',
}
EXAMPLE_ENDPOINT = 'http://<nim-host>:8000/v1/metrics'

EPILOG = f"""\
what it prints, as `datadog-agent check {CHECK}` does:
  === Series ===          what the Agent sends after the (last) run: gauges as submitted; each
                          monotonic_count as a `count` series holding the increase since the previous
                          run, so a single run sends none (unless the check flushes the first value):
                          use -r to see them; a rate as a per-second `gauge` between two runs.
                          Host "-" stands for the Agent's own hostname.
  === Histogram Buckets ===
                          only with histogram_buckets_as_distributions (or the like): the bucket
                          counts the Agent turns into distributions (their increase, as for counters)
  === Service Checks ===  check, host_name, timestamp, status, message, tags
  Running Checks          instance ID, Total Runs, Metric Samples and Service Checks submitted,
                          execution time, last (successful) execution date, the error if any
  Metadata                what the check set (version.*)
  --json prints one JSON document: per instance {{"aggregator": {{"metrics": [{{metric, points,
  tags, host, type, interval, source_type_name}}], "service_checks": [{{check, host_name, timestamp,
  status, message, tags}}], "histogram_buckets" (if any)}}, "runner": {{CheckID, TotalRuns, MetricSamples,
  ..., LastError}}, "metadata": {{...}}}}.

exit status: 0 when the check ran; 1 when a run failed (the check's error); 2 on a usage error (a bad
option value, or a -c file that is missing, unreadable, not YAML or not shaped like a conf.d file).
Every error is one line on stderr: `{CHECK}: <what>: <why>; <what to do>` (--debug adds the traceback).
"""


class UsageError(Exception):
    """A mistake in how the CLI was called (exit status 2)."""

    def __init__(self, what: str, why: str, todo: str):
        super().__init__(f'{what}: {why}; {todo}')


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (`argument --models: ...` becomes `--models: ...`)."""

    def error(self, message: str) -> NoReturn:
        what, _, why = message.removeprefix('argument ').partition(': ')
        if not why:
            what, why = 'the command line', what
        why, _, todo = why.partition('; ')
        raise UsageError(what, why, todo or f'see {PROG} --help')


# --- option values ---------------------------------------------------------------------------------


def model_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number; pass 1 to {MAX_MODELS}') from None
    if not 1 <= count <= MAX_MODELS:
        raise argparse.ArgumentTypeError(f'{count} is out of range; pass 1 to {MAX_MODELS}')
    return count


def quantiles(text: str) -> list[float]:
    example = 'e.g. 0.5,0.9,0.99'
    values = []
    if not text.strip():
        raise argparse.ArgumentTypeError(f'no quantile given; pass quantiles, {example}')
    for item in (part.strip() for part in text.split(',')):
        try:
            q = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{item!r} is not a number; pass quantiles, {example}') from None
        if not 0 < q < 1:
            todo = f'for the {item}th percentile pass {q / 100:g}' if 1 < q < 100 else example
            raise argparse.ArgumentTypeError(f'{item} is not between 0 and 1 (both excluded); {todo}')
        values.append(q)
    return values


def endpoint_url(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f'the URL is empty; pass the NIM metrics URL, e.g. {EXAMPLE_ENDPOINT}, or leave --endpoint out '
            'to scrape the embedded emulator'
        )
    if '://' not in text:
        raise argparse.ArgumentTypeError(f'{text!r} has no scheme; pass http://{text} (or https://)')
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise argparse.ArgumentTypeError(f'{text!r} is not a valid URL ({e}); pass e.g. {EXAMPLE_ENDPOINT}') from None
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise argparse.ArgumentTypeError(f'{text!r} is not an http(s) URL with a host; pass e.g. {EXAMPLE_ENDPOINT}')
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog=PROG, description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument('-c', '--config', metavar='FILE', help='a conf.d YAML (init_config + instances): runs each')
    source.add_argument('--endpoint', metavar='URL', type=endpoint_url, help=f'the NIM metrics URL: {EXAMPLE_ENDPOINT}')
    parser.add_argument(
        '-r', '--check-rate', action='store_true', help='run twice, 1 s apart, and show what the 2nd run sends'
    )
    parser.add_argument('--json', action='store_true', help='print one JSON document instead of tables')
    parser.add_argument(
        '--latency-percentiles',
        metavar='Q,Q,...',
        type=quantiles,
        help='set the instance option latency_percentiles, e.g. 0.5,0.9,0.99 (with -c: in every instance of the '
        "file, replacing the file's value); the estimates start with the 2nd run: use -r",
    )
    emulator = parser.add_argument_group('the embedded emulator (without -c and --endpoint)')
    emulator.add_argument(
        '--models', metavar='N', type=model_count, help=f'models it serves, 1 to {MAX_MODELS} (default 1)'
    )
    emulator.add_argument(
        '--dialect', choices=DIALECTS, help='what it serves: NIM 1.x (nim1, default), NIM 2.x with vLLM V1 or SGLang'
    )
    parser.add_argument(
        '-l',
        '--log-level',
        metavar='LEVEL',
        choices=('debug', 'info', 'warning', 'error'),
        help="show the check's logs on stderr from LEVEL on: debug, info, warning or error (default: none)",
    )
    parser.add_argument('--debug', action='store_true', help='on an error, also print its traceback on stderr')
    parser.add_argument('--version', action='version', version=f'{CHECK} check {__version__}')
    args = parser.parse_args(argv)
    for option in ('models', 'dialect'):
        if (args.config, args.endpoint) != (None, None) and getattr(args, option) is not None:
            raise UsageError(
                f'--{option}', 'only applies to the embedded emulator', 'drop it, or drop -c/--endpoint to run the demo'
            )
    return args


# --- the conf.d file -------------------------------------------------------------------------------


def kind(value: Any) -> str:
    names = {dict: 'mapping', list: 'list', str: 'string', bool: 'boolean', int: 'number', float: 'number'}
    return names.get(type(value), type(value).__name__)


def read_bytes(path: str) -> bytes:
    what = f'-c {path}'
    if not path:
        raise UsageError(
            '-c', 'the path is empty', 'pass the path of a conf.d YAML, e.g. conf.d/nvidia_nim.d/conf.yaml'
        )
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError as e:
        raise UsageError(
            what, 'no such file', 'pass the path of a conf.d YAML, e.g. conf.d/nvidia_nim.d/conf.yaml'
        ) from e
    except IsADirectoryError as e:
        raise UsageError(
            what, 'is a directory', f'pass the YAML file in it, e.g. {os.path.join(path, "conf.yaml")}'
        ) from e
    except PermissionError as e:
        raise UsageError(what, 'permission denied', 'make the file readable by this user, or run as one who can') from e
    except OSError as e:
        raise UsageError(what, e.strerror or str(e), 'pass a readable conf.d YAML file') from e


def read_yaml(path: str) -> Any:
    raw = read_bytes(path)
    what = f'-c {path}'
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b'\n') + 1
        raise UsageError(what, f'not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line})', 'save it as UTF-8') from e
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark else ''
        raise UsageError(what, f'not valid YAML: {e.problem or e.context}{where}', 'fix the YAML there') from e
    except yaml.YAMLError as e:
        raise UsageError(what, f'not valid YAML: {one_line(str(e))}', 'fix the YAML') from e


def conf_d(path: str, data: Any) -> tuple[dict, list[dict]]:
    """init_config and instances of a conf.d file, once its shape is right."""
    what = f'-c {path}'
    example = f'e.g. "instances: [{{openmetrics_endpoint: {EXAMPLE_ENDPOINT}}}]"'
    if data is None:
        raise UsageError(what, 'is empty', f'write init_config: and instances: in it, {example}')
    if not isinstance(data, dict):
        raise UsageError(what, f'holds a YAML {kind(data)}, not init_config: and instances:', f'write them, {example}')
    init_config = {} if data.get('init_config') is None else data['init_config']
    if not isinstance(init_config, dict):
        raise UsageError(
            what, f'init_config: is a {kind(init_config)}, not a mapping', 'leave it empty or give it options'
        )
    instances = data.get('instances')
    if not isinstance(instances, list) or not instances:
        why = 'is empty' if instances in (None, []) else f'is a {kind(instances)}, not a list'
        why = f'instances: {why}' if 'instances' in data else 'has no instances:'
        raise UsageError(what, why, f'list each instance under it with "- ", {example}')
    for number, instance in enumerate(instances, 1):
        if not isinstance(instance, dict):
            raise UsageError(
                f'{what}, instance #{number}', f'is a {kind(instance)}, not a mapping', f'give it options, {example}'
            )
        if not instance.get('openmetrics_endpoint'):
            raise UsageError(
                f'{what}, instance #{number}',
                'has no openmetrics_endpoint',
                f'add openmetrics_endpoint: {EXAMPLE_ENDPOINT}',
            )
    return init_config, instances


@dataclass
class Target:
    """One instance to run, and how to name it to the user."""

    where: str
    source: str
    instance: dict
    init_config: dict = field(default_factory=dict)
    file: str | None = None


def targets(args: argparse.Namespace) -> list[Target]:
    """What to run: every instance of the -c file, or one instance (its endpoint is filled in once the
    embedded emulator listens)."""
    extra = {} if args.latency_percentiles is None else {'latency_percentiles': args.latency_percentiles}
    if args.config is not None:
        init_config, instances = conf_d(args.config, read_yaml(args.config))
        path = os.path.abspath(args.config)
        return [
            Target(f'-c {args.config}, instance #{n}', f'file:{path}', {**instance, **extra}, init_config, args.config)
            for n, instance in enumerate(instances, 1)
        ]
    if args.endpoint is not None:
        return [
            Target(
                f'--endpoint {args.endpoint}',
                'command line: --endpoint',
                {'openmetrics_endpoint': args.endpoint, **extra},
            )
        ]
    return [Target('the embedded emulator', 'the embedded NIM emulator', extra)]


# --- what the Agent makes of the submissions ---------------------------------------------------------


@dataclass
class MonotonicCount:
    """The Agent's monotonic count: the increase between samples, across runs (pkg/metrics)."""

    previous: float = 0.0
    current: float = 0.0
    sampled: bool = False
    has_previous: bool = False
    value: float = 0.0
    flush_first: bool = False

    def add(self, sample: float, flush_first: bool) -> None:
        if not self.sampled:
            self.current, self.sampled = sample, True
        else:
            self.previous, self.current, self.has_previous = self.current, sample, True
        self.flush_first = flush_first
        diff = self.current - self.previous
        if (self.has_previous or flush_first) and diff >= 0:
            self.value += diff
        elif flush_first:
            self.value = self.current  # a reset: the counter restarted from 0

    def flush(self) -> float | None:
        if not self.sampled or not (self.has_previous or self.flush_first):
            return None
        value = self.value
        self.previous, self.current, self.value = self.current, 0.0, 0.0
        self.has_previous, self.sampled, self.flush_first = True, False, False
        return value


@dataclass
class Rate:
    """The Agent's rate: per second between the last samples of two runs, sent as a gauge."""

    previous: tuple[float, float] | None = None
    last: tuple[float, float] | None = None

    def add(self, sample: float, timestamp: float) -> None:
        if self.last is not None:
            self.previous = self.last
        self.last = (sample, timestamp)

    def flush(self) -> float | None:
        if self.previous is None or self.last is None or self.last[1] == self.previous[1]:
            return None
        (value, ts), (before, before_ts) = self.last, self.previous
        self.previous, self.last = self.last, None
        rate = (value - before) / (ts - before_ts)
        return rate if rate >= 0 else None


class Sampler:
    """What the Agent's check sampler sends for one instance, run after run: state is kept between
    runs for monotonic counts, rates and monotonic histogram buckets."""

    def __init__(self) -> None:
        self.stateful: dict[tuple, MonotonicCount | Rate] = {}
        self.buckets: dict[tuple, int] = {}

    def flush(self, samples: list, timestamp: float) -> tuple[list[dict], int]:
        """(series, contexts that sent nothing this run) for one run's metric submissions."""
        values: dict[tuple, float] = {}
        for s in samples:
            key = (s.name, s.type, tuple(s.tags), s.hostname or '')
            if s.type == aggregator.MONOTONIC_COUNT:
                self.stateful.setdefault(key, MonotonicCount()).add(s.value, bool(s.flush_first_value))
            elif s.type == aggregator.RATE:
                self.stateful.setdefault(key, Rate()).add(s.value, timestamp)
            elif s.type == aggregator.COUNT:
                values[key] = values.get(key, 0.0) + s.value
            else:
                values[key] = s.value
        series, held = [], 0
        for key in dict.fromkeys((s.name, s.type, tuple(s.tags), s.hostname or '') for s in samples):
            value = self.stateful[key].flush() if key in self.stateful else values[key]
            if value is None:
                held += 1
                continue
            series.append(serie(key[0], SENT_TYPES.get(key[1], 'gauge'), timestamp, value, list(key[2]), key[3]))
        return sorted(series, key=lambda m: m['metric']), held

    def flush_buckets(self, buckets: list[dict]) -> list[dict]:
        """Histogram buckets as the Agent takes them in (it turns them into distributions): the
        increase of monotonic buckets, the first one held back unless flush_first_value."""
        sent = []
        for b in buckets:
            key = (b['metric'], tuple(b['tags']), b['host'], b['lower_bound'], b['upper_bound'])
            value = b['value']
            if b.pop('monotonic'):
                last = self.buckets.get(key)
                self.buckets[key] = value
                if last is None and not b['flush_first_value']:
                    continue
                value -= last or 0
            if value > 0:
                sent.append({k: v for k, v in b.items() if k != 'flush_first_value'} | {'value': value})
        return sent


def serie(name: str, kind_: str, timestamp: float, value: float, tags: list[str], host: str) -> dict:
    return {
        'metric': name,
        'points': [[int(timestamp), value]],
        'tags': tags,
        'host': host,
        'type': kind_,
        'interval': 0,
        'source_type_name': 'System',
    }


# --- running the check -------------------------------------------------------------------------------


class CliCheck(NvidiaNIMCheck):
    """The check, recording the histogram buckets it submits (which the aggregator stub only lists by
    name)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.submitted_buckets: list[dict] = []

    def submit_histogram_bucket(
        self, name, value, lower_bound, upper_bound, monotonic, hostname, tags, *args, **kwargs
    ):
        super().submit_histogram_bucket(
            name, value, lower_bound, upper_bound, monotonic, hostname, tags, *args, **kwargs
        )
        if value is None:
            return  # ignored
        raw = args[0] if args else kwargs.get('raw', False)
        flush_first_value = args[1] if len(args) > 1 else kwargs.get('flush_first_value', False)
        self.submitted_buckets.append(
            {
                'metric': name if raw else f'{self.__NAMESPACE__}.{name}',
                'value': int(value),
                'lower_bound': lower_bound,
                'upper_bound': upper_bound,
                'monotonic': monotonic,
                'flush_first_value': flush_first_value,
                'tags': list(tags or []),
                'host': hostname or '',
            }
        )


@dataclass
class Result:
    """One instance's runs: what the last one sent, and the Agent's runner statistics."""

    target: Target
    runner: dict
    series: list[dict] = field(default_factory=list)
    service_checks: list[dict] = field(default_factory=list)
    buckets: list[dict] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    held: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (run, message, traceback)

    def as_json(self) -> dict:
        sent: dict[str, Any] = {'metrics': self.series, 'service_checks': self.service_checks}
        if self.buckets:
            sent['histogram_buckets'] = self.buckets
        return {'aggregator': sent, 'runner': self.runner, 'metadata': self.metadata}


def instance_id(target: Target) -> str:
    """An ID like the Agent's, `nvidia_nim:[<name>:]<hash of the configuration>` (not the same hash)."""
    config = json.dumps([target.instance, target.init_config], sort_keys=True, default=str)
    name = target.instance.get('name')
    prefix = f'{CHECK}:{name}:' if isinstance(name, str) and name else f'{CHECK}:'
    return prefix + hashlib.blake2b(config.encode(), digest_size=8).hexdigest()


RUNNER_COUNTS = (
    'TotalRuns', 'TotalErrors', 'TotalWarnings', 'MetricSamples', 'Events', 'ServiceChecks', 'HistogramBuckets',
    'TotalMetricSamples', 'TotalEvents', 'TotalServiceChecks', 'TotalHistogramBuckets',
    'AverageExecutionTime', 'LastExecutionTime', 'LastSuccessDate', 'UpdateTimestamp',
)  # fmt: skip


def new_runner(target: Target) -> dict:
    """The Agent's runner statistics of a check instance (its `check --json` "runner"), before any run."""
    runner: dict[str, Any] = {'CheckName': CHECK, 'CheckVersion': __version__, 'CheckConfigSource': target.source}
    runner['CheckID'] = instance_id(target)
    return runner | dict.fromkeys(RUNNER_COUNTS, 0) | {'LastError': '', 'LastWarnings': []}


def run_check(check: CliCheck) -> tuple[str, str]:
    """(error message, traceback) of one run; empty when it succeeded."""
    try:
        report = check.run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a panic of the Rust core is a BaseException
        return f'{type(e).__name__}: {e}', traceback.format_exc()
    if not report:
        return '', ''
    error = json.loads(report)[0]
    return error.get('message') or 'failed without a message', error.get('traceback') or ''


def run_once(result: Result, check: CliCheck, sampler: Sampler) -> None:
    aggregator.reset()
    check.submitted_buckets.clear()
    started = time.perf_counter()
    message, tb = run_check(check)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    now = time.time()
    samples = [m for name in aggregator.metric_names for m in aggregator.metrics(name)]
    checks = [s for name in aggregator.service_check_names for s in aggregator.service_checks(name)]
    result.series, result.held = sampler.flush(samples, now)
    result.buckets = sampler.flush_buckets(list(check.submitted_buckets))
    result.service_checks = [service_check(s, now) for s in checks]
    record_run(
        result.runner, check, elapsed_ms, now, message, (len(samples), len(checks), len(check.submitted_buckets))
    )
    if message:
        result.errors.append((result.runner['TotalRuns'], message, tb))


def service_check(stub: Any, timestamp: float) -> dict:
    return {
        'check': stub.name,
        'host_name': stub.hostname or '',
        'timestamp': int(timestamp),
        'status': stub.status,
        'message': stub.message or '',
        'tags': list(stub.tags),
    }


def record_run(runner: dict, check: CliCheck, elapsed_ms: int, now: float, error: str, counts: tuple) -> None:
    runner['TotalRuns'] += 1
    runner['LastExecutionTime'] = elapsed_ms
    runner['AverageExecutionTime'] = (
        runner['AverageExecutionTime'] * (runner['TotalRuns'] - 1) + elapsed_ms
    ) // runner['TotalRuns']
    runner['UpdateTimestamp'] = int(now)
    runner['LastError'] = one_line(error)
    runner['TotalErrors'] += bool(error)
    if not error:
        runner['LastSuccessDate'] = int(now)
    runner['LastWarnings'] = [one_line(str(w)) for w in check.get_warnings()]
    runner['TotalWarnings'] += len(runner['LastWarnings'])
    for name, count in zip(('MetricSamples', 'ServiceChecks', 'HistogramBuckets'), counts, strict=True):
        runner[name] = count
        runner[f'Total{name}'] += count


def run_target(target: Target, runs: int, metadata: dict) -> Result:
    result = Result(target, new_runner(target))
    sampler = Sampler()
    try:
        check = CliCheck(CHECK, target.init_config, [target.instance])
    except Exception as e:  # the Agent reports it as a check that could not be loaded
        result.errors.append((0, str(e), traceback.format_exc()))
        result.runner.update(LastError=one_line(str(e)), TotalErrors=1)
        return result
    check.check_id = result.runner['CheckID']
    for run in range(runs):
        if run:
            time.sleep(1)
        run_once(result, check, sampler)
    result.metadata = {name: value for (check_id, name), value in metadata.items() if check_id == check.check_id}
    return result


@contextlib.contextmanager
def recorded_metadata() -> Iterator[dict]:
    """The metadata the checks set, as the Agent receives it: (check ID, name) -> value."""
    recorded: dict[tuple[str, str], str] = {}
    submit = datadog_agent.set_check_metadata

    def record(check_id: str, name: str, value: str) -> None:
        recorded[(check_id, name)] = value
        submit(check_id, name, value)

    datadog_agent.set_check_metadata = record
    try:
        yield recorded
    finally:
        datadog_agent.set_check_metadata = submit


@contextlib.contextmanager
def check_logs(level: str | None) -> Iterator[None]:
    """The check's logs (and Python warnings) on stderr from `level` on; none without it."""
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    handler: logging.Handler = logging.NullHandler()
    if level:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter('%(asctime)s | %(levelname)s | %(name)s | %(message)s'))
    root.handlers = [handler]
    root.setLevel(level.upper() if level else logging.CRITICAL + 1)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers = saved[1]
        root.setLevel(saved[0])


# --- errors ------------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """A multi-line message (a configuration model's) as one line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return text.strip()
    head, items = lines[0].strip(), []
    for line in lines[1:]:
        if line[:1].isspace() and items:
            items[-1] += f': {line.strip()}'
        else:
            items.append(line.strip())
    return f'{head} {"; ".join(items)}'


def bad_patterns(value: Any, path: str = '') -> Iterator[tuple[str, str, str]]:
    """(option, pattern, error) of every string in an instance that is not a valid regex."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from bad_patterns(item, f'{path}.{key}' if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from bad_patterns(item, f'{path}[{i}]')
    elif isinstance(value, str):
        try:
            re.compile(value)
        except re.error as e:
            yield path, value, str(e)


def regex_error(message: str) -> str:
    """A regex compilation error without its position (the check may have joined several patterns)."""
    return re.sub(r' at position \d+.*', '', message.strip())


def check_error(result: Result) -> str:
    """The one line telling what a failed run of the check said, and what to do."""
    run, message, tb = result.errors[-1]
    target = result.target
    when = f' (run {run} of {result.runner["TotalRuns"]})' if run != result.runner['TotalRuns'] else ''
    options = [(o, p, e) for o, p, e in bad_patterns(target.instance) if regex_error(e) == regex_error(message)]
    if options:  # name the option(s) the check's regex error comes from
        named = ', '.join(f'{option} {pattern!r}' for option, pattern, _ in options)
        why = 'not valid regular expressions' if len(options) > 1 else 'not a valid regular expression'
        return f'{target.where}{when}: {named}: {why} ({options[0][2]}); fix the pattern'
    last = tb.rstrip().splitlines()[-1] if tb.strip() else ''
    if 'ConfigurationError' in last or 'configuration model' in message:
        todo = f'fix that option in {target.file}' if target.file else 'fix that option'
    elif 'error scraping endpoint' in message:
        todo = 'check that the NIM is up and serves its metrics at that URL'
    else:
        todo = 'rerun with --debug for the traceback'
    return f'{target.where}{when}: the check failed: {one_line(message)}; {todo}'


def report(message: str, tb: str = '') -> None:
    sys.stderr.write(f'{CHECK}: {message}\n')
    if tb:
        sys.stderr.write(tb if tb.endswith('\n') else f'{tb}\n')


# --- output ------------------------------------------------------------------------------------------


def number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f'{value:.10g}' if isinstance(value, float) else str(value)


def write_columns(out: TextIO, title: str, header: list[str], rows: list[list[str]]) -> None:
    out.write(f'=== {title} ===\n')
    if not rows:
        out.write('(none)\n')
        return
    rows = [header, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        out.write('  '.join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]) + '\n')


def write_sent(out: TextIO, result: Result) -> None:
    header = ['METRIC', 'TYPE', 'POINTS [[timestamp, value]]', 'HOST', 'TAGS']
    rows = [
        [m['metric'], m['type'], f'[[{ts}, {number(v)}]]', m['host'] or '-', ','.join(m['tags'])]
        for m in result.series
        for ts, v in m['points']
    ]
    write_columns(out, 'Series', header, rows)
    if result.buckets:
        header = ['METRIC', 'BUCKET', 'COUNT', 'HOST', 'TAGS']
        rows = [
            [b['metric'], f'{number(b["lower_bound"])}..{number(b["upper_bound"])}', str(b['value'])]
            + [b['host'] or '-', ','.join(b['tags'])]
            for b in result.buckets
        ]
        write_columns(out, 'Histogram Buckets (the Agent sends them as distributions)', header, rows)
    header = ['CHECK', 'HOST_NAME', 'TIMESTAMP', 'STATUS', 'MESSAGE', 'TAGS']
    rows = [
        [s['check'], s['host_name'] or '-', str(s['timestamp']), STATUSES.get(s['status'], str(s['status']))]
        + [s['message'] or '-', ','.join(s['tags'])]
        for s in result.service_checks
    ]
    write_columns(out, 'Service Checks', header, rows)


def date(timestamp: int) -> str:
    if not timestamp:
        return 'Never'
    return f'{datetime.fromtimestamp(timestamp, UTC):%Y-%m-%d %H:%M:%S} UTC ({timestamp * 1000})'


def write_runner(out: TextIO, result: Result) -> None:
    r = result.runner
    status = 'ERROR' if r['LastError'] else 'WARNING' if r['LastWarnings'] else 'OK'
    title = f'{CHECK} ({__version__})'
    lines = [f'Instance ID: {r["CheckID"]} [{status}]', f'Configuration Source: {r["CheckConfigSource"]}']
    lines.append(f'Total Runs: {r["TotalRuns"]}')
    for label, name in (('Metric Samples', 'MetricSamples'), ('Events', 'Events'), ('Service Checks', 'ServiceChecks')):
        lines.append(f'{label}: Last Run: {r[name]}, Total: {r["Total" + name]}')
    if r['TotalHistogramBuckets']:
        lines.append(f'Histogram Buckets: Last Run: {r["HistogramBuckets"]}, Total: {r["TotalHistogramBuckets"]}')
    lines.append(f'Average Execution Time : {r["AverageExecutionTime"]}ms')
    lines.append(f'Last Execution Date : {date(r["UpdateTimestamp"])}')
    lines.append(f'Last Successful Execution Date : {date(r["LastSuccessDate"])}')
    lines += [f'Error: {r["LastError"]}'] * bool(r['LastError']) + [f'Warning: {w}' for w in r['LastWarnings']]
    out.write('=========\nCollector\n=========\n\n  Running Checks\n  ==============\n\n')
    out.write(f'    {title}\n    {"-" * len(title)}\n' + ''.join(f'      {line}\n' for line in lines))
    out.write('\n  Metadata\n  ========\n' + ''.join(f'    {k}: {v}\n' for k, v in result.metadata.items()))


def write_tables(out: TextIO, results: list[Result], runs: int) -> None:
    for result in results:
        write_sent(out, result)
        write_runner(out, result)
        out.write('\n')
    held = sum(result.held for result in results)
    if runs == 1 and held:
        out.write(
            f'The check has run once: {held} series (monotonic counts, rates) send their first value from the '
            'second run on; run with -r/--check-rate to see them.\n'
        )


# --- main --------------------------------------------------------------------------------------------


class RunError(Exception):
    """The run could not happen (exit status 1)."""


def start_emulator(args: argparse.Namespace, target: Target) -> NimEmulator:
    """The embedded emulator, listening; `target` scrapes it."""
    models, dialect = args.models or 1, args.dialect or 'nim1'
    try:
        emulator = NimEmulator(models=models, dialect=dialect).start()
    except OSError as e:
        raise RunError(f'the embedded emulator: cannot listen on 127.0.0.1 ({e}); use --endpoint URL or -c FILE') from e
    target.instance['openmetrics_endpoint'] = emulator.metrics_url
    if not args.json:
        try:
            sys.stdout.write(
                f'Started the embedded NIM emulator at {emulator.base_url} '
                f'({models} model{"s" * (models > 1)}, {dialect} dialect)\n\n'
            )
        except BaseException:
            emulator.stop()
            raise
    return emulator


def run(argv: list[str] | None) -> int:
    args = parse_args(argv)
    plan = targets(args)  # every usage error is raised by now: nothing printed, nothing started
    runs = 2 if args.check_rate else 1
    with check_logs(args.log_level), recorded_metadata() as metadata:
        demo = args.config is None and args.endpoint is None
        emulator = start_emulator(args, plan[0]) if demo else None
        try:
            results = [run_target(target, runs, metadata) for target in plan]
        finally:
            if emulator is not None:
                emulator.stop()
    if args.json:
        json.dump([result.as_json() for result in results], sys.stdout, indent=2)
        sys.stdout.write('\n')
    else:
        write_tables(sys.stdout, results, runs)
    sys.stdout.flush()
    for result in (r for r in results if r.errors):
        report(check_error(result), result.errors[-1][2] if args.debug else '')
    return 1 if any(result.errors for result in results) else 0


def main(argv: list[str] | None = None) -> int:
    debug = '--debug' in (sys.argv[1:] if argv is None else argv)
    try:
        return run(argv)
    except UsageError as e:
        report(str(e), traceback.format_exc() if debug else '')
        return 2
    except RunError as e:
        report(str(e), traceback.format_exc() if debug else '')
        return 1
    except KeyboardInterrupt:
        report('interrupted')
        return 130
    except BrokenPipeError:  # stdout closed early (| head): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:
        report(
            f'internal error: {type(e).__name__}: {one_line(str(e))}; rerun with --debug and report it',
            traceback.format_exc() if debug else '',
        )
        return 1
