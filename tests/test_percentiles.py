"""`latency_percentiles`: validation, hand-computed estimates over consecutive runs through the
check (1.x, vLLM V1 and SGLang names), and the emulator's traffic against an independent Python
reading of Prometheus's `histogram_quantile`."""

import math

import pytest
from common import PayloadServer, run_error
from prometheus_client.parser import text_string_to_metric_families

from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import nim_metrics

QUANTILES = [0.5, 0.9, 0.99]
SUFFIXES = ['p50', 'p90', 'p99']
LATENCY = ('time_to_first_token.seconds', 'time_per_output_token.seconds', 'e2e_request_latency.seconds')
BOUNDS = ('0.1', '0.5', '1.0', '+Inf')
GAUGE = 0

# Raw family names per dialect (vLLM exposes the inter-token latency under its old and its new
# name; both map to time_per_output_token.seconds) and the labels of a series.
DIALECTS = {
    'nim1': (
        {
            'time_to_first_token.seconds': ['time_to_first_token_seconds'],
            'time_per_output_token.seconds': ['time_per_output_token_seconds'],
            'e2e_request_latency.seconds': ['e2e_request_latency_seconds'],
        },
        '',
    ),
    'vllm': (
        {
            'time_to_first_token.seconds': ['vllm:time_to_first_token_seconds'],
            'time_per_output_token.seconds': [
                'vllm:time_per_output_token_seconds',
                'vllm:inter_token_latency_seconds',
            ],
            'e2e_request_latency.seconds': ['vllm:e2e_request_latency_seconds'],
        },
        'engine="0",',
    ),
    'sglang': (
        {
            'time_to_first_token.seconds': ['sglang:time_to_first_token_seconds'],
            'time_per_output_token.seconds': ['sglang:inter_token_latency_seconds'],
            'e2e_request_latency.seconds': ['sglang:e2e_request_latency_seconds'],
        },
        'tp_rank="0",',
    ),
}
EXTRA_TAGS = {'nim1': [], 'vllm': ['engine:0'], 'sglang': ['tp_rank:0']}


def payload(dialect: str, counts: dict[str, list[float]]) -> bytes:
    """Every latency histogram of the dialect with the same cumulative bucket counts (per model,
    for the bounds 0.1, 0.5, 1.0, +Inf)."""
    families, extra = DIALECTS[dialect]
    lines = []
    for raw_names in families.values():
        for raw in raw_names:
            lines.append(f'# TYPE {raw} histogram')
            for model, cumulative in counts.items():
                labels = f'{extra}model_name="{model}"'
                for le, c in zip(BOUNDS, cumulative, strict=True):
                    lines.append(f'{raw}_bucket{{{labels},le="{le}"}} {c}')
                lines.append(f'{raw}_count{{{labels}}} {cumulative[-1]}')
                lines.append(f'{raw}_sum{{{labels}}} 1.0')
    return ('\n'.join(lines) + '\n').encode()


def percentile_gauges(aggregator) -> dict[tuple[str, str], float]:
    """(name, model tag) → value of every percentile gauge submitted, checking each goes out once."""
    out = {}
    for histogram in LATENCY:
        for suffix in SUFFIXES:
            for m in aggregator.metrics(f'nvidia_nim.{histogram}.{suffix}'):
                assert m.type == GAUGE
                model = next(t for t in m.tags if t.startswith('model_name:'))
                assert (m.name, model) not in out, m
                out[(m.name, model)] = m.value
    return out


def expected(values: list[float]) -> dict[tuple[str, str], float]:
    return {(f'nvidia_nim.{h}.{s}', 'model_name:a'): v for h in LATENCY for s, v in zip(SUFFIXES, values, strict=True)}


