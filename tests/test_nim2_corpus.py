"""Real and rebuilt NIM 2.x payloads (tests/fixtures/nim2/, provenance in SOURCES.md) through the
check over HTTP on loopback: family by family what is sent or why not, and the NIM 1.x meanings
(finished requests, one family per Datadog context, one set of percentile gauges). Expected values
are read from the payloads with prometheus_client's own parser, not from the check's output."""

from collections import Counter

import pytest
from common import FIXTURES, PayloadServer
from prometheus_client.parser import text_string_to_metric_families

from datadog_checks.dev.utils import get_metadata_metrics
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.metrics import INFO_GAUGES, LABEL_ROUTES, NIM2_METRIC_MAP, SUPERSEDED

METADATA = get_metadata_metrics()
CORPUS = sorted(p.name for p in (FIXTURES / 'nim2').glob('*.txt'))
# Families of the corpus the default map does not send, and why.
NOT_SENT = {
    'vllm:num_requests_swapped': 'vLLM v0 only (no swapping in V1)',
    'vllm:cpu_cache_usage_perc': 'vLLM v0 only',
    'vllm:request_params_best_of': 'vLLM v0 only (best_of was removed)',
    'vllm:avg_prompt_throughput_toks_per_s': 'vLLM v0 only; a rate of prompt_tokens.count',
    'vllm:avg_generation_throughput_toks_per_s': 'vLLM v0 only; a rate of generation_tokens.count',
    'sglang:is_cuda_graph': 'a build flag, not a measurement',
    'sglang:num_grammar_queue_reqs': 'grammar backend queue, not mapped',
    'sglang:kv_used_tokens': 'per-pool token family, not mapped (kv_cache.used_tokens is num_used_tokens)',
    'sglang:kv_available_tokens': 'per-pool token family, not mapped',
    'sglang:realtime_tokens': 'per-mode token counter, not mapped',
    'sglang:func_latency_seconds': 'internal function timing, not mapped',
}
PROCESS_PREFIXES = ('process_', 'python_')


def families(name: str) -> dict:
    """Family name (as the map keys it: counters without `_total`) → family."""
    text = (FIXTURES / 'nim2' / name).read_text()
    return {f.name: f for f in text_string_to_metric_families(text) if not f.name.endswith('_created')}


def run_check(aggregator, dd_run_check, bodies: list[bytes], **options):
    with PayloadServer() as server:
        endpoint = server.base_url + '/v1/metrics'
        check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint, **options}])
        for body in bodies:
            server.body = body
            aggregator.reset()
            dd_run_check(check)
    return endpoint


def submitted_names(name: str) -> set[str]:
    """The Datadog names (before the histogram/counter suffix) of what a map entry sends."""
    if name in INFO_GAUGES:
        return {gauge[0] for gauge in INFO_GAUGES[name]['gauges']}
    routes = LABEL_ROUTES.get(name)
    if routes:
        return {target[0] for target in routes['targets']}
    return {NIM2_METRIC_MAP[name]}


@pytest.mark.parametrize('payload', CORPUS)
def test_family_by_family(aggregator, dd_run_check, payload):
    present = families(payload)
    run_check(aggregator, dd_run_check, [(FIXTURES / 'nim2' / payload).read_bytes()])
    sent = set(aggregator.metric_names)
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)
    for family, metric in present.items():
        if family.startswith(PROCESS_PREFIXES):
            continue
        if family in NOT_SENT:
            assert family not in NIM2_METRIC_MAP, family
            continue
        assert family in NIM2_METRIC_MAP, f'{family}: neither mapped nor listed as not sent'
        # a family without samples (a labelled metric not observed yet) sends nothing
        if not metric.samples:
            continue
        names = submitted_names(family)
        prefixes = {f'nvidia_nim.{n}' for n in names}
        # the name itself (a gauge) or with the suffixes of a counter, histogram or summary
        suffixes = ('', '.count', '.sum', '.bucket', '.quantile')
        got = {s for s in sent if any(s == p + suffix for p in prefixes for suffix in suffixes)}
        if SUPERSEDED.get(family) in present:
            # the current family is in the same scrape: it alone feeds the Datadog name
            continue
        assert got, f'{family} sent nothing under {sorted(prefixes)}'
        for name in got:
            assert name in METADATA, name


