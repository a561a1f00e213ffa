"""Side by side: the stock OpenMetricsBaseCheckV2 (configured as the integration we replace) and
this check, scraping the same loopback endpoint (served by a separate process, as a NIM is),
alternately in one process. For each payload size and aggregator stand-in it prints the CPU and
wall-clock ms per run (best of N; CPU time is this process's, so the endpoint's work is not
counted), the ratios stock/ours, how many NIM endpoints one Agent core could check every 15 s
(15 s / CPU per run), and the peak RSS a check adds; then the RSS growth of each check over many
steady-state runs.

    .venv/bin/python benchmarks/side_by_side.py            # everything (a few minutes)
    .venv/bin/python benchmarks/side_by_side.py --models 100 --aggregator agent --growth-runs 0

Payloads: 1 model is the real NIM 1.x scrape (tests/fixtures/nim_metrics.txt); N models is the
emulator's N-model payload. Aggregator stand-ins (what `aggregator.submit_*` is while the checks run):

* `agent`: a C extension built here with the machine's C compiler against this Python's headers
  (benchmarks/agent_aggregator.c), with the per-call cost of the Agent's builtin C module: it
  parses its arguments with the builtin's formats (`"OsisdOs|b"` for a metric) and copies every
  tag into a C string. What the Agent's Go side does after that is not counted (the same for both
  checks per submission).
* `lean`: a Python method appending the arguments to one flat list (cheaper than the builtin: it
  copies no tag).
* `stub`: datadog_checks_base's stub aggregator, what the tests use (about 2.5 us of Python
  bookkeeping per submission, the same for both checks).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import multiprocessing
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'tests'))

from common import PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck, fixture_bytes  # noqa: E402

from datadog_checks.base.stubs import aggregator as stub_aggregator  # noqa: E402
from datadog_checks.nvidia_nim import NvidiaNIMCheck  # noqa: E402
from datadog_checks.nvidia_nim.emulator import NimMetrics  # noqa: E402

CHECK_INTERVAL_SECONDS = 15


class LeanAggregator:
    """Records every argument of every submission in one flat list (no per-submission tuple left
    for Python's garbage collector to track)."""

    GAUGE, RATE, COUNT, MONOTONIC_COUNT, COUNTER, HISTOGRAM, HISTORATE = range(7)
    FIELDS = 6  # type, name, value, tags, hostname, flush_first_value

    def __init__(self):
        self.metrics = []
        self.other = []

    def reset(self):
        self.metrics.clear()
        self.other.clear()

    def submit_metric(self, check, check_id, mtype, name, value, tags, hostname, flush_first_value):
        self.metrics.extend((mtype, name, value, tags, hostname, flush_first_value))

    def submit_service_check(self, check, check_id, name, status, tags, hostname, message):
        self.other.append((name, status, tags, hostname, message))

    def submit_histogram_bucket(self, *args):
        self.other.append(args)

    def submission_count(self) -> int:
        return len(self.metrics) // self.FIELDS


@dataclass
class StandIn:
    """An aggregator stand-in: what the checks submit to, and how to reset and count it."""

    name: str
    module: Any
    reset: Callable[[], None]
    submissions: Callable[[], int]


def build_agent_aggregator(directory: Path) -> Any:
    """benchmarks/agent_aggregator.c compiled against this Python's headers and loaded; None (with
    the reason printed) when there is no C compiler or the build fails."""
    compiler = os.environ.get('CC') or shutil.which('gcc') or shutil.which('cc')
    if compiler is None:
        print('agent stand-in: no C compiler (gcc/cc, or $CC): skipped')
        return None
    target = directory / f'agent_aggregator{sysconfig.get_config_var("EXT_SUFFIX")}'
    command = [compiler, '-O2', '-shared', '-fPIC', f'-I{sysconfig.get_paths()["include"]}']
    command += [str(HERE / 'agent_aggregator.c'), '-o', str(target)]
    build = subprocess.run(command, capture_output=True, text=True)
    if build.returncode != 0:
        print(f'agent stand-in: build failed, skipped:\n{build.stderr}')
        return None
    spec = importlib.util.spec_from_file_location('agent_aggregator', target)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stand_ins(names: list[str], build_dir: Path) -> list[StandIn]:
    made = []
    for name in names:
        if name == 'agent':
            module = build_agent_aggregator(build_dir)
            if module is not None:
                made.append(StandIn('agent', module, module.reset, lambda m=module: m.counts()[0]))
        elif name == 'lean':
            lean = LeanAggregator()
            made.append(StandIn('lean', lean, lean.reset, lean.submission_count))
        else:
            made.append(StandIn('stub', stub_aggregator, stub_aggregator.reset, stub_submission_count))
    return made


def stub_submission_count() -> int:
    return sum(len(stub_aggregator.metrics(name)) for name in stub_aggregator.metric_names)


def use_aggregator(module: Any) -> None:
    """Points AgentCheck's submissions and this check's direct path at `module`."""
    import datadog_checks.base.checks.base as base_module
    import datadog_checks.nvidia_nim.check as check_module

    base_module.aggregator = module
    check_module.aggregator = module


def serve(body: bytes, ready, port) -> None:
    with PayloadServer(body, PROM_CONTENT_TYPE) as server:
        port.value = server.httpd.server_address[1]
        ready.set()
        while True:
            time.sleep(3600)


class Endpoint:
    """The payload served by a child process on loopback."""

    def __init__(self, body: bytes):
        ctx = multiprocessing.get_context('fork')
        self.ready = ctx.Event()
        self.port = ctx.Value('i', 0)
        self.process = ctx.Process(target=serve, args=(body, self.ready, self.port), daemon=True)

    def __enter__(self) -> str:
        self.process.start()
        if not self.ready.wait(30):
            raise SystemExit('payload server did not start')
        return f'http://127.0.0.1:{self.port.value}/metrics'

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.join()


def status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Resets VmHWM (Linux >= 4.0), so the next reading is the peak since now."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class Timing:
    """Wall-clock and CPU seconds of each timed run of one check, and the peak RSS it added."""

    def __init__(self):
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.peak_mib = 0.0

    @property
    def wall(self) -> float:
        return min(self.walls)

    @property
    def cpu(self) -> float:
        return min(self.cpus)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpus)

    def first_run(self, check, agg: StandIn) -> None:
        """The first run builds what a check keeps between runs; the peak RSS above the RSS
        before it is what the check costs in memory."""
        agg.reset()
        gc.collect()
        base = status_kib('VmRSS')
        reset_peak_rss()
        self.run(check, agg, timed=False)
        self.peak_mib = max(status_kib('VmHWM') - base, 0) / 1024

    def run(self, check, agg: StandIn, timed: bool = True) -> None:
        agg.reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = check.run()
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if result:
            raise SystemExit(f'run failed: {result[:300]}')
        if timed:
            self.walls.append(wall)
            self.cpus.append(cpu)


