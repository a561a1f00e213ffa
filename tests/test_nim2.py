"""NIM 2.x: the default config against a NIM passing vLLM V1 or SGLang metrics through (the
emulator's `vllm` and `sglang` dialects, over real HTTP on loopback), and the map entries whose raw
names carry a `:` through the config normalization and the Rust core."""

import pytest
from common import OM_CONTENT_TYPE, PROM_CONTENT_TYPE, PayloadServer, map_metadata, run_error

from datadog_checks.base import AgentCheck
from datadog_checks.dev.utils import get_metadata_metrics
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import NimEmulator, nim_metrics
from datadog_checks.nvidia_nim.metrics import METRIC_MAP, SGLANG_METRIC_MAP, VLLM_METRIC_MAP

METADATA = get_metadata_metrics()
GAUGE, MONOTONIC_COUNT = 0, 3
HISTOGRAM_PARTS = ('.bucket', '.sum', '.count')

# The core metrics every dialect sends under the NIM 1.x names, with their submission types.
CORE = {
    'nvidia_nim.num_requests.running': GAUGE,
    'nvidia_nim.num_requests.waiting': GAUGE,
    'nvidia_nim.gpu_cache_usage_percent': GAUGE,
    'nvidia_nim.prompt_tokens.count': MONOTONIC_COUNT,
    'nvidia_nim.generation_tokens.count': MONOTONIC_COUNT,
    'nvidia_nim.request.finish.count': MONOTONIC_COUNT,
    **{
        f'nvidia_nim.{histogram}{part}': MONOTONIC_COUNT
        for histogram in (
            'time_to_first_token.seconds',
            'time_per_output_token.seconds',
            'e2e_request_latency.seconds',
            'request.prompt_tokens',
            'request.generation_tokens',
        )
        for part in HISTOGRAM_PARTS
    },
}
MODEL = 'model_name:meta/llama-3.1-8b-instruct'
ENGINE_TAGS = {
    'vllm': [MODEL, 'engine:0'],
    'sglang': [MODEL, 'engine_type:unified', 'tp_rank:0', 'pp_rank:0'],
}
DIALECT_MAPS = {'vllm': VLLM_METRIC_MAP, 'sglang': SGLANG_METRIC_MAP}
# vLLM only exposes `vllm:corrupted_requests` with VLLM_COMPUTE_NANS_IN_LOGITS; the emulator does not.
# The families below are not emulated either; the real-payload corpus covers them
# (test_nim2_corpus.py).
CORPUS_ONLY = [
    *(f'vllm:{n}' for n in ('request_prefill_kv_computed_tokens', 'engine_sleep_state', 'cache_config_info')),
    *(f'vllm:{n}' for n in ('num_requests_waiting_by_reason', 'external_prefix_cache_queries')),
    *(f'vllm:{n}' for n in ('external_prefix_cache_hits', 'mm_cache_queries', 'mm_cache_hits')),
    *(f'vllm:prompt_tokens_{n}' for n in ('cached', 'by_source', 'recomputed')),
    *(f'vllm:spec_decode_{n}' for n in ('num_drafts', 'num_draft_tokens', 'num_accepted_tokens')),
    'vllm:spec_decode_num_accepted_tokens_per_pos',
    *(f'sglang:{n}' for n in ('max_total_num_tokens', 'num_retracted_reqs', 'num_paused_reqs', 'utilization')),
    *(f'sglang:{n}' for n in ('spec_accept_length', 'spec_accept_rate', 'engine_startup_time')),
    *(f'sglang:{n}' for n in ('engine_load_weights_time', 'http_requests_active', 'time_per_output_token_seconds')),
]
NOT_EMULATED = {'nvidia_nim.request.corrupted.count'} | set(
    map_metadata(METADATA, {k: {**VLLM_METRIC_MAP, **SGLANG_METRIC_MAP}[k] for k in CORPUS_ONLY})
)


def from_map(metric_map: dict) -> set[str]:
    return set(map_metadata(METADATA, metric_map))


def make_check(endpoint, **options):
    instance = {'openmetrics_endpoint': endpoint, 'tags': ['test:test'], **options}
    return NvidiaNIMCheck('nvidia_nim', {}, [instance])


