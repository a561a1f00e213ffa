"""Differential tests: the stock OpenMetricsBaseCheckV2 (configured as the integration we replace)
and our check run on the same bytes from the same loopback endpoint, three runs in a row, and
must leave identical records in the stub aggregator (metrics with flush_first_value, histogram
buckets, service checks, metadata, issues, warnings), make identical HTTP requests and end with
identical run errors. Deliberate differences are pinned in test_deliberate_differences.py."""

import copy
import functools
import re
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from common import (
    CLOCK_METRICS,
    FIXTURES,
    OM_CONTENT_TYPE,
    PROM_CONTENT_TYPE,
    PayloadServer,
    StockNvidiaNIMCheck,
    TLSFiles,
    assert_same_submissions,
    fixture_bytes,
    run_error,
    snapshot,
)

from datadog_checks.base.utils.http import STANDARD_FIELDS
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.config import TRANSFORMER_TYPES
from datadog_checks.nvidia_nim.emulator import NimMetrics

OM_ACCEPT = 'application/openmetrics-text;version=1.0.0'
RUNS = 3


def without_counter_created(body: bytes) -> bytes:
    """Drops `_created` samples: the stock check submits an OpenMetrics counter's `_created` as a
    second `.count` (a stock bug this check fixes; see test_deliberate_differences.py)."""
    return re.sub(rb'(?m)^[^#\n][^\n]*_created(\{[^\n]*)? [^\n]*\n', b'', body)


def emulator_bodies(models: int, openmetrics: bool) -> list[bytes]:
    nim = NimMetrics(models=models, seed=models)
    bodies = []
    for _ in range(RUNS):
        body, _ = nim.exposition(OM_ACCEPT if openmetrics else 'text/plain')
        bodies.append(without_counter_created(body) if openmetrics else body)
        nim.step()
    return bodies


def run_both(
    aggregator,
    datadog_agent,
    bodies,
    content_type,
    instance_options=None,
    path='/metrics',
    init_config=None,
    setup=None,
    between=None,
    tls=None,
    checks=(StockNvidiaNIMCheck, NvidiaNIMCheck),
):
    """Runs both checks once per body; returns the per-run (stock, ours) snapshots and errors.
    `checks` are the two check classes (the reference first).

    A body is bytes, or (HTTP status, bytes). `instance_options` is a mapping, or a callable of the
    server that returns one; `setup(server)` prepares the server before the first run;
    `between(run index, (stock, ours))` runs before each run; `tls` (a server-side SSL context)
    serves HTTPS. The snapshots hold the HTTP requests each check made during its run."""
    results = []
    with PayloadServer(content_type=content_type, tls=tls) as server:
        if setup is not None:
            setup(server)
        options = instance_options(server) if callable(instance_options) else (instance_options or {})
        instance = {'openmetrics_endpoint': server.base_url + path, 'tags': ['test:test'], **options}
        instance = {k: v for k, v in instance.items() if v is not None}  # None: the option is left out
        stock, ours = (cls('nvidia_nim', copy.deepcopy(init_config or {}), [copy.deepcopy(instance)]) for cls in checks)
        # metadata as the Agent holds it: the last value set per name, across runs (the stock
        # check looks the version up every run, ours when it may have changed; see
        # test_version_metadata.py), so version requests are left out of the comparison
        metadata = {id(stock): {}, id(ours): {}}
        for run, body in enumerate(bodies):
            if between is not None:
                between(run, (stock, ours))
            server.status, server.body = body if isinstance(body, tuple) else (200, body)
            snaps = []
            for check in (stock, ours):
                aggregator.reset()
                datadog_agent.reset()
                server.requests.clear()
                error = run_error(check.run())
                snap = {**snapshot(aggregator, datadog_agent), 'warnings': check.get_warnings()}
                metadata[id(check)].update(snap['metadata'])
                snap['metadata'] = dict(metadata[id(check)])
                requests = [r for r in server.requests if not r[0].split('?')[0].endswith('/v1/version')]
                snaps.append((snap | {'requests': requests}, error))
            results.append((snaps[0][0], snaps[0][1], snaps[1][0], snaps[1][1]))
    return results


def assert_identical(results, clock_metrics=CLOCK_METRICS):
    for stock_snap, stock_error, our_snap, our_error in results:
        assert our_error == stock_error
        assert_same_submissions(stock_snap, our_snap, clock_metrics)


def test_fixture(aggregator, datadog_agent):
    results = run_both(aggregator, datadog_agent, [fixture_bytes('nim_metrics.txt')] * RUNS, PROM_CONTENT_TYPE)
    assert_identical(results)
    stock_snap = results[0][0]
    assert len(stock_snap['metrics']) == 34
    # flush_first_value moves from False (run 1) to True (runs 2 and 3) in both
    assert {m.flush_first_value for m in results[0][2]['metrics']['nvidia_nim.prompt_tokens.count']} == {False}
    assert {m.flush_first_value for m in results[2][2]['metrics']['nvidia_nim.prompt_tokens.count']} == {True}


@pytest.mark.parametrize('models', [1, 10, 100])
@pytest.mark.parametrize('openmetrics', [False, True], ids=['prometheus', 'openmetrics'])
def test_emulator_payloads(aggregator, datadog_agent, models, openmetrics):
    bodies = emulator_bodies(models, openmetrics)
    content_type = OM_CONTENT_TYPE if openmetrics else PROM_CONTENT_TYPE
    results = run_both(aggregator, datadog_agent, bodies, content_type)
    assert_identical(results)
    for stock_snap, stock_error, _, _ in results:
        assert stock_error is None
        assert len(stock_snap['metrics']) == 34
        assert len(stock_snap['metrics']['nvidia_nim.num_requests.running']) == models


# Small payloads that exercise the parsers' corners; every family is mapped through a catch-all
# regex key so that each sample reaches a transformer.
CATCH_ALL = {'extra_metrics': [{'.*': {'type': 'native'}}]}
CORNER_CASES = {
    'labels_lenient': b'# TYPE g gauge\ng{ a = "1" , b="x\\"y\\\\z\\n",} 3\ng{a="1",b="2",a="3"} 4\ng{} 5\n',
    'unclosed_brace': b'# TYPE g gauge\ng{a="1" 3\n',
    'garbage_before_quote': b'# TYPE g gauge\ng{a=x"1",b="2"} 3\n',
    'non_ascii': '# TYPE g gauge\ng{a="é✓ ü",b="日本"} 1\n'.encode(),
    'nan_inf': b'# TYPE g gauge\ng{a="1"} NaN\ng{a="2"} +Inf\ng{a="3"} -Inf\ng{a="4"} 7\n',
    'values': b'# TYPE g gauge\ng{a="1"} +5\ng{a="2"} -0\ng{a="3"} 1e3\ng{a="4"} .5\ng{a="5"} 5.\ng{a="6"} 1e400\n',
    'timestamps': b'# TYPE g gauge\ng 1 1700000000000\ng{a="x"} 2 -5\ng{b="y"}\t3\n',
    'bad_value': b'# TYPE a gauge\na 1\n# TYPE g gauge\ng abc\n',
    'underscore_value': b'# TYPE g gauge\ng 1_000\n',
    'bad_type': b'# TYPE a gauge\na 1\n# TYPE g weird\ng 1\n# TYPE z gauge\nz 1\n',
    'type_without_word': b'# TYPE a gauge\na 1\n# TYPE g\n',
    'blank_and_comments': b'\n\n# just a comment\n#\n# TYPE g gauge\n\ng 1\n   \n# HELP g help text\n',
    'untyped': b'u 7\nu{x="1"} 8\n',
    'interleaved': b'# TYPE g gauge\ng{a="1"} 1\n# TYPE h gauge\nh 2\ng{a="2"} 3\n',
    'counter_forms': (
        b'# TYPE c_total counter\nc_total{x="1"} 10\n# TYPE e counter\ne_total 12\n# TYPE f counter\nf 3\n'
    ),
    'summary': b'# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="1"} 2\ns{quantile="0"} 3\ns_sum 4\ns_count 5\n',
    'histogram_bounds': (
        b'# TYPE h histogram\nh_bucket{le="-1"} 0\nh_bucket{le="0"} 1\nh_bucket{le="0.005"} 1\n'
        b'h_bucket{le="1e3"} 2\nh_bucket{le="1e-7"} 2\nh_bucket{le="1_0"} 3\nh_bucket{le="+Inf"} 4\n'
        b'h_sum 5\nh_count 4\nh_created 1.7e9\n'
    ),
    'histogram_bad_le': b'# TYPE a gauge\na 1\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="abc"} 2\n',
    'histogram_no_le': b'# TYPE h histogram\nh_bucket{x="1"} 1\nh_sum 1\n',
    'duplicates': b'# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n',
    'escapes_unknown': b'# TYPE g gauge\ng{a="x\\ty\\\\"} 1\n',
    'crlf': b'# TYPE g gauge\r\ng{a="1"} 1\r\ng{a="2"} 2\r\n',
    'quoted_help_name': b'# HELP "g" doc\n# TYPE g gauge\ng 1\n',
    'huge_int': b'# TYPE g gauge\ng 1\ng{a="1"} ' + b'9' * 400 + b'\n',
    'empty_body': b'',
    'space_name_fallback': b'# TYPE g gauge\ng{a="x y"} abc\n',
}


