"""Configuration validation: the config models (loaded by AgentCheck at the first run) and the
scraper settings (config.ScraperSettings, right after them) agree on the options, their defaults and
the moment and manner of failing."""

import json
from collections import ChainMap

import pytest
from common import PayloadServer, fixture_bytes, run_error

from datadog_checks.base.utils.http import STANDARD_FIELDS
from datadog_checks.nvidia_nim import NvidiaNIMCheck, config
from datadog_checks.nvidia_nim.config_models import InstanceConfig, SharedConfig, defaults

# The options the nvidia_nim integration's config models declare: its conf.yaml.example's options
# plus the hidden ones (disable_generic_tags, metrics, namespace, tag_by_endpoint, use_latest_spec).
INTEGRATION_INSTANCE_OPTIONS = frozenset(
    """
    allow_redirects auth_token auth_type aws_host aws_region aws_service cache_metric_wildcards
    cache_shared_labels collect_counters_with_distributions collect_histogram_buckets connect_timeout
    disable_generic_tags empty_default_hostname enable_health_service_check exclude_labels exclude_metrics
    exclude_metrics_by_labels extra_headers extra_metrics headers histogram_buckets_as_distributions
    hostname_format hostname_label ignore_connection_errors ignore_tags include_labels kerberos_auth
    kerberos_cache kerberos_delegate kerberos_force_initiate kerberos_hostname kerberos_keytab
    kerberos_principal log_requests metric_patterns metrics min_collection_interval namespace
    non_cumulative_histogram_buckets ntlm_domain openmetrics_endpoint password persist_connections proxy
    raw_line_filters raw_metric_prefix read_timeout rename_labels request_size service share_labels
    skip_proxy tag_by_endpoint tags telemetry timeout tls_ca_cert tls_cert tls_ciphers tls_ignore_warning
    tls_private_key tls_protocols_allowed tls_use_host_header tls_verify use_latest_spec
    use_legacy_auth_encoding use_process_start_time username
    """.split()
)
INTEGRATION_SHARED_OPTIONS = frozenset({'proxy', 'service', 'skip_proxy', 'timeout'})
# Options the models accept and that the Agent (Go side) or AgentCheck itself reads.
AGENT_OPTIONS = frozenset({'service', 'min_collection_interval', 'empty_default_hostname', 'metric_patterns'})
AGENT_CHECK_OPTIONS = frozenset({'disable_generic_tags'})
# Accepted and without effect, as in the integration: the check's class namespace always wins.
IGNORED_OPTIONS = frozenset({'namespace'})
# Options the scraper reads that the models do not declare (pydantic lets them through unchecked,
# and the scraper validates them itself).
UNDECLARED_SCRAPER_OPTIONS = frozenset(
    {'target_info', 'collect_histograms_as_distributions', 'latency_percentiles', 'latency_percentiles_by'}
)

MODEL_ERROR_HEADER = 'Detected {n} error{s} while loading configuration model `{model}`:'


def test_models_declare_the_integration_options():
    assert set(InstanceConfig.model_fields) == INTEGRATION_INSTANCE_OPTIONS
    assert set(SharedConfig.model_fields) == INTEGRATION_SHARED_OPTIONS
    assert [n for n, f in InstanceConfig.model_fields.items() if f.is_required()] == ['openmetrics_endpoint']


class RecordingConfig(ChainMap):
    """The effective configuration, recording every option the settings read."""

    read: set[str] = set()

    def get(self, key, default=None):
        RecordingConfig.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        RecordingConfig.read.add(key)
        return super().__getitem__(key)


@pytest.fixture
def recorded_options(monkeypatch):
    effective_config = config.effective_config

    def recording(instance):
        return RecordingConfig(*effective_config(instance).maps)

    monkeypatch.setattr(config, 'effective_config', recording)
    RecordingConfig.read = set()
    return RecordingConfig.read


def settings_summary(instance):
    check = NvidiaNIMCheck('nvidia_nim', {}, [instance])
    s = config.ScraperSettings(check, instance)
    return {
        'core': s.core_options,
        'static_tags': s.static_tags,
        'health': s.enable_health_service_check,
        'ignore_connection_errors': s.ignore_connection_errors,
        'telemetry': s.telemetry,
        'use_latest_spec': s.use_latest_spec,
        'use_process_start_time': s.use_process_start_time,
        'cache_wildcards': s.resolver.cache_wildcards,
        'raw_line_filter': s.raw_line_filter,
        'exact': sorted(s.resolver.exact),
    }


