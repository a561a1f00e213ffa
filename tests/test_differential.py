"""Differential tests: the stock OpenMetricsBaseCheckV2 (configured as the integration we replace)
and our check run on the same bytes from the same loopback endpoint, three runs in a row, and
must leave identical records in the stub aggregator, identical service checks, metadata and run
errors. Deliberate differences are pinned in test_differences.py."""

import copy
import re

import pytest
from common import (
    CLOCK_METRICS,
    OM_CONTENT_TYPE,
    PROM_CONTENT_TYPE,
    PayloadServer,
    StockNvidiaNIMCheck,
    assert_same_submissions,
    fixture_bytes,
    run_error,
    snapshot,
)

from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import NimMetrics

OM_ACCEPT = 'application/openmetrics-text;version=1.0.0'
RUNS = 3


def without_counter_created(body: bytes) -> bytes:
    """Drops `_created` samples: the stock check submits an OpenMetrics counter's `_created` as a
    second `.count` (a stock bug this check fixes; see test_differences.py)."""
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
):
    """Runs both checks once per body; returns the per-run (stock, ours) snapshots and errors.

    A body is bytes, or (HTTP status, bytes). `instance_options` is a mapping, or a callable of the
    server that returns one; `setup(server)` prepares the server before the first run. The snapshots
    hold the HTTP requests each check made during its run."""
    results = []
    with PayloadServer(content_type=content_type) as server:
        if setup is not None:
            setup(server)
        options = instance_options(server) if callable(instance_options) else (instance_options or {})
        instance = {'openmetrics_endpoint': server.base_url + path, 'tags': ['test:test'], **options}
        stock = StockNvidiaNIMCheck('nvidia_nim', copy.deepcopy(init_config or {}), [copy.deepcopy(instance)])
        ours = NvidiaNIMCheck('nvidia_nim', copy.deepcopy(init_config or {}), [copy.deepcopy(instance)])
        for body in bodies:
            server.status, server.body = body if isinstance(body, tuple) else (200, body)
            snaps = []
            for check in (stock, ours):
                aggregator.reset()
                datadog_agent.reset()
                server.requests.clear()
                error = run_error(check.run())
                snap = {**snapshot(aggregator, datadog_agent), 'warnings': check.get_warnings()}
                snaps.append((snap | {'requests': list(server.requests)}, error))
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
    'line_separator_in_value': '# TYPE g gauge\ng{a="x\u2028y"} 1\n'.encode(),
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
    'blank_line': b'# TYPE g gauge\ng 1\n\n# EOF\n',
    'line_after_eof': b'# TYPE g gauge\ng 1\n# EOF\nx 1\n',
    'bad_comment': b'# TYPE g gauge\n# random comment here\ng 1\n# EOF\n',
    'negative_counter': b'# TYPE c counter\nc_total -1\n# EOF\n',
    'grouping': b'# TYPE g gauge\ng{a="1"} 1\ng{a="2"} 1\ng{a="1"} 2\n# EOF\n',
    'duplicate_series': b'# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n# EOF\n',
    'clashing': b'# TYPE c counter\nc 5\n# EOF\n',
    'uncanonical_inf': b'# TYPE h histogram\nh_bucket{le="+inf"} 1\nh_count 1\nh_sum 1\n# EOF\n',
    'summary_quantiles': b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 1\ns_count 1\n# EOF\n',
    'bad_quantile': b'# TYPE s summary\ns{quantile="2"} 1\n# EOF\n',
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
}


@pytest.mark.parametrize('option_set', sorted(OPTION_SETS))
def test_options_on_emulator_payload(aggregator, datadog_agent, option_set):
    bodies = emulator_bodies(2, openmetrics=False)
    results = run_both(aggregator, datadog_agent, bodies, PROM_CONTENT_TYPE, OPTION_SETS[option_set])
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


@pytest.mark.parametrize(
    'options',
    [
        {'target_info': True},
        {'target_info': True, 'share_labels': {'b': {'labels': ['x']}}},
        {'target_info': True, 'exclude_metrics': ['target_info']},
        {'target_info': True, 'cache_shared_labels': False},
    ],
    ids=['target_info', 'with_share_labels', 'excluded', 'no_cache'],
)
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
        assert stock[1] == ours[1]
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