def assert_corner_case(aggregator, datadog_agent, monkeypatch, body, content_type):
    """A tuple is one body per run; a single body is served for every run."""
    monkeypatch.setenv('DDEV_SKIP_GENERIC_TAGS_CHECK', '1')
    bodies = list(body) if isinstance(body, tuple) else [body] * RUNS
    assert_identical(run_both(aggregator, datadog_agent, bodies, content_type, CATCH_ALL))


@pytest.mark.parametrize('case', sorted(CORNER_CASES))
def test_prometheus_corner_cases(aggregator, datadog_agent, monkeypatch, case):
    assert_corner_case(aggregator, datadog_agent, monkeypatch, CORNER_CASES[case], PROM_CONTENT_TYPE)


OM_CORNER_CASES = {
    'valid': (
        b'# TYPE g gauge\n# UNIT g seconds\ng_seconds 1\n# EOF\n',
        b'# HELP c help\n# TYPE c counter\nc_total{a="1"} 5 1700000000.5\nc_total{a="2"} 6\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="1.0"} 1 # {trace_id="a"} 0.5 1.5\nh_bucket{le="+Inf"} 2\n'
        b'h_count 2\nh_sum 3\n# EOF\n',
    ),
    'info_stateset': b'# TYPE i info\ni_info{v="1"} 1\n# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 0\n# EOF\n',
    'missing_eof': b'# TYPE g gauge\ng 1\n',
    'line_after_eof': b'# TYPE g gauge\ng 1\n# EOF\nx 1\n',
    'bad_comment': b'# TYPE g gauge\n# random comment here\ng 1\n# EOF\n',
    'negative_counter': b'# TYPE c counter\nc_total -1\n# EOF\n',
    'grouping': b'# TYPE g gauge\ng{a="1"} 1\ng{a="2"} 1\ng{a="1"} 2\n# EOF\n',
    'duplicate_series': b'# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n# EOF\n',
    'clashing': b'# TYPE c counter\nc 5\n# EOF\n',
    'uncanonical_inf': b'# TYPE h histogram\nh_bucket{le="+inf"} 1\nh_count 1\nh_sum 1\n# EOF\n',
    'summary_quantiles': b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 1\ns_count 1\n# EOF\n',
    'bad_quantile': b'# TYPE s summary\ns{quantile="2"} 1\n# EOF\n',
    # lines of a histogram family read as native-histogram samples, malformed
    'native_histogram_without_count': b'# TYPE h histogram\nh_buck t{a="3"} 4\n# EOF\n',
    'native_histogram_unclosed': b'# TYPE g gauge\ng 1\n# TYPE h histogram\nh {count:1\n# EOF\n',
    'native_histogram_bad_values': (
        b'# TYPE h histogram\nh {count:x}\n# EOF\n',
        b'# TYPE h histogram\nh {count: 2 ,sum:y}\n# EOF\n',
        b'# TYPE h histogram\nh{a="1"} {count:1,sum:1,schema:0,zero_threshold:0}\n# EOF\n',
    ),
    'native_histogram_suffixed': (
        b'# TYPE h histogram\nh_bucket{a="1"} {count:1}\n# EOF\n',
        b'# TYPE h histogram\nh_count {count:1}\n# EOF\n',
        '# TYPE h histogram\nh_count \u00e9{count:1}\n# EOF\n'.encode(),
    ),
}


@pytest.mark.parametrize('case', sorted(OM_CORNER_CASES))
def test_openmetrics_corner_cases(aggregator, datadog_agent, monkeypatch, case):
    assert_corner_case(aggregator, datadog_agent, monkeypatch, OM_CORNER_CASES[case], OM_CONTENT_TYPE)


OPTION_SETS = {
    'exclude_labels': {'exclude_labels': ['model_name']},
    'include_labels': {'include_labels': ['model_name', 'generation']},
    'rename_labels': {'rename_labels': {'model_name': 'model', 'upper_bound': 'le'}},
    'exclude_metrics': {'exclude_metrics': ['num_requests_running', 'process_.*']},
    'exclude_by_labels': {'exclude_metrics_by_labels': {'generation': ['^1'], 'finished_reason': True}},
    'no_buckets': {'collect_histogram_buckets': False},
    'non_cumulative': {'non_cumulative_histogram_buckets': True},
    'no_buckets_non_cumulative': {'collect_histogram_buckets': False, 'non_cumulative_histogram_buckets': True},
    'distributions': {'histogram_buckets_as_distributions': True},
    'distributions_with_counters': {'collect_counters_with_distributions': True},
    'hostname_label': {'hostname_label': 'model_name', 'hostname_format': '<HOSTNAME>-nim'},
    'no_endpoint_tag': {'tag_by_endpoint': False, 'tags': ['a:b', 'env_x']},
    'ignore_tags': {'tags': ['keep:1', 'drop:1'], 'ignore_tags': ['^drop']},
    'metrics_replace': {'metrics': ['num_requests_running', {'gpu_cache_usage_perc': 'kv'}]},
    'typed_entries': {
        'extra_metrics': [
            {'num_requests_waiting': {'type': 'rate', 'name': 'waiting_rate'}},
            {'prompt_tokens': {'type': 'counter_gauge', 'name': 'prompt_cg'}},
            {'num_request_max': {'type': 'temporal_percent', 'scale': 'millisecond', 'name': 'tp'}},
            {'python_info': {'type': 'metadata', 'label': 'version', 'name': 'python_version'}},
        ]
    },
    'regex_key': {'extra_metrics': [{'request_.*': 'ignored_name'}]},
    'disable_health': {'enable_health_service_check': False},
    'metric_patterns': {'metric_patterns': {'include': ['request', 'process'], 'exclude': ['bucket$']}},
    'max_returned_metrics': {'max_returned_metrics': 50},
    'disable_generic_tags': {'disable_generic_tags': True, 'tags': ['env:prod', 'service']},
    'telemetry': {'telemetry': True, 'exclude_metrics': ['python_info']},
    'use_process_start_time': {'use_process_start_time': True},
    'share_labels_unconditional': {'share_labels': {'python_info': {'labels': ['implementation', 'major']}}},
    'share_labels_match': {
        'share_labels': {'num_request_max': {'match': ['model_name'], 'labels': ['model_name'], 'values': [64]}}
    },
    'share_labels_true_late_source': {'share_labels': {'request_failure': True}, 'cache_shared_labels': False},
    'share_labels_missing_source': {'share_labels': {'not_there': True, 'python_info': True}},
    'use_process_start_time_distributions': {
        'use_process_start_time': True,
        'histogram_buckets_as_distributions': True,
    },
    'raw_line_filters': {'raw_line_filters': ['^num_requests', 'generation="1"']},
    'raw_line_filters_telemetry': {'raw_line_filters': ['^#', 'le="\\+Inf"'], 'telemetry': True},
    'raw_metric_prefix': {'raw_metric_prefix': 'python_', 'extra_metrics': ['info', {'gc_collections': 'gc'}]},
    'namespace_ignored': {'namespace': 'other_namespace'},
    'use_latest_spec_on_prometheus_text': {'use_latest_spec': True},
    'temporal_percent_int_scale': {
        'extra_metrics': [{'num_requests_running': {'type': 'temporal_percent', 'scale': 1000, 'name': 'busy'}}]
    },
    'service_check': {
        'extra_metrics': [
            {
                'num_requests_waiting': {
                    'type': 'service_check',
                    'name': 'queue',
                    'status_map': {'0': 'ok', '1': 'WARNING', '2': 'critical'},
                }
            }
        ]
    },
    'native_dynamic_everything': {'extra_metrics': [{'.*': {'type': 'native_dynamic'}}]},
    'metadata_regex_scheme': {
        'extra_metrics': [
            {
                'python_info': {
                    'type': 'metadata',
                    'label': 'version',
                    'name': 'version',
                    'scheme': 'regex',
                    'pattern': '(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)',
                }
            }
        ]
    },
    'forced_types': {
        'extra_metrics': [
            {'num_requests_running': {'type': 'counter', 'name': 'running_as_counter'}},
            {'num_requests_waiting': {'type': 'histogram', 'name': 'waiting_as_histogram'}},
            {'gpu_cache_usage_perc': {'type': 'summary', 'name': 'cache_as_summary'}},
            {'time_to_first_token_seconds': {'type': 'gauge', 'name': 'ttft_as_gauge'}},
            {'request_success': {'type': 'gauge', 'name': 'success_as_gauge'}},
        ]
    },
    'labels_combined_non_cumulative': {
        'include_labels': ['model_name', 'upper_bound', 'finished_reason'],
        'exclude_labels': ['finished_reason'],
        'rename_labels': {'upper_bound': 'bound', 'model_name': 'model'},
        'non_cumulative_histogram_buckets': True,
    },
    'hostname_from_shared_label': {
        'share_labels': {'python_info': {'labels': ['implementation']}},
        'hostname_label': 'implementation',
    },
    'hostname_label_excluded': {'hostname_label': 'model_name', 'exclude_labels': ['model_name']},
    'exclude_upper_bound_distributions': {
        'exclude_metrics_by_labels': {'upper_bound': ['^0\\.0', 'inf']},
        'histogram_buckets_as_distributions': True,
    },
    'histograms_as_distributions_renamed_bound': {
        'collect_histograms_as_distributions': True,
        'collect_counters_with_distributions': True,
        'rename_labels': {'upper_bound': 'ub'},
    },
    'limit_with_patterns': {'max_returned_metrics': 20, 'metric_patterns': {'exclude': ['^nvidia_nim\\.process']}},
    'limit_zero': {'max_returned_metrics': 0},
    'limit_not_a_number': {'max_returned_metrics': 'many'},
    'generic_tags_renamed': {
        'disable_generic_tags': True,
        'rename_labels': {'model_name': 'host', 'generation': 'env'},
        'tags': ['env:prod', 'cluster', 'service:nim'],
    },
    'telemetry_combined': {
        'telemetry': True,
        'raw_line_filters': ['^python_gc_objects'],
        'exclude_metrics': ['process_.*'],
        'metric_patterns': {'exclude': ['telemetry\\.metrics\\.input']},
    },
    'process_start_time_non_cumulative': {
        'use_process_start_time': True,
        'non_cumulative_histogram_buckets': True,
        'share_labels': {'num_request_max': {'labels': ['model_name'], 'match': ['model_name']}},
    },
    'process_start_time_with_prefix': {'use_process_start_time': True, 'raw_metric_prefix': 'process_'},
    'tags_duplicates_ignored': {
        'tags': ['a:1', 'a:1', 'drop:me', 'env_name:x'],
        'ignore_tags': ['^drop', 'me$'],
        'tag_by_endpoint': False,
        'enable_health_service_check': True,
    },
    'regex_without_cache': {'extra_metrics': [{'request_.*': {'type': 'native'}}], 'cache_metric_wildcards': False},
    'exclude_metrics_exact_and_regex': {'exclude_metrics': ['tokens', 'request_(success|failure)', '^num_']},
    'metrics_replaced_typed': {
        'metrics': [
            {'process_start_time_seconds': {'type': 'time_elapsed', 'name': 'uptime'}},
            {'generation_tokens': {'type': 'counter_gauge'}},
            {'e2e_.*': {'type': 'histogram'}},
            'num_requests_running',
        ]
    },
}
CLOCK_OPTION_METRICS = {'metrics_replaced_typed': {'nvidia_nim.uptime'}}