def measure(stock, ours, agg: StandIn, runs: int) -> tuple[Timing, Timing, int]:
    """Runs the two checks alternately (so that both see the same machine), `runs` timed runs
    each after a first one; CPU time is this process's, so the endpoint's own work is not counted."""
    stock_timing, our_timing = Timing(), Timing()
    stock_timing.first_run(stock, agg)
    submitted = agg.submissions()
    our_timing.first_run(ours, agg)
    if agg.submissions() != submitted:
        raise SystemExit(f'stock submitted {submitted} metrics, ours {agg.submissions()}')
    for _ in range(runs):
        stock_timing.run(stock, agg)
        our_timing.run(ours, agg)
    return stock_timing, our_timing, submitted


def growth(check, agg: StandIn, runs: int) -> float:
    """RSS growth (MiB) over `runs` steady-state runs, after a warm-up of 50."""
    for _ in range(50):
        agg.reset()
        check.run()
    gc.collect()
    before = status_kib('VmRSS')
    for _ in range(runs):
        agg.reset()
        check.run()
    agg.reset()
    gc.collect()
    return (status_kib('VmRSS') - before) / 1024


def payload(models: int) -> bytes:
    """The real NIM 1.x scrape for one model, the emulator's payload for more."""
    if models == 1:
        return fixture_bytes('nim_metrics.txt')
    body, _ = NimMetrics(models=models, seed=1).exposition('text/plain')
    return body