ENDPOINT = {'openmetrics_endpoint': 'http://127.0.0.1:1/metrics'}


def test_every_declared_option_is_read_by_someone(recorded_options):
    settings_summary(dict(ENDPOINT))
    read_by_settings = set(recorded_options)
    # what the settings read is declared by the models or validated by the settings themselves
    assert read_by_settings - INTEGRATION_INSTANCE_OPTIONS == UNDECLARED_SCRAPER_OPTIONS
    # every declared option has a reader: the scraper settings, the HTTP wrapper, AgentCheck, the Agent
    http_options = set(STANDARD_FIELDS)
    unread = INTEGRATION_INSTANCE_OPTIONS - read_by_settings - http_options - AGENT_OPTIONS - AGENT_CHECK_OPTIONS
    assert unread == IGNORED_OPTIONS


def model_defaults(prefix):
    return {name[len(prefix) :]: getattr(defaults, name)() for name in dir(defaults) if name.startswith(prefix)}


def test_model_defaults_are_the_settings_defaults(recorded_options):
    baseline = settings_summary(dict(ENDPOINT))
    read = set(recorded_options)
    checked = 0
    for option, value in model_defaults('instance_').items():
        assert option in InstanceConfig.model_fields
        if option not in read:
            continue
        # the default spelled out changes nothing; the opposite value changes something
        assert settings_summary({**ENDPOINT, option: value}) == baseline, option
        if isinstance(value, bool):
            assert settings_summary({**ENDPOINT, option: not value}) != baseline, option
        checked += 1
    assert checked >= 10
    for option, value in model_defaults('shared_').items():
        assert option in SharedConfig.model_fields
        assert value == STANDARD_FIELDS[option]
    for option, value in model_defaults('instance_').items():
        if option in STANDARD_FIELDS and STANDARD_FIELDS[option] is not None:
            assert value == STANDARD_FIELDS[option], option


def validated_model(instance, init_config=None):
    check = NvidiaNIMCheck('nvidia_nim', init_config or {}, [instance])
    check.load_configuration_models()
    return check


def test_validated_models_are_reachable_from_the_check():
    check = validated_model({**ENDPOINT, 'tags': ['a:b'], 'timeout': '5'}, {'skip_proxy': 'yes'})
    assert check.config.tags == ('a:b',)
    assert check.config.timeout == 5.0
    assert check.config.tag_by_endpoint is True  # default
    assert check.shared_config.skip_proxy is True


# (instance options over a working instance, init_config, model, expected error lines after the header)
MODEL_ERRORS = {
    'missing_endpoint': (
        {'openmetrics_endpoint': None},
        {},
        'InstanceConfig',
        ['openmetrics_endpoint', '  Field required'],
    ),
    'endpoint_not_a_string': (
        {'openmetrics_endpoint': 8000},
        {},
        'InstanceConfig',
        ['openmetrics_endpoint', '  Input should be a valid string'],
    ),
    'tags_not_a_list': ({'tags': 'team:ml'}, {}, 'InstanceConfig', ['tags', '  Input should be a valid tuple']),
    'tag_not_a_string': ({'tags': ['a:b', 3]}, {}, 'InstanceConfig', ['tags -> 2', '  Input should be a valid string']),
    'boolean_word': (
        {'use_latest_spec': 'maybe'},
        {},
        'InstanceConfig',
        ['use_latest_spec', '  Input should be a valid boolean, unable to interpret input'],
    ),
    'number_word': (
        {'timeout': 'ten'},
        {},
        'InstanceConfig',
        ['timeout', '  Input should be a valid number, unable to parse string as a number'],
    ),
    'several': (
        {'raw_metric_prefix': 1, 'exclude_labels': ['a', None]},
        {},
        'InstanceConfig',
        [
            'exclude_labels -> 2',
            '  Input should be a valid string',
            'raw_metric_prefix',
            '  Input should be a valid string',
        ],
    ),
    'init_config_timeout': (
        {},
        {'timeout': 'soon'},
        'SharedConfig',
        ['timeout', '  Input should be a valid number, unable to parse string as a number'],
    ),
}


def fix(check, good_instance, good_init_config):
    check.instance.clear()
    check.instance.update(good_instance)
    check.init_config.clear()
    check.init_config.update(good_init_config)