@pytest.mark.parametrize('option_set', sorted(OPTION_SETS))
def test_options_on_emulator_payload(aggregator, datadog_agent, option_set):
    bodies = emulator_bodies(2, openmetrics=False)
    results = run_both(aggregator, datadog_agent, bodies, PROM_CONTENT_TYPE, OPTION_SETS[option_set])
    assert_identical(results, CLOCK_METRICS | CLOCK_OPTION_METRICS.get(option_set, set()))
    assert any(submitted(stock) or error for stock, error, _, _ in results)


OM_EMULATOR_OPTION_SETS = (
    'non_cumulative',
    'distributions_with_counters',
    'share_labels_match',
    'use_process_start_time',
    'telemetry',
    'exclude_by_labels',
    'hostname_label',
    'raw_line_filters',
)


@pytest.mark.parametrize('option_set', OM_EMULATOR_OPTION_SETS)
def test_options_on_openmetrics_emulator_payload(aggregator, datadog_agent, option_set):
    bodies = emulator_bodies(2, openmetrics=True)
    results = run_both(aggregator, datadog_agent, bodies, OM_CONTENT_TYPE, OPTION_SETS[option_set])
    assert_identical(results)


SHARE_BODIES = tuple(
    (
        '# TYPE g gauge\ng{pod="p1",x="1"} 1\ng{pod="p2",x="2"} 2\n'
        f'# TYPE kube_pod_info gauge\nkube_pod_info{{pod="p1",node="n{run}"}} 1\nkube_pod_info{{pod="p2",node="m"}} 0\n'
        f'# TYPE build_info gauge\nbuild_info{{commit="c{run}"}} 1\n# TYPE h gauge\nh{{pod="p2"}} 3\n'
    ).encode()
    for run in range(RUNS)
)
SHARE_OPTIONS = {
    'kube_pod_info': {'match': ['pod'], 'labels': ['node'], 'values': [1]},
    'build_info': {'labels': ['commit']},
}


@pytest.mark.parametrize('cache', [True, False])
def test_share_labels_sources_after_their_targets(aggregator, datadog_agent, cache):
    options = {**CATCH_ALL, 'share_labels': SHARE_OPTIONS, 'cache_shared_labels': cache}
    results = run_both(aggregator, datadog_agent, SHARE_BODIES, PROM_CONTENT_TYPE, options)
    assert_identical(results)
    tags = results[-1][2]['metrics']['nvidia_nim.g'][0].tags
    run = 0 if cache else RUNS - 1  # the cache keeps what the first scrape collected
    assert f'commit:c{run}' in tags and f'node:n{run}' in tags


TARGET_INFO_BODIES = tuple(
    (
        f'# TYPE a gauge\na{{x="1"}} 1\n# TYPE target_info gauge\ntarget_info{{zone="z{run}",region="r"}} 1\n'
        '# TYPE b gauge\nb{x="2"} 2\n'
    ).encode()
    for run in range(RUNS)
)


TARGET_INFO_OPTIONS = {
    'target_info': {'target_info': True},
    'with_share_labels': {'target_info': True, 'share_labels': {'b': {'labels': ['x']}}},
    'excluded': {'target_info': True, 'exclude_metrics': ['target_info']},
    'no_cache': {'target_info': True, 'cache_shared_labels': False},
}


@pytest.mark.parametrize('options', TARGET_INFO_OPTIONS.values(), ids=TARGET_INFO_OPTIONS.keys())
def test_target_info(aggregator, datadog_agent, options):
    results = run_both(aggregator, datadog_agent, TARGET_INFO_BODIES, PROM_CONTENT_TYPE, {**CATCH_ALL, **options})
    assert_identical(results)
    assert 'zone:z0' in results[0][2]['metrics']['nvidia_nim.a'][0].tags
    for _, stock_error, _, _ in results:
        assert stock_error is None


def test_connection_refused(aggregator, datadog_agent):
    with PayloadServer() as server:
        url = server.base_url + '/metrics'
    results = []
    for options in ({}, {'ignore_connection_errors': True}):
        instance = {'openmetrics_endpoint': url, **options}
        for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
            aggregator.reset()
            error = run_error(cls('nvidia_nim', {}, [instance]).run())
            results.append((error, snapshot(aggregator, datadog_agent)))
    for stock, ours in (results[0:2], results[2:4]):
        assert stock[1] | {'clock': None} == ours[1] | {'clock': None}
    assert results[0][0] == results[1][0]
    assert results[0][0].startswith(f'There was an error scraping endpoint {url}: ')
    # with ignore_connection_errors the stock run still fails, on its version request (a stock bug
    # this check fixes: the version endpoint never fails a run)
    assert 'url: /v1/version' in results[2][0]
    assert results[3][0] is None


# --- Corpus × options ------------------------------------------------------------------------------
# Payloads for the corpus of the NIM fixture and the emulator above: OpenMetrics with exemplars,
# units and info families; summaries; untyped families; escaped and non-ASCII label values; NaN and
# Inf; timestamps; negative and extreme histogram bounds; duplicate series. Each is crossed with the
# histogram modes, and with label, naming and typing options.