def pad_environment(count: int) -> None:
    """Adds variables until the environment has `count` (a Kubernetes pod gets several per
    Service of its namespace, e.g. `<NAME>_SERVICE_HOST`); requests scans them all per request."""
    i = 0
    while len(os.environ) < count:
        os.environ[f'BENCH_SVC_{i}_SERVICE_HOST'] = f'10.0.{i // 250}.{i % 250}'
        i += 1


def describe_machine() -> str:
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}'


def describe_run() -> list[str]:
    import requests

    import datadog_checks.base

    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=HERE)
    dirty = subprocess.run(['git', 'status', '--porcelain'], capture_output=True, text=True, cwd=HERE)
    return [
        f'date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC',
        f'command: {shlex.join([Path(sys.executable).name, *sys.argv])}',
        f'machine: {describe_machine()}',
        f'commit: {commit.stdout.strip() or "?"}{" (uncommitted changes)" if dirty.stdout.strip() else ""}',
        f'datadog-checks-base {datadog_checks.base.__version__}, requests {requests.__version__}',
        f'environment: {len(os.environ)} variables',
    ]


HEADER = (
    '| aggregator | models | metrics | stock CPU ms | ours CPU ms | CPU ratio | stock wall ms | ours wall ms '
    '| wall ratio | NIMs per core, stock | NIMs per core, ours | ours peak MiB |'
)


def table_row(agg: str, models: int, submitted: int, stock: Timing, ours: Timing) -> str:
    def per_core(t: Timing) -> str:
        return f'{CHECK_INTERVAL_SECONDS / t.cpu:,.0f}'

    return (
        f'| {agg} | {models} | {submitted:,} | {stock.cpu * 1e3:.2f} | {ours.cpu * 1e3:.2f} | '
        f'{stock.cpu / ours.cpu:.1f}x | {stock.wall * 1e3:.2f} | {ours.wall * 1e3:.2f} | '
        f'{stock.wall / ours.wall:.1f}x | {per_core(stock)} | {per_core(ours)} | {ours.peak_mib:.1f} |'
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--models', type=int, nargs='+', default=[1, 10, 100])
    parser.add_argument('--runs', type=int, default=15, help='timed runs per check (the best is kept)')
    parser.add_argument('--aggregator', choices=['agent', 'lean', 'stub', 'all'], default='all')
    parser.add_argument('--growth-runs', type=int, default=1000, help='steady-state runs for RSS growth (0: skip)')
    parser.add_argument('--growth-models', type=int, default=100)
    parser.add_argument(
        '--environment-variables', type=int, default=0, help='pad the process environment to this many variables'
    )
    args = parser.parse_args()
    pad_environment(args.environment_variables)
    print('\n'.join(describe_run()))
    names = ['agent', 'lean', 'stub'] if args.aggregator == 'all' else [args.aggregator]
    medians = []
    with tempfile.TemporaryDirectory() as build_dir:
        aggregators = stand_ins(names, Path(build_dir))
        print(f'\nms per run: best of {args.runs}; NIMs per core: {CHECK_INTERVAL_SECONDS} s / CPU ms per run\n')
        print(HEADER)
        print('|' + ' --- |' * HEADER.count(' |'))
        for agg in aggregators:
            use_aggregator(agg.module)
            for models in args.models:
                runs = args.runs if models < 500 else max(3, args.runs // 3)
                with Endpoint(payload(models)) as url:
                    stock = StockNvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': url}])
                    ours = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': url}])
                    st, ot, submitted = measure(stock, ours, agg, runs)
                print(table_row(agg.name, models, submitted, st, ot), flush=True)
                medians.append(f'{agg.name} {models}: {st.median_cpu * 1e3:.2f} / {ot.median_cpu * 1e3:.2f}')
        print('\nmedian CPU ms per run, stock / ours: ' + '; '.join(medians))
        if args.growth_runs:
            agg = aggregators[0]
            use_aggregator(agg.module)
            print(f'\nRSS growth over {args.growth_runs} steady-state runs, {args.growth_models} models, {agg.name}:')
            with Endpoint(payload(args.growth_models)) as url:
                for label, cls in (('stock', StockNvidiaNIMCheck), ('ours', NvidiaNIMCheck)):
                    check = cls('nvidia_nim', {}, [{'openmetrics_endpoint': url}])
                    print(f'  {label:>5}: {growth(check, agg, args.growth_runs):+.1f} MiB', flush=True)


if __name__ == '__main__':
    main()