@pytest.mark.parametrize('dialect', sorted(DIALECTS))
def test_hand_computed_estimates_over_consecutive_runs(aggregator, dd_run_check, dialect):
    with PayloadServer() as server:
        endpoint = server.base_url + '/metrics'
        check = NvidiaNIMCheck(
            'nvidia_nim',
            {},
            [{'openmetrics_endpoint': endpoint, 'tags': ['team:ml'], 'latency_percentiles': QUANTILES}],
        )

        def run(counts):
            server.body = payload(dialect, counts)
            aggregator.reset()
            dd_run_check(check)
            return percentile_gauges(aggregator)

        # run 1: the first scrape only records the buckets
        assert run({'a': [1, 2, 3, 4], 'b': [5, 5, 5, 5]}) == {}
        # run 2: model a got 10 requests; per bound (0.1, 0.5, 1, +Inf) the interval's cumulative
        # counts are 2, 8, 10, 10. Model b got none: nothing for it.
        #   p50: rank 0.5*10 = 5, first reached at 0.5 (8): 0.1 + (0.5-0.1) * (5-2)/(8-2) = 0.3
        #   p90: rank 9, first reached at 1.0 (10): 0.5 + (1.0-0.5) * (9-8)/(10-8) = 0.75
        #   p99: rank 9.9, reached at 1.0: 0.5 + 0.5 * (9.9-8)/2 = 0.975
        got = run({'a': [3, 10, 13, 14], 'b': [5, 5, 5, 5]})
        assert got.keys() == expected([0, 0, 0]).keys()
        for key, value in expected([0.3, 0.75, 0.975]).items():
            assert math.isclose(got[key], value, abs_tol=1e-12), key
        # the gauges carry the histogram's own tags: labels, instance tags, endpoint
        (ttft,) = aggregator.metrics('nvidia_nim.time_to_first_token.seconds.p99')
        (count,) = [
            m for m in aggregator.metrics('nvidia_nim.time_to_first_token.seconds.count') if 'model_name:a' in m.tags
        ]
        # (but the engine-rank labels: by default the estimate is per model, across its ranks)
        assert ttft.tags == [t for t in count.tags if t not in EXTRA_TAGS[dialect]]
        assert ttft.tags == ['model_name:a', 'team:ml', f'endpoint:{endpoint}']
        # run 3: no request → no estimate
        assert run({'a': [3, 10, 13, 14], 'b': [5, 5, 5, 5]}) == {}
        # run 4: model a restarted (counts went down) and served 2 requests since: the new counts
        # (1, 1, 2, 2) are the interval.
        #   p50: rank 1, reached at 0.1 (1): 0 + 0.1 * 1/1 = 0.1 (the lowest bucket starts at 0)
        #   p90: rank 1.8, reached at 1.0 (2): 0.5 + 0.5 * (1.8-1)/(2-1) = 0.9
        #   p99: rank 1.98: 0.5 + 0.5 * 0.98 = 0.99
        got = run({'a': [1, 1, 2, 2], 'b': [5, 5, 5, 5]})
        for key, value in expected([0.1, 0.9, 0.99]).items():
            assert math.isclose(got[key], value, abs_tol=1e-12), key
        # run 5: 5 more requests, all slower than 1 s: every rank lands in +Inf, which answers the
        # highest finite bound, 1.0
        assert run({'a': [1, 1, 2, 7], 'b': [5, 5, 5, 5]}) == expected([1.0, 1.0, 1.0])


def test_off_by_default_and_for_other_histograms(aggregator, dd_run_check):
    with PayloadServer() as server:
        check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics'}])
        for counts in ([1, 2, 3, 4], [3, 10, 13, 14]):
            server.body = payload('nim1', {'a': counts})
            dd_run_check(check)
    assert not [n for n in aggregator.metric_names if n.rsplit('.', 1)[-1].startswith('p')]


@pytest.mark.parametrize(
    'value, message',
    [
        ('0.99', 'Setting `latency_percentiles` must be a list of quantiles between 0 and 1 (both excluded)'),
        (0.99, 'Setting `latency_percentiles` must be a list of quantiles between 0 and 1 (both excluded), e.g.'),
        ([0.5, 1], 'Entry #2 of setting `latency_percentiles` must be a number between 0 and 1 (both excluded); got 1'),
        ([0], 'Entry #1 of setting `latency_percentiles` must be a number between 0 and 1 (both excluded); got 0'),
        ([-0.5], 'Entry #1 of setting `latency_percentiles` must be a number'),
        ([99], 'Entry #1 of setting `latency_percentiles` must be a number'),
        ([True], 'Entry #1 of setting `latency_percentiles` must be a number'),
        (
            [0.5, '0.9'],
            "Entry #2 of setting `latency_percentiles` must be a number between 0 and 1 (both excluded); got '0.9'",
        ),
        (
            [float('nan')],
            'Entry #1 of setting `latency_percentiles` must be a number between 0 and 1 (both excluded); got nan',
        ),
    ],
)
def test_invalid_values_are_configuration_errors(aggregator, value, message):
    check = NvidiaNIMCheck(
        'nvidia_nim', {}, [{'openmetrics_endpoint': 'http://127.0.0.1:1/metrics', 'latency_percentiles': value}]
    )
    error = run_error(check.run())
    assert error is not None and error.startswith(message), error
    assert 'ConfigurationError' in check.run()
    assert not aggregator.service_check_names  # it failed before any request


