"""conf.yaml.example documents every option the check accepts, with the models' types and defaults,
and its instance (as shipped, and with every option uncommented) is a valid configuration."""

import re
import types
import typing
from pathlib import Path

import pytest
import yaml
from common import PayloadServer, fixture_bytes
from pydantic import BaseModel

from datadog_checks.base.utils.http import STANDARD_FIELDS
from datadog_checks.nvidia_nim import NvidiaNIMCheck, config
from datadog_checks.nvidia_nim.config_models import InstanceConfig, SharedConfig, defaults

EXAMPLE = Path(config.__file__).parent / 'data' / 'conf.yaml.example'
PARAM = re.compile(r'^\s*## @param (\w+) - (.+?) - (optional|required)(?: - default: (.+))?$')
# Documented options that the models do not declare (as in the integration), with their reader.
UNDECLARED = {
    'target_info': 'scraper',
    'collect_histograms_as_distributions': 'scraper',
    'latency_percentiles': 'scraper',
    'latency_percentiles_by': 'scraper',
    'max_returned_metrics': 'agent_check',
    'tls_private_key_password': 'http',
    'tls_validate_hostname': 'http',
    'tls_intermediate_ca_certs': 'http',
}


class Param(typing.NamedTuple):
    name: str
    type: str
    required: bool
    default: typing.Any  # the parsed `default:` value, or ...
    example: str  # the YAML under the description, uncommented


def parse_example(text: str) -> dict[str, list[Param]]:
    sections: dict[str, list[Param]] = {'init_config': [], 'instances': []}
    section = None
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('## Log Section'):
            break
        if line in ('init_config:', 'instances:'):
            section = line[:-1]
        match = PARAM.match(line)
        if match:
            name, kind, required, default = match.groups()
            i += 1
            while lines[i].lstrip().startswith('##'):
                i += 1
            assert lines[i].strip() == '#', f'{name}: no `#` line between the description and the example'
            i += 1
            example = []
            while lines[i].strip():
                row = lines[i]
                example.append(row[6:] if row.startswith('    # ') else row.replace('  - ', '', 1))
                i += 1
            parsed_default = yaml.safe_load(default) if default is not None else ...
            sections[section].append(Param(name, kind, required == 'required', parsed_default, '\n'.join(example)))
        i += 1
    return sections


SECTIONS = parse_example(EXAMPLE.read_text())
INSTANCE_PARAMS = {p.name: p for p in SECTIONS['instances']}
SHARED_PARAMS = {p.name: p for p in SECTIONS['init_config']}


def test_every_option_is_documented_once():
    assert len(INSTANCE_PARAMS) == len(SECTIONS['instances'])
    assert len(SHARED_PARAMS) == len(SECTIONS['init_config'])
    assert set(SHARED_PARAMS) == set(SharedConfig.model_fields)
    assert set(INSTANCE_PARAMS) == set(InstanceConfig.model_fields) | set(UNDECLARED)
    assert not set(UNDECLARED) & set(InstanceConfig.model_fields)
    assert [p.name for p in INSTANCE_PARAMS.values() if p.required] == ['openmetrics_endpoint']


def test_undeclared_options_have_a_reader():
    http = {name for name, reader in UNDECLARED.items() if reader == 'http'}
    assert http <= set(STANDARD_FIELDS)
    settings = config.ScraperSettings(
        NvidiaNIMCheck('nvidia_nim', {}, [{}]),
        {'openmetrics_endpoint': 'http://h/metrics', 'target_info': True, 'collect_histograms_as_distributions': True},
    )
    assert settings.core_options['target_info'] is True
    assert settings.core_options['collect_histograms_as_distributions'] is True
    check = NvidiaNIMCheck('nvidia_nim', {}, [{'openmetrics_endpoint': 'http://h/metrics', 'max_returned_metrics': 7}])
    assert check.metric_limiter.limit == 7