def assert_nim2_submissions(aggregator, dialect, endpoint):
    names = set(aggregator.metric_names)
    # the core metrics, with the 1.x types and the engine's labels as tags
    for name, metric_type in CORE.items():
        aggregator.assert_metric(name, metric_type=metric_type)
        for tag in ENGINE_TAGS[dialect] + ['test:test', f'endpoint:{endpoint}']:
            aggregator.assert_metric_has_tag(name, tag)
    # every metric sent is documented, with its documented type
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)
    # and every documented metric of the dialect's map is sent, with the process ones
    expected = from_map(DIALECT_MAPS[dialect]) - NOT_EMULATED
    assert expected <= names, sorted(expected - names)
    assert {n for n in names if n.startswith('nvidia_nim.process.')}, names
    # `_created` series never go out (a `_created` value is a Unix timestamp)
    assert not [n for n in names if 'created' in n]
    for name in names - {n for n in names if n.startswith('nvidia_nim.process.')}:
        assert all(m.value < 1e9 for m in aggregator.metrics(name)), name


@pytest.mark.parametrize('dialect', ['vllm', 'sglang'])
def test_default_config_against_a_nim2(aggregator, datadog_agent, dd_run_check, dialect):
    with NimEmulator(dialect=dialect) as emu:
        endpoint = emu.metrics_url
        check = make_check(endpoint)
        for _ in range(2):
            aggregator.reset()
            dd_run_check(check)
            assert_nim2_submissions(aggregator, dialect, endpoint)
        aggregator.assert_service_check('nvidia_nim.openmetrics.health', AgentCheck.OK)
    datadog_agent.assert_metadata('', {'version.raw': '2.0.0'})


@pytest.mark.parametrize('dialect', ['vllm', 'sglang'])
def test_openmetrics_from_a_nim2(aggregator, dd_run_check, dialect):
    """The same families in OpenMetrics. (Served with `escaping=allow-utf-8`: without it
    prometheus_client 0.26 writes `vllm_...` sample names under `vllm:` TYPE lines, a body its own
    parser, and so the stock check, rejects with `Clashing name`.)"""
    metrics = nim_metrics(dialect)
    accept = 'application/openmetrics-text; version=1.0.0; escaping=allow-utf-8'
    with PayloadServer(content_type=OM_CONTENT_TYPE) as server:
        endpoint = server.base_url + '/v1/metrics'
        check = make_check(endpoint, use_latest_spec=True)
        for _ in range(2):
            metrics.step()
            server.body = metrics.exposition(accept)[0]
            aggregator.reset()
            dd_run_check(check)
            assert_nim2_submissions(aggregator, dialect, endpoint)


def test_vllm_finished_reason_and_renamed_families(aggregator, dd_run_check):
    with NimEmulator(dialect='vllm') as emu:
        dd_run_check(make_check(emu.metrics_url))

    def reasons(name):
        return {t for m in aggregator.metrics(name) for t in m.tags if 'reason' in t}

    # the NIM 1.x meanings: success is stop or length, failure any other reason, finish all
    assert reasons('nvidia_nim.request.success.count') == {'finished_reason:stop', 'finished_reason:length'}
    assert reasons('nvidia_nim.request.failure.count') == {'finished_reason:abort'}
    assert reasons('nvidia_nim.request.finish.count') == {
        'finished_reason:stop',
        'finished_reason:length',
        'finished_reason:abort',
    }
    # the emulated vLLM exposes the renamed families under both names: only the current one is sent
    assert len(aggregator.metrics('nvidia_nim.gpu_cache_usage_percent')) == 1
    assert len(aggregator.metrics('nvidia_nim.time_per_output_token.seconds.count')) == 1


def test_sglang_cache_source_tag(aggregator, dd_run_check):
    with NimEmulator(dialect='sglang') as emu:
        dd_run_check(make_check(emu.metrics_url))
    aggregator.assert_metric_has_tag('nvidia_nim.prefix_cache.hits.count', 'cache_source:device')
    aggregator.assert_metric('nvidia_nim.request.aborted.count', metric_type=MONOTONIC_COUNT)