CORPUS = {
    'summaries': (
        PROM_CONTENT_TYPE,
        b'# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n'
        b'rpc_seconds{model_name="a",quantile="0.01"} 3102\nrpc_seconds{model_name="a",quantile="0.5"} 4773\n'
        b'rpc_seconds{model_name="a",quantile="0.99"} 76656\nrpc_seconds{model_name="a",quantile="1e-3"} 1\n'
        b'rpc_seconds{model_name="a",quantile="+Inf"} 2\nrpc_seconds_sum{model_name="a"} 1.7560473e+07\n'
        b'rpc_seconds_count{model_name="a"} 2693\nrpc_seconds{model_name="b"} 7\n'
        b'rpc_seconds_sum{model_name="b"} 0.5\nrpc_seconds_count{model_name="b"} 0\n'
        b'rpc_seconds_created{model_name="b"} 1.7e9\n'
        b'# TYPE lat_count summary\nlat_count{quantile="0.5"} 1\nlat_count_sum 2\nlat_count_count 3\n',
    ),
    'untyped': (
        PROM_CONTENT_TYPE,
        b'# HELP only_help some help\nonly_help 1\nno_meta{a="1"} 2\n# TYPE explicit untyped\nexplicit 3\n'
        b'# TYPE bare_counter counter\nbare_counter 4\n# TYPE g gauge\ng 5\ng_extra 6\n# TYPE u2 unknown\nu2 7\n',
    ),
    'labels': (
        PROM_CONTENT_TYPE,
        '# TYPE labels gauge\n'
        'labels{a="x\\\\y",b="q\\"uote",c="new\\nline",d="",e="é✓ ü 日本 🚀",f="a,b=c}d{",g="t\\tab"} 1\n'
        'labels{a=""} 2\nlabels{z="1",a="2"} 3\nlabels{ a="spaces" , b = "2" } 4\n'
        'labels{a="\\u2028 text",model_name="ñandú/ü-1"} 5\n'.encode(),
    ),
    'nan_inf': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{a="1"} NaN\ng{a="2"} +Inf\ng{a="3"} -Inf\ng{a="4"} nan\ng{a="5"} inf\n'
        b'g{a="6"} -infinity\ng{a="7"} 1e308\ng{a="8"} -1e-308\ng{a="9"} 1.7976931348623157e308\n'
        b'# TYPE c counter\nc_total{a="1"} NaN\nc_total{a="2"} 5\n'
        b'# TYPE h histogram\nh_bucket{le="1"} NaN\nh_bucket{le="2"} 3\nh_bucket{le="3"} 4\n'
        b'h_bucket{le="+Inf"} Inf\nh_sum NaN\nh_count 3\n'
        b'# TYPE s summary\ns{quantile="0.5"} NaN\ns{quantile="0.9"} 1\ns_sum +Inf\ns_count 2\n',
    ),
    'timestamps': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{a="1"} 1 1700000000000\ng{a="2"} 2 -1\ng{a="3"} 3 0\n'
        b'# TYPE c counter\nc_total 5 1700000000000\n'
        b'# TYPE h histogram\nh_bucket{le="1"} 1 1700000000000\nh_bucket{le="+Inf"} 2 1700000000000\n'
        b'h_sum 3 1700000000000\nh_count 2 1700000000000\n',
    ),
    'histogram_bounds': (
        PROM_CONTENT_TYPE,
        b'# TYPE neg histogram\nneg_bucket{le="-10"} 1\nneg_bucket{le="-1"} 2\nneg_bucket{le="-0.5"} 2\n'
        b'neg_bucket{le="0"} 4\nneg_bucket{le="1e-300"} 4\nneg_bucket{le="1e308"} 6\nneg_bucket{le="+Inf"} 7\n'
        b'neg_sum -3\nneg_count 7\n'
        b'# TYPE ext histogram\next_bucket{k="a",le="-Inf"} 0\next_bucket{k="a",le="5e-324"} 1\n'
        b'ext_bucket{k="a",le="1.7976931348623157e308"} 2\next_bucket{k="a",le="+Inf"} 3\n'
        b'ext_sum{k="a"} 1\next_count{k="a"} 3\next_bucket{k="b",le="2"} 5\next_bucket{k="b",le="1"} 2\n'
        b'ext_bucket{k="b",le="2"} 6\next_bucket{k="b",le="+Inf"} 6\next_sum{k="b"} 10\next_count{k="b"} 6\n'
        b'# TYPE odd histogram\nodd_bucket{le="1.0"} 1\nodd_bucket{le="1"} 2\nodd_bucket{le=" 2 "} 3\n'
        b'odd_bucket{le="1_0"} 4\nodd_bucket{le="1e1"} 4\nodd_bucket{le="+Inf"} 4\nodd_count 4\nodd_sum 1\n',
    ),
    'duplicates': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\ng 3\ng 4\n# TYPE c counter\nc_total{a="1"} 1\nc_total{a="1"} 2\n'
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 3\nh_bucket{le="+Inf"} 3\n'
        b'h_sum 1\nh_sum 2\nh_count 3\n# TYPE g gauge\ng{a="9"} 9\n',
    ),
    'om_exemplars_units_info': (
        OM_CONTENT_TYPE,
        b'# TYPE latency_seconds histogram\n# UNIT latency_seconds seconds\n# HELP latency_seconds Latency.\n'
        b'latency_seconds_bucket{model_name="m",le="0.1"} 1 # {trace_id="abc"} 0.05 1700000000.1\n'
        b'latency_seconds_bucket{model_name="m",le="1.0"} 3 # {trace_id="def",span_id="x"} 0.5\n'
        b'latency_seconds_bucket{model_name="m",le="+Inf"} 4\nlatency_seconds_count{model_name="m"} 4\n'
        b'latency_seconds_sum{model_name="m"} 2.5\nlatency_seconds_created{model_name="m"} 1700000000.0\n'
        b'# TYPE gen_tokens counter\n# UNIT gen_tokens tokens\ngen_tokens_total{model_name="m"} 10 # {trace_id="t"} 1\n'
        b'# TYPE build info\nbuild_info{release="1.2.3",commit="abc"} 1\n'
        b'# TYPE state stateset\nstate{state="ready"} 1\nstate{state="loading"} 0\n'
        b'# TYPE queue gaugehistogram\nqueue_bucket{le="1.0"} 2\nqueue_bucket{le="+Inf"} 3\n'
        b'queue_gcount 3\nqueue_gsum 4\n'
        b'# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\ntemp_celsius 21.5\n# EOF\n',
    ),
    'om_summary_nan_timestamps': (
        OM_CONTENT_TYPE,
        '# TYPE s summary\ns{quantile="0.5"} 1.0 1700000000.5\ns{quantile="0.9"} 2 1700000000.5\n'
        's_sum 5 1700000000.5\ns_count 3 1700000000.5\ns_created 1700000000 1700000000.5\n'
        '# TYPE g gauge\ng{a="x"} +Inf 1700000000\ng{a="y"} -Inf\n'
        'g{a="z"} NaN\ng{a="é"} 1e-10\n# EOF\n'.encode(),
    ),
    'om_escapes_duplicates': (
        OM_CONTENT_TYPE,
        '# TYPE e gauge\ne{a="x\\\\y",b="q\\"uote",c="new\\nline",d="é✓ 日本"} 1\ne{a="x\\\\y",b="q\\"uote",'
        'c="new\\nline",d="é✓ 日本"} 2\ne{a=""} 3\n# TYPE n histogram\nn_bucket{le="-2.0"} 1\n'
        'n_bucket{le="-1.0"} 2\nn_bucket{le="+Inf"} 3\n# EOF\n'.encode(),
    ),
}

# Every family of the corpus reaches a transformer: natively typed, or forced to a gauge.
NATIVE_ALL = {'extra_metrics': [{'.*': {'type': 'native'}}]}
GAUGE_ALL = {'extra_metrics': [{'.*': {'type': 'gauge'}}]}
HISTOGRAM_MODES = {
    'default': {},
    'no_buckets': {'collect_histogram_buckets': False},
    'non_cumulative': {'non_cumulative_histogram_buckets': True},
    'no_buckets_non_cumulative': {'collect_histogram_buckets': False, 'non_cumulative_histogram_buckets': True},
    'distributions': {'histogram_buckets_as_distributions': True},
    'distributions_counters': {'collect_counters_with_distributions': True},
    'histograms_as_distributions': {'collect_histograms_as_distributions': True},
    'histograms_as_distributions_counters': {
        'collect_histograms_as_distributions': True,
        'collect_counters_with_distributions': True,
    },
}
HISTOGRAM_PAYLOADS = ('histogram_bounds', 'nan_inf', 'duplicates', 'timestamps', 'om_exemplars_units_info')


def run_corpus(aggregator, datadog_agent, monkeypatch, payload, options, clock_metrics=CLOCK_METRICS):
    monkeypatch.setenv('DDEV_SKIP_GENERIC_TAGS_CHECK', '1')
    content_type, body = CORPUS[payload]
    results = run_both(aggregator, datadog_agent, [body] * RUNS, content_type, options)
    assert_identical(results, clock_metrics)
    assert submitted(results[0][0]) > 0  # every corpus case sends something
    return results


@pytest.mark.parametrize('mode', sorted(HISTOGRAM_MODES))
@pytest.mark.parametrize('payload', HISTOGRAM_PAYLOADS)
def test_corpus_histogram_modes(aggregator, datadog_agent, monkeypatch, payload, mode):
    run_corpus(aggregator, datadog_agent, monkeypatch, payload, {**NATIVE_ALL, **HISTOGRAM_MODES[mode]})


CORPUS_OPTIONS = {
    'native': NATIVE_ALL,
    'gauge': GAUGE_ALL,
    'labels_filtered_renamed': {
        **NATIVE_ALL,
        'include_labels': ['a', 'b', 'model_name', 'quantile', 'upper_bound', 'k'],
        'exclude_labels': ['b'],
        'rename_labels': {'a': 'renamed_a', 'upper_bound': 'le', 'quantile': 'q', 'model_name': 'model'},
    },
    'exclude_by_labels': {
        **NATIVE_ALL,
        'exclude_metrics_by_labels': {
            'a': ['^[12]$', 'é'],
            'k': True,
            'upper_bound': ['^1\\.0$'],
            'quantile': ['0\\.5'],
        },
    },
    'hostname_label': {**NATIVE_ALL, 'hostname_label': 'a', 'hostname_format': 'host-<HOSTNAME>-<HOSTNAME>'},
    'typed_map': {
        'metrics': [
            'g',
            {'c': 'renamed_c'},
            {'h': {'type': 'gauge', 'name': 'h_as_gauge'}},
            {'s': {'type': 'counter'}},
            {'labels': {'type': 'summary'}},
            {'rpc_seconds': {'type': 'histogram'}},
            {'gen_tokens': {'type': 'counter_gauge'}},
            {'temp_celsius': {'type': 'rate'}},
            {'neg': {'type': 'native_dynamic'}},
            {'build': {'type': 'metadata', 'label': 'release', 'name': 'version'}},
            {'state': {'type': 'gauge'}},
        ]
    },
    'regex_keys_no_cache': {
        'extra_metrics': [{'^l': {'type': 'gauge'}}, {'.*s.*': 'ignored_name'}, {'[a-z]+': {'type': 'native'}}],
        'cache_metric_wildcards': False,
    },
}
CORPUS_OPTION_PAYLOADS = (
    'summaries',
    'untyped',
    'labels',
    'nan_inf',
    'om_exemplars_units_info',
    'om_summary_nan_timestamps',
    'om_escapes_duplicates',
    'histogram_bounds',
)


@pytest.mark.parametrize('options', sorted(CORPUS_OPTIONS))
@pytest.mark.parametrize('payload', CORPUS_OPTION_PAYLOADS)
def test_corpus_options(aggregator, datadog_agent, monkeypatch, payload, options):
    run_corpus(aggregator, datadog_agent, monkeypatch, payload, CORPUS_OPTIONS[options])


def submitted(snap) -> int:
    return sum(map(len, snap['metrics'].values())) + len(snap['buckets']) + len(snap['metadata'])


