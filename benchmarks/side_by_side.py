"""Side by side: the stock OpenMetricsBaseCheckV2 (configured as the integration we replace) and
this check, scraping the same loopback endpoint in one process. Prints ms per run (best of N),
the ratio stock/ours, and samples per run.

    .venv/bin/python benchmarks/side_by_side.py [--models 1 10 100] [--runs 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from common import PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck  # noqa: E402

from datadog_checks.base.stubs import aggregator  # noqa: E402
from datadog_checks.nvidia_nim import NvidiaNIMCheck  # noqa: E402
from datadog_checks.nvidia_nim.emulator import NimMetrics  # noqa: E402


class LeanAggregator:
    """Stands in for the Agent's C aggregator: records each submission as a tuple, nothing else."""

    GAUGE, RATE, COUNT, MONOTONIC_COUNT, COUNTER, HISTOGRAM, HISTORATE = range(7)

    def __init__(self):
        self.records = []

    def reset(self):
        self.records.clear()

    def submit_metric(self, check, check_id, mtype, name, value, tags, hostname, flush_first_value):
        self.records.append((mtype, name, value, tags, hostname, flush_first_value))

    def submit_service_check(self, check, check_id, name, status, tags, hostname, message):
        self.records.append((name, status, tags, hostname, message))

    def submit_histogram_bucket(self, *args):
        self.records.append(args)


def use_aggregator(agg) -> None:
    """Points AgentCheck's submissions and this check's direct path at `agg`."""
    import datadog_checks.base.checks.base as base_module
    import datadog_checks.nvidia_nim.check as check_module

    base_module.aggregator = agg
    check_module.aggregator = agg


def best_run_ms(check, runs: int, agg) -> float:
    best = float('inf')
    for _ in range(runs):
        agg.reset()
        start = time.perf_counter()
        result = check.run()
        elapsed = time.perf_counter() - start
        if result:
            raise SystemExit(f'run failed: {result[:300]}')
        best = min(best, elapsed)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--models', type=int, nargs='+', default=[1, 10, 100])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--lean', action='store_true', help='a recording aggregator instead of the stub')
    args = parser.parse_args()
    agg = LeanAggregator() if args.lean else aggregator
    use_aggregator(agg)
    print(f'aggregator: {"lean recording aggregator" if args.lean else "datadog_checks_base stub aggregator"}')
    print(f'{"models":>6} {"bytes":>9} {"samples":>8} {"stock ms":>9} {"ours ms":>8} {"stock/ours":>10}')
    for models in args.models:
        body, _ = NimMetrics(models=models, seed=1).exposition('text/plain')
        with PayloadServer(body, PROM_CONTENT_TYPE) as server:
            instance = {'openmetrics_endpoint': server.base_url + '/metrics'}
            stock = StockNvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
            ours = NvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
            stock_ms = best_run_ms(stock, args.runs, agg)
            ours_ms = best_run_ms(ours, args.runs, agg)
            samples = len(agg.records) if args.lean else sum(len(agg.metrics(n)) for n in agg.metric_names)
        print(f'{models:>6} {len(body):>9} {samples:>8} {stock_ms:>9.2f} {ours_ms:>8.2f} {stock_ms / ours_ms:>10.1f}')


if __name__ == '__main__':
    main()