VLLM_ALIASES = b"""# TYPE vllm:gpu_prefix_cache_queries_total counter
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="m"} 40.0
# TYPE vllm:gpu_prefix_cache_hits_total counter
vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 10.0
# TYPE vllm:corrupted_requests_total counter
vllm:corrupted_requests_total{engine="0",model_name="m"} 1.0
# TYPE sglang:time_per_output_token_seconds histogram
sglang:time_per_output_token_seconds_bucket{le="0.1",model_name="m"} 3.0
sglang:time_per_output_token_seconds_bucket{le="+Inf",model_name="m"} 4.0
sglang:time_per_output_token_seconds_count{model_name="m"} 4.0
sglang:time_per_output_token_seconds_sum{model_name="m"} 0.5
"""


def test_older_engine_names(aggregator, dd_run_check):
    with PayloadServer(VLLM_ALIASES) as server:
        dd_run_check(make_check(server.base_url + '/v1/metrics'))
    aggregator.assert_metric('nvidia_nim.prefix_cache.queries.count', 40.0, metric_type=MONOTONIC_COUNT)
    aggregator.assert_metric('nvidia_nim.prefix_cache.hits.count', 10.0, metric_type=MONOTONIC_COUNT)
    aggregator.assert_metric('nvidia_nim.request.corrupted.count', 1.0, metric_type=MONOTONIC_COUNT)
    # SGLang's older per-request mean is not the 1.x per-token family
    aggregator.assert_metric('nvidia_nim.request.mean_time_per_output_token.seconds.bucket', 3.0)
    aggregator.assert_metric('nvidia_nim.request.mean_time_per_output_token.seconds.count', 4.0)
    assert not aggregator.metrics('nvidia_nim.time_per_output_token.seconds.count')
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)


COLON_NAMES = b"""# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",engine="0"} 1.0
# TYPE vllm:request_params_best_of histogram
vllm:request_params_best_of_bucket{le="1.0",model_name="m"} 2.0
vllm:request_params_best_of_bucket{le="+Inf",model_name="m"} 2.0
vllm:request_params_best_of_count{model_name="m"} 2.0
vllm:request_params_best_of_sum{model_name="m"} 2.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 5.0
"""


@pytest.mark.parametrize('content_type', [PROM_CONTENT_TYPE, OM_CONTENT_TYPE])
def test_colon_names_in_user_map_entries(aggregator, dd_run_check, content_type):
    """`:` is not a regex character: `vllm:...` keys are exact keys through the normalization; a
    regex key with a `:` matches raw names with a `:`; `metrics` replaces the default map."""
    body = COLON_NAMES + (b'# EOF\n' if content_type == OM_CONTENT_TYPE else b'')
    with PayloadServer(body, content_type=content_type) as server:
        endpoint = server.base_url + '/metrics'
        check = make_check(
            endpoint,
            metrics=[
                'vllm:cache_config_info',
                {'vllm:num_requests_running': {'name': 'running', 'type': 'gauge'}},
                {'vllm:request_params_.*': {'type': 'histogram'}},
            ],
        )
        assert run_error(check.run()) is None
    tags = ['block_size:16', 'engine:0', 'test:test', f'endpoint:{endpoint}']
    aggregator.assert_metric('nvidia_nim.vllm:cache_config_info', 1.0, tags=tags)
    aggregator.assert_metric('nvidia_nim.running', 5.0, metric_type=GAUGE)
    aggregator.assert_metric('nvidia_nim.vllm:request_params_best_of.count', 2.0)
    aggregator.assert_metric('nvidia_nim.vllm:request_params_best_of.bucket', 2.0)
    assert not aggregator.metrics('nvidia_nim.num_requests.running')


def test_nim1_payload_sends_only_the_stock_metrics(aggregator, dd_run_check):
    """With the 2.x entries in the default map, a 1.x NIM still sends exactly the stock names
    (the value-by-value comparison with the stock check is test_same_as_stock.py)."""
    with NimEmulator() as emu:
        dd_run_check(make_check(emu.metrics_url))
    assert set(aggregator.metric_names) == from_map(METRIC_MAP)