# --- Run sequences ---------------------------------------------------------------------------------
# One body (or HTTP status and body) per run: flush_first_value across failures, state kept by the
# scraper (frozen native types, cached shared labels) and first-scrape handling.
FIXTURE = fixture_bytes('nim_metrics.txt')
SEQUENCES = {
    'http_failure_between_successes': ([FIXTURE, (500, b'oops'), FIXTURE, FIXTURE], PROM_CONTENT_TYPE, {}),
    'parse_failure_between_successes': ([FIXTURE, b'# TYPE g gauge\ng abc\n', FIXTURE], PROM_CONTENT_TYPE, {}),
    'failures_first_with_process_start_time': (
        [(503, b''), (404, b''), FIXTURE, FIXTURE],
        PROM_CONTENT_TYPE,
        {'use_process_start_time': True},
    ),
    'ignore_connection_errors_does_not_ignore_http_errors': (
        [(404, b''), FIXTURE],
        PROM_CONTENT_TYPE,
        {'ignore_connection_errors': True},
    ),
    'health_disabled_http_error': ([(500, b''), FIXTURE], PROM_CONTENT_TYPE, {'enable_health_service_check': False}),
    'empty_then_full_then_empty': ([b'', FIXTURE, b''], PROM_CONTENT_TYPE, {}),
    'native_type_frozen_by_regex_key': (
        [
            b'# TYPE x gauge\nx 1\n',
            b'# TYPE x counter\nx_total 2\n',
            b'# TYPE x summary\nx{quantile="0.5"} 3\nx_sum 3\nx_count 1\n',
        ],
        PROM_CONTENT_TYPE,
        {'extra_metrics': [{'^x$': {'type': 'native'}}]},
    ),
    'native_type_per_run_without_cache': (
        [b'# TYPE x gauge\nx 1\n', b'# TYPE x counter\nx_total 2\n', b'# TYPE x gauge\nx 3\n'],
        PROM_CONTENT_TYPE,
        {'extra_metrics': [{'^x$': {'type': 'native'}}], 'cache_metric_wildcards': False},
    ),
    'native_dynamic_type_changes': (
        [b'# TYPE x gauge\nx 1\n', b'# TYPE x counter\nx_total 2\n', b'x 3\n'],
        PROM_CONTENT_TYPE,
        {'extra_metrics': [{'x': {'type': 'native_dynamic'}}]},
    ),
    'counter_reset_and_growth': (
        [
            b'# TYPE c counter\nc_total{a="1"} 100\n',
            b'# TYPE c counter\nc_total{a="1"} 5\n',
            b'# TYPE c counter\nc_total{a="1"} 7\nc_total{a="2"} 1\n',
        ],
        PROM_CONTENT_TYPE,
        {'extra_metrics': ['c']},
    ),
    'openmetrics_missing_eof_then_complete': (
        [b'# TYPE g gauge\ng 1\n', b'# TYPE g gauge\ng 2\n# EOF\n', b'# TYPE g gauge\ng 3\n'],
        OM_CONTENT_TYPE,
        {'extra_metrics': ['g']},
    ),
    'share_labels_source_changes_without_cache': (
        [
            b'# TYPE g gauge\ng{pod="p"} 1\n# TYPE info gauge\ninfo{pod="p",node="n1"} 1\n',
            b'# TYPE g gauge\ng{pod="p"} 1\n',
            b'# TYPE info gauge\ninfo{pod="p",node="n3"} 1\n# TYPE g gauge\ng{pod="p"} 1\n',
        ],
        PROM_CONTENT_TYPE,
        {'extra_metrics': ['g', 'info'], 'share_labels': {'info': {'match': ['pod']}}, 'cache_shared_labels': False},
    ),
    'share_labels_source_changes_cached': (
        [
            b'# TYPE g gauge\ng{pod="p"} 1\n',
            b'# TYPE info gauge\ninfo{pod="p",node="n2"} 1\n# TYPE g gauge\ng{pod="p"} 1\n',
            b'# TYPE info gauge\ninfo{pod="p",node="n3"} 1\n# TYPE g gauge\ng{pod="p"} 1\n',
        ],
        PROM_CONTENT_TYPE,
        {'extra_metrics': ['g', 'info'], 'share_labels': {'info': True}},
    ),
    'use_latest_spec_on_openmetrics_sequence': (
        [b'# TYPE c counter\nc_total 1\n# EOF\n', b'# TYPE c counter\nc_total 2\n# EOF\n'],
        'text/plain',
        {'use_latest_spec': True, 'extra_metrics': ['c']},
    ),
}


@pytest.mark.parametrize('case', sorted(SEQUENCES))
def test_run_sequences(aggregator, datadog_agent, case):
    bodies, content_type, options = SEQUENCES[case]
    results = run_both(aggregator, datadog_agent, bodies, content_type, options)
    assert_identical(results)
    assert any(submitted(stock) for stock, _, _, _ in results)


# --- HTTP options (through the Agent's HTTP wrapper) ------------------------------------------------


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def token_file(directory: Path) -> str:
    path = directory / 'token'
    path.write_text('secret-token-123\n')
    return str(path)


def redirect_metrics(server):
    server.redirects['/metrics'] = '/real/metrics'


def slow(server):
    server.delay = 0.5


def set_cookie(server):
    server.extra_headers['Set-Cookie'] = 'sticky=nim-0; Path=/'


# name -> (instance options (or a callable of the server and a temporary directory), init_config, server setup)
HTTP_CASES = {
    'headers_replace_defaults': ({'headers': {'X-Test': '1'}}, {}, None),
    'headers_with_any_accept': ({'headers': {'Accept': '*/*', 'X-A': 'b'}}, {}, None),
    'extra_headers': ({'extra_headers': {'X-Extra': 'v', 'Accept': 'text/plain;version=0.0.4'}}, {}, None),
    'basic_auth_latin1': ({'username': 'user', 'password': 'pässword'}, {}, None),
    'basic_auth_utf8': ({'username': 'user', 'password': 'pässword', 'use_legacy_auth_encoding': False}, {}, None),
    'digest_auth_unchallenged': ({'auth_type': 'digest', 'username': 'u', 'password': 'p'}, {}, None),
    'auth_token_file_header': (
        lambda server, tmp: {
            'auth_token': {
                'reader': {'type': 'file', 'path': token_file(tmp)},
                'writer': {'type': 'header', 'name': 'Authorization', 'value': 'Bearer <TOKEN>'},
            }
        },
        {},
        None,
    ),
    'auth_token_pattern_placeholder': (
        lambda server, tmp: {
            'auth_token': {
                'reader': {'type': 'file', 'path': token_file(tmp), 'pattern': 'secret-(\\w+)-'},
                'writer': {'type': 'header', 'name': 'X-Token', 'value': 'tok=<T>', 'placeholder': '<T>'},
            }
        },
        {},
        None,
    ),
    'timeouts': ({'timeout': 3, 'connect_timeout': 2.5, 'read_timeout': 2}, {'timeout': 4}, None),
    'read_timeout': ({'read_timeout': 0.2}, {}, slow),
    'init_config_timeout': ({}, {'timeout': 0.2}, slow),
    'redirect_followed': ({}, {}, redirect_metrics),
    'redirect_not_followed': ({'allow_redirects': False}, {}, redirect_metrics),
    'session_options': ({'persist_connections': True, 'request_size': 1, 'log_requests': True}, {}, None),
    'dead_proxy': (lambda server, tmp: {'proxy': {'http': f'http://127.0.0.1:{dead_port()}'}}, {}, None),
    'dead_proxy_skipped': (
        lambda server, tmp: {'proxy': {'http': f'http://127.0.0.1:{dead_port()}'}, 'skip_proxy': True},
        {},
        None,
    ),
    'dead_proxy_no_proxy_host': (
        lambda server, tmp: {'proxy': {'http': f'http://127.0.0.1:{dead_port()}', 'no_proxy': ['127.0.0.1']}},
        {},
        None,
    ),
    'init_config_dead_proxy': ({}, {'proxy': {'http': 'http://127.0.0.1:9'}}, None),
    'init_config_proxy_skipped': ({}, {'proxy': {'http': 'http://127.0.0.1:9'}, 'skip_proxy': True}, None),
    'tls_options_on_plain_http': (
        {
            'tls_verify': False,
            'tls_ignore_warning': True,
            'tls_cert': '/nonexistent/cert.pem',
            'tls_private_key': '/nonexistent/key.pem',
            'tls_private_key_password': 'secret',
            'tls_ca_cert': '/nonexistent/ca.pem',
            'tls_use_host_header': True,
            'tls_protocols_allowed': ['TLSv1.2', 'TLSv1.3'],
            'tls_ciphers': ['ALL'],
            'tls_validate_hostname': False,
            'tls_intermediate_ca_certs': [],
        },
        {},
        None,
    ),
    'auth_options_of_other_auth_types': (
        {
            'auth_type': 'basic',
            'ntlm_domain': 'DOMAIN',
            'kerberos_auth': 'disabled',
            'kerberos_cache': '/tmp/krb5cc',
            'kerberos_delegate': True,
            'kerberos_force_initiate': True,
            'kerberos_hostname': 'nim.example',
            'kerberos_principal': 'nim@EXAMPLE',
            'kerberos_keytab': '/etc/krb5.keytab',
            'aws_region': 'us-east-1',
            'aws_host': 'nim.example',
            'aws_service': 'es',
        },
        {},
        None,
    ),
    'unknown_auth_type': ({'auth_type': 'bogus', 'username': 'u', 'password': 'p'}, {}, None),
    # a cookie set by the endpoint (a load balancer's sticky session, say) is sent back only on a
    # kept session
    'cookie_not_kept_between_runs': ({}, {}, set_cookie),
    'cookie_kept_with_persist_connections': ({'persist_connections': True}, {}, set_cookie),
}


