"""Many instances of the check in threads, as on the Agent's check runners: each gives what it
gives when the instances run one by one."""

import threading
from collections import defaultdict

from common import CLOCK_METRICS, OM_CONTENT_TYPE, PayloadServer

from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import NimMetrics

THREADS = 8
RUNS = 4

OPTIONS = [
    {},
    {'use_latest_spec': True},
    {'exclude_labels': ['model_name'], 'telemetry': True},
    {'non_cumulative_histogram_buckets': True, 'rename_labels': {'model_name': 'model'}},
    {'histogram_buckets_as_distributions': True},
    {'collect_histogram_buckets': False, 'metric_patterns': {'exclude': ['tokens']}},
    {'use_process_start_time': True, 'exclude_metrics': ['num_requests_running']},
    {'raw_line_filters': ['^python_'], 'include_labels': ['model_name', 'le']},
]


def per_instance(aggregator) -> dict:
    """Every record the stub holds, grouped by the instance tag, per name in submission order."""
    grouped = defaultdict(lambda: defaultdict(list))
    for name in aggregator.metric_names:
        for m in aggregator.metrics(name):
            value = None if name in CLOCK_METRICS else m.value
            grouped[instance_of(m.tags)][name].append((m.type, value, m.tags, m.hostname, m.flush_first_value))
    for name in aggregator._histogram_buckets:
        for b in aggregator.histogram_bucket(name):
            grouped[instance_of(b.tags)][name].append(b)
    for name in aggregator.service_check_names:
        for s in aggregator.service_checks(name):
            grouped[instance_of(s.tags)][name].append(s)
    return {k: dict(v) for k, v in grouped.items()}


def instance_of(tags) -> str:
    (tag,) = [t for t in tags if t.startswith('instance:')]
    return tag


def test_threads_give_the_sequential_results(aggregator):
    metrics = NimMetrics(models=3, seed=7)
    prometheus, _ = metrics.exposition('text/plain')
    openmetrics, _ = metrics.exposition('application/openmetrics-text')
    with PayloadServer(prometheus) as prom_server, PayloadServer(openmetrics, OM_CONTENT_TYPE) as om_server:
        instances = []
        for i in range(THREADS):
            server = om_server if i % 2 else prom_server
            instances.append(
                {'openmetrics_endpoint': f'{server.base_url}/metrics', 'tags': [f'instance:{i}'], **OPTIONS[i]}
            )

        def run_all(check, errors):
            for _ in range(RUNS):
                errors.append(check.run())

        sequential_errors = []
        for instance in instances:
            run_all(NvidiaNIMCheck('nvidia_nim', {}, [instance]), sequential_errors)
        sequential = per_instance(aggregator)
        aggregator.reset()

        threaded_errors = []
        start = threading.Barrier(THREADS)
        checks = [NvidiaNIMCheck('nvidia_nim', {}, [instance]) for instance in instances]

        def worker(check):
            start.wait()
            run_all(check, threaded_errors)

        threads = [threading.Thread(target=worker, args=(check,)) for check in checks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
        threaded = per_instance(aggregator)

    assert sequential_errors == threaded_errors == [''] * THREADS * RUNS
    assert sorted(threaded) == sorted(sequential) == sorted(f'instance:{i}' for i in range(THREADS))
    for instance in sequential:
        assert threaded[instance] == sequential[instance], instance
    # the options took effect: the instances differ from each other
    assert len({str(sorted(v)) for v in sequential.values()}) > 4
