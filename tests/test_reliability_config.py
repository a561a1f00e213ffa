"""Bad configuration gets the stock check's error from run() (never a core-internal one), and no
error of any kind escapes run() as an exception."""

import json

import pytest
from common import PayloadServer, StockNvidiaNIMCheck, fixture_bytes, health_checks, run_error

from datadog_checks.base import ConfigurationError
from datadog_checks.nvidia_nim import NvidiaNIMCheck

# Text that would betray an error from inside the extension rather than a configuration message.
INTERNAL = ('nvidia_nim core', 'PanicException', 'pyo3', '.rs:', 'cannot be converted', "'PyString'")

BAD_CONFIGS = {
    'endpoint_missing': {'openmetrics_endpoint': None},
    'endpoint_empty': {'openmetrics_endpoint': ''},
    'endpoint_not_a_string': {'openmetrics_endpoint': 5},
    'metrics_not_a_list': {'metrics': 'prompt_tokens'},
    'metrics_bad_entry': {'metrics': [5]},
    'metrics_bad_value': {'metrics': [{'prompt_tokens': 5}]},
    'metrics_unknown_type': {'metrics': [{'prompt_tokens': {'type': 'nope'}}]},
    'metrics_name_not_a_string': {'metrics': [{'prompt_tokens': {'name': 5}}]},
    'metrics_type_not_a_string': {'metrics': [{'prompt_tokens': {'type': ['gauge']}}]},
    'metrics_bad_regex': {'metrics': [{'prompt_(': 'x'}]},
    'temporal_percent_without_scale': {'metrics': [{'prompt_tokens': {'type': 'temporal_percent'}}]},
    'temporal_percent_bad_scale': {'metrics': [{'prompt_tokens': {'type': 'temporal_percent', 'scale': 'week'}}]},
    'temporal_percent_float_scale': {'metrics': [{'prompt_tokens': {'type': 'temporal_percent', 'scale': 1.5}}]},
    'service_check_without_map': {'metrics': [{'prompt_tokens': {'type': 'service_check'}}]},
    'service_check_empty_map': {'metrics': [{'prompt_tokens': {'type': 'service_check', 'status_map': {}}}]},
    'service_check_bad_key': {'metrics': [{'prompt_tokens': {'type': 'service_check', 'status_map': {'x': 'ok'}}}]},
    'service_check_bad_status': {'metrics': [{'prompt_tokens': {'type': 'service_check', 'status_map': {1: 'meh'}}}]},
    'metadata_without_label': {'metrics': [{'python_info': {'type': 'metadata'}}]},
    'metadata_label_not_a_string': {'metrics': [{'python_info': {'type': 'metadata', 'label': 5}}]},
    'extra_metrics_not_a_list': {'extra_metrics': {'prompt_tokens': 'x'}},
    'share_labels_not_a_mapping': {'share_labels': ['python_info']},
    'share_labels_bad_source': {'share_labels': {'python_info': 5}},
    'share_labels_bad_values': {'share_labels': {'python_info': {'values': ['one']}}},
    'share_labels_labels_not_a_list': {'share_labels': {'python_info': {'labels': 'version'}}},
    'share_labels_bad_label': {'share_labels': {'python_info': {'labels': [5]}}},
    'target_info_not_a_bool': {'target_info': 'true'},
    'raw_metric_prefix_not_a_string': {'raw_metric_prefix': 5},
    'hostname_label_not_a_string': {'hostname_label': ['node']},
    'hostname_format_not_a_string': {'hostname_label': 'node', 'hostname_format': 5},
    'hostname_format_without_placeholder': {'hostname_label': 'node', 'hostname_format': 'node-1'},
    'exclude_labels_not_a_list': {'exclude_labels': 'model_name'},
    'exclude_labels_bad_entry': {'exclude_labels': [5]},
    'include_labels_bad_entry': {'include_labels': [None]},
    'rename_labels_not_a_mapping': {'rename_labels': ['a']},
    'rename_labels_bad_value': {'rename_labels': {'model_name': 5}},
    'exclude_metrics_not_a_list': {'exclude_metrics': 'prompt_tokens'},
    'exclude_metrics_bad_entry': {'exclude_metrics': [5]},
    'exclude_metrics_bad_regex': {'exclude_metrics': ['prompt_(']},
    'exclude_metrics_by_labels_not_a_mapping': {'exclude_metrics_by_labels': ['model_name']},
    'exclude_metrics_by_labels_bad_values': {'exclude_metrics_by_labels': {'model_name': 'x'}},
    'exclude_metrics_by_labels_bad_entry': {'exclude_metrics_by_labels': {'model_name': [5]}},
    'exclude_metrics_by_labels_bad_regex': {'exclude_metrics_by_labels': {'model_name': ['(']}},
    'tags_not_a_list': {'tags': 'team:ml'},
    'tags_bad_entry': {'tags': ['team:ml', 5]},
    'ignore_tags_bad_regex': {'tags': ['team:ml'], 'ignore_tags': ['(']},
    'raw_line_filters_not_a_list': {'raw_line_filters': '^python'},
    'raw_line_filters_bad_entry': {'raw_line_filters': [5]},
    'raw_line_filters_bad_regex': {'raw_line_filters': ['(']},
    'auth_token_bad_reader': {'auth_token': {'reader': {'type': 'nope'}, 'writer': {'type': 'header'}}},
    'auth_token_not_a_mapping': {'auth_token': 'abc'},
    'tls_cert_missing_file': {'tls_cert': '/nonexistent/client.pem'},
    'timeout_not_a_number': {'timeout': 'soon'},
}