@pytest.mark.parametrize('case', sorted(HTTP_CASES))
def test_http_options(aggregator, datadog_agent, tmp_path, case):
    options, init_config, setup = HTTP_CASES[case]
    if callable(options):
        options = functools.partial(options, tmp=tmp_path)
    results = run_both(
        aggregator, datadog_agent, [FIXTURE] * RUNS, PROM_CONTENT_TYPE, options, init_config=init_config, setup=setup
    )
    assert_identical(results)


@pytest.fixture(scope='module')
def certificate(tmp_path_factory):
    # the server certificate names 127.0.0.1 alone (not `localhost`)
    return TLSFiles(tmp_path_factory.mktemp('tls'), server_hosts=('127.0.0.1',))


# name -> instance options, given the server and its TLS files (the CA certificate, the client's)
HTTPS_CASES = {
    'verified_untrusted': lambda server, tls: {},
    'verified_with_ca_cert': lambda server, tls: {'tls_ca_cert': tls.ca_cert},
    'not_verified': lambda server, tls: {'tls_verify': False},
    'not_verified_warning_ignored': lambda server, tls: {'tls_verify': False, 'tls_ignore_warning': True},
    'client_certificate': lambda server, tls: {
        'tls_ca_cert': tls.ca_cert,
        'tls_cert': tls.client_cert,
        'tls_private_key': tls.client_key,
    },
    'protocols_and_ciphers': lambda server, tls: {
        'tls_ca_cert': tls.ca_cert,
        'tls_protocols_allowed': ['TLSv1.2'],
        'tls_ciphers': ['ECDHE-ECDSA-AES128-GCM-SHA256'],
    },
    'protocols_no_match': lambda server, tls: {'tls_ca_cert': tls.ca_cert, 'tls_protocols_allowed': ['SSLv3']},
    'host_header_for_the_name': lambda server, tls: {
        'tls_ca_cert': tls.ca_cert,
        'tls_use_host_header': True,
        'headers': {'Host': 'nim.invalid'},
    },
    'host_name_not_in_certificate': lambda server, tls: {
        'openmetrics_endpoint': server.base_url.replace('127.0.0.1', 'localhost') + '/metrics',
        'tls_ca_cert': tls.ca_cert,
    },
    'hostname_not_validated': lambda server, tls: {
        'openmetrics_endpoint': server.base_url.replace('127.0.0.1', 'localhost') + '/metrics',
        'tls_ca_cert': tls.ca_cert,
        'tls_validate_hostname': False,
    },
}


@pytest.mark.parametrize('case', sorted(HTTPS_CASES))
def test_https_options(aggregator, datadog_agent, certificate, case):
    def options(server):
        return HTTPS_CASES[case](server, certificate)

    results = run_both(
        aggregator, datadog_agent, [FIXTURE] * RUNS, PROM_CONTENT_TYPE, options, tls=certificate.server_context()
    )
    assert_identical(results)


# --- HTTP settings from the environment, connections and cookies ------------------------------------
# Ours reads the environment's proxy and CA-bundle variables once per check instance, at its first
# request (transport.py); set before the check is created, they are honoured as by the stock check
# (changed while the check runs: test_deliberate_differences.py). ~/.netrc is still read at every request.

ENVIRONMENT_VARIABLES = (
    'http_proxy',
    'https_proxy',
    'all_proxy',
    'no_proxy',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'ALL_PROXY',
    'NO_PROXY',
    'REQUESTS_CA_BUNDLE',
    'CURL_CA_BUNDLE',
    'NETRC',
)
PROXIED_ENDPOINT = {'openmetrics_endpoint': 'http://nim.invalid/metrics'}


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """Sets the given variables, with every proxy, CA-bundle and netrc variable of the machine
    removed first (NETRC points at no file unless given)."""

    def set_variables(variables: dict[str, str]) -> None:
        for name in ENVIRONMENT_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv('NETRC', str(tmp_path / 'no-netrc'))
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


def netrc_for(directory: Path, host: str) -> str:
    path = directory / 'netrc'
    path.write_text(f'machine {host} login netrc-user password netrc-secret\n')
    return str(path)


def redirect_to_proxied_host(server):
    server.redirects['/metrics'] = 'http://nim.invalid/real/metrics'


def redirect_out_of_the_proxy(server):
    server.redirects['http://nim.invalid/metrics'] = f'{server.base_url}/real/metrics'


# name -> (environment, instance options, server setup); the environment and the options are
# mappings or callables of (server, temporary directory). The server itself answers as a proxy
# (requests for absolute URLs), so that a proxied request is seen and compared too.
ENVIRONMENT_CASES = {
    'proxy': (lambda server, tmp: {'HTTP_PROXY': server.base_url}, PROXIED_ENDPOINT, None),
    'proxy_lowercase': (lambda server, tmp: {'http_proxy': server.base_url}, PROXIED_ENDPOINT, None),
    'all_proxy': (lambda server, tmp: {'ALL_PROXY': server.base_url}, PROXIED_ENDPOINT, None),
    'dead_proxy': (lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}'}, {}, None),
    'https_proxy_not_for_http': (lambda server, tmp: {'HTTPS_PROXY': f'http://127.0.0.1:{dead_port()}'}, {}, None),
    'no_proxy_host_bypassed': (
        lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}', 'NO_PROXY': 'example.com,127.0.0.1'},
        {},
        None,
    ),
    'no_proxy_star': (lambda server, tmp: {'http_proxy': f'http://127.0.0.1:{dead_port()}', 'no_proxy': '*'}, {}, None),
    'no_proxy_other_host': (
        lambda server, tmp: {'HTTP_PROXY': server.base_url, 'NO_PROXY': 'example.com'},
        PROXIED_ENDPOINT,
        None,
    ),
    'skip_proxy_over_environment': (
        lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}'},
        {'skip_proxy': True},
        None,
    ),
    'instance_proxy_over_environment': (
        lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}'},
        lambda server, tmp: {**PROXIED_ENDPOINT, 'proxy': {'http': server.base_url}},
        None,
    ),
    'instance_no_proxy_over_environment': (
        lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}'},
        lambda server, tmp: {'proxy': {'http': f'http://127.0.0.1:{dead_port()}', 'no_proxy': ['127.0.0.1']}},
        None,
    ),
    'skip_proxy_with_persist_connections': (
        lambda server, tmp: {'HTTP_PROXY': f'http://127.0.0.1:{dead_port()}'},
        {'skip_proxy': True, 'persist_connections': True},
        None,
    ),
    'proxy_with_persist_connections': (
        lambda server, tmp: {'HTTP_PROXY': server.base_url},
        {**PROXIED_ENDPOINT, 'persist_connections': True},
        None,
    ),
    'netrc': (lambda server, tmp: {'NETRC': netrc_for(tmp, '127.0.0.1')}, {}, None),
    'netrc_under_basic_auth': (
        lambda server, tmp: {'NETRC': netrc_for(tmp, '127.0.0.1')},
        {'username': 'user', 'password': 'secret'},
        None,
    ),
    'netrc_with_persist_connections': (
        lambda server, tmp: {'NETRC': netrc_for(tmp, '127.0.0.1')},
        {'persist_connections': True},
        None,
    ),
    # each hop of a redirect reads the environment: the new host is proxied (and its netrc entry
    # used) although the endpoint's host is not
    'redirect_to_a_proxied_host': (
        lambda server, tmp: {
            'HTTP_PROXY': server.base_url,
            'NO_PROXY': '127.0.0.1',
            'NETRC': netrc_for(tmp, 'nim.invalid'),
        },
        {},
        redirect_to_proxied_host,
    ),
    'redirect_out_of_the_proxy': (
        lambda server, tmp: {'HTTP_PROXY': server.base_url, 'NO_PROXY': '127.0.0.1'},
        PROXIED_ENDPOINT,
        redirect_out_of_the_proxy,
    ),
    'redirect_not_followed_through_proxy': (
        lambda server, tmp: {'HTTP_PROXY': server.base_url},
        {**PROXIED_ENDPOINT, 'allow_redirects': False},
        redirect_out_of_the_proxy,
    ),
    'ca_bundle_on_plain_http': (lambda server, tmp: {'REQUESTS_CA_BUNDLE': '/nonexistent/ca.pem'}, {}, None),
}


def resolved(value, server, tmp):
    return value(server, tmp) if callable(value) else value


@pytest.mark.parametrize('case', sorted(ENVIRONMENT_CASES))
def test_http_environment(aggregator, datadog_agent, environment, tmp_path, case):
    variables, options, setup = ENVIRONMENT_CASES[case]

    def instance_options(server):
        environment(resolved(variables, server, tmp_path))  # set before the checks are created
        return resolved(options, server, tmp_path)

    results = run_both(aggregator, datadog_agent, [FIXTURE] * RUNS, PROM_CONTENT_TYPE, instance_options, setup=setup)
    assert_identical(results)


def test_http_environment_cases_reach_the_server(aggregator, datadog_agent, environment, tmp_path):
    # the proxied and the netrc cases are seen by the server as such (they test what they say)
    variables, options, setup = ENVIRONMENT_CASES['redirect_to_a_proxied_host']

    def instance_options(server):
        environment(resolved(variables, server, tmp_path))
        return {}

    results = run_both(aggregator, datadog_agent, [FIXTURE], PROM_CONTENT_TYPE, instance_options, setup=setup)
    stock_requests = results[0][0]['requests']
    assert [path for path, _ in stock_requests] == ['/metrics', 'http://nim.invalid/real/metrics']
    assert 'Authorization' not in stock_requests[0][1] and stock_requests[1][1]['Authorization'].startswith('Basic ')