def sample_values(payload: str, family: str, sample: str, **labels) -> list[float]:
    return [
        s.value
        for s in families(payload)[family].samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def by_reason(aggregator, name: str) -> dict[str, float]:
    out = {}
    for m in aggregator.metrics(name):
        (reason,) = [t.split(':', 1)[1] for t in m.tags if t.startswith('finished_reason:')]
        out[reason] = out.get(reason, 0) + m.value
    return out


@pytest.mark.parametrize(
    'options',
    [{}, {'max_returned_metrics': 1_000_000}],
    ids=['direct-submission', 'record-path'],
)
def test_vllm_finished_requests_keep_the_nim1_meanings(aggregator, dd_run_check, options):
    """Over two runs, through the direct submission and (with a metric limiter) the record path:
    counters as monotonic counts, `flush_first_value` false on the first run only."""
    payloads = ['vllm_v1_rebuilt.txt', 'vllm_v1_rebuilt_next.txt']
    with PayloadServer() as server:
        endpoint = server.base_url + '/v1/metrics'
        check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint, **options}])
        for run, payload in enumerate(payloads):
            server.body = (FIXTURES / 'nim2' / payload).read_bytes()
            aggregator.reset()
            dd_run_check(check)
            counts = {
                s.labels['finished_reason']: s.value
                for s in families(payload)['vllm:request_success'].samples
                if s.name.endswith('_total')
            }
            assert set(counts) == {'stop', 'length', 'abort', 'error'}
            success = by_reason(aggregator, 'nvidia_nim.request.success.count')
            assert success == {r: counts[r] for r in ('stop', 'length')}
            failure = by_reason(aggregator, 'nvidia_nim.request.failure.count')
            assert failure == {r: counts[r] for r in ('abort', 'error')}
            assert by_reason(aggregator, 'nvidia_nim.request.finish.count') == counts
            for name in ('success', 'failure', 'finish'):
                for m in aggregator.metrics(f'nvidia_nim.request.{name}.count'):
                    assert m.type == aggregator.MONOTONIC_COUNT and m.flush_first_value is (run == 1)


def test_alias_pairs_send_the_current_family_once(aggregator, dd_run_check):
    """Datadog's vLLM fixture has each renamed pair with different data: only the current family
    goes out, once per context."""
    payload = 'vllm_datadog_fixture.txt'
    run_check(aggregator, dd_run_check, [(FIXTURES / 'nim2' / payload).read_bytes()])
    contexts = Counter(
        (m.name, tuple(sorted(m.tags))) for name in aggregator.metric_names for m in aggregator.metrics(name)
    )
    assert [c for c, n in contexts.items() if n > 1] == []
    (usage,) = aggregator.metrics('nvidia_nim.gpu_cache_usage_percent')
    assert [usage.value] == sample_values(payload, 'vllm:kv_cache_usage_perc', 'vllm:kv_cache_usage_perc')
    (count,) = aggregator.metrics('nvidia_nim.time_per_output_token.seconds.count')
    current = sample_values(payload, 'vllm:inter_token_latency_seconds', 'vllm:inter_token_latency_seconds_count')
    old = sample_values(payload, 'vllm:time_per_output_token_seconds', 'vllm:time_per_output_token_seconds_count')
    assert [count.value] == current and current != old


def test_old_family_alone_is_sent(aggregator, dd_run_check):
    body = (FIXTURES / 'nim2' / 'vllm_datadog_fixture.txt').read_text()
    kept = [line for line in body.splitlines() if 'kv_cache_usage_perc' not in line]
    run_check(aggregator, dd_run_check, [('\n'.join(kept) + '\n').encode()])
    (usage,) = aggregator.metrics('nvidia_nim.gpu_cache_usage_percent')
    payload = 'vllm_datadog_fixture.txt'
    assert [usage.value] == sample_values(payload, 'vllm:gpu_cache_usage_perc', 'vllm:gpu_cache_usage_perc')


RENAMED_PAIR = (
    b'# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.25\n'
    b'# TYPE vllm:kv_cache_usage_perc gauge\n%svllm:kv_cache_usage_perc{model_name="m"} 0.75\n'
)


@pytest.mark.parametrize('native', [True, False], ids=['native', 'fallback'])
@pytest.mark.parametrize(
    'indent, options, sent',
    [
        # the current family is there: only it is sent
        (b'', {}, [0.75]),
        # indented, it is still a sample line (the Prometheus parser strips a line)
        (b'  ', {}, [0.75]),
        # a current family whose lines raw_line_filters drops is not there: the old one is sent
        (b'', {'raw_line_filters': ['^vllm:kv_cache']}, [0.25]),
    ],
)
def test_the_current_family_is_what_the_parser_gets(aggregator, dd_run_check, native, indent, options, sent):
    from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

    with PayloadServer(RENAMED_PAIR % indent) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/v1/metrics', **options}
        dd_run_check((NvidiaNIMCheck if native else FallbackCheck)('nvidia_nim', {}, [instance]))
    assert [m.value for m in aggregator.metrics('nvidia_nim.gpu_cache_usage_percent')] == sent