@pytest.mark.parametrize(
    'value, names',
    [
        ([0.999, 0.25, 0.25], ['p99_9', 'p25']),
        ([0.5, 0.995], ['p50', 'p99_5']),
    ],
)
def test_gauge_names(aggregator, dd_run_check, value, names):
    with PayloadServer() as server:
        check = NvidiaNIMCheck(
            'nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics', 'latency_percentiles': value}]
        )
        for counts in ([1, 2, 3, 4], [3, 10, 13, 14]):
            server.body = payload('nim1', {'a': counts})
            dd_run_check(check)
    sent = {n.rsplit('.', 1)[-1] for n in aggregator.metric_names if n.startswith('nvidia_nim.time_to_first_token.')}
    assert sent == {'bucket', 'sum', 'count', *names}


def reference_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's `histogram_quantile` (promql/quantile.go, BucketQuantile) for cumulative
    buckets, written independently of the core; None where it answers NaN."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != math.inf or len(buckets) < 2:
        return None
    counts, highest = [], -math.inf
    for _, c in buckets:  # monotonicity fix
        highest = max(highest, c)
        counts.append(highest)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next((i for i in range(len(buckets) - 1) if counts[i] >= rank), len(buckets) - 1)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], counts[b]
    if b > 0:
        start, count, rank = buckets[b - 1][0], count - counts[b - 1], rank - counts[b - 1]
    return start + (end - start) * (rank / count)


def bucket_series(body: bytes, family: str) -> dict[str, list[tuple[float, float]]]:
    """model → [(bound, cumulative count)] of one histogram family, read by prometheus_client."""
    out: dict[str, list[tuple[float, float]]] = {}
    for f in text_string_to_metric_families(body.decode()):
        if f.name != family:
            continue
        for s in f.samples:
            if s.name.endswith('_bucket'):
                out.setdefault(s.labels['model_name'], []).append((float(s.labels['le']), s.value))
    return out


@pytest.mark.parametrize(
    'dialect, families',
    [
        (
            'nim1',
            {
                'time_to_first_token.seconds': 'time_to_first_token_seconds',
                'time_per_output_token.seconds': 'time_per_output_token_seconds',
                'e2e_request_latency.seconds': 'e2e_request_latency_seconds',
            },
        ),
        (
            'vllm',
            {
                'time_to_first_token.seconds': 'vllm:time_to_first_token_seconds',
                'time_per_output_token.seconds': 'vllm:inter_token_latency_seconds',
                'e2e_request_latency.seconds': 'vllm:e2e_request_latency_seconds',
            },
        ),
        (
            'sglang',
            {
                'time_to_first_token.seconds': 'sglang:time_to_first_token_seconds',
                'time_per_output_token.seconds': 'sglang:inter_token_latency_seconds',
                'e2e_request_latency.seconds': 'sglang:e2e_request_latency_seconds',
            },
        ),
    ],
)
def test_emulator_traffic_matches_the_reference(aggregator, dd_run_check, dialect, families):
    """Three consecutive scrapes of the emulator's traffic (3 models): every estimate of runs 2
    and 3 equals the reference computed on the bucket increases the two bodies show."""
    metrics = nim_metrics(dialect, models=3, seed=7)
    quantiles = [0.5, 0.9, 0.95, 0.99]
    with PayloadServer() as server:
        check = NvidiaNIMCheck(
            'nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics', 'latency_percentiles': quantiles}]
        )
        previous = None
        for run in range(3):
            body = metrics.exposition('text/plain')[0]
            metrics.step()
            server.body = body
            aggregator.reset()
            dd_run_check(check)
            compared = 0
            for histogram, raw in families.items():
                now = bucket_series(body, raw)
                for q, suffix in zip(quantiles, ['p50', 'p90', 'p95', 'p99'], strict=True):
                    sent = {
                        next(t for t in m.tags if t.startswith('model_name:')): m.value
                        for m in aggregator.metrics(f'nvidia_nim.{histogram}.{suffix}')
                    }
                    want = {}
                    for model, buckets in now.items():
                        if previous is None:
                            continue
                        before = dict(bucket_series(previous, raw)[model])
                        increase = [(bound, c - before[bound]) for bound, c in buckets]
                        value = reference_quantile(q, increase)
                        if value is not None:
                            want[f'model_name:{model}'] = value
                    assert sent.keys() == want.keys(), (run, histogram, suffix)
                    for model, value in want.items():
                        assert math.isclose(sent[model], value, rel_tol=1e-12, abs_tol=1e-12), (run, model)
                        compared += 1
            assert compared == (0 if previous is None else 3 * 4 * 3)
            previous = body