# name -> (environment, instance options), given the server and its CA certificate file
HTTPS_ENVIRONMENT_CASES = {
    # the wrapper's TLS adapter verifies with its own context: the CA-bundle variables are not used
    'ca_bundle_not_used_for_https': lambda server, cert: ({'REQUESTS_CA_BUNDLE': cert}, {}),
    'curl_ca_bundle_not_used_for_https': lambda server, cert: ({'CURL_CA_BUNDLE': cert}, {}),
    'dead_https_proxy': lambda server, cert: (
        {'HTTPS_PROXY': f'http://127.0.0.1:{dead_port()}'},
        {'tls_ca_cert': cert},
    ),
    'https_no_proxy_host_bypassed': lambda server, cert: (
        {'HTTPS_PROXY': f'http://127.0.0.1:{dead_port()}', 'NO_PROXY': '127.0.0.1'},
        {'tls_ca_cert': cert},
    ),
}


@pytest.mark.parametrize('case', sorted(HTTPS_ENVIRONMENT_CASES))
def test_https_environment(aggregator, datadog_agent, environment, certificate, case):
    def instance_options(server):
        variables, options = HTTPS_ENVIRONMENT_CASES[case](server, certificate.ca_cert)
        environment(variables)
        return options

    results = run_both(
        aggregator,
        datadog_agent,
        [FIXTURE] * RUNS,
        PROM_CONTENT_TYPE,
        instance_options,
        tls=certificate.server_context(),
    )
    assert_identical(results)


@pytest.mark.parametrize('ca_bundle', [True, False], ids=['ca_bundle', 'no_ca_bundle'])
def test_redirect_from_http_to_https(aggregator, datadog_agent, environment, certificate, ca_bundle):
    # a new session's own HTTPS adapter follows the redirect, verifying with the CA-bundle variable
    with PayloadServer(FIXTURE, PROM_CONTENT_TYPE, tls=certificate.server_context()) as https_server:
        environment({'REQUESTS_CA_BUNDLE': certificate.ca_cert} if ca_bundle else {})

        def to_https(server):
            server.redirects['/metrics'] = f'{https_server.base_url}/metrics'

        results = run_both(aggregator, datadog_agent, [FIXTURE] * RUNS, PROM_CONTENT_TYPE, setup=to_https)
    assert_identical(results)
    assert all((stock_error is None) == ca_bundle for _, stock_error, _, _ in results)


def connection_pattern(server) -> list[bool]:
    """For each metrics request, whether it came on a connection that an earlier request used."""
    seen = set()
    pattern = []
    for path, port in server.peers:
        if not path.endswith('/v1/version'):
            pattern.append(port in seen)
        seen.add(port)
    return pattern


@pytest.mark.parametrize(
    'scheme, options, expected',
    [
        ('http', {}, [False] * RUNS),
        ('http', {'persist_connections': True}, [False] + [True] * (RUNS - 1)),
        # the wrapper's TLS adapters are shared by its sessions: their connections are kept
        ('https', {}, [False] + [True] * (RUNS - 1)),
        ('https', {'persist_connections': True}, [False] + [True] * (RUNS - 1)),
    ],
)
def test_connections_per_run(aggregator, certificate, scheme, options, expected):
    patterns = []
    for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
        context = certificate.server_context() if scheme == 'https' else None
        with PayloadServer(FIXTURE, PROM_CONTENT_TYPE, tls=context) as server:
            tls = {'tls_ca_cert': certificate.ca_cert} if scheme == 'https' else {}
            check = cls('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics', **tls, **options}])
            assert [check.run() for _ in range(RUNS)] == [''] * RUNS
            patterns.append(connection_pattern(server))
    assert patterns == [expected, expected]


# --- Configuration errors ----------------------------------------------------------------------------
# Each fails the first run and every later one with the same message, sends nothing, then works
# once the instance is fixed in place (the fourth run).
CONFIG_ERRORS = {
    # refused by the config models
    'missing_endpoint': {'openmetrics_endpoint': None},
    'endpoint_not_a_string': {'openmetrics_endpoint': 8000},
    'tags_not_a_list': {'tags': 'team:ml'},
    'tag_not_a_string': {'tags': ['a', 1]},
    'boolean_word': {'collect_histogram_buckets': 'sometimes'},
    'number_word': {'read_timeout': 'slow'},
    'metrics_entry_not_string_or_mapping': {'extra_metrics': [5]},
    'label_filters_not_lists': {'exclude_labels': 'model_name', 'include_labels': [None]},
    'proxy_not_a_mapping': {'proxy': 'http://proxy:3128'},
    # refused by the scraper settings
    'empty_endpoint': {'openmetrics_endpoint': ''},
    'hostname_format_without_placeholder': {'hostname_label': 'model_name', 'hostname_format': 'nim-host'},
    'target_info_not_a_bool': {'target_info': 'true'},
    'unknown_metric_type': {'extra_metrics': [{'num_requests_running': {'type': 'bogus'}}]},
    'temporal_percent_without_scale': {'extra_metrics': [{'x': {'type': 'temporal_percent'}}]},
    'temporal_percent_bad_unit': {'extra_metrics': [{'x': {'type': 'temporal_percent', 'scale': 'hour'}}]},
    'service_check_bad_status': {'extra_metrics': [{'x': {'type': 'service_check', 'status_map': {'1': 'GREEN'}}}]},
    'service_check_empty_map': {'extra_metrics': [{'x': {'type': 'service_check', 'status_map': {}}}]},
    'metadata_without_label': {'extra_metrics': [{'x': {'type': 'metadata'}}]},
    'share_labels_values_not_integers': {'share_labels': {'python_info': {'values': ['one']}}},
    'share_labels_labels_not_a_list': {'share_labels': {'python_info': {'labels': 'version'}}},
    'share_labels_match_entry': {'share_labels': {'python_info': {'match': [1]}}},
    'exclude_by_labels_value': {'exclude_metrics_by_labels': {'model_name': 5}},
    'exclude_by_labels_false': {'exclude_metrics_by_labels': {'model_name': False}},
    'exclude_by_labels_entry': {'exclude_metrics_by_labels': {'model_name': ['a', 5]}},
    'exclude_by_labels_bad_regex': {'exclude_metrics_by_labels': {'model_name': ['(']}},
    'rename_labels_value': {'rename_labels': {'model_name': 5}},
    'exclude_metrics_bad_regex': {'exclude_metrics': ['num_(']},
    'raw_line_filters_bad_regex': {'raw_line_filters': ['[']},
    'ignore_tags_bad_regex': {'ignore_tags': ['(']},
    'regex_key_bad_regex': {'extra_metrics': [{'(': 'x'}]},
}


@pytest.mark.parametrize('case', sorted(CONFIG_ERRORS))
def test_config_errors(aggregator, datadog_agent, case):
    fixed_at = {}

    def fix_before_last_run(server):
        fixed_at['url'] = server.base_url + '/metrics'

    results = run_both(
        aggregator,
        datadog_agent,
        [FIXTURE] * (RUNS + 1),
        PROM_CONTENT_TYPE,
        CONFIG_ERRORS[case],
        setup=fix_before_last_run,
        between=lambda run, checks: run == RUNS and [fix(c, fixed_at['url']) for c in checks],
    )
    assert_identical(results)
    errors = {stock_error for _, stock_error, _, _ in results[:RUNS]}
    assert len(errors) == 1 and None not in errors
    for stock_snap, _, _, _ in results[:RUNS]:
        assert submitted(stock_snap) == 0 and not stock_snap['service_checks'] and not stock_snap['requests']
    assert results[RUNS][1] is None and submitted(results[RUNS][0]) > 0


def fix(check, url):
    check.instance.clear()
    check.instance.update({'openmetrics_endpoint': url, 'tags': ['test:test']})


# `exclude_metrics_by_labels` patterns are Python regular expressions, searched as the stock check
# searches them: look-arounds, back-references, `$` before a final newline, `\s` and classes.
LABEL_PATTERN_CASES = {
    'label_pattern_look_ahead': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{reason="length"} 1\ng{reason="stop"} 2\n',
        {'exclude_metrics_by_labels': {'reason': ['^(?!stop)']}},
    ),
    'label_pattern_back_reference': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{reason="aa"} 1\ng{reason="ab"} 2\n',
        {'exclude_metrics_by_labels': {'reason': ['(a)\\1']}},
    ),
    'label_pattern_dollar_before_final_newline': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{reason="length\\n"} 1\ng{reason="stop"} 2\n',
        {'exclude_metrics_by_labels': {'reason': ['h$']}},
    ),
    'label_pattern_space_class': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{reason="a\x1fb"} 1\ng{reason="stop"} 2\n',
        {'exclude_metrics_by_labels': {'reason': ['a\\sb']}},
    ),
    'label_pattern_posix_class': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{reason="[[:alpha:]]"} 1\ng{reason="x"} 2\n',
        {'exclude_metrics_by_labels': {'reason': ['^[[:alpha:]]$']}},
    ),
}


@pytest.mark.parametrize('case', sorted(LABEL_PATTERN_CASES))
def test_label_patterns_are_python_patterns(aggregator, datadog_agent, case):
    content_type, body, options = LABEL_PATTERN_CASES[case]
    assert_identical(run_both(aggregator, datadog_agent, [body] * RUNS, content_type, {**CATCH_ALL, **options}))