# Options the stock check accepts as they are (they cannot match anything, or are read leniently):
# ours must accept them too.
ODD_BUT_VALID = {
    'rename_labels_int_key': {'rename_labels': {5: 'five'}},
    'exclude_metrics_by_labels_int_key': {'exclude_metrics_by_labels': {5: True}},
    'share_labels_int_key': {'share_labels': {5: True}},
    'include_labels_empty': {'include_labels': []},
    'tags_empty_strings': {'tags': ['', ':', 'a:']},
    'max_returned_metrics_not_a_number': {'max_returned_metrics': 'lots'},
    'cache_shared_labels_string': {'cache_shared_labels': 'false'},
    'metrics_empty': {'metrics': []},
    'hostname_format_without_label': {'hostname_format': 'no placeholder'},
    'namespace_ignored': {'namespace': 'other'},
}


def outcome(cls, instance, aggregator):
    """run() twice (a configuration error comes back on every run): results, health checks, metric count."""
    aggregator.reset()
    check = cls('nvidia_nim', {}, [instance])
    results = [check.run(), check.run()]
    return results, health_checks(aggregator), len(aggregator.metric_names)


@pytest.fixture(scope='module')
def server():
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        yield server


@pytest.mark.parametrize('case', BAD_CONFIGS)
def test_bad_config_gets_the_stock_error(aggregator, server, case):
    instance = {'openmetrics_endpoint': server.base_url + '/metrics', **BAD_CONFIGS[case]}
    stock_results, stock_health, stock_count = outcome(StockNvidiaNIMCheck, instance, aggregator)
    results, health, count = outcome(NvidiaNIMCheck, instance, aggregator)
    stock_errors = [run_error(r) for r in stock_results]
    errors = [run_error(r) for r in results]
    assert errors[0] is not None
    assert errors == stock_errors
    assert (health, count) == (stock_health, stock_count)
    for result in results:
        assert not any(marker in result for marker in INTERNAL), result


@pytest.mark.parametrize('options', ODD_BUT_VALID.values(), ids=ODD_BUT_VALID)
def test_odd_config_accepted_as_by_the_stock_check(aggregator, server, options):
    instance = {'openmetrics_endpoint': server.base_url + '/metrics', **options}
    stock_results, stock_health, stock_count = outcome(StockNvidiaNIMCheck, instance, aggregator)
    results, health, count = outcome(NvidiaNIMCheck, instance, aggregator)
    assert stock_results == results == ['', '']
    assert (health, count) == (stock_health, stock_count)