def two_engines(counts: dict[str, list[float]]) -> bytes:
    """vLLM's TTFT histogram of model `a` served by engines 0 and 1 (cumulative counts per bound)."""
    lines = ['# TYPE vllm:time_to_first_token_seconds histogram']
    for engine, cumulative in counts.items():
        for le, c in zip(BOUNDS, cumulative, strict=True):
            lines.append(f'vllm:time_to_first_token_seconds_bucket{{engine="{engine}",model_name="a",le="{le}"}} {c}')
    return ('\n'.join(lines) + '\n').encode()


@pytest.mark.parametrize(
    ('by', 'expected'),
    [
        # summed across engines: interval counts 4, 4, 8, 8 (engine 0: 4 requests ≤ 0.1 s, engine 1:
        # 4 in (0.5, 1]). p50: rank 4, reached at 0.1: 0.1 * 4/4 = 0.1. p99: rank 7.92 in (0.5, 1]:
        # 0.5 + 0.5 * (7.92-4)/4 = 0.99
        (None, {('model_name:a',): [0.1, 0.99]}),
        # one estimate per engine: engine 0 p50 rank 2 of 4 in (0, 0.1] → 0.05, p99 rank 3.96 → 0.099;
        # engine 1 p50 rank 2 in (0.5, 1] → 0.5 + 0.5 * 2/4 = 0.75, p99 → 0.5 + 0.5 * 3.96/4 = 0.995
        (
            ['model_name', 'engine'],
            {('engine:0', 'model_name:a'): [0.05, 0.099], ('engine:1', 'model_name:a'): [0.75, 0.995]},
        ),
    ],
)
def test_estimates_per_model_across_engines(aggregator, dd_run_check, by, expected):
    options = {'latency_percentiles': [0.5, 0.99]}
    if by is not None:
        options['latency_percentiles_by'] = by
    with PayloadServer() as server:
        endpoint = server.base_url + '/metrics'
        check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint, **options}])
        for counts in ({'0': [0, 0, 0, 0], '1': [0, 0, 0, 0]}, {'0': [4, 4, 4, 4], '1': [0, 0, 4, 4]}):
            server.body = two_engines(counts)
            aggregator.reset()
            dd_run_check(check)
    got = {}
    for suffix in ('p50', 'p99'):
        for m in aggregator.metrics(f'nvidia_nim.time_to_first_token.seconds.{suffix}'):
            labels = tuple(t for t in m.tags if not t.startswith('endpoint:'))
            got.setdefault(labels, []).append(m.value)
    assert got.keys() == expected.keys()
    for labels, values in expected.items():
        assert all(math.isclose(g, e, abs_tol=1e-12) for g, e in zip(got[labels], values, strict=True)), (labels, got)


def test_bad_grouping_is_a_configuration_error(aggregator):
    with PayloadServer(two_engines({'0': [0, 0, 0, 0]})) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', 'latency_percentiles': [0.5]}
        for bad, message in (('model_name', 'must be a list of label names'), ([3], 'Entry #1 of setting')):
            check = NvidiaNIMCheck('nvidia_nim', {}, [{**instance, 'latency_percentiles_by': bad}])
            error = run_error(check.run())
            assert error is not None and message in error and '`latency_percentiles_by`' in error