# OpenMetrics lines as the stock parser reads them: exponent notation without a `.` is a float
# timestamp, invalid timestamps fail with its messages, and so does a blank sample name.
TIMESTAMP_CASES = {
    'openmetrics_timestamp_exponent': (OM_CONTENT_TYPE, b'# TYPE g gauge\ng 1 1e3\n# EOF\n', {}),
    'openmetrics_timestamp_not_a_number': (OM_CONTENT_TYPE, b'# TYPE g gauge\ng 1 z\n# EOF\n', {}),
    'openmetrics_timestamp_nan': (OM_CONTENT_TYPE, b'# TYPE g gauge\ng 1 NaN\n# EOF\n', {}),
    # a sample whose name is only whitespace (a line starting with a tab): `string index out of range`
    'openmetrics_line_starting_with_a_tab': (OM_CONTENT_TYPE, b'# TYPE g gauge\ng 1\n\t 3\n# EOF\n', {}),
    'openmetrics_exemplar_timestamp_inf': (
        OM_CONTENT_TYPE,
        b'# TYPE a counter\na_total 1 # {a="b"} 0.5 Inf\n# EOF\n',
        {},
    ),
}


@pytest.mark.parametrize('case', sorted(TIMESTAMP_CASES))
def test_openmetrics_timestamps(aggregator, datadog_agent, case):
    content_type, body, options = TIMESTAMP_CASES[case]
    assert_identical(run_both(aggregator, datadog_agent, [body] * RUNS, content_type, {**CATCH_ALL, **options}))


# The stock scraper is a chain of generators: lines are filtered as the parser pulls them, and
# families held back (for `share_labels` sources, or on a first scrape with
# `use_process_start_time`) are looked up and sent one by one once released. Where a scrape stops
# decides what was counted and sent before it.
LAZY_PIPELINE_CASES = {
    # with `telemetry`, only the filtered lines before the line the parser failed at are counted
    'filtered_lines_counted_after_a_parse_error': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng abc\ndrop_me 1\n',
        {'telemetry': True, 'raw_line_filters': ['^drop_me']},
    ),
    'filtered_lines_counted_before_a_parse_error': (
        PROM_CONTENT_TYPE,
        b'drop_me 1\n# TYPE g gauge\ndrop_me 2\ng 1\ndrop_me 3\nh abc\ndrop_me 4\n',
        {'telemetry': True, 'raw_line_filters': ['^drop_me']},
    ),
    'filtered_lines_openmetrics_error_at_the_end': (
        OM_CONTENT_TYPE,
        b'# TYPE g gauge\ng 1\ndrop_me 1\n',
        {'telemetry': True, 'raw_line_filters': ['^drop_me']},
    ),
    'every_line_filtered': (PROM_CONTENT_TYPE, b'a 1\nb 2\n', {'telemetry': True, 'raw_line_filters': ['.']}),
    # families held back until a `share_labels` source shows up (never, here): when one of them
    # fails the scrape, those before it are sent (and every parsed family counted as input)
    'held_back_families_before_a_failing_one': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng 1\nu 5\n# TYPE h gauge\nh 1\n',
        {'extra_metrics': [{'.*': {'type': 'native_dynamic'}}], 'share_labels': {'missing': True}, 'telemetry': True},
    ),
    # a parse error while they are held: none of them is sent
    'held_back_families_and_a_parse_error': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng 1\n# TYPE h gauge\nh abc\n',
        {'share_labels': {'missing': True}, 'telemetry': True},
    ),
    # the source arrives after a family that fails: the families before it wait, then go out
    'held_back_until_the_source_then_a_failing_one': (
        PROM_CONTENT_TYPE,
        b'# TYPE g gauge\ng{a="1"} 1\nu 5\n# TYPE src gauge\nsrc{a="1",b="2"} 1\n# TYPE h gauge\nh 1\n',
        {
            'extra_metrics': [{'.*': {'type': 'native_dynamic'}}],
            'share_labels': {'src': {'match': ['a'], 'labels': ['b']}},
            'telemetry': True,
        },
    ),
}


@pytest.mark.parametrize('case', sorted(LAZY_PIPELINE_CASES))
def test_lazy_pipeline(aggregator, datadog_agent, case):
    content_type, body, options = LAZY_PIPELINE_CASES[case]
    assert_identical(run_both(aggregator, datadog_agent, [body] * RUNS, content_type, {**CATCH_ALL, **options}))


# --- Option coverage -------------------------------------------------------------------------------
# Every option of the stock OpenMetrics V2 check runs in at least one case above with a working
# configuration (the configuration-error cases are not counted), every form of metric map entry and
# every transformer type, and every option of the Agent's HTTP wrapper.
ISSUE_OPTIONS = frozenset(
    """
    metrics extra_metrics exclude_metrics exclude_metrics_by_labels exclude_labels include_labels rename_labels
    raw_metric_prefix raw_line_filters hostname_label hostname_format share_labels cache_shared_labels target_info
    collect_histogram_buckets non_cumulative_histogram_buckets histogram_buckets_as_distributions
    collect_counters_with_distributions collect_histograms_as_distributions use_process_start_time
    tag_by_endpoint tags ignore_tags telemetry enable_health_service_check ignore_connection_errors
    use_latest_spec metric_patterns max_returned_metrics disable_generic_tags namespace cache_metric_wildcards
    """.split()
)
ENTRY_FORMS = frozenset({'name', 'rename', 'mapping', 'regex'})


class _Server:
    base_url = 'http://127.0.0.1:1'


def working_option_sets(tmp: Path):
    """(instance options, init_config) of every case with a working configuration."""
    sets = [(o, {}) for o in OPTION_SETS.values()]
    sets += [(o, {}) for o in CORPUS_OPTIONS.values()]
    sets += [({**NATIVE_ALL, **o}, {}) for o in HISTOGRAM_MODES.values()]
    sets += [(o, {}) for _, _, o in SEQUENCES.values()]
    sets += [(o(_Server, tmp) if callable(o) else o, i) for o, i, _ in HTTP_CASES.values()]
    tls = SimpleNamespace(ca_cert='ca.pem', client_cert='client.pem', client_key='client.key')
    sets += [(o(_Server, tls), {}) for o in HTTPS_CASES.values()]
    sets += [({**CATCH_ALL, **o}, {}) for o in TARGET_INFO_OPTIONS.values()]
    sets += [({**CATCH_ALL, 'share_labels': SHARE_OPTIONS, 'cache_shared_labels': c}, {}) for c in (True, False)]
    return sets


def metric_entries(options):
    for option in ('metrics', 'extra_metrics'):
        for entry in options.get(option, []):
            if isinstance(entry, str):
                yield 'name', None
                continue
            for key, value in entry.items():
                form = 'regex' if re.escape(key) != key else 'rename' if isinstance(value, str) else 'mapping'
                yield form, value.get('type', 'native') if isinstance(value, dict) else None


def test_every_option_is_covered(tmp_path):
    instance_options, init_options, forms, types = set(), set(), set(), set()
    for options, init_config in working_option_sets(tmp_path):
        instance_options |= set(options)
        init_options |= set(init_config)
        for form, mtype in metric_entries(options):
            forms.add(form)
            types.add(mtype)
    assert ISSUE_OPTIONS <= instance_options, sorted(ISSUE_OPTIONS - instance_options)
    assert set(STANDARD_FIELDS) <= instance_options, sorted(set(STANDARD_FIELDS) - instance_options)
    assert {'proxy', 'skip_proxy', 'timeout'} <= init_options
    assert forms == ENTRY_FORMS
    assert set(TRANSFORMER_TYPES) <= types, sorted(set(TRANSFORMER_TYPES) - types)


# --- The OpenMetrics project's parser cases --------------------------------------------------------
# Served as application/openmetrics-text, every family mapped. Counters' `_created` samples are
# dropped (a deliberate difference, see without_counter_created); cases that are then empty (a
# deliberate difference too) or that hold a blank line are left out, and so are the known core
# mismatches above.
CONFORMANCE_DIR = FIXTURES / 'openmetrics-conformance'
CONFORMANCE_MISMATCHES = {
    'bad_exemplar_timestamp_0',
    'bad_exemplar_timestamp_1',
    'bad_exemplar_timestamp_2',
    'bad_exemplars_8',
    'bad_timestamp_0',
    'bad_timestamp_1',
    'bad_timestamp_4',
    'bad_timestamp_5',
    'bad_timestamp_7',
    'bad_timestamp_8',
}


def conformance_bodies() -> dict[str, bytes]:
    bodies = {}
    for case in sorted(p for p in CONFORMANCE_DIR.iterdir() if (p / 'test.json').is_file()):
        body = without_counter_created((case / 'metrics').read_bytes())
        if (
            body.strip()
            and b'\n\n' not in body
            and not body.startswith(b'\n')
            and case.name not in CONFORMANCE_MISMATCHES
        ):
            bodies[case.name] = body
    return bodies


CONFORMANCE_BODIES = conformance_bodies()


@pytest.mark.parametrize('case', sorted(CONFORMANCE_BODIES))
def test_openmetrics_conformance_payloads(aggregator, datadog_agent, monkeypatch, case):
    monkeypatch.setenv('DDEV_SKIP_GENERIC_TAGS_CHECK', '1')
    body = CONFORMANCE_BODIES[case]
    assert_identical(run_both(aggregator, datadog_agent, [body] * RUNS, OM_CONTENT_TYPE, NATIVE_ALL))
