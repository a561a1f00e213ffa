"""Side by side: the stock OpenMetricsBaseCheckV2 (configured as the integration we replace) and
this check, scraping the same loopback endpoint (served by a separate process, as a NIM is),
one after the other in one process. For each payload size and aggregator it prints the wall-clock
and the CPU ms per run (best of N; CPU time is this process's, so the endpoint's work is not
counted), the ratios stock/ours, and the peak RSS a check adds; then the RSS growth of each check
over many steady-state runs.

    .venv/bin/python benchmarks/side_by_side.py            # everything (a few minutes)
    .venv/bin/python benchmarks/side_by_side.py --models 100 --aggregator lean --growth-runs 0

Aggregators: `stub` is datadog_checks_base's stub (what the tests use; its bookkeeping costs
about 2.5 us per submission), `lean` records each submission as a tuple and stands in for the
Agent's C binding.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from common import PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck  # noqa: E402

from datadog_checks.base.stubs import aggregator as stub_aggregator  # noqa: E402
from datadog_checks.nvidia_nim import NvidiaNIMCheck  # noqa: E402
from datadog_checks.nvidia_nim.emulator import NimMetrics  # noqa: E402


class LeanAggregator:
    """Stands in for the Agent's C aggregator, which copies what it is given into Go memory and
    keeps no Python object: it records every argument of every submission in one flat list (no
    per-submission tuple left for Python's garbage collector to track)."""

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


def stub_submission_count(agg) -> int:
    return sum(len(agg.metrics(n)) for n in agg.metric_names)


def use_aggregator(agg) -> None:
    """Points AgentCheck's submissions and this check's direct path at `agg`."""
    import datadog_checks.base.checks.base as base_module
    import datadog_checks.nvidia_nim.check as check_module

    base_module.aggregator = agg
    check_module.aggregator = agg


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
    """Best wall-clock and CPU seconds per run of one check, and the peak RSS it added."""

    def __init__(self):
        self.wall = self.cpu = float('inf')
        self.peak_mib = 0.0

    def first_run(self, check, agg) -> None:
        """The first run builds what a check keeps between runs; the peak RSS above the RSS
        before it is what the check costs in memory."""
        agg.reset()
        gc.collect()
        base = status_kib('VmRSS')
        reset_peak_rss()
        self.run(check, agg)
        self.peak_mib = max(status_kib('VmHWM') - base, 0) / 1024

    def run(self, check, agg) -> None:
        agg.reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = check.run()
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if result:
            raise SystemExit(f'run failed: {result[:300]}')
        self.wall, self.cpu = min(self.wall, wall), min(self.cpu, cpu)


def measure(stock, ours, agg, runs: int, count) -> tuple[Timing, Timing, int]:
    """Runs the two checks alternately (so that both see the same machine), best of `runs`
    each; CPU time is this process's, so the endpoint's own work is not counted."""
    stock_timing, our_timing = Timing(), Timing()
    stock_timing.first_run(stock, agg)
    submitted = count(agg)
    our_timing.first_run(ours, agg)
    if count(agg) != submitted:
        raise SystemExit(f'stock submitted {submitted} metrics, ours {count(agg)}')
    for _ in range(runs):
        stock_timing.run(stock, agg)
        our_timing.run(ours, agg)
    return stock_timing, our_timing, submitted


def growth(check, agg, runs: int) -> float:
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


def machine() -> str:
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--models', type=int, nargs='+', default=[1, 10, 100, 500])
    parser.add_argument('--runs', type=int, default=15, help='timed runs per check (best is kept)')
    parser.add_argument('--aggregator', choices=['stub', 'lean', 'both'], default='both')
    parser.add_argument('--growth-runs', type=int, default=1000, help='steady-state runs for RSS growth (0: skip)')
    parser.add_argument('--growth-models', type=int, default=100)
    args = parser.parse_args()
    print(f'machine: {machine()}')
    aggregators = ['stub', 'lean'] if args.aggregator == 'both' else [args.aggregator]
    lean = LeanAggregator()
    for name in aggregators:
        agg = stub_aggregator if name == 'stub' else lean
        count = stub_submission_count if name == 'stub' else LeanAggregator.submission_count
        use_aggregator(agg)
        print(f'\naggregator: {name}')
        header = (
            f'{"models":>6} {"bytes":>9} {"metrics":>8} {"stock ms":>9} {"ours ms":>8} {"ratio":>6} '
            f'{"stock cpu":>9} {"ours cpu":>8} {"ratio":>6} {"stock peak MiB":>14} {"ours peak MiB":>13}'
        )
        print(header)
        for models in args.models:
            body, _ = NimMetrics(models=models, seed=1).exposition('text/plain')
            runs = args.runs if models < 500 else max(3, args.runs // 3)
            with Endpoint(body) as url:
                instance = {'openmetrics_endpoint': url}
                stock = StockNvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
                ours = NvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
                st, ot, submitted = measure(stock, ours, agg, runs, count)
            print(
                f'{models:>6} {len(body):>9} {submitted:>8} {st.wall * 1e3:>9.2f} {ot.wall * 1e3:>8.2f} '
                f'{st.wall / ot.wall:>6.1f} {st.cpu * 1e3:>9.2f} {ot.cpu * 1e3:>8.2f} {st.cpu / ot.cpu:>6.1f} '
                f'{st.peak_mib:>14.1f} {ot.peak_mib:>13.1f}'
            )
    if args.growth_runs:
        agg = lean
        use_aggregator(agg)
        body, _ = NimMetrics(models=args.growth_models, seed=1).exposition('text/plain')
        print(f'\nRSS growth over {args.growth_runs} steady-state runs, {args.growth_models} models, lean aggregator:')
        with Endpoint(body) as url:
            for label, cls in (('stock', StockNvidiaNIMCheck), ('ours', NvidiaNIMCheck)):
                check = cls('nvidia_nim', {}, [{'openmetrics_endpoint': url}])
                print(f'  {label:>5}: {growth(check, agg, args.growth_runs):+.1f} MiB')


if __name__ == '__main__':
    main()