@pytest.mark.parametrize('case', sorted(MODEL_ERRORS))
def test_model_error_fails_every_run_until_fixed(aggregator, datadog_agent, case):
    options, init_config, model, expected = MODEL_ERRORS[case]
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        good = {'openmetrics_endpoint': server.base_url + '/metrics', 'tags': ['test:test']}
        instance = {k: v for k, v in {**good, **options}.items() if v is not None}
        check = NvidiaNIMCheck('nvidia_nim', dict(init_config), [instance])
        n = len(expected) // 2
        header = MODEL_ERROR_HEADER.format(n=n, s='s' if n > 1 else '', model=model)
        for _ in range(3):
            result = check.run()
            assert run_error(result).splitlines() == [header, *expected]
            traceback = json.loads(result)[0]['traceback']
            assert f'datadog_checks.base.errors.ConfigurationError: {header}' in traceback
            assert '_core' not in traceback and 'nvidia_nim/config.py' not in traceback
        assert not aggregator.metric_names
        assert not aggregator.service_check_names
        datadog_agent.assert_metadata_count(0)
        assert server.requests == []
        fix(check, good, {})
        assert check.run() == ''
    assert len(aggregator.metric_names) == 34
    assert [s.status for s in aggregator.service_checks('nvidia_nim.openmetrics.health')] == [0]


def test_model_errors_come_before_the_settings_errors():
    # hostname_format without its placeholder is the settings' error, tags is the model's
    instance = {**ENDPOINT, 'hostname_label': 'x', 'hostname_format': 'h', 'tags': 'x'}
    check = NvidiaNIMCheck('nvidia_nim', {}, [instance])
    assert run_error(check.run()).startswith('Detected 1 error while loading configuration model `InstanceConfig`')
    check.instance['tags'] = []
    message = 'Setting `hostname_format` does not contain the placeholder `<HOSTNAME>`'
    for _ in range(2):
        result = check.run()
        assert run_error(result) == message
        assert '_core' not in json.loads(result)[0]['traceback']
    assert check.config.hostname_format == 'h'  # the model passed and stays loaded


def test_options_the_models_do_not_declare_are_left_to_the_settings(aggregator):
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', 'target_info': 'yes', 'not_an_option': 1}
        check = NvidiaNIMCheck('nvidia_nim', {}, [instance])
        assert run_error(check.run()) == 'Setting `target_info` must be a boolean'
        check.instance['target_info'] = True
        assert check.run() == ''
    assert len(aggregator.metric_names) == 34


# options over a working instance -> the scraper settings' message (the models accept them)
SETTINGS_ERRORS = {
    'empty_endpoint': ({'openmetrics_endpoint': ''}, 'The setting `openmetrics_endpoint` is required'),
    'hostname_format_without_placeholder': (
        {'hostname_label': 'model_name', 'hostname_format': 'nim'},
        'Setting `hostname_format` does not contain the placeholder `<HOSTNAME>`',
    ),
    'target_info_not_a_bool': ({'target_info': 1}, 'Setting `target_info` must be a boolean'),
    'unknown_type': (
        {'extra_metrics': [{'num_requests_running': {'type': 'bogus'}}]},
        'Error compiling transformer for metric `num_requests_running`: unknown type `bogus`',
    ),
    'share_labels_match_not_a_list': (
        {'share_labels': {'python_info': {'match': 'model_name'}}},
        'Option `match` for metric `python_info` of setting `share_labels` must be an array',
    ),
    'exclude_by_labels_value': (
        {'exclude_metrics_by_labels': {'model_name': 'x'}},
        'Label `model_name` of setting `exclude_metrics_by_labels` must be an array or set to `true`',
    ),
    'rename_labels_value': (
        {'rename_labels': {'model_name': ['m']}},
        'Value for label `model_name` of setting `rename_labels` must be a string',
    ),
}


@pytest.mark.parametrize('case', sorted(SETTINGS_ERRORS))
def test_settings_error_fails_every_run_until_fixed(aggregator, datadog_agent, case):
    options, message = SETTINGS_ERRORS[case]
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        good = {'openmetrics_endpoint': server.base_url + '/metrics', 'tags': ['test:test']}
        check = NvidiaNIMCheck('nvidia_nim', {}, [{**good, **options}])
        for _ in range(3):
            result = check.run()
            assert run_error(result) == message
            traceback = json.loads(result)[0]['traceback']
            assert '_core' not in traceback and 'nvidia_nim/config.py' in traceback
        assert not aggregator.metric_names
        assert not aggregator.service_check_names
        assert server.requests == []
        fix(check, good, {})
        assert check.run() == ''
    assert len(aggregator.metric_names) == 34