@pytest.mark.parametrize(
    'pair', [('vllm_v1_rebuilt.txt', 'vllm_v1_rebuilt_next.txt'), ('sglang_rebuilt.txt', 'sglang_rebuilt_next.txt')]
)
def test_one_set_of_percentile_gauges_per_model(aggregator, dd_run_check, pair):
    bodies = [(FIXTURES / 'nim2' / p).read_bytes() for p in pair]
    run_check(aggregator, dd_run_check, bodies, latency_percentiles=[0.5, 0.99])
    gauges = [
        (m.name, tuple(sorted(m.tags)))
        for name in aggregator.metric_names
        if name.endswith(('.p50', '.p99'))
        for m in aggregator.metrics(name)
    ]
    assert gauges, 'the later scrape has new requests'
    assert len(gauges) == len(set(gauges))
    # per model, across engine ranks: no rank tag on an estimate
    ranks = ('engine', 'tp_rank', 'pp_rank', 'dp_rank', 'moe_ep_rank')
    for _, tags in gauges:
        assert not [t for t in tags if t.split(':')[0] in ranks], tags


def test_sglang_finish_is_every_processed_request_and_success_is_not_sent(aggregator, dd_run_check):
    payload = 'sglang_rebuilt.txt'
    run_check(aggregator, dd_run_check, [(FIXTURES / 'nim2' / payload).read_bytes()])
    total = sum(sample_values(payload, 'sglang:num_requests', 'sglang:num_requests_total'))
    assert sum(m.value for m in aggregator.metrics('nvidia_nim.request.finish.count')) == total
    assert not aggregator.metrics('nvidia_nim.request.success.count')
    assert not aggregator.metrics('nvidia_nim.request.failure.count')


def readme_table() -> list[str]:
    """The README's mapping table, from the maps, the label routes, the superseded pairs and
    metadata.csv (the type column)."""
    from datadog_checks.nvidia_nim.metrics import METRIC_MAP, SGLANG_METRIC_MAP, VLLM_METRIC_MAP

    def targets(metric_map):
        out: dict[str, list[str]] = {}
        for family, name in metric_map.items():
            special = family in LABEL_ROUTES or family in INFO_GAUGES
            names = submitted_names(family) if special else {name if isinstance(name, str) else name['name']}
            for n in sorted(names):
                out.setdefault(n, []).append(family)
        return out

    def exposed(family, name):
        counter = f'nvidia_nim.{name}.count' in METADATA and f'nvidia_nim.{name}.bucket' not in METADATA
        return f'`{family}_total`' if counter else f'`{family}`'

    def cell(families, name):
        if not families:
            return '–'
        old = [f for f in families if f in SUPERSEDED]
        shown = ', '.join(exposed(f, name) for f in families if f not in old)
        if old:
            shown += ' (older: ' + ', '.join(exposed(f, name) for f in old) + ')'
        return shown

    nim1 = targets({k: v for k, v in METRIC_MAP.items() if not k.startswith(PROCESS_PREFIXES)})
    vllm, sglang = targets(VLLM_METRIC_MAP), targets(SGLANG_METRIC_MAP)
    rows = []
    for name in sorted(set(nim1) | set(vllm) | set(sglang)):
        if f'nvidia_nim.{name}.bucket' in METADATA:
            shown, kind = f'{name}.*', 'histogram'
        elif f'nvidia_nim.{name}.count' in METADATA:
            shown, kind = f'{name}.count', 'count'
        else:
            shown, kind = name, 'gauge'
        cells = [cell(m.get(name, []), name) for m in (nim1, vllm, sglang)]
        rows.append(f'| {" | ".join(cells)} | `{shown}` | {kind} |')
    return rows


def test_readme_table_agrees_with_the_maps_and_metadata():
    from common import PROJECT_ROOT

    readme = (PROJECT_ROOT / 'README.md').read_text()
    header = '| NIM 1.x | vLLM V1 | SGLang | `nvidia_nim.` | type |\n| --- | --- | --- | --- | --- |\n'
    assert header in readme
    table = readme.split(header, 1)[1].split('\n\n', 1)[0].splitlines()
    assert table[-1].startswith('| `process_*`')
    assert table[:-1] == readme_table()
    # every name of the table has its metadata.csv rows
    for row in table[:-1]:
        name = row.split('| `')[-1].split('`')[0]
        base = name[:-2] if name.endswith('.*') else name
        parts = ('.bucket', '.count', '.sum') if name.endswith('.*') else ('',)
        assert all(f'nvidia_nim.{base}{p}' in METADATA for p in parts), name