def type_words(annotation) -> str:
    """The example's type words for a model field's annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    inner = args[0] if len(args) == 1 else annotation
    origin = typing.get_origin(inner)
    if inner is bool:
        return 'boolean'
    if inner is str:
        return 'string'
    if inner is float:
        return 'number'
    if origin is tuple:
        (item, _) = typing.get_args(inner)
        return 'list of strings' if item is str else '(list of string or mapping)'
    if origin is types.MappingProxyType or (isinstance(inner, type) and issubclass(inner, BaseModel)):
        return 'mapping'
    raise AssertionError(f'unexpected annotation {annotation}')


@pytest.mark.parametrize('model, params', [(InstanceConfig, INSTANCE_PARAMS), (SharedConfig, SHARED_PARAMS)])
def test_documented_types_are_the_model_types(model, params):
    for name, field in model.model_fields.items():
        assert params[name].type == type_words(field.annotation), name


@pytest.mark.parametrize('prefix, params', [('instance_', INSTANCE_PARAMS), ('shared_', SHARED_PARAMS)])
def test_documented_defaults_are_the_model_defaults(prefix, params):
    model_defaults = {n[len(prefix) :]: getattr(defaults, n)() for n in dir(defaults) if n.startswith(prefix)}
    documented = {name: p.default for name, p in params.items() if p.default is not ... and name not in UNDECLARED}
    assert documented == model_defaults


def test_documented_defaults_of_undeclared_options():
    documented = {name: INSTANCE_PARAMS[name].default for name in UNDECLARED}
    assert documented['tls_validate_hostname'] == STANDARD_FIELDS['tls_validate_hostname']
    assert documented['tls_intermediate_ca_certs'] is ... and STANDARD_FIELDS['tls_intermediate_ca_certs'] is None
    assert documented['tls_private_key_password'] is ... and STANDARD_FIELDS['tls_private_key_password'] is None
    endpoint = {'openmetrics_endpoint': 'http://h/metrics'}
    check = NvidiaNIMCheck('nvidia_nim', {}, [endpoint])
    baseline = config.ScraperSettings(check, endpoint).core_options
    for name in ('target_info', 'collect_histograms_as_distributions'):
        assert config.ScraperSettings(check, {**endpoint, name: documented[name]}).core_options == baseline
    spelled = NvidiaNIMCheck(
        'nvidia_nim', {}, [{**endpoint, 'max_returned_metrics': documented['max_returned_metrics']}]
    )
    assert spelled.metric_limiter is None and check.metric_limiter is None


def test_the_shipped_example_works_with_its_endpoint_filled(aggregator):
    data = yaml.safe_load(EXAMPLE.read_text())
    assert data['init_config'] is None
    (instance,) = data['instances']
    assert instance == {'openmetrics_endpoint': 'http://localhost:8000/v1/metrics'}
    with PayloadServer(fixture_bytes('nim_metrics.txt')) as server:
        instance['openmetrics_endpoint'] = server.base_url + '/v1/metrics'
        assert NvidiaNIMCheck('nvidia_nim', {}, [instance]).run() == ''
    assert len(aggregator.metric_names) == 34


def uncommented(params) -> dict:
    options = {}
    for p in params.values():
        value = yaml.safe_load(p.example)
        assert list(value) == [p.name], f'the example of {p.name} sets {list(value)}'
        options.update(value)
    return options


def test_every_example_uncommented_is_a_valid_configuration():
    instance = uncommented(INSTANCE_PARAMS)
    init_config = uncommented(SHARED_PARAMS)
    assert set(instance) == set(INSTANCE_PARAMS) and set(init_config) == set(SHARED_PARAMS)
    check = NvidiaNIMCheck('nvidia_nim', init_config, [instance])
    check.run_check_initializations()  # the models, then the scraper settings
    assert check.config.openmetrics_endpoint == 'http://localhost:8000/v1/metrics'
    assert check.config.extra_metrics[2]['num_preemptions']['type'] == 'counter'
    assert check.shared_config.proxy.no_proxy == ('<HOSTNAME_1>', '<HOSTNAME_2>')
    assert check.settings.core_options['hostname_format'] == '<HOSTNAME>'