def test_metric_patterns_error_at_construction():
    instance = {'openmetrics_endpoint': 'http://127.0.0.1:1/metrics', 'metric_patterns': ['x']}
    messages = []
    for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
        with pytest.raises(ConfigurationError) as e:
            cls('nvidia_nim', {}, [instance])
        messages.append(str(e.value))
    assert messages[0] == messages[1]


class ExplodingBody:
    """Wraps a real response so that reading its body raises `error`."""

    def __init__(self, response, error):
        self._response = response
        self._error = error

    def __getattr__(self, name):
        return getattr(self._response, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._response.close()

    def iter_content(self, chunk_size=1):
        yield b'# TYPE num_requests_running gauge\n'
        raise self._error


class ExplodingHttp:
    """The check's real HTTP wrapper, its metrics responses wrapped in ExplodingBody."""

    def __init__(self, http, error):
        self._http = http
        self._error = error

    def __getattr__(self, name):
        return getattr(self._http, name)

    def get(self, url, **options):
        response = self._http.get(url, **options)
        return response if url.endswith('/v1/version') else ExplodingBody(response, self._error)


ERRORS = [
    OSError(5, 'Input/output error'),
    RuntimeError('response object failed'),
    UnicodeDecodeError('utf-8', b'\xff', 0, 1, 'invalid start byte'),
    MemoryError('no more memory'),
    KeyError('missing'),
    RecursionError('maximum recursion depth exceeded'),
]


@pytest.mark.parametrize('error', ERRORS, ids=lambda e: type(e).__name__)
def test_exceptions_from_the_response_come_back_from_run(aggregator, server, error):
    # The HTTP layer is real; only the body read is made to fail with exceptions no server can cause.
    check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': server.base_url + '/metrics'}])
    check._http = ExplodingHttp(check.http, error)
    result = check.run()
    assert isinstance(result, str)
    assert run_error(result) == str(error)
    assert json.loads(result)[0]['traceback'].rstrip().endswith(f'{type(error).__name__}: {error}')
    assert [s for s, _ in health_checks(aggregator)] == [2]
    assert not aggregator.metric_names


def test_every_error_class_comes_back_from_run(aggregator, server):
    # bad bytes, bad config, HTTP errors, an aggregator error: each is run()'s error string
    runs = {
        'bad bytes': ({}, b'\xff\xfe{{{{"\x00\n', None),
        'bad config': ({'tags': 5}, None, None),
        'http error': ({}, None, 500),
        'connection error': ({'openmetrics_endpoint': 'http://127.0.0.1:1/metrics'}, None, None),
        # the stub aggregator refuses generic tags: an exception raised in the middle of submission
        'aggregator error': ({'rename_labels': {'version': 'host'}}, None, None),
    }
    messages = {}
    for name, (options, body, status) in runs.items():
        server.body = body if body is not None else fixture_bytes('nim_metrics.txt')
        server.status = status or 200
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', **options}
        try:
            result = NvidiaNIMCheck('nvidia_nim', {}, [instance]).run()
        finally:
            server.body, server.status = fixture_bytes('nim_metrics.txt'), 200
        assert isinstance(result, str) and result, name
        messages[name] = run_error(result)
    assert messages['bad bytes'] == 'substring not found'
    # the config model's message, as the stock integration gives it
    assert messages['bad config'].startswith('Detected 1 error while loading configuration model')
    assert '\ntags\n' in messages['bad config']
    assert messages['http error'].endswith(
        '500 Server Error: Internal Server Error for url: ' + server.base_url + '/metrics'
    )
    assert 'Connection refused' in messages['connection error']
    assert 'was submitted with a forbidden tag: host.' in messages['aggregator error']