SGLANG_PRIORITIES = b"""# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="m",priority="",tp_rank="0"} 7.0
sglang:num_queue_reqs{model_name="m",priority="0",tp_rank="0"} 3.0
sglang:num_queue_reqs{model_name="m",priority="1",tp_rank="0"} 4.0
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m",tp_rank="0"} 2.0
"""


@pytest.mark.parametrize('native', [True, False])
def test_sglang_priority_total_and_children_never_double_count(aggregator, dd_run_check, native):
    """With priority scheduling, SGLang's total (`priority=""`) keeps the 1.x name without a
    `priority` tag; the children go to `.by_priority`: each name sums to the queue length."""
    from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

    with PayloadServer(SGLANG_PRIORITIES) as server:
        endpoint = server.base_url + '/v1/metrics'
        cls = NvidiaNIMCheck if native else FallbackCheck
        dd_run_check(cls('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint}]))
    statics = [f'endpoint:{endpoint}']
    aggregator.assert_metric(
        'nvidia_nim.num_requests.waiting', 7.0, tags=['model_name:m', 'tp_rank:0', *statics], count=1
    )
    children = {
        next(t for t in m.tags if t.startswith('priority:')): m.value
        for m in aggregator.metrics('nvidia_nim.num_requests.waiting.by_priority')
    }
    assert children == {'priority:0': 3.0, 'priority:1': 4.0}
    assert sum(children.values()) == sum(m.value for m in aggregator.metrics('nvidia_nim.num_requests.waiting'))
    # without priority scheduling (no label), the gauge is as before, and no child is sent
    aggregator.assert_metric('nvidia_nim.num_requests.running', 2.0, tags=['model_name:m', 'tp_rank:0', *statics])
    assert not aggregator.metrics('nvidia_nim.num_requests.running.by_priority')
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)


VLLM_LORA = b"""# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora="4",running_lora_adapters="",waiting_lora_adapters=""} 1.7e+09
vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql,chat",waiting_lora_adapters="code"} 1.700000020e+09
vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql",waiting_lora_adapters=""} 1.700000010e+09
"""


@pytest.mark.parametrize('native', [True, False])
def test_vllm_lora_info_becomes_adapter_gauges(aggregator, dd_run_check, native):
    """vLLM keeps every label set `lora_requests_info` ever had, each set to the time of its last
    update: the latest one (the second line, highest value) has 2 running adapters (sql, chat), 1
    waiting (code), and max_lora 4. The timestamp itself is never sent."""
    from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

    with PayloadServer(VLLM_LORA) as server:
        endpoint = server.base_url + '/v1/metrics'
        cls = NvidiaNIMCheck if native else FallbackCheck
        dd_run_check(cls('nvidia_nim', {}, [{'openmetrics_endpoint': endpoint}]))
    tags = [f'endpoint:{endpoint}']
    aggregator.assert_metric('nvidia_nim.lora.running_adapters', 2.0, tags=tags, count=1, metric_type=0)
    aggregator.assert_metric('nvidia_nim.lora.waiting_adapters', 1.0, tags=tags, count=1, metric_type=0)
    aggregator.assert_metric('nvidia_nim.lora.max_adapters', 4.0, tags=tags, count=1, metric_type=0)
    assert not aggregator.metrics('nvidia_nim.lora_requests_info')
    aggregator.assert_metrics_using_metadata(METADATA, check_submission_type=True)


@pytest.mark.parametrize(
    'payloads',
    [
        ['vllm_datadog_fixture.txt'] * 2,
        ['vllm_v1_rebuilt.txt', 'vllm_v1_rebuilt_next.txt'],
        ['sglang_rebuilt.txt', 'sglang_rebuilt_next.txt'],
        ['sglang_datadog_fixture.txt', 'sglang_docs_example.txt'],
    ],
)
def test_the_fallback_sends_what_the_native_check_sends(aggregator, datadog_agent, payloads):
    """Without the Rust core, datadog-checks-base's scraper with the same specs (routes, superseded
    families, info gauges) sends the same submissions on the real payloads."""
    from common import PROM_CONTENT_TYPE
    from test_same_as_stock import assert_identical, run_both

    from datadog_checks.nvidia_nim.fallback import NvidiaNIMCheck as FallbackCheck

    bodies = [(FIXTURES / 'nim2' / p).read_bytes() for p in payloads]
    results = run_both(aggregator, datadog_agent, bodies, PROM_CONTENT_TYPE, checks=(NvidiaNIMCheck, FallbackCheck))
    assert_identical(results)
    assert results[-1][2]['metrics'], 'something was sent'
